/* Counters in shared memory and the mtls-status handler.
 *
 * One anonymous segment, made by the parent in post_config and kept in
 * the process pool, so children inherit it through fork and a graceful
 * restart (which re-runs post_config in the same parent) finds it again:
 * counts survive graceful restarts.  Every counter is a 64-bit word that
 * processes and threads add to with relaxed atomic operations: nothing
 * on the request path waits for anyone, and the handler sums nothing
 * because there is one copy.  The segment's layout is fixed at build
 * time; a module built with another layout makes a new segment. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "apr_shm.h"
#include "http_protocol.h"
#include "http_request.h"

#include "mtls_metrics.h"
#include "mtls_decision.h"

#define USERDATA_KEY "mtls_authz_metrics_shm"
#define MAX_FILES 64
#define MAX_PATH_LEN 512

/* Upper bounds of the buckets (Prometheus "le"); +Inf is implicit. */
static const long days_le[] = { 0, 7, 14, 30, 60, 90, 180, 365, 730 };
#define N_DAYS (sizeof(days_le) / sizeof(days_le[0]))
static const apr_interval_time_t ldap_le_us[] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000
};
#define N_LDAP (sizeof(ldap_le_us) / sizeof(ldap_le_us[0]))

static const char *const decided_names[MTLS_DECIDED_COUNT] = {
    "granted", "denied", "would-deny"
};
static const char *const cache_names[MTLS_CACHE_RESULTS] = {
    "hit", "miss", "stale", "error"
};
static const char *const ldap_names[MTLS_LDAPOP_RESULTS] = {
    "ok", "error", "timeout"
};
static const char *const fwd_names[MTLS_FWD_RESULTS] = {
    "verified", "not-verified", "none", "untrusted", "direct"
};
enum { SRC_MAP, SRC_RULE, SRC_LDAP, SRC_COUNT };
static const char *const source_names[SRC_COUNT] = { "map", "rule", "ldap" };

typedef struct {
    char path[MAX_PATH_LEN];      /* written by the parent only */
    apr_uint64_t version;         /* of the last counted reload (CAS) */
    apr_uint64_t ok, error;
} file_slot_t;

typedef struct {
    apr_uint64_t magic;
    apr_uint64_t decisions[MTLS_DECIDED_COUNT][MTLS_R_COUNT];
    apr_uint64_t identities[SRC_COUNT][2];       /* [source][strong] */
    apr_uint64_t cache[MTLS_CACHE_RESULTS];
    apr_uint64_t forwarded[MTLS_FWD_RESULTS];
    apr_uint64_t ldap[MTLS_LDAPOP_RESULTS];
    apr_uint64_t ldap_bucket[N_LDAP + 1];        /* not cumulative */
    apr_uint64_t ldap_sum_us;
    apr_uint64_t days_bucket[N_DAYS + 1];
    apr_int64_t days_sum;
    apr_uint32_t files_used;                     /* parent only */
    file_slot_t files[MAX_FILES];
} metrics_t;

#define MAGIC (0x6d746c736d657472ULL ^ (apr_uint64_t)sizeof(metrics_t))

/* Set by the parent in post_config before any child exists, never
 * written afterwards: children see it read-only through fork. */
static metrics_t *metrics;

#define ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

void mtls_metrics_decision(mtls_decided_e result, int reason)
{
    if (metrics && result < MTLS_DECIDED_COUNT && reason >= 0
        && reason < MTLS_R_COUNT) {
        ADD(metrics->decisions[result][reason], 1);
    }
}

void mtls_metrics_identity(const char *source, int strong)
{
    int src;

    if (!metrics || !source) {
        return;
    }
    src = !strncmp(source, "rule", 4) ? SRC_RULE
        : !strcmp(source, "ldap") ? SRC_LDAP : SRC_MAP;
    ADD(metrics->identities[src][strong ? 1 : 0], 1);
}

void mtls_metrics_forwarded(mtls_fwd_result_e result)
{
    if (metrics && result < MTLS_FWD_RESULTS) {
        ADD(metrics->forwarded[result], 1);
    }
}

void mtls_metrics_cache(mtls_cache_result_e result)
{
    if (metrics && result < MTLS_CACHE_RESULTS) {
        ADD(metrics->cache[result], 1);
    }
}

void mtls_metrics_ldap(mtls_ldap_op_e result, apr_interval_time_t took)
{
    size_t i;

    if (!metrics || result >= MTLS_LDAPOP_RESULTS) {
        return;
    }
    if (took < 0) {
        took = 0;
    }
    ADD(metrics->ldap[result], 1);
    for (i = 0; i < N_LDAP && took > ldap_le_us[i]; i++) {
    }
    ADD(metrics->ldap_bucket[i], 1);
    ADD(metrics->ldap_sum_us, (apr_uint64_t)took);
}

void mtls_metrics_days_left(long days)
{
    size_t i;

    if (!metrics) {
        return;
    }
    for (i = 0; i < N_DAYS && days > days_le[i]; i++) {
    }
    ADD(metrics->days_bucket[i], 1);
    ADD(metrics->days_sum, (apr_int64_t)days);
}

static file_slot_t *file_slot(const char *path)
{
    apr_uint32_t i, used = LOAD(metrics->files_used);

    for (i = 0; i < used; i++) {
        if (!strcmp(metrics->files[i].path, path)) {
            return &metrics->files[i];
        }
    }
    return NULL;
}

void mtls_metrics_file(const char *path, apr_uint64_t version)
{
    file_slot_t *f;

    if (!metrics || strlen(path) >= MAX_PATH_LEN) {
        return;
    }
    if (!(f = file_slot(path))) {
        if (metrics->files_used >= MAX_FILES) {
            return;
        }
        f = &metrics->files[metrics->files_used];
        apr_cpystrn(f->path, path, sizeof(f->path));
        /* Published after the path: readers scan up to files_used. */
        __atomic_store_n(&metrics->files_used, metrics->files_used + 1,
                         __ATOMIC_RELEASE);
    }
    /* What the (re)starting server read is no reload. */
    __atomic_store_n(&f->version, version, __ATOMIC_RELAXED);
}

void mtls_metrics_reload(const char *path, apr_uint64_t version, int ok)
{
    file_slot_t *f;
    apr_uint64_t seen;

    if (!metrics || !(f = file_slot(path))) {
        return;
    }
    /* The first process to see this version counts it. */
    seen = LOAD(f->version);
    while (seen != version) {
        if (__atomic_compare_exchange_n(&f->version, &seen, version, 0,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            ADD(*(ok ? &f->ok : &f->error), 1);
            return;
        }
    }
}

/* A label value: backslash, double quote and newline escaped. */
static const char *label(apr_pool_t *p, const char *s)
{
    apr_size_t n = 0;
    const char *q;
    char *out, *o;

    for (q = s; *q; q++) {
        n += (*q == '\\' || *q == '"' || *q == '\n') ? 2 : 1;
    }
    o = out = apr_palloc(p, n + 1);
    for (q = s; *q; q++) {
        if (*q == '\\' || *q == '"') {
            *o++ = '\\';
            *o++ = *q;
        }
        else if (*q == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        }
        else {
            *o++ = *q;
        }
    }
    *o = '\0';
    return out;
}

static void head(request_rec *r, const char *name, const char *type,
                 const char *help)
{
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render(request_rec *r, const metrics_t *m)
{
    apr_uint64_t cum;
    size_t i;
    int d, k;

    head(r, "mtls_authz_decisions_total", "counter",
         "Requests an mtls-* provider or AuthType mtls decided, by result "
         "(granted, denied, would-deny in report mode) and reason.");
    ap_rprintf(r, "mtls_authz_decisions_total{result=\"granted\","
               "reason=\"none\"} %" APR_UINT64_T_FMT "\n",
               LOAD(m->decisions[MTLS_DECIDED_GRANTED][MTLS_R_NONE]));
    for (d = MTLS_DECIDED_DENIED; d < MTLS_DECIDED_COUNT; d++) {
        for (k = MTLS_R_NONE + 1; k < MTLS_R_COUNT; k++) {
            ap_rprintf(r, "mtls_authz_decisions_total{result=\"%s\","
                       "reason=\"%s\"} %" APR_UINT64_T_FMT "\n",
                       decided_names[d], mtls_reason_name(k),
                       LOAD(m->decisions[d][k]));
        }
    }
    head(r, "mtls_authz_identities_total", "counter",
         "Decided requests whose certificate mapped to a user, by the "
         "source that mapped it and the mapping's strength.");
    for (k = 0; k < SRC_COUNT; k++) {
        for (d = 1; d >= 0; d--) {
            ap_rprintf(r, "mtls_authz_identities_total{source=\"%s\","
                       "strength=\"%s\"} %" APR_UINT64_T_FMT "\n",
                       source_names[k], d ? "strong" : "weak",
                       LOAD(m->identities[k][d]));
        }
    }
    head(r, "mtls_authz_forwarded_certificates_total", "counter",
         "Requests whose certificate a trusted proxy was to forward, or "
         "that brought the header from elsewhere, by what became of it: "
         "verified, not-verified, none (the proxy sent none), untrusted "
         "(the header came from a peer that is not a trusted proxy and was "
         "removed unread), direct (a direct TLS certificate won).");
    for (k = 0; k < MTLS_FWD_RESULTS; k++) {
        ap_rprintf(r, "mtls_authz_forwarded_certificates_total{result="
                   "\"%s\"} %" APR_UINT64_T_FMT "\n",
                   fwd_names[k], LOAD(m->forwarded[k]));
    }
    head(r, "mtls_authz_cache_total", "counter",
         "Directory cache lookups by result.");
    for (k = 0; k < MTLS_CACHE_RESULTS; k++) {
        ap_rprintf(r, "mtls_authz_cache_total{result=\"%s\"} %"
                   APR_UINT64_T_FMT "\n", cache_names[k], LOAD(m->cache[k]));
    }
    head(r, "mtls_authz_ldap_operations_total", "counter",
         "Directory operations (bind, search) by result.");
    for (k = 0; k < MTLS_LDAPOP_RESULTS; k++) {
        ap_rprintf(r, "mtls_authz_ldap_operations_total{result=\"%s\"} %"
                   APR_UINT64_T_FMT "\n", ldap_names[k], LOAD(m->ldap[k]));
    }
    head(r, "mtls_authz_ldap_seconds", "histogram",
         "How long directory operations took.");
    for (i = 0, cum = 0; i <= N_LDAP; i++) {
        cum += LOAD(m->ldap_bucket[i]);
        if (i < N_LDAP) {
            ap_rprintf(r, "mtls_authz_ldap_seconds_bucket{le=\"%g\"} %"
                       APR_UINT64_T_FMT "\n",
                       (double)ldap_le_us[i] / 1e6, cum);
        }
        else {
            ap_rprintf(r, "mtls_authz_ldap_seconds_bucket{le=\"+Inf\"} %"
                       APR_UINT64_T_FMT "\n", cum);
        }
    }
    ap_rprintf(r, "mtls_authz_ldap_seconds_sum %.6f\n"
               "mtls_authz_ldap_seconds_count %" APR_UINT64_T_FMT "\n",
               (double)LOAD(m->ldap_sum_us) / 1e6, cum);
    head(r, "mtls_authz_client_cert_days_left", "histogram",
         "Days until notAfter of the verified client certificates "
         "connections presented (one observation per certificate and "
         "connection; a forwarded one, each time a process verifies it; "
         "expired ones count in le=\"0\").");
    for (i = 0, cum = 0; i <= N_DAYS; i++) {
        cum += LOAD(m->days_bucket[i]);
        if (i < N_DAYS) {
            ap_rprintf(r, "mtls_authz_client_cert_days_left_bucket{le=\"%ld\"}"
                       " %" APR_UINT64_T_FMT "\n", days_le[i], cum);
        }
        else {
            ap_rprintf(r, "mtls_authz_client_cert_days_left_bucket"
                       "{le=\"+Inf\"} %" APR_UINT64_T_FMT "\n", cum);
        }
    }
    ap_rprintf(r, "mtls_authz_client_cert_days_left_sum %" APR_INT64_T_FMT
               "\nmtls_authz_client_cert_days_left_count %" APR_UINT64_T_FMT
               "\n", LOAD(m->days_sum), cum);
    head(r, "mtls_authz_reloads_total", "counter",
         "Re-reads of changed watched files (map, group, deny list, CRL) "
         "by file and result; a change counts once for the server.");
    for (k = 0; k < (int)LOAD(m->files_used); k++) {
        const char *f = label(r->pool, m->files[k].path);
        ap_rprintf(r, "mtls_authz_reloads_total{file=\"%s\",result=\"ok\"} %"
                   APR_UINT64_T_FMT "\n", f, LOAD(m->files[k].ok));
        ap_rprintf(r, "mtls_authz_reloads_total{file=\"%s\",result=\"error\"}"
                   " %" APR_UINT64_T_FMT "\n", f, LOAD(m->files[k].error));
    }
}

static int status_handler(request_rec *r)
{
    if (!r->handler || strcmp(r->handler, "mtls-status")) {
        return DECLINED;
    }
    r->allowed |= AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (!metrics) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MTLS3001: no metrics: "
                      "the shared memory segment could not be made at "
                      "start-up");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        render(r, metrics);
    }
    return OK;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog,
                       apr_pool_t *ptemp, server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    apr_shm_t *shm = NULL;
    apr_status_t rv;
    metrics_t *m;

    apr_pool_userdata_get((void **)&shm, USERDATA_KEY, pp);
    if (shm && apr_shm_size_get(shm) >= sizeof(metrics_t)
        && ((metrics_t *)apr_shm_baseaddr_get(shm))->magic == MAGIC) {
        metrics = apr_shm_baseaddr_get(shm);
        return OK;
    }
    /* First start, or a module of another layout: a new segment (an old
     * one is left to the children of the previous generation). */
    metrics = NULL;
    rv = apr_shm_create(&shm, sizeof(metrics_t), NULL, pp);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "MTLS3002: cannot make "
                     "the metrics' shared memory (%" APR_SIZE_T_FMT " bytes); "
                     "mtls-status will answer 503", sizeof(metrics_t));
        return OK;
    }
    m = apr_shm_baseaddr_get(shm);
    memset(m, 0, sizeof(*m));
    m->magic = MAGIC;
    apr_pool_userdata_set(shm, USERDATA_KEY, apr_pool_cleanup_null, pp);
    metrics = m;
    return OK;
}

void mtls_metrics_register_hooks(apr_pool_t *p)
{
    /* Before the hooks of the other units that register their files. */
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_handler(status_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
