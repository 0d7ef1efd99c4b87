/* Client certificates forwarded by a trusted TLS-terminating proxy
 * (SPEC §12): which peers are believed (MTLSTrustedProxy), where and how
 * they send the certificate (MTLSProxyCertHeader), the module's own
 * verification of it (MTLSProxyCertCA, MTLSProxyCRL,
 * MTLSProxyVerifyDepth), and removing the header from every request
 * before handlers and backends see it.  A forwarded certificate becomes
 * a peer like the one mod_ssl reports, per request: one proxy connection
 * carries many clients. */
#ifndef MTLS_PROXY_H
#define MTLS_PROXY_H

#include "httpd.h"
#include "http_config.h"
#include "mtls_identity.h"

typedef struct mtls_proxy_conf_t mtls_proxy_conf_t;

/* Every forwarded-certificate header name configured for a host
 * (MTLSProxyCertHeader anywhere in it, or in the main server): removed
 * from every request of the host, also in scopes that do not read them. */
typedef struct mtls_proxy_names_t mtls_proxy_names_t;

/** The names of @p base and of @p add (either may be NULL). */
mtls_proxy_names_t *mtls_proxy_names_merge(apr_pool_t *p,
                                           const mtls_proxy_names_t *base,
                                           const mtls_proxy_names_t *add);

/** Merge a scope's proxy settings into its parent's (either may be
 *  NULL): each setting made in @p add wins, the rest is inherited. */
mtls_proxy_conf_t *mtls_proxy_merge(apr_pool_t *p,
                                    const mtls_proxy_conf_t *base,
                                    const mtls_proxy_conf_t *add);

/**
 * Remove the forwarded-certificate headers of @p pc (NULL: none
 * configured) from @p r in every spelling ('_' for '-', any case), and
 * keep a trusted proxy's values aside for mtls_proxy_peer; nobody else's
 * is even looked at (a rate-limited warning names the peer).  The other
 * names of the host, @p all (may be NULL), are removed unread.  To be
 * called before any handler, proxy or module reads the request.
 * Returns DECLINED.
 */
int mtls_proxy_scrub(request_rec *r, const mtls_proxy_conf_t *pc,
                     const mtls_proxy_names_t *all);

/**
 * The peer whose certificate a trusted proxy forwarded for @p r, given
 * @p tls, the peer of the connection itself.  NULL when the connection's
 * own peer stands: no forwarding configured here, the peer is not a
 * trusted proxy, or a direct TLS client certificate came (it wins).  A
 * trusted proxy that forwarded nothing gives a peer without certificate
 * whose hint names the setting to check.  Forwarded certificates are
 * verified once and then remembered, by their hash, in a per-process
 * LRU.  @p keep is set to 0 when the answer holds only for now: the
 * proxy is trusted here but its header has not been read yet (an
 * expression evaluated before the header parser); the peer is then one
 * without certificate, never the connection's own.
 */
const mtls_peer_t *mtls_proxy_peer(request_rec *r,
                                   const mtls_proxy_conf_t *pc,
                                   const mtls_peer_t *tls, int *keep);

/**
 * What was remembered with the forwarded certificate of @p r under
 * @p key (by mtls_proxy_memo_put, in any request, while the cache keeps
 * the certificate) and has not expired at the request's time, or NULL.
 */
const void *mtls_proxy_memo_get(request_rec *r, const void *key,
                                apr_size_t klen);

/**
 * Remember @p value with the forwarded certificate of @p r under @p key
 * until @p expires, for the later requests of any client with that
 * certificate: @p copy copies it (under a lock) into memory that lives as
 * long as the cache entry; an expired value is replaced.  Returns what is
 * remembered under @p key now, or NULL (the request has no cached
 * forwarded certificate, @p expires has passed, or its slots are taken).
 */
const void *mtls_proxy_memo_put(request_rec *r, const void *key,
                                apr_size_t klen,
                                const void *(*copy)(apr_pool_t *p,
                                                    const void *value),
                                const void *value, apr_time_t expires);

/* Directive handlers (the directive table is in mod_mtls_authz.c): each
 * directive's cmd_data is the offset of the mtls_proxy_conf_t pointer in
 * the per-directory record. */
const char *mtls_cmd_trusted_proxy(cmd_parms *cmd, void *dc,
                                   const char *arg);
const char *mtls_cmd_proxy_cert_header(cmd_parms *cmd, void *dc,
                                       const char *name, const char *format,
                                       const char *chain);
const char *mtls_cmd_proxy_cert_ca(cmd_parms *cmd, void *dc,
                                   const char *file);
const char *mtls_cmd_proxy_crl(cmd_parms *cmd, void *dc, const char *file);
const char *mtls_cmd_proxy_verify_depth(cmd_parms *cmd, void *dc,
                                        const char *arg);

/** Register the per-process cache (the hook that calls mtls_proxy_scrub
 *  is the identity unit's, which knows the per-directory record). */
void mtls_proxy_register_hooks(apr_pool_t *p);

#endif /* MTLS_PROXY_H */
