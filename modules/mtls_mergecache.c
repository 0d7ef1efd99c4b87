/* Merged per-directory records, remembered per process. */
#include "mtls_mergecache.h"

#include <stdint.h>
#include <string.h>

#include <apr_thread_mutex.h>

/* Slots probed for one pair before the memo counts as full for it. */
#define PROBES 8

typedef struct {
    const void *base;
    const void *add;
    void *merged;
} kept_t;

struct mtls_mergecache_t {
    unsigned gen;                    /* no other memo of the process has
                                        it (for the fronts below) */
    apr_pool_t *pool;                /* results, under the mutex */
    apr_thread_mutex_t *mutex;       /* making and publishing results */
    kept_t **slots;                  /* published once, never changed */
    unsigned mask;
    unsigned count;
};

/* Each thread's last few answers, in front of the shared slots, most
 * recent first: a request asks for the same two or three pairs (and
 * the next request on the thread for the same ones), and this costs no
 * hashing, probing or atomic load.  An answer is tied to its memo by
 * the memo's generation, never by its address, which a later memo may
 * reuse. */
#define FRONT 4

typedef struct {
    unsigned gen;                    /* 0: empty */
    const void *base;
    const void *add;
    void *merged;
} front_t;

#if defined(__GNUC__) && defined(__linux__)
/* initial-exec: one load from the thread pointer; 4 entries fit the
 * room glibc keeps for modules loaded later */
static __thread front_t front[FRONT]
    __attribute__((tls_model("initial-exec")));
#define HAVE_FRONT 1
#endif

static unsigned generations;

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
    mc->gen = __atomic_add_fetch(&generations, 1, __ATOMIC_RELAXED);
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

/* From the shared slots, or made now: apart from the front, so that
 * the front's lookup is a small function without this one's frame. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void *get_shared(mtls_mergecache_t *mc, const void *base,
                        const void *add, mtls_merge_fn *merge)
{
    unsigned h = pair_hash(base, add);
    kept_t *k;
    void *merged;
    int at;

    if ((merged = find(mc, h, base, add, &at)) || at < 0) {
#ifdef HAVE_FRONT
        if (merged) {
            memmove(&front[1], &front[0], (FRONT - 1) * sizeof(front[0]));
            front[0].gen = mc->gen;
            front[0].base = base;
            front[0].add = add;
            front[0].merged = merged;
        }
#endif
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

void *mtls_mergecache_get(mtls_mergecache_t *mc, const void *base,
                          const void *add, mtls_merge_fn *merge)
{
#ifdef HAVE_FRONT
    int i;

    for (i = 0; i < FRONT; i++) {
        if (front[i].base == base && front[i].add == add
            && front[i].gen == mc->gen) {
            return front[i].merged;
        }
    }
#endif
    return get_shared(mc, base, add, merge);
}

unsigned mtls_mergecache_count(mtls_mergecache_t *mc)
{
    unsigned n;

    apr_thread_mutex_lock(mc->mutex);
    n = mc->count;
    apr_thread_mutex_unlock(mc->mutex);
    return n;
}
