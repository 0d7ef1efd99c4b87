/* A bounded LRU of values shared by the threads of a process, each entry
 * in a pool of its own and held by its users while they use it (an entry
 * evicted meanwhile goes when its last holder lets go), with a few
 * values derived from it remembered alongside.  Keeps verified forwarded
 * certificates (mtls_proxy_peer.c) and parsed direct ones (mtls_identity.c).
 * Pure: APR only, unit-tested. */
#ifndef MTLS_LRU_H
#define MTLS_LRU_H

#include <apr_pools.h>
#include <apr_time.h>

/* Keys are the bytes that decide a value (what a proxy sent and the
 * verification settings; a certificate's DER), compared in full: no
 * digest to compute per request, no collision to fear.  Longer keys are
 * not cached. */
#define MTLS_LRU_MAX_KEY 16384

typedef struct mtls_lru_t mtls_lru_t;
typedef struct mtls_lru_entry_t mtls_lru_entry_t;

/* A key given in pieces (a header of settings, then the values as a
 * request carries them): hashed and compared as their concatenation, so
 * a lookup needs no copy of the key. */
typedef struct {
    const void *data;
    apr_size_t len;
} mtls_lru_part_t;

/**
 * A cache of at most @p slots entries, least recently used evicted
 * first, safe to use from several threads.  Lives as long as @p p.
 */
apr_status_t mtls_lru_create(apr_pool_t *p, int slots,
                                   mtls_lru_t **out);

/**
 * The entry for @p key if there is one that has not expired at @p now,
 * held for the caller (mtls_lru_release), else NULL.
 */
mtls_lru_entry_t *mtls_lru_get(mtls_lru_t *c,
                                     const void *key, apr_size_t klen,
                                     apr_time_t now);

/** mtls_lru_get() for the key that is the concatenation of @p parts. */
mtls_lru_entry_t *mtls_lru_get_parts(mtls_lru_t *c,
                                     const mtls_lru_part_t *parts,
                                     int nparts, apr_time_t now);

/**
 * A new entry for @p key (copied), not yet in any cache, with its own
 * pool to build the value in (mtls_lru_entry_pool).  NULL when out of
 * memory or when @p klen is above MTLS_LRU_MAX_KEY.
 */
mtls_lru_entry_t *mtls_lru_entry_create(const void *key, apr_size_t klen);

/** mtls_lru_entry_create() for the concatenation of @p parts. */
mtls_lru_entry_t *mtls_lru_entry_create_parts(const mtls_lru_part_t *parts,
                                              int nparts);

/** Destroy a new entry that will not be put after all. */
void mtls_lru_entry_discard(mtls_lru_entry_t *e);

/** The pool the value of @p e lives in (as long as the entry). */
apr_pool_t *mtls_lru_entry_pool(mtls_lru_entry_t *e);

/** Set the value of a new entry and the moment it stops being valid. */
void mtls_lru_entry_set(mtls_lru_entry_t *e, const void *value,
                        apr_time_t expires);

/** The value given to mtls_lru_entry_set. */
const void *mtls_lru_entry_value(const mtls_lru_entry_t *e);

/**
 * Insert the new entry @p e (taking it over) and return the entry now
 * cached for its key, held for the caller: @p e itself, or the one
 * another thread inserted meanwhile (then @p e is destroyed).  The least
 * recently used entry goes when the cache is full; an entry still held
 * by a request is destroyed when its last holder releases it.
 */
mtls_lru_entry_t *mtls_lru_put(mtls_lru_t *c,
                                     mtls_lru_entry_t *e);

/** Give back an entry from mtls_lru_get or mtls_lru_put (takes no lock:
 *  the last holder, the cache counting as one, destroys it). */
void mtls_lru_release(mtls_lru_t *c, mtls_lru_entry_t *e);

/** Entries in the cache now. */
int mtls_lru_count(mtls_lru_t *c);

/* Values derived from an entry (an identity per configuration, and
 * what is worked out from it) can be remembered with it, up to this many
 * at a time, each until its own expiry; at most MTLS_LRU_MEMO_MAX_MADE
 * are ever copied into the entry (expired ones are replaced), so an entry
 * never grows with its requests. */
#define MTLS_LRU_MEMO_SLOTS 4
#define MTLS_LRU_MEMO_MAX_MADE 16

/**
 * The value remembered with @p e under @p key, or NULL when there is none
 * or it has expired at @p now.  Takes no lock: remembered values are
 * never changed, only replaced.
 */
const void *mtls_lru_memo_get(const mtls_lru_entry_t *e, const void *key,
                              apr_size_t klen, apr_time_t now);

/**
 * Remember @p value with @p e under @p key until @p expires: @p copy is
 * called, under the cache's lock, to copy it into the entry's pool (and
 * what it returns is never changed afterwards).  An expired value, of
 * this key or another, is replaced.  Returns what is now remembered under
 * the key (the copy, or what another thread put there first and is still
 * valid), or NULL when @p expires is not after @p now, every slot holds a
 * valid value, or the entry has made all the copies it may (the caller
 * just does not get to reuse the value).
 */
const void *mtls_lru_memo_put(mtls_lru_t *c, mtls_lru_entry_t *e,
                              const void *key, apr_size_t klen,
                              const void *(*copy)(apr_pool_t *p,
                                                  const void *value),
                              const void *value, apr_time_t expires,
                              apr_time_t now);

#endif /* MTLS_LRU_H */
