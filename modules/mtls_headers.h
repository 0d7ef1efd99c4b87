/* Identity headers for backends (SPEC §9): MTLSRequestHeader,
 * MTLSRequestHeaders standard, MTLSStripHeader and MTLSHeaderSignature.
 * Every configured name (any case, '_' for '-') is removed from what the
 * client sent before anything reads it; the values the module sets come
 * from the identity only, in fixups, before mod_rewrite, mod_headers,
 * mod_proxy and CGI look at the request. */
#ifndef MTLS_HEADERS_H
#define MTLS_HEADERS_H

#include "httpd.h"
#include "http_config.h"

/* A scope's header settings (hangs off mtls_dir_conf_t). */
typedef struct mtls_hdr_dir_t mtls_hdr_dir_t;

/* The names a virtual host strips from every request (hangs off
 * mtls_srv_conf_t): the union of every scope's in that host. */
typedef struct mtls_hdr_srv_t mtls_hdr_srv_t;

/** Merge two scopes' settings (either may be NULL); cheap when only one
 *  of them sets anything. */
mtls_hdr_dir_t *mtls_headers_merge_dir(apr_pool_t *p,
                                       mtls_hdr_dir_t *base,
                                       mtls_hdr_dir_t *add);

/** Merge a virtual host's strip set with the main server's. */
mtls_hdr_srv_t *mtls_headers_merge_srv(apr_pool_t *p,
                                       mtls_hdr_srv_t *base,
                                       mtls_hdr_srv_t *add);

/** MTLSRequestHeader NAME FIELD. */
const char *mtls_cmd_request_header(cmd_parms *cmd, void *dc,
                                    const char *name, const char *field);

/** MTLSRequestHeaders standard|off. */
const char *mtls_cmd_request_headers(cmd_parms *cmd, void *dc,
                                     const char *arg);

/** MTLSStripHeader GLOB (ITERATE: called once per argument). */
const char *mtls_cmd_strip_header(cmd_parms *cmd, void *dc,
                                  const char *glob);

/** MTLSHeaderSignature NAME KEYFILE. */
const char *mtls_cmd_header_signature(cmd_parms *cmd, void *dc,
                                      const char *name, const char *path);

/** Register the strip (post_read_request) and set (fixups) hooks. */
void mtls_headers_register_hooks(apr_pool_t *p);

#endif /* MTLS_HEADERS_H */
