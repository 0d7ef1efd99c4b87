/* RFC 4514 distinguished names and their canonical form. */
#include <string.h>
#include <stdlib.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <openssl/objects.h>
#include <openssl/asn1.h>

#include "mtls_dn.h"

/* Names people write for attribute types, matched case-insensitively,
 * with the spelling OpenSSL knows. */
static const struct {
    const char *alias;
    const char *sn;
} attr_aliases[] = {
    { "cn", "CN" }, { "commonname", "CN" }, { "c", "C" }, { "l", "L" },
    { "st", "ST" }, { "o", "O" }, { "ou", "OU" }, { "dc", "DC" },
    { "uid", "UID" }, { "userid", "UID" }, { "emailaddress", "emailAddress" },
    { "email", "emailAddress" }, { "e", "emailAddress" },
    { "serialnumber", "serialNumber" }, { "sn", "SN" }, { "surname", "SN" },
    { "gn", "GN" }, { "givenname", "GN" }, { "title", "title" },
    { "street", "street" }, { "postalcode", "postalCode" },
    { "initials", "initials" }, { "pseudonym", "pseudonym" },
    { "dnqualifier", "dnQualifier" }, { "name", "name" },
    { "generationqualifier", "generationQualifier" },
    { "businesscategory", "businessCategory" },
    { "organizationidentifier", "organizationIdentifier" },
    { NULL, NULL }
};

static const char *obj_to_oid(apr_pool_t *p, const ASN1_OBJECT *obj)
{
    char buf[128];
    int n = OBJ_obj2txt(buf, sizeof(buf), obj, 1);

    if (n <= 0 || n >= (int)sizeof(buf)) {
        return NULL;
    }
    return apr_pstrdup(p, buf);
}

const char *mtls_attr_oid(apr_pool_t *p, const char *name)
{
    ASN1_OBJECT *obj;
    const char *oid;
    int i, named = 0;

    if (!name || !*name) {
        return NULL;
    }
    for (i = 0; attr_aliases[i].alias; i++) {
        if (!strcasecmp(name, attr_aliases[i].alias)) {
            name = attr_aliases[i].sn;
            break;
        }
    }
    if (apr_isdigit(*name)) {
        const char *s;
        for (s = name; *s; s++) {
            if (!apr_isdigit(*s) && *s != '.') {
                return NULL;
            }
        }
        obj = OBJ_txt2obj(name, 1);
    }
    else {
        int nid = OBJ_sn2nid(name);
        if (nid == NID_undef) {
            nid = OBJ_ln2nid(name);
        }
        obj = nid == NID_undef ? NULL : OBJ_dup(OBJ_nid2obj(nid));
        named = 1;
    }
    if (!obj) {
        return NULL;
    }
    oid = obj_to_oid(p, obj);
    ASN1_OBJECT_free(obj);
    /* OpenSSL knows names of hash algorithms, key types and extensions
     * too: by name, accept only what can stand in a DN, so that a typo
     * such as subject:sha256 stops start-up instead of never matching. */
    if (oid && named) {
        static const char *const arcs[] = {
            "2.5.4.", "0.9.2342.19200300.100.1.", "1.2.840.113549.1.9.",
            "1.3.6.1.4.1.311.60.2.1.", NULL
        };
        for (i = 0; arcs[i]; i++) {
            if (!strncmp(oid, arcs[i], strlen(arcs[i]))) {
                return oid;
            }
        }
        return NULL;
    }
    return oid;
}

const char *mtls_attr_short_name(apr_pool_t *p, const char *oid)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    int nid = obj ? OBJ_obj2nid(obj) : NID_undef;
    const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
    const char *back;

    ASN1_OBJECT_free(obj);
    /* Only a name that reads back as this OID: OpenSSL calls
     * uniqueIdentifier "uid", which mtls_attr_oid (like people) takes
     * for userId "UID". */
    back = sn ? mtls_attr_oid(p, sn) : NULL;
    return back && !strcmp(back, oid) ? sn : apr_pstrdup(p, oid);
}

const char *mtls_dn_escape_value(apr_pool_t *p, const char *v)
{
    apr_size_t len = strlen(v), i, o = 0;
    char *out = apr_palloc(p, len * 3 + 1);

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)v[i];
        if ((ch && strchr(",+\"\\<>;", ch))
            || (ch == '#' && i == 0)
            || (ch == ' ' && (i == 0 || i == len - 1))) {
            out[o++] = '\\';
            out[o++] = ch;
        }
        else if (ch < 0x20 || ch == 0x7f) {
            apr_snprintf(out + o, 4, "\\%02X", ch);
            o += 3;
        }
        else {
            out[o++] = ch;
        }
    }
    out[o] = '\0';
    return out;
}

/* The UTF-8 text of an entry's value; NULL and @p why when it cannot be
 * converted or holds a NUL (a value C strings would silently cut). */
static const char *entry_value(apr_pool_t *p, const X509_NAME_ENTRY *e,
                               const char **why)
{
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8,
                                X509_NAME_ENTRY_get_data((X509_NAME_ENTRY *)e));
    const char *v;

    if (n < 0) {
        *why = "is not valid in its string type";
        return NULL;
    }
    if (memchr(utf8, 0, n)) {
        OPENSSL_free(utf8);
        *why = "holds a NUL byte";
        return NULL;
    }
    v = apr_pstrmemdup(p, (const char *)utf8, n);
    OPENSSL_free(utf8);
    return v;
}

/* Canonical value: trimmed, inner white space collapsed, ASCII lowered,
 * then escaped so that ',' '+' '=' and '\' cannot fake structure. */
static const char *canon_value(apr_pool_t *p, const char *v)
{
    apr_size_t len = strlen(v);
    char *out = apr_palloc(p, len * 2 + 1);
    apr_size_t o = 0;
    int space = 0;

    while (*v == ' ' || *v == '\t') {
        v++;
    }
    for (; *v; v++) {
        unsigned char ch = (unsigned char)*v;
        if (ch == ' ' || ch == '\t') {
            space = 1;
            continue;
        }
        if (space && o) {
            out[o++] = ' ';
        }
        space = 0;
        if (ch == ',' || ch == '+' || ch == '=' || ch == '\\') {
            out[o++] = '\\';
        }
        out[o++] = apr_tolower(ch);
    }
    out[o] = '\0';
    return out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Join one RDN's canonical AVAs, sorted so '+' order does not matter. */
static const char *canon_rdn(apr_pool_t *p, apr_array_header_t *avas)
{
    qsort(avas->elts, avas->nelts, sizeof(const char *), cmp_str);
    return apr_array_pstrcat(p, avas, '+');
}

const char *mtls_dn_from_x509(apr_pool_t *p, const X509_NAME *name,
                              const char **text, const char **canon,
                              apr_array_header_t *avas)
{
    int n = X509_NAME_entry_count(name), i, last_set = -1;
    apr_array_header_t *parts = apr_array_make(p, n ? n : 1, sizeof(char *));
    apr_array_header_t *rdns = apr_array_make(p, n ? n : 1, sizeof(char *));
    apr_array_header_t *cur = NULL;
    const char *problem = NULL;

    /* One walk for both forms: RFC 4514 writes the last RDN of the DER
     * sequence first, and so does the canonical form. */
    for (i = n - 1; i >= 0; i--) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const char *oid = obj_to_oid(p, X509_NAME_ENTRY_get_object(e));
        const char *why = "has an attribute type that cannot be read";
        const char *v = oid ? entry_value(p, e, &why) : NULL;
        const char *part;
        int set = X509_NAME_ENTRY_set(e);

        if (!v && !problem) {
            /* Rendering it empty would make "CN=admin\0.evil" read as
             * "CN=": the name has no text at all instead. */
            problem = apr_psprintf(p, "its %s value %s",
                                   oid ? mtls_attr_short_name(p, oid)
                                       : "attribute", why);
        }
        part = apr_pstrcat(p, mtls_attr_short_name(p, oid ? oid : "0"), "=",
                           mtls_dn_escape_value(p, v ? v : ""), NULL);
        if (set == last_set && parts->nelts) {
            const char **prev = &APR_ARRAY_IDX(parts, parts->nelts - 1,
                                               const char *);
            *prev = apr_pstrcat(p, part, "+", *prev, NULL);
        }
        else {
            APR_ARRAY_PUSH(parts, const char *) = part;
            if (cur) {
                APR_ARRAY_PUSH(rdns, const char *) = canon_rdn(p, cur);
            }
            cur = apr_array_make(p, 2, sizeof(char *));
        }
        /* An undecodable value never equals any configured DN. */
        APR_ARRAY_PUSH(cur, const char *) =
            apr_pstrcat(p, oid ? oid : "0", "=",
                        v ? canon_value(p, v) : "\\\x01", NULL);
        last_set = set;
    }
    if (cur) {
        APR_ARRAY_PUSH(rdns, const char *) = canon_rdn(p, cur);
    }
    if (text) {
        *text = problem ? NULL : apr_array_pstrcat(p, parts, ',');
    }
    if (canon) {
        *canon = apr_array_pstrcat(p, rdns, ',');
    }
    for (i = 0; avas && i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const char *oid = obj_to_oid(p, X509_NAME_ENTRY_get_object(e));
        const char *why;
        const char *v = oid ? entry_value(p, e, &why) : NULL;
        mtls_ava_t *ava;
        if (v) {
            ava = &APR_ARRAY_PUSH(avas, mtls_ava_t);
            ava->oid = oid;
            ava->value = v;
        }
    }
    return problem;
}

const char *mtls_dn_format(apr_pool_t *p, const X509_NAME *name,
                           apr_array_header_t *avas)
{
    const char *text;

    mtls_dn_from_x509(p, name, &text, NULL, avas);
    return text;
}

const char *mtls_dn_canon_x509(apr_pool_t *p, const X509_NAME *name)
{
    const char *canon;

    mtls_dn_from_x509(p, name, NULL, &canon, NULL);
    return canon;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

const char *mtls_dn_flat_x509(apr_pool_t *p, const X509_NAME *name)
{
    int n = X509_NAME_entry_count(name), i, multi = 0;
    apr_array_header_t *rdns;

    for (i = 1; i < n && !multi; i++) {
        multi = X509_NAME_ENTRY_set(X509_NAME_get_entry(name, i))
                == X509_NAME_ENTRY_set(X509_NAME_get_entry(name, i - 1));
    }
    if (!multi) {
        return NULL;
    }
    rdns = apr_array_make(p, n, sizeof(char *));
    for (i = n - 1; i >= 0; i--) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const char *oid = obj_to_oid(p, X509_NAME_ENTRY_get_object(e));
        const char *why = NULL;
        const char *v = entry_value(p, e, &why);
        APR_ARRAY_PUSH(rdns, const char *) =
            apr_pstrcat(p, oid ? oid : "0", "=",
                        v ? canon_value(p, v) : "\\\x01", NULL);
    }
    return apr_array_pstrcat(p, rdns, ',');
}

/* Where the next attribute of a one-line DN starts: at a '/' followed by
 * a known attribute type and '='.  Values may hold '/' themselves
 * (OpenSSL does not escape it), so a '/' before anything else is text. */
static const char *legacy_next(apr_pool_t *p, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            continue;
        }
        if (*s == '/') {
            const char *t = s + 1;
            while (apr_isalnum(*t) || *t == '.' || *t == '-') {
                t++;
            }
            if (*t == '=' && t > s + 1
                && mtls_attr_oid(p, apr_pstrmemdup(p, s + 1, t - s - 1))) {
                return s;
            }
        }
    }
    return s;
}

static int hexval(char c);

static const char *legacy_canon(apr_pool_t *p, const char *text,
                                const char **canon)
{
    apr_array_header_t *rdns = apr_array_make(p, 4, sizeof(char *));
    const char *s = text;
    int i;

    while (*s) {
        const char *eq = strchr(s + 1, '='), *end, *oid, *v;
        char *val, *o;

        if (!eq) {
            return apr_psprintf(p, "'%s' is not a DN: expected /TYPE=VALUE "
                                "at '%s'", text, s);
        }
        oid = mtls_attr_oid(p, apr_pstrmemdup(p, s + 1, eq - s - 1));
        if (!oid) {
            return apr_psprintf(p, "'%s' is not a DN: unknown attribute "
                                "type '%s'", text,
                                apr_pstrmemdup(p, s + 1, eq - s - 1));
        }
        end = legacy_next(p, eq + 1);
        o = val = apr_palloc(p, end - eq);
        for (v = eq + 1; v < end; v++) {
            if (*v == '\\' && (v[1] == 'x' || v[1] == 'X')
                && v + 3 < end && hexval(v[2]) >= 0
                && hexval(v[3]) >= 0) {
                *o++ = (char)(hexval(v[2]) * 16 + hexval(v[3]));
                v += 3;
            }
            else if (*v == '\\' && v + 1 < end) {
                *o++ = *++v;
            }
            else {
                *o++ = *v;
            }
        }
        *o = '\0';
        if ((apr_size_t)(o - val) != strlen(val)) {
            return apr_psprintf(p, "'%s': a value holds NUL", text);
        }
        APR_ARRAY_PUSH(rdns, const char *) =
            apr_pstrcat(p, oid, "=", canon_value(p, val), NULL);
        s = end;
    }
    if (!rdns->nelts) {
        return "empty DN";
    }
    /* One-line order is DER order; the canonical form is RFC 4514's. */
    for (i = 0; i < rdns->nelts / 2; i++) {
        const char **a = &APR_ARRAY_IDX(rdns, i, const char *);
        const char **b = &APR_ARRAY_IDX(rdns, rdns->nelts - 1 - i,
                                        const char *);
        const char *t = *a;
        *a = *b;
        *b = t;
    }
    *canon = apr_array_pstrcat(p, rdns, ',');
    return NULL;
}

const char *mtls_dn_canon(apr_pool_t *p, const char *text, const char **canon)
{
    apr_array_header_t *rdns = apr_array_make(p, 4, sizeof(char *));
    apr_array_header_t *cur = apr_array_make(p, 2, sizeof(char *));
    const char *s = text;
    char *val = apr_palloc(p, strlen(text) + 1);

    *canon = NULL;
    while (*s == ' ') {
        s++;
    }
    if (!*s) {
        return "empty DN";
    }
    if (*s == '/') {
        return legacy_canon(p, s, canon);
    }
    for (;;) {
        const char *start, *oid;
        char *type;
        apr_size_t vo = 0, trail = 0;

        while (*s == ' ') {
            s++;
        }
        start = s;
        while (*s && *s != '=' && *s != ',' && *s != '+') {
            s++;
        }
        if (*s != '=') {
            return apr_psprintf(p, "'%s' is not a DN: expected TYPE=VALUE "
                                "at '%s'", text, start);
        }
        type = apr_pstrmemdup(p, start, s - start);
        apr_collapse_spaces(type, type);
        oid = mtls_attr_oid(p, type);
        if (!oid) {
            return apr_psprintf(p, "'%s' is not a DN: unknown attribute "
                                "type '%s'", text, type);
        }
        s++;
        while (*s == ' ') {
            s++;
        }
        if (*s == '#') {
            return apr_psprintf(p, "'%s': hex-encoded (#...) values are not "
                                "supported", text);
        }
        while (*s && *s != ',' && *s != '+' && *s != ';') {
            if (*s == '\\') {
                int h1 = hexval(s[1]), h2 = h1 >= 0 ? hexval(s[2]) : -1;
                if (h1 >= 0 && h2 >= 0) {
                    val[vo++] = (char)(h1 * 16 + h2);
                    s += 3;
                }
                else if (s[1]) {
                    val[vo++] = s[1];
                    s += 2;
                }
                else {
                    return apr_psprintf(p, "'%s' is not a DN: trailing '\\'",
                                        text);
                }
                trail = vo;
                continue;
            }
            if (*s == '"' || *s == '<' || *s == '>') {
                return apr_psprintf(p, "'%s' is not a DN: '%c' must be "
                                    "escaped", text, *s);
            }
            val[vo++] = *s++;
            if (val[vo - 1] != ' ') {
                trail = vo;
            }
        }
        /* Unescaped trailing spaces are not part of the value. */
        vo = trail;
        val[vo] = '\0';
        if (memchr(val, 0, vo)) {
            return apr_psprintf(p, "'%s': a value holds NUL", text);
        }
        APR_ARRAY_PUSH(cur, const char *) =
            apr_pstrcat(p, oid, "=", canon_value(p, val), NULL);
        if (*s == '+') {
            s++;
            continue;
        }
        APR_ARRAY_PUSH(rdns, const char *) = canon_rdn(p, cur);
        cur = apr_array_make(p, 2, sizeof(char *));
        if (!*s) {
            break;
        }
        s++;
        while (*s == ' ') {
            s++;
        }
        if (!*s) {
            return apr_psprintf(p, "'%s' is not a DN: it ends with a "
                                "separator", text);
        }
    }
    *canon = apr_array_pstrcat(p, rdns, ',');
    return NULL;
}
