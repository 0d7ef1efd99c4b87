/* Regex + template rules, compiled once. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include "mtls_rule.h"

/* A template is a list of parts: literal text, or a capture group. */
typedef struct {
    const char *text;     /* literal, or NULL */
    int group;            /* $N when text is NULL */
} tmpl_part_t;

struct mtls_rule_t {
    const mtls_field_t *field;
    pcre2_code *re;                /* NULL: take the value as it is */
    apr_array_header_t *parts;     /* of tmpl_part_t */
};

static apr_status_t free_code(void *data)
{
    pcre2_code_free((pcre2_code *)data);
    return APR_SUCCESS;
}

static const char *parse_template(apr_pool_t *p, const char *tmpl,
                                  int groups, apr_array_header_t **out)
{
    apr_array_header_t *parts = apr_array_make(p, 4, sizeof(tmpl_part_t));
    const char *s = tmpl, *lit = tmpl;

    while (*s) {
        tmpl_part_t *part;
        if (*s != '$') {
            s++;
            continue;
        }
        if (s > lit) {
            part = &APR_ARRAY_PUSH(parts, tmpl_part_t);
            part->text = apr_pstrmemdup(p, lit, s - lit);
        }
        if (s[1] == '$') {
            part = &APR_ARRAY_PUSH(parts, tmpl_part_t);
            part->text = "$";
            s += 2;
        }
        else if (apr_isdigit(s[1])) {
            int g = s[1] - '0';
            if (g > groups) {
                return apr_psprintf(p, "template '%s' uses $%d but the "
                                    "pattern has %d group%s", tmpl, g,
                                    groups, groups == 1 ? "" : "s");
            }
            part = &APR_ARRAY_PUSH(parts, tmpl_part_t);
            part->text = NULL;
            part->group = g;
            s += 2;
        }
        else {
            return apr_psprintf(p, "template '%s': '$' must be followed by "
                                "a digit 0-9 (or written $$)", tmpl);
        }
        lit = s;
    }
    if (s > lit) {
        tmpl_part_t *part = &APR_ARRAY_PUSH(parts, tmpl_part_t);
        part->text = apr_pstrmemdup(p, lit, s - lit);
    }
    *out = parts;
    return NULL;
}

const char *mtls_rule_compile(apr_pool_t *p, const char *field,
                              const char *regex, const char *tmpl,
                              mtls_rule_t **out)
{
    mtls_rule_t *rule = apr_pcalloc(p, sizeof(*rule));
    const char *err;
    int errcode;
    PCRE2_SIZE erroff;
    uint32_t groups = 0;

    *out = NULL;
    if ((err = mtls_field_parse(p, field, &rule->field))) {
        return err;
    }
    if (mtls_field_is_identity(rule->field)) {
        return apr_psprintf(p, "'%s' is what rules make, not a certificate "
                            "field they can read", field);
    }
    if (!regex != !tmpl) {
        return "a rule takes FIELD alone, or FIELD REGEX TEMPLATE";
    }
    if (regex) {
        rule->re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF, &errcode, &erroff, NULL);
        if (!rule->re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(errcode, msg, sizeof(msg));
            return apr_psprintf(p, "bad regex '%s' at offset %d: %s", regex,
                                (int)erroff, (const char *)msg);
        }
        apr_pool_cleanup_register(p, rule->re, free_code,
                                  apr_pool_cleanup_null);
        pcre2_pattern_info(rule->re, PCRE2_INFO_CAPTURECOUNT, &groups);
        if ((err = parse_template(p, tmpl, (int)groups, &rule->parts))) {
            return err;
        }
    }
    *out = rule;
    return NULL;
}

static int clean(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

const char *mtls_rule_apply(apr_pool_t *p, const mtls_rule_t *rule,
                            const char *value)
{
    pcre2_match_data *md;
    PCRE2_SIZE *ov;
    apr_array_header_t *pieces;
    const char *res;
    int rc, i;

    if (!value) {
        return NULL;
    }
    if (!rule->re) {
        return (*value && clean(value)) ? value : NULL;
    }
    md = pcre2_match_data_create_from_pattern(rule->re, NULL);
    if (!md) {
        return NULL;
    }
    rc = pcre2_match(rule->re, (PCRE2_SPTR)value, strlen(value), 0, 0, md,
                     NULL);
    if (rc <= 0) {
        pcre2_match_data_free(md);
        return NULL;
    }
    ov = pcre2_get_ovector_pointer(md);
    pieces = apr_array_make(p, rule->parts->nelts, sizeof(const char *));
    for (i = 0; i < rule->parts->nelts; i++) {
        const tmpl_part_t *part = &APR_ARRAY_IDX(rule->parts, i, tmpl_part_t);
        if (part->text) {
            APR_ARRAY_PUSH(pieces, const char *) = part->text;
        }
        else if (part->group < rc && ov[2 * part->group] != PCRE2_UNSET) {
            APR_ARRAY_PUSH(pieces, const char *) =
                apr_pstrmemdup(p, value + ov[2 * part->group],
                               ov[2 * part->group + 1] - ov[2 * part->group]);
        }
    }
    pcre2_match_data_free(md);
    res = apr_array_pstrcat(p, pieces, '\0');
    return (*res && clean(res)) ? res : NULL;
}

const char *mtls_rule_user(apr_pool_t *p, const mtls_rule_t *rule,
                           const mtls_cert_t *c, apr_time_t now)
{
    const apr_array_header_t *vals;
    int i;

    if (!rule->re) {
        return mtls_rule_apply(p, rule,
                               mtls_field_first(p, rule->field, c, now));
    }
    /* The wanted SAN is often not the first (a SPIFFE ID after two other
     * URIs): the first value, in certificate order, that the regex
     * matches and that builds a usable user. */
    vals = mtls_field_values(p, rule->field, c, now);
    for (i = 0; i < vals->nelts; i++) {
        const char *u = mtls_rule_apply(p, rule,
                                        APR_ARRAY_IDX(vals, i, const char *));
        if (u) {
            return u;
        }
    }
    return NULL;
}

void mtls_rule_groups(apr_pool_t *p, const mtls_rule_t *rule,
                      const mtls_cert_t *c, apr_time_t now,
                      apr_array_header_t *groups)
{
    apr_array_header_t *vals = mtls_field_values(p, rule->field, c, now);
    int i;

    for (i = 0; i < vals->nelts; i++) {
        const char *g = mtls_rule_apply(p, rule,
                                        APR_ARRAY_IDX(vals, i, const char *));
        if (g) {
            APR_ARRAY_PUSH(groups, const char *) = g;
        }
    }
}

const mtls_field_t *mtls_rule_field(const mtls_rule_t *rule)
{
    return rule->field;
}
