/* Certificate -> identity, the httpd side: the sources in force, the
 * outcome remembered per connection (or with a forwarded certificate),
 * and what is derived from it.  Resolution itself is mtls_resolve(); this
 * file only gathers its inputs and keeps results.  The connection's
 * state and the request's peer are mtls_identity_conn.c's, which says
 * how threads share the state (its mutex, LOCK/UNLOCK here too). */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "http_request.h"

#include "mtls_identity.h"
#include "mtls_config.h"
#include "mtls_reload.h"
#include "mtls_resolve.h"
#include "mtls_directory.h"
#include "mtls_proxy.h"
#include "mtls_peer.h"
#include "mtls_identity_private.h"

/* Put the current contents of @p w (if set) into @p slot. */
static mtls_snapshot_t *acquire(mtls_watched_t *w, mtls_loaded_t *slot)
{
    mtls_snapshot_t *s;

    if (!w) {
        return NULL;
    }
    s = mtls_watched_acquire(w);
    slot->data = mtls_snapshot_data(s);
    slot->stamp = mtls_snapshot_stamp(s);
    return s;
}

static void release(mtls_watched_t *w, mtls_snapshot_t *s)
{
    if (s) {
        mtls_watched_release(w, s);
    }
}

/* The memo entry for @p key valid at @p now, the mutex held. */
static memo_t *memo_find_locked(mtls_conn_state_t *cs, const mtls_sources_t *key,
                                apr_time_t now)
{
    int i;

    for (i = 0; i < MTLS_MEMO_SLOTS; i++) {
        memo_t *m = &cs->memo[i];
        if (m->outcome && !memcmp(&m->key, key, sizeof(*key))
            && now < m->outcome->expires) {
            return m;
        }
    }
    return NULL;
}

/* Where to keep a new outcome for @p key: its old (expired) entry, a
 * free one, or an expired one; NULL when all hold current outcomes. */
static memo_t *memo_slot_locked(mtls_conn_state_t *cs, const mtls_sources_t *key,
                                apr_time_t now)
{
    memo_t *free_slot = NULL;
    int i;

    for (i = 0; i < MTLS_MEMO_SLOTS; i++) {
        memo_t *m = &cs->memo[i];
        if (m->outcome && !memcmp(&m->key, key, sizeof(*key))) {
            return m;
        }
        if (!free_slot && (!m->outcome || now >= m->outcome->expires)) {
            free_slot = m;
        }
    }
    return free_slot;
}

/* The loaded files a resolution reads, held until it is done. */
typedef struct {
    mtls_snapshot_t *deny, *crl, *map, *group;
} held_t;

/* What of @p dc's sources is not a file: rules, CRL policy, SID trust
 * and the directory's settings, into @p src (zeroed). */
static void sources_settings(const mtls_dir_conf_t *dc, mtls_sources_t *src)
{
    memset(src, 0, sizeof(*src));
    src->crl_stale_deny = mtls_conf_crl_stale_deny(dc);
    src->user_rules = dc->user_rules;
    src->group_rules = dc->group_rules;
    src->sid_issuers = dc->sid_issuers;
    if (mtls_directory_enabled(dc->directory)) {
        memcpy(src->directory, mtls_directory_digest(dc->directory),
               sizeof(src->directory));
    }
}

/* The sources in force for @p dc, as the resolver reads them: the
 * settings, and the files (held in @p held until sources_release), with
 * the directory's asker in @p dir.  One place, so a direct and a
 * forwarded certificate are always resolved from the same sources. */
static void sources_gather(request_rec *r, const mtls_dir_conf_t *dc,
                           mtls_sources_t *src, held_t *held,
                           mtls_asker_t *dir)
{
    sources_settings(dc, src);
    held->deny = acquire(dc->deny_list, &src->deny_list);
    held->crl = acquire(dc->crl, &src->crl);
    held->map = acquire(dc->map_file, &src->map_file);
    held->group = acquire(dc->group_file, &src->group_file);
    if (mtls_directory_enabled(dc->directory)) {
        mtls_directory_asker(r, dc->directory, dir);
    }
}

static void sources_release(const mtls_dir_conf_t *dc, held_t *held)
{
    release(dc->deny_list, held->deny);
    release(dc->crl, held->crl);
    release(dc->map_file, held->map);
    release(dc->group_file, held->group);
}

/* The memo's key for sources: each file by its stamp alone (which names
 * one version of one file), not by where its contents are. */
static void memo_key_of(const mtls_sources_t *src, mtls_sources_t *key)
{
    *key = *src;
    key->deny_list.data = key->crl.data = NULL;
    key->map_file.data = key->group_file.data = NULL;
}

static apr_uint64_t stamp_now(const mtls_watched_t *w)
{
    return w ? mtls_watched_stamp(w) : 0;
}

/* The memo's key for @p dc's sources as they are now, made without
 * holding the files: a remembered outcome is found without taking (and
 * giving back) a reference to each.  The same as memo_key_of() of what
 * sources_gather() would find, unless a file is reloaded meanwhile. */
static void sources_peek(const mtls_dir_conf_t *dc, mtls_sources_t *key)
{
    sources_settings(dc, key);
    key->deny_list.stamp = stamp_now(dc->deny_list);
    key->crl.stamp = stamp_now(dc->crl);
    key->map_file.stamp = stamp_now(dc->map_file);
    key->group_file.stamp = stamp_now(dc->group_file);
}

/* The outcome for a verified certificate under @p dc: from the memo, or
 * resolved now (and kept when it may be).  @p how says which, for the
 * log. */
static const mtls_outcome_t *outcome_for(request_rec *r, mtls_conn_state_t *cs,
                                         const mtls_dir_conf_t *dc,
                                         const mtls_cert_t *cert,
                                         const char **how)
{
    apr_time_t now = r->request_time;
    const mtls_outcome_t *o = NULL;
    mtls_outcome_t *fresh;
    apr_array_header_t *trace = NULL;
    mtls_sources_t src, key;
    mtls_asker_t dir;
    held_t held;
    memo_t *m;
    int i;

    sources_peek(dc, &key);

    /* The lock is held while resolving: streams of one connection that
     * arrive together wait for the first one's answer (one resolution,
     * one directory query later) instead of each making their own. */
    LOCK(r, cs);
    if ((m = memo_find_locked(cs, &key, now))) {
        o = m->outcome;
        UNLOCK(r, cs);
        *how = "remembered for the connection";
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "MTLS1005: identity "
                      "for %s from the connection's memo", r->uri);
        return o;
    }
    /* (what is resolved now is kept under the versions it was read
     * from, which a reload since the peek may have changed) */
    sources_gather(r, dc, &src, &held, &dir);
    memo_key_of(&src, &key);
    if (APLOGrtrace2(r)) {
        trace = apr_array_make(r->pool, 8, sizeof(const char *));
    }
    fresh = mtls_resolve_ask(r->pool, cert, &src,
                             mtls_directory_enabled(dc->directory) ? &dir
                                                                   : NULL,
                             now, trace);
    *how = "resolved";
    if (mtls_outcome_keepable(fresh, now) && cs->mutex
        && cs->kept < MTLS_MEMO_MAX_KEPT
        && (m = memo_slot_locked(cs, &key, now))) {
        memo_clear(m);
        m->key = key;
        m->outcome = o = mtls_outcome_copy(cs->pool, fresh);
        cs->kept++;
    }
    UNLOCK(r, cs);
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "MTLS1002: identity "
                  "resolved for %s%s", r->uri,
                  o ? "" : " (not remembered)");
    for (i = 0; trace && i < trace->nelts; i++) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE2, 0, r, "MTLS1003: step %d: "
                      "%s", i + 1, APR_ARRAY_IDX(trace, i, const char *));
    }
    if (fresh->warning) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "%s", fresh->warning);
    }
    if (!o) {
        /* Not kept: it may point into the snapshots released below. */
        o = mtls_outcome_copy(r->pool, fresh);
    }
    sources_release(dc, &held);
    return o;
}

/* For mtls_proxy_memo_put: an outcome kept with a cached certificate. */
static const void *copy_outcome(apr_pool_t *p, const void *o)
{
    return mtls_outcome_copy(p, o);
}

/* The outcome for a certificate a trusted proxy forwarded: never
 * remembered with the connection, whose next request may be another
 * client's, but with the forwarded certificate (in the proxy unit's
 * cache), keyed by the sources in force, for every request that carries
 * it. */
static const mtls_outcome_t *forwarded_outcome(request_rec *r,
                                               const mtls_dir_conf_t *dc,
                                               const mtls_cert_t *cert,
                                               struct mtls_req_identity *ri,
                                               const char **how)
{
    apr_time_t now = r->request_time;
    const mtls_outcome_t *o;
    mtls_outcome_t *fresh;
    mtls_sources_t src, key;
    mtls_asker_t dir;
    held_t held;

    sources_peek(dc, &key);
    if ((o = mtls_proxy_memo_get(r, &key, sizeof(key)))) {
        *how = "remembered with the forwarded certificate";
        ri->kept = 1;
        return o;
    }
    sources_gather(r, dc, &src, &held, &dir);
    memo_key_of(&src, &key);
    fresh = mtls_resolve_ask(r->pool, cert, &src,
                             mtls_directory_enabled(dc->directory) ? &dir
                                                                   : NULL,
                             now, NULL);
    *how = "resolved (forwarded certificate)";
    /* (an expired outcome under the same sources is replaced; one that
     * could not answer is never kept: the next request asks again) */
    o = mtls_outcome_keepable(fresh, now)
        ? mtls_proxy_memo_put(r, &key, sizeof(key), copy_outcome, fresh,
                              fresh->expires)
        : NULL;
    if (o) {
        ri->kept = 1;     /* what later requests get: keep with it */
    }
    else {
        /* Copied: the result may point into the snapshots released
         * below. */
        o = mtls_outcome_copy(r->pool, fresh);
    }
    sources_release(dc, &held);
    return o;
}

static void log_identity(request_rec *r, const mtls_identity_t *id,
                         const char *how)
{
    const mtls_outcome_t *o = id->outcome;

    if (o->user && !id->unusable) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MTLS1010: identity "
                      "for %s: user %s from %s (%s), groups %s; %s", r->uri,
                      o->user, o->source, o->strong ? "strong" : "weak",
                      o->groups_text ? o->groups_text : "-", how);
    }
    else {
        const char *why = id->unusable ? mtls_reason_name(id->unusable)
                                       : mtls_reason_name(o->reason);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MTLS1011: no identity "
                      "for %s: %s%s%s; %s", r->uri, why,
                      id->peer->verify_detail ? ": " : "",
                      id->peer->verify_detail ? id->peer->verify_detail : "",
                      how);
    }
}

const mtls_identity_t *mtls_identity_get(request_rec *r)
{
    struct mtls_req_identity *ri = req_identity(r, 1);
    const mtls_dir_conf_t *dc = mtls_dir_conf(r);
    const mtls_peer_t *peer;
    mtls_identity_t *id;
    const char *how;
    int kept;

    if (ri->id && ri->dir_conf == dc) {
        return ri->id;
    }
    if (r->main && !ri->id && mtls_identity_of_main(r)) {
        *ri = *req_identity(r->main, 0);
        return ri->id;
    }
    peer = mtls_identity_peer(r, ri, &kept);
    id = apr_pcalloc(r->pool, sizeof(*id));
    id->peer = peer;
    ri->kept = 0;
    if (peer->state != MTLS_PEER_VERIFIED) {
        id->unusable = peer->state == MTLS_PEER_NONE ? MTLS_R_NO_CERTIFICATE
                                                     : MTLS_R_NOT_VERIFIED;
        id->outcome = mtls_outcome_make(r->pool, MTLS_OUTCOME_NONE,
                                        id->unusable);
        how = "no verified certificate";
    }
    else {
        id->outcome = peer->source
            ? forwarded_outcome(r, dc, peer->cert, ri, &how)
            : outcome_for(r, mtls_conn_state_of(r), dc, peer->cert, &how);
        switch (id->outcome->reason) {
        case MTLS_R_DENYLISTED:
        case MTLS_R_REVOKED:
            /* (directory-unavailable is not: the certificate is fine, and
             * what needs no user, mtls-verified or mtls-san, still works) */
            id->unusable = id->outcome->reason;
            break;
        default:
            break;
        }
    }
    if (APLOGrdebug(r)) {
        log_identity(r, id, how);
    }
    if (kept) {
        ri->id = id;
        ri->dir_conf = dc;
    }
    /* (else the peer holds only for now: a forwarded certificate not
     * read yet; the next ask, after the header parser, has it) */
    return id;
}

/* A subrequest in its main request's configuration (mod_dir's index,
 * SSI, a lookahead) has the main request's identity: the same
 * connection, headers and sources give the same answer. */
const mtls_identity_t *mtls_identity_of_main(const request_rec *r)
{
    const struct mtls_req_identity *mi;

    if (!r->main || !(mi = req_identity(r->main, 0)) || !mi->id) {
        return NULL;
    }
    return mi->dir_conf == mtls_dir_conf(r) ? mi->id : NULL;
}

const mtls_identity_t *mtls_identity_peek(const request_rec *r)
{
    const struct mtls_req_identity *ri = req_identity(r, 0);

    return ri ? ri->id : NULL;
}

void mtls_identity_facts(const request_rec *r, const mtls_identity_t *id,
                         mtls_facts_t *facts)
{
    facts->cert = id->peer->cert;
    facts->outcome = id->unusable ? NULL : id->outcome;
    facts->now = r->request_time;
}

/* ---- values derived from a remembered identity --------------------- */

/* The memo entry holding @p o, the mutex held. */
static memo_t *memo_of_locked(mtls_conn_state_t *cs, const mtls_outcome_t *o)
{
    int i;

    for (i = 0; i < MTLS_MEMO_SLOTS; i++) {
        if (cs->memo[i].outcome == o) {
            return &cs->memo[i];
        }
    }
    return NULL;
}

/* A kept forwarded identity's key in the proxy unit's memo for what is
 * derived from it: its outcome (where the memo keeps it: the copy stays
 * at that address, never reused, as long as the cached certificate, so
 * the address names it), then the caller's key; in @p buf (of
 * FWD_KEY_ROOM bytes) when it fits, else in @p r's pool.  Eight bytes to
 * compare instead of the sources it was resolved with. */
#define FWD_KEY_ROOM 64

static const void *fwd_key(request_rec *r, const mtls_identity_t *id,
                           const void *key, apr_size_t klen, char *buf,
                           apr_size_t *len)
{
    char *k;

    *len = sizeof(id->outcome) + klen;
    k = *len <= FWD_KEY_ROOM ? buf : apr_palloc(r->pool, *len);
    memcpy(k, &id->outcome, sizeof(id->outcome));
    memcpy(k + sizeof(id->outcome), key, klen);
    return k;
}

const void *mtls_identity_keep_get(request_rec *r, const mtls_identity_t *id,
                                   const void *key, apr_size_t klen)
{
    struct mtls_req_identity *ri = req_identity(r, 0);
    const void *v = NULL;
    mtls_conn_state_t *cs;
    memo_t *m;
    int i;

    if (!ri || ri->id != id || id->unusable) {
        return NULL;
    }
    if (id->peer->source) {
        char buf[FWD_KEY_ROOM];
        apr_size_t len;
        const void *k;
        if (!ri->kept) {
            return NULL;
        }
        k = fwd_key(r, id, key, klen, buf, &len);
        return mtls_proxy_memo_get(r, k, len);
    }
    cs = mtls_conn_state_of(r);
    if (!cs->mutex) {
        return NULL;
    }
    LOCK(r, cs);
    if ((m = memo_of_locked(cs, id->outcome))) {
        for (i = 0; i < MTLS_MEMO_DERIVED && m->derived[i].key; i++) {
            if (m->derived[i].klen == klen
                && !memcmp(m->derived[i].key, key, klen)) {
                v = m->derived[i].value;
                break;
            }
        }
    }
    UNLOCK(r, cs);
    return v;
}

void mtls_identity_keep_put(request_rec *r, const mtls_identity_t *id,
                            const void *key, apr_size_t klen,
                            const void *(*copy)(apr_pool_t *p,
                                                const void *value),
                            const void *value)
{
    struct mtls_req_identity *ri = req_identity(r, 0);
    mtls_conn_state_t *cs;
    memo_t *m;
    int i;

    if (!ri || ri->id != id || id->unusable) {
        return;
    }
    if (id->peer->source) {
        char buf[FWD_KEY_ROOM];
        apr_size_t len;
        const void *k;
        if (ri->kept) {
            k = fwd_key(r, id, key, klen, buf, &len);
            /* (derived from the outcome: expires with it; the memo
             * copies the key) */
            mtls_proxy_memo_put(r, k, len, copy, value,
                                id->outcome->expires);
        }
        return;
    }
    cs = mtls_conn_state_of(r);
    if (!cs->mutex) {
        return;
    }
    LOCK(r, cs);
    /* The bound of copies into the connection's pool is shared with the
     * outcomes: a long connection never grows with its requests. */
    if ((m = memo_of_locked(cs, id->outcome)) && cs->kept < MTLS_MEMO_MAX_KEPT) {
        for (i = 0; i < MTLS_MEMO_DERIVED; i++) {
            derived_t *d = &m->derived[i];
            if (!d->key) {
                d->value = copy(cs->pool, value);
                d->klen = klen;
                d->key = apr_pmemdup(cs->pool, key, klen);
                cs->kept++;
                break;
            }
            if (d->klen == klen && !memcmp(d->key, key, klen)) {
                break;       /* another stream was first */
            }
        }
    }
    UNLOCK(r, cs);
}

void mtls_identity_register_hooks(apr_pool_t *p)
{
    mtls_identity_conn_register_hooks(p);
}
