/* Distinguished names: RFC 4514 strings for people, and a canonical form
 * for comparing a configured DN with a certificate's.  Pure. */
#ifndef MTLS_DN_H
#define MTLS_DN_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/x509.h>

/* One attribute value of a DN: its dotted OID and its UTF-8 value. */
typedef struct {
    const char *oid;
    const char *value;
} mtls_ava_t;

/**
 * Format @p name as RFC 4514 (most specific RDN first, multi-valued RDNs
 * joined with '+', specials escaped, UTF-8 values kept).  When @p avas is
 * not NULL, every attribute is appended to it as an mtls_ava_t.  NULL
 * when a value cannot be decoded (see mtls_dn_from_x509()).
 */
const char *mtls_dn_format(apr_pool_t *p, const X509_NAME *name,
                           apr_array_header_t *avas);

/**
 * Both forms of @p name in one walk: @p text as mtls_dn_format(),
 * @p canon as mtls_dn_canon_x509() (either may be NULL), and the
 * attributes appended to @p avas (DER order) when not NULL.
 * A value that cannot be decoded (not valid in its string type, a NUL
 * inside, an unreadable type) is left out of @p avas, makes @p text
 * NULL (an empty rendering would equal another name's), and gives a
 * @p canon that equals no parsed DN.  Returns NULL, or for such a value
 * what is wrong with it ("its CN value holds a NUL byte").
 */
const char *mtls_dn_from_x509(apr_pool_t *p, const X509_NAME *name,
                              const char **text, const char **canon,
                              apr_array_header_t *avas);

/** The canonical form of @p name, equal to mtls_dn_canon() of its text. */
const char *mtls_dn_canon_x509(apr_pool_t *p, const X509_NAME *name);

/**
 * The canonical form of @p name with every attribute its own RDN (as the
 * OpenSSL one-line form writes it, which cannot tell "CN=a+UID=b" from
 * "CN=a,UID=b"), or NULL when the name has no multi-valued RDN (then it
 * equals mtls_dn_canon_x509()).
 */
const char *mtls_dn_flat_x509(apr_pool_t *p, const X509_NAME *name);

/**
 * Parse an RFC 4514 string and return its canonical form in @p canon:
 * attribute types as dotted OIDs, values unescaped, trimmed, inner white
 * space collapsed and ASCII lower-cased, the AVAs of a multi-valued RDN
 * sorted.  A string that starts with '/' is OpenSSL's one-line form
 * ("/C=DE/O=Lab/CN=alice", least specific first, "\xC3\xBC" for bytes
 * outside ASCII, as mod_ssl's FakeBasicAuth and LegacyDNStringFormat
 * write it); its canonical form is that of the same attributes in RFC
 * 4514 order, each its own RDN.  Returns NULL or an error message.
 */
const char *mtls_dn_canon(apr_pool_t *p, const char *text, const char **canon);

/**
 * The dotted OID of an attribute type given as a short or long name
 * (case-insensitive: "CN", "cn", "emailAddress") or as a dotted OID.
 * By name, only DN attribute types are accepted.  NULL when unknown.
 */
const char *mtls_attr_oid(apr_pool_t *p, const char *name);

/** The short name of a dotted OID when OpenSSL knows one that reads back
 *  as the same OID (mtls_attr_oid), else the OID. */
const char *mtls_attr_short_name(apr_pool_t *p, const char *oid);

/** Escape one attribute value per RFC 4514 (no non-ASCII escaping). */
const char *mtls_dn_escape_value(apr_pool_t *p, const char *value);

#endif /* MTLS_DN_H */
