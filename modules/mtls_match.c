/* Globs, fingerprints and serial numbers. */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include "mtls_match.h"

static int same(char a, char b, int nocase)
{
    return nocase ? apr_tolower(a) == apr_tolower(b) : a == b;
}

int mtls_glob_match(const char *pat, const char *s, char stop, int nocase)
{
    /* Iterative with one backtrack point per star: linear enough for the
     * short names SANs hold, and no recursion an attacker can deepen.
     * "**" is a star that may cross the stop character. */
    const char *star = NULL, *resume = NULL;
    int crosses = 0;

    while (*s) {
        if (*pat == '*') {
            crosses = pat[1] == '*';
            pat += crosses ? 2 : 1;
            while (*pat == '*') {
                pat++;
            }
            star = pat;
            resume = s;
            continue;
        }
        if (*pat && same(*pat, *s, nocase)) {
            pat++;
            s++;
            continue;
        }
        if (star && *resume && (crosses || *resume != stop)) {
            pat = star;
            s = ++resume;
            continue;
        }
        return 0;
    }
    while (*pat == '*') {
        pat++;
    }
    return *pat == '\0';
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
