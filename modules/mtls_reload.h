/* Files that are read at start-up and re-read when they change: the map
 * file, the group file, the deny list, the header signing key and CRLs
 * (with their CA file).  One watched object per path and kind, shared by
 * every scope that names it.  Depends on mtls_config (never the other
 * way round). */
#ifndef MTLS_RELOAD_H
#define MTLS_RELOAD_H

#include "httpd.h"
#include "http_config.h"
#include "mtls_config.h"

typedef enum {
    MTLS_FILE_MAP,
    MTLS_FILE_GROUP,
    MTLS_FILE_DENY,
    MTLS_FILE_HMAC_KEY,       /* MTLSHeaderSignature; never world-readable */
    MTLS_FILE_CRL,            /* with its CA file: an mtls_crl_set_t */
    MTLS_FILE_GRIDMAP,        /* a map file in grid-mapfile format */
    MTLS_FILE_FAKEBASICAUTH   /* a map file: FakeBasicAuth's htpasswd */
} mtls_file_kind_e;

typedef struct mtls_snapshot_t mtls_snapshot_t;

/**
 * The watched object for @p path (relative to ServerRoot) and @p kind,
 * reading and parsing the file now if this configuration has not yet.
 * Returns NULL or a message that stops start-up ("file:line: ...").
 */
const char *mtls_watched_open(cmd_parms *cmd, const char *path,
                              mtls_file_kind_e kind, mtls_watched_t **out);

/** Start a watcher thread in each child that re-reads changed files
 *  every MTLSReloadInterval. */
void mtls_reload_register_hooks(apr_pool_t *p);

/** Hold the current contents until mtls_watched_release(). */
mtls_snapshot_t *mtls_watched_acquire(mtls_watched_t *w);

/** The stamp of the current contents (mtls_snapshot_stamp()), without
 *  holding them or waiting: enough to tell whether what was made from
 *  them is still current. */
apr_uint64_t mtls_watched_stamp(const mtls_watched_t *w);

/** Give back what mtls_watched_acquire() returned. */
void mtls_watched_release(mtls_watched_t *w, mtls_snapshot_t *s);

/** The parsed contents (an mtls_map_t, mtls_groupfile_t or
 *  mtls_hdr_key_t or mtls_crl_set_t). */
const void *mtls_snapshot_data(const mtls_snapshot_t *s);

/** A number for these contents that no other snapshot of this process's
 *  configuration ever has (file index << 32 | generation). */
apr_uint64_t mtls_snapshot_stamp(const mtls_snapshot_t *s);

/** MTLSUserMapFile / MTLSGroupFile / MTLSDenyList PATH|none (cmd->info
 *  is the mtls_file_kind_e): opens the watched file into the scope. */
const char *mtls_cmd_file(cmd_parms *cmd, void *dc, const char *path);

/** MTLSCRL CRL-FILE CA-FILE | none: the watched pair (the CRLs and the
 *  CA certificates that must sign them) into the scope. */
const char *mtls_cmd_crl(cmd_parms *cmd, void *dc, const char *crl,
                         const char *ca);

/** MTLSUserMapFile PATH [map|gridmap|fakebasicauth]: mtls_cmd_file() for
 *  a map file of that format. */
const char *mtls_cmd_map_file(cmd_parms *cmd, void *dc, const char *path,
                              const char *format);

#endif /* MTLS_RELOAD_H */
