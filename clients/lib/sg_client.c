/*
 * sg_client: the connection and request engine of libsignet (see signet.h).
 *
 * Every request lives in a slot from signet_client_send until its outcome is
 * collected.  A slot goes QUEUED (an attempt is open, the socket has not
 * taken the message yet) -> SENT -> DONE, or, when an attempt ends without a
 * usable answer, BACKOFF -> QUEUED again while attempts remain.  The socket
 * uses ZMQ_IMMEDIATE, so a message is only handed to a connection whose
 * CURVE handshake completed; a socket monitor tells the engine when a
 * connection comes up (to tell "unavailable" from "timeout") and when it is
 * lost (a request sent on a lost connection can never be answered, so it is
 * resent at once on the next one instead of waiting for its deadline).
 *
 * libzmq reconnects by itself after a network error, but after a protocol
 * error (a reply over ZMQ_MAXMSGSIZE, a failed handshake) it drops the
 * connection for good.  A connection that is lost and not followed by
 * libzmq's own reconnection events within SG_CLIENT_RELINK_MS is therefore
 * re-created by the engine, with a pause that doubles until a handshake
 * succeeds, so that one bad reply does not leave the client deaf.
 *
 * The engine never blocks outside zmq_poll, and zmq_poll never waits past the
 * earliest deadline of a pending request.
 */
#include "signet.h"
#include "sg_client_priv.h"
#include "sg_log.h"
#include "sg_secret.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <zmq.h>

#define SG_CLIENT_RECONNECT_IVL_MS 100
#define SG_CLIENT_RECONNECT_MAX_MS 2000
#define SG_CLIENT_HEARTBEAT_MS 2000
#define SG_CLIENT_RELINK_MS 500
#define SG_CLIENT_RELINK_MAX_MS 4000
#define SG_CLIENT_MON_EVENTS                                                                       \
	(ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_DELAYED | ZMQ_EVENT_CONNECT_RETRIED |             \
	 ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |                                  \
	 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |              \
	 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
#define SG_CURVE_Z85_LEN 40

enum sg_slot_state {
	SG_SLOT_FREE = 0,
	SG_SLOT_QUEUED,  /* attempt open, not yet taken by the socket */
	SG_SLOT_SENT,    /* attempt open, sent, waiting for the reply */
	SG_SLOT_BACKOFF, /* between two attempts */
	SG_SLOT_DONE,    /* outcome in rep, not collected yet */
};

struct sg_slot {
	enum sg_slot_state state;
	uint64_t id;
	enum sg_op op;
	unsigned attempts;   /* attempts opened so far */
	unsigned sends;      /* times the socket took the message */
	unsigned lost;       /* connections lost while the message was out */
	int saw_connect;     /* a TCP connection existed while the request lived */
	int64_t hard;        /* end of the request, all attempts included */
	int64_t deadline;    /* QUEUED/SENT: end of the attempt; BACKOFF: next attempt */
	uint64_t done_seq;   /* DONE: completion order */
	msgpack_sbuffer msg; /* the encoded request, kept for resends */
	struct sg_rep rep;   /* DONE: the outcome */
};

struct signet_client {
	void *ctx;
	void *sock;
	void *mon;
	char *endpoint;
	struct signet_opts o;
	struct sg_slot *slots;
	size_t n_slots;
	size_t n_pending;
	uint64_t next_id;
	uint64_t done_seq;
	int connected;     /* a TCP connection is up */
	int up;            /* ... and its CURVE handshake completed */
	int hs_failed;     /* last handshake failure event, 0 if none */
	int64_t relink_at; /* when to re-create a connection libzmq gave up on; 0: none */
	int64_t relink_ms; /* the pause before the next re-creation */
	struct sg_wire_dec *dec;
	msgpack_zone zone; /* for reading the id of a reply before decoding it */
	int zone_ok;
	char errmsg[SIGNET_ERRMSG_MAX];
};

void
signet_opts_default(struct signet_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->timeout_ms = 0;
	o->retries = SIGNET_DEFAULT_RETRIES;
	o->backoff_ms = SIGNET_DEFAULT_BACKOFF_MS;
	o->backoff_max_ms = SIGNET_DEFAULT_BACKOFF_MAX_MS;
	o->max_msg = SIGNET_DEFAULT_MAX_MSG;
	o->max_inflight = SIGNET_DEFAULT_MAX_INFLIGHT;
}

static int64_t
sg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Time one attempt may take: the request's time shared among its attempts. */
static int64_t
sg_client_attempt_ms(const struct signet_client *c)
{
	unsigned ms = c->o.timeout_ms / (c->o.retries + 1);

	return ms > 0 ? ms : 1;
}

static void sg_setmsg(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sg_setmsg(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

const char *
signet_client_endpoint(const struct signet_client *c)
{
	return c->endpoint;
}

void
sg_client_seterr(struct signet_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
}

const char *
signet_client_errmsg(const struct signet_client *c)
{
	return c->errmsg;
}

int
signet_client_set_timeout(struct signet_client *c, unsigned timeout_ms)
{
	if (timeout_ms == 0 || timeout_ms > 3600000u)
		return SG_ERR_INVALID_ARG;
	c->o.timeout_ms = timeout_ms;
	return 0;
}

size_t
signet_client_pending(const struct signet_client *c)
{
	return c->n_pending;
}

/* Sets the socket options that carry no secret. */
static int
sg_client_sockopts(struct signet_client *c, const struct sg_clientconf *cfg, char *why,
                   size_t why_len)
{
	int zero = 0, one = 1, ivl = SG_CLIENT_RECONNECT_IVL_MS,
	    ivl_max = SG_CLIENT_RECONNECT_MAX_MS, hb = SG_CLIENT_HEARTBEAT_MS,
	    hb_timeout = 3 * SG_CLIENT_HEARTBEAT_MS, hs = (int)sg_client_attempt_ms(c);
	int64_t max = (int64_t)c->o.max_msg;

	if (hs < 2000)
		hs = 2000;

	/*
	 * IMMEDIATE: a request waits in the client until a connection has
	 * completed its handshake, instead of in a pipe that may never get one.
	 * HANDSHAKE_IVL: a server that ignores the handshake (an unknown client
	 * key) is abandoned and retried after one attempt's time.  HEARTBEAT: a
	 * peer that vanished without closing the connection is noticed.
	 */
	if (zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_setsockopt(c->sock, ZMQ_IMMEDIATE, &one, sizeof(one)) != 0 ||
	    zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)) != 0 ||
	    zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max)) != 0 ||
	    zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &max, sizeof(max)) != 0 ||
	    zmq_setsockopt(c->sock, ZMQ_HANDSHAKE_IVL, &hs, sizeof(hs)) != 0 ||
	    zmq_setsockopt(c->sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb)) != 0 ||
	    zmq_setsockopt(c->sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof(hb_timeout)) != 0 ||
	    zmq_setsockopt(c->sock, ZMQ_CURVE_SERVERKEY, cfg->server_pub, 32) != 0) {
		sg_setmsg(why, why_len, "cannot set socket options: %s", zmq_strerror(errno));
		return SG_ERR_INTERNAL;
	}
	return 0;
}

/*
 * Reads the client's CURVE secret key from its file, gives it and the public
 * key derived from it to the socket, and wipes every copy we made.
 */
static int
sg_client_curve_keys(struct signet_client *c, const char *path, char *why, size_t why_len)
{
	struct sg_secret *sec = NULL;
	unsigned char sk[32];
	char pub[SG_CURVE_Z85_LEN + 1];
	int r;

	if ((r = sg_secret_read_file(path, SG_CURVE_Z85_LEN, &sec)) != 0) {
		sg_setmsg(why, why_len, "secret_key_file %s: %s", path, sg_strerror(r));
		goto out;
	}
	/* Never quote the key itself, not even a wrong one. */
	if (sg_secret_len(sec) != SG_CURVE_Z85_LEN ||
	    zmq_z85_decode(sk, sg_secret_str(sec)) == NULL ||
	    zmq_curve_public(pub, sg_secret_str(sec)) != 0) {
		sg_setmsg(why, why_len,
		          "secret_key_file %s: not a %d-character Z85 CURVE secret key", path,
		          SG_CURVE_Z85_LEN);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (zmq_setsockopt(c->sock, ZMQ_CURVE_PUBLICKEY, pub, SG_CURVE_Z85_LEN) != 0 ||
	    zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, sk, sizeof(sk)) != 0) {
		sg_setmsg(why, why_len, "cannot set the CURVE keys: %s", zmq_strerror(errno));
		r = SG_ERR_INTERNAL;
		goto out;
	}
	r = 0;
out:
	sg_wipe(sk, sizeof(sk));
	sg_secret_free(sec);
	return r;
}

static int
sg_opts_check(const struct signet_opts *o)
{
	if (o->timeout_ms > 3600000u || o->retries > 100 || o->backoff_ms > 600000u ||
	    o->backoff_max_ms > 600000u || o->max_msg < 256 || o->max_msg > 64u * 1024 * 1024 ||
	    o->max_inflight == 0 || o->max_inflight > SIGNET_MAX_INFLIGHT)
		return SG_ERR_INVALID_ARG;
	return 0;
}

struct signet_client *
signet_client_new(const struct sg_clientconf *cfg, const struct signet_opts *opts, char *why,
                  size_t why_len)
{
	struct signet_client *c = NULL, *ret = NULL;
	char mon_ep[64];
	int zero = 0;
	size_t i;

	sg_setmsg(why, why_len, "%s", "");
	if (cfg == NULL || cfg->endpoint == NULL || cfg->secret_key_file == NULL) {
		sg_setmsg(why, why_len, "incomplete client configuration");
		goto out;
	}
	if (!zmq_has("curve")) {
		sg_setmsg(why, why_len, "libzmq was built without CURVE support");
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto nomem;
	if (opts != NULL)
		c->o = *opts;
	else
		signet_opts_default(&c->o);
	if (sg_opts_check(&c->o) != 0) {
		sg_setmsg(why, why_len, "invalid client options");
		goto out;
	}
	if (c->o.timeout_ms == 0)
		c->o.timeout_ms =
		    cfg->timeout_ms != 0 ? cfg->timeout_ms : SIGNET_DEFAULT_TIMEOUT_MS;
	if (c->o.backoff_max_ms < c->o.backoff_ms)
		c->o.backoff_max_ms = c->o.backoff_ms;
	c->n_slots = c->o.max_inflight;
	c->relink_ms = SG_CLIENT_RELINK_MS;
	if ((c->endpoint = strdup(cfg->endpoint)) == NULL ||
	    (c->slots = calloc(c->n_slots, sizeof(*c->slots))) == NULL ||
	    (c->dec = sg_wire_dec_new()) == NULL)
		goto nomem;
	for (i = 0; i < c->n_slots; i++)
		msgpack_sbuffer_init(&c->slots[i].msg);
	if (!msgpack_zone_init(&c->zone, 4096))
		goto nomem;
	c->zone_ok = 1;
	if ((c->ctx = zmq_ctx_new()) == NULL ||
	    (c->sock = zmq_socket(c->ctx, ZMQ_DEALER)) == NULL ||
	    (c->mon = zmq_socket(c->ctx, ZMQ_PAIR)) == NULL) {
		sg_setmsg(why, why_len, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
		goto out;
	}
	if (sg_client_sockopts(c, cfg, why, why_len) != 0 ||
	    sg_client_curve_keys(c, cfg->secret_key_file, why, why_len) != 0)
		goto out;
	/* The monitor must be listening before the first connection attempt. */
	snprintf(mon_ep, sizeof(mon_ep), "inproc://signet-monitor-%p", (void *)c);
	if (zmq_socket_monitor(c->sock, mon_ep, SG_CLIENT_MON_EVENTS) != 0 ||
	    zmq_setsockopt(c->mon, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_connect(c->mon, mon_ep) != 0) {
		sg_setmsg(why, why_len, "cannot monitor the socket: %s", zmq_strerror(errno));
		goto out;
	}
	if (zmq_connect(c->sock, c->endpoint) != 0) {
		sg_setmsg(why, why_len, "bad endpoint '%s': %s", c->endpoint, zmq_strerror(errno));
		goto out;
	}
	ret = c;
	c = NULL;
	goto out;
nomem:
	sg_setmsg(why, why_len, "%s", sg_strerror(SG_ERR_NOMEM));
out:
	signet_client_free(c);
	return ret;
}

struct signet_client *
signet_client_open(const char *path, const struct signet_opts *opts, int *err, char *why,
                   size_t why_len)
{
	struct sg_clientconf cfg;
	struct signet_client *c = NULL;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	if ((r = sg_clientconf_load(path, &cfg, why, why_len)) != 0)
		goto out;
	if ((c = signet_client_new(&cfg, opts, why, why_len)) == NULL) {
		r = SG_ERR_CONFIG;
		goto out;
	}
	r = 0;
out:
	sg_clientconf_clear(&cfg);
	if (err != NULL)
		*err = r;
	return c;
}

void
signet_client_free(struct signet_client *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->sock != NULL) {
		if (c->mon != NULL)
			(void)zmq_socket_monitor(c->sock, NULL, 0);
		zmq_close(c->sock);
	}
	if (c->mon != NULL)
		zmq_close(c->mon);
	if (c->ctx != NULL)
		zmq_ctx_term(c->ctx);
	if (c->slots != NULL) {
		for (i = 0; i < c->n_slots; i++) {
			sg_rep_clear(&c->slots[i].rep);
			msgpack_sbuffer_destroy(&c->slots[i].msg);
		}
		free(c->slots);
	}
	if (c->zone_ok)
		msgpack_zone_destroy(&c->zone);
	sg_wire_dec_free(c->dec);
	free(c->endpoint);
	/* Nothing secret is left here, but requests and messages name keys and files. */
	sg_wipe(c, sizeof(*c));
	free(c);
}

/* ---- slots ---- */

static struct sg_slot *
sg_slot_by_id(struct signet_client *c, uint64_t id)
{
	size_t i;

	for (i = 0; i < c->n_slots; i++) {
		if (c->slots[i].state != SG_SLOT_FREE && c->slots[i].id == id)
			return &c->slots[i];
	}
	return NULL;
}

static int
sg_slot_active(const struct sg_slot *s)
{
	return s->state == SG_SLOT_QUEUED || s->state == SG_SLOT_SENT ||
	       s->state == SG_SLOT_BACKOFF;
}

/* Opens an attempt: the message will be (re)sent as soon as the socket takes it. */
static void
sg_slot_attempt(struct signet_client *c, struct sg_slot *s, int64_t now)
{
	s->attempts++;
	s->state = SG_SLOT_QUEUED;
	s->deadline = now + sg_client_attempt_ms(c);
	if (s->deadline > s->hard)
		s->deadline = s->hard;
	if (c->connected)
		s->saw_connect = 1;
}

/* Pause before attempt s->attempts + 1: exponential, capped, with up to 25% jitter. */
static int64_t
sg_slot_backoff(struct signet_client *c, const struct sg_slot *s)
{
	unsigned shift = s->attempts > 0 ? s->attempts - 1 : 0;
	uint64_t b = c->o.backoff_ms;
	uint32_t rnd = 0;

	b = shift >= 20 ? c->o.backoff_max_ms : b << shift;
	if (b > c->o.backoff_max_ms)
		b = c->o.backoff_max_ms;
	/* Jitter spreads the retries of many CI jobs after an appliance restart. */
	if (b > 0 && RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) == 1)
		b += rnd % (b / 4 + 1);
	return (int64_t)b;
}

static void
sg_slot_done(struct signet_client *c, struct sg_slot *s)
{
	s->state = SG_SLOT_DONE;
	s->done_seq = ++c->done_seq;
}

/* Ends a request with a local failure. */
static void sg_slot_fail(struct signet_client *c, struct sg_slot *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
sg_slot_fail(struct signet_client *c, struct sg_slot *s, int err, const char *fmt, ...)
{
	va_list ap;

	sg_rep_clear(&s->rep);
	s->rep.id = s->id;
	s->rep.op = s->op;
	s->rep.ok = 0;
	s->rep.err = err;
	snprintf(s->rep.err_name, sizeof(s->rep.err_name), "%s", sg_err_name(err));
	va_start(ap, fmt);
	vsnprintf(s->rep.err_msg, sizeof(s->rep.err_msg), fmt, ap);
	va_end(ap);
	sg_slot_done(c, s);
}

/*
 * An attempt of s ended without a final answer: wait and try again if
 * attempts and time remain, else end the request.  Returns 1 if it will be
 * tried again.
 */
static int
sg_slot_retry(struct signet_client *c, struct sg_slot *s, int64_t now)
{
	int64_t b = sg_slot_backoff(c, s);

	if (s->attempts > c->o.retries || now + b >= s->hard)
		return 0;
	s->state = SG_SLOT_BACKOFF;
	s->deadline = now + b;
	return 1;
}

/* The last attempt of s ended without an answer: say why as precisely as we can. */
static void
sg_slot_expire(struct signet_client *c, struct sg_slot *s)
{
	if (!s->saw_connect && !c->connected)
		sg_slot_fail(c, s, SG_ERR_UNAVAILABLE,
		             "no connection to %s could be made within %u ms (%u attempt(s))",
		             c->endpoint, c->o.timeout_ms, s->attempts);
	else if (s->sends == 0)
		sg_slot_fail(c, s, SG_ERR_TIMEOUT,
		             "connected to %s, but the CURVE handshake did not complete%s "
		             "(wrong server_public_key, or this client's key is not authorised)",
		             c->endpoint, c->hs_failed != 0 ? " and failed" : "");
	else if (s->lost > 0)
		sg_slot_fail(c, s, SG_ERR_TIMEOUT,
		             "no reply from %s: the connection was lost %u time(s) "
		             "(appliance restarting, or a reply larger than %zu bytes)",
		             c->endpoint, s->lost, c->o.max_msg);
	else
		sg_slot_fail(c, s, SG_ERR_TIMEOUT, "no reply from %s within %u ms (%u attempt(s))",
		             c->endpoint, c->o.timeout_ms, s->attempts);
}

/* Moves on the slots whose deadline passed. */
static void
sg_client_expire(struct signet_client *c, int64_t now)
{
	struct sg_slot *s;
	size_t i;

	for (i = 0; i < c->n_slots; i++) {
		s = &c->slots[i];
		switch (s->state) {
		case SG_SLOT_QUEUED:
		case SG_SLOT_SENT:
			if (now < s->deadline)
				break;
			if (!sg_slot_retry(c, s, now))
				sg_slot_expire(c, s);
			break;
		case SG_SLOT_BACKOFF:
			if (now >= s->deadline)
				sg_slot_attempt(c, s, now);
			break;
		case SG_SLOT_FREE:
		case SG_SLOT_DONE:
		default:
			break;
		}
	}
}

/*
 * Hands queued messages to the socket, oldest request first, until it
 * refuses (no connection with a completed handshake: EAGAIN).  Only while
 * the monitor says a handshake completed and no loss followed: right after a
 * connection is lost the socket may still take a message into the pipe of
 * the dead connection, where it would vanish.
 */
static void
sg_client_flush(struct signet_client *c)
{
	struct sg_slot *s, *best;
	size_t i;

	while (c->up) {
		best = NULL;
		for (i = 0; i < c->n_slots; i++) {
			s = &c->slots[i];
			if (s->state == SG_SLOT_QUEUED && (best == NULL || s->id < best->id))
				best = s;
		}
		if (best == NULL)
			return;
		if (zmq_send(c->sock, best->msg.data, best->msg.size, ZMQ_DONTWAIT) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			sg_slot_fail(c, best, SG_ERR_INTERNAL, "cannot send: %s",
			             zmq_strerror(errno));
			continue;
		}
		best->state = SG_SLOT_SENT;
		best->sends++;
	}
}

/* Handles the events of the socket monitor. */
static void
sg_client_events(struct signet_client *c, int64_t now)
{
	unsigned char hdr[6];
	uint16_t ev;
	struct sg_slot *s;
	zmq_msg_t m;
	size_t i;
	int more, n;

	for (;;) {
		zmq_msg_init(&m);
		if ((n = zmq_msg_recv(&m, c->mon, ZMQ_DONTWAIT)) < 0) {
			zmq_msg_close(&m);
			return;
		}
		ev = 0;
		if (n == (int)sizeof(hdr)) {
			memcpy(hdr, zmq_msg_data(&m), sizeof(hdr));
			memcpy(&ev, hdr, sizeof(ev));
		}
		more = zmq_msg_more(&m);
		zmq_msg_close(&m);
		/* The second frame names the endpoint; we only have one. */
		while (more) {
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, c->mon, 0) < 0)
				more = 0;
			else
				more = zmq_msg_more(&m);
			zmq_msg_close(&m);
		}
		switch (ev) {
		case ZMQ_EVENT_CONNECT_DELAYED:
		case ZMQ_EVENT_CONNECT_RETRIED:
			/* libzmq is reconnecting by itself. */
			c->relink_at = 0;
			break;
		case ZMQ_EVENT_CONNECTED:
			c->relink_at = 0;
			c->connected = 1;
			for (i = 0; i < c->n_slots; i++) {
				if (sg_slot_active(&c->slots[i]))
					c->slots[i].saw_connect = 1;
			}
			break;
		case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
			c->up = 1;
			c->hs_failed = 0;
			c->relink_ms = SG_CLIENT_RELINK_MS;
			break;
		case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
		case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
		case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
			c->hs_failed = ev;
			break;
		case ZMQ_EVENT_DISCONNECTED:
			c->connected = 0;
			c->up = 0;
			c->relink_at = now + c->relink_ms;
			/*
			 * A reply to a request sent on that connection cannot
			 * arrive any more (the server routes replies by
			 * connection): resend on the next connection.
			 */
			for (i = 0; i < c->n_slots; i++) {
				s = &c->slots[i];
				if (s->state != SG_SLOT_SENT)
					continue;
				s->lost++;
				if (s->attempts <= c->o.retries && now < s->hard)
					sg_slot_attempt(c, s, now);
				else
					sg_slot_expire(c, s);
			}
			break;
		default:
			break;
		}
	}
}

/* Re-creates the connection when libzmq gave up on it (see the top of this file). */
static void
sg_client_relink(struct signet_client *c, int64_t now)
{
	if (c->relink_at == 0 || now < c->relink_at || c->connected)
		return;
	sg_debug("re-creating the connection to %s", c->endpoint);
	(void)zmq_disconnect(c->sock, c->endpoint);
	if (zmq_connect(c->sock, c->endpoint) != 0)
		sg_debug("cannot reconnect to %s: %s", c->endpoint, zmq_strerror(errno));
	c->relink_at = 0;
	c->relink_ms *= 2;
	if (c->relink_ms > SG_CLIENT_RELINK_MAX_MS)
		c->relink_ms = SG_CLIENT_RELINK_MAX_MS;
}

/* Matches one reply to its request and decodes it. */
static void
sg_client_reply(struct signet_client *c, const void *buf, size_t len, int64_t now)
{
	char why[SG_WHY_MAX];
	struct sg_slot *s;
	uint64_t id = 0;
	int r;

	if (sg_wire_peek_id(&c->zone, buf, len, &id) != 0) {
		sg_debug("dropped a reply of %zu bytes without a readable id", len);
		return;
	}
	/*
	 * A reply to an earlier attempt is as good as one to the last (the
	 * request and its idempotency key are the same).  Replies to requests
	 * that completed or were cancelled are dropped.
	 */
	if ((s = sg_slot_by_id(c, id)) == NULL || !sg_slot_active(s)) {
		sg_debug("dropped a reply to request %" PRIu64 ", which is not pending", id);
		return;
	}
	sg_rep_clear(&s->rep);
	if ((r = sg_wire_decode_rep(c->dec, buf, len, s->op, &s->rep, why)) != 0) {
		sg_slot_fail(c, s, r, "reply to request %" PRIu64 " does not decode: %s%s%s", id,
		             sg_strerror(r), why[0] != '\0' ? ": " : "", why);
		return;
	}
	/* Transient refusals: the request was not acted on; try again later. */
	if (!s->rep.ok && (s->rep.err == SG_ERR_BUSY || s->rep.err == SG_ERR_SHUTTING_DOWN) &&
	    sg_slot_retry(c, s, now)) {
		sg_rep_clear(&s->rep);
		return;
	}
	if (!s->rep.ok && s->rep.err_name[0] == '\0')
		snprintf(s->rep.err_name, sizeof(s->rep.err_name), "%s", sg_err_name(s->rep.err));
	sg_slot_done(c, s);
}

/* Reads every message the socket has. */
static void
sg_client_read(struct signet_client *c, int64_t now)
{
	zmq_msg_t m;
	int n, more;

	for (;;) {
		zmq_msg_init(&m);
		if ((n = zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT)) < 0) {
			zmq_msg_close(&m);
			return;
		}
		more = zmq_msg_more(&m);
		if (!more && (size_t)n <= c->o.max_msg)
			sg_client_reply(c, zmq_msg_data(&m), zmq_msg_size(&m), now);
		else
			sg_debug("dropped a reply of %d bytes%s", n,
			         more ? " in several frames" : "");
		zmq_msg_close(&m);
		/* Protocol v1 replies are one frame: drop the rest of a longer one. */
		while (more) {
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, c->sock, 0) < 0)
				more = 0;
			else
				more = zmq_msg_more(&m);
			zmq_msg_close(&m);
		}
	}
}

/* The completed slot to hand out: the one of id want, or the oldest if want is 0. */
static struct sg_slot *
sg_client_ready(struct signet_client *c, uint64_t want)
{
	struct sg_slot *s, *best = NULL;
	size_t i;

	for (i = 0; i < c->n_slots; i++) {
		s = &c->slots[i];
		if (s->state != SG_SLOT_DONE || (want != 0 && s->id != want))
			continue;
		if (best == NULL || s->done_seq < best->done_seq)
			best = s;
	}
	return best;
}

/*
 * Runs the engine until a request completes (request want, or any if want
 * is 0) or until the clock reaches until (< 0: no limit).  Returns 0 with the
 * slot in *out, SG_ERR_TIMEOUT, SG_ERR_NOT_FOUND (nothing left that could
 * complete) or SG_ERR_INTERNAL.
 */
static int
sg_client_pump(struct signet_client *c, int64_t until, uint64_t want, struct sg_slot **out)
{
	zmq_pollitem_t items[2];
	struct sg_slot *s;
	int64_t now, wake;
	size_t i;
	int queued, active, rc;

	*out = NULL;
	for (;;) {
		now = sg_now_ms();
		sg_client_relink(c, now);
		sg_client_expire(c, now);
		sg_client_flush(c);
		if ((s = sg_client_ready(c, want)) != NULL) {
			*out = s;
			return 0;
		}
		if (until >= 0 && now >= until)
			return SG_ERR_TIMEOUT;
		wake = until;
		queued = active = 0;
		for (i = 0; i < c->n_slots; i++) {
			s = &c->slots[i];
			if (!sg_slot_active(s))
				continue;
			if (want == 0 || s->id == want)
				active = 1;
			queued |= s->state == SG_SLOT_QUEUED;
			if (wake < 0 || s->deadline < wake)
				wake = s->deadline;
		}
		if (!active)
			return SG_ERR_NOT_FOUND;
		if (c->relink_at != 0 && c->relink_at < wake)
			wake = c->relink_at;
		items[0].socket = c->sock;
		items[0].fd = 0;
		items[0].events = ZMQ_POLLIN | (queued && c->up ? ZMQ_POLLOUT : 0);
		items[0].revents = 0;
		items[1].socket = c->mon;
		items[1].fd = 0;
		items[1].events = ZMQ_POLLIN;
		items[1].revents = 0;
		rc = zmq_poll(items, 2, (long)(wake > now ? wake - now : 0));
		if (rc < 0 && errno != EINTR)
			return SG_ERR_INTERNAL;
		now = sg_now_ms();
		/* Events first: a lost connection requeues before replies are matched. */
		if (rc > 0 && (items[1].revents & ZMQ_POLLIN))
			sg_client_events(c, now);
		if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
			sg_client_read(c, now);
	}
}

/* Hands the outcome of a completed slot to the caller and frees the slot. */
static void
sg_client_take(struct signet_client *c, struct sg_slot *s, struct sg_rep *rep)
{
	*rep = s->rep;
	memset(&s->rep, 0, sizeof(s->rep));
	msgpack_sbuffer_clear(&s->msg);
	s->state = SG_SLOT_FREE;
	s->id = 0;
	c->n_pending--;
}

/*
 * Every request that makes a signature or changes state carries an
 * idempotency key, so that a resend returns the stored answer instead of
 * signing again (or, for a revocation, failing with already_revoked).  The
 * other ops only read (an OCSP answer is signed afresh, but changes nothing).
 */
static int
sg_client_idem(struct signet_client *c, struct sg_req *req)
{
	unsigned char *idem;
	size_t *len;

	switch (req->op) {
	case SG_OP_SIGN_DIGEST:
	case SG_OP_SIGN_CMS:
		idem = req->u.sign.idem;
		len = &req->u.sign.idem_len;
		break;
	case SG_OP_TIMESTAMP:
		idem = req->u.ts.idem;
		len = &req->u.ts.idem_len;
		break;
	case SG_OP_CERT_ISSUE:
		idem = req->u.issue.idem;
		len = &req->u.issue.idem_len;
		break;
	case SG_OP_CERT_REVOKE:
		idem = req->u.serial.idem;
		len = &req->u.serial.idem_len;
		break;
	case SG_OP_PING:
	case SG_OP_KEYS_LIST:
	case SG_OP_CERT_STATUS:
	case SG_OP_CRL_GET:
	case SG_OP_CA_LIST:
	case SG_OP_OCSP:
	case SG_OP_NONE:
	default:
		return 0;
	}
	if (*len > 0)
		return 0;
	if (RAND_bytes(idem, SIGNET_IDEM_LEN) != 1) {
		snprintf(c->errmsg, sizeof(c->errmsg), "no random idempotency key");
		return SG_ERR_INTERNAL;
	}
	*len = SIGNET_IDEM_LEN;
	return 0;
}

int
signet_client_send(struct signet_client *c, struct sg_req *req, uint64_t *id)
{
	struct sg_slot *s = NULL;
	size_t i;
	int r;

	c->errmsg[0] = '\0';
	if (c->n_pending >= c->n_slots) {
		snprintf(c->errmsg, sizeof(c->errmsg), "%u requests already pending",
		         c->o.max_inflight);
		return SG_ERR_LIMIT;
	}
	for (i = 0; i < c->n_slots && s == NULL; i++) {
		if (c->slots[i].state == SG_SLOT_FREE)
			s = &c->slots[i];
	}
	if (s == NULL)
		return SG_ERR_INTERNAL;
	if ((r = sg_client_idem(c, req)) != 0)
		return r;
	req->id = ++c->next_id;
	if ((r = sg_wire_encode_req(&s->msg, req)) != 0) {
		msgpack_sbuffer_clear(&s->msg);
		snprintf(c->errmsg, sizeof(c->errmsg), "request cannot be encoded: %s",
		         sg_strerror(r));
		return r;
	}
	s->id = req->id;
	s->op = req->op;
	s->attempts = 0;
	s->sends = 0;
	s->lost = 0;
	s->saw_connect = 0;
	s->done_seq = 0;
	c->n_pending++;
	s->hard = sg_now_ms() + c->o.timeout_ms;
	sg_slot_attempt(c, s, s->hard - c->o.timeout_ms);
	sg_client_flush(c);
	if (id != NULL)
		*id = req->id;
	return 0;
}

int
signet_client_recv(struct signet_client *c, int wait_ms, struct sg_rep *rep)
{
	struct sg_slot *s = NULL;
	int r;

	memset(rep, 0, sizeof(*rep));
	if (c->n_pending == 0)
		return SG_ERR_NOT_FOUND;
	if ((r = sg_client_pump(c, wait_ms < 0 ? -1 : sg_now_ms() + wait_ms, 0, &s)) != 0)
		return r;
	sg_client_take(c, s, rep);
	return 0;
}

int
signet_client_wait(struct signet_client *c, uint64_t id, struct sg_rep *rep)
{
	struct sg_slot *s;
	int r;

	memset(rep, 0, sizeof(*rep));
	if (id == 0 || sg_slot_by_id(c, id) == NULL)
		return SG_ERR_NOT_FOUND;
	if ((r = sg_client_pump(c, -1, id, &s)) != 0)
		return r;
	sg_client_take(c, s, rep);
	return 0;
}

int
signet_client_cancel(struct signet_client *c, uint64_t id)
{
	struct sg_slot *s;
	struct sg_rep rep;

	if (id == 0 || (s = sg_slot_by_id(c, id)) == NULL)
		return SG_ERR_NOT_FOUND;
	sg_client_take(c, s, &rep);
	sg_rep_clear(&rep);
	return 0;
}

int
signet_client_call(struct signet_client *c, struct sg_req *req, struct sg_rep *rep)
{
	uint64_t id = 0;
	int r;

	memset(rep, 0, sizeof(*rep));
	if ((r = signet_client_send(c, req, &id)) != 0)
		return r;
	if ((r = signet_client_wait(c, id, rep)) != 0) {
		snprintf(c->errmsg, sizeof(c->errmsg), "request %" PRIu64 " vanished", id);
		return r;
	}
	if (rep->ok)
		return 0;
	snprintf(c->errmsg, sizeof(c->errmsg), "%s", rep->err_msg);
	return rep->err < 0 ? rep->err : SG_ERR_INTERNAL;
}

/* One entry of a pipeline: which item a pending request carries. */
struct sg_pipe_ent {
	uint64_t id;
	size_t i;
};

int
signet_client_pipeline(struct signet_client *c, size_t n, unsigned depth, signet_fill_fn fill,
                       signet_done_fn done, void *arg)
{
	struct sg_pipe_ent *ents = NULL;
	struct sg_req *req = NULL;
	struct sg_rep rep;
	size_t next = 0, active = 0, j;
	uint64_t id;
	int r;

	memset(&rep, 0, sizeof(rep));
	if (c->n_pending != 0 || fill == NULL || done == NULL)
		return SG_ERR_INVALID_ARG;
	if (depth == 0)
		depth = 1;
	if (depth > c->n_slots)
		depth = (unsigned)c->n_slots;
	if ((ents = calloc(depth, sizeof(*ents))) == NULL ||
	    (req = calloc(1, sizeof(*req))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	while (next < n || active > 0) {
		while (next < n && active < depth) {
			memset(req, 0, sizeof(*req));
			if ((r = fill(arg, next, req)) < 0)
				goto out;
			if (r == 0) {
				if ((r = signet_client_send(c, req, &id)) != 0)
					goto out;
				for (j = 0; j < depth && ents[j].id != 0; j++)
					;
				ents[j].id = id;
				ents[j].i = next;
				active++;
			}
			next++;
		}
		if (active == 0)
			break;
		if ((r = signet_client_recv(c, -1, &rep)) != 0)
			goto out;
		for (j = 0; j < depth && ents[j].id != rep.id; j++)
			;
		if (j == depth) {
			r = SG_ERR_INTERNAL;
			goto out;
		}
		ents[j].id = 0;
		active--;
		r = done(arg, ents[j].i, &rep);
		sg_rep_clear(&rep);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	sg_rep_clear(&rep);
	if (ents != NULL) {
		for (j = 0; j < depth; j++) {
			if (ents[j].id != 0)
				(void)signet_client_cancel(c, ents[j].id);
		}
	}
	free(ents);
	if (req != NULL) {
		sg_wipe(req, sizeof(*req));
		free(req);
	}
	return r;
}
