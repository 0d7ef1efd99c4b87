/* The directory client over libldap: URLs, secrets, a per-process
 * connection pool (apr_reslist) and the two searches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_reslist.h>
#include <apr_file_io.h>

#define LDAP_DEPRECATED 0
#include <ldap.h>

#include "mtls_ldap.h"
#include "mtls_metrics.h"

struct mtls_ldap_pool_t {
    const mtls_ldap_settings_t *s;
    apr_reslist_t *list;
};

/* One pooled connection; ld is NULL until opened, and again after an
 * error closed it. */
typedef struct {
    LDAP *ld;
} conn_t;

/* ---- configuration -------------------------------------------------- */

static int unhex(int c)
{
    return apr_isdigit(c) ? c - '0' : apr_tolower(c) - 'a' + 10;
}

/* Percent-decode one URL component (NULL when it decodes to a NUL). */
static char *url_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && apr_isxdigit(s[i + 1])
            && apr_isxdigit(s[i + 2])) {
            *o = (char)(unhex(s[i + 1]) * 16 + unhex(s[i + 2]));
            if (!*o) {
                return NULL;
            }
            o++;
            i += 2;
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

const char *mtls_ldap_url_parse(apr_pool_t *p, const char *text,
                                const char *tls, mtls_ldap_url_t **out)
{
    mtls_ldap_url_t *u = apr_pcalloc(p, sizeof(*u));
    const char *s = text, *hosts_end, *parts[4] = { NULL };
    apr_size_t lens[4] = { 0 };
    const char *scheme;
    char *hosts, *host, *state;
    int i;

    *out = NULL;
    if (!strncasecmp(s, "ldap://", 7)) {
        scheme = "ldap://";
        s += 7;
    }
    else if (!strncasecmp(s, "ldaps://", 8)) {
        scheme = "ldaps://";
        u->ldaps = 1;
        s += 8;
    }
    else {
        return apr_psprintf(p, "'%s' is not an ldap:// or ldaps:// URL", text);
    }
    hosts_end = strchr(s, '/');
    if (!hosts_end) {
        hosts_end = s + strlen(s);
    }
    hosts = apr_pstrmemdup(p, s, hosts_end - s);
    /* (at most one host per character: room enough) */
    u->host_uris = apr_pcalloc(p, sizeof(char *) * (strlen(hosts) + 1));
    for (host = apr_strtok(hosts, " \t", &state); host;
         host = apr_strtok(NULL, " \t", &state)) {
        const char *colon = strrchr(host, ':');
        if (!*host || strspn(host, "abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]")
                      != strlen(host)
            || (colon && (!colon[1] || strspn(colon + 1, "0123456789")
                                       != strlen(colon + 1)
                          || atoi(colon + 1) < 1 || atoi(colon + 1) > 65535))) {
            return apr_psprintf(p, "'%s': bad host '%s' (host or host:port)",
                                text, host);
        }
        u->uris = apr_pstrcat(p, u->uris ? u->uris : "", u->uris ? " " : "",
                              scheme, host, NULL);
        u->host_uris[u->nhosts] = apr_pstrcat(p, scheme, host, NULL);
        u->nhosts++;
    }
    if (!u->nhosts) {
        return apr_psprintf(p, "'%s' names no host", text);
    }
    /* /BASE?ATTR?SCOPE?FILTER */
    s = *hosts_end ? hosts_end + 1 : hosts_end;
    for (i = 0; i < 4 && s; i++) {
        const char *q = i < 3 ? strchr(s, '?') : NULL;
        parts[i] = s;
        lens[i] = q ? (apr_size_t)(q - s) : strlen(s);
        s = q ? q + 1 : NULL;
    }
    if (s) {
        return apr_psprintf(p, "'%s': extensions after the filter are not "
                            "supported", text);
    }
    u->base = parts[0] ? url_decode(p, parts[0], lens[0]) : "";
    u->attr = parts[1] && lens[1] ? url_decode(p, parts[1], lens[1]) : "uid";
    if (!u->base || !u->attr) {
        return apr_psprintf(p, "'%s': a %%00 in the URL", text);
    }
    if (strchr(u->attr, ',')) {
        return apr_psprintf(p, "'%s': give one attribute, the one that "
                            "names the user", text);
    }
    u->scope = MTLS_LDAP_SCOPE_SUB;
    if (parts[2] && lens[2]) {
        char *sc = url_decode(p, parts[2], lens[2]);
        if (sc && !strcasecmp(sc, "base")) {
            u->scope = MTLS_LDAP_SCOPE_BASE;
        }
        else if (sc && !strcasecmp(sc, "one")) {
            u->scope = MTLS_LDAP_SCOPE_ONE;
        }
        else if (!sc || strcasecmp(sc, "sub")) {
            return apr_psprintf(p, "'%s': scope must be base, one or sub",
                                text);
        }
    }
    if (parts[3] && lens[3]) {
        char *f = url_decode(p, parts[3], lens[3]);
        if (!f) {
            return apr_psprintf(p, "'%s': a %%00 in the URL", text);
        }
        u->filter = *f == '(' ? f : apr_pstrcat(p, "(", f, ")", NULL);
    }
    if (tls && *tls) {
        if (!strcasecmp(tls, "STARTTLS")) {
            if (u->ldaps) {
                return "STARTTLS is for ldap:// URLs; ldaps:// is TLS already";
            }
            u->starttls = 1;
        }
        else if (strcasecmp(tls, "NONE")) {
            return apr_psprintf(p, "unknown second argument '%s' "
                                "(STARTTLS or NONE)", tls);
        }
    }
    *out = u;
    return NULL;
}

/* The first line of @p text, without its end of line. */
static const char *first_line(apr_pool_t *p, const char *text, apr_size_t n)
{
    apr_size_t len = 0;

    while (len < n && text[len] != '\n' && text[len] != '\r'
           && text[len] != '\0') {
        len++;
    }
    return apr_pstrmemdup(p, text, len);
}

const char *mtls_ldap_secret(apr_pool_t *p, const char *spec,
                             const char **out)
{
    char buf[4096];
    apr_size_t n = 0;

    *out = NULL;
    if (!strncmp(spec, "file:", 5)) {
        apr_file_t *f;
        apr_status_t rv = apr_file_open(&f, spec + 5, APR_FOPEN_READ, 0, p);
        if (rv != APR_SUCCESS) {
            return apr_psprintf(p, "cannot read the password file %s: %pm",
                                spec + 5, &rv);
        }
        n = sizeof(buf);
        rv = apr_file_read(f, buf, &n);
        apr_file_close(f);
        if (rv != APR_SUCCESS && rv != APR_EOF) {
            return apr_psprintf(p, "cannot read the password file %s: %pm",
                                spec + 5, &rv);
        }
    }
    else if (!strncmp(spec, "exec:", 5)) {
        FILE *f = popen(spec + 5, "r");
        int rc;
        if (!f) {
            return apr_psprintf(p, "cannot run %s", spec + 5);
        }
        n = fread(buf, 1, sizeof(buf), f);
        rc = pclose(f);
        if (rc != 0) {
            return apr_psprintf(p, "%s exited with status %d", spec + 5, rc);
        }
    }
    else {
        *out = spec;
        return NULL;
    }
    *out = first_line(p, buf, n);
    if (!**out) {
        return apr_psprintf(p, "%s gave an empty password", spec);
    }
    return NULL;
}

/* ---- connections ---------------------------------------------------- */

/* The reslist calls its constructor outside its lock, from any thread:
 * allocate from the heap, not from the shared pool. */
static apr_status_t conn_make(void **resource, void *params, apr_pool_t *p)
{
    *resource = calloc(1, sizeof(conn_t));
    return *resource ? APR_SUCCESS : APR_ENOMEM;
}

static void conn_close(conn_t *c)
{
    if (c->ld) {
        ldap_unbind_ext_s(c->ld, NULL, NULL);
        c->ld = NULL;
    }
}

static apr_status_t conn_destroy(void *resource, void *params, apr_pool_t *p)
{
    conn_close(resource);
    free(resource);
    return APR_SUCCESS;
}

apr_status_t mtls_ldap_pool_create(apr_pool_t *p,
                                   const mtls_ldap_settings_t *s, int max,
                                   mtls_ldap_pool_t **out)
{
    mtls_ldap_pool_t *pool = apr_pcalloc(p, sizeof(*pool));
    apr_status_t rv;

    pool->s = s;
    if (max < 1) {
        max = 1;
    }
    rv = apr_reslist_create(&pool->list, 0, max, max, 0, conn_make,
                            conn_destroy, pool, p);
    if (rv == APR_SUCCESS) {
        /* A worker waits for a free connection no longer than for the
         * directory itself. */
        apr_reslist_timeout_set(pool->list, apr_time_from_sec(s->timeout));
        apr_pool_cleanup_register(p, pool->list,
                                  (apr_status_t (*)(void *))apr_reslist_destroy,
                                  apr_pool_cleanup_null);
    }
    *out = pool;
    return rv;
}

static const char *ldap_error(apr_pool_t *p, LDAP *ld, int rc, const char *what)
{
    char *diag = NULL;
    const char *msg;

    if (ld) {
        ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    }
    msg = apr_psprintf(p, "%s: %s%s%s", what, ldap_err2string(rc),
                       diag && *diag ? ": " : "", diag ? diag : "");
    if (diag) {
        ldap_memfree(diag);
    }
    return msg;
}

/* Open and bind @p c to the host @p uri; on failure it stays closed. */
static int conn_open_host(const mtls_ldap_settings_t *s, const char *uri,
                          conn_t *c, apr_pool_t *p, const char **err)
{
    struct timeval tv = { s->timeout, 0 };
    int version = LDAP_VERSION3, rc, zero = 0;
    int demand = LDAP_OPT_X_TLS_DEMAND;
    struct berval cred;

    rc = ldap_initialize(&c->ld, uri);
    if (rc != LDAP_SUCCESS) {
        *err = ldap_error(p, NULL, rc, "ldap_initialize");
        c->ld = NULL;
        return rc;
    }
    ldap_set_option(c->ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(c->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    ldap_set_option(c->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(c->ld, LDAP_OPT_TIMEOUT, &tv);
    if (s->url->ldaps || s->url->starttls) {
        ldap_set_option(c->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
        if (s->ca_file) {
            ldap_set_option(c->ld, LDAP_OPT_X_TLS_CACERTFILE, s->ca_file);
        }
        /* A context of this handle's own, so the CA above applies. */
        ldap_set_option(c->ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
    }
    if (s->url->starttls) {
        rc = ldap_start_tls_s(c->ld, NULL, NULL);
        if (rc != LDAP_SUCCESS) {
            *err = ldap_error(p, c->ld, rc, "STARTTLS");
            conn_close(c);
            return rc;
        }
    }
    /* Bind even anonymously: it opens the connection now, so a host that
     * is down is skipped here rather than in the middle of a search. */
    cred.bv_val = s->bind_dn ? (char *)s->bind_pw : NULL;
    cred.bv_len = s->bind_dn && s->bind_pw ? strlen(s->bind_pw) : 0;
    rc = ldap_sasl_bind_s(c->ld, s->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL,
                          NULL, NULL);
    if (rc != LDAP_SUCCESS) {
        *err = ldap_error(p, c->ld, rc, s->bind_dn
                          ? apr_psprintf(p, "bind as %s", s->bind_dn)
                          : "anonymous bind");
        conn_close(c);
        return rc;
    }
    return LDAP_SUCCESS;
}

/* Open and bind @p c to the first host that takes it, in the URL's
 * order: a host that cannot be reached, fails STARTTLS, is busy or will
 * not bind is skipped (libldap itself moves on only when connecting
 * fails).  A bind refused for its credentials is the same on every host:
 * not tried again.  On failure @p err names each host's error. */
static int conn_open(const mtls_ldap_settings_t *s, conn_t *c, apr_pool_t *p,
                     const char **err)
{
    const char *all = NULL;
    int i, rc = LDAP_SERVER_DOWN;

    /* A DN without a password is an unauthenticated bind (RFC 4513
     * 5.1.2), which some servers take for anonymous: searches then find
     * nothing, and that would be cached as "no such user".  The same on
     * every host: no host is asked. */
    if (s->bind_dn && (!s->bind_pw || !*s->bind_pw)) {
        *err = apr_psprintf(p, "MTLSLDAPBindDN %s has no "
                            "MTLSLDAPBindPassword in its scope (a password "
                            "goes with its DN): not binding without one",
                            s->bind_dn);
        return LDAP_INAPPROPRIATE_AUTH;
    }
    for (i = 0; i < s->url->nhosts; i++) {
        const char *uri = s->url->host_uris[i];
        rc = conn_open_host(s, uri, c, p, err);
        if (rc == LDAP_SUCCESS) {
            return rc;
        }
        if (s->url->nhosts > 1) {
            all = apr_psprintf(p, "%s%s%s: %s", all ? all : "",
                               all ? "; " : "", uri, *err ? *err : "?");
        }
        if (rc == LDAP_INVALID_CREDENTIALS) {
            break;
        }
    }
    if (all) {
        *err = all;
    }
    return rc;
}

/* Errors after which the connection cannot be trusted again. */
static int conn_broken(int rc)
{
    return rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT
           || rc == LDAP_CONNECT_ERROR || rc == LDAP_LOCAL_ERROR
           || rc == LDAP_ENCODING_ERROR || rc == LDAP_DECODING_ERROR
           || rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY
           || rc == LDAP_OTHER || rc == LDAP_TIMELIMIT_EXCEEDED
           || rc == LDAP_ADMINLIMIT_EXCEEDED || rc == LDAP_NO_MEMORY;
}

/* What to do with a search's entries, while the connection is held
 * (libldap reads results through their handle). */
typedef void (*entries_fn)(LDAP *ld, LDAPMessage *res, void *baton);

/* What a search's libldap code counts as in the metrics. */
static mtls_ldap_op_e op_result(int rc)
{
    if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED
        || rc == LDAP_NO_SUCH_OBJECT) {
        return MTLS_LDAPOP_OK;
    }
    return rc == LDAP_TIMEOUT || rc == LDAP_TIMELIMIT_EXCEEDED
           ? MTLS_LDAPOP_TIMEOUT : MTLS_LDAPOP_ERROR;
}

/* Run a search on a pooled connection: on a connection found broken it is
 * reopened once (the server may have closed an idle one), then given up.
 * Returns the libldap code; @p fn sees the entries on success (and on a
 * size limit hit, when @p sizelimit asked for one). */
static int pooled_search(mtls_ldap_pool_t *pool, apr_pool_t *p,
                         const char *base, int scope, const char *filter,
                         char **attrs, int sizelimit, entries_fn fn,
                         void *baton, const char **err)
{
    LDAPMessage *result = NULL, **res = &result;
    const mtls_ldap_settings_t *s = pool->s;
    struct timeval tv = { s->timeout, 0 };
    conn_t *c = NULL;
    apr_status_t rv;
    int rc = LDAP_SERVER_DOWN, attempt, fresh;
    apr_time_t t0 = apr_time_now();

    *res = NULL;
    rv = apr_reslist_acquire(pool->list, (void **)&c);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "no free directory connection within %ds",
                            s->timeout);
        mtls_metrics_ldap(MTLS_LDAPOP_TIMEOUT, apr_time_now() - t0);
        return LDAP_TIMEOUT;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        fresh = !c->ld;
        if (fresh && (rc = conn_open(s, c, p, err)) != LDAP_SUCCESS) {
            break;
        }
        rc = ldap_search_ext_s(c->ld, base, scope, filter, attrs, 0, NULL,
                               NULL, &tv, sizelimit, res);
        if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED
            || rc == LDAP_NO_SUCH_OBJECT || !conn_broken(rc)) {
            if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED
                && rc != LDAP_NO_SUCH_OBJECT) {
                *err = ldap_error(p, c->ld, rc,
                                  apr_psprintf(p, "search %s", filter));
            }
            else if (rc == LDAP_SUCCESS && *res) {
                fn(c->ld, *res, baton);
            }
            break;
        }
        *err = ldap_error(p, c->ld, rc, "search");
        if (*res) {
            ldap_msgfree(*res);
            *res = NULL;
        }
        conn_close(c);
        /* A timeout already spent the time we have; a fresh connection
         * that failed is the directory's answer, not a stale socket. */
        if (rc == LDAP_TIMEOUT || rc == LDAP_TIMELIMIT_EXCEEDED || fresh) {
            break;
        }
    }
    if (*res) {
        ldap_msgfree(*res);
    }
    apr_reslist_release(pool->list, c);
    /* One operation: the search, with the (re)connect and bind it
     * needed. */
    mtls_metrics_ldap(op_result(rc), apr_time_now() - t0);
    return rc;
}

const char *mtls_ldap_and(apr_pool_t *p, const char *a, const char *b)
{
    if (!a) {
        return b;
    }
    if (!b) {
        return a;
    }
    return apr_pstrcat(p, "(&", a, b, ")", NULL);
}

static const char *first_value(apr_pool_t *p, LDAP *ld, LDAPMessage *e,
                               const char *attr)
{
    struct berval **vals = ldap_get_values_len(ld, e, attr);
    const char *v = NULL;

    if (vals && vals[0] && vals[0]->bv_len
        && !memchr(vals[0]->bv_val, '\0', vals[0]->bv_len)) {
        v = apr_pstrmemdup(p, vals[0]->bv_val, vals[0]->bv_len);
    }
    if (vals) {
        ldap_value_free_len(vals);
    }
    return v;
}

typedef struct {
    apr_pool_t *p;
    const char *attr;
    int member_of;
    int count;
    mtls_ldap_entry_t *out;
} user_baton_t;

static void user_entries(LDAP *ld, LDAPMessage *res, void *baton)
{
    user_baton_t *b = baton;
    LDAPMessage *e;
    char *dn;

    b->count = ldap_count_entries(ld, res);
    if (b->count != 1 || !(e = ldap_first_entry(ld, res))) {
        return;
    }
    if (!(dn = ldap_get_dn(ld, e))) {
        b->count = -1;
        return;
    }
    b->out->dn = apr_pstrdup(b->p, dn);
    ldap_memfree(dn);
    b->out->name = first_value(b->p, ld, e, b->attr);
    if (b->member_of) {
        struct berval **vals = ldap_get_values_len(ld, e, "memberOf");
        int i;
        for (i = 0; vals && vals[i]; i++) {
            if (vals[i]->bv_len
                && !memchr(vals[i]->bv_val, '\0', vals[i]->bv_len)) {
                APR_ARRAY_PUSH(b->out->member_of, const char *)
                    = apr_pstrmemdup(b->p, vals[i]->bv_val, vals[i]->bv_len);
            }
        }
        if (vals) {
            ldap_value_free_len(vals);
        }
    }
}

/* A search base the directory does not have (a typo, a replica still
 * loading, a bind DN that may not see it): not an answer about the user
 * (no such user, no groups, which would be cached), but a directory that
 * cannot answer. */
static mtls_ldap_result_e no_base(apr_pool_t *p, const char *base,
                                  const char **err)
{
    *err = apr_psprintf(p, "the search base %s does not exist (or the bind "
                        "DN may not see it)", base);
    return MTLS_LDAP_DOWN;
}

mtls_ldap_result_e mtls_ldap_find_user(mtls_ldap_pool_t *pool, apr_pool_t *p,
                                       const char *filter, int member_of,
                                       mtls_ldap_entry_t *out,
                                       const char **err)
{
    const mtls_ldap_url_t *u = pool->s->url;
    char *attrs[3] = { (char *)u->attr, member_of ? "memberOf" : NULL, NULL };
    user_baton_t b = { p, u->attr, member_of, 0, out };
    int rc;

    memset(out, 0, sizeof(*out));
    out->member_of = apr_array_make(p, 4, sizeof(const char *));
    *err = NULL;
    /* A size limit of 2 is enough to tell "one" from "more than one". */
    rc = pooled_search(pool, p, u->base, u->scope,
                       mtls_ldap_and(p, filter, u->filter), attrs, 2,
                       user_entries, &b, err);
    if (rc == LDAP_SIZELIMIT_EXCEEDED) {
        return MTLS_LDAP_AMBIGUOUS;
    }
    if (rc == LDAP_NO_SUCH_OBJECT) {
        return no_base(p, u->base, err);
    }
    if (rc != LDAP_SUCCESS) {
        return MTLS_LDAP_DOWN;
    }
    if (b.count < 0) {
        *err = "the entry found has no DN";
        return MTLS_LDAP_DOWN;
    }
    return b.count == 0 ? MTLS_LDAP_NONE
           : b.count == 1 ? MTLS_LDAP_OK : MTLS_LDAP_AMBIGUOUS;
}

const char *mtls_ldap_rdn_value(apr_pool_t *p, const char *dn)
{
    LDAPDN parsed = NULL;
    const char *v = NULL;

    if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS) {
        return NULL;
    }
    if (parsed && parsed[0] && parsed[0][0]) {
        struct berval *bv = &parsed[0][0]->la_value;
        if (bv->bv_len && !memchr(bv->bv_val, '\0', bv->bv_len)) {
            v = apr_pstrmemdup(p, bv->bv_val, bv->bv_len);
        }
    }
    ldap_dnfree(parsed);
    return v;
}

typedef struct {
    apr_pool_t *p;
    const char *attr;
    apr_array_header_t *dns, *names;
} group_baton_t;

static void group_entries(LDAP *ld, LDAPMessage *res, void *baton)
{
    group_baton_t *b = baton;
    LDAPMessage *e;

    for (e = ldap_first_entry(ld, res); e; e = ldap_next_entry(ld, e)) {
        char *dn = ldap_get_dn(ld, e);
        const char *name;
        if (!dn) {
            continue;
        }
        name = first_value(b->p, ld, e, b->attr);
        if (!name) {
            name = mtls_ldap_rdn_value(b->p, dn);
        }
        if (name) {
            APR_ARRAY_PUSH(b->dns, const char *) = apr_pstrdup(b->p, dn);
            APR_ARRAY_PUSH(b->names, const char *) = name;
        }
        ldap_memfree(dn);
    }
}

mtls_ldap_result_e mtls_ldap_find_groups(mtls_ldap_pool_t *pool,
                                         apr_pool_t *p, const char *base,
                                         const char *filter, const char *attr,
                                         apr_array_header_t *dns,
                                         apr_array_header_t *names,
                                         const char **err)
{
    char *attrs[2] = { (char *)attr, NULL };
    group_baton_t b = { p, attr, dns, names };
    int rc;

    *err = NULL;
    rc = pooled_search(pool, p, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0,
                       group_entries, &b, err);
    if (rc == LDAP_NO_SUCH_OBJECT) {
        return no_base(p, base, err);
    }
    if (rc == LDAP_SIZELIMIT_EXCEEDED) {
        /* Fail closed: a partial list is not the user's groups. */
        *err = apr_psprintf(p, "the directory's size limit cut the group "
                            "search %s short", filter);
    }
    return rc == LDAP_SUCCESS ? MTLS_LDAP_OK : MTLS_LDAP_DOWN;
}
