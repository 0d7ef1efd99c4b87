/* Fuzz target of the forwarded-certificate header parsers (see
 * fuzz_targets.h).  Input: one byte choosing the format, then the
 * header's value, then optionally '\n' and the chain header's value. */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fuzz_targets.h"
#include "mtls_fwd.h"

#define FAIL(...) do { \
    fprintf(stderr, "fuzz property: " __VA_ARGS__); \
    fputc('\n', stderr); \
    rc = 1; \
} while (0)

static const char *b64(apr_pool_t *p, const mtls_der_t *d)
{
    char *out = apr_palloc(p, (d->len + 2) / 3 * 4 + 1);
    EVP_EncodeBlock((unsigned char *)out, d->der, (int)d->len);
    return out;
}

static int same_list(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int i;

    if (a->nelts != b->nelts) {
        return 0;
    }
    for (i = 0; i < a->nelts; i++) {
        const mtls_der_t *x = &APR_ARRAY_IDX(a, i, mtls_der_t);
        const mtls_der_t *y = &APR_ARRAY_IDX(b, i, mtls_der_t);
        if (x->len != y->len || memcmp(x->der, y->der, x->len)) {
            return 0;
        }
    }
    return 1;
}

int mtls_fuzz_fwd(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    apr_array_header_t *certs, *again;
    const char *err, *value, *chain = NULL, *list = NULL, *tail = NULL;
    char *text, *nl;
    int rc = 0, i, f;
    X509 *x;

    if (!size) {
        return 0;
    }
    apr_pool_create(&p, NULL);
    f = data[0] % MTLS_FWD_FORMAT_COUNT;
    text = apr_pstrmemdup(p, (const char *)data + 1, size - 1);
    if ((nl = strchr(text, '\n')) && f == MTLS_FWD_RFC9440) {
        *nl = '\0';
        chain = nl + 1;
    }
    value = text;
    if (mtls_fwd_decode(p, f, value, chain, &certs, &err) != APR_SUCCESS) {
        if (!err || !*err || certs->nelts) {
            FAIL("a failure without a message, or with certificates");
        }
        goto leave;
    }
    if (err) {
        FAIL("success with a message: %s", err);
    }
    if (certs->nelts > MTLS_FWD_MAX_CERTS) {
        FAIL("%d certificates", certs->nelts);
    }
    for (i = 0; i < certs->nelts; i++) {
        const mtls_der_t *d = &APR_ARRAY_IDX(certs, i, mtls_der_t);
        if (!d->len || d->len > MTLS_FWD_MAX_DER) {
            FAIL("a certificate of %lu bytes", (unsigned long)d->len);
        }
        list = list ? apr_pstrcat(p, list, ",", b64(p, d), NULL) : b64(p, d);
        if (i) {
            tail = apr_pstrcat(p, tail ? tail : "", tail ? ", :" : ":",
                               b64(p, d), ":", NULL);
        }
    }
    if (!certs->nelts) {
        goto leave;
    }
    /* What was decoded encodes back to the same certificates, in the
     * base64 forms too. */
    if (mtls_fwd_decode(p, MTLS_FWD_DER_BASE64, list, NULL, &again, &err)
        != APR_SUCCESS || !same_list(certs, again)) {
        FAIL("der-base64 round trip: %s", err ? err : "differs");
    }
    if (mtls_fwd_decode(p, MTLS_FWD_RFC9440,
                        apr_pstrcat(p, ":", b64(p, &APR_ARRAY_IDX(certs, 0,
                                                                  mtls_der_t)),
                                    ":", NULL), tail, &again, &err)
        != APR_SUCCESS || !same_list(certs, again)) {
        FAIL("rfc9440 round trip: %s", err ? err : "differs");
    }
    /* Whatever the bytes, verification without a CA never succeeds. */
    x = mtls_fwd_verify(p, NULL, NULL, 5, certs, apr_time_now(), &err);
    if (!err) {
        FAIL("verified without a CA");
    }
    X509_free(x);
leave:
    apr_pool_destroy(p);
    return rc;
}
