/* Parsed client certificates, per process (see mtls_certcache.h). */
#include <apr_strings.h>
#include <openssl/crypto.h>

#include "mtls_certcache.h"
#include "mtls_lru.h"

struct mtls_certcache_t {
    mtls_lru_t *lru;
};

/* What a holder's pool cleanup gives back. */
typedef struct {
    mtls_lru_t *lru;
    mtls_lru_entry_t *entry;
} hold_t;

apr_status_t mtls_certcache_create(apr_pool_t *p, int slots,
                                   mtls_certcache_t **out)
{
    mtls_certcache_t *cc = apr_pcalloc(p, sizeof(*cc));
    apr_status_t rv = mtls_lru_create(p, slots, &cc->lru);

    if (rv == APR_SUCCESS) {
        *out = cc;
    }
    return rv;
}

static apr_status_t release_hold(void *data)
{
    hold_t *h = data;

    mtls_lru_release(h->lru, h->entry);
    return APR_SUCCESS;
}

static void hold(mtls_certcache_t *cc, apr_pool_t *holder,
                 mtls_lru_entry_t *e)
{
    hold_t *h = apr_palloc(holder, sizeof(*h));

    h->lru = cc->lru;
    h->entry = e;
    apr_pool_cleanup_register(holder, h, release_hold,
                              apr_pool_cleanup_null);
}

apr_status_t mtls_certcache_get(mtls_certcache_t *cc, apr_pool_t *holder,
                                X509 *x, const mtls_cert_t **out,
                                int *parsed, const char **err)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    mtls_lru_entry_t *e;
    mtls_cert_t *c;
    apr_status_t rv;

    *out = NULL;
    if (parsed) {
        *parsed = 0;
    }
    if (len <= 0) {
        *err = "cannot encode the certificate";
        return APR_EGENERAL;
    }
    /* The facts never change and never expire; only the bound evicts. */
    e = mtls_lru_get(cc->lru, der, (apr_size_t)len, 0);
    if (!e) {
        if (parsed) {
            *parsed = 1;
        }
        if (!(e = mtls_lru_entry_create(der, (apr_size_t)len))) {
            /* Too large to keep (or no memory): the holder's copy only. */
            OPENSSL_free(der);
            rv = mtls_cert_from_x509(holder, x, &c, err);
            *out = c;
            return rv;
        }
        OPENSSL_free(der);
        der = NULL;
        rv = mtls_cert_from_x509(mtls_lru_entry_pool(e), x, &c, err);
        if (rv != APR_SUCCESS) {
            mtls_lru_entry_discard(e);
            return rv;
        }
        mtls_lru_entry_set(e, c, APR_INT64_MAX);
        e = mtls_lru_put(cc->lru, e);
    }
    OPENSSL_free(der);
    hold(cc, holder, e);
    *out = mtls_lru_entry_value(e);
    return APR_SUCCESS;
}

int mtls_certcache_count(mtls_certcache_t *cc)
{
    return mtls_lru_count(cc->lru);
}
