/* Configuration: per-directory and per-server records, their defaults and
 * merging, and the directive handlers the directive table points at. */
#ifndef MTLS_CONFIG_H
#define MTLS_CONFIG_H

#include "httpd.h"
#include "http_config.h"

/* A watched file (mtls_reload.h); opaque here, so that configuration
 * does not depend on the unit that reads files. */
typedef struct mtls_watched_t mtls_watched_t;
#include "mtls_headers.h"

typedef enum {
    MTLS_MODE_ENFORCE = 0,
    MTLS_MODE_REPORT = 1
} mtls_mode_e;

/* Unset values are -1 / NULL so that merging can tell "inherit" from a
 * value that happens to equal the default. */
typedef struct {
    apr_array_header_t *user_rules;    /* of mtls_rule_t *, MTLSUserFrom */
    apr_array_header_t *group_rules;   /* of mtls_rule_t *, MTLSGroupFrom */
    mtls_watched_t *map_file;
    mtls_watched_t *group_file;
    mtls_watched_t *deny_list;
    mtls_watched_t *crl;               /* MTLSCRL: an mtls_crl_set_t */
    int files_set;                     /* bit per file: set here ("none" too) */
    struct mtls_directory_conf_t *directory;  /* MTLSLDAP*, MTLSCache* */
    apr_array_header_t *sid_issuers;   /* canonical DNs, MTLSTrustSIDFrom */
    int require_strong;
    int error_detail;
    int mode;
    mtls_hdr_dir_t *headers;           /* MTLSRequestHeader & co, or NULL */
    struct mtls_proxy_conf_t *proxy;   /* MTLSTrustedProxy, MTLSProxy* */
    int crl_stale_deny;                /* MTLSCRLStale */
    int stable;                        /* lives as long as the configuration
                                        * (not .htaccess, not a request's
                                        * merge): its merges can be kept */
} mtls_dir_conf_t;

typedef struct {
    apr_interval_time_t reload_interval;
    mtls_hdr_srv_t *headers;           /* names stripped host-wide, or NULL */
    struct mtls_proxy_names_t *proxy_names;   /* forwarded-certificate
                                        * header names of the host, or NULL */
} mtls_srv_conf_t;

#define MTLS_SET_MAP   1
#define MTLS_SET_GROUP 2
#define MTLS_SET_DENY  4
#define MTLS_SET_CRL   8

/* Defaults, in one place. */
#define MTLS_DEFAULT_RELOAD_INTERVAL apr_time_from_sec(5)

/** MTLSRequireStrength in force: true for strong. */
int mtls_conf_require_strong(const mtls_dir_conf_t *dc);

/** MTLSErrorDetail in force (default off). */
int mtls_conf_error_detail(const mtls_dir_conf_t *dc);

/** MTLSMode in force (default enforce). */
mtls_mode_e mtls_conf_mode(const mtls_dir_conf_t *dc);

/** MTLSCRLStale in force: true for deny (default allow). */
int mtls_conf_crl_stale_deny(const mtls_dir_conf_t *dc);

/** MTLSReloadInterval of @p s (default 5 s). */
apr_interval_time_t mtls_conf_reload_interval(const server_rec *s);

/** True when the scope maps certificates at all (so variables are set). */
int mtls_conf_maps(const mtls_dir_conf_t *dc);

/** The per-directory record in force for @p r. */
const mtls_dir_conf_t *mtls_dir_conf(const request_rec *r);

/** Merges of records that live as long as the configuration are made
 *  once per child process from child_init on (mtls_mergecache.h). */
void mtls_config_register_hooks(apr_pool_t *p);

/** A per-directory record with everything unset. */
void *mtls_create_dir_conf(apr_pool_t *p, char *dir);

/** @p add over @p base: what a nested section sets wins; rule lists and
 *  files are replaced as a whole. */
void *mtls_merge_dir_conf(apr_pool_t *p, void *base, void *add);

/** A per-server record with everything unset. */
void *mtls_create_srv_conf(apr_pool_t *p, server_rec *s);

/** @p add over @p base, per server. */
void *mtls_merge_srv_conf(apr_pool_t *p, void *base, void *add);

/** MTLSUserFrom FIELD [REGEX TEMPLATE]: compiles and appends a rule. */
const char *mtls_cmd_user_from(cmd_parms *cmd, void *dc, const char *field,
                               const char *regex, const char *tmpl);

/** MTLSGroupFrom FIELD [REGEX TEMPLATE]: compiles and appends a rule. */
const char *mtls_cmd_group_from(cmd_parms *cmd, void *dc, const char *field,
                                const char *regex, const char *tmpl);

/** MTLSTrustSIDFrom ISSUER-DN...: the CAs whose AD SIDs count as strong. */
const char *mtls_cmd_trust_sid_from(cmd_parms *cmd, void *dc,
                                    const char *dn);

/** MTLSRequireStrength weak|strong. */
const char *mtls_cmd_require_strength(cmd_parms *cmd, void *dc,
                                      const char *arg);

/** MTLSErrorDetail on|off. */
const char *mtls_cmd_error_detail(cmd_parms *cmd, void *dc, int on);

/** MTLSMode enforce|report. */
const char *mtls_cmd_mode(cmd_parms *cmd, void *dc, const char *arg);

/** MTLSCRLStale allow|deny. */
const char *mtls_cmd_crl_stale(cmd_parms *cmd, void *dc, const char *arg);

/** MTLSReloadInterval SECONDS (main server only, 1-86400). */
const char *mtls_cmd_reload_interval(cmd_parms *cmd, void *dummy,
                                     const char *arg);

#endif /* MTLS_CONFIG_H */
