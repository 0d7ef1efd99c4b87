/* RFC 4514 text and the canonical form (mtls_dn.c). */
#include <apr_strings.h>
#include <openssl/x509.h>

#include "unit.h"
#include "mtls_cert.h"
#include "mtls_dn.h"

static const char *canon(apr_pool_t *p, const char *text)
{
    const char *c = NULL;
    return mtls_dn_canon(p, text, &c) ? NULL : c;
}

static const char *canon_err(apr_pool_t *p, const char *text)
{
    const char *c = "untouched";
    const char *err = mtls_dn_canon(p, text, &c);
    /* On error the output is cleared. */
    return err && c == NULL ? err : NULL;
}

static void test_canon_equal(apr_pool_t *p)
{
    const char *base = canon(p, "CN=Doe\\, John,OU=dev,O=Lab\\, Inc.");

    CHECK_STR(base, "2.5.4.3=doe\\, john,2.5.4.11=dev,2.5.4.10=lab\\, inc.");
    CHECK_STR(canon(p, "cn=doe\\, john,ou=DEV,o=LAB\\, INC."), base);
    CHECK_STR(canon(p, "  CN = Doe\\,   John , OU=dev , O = Lab\\, Inc.  "),
              base);
    CHECK_STR(canon(p, "2.5.4.3=Doe\\, John,2.5.4.11=dev,2.5.4.10=Lab\\, Inc."),
              base);
    CHECK_STR(canon(p, "commonName=Doe\\2C John,OU=dev,O=Lab\\2c Inc."), base);
    CHECK_STR(canon(p, "CN=Doe\\, John;OU=dev;O=Lab\\, Inc."), base);
    CHECK_STR(canon(p, "CN=Doe\\, John,OU=dev,O=Lab\\, Inc.\\ "), base);
    /* Different values, order or structure are different DNs. */
    CHECK(strcmp(canon(p, "CN=Doe\\, Jon,OU=dev,O=Lab\\, Inc."), base) != 0);
    CHECK(strcmp(canon(p, "OU=dev,CN=Doe\\, John,O=Lab\\, Inc."), base) != 0);
    CHECK(strcmp(canon(p, "CN=Doe+OU=John,OU=dev,O=Lab\\, Inc."), base) != 0);
    CHECK(strcmp(canon(p, "CN=DoeJohn,OU=dev,O=Lab\\, Inc."), base) != 0);

    /* Multi-valued RDNs: the order of the AVAs does not matter. */
    CHECK_STR(canon(p, "OU=ops+UID=jdoe,DC=lab"),
              canon(p, "uid=JDOE + ou=ops,dc=LAB"));
    CHECK(strcmp(canon(p, "OU=ops+UID=jdoe,DC=lab"),
                 canon(p, "OU=ops,UID=jdoe,DC=lab")) != 0);
    CHECK_STR(canon(p, "CN=a\\+b"), "2.5.4.3=a\\+b");
    CHECK(strcmp(canon(p, "CN=a\\+b"), canon(p, "CN=a+CN=b")) != 0);

    /* Attribute spellings: alias, short, long, OID. */
    CHECK_STR(canon(p, "emailAddress=A@B"), canon(p, "E=a@b"));
    CHECK_STR(canon(p, "email=a@b"), "1.2.840.113549.1.9.1=a@b");
    CHECK_STR(canon(p, "UID=x"), canon(p, "userid=x"));
    CHECK_STR(canon(p, "DC=x"), "0.9.2342.19200300.100.1.25=x");
    CHECK_STR(canon(p, "serialNumber=123"), "2.5.4.5=123");

    /* Escapes: specials, hex pairs (UTF-8), '=' inside a value. */
    CHECK_STR(canon(p, "CN=a\\\\b"), "2.5.4.3=a\\\\b");
    CHECK_STR(canon(p, "CN=a=b"), "2.5.4.3=a\\=b");
    CHECK_STR(canon(p, "CN=\\#x\\;y\\<z\\>\\\""), "2.5.4.3=#x;y<z>\"");
    CHECK_STR(canon(p, "CN=J\\C3\\BCrgen"), canon(p, "CN=J\xc3\xbcrgen"));
    CHECK_STR(canon(p, "CN=tab\there"), canon(p, "CN=tab here"));
    CHECK_STR(canon(p, "CN="), "2.5.4.3=");
}

static void test_canon_errors(apr_pool_t *p)
{
    CHECK(canon_err(p, "CN") != NULL);
    CHECK(canon_err(p, "=x") != NULL);
    CHECK(canon_err(p, "CN=a,") != NULL);
    CHECK(canon_err(p, "CN=a, ") != NULL);
    CHECK_HAS(canon_err(p, "XX=1"), "unknown attribute type 'XX'");
    CHECK(canon_err(p, "") != NULL);
    CHECK(canon_err(p, "   ") != NULL);
    CHECK(canon_err(p, "CN=a,,O=b") != NULL);
    CHECK(canon_err(p, "CN=a+") != NULL);
    CHECK(canon_err(p, "CN=a\\") != NULL);
    CHECK(canon_err(p, "CN=#414243") != NULL);
    CHECK(canon_err(p, "CN=a\"b") != NULL);
    CHECK(canon_err(p, "CN=<a>") != NULL);
    CHECK(canon_err(p, "CN=a\\00b") != NULL);
    CHECK(canon_err(p, "1.2.x=a") != NULL);
    CHECK(canon_err(p, "garbage") != NULL);
}

static void test_attr_names(apr_pool_t *p)
{
    CHECK_STR(mtls_attr_oid(p, "CN"), "2.5.4.3");
    CHECK_STR(mtls_attr_oid(p, "cn"), "2.5.4.3");
    CHECK_STR(mtls_attr_oid(p, "commonName"), "2.5.4.3");
    CHECK_STR(mtls_attr_oid(p, "2.5.4.3"), "2.5.4.3");
    CHECK_STR(mtls_attr_oid(p, "ou"), "2.5.4.11");
    CHECK_STR(mtls_attr_oid(p, "emailAddress"), "1.2.840.113549.1.9.1");
    CHECK_STR(mtls_attr_oid(p, "1.2.3.4.5"), "1.2.3.4.5");
    CHECK(mtls_attr_oid(p, "XX") == NULL);
    CHECK(mtls_attr_oid(p, "") == NULL);
    CHECK(mtls_attr_oid(p, "2.5.x") == NULL);
    CHECK_STR(mtls_attr_short_name(p, "2.5.4.3"), "CN");
    CHECK_STR(mtls_attr_short_name(p, "0.9.2342.19200300.100.1.1"), "UID");
    CHECK_STR(mtls_attr_short_name(p, "1.2.3.4.5"), "1.2.3.4.5");
    /* OpenSSL names uniqueIdentifier "uid", which reads back as userId:
     * such a name is written as its OID. */
    CHECK_STR(mtls_attr_short_name(p, "0.9.2342.19200300.100.1.44"),
              "0.9.2342.19200300.100.1.44");
    CHECK_STR(mtls_attr_oid(p, "uid"), "0.9.2342.19200300.100.1.1");
}

static void test_escape(apr_pool_t *p)
{
    CHECK_STR(mtls_dn_escape_value(p, "Doe, John"), "Doe\\, John");
    CHECK_STR(mtls_dn_escape_value(p, "#a#"), "\\#a#");
    CHECK_STR(mtls_dn_escape_value(p, " a b "), "\\ a b\\ ");
    CHECK_STR(mtls_dn_escape_value(p, "a+b\"c\\d<e>f;g"),
              "a\\+b\\\"c\\\\d\\<e\\>f\\;g");
    CHECK_STR(mtls_dn_escape_value(p, "a\nb\x7f"), "a\\0Ab\\7F");
    CHECK_STR(mtls_dn_escape_value(p, "J\xc3\xbcrgen"), "J\xc3\xbcrgen");
    CHECK_STR(mtls_dn_escape_value(p, ""), "");
}

/* Format and canonical form straight from an X509_NAME, including a
 * multi-valued RDN built with set=-1 and one with set=0. */
static void test_x509_name(apr_pool_t *p)
{
    X509_NAME *n = X509_NAME_new();
    apr_array_header_t *avas = apr_array_make(p, 2, sizeof(mtls_ava_t));
    const char *text;

    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
                               (const unsigned char *)"Lab", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC,
                               (const unsigned char *)"b", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC,
                               (const unsigned char *)"a", -1, -1, -1);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                               (const unsigned char *)"J\xc3\xbcrgen \xc3\x84",
                               -1, -1, 0);
    text = mtls_dn_format(p, n, avas);
    CHECK_STR(text, "CN=J\xc3\xbcrgen \xc3\x84,OU=b+OU=a,O=Lab");
    CHECK_INT(avas->nelts, 4);
    CHECK_STR(mtls_dn_canon_x509(p, n), canon(p, text));
    CHECK_STR(mtls_dn_canon_x509(p, n),
              canon(p, "cn=j\xc3\xbcrgen \xc3\x84,ou=A+ou=B,o=lab"));
    CHECK_STR(mtls_dn_canon_x509(p, n),
              "2.5.4.3=j\xc3\xbcrgen \xc3\x84,2.5.4.11=a+2.5.4.11=b,"
              "2.5.4.10=lab");
    CHECK_STR(mtls_dn_format(p, n, NULL), text);
    X509_NAME_free(n);

    n = X509_NAME_new();
    CHECK_STR(mtls_dn_format(p, n, NULL), "");
    CHECK_STR(mtls_dn_canon_x509(p, n), "");
    X509_NAME_free(n);
}

/* Whatever a value holds, its escaped text parses to the canonical form
 * of the name that holds it. */
static void test_escape_roundtrip(apr_pool_t *p)
{
    static const char *const values[] = {
        "plain", " lead", "trail ", "  both  ", "#x", "a,b+c;d", "\"q\"",
        "<>", "back\\slash", "\\41", "a=b", "tab\tx", "nl\nx", "\x7f",
        " ", "", "J\xc3\xbcrgen", "x\\", "#", "++", ",", NULL
    };
    int i;

    for (i = 0; values[i]; i++) {
        X509_NAME *n = X509_NAME_new();
        const char *c;
        X509_NAME_add_entry_by_txt(n, "CN", V_ASN1_UTF8STRING,
                                   (const unsigned char *)values[i], -1, -1, 0);
        c = canon(p, apr_pstrcat(p, "CN=", mtls_dn_escape_value(p, values[i]),
                                 NULL));
        CHECK_STR(c, mtls_dn_canon_x509(p, n));
        X509_NAME_free(n);
    }
}

void test_dn(apr_pool_t *p)
{
    test_canon_equal(p);
    test_canon_errors(p);
    test_attr_names(p);
    test_escape(p);
    test_x509_name(p);
    test_escape_roundtrip(p);
}
