/* Certificate facts: what SPEC §2 calls the fields of a client certificate,
 * computed once from its DER.  Pure: knows nothing of httpd. */
#ifndef MTLS_CERT_H
#define MTLS_CERT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <openssl/x509.h>

#include "mtls_dn.h"

typedef enum {
    MTLS_SAN_EMAIL = 0,
    MTLS_SAN_DNS,
    MTLS_SAN_URI,
    MTLS_SAN_IP,
    MTLS_SAN_UPN,
    MTLS_SAN_COUNT
} mtls_san_type_e;

typedef struct mtls_cert_t {
    const char *subject;          /* RFC 4514, for people and headers; */
    const char *issuer;           /* NULL when a value cannot be decoded */
    const char *subject_canon;    /* canonical form, for comparisons */
    const char *issuer_canon;
    apr_array_header_t *subject_avas;   /* of mtls_ava_t, DER order */
    apr_array_header_t *issuer_avas;
    apr_array_header_t *san[MTLS_SAN_COUNT];  /* of const char * */
    const char *serial;           /* upper-case hex, no leading zeros */
    const char *sha256;           /* lower-case hex of the DER */
    apr_array_header_t *sha256_twins; /* of const char *: the sha256 of
                                   * each other encoding that may verify
                                   * (ECDSA (r, n-s)); empty for RSA */
    const char *spki;             /* lower-case hex of SPKI DER digest */
    const char *not_after;        /* RFC 3339 UTC */
    apr_time_t not_after_time;
    const char *not_before;       /* RFC 3339 UTC */
    apr_time_t not_before_time;
    apr_array_header_t *eku;      /* of const char *: short names or OIDs */
    apr_array_header_t *eku_oids; /* the same as dotted OIDs, same order */
    apr_array_header_t *policies; /* of const char *: dotted OIDs */
    const char *sid;              /* AD SID (S-1-...), or NULL */
    const char *ski;              /* lower-case hex, or NULL */
    int ski_is_key_hash;          /* ski == sha1_pubkey (RFC 5280 method 1) */
    const char *sha1_pubkey;      /* lower-case hex SHA-1 of the key bits */
    const char *subject_flat;     /* canonical with every AVA its own RDN, */
    const char *issuer_flat;      /* or NULL when equal to the canonical  */
    const unsigned char *der;
    apr_size_t der_len;
    const char *problem;          /* values that were dropped, or NULL */
    const char *verify;           /* SSL_CLIENT_VERIFY, set by the caller */
} mtls_cert_t;

/**
 * Parse a PEM certificate (as mod_ssl's SSL_CLIENT_CERT gives it) into
 * facts allocated from @p p.  On failure returns an APR error and sets
 * @p err to a sentence for the log.
 */
apr_status_t mtls_cert_from_pem(apr_pool_t *p, const char *pem,
                                mtls_cert_t **out, const char **err);

/** Same from an OpenSSL certificate; @p x is not consumed. */
apr_status_t mtls_cert_from_x509(apr_pool_t *p, X509 *x,
                                 mtls_cert_t **out, const char **err);

/**
 * Whether the certificate is outside its validity period at @p now:
 * 0 when valid, 1 when past notAfter, -1 when before notBefore.
 */
int mtls_cert_out_of_validity(const mtls_cert_t *c, apr_time_t now);

/** The dotted OID of an extended key usage given as a short name
 *  ("clientAuth", "msSmartcardLogin", ...) or as a dotted OID; NULL when
 *  unknown. */
const char *mtls_eku_oid(apr_pool_t *p, const char *name);

/** A dotted OID: digits and dots, at least two arcs, no empty arc. */
int mtls_is_dotted_oid(const char *s);

/** Whether @p sid is an AD security identifier ("S-1-5-21-...-1104"). */
int mtls_is_sid(const char *sid);

/* The day of mtls_cert_days_left(), in apr_time_t. */
#define MTLS_CERT_DAY apr_time_from_sec(86400)

/** Whole days from @p now until notAfter (negative once expired). */
long mtls_cert_days_left(const mtls_cert_t *c, apr_time_t now);

/** The first moment after @p now at which mtls_cert_days_left() gives
 *  another value than it gives at @p now. */
apr_time_t mtls_cert_days_left_changes(const mtls_cert_t *c, apr_time_t now);
/**
 * A serial number in the field's form (upper-case hex, no leading zeros),
 * as certificates and CRL entries carry it; NULL when unreadable.
 */
const char *mtls_cert_serial_hex(apr_pool_t *p, const ASN1_INTEGER *serial);

/** The name of a SAN type as used in fields ("email", "dns", ...). */
const char *mtls_san_type_name(mtls_san_type_e t);

/** The SAN type for @p name, or -1. */
int mtls_san_type_parse(const char *name);

#endif /* MTLS_CERT_H */
