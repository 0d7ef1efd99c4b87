/* The directory's answers as the shared cache keeps them (SPEC §5): the
 * bytes of one answer, read back only when they are whole, and how old
 * an answer may be to be used (fresh, or stale in an outage).  Pure: APR
 * only, unit-tested and fuzzed, because what a cache server hands back
 * is input like any other. */
#ifndef MTLS_DIRFMT_H
#define MTLS_DIRFMT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

typedef enum {
    MTLS_DIR_FOUND = 0,     /* one entry */
    MTLS_DIR_NONE,          /* no entry (or a placeholder without value) */
    MTLS_DIR_DOWN           /* the directory could not answer */
} mtls_dir_outcome_e;

/* What the directory says about one certificate. */
typedef struct {
    mtls_dir_outcome_e outcome;
    const char *user;              /* the entry's naming attribute */
    const char *dn;
    int strong;                    /* the user filter's strength */
    apr_array_header_t *groups;    /* names, no duplicates */
    apr_time_t expires;            /* ask again from then on */
    int from_cache;                /* no directory I/O was done */
    int stale;                     /* past its TTL, served in an outage */
} mtls_dir_answer_t;

/* How far ahead of this host's clock a fetch time may be (another host
 * of the fleet wrote it) and still count. */
#define MTLS_DIRFMT_SKEW apr_time_from_sec(5)

/**
 * The bytes of @p a (FOUND or NONE), fetched at @p fetched, in @p p;
 * their length in @p len.
 */
const char *mtls_dirfmt_write(apr_pool_t *p, const mtls_dir_answer_t *a,
                              apr_time_t fetched, apr_size_t *len);

/**
 * Read back what mtls_dirfmt_write() made: 1 with @p a and @p fetched
 * set, or 0 for anything else (another version's format, cut short,
 * extra bytes, a group count that does not match, a bad time).
 */
int mtls_dirfmt_read(apr_pool_t *p, const char *v, apr_size_t len,
                     mtls_dir_answer_t *a, apr_time_t *fetched);

typedef enum {
    MTLS_DIRFMT_FRESH,      /* within its TTL: the answer */
    MTLS_DIRFMT_STALE,      /* past it, within MTLSCacheMaxStale: only
                               while the directory cannot answer */
    MTLS_DIRFMT_UNUSABLE    /* too old, or fetched in the future */
} mtls_dirfmt_age_e;

/** What an answer fetched at @p fetched is worth at @p now. */
mtls_dirfmt_age_e mtls_dirfmt_age(apr_time_t now, apr_time_t fetched,
                                  apr_interval_time_t ttl,
                                  apr_interval_time_t max_stale);

#endif /* MTLS_DIRFMT_H */
