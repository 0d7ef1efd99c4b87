/* Reasons' names and outcomes' life cycle. */
#include <string.h>
#include <apr_strings.h>

#include "mtls_outcome.h"

static const char *const reason_names[MTLS_R_COUNT] = {
    [MTLS_R_NONE] = "none",
    [MTLS_R_NO_CERTIFICATE] = "no-certificate",
    [MTLS_R_NOT_VERIFIED] = "not-verified",
    [MTLS_R_DENYLISTED] = "denylisted",
    [MTLS_R_REVOKED] = "revoked",
    [MTLS_R_UNMAPPED] = "unmapped",
    [MTLS_R_WEAK_MAPPING] = "weak-mapping",
    [MTLS_R_USER_MISMATCH] = "user-mismatch",
    [MTLS_R_GROUP_MISMATCH] = "group-mismatch",
    [MTLS_R_SUBJECT_MISMATCH] = "subject-mismatch",
    [MTLS_R_ISSUER_MISMATCH] = "issuer-mismatch",
    [MTLS_R_SAN_MISMATCH] = "san-mismatch",
    [MTLS_R_FINGERPRINT_MISMATCH] = "fingerprint-mismatch",
    [MTLS_R_EKU_MISMATCH] = "eku-mismatch",
    [MTLS_R_POLICY_MISMATCH] = "policy-mismatch",
    [MTLS_R_DIRECTORY_UNAVAILABLE] = "directory-unavailable",
};

const char *mtls_reason_name(mtls_reason_e reason)
{
    return (reason > 0 && reason < MTLS_R_COUNT) ? reason_names[reason]
                                                 : "none";
}

mtls_outcome_t *mtls_outcome_make(apr_pool_t *p, mtls_outcome_kind_e kind,
                                  mtls_reason_e reason)
{
    mtls_outcome_t *o = apr_pcalloc(p, sizeof(*o));

    o->kind = kind;
    o->reason = reason;
    o->groups = apr_array_make(p, 2, sizeof(const char *));
    o->group_set = apr_hash_make(p);
    o->expires = MTLS_OUTCOME_FOREVER;
    return o;
}

static const char *dup_or_null(apr_pool_t *p, const char *s)
{
    return s ? apr_pstrdup(p, s) : NULL;
}

mtls_outcome_t *mtls_outcome_copy(apr_pool_t *p, const mtls_outcome_t *o)
{
    mtls_outcome_t *c = apr_pmemdup(p, o, sizeof(*o));
    int i;

    c->groups = apr_array_make(p, o->groups->nelts ? o->groups->nelts : 1,
                               sizeof(const char *));
    c->group_set = apr_hash_make(p);
    for (i = 0; i < o->groups->nelts; i++) {
        const char *g = apr_pstrdup(p, APR_ARRAY_IDX(o->groups, i,
                                                     const char *));
        APR_ARRAY_PUSH(c->groups, const char *) = g;
        apr_hash_set(c->group_set, g, APR_HASH_KEY_STRING, g);
    }
    c->user = dup_or_null(p, o->user);
    c->groups_text = dup_or_null(p, o->groups_text);
    c->source = dup_or_null(p, o->source);
    c->ldap_dn = dup_or_null(p, o->ldap_dn);
    c->warning = dup_or_null(p, o->warning);
    return c;
}

/* Up to this many groups, membership is tested by comparing names. */
#define FEW_GROUPS 8

int mtls_outcome_in_group(const mtls_outcome_t *o, const char *group)
{
    int i;

    if (o->groups->nelts > FEW_GROUPS) {
        return apr_hash_get(o->group_set, group, APR_HASH_KEY_STRING) != NULL;
    }
    for (i = 0; i < o->groups->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(o->groups, i, const char *), group)) {
            return 1;
        }
    }
    return 0;
}

int mtls_outcome_keepable(const mtls_outcome_t *o, apr_time_t now)
{
    return o->kind != MTLS_OUTCOME_UNAVAILABLE && now < o->expires;
}
