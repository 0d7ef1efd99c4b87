/* Fuzz targets of the pure layer (see fuzz_targets.h).  No state is kept
 * between inputs: every call has its own pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <openssl/x509.h>
#include <openssl/crypto.h>

#include "fuzz_targets.h"
#include "mtls_cert.h"
#include "mtls_dn.h"
#include "mtls_field.h"
#include "mtls_rule.h"
#include "mtls_match.h"
#include "mtls_filefmt.h"
#include "mtls_ldapfilter.h"
#include "mtls_dirfmt.h"

#define FAIL(...) do { \
    fprintf(stderr, "fuzz property: " __VA_ARGS__); \
    fputc('\n', stderr); \
    rc = 1; \
} while (0)

void mtls_fuzz_init(void)
{
    apr_initialize();
    OPENSSL_init_crypto(0, NULL);
}

/* The input as a C string (cut at the first NUL, as C code sees it). */
static char *cstr(apr_pool_t *p, const uint8_t *d, size_t n)
{
    return apr_pstrmemdup(p, (const char *)d, n);
}

/* The next '\n'-separated part of *s ("" once used up). */
static char *part(char **s)
{
    char *start = *s, *nl = strchr(start, '\n');
    if (nl) {
        *nl = '\0';
        *s = nl + 1;
    }
    else {
        *s = start + strlen(start);
    }
    return start;
}

/* Reference glob: dynamic programming over (pattern, subject) suffixes,
 * obviously right and quadratic; only for short inputs.  A run of stars
 * is one token: "*" alone stays before @p stop, two or more ("**") cross
 * it. */
static int ref_glob(const char *pat, const char *s, char stop, int nocase)
{
    size_t pl = strlen(pat), sl = strlen(s), i, j;
    unsigned char m[33][65];

    if (pl > 32 || sl > 64) {
        return -1;
    }
    for (i = pl + 1; i-- > 0;) {
        for (j = sl + 1; j-- > 0;) {
            int r;
            if (i == pl) {
                r = j == sl;
            }
            else if (pat[i] == '*') {
                size_t run = i, next;
                int crosses;
                while (run > 0 && pat[run - 1] == '*') {
                    run--;
                }
                for (next = i; next < pl && pat[next] == '*'; next++) {
                }
                crosses = next - run > 1;
                /* From inside a run, the run's own kind decides; the
                 * token ends where the run does. */
                r = m[next][j]
                    || (j < sl && (crosses || !stop || s[j] != stop)
                        && m[i][j + 1]);
            }
            else {
                r = j < sl
                    && (nocase ? apr_tolower(pat[i]) == apr_tolower(s[j])
                               : pat[i] == s[j])
                    && m[i + 1][j + 1];
            }
            m[i][j] = (unsigned char)r;
        }
    }
    return m[0][0];
}

int mtls_fuzz_dn(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    char *text, *rest, *a, *b, *c;
    const char *canon = NULL, *canon2 = NULL, *err, *hex, *out;
    const mtls_field_t *f;
    mtls_rule_t *rule;
    mtls_fp_kind_e kind;
    X509_NAME *name;
    apr_array_header_t *avas;
    int rc = 0, stop;

    apr_pool_create(&p, NULL);
    text = cstr(p, data, size);

    /* The whole input as a DN, an attribute name, a field, a key. */
    if (!mtls_dn_canon(p, text, &canon)) {
        /* Canonical text is a function of the input: twice the same. */
        if (mtls_dn_canon(p, text, &canon2) || strcmp(canon, canon2)) {
            FAIL("mtls_dn_canon('%s') is not deterministic", text);
        }
    }
    else if (canon) {
        FAIL("mtls_dn_canon('%s') failed but set its output", text);
    }
    mtls_attr_oid(p, text);
    mtls_field_parse(p, text, &f);
    if (!mtls_fingerprint_parse(p, text, &kind, &hex) && strlen(hex) != 64) {
        FAIL("fingerprint of '%s' is '%s'", text, hex);
    }
    if (!mtls_serial_normalize(p, text, &out)
        && (!*out || (out[0] == '0' && out[1]))) {
        FAIL("serial of '%s' is '%s'", text, out);
    }

    /* Escaping any value and parsing it back gives the canonical form
     * of a name holding that value (when the value is UTF-8: one that is
     * not is undecodable in a certificate and never equals any text). */
    name = X509_NAME_new();
    avas = apr_array_make(p, 1, sizeof(mtls_ava_t));
    if (name && X509_NAME_add_entry_by_txt(name, "CN", V_ASN1_UTF8STRING,
                                           (const unsigned char *)text, -1,
                                           -1, 0)
        && (mtls_dn_format(p, name, avas), avas->nelts == 1)) {
        const char *want = mtls_dn_canon_x509(p, name);
        const char *esc = mtls_dn_escape_value(p, text);
        err = mtls_dn_canon(p, apr_pstrcat(p, "CN=", esc, NULL), &canon);
        if (err) {
            FAIL("escaped value '%s' does not parse: %s", esc, err);
        }
        else if (strcmp(canon, want)) {
            FAIL("escaped value '%s': canon '%s' but the name's is '%s'",
                 esc, canon, want);
        }
    }
    X509_NAME_free(name);

    /* Lines: pattern, subject, template. */
    rest = text;
    a = part(&rest);
    b = part(&rest);
    c = part(&rest);
    for (stop = 0; stop < 3; stop++) {
        char sc = stop == 0 ? 0 : stop == 1 ? '/' : '.';
        int nocase = (size & 1) != 0;
        int got = mtls_glob_match(a, b, sc, nocase);
        int want = ref_glob(a, b, sc, nocase);
        if (want >= 0 && got != want) {
            FAIL("glob '%s' on '%s' stop '%c' nocase %d: %d, want %d",
                 a, b, sc ? sc : '0', nocase, got, want);
        }
    }
    if (!mtls_rule_compile(p, "san:email", "^([^@]*)@?(.*)$", c, &rule)) {
        out = mtls_rule_apply(p, rule, b);
        if (out) {
            const char *s;
            for (s = out; *s; s++) {
                if ((unsigned char)*s < 0x20 || *s == 0x7f) {
                    FAIL("rule result holds a control byte");
                    break;
                }
            }
            if (!*out) {
                FAIL("rule result is empty");
            }
        }
    }

    apr_pool_destroy(p);
    return rc;
}

int mtls_fuzz_filefmt(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *text, *err, *line;
    mtls_cert_t cert;
    int rc = 0, mode;

    if (size < 1) {
        return 0;
    }
    /* 0 map, 1 deny list, 2 group file; a first byte from 0xf0 on picks
     * 3 grid-mapfile or 4 FakeBasicAuth htpasswd (the older seeds keep
     * their meaning) */
    mode = data[0] >= 0xf0 ? 3 + data[0] % 2 : data[0] % 3;
    apr_pool_create(&p, NULL);
    text = cstr(p, data + 1, size - 1);

    /* A certificate's facts, by hand: only what lookups read. */
    memset(&cert, 0, sizeof(cert));
    cert.sha256 = "00112233445566778899aabbccddeeff"
                  "00112233445566778899aabbccddeeff";
    cert.spki = cert.sha256;
    cert.serial = "AB01";
    cert.subject_canon = "2.5.4.3=alice,2.5.4.10=lab";
    cert.issuer_canon = "2.5.4.3=ca";

    if (mode != 2) {
        mtls_map_t *m = NULL;
        err = mtls_map_parse_format(p, "f", text,
                                    mode == 0 ? MTLS_MAPFMT_MAP
                                    : mode == 1 ? MTLS_MAPFMT_DENY
                                    : mode == 3 ? MTLS_MAPFMT_GRIDMAP
                                    : MTLS_MAPFMT_FAKEBASICAUTH, &m);
        if (!err) {
            apr_hash_index_t *hi;
            if (!m || (int)apr_hash_count(m->by_key) != m->entries) {
                FAIL("map: %d entries but %u keys", m ? m->entries : -1,
                     m ? apr_hash_count(m->by_key) : 0);
            }
            for (hi = m ? apr_hash_first(p, m->by_key) : NULL; hi;
                 hi = apr_hash_next(hi)) {
                const mtls_map_entry_t *e;
                apr_hash_this(hi, NULL, NULL, (void **)&e);
                if (mode != 1 && (!e->user || !*e->user)) {
                    FAIL("map: entry of line %d has no user", e->line);
                }
                if (mode == 1 && e->user) {
                    FAIL("deny list: entry of line %d has a user", e->line);
                }
            }
            mtls_map_lookup(p, m, &cert);
        }
        else if (strncmp(err, "f:", 2)) {
            FAIL("map error without file:line: %s", err);
        }
    }
    else {
        mtls_groupfile_t *g = NULL;
        err = mtls_groupfile_parse(p, "f", text, &g);
        if (!err) {
            apr_hash_index_t *hi;
            for (hi = apr_hash_first(p, g->groups_by_user); hi;
                 hi = apr_hash_next(hi)) {
                const apr_array_header_t *l;
                int i, j;
                apr_hash_this(hi, NULL, NULL, (void **)&l);
                for (i = 0; i < l->nelts; i++) {
                    for (j = 0; j < i; j++) {
                        if (!strcmp(APR_ARRAY_IDX(l, i, const char *),
                                    APR_ARRAY_IDX(l, j, const char *))) {
                            FAIL("group file: a group listed twice");
                        }
                    }
                }
            }
            mtls_groupfile_lookup(g, "alice");
        }
        else if (strncmp(err, "f:", 2)) {
            FAIL("group file error without file:line: %s", err);
        }
    }

    /* Words: every call moves on, or the line is used up. */
    line = text;
    while (*line) {
        const char *before = line;
        mtls_getword_conf(p, &line);
        if (line == before) {
            FAIL("mtls_getword_conf does not move on at '%.20s'", line);
            break;
        }
    }

    apr_pool_destroy(p);
    return rc;
}

static const char *const fields[] = {
    "subject", "issuer", "subject:CN", "subject:OU", "subject:O",
    "subject:UID", "subject:DC", "subject:emailAddress", "issuer:CN",
    "subject:2.5.4.5", "san:email", "san:dns", "san:uri", "san:ip",
    "san:upn", "serial", "sha256", "spki", "not-after", "days-left", "eku",
    "policies", "sid", "ski", "sha1-pubkey", NULL
};

/* The RFC 4514 text of a name parses to its canonical form, when every
 * attribute decoded (an undecodable one never equals any text). */
static int check_name(apr_pool_t *p, const X509_NAME *name, const char *text,
                      const char *canon, const apr_array_header_t *avas,
                      const char *which)
{
    const char *parsed, *err;
    int rc = 0;

    if (X509_NAME_entry_count(name) == 0
        || avas->nelts != X509_NAME_entry_count(name)) {
        return 0;
    }
    err = mtls_dn_canon(p, text, &parsed);
    if (err) {
        FAIL("%s '%s' does not parse: %s", which, text, err);
    }
    else if (strcmp(parsed, canon)) {
        FAIL("%s '%s': text canon '%s' but the name's is '%s'", which, text,
             parsed, canon);
    }
    return rc;
}

int mtls_fuzz_cert(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const unsigned char *d = data;
    X509 *x;
    mtls_cert_t *c = NULL;
    const char *err = NULL;
    apr_status_t st;
    int rc = 0, i;

    apr_pool_create(&p, NULL);
    x = d2i_X509(NULL, &d, (long)size);
    if (x) {
        st = mtls_cert_from_x509(p, x, &c, &err);
    }
    else {
        st = mtls_cert_from_pem(p, cstr(p, data, size), &c, &err);
    }
    if (st != APR_SUCCESS) {
        if (c || !err || !*err) {
            FAIL("a failure without a message, or with facts");
        }
        goto leave;
    }
    /* A name without text is one with a value that cannot be decoded,
     * and the facts say so. */
    if (c && (!c->subject || !c->issuer) && !c->problem) {
        FAIL("a name has no text and no problem is noted");
    }
    if (c && x && ((!c->subject && c->subject_avas->nelts
                   == X509_NAME_entry_count(X509_get_subject_name(x)))
              || (!c->issuer && c->issuer_avas->nelts
                   == X509_NAME_entry_count(X509_get_issuer_name(x))))) {
        FAIL("a name has no text but every attribute decoded");
    }
    if (!c || !c->subject_canon || !c->issuer_canon || !c->serial
        || !c->not_after
        || !c->sha256 || strlen(c->sha256) != 64 || !c->spki
        || strlen(c->spki) != 64) {
        FAIL("facts incomplete");
        goto leave;
    }
    for (i = 0; c->sha256_twins && i < c->sha256_twins->nelts; i++) {
        const char *h = APR_ARRAY_IDX(c->sha256_twins, i, const char *);
        if (strlen(h) != 64 || !strcmp(h, c->sha256)) {
            FAIL("twin sha256 '%s' of '%s'", h, c->sha256);
        }
    }
    for (i = 0; fields[i]; i++) {
        const mtls_field_t *f;
        apr_array_header_t *v;
        if (mtls_field_parse(p, fields[i], &f)) {
            FAIL("field %s does not parse", fields[i]);
            continue;
        }
        v = mtls_field_values(p, f, c, apr_time_now());
        mtls_list_join(p, v);
        mtls_field_first(p, f, c, apr_time_now());
    }
    for (i = 0; i < MTLS_KEY_COUNT; i++) {
        mtls_map_cert_key(p, c, i);
    }
    mtls_cert_days_left(c, apr_time_now());
    if (x) {
        rc |= check_name(p, X509_get_subject_name(x), c->subject,
                         c->subject_canon, c->subject_avas, "subject");
        rc |= check_name(p, X509_get_issuer_name(x), c->issuer,
                         c->issuer_canon, c->issuer_avas, "issuer");
    }

leave:
    X509_free(x);
    apr_pool_destroy(p);
    return rc;
}

/* Filter specials outside the {placeholders} of a template that parsed. */
static int literal_specials(const char *t)
{
    int n = 0;

    for (; *t; t++) {
        if (*t == '{') {
            while (*t && *t != '}') {
                t++;
            }
            if (!*t) {
                break;
            }
            continue;
        }
        n += *t == '(' || *t == ')' || *t == '*';
    }
    return n;
}

static int count_specials(const char *s)
{
    int n = 0;

    for (; *s; s++) {
        n += *s == '(' || *s == ')' || *s == '*';
    }
    return n;
}

int mtls_fuzz_ldapfilter(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    char *text, *rest, *tmpl, *user, *value, *serial;
    mtls_ldapfilter_t *f;
    mtls_cert_t c;
    mtls_ava_t ava;
    const char *out;
    int rc = 0, i, kind;

    if (size < 1) {
        return 0;
    }
    apr_pool_create(&p, NULL);
    kind = data[0] & 1;
    text = rest = cstr(p, data + 1, size - 1);
    tmpl = part(&rest);
    user = part(&rest);
    value = part(&rest);
    serial = part(&rest);
    if (mtls_ldapfilter_parse(p, tmpl, kind ? MTLS_LDAPFILTER_GROUP
                                            : MTLS_LDAPFILTER_USER, &f)) {
        goto leave;
    }
    /* A certificate whose every value is the input's: no value may add a
     * filter special to what the template wrote. */
    memset(&c, 0, sizeof(c));
    c.subject = c.issuer = value;
    c.serial = serial;
    c.sha256 = c.spki = value;
    c.sid = c.ski = c.sha1_pubkey = value;
    c.ski_is_key_hash = data[0] & 2;
    c.der = (const unsigned char *)text;
    c.der_len = strlen(text);
    ava.oid = "2.5.4.3";
    ava.value = value;
    c.subject_avas = apr_array_make(p, 1, sizeof(mtls_ava_t));
    c.issuer_avas = apr_array_make(p, 1, sizeof(mtls_ava_t));
    APR_ARRAY_PUSH(c.subject_avas, mtls_ava_t) = ava;
    APR_ARRAY_PUSH(c.issuer_avas, mtls_ava_t) = ava;
    for (i = 0; i < MTLS_SAN_COUNT; i++) {
        c.san[i] = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(c.san[i], const char *) = value;
    }
    out = mtls_ldapfilter_render_sid(p, f, &c, user, value, data[0] & 4);
    (void)mtls_ldapfilter_strong_for(f, &c);
    if (out && count_specials(out) != literal_specials(tmpl)) {
        FAIL("a value changed the filter: [%s] -> [%s]", tmpl, out);
    }
    if (out && *out != '(') {
        FAIL("rendered filter not in parentheses: [%s]", out);
    }
    mtls_ldap_escape(p, value, strlen(value));
    if (*serial) {
        mtls_ldap_ad_serial(p, serial);
    }
leave:
    apr_pool_destroy(p);
    return rc;
}

/* ---- cached directory answers --------------------------------------- */

static int same_answer(const mtls_dir_answer_t *a, const mtls_dir_answer_t *b)
{
    int i;

    if (a->outcome != b->outcome || a->strong != b->strong
        || strcmp(a->user ? a->user : "", b->user ? b->user : "")
        || strcmp(a->dn ? a->dn : "", b->dn ? b->dn : "")
        || a->groups->nelts != b->groups->nelts) {
        return 0;
    }
    for (i = 0; i < a->groups->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(a->groups, i, const char *),
                   APR_ARRAY_IDX(b->groups, i, const char *))) {
            return 0;
        }
    }
    return 1;
}

int mtls_fuzz_dirfmt(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    mtls_dir_answer_t a, b;
    apr_time_t t = 0, t2 = 0;
    apr_size_t len;
    const char *v;
    char *copy;
    int rc = 0;

    apr_pool_create(&p, NULL);
    /* (a copy of exactly @p size bytes: reading past it is a bug ASan
     * sees) */
    copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    if (mtls_dirfmt_read(p, copy, size, &a, &t)) {
        /* what reads is an answer that writes and reads back alike */
        if (t <= 0) {
            FAIL("dirfmt: fetch time %" APR_TIME_T_FMT " read", t);
        }
        v = mtls_dirfmt_write(p, &a, t, &len);
        if (!mtls_dirfmt_read(p, v, len, &b, &t2) || t2 != t
            || !same_answer(&a, &b)) {
            FAIL("dirfmt: an answer read does not write and read back");
        }
        /* and every shorter prefix of it is no answer */
        if (len > 1 && mtls_dirfmt_read(p, v, len - 1, &b, &t2)) {
            FAIL("dirfmt: a prefix of an answer read as one");
        }
    }
    free(copy);
    apr_pool_destroy(p);
    return rc;
}
