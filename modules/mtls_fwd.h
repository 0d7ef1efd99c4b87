/* Certificates forwarded in a header by a TLS-terminating proxy: the
 * module's own chain verification of what mtls_fwdfmt.h decoded (the
 * results are kept in an mtls_lru.h cache by mtls_proxy_peer.c).
 * Pure: knows nothing of httpd (APR and OpenSSL only), unit-tested. */
#ifndef MTLS_FWD_H
#define MTLS_FWD_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <openssl/x509.h>

#include "mtls_fwdfmt.h"

/**
 * Load the CA certificates (PEM) that forwarded certificates must chain
 * to.  The store is freed with @p p.  Returns NULL or an error message.
 */
const char *mtls_fwd_load_cas(apr_pool_t *p, const char *file,
                              X509_STORE **out);

/**
 * Load PEM CRLs (at least one).  Freed with @p p.  Returns NULL or an
 * error message.
 */
const char *mtls_fwd_load_crls(apr_pool_t *p, const char *file,
                               STACK_OF(X509_CRL) **out);

/**
 * Verify @p certs (from mtls_fwd_decode, not empty) as a TLS server
 * verifies a client: chain to @p store through the forwarded
 * intermediates, at most @p depth intermediates (as SSLVerifyDepth), the
 * clientAuth purpose, validity at @p now, and when @p crls is not NULL
 * the certificate's revocation.  Returns the parsed certificate (to be
 * freed with X509_free) with @p verify_error NULL when it verified, the
 * certificate and OpenSSL's text in @p verify_error when it did not, or
 * NULL and the reason in @p verify_error when it does not even parse.
 */
X509 *mtls_fwd_verify(apr_pool_t *p, X509_STORE *store,
                      STACK_OF(X509_CRL) *crls, int depth,
                      const apr_array_header_t *certs, apr_time_t now,
                      const char **verify_error);

#endif /* MTLS_FWD_H */
