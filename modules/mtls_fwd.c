/* Forwarded certificates: header formats, verification, the LRU. */
#include <string.h>

#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_thread_mutex.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/err.h>

#include "mtls_fwd.h"

static const char *const format_names[MTLS_FWD_FORMAT_COUNT] = {
    "rfc9440", "xfcc", "pem-urlencoded", "der-base64"
};

int mtls_fwd_format_parse(const char *name)
{
    int i;

    for (i = 0; name && i < MTLS_FWD_FORMAT_COUNT; i++) {
        if (!strcasecmp(name, format_names[i])) {
            return i;
        }
    }
    return -1;
}

const char *mtls_fwd_format_name(mtls_fwd_format_e f)
{
    return (f >= 0 && f < MTLS_FWD_FORMAT_COUNT) ? format_names[f] : "?";
}

static int is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

static int is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }
    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }
    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }
    if (ch == '+') {
        return 62;
    }
    if (ch == '/') {
        return 63;
    }
    return -1;
}

/* Strict base64 of @p len bytes at @p s (padding optional, white space
 * skipped only with @p skip_ws) into one certificate.  NULL or why not. */
static const char *b64_der(apr_pool_t *p, const char *s, apr_size_t len,
                           int skip_ws, mtls_der_t *out)
{
    unsigned char *d;
    apr_size_t i, n = 0, pad = 0;
    unsigned int acc = 0;
    int bits = 0;

    if (len / 4 * 3 > MTLS_FWD_MAX_DER + 3) {
        return apr_psprintf(p, "the forwarded certificate is larger than "
                            "%d bytes", MTLS_FWD_MAX_DER);
    }
    d = apr_palloc(p, len / 4 * 3 + 3);
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        int v;
        if (skip_ws && is_ws(ch)) {
            continue;
        }
        if (ch == '=') {
            pad++;
            continue;
        }
        if (pad || (v = b64_value(ch)) < 0) {
            return "the forwarded certificate is not valid base64";
        }
        acc = (acc << 6) | (unsigned int)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[n++] = (unsigned char)(acc >> bits);
        }
    }
    /* Left-over bits must be the zero padding of a complete encoding. */
    if (bits >= 6 || pad > 2 || (acc & ((1u << bits) - 1)) != 0) {
        return "the forwarded certificate is not valid base64";
    }
    if (!n) {
        return "the forwarded certificate is empty";
    }
    if (n > MTLS_FWD_MAX_DER) {
        return apr_psprintf(p, "the forwarded certificate is larger than "
                            "%d bytes", MTLS_FWD_MAX_DER);
    }
    out->der = d;
    out->len = n;
    return NULL;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

/* %XX-decode @p s ('+' stays '+': base64 needs it).  NULL or why not. */
static const char *pct_decode(apr_pool_t *p, const char *s, const char **out)
{
    char *d = apr_palloc(p, strlen(s) + 1), *o = d;

    for (; *s; s++) {
        if (*s == '%') {
            int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);
            if (lo < 0 || (hi == 0 && lo == 0)) {
                return "the forwarded certificate has a bad %-escape";
            }
            *o++ = (char)(hi * 16 + lo);
            s += 2;
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    *out = d;
    return NULL;
}

static const char *push(apr_pool_t *p, apr_array_header_t *certs,
                        const mtls_der_t *d)
{
    if (certs->nelts >= MTLS_FWD_MAX_CERTS) {
        return apr_psprintf(p, "the forwarded chain has more than %d "
                            "certificates", MTLS_FWD_MAX_CERTS);
    }
    APR_ARRAY_PUSH(certs, mtls_der_t) = *d;
    return NULL;
}

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END   "-----END CERTIFICATE-----"

/* One or more PEM certificates and nothing else but white space. */
static const char *pem_certs(apr_pool_t *p, const char *s,
                             apr_array_header_t *certs)
{
    const char *err;

    for (;;) {
        const char *body, *end;
        mtls_der_t d;
        while (is_ws(*s)) {
            s++;
        }
        if (!*s) {
            break;
        }
        if (strncmp(s, PEM_BEGIN, sizeof(PEM_BEGIN) - 1)) {
            return "the forwarded certificate is not PEM";
        }
        body = s + sizeof(PEM_BEGIN) - 1;
        if (!(end = strstr(body, PEM_END))) {
            return "the forwarded PEM certificate is truncated";
        }
        if ((err = b64_der(p, body, end - body, 1, &d))
            || (err = push(p, certs, &d))) {
            return err;
        }
        s = end + sizeof(PEM_END) - 1;
    }
    return certs->nelts ? NULL : "the forwarded certificate is not PEM";
}

/* An RFC 8941 byte sequence ":base64:" at @p s .. @p e (trimmed);
 * @p empty set when it is "::". */
static const char *sf_binary(apr_pool_t *p, const char *s, const char *e,
                             apr_array_header_t *certs, int *empty)
{
    mtls_der_t d;
    const char *err;

    while (s < e && is_ows(*s)) {
        s++;
    }
    while (e > s && is_ows(e[-1])) {
        e--;
    }
    if (e - s < 2 || s[0] != ':' || e[-1] != ':') {
        return "the forwarded certificate is not an RFC 9440 byte sequence "
               "(:base64:)";
    }
    if (e - s == 2) {
        *empty = 1;
        return NULL;
    }
    *empty = 0;
    if ((err = b64_der(p, s + 1, e - s - 2, 0, &d))) {
        return err;
    }
    return push(p, certs, &d);
}

static const char *decode_rfc9440(apr_pool_t *p, const char *value,
                                  const char *chain,
                                  apr_array_header_t *certs)
{
    const char *err;
    int empty;

    if (strchr(value, ',')) {
        return "the forwarded certificate header holds a list (sent "
               "twice?)";
    }
    if ((err = sf_binary(p, value, value + strlen(value), certs, &empty))
        || empty) {
        return err;
    }
    while (chain && *chain) {
        const char *comma = strchr(chain, ',');
        const char *e = comma ? comma : chain + strlen(chain), *b = chain;
        while (b < e && is_ows(*b)) {
            b++;
        }
        if (b == e) {
            return "the forwarded chain has an empty element";
        }
        if ((err = sf_binary(p, chain, e, certs, &empty))) {
            return apr_pstrcat(p, err, " (in the chain)", NULL);
        }
        if (empty) {
            return "the forwarded chain has an empty element";
        }
        chain = comma ? comma + 1 : e;
    }
    return NULL;
}

/* The next XFCC item of @p *s up to an unquoted @p sep, quotes kept. */
static const char *xfcc_item(apr_pool_t *p, const char **s, char sep,
                             const char **err)
{
    const char *start = *s, *q = *s;
    int quoted = 0;

    for (; *q; q++) {
        if (quoted && *q == '\\' && q[1]) {
            q++;
        }
        else if (*q == '"') {
            quoted = !quoted;
        }
        else if (!quoted && *q == sep) {
            break;
        }
    }
    if (quoted) {
        *err = "the forwarded XFCC header has an unterminated quote";
        return NULL;
    }
    *s = *q ? q + 1 : q;
    return apr_pstrmemdup(p, start, q - start);
}

/* A value as written in XFCC: bare, or quoted with \-escapes. */
static const char *xfcc_value(apr_pool_t *p, const char *v)
{
    char *out, *o;

    if (*v != '"') {
        return v;
    }
    out = o = apr_palloc(p, strlen(v));
    for (v++; *v && *v != '"'; v++) {
        if (*v == '\\' && v[1]) {
            v++;
        }
        *o++ = *v;
    }
    *o = '\0';
    return out;
}

static const char *decode_xfcc(apr_pool_t *p, const char *value,
                               apr_array_header_t *certs)
{
    const char *last = NULL, *s = value, *err = NULL, *cert = NULL,
               *chain = NULL, *pem;
    apr_array_header_t *chain_certs;
    int i;

    /* Each proxy on the way appends one element: the last one is the
     * hop in front of us, the one we trust. */
    while (*s) {
        const char *el = xfcc_item(p, &s, ',', &err);
        if (!el) {
            return err;
        }
        while (is_ows(*el)) {
            el++;
        }
        if (*el) {
            last = el;
        }
    }
    if (!last) {
        return NULL;
    }
    s = last;
    while (*s) {
        const char *pair = xfcc_item(p, &s, ';', &err), *eq, *key;
        if (!pair) {
            return err;
        }
        while (is_ows(*pair)) {
            pair++;
        }
        if (!*pair) {
            continue;
        }
        if (!(eq = strchr(pair, '='))) {
            return "the forwarded XFCC element has a pair without '='";
        }
        key = apr_pstrmemdup(p, pair, eq - pair);
        if (!strcasecmp(key, "Cert") || !strcasecmp(key, "Chain")) {
            const char **slot = !strcasecmp(key, "Cert") ? &cert : &chain;
            if (*slot) {
                return apr_psprintf(p, "the forwarded XFCC element has %s "
                                    "twice", key);
            }
            *slot = xfcc_value(p, eq + 1);
        }
    }
    if (cert && *cert) {
        if ((err = pct_decode(p, cert, &pem))
            || (err = pem_certs(p, pem, certs))) {
            return err;
        }
        if (certs->nelts != 1) {
            return "the forwarded XFCC Cert holds more than one certificate";
        }
    }
    if (chain && *chain) {
        chain_certs = apr_array_make(p, 2, sizeof(mtls_der_t));
        if ((err = pct_decode(p, chain, &pem))
            || (err = pem_certs(p, pem, chain_certs))) {
            return apr_pstrcat(p, err, " (in the chain)", NULL);
        }
        /* Chain= includes the certificate itself. */
        for (i = 0; i < chain_certs->nelts; i++) {
            const mtls_der_t *d = &APR_ARRAY_IDX(chain_certs, i, mtls_der_t);
            const mtls_der_t *leaf = certs->nelts
                ? &APR_ARRAY_IDX(certs, 0, mtls_der_t) : NULL;
            if (leaf && leaf->len == d->len
                && !memcmp(leaf->der, d->der, d->len)) {
                continue;
            }
            if ((err = push(p, certs, d))) {
                return err;
            }
        }
    }
    return NULL;
}

static const char *decode_der_base64(apr_pool_t *p, const char *value,
                                     apr_array_header_t *certs)
{
    const char *s, *err;

    /* Traefik URL-escapes the value; '%' is not a base64 character. */
    if ((err = pct_decode(p, value, &s))) {
        return err;
    }
    while (*s) {
        const char *comma = strchr(s, ','), *e, *b = s;
        mtls_der_t d;
        e = comma ? comma : s + strlen(s);
        while (b < e && is_ows(*b)) {
            b++;
        }
        while (e > b && is_ows(e[-1])) {
            e--;
        }
        if (b == e) {
            return "the forwarded certificate list has an empty element";
        }
        if ((err = b64_der(p, b, e - b, 0, &d))
            || (err = push(p, certs, &d))) {
            return err;
        }
        s = comma ? comma + 1 : s + strlen(s);
    }
    return NULL;
}

apr_status_t mtls_fwd_decode(apr_pool_t *p, mtls_fwd_format_e f,
                             const char *value, const char *chain,
                             apr_array_header_t **certs, const char **err)
{
    const char *v = value ? value : "", *pem;

    *certs = apr_array_make(p, 2, sizeof(mtls_der_t));
    *err = NULL;
    while (is_ows(*v)) {
        v++;
    }
    if (!*v) {
        return APR_SUCCESS;
    }
    switch (f) {
    case MTLS_FWD_RFC9440:
        *err = decode_rfc9440(p, v, chain, *certs);
        break;
    case MTLS_FWD_XFCC:
        *err = decode_xfcc(p, v, *certs);
        break;
    case MTLS_FWD_PEM_URLENCODED:
        /* An escaped PEM has no bare ',' or space: those come from a
         * header sent twice and merged. */
        if (strchr(v, ',') || strchr(v, ' ')) {
            *err = "the forwarded certificate header holds a list (sent "
                   "twice?)";
        }
        else if (!(*err = pct_decode(p, v, &pem))) {
            *err = pem_certs(p, pem, *certs);
        }
        break;
    case MTLS_FWD_DER_BASE64:
        *err = decode_der_base64(p, v, *certs);
        break;
    default:
        *err = "unknown forwarded certificate format";
        break;
    }
    if (*err) {
        apr_array_clear(*certs);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static apr_status_t free_store(void *data)
{
    X509_STORE_free(data);
    return APR_SUCCESS;
}

static apr_status_t free_crls(void *data)
{
    sk_X509_CRL_pop_free(data, X509_CRL_free);
    return APR_SUCCESS;
}

/* OpenSSL's last error as text, and the queue emptied. */
static const char *ssl_error(apr_pool_t *p)
{
    unsigned long e = ERR_peek_last_error();
    char buf[256];

    ERR_clear_error();
    if (!e) {
        return "no PEM data found";
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    return apr_pstrdup(p, buf);
}

const char *mtls_fwd_load_cas(apr_pool_t *p, const char *file,
                              X509_STORE **out)
{
    X509_STORE *store = X509_STORE_new();
    BIO *bio = BIO_new_file(file, "r");
    X509 *x;
    int n = 0;

    if (!store || !bio) {
        X509_STORE_free(store);
        BIO_free(bio);
        ERR_clear_error();
        return apr_psprintf(p, "cannot read %s", file);
    }
    ERR_clear_error();
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        if (!X509_STORE_add_cert(store, x)) {
            ERR_clear_error();     /* the same CA twice is harmless */
        }
        X509_free(x);
        n++;
    }
    BIO_free(bio);
    if (!n || ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
        const char *why = ssl_error(p);
        X509_STORE_free(store);
        return apr_psprintf(p, "%s: %s", file, n ? why
                            : "no PEM certificate in it");
    }
    ERR_clear_error();
    apr_pool_cleanup_register(p, store, free_store, apr_pool_cleanup_null);
    *out = store;
    return NULL;
}

const char *mtls_fwd_load_crls(apr_pool_t *p, const char *file,
                               STACK_OF(X509_CRL) **out)
{
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    BIO *bio = BIO_new_file(file, "r");
    X509_CRL *crl;

    if (!crls || !bio) {
        sk_X509_CRL_free(crls);
        BIO_free(bio);
        ERR_clear_error();
        return apr_psprintf(p, "cannot read %s", file);
    }
    ERR_clear_error();
    while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL))) {
        sk_X509_CRL_push(crls, crl);
    }
    BIO_free(bio);
    if (!sk_X509_CRL_num(crls)
        || ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
        const char *why = ssl_error(p);
        int n = sk_X509_CRL_num(crls);
        free_crls(crls);
        return apr_psprintf(p, "%s: %s", file, n ? why
                            : "no PEM CRL in it");
    }
    ERR_clear_error();
    apr_pool_cleanup_register(p, crls, free_crls, apr_pool_cleanup_null);
    *out = crls;
    return NULL;
}

static X509 *parse_der(const mtls_der_t *d)
{
    const unsigned char *q = d->der;
    X509 *x = d2i_X509(NULL, &q, (long)d->len);

    /* Trailing bytes are refused: what was signed is all there is. */
    if (x && q != d->der + d->len) {
        X509_free(x);
        x = NULL;
    }
    return x;
}

X509 *mtls_fwd_verify(apr_pool_t *p, X509_STORE *store,
                      STACK_OF(X509_CRL) *crls, int depth,
                      const apr_array_header_t *certs, apr_time_t now,
                      const char **verify_error)
{
    STACK_OF(X509) *chain = NULL;
    X509_STORE_CTX *ctx = NULL;
    X509_VERIFY_PARAM *param;
    X509 *leaf = NULL;
    int i;

    *verify_error = NULL;
    if (!certs->nelts) {
        *verify_error = "no certificate";
        goto leave;
    }
    if (!(leaf = parse_der(&APR_ARRAY_IDX(certs, 0, mtls_der_t)))) {
        *verify_error = "the forwarded certificate is not a valid X.509 "
                        "certificate (garbage or truncated)";
        goto leave;
    }
    if (!store) {
        *verify_error = "no CA to verify forwarded certificates with "
                        "(MTLSProxyCertCA)";
        goto leave;
    }
    if (!(chain = sk_X509_new_null())) {
        *verify_error = "out of memory";
        goto leave;
    }
    for (i = 1; i < certs->nelts; i++) {
        X509 *x = parse_der(&APR_ARRAY_IDX(certs, i, mtls_der_t));
        if (!x) {
            *verify_error = "a certificate of the forwarded chain is not a "
                            "valid X.509 certificate";
            goto leave;
        }
        sk_X509_push(chain, x);
    }
    if (!(ctx = X509_STORE_CTX_new())
        || !X509_STORE_CTX_init(ctx, store, leaf, chain)) {
        *verify_error = "cannot set up the verification";
        goto leave;
    }
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_depth(param, depth);
    X509_VERIFY_PARAM_set_time(param, (time_t)apr_time_sec(now));
    if (crls) {
        X509_STORE_CTX_set0_crls(ctx, crls);
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK);
    }
    if (X509_verify_cert(ctx) <= 0) {
        int e = X509_STORE_CTX_get_error(ctx);
        *verify_error = apr_pstrdup(p, e ? X509_verify_cert_error_string(e)
                                         : "verification failed");
    }
leave:
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
    return leaf;
}

/* ---- LRU -------------------------------------------------------------- */

struct mtls_fwd_entry_t {
    const void *key;
    apr_size_t klen;
    const void *value;
    apr_time_t expires;
    apr_pool_t *pool;
    int refs;                     /* holders outside the cache */
    int cached;                   /* in the hash and the list */
    mtls_fwd_entry_t *prev, *next;   /* most recently used first */
    struct {
        const void *key;
        apr_size_t klen;
        const void *value;
    } memo[MTLS_FWD_MEMO_SLOTS];  /* under the cache's lock */
};

struct mtls_fwd_cache_t {
    apr_thread_mutex_t *mutex;
    apr_hash_t *by_key;
    mtls_fwd_entry_t *head, *tail;
    int slots, count;
};

/* The hash table's hash of a key: FNV-1a over its length, its first 48
 * bytes (the verification settings and the start of the value) and its
 * last 96 (where a certificate's serial-independent part ends and its
 * signature, different for every certificate, lies).  Hashing every byte
 * of a kilobyte-long key per request costs more than the rest of the
 * lookup; keys are still compared in full, so a collision only makes a
 * chain longer (the cache stays bounded). */
static unsigned int key_hash(const char *key, apr_ssize_t *klen)
{
    const unsigned char *k = (const unsigned char *)key;
    apr_size_t n = (apr_size_t)*klen, i;
    apr_uint32_t h = 2166136261u ^ (apr_uint32_t)n;

    for (i = 0; i < n && i < 48; i++) {
        h = (h ^ k[i]) * 16777619u;
    }
    for (i = n > 144 ? n - 96 : i; i < n; i++) {
        h = (h ^ k[i]) * 16777619u;
    }
    return h;
}

apr_status_t mtls_fwd_cache_create(apr_pool_t *p, int slots,
                                   mtls_fwd_cache_t **out)
{
    mtls_fwd_cache_t *c = apr_pcalloc(p, sizeof(*c));
    apr_status_t rv;

    if ((rv = apr_thread_mutex_create(&c->mutex, APR_THREAD_MUTEX_DEFAULT,
                                      p)) != APR_SUCCESS) {
        return rv;
    }
    c->by_key = apr_hash_make_custom(p, key_hash);
    c->slots = slots > 0 ? slots : 1;
    *out = c;
    return APR_SUCCESS;
}

static void unlink_locked(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    }
    else {
        c->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    }
    else {
        c->tail = e->prev;
    }
    e->prev = e->next = NULL;
}

static void push_front_locked(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head) {
        c->head->prev = e;
    }
    c->head = e;
    if (!c->tail) {
        c->tail = e;
    }
}

/* Take @p e out of the cache; destroyed now unless someone holds it. */
static void drop_locked(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e)
{
    unlink_locked(c, e);
    apr_hash_set(c->by_key, e->key, e->klen, NULL);
    e->cached = 0;
    c->count--;
    if (!e->refs) {
        apr_pool_destroy(e->pool);
    }
}

mtls_fwd_entry_t *mtls_fwd_cache_get(mtls_fwd_cache_t *c,
                                     const void *key, apr_size_t klen,
                                     apr_time_t now)
{
    mtls_fwd_entry_t *e;

    if (klen > MTLS_FWD_MAX_KEY) {
        return NULL;
    }
    apr_thread_mutex_lock(c->mutex);
    e = apr_hash_get(c->by_key, key, klen);
    if (e && e->expires <= now) {
        drop_locked(c, e);
        e = NULL;
    }
    if (e) {
        if (c->head != e) {
            unlink_locked(c, e);
            push_front_locked(c, e);
        }
        e->refs++;
    }
    apr_thread_mutex_unlock(c->mutex);
    return e;
}

mtls_fwd_entry_t *mtls_fwd_entry_create(const void *key, apr_size_t klen)
{
    apr_pool_t *pool;
    mtls_fwd_entry_t *e;

    if (klen > MTLS_FWD_MAX_KEY) {
        return NULL;
    }
    /* Its own unmanaged pool: entries come and go in any order and from
     * any thread, long after the request that made them. */
    if (apr_pool_create_unmanaged_ex(&pool, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    apr_pool_tag(pool, "mtls_fwd_entry");
    e = apr_pcalloc(pool, sizeof(*e));
    e->key = apr_pmemdup(pool, key, klen);
    e->klen = klen;
    e->pool = pool;
    return e;
}

apr_pool_t *mtls_fwd_entry_pool(mtls_fwd_entry_t *e)
{
    return e->pool;
}

void mtls_fwd_entry_set(mtls_fwd_entry_t *e, const void *value,
                        apr_time_t expires)
{
    e->value = value;
    e->expires = expires;
}

const void *mtls_fwd_entry_value(const mtls_fwd_entry_t *e)
{
    return e->value;
}

mtls_fwd_entry_t *mtls_fwd_cache_put(mtls_fwd_cache_t *c,
                                     mtls_fwd_entry_t *e)
{
    mtls_fwd_entry_t *old;

    apr_thread_mutex_lock(c->mutex);
    old = apr_hash_get(c->by_key, e->key, e->klen);
    if (old) {
        /* Another thread verified the same certificate meanwhile. */
        old->refs++;
        apr_thread_mutex_unlock(c->mutex);
        apr_pool_destroy(e->pool);
        return old;
    }
    e->refs = 1;
    e->cached = 1;
    apr_hash_set(c->by_key, e->key, e->klen, e);
    push_front_locked(c, e);
    c->count++;
    while (c->count > c->slots && c->tail) {
        drop_locked(c, c->tail);
    }
    apr_thread_mutex_unlock(c->mutex);
    return e;
}

void mtls_fwd_cache_release(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e)
{
    int destroy;

    apr_thread_mutex_lock(c->mutex);
    destroy = --e->refs == 0 && !e->cached;
    apr_thread_mutex_unlock(c->mutex);
    if (destroy) {
        apr_pool_destroy(e->pool);
    }
}

int mtls_fwd_cache_count(mtls_fwd_cache_t *c)
{
    int n;

    apr_thread_mutex_lock(c->mutex);
    n = c->count;
    apr_thread_mutex_unlock(c->mutex);
    return n;
}

const void *mtls_fwd_memo_get(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e,
                              const void *key, apr_size_t klen)
{
    const void *v = NULL;
    int i;

    apr_thread_mutex_lock(c->mutex);
    for (i = 0; i < MTLS_FWD_MEMO_SLOTS && e->memo[i].key; i++) {
        if (e->memo[i].klen == klen && !memcmp(e->memo[i].key, key, klen)) {
            v = e->memo[i].value;
            break;
        }
    }
    apr_thread_mutex_unlock(c->mutex);
    return v;
}

void mtls_fwd_memo_put(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e,
                       const void *key, apr_size_t klen,
                       const void *(*copy)(apr_pool_t *p, const void *value),
                       const void *value)
{
    int i;

    /* The entry's pool is only ever allocated from before the entry is
     * published, or here under the lock. */
    apr_thread_mutex_lock(c->mutex);
    for (i = 0; i < MTLS_FWD_MEMO_SLOTS; i++) {
        if (!e->memo[i].key) {
            e->memo[i].value = copy(e->pool, value);
            e->memo[i].klen = klen;
            e->memo[i].key = apr_pmemdup(e->pool, key, klen);
            break;
        }
        if (e->memo[i].klen == klen && !memcmp(e->memo[i].key, key, klen)) {
            break;
        }
    }
    apr_thread_mutex_unlock(c->mutex);
}
