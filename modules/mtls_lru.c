/* A bounded, thread-safe LRU of pooled entries (see mtls_lru.h). */
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "mtls_lru.h"

/* The few helpers of every lookup are inlined, whatever the compiler
 * would decide: a call costs as much as what they do. */
#if defined(__GNUC__)
#define LRU_INLINE inline __attribute__((always_inline))
#else
#define LRU_INLINE APR_INLINE
#endif

typedef struct {
    const void *key;
    apr_size_t klen;
    const void *value;
    apr_time_t expires;
} memo_rec_t;

struct mtls_lru_entry_t {
    const void *key;
    apr_size_t klen;
    apr_uint64_t hash;            /* key_hash() of the key */
    const void *value;
    apr_time_t expires;
    apr_pool_t *pool;
    /* Holders, the cache counting as one while the entry is in it:
     * changed atomically, so a holder lets go without the lock, and
     * whoever takes it to 0 destroys the entry.  It is only raised from
     * the cache (under the lock, while the cache's own count is there),
     * so it never rises again from 0. */
    int refs;
    mtls_lru_entry_t *prev, *next;   /* most recently used first */
    mtls_lru_entry_t *chain;         /* next in the same bucket */
    /* Remembered values: each record is written once, then published
     * (under the cache's lock) and never changed, so readers take no
     * lock; a replaced one stays in the pool for the readers that still
     * hold it, which the bound on records keeps from growing. */
    memo_rec_t *memo[MTLS_LRU_MEMO_SLOTS];
    int memo_made;                /* records made in the pool */
};

/* The index is the cache's own chained hash table: a bucket per two
 * slots at least (a power of two), the entries' stored hashes compared
 * before their keys, chains through the entries themselves (no
 * allocation per insert, nothing to rehash: the cache never grows).
 *
 * The index and the list have a mutex of their own: what is done under
 * it is a hash lookup and a few pointer moves (entries are destroyed
 * after it is let go).  The other mutex guards only the memo's copies
 * into entries' pools, which can take longer. */
struct mtls_lru_t {
    apr_thread_mutex_t *index_mutex;
    apr_thread_mutex_t *mutex;
    mtls_lru_entry_t **buckets;
    apr_size_t mask;
    mtls_lru_entry_t *head, *tail;
    int slots, count;
};

/* Copy @p len bytes from offset @p off of the concatenation of @p parts
 * (which has them) into @p dst. */
static void gather(const mtls_lru_part_t *parts, apr_size_t off,
                   unsigned char *dst, apr_size_t len)
{
    for (; len; parts++) {
        apr_size_t n;
        if (off >= parts->len) {
            off -= parts->len;
            continue;
        }
        n = parts->len - off < len ? parts->len - off : len;
        memcpy(dst, (const char *)parts->data + off, n);
        dst += n;
        len -= n;
        off = 0;
    }
}

/* The windows of a key that are hashed besides its length (all of a key
 * up to their sum): some bytes in the middle (a certificate's public
 * key; in a header that carries a chain too, one of them) and its last
 * ones (a certificate's signature, different for every certificate).
 * Not its start: the verification settings and the structure every
 * certificate of a CA begins with.  Hashing every byte of a
 * kilobyte-long key per request costs more than the rest of the lookup;
 * keys are still compared in full, so a collision only makes a chain
 * longer (the cache stays bounded). */
#define HASH_MID 16
#define HASH_TAIL 32
#define HASH_ALL (HASH_MID + HASH_TAIL)

/* @p len bytes at offset @p off of the concatenation of @p parts: where
 * they are when one part has them all (the usual case), else copied
 * into @p buf. */
static LRU_INLINE const unsigned char *window(const mtls_lru_part_t *parts,
                                              apr_size_t off, apr_size_t len,
                                              unsigned char *buf)
{
    while (off >= parts->len) {
        off -= parts->len;
        parts++;
    }
    if (parts->len - off >= len) {
        return (const unsigned char *)parts->data + off;
    }
    gather(parts, off, buf, len);
    return buf;
}

static LRU_INLINE apr_uint64_t word_at(const unsigned char *p)
{
    apr_uint64_t w;

    memcpy(&w, p, 8);
    return w;
}

#define MIX(h, w) ((h) = ((h) ^ (w)) * 0x100000001b3ull)

/* The key's length and its windows, a word at a time (a multiply per
 * word, the high bits folded down at the end, where the bucket is
 * taken from the low ones), the key given in parts. */
static apr_uint64_t key_hash(const mtls_lru_part_t *parts, apr_size_t n)
{
    unsigned char mid[HASH_MID], tail[HASH_TAIL];
    apr_uint64_t h = 0xcbf29ce484222325ull ^ n;
    apr_size_t i;

    if (n > HASH_ALL) {
        const unsigned char *m = window(parts, n / 2 - HASH_MID / 2,
                                        HASH_MID, mid);
        const unsigned char *t = window(parts, n - HASH_TAIL, HASH_TAIL,
                                        tail);
        MIX(h, word_at(m));
        MIX(h, word_at(m + 8));
        MIX(h, word_at(t));
        MIX(h, word_at(t + 8));
        MIX(h, word_at(t + 16));
        MIX(h, word_at(t + 24));
    }
    else {
        unsigned char all[HASH_ALL];
        gather(parts, 0, all, n);
        for (i = 0; i + 8 <= n; i += 8) {
            MIX(h, word_at(all + i));
        }
        for (; i < n; i++) {
            MIX(h, all[i]);
        }
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}
#undef MIX

static LRU_INLINE apr_size_t parts_len(const mtls_lru_part_t *parts, int nparts)
{
    apr_size_t n = 0;
    int i;

    for (i = 0; i < nparts; i++) {
        n += parts[i].len;
    }
    return n;
}

/* Whether the @p n bytes at @p a and @p b are the same: short ones (a
 * pointer, a small key, the settings before a value) compared in words
 * inline, without a call. */
static LRU_INLINE int bytes_eq(const char *a, const void *b, apr_size_t n)
{
    const unsigned char *x = (const unsigned char *)a, *y = b;

    if (n >= 8 && n <= 32) {
        /* words from each end, overlapping unless n is 16 or 32 */
        if (word_at(x) != word_at(y)
            || word_at(x + n - 8) != word_at(y + n - 8)) {
            return 0;
        }
        return n <= 16 || (word_at(x + 8) == word_at(y + 8)
                           && word_at(x + n - 16) == word_at(y + n - 16));
    }
    if (n < 8) {
        apr_size_t i;
        for (i = 0; i < n; i++) {
            if (x[i] != y[i]) {
                return 0;
            }
        }
        return 1;
    }
    return !memcmp(a, b, n);
}

/* Whether @p key (of @p klen bytes) is the concatenation of @p parts
 * (of @p n bytes in all). */
static LRU_INLINE int key_is(const void *key, apr_size_t klen,
                  const mtls_lru_part_t *parts, int nparts, apr_size_t n)
{
    const char *k = key;
    int i;

    if (klen != n) {
        return 0;
    }
    for (i = 0; i < nparts; k += parts[i].len, i++) {
        if (!bytes_eq(k, parts[i].data, parts[i].len)) {
            return 0;
        }
    }
    return 1;
}

apr_status_t mtls_lru_create(apr_pool_t *p, int slots,
                                   mtls_lru_t **out)
{
    mtls_lru_t *c = apr_pcalloc(p, sizeof(*c));
    apr_size_t nb = 2;
    apr_status_t rv;

    if ((rv = apr_thread_mutex_create(&c->mutex, APR_THREAD_MUTEX_DEFAULT,
                                      p)) != APR_SUCCESS
        || (rv = apr_thread_mutex_create(&c->index_mutex,
                                         APR_THREAD_MUTEX_DEFAULT, p))
           != APR_SUCCESS) {
        return rv;
    }
    c->slots = slots > 0 ? slots : 1;
    while (nb < 2 * (apr_size_t)c->slots) {
        nb *= 2;
    }
    c->buckets = apr_pcalloc(p, nb * sizeof(*c->buckets));
    c->mask = nb - 1;
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

/* The cached entry whose key is the concatenation of @p parts. */
static mtls_lru_entry_t *find_locked(mtls_lru_t *c, apr_uint64_t h,
                                     const mtls_lru_part_t *parts,
                                     int nparts, apr_size_t n)
{
    mtls_lru_entry_t *e;

    for (e = c->buckets[h & c->mask]; e; e = e->chain) {
        if (e->hash == h && key_is(e->key, e->klen, parts, nparts, n)) {
            return e;
        }
    }
    return NULL;
}

static void index_lock(mtls_lru_t *c)
{
    apr_thread_mutex_lock(c->index_mutex);
}

static void index_unlock(mtls_lru_t *c)
{
    apr_thread_mutex_unlock(c->index_mutex);
}

/* One holder fewer: true when it was the last one, and the entry is to
 * be destroyed. */
static int unref(mtls_lru_entry_t *e)
{
    return __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0;
}

/* Destroy the entries of @p dead (chained through @c chain), the lock
 * let go: freeing memory is not done under it. */
static void bury(mtls_lru_entry_t *dead)
{
    while (dead) {
        mtls_lru_entry_t *next = dead->chain;
        apr_pool_destroy(dead->pool);
        dead = next;
    }
}

/* Take @p e out of the cache; onto @p dead to be destroyed unless
 * someone holds it. */
static void drop_locked(mtls_lru_t *c, mtls_lru_entry_t *e,
                        mtls_lru_entry_t **dead)
{
    mtls_lru_entry_t **pp = &c->buckets[e->hash & c->mask];

    while (*pp != e) {
        pp = &(*pp)->chain;
    }
    *pp = e->chain;
    e->chain = NULL;
    unlink_locked(c, e);
    c->count--;
    if (unref(e)) {               /* the cache's own */
        e->chain = *dead;
        *dead = e;
    }
}

mtls_lru_entry_t *mtls_lru_get_parts(mtls_lru_t *c,
                                     const mtls_lru_part_t *parts,
                                     int nparts, apr_time_t now)
{
    apr_size_t n = parts_len(parts, nparts);
    apr_uint64_t h;
    mtls_lru_entry_t *e, *dead = NULL;

    if (n > MTLS_LRU_MAX_KEY) {
        return NULL;
    }
    h = key_hash(parts, n);
    index_lock(c);
    e = find_locked(c, h, parts, nparts, n);
    if (e && e->expires <= now) {
        drop_locked(c, e, &dead);
        e = NULL;
    }
    if (e) {
        if (c->head != e) {
            unlink_locked(c, e);
            push_front_locked(c, e);
        }
        __atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
    }
    index_unlock(c);
    bury(dead);
    return e;
}

mtls_lru_entry_t *mtls_lru_get(mtls_lru_t *c,
                                     const void *key, apr_size_t klen,
                                     apr_time_t now)
{
    mtls_lru_part_t part;

    part.data = key;
    part.len = klen;
    return mtls_lru_get_parts(c, &part, 1, now);
}

mtls_lru_entry_t *mtls_lru_entry_create_parts(const mtls_lru_part_t *parts,
                                              int nparts)
{
    apr_size_t n = parts_len(parts, nparts);
    apr_pool_t *pool;
    mtls_lru_entry_t *e;
    char *key;

    if (n > MTLS_LRU_MAX_KEY) {
        return NULL;
    }
    /* Its own unmanaged pool: entries come and go in any order and from
     * any thread, long after the request that made them. */
    if (apr_pool_create_unmanaged_ex(&pool, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    apr_pool_tag(pool, "mtls_lru_entry");
    e = apr_pcalloc(pool, sizeof(*e));
    key = apr_palloc(pool, n ? n : 1);
    gather(parts, 0, (unsigned char *)key, n);
    e->key = key;
    e->klen = n;
    e->hash = key_hash(parts, n);
    e->pool = pool;
    return e;
}

mtls_lru_entry_t *mtls_lru_entry_create(const void *key, apr_size_t klen)
{
    mtls_lru_part_t part;

    part.data = key;
    part.len = klen;
    return mtls_lru_entry_create_parts(&part, 1);
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
    mtls_lru_part_t part;
    mtls_lru_entry_t *old, **bucket, *dead = NULL;

    part.data = e->key;
    part.len = e->klen;
    index_lock(c);
    old = find_locked(c, e->hash, &part, 1, e->klen);
    if (old) {
        /* Another thread verified the same certificate meanwhile. */
        __atomic_add_fetch(&old->refs, 1, __ATOMIC_RELAXED);
        index_unlock(c);
        apr_pool_destroy(e->pool);
        return old;
    }
    e->refs = 2;                  /* the cache and the caller */
    bucket = &c->buckets[e->hash & c->mask];
    e->chain = *bucket;
    *bucket = e;
    push_front_locked(c, e);
    c->count++;
    while (c->count > c->slots && c->tail) {
        drop_locked(c, c->tail, &dead);
    }
    index_unlock(c);
    bury(dead);
    return e;
}

void mtls_lru_release(mtls_lru_t *c, mtls_lru_entry_t *e)
{
    (void)c;
    if (unref(e)) {
        apr_pool_destroy(e->pool);
    }
}

int mtls_lru_count(mtls_lru_t *c)
{
    int n;

    index_lock(c);
    n = c->count;
    index_unlock(c);
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
    return m->klen == klen && bytes_eq(m->key, key, klen);
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
