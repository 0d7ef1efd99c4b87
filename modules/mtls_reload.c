/* Watched files: parsed at start-up (errors stop the server), re-read at
 * most every MTLSReloadInterval when they change; a change that does not
 * parse keeps the old contents.  Readers never wait for a reload: they
 * hold a reference to the snapshot they started with. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "apr_file_io.h"
#include "apr_atomic.h"
#include "apr_thread_mutex.h"
#include "http_log.h"

#include "mtls_reload.h"
#include "mtls_config.h"
#include "mtls_filefmt.h"

/* Large enough for any real map file, small enough that a wrong path
 * (a log file, a device) fails clearly instead of eating memory. */
#define MTLS_MAX_FILE_SIZE (64 * 1024 * 1024)

struct mtls_snapshot_t {
    apr_pool_t *pool;          /* owns data; NULL for the start-up one */
    const void *data;
    apr_uint32_t refs;         /* guarded by the watched mutex */
};

struct mtls_watched_t {
    const char *path;
    mtls_file_kind_e kind;
    apr_thread_mutex_t *mutex;
    mtls_snapshot_t *current;          /* guarded by mutex */
    volatile apr_uint32_t generation;
    volatile apr_uint64_t next_check;  /* apr_time_t, read without lock */
    /* What the file looked like when last read, good or bad. */
    apr_time_t mtime;
    apr_off_t size;
    apr_ino_t inode;
};

static const char *parse(apr_pool_t *p, mtls_file_kind_e kind,
                         const char *path, const char *text,
                         const void **data)
{
    const char *err;

    if (kind == MTLS_FILE_GROUP) {
        mtls_groupfile_t *g;
        err = mtls_groupfile_parse(p, path, text, &g);
        *data = g;
    }
    else {
        mtls_map_t *m;
        err = mtls_map_parse(p, path, text, kind == MTLS_FILE_DENY, &m);
        *data = m;
    }
    return err;
}

/* Read and parse the file into @p p; remember its stat in @p fi. */
static const char *load(apr_pool_t *p, const char *path,
                        mtls_file_kind_e kind, apr_finfo_t *fi,
                        const void **data)
{
    apr_file_t *f;
    apr_status_t rv;
    apr_size_t got;
    char *buf, *nul, ebuf[128];

    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(fi, APR_FINFO_MTIME | APR_FINFO_SIZE
                               | APR_FINFO_INODE | APR_FINFO_TYPE, f);
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
    return parse(p, kind, path, buf, data);
}

const char *mtls_watched_open(cmd_parms *cmd, const char *path,
                              mtls_file_kind_e kind, mtls_watched_t **out)
{
    static const char key[] = "mtls_authz_watched_files";
    apr_hash_t *registry = NULL;
    const char *full = ap_server_root_relative(cmd->pool, path), *err, *hkey;
    mtls_watched_t *w;
    const void *data;
    apr_finfo_t fi;

    if (!full) {
        return apr_psprintf(cmd->pool, "invalid path '%s'", path);
    }
    /* One object per path and kind for this configuration generation:
     * the registry lives in (and dies with) the configuration pool. */
    apr_pool_userdata_get((void **)&registry, key, cmd->pool);
    if (!registry) {
        registry = apr_hash_make(cmd->pool);
        apr_pool_userdata_set(registry, key, apr_pool_cleanup_null, cmd->pool);
    }
    hkey = apr_psprintf(cmd->pool, "%d:%s", (int)kind, full);
    if ((w = apr_hash_get(registry, hkey, APR_HASH_KEY_STRING))) {
        *out = w;
        return NULL;
    }
    if ((err = load(cmd->pool, full, kind, &fi, &data))) {
        return err;
    }
    w = apr_pcalloc(cmd->pool, sizeof(*w));
    w->path = full;
    w->kind = kind;
    w->current = apr_pcalloc(cmd->pool, sizeof(*w->current));
    w->current->data = data;
    w->current->refs = 1;     /* the configuration's own reference */
    w->generation = 1;
    w->mtime = fi.mtime;
    w->size = fi.size;
    w->inode = fi.inode;
    if (apr_thread_mutex_create(&w->mutex, APR_THREAD_MUTEX_DEFAULT,
                                cmd->pool) != APR_SUCCESS) {
        return "cannot create a mutex";
    }
    apr_hash_set(registry, hkey, APR_HASH_KEY_STRING, w);
    *out = w;
    return NULL;
}

static void unref_locked(mtls_snapshot_t *s)
{
    if (--s->refs == 0 && s->pool) {
        apr_pool_destroy(s->pool);
    }
}

/* Called with the mutex held, when the interval has passed. */
static void check_locked(request_rec *r, mtls_watched_t *w)
{
    apr_finfo_t fi;
    apr_pool_t *pool;
    const void *data;
    const char *err;
    mtls_snapshot_t *old;

    if (apr_stat(&fi, w->path, APR_FINFO_MTIME | APR_FINFO_SIZE
                 | APR_FINFO_INODE, r->pool) != APR_SUCCESS) {
        if (w->size != -1) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, r->server,
                         "MTLS0201: %s: cannot be read any more; keeping "
                         "the contents read before", w->path);
            w->size = -1;
        }
        return;
    }
    if (fi.mtime == w->mtime && fi.size == w->size && fi.inode == w->inode) {
        return;
    }
    /* A pool of its own, not a child of the configuration pool: other
     * threads may be creating pools there. */
    if (apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        return;
    }
    apr_pool_tag(pool, "mtls_watched_file");
    err = load(pool, w->path, w->kind, &fi, &data);
    w->mtime = fi.mtime;
    w->size = fi.size;
    w->inode = fi.inode;
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, r->server,
                     "MTLS0202: reload failed, keeping the previous "
                     "contents: %s", err);
        apr_pool_destroy(pool);
        return;
    }
    old = w->current;
    w->current = apr_pcalloc(pool, sizeof(*w->current));
    w->current->pool = pool;
    w->current->data = data;
    w->current->refs = 1;
    apr_atomic_inc32(&w->generation);
    unref_locked(old);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, r->server,
                 "MTLS0203: %s reloaded", w->path);
}

apr_uint32_t mtls_watched_refresh(request_rec *r, mtls_watched_t *w)
{
    apr_time_t now = r->request_time;

    if ((apr_time_t)apr_atomic_read64(&w->next_check) <= now
        && apr_thread_mutex_lock(w->mutex) == APR_SUCCESS) {
        if ((apr_time_t)apr_atomic_read64(&w->next_check) <= now) {
            apr_atomic_set64(&w->next_check, (apr_uint64_t)(now +
                             mtls_conf_reload_interval(r->server)));
            check_locked(r, w);
        }
        apr_thread_mutex_unlock(w->mutex);
    }
    return apr_atomic_read32(&w->generation);
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

void mtls_watched_release(mtls_watched_t *w, mtls_snapshot_t *s)
{
    apr_thread_mutex_lock(w->mutex);
    unref_locked(s);
    apr_thread_mutex_unlock(w->mutex);
}

const void *mtls_snapshot_data(const mtls_snapshot_t *s)
{
    return s->data;
}

const char *mtls_watched_path(const mtls_watched_t *w)
{
    return w->path;
}
