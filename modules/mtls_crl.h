/* CRLs for MTLSCRL: PEM CRLs, each verified against the CA certificates
 * of a CA file, indexed by issuer and serial so that a lookup is one hash
 * probe whatever the number of revoked certificates.  Pure: knows nothing
 * of httpd; the OpenSSL objects live only while a file is parsed. */
#ifndef MTLS_CRL_H
#define MTLS_CRL_H

#include <apr_pools.h>
#include <apr_time.h>
#include "mtls_cert.h"

typedef enum {
    MTLS_CRL_GOOD = 0,     /* a CRL of the issuer is current, not listed */
    MTLS_CRL_REVOKED,      /* listed by a CRL of the issuer */
    MTLS_CRL_STALE,        /* not listed, but every CRL of the issuer is
                            * past its nextUpdate */
    MTLS_CRL_UNCOVERED     /* no CRL of this issuer in the file */
} mtls_crl_status_e;

typedef struct mtls_crl_set_t mtls_crl_set_t;

/**
 * Parse the PEM CRLs in @p crl_text (named @p crl_name in errors) and
 * check each against the certificates in @p ca_text (@p ca_name): a CA
 * whose subject is the CRL's issuer must verify its signature.  Text
 * outside the PEM blocks is ignored.  Returns NULL and sets @p out, or
 * "crl_name:line: what is wrong" (the line of the CRL's BEGIN marker).
 */
const char *mtls_crl_parse(apr_pool_t *p, const char *crl_name,
                           const char *crl_text, const char *ca_name,
                           const char *ca_text, mtls_crl_set_t **out);

/**
 * The status of @p c (its issuer DN and serial) at @p now.  A revoked
 * certificate is MTLS_CRL_REVOKED even in a stale CRL.  When
 * @p next_update is not NULL it receives the issuer's nextUpdate (0 when
 * uncovered or the CRLs give none): the time the answer may change.
 */
mtls_crl_status_e mtls_crl_check(const mtls_crl_set_t *s,
                                 const mtls_cert_t *c, apr_time_t now,
                                 apr_time_t *next_update);

/** The number of CRLs and of revoked entries in @p s. */
int mtls_crl_count(const mtls_crl_set_t *s, int *entries);

/** The status's name for logs ("good", "revoked", "stale", "uncovered"). */
const char *mtls_crl_status_name(mtls_crl_status_e st);

#endif /* MTLS_CRL_H */
