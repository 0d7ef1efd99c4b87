/* Certificates forwarded in a header by a TLS-terminating proxy: the
 * module's own chain verification of what mtls_fwdfmt.h decoded, and a
 * bounded LRU of verified results shared by the threads of a process.
 * Pure: knows nothing of httpd (APR and OpenSSL only), unit-tested. */
#ifndef MTLS_FWD_H
#define MTLS_FWD_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <openssl/x509.h>

#include "mtls_fwdfmt.h"

/**
 * Load the CA certificates (PEM) that forwarded certificates must chain
 * to.  The store is freed with @p p.  Returns NULL or an error message.
 */
const char *mtls_fwd_load_cas(apr_pool_t *p, const char *file,
                              X509_STORE **out);

/**
 * Load PEM CRLs (at least one).  Freed with @p p.  Returns NULL or an
 * error message.
 */
const char *mtls_fwd_load_crls(apr_pool_t *p, const char *file,
                               STACK_OF(X509_CRL) **out);

/**
 * Verify @p certs (from mtls_fwd_decode, not empty) as a TLS server
 * verifies a client: chain to @p store through the forwarded
 * intermediates, at most @p depth intermediates (as SSLVerifyDepth), the
 * clientAuth purpose, validity at @p now, and when @p crls is not NULL
 * the certificate's revocation.  Returns the parsed certificate (to be
 * freed with X509_free) with @p verify_error NULL when it verified, the
 * certificate and OpenSSL's text in @p verify_error when it did not, or
 * NULL and the reason in @p verify_error when it does not even parse.
 */
X509 *mtls_fwd_verify(apr_pool_t *p, X509_STORE *store,
                      STACK_OF(X509_CRL) *crls, int depth,
                      const apr_array_header_t *certs, apr_time_t now,
                      const char **verify_error);

/* ---- the cache of verified certificates --------------------------- */

/* Keys are the bytes that decide a result (what the proxy sent and the
 * verification settings), compared in full: no digest to compute per
 * request, no collision to fear.  Longer keys are not cached. */
#define MTLS_FWD_MAX_KEY 16384

typedef struct mtls_fwd_cache_t mtls_fwd_cache_t;
typedef struct mtls_fwd_entry_t mtls_fwd_entry_t;

/**
 * A cache of at most @p slots entries, least recently used evicted
 * first, safe to use from several threads.  Lives as long as @p p.
 */
apr_status_t mtls_fwd_cache_create(apr_pool_t *p, int slots,
                                   mtls_fwd_cache_t **out);

/**
 * The entry for @p key if there is one that has not expired at @p now,
 * held for the caller (mtls_fwd_cache_release), else NULL.
 */
mtls_fwd_entry_t *mtls_fwd_cache_get(mtls_fwd_cache_t *c,
                                     const void *key, apr_size_t klen,
                                     apr_time_t now);

/**
 * A new entry for @p key (copied), not yet in any cache, with its own
 * pool to build the value in (mtls_fwd_entry_pool).  NULL when out of
 * memory or when @p klen is above MTLS_FWD_MAX_KEY.
 */
mtls_fwd_entry_t *mtls_fwd_entry_create(const void *key, apr_size_t klen);

/** The pool the value of @p e lives in (as long as the entry). */
apr_pool_t *mtls_fwd_entry_pool(mtls_fwd_entry_t *e);

/** Set the value of a new entry and the moment it stops being valid. */
void mtls_fwd_entry_set(mtls_fwd_entry_t *e, const void *value,
                        apr_time_t expires);

/** The value given to mtls_fwd_entry_set. */
const void *mtls_fwd_entry_value(const mtls_fwd_entry_t *e);

/**
 * Insert the new entry @p e (taking it over) and return the entry now
 * cached for its key, held for the caller: @p e itself, or the one
 * another thread inserted meanwhile (then @p e is destroyed).  The least
 * recently used entry goes when the cache is full; an entry still held
 * by a request is destroyed when its last holder releases it.
 */
mtls_fwd_entry_t *mtls_fwd_cache_put(mtls_fwd_cache_t *c,
                                     mtls_fwd_entry_t *e);

/** Give back an entry from mtls_fwd_cache_get or mtls_fwd_cache_put. */
void mtls_fwd_cache_release(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e);

/** Entries in the cache now. */
int mtls_fwd_cache_count(mtls_fwd_cache_t *c);

/* Values derived from an entry (an identity per configuration) can be
 * remembered with it, up to this many, for as long as the entry lives. */
#define MTLS_FWD_MEMO_SLOTS 4

/** The value remembered with @p e under @p key, or NULL. */
const void *mtls_fwd_memo_get(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e,
                              const void *key, apr_size_t klen);

/**
 * Remember @p value with @p e under @p key: @p copy is called, under the
 * cache's lock, to copy it into the entry's pool (and what it returns is
 * never changed afterwards).  Returns what is now remembered under the
 * key (the copy, or what another thread put there first), or NULL when
 * every slot is taken (the caller just does not get to reuse the value).
 */
const void *mtls_fwd_memo_put(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e,
                              const void *key, apr_size_t klen,
                              const void *(*copy)(apr_pool_t *p,
                                                  const void *value),
                              const void *value);

#endif /* MTLS_FWD_H */
