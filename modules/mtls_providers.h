/* The Require mtls-* authorisation providers and AuthType mtls. */
#ifndef MTLS_PROVIDERS_H
#define MTLS_PROVIDERS_H

#include "apr_pools.h"

/** Register the providers and the authentication hook. */
void mtls_providers_register_hooks(apr_pool_t *p);

#endif /* MTLS_PROVIDERS_H */
