/* The directory source, the lookup: the cache first (its key, the
 * answer's bytes), then one round trip to the directory, a stale answer
 * in an outage, the answer stored; and the asker mtls_resolve_ask() uses. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"

#include <openssl/evp.h>

#include "mtls_directory_private.h"
#include "mtls_metrics.h"

/* ---- cached answers ------------------------------------------------- */

/* The cache key: the certificate, the settings, the user the earlier
 * sources gave (a filter may use {user}) and whether its SID is trusted
 * (MTLSTrustSIDFrom is not a directory setting, and {sid} finds nothing
 * when it is not), hashed to a fixed, printable length every socache
 * provider takes. */
static const char *cache_key(apr_pool_t *p, const mtls_directory_conf_t *c,
                             const mtls_cert_t *cert, const char *user,
                             int sid_trusted)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[32];
    unsigned int n;
    char *key = apr_palloc(p, 12 + 64 + 1), *o;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int i;

    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, cert->sha256, strlen(cert->sha256) + 1);
    EVP_DigestUpdate(md, c->digest, sizeof(c->digest));
    EVP_DigestUpdate(md, sid_trusted ? "s" : "-", 1);
    EVP_DigestUpdate(md, user ? "u" : "-", 1);
    if (user) {
        EVP_DigestUpdate(md, user, strlen(user) + 1);
    }
    EVP_DigestFinal_ex(md, d, &n);
    EVP_MD_CTX_free(md);
    /* shmcb picks a subcache by the key's first byte: make that byte
     * spread as the digest does (printable, no space: memcache takes it),
     * or every answer would crowd into one subcache and evict the rest. */
    key[0] = (char)(0x40 + (d[0] & 63));
    if (key[0] == 0x7f) {
        key[0] = 0x3f;
    }
    memcpy(key + 1, "mtls-authz:", 11);
    for (i = 0, o = key + 12; i < 32; i++) {
        *o++ = hex[d[i] >> 4];
        *o++ = hex[d[i] & 15];
    }
    *o = '\0';
    return key;
}

/* ---- asking the directory ------------------------------------------- */

static mtls_ldap_pool_t *pool_for(request_rec *r, mtls_dir_runtime_t *rt,
                                  const mtls_directory_conf_t *c)
{
    mtls_ldap_pool_t *pool;

    if (!rt->lock) {
        return NULL;
    }
    apr_thread_mutex_lock(rt->lock);
    pool = apr_hash_get(rt->pools, c->conn_key, APR_HASH_KEY_STRING);
    if (!pool) {
        /* A merged configuration lives in a request's pool: keep a copy
         * of the settings (whose strings are all from the configuration
         * pool) with the connections. */
        mtls_ldap_settings_t *s = apr_pmemdup(rt->child_pool, &c->settings,
                                              sizeof(*s));
        if (mtls_ldap_pool_create(rt->child_pool, s, rt->max_conns, &pool)
            == APR_SUCCESS) {
            apr_hash_set(rt->pools, apr_pstrdup(rt->child_pool, c->conn_key),
                         APR_HASH_KEY_STRING, pool);
        }
        else {
            pool = NULL;
        }
    }
    apr_thread_mutex_unlock(rt->lock);
    return pool;
}

/* One round trip to the directory for @p cert. */
static void ask(request_rec *r, mtls_dir_runtime_t *rt,
                const mtls_directory_conf_t *c, const mtls_cert_t *cert,
                const char *user, int sid_trusted, apr_pool_t *p,
                mtls_dir_answer_t *a, const char **err)
{
    const mtls_ldapfilter_t *uf = c->effective_user_filter;
    mtls_ldap_pool_t *pool;
    mtls_ldap_entry_t e;
    const char *filter;
    mtls_ldap_result_e res;

    a->groups = apr_array_make(p, 8, sizeof(const char *));
    a->strong = mtls_ldapfilter_strong_for(uf, cert);
    filter = mtls_ldapfilter_render_sid(r->pool, uf, cert, user, NULL,
                                        sid_trusted);
    if (!filter && cert->sid && !sid_trusted
        && mtls_ldapfilter_uses_sid(uf)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "MTLS6100: the certificate's SID %s is not used for "
                      "%s: its issuer %s is not one MTLSTrustSIDFrom names, "
                      "and any CA the server trusts can write any SID; "
                      "no directory entry", cert->sid,
                      mtls_ldapfilter_text(uf), cert->issuer);
        a->outcome = MTLS_DIR_NONE;
        return;
    }
    if (!filter) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "MTLS2020: the certificate has no value for a "
                      "placeholder of %s: no directory entry",
                      mtls_ldapfilter_text(uf));
        a->outcome = MTLS_DIR_NONE;
        return;
    }
    if (!(pool = pool_for(r, rt, c))) {
        *err = "no connection pool in this process";
        a->outcome = MTLS_DIR_DOWN;
        return;
    }
    res = mtls_ldap_find_user(pool, p, filter, c->member_of == 1, &e, err);
    switch (res) {
    case MTLS_LDAP_DOWN:
        a->outcome = MTLS_DIR_DOWN;
        return;
    case MTLS_LDAP_AMBIGUOUS:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "MTLS2021: more than one directory entry matches %s "
                      "under %s: treated as no entry", filter, c->url->base);
        a->outcome = MTLS_DIR_NONE;
        return;
    case MTLS_LDAP_NONE:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "MTLS2022: no directory entry matches %s", filter);
        a->outcome = MTLS_DIR_NONE;
        return;
    case MTLS_LDAP_OK:
        break;
    }
    a->dn = e.dn;
    a->user = e.name;
    if (mtls_dir_find_groups(r, pool, c, e.dn, user ? user : e.name, p, e.member_of,
                    a->groups, err) != MTLS_LDAP_OK) {
        a->outcome = MTLS_DIR_DOWN;
        return;
    }
    a->outcome = MTLS_DIR_FOUND;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "MTLS2023: directory entry %s (user %s, %d groups) for %s",
                  e.dn, e.name ? e.name : "-", a->groups->nelts, filter);
}

void mtls_directory_lookup(request_rec *r, const mtls_directory_conf_t *c,
                           const mtls_cert_t *cert, const char *user,
                           int sid_trusted, apr_pool_t *p,
                           mtls_dir_answer_t *out)
{
    mtls_dir_runtime_t *rt = mtls_dir_runtime(r->server->process->pconf);
    apr_time_t now = apr_time_now(), fetched = 0;
    mtls_dir_answer_t cached;
    int have_stale = 0, counted = 0, kept = 0;
    const char *key = NULL, *err = NULL, *v;
    apr_size_t len;

    memset(out, 0, sizeof(*out));
    if (rt->cache) {
        apr_status_t rv;
        key = cache_key(r->pool, c, cert, user, sid_trusted);
        rv = mtls_cache_get(rt->cache, r->server, key, p, &v, &len, &kept);
        if (rv == APR_SUCCESS
            && mtls_dirfmt_read(p, v, len, &cached, &fetched)) {
            apr_interval_time_t ttl = mtls_dir_ttl(c, cached.outcome
                                                == MTLS_DIR_FOUND);
            mtls_dirfmt_age_e age = mtls_dirfmt_age(now, fetched, ttl,
                                                    mtls_dir_max_stale(c));
            if (age == MTLS_DIRFMT_FRESH) {
                /* fresh for this scope: this process may keep it (a
                 * remote cache's front) for as long as it stays so */
                if (!kept) {
                    mtls_cache_keep(rt->cache, key, v, len, fetched + ttl);
                }
                *out = cached;
                out->from_cache = 1;
                out->expires = fetched + ttl;
                mtls_metrics_cache(MTLS_CACHE_HIT);
                return;
            }
            have_stale = age == MTLS_DIRFMT_STALE;
        }
        else if (rv == APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          "MTLS2028: the %s cache gave an unreadable answer "
                          "for sha256 %s (%" APR_SIZE_T_FMT " bytes): asking "
                          "the directory", mtls_cache_name(rt->cache),
                          cert->sha256, len);
            mtls_metrics_cache(MTLS_CACHE_ERROR);
            counted = 1;
        }
        else if (rv != APR_NOTFOUND) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                          "MTLS2024: the %s cache could not be read",
                          mtls_cache_name(rt->cache));
            mtls_metrics_cache(MTLS_CACHE_ERROR);
            counted = 1;
        }
    }
    ask(r, rt, c, cert, user, sid_trusted, p, out, &err);
    /* Not found, expired or unreadable as an answer: a miss (unless a
     * stale answer is served below). */
    if (rt->cache && !counted
        && !(out->outcome == MTLS_DIR_DOWN && have_stale)) {
        mtls_metrics_cache(MTLS_CACHE_MISS);
    }
    if (out->outcome == MTLS_DIR_DOWN) {
        if (have_stale) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          "MTLS2025: directory %s unavailable (%s): serving "
                          "the answer cached %" APR_TIME_T_FMT "s ago for "
                          "sha256 %s", c->url->uris, err ? err : "?",
                          apr_time_sec(now - fetched), cert->sha256);
            *out = cached;
            out->stale = 1;
            out->from_cache = 1;
            out->expires = now;   /* try the directory again next time */
            mtls_metrics_cache(MTLS_CACHE_STALE);
            return;
        }
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "MTLS2026: directory %s unavailable: %s", c->url->uris,
                      err ? err : "?");
        return;
    }
    out->expires = now + mtls_dir_ttl(c, out->outcome == MTLS_DIR_FOUND);
    if (rt->cache) {
        apr_status_t rv;
        v = mtls_dirfmt_write(r->pool, out, now, &len);
        rv = mtls_cache_put(rt->cache, r->server, key,
                            out->expires + mtls_dir_max_stale(c), v, len, r->pool);
        /* the new answer replaces what this process kept (its front) */
        mtls_cache_keep(rt->cache, key, v, len, out->expires);
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                          "MTLS2027: the %s cache did not store the answer "
                          "for sha256 %s (%" APR_SIZE_T_FMT " bytes)",
                          mtls_cache_name(rt->cache), cert->sha256, len);
        }
    }
}

typedef struct {
    request_rec *r;
    const mtls_directory_conf_t *conf;
} asker_baton_t;

static void ask_directory(const mtls_asker_t *self, apr_pool_t *p,
                          const mtls_cert_t *cert, const char *user,
                          int sid_trusted, apr_time_t now, mtls_asked_t *out)
{
    const asker_baton_t *b = self->baton;
    mtls_dir_answer_t a;

    mtls_directory_lookup(b->r, b->conf, cert, user, sid_trusted, p, &a);
    out->kind = a.outcome == MTLS_DIR_FOUND ? MTLS_OUTCOME_IDENTITY
                : a.outcome == MTLS_DIR_NONE ? MTLS_OUTCOME_NONE
                : MTLS_OUTCOME_UNAVAILABLE;
    out->user = a.user;
    out->dn = a.dn;
    out->strong = a.strong;
    out->groups = a.groups;
    out->expires = a.expires;
    out->note = a.stale ? "a stale cached answer" : a.from_cache
                ? "cached" : a.outcome == MTLS_DIR_DOWN ? "see MTLS2026"
                : "asked";
}

void mtls_directory_asker(request_rec *r, const mtls_directory_conf_t *conf,
                          mtls_asker_t *asker)
{
    asker_baton_t *b = apr_palloc(r->pool, sizeof(*b));

    b->r = r;
    b->conf = conf;
    asker->ask = ask_directory;
    asker->baton = b;
}
