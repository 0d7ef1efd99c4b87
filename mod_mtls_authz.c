/* mod_mtls_authz: turn verified TLS client certificates into identities
 * and authorisation decisions.  This file holds only the module record,
 * the directive table and hook registration; each concern lives in
 * modules/mtls_*.c. */
#define MTLS_MODULE_FILE
#include "httpd.h"
#include "http_config.h"

#include "mtls_private.h"
#include "mtls_config.h"
#include "mtls_reload.h"
#include "mtls_identity.h"
#include "mtls_peer.h"
#include "mtls_providers.h"
#include "mtls_decision.h"
#include "mtls_vars.h"
#include "mtls_headers.h"
#include "mtls_version.h"
#include "mtls_directory.h"
#include "mtls_proxy.h"
#include "mtls_metrics.h"
#include "mtls_whoami.h"

#define FILE_KIND(k) ((void *)(long)(k))
#define DIR_CMD(name, which, how, help) \
    AP_INIT_TAKE1(name, mtls_directory_cmd1, (void *)(long)(which), \
                  how, help)

/* Where the proxy unit's directives keep their settings. */
#define MTLS_PROXY_SLOT ((void *)APR_OFFSETOF(mtls_dir_conf_t, proxy))

static const command_rec mtls_cmds[] = {
    AP_INIT_TAKE13("MTLSUserFrom", mtls_cmd_user_from, NULL,
                   RSRC_CONF | ACCESS_CONF,
                   "FIELD [REGEX TEMPLATE]: take the user from a "
                   "certificate field (tried in order)"),
    AP_INIT_TAKE13("MTLSGroupFrom", mtls_cmd_group_from, NULL,
                   RSRC_CONF | ACCESS_CONF,
                   "FIELD [REGEX TEMPLATE]: every matching value of a "
                   "certificate field becomes a group"),
    AP_INIT_TAKE12("MTLSUserMapFile", mtls_cmd_map_file, NULL,
                   RSRC_CONF | ACCESS_CONF,
                   "PATH [map|gridmap|fakebasicauth]: file of 'KEY USER "
                   "[GROUP ...]' lines (or a grid-mapfile, or the htpasswd "
                   "file of SSLOptions +FakeBasicAuth), or none"),
    AP_INIT_ITERATE("MTLSTrustSIDFrom", mtls_cmd_trust_sid_from, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "ISSUER-DN...: issuing CAs whose AD SID (security "
                    "extension or SAN URL) makes a strong mapping"),
    AP_INIT_TAKE1("MTLSGroupFile", mtls_cmd_file, FILE_KIND(MTLS_FILE_GROUP),
                  RSRC_CONF | ACCESS_CONF,
                  "file of 'group: user ...' lines (AuthGroupFile format), "
                  "or none"),
    AP_INIT_TAKE1("MTLSDenyList", mtls_cmd_file, FILE_KIND(MTLS_FILE_DENY),
                  RSRC_CONF | ACCESS_CONF,
                  "file of certificate keys that never get an identity, "
                  "or none"),
    AP_INIT_TAKE12("MTLSCRL", mtls_cmd_crl, NULL, RSRC_CONF | ACCESS_CONF,
                   "CRL-FILE CA-FILE: PEM CRLs, each signed by a CA of "
                   "CA-FILE, re-read when they change; or none"),
    AP_INIT_TAKE1("MTLSCRLStale", mtls_cmd_crl_stale, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "allow (default, logged at warn) or deny: a certificate "
                  "whose issuer's CRL is past its nextUpdate"),
    AP_INIT_TAKE1("MTLSRequireStrength", mtls_cmd_require_strength, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "weak (default) or strong: whether a user mapped by "
                  "names only counts"),
    AP_INIT_FLAG("MTLSErrorDetail", mtls_cmd_error_detail, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "On: refusals explain the reason and what to do"),
    AP_INIT_TAKE1("MTLSMode", mtls_cmd_mode, NULL, RSRC_CONF | ACCESS_CONF,
                  "enforce (default) or report: log would-be denials "
                  "instead of denying"),
    AP_INIT_TAKE1("MTLSReloadInterval", mtls_cmd_reload_interval, NULL,
                  RSRC_CONF,
                  "seconds between checks of the map, group and deny files "
                  "(server config, default 5)"),
    AP_INIT_TAKE2("MTLSRequestHeader", mtls_cmd_request_header, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "NAME FIELD: send the identity's FIELD to the backend in "
                  "request header NAME (a client's NAME is removed)"),
    AP_INIT_TAKE1("MTLSRequestHeaders", mtls_cmd_request_headers, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "standard: X-TLS-Verified, X-TLS-Client-CN/-DN/-Issuer/"
                  "-Serial/-SHA256, X-Remote-User, X-Remote-Groups; or off"),
    AP_INIT_ITERATE("MTLSStripHeader", mtls_cmd_strip_header, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "GLOB...: also remove these request headers a client "
                    "sends (any case, _ for -)"),
    AP_INIT_TAKE2("MTLSHeaderSignature", mtls_cmd_header_signature, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "NAME KEYFILE: sign the identity headers, method and path "
                  "with HMAC-SHA256 in header NAME"),
    AP_INIT_TAKE12("MTLSLDAPURL", mtls_directory_cmd, (void *)(long)MTLS_DC_URL,
                   RSRC_CONF | ACCESS_CONF,
                   "ldap[s]://host1[:port] host2/BASE?ATTR?SCOPE?FILTER "
                   "[STARTTLS]: the directory to find users in"),
    DIR_CMD("MTLSLDAPBindDN", MTLS_DC_BIND_DN, RSRC_CONF | ACCESS_CONF,
            "DN to bind as (default: anonymous)"),
    DIR_CMD("MTLSLDAPBindPassword", MTLS_DC_BIND_PW, RSRC_CONF | ACCESS_CONF,
            "the bind password: SECRET, file:PATH or exec:PROGRAM"),
    DIR_CMD("MTLSLDAPUserFilter", MTLS_DC_USER_FILTER, RSRC_CONF | ACCESS_CONF,
            "filter template for the user's entry (default "
            "(userCertificate;binary={cert}) or its GSER form)"),
    DIR_CMD("MTLSLDAPGroupBase", MTLS_DC_GROUP_BASE, RSRC_CONF | ACCESS_CONF,
            "DN under which groups are searched"),
    DIR_CMD("MTLSLDAPGroupFilter", MTLS_DC_GROUP_FILTER,
            RSRC_CONF | ACCESS_CONF,
            "filter template for the user's groups ({dn}, {user})"),
    DIR_CMD("MTLSLDAPGroupName", MTLS_DC_GROUP_NAME, RSRC_CONF | ACCESS_CONF,
            "attribute that names a group (default cn)"),
    DIR_CMD("MTLSLDAPNestedGroups", MTLS_DC_NESTED, RSRC_CONF | ACCESS_CONF,
            "levels of groups within groups to follow (0-10, default 0)"),
    DIR_CMD("MTLSLDAPMemberOf", MTLS_DC_MEMBER_OF, RSRC_CONF | ACCESS_CONF,
            "on: also take groups from the entry's memberOf"),
    DIR_CMD("MTLSLDAPTimeout", MTLS_DC_TIMEOUT, RSRC_CONF | ACCESS_CONF,
            "seconds for connecting and for each operation (default 5)"),
    DIR_CMD("MTLSLDAPTrustedCA", MTLS_DC_CA, RSRC_CONF | ACCESS_CONF,
            "PEM file of CAs for ldaps:// and STARTTLS"),
    DIR_CMD("MTLSLDAPOnError", MTLS_DC_ON_ERROR, RSRC_CONF | ACCESS_CONF,
            "unavailable (503, default) or deny (403) when the directory "
            "cannot answer"),
    DIR_CMD("MTLSCache", MTLS_DC_CACHE, RSRC_CONF,
            "PROVIDER[:ARGS] or none: the socache for directory answers "
            "(server-wide, default shmcb)"),
    DIR_CMD("MTLSCacheTTL", MTLS_DC_TTL, RSRC_CONF | ACCESS_CONF,
            "seconds a directory answer is reused (default 300)"),
    DIR_CMD("MTLSCacheNegativeTTL", MTLS_DC_NEG_TTL, RSRC_CONF | ACCESS_CONF,
            "seconds a 'no such user' answer is reused (default 30)"),
    DIR_CMD("MTLSCacheMaxStale", MTLS_DC_MAX_STALE, RSRC_CONF | ACCESS_CONF,
            "seconds past its TTL an answer may serve while the directory "
            "is down (default 0)"),
    AP_INIT_ITERATE("MTLSTrustedProxy", mtls_cmd_trusted_proxy, MTLS_PROXY_SLOT,
                    RSRC_CONF | ACCESS_CONF,
                    "ADDRESS|CIDR|cert:sha256:HEX|spki:HEX ... (or none): "
                    "the peers whose forwarded client certificate is "
                    "believed"),
    AP_INIT_TAKE23("MTLSProxyCertHeader", mtls_cmd_proxy_cert_header, MTLS_PROXY_SLOT,
                   RSRC_CONF | ACCESS_CONF,
                   "NAME rfc9440|xfcc|pem-urlencoded|der-base64 "
                   "[CHAIN-NAME]: the header a trusted proxy forwards the "
                   "client certificate in"),
    AP_INIT_TAKE1("MTLSProxyCertCA", mtls_cmd_proxy_cert_ca, MTLS_PROXY_SLOT,
                  RSRC_CONF | ACCESS_CONF,
                  "PEM file of the CAs forwarded certificates must chain "
                  "to"),
    AP_INIT_TAKE1("MTLSProxyCRL", mtls_cmd_proxy_crl, MTLS_PROXY_SLOT,
                  RSRC_CONF | ACCESS_CONF,
                  "PEM file of CRLs forwarded certificates are checked "
                  "against, or none"),
    AP_INIT_TAKE1("MTLSProxyVerifyDepth", mtls_cmd_proxy_verify_depth, MTLS_PROXY_SLOT,
                  RSRC_CONF | ACCESS_CONF,
                  "intermediate CAs allowed above a forwarded certificate "
                  "(default 5)"),
    { NULL }
};

static void mtls_register_hooks(apr_pool_t *p)
{
    mtls_config_register_hooks(p);
    mtls_metrics_register_hooks(p);
    mtls_reload_register_hooks(p);
    mtls_identity_register_hooks(p);
    mtls_peer_register_hooks(p);
    mtls_providers_register_hooks(p);
    mtls_decision_register_hooks(p);
    mtls_vars_register_hooks(p);
    mtls_headers_register_hooks(p);
    mtls_version_register_hooks(p);
    mtls_directory_register_hooks(p);
    mtls_proxy_register_hooks(p);
    mtls_whoami_register_hooks(p);
}

AP_DECLARE_MODULE(mtls_authz) = {
    STANDARD20_MODULE_STUFF,
    mtls_create_dir_conf,
    mtls_merge_dir_conf,
    mtls_create_srv_conf,
    mtls_merge_srv_conf,
    mtls_cmds,
    mtls_register_hooks,
    AP_MODULE_FLAG_ALWAYS_MERGE
};
