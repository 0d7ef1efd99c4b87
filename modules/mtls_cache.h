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

/** Re-attach the mutex in a child (child_init). */
void mtls_cache_child_init(mtls_cache_t *c, apr_pool_t *p, server_rec *s);

/**
 * The value stored under @p key, allocated from @p p.  APR_NOTFOUND when
 * absent or expired; another error when the cache could not be asked.
 */
apr_status_t mtls_cache_get(mtls_cache_t *c, server_rec *s, const char *key,
                            apr_pool_t *p, const char **value,
                            apr_size_t *len);

/** Store @p value under @p key until @p expiry. */
apr_status_t mtls_cache_put(mtls_cache_t *c, server_rec *s, const char *key,
                            apr_time_t expiry, const char *value,
                            apr_size_t len, apr_pool_t *p);

/** "shmcb", "memcache", ... for log lines. */
const char *mtls_cache_name(const mtls_cache_t *c);

#endif /* MTLS_CACHE_H */
