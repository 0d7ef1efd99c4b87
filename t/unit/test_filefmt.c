/* Map file, deny list and group file parsers (mtls_filefmt.c). */
#include <apr_strings.h>
#include <apr_lib.h>

#include "unit.h"
#include "mtls_filefmt.h"

static const char *H64 =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/* The error of parsing @p text as a map file named "m.map". */
static const char *map_err(apr_pool_t *p, const char *text, int deny)
{
    mtls_map_t *m = (mtls_map_t *)1;
    const char *err = mtls_map_parse(p, "m.map", text, deny, &m);
    return err && m == NULL ? err : NULL;
}

static const char *groups_of(apr_pool_t *p, const mtls_map_entry_t *e)
{
    return e ? apr_array_pstrcat(p, e->groups, '|') : NULL;
}

static mtls_cert_t *facts(apr_pool_t *p, X509 *x)
{
    mtls_cert_t *c = NULL;
    const char *err;
    mtls_cert_from_x509(p, x, &c, &err);
    return c;
}

/* A deny-listed ECDSA certificate stays denied as its signature twin
 * (r, n - s), and a map file gives the twin what it gives the original,
 * never what another entry would. */
static void test_twin_lookup(apr_pool_t *p)
{
    static const char *const dn[] = { "O=Lab", "CN=twin", NULL };
    EVP_PKEY *key = unit_key();
    X509 *x = unit_cert_simple(key, "7E", "20351231235959Z", dn);
    X509 *t = unit_cert_twin(x, key);
    mtls_cert_t *cx = facts(p, x), *ct = facts(p, t);
    mtls_map_t *m = NULL;
    const mtls_map_entry_t *e;

    CHECK(strcmp(cx->sha256, ct->sha256) != 0);
    CHECK(mtls_map_parse(p, "d", apr_pstrcat(p, "sha256:", cx->sha256,
                                             "\n", NULL), 1, &m) == NULL);
    CHECK(mtls_map_lookup(p, m, cx) != NULL);
    CHECK(mtls_map_lookup(p, m, ct) != NULL);
    /* Listing the twin's hash denies the original as well. */
    CHECK(mtls_map_parse(p, "d", apr_pstrcat(p, "sha256:", ct->sha256,
                                             "\n", NULL), 1, &m) == NULL);
    CHECK(mtls_map_lookup(p, m, cx) != NULL);

    CHECK(mtls_map_parse(p, "m", apr_pstrcat(p,
              "\"subject:CN=twin,O=Lab\" mallory\n"
              "spki:", cx->spki, " mallory-by-key\n"
              "sha256:", cx->sha256, " alice admins\n", NULL), 0, &m)
          == NULL);
    e = mtls_map_lookup(p, m, ct);
    CHECK_STR(e ? e->user : NULL, "alice");
    CHECK_STR(groups_of(p, e), "admins");
    CHECK_INT(e ? (int)e->kind : -1, MTLS_KEY_SHA256);

    X509_free(t);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void test_getword(apr_pool_t *p)
{
    const char *line = "  one \"two words\" 'three \\' q' \"a\\\"b\" c\\d "
                       "\"x\"y  ";
    CHECK_STR(mtls_getword_conf(p, &line), "one");
    CHECK_STR(mtls_getword_conf(p, &line), "two words");
    CHECK_STR(mtls_getword_conf(p, &line), "three ' q");
    CHECK_STR(mtls_getword_conf(p, &line), "a\"b");
    CHECK_STR(mtls_getword_conf(p, &line), "c\\d");
    CHECK_STR(mtls_getword_conf(p, &line), "x");
    CHECK_STR(mtls_getword_conf(p, &line), "y");
    CHECK_STR(mtls_getword_conf(p, &line), "");
    CHECK_STR(mtls_getword_conf(p, &line), "");
}

static void test_map_file(apr_pool_t *p)
{
    EVP_PKEY *ka = unit_key(), *kb = unit_key(), *kc = unit_key(),
             *kd = unit_key(), *kf = unit_key();
    static const char *const plain[] = {
        "O=Lab, Inc.", "OU=dev", "CN=Doe, John", NULL
    };
    static const char *const utf8[] = {
        "C=DE", "O=M\xc3\xbcller GmbH", "CN=J\xc3\xbcrgen \xc3\x84", NULL
    };
    static const char *const dave[] = { "O=Lab", "CN=dave", NULL };
    static const char *const short_doe[] = {
        "O=Lab", "CN=Doe, John", NULL
    };
    static const char *const nobody[] = { "CN=nobody", NULL };
    X509 *xa = unit_cert_main(ka);
    X509 *xb = unit_cert_simple(kb, "01", "20351231235959Z", plain);
    X509 *xc = unit_cert_simple(kc, "0A", "20351231235959Z", utf8);
    X509 *xd = unit_cert_simple(kd, "02", "20351231235959Z", dave);
    X509 *xe = unit_cert_simple(kf, "03", "20351231235959Z", plain);
    X509 *xg = unit_cert_simple(kf, "04", "20351231235959Z", short_doe);
    X509 *xn = unit_cert_simple(kd, "05", "20351231235959Z", nobody);
    mtls_cert_t *a = facts(p, xa), *b = facts(p, xb), *c = facts(p, xc),
                *d = facts(p, xd), *e = facts(p, xe), *g = facts(p, xg),
                *n = facts(p, xn);
    mtls_map_t *m = NULL, *deny = NULL;
    const mtls_map_entry_t *hit;
    const char *text, *err, *upper_a;
    int i;

    CHECK(a && b && c && d && e && g && n);
    if (!(a && b && c && d && e && g && n)) {
        goto leave;
    }
    /* sha256 written upper-case with colons, as openssl x509 prints it. */
    upper_a = "";
    for (i = 0; i < 64; i += 2) {
        upper_a = apr_pstrcat(p, upper_a, i ? ":" : "",
                              apr_pstrndup(p, a->sha256 + i, 2), NULL);
    }
    upper_a = apr_pstrdup(p, upper_a);
    for (i = 0; upper_a[i]; i++) {
        ((char *)upper_a)[i] = apr_toupper(upper_a[i]);
    }
    text = apr_pstrcat(p,
        "# the map\r\n",
        "   # indented comment\r\n",
        "\r\n",
        "SHA256:", upper_a, " alice admins ops   # trailing comment\r\n",
        "spki:", b->spki, "\tbob\r\n",
        "\"issuer-serial:00:0a/cn=j\xc3\xbcrgen \xc3\x84, o=M\xc3\xbcller GmbH,"
        "c=de\" carol\r\n",
        "\"subject:cn=DAVE, o=lab\" dave 'group with space' \"g\\\"q\"\r\n",
        "'subject:CN=Doe\\, John,OU=dev,O=Lab\\, Inc.' john\r\n",
        "\"subject:CN=Doe\\, John,O=Lab\" jd2 # last line, no newline",
        NULL);
    err = mtls_map_parse(p, "m.map", text, 0, &m);
    CHECK_STR(err, NULL);
    CHECK(m != NULL);
    if (!m) {
        goto leave;
    }
    CHECK_INT(m->entries, 6);

    hit = mtls_map_lookup(p, m, a);
    CHECK_STR(hit ? hit->user : NULL, "alice");
    CHECK_STR(groups_of(p, hit), "admins|ops");
    CHECK_INT(hit ? (int)hit->kind : -1, MTLS_KEY_SHA256);
    CHECK_INT(hit ? hit->line : -1, 4);

    /* b's subject is mapped too, but the strong key wins. */
    hit = mtls_map_lookup(p, m, b);
    CHECK_STR(hit ? hit->user : NULL, "bob");
    CHECK_INT(hit ? (int)hit->kind : -1, MTLS_KEY_SPKI);
    CHECK_STR(groups_of(p, hit), "");

    hit = mtls_map_lookup(p, m, c);
    CHECK_STR(hit ? hit->user : NULL, "carol");
    CHECK_INT(hit ? (int)hit->kind : -1, MTLS_KEY_ISSUER_SERIAL);

    hit = mtls_map_lookup(p, m, d);
    CHECK_STR(hit ? hit->user : NULL, "dave");
    CHECK_INT(hit ? (int)hit->kind : -1, MTLS_KEY_SUBJECT);
    CHECK_STR(groups_of(p, hit), "group with space|g\"q");

    /* Same subject as b, another key: only the weak subject key. */
    hit = mtls_map_lookup(p, m, e);
    CHECK_STR(hit ? hit->user : NULL, "john");
    CHECK_INT(hit ? (int)hit->kind : -1, MTLS_KEY_SUBJECT);
    CHECK_INT(hit ? hit->line : -1, 8);

    hit = mtls_map_lookup(p, m, g);
    CHECK_STR(hit ? hit->user : NULL, "jd2");

    CHECK(mtls_map_lookup(p, m, n) == NULL);
    CHECK(mtls_map_lookup(p, NULL, n) == NULL);

    CHECK_STR(mtls_map_cert_key(p, a, MTLS_KEY_SHA256),
              apr_pstrcat(p, "sha256:", a->sha256, NULL));
    CHECK_STR(mtls_map_cert_key(p, a, MTLS_KEY_ISSUER_SERIAL),
              "issuer-serial:AB01/2.5.4.3=unit ca,2.5.4.10=lab\\, inc.");
    CHECK_STR(mtls_map_cert_key(p, c, MTLS_KEY_SUBJECT),
              apr_pstrcat(p, "subject:", c->subject_canon, NULL));

    /* A deny list: keys alone. */
    text = apr_pstrcat(p, "# revoked\n",
                       "sha256:", a->sha256, "\n",
                       "\"subject:CN=dave,O=Lab\"  # by name\n", NULL);
    err = mtls_map_parse(p, "deny.list", text, 1, &deny);
    CHECK_STR(err, NULL);
    CHECK_INT(deny ? deny->entries : -1, 2);
    hit = deny ? mtls_map_lookup(p, deny, a) : NULL;
    CHECK(hit != NULL && hit->user == NULL);
    CHECK(deny && mtls_map_lookup(p, deny, d) != NULL);
    CHECK(deny && mtls_map_lookup(p, deny, b) == NULL);
    CHECK_PREFIX(map_err(p, apr_pstrcat(p, "\nsha256:", a->sha256,
                                        " alice\n", NULL), 1),
                 "m.map:2: a deny list line holds one key");

leave:
    X509_free(xa); X509_free(xb); X509_free(xc); X509_free(xd);
    X509_free(xe); X509_free(xg); X509_free(xn);
    EVP_PKEY_free(ka); EVP_PKEY_free(kb); EVP_PKEY_free(kc);
    EVP_PKEY_free(kd); EVP_PKEY_free(kf);
}

/* A DN key whose quotes were forgotten is cut at its first space: what
 * follows must not become a user and groups of a strong mapping. */
static void test_unquoted_dn_keys(apr_pool_t *p)
{
    mtls_map_t *m = NULL;
    const char *err;

    err = map_err(p, "# x\nissuer-serial:3C/CN=Lab Issuing CA,O=Lab alice "
                  "admins\n", 0);
    CHECK_PREFIX(err, "m.map:2: 'CA,O=Lab' after the key "
                 "'issuer-serial:3C/CN=Lab' reads as the rest of its DN");
    CHECK_HAS(err, "must be quoted");
    CHECK_PREFIX(map_err(p, "subject:CN=John Doe,O=Lab john\n", 0),
                 "m.map:1: 'Doe,O=Lab' after the key");
    CHECK_PREFIX(map_err(p, "subject:CN=alice ,O=Lab alice\n", 0),
                 "m.map:1: ',O=Lab' after the key");
    CHECK_PREFIX(map_err(p, "subject:CN=alice +UID=a1 alice\n", 0),
                 "m.map:1: '+UID=a1' after the key");
    CHECK_PREFIX(map_err(p, "subject:CN=x O=Lab alice\n", 0),
                 "m.map:1: 'O=Lab' after the key");
    CHECK_PREFIX(map_err(p, "subject:CN=x alice a;2.5.4.11=dev\n", 0),
                 "m.map:1: 'a;2.5.4.11=dev' after the key");
    CHECK_PREFIX(map_err(p, "issuer-serial:3C/CN=Lab Issuing CA,O=Lab\n", 1),
                 "m.map:1: 'CA,O=Lab' after the key");
    CHECK_PREFIX(map_err(p, "issuer-serial:3C/CN=Lab Issuing\n", 1),
                 "m.map:1: a deny list line holds one key");
    CHECK_HAS(map_err(p, "issuer-serial:3C/CN=Lab Issuing\n", 1),
              "must be quoted");

    /* Quoted, the same words are the DN; after a quoted key, or after a
     * fingerprint, a group may look like a DN (an LDAP group's name). */
    CHECK(mtls_map_parse(p, "m", "\"issuer-serial:3C/CN=Lab Issuing CA,"
                         "O=Lab\" alice admins\n", 0, &m) == NULL);
    CHECK_INT(m ? m->entries : 0, 1);
    CHECK(mtls_map_parse(p, "m", "  'subject:CN=a,O=b' x cn=admins,dc=lab\n",
                         0, &m) == NULL);
    CHECK(mtls_map_parse(p, "m", apr_pstrcat(p, "sha256:", H64,
                         " x cn=admins,dc=lab\n", NULL), 0, &m) == NULL);
    /* Words that are not DN continuations stay users and groups. */
    CHECK(mtls_map_parse(p, "m", "subject:CN=a,O=b alice ops a=b x,y "
                         "e-mail=1 # CN=c,O=d\n", 0, &m) == NULL);
}

static void test_map_errors(apr_pool_t *p)
{
    const char *ok = apr_pstrcat(p, "sha256:", H64, " alice\n", NULL);

    CHECK_PREFIX(map_err(p, "foo:bar alice\n", 0), "m.map:1: unknown key");
    CHECK_PREFIX(map_err(p, "# c\nsha256:zz alice\n", 0), "m.map:2: ");
    CHECK_HAS(map_err(p, "# c\nsha256:zz alice\n", 0), "hex");
    CHECK_PREFIX(map_err(p, apr_pstrcat(p, "# c\n\nsha256:", H64, "00 alice",
                                        NULL), 0), "m.map:3: ");
    CHECK_PREFIX(map_err(p, apr_pstrcat(p, "sha256:", H64, "\n", NULL), 0),
                 "m.map:1: key without a user");
    CHECK_PREFIX(map_err(p, apr_pstrcat(p, "sha256:", H64, " # c\n", NULL), 0),
                 "m.map:1: key without a user");
    CHECK_STR(map_err(p, apr_pstrcat(p, ok, "\r\nSHA256:", H64 + 2, "00 bob\n",
                                     NULL), 0), NULL);
    /* The same key in another spelling is a duplicate. */
    {
        char up[65];
        int i;
        for (i = 0; i < 64; i++) {
            up[i] = apr_toupper(H64[i]);
        }
        up[64] = '\0';
        CHECK_STR(map_err(p, apr_pstrcat(p, ok, "# x\nsha256:", up, " bob\n",
                                         NULL), 0),
                  "m.map:3: key already given on line 1");
    }
    CHECK_PREFIX(map_err(p, "\"subject:CN=a,O=b\" x\n"
                         "\"subject:cn=A, o=B\" y\n", 0),
                 "m.map:2: key already given on line 1");
    CHECK_STR(map_err(p, "\"subject:CN=x alice\n", 0),
              "m.map:1: unterminated quote");
    CHECK_STR(map_err(p, "\"subject:CN=x\" 'alice\n", 0),
              "m.map:1: unterminated quote");
    CHECK_PREFIX(map_err(p, "\"subject:CN\" alice\n", 0), "m.map:1: ");
    CHECK_PREFIX(map_err(p, "\"subject:CN=a,\" alice\n", 0), "m.map:1: ");
    CHECK_PREFIX(map_err(p, "\"issuer-serial:0A\" alice\n", 0),
                 "m.map:1: ");
    CHECK_PREFIX(map_err(p, "\"issuer-serial:0G/CN=ca\" alice\n", 0),
                 "m.map:1: ");
    CHECK_PREFIX(map_err(p, "\"issuer-serial:0A/XX=ca\" alice\n", 0),
                 "m.map:1: ");
    CHECK_PREFIX(map_err(p, "sha256:ab\x01 alice\n", 0),
                 "m.map:1: control character");
    CHECK_PREFIX(map_err(p, "spki:abc alice\n", 0), "m.map:1: ");
    CHECK_PREFIX(map_err(p, "alice sha256:abc\n", 0), "m.map:1: unknown key");
    {
        mtls_map_t *m = NULL;
        CHECK_STR(mtls_map_parse(p, "empty", "# only comments\n\n", 0, &m),
                  NULL);
        CHECK(m && m->entries == 0);
        CHECK_STR(mtls_map_parse(p, "empty", "", 0, &m), NULL);
        CHECK(m && m->entries == 0);
    }
}

static const char *gl(apr_pool_t *p, const mtls_groupfile_t *g,
                      const char *user)
{
    const apr_array_header_t *a = mtls_groupfile_lookup(g, user);
    return a ? apr_array_pstrcat(p, a, '|') : NULL;
}

static void test_groupfile(apr_pool_t *p)
{
    mtls_groupfile_t *g = NULL;
    const char *err;

    err = mtls_groupfile_parse(p, "g.txt",
                               "# groups\r\n"
                               "admins: alice bob\r\n"
                               "ops:alice   alice\r\n"
                               "\r\n"
                               "  admins : alice carol\r\n"
                               "empty:\r\n"
                               "quoted: 'd e' \"f\"\r\n"
                               "users: bob", &g);
    CHECK_STR(err, NULL);
    CHECK(g != NULL);
    if (!g) {
        return;
    }
    CHECK_STR(gl(p, g, "alice"), "admins|ops");
    CHECK_STR(gl(p, g, "bob"), "admins|users");
    CHECK_STR(gl(p, g, "carol"), "admins");
    CHECK_STR(gl(p, g, "d e"), "quoted");
    CHECK_STR(gl(p, g, "f"), "quoted");
    CHECK(mtls_groupfile_lookup(g, "dave") == NULL);
    CHECK(mtls_groupfile_lookup(g, NULL) == NULL);
    CHECK(mtls_groupfile_lookup(NULL, "alice") == NULL);

    g = (mtls_groupfile_t *)1;
    CHECK_STR(mtls_groupfile_parse(p, "g.txt", "admins: a\n# c\nalice bob\n",
                                   &g),
              "g.txt:3: expected 'group: user1 user2 ...'");
    CHECK(g == NULL);
    /* A group name keeps its inner spaces; only the ends are trimmed. */
    CHECK(mtls_groupfile_parse(p, "g.txt", "  web admins : carol\n", &g)
          == NULL);
    CHECK(g && mtls_groupfile_lookup(g, "carol")
          && !strcmp(APR_ARRAY_IDX(mtls_groupfile_lookup(g, "carol"), 0,
                                   const char *), "web admins"));
    CHECK_STR(mtls_groupfile_parse(p, "g.txt", ": alice\n", &g),
              "g.txt:1: empty group name");
    CHECK_STR(mtls_groupfile_parse(p, "g.txt", "a: 'alice\n", &g),
              "g.txt:1: unterminated quote");
    CHECK_PREFIX(mtls_groupfile_parse(p, "g.txt", "\na: al\x02ice\n", &g),
                 "g.txt:2: control character");
}

/* The four map formats read lines alike: blank and comment lines are
 * skipped but counted, CR LF ends a line, a control character is refused
 * and a key given twice says which line had it; only quoting differs
 * (htpasswd lines know none). */
static void test_map_formats_lines(apr_pool_t *p)
{
    static const mtls_map_format_e fmts[] = {
        MTLS_MAPFMT_MAP, MTLS_MAPFMT_DENY, MTLS_MAPFMT_GRIDMAP,
        MTLS_MAPFMT_FAKEBASICAUTH
    };
    static const char *const lines[][2] = {
        { "\"subject:CN=a,O=b\" u", "\"subject:cn=A, o=B\" v" },
        { "\"subject:CN=a,O=b\"", "\"subject:cn=A, o=B\"" },
        { "\"CN=a,O=b\" u", "\"/O=B/CN=A\" v" },
        { "/O=b/CN=a:hash", "/O=B/CN=A:hash" }
    };
    int i;

    for (i = 0; i < 4; i++) {
        mtls_map_t *m = NULL;
        const char *text = apr_pstrcat(p, "# c\r\n\n  \t\n", lines[i][0],
                                       "\r\n", NULL);
        CHECK_STR(mtls_map_parse_format(p, "f", text, fmts[i], &m), NULL);
        CHECK_INT(m ? m->entries : -1, 1);
        CHECK_STR(mtls_map_parse_format(p, "f", apr_pstrcat(p, text, "#\n",
                                        lines[i][1], "\n", NULL), fmts[i],
                                        &m),
                  apr_psprintf(p, "f:6: %s already given on line 4",
                               i < 2 ? "key" : "DN"));
        CHECK(!m);
        CHECK_STR(mtls_map_parse_format(p, "f", apr_pstrcat(p, text,
                                        lines[i][1], "\x01\n", NULL),
                                        fmts[i], &m),
                  "f:5: control character in line");
    }
    {
        mtls_map_t *m = NULL;
        CHECK_STR(mtls_map_parse_format(p, "f", "\n\"/CN=a u\n",
                                        MTLS_MAPFMT_GRIDMAP, &m),
                  "f:2: unterminated quote");
        CHECK_STR(mtls_map_parse_format(p, "f", "\n/O=b/CN=a 'x:hash\n",
                                        MTLS_MAPFMT_FAKEBASICAUTH, &m), NULL);
        CHECK_INT(m ? m->entries : -1, 1);
    }
}

void test_filefmt(apr_pool_t *p)
{
    test_twin_lookup(p);
    test_unquoted_dn_keys(p);
    test_getword(p);
    test_map_file(p);
    test_map_errors(p);
    test_map_formats_lines(p);
    test_groupfile(p);
}
