/* sg_front: see sg_front.h and docs/protocol.md. */
#include "sg_front.h"
#include "sg_front_priv.h"
#include "sg_ca.h"
#include "sg_cms.h"
#include "sg_err.h"
#include "sg_hsm_proto.h"
#include "sg_http.h"
#include "sg_keys.h"
#include "sg_log.h"
#include "sg_tsa.h"
#include "sg_wire.h"
#include "sg_zap.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ts.h>
#include <zmq.h>

static int64_t
sg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sg_pending *
sg_pend_at(struct sg_front *f, uint32_t index)
{
	return &f->chunks[index / SG_CHUNK][index % SG_CHUNK];
}

static struct sg_pending *
sg_pend_alloc(struct sg_front *f)
{
	struct sg_pending *p, *chunk;
	size_t i;

	if (f->free_list == NULL) {
		if (f->n_chunks == SG_MAX_PENDING / SG_CHUNK)
			return NULL;
		if ((chunk = calloc(SG_CHUNK, sizeof(*chunk))) == NULL)
			return NULL;
		/* Push in reverse so that the lowest index is handed out first. */
		for (i = SG_CHUNK; i-- > 0;) {
			chunk[i].index = (uint32_t)(f->n_chunks * SG_CHUNK + i);
			chunk[i].next_free = f->free_list;
			f->free_list = &chunk[i];
		}
		f->chunks[f->n_chunks++] = chunk;
	}
	p = f->free_list;
	f->free_list = p->next_free;
	p->gen++;
	p->next_free = NULL;
	p->rid_len = 0;
	p->client_slot = SG_EMPTY_SLOT;
	p->idem_held = 0;
	p->via_http = 0;
	p->why[0] = '\0';
	p->build = NULL;
	p->out = NULL;
	p->out_len = 0;
	p->ts_status = 0;
	p->ca = NULL;
	memset(&p->rec, 0, sizeof(p->rec));
	p->rec.cookie = p;
	f->in_flight++;
	return p;
}

struct sg_pending *
sg_front_internal_pending(struct sg_front *f)
{
	struct sg_pending *p = sg_pend_alloc(f);

	if (p == NULL)
		sg_warn("%zu requests in flight: an internal request waits", f->in_flight);
	return p;
}

static uint64_t
sg_pend_seq(const struct sg_pending *p)
{
	return ((uint64_t)p->gen << 32) | p->index;
}

static struct sg_pending *
sg_pend_by_seq(struct sg_front *f, uint64_t seq)
{
	uint32_t index = (uint32_t)seq;
	struct sg_pending *p;

	if (index >= f->n_chunks * SG_CHUNK)
		return NULL;
	p = sg_pend_at(f, index);
	if (p->gen != (uint32_t)(seq >> 32) || p->state == SG_PEND_FREE)
		return NULL;
	return p;
}

/* FNV-1a, for the two small hash tables below (keys are not attacker-chosen secrets). */
static uint32_t
sg_fnv(uint32_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t
sg_idem_hash(const char *client, const unsigned char *idem, size_t len)
{
	uint32_t h = sg_fnv(2166136261u, client, strlen(client) + 1);

	return sg_fnv(h, idem, len);
}

static int
sg_idem_same(const struct sg_pending *a, const char *client, const unsigned char *idem, size_t len)
{
	return a->rec.idem_len == len && memcmp(a->rec.idem, idem, len) == 0 &&
	       strcmp(a->rec.client, client) == 0;
}

/* The pending request holding (client, idem), or NULL. */
static struct sg_pending *
sg_idem_find(struct sg_front *f, const char *client, const unsigned char *idem, size_t len,
             uint32_t h)
{
	uint32_t i = h % SG_IDEM_SLOTS;

	while (f->idem[i] != SG_EMPTY_SLOT) {
		struct sg_pending *p = sg_pend_at(f, f->idem[i]);

		if (p->idem_hash == h && sg_idem_same(p, client, idem, len))
			return p;
		i = (i + 1) % SG_IDEM_SLOTS;
	}
	return NULL;
}

static void
sg_idem_insert(struct sg_front *f, struct sg_pending *p)
{
	uint32_t i = p->idem_hash % SG_IDEM_SLOTS;

	/* Never full: it has twice as many slots as there can be pending requests. */
	while (f->idem[i] != SG_EMPTY_SLOT)
		i = (i + 1) % SG_IDEM_SLOTS;
	f->idem[i] = p->index;
	p->idem_held = 1;
}

/* Linear-probing deletion by backward shift: no tombstones accumulate. */
static void
sg_idem_remove(struct sg_front *f, struct sg_pending *p)
{
	uint32_t i = p->idem_hash % SG_IDEM_SLOTS, j, k;

	if (!p->idem_held)
		return;
	while (f->idem[i] != p->index)
		i = (i + 1) % SG_IDEM_SLOTS;
	f->idem[i] = SG_EMPTY_SLOT;
	j = i;
	for (;;) {
		j = (j + 1) % SG_IDEM_SLOTS;
		if (f->idem[j] == SG_EMPTY_SLOT)
			break;
		k = sg_pend_at(f, f->idem[j])->idem_hash % SG_IDEM_SLOTS;
		/* Move entry j back to i unless its home k lies cyclically in (i, j]. */
		if ((i <= j) ? (k <= i || k > j) : (k <= i && k > j)) {
			f->idem[i] = f->idem[j];
			f->idem[j] = SG_EMPTY_SLOT;
			i = j;
		}
	}
	p->idem_held = 0;
}

/*
 * Slot of the in-flight counter of client (created if needed), or
 * SG_EMPTY_SLOT if every counter is in use.  Slots are never emptied (that
 * would break probe chains and move the slots pending requests hold), but a
 * counter at zero is reused for a new name: over the daemon's life, reloads
 * bring more distinct client names than there are slots.
 */
static unsigned
sg_count_slot(struct sg_front *f, const char *client)
{
	unsigned i = sg_fnv(2166136261u, client, strlen(client)) % SG_COUNT_SLOTS, n;
	unsigned reuse = SG_EMPTY_SLOT;

	for (n = 0; n < SG_COUNT_SLOTS && f->counts[i].name[0] != '\0'; n++) {
		if (strcmp(f->counts[i].name, client) == 0)
			return i;
		if (f->counts[i].count == 0 && reuse == SG_EMPTY_SLOT)
			reuse = i;
		i = (i + 1) % SG_COUNT_SLOTS;
	}
	/* Not in the table: take the first idle counter on its probe path, else the empty slot. */
	if (reuse == SG_EMPTY_SLOT) {
		if (n == SG_COUNT_SLOTS)
			return SG_EMPTY_SLOT;
		reuse = i;
	}
	snprintf(f->counts[reuse].name, sizeof(f->counts[reuse].name), "%s", client);
	return reuse;
}

static void
sg_pend_free(struct sg_front *f, struct sg_pending *p)
{
	sg_idem_remove(f, p);
	if (p->client_slot != SG_EMPTY_SLOT)
		f->counts[p->client_slot].count--;
	/* The record may hold a signature that was not released: wipe it. */
	sg_wipe(&p->rec, sizeof(p->rec));
	sg_cms_build_free(p->build);
	p->build = NULL;
	sg_ca_job_free(p->ca);
	p->ca = NULL;
	free(p->out);
	p->out = NULL;
	p->out_len = 0;
	p->state = SG_PEND_FREE;
	p->next_free = f->free_list;
	f->free_list = p;
	f->in_flight--;
}

/*
 * Sends the policy's key inventory to the signer (control channel) and
 * builds the front's key table from the answer.  Keys the signer cannot use
 * stay listed as unusable, with a warning.
 */
static int
sg_front_load_keys(struct sg_front *f, const struct sg_policy *policy, char *why, size_t why_len)
{
	struct sg_hsm_keys_req req = {0};
	struct sg_hsm_keys_rep rep = {0};
	struct sg_keys *keys = NULL;
	zmq_msg_t msg;
	size_t i, n = sg_policy_key_count(policy);
	int r, len;

	zmq_msg_init(&msg);
	if (n > 0 && (req.specs = calloc(n, sizeof(*req.specs))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct sg_policy_key *k = sg_policy_key_at(policy, i);

		snprintf(req.specs[i].name, sizeof(req.specs[i].name), "%s", sg_policy_key_name(k));
		snprintf(req.specs[i].uri, sizeof(req.specs[i].uri), "%s", sg_policy_key_uri(k));
		req.specs[i].alg = sg_policy_key_alg(k);
		req.specs[i].self_verify = sg_policy_key_self_verify(k);
	}
	req.n = n;
	if ((r = sg_hsm_encode_keys_req(&f->sb, &req)) != 0)
		goto out;
	if (zmq_send(f->hsm_ctl, f->sb.data, f->sb.size, 0) < 0 ||
	    (len = zmq_msg_recv(&msg, f->hsm_ctl, 0)) < 0) {
		snprintf(why, why_len, "signer did not answer the key inventory: %s",
		         zmq_strerror(errno));
		r = SG_ERR_HSM_UNAVAILABLE;
		goto out;
	}
	if ((r = sg_hsm_decode_keys_rep(zmq_msg_data(&msg), zmq_msg_size(&msg), &rep)) != 0) {
		snprintf(why, why_len, "signer sent a malformed key inventory");
		goto out;
	}
	if (rep.err != 0 || rep.n != n) {
		snprintf(why, why_len, "signer could not load the keys: %s",
		         sg_strerror(rep.err != 0 ? rep.err : SG_ERR_INTERNAL));
		r = rep.err != 0 ? rep.err : SG_ERR_INTERNAL;
		goto out;
	}
	if ((r = sg_keys_new(policy, &rep, f->tsa_cfg, &keys)) != 0) {
		snprintf(why, why_len, "cannot build the key inventory: %s", sg_strerror(r));
		goto out;
	}
	sg_keys_free(f->keys);
	f->keys = keys;
	keys = NULL;
	r = 0;
out:
	zmq_msg_close(&msg);
	free(req.specs);
	sg_keys_free(keys);
	sg_hsm_keys_rep_clear(&rep);
	return r;
}

static void *
sg_socket(struct sg_front *f, int type, char *why, size_t why_len)
{
	void *s = zmq_socket(f->zctx, type);
	int linger = 0;

	if (s == NULL) {
		snprintf(why, why_len, "zmq_socket: %s", zmq_strerror(errno));
		return NULL;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	return s;
}

static int
sg_front_bind_clients(struct sg_front *f, const struct sg_secret *server_secret, char *why,
                      size_t why_len)
{
	int one = 1, hwm = 100000;
	int64_t maxmsg = (int64_t)f->max_msg;
	size_t i;

	/* ZAP first: without a handler libzmq 4.3 admits any CURVE client. */
	if ((f->zap = sg_socket(f, ZMQ_REP, why, why_len)) == NULL)
		return SG_ERR_INTERNAL;
	if (zmq_bind(f->zap, SG_ZAP_ENDPOINT) != 0) {
		snprintf(why, why_len, "cannot bind the ZAP handler: %s", zmq_strerror(errno));
		return SG_ERR_INTERNAL;
	}
	if ((f->router = sg_socket(f, ZMQ_ROUTER, why, why_len)) == NULL)
		return SG_ERR_INTERNAL;
	if (zmq_setsockopt(f->router, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
	    zmq_setsockopt(f->router, ZMQ_CURVE_SECRETKEY, sg_secret_str(server_secret), 40) != 0 ||
	    zmq_setsockopt(f->router, ZMQ_ZAP_DOMAIN, SG_ZAP_DOMAIN, strlen(SG_ZAP_DOMAIN)) != 0 ||
	    zmq_setsockopt(f->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0 ||
	    zmq_setsockopt(f->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)) != 0 ||
	    zmq_setsockopt(f->router, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_setsockopt(f->router, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0) {
		/* zmq_strerror, never the key: the message must not carry the secret. */
		snprintf(why, why_len, "cannot configure the CURVE server socket: %s",
		         zmq_strerror(errno));
		return SG_ERR_CONFIG;
	}
	for (i = 0; i < f->n_listen; i++) {
		if (zmq_bind(f->router, f->listen[i]) != 0) {
			snprintf(why, why_len, "cannot listen on %s: %s", f->listen[i],
			         zmq_strerror(errno));
			return SG_ERR_CONFIG;
		}
		sg_info("listening on %s", f->listen[i]);
	}
	return 0;
}

/*
 * The HTTP listener: its requests come in on an inproc router of their own,
 * without CURVE (they never leave the process), and act as the configured
 * HTTP-only client.
 */
static int
sg_front_start_http(struct sg_front *f, const struct sg_config_http *hc, char *why, size_t why_len)
{
	struct sg_http_config cfg;
	int one = 1, hwm = 100000;
	int64_t maxmsg = (int64_t)f->max_msg;

	snprintf(f->http_client, sizeof(f->http_client), "%s", hc->client);
	if ((f->http_router = sg_socket(f, ZMQ_ROUTER, why, why_len)) == NULL)
		return SG_ERR_INTERNAL;
	if (zmq_setsockopt(f->http_router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0 ||
	    zmq_setsockopt(f->http_router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)) != 0 ||
	    zmq_setsockopt(f->http_router, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_setsockopt(f->http_router, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_bind(f->http_router, SG_EP_HTTP) != 0) {
		snprintf(why, why_len, "cannot set up the HTTP listener's socket: %s",
		         zmq_strerror(errno));
		return SG_ERR_INTERNAL;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = hc->listen;
	cfg.front_ep = SG_EP_HTTP;
	cfg.max_connections = hc->max_connections;
	cfg.timeout_ms = hc->timeout_ms;
	cfg.max_body = SG_TSQ_MAX;
	if ((f->http = sg_http_start(f->zctx, &cfg, why, why_len)) == NULL)
		return SG_ERR_CONFIG;
	sg_info("HTTP listener on %s (as client %s)", hc->listen, hc->client);
	return 0;
}

void
sg_front_free(struct sg_front *f)
{
	size_t i;

	if (f == NULL)
		return;
	/* Before the context shuts down: the listener's sockets live in it. */
	sg_http_stop(f->http);
	if (f->zctx != NULL)
		zmq_ctx_shutdown(f->zctx);
	if (f->signer_serving)
		sg_signer_serve_stop(f->signer);
	if (f->router != NULL)
		zmq_close(f->router);
	if (f->http_router != NULL)
		zmq_close(f->http_router);
	if (f->zap != NULL)
		zmq_close(f->zap);
	if (f->hsm_push != NULL)
		zmq_close(f->hsm_push);
	if (f->hsm_pull != NULL)
		zmq_close(f->hsm_pull);
	if (f->hsm_ctl != NULL)
		zmq_close(f->hsm_ctl);
	if (f->zctx != NULL)
		zmq_ctx_term(f->zctx);
	for (i = 0; i < f->n_chunks; i++) {
		sg_wipe(f->chunks[i], SG_CHUNK * sizeof(struct sg_pending));
		free(f->chunks[i]);
	}
	for (i = 0; i < f->n_listen; i++)
		free(f->listen[i]);
	free(f->config_path);
	free(f->policy_path);
	sg_keys_free(f->keys);
	sg_ca_free(f->ca);
	free(f->counts);
	sg_policy_free(f->policy);
	sg_wire_dec_free(f->dec);
	EVP_MD_CTX_free(f->fp_ctx);
	msgpack_sbuffer_destroy(&f->sb);
	free(f);
}

int
sg_front_new(const struct sg_config *cfg, const char *config_path, struct sg_policy *policy,
             struct sg_audit *audit, struct sg_signer *signer,
             const struct sg_secret *server_secret, struct sg_front **out, char *why,
             size_t why_len)
{
	struct sg_front *f = NULL;
	int timeout = SG_CTL_TIMEOUT_MS, hwm = 0, one = 1, r = SG_ERR_INTERNAL;
	size_t i;

	*out = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		sg_policy_free(policy);
		return SG_ERR_NOMEM;
	}
	f->policy = policy;
	f->audit = audit;
	f->signer = signer;
	f->max_msg = cfg->max_message_size;
	f->max_inflight_default = cfg->max_inflight_per_client;
	f->tsa_cfg = &cfg->tsa;
	msgpack_sbuffer_init(&f->sb);
	for (i = 0; i < SG_IDEM_SLOTS; i++)
		f->idem[i] = SG_EMPTY_SLOT;
	if ((f->counts = calloc(SG_COUNT_SLOTS, sizeof(*f->counts))) == NULL ||
	    (f->dec = sg_wire_dec_new()) == NULL || (f->fp_ctx = EVP_MD_CTX_new()) == NULL ||
	    (f->config_path = strdup(config_path)) == NULL ||
	    (f->policy_path = strdup(cfg->policy_file)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < cfg->n_listen; i++) {
		if ((f->listen[i] = strdup(cfg->listen[i])) == NULL) {
			r = SG_ERR_NOMEM;
			goto out;
		}
		f->n_listen++;
	}
	if ((f->zctx = zmq_ctx_new()) == NULL) {
		snprintf(why, why_len, "zmq_ctx_new failed");
		goto out;
	}
	/* The signer channel: unbounded queues (in-flight caps bound them instead). */
	if ((f->hsm_push = sg_socket(f, ZMQ_PUSH, why, why_len)) == NULL ||
	    (f->hsm_pull = sg_socket(f, ZMQ_PULL, why, why_len)) == NULL ||
	    (f->hsm_ctl = sg_socket(f, ZMQ_REQ, why, why_len)) == NULL)
		goto out;
	zmq_setsockopt(f->hsm_push, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(f->hsm_pull, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(f->hsm_ctl, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	/* After a timed-out exchange the REQ socket must be able to send again,
	 * and a late answer to the old request must not be taken for the new one. */
	zmq_setsockopt(f->hsm_ctl, ZMQ_REQ_RELAXED, &one, sizeof(one));
	zmq_setsockopt(f->hsm_ctl, ZMQ_REQ_CORRELATE, &one, sizeof(one));
	zmq_setsockopt(f->hsm_ctl, ZMQ_SNDTIMEO, &timeout, sizeof(timeout));
	if (zmq_bind(f->hsm_push, SG_EP_HSM_REQ) != 0 ||
	    zmq_bind(f->hsm_pull, SG_EP_HSM_REP) != 0 || zmq_bind(f->hsm_ctl, SG_EP_HSM_CTL) != 0) {
		snprintf(why, why_len, "cannot bind the signer channel: %s", zmq_strerror(errno));
		goto out;
	}
	if ((r = sg_signer_serve_start(signer, f->zctx, SG_EP_HSM_REQ, SG_EP_HSM_REP,
	                               SG_EP_HSM_CTL)) != 0) {
		snprintf(why, why_len, "cannot start the signer service: %s", sg_strerror(r));
		goto out;
	}
	f->signer_serving = 1;
	if ((r = sg_front_load_keys(f, f->policy, why, why_len)) != 0)
		goto out;
	if ((r = sg_ca_new(cfg->profiles_dir, f->policy, &f->ca, why, why_len)) != 0)
		goto out;
	if ((r = sg_front_bind_clients(f, server_secret, why, why_len)) != 0)
		goto out;
	if (cfg->http.enabled && (r = sg_front_start_http(f, &cfg->http, why, why_len)) != 0)
		goto out;
	*out = f;
	f = NULL;
	r = 0;
out:
	sg_front_free(f);
	return r;
}

void
sg_front_get_stats(const struct sg_front *f, struct sg_front_stats *st)
{
	*st = f->st;
}

/* Sends the reply in f->sb to p's peer; a vanished peer is counted, not fatal. */
static void
sg_front_send(struct sg_front *f, const struct sg_pending *p)
{
	void *sock = p->via_http ? f->http_router : f->router;

	if (zmq_send(sock, p->rid, p->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(sock, f->sb.data, f->sb.size, ZMQ_DONTWAIT) < 0) {
		/* EHOSTUNREACH (peer gone, ROUTER_MANDATORY) or EAGAIN (peer not reading).
		 * A signature lost here is durable in the audit log and stored under its
		 * idempotency key: the client gets it again by retrying. */
		f->st.undeliverable++;
		sg_debug("reply to request %llu of %s undeliverable: %s",
		         (unsigned long long)p->rec.req_id, p->rec.client, zmq_strerror(errno));
		return;
	}
	f->st.replies++;
}

/* Encodes the reply of a completed request into f->sb. */
static int
sg_front_encode_reply(struct sg_front *f, struct sg_pending *p)
{
	const struct sg_audit_record *rec = &p->rec;
	struct sg_key_info *infos = NULL;
	struct sg_ping_rep ping;
	struct sg_blob_rep blob;
	size_t i, n = 0, nk;
	int r;

	if (rec->status != 0)
		return sg_wire_encode_err(&f->sb, rec->req_id, SG_ERR_AUDIT_UNAVAILABLE, NULL);
	if (rec->result != 0)
		return sg_wire_encode_err(&f->sb, rec->req_id, rec->result,
		                          p->why[0] != '\0' ? p->why : NULL);
	switch (rec->op) {
	case SG_OP_PING:
		memset(&ping, 0, sizeof(ping));
		snprintf(ping.server, sizeof(ping.server), "signetd-%s", SIGNET_VERSION);
		ping.time = (uint64_t)time(NULL);
		return sg_wire_encode_ping_rep(&f->sb, rec->req_id, &ping);
	case SG_OP_KEYS_LIST:
		nk = sg_keys_count(f->keys);
		if (nk > 0 && (infos = calloc(nk, sizeof(*infos))) == NULL)
			return sg_wire_encode_err(&f->sb, rec->req_id, SG_ERR_NOMEM, NULL);
		for (i = 0; i < nk; i++) {
			const struct sg_key_entry *e = sg_keys_at(f->keys, i);
			const struct sg_policy_key *k = sg_policy_key_by_name(f->policy, e->name);
			unsigned ops = 0, hashes = 0;
			size_t c;

			if (k == NULL || !e->usable)
				continue;
			sg_policy_key_grants(f->policy, rec->client, k, &ops, &hashes);
			if (ops == 0)
				continue;
			snprintf(infos[n].name, sizeof(infos[n].name), "%s", e->name);
			infos[n].alg = e->alg;
			memcpy(infos[n].pub, e->pub, e->pub_len);
			infos[n].pub_len = e->pub_len;
			infos[n].ops = ops;
			infos[n].hashes = hashes;
			for (c = 0; c < e->n_der; c++) {
				infos[n].cert[c] = e->der[c];
				infos[n].cert_len[c] = e->der_len[c];
			}
			infos[n].n_certs = e->n_der;
			n++;
		}
		r = sg_wire_encode_keys_rep(&f->sb, rec->req_id, infos, n);
		free(infos);
		return r;
	case SG_OP_SIGN_DIGEST:
		/* The writer filled the receipt (rep.record, rep.record_hash). */
		return sg_wire_encode_sign_rep(&f->sb, rec->req_id, &p->rec.rep);
	case SG_OP_SIGN_CMS:
	case SG_OP_TIMESTAMP:
		memset(&blob, 0, sizeof(blob));
		snprintf(blob.key, sizeof(blob.key), "%s", rec->rep.key);
		blob.alg = rec->rep.alg;
		blob.hash = rec->rep.hash;
		blob.status = p->ts_status;
		blob.data = p->out;
		blob.len = p->out_len;
		blob.record = rec->seq;
		memcpy(blob.record_hash, rec->record_hash, sizeof(blob.record_hash));
		blob.replayed = rec->rep.replayed;
		return sg_wire_encode_blob_rep(&f->sb, rec->req_id, rec->op, &blob);
	case SG_OP_CERT_ISSUE:
	case SG_OP_CERT_REVOKE:
	case SG_OP_CERT_STATUS:
	case SG_OP_CRL_GET:
	case SG_OP_CA_LIST:
	case SG_OP_OCSP:
		return sg_ca_encode_reply(f, p);
	case SG_OP_NONE:
	default:
		return sg_wire_encode_err(&f->sb, rec->req_id, SG_ERR_INTERNAL, NULL);
	}
}

/* Every request ends here: its record goes to the audit writer, the reply waits for it. */
void
sg_front_finish(struct sg_front *f, struct sg_pending *p, int result)
{
	p->rec.result = result;
	if (result != 0) {
		p->rec.has_sig = 0;
		p->rec.idem_len = 0;
		f->st.denied++;
	}
	p->state = SG_PEND_AUDITING;
	sg_audit_submit(f->audit, &p->rec);
}

/* Ends p with error err; msg (may be NULL: the table's message) goes to the client. */
void
sg_front_fail(struct sg_front *f, struct sg_pending *p, int err, const char *msg)
{
	if (msg != NULL)
		snprintf(p->why, sizeof(p->why), "%s", msg);
	sg_front_finish(f, p, err);
}

/*
 * SHA-256 over what identifies a signing request, to spot a reused
 * idempotency key; ctx is the front's reusable digest context.  data is the
 * digest (sign.digest, sign.cms) or the DER TimeStampReq (timestamp).  The
 * sign.digest layout predates the other ops and is kept, so that stored
 * answers stay valid across an upgrade; the others start with their op.
 */
static int
sg_req_fingerprint(EVP_MD_CTX *ctx, enum sg_op op, const char *key, enum sg_hash hash,
                   enum sg_pad pad, const unsigned char *data, size_t len, unsigned char fp[32])
{
	unsigned char tag = (unsigned char)op;
	unsigned char hdr[2] = {(unsigned char)hash, (unsigned char)pad};

	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    (op != SG_OP_SIGN_DIGEST && EVP_DigestUpdate(ctx, &tag, 1) != 1) ||
	    EVP_DigestUpdate(ctx, key, strlen(key) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, hdr, sizeof(hdr)) != 1 || EVP_DigestUpdate(ctx, data, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, fp, NULL) != 1)
		return SG_ERR_INTERNAL;
	return 0;
}

/*
 * Idempotency of a signing request whose key, hash, pad and data are set in
 * p->rec (data: see sg_req_fingerprint).  Returns 1 if the request is
 * answered already (a stored answer replayed, a conflict, a twin in flight,
 * or a failure), 0 if it goes on to be signed (its key then held in flight).
 */
int
sg_front_idem(struct sg_front *f, struct sg_pending *p, const unsigned char *idem, size_t idem_len,
              const unsigned char *data, size_t len)
{
	unsigned char stored_fp[32], *stored_out = NULL;
	size_t stored_len = 0;
	int r;

	if (idem_len == 0)
		return 0;
	memcpy(p->rec.idem, idem, idem_len);
	p->rec.idem_len = idem_len;
	if (sg_req_fingerprint(f->fp_ctx, p->rec.op, p->rec.key, p->rec.hash, p->rec.pad, data, len,
	                       p->rec.req_fp) != 0) {
		sg_front_fail(f, p, SG_ERR_INTERNAL, "cannot fingerprint the request");
		return 1;
	}
	p->idem_hash = sg_idem_hash(p->rec.client, idem, idem_len);
	if (sg_idem_find(f, p->rec.client, idem, idem_len, p->idem_hash) != NULL) {
		sg_front_fail(f, p, SG_ERR_BUSY,
		              "a request with this idempotency key is in progress; retry");
		return 1;
	}
	r = sg_audit_idem_lookup(f->audit, p->rec.client, idem, idem_len, &p->rec.rep, stored_fp,
	                         &stored_out, &stored_len);
	if (r == 0) {
		if (memcmp(stored_fp, p->rec.req_fp, 32) != 0 ||
		    (p->rec.op == SG_OP_SIGN_DIGEST) != (stored_out == NULL)) {
			free(stored_out);
			sg_front_fail(f, p, SG_ERR_IDEM_CONFLICT, NULL);
			return 1;
		}
		/* The stored answer: audited again as released, not stored again. */
		p->out = stored_out;
		p->out_len = stored_len;
		p->rec.out = NULL;
		p->rec.out_len = 0;
		p->rec.rep.replayed = 1;
		p->rec.has_sig = 1;
		p->rec.idem_len = 0;
		f->st.signatures++;
		sg_front_finish(f, p, 0);
		return 1;
	}
	if (r != SG_ERR_NOT_FOUND) {
		sg_front_fail(f, p, SG_ERR_AUDIT_UNAVAILABLE, "idempotency store unreadable");
		return 1;
	}
	sg_idem_insert(f, p);
	return 0;
}

/* Hands the digest to the signer for key (whose algorithm is alg). */
void
sg_front_to_signer(struct sg_front *f, struct sg_pending *p, const struct sg_key_entry *key,
                   enum sg_hash hash, enum sg_pad pad, const unsigned char *digest, size_t len)
{
	struct sg_hsm_sign_req hreq;
	int r;

	/* The algorithm of the key the request goes out for: a reload may drop or
	 * replace the key before the signer answers. */
	p->rec.rep.alg = key->alg;
	memset(&hreq, 0, sizeof(hreq));
	hreq.seq = sg_pend_seq(p);
	snprintf(hreq.key, sizeof(hreq.key), "%s", key->name);
	hreq.hash = hash;
	hreq.pad = pad;
	memcpy(hreq.digest, digest, len);
	hreq.digest_len = len;
	if ((r = sg_hsm_encode_sign_req(&f->sb, &hreq)) != 0 ||
	    zmq_send(f->hsm_push, f->sb.data, f->sb.size, ZMQ_DONTWAIT) < 0) {
		sg_front_fail(f, p, SG_ERR_HSM_UNAVAILABLE, "signer channel unavailable");
		return;
	}
	p->state = SG_PEND_SIGNING;
}

/* Policy decision for a request on a key; 0, or the request is failed. */
int
sg_front_decide(struct sg_front *f, struct sg_pending *p, enum sg_op op, enum sg_hash hash,
                enum sg_pad pad)
{
	int r;

	if ((r = sg_policy_check(f->policy, p->rec.client, op, p->rec.key, hash, pad)) == 0)
		return 0;
	sg_front_fail(f, p, r,
	              r == SG_ERR_UNKNOWN_KEY   ? "unknown key"
	              : r == SG_ERR_BAD_PADDING ? "padding not valid for this key"
	                                        : "not allowed by policy");
	return r;
}

/* sign.digest and sign.cms. */
static void
sg_front_sign(struct sg_front *f, struct sg_pending *p, const struct sg_req *req)
{
	const struct sg_sign_req *s = &req->u.sign;
	const struct sg_key_entry *key;
	unsigned char tbs[SG_HASH_MAX_LEN];
	size_t tbs_len = 0;
	time_t now;
	enum sg_pad pad = s->pad;
	int r;

	snprintf(p->rec.key, sizeof(p->rec.key), "%s", s->key);
	p->rec.hash = s->hash;
	memcpy(p->rec.digest, s->digest, s->digest_len);
	p->rec.digest_len = s->digest_len;
	p->rec.meta = s->meta;
	key = sg_keys_find(f->keys, s->key);
	/* CMS signs RSA with PKCS#1 v1.5 (docs/formats.md). */
	if (key != NULL && sg_keyalg_is_rsa(key->alg) && pad == SG_PAD_NONE)
		pad = SG_PAD_PKCS1;
	p->rec.pad = pad;
	if (sg_front_decide(f, p, req->op, s->hash, pad) != 0)
		return;
	if (key == NULL || !key->usable) {
		snprintf(p->why, sizeof(p->why), "key %s is not available in the HSM", s->key);
		sg_front_fail(f, p, SG_ERR_HSM_UNAVAILABLE, NULL);
		return;
	}
	now = time(NULL);
	if (req->op == SG_OP_SIGN_CMS && (r = sg_keys_cert_usable(key, now)) != 0) {
		snprintf(p->why, sizeof(p->why), "key %s: %s", s->key,
		         r == SG_ERR_NO_CERT ? "no certificate matches it"
		                             : "its certificate chain is not valid now");
		sg_front_fail(f, p, r, NULL);
		return;
	}
	if (sg_front_idem(f, p, s->idem, s->idem_len, s->digest, s->digest_len) != 0)
		return;
	if (req->op == SG_OP_SIGN_DIGEST) {
		sg_front_to_signer(f, p, key, s->hash, pad, s->digest, s->digest_len);
		return;
	}
	if ((r = sg_cms_begin_detached(&key->id, s->hash, s->digest, s->digest_len, now, &p->build,
	                               tbs, &tbs_len)) != 0) {
		sg_front_fail(f, p, r, "cannot build the CMS structure");
		return;
	}
	sg_front_to_signer(f, p, key, s->hash, pad, tbs, tbs_len);
}

/* The next time-stamp serial number, from a durably reserved block. */
static int
sg_front_tsa_serial(struct sg_front *f, uint64_t *serial)
{
	uint64_t first;
	int r;

	if (f->tsa_serial_next == f->tsa_serial_end) {
		if ((r = sg_audit_counter_reserve(f->audit, SG_TSA_SERIAL_COUNTER,
		                                  SG_TSA_SERIAL_BLOCK, &first)) != 0)
			return r;
		f->tsa_serial_next = first;
		f->tsa_serial_end = first + SG_TSA_SERIAL_BLOCK;
	}
	*serial = f->tsa_serial_next++;
	return 0;
}

/* The imprint of a TimeStampReq, for the audit record and the policy (hash NONE if unreadable). */
static void
sg_tsq_imprint(const unsigned char *der, size_t len, struct sg_audit_record *rec)
{
	const unsigned char *q = der;
	TS_REQ *tr;
	TS_MSG_IMPRINT *mi;
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *md;
	const ASN1_OBJECT *obj;
	enum sg_hash h;

	rec->hash = SG_HASH_NONE;
	rec->digest_len = 0;
	if ((tr = d2i_TS_REQ(NULL, &q, (long)len)) == NULL)
		return;
	if ((mi = TS_REQ_get_msg_imprint(tr)) != NULL &&
	    (alg = TS_MSG_IMPRINT_get_algo(mi)) != NULL &&
	    (md = TS_MSG_IMPRINT_get_msg(mi)) != NULL) {
		X509_ALGOR_get0(&obj, NULL, NULL, alg);
		if (sg_cms_hash_by_obj(obj, &h) == 0 &&
		    (size_t)ASN1_STRING_length(md) == sg_hash_len(h)) {
			rec->hash = h;
			memcpy(rec->digest, ASN1_STRING_get0_data(md), sg_hash_len(h));
			rec->digest_len = sg_hash_len(h);
		}
	}
	TS_REQ_free(tr);
}

static void
sg_front_timestamp(struct sg_front *f, struct sg_pending *p, const struct sg_req *req)
{
	const struct sg_ts_req *t = &req->u.ts;
	const struct sg_tsa *tsa = sg_keys_tsa(f->keys);
	const struct sg_key_entry *key;
	const struct sg_policy_key *pk;
	unsigned char tbs[SG_HASH_MAX_LEN], *made = NULL;
	const unsigned char *tsq = t->tsq;
	size_t tsq_len = t->tsq_len, made_len = 0, tbs_len = 0;
	unsigned ops = 0, hashes = 0;
	struct timespec now;
	uint64_t serial;
	int r, failinfo = 0;
	enum sg_pad pad;

	p->rec.meta = t->meta;
	if (tsa == NULL || (key = sg_keys_find(f->keys, sg_keys_tsa_key(f->keys))) == NULL) {
		sg_front_fail(f, p, SG_ERR_NO_TSA, NULL);
		return;
	}
	snprintf(p->rec.key, sizeof(p->rec.key), "%s", key->name);
	pad = sg_keyalg_is_rsa(key->alg) ? SG_PAD_PKCS1 : SG_PAD_NONE;
	p->rec.pad = pad;
	/* May the client time-stamp at all?  The hash is decided below, once known. */
	if ((pk = sg_policy_key_by_name(f->policy, key->name)) != NULL)
		sg_policy_key_grants(f->policy, p->rec.client, pk, &ops, &hashes);
	if ((ops & (1u << SG_OP_TIMESTAMP)) == 0) {
		sg_front_fail(f, p, SG_ERR_DENIED, "not allowed by policy");
		return;
	}
	if (tsq_len == 0) {
		/* The imprint form: the request `openssl ts -query -cert` would make. */
		if ((r = sg_tsa_make_request(t->hash, t->digest, t->digest_len, 1, NULL, 0, &made,
		                             &made_len)) != 0) {
			sg_front_fail(f, p, r, "cannot build the time-stamp request");
			return;
		}
		tsq = made;
		tsq_len = made_len;
	}
	sg_tsq_imprint(tsq, tsq_len, &p->rec);
	/* An unreadable request or hash is the TSA's to reject (badDataFormat, badAlg). */
	if (p->rec.hash != SG_HASH_NONE &&
	    sg_front_decide(f, p, SG_OP_TIMESTAMP, p->rec.hash, pad) != 0)
		goto out;
	if (sg_front_idem(f, p, t->idem, t->idem_len, tsq, tsq_len) != 0)
		goto out;
	if ((r = sg_front_tsa_serial(f, &serial)) != 0) {
		sg_front_fail(f, p, r, "cannot reserve time-stamp serial numbers");
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if ((r = sg_tsa_begin(tsa, tsq, tsq_len, serial, &now, &p->build, tbs, &tbs_len, &p->out,
	                      &p->out_len, &failinfo)) != 0) {
		sg_front_fail(f, p, r, "cannot build the time-stamp");
		goto out;
	}
	p->rec.rep.alg = key->alg;
	p->rec.rep.hash = (enum sg_hash)f->tsa_cfg->sign_hash;
	snprintf(p->rec.rep.key, sizeof(p->rec.rep.key), "%s", key->name);
	if (p->build == NULL) {
		/* Rejected: answered with the rejection, recorded without a signature. */
		p->ts_status = 2;
		sg_debug("time-stamp request %llu of %s rejected (failure info 0x%x)",
		         (unsigned long long)p->rec.req_id, p->rec.client, (unsigned)failinfo);
		sg_front_finish(f, p, 0);
		goto out;
	}
	sg_front_to_signer(f, p, key, (enum sg_hash)f->tsa_cfg->sign_hash, pad, tbs, tbs_len);
out:
	free(made);
}

/* Resolves the sender of a message from its User-Id (set by ZAP) against the current policy. */
static const struct sg_policy_client *
sg_front_client(struct sg_front *f, zmq_msg_t *body)
{
	const char *uid = zmq_msg_gets(body, "User-Id");
	unsigned char pub[32];

	if (uid == NULL || strlen(uid) != 40 || zmq_z85_decode(pub, uid) == NULL)
		return NULL;
	return sg_policy_client_by_pubkey(f->policy, pub);
}

/* Discards the rest of a multipart message. */
static void
sg_drain_more(void *s)
{
	zmq_msg_t m;
	int more = 1;
	size_t msz = sizeof(more);

	while (zmq_getsockopt(s, ZMQ_RCVMORE, &more, &msz) == 0 && more) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		zmq_msg_close(&m);
	}
}

/*
 * The whole appliance is at SG_MAX_PENDING requests in flight: there is no
 * state to hold this one, so it is answered busy at once and, unlike every
 * other outcome, without an audit record (docs/protocol.md says so).
 */
static void
sg_front_refuse_overload(struct sg_front *f, void *sock, zmq_msg_t *rid, zmq_msg_t *body,
                         const char *client)
{
	struct sg_req req;
	char why[SG_WHY_MAX];
	int have_id = 0;

	f->st.denied++;
	sg_warn("%zu requests in flight: refused one from %s as busy, unaudited", f->in_flight,
	        client);
	(void)sg_wire_decode_req(f->dec, zmq_msg_data(body), zmq_msg_size(body), f->max_msg, &req,
	                         &have_id, why);
	if (zmq_msg_size(rid) > SG_RID_MAX ||
	    sg_wire_encode_err(&f->sb, have_id ? req.id : 0, SG_ERR_BUSY,
	                       "the appliance has too many requests in flight; retry") != 0)
		return;
	if (zmq_send(sock, zmq_msg_data(rid), zmq_msg_size(rid), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(sock, f->sb.data, f->sb.size, ZMQ_DONTWAIT) < 0)
		f->st.undeliverable++;
	else
		f->st.replies++;
}

/*
 * One request from sock: the CURVE router (the client is who its User-Id
 * says) or the HTTP listener's router (the client is the configured
 * HTTP-only client).
 */
static void
sg_front_on_request(struct sg_front *f, void *sock)
{
	const struct sg_policy_client *client;
	const char *name;
	int via_http = sock == f->http_router;
	struct sg_pending *p;
	zmq_msg_t rid, body;
	struct sg_req req;
	unsigned cap;
	int have_id = 0, r, more = 0;
	size_t msz = sizeof(more);

	zmq_msg_init(&rid);
	zmq_msg_init(&body);
	if (zmq_msg_recv(&rid, sock, ZMQ_DONTWAIT) < 0)
		goto out;
	if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &msz) != 0 || !more)
		goto out;
	if (zmq_msg_recv(&body, sock, ZMQ_DONTWAIT) < 0)
		goto out;
	zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &msz);
	if (via_http) {
		/* Not in the policy, or not HTTP-only: every request is denied below. */
		name = f->http_client;
		client = sg_policy_client_by_name(f->policy, name);
		if (client != NULL && !sg_policy_client_is_http(client))
			client = NULL;
	} else if ((client = sg_front_client(f, &body)) == NULL) {
		/* Admitted under an older policy that no longer lists it: silence. */
		f->st.dropped_unknown++;
		sg_drain_more(sock);
		sg_debug("dropped a message from a client no longer in the policy");
		goto out;
	} else {
		name = sg_policy_client_name(client);
	}
	f->st.requests++;
	f->last_request_ms = sg_now_ms();
	if (zmq_msg_size(&rid) > SG_RID_MAX || (p = sg_pend_alloc(f)) == NULL) {
		sg_drain_more(sock);
		sg_front_refuse_overload(f, sock, &rid, &body, name);
		goto out;
	}
	memcpy(p->rid, zmq_msg_data(&rid), zmq_msg_size(&rid));
	p->rid_len = zmq_msg_size(&rid);
	p->via_http = via_http;
	snprintf(p->rec.client, sizeof(p->rec.client), "%s", name);
	if (more) {
		/* One frame per request: extra frames make it malformed. */
		sg_drain_more(sock);
		sg_front_fail(f, p, SG_ERR_MALFORMED, "a request is exactly one frame");
		goto out;
	}
	r = sg_wire_decode_req(f->dec, zmq_msg_data(&body), zmq_msg_size(&body), f->max_msg, &req,
	                       &have_id, p->why);
	p->rec.req_id = req.id;
	p->rec.op = req.op;
	if (r != 0) {
		sg_front_finish(f, p, r);
		goto out;
	}
	if (f->draining) {
		sg_front_fail(f, p, SG_ERR_SHUTTING_DOWN, NULL);
		goto out;
	}
	if (client == NULL) {
		sg_front_fail(f, p, SG_ERR_DENIED,
		              "the HTTP client is not an HTTP-only client of the policy");
		goto out;
	}
	cap = sg_policy_client_max_inflight(client);
	if (cap == 0)
		cap = f->max_inflight_default;
	if ((p->client_slot = sg_count_slot(f, p->rec.client)) == SG_EMPTY_SLOT ||
	    f->counts[p->client_slot].count >= cap) {
		p->client_slot = SG_EMPTY_SLOT;
		sg_front_fail(f, p, SG_ERR_BUSY, "too many requests in flight for this client");
		goto out;
	}
	f->counts[p->client_slot].count++;
	switch (req.op) {
	case SG_OP_PING:
	case SG_OP_KEYS_LIST:
		r = sg_policy_check(f->policy, p->rec.client, req.op, NULL, SG_HASH_NONE,
		                    SG_PAD_NONE);
		sg_front_fail(f, p, r, r != 0 ? "not allowed by policy" : NULL);
		break;
	case SG_OP_SIGN_DIGEST:
	case SG_OP_SIGN_CMS:
		sg_front_sign(f, p, &req);
		break;
	case SG_OP_TIMESTAMP:
		sg_front_timestamp(f, p, &req);
		break;
	case SG_OP_CERT_ISSUE:
	case SG_OP_CERT_REVOKE:
	case SG_OP_CERT_STATUS:
	case SG_OP_CRL_GET:
	case SG_OP_CA_LIST:
	case SG_OP_OCSP:
		sg_ca_request(f, p, &req);
		break;
	case SG_OP_NONE:
	default:
		sg_front_fail(f, p, SG_ERR_UNKNOWN_OP, NULL);
		break;
	}
out:
	zmq_msg_close(&rid);
	zmq_msg_close(&body);
}

/* Up to 256 requests waiting on sock, then back to the loop. */
static void
sg_front_on_requests(struct sg_front *f, void *sock)
{
	int k;

	for (k = 0; k < 256; k++) {
		int ev = 0;
		size_t esz = sizeof(ev);

		sg_front_on_request(f, sock);
		if (zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &esz) != 0 || !(ev & ZMQ_POLLIN))
			break;
	}
}

static void
sg_front_on_signed(struct sg_front *f)
{
	struct sg_hsm_sign_rep rep;
	struct sg_pending *p;
	zmq_msg_t msg;
	int r;

	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, f->hsm_pull, ZMQ_DONTWAIT) < 0)
		goto out;
	if (sg_hsm_decode_sign_rep(zmq_msg_data(&msg), zmq_msg_size(&msg), &rep) != 0) {
		sg_error("malformed reply from the signer; dropped");
		goto out;
	}
	if ((p = sg_pend_by_seq(f, rep.seq)) == NULL || p->state != SG_PEND_SIGNING) {
		sg_error("signer answered an unknown request; dropped");
		goto out;
	}
	if (rep.err != 0) {
		sg_front_fail(f, p, rep.err, sg_strerror(rep.err));
		goto out;
	}
	if (p->ca != NULL) {
		sg_ca_on_signed(f, p, rep.sig, rep.sig_len);
		goto out;
	}
	if (p->rec.op == SG_OP_SIGN_CMS || p->rec.op == SG_OP_TIMESTAMP) {
		r = p->rec.op == SG_OP_SIGN_CMS
		        ? sg_cms_finish(p->build, rep.sig, rep.sig_len, &p->out, &p->out_len)
		        : sg_tsa_finish(p->build, rep.sig, rep.sig_len, &p->out, &p->out_len);
		if (r != 0) {
			sg_front_fail(f, p, r, sg_strerror(r));
			goto out;
		}
		/* Stored with the idempotency key, so that a retry gets these very bytes. */
		p->rec.out = p->out;
		p->rec.out_len = p->out_len;
	}
	p->rec.has_sig = 1;
	snprintf(p->rec.rep.key, sizeof(p->rec.rep.key), "%s", p->rec.key);
	if (p->rec.op != SG_OP_TIMESTAMP)
		p->rec.rep.hash = p->rec.hash; /* a time-stamp's is the token signature's */
	p->rec.rep.pad = p->rec.pad;
	memcpy(p->rec.rep.sig, rep.sig, rep.sig_len);
	p->rec.rep.sig_len = rep.sig_len;
	f->st.signatures++;
	sg_front_finish(f, p, 0);
out:
	/* The signature is not released yet (its record is not durable): no copy
	 * of it stays behind in freed memory. */
	sg_wipe(&rep, sizeof(rep));
	sg_wipe(zmq_msg_data(&msg), zmq_msg_size(&msg));
	zmq_msg_close(&msg);
}

static void
sg_front_on_audited(struct sg_front *f)
{
	struct sg_audit_record *rec, *next;

	for (rec = sg_audit_take_completed(f->audit); rec != NULL; rec = next) {
		struct sg_pending *p = rec->cookie;

		next = rec->next;
		if (rec->status != 0 && rec->has_sig)
			sg_warn("signature for %s withheld: audit log not writable", rec->client);
		/* One reply per request, even if the proper one cannot be encoded; none
		 * for the appliance's own requests (no peer). */
		if (p->rid_len == 0)
			;
		else if (sg_front_encode_reply(f, p) == 0 ||
		         sg_wire_encode_err(&f->sb, p->rec.req_id, SG_ERR_INTERNAL, NULL) == 0)
			sg_front_send(f, p);
		else
			sg_error("no reply could be encoded for request %llu of %s",
			         (unsigned long long)p->rec.req_id, p->rec.client);
		sg_ca_after_audit(f, p);
		sg_pend_free(f, p);
	}
}

static void
sg_front_reload(struct sg_front *f)
{
	struct sg_policy *np = NULL;
	char why[512];
	int r;

	sg_info("reloading policy %s", f->policy_path);
	if ((r = sg_policy_load(f->policy_path, &np, why, sizeof(why))) != 0) {
		f->st.reload_failures++;
		sg_error("policy reload failed, keeping the old policy: %s", why);
		return;
	}
	if ((r = sg_front_load_keys(f, np, why, sizeof(why))) != 0) {
		f->st.reload_failures++;
		sg_error("policy reload failed, keeping the old policy: %s", why);
		sg_policy_free(np);
		/* The signer may have half-switched: restore the old inventory. */
		if (sg_front_load_keys(f, f->policy, why, sizeof(why)) != 0)
			sg_error("could not restore the old key inventory: %s", why);
		return;
	}
	/* The certificate profiles are read again too, and must fit the new policy. */
	if ((r = sg_ca_reload(f->ca, np, why, sizeof(why))) != 0) {
		f->st.reload_failures++;
		sg_error("policy reload failed, keeping the old policy: %s", why);
		sg_policy_free(np);
		if (sg_front_load_keys(f, f->policy, why, sizeof(why)) != 0)
			sg_error("could not restore the old key inventory: %s", why);
		return;
	}
	sg_policy_free(f->policy);
	f->policy = np;
	f->st.reloads++;
	sg_info("policy reloaded: %zu keys", sg_policy_key_count(np));
}

/* Returns 1 to go on, 0 to start draining. */
static int
sg_front_on_signal(struct sg_front *f, int sigfd)
{
	struct signalfd_siginfo si;

	if (read(sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 1;
	switch (si.ssi_signo) {
	case SIGHUP:
		sg_front_reload(f);
		return 1;
	case SIGTERM:
	case SIGINT:
		return 0;
	default:
		return 1;
	}
}

/*
 * Stops accepting: new CURVE handshakes are refused by ZAP, requests on open
 * connections are answered shutting_down, and what is in flight finishes.
 * The sockets stay bound: unbinding would cut the open connections and lose
 * the replies to requests already queued on them.
 */
static void
sg_front_start_drain(struct sg_front *f)
{
	sg_info("stopping: refusing new connections, finishing %zu requests in flight",
	        f->in_flight);
	f->draining = 1;
	f->drain_start_ms = f->last_request_ms = sg_now_ms();
}

/* A drain ends once nothing is in flight and clients have fallen quiet. */
static int
sg_front_drained(const struct sg_front *f)
{
	int64_t now = sg_now_ms();

	return f->in_flight == 0 && (now - f->last_request_ms >= SG_DRAIN_QUIET_MS ||
	                             now - f->drain_start_ms >= SG_DRAIN_MAX_MS);
}

/*
 * A drain must end even if the signer never answers (a hung HSM): past
 * SG_DRAIN_MAX_MS, requests still waiting for it are failed (and audited as
 * such); a late answer from the signer is then dropped as unknown.
 */
static void
sg_front_abandon_signing(struct sg_front *f)
{
	size_t i, n = 0;

	if (f->drain_abandoned || sg_now_ms() - f->drain_start_ms < SG_DRAIN_MAX_MS)
		return;
	f->drain_abandoned = 1;
	for (i = 0; i < f->n_chunks * SG_CHUNK; i++) {
		struct sg_pending *p = sg_pend_at(f, (uint32_t)i);

		if (p->state != SG_PEND_SIGNING)
			continue;
		sg_front_fail(f, p, SG_ERR_HSM_UNAVAILABLE,
		              "the HSM did not answer before the appliance stopped");
		n++;
	}
	if (n > 0)
		sg_warn("stopping: gave up waiting for the HSM on %zu requests", n);
}

int
sg_front_run(struct sg_front *f, int sigfd)
{
	zmq_pollitem_t items[6];
	int n, nitems = f->http_router != NULL ? 6 : 5, linger = SG_DRAIN_LINGER_MS;

	memset(items, 0, sizeof(items));
	items[0].socket = f->router;
	items[0].events = ZMQ_POLLIN;
	items[1].socket = f->zap;
	items[1].events = ZMQ_POLLIN;
	items[2].socket = f->hsm_pull;
	items[2].events = ZMQ_POLLIN;
	items[3].fd = sg_audit_event_fd(f->audit);
	items[3].events = ZMQ_POLLIN;
	items[4].fd = sigfd;
	items[4].events = ZMQ_POLLIN;
	items[5].socket = f->http_router;
	items[5].events = ZMQ_POLLIN;
	for (;;) {
		if (f->draining && sg_front_drained(f))
			break;
		if (f->draining)
			sg_front_abandon_signing(f);
		sg_ca_tick(f);
		n = zmq_poll(items, nitems, f->draining ? 50 : sg_ca_timeout_ms(f));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sg_error("zmq_poll: %s", zmq_strerror(errno));
			return SG_ERR_INTERNAL;
		}
		/* Completions first: they free slots and release replies. */
		if (items[3].revents & ZMQ_POLLIN)
			sg_front_on_audited(f);
		if (items[2].revents & ZMQ_POLLIN) {
			int k;

			for (k = 0; k < 256; k++) {
				int ev = 0;
				size_t esz = sizeof(ev);

				sg_front_on_signed(f);
				if (zmq_getsockopt(f->hsm_pull, ZMQ_EVENTS, &ev, &esz) != 0 ||
				    !(ev & ZMQ_POLLIN))
					break;
			}
		}
		if (items[1].revents & ZMQ_POLLIN)
			sg_zap_handle(f->zap, f->draining ? NULL : f->policy, &f->st.refused);
		if (items[0].revents & ZMQ_POLLIN)
			sg_front_on_requests(f, f->router);
		if (nitems > 5 && (items[5].revents & ZMQ_POLLIN))
			sg_front_on_requests(f, f->http_router);
		if ((items[4].revents & ZMQ_POLLIN) && !sg_front_on_signal(f, sigfd) &&
		    !f->draining)
			sg_front_start_drain(f);
	}
	/* Let the last replies leave before the socket closes. */
	zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof(linger));
	sg_info("stopped: %llu requests, %llu signatures, %llu undeliverable replies",
	        (unsigned long long)f->st.requests, (unsigned long long)f->st.signatures,
	        (unsigned long long)f->st.undeliverable);
	return 0;
}
