/* Certificates forwarded in a header by a TLS-terminating proxy: the
 * header formats (RFC 9440, Envoy's XFCC, URL-encoded PEM, base64 DER),
 * decoded into DER without parsing it (mtls_fwd.h verifies).  Pure:
 * APR only, so every parser is unit-tested and fuzzed. */
#ifndef MTLS_FWDFMT_H
#define MTLS_FWDFMT_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef enum {
    MTLS_FWD_RFC9440 = 0,        /* Client-Cert: :BASE64-DER: (+ -Chain) */
    MTLS_FWD_XFCC,               /* Envoy: Cert="URL-PEM";Chain="URL-PEM" */
    MTLS_FWD_PEM_URLENCODED,     /* nginx $ssl_client_escaped_cert */
    MTLS_FWD_DER_BASE64,         /* Traefik, Cloudflare: base64 DER[,...] */
    MTLS_FWD_FORMAT_COUNT
} mtls_fwd_format_e;

/* Bounds on what a header may carry: larger is refused, never cut. */
#define MTLS_FWD_MAX_DER    16384   /* bytes of one certificate */
#define MTLS_FWD_MAX_CERTS  10      /* the certificate and its chain */

/* One certificate as DER. */
typedef struct {
    const unsigned char *der;
    apr_size_t len;
} mtls_der_t;

/** The format named @p name (case-insensitive), or -1. */
int mtls_fwd_format_parse(const char *name);

/** The configuration name of @p f ("rfc9440", ...). */
const char *mtls_fwd_format_name(mtls_fwd_format_e f);

/**
 * Decode what the proxy sent: @p value is the certificate header's value,
 * @p chain the chain header's (rfc9440 only; NULL when absent).  On
 * success @p certs holds the certificate first, then the chain, as
 * mtls_der_t; it is empty when the proxy said it had no certificate (an
 * empty value, RFC 9440's "::", an XFCC element without Cert).  DER is
 * only split here, not parsed (mtls_fwd_verify does that).  On failure
 * returns APR_EINVAL and sets @p err to a sentence for the log and the
 * error page.
 */
apr_status_t mtls_fwd_decode(apr_pool_t *p, mtls_fwd_format_e f,
                             const char *value, const char *chain,
                             apr_array_header_t **certs, const char **err);

#endif /* MTLS_FWDFMT_H */
