/* Watched files: parsed at start-up (errors stop the server), re-read
 * when they change; a change that does not parse keeps the old contents.
 * One thread per child process checks every MTLSReloadInterval, so every
 * process sees every version and the request path never calls stat().
 * Readers never wait for a reload: they hold a reference to the snapshot
 * they started with. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "apr_file_io.h"
#include "apr_thread_mutex.h"
#include "apr_thread_cond.h"
#include "apr_thread_proc.h"
#include "http_log.h"

#include "mtls_reload.h"
#include "mtls_config.h"
#include "mtls_filefmt.h"
#include "mtls_hdrsign.h"
#include "mtls_crl.h"
#include "mtls_metrics.h"

/* Large enough for any real map file, small enough that a wrong path
 * (a log file, a device) fails clearly instead of eating memory. */
#define MTLS_MAX_FILE_SIZE (64 * 1024 * 1024)

/* Where the configuration pool keeps the watched files of its generation. */
#define REGISTRY_KEY "mtls_authz_watched_files"

struct mtls_snapshot_t {
    apr_pool_t *pool;          /* owns data; NULL for the start-up one */
    const void *data;
    apr_uint64_t stamp;        /* index of the file << 32 | generation */
    apr_uint32_t refs;         /* guarded by the watched mutex */
};

struct mtls_watched_t {
    const char *path;
    const char *aux_path;              /* MTLS_FILE_CRL: the CA file */
    mtls_file_kind_e kind;
    apr_thread_mutex_t *mutex;
    mtls_snapshot_t *current;          /* guarded by mutex */
    apr_uint64_t current_stamp;        /* current->stamp: written under
                                          the mutex, read without it */
    apr_uint32_t generation;           /* guarded by mutex */
    apr_uint32_t index;                /* distinct per file of a registry */
    /* What the file (and aux file) looked like when last read, good or
     * bad; size -1 once it could not be read.  The change time and mode
     * too: a chmod alone changes what may be read (a key file that
     * became world-readable is refused). */
    apr_time_t mtime;
    apr_time_t ctime;
    apr_off_t size;
    apr_ino_t inode;
    apr_fileperms_t mode;
    apr_uint64_t aux_version;
};

#define WATCH_FINFO (APR_FINFO_MTIME | APR_FINFO_CTIME | APR_FINFO_SIZE \
                     | APR_FINFO_INODE | APR_FINFO_PROT)

/* Remember what @p fi says of the file. */
static void seen(mtls_watched_t *w, const apr_finfo_t *fi)
{
    w->mtime = fi->mtime;
    w->ctime = fi->ctime;
    w->size = fi->size;
    w->inode = fi->inode;
    w->mode = fi->protection;
}

/* A number that changes when the file does, for the reload counters. */
static apr_uint64_t stat_version(const apr_finfo_t *fi)
{
    return (apr_uint64_t)fi->mtime * 0x9E3779B97F4A7C15ULL
           ^ ((apr_uint64_t)fi->size << 20) ^ (apr_uint64_t)fi->inode;
}

static apr_uint64_t version_of(const mtls_watched_t *w)
{
    return ((apr_uint64_t)w->mtime * 0x9E3779B97F4A7C15ULL
            ^ ((apr_uint64_t)w->size << 20) ^ (apr_uint64_t)w->inode
            ^ (apr_uint64_t)w->ctime * 31 ^ (apr_uint64_t)w->mode)
           + w->aux_version * 31;
}

static const char *parse(apr_pool_t *p, mtls_file_kind_e kind,
                         const char *path, const char *text,
                         const void **data)
{
    const char *err;

    if (kind == MTLS_FILE_HMAC_KEY) {
        mtls_hdr_key_t *k;
        err = mtls_hdr_key_parse(p, path, text, &k);
        *data = k;
    }
    else if (kind == MTLS_FILE_GROUP) {
        mtls_groupfile_t *g;
        err = mtls_groupfile_parse(p, path, text, &g);
        *data = g;
    }
    else {
        mtls_map_t *m;
        err = mtls_map_parse_format(p, path, text,
                                    kind == MTLS_FILE_DENY ? MTLS_MAPFMT_DENY
                                    : kind == MTLS_FILE_GRIDMAP
                                    ? MTLS_MAPFMT_GRIDMAP
                                    : kind == MTLS_FILE_FAKEBASICAUTH
                                    ? MTLS_MAPFMT_FAKEBASICAUTH
                                    : MTLS_MAPFMT_MAP, &m);
        *data = m;
    }
    return err;
}

/* Read the file into @p p; remember its stat in @p fi. */
static const char *read_text(apr_pool_t *p, const char *path,
                             apr_finfo_t *fi, const char **text)
{
    apr_file_t *f;
    apr_status_t rv;
    apr_size_t got;
    char *buf, *nul, ebuf[128];

    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(fi, WATCH_FINFO | APR_FINFO_TYPE, f);
    }
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "cannot read %s: %s", path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    if (fi->filetype != APR_REG || fi->size > MTLS_MAX_FILE_SIZE) {
        apr_file_close(f);
        return apr_psprintf(p, "%s: not a regular file of at most %d bytes",
                            path, MTLS_MAX_FILE_SIZE);
    }
    buf = apr_palloc(p, (apr_size_t)fi->size + 1);
    rv = apr_file_read_full(f, buf, (apr_size_t)fi->size, &got);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        return apr_psprintf(p, "cannot read %s: %s", path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    buf[got] = '\0';
    if ((nul = memchr(buf, '\0', got))) {
        int line = 1;
        const char *s;
        for (s = buf; s < nul; s++) {
            line += *s == '\n';
        }
        return apr_psprintf(p, "%s:%d: NUL byte in file", path, line);
    }
    *text = buf;
    return NULL;
}

/* Read and parse the file (and for a CRL its CA file) into @p p;
 * remember their stat in @p fi and @p aux_version. */
static const char *load(apr_pool_t *p, const char *path, const char *aux,
                        mtls_file_kind_e kind, apr_finfo_t *fi,
                        apr_uint64_t *aux_version, const void **data)
{
    const char *text, *aux_text, *err;
    apr_finfo_t afi;

    if ((err = read_text(p, path, fi, &text))) {
        return err;
    }
    /* A secret anyone on the host can read signs nothing. */
    if (kind == MTLS_FILE_HMAC_KEY && (fi->protection & APR_FPROT_WREAD)) {
        return apr_psprintf(p, "%s: the key file is world-readable; "
                            "chmod o-rwx it (e.g. 0640 root:www-data)",
                            path);
    }
    if (kind == MTLS_FILE_CRL) {
        mtls_crl_set_t *crls;
        if ((err = read_text(p, aux, &afi, &aux_text))) {
            return err;
        }
        *aux_version = stat_version(&afi);
        err = mtls_crl_parse(p, path, text, aux, aux_text, &crls);
        *data = crls;
        return err;
    }
    return parse(p, kind, path, text, data);
}

static const char *watched_open(cmd_parms *cmd, const char *path,
                                const char *aux_path, mtls_file_kind_e kind,
                                mtls_watched_t **out)
{
    apr_hash_t *registry = NULL;
    const char *full = ap_server_root_relative(cmd->pool, path), *err, *hkey;
    const char *aux = NULL;
    apr_uint64_t aux_version = 0;
    mtls_watched_t *w;
    const void *data;
    apr_finfo_t fi;

    if (!full) {
        return apr_psprintf(cmd->pool, "invalid path '%s'", path);
    }
    if (aux_path && !(aux = ap_server_root_relative(cmd->pool, aux_path))) {
        return apr_psprintf(cmd->pool, "invalid path '%s'", aux_path);
    }
    /* One object per path and kind for this configuration generation:
     * the registry lives in (and dies with) the configuration pool. */
    apr_pool_userdata_get((void **)&registry, REGISTRY_KEY, cmd->pool);
    if (!registry) {
        registry = apr_hash_make(cmd->pool);
        apr_pool_userdata_set(registry, REGISTRY_KEY, apr_pool_cleanup_null,
                              cmd->pool);
    }
    hkey = apr_psprintf(cmd->pool, "%d:%s%s%s", (int)kind, full,
                        aux ? "\n" : "", aux ? aux : "");
    if ((w = apr_hash_get(registry, hkey, APR_HASH_KEY_STRING))) {
        *out = w;
        return NULL;
    }
    if ((err = load(cmd->pool, full, aux, kind, &fi, &aux_version, &data))) {
        return err;
    }
    w = apr_pcalloc(cmd->pool, sizeof(*w));
    w->path = full;
    w->aux_path = aux;
    w->aux_version = aux_version;
    w->kind = kind;
    w->current = apr_pcalloc(cmd->pool, sizeof(*w->current));
    w->current->data = data;
    w->current->refs = 1;     /* the configuration's own reference */
    w->generation = 1;
    w->index = apr_hash_count(registry) + 1;
    w->current->stamp = ((apr_uint64_t)w->index << 32) | 1;
    w->current_stamp = w->current->stamp;
    seen(w, &fi);
    if (apr_thread_mutex_create(&w->mutex, APR_THREAD_MUTEX_DEFAULT,
                                cmd->pool) != APR_SUCCESS) {
        return "cannot create a mutex";
    }
    apr_hash_set(registry, hkey, APR_HASH_KEY_STRING, w);
    *out = w;
    return NULL;
}

const char *mtls_watched_open(cmd_parms *cmd, const char *path,
                              mtls_file_kind_e kind, mtls_watched_t **out)
{
    return watched_open(cmd, path, NULL, kind, out);
}

/* Destroy what no reader holds any more, outside every lock: freeing a
 * large parsed file takes time nobody should wait for. */
static void drop(mtls_snapshot_t *s)
{
    if (s && s->pool) {
        apr_pool_destroy(s->pool);
    }
}

/* Release one reference, the mutex held; returns the snapshot when it
 * must now be destroyed (by drop(), after unlocking). */
static mtls_snapshot_t *unref_locked(mtls_snapshot_t *s)
{
    return --s->refs == 0 && s->pool ? s : NULL;
}

/* When the interval has passed: stat, read and parse without any lock
 * (only this thread touches the stat fields), then swap the snapshot
 * under the mutex, so requests never wait for a parse. */
static void check(server_rec *srv, apr_pool_t *tmp, mtls_watched_t *w)
{
    apr_finfo_t fi, afi;
    apr_pool_t *pool;
    const void *data;
    const char *err, *gone = NULL;
    mtls_snapshot_t *fresh, *old;
    apr_uint64_t aux_version = 0;
    int same;

    if (apr_stat(&fi, w->path, WATCH_FINFO, tmp) != APR_SUCCESS) {
        gone = w->path;
    }
    else if (w->aux_path && apr_stat(&afi, w->aux_path, APR_FINFO_MTIME
                                     | APR_FINFO_SIZE | APR_FINFO_INODE,
                                     tmp) != APR_SUCCESS) {
        gone = w->aux_path;
    }
    if (gone) {
        if (w->size != -1) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, srv,
                         "MTLS0201: %s: cannot be read any more; keeping "
                         "the contents read before", gone);
            w->size = -1;
        }
        return;
    }
    if (w->aux_path) {
        aux_version = stat_version(&afi);
    }
    if (fi.mtime == w->mtime && fi.ctime == w->ctime && fi.size == w->size
        && fi.inode == w->inode && fi.protection == w->mode
        && aux_version == w->aux_version) {
        return;
    }
    /* A pool of its own, not a child of the configuration pool: other
     * threads may be creating pools there. */
    if (apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        return;
    }
    apr_pool_tag(pool, "mtls_watched_file");
    ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, srv,
                 "MTLS1101: %s changed: parsing it (no lock held)", w->path);
    same = fi.mtime == w->mtime && fi.size == w->size
           && fi.inode == w->inode;
    err = load(pool, w->path, w->aux_path, w->kind, &fi, &aux_version,
               &data);
    seen(w, &fi);
    w->aux_version = aux_version;
    mtls_metrics_reload(w->path, version_of(w), err == NULL);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, srv,
                     "MTLS0202: reload failed, keeping the previous "
                     "contents: %s", err);
        if (same && w->kind == MTLS_FILE_HMAC_KEY
            && (fi.protection & APR_FPROT_WREAD)) {
            /* Only the mode changed: the key still signing is the one
             * everybody on the host may now have read. */
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, srv,
                         "MTLS8001: %s: the signing key in use became "
                         "world-readable; it stays in use until the file "
                         "is fixed, but anyone on this host may have read "
                         "it: write a new key (openssl rand -hex 32) with "
                         "mode 0640 or stricter", w->path);
        }
        apr_pool_destroy(pool);
        return;
    }
    fresh = apr_pcalloc(pool, sizeof(*fresh));
    fresh->pool = pool;
    fresh->data = data;
    fresh->refs = 1;
    apr_thread_mutex_lock(w->mutex);
    old = w->current;
    w->current = fresh;
    fresh->stamp = ((apr_uint64_t)w->index << 32) | ++w->generation;
    __atomic_store_n(&w->current_stamp, fresh->stamp, __ATOMIC_RELEASE);
    old = unref_locked(old);
    apr_thread_mutex_unlock(w->mutex);
    drop(old);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, srv,
                 "MTLS0203: %s reloaded", w->path);
}

/* MTLSUserMapFile, MTLSGroupFile and MTLSDenyList; cmd->info says which.
 * "none" switches off a file set in an enclosing scope. */
const char *mtls_cmd_file(cmd_parms *cmd, void *dcv, const char *path)
{
    mtls_dir_conf_t *dc = dcv;
    mtls_file_kind_e kind = (mtls_file_kind_e)(long)cmd->info;
    mtls_watched_t *w = NULL;
    const char *err;

    if (strcasecmp(path, "none")) {
        if ((err = mtls_watched_open(cmd, path, kind, &w))) {
            return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL);
        }
    }
    switch (kind) {
    case MTLS_FILE_MAP:
    case MTLS_FILE_GRIDMAP:
    case MTLS_FILE_FAKEBASICAUTH:
        dc->map_file = w;
        dc->files_set |= MTLS_SET_MAP;
        break;
    case MTLS_FILE_GROUP:
        dc->group_file = w;
        dc->files_set |= MTLS_SET_GROUP;
        break;
    case MTLS_FILE_DENY:
        dc->deny_list = w;
        dc->files_set |= MTLS_SET_DENY;
        break;
    case MTLS_FILE_HMAC_KEY:     /* MTLSHeaderSignature opens its own */
    case MTLS_FILE_CRL:         /* MTLSCRL has its own handler */
        break;
    }
    return NULL;
}

/* MTLSCRL CRL-FILE CA-FILE, or none: one watched object for the pair,
 * re-read when either file changes. */
const char *mtls_cmd_crl(cmd_parms *cmd, void *dcv, const char *crl,
                         const char *ca)
{
    mtls_dir_conf_t *dc = dcv;
    const char *err;

    if (!ca) {
        if (strcasecmp(crl, "none")) {
            return "MTLSCRL takes CRL-FILE CA-FILE (the PEM CRLs and the "
                   "CA certificates that sign them), or none";
        }
        dc->crl = NULL;
    }
    else if ((err = watched_open(cmd, crl, ca, MTLS_FILE_CRL, &dc->crl))) {
        return apr_pstrcat(cmd->pool, "MTLSCRL: ", err, NULL);
    }
    dc->files_set |= MTLS_SET_CRL;
    return NULL;
}

const char *mtls_cmd_map_file(cmd_parms *cmd, void *dcv, const char *path,
                              const char *format)
{
    mtls_file_kind_e kind = MTLS_FILE_MAP;

    if (format && !strcasecmp(format, "gridmap")) {
        kind = MTLS_FILE_GRIDMAP;
    }
    else if (format && !strcasecmp(format, "fakebasicauth")) {
        kind = MTLS_FILE_FAKEBASICAUTH;
    }
    else if (format && strcasecmp(format, "map")) {
        return apr_psprintf(cmd->pool, "MTLSUserMapFile %s %s: the format "
                            "is map (default), gridmap or fakebasicauth",
                            path, format);
    }
    if (format && !strcasecmp(path, "none")) {
        return "MTLSUserMapFile none takes no format";
    }
    cmd->info = (void *)(long)kind;
    return mtls_cmd_file(cmd, dcv, path);
}

/* The per-child watcher thread. */
typedef struct {
    apr_hash_t *registry;
    server_rec *s;
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *cond;
    int stop;                     /* guarded by mutex */
    apr_thread_t *thread;
} watcher_t;

static void check_all(watcher_t *wt, apr_pool_t *tmp)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(tmp, wt->registry); hi; hi = apr_hash_next(hi)) {
        check(wt->s, tmp, apr_hash_this_val(hi));
    }
    apr_pool_clear(tmp);
}

static void *APR_THREAD_FUNC watch(apr_thread_t *thread, void *data)
{
    watcher_t *wt = data;
    apr_interval_time_t interval = mtls_conf_reload_interval(wt->s);
    apr_pool_t *tmp;

    if (apr_pool_create(&tmp, NULL) != APR_SUCCESS) {
        return NULL;
    }
    apr_thread_mutex_lock(wt->mutex);
    while (!wt->stop) {
        apr_thread_cond_timedwait(wt->cond, wt->mutex, interval);
        if (wt->stop) {
            break;
        }
        apr_thread_mutex_unlock(wt->mutex);
        check_all(wt, tmp);
        apr_thread_mutex_lock(wt->mutex);
    }
    apr_thread_mutex_unlock(wt->mutex);
    apr_pool_destroy(tmp);
    return NULL;
}

static apr_status_t stop_watcher(void *data)
{
    watcher_t *wt = data;
    apr_status_t rv;

    apr_thread_mutex_lock(wt->mutex);
    wt->stop = 1;
    apr_thread_cond_signal(wt->cond);
    apr_thread_mutex_unlock(wt->mutex);
    apr_thread_join(&rv, wt->thread);
    return APR_SUCCESS;
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_hash_t *registry = NULL;
    watcher_t *wt;

    apr_pool_userdata_get((void **)&registry, REGISTRY_KEY,
                          apr_pool_parent_get(pchild));
    if (!registry || !apr_hash_count(registry)) {
        return;
    }
    wt = apr_pcalloc(pchild, sizeof(*wt));
    wt->registry = registry;
    wt->s = s;
    /* A process started long after the configuration was read begins
     * with what the files hold now, not what they held then: a CRL or
     * deny list changed since is in force from its first request. */
    {
        apr_pool_t *tmp;
        if (apr_pool_create(&tmp, pchild) == APR_SUCCESS) {
            check_all(wt, tmp);
            apr_pool_destroy(tmp);
        }
    }
    if (apr_thread_mutex_create(&wt->mutex, APR_THREAD_MUTEX_DEFAULT, pchild)
        || apr_thread_cond_create(&wt->cond, pchild)
        || apr_thread_create(&wt->thread, NULL, watch, wt, pchild)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "MTLS0204: cannot start "
                     "the file watcher: files will not be reloaded");
        return;
    }
    /* Before pchild's subpools (the thread's own) go away. */
    apr_pool_pre_cleanup_register(pchild, wt, stop_watcher);
}

/* The files of this generation become labels of the reload counters. */
static int post_config(apr_pool_t *pconf, apr_pool_t *plog,
                       apr_pool_t *ptemp, server_rec *s)
{
    apr_hash_t *registry = NULL;
    apr_hash_index_t *hi;

    apr_pool_userdata_get((void **)&registry, REGISTRY_KEY, pconf);
    for (hi = registry ? apr_hash_first(ptemp, registry) : NULL; hi;
         hi = apr_hash_next(hi)) {
        const mtls_watched_t *w = apr_hash_this_val(hi);
        mtls_metrics_file(w->path, version_of(w));
    }
    return OK;
}

void mtls_reload_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
}

mtls_snapshot_t *mtls_watched_acquire(mtls_watched_t *w)
{
    mtls_snapshot_t *s;

    apr_thread_mutex_lock(w->mutex);
    s = w->current;
    s->refs++;
    apr_thread_mutex_unlock(w->mutex);
    return s;
}

apr_uint64_t mtls_watched_stamp(const mtls_watched_t *w)
{
    return __atomic_load_n(&w->current_stamp, __ATOMIC_ACQUIRE);
}

void mtls_watched_release(mtls_watched_t *w, mtls_snapshot_t *s)
{
    apr_thread_mutex_lock(w->mutex);
    s = unref_locked(s);
    apr_thread_mutex_unlock(w->mutex);
    drop(s);
}

const void *mtls_snapshot_data(const mtls_snapshot_t *s)
{
    return s->data;
}

apr_uint64_t mtls_snapshot_stamp(const mtls_snapshot_t *s)
{
    return s->stamp;
}
