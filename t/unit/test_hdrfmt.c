/* Header values and names (mtls_hdrfmt.c), signatures (mtls_hdrsign.c). */
#include <apr_strings.h>

#include "unit.h"
#include "mtls_hdrfmt.h"
#include "mtls_hdrsign.h"

/* printf '1\nGET\n/\n' | openssl dgst -sha256 -hmac "$(printf 'k%.0s' $(seq 100))" */
#define LONGKEY_SIG "61uWjGDnX2mGReIW-IF_cIk3Wr-k64zhFvktAc0P8PE"

static apr_array_header_t *list(apr_pool_t *p, const char *const *v)
{
    apr_array_header_t *a = apr_array_make(p, 4, sizeof(const char *));
    for (; *v; v++) {
        APR_ARRAY_PUSH(a, const char *) = *v;
    }
    return a;
}

static void test_values(apr_pool_t *p)
{
    static const char *const l1[] = { "a", "b c", NULL };
    static const char *const l2[] = { "Doe, John", "say \"hi\"", "back\\slash",
                                      NULL };
    static const char *const l3[] = { "", "x\r\ny", "J\xc3\xbcrgen", "", NULL };
    static const char *const l4[] = { "", NULL };
    const char *plain = "CN=alice,O=Lab";

    CHECK(mtls_hdr_safe(p, plain) == plain);
    CHECK_STR(mtls_hdr_safe(p, "CN=J\xc3\xbcrgen \xc3\x84,O=Lab"),
              "CN=J\\C3\\BCrgen \\C3\\84,O=Lab");
    CHECK_STR(mtls_hdr_safe(p, "a\r\nX-Evil: 1\x7f\x01"),
              "a\\0D\\0AX-Evil: 1\\7F\\01");
    CHECK_STR(mtls_hdr_list(p, list(p, l1)), "a, b c");
    CHECK_STR(mtls_hdr_list(p, list(p, l2)),
              "\"Doe, John\", \"say \\\"hi\\\"\", \"back\\\\slash\"");
    CHECK_STR(mtls_hdr_list(p, list(p, l3)), "x\\0D\\0Ay, J\\C3\\BCrgen");
    CHECK_STR(mtls_hdr_list(p, list(p, l4)), NULL);
    CHECK_STR(mtls_hdr_list(p, NULL), NULL);
    CHECK_STR(mtls_hdr_byteseq(p, (const unsigned char *)"abc", 3), ":YWJj:");
}

static void test_pem(apr_pool_t *p)
{
    unsigned char der[100];
    const char *e;
    int i;

    for (i = 0; i < 100; i++) {
        der[i] = (unsigned char)(i * 7);
    }
    e = mtls_hdr_pem_escaped(p, der, sizeof(der));
    CHECK_PREFIX(e, "-----BEGIN%20CERTIFICATE-----%0A");
    CHECK_HAS(e, "%0A-----END%20CERTIFICATE-----%0A");
    CHECK(!strpbrk(e, "+/=\n "));
    /* 100 bytes = 136 base64 characters: lines of 64, 64 and 8 */
    {
        int lines = 0;
        const char *s;
        for (s = e; (s = strstr(s, "%0A")); s += 3) {
            lines++;
        }
        CHECK_INT(lines, 5);
    }
}

static void test_xfcc(apr_pool_t *p)
{
    mtls_cert_t c;
    static const char *const uris[] = { "spiffe://lab.example/ns/a;b/sa/x",
                                        "spiffe://second", NULL };
    static const char *const dns[] = { "a.lab.example", "b.lab.example",
                                       NULL };

    memset(&c, 0, sizeof(c));
    c.sha256 = "abcd";
    c.subject = "CN=Doe\\, John,O=\"Q\"";
    c.san[MTLS_SAN_URI] = list(p, uris);
    c.san[MTLS_SAN_DNS] = list(p, dns);
    CHECK_STR(mtls_hdr_xfcc(p, &c),
              "Hash=abcd;Subject=\"CN=Doe\\\\, John,O=\\\"Q\\\"\";"
              "URI=\"spiffe://lab.example/ns/a;b/sa/x\";"
              "DNS=a.lab.example;DNS=b.lab.example");
    c.san[MTLS_SAN_URI] = NULL;
    c.san[MTLS_SAN_DNS] = NULL;
    c.subject = "CN=J\xc3\xbc";
    CHECK_STR(mtls_hdr_xfcc(p, &c), "Hash=abcd;Subject=\"CN=J\\\\C3\\\\BC\"");
    c.subject = NULL;
    CHECK_STR(mtls_hdr_xfcc(p, &c), "Hash=abcd");
}

static void test_names(apr_pool_t *p)
{
    const char *err, *c;

    c = mtls_hdr_name_canon(p, "X-Remote_User", 0, &err);
    CHECK_STR(c, "x-remote-user");
    CHECK(mtls_hdr_name_is(c, "X-REMOTE-USER"));
    CHECK(mtls_hdr_name_is(c, "x_remote_user"));
    CHECK(mtls_hdr_name_is(c, "X_Remote-uSER"));
    CHECK(!mtls_hdr_name_is(c, "X-Remote-Users"));
    CHECK(!mtls_hdr_name_is(c, "X-Remote-Use"));
    CHECK(!mtls_hdr_name_is(c, ""));
    CHECK(!mtls_hdr_name_canon(p, "X Remote", 0, &err));
    CHECK_HAS(err, "not a header name");
    CHECK(!mtls_hdr_name_canon(p, "X-*", 0, &err));
    CHECK(!mtls_hdr_name_canon(p, "", 0, &err));
    CHECK(!mtls_hdr_name_canon(p, "X:Y", 1, &err));
    c = mtls_hdr_name_canon(p, "X-Remote-*", 1, &err);
    CHECK_STR(c, "x-remote-*");
    CHECK(mtls_hdr_name_glob(c, "X_REMOTE_Whatever"));
    CHECK(mtls_hdr_name_glob(c, "x-remote-"));
    CHECK(!mtls_hdr_name_glob(c, "X-Remot"));
    c = mtls_hdr_name_canon(p, "*-TLS-*", 1, &err);
    CHECK(mtls_hdr_name_glob(c, "X_tls_Client_CN"));
    CHECK(!mtls_hdr_name_glob(c, "X-TL-Client"));
    c = mtls_hdr_name_canon(p, "Client-Cert*", 1, &err);
    CHECK(mtls_hdr_name_glob(c, "client_cert_chain"));
}

static void test_first(apr_pool_t *p)
{
    unsigned char first[256];

    memset(first, 0, sizeof(first));
    mtls_hdr_first_add(first, "x-remote-user");
    mtls_hdr_first_add(first, "client-cert*");
    CHECK(mtls_hdr_maybe(first, "X_Remote_User"));
    CHECK(mtls_hdr_maybe(first, "x-anything"));
    CHECK(mtls_hdr_maybe(first, "Client_Cert"));
    CHECK(!mtls_hdr_maybe(first, "Host"));
    CHECK(!mtls_hdr_maybe(first, "User-Agent"));
    CHECK(!mtls_hdr_maybe(first, ""));
    mtls_hdr_first_add(first, "-x");
    CHECK(mtls_hdr_maybe(first, "_x"));
    mtls_hdr_first_add(first, "*-tls-*");
    CHECK(mtls_hdr_maybe(first, "Host"));
}

static void test_key(apr_pool_t *p)
{
    mtls_hdr_key_t *k;

    CHECK(!mtls_hdr_key_parse(p, "k", "\n  0123456789abcdef  \r\n\n", &k));
    CHECK(k && k->len == 16 && !memcmp(k->key, "0123456789abcdef", 16));
    CHECK_STR(mtls_hdr_key_parse(p, "k", "\n\n", &k),
              "k:3: the key file is empty");
    CHECK_PREFIX(mtls_hdr_key_parse(p, "k", "\nshort\n", &k),
                 "k:2: the key is 5 bytes, at least 16");
    CHECK_STR(mtls_hdr_key_parse(p, "k", "0123456789abcdef\nsecond\n", &k),
              "k:2: the key must be one line");
}

static void test_sign(apr_pool_t *p)
{
    mtls_hdr_key_t key = {
        (const unsigned char *)"0123456789abcdef0123456789abcdef", 32 };
    const char *names[] = { "x-remote-user", "x-tls-client-dn" };
    const char *values[] = { "alice", "CN=alice,O=Lab" };

    CHECK_STR(mtls_hdr_sig_input(p, 1700000000, "GET", "/px/a?b=1", names,
                                 values, 2),
              "1700000000\nGET\n/px/a?b=1\nx-remote-user:alice\n"
              "x-tls-client-dn:CN=alice,O=Lab\n");
    /* expected values from `openssl dgst -sha256 -hmac KEY -binary | base64` */
    CHECK_STR(mtls_hdr_sign(p, &key, 1700000000, "GET", "/px/a?b=1", names,
                            values, 2),
              "t=1700000000;h=x-remote-user,x-tls-client-dn;"
              "sig=QOHUm5v0Bw2oTGV3QtkV93BoCCFBQN5qWVcTqhjghI4");
    CHECK_STR(mtls_hdr_sign(p, &key, 1700000000, "GET", "/", NULL, NULL, 0),
              "t=1700000000;h=;sig=JqefBQyum8DWy1OxxA8txHVepGntUc1QB7TbEL-_lmU");
    /* a parsed key signs from its prepared states: the same answers */
    {
        mtls_hdr_key_t *k;
        char longkey[101];
        CHECK(!mtls_hdr_key_parse(p, "k", "0123456789abcdef0123456789abcdef\n",
                                  &k));
        CHECK(k && k->inner && k->outer);
        CHECK_STR(mtls_hdr_sign(p, k, 1700000000, "GET", "/px/a?b=1", names,
                                values, 2),
                  "t=1700000000;h=x-remote-user,x-tls-client-dn;"
                  "sig=QOHUm5v0Bw2oTGV3QtkV93BoCCFBQN5qWVcTqhjghI4");
        /* longer than a SHA-256 block: the key is hashed first (RFC 2104) */
        memset(longkey, 'k', 100);
        longkey[100] = '\0';
        CHECK(!mtls_hdr_key_parse(p, "k", longkey, &k));
        CHECK_STR(mtls_hdr_sign(p, k, 1, "GET", "/", NULL, NULL, 0),
                  "t=1;h=;sig=" LONGKEY_SIG);
    }
}

void test_hdrfmt(apr_pool_t *p)
{
    test_values(p);
    test_pem(p);
    test_xfcc(p);
    test_names(p);
    test_first(p);
    test_key(p);
    test_sign(p);
}
