/* The start-up line that says which build of the module is loaded: after
 * an upgrade of the package, the error log tells whether the server runs
 * the new one (as core's "configured -- resuming normal operations"). */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_core.h"

#include "mtls_private.h"
#include "mtls_version.h"

#ifndef MTLS_VERSION
#error "MTLS_VERSION is not defined: build with Makefile.apxs (it reads VERSION)"
#endif

const char *mtls_version_string(void)
{
    return "mod_mtls_authz/" MTLS_VERSION;
}

static int log_version(apr_pool_t *pconf, apr_pool_t *plog,
                       apr_pool_t *ptemp, server_rec *s)
{
    /* The first pass only checks the configuration; it is read again and
     * that pass is the one that serves.  (httpd -t stops before any.) */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "MTLS4200: %s configured",
                 mtls_version_string());
    return OK;
}

void mtls_version_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(log_version, NULL, NULL, APR_HOOK_MIDDLE);
}
