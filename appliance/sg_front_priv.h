/*
 * sg_front_priv: what the network front (sg_front.c) shares with the CA
 * delegation ops (sg_ca.c): the state of a request in flight and the steps
 * every request goes through.  Internal to signetd's front; never included
 * by anything else.
 */
#ifndef SG_FRONT_PRIV_H
#define SG_FRONT_PRIV_H

#include <stdint.h>

#include <openssl/evp.h>

#include "sg_audit.h"
#include "sg_cms.h"
#include "sg_config.h"
#include "sg_front.h"
#include "sg_keys.h"
#include "sg_policy.h"
#include "sg_wire.h"

struct sg_ca;
struct sg_ca_job;
struct sg_http;

#define SG_EP_HSM_REQ "inproc://signet-hsm-req"
#define SG_EP_HSM_REP "inproc://signet-hsm-rep"
#define SG_EP_HSM_CTL "inproc://signet-hsm-ctl"
#define SG_EP_HTTP "inproc://signet-http" /* the HTTP listener's requests */
#define SG_TSA_SERIAL_COUNTER "tsa-serial"
#define SG_TSA_SERIAL_BLOCK 1000 /* serial numbers reserved per durable write */

#define SG_CHUNK 256               /* pending entries per allocation */
#define SG_MAX_PENDING (64 * 1024) /* requests in flight, all clients together */
#define SG_IDEM_SLOTS (2 * SG_MAX_PENDING)
#define SG_COUNT_SLOTS (2 * SG_POLICY_MAX_CLIENTS)
#define SG_RID_MAX 256
#define SG_CTL_TIMEOUT_MS 60000
#define SG_DRAIN_LINGER_MS 2000
#define SG_DRAIN_QUIET_MS 300 /* a drain ends after this long without a request... */
#define SG_DRAIN_MAX_MS 30000 /* ...or after this long in all, once nothing is in flight */
#define SG_EMPTY_SLOT UINT32_MAX

enum sg_pend_state {
	SG_PEND_FREE = 0,
	SG_PEND_SIGNING,  /* waiting for the signer */
	SG_PEND_AUDITING, /* waiting for its audit record to be durable */
};

/* One request in flight, with its audit record (no allocation per request). */
struct sg_pending {
	enum sg_pend_state state;
	uint32_t index;
	uint32_t gen; /* bumped on each reuse, so a stale seq is recognised */
	unsigned char rid[SG_RID_MAX];
	size_t rid_len;
	unsigned client_slot; /* slot in the in-flight counts, or SG_EMPTY_SLOT */
	int idem_held;        /* 1 while it owns its idempotency slot */
	uint32_t idem_hash;
	int via_http; /* arrived through the HTTP listener's socket */
	char why[SG_WHY_MAX];
	struct sg_audit_record rec;
	/* sign.cms and timestamp: the SignedData being built, then the DER answer. */
	struct sg_cms_build *build;
	unsigned char *out;
	size_t out_len;
	unsigned ts_status;   /* timestamp: PKIStatus of out */
	struct sg_ca_job *ca; /* CA delegation ops: their state (sg_ca.c), or NULL */
	struct sg_pending *next_free;
};

struct sg_count_entry {
	char name[SG_NAME_MAX + 1]; /* "" = empty */
	unsigned count;
};

struct sg_front {
	void *zctx;
	void *router, *zap, *hsm_push, *hsm_pull, *hsm_ctl;
	void *http_router;    /* the HTTP listener's requests, or NULL */
	struct sg_http *http; /* the HTTP listener, or NULL */
	char http_client[SG_NAME_MAX + 1];
	const struct sg_config_tsa *tsa_cfg;      /* borrowed from the configuration */
	uint64_t tsa_serial_next, tsa_serial_end; /* the reserved block [next, end) */
	char *listen[SG_CONFIG_MAX_LISTEN];
	size_t n_listen;
	char *config_path, *policy_path;
	size_t max_msg;
	unsigned max_inflight_default;
	struct sg_policy *policy;
	struct sg_audit *audit;
	struct sg_signer *signer;
	int signer_serving;
	struct sg_keys *keys;
	struct sg_ca *ca; /* CA delegation (sg_ca.c) */
	/* pending pool */
	struct sg_pending *chunks[SG_MAX_PENDING / SG_CHUNK];
	size_t n_chunks;
	struct sg_pending *free_list;
	size_t in_flight;
	uint32_t idem[SG_IDEM_SLOTS];  /* pending index, or SG_EMPTY_SLOT */
	struct sg_count_entry *counts; /* SG_COUNT_SLOTS */
	struct sg_wire_dec *dec;
	EVP_MD_CTX *fp_ctx; /* reused for every request's fingerprint */
	msgpack_sbuffer sb;
	int draining, drain_abandoned;
	int64_t drain_start_ms, last_request_ms;
	struct sg_front_stats st;
};

/* Every request ends here: its record goes to the audit writer, the reply waits for it. */
void sg_front_finish(struct sg_front *f, struct sg_pending *p, int result);

/* Ends p with error err; msg (may be NULL: the table's message) goes to the client. */
void sg_front_fail(struct sg_front *f, struct sg_pending *p, int err, const char *msg);

/*
 * Policy decision for a request on p->rec.key: 0, or the request is failed
 * (and the error returned).
 */
int sg_front_decide(struct sg_front *f, struct sg_pending *p, enum sg_op op, enum sg_hash hash,
                    enum sg_pad pad);

/*
 * Idempotency of a signing request whose op, key, hash and pad are set in
 * p->rec: 1 if the request is answered already (stored answer, conflict,
 * twin in flight, failure), 0 if it goes on to be signed.
 */
int sg_front_idem(struct sg_front *f, struct sg_pending *p, const unsigned char *idem,
                  size_t idem_len, const unsigned char *data, size_t len);

/* Hands digest to the signer for key; on failure the request is failed. */
void sg_front_to_signer(struct sg_front *f, struct sg_pending *p, const struct sg_key_entry *key,
                        enum sg_hash hash, enum sg_pad pad, const unsigned char *digest,
                        size_t len);

/*
 * A request the appliance makes of its own accord (a CRL): a pending entry
 * without a peer (no reply is sent) and outside every client's in-flight
 * count.  NULL when the pool is full.
 */
struct sg_pending *sg_front_internal_pending(struct sg_front *f);

#endif /* SG_FRONT_PRIV_H */
