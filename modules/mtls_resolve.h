/* Resolution: certificate facts + the sources in force + the time -> an
 * outcome (mtls_outcome.h), in the order of SPEC §3: deny list -> CRL
 * (MTLSCRL, SPEC §8) -> map file -> MTLSUserFrom rules -> directory;
 * groups from every
 * group source are added to the user found.  Pure: knows nothing of
 * httpd, of requests or of how the sources were loaded. */
#ifndef MTLS_RESOLVE_H
#define MTLS_RESOLVE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "mtls_cert.h"
#include "mtls_outcome.h"
#include "mtls_filefmt.h"

/* A file's parsed contents as one loaded version.  @c stamp differs for
 * every version a process ever loads, so (data, stamp) names contents
 * even after the memory of an old version is reused. */
typedef struct {
    const void *data;            /* NULL: the file is not in force */
    apr_uint64_t stamp;
} mtls_loaded_t;

/* Everything resolution reads besides the certificate and the clock.
 * The struct is also the identity of the settings: callers that remember
 * outcomes compare it byte for byte (zero it before filling it in), so a
 * new source added here is part of every memo key without more code. */
typedef struct {
    mtls_loaded_t deny_list;                 /* mtls_map_t (keys only) */
    mtls_loaded_t crl;                       /* mtls_crl_set_t */
    int crl_stale_deny;                      /* MTLSCRLStale deny */
    mtls_loaded_t map_file;                  /* mtls_map_t */
    const apr_array_header_t *user_rules;    /* of mtls_rule_t * */
    mtls_loaded_t group_file;                /* mtls_groupfile_t */
    const apr_array_header_t *group_rules;   /* of mtls_rule_t * */
    const apr_array_header_t *sid_issuers;   /* canonical issuer DNs whose
                                                AD SIDs are strong
                                                (MTLSTrustSIDFrom) */
    /* The directory (SPEC §4), after the rules: a digest of its settings
     * (all zero: no directory).  How to ask it is passed beside, as an
     * mtls_asker_t, because a merged scope's settings live in a request. */
    unsigned char directory[32];
} mtls_sources_t;

/* What a source that asks a server (the directory) answers. */
typedef struct {
    mtls_outcome_kind_e kind;    /* IDENTITY: an entry; NONE: no entry;
                                    UNAVAILABLE: it could not answer */
    const char *user;            /* the entry's name, or NULL */
    const char *dn;              /* the entry */
    int strong;                  /* found by what only this certificate has */
    const apr_array_header_t *groups;   /* of const char *, or NULL */
    apr_time_t expires;          /* ask again from then on */
    const char *note;            /* for the trace: cached, stale, why not */
} mtls_asked_t;

/* A source that asks a server, for mtls_resolve_ask(). */
typedef struct mtls_asker_t mtls_asker_t;
struct mtls_asker_t {
    /** Ask about @p cert, whose user so far is @p user (may be NULL);
     *  @p sid_trusted: its AD SID may be believed (MTLSTrustSIDFrom). */
    void (*ask)(const mtls_asker_t *self, apr_pool_t *p,
                const mtls_cert_t *cert, const char *user, int sid_trusted,
                apr_time_t now, mtls_asked_t *out);
    void *baton;
};

/**
 * Resolve @p cert (verified by the caller) against @p src at @p now.
 * Returns the outcome, allocated from @p p: an identity, or no identity
 * with reason denylisted, revoked or unmapped (groups from MTLSGroupFrom may
 * still be there), or "could not answer".  @c expires says until when
 * the outcome holds (e.g. the next change of days-left when a rule reads
 * it).  When @p trace is not NULL, one line per step is appended to it
 * (const char *, from @p p) for the log.
 */
mtls_outcome_t *mtls_resolve(apr_pool_t *p, const mtls_cert_t *cert,
                             const mtls_sources_t *src, apr_time_t now,
                             apr_array_header_t *trace);

/**
 * The same with the directory: @p dir (may be NULL) is asked after the
 * rules when @p src names a directory.  It gives the user when nothing
 * before did, the entry's DN and groups for the user found, bounds
 * @c expires by its answer's, and its "could not answer" is the
 * outcome's (kind UNAVAILABLE, reason directory-unavailable, no user).
 */
mtls_outcome_t *mtls_resolve_ask(apr_pool_t *p, const mtls_cert_t *cert,
                                 const mtls_sources_t *src,
                                 const mtls_asker_t *dir, apr_time_t now,
                                 apr_array_header_t *trace);

#endif /* MTLS_RESOLVE_H */
