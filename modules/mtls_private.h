/* Private to the module: the module record, its log tag and the state a
 * request keeps in the module's one request_config slot. */
#ifndef MTLS_PRIVATE_H
#define MTLS_PRIVATE_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

extern module AP_MODULE_DECLARE_DATA mtls_authz_module;

/* The module file declares the module itself. */
#ifndef MTLS_MODULE_FILE
APLOG_USE_MODULE(mtls_authz);
#endif

/* Each unit's per-request state, opaque to the others. */
struct mtls_req_identity;
struct mtls_req_decision;
struct mtls_req_proxy;

typedef struct {
    struct mtls_req_identity *identity;   /* mtls_identity.c */
    struct mtls_req_decision *decision;   /* mtls_decision.c */
    struct mtls_req_proxy *proxy;         /* mtls_proxy_private.h */
    const void *exported;                 /* mtls_vars.c: the variable set
                                           * put into subprocess_env */
} mtls_req_t;

/** The module's per-request state of @p r, created on first use when
 *  @p create (else NULL until then). */
static APR_INLINE mtls_req_t *mtls_req(const request_rec *r, int create)
{
    mtls_req_t *q = ap_get_module_config(r->request_config,
                                         &mtls_authz_module);
    if (!q && create) {
        q = apr_pcalloc(r->pool, sizeof(*q));
        ap_set_module_config(r->request_config, &mtls_authz_module, q);
    }
    return q;
}

#endif /* MTLS_PRIVATE_H */
