/* Certificates forwarded in a header by a TLS-terminating proxy: the
 * header formats (RFC 9440, Envoy's XFCC, URL-encoded PEM, base64 DER),
 * the module's own chain verification, and a bounded LRU of verified
 * results shared by the threads of a process.  Pure: knows nothing of
 * httpd (APR and OpenSSL only), so every parser is unit-tested and
 * fuzzed. */
#ifndef MTLS_FWD_H
#define MTLS_FWD_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <openssl/x509.h>

typedef enum {
    MTLS_FWD_RFC9440 = 0,        /* Client-Cert: :BASE64-DER: (+ -Chain) */
    MTLS_FWD_XFCC,               /* Envoy: Cert="URL-PEM";Chain="URL-PEM" */
    MTLS_FWD_PEM_URLENCODED,     /* nginx $ssl_client_escaped_cert */
    MTLS_FWD_DER_BASE64,         /* Traefik, Cloudflare: base64 DER[,...] */
    MTLS_FWD_FORMAT_COUNT
} mtls_fwd_format_e;

/* Bounds on what a header may carry: larger is refused, never cut. */
#define MTLS_FWD_MAX_DER    16384   /* bytes of one certificate */
#define MTLS_FWD_MAX_CERTS  10      /* the certificate and its chain */

/* One certificate as DER. */
typedef struct {
    const unsigned char *der;
    apr_size_t len;
} mtls_der_t;

/** The format named @p name (case-insensitive), or -1. */
int mtls_fwd_format_parse(const char *name);

/** The configuration name of @p f ("rfc9440", ...). */
const char *mtls_fwd_format_name(mtls_fwd_format_e f);

/**
 * Decode what the proxy sent: @p value is the certificate header's value,
 * @p chain the chain header's (rfc9440 only; NULL when absent).  On
 * success @p certs holds the certificate first, then the chain, as
 * mtls_der_t; it is empty when the proxy said it had no certificate (an
 * empty value, RFC 9440's "::", an XFCC element without Cert).  DER is
 * only split here, not parsed (mtls_fwd_verify does that).  On failure
 * returns APR_EINVAL and sets @p err to a sentence for the log and the
 * error page.
 */
apr_status_t mtls_fwd_decode(apr_pool_t *p, mtls_fwd_format_e f,
                             const char *value, const char *chain,
                             apr_array_header_t **certs, const char **err);

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
 * never changed afterwards).  Nothing happens when the key is there
 * already or every slot is taken (the caller just does not get to reuse
 * the value).
 */
void mtls_fwd_memo_put(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e,
                       const void *key, apr_size_t klen,
                       const void *(*copy)(apr_pool_t *p, const void *value),
                       const void *value);

#endif /* MTLS_FWD_H */
