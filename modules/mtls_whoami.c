/* The mtls-whoami handler: one list of facts about the request, shown as
 * JSON or, when the client prefers text/html, as a page. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_ssl.h"

#include "mtls_whoami.h"
#include "mtls_identity.h"
#include "mtls_decision.h"
#include "mtls_config.h"
#include "mtls_cert.h"
#include "mtls_field.h"

typedef enum { K_STR, K_NUM, K_BOOL, K_LIST, K_SECTION } kind_e;

/* One fact: a string (NULL shows as null / "-"), a number or boolean
 * written out, a list, or the start of a section (an object in JSON,
 * NULL when the section has nothing to show). */
typedef struct {
    kind_e kind;
    const char *key;
    const char *value;
    const apr_array_header_t *list;
} fact_t;

typedef struct {
    request_rec *r;
    apr_array_header_t *facts;
} facts_t;

static void add(facts_t *f, kind_e kind, const char *key, const char *value,
                const apr_array_header_t *list)
{
    fact_t *x = &APR_ARRAY_PUSH(f->facts, fact_t);

    x->kind = kind;
    x->key = key;
    x->value = value;
    x->list = list;
}

/* The facts shown, by their names in the one vocabulary of values
 * (mtls_field.h): certificate fields, then identity values.  Parsed once,
 * in the parent's post_config; read-only afterwards. */
static const char *const cert_names[] = {
    "subject", "issuer", "serial", "sha256", "spki", "not-after",
    "days-left", "san:email", "san:dns", "san:uri", "san:ip", "san:upn",
    "eku", "policies", "sid", "ski", "sha1-pubkey", NULL
};
static const char *const identity_names[] = {
    "user", "groups", "source", "strength", "ldap-dn", NULL
};
#define N_CERT (sizeof(cert_names) / sizeof(cert_names[0]) - 1)
#define N_IDENTITY (sizeof(identity_names) / sizeof(identity_names[0]) - 1)
static const mtls_field_t *cert_fields[N_CERT];
static const mtls_field_t *identity_fields[N_IDENTITY];

/* The reason this location would refuse the identity, or MTLS_R_NONE. */
static mtls_reason_e reason_here(request_rec *r, const mtls_identity_t *id)
{
    const mtls_dir_conf_t *dc = mtls_dir_conf(r);
    const mtls_outcome_t *o = id->outcome;

    if (id->unusable) {
        return id->unusable;
    }
    if (!o->user && mtls_conf_maps(dc)) {
        return o->reason ? o->reason : MTLS_R_UNMAPPED;
    }
    if (o->user && !o->strong && mtls_conf_require_strong(dc)) {
        return MTLS_R_WEAK_MAPPING;
    }
    return MTLS_R_NONE;
}

/* One field's value(s) as a fact. */
static void add_field(facts_t *f, const mtls_field_t *field,
                      const mtls_facts_t *facts)
{
    apr_pool_t *p = f->r->pool;

    if (mtls_field_is_list(field)) {
        add(f, K_LIST, field->name, NULL, mtls_value_list(p, field, facts));
    }
    else {
        add(f, field->kind == MTLS_F_DAYS_LEFT ? K_NUM : K_STR, field->name,
            mtls_value_text(p, field, facts), NULL);
    }
}

static void gather(facts_t *f)
{
    request_rec *r = f->r;
    const mtls_identity_t *id = mtls_identity_get(r);
    const mtls_peer_t *peer = id->peer;
    mtls_reason_e why = reason_here(r, id);
    int tls = ap_ssl_conn_is_ssl(r->connection);
    mtls_facts_t facts;
    size_t i;

    mtls_identity_facts(r, id, &facts);
    add(f, K_BOOL, "tls", tls ? "true" : "false", NULL);
    add(f, K_STR, "protocol", tls ? ap_ssl_var_lookup(r->pool, r->server,
                                                      r->connection, r,
                                                      "SSL_PROTOCOL")
                                  : NULL, NULL);
    add(f, K_STR, "verify", peer->verify, NULL);
    add(f, K_STR, "verify-detail", peer->verify_detail, NULL);
    add(f, K_BOOL, "granted", why ? "false" : "true", NULL);
    add(f, K_STR, "reason", mtls_reason_name(why), NULL);
    add(f, K_STR, "message", why ? mtls_reason_message(why) : NULL, NULL);
    add(f, K_STR, "hint", why ? mtls_reason_hint(why) : NULL, NULL);
    add(f, K_STR, "location", r->uri, NULL);

    add(f, K_SECTION, "certificate", facts.cert || peer->cert_error ? ""
                                                                  : NULL,
        NULL);
    if (facts.cert) {
        for (i = 0; i < N_CERT; i++) {
            add_field(f, cert_fields[i], &facts);
        }
        add(f, K_STR, "problem", facts.cert->problem, NULL);
    }
    else if (peer->cert_error) {
        add(f, K_STR, "error", peer->cert_error, NULL);
    }
    /* An identity only for a usable certificate (verified, not denied). */
    add(f, K_SECTION, "identity", facts.outcome ? "" : NULL, NULL);
    for (i = 0; facts.outcome && i < N_IDENTITY; i++) {
        add_field(f, identity_fields[i], &facts);
    }
}

static void render_json(facts_t *f)
{
    request_rec *r = f->r;
    const char *sep = "{";
    int i, j, open = 0;

    for (i = 0; i < f->facts->nelts; i++) {
        const fact_t *x = &APR_ARRAY_IDX(f->facts, i, fact_t);
        if (x->kind == K_SECTION) {
            ap_rprintf(r, "%s%s%s:%s", open ? "}" : "", sep,
                       mtls_json_string(r->pool, x->key), x->value ? "" : "null");
            open = x->value != NULL;
            sep = open ? "{" : ",";
            continue;
        }
        ap_rprintf(r, "%s%s:", sep, mtls_json_string(r->pool, x->key));
        sep = ",";
        switch (x->kind) {
        case K_NUM:
        case K_BOOL:
            ap_rputs(x->value, r);
            break;
        case K_LIST:
            ap_rputc('[', r);
            for (j = 0; x->list && j < x->list->nelts; j++) {
                ap_rprintf(r, "%s%s", j ? "," : "",
                           mtls_json_string(r->pool,
                                            APR_ARRAY_IDX(x->list, j,
                                                          const char *)));
            }
            ap_rputc(']', r);
            break;
        default:
            ap_rputs(mtls_json_string(r->pool, x->value), r);
        }
    }
    ap_rputs(open ? "}}\n" : "}\n", r);
}

static void render_html(facts_t *f)
{
    request_rec *r = f->r;
    apr_pool_t *p = r->pool;
    int i, j;

    ap_rputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
             "<title>Who am I: client certificate</title><style>"
             "body{font-family:sans-serif;margin:2em}th{text-align:left;"
             "padding-right:1em;vertical-align:top}td{font-family:monospace}"
             "</style></head><body>\n<h1>What this server sees</h1>\n"
             "<table>\n", r);
    for (i = 0; i < f->facts->nelts; i++) {
        const fact_t *x = &APR_ARRAY_IDX(f->facts, i, fact_t);
        if (x->kind == K_SECTION) {
            ap_rprintf(r, "</table>\n<h2>%s</h2>\n%s<table>\n",
                       ap_escape_html(p, x->key),
                       x->value ? "" : "<p>none</p>\n");
            continue;
        }
        ap_rprintf(r, "<tr><th>%s</th><td>", ap_escape_html(p, x->key));
        if (x->kind == K_LIST) {
            for (j = 0; x->list && j < x->list->nelts; j++) {
                ap_rprintf(r, "%s%s", j ? "<br>" : "",
                           ap_escape_html(p, APR_ARRAY_IDX(x->list, j,
                                                           const char *)));
            }
            if (!x->list || !x->list->nelts) {
                ap_rputs("-", r);
            }
        }
        else {
            ap_rputs(x->value ? ap_escape_html(p, x->value) : "-", r);
        }
        ap_rputs("</td></tr>\n", r);
    }
    ap_rputs("</table>\n</body></html>\n", r);
}

/* A browser: text/html is acceptable with a higher quality than JSON. */
static int wants_html(request_rec *r)
{
    static const char *const types[] = { "text/html", "application/json" };
    double q[2];

    mtls_accept_q(r, 2, types, q);
    return q[0] > 0 && q[0] > q[1];
}

static int whoami_handler(request_rec *r)
{
    facts_t f;
    int html;

    if (!r->handler || strcmp(r->handler, "mtls-whoami")) {
        return DECLINED;
    }
    r->allowed |= AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    f.r = r;
    f.facts = apr_array_make(r->pool, 32, sizeof(fact_t));
    gather(&f);
    html = wants_html(r);
    ap_set_content_type(r, html ? "text/html; charset=utf-8"
                                : "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_mergen(r->headers_out, "Vary", "Accept");
    if (!r->header_only) {
        if (html) {
            render_html(&f);
        }
        else {
            render_json(&f);
        }
    }
    return OK;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog,
                       apr_pool_t *ptemp, server_rec *s)
{
    const char *err = NULL;
    size_t i;

    for (i = 0; !err && i < N_CERT; i++) {
        err = mtls_field_parse(pconf, cert_names[i], &cert_fields[i]);
    }
    for (i = 0; !err && i < N_IDENTITY; i++) {
        err = mtls_field_parse(pconf, identity_names[i], &identity_fields[i]);
    }
    if (err) {
        /* A name of this file the vocabulary does not know: a bug. */
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "MTLS3020: whoami: %s",
                     err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

void mtls_whoami_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(whoami_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
