/* Resolution: certificate facts + the sources in force + the time -> an
 * outcome (mtls_outcome.h), in the order of SPEC §3: deny list -> map
 * file -> MTLSUserFrom rules (-> directory, later); groups from every
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
    mtls_loaded_t map_file;                  /* mtls_map_t */
    const apr_array_header_t *user_rules;    /* of mtls_rule_t * */
    mtls_loaded_t group_file;                /* mtls_groupfile_t */
    const apr_array_header_t *group_rules;   /* of mtls_rule_t * */
    /* The directory (SPEC §4) comes here: after the rules. */
} mtls_sources_t;

/**
 * Resolve @p cert (verified by the caller) against @p src at @p now.
 * Returns the outcome, allocated from @p p: an identity, or no identity
 * with reason denylisted or unmapped (groups from MTLSGroupFrom may
 * still be there), or "could not answer".  @c expires says until when
 * the outcome holds (e.g. the next change of days-left when a rule reads
 * it).  When @p trace is not NULL, one line per step is appended to it
 * (const char *, from @p p) for the log.
 */
mtls_outcome_t *mtls_resolve(apr_pool_t *p, const mtls_cert_t *cert,
                             const mtls_sources_t *src, apr_time_t now,
                             apr_array_header_t *trace);

#endif /* MTLS_RESOLVE_H */
