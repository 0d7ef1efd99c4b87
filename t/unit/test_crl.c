/* MTLSCRL's parser and lookup (mtls_crl.c), with CRLs made here. */
#include <stdlib.h>
#include <apr_strings.h>
#include <openssl/pem.h>
#include <openssl/bn.h>

#include "unit.h"
#include "mtls_crl.h"
#include "mtls_resolve.h"
#include "mtls_filefmt.h"

static const char *const CA_DN[] = { "O=Lab", "CN=Unit CA", NULL };
static const char *const OTHER_DN[] = { "O=Lab", "CN=Other CA", NULL };

/* A CRL of the CA named @p dn signed with @p key, listing @p serials
 * (hex, NULL-terminated); nextUpdate @p next ("YYYYMMDDHHMMSSZ") or none
 * when NULL.  Returned as PEM. */
static const char *make_crl(apr_pool_t *p, EVP_PKEY *key,
                            const char *const *dn, const char *next,
                            const char *const *serials)
{
    X509 *ca = unit_cert_simple(key, "01", "20351231235959Z", dn);
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_new();
    const char *out;

    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
    ASN1_TIME_set_string_X509(t, "20240101000000Z");
    X509_CRL_set1_lastUpdate(crl, t);
    if (next) {
        ASN1_TIME_set_string_X509(t, next);
        X509_CRL_set1_nextUpdate(crl, t);
    }
    for (; serials && *serials; serials++) {
        X509_REVOKED *r = X509_REVOKED_new();
        BIGNUM *bn = NULL;
        ASN1_INTEGER *ai;
        BN_hex2bn(&bn, *serials);
        ai = BN_to_ASN1_INTEGER(bn, NULL);
        X509_REVOKED_set_serialNumber(r, ai);
        ASN1_TIME_set_string_X509(t, "20240101000000Z");
        X509_REVOKED_set_revocationDate(r, t);
        X509_CRL_add0_revoked(crl, r);
        ASN1_INTEGER_free(ai);
        BN_free(bn);
    }
    X509_CRL_sort(crl);
    X509_CRL_sign(crl, key, EVP_sha256());
    out = unit_crl_pem(p, crl);
    ASN1_TIME_free(t);
    X509_CRL_free(crl);
    X509_free(ca);
    return out;
}

/* Facts of a certificate issued (in name) by @p dn with @p serial. */
static mtls_cert_t *cert_of(apr_pool_t *p, const char *const *dn,
                            const char *serial)
{
    EVP_PKEY *k = unit_key();
    X509 *x = unit_cert_simple(k, serial, "20351231235959Z", dn);
    mtls_cert_t *c = NULL;
    const char *err;

    mtls_cert_from_x509(p, x, &c, &err);
    X509_free(x);
    EVP_PKEY_free(k);
    return c;
}

static apr_time_t at(const char *rfc)
{
    struct tm tm = { 0 };
    strptime(rfc, "%Y-%m-%d %H:%M:%S", &tm);
    return apr_time_from_sec((apr_time_t)timegm(&tm));
}

/* The CRL's place in resolution (SPEC §3, §8): after the deny list,
 * before the map file; stale per MTLSCRLStale; a current answer holds
 * until nextUpdate. */
static void test_crl_in_resolution(apr_pool_t *p, const mtls_crl_set_t *s,
                                   mtls_cert_t *listed, mtls_cert_t *fine)
{
    mtls_sources_t src;
    mtls_map_t *deny = NULL, *map = NULL;
    mtls_outcome_t *o;
    apr_time_t now = at("2026-06-01 00:00:00");

    CHECK_STR(mtls_map_parse(p, "m.map", apr_psprintf(p,
                  "sha256:%s listed-user\nsha256:%s fine-user\n",
                  listed->sha256, fine->sha256), 0, &map), NULL);
    CHECK_STR(mtls_map_parse(p, "d.txt", apr_psprintf(p, "sha256:%s\n",
                  listed->sha256), 1, &deny), NULL);
    memset(&src, 0, sizeof(src));
    src.crl.data = s;
    src.crl.stamp = 1;
    src.map_file.data = map;
    src.map_file.stamp = 2;

    o = mtls_resolve(p, listed, &src, now, NULL);
    CHECK_INT(o->reason, MTLS_R_REVOKED);
    CHECK(o->user == NULL);
    o = mtls_resolve(p, fine, &src, now, NULL);
    CHECK_STR(o->user, "fine-user");
    CHECK(o->expires == at("2030-01-01 00:00:00"));
    CHECK(o->warning == NULL);

    /* the deny list comes first */
    src.deny_list.data = deny;
    src.deny_list.stamp = 3;
    CHECK_INT(mtls_resolve(p, listed, &src, now, NULL)->reason,
              MTLS_R_DENYLISTED);
    src.deny_list.data = NULL;

    /* past nextUpdate: allow (with a warning) or deny */
    now = at("2031-01-01 00:00:00");
    o = mtls_resolve(p, fine, &src, now, NULL);
    CHECK_STR(o->user, "fine-user");
    CHECK_HAS(o->warning, "past its nextUpdate");
    CHECK_HAS(o->warning, "accepted (MTLSCRLStale allow)");
    src.crl_stale_deny = 1;
    o = mtls_resolve(p, fine, &src, now, NULL);
    CHECK_INT(o->reason, MTLS_R_REVOKED);
    CHECK(o->user == NULL);
    CHECK_HAS(o->warning, "refused (MTLSCRLStale deny)");
}

void test_crl(apr_pool_t *p)
{
    EVP_PKEY *key = unit_key(), *evil = unit_key(), *okey = unit_key();
    X509 *cax = unit_cert_simple(key, "01", "20351231235959Z", CA_DN);
    X509 *ox = unit_cert_simple(okey, "02", "20351231235959Z", OTHER_DN);
    const char *ca = unit_pem(p, cax), *both = apr_pstrcat(p, ca,
                                                           unit_pem(p, ox),
                                                           NULL);
    const char *const revoked[] = { "1234", "00AB", NULL };
    const char *crl = make_crl(p, key, CA_DN, "20300101000000Z", revoked);
    mtls_cert_t *listed = cert_of(p, CA_DN, "1234"),
                *listed0 = cert_of(p, CA_DN, "00ab"),
                *fine = cert_of(p, CA_DN, "5678"),
                *elsewhere = cert_of(p, OTHER_DN, "1234");
    apr_time_t now = at("2026-06-01 00:00:00"), next = -1;
    mtls_crl_set_t *s = NULL;
    const char *err, *text;
    int entries = 0;

    /* A good CRL: lookups by issuer and serial. */
    err = mtls_crl_parse(p, "c.pem", crl, "ca.pem", ca, &s);
    CHECK_STR(err, NULL);
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    CHECK_INT(mtls_crl_count(s, &entries), 1);
    CHECK_INT(entries, 2);
    CHECK_INT(mtls_crl_check(s, listed, now, &next), MTLS_CRL_REVOKED);
    CHECK(next == at("2030-01-01 00:00:00"));
    CHECK_INT(mtls_crl_check(s, listed0, now, NULL), MTLS_CRL_REVOKED);
    CHECK_INT(mtls_crl_check(s, fine, now, NULL), MTLS_CRL_GOOD);
    /* Same serial, another issuer: not this CRL's business. */
    CHECK_INT(mtls_crl_check(s, elsewhere, now, &next), MTLS_CRL_UNCOVERED);
    CHECK(next == 0);
    CHECK_STR(mtls_crl_status_name(MTLS_CRL_STALE), "stale");
    test_crl_in_resolution(p, s, listed, fine);

    /* Past nextUpdate: stale, but a listed certificate stays revoked. */
    CHECK_INT(mtls_crl_check(s, fine, at("2030-01-01 00:00:00"), NULL),
              MTLS_CRL_STALE);
    CHECK_INT(mtls_crl_check(s, listed, at("2031-01-01 00:00:00"), NULL),
              MTLS_CRL_REVOKED);
    CHECK_INT(mtls_crl_check(s, fine, at("2029-12-31 23:59:59"), NULL),
              MTLS_CRL_GOOD);

    /* No nextUpdate: never stale. */
    err = mtls_crl_parse(p, "c.pem", make_crl(p, key, CA_DN, NULL, NULL),
                         "ca.pem", ca, &s);
    CHECK_STR(err, NULL);
    CHECK_INT(mtls_crl_check(s, fine, at("2099-01-01 00:00:00"), NULL),
              MTLS_CRL_GOOD);

    /* Two CRLs of one issuer: the union, and the newest nextUpdate; a
     * CRL of another CA in the same file covers that CA. */
    {
        const char *const one[] = { "5678", NULL };
        text = apr_pstrcat(p, "# bundle\n",
                           make_crl(p, key, CA_DN, "20250101000000Z", one),
                           "some text openssl crl -text prints\n", crl,
                           make_crl(p, okey, OTHER_DN, "20300101000000Z",
                                    NULL), NULL);
        err = mtls_crl_parse(p, "c.pem", text, "ca.pem", both, &s);
        CHECK_STR(err, NULL);
        CHECK_INT(mtls_crl_count(s, &entries), 3);
        CHECK_INT(mtls_crl_check(s, fine, now, NULL), MTLS_CRL_REVOKED);
        CHECK_INT(mtls_crl_check(s, listed, now, NULL), MTLS_CRL_REVOKED);
        CHECK_INT(mtls_crl_check(s, cert_of(p, CA_DN, "99"), now, NULL),
                  MTLS_CRL_GOOD);
        CHECK_INT(mtls_crl_check(s, elsewhere, now, NULL), MTLS_CRL_GOOD);
    }

    /* Refused: signed by another key under the same name (a look-alike
     * CA), an issuer the CA file does not have, garbage, nothing. */
    s = (mtls_crl_set_t *)1;
    err = mtls_crl_parse(p, "c.pem",
                         apr_pstrcat(p, crl, "\n",
                                     make_crl(p, evil, CA_DN,
                                              "20300101000000Z", NULL),
                                     NULL), "ca.pem", ca, &s);
    CHECK_HAS(err, "c.pem:");
    CHECK_HAS(err, "signature does not verify with the key of \"CN=Unit "
                   "CA,O=Lab\" in ca.pem");
    CHECK(s == NULL);
    {
        /* the line of the second CRL's BEGIN */
        int lines = 1;
        const char *q;
        char want[32];
        for (q = crl; *q; q++) {
            lines += *q == '\n';
        }
        snprintf(want, sizeof(want), "c.pem:%d: CRL refused", lines + 1);
        CHECK_PREFIX(err, want);
    }
    err = mtls_crl_parse(p, "c.pem", make_crl(p, okey, OTHER_DN, NULL, NULL),
                         "ca.pem", ca, &s);
    CHECK_HAS(err, "its issuer \"CN=Other CA,O=Lab\" is not a certificate "
                   "in ca.pem");
    err = mtls_crl_parse(p, "c.pem", "x\n-----BEGIN X509 CRL-----\nAAAA\n"
                         "-----END X509 CRL-----\n", "ca.pem", ca, &s);
    CHECK_PREFIX(err, "c.pem:2: CRL cannot be parsed");
    err = mtls_crl_parse(p, "c.pem", "-----BEGIN X509 CRL-----\nAAAA\n",
                         "ca.pem", ca, &s);
    CHECK_PREFIX(err, "c.pem:1: CRL without an END line");
    err = mtls_crl_parse(p, "c.pem", "", "ca.pem", ca, &s);
    CHECK_PREFIX(err, "c.pem: no PEM CRL");
    err = mtls_crl_parse(p, "c.pem", crl, "ca.pem", "not a certificate", &s);
    CHECK_PREFIX(err, "ca.pem: no PEM certificate");
    err = mtls_crl_parse(p, "c.pem", crl, "ca.pem",
                         "-----BEGIN CERTIFICATE-----\nAAAA\n"
                         "-----END CERTIFICATE-----\n", &s);
    CHECK_PREFIX(err, "ca.pem: certificate 1 cannot be read");
    CHECK(s == NULL);

    X509_free(cax);
    X509_free(ox);
    EVP_PKEY_free(key);
    EVP_PKEY_free(evil);
    EVP_PKEY_free(okey);
}
