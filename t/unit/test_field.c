/* Field names, values and list joining (mtls_field.c). */
#include <apr_strings.h>

#include "unit.h"
#include "mtls_field.h"

static const mtls_field_t *field(apr_pool_t *p, const char *spec)
{
    const mtls_field_t *f = NULL;
    return mtls_field_parse(p, spec, &f) ? NULL : f;
}

static const char *joined(apr_pool_t *p, const char *spec,
                          const mtls_cert_t *c, apr_time_t now)
{
    const mtls_field_t *f = field(p, spec);
    return f ? mtls_list_join(p, mtls_field_values(p, f, c, now)) : NULL;
}

static void test_parse(apr_pool_t *p)
{
    const mtls_field_t *f;

    f = field(p, "subject:CN");
    CHECK(f && f->kind == MTLS_F_SUBJECT_ATTR && !strcmp(f->oid, "2.5.4.3"));
    f = field(p, "issuer:2.5.4.10");
    CHECK(f && f->kind == MTLS_F_ISSUER_ATTR && !strcmp(f->oid, "2.5.4.10"));
    f = field(p, "san:uri");
    CHECK(f && f->kind == MTLS_F_SAN && f->san_type == MTLS_SAN_URI);
    f = field(p, "SAN:UPN");
    CHECK(f && f->kind == MTLS_F_SAN && f->san_type == MTLS_SAN_UPN);
    f = field(p, "sha256");
    CHECK(f && f->kind == MTLS_F_SHA256 && mtls_field_is_strong(f));
    f = field(p, "spki");
    CHECK(f && f->kind == MTLS_F_SPKI && mtls_field_is_strong(f));
    f = field(p, "subject:emailAddress");
    CHECK(f && !mtls_field_is_strong(f));
    f = field(p, "not-after");
    CHECK(f && f->kind == MTLS_F_NOT_AFTER);
    CHECK_STR(f ? f->name : NULL, "not-after");
    CHECK(field(p, "days-left") != NULL);
    CHECK(field(p, "serial") != NULL && !mtls_field_is_strong(field(p, "serial")));

    f = (const mtls_field_t *)1;
    CHECK_HAS(mtls_field_parse(p, "nope", &f), "unknown field 'nope'");
    CHECK(f == NULL);
    CHECK_HAS(mtls_field_parse(p, "san:x400", &f), "email, dns, uri, ip, upn");
    CHECK(mtls_field_parse(p, "subject:XX", &f) != NULL);
    /* OpenSSL names that are not DN attribute types are refused. */
    CHECK(mtls_field_parse(p, "verify", &f) == NULL);
    CHECK(mtls_field_parse(p, "subject:sha256", &f) != NULL);
    CHECK(mtls_field_parse(p, "issuer:rsaEncryption", &f) != NULL);
    CHECK(mtls_field_parse(p, "subject:postalCode", &f) == NULL);
    CHECK(mtls_field_parse(p, "subject:jurisdictionC", &f) == NULL);
    CHECK(mtls_field_parse(p, "subject:", &f) != NULL);
    CHECK(mtls_field_parse(p, "sha256:x", &f) != NULL);
    CHECK(mtls_field_parse(p, "", &f) != NULL);
}

static void test_values(apr_pool_t *p)
{
    EVP_PKEY *key = unit_key();
    X509 *x = unit_cert_main(key);
    mtls_cert_t *c = NULL;
    const char *err;
    apr_time_t now = apr_time_from_sec(APR_INT64_C(2082758399))
                     - apr_time_from_sec(30 * 86400);

    CHECK_INT(mtls_cert_from_x509(p, x, &c, &err), APR_SUCCESS);
    if (!c) {
        goto leave;
    }
    CHECK_STR(joined(p, "subject:OU", c, now), "dev, ops");
    CHECK_STR(joined(p, "subject:DC", c, now), "example, lab");
    CHECK_STR(joined(p, "subject:CN", c, now), "\"Doe, John\"");
    CHECK_STR(joined(p, "subject:uid", c, now), "jdoe");
    CHECK_STR(joined(p, "issuer:CN", c, now), "Unit CA");
    CHECK_STR(joined(p, "issuer:OU", c, now), "");
    CHECK_STR(joined(p, "san:email", c, now),
              "jdoe@lab.example, john.doe@lab.example");
    CHECK_STR(joined(p, "san:ip", c, now), "192.0.2.10, 2001:db8::1");
    CHECK_STR(joined(p, "san:upn", c, now), "jdoe@LAB.EXAMPLE");
    CHECK_STR(joined(p, "serial", c, now), "AB01");
    CHECK_STR(joined(p, "sha256", c, now), c->sha256);
    CHECK_STR(joined(p, "days-left", c, now), "30");
    CHECK_STR(joined(p, "not-after", c, now), "2035-12-31T23:59:59Z");
    CHECK_STR(mtls_field_first(p, field(p, "subject"), c, now), c->subject);
    CHECK_STR(mtls_field_first(p, field(p, "san:dns"), c, now),
              "a.b.lab.example");
    CHECK_STR(mtls_field_first(p, field(p, "subject:OU"), c, now), "dev");
    CHECK(mtls_field_first(p, field(p, "subject:title"), c, now) == NULL);
    CHECK_STR(mtls_field_first(p, field(p, "days-left"), c, now), "30");
    CHECK_INT(mtls_field_values(p, field(p, "issuer"), c, now)->nelts, 1);
leave:
    X509_free(x);
    EVP_PKEY_free(key);
}

static void test_join(apr_pool_t *p)
{
    apr_array_header_t *a = apr_array_make(p, 4, sizeof(const char *));

    CHECK_STR(mtls_list_join(p, a), "");
    APR_ARRAY_PUSH(a, const char *) = "plain";
    CHECK_STR(mtls_list_join(p, a), "plain");
    APR_ARRAY_PUSH(a, const char *) = "a,b";
    APR_ARRAY_PUSH(a, const char *) = "say \"hi\"";
    APR_ARRAY_PUSH(a, const char *) = "back\\slash";
    APR_ARRAY_PUSH(a, const char *) = "ctl\r\n\x7fx";
    CHECK_STR(mtls_list_join(p, a),
              "plain, \"a,b\", \"say \\\"hi\\\"\", \"back\\\\slash\", ctlx");
}

void test_field(apr_pool_t *p)
{
    test_parse(p);
    test_values(p);
    test_join(p);
}
