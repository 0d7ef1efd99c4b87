/* Small matchers used by the Require providers: SAN globs and
 * certificate fingerprints.  Pure. */
#ifndef MTLS_MATCH_H
#define MTLS_MATCH_H

#include <apr_pools.h>

/* Longer names never match a glob: the matcher's cost is pattern length
 * times name length, and no SAN comes near this. */
#define MTLS_GLOB_MAX_NAME 65536

/**
 * Match @p s against @p pattern where '*' stands for any run of
 * characters except @p stop (0: no stop character) and '**' (or more
 * stars in a row) for any run at all.  With @p nocase, ASCII case is
 * ignored.  Exact for any mix of both; costs O(pattern x name) at most.
 * A name longer than MTLS_GLOB_MAX_NAME never matches.
 */
int mtls_glob_match(const char *pattern, const char *s, char stop, int nocase);

typedef enum { MTLS_FP_SHA256, MTLS_FP_SPKI } mtls_fp_kind_e;

/**
 * Parse "sha256:HEX" or "spki:HEX" (64 hex digits, colons allowed, any
 * case) into a kind and lower-case hex.  Returns NULL or an error.
 */
const char *mtls_fingerprint_parse(apr_pool_t *p, const char *text,
                                   mtls_fp_kind_e *kind, const char **hex);

/**
 * Normalise a serial number written in hex (colons allowed, any case,
 * leading zeros) to the field's form: upper-case, no leading zeros.
 * Returns NULL or an error.
 */
const char *mtls_serial_normalize(apr_pool_t *p, const char *text,
                                  const char **out);

#endif /* MTLS_MATCH_H */
