/* LDAP filter templates: parsing, rendering, RFC 4515 escaping and the
 * Active Directory and GSER forms of certificate names. */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <openssl/bn.h>

#include "mtls_ldapfilter.h"
#include "mtls_field.h"
#include "mtls_dn.h"

typedef enum {
    P_LITERAL,      /* text copied as written */
    P_FIELD,        /* a certificate field (first value) */
    P_CERT,         /* DER, every byte escaped */
    P_CERT_EXACT,   /* GSER certificateExactAssertion */
    P_ISSUER_AD,
    P_SUBJECT_AD,
    P_SERIAL_AD,
    P_SID,          /* AD SID: a value only when trusted (MTLSTrustSIDFrom) */
    P_SKI_AD,       /* upper-case hex, as altSecurityIdentities X509:<SKI> */
    P_SHA1_AD,      /* same, X509:<SHA1-PUKEY> */
    P_USER,
    P_DN
} part_kind_e;

/* What a placeholder proves about the entry it finds (SPEC §2). */
#define B_STRONG 1    /* only this certificate has the value */
#define B_ISSUER 2    /* an issuer and a serial together are strong */
#define B_SERIAL 4
#define B_SKI    8    /* strong when the SKI is the hash of the key */

typedef struct {
    part_kind_e kind;
    const char *text;             /* P_LITERAL */
    const mtls_field_t *field;    /* P_FIELD */
    unsigned bits;                /* B_* of a placeholder */
} part_t;

struct mtls_ldapfilter_t {
    const char *text;
    apr_array_header_t *parts;    /* of part_t */
    int strong;                   /* for any certificate */
    int strong_key_ski;           /* for one whose SKI is its key's hash */
    int uses_user;
    int uses_sid;
};

/* Certificate fields a user filter may name; the others (days-left,
 * verify, not-after) change while the certificate does not. */
static int field_allowed(const mtls_field_t *f)
{
    switch (f->kind) {
    case MTLS_F_SUBJECT: case MTLS_F_ISSUER: case MTLS_F_SUBJECT_ATTR:
    case MTLS_F_ISSUER_ATTR: case MTLS_F_SAN: case MTLS_F_SERIAL:
    case MTLS_F_SHA256: case MTLS_F_SPKI:
        return 1;
    default:
        return 0;
    }
}

static const char *parse_placeholder(apr_pool_t *p, const char *name,
                                     mtls_ldapfilter_kind_e kind,
                                     part_t *part, mtls_ldapfilter_t *f)
{
    static const struct {
        const char *name;
        part_kind_e kind;
    } special[] = {
        { "cert", P_CERT }, { "cert!exact", P_CERT_EXACT },
        { "issuer!ad", P_ISSUER_AD }, { "subject!ad", P_SUBJECT_AD },
        { "serial!ad", P_SERIAL_AD }, { "sid", P_SID },
        { "ski!ad", P_SKI_AD }, { "sha1-pubkey!ad", P_SHA1_AD },
        { "user", P_USER }, { "dn", P_DN },
        { NULL, 0 }
    };
    const char *err;
    int i;

    for (i = 0; special[i].name; i++) {
        if (!strcmp(name, special[i].name)) {
            part->kind = special[i].kind;
            break;
        }
    }
    if (kind == MTLS_LDAPFILTER_GROUP) {
        if (!special[i].name
            || (part->kind != P_USER && part->kind != P_DN)) {
            return apr_psprintf(p, "unknown placeholder {%s}: a group "
                                "filter knows {dn} and {user}", name);
        }
    }
    else if (special[i].name) {
        if (part->kind == P_DN) {
            return "{dn} is for MTLSLDAPGroupFilter; a user filter has no "
                   "entry yet";
        }
    }
    else {
        err = mtls_field_parse(p, name, &part->field);
        if (err || !field_allowed(part->field)) {
            return apr_psprintf(p, "unknown placeholder {%s} (known: {cert} "
                                "{cert!exact} {sha256} {spki} {serial} "
                                "{issuer} {subject} {subject:ATTR} "
                                "{san:email} {san:upn} {san:uri} {san:dns} "
                                "{user} {issuer!ad} {subject!ad} "
                                "{serial!ad} {sid} {ski!ad} "
                                "{sha1-pubkey!ad})", name);
        }
        part->kind = P_FIELD;
    }
    switch (part->kind) {
    /* a {sid} that renders is trusted (else the filter matches nothing) */
    case P_CERT: case P_CERT_EXACT: case P_SHA1_AD: case P_SID:
        part->bits = B_STRONG;
        f->uses_sid |= part->kind == P_SID;
        break;
    case P_SKI_AD:
        part->bits = B_SKI;
        break;
    case P_FIELD:
        part->bits = mtls_field_is_strong(part->field) ? B_STRONG
                     : part->field->kind == MTLS_F_ISSUER ? B_ISSUER
                     : part->field->kind == MTLS_F_SERIAL ? B_SERIAL : 0;
        break;
    case P_ISSUER_AD:
        part->bits = B_ISSUER;
        break;
    case P_SERIAL_AD:
        part->bits = B_SERIAL;
        break;
    case P_USER:
        f->uses_user = 1;
        break;
    default:
        break;
    }
    return NULL;
}

/* One (...) of the filter while its strength is worked out. */
typedef struct {
    char op;          /* '&', '|', '!', or 0 for an item (attr=value) */
    int decided;      /* op known (the byte after '(' was seen) */
    int children;
    unsigned bits;    /* an item's placeholders; an operator's children */
} node_t;

static unsigned settle(unsigned bits, int ski_is_key_hash)
{
    if ((bits & B_ISSUER) && (bits & B_SERIAL)) {
        bits |= B_STRONG;
    }
    if ((bits & B_SKI) && ski_is_key_hash) {
        bits |= B_STRONG;
    }
    return bits;
}

/* Whether every entry the filter can find was found by something only
 * one certificate has: an item by its placeholders, (&...) when one of
 * its parts is strong (or an issuer and a serial meet there), (|...)
 * only when every branch is, (!...) never.  So
 * (|(userCertificate;binary={cert})(mail={san:email})) is weak: the mail
 * alone can find the entry. */
static int eval_strength(apr_pool_t *p, const mtls_ldapfilter_t *f,
                         int ski_is_key_hash)
{
    apr_array_header_t *stack = apr_array_make(p, 8, sizeof(node_t));
    unsigned result = 0;
    int i;

    for (i = 0; i < f->parts->nelts; i++) {
        const part_t *part = &APR_ARRAY_IDX(f->parts, i, part_t);
        node_t *top = stack->nelts
            ? &APR_ARRAY_IDX(stack, stack->nelts - 1, node_t) : NULL;
        const char *c;

        if (part->kind != P_LITERAL) {
            if (top) {
                top->decided = 1;
                top->bits |= part->bits;
            }
            continue;
        }
        for (c = part->text; *c; c++) {
            top = stack->nelts
                ? &APR_ARRAY_IDX(stack, stack->nelts - 1, node_t) : NULL;
            if (top && !top->decided) {
                top->decided = 1;
                if (*c == '&' || *c == '|' || *c == '!') {
                    top->op = *c;
                    continue;
                }
            }
            if (*c == '(') {
                node_t *n = apr_array_push(stack);
                memset(n, 0, sizeof(*n));
            }
            else if (*c == ')' && top) {
                unsigned bits = top->op == '!' ? 0
                                : settle(top->bits, ski_is_key_hash);
                node_t *parent;
                stack->nelts--;
                if (!stack->nelts) {
                    result = bits;
                    continue;
                }
                parent = &APR_ARRAY_IDX(stack, stack->nelts - 1, node_t);
                if (parent->op == '|') {
                    parent->bits = parent->children++ ? parent->bits & bits
                                                      : bits;
                }
                else if (parent->op == '&') {
                    parent->bits |= bits;
                    parent->children++;
                }
            }
        }
    }
    return (result & B_STRONG) != 0;
}

const char *mtls_ldapfilter_parse(apr_pool_t *p, const char *text,
                                  mtls_ldapfilter_kind_e kind,
                                  mtls_ldapfilter_t **out)
{
    mtls_ldapfilter_t *f = apr_pcalloc(p, sizeof(*f));
    const char *s = text, *start;
    int depth = 0, placeholders = 0, closed = 0;
    const char *err;

    *out = NULL;
    f->text = apr_pstrdup(p, text);
    f->parts = apr_array_make(p, 4, sizeof(part_t));
    if (*text != '(') {
        return apr_psprintf(p, "filter '%s' must be in parentheses, "
                            "e.g. (mail={san:email})", text);
    }
    while (*s) {
        part_t *part;
        start = s;
        /* Literal text up to the next placeholder; parentheses must
         * balance so what we AND with stays one filter. */
        while (*s && *s != '{' && *s != '}') {
            if (closed && *s == ')') {
                return apr_psprintf(p, "filter '%s' has an unmatched ')'",
                                    text);
            }
            if (closed) {
                return apr_psprintf(p, "filter '%s' is more than one filter: "
                                    "combine them with (&...) or (|...)",
                                    text);
            }
            if (*s == '(') {
                depth++;
            }
            else if (*s == ')' && --depth < 0) {
                return apr_psprintf(p, "filter '%s' has an unmatched ')'",
                                    text);
            }
            else if (*s == ')' && depth == 0) {
                closed = 1;
            }
            else if (depth == 0) {
                return apr_psprintf(p, "filter '%s' has text outside its "
                                    "parentheses", text);
            }
            s++;
        }
        if (s > start) {
            part = apr_array_push(f->parts);
            part->kind = P_LITERAL;
            part->text = apr_pstrmemdup(p, start, s - start);
        }
        if (!*s) {
            break;
        }
        if (*s == '}') {
            return apr_psprintf(p, "filter '%s' has a '}' without '{'", text);
        }
        start = ++s;
        while (*s && *s != '}' && *s != '{' && *s != '(' && *s != ')') {
            s++;
        }
        if (*s != '}') {
            return apr_psprintf(p, "filter '%s' has an unclosed '{'", text);
        }
        if (depth == 0) {
            return apr_psprintf(p, "filter '%s' has a placeholder outside "
                                "its parentheses", text);
        }
        part = apr_array_push(f->parts);
        memset(part, 0, sizeof(*part));
        err = parse_placeholder(p, apr_pstrmemdup(p, start, s - start), kind,
                                part, f);
        if (err) {
            return err;
        }
        placeholders++;
        s++;
    }
    if (depth != 0) {
        return apr_psprintf(p, "filter '%s' has an unclosed '('", text);
    }
    if (!placeholders) {
        return apr_psprintf(p, "filter '%s' has no placeholder: it would "
                            "find the same entry for everyone", text);
    }
    f->strong = eval_strength(p, f, 0);
    f->strong_key_ski = eval_strength(p, f, 1);
    *out = f;
    return NULL;
}

const char *mtls_ldap_escape(apr_pool_t *p, const char *v, apr_size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char *out = apr_palloc(p, len * 3 + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch < 0x20 || ch > 0x7e || ch == '*' || ch == '(' || ch == ')'
            || ch == '\\') {
            *o++ = '\\';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
        else {
            *o++ = (char)ch;
        }
    }
    *o = '\0';
    return out;
}

static const char *escape_all(apr_pool_t *p, const char *v, apr_size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char *out = apr_palloc(p, len * 3 + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)v[i];
        *o++ = '\\';
        *o++ = hex[ch >> 4];
        *o++ = hex[ch & 15];
    }
    *o = '\0';
    return out;
}

/* Attribute names as Active Directory writes them in X500 order. */
static const char *ad_attr_name(apr_pool_t *p, const char *oid)
{
    const char *name = mtls_attr_short_name(p, oid);

    if (!strcmp(name, "emailAddress")) {
        return "E";
    }
    if (!strcmp(name, "ST")) {
        return "S";
    }
    return name;
}

const char *mtls_ldap_ad_dn(apr_pool_t *p, const apr_array_header_t *avas)
{
    struct iovec *parts;
    apr_size_t n = 0, len;
    int i;

    if (!avas || !avas->nelts) {
        return NULL;
    }
    parts = apr_palloc(p, sizeof(*parts) * avas->nelts * 2);
    /* The AVAs are kept in DER order, which is X500 order already. */
    for (i = 0; i < avas->nelts; i++) {
        const mtls_ava_t *a = &APR_ARRAY_IDX(avas, i, mtls_ava_t);
        const char *s = apr_pstrcat(p, i ? "," : "",
                                    ad_attr_name(p, a->oid), "=",
                                    mtls_dn_escape_value(p, a->value), NULL);
        parts[n].iov_base = (void *)s;
        parts[n++].iov_len = strlen(s);
    }
    return apr_pstrcatv(p, parts, n, &len);
}

const char *mtls_ldap_ad_serial(apr_pool_t *p, const char *serial_hex)
{
    apr_size_t len = strlen(serial_hex), pad = len & 1, i, bytes;
    char *in, *out;

    if (!len) {
        return NULL;
    }
    in = apr_pstrcat(p, pad ? "0" : "", serial_hex, NULL);
    bytes = (len + pad) / 2;
    out = apr_palloc(p, bytes * 2 + 1);
    for (i = 0; i < bytes; i++) {
        out[2 * i] = in[2 * (bytes - 1 - i)];
        out[2 * i + 1] = in[2 * (bytes - 1 - i) + 1];
    }
    out[bytes * 2] = '\0';
    return out;
}

const char *mtls_ldap_cert_exact(apr_pool_t *p, const mtls_cert_t *c)
{
    BIGNUM *bn = NULL;
    char *dec, *result;
    const char *s;
    struct iovec v[64];
    apr_size_t n = 0, len;
    apr_array_header_t *issuer = apr_array_make(p, 64, sizeof(char));

    if (!c->serial || !c->issuer || !BN_hex2bn(&bn, c->serial)) {
        return NULL;
    }
    dec = BN_bn2dec(bn);
    BN_free(bn);
    if (!dec) {
        return NULL;
    }
    /* A GSER string doubles its quotes; an RFC 4514 DN has \" inside. */
    for (s = c->issuer; *s; s++) {
        APR_ARRAY_PUSH(issuer, char) = *s;
        if (*s == '"') {
            APR_ARRAY_PUSH(issuer, char) = '"';
        }
    }
    APR_ARRAY_PUSH(issuer, char) = '\0';
    v[n].iov_base = "{ serialNumber ";       v[n++].iov_len = 15;
    v[n].iov_base = dec;                     v[n++].iov_len = strlen(dec);
    v[n].iov_base = ", issuer rdnSequence:\""; v[n++].iov_len = 22;
    v[n].iov_base = issuer->elts;            v[n++].iov_len = issuer->nelts - 1;
    v[n].iov_base = "\" }";                  v[n++].iov_len = 3;
    result = apr_pstrcatv(p, v, n, &len);
    OPENSSL_free(dec);
    return result;
}

static const char *upper(apr_pool_t *p, const char *hex)
{
    char *u = apr_pstrdup(p, hex), *c;

    for (c = u; *c; c++) {
        *c = apr_toupper(*c);
    }
    return u;
}

/* The raw (unescaped) value of one placeholder, or NULL when absent. */
static const char *part_value(apr_pool_t *p, const part_t *part,
                              const mtls_cert_t *c, const char *user,
                              const char *dn, int sid_trusted,
                              apr_size_t *len)
{
    const char *v = NULL;

    if (part->kind != P_USER && part->kind != P_DN && !c) {
        return NULL;
    }
    switch (part->kind) {
    case P_CERT:
        *len = c->der_len;
        return c->der_len ? (const char *)c->der : NULL;
    case P_CERT_EXACT:
        v = mtls_ldap_cert_exact(p, c);
        break;
    /* A name with a part that cannot be decoded has no value at all, as
     * {subject} and {issuer}: the attributes that remain would spell
     * another, shorter name. */
    case P_ISSUER_AD:
        v = c->issuer ? mtls_ldap_ad_dn(p, c->issuer_avas) : NULL;
        break;
    case P_SUBJECT_AD:
        v = c->subject ? mtls_ldap_ad_dn(p, c->subject_avas) : NULL;
        break;
    case P_SERIAL_AD:
        v = c->serial ? mtls_ldap_ad_serial(p, c->serial) : NULL;
        break;
    case P_SID:
        /* Fail closed: any CA the server trusts can put any SID in a
         * certificate, so an untrusted one finds nothing at all. */
        v = sid_trusted ? c->sid : NULL;
        break;
    case P_SKI_AD:
        v = c->ski ? upper(p, c->ski) : NULL;
        break;
    case P_SHA1_AD:
        v = c->sha1_pubkey ? upper(p, c->sha1_pubkey) : NULL;
        break;
    case P_USER:
        v = user;
        break;
    case P_DN:
        v = dn;
        break;
    case P_FIELD:
        /* days-left is refused at parse time, so the time is unused */
        v = mtls_field_first(p, part->field, c, 0);
        break;
    case P_LITERAL:
        break;
    }
    if (v) {
        *len = strlen(v);
    }
    return v && *v ? v : NULL;
}

const char *mtls_ldapfilter_render(apr_pool_t *p, const mtls_ldapfilter_t *f,
                                   const mtls_cert_t *c, const char *user,
                                   const char *dn)
{
    return mtls_ldapfilter_render_sid(p, f, c, user, dn, 0);
}

const char *mtls_ldapfilter_render_sid(apr_pool_t *p,
                                       const mtls_ldapfilter_t *f,
                                       const mtls_cert_t *c, const char *user,
                                       const char *dn, int sid_trusted)
{
    struct iovec *v = apr_palloc(p, sizeof(*v) * f->parts->nelts);
    apr_size_t len;
    int i;

    for (i = 0; i < f->parts->nelts; i++) {
        const part_t *part = &APR_ARRAY_IDX(f->parts, i, part_t);
        const char *s;
        if (part->kind == P_LITERAL) {
            s = part->text;
        }
        else {
            const char *raw = part_value(p, part, c, user, dn, sid_trusted,
                                         &len);
            if (!raw) {
                return NULL;
            }
            /* Binary values are escaped whole: some servers compare
             * octet strings only in that form. */
            s = part->kind == P_CERT ? escape_all(p, raw, len)
                                     : mtls_ldap_escape(p, raw, len);
        }
        v[i].iov_base = (void *)s;
        v[i].iov_len = strlen(s);
    }
    return apr_pstrcatv(p, v, f->parts->nelts, &len);
}

int mtls_ldapfilter_is_strong(const mtls_ldapfilter_t *f)
{
    return f->strong;
}

int mtls_ldapfilter_strong_for(const mtls_ldapfilter_t *f,
                               const mtls_cert_t *c)
{
    return c && c->ski_is_key_hash ? f->strong_key_ski : f->strong;
}

int mtls_ldapfilter_uses_sid(const mtls_ldapfilter_t *f)
{
    return f->uses_sid;
}

int mtls_ldapfilter_uses_user(const mtls_ldapfilter_t *f)
{
    return f->uses_user;
}

const char *mtls_ldapfilter_text(const mtls_ldapfilter_t *f)
{
    return f->text;
}
