/* Replays every seed corpus file through its fuzz target, so the corpus
 * (and every crash input added to it) runs in the normal test. */
#include <stdlib.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "unit.h"
#include "fuzz_targets.h"

static const struct {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
} targets[] = {
    { "dn", mtls_fuzz_dn },
    { "filefmt", mtls_fuzz_filefmt },
    { "cert", mtls_fuzz_cert },
    { "ldapfilter", mtls_fuzz_ldapfilter },
    { "fwd", mtls_fuzz_fwd },
    { "dirfmt", mtls_fuzz_dirfmt },
    { NULL, NULL }
};

void test_corpus(apr_pool_t *p, const char *dir)
{
    int t;

    mtls_fuzz_init();
    for (t = 0; targets[t].name; t++) {
        const char *tdir = apr_pstrcat(p, dir, "/", targets[t].name, NULL);
        apr_dir_t *dh;
        apr_finfo_t fi;
        int files = 0;

        if (apr_dir_open(&dh, tdir, p) != APR_SUCCESS) {
            unit_record(0, __FILE__, __LINE__, "corpus directory", tdir);
            continue;
        }
        while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, dh)
               == APR_SUCCESS) {
            const char *path;
            char *buf;
            apr_size_t len;
            apr_file_t *fh;
            apr_finfo_t st;

            if (fi.filetype != APR_REG || fi.name[0] == '.') {
                continue;
            }
            path = apr_pstrcat(p, tdir, "/", fi.name, NULL);
            if (apr_file_open(&fh, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                              0, p) != APR_SUCCESS
                || apr_file_info_get(&st, APR_FINFO_SIZE, fh)
                   != APR_SUCCESS) {
                unit_record(0, __FILE__, __LINE__, "read", path);
                continue;
            }
            len = (apr_size_t)st.size;
            /* An exact-size heap copy, so sanitizers see overreads. */
            buf = malloc(len ? len : 1);
            if (len) {
                apr_file_read_full(fh, buf, len, &len);
            }
            apr_file_close(fh);
            unit_record(targets[t].fn((const uint8_t *)buf, len) == 0,
                        __FILE__, __LINE__, "corpus input", path);
            free(buf);
            files++;
        }
        apr_dir_close(dh);
        unit_record(files > 0, __FILE__, __LINE__, "corpus not empty", tdir);
    }
}
