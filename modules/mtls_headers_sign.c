/* The header signature in a request: its key file and the signing. */
#include "mtls_private.h"

#include "apr_strings.h"

#include "mtls_headers_sign.h"
#include "mtls_hdrsign.h"
#include "mtls_reload.h"

struct mtls_hdr_signer_t {
    const char *name;            /* the signature header, as configured */
    mtls_watched_t *key;         /* MTLS_FILE_HMAC_KEY: an mtls_hdr_key_t */
};

const char *mtls_hdr_signer_open(cmd_parms *cmd, const char *name,
                                 const char *path,
                                 const mtls_hdr_signer_t **out)
{
    mtls_hdr_signer_t *s = apr_pcalloc(cmd->pool, sizeof(*s));
    const char *err;

    if ((err = mtls_watched_open(cmd, path, MTLS_FILE_HMAC_KEY, &s->key))) {
        return err;
    }
    s->name = apr_pstrdup(cmd->pool, name);
    *out = s;
    return NULL;
}

void mtls_hdr_signer_sign(request_rec *r, const mtls_hdr_signer_t *s,
                          const char *hnames, const char *lines,
                          const apr_array_header_t *set)
{
    mtls_snapshot_t *snap = mtls_watched_acquire(s->key);
    const char *sig = mtls_hdr_sign_lines(r->pool, mtls_snapshot_data(snap),
                                          apr_time_sec(r->request_time),
                                          r->method, r->unparsed_uri,
                                          hnames, lines);
    mtls_watched_release(s->key, snap);
    if (!sig) {
        /* Fail closed: the backend sees no signature and no identity. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MTLS4004: cannot "
                      "compute the header signature; identity headers "
                      "removed");
        if (set) {
            int i;
            for (i = 0; i < set->nelts; i++) {
                apr_table_unset(r->headers_in,
                                APR_ARRAY_IDX(set, i, const char *));
            }
        }
        return;
    }
    apr_table_setn(r->headers_in, s->name, sig);
}
