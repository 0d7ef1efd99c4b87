/* The directory source, the groups of an entry: memberOf, the group
 * search (MTLSLDAPGroupBase, MTLSLDAPGroupFilter) and MTLSLDAPNestedGroups
 * levels of groups holding groups, one search per level. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"

#include "mtls_directory_private.h"

/* Add @p name unless @p seen has it. */
static void add_name(apr_array_header_t *names, apr_hash_t *seen,
                     const char *name)
{
    if (!apr_hash_get(seen, name, APR_HASH_KEY_STRING)) {
        apr_hash_set(seen, name, APR_HASH_KEY_STRING, name);
        APR_ARRAY_PUSH(names, const char *) = name;
    }
}

/* Every group DN is visited once, so cycles end. */
mtls_ldap_result_e mtls_dir_find_groups(request_rec *r,
                                        mtls_ldap_pool_t *pool,
                                        const mtls_directory_conf_t *c,
                                        const char *dn, const char *user,
                                        apr_pool_t *p,
                                        apr_array_header_t *member_of,
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
        /* The next level looks for groups holding the ones found here;
         * after the first search, also those memberOf named (the search
         * finds them again, already seen: they must not drop out). */
        if (depth > 0) {
            frontier = apr_array_make(r->pool, dns->nelts + 1,
                                      sizeof(const char *));
        }
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
