/* Fields: the one vocabulary of values.  The names rules, filters,
 * variables, headers and the whoami page use for certificate facts
 * ("subject:CN", "san:uri", "sha256") and for identity values ("user",
 * "groups", "strength", "source", "ldap-dn"), parsed once at
 * configuration time and looked up per certificate and outcome.  Pure. */
#ifndef MTLS_FIELD_H
#define MTLS_FIELD_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "mtls_cert.h"
#include "mtls_outcome.h"

typedef enum {
    MTLS_F_SUBJECT,
    MTLS_F_ISSUER,
    MTLS_F_SUBJECT_ATTR,
    MTLS_F_ISSUER_ATTR,
    MTLS_F_SAN,
    MTLS_F_SERIAL,
    MTLS_F_SHA256,
    MTLS_F_SPKI,
    MTLS_F_NOT_AFTER,
    MTLS_F_DAYS_LEFT,
    MTLS_F_VERIFY,
    MTLS_F_EKU,
    MTLS_F_POLICIES,
    MTLS_F_SID,
    MTLS_F_SKI,
    MTLS_F_SHA1_PUBKEY,
    /* Identity values: what resolution made of the certificate. */
    MTLS_F_USER,
    MTLS_F_GROUPS,
    MTLS_F_STRENGTH,
    MTLS_F_SOURCE,
    MTLS_F_LDAP_DN
} mtls_field_kind_e;

/* What a value is looked up in: the certificate and, when the request
 * has a usable identity, the outcome of its resolution. */
typedef struct {
    const mtls_cert_t *cert;         /* NULL: no certificate */
    const mtls_outcome_t *outcome;   /* NULL: no usable identity */
    apr_time_t now;                  /* for days-left */
} mtls_facts_t;

typedef struct {
    mtls_field_kind_e kind;
    int san_type;          /* MTLS_F_SAN */
    const char *oid;       /* MTLS_F_*_ATTR */
    const char *name;      /* as written, for messages */
} mtls_field_t;

/**
 * Parse a field name.  Returns NULL and sets @p out, or an error message
 * that lists what is accepted.
 */
const char *mtls_field_parse(apr_pool_t *p, const char *spec,
                             const mtls_field_t **out);

/** True for the identity values (user, groups, strength, source,
 *  ldap-dn): a rule cannot read them, it makes them. */
int mtls_field_is_identity(const mtls_field_t *f);

/** True for the fields whose values are a list (subject:ATTR,
 *  issuer:ATTR, san:*, eku, policies, groups): a header or variable joins
 *  them, the whoami page shows them as an array. */
int mtls_field_is_list(const mtls_field_t *f);

/** True when the value changes with the clock alone (days-left). */
int mtls_field_moves_with_time(const mtls_field_t *f);

/**
 * The one lookup: the values of @p f in @p facts (a list, empty when
 * there is none).  Certificate fields read facts->cert, identity values
 * facts->outcome.  Values point into the facts or @p p.
 */
apr_array_header_t *mtls_value_list(apr_pool_t *p, const mtls_field_t *f,
                                    const mtls_facts_t *facts);

/**
 * The same as one string for a variable, header or template: a single
 * value as it is, a list joined by mtls_list_join(); NULL when there is
 * no value.
 */
const char *mtls_value_text(apr_pool_t *p, const mtls_field_t *f,
                            const mtls_facts_t *facts);

/**
 * The values of a certificate field @p f in @p c (a list; empty when the certificate has none).
 * @p now is used for days-left.  Values point into @p c or @p p.
 */
apr_array_header_t *mtls_field_values(apr_pool_t *p, const mtls_field_t *f,
                                      const mtls_cert_t *c, apr_time_t now);

/** The first value of @p f in @p c, or NULL. */
const char *mtls_field_first(apr_pool_t *p, const mtls_field_t *f,
                             const mtls_cert_t *c, apr_time_t now);

/** True when only this one certificate (or key) has the value, whatever
 *  the certificate: sha256, spki, sha1-pubkey. */
int mtls_field_is_strong(const mtls_field_t *f);

/**
 * Whether a user found by @p f in @p c is strong (SPEC §2): the fields of
 * mtls_field_is_strong(); ski when it is the hash of the certificate's
 * own key (RFC 5280 method 1, so no other key can carry it); sid when
 * @p sid_trusted (the issuer is one MTLSTrustSIDFrom names).
 */
int mtls_field_strong_for(const mtls_field_t *f, const mtls_cert_t *c,
                          int sid_trusted);

/**
 * Join a list for a header or variable: ", " between items, an item
 * holding ',' '"' or '\' quoted with '\' escapes, control bytes dropped.
 */
const char *mtls_list_join(apr_pool_t *p, const apr_array_header_t *items);

#endif /* MTLS_FIELD_H */
