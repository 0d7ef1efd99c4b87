/* MTLSUserFrom / MTLSGroupFrom rules (mtls_rule.c). */
#include <apr_strings.h>

#include "unit.h"
#include "mtls_rule.h"

static mtls_rule_t *rule(apr_pool_t *p, const char *f, const char *re,
                         const char *t)
{
    mtls_rule_t *r = NULL;
    return mtls_rule_compile(p, f, re, t, &r) ? NULL : r;
}

static const char *apply(apr_pool_t *p, const char *re, const char *t,
                         const char *value)
{
    mtls_rule_t *r = rule(p, "subject:CN", re, t);
    return r ? mtls_rule_apply(p, r, value) : "(rule did not compile)";
}

static void test_compile_errors(apr_pool_t *p)
{
    mtls_rule_t *r = (mtls_rule_t *)1;

    CHECK_HAS(mtls_rule_compile(p, "san:email", "^(.+)@(.+)$", "$3", &r),
              "uses $3 but the pattern has 2 groups");
    CHECK(r == NULL);
    CHECK_HAS(mtls_rule_compile(p, "san:email", "^.+$", "$1", &r),
              "has 0 groups");
    CHECK_HAS(mtls_rule_compile(p, "san:email", "^(.+$", "$1", &r),
              "bad regex '^(.+$'");
    CHECK_HAS(mtls_rule_compile(p, "san:email", "(a)", "x$", &r),
              "'$' must be followed");
    CHECK(mtls_rule_compile(p, "san:email", "(a)", "$x", &r) != NULL);
    CHECK_HAS(mtls_rule_compile(p, "nope", NULL, NULL, &r), "unknown field");
    CHECK(mtls_rule_compile(p, "san:email", "(a)", NULL, &r) != NULL);
    CHECK(mtls_rule_compile(p, "san:email", NULL, "$1", &r) != NULL);
    CHECK(mtls_rule_compile(p, "san:email", "(a)", "$0$1$$", &r) == NULL);
    CHECK(r != NULL && mtls_rule_field(r)->kind == MTLS_F_SAN);
}

static void test_apply(apr_pool_t *p)
{
    mtls_rule_t *plain = rule(p, "subject:CN", NULL, NULL);

    CHECK_STR(apply(p, "^(.+)@lab\\.example$", "$1", "jdoe@lab.example"),
              "jdoe");
    CHECK(apply(p, "^(.+)@lab\\.example$", "$1", "jdoe@evil.example")
          == NULL);
    CHECK_STR(apply(p, "^spiffe://lab\\.example/ns/([^/]+)/sa/([^/]+)$",
                    "$2.$1", "spiffe://lab.example/ns/prod/sa/web"),
              "web.prod");
    CHECK_STR(apply(p, "@lab", "[$0]", "jdoe@lab.example"), "[@lab]");
    CHECK_STR(apply(p, "^(.*)$", "$$$1$$", "x"), "$x$");
    CHECK_STR(apply(p, "^(a)|(b)$", "<$2>", "b"), "<b>");
    CHECK_STR(apply(p, "^(a)|(b)$", "<$2>", "a"), "<>");
    /* Empty results and control characters never make a user. */
    CHECK(apply(p, "^(a*)$", "$1", "") == NULL);
    CHECK(apply(p, "^(.*)$", "$1", "a\nb") == NULL);
    CHECK(apply(p, "^(x)", "$1\x01", "x") == NULL);
    CHECK_STR(apply(p, "^(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)$", "$9$10",
                    "abcdefghij"), "ia0");
    CHECK_STR(apply(p, "^J(.+) ", "$1", "J\xc3\xbcrgen \xc3\x84"),
              "\xc3\xbcrgen");
    /* Without a regex the value is taken as it is, when clean. */
    CHECK(plain != NULL);
    if (plain) {
        CHECK_STR(mtls_rule_apply(p, plain, "Doe, John"), "Doe, John");
        CHECK(mtls_rule_apply(p, plain, "") == NULL);
        CHECK(mtls_rule_apply(p, plain, NULL) == NULL);
        CHECK(mtls_rule_apply(p, plain, "a\tb") == NULL);
    }
}

static void test_with_cert(apr_pool_t *p)
{
    EVP_PKEY *key = unit_key();
    X509 *x = unit_cert_main(key);
    mtls_cert_t *c = NULL;
    const char *err;
    apr_array_header_t *g = apr_array_make(p, 4, sizeof(const char *));
    apr_time_t now = apr_time_now();
    mtls_rule_t *r;

    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    if (!c) {
        goto leave;
    }
    /* The user comes from the first value that matches. */
    r = rule(p, "san:email", "^(.+)@lab\\.example$", "$1");
    CHECK_STR(r ? mtls_rule_user(p, r, c, now) : NULL, "jdoe");
    r = rule(p, "san:email", "^john\\.(.+)@", "$1");
    CHECK_STR(r ? mtls_rule_user(p, r, c, now) : NULL, "doe");
    r = rule(p, "san:email", "^nobody@", "$0");
    CHECK(r && mtls_rule_user(p, r, c, now) == NULL);
    /* Without a regex, the first value as it is. */
    r = rule(p, "san:email", NULL, NULL);
    CHECK_STR(r ? mtls_rule_user(p, r, c, now) : NULL, "jdoe@lab.example");
    r = rule(p, "subject:CN", NULL, NULL);
    CHECK_STR(r ? mtls_rule_user(p, r, c, now) : NULL, "Doe, John");
    r = rule(p, "san:uri", "^spiffe://lab\\.example/ns/([^/]+)/sa/([^/]+)$",
             "$2.$1");
    CHECK_STR(r ? mtls_rule_user(p, r, c, now) : NULL, "web.prod");
    r = rule(p, "subject:title", NULL, NULL);
    CHECK(r && mtls_rule_user(p, r, c, now) == NULL);
    r = rule(p, "sha256", "^(.{8})", "fp-$1");
    CHECK_STR(r ? mtls_rule_user(p, r, c, now) : NULL,
              apr_pstrcat(p, "fp-", apr_pstrndup(p, c->sha256, 8), NULL));
    CHECK(r && mtls_field_is_strong(mtls_rule_field(r)));

    /* Groups: every matching value. */
    r = rule(p, "subject:OU", NULL, NULL);
    if (r) {
        mtls_rule_groups(p, r, c, now, g);
    }
    CHECK_INT(g->nelts, 2);
    CHECK_STR(apr_array_pstrcat(p, g, ' '), "dev ops");
    apr_array_clear(g);
    r = rule(p, "san:email", "^(.+)\\.?doe@", "team-$1");
    if (r) {
        mtls_rule_groups(p, r, c, now, g);
    }
    CHECK_STR(apr_array_pstrcat(p, g, ' '), "team-j team-john.");
    apr_array_clear(g);
    r = rule(p, "subject:DC", "^lab$", "$0-members");
    if (r) {
        mtls_rule_groups(p, r, c, now, g);
    }
    CHECK_STR(apr_array_pstrcat(p, g, ' '), "lab-members");
leave:
    X509_free(x);
    EVP_PKEY_free(key);
}

void test_rule(apr_pool_t *p)
{
    test_compile_errors(p);
    test_apply(p);
    test_with_cert(p);
}
