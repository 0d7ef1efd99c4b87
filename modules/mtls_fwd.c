/* Forwarded certificates: the module's own verification of what the
 * header formats (mtls_fwdfmt.c) decoded, and the LRU of results. */
#include <string.h>

#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_thread_mutex.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/err.h>

#include "mtls_fwd.h"

static apr_status_t free_store(void *data)
{
    X509_STORE_free(data);
    return APR_SUCCESS;
}

static apr_status_t free_crls(void *data)
{
    sk_X509_CRL_pop_free(data, X509_CRL_free);
    return APR_SUCCESS;
}

/* OpenSSL's last error as text, and the queue emptied. */
static const char *ssl_error(apr_pool_t *p)
{
    unsigned long e = ERR_peek_last_error();
    char buf[256];

    ERR_clear_error();
    if (!e) {
        return "no PEM data found";
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    return apr_pstrdup(p, buf);
}

const char *mtls_fwd_load_cas(apr_pool_t *p, const char *file,
                              X509_STORE **out)
{
    X509_STORE *store = X509_STORE_new();
    BIO *bio = BIO_new_file(file, "r");
    X509 *x;
    int n = 0;

    if (!store || !bio) {
        X509_STORE_free(store);
        BIO_free(bio);
        ERR_clear_error();
        return apr_psprintf(p, "cannot read %s", file);
    }
    ERR_clear_error();
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        if (!X509_STORE_add_cert(store, x)) {
            ERR_clear_error();     /* the same CA twice is harmless */
        }
        X509_free(x);
        n++;
    }
    BIO_free(bio);
    if (!n || ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
        const char *why = ssl_error(p);
        X509_STORE_free(store);
        return apr_psprintf(p, "%s: %s", file, n ? why
                            : "no PEM certificate in it");
    }
    ERR_clear_error();
    apr_pool_cleanup_register(p, store, free_store, apr_pool_cleanup_null);
    *out = store;
    return NULL;
}

const char *mtls_fwd_load_crls(apr_pool_t *p, const char *file,
                               STACK_OF(X509_CRL) **out)
{
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    BIO *bio = BIO_new_file(file, "r");
    X509_CRL *crl;

    if (!crls || !bio) {
        sk_X509_CRL_free(crls);
        BIO_free(bio);
        ERR_clear_error();
        return apr_psprintf(p, "cannot read %s", file);
    }
    ERR_clear_error();
    while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL))) {
        sk_X509_CRL_push(crls, crl);
    }
    BIO_free(bio);
    if (!sk_X509_CRL_num(crls)
        || ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
        const char *why = ssl_error(p);
        int n = sk_X509_CRL_num(crls);
        free_crls(crls);
        return apr_psprintf(p, "%s: %s", file, n ? why
                            : "no PEM CRL in it");
    }
    ERR_clear_error();
    apr_pool_cleanup_register(p, crls, free_crls, apr_pool_cleanup_null);
    *out = crls;
    return NULL;
}

static X509 *parse_der(const mtls_der_t *d)
{
    const unsigned char *q = d->der;
    X509 *x = d2i_X509(NULL, &q, (long)d->len);

    /* Trailing bytes are refused: what was signed is all there is. */
    if (x && q != d->der + d->len) {
        X509_free(x);
        x = NULL;
    }
    return x;
}

X509 *mtls_fwd_verify(apr_pool_t *p, X509_STORE *store,
                      STACK_OF(X509_CRL) *crls, int depth,
                      const apr_array_header_t *certs, apr_time_t now,
                      const char **verify_error)
{
    STACK_OF(X509) *chain = NULL;
    X509_STORE_CTX *ctx = NULL;
    X509_VERIFY_PARAM *param;
    X509 *leaf = NULL;
    int i;

    *verify_error = NULL;
    if (!certs->nelts) {
        *verify_error = "no certificate";
        goto leave;
    }
    if (!(leaf = parse_der(&APR_ARRAY_IDX(certs, 0, mtls_der_t)))) {
        *verify_error = "the forwarded certificate is not a valid X.509 "
                        "certificate (garbage or truncated)";
        goto leave;
    }
    if (!store) {
        *verify_error = "no CA to verify forwarded certificates with "
                        "(MTLSProxyCertCA)";
        goto leave;
    }
    if (!(chain = sk_X509_new_null())) {
        *verify_error = "out of memory";
        goto leave;
    }
    for (i = 1; i < certs->nelts; i++) {
        X509 *x = parse_der(&APR_ARRAY_IDX(certs, i, mtls_der_t));
        if (!x) {
            *verify_error = "a certificate of the forwarded chain is not a "
                            "valid X.509 certificate";
            goto leave;
        }
        /* Only CAs can be above the client: a second end-entity
         * certificate means two were sent (a client's own copy of the
         * header passed on, with the proxy's appended), and which one is
         * the client's is not for us to guess. */
        if (!X509_check_ca(x)) {
            X509_free(x);
            *verify_error = apr_psprintf(p, "certificate %d of the "
                                         "forwarded chain is not a CA "
                                         "certificate (the header sent "
                                         "twice?)", i + 1);
            goto leave;
        }
        sk_X509_push(chain, x);
    }
    if (!(ctx = X509_STORE_CTX_new())
        || !X509_STORE_CTX_init(ctx, store, leaf, chain)) {
        *verify_error = "cannot set up the verification";
        goto leave;
    }
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_depth(param, depth);
    X509_VERIFY_PARAM_set_time(param, (time_t)apr_time_sec(now));
    if (crls) {
        X509_STORE_CTX_set0_crls(ctx, crls);
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK);
    }
    if (X509_verify_cert(ctx) <= 0) {
        int e = X509_STORE_CTX_get_error(ctx);
        *verify_error = apr_pstrdup(p, e ? X509_verify_cert_error_string(e)
                                         : "verification failed");
    }
leave:
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
    return leaf;
}

/* ---- LRU -------------------------------------------------------------- */

struct mtls_fwd_entry_t {
    const void *key;
    apr_size_t klen;
    const void *value;
    apr_time_t expires;
    apr_pool_t *pool;
    int refs;                     /* holders outside the cache */
    int cached;                   /* in the hash and the list */
    mtls_fwd_entry_t *prev, *next;   /* most recently used first */
    struct {
        const void *key;
        apr_size_t klen;
        const void *value;
    } memo[MTLS_FWD_MEMO_SLOTS];  /* under the cache's lock */
};

struct mtls_fwd_cache_t {
    apr_thread_mutex_t *mutex;
    apr_hash_t *by_key;
    mtls_fwd_entry_t *head, *tail;
    int slots, count;
};

/* The hash table's hash of a key: FNV-1a over its length, its first 48
 * bytes (the verification settings and the start of the value) and its
 * last 96 (where a certificate's serial-independent part ends and its
 * signature, different for every certificate, lies).  Hashing every byte
 * of a kilobyte-long key per request costs more than the rest of the
 * lookup; keys are still compared in full, so a collision only makes a
 * chain longer (the cache stays bounded). */
static unsigned int key_hash(const char *key, apr_ssize_t *klen)
{
    apr_size_t n = (apr_size_t)*klen, i, end;
    apr_uint64_t h = 0xcbf29ce484222325ull ^ n, w;

    /* eight bytes at a time (FNV-1a on words): a tenth of the
     * instructions of a byte loop over the same bytes */
#define MIX(off) do { memcpy(&w, key + (off), 8); \
                      h = (h ^ w) * 0x100000001b3ull; \
                      h ^= h >> 29; } while (0)
    if (n < 16) {
        for (i = 0; i < n; i++) {
            h = (h ^ (unsigned char)key[i]) * 0x100000001b3ull;
        }
        return (unsigned int)(h ^ (h >> 32));
    }
    end = n < 48 ? n - 8 : 40;
    for (i = 0; i <= end; i += 8) {
        MIX(i);
    }
    for (i = n > 144 ? n - 96 : i; i + 8 <= n; i += 8) {
        MIX(i);
    }
    MIX(n - 8);
#undef MIX
    return (unsigned int)(h ^ (h >> 32));
}

apr_status_t mtls_fwd_cache_create(apr_pool_t *p, int slots,
                                   mtls_fwd_cache_t **out)
{
    mtls_fwd_cache_t *c = apr_pcalloc(p, sizeof(*c));
    apr_status_t rv;

    if ((rv = apr_thread_mutex_create(&c->mutex, APR_THREAD_MUTEX_DEFAULT,
                                      p)) != APR_SUCCESS) {
        return rv;
    }
    c->by_key = apr_hash_make_custom(p, key_hash);
    c->slots = slots > 0 ? slots : 1;
    *out = c;
    return APR_SUCCESS;
}

static void unlink_locked(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    }
    else {
        c->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    }
    else {
        c->tail = e->prev;
    }
    e->prev = e->next = NULL;
}

static void push_front_locked(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head) {
        c->head->prev = e;
    }
    c->head = e;
    if (!c->tail) {
        c->tail = e;
    }
}

/* Take @p e out of the cache; destroyed now unless someone holds it. */
static void drop_locked(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e)
{
    unlink_locked(c, e);
    apr_hash_set(c->by_key, e->key, e->klen, NULL);
    e->cached = 0;
    c->count--;
    if (!e->refs) {
        apr_pool_destroy(e->pool);
    }
}

mtls_fwd_entry_t *mtls_fwd_cache_get(mtls_fwd_cache_t *c,
                                     const void *key, apr_size_t klen,
                                     apr_time_t now)
{
    mtls_fwd_entry_t *e;

    if (klen > MTLS_FWD_MAX_KEY) {
        return NULL;
    }
    apr_thread_mutex_lock(c->mutex);
    e = apr_hash_get(c->by_key, key, klen);
    if (e && e->expires <= now) {
        drop_locked(c, e);
        e = NULL;
    }
    if (e) {
        if (c->head != e) {
            unlink_locked(c, e);
            push_front_locked(c, e);
        }
        e->refs++;
    }
    apr_thread_mutex_unlock(c->mutex);
    return e;
}

mtls_fwd_entry_t *mtls_fwd_entry_create(const void *key, apr_size_t klen)
{
    apr_pool_t *pool;
    mtls_fwd_entry_t *e;

    if (klen > MTLS_FWD_MAX_KEY) {
        return NULL;
    }
    /* Its own unmanaged pool: entries come and go in any order and from
     * any thread, long after the request that made them. */
    if (apr_pool_create_unmanaged_ex(&pool, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    apr_pool_tag(pool, "mtls_fwd_entry");
    e = apr_pcalloc(pool, sizeof(*e));
    e->key = apr_pmemdup(pool, key, klen);
    e->klen = klen;
    e->pool = pool;
    return e;
}

apr_pool_t *mtls_fwd_entry_pool(mtls_fwd_entry_t *e)
{
    return e->pool;
}

void mtls_fwd_entry_set(mtls_fwd_entry_t *e, const void *value,
                        apr_time_t expires)
{
    e->value = value;
    e->expires = expires;
}

const void *mtls_fwd_entry_value(const mtls_fwd_entry_t *e)
{
    return e->value;
}

mtls_fwd_entry_t *mtls_fwd_cache_put(mtls_fwd_cache_t *c,
                                     mtls_fwd_entry_t *e)
{
    mtls_fwd_entry_t *old;

    apr_thread_mutex_lock(c->mutex);
    old = apr_hash_get(c->by_key, e->key, e->klen);
    if (old) {
        /* Another thread verified the same certificate meanwhile. */
        old->refs++;
        apr_thread_mutex_unlock(c->mutex);
        apr_pool_destroy(e->pool);
        return old;
    }
    e->refs = 1;
    e->cached = 1;
    apr_hash_set(c->by_key, e->key, e->klen, e);
    push_front_locked(c, e);
    c->count++;
    while (c->count > c->slots && c->tail) {
        drop_locked(c, c->tail);
    }
    apr_thread_mutex_unlock(c->mutex);
    return e;
}

void mtls_fwd_cache_release(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e)
{
    int destroy;

    apr_thread_mutex_lock(c->mutex);
    destroy = --e->refs == 0 && !e->cached;
    apr_thread_mutex_unlock(c->mutex);
    if (destroy) {
        apr_pool_destroy(e->pool);
    }
}

int mtls_fwd_cache_count(mtls_fwd_cache_t *c)
{
    int n;

    apr_thread_mutex_lock(c->mutex);
    n = c->count;
    apr_thread_mutex_unlock(c->mutex);
    return n;
}

const void *mtls_fwd_memo_get(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e,
                              const void *key, apr_size_t klen)
{
    const void *v = NULL;
    int i;

    apr_thread_mutex_lock(c->mutex);
    for (i = 0; i < MTLS_FWD_MEMO_SLOTS && e->memo[i].key; i++) {
        if (e->memo[i].klen == klen && !memcmp(e->memo[i].key, key, klen)) {
            v = e->memo[i].value;
            break;
        }
    }
    apr_thread_mutex_unlock(c->mutex);
    return v;
}

const void *mtls_fwd_memo_put(mtls_fwd_cache_t *c, mtls_fwd_entry_t *e,
                              const void *key, apr_size_t klen,
                              const void *(*copy)(apr_pool_t *p,
                                                  const void *value),
                              const void *value)
{
    const void *kept = NULL;
    int i;

    /* The entry's pool is only ever allocated from before the entry is
     * published, or here under the lock. */
    apr_thread_mutex_lock(c->mutex);
    for (i = 0; i < MTLS_FWD_MEMO_SLOTS; i++) {
        if (!e->memo[i].key) {
            kept = e->memo[i].value = copy(e->pool, value);
            e->memo[i].klen = klen;
            e->memo[i].key = apr_pmemdup(e->pool, key, klen);
            break;
        }
        if (e->memo[i].klen == klen && !memcmp(e->memo[i].key, key, klen)) {
            kept = e->memo[i].value;
            break;
        }
    }
    apr_thread_mutex_unlock(c->mutex);
    return kept;
}
