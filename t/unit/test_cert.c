/* Certificate facts (mtls_cert.c) from certificates made at run time. */
#include <apr_strings.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>

#include "unit.h"
#include "mtls_cert.h"
#include "mtls_dn.h"
#include "mtls_field.h"
#include "mtls_rule.h"
#include "mtls_filefmt.h"

static const char *san(const mtls_cert_t *c, int type, int i)
{
    return i < c->san[type]->nelts
        ? APR_ARRAY_IDX(c->san[type], i, const char *) : NULL;
}

static const mtls_ava_t *ava(const apr_array_header_t *a, int i)
{
    return i < a->nelts ? &APR_ARRAY_IDX(a, i, mtls_ava_t) : NULL;
}

/* 2035-12-31T23:59:59Z in seconds since the epoch. */
#define NOT_AFTER_2035 APR_INT64_C(2082758399)

static void test_main_cert(apr_pool_t *p)
{
    EVP_PKEY *key = unit_key();
    X509 *x = unit_cert_main(key);
    mtls_cert_t *c = NULL, *c2 = NULL;
    const char *err = NULL, *canon = NULL;
    unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
    unsigned int mdlen = 0;
    int len;
    apr_time_t na = apr_time_from_sec(NOT_AFTER_2035);

    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    CHECK(c != NULL);
    if (!c) {
        goto leave;
    }
    CHECK_STR(c->subject,
              "CN=Doe\\, John,OU=ops+UID=jdoe,OU=dev,O=Lab\\, Inc.,"
              "DC=lab,DC=example");
    CHECK_STR(c->issuer, "CN=Unit CA,O=Lab\\, Inc.");
    CHECK(c->problem == NULL);

    /* The canonical forms are those of the RFC 4514 text. */
    CHECK(mtls_dn_canon(p, c->subject, &canon) == NULL);
    CHECK_STR(c->subject_canon, canon);
    CHECK(mtls_dn_canon(p, c->issuer, &canon) == NULL);
    CHECK_STR(c->issuer_canon, canon);
    CHECK_STR(c->issuer_canon, "2.5.4.3=unit ca,2.5.4.10=lab\\, inc.");
    CHECK(mtls_dn_canon(p, "cn=doe\\, john, uid=JDOE + ou=OPS,ou=dev,"
                        "o=lab\\2C inc.,dc=LAB,0.9.2342.19200300.100.1.25="
                        "example", &canon) == NULL);
    CHECK_STR(c->subject_canon, canon);

    /* AVAs in DER order, with dotted OIDs and raw values. */
    CHECK_INT(c->subject_avas->nelts, 7);
    CHECK_STR(ava(c->subject_avas, 0)->oid, "0.9.2342.19200300.100.1.25");
    CHECK_STR(ava(c->subject_avas, 0)->value, "example");
    CHECK_STR(ava(c->subject_avas, 2)->oid, "2.5.4.10");
    CHECK_STR(ava(c->subject_avas, 2)->value, "Lab, Inc.");
    CHECK_STR(ava(c->subject_avas, 5)->oid, "0.9.2342.19200300.100.1.1");
    CHECK_STR(ava(c->subject_avas, 5)->value, "jdoe");
    CHECK_STR(ava(c->subject_avas, 6)->oid, "2.5.4.3");
    CHECK_STR(ava(c->subject_avas, 6)->value, "Doe, John");
    CHECK_INT(c->issuer_avas->nelts, 2);
    CHECK_STR(ava(c->issuer_avas, 1)->value, "Unit CA");

    /* SANs, each list in certificate order. */
    CHECK_INT(c->san[MTLS_SAN_EMAIL]->nelts, 2);
    CHECK_STR(san(c, MTLS_SAN_EMAIL, 0), "jdoe@lab.example");
    CHECK_STR(san(c, MTLS_SAN_EMAIL, 1), "john.doe@lab.example");
    CHECK_INT(c->san[MTLS_SAN_DNS]->nelts, 2);
    CHECK_STR(san(c, MTLS_SAN_DNS, 0), "a.b.lab.example");
    CHECK_STR(san(c, MTLS_SAN_DNS, 1), "www.lab.example");
    CHECK_INT(c->san[MTLS_SAN_URI]->nelts, 1);
    CHECK_STR(san(c, MTLS_SAN_URI, 0), "spiffe://lab.example/ns/prod/sa/web");
    CHECK_INT(c->san[MTLS_SAN_IP]->nelts, 2);
    CHECK_STR(san(c, MTLS_SAN_IP, 0), "192.0.2.10");
    CHECK_STR(san(c, MTLS_SAN_IP, 1), "2001:db8::1");
    CHECK_INT(c->san[MTLS_SAN_UPN]->nelts, 1);
    CHECK_STR(san(c, MTLS_SAN_UPN, 0), "jdoe@LAB.EXAMPLE");

    CHECK_STR(c->serial, "AB01");

    /* Digests against independent computations. */
    CHECK(X509_digest(x, EVP_sha256(), md, &mdlen));
    CHECK_STR(c->sha256, unit_hex(p, md, mdlen));
    CHECK_INT(strlen(c->sha256), 64);
    len = i2d_PUBKEY(key, &der);
    CHECK(len > 0);
    CHECK(EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL));
    OPENSSL_free(der);
    der = NULL;
    CHECK_STR(c->spki, unit_hex(p, md, mdlen));
    CHECK(strcmp(c->spki, c->sha256) != 0);
    len = i2d_X509(x, &der);
    CHECK_INT(c->der_len, len);
    CHECK(c->der && !memcmp(c->der, der, len));
    OPENSSL_free(der);

    CHECK_STR(c->not_after, "2035-12-31T23:59:59Z");
    CHECK(c->not_after_time == na);
    CHECK(mtls_cert_days_left(c, apr_time_now()) > 3000);
    CHECK_INT(mtls_cert_days_left(c, na - apr_time_from_sec(10 * 86400)), 10);
    CHECK_INT(mtls_cert_days_left(c, na - apr_time_from_sec(10 * 86400 - 1)),
              9);
    CHECK_INT(mtls_cert_days_left(c, na), 0);
    CHECK_INT(mtls_cert_days_left(c, na + apr_time_from_sec(1)), -1);
    CHECK_INT(mtls_cert_days_left(c, na + apr_time_from_sec(86400)), -1);
    CHECK_INT(mtls_cert_days_left(c, na + apr_time_from_sec(86401)), -2);
    /* Expired by half a second is expired: negative. */
    CHECK_INT(mtls_cert_days_left(c, na + 500000), -1);

    /* The same facts from PEM, as mod_ssl gives it. */
    CHECK_INT(mtls_cert_from_pem(p, unit_pem(p, x), &c2, &err), APR_SUCCESS);
    CHECK(c2 && !strcmp(c2->subject, c->subject)
          && !strcmp(c2->sha256, c->sha256)
          && !strcmp(c2->spki, c->spki)
          && c2->san[MTLS_SAN_UPN]->nelts == 1);

leave:
    X509_free(x);
    EVP_PKEY_free(key);
}

static void test_names_and_serials(apr_pool_t *p)
{
    static const char *const utf8[] = {
        "C=DE", "O=M\xc3\xbcller GmbH", "CN=J\xc3\xbcrgen \xc3\x84", NULL
    };
    static const char *const plain[] = {
        "O=Lab, Inc.", "OU=dev", "CN=Doe, John", NULL
    };
    static const char *const specials[] = {
        "CN=#hash", "+OU= lead", "O=trail ", "L=a+b;c<d>e\"f\\g=h", NULL
    };
    static const char *const ctrl[] = { "CN=a\x01z", NULL };
    EVP_PKEY *key = unit_key();
    X509 *x;
    mtls_cert_t *c;
    const char *err, *canon;

    x = unit_cert_simple(key, "0A", "20200102030405Z", utf8);
    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    CHECK_STR(c->subject, "CN=J\xc3\xbcrgen \xc3\x84,O=M\xc3\xbcller GmbH,C=DE");
    CHECK_STR(c->issuer, c->subject);
    CHECK_STR(c->serial, "A");
    CHECK_STR(c->not_after, "2020-01-02T03:04:05Z");
    CHECK(mtls_cert_days_left(c, apr_time_now()) < 0);
    /* Non-ASCII is not case-folded, ASCII is. */
    CHECK(mtls_dn_canon(p, "cn=j\xc3\xbcRGEN \xc3\x84 , o=m\xc3\xbcller gmbh,"
                        "c=de", &canon) == NULL);
    CHECK_STR(c->subject_canon, canon);
    CHECK(mtls_dn_canon(p, "CN=j\xc3\xbcrgen \xc3\xa4,O=M\xc3\xbcller GmbH,"
                        "C=DE", &canon) == NULL);
    CHECK(strcmp(c->subject_canon, canon) != 0);
    CHECK_INT(c->san[MTLS_SAN_EMAIL]->nelts, 0);
    CHECK_INT(c->san[MTLS_SAN_UPN]->nelts, 0);
    X509_free(x);

    x = unit_cert_simple(key, "01", "20351231235959Z", plain);
    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    CHECK_STR(c->subject, "CN=Doe\\, John,OU=dev,O=Lab\\, Inc.");
    CHECK_STR(c->serial, "1");
    X509_free(x);

    x = unit_cert_simple(key, "00", "20351231235959Z", plain);
    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    CHECK_STR(c->serial, "0");
    X509_free(x);

    x = unit_cert_simple(key, "0123456789ABCDEF0123456789ABCDEF01",
                         "20351231235959Z", plain);
    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    CHECK_STR(c->serial, "123456789ABCDEF0123456789ABCDEF01");
    X509_free(x);

    /* RFC 4514 specials escaped; the text parses back to the same canon. */
    x = unit_cert_simple(key, "FF00", "20351231235959Z", specials);
    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    CHECK_STR(c->serial, "FF00");
    CHECK_STR(c->subject, "L=a\\+b\\;c\\<d\\>e\\\"f\\\\g=h,O=trail\\ ,"
              "CN=\\#hash+OU=\\ lead");
    CHECK(mtls_dn_canon(p, c->subject, &canon) == NULL);
    CHECK_STR(c->subject_canon, canon);
    X509_free(x);

    /* Control bytes are hex-escaped in the text. */
    x = unit_cert_simple(key, "02", "20351231235959Z", ctrl);
    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    CHECK_STR(c->subject, "CN=a\\01z");
    CHECK(mtls_dn_canon(p, c->subject, &canon) == NULL);
    CHECK_STR(c->subject_canon, canon);
    X509_free(x);

    /* Bad SANs are dropped, not passed on, and said so. */
    x = unit_cert_bad_sans(key);
    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    CHECK_INT(c->san[MTLS_SAN_EMAIL]->nelts, 0);
    CHECK_INT(c->san[MTLS_SAN_IP]->nelts, 0);
    CHECK_INT(c->san[MTLS_SAN_URI]->nelts, 0);
    CHECK_INT(c->san[MTLS_SAN_DNS]->nelts, 1);
    CHECK_STR(san(c, MTLS_SAN_DNS, 0), "ok.lab.example");
    CHECK(c->problem != NULL);
    X509_free(x);

    EVP_PKEY_free(key);
}

/* A value that cannot be decoded leaves the name without text (and the
 * attribute without that value), never an empty value that reads like
 * another certificate's: "CN=admin\0.evil,O=Lab" is not "CN=,O=Lab". */
static void test_undecodable_names(apr_pool_t *p)
{
    EVP_PKEY *key = unit_key();
    const mtls_field_t *f_subject = NULL, *f_cn = NULL, *f_o = NULL;
    const char *err = NULL, *canon = NULL;
    mtls_rule_t *by_subject = NULL;
    mtls_cert_t *c = NULL, *empty = NULL;
    X509 *x;

    CHECK(mtls_field_parse(p, "subject", &f_subject) == NULL);
    CHECK(mtls_field_parse(p, "subject:CN", &f_cn) == NULL);
    CHECK(mtls_field_parse(p, "subject:O", &f_o) == NULL);
    CHECK(mtls_rule_compile(p, "subject", NULL, NULL, &by_subject) == NULL);

    x = unit_cert_raw_cn(key, V_ASN1_UTF8STRING, "", 0);
    CHECK_INT(mtls_cert_from_x509(p, x, &empty, &err), APR_SUCCESS);
    CHECK_STR(empty->subject, "CN=,O=Lab");
    CHECK(empty->problem == NULL);
    CHECK_STR(mtls_rule_user(p, by_subject, empty, 0), "CN=,O=Lab");
    X509_free(x);

    x = unit_cert_raw_cn(key, V_ASN1_UTF8STRING, "admin\0.evil", 11);
    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    CHECK(c->subject == NULL);
    CHECK(c->issuer == NULL);
    CHECK_HAS(c->problem, "the subject cannot be decoded: its CN value "
              "holds a NUL byte");
    CHECK_HAS(c->problem, "the issuer cannot be decoded");
    CHECK(mtls_rule_user(p, by_subject, c, 0) == NULL);
    CHECK(mtls_field_first(p, f_subject, c, 0) == NULL);
    CHECK_INT(mtls_field_values(p, f_subject, c, 0)->nelts, 0);
    CHECK_INT(mtls_field_values(p, f_cn, c, 0)->nelts, 0);
    CHECK_STR(mtls_field_first(p, f_o, c, 0), "Lab");
    /* Nor does it compare equal to any DN written in a configuration. */
    CHECK(mtls_dn_canon(p, "CN=,O=Lab", &canon) == NULL);
    CHECK(strcmp(c->subject_canon, canon) != 0);
    CHECK(strcmp(c->subject_canon, empty->subject_canon) != 0);
    CHECK(mtls_dn_canon(p, "CN=admin,O=Lab", &canon) == NULL);
    CHECK(strcmp(c->subject_canon, canon) != 0);
    CHECK(mtls_dn_canon(p, "CN=admin\\00.evil,O=Lab", &canon) != NULL);
    CHECK(strcmp(mtls_map_cert_key(p, c, MTLS_KEY_SUBJECT),
                 mtls_map_cert_key(p, empty, MTLS_KEY_SUBJECT)) != 0);
    X509_free(x);

    /* A BMPString (UTF-16) that decodes is a value like any other. */
    x = unit_cert_raw_cn(key, V_ASN1_BMPSTRING, "\0a\0b", 4);
    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    CHECK_STR(c->subject, "CN=ab,O=Lab");
    CHECK(c->problem == NULL);
    X509_free(x);
    /* Bytes that are not valid in their string type (bad UTF-8, half a
     * UTF-16 character) never get this far: OpenSSL refuses to parse
     * such a name, so mod_ssl ends the handshake. */
    EVP_PKEY_free(key);
}

static int has_twin(const mtls_cert_t *c, const char *sha256)
{
    int i;
    for (i = 0; c->sha256_twins && i < c->sha256_twins->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(c->sha256_twins, i, const char *),
                    sha256)) {
            return 1;
        }
    }
    return 0;
}

/* An ECDSA signature (r, s) also verifies as (r, n - s): the facts carry
 * the sha256 of that twin, whatever named curve the issuer is on, and
 * the twin's facts carry the original's. */
static void test_signature_twins(apr_pool_t *p)
{
    static const char *const curves[] = {
        "P-256", "P-384", "P-521", "P-224", "prime192v1", "secp256k1",
        "brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1", NULL
    };
    static const char *const dn[] = { "O=Lab", "CN=twin", NULL };
    const char *err;
    int i;

    for (i = 0; curves[i]; i++) {
        EVP_PKEY *key = EVP_EC_gen(curves[i]);
        X509 *x = key ? unit_cert_simple(key, "7E", "20351231235959Z", dn)
                      : NULL;
        X509 *t = x ? unit_cert_twin(x, key) : NULL;
        mtls_cert_t *cx = NULL, *ct = NULL;
        const char *hx, *ht;

        if (!t) {
            CHECK(t != NULL);
            fprintf(stderr, "no twin on %s\n", curves[i]);
            continue;
        }
        hx = unit_sha256(p, x);
        ht = unit_sha256(p, t);
        /* A real twin: verifies, another hash. */
        CHECK_INT(X509_verify(t, key), 1);
        CHECK(strcmp(hx, ht) != 0);
        CHECK_INT(mtls_cert_from_x509(p, x, &cx, &err), APR_SUCCESS);
        CHECK_INT(mtls_cert_from_x509(p, t, &ct, &err), APR_SUCCESS);
        CHECK_STR(cx->sha256, hx);
        CHECK_STR(ct->sha256, ht);
        if (!has_twin(cx, ht) || !has_twin(ct, hx)) {
            fprintf(stderr, "twin on %s not known\n", curves[i]);
        }
        CHECK(has_twin(cx, ht));
        CHECK(has_twin(ct, hx));
        CHECK(!has_twin(cx, hx));
        CHECK_STR(ct->spki, cx->spki);
        X509_free(t);
        X509_free(x);
        EVP_PKEY_free(key);
    }

    /* RSA PKCS#1 v1.5 signatures have no twin. */
    {
        EVP_PKEY *rsa = EVP_RSA_gen(1024);
        X509 *x = unit_cert_simple(rsa, "7F", "20351231235959Z", dn);
        mtls_cert_t *c = NULL;
        CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
        CHECK(c->sha256_twins != NULL && c->sha256_twins->nelts == 0);
        X509_free(x);
        EVP_PKEY_free(rsa);
    }
}

/* IPv6 SANs in RFC 5952 text: the first longest run of zero words (two
 * or more) becomes "::", lower-case, no leading zeros. */
static void test_ipv6(apr_pool_t *p)
{
    static const unsigned char a[][16] = {
        { 0,0, 0,0, 0,0, 0,0, 0,0, 0,0, 0,0, 0,1 },
        { 0,0, 0,0, 0,0, 0,0, 0,0, 0,0, 0,0, 0,0 },
        { 0,1, 0,0, 0,0, 0,0, 0,0, 0,0, 0,0, 0,0 },
        { 0x20,0x01, 0x0d,0xb8, 0,0, 0,1, 0,1, 0,1, 0,1, 0,1 },
        { 0x20,0x01, 0,0, 0,0, 0,1, 0,0, 0,0, 0,0, 0,1 },
        { 0,1, 0,0, 0,0, 0,2, 0,0, 0,0, 0,3, 0,4 },
        { 0xfe,0x80, 0,0, 0,0, 0,0, 0xab,0xcd, 0,0, 0,0, 0,0 },
    };
    static const char *const want[] = {
        "::1", "::", "1::", "2001:db8:0:1:1:1:1:1", "2001:0:0:1::1",
        "1::2:0:0:3:4", "fe80::abcd:0:0:0",
    };
    EVP_PKEY *key = unit_key();
    X509 *x = unit_cert_ipv6(key, a, 7);
    mtls_cert_t *c;
    const char *err;
    int i;

    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    CHECK_INT(c->san[MTLS_SAN_IP]->nelts, 7);
    for (i = 0; i < 7 && i < c->san[MTLS_SAN_IP]->nelts; i++) {
        CHECK_STR(san(c, MTLS_SAN_IP, i), want[i]);
    }
    X509_free(x);
    EVP_PKEY_free(key);
}

/* For any attribute type the RFC 4514 text of a name parses back to the
 * name's canonical form: OpenSSL short names outside the alias table,
 * long-only names, unknown OIDs, and values in other string types. */
static void test_text_roundtrip(apr_pool_t *p)
{
    static const char *const types[] = {
        "CN", "SN", "GN", "title", "street", "postalCode", "pseudonym",
        "businessCategory", "organizationIdentifier", "description", "role",
        "jurisdictionC", "jurisdictionST", "name", "dnQualifier", "initials",
        "generationQualifier", "houseIdentifier", "uniqueIdentifier",
        "domainComponent", "1.2.3.4.5", "2.999.1", "1.3.6.1.4.1.311.60.2.1.3",
        "mail", "x121Address", "searchGuide", "telephoneNumber", NULL
    };
    static const int strtypes[] = {
        V_ASN1_UTF8STRING, V_ASN1_PRINTABLESTRING, V_ASN1_IA5STRING,
        V_ASN1_T61STRING
    };
    int i, t;

    for (i = 0; types[i]; i++) {
        for (t = 0; t < 4; t++) {
            X509_NAME *n = X509_NAME_new();
            apr_array_header_t *avas = apr_array_make(p, 2,
                                                      sizeof(mtls_ava_t));
            const char *text, *canon = NULL, *err;
            X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
                                       (const unsigned char *)"Lab", -1, -1,
                                       0);
            if (!X509_NAME_add_entry_by_txt(n, types[i], strtypes[t],
                                            (const unsigned char *)"V a+l",
                                            -1, -1, 0)) {
                CHECK_STR(types[i], "(OpenSSL does not know it)");
                X509_NAME_free(n);
                continue;
            }
            text = mtls_dn_format(p, n, avas);
            CHECK_INT(avas->nelts, 2);
            err = mtls_dn_canon(p, text, &canon);
            CHECK_STR(err, NULL);
            CHECK_STR(canon, mtls_dn_canon_x509(p, n));
            X509_NAME_free(n);
        }
    }
}

static void test_pem_errors(apr_pool_t *p)
{
    mtls_cert_t *c = (mtls_cert_t *)1;
    const char *err = NULL;

    CHECK(mtls_cert_from_pem(p, "garbage", &c, &err) != APR_SUCCESS);
    CHECK(c == NULL);
    CHECK(err != NULL && *err);
    err = NULL;
    CHECK(mtls_cert_from_pem(p, "", &c, &err) != APR_SUCCESS);
    CHECK(err != NULL);
    err = NULL;
    CHECK(mtls_cert_from_pem(p, NULL, &c, &err) != APR_SUCCESS);
    CHECK(err != NULL);
    err = NULL;
    CHECK(mtls_cert_from_pem(p, "-----BEGIN CERTIFICATE-----\nAAAA\n"
                             "-----END CERTIFICATE-----\n", &c, &err)
          != APR_SUCCESS);
    CHECK(err != NULL);
}

static void test_san_names(void)
{
    CHECK_STR(mtls_san_type_name(MTLS_SAN_EMAIL), "email");
    CHECK_STR(mtls_san_type_name(MTLS_SAN_UPN), "upn");
    CHECK_INT(mtls_san_type_parse("uri"), MTLS_SAN_URI);
    CHECK_INT(mtls_san_type_parse("DNS"), MTLS_SAN_DNS);
    CHECK_INT(mtls_san_type_parse("ip"), MTLS_SAN_IP);
    CHECK_INT(mtls_san_type_parse("x400"), -1);
}

void test_cert(apr_pool_t *p)
{
    test_undecodable_names(p);
    test_signature_twins(p);
    test_main_cert(p);
    test_names_and_serials(p);
    test_ipv6(p);
    test_text_roundtrip(p);
    test_pem_errors(p);
    test_san_names();
}
