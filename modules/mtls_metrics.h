/* Metrics: counters in one shared-memory segment that every process and
 * thread of the server adds to with atomic operations (no lock on the
 * request path), kept across graceful restarts, and their rendering in
 * the Prometheus text format (SetHandler mtls-status).  Each call below
 * is a few atomic adds and does nothing when the segment is missing. */
#ifndef MTLS_METRICS_H
#define MTLS_METRICS_H

#include "httpd.h"

/* What an mtls decision of a request came to. */
typedef enum {
    MTLS_DECIDED_GRANTED = 0,
    MTLS_DECIDED_DENIED,
    MTLS_DECIDED_WOULD_DENY,      /* MTLSMode report */
    MTLS_DECIDED_COUNT
} mtls_decided_e;

typedef enum {
    MTLS_CACHE_HIT = 0,
    MTLS_CACHE_MISS,
    MTLS_CACHE_STALE,             /* served past its TTL (MTLSCacheMaxStale) */
    MTLS_CACHE_ERROR,
    MTLS_CACHE_RESULTS
} mtls_cache_result_e;

typedef enum {
    MTLS_LDAPOP_OK = 0,           /* the directory answered (found or not) */
    MTLS_LDAPOP_ERROR,            /* connect, bind or search failed */
    MTLS_LDAPOP_TIMEOUT,          /* MTLSLDAPTimeout passed */
    MTLS_LDAPOP_RESULTS
} mtls_ldap_op_e;

/* What became of the certificate a trusted proxy forwarded, or of a
 * forwarded-certificate header from a peer that is not one. */
typedef enum {
    MTLS_FWD_VERIFIED = 0,        /* verified by the module (MTLSProxyCertCA) */
    MTLS_FWD_NOT_VERIFIED,        /* did not decode or verify */
    MTLS_FWD_NONE,                /* a trusted proxy sent no certificate */
    MTLS_FWD_UNTRUSTED,           /* the header came from a peer not trusted
                                     (or not pinned): removed, never read */
    MTLS_FWD_DIRECT,              /* a direct TLS client certificate won */
    MTLS_FWD_RESULTS
} mtls_fwd_result_e;

/** Count one decision: @p reason is an mtls_reason_e (MTLS_R_NONE when
 *  granted). */
void mtls_metrics_decision(mtls_decided_e result, int reason);

/** Count one request whose certificate mapped to a user: @p source as
 *  the identity names it ("map", "rule:N", "ldap"), @p strong its
 *  strength. */
void mtls_metrics_identity(const char *source, int strong);

/** Count one request's forwarded certificate (once per request). */
void mtls_metrics_forwarded(mtls_fwd_result_e result);

/** Count one cache lookup. */
void mtls_metrics_cache(mtls_cache_result_e result);

/** Count one directory operation and how long it took. */
void mtls_metrics_ldap(mtls_ldap_op_e result, apr_interval_time_t took);

/** Observe a client certificate's days left (once per certificate a
 *  connection presents). */
void mtls_metrics_days_left(long days);

/**
 * Make @p path (a watched file) a label of the reload counters, its
 * current version being @p version (any number that changes when the
 * file does, e.g. from its stat).  Parent process, post_config only.
 */
void mtls_metrics_file(const char *path, apr_uint64_t version);

/**
 * Count a reload of @p path to @p version, good or not.  Every process
 * re-reads a changed file on its own; the version makes one change count
 * once for the whole server.
 */
void mtls_metrics_reload(const char *path, apr_uint64_t version, int ok);

/** Register post_config (the segment) and the mtls-status handler. */
void mtls_metrics_register_hooks(apr_pool_t *p);

#endif /* MTLS_METRICS_H */
