/* The directory's answers as the shared cache keeps them: see
 * mtls_dirfmt.h. */
#include "mtls_dirfmt.h"
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include <apr_strings.h>

/* The format: NUL-terminated fields, "F2" or "N2" (found or not; the 2
 * is the format's version, so an answer another version wrote is not
 * read), the fetch time, the strength, the user, the DN, the number of
 * groups, then the groups.  Values never hold a NUL. */
#define HEADS 6

const char *mtls_dirfmt_write(apr_pool_t *p, const mtls_dir_answer_t *a,
                              apr_time_t fetched, apr_size_t *len)
{
    int ngroups = a->groups ? a->groups->nelts : 0;
    int i, n = HEADS + ngroups;
    const char *head[HEADS];
    struct iovec *v;
    char *out, *o;

    head[0] = a->outcome == MTLS_DIR_FOUND ? "F2" : "N2";
    head[1] = apr_psprintf(p, "%" APR_TIME_T_FMT, fetched);
    head[2] = a->strong ? "1" : "0";
    head[3] = a->user ? a->user : "";
    head[4] = a->dn ? a->dn : "";
    head[5] = apr_itoa(p, ngroups);
    v = apr_palloc(p, sizeof(*v) * n);
    *len = 0;
    for (i = 0; i < n; i++) {
        const char *s = i < HEADS ? head[i]
                        : APR_ARRAY_IDX(a->groups, i - HEADS, const char *);
        v[i].iov_base = (void *)s;
        v[i].iov_len = strlen(s) + 1;
        *len += v[i].iov_len;
    }
    out = o = apr_palloc(p, *len);
    for (i = 0; i < n; i++) {
        memcpy(o, v[i].iov_base, v[i].iov_len);
        o += v[i].iov_len;
    }
    return out;
}

/* A decimal number of the whole field @p s, in [@p min, @p max]. */
static int number(const char *s, apr_int64_t min, apr_int64_t max,
                  apr_int64_t *out)
{
    char *e;

    if (!*s || (*s != '-' && (*s < '0' || *s > '9'))) {
        return 0;
    }
    errno = 0;
    *out = apr_strtoi64(s, &e, 10);
    return !*e && !errno && *out >= min && *out <= max;
}

int mtls_dirfmt_read(apr_pool_t *p, const char *v, apr_size_t len,
                     mtls_dir_answer_t *a, apr_time_t *fetched)
{
    const char *end = v + len, *s = v;
    const char *head[HEADS];
    apr_int64_t t, count, i;

    /* (the last field's NUL ends the value: every strlen below stays
     * inside it) */
    if (!v || !len || v[len - 1] != '\0') {
        return 0;
    }
    for (i = 0; i < HEADS; i++) {
        if (s >= end) {
            return 0;
        }
        head[i] = s;
        s += strlen(s) + 1;
    }
    if ((strcmp(head[0], "F2") && strcmp(head[0], "N2"))
        || (strcmp(head[2], "0") && strcmp(head[2], "1"))
        || !number(head[1], 1, APR_INT64_MAX, &t)
        /* each group takes at least its NUL */
        || !number(head[5], 0, (apr_int64_t)(end - s), &count)) {
        return 0;
    }
    memset(a, 0, sizeof(*a));
    a->outcome = *head[0] == 'F' ? MTLS_DIR_FOUND : MTLS_DIR_NONE;
    a->strong = *head[2] == '1';
    a->user = *head[3] ? apr_pstrdup(p, head[3]) : NULL;
    a->dn = *head[4] ? apr_pstrdup(p, head[4]) : NULL;
    a->groups = apr_array_make(p, (int)count ? (int)count : 1,
                               sizeof(const char *));
    for (i = 0; i < count; i++) {
        if (s >= end) {
            return 0;         /* fewer groups than it says */
        }
        APR_ARRAY_PUSH(a->groups, const char *) = apr_pstrdup(p, s);
        s += strlen(s) + 1;
    }
    if (s != end) {
        return 0;             /* more than it says */
    }
    *fetched = (apr_time_t)t;
    return 1;
}

mtls_dirfmt_age_e mtls_dirfmt_age(apr_time_t now, apr_time_t fetched,
                                  apr_interval_time_t ttl,
                                  apr_interval_time_t max_stale)
{
    if (fetched > now + MTLS_DIRFMT_SKEW) {
        return MTLS_DIRFMT_UNUSABLE;   /* a clock far ahead, or garbage */
    }
    if (now - fetched < ttl) {
        return MTLS_DIRFMT_FRESH;
    }
    return now - fetched < ttl + max_stale ? MTLS_DIRFMT_STALE
                                           : MTLS_DIRFMT_UNUSABLE;
}
