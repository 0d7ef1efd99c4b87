/* Forwarded client certificates: trust, header removal, the peer. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "apr_atomic.h"
#include "apr_lib.h"
#include "apr_network_io.h"
#include "http_core.h"
#include "http_request.h"
#include "http_protocol.h"


#include "mtls_proxy.h"
#include "mtls_fwd.h"
#include "mtls_metrics.h"
#include "mtls_lru.h"
#include "mtls_match.h"

/* Entries of the per-process cache of verified certificates: enough for
 * a busy proxy's clients, bounded so a flood of new ones costs memory
 * only up to here (each entry is one pool, about 8 KiB). */
#define MTLS_PROXY_CACHE_SLOTS 1024
/* How long a verification result is reused: a good one at most this long
 * (and never past the certificate's notAfter), a failed one shorter. */
#define MTLS_PROXY_GOOD_TTL apr_time_from_sec(300)
#define MTLS_PROXY_BAD_TTL  apr_time_from_sec(30)
/* One warning about untrusted peers per this many seconds and process. */
#define MTLS_PROXY_WARN_EVERY 10
#define MTLS_PROXY_DEFAULT_DEPTH 5

typedef struct {
    mtls_fp_kind_e kind;
    const char *hex;
} pin_t;

/* Unset is NULL / -1 / 0 for the *_set flags, so nested scopes inherit. */
struct mtls_proxy_conf_t {
    apr_array_header_t *nets;      /* of apr_ipsubnet_t *; NULL: any */
    apr_array_header_t *pins;      /* of pin_t; NULL: none */
    const char *trusted_text;      /* as written, for hints */
    int trusted_set;               /* MTLSTrustedProxy here ("none" too) */
    const char *header;            /* MTLSProxyCertHeader */
    const char *chain_header;
    const char *header_lc;         /* the same in lower case, */
    const char *chain_lc;          /* for spelling() */
    const unsigned char *first;    /* 1 for each first character of a
                                      spelling of either (256 of them) */
    int format;
    const char *ca_file;
    X509_STORE *store;
    STACK_OF(X509_CRL) *crls;
    int crls_set;
    int depth;
};

/* What the header parser found for the initial request: whether the
 * peer's address is trusted, and the raw values it sent. */
typedef struct {
    int trusted_addr;
    const char *value;
    const char *chain;
} stash_t;

/* The request's own state (in the module's request_config, which costs
 * no hashing, unlike pool userdata): the stash of the initial request,
 * and the cache entry the request holds. */
struct mtls_req_proxy {
    stash_t stash;
    int stashed;
    mtls_lru_entry_t *entry;
    int counted;                   /* 1 + mtls_fwd_result_e to count in
                                      the log hook, or 0 */
};

/* (inline: a few loads, and called four times per forwarded request) */
static APR_INLINE struct mtls_req_proxy *req_proxy(const request_rec *r,
                                                   int create)
{
    mtls_req_t *q = mtls_req(r, create);

    if (q && !q->proxy && create) {
        q->proxy = apr_pcalloc(r->pool, sizeof(*q->proxy));
    }
    return q ? q->proxy : NULL;
}

/* Per process, made in child_init before any request thread runs and
 * never replaced: the cache and the warning limiter's counters. */
typedef struct {
    mtls_lru_t *cache;
    volatile apr_uint32_t warn_at[2];  /* apr_time_sec of the last one */
    volatile apr_uint32_t suppressed[2];
} proc_t;

/* The warnings limited separately: the header from an address that is
 * not trusted, and from a trusted address whose certificate is not
 * pinned (a host in the range that should not be forwarding). */
typedef enum { WARN_ADDRESS = 0, WARN_PIN = 1 } warn_e;

static proc_t *proc;

/* The proxy settings of the directive's scope, made on first use.  Where
 * the per-directory record keeps them is the directive's cmd->info (an
 * offset, as for ap_set_string_slot): this unit does not depend on the
 * configuration unit, which depends on it. */
static mtls_proxy_conf_t *conf_of(cmd_parms *cmd, void *dcv)
{
    mtls_proxy_conf_t **slot = (mtls_proxy_conf_t **)
        ((char *)dcv + (apr_uintptr_t)cmd->info);

    if (!*slot) {
        mtls_proxy_conf_t *pc = apr_pcalloc(cmd->pool, sizeof(*pc));
        pc->format = -1;
        pc->depth = -1;
        *slot = pc;
    }
    return *slot;
}

mtls_proxy_conf_t *mtls_proxy_merge(apr_pool_t *p,
                                    const mtls_proxy_conf_t *base,
                                    const mtls_proxy_conf_t *add)
{
    mtls_proxy_conf_t *pc;

    if (!base || !add) {
        return (mtls_proxy_conf_t *)(add ? add : base);
    }
    pc = apr_pmemdup(p, base, sizeof(*pc));
    if (add->trusted_set) {
        pc->nets = add->nets;
        pc->pins = add->pins;
        pc->trusted_text = add->trusted_text;
        pc->trusted_set = 1;
    }
    if (add->header) {
        pc->header = add->header;
        pc->chain_header = add->chain_header;
        pc->header_lc = add->header_lc;
        pc->chain_lc = add->chain_lc;
        pc->first = add->first;
        pc->format = add->format;
    }
    if (add->ca_file) {
        pc->ca_file = add->ca_file;
        pc->store = add->store;
    }
    if (add->crls_set) {
        pc->crls = add->crls;
        pc->crls_set = 1;
    }
    if (add->depth != -1) {
        pc->depth = add->depth;
    }
    return pc;
}

/* ---- directives ------------------------------------------------------- */

const char *mtls_cmd_trusted_proxy(cmd_parms *cmd, void *dcv,
                                   const char *arg)
{
    mtls_proxy_conf_t *pc = conf_of(cmd, dcv);
    char *ip, *mask;
    apr_ipsubnet_t *net;
    apr_status_t rv;

    /* Several lines in one scope add up; a nested scope starts afresh. */
    if (!pc->trusted_set) {
        pc->trusted_set = 1;
        pc->nets = NULL;
        pc->pins = NULL;
        pc->trusted_text = NULL;
    }
    if (!strcasecmp(arg, "none")) {
        pc->nets = NULL;
        pc->pins = NULL;
        pc->trusted_text = NULL;
        return NULL;
    }
    pc->trusted_text = pc->trusted_text
        ? apr_pstrcat(cmd->pool, pc->trusted_text, " ", arg, NULL) : arg;
    if (!strncasecmp(arg, "cert:", 5) || !strncasecmp(arg, "spki:", 5)) {
        pin_t pin;
        const char *err = mtls_fingerprint_parse(cmd->pool,
                                                 !strncasecmp(arg, "cert:", 5)
                                                 ? arg + 5 : arg,
                                                 &pin.kind, &pin.hex);
        if (err || (!strncasecmp(arg, "cert:", 5)
                    && pin.kind != MTLS_FP_SHA256)) {
            return apr_psprintf(cmd->pool, "MTLSTrustedProxy %s: write "
                                "cert:sha256:HEX or spki:HEX (64 hex "
                                "digits)%s%s", arg, err ? ": " : "",
                                err ? err : "");
        }
        if (!pc->pins) {
            pc->pins = apr_array_make(cmd->pool, 1, sizeof(pin_t));
        }
        APR_ARRAY_PUSH(pc->pins, pin_t) = pin;
        return NULL;
    }
    ip = apr_pstrdup(cmd->temp_pool, arg);
    if ((mask = strchr(ip, '/'))) {
        *mask++ = '\0';
    }
    /* Only numeric addresses (APR takes no names): trust must not
     * depend on DNS. */
    if (!*ip || (mask && !*mask)
        || (rv = apr_ipsubnet_create(&net, ip, mask, cmd->pool))
           != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "MTLSTrustedProxy %s: not an IP "
                            "address, CIDR range (10.0.0.0/8), "
                            "cert:sha256:HEX or spki:HEX", arg);
    }
    if (!pc->nets) {
        pc->nets = apr_array_make(cmd->pool, 2, sizeof(apr_ipsubnet_t *));
    }
    APR_ARRAY_PUSH(pc->nets, apr_ipsubnet_t *) = net;
    return NULL;
}

/* A header name as RFC 9110 allows it. */
static int is_token(const char *s)
{
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_isalnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s)) {
            return 0;
        }
    }
    return 1;
}

/* ASCII case folding inline: header names are tokens, and a call to the
 * C library's tolower per character costs more than the rest. */
#define LOWER(c) ((c) >= 'A' && (c) <= 'Z' ? (c) + ('a' - 'A') : (c))

static const char *lower(apr_pool_t *p, const char *name)
{
    char *lc = apr_pstrdup(p, name), *c;

    for (c = lc; *c; c++) {
        *c = (char)LOWER(*c);
    }
    return lc;
}

/* Mark in @p first every character a spelling of @p lc (any case, '_'
 * for '-') can start with. */
static void add_first(unsigned char first[256], const char *lc)
{
    unsigned char c = (unsigned char)lc[0];

    first[c] = 1;
    first[(unsigned char)apr_toupper(c)] = 1;
    if (c == '-' || c == '_') {
        first['-'] = first['_'] = 1;
    }
}

const char *mtls_cmd_proxy_cert_header(cmd_parms *cmd, void *dcv,
                                       const char *name, const char *format,
                                       const char *chain)
{
    mtls_proxy_conf_t *pc = conf_of(cmd, dcv);
    int f = mtls_fwd_format_parse(format);

    if (!is_token(name) || (chain && !is_token(chain))) {
        return apr_psprintf(cmd->pool, "MTLSProxyCertHeader: '%s' is not a "
                            "header name", is_token(name) ? chain : name);
    }
    if (f < 0) {
        return apr_psprintf(cmd->pool, "MTLSProxyCertHeader %s %s: the "
                            "format is one of rfc9440, xfcc, pem-urlencoded, "
                            "der-base64", name, format);
    }
    if (chain && f != MTLS_FWD_RFC9440) {
        return apr_psprintf(cmd->pool, "MTLSProxyCertHeader %s %s: only "
                            "rfc9440 has a separate chain header (xfcc "
                            "carries Chain=, the others the chain after "
                            "the certificate)", name, format);
    }
    pc->header = name;
    pc->format = f;
    pc->chain_header = f == MTLS_FWD_RFC9440
        ? (chain ? chain : apr_pstrcat(cmd->pool, name, "-Chain", NULL))
        : NULL;
    pc->header_lc = lower(cmd->pool, pc->header);
    pc->chain_lc = pc->chain_header ? lower(cmd->pool, pc->chain_header)
                                    : NULL;
    {
        unsigned char *first = apr_pcalloc(cmd->pool, 256);
        add_first(first, pc->header_lc);
        if (pc->chain_lc) {
            add_first(first, pc->chain_lc);
        }
        pc->first = first;
    }
    return NULL;
}

const char *mtls_cmd_proxy_cert_ca(cmd_parms *cmd, void *dcv,
                                   const char *file)
{
    mtls_proxy_conf_t *pc = conf_of(cmd, dcv);
    const char *path = ap_server_root_relative(cmd->pool, file), *err;

    if (!path) {
        return apr_psprintf(cmd->pool, "MTLSProxyCertCA: bad path %s", file);
    }
    if ((err = mtls_fwd_load_cas(cmd->pool, path, &pc->store))) {
        return apr_pstrcat(cmd->pool, "MTLSProxyCertCA: ", err, NULL);
    }
    pc->ca_file = path;
    return NULL;
}

const char *mtls_cmd_proxy_crl(cmd_parms *cmd, void *dcv, const char *file)
{
    mtls_proxy_conf_t *pc = conf_of(cmd, dcv);
    const char *path, *err;

    pc->crls_set = 1;
    pc->crls = NULL;
    if (!strcasecmp(file, "none")) {
        return NULL;
    }
    if (!(path = ap_server_root_relative(cmd->pool, file))) {
        return apr_psprintf(cmd->pool, "MTLSProxyCRL: bad path %s", file);
    }
    if ((err = mtls_fwd_load_crls(cmd->pool, path, &pc->crls))) {
        return apr_pstrcat(cmd->pool, "MTLSProxyCRL: ", err, NULL);
    }
    return NULL;
}

const char *mtls_cmd_proxy_verify_depth(cmd_parms *cmd, void *dcv,
                                        const char *arg)
{
    mtls_proxy_conf_t *pc = conf_of(cmd, dcv);
    char *end;
    long n = strtol(arg, &end, 10);

    if (!*arg || *end || n < 0 || n > 16) {
        return "MTLSProxyVerifyDepth takes a number of intermediate CAs "
               "(0-16), as SSLVerifyDepth";
    }
    pc->depth = (int)n;
    return NULL;
}

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

static void warn_untrusted(request_rec *r, warn_e kind, const char *header,
                           const char *why)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t last;

    if (!proc) {
        return;
    }
    last = apr_atomic_read32(&proc->warn_at[kind]);
    if ((last && now - last < MTLS_PROXY_WARN_EVERY)
        || apr_atomic_cas32(&proc->warn_at[kind], now, last) != last) {
        apr_atomic_inc32(&proc->suppressed[kind]);
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "MTLS5001: removed the forwarded client certificate "
                  "header %s sent by %s, %s; it was not read (%u more "
                  "such requests since the last warning)", header,
                  r->connection->client_ip, why,
                  apr_atomic_xchg32(&proc->suppressed[kind], 0));
}

/* The request this one descends from: sub-requests and internal
 * redirects share the original request's headers. */
static request_rec *initial_of(request_rec *r)
{
    for (;;) {
        if (r->main) {
            r = r->main;
        }
        else if (r->prev) {
            r = r->prev;
        }
        else {
            return r;
        }
    }
}

/* The proxy state of the initial request, when it stashed what the
 * header parser found. */
static struct mtls_req_proxy *find_stash(request_rec *r)
{
    struct mtls_req_proxy *rp = req_proxy(initial_of(r), 0);

    return rp && rp->stashed ? rp : NULL;
}

/* What the metrics are to count for the initial request of @p r (the
 * last word wins: a sub-request may read under other settings). */
static void set_counted(request_rec *r, struct mtls_req_proxy *rp,
                        mtls_fwd_result_e result)
{
    if (!rp) {
        rp = req_proxy(initial_of(r), 1);
    }
    rp->counted = 1 + (int)result;
}

static int addr_trusted(request_rec *r, const mtls_proxy_conf_t *pc)
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

int mtls_proxy_scrub(request_rec *r, const mtls_proxy_conf_t *pc)
{
    const apr_array_header_t *arr;
    const apr_table_entry_t *elts;
    /* the names to remove: nearly always one or two, so no allocation
     * unless more came */
    const char *few[4], **gone = few;
    int ngone = 0, room = 4;
    stash_t *st = NULL;
    int i, trusted;

    if (!pc || !pc->header) {
        return DECLINED;
    }
    trusted = addr_trusted(r, pc);
    if (trusted && !r->prev) {
        struct mtls_req_proxy *rp = req_proxy(r, 1);
        rp->stashed = 1;
        st = &rp->stash;
        st->trusted_addr = 1;
    }
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
            warn_untrusted(r, WARN_ADDRESS, elts[i].key, "which is not a "
                           "trusted proxy "
                           "(MTLSTrustedProxy)");
            set_counted(r, NULL, MTLS_FWD_UNTRUSTED);
        }
        else if (st && (sv == 1 || sc == 1)) {
            const char **slot = sv ? &st->value : &st->chain;
            *slot = *slot ? apr_pstrcat(r->pool, *slot, ", ", elts[i].val,
                                        NULL)
                          : elts[i].val;
        }
        if (ngone == room) {
            const char **more = apr_palloc(r->pool, 2 * room * sizeof(*more));
            memcpy(more, gone, room * sizeof(*more));
            gone = more;
            room *= 2;
        }
        gone[ngone++] = elts[i].key;
    }
    for (i = 0; i < ngone; i++) {
        apr_table_unset(r->headers_in, gone[i]);
    }
    return DECLINED;
}

/* ---- the forwarded peer ------------------------------------------- */

static int pinned(const mtls_proxy_conf_t *pc, const mtls_peer_t *tls)
{
    int i;

    if (!tls->cert || tls->state == MTLS_PEER_NONE) {
        return 0;
    }
    for (i = 0; i < pc->pins->nelts; i++) {
        const pin_t *pin = &APR_ARRAY_IDX(pc->pins, i, pin_t);
        if (!strcmp(pin->hex, pin->kind == MTLS_FP_SHA256 ? tls->cert->sha256
                                                          : tls->cert->spki)) {
            return 1;
        }
    }
    return 0;
}

static mtls_peer_t *no_cert_peer(request_rec *r, const mtls_proxy_conf_t *pc,
                                 const char *why)
{
    mtls_peer_t *peer = apr_pcalloc(r->pool, sizeof(*peer));

    peer->state = MTLS_PEER_NONE;
    peer->verify = "NONE";
    peer->source = "proxy";
    peer->hint = apr_psprintf(r->pool, "the trusted proxy %s %s: check "
                              "that it asks clients for a certificate and "
                              "forwards it in the header this server reads "
                              "(MTLSProxyCertHeader %s %s)",
                              r->connection->client_ip, why, pc->header,
                              mtls_fwd_format_name(pc->format));
    return peer;
}

/* Decode and verify what the proxy sent, into @p p (an entry's pool). */
static mtls_peer_t *verify_peer(request_rec *r, apr_pool_t *p,
                                const mtls_proxy_conf_t *pc,
                                const apr_array_header_t *certs,
                                apr_time_t *expires)
{
    mtls_peer_t *peer = apr_pcalloc(p, sizeof(*peer));
    const char *verr = NULL, *err;
    mtls_cert_t *cert = NULL;
    X509 *x;

    peer->source = "proxy";
    peer->state = MTLS_PEER_UNVERIFIED;
    *expires = r->request_time + MTLS_PROXY_BAD_TTL;
    x = mtls_fwd_verify(p, pc->store, pc->crls,
                        pc->depth >= 0 ? pc->depth : MTLS_PROXY_DEFAULT_DEPTH,
                        certs, r->request_time, &verr);
    if (x) {
        if (mtls_cert_from_x509(p, x, &cert, &err) == APR_SUCCESS) {
            peer->cert = cert;
        }
        else {
            peer->cert_error = err;
            verr = verr ? verr : err;
        }
        X509_free(x);
    }
    if (verr) {
        peer->verify = apr_pstrcat(p, "FAILED:", verr, NULL);
        peer->verify_detail = peer->verify + 7;
    }
    else {
        peer->state = MTLS_PEER_VERIFIED;
        peer->verify = "SUCCESS";
        /* once per certificate as the process verifies it, as a TLS
         * certificate is once per connection */
        mtls_metrics_days_left(mtls_cert_days_left(cert, r->request_time));
        *expires = r->request_time + MTLS_PROXY_GOOD_TTL;
        if (cert->not_after_time < *expires) {
            *expires = cert->not_after_time;
        }
    }
    if (cert) {
        cert->verify = peer->verify;
    }
    return peer;
}

/* A forwarded value that does not decode, as a peer in @p p. */
static mtls_peer_t *bad_peer(apr_pool_t *p, const char *err)
{
    mtls_peer_t *peer = apr_pcalloc(p, sizeof(*peer));

    peer->source = "proxy";
    peer->state = MTLS_PEER_UNVERIFIED;
    peer->verify = apr_pstrcat(p, "FAILED:", err, NULL);
    peer->verify_detail = peer->verify + 7;
    peer->cert_error = peer->verify_detail;
    return peer;
}

static apr_status_t release_entry(void *data)
{
    if (proc) {
        mtls_lru_release(proc->cache, data);
    }
    return APR_SUCCESS;
}

/* The cache key: the verification settings, then the values as sent
 * (in full: the cache compares them byte for byte), as parts of the
 * request's own strings, so a lookup copies nothing.  The chain goes
 * before the certificate: the key's end, which the cache hashes, is then
 * the client's own signature, not the intermediate's that every client
 * of a CA sends alike.  Each value keeps its terminating NUL, so the
 * cut between them is part of the key. */
typedef struct {
    const void *store;
    const void *crls;
    int depth;
    int format;
} key_head_t;

static int cache_key(const mtls_proxy_conf_t *pc, const stash_t *st,
                     key_head_t *head, mtls_lru_part_t parts[3])
{
    int n = 0;

    memset(head, 0, sizeof(*head));
    head->store = pc->store;
    head->crls = pc->crls;
    head->depth = pc->depth;
    head->format = pc->format;
    parts[n].data = head;
    parts[n++].len = sizeof(*head);
    if (st->chain) {
        parts[n].data = st->chain;
        parts[n++].len = strlen(st->chain) + 1;
    }
    parts[n].data = st->value;
    parts[n++].len = strlen(st->value) + 1;
    return n;
}

const mtls_peer_t *mtls_proxy_peer(request_rec *r,
                                   const mtls_proxy_conf_t *pc,
                                   const mtls_peer_t *tls)
{
    struct mtls_req_proxy *rp;
    const stash_t *st;
    apr_array_header_t *certs;
    key_head_t head;
    mtls_lru_part_t parts[3];
    int nparts;
    mtls_lru_entry_t *e;
    const char *err;
    apr_time_t expires;

    if (!pc || !pc->header || !(rp = find_stash(r))
        || !(st = &rp->stash)->trusted_addr) {
        return NULL;
    }
    if (pc->pins) {
        if (!pinned(pc, tls)) {
            if (st->value) {
                warn_untrusted(r, WARN_PIN, pc->header, "whose TLS client "
                               "certificate "
                               "is not pinned by MTLSTrustedProxy");
                set_counted(r, rp, MTLS_FWD_UNTRUSTED);
            }
            return NULL;
        }
        /* The certificate on this hop is the proxy's own, not a client's. */
    }
    else if (tls->state != MTLS_PEER_NONE) {
        if (st->value) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          "MTLS5002: a direct TLS client certificate and a "
                          "forwarded one (%s) came with this request; the "
                          "direct one wins", pc->header);
            set_counted(r, rp, MTLS_FWD_DIRECT);
        }
        return NULL;
    }
    if (!st->value) {
        set_counted(r, rp, MTLS_FWD_NONE);
        return no_cert_peer(r, pc, apr_psprintf(r->pool, "sent no %s header",
                                                pc->header));
    }
    if (!proc) {
        return NULL;
    }
    nparts = cache_key(pc, st, &head, parts);
    if (!(e = mtls_lru_get_parts(proc->cache, parts, nparts,
                                 r->request_time))) {
        if (mtls_fwd_decode(r->pool, pc->format, st->value, st->chain,
                            &certs, &err) == APR_SUCCESS && !certs->nelts) {
            set_counted(r, rp, MTLS_FWD_NONE);
            return no_cert_peer(r, pc, apr_psprintf(r->pool, "sent an empty "
                                                    "%s header", pc->header));
        }
        if (!(e = mtls_lru_entry_create_parts(parts, nparts))) {
            /* Too long to cache (or no memory): this request only. */
            const mtls_peer_t *once = err ? bad_peer(r->pool, err)
                                  : verify_peer(r, r->pool, pc, certs,
                                                &expires);
            set_counted(r, rp, once->state == MTLS_PEER_VERIFIED
                               ? MTLS_FWD_VERIFIED : MTLS_FWD_NOT_VERIFIED);
            return once;
        }
        if (err) {
            expires = r->request_time + MTLS_PROXY_BAD_TTL;
            mtls_lru_entry_set(e, bad_peer(mtls_lru_entry_pool(e), err),
                               expires);
        }
        else {
            mtls_peer_t *peer = verify_peer(r, mtls_lru_entry_pool(e), pc,
                                            certs, &expires);
            mtls_lru_entry_set(e, peer, expires);
        }
        e = mtls_lru_put(proc->cache, e);
        if (APLOGrdebug(r)) {
            const mtls_peer_t *peer = mtls_lru_entry_value(e);
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          "MTLS5003: forwarded certificate %s verified: %s",
                          peer->cert ? peer->cert->subject : "(unreadable)",
                          peer->verify);
        }
    }
    set_counted(r, rp, ((const mtls_peer_t *)mtls_lru_entry_value(e))->state
                       == MTLS_PEER_VERIFIED ? MTLS_FWD_VERIFIED
                                             : MTLS_FWD_NOT_VERIFIED);
    apr_pool_cleanup_register(r->pool, e, release_entry,
                              apr_pool_cleanup_null);
    /* (a later peer of this request, under another configuration,
     * replaces it; the first stays held until its cleanup runs) */
    if (!r->main && !r->prev) {
        rp->entry = e;            /* the stash is this request's own */
    }
    else {
        req_proxy(r, 1)->entry = e;
    }
    return mtls_lru_entry_value(e);
}

const void *mtls_proxy_memo_get(request_rec *r, const void *key,
                                apr_size_t klen)
{
    struct mtls_req_proxy *rp = req_proxy(r, 0);

    return rp && rp->entry && proc
           ? mtls_lru_memo_get(rp->entry, key, klen, r->request_time) : NULL;
}

const void *mtls_proxy_memo_put(request_rec *r, const void *key,
                                apr_size_t klen,
                                const void *(*copy)(apr_pool_t *p,
                                                    const void *value),
                                const void *value, apr_time_t expires)
{
    struct mtls_req_proxy *rp = req_proxy(r, 0);

    return rp && rp->entry && proc
           ? mtls_lru_memo_put(proc->cache, rp->entry, key, klen, copy,
                               value, expires, r->request_time)
           : NULL;
}

/* ---- hooks ------------------------------------------------------------ */

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    proc_t *pr = apr_pcalloc(pchild, sizeof(*pr));

    if (mtls_lru_create(pchild, MTLS_PROXY_CACHE_SLOTS, &pr->cache)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "MTLS5004: cannot create "
                     "the cache of forwarded certificates; forwarded "
                     "certificates will be refused");
        return;
    }
    proc = pr;
}

/* The metrics: what became of the request's forwarded certificate,
 * once per request. */
static int count_forwarded(request_rec *r)
{
    struct mtls_req_proxy *rp = req_proxy(initial_of(r), 0);

    if (rp && rp->counted) {
        mtls_metrics_forwarded((mtls_fwd_result_e)(rp->counted - 1));
        rp->counted = 0;
    }
    return DECLINED;
}

void mtls_proxy_register_hooks(apr_pool_t *p)
{
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(count_forwarded, NULL, NULL, APR_HOOK_MIDDLE);
}
