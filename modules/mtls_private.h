/* Private to the module: the module record and its log tag. */
#ifndef MTLS_PRIVATE_H
#define MTLS_PRIVATE_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

extern module AP_MODULE_DECLARE_DATA mtls_authz_module;

#ifdef APLOG_USE_MODULE
APLOG_USE_MODULE(mtls_authz);
#endif

#endif /* MTLS_PRIVATE_H */
