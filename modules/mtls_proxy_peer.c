/* Forwarded client certificates: the peer a trusted proxy forwarded,
 * decoded and verified by the module (MTLSProxyCertCA, MTLSProxyCRL,
 * MTLSProxyVerifyDepth), and kept by its value in a per-process LRU with
 * what is remembered with it. */
#include "mtls_proxy_private.h"
#include <string.h>

#include "apr_strings.h"
#include "http_request.h"

/* Entries of the per-process cache of verified certificates: enough for
 * a busy proxy's clients, bounded so a flood of new ones costs memory
 * only up to here (each entry is one pool, about 8 KiB). */
#define MTLS_PROXY_CACHE_SLOTS 1024
/* How long a verification result is reused: a good one at most this long
 * (and never past the certificate's notAfter), a failed one shorter. */
#define MTLS_PROXY_GOOD_TTL apr_time_from_sec(300)
#define MTLS_PROXY_BAD_TTL  apr_time_from_sec(30)
#define MTLS_PROXY_DEFAULT_DEPTH 5

/* Per process, made in child_init before any request thread runs and
 * never replaced. */
static mtls_lru_t *cache;

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
    if (cache) {
        mtls_lru_release(cache, data);
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

/* Whether @p st (read under its settings) holds what @p pc reads: the
 * same header names. */
static int same_headers(const stash_t *st, const mtls_proxy_conf_t *pc)
{
    const mtls_proxy_conf_t *at = st->pc;

    if (at == pc) {
        return 1;
    }
    return !strcasecmp(at->header, pc->header)
           && (at->chain_header == pc->chain_header
               || (at->chain_header && pc->chain_header
                   && !strcasecmp(at->chain_header, pc->chain_header)));
}

const mtls_peer_t *mtls_proxy_peer(request_rec *r,
                                   const mtls_proxy_conf_t *pc,
                                   const mtls_peer_t *tls, int *keep)
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

    *keep = 1;
    if (!pc || !pc->header) {
        return NULL;
    }
    rp = mtls_proxy_find_stash(r);
    st = rp ? &rp->stash : NULL;
    /* Trusted here, under this scope's MTLSTrustedProxy: a subrequest or
     * internal redirect into a scope that trusts fewer peers must not
     * take the first scope's word for it. */
    if (!(st && st->pc == pc) && !mtls_proxy_addr_trusted(r, pc)) {
        return NULL;
    }
    if (pc->pins) {
        if (!pinned(pc, tls)) {
            if (st && st->value) {
                mtls_proxy_warn_untrusted(r, WARN_PIN, pc->header,
                                          "whose TLS client certificate is "
                                          "not pinned by MTLSTrustedProxy");
                mtls_proxy_set_counted(r, rp, MTLS_FWD_UNTRUSTED);
            }
            return NULL;
        }
        /* The certificate on this hop is the proxy's own, not a client's:
         * from here on, never the answer. */
    }
    else if (tls->state != MTLS_PEER_NONE) {
        if (st && st->value) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          "MTLS5002: a direct TLS client certificate and a "
                          "forwarded one (%s) came with this request; the "
                          "direct one wins", pc->header);
            mtls_proxy_set_counted(r, rp, MTLS_FWD_DIRECT);
        }
        return NULL;
    }
    if (!st || !same_headers(st, pc)) {
        /* A peer this scope trusts, whose header was not read for it:
         * asked before the header parser ran (an expression in server
         * context or in <If>: not kept, asked again later), or the
         * request's first scope reads another header. */
        *keep = st != NULL;
        return no_cert_peer(r, pc, apr_psprintf(r->pool, "is trusted "
                                                "here, but its %s header "
                                                "was not read for this "
                                                "request", pc->header));
    }
    if (!st->value) {
        mtls_proxy_set_counted(r, rp, MTLS_FWD_NONE);
        return no_cert_peer(r, pc, apr_psprintf(r->pool, "sent no %s header",
                                                pc->header));
    }
    if (!cache) {
        /* (child_init said so: refused, never the connection's peer) */
        return bad_peer(r->pool, "the cache of forwarded certificates "
                        "could not be created");
    }
    nparts = cache_key(pc, st, &head, parts);
    if (!(e = mtls_lru_get_parts(cache, parts, nparts,
                                 r->request_time))) {
        if (mtls_fwd_decode(r->pool, pc->format, st->value, st->chain,
                            &certs, &err) == APR_SUCCESS && !certs->nelts) {
            mtls_proxy_set_counted(r, rp, MTLS_FWD_NONE);
            return no_cert_peer(r, pc, apr_psprintf(r->pool, "sent an empty "
                                                    "%s header", pc->header));
        }
        if (!(e = mtls_lru_entry_create_parts(parts, nparts))) {
            /* Too long to cache (or no memory): this request only. */
            const mtls_peer_t *once = err ? bad_peer(r->pool, err)
                                  : verify_peer(r, r->pool, pc, certs,
                                                &expires);
            mtls_proxy_set_counted(r, rp, once->state == MTLS_PEER_VERIFIED
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
        e = mtls_lru_put(cache, e);
        if (APLOGrdebug(r)) {
            const mtls_peer_t *peer = mtls_lru_entry_value(e);
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          "MTLS5003: forwarded certificate %s verified: %s",
                          peer->cert ? peer->cert->subject : "(unreadable)",
                          peer->verify);
        }
    }
    mtls_proxy_set_counted(r, rp, ((const mtls_peer_t *)mtls_lru_entry_value(e))->state
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

    return rp && rp->entry && cache
           ? mtls_lru_memo_get(rp->entry, key, klen, r->request_time) : NULL;
}

const void *mtls_proxy_memo_put(request_rec *r, const void *key,
                                apr_size_t klen,
                                const void *(*copy)(apr_pool_t *p,
                                                    const void *value),
                                const void *value, apr_time_t expires)
{
    struct mtls_req_proxy *rp = req_proxy(r, 0);

    return rp && rp->entry && cache
           ? mtls_lru_memo_put(cache, rp->entry, key, klen, copy,
                               value, expires, r->request_time)
           : NULL;
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    if (mtls_lru_create(pchild, MTLS_PROXY_CACHE_SLOTS, &cache)
        != APR_SUCCESS) {
        cache = NULL;
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "MTLS5004: cannot create "
                     "the cache of forwarded certificates; forwarded "
                     "certificates will be refused");
    }
}

void mtls_proxy_peer_register_hooks(apr_pool_t *p)
{
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
