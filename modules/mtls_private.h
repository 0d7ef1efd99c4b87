/* Private to the module: the module record and its log tag. */
#ifndef MTLS_PRIVATE_H
#define MTLS_PRIVATE_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

extern module AP_MODULE_DECLARE_DATA mtls_authz_module;

/* The module file declares the module itself. */
#ifndef MTLS_MODULE_FILE
APLOG_USE_MODULE(mtls_authz);
#endif

#endif /* MTLS_PRIVATE_H */
