/* Merged per-directory records, remembered per process (mtls_mergecache.c).
 * httpd merges a request's per-directory configuration on every request
 * (twice or three times: the location walk runs before and after the
 * directory walk), and merging ours copies every field and those of its
 * headers, directory and proxy parts.  A merge of two records that live
 * as long as the configuration always gives the same result, so a child
 * process makes each such result once and then finds it by the two
 * pointers.  Lookups take no lock; making a result does.  Pure: APR only,
 * unit-tested. */
#ifndef MTLS_MERGECACHE_H
#define MTLS_MERGECACHE_H

#include <apr_pools.h>

typedef struct mtls_mergecache_t mtls_mergecache_t;

/** How a result is made: @p add over @p base, allocated in @p p. */
typedef void *mtls_merge_fn(apr_pool_t *p, const void *base, const void *add);

/**
 * A memo of at most @p slots merge results (a power of two), safe to use
 * from several threads; results live as long as @p p.
 */
apr_status_t mtls_mergecache_create(apr_pool_t *p, unsigned slots,
                                    mtls_mergecache_t **out);

/**
 * The result of merging @p add over @p base: the one made earlier for
 * this very pair, else made now with @p merge in the memo's pool and
 * kept.  NULL when the memo has no room for it: the caller merges into a
 * pool of its own.  Both records must live as long as the memo and never
 * change (records of the configuration, or results from this memo).
 */
void *mtls_mergecache_get(mtls_mergecache_t *mc, const void *base,
                          const void *add, mtls_merge_fn *merge);

/** Results kept now. */
unsigned mtls_mergecache_count(mtls_mergecache_t *mc);

#endif /* MTLS_MERGECACHE_H */
