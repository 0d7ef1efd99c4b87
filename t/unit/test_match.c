/* SAN globs, fingerprints and serial numbers (mtls_match.c). */
#include <stdio.h>
#include <string.h>

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
    /* "**" before "*": a greedy matcher with one backtrack point
     * gives up on these. */
    CHECK(mtls_glob_match("spiffe://lab.example/**/sa/*",
                          "spiffe://lab.example/ns/sa/x/sa/web", '/', 0));
    CHECK(!mtls_glob_match("spiffe://lab.example/**/sa/*",
                           "spiffe://lab.example/ns/sa/x/sa/web/y", '/', 0));
    CHECK(mtls_glob_match("**.prod.*.example", "a.prod.b.prod.eu.example",
                          '.', 1));
    CHECK(!mtls_glob_match("**.prod.*.example", "a.prod.b.prod.e.u.example",
                           '.', 1));
    CHECK(mtls_glob_match("*.**.*", "a.b.c.d", '.', 0));
    CHECK(!mtls_glob_match("*/*", "a/b/c", '/', 0));
    CHECK(mtls_glob_match("a/**/b/*/c", "a/x/b/y/b/z/c", '/', 0));
    CHECK(mtls_glob_match("***", "a/b", '/', 0));
    /* Pathological patterns stay fast (no exponential backtracking). */
    CHECK(!mtls_glob_match("*a*a*a*a*a*a*a*a*a*a*a*b",
                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                           0, 0));
}

/* Obviously right and exponential: only for tiny inputs. */
static int naive_glob(const char *pat, const char *s, char stop)
{
    if (!*pat) {
        return !*s;
    }
    if (*pat == '*') {
        int crosses = pat[1] == '*';
        const char *rest = pat, *t;
        while (*rest == '*') {
            rest++;
        }
        for (t = s;; t++) {
            if (naive_glob(rest, t, stop)) {
                return 1;
            }
            if (!*t || (!crosses && *t == stop)) {
                return 0;
            }
        }
    }
    return *s == *pat && naive_glob(pat + 1, s + 1, stop);
}

/* Every pattern over {a, /, *} and every name over {a, /} up to a few
 * characters: the matcher agrees with the naive one. */
static void test_glob_exhaustive(void)
{
    static const char pchars[] = "a/*", schars[] = "a/";
    char pat[8], s[8];
    int pl, sl, pi, si, wrong = 0, total = 0;

    for (pl = 0; pl <= 6; pl++) {
        int pn = 1;
        for (pi = 0; pi < pl; pi++) {
            pn *= 3;
        }
        for (pi = 0; pi < pn; pi++) {
            int k, v = pi;
            for (k = 0; k < pl; k++, v /= 3) {
                pat[k] = pchars[v % 3];
            }
            pat[pl] = '\0';
            for (sl = 0; sl <= 6; sl++) {
                for (si = 0; si < (1 << sl); si++) {
                    for (k = 0; k < sl; k++) {
                        s[k] = schars[(si >> k) & 1];
                    }
                    s[sl] = '\0';
                    total++;
                    if (mtls_glob_match(pat, s, '/', 0)
                        != naive_glob(pat, s, '/')) {
                        if (!wrong++) {
                            fprintf(stderr, "glob '%s' on '%s' differs\n",
                                    pat, s);
                        }
                    }
                }
            }
        }
    }
    CHECK_INT(wrong, 0);
    CHECK(total > 100000);
}

/* Hostile sizes: a name at the cap and a pattern of many stars cost
 * pattern x name steps, not more; past the cap nothing matches. */
static void test_glob_bounded(apr_pool_t *p)
{
    char *name = apr_palloc(p, MTLS_GLOB_MAX_NAME + 2), *pat;
    int i;

    memset(name, 'a', MTLS_GLOB_MAX_NAME);
    name[MTLS_GLOB_MAX_NAME] = '\0';
    pat = apr_pstrdup(p, "");
    for (i = 0; i < 40; i++) {
        pat = apr_pstrcat(p, pat, i % 2 ? "*a" : "**a", NULL);
    }
    CHECK(mtls_glob_match(pat, name, '/', 0));
    CHECK(!mtls_glob_match(apr_pstrcat(p, pat, "b", NULL), name, '/', 0));
    name[MTLS_GLOB_MAX_NAME] = 'a';
    name[MTLS_GLOB_MAX_NAME + 1] = '\0';
    CHECK(!mtls_glob_match("**", name, 0, 0));
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
    test_glob_exhaustive();
    test_glob_bounded(p);
    test_fingerprint(p);
    test_serial(p);
}
