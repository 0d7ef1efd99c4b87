/* The unit test runner: every test_*() of the pure layer, then every
 * fuzz corpus file replayed through its target.  Prints one line
 * "N passed, M failed" and exits non-zero when anything failed. */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "unit.h"

int unit_passed;
int unit_failed;

void unit_record(int ok, const char *file, int line, const char *what,
                 const char *detail)
{
    if (ok) {
        unit_passed++;
        return;
    }
    unit_failed++;
    fprintf(stderr, "FAIL %s:%d: %s%s%s\n", file, line, what,
            detail ? ": " : "", detail ? detail : "");
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    const char *dir, *slash;

    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);

    test_dn(p);
    test_cert(p);
    test_field(p);
    test_rule(p);
    test_match(p);
    test_filefmt(p);
    test_resolve(p);
    test_hdrfmt(p);
    test_ldapfilter(p);
    test_fwd(p);
    test_lru(p);
    test_dirfmt(p);
    test_certcache(p);
    test_mergecache(p);
    test_crl(p);
    test_realpki(p);

    /* The corpus sits next to the runner: t/unit/corpus/<target>/. */
    slash = strrchr(argv[0], '/');
    dir = slash ? apr_pstrcat(p, apr_pstrmemdup(p, argv[0], slash - argv[0]),
                              "/corpus", NULL)
                : "corpus";
    if (getenv("MTLS_UNIT_CORPUS")) {
        dir = getenv("MTLS_UNIT_CORPUS");
    }
    test_corpus(p, dir);

    printf("%d passed, %d failed\n", unit_passed, unit_failed);
    apr_pool_destroy(p);
    apr_terminate();
    return unit_failed ? 1 : 0;
}
