/*
 * sg_front: the network front of signetd.
 *
 * One thread runs one zmq_poll loop over: the CURVE ROUTER socket (clients),
 * the ZAP handler, the signer's reply channel, the audit writer's completion
 * descriptor and a signalfd.  For each request it resolves the client again
 * from the connection's User-Id against the current policy, decodes the
 * message strictly, decides by policy, hands signing to the signer through
 * typed sg_hsm_proto messages, and answers only once the request's audit
 * record is durable.  It never loads the PKCS#11 module and never sees the
 * PIN: everything HSM-side goes through the signer's channel.
 *
 * SIGHUP reloads the policy atomically (a bad file keeps the old one);
 * SIGTERM/SIGINT stop accepting, finish what is in flight, and return.
 */
#ifndef SG_FRONT_H
#define SG_FRONT_H

#include <stddef.h>
#include <stdint.h>

#include "sg_audit.h"
#include "sg_config.h"
#include "sg_policy.h"
#include "sg_secret.h"
#include "sg_signer.h"

struct sg_front;

struct sg_front_stats {
	uint64_t requests;        /* messages received from admitted clients */
	uint64_t replies;         /* replies handed to ZeroMQ */
	uint64_t undeliverable;   /* replies whose peer was gone (ROUTER_MANDATORY) */
	uint64_t refused;         /* CURVE handshakes refused by ZAP */
	uint64_t dropped_unknown; /* messages from clients no longer in the policy */
	uint64_t signatures;      /* signatures released */
	uint64_t denied;          /* requests answered with an error */
	uint64_t reloads, reload_failures;
};

/*
 * Creates the front: binds the signer channel and starts the signer service
 * (signer is borrowed and must outlive the front), loads the policy's keys
 * into the signer, binds the ZAP handler and then the CURVE server socket on
 * every endpoint of cfg.  policy becomes owned by the front; audit is
 * borrowed and must be started.  server_secret is the CURVE server secret
 * key (Z85); it is only passed to ZeroMQ.  config_path is remembered for
 * reloads.  cfg itself must outlive the front (its tsa section is used at
 * every reload).  With cfg->http enabled it also starts the HTTP listener
 * (sg_http), whose requests act as the HTTP-only client cfg->http.client.
 * Returns 0 or a negative SG_ERR_* with why.
 */
int sg_front_new(const struct sg_config *cfg, const char *config_path, struct sg_policy *policy,
                 struct sg_audit *audit, struct sg_signer *signer,
                 const struct sg_secret *server_secret, struct sg_front **out, char *why,
                 size_t why_len);

/*
 * Runs the loop until SIGTERM or SIGINT arrives on sigfd (a signalfd for
 * SIGTERM, SIGINT and SIGHUP) and everything in flight is answered.
 * Returns 0 on a clean stop.
 */
int sg_front_run(struct sg_front *f, int sigfd);

/* Counters (main thread only). */
void sg_front_get_stats(const struct sg_front *f, struct sg_front_stats *st);

/* Stops the signer service, closes sockets and the context; NULL-safe. */
void sg_front_free(struct sg_front *f);

#endif /* SG_FRONT_H */
