/* The directory client: RFC 4516 URLs, a per-process pool of libldap
 * connections with timeouts, binds and TLS, and the searches the
 * directory source needs.  The only unit that includes <ldap.h>; knows
 * nothing of request_rec. */
#ifndef MTLS_LDAP_H
#define MTLS_LDAP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_hash.h>

typedef enum {
    MTLS_LDAP_SCOPE_BASE = 0,
    MTLS_LDAP_SCOPE_ONE = 1,
    MTLS_LDAP_SCOPE_SUB = 2
} mtls_ldap_scope_e;

/* A parsed MTLSLDAPURL. */
typedef struct {
    const char *uris;        /* "ldap://h1:389 ldap://h2:389", libldap's list */
    const char **host_uris;  /* the same, one URI per host, tried in turn */
    int nhosts;
    int ldaps;
    int starttls;
    const char *base;
    const char *attr;        /* the user's name (default uid) */
    mtls_ldap_scope_e scope; /* default sub */
    const char *filter;      /* ANDed with the user filter, or NULL */
} mtls_ldap_url_t;

/* What a connection needs: fixed at configuration time. */
typedef struct {
    const mtls_ldap_url_t *url;
    const char *bind_dn;     /* NULL: anonymous */
    const char *bind_pw;
    const char *ca_file;     /* MTLSLDAPTrustedCA, or NULL */
    int timeout;             /* seconds, bounds connect and each operation */
} mtls_ldap_settings_t;

typedef enum {
    MTLS_LDAP_OK = 0,        /* found exactly what was asked */
    MTLS_LDAP_NONE,          /* no entry */
    MTLS_LDAP_AMBIGUOUS,     /* more than one entry for a user filter */
    MTLS_LDAP_DOWN           /* the directory could not answer */
} mtls_ldap_result_e;

/* A user entry. */
typedef struct {
    const char *dn;
    const char *name;               /* first value of the URL's attribute */
    apr_array_header_t *member_of;  /* DNs (const char *), may be empty */
} mtls_ldap_entry_t;

typedef struct mtls_ldap_pool_t mtls_ldap_pool_t;

/**
 * Parse "ldap[s]://host1[:port] host2/BASE?ATTR?SCOPE?FILTER" with an
 * optional second argument "STARTTLS" (or "NONE").  Returns NULL and sets
 * @p out, or an error message.
 */
const char *mtls_ldap_url_parse(apr_pool_t *p, const char *text,
                                const char *tls, mtls_ldap_url_t **out);

/**
 * A bind password as MTLSLDAPBindPassword writes it: the secret itself,
 * "file:PATH" (first line of the file) or "exec:PROGRAM" (first line of
 * its output).  Returns NULL and sets @p out, or an error message.
 */
const char *mtls_ldap_secret(apr_pool_t *p, const char *spec,
                             const char **out);

/**
 * A pool of at most @p max connections for @p s, living in @p p (the
 * child's pool).  Connections open on first use and are reused; one that
 * fails is closed and reopened next time.
 */
apr_status_t mtls_ldap_pool_create(apr_pool_t *p,
                                   const mtls_ldap_settings_t *s, int max,
                                   mtls_ldap_pool_t **out);

/**
 * Find the one entry under the URL's base and scope matching @p filter
 * (already ANDed with the URL's), asking for the URL's attribute and, with
 * @p member_of, memberOf.  Two or more entries: MTLS_LDAP_AMBIGUOUS.
 * @p err says why on DOWN.  Allocates from @p p.
 */
mtls_ldap_result_e mtls_ldap_find_user(mtls_ldap_pool_t *pool, apr_pool_t *p,
                                       const char *filter, int member_of,
                                       mtls_ldap_entry_t *out,
                                       const char **err);

/**
 * Every entry under @p base (subtree) matching @p filter: appends its DN
 * to @p dns and the first value of @p attr (or its DN's first RDN value
 * when it has none) to @p names.  MTLS_LDAP_OK when the search ran.
 */
mtls_ldap_result_e mtls_ldap_find_groups(mtls_ldap_pool_t *pool,
                                         apr_pool_t *p, const char *base,
                                         const char *filter, const char *attr,
                                         apr_array_header_t *dns,
                                         apr_array_header_t *names,
                                         const char **err);

/** The value of the first RDN of @p dn ("admins" for cn=admins,o=Lab), or
 *  NULL when it does not parse. */
const char *mtls_ldap_rdn_value(apr_pool_t *p, const char *dn);

/** "(&A B)" of two filters, either may be NULL. */
const char *mtls_ldap_and(apr_pool_t *p, const char *a, const char *b);

#endif /* MTLS_LDAP_H */
