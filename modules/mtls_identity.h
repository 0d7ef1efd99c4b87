/* The pipeline that turns the client certificate of a request into an
 * identity: what mod_ssl says of the peer, then deny list -> map file ->
 * MTLSUserFrom rules (-> directory, later), plus groups from every group
 * source.  Certificates are parsed once per connection; identities are
 * remembered per connection and configuration. */
#ifndef MTLS_IDENTITY_H
#define MTLS_IDENTITY_H

#include "httpd.h"
#include "mtls_cert.h"

typedef enum {
    MTLS_PEER_NONE = 0,       /* no certificate, or not over TLS */
    MTLS_PEER_UNVERIFIED,     /* GENEROUS or FAILED:... */
    MTLS_PEER_VERIFIED        /* SSL_CLIENT_VERIFY == SUCCESS */
} mtls_peer_state_e;

/* What mod_ssl tells about the peer of this connection. */
typedef struct {
    mtls_peer_state_e state;
    const char *verify;          /* SSL_CLIENT_VERIFY as mod_ssl gives it */
    const char *verify_detail;   /* "certificate has expired", ... or NULL */
    const mtls_cert_t *cert;     /* parsed facts, NULL if none/unparseable */
    const char *cert_error;      /* why a presented certificate has no facts */
} mtls_peer_t;

typedef struct {
    const mtls_peer_t *peer;
    int denylisted;
    const char *user;            /* NULL: unmapped */
    apr_array_header_t *groups;  /* ordered, no duplicates */
    const char *groups_text;     /* groups joined for variables, or NULL */
    int strong;
    const char *source;          /* "map", "rule:N", "ldap" or NULL */
    const char *ldap_dn;
    apr_pool_t *pool;            /* where this identity lives */
    const void *vars;            /* mtls_vars' prepared variables */
} mtls_identity_t;

/** The peer of @p r's connection (never NULL). */
const mtls_peer_t *mtls_peer_get(request_rec *r);

/**
 * The identity for @p r under its per-directory configuration (never
 * NULL; check peer->state, denylisted and user).  Computed at most once
 * per request, and reused across the requests of a connection while the
 * certificate, the configuration and the files are unchanged.
 */
const mtls_identity_t *mtls_identity_get(request_rec *r);

/** Learn each TLS connection's SSL from mod_ssl (when it offers it). */
void mtls_identity_register_hooks(apr_pool_t *p);

/** The identity if this request already resolved one, else NULL. */
const mtls_identity_t *mtls_identity_peek(const request_rec *r);

#endif /* MTLS_IDENTITY_H */
