/* Certificate -> identity: the peer as mod_ssl reports it, then the
 * resolution pipeline, remembered per connection. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "apr_optional_hooks.h"
#include "http_ssl.h"
#include "http_request.h"

#include <openssl/ssl.h>

#include "mtls_identity.h"
#include "mtls_config.h"
#include "mtls_filefmt.h"
#include "mtls_rule.h"
#include "mtls_field.h"

/* Identities remembered per connection; a connection that flips between
 * more configurations than this resolves the rest per request. */
#define MTLS_MEMO_SLOTS 4

/* What an identity depends on besides the certificate: the mapping
 * settings (pointers fixed at configuration time, carried unchanged
 * through merges) and the generation of each file. */
typedef struct {
    const void *user_rules, *group_rules, *map, *group, *deny;
    apr_uint32_t map_gen, group_gen, deny_gen;
} memo_key_t;

typedef struct {
    memo_key_t key;
    mtls_identity_t *id;
} memo_t;

typedef struct {
    SSL *ssl;                    /* from mod_ssl's pre_handshake, if any */
    X509 *x509;                  /* the certificate the peer below is for */
    long vresult;                /* SSL_get_verify_result() with it */
    const char *pem;             /* same, when the SSL is not known */
    const char *verify;
    mtls_peer_t *peer;
    memo_t memo[MTLS_MEMO_SLOTS];
    int memo_used;
} mtls_conn_state_t;

typedef struct {
    const mtls_peer_t *peer;
    const mtls_identity_t *id;
    const void *dir_conf;        /* the configuration id was resolved for */
} mtls_req_state_t;

static mtls_conn_state_t *conn_state(conn_rec *c)
{
    mtls_conn_state_t *cs = ap_get_module_config(c->conn_config,
                                            &mtls_authz_module);
    if (!cs) {
        cs = apr_pcalloc(c->pool, sizeof(*cs));
        ap_set_module_config(c->conn_config, &mtls_authz_module, cs);
    }
    return cs;
}

static mtls_req_state_t *req_state(request_rec *r)
{
    mtls_req_state_t *rs = ap_get_module_config(r->request_config,
                                           &mtls_authz_module);
    if (!rs) {
        rs = apr_pcalloc(r->pool, sizeof(*rs));
        ap_set_module_config(r->request_config, &mtls_authz_module, rs);
    }
    return rs;
}

static mtls_peer_t *make_peer(request_rec *r, conn_rec *c, const char *verify,
                              X509 *x509, const char *pem)
{
    mtls_peer_t *peer = apr_pcalloc(c->pool, sizeof(*peer));
    const char *err = NULL;
    mtls_cert_t *cert = NULL;

    peer->verify = apr_pstrdup(c->pool, verify ? verify : "NONE");
    if (!verify || !strcmp(verify, "NONE")) {
        peer->state = MTLS_PEER_NONE;
        return peer;
    }
    if (!strcmp(verify, "SUCCESS")) {
        peer->state = MTLS_PEER_VERIFIED;
    }
    else {
        peer->state = MTLS_PEER_UNVERIFIED;
        peer->verify_detail = !strncmp(verify, "FAILED:", 7)
            ? peer->verify + 7
            : "the certificate's issuer is not trusted (optional_no_ca)";
    }
    if (x509 || (pem && *pem)) {
        apr_status_t rv = x509 ? mtls_cert_from_x509(c->pool, x509, &cert, &err)
                               : mtls_cert_from_pem(c->pool, pem, &cert, &err);
        if (rv == APR_SUCCESS) {
            cert->verify = peer->verify;
            peer->cert = cert;
            if (cert->problem) {
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                              "MTLS0301: client certificate %s: %s",
                              cert->subject, cert->problem);
            }
        }
        else {
            peer->cert_error = apr_pstrdup(c->pool, err);
        }
    }
    else if (peer->state == MTLS_PEER_VERIFIED) {
        peer->cert_error = "mod_ssl reported no certificate data";
    }
    /* Fail closed: a verified certificate we cannot read gives no
     * identity, rather than an identity built from half of it. */
    if (peer->state == MTLS_PEER_VERIFIED && !peer->cert) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "MTLS0302: cannot read the client certificate: %s",
                      peer->cert_error);
        peer->state = MTLS_PEER_UNVERIFIED;
        peer->verify_detail = peer->cert_error;
    }
    return peer;
}

/* mod_ssl's optional pre_handshake hook, as mod_ssl_openssl.h declares
 * it (that header is not installed everywhere).  Knowing the SSL lets a
 * request tell "same certificate as before" by pointer instead of asking
 * mod_ssl to PEM-encode it every time. */
typedef int ssl_HOOK_pre_handshake_t(conn_rec *c, SSL *ssl, int is_proxy);

static int remember_ssl(conn_rec *c, SSL *ssl, int is_proxy)
{
    if (!is_proxy) {
        conn_state(c)->ssl = ssl;
    }
    return OK;
}

/* The SSL of @p c, or of the connection an HTTP/2 stream belongs to. */
static SSL *conn_ssl(conn_rec *c)
{
    conn_rec *base = c->master ? c->master : c;
    const mtls_conn_state_t *cs = ap_get_module_config(base->conn_config,
                                                       &mtls_authz_module);
    return cs ? cs->ssl : NULL;
}

static apr_status_t release_x509(void *data)
{
    X509_free(data);
    return APR_SUCCESS;
}

const mtls_peer_t *mtls_peer_get(request_rec *r)
{
    mtls_req_state_t *rs = req_state(r);
    conn_rec *c = r->connection;
    mtls_conn_state_t *cs;
    const char *verify, *pem = NULL;
    X509 *x509 = NULL;
    SSL *ssl = NULL;

    if (rs->peer) {
        return rs->peer;
    }
    cs = conn_state(c);
    /* Fast path for keep-alive: mod_ssl's verdict (SSL_CLIENT_VERIFY) is
     * made by the handshake that brought the certificate; while the same
     * X509 object (we hold a reference, so its address is not reused)
     * with the same verify result is the peer, no handshake has changed
     * it and the verdict asked for before still stands. */
    if (cs->peer && cs->x509 && (ssl = conn_ssl(c))
        && SSL_get0_peer_certificate(ssl) == cs->x509
        && SSL_get_verify_result(ssl) == cs->vresult) {
        rs->peer = cs->peer;
        return rs->peer;
    }
    if (!ap_ssl_conn_is_ssl(c)) {
        verify = "NONE";
    }
    else {
        verify = ap_ssl_var_lookup(r->pool, r->server, c, r,
                                   "SSL_CLIENT_VERIFY");
        if (verify && strcmp(verify, "NONE")) {
            if ((ssl = conn_ssl(c))) {
                x509 = SSL_get0_peer_certificate(ssl);
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
        cs->peer = make_peer(r, c, verify, x509, pem);
        cs->verify = cs->peer->verify;
        cs->pem = pem ? apr_pstrdup(c->pool, pem) : NULL;
        if (cs->x509 != x509) {
            if (cs->x509) {
                apr_pool_cleanup_run(c->pool, cs->x509, release_x509);
            }
            if (x509 && X509_up_ref(x509)) {
                apr_pool_cleanup_register(c->pool, x509, release_x509,
                                          apr_pool_cleanup_null);
            }
            else {
                x509 = NULL;
            }
            cs->x509 = x509;
        }
        cs->vresult = ssl ? SSL_get_verify_result(ssl) : 0;
        cs->memo_used = 0;
    }
    rs->peer = cs->peer;
    return rs->peer;
}

void mtls_identity_register_hooks(apr_pool_t *p)
{
    APR_OPTIONAL_HOOK(ssl, pre_handshake, remember_ssl, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

/* Add @p g to @p groups unless it is there already (order kept). */
static void add_group(apr_array_header_t *groups, const char *g)
{
    int i;

    for (i = 0; i < groups->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(groups, i, const char *), g)) {
            return;
        }
    }
    APR_ARRAY_PUSH(groups, const char *) = g;
}

static void add_groups(apr_pool_t *p, apr_array_header_t *groups,
                       const apr_array_header_t *more)
{
    int i;

    for (i = 0; more && i < more->nelts; i++) {
        add_group(groups, apr_pstrdup(p, APR_ARRAY_IDX(more, i,
                                                       const char *)));
    }
}

/* The pipeline.  Everything kept is copied into @p p: snapshots of the
 * files are released before returning. */
static void resolve(request_rec *r, const mtls_dir_conf_t *dc,
                    const mtls_cert_t *cert, apr_pool_t *p,
                    mtls_identity_t *id)
{
    apr_pool_t *tmp = r->pool;
    mtls_snapshot_t *snap;
    int i;

    if (dc->deny_list) {
        snap = mtls_watched_acquire(dc->deny_list);
        id->denylisted = mtls_map_lookup(tmp, mtls_snapshot_data(snap),
                                         cert) != NULL;
        mtls_watched_release(dc->deny_list, snap);
        if (id->denylisted) {
            return;
        }
    }
    if (dc->map_file) {
        const mtls_map_entry_t *e;
        snap = mtls_watched_acquire(dc->map_file);
        e = mtls_map_lookup(tmp, mtls_snapshot_data(snap), cert);
        if (e) {
            id->user = apr_pstrdup(p, e->user);
            id->source = "map";
            id->strong = e->kind != MTLS_KEY_SUBJECT;
            add_groups(p, id->groups, e->groups);
        }
        mtls_watched_release(dc->map_file, snap);
    }
    for (i = 0; !id->user && dc->user_rules && i < dc->user_rules->nelts;
         i++) {
        const mtls_rule_t *rule = APR_ARRAY_IDX(dc->user_rules, i,
                                                const mtls_rule_t *);
        const char *u = mtls_rule_user(tmp, rule, cert, r->request_time);
        if (u) {
            id->user = apr_pstrdup(p, u);
            id->source = apr_psprintf(p, "rule:%d", i + 1);
            id->strong = mtls_field_is_strong(mtls_rule_field(rule));
        }
    }
    /* The directory source (SPEC §4) slots in here, after the rules. */

    if (id->user && dc->group_file) {
        snap = mtls_watched_acquire(dc->group_file);
        add_groups(p, id->groups,
                   mtls_groupfile_lookup(mtls_snapshot_data(snap), id->user));
        mtls_watched_release(dc->group_file, snap);
    }
    for (i = 0; dc->group_rules && i < dc->group_rules->nelts; i++) {
        apr_array_header_t *found = apr_array_make(tmp, 2,
                                                   sizeof(const char *));
        mtls_rule_groups(tmp, APR_ARRAY_IDX(dc->group_rules, i,
                                            const mtls_rule_t *),
                         cert, r->request_time, found);
        add_groups(p, id->groups, found);
    }
}

static void memo_key(request_rec *r, const mtls_dir_conf_t *dc,
                     memo_key_t *k)
{
    memset(k, 0, sizeof(*k));
    k->user_rules = dc->user_rules;
    k->group_rules = dc->group_rules;
    k->map = dc->map_file;
    k->group = dc->group_file;
    k->deny = dc->deny_list;
    if (dc->map_file) {
        k->map_gen = mtls_watched_generation(dc->map_file);
    }
    if (dc->group_file) {
        k->group_gen = mtls_watched_generation(dc->group_file);
    }
    if (dc->deny_list) {
        k->deny_gen = mtls_watched_generation(dc->deny_list);
    }
}

const mtls_identity_t *mtls_identity_get(request_rec *r)
{
    mtls_req_state_t *rs = req_state(r);
    const mtls_dir_conf_t *dc = mtls_dir_conf(r);
    const mtls_peer_t *peer;
    mtls_conn_state_t *cs;
    mtls_identity_t *id;
    memo_key_t key;
    apr_pool_t *p;
    int i;

    if (rs->id && rs->dir_conf == dc) {
        return rs->id;
    }
    peer = mtls_peer_get(r);
    cs = conn_state(r->connection);
    if (peer->state != MTLS_PEER_VERIFIED) {
        id = apr_pcalloc(r->pool, sizeof(*id));
        id->pool = r->pool;
        id->peer = peer;
        id->groups = apr_array_make(r->pool, 1, sizeof(const char *));
        goto leave;
    }
    memo_key(r, dc, &key);
    for (i = 0; i < cs->memo_used; i++) {
        if (!memcmp(&cs->memo[i].key, &key, sizeof(key))) {
            id = cs->memo[i].id;
            goto leave;
        }
    }
    /* Keep the answer for the connection only while there is room, so a
     * long keep-alive connection never grows per request. */
    p = cs->memo_used < MTLS_MEMO_SLOTS ? r->connection->pool : r->pool;
    id = apr_pcalloc(p, sizeof(*id));
    id->pool = p;
    id->peer = peer;
    id->groups = apr_array_make(p, 2, sizeof(const char *));
    resolve(r, dc, peer->cert, p, id);
    if (id->groups->nelts) {
        id->groups_text = mtls_list_join(p, id->groups);
    }
    if (p != r->pool) {
        cs->memo[cs->memo_used].key = key;
        cs->memo[cs->memo_used].id = id;
        cs->memo_used++;
    }
leave:
    rs->id = id;
    rs->dir_conf = dc;
    return id;
}

const mtls_identity_t *mtls_identity_peek(const request_rec *r)
{
    const mtls_req_state_t *rs = ap_get_module_config(r->request_config,
                                                 &mtls_authz_module);
    return rs ? rs->id : NULL;
}
