/* What the units of forwarded certificates share (mtls_proxy_conf.c:
 * the directives; mtls_proxy.c: the headers, their removal and the
 * metrics; mtls_proxy_peer.c: the forwarded peer, verified and cached).
 * Nothing outside them includes this. */
#ifndef MTLS_PROXY_PRIVATE_H
#define MTLS_PROXY_PRIVATE_H

#include "mtls_private.h"
#include "mtls_proxy.h"
#include "mtls_fwd.h"
#include "mtls_lru.h"
#include "mtls_match.h"
#include "mtls_metrics.h"

typedef struct {
    mtls_fp_kind_e kind;
    const char *hex;
} pin_t;

/* Unset is NULL / -1 / 0 for the *_set flags, so nested scopes inherit. */
struct mtls_proxy_conf_t {
    apr_array_header_t *nets;      /* of apr_ipsubnet_t *; NULL: any */
    apr_array_header_t *pins;      /* of pin_t; NULL: none */
    const char *trusted_text;      /* as written, for hints */
    int trusted_set;               /* MTLSTrustedProxy here ("none" too) */
    const char *header;            /* MTLSProxyCertHeader */
    const char *chain_header;
    const char *header_lc;         /* the same in lower case, */
    const char *chain_lc;          /* for spelling() */
    const unsigned char *first;    /* 1 for each first character of a
                                      spelling of either (256 of them) */
    int format;
    const char *ca_file;
    X509_STORE *store;
    STACK_OF(X509_CRL) *crls;
    int crls_set;
    int depth;
};

struct mtls_proxy_names_t {
    apr_array_header_t *lc;        /* of const char *, in lower case */
    unsigned char first[256];      /* 1 for each first character of a
                                      spelling of one of them */
};

/* What the header parser found for the initial request, made only when
 * its peer is a trusted proxy: the raw values it sent. */
typedef struct {
    const mtls_proxy_conf_t *pc;   /* the settings it was read under */
    const char *value;
    const char *chain;
} stash_t;

/* The request's own state (in the module's request_config, which costs
 * no hashing, unlike pool userdata): the stash of the initial request,
 * and the cache entry the request holds. */
struct mtls_req_proxy {
    stash_t stash;
    int stashed;
    mtls_lru_entry_t *entry;
    int counted;                   /* 1 + mtls_fwd_result_e to count in
                                      the log hook, or 0 */
};

/* (inline: a few loads, and called four times per forwarded request) */
static APR_INLINE struct mtls_req_proxy *req_proxy(const request_rec *r,
                                                   int create)
{
    mtls_req_t *q = mtls_req(r, create);

    if (q && !q->proxy && create) {
        q->proxy = apr_pcalloc(r->pool, sizeof(*q->proxy));
    }
    return q ? q->proxy : NULL;
}


/* ASCII case folding inline: header names are tokens, and a call to the
 * C library's tolower per character costs more than the rest. */
#define LOWER(c) ((c) >= 'A' && (c) <= 'Z' ? (c) + ('a' - 'A') : (c))

/* The warnings limited separately: the header from an address that is
 * not trusted, and from a trusted address whose certificate is not
 * pinned (a host in the range that should not be forwarding). */
typedef enum { WARN_ADDRESS = 0, WARN_PIN = 1 } warn_e;

/** Warn (at most once per MTLS_PROXY_WARN_EVERY seconds and process for
 *  each @p kind) that @p header was removed unread, @p why. */
void mtls_proxy_warn_untrusted(request_rec *r, warn_e kind,
                               const char *header, const char *why);

/* The request @p r descends from: sub-requests and internal redirects
 * share the original request's headers. */
static APR_INLINE request_rec *mtls_proxy_initial(request_rec *r)
{
    for (;;) {
        if (r->main) {
            r = r->main;
        }
        else if (r->prev) {
            r = r->prev;
        }
        else {
            return r;
        }
    }
}

/* The proxy state of the initial request of @p r, when its header
 * parser stashed what a trusted peer sent; else NULL. */
static APR_INLINE struct mtls_req_proxy *mtls_proxy_find_stash(request_rec *r)
{
    struct mtls_req_proxy *rp = req_proxy(mtls_proxy_initial(r), 0);

    return rp && rp->stashed ? rp : NULL;
}

/* What the metrics are to count for the initial request of @p r (@p rp:
 * its state, or NULL to find or make it); the last word wins, as a
 * sub-request may read under other settings. */
static APR_INLINE void mtls_proxy_set_counted(request_rec *r,
                                              struct mtls_req_proxy *rp,
                                              mtls_fwd_result_e result)
{
    if (!rp) {
        rp = req_proxy(mtls_proxy_initial(r), 1);
    }
    rp->counted = 1 + (int)result;
}

/** Whether the peer of @p r is a proxy @p pc trusts by its address (or
 *  by certificate alone, when @p pc pins without addresses). */
int mtls_proxy_addr_trusted(request_rec *r, const mtls_proxy_conf_t *pc);

/** Register the per-process cache of forwarded peers. */
void mtls_proxy_peer_register_hooks(apr_pool_t *p);

#endif /* MTLS_PROXY_PRIVATE_H */
