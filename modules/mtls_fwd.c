/* Forwarded certificates: the module's own verification of what the
 * header formats (mtls_fwdfmt.c) decoded. */
#include <string.h>

#include <apr_strings.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/err.h>

#include "mtls_fwd.h"

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
        /* Only CAs can be above the client: a second end-entity
         * certificate means two were sent (a client's own copy of the
         * header passed on, with the proxy's appended), and which one is
         * the client's is not for us to guess. */
        if (!X509_check_ca(x)) {
            X509_free(x);
            *verify_error = apr_psprintf(p, "certificate %d of the "
                                         "forwarded chain is not a CA "
                                         "certificate (the header sent "
                                         "twice?)", i + 1);
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
