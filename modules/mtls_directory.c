/* The directory source, its settings: the MTLSLDAP* and MTLSCache*
 * directives, their merge and the digest that keys cached answers, and
 * the hooks that set up the cache and the connection pools.  The lookup
 * is in mtls_directory_lookup.c, the group searches in
 * mtls_directory_groups.c. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "ap_mpm.h"
#include "http_core.h"

#include <openssl/evp.h>

#include "mtls_directory_private.h"
#include "mtls_config.h"

mtls_dir_runtime_t *mtls_dir_runtime(apr_pool_t *pconf)
{
    void *rt = NULL;

    apr_pool_userdata_get(&rt, USERDATA_KEY, pconf);
    if (!rt) {
        rt = apr_pcalloc(pconf, sizeof(mtls_dir_runtime_t));
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

apr_interval_time_t mtls_dir_ttl(const mtls_directory_conf_t *c, int found)
{
    if (found) {
        return c->ttl >= 0 ? c->ttl : DEFAULT_TTL;
    }
    return c->neg_ttl >= 0 ? c->neg_ttl : DEFAULT_NEG_TTL;
}

apr_interval_time_t mtls_dir_max_stale(const mtls_directory_conf_t *c)
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
        mtls_dir_runtime_t *rt = mtls_dir_runtime(cmd->server->process->pconf);
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
        mtls_dir_runtime(cmd->server->process->pconf)->used = 1;
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

/* ---- hooks ---------------------------------------------------------- */

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    mtls_cache_pre_config(pconf);
    return OK;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog,
                       apr_pool_t *ptemp, server_rec *s)
{
    mtls_dir_runtime_t *rt = mtls_dir_runtime(pconf);

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
    mtls_dir_runtime_t *rt = mtls_dir_runtime(s->process->pconf);
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
