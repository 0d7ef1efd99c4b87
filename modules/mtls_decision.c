/* Reasons, the refusal log line, error bodies and report mode. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "apr_lib.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "mod_core.h"

#include "mtls_decision.h"
#include "mtls_config.h"
#include "mtls_vars.h"

static const struct {
    const char *name;
    const char *message;
    const char *hint;
} reasons[MTLS_R_COUNT] = {
    [MTLS_R_NONE] = { "none", "", "" },
    [MTLS_R_NO_CERTIFICATE] = { "no-certificate",
        "No client certificate was presented.",
        "This page needs a client certificate and none arrived. "
        "In a browser: import your certificate bundle (a .p12/.pfx file) "
        "into the browser's or system's certificate store, restart the "
        "browser and pick the certificate when asked. "
        "With curl: pass --cert client.crt --key client.key (or "
        "--cert bundle.p12:password --cert-type P12). "
        "If a load balancer, CDN or other TLS-terminating proxy sits in "
        "front of this server, it ends TLS itself and strips client "
        "certificates: connect to this server directly or have the proxy "
        "pass them through." },
    [MTLS_R_NOT_VERIFIED] = { "not-verified",
        "The client certificate could not be verified.",
        "The certificate you presented was not accepted: it may have "
        "expired, been revoked, or been issued by a CA this server does "
        "not trust. Ask your administrator for a current certificate from "
        "the right CA." },
    [MTLS_R_DENYLISTED] = { "denylisted",
        "This client certificate is blocked.",
        "The certificate you presented is on this server's deny list. "
        "Ask your administrator for a new certificate." },
    [MTLS_R_REVOKED] = { "revoked",
        "This client certificate has been revoked.",
        "Ask your administrator for a new certificate." },
    [MTLS_R_UNMAPPED] = { "unmapped",
        "The client certificate does not map to a known user.",
        "Your certificate is valid but no user is configured for it here. "
        "Send the administrator the certificate's subject and SHA-256 "
        "fingerprint shown below." },
    [MTLS_R_WEAK_MAPPING] = { "weak-mapping",
        "The certificate maps to a user only by name.",
        "This location requires a mapping by fingerprint or issuer and "
        "serial. Ask the administrator to register your certificate." },
    [MTLS_R_USER_MISMATCH] = { "user-mismatch",
        "Your user is not allowed here.",
        "Your certificate maps to a user who is not allowed to access "
        "this location. Ask the administrator for access." },
    [MTLS_R_GROUP_MISMATCH] = { "group-mismatch",
        "You are not in a group allowed here.",
        "Your certificate maps to a user who is in none of the groups "
        "allowed here. Ask the administrator to add you to the group." },
    [MTLS_R_SUBJECT_MISMATCH] = { "subject-mismatch",
        "This certificate's subject is not allowed here.",
        "Use the certificate issued for this service." },
    [MTLS_R_ISSUER_MISMATCH] = { "issuer-mismatch",
        "This certificate was issued by a CA not accepted here.",
        "This location accepts certificates from another CA. Use the "
        "certificate issued by that CA." },
    [MTLS_R_SAN_MISMATCH] = { "san-mismatch",
        "This certificate's names are not allowed here.",
        "No subjectAltName of your certificate matches what this "
        "location accepts." },
    [MTLS_R_FINGERPRINT_MISMATCH] = { "fingerprint-mismatch",
        "This certificate is not one of those accepted here.",
        "This location accepts only certain certificates (pinned by "
        "fingerprint). Use one of them." },
    [MTLS_R_DIRECTORY_UNAVAILABLE] = { "directory-unavailable",
        "The user directory is unavailable.",
        "Try again in a moment." },
};

/* A refusal leaves its reason's name in r->notes (notes hold strings:
 * others may log or copy them); the identity stays with the request. */
static const char *const refusal_note = "mtls_authz_refusal";

const char *mtls_reason_name(mtls_reason_e reason)
{
    return (reason > 0 && reason < MTLS_R_COUNT) ? reasons[reason].name
                                                 : "none";
}

mtls_reason_e mtls_peer_reason(const mtls_identity_t *id)
{
    switch (id->peer->state) {
    case MTLS_PEER_NONE:
        return MTLS_R_NO_CERTIFICATE;
    case MTLS_PEER_UNVERIFIED:
        return MTLS_R_NOT_VERIFIED;
    case MTLS_PEER_VERIFIED:
        break;
    }
    return id->denylisted ? MTLS_R_DENYLISTED : MTLS_R_NONE;
}

/* Log line fields; values come from certificates, so control bytes and
 * quotes are escaped by ap_log's own escaping plus ours for '"'. */
static const char *quoted(apr_pool_t *p, const char *s)
{
    if (!s) {
        return "-";
    }
    return apr_pstrcat(p, "\"", ap_escape_quotes(p, s), "\"", NULL);
}

static void log_refusal(request_rec *r, const char *what,
                        mtls_reason_e reason, const mtls_identity_t *id)
{
    const mtls_cert_t *c = id ? id->peer->cert : NULL;
    const char *detail = id && reason == MTLS_R_NOT_VERIFIED
                         ? id->peer->verify_detail : NULL;

    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "MTLS0401: %s: reason=%s%s%s subject=%s issuer=%s "
                  "serial=%s sha256=%s client=%s uri=%s",
                  what, mtls_reason_name(reason),
                  detail ? " detail=" : "", detail ? quoted(r->pool, detail)
                                                   : "",
                  quoted(r->pool, c ? c->subject : NULL),
                  quoted(r->pool, c ? c->issuer : NULL),
                  c ? c->serial : "-", c ? c->sha256 : "-",
                  r->useragent_ip, r->uri);
}

/* The client prefers JSON when it asks for application/json with a
 * higher quality than text/html. */
static int wants_json(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");
    double qjson = -1, qhtml = -1;

    while (accept && *accept) {
        char *item = ap_getword(r->pool, &accept, ',');
        char *params = strchr(item, ';');
        double q = 1;
        char *type;
        if (params) {
            const char *qs = strstr(params, "q=");
            *params = '\0';
            if (qs) {
                q = atof(qs + 2);
            }
        }
        type = apr_pstrdup(r->pool, item);
        apr_collapse_spaces(type, type);
        if (!strcasecmp(type, "application/json") && q > qjson) {
            qjson = q;
        }
        else if ((!strcasecmp(type, "text/html") || !strcmp(type, "*/*"))
                 && q > qhtml) {
            qhtml = q;
        }
    }
    return qjson > 0 && qjson > qhtml;
}

static const char *json_str(apr_pool_t *p, const char *s)
{
    apr_size_t len = strlen(s);
    char *out = apr_palloc(p, len * 6 + 3), *o = out;

    *o++ = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            *o++ = '\\';
            *o++ = ch;
        }
        else if (ch < 0x20 || ch == 0x7f) {
            o += apr_snprintf(o, 7, "\\u%04x", ch);
        }
        else {
            *o++ = ch;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

static const char *json_or_null(apr_pool_t *p, const char *s)
{
    return s ? json_str(p, s) : "null";
}

static const char *error_body(request_rec *r, int status, mtls_reason_e reason,
                              const mtls_identity_t *id, int json)
{
    const mtls_cert_t *c = id ? id->peer->cert : NULL;
    const char *detail = id && reason == MTLS_R_NOT_VERIFIED
                         ? id->peer->verify_detail : NULL;
    apr_pool_t *p = r->pool;

    if (json) {
        return apr_psprintf(p, "{\"status\":%d,\"reason\":%s,\"message\":%s,"
                            "\"detail\":%s,\"hint\":%s,\"subject\":%s,"
                            "\"issuer\":%s,\"sha256\":%s}\n", status,
                            json_str(p, mtls_reason_name(reason)),
                            json_str(p, reasons[reason].message),
                            json_or_null(p, detail),
                            json_str(p, reasons[reason].hint),
                            json_or_null(p, c ? c->subject : NULL),
                            json_or_null(p, c ? c->issuer : NULL),
                            json_or_null(p, c ? c->sha256 : NULL));
    }
    return apr_pstrcat(p,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        "<title>", status == HTTP_SERVICE_UNAVAILABLE
                   ? "Service Unavailable" : "Forbidden",
        "</title></head><body>\n<h1>",
        ap_escape_html(p, reasons[reason].message), "</h1>\n"
        "<p>Reason: <code>", mtls_reason_name(reason), "</code>",
        detail ? " (" : "", detail ? ap_escape_html(p, detail) : "",
        detail ? ")" : "", "</p>\n<p>",
        ap_escape_html(p, reasons[reason].hint), "</p>\n",
        c ? "<p>Certificate subject: <code>" : "",
        c ? ap_escape_html(p, c->subject) : "",
        c ? "</code><br>SHA-256: <code>" : "", c ? c->sha256 : "",
        c ? "</code></p>\n" : "",
        "</body></html>\n", NULL);
}

static void record(request_rec *r, int status, mtls_reason_e reason,
                   const mtls_identity_t *id)
{
    const mtls_dir_conf_t *dc = mtls_dir_conf(r);

    apr_table_setn(r->notes, refusal_note, mtls_reason_name(reason));
    /* Fixups never run for a refused request: export what we know now so
     * access logs and ErrorDocument scripts see the certificate. */
    if (id) {
        mtls_vars_export(r, id);
    }
    apr_table_setn(r->subprocess_env, "MTLS_DENY_REASON",
                   mtls_reason_name(reason));
    /* An ErrorDocument the administrator configured wins over ours (a
     * body we set for an earlier provider of this request is replaced). */
    if (mtls_conf_error_detail(dc)
        && (apr_table_get(r->notes, "mtls_authz_body_type")
            || !ap_response_code_string(r, ap_index_of_response(status)))) {
        int json = wants_json(r);
        ap_custom_response(r, status, error_body(r, status, reason, id,
                                                 json));
        apr_table_setn(r->notes, "mtls_authz_body_type",
                       json ? "application/json"
                            : "text/html; charset=utf-8");
    }
}

authz_status mtls_decision_deny(request_rec *r, mtls_reason_e reason,
                                const mtls_identity_t *id)
{
    if (mtls_conf_mode(mtls_dir_conf(r)) == MTLS_MODE_REPORT) {
        log_refusal(r, "would deny", reason, id);
        return AUTHZ_GRANTED;
    }
    record(r, reason == MTLS_R_DIRECTORY_UNAVAILABLE
              ? HTTP_SERVICE_UNAVAILABLE : HTTP_FORBIDDEN, reason, id);
    return AUTHZ_DENIED;
}

int mtls_decision_refuse(request_rec *r, mtls_reason_e reason,
                         const mtls_identity_t *id)
{
    int status = reason == MTLS_R_DIRECTORY_UNAVAILABLE
                 ? HTTP_SERVICE_UNAVAILABLE : HTTP_FORBIDDEN;

    record(r, status, reason, id);
    return status;
}

/* One line per refused request, written when the outcome is known: a
 * provider that denies inside <RequireAny> may be outvoted. */
static int log_refusals(request_rec *r)
{
    request_rec *rr;

    for (rr = r; rr; rr = rr->next) {
        const char *name = apr_table_get(rr->notes, refusal_note);
        mtls_reason_e reason;
        if (!name) {
            continue;
        }
        if (rr->status == HTTP_FORBIDDEN
            || rr->status == HTTP_SERVICE_UNAVAILABLE) {
            for (reason = MTLS_R_NONE + 1; reason < MTLS_R_COUNT
                 && strcmp(reasons[reason].name, name); reason++) {
            }
            log_refusal(rr, "denied", reason < MTLS_R_COUNT ? reason
                                                            : MTLS_R_NONE,
                        mtls_identity_peek(rr));
        }
        else {
            /* Outvoted: the request was not refused for this reason. */
            apr_table_unset(rr->subprocess_env, "MTLS_DENY_REASON");
        }
        break;
    }
    return DECLINED;
}

static apr_status_t body_type_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    const char *type = apr_table_get(f->r->notes, "mtls_authz_body_type");

    if (type) {
        ap_set_content_type(f->r, type);
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

static void insert_error_filter(request_rec *r)
{
    request_rec *first = r;

    while (first->prev) {
        first = first->prev;
    }
    if (apr_table_get(first->notes, "mtls_authz_body_type")
        && (r->status == HTTP_FORBIDDEN
            || r->status == HTTP_SERVICE_UNAVAILABLE)) {
        ap_add_output_filter("MTLS_BODY_TYPE", NULL, r, r->connection);
    }
}

void mtls_decision_register_hooks(apr_pool_t *p)
{
    static const char *const before_log[] = { "mod_log_config.c", NULL };

    ap_hook_log_transaction(log_refusals, NULL, before_log,
                            APR_HOOK_REALLY_FIRST);
    ap_hook_insert_error_filter(insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    ap_register_output_filter("MTLS_BODY_TYPE", body_type_filter, NULL,
                              AP_FTYPE_CONTENT_SET);
}
