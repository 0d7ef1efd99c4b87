/* MTLSHeaderSignature in a request: the key file (watched, re-read when
 * it changes) and the signature header set over a request's identity
 * headers, or, when it cannot be computed, those headers removed (fail
 * closed).  The signed text and the HMAC are mtls_hdrsign.h's. */
#ifndef MTLS_HEADERS_SIGN_H
#define MTLS_HEADERS_SIGN_H

#include "httpd.h"
#include "http_config.h"

/* A signature header's name and its key file. */
typedef struct mtls_hdr_signer_t mtls_hdr_signer_t;

/**
 * The signer for MTLSHeaderSignature @p name @p path: opens (reads and
 * checks) the key file now.  @p name has been checked by the caller.
 * Returns NULL or a message that stops start-up.
 */
const char *mtls_hdr_signer_open(cmd_parms *cmd, const char *name,
                                 const char *path,
                                 const mtls_hdr_signer_t **out);

/**
 * Sign @p r: set the signature header over "t, method, path" and
 * @p lines (the identity headers set, as mtls_hdr_sig_lines() made
 * them; @p hnames their names, mtls_hdr_sig_names()).  If the signature
 * cannot be computed, every header named in @p set (may be NULL) is
 * removed instead and nothing is signed.
 */
void mtls_hdr_signer_sign(request_rec *r, const mtls_hdr_signer_t *s,
                          const char *hnames, const char *lines,
                          const apr_array_header_t *set);

#endif /* MTLS_HEADERS_SIGN_H */
