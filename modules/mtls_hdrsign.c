/* The header signature: key, prepared HMAC, signed text, value. */
#include <string.h>

#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mtls_hdrsign.h"

static apr_status_t free_md_ctx(void *ctx)
{
    EVP_MD_CTX_free(ctx);
    return APR_SUCCESS;
}

/* Absorb the padded key into the inner and outer SHA-256 states once. */
static void prepare_key(apr_pool_t *p, mtls_hdr_key_t *k)
{
    unsigned char block[64], pad[64];
    unsigned int n;
    EVP_MD_CTX *in = EVP_MD_CTX_new(), *out = EVP_MD_CTX_new();
    int i, ok;

    memset(block, 0, sizeof(block));
    if (k->len > sizeof(block)) {
        ok = EVP_Digest(k->key, k->len, block, &n, EVP_sha256(), NULL);
    }
    else {
        memcpy(block, k->key, k->len);
        ok = 1;
    }
    for (i = 0; i < 64; i++) {
        pad[i] = block[i] ^ 0x36;
    }
    ok = ok && in && out && EVP_DigestInit_ex(in, EVP_sha256(), NULL)
         && EVP_DigestUpdate(in, pad, 64);
    for (i = 0; i < 64; i++) {
        pad[i] = block[i] ^ 0x5c;
    }
    ok = ok && EVP_DigestInit_ex(out, EVP_sha256(), NULL)
         && EVP_DigestUpdate(out, pad, 64);
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pad, sizeof(pad));
    if (!ok) {
        EVP_MD_CTX_free(in);
        EVP_MD_CTX_free(out);
        return;     /* mtls_hdr_sign() falls back to HMAC() */
    }
    k->inner = in;
    k->outer = out;
    apr_pool_cleanup_register(p, in, free_md_ctx, apr_pool_cleanup_null);
    apr_pool_cleanup_register(p, out, free_md_ctx, apr_pool_cleanup_null);
}

/* HMAC-SHA256 of @p head then @p tail (the text is never joined) from
 * the prepared states; 0 on failure. */
static int prepared_hmac(const mtls_hdr_key_t *key, const char *head,
                         apr_size_t hlen, const char *tail, apr_size_t tlen,
                         unsigned char *mac, unsigned int *maclen)
{
    unsigned char ih[EVP_MAX_MD_SIZE];
    unsigned int ihlen;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_MD_CTX_copy_ex(c, key->inner)
             && EVP_DigestUpdate(c, head, hlen)
             && EVP_DigestUpdate(c, tail, tlen)
             && EVP_DigestFinal_ex(c, ih, &ihlen)
             && EVP_MD_CTX_copy_ex(c, key->outer)
             && EVP_DigestUpdate(c, ih, ihlen)
             && EVP_DigestFinal_ex(c, mac, maclen);

    EVP_MD_CTX_free(c);
    return ok;
}

const char *mtls_hdr_key_parse(apr_pool_t *p, const char *fname,
                               const char *text, mtls_hdr_key_t **out)
{
    const char *s = text, *start, *end;
    int line = 1, key_line;
    mtls_hdr_key_t *k;

    *out = NULL;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
        line += *s++ == '\n';
    }
    if (!*s) {
        return apr_psprintf(p, "%s:%d: the key file is empty", fname, line);
    }
    start = s;
    key_line = line;
    while (*s && *s != '\n' && *s != '\r') {
        s++;
    }
    end = s;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    for (; *s; s++) {
        line += *s == '\n';
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') {
            return apr_psprintf(p, "%s:%d: the key must be one line", fname,
                                line);
        }
    }
    if ((apr_size_t)(end - start) < MTLS_HDR_KEY_MIN) {
        return apr_psprintf(p, "%s:%d: the key is %d bytes, at least %d "
                            "are needed (e.g. openssl rand -hex 32)", fname,
                            key_line, (int)(end - start), MTLS_HDR_KEY_MIN);
    }
    k = apr_pcalloc(p, sizeof(*k));
    k->key = (const unsigned char *)apr_pstrmemdup(p, start, end - start);
    k->len = end - start;
    prepare_key(p, k);
    *out = k;
    return NULL;
}

const char *mtls_hdr_sig_lines(apr_pool_t *p, const char *const *names,
                               const char *const *values, int n)
{
    apr_size_t len = 1, l;
    char *out, *o;
    int i;

    for (i = 0; i < n; i++) {
        len += strlen(names[i]) + strlen(values[i]) + 2;
    }
    o = out = apr_palloc(p, len);
    for (i = 0; i < n; i++) {
        l = strlen(names[i]);
        memcpy(o, names[i], l);
        o += l;
        *o++ = ':';
        l = strlen(values[i]);
        memcpy(o, values[i], l);
        o += l;
        *o++ = '\n';
    }
    *o = '\0';
    return out;
}

const char *mtls_hdr_sig_names(apr_pool_t *p, const char *const *names,
                               int n)
{
    apr_size_t hl = 1;
    char *h, *s;
    int i;

    for (i = 0; i < n; i++) {
        hl += strlen(names[i]) + 1;
    }
    s = h = apr_palloc(p, hl);
    for (i = 0; i < n; i++) {
        apr_size_t l = strlen(names[i]);
        if (i) {
            *s++ = ',';
        }
        memcpy(s, names[i], l);
        s += l;
    }
    *s = '\0';
    return h;
}

/* @p t in decimal into @p buf (at least 21 bytes); returns its length.
 * (apr_snprintf's general formatting costs several times more, on every
 * signed request.) */
static int int64_text(apr_int64_t t, char *buf)
{
    char tmp[24];
    apr_uint64_t u = t < 0 ? (apr_uint64_t)0 - (apr_uint64_t)t
                           : (apr_uint64_t)t;
    int n = 0, len = 0;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (t < 0) {
        buf[len++] = '-';
    }
    while (n) {
        buf[len++] = tmp[--n];
    }
    buf[len] = '\0';
    return len;
}

/* "T\nMETHOD\nPATH\n": what changes with every request. */
static const char *sig_head(apr_pool_t *p, apr_int64_t t, const char *method,
                            const char *path, apr_size_t *len)
{
    char tbuf[24];
    int tl = int64_text(t, tbuf);
    apr_size_t ml = strlen(method), pl = strlen(path);
    char *out = apr_palloc(p, tl + ml + pl + 4), *o = out;

    memcpy(o, tbuf, tl);
    o += tl;
    *o++ = '\n';
    memcpy(o, method, ml);
    o += ml;
    *o++ = '\n';
    memcpy(o, path, pl);
    o += pl;
    *o++ = '\n';
    *o = '\0';
    *len = o - out;
    return out;
}

const char *mtls_hdr_sig_input(apr_pool_t *p, apr_int64_t t,
                               const char *method, const char *path,
                               const char *const *names,
                               const char *const *values, int n)
{
    apr_size_t hlen;
    const char *head = sig_head(p, t, method, path, &hlen);

    return apr_pstrcat(p, head, mtls_hdr_sig_lines(p, names, values, n),
                       NULL);
}

const char *mtls_hdr_sign_lines(apr_pool_t *p, const mtls_hdr_key_t *key,
                                apr_int64_t t, const char *method,
                                const char *path, const char *hnames,
                                const char *lines)
{
    apr_size_t hlen, tlen = strlen(lines);
    const char *head = sig_head(p, t, method, path, &hlen);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char sig[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1], *s;

    if (key->inner) {
        if (!prepared_hmac(key, head, hlen, lines, tlen, mac, &maclen)) {
            return NULL;
        }
    }
    else {
        const char *in = apr_pstrcat(p, head, lines, NULL);
        if (!HMAC(EVP_sha256(), key->key, (int)key->len,
                  (const unsigned char *)in, hlen + tlen, mac, &maclen)) {
            return NULL;
        }
    }
    EVP_EncodeBlock((unsigned char *)sig, mac, (int)maclen);
    for (s = sig; *s; s++) {
        if (*s == '+') {
            *s = '-';
        }
        else if (*s == '/') {
            *s = '_';
        }
        else if (*s == '=') {
            *s = '\0';
            break;
        }
    }
    /* "t=T;h=NAMES;sig=SIG", without apr_psprintf's formatting */
    {
        char tbuf[24];
        int tl = int64_text(t, tbuf);
        apr_size_t nl = strlen(hnames), gl = s - sig;
        char *out = apr_palloc(p, tl + nl + gl + 10), *o = out;
        memcpy(o, "t=", 2);
        memcpy(o += 2, tbuf, tl);
        memcpy(o += tl, ";h=", 3);
        memcpy(o += 3, hnames, nl);
        memcpy(o += nl, ";sig=", 5);
        memcpy(o += 5, sig, gl);
        o[gl] = '\0';
        return out;
    }
}

const char *mtls_hdr_sign(apr_pool_t *p, const mtls_hdr_key_t *key,
                          apr_int64_t t, const char *method,
                          const char *path, const char *const *names,
                          const char *const *values, int n)
{
    return mtls_hdr_sign_lines(p, key, t, method, path,
                               mtls_hdr_sig_names(p, names, n),
                               mtls_hdr_sig_lines(p, names, values, n));
}
