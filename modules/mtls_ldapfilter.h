/* LDAP filter templates (MTLSLDAPUserFilter, MTLSLDAPGroupFilter): parsed
 * once at configuration time, rendered per certificate with every value
 * escaped per RFC 4515.  Pure: knows neither httpd nor libldap. */
#ifndef MTLS_LDAPFILTER_H
#define MTLS_LDAPFILTER_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "mtls_cert.h"

typedef struct mtls_ldapfilter_t mtls_ldapfilter_t;

/* Which placeholders a template may use. */
typedef enum {
    MTLS_LDAPFILTER_USER,    /* certificate placeholders and {user} */
    MTLS_LDAPFILTER_GROUP    /* {dn} and {user} */
} mtls_ldapfilter_kind_e;

/** The default user filter: the certificate itself, as 389-ds and Active
 *  Directory match it, or as the serial + issuer assertion OpenLDAP's
 *  certificateExactMatch takes. */
#define MTLS_LDAP_DEFAULT_USER_FILTER \
    "(|(userCertificate;binary={cert})(userCertificate={cert!exact}))"

/** The default group filter (SPEC §4). */
#define MTLS_LDAP_DEFAULT_GROUP_FILTER \
    "(|(member={dn})(uniqueMember={dn})(memberUid={user}))"

/**
 * Parse @p text.  Returns NULL and sets @p out, or an error naming the
 * unknown placeholder, an unclosed brace or a filter that is not
 * parenthesised.
 */
const char *mtls_ldapfilter_parse(apr_pool_t *p, const char *text,
                                  mtls_ldapfilter_kind_e kind,
                                  mtls_ldapfilter_t **out);

/**
 * Render @p f for certificate @p c (may be NULL for group filters), the
 * user @p user and entry @p dn (either may be NULL).  Returns the filter,
 * or NULL when a placeholder has no value: "no match", never a search
 * for an empty value.
 */
const char *mtls_ldapfilter_render(apr_pool_t *p, const mtls_ldapfilter_t *f,
                                   const mtls_cert_t *c, const char *user,
                                   const char *dn);

/**
 * The same with the certificate's AD SID: {sid} has its value only when
 * @p sid_trusted (its issuer is one MTLSTrustSIDFrom names); otherwise a
 * filter that uses it matches nothing.  mtls_ldapfilter_render() is this
 * with @p sid_trusted 0.
 */
const char *mtls_ldapfilter_render_sid(apr_pool_t *p,
                                       const mtls_ldapfilter_t *f,
                                       const mtls_cert_t *c, const char *user,
                                       const char *dn, int sid_trusted);

/** True when every entry the template can find is found by what only one
 *  certificate has ({cert}, {cert!exact}, {sha256}, {spki},
 *  {sha1-pubkey!ad}, a trusted {sid}, or an issuer and a serial
 *  together), whatever the certificate: (&...) is strong when one part
 *  is, (|...) only when every branch is, (!...) never. */
int mtls_ldapfilter_is_strong(const mtls_ldapfilter_t *f);

/** The same for certificate @p c: {ski!ad} also counts when c's subject
 *  key identifier is the hash of its own key (RFC 5280 method 1). */
int mtls_ldapfilter_strong_for(const mtls_ldapfilter_t *f,
                               const mtls_cert_t *c);

/** True when the template uses {sid}. */
int mtls_ldapfilter_uses_sid(const mtls_ldapfilter_t *f);

/** True when the template uses {user}. */
int mtls_ldapfilter_uses_user(const mtls_ldapfilter_t *f);

/** The template as written (for log lines and cache keys). */
const char *mtls_ldapfilter_text(const mtls_ldapfilter_t *f);

/** Escape @p len bytes of @p v per RFC 4515: '*', '(', ')', '\', NUL and
 *  every byte outside printable ASCII become \XX. */
const char *mtls_ldap_escape(apr_pool_t *p, const char *v, apr_size_t len);

/** The issuer or subject DN in Active Directory's X500 order (least
 *  specific first, "DC=com,DC=lab,CN=Lab CA"). */
const char *mtls_ldap_ad_dn(apr_pool_t *p, const apr_array_header_t *avas);

/** The serial's bytes reversed, upper-case hex (altSecurityIdentities). */
const char *mtls_ldap_ad_serial(apr_pool_t *p, const char *serial_hex);

/** The GSER certificateExactAssertion of @p c:
 *  { serialNumber DECIMAL, issuer rdnSequence:"DN" }. */
const char *mtls_ldap_cert_exact(apr_pool_t *p, const mtls_cert_t *c);

#endif /* MTLS_LDAPFILTER_H */
