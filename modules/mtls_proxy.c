/* Forwarded client certificates: the headers that carry them, removed
 * from every request (and read only from a trusted proxy), the
 * rate-limited warning about the others, and the metrics of what became
 * of each request's forwarded certificate.  The directives are in
 * mtls_proxy_conf.c, the forwarded peer in mtls_proxy_peer.c. */
#include "mtls_proxy_private.h"
#include <string.h>

#include "apr_strings.h"
#include "apr_atomic.h"
#include "apr_network_io.h"
#include "http_core.h"
#include "http_request.h"
#include "http_protocol.h"

/* One warning about untrusted peers per this many seconds and process. */
#define MTLS_PROXY_WARN_EVERY 10

/* The warning limiter's counters, per process and kind (warn_e). */
static volatile apr_uint32_t warn_at[2];    /* apr_time_sec of the last */
static volatile apr_uint32_t suppressed[2];

/* ---- removing the headers ----------------------------------------- */

/* 1 when @p key is the name @p lc (in lower case) in any case, 2 when it
 * is one of its other spellings ('_' for '-', any case), 0 otherwise.
 * The character as sent is compared first: names usually come in one
 * case or the other. */
static int spelling(const char *key, const char *lc)
{
    int exact = 1;

    if (!lc) {
        return 0;
    }
    for (; *lc; key++, lc++) {
        char k = *key, n = *lc;
        if (k == n || (k = (char)LOWER(k)) == n) {
            continue;
        }
        /* (the end of key, a NUL, matches nothing here) */
        if ((k == '_' ? '-' : k) != (n == '_' ? '-' : n)) {
            return 0;
        }
        exact = 0;
    }
    return *key ? 0 : (exact ? 1 : 2);
}

void mtls_proxy_warn_untrusted(request_rec *r, warn_e kind,
                               const char *header, const char *why)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t last;

    last = apr_atomic_read32(&warn_at[kind]);
    if ((last && now - last < MTLS_PROXY_WARN_EVERY)
        || apr_atomic_cas32(&warn_at[kind], now, last) != last) {
        apr_atomic_inc32(&suppressed[kind]);
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "MTLS5001: removed the forwarded client certificate "
                  "header %s sent by %s, %s; it was not read (%u more "
                  "such requests since the last warning)", header,
                  r->connection->client_ip, why,
                  apr_atomic_xchg32(&suppressed[kind], 0));
}

int mtls_proxy_addr_trusted(request_rec *r, const mtls_proxy_conf_t *pc)
{
    conn_rec *c = r->connection->master ? r->connection->master
                                        : r->connection;
    int i;

    if (!pc->nets) {
        return pc->pins != NULL;     /* pinned by certificate alone */
    }
    for (i = 0; i < pc->nets->nelts; i++) {
        if (apr_ipsubnet_test(APR_ARRAY_IDX(pc->nets, i, apr_ipsubnet_t *),
                              c->client_addr)) {
            return 1;
        }
    }
    return 0;
}

/* The names of headers to remove once the table has been looked
 * through (removing while walking it would move its entries): nearly
 * always one or two, so nothing is allocated unless more came. */
typedef struct {
    const char *few[4];
    const char **names;
    int n, room;
} gone_t;

static void gone_init(gone_t *g)
{
    g->names = g->few;
    g->n = 0;
    g->room = 4;
}

static void gone_add(apr_pool_t *p, gone_t *g, const char *key)
{
    if (g->n == g->room) {
        const char **more = apr_palloc(p, 2 * g->room * sizeof(*more));
        memcpy(more, g->names, g->room * sizeof(*more));
        g->names = more;
        g->room *= 2;
    }
    g->names[g->n++] = key;
}

static void gone_remove(request_rec *r, const gone_t *g)
{
    int i;

    for (i = 0; i < g->n; i++) {
        apr_table_unset(r->headers_in, g->names[i]);
    }
}

/* Whether @p lc is one of @p pc's own names (which the scope reads). */
static int own_name(const mtls_proxy_conf_t *pc, const char *lc)
{
    return pc && pc->header
           && (!strcmp(lc, pc->header_lc)
               || (pc->chain_lc && !strcmp(lc, pc->chain_lc)));
}

/* Remove from @p r, unread, every header of @p all that is not one of
 * @p pc's: the host's other forwarded-certificate names, in a scope that
 * does not read them (a backend there must not get them either). */
static void remove_others(request_rec *r, const mtls_proxy_names_t *all,
                          const mtls_proxy_conf_t *pc)
{
    const apr_array_header_t *arr = apr_table_elts(r->headers_in);
    const apr_table_entry_t *elts = (const apr_table_entry_t *)arr->elts;
    gone_t gone;
    int i, j, others = 0;

    for (j = 0; j < all->lc->nelts; j++) {
        others += !own_name(pc, APR_ARRAY_IDX(all->lc, j, const char *));
    }
    if (!others) {
        return;            /* (the usual case: the scope reads them all) */
    }
    gone_init(&gone);
    for (i = 0; i < arr->nelts; i++) {
        if (!elts[i].key || !all->first[(unsigned char)elts[i].key[0]]) {
            continue;
        }
        for (j = 0; j < all->lc->nelts; j++) {
            const char *lc = APR_ARRAY_IDX(all->lc, j, const char *);
            if (!own_name(pc, lc) && spelling(elts[i].key, lc)) {
                gone_add(r->pool, &gone, elts[i].key);
                break;
            }
        }
    }
    gone_remove(r, &gone);
}

int mtls_proxy_scrub(request_rec *r, const mtls_proxy_conf_t *pc,
                     const mtls_proxy_names_t *all)
{
    const apr_array_header_t *arr;
    const apr_table_entry_t *elts;
    gone_t gone;
    stash_t *st = NULL;
    int i, trusted;

    if (all) {
        remove_others(r, all, pc);
    }
    if (!pc || !pc->header) {
        return DECLINED;
    }
    trusted = mtls_proxy_addr_trusted(r, pc);
    if (trusted && !r->prev) {
        struct mtls_req_proxy *rp = req_proxy(r, 1);
        rp->stashed = 1;
        st = &rp->stash;
        st->pc = pc;
    }
    gone_init(&gone);
    arr = apr_table_elts(r->headers_in);
    elts = (const apr_table_entry_t *)arr->elts;
    /* One look at the first character rules out nearly every header. */
    for (i = 0; i < arr->nelts; i++) {
        int sv, sc;
        if (!elts[i].key || !pc->first[(unsigned char)elts[i].key[0]]) {
            continue;
        }
        /* the name as configured, in any case, first: the C library's
         * comparison is quicker than spelling()'s loop */
        if (!strcasecmp(elts[i].key, pc->header)) {
            sv = 1;
            sc = 0;
        }
        else if (pc->chain_header
                 && !strcasecmp(elts[i].key, pc->chain_header)) {
            sv = 0;
            sc = 1;
        }
        else {
            sv = spelling(elts[i].key, pc->header_lc);
            sc = sv ? 0 : spelling(elts[i].key, pc->chain_lc);
        }
        if (!sv && !sc) {
            continue;
        }
        if (!trusted) {
            mtls_proxy_warn_untrusted(r, WARN_ADDRESS, elts[i].key,
                                      "which is not a trusted proxy "
                                      "(MTLSTrustedProxy)");
            mtls_proxy_set_counted(r, NULL, MTLS_FWD_UNTRUSTED);
        }
        else if (st && (sv == 1 || sc == 1)) {
            const char **slot = sv ? &st->value : &st->chain;
            *slot = *slot ? apr_pstrcat(r->pool, *slot, ", ", elts[i].val,
                                        NULL)
                          : elts[i].val;
        }
        gone_add(r->pool, &gone, elts[i].key);
    }
    gone_remove(r, &gone);
    return DECLINED;
}


/* ---- hooks ------------------------------------------------------------ */

/* The metrics: what became of the request's forwarded certificate,
 * once per request. */
static int count_forwarded(request_rec *r)
{
    struct mtls_req_proxy *rp = req_proxy(mtls_proxy_initial(r), 0);

    if (rp && rp->counted) {
        mtls_metrics_forwarded((mtls_fwd_result_e)(rp->counted - 1));
        rp->counted = 0;
    }
    return DECLINED;
}

void mtls_proxy_register_hooks(apr_pool_t *p)
{
    mtls_proxy_peer_register_hooks(p);
    ap_hook_log_transaction(count_forwarded, NULL, NULL, APR_HOOK_MIDDLE);
}
