/* What resolving a certificate gives: an identity, no identity and why,
 * or "a source could not answer".  The reasons a request is refused live
 * here too, so the pure layer (the resolver) and the httpd glue (the
 * providers, the decision record) speak of them in the same words.
 * Pure: knows nothing of httpd. */
#ifndef MTLS_OUTCOME_H
#define MTLS_OUTCOME_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_hash.h>
#include <apr_time.h>

typedef enum {
    MTLS_R_NONE = 0,
    MTLS_R_NO_CERTIFICATE,
    MTLS_R_NOT_VERIFIED,
    MTLS_R_DENYLISTED,
    MTLS_R_REVOKED,
    MTLS_R_UNMAPPED,
    MTLS_R_WEAK_MAPPING,
    MTLS_R_USER_MISMATCH,
    MTLS_R_GROUP_MISMATCH,
    MTLS_R_SUBJECT_MISMATCH,
    MTLS_R_ISSUER_MISMATCH,
    MTLS_R_SAN_MISMATCH,
    MTLS_R_FINGERPRINT_MISMATCH,
    MTLS_R_EKU_MISMATCH,
    MTLS_R_POLICY_MISMATCH,
    MTLS_R_DIRECTORY_UNAVAILABLE,
    MTLS_R_COUNT
} mtls_reason_e;

/** The reason's name as logs, variables and bodies show it ("none" for
 *  MTLS_R_NONE and anything out of range). */
const char *mtls_reason_name(mtls_reason_e reason);

typedef enum {
    MTLS_OUTCOME_IDENTITY = 0,   /* a source gave a user */
    MTLS_OUTCOME_NONE,           /* no user: reason says why */
    MTLS_OUTCOME_UNAVAILABLE     /* a source could not answer: never kept */
} mtls_outcome_kind_e;

/* The outcome may be kept until this moment: nothing it depends on moves
 * with the clock. */
#define MTLS_OUTCOME_FOREVER ((apr_time_t)APR_INT64_MAX)

typedef struct {
    mtls_outcome_kind_e kind;
    mtls_reason_e reason;        /* MTLS_R_NONE for an identity */
    const char *user;            /* NULL unless kind is IDENTITY */
    apr_array_header_t *groups;  /* of const char *: ordered, no
                                    duplicates, never NULL (an unmapped
                                    certificate may still have groups
                                    from MTLSGroupFrom) */
    apr_hash_t *group_set;       /* the same groups, for membership tests
                                    that cost the same for 1,000 groups */
    const char *groups_text;     /* groups joined (mtls_list_join), or NULL */
    int strong;                  /* found by something only it has */
    const char *source;          /* "map", "rule:N", "ldap"; or NULL */
    const char *ldap_dn;         /* the directory entry, or NULL */
    const char *warning;         /* for the log at warn (a stale CRL), or
                                    NULL */
    apr_time_t expires;          /* valid before this moment */
} mtls_outcome_t;

/** A fresh outcome of @p kind and @p reason with no user and no groups,
 *  valid forever, allocated from @p p. */
mtls_outcome_t *mtls_outcome_make(apr_pool_t *p, mtls_outcome_kind_e kind,
                                  mtls_reason_e reason);

/** A deep copy of @p o in @p p (to keep an outcome made in a request's
 *  pool for the connection). */
mtls_outcome_t *mtls_outcome_copy(apr_pool_t *p, const mtls_outcome_t *o);

/** Whether @p group is one of @p o's groups (names compared exactly).
 *  By hash, so that 1,000 directory groups cost what one costs; a few
 *  groups are compared by name, which is quicker than hashing. */
int mtls_outcome_in_group(const mtls_outcome_t *o, const char *group);

/** True when @p o may be remembered at @p now: it is not "could not
 *  answer" and has not expired. */
int mtls_outcome_keepable(const mtls_outcome_t *o, apr_time_t now);

#endif /* MTLS_OUTCOME_H */
