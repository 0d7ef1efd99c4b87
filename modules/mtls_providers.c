/* Require mtls-verified | mtls-user | mtls-group | mtls-subject |
 * mtls-issuer | mtls-san | mtls-fingerprint | mtls-eku | mtls-policy,
 * and AuthType mtls.
 * Arguments are parsed once, when the configuration is read, into a
 * record that also names the test to run: one check function serves
 * every provider. */
#include "mtls_private.h"
#include <string.h>

#include "apr_strings.h"
#include "apr_lib.h"
#include "ap_provider.h"
#include "http_core.h"
#include "http_request.h"
#include "mod_auth.h"

#include "mtls_providers.h"
#include "mtls_identity.h"
#include "mtls_decision.h"
#include "mtls_config.h"
#include "mtls_dn.h"
#include "mtls_match.h"
#include "mtls_vars.h"

typedef struct require_args_t require_args_t;

/* What a provider tests once the certificate is known to be usable:
 * MTLS_R_NONE to grant, else the reason to deny. */
typedef mtls_reason_e (*require_test_fn)(request_rec *r,
                                         const mtls_identity_t *id,
                                         const require_args_t *a);

/* Parsed arguments of one Require line. */
struct require_args_t {
    const char *provider;           /* "mtls-user", ... */
    int negated;                    /* Require not / inside <RequireNone> */
    mtls_reason_e mismatch;         /* the refusal when a negated line's
                                       test matches */
    require_test_fn test;           /* NULL: mtls-verified */
    apr_array_header_t *words;      /* mtls-user, mtls-group */
    const char *dn_canon;           /* mtls-subject, mtls-issuer */
    apr_array_header_t *sans;       /* of san_pattern_t */
    apr_hash_t *sha256s;            /* mtls-fingerprint: hex -> "" */
    apr_hash_t *spkis;
    apr_array_header_t *oids;       /* mtls-eku, mtls-policy: dotted */
};

typedef struct {
    int type;
    const char *glob;
    char stop;          /* what '*' does not cross for this type */
    int nocase;
} san_pattern_t;

/* For mtls-user and mtls-group: the identity must also be strong enough
 * and (for users) mapped. */
static mtls_reason_e mapped(request_rec *r, const mtls_identity_t *id,
                            int need_user)
{
    const mtls_outcome_t *o = id->outcome;

    if (o->kind == MTLS_OUTCOME_UNAVAILABLE) {
        return MTLS_R_DIRECTORY_UNAVAILABLE;
    }
    if (need_user ? !o->user : (!o->user && !o->groups->nelts)) {
        return MTLS_R_UNMAPPED;
    }
    if (!o->strong && mtls_conf_require_strong(mtls_dir_conf(r))) {
        return MTLS_R_WEAK_MAPPING;
    }
    return MTLS_R_NONE;
}

static int in_list(const apr_array_header_t *list, const char *s)
{
    int i;

    for (i = 0; s && i < list->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(list, i, const char *), s)) {
            return 1;
        }
    }
    return 0;
}

static mtls_reason_e test_user(request_rec *r, const mtls_identity_t *id,
                               const require_args_t *a)
{
    mtls_reason_e why = mapped(r, id, 1);

    if (!why && !in_list(a->words, id->outcome->user)) {
        why = MTLS_R_USER_MISMATCH;
    }
    return why;
}

static mtls_reason_e test_group(request_rec *r, const mtls_identity_t *id,
                                const require_args_t *a)
{
    mtls_reason_e why = mapped(r, id, 0);
    int i;

    if (why) {
        return why;
    }
    for (i = 0; i < a->words->nelts; i++) {
        if (mtls_outcome_in_group(id->outcome,
                                  APR_ARRAY_IDX(a->words, i, const char *))) {
            return MTLS_R_NONE;
        }
    }
    return MTLS_R_GROUP_MISMATCH;
}

static mtls_reason_e test_subject(request_rec *r, const mtls_identity_t *id,
                                  const require_args_t *a)
{
    return strcmp(id->peer->cert->subject_canon, a->dn_canon)
           ? MTLS_R_SUBJECT_MISMATCH : MTLS_R_NONE;
}

static mtls_reason_e test_issuer(request_rec *r, const mtls_identity_t *id,
                                 const require_args_t *a)
{
    return strcmp(id->peer->cert->issuer_canon, a->dn_canon)
           ? MTLS_R_ISSUER_MISMATCH : MTLS_R_NONE;
}

static int san_matches(const mtls_cert_t *c, const san_pattern_t *sp)
{
    const apr_array_header_t *vals = c->san[sp->type];
    int i;

    for (i = 0; i < vals->nelts; i++) {
        if (mtls_glob_match(sp->glob, APR_ARRAY_IDX(vals, i, const char *),
                            sp->stop, sp->nocase)) {
            return 1;
        }
    }
    return 0;
}

static mtls_reason_e test_san(request_rec *r, const mtls_identity_t *id,
                              const require_args_t *a)
{
    int i;

    for (i = 0; i < a->sans->nelts; i++) {
        if (san_matches(id->peer->cert,
                        &APR_ARRAY_IDX(a->sans, i, san_pattern_t))) {
            return MTLS_R_NONE;
        }
    }
    return MTLS_R_SAN_MISMATCH;
}

static mtls_reason_e test_fingerprint(request_rec *r,
                                      const mtls_identity_t *id,
                                      const require_args_t *a)
{
    const mtls_cert_t *c = id->peer->cert;

    if (apr_hash_get(a->sha256s, c->sha256, APR_HASH_KEY_STRING)
        || apr_hash_get(a->spkis, c->spki, APR_HASH_KEY_STRING)) {
        return MTLS_R_NONE;
    }
    return MTLS_R_FINGERPRINT_MISMATCH;
}

/* Whether a list of dotted OIDs of the certificate holds one of @p a. */
static int any_oid(const apr_array_header_t *have, const require_args_t *a)
{
    int i;

    for (i = 0; i < have->nelts; i++) {
        if (in_list(a->oids, APR_ARRAY_IDX(have, i, const char *))) {
            return 1;
        }
    }
    return 0;
}

static mtls_reason_e test_eku(request_rec *r, const mtls_identity_t *id,
                              const require_args_t *a)
{
    return any_oid(id->peer->cert->eku_oids, a) ? MTLS_R_NONE
                                                : MTLS_R_EKU_MISMATCH;
}

static mtls_reason_e test_policy(request_rec *r, const mtls_identity_t *id,
                                 const require_args_t *a)
{
    return any_oid(id->peer->cert->policies, a) ? MTLS_R_NONE
                                                : MTLS_R_POLICY_MISMATCH;
}

/* Every provider: the certificate must be there, verified and not
 * deny-listed; then the provider's own test.  The decision record says
 * what came of it. */
static authz_status check(request_rec *r, const char *line,
                          const void *parsed)
{
    const require_args_t *a = parsed;
    const mtls_identity_t *id = mtls_identity_get(r);
    mtls_reason_e why = id->unusable;
    authz_status st;

    if (!why && a->test) {
        why = a->test(r, id, a);
    }
    st = mtls_decision_provider(r, a->provider, a->negated, why, a->mismatch,
                                id);
    if (st == AUTHZ_DENIED && !a->negated) {
        /* Fixups never run for a refused request: export what we know
         * now so access logs and ErrorDocument scripts see it. */
        mtls_vars_export(r, id);
    }
    return st;
}

/* Whether the Require line being parsed is negated: "Require not ..."
 * or inside <RequireNone>, counted up through the enclosing <Require*>
 * sections (an even number of negations is positive). */
static int negated_line(const cmd_parms *cmd)
{
    const ap_directive_t *d = cmd->directive;
    int neg = 0;

    if (!d) {
        return 0;
    }
    if (d->args && !strncasecmp(d->args, "not", 3)
        && apr_isspace(d->args[3])) {
        neg = 1;
    }
    for (d = d->parent; d && !strncasecmp(d->directive, "<Require", 8);
         d = d->parent) {
        if (!strcasecmp(d->directive, "<RequireNone")) {
            neg = !neg;
        }
    }
    return neg;
}

/* The record every parse_* fills in. */
static require_args_t *new_args(cmd_parms *cmd, const char *provider,
                                require_test_fn test, mtls_reason_e mismatch)
{
    require_args_t *a = apr_pcalloc(cmd->pool, sizeof(*a));

    a->provider = provider;
    a->test = test;
    a->mismatch = mismatch;
    a->negated = negated_line(cmd);
    return a;
}

static apr_array_header_t *split_words(cmd_parms *cmd, const char *line)
{
    apr_array_header_t *words = apr_array_make(cmd->pool, 2, sizeof(char *));

    while (line && *line) {
        const char *w = ap_getword_conf(cmd->pool, &line);
        if (*w) {
            APR_ARRAY_PUSH(words, const char *) = w;
        }
    }
    return words;
}

static const char *parse_none(cmd_parms *cmd, const char *line,
                              const void **parsed)
{
    if (line && *line) {
        return "'Require mtls-verified' does not take arguments";
    }
    *parsed = new_args(cmd, "mtls-verified", NULL, MTLS_R_NOT_VERIFIED);
    return NULL;
}

static const char *parse_names(cmd_parms *cmd, const char *line,
                               const void **parsed, const char *which,
                               require_test_fn test, mtls_reason_e mismatch)
{
    require_args_t *a = new_args(cmd, which, test, mismatch);

    a->words = split_words(cmd, line);
    if (!a->words->nelts) {
        return apr_psprintf(cmd->pool, "'Require %s' needs at least one "
                            "name", which);
    }
    *parsed = a;
    return NULL;
}

static const char *parse_dn(cmd_parms *cmd, const char *line,
                            const void **parsed, const char *which,
                            require_test_fn test, mtls_reason_e mismatch)
{
    require_args_t *a = new_args(cmd, which, test, mismatch);
    const char *dn, *err;

    if (!line || !*line) {
        return apr_psprintf(cmd->pool, "'Require %s' needs a DN", which);
    }
    dn = ap_getword_conf(cmd->pool, &line);
    if (*line) {
        return apr_psprintf(cmd->pool, "'Require %s' takes one DN; quote it "
                            "if it holds spaces", which);
    }
    if ((err = mtls_dn_canon(cmd->pool, dn, &a->dn_canon))) {
        return apr_psprintf(cmd->pool, "'Require %s': %s", which, err);
    }
    *parsed = a;
    return NULL;
}

static const char *parse_san(cmd_parms *cmd, const char *line,
                             const void **parsed)
{
    require_args_t *a = new_args(cmd, "mtls-san", test_san,
                                 MTLS_R_SAN_MISMATCH);
    apr_array_header_t *words = split_words(cmd, line);
    int i;

    if (!words->nelts) {
        return "'Require mtls-san' needs TYPE:PATTERN (e.g. "
               "uri:spiffe://example.org/ns/prod/*)";
    }
    a->sans = apr_array_make(cmd->pool, words->nelts, sizeof(san_pattern_t));
    for (i = 0; i < words->nelts; i++) {
        const char *w = APR_ARRAY_IDX(words, i, const char *);
        const char *colon = strchr(w, ':');
        san_pattern_t *sp;
        int type = colon ? mtls_san_type_parse(apr_pstrmemdup(cmd->pool, w,
                                                              colon - w))
                         : -1;
        if (type < 0 || !colon[1]) {
            return apr_psprintf(cmd->pool, "'Require mtls-san %s': write "
                                "TYPE:PATTERN with TYPE one of email, dns, "
                                "uri, ip, upn", w);
        }
        sp = &APR_ARRAY_PUSH(a->sans, san_pattern_t);
        sp->type = type;
        sp->glob = colon + 1;
        sp->stop = type == MTLS_SAN_URI ? '/' : type == MTLS_SAN_DNS ? '.' : 0;
        sp->nocase = type == MTLS_SAN_DNS || type == MTLS_SAN_EMAIL
                     || type == MTLS_SAN_UPN;
    }
    *parsed = a;
    return NULL;
}

static const char *parse_fingerprints(cmd_parms *cmd, const char *line,
                                      const void **parsed)
{
    require_args_t *a = new_args(cmd, "mtls-fingerprint", test_fingerprint,
                                 MTLS_R_FINGERPRINT_MISMATCH);
    apr_array_header_t *words = split_words(cmd, line);
    int i;

    if (!words->nelts) {
        return "'Require mtls-fingerprint' needs sha256:HEX or spki:HEX";
    }
    a->sha256s = apr_hash_make(cmd->pool);
    a->spkis = apr_hash_make(cmd->pool);
    for (i = 0; i < words->nelts; i++) {
        mtls_fp_kind_e kind;
        const char *hex, *err;
        err = mtls_fingerprint_parse(cmd->pool,
                                     APR_ARRAY_IDX(words, i, const char *),
                                     &kind, &hex);
        if (err) {
            return apr_psprintf(cmd->pool, "'Require mtls-fingerprint': %s",
                                err);
        }
        apr_hash_set(kind == MTLS_FP_SHA256 ? a->sha256s : a->spkis, hex,
                     APR_HASH_KEY_STRING, "");
    }
    *parsed = a;
    return NULL;
}

/* mtls-eku NAME|OID... and mtls-policy OID...: dotted OIDs, compared
 * with the certificate's as strings. */
static const char *parse_oids(cmd_parms *cmd, const char *line,
                              const void **parsed, int eku)
{
    require_args_t *a = apr_pcalloc(cmd->pool, sizeof(*a));
    apr_array_header_t *words = split_words(cmd, line);
    int i;

    if (!words->nelts) {
        return eku ? "'Require mtls-eku' needs a usage: clientAuth, "
                     "serverAuth, emailProtection, codeSigning, "
                     "timeStamping, OCSPSigning, msSmartcardLogin, ... or a "
                     "dotted OID"
                   : "'Require mtls-policy' needs a policy OID "
                     "(e.g. 2.16.840.1.101.3.2.1.3.13)";
    }
    a->test = eku ? test_eku : test_policy;
    a->oids = apr_array_make(cmd->pool, words->nelts, sizeof(const char *));
    for (i = 0; i < words->nelts; i++) {
        const char *w = APR_ARRAY_IDX(words, i, const char *);
        const char *oid = eku ? mtls_eku_oid(cmd->pool, w)
                              : mtls_is_dotted_oid(w) ? mtls_eku_oid(cmd->pool, w)
                                                      : NULL;
        if (!oid) {
            return eku
                ? apr_psprintf(cmd->pool, "'Require mtls-eku %s': not an "
                               "extended key usage name (clientAuth, "
                               "serverAuth, emailProtection, codeSigning, "
                               "timeStamping, OCSPSigning, msSmartcardLogin, "
                               "...) nor a dotted OID", w)
                : apr_psprintf(cmd->pool, "'Require mtls-policy %s': write "
                               "the policy as a dotted OID", w);
        }
        APR_ARRAY_PUSH(a->oids, const char *) = oid;
    }
    *parsed = a;
    return NULL;
}

static const char *parse_eku(cmd_parms *cmd, const char *line,
                             const void **parsed)
{
    return parse_oids(cmd, line, parsed, 1);
}

static const char *parse_policy(cmd_parms *cmd, const char *line,
                                const void **parsed)
{
    return parse_oids(cmd, line, parsed, 0);
}

static const char *parse_user_names(cmd_parms *cmd, const char *line,
                                    const void **parsed)
{
    return parse_names(cmd, line, parsed, "mtls-user", test_user,
                       MTLS_R_USER_MISMATCH);
}

static const char *parse_group_names(cmd_parms *cmd, const char *line,
                                     const void **parsed)
{
    return parse_names(cmd, line, parsed, "mtls-group", test_group,
                       MTLS_R_GROUP_MISMATCH);
}

static const char *parse_subject_dn(cmd_parms *cmd, const char *line,
                                    const void **parsed)
{
    return parse_dn(cmd, line, parsed, "mtls-subject", test_subject,
                    MTLS_R_SUBJECT_MISMATCH);
}

static const char *parse_issuer_dn(cmd_parms *cmd, const char *line,
                                   const void **parsed)
{
    return parse_dn(cmd, line, parsed, "mtls-issuer", test_issuer,
                    MTLS_R_ISSUER_MISMATCH);
}

/* AuthType mtls: the mapped user becomes r->user. */
static int authenticate(request_rec *r)
{
    const char *type = ap_auth_type(r);
    const mtls_identity_t *id;
    mtls_reason_e why;

    if (!type || strcasecmp(type, "mtls")) {
        return DECLINED;
    }
    id = mtls_identity_get(r);
    if (!(why = id->unusable) && !(why = mapped(r, id, 1))) {
        r->user = (char *)id->outcome->user;
        r->ap_auth_type = "mtls";
        mtls_decision_authn_granted(r, id);
        return OK;
    }
    mtls_vars_export(r, id);
    return mtls_decision_refuse(r, why, id);
}

void mtls_providers_register_hooks(apr_pool_t *p)
{
    static const authz_provider all[] = {
        { &check, &parse_none },
        { &check, &parse_user_names },
        { &check, &parse_group_names },
        { &check, &parse_subject_dn },
        { &check, &parse_issuer_dn },
        { &check, &parse_san },
        { &check, &parse_fingerprints },
        { &check, &parse_eku },
        { &check, &parse_policy },
    };
    static const char *const names[] = {
        "mtls-verified", "mtls-user", "mtls-group", "mtls-subject",
        "mtls-issuer", "mtls-san", "mtls-fingerprint", "mtls-eku",
        "mtls-policy"
    };
    size_t i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, names[i],
                                  AUTHZ_PROVIDER_VERSION, &all[i],
                                  AP_AUTH_INTERNAL_PER_CONF);
    }
    ap_hook_check_authn(authenticate, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
}
