/* What the parts of the directory source share (mtls_directory.c: the
 * settings and hooks; mtls_directory_lookup.c: cache, then directory;
 * mtls_directory_groups.c: the group searches).  Not for other units:
 * they use mtls_directory.h. */
#ifndef MTLS_DIRECTORY_PRIVATE_H
#define MTLS_DIRECTORY_PRIVATE_H

#include "apr_hash.h"
#include "apr_thread_mutex.h"

#include "mtls_directory.h"
#include "mtls_ldap.h"
#include "mtls_ldapfilter.h"
#include "mtls_cache.h"

/* Defaults, in one place. */
#define MTLS_LDAP_DEFAULT_TIMEOUT      5
#define DEFAULT_TTL          apr_time_from_sec(300)
#define DEFAULT_NEG_TTL      apr_time_from_sec(30)
#define DEFAULT_MAX_STALE    0
#define DEFAULT_GROUP_NAME   "cn"
#define MAX_NESTED           10
#define USERDATA_KEY         "mtls_authz-directory"

/* Settings of one scope.  Unset is NULL / -1; what is derived (the digest
 * that keys cached answers, the connection settings) is recomputed after
 * every directive and every merge, never at request time. */
struct mtls_directory_conf_t {
    const char *url_text;
    const mtls_ldap_url_t *url;
    const char *bind_dn;
    const char *bind_pw;
    const mtls_ldapfilter_t *user_filter;
    const mtls_ldapfilter_t *effective_user_filter;  /* derived */
    const char *group_base;
    const mtls_ldapfilter_t *group_filter;
    const char *group_name;
    int nested;
    int member_of;
    int timeout;
    const char *ca_file;
    int on_error_deny;
    apr_interval_time_t ttl, neg_ttl, max_stale;
    /* derived */
    mtls_ldap_settings_t settings;
    const char *conn_key;     /* what a pooled connection depends on */
    unsigned char digest[32]; /* what an answer depends on */
};

/* One per server (the main server's), in the configuration pool's
 * userdata; the per-child part is made in child_init. */
typedef struct {
    mtls_cache_t *cache;
    int cache_set;             /* MTLSCache was given ("none" too) */
    int used;                  /* some scope names a directory */
    apr_pool_t *child_pool;
    apr_thread_mutex_t *lock;  /* guards pools */
    apr_hash_t *pools;         /* conn_key -> mtls_ldap_pool_t * */
    int max_conns;
} mtls_dir_runtime_t;

/** The directory's process state for the configuration @p pconf. */
mtls_dir_runtime_t *mtls_dir_runtime(apr_pool_t *pconf);

/** How long an answer of @p c holds: found (MTLSCacheTTL) or not found
 *  (MTLSCacheNegativeTTL). */
apr_interval_time_t mtls_dir_ttl(const mtls_directory_conf_t *c, int found);

/** How long past its TTL an answer may serve in an outage. */
apr_interval_time_t mtls_dir_max_stale(const mtls_directory_conf_t *c);

/**
 * The groups of the entry @p dn (user @p user): those of @p member_of,
 * then the group search, then MTLSLDAPNestedGroups levels of groups
 * holding those; each name once into @p out (from @p p).  @p err says
 * why when the directory could not answer.
 */
mtls_ldap_result_e mtls_dir_find_groups(request_rec *r,
                                        mtls_ldap_pool_t *pool,
                                        const mtls_directory_conf_t *c,
                                        const char *dn, const char *user,
                                        apr_pool_t *p,
                                        apr_array_header_t *member_of,
                                        apr_array_header_t *out,
                                        const char **err);

#endif /* MTLS_DIRECTORY_PRIVATE_H */
