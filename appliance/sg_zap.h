/*
 * sg_zap: the ZAP handler (RFC 27) of signetd's CURVE server socket.
 *
 * Bound at inproc://zeromq.zap.01 before the server socket (without a ZAP
 * handler libzmq 4.3 admits any CURVE client).  Admits only client public
 * keys listed in the current policy and sets the connection's User-Id to
 * the client's Z85 public key, which the front resolves against the policy
 * again for every message.  Unknown keys are refused (the client never gets
 * a reply), counted, and logged by fingerprint, never by key.
 */
#ifndef SG_ZAP_H
#define SG_ZAP_H

#include <stddef.h>
#include <stdint.h>

#include "sg_policy.h"

#define SG_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define SG_ZAP_DOMAIN "signet"

/* Writes the first 16 hex digits of SHA-256(pub) (a log-safe fingerprint) to out[17]. */
void sg_zap_fingerprint(const unsigned char pub[32], char out[17]);

/*
 * Answers one ZAP request waiting on the REP socket zap against policy
 * (NULL while the daemon shuts down: every handshake is refused).
 * *refused is incremented for each refused handshake.  Returns 0, or a
 * negative SG_ERR_* on a socket error (a malformed ZAP request is answered
 * with status 500 and is not an error).
 */
int sg_zap_handle(void *zap, const struct sg_policy *policy, uint64_t *refused);

#endif /* SG_ZAP_H */
