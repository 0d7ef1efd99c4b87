/* Rules: "take FIELD, match REGEX, build TEMPLATE" as MTLSUserFrom and
 * MTLSGroupFrom write them.  Compiled at configuration time.  Pure
 * (PCRE2, the regex engine httpd itself uses). */
#ifndef MTLS_RULE_H
#define MTLS_RULE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "mtls_field.h"

typedef struct mtls_rule_t mtls_rule_t;

/**
 * Compile a rule.  @p regex and @p tmpl are both NULL (the value is taken
 * as it is) or both set.  Returns NULL or an error message: unknown field,
 * a regex that does not compile, a template that names a group the regex
 * does not have.
 */
const char *mtls_rule_compile(apr_pool_t *p, const char *field,
                              const char *regex, const char *tmpl,
                              mtls_rule_t **out);

/**
 * Apply @p rule to one value: the built string, or NULL when the regex
 * does not match or the result is empty or holds control characters.
 */
const char *mtls_rule_apply(apr_pool_t *p, const mtls_rule_t *rule,
                            const char *value);

/** The user for this certificate: without a regex, the field's first
 *  value; with one, the result for the first value of the field (in
 *  certificate order) that matches.  NULL when none does. */
const char *mtls_rule_user(apr_pool_t *p, const mtls_rule_t *rule,
                           const mtls_cert_t *c, apr_time_t now);

/** Append to @p groups the result of the rule for every value of the
 *  field that matches. */
void mtls_rule_groups(apr_pool_t *p, const mtls_rule_t *rule,
                      const mtls_cert_t *c, apr_time_t now,
                      apr_array_header_t *groups);

/** The field the rule reads. */
const mtls_field_t *mtls_rule_field(const mtls_rule_t *rule);

#endif /* MTLS_RULE_H */
