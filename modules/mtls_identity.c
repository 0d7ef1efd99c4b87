/* Certificate -> identity, the httpd side: the peer as mod_ssl reports
 * it, the sources in force, the memo.  Resolution itself is
 * mtls_resolve(); this file only gathers its inputs and keeps results.
 *
 * Threads: the state of a TLS connection lives on the connection mod_ssl
 * handshakes (c->master for an HTTP/2 stream), created there by mod_ssl's
 * pre_handshake hook in the connection's own thread.  Streams run at the
 * same time on other threads, so everything in it is guarded by its
 * mutex and allocated from its own pool (own allocator, used only under
 * the mutex); what it hands out (peers, outcomes) is never changed once
 * published. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "apr_optional_hooks.h"
#include "apr_thread_mutex.h"
#include "http_ssl.h"
#include "http_request.h"

#include <openssl/ssl.h>

#include "mtls_identity.h"
#include "mtls_config.h"
#include "mtls_reload.h"
#include "mtls_resolve.h"
#include "mtls_directory.h"
#include "mtls_proxy.h"
#include "mtls_peer.h"

/* Outcomes remembered per connection, and how many may ever be copied
 * into its pool (reloads and days-left changes replace entries), so a
 * long connection never grows with its requests. */
#define MTLS_MEMO_SLOTS 4
#define MTLS_MEMO_MAX_KEPT 32

/* Values derived from a remembered outcome (mtls_identity_keep_put),
 * per outcome. */
#define MTLS_MEMO_DERIVED 2

typedef struct {
    const void *key;             /* NULL: free */
    apr_size_t klen;
    const void *value;
} derived_t;

typedef struct {
    mtls_sources_t key;                /* the sources it was resolved with */
    const mtls_outcome_t *outcome;     /* NULL: free */
    derived_t derived[MTLS_MEMO_DERIVED];   /* go with the outcome */
} memo_t;

typedef struct {
    apr_thread_mutex_t *mutex;   /* NULL: a request's private fallback */
    apr_pool_t *pool;            /* allocate only with the mutex held */
    SSL *ssl;                    /* from mod_ssl's pre_handshake, if any */
    X509 *x509;                  /* the certificate the peer below is for */
    long vresult;                /* SSL_get_verify_result() with it */
    const char *pem;             /* same, when the SSL is not known */
    const char *verify;
    const mtls_peer_t *peer;
    memo_t memo[MTLS_MEMO_SLOTS];
    int kept;
} mtls_conn_state_t;

struct mtls_req_identity {
    const mtls_peer_t *peer;
    const void *peer_proxy;      /* the proxy settings peer was found under */
    const mtls_identity_t *id;
    const void *dir_conf;        /* the configuration id was resolved for */
    int kept;                    /* id's outcome is remembered */
};

/* Only HTTP/2 streams (secondary connections: c->master set) use one
 * connection's state from several threads at once.  The requests of an
 * HTTP/1.x connection come one after another, in whichever thread runs
 * the connection, and a TLS connection picks h2 by ALPN before any
 * request, so it never has both: they take no lock. */
#define SHARED(r, cs) ((cs)->mutex && (r)->connection->master)
#define LOCK(r, cs)   do { if (SHARED(r, cs)) apr_thread_mutex_lock((cs)->mutex); } while (0)
#define UNLOCK(r, cs) do { if (SHARED(r, cs)) apr_thread_mutex_unlock((cs)->mutex); } while (0)

/* Called in @p c's own thread only (its pool is not thread-safe). */
static mtls_conn_state_t *state_create(conn_rec *c)
{
    mtls_conn_state_t *cs = apr_pcalloc(c->pool, sizeof(*cs));
    apr_allocator_t *a = NULL;

    if (apr_allocator_create(&a) != APR_SUCCESS
        || apr_pool_create_ex(&cs->pool, c->pool, NULL, a) != APR_SUCCESS) {
        if (a) {
            apr_allocator_destroy(a);
        }
        return NULL;
    }
    apr_allocator_owner_set(a, cs->pool);
    apr_pool_tag(cs->pool, "mtls_connection");
    if (apr_thread_mutex_create(&cs->mutex, APR_THREAD_MUTEX_DEFAULT,
                                cs->pool) != APR_SUCCESS) {
        apr_pool_destroy(cs->pool);
        return NULL;
    }
    ap_set_module_config(c->conn_config, &mtls_authz_module, cs);
    return cs;
}

/* The state for @p r: the TLS connection's (shared by its streams), or
 * for a stream whose connection has none, the stream's own; a private
 * one in r->pool if even that cannot be made. */
static mtls_conn_state_t *state_of(request_rec *r)
{
    conn_rec *c = r->connection;
    mtls_conn_state_t *cs = NULL;

    if (c->master) {
        cs = ap_get_module_config(c->master->conn_config, &mtls_authz_module);
    }
    if (!cs && !(cs = ap_get_module_config(c->conn_config,
                                           &mtls_authz_module))
        && !(cs = state_create(c))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MTLS1000: cannot make "
                      "the connection's state: resolving per request");
        cs = apr_pcalloc(r->pool, sizeof(*cs));
        cs->pool = r->pool;
    }
    return cs;
}

static struct mtls_req_identity *req_identity(const request_rec *r,
                                              int create)
{
    mtls_req_t *q = mtls_req(r, create);

    if (q && !q->identity && create) {
        q->identity = apr_pcalloc(r->pool, sizeof(*q->identity));
    }
    return q ? q->identity : NULL;
}

/* mod_ssl's optional pre_handshake hook, as mod_ssl_openssl.h declares
 * it (that header is not installed everywhere).  It runs in the TLS
 * connection's own thread before any stream exists: the place to make
 * the state streams share.  Knowing the SSL also lets a request tell
 * "same certificate as before" by pointer instead of asking mod_ssl to
 * PEM-encode it every time. */
typedef int ssl_HOOK_pre_handshake_t(conn_rec *c, SSL *ssl, int is_proxy);

static int remember_ssl(conn_rec *c, SSL *ssl, int is_proxy)
{
    mtls_conn_state_t *cs;

    if (!is_proxy && !c->master
        && ((cs = ap_get_module_config(c->conn_config, &mtls_authz_module))
            || (cs = state_create(c)))) {
        cs->ssl = ssl;
    }
    return OK;
}

static apr_status_t release_x509(void *data)
{
    X509_free(data);
    return APR_SUCCESS;
}

/* Forget a remembered outcome and what was derived from it. */
static void memo_clear(memo_t *m)
{
    m->outcome = NULL;
    memset(m->derived, 0, sizeof(m->derived));
}

/* The connection's peer, the mutex held. */
static const mtls_peer_t *peer_locked(request_rec *r, mtls_conn_state_t *cs)
{
    conn_rec *c = r->connection;
    const char *verify, *pem = NULL;
    X509 *x509 = NULL;

    /* HTTP/2 forbids renegotiation: a stream's peer is the connection's
     * from the first stream on. */
    if (cs->peer && c->master) {
        return cs->peer;
    }
    /* Fast path for keep-alive: mod_ssl's verdict (SSL_CLIENT_VERIFY) is
     * made by the handshake that brought the certificate; while the same
     * X509 object (we hold a reference, so its address is not reused)
     * with the same verify result is the peer, no handshake has changed
     * it and the verdict asked for before still stands. */
    if (cs->peer && cs->x509 && cs->ssl
        && SSL_get0_peer_certificate(cs->ssl) == cs->x509
        && SSL_get_verify_result(cs->ssl) == cs->vresult) {
        return cs->peer;
    }
    if (!ap_ssl_conn_is_ssl(c)) {
        verify = "NONE";
    }
    else {
        verify = ap_ssl_var_lookup(r->pool, r->server, c, r,
                                   "SSL_CLIENT_VERIFY");
        if (verify && strcmp(verify, "NONE")) {
            if (cs->ssl) {
                x509 = SSL_get0_peer_certificate(cs->ssl);
            }
            else {
                pem = ap_ssl_var_lookup(r->pool, r->server, c, r,
                                        "SSL_CLIENT_CERT");
            }
        }
    }
    if (!verify || !*verify) {
        verify = "NONE";
    }
    /* The certificate can change within a connection (renegotiation,
     * TLS 1.3 post-handshake auth): reuse the parse only for the same
     * certificate and verification result.  The reference held on the
     * X509 keeps its address from being reused by another certificate. */
    if (!cs->peer || strcmp(cs->verify, verify) || cs->x509 != x509
        || (pem ? !cs->pem || strcmp(cs->pem, pem) : cs->pem != NULL)) {
        int i;
        cs->peer = mtls_peer_make(r, cs->pool, verify, x509, pem);
        cs->verify = cs->peer->verify;
        cs->pem = pem ? apr_pstrdup(cs->pool, pem) : NULL;
        if (cs->x509 != x509) {
            if (cs->x509) {
                apr_pool_cleanup_run(cs->pool, cs->x509, release_x509);
            }
            if (x509 && X509_up_ref(x509)) {
                apr_pool_cleanup_register(cs->pool, x509, release_x509,
                                          apr_pool_cleanup_null);
            }
            else {
                x509 = NULL;
            }
            cs->x509 = x509;
        }
        cs->vresult = cs->ssl ? SSL_get_verify_result(cs->ssl) : 0;
        for (i = 0; i < MTLS_MEMO_SLOTS; i++) {
            memo_clear(&cs->memo[i]);
        }
    }
    return cs->peer;
}

/* The peer of a connection without TLS: read-only, shared by all. */
static const mtls_peer_t plain_peer = {
    .state = MTLS_PEER_NONE,
    .verify = "NONE"
};

/* Whether @p r came over a connection without TLS (a proxy's plain hop,
 * h2c): it has no certificate of its own, and nothing to keep for it.  A
 * TLS connection has its state from mod_ssl's pre_handshake already, so
 * only the others ask mod_ssl. */
static int plain_connection(request_rec *r)
{
    conn_rec *c = r->connection;

    if ((c->master && ap_get_module_config(c->master->conn_config,
                                           &mtls_authz_module))
        || ap_get_module_config(c->conn_config, &mtls_authz_module)) {
        return 0;
    }
    return !ap_ssl_conn_is_ssl(c);
}

/* The peer of @p r under its scope's proxy settings, kept with them
 * for the request; @p kept is 0 when it holds only for now. */
static const mtls_peer_t *peer_get(request_rec *r,
                                   struct mtls_req_identity *ri, int *kept)
{
    const mtls_proxy_conf_t *pc = mtls_dir_conf(r)->proxy;
    const mtls_peer_t *tls = &plain_peer, *peer;
    mtls_conn_state_t *cs;

    *kept = 1;
    if (ri->peer && ri->peer_proxy == pc) {
        return ri->peer;
    }
    if (!plain_connection(r)) {
        cs = state_of(r);
        LOCK(r, cs);
        tls = peer_locked(r, cs);
        UNLOCK(r, cs);
    }
    /* A certificate forwarded by a trusted proxy is this request's
     * alone: the next request on the connection may be another
     * client's. */
    if (!(peer = mtls_proxy_peer(r, pc, tls, kept))) {
        peer = tls;
    }
    /* Forwarded or direct, a certificate that has expired since it was
     * verified gives no identity. */
    peer = mtls_peer_still_valid(r, peer);
    if (*kept) {
        ri->peer = peer;
        ri->peer_proxy = pc;
    }
    return peer;
}

const mtls_peer_t *mtls_peer_get(request_rec *r)
{
    int kept;

    return peer_get(r, req_identity(r, 1), &kept);
}

/* Put the current contents of @p w (if set) into @p slot. */
static mtls_snapshot_t *acquire(mtls_watched_t *w, mtls_loaded_t *slot)
{
    mtls_snapshot_t *s;

    if (!w) {
        return NULL;
    }
    s = mtls_watched_acquire(w);
    slot->data = mtls_snapshot_data(s);
    slot->stamp = mtls_snapshot_stamp(s);
    return s;
}

static void release(mtls_watched_t *w, mtls_snapshot_t *s)
{
    if (s) {
        mtls_watched_release(w, s);
    }
}

/* The memo entry for @p key valid at @p now, the mutex held. */
static memo_t *memo_find_locked(mtls_conn_state_t *cs, const mtls_sources_t *key,
                                apr_time_t now)
{
    int i;

    for (i = 0; i < MTLS_MEMO_SLOTS; i++) {
        memo_t *m = &cs->memo[i];
        if (m->outcome && !memcmp(&m->key, key, sizeof(*key))
            && now < m->outcome->expires) {
            return m;
        }
    }
    return NULL;
}

/* Where to keep a new outcome for @p key: its old (expired) entry, a
 * free one, or an expired one; NULL when all hold current outcomes. */
static memo_t *memo_slot_locked(mtls_conn_state_t *cs, const mtls_sources_t *key,
                                apr_time_t now)
{
    memo_t *free_slot = NULL;
    int i;

    for (i = 0; i < MTLS_MEMO_SLOTS; i++) {
        memo_t *m = &cs->memo[i];
        if (m->outcome && !memcmp(&m->key, key, sizeof(*key))) {
            return m;
        }
        if (!free_slot && (!m->outcome || now >= m->outcome->expires)) {
            free_slot = m;
        }
    }
    return free_slot;
}

/* The loaded files a resolution reads, held until it is done. */
typedef struct {
    mtls_snapshot_t *deny, *crl, *map, *group;
} held_t;

/* What of @p dc's sources is not a file: rules, CRL policy, SID trust
 * and the directory's settings, into @p src (zeroed). */
static void sources_settings(const mtls_dir_conf_t *dc, mtls_sources_t *src)
{
    memset(src, 0, sizeof(*src));
    src->crl_stale_deny = mtls_conf_crl_stale_deny(dc);
    src->user_rules = dc->user_rules;
    src->group_rules = dc->group_rules;
    src->sid_issuers = dc->sid_issuers;
    if (mtls_directory_enabled(dc->directory)) {
        memcpy(src->directory, mtls_directory_digest(dc->directory),
               sizeof(src->directory));
    }
}

/* The sources in force for @p dc, as the resolver reads them: the
 * settings, and the files (held in @p held until sources_release), with
 * the directory's asker in @p dir.  One place, so a direct and a
 * forwarded certificate are always resolved from the same sources. */
static void sources_gather(request_rec *r, const mtls_dir_conf_t *dc,
                           mtls_sources_t *src, held_t *held,
                           mtls_asker_t *dir)
{
    sources_settings(dc, src);
    held->deny = acquire(dc->deny_list, &src->deny_list);
    held->crl = acquire(dc->crl, &src->crl);
    held->map = acquire(dc->map_file, &src->map_file);
    held->group = acquire(dc->group_file, &src->group_file);
    if (mtls_directory_enabled(dc->directory)) {
        mtls_directory_asker(r, dc->directory, dir);
    }
}

static void sources_release(const mtls_dir_conf_t *dc, held_t *held)
{
    release(dc->deny_list, held->deny);
    release(dc->crl, held->crl);
    release(dc->map_file, held->map);
    release(dc->group_file, held->group);
}

/* The memo's key for sources: each file by its stamp alone (which names
 * one version of one file), not by where its contents are. */
static void memo_key_of(const mtls_sources_t *src, mtls_sources_t *key)
{
    *key = *src;
    key->deny_list.data = key->crl.data = NULL;
    key->map_file.data = key->group_file.data = NULL;
}

static apr_uint64_t stamp_now(const mtls_watched_t *w)
{
    return w ? mtls_watched_stamp(w) : 0;
}

/* The memo's key for @p dc's sources as they are now, made without
 * holding the files: a remembered outcome is found without taking (and
 * giving back) a reference to each.  The same as memo_key_of() of what
 * sources_gather() would find, unless a file is reloaded meanwhile. */
static void sources_peek(const mtls_dir_conf_t *dc, mtls_sources_t *key)
{
    sources_settings(dc, key);
    key->deny_list.stamp = stamp_now(dc->deny_list);
    key->crl.stamp = stamp_now(dc->crl);
    key->map_file.stamp = stamp_now(dc->map_file);
    key->group_file.stamp = stamp_now(dc->group_file);
}

/* The outcome for a verified certificate under @p dc: from the memo, or
 * resolved now (and kept when it may be).  @p how says which, for the
 * log. */
static const mtls_outcome_t *outcome_for(request_rec *r, mtls_conn_state_t *cs,
                                         const mtls_dir_conf_t *dc,
                                         const mtls_cert_t *cert,
                                         const char **how)
{
    apr_time_t now = r->request_time;
    const mtls_outcome_t *o = NULL;
    mtls_outcome_t *fresh;
    apr_array_header_t *trace = NULL;
    mtls_sources_t src, key;
    mtls_asker_t dir;
    held_t held;
    memo_t *m;
    int i;

    sources_peek(dc, &key);

    /* The lock is held while resolving: streams of one connection that
     * arrive together wait for the first one's answer (one resolution,
     * one directory query later) instead of each making their own. */
    LOCK(r, cs);
    if ((m = memo_find_locked(cs, &key, now))) {
        o = m->outcome;
        UNLOCK(r, cs);
        *how = "remembered for the connection";
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "MTLS1005: identity "
                      "for %s from the connection's memo", r->uri);
        return o;
    }
    /* (what is resolved now is kept under the versions it was read
     * from, which a reload since the peek may have changed) */
    sources_gather(r, dc, &src, &held, &dir);
    memo_key_of(&src, &key);
    if (APLOGrtrace2(r)) {
        trace = apr_array_make(r->pool, 8, sizeof(const char *));
    }
    fresh = mtls_resolve_ask(r->pool, cert, &src,
                             mtls_directory_enabled(dc->directory) ? &dir
                                                                   : NULL,
                             now, trace);
    *how = "resolved";
    if (mtls_outcome_keepable(fresh, now) && cs->mutex
        && cs->kept < MTLS_MEMO_MAX_KEPT
        && (m = memo_slot_locked(cs, &key, now))) {
        memo_clear(m);
        m->key = key;
        m->outcome = o = mtls_outcome_copy(cs->pool, fresh);
        cs->kept++;
    }
    UNLOCK(r, cs);
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "MTLS1002: identity "
                  "resolved for %s%s", r->uri,
                  o ? "" : " (not remembered)");
    for (i = 0; trace && i < trace->nelts; i++) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE2, 0, r, "MTLS1003: step %d: "
                      "%s", i + 1, APR_ARRAY_IDX(trace, i, const char *));
    }
    if (fresh->warning) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "%s", fresh->warning);
    }
    if (!o) {
        /* Not kept: it may point into the snapshots released below. */
        o = mtls_outcome_copy(r->pool, fresh);
    }
    sources_release(dc, &held);
    return o;
}

/* For mtls_proxy_memo_put: an outcome kept with a cached certificate. */
static const void *copy_outcome(apr_pool_t *p, const void *o)
{
    return mtls_outcome_copy(p, o);
}

/* The outcome for a certificate a trusted proxy forwarded: never
 * remembered with the connection, whose next request may be another
 * client's, but with the forwarded certificate (in the proxy unit's
 * cache), keyed by the sources in force, for every request that carries
 * it. */
static const mtls_outcome_t *forwarded_outcome(request_rec *r,
                                               const mtls_dir_conf_t *dc,
                                               const mtls_cert_t *cert,
                                               struct mtls_req_identity *ri,
                                               const char **how)
{
    apr_time_t now = r->request_time;
    const mtls_outcome_t *o;
    mtls_outcome_t *fresh;
    mtls_sources_t src, key;
    mtls_asker_t dir;
    held_t held;

    sources_peek(dc, &key);
    if ((o = mtls_proxy_memo_get(r, &key, sizeof(key)))) {
        *how = "remembered with the forwarded certificate";
        ri->kept = 1;
        return o;
    }
    sources_gather(r, dc, &src, &held, &dir);
    memo_key_of(&src, &key);
    fresh = mtls_resolve_ask(r->pool, cert, &src,
                             mtls_directory_enabled(dc->directory) ? &dir
                                                                   : NULL,
                             now, NULL);
    *how = "resolved (forwarded certificate)";
    /* (an expired outcome under the same sources is replaced; one that
     * could not answer is never kept: the next request asks again) */
    o = mtls_outcome_keepable(fresh, now)
        ? mtls_proxy_memo_put(r, &key, sizeof(key), copy_outcome, fresh,
                              fresh->expires)
        : NULL;
    if (o) {
        ri->kept = 1;     /* what later requests get: keep with it */
    }
    else {
        /* Copied: the result may point into the snapshots released
         * below. */
        o = mtls_outcome_copy(r->pool, fresh);
    }
    sources_release(dc, &held);
    return o;
}

static void log_identity(request_rec *r, const mtls_identity_t *id,
                         const char *how)
{
    const mtls_outcome_t *o = id->outcome;

    if (o->user && !id->unusable) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MTLS1010: identity "
                      "for %s: user %s from %s (%s), groups %s; %s", r->uri,
                      o->user, o->source, o->strong ? "strong" : "weak",
                      o->groups_text ? o->groups_text : "-", how);
    }
    else {
        const char *why = id->unusable ? mtls_reason_name(id->unusable)
                                       : mtls_reason_name(o->reason);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MTLS1011: no identity "
                      "for %s: %s%s%s; %s", r->uri, why,
                      id->peer->verify_detail ? ": " : "",
                      id->peer->verify_detail ? id->peer->verify_detail : "",
                      how);
    }
}

const mtls_identity_t *mtls_identity_get(request_rec *r)
{
    struct mtls_req_identity *ri = req_identity(r, 1);
    const mtls_dir_conf_t *dc = mtls_dir_conf(r);
    const mtls_peer_t *peer;
    mtls_identity_t *id;
    const char *how;
    int kept;

    if (ri->id && ri->dir_conf == dc) {
        return ri->id;
    }
    if (r->main && !ri->id && mtls_identity_of_main(r)) {
        *ri = *req_identity(r->main, 0);
        return ri->id;
    }
    peer = peer_get(r, ri, &kept);
    id = apr_pcalloc(r->pool, sizeof(*id));
    id->peer = peer;
    ri->kept = 0;
    if (peer->state != MTLS_PEER_VERIFIED) {
        id->unusable = peer->state == MTLS_PEER_NONE ? MTLS_R_NO_CERTIFICATE
                                                     : MTLS_R_NOT_VERIFIED;
        id->outcome = mtls_outcome_make(r->pool, MTLS_OUTCOME_NONE,
                                        id->unusable);
        how = "no verified certificate";
    }
    else {
        id->outcome = peer->source
            ? forwarded_outcome(r, dc, peer->cert, ri, &how)
            : outcome_for(r, state_of(r), dc, peer->cert, &how);
        switch (id->outcome->reason) {
        case MTLS_R_DENYLISTED:
        case MTLS_R_REVOKED:
            /* (directory-unavailable is not: the certificate is fine, and
             * what needs no user, mtls-verified or mtls-san, still works) */
            id->unusable = id->outcome->reason;
            break;
        default:
            break;
        }
    }
    if (APLOGrdebug(r)) {
        log_identity(r, id, how);
    }
    if (kept) {
        ri->id = id;
        ri->dir_conf = dc;
    }
    /* (else the peer holds only for now: a forwarded certificate not
     * read yet; the next ask, after the header parser, has it) */
    return id;
}

/* A subrequest in its main request's configuration (mod_dir's index,
 * SSI, a lookahead) has the main request's identity: the same
 * connection, headers and sources give the same answer. */
const mtls_identity_t *mtls_identity_of_main(const request_rec *r)
{
    const struct mtls_req_identity *mi;

    if (!r->main || !(mi = req_identity(r->main, 0)) || !mi->id) {
        return NULL;
    }
    return mi->dir_conf == mtls_dir_conf(r) ? mi->id : NULL;
}

const mtls_identity_t *mtls_identity_peek(const request_rec *r)
{
    const struct mtls_req_identity *ri = req_identity(r, 0);

    return ri ? ri->id : NULL;
}

void mtls_identity_facts(const request_rec *r, const mtls_identity_t *id,
                         mtls_facts_t *facts)
{
    facts->cert = id->peer->cert;
    facts->outcome = id->unusable ? NULL : id->outcome;
    facts->now = r->request_time;
}

/* ---- values derived from a remembered identity --------------------- */

/* The memo entry holding @p o, the mutex held. */
static memo_t *memo_of_locked(mtls_conn_state_t *cs, const mtls_outcome_t *o)
{
    int i;

    for (i = 0; i < MTLS_MEMO_SLOTS; i++) {
        if (cs->memo[i].outcome == o) {
            return &cs->memo[i];
        }
    }
    return NULL;
}

/* A kept forwarded identity's key in the proxy unit's memo for what is
 * derived from it: its outcome (where the memo keeps it: the copy stays
 * at that address, never reused, as long as the cached certificate, so
 * the address names it), then the caller's key; in @p buf (of
 * FWD_KEY_ROOM bytes) when it fits, else in @p r's pool.  Eight bytes to
 * compare instead of the sources it was resolved with. */
#define FWD_KEY_ROOM 64

static const void *fwd_key(request_rec *r, const mtls_identity_t *id,
                           const void *key, apr_size_t klen, char *buf,
                           apr_size_t *len)
{
    char *k;

    *len = sizeof(id->outcome) + klen;
    k = *len <= FWD_KEY_ROOM ? buf : apr_palloc(r->pool, *len);
    memcpy(k, &id->outcome, sizeof(id->outcome));
    memcpy(k + sizeof(id->outcome), key, klen);
    return k;
}

const void *mtls_identity_keep_get(request_rec *r, const mtls_identity_t *id,
                                   const void *key, apr_size_t klen)
{
    struct mtls_req_identity *ri = req_identity(r, 0);
    const void *v = NULL;
    mtls_conn_state_t *cs;
    memo_t *m;
    int i;

    if (!ri || ri->id != id || id->unusable) {
        return NULL;
    }
    if (id->peer->source) {
        char buf[FWD_KEY_ROOM];
        apr_size_t len;
        const void *k;
        if (!ri->kept) {
            return NULL;
        }
        k = fwd_key(r, id, key, klen, buf, &len);
        return mtls_proxy_memo_get(r, k, len);
    }
    cs = state_of(r);
    if (!cs->mutex) {
        return NULL;
    }
    LOCK(r, cs);
    if ((m = memo_of_locked(cs, id->outcome))) {
        for (i = 0; i < MTLS_MEMO_DERIVED && m->derived[i].key; i++) {
            if (m->derived[i].klen == klen
                && !memcmp(m->derived[i].key, key, klen)) {
                v = m->derived[i].value;
                break;
            }
        }
    }
    UNLOCK(r, cs);
    return v;
}

void mtls_identity_keep_put(request_rec *r, const mtls_identity_t *id,
                            const void *key, apr_size_t klen,
                            const void *(*copy)(apr_pool_t *p,
                                                const void *value),
                            const void *value)
{
    struct mtls_req_identity *ri = req_identity(r, 0);
    mtls_conn_state_t *cs;
    memo_t *m;
    int i;

    if (!ri || ri->id != id || id->unusable) {
        return;
    }
    if (id->peer->source) {
        char buf[FWD_KEY_ROOM];
        apr_size_t len;
        const void *k;
        if (ri->kept) {
            k = fwd_key(r, id, key, klen, buf, &len);
            /* (derived from the outcome: expires with it; the memo
             * copies the key) */
            mtls_proxy_memo_put(r, k, len, copy, value,
                                id->outcome->expires);
        }
        return;
    }
    cs = state_of(r);
    if (!cs->mutex) {
        return;
    }
    LOCK(r, cs);
    /* The bound of copies into the connection's pool is shared with the
     * outcomes: a long connection never grows with its requests. */
    if ((m = memo_of_locked(cs, id->outcome)) && cs->kept < MTLS_MEMO_MAX_KEPT) {
        for (i = 0; i < MTLS_MEMO_DERIVED; i++) {
            derived_t *d = &m->derived[i];
            if (!d->key) {
                d->value = copy(cs->pool, value);
                d->klen = klen;
                d->key = apr_pmemdup(cs->pool, key, klen);
                cs->kept++;
                break;
            }
            if (d->klen == klen && !memcmp(d->key, key, klen)) {
                break;       /* another stream was first */
            }
        }
    }
    UNLOCK(r, cs);
}

/* Forwarded-certificate headers go before any handler, proxy or module
 * after us reads the request (the proxy unit says how, for the
 * request's configuration). */
static int scrub_forwarded(request_rec *r)
{
    const mtls_dir_conf_t *dc = mtls_dir_conf(r);
    const mtls_srv_conf_t *sc = ap_get_module_config(r->server->module_config,
                                                     &mtls_authz_module);

    return mtls_proxy_scrub(r, dc ? dc->proxy : NULL, sc->proxy_names);
}

void mtls_identity_register_hooks(apr_pool_t *p)
{
    ap_hook_header_parser(scrub_forwarded, NULL, NULL, APR_HOOK_REALLY_FIRST);
    APR_OPTIONAL_HOOK(ssl, pre_handshake, remember_ssl, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
