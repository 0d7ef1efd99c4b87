/* A bounded, thread-safe LRU of pooled entries (see mtls_lru.h). */
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "mtls_lru.h"

typedef struct {
    const void *key;
    apr_size_t klen;
    const void *value;
    apr_time_t expires;
} memo_rec_t;

struct mtls_lru_entry_t {
    const void *key;
    apr_size_t klen;
    const void *value;
    apr_time_t expires;
    apr_pool_t *pool;
    int refs;                     /* holders outside the cache */
    int cached;                   /* in the hash and the list */
    mtls_lru_entry_t *prev, *next;   /* most recently used first */
    /* Remembered values: each record is written once, then published
     * (under the cache's lock) and never changed, so readers take no
     * lock; a replaced one stays in the pool for the readers that still
     * hold it, which the bound on records keeps from growing. */
    memo_rec_t *memo[MTLS_LRU_MEMO_SLOTS];
    int memo_made;                /* records made in the pool */
};

struct mtls_lru_t {
    apr_thread_mutex_t *mutex;
    apr_hash_t *by_key;
    mtls_lru_entry_t *head, *tail;
    int slots, count;
};

/* The hash table's hash of a key: FNV-1a over its length, its first 48
 * bytes (the verification settings and the start of the value) and its
 * last 96 (where a certificate's serial-independent part ends and its
 * signature, different for every certificate, lies).  Hashing every byte
 * of a kilobyte-long key per request costs more than the rest of the
 * lookup; keys are still compared in full, so a collision only makes a
 * chain longer (the cache stays bounded). */
static unsigned int key_hash(const char *key, apr_ssize_t *klen)
{
    apr_size_t n = (apr_size_t)*klen, i, end;
    apr_uint64_t h = 0xcbf29ce484222325ull ^ n, w;

    /* eight bytes at a time (FNV-1a on words): a tenth of the
     * instructions of a byte loop over the same bytes */
#define MIX(off) do { memcpy(&w, key + (off), 8); \
                      h = (h ^ w) * 0x100000001b3ull; \
                      h ^= h >> 29; } while (0)
    if (n < 16) {
        for (i = 0; i < n; i++) {
            h = (h ^ (unsigned char)key[i]) * 0x100000001b3ull;
        }
        return (unsigned int)(h ^ (h >> 32));
    }
    end = n < 48 ? n - 8 : 40;
    for (i = 0; i <= end; i += 8) {
        MIX(i);
    }
    for (i = n > 144 ? n - 96 : i; i + 8 <= n; i += 8) {
        MIX(i);
    }
    MIX(n - 8);
#undef MIX
    return (unsigned int)(h ^ (h >> 32));
}

apr_status_t mtls_lru_create(apr_pool_t *p, int slots,
                                   mtls_lru_t **out)
{
    mtls_lru_t *c = apr_pcalloc(p, sizeof(*c));
    apr_status_t rv;

    if ((rv = apr_thread_mutex_create(&c->mutex, APR_THREAD_MUTEX_DEFAULT,
                                      p)) != APR_SUCCESS) {
        return rv;
    }
    c->by_key = apr_hash_make_custom(p, key_hash);
    c->slots = slots > 0 ? slots : 1;
    *out = c;
    return APR_SUCCESS;
}

static void unlink_locked(mtls_lru_t *c, mtls_lru_entry_t *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    }
    else {
        c->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    }
    else {
        c->tail = e->prev;
    }
    e->prev = e->next = NULL;
}

static void push_front_locked(mtls_lru_t *c, mtls_lru_entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head) {
        c->head->prev = e;
    }
    c->head = e;
    if (!c->tail) {
        c->tail = e;
    }
}

/* Take @p e out of the cache; destroyed now unless someone holds it. */
static void drop_locked(mtls_lru_t *c, mtls_lru_entry_t *e)
{
    unlink_locked(c, e);
    apr_hash_set(c->by_key, e->key, e->klen, NULL);
    e->cached = 0;
    c->count--;
    if (!e->refs) {
        apr_pool_destroy(e->pool);
    }
}

mtls_lru_entry_t *mtls_lru_get(mtls_lru_t *c,
                                     const void *key, apr_size_t klen,
                                     apr_time_t now)
{
    mtls_lru_entry_t *e;

    if (klen > MTLS_LRU_MAX_KEY) {
        return NULL;
    }
    apr_thread_mutex_lock(c->mutex);
    e = apr_hash_get(c->by_key, key, klen);
    if (e && e->expires <= now) {
        drop_locked(c, e);
        e = NULL;
    }
    if (e) {
        if (c->head != e) {
            unlink_locked(c, e);
            push_front_locked(c, e);
        }
        e->refs++;
    }
    apr_thread_mutex_unlock(c->mutex);
    return e;
}

mtls_lru_entry_t *mtls_lru_entry_create(const void *key, apr_size_t klen)
{
    apr_pool_t *pool;
    mtls_lru_entry_t *e;

    if (klen > MTLS_LRU_MAX_KEY) {
        return NULL;
    }
    /* Its own unmanaged pool: entries come and go in any order and from
     * any thread, long after the request that made them. */
    if (apr_pool_create_unmanaged_ex(&pool, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    apr_pool_tag(pool, "mtls_lru_entry");
    e = apr_pcalloc(pool, sizeof(*e));
    e->key = apr_pmemdup(pool, key, klen);
    e->klen = klen;
    e->pool = pool;
    return e;
}

void mtls_lru_entry_discard(mtls_lru_entry_t *e)
{
    apr_pool_destroy(e->pool);
}

apr_pool_t *mtls_lru_entry_pool(mtls_lru_entry_t *e)
{
    return e->pool;
}

void mtls_lru_entry_set(mtls_lru_entry_t *e, const void *value,
                        apr_time_t expires)
{
    e->value = value;
    e->expires = expires;
}

const void *mtls_lru_entry_value(const mtls_lru_entry_t *e)
{
    return e->value;
}

mtls_lru_entry_t *mtls_lru_put(mtls_lru_t *c,
                                     mtls_lru_entry_t *e)
{
    mtls_lru_entry_t *old;

    apr_thread_mutex_lock(c->mutex);
    old = apr_hash_get(c->by_key, e->key, e->klen);
    if (old) {
        /* Another thread verified the same certificate meanwhile. */
        old->refs++;
        apr_thread_mutex_unlock(c->mutex);
        apr_pool_destroy(e->pool);
        return old;
    }
    e->refs = 1;
    e->cached = 1;
    apr_hash_set(c->by_key, e->key, e->klen, e);
    push_front_locked(c, e);
    c->count++;
    while (c->count > c->slots && c->tail) {
        drop_locked(c, c->tail);
    }
    apr_thread_mutex_unlock(c->mutex);
    return e;
}

void mtls_lru_release(mtls_lru_t *c, mtls_lru_entry_t *e)
{
    int destroy;

    apr_thread_mutex_lock(c->mutex);
    destroy = --e->refs == 0 && !e->cached;
    apr_thread_mutex_unlock(c->mutex);
    if (destroy) {
        apr_pool_destroy(e->pool);
    }
}

int mtls_lru_count(mtls_lru_t *c)
{
    int n;

    apr_thread_mutex_lock(c->mutex);
    n = c->count;
    apr_thread_mutex_unlock(c->mutex);
    return n;
}

/* A memo slot as published: loads pair with the release store of
 * memo_publish_locked, so the record's contents are seen complete. */
static memo_rec_t *memo_load(memo_rec_t *const *slot)
{
    return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

static void memo_publish_locked(memo_rec_t **slot, memo_rec_t *m)
{
    __atomic_store_n(slot, m, __ATOMIC_RELEASE);
}

static int memo_is(const memo_rec_t *m, const void *key, apr_size_t klen)
{
    return m->klen == klen && !memcmp(m->key, key, klen);
}

const void *mtls_lru_memo_get(const mtls_lru_entry_t *e, const void *key,
                              apr_size_t klen, apr_time_t now)
{
    int i;

    for (i = 0; i < MTLS_LRU_MEMO_SLOTS; i++) {
        const memo_rec_t *m = memo_load(&e->memo[i]);
        if (!m) {
            break;                /* slots fill in order, never empty */
        }
        if (memo_is(m, key, klen)) {
            return now < m->expires ? m->value : NULL;
        }
    }
    return NULL;
}

const void *mtls_lru_memo_put(mtls_lru_t *c, mtls_lru_entry_t *e,
                              const void *key, apr_size_t klen,
                              const void *(*copy)(apr_pool_t *p,
                                                  const void *value),
                              const void *value, apr_time_t expires,
                              apr_time_t now)
{
    const void *kept = NULL;
    memo_rec_t **slot = NULL, *m;
    int i;

    if (now >= expires) {
        return NULL;
    }
    /* The entry's pool is only ever allocated from before the entry is
     * published, or here under the lock. */
    apr_thread_mutex_lock(c->mutex);
    for (i = 0; i < MTLS_LRU_MEMO_SLOTS; i++) {
        m = e->memo[i];
        if (!m || memo_is(m, key, klen)) {
            if (m && now < m->expires) {
                kept = m->value;  /* another thread was first */
                goto leave;
            }
            slot = &e->memo[i];   /* free, or the key's own expired one */
            break;
        }
        if (!slot && now >= m->expires) {
            slot = &e->memo[i];   /* another key's, expired */
        }
    }
    if (slot && e->memo_made < MTLS_LRU_MEMO_MAX_MADE) {
        m = apr_palloc(e->pool, sizeof(*m) + klen);
        m->key = memcpy(m + 1, key, klen);
        m->klen = klen;
        m->value = kept = copy(e->pool, value);
        m->expires = expires;
        e->memo_made++;
        memo_publish_locked(slot, m);
    }
leave:
    apr_thread_mutex_unlock(c->mutex);
    return kept;
}
