/* Header values and names. */
#include <string.h>

#include <apr_strings.h>
#include <openssl/evp.h>

#include "mtls_hdrfmt.h"

static const char hexdig[] = "0123456789ABCDEF";

static int printable(unsigned char ch)
{
    return ch >= 0x20 && ch < 0x7f;
}

const char *mtls_hdr_safe(apr_pool_t *p, const char *v)
{
    const unsigned char *s;
    apr_size_t extra = 0;
    char *out, *o;

    for (s = (const unsigned char *)v; *s; s++) {
        extra += printable(*s) ? 0 : 2;
    }
    if (!extra) {
        return v;
    }
    o = out = apr_palloc(p, strlen(v) + extra + 1);
    for (s = (const unsigned char *)v; *s; s++) {
        if (printable(*s)) {
            *o++ = *s;
        }
        else {
            *o++ = '\\';
            *o++ = hexdig[*s >> 4];
            *o++ = hexdig[*s & 15];
        }
    }
    *o = '\0';
    return out;
}

const char *mtls_hdr_list(apr_pool_t *p, const apr_array_header_t *items)
{
    apr_size_t len = 0;
    char *out, *o;
    int i, any = 0;

    for (i = 0; items && i < items->nelts; i++) {
        len += strlen(APR_ARRAY_IDX(items, i, const char *)) * 3 + 4;
    }
    o = out = apr_palloc(p, len + 1);
    for (i = 0; items && i < items->nelts; i++) {
        const unsigned char *s = APR_ARRAY_IDX(items, i,
                                               const unsigned char *);
        int quote = strpbrk((const char *)s, ",\"\\") != NULL;
        if (!*s) {
            continue;
        }
        if (any++) {
            *o++ = ',';
            *o++ = ' ';
        }
        if (quote) {
            *o++ = '"';
        }
        for (; *s; s++) {
            if (!printable(*s)) {
                *o++ = '\\';
                *o++ = hexdig[*s >> 4];
                *o++ = hexdig[*s & 15];
                continue;
            }
            if (quote && (*s == '"' || *s == '\\')) {
                *o++ = '\\';
            }
            *o++ = *s;
        }
        if (quote) {
            *o++ = '"';
        }
    }
    *o = '\0';
    return any ? out : NULL;
}

/* Standard base64 of @p len bytes, no line breaks. */
static char *b64(apr_pool_t *p, const unsigned char *d, apr_size_t len,
                 int *outlen)
{
    char *out = apr_palloc(p, 4 * ((len + 2) / 3) + 1);
    *outlen = EVP_EncodeBlock((unsigned char *)out, d, (int)len);
    return out;
}

const char *mtls_hdr_byteseq(apr_pool_t *p, const unsigned char *der,
                             apr_size_t len)
{
    int n;
    char *b = b64(p, der, len, &n);
    return apr_pstrcat(p, ":", b, ":", NULL);
}

static int unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
           || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'
           || ch == '_' || ch == '~';
}

const char *mtls_hdr_pem_escaped(apr_pool_t *p, const unsigned char *der,
                                 apr_size_t len)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----\n";
    static const char end[] = "-----END CERTIFICATE-----\n";
    int n, i;
    char *b = b64(p, der, len, &n);
    apr_size_t plen = sizeof(begin) + sizeof(end) + n + n / 64 + 2;
    char *pem = apr_palloc(p, plen), *o = pem, *out;
    const unsigned char *s;

    memcpy(o, begin, sizeof(begin) - 1);
    o += sizeof(begin) - 1;
    for (i = 0; i < n; i += 64) {
        int chunk = n - i < 64 ? n - i : 64;
        memcpy(o, b + i, chunk);
        o += chunk;
        *o++ = '\n';
    }
    memcpy(o, end, sizeof(end));   /* with its NUL */
    out = o = apr_palloc(p, strlen(pem) * 3 + 1);
    for (s = (const unsigned char *)pem; *s; s++) {
        if (unreserved(*s)) {
            *o++ = *s;
        }
        else {
            *o++ = '%';
            *o++ = hexdig[*s >> 4];
            *o++ = hexdig[*s & 15];
        }
    }
    *o = '\0';
    return out;
}

/* One XFCC value: header-safe, quoted when it holds a separator. */
static const char *xfcc_value(apr_pool_t *p, const char *v, int always)
{
    const char *safe = mtls_hdr_safe(p, v), *s;
    char *out, *o;

    if (!always && !strpbrk(safe, ",;=\"")) {
        return safe;
    }
    o = out = apr_palloc(p, strlen(safe) * 2 + 3);
    *o++ = '"';
    for (s = safe; *s; s++) {
        if (*s == '"' || *s == '\\') {
            *o++ = '\\';
        }
        *o++ = *s;
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

const char *mtls_hdr_xfcc(apr_pool_t *p, const mtls_cert_t *c)
{
    const apr_array_header_t *uri = c->san[MTLS_SAN_URI];
    const apr_array_header_t *dns = c->san[MTLS_SAN_DNS];
    char *out = apr_pstrcat(p, "Hash=", c->sha256, NULL);
    int i;

    /* a subject that cannot be read as text is left out, not faked */
    if (c->subject && *c->subject) {
        out = apr_pstrcat(p, out, ";Subject=", xfcc_value(p, c->subject, 1),
                          NULL);
    }

    if (uri && uri->nelts) {
        out = apr_pstrcat(p, out, ";URI=", xfcc_value(p,
                          APR_ARRAY_IDX(uri, 0, const char *), 0), NULL);
    }
    for (i = 0; dns && i < dns->nelts; i++) {
        out = apr_pstrcat(p, out, ";DNS=", xfcc_value(p,
                          APR_ARRAY_IDX(dns, i, const char *), 0), NULL);
    }
    return out;
}

/* RFC 9110 tchar. */
static int tchar(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
           || (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~",
                                                        ch));
}

static char canon_char(unsigned char ch)
{
    if (ch == '_') {
        return '-';
    }
    return (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : (char)ch;
}

const char *mtls_hdr_name_canon(apr_pool_t *p, const char *name, int glob,
                                const char **err)
{
    char *out = apr_pstrdup(p, name), *o;

    *err = NULL;
    if (!*name) {
        *err = "an empty header name";
        return NULL;
    }
    for (o = out; *o; o++) {
        if (!tchar((unsigned char)*o) || (*o == '*' && !glob)) {
            *err = apr_psprintf(p, "'%s' is not a header name%s", name,
                                glob ? " or glob (token characters and *)"
                                     : "");
            return NULL;
        }
        *o = canon_char((unsigned char)*o);
    }
    return out;
}

int mtls_hdr_name_is(const char *canon, const char *name)
{
    while (*canon && *canon == canon_char((unsigned char)*name)) {
        canon++;
        name++;
    }
    return !*canon && !*name;
}

/* '*' matches any run (header names have no structure to stop at). */
static int glob_at(const char *g, const char *s)
{
    for (; *g; g++, s++) {
        if (*g == '*') {
            while (g[1] == '*') {
                g++;
            }
            if (!g[1]) {
                return 1;
            }
            for (; *s; s++) {
                if (glob_at(g + 1, s)) {
                    return 1;
                }
            }
            return 0;
        }
        if (!*s || *g != canon_char((unsigned char)*s)) {
            return 0;
        }
    }
    return !*s;
}

int mtls_hdr_name_glob(const char *glob, const char *name)
{
    return glob_at(glob, name);
}

void mtls_hdr_first_add(unsigned char first[256], const char *canon)
{
    unsigned char c = (unsigned char)canon[0];

    if (c == '*') {
        memset(first, 1, 256);
        return;
    }
    /* every character a name as sent can start with and be @p canon:
     * mtls_hdr_maybe() then looks it up without folding it */
    first[c] = 1;
    if (c >= 'a' && c <= 'z') {
        first[c - 32] = 1;
    }
    if (c == '-') {
        first['_'] = 1;
    }
}
