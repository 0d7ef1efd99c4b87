/* Parsed certificates per process (mtls_certcache.c): one parse per
 * certificate, shared facts, holders, eviction, and twins kept apart. */
#include <apr_strings.h>

#include "unit.h"
#include "mtls_certcache.h"

static void test_certcache_basics(apr_pool_t *p)
{
    EVP_PKEY *k = unit_key();
    X509 *main_cert = unit_cert_main(k);
    X509 *twin = unit_cert_twin(main_cert, k);
    const char *const dn[] = { "O=Lab", "CN=other", NULL };
    X509 *other = unit_cert_simple(k, "05", "20351231235959Z", dn);
    mtls_certcache_t *cc;
    const mtls_cert_t *a = NULL, *b = NULL, *t = NULL, *o = NULL;
    apr_pool_t *h1, *h2;
    const char *err = NULL;
    int parsed = -1;

    apr_pool_create(&h1, p);
    apr_pool_create(&h2, p);
    CHECK_INT(mtls_certcache_create(p, 2, &cc), APR_SUCCESS);

    /* First time: parsed; second (another holder): the same facts. */
    CHECK_INT(mtls_certcache_get(cc, h1, main_cert, &a, &parsed, &err),
              APR_SUCCESS);
    CHECK_INT(parsed, 1);
    CHECK_INT(mtls_certcache_get(cc, h2, main_cert, &b, &parsed, &err),
              APR_SUCCESS);
    CHECK_INT(parsed, 0);
    CHECK(a == b);
    CHECK_STR(a->serial, "AB01");
    CHECK_STR(a->sha256, unit_sha256(p, main_cert));
    CHECK_INT(mtls_certcache_count(cc), 1);

    /* A signature twin is another certificate (its own sha256). */
    CHECK_INT(mtls_certcache_get(cc, h1, twin, &t, &parsed, &err),
              APR_SUCCESS);
    CHECK_INT(parsed, 1);
    CHECK(t != a);
    CHECK_STR(t->sha256, unit_sha256(p, twin));
    CHECK_INT(mtls_certcache_count(cc), 2);

    /* Full: the least recently used (the main certificate) goes, but its
     * holders keep reading it until they let go. */
    CHECK_INT(mtls_certcache_get(cc, h1, other, &o, &parsed, &err),
              APR_SUCCESS);
    CHECK_INT(parsed, 1);
    CHECK_INT(mtls_certcache_count(cc), 2);
    CHECK_STR(a->serial, "AB01");
    CHECK_STR(o->subject, "CN=other,O=Lab");
    apr_pool_destroy(h2);
    CHECK_STR(a->serial, "AB01");
    apr_pool_clear(h1);
    CHECK_INT(mtls_certcache_get(cc, h1, main_cert, &a, &parsed, &err),
              APR_SUCCESS);
    CHECK_INT(parsed, 1);
    CHECK_STR(a->serial, "AB01");
    apr_pool_destroy(h1);

    X509_free(main_cert);
    X509_free(twin);
    X509_free(other);
    EVP_PKEY_free(k);
}

void test_certcache(apr_pool_t *p)
{
    test_certcache_basics(p);
}
