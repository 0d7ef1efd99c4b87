/* Decisions: the reasons a request is refused, the one log line per
 * refusal, MTLS_DENY_REASON, the error body (MTLSErrorDetail) and report
 * mode (MTLSMode report). */
#ifndef MTLS_DECISION_H
#define MTLS_DECISION_H

#include "httpd.h"
#include "mod_auth.h"
#include "mtls_identity.h"

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
    MTLS_R_DIRECTORY_UNAVAILABLE,
    MTLS_R_COUNT
} mtls_reason_e;

/** The reason's name as logs, variables and bodies show it. */
const char *mtls_reason_name(mtls_reason_e reason);

/**
 * Why @p id cannot be used at all (no certificate, not verified,
 * deny-listed), or MTLS_R_NONE.
 */
mtls_reason_e mtls_peer_reason(const mtls_identity_t *id);

/**
 * A Require provider would deny for @p reason.  Enforce mode: records the
 * reason (MTLS_DENY_REASON, error body, log line if the request ends
 * refused) and returns AUTHZ_DENIED.  Report mode: logs "would deny" and
 * returns AUTHZ_GRANTED.
 */
authz_status mtls_decision_deny(request_rec *r, mtls_reason_e reason,
                                const mtls_identity_t *id);

/** AuthType mtls refuses: records as above and returns the HTTP status. */
int mtls_decision_refuse(request_rec *r, mtls_reason_e reason,
                         const mtls_identity_t *id);

/** Register the hooks that log refusals and shape error bodies. */
void mtls_decision_register_hooks(apr_pool_t *p);

#endif /* MTLS_DECISION_H */
