/* Directive handlers, defaults and merging. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "http_core.h"

#include "mtls_config.h"
#include "mtls_rule.h"
#include "mtls_directory.h"
#include "mtls_proxy.h"
#include "mtls_dn.h"
#include "mtls_mergecache.h"

/* Merge results kept per child process (a few per <Location> chain). */
#define MTLS_MERGE_SLOTS 1024

/* Set in child_init: records made from then on come from .htaccess
 * files, in a request's pool; merges are remembered in @c kept (NULL if
 * it could not be made: every merge is then made per request). */
static int serving;
static mtls_mergecache_t *kept;

void *mtls_create_dir_conf(apr_pool_t *p, char *dir)
{
    mtls_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));

    dc->require_strong = -1;
    dc->error_detail = -1;
    dc->mode = -1;
    dc->crl_stale_deny = -1;
    dc->stable = !serving;
    return dc;
}

#define MERGE_INT(f) (add->f != -1 ? add->f : base->f)
#define MERGE_PTR(f) (add->f ? add->f : base->f)

static mtls_dir_conf_t *merge(apr_pool_t *p, const mtls_dir_conf_t *base,
                              const mtls_dir_conf_t *add, int stable)
{
    mtls_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));

    /* A scope's rule list replaces the enclosing one as a whole: rule
     * numbers (source rule:N) must mean what the administrator reads. */
    dc->user_rules = MERGE_PTR(user_rules);
    dc->group_rules = MERGE_PTR(group_rules);
    dc->map_file = (add->files_set & MTLS_SET_MAP) ? add->map_file
                                                   : base->map_file;
    dc->group_file = (add->files_set & MTLS_SET_GROUP) ? add->group_file
                                                       : base->group_file;
    dc->deny_list = (add->files_set & MTLS_SET_DENY) ? add->deny_list
                                                     : base->deny_list;
    dc->crl = (add->files_set & MTLS_SET_CRL) ? add->crl : base->crl;
    dc->files_set = base->files_set | add->files_set;
    dc->sid_issuers = MERGE_PTR(sid_issuers);
    dc->require_strong = MERGE_INT(require_strong);
    dc->error_detail = MERGE_INT(error_detail);
    dc->mode = MERGE_INT(mode);
    dc->headers = mtls_headers_merge_dir(p, base->headers, add->headers);
    dc->directory = mtls_directory_merge(p, base->directory, add->directory);
    dc->proxy = mtls_proxy_merge(p, base->proxy, add->proxy);
    dc->crl_stale_deny = MERGE_INT(crl_stale_deny);
    dc->stable = stable;
    return dc;
}

/* For the memo: a result in its pool, as long-lived as its inputs. */
static void *merge_kept(apr_pool_t *p, const void *base, const void *add)
{
    return merge(p, base, add, 1);
}

void *mtls_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const mtls_dir_conf_t *base = basev, *add = addv;
    void *dc;

    if (!serving) {
        return merge(p, base, add, 1);      /* configuration time, pconf */
    }
    if (kept && base->stable && add->stable
        && (dc = mtls_mergecache_get(kept, base, add, merge_kept))) {
        return dc;
    }
    return merge(p, base, add, 0);
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv = mtls_mergecache_create(pchild, MTLS_MERGE_SLOTS, &kept);

    if (rv != APR_SUCCESS) {
        kept = NULL;
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, "MTLS2100: cannot "
                     "make the memo of merged configurations; merging per "
                     "request");
    }
    serving = 1;
}

void mtls_config_register_hooks(apr_pool_t *p)
{
    /* first: before any other child_init could merge */
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_REALLY_FIRST);
}

void *mtls_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    mtls_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    sc->reload_interval = -1;
    return sc;
}

void *mtls_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    const mtls_srv_conf_t *base = basev, *add = addv;
    mtls_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    sc->reload_interval = MERGE_INT(reload_interval);
    sc->headers = mtls_headers_merge_srv(p, base->headers, add->headers);
    sc->proxy_names = mtls_proxy_names_merge(p, base->proxy_names,
                                             add->proxy_names);
    return sc;
}

int mtls_conf_require_strong(const mtls_dir_conf_t *dc)
{
    return dc->require_strong == 1;
}

int mtls_conf_error_detail(const mtls_dir_conf_t *dc)
{
    return dc->error_detail == 1;
}

mtls_mode_e mtls_conf_mode(const mtls_dir_conf_t *dc)
{
    return dc->mode == MTLS_MODE_REPORT ? MTLS_MODE_REPORT : MTLS_MODE_ENFORCE;
}

int mtls_conf_crl_stale_deny(const mtls_dir_conf_t *dc)
{
    return dc->crl_stale_deny == 1;
}

apr_interval_time_t mtls_conf_reload_interval(const server_rec *s)
{
    const mtls_srv_conf_t *sc = ap_get_module_config(s->module_config,
                                                     &mtls_authz_module);
    return sc->reload_interval >= 0 ? sc->reload_interval
                                    : MTLS_DEFAULT_RELOAD_INTERVAL;
}

int mtls_conf_maps(const mtls_dir_conf_t *dc)
{
    return dc->user_rules || dc->group_rules || dc->map_file
           || dc->group_file || dc->deny_list
           || mtls_directory_enabled(dc->directory);
}

const mtls_dir_conf_t *mtls_dir_conf(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &mtls_authz_module);
}

static const char *add_rule(cmd_parms *cmd, apr_array_header_t **list,
                            const char *field, const char *regex,
                            const char *tmpl)
{
    mtls_rule_t *rule;
    const char *err;

    if (regex && !tmpl) {
        return apr_psprintf(cmd->pool, "%s takes FIELD, or FIELD REGEX "
                            "TEMPLATE (a regex needs a template such as $1)",
                            cmd->cmd->name);
    }
    if ((err = mtls_rule_compile(cmd->pool, field, regex, tmpl, &rule))) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL);
    }
    if (!*list) {
        *list = apr_array_make(cmd->pool, 2, sizeof(mtls_rule_t *));
    }
    APR_ARRAY_PUSH(*list, mtls_rule_t *) = rule;
    return NULL;
}

const char *mtls_cmd_user_from(cmd_parms *cmd, void *dcv, const char *field,
                               const char *regex, const char *tmpl)
{
    return add_rule(cmd, &((mtls_dir_conf_t *)dcv)->user_rules,
                    field, regex, tmpl);
}

const char *mtls_cmd_group_from(cmd_parms *cmd, void *dcv, const char *field,
                                const char *regex, const char *tmpl)
{
    return add_rule(cmd, &((mtls_dir_conf_t *)dcv)->group_rules,
                    field, regex, tmpl);
}

const char *mtls_cmd_crl_stale(cmd_parms *cmd, void *dcv, const char *arg)
{
    mtls_dir_conf_t *dc = dcv;

    if (!strcasecmp(arg, "deny")) {
        dc->crl_stale_deny = 1;
    }
    else if (!strcasecmp(arg, "allow")) {
        dc->crl_stale_deny = 0;
    }
    else {
        return "MTLSCRLStale takes allow or deny";
    }
    return NULL;
}

const char *mtls_cmd_trust_sid_from(cmd_parms *cmd, void *dcv,
                                    const char *dn)
{
    mtls_dir_conf_t *dc = dcv;
    const char *canon, *err;

    if ((err = mtls_dn_canon(cmd->pool, dn, &canon))) {
        return apr_pstrcat(cmd->pool, "MTLSTrustSIDFrom: ", err, NULL);
    }
    if (!dc->sid_issuers) {
        dc->sid_issuers = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(dc->sid_issuers, const char *) = canon;
    return NULL;
}

const char *mtls_cmd_require_strength(cmd_parms *cmd, void *dcv,
                                      const char *arg)
{
    mtls_dir_conf_t *dc = dcv;

    if (!strcasecmp(arg, "strong")) {
        dc->require_strong = 1;
    }
    else if (!strcasecmp(arg, "weak")) {
        dc->require_strong = 0;
    }
    else {
        return "MTLSRequireStrength takes weak or strong";
    }
    return NULL;
}

const char *mtls_cmd_error_detail(cmd_parms *cmd, void *dcv, int on)
{
    ((mtls_dir_conf_t *)dcv)->error_detail = on ? 1 : 0;
    return NULL;
}

const char *mtls_cmd_mode(cmd_parms *cmd, void *dcv, const char *arg)
{
    mtls_dir_conf_t *dc = dcv;

    if (!strcasecmp(arg, "enforce")) {
        dc->mode = MTLS_MODE_ENFORCE;
    }
    else if (!strcasecmp(arg, "report")) {
        dc->mode = MTLS_MODE_REPORT;
    }
    else {
        return "MTLSMode takes enforce or report";
    }
    return NULL;
}

const char *mtls_cmd_reload_interval(cmd_parms *cmd, void *dummy,
                                     const char *arg)
{
    mtls_srv_conf_t *sc = ap_get_module_config(cmd->server->module_config,
                                               &mtls_authz_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    long secs;

    if (err) {
        return err;
    }
    secs = strtol(arg, &end, 10);
    if (*end || secs < 1 || secs > 86400) {
        return "MTLSReloadInterval takes a number of seconds (1-86400)";
    }
    sc->reload_interval = apr_time_from_sec(secs);
    return NULL;
}
