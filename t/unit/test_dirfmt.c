/* The directory's answers as the shared cache keeps them (mtls_dirfmt.c):
 * read back as written, and nothing read from bytes that are not one
 * whole answer of this format; how old an answer may be to be used. */
#include <string.h>
#include <apr_strings.h>

#include "unit.h"
#include "mtls_dirfmt.h"

static mtls_dir_answer_t answer(apr_pool_t *p, int ngroups)
{
    mtls_dir_answer_t a;
    int i;

    memset(&a, 0, sizeof(a));
    a.outcome = MTLS_DIR_FOUND;
    a.user = "alice";
    a.dn = "uid=alice,ou=people,dc=lab";
    a.strong = 1;
    a.groups = apr_array_make(p, 4, sizeof(const char *));
    for (i = 0; i < ngroups; i++) {
        APR_ARRAY_PUSH(a.groups, const char *) = apr_psprintf(p, "g%d", i);
    }
    return a;
}

static int reads(apr_pool_t *p, const char *v, apr_size_t len)
{
    mtls_dir_answer_t a;
    apr_time_t t;

    return mtls_dirfmt_read(p, v, len, &a, &t);
}

static void test_round_trip(apr_pool_t *p)
{
    mtls_dir_answer_t a = answer(p, 3), b, none;
    apr_time_t t = 0;
    apr_size_t len;
    const char *v = mtls_dirfmt_write(p, &a, 1234567, &len);

    CHECK_INT(mtls_dirfmt_read(p, v, len, &b, &t), 1);
    CHECK(t == 1234567);
    CHECK_INT(b.outcome, MTLS_DIR_FOUND);
    CHECK_INT(b.strong, 1);
    CHECK_STR(b.user, "alice");
    CHECK_STR(b.dn, "uid=alice,ou=people,dc=lab");
    CHECK_INT(b.groups->nelts, 3);
    CHECK_STR(APR_ARRAY_IDX(b.groups, 2, const char *), "g2");

    memset(&none, 0, sizeof(none));
    none.outcome = MTLS_DIR_NONE;
    v = mtls_dirfmt_write(p, &none, 99, &len);
    CHECK_INT(mtls_dirfmt_read(p, v, len, &b, &t), 1);
    CHECK_INT(b.outcome, MTLS_DIR_NONE);
    CHECK(b.user == NULL && b.dn == NULL);
    CHECK_INT(b.groups->nelts, 0);
}

static void test_not_whole(apr_pool_t *p)
{
    mtls_dir_answer_t a = answer(p, 3);
    apr_size_t len, cut;
    const char *v = mtls_dirfmt_write(p, &a, 1234567, &len);
    char *more;
    int whole = 1;

    /* every shorter prefix: nothing (a group fewer is not an answer) */
    for (cut = 0; cut < len; cut++) {
        if (reads(p, v, cut)) {
            whole = 0;
        }
    }
    CHECK_INT(whole, 1);
    /* a group more than it says */
    more = apr_palloc(p, len + 3);
    memcpy(more, v, len);
    memcpy(more + len, "gx", 3);
    CHECK_INT(reads(p, more, len + 3), 0);
    CHECK_INT(reads(p, NULL, 0), 0);
}

static void test_bad_fields(apr_pool_t *p)
{
    /* The format before this one (no version, no count): not read. */
    static const char old[] = "F\0" "1234567\0" "1\0alice\0uid=alice\0g0";
    static const char ok[] = "F2\0" "1234567\0" "1\0alice\0uid=alice\0" "1\0g0";
    static const char count_hi[] = "F2\0" "1234567\0" "1\0alice\0uid=a\0" "2\0g0";
    static const char count_bad[] = "F2\0" "1234567\0" "1\0alice\0uid=a\0" "1x\0g0";
    static const char count_neg[] = "F2\0" "1234567\0" "1\0alice\0uid=a\0" "-1\0g0";
    static const char time_bad[] = "F2\0" "12a4567\0" "1\0alice\0uid=a\0" "1\0g0";
    static const char time_neg[] = "F2\0" "-5\0" "1\0alice\0uid=a\0" "1\0g0";
    static const char time_huge[] = "F2\0" "99999999999999999999\0" "1\0a\0d\0" "0";
    static const char strength[] = "F2\0" "1234567\0" "2\0alice\0uid=a\0" "1\0g0";
    static const char kind[] = "X2\0" "1234567\0" "1\0alice\0uid=a\0" "1\0g0";

    CHECK_INT(reads(p, ok, sizeof(ok)), 1);
    CHECK_INT(reads(p, old, sizeof(old)), 0);
    CHECK_INT(reads(p, count_hi, sizeof(count_hi)), 0);
    CHECK_INT(reads(p, count_bad, sizeof(count_bad)), 0);
    CHECK_INT(reads(p, count_neg, sizeof(count_neg)), 0);
    CHECK_INT(reads(p, time_bad, sizeof(time_bad)), 0);
    CHECK_INT(reads(p, time_neg, sizeof(time_neg)), 0);
    CHECK_INT(reads(p, time_huge, sizeof(time_huge)), 0);
    CHECK_INT(reads(p, strength, sizeof(strength)), 0);
    CHECK_INT(reads(p, kind, sizeof(kind)), 0);
    /* not NUL-terminated */
    CHECK_INT(reads(p, ok, sizeof(ok) - 1), 0);
}

static void test_age(apr_pool_t *p)
{
    apr_time_t now = apr_time_from_sec(1000000);
    apr_interval_time_t ttl = apr_time_from_sec(300);

    (void)p;
    CHECK_INT(mtls_dirfmt_age(now, now, ttl, 0), MTLS_DIRFMT_FRESH);
    CHECK_INT(mtls_dirfmt_age(now, now - ttl + 1, ttl, 0), MTLS_DIRFMT_FRESH);
    CHECK_INT(mtls_dirfmt_age(now, now - ttl, ttl, 0), MTLS_DIRFMT_UNUSABLE);
    CHECK_INT(mtls_dirfmt_age(now, now - ttl, ttl, apr_time_from_sec(60)),
              MTLS_DIRFMT_STALE);
    CHECK_INT(mtls_dirfmt_age(now, now - ttl - apr_time_from_sec(60), ttl,
                              apr_time_from_sec(60)), MTLS_DIRFMT_UNUSABLE);
    /* another host's clock a little ahead: fresh; far ahead: neither
     * fresh nor stale, whatever MTLSCacheMaxStale says */
    CHECK_INT(mtls_dirfmt_age(now, now + apr_time_from_sec(2), ttl, 0),
              MTLS_DIRFMT_FRESH);
    CHECK_INT(mtls_dirfmt_age(now, now + apr_time_from_sec(60), ttl, 0),
              MTLS_DIRFMT_UNUSABLE);
    CHECK_INT(mtls_dirfmt_age(now, now + apr_time_from_sec(60), ttl,
                              apr_time_from_sec(3600)), MTLS_DIRFMT_UNUSABLE);
}

void test_dirfmt(apr_pool_t *p)
{
    test_round_trip(p);
    test_not_whole(p);
    test_bad_fields(p);
    test_age(p);
}
