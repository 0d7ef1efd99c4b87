/* The directory as a source of identities (SPEC §4, §5): its directives,
 * the lookup of the entry behind a certificate with its groups, the shared
 * cache in front of it, and the outage policy.  httpd glue over the pure
 * filter templates (mtls_ldapfilter), the libldap client (mtls_ldap) and
 * the socache wrapper (mtls_cache). */
#ifndef MTLS_DIRECTORY_H
#define MTLS_DIRECTORY_H

#include "httpd.h"
#include "http_config.h"
#include "mtls_cert.h"
#include "mtls_resolve.h"
#include "mtls_dirfmt.h"   /* mtls_dir_answer_t */

typedef struct mtls_directory_conf_t mtls_directory_conf_t;


/**
 * Ask the directory configured by @p conf (cache first) about @p cert,
 * whose user from earlier sources is @p user (may be NULL); {sid} has a
 * value only when @p sid_trusted.  The answer is allocated from @p p;
 * nothing is cached for MTLS_DIR_DOWN.
 */
void mtls_directory_lookup(request_rec *r, const mtls_directory_conf_t *conf,
                           const mtls_cert_t *cert, const char *user,
                           int sid_trusted, apr_pool_t *p,
                           mtls_dir_answer_t *out);

/**
 * Fill @p asker so that mtls_resolve_ask() asks the directory of @p conf
 * (through the cache) for @p r.
 */
void mtls_directory_asker(request_rec *r, const mtls_directory_conf_t *conf,
                          mtls_asker_t *asker);

/** True when an outage answers 403 (MTLSLDAPOnError deny), not 503. */
int mtls_directory_on_error_deny(const mtls_directory_conf_t *conf);

/** The seconds a client is told to wait (Retry-After) after an outage. */
int mtls_directory_retry_after(const mtls_directory_conf_t *conf);

/** True when @p conf names a directory (MTLSLDAPURL is set). */
int mtls_directory_enabled(const mtls_directory_conf_t *conf);

/** 32 bytes that change with every setting that can change an answer. */
const unsigned char *mtls_directory_digest(const mtls_directory_conf_t *conf);

/** Merge two scopes' settings (either may be NULL). */
mtls_directory_conf_t *mtls_directory_merge(apr_pool_t *p,
                                            mtls_directory_conf_t *base,
                                            mtls_directory_conf_t *add);

/* Which directive mtls_directory_cmd() handles (its cmd->info). */
typedef enum {
    MTLS_DC_URL = 1, MTLS_DC_BIND_DN, MTLS_DC_BIND_PW, MTLS_DC_USER_FILTER,
    MTLS_DC_GROUP_BASE, MTLS_DC_GROUP_FILTER, MTLS_DC_GROUP_NAME,
    MTLS_DC_NESTED, MTLS_DC_MEMBER_OF, MTLS_DC_TIMEOUT, MTLS_DC_CA,
    MTLS_DC_ON_ERROR, MTLS_DC_CACHE, MTLS_DC_TTL, MTLS_DC_NEG_TTL,
    MTLS_DC_MAX_STALE
} mtls_dir_directive_e;

/** The directive handler behind every MTLSLDAP* and MTLSCache* directive
 *  (@p dc is the mtls_dir_conf_t of the scope, @p a2 only for
 *  MTLSLDAPURL's STARTTLS). */
const char *mtls_directory_cmd(cmd_parms *cmd, void *dc, const char *a1,
                               const char *a2);

/** The same for the one-argument directives. */
const char *mtls_directory_cmd1(cmd_parms *cmd, void *dc, const char *a1);

/** Register the pre_config, post_config and child_init hooks. */
void mtls_directory_register_hooks(apr_pool_t *p);

#endif /* MTLS_DIRECTORY_H */
