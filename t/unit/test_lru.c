/* The per-process LRU (mtls_lru.c): eviction, expiry, holders, memo. */
#include <apr_strings.h>

#include "unit.h"
#include "mtls_lru.h"

static mtls_lru_entry_t *put(mtls_lru_t *c, int k, const char *v,
                             apr_time_t expires)
{
    unsigned char key[40] = { 0 };
    mtls_lru_entry_t *e;

    key[39] = (unsigned char)k;
    e = mtls_lru_entry_create(key, sizeof(key));
    mtls_lru_entry_set(e, apr_pstrdup(mtls_lru_entry_pool(e), v), expires);
    return mtls_lru_put(c, e);
}

static mtls_lru_entry_t *get(mtls_lru_t *c, int k, apr_time_t now)
{
    unsigned char key[40] = { 0 };

    key[39] = (unsigned char)k;
    return mtls_lru_get(c, key, sizeof(key), now);
}

static const void *copy_str(apr_pool_t *p, const void *v)
{
    return apr_pstrdup(p, v);
}

static void test_cache(apr_pool_t *p)
{
    mtls_lru_t *c;
    mtls_lru_entry_t *e1, *e2, *e3, *e;

    CHECK_INT(mtls_lru_create(p, 2, &c), APR_SUCCESS);
    e1 = put(c, 1, "one", 100);
    mtls_lru_release(c, e1);
    e2 = put(c, 2, "two", 100);
    mtls_lru_release(c, e2);
    CHECK_INT(mtls_lru_count(c), 2);
    /* 1 is used, so 2 is the least recent and goes when 3 comes. */
    e = get(c, 1, 50);
    CHECK(e == e1);
    CHECK_STR(mtls_lru_entry_value(e), "one");
    e3 = put(c, 3, "three", 100);
    CHECK_INT(mtls_lru_count(c), 2);
    CHECK(get(c, 2, 50) == NULL);
    /* An entry evicted while held stays readable until released. */
    mtls_lru_release(c, put(c, 4, "four", 100));
    CHECK(get(c, 1, 50) == NULL);
    CHECK_STR(mtls_lru_entry_value(e), "one");
    mtls_lru_release(c, e);
    /* The same key twice: the first entry stays. */
    e = put(c, 4, "four again", 100);
    CHECK_STR(mtls_lru_entry_value(e), "four");
    mtls_lru_release(c, e);
    /* Expired: gone. */
    CHECK(get(c, 4, 100) == NULL);
    CHECK_INT(mtls_lru_count(c), 1);
    e = get(c, 3, 99);
    CHECK(e == e3);
    /* Values remembered with an entry: a copy, per key, bounded, each
     * valid until its own expiry (the time here is 99). */
    CHECK(mtls_lru_memo_get(e, "k1", 2, 99) == NULL);
    CHECK(mtls_lru_memo_put(c, e, "k0", 2, copy_str, "v0", 99, 99) == NULL);
    CHECK(mtls_lru_memo_get(e, "k0", 2, 99) == NULL);
    CHECK_STR(mtls_lru_memo_put(c, e, "k1", 2, copy_str, "v1", 200, 99),
              "v1");
    CHECK_STR(mtls_lru_memo_put(c, e, "k1", 2, copy_str, "other", 200, 99),
              "v1");
    CHECK_STR(mtls_lru_memo_get(e, "k1", 2, 99), "v1");
    CHECK(mtls_lru_memo_get(e, "k1", 2, 99) != (const void *)"v1");
    CHECK(mtls_lru_memo_get(e, "k", 1, 99) == NULL);
    mtls_lru_memo_put(c, e, "k2", 2, copy_str, "v2", 150, 99);
    mtls_lru_memo_put(c, e, "k3", 2, copy_str, "v3", 200, 99);
    mtls_lru_memo_put(c, e, "k4", 2, copy_str, "v4", 200, 99);
    CHECK(mtls_lru_memo_put(c, e, "k5", 2, copy_str, "v5", 200, 99) == NULL);
    CHECK_STR(mtls_lru_memo_get(e, "k4", 2, 99), "v4");
    CHECK(mtls_lru_memo_get(e, "k5", 2, 99) == NULL);
    /* Expired: not given out, and replaced, by the same key ... */
    CHECK(mtls_lru_memo_get(e, "k2", 2, 150) == NULL);
    CHECK_STR(mtls_lru_memo_put(c, e, "k2", 2, copy_str, "v2b", 300, 150),
              "v2b");
    CHECK_STR(mtls_lru_memo_get(e, "k2", 2, 160), "v2b");
    /* ... or by another one when none is free */
    CHECK(mtls_lru_memo_put(c, e, "k5", 2, copy_str, "v5", 400, 199) == NULL);
    CHECK_STR(mtls_lru_memo_put(c, e, "k5", 2, copy_str, "v5", 400, 200),
              "v5");
    CHECK_STR(mtls_lru_memo_get(e, "k5", 2, 200), "v5");
    CHECK_STR(mtls_lru_memo_get(e, "k2", 2, 200), "v2b");
    /* Copies into the entry are bounded: once made, no more are kept. */
    {
        int n, t = 400;
        for (n = 0; n < 2 * MTLS_LRU_MEMO_MAX_MADE; n++, t += 100) {
            mtls_lru_memo_put(c, e, "kk", 2, copy_str, "vv", t + 100, t);
        }
        CHECK(mtls_lru_memo_get(e, "kk", 2, t - 50) == NULL);
    }
    mtls_lru_release(c, e);
    mtls_lru_release(c, e3);
}

void test_lru(apr_pool_t *p)
{
    test_cache(p);
}
