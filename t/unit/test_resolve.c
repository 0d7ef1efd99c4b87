/* Resolution (mtls_resolve.c), the outcome (mtls_outcome.c) and the one
 * vocabulary of values (mtls_value_*): every order of SPEC §3. */
#include <apr_strings.h>

#include "unit.h"
#include "mtls_resolve.h"
#include "mtls_rule.h"
#include "mtls_field.h"

typedef struct {
    apr_pool_t *p;
    mtls_cert_t *alice;       /* CN=alice,OU=staff,OU=ops,O=Lab */
    mtls_cert_t *bob;         /* CN=bob,OU=staff,O=Lab */
    apr_time_t now;
} fixture_t;

static mtls_cert_t *facts_of(apr_pool_t *p, X509 *x)
{
    mtls_cert_t *c = NULL;
    const char *err;
    mtls_cert_from_x509(p, x, &c, &err);
    X509_free(x);
    return c;
}

static const mtls_map_t *map(apr_pool_t *p, const char *text, int deny)
{
    mtls_map_t *m = NULL;
    const char *err = mtls_map_parse(p, "t.map", text, deny, &m);
    CHECK_STR(err, NULL);
    return m;
}

static const mtls_groupfile_t *groups(apr_pool_t *p, const char *text)
{
    mtls_groupfile_t *g = NULL;
    CHECK_STR(mtls_groupfile_parse(p, "t.groups", text, &g), NULL);
    return g;
}

/* A list of rules: "FIELD" or "FIELD|REGEX|TEMPLATE", NULL-terminated. */
static apr_array_header_t *rules(apr_pool_t *p, const char *const *specs)
{
    apr_array_header_t *a = apr_array_make(p, 2, sizeof(mtls_rule_t *));

    for (; *specs; specs++) {
        char *f = apr_pstrdup(p, *specs), *re = strchr(f, '|'), *t = NULL;
        mtls_rule_t *rule = NULL;
        if (re) {
            *re++ = '\0';
            t = strchr(re, '|');
            *t++ = '\0';
        }
        CHECK_STR(mtls_rule_compile(p, f, re, t, &rule), NULL);
        APR_ARRAY_PUSH(a, mtls_rule_t *) = rule;
    }
    return a;
}

static mtls_loaded_t loaded(const void *data, apr_uint64_t stamp)
{
    mtls_loaded_t l = { data, stamp };
    return l;
}

static const char *joined(const mtls_outcome_t *o)
{
    return o->groups_text ? o->groups_text : "";
}

static void test_order(fixture_t *fx)
{
    apr_pool_t *p = fx->p;
    const char *a_sha = apr_pstrcat(p, "sha256:", fx->alice->sha256, NULL);
    static const char *const cn[] = { "subject:CN", NULL };
    static const char *const cn_then_o[] = {
        "subject:CN|^nobody$|$0", "subject:O|^(.*)$|org-$1", "subject:CN",
        NULL };
    static const char *const ou[] = { "subject:OU", NULL };
    mtls_sources_t src;
    mtls_outcome_t *o;

    /* Nothing in force: no identity, unmapped, kept forever. */
    memset(&src, 0, sizeof(src));
    o = mtls_resolve(p, fx->alice, &src, fx->now, NULL);
    CHECK_INT(o->kind, MTLS_OUTCOME_NONE);
    CHECK_INT(o->reason, MTLS_R_UNMAPPED);
    CHECK(o->user == NULL && o->groups->nelts == 0);
    CHECK(o->expires == MTLS_OUTCOME_FOREVER);

    /* 1. deny list before everything: no user, no groups at all. */
    src.deny_list = loaded(map(p, a_sha, 1), 1);
    src.map_file = loaded(map(p, apr_pstrcat(p, a_sha, " mapped g1", NULL),
                              0), 2);
    src.user_rules = rules(p, cn);
    src.group_rules = rules(p, ou);
    o = mtls_resolve(p, fx->alice, &src, fx->now, NULL);
    CHECK_INT(o->kind, MTLS_OUTCOME_NONE);
    CHECK_INT(o->reason, MTLS_R_DENYLISTED);
    CHECK(o->user == NULL);
    CHECK_INT(o->groups->nelts, 0);
    /* ... and only the listed certificate. */
    o = mtls_resolve(p, fx->bob, &src, fx->now, NULL);
    CHECK_INT(o->kind, MTLS_OUTCOME_IDENTITY);
    CHECK_STR(o->user, "bob");

    /* 2. map file before the rules; its groups, then the rules'. */
    memset(&src.deny_list, 0, sizeof(src.deny_list));
    o = mtls_resolve(p, fx->alice, &src, fx->now, NULL);
    CHECK_INT(o->kind, MTLS_OUTCOME_IDENTITY);
    CHECK_INT(o->reason, MTLS_R_NONE);
    CHECK_STR(o->user, "mapped");
    CHECK_STR(o->source, "map");
    CHECK(o->strong);
    CHECK_STR(joined(o), "g1, staff, ops");

    /* A subject: key is weak. */
    src.map_file = loaded(map(p, "\"subject:CN=alice,OU=ops,OU=staff,O=Lab\" "
                              "byname", 0), 3);
    o = mtls_resolve(p, fx->alice, &src, fx->now, NULL);
    CHECK_STR(o->user, "byname");
    CHECK(!o->strong);

    /* 3. rules in order, the first that yields a user wins. */
    memset(&src.map_file, 0, sizeof(src.map_file));
    src.user_rules = rules(p, cn_then_o);
    o = mtls_resolve(p, fx->alice, &src, fx->now, NULL);
    CHECK_STR(o->user, "org-Lab");
    CHECK_STR(o->source, "rule:2");
    CHECK(!o->strong);

    /* A rule on sha256 is strong. */
    {
        static const char *const sha[] = { "sha256", NULL };
        src.user_rules = rules(p, sha);
        o = mtls_resolve(p, fx->alice, &src, fx->now, NULL);
        CHECK_STR(o->user, fx->alice->sha256);
        CHECK(o->strong);
        CHECK_STR(o->source, "rule:1");
    }

    /* Group file: groups of the user found, from whatever source, after
     * the map's and before MTLSGroupFrom's; no duplicates, order kept. */
    src.user_rules = rules(p, cn);
    src.group_file = loaded(groups(p, "admins: alice\nstaff: alice bob\n"
                                   "other: carol\n"), 4);
    o = mtls_resolve(p, fx->alice, &src, fx->now, NULL);
    CHECK_STR(o->user, "alice");
    CHECK_STR(joined(o), "admins, staff, ops");
    o = mtls_resolve(p, fx->bob, &src, fx->now, NULL);
    CHECK_STR(joined(o), "staff");

    /* No user: the group file has nobody to look up, MTLSGroupFrom
     * still gives groups (mtls-group may grant on them). */
    {
        static const char *const none[] = { "subject:CN|^nobody$|$0", NULL };
        src.user_rules = rules(p, none);
        o = mtls_resolve(p, fx->alice, &src, fx->now, NULL);
        CHECK_INT(o->kind, MTLS_OUTCOME_NONE);
        CHECK_INT(o->reason, MTLS_R_UNMAPPED);
        CHECK_STR(joined(o), "staff, ops");
        CHECK(o->user == NULL && o->source == NULL);
    }
}

static void test_trace_and_expiry(fixture_t *fx)
{
    apr_pool_t *p = fx->p;
    static const char *const days[] = { "days-left|^(.*)$|d$1", NULL };
    static const char *const cn[] = { "subject:CN", NULL };
    apr_array_header_t *trace = apr_array_make(p, 4, sizeof(const char *));
    mtls_sources_t src;
    mtls_outcome_t *o;
    apr_time_t day = apr_time_from_sec(86400);

    memset(&src, 0, sizeof(src));
    src.user_rules = rules(p, cn);
    src.group_rules = rules(p, days);
    src.deny_list = loaded(map(p, "sha256:00112233445566778899aabbccddeeff"
                                  "00112233445566778899aabbccddeeff", 1), 1);
    o = mtls_resolve(p, fx->bob, &src, fx->now, trace);
    CHECK_INT(trace->nelts, 3);
    CHECK_STR(APR_ARRAY_IDX(trace, 0, const char *), "deny list: not listed");
    CHECK_STR(APR_ARRAY_IDX(trace, 1, const char *),
              "rule:1 (subject:CN): bob");
    CHECK_STR(APR_ARRAY_IDX(trace, 2, const char *),
              "group rule:1 (days-left): 1 new group");
    /* days-left in a rule: the outcome holds until days-left changes. */
    CHECK(o->expires > fx->now && o->expires <= fx->now + day);
    CHECK(mtls_outcome_keepable(o, fx->now));
    CHECK(!mtls_outcome_keepable(o, o->expires));
    CHECK(mtls_cert_days_left(fx->bob, o->expires - 1)
          == mtls_cert_days_left(fx->bob, fx->now));
    CHECK(mtls_cert_days_left(fx->bob, o->expires)
          == mtls_cert_days_left(fx->bob, fx->now) - 1);
    /* Resolved again at that moment, the group has moved on. */
    {
        mtls_outcome_t *later = mtls_resolve(p, fx->bob, &src, o->expires,
                                             NULL);
        CHECK(strcmp(joined(later), joined(o)) != 0);
        CHECK(later->expires == o->expires + day);
    }
    /* Past notAfter too (floor of a negative number of days). */
    {
        apr_time_t after = fx->bob->not_after_time + day / 2;
        CHECK_INT(mtls_cert_days_left(fx->bob, after), -1);
        CHECK(mtls_cert_days_left_changes(fx->bob, after)
              == fx->bob->not_after_time + day + 1);
    }
    /* "Could not answer" is never kept. */
    {
        mtls_outcome_t *u = mtls_outcome_make(p, MTLS_OUTCOME_UNAVAILABLE,
                                              MTLS_R_DIRECTORY_UNAVAILABLE);
        CHECK(!mtls_outcome_keepable(u, fx->now));
    }
}

static void test_copy(fixture_t *fx)
{
    apr_pool_t *sub;
    mtls_outcome_t *o, *c;
    static const char *const ou[] = { "subject:OU", NULL };
    static const char *const cn[] = { "subject:CN", NULL };
    mtls_sources_t src;

    memset(&src, 0, sizeof(src));
    apr_pool_create(&sub, fx->p);
    src.user_rules = rules(sub, cn);
    src.group_rules = rules(sub, ou);
    o = mtls_resolve(sub, fx->alice, &src, fx->now, NULL);
    c = mtls_outcome_copy(fx->p, o);
    apr_pool_destroy(sub);       /* the copy owns everything it shows */
    CHECK_STR(c->user, "alice");
    CHECK_STR(c->source, "rule:1");
    CHECK_STR(c->groups_text, "staff, ops");
    CHECK_INT(c->groups->nelts, 2);
    CHECK_STR(APR_ARRAY_IDX(c->groups, 1, const char *), "ops");
    CHECK_STR(mtls_reason_name(MTLS_R_DENYLISTED), "denylisted");
    CHECK_STR(mtls_reason_name(MTLS_R_NONE), "none");
    CHECK_STR(mtls_reason_name(MTLS_R_COUNT), "none");
}

/* Membership: by name for a few groups, by hash for many (the copy
 * builds its own hash), the same answers either way. */
static void test_in_group(fixture_t *fx)
{
    int n, i;

    for (n = 0; n <= 40; n += 20) {
        mtls_outcome_t *o = mtls_outcome_make(fx->p, MTLS_OUTCOME_IDENTITY,
                                              MTLS_R_NONE);
        const mtls_outcome_t *c;
        int found = 0, wrong = 0;
        for (i = 0; i < (n ? n : 3); i++) {
            const char *g = apr_psprintf(fx->p, "grp%d", i);
            APR_ARRAY_PUSH(o->groups, const char *) = g;
            apr_hash_set(o->group_set, g, APR_HASH_KEY_STRING, g);
        }
        c = mtls_outcome_copy(fx->p, o);
        for (i = 0; i < (n ? n : 3); i++) {
            const char *g = apr_psprintf(fx->p, "grp%d", i);
            found += mtls_outcome_in_group(o, g) + mtls_outcome_in_group(c, g);
        }
        wrong += mtls_outcome_in_group(o, "grp") + mtls_outcome_in_group(c, "GRP1")
               + mtls_outcome_in_group(o, "grp100") + mtls_outcome_in_group(c, "");
        CHECK_INT(found, 2 * (n ? n : 3));
        CHECK_INT(wrong, 0);
    }
}

/* One lookup for certificate fields and identity values. */
static void test_vocabulary(fixture_t *fx)
{
    apr_pool_t *p = fx->p;
    static const char *const cn[] = { "subject:CN", NULL };
    static const char *const ou[] = { "subject:OU", NULL };
    const mtls_field_t *f;
    mtls_sources_t src;
    mtls_facts_t facts = { fx->alice, NULL, fx->now };
    mtls_rule_t *r;

    memset(&src, 0, sizeof(src));
    src.user_rules = rules(p, cn);
    src.group_rules = rules(p, ou);
    facts.outcome = mtls_resolve(p, fx->alice, &src, fx->now, NULL);

#define TEXT(name) (mtls_field_parse(p, (name), &f) ? "(bad field)" \
                    : mtls_value_text(p, f, &facts))
    CHECK_STR(TEXT("user"), "alice");
    CHECK_STR(TEXT("groups"), "staff, ops");
    CHECK_STR(TEXT("strength"), "weak");
    CHECK_STR(TEXT("source"), "rule:1");
    CHECK_STR(TEXT("ldap-dn"), NULL);
    CHECK_STR(TEXT("subject:CN"), "alice");
    CHECK_STR(TEXT("subject:OU"), "staff, ops");
    CHECK_STR(TEXT("sha256"), fx->alice->sha256);
    CHECK_STR(TEXT("subject"), "CN=alice,OU=ops,OU=staff,O=Lab");
    CHECK(mtls_field_parse(p, "groups", &f) == NULL
          && mtls_value_list(p, f, &facts)->nelts == 2);
    /* No usable identity: identity values are absent, the certificate's
     * fields are still there. */
    facts.outcome = NULL;
    CHECK_STR(TEXT("user"), NULL);
    CHECK_STR(TEXT("strength"), NULL);
    CHECK(mtls_field_parse(p, "groups", &f) == NULL
          && mtls_value_list(p, f, &facts)->nelts == 0);
    CHECK_STR(TEXT("subject:CN"), "alice");
    facts.cert = NULL;
    CHECK_STR(TEXT("subject:CN"), NULL);
#undef TEXT
    /* A rule reads certificate fields only. */
    CHECK_HAS(mtls_rule_compile(p, "user", NULL, NULL, &r),
              "'user' is what rules make");
    CHECK_HAS(mtls_rule_compile(p, "groups", "^(.*)$", "$1", &r),
              "not a certificate field");
    CHECK(mtls_field_parse(p, "days-left", &f) == NULL
          && mtls_field_moves_with_time(f));
    CHECK(mtls_field_parse(p, "not-after", &f) == NULL
          && !mtls_field_moves_with_time(f));
}

void test_resolve(apr_pool_t *p)
{
    EVP_PKEY *key = unit_key();
    static const char *const alice_dn[] = {
        "O=Lab", "OU=staff", "OU=ops", "CN=alice", NULL };
    static const char *const bob_dn[] = {
        "O=Lab", "OU=staff", "CN=bob", NULL };
    fixture_t fx;

    fx.p = p;
    fx.alice = facts_of(p, unit_cert_simple(key, "0A11CE", "20351231235959Z",
                                            alice_dn));
    fx.bob = facts_of(p, unit_cert_simple(key, "0B0B", "20351231235959Z",
                                          bob_dn));
    fx.now = apr_time_now();
    CHECK(fx.alice && fx.bob);
    if (fx.alice && fx.bob) {
        test_order(&fx);
        test_trace_and_expiry(&fx);
        test_copy(&fx);
        test_in_group(&fx);
        test_vocabulary(&fx);
    }
    EVP_PKEY_free(key);
}
