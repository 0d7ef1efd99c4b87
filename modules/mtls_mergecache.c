/* Merged per-directory records, remembered per process. */
#include "mtls_mergecache.h"

#include <stdint.h>

#include <apr_thread_mutex.h>

/* Slots probed for one pair before the memo counts as full for it. */
#define PROBES 8

typedef struct {
    const void *base;
    const void *add;
    void *merged;
} kept_t;

struct mtls_mergecache_t {
    apr_pool_t *pool;                /* results, under the mutex */
    apr_thread_mutex_t *mutex;       /* making and publishing results */
    kept_t **slots;                  /* published once, never changed */
    unsigned mask;
    unsigned count;
};

apr_status_t mtls_mergecache_create(apr_pool_t *p, unsigned slots,
                                    mtls_mergecache_t **out)
{
    mtls_mergecache_t *mc = apr_pcalloc(p, sizeof(*mc));
    apr_status_t rv;

    if (slots < PROBES || (slots & (slots - 1))) {
        return APR_EINVAL;
    }
    if ((rv = apr_pool_create(&mc->pool, p)) != APR_SUCCESS
        || (rv = apr_thread_mutex_create(&mc->mutex, APR_THREAD_MUTEX_DEFAULT,
                                         p)) != APR_SUCCESS) {
        return rv;
    }
    mc->slots = apr_pcalloc(p, slots * sizeof(*mc->slots));
    mc->mask = slots - 1;
    *out = mc;
    return APR_SUCCESS;
}

static unsigned pair_hash(const void *base, const void *add)
{
    uint64_t h = ((uint64_t)(uintptr_t)base >> 3) * 0x9e3779b97f4a7c15ull;

    h ^= ((uint64_t)(uintptr_t)add >> 3) * 0xc2b2ae3d27d4eb4full;
    return (unsigned)(h ^ (h >> 29));
}

/* The result for the pair among the published ones, or NULL; *free_at is
 * the first empty slot probed (or -1). */
static void *find(mtls_mergecache_t *mc, unsigned h, const void *base,
                  const void *add, int *free_at)
{
    int i;

    *free_at = -1;
    for (i = 0; i < PROBES; i++) {
        unsigned at = (h + (unsigned)i) & mc->mask;
        const kept_t *k = __atomic_load_n(&mc->slots[at], __ATOMIC_ACQUIRE);
        if (!k) {
            *free_at = (int)at;
            return NULL;     /* slots fill in probe order: none further */
        }
        if (k->base == base && k->add == add) {
            return k->merged;
        }
    }
    return NULL;
}

void *mtls_mergecache_get(mtls_mergecache_t *mc, const void *base,
                          const void *add, mtls_merge_fn *merge)
{
    unsigned h = pair_hash(base, add);
    kept_t *k;
    void *merged;
    int at;

    if ((merged = find(mc, h, base, add, &at)) || at < 0) {
        return merged;
    }
    apr_thread_mutex_lock(mc->mutex);
    /* (another thread may have made it meanwhile) */
    if (!(merged = find(mc, h, base, add, &at)) && at >= 0) {
        k = apr_palloc(mc->pool, sizeof(*k));
        k->base = base;
        k->add = add;
        k->merged = merged = merge(mc->pool, base, add);
        __atomic_store_n(&mc->slots[at], k, __ATOMIC_RELEASE);
        mc->count++;
    }
    apr_thread_mutex_unlock(mc->mutex);
    return merged;
}

unsigned mtls_mergecache_count(mtls_mergecache_t *mc)
{
    unsigned n;

    apr_thread_mutex_lock(mc->mutex);
    n = mc->count;
    apr_thread_mutex_unlock(mc->mutex);
    return n;
}
