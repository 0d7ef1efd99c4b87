/* Parsers for the files the module reads: the map file, the deny list
 * and the group file.  Pure: text in, indexed tables out, errors as
 * "file:line: what is wrong". */
#ifndef MTLS_FILEFMT_H
#define MTLS_FILEFMT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_hash.h>
#include "mtls_cert.h"

typedef enum {
    MTLS_KEY_SHA256 = 0,
    MTLS_KEY_SPKI,
    MTLS_KEY_ISSUER_SERIAL,
    MTLS_KEY_SUBJECT,
    MTLS_KEY_COUNT
} mtls_key_kind_e;

/* A map-file entry: the user and groups it gives. */
typedef struct {
    const char *user;
    apr_array_header_t *groups;   /* of const char * */
    mtls_key_kind_e kind;         /* strong unless MTLS_KEY_SUBJECT */
    int line;
} mtls_map_entry_t;

/* A parsed map file or deny list: entries by normalised key. */
typedef struct {
    apr_hash_t *by_key;
    int entries;
} mtls_map_t;

/* A parsed group file: for each user, the groups that list them. */
typedef struct {
    apr_hash_t *groups_by_user;   /* user -> apr_array_header_t of char* */
    int groups;
} mtls_groupfile_t;

/**
 * Parse a map file (@p deny_list 0: "KEY USER [GROUP...]") or a deny list
 * (@p deny_list 1: "KEY" alone).  @p fname names the file in errors.
 * Returns NULL or "fname:line: message".
 */
const char *mtls_map_parse(apr_pool_t *p, const char *fname,
                           const char *text, int deny_list, mtls_map_t **out);

/**
 * The entry for @p c: tried by sha256 (the certificate's own, then those
 * of its signature twins, c->sha256_twins), spki, issuer-serial, subject
 * (strong keys first).  NULL when none.
 */
const mtls_map_entry_t *mtls_map_lookup(apr_pool_t *p, const mtls_map_t *m,
                                        const mtls_cert_t *c);

/** Parse an AuthGroupFile-format file ("group: user1 user2"). */
const char *mtls_groupfile_parse(apr_pool_t *p, const char *fname,
                                 const char *text, mtls_groupfile_t **out);

/** The groups of @p user (NULL when none). */
const apr_array_header_t *mtls_groupfile_lookup(const mtls_groupfile_t *g,
                                                const char *user);

/**
 * Split the next word off @p *line with Apache's configuration quoting
 * (as ap_getword_conf): double or single quotes, backslash escapes the
 * quote character inside them.  Returns "" at the end of the line.
 */
char *mtls_getword_conf(apr_pool_t *p, const char **line);

/** The normalised lookup key of @p kind for @p c. */
const char *mtls_map_cert_key(apr_pool_t *p, const mtls_cert_t *c,
                              mtls_key_kind_e kind);

#endif /* MTLS_FILEFMT_H */
