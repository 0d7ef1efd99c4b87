/* PEM CRLs verified against a CA file, indexed by issuer + serial. */
#include <string.h>
#include <time.h>

#include <apr_strings.h>
#include <apr_hash.h>
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "mtls_crl.h"
#include "mtls_dn.h"

/* What the set knows of one issuer: its revoked serials and the newest
 * nextUpdate of its CRLs. */
typedef struct {
    const char *issuer;        /* RFC 4514, for messages */
    apr_time_t next_update;    /* 0: no CRL of this issuer gives one */
    apr_hash_t *serials;       /* SERIAL (field form) -> "" */
} issuer_t;

struct mtls_crl_set_t {
    apr_hash_t *issuers;       /* canonical issuer DN -> issuer_t */
    int crls;
    int entries;
};

static const char *const BEGIN = "-----BEGIN X509 CRL-----";
static const char *const END = "-----END X509 CRL-----";

static const char *ssl_error(apr_pool_t *p)
{
    unsigned long e = ERR_get_error();
    char buf[256];

    if (!e) {
        return "malformed";
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return apr_pstrdup(p, buf);
}

static apr_time_t asn1_time(const ASN1_TIME *t)
{
    struct tm tm;

    if (!t || !ASN1_TIME_to_tm(t, &tm)) {
        return 0;
    }
    return apr_time_from_sec((apr_time_t)timegm(&tm));
}

/* The CA certificates of @p text; NULL or an error. */
static const char *read_cas(apr_pool_t *p, const char *name,
                            const char *text, STACK_OF(X509) *cas)
{
    BIO *b = BIO_new_mem_buf(text, -1);
    X509 *x;

    if (!b) {
        return "out of memory";
    }
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        sk_X509_push(cas, x);
    }
    BIO_free(b);
    /* Reading stops with "no start line" at the end of the text. */
    if (ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
    }
    else if (ERR_peek_last_error()) {
        return apr_psprintf(p, "%s: certificate %d cannot be read: %s", name,
                            sk_X509_num(cas) + 1, ssl_error(p));
    }
    if (!sk_X509_num(cas)) {
        return apr_psprintf(p, "%s: no PEM certificate in the file", name);
    }
    return NULL;
}

/* Check @p crl's signature against the CA named by its issuer. */
static const char *verify(apr_pool_t *p, X509_CRL *crl,
                          STACK_OF(X509) *cas, const char *issuer,
                          const char *ca_name)
{
    int i, named = 0;

    for (i = 0; i < sk_X509_num(cas); i++) {
        X509 *ca = sk_X509_value(cas, i);
        EVP_PKEY *key;
        if (X509_NAME_cmp(X509_get_subject_name(ca),
                          X509_CRL_get_issuer(crl))) {
            continue;
        }
        named = 1;
        if ((key = X509_get0_pubkey(ca)) && X509_CRL_verify(crl, key) == 1) {
            return NULL;
        }
        ERR_clear_error();
    }
    return named
        ? apr_psprintf(p, "its signature does not verify with the key of "
                       "\"%s\" in %s (not issued by that CA?)", issuer,
                       ca_name)
        : apr_psprintf(p, "its issuer \"%s\" is not a certificate in %s",
                       issuer, ca_name);
}

/* Index one CRL into @p s. */
static const char *add_crl(apr_pool_t *p, mtls_crl_set_t *s, X509_CRL *crl,
                           STACK_OF(X509) *cas, const char *ca_name)
{
    const X509_NAME *iname = X509_CRL_get_issuer(crl);
    STACK_OF(X509_REVOKED) *revs;
    const char *canon, *text, *err;
    apr_time_t next;
    issuer_t *is;
    int i;

    mtls_dn_from_x509(p, iname, &text, &canon, NULL);
    if ((err = verify(p, crl, cas, text, ca_name))) {
        return err;
    }
    if (X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0) {
        return apr_psprintf(p, "a delta CRL of \"%s\" (give complete CRLs)",
                            text);
    }
    next = asn1_time(X509_CRL_get0_nextUpdate(crl));
    if (X509_CRL_get0_nextUpdate(crl) && !next) {
        return "its nextUpdate cannot be read";
    }
    is = apr_hash_get(s->issuers, canon, APR_HASH_KEY_STRING);
    if (!is) {
        is = apr_pcalloc(p, sizeof(*is));
        is->issuer = text;
        is->next_update = next;
        is->serials = apr_hash_make(p);
        apr_hash_set(s->issuers, canon, APR_HASH_KEY_STRING, is);
    }
    /* Several CRLs of one issuer: revocations are the union, and the
     * newest says when the issuer's list goes stale; one without a
     * nextUpdate never does. */
    else if (is->next_update && (!next || next > is->next_update)) {
        is->next_update = next;
    }
    revs = X509_CRL_get_REVOKED(crl);
    for (i = 0; i < sk_X509_REVOKED_num(revs); i++) {
        const X509_REVOKED *rv = sk_X509_REVOKED_value(revs, i);
        const char *serial = mtls_cert_serial_hex(
            p, X509_REVOKED_get0_serialNumber(rv));
        if (!serial) {
            return apr_psprintf(p, "entry %d has an unreadable serial", i + 1);
        }
        apr_hash_set(is->serials, serial, APR_HASH_KEY_STRING, "");
        s->entries++;
    }
    s->crls++;
    return NULL;
}

static int line_of(const char *text, const char *at)
{
    int line = 1;

    for (; text < at; text++) {
        line += *text == '\n';
    }
    return line;
}

const char *mtls_crl_parse(apr_pool_t *p, const char *crl_name,
                           const char *crl_text, const char *ca_name,
                           const char *ca_text, mtls_crl_set_t **out)
{
    STACK_OF(X509) *cas = sk_X509_new_null();
    mtls_crl_set_t *s = apr_pcalloc(p, sizeof(*s));
    const char *at = crl_text, *err = NULL;

    *out = NULL;
    ERR_clear_error();
    if (!cas) {
        return "out of memory";
    }
    if ((err = read_cas(p, ca_name, ca_text, cas))) {
        goto leave;
    }
    s->issuers = apr_hash_make(p);
    /* Block by block, so an error names the line of its CRL and a block
     * that does not parse is never skipped. */
    while ((at = strstr(at, BEGIN))) {
        const char *end = strstr(at, END);
        X509_CRL *crl = NULL;
        BIO *b;
        if (!end) {
            err = apr_psprintf(p, "%s:%d: CRL without an END line", crl_name,
                               line_of(crl_text, at));
            goto leave;
        }
        end += strlen(END);
        if ((b = BIO_new_mem_buf(at, (int)(end - at)))) {
            crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
            BIO_free(b);
        }
        if (!crl) {
            err = apr_psprintf(p, "%s:%d: CRL cannot be parsed: %s", crl_name,
                               line_of(crl_text, at), ssl_error(p));
            goto leave;
        }
        err = add_crl(p, s, crl, cas, ca_name);
        X509_CRL_free(crl);
        if (err) {
            err = apr_psprintf(p, "%s:%d: CRL refused: %s", crl_name,
                               line_of(crl_text, at), err);
            goto leave;
        }
        at = end;
    }
    if (!s->crls) {
        err = apr_psprintf(p, "%s: no PEM CRL (%s) in the file", crl_name,
                           BEGIN);
        goto leave;
    }
    *out = s;
leave:
    sk_X509_pop_free(cas, X509_free);
    ERR_clear_error();
    return err;
}

mtls_crl_status_e mtls_crl_check(const mtls_crl_set_t *s,
                                 const mtls_cert_t *c, apr_time_t now,
                                 apr_time_t *next_update)
{
    const issuer_t *is = apr_hash_get(s->issuers, c->issuer_canon,
                                      APR_HASH_KEY_STRING);

    if (next_update) {
        *next_update = is ? is->next_update : 0;
    }
    if (!is) {
        return MTLS_CRL_UNCOVERED;
    }
    if (apr_hash_get(is->serials, c->serial, APR_HASH_KEY_STRING)) {
        return MTLS_CRL_REVOKED;
    }
    if (is->next_update && now >= is->next_update) {
        return MTLS_CRL_STALE;
    }
    return MTLS_CRL_GOOD;
}

int mtls_crl_count(const mtls_crl_set_t *s, int *entries)
{
    if (entries) {
        *entries = s->entries;
    }
    return s->crls;
}

const char *mtls_crl_status_name(mtls_crl_status_e st)
{
    switch (st) {
    case MTLS_CRL_GOOD:
        return "good";
    case MTLS_CRL_REVOKED:
        return "revoked";
    case MTLS_CRL_STALE:
        return "stale";
    case MTLS_CRL_UNCOVERED:
        break;
    }
    return "uncovered";
}
