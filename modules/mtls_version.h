/* The module's version: the one in the top-level VERSION file, compiled in
 * by Makefile.apxs as MTLS_VERSION, and said once in the error log when
 * the server has read its configuration. */
#ifndef MTLS_VERSION_H
#define MTLS_VERSION_H

#include "apr_pools.h"

/** "mod_mtls_authz/X.Y.Z", as the start-up line and packages name it. */
const char *mtls_version_string(void);

/** Log the version at notice level once per start and graceful restart
 *  (not for the first configuration pass, not for `httpd -t`). */
void mtls_version_register_hooks(apr_pool_t *p);

#endif /* MTLS_VERSION_H */
