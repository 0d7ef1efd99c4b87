/* A tiny test harness for the pure layer: checks count passes and
 * failures, a failure prints where and what.  One runner (run_unit.c)
 * calls every test_*() and prints "N passed, M failed". */
#ifndef MTLS_UNIT_H
#define MTLS_UNIT_H

#include <stdio.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/x509.h>
#include <openssl/evp.h>

extern int unit_passed;
extern int unit_failed;

/** Record one check. */
void unit_record(int ok, const char *file, int line, const char *what,
                 const char *detail);

#define CHECK(cond) \
    unit_record(!!(cond), __FILE__, __LINE__, #cond, NULL)

/* Strings: equal, or both NULL. */
#define CHECK_STR(got, want) do { \
    const char *g_ = (got), *w_ = (want); \
    int ok_ = (g_ && w_) ? !strcmp(g_, w_) : (g_ == w_); \
    char d_[2048]; \
    snprintf(d_, sizeof(d_), "got [%s] want [%s]", \
             g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    unit_record(ok_, __FILE__, __LINE__, #got, d_); \
} while (0)

#define CHECK_INT(got, want) do { \
    long g_ = (long)(got), w_ = (long)(want); \
    char d_[128]; \
    snprintf(d_, sizeof(d_), "got %ld want %ld", g_, w_); \
    unit_record(g_ == w_, __FILE__, __LINE__, #got, d_); \
} while (0)

/* An error message (non-NULL) that starts with @p prefix. */
#define CHECK_PREFIX(got, prefix) do { \
    const char *g_ = (got), *w_ = (prefix); \
    char d_[2048]; \
    snprintf(d_, sizeof(d_), "got [%s] want prefix [%s]", \
             g_ ? g_ : "(null)", w_); \
    unit_record(g_ && !strncmp(g_, w_, strlen(w_)), __FILE__, __LINE__, \
                #got, d_); \
} while (0)

/* An error message (non-NULL) that contains @p part. */
#define CHECK_HAS(got, part) do { \
    const char *g_ = (got), *w_ = (part); \
    char d_[2048]; \
    snprintf(d_, sizeof(d_), "got [%s] want it to contain [%s]", \
             g_ ? g_ : "(null)", w_); \
    unit_record(g_ && strstr(g_, w_) != NULL, __FILE__, __LINE__, #got, d_); \
} while (0)

/* The tests, one function per unit of the pure layer. */
void test_dn(apr_pool_t *p);
void test_cert(apr_pool_t *p);
void test_field(apr_pool_t *p);
void test_rule(apr_pool_t *p);
void test_match(apr_pool_t *p);
void test_filefmt(apr_pool_t *p);
void test_resolve(apr_pool_t *p);
void test_hdrfmt(apr_pool_t *p);
void test_ldapfilter(apr_pool_t *p);
void test_fwd(apr_pool_t *p);
void test_lru(apr_pool_t *p);
void test_dirfmt(apr_pool_t *p);
void test_certcache(apr_pool_t *p);
void test_mergecache(apr_pool_t *p);
void test_crl(apr_pool_t *p);
void test_realpki(apr_pool_t *p);
void test_corpus(apr_pool_t *p, const char *dir);

/* Certificates made at run time (certgen.c). */

/** A fresh P-256 key. */
EVP_PKEY *unit_key(void);

/**
 * The main test certificate: subject
 * CN=Doe\, John,OU=ops+UID=jdoe,OU=dev,O=Lab\, Inc.,DC=lab,DC=example,
 * issuer CN=Unit CA,O=Lab\, Inc., serial 0x00AB01, SANs of every type,
 * notAfter 2035-12-31T23:59:59Z, signed with @p key.
 */
X509 *unit_cert_main(EVP_PKEY *key);

/**
 * A self-signed certificate with subject = issuer = @p dn: "ATTR=VALUE"
 * strings in DER order (least specific first), raw values (no escaping),
 * a leading '+' adds the AVA to the previous RDN; NULL-terminated.
 * Serial @p serial_hex, notAfter @p not_after ("YYYYMMDDHHMMSSZ"), no SANs.
 */
X509 *unit_cert_simple(EVP_PKEY *key, const char *serial_hex,
                       const char *not_after, const char *const *dn);

/**
 * A self-signed certificate named CN=<@p len raw bytes of @p cn>,O=Lab
 * (subject = issuer), the CN of ASN.1 string @p type as given, no
 * checks: for values a CA should never issue (a NUL inside, bad UTF-8).
 */
X509 *unit_cert_raw_cn(EVP_PKEY *key, int type, const char *cn, int len);

/** A certificate with SANs a CA should never issue (NUL in an email,
 *  a 5-byte IP, a newline in a URI) and one good DNS name. */
X509 *unit_cert_bad_sans(EVP_PKEY *key);

/** A certificate whose SANs are the @p n IPv6 addresses @p addrs. */
X509 *unit_cert_ipv6(EVP_PKEY *key, const unsigned char (*addrs)[16], int n);

/**
 * The signature twin of @p x, an ECDSA-signed certificate: (r, s)
 * replaced by (r, n - s), n the order of @p issuer_key's curve.  It
 * verifies with the same key and has another sha256.
 */
X509 *unit_cert_twin(X509 *x, EVP_PKEY *issuer_key);

/** The SHA-256 of @p x's DER, lower-case hex. */
const char *unit_sha256(apr_pool_t *p, X509 *x);

/**
 * A self-signed certificate "CN=ext" with the extensions @p exts
 * ("NAME=VALUE" as in an openssl extension file, one extension each; the
 * value "DER:HEX" gives raw content), the URI SANs @p uris (commas allowed),
 * validity @p not_before .. @p not_after ("YYYYMMDDHHMMSSZ"); lists are
 * NULL-terminated and may be NULL.
 */
X509 *unit_cert_ext(EVP_PKEY *key, const char *const *exts,
                    const char *const *uris, const char *not_before,
                    const char *not_after);

/** Lower-case hex of @p n bytes. */
const char *unit_hex(apr_pool_t *p, const unsigned char *d, size_t n);

/** The PEM text of @p x. */
const char *unit_pem(apr_pool_t *p, X509 *x);

/** The PEM text of @p crl. */
const char *unit_crl_pem(apr_pool_t *p, X509_CRL *crl);

#endif /* MTLS_UNIT_H */
