/* Fields: the names rules, filters and variables use for certificate
 * facts ("subject:CN", "san:uri", "sha256"), parsed once at configuration
 * time and looked up per certificate.  Pure. */
#ifndef MTLS_FIELD_H
#define MTLS_FIELD_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "mtls_cert.h"

typedef enum {
    MTLS_F_SUBJECT,
    MTLS_F_ISSUER,
    MTLS_F_SUBJECT_ATTR,
    MTLS_F_ISSUER_ATTR,
    MTLS_F_SAN,
    MTLS_F_SERIAL,
    MTLS_F_SHA256,
    MTLS_F_SPKI,
    MTLS_F_NOT_AFTER,
    MTLS_F_DAYS_LEFT,
    MTLS_F_VERIFY
} mtls_field_kind_e;

typedef struct {
    mtls_field_kind_e kind;
    int san_type;          /* MTLS_F_SAN */
    const char *oid;       /* MTLS_F_*_ATTR */
    const char *name;      /* as written, for messages */
} mtls_field_t;

/**
 * Parse a field name.  Returns NULL and sets @p out, or an error message
 * that lists what is accepted.
 */
const char *mtls_field_parse(apr_pool_t *p, const char *spec,
                             const mtls_field_t **out);

/**
 * The values of @p f in @p c (a list; empty when the certificate has none).
 * @p now is used for days-left.  Values point into @p c or @p p.
 */
apr_array_header_t *mtls_field_values(apr_pool_t *p, const mtls_field_t *f,
                                      const mtls_cert_t *c, apr_time_t now);

/** The first value of @p f in @p c, or NULL. */
const char *mtls_field_first(apr_pool_t *p, const mtls_field_t *f,
                             const mtls_cert_t *c, apr_time_t now);

/** True when only this one certificate has the value (sha256, spki). */
int mtls_field_is_strong(const mtls_field_t *f);

/**
 * Join a list for a header or variable: ", " between items, an item
 * holding ',' '"' or '\' quoted with '\' escapes, control bytes dropped.
 */
const char *mtls_list_join(apr_pool_t *p, const apr_array_header_t *items);

#endif /* MTLS_FIELD_H */
