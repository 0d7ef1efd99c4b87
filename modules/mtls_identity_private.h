/* What the two halves of the identity glue share: mtls_identity_conn.c
 * (a connection's state, shared by its HTTP/2 streams, and the request's
 * peer) and mtls_identity.c (sources, remembered outcomes, identities).
 * Nothing else includes this. */
#ifndef MTLS_IDENTITY_PRIVATE_H
#define MTLS_IDENTITY_PRIVATE_H

#include <string.h>

#include "apr_thread_mutex.h"
#include <openssl/ssl.h>

#include "mtls_private.h"
#include "mtls_identity.h"
#include "mtls_resolve.h"

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

/* (inline: called on every request) */
static APR_INLINE struct mtls_req_identity *req_identity(const request_rec *r,
                                                         int create)
{
    mtls_req_t *q = mtls_req(r, create);

    if (q && !q->identity && create) {
        q->identity = apr_pcalloc(r->pool, sizeof(*q->identity));
    }
    return q ? q->identity : NULL;
}

/* Forget a remembered outcome and what was derived from it. */
static APR_INLINE void memo_clear(memo_t *m)
{
    m->outcome = NULL;
    memset(m->derived, 0, sizeof(m->derived));
}

/** The state for @p r: the TLS connection's (shared by its streams), or
 *  for a stream whose connection has none, the stream's own; a private
 *  one in r->pool if even that cannot be made. */
mtls_conn_state_t *mtls_conn_state_of(request_rec *r);

/** The peer of @p r under its scope's proxy settings, kept in @p ri for
 *  the request; @p kept is 0 when it holds only for now (a forwarded
 *  certificate not read yet). */
const mtls_peer_t *mtls_identity_peer(request_rec *r,
                                      struct mtls_req_identity *ri,
                                      int *kept);

/** The hooks of mtls_identity_conn.c. */
void mtls_identity_conn_register_hooks(apr_pool_t *p);

#endif /* MTLS_IDENTITY_PRIVATE_H */
