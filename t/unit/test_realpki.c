/* What real PKIs put in certificates (issue 12): several URI SANs, EKUs,
 * policies, the AD SID and key identifiers, validity, one-line DNs,
 * grid-mapfiles and FakeBasicAuth password files. */
#include <apr_strings.h>
#include <apr_time.h>
#include <apr_lib.h>

#include "unit.h"
#include "mtls_cert.h"
#include "mtls_dn.h"
#include "mtls_field.h"
#include "mtls_rule.h"
#include "mtls_filefmt.h"
#include "mtls_ldapfilter.h"

#define SID "S-1-5-21-3623811015-3361044348-30300820-1013"
/* The security extension 1.3.6.1.4.1.311.25.2 holding SID. */
#define SID_EXT "1.3.6.1.4.1.311.25.2=DER:303ea03c060a2b060104018237190201" \
    "a02e042c532d312d352d32312d333632333831313031352d333336313034343334382d" \
    "33303330303832302d31303133"
#define SID_URL "tag:microsoft.com,2022-09-14:sid:" SID

static mtls_cert_t *facts(apr_pool_t *p, X509 *x)
{
    mtls_cert_t *c = NULL;
    const char *err = NULL;

    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    X509_free(x);
    return c;
}

static const char *joined(apr_pool_t *p, const apr_array_header_t *a)
{
    return a ? apr_array_pstrcat(p, a, ' ') : NULL;
}

static const char *field_text(apr_pool_t *p, const char *name,
                              const mtls_cert_t *c)
{
    const mtls_field_t *f = NULL;

    if (mtls_field_parse(p, name, &f)) {
        return "(no such field)";
    }
    return mtls_list_join(p, mtls_field_values(p, f, c, apr_time_now()));
}

static void test_first_match(apr_pool_t *p, EVP_PKEY *k)
{
    static const char *const uris[] = {
        "https://lab.example/svc", "urn:uuid:6e8bc430-9c3a-11d9-9669",
        "spiffe://lab.example/ns/prod/sa/api", NULL
    };
    mtls_cert_t *c = facts(p, unit_cert_ext(k, NULL, uris,
                                            "20200101000000Z",
                                            "20351231235959Z"));
    mtls_rule_t *r = NULL;
    apr_array_header_t *g = apr_array_make(p, 2, sizeof(const char *));

    if (!c) {
        return;
    }
    CHECK(!mtls_rule_compile(p, "san:uri",
                             "^spiffe://lab\\.example/ns/([^/]+)/sa/([^/]+)$",
                             "$2.$1", &r));
    CHECK_STR(r ? mtls_rule_user(p, r, c, 0) : NULL, "api.prod");
    CHECK(!mtls_rule_compile(p, "san:uri", NULL, NULL, &r));
    CHECK_STR(r ? mtls_rule_user(p, r, c, 0) : NULL,
              "https://lab.example/svc");
    /* a value that matches but builds nothing usable is passed over */
    CHECK(!mtls_rule_compile(p, "san:uri", "^(https://x)?.*(api|svc)$",
                             "$1", &r));
    CHECK(r && mtls_rule_user(p, r, c, 0) == NULL);
    CHECK(!mtls_rule_compile(p, "san:uri", "^(?:https|spiffe)://([^/]+)/",
                             "$1", &r));
    if (r) {
        mtls_rule_groups(p, r, c, 0, g);
    }
    CHECK_STR(joined(p, g), "lab.example lab.example");
}

static void test_eku_policies(apr_pool_t *p, EVP_PKEY *k)
{
    static const char *const both[] = {
        "extendedKeyUsage=clientAuth,msSmartcardLogin,1.2.3.4.5",
        "certificatePolicies=1.3.6.1.4.1.99999.1.2,2.16.840.1.101.3.2.1.3.13",
        NULL
    };
    static const char *const server[] = {
        "extendedKeyUsage=serverAuth", NULL
    };
    mtls_cert_t *c = facts(p, unit_cert_ext(k, both, NULL, "20200101000000Z",
                                            "20351231235959Z"));
    mtls_cert_t *s = facts(p, unit_cert_ext(k, server, NULL,
                                            "20200101000000Z",
                                            "20351231235959Z"));
    mtls_cert_t *none = facts(p, unit_cert_ext(k, NULL, NULL,
                                               "20200101000000Z",
                                               "20351231235959Z"));

    if (!c || !s || !none) {
        return;
    }
    CHECK_STR(joined(p, c->eku), "clientAuth msSmartcardLogin 1.2.3.4.5");
    CHECK_STR(joined(p, c->eku_oids),
              "1.3.6.1.5.5.7.3.2 1.3.6.1.4.1.311.20.2.2 1.2.3.4.5");
    CHECK_STR(field_text(p, "eku", c),
              "clientAuth, msSmartcardLogin, 1.2.3.4.5");
    CHECK_STR(field_text(p, "policies", c),
              "1.3.6.1.4.1.99999.1.2, 2.16.840.1.101.3.2.1.3.13");
    CHECK_STR(field_text(p, "eku", s), "serverAuth");
    CHECK_STR(field_text(p, "eku", none), "");
    CHECK_STR(field_text(p, "policies", none), "");

    CHECK_STR(mtls_eku_oid(p, "clientauth"), "1.3.6.1.5.5.7.3.2");
    CHECK_STR(mtls_eku_oid(p, "serverAuth"), "1.3.6.1.5.5.7.3.1");
    CHECK_STR(mtls_eku_oid(p, "emailProtection"), "1.3.6.1.5.5.7.3.4");
    CHECK_STR(mtls_eku_oid(p, "codeSigning"), "1.3.6.1.5.5.7.3.3");
    CHECK_STR(mtls_eku_oid(p, "timeStamping"), "1.3.6.1.5.5.7.3.8");
    CHECK_STR(mtls_eku_oid(p, "OCSPSigning"), "1.3.6.1.5.5.7.3.9");
    CHECK_STR(mtls_eku_oid(p, "msSmartcardLogin"), "1.3.6.1.4.1.311.20.2.2");
    CHECK_STR(mtls_eku_oid(p, "TLS Web Client Authentication"),
              "1.3.6.1.5.5.7.3.2");
    CHECK_STR(mtls_eku_oid(p, "1.2.3.4.5"), "1.2.3.4.5");
    /* names that are not EKUs, and things that are not OIDs */
    CHECK(mtls_eku_oid(p, "sha256") == NULL);
    CHECK(mtls_eku_oid(p, "CN") == NULL);
    CHECK(mtls_eku_oid(p, "clientAuthX") == NULL);
    CHECK(mtls_eku_oid(p, "1..2") == NULL);
    CHECK(mtls_eku_oid(p, "1") == NULL);
    CHECK(mtls_eku_oid(p, "") == NULL);
    CHECK(mtls_is_dotted_oid("2.5.29.32.0"));
    CHECK(!mtls_is_dotted_oid("2.5.29.32."));
    CHECK(!mtls_is_dotted_oid(".2.5"));
    CHECK(!mtls_is_dotted_oid("2.5a"));
}

static void test_ad_forms(apr_pool_t *p, EVP_PKEY *k)
{
    static const char *const ext[] = { SID_EXT,
        "subjectKeyIdentifier=hash", NULL };
    static const char *const url[] = { SID_URL, NULL };
    static const char *const other_url[] = {
        "tag:microsoft.com,2022-09-14:sid:S-1-5-21-1-2-3-500", NULL
    };
    static const char *const bad_url[] = {
        "tag:microsoft.com,2022-09-14:sid:S-1-5-21-x", NULL
    };
    static const char *const chosen_ski[] = {
        "subjectKeyIdentifier=00112233445566778899aabbccddeeff00112233", NULL
    };
    mtls_cert_t *c = facts(p, unit_cert_ext(k, ext, NULL, "20200101000000Z",
                                            "20351231235959Z"));
    mtls_cert_t *u = facts(p, unit_cert_ext(k, NULL, url, "20200101000000Z",
                                            "20351231235959Z"));
    mtls_cert_t *both = facts(p, unit_cert_ext(k, ext, url,
                                               "20200101000000Z",
                                               "20351231235959Z"));
    mtls_cert_t *clash = facts(p, unit_cert_ext(k, ext, other_url,
                                                "20200101000000Z",
                                                "20351231235959Z"));
    mtls_cert_t *bad = facts(p, unit_cert_ext(k, NULL, bad_url,
                                              "20200101000000Z",
                                              "20351231235959Z"));
    mtls_cert_t *ski = facts(p, unit_cert_ext(k, chosen_ski, NULL,
                                              "20200101000000Z",
                                              "20351231235959Z"));
    const mtls_field_t *f = NULL;
    unsigned char md[20];
    unsigned int mdlen = 0;
    X509 *x;

    if (!c || !u || !both || !clash || !bad || !ski) {
        return;
    }
    CHECK_STR(c->sid, SID);
    CHECK_STR(u->sid, SID);
    CHECK_STR(both->sid, SID);
    CHECK(clash->sid == NULL);
    CHECK_HAS(clash->problem, "disagree");
    CHECK(bad->sid == NULL);
    CHECK_HAS(bad->problem, "SID");
    CHECK_STR(field_text(p, "sid", c), SID);
    CHECK_STR(field_text(p, "sid", bad), "");

    /* sha1-pubkey: SHA-1 of the key bits, the RFC 5280 key identifier */
    x = unit_cert_ext(k, NULL, NULL, "20200101000000Z", "20351231235959Z");
    X509_pubkey_digest(x, EVP_sha1(), md, &mdlen);
    CHECK_STR(c->sha1_pubkey, unit_hex(p, md, mdlen));
    X509_free(x);
    CHECK_INT(strlen(c->sha1_pubkey ? c->sha1_pubkey : ""), 40);
    CHECK_STR(c->ski, c->sha1_pubkey);
    CHECK(c->ski_is_key_hash);
    CHECK_STR(ski->ski, "00112233445566778899aabbccddeeff00112233");
    CHECK(!ski->ski_is_key_hash);
    CHECK(u->ski == NULL);

    /* strength of every new field */
    CHECK(!mtls_field_parse(p, "sha1-pubkey", &f) && mtls_field_is_strong(f)
          && mtls_field_strong_for(f, ski, 0));
    CHECK(!mtls_field_parse(p, "ski", &f) && !mtls_field_is_strong(f));
    CHECK(f && mtls_field_strong_for(f, c, 0));
    CHECK(f && !mtls_field_strong_for(f, ski, 1));
    CHECK(!mtls_field_parse(p, "sid", &f) && !mtls_field_is_strong(f));
    CHECK(f && mtls_field_strong_for(f, c, 1));
    CHECK(f && !mtls_field_strong_for(f, c, 0));
    CHECK(f && !mtls_field_strong_for(f, bad, 1));
    CHECK(!mtls_field_parse(p, "eku", &f) && !mtls_field_strong_for(f, c, 1));
    CHECK(!mtls_field_parse(p, "policies", &f)
          && !mtls_field_strong_for(f, c, 1));
}

static void test_validity(apr_pool_t *p, EVP_PKEY *k)
{
    mtls_cert_t *c = facts(p, unit_cert_ext(k, NULL, NULL, "20300101000000Z",
                                            "20300101000010Z"));
    apr_time_t nb = apr_time_from_sec(1893456000);   /* 2030-01-01 */

    if (!c) {
        return;
    }
    CHECK_STR(c->not_before, "2030-01-01T00:00:00Z");
    CHECK_STR(c->not_after, "2030-01-01T00:00:10Z");
    CHECK_INT(mtls_cert_out_of_validity(c, nb - 1), -1);
    CHECK_INT(mtls_cert_out_of_validity(c, nb), 0);
    /* notAfter is valid through its last microsecond */
    CHECK_INT(mtls_cert_out_of_validity(c, nb + apr_time_from_sec(11) - 1),
              0);
    CHECK_INT(mtls_cert_out_of_validity(c, nb + apr_time_from_sec(11)), 1);
}

static void test_legacy_dn(apr_pool_t *p)
{
    const char *a = NULL, *b = NULL;

    CHECK(!mtls_dn_canon(p, "/C=DE/O=Lab/CN=alice", &a));
    CHECK(!mtls_dn_canon(p, "CN=alice,O=Lab,C=DE", &b));
    CHECK_STR(a, b);
    /* commas are plain text in the one-line form */
    CHECK(!mtls_dn_canon(p, "/O=Lab, Inc./OU=dev/CN=Doe, John", &a));
    CHECK(!mtls_dn_canon(p, "CN=Doe\\, John,OU=dev,O=Lab\\, Inc.", &b));
    CHECK_STR(a, b);
    /* X509_NAME_oneline writes UTF-8 bytes as \xHH; raw UTF-8 too */
    CHECK(!mtls_dn_canon(p, "/O=Lab/CN=J\\xC3\\xBCrgen \\xC3\\x84", &a));
    CHECK(!mtls_dn_canon(p, "CN=J\xc3\xbcrgen \xc3\x84,O=Lab", &b));
    CHECK_STR(a, b);
    CHECK(!mtls_dn_canon(p, "/O=Lab/CN=J\xc3\xbcrgen \xc3\x84", &a));
    CHECK_STR(a, b);
    /* a '/' that does not start TYPE= is part of the value */
    CHECK(!mtls_dn_canon(p, "/O=Lab/OU=a/b/CN=x", &a));
    CHECK(!mtls_dn_canon(p, "CN=x,OU=a/b,O=Lab", &b));
    CHECK_STR(a, b);
    CHECK(!mtls_dn_canon(p, "/emailAddress=e@lab.example/CN=eve/UID=e1", &a));
    CHECK(!mtls_dn_canon(p, "UID=e1,CN=eve,emailAddress=e@lab.example", &b));
    CHECK_STR(a, b);
    /* case and spaces as for RFC 4514 */
    CHECK(!mtls_dn_canon(p, "/c=de/o=LAB/cn=Alice", &a));
    CHECK(!mtls_dn_canon(p, "CN=alice,O=Lab,C=DE", &b));
    CHECK_STR(a, b);
    /* errors */
    CHECK_HAS(mtls_dn_canon(p, "/", &a), "not a DN");
    CHECK_HAS(mtls_dn_canon(p, "/XX=1/CN=a", &a), "unknown attribute type");
    CHECK_HAS(mtls_dn_canon(p, "/CN=a\\x00b", &a), "NUL");
    CHECK_HAS(mtls_dn_canon(p, "/CN", &a), "not a DN");
}

static void test_flat(apr_pool_t *p, EVP_PKEY *k)
{
    static const char *const eve[] = {
        "O=Lab", "CN=eve", "+UID=e123", NULL
    };
    mtls_cert_t *c = facts(p, unit_cert_simple(k, "0A", "20351231235959Z",
                                               eve));
    mtls_cert_t *plain = facts(p, unit_cert_ext(k, NULL, NULL,
                                                "20200101000000Z",
                                                "20351231235959Z"));
    const char *legacy = NULL;
    mtls_map_t *m = NULL;

    if (!c || !plain) {
        return;
    }
    CHECK(plain->subject_flat == NULL);
    CHECK(c->subject_flat != NULL);
    CHECK(!mtls_dn_canon(p, "/O=Lab/CN=eve/UID=e123", &legacy));
    CHECK_STR(c->subject_flat, legacy);
    CHECK(strcmp(c->subject_canon, legacy ? legacy : ""));
    CHECK(!mtls_map_parse(p, "m", "\"subject:/O=Lab/CN=eve/UID=e123\" eve\n",
                          0, &m));
    CHECK_STR(m && mtls_map_lookup(p, m, c)
              ? mtls_map_lookup(p, m, c)->user : NULL, "eve");
    CHECK(!mtls_map_parse(p, "m", "\"issuer-serial:0A//O=Lab/CN=eve/UID=e123"
                          "\" eve2\n", 0, &m));
    CHECK_STR(m && mtls_map_lookup(p, m, c)
              ? mtls_map_lookup(p, m, c)->user : NULL, "eve2");
}

static const char *map_err(apr_pool_t *p, const char *text,
                           mtls_map_format_e fmt)
{
    mtls_map_t *m = (mtls_map_t *)1;
    const char *err = mtls_map_parse_format(p, "f", text, fmt, &m);
    return err && !m ? err : NULL;
}

static void test_new_keys(apr_pool_t *p, EVP_PKEY *k)
{
    static const char *const ext[] = { SID_EXT, "subjectKeyIdentifier=hash",
                                       NULL };
    static const char *const chosen[] = {
        "subjectKeyIdentifier=00112233445566778899aabbccddeeff00112233", NULL
    };
    mtls_cert_t *c = facts(p, unit_cert_ext(k, ext, NULL, "20200101000000Z",
                                            "20351231235959Z"));
    mtls_cert_t *ch = facts(p, unit_cert_ext(k, chosen, NULL,
                                             "20200101000000Z",
                                             "20351231235959Z"));
    const mtls_map_entry_t *e;
    mtls_map_t *m = NULL;
    const char *text;

    if (!c || !ch) {
        return;
    }
    text = apr_psprintf(p, "sid:%s bysid\n", SID);
    CHECK(!mtls_map_parse(p, "m", text, 0, &m));
    e = m ? mtls_map_lookup(p, m, c) : NULL;
    CHECK_STR(e ? e->user : NULL, "bysid");
    CHECK(e && e->kind == MTLS_KEY_SID);
    CHECK(e && mtls_map_entry_strong(e, c, 1));
    CHECK(e && !mtls_map_entry_strong(e, c, 0));
    /* lower-case s, as people may type it */
    text = apr_psprintf(p, "sid:s%s bysid\n", SID + 1);
    CHECK(!mtls_map_parse(p, "m", text, 0, &m));
    CHECK(m && mtls_map_lookup(p, m, c) != NULL);

    /* ski: colons and case are free; strong only as the key's hash */
    text = apr_psprintf(p, "ski:%s byski\n", apr_pstrcat(p, "", c->ski,
                                                        NULL));
    {
        char *up = apr_pstrdup(p, text);
        char *s;
        for (s = up + 4; *s && *s != ' '; s++) {
            *s = apr_toupper(*s);
        }
        CHECK(!mtls_map_parse(p, "m", up, 0, &m));
    }
    e = m ? mtls_map_lookup(p, m, c) : NULL;
    CHECK_STR(e ? e->user : NULL, "byski");
    CHECK(e && e->kind == MTLS_KEY_SKI && mtls_map_entry_strong(e, c, 0));
    CHECK(!mtls_map_parse(p, "m", "ski:00:11:22:33:44:55:66:77:88:99:aa:bb:"
                          "cc:dd:ee:ff:00:11:22:33 chosen\n", 0, &m));
    e = m ? mtls_map_lookup(p, m, ch) : NULL;
    CHECK_STR(e ? e->user : NULL, "chosen");
    CHECK(e && !mtls_map_entry_strong(e, ch, 1));

    text = apr_psprintf(p, "sha1-pubkey:%s bykey\n", c->sha1_pubkey);
    CHECK(!mtls_map_parse(p, "m", text, 0, &m));
    e = m ? mtls_map_lookup(p, m, c) : NULL;
    CHECK_STR(e ? e->user : NULL, "bykey");
    CHECK(e && e->kind == MTLS_KEY_SHA1_PUBKEY
          && mtls_map_entry_strong(e, c, 0));
    /* the same key in another certificate: the same user */
    e = m ? mtls_map_lookup(p, m, ch) : NULL;
    CHECK_STR(e ? e->user : NULL, "bykey");

    /* the strong key wins over a weaker one for the same certificate */
    text = apr_psprintf(p, "sid:%s bysid\nsha1-pubkey:%s bykey\n", SID,
                        c->sha1_pubkey);
    CHECK(!mtls_map_parse(p, "m", text, 0, &m));
    e = m ? mtls_map_lookup(p, m, c) : NULL;
    CHECK_STR(e ? e->user : NULL, "bykey");
    CHECK(!mtls_map_parse(p, "m", apr_psprintf(p, "sid:%s\n", SID), 1, &m));
    CHECK(m && mtls_map_lookup(p, m, c) != NULL);

    /* an unquoted one-line DN cut at its first space */
    CHECK_HAS(map_err(p, "subject:/O=Lab, Inc./OU=dev/CN=x u\n",
                      MTLS_MAPFMT_MAP), "reads as the rest of its DN");
    CHECK_HAS(map_err(p, "sid:S-1-x u\n", MTLS_MAPFMT_MAP), "f:1:");
    CHECK_HAS(map_err(p, "sid:S-1-x u\n", MTLS_MAPFMT_MAP), "S-1-5-21");
    CHECK_HAS(map_err(p, "ski:0g u\n", MTLS_MAPFMT_MAP), "not hex");
    CHECK_HAS(map_err(p, "ski:012 u\n", MTLS_MAPFMT_MAP), "hex digit pairs");
    CHECK_HAS(map_err(p, "sha1-pubkey:0011 u\n", MTLS_MAPFMT_MAP),
              "want 40 hex digits");
    CHECK_HAS(map_err(p, "nope:1 u\n", MTLS_MAPFMT_MAP), "sid:S-1-");
}

static void test_gridmap_fakebasic(apr_pool_t *p, EVP_PKEY *k)
{
    static const char *const doe[] = {
        "O=Lab, Inc.", "OU=dev", "CN=Doe, John", NULL
    };
    static const char *const juergen[] = {
        "C=DE", "O=Lab", "CN=J\xc3\xbcrgen \xc3\x84", NULL
    };
    mtls_cert_t *d = facts(p, unit_cert_simple(k, "1A", "20351231235959Z",
                                               doe));
    mtls_cert_t *j = facts(p, unit_cert_simple(k, "1B", "20351231235959Z",
                                               juergen));
    const mtls_map_entry_t *e;
    mtls_map_t *m = NULL;

    if (!d || !j) {
        return;
    }
    CHECK(!mtls_map_parse_format(p, "grid-mapfile",
        "# Globus grid-mapfile\n"
        "\"/O=Lab, Inc./OU=dev/CN=Doe, John\" jdoe,doe2\n"
        "\"/C=DE/O=Lab/CN=J\\xC3\\xBCrgen \\xC3\\x84\" juergen\n"
        "\"CN=other,O=Lab\" other # RFC 4514 works too\n",
        MTLS_MAPFMT_GRIDMAP, &m));
    CHECK_INT(m ? m->entries : 0, 3);
    e = m ? mtls_map_lookup(p, m, d) : NULL;
    CHECK_STR(e ? e->user : NULL, "jdoe");
    CHECK(e && e->groups->nelts == 0 && !mtls_map_entry_strong(e, d, 1));
    e = m ? mtls_map_lookup(p, m, j) : NULL;
    CHECK_STR(e ? e->user : NULL, "juergen");
    CHECK_HAS(map_err(p, "\"/CN=a\"\n", MTLS_MAPFMT_GRIDMAP),
              "f:1: DN without an account");
    CHECK_HAS(map_err(p, "\"/CN=a\" u x\n", MTLS_MAPFMT_GRIDMAP), "f:1:");
    CHECK_HAS(map_err(p, "\"/CN=a u\n", MTLS_MAPFMT_GRIDMAP),
              "unterminated quote");
    CHECK_HAS(map_err(p, "\"/XX=a\" u\n", MTLS_MAPFMT_GRIDMAP),
              "unknown attribute type");
    CHECK_HAS(map_err(p, "\"/CN=a\" u\n\"/CN=A\" v\n", MTLS_MAPFMT_GRIDMAP),
              "f:2: DN already given on line 1");

    CHECK(!mtls_map_parse_format(p, "htpasswd",
        "/O=Lab, Inc./OU=dev/CN=Doe, John:xxj31ZMTZzkVA\n"
        "/C=DE/O=Lab/CN=J\\xC3\\xBCrgen \\xC3\\x84:$apr1$x$y\n",
        MTLS_MAPFMT_FAKEBASICAUTH, &m));
    e = m ? mtls_map_lookup(p, m, d) : NULL;
    CHECK_STR(e ? e->user : NULL, "/O=Lab, Inc./OU=dev/CN=Doe, John");
    CHECK(e && !mtls_map_entry_strong(e, d, 1));
    e = m ? mtls_map_lookup(p, m, j) : NULL;
    CHECK_STR(e ? e->user : NULL, "/C=DE/O=Lab/CN=J\\xC3\\xBCrgen \\xC3\\x84");
    CHECK_HAS(map_err(p, "alice:xxj31ZMTZzkVA\n", MTLS_MAPFMT_FAKEBASICAUTH),
              "f:1: 'alice' is not a one-line DN");
    CHECK_HAS(map_err(p, "/CN=a\n", MTLS_MAPFMT_FAKEBASICAUTH),
              "USER:PASSWORD-HASH");
}

static mtls_ldapfilter_t *lf(apr_pool_t *p, const char *text)
{
    mtls_ldapfilter_t *f = NULL;
    const char *err = mtls_ldapfilter_parse(p, text, MTLS_LDAPFILTER_USER,
                                            &f);
    CHECK_STR(err, NULL);
    return f;
}

/* The AD placeholders of the directory: {sid} only when trusted,
 * {ski!ad} and {sha1-pubkey!ad} in altSecurityIdentities' hex, and the
 * strength of a filter from what each of its branches proves. */
static void test_ldap_ad(apr_pool_t *p, EVP_PKEY *k)
{
    static const char *const ext[] = { SID_EXT,
        "subjectKeyIdentifier=hash", NULL };
    static const char *const chosen[] = {
        "subjectKeyIdentifier=00112233445566778899aabbccddeeff00112233", NULL
    };
    mtls_cert_t *c = facts(p, unit_cert_ext(k, ext, NULL, "20200101000000Z",
                                            "20351231235959Z"));
    mtls_cert_t *ch = facts(p, unit_cert_ext(k, chosen, NULL,
                                             "20200101000000Z",
                                             "20351231235959Z"));
    mtls_ldapfilter_t *sid = lf(p, "(objectSid={sid})");
    mtls_ldapfilter_t *ski = lf(p, "(altSecurityIdentities=X509:<SKI>{ski!ad})");
    mtls_ldapfilter_t *sha = lf(p, "(altSecurityIdentities=X509:<SHA1-PUKEY>"
                                   "{sha1-pubkey!ad})");
    mtls_ldapfilter_t *f;
    const char *err;

    if (!c || !ch || !sid || !ski || !sha) {
        return;
    }
    CHECK_STR(mtls_ldapfilter_render_sid(p, sid, c, NULL, NULL, 1),
              "(objectSid=" SID ")");
    /* an untrusted SID finds nothing, never a search without it */
    CHECK(mtls_ldapfilter_render_sid(p, sid, c, NULL, NULL, 0) == NULL);
    CHECK(mtls_ldapfilter_render(p, sid, c, NULL, NULL) == NULL);
    CHECK(mtls_ldapfilter_render_sid(p, sid, ch, NULL, NULL, 1) == NULL);
    CHECK(mtls_ldapfilter_uses_sid(sid) && !mtls_ldapfilter_uses_sid(ski));
    CHECK_STR(mtls_ldapfilter_render(p, ski, ch, NULL, NULL),
              "(altSecurityIdentities=X509:<SKI>"
              "00112233445566778899AABBCCDDEEFF00112233)");
    {
        char *up = apr_pstrdup(p, c->sha1_pubkey), *u;
        for (u = up; *u; u++) {
            *u = apr_toupper(*u);
        }
        CHECK_STR(mtls_ldapfilter_render(p, sha, c, NULL, NULL),
                  apr_pstrcat(p, "(altSecurityIdentities=X509:<SHA1-PUKEY>",
                              up, ")", NULL));
    }
    /* strength: a trusted SID and the key's hash are strong; an SKI only
     * when it is the hash of the certificate's own key */
    CHECK(mtls_ldapfilter_strong_for(sid, c));
    CHECK(mtls_ldapfilter_strong_for(sha, c) && mtls_ldapfilter_strong_for(sha, ch));
    CHECK(mtls_ldapfilter_strong_for(ski, c));
    CHECK(!mtls_ldapfilter_strong_for(ski, ch));
    CHECK(!mtls_ldapfilter_is_strong(ski));
    /* an OR is as strong as its weakest branch, an AND as its strongest */
    f = lf(p, "(|(altSecurityIdentities=X509:<SHA1-PUKEY>{sha1-pubkey!ad})"
              "(mail={san:email}))");
    CHECK(f && !mtls_ldapfilter_strong_for(f, c));
    f = lf(p, "(|(userCertificate;binary={cert})(mail={san:email}))");
    CHECK(f && !mtls_ldapfilter_is_strong(f));
    f = lf(p, "(&(objectClass=user)(|(objectSid={sid})"
              "(altSecurityIdentities=X509:<SKI>{ski!ad})))");
    CHECK(f && mtls_ldapfilter_strong_for(f, c) && !mtls_ldapfilter_strong_for(f, ch));
    f = lf(p, "(&(mail={san:email})(!(x={sha256})))");
    CHECK(f && !mtls_ldapfilter_is_strong(f));
    f = lf(p, "(&(mail={san:email})(x={sha256}))");
    CHECK(f && mtls_ldapfilter_is_strong(f));
    f = lf(p, "(|(&(i={issuer})(s={serial}))(a=X509:<I>{issuer!ad}<SR>{serial!ad}))");
    CHECK(f && mtls_ldapfilter_is_strong(f));
    f = lf(p, "(|(i={issuer})(s={serial}))");
    CHECK(f && !mtls_ldapfilter_is_strong(f));
    err = mtls_ldapfilter_parse(p, "(x={sid!ad})", MTLS_LDAPFILTER_USER, &f);
    CHECK_HAS(err, "{sha1-pubkey!ad}");
}

void test_realpki(apr_pool_t *p)
{
    EVP_PKEY *k = unit_key();

    test_first_match(p, k);
    test_eku_policies(p, k);
    test_ad_forms(p, k);
    test_validity(p, k);
    test_legacy_dn(p);
    test_flat(p, k);
    test_new_keys(p, k);
    test_gridmap_fakebasic(p, k);
    test_ldap_ad(p, k);
    EVP_PKEY_free(k);
}
