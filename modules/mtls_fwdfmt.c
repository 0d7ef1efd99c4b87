/* Forwarded certificates: the header formats a proxy sends them in
 * (RFC 9440, Envoy's XFCC, URL-encoded PEM, base64 DER), split into DER
 * only; verification and the cache are mtls_fwd.c. */
#include <string.h>

#include <apr_strings.h>

#include "mtls_fwdfmt.h"

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
     * hop in front of us, the one we trust, even when it is empty (an
     * empty one, or a trailing ',' from a header line the proxy added
     * empty, means it has no certificate: never an earlier element, which
     * the client may have written). */
    while (*s) {
        const char *el = xfcc_item(p, &s, ',', &err);
        if (!el) {
            return err;
        }
        while (is_ows(*el)) {
            el++;
        }
        last = el;
    }
    if (s > value && s[-1] == ',') {
        last = "";            /* "...," : the hop's own element is empty */
    }
    if (!last || !*last) {
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
        while (comma && is_ows(*s)) {
            s++;
        }
        if (comma && !*s) {
            return "the forwarded certificate list has an empty element";
        }
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
