/* Certificate facts from DER: names, SANs, serial, digests, validity. */
#include <string.h>
#include <time.h>

#include <apr_strings.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/evp.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/ec.h>

#include "mtls_cert.h"
#include "mtls_dn.h"
#include "mtls_cert_twins.h"

static const char *const san_names[MTLS_SAN_COUNT] = {
    "email", "dns", "uri", "ip", "upn"
};

const char *mtls_san_type_name(mtls_san_type_e t)
{
    return (t >= 0 && t < MTLS_SAN_COUNT) ? san_names[t] : "?";
}

int mtls_san_type_parse(const char *name)
{
    int i;
    for (i = 0; i < MTLS_SAN_COUNT; i++) {
        if (!strcasecmp(name, san_names[i])) {
            return i;
        }
    }
    return -1;
}

const char *mtls_hex_lower(apr_pool_t *p, const unsigned char *d,
                           unsigned int n)
{
    static const char digits[] = "0123456789abcdef";
    char *out = apr_palloc(p, n * 2 + 1);
    unsigned int i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

/* An IA5String SAN value; NULL when it holds NUL or control bytes, which
 * a CA should never issue and which could cut or fake a comparison. */
static const char *ia5_value(apr_pool_t *p, const ASN1_STRING *s)
{
    const unsigned char *d = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s), i;

    for (i = 0; i < n; i++) {
        if (d[i] < 0x20 || d[i] >= 0x7f) {
            return NULL;
        }
    }
    return apr_pstrmemdup(p, (const char *)d, n);
}

/* Note one more thing that was dropped; the log shows them all. */
static void add_problem(apr_pool_t *p, mtls_cert_t *c, const char *what)
{
    c->problem = c->problem ? apr_pstrcat(p, c->problem, "; ", what, NULL)
                            : what;
}

static const char *ip_value(apr_pool_t *p, const ASN1_OCTET_STRING *s)
{
    const unsigned char *d = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s);

    if (n == 4) {
        return apr_psprintf(p, "%u.%u.%u.%u", d[0], d[1], d[2], d[3]);
    }
    if (n == 16) {
        /* RFC 5952 text, as people write it in configurations. */
        char buf[64];
        int best = -1, bestlen = 0, i, o = 0;
        unsigned int w[8];
        for (i = 0; i < 8; i++) {
            w[i] = (d[2 * i] << 8) | d[2 * i + 1];
        }
        for (i = 0; i < 8; i++) {
            int j = i;
            while (j < 8 && w[j] == 0) {
                j++;
            }
            if (j - i > bestlen && j - i > 1) {
                best = i;
                bestlen = j - i;
            }
            if (j > i) {
                i = j - 1;
            }
        }
        for (i = 0; i < 8; i++) {
            if (i == best) {
                o += apr_snprintf(buf + o, sizeof(buf) - o, "::");
                i += bestlen - 1;
                continue;
            }
            if (i && i != best + bestlen) {
                buf[o++] = ':';
            }
            o += apr_snprintf(buf + o, sizeof(buf) - o, "%x", w[i]);
        }
        buf[o] = '\0';
        return apr_pstrdup(p, buf);
    }
    return NULL;
}

static const char *upn_value(apr_pool_t *p, const OTHERNAME *on)
{
    unsigned char *utf8 = NULL;
    const char *v;
    int n, i;

    if (OBJ_obj2nid(on->type_id) != NID_ms_upn || !on->value
        || on->value->type != V_ASN1_UTF8STRING) {
        return NULL;
    }
    n = ASN1_STRING_to_UTF8(&utf8, on->value->value.utf8string);
    if (n < 0) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (utf8[i] < 0x20 || utf8[i] == 0x7f) {
            OPENSSL_free(utf8);
            return NULL;
        }
    }
    v = apr_pstrmemdup(p, (const char *)utf8, n);
    OPENSSL_free(utf8);
    return v;
}

/* The SAN URL form of the AD SID (KB5014754), for certificates that a CA
 * issued offline, without the security extension. */
#define SID_URL_PREFIX "tag:microsoft.com,2022-09-14:sid:"

/* szOID_NTDS_CA_SECURITY_EXT and the otherName inside it. */
#define SID_EXT_OID "1.3.6.1.4.1.311.25.2"
#define SID_OTHERNAME_OID "1.3.6.1.4.1.311.25.2.1"

int mtls_is_sid(const char *sid)
{
    const char *s;
    int arcs = 0;

    if (!sid || strncmp(sid, "S-1-", 4)) {
        return 0;
    }
    for (s = sid + 4; *s; ) {
        const char *start = s;
        while (*s >= '0' && *s <= '9') {
            s++;
        }
        /* arcs are 32-bit numbers (the authority up to 48): 1..15 digits */
        if (s == start || s - start > 15 || (*s && *s != '-')) {
            return 0;
        }
        arcs++;
        if (*s == '-') {
            s++;
            if (!*s) {
                return 0;
            }
        }
    }
    return arcs >= 1 && strlen(sid) < 200;
}

int mtls_is_dotted_oid(const char *s)
{
    int arcs = 0;

    if (!s || !*s) {
        return 0;
    }
    for (;;) {
        const char *start = s;
        while (*s >= '0' && *s <= '9') {
            s++;
        }
        if (s == start || s - start > 20) {
            return 0;
        }
        arcs++;
        if (!*s) {
            return arcs >= 2;
        }
        if (*s++ != '.') {
            return 0;
        }
    }
}

static const char *obj_oid(apr_pool_t *p, const ASN1_OBJECT *obj)
{
    char buf[128];
    int n = OBJ_obj2txt(buf, sizeof(buf), obj, 1);

    return n > 0 && n < (int)sizeof(buf) ? apr_pstrdup(p, buf) : NULL;
}

/* Extended key usages OpenSSL names, by the arcs they live under: a name
 * that is not an EKU (a hash, a key type) must not be taken for one. */
static int eku_arc(const char *oid)
{
    static const char *const arcs[] = {
        "1.3.6.1.5.5.7.3.", "1.3.6.1.4.1.311.", "1.3.6.1.5.2.3.",
        "2.16.840.1.113730.4.", NULL
    };
    int i;

    if (!strcmp(oid, "2.5.29.37.0")) {
        return 1;
    }
    for (i = 0; arcs[i]; i++) {
        if (!strncmp(oid, arcs[i], strlen(arcs[i]))) {
            return 1;
        }
    }
    return 0;
}

const char *mtls_eku_oid(apr_pool_t *p, const char *name)
{
    /* The names people write, case-insensitively; others by OpenSSL's
     * exact short or long name. */
    static const struct { const char *name, *oid; } known[] = {
        { "serverAuth", "1.3.6.1.5.5.7.3.1" },
        { "clientAuth", "1.3.6.1.5.5.7.3.2" },
        { "codeSigning", "1.3.6.1.5.5.7.3.3" },
        { "emailProtection", "1.3.6.1.5.5.7.3.4" },
        { "timeStamping", "1.3.6.1.5.5.7.3.8" },
        { "OCSPSigning", "1.3.6.1.5.5.7.3.9" },
        { "msSmartcardLogin", "1.3.6.1.4.1.311.20.2.2" },
        { "msEFS", "1.3.6.1.4.1.311.10.3.4" },
        { "pkInitKDC", "1.3.6.1.5.2.3.5" },
        { "pkInitClientAuth", "1.3.6.1.5.2.3.4" },
        { "anyExtendedKeyUsage", "2.5.29.37.0" },
        { NULL, NULL }
    };
    const char *oid;
    ASN1_OBJECT *obj;
    int i, nid;

    if (!name || !*name) {
        return NULL;
    }
    if (mtls_is_dotted_oid(name)) {
        obj = OBJ_txt2obj(name, 1);
        oid = obj ? obj_oid(p, obj) : NULL;
        ASN1_OBJECT_free(obj);
        return oid;
    }
    for (i = 0; known[i].name; i++) {
        if (!strcasecmp(name, known[i].name)) {
            return known[i].oid;
        }
    }
    nid = OBJ_sn2nid(name);
    if (nid == NID_undef) {
        nid = OBJ_ln2nid(name);
    }
    oid = nid != NID_undef ? obj_oid(p, OBJ_nid2obj(nid)) : NULL;
    return oid && eku_arc(oid) ? oid : NULL;
}

static void collect_eku(apr_pool_t *p, X509 *x, mtls_cert_t *c)
{
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL,
                                               NULL);
    int i, n;

    c->eku = apr_array_make(p, 2, sizeof(const char *));
    c->eku_oids = apr_array_make(p, 2, sizeof(const char *));
    n = eku ? sk_ASN1_OBJECT_num(eku) : 0;
    for (i = 0; i < n; i++) {
        const ASN1_OBJECT *obj = sk_ASN1_OBJECT_value(eku, i);
        const char *oid = obj_oid(p, obj), *name = oid;
        int nid = OBJ_obj2nid(obj);

        if (!oid) {
            continue;
        }
        /* The short name, when it reads back as this OID. */
        if (nid != NID_undef) {
            const char *sn = OBJ_nid2sn(nid), *back = mtls_eku_oid(p, sn);
            if (back && !strcmp(back, oid)) {
                name = sn;
            }
        }
        APR_ARRAY_PUSH(c->eku, const char *) = name;
        APR_ARRAY_PUSH(c->eku_oids, const char *) = oid;
    }
    EXTENDED_KEY_USAGE_free(eku);
}

static void collect_policies(apr_pool_t *p, X509 *x, mtls_cert_t *c)
{
    CERTIFICATEPOLICIES *pol = X509_get_ext_d2i(x, NID_certificate_policies,
                                                NULL, NULL);
    int i, n;

    c->policies = apr_array_make(p, 2, sizeof(const char *));
    n = pol ? sk_POLICYINFO_num(pol) : 0;
    for (i = 0; i < n; i++) {
        const char *oid = obj_oid(p, sk_POLICYINFO_value(pol, i)->policyid);
        if (oid) {
            APR_ARRAY_PUSH(c->policies, const char *) = oid;
        }
    }
    CERTIFICATEPOLICIES_free(pol);
}

/* The SID of the security extension: a GeneralNames holding an otherName
 * SID_OTHERNAME_OID whose value is an OCTET STRING with the SID text.
 * Returns NULL when absent; sets c->problem when malformed. */
static const char *sid_extension(apr_pool_t *p, X509 *x, mtls_cert_t *c)
{
    ASN1_OBJECT *ext_oid = OBJ_txt2obj(SID_EXT_OID, 1);
    ASN1_OBJECT *on_oid = OBJ_txt2obj(SID_OTHERNAME_OID, 1);
    int idx = ext_oid ? X509_get_ext_by_OBJ(x, ext_oid, -1) : -1;
    const char *sid = NULL;
    GENERAL_NAMES *names = NULL;
    const unsigned char *d;
    int i;

    if (idx < 0) {
        goto leave;
    }
    {
        ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(x, idx));
        d = ASN1_STRING_get0_data(os);
        names = d2i_GENERAL_NAMES(NULL, &d, ASN1_STRING_length(os));
    }
    for (i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        const ASN1_TYPE *v;
        if (gn->type != GEN_OTHERNAME
            || OBJ_cmp(gn->d.otherName->type_id, on_oid)) {
            continue;
        }
        v = gn->d.otherName->value;
        if (v && v->type == V_ASN1_OCTET_STRING) {
            const unsigned char *b = ASN1_STRING_get0_data(
                                         v->value.octet_string);
            int n = ASN1_STRING_length(v->value.octet_string);
            /* a NUL would cut the SID short of what the CA wrote */
            if (n > 0 && !memchr(b, 0, n)) {
                sid = apr_pstrmemdup(p, (const char *)b, n);
            }
        }
        break;
    }
    if (!sid || !mtls_is_sid(sid)) {
        add_problem(p, c, "the AD SID security extension is malformed and "
                    "was ignored");
        sid = NULL;
    }
leave:
    GENERAL_NAMES_free(names);
    ASN1_OBJECT_free(ext_oid);
    ASN1_OBJECT_free(on_oid);
    return sid;
}

/* The SID of the certificate: from the extension or the SAN URL; both
 * present and different is a certificate we cannot trust for either. */
static void collect_sid(apr_pool_t *p, X509 *x, mtls_cert_t *c)
{
    const apr_array_header_t *uris = c->san[MTLS_SAN_URI];
    const char *ext = sid_extension(p, x, c), *url = NULL;
    int i;

    for (i = 0; i < uris->nelts; i++) {
        const char *u = APR_ARRAY_IDX(uris, i, const char *);
        if (!strncasecmp(u, SID_URL_PREFIX, sizeof(SID_URL_PREFIX) - 1)) {
            const char *v = u + sizeof(SID_URL_PREFIX) - 1;
            if (!mtls_is_sid(v) || (url && strcmp(url, v))) {
                add_problem(p, c, "the AD SID subjectAltName URL is "
                            "malformed or given twice and was ignored");
                c->sid = NULL;
                return;
            }
            url = v;
        }
    }
    if (ext && url && strcmp(ext, url)) {
        add_problem(p, c, "the AD SID extension and SAN URL disagree; the "
                    "certificate has no SID");
        return;
    }
    c->sid = ext ? ext : url;
}

static void collect_key_ids(apr_pool_t *p, X509 *x, mtls_cert_t *c)
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (X509_pubkey_digest(x, EVP_sha1(), md, &mdlen)) {
        c->sha1_pubkey = mtls_hex_lower(p, md, mdlen);
    }
    if (ski && ASN1_STRING_length(ski) > 0) {
        c->ski = mtls_hex_lower(p, ASN1_STRING_get0_data(ski),
                           ASN1_STRING_length(ski));
        c->ski_is_key_hash = c->sha1_pubkey
                             && !strcmp(c->ski, c->sha1_pubkey);
    }
}

static void collect_sans(apr_pool_t *p, X509 *x, mtls_cert_t *c)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name,
                                            NULL, NULL);
    int i, n;

    for (i = 0; i < MTLS_SAN_COUNT; i++) {
        c->san[i] = apr_array_make(p, 1, sizeof(const char *));
    }
    if (!names) {
        return;
    }
    n = sk_GENERAL_NAME_num(names);
    for (i = 0; i < n; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        const char *v = NULL;
        int type = -1;

        switch (gn->type) {
        case GEN_EMAIL:
            type = MTLS_SAN_EMAIL;
            v = ia5_value(p, gn->d.rfc822Name);
            break;
        case GEN_DNS:
            type = MTLS_SAN_DNS;
            v = ia5_value(p, gn->d.dNSName);
            break;
        case GEN_URI:
            type = MTLS_SAN_URI;
            v = ia5_value(p, gn->d.uniformResourceIdentifier);
            break;
        case GEN_IPADD:
            type = MTLS_SAN_IP;
            v = ip_value(p, gn->d.iPAddress);
            break;
        case GEN_OTHERNAME:
            if (OBJ_obj2nid(gn->d.otherName->type_id) != NID_ms_upn) {
                continue;
            }
            type = MTLS_SAN_UPN;
            v = upn_value(p, gn->d.otherName);
            break;
        default:
            continue;
        }
        if (!v) {
            add_problem(p, c, apr_psprintf(p, "a subjectAltName %s value "
                                           "is malformed and was ignored",
                                           mtls_san_type_name(type)));
            continue;
        }
        APR_ARRAY_PUSH(c->san[type], const char *) = v;
    }
    GENERAL_NAMES_free(names);
}

static const char *serial_hex(apr_pool_t *p, const ASN1_INTEGER *ai)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
    char *hex, *s;
    const char *out;

    if (!bn) {
        return NULL;
    }
    hex = BN_bn2hex(bn);
    BN_free(bn);
    if (!hex) {
        return NULL;
    }
    /* BN_bn2hex keeps a leading zero nibble pair; the field has none. */
    s = hex;
    if (*s == '-') {
        s++;
    }
    while (s[0] == '0' && s[1]) {
        s++;
    }
    out = apr_pstrcat(p, hex[0] == '-' ? "-" : "", s, NULL);
    OPENSSL_free(hex);
    return out;
}

apr_status_t mtls_cert_from_x509(apr_pool_t *p, X509 *x,
                                 mtls_cert_t **out, const char **err)
{
    mtls_cert_t *c = apr_pcalloc(p, sizeof(*c));
    unsigned char md[EVP_MAX_MD_SIZE], *der = NULL, *kder = NULL;
    unsigned int mdlen = 0;
    int len, klen;
    struct tm tm;
    const char *why;

    *out = NULL;
    len = i2d_X509(x, &der);
    if (len <= 0) {
        *err = "cannot encode the certificate";
        return APR_EGENERAL;
    }
    c->der = apr_pmemdup(p, der, len);
    c->der_len = len;
    OPENSSL_free(der);
    if (!EVP_Digest(c->der, c->der_len, md, &mdlen, EVP_sha256(), NULL)) {
        *err = "cannot digest the certificate";
        return APR_EGENERAL;
    }
    c->sha256 = mtls_hex_lower(p, md, mdlen);
    mtls_cert_ecdsa_twins(p, x, c);

    klen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &kder);
    if (klen <= 0
        || !EVP_Digest(kder, klen, md, &mdlen, EVP_sha256(), NULL)) {
        OPENSSL_free(kder);
        *err = "cannot digest the certificate's public key";
        return APR_EGENERAL;
    }
    OPENSSL_free(kder);
    c->spki = mtls_hex_lower(p, md, mdlen);

    c->subject_avas = apr_array_make(p, 4, sizeof(mtls_ava_t));
    c->issuer_avas = apr_array_make(p, 4, sizeof(mtls_ava_t));
    if ((why = mtls_dn_from_x509(p, X509_get_subject_name(x), &c->subject,
                                 &c->subject_canon, c->subject_avas))) {
        add_problem(p, c, apr_psprintf(p, "the subject cannot be decoded: "
                                       "%s; the subject and that attribute "
                                       "have no value", why));
    }
    if ((why = mtls_dn_from_x509(p, X509_get_issuer_name(x), &c->issuer,
                                 &c->issuer_canon, c->issuer_avas))) {
        add_problem(p, c, apr_psprintf(p, "the issuer cannot be decoded: "
                                       "%s; the issuer and that attribute "
                                       "have no value", why));
    }
    c->subject_flat = mtls_dn_flat_x509(p, X509_get_subject_name(x));
    c->issuer_flat = mtls_dn_flat_x509(p, X509_get_issuer_name(x));

    c->serial = serial_hex(p, X509_get0_serialNumber(x));
    if (!c->serial) {
        *err = "cannot read the certificate's serial number";
        return APR_EGENERAL;
    }
    if (!ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm)) {
        *err = "cannot read the certificate's notAfter";
        return APR_EGENERAL;
    }
    c->not_after = apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                tm.tm_hour, tm.tm_min, tm.tm_sec);
    c->not_after_time = apr_time_from_sec((apr_time_t)timegm(&tm));
    if (!ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm)) {
        *err = "cannot read the certificate's notBefore";
        return APR_EGENERAL;
    }
    c->not_before = apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                                 tm.tm_year + 1900, tm.tm_mon + 1,
                                 tm.tm_mday, tm.tm_hour, tm.tm_min,
                                 tm.tm_sec);
    c->not_before_time = apr_time_from_sec((apr_time_t)timegm(&tm));
    collect_sans(p, x, c);
    collect_eku(p, x, c);
    collect_policies(p, x, c);
    collect_sid(p, x, c);
    collect_key_ids(p, x, c);
    *out = c;
    return APR_SUCCESS;
}

apr_status_t mtls_cert_from_pem(apr_pool_t *p, const char *pem,
                                mtls_cert_t **out, const char **err)
{
    BIO *bio;
    X509 *x;
    apr_status_t rv;

    *out = NULL;
    if (!pem || !*pem) {
        *err = "no certificate";
        return APR_EINVAL;
    }
    bio = BIO_new_mem_buf(pem, -1);
    x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!x) {
        *err = "the client certificate is not valid PEM/DER";
        return APR_EINVAL;
    }
    rv = mtls_cert_from_x509(p, x, out, err);
    X509_free(x);
    return rv;
}

int mtls_cert_out_of_validity(const mtls_cert_t *c, apr_time_t now)
{
    /* notAfter is the last valid second: expired once it is over. */
    if (now >= c->not_after_time + apr_time_from_sec(1)) {
        return 1;
    }
    return now < c->not_before_time ? -1 : 0;
}

long mtls_cert_days_left(const mtls_cert_t *c, apr_time_t now)
{
    apr_time_t diff = c->not_after_time - now;
    apr_time_t day = MTLS_CERT_DAY;
    long days = (long)(diff / day);

    /* Whole days, rounded towards the past: -0.5 days is -1.  In
     * microseconds, so that expired by less than a second is -1 too. */
    if (diff < 0 && diff % day) {
        days--;
    }
    return days;
}

apr_time_t mtls_cert_days_left_changes(const mtls_cert_t *c, apr_time_t now)
{
    /* days-left is floor((notAfter - now) / day): it holds while
     * notAfter - now >= days * day, and drops one microsecond later. */
    return c->not_after_time
           - (apr_time_t)mtls_cert_days_left(c, now) * MTLS_CERT_DAY
           + 1;
}

const char *mtls_cert_serial_hex(apr_pool_t *p, const ASN1_INTEGER *serial)
{
    return serial_hex(p, serial);
}
