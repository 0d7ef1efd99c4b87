/* The header signature (MTLSHeaderSignature, SPEC §9): the key file's
 * key, the HMAC-SHA256 states prepared from it once, the text that is
 * signed and the signature header's value.  Pure: knows nothing of
 * httpd. */
#ifndef MTLS_HDRSIGN_H
#define MTLS_HDRSIGN_H

#include <apr_pools.h>

/* A signing key (MTLSHeaderSignature): the first line of the key file,
 * white space around it trimmed. */
typedef struct {
    const unsigned char *key;
    apr_size_t len;
    /* SHA-256 with the padded key already absorbed (RFC 2104 inner and
     * outer), so a request hashes only its own text; NULL: use HMAC(). */
    void *inner, *outer;         /* EVP_MD_CTX *, freed with the pool */
} mtls_hdr_key_t;

/* Shorter keys are refused: 16 bytes is the least HMAC-SHA256 wants
 * (RFC 2104 asks for the hash output length; `openssl rand -hex 32`
 * gives 64). */
#define MTLS_HDR_KEY_MIN 16

/**
 * Parse a key file's contents.  Returns NULL or "fname:line: what is
 * wrong" (empty, too short, more than one line).
 */
const char *mtls_hdr_key_parse(apr_pool_t *p, const char *fname,
                               const char *text, mtls_hdr_key_t **out);

/**
 * The text the signature covers: "T\nMETHOD\nPATH\n" then
 * "name:value\n" for each of the @p n headers (names as given, which
 * callers pass in lower case).
 */
const char *mtls_hdr_sig_input(apr_pool_t *p, apr_int64_t t,
                               const char *method, const char *path,
                               const char *const *names,
                               const char *const *values, int n);

/** "name:value\n" for each of the @p n headers: the part of the signed
 *  text that stays the same for an identity. */
const char *mtls_hdr_sig_lines(apr_pool_t *p, const char *const *names,
                               const char *const *values, int n);

/** The @p n names joined with ",": the signature's h= list. */
const char *mtls_hdr_sig_names(apr_pool_t *p, const char *const *names,
                               int n);

/**
 * As mtls_hdr_sign(), from what mtls_hdr_sig_names() and
 * mtls_hdr_sig_lines() made of the headers (worked out once per
 * identity): only "T\nMETHOD\nPATH\n" is new per request.
 */
const char *mtls_hdr_sign_lines(apr_pool_t *p, const mtls_hdr_key_t *key,
                                apr_int64_t t, const char *method,
                                const char *path, const char *hnames,
                                const char *lines);

/**
 * The signature header's value: "t=T;h=NAME1,NAME2;sig=B64URL" where sig
 * is the unpadded base64url HMAC-SHA256 with @p key over
 * mtls_hdr_sig_input().  NULL if OpenSSL fails.
 */
const char *mtls_hdr_sign(apr_pool_t *p, const mtls_hdr_key_t *key,
                          apr_int64_t t, const char *method,
                          const char *path, const char *const *names,
                          const char *const *values, int n);

#endif /* MTLS_HDRSIGN_H */
