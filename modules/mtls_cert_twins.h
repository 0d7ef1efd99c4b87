/* ECDSA signature twins of a certificate (mtls_cert_twins.c), and the
 * hex helper the two certificate units share. */
#ifndef MTLS_CERT_TWINS_H
#define MTLS_CERT_TWINS_H

#include <openssl/x509.h>
#include "mtls_cert.h"

/** @p n bytes of @p d as lower-case hex, from @p p. */
const char *mtls_hex_lower(apr_pool_t *p, const unsigned char *d,
                           unsigned int n);

/** Notes in @p c the sha256 of each twin of @p x: the same certificate
 *  with its ECDSA signature (r, s) re-encoded as (r, n - s) for the curve
 *  orders CAs sign with, so a deny list names it by any of them. */
void mtls_cert_ecdsa_twins(apr_pool_t *p, X509 *x, mtls_cert_t *c);

#endif /* MTLS_CERT_TWINS_H */
