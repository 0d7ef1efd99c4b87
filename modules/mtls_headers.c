/* Identity headers: configuration, the anti-spoofing strip and the
 * values set for the backend. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "apr_atomic.h"
#include "apr_shm.h"
#include "http_core.h"
#include "http_request.h"
#include "http_protocol.h"
#include "http_ssl.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "mtls_headers.h"
#include "mtls_hdrfmt.h"
#include "mtls_hdrsign.h"
#include "mtls_headers_sign.h"
#include "mtls_config.h"
#include "mtls_identity.h"
#include "mtls_field.h"

typedef enum {
    H_FIELD,          /* the one vocabulary: a certificate field of SPEC §2
                         or an identity value (user, groups, ...) */
    H_CERT, H_CHAIN, H_XFCC, H_PEM   /* forms only headers speak */
} hdr_kind_e;

static const struct {
    const char *name;
    hdr_kind_e kind;
} hdr_fields[] = {
    { "cert", H_CERT },
    { "chain", H_CHAIN }, { "xfcc", H_XFCC }, { "pem", H_PEM },
    { NULL, 0 }
};

typedef struct {
    const char *name;            /* as configured: what is set */
    const char *lname;           /* lower case: what is signed */
    const char *canon;           /* for matching what clients send */
    hdr_kind_e kind;
    const mtls_field_t *field;   /* H_FIELD */
} hdr_spec_t;

struct mtls_hdr_dir_t {
    apr_array_header_t *own;     /* of hdr_spec_t *, MTLSRequestHeader */
    int standard;                /* -1 unset, 0 off, 1 standard */
    apr_array_header_t *globs;   /* of const char *, canonical */
    const hdr_spec_t *sig;       /* MTLSHeaderSignature's name, or NULL */
    const mtls_hdr_signer_t *signer;  /* and its key, with sig */
    const apr_array_header_t *std_specs;  /* the standard set, made once at
                                             configuration time */
    /* Derived whenever the above change: */
    apr_array_header_t *effective;  /* of hdr_spec_t *: what is set */
    apr_array_header_t *strip;      /* of const char *: canonical names */
    unsigned char first[256];       /* mtls_hdr_maybe() of strip + globs */
};

struct mtls_hdr_srv_t {
    apr_array_header_t *names;   /* of const char *, canonical, unique */
    apr_array_header_t *globs;
    unsigned char first[256];    /* mtls_hdr_maybe() of names + globs */
};

/* Headers the module must never set or strip: they carry the request
 * itself, not an identity. */
static const char *const protected_names[] = {
    "host", "content-length", "content-type", "transfer-encoding",
    "connection", "keep-alive", "te", "trailer", "upgrade", "expect",
    "cookie", "authorization", NULL
};

/* MTLSRequestHeaders standard (SPEC §9). */
static const char *const standard_headers[][2] = {
    { "X-TLS-Verified", "verify" },
    { "X-TLS-Client-CN", "subject:CN" },
    { "X-TLS-Client-DN", "subject" },
    { "X-TLS-Client-Issuer", "issuer" },
    { "X-TLS-Client-Serial", "serial" },
    { "X-TLS-Client-SHA256", "sha256" },
    { "X-Remote-User", "user" },
    { "X-Remote-Groups", "groups" },
    { NULL, NULL }
};

/* ------------------------------------------------------------------ config */

static const char *make_spec(apr_pool_t *p, const char *name,
                             const char *field, const hdr_spec_t **out)
{
    hdr_spec_t *h = apr_pcalloc(p, sizeof(*h));
    const char *err;
    int i;

    if (!(h->canon = mtls_hdr_name_canon(p, name, 0, &err))) {
        return err;
    }
    for (i = 0; protected_names[i]; i++) {
        if (!strcmp(h->canon, protected_names[i])) {
            return apr_psprintf(p, "'%s' carries the request itself and "
                                "cannot hold an identity", name);
        }
    }
    h->name = apr_pstrdup(p, name);
    h->lname = apr_pstrdup(p, name);
    ap_str_tolower((char *)h->lname);
    if (field) {
        for (i = 0; hdr_fields[i].name; i++) {
            if (!strcasecmp(field, hdr_fields[i].name)) {
                h->kind = hdr_fields[i].kind;
                *out = h;
                return NULL;
            }
        }
        h->kind = H_FIELD;
        if ((err = mtls_field_parse(p, field, &h->field))) {
            return apr_pstrcat(p, err, "; or one of cert, chain, xfcc, pem",
                               NULL);
        }
    }
    *out = h;
    return NULL;
}

/* Recompute what a scope sets and strips from its settings. */
static void derive(apr_pool_t *p, mtls_hdr_dir_t *hd)
{
    int i, j;

    hd->effective = apr_array_make(p, 10, sizeof(const hdr_spec_t *));
    hd->strip = apr_array_make(p, 10, sizeof(const char *));
    if (hd->standard == 1) {
        apr_array_cat(hd->effective, hd->std_specs);
    }
    for (i = 0; hd->own && i < hd->own->nelts; i++) {
        const hdr_spec_t *h = APR_ARRAY_IDX(hd->own, i, const hdr_spec_t *);
        /* A name set again (here or by standard) takes the later field. */
        for (j = 0; j < hd->effective->nelts; j++) {
            const hdr_spec_t **e = &APR_ARRAY_IDX(hd->effective, j,
                                                  const hdr_spec_t *);
            if (!strcmp((*e)->canon, h->canon)) {
                *e = h;
                break;
            }
        }
        if (j == hd->effective->nelts) {
            APR_ARRAY_PUSH(hd->effective, const hdr_spec_t *) = h;
        }
    }
    for (i = 0; i < hd->effective->nelts; i++) {
        const hdr_spec_t *h = APR_ARRAY_IDX(hd->effective, i,
                                            const hdr_spec_t *);
        APR_ARRAY_PUSH(hd->strip, const char *) = h->canon;
    }
    if (hd->sig) {
        APR_ARRAY_PUSH(hd->strip, const char *) = hd->sig->canon;
    }
    memset(hd->first, 0, sizeof(hd->first));
    for (i = 0; i < hd->strip->nelts; i++) {
        mtls_hdr_first_add(hd->first, APR_ARRAY_IDX(hd->strip, i,
                                                    const char *));
    }
    for (i = 0; i < hd->globs->nelts; i++) {
        mtls_hdr_first_add(hd->first, APR_ARRAY_IDX(hd->globs, i,
                                                    const char *));
    }
}

static void srv_first(mtls_hdr_srv_t *sh)
{
    int i;

    memset(sh->first, 0, sizeof(sh->first));
    for (i = 0; i < sh->names->nelts; i++) {
        mtls_hdr_first_add(sh->first, APR_ARRAY_IDX(sh->names, i,
                                                    const char *));
    }
    for (i = 0; i < sh->globs->nelts; i++) {
        mtls_hdr_first_add(sh->first, APR_ARRAY_IDX(sh->globs, i,
                                                    const char *));
    }
}

static mtls_hdr_dir_t *dir_headers(apr_pool_t *p, void *dcv)
{
    mtls_dir_conf_t *dc = dcv;

    if (!dc->headers) {
        dc->headers = apr_pcalloc(p, sizeof(*dc->headers));
        dc->headers->standard = -1;
        dc->headers->own = apr_array_make(p, 4, sizeof(const hdr_spec_t *));
        dc->headers->globs = apr_array_make(p, 2, sizeof(const char *));
    }
    return dc->headers;
}

static mtls_hdr_srv_t *srv_headers(apr_pool_t *p, server_rec *s)
{
    mtls_srv_conf_t *sc = ap_get_module_config(s->module_config,
                                               &mtls_authz_module);
    if (!sc->headers) {
        sc->headers = apr_pcalloc(p, sizeof(*sc->headers));
        sc->headers->names = apr_array_make(p, 8, sizeof(const char *));
        sc->headers->globs = apr_array_make(p, 2, sizeof(const char *));
    }
    return sc->headers;
}

static void add_unique(apr_array_header_t *a, const char *s)
{
    int i;

    for (i = 0; i < a->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(a, i, const char *), s)) {
            return;
        }
    }
    APR_ARRAY_PUSH(a, const char *) = s;
}

/* Every name a scope of this host strips is stripped host-wide as soon
 * as the request is read, before any module can look at it. */
static void register_strip(cmd_parms *cmd, const mtls_hdr_dir_t *hd)
{
    mtls_hdr_srv_t *sh = srv_headers(cmd->pool, cmd->server);
    int i;

    for (i = 0; i < hd->strip->nelts; i++) {
        add_unique(sh->names, APR_ARRAY_IDX(hd->strip, i, const char *));
    }
    for (i = 0; i < hd->globs->nelts; i++) {
        add_unique(sh->globs, APR_ARRAY_IDX(hd->globs, i, const char *));
    }
    srv_first(sh);
}

const char *mtls_cmd_request_header(cmd_parms *cmd, void *dcv,
                                    const char *name, const char *field)
{
    mtls_hdr_dir_t *hd = dir_headers(cmd->pool, dcv);
    const hdr_spec_t *h;
    const char *err;

    if ((err = make_spec(cmd->pool, name, field, &h))) {
        return apr_pstrcat(cmd->pool, "MTLSRequestHeader: ", err, NULL);
    }
    APR_ARRAY_PUSH(hd->own, const hdr_spec_t *) = h;
    derive(cmd->pool, hd);
    register_strip(cmd, hd);
    return NULL;
}

const char *mtls_cmd_request_headers(cmd_parms *cmd, void *dcv,
                                     const char *arg)
{
    mtls_hdr_dir_t *hd = dir_headers(cmd->pool, dcv);

    if (!strcasecmp(arg, "standard")) {
        apr_array_header_t *std = apr_array_make(cmd->pool, 8,
                                                 sizeof(const hdr_spec_t *));
        int i;
        for (i = 0; standard_headers[i][0]; i++) {
            const hdr_spec_t *h;
            make_spec(cmd->pool, standard_headers[i][0],
                      standard_headers[i][1], &h);
            APR_ARRAY_PUSH(std, const hdr_spec_t *) = h;
        }
        hd->std_specs = std;
        hd->standard = 1;
    }
    else if (!strcasecmp(arg, "off")) {
        hd->standard = 0;
    }
    else {
        return "MTLSRequestHeaders takes standard or off";
    }
    derive(cmd->pool, hd);
    register_strip(cmd, hd);
    return NULL;
}

const char *mtls_cmd_strip_header(cmd_parms *cmd, void *dcv,
                                  const char *glob)
{
    mtls_hdr_dir_t *hd = dir_headers(cmd->pool, dcv);
    const char *err, *canon = mtls_hdr_name_canon(cmd->pool, glob, 1, &err);
    int i;

    if (!canon) {
        return apr_pstrcat(cmd->pool, "MTLSStripHeader: ", err, NULL);
    }
    for (i = 0; protected_names[i]; i++) {
        if (mtls_hdr_name_glob(canon, protected_names[i])) {
            return apr_psprintf(cmd->pool, "MTLSStripHeader: '%s' would "
                                "remove %s, which carries the request "
                                "itself", glob, protected_names[i]);
        }
    }
    add_unique(hd->globs, canon);
    derive(cmd->pool, hd);
    register_strip(cmd, hd);
    return NULL;
}

const char *mtls_cmd_header_signature(cmd_parms *cmd, void *dcv,
                                      const char *name, const char *path)
{
    mtls_hdr_dir_t *hd = dir_headers(cmd->pool, dcv);
    const hdr_spec_t *h;
    const char *err;

    if ((err = make_spec(cmd->pool, name, NULL, &h))
        || (err = mtls_hdr_signer_open(cmd, name, path, &hd->signer))) {
        return apr_pstrcat(cmd->pool, "MTLSHeaderSignature: ", err, NULL);
    }
    hd->sig = h;
    derive(cmd->pool, hd);
    register_strip(cmd, hd);
    return NULL;
}

mtls_hdr_dir_t *mtls_headers_merge_dir(apr_pool_t *p, mtls_hdr_dir_t *base,
                                       mtls_hdr_dir_t *add)
{
    mtls_hdr_dir_t *hd;
    int i;

    if (!base || !add) {
        return add ? add : base;
    }
    hd = apr_pcalloc(p, sizeof(*hd));
    hd->own = apr_array_append(p, base->own, add->own);
    hd->standard = add->standard != -1 ? add->standard : base->standard;
    hd->std_specs = add->std_specs ? add->std_specs : base->std_specs;
    hd->globs = apr_array_copy(p, base->globs);
    for (i = 0; i < add->globs->nelts; i++) {
        add_unique(hd->globs, APR_ARRAY_IDX(add->globs, i, const char *));
    }
    hd->sig = add->sig ? add->sig : base->sig;
    hd->signer = add->sig ? add->signer : base->signer;
    derive(p, hd);
    return hd;
}

mtls_hdr_srv_t *mtls_headers_merge_srv(apr_pool_t *p, mtls_hdr_srv_t *base,
                                       mtls_hdr_srv_t *add)
{
    mtls_hdr_srv_t *sh;
    int i;

    if (!base || !add) {
        return add ? add : base;
    }
    sh = apr_pcalloc(p, sizeof(*sh));
    sh->names = apr_array_copy(p, base->names);
    sh->globs = apr_array_copy(p, base->globs);
    for (i = 0; i < add->names->nelts; i++) {
        add_unique(sh->names, APR_ARRAY_IDX(add->names, i, const char *));
    }
    for (i = 0; i < add->globs->nelts; i++) {
        add_unique(sh->globs, APR_ARRAY_IDX(add->globs, i, const char *));
    }
    srv_first(sh);
    return sh;
}

/* ------------------------------------------------------------------- strip */

/* Remove every header matching @p names or @p globs from headers_in;
 * returns the names as sent (NULL when none).  Most requests carry no
 * header that could match: one look at the first character each. */
static apr_array_header_t *strip(request_rec *r,
                                 const apr_array_header_t *names,
                                 const apr_array_header_t *globs,
                                 const unsigned char first[256])
{
    const apr_array_header_t *t = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)t->elts;
    apr_array_header_t *hits = NULL;
    int i, j;

    for (i = 0; i < t->nelts; i++) {
        const char *key = e[i].key;
        int hit = 0;
        if (!key || !mtls_hdr_maybe(first, key)) {
            continue;
        }
        for (j = 0; !hit && j < names->nelts; j++) {
            hit = mtls_hdr_name_is(APR_ARRAY_IDX(names, j, const char *),
                                   key);
        }
        for (j = 0; !hit && j < globs->nelts; j++) {
            hit = mtls_hdr_name_glob(APR_ARRAY_IDX(globs, j, const char *),
                                     key);
        }
        if (hit) {
            if (!hits) {
                hits = apr_array_make(r->pool, 4, sizeof(const char *));
            }
            APR_ARRAY_PUSH(hits, const char *) = apr_pstrdup(r->pool, key);
        }
    }
    /* after the walk: unset changes the table under it */
    for (i = 0; hits && i < hits->nelts; i++) {
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(hits, i, const char *));
    }
    return hits;
}

#define RATELIMIT_KEY "mtls_authz_spoof_warnings"

/* One warning per second for the whole server at most (the counters sit
 * in memory shared by every child process); the next one says how many
 * were held back. */
typedef struct {
    volatile apr_uint32_t second;
    volatile apr_uint32_t held;
} ratelimit_t;

/* Where this configuration generation's shared counters are. */
typedef struct {
    ratelimit_t *shared;
} ratelimit_ref_t;

static void warn_spoof(request_rec *r, const apr_array_header_t *hits)
{
    ratelimit_ref_t *ref = ap_retained_data_get(RATELIMIT_KEY);
    ratelimit_t *rl = ref ? ref->shared : NULL;
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(r->request_time), last;
    const char *names = "";
    int i;

    if (!rl) {
        return;
    }
    last = apr_atomic_read32(&rl->second);
    if (last == now || apr_atomic_cas32(&rl->second, now, last) != last) {
        apr_atomic_inc32(&rl->held);
        return;
    }
    for (i = 0; i < hits->nelts && i < 8; i++) {
        const char *n = APR_ARRAY_IDX(hits, i, const char *);
        if (strlen(n) > 64) {
            n = apr_pstrcat(r->pool, apr_pstrmemdup(r->pool, n, 64), "...",
                            NULL);
        }
        names = apr_pstrcat(r->pool, names, i ? ", " : "",
                            ap_escape_logitem(r->pool, n), NULL);
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "MTLS4001: removed %d client-sent identity header(s) "
                  "(%s%s) from %s: only this server sets them "
                  "(%u more such warnings held back)", hits->nelts, names,
                  hits->nelts > 8 ? ", ..." : "", r->useragent_ip,
                  apr_atomic_xchg32(&rl->held, 0));
}

/* As soon as the request is read: the host-wide names, so nothing (not
 * even server-level mod_rewrite or SetEnvIf) sees a forged value.  An
 * internal redirect runs this again on the headers of the request it
 * came from: what it removes then is ours (fixups set them again), not a
 * client's, so it is not worth a warning. */
static int strip_early(request_rec *r)
{
    const mtls_srv_conf_t *sc = ap_get_module_config(r->server->module_config,
                                                     &mtls_authz_module);
    apr_array_header_t *hits;

    if (!sc->headers) {
        return DECLINED;
    }
    if ((hits = strip(r, sc->headers->names, sc->headers->globs,
                      sc->headers->first))
        && !r->prev && !r->main) {
        warn_spoof(r, hits);
    }
    return DECLINED;
}

static int init_ratelimit(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    ratelimit_ref_t *ref = ap_retained_data_get(RATELIMIT_KEY);
    apr_shm_t *shm;

    if (!ref) {
        ref = ap_retained_data_create(RATELIMIT_KEY, sizeof(*ref));
    }
    /* Anonymous, so the children forked from here share it; it goes with
     * this generation's pool.  Without it, each process limits itself. */
    if (apr_shm_create(&shm, sizeof(ratelimit_t), NULL, pconf)
        == APR_SUCCESS) {
        ref->shared = apr_shm_baseaddr_get(shm);
        memset(ref->shared, 0, sizeof(ratelimit_t));
    }
    else {
        ref->shared = apr_pcalloc(pconf, sizeof(ratelimit_t));
    }
    return OK;
}

/* -------------------------------------------------------------------- set */

/* The chain the client sent (without its own certificate), as RFC 9440
 * Client-Cert-Chain: byte sequences joined with ", ". */
static const char *chain_value(request_rec *r, apr_pool_t *p)
{
    const char *out = NULL;
    int i;

    for (i = 0; i < 16; i++) {
        const char *pem = ap_ssl_var_lookup(r->pool, r->server, r->connection,
                                            r, apr_psprintf(r->pool,
                                            "SSL_CLIENT_CERT_CHAIN_%d", i));
        BIO *bio;
        X509 *x;
        unsigned char *der = NULL;
        int len;

        if (!pem || !*pem) {
            break;
        }
        bio = BIO_new_mem_buf(pem, -1);
        x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        len = x ? i2d_X509(x, &der) : -1;
        X509_free(x);
        if (len <= 0) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MTLS4002: cannot "
                          "read certificate %d of the client's chain; "
                          "chain header left out", i);
            return NULL;
        }
        out = apr_pstrcat(p, out ? out : "", out ? ", " : "",
                          mtls_hdr_byteseq(p, der, len), NULL);
        OPENSSL_free(der);
    }
    return out;
}

/* One header's value, header-safe, or NULL.  Fields go through the
 * core's one lookup (mtls_value_list); lists are joined for a header. */
static const char *spec_value(request_rec *r, apr_pool_t *p,
                              const hdr_spec_t *h, const mtls_identity_t *id,
                              const mtls_facts_t *facts)
{
    const mtls_cert_t *c = facts->cert;

    switch (h->kind) {
    case H_FIELD: {
        apr_array_header_t *v = mtls_value_list(p, h->field, facts);
        if (mtls_field_is_list(h->field)) {
            return mtls_hdr_list(p, v);
        }
        return v->nelts && *APR_ARRAY_IDX(v, 0, const char *)
               ? mtls_hdr_safe(p, APR_ARRAY_IDX(v, 0, const char *))
               : NULL;
    }
    case H_CERT:
        return mtls_hdr_byteseq(p, c->der, c->der_len);
    case H_CHAIN:
        /* The chain of this connection's handshake: a forwarded
         * certificate's is not known here (the hop's is the proxy's). */
        return id->peer->source ? NULL : chain_value(r, p);
    case H_XFCC:
        return mtls_hdr_xfcc(p, c);
    case H_PEM:
        return mtls_hdr_pem_escaped(p, c->der, c->der_len);
    }
    return NULL;
}

/* Values longer than a header may carry are left out, with a line that
 * says so instead of a request the backend refuses. */
static const char *capped(request_rec *r, const hdr_spec_t *h,
                          const mtls_identity_t *id, const char *v)
{
    if (!v || !*v) {
        return NULL;
    }
    if (strlen(v) > MTLS_HDR_MAX_VALUE) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "MTLS4003: %s: the value for certificate sha256:%s "
                      "is %" APR_SIZE_T_FMT " bytes, more than the %d "
                      "a header may carry here; header left out",
                      h->name, id->peer->cert->sha256, strlen(v),
                      MTLS_HDR_MAX_VALUE);
        return NULL;
    }
    return v;
}

/* Whether a spec's value moves with the clock (days-left): worked out
 * per request; everything else depends on the identity alone. */
static int late(const hdr_spec_t *h)
{
    return h->kind == H_FIELD && mtls_field_moves_with_time(h->field);
}

/* What values of @p id are looked up in.  Under MTLSRequireStrength
 * strong a weak identity is no identity (SPEC §3): no user, groups,
 * strength or source. */
static void facts_of(request_rec *r, const mtls_identity_t *id, int strong,
                     mtls_facts_t *facts)
{
    mtls_identity_facts(r, id, facts);
    if (facts->outcome && !facts->outcome->strong && strong) {
        facts->outcome = NULL;
    }
}

/* A scope's headers for one identity, worked out once and kept with the
 * identity (mtls_identity_keep_put): per request they are only copied
 * into the request, and only "t, method, path" is signed anew. */
typedef struct {
    int n;                       /* the scope's effective list */
    const char **values;         /* by index; NULL: none, or late */
    const char *hnames;          /* the signature's h= and lines, of the */
    const char *lines;           /* values set; NULL when some are late */
} hdr_set_t;

/* The memo key: the list of specs (which live as long as the
 * configuration: a scope merged per request has a new address each time
 * but the same specs) and the strength rule in force. */
typedef struct {
    char tag[4];
    int strong;
    int n;
} set_key_t;

static const void *copy_set(apr_pool_t *p, const void *v)
{
    const hdr_set_t *from = v;
    hdr_set_t *to = apr_palloc(p, sizeof(*to));
    int i;

    to->n = from->n;
    to->values = apr_pcalloc(p, sizeof(char *) * (from->n + 1));
    for (i = 0; i < from->n; i++) {
        to->values[i] = from->values[i] ? apr_pstrdup(p, from->values[i])
                                        : NULL;
    }
    to->hnames = from->hnames ? apr_pstrdup(p, from->hnames) : NULL;
    to->lines = from->lines ? apr_pstrdup(p, from->lines) : NULL;
    return to;
}

static hdr_set_t *make_set(request_rec *r, const mtls_hdr_dir_t *hd,
                           const mtls_identity_t *id, int strong)
{
    int n = hd->effective->nelts, i, k = 0, has_late = 0;
    hdr_set_t *hs = apr_palloc(r->pool, sizeof(*hs));
    const char **names = apr_palloc(r->pool, sizeof(char *) * (n + 1));
    const char **values = apr_palloc(r->pool, sizeof(char *) * (n + 1));
    mtls_facts_t facts;

    facts_of(r, id, strong, &facts);
    hs->n = n;
    hs->values = apr_pcalloc(r->pool, sizeof(char *) * (n + 1));
    for (i = 0; i < n; i++) {
        const hdr_spec_t *h = APR_ARRAY_IDX(hd->effective, i,
                                            const hdr_spec_t *);
        if (late(h)) {
            has_late = 1;
            continue;
        }
        hs->values[i] = capped(r, h, id, spec_value(r, r->pool, h, id,
                                                    &facts));
        if (hs->values[i]) {
            names[k] = h->lname;
            values[k++] = hs->values[i];
        }
    }
    hs->hnames = has_late ? NULL : mtls_hdr_sig_names(r->pool, names, k);
    hs->lines = has_late ? NULL : mtls_hdr_sig_lines(r->pool, names, values,
                                                     k);
    return hs;
}

/* The headers of @p hd for @p id: kept with the identity, or made now
 * (and kept when the identity is remembered). */
static const hdr_set_t *header_set(request_rec *r, const mtls_hdr_dir_t *hd,
                                   const mtls_identity_t *id, int strong)
{
    int n = hd->effective->nelts;
    apr_size_t klen = sizeof(set_key_t) + sizeof(const hdr_spec_t *) * n;
    char *key = apr_palloc(r->pool, klen);
    set_key_t head;
    const hdr_set_t *hs;
    hdr_set_t *fresh;

    memset(&head, 0, sizeof(head));
    memcpy(head.tag, "hdr", 4);
    head.strong = strong;
    head.n = n;
    memcpy(key, &head, sizeof(head));
    memcpy(key + sizeof(head), hd->effective->elts,
           sizeof(const hdr_spec_t *) * n);
    if ((hs = mtls_identity_keep_get(r, id, key, klen))) {
        return hs;
    }
    fresh = make_set(r, hd, id, strong);
    mtls_identity_keep_put(r, id, key, klen, copy_set, fresh);
    return fresh;
}

/* Set the headers of @p hd for the usable identity @p id, in order; the
 * names set go in @p set (for the signature's failure path). */
static void set_values(request_rec *r, const mtls_hdr_dir_t *hd,
                       const mtls_identity_t *id, apr_array_header_t *set)
{
    int strong = mtls_conf_require_strong(mtls_dir_conf(r));
    const hdr_set_t *hs = header_set(r, hd, id, strong);
    const char **names = NULL, **values = NULL;
    const char *hnames = hs->hnames, *lines = hs->lines;
    mtls_facts_t facts;
    int i, k = 0;

    if (!lines) {
        /* some values move with the clock: the signed text is made now */
        facts_of(r, id, strong, &facts);
        names = apr_palloc(r->pool, sizeof(char *) * (hs->n + 1));
        values = apr_palloc(r->pool, sizeof(char *) * (hs->n + 1));
    }
    for (i = 0; i < hs->n; i++) {
        const hdr_spec_t *h = APR_ARRAY_IDX(hd->effective, i,
                                            const hdr_spec_t *);
        const char *v = hs->values[i];
        if (!v && names && late(h)) {
            v = capped(r, h, id, spec_value(r, r->pool, h, id, &facts));
        }
        if (!v) {
            continue;
        }
        apr_table_addn(r->headers_in, h->name, v);
        if (set) {
            APR_ARRAY_PUSH(set, const char *) = h->name;
        }
        if (names) {
            names[k] = h->lname;
            values[k++] = v;
        }
    }
    if (hd->sig) {
        if (names) {
            hnames = mtls_hdr_sig_names(r->pool, names, k);
            lines = mtls_hdr_sig_lines(r->pool, names, values, k);
        }
        mtls_hdr_signer_sign(r, hd->signer, hnames, lines, set);
    }
}

/* Fixups, before mod_rewrite's (per-directory rules, [P]), mod_headers'
 * and the handler (mod_proxy, CGI): strip the scope's names again (a
 * subrequest carries a copy of the headers of the request it came from,
 * and runs no post_read_request) and set the values of this request's
 * identity. */
static int set_headers(request_rec *r)
{
    const mtls_dir_conf_t *dc = mtls_dir_conf(r);
    const mtls_hdr_dir_t *hd = dc->headers;
    const mtls_identity_t *id;

    if (!hd || (!hd->strip->nelts && !hd->globs->nelts)) {
        return DECLINED;
    }
    strip(r, hd->strip, hd->globs, hd->first);
    if (!hd->effective->nelts && !hd->sig) {
        return DECLINED;
    }
    id = mtls_identity_get(r);
    /* Values come only from a usable identity: a certificate mod_ssl
     * (or, forwarded, the module) verified, not deny-listed, that could
     * be read. */
    if (id->peer->state == MTLS_PEER_VERIFIED && id->peer->cert
        && !id->unusable) {
        set_values(r, hd, id, hd->sig ? apr_array_make(r->pool, 8,
                                                       sizeof(char *))
                                      : NULL);
    }
    else if (hd->sig) {
        mtls_hdr_signer_sign(r, hd->signer, "", "", NULL);
    }
    return DECLINED;
}

void mtls_headers_register_hooks(apr_pool_t *p)
{
    static const char *const before_us_not[] = { "mod_rewrite.c",
                                                 "mod_headers.c", NULL };

    ap_hook_post_config(init_ratelimit, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(strip_early, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(set_headers, NULL, before_us_not, APR_HOOK_FIRST);
}
