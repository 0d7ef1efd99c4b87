/* Parsers for the files the module reads: the map file, the deny list
 * and the group file.  Pure: text in, indexed tables out, errors as
 * "file:line: what is wrong". */
#ifndef MTLS_FILEFMT_H
#define MTLS_FILEFMT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_hash.h>
#include "mtls_cert.h"

/* Key kinds, in the order a certificate is looked up: strong first. */
typedef enum {
    MTLS_KEY_SHA256 = 0,
    MTLS_KEY_SPKI,
    MTLS_KEY_SHA1_PUBKEY,
    MTLS_KEY_ISSUER_SERIAL,
    MTLS_KEY_SKI,
    MTLS_KEY_SID,
    MTLS_KEY_SUBJECT,
    MTLS_KEY_COUNT
} mtls_key_kind_e;

/* What a map file holds (MTLSUserMapFile PATH [FORMAT]). */
typedef enum {
    MTLS_MAPFMT_MAP = 0,        /* KEY USER [GROUP ...] */
    MTLS_MAPFMT_DENY,           /* KEY */
    MTLS_MAPFMT_GRIDMAP,        /* "DN" user1,user2 (Globus grid-mapfile) */
    MTLS_MAPFMT_FAKEBASICAUTH   /* /ONE-LINE-DN:HASH (htpasswd) */
} mtls_map_format_e;

/* A map-file entry: the user and groups it gives. */
typedef struct {
    const char *user;
    apr_array_header_t *groups;   /* of const char * */
    mtls_key_kind_e kind;         /* see mtls_map_entry_strong() */
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
 * Parse a file of @p format: MTLS_MAPFMT_MAP and _DENY as mtls_map_parse();
 * _GRIDMAP: '"DN" user1,user2' lines, the DN one-line or RFC 4514, the
 * first account the user (a subject key); _FAKEBASICAUTH: the user names
 * of an htpasswd file made for SSLOptions +FakeBasicAuth, one-line DNs,
 * each mapping the certificate of that subject to that very name (the
 * password hash is not used).  Returns NULL or "fname:line: message".
 */
const char *mtls_map_parse_format(apr_pool_t *p, const char *fname,
                                  const char *text, mtls_map_format_e format,
                                  mtls_map_t **out);

/**
 * Whether the user of @p e, found for @p c, is strong (SPEC §2): sha256,
 * spki, sha1-pubkey and issuer-serial keys are; ski when it is the hash of
 * the certificate's own key; sid when @p sid_trusted (the issuer is named
 * by MTLSTrustSIDFrom); subject never.
 */
int mtls_map_entry_strong(const mtls_map_entry_t *e, const mtls_cert_t *c,
                          int sid_trusted);

/**
 * The entry for @p c: tried by each key kind in mtls_key_kind_e order
 * (sha256: the certificate's own, then those of its signature twins,
 * c->sha256_twins)
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

/** The normalised lookup key of @p kind for @p c (NULL when @p c has no
 *  such value, e.g. no SID). */
const char *mtls_map_cert_key(apr_pool_t *p, const mtls_cert_t *c,
                              mtls_key_kind_e kind);

#endif /* MTLS_FILEFMT_H */
