/* A connection's state and the request's peer: the state lives on the
 * connection mod_ssl handshakes (c->master for an HTTP/2 stream), made by
 * mod_ssl's pre_handshake hook in the connection's own thread; the peer
 * is mod_ssl's verified certificate, or one a trusted proxy forwarded
 * (whose header the header parser has removed first).
 *
 * Threads: streams run at the same time on other threads, so everything
 * in the state is guarded by its mutex and allocated from its own pool
 * (own allocator, used only under the mutex); what it hands out (peers,
 * outcomes) is never changed once published. */
#include "mtls_identity_private.h"

#include "apr_strings.h"
#include "apr_optional_hooks.h"
#include "http_ssl.h"
#include "http_request.h"

#include "mtls_config.h"
#include "mtls_proxy.h"
#include "mtls_peer.h"

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

mtls_conn_state_t *mtls_conn_state_of(request_rec *r)
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

const mtls_peer_t *mtls_identity_peer(request_rec *r,
                                      struct mtls_req_identity *ri,
                                      int *kept)
{
    const mtls_proxy_conf_t *pc = mtls_dir_conf(r)->proxy;
    const mtls_peer_t *tls = &plain_peer, *peer;
    mtls_conn_state_t *cs;

    *kept = 1;
    if (ri->peer && ri->peer_proxy == pc) {
        return ri->peer;
    }
    if (!plain_connection(r)) {
        cs = mtls_conn_state_of(r);
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

    return mtls_identity_peer(r, req_identity(r, 1), &kept);
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

void mtls_identity_conn_register_hooks(apr_pool_t *p)
{
    ap_hook_header_parser(scrub_forwarded, NULL, NULL, APR_HOOK_REALLY_FIRST);
    APR_OPTIONAL_HOOK(ssl, pre_handshake, remember_ssl, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
