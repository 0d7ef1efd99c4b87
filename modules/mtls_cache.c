/* The answer cache over mod_socache, following mod_authn_socache and
 * mod_ssl's session cache: provider and instance made when the directive
 * is read, a global mutex only for providers that are not safe across
 * processes and threads. */
#include "mtls_private.h"
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"
#include "apr_hash.h"
#include "apr_thread_mutex.h"
#include "ap_provider.h"
#include "ap_socache.h"
#include "util_mutex.h"

#include "mtls_cache.h"

#define MUTEX_TYPE "mtls-authz-cache"

/* One answer kept by the front: malloc'd with its key and value after
 * it, so an evicted one is given back at once. */
typedef struct front_entry_t front_entry_t;
struct front_entry_t {
    front_entry_t *prev, *next;    /* in the order they were kept */
    apr_time_t until;
    apr_size_t len;                /* of the value */
    const char *key;               /* both point into the same block */
    const char *value;
};

/* The process's front of a remote cache (see mtls_cache.h). */
typedef struct {
    apr_thread_mutex_t *lock;      /* guards everything below */
    apr_hash_t *index;             /* key -> front_entry_t * */
    front_entry_t *oldest, *newest;
    int count;
    apr_size_t bytes;
} front_t;

struct mtls_cache_t {
    const char *name;
    const ap_socache_provider_t *provider;
    ap_socache_instance_t *instance;
    apr_global_mutex_t *mutex;     /* NULL unless NOTMPSAFE */
    server_rec *server;            /* for the provider's destroy */
    front_t *front;                /* per child; NULL for shmcb */
};

/* With the configuration: a restart builds a new instance. */
static apr_status_t cache_destroy(void *data)
{
    mtls_cache_t *c = data;

    c->provider->destroy(c->instance, c->server);
    return APR_SUCCESS;
}

static const char *create(apr_pool_t *p, apr_pool_t *ptemp, const char *name,
                          const char *args, mtls_cache_t **out)
{
    mtls_cache_t *c = apr_pcalloc(p, sizeof(*c));
    const char *err;

    *out = NULL;
    c->name = apr_pstrdup(p, name);
    c->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name,
                                     AP_SOCACHE_PROVIDER_VERSION);
    if (!c->provider) {
        return apr_psprintf(p, "unknown cache provider '%s' (is "
                            "mod_socache_%s loaded?)", name, name);
    }
    err = c->provider->create(&c->instance, args, ptemp, p);
    if (err) {
        return apr_psprintf(p, "cache %s: %s", name, err);
    }
    *out = c;
    return NULL;
}

const char *mtls_cache_configure(cmd_parms *cmd, const char *arg,
                                 mtls_cache_t **out)
{
    const char *colon = strchr(arg, ':');
    const char *name = colon ? apr_pstrmemdup(cmd->temp_pool, arg,
                                              colon - arg) : arg;

    *out = NULL;
    if (!strcasecmp(arg, "none")) {
        return NULL;
    }
    return create(cmd->pool, cmd->temp_pool, name, colon ? colon + 1 : NULL,
                  out);
}

mtls_cache_t *mtls_cache_default(apr_pool_t *pconf, apr_pool_t *ptemp,
                                 server_rec *s)
{
    mtls_cache_t *c;
    const char *err = create(pconf, ptemp, "shmcb", NULL, &c);

    if (err) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "MTLS2001: no directory cache: %s; set MTLSCache (or "
                     "MTLSCache none to silence this)", err);
        return NULL;
    }
    return c;
}

void mtls_cache_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

apr_status_t mtls_cache_init(mtls_cache_t *c, apr_pool_t *pconf,
                             apr_pool_t *ptemp, server_rec *s)
{
    struct ap_socache_hints hints = {
        .avg_id_len = 100, .avg_obj_size = 256, .expiry_interval = 30
    };
    apr_status_t rv;

    if (c->provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        rv = ap_global_mutex_create(&c->mutex, NULL, MUTEX_TYPE, NULL, s,
                                    pconf, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         "MTLS2002: cannot create the cache mutex");
            return rv;
        }
    }
    rv = c->provider->init(c->instance, "mtls-authz", &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "MTLS2003: cannot initialise the %s cache", c->name);
        return rv;
    }
    c->server = s;
    apr_pool_cleanup_register(pconf, c, cache_destroy, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

/* ---- the front ------------------------------------------------------ */

static void unlink_locked(front_t *f, front_entry_t *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    }
    else {
        f->oldest = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    }
    else {
        f->newest = e->prev;
    }
    apr_hash_set(f->index, e->key, APR_HASH_KEY_STRING, NULL);
    f->count--;
    f->bytes -= e->len;
    free(e);
}

/* With the child: give every entry back. */
static apr_status_t front_destroy(void *data)
{
    front_t *f = data;

    while (f->oldest) {
        unlink_locked(f, f->oldest);
    }
    return APR_SUCCESS;
}

static front_t *front_create(apr_pool_t *p, server_rec *s)
{
    front_t *f = apr_pcalloc(p, sizeof(*f));

    if (apr_thread_mutex_create(&f->lock, APR_THREAD_MUTEX_DEFAULT, p)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "MTLS7000: cannot create the lock of the cache's "
                     "per-process front: every lookup asks the cache");
        return NULL;
    }
    f->index = apr_hash_make(p);
    apr_pool_cleanup_register(p, f, front_destroy, apr_pool_cleanup_null);
    return f;
}

/* The value kept for @p key, copied into @p p, or NULL. */
static const char *front_get(front_t *f, const char *key, apr_pool_t *p,
                             apr_size_t *len)
{
    front_entry_t *e;
    char *v = NULL;

    apr_thread_mutex_lock(f->lock);
    if ((e = apr_hash_get(f->index, key, APR_HASH_KEY_STRING))) {
        if (apr_time_now() < e->until) {
            v = apr_palloc(p, e->len + 1);
            memcpy(v, e->value, e->len + 1);
            *len = e->len;
        }
        else {
            unlink_locked(f, e);
        }
    }
    apr_thread_mutex_unlock(f->lock);
    return v;
}

void mtls_cache_keep(mtls_cache_t *c, const char *key, const char *value,
                     apr_size_t len, apr_time_t fresh_until)
{
    front_t *f = c->front;
    apr_time_t now = apr_time_now(), bound;
    apr_size_t klen = strlen(key) + 1;
    front_entry_t *e, *old;
    char *block;

    bound = now + apr_time_from_sec(MTLS_CACHE_FRONT_SECONDS);
    if (!f || fresh_until <= now || len > MTLS_CACHE_FRONT_BYTES / 16) {
        return;
    }
    if (!(e = malloc(sizeof(*e) + klen + len + 1))) {
        return;
    }
    block = (char *)(e + 1);
    memcpy(block, key, klen);
    memcpy(block + klen, value, len);
    block[klen + len] = '\0';
    e->key = block;
    e->value = block + klen;
    e->len = len;
    e->until = fresh_until < bound ? fresh_until : bound;
    e->next = NULL;
    apr_thread_mutex_lock(f->lock);
    if ((old = apr_hash_get(f->index, key, APR_HASH_KEY_STRING))) {
        unlink_locked(f, old);
    }
    /* Full: the oldest go first (they expire first, give or take the
     * TTLs of their scopes). */
    while (f->oldest && (f->count >= MTLS_CACHE_FRONT_ENTRIES
                         || f->bytes + len > MTLS_CACHE_FRONT_BYTES)) {
        unlink_locked(f, f->oldest);
    }
    e->prev = f->newest;
    if (f->newest) {
        f->newest->next = e;
    }
    else {
        f->oldest = e;
    }
    f->newest = e;
    apr_hash_set(f->index, e->key, APR_HASH_KEY_STRING, e);
    f->count++;
    f->bytes += len;
    apr_thread_mutex_unlock(f->lock);
}

void mtls_cache_child_init(mtls_cache_t *c, apr_pool_t *p, server_rec *s)
{
    if (c->mutex) {
        apr_status_t rv = apr_global_mutex_child_init(
            &c->mutex, apr_global_mutex_lockfile(c->mutex), p);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         "MTLS2004: cannot re-attach the cache mutex");
        }
    }
    /* shmcb is this host's shared memory already: a copy saves nothing. */
    c->front = strcmp(c->name, "shmcb") ? front_create(p, s) : NULL;
}

apr_status_t mtls_cache_get(mtls_cache_t *c, server_rec *s, const char *key,
                            apr_pool_t *p, const char **value,
                            apr_size_t *len, int *kept)
{
    unsigned int n = MTLS_CACHE_MAX_VALUE;
    unsigned char *buf;
    apr_status_t rv;

    *kept = 0;
    if (c->front && (*value = front_get(c->front, key, p, len))) {
        *kept = 1;
        return APR_SUCCESS;
    }
    buf = apr_palloc(p, n + 1);

    if (c->mutex && (rv = apr_global_mutex_lock(c->mutex)) != APR_SUCCESS) {
        return rv;
    }
    rv = c->provider->retrieve(c->instance, s, (const unsigned char *)key,
                               strlen(key), buf, &n, p);
    if (c->mutex) {
        apr_global_mutex_unlock(c->mutex);
    }
    if (rv == APR_SUCCESS) {
        buf[n] = '\0';
        *value = (const char *)buf;
        *len = n;
    }
    return rv;
}

apr_status_t mtls_cache_put(mtls_cache_t *c, server_rec *s, const char *key,
                            apr_time_t expiry, const char *value,
                            apr_size_t len, apr_pool_t *p)
{
    apr_status_t rv;

    if (len > MTLS_CACHE_MAX_VALUE) {
        return APR_ENOSPC;
    }
    if (c->mutex && (rv = apr_global_mutex_lock(c->mutex)) != APR_SUCCESS) {
        return rv;
    }
    rv = c->provider->store(c->instance, s, (const unsigned char *)key,
                            strlen(key), expiry, (unsigned char *)value,
                            len, p);
    if (c->mutex) {
        apr_global_mutex_unlock(c->mutex);
    }
    return rv;
}

const char *mtls_cache_name(const mtls_cache_t *c)
{
    return c->name;
}
