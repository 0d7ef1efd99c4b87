/* SetHandler mtls-whoami: what the server sees of this request's client
 * certificate and the identity this location maps it to, as JSON (or an
 * HTML page for a browser): the page to send someone who reads "no
 * client certificate presented". */
#ifndef MTLS_WHOAMI_H
#define MTLS_WHOAMI_H

#include "apr_pools.h"

/** Register the mtls-whoami handler. */
void mtls_whoami_register_hooks(apr_pool_t *p);

#endif /* MTLS_WHOAMI_H */
