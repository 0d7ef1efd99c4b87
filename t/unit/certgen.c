/* Test certificates made at run time with the OpenSSL API, so that the
 * tests know every fact they check and need no files. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "unit.h"

EVP_PKEY *unit_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (!k) {
        fprintf(stderr, "cannot make an EC key\n");
        abort();
    }
    return k;
}

const char *unit_hex(apr_pool_t *p, const unsigned char *d, size_t n)
{
    char *out = apr_palloc(p, n * 2 + 1);
    size_t i;
    for (i = 0; i < n; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
    out[2 * n] = '\0';
    return out;
}

/* What was written to the memory BIO @p b, which is freed. */
static const char *bio_text(apr_pool_t *p, BIO *b)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    const char *out = apr_pstrmemdup(p, data, n);

    BIO_free(b);
    return out;
}

const char *unit_pem(apr_pool_t *p, X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());

    PEM_write_bio_X509(b, x);
    return bio_text(p, b);
}

const char *unit_crl_pem(apr_pool_t *p, X509_CRL *crl)
{
    BIO *b = BIO_new(BIO_s_mem());

    PEM_write_bio_X509_CRL(b, crl);
    return bio_text(p, b);
}

static void add_entry(X509_NAME *n, const char *field, const char *value,
                      int set)
{
    /* UTF8String as is: no string-table size checks, raw bytes. */
    if (!X509_NAME_add_entry_by_txt(n, field, V_ASN1_UTF8STRING,
                                    (const unsigned char *)value, -1, -1,
                                    set)) {
        fprintf(stderr, "cannot add %s=%s\n", field, value);
        abort();
    }
}

static X509_NAME *make_name(const char *const *dn)
{
    X509_NAME *n = X509_NAME_new();
    for (; *dn; dn++) {
        const char *s = *dn, *eq;
        char field[64];
        int set = 0;
        if (*s == '+') {
            set = -1;
            s++;
        }
        eq = strchr(s, '=');
        memcpy(field, s, eq - s);
        field[eq - s] = '\0';
        add_entry(n, field, eq + 1, set);
    }
    return n;
}

static void set_serial(X509 *x, const char *serial_hex)
{
    BIGNUM *bn = NULL;
    ASN1_INTEGER *ai;
    BN_hex2bn(&bn, serial_hex);
    ai = BN_to_ASN1_INTEGER(bn, NULL);
    X509_set_serialNumber(x, ai);
    ASN1_INTEGER_free(ai);
    BN_free(bn);
}

static void set_times(X509 *x, const char *not_after)
{
    ASN1_TIME_set_string_X509(X509_getm_notBefore(x), "20200101000000Z");
    if (!ASN1_TIME_set_string_X509(X509_getm_notAfter(x), not_after)) {
        fprintf(stderr, "bad time %s\n", not_after);
        abort();
    }
}

/* A v3 certificate of @p key, subject and issuer @p n (freed), signed
 * by @p key itself. */
static X509 *self_signed(EVP_PKEY *key, X509_NAME *n, const char *serial_hex,
                         const char *not_after)
{
    X509 *x = X509_new();

    X509_set_version(x, 2);
    set_serial(x, serial_hex);
    set_times(x, not_after);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_NAME_free(n);
    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());
    return x;
}

X509 *unit_cert_simple(EVP_PKEY *key, const char *serial_hex,
                       const char *not_after, const char *const *dn)
{
    return self_signed(key, make_name(dn), serial_hex, not_after);
}

X509 *unit_cert_raw_cn(EVP_PKEY *key, int type, const char *cn, int len)
{
    X509_NAME *n = X509_NAME_new();

    X509_NAME_add_entry_by_txt(n, "O", V_ASN1_UTF8STRING,
                               (const unsigned char *)"Lab", -1, -1, 0);
    if (!X509_NAME_add_entry_by_txt(n, "CN", type, (const unsigned char *)cn,
                                    len, -1, 0)) {
        fprintf(stderr, "cannot add a raw CN\n");
        abort();
    }
    return self_signed(key, n, "0C", "20351231235959Z");
}

X509 *unit_cert_twin(X509 *x, EVP_PKEY *issuer_key)
{
    char curve[64];
    size_t clen = 0;
    EC_GROUP *g;
    const ASN1_BIT_STRING *sig = NULL;
    const unsigned char *q;
    const BIGNUM *r, *s;
    BIGNUM *s2 = BN_new();
    ECDSA_SIG *es, *twin = ECDSA_SIG_new();
    unsigned char *der = NULL, *cder = NULL;
    const unsigned char *cq;
    int n, cn;
    X509 *dup = X509_dup(x), *out;

    if (!EVP_PKEY_get_utf8_string_param(issuer_key, "group", curve,
                                        sizeof(curve), &clen)
        || !(g = EC_GROUP_new_by_curve_name(OBJ_sn2nid(curve)))) {
        fprintf(stderr, "unit_cert_twin: not an EC key on a named curve\n");
        abort();
    }
    X509_get0_signature(&sig, NULL, dup);
    q = sig->data;
    es = d2i_ECDSA_SIG(NULL, &q, sig->length);
    ECDSA_SIG_get0(es, &r, &s);
    BN_sub(s2, EC_GROUP_get0_order(g), s);
    ECDSA_SIG_set0(twin, BN_dup(r), s2);
    n = i2d_ECDSA_SIG(twin, &der);
    /* The structure is ours (a copy): put the twin signature in. */
    ASN1_BIT_STRING_set((ASN1_BIT_STRING *)sig, der, n);
    cn = i2d_X509(dup, &cder);
    cq = cder;
    out = d2i_X509(NULL, &cq, cn);
    OPENSSL_free(der);
    OPENSSL_free(cder);
    ECDSA_SIG_free(es);
    ECDSA_SIG_free(twin);
    EC_GROUP_free(g);
    X509_free(dup);
    return out;
}

const char *unit_sha256(apr_pool_t *p, X509 *x)
{
    unsigned char md[32];
    unsigned int n = 0;
    X509_digest(x, EVP_sha256(), md, &n);
    return unit_hex(p, md, n);
}

static GENERAL_NAME *gn_ia5(int type, const char *v, int len)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    ASN1_STRING_set(s, v, len);
    GENERAL_NAME_set0_value(gn, type, s);
    return gn;
}

static GENERAL_NAME *gn_ip(const unsigned char *addr, int len)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(s, addr, len);
    GENERAL_NAME_set0_value(gn, GEN_IPADD, s);
    return gn;
}

static GENERAL_NAME *gn_other_utf8(ASN1_OBJECT *type, const char *v)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_TYPE *t = ASN1_TYPE_new();
    ASN1_UTF8STRING *u = ASN1_UTF8STRING_new();
    ASN1_STRING_set(u, v, -1);
    ASN1_TYPE_set(t, V_ASN1_UTF8STRING, u);
    GENERAL_NAME_set0_othername(gn, type, t);
    return gn;
}

X509 *unit_cert_main(EVP_PKEY *key)
{
    static const char *const subject[] = {
        "DC=example", "DC=lab", "O=Lab, Inc.", "OU=dev", "OU=ops",
        "+UID=jdoe", "CN=Doe, John", NULL
    };
    static const char *const issuer[] = {
        "O=Lab, Inc.", "CN=Unit CA", NULL
    };
    static const unsigned char v4[4] = { 192, 0, 2, 10 };
    static const unsigned char v6[16] = {
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
    };
    X509 *x = X509_new();
    X509_NAME *n;
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();

    X509_set_version(x, 2);
    set_serial(x, "00AB01");
    set_times(x, "20351231235959Z");
    n = make_name(subject);
    X509_set_subject_name(x, n);
    X509_NAME_free(n);
    n = make_name(issuer);
    X509_set_issuer_name(x, n);
    X509_NAME_free(n);

    sk_GENERAL_NAME_push(gens, gn_ia5(GEN_EMAIL, "jdoe@lab.example", -1));
    sk_GENERAL_NAME_push(gens, gn_ia5(GEN_DNS, "a.b.lab.example", -1));
    sk_GENERAL_NAME_push(gens, gn_ia5(GEN_URI,
                         "spiffe://lab.example/ns/prod/sa/web", -1));
    sk_GENERAL_NAME_push(gens, gn_ip(v4, 4));
    sk_GENERAL_NAME_push(gens, gn_ip(v6, 16));
    /* Microsoft's UPN, 1.3.6.1.4.1.311.20.2.3. */
    sk_GENERAL_NAME_push(gens, gn_other_utf8(OBJ_dup(OBJ_nid2obj(NID_ms_upn)),
                                             "jdoe@LAB.EXAMPLE"));
    /* Another otherName type: ignored. */
    sk_GENERAL_NAME_push(gens, gn_other_utf8(OBJ_txt2obj("1.2.3.4.5", 1),
                                             "not-a-upn"));
    sk_GENERAL_NAME_push(gens, gn_ia5(GEN_EMAIL, "john.doe@lab.example", -1));
    sk_GENERAL_NAME_push(gens, gn_ia5(GEN_DNS, "www.lab.example", -1));
    X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT);
    GENERAL_NAMES_free(gens);

    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());
    return x;
}

/* SANs a CA should never issue: a NUL in an email, a 5-byte IP. */
X509 *unit_cert_bad_sans(EVP_PKEY *key)
{
    static const char *const dn[] = { "CN=bad sans", NULL };
    static const unsigned char ip5[5] = { 1, 2, 3, 4, 5 };
    X509 *x = unit_cert_simple(key, "01", "20351231235959Z", dn);
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();

    sk_GENERAL_NAME_push(gens, gn_ia5(GEN_EMAIL, "evil@x\0.lab.example", 19));
    sk_GENERAL_NAME_push(gens, gn_ia5(GEN_DNS, "ok.lab.example", -1));
    sk_GENERAL_NAME_push(gens, gn_ip(ip5, 5));
    sk_GENERAL_NAME_push(gens, gn_ia5(GEN_URI, "urn:x\ny", -1));
    X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT);
    GENERAL_NAMES_free(gens);
    X509_sign(x, key, EVP_sha256());
    return x;
}

X509 *unit_cert_ipv6(EVP_PKEY *key, const unsigned char (*addrs)[16], int n)
{
    static const char *const dn[] = { "CN=ipv6", NULL };
    X509 *x = unit_cert_simple(key, "03", "20351231235959Z", dn);
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int i;

    for (i = 0; i < n; i++) {
        sk_GENERAL_NAME_push(gens, gn_ip(addrs[i], 16));
    }
    X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT);
    GENERAL_NAMES_free(gens);
    X509_sign(x, key, EVP_sha256());
    return x;
}

X509 *unit_cert_ext(EVP_PKEY *key, const char *const *exts,
                    const char *const *uris, const char *not_before,
                    const char *not_after)
{
    static const char *const dn[] = { "CN=ext", NULL };
    X509 *x = unit_cert_simple(key, "05", not_after, dn);
    X509V3_CTX ctx;
    CONF *conf = NCONF_new(NULL);   /* empty: some extensions want one */
    int i;

    ASN1_TIME_set_string_X509(X509_getm_notBefore(x), not_before);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509V3_set_nconf(&ctx, conf);
    for (i = 0; exts && exts[i]; i++) {
        char *name = strdup(exts[i]), *eq = strchr(name, '=');
        X509_EXTENSION *e;
        *eq = '\0';
        e = X509V3_EXT_nconf(conf, &ctx, name, eq + 1);
        if (!e) {
            fprintf(stderr, "bad extension %s\n", exts[i]);
            ERR_print_errors_fp(stderr);
            abort();
        }
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
        free(name);
    }
    if (uris && uris[0]) {
        GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
        for (i = 0; uris[i]; i++) {
            sk_GENERAL_NAME_push(gens, gn_ia5(GEN_URI, uris[i], -1));
        }
        X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
                          X509V3_ADD_DEFAULT);
        GENERAL_NAMES_free(gens);
    }
    NCONF_free(conf);
    X509_sign(x, key, EVP_sha256());
    return x;
}
