/* A client certificate as mod_ssl reports it, made into a peer: the
 * parse (once per process and certificate, mtls_certcache.c), the fail-
 * closed rules, and the per-request validity view. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"

#include "mtls_peer.h"
#include "mtls_metrics.h"
#include "mtls_certcache.h"

/* Client certificates this process has parsed, by their DER: made in
 * child_init before any request thread runs, never replaced. */
#define MTLS_CERTCACHE_SLOTS 1024
static mtls_certcache_t *certs;

mtls_peer_t *mtls_peer_make(request_rec *r, apr_pool_t *p,
                            const char *verify, X509 *x509, const char *pem)
{
    mtls_peer_t *peer = apr_pcalloc(p, sizeof(*peer));
    const char *err = NULL;
    mtls_cert_t *cert = NULL;

    peer->verify = apr_pstrdup(p, verify ? verify : "NONE");
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
        const mtls_cert_t *shared = NULL;
        int parsed = 1;
        apr_status_t rv;

        if (x509 && certs) {
            /* The facts of a certificate seen by this process before, on
             * any connection; copied shallowly to carry this peer's
             * verify result. */
            if ((rv = mtls_certcache_get(certs, p, x509, &shared, &parsed,
                                         &err)) == APR_SUCCESS) {
                cert = apr_pmemdup(p, shared, sizeof(*cert));
            }
        }
        else {
            rv = x509 ? mtls_cert_from_x509(p, x509, &cert, &err)
                      : mtls_cert_from_pem(p, pem, &cert, &err);
        }
        if (rv == APR_SUCCESS) {
            cert->verify = peer->verify;
            peer->cert = cert;
            if (peer->state == MTLS_PEER_VERIFIED) {
                mtls_metrics_days_left(mtls_cert_days_left(cert,
                                                           r->request_time));
            }
            if (cert->problem) {
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                              "MTLS0301: client certificate serial %s "
                              "sha256 %s: %s", cert->serial, cert->sha256,
                              cert->problem);
            }
            ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                          "MTLS1001: client certificate parsed for the "
                          "connection (at %s%s): %s", r->uri,
                          parsed ? "" : "; known to this process",
                          cert->subject);
        }
        else {
            peer->cert_error = apr_pstrdup(p, err);
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

const mtls_peer_t *mtls_peer_still_valid(request_rec *r, const mtls_peer_t *peer)
{
    mtls_peer_t *view;
    int out;

    if (peer->state != MTLS_PEER_VERIFIED
        || !(out = mtls_cert_out_of_validity(peer->cert, r->request_time))) {
        return peer;
    }
    view = apr_pmemdup(r->pool, peer, sizeof(*view));
    view->state = MTLS_PEER_UNVERIFIED;
    view->verify_detail = out > 0
        ? apr_pstrcat(r->pool, "certificate has expired (notAfter ",
                      peer->cert->not_after, peer->source
                      ? ", since it was verified)"
                      : ", since the TLS handshake)", NULL)
        : apr_pstrcat(r->pool, "certificate is not yet valid (notBefore ",
                      peer->cert->not_before, ")", NULL);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "MTLS6001: client certificate %s: %s", peer->cert->subject,
                  view->verify_detail);
    return view;
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    if (mtls_certcache_create(pchild, MTLS_CERTCACHE_SLOTS, &certs)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "MTLS1004: cannot "
                     "create the cache of parsed client certificates; "
                     "each connection parses its own");
        certs = NULL;
    }
}

void mtls_peer_register_hooks(apr_pool_t *p)
{
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
