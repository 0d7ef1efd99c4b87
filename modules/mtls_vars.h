/* The identity for the rest of the server: environment variables (CGI,
 * logs, RewriteCond) and ap_expr variables (Require expr, <If>, Header
 * expr=) named MTLS_*, each the value of one field of the vocabulary
 * (mtls_field.h) or the decision's reason. */
#ifndef MTLS_VARS_H
#define MTLS_VARS_H

#include "httpd.h"
#include "mtls_identity.h"

/**
 * Set the MTLS_* environment variables of @p id on @p r.  Ours replace
 * any of the same name another module set (SetEnvIf, RewriteRule [E=]).
 * MTLS_DENY_REASON is the decision record's (mtls_decision.h).
 */
void mtls_vars_export(request_rec *r, const mtls_identity_t *id);

/** Register the fixups and ap_expr lookup hooks. */
void mtls_vars_register_hooks(apr_pool_t *p);

#endif /* MTLS_VARS_H */
