/* Header formatting: how identity values become request-header values a
 * backend can parse and trust (SPEC §9).  Header-safe text (RFC 4514 \XX
 * escapes, never CR, LF or NUL), lists, RFC 9440 byte sequences, Envoy's
 * x-forwarded-client-cert, nginx's escaped PEM, header-name matching for
 * the anti-spoofing strip.  The signature is mtls_hdrsign.h's.  Pure:
 * knows nothing of httpd. */
#ifndef MTLS_HDRFMT_H
#define MTLS_HDRFMT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "mtls_cert.h"

/* The longest value the module sets: with the name it stays within
 * httpd's (and most servers') default 8190-byte header line limit, so a
 * backend never refuses the request because of us. */
#define MTLS_HDR_MAX_VALUE 7900

/**
 * A single value made header-safe: every byte outside printable ASCII
 * (0x20-0x7E) becomes RFC 4514 "\XX" (upper-case hex).  Returns @p v
 * itself when nothing needed escaping.
 */
const char *mtls_hdr_safe(apr_pool_t *p, const char *v);

/**
 * A list for a header: items joined with ", "; an item holding ',', '"'
 * or '\' is quoted with '\' before '"' and '\'; bytes outside printable
 * ASCII become "\XX" as in mtls_hdr_safe().  Empty items are skipped.
 * NULL when no item is left.
 */
const char *mtls_hdr_list(apr_pool_t *p, const apr_array_header_t *items);

/** An RFC 9440 / RFC 8941 byte sequence: ":" base64(@p der) ":". */
const char *mtls_hdr_byteseq(apr_pool_t *p, const unsigned char *der,
                             apr_size_t len);

/**
 * The PEM text of a DER certificate (64-column base64 between the
 * BEGIN/END lines, each line ended by "\n"), URL-encoded as nginx's
 * $ssl_client_escaped_cert: everything but ALPHA, DIGIT, '-', '.', '_'
 * and '~' as %XX.
 */
const char *mtls_hdr_pem_escaped(apr_pool_t *p, const unsigned char *der,
                                 apr_size_t len);

/**
 * Envoy's x-forwarded-client-cert element for @p c:
 * Hash=SHA256HEX;Subject="DN";URI=first URI SAN;DNS=each DNS SAN (the
 * parts the certificate has no value for are left out).
 * Values holding ',', ';', '=' or '"' are quoted ('"' and '\' escaped);
 * Subject always is.  Header-safe as mtls_hdr_safe().
 */
const char *mtls_hdr_xfcc(apr_pool_t *p, const mtls_cert_t *c);

/**
 * The canonical form of a header name for matching: ASCII lower case,
 * '_' read as '-'.  NULL (and @p err set) when @p name is not an HTTP
 * token, or for a glob (@p glob set) when it holds other than token
 * characters and '*'.
 */
const char *mtls_hdr_name_canon(apr_pool_t *p, const char *name, int glob,
                                const char **err);

/**
 * True when the header name @p name, as a client sent it, is @p canon (a
 * canonical name): any case, '_' for '-'.
 */
int mtls_hdr_name_is(const char *canon, const char *name);

/** True when @p name (as sent) matches the canonical glob @p glob. */
int mtls_hdr_name_glob(const char *glob, const char *name);

/**
 * A quick first test for a set of canonical names and globs: @p first
 * has a 1 for every canonical first character (all 1 once a glob starts
 * with '*').  mtls_hdr_maybe() says whether a name as sent can match at
 * all, so the full comparison runs only for the few that might.
 */
void mtls_hdr_first_add(unsigned char first[256], const char *canon);

/** False when no name or glob of @p first can match @p name (inline:
 *  it runs for every header of every request). */
static APR_INLINE int mtls_hdr_maybe(const unsigned char first[256],
                                     const char *name)
{
    return first[(unsigned char)name[0]];
}

#endif /* MTLS_HDRFMT_H */
