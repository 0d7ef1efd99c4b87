/* Forwarded client certificates: the directives (MTLSTrustedProxy,
 * MTLSProxyCertHeader, MTLSProxyCertCA, MTLSProxyCRL,
 * MTLSProxyVerifyDepth) and the merging of their scopes. */
#include "mtls_proxy_private.h"
#include <string.h>

#include "apr_strings.h"
#include "apr_lib.h"
#include "apr_network_io.h"
#include "http_config.h"

#include "mtls_config.h"

/* The proxy settings of the directive's scope, made on first use.  Where
 * the per-directory record keeps them is the directive's cmd->info (an
 * offset, as for ap_set_string_slot): this unit does not depend on the
 * configuration unit, which depends on it. */
static mtls_proxy_conf_t *conf_of(cmd_parms *cmd, void *dcv)
{
    mtls_proxy_conf_t **slot = (mtls_proxy_conf_t **)
        ((char *)dcv + (apr_uintptr_t)cmd->info);

    if (!*slot) {
        mtls_proxy_conf_t *pc = apr_pcalloc(cmd->pool, sizeof(*pc));
        pc->format = -1;
        pc->depth = -1;
        *slot = pc;
    }
    return *slot;
}

mtls_proxy_conf_t *mtls_proxy_merge(apr_pool_t *p,
                                    const mtls_proxy_conf_t *base,
                                    const mtls_proxy_conf_t *add)
{
    mtls_proxy_conf_t *pc;

    if (!base || !add) {
        return (mtls_proxy_conf_t *)(add ? add : base);
    }
    pc = apr_pmemdup(p, base, sizeof(*pc));
    if (add->trusted_set) {
        pc->nets = add->nets;
        pc->pins = add->pins;
        pc->trusted_text = add->trusted_text;
        pc->trusted_set = 1;
    }
    if (add->header) {
        pc->header = add->header;
        pc->chain_header = add->chain_header;
        pc->header_lc = add->header_lc;
        pc->chain_lc = add->chain_lc;
        pc->first = add->first;
        pc->format = add->format;
    }
    if (add->ca_file) {
        pc->ca_file = add->ca_file;
        pc->store = add->store;
    }
    if (add->crls_set) {
        pc->crls = add->crls;
        pc->crls_set = 1;
    }
    if (add->depth != -1) {
        pc->depth = add->depth;
    }
    return pc;
}

/* ---- directives ------------------------------------------------------- */

const char *mtls_cmd_trusted_proxy(cmd_parms *cmd, void *dcv,
                                   const char *arg)
{
    mtls_proxy_conf_t *pc = conf_of(cmd, dcv);
    char *ip, *mask;
    apr_ipsubnet_t *net;
    apr_status_t rv;

    /* Several lines in one scope add up; a nested scope starts afresh. */
    if (!pc->trusted_set) {
        pc->trusted_set = 1;
        pc->nets = NULL;
        pc->pins = NULL;
        pc->trusted_text = NULL;
    }
    if (!strcasecmp(arg, "none")) {
        pc->nets = NULL;
        pc->pins = NULL;
        pc->trusted_text = NULL;
        return NULL;
    }
    pc->trusted_text = pc->trusted_text
        ? apr_pstrcat(cmd->pool, pc->trusted_text, " ", arg, NULL) : arg;
    if (!strncasecmp(arg, "cert:", 5) || !strncasecmp(arg, "spki:", 5)) {
        pin_t pin;
        const char *err = mtls_fingerprint_parse(cmd->pool,
                                                 !strncasecmp(arg, "cert:", 5)
                                                 ? arg + 5 : arg,
                                                 &pin.kind, &pin.hex);
        if (err || (!strncasecmp(arg, "cert:", 5)
                    && pin.kind != MTLS_FP_SHA256)) {
            return apr_psprintf(cmd->pool, "MTLSTrustedProxy %s: write "
                                "cert:sha256:HEX or spki:HEX (64 hex "
                                "digits)%s%s", arg, err ? ": " : "",
                                err ? err : "");
        }
        if (!pc->pins) {
            pc->pins = apr_array_make(cmd->pool, 1, sizeof(pin_t));
        }
        APR_ARRAY_PUSH(pc->pins, pin_t) = pin;
        return NULL;
    }
    ip = apr_pstrdup(cmd->temp_pool, arg);
    if ((mask = strchr(ip, '/'))) {
        *mask++ = '\0';
    }
    /* Only numeric addresses (APR takes no names): trust must not
     * depend on DNS. */
    if (!*ip || (mask && !*mask)
        || (rv = apr_ipsubnet_create(&net, ip, mask, cmd->pool))
           != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "MTLSTrustedProxy %s: not an IP "
                            "address, CIDR range (10.0.0.0/8), "
                            "cert:sha256:HEX or spki:HEX", arg);
    }
    if (!pc->nets) {
        pc->nets = apr_array_make(cmd->pool, 2, sizeof(apr_ipsubnet_t *));
    }
    APR_ARRAY_PUSH(pc->nets, apr_ipsubnet_t *) = net;
    return NULL;
}

/* A header name as RFC 9110 allows it. */
static int is_token(const char *s)
{
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_isalnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s)) {
            return 0;
        }
    }
    return 1;
}

static const char *lower(apr_pool_t *p, const char *name)
{
    char *lc = apr_pstrdup(p, name), *c;

    for (c = lc; *c; c++) {
        *c = (char)LOWER(*c);
    }
    return lc;
}

/* Mark in @p first every character a spelling of @p lc (any case, '_'
 * for '-') can start with. */
static void add_first(unsigned char first[256], const char *lc)
{
    unsigned char c = (unsigned char)lc[0];

    first[c] = 1;
    first[(unsigned char)apr_toupper(c)] = 1;
    if (c == '-' || c == '_') {
        first['-'] = first['_'] = 1;
    }
}

/* ---- the names of the host ------------------------------------------ */

static mtls_proxy_names_t *names_make(apr_pool_t *p)
{
    mtls_proxy_names_t *n = apr_pcalloc(p, sizeof(*n));

    n->lc = apr_array_make(p, 2, sizeof(const char *));
    return n;
}

static void names_add(mtls_proxy_names_t *n, const char *lc)
{
    int i;

    for (i = 0; i < n->lc->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(n->lc, i, const char *), lc)) {
            return;
        }
    }
    APR_ARRAY_PUSH(n->lc, const char *) = lc;
    add_first(n->first, lc);
}

mtls_proxy_names_t *mtls_proxy_names_merge(apr_pool_t *p,
                                           const mtls_proxy_names_t *base,
                                           const mtls_proxy_names_t *add)
{
    mtls_proxy_names_t *n;
    int i;

    if (!base || !add) {
        return (mtls_proxy_names_t *)(add ? add : base);
    }
    n = names_make(p);
    for (i = 0; i < base->lc->nelts; i++) {
        names_add(n, APR_ARRAY_IDX(base->lc, i, const char *));
    }
    for (i = 0; i < add->lc->nelts; i++) {
        names_add(n, APR_ARRAY_IDX(add->lc, i, const char *));
    }
    return n;
}

/* Note @p pc's names among its host's, removed from all its requests. */
static void host_names_add(cmd_parms *cmd, const mtls_proxy_conf_t *pc)
{
    mtls_srv_conf_t *sc = ap_get_module_config(cmd->server->module_config,
                                               &mtls_authz_module);

    if (!sc->proxy_names) {
        sc->proxy_names = names_make(cmd->pool);
    }
    names_add(sc->proxy_names, pc->header_lc);
    if (pc->chain_lc) {
        names_add(sc->proxy_names, pc->chain_lc);
    }
}

const char *mtls_cmd_proxy_cert_header(cmd_parms *cmd, void *dcv,
                                       const char *name, const char *format,
                                       const char *chain)
{
    mtls_proxy_conf_t *pc = conf_of(cmd, dcv);
    int f = mtls_fwd_format_parse(format);

    if (!is_token(name) || (chain && !is_token(chain))) {
        return apr_psprintf(cmd->pool, "MTLSProxyCertHeader: '%s' is not a "
                            "header name", is_token(name) ? chain : name);
    }
    if (f < 0) {
        return apr_psprintf(cmd->pool, "MTLSProxyCertHeader %s %s: the "
                            "format is one of rfc9440, xfcc, pem-urlencoded, "
                            "der-base64", name, format);
    }
    if (chain && f != MTLS_FWD_RFC9440) {
        return apr_psprintf(cmd->pool, "MTLSProxyCertHeader %s %s: only "
                            "rfc9440 has a separate chain header (xfcc "
                            "carries Chain=, the others the chain after "
                            "the certificate)", name, format);
    }
    pc->header = name;
    pc->format = f;
    pc->chain_header = f == MTLS_FWD_RFC9440
        ? (chain ? chain : apr_pstrcat(cmd->pool, name, "-Chain", NULL))
        : NULL;
    pc->header_lc = lower(cmd->pool, pc->header);
    pc->chain_lc = pc->chain_header ? lower(cmd->pool, pc->chain_header)
                                    : NULL;
    {
        unsigned char *first = apr_pcalloc(cmd->pool, 256);
        add_first(first, pc->header_lc);
        if (pc->chain_lc) {
            add_first(first, pc->chain_lc);
        }
        pc->first = first;
    }
    host_names_add(cmd, pc);
    return NULL;
}

const char *mtls_cmd_proxy_cert_ca(cmd_parms *cmd, void *dcv,
                                   const char *file)
{
    mtls_proxy_conf_t *pc = conf_of(cmd, dcv);
    const char *path = ap_server_root_relative(cmd->pool, file), *err;

    if (!path) {
        return apr_psprintf(cmd->pool, "MTLSProxyCertCA: bad path %s", file);
    }
    if ((err = mtls_fwd_load_cas(cmd->pool, path, &pc->store))) {
        return apr_pstrcat(cmd->pool, "MTLSProxyCertCA: ", err, NULL);
    }
    pc->ca_file = path;
    return NULL;
}

const char *mtls_cmd_proxy_crl(cmd_parms *cmd, void *dcv, const char *file)
{
    mtls_proxy_conf_t *pc = conf_of(cmd, dcv);
    const char *path, *err;

    pc->crls_set = 1;
    pc->crls = NULL;
    if (!strcasecmp(file, "none")) {
        return NULL;
    }
    if (!(path = ap_server_root_relative(cmd->pool, file))) {
        return apr_psprintf(cmd->pool, "MTLSProxyCRL: bad path %s", file);
    }
    if ((err = mtls_fwd_load_crls(cmd->pool, path, &pc->crls))) {
        return apr_pstrcat(cmd->pool, "MTLSProxyCRL: ", err, NULL);
    }
    return NULL;
}

const char *mtls_cmd_proxy_verify_depth(cmd_parms *cmd, void *dcv,
                                        const char *arg)
{
    mtls_proxy_conf_t *pc = conf_of(cmd, dcv);
    char *end;
    long n = strtol(arg, &end, 10);

    if (!*arg || *end || n < 0 || n > 16) {
        return "MTLSProxyVerifyDepth takes a number of intermediate CAs "
               "(0-16), as SSLVerifyDepth";
    }
    pc->depth = (int)n;
    return NULL;
}

