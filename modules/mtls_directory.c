/* The directory source: directives, the cache in front of the directory,
 * user and group lookups, stale answers in an outage. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "apr_thread_mutex.h"
#include "apr_hash.h"
#include "ap_mpm.h"
#include "http_core.h"

#include <openssl/evp.h>

#include "mtls_directory.h"
#include "mtls_config.h"
#include "mtls_ldap.h"
#include "mtls_ldapfilter.h"
#include "mtls_cache.h"
#include "mtls_metrics.h"

/* Defaults, in one place. */
#define MTLS_LDAP_DEFAULT_TIMEOUT      5
#define DEFAULT_TTL          apr_time_from_sec(300)
#define DEFAULT_NEG_TTL      apr_time_from_sec(30)
#define DEFAULT_MAX_STALE    0
#define DEFAULT_GROUP_NAME   "cn"
#define MAX_NESTED           10
#define USERDATA_KEY         "mtls_authz-directory"

/* Settings of one scope.  Unset is NULL / -1; what is derived (the digest
 * that keys cached answers, the connection settings) is recomputed after
 * every directive and every merge, never at request time. */
struct mtls_directory_conf_t {
    const char *url_text;
    const mtls_ldap_url_t *url;
    const char *bind_dn;
    const char *bind_pw;
    const mtls_ldapfilter_t *user_filter;
    const mtls_ldapfilter_t *effective_user_filter;  /* derived */
    const char *group_base;
    const mtls_ldapfilter_t *group_filter;
    const char *group_name;
    int nested;
    int member_of;
    int timeout;
    const char *ca_file;
    int on_error_deny;
    apr_interval_time_t ttl, neg_ttl, max_stale;
    /* derived */
    mtls_ldap_settings_t settings;
    const char *conn_key;     /* what a pooled connection depends on */
    unsigned char digest[32]; /* what an answer depends on */
};

/* One per server (the main server's), in the configuration pool's
 * userdata; the per-child part is made in child_init. */
typedef struct {
    mtls_cache_t *cache;
    int cache_set;             /* MTLSCache was given ("none" too) */
    int used;                  /* some scope names a directory */
    apr_pool_t *child_pool;
    apr_thread_mutex_t *lock;  /* guards pools */
    apr_hash_t *pools;         /* conn_key -> mtls_ldap_pool_t * */
    int max_conns;
} runtime_t;

static runtime_t *runtime(apr_pool_t *pconf)
{
    void *rt = NULL;

    apr_pool_userdata_get(&rt, USERDATA_KEY, pconf);
    if (!rt) {
        rt = apr_pcalloc(pconf, sizeof(runtime_t));
        apr_pool_userdata_set(rt, USERDATA_KEY, apr_pool_cleanup_null, pconf);
    }
    return rt;
}

static mtls_directory_conf_t *conf_new(apr_pool_t *p)
{
    mtls_directory_conf_t *c = apr_pcalloc(p, sizeof(*c));

    c->nested = c->member_of = c->timeout = c->on_error_deny = -1;
    c->ttl = c->neg_ttl = c->max_stale = -1;
    return c;
}

/* Recompute what is derived from the settings. */
static void finish(apr_pool_t *p, mtls_directory_conf_t *c)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    const char *parts[10];
    unsigned int n;
    int i;

    c->effective_user_filter = c->user_filter;
    if (!c->user_filter) {
        mtls_ldapfilter_t *f = NULL;
        mtls_ldapfilter_parse(p, MTLS_LDAP_DEFAULT_USER_FILTER,
                              MTLS_LDAPFILTER_USER, &f);
        c->effective_user_filter = f;
    }
    c->settings.url = c->url;
    c->settings.bind_dn = c->bind_dn;
    c->settings.bind_pw = c->bind_pw;
    c->settings.ca_file = c->ca_file;
    c->settings.timeout = c->timeout > 0 ? c->timeout : MTLS_LDAP_DEFAULT_TIMEOUT;
    c->conn_key = apr_psprintf(p, "%s\n%d\n%s\n%s\n%s\n%d",
                               c->url_text ? c->url_text : "",
                               c->url ? c->url->starttls : 0,
                               c->bind_dn ? c->bind_dn : "",
                               c->bind_pw ? c->bind_pw : "",
                               c->ca_file ? c->ca_file : "",
                               c->settings.timeout);
    /* Everything that can change an answer; two scopes that differ in any
     * of these never share a cached entry. */
    parts[0] = c->url_text ? c->url_text : "";
    parts[1] = c->url && c->url->starttls ? "starttls" : "";
    parts[2] = c->bind_dn ? c->bind_dn : "";
    parts[3] = c->user_filter ? mtls_ldapfilter_text(c->user_filter)
                              : MTLS_LDAP_DEFAULT_USER_FILTER;
    parts[4] = c->group_base ? c->group_base : "";
    parts[5] = c->group_filter ? mtls_ldapfilter_text(c->group_filter) : "";
    parts[6] = c->group_name ? c->group_name : DEFAULT_GROUP_NAME;
    parts[7] = apr_itoa(p, c->nested > 0 ? c->nested : 0);
    parts[8] = c->member_of == 1 ? "memberof" : "";
    /* and how it is reached: an answer that needs the right password or
     * CA to be had is not served to a scope without them */
    parts[9] = c->conn_key;
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (i = 0; i < 10; i++) {
        EVP_DigestUpdate(md, parts[i], strlen(parts[i]) + 1);
    }
    EVP_DigestFinal_ex(md, c->digest, &n);
    EVP_MD_CTX_free(md);
}

#define MERGE_INT(f) (add->f != -1 ? add->f : base->f)
#define MERGE_PTR(f) (add->f ? add->f : base->f)

mtls_directory_conf_t *mtls_directory_merge(apr_pool_t *p,
                                            mtls_directory_conf_t *base,
                                            mtls_directory_conf_t *add)
{
    mtls_directory_conf_t *c;

    if (!base || !add) {
        return add ? add : base;
    }
    c = conf_new(p);
    c->url_text = MERGE_PTR(url_text);
    c->url = MERGE_PTR(url);
    c->bind_dn = add->bind_dn ? add->bind_dn : base->bind_dn;
    c->bind_pw = add->bind_dn ? add->bind_pw : base->bind_pw;
    c->user_filter = MERGE_PTR(user_filter);
    c->group_base = MERGE_PTR(group_base);
    c->group_filter = MERGE_PTR(group_filter);
    c->group_name = MERGE_PTR(group_name);
    c->nested = MERGE_INT(nested);
    c->member_of = MERGE_INT(member_of);
    c->timeout = MERGE_INT(timeout);
    c->ca_file = MERGE_PTR(ca_file);
    c->on_error_deny = MERGE_INT(on_error_deny);
    c->ttl = MERGE_INT(ttl);
    c->neg_ttl = MERGE_INT(neg_ttl);
    c->max_stale = MERGE_INT(max_stale);
    finish(p, c);
    return c;
}

int mtls_directory_enabled(const mtls_directory_conf_t *conf)
{
    return conf && conf->url;
}

const unsigned char *mtls_directory_digest(const mtls_directory_conf_t *conf)
{
    return conf->digest;
}

int mtls_directory_on_error_deny(const mtls_directory_conf_t *conf)
{
    return conf && conf->on_error_deny == 1;
}

int mtls_directory_retry_after(const mtls_directory_conf_t *conf)
{
    /* An outage is usually short; the timeout is a fair first guess. */
    return conf && conf->timeout > 0 ? conf->timeout * 2
                                     : MTLS_LDAP_DEFAULT_TIMEOUT * 2;
}

static apr_interval_time_t ttl_of(const mtls_directory_conf_t *c, int found)
{
    if (found) {
        return c->ttl >= 0 ? c->ttl : DEFAULT_TTL;
    }
    return c->neg_ttl >= 0 ? c->neg_ttl : DEFAULT_NEG_TTL;
}

static apr_interval_time_t max_stale_of(const mtls_directory_conf_t *c)
{
    return c->max_stale >= 0 ? c->max_stale : DEFAULT_MAX_STALE;
}

/* ---- directives ----------------------------------------------------- */

static const char *seconds(cmd_parms *cmd, const char *arg, long lo, long hi,
                           long *out)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (!*arg || *end || v < lo || v > hi) {
        return apr_psprintf(cmd->pool, "%s takes whole seconds from %ld to "
                            "%ld, not '%s'", cmd->cmd->name, lo, hi, arg);
    }
    *out = v;
    return NULL;
}

static const char *check_dn(cmd_parms *cmd, const char *dn)
{
    if (!*dn || !mtls_ldap_rdn_value(cmd->temp_pool, dn)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an LDAP DN",
                            cmd->cmd->name, dn);
    }
    return NULL;
}

const char *mtls_directory_cmd(cmd_parms *cmd, void *dcv, const char *a1,
                               const char *a2)
{
    mtls_dir_conf_t *dc = dcv;
    mtls_directory_conf_t *c;
    mtls_dir_directive_e which = (mtls_dir_directive_e)(long)cmd->info;
    mtls_ldapfilter_t *f;
    const char *err = NULL;
    long v;

    if (which == MTLS_DC_CACHE) {
        runtime_t *rt = runtime(cmd->server->process->pconf);
        if ((err = ap_check_cmd_context(cmd, GLOBAL_ONLY))) {
            return err;
        }
        if ((err = mtls_cache_configure(cmd, a1, &rt->cache))) {
            return apr_pstrcat(cmd->pool, "MTLSCache: ", err, NULL);
        }
        rt->cache_set = 1;
        return NULL;
    }
    if (!dc->directory) {
        dc->directory = conf_new(cmd->pool);
    }
    c = dc->directory;
    if (a2 && which != MTLS_DC_URL) {
        return apr_psprintf(cmd->pool, "%s takes one argument",
                            cmd->cmd->name);
    }
    switch (which) {
    case MTLS_DC_URL: {
        mtls_ldap_url_t *u;
        if ((err = mtls_ldap_url_parse(cmd->pool, a1, a2, &u))) {
            return apr_pstrcat(cmd->pool, "MTLSLDAPURL: ", err, NULL);
        }
        c->url = u;
        c->url_text = apr_pstrcat(cmd->pool, a1, a2 ? " " : "",
                                  a2 ? a2 : "", NULL);
        runtime(cmd->server->process->pconf)->used = 1;
        break;
    }
    case MTLS_DC_BIND_DN:
        if ((err = check_dn(cmd, a1))) {
            return err;
        }
        c->bind_dn = a1;
        break;
    case MTLS_DC_BIND_PW:
        if ((err = mtls_ldap_secret(cmd->pool, a1, &c->bind_pw))) {
            return apr_pstrcat(cmd->pool, "MTLSLDAPBindPassword: ", err, NULL);
        }
        break;
    case MTLS_DC_USER_FILTER:
    case MTLS_DC_GROUP_FILTER:
        err = mtls_ldapfilter_parse(cmd->pool, a1,
                                    which == MTLS_DC_USER_FILTER
                                    ? MTLS_LDAPFILTER_USER
                                    : MTLS_LDAPFILTER_GROUP, &f);
        if (err) {
            return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL);
        }
        if (which == MTLS_DC_USER_FILTER) {
            c->user_filter = f;
        }
        else {
            c->group_filter = f;
        }
        break;
    case MTLS_DC_GROUP_BASE:
        if ((err = check_dn(cmd, a1))) {
            return err;
        }
        c->group_base = a1;
        break;
    case MTLS_DC_GROUP_NAME:
        if (!*a1 || strspn(a1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
                               "QRSTUVWXYZ0123456789-;.") != strlen(a1)) {
            return apr_psprintf(cmd->pool, "MTLSLDAPGroupName: '%s' is not "
                                "an attribute name", a1);
        }
        c->group_name = a1;
        break;
    case MTLS_DC_NESTED:
        if ((err = seconds(cmd, a1, 0, MAX_NESTED, &v))) {
            return apr_psprintf(cmd->pool, "MTLSLDAPNestedGroups takes a "
                                "depth from 0 to %d, not '%s'", MAX_NESTED,
                                a1);
        }
        c->nested = (int)v;
        break;
    case MTLS_DC_MEMBER_OF:
        if (strcasecmp(a1, "on") && strcasecmp(a1, "off")) {
            return "MTLSLDAPMemberOf takes on or off";
        }
        c->member_of = !strcasecmp(a1, "on");
        break;
    case MTLS_DC_TIMEOUT:
        if ((err = seconds(cmd, a1, 1, 300, &v))) {
            return err;
        }
        c->timeout = (int)v;
        break;
    case MTLS_DC_CA: {
        const char *path = ap_server_root_relative(cmd->pool, a1);
        apr_finfo_t fi;
        if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool)
                     != APR_SUCCESS || fi.filetype != APR_REG) {
            return apr_psprintf(cmd->pool, "MTLSLDAPTrustedCA: cannot read "
                                "'%s'", a1);
        }
        c->ca_file = path;
        break;
    }
    case MTLS_DC_ON_ERROR:
        if (strcasecmp(a1, "deny") && strcasecmp(a1, "unavailable")) {
            return "MTLSLDAPOnError takes unavailable (503, the default) or "
                   "deny (403)";
        }
        c->on_error_deny = !strcasecmp(a1, "deny");
        break;
    case MTLS_DC_TTL:
    case MTLS_DC_NEG_TTL:
    case MTLS_DC_MAX_STALE:
        if ((err = seconds(cmd, a1, which == MTLS_DC_TTL ? 1 : 0, 86400 * 7,
                           &v))) {
            return err;
        }
        if (which == MTLS_DC_TTL) {
            c->ttl = apr_time_from_sec(v);
        }
        else if (which == MTLS_DC_NEG_TTL) {
            c->neg_ttl = apr_time_from_sec(v);
        }
        else {
            c->max_stale = apr_time_from_sec(v);
        }
        break;
    case MTLS_DC_CACHE:
        break;
    }
    finish(cmd->pool, c);
    return NULL;
}

const char *mtls_directory_cmd1(cmd_parms *cmd, void *dc, const char *a1)
{
    return mtls_directory_cmd(cmd, dc, a1, NULL);
}

/* ---- cached answers ------------------------------------------------- */

/* The cache key: the certificate, the settings and the user the earlier
 * sources gave (a filter may use {user}), hashed to a fixed, printable
 * length every socache provider takes. */
static const char *cache_key(apr_pool_t *p, const mtls_directory_conf_t *c,
                             const mtls_cert_t *cert, const char *user)
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

/* Serialised answer: NUL-separated "F|N", fetch time, strength, user, dn,
 * then the groups.  Values never hold a NUL (dropped when read). */
static const char *serialise(apr_pool_t *p, const mtls_dir_answer_t *a,
                             apr_time_t fetched, apr_size_t *len)
{
    struct iovec *v;
    const char *head[5];
    int i, n = 5 + (a->groups ? a->groups->nelts : 0);
    char *out, *o;

    head[0] = a->outcome == MTLS_DIR_FOUND ? "F" : "N";
    head[1] = apr_psprintf(p, "%" APR_TIME_T_FMT, fetched);
    head[2] = a->strong ? "1" : "0";
    head[3] = a->user ? a->user : "";
    head[4] = a->dn ? a->dn : "";
    v = apr_palloc(p, sizeof(*v) * n);
    *len = 0;
    for (i = 0; i < n; i++) {
        const char *s = i < 5 ? head[i]
                              : APR_ARRAY_IDX(a->groups, i - 5, const char *);
        v[i].iov_base = (void *)s;
        v[i].iov_len = strlen(s) + 1;
        *len += v[i].iov_len;
    }
    out = o = apr_palloc(p, *len);
    for (i = 0; i < n; i++) {
        memcpy(o, v[i].iov_base, v[i].iov_len);
        o += v[i].iov_len;
    }
    return out;
}

static int deserialise(apr_pool_t *p, const char *v, apr_size_t len,
                       mtls_dir_answer_t *a, apr_time_t *fetched)
{
    const char *end = v + len, *s = v;
    const char *head[5];
    char *e;
    int i;

    if (!len || v[len - 1] != '\0') {
        return 0;
    }
    for (i = 0; i < 5; i++) {
        if (s >= end) {
            return 0;
        }
        head[i] = s;
        s += strlen(s) + 1;
    }
    if (strcmp(head[0], "F") && strcmp(head[0], "N")) {
        return 0;
    }
    *fetched = (apr_time_t)apr_strtoi64(head[1], &e, 10);
    if (*e || *fetched <= 0) {
        return 0;
    }
    memset(a, 0, sizeof(*a));
    a->outcome = *head[0] == 'F' ? MTLS_DIR_FOUND : MTLS_DIR_NONE;
    a->strong = *head[2] == '1';
    a->user = *head[3] ? apr_pstrdup(p, head[3]) : NULL;
    a->dn = *head[4] ? apr_pstrdup(p, head[4]) : NULL;
    a->groups = apr_array_make(p, 8, sizeof(const char *));
    while (s < end) {
        APR_ARRAY_PUSH(a->groups, const char *) = apr_pstrdup(p, s);
        s += strlen(s) + 1;
    }
    return 1;
}

/* ---- asking the directory ------------------------------------------- */

static mtls_ldap_pool_t *pool_for(request_rec *r, runtime_t *rt,
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

/* Add @p name unless @p seen has it. */
static void add_name(apr_array_header_t *names, apr_hash_t *seen,
                     const char *name)
{
    if (!apr_hash_get(seen, name, APR_HASH_KEY_STRING)) {
        apr_hash_set(seen, name, APR_HASH_KEY_STRING, name);
        APR_ARRAY_PUSH(names, const char *) = name;
    }
}

/* The groups of the entry: memberOf, then the group search, then
 * MTLSLDAPNestedGroups levels of groups containing those groups.  Every
 * group DN is visited once, so cycles end. */
static mtls_ldap_result_e find_groups(request_rec *r, mtls_ldap_pool_t *pool,
                                      const mtls_directory_conf_t *c,
                                      const char *dn, const char *user,
                                      apr_pool_t *p, apr_array_header_t *member_of,
                                      apr_array_header_t *out,
                                      const char **err)
{
    apr_hash_t *seen_dn = apr_hash_make(r->pool);
    apr_hash_t *seen_name = apr_hash_make(r->pool);
    apr_array_header_t *frontier = apr_array_make(r->pool, 8,
                                                  sizeof(const char *));
    const char *attr = c->group_name ? c->group_name : DEFAULT_GROUP_NAME;
    const char *base = c->group_base ? c->group_base : c->url->base;
    int searching = c->group_base || c->group_filter;
    int depth, i;

    for (i = 0; member_of && i < member_of->nelts; i++) {
        const char *gdn = APR_ARRAY_IDX(member_of, i, const char *);
        const char *name = mtls_ldap_rdn_value(p, gdn);
        const char *k = apr_pstrdup(r->pool, gdn);
        ap_str_tolower((char *)k);
        if (name && !apr_hash_get(seen_dn, k, APR_HASH_KEY_STRING)) {
            apr_hash_set(seen_dn, k, APR_HASH_KEY_STRING, "");
            APR_ARRAY_PUSH(frontier, const char *) = gdn;
            add_name(out, seen_name, name);
        }
    }
    if (!searching) {
        return MTLS_LDAP_OK;
    }
    for (depth = 0; depth <= (c->nested > 0 ? c->nested : 0); depth++) {
        apr_array_header_t *dns = apr_array_make(r->pool, 8,
                                                 sizeof(const char *));
        apr_array_header_t *names = apr_array_make(r->pool, 8,
                                                   sizeof(const char *));
        const mtls_ldapfilter_t *gf = c->group_filter;
        const char *filter = NULL;
        mtls_ldap_result_e res;

        if (depth == 0) {
            filter = gf ? mtls_ldapfilter_render(r->pool, gf, NULL, user, dn)
                        : NULL;
            if (!gf) {
                filter = apr_pstrcat(r->pool, "(|(member=",
                    mtls_ldap_escape(r->pool, dn, strlen(dn)),
                    ")(uniqueMember=", mtls_ldap_escape(r->pool, dn,
                                                        strlen(dn)), ")",
                    user ? "(memberUid=" : "",
                    user ? mtls_ldap_escape(r->pool, user, strlen(user)) : "",
                    user ? ")" : "", ")", NULL);
            }
        }
        else {
            /* One search per level: groups that hold any group found at
             * the level before. */
            apr_array_header_t *terms = apr_array_make(r->pool,
                                                       frontier->nelts + 2,
                                                       sizeof(const char *));
            for (i = 0; i < frontier->nelts; i++) {
                const char *gdn = APR_ARRAY_IDX(frontier, i, const char *);
                const char *t = gf ? mtls_ldapfilter_render(r->pool, gf, NULL,
                                                            user, gdn)
                                   : apr_pstrcat(r->pool, "(member=",
                                        mtls_ldap_escape(r->pool, gdn,
                                                         strlen(gdn)),
                                        ")(uniqueMember=",
                                        mtls_ldap_escape(r->pool, gdn,
                                                         strlen(gdn)), ")",
                                        NULL);
                if (t) {
                    APR_ARRAY_PUSH(terms, const char *) = t;
                }
            }
            if (!terms->nelts) {
                break;
            }
            filter = apr_pstrcat(r->pool, "(|",
                                 apr_array_pstrcat(r->pool, terms, 0), ")",
                                 NULL);
        }
        if (!filter) {
            break;
        }
        res = mtls_ldap_find_groups(pool, p, base, filter, attr, dns, names,
                                    err);
        if (res != MTLS_LDAP_OK) {
            return res;
        }
        frontier = apr_array_make(r->pool, dns->nelts + 1,
                                  sizeof(const char *));
        for (i = 0; i < dns->nelts; i++) {
            const char *gdn = APR_ARRAY_IDX(dns, i, const char *);
            char *k = apr_pstrdup(r->pool, gdn);
            ap_str_tolower(k);
            if (apr_hash_get(seen_dn, k, APR_HASH_KEY_STRING)) {
                continue;
            }
            apr_hash_set(seen_dn, k, APR_HASH_KEY_STRING, "");
            APR_ARRAY_PUSH(frontier, const char *) = gdn;
            add_name(out, seen_name, APR_ARRAY_IDX(names, i, const char *));
        }
        if (!frontier->nelts) {
            break;
        }
    }
    return MTLS_LDAP_OK;
}

/* One round trip to the directory for @p cert. */
static void ask(request_rec *r, runtime_t *rt, const mtls_directory_conf_t *c,
                const mtls_cert_t *cert, const char *user, apr_pool_t *p,
                mtls_dir_answer_t *a, const char **err)
{
    const mtls_ldapfilter_t *uf = c->effective_user_filter;
    mtls_ldap_pool_t *pool;
    mtls_ldap_entry_t e;
    const char *filter;
    mtls_ldap_result_e res;

    a->groups = apr_array_make(p, 8, sizeof(const char *));
    a->strong = mtls_ldapfilter_is_strong(uf);
    filter = mtls_ldapfilter_render(r->pool, uf, cert, user, NULL);
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
    if (find_groups(r, pool, c, e.dn, user ? user : e.name, p, e.member_of,
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
                           apr_pool_t *p, mtls_dir_answer_t *out)
{
    runtime_t *rt = runtime(r->server->process->pconf);
    apr_time_t now = apr_time_now(), fetched = 0;
    mtls_dir_answer_t cached;
    int have_stale = 0, counted = 0;
    const char *key = NULL, *err = NULL, *v;
    apr_size_t len;

    memset(out, 0, sizeof(*out));
    if (rt->cache) {
        apr_status_t rv;
        key = cache_key(r->pool, c, cert, user);
        rv = mtls_cache_get(rt->cache, r->server, key, p, &v, &len);
        if (rv == APR_SUCCESS && deserialise(p, v, len, &cached, &fetched)) {
            apr_interval_time_t ttl = ttl_of(c, cached.outcome
                                                == MTLS_DIR_FOUND);
            if (now - fetched < ttl && fetched <= now + apr_time_from_sec(5)) {
                *out = cached;
                out->from_cache = 1;
                out->expires = fetched + ttl;
                mtls_metrics_cache(MTLS_CACHE_HIT);
                return;
            }
            have_stale = now - fetched < ttl + max_stale_of(c);
        }
        else if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                          "MTLS2024: the %s cache could not be read",
                          mtls_cache_name(rt->cache));
            mtls_metrics_cache(MTLS_CACHE_ERROR);
            counted = 1;
        }
    }
    ask(r, rt, c, cert, user, p, out, &err);
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
    out->expires = now + ttl_of(c, out->outcome == MTLS_DIR_FOUND);
    if (rt->cache) {
        apr_status_t rv;
        v = serialise(r->pool, out, now, &len);
        rv = mtls_cache_put(rt->cache, r->server, key,
                            out->expires + max_stale_of(c), v, len, r->pool);
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
                          apr_time_t now, mtls_asked_t *out)
{
    const asker_baton_t *b = self->baton;
    mtls_dir_answer_t a;

    mtls_directory_lookup(b->r, b->conf, cert, user, p, &a);
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

/* ---- hooks ---------------------------------------------------------- */

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    mtls_cache_pre_config(pconf);
    return OK;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog,
                       apr_pool_t *ptemp, server_rec *s)
{
    runtime_t *rt = runtime(pconf);

    if (!rt->used) {
        return OK;
    }
    if (!rt->cache_set) {
        rt->cache = mtls_cache_default(pconf, ptemp, s);
    }
    if (rt->cache && mtls_cache_init(rt->cache, pconf, ptemp, s)
                     != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void child_init(apr_pool_t *p, server_rec *s)
{
    runtime_t *rt = runtime(s->process->pconf);
    int threads = 1;

    if (!rt->used) {
        return;
    }
    if (rt->cache) {
        mtls_cache_child_init(rt->cache, p, s);
    }
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    rt->max_conns = threads > 0 ? threads : 1;
    rt->child_pool = p;
    rt->pools = apr_hash_make(p);
    if (apr_thread_mutex_create(&rt->lock, APR_THREAD_MUTEX_DEFAULT, p)
        != APR_SUCCESS) {
        rt->lock = NULL;
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "MTLS2005: cannot create the directory pool lock; the "
                     "directory will answer as unavailable");
    }
}

void mtls_directory_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
