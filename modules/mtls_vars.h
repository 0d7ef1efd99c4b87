/* The identity for the rest of the server: environment variables (CGI,
 * logs, RewriteCond) and ap_expr variables (Require expr, <If>, Header
 * expr=) named MTLS_*. */
#ifndef MTLS_VARS_H
#define MTLS_VARS_H

#include "httpd.h"
#include "mtls_identity.h"

/** Set the MTLS_* environment variables of @p id on @p r. */
void mtls_vars_export(request_rec *r, const mtls_identity_t *id);

/** Register the fixups and ap_expr lookup hooks. */
void mtls_vars_register_hooks(apr_pool_t *p);

#endif /* MTLS_VARS_H */
