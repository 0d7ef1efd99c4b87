/* Decisions: one record per mtls-* provider call and per AuthType mtls
 * check (granted / denied / would deny, reason, provider, identity).
 * The refusal log line, MTLS_DENY_REASON, the error body (MTLSErrorDetail)
 * and report mode (MTLSMode report) all read these records; metrics and
 * the whoami page read them through mtls_decision_records(). */
#ifndef MTLS_DECISION_H
#define MTLS_DECISION_H

#include "httpd.h"
#include "mod_auth.h"
#include "mtls_outcome.h"
#include "mtls_identity.h"

typedef enum {
    MTLS_VERDICT_GRANTED = 0,    /* the check does not stop the request */
    MTLS_VERDICT_DENIED,         /* enforce: the check refuses it */
    MTLS_VERDICT_WOULD_DENY      /* report: it would refuse it, but not */
} mtls_verdict_e;

typedef struct {
    mtls_verdict_e verdict;
    mtls_reason_e reason;        /* MTLS_R_NONE when granted */
    const char *provider;        /* "mtls-group", ..., "AuthType mtls" */
    const mtls_identity_t *id;
    int negated;                 /* under Require not / <RequireNone> */
    int outvoted;                /* denied, yet authorisation let the
                                    request in (e.g. <RequireAny>) */
    int status;                  /* 403, or 503 (directory-unavailable) */
} mtls_decision_t;

/**
 * A Require provider's check is done: @p why is MTLS_R_NONE when its test
 * matched, else the reason it did not; @p mismatch is the reason to give
 * when a negated test matches (Require not / <RequireNone>, @p negated).
 * Records the decision and returns what the provider answers: enforce
 * mode as the test says; report mode GRANTED for a positive line and
 * DENIED for a negated one, so that report mode never refuses anyone in
 * any composition of Require, while the record says "would deny".
 */
authz_status mtls_decision_provider(request_rec *r, const char *provider,
                                    int negated, mtls_reason_e why,
                                    mtls_reason_e mismatch,
                                    const mtls_identity_t *id);

/** AuthType mtls let the request in with @p id's user: records it. */
void mtls_decision_authn_granted(request_rec *r, const mtls_identity_t *id);

/** The sentence that says what @p reason means, for people ("" for
 *  MTLS_R_NONE). */
const char *mtls_reason_message(mtls_reason_e reason);

/** What the person should do about @p reason ("" for MTLS_R_NONE). */
const char *mtls_reason_hint(mtls_reason_e reason);

/** The quality (q=, 1 when not given) the request's Accept header gives
 *  each of the @p n media types in @p types (compared exactly, any case)
 *  into @p q; -1 for a type it does not name. */
void mtls_accept_q(request_rec *r, int n, const char *const *types,
                   double *q);

/** S as a JSON string literal in quotes (quote, backslash and control
 *  characters escaped), or the bare word null when S is NULL. */
const char *mtls_json_string(apr_pool_t *p, const char *s);

/** AuthType mtls refuses for @p why: records it and returns the HTTP
 *  status (403, or 503 for directory-unavailable). */
int mtls_decision_refuse(request_rec *r, mtls_reason_e why,
                         const mtls_identity_t *id);

/** Every decision of @p r so far (of mtls_decision_t), or NULL. */
const apr_array_header_t *mtls_decision_records(const request_rec *r);

/**
 * The decision that refuses @p r (the last denial not outvoted), or else
 * its last "would deny" in report mode, or NULL: what MTLS_DENY_REASON,
 * the log line and the error body say.
 */
const mtls_decision_t *mtls_decision_of(const request_rec *r);

/** Register the hooks that notice outvoted denials, log refusals and
 *  shape error bodies. */
void mtls_decision_register_hooks(apr_pool_t *p);

#endif /* MTLS_DECISION_H */
