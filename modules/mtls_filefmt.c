/* Map file, deny list and group file parsers. */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include "mtls_filefmt.h"
#include "mtls_dn.h"
#include "mtls_match.h"

char *mtls_getword_conf(apr_pool_t *p, const char **line)
{
    const char *s = *line, *start;
    char *word;

    while (apr_isspace(*s)) {
        s++;
    }
    if (*s == '"' || *s == '\'') {
        char quote = *s++;
        apr_size_t o = 0;
        start = s;
        word = apr_palloc(p, strlen(s) + 1);
        while (*s && *s != quote) {
            if (*s == '\\' && s[1] == quote) {
                s++;
            }
            word[o++] = *s++;
        }
        word[o] = '\0';
        if (*s) {
            s++;
        }
    }
    else {
        start = s;
        while (*s && !apr_isspace(*s)) {
            s++;
        }
        word = apr_pstrmemdup(p, start, s - start);
    }
    while (apr_isspace(*s)) {
        s++;
    }
    *line = s;
    return word;
}

/* An unterminated quote is an error ap_getword_conf would let pass; in a
 * file that grants access we want to hear about it.  Quotes count only at
 * the start of a word, as for ap_getword_conf. */
static int quotes_balanced(const char *s)
{
    for (;;) {
        while (apr_isspace(*s)) {
            s++;
        }
        if (!*s) {
            return 1;
        }
        if (*s == '"' || *s == '\'') {
            char quote = *s++;
            while (*s && *s != quote) {
                s += (*s == '\\' && s[1] == quote) ? 2 : 1;
            }
            if (!*s) {
                return 0;
            }
            s++;
        }
        else {
            while (*s && !apr_isspace(*s)) {
                s++;
            }
        }
    }
}

/* A word that reads as the rest of a DN: it holds "TYPE=" with TYPE an
 * attribute type, at its start or after an RDN separator (',' '+' ';',
 * or '/' of the one-line form), as in "CA,O=Lab", ",OU=ops" or
 * "Inc./OU=dev".  After an unquoted DN key such a word
 * means the key was cut at a space, which a user name never explains. */
static int continues_dn(apr_pool_t *p, const char *w)
{
    const char *s = w;

    for (;;) {
        const char *start;
        while (*s == ' ') {
            s++;
        }
        start = s;
        while (apr_isalnum(*s) || *s == '.' || *s == '-') {
            s++;
        }
        if (s > start) {
            const char *end = s;
            while (*s == ' ') {
                s++;
            }
            if (*s == '='
                && mtls_attr_oid(p, apr_pstrmemdup(p, start, end - start))) {
                return 1;
            }
        }
        s = strpbrk(s, ",+;/");
        if (!s) {
            return 0;
        }
        s++;
    }
}


/* Lower-case hex of @p min..@p max bytes written in hex, colons allowed
 * between digit pairs, any case. */
static const char *hex_key(apr_pool_t *p, const char *text, int min, int max,
                           const char **out)
{
    char *hex = apr_palloc(p, strlen(text) + 1), *o = hex;
    const char *s;

    for (s = text; *s; s++) {
        if (*s == ':') {
            continue;
        }
        if (!apr_isxdigit(*s)) {
            return "not hex";
        }
        *o++ = apr_tolower(*s);
    }
    *o = '\0';
    if ((o - hex) % 2 || (o - hex) / 2 < min || (o - hex) / 2 > max) {
        return min == max
            ? apr_psprintf(p, "want %d hex digits", 2 * min)
            : apr_psprintf(p, "want %d to %d hex digit pairs", min, max);
    }
    *out = hex;
    return NULL;
}

/* Parse "sha256:HEX", "spki:HEX", "sha1-pubkey:HEX", "ski:HEX",
 * "sid:S-1-...", "issuer-serial:HEX/DN", "subject:DN" into a normalised
 * lookup key. */
static const char *parse_key(apr_pool_t *p, const char *word,
                             const char **key, mtls_key_kind_e *kind)
{
    const char *err, *hex, *canon;
    mtls_fp_kind_e fk;

    if (!strncasecmp(word, "sha256:", 7) || !strncasecmp(word, "spki:", 5)) {
        if ((err = mtls_fingerprint_parse(p, word, &fk, &hex))) {
            return err;
        }
        *kind = fk == MTLS_FP_SHA256 ? MTLS_KEY_SHA256 : MTLS_KEY_SPKI;
        *key = apr_pstrcat(p, fk == MTLS_FP_SHA256 ? "sha256:" : "spki:",
                           hex, NULL);
        return NULL;
    }
    if (!strncasecmp(word, "issuer-serial:", 14)) {
        const char *slash = strchr(word + 14, '/'), *serial;
        if (!slash) {
            return apr_psprintf(p, "'%s': write issuer-serial:HEX/ISSUER-DN",
                                word);
        }
        if ((err = mtls_serial_normalize(p, apr_pstrmemdup(p, word + 14,
                                         slash - word - 14), &serial))) {
            return err;
        }
        if ((err = mtls_dn_canon(p, slash + 1, &canon))) {
            return err;
        }
        *kind = MTLS_KEY_ISSUER_SERIAL;
        *key = apr_pstrcat(p, "issuer-serial:", serial, "/", canon, NULL);
        return NULL;
    }
    if (!strncasecmp(word, "sha1-pubkey:", 12)) {
        if ((err = hex_key(p, word + 12, 20, 20, &hex))) {
            return apr_psprintf(p, "'%s': %s", word, err);
        }
        *kind = MTLS_KEY_SHA1_PUBKEY;
        *key = apr_pstrcat(p, "sha1-pubkey:", hex, NULL);
        return NULL;
    }
    if (!strncasecmp(word, "ski:", 4)) {
        if ((err = hex_key(p, word + 4, 1, 64, &hex))) {
            return apr_psprintf(p, "'%s': %s", word, err);
        }
        *kind = MTLS_KEY_SKI;
        *key = apr_pstrcat(p, "ski:", hex, NULL);
        return NULL;
    }
    if (!strncasecmp(word, "sid:", 4)) {
        char *sid = apr_pstrdup(p, word + 4);
        if (*sid == 's') {
            *sid = 'S';
        }
        if (!mtls_is_sid(sid)) {
            return apr_psprintf(p, "'%s': a SID reads S-1-5-21-...-RID",
                                word);
        }
        *kind = MTLS_KEY_SID;
        *key = apr_pstrcat(p, "sid:", sid, NULL);
        return NULL;
    }
    if (!strncasecmp(word, "subject:", 8)) {
        if ((err = mtls_dn_canon(p, word + 8, &canon))) {
            return err;
        }
        *kind = MTLS_KEY_SUBJECT;
        *key = apr_pstrcat(p, "subject:", canon, NULL);
        return NULL;
    }
    return apr_psprintf(p, "unknown key '%s': write sha256:HEX, spki:HEX, "
                        "sha1-pubkey:HEX, ski:HEX, sid:S-1-..., "
                        "\"issuer-serial:HEX/ISSUER-DN\" or \"subject:DN\"",
                        word);
}

const char *mtls_map_cert_key(apr_pool_t *p, const mtls_cert_t *c,
                              mtls_key_kind_e kind)
{
    switch (kind) {
    case MTLS_KEY_SHA256:
        return apr_pstrcat(p, "sha256:", c->sha256, NULL);
    case MTLS_KEY_SPKI:
        return apr_pstrcat(p, "spki:", c->spki, NULL);
    case MTLS_KEY_SHA1_PUBKEY:
        return c->sha1_pubkey
               ? apr_pstrcat(p, "sha1-pubkey:", c->sha1_pubkey, NULL) : NULL;
    case MTLS_KEY_SKI:
        return c->ski ? apr_pstrcat(p, "ski:", c->ski, NULL) : NULL;
    case MTLS_KEY_SID:
        return c->sid ? apr_pstrcat(p, "sid:", c->sid, NULL) : NULL;
    case MTLS_KEY_ISSUER_SERIAL:
        return apr_pstrcat(p, "issuer-serial:", c->serial, "/",
                           c->issuer_canon, NULL);
    case MTLS_KEY_SUBJECT:
    default:
        return apr_pstrcat(p, "subject:", c->subject_canon, NULL);
    }
}

/* Iterate over lines without copying the whole text. */
static const char *next_line(apr_pool_t *p, const char **text, char **line)
{
    const char *s = *text, *e;

    if (!*s) {
        return NULL;
    }
    e = strchr(s, '\n');
    if (!e) {
        e = s + strlen(s);
    }
    *line = apr_pstrmemdup(p, s, e - s);
    if (e > s && e[-1] == '\r') {
        (*line)[e - s - 1] = '\0';
    }
    *text = *e ? e + 1 : e;
    return *line;
}

static int blank_or_comment(const char *s)
{
    while (apr_isspace(*s)) {
        s++;
    }
    return *s == '\0' || *s == '#';
}

static int has_control(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 && *s != '\t') {
            return 1;
        }
    }
    return 0;
}

/* The next line that holds something, past blank and comment lines,
 * counted in @p lineno; NULL at the end of @p text, or (with @p err set)
 * at a line holding a control character. */
static char *content_line(apr_pool_t *p, const char *fname,
                          const char **text, int *lineno, const char **err)
{
    char *line;

    *err = NULL;
    while (next_line(p, text, &line)) {
        ++*lineno;
        if (blank_or_comment(line)) {
            continue;
        }
        if (has_control(line)) {
            *err = apr_psprintf(p, "%s:%d: control character in line",
                                fname, *lineno);
            return NULL;
        }
        return line;
    }
    return NULL;
}

/* A map file or deny list line: KEY, then USER [GROUP ...] unless
 * @p deny_list. */
static const char *keyed_line(apr_pool_t *p, const char *line, int deny_list,
                              const char **key, mtls_map_entry_t *e)
{
    const char *s = line, *word, *err;
    int quoted, dn_key;

    while (apr_isspace(*s)) {
        s++;
    }
    quoted = *s == '"' || *s == '\'';
    word = mtls_getword_conf(p, &s);
    if ((err = parse_key(p, word, key, &e->kind))) {
        return err;
    }
    dn_key = !quoted && (e->kind == MTLS_KEY_ISSUER_SERIAL
                         || e->kind == MTLS_KEY_SUBJECT);
    if (dn_key) {
        const char *rest = s, *w;
        while (*rest && *rest != '#') {
            w = mtls_getword_conf(p, &rest);
            if (*w && continues_dn(p, w)) {
                return apr_psprintf(p, "'%s' after the key '%s' reads as "
                                    "the rest of its DN: a key that holds "
                                    "spaces must be quoted (\"%s ...\")", w,
                                    word, word);
            }
        }
    }
    if (deny_list) {
        if (*s && *s != '#') {
            return apr_psprintf(p, "a deny list line holds one key (found "
                                "'%s' after it)%s", s, dn_key
                                ? ": a DN key that holds spaces must be "
                                  "quoted" : "");
        }
        return NULL;
    }
    e->user = mtls_getword_conf(p, &s);
    if (!*e->user || *e->user == '#') {
        return "key without a user: write KEY USER [GROUP ...]";
    }
    while (*s && *s != '#') {
        const char *g = mtls_getword_conf(p, &s);
        if (*g) {
            APR_ARRAY_PUSH(e->groups, const char *) = g;
        }
    }
    return NULL;
}

static const char *map_line(apr_pool_t *p, const char *line,
                            const char **key, mtls_map_entry_t *e)
{
    return keyed_line(p, line, 0, key, e);
}

static const char *deny_line(apr_pool_t *p, const char *line,
                             const char **key, mtls_map_entry_t *e)
{
    return keyed_line(p, line, 1, key, e);
}

/* A grid-mapfile line: '"DN" user1,user2' (or an unquoted DN without
 * blanks); the first account is the user, as Globus takes it. */
static const char *gridmap_line(apr_pool_t *p, const char *line,
                                const char **key, mtls_map_entry_t *e)
{
    const char *s = line, *dn, *canon, *err, *users, *comma;

    dn = mtls_getword_conf(p, &s);
    if ((err = mtls_dn_canon(p, dn, &canon))) {
        return err;
    }
    users = mtls_getword_conf(p, &s);
    if (*s && *s != '#') {
        return apr_psprintf(p, "write \"DN\" user1,user2 (found '%s' after "
                            "the accounts)", s);
    }
    comma = strchr(users, ',');
    e->user = comma ? apr_pstrmemdup(p, users, comma - users) : users;
    if (!*e->user || *e->user == '#') {
        return "DN without an account: write \"DN\" user1,user2";
    }
    e->kind = MTLS_KEY_SUBJECT;
    *key = apr_pstrcat(p, "subject:", canon, NULL);
    return NULL;
}

/* An htpasswd line of SSLOptions +FakeBasicAuth: the user name is the
 * subject's one-line DN, and stays the user.  Split at the last ':' (no
 * password hash holds one; a DN may). */
static const char *fakebasic_line(apr_pool_t *p, const char *line,
                                  const char **key, mtls_map_entry_t *e)
{
    const char *colon = strrchr(line, ':'), *canon, *err;
    char *user;

    while (apr_isspace(*line)) {
        line++;
    }
    if (!colon || colon <= line) {
        return "expected USER:PASSWORD-HASH (an htpasswd line)";
    }
    user = apr_pstrmemdup(p, line, colon - line);
    if (*user != '/') {
        return apr_psprintf(p, "'%s' is not a one-line DN (/C=../CN=..) as "
                            "FakeBasicAuth makes user names", user);
    }
    if ((err = mtls_dn_canon(p, user, &canon))) {
        return err;
    }
    e->user = user;
    e->kind = MTLS_KEY_SUBJECT;
    *key = apr_pstrcat(p, "subject:", canon, NULL);
    return NULL;
}

/* What tells the map formats apart: how a line reads, whether quoting
 * applies (an unterminated quote is then refused before anything else)
 * and what a line's key is called when another line gave it. */
typedef struct {
    const char *(*line)(apr_pool_t *p, const char *line, const char **key,
                        mtls_map_entry_t *e);
    int quoting;
    const char *key_name;
} map_syntax_t;

static const map_syntax_t map_syntax = { map_line, 1, "key" };
static const map_syntax_t deny_syntax = { deny_line, 1, "key" };
static const map_syntax_t gridmap_syntax = { gridmap_line, 1, "DN" };
static const map_syntax_t fakebasic_syntax = { fakebasic_line, 0, "DN" };

/* Every entry of @p text, one a line read by @p syn, indexed by key; the
 * line's errors get "fname:line: " in front. */
static const char *parse_map(apr_pool_t *p, const char *fname,
                             const char *text, const map_syntax_t *syn,
                             mtls_map_t **out)
{
    mtls_map_t *m = apr_pcalloc(p, sizeof(*m));
    const char *err;
    char *line;
    int lineno = 0;

    *out = NULL;
    m->by_key = apr_hash_make(p);
    while ((line = content_line(p, fname, &text, &lineno, &err))) {
        const char *key = NULL;
        mtls_map_entry_t *e;
        const mtls_map_entry_t *dup;

        if (syn->quoting && !quotes_balanced(line)) {
            return apr_psprintf(p, "%s:%d: unterminated quote", fname, lineno);
        }
        e = apr_pcalloc(p, sizeof(*e));
        e->line = lineno;
        e->groups = apr_array_make(p, 1, sizeof(const char *));
        if ((err = syn->line(p, line, &key, e))) {
            return apr_psprintf(p, "%s:%d: %s", fname, lineno, err);
        }
        if ((dup = apr_hash_get(m->by_key, key, APR_HASH_KEY_STRING))) {
            return apr_psprintf(p, "%s:%d: %s already given on line %d",
                                fname, lineno, syn->key_name, dup->line);
        }
        apr_hash_set(m->by_key, key, APR_HASH_KEY_STRING, e);
        m->entries++;
    }
    if (err) {
        return err;
    }
    *out = m;
    return NULL;
}

const char *mtls_map_parse(apr_pool_t *p, const char *fname,
                           const char *text, int deny_list, mtls_map_t **out)
{
    return parse_map(p, fname, text, deny_list ? &deny_syntax : &map_syntax,
                     out);
}

const char *mtls_map_parse_format(apr_pool_t *p, const char *fname,
                                  const char *text, mtls_map_format_e format,
                                  mtls_map_t **out)
{
    switch (format) {
    case MTLS_MAPFMT_MAP:
        return parse_map(p, fname, text, &map_syntax, out);
    case MTLS_MAPFMT_DENY:
        return parse_map(p, fname, text, &deny_syntax, out);
    case MTLS_MAPFMT_GRIDMAP:
        return parse_map(p, fname, text, &gridmap_syntax, out);
    case MTLS_MAPFMT_FAKEBASICAUTH:
    default:
        return parse_map(p, fname, text, &fakebasic_syntax, out);
    }
}

const mtls_map_entry_t *mtls_map_lookup(apr_pool_t *p, const mtls_map_t *m,
                                        const mtls_cert_t *c)
{
    int kind;

    if (!m || !m->entries) {
        return NULL;
    }
    for (kind = 0; kind < MTLS_KEY_COUNT; kind++) {
        const char *key = mtls_map_cert_key(p, c, kind);
        const mtls_map_entry_t *e =
            key ? apr_hash_get(m->by_key, key, APR_HASH_KEY_STRING) : NULL;
        int i;
        if (e) {
            return e;
        }
        /* The same certificate in another encoding that verifies (an
         * ECDSA signature twin) is named by the same sha256: key, before
         * any other key could give it to somebody else. */
        for (i = 0; kind == MTLS_KEY_SHA256 && c->sha256_twins
                    && i < c->sha256_twins->nelts; i++) {
            e = apr_hash_get(m->by_key,
                             apr_pstrcat(p, "sha256:",
                                         APR_ARRAY_IDX(c->sha256_twins, i,
                                                       const char *), NULL),
                             APR_HASH_KEY_STRING);
            if (e) {
                return e;
            }
        }
        /* One-line DNs cannot tell "CN=a+UID=b" from "CN=a,UID=b": a
         * name with a multi-valued RDN is also looked up flattened. */
        if (kind == MTLS_KEY_SUBJECT && c->subject_flat) {
            key = apr_pstrcat(p, "subject:", c->subject_flat, NULL);
        }
        else if (kind == MTLS_KEY_ISSUER_SERIAL && c->issuer_flat) {
            key = apr_pstrcat(p, "issuer-serial:", c->serial, "/",
                              c->issuer_flat, NULL);
        }
        else {
            continue;
        }
        if ((e = apr_hash_get(m->by_key, key, APR_HASH_KEY_STRING))) {
            return e;
        }
    }
    return NULL;
}

int mtls_map_entry_strong(const mtls_map_entry_t *e, const mtls_cert_t *c,
                          int sid_trusted)
{
    switch (e->kind) {
    case MTLS_KEY_SHA256:
    case MTLS_KEY_SPKI:
    case MTLS_KEY_SHA1_PUBKEY:
    case MTLS_KEY_ISSUER_SERIAL:
        return 1;
    case MTLS_KEY_SKI:
        return c->ski_is_key_hash;
    case MTLS_KEY_SID:
        return sid_trusted;
    default:
        return 0;
    }
}

const char *mtls_groupfile_parse(apr_pool_t *p, const char *fname,
                                 const char *text, mtls_groupfile_t **out)
{
    mtls_groupfile_t *g = apr_pcalloc(p, sizeof(*g));
    const char *err;
    char *line;
    int lineno = 0;

    *out = NULL;
    g->groups_by_user = apr_hash_make(p);
    while ((line = content_line(p, fname, &text, &lineno, &err))) {
        const char *s, *colon;
        char *group;

        colon = strchr(line, ':');
        if (!colon) {
            return apr_psprintf(p, "%s:%d: expected 'group: user1 user2 ...'",
                                fname, lineno);
        }
        while (apr_isspace(*line)) {
            line++;
        }
        group = apr_pstrmemdup(p, line, colon - line);
        {
            char *end = group + strlen(group);
            while (end > group && apr_isspace(end[-1])) {
                *--end = '\0';
            }
        }
        if (!*group) {
            return apr_psprintf(p, "%s:%d: empty group name", fname, lineno);
        }
        if (!quotes_balanced(colon + 1)) {
            return apr_psprintf(p, "%s:%d: unterminated quote", fname, lineno);
        }
        g->groups++;
        s = colon + 1;
        while (*s) {
            const char *user = mtls_getword_conf(p, &s);
            apr_array_header_t *list;
            int i, seen = 0;
            if (!*user) {
                break;
            }
            list = apr_hash_get(g->groups_by_user, user, APR_HASH_KEY_STRING);
            if (!list) {
                list = apr_array_make(p, 2, sizeof(const char *));
                apr_hash_set(g->groups_by_user, user, APR_HASH_KEY_STRING,
                             list);
            }
            for (i = 0; i < list->nelts; i++) {
                if (!strcmp(APR_ARRAY_IDX(list, i, const char *), group)) {
                    seen = 1;
                }
            }
            if (!seen) {
                APR_ARRAY_PUSH(list, const char *) = group;
            }
        }
    }
    if (err) {
        return err;
    }
    *out = g;
    return NULL;
}

const apr_array_header_t *mtls_groupfile_lookup(const mtls_groupfile_t *g,
                                                const char *user)
{
    if (!g || !user) {
        return NULL;
    }
    return apr_hash_get(g->groups_by_user, user, APR_HASH_KEY_STRING);
}
