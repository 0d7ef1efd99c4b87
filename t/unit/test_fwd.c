/* Forwarded-certificate headers: every format, what is refused, the
 * module's own verification, and the LRU. */
#include <stdlib.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/bn.h>

#include "unit.h"
#include "mtls_fwd.h"

typedef struct {
    unsigned char *der;
    int len;
} blob_t;

static blob_t der_of(apr_pool_t *p, X509 *x)
{
    blob_t b;
    unsigned char *d = NULL;

    b.len = i2d_X509(x, &d);
    b.der = apr_pmemdup(p, d, b.len);
    OPENSSL_free(d);
    return b;
}

static const char *b64(apr_pool_t *p, const unsigned char *d, int len)
{
    char *out = apr_palloc(p, (len + 2) / 3 * 4 + 1);
    EVP_EncodeBlock((unsigned char *)out, d, len);
    return out;
}

/* Percent-encode everything but letters and digits, as nginx does. */
static const char *urlenc(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, strlen(s) * 3 + 1), *o = out;
    for (; *s; s++) {
        if (apr_isalnum(*s) || *s == '-') {
            *o++ = *s;
        }
        else {
            o += sprintf(o, "%%%02X", (unsigned char)*s);
        }
    }
    *o = '\0';
    return out;
}

static void set_name(X509_NAME *n, const char *cn)
{
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
                               (const unsigned char *)"Lab", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                               (const unsigned char *)cn, -1, -1, 0);
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

/* A certificate for @p cn with @p key, signed by @p ca / @p cakey (self
 * when NULL); @p eku NULL for a CA. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, long serial,
                       X509 *ca, EVP_PKEY *cakey, const char *eku,
                       const char *not_before, const char *not_after)
{
    X509 *x = X509_new();

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    ASN1_TIME_set_string_X509(X509_getm_notBefore(x), not_before);
    ASN1_TIME_set_string_X509(X509_getm_notAfter(x), not_after);
    set_name(X509_get_subject_name(x), cn);
    X509_set_issuer_name(x, X509_get_subject_name(ca ? ca : x));
    X509_set_pubkey(x, key);
    if (eku) {
        add_ext(x, ca, NID_basic_constraints, "CA:FALSE");
        add_ext(x, ca, NID_key_usage, "critical,digitalSignature");
        add_ext(x, ca, NID_ext_key_usage, eku);
    }
    else {
        add_ext(x, ca ? ca : x, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, ca ? ca : x, NID_key_usage, "critical,keyCertSign,cRLSign");
    }
    X509_sign(x, cakey ? cakey : key, EVP_sha256());
    return x;
}

/* A CRL of @p ca revoking @p serial (0: none). */
static X509_CRL *make_crl(X509 *ca, EVP_PKEY *cakey, long serial)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_new();

    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
    ASN1_TIME_set_string_X509(t, "20200101000000Z");
    X509_CRL_set1_lastUpdate(crl, t);
    ASN1_TIME_set_string_X509(t, "20991231000000Z");
    X509_CRL_set1_nextUpdate(crl, t);
    if (serial) {
        X509_REVOKED *rev = X509_REVOKED_new();
        ASN1_INTEGER *ai = ASN1_INTEGER_new();
        ASN1_INTEGER_set(ai, serial);
        X509_REVOKED_set_serialNumber(rev, ai);
        ASN1_TIME_set_string_X509(t, "20210101000000Z");
        X509_REVOKED_set_revocationDate(rev, t);
        X509_CRL_add0_revoked(crl, rev);
        ASN1_INTEGER_free(ai);
    }
    ASN1_TIME_free(t);
    X509_CRL_sort(crl);
    X509_CRL_sign(crl, cakey, EVP_sha256());
    return crl;
}

static const char *write_temp(apr_pool_t *p, const char *text)
{
    char *path = apr_pstrdup(p, "/tmp/mtls-unit-fwd-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        abort();
    }
    close(fd);
    return path;
}

/* Decode and return the number of certificates, or -1 with @p err. */
static int decode(apr_pool_t *p, mtls_fwd_format_e f, const char *v,
                  const char *chain, apr_array_header_t **certs,
                  const char **err)
{
    apr_status_t st = mtls_fwd_decode(p, f, v, chain, certs, err);
    if (st != APR_SUCCESS) {
        CHECK(*err && **err);
        CHECK_INT((*certs)->nelts, 0);
        return -1;
    }
    return (*certs)->nelts;
}

static int same(const apr_array_header_t *certs, int i, blob_t b)
{
    const mtls_der_t *d;
    if (i >= certs->nelts) {
        return 0;
    }
    d = &APR_ARRAY_IDX(certs, i, mtls_der_t);
    return d->len == (apr_size_t)b.len && !memcmp(d->der, b.der, b.len);
}

static void test_formats(apr_pool_t *p, blob_t leaf, blob_t inter,
                         const char *leaf_pem, const char *inter_pem)
{
    apr_array_header_t *c;
    const char *err, *v, *big;
    char *huge;
    int i;

    CHECK_INT(mtls_fwd_format_parse("RFC9440"), MTLS_FWD_RFC9440);
    CHECK_INT(mtls_fwd_format_parse("xfcc"), MTLS_FWD_XFCC);
    CHECK_INT(mtls_fwd_format_parse("pem-urlencoded"),
              MTLS_FWD_PEM_URLENCODED);
    CHECK_INT(mtls_fwd_format_parse("der-base64"), MTLS_FWD_DER_BASE64);
    CHECK_INT(mtls_fwd_format_parse("pem"), -1);
    CHECK_STR(mtls_fwd_format_name(MTLS_FWD_XFCC), "xfcc");

    /* Nothing forwarded. */
    for (i = 0; i < MTLS_FWD_FORMAT_COUNT; i++) {
        CHECK_INT(decode(p, i, NULL, NULL, &c, &err), 0);
        CHECK_INT(decode(p, i, "  ", NULL, &c, &err), 0);
    }
    CHECK_INT(decode(p, MTLS_FWD_RFC9440, "::", NULL, &c, &err), 0);

    /* RFC 9440, with and without the chain header. */
    v = apr_pstrcat(p, ":", b64(p, leaf.der, leaf.len), ":", NULL);
    CHECK_INT(decode(p, MTLS_FWD_RFC9440, v, NULL, &c, &err), 1);
    CHECK(same(c, 0, leaf));
    CHECK_INT(decode(p, MTLS_FWD_RFC9440, apr_pstrcat(p, " ", v, "\t", NULL),
                     NULL, &c, &err), 1);
    CHECK_INT(decode(p, MTLS_FWD_RFC9440, v,
                     apr_pstrcat(p, ":", b64(p, inter.der, inter.len), ": , ",
                                 ":", b64(p, inter.der, inter.len), ":",
                                 NULL), &c, &err), 3);
    CHECK(same(c, 1, inter) && same(c, 2, inter));
    CHECK_INT(decode(p, MTLS_FWD_RFC9440, v, ":AAAA:,,", &c, &err), -1);
    CHECK_HAS(err, "empty element");
    CHECK_INT(decode(p, MTLS_FWD_RFC9440, v, "AAAA", &c, &err), -1);
    CHECK_HAS(err, "(in the chain)");
    CHECK_INT(decode(p, MTLS_FWD_RFC9440, b64(p, leaf.der, leaf.len), NULL,
                     &c, &err), -1);
    CHECK_HAS(err, "RFC 9440");
    CHECK_INT(decode(p, MTLS_FWD_RFC9440, apr_pstrcat(p, v, ", ", v, NULL),
                     NULL, &c, &err), -1);
    CHECK_HAS(err, "sent twice");
    CHECK_INT(decode(p, MTLS_FWD_RFC9440, ":AA*A:", NULL, &c, &err), -1);
    CHECK_HAS(err, "base64");
    CHECK_INT(decode(p, MTLS_FWD_RFC9440, ":AAAA=A:", NULL, &c, &err), -1);
    CHECK_INT(decode(p, MTLS_FWD_RFC9440, ":AAA=====:", NULL, &c, &err), -1);
    /* A lone 6-bit group is not a whole byte. */
    CHECK_INT(decode(p, MTLS_FWD_RFC9440, ":AAAAA:", NULL, &c, &err), -1);
    /* Unpadded is accepted (RFC 8941 parsers may). */
    CHECK_INT(decode(p, MTLS_FWD_RFC9440, ":AAA:", NULL, &c, &err), 1);

    /* Too large: refused with the limit, never cut. */
    huge = apr_palloc(p, 65536 + 3);
    huge[0] = ':';
    memset(huge + 1, 'A', 65536);
    huge[65537] = ':';
    huge[65538] = '\0';
    CHECK_INT(decode(p, MTLS_FWD_RFC9440, huge, NULL, &c, &err), -1);
    CHECK_HAS(err, "larger than 16384 bytes");
    big = apr_pstrcat(p, "-----BEGIN CERTIFICATE-----\n", huge + 1,
                      "\n-----END CERTIFICATE-----\n", NULL);
    ((char *)big)[28 + 65536] = '\n';
    CHECK_INT(decode(p, MTLS_FWD_PEM_URLENCODED, urlenc(p, big), NULL, &c,
                     &err), -1);
    CHECK_HAS(err, "larger than");

    /* URL-encoded PEM (nginx), certificate then chain. */
    CHECK_INT(decode(p, MTLS_FWD_PEM_URLENCODED, urlenc(p, leaf_pem), NULL,
                     &c, &err), 1);
    CHECK(same(c, 0, leaf));
    CHECK_INT(decode(p, MTLS_FWD_PEM_URLENCODED,
                     urlenc(p, apr_pstrcat(p, leaf_pem, inter_pem, NULL)),
                     NULL, &c, &err), 2);
    CHECK(same(c, 0, leaf) && same(c, 1, inter));
    /* '+' '/' '=' left as they are (AWS ALB). */
    v = apr_pstrcat(p, "-----BEGIN%20CERTIFICATE-----%0A",
                    b64(p, leaf.der, leaf.len),
                    "%0A-----END%20CERTIFICATE-----%0A", NULL);
    CHECK_INT(decode(p, MTLS_FWD_PEM_URLENCODED, v, NULL, &c, &err), 1);
    CHECK(same(c, 0, leaf));
    /* Cut just before the END line: cutting a fixed number of characters
     * would land inside a %-escape for some generated keys. */
    v = urlenc(p, leaf_pem);
    CHECK_INT(decode(p, MTLS_FWD_PEM_URLENCODED,
                     apr_pstrndup(p, v, strstr(v, "-----END") - v),
                     NULL, &c, &err), -1);
    CHECK_HAS(err, "truncated");
    CHECK_INT(decode(p, MTLS_FWD_PEM_URLENCODED, "hello", NULL, &c, &err), -1);
    CHECK_HAS(err, "not PEM");
    CHECK_INT(decode(p, MTLS_FWD_PEM_URLENCODED,
                     apr_pstrcat(p, urlenc(p, leaf_pem), "%0Ajunk", NULL),
                     NULL, &c, &err), -1);
    CHECK_INT(decode(p, MTLS_FWD_PEM_URLENCODED, "%0", NULL, &c, &err), -1);
    CHECK_HAS(err, "%-escape");
    CHECK_INT(decode(p, MTLS_FWD_PEM_URLENCODED, "a%00b", NULL, &c, &err), -1);
    CHECK_INT(decode(p, MTLS_FWD_PEM_URLENCODED,
                     apr_pstrcat(p, urlenc(p, leaf_pem), ", ",
                                 urlenc(p, leaf_pem), NULL),
                     NULL, &c, &err), -1);
    CHECK_HAS(err, "sent twice");

    /* Base64 DER (Traefik: URL-escaped, ',' between certificates). */
    CHECK_INT(decode(p, MTLS_FWD_DER_BASE64, b64(p, leaf.der, leaf.len),
                     NULL, &c, &err), 1);
    CHECK(same(c, 0, leaf));
    CHECK_INT(decode(p, MTLS_FWD_DER_BASE64,
                     urlenc(p, apr_pstrcat(p, b64(p, leaf.der, leaf.len), ",",
                                           b64(p, inter.der, inter.len),
                                           NULL)), NULL, &c, &err), 2);
    CHECK(same(c, 0, leaf) && same(c, 1, inter));
    CHECK_INT(decode(p, MTLS_FWD_DER_BASE64, "AAAA,,AAAA", NULL, &c, &err),
              -1);
    CHECK_INT(decode(p, MTLS_FWD_DER_BASE64, "AA AA", NULL, &c, &err), -1);
    v = "AAAA";
    for (i = 0; i < MTLS_FWD_MAX_CERTS; i++) {
        v = apr_pstrcat(p, v, ",AAAA", NULL);
    }
    CHECK_INT(decode(p, MTLS_FWD_DER_BASE64, v, NULL, &c, &err), -1);
    CHECK_HAS(err, "more than 10");

    /* XFCC: the last element is the hop in front of us. */
    v = apr_pstrcat(p, "By=spiffe://a;Hash=00;Cert=\"",
                    urlenc(p, inter_pem), "\";Subject=\"CN=x,O=y\",",
                    "By=spiffe://b;Hash=11;Cert=\"", urlenc(p, leaf_pem),
                    "\";Subject=\"O=Lab,CN=alice\";URI=spiffe://x/y;DNS=a.b",
                    NULL);
    CHECK_INT(decode(p, MTLS_FWD_XFCC, v, NULL, &c, &err), 1);
    CHECK(same(c, 0, leaf));
    /* Chain= includes the certificate: not twice. */
    v = apr_pstrcat(p, "Hash=11;Cert=", urlenc(p, leaf_pem), ";Chain=",
                    urlenc(p, apr_pstrcat(p, leaf_pem, inter_pem, NULL)),
                    NULL);
    CHECK_INT(decode(p, MTLS_FWD_XFCC, v, NULL, &c, &err), 2);
    CHECK(same(c, 0, leaf) && same(c, 1, inter));
    v = apr_pstrcat(p, "Chain=\"",
                    urlenc(p, apr_pstrcat(p, leaf_pem, inter_pem, NULL)),
                    "\"", NULL);
    CHECK_INT(decode(p, MTLS_FWD_XFCC, v, NULL, &c, &err), 2);
    CHECK(same(c, 0, leaf));
    CHECK_INT(decode(p, MTLS_FWD_XFCC, apr_pstrcat(p, "Cert=\"",
                     urlenc(p, leaf_pem), "\",By=x;Hash=22", NULL),
                     NULL, &c, &err), 0);
    CHECK_INT(decode(p, MTLS_FWD_XFCC, "By=x;Subject=\"CN=a,O=b\"", NULL, &c,
                     &err), 0);
    /* The hop's own element empty (a header line it added empty, merged
     * as ", "): no certificate, never the element before, which a client
     * may have sent. */
    CHECK_INT(decode(p, MTLS_FWD_XFCC, apr_pstrcat(p, "Cert=\"",
                     urlenc(p, leaf_pem), "\", ", NULL), NULL, &c, &err), 0);
    CHECK_INT(decode(p, MTLS_FWD_XFCC, apr_pstrcat(p, "Cert=\"",
                     urlenc(p, leaf_pem), "\",", NULL), NULL, &c, &err), 0);
    CHECK_INT(decode(p, MTLS_FWD_XFCC, apr_pstrcat(p, "Cert=\"",
                     urlenc(p, leaf_pem), "\", \t", NULL), NULL, &c, &err),
              0);
    CHECK_INT(decode(p, MTLS_FWD_XFCC, "Hash=1;Cert=\"abc", NULL, &c, &err),
              -1);
    CHECK_HAS(err, "unterminated");
    CHECK_INT(decode(p, MTLS_FWD_XFCC, apr_pstrcat(p, "Cert=",
                     urlenc(p, leaf_pem), ";cert=", urlenc(p, leaf_pem),
                     NULL), NULL, &c, &err), -1);
    CHECK_HAS(err, "twice");
    CHECK_INT(decode(p, MTLS_FWD_XFCC, apr_pstrcat(p, "Cert=",
                     urlenc(p, apr_pstrcat(p, leaf_pem, inter_pem, NULL)),
                     NULL), NULL, &c, &err), -1);
    CHECK_INT(decode(p, MTLS_FWD_XFCC, "Hash", NULL, &c, &err), -1);
    CHECK_INT(decode(p, MTLS_FWD_XFCC, "Cert=\"a\\\"b\"", NULL, &c, &err), -1);
    CHECK_HAS(err, "not PEM");
}

static const char *verify(apr_pool_t *p, X509_STORE *store,
                          STACK_OF(X509_CRL) *crls, int depth,
                          blob_t leaf, const blob_t *chain, apr_time_t now)
{
    apr_array_header_t *certs = apr_array_make(p, 2, sizeof(mtls_der_t));
    mtls_der_t *d = &APR_ARRAY_PUSH(certs, mtls_der_t);
    const char *err = "unset";
    X509 *x;

    d->der = leaf.der;
    d->len = leaf.len;
    if (chain) {
        d = &APR_ARRAY_PUSH(certs, mtls_der_t);
        d->der = chain->der;
        d->len = chain->len;
    }
    x = mtls_fwd_verify(p, store, crls, depth, certs, now, &err);
    X509_free(x);
    return err ? err : "ok";
}

static void test_verify(apr_pool_t *p)
{
    EVP_PKEY *rk = unit_key(), *ik = unit_key(), *lk = unit_key(),
             *ek = unit_key();
    X509 *root = make_cert(rk, "Root", 1, NULL, NULL, NULL,
                           "20200101000000Z", "20991231000000Z");
    X509 *inter = make_cert(ik, "Inter", 2, root, rk, NULL,
                            "20200101000000Z", "20991231000000Z");
    X509 *good = make_cert(lk, "alice", 10, inter, ik, "clientAuth",
                           "20200101000000Z", "20991231000000Z");
    X509 *old = make_cert(lk, "old", 11, inter, ik, "clientAuth",
                          "20200101000000Z", "20210101000000Z");
    X509 *srv = make_cert(lk, "srv", 12, inter, ik, "serverAuth",
                          "20200101000000Z", "20991231000000Z");
    X509 *gone = make_cert(lk, "gone", 13, inter, ik, "clientAuth",
                           "20200101000000Z", "20991231000000Z");
    X509 *evil = make_cert(ek, "Root", 1, NULL, NULL, NULL,
                           "20200101000000Z", "20991231000000Z");
    X509 *evilleaf = make_cert(lk, "alice", 10, evil, ek, "clientAuth",
                               "20200101000000Z", "20991231000000Z");
    X509_CRL *crl = make_crl(inter, ik, 13);
    X509_STORE *store, *rootonly;
    STACK_OF(X509_CRL) *crls;
    blob_t bi = der_of(p, inter), bg = der_of(p, good), junk;
    apr_time_t now = apr_time_from_sec(1893456000);   /* 2030-01-01 */
    const char *ca = write_temp(p, apr_pstrcat(p, unit_pem(p, root),
                                               unit_pem(p, inter), NULL));
    const char *rootf = write_temp(p, unit_pem(p, root));
    const char *crlf = write_temp(p, unit_crl_pem(p, crl));
    const char *badf = write_temp(p, "not a certificate\n");

    CHECK_STR(mtls_fwd_load_cas(p, ca, &store), NULL);
    CHECK_STR(mtls_fwd_load_cas(p, rootf, &rootonly), NULL);
    CHECK_STR(mtls_fwd_load_crls(p, crlf, &crls), NULL);
    CHECK_HAS(mtls_fwd_load_cas(p, badf, &rootonly), "no PEM certificate");
    CHECK_HAS(mtls_fwd_load_crls(p, badf, &crls), "no PEM CRL");
    CHECK_HAS(mtls_fwd_load_cas(p, "/nonexistent/ca.pem", &rootonly),
              "cannot read");
    CHECK_STR(mtls_fwd_load_crls(p, crlf, &crls), NULL);

    CHECK_STR(verify(p, store, NULL, 5, bg, NULL, now), "ok");
    CHECK_STR(verify(p, store, crls, 5, bg, NULL, now), "ok");
    /* The intermediate comes with the header when the CA file has only
     * the root. */
    CHECK_STR(verify(p, rootonly, NULL, 5, bg, NULL, now),
              "unable to get local issuer certificate");
    CHECK_STR(verify(p, rootonly, NULL, 5, bg, &bi, now), "ok");
    CHECK_STR(verify(p, rootonly, NULL, 0, bg, &bi, now),
              "certificate chain too long");
    CHECK_STR(verify(p, store, NULL, 5, der_of(p, old), NULL, now),
              "certificate has expired");
    CHECK_STR(verify(p, store, NULL, 5, bg, NULL,
                     apr_time_from_sec(1500000000)),
              "certificate is not yet valid");
    CHECK_STR(verify(p, store, NULL, 5, der_of(p, srv), NULL, now),
              "unsuitable certificate purpose");
    CHECK_STR(verify(p, store, crls, 5, der_of(p, gone), NULL, now),
              "certificate revoked");
    CHECK_STR(verify(p, store, NULL, 5, der_of(p, gone), NULL, now), "ok");
    CHECK_STR(verify(p, store, NULL, 5, der_of(p, evilleaf), NULL, now),
              "certificate signature failure");
    CHECK_STR(verify(p, NULL, NULL, 5, bg, NULL, now),
              "no CA to verify forwarded certificates with "
              "(MTLSProxyCertCA)");
    /* Not DER, cut short, or with bytes after it. */
    junk.der = (unsigned char *)"garbage!";
    junk.len = 8;
    CHECK_HAS(verify(p, store, NULL, 5, junk, NULL, now), "not a valid X.509");
    junk.der = bg.der;
    junk.len = bg.len - 10;
    CHECK_HAS(verify(p, store, NULL, 5, junk, NULL, now), "not a valid X.509");
    junk.der = apr_palloc(p, bg.len + 2);
    memcpy(junk.der, bg.der, bg.len);
    junk.der[bg.len] = junk.der[bg.len + 1] = 0;
    junk.len = bg.len + 2;
    CHECK_HAS(verify(p, store, NULL, 5, junk, NULL, now), "not a valid X.509");
    CHECK_HAS(verify(p, store, NULL, 5, bg, &junk, now), "of the forwarded "
              "chain");

    unlink(ca);
    unlink(rootf);
    unlink(crlf);
    unlink(badf);
    X509_CRL_free(crl);
    X509_free(root);
    X509_free(inter);
    X509_free(good);
    X509_free(old);
    X509_free(srv);
    X509_free(gone);
    X509_free(evil);
    X509_free(evilleaf);
    EVP_PKEY_free(rk);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(lk);
    EVP_PKEY_free(ek);
}

void test_fwd(apr_pool_t *p)
{
    EVP_PKEY *k = unit_key();
    static const char *const dn1[] = { "O=Lab", "CN=leaf", NULL };
    static const char *const dn2[] = { "O=Lab", "CN=inter", NULL };
    X509 *leaf = unit_cert_simple(k, "01", "20351231235959Z", dn1);
    X509 *inter = unit_cert_simple(k, "02", "20351231235959Z", dn2);

    test_formats(p, der_of(p, leaf), der_of(p, inter), unit_pem(p, leaf),
                 unit_pem(p, inter));
    test_verify(p);
    X509_free(leaf);
    X509_free(inter);
    EVP_PKEY_free(k);
}
