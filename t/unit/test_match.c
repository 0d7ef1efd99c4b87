/* SAN globs, fingerprints and serial numbers (mtls_match.c). */
#include <apr_strings.h>

#include "unit.h"
#include "mtls_match.h"

static void test_glob(void)
{
    /* "**" crosses the stop character, "*" does not. */
    CHECK(mtls_glob_match("spiffe://lab.example/ns/prod/**",
                          "spiffe://lab.example/ns/prod/sa/api", '/', 0));
    CHECK(!mtls_glob_match("spiffe://lab.example/ns/prod/*",
                           "spiffe://lab.example/ns/prod/sa/api", '/', 0));
    CHECK(!mtls_glob_match("spiffe://lab.example/ns/prod/**",
                           "spiffe://lab.example/ns/dev/sa/api", '/', 0));
    CHECK(mtls_glob_match("**.lab.example", "a.b.lab.example", '.', 1));
    const char *prod = "spiffe://lab.example/ns/prod/*";

    CHECK(mtls_glob_match(prod, "spiffe://lab.example/ns/prod/sa", '/', 0));
    CHECK(!mtls_glob_match(prod, "spiffe://lab.example/ns/prod/sa/x", '/', 0));
    CHECK(mtls_glob_match(prod, "spiffe://lab.example/ns/prod/sa/x", 0, 0));
    CHECK(mtls_glob_match(prod, "spiffe://lab.example/ns/prod/", '/', 0));
    CHECK(!mtls_glob_match(prod, "spiffe://lab.example/ns/prodx/sa", '/', 0));
    CHECK(!mtls_glob_match(prod, "spiffe://lab.example/ns/dev/sa", '/', 0));
    CHECK(!mtls_glob_match(prod, "SPIFFE://lab.example/ns/prod/sa", '/', 0));
    CHECK(mtls_glob_match(prod, "SPIFFE://LAB.example/ns/prod/sa", '/', 1));
    CHECK(mtls_glob_match("spiffe://lab.example/ns/*/sa/web",
                          "spiffe://lab.example/ns/prod/sa/web", '/', 0));
    CHECK(!mtls_glob_match("spiffe://lab.example/ns/*/sa/web",
                           "spiffe://lab.example/ns/a/b/sa/web", '/', 0));

    CHECK(mtls_glob_match("*.lab.example", "a.lab.example", '.', 1));
    CHECK(!mtls_glob_match("*.lab.example", "a.b.lab.example", '.', 1));
    CHECK(mtls_glob_match("*.lab.example", "a.b.lab.example", 0, 1));
    CHECK(!mtls_glob_match("*.lab.example", "lab.example", '.', 1));
    CHECK(mtls_glob_match("*.lab.example", "A.LAB.EXAMPLE", '.', 1));
    CHECK(!mtls_glob_match("*.lab.example", "A.LAB.EXAMPLE", '.', 0));
    CHECK(!mtls_glob_match("*.lab.example", "a.lab.example.evil", '.', 1));
    CHECK(mtls_glob_match("w*.lab.example", "www.lab.example", '.', 1));

    CHECK(mtls_glob_match("exact", "exact", 0, 0));
    CHECK(!mtls_glob_match("exact", "exac", 0, 0));
    CHECK(!mtls_glob_match("exact", "exactly", 0, 0));
    CHECK(mtls_glob_match("*", "", '/', 0));
    CHECK(mtls_glob_match("*", "anything", '/', 0));
    CHECK(!mtls_glob_match("*", "a/b", '/', 0));
    CHECK(mtls_glob_match("a*b*c", "axxbyyc", 0, 0));
    CHECK(mtls_glob_match("a*b*c", "abbbc", 0, 0));
    CHECK(!mtls_glob_match("a*b*c", "axxbyy", 0, 0));
    CHECK(mtls_glob_match("*x*/y", "axbx/y", '/', 0));
    CHECK(mtls_glob_match("**", "ab", 0, 0));
    CHECK(!mtls_glob_match("", "a", 0, 0));
    CHECK(mtls_glob_match("", "", 0, 0));
    /* Pathological patterns stay fast (no exponential backtracking). */
    CHECK(!mtls_glob_match("*a*a*a*a*a*a*a*a*a*a*a*b",
                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                           0, 0));
}

static void test_fingerprint(apr_pool_t *p)
{
    const char *hex = NULL;
    mtls_fp_kind_e kind = MTLS_FP_SPKI;
    const char *h64 =
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    CHECK(mtls_fingerprint_parse(p, apr_pstrcat(p, "sha256:", h64, NULL),
                                 &kind, &hex) == NULL);
    CHECK_INT(kind, MTLS_FP_SHA256);
    CHECK_STR(hex, h64);
    hex = NULL;
    CHECK(mtls_fingerprint_parse(p, "SPKI:00:11:22:33:44:55:66:77:88:99:AA:"
                                 "BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:"
                                 "99:Aa:bB:CC:DD:EE:FF", &kind, &hex) == NULL);
    CHECK_INT(kind, MTLS_FP_SPKI);
    CHECK_STR(hex, h64);
    CHECK(mtls_fingerprint_parse(p, "sha256:0011", &kind, &hex) != NULL);
    CHECK_HAS(mtls_fingerprint_parse(p, apr_pstrcat(p, "sha256:", h64, "00",
                                                    NULL), &kind, &hex),
              "64 hex digits");
    CHECK(mtls_fingerprint_parse(p, apr_pstrcat(p, "sha256:", h64 + 1, "g",
                                                NULL), &kind, &hex) != NULL);
    CHECK(mtls_fingerprint_parse(p, apr_pstrcat(p, "sha1:", h64, NULL),
                                 &kind, &hex) != NULL);
    CHECK(mtls_fingerprint_parse(p, h64, &kind, &hex) != NULL);
    CHECK(mtls_fingerprint_parse(p, "sha256:", &kind, &hex) != NULL);
}

static void test_serial(apr_pool_t *p)
{
    const char *s = NULL;

    CHECK(mtls_serial_normalize(p, "00ab01", &s) == NULL);
    CHECK_STR(s, "AB01");
    CHECK(mtls_serial_normalize(p, "00:AB:01", &s) == NULL);
    CHECK_STR(s, "AB01");
    CHECK(mtls_serial_normalize(p, "0xab01", &s) == NULL);
    CHECK_STR(s, "AB01");
    CHECK(mtls_serial_normalize(p, "0x", &s) != NULL);
    CHECK(mtls_serial_normalize(p, ":", &s) != NULL);
    CHECK(mtls_serial_normalize(p, "00:00", &s) == NULL);
    CHECK_STR(s, "0");
    CHECK(mtls_serial_normalize(p, "0000", &s) == NULL);
    CHECK_STR(s, "0");
    CHECK(mtls_serial_normalize(p, "A0", &s) == NULL);
    CHECK_STR(s, "A0");
    CHECK(mtls_serial_normalize(p, "", &s) != NULL);
    CHECK(mtls_serial_normalize(p, "12g4", &s) != NULL);
    CHECK(mtls_serial_normalize(p, "12 34", &s) != NULL);
}

void test_match(apr_pool_t *p)
{
    test_glob();
    test_fingerprint(p);
    test_serial(p);
}
