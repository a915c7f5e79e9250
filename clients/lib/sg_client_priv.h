/*
 * sg_client_priv: what the files of libsignet share and its users must not
 * see.  Not installed.
 */
#ifndef SG_CLIENT_PRIV_H
#define SG_CLIENT_PRIV_H

#include "signet.h"

/* Sets the message that signet_client_errmsg() returns. */
void sg_client_seterr(struct signet_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* SG_CLIENT_PRIV_H */
