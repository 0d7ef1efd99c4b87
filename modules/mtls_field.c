/* Field names and their values in a certificate. */
#include <string.h>

#include <apr_strings.h>

#include "mtls_field.h"
#include "mtls_dn.h"

static const struct {
    const char *name;
    mtls_field_kind_e kind;
} simple_fields[] = {
    { "subject", MTLS_F_SUBJECT }, { "issuer", MTLS_F_ISSUER },
    { "serial", MTLS_F_SERIAL }, { "sha256", MTLS_F_SHA256 },
    { "spki", MTLS_F_SPKI }, { "not-after", MTLS_F_NOT_AFTER },
    { "days-left", MTLS_F_DAYS_LEFT }, { "verify", MTLS_F_VERIFY },
    { "eku", MTLS_F_EKU }, { "policies", MTLS_F_POLICIES },
    { "sid", MTLS_F_SID }, { "ski", MTLS_F_SKI },
    { "sha1-pubkey", MTLS_F_SHA1_PUBKEY },
    { "user", MTLS_F_USER }, { "groups", MTLS_F_GROUPS },
    { "strength", MTLS_F_STRENGTH }, { "source", MTLS_F_SOURCE },
    { "ldap-dn", MTLS_F_LDAP_DN },
    { NULL, 0 }
};

#define FIELD_LIST "subject, issuer, subject:ATTR, issuer:ATTR, san:email, " \
    "san:dns, san:uri, san:ip, san:upn, serial, sha256, spki, not-after, " \
    "days-left, verify, eku, policies, sid, ski, sha1-pubkey, user, groups, " \
    "strength, source, ldap-dn"

const char *mtls_field_parse(apr_pool_t *p, const char *spec,
                             const mtls_field_t **out)
{
    mtls_field_t *f = apr_pcalloc(p, sizeof(*f));
    const char *colon = strchr(spec, ':');
    int i;

    *out = NULL;
    f->name = apr_pstrdup(p, spec);
    if (!colon) {
        for (i = 0; simple_fields[i].name; i++) {
            if (!strcasecmp(spec, simple_fields[i].name)) {
                f->kind = simple_fields[i].kind;
                *out = f;
                return NULL;
            }
        }
        return apr_psprintf(p, "unknown field '%s' (known: " FIELD_LIST ")",
                            spec);
    }
    if (!strncasecmp(spec, "san:", 4)) {
        f->kind = MTLS_F_SAN;
        f->san_type = mtls_san_type_parse(colon + 1);
        if (f->san_type < 0) {
            return apr_psprintf(p, "unknown field '%s': SAN types are email, "
                                "dns, uri, ip, upn", spec);
        }
        *out = f;
        return NULL;
    }
    if (!strncasecmp(spec, "subject:", 8) || !strncasecmp(spec, "issuer:", 7)) {
        f->kind = spec[0] == 's' || spec[0] == 'S' ? MTLS_F_SUBJECT_ATTR
                                                   : MTLS_F_ISSUER_ATTR;
        f->oid = mtls_attr_oid(p, colon + 1);
        if (!f->oid) {
            return apr_psprintf(p, "unknown field '%s': '%s' is not an "
                                "attribute short name (CN, O, OU, UID, DC, "
                                "emailAddress, ...) nor a dotted OID",
                                spec, colon + 1);
        }
        *out = f;
        return NULL;
    }
    return apr_psprintf(p, "unknown field '%s' (known: " FIELD_LIST ")", spec);
}

int mtls_field_is_strong(const mtls_field_t *f)
{
    return f->kind == MTLS_F_SHA256 || f->kind == MTLS_F_SPKI
           || f->kind == MTLS_F_SHA1_PUBKEY;
}

int mtls_field_strong_for(const mtls_field_t *f, const mtls_cert_t *c,
                          int sid_trusted)
{
    switch (f->kind) {
    case MTLS_F_SKI:
        return c->ski_is_key_hash;
    case MTLS_F_SID:
        return sid_trusted && c->sid != NULL;
    default:
        return mtls_field_is_strong(f);
    }
}

int mtls_field_is_identity(const mtls_field_t *f)
{
    return f->kind >= MTLS_F_USER;
}

int mtls_field_is_list(const mtls_field_t *f)
{
    switch (f->kind) {
    case MTLS_F_SUBJECT_ATTR: case MTLS_F_ISSUER_ATTR: case MTLS_F_SAN:
    case MTLS_F_EKU: case MTLS_F_POLICIES: case MTLS_F_GROUPS:
        return 1;
    default:
        return 0;
    }
}

int mtls_field_moves_with_time(const mtls_field_t *f)
{
    return f->kind == MTLS_F_DAYS_LEFT;
}

static void push_attr(apr_array_header_t *out, const apr_array_header_t *avas,
                      const char *oid)
{
    int i;
    for (i = 0; i < avas->nelts; i++) {
        const mtls_ava_t *a = &APR_ARRAY_IDX(avas, i, mtls_ava_t);
        if (!strcmp(a->oid, oid)) {
            APR_ARRAY_PUSH(out, const char *) = a->value;
        }
    }
}

apr_array_header_t *mtls_field_values(apr_pool_t *p, const mtls_field_t *f,
                                      const mtls_cert_t *c, apr_time_t now)
{
    apr_array_header_t *out;
    const char *one = NULL;

    switch (f->kind) {
    case MTLS_F_SAN:
        return c->san[f->san_type];
    case MTLS_F_EKU:
        return c->eku;
    case MTLS_F_POLICIES:
        return c->policies;
    case MTLS_F_SUBJECT_ATTR:
    case MTLS_F_ISSUER_ATTR:
        out = apr_array_make(p, 2, sizeof(const char *));
        push_attr(out, f->kind == MTLS_F_SUBJECT_ATTR ? c->subject_avas
                                                     : c->issuer_avas, f->oid);
        return out;
    case MTLS_F_SUBJECT:   one = c->subject; break;
    case MTLS_F_ISSUER:    one = c->issuer; break;
    case MTLS_F_SERIAL:    one = c->serial; break;
    case MTLS_F_SHA256:    one = c->sha256; break;
    case MTLS_F_SPKI:      one = c->spki; break;
    case MTLS_F_NOT_AFTER: one = c->not_after; break;
    case MTLS_F_VERIFY:    one = c->verify; break;
    case MTLS_F_SID:       one = c->sid; break;
    case MTLS_F_SKI:       one = c->ski; break;
    case MTLS_F_SHA1_PUBKEY: one = c->sha1_pubkey; break;
    case MTLS_F_DAYS_LEFT:
        one = apr_ltoa(p, mtls_cert_days_left(c, now));
        break;
    default:           /* identity values: see mtls_value_list() */
        break;
    }
    out = apr_array_make(p, 1, sizeof(const char *));
    if (one && *one) {
        APR_ARRAY_PUSH(out, const char *) = one;
    }
    return out;
}

const char *mtls_field_first(apr_pool_t *p, const mtls_field_t *f,
                             const mtls_cert_t *c, apr_time_t now)
{
    switch (f->kind) {
    case MTLS_F_SUBJECT:   return c->subject;
    case MTLS_F_ISSUER:    return c->issuer;
    case MTLS_F_SERIAL:    return c->serial;
    case MTLS_F_SHA256:    return c->sha256;
    case MTLS_F_SPKI:      return c->spki;
    case MTLS_F_NOT_AFTER: return c->not_after;
    case MTLS_F_VERIFY:    return c->verify;
    case MTLS_F_DAYS_LEFT: return apr_ltoa(p, mtls_cert_days_left(c, now));
    case MTLS_F_SID:       return c->sid;
    case MTLS_F_SKI:       return c->ski;
    case MTLS_F_SHA1_PUBKEY: return c->sha1_pubkey;
    default: {
        apr_array_header_t *v = mtls_field_values(p, f, c, now);
        return v->nelts ? APR_ARRAY_IDX(v, 0, const char *) : NULL;
    }
    }
}

/* The identity value @p f of @p o, as one string (NULL: none). */
static const char *identity_value(const mtls_field_t *f,
                                  const mtls_outcome_t *o)
{
    switch (f->kind) {
    case MTLS_F_USER:     return o->user;
    case MTLS_F_GROUPS:   return o->groups_text;
    case MTLS_F_SOURCE:   return o->source;
    case MTLS_F_LDAP_DN:  return o->ldap_dn;
    case MTLS_F_STRENGTH:
        return o->user || o->groups->nelts ? (o->strong ? "strong" : "weak")
                                           : NULL;
    default:              return NULL;
    }
}

apr_array_header_t *mtls_value_list(apr_pool_t *p, const mtls_field_t *f,
                                    const mtls_facts_t *facts)
{
    apr_array_header_t *out;
    const char *one;

    if (!mtls_field_is_identity(f)) {
        return facts->cert ? mtls_field_values(p, f, facts->cert, facts->now)
                           : apr_array_make(p, 1, sizeof(const char *));
    }
    if (f->kind == MTLS_F_GROUPS && facts->outcome) {
        return facts->outcome->groups;
    }
    out = apr_array_make(p, 1, sizeof(const char *));
    if (facts->outcome && (one = identity_value(f, facts->outcome))) {
        APR_ARRAY_PUSH(out, const char *) = one;
    }
    return out;
}

const char *mtls_value_text(apr_pool_t *p, const mtls_field_t *f,
                            const mtls_facts_t *facts)
{
    const apr_array_header_t *v;

    if (mtls_field_is_identity(f)) {
        return facts->outcome ? identity_value(f, facts->outcome) : NULL;
    }
    if (!facts->cert) {
        return NULL;
    }
    if (mtls_field_is_list(f)) {
        v = mtls_field_values(p, f, facts->cert, facts->now);
        return v->nelts == 1 ? APR_ARRAY_IDX(v, 0, const char *)
             : v->nelts ? mtls_list_join(p, v) : NULL;
    }
    return mtls_field_first(p, f, facts->cert, facts->now);
}

const char *mtls_list_join(apr_pool_t *p, const apr_array_header_t *items)
{
    apr_size_t len = 0;
    char *out, *o;
    int i;

    for (i = 0; i < items->nelts; i++) {
        len += strlen(APR_ARRAY_IDX(items, i, const char *)) * 2 + 4;
    }
    o = out = apr_palloc(p, len + 1);
    for (i = 0; i < items->nelts; i++) {
        const char *s = APR_ARRAY_IDX(items, i, const char *);
        int quote = strpbrk(s, ",\"\\") != NULL;
        if (i) {
            *o++ = ',';
            *o++ = ' ';
        }
        if (quote) {
            *o++ = '"';
        }
        for (; *s; s++) {
            unsigned char ch = (unsigned char)*s;
            if (ch < 0x20 || ch == 0x7f) {
                continue;
            }
            if (quote && (ch == '"' || ch == '\\')) {
                *o++ = '\\';
            }
            *o++ = ch;
        }
        if (quote) {
            *o++ = '"';
        }
    }
    *o = '\0';
    return out;
}
