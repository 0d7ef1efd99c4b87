/* A client certificate as mod_ssl reports it, made into a peer
 * (mtls_peer.c): parsed once per process and certificate, refused when a
 * verified certificate cannot be read, and seen per request as not
 * verified once outside its validity. */
#ifndef MTLS_PEER_H
#define MTLS_PEER_H

#include "httpd.h"
#include <openssl/x509.h>

#include "mtls_identity.h"

/**
 * The peer for mod_ssl's @p verify (SSL_CLIENT_VERIFY) and certificate,
 * @p x509 or, when the SSL is not known, its @p pem, allocated in @p p
 * (the connection state's pool, its mutex held by the caller).
 */
mtls_peer_t *mtls_peer_make(request_rec *r, apr_pool_t *p,
                            const char *verify, X509 *x509, const char *pem);

/**
 * @p peer as @p r sees it: a certificate that was valid at the handshake
 * but is outside its validity now (a long connection, a resumed session,
 * a remembered forwarded certificate) is not verified, with the date in
 * the detail.  @p peer itself is never changed.
 */
const mtls_peer_t *mtls_peer_still_valid(request_rec *r,
                                         const mtls_peer_t *peer);

/** Register the child_init hook that makes the per-process cache. */
void mtls_peer_register_hooks(apr_pool_t *p);

#endif /* MTLS_PEER_H */
