/* The per-process memo of merged per-directory records
 * (mtls_mergecache.c): one result per pair, the right one, from any
 * thread, and "no room" rather than a wrong answer. */
#include <apr_thread_proc.h>

#include "unit.h"
#include "mtls_mergecache.h"

typedef struct {
    int base, add;
} rec_t;

static volatile int merges;

static void *merge_rec(apr_pool_t *p, const void *base, const void *add)
{
    rec_t *r = apr_palloc(p, sizeof(*r));

    __atomic_add_fetch(&merges, 1, __ATOMIC_RELAXED);
    r->base = ((const rec_t *)base)->base;
    r->add = ((const rec_t *)add)->add;
    return r;
}

#define NRECS 16
static rec_t recs[NRECS];

typedef struct {
    mtls_mergecache_t *mc;
    int wrong, none;
} worker_t;

static void *APR_THREAD_FUNC hammer(apr_thread_t *t, void *data)
{
    worker_t *w = data;
    int i;

    for (i = 0; i < 20000; i++) {
        int b = (i * 7) % NRECS, a = (i * 13 + i / NRECS) % NRECS;
        const rec_t *r = mtls_mergecache_get(w->mc, &recs[b], &recs[a],
                                             merge_rec);
        if (!r) {
            w->none++;
        }
        else if (r->base != b || r->add != 100 + a) {
            w->wrong++;
        }
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

void test_mergecache(apr_pool_t *p)
{
    mtls_mergecache_t *mc;
    apr_thread_t *th[4];
    worker_t w[4];
    const rec_t *r1, *r2;
    apr_status_t rv;
    int i, none, wrong;

    for (i = 0; i < NRECS; i++) {
        recs[i].base = i;
        recs[i].add = 100 + i;
    }
    CHECK_INT(mtls_mergecache_create(p, 100, &mc), APR_EINVAL);
    CHECK_INT(mtls_mergecache_create(p, 4, &mc), APR_EINVAL);

    /* One pair: made once, the same record every time after. */
    CHECK_INT(mtls_mergecache_create(p, 64, &mc), APR_SUCCESS);
    merges = 0;
    r1 = mtls_mergecache_get(mc, &recs[1], &recs[2], merge_rec);
    r2 = mtls_mergecache_get(mc, &recs[1], &recs[2], merge_rec);
    CHECK(r1 && r1 == r2);
    CHECK_INT(merges, 1);
    CHECK_INT(r1->base, 1);
    CHECK_INT(r1->add, 102);
    /* The other order is another pair. */
    r2 = mtls_mergecache_get(mc, &recs[2], &recs[1], merge_rec);
    CHECK(r2 && r2 != r1);
    CHECK_INT(r2->base, 2);
    CHECK_INT(r2->add, 101);
    CHECK_INT(merges, 2);
    CHECK_INT(mtls_mergecache_count(mc), 2);

    /* A memo made after another one (at the same address, if the
     * allocator gives it) knows nothing of the other's answers, even in
     * a thread that asked the other one just before. */
    {
        apr_pool_t *q;
        mtls_mergecache_t *m1, *m2;
        CHECK_INT(apr_pool_create(&q, p), APR_SUCCESS);
        CHECK_INT(mtls_mergecache_create(q, 64, &m1), APR_SUCCESS);
        merges = 0;
        r1 = mtls_mergecache_get(m1, &recs[3], &recs[4], merge_rec);
        CHECK(r1 == mtls_mergecache_get(m1, &recs[3], &recs[4], merge_rec));
        CHECK_INT(merges, 1);
        apr_pool_clear(q);
        CHECK_INT(mtls_mergecache_create(q, 64, &m2), APR_SUCCESS);
        r2 = mtls_mergecache_get(m2, &recs[3], &recs[4], merge_rec);
        CHECK_INT(merges, 2);
        CHECK(r2 && r2->base == 3 && r2->add == 104);
        CHECK_INT(mtls_mergecache_count(m2), 1);
        apr_pool_destroy(q);
    }

    /* Full: some of 256 pairs find no slot in 8; those get NULL, never
     * another pair's result, and what was kept stays found. */
    CHECK_INT(mtls_mergecache_create(p, 8, &mc), APR_SUCCESS);
    none = wrong = 0;
    for (i = 0; i < NRECS * NRECS; i++) {
        const rec_t *r = mtls_mergecache_get(mc, &recs[i / NRECS],
                                             &recs[i % NRECS], merge_rec);
        if (!r) {
            none++;
        }
        else if (r->base != i / NRECS || r->add != 100 + i % NRECS) {
            wrong++;
        }
    }
    CHECK_INT(mtls_mergecache_count(mc), 8);
    CHECK_INT(none, NRECS * NRECS - 8);
    CHECK_INT(wrong, 0);

    /* Four threads on 256 pairs in a 512-slot memo: every answer right,
     * each pair made at most once. */
    CHECK_INT(mtls_mergecache_create(p, 512, &mc), APR_SUCCESS);
    merges = 0;
    for (i = 0; i < 4; i++) {
        w[i].mc = mc;
        w[i].wrong = w[i].none = 0;
        CHECK_INT(apr_thread_create(&th[i], NULL, hammer, &w[i], p),
                  APR_SUCCESS);
    }
    none = wrong = 0;
    for (i = 0; i < 4; i++) {
        apr_thread_join(&rv, th[i]);
        none += w[i].none;
        wrong += w[i].wrong;
    }
    CHECK_INT(wrong, 0);
    CHECK_INT(merges, (int)mtls_mergecache_count(mc));
    CHECK(mtls_mergecache_count(mc) + (none ? 1 : 0) <= NRECS * NRECS);
    CHECK(mtls_mergecache_count(mc) >= 200);
}
