/* MTLS_* environment and ap_expr variables: names for fields of the one
 * vocabulary, looked up with mtls_value_text(). */
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

/* Variables that are a field's value: the fields, spelt out (these names
 * need no parsing).  Designated so the order below is the var_e order. */
#define FIELD(k, n) { .kind = (k), .name = (n) }
static const mtls_field_t var_fields[] = {
    FIELD(MTLS_F_USER, "user"), FIELD(MTLS_F_GROUPS, "groups"),
    FIELD(MTLS_F_STRENGTH, "strength"), FIELD(MTLS_F_SOURCE, "source"),
    FIELD(MTLS_F_SUBJECT, "subject"), FIELD(MTLS_F_ISSUER, "issuer"),
    FIELD(MTLS_F_SERIAL, "serial"), FIELD(MTLS_F_SHA256, "sha256"),
    FIELD(MTLS_F_LDAP_DN, "ldap-dn"), FIELD(MTLS_F_DAYS_LEFT, "days-left"),
};
#define N_FIELD_VARS (sizeof(var_fields) / sizeof(var_fields[0]))

/* Variables that are not one field's value. */
typedef enum { V_GROUPS_N = N_FIELD_VARS, V_DENY_REASON, V_COUNT } var_e;
/* The one variable that moves with the clock (var_fields' order). */
#define V_DAYS_LEFT 9

static const char *const var_names[V_COUNT] = {
    "MTLS_USER", "MTLS_GROUPS", "MTLS_STRENGTH", "MTLS_SOURCE",
    "MTLS_SUBJECT", "MTLS_ISSUER", "MTLS_SERIAL", "MTLS_SHA256",
    "MTLS_LDAP_DN", "MTLS_DAYS_LEFT", "MTLS_GROUPS_N", "MTLS_DENY_REASON"
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

/* The value of variable @p v for @p r, or NULL when it has none. */
static const char *var_value(request_rec *r, const mtls_facts_t *facts,
                             unsigned v)
{
    const mtls_decision_t *d;

    if (v < N_FIELD_VARS) {
        return mtls_value_text(r->pool, &var_fields[v], facts);
    }
    switch (v) {
    case V_GROUPS_N:
        return facts->outcome ? apr_itoa(r->pool,
                                         facts->outcome->groups->nelts)
                              : NULL;
    case V_DENY_REASON:
        d = mtls_decision_of(r);
        return d ? mtls_reason_name(d->reason) : NULL;
    default:
        return NULL;
    }
}

/* True when @p key names a variable this module sets (MTLS_DENY_REASON
 * is the decision's, set where it is made). */
/* True when @p key is one of the name strings above (not a copy). */
static int static_name(const char *key)
{
    unsigned i;

    for (i = 0; i < V_DENY_REASON; i++) {
        if (key == var_names[i]) {
            return 1;
        }
    }
    for (i = 0; i < GROUP_NAMES; i++) {
        if (key == group_names[i]) {
            return 1;
        }
    }
    return 0;
}

static int is_ours(const char *key)
{
    unsigned i;

    if (!key || (key[0] != 'M' && key[0] != 'm')) {
        return 0;
    }
    /* What this module added carries its own name strings (also in the
     * copy a subrequest gets): no comparing of letters for those. */
    if (static_name(key)) {
        return 1;
    }
    if (strncasecmp(key, "MTLS_", 5)) {
        return 0;
    }
    if (!strncasecmp(key + 5, "GROUP_", 6) && apr_isdigit(key[11])) {
        for (i = 12; apr_isdigit(key[i]); i++) {
        }
        return key[i] == '\0';
    }
    for (i = 0; i < V_DENY_REASON; i++) {
        if (!strcasecmp(key, var_names[i])) {
            return 1;
        }
    }
    return 0;
}

/* @p env without the variables of ours, or NULL when it has none (the
 * usual case).  One pass: replacing each name with apr_table_setn()
 * would scan the table once per name, and in a subrequest (mod_dir's
 * index, SSI) every one of ours is there, copied from the main request. */
static apr_table_t *without_ours(apr_pool_t *p, const apr_table_t *env)
{
    const apr_array_header_t *a = apr_table_elts(env);
    const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
    apr_table_t *t = NULL;
    int i, j;

    for (i = 0; i < a->nelts && !is_ours(e[i].key); i++) {
    }
    if (i == a->nelts) {
        return NULL;
    }
    t = apr_table_make(p, a->nelts + V_COUNT + GROUP_NAMES);
    for (j = 0; j < a->nelts; j++) {
        if (!is_ours(e[j].key)) {
            apr_table_addn(t, e[j].key, e[j].val);
        }
    }
    return t;
}

/* Room left in a kept variable table for what other modules add after
 * it is copied into a request (mod_ssl's HTTPS, SSL_TLS_SNI, ...), so
 * their additions do not grow the copy. */
#define VARS_ROOM 8

/* The variables of an identity, worked out once and kept with it
 * (mtls_identity_keep_put), as a table of their own: per request it is
 * copied into the environment in one piece (with_ours: its entries and
 * their key checksums copied whole), not added name by name.  MTLS_DAYS_LEFT moves with the clock: the table has the value
 * of the day it was made in, from @c days_from to before @c days_until;
 * a request at another time sets its own. */
typedef struct {
    apr_table_t *vars;
    apr_time_t days_from, days_until;
} env_set_t;

static const char env_key[] = "env";

static const void *copy_env(apr_pool_t *p, const void *v)
{
    const env_set_t *from = v;
    const apr_array_header_t *a = apr_table_elts(from->vars);
    const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
    env_set_t *to = apr_palloc(p, sizeof(*to));
    int i;

    to->days_from = from->days_from;
    to->days_until = from->days_until;
    to->vars = apr_table_make(p, a->nelts + VARS_ROOM);
    for (i = 0; i < a->nelts; i++) {
        /* names are static (kept as they are: is_ours() knows them by
         * address), or made for MTLS_GROUP_16 and up */
        apr_table_addn(to->vars, static_name(e[i].key) ? e[i].key
                                 : apr_pstrdup(p, e[i].key),
                       apr_pstrdup(p, e[i].val));
    }
    return to;
}

static env_set_t *make_env(request_rec *r, const mtls_facts_t *facts)
{
    const apr_array_header_t *g = facts->outcome ? facts->outcome->groups
                                                 : NULL;
    env_set_t *es = apr_palloc(r->pool, sizeof(*es));
    int i;

    es->vars = apr_table_make(r->pool, V_DENY_REASON + (g ? g->nelts : 0)
                                       + VARS_ROOM);
    es->days_until = mtls_cert_days_left_changes(facts->cert, facts->now);
    es->days_from = es->days_until - MTLS_CERT_DAY;
    for (i = 0; i < V_DENY_REASON; i++) {
        const char *val = var_value(r, facts, i);
        if (val) {
            apr_table_addn(es->vars, var_names[i], val);
        }
    }
    for (i = 0; g && i < g->nelts; i++) {
        apr_table_addn(es->vars, i < GROUP_NAMES ? group_names[i]
                                 : apr_psprintf(r->pool, "MTLS_GROUP_%d", i),
                       APR_ARRAY_IDX(g, i, const char *));
    }
    return es;
}

/* An environment of @p ours followed by @p env (which has none of
 * ours), as apr_table_overlay() would make it, made the quicker way: a
 * copy of ours (its entries and index copied whole) and the few others
 * added to it, where merging two tables would copy both and index every
 * entry again.  Many others: merged. */
#define FEW_OTHERS VARS_ROOM

static apr_table_t *with_ours(apr_pool_t *p, const apr_table_t *ours,
                              const apr_table_t *env)
{
    const apr_array_header_t *a = apr_table_elts(env);
    const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
    apr_table_t *t;
    int i;

    if (a->nelts > FEW_OTHERS) {
        return apr_table_overlay(p, ours, env);
    }
    t = apr_table_copy(p, ours);
    for (i = 0; i < a->nelts; i++) {
        if (e[i].key) {
            apr_table_addn(t, e[i].key, e[i].val);
        }
    }
    return t;
}

void mtls_vars_export(request_rec *r, const mtls_identity_t *id)
{
    apr_table_t *env = r->subprocess_env, *clean;
    const env_set_t *es;
    mtls_facts_t facts;
    const char *days;

    if (!id->peer->cert) {
        return;       /* no certificate, nothing to tell */
    }
    if (r->main) {
        const mtls_req_t *mq = mtls_req(r->main, 0);
        if (mq && mq->exported && mtls_identity_peek(r->main) == id) {
            /* A subrequest's environment is a copy of its main
             * request's, which has this very identity's variables
             * already (mod_dir's index, SSI): nothing to redo. */
            mtls_req(r, 1)->exported = mq->exported;
            return;
        }
    }
    mtls_identity_facts(r, id, &facts);
    if (!(es = mtls_identity_keep_get(r, id, env_key, sizeof(env_key)))) {
        env_set_t *fresh = make_env(r, &facts);
        mtls_identity_keep_put(r, id, env_key, sizeof(env_key), copy_env,
                               fresh);
        es = fresh;
    }
    if (r->main) {
        const mtls_req_t *mq = mtls_req(r->main, 0);
        if (mq && mq->exported == es) {
            /* (the same variables from another identity object: a
             * subrequest in another scope that resolved alike) */
            mtls_req(r, 1)->exported = es;
            return;
        }
    }
    /* Ours replace any of the same name (SetEnvIf, RewriteRule [E=], the
     * main request's for a subrequest), also MTLS_GROUP_n beyond this
     * identity's groups; then adding needs no scan for an old value. */
    if ((clean = without_ours(r->pool, env))) {
        env = clean;
    }
    env = with_ours(r->pool, es->vars, env);
    if ((facts.now < es->days_from || facts.now >= es->days_until)
        && (days = var_value(r, &facts, V_DAYS_LEFT))) {
        apr_table_setn(env, var_names[V_DAYS_LEFT], days);
    }
    r->subprocess_env = env;
    mtls_req(r, 1)->exported = es;
}

/* Variables are set where the module is in use: the scope maps
 * certificates, or a provider already resolved this request.  (Refused
 * requests never reach fixups; the providers export them themselves.) */
static int set_env(request_rec *r)
{
    const mtls_identity_t *id = mtls_identity_peek(r);
    const mtls_req_t *mq;

    if (id) {
        mtls_vars_export(r, id);
    }
    else if (!mtls_conf_maps(mtls_dir_conf(r))) {
        return DECLINED;
    }
    else if (r->main && (mq = mtls_req(r->main, 0)) && mq->exported
             && (id = mtls_identity_of_main(r))) {
        /* A subrequest with its main request's identity, whose
         * variables the main request set: its environment is a copy of
         * the main request's, with them (mod_dir's index, SSI).  Nothing
         * to make for it. */
    }
    else {
        id = mtls_identity_get(r);
        mtls_vars_export(r, id);
    }
    /* AuthType mtls names the user even where only mtls-* providers
     * (which need no user) decided, so %u and REMOTE_USER show it. */
    if (!r->user && id->outcome->user && !id->unusable
        && !(!id->outcome->strong
             && mtls_conf_require_strong(mtls_dir_conf(r)))) {
        const char *type = ap_auth_type(r);
        if (type && !strcasecmp(type, "mtls")) {
            r->user = (char *)id->outcome->user;
            r->ap_auth_type = "mtls";
        }
    }
    return DECLINED;
}

static const char *expr_var(ap_expr_eval_ctx_t *ctx, const void *data)
{
    mtls_facts_t facts;

    if (!ctx->r) {
        return NULL;
    }
    mtls_identity_facts(ctx->r, mtls_identity_get(ctx->r), &facts);
    return var_value(ctx->r, &facts, (unsigned)(long)data);
}

static const char *expr_group_var(ap_expr_eval_ctx_t *ctx, const void *data)
{
    long n = (long)data;
    const mtls_identity_t *id;

    if (!ctx->r) {
        return NULL;
    }
    id = mtls_identity_get(ctx->r);
    if (id->unusable || n >= id->outcome->groups->nelts) {
        return NULL;
    }
    return APR_ARRAY_IDX(id->outcome->groups, n, const char *);
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
    /* Before mod_ssl's fixup, whatever the LoadModule order: the
     * environment is then still empty on most requests, and a copy of
     * ours is the quickest way to set it (mod_ssl's HTTPS and SSL_* go
     * into the room the copy has).  Its fixup sets only variables, none
     * of ours, so the order changes nothing else. */
    static const char *const before[] = { "mod_ssl.c", NULL };

    ap_hook_fixups(set_env, NULL, before, APR_HOOK_MIDDLE);
    ap_hook_expr_lookup(expr_lookup, NULL, NULL, APR_HOOK_MIDDLE);
}
