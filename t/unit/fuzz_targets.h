/* The fuzz targets of the pure layer as plain functions: the libFuzzer
 * wrappers in fuzz/ call them, and the unit runner replays the seed
 * corpus (corpus/<target>/) through them.  Each returns 0, or non-zero
 * when a property that must hold for every input did not (the wrappers
 * abort then, so libFuzzer keeps the input). */
#ifndef MTLS_FUZZ_TARGETS_H
#define MTLS_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/** Initialise APR and OpenSSL once; safe to call more than once. */
void mtls_fuzz_init(void);

/**
 * DN text and the small text parsers: mtls_dn_canon, attribute names,
 * the escape/parse round trip against mtls_dn_canon_x509, SAN globs
 * against a reference matcher, fingerprints, serials, field names and
 * rule templates.
 */
int mtls_fuzz_dn(const uint8_t *data, size_t size);

/** The map file (first byte 0 mod 3), deny list (1) and group file (2)
 *  parsers, lookups and mtls_getword_conf. */
int mtls_fuzz_filefmt(const uint8_t *data, size_t size);

/** Certificate facts from DER (or PEM), every field, the map keys, and
 *  "the canonical form equals mtls_dn_canon() of the RFC 4514 text". */
int mtls_fuzz_cert(const uint8_t *data, size_t size);

/** LDAP filter templates: parse the first line (first byte: user or group
 *  filter), render it with the other lines as every value; no value may
 *  add a '(' ')' or '*' to the filter. */
int mtls_fuzz_ldapfilter(const uint8_t *data, size_t size);
/** The forwarded-certificate header formats (first byte: which), their
 *  bounds, the base64 round trip, and "no CA, never verified"
 *  (fuzz_fwd.c). */
int mtls_fuzz_fwd(const uint8_t *data, size_t size);

/** Cached directory answers as a cache server hands them back: what
 *  reads writes and reads back alike, no prefix of it reads. */
int mtls_fuzz_dirfmt(const uint8_t *data, size_t size);

#endif /* MTLS_FUZZ_TARGETS_H */
