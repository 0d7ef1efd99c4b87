/* Parsed client certificates, per process (mtls_certcache.c): the facts
 * of a certificate (mtls_cert.h) are read once per process and shared by
 * every connection that presents it, so a client that opens a new TLS
 * connection per request (or a browser's parallel connections) costs a
 * lookup instead of a parse.  Keyed by the certificate's DER, compared
 * in full.  Pure: APR and OpenSSL only, unit-tested. */
#ifndef MTLS_CERTCACHE_H
#define MTLS_CERTCACHE_H

#include <apr_pools.h>
#include <openssl/x509.h>

#include "mtls_cert.h"

typedef struct mtls_certcache_t mtls_certcache_t;

/**
 * A cache of at most @p slots parsed certificates, least recently used
 * evicted first, safe to use from several threads; lives as long as
 * @p p.
 */
apr_status_t mtls_certcache_create(apr_pool_t *p, int slots,
                                   mtls_certcache_t **out);

/**
 * The facts of @p x, from the cache or parsed now (and kept): never to
 * be changed, valid as long as @p holder (the cache entry is held until
 * @p holder is cleared or destroyed).  @p parsed (may be NULL) says
 * whether this call parsed it.  A certificate that does not parse is not
 * kept: APR_EGENERAL and the reason in @p err, every time.
 */
apr_status_t mtls_certcache_get(mtls_certcache_t *cc, apr_pool_t *holder,
                                X509 *x, const mtls_cert_t **out,
                                int *parsed, const char **err);

/** Certificates in the cache now. */
int mtls_certcache_count(mtls_certcache_t *cc);

#endif /* MTLS_CERTCACHE_H */
