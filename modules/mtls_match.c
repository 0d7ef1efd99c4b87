/* Globs, fingerprints and serial numbers. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include "mtls_match.h"

static int same(char a, char b, int nocase)
{
    return nocase ? apr_tolower(a) == apr_tolower(b) : a == b;
}

/* The set of name positions the pattern read so far can end at:
 * at[j] says it matches s[0..j); every live position is in [lo, hi]. */
typedef struct {
    unsigned char *at;
    apr_size_t lo, hi;
} glob_set_t;

/* A star extends every live position to the right: "**" to the end of
 * the name, "*" up to (not over) the next stop character. */
static void step_star(glob_set_t *g, const char *s, apr_size_t n,
                      int crosses, char stop)
{
    apr_size_t j, hi = g->hi;
    int reach = 0;

    for (j = g->lo; j <= n && (reach || j <= g->hi); j++) {
        reach |= g->at[j];
        g->at[j] = (unsigned char)reach;
        if (reach) {
            hi = j;
        }
        if (j < n && !crosses && stop && s[j] == stop) {
            reach = 0;
        }
    }
    g->hi = hi;
}

/* A literal moves every live position one to the right where the name
 * has that character.  Returns 0 when no position is left. */
static int step_char(glob_set_t *g, const char *s, apr_size_t n, char c,
                     int nocase)
{
    apr_size_t j, lo = n + 1, hi = 0;

    if (g->lo >= n) {
        return 0;
    }
    if (g->hi == n) {
        g->at[n] = 0;
        g->hi = n - 1;
    }
    for (j = g->hi + 1; j > g->lo; j--) {
        g->at[j] = g->at[j - 1] && same(c, s[j - 1], nocase);
        if (g->at[j]) {
            lo = j;
            hi = hi ? hi : j;
        }
    }
    g->at[g->lo] = 0;
    if (!hi) {
        return 0;
    }
    g->lo = lo;
    g->hi = hi;
    return 1;
}

int mtls_glob_match(const char *pat, const char *s, char stop, int nocase)
{
    /* Exact for any mix of "*" and "**" (a greedy matcher with one
     * backtrack point is not: "**" before "*" misses matches).  The set
     * of positions in the name is carried through the pattern, so the
     * cost is at most pattern length x name length, whatever the pattern
     * or the name, and no recursion.  Names are capped; patterns are the
     * administrator's. */
    unsigned char buf[256];
    glob_set_t g = { buf, 0, 0 };
    apr_size_t n = strlen(s);
    int ok = 0;

    if (n > MTLS_GLOB_MAX_NAME) {
        return 0;
    }
    /* Up to the first star one position is live: compare directly (the
     * usual pattern is a literal prefix and one trailing star). */
    while (*pat && *pat != '*') {
        if (!*s || !same(*pat, *s, nocase)) {
            return 0;
        }
        pat++;
        s++;
        n--;
    }
    if (!*pat) {
        return !*s;
    }
    if (!pat[1]) {
        return !stop || !strchr(s, stop);   /* a trailing "*" */
    }
    if (pat[1] == '*' && !pat[strspn(pat, "*")]) {
        return 1;                           /* a trailing "**" */
    }
    if (n + 1 > sizeof(buf) && !(g.at = malloc(n + 1))) {
        return 0;
    }
    memset(g.at, 0, n + 1);
    g.at[0] = 1;
    while (*pat) {
        if (*pat == '*') {
            int crosses = pat[1] == '*';
            while (*pat == '*') {
                pat++;
            }
            step_star(&g, s, n, crosses, stop);
            continue;
        }
        if (!step_char(&g, s, n, *pat++, nocase)) {
            goto leave;
        }
    }
    ok = g.at[n];
leave:
    if (g.at != buf) {
        free(g.at);
    }
    return ok;
}

const char *mtls_fingerprint_parse(apr_pool_t *p, const char *text,
                                   mtls_fp_kind_e *kind, const char **hex)
{
    const char *s;
    char *out;
    int n = 0;

    if (!strncasecmp(text, "sha256:", 7)) {
        *kind = MTLS_FP_SHA256;
        s = text + 7;
    }
    else if (!strncasecmp(text, "spki:", 5)) {
        *kind = MTLS_FP_SPKI;
        s = text + 5;
    }
    else {
        return apr_psprintf(p, "'%s' is not a fingerprint: write sha256:HEX "
                            "or spki:HEX", text);
    }
    out = apr_palloc(p, 65);
    for (; *s; s++) {
        if (*s == ':') {
            continue;
        }
        if (!apr_isxdigit(*s) || n == 64) {
            return apr_psprintf(p, "'%s' is not a fingerprint: expected 64 "
                                "hex digits (SHA-256)", text);
        }
        out[n++] = apr_tolower(*s);
    }
    if (n != 64) {
        return apr_psprintf(p, "'%s' is not a fingerprint: expected 64 hex "
                            "digits (SHA-256), got %d", text, n);
    }
    out[n] = '\0';
    *hex = out;
    return NULL;
}

const char *mtls_serial_normalize(apr_pool_t *p, const char *text,
                                  const char **out)
{
    char *buf = apr_palloc(p, strlen(text) + 2);
    const char *s = text;
    int n = 0;

    if (!strncasecmp(s, "0x", 2)) {
        s += 2;
    }
    for (; *s; s++) {
        if (*s == ':') {
            continue;
        }
        if (!apr_isxdigit(*s)) {
            return apr_psprintf(p, "'%s' is not a hex serial number", text);
        }
        if (n == 0 && *s == '0') {
            continue;
        }
        buf[n++] = apr_toupper(*s);
    }
    if (n == 0) {
        /* All zeros is a serial; nothing at all ("", "0x", ":") is not. */
        if (!strpbrk(text + (strncasecmp(text, "0x", 2) ? 0 : 2), "0")) {
            return apr_psprintf(p, "'%s' is not a hex serial number", text);
        }
        buf[n++] = '0';
    }
    buf[n] = '\0';
    *out = buf;
    return NULL;
}
