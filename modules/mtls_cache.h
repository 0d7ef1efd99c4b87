/* The shared answer cache (SPEC §5): bytes by key through any mod_socache
 * provider (shmcb on one host, memcache or redis for a fleet), with the
 * mutex a non-thread-safe provider needs.  Knows nothing of what the
 * bytes mean, so any source can use it. */
#ifndef MTLS_CACHE_H
#define MTLS_CACHE_H

#include "httpd.h"
#include "http_config.h"

typedef struct mtls_cache_t mtls_cache_t;

/* Largest value the cache stores (a user in 1,000 groups fits). */
#define MTLS_CACHE_MAX_VALUE (128 * 1024)

/**
 * MTLSCache PROVIDER[:ARGS]|none: look the provider up and create its
 * instance now, as mod_ssl and mod_authn_socache do.  Returns NULL and
 * sets @p out (NULL for "none"), or a message that stops start-up.
 */
const char *mtls_cache_configure(cmd_parms *cmd, const char *arg,
                                 mtls_cache_t **out);

/** The default cache (shmcb with its defaults), or NULL with a warning
 *  when mod_socache_shmcb is not loaded. */
mtls_cache_t *mtls_cache_default(apr_pool_t *pconf, apr_pool_t *ptemp,
                                 server_rec *s);

/** Register the mutex type (pre_config). */
void mtls_cache_pre_config(apr_pool_t *pconf);

/** Initialise the instance and its mutex (post_config). */
apr_status_t mtls_cache_init(mtls_cache_t *c, apr_pool_t *pconf,
                             apr_pool_t *ptemp, server_rec *s);

/* The front of a cache that lives in another server (memcache, redis,
 * ...): answers this process keeps in its own memory so a warm entry
 * costs no round trip.  An entry is kept until the moment its caller
 * says it stops being fresh, and never longer than this, so what is
 * removed from the shared cache (a flush) is forgotten within it too. */
#define MTLS_CACHE_FRONT_SECONDS 30
#define MTLS_CACHE_FRONT_ENTRIES 4096
#define MTLS_CACHE_FRONT_BYTES   (8 * 1024 * 1024)

/** Re-attach the mutex and make the process's front (child_init). */
void mtls_cache_child_init(mtls_cache_t *c, apr_pool_t *p, server_rec *s);

/**
 * The value stored under @p key, allocated from @p p: from this
 * process's front when it keeps the key (then @p kept is set to 1),
 * else from the shared cache (@p kept 0).  APR_NOTFOUND when absent or
 * expired; another error when the cache could not be asked.
 */
apr_status_t mtls_cache_get(mtls_cache_t *c, server_rec *s, const char *key,
                            apr_pool_t *p, const char **value,
                            apr_size_t *len, int *kept);

/** Store @p value under @p key in the shared cache until @p expiry. */
apr_status_t mtls_cache_put(mtls_cache_t *c, server_rec *s, const char *key,
                            apr_time_t expiry, const char *value,
                            apr_size_t len, apr_pool_t *p);

/**
 * Let this process answer @p key with @p value from its own memory until
 * @p fresh_until (at most MTLS_CACHE_FRONT_SECONDS from now).  Nothing
 * happens for a cache without a front (shmcb: already in this host's
 * memory), for a moment already past, or when the value does not fit.
 */
void mtls_cache_keep(mtls_cache_t *c, const char *key, const char *value,
                     apr_size_t len, apr_time_t fresh_until);

/** "shmcb", "memcache", ... for log lines. */
const char *mtls_cache_name(const mtls_cache_t *c);

#endif /* MTLS_CACHE_H */
