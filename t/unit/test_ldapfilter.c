/* LDAP filter templates (mtls_ldapfilter.c): parsing, every placeholder,
 * RFC 4515 escaping, strength, and the AD and GSER forms. */
#include <apr_strings.h>

#include "unit.h"
#include "mtls_ldapfilter.h"

static const char *render(apr_pool_t *p, const char *tmpl,
                          const mtls_cert_t *c, const char *user)
{
    mtls_ldapfilter_t *f;
    const char *err = mtls_ldapfilter_parse(p, tmpl, MTLS_LDAPFILTER_USER, &f);
    if (err) {
        return apr_pstrcat(p, "ERROR: ", err, NULL);
    }
    return mtls_ldapfilter_render(p, f, c, user, NULL);
}

static int strong(apr_pool_t *p, const char *tmpl)
{
    mtls_ldapfilter_t *f;
    return mtls_ldapfilter_parse(p, tmpl, MTLS_LDAPFILTER_USER, &f)
           ? -1 : mtls_ldapfilter_is_strong(f);
}

static void test_parse_errors(apr_pool_t *p)
{
    mtls_ldapfilter_t *f = (mtls_ldapfilter_t *)1;

    CHECK_HAS(mtls_ldapfilter_parse(p, "uid={user}", MTLS_LDAPFILTER_USER,
                                    &f), "must be in parentheses");
    CHECK(f == NULL);
    CHECK_HAS(mtls_ldapfilter_parse(p, "(uid={nope})", MTLS_LDAPFILTER_USER,
                                    &f), "unknown placeholder {nope}");
    CHECK_HAS(mtls_ldapfilter_parse(p, "(uid={days-left})",
                                    MTLS_LDAPFILTER_USER, &f),
              "unknown placeholder {days-left}");
    CHECK_HAS(mtls_ldapfilter_parse(p, "(uid={user)", MTLS_LDAPFILTER_USER,
                                    &f), "unclosed '{'");
    CHECK_HAS(mtls_ldapfilter_parse(p, "(uid=user})", MTLS_LDAPFILTER_USER,
                                    &f), "'}' without '{'");
    CHECK_HAS(mtls_ldapfilter_parse(p, "(uid={user}", MTLS_LDAPFILTER_USER,
                                    &f), "unclosed '('");
    CHECK_HAS(mtls_ldapfilter_parse(p, "(uid={user}))", MTLS_LDAPFILTER_USER,
                                    &f), "unmatched ')'");
    CHECK_HAS(mtls_ldapfilter_parse(p, "(uid={user})(cn=x)",
                                    MTLS_LDAPFILTER_USER, &f),
              "more than one filter");
    CHECK_HAS(mtls_ldapfilter_parse(p, "(objectClass=person)",
                                    MTLS_LDAPFILTER_USER, &f),
              "no placeholder");
    CHECK_HAS(mtls_ldapfilter_parse(p, "(member={dn})", MTLS_LDAPFILTER_USER,
                                    &f), "{dn} is for MTLSLDAPGroupFilter");
    CHECK_HAS(mtls_ldapfilter_parse(p, "(member={cert})",
                                    MTLS_LDAPFILTER_GROUP, &f),
              "a group filter knows {dn} and {user}");
    CHECK(mtls_ldapfilter_parse(p, MTLS_LDAP_DEFAULT_GROUP_FILTER,
                                MTLS_LDAPFILTER_GROUP, &f) == NULL && f);
    CHECK(mtls_ldapfilter_parse(p, MTLS_LDAP_DEFAULT_USER_FILTER,
                                MTLS_LDAPFILTER_USER, &f) == NULL && f);
}

static void test_escape(apr_pool_t *p)
{
    CHECK_STR(mtls_ldap_escape(p, "*)(uid=*", 8), "\\2a\\29\\28uid=\\2a");
    CHECK_STR(mtls_ldap_escape(p, "a\\b", 3), "a\\5cb");
    CHECK_STR(mtls_ldap_escape(p, "a\0b", 3), "a\\00b");
    CHECK_STR(mtls_ldap_escape(p, "J\xc3\xbc", 3), "J\\c3\\bc");
    CHECK_STR(mtls_ldap_escape(p, "", 0), "");
}

static void test_ad(apr_pool_t *p, const mtls_cert_t *c)
{
    CHECK_STR(mtls_ldap_ad_serial(p, "AB01"), "01AB");
    CHECK_STR(mtls_ldap_ad_serial(p, "1200000000AC11000000002B"),
              "2B0000000011AC0000000012");
    CHECK_STR(mtls_ldap_ad_serial(p, "ABC"), "BC0A");
    CHECK_STR(mtls_ldap_ad_dn(p, c->issuer_avas), "O=Lab\\, Inc.,CN=Unit CA");
    CHECK_STR(render(p, "(altSecurityIdentities=X509:<I>{issuer!ad}<SR>"
                     "{serial!ad})", c, NULL),
              "(altSecurityIdentities=X509:<I>O=Lab\\5c, Inc.,CN=Unit CA"
              "<SR>01AB)");
    CHECK_STR(render(p, "(altSecurityIdentities=X509:<S>{subject!ad})", c,
                     NULL),
              "(altSecurityIdentities=X509:<S>DC=example,DC=lab,"
              "O=Lab\\5c, Inc.,OU=dev,OU=ops,UID=jdoe,CN=Doe\\5c, John)");
}

static void test_placeholders(apr_pool_t *p, const mtls_cert_t *c)
{
    const char *der;

    CHECK_STR(render(p, "(mail={san:email})", c, NULL),
              "(mail=jdoe@lab.example)");
    CHECK_STR(render(p, "(userPrincipalName={san:upn})", c, NULL),
              "(userPrincipalName=jdoe@LAB.EXAMPLE)");
    CHECK_STR(render(p, "(labeledURI={san:uri})", c, NULL),
              "(labeledURI=spiffe://lab.example/ns/prod/sa/web)");
    CHECK_STR(render(p, "(host={san:dns})", c, NULL),
              "(host=a.b.lab.example)");
    CHECK_STR(render(p, "(cn={subject:CN})", c, NULL),
              "(cn=Doe, John)");
    CHECK_STR(render(p, "(uid={subject:UID})", c, NULL), "(uid=jdoe)");
    CHECK_STR(render(p, "(x={subject})", c, NULL),
              "(x=CN=Doe\\5c, John,OU=ops+UID=jdoe,OU=dev,O=Lab\\5c, Inc.,"
              "DC=lab,DC=example)");
    CHECK_STR(render(p, "(&(i={issuer})(s={serial}))", c, NULL),
              "(&(i=CN=Unit CA,O=Lab\\5c, Inc.)(s=AB01))");
    CHECK_STR(render(p, "(fp={sha256})", c, NULL),
              apr_pstrcat(p, "(fp=", c->sha256, ")", NULL));
    CHECK_STR(render(p, "(k={spki})", c, NULL),
              apr_pstrcat(p, "(k=", c->spki, ")", NULL));
    CHECK_STR(render(p, "(uid={user})", c, "jdoe"), "(uid=jdoe)");
    CHECK_STR(render(p, "(uid={user})", c, "*)(uid=*"),
              "(uid=\\2a\\29\\28uid=\\2a)");
    /* absent placeholders mean "no match", never a search for "" */
    CHECK_STR(render(p, "(uid={user})", c, NULL), NULL);
    CHECK_STR(render(p, "(uid={user})", c, ""), NULL);
    CHECK_STR(render(p, "(c={subject:C})", c, NULL), NULL);
    CHECK_STR(render(p, "(|(uid={user})(mail={san:email}))", c, NULL), NULL);

    der = render(p, "(userCertificate;binary={cert})", c, NULL);
    CHECK(der && strlen(der) == strlen("(userCertificate;binary=)")
                                + 3 * c->der_len);
    CHECK(der && !strncmp(der, "(userCertificate;binary=\\30\\82", 30));
    CHECK_STR(mtls_ldap_cert_exact(p, c),
              "{ serialNumber 43777, issuer rdnSequence:\"CN=Unit CA,"
              "O=Lab\\, Inc.\" }");
    CHECK_STR(render(p, "(userCertificate={cert!exact})", c, NULL),
              "(userCertificate={ serialNumber 43777, issuer rdnSequence:"
              "\"CN=Unit CA,O=Lab\\5c, Inc.\" })");
}

static void test_strength(apr_pool_t *p)
{
    mtls_ldapfilter_t *f;

    CHECK_INT(strong(p, MTLS_LDAP_DEFAULT_USER_FILTER), 1);
    CHECK_INT(strong(p, "(x={cert!exact})"), 1);
    CHECK_INT(strong(p, "(x={sha256})"), 1);
    CHECK_INT(strong(p, "(x={spki})"), 1);
    CHECK_INT(strong(p, "(&(i={issuer})(s={serial}))"), 1);
    CHECK_INT(strong(p, "(a=X509:<I>{issuer!ad}<SR>{serial!ad})"), 1);
    CHECK_INT(strong(p, "(x={serial})"), 0);
    CHECK_INT(strong(p, "(x={issuer})"), 0);
    CHECK_INT(strong(p, "(mail={san:email})"), 0);
    CHECK_INT(strong(p, "(uid={user})"), 0);
    CHECK_INT(strong(p, "(a=X509:<S>{subject!ad})"), 0);
    CHECK(!mtls_ldapfilter_parse(p, "(uid={user})", MTLS_LDAPFILTER_USER, &f)
          && mtls_ldapfilter_uses_user(f));
    CHECK(!mtls_ldapfilter_parse(p, "(mail={san:email})",
                                 MTLS_LDAPFILTER_USER, &f)
          && !mtls_ldapfilter_uses_user(f));
}

static void test_group(apr_pool_t *p)
{
    mtls_ldapfilter_t *f;

    CHECK(!mtls_ldapfilter_parse(p, MTLS_LDAP_DEFAULT_GROUP_FILTER,
                                 MTLS_LDAPFILTER_GROUP, &f));
    CHECK_STR(mtls_ldapfilter_render(p, f, NULL, "a*b", "uid=a*b,o=Lab"),
              "(|(member=uid=a\\2ab,o=Lab)(uniqueMember=uid=a\\2ab,o=Lab)"
              "(memberUid=a\\2ab))");
    CHECK_STR(mtls_ldapfilter_render(p, f, NULL, NULL, "uid=a,o=Lab"), NULL);
}

/* A name with a part that cannot be decoded (a NUL in its CN) has no AD
 * form: the parts left would be another name ("O=Lab" alone). */
static void test_undecodable(apr_pool_t *p, EVP_PKEY *key)
{
    X509 *x = unit_cert_raw_cn(key, V_ASN1_UTF8STRING, "admin\0.evil", 11);
    mtls_cert_t *c = NULL;
    const char *err = NULL;

    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    if (c) {
        CHECK(c->subject == NULL);
        CHECK_STR(render(p, "(a=X509:<S>{subject!ad})", c, NULL), NULL);
        CHECK_STR(render(p, "(a=X509:<I>{issuer!ad}<SR>{serial!ad})", c,
                         NULL), NULL);
        /* (the serial alone still renders: it is not a name) */
        CHECK(render(p, "(a={serial!ad})", c, NULL) != NULL);
    }
    X509_free(x);
}

void test_ldapfilter(apr_pool_t *p)
{
    EVP_PKEY *key = unit_key();
    X509 *x = unit_cert_main(key);
    mtls_cert_t *c = NULL;
    const char *err = NULL;

    CHECK(mtls_cert_from_x509(p, x, &c, &err) == APR_SUCCESS);
    test_parse_errors(p);
    test_escape(p);
    if (c) {
        test_ad(p, c);
        test_placeholders(p, c);
    }
    test_strength(p);
    test_group(p);
    X509_free(x);
    test_undecodable(p, key);
    EVP_PKEY_free(key);
}
