/* MTLS_* environment and ap_expr variables. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "apr_lib.h"
#include "ap_expr.h"
#include "http_core.h"
#include "http_request.h"

#include "mtls_vars.h"
#include "mtls_identity.h"
#include "mtls_config.h"
#include "mtls_decision.h"
#include "mtls_field.h"

typedef enum {
    V_USER, V_GROUPS, V_GROUPS_N, V_STRENGTH, V_SOURCE, V_SUBJECT, V_ISSUER,
    V_SERIAL, V_SHA256, V_LDAP_DN, V_DAYS_LEFT, V_DENY_REASON, V_COUNT
} var_e;

static const char *const var_names[V_COUNT] = {
    "MTLS_USER", "MTLS_GROUPS", "MTLS_GROUPS_N", "MTLS_STRENGTH",
    "MTLS_SOURCE", "MTLS_SUBJECT", "MTLS_ISSUER", "MTLS_SERIAL",
    "MTLS_SHA256", "MTLS_LDAP_DN", "MTLS_DAYS_LEFT", "MTLS_DENY_REASON"
};

/* Names of the first MTLS_GROUP_n variables, so that setting them costs
 * no formatting per request. */
#define GROUP_NAMES 16
static const char *const group_names[GROUP_NAMES] = {
    "MTLS_GROUP_0", "MTLS_GROUP_1", "MTLS_GROUP_2", "MTLS_GROUP_3",
    "MTLS_GROUP_4", "MTLS_GROUP_5", "MTLS_GROUP_6", "MTLS_GROUP_7",
    "MTLS_GROUP_8", "MTLS_GROUP_9", "MTLS_GROUP_10", "MTLS_GROUP_11",
    "MTLS_GROUP_12", "MTLS_GROUP_13", "MTLS_GROUP_14", "MTLS_GROUP_15"
};

/* The value of one variable for @p r, or NULL when it has none. */
static const char *var_value(request_rec *r, apr_pool_t *p,
                             const mtls_identity_t *id, var_e v)
{
    const mtls_cert_t *c = id->peer->cert;
    int usable = mtls_peer_reason(id) == MTLS_R_NONE;

    switch (v) {
    case V_DENY_REASON:
        return apr_table_get(r->subprocess_env, "MTLS_DENY_REASON");
    case V_SUBJECT:
        return c ? c->subject : NULL;
    case V_ISSUER:
        return c ? c->issuer : NULL;
    case V_SERIAL:
        return c ? c->serial : NULL;
    case V_SHA256:
        return c ? c->sha256 : NULL;
    case V_DAYS_LEFT:
        return c ? apr_ltoa(p, mtls_cert_days_left(c, r->request_time))
                 : NULL;
    default:
        break;
    }
    if (!usable) {
        return NULL;
    }
    switch (v) {
    case V_USER:
        return id->user;
    case V_GROUPS:
        return id->groups_text;
    case V_GROUPS_N:
        return apr_itoa(p, id->groups->nelts);
    case V_STRENGTH:
        return id->user || id->groups->nelts
               ? (id->strong ? "strong" : "weak") : NULL;
    case V_SOURCE:
        return id->source;
    case V_LDAP_DN:
        return id->ldap_dn;
    default:
        return NULL;
    }
}

typedef struct {
    const char *name;
    const char *value;
} var_pair_t;

/* Every variable but MTLS_DAYS_LEFT (which moves with the clock) depends
 * only on the identity: worked out once per identity, so a keep-alive
 * request only copies them. */
static const apr_array_header_t *prepared(request_rec *r,
                                          const mtls_identity_t *id)
{
    apr_array_header_t *pairs;
    int i;

    if (id->vars) {
        return id->vars;
    }
    pairs = apr_array_make(id->pool, V_COUNT + id->groups->nelts,
                           sizeof(var_pair_t));
    for (i = 0; i < V_COUNT; i++) {
        const char *val;
        if (i == V_DENY_REASON || i == V_DAYS_LEFT) {
            continue;
        }
        if ((val = var_value(r, id->pool, id, i))) {
            var_pair_t *vp = &APR_ARRAY_PUSH(pairs, var_pair_t);
            vp->name = var_names[i];
            vp->value = val;
        }
    }
    if (mtls_peer_reason(id) == MTLS_R_NONE) {
        for (i = 0; i < id->groups->nelts; i++) {
            var_pair_t *vp = &APR_ARRAY_PUSH(pairs, var_pair_t);
            vp->name = i < GROUP_NAMES ? group_names[i]
                       : apr_psprintf(id->pool, "MTLS_GROUP_%d", i);
            vp->value = APR_ARRAY_IDX(id->groups, i, const char *);
        }
    }
    ((mtls_identity_t *)id)->vars = pairs;
    return pairs;
}

void mtls_vars_export(request_rec *r, const mtls_identity_t *id)
{
    apr_table_t *env = r->subprocess_env;
    void (*set)(apr_table_t *, const char *, const char *);
    const apr_array_header_t *pairs;
    int i;

    if (!id->peer->cert) {
        return;       /* no certificate, nothing to tell */
    }
    pairs = prepared(r, id);
    /* MTLS_SUBJECT is always among what we set: while it is absent none
     * of ours is there (the usual case), and adding without the scan
     * setn does for every name is measurably cheaper per request. */
    set = apr_table_get(env, "MTLS_SUBJECT") ? apr_table_setn
                                             : apr_table_addn;
    for (i = 0; i < pairs->nelts; i++) {
        const var_pair_t *vp = &APR_ARRAY_IDX(pairs, i, var_pair_t);
        set(env, vp->name, vp->value);
    }
    set(env, "MTLS_DAYS_LEFT", var_value(r, r->pool, id, V_DAYS_LEFT));
}

/* Variables are set where the module is in use: the scope maps
 * certificates, or a provider already resolved this request.  (Refused
 * requests never reach fixups; mtls_decision exports them itself.) */
static int set_env(request_rec *r)
{
    const mtls_identity_t *id = mtls_identity_peek(r);

    if (!id) {
        if (!mtls_conf_maps(mtls_dir_conf(r))) {
            return DECLINED;
        }
        id = mtls_identity_get(r);
    }
    mtls_vars_export(r, id);
    /* AuthType mtls names the user even where only mtls-* providers
     * (which need no user) decided, so %u and REMOTE_USER show it. */
    if (!r->user && id->user && mtls_peer_reason(id) == MTLS_R_NONE
        && !(!id->strong && mtls_conf_require_strong(mtls_dir_conf(r)))) {
        const char *type = ap_auth_type(r);
        if (type && !strcasecmp(type, "mtls")) {
            r->user = (char *)id->user;
            r->ap_auth_type = "mtls";
        }
    }
    return DECLINED;
}

static const char *expr_var(ap_expr_eval_ctx_t *ctx, const void *data)
{
    var_e v = (var_e)(long)data;

    if (!ctx->r) {
        return NULL;
    }
    return var_value(ctx->r, ctx->r->pool, mtls_identity_get(ctx->r), v);
}

static const char *expr_group_var(ap_expr_eval_ctx_t *ctx, const void *data)
{
    long n = (long)data;
    const mtls_identity_t *id;

    if (!ctx->r) {
        return NULL;
    }
    id = mtls_identity_get(ctx->r);
    if (mtls_peer_reason(id) != MTLS_R_NONE || n >= id->groups->nelts) {
        return NULL;
    }
    return APR_ARRAY_IDX(id->groups, n, const char *);
}

static int expr_lookup(ap_expr_lookup_parms *parms)
{
    int i;

    if (parms->type != AP_EXPR_FUNC_VAR
        || strncasecmp(parms->name, "MTLS_", 5)) {
        return DECLINED;
    }
    for (i = 0; i < V_COUNT; i++) {
        if (!strcasecmp(parms->name, var_names[i])) {
            *parms->func = expr_var;
            *parms->data = (const void *)(long)i;
            return OK;
        }
    }
    /* MTLS_GROUP_0, MTLS_GROUP_1, ...: the index rides in data. */
    if (!strncasecmp(parms->name, "MTLS_GROUP_", 11)
        && apr_isdigit(parms->name[11])) {
        char *end;
        long n = strtol(parms->name + 11, &end, 10);
        if (!*end && n >= 0 && n < 10000) {
            *parms->func = expr_group_var;
            *parms->data = (const void *)n;
            return OK;
        }
    }
    return DECLINED;
}

void mtls_vars_register_hooks(apr_pool_t *p)
{
    ap_hook_fixups(set_env, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_expr_lookup(expr_lookup, NULL, NULL, APR_HOOK_MIDDLE);
}
