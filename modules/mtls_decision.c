/* Decision records, the refusal log line, error bodies and report mode. */
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
#include "mtls_directory.h"
#include "mtls_metrics.h"

/* What a person is told for each reason (MTLSErrorDetail on). */
static const struct {
    const char *message;
    const char *hint;
} reasons[MTLS_R_COUNT] = {
    [MTLS_R_NONE] = { "", "" },
    [MTLS_R_NO_CERTIFICATE] = { "No client certificate was presented.",
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
    [MTLS_R_NOT_VERIFIED] = { "The client certificate could not be verified.",
        "The certificate you presented was not accepted: it may have "
        "expired, been revoked, or been issued by a CA this server does "
        "not trust. Ask your administrator for a current certificate from "
        "the right CA." },
    [MTLS_R_DENYLISTED] = { "This client certificate is blocked.",
        "The certificate you presented is on this server's deny list. "
        "Ask your administrator for a new certificate." },
    [MTLS_R_REVOKED] = { "This client certificate has been revoked.",
        "Ask your administrator for a new certificate." },
    [MTLS_R_UNMAPPED] = { "The client certificate does not map to a known user.",
        "Your certificate is valid but no user is configured for it here. "
        "Send the administrator the certificate's subject and SHA-256 "
        "fingerprint shown below." },
    [MTLS_R_WEAK_MAPPING] = { "The certificate maps to a user only by name.",
        "This location requires a mapping by fingerprint or issuer and "
        "serial. Ask the administrator to register your certificate." },
    [MTLS_R_USER_MISMATCH] = { "Your user is not allowed here.",
        "Your certificate maps to a user who is not allowed to access "
        "this location. Ask the administrator for access." },
    [MTLS_R_GROUP_MISMATCH] = { "You are not in a group allowed here.",
        "Your certificate maps to a user who is in none of the groups "
        "allowed here. Ask the administrator to add you to the group." },
    [MTLS_R_SUBJECT_MISMATCH] = { "This certificate's subject is not allowed here.",
        "Use the certificate issued for this service." },
    [MTLS_R_ISSUER_MISMATCH] = { "This certificate was issued by a CA not accepted here.",
        "This location accepts certificates from another CA. Use the "
        "certificate issued by that CA." },
    [MTLS_R_SAN_MISMATCH] = { "This certificate's names are not allowed here.",
        "No subjectAltName of your certificate matches what this "
        "location accepts." },
    [MTLS_R_FINGERPRINT_MISMATCH] = { "This certificate is not one of those accepted here.",
        "This location accepts only certain certificates (pinned by "
        "fingerprint). Use one of them." },
    [MTLS_R_EKU_MISMATCH] = { "This certificate is not issued for this use.",
        "This location accepts only certificates whose extended key usage "
        "includes one it names (e.g. clientAuth or smart-card logon). "
        "Use a certificate issued for that purpose, or ask the "
        "administrator which one to use." },
    [MTLS_R_POLICY_MISMATCH] = { "This certificate was not issued under a policy accepted here.",
        "This location accepts only certificates issued under certain "
        "certificate policies (e.g. a smart-card or government PKI "
        "policy). Use a certificate from that PKI." },
    [MTLS_R_DIRECTORY_UNAVAILABLE] = { "The user directory is unavailable.",
        "Try again in a moment." },
};

/* Nearly every request has one or two records: room for them comes
 * with the state, in one allocation (apr_array_push grows past it). */
#define FIRST_RECORDS 2

struct mtls_req_decision {
    apr_array_header_t *records;        /* of mtls_decision_t */
    apr_array_header_t array;
    int refused;                        /* a record that is not a grant */
    mtls_decision_t first[FIRST_RECORDS];
};

/* What the log line and the error body add to the reason: mod_ssl's or
 * the module's verification text, or why a trusted proxy forwarded no
 * certificate. */
static const char *peer_detail(mtls_reason_e reason,
                               const mtls_identity_t *id)
{
    if (!id) {
        return NULL;
    }
    return reason == MTLS_R_NOT_VERIFIED ? id->peer->verify_detail
           : reason == MTLS_R_NO_CERTIFICATE ? id->peer->hint : NULL;
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
                        const mtls_decision_t *d)
{
    const mtls_identity_t *id = d->id;
    mtls_reason_e reason = d->reason;
    const mtls_cert_t *c = id ? id->peer->cert : NULL;
    const char *detail = peer_detail(reason, id);

    const mtls_outcome_t *o = id ? id->outcome : NULL;

    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "MTLS0401: %s: reason=%s%s%s%s%s%s%s%s%s subject=%s "
                  "issuer=%s serial=%s sha256=%s client=%s uri=%s",
                  what, mtls_reason_name(reason),
                  detail ? " detail=" : "", detail ? quoted(r->pool, detail)
                                                   : "",
                  /* what the sources answered, the directory's too */
                  o && o->user ? " user=" : "",
                  o && o->user ? quoted(r->pool, o->user) : "",
                  o && o->source ? " source=" : "",
                  o && o->source ? o->source : "",
                  o && o->ldap_dn ? " ldap-dn=" : "",
                  o && o->ldap_dn ? quoted(r->pool, o->ldap_dn) : "",
                  quoted(r->pool, c ? c->subject : NULL),
                  quoted(r->pool, c ? c->issuer : NULL),
                  c ? c->serial : "-", c ? c->sha256 : "-",
                  r->useragent_ip, r->uri);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MTLS1020: %s by %s%s",
                  what, d->provider, d->negated ? " (negated)" : "");
}

void mtls_accept_q(request_rec *r, int n, const char *const *types,
                   double *q)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");
    int i;

    for (i = 0; i < n; i++) {
        q[i] = -1;
    }
    while (accept && *accept) {
        char *item = ap_getword(r->pool, &accept, ',');
        char *params = strchr(item, ';');
        double qi = 1;
        if (params) {
            const char *qs = strstr(params, "q=");
            *params = '\0';
            if (qs) {
                qi = atof(qs + 2);
            }
        }
        apr_collapse_spaces(item, item);
        for (i = 0; i < n; i++) {
            if (!strcasecmp(item, types[i]) && qi > q[i]) {
                q[i] = qi;
            }
        }
    }
}

/* The client prefers JSON when it asks for application/json with a
 * higher quality than text/html and than the wildcard type. */
static int wants_json(request_rec *r)
{
    static const char *const types[] = { "application/json", "text/html",
                                         "*/*" };
    double q[3];

    mtls_accept_q(r, 3, types, q);
    return q[0] > 0 && q[0] > q[1] && q[0] > q[2];
}

const char *mtls_json_string(apr_pool_t *p, const char *s)
{
    char *out, *o;

    if (!s) {
        return "null";
    }
    o = out = apr_palloc(p, strlen(s) * 6 + 3);

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

static const char *error_body(request_rec *r, int status,
                              const mtls_decision_t *d, int json)
{
    const mtls_identity_t *id = d->id;
    mtls_reason_e reason = d->reason;
    const mtls_cert_t *c = id ? id->peer->cert : NULL;
    const char *detail = peer_detail(reason, id);
    apr_pool_t *p = r->pool;

    if (json) {
        return apr_psprintf(p, "{\"status\":%d,\"reason\":%s,\"message\":%s,"
                            "\"detail\":%s,\"hint\":%s,\"subject\":%s,"
                            "\"issuer\":%s,\"sha256\":%s}\n", status,
                            mtls_json_string(p, mtls_reason_name(reason)),
                            mtls_json_string(p, reasons[reason].message),
                            mtls_json_string(p, detail),
                            mtls_json_string(p, reasons[reason].hint),
                            mtls_json_string(p, c ? c->subject : NULL),
                            mtls_json_string(p, c ? c->issuer : NULL),
                            mtls_json_string(p, c ? c->sha256 : NULL));
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
        c && c->subject ? ap_escape_html(p, c->subject) : "",
        c ? "</code><br>SHA-256: <code>" : "", c ? c->sha256 : "",
        c ? "</code></p>\n" : "",
        "</body></html>\n", NULL);
}

const char *mtls_reason_message(mtls_reason_e reason)
{
    return (reason > 0 && reason < MTLS_R_COUNT) ? reasons[reason].message
                                                 : "";
}

const char *mtls_reason_hint(mtls_reason_e reason)
{
    return (reason > 0 && reason < MTLS_R_COUNT) ? reasons[reason].hint : "";
}

static apr_array_header_t *records_of(request_rec *r)
{
    mtls_req_t *q = mtls_req(r, 1);

    if (!q->decision) {
        /* (the records need no zeroing: each is set whole when added) */
        struct mtls_req_decision *rd = apr_palloc(r->pool, sizeof(*rd));
        rd->refused = 0;
        rd->array.pool = r->pool;
        rd->array.elt_size = sizeof(mtls_decision_t);
        rd->array.nelts = 0;
        rd->array.nalloc = FIRST_RECORDS;
        rd->array.elts = (char *)rd->first;
        rd->records = &rd->array;
        q->decision = rd;
    }
    return q->decision->records;
}

const apr_array_header_t *mtls_decision_records(const request_rec *r)
{
    const mtls_req_t *q = mtls_req(r, 0);

    return q && q->decision ? q->decision->records : NULL;
}

const mtls_decision_t *mtls_decision_of(const request_rec *r)
{
    const apr_array_header_t *recs = mtls_decision_records(r);
    const mtls_decision_t *would = NULL;
    int i;

    for (i = recs ? recs->nelts - 1 : -1; i >= 0; i--) {
        const mtls_decision_t *d = &APR_ARRAY_IDX(recs, i, mtls_decision_t);
        if (d->verdict == MTLS_VERDICT_DENIED && !d->outvoted) {
            return d;
        }
        if (d->verdict == MTLS_VERDICT_WOULD_DENY && !would) {
            would = d;
        }
    }
    return would;
}

static mtls_decision_t *add_record(request_rec *r, mtls_verdict_e verdict,
                                   mtls_reason_e reason,
                                   const char *provider, int negated,
                                   const mtls_identity_t *id)
{
    mtls_decision_t *d = &APR_ARRAY_PUSH(records_of(r), mtls_decision_t);

    d->verdict = verdict;
    d->reason = verdict == MTLS_VERDICT_GRANTED ? MTLS_R_NONE : reason;
    d->provider = provider;
    d->negated = negated;
    d->outvoted = 0;
    d->id = id;
    d->status = reason == MTLS_R_DIRECTORY_UNAVAILABLE
                && !mtls_directory_on_error_deny(mtls_dir_conf(r)->directory)
                ? HTTP_SERVICE_UNAVAILABLE : HTTP_FORBIDDEN;
    if (verdict != MTLS_VERDICT_GRANTED) {
        mtls_req(r, 1)->decision->refused = 1;
        /* For the access log (%{MTLS_DENY_REASON}e) and CGI: while a
         * refusal stands, or a report-mode request would have been. */
        apr_table_setn(r->subprocess_env, "MTLS_DENY_REASON",
                       mtls_reason_name(reason));
    }
    return d;
}

authz_status mtls_decision_provider(request_rec *r, const char *provider,
                                    int negated, mtls_reason_e why,
                                    mtls_reason_e mismatch,
                                    const mtls_identity_t *id)
{
    int report = mtls_conf_mode(mtls_dir_conf(r)) == MTLS_MODE_REPORT;
    /* What the request's fate is, given the polarity: a positive line
     * refuses when its test fails, a negated one when it matches. */
    mtls_reason_e refusal = negated ? (why ? MTLS_R_NONE : mismatch) : why;
    mtls_verdict_e verdict = !refusal ? MTLS_VERDICT_GRANTED
                             : report ? MTLS_VERDICT_WOULD_DENY
                             : MTLS_VERDICT_DENIED;
    mtls_decision_t *d = add_record(r, verdict, refusal, provider, negated,
                                    id);

    if (report) {
        if (verdict == MTLS_VERDICT_WOULD_DENY) {
            log_refusal(r, "would deny", d);
        }
        /* Report mode changes nobody's fate: a positive line grants and
         * a negated one "denies", which its negation makes neutral. */
        return negated ? AUTHZ_DENIED : AUTHZ_GRANTED;
    }
    return why ? AUTHZ_DENIED : AUTHZ_GRANTED;
}

void mtls_decision_authn_granted(request_rec *r, const mtls_identity_t *id)
{
    add_record(r, MTLS_VERDICT_GRANTED, MTLS_R_NONE, "AuthType mtls", 0, id);
}

int mtls_decision_refuse(request_rec *r, mtls_reason_e why,
                         const mtls_identity_t *id)
{
    return add_record(r, MTLS_VERDICT_DENIED, why, "AuthType mtls", 0,
                      id)->status;
}

/* Fixups run only for requests that authorisation let in: a denial
 * recorded so far was outvoted (<RequireAny>, Satisfy any) and must not
 * be taken for the reason of a 403 some other module sends later. */
static int notice_outvoted(request_rec *r)
{
    const mtls_req_t *q = mtls_req(r, 0);
    apr_array_header_t *recs;
    const mtls_decision_t *now;
    int i;

    if (!q || !q->decision || !q->decision->refused) {
        return DECLINED;      /* only grants: nothing outvoted, no reason */
    }
    recs = q->decision->records;
    for (i = 0; i < recs->nelts; i++) {
        mtls_decision_t *d = &APR_ARRAY_IDX(recs, i, mtls_decision_t);
        if (d->verdict == MTLS_VERDICT_DENIED) {
            d->outvoted = 1;
        }
    }
    if ((now = mtls_decision_of(r))) {
        apr_table_setn(r->subprocess_env, "MTLS_DENY_REASON",
                       mtls_reason_name(now->reason));
    }
    else {
        apr_table_unset(r->subprocess_env, "MTLS_DENY_REASON");
    }
    return DECLINED;
}

/* The refusal that made this (error) response, looking back through
 * internal redirects to the request where authorisation ran. */
static const mtls_decision_t *refusal_of(request_rec *r, request_rec **where)
{
    for (; r; r = r->prev) {
        const mtls_decision_t *d = mtls_decision_of(r);
        if (d && d->verdict == MTLS_VERDICT_DENIED) {
            *where = r;
            return d;
        }
    }
    return NULL;
}

/* The metrics of one request: what its mtls decisions (@p recs, of
 * which @p d is the one that counts) came to, once, for the
 * (internally redirected) request that made them. */
static void count(request_rec *r, const apr_array_header_t *recs,
                  const mtls_decision_t *d)
{
    const mtls_identity_t *id;

    if (!recs->nelts) {
        return;
    }
    if (d && d->verdict == MTLS_VERDICT_DENIED) {
        mtls_metrics_decision(MTLS_DECIDED_DENIED, d->reason);
    }
    else if (d && d->verdict == MTLS_VERDICT_WOULD_DENY) {
        mtls_metrics_decision(MTLS_DECIDED_WOULD_DENY, d->reason);
    }
    else {
        mtls_metrics_decision(MTLS_DECIDED_GRANTED, MTLS_R_NONE);
    }
    if ((id = mtls_identity_peek(r)) && !id->unusable && id->outcome->user) {
        mtls_metrics_identity(id->outcome->source, id->outcome->strong);
    }
}

/* One line per refused request, written when the outcome is known; and
 * the metrics, from the first request of the chain that made decisions
 * (each request's decision looked up once for both). */
static int log_refusals(request_rec *r)
{
    request_rec *rr;
    int counted = 0;

    for (rr = r; rr; rr = rr->next) {
        const apr_array_header_t *recs = mtls_decision_records(rr);
        const mtls_decision_t *d;
        if (!recs) {
            continue;
        }
        d = recs->nelts ? mtls_decision_of(rr) : NULL;
        if (!counted) {
            count(rr, recs, d);
            counted = 1;
        }
        if (d && d->verdict == MTLS_VERDICT_DENIED
            && (rr->status == HTTP_FORBIDDEN
                || rr->status == HTTP_SERVICE_UNAVAILABLE)) {
            log_refusal(rr, "denied", d);
            break;
        }
    }
    return DECLINED;
}

/* The error body's type: the status page machinery sets text/html. */
static apr_status_t body_type_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    if (f->ctx) {
        ap_set_content_type(f->r, f->ctx);
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* Our body for our refusal, when MTLSErrorDetail is on and the
 * administrator configured no ErrorDocument: decided here, when the
 * error response is made, from the record that made it. */
static void insert_error_filter(request_rec *r)
{
    request_rec *where = NULL;
    const mtls_decision_t *d;
    int json;

    if (r->status != HTTP_FORBIDDEN && r->status != HTTP_SERVICE_UNAVAILABLE
        && r->status != HTTP_UNAUTHORIZED) {
        return;
    }
    d = refusal_of(r, &where);
    /* mod_authz_core answers any denial with 403 (401 under an AuthType
     * with a user): a directory that could not answer makes it a 503
     * with Retry-After, never a 403 that reads as "not a member".  The
     * status page is chosen by the status it was made for, so ours is
     * put there. */
    if (d && d->status == HTTP_SERVICE_UNAVAILABLE
        && r->status != HTTP_SERVICE_UNAVAILABLE) {
        int was = r->status;
        json = wants_json(r);
        r->status = HTTP_SERVICE_UNAVAILABLE;
        r->status_line = NULL;
        apr_table_unset(r->err_headers_out, "WWW-Authenticate");
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_itoa(r->pool, mtls_directory_retry_after(
                                             mtls_dir_conf(where)->directory)));
        if (!mtls_conf_error_detail(mtls_dir_conf(where))) {
            json = 0;
            ap_custom_response(r, was, "<!DOCTYPE html>\n<html><head><title>"
                "503 Service Unavailable</title></head><body><h1>Service "
                "Unavailable</h1><p>The user directory is unavailable. Try "
                "again in a moment.</p></body></html>\n");
        }
        else {
            ap_custom_response(r, was, error_body(r, r->status, d, json));
        }
        ap_add_output_filter("MTLS_BODY_TYPE",
                             (void *)(json ? "application/json"
                                           : "text/html; charset=utf-8"),
                             r, r->connection);
        return;
    }
    if (r->status == HTTP_UNAUTHORIZED) {
        return;
    }
    if (!d || d->status != r->status
        || !mtls_conf_error_detail(mtls_dir_conf(where))
        || ap_response_code_string(r, ap_index_of_response(r->status))) {
        return;
    }
    json = wants_json(r);
    ap_custom_response(r, r->status, error_body(r, r->status, d, json));
    ap_add_output_filter("MTLS_BODY_TYPE",
                         (void *)(json ? "application/json"
                                       : "text/html; charset=utf-8"),
                         r, r->connection);
}

void mtls_decision_register_hooks(apr_pool_t *p)
{
    static const char *const before_log[] = { "mod_log_config.c", NULL };

    ap_hook_fixups(notice_outvoted, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_log_transaction(log_refusals, NULL, before_log,
                            APR_HOOK_REALLY_FIRST);
    ap_hook_insert_error_filter(insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    ap_register_output_filter("MTLS_BODY_TYPE", body_type_filter, NULL,
                              AP_FTYPE_CONTENT_SET);
}
