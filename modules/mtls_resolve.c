/* The resolution pipeline.  Each step reads one source; the first that
 * yields a user wins, and the groups of every group source are added. */
#include <stdarg.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_hash.h>

#include "mtls_resolve.h"
#include "mtls_rule.h"
#include "mtls_field.h"
#include "mtls_crl.h"

static void note(apr_array_header_t *trace, apr_pool_t *p,
                 const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(apr_array_header_t *trace, apr_pool_t *p,
                 const char *fmt, ...)
{
    va_list ap;

    if (!trace) {
        return;
    }
    va_start(ap, fmt);
    APR_ARRAY_PUSH(trace, const char *) = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
}

/* Add the groups of @p more unless there already (order kept; by hash,
 * so a user in 1,000 directory groups costs no quadratic scan). */
static int add_groups(mtls_outcome_t *o, const apr_array_header_t *more)
{
    int i, before = o->groups->nelts;

    for (i = 0; more && i < more->nelts; i++) {
        const char *g = APR_ARRAY_IDX(more, i, const char *);
        if (!apr_hash_get(o->group_set, g, APR_HASH_KEY_STRING)) {
            apr_hash_set(o->group_set, g, APR_HASH_KEY_STRING, g);
            APR_ARRAY_PUSH(o->groups, const char *) = g;
        }
    }
    return o->groups->nelts - before;
}

static int has_directory(const mtls_sources_t *src)
{
    static const unsigned char none[sizeof(src->directory)];

    return memcmp(src->directory, none, sizeof(none)) != 0;
}

/* The earliest moment a rule of @p rules would read another value. */
static apr_time_t rules_expire(const apr_array_header_t *rules,
                               const mtls_cert_t *cert, apr_time_t now,
                               apr_time_t expires)
{
    int i;

    for (i = 0; rules && i < rules->nelts; i++) {
        const mtls_field_t *f = mtls_rule_field(APR_ARRAY_IDX(
            rules, i, const mtls_rule_t *));
        if (mtls_field_moves_with_time(f)) {
            apr_time_t t = mtls_cert_days_left_changes(cert, now);
            if (t < expires) {
                expires = t;
            }
        }
    }
    return expires;
}

/* Whether @p cert's AD SID may be believed: its issuer is one that
 * MTLSTrustSIDFrom names. */
static int sid_trusted(const mtls_sources_t *src, const mtls_cert_t *cert)
{
    int i;

    for (i = 0; cert->sid && src->sid_issuers
                && i < src->sid_issuers->nelts; i++) {
        const char *dn = APR_ARRAY_IDX(src->sid_issuers, i, const char *);
        if (!strcmp(dn, cert->issuer_canon)
            || (cert->issuer_flat && !strcmp(dn, cert->issuer_flat))) {
            return 1;
        }
    }
    return 0;
}

mtls_outcome_t *mtls_resolve(apr_pool_t *p, const mtls_cert_t *cert,
                             const mtls_sources_t *src, apr_time_t now,
                             apr_array_header_t *trace)
{
    return mtls_resolve_ask(p, cert, src, NULL, now, trace);
}

mtls_outcome_t *mtls_resolve_ask(apr_pool_t *p, const mtls_cert_t *cert,
                                 const mtls_sources_t *src,
                                 const mtls_asker_t *dir, apr_time_t now,
                                 apr_array_header_t *trace)
{
    mtls_outcome_t *o = mtls_outcome_make(p, MTLS_OUTCOME_NONE,
                                          MTLS_R_UNMAPPED);
    const mtls_map_entry_t *e;
    int i;

    /* 1. The deny list: a listed certificate has nothing else. */
    if (src->deny_list.data) {
        if (mtls_map_lookup(p, src->deny_list.data, cert)) {
            o->reason = MTLS_R_DENYLISTED;
            note(trace, p, "deny list: listed");
            return o;
        }
        note(trace, p, "deny list: not listed");
    }
    /* 2. MTLSCRL: revoked, or a stale CRL under MTLSCRLStale deny, has
     * nothing else either.  A current answer holds until nextUpdate. */
    if (src->crl.data) {
        apr_time_t next = 0;
        mtls_crl_status_e st = mtls_crl_check(src->crl.data, cert, now,
                                              &next);
        note(trace, p, "CRL: %s", mtls_crl_status_name(st));
        if (st == MTLS_CRL_STALE) {
            o->warning = apr_psprintf(p, "MTLS3010: the CRL of \"%s\" is past "
                                      "its nextUpdate: certificate serial %s "
                                      "%s (MTLSCRLStale %s)", cert->issuer,
                                      cert->serial, src->crl_stale_deny
                                      ? "refused" : "accepted",
                                      src->crl_stale_deny ? "deny" : "allow");
        }
        if (st == MTLS_CRL_REVOKED
            || (st == MTLS_CRL_STALE && src->crl_stale_deny)) {
            o->reason = MTLS_R_REVOKED;
            return o;
        }
        if (st == MTLS_CRL_GOOD && next) {
            o->expires = next;
        }
    }
    /* 3. The map file. */
    if (src->map_file.data) {
        if ((e = mtls_map_lookup(p, src->map_file.data, cert))) {
            o->user = e->user;
            o->source = "map";
            o->strong = mtls_map_entry_strong(e, cert,
                                              sid_trusted(src, cert));
            add_groups(o, e->groups);
            note(trace, p, "map file: line %d gives user %s (%s)", e->line,
                 e->user, o->strong ? "strong" : "weak");
        }
        else {
            note(trace, p, "map file: no entry");
        }
    }
    /* 4. MTLSUserFrom rules, in order. */
    for (i = 0; !o->user && src->user_rules && i < src->user_rules->nelts;
         i++) {
        const mtls_rule_t *rule = APR_ARRAY_IDX(src->user_rules, i,
                                                const mtls_rule_t *);
        const char *u = mtls_rule_user(p, rule, cert, now);
        if (u) {
            o->user = u;
            o->source = apr_psprintf(p, "rule:%d", i + 1);
            o->strong = mtls_field_strong_for(mtls_rule_field(rule), cert,
                                              sid_trusted(src, cert));
        }
        note(trace, p, "rule:%d (%s): %s", i + 1,
             mtls_rule_field(rule)->name, u ? u : "no match");
    }
    /* 4. The directory: the user if nothing before gave one, the entry
     * and its groups in any case.  "Could not answer" is the outcome. */
    if (dir && has_directory(src)) {
        mtls_asked_t a;
        memset(&a, 0, sizeof(a));
        a.expires = MTLS_OUTCOME_FOREVER;
        dir->ask(dir, p, cert, o->user, sid_trusted(src, cert), now, &a);
        if (a.kind == MTLS_OUTCOME_UNAVAILABLE) {
            note(trace, p, "directory: could not answer%s%s",
                 a.note ? ": " : "", a.note ? a.note : "");
            o = mtls_outcome_make(p, MTLS_OUTCOME_UNAVAILABLE,
                                  MTLS_R_DIRECTORY_UNAVAILABLE);
            return o;
        }
        if (a.expires < o->expires) {
            o->expires = a.expires;
        }
        if (a.kind == MTLS_OUTCOME_IDENTITY && !o->user && a.user) {
            o->user = a.user;
            o->source = "ldap";
            o->strong = a.strong;
        }
        if (a.kind == MTLS_OUTCOME_IDENTITY && o->user) {
            o->ldap_dn = a.dn;
            add_groups(o, a.groups);
        }
        note(trace, p, "directory: %s%s%s%s", a.kind == MTLS_OUTCOME_IDENTITY
             ? "entry " : "no entry", a.kind == MTLS_OUTCOME_IDENTITY
             ? a.dn : "", a.note ? "; " : "", a.note ? a.note : "");
    }

    if (o->user) {
        o->kind = MTLS_OUTCOME_IDENTITY;
        o->reason = MTLS_R_NONE;
    }
    /* Groups: every group source adds to what the user has. */
    if (o->user && src->group_file.data) {
        int n = add_groups(o, mtls_groupfile_lookup(
                                          src->group_file.data, o->user));
        note(trace, p, "group file: %d group%s for %s", n, n == 1 ? "" : "s",
             o->user);
    }
    for (i = 0; src->group_rules && i < src->group_rules->nelts; i++) {
        const mtls_rule_t *rule = APR_ARRAY_IDX(src->group_rules, i,
                                                const mtls_rule_t *);
        apr_array_header_t *found = apr_array_make(p, 2,
                                                   sizeof(const char *));
        int n;
        mtls_rule_groups(p, rule, cert, now, found);
        n = add_groups(o, found);
        note(trace, p, "group rule:%d (%s): %d new group%s", i + 1,
             mtls_rule_field(rule)->name, n, n == 1 ? "" : "s");
    }
    if (o->groups->nelts) {
        o->groups_text = mtls_list_join(p, o->groups);
    }
    o->expires = rules_expire(src->user_rules, cert, now, o->expires);
    o->expires = rules_expire(src->group_rules, cert, now, o->expires);
    return o;
}
