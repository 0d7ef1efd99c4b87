/* The httpd glue around resolution: what mod_ssl says of the peer (the
 * certificate facts, parsed once per TLS connection and shared by the
 * HTTP/2 streams on it), the sources in force for the request, and the
 * per-connection memo of outcomes.  The decisions themselves are made by
 * the pure resolver (mtls_resolve.h). */
#ifndef MTLS_IDENTITY_H
#define MTLS_IDENTITY_H

#include "httpd.h"
#include "mtls_cert.h"
#include "mtls_outcome.h"
#include "mtls_field.h"

typedef enum {
    MTLS_PEER_NONE = 0,       /* no certificate, or not over TLS */
    MTLS_PEER_UNVERIFIED,     /* GENEROUS or FAILED:... */
    MTLS_PEER_VERIFIED        /* SSL_CLIENT_VERIFY == SUCCESS */
} mtls_peer_state_e;

/* What is known of the peer's certificate.  Published once and never
 * changed afterwards: concurrent HTTP/2 streams read it without a lock.
 * A renegotiated certificate (HTTP/1.1) gives a new one. */
typedef struct {
    mtls_peer_state_e state;
    const char *verify;          /* SSL_CLIENT_VERIFY as mod_ssl gives it */
    const char *verify_detail;   /* "certificate has expired", ... or NULL */
    const mtls_cert_t *cert;     /* parsed facts, NULL if none/unparseable */
    const char *cert_error;      /* why a presented certificate has no facts */
    const char *source;          /* "proxy" when forwarded, else NULL (TLS) */
    const char *hint;            /* why none came (forwarded), or NULL */
} mtls_peer_t;

/* A request's identity: the peer and the outcome of resolving it under
 * the request's configuration.  Both are immutable (and may be shared
 * with other requests of the connection). */
typedef struct {
    const mtls_peer_t *peer;
    const mtls_outcome_t *outcome;   /* never NULL */
    mtls_reason_e unusable;          /* why the certificate cannot be used
                                        at all (no-certificate,
                                        not-verified, denylisted, ...), or
                                        MTLS_R_NONE */
} mtls_identity_t;

/**
 * The peer of @p r (never NULL).  The one place certificate facts come
 * from: today mod_ssl's client certificate of the connection; a
 * certificate forwarded by a trusted proxy (per request) plugs in here.
 */
const mtls_peer_t *mtls_peer_get(request_rec *r);

/**
 * The identity for @p r under its per-directory configuration (never
 * NULL).  Computed at most once per request and configuration, and
 * remembered per connection for as long as its outcome allows (never a
 * "could not answer"), keyed by the sources in force.
 */
const mtls_identity_t *mtls_identity_get(request_rec *r);

/** The identity if this request already resolved one, else NULL. */
const mtls_identity_t *mtls_identity_peek(const request_rec *r);

/**
 * For a subrequest in its main request's configuration (mod_dir's index,
 * SSI): the main request's identity, which is also the subrequest's;
 * else NULL.  Nothing is made for the subrequest.
 */
const mtls_identity_t *mtls_identity_of_main(const request_rec *r);

/**
 * What values of @p id are looked up in (mtls_value_list/_text): the
 * certificate, the outcome only when the certificate is usable, and the
 * request's time.
 */
void mtls_identity_facts(const request_rec *r, const mtls_identity_t *id,
                         mtls_facts_t *facts);

/**
 * What was kept with @p id (the identity this request resolved) under
 * @p key (@p klen bytes, compared in full) by mtls_identity_keep_put, in
 * this or an earlier request, or NULL.  Values are kept for exactly as
 * long as the identity's outcome is remembered: per connection (shared
 * by its HTTP/2 streams) for a TLS client certificate, with the cached
 * certificate for a forwarded one.
 */
const void *mtls_identity_keep_get(request_rec *r, const mtls_identity_t *id,
                                   const void *key, apr_size_t klen);

/**
 * Keep @p value, worked out from @p id alone, for the later requests
 * that get the same remembered identity: @p copy copies it (under a lock)
 * into memory that lives as long as the identity's memo, and what it
 * returns is never changed afterwards.  Does nothing when the outcome is
 * not remembered or its few slots are taken.
 */
void mtls_identity_keep_put(request_rec *r, const mtls_identity_t *id,
                            const void *key, apr_size_t klen,
                            const void *(*copy)(apr_pool_t *p,
                                                const void *value),
                            const void *value);

/** Learn each TLS connection's SSL from mod_ssl, and keep the
 *  connection's shared state on the connection the streams belong to. */
void mtls_identity_register_hooks(apr_pool_t *p);

#endif /* MTLS_IDENTITY_H */
