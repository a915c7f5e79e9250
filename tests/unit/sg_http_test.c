/*
 * Unit tests of sg_http: a real listener on 127.0.0.1, real HTTP over TCP
 * (plain sockets), and a fake front: a ROUTER bound on an inproc endpoint of
 * the same ZeroMQ context, served by a thread that decodes each wire request
 * with sg_wire_decode_req() and answers what the test scripted.  The fake
 * front echoes its input: a time-stamp query or an OCSP request comes back
 * behind a prefix, a CRL is "CRL:" and the CA's name; OCSP responses that
 * sg_http must read (for cache headers) are real DER made with OpenSSL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <zmq.h>

#include "sg_err.h"
#include "sg_http.h"
#include "sg_log.h"
#include "sg_wire.h"

#define MAX_BODY 16384
#define TIMEOUT_MS 1000
#define RES_MAX (MAX_BODY + 8192)

/* ---- the fake front ---- */

enum fake_mode {
	FAKE_ECHO,    /* ok reply: see fake_echo */
	FAKE_ERR,     /* error reply fake.err */
	FAKE_SILENT,  /* never answers */
	FAKE_LATE,    /* holds a request until the next one arrives, then answers both */
	FAKE_WRONG,   /* a ping reply with the right id: does not decode as timestamp */
	FAKE_GARBAGE, /* bytes that are not msgpack */
	FAKE_DELAY,   /* echo after delay_ms */
};

struct fake {
	void *router;
	pthread_t th;
	atomic_int stop;
	pthread_mutex_t mu;
	enum fake_mode mode;
	int err;
	unsigned status;
	unsigned delay_ms;
	unsigned received; /* wire requests decoded */
	enum sg_op last_op;
	unsigned char last_in[SG_OCSP_REQ_MAX]; /* tsq, CA name or OCSP request */
	size_t last_len;
	/* crl.get replies: the CA named ("" = the one asked for) and the times */
	char crl_ca[SG_NAME_MAX + 1];
	uint64_t this_update, next_update;
	/* ocsp replies: these bytes (NULL = "OCSP:" + the request) */
	unsigned char *ocsp_resp;
	size_t ocsp_resp_len;
	/* FAKE_LATE: the held request */
	unsigned char held_rid[256];
	size_t held_rid_len;
	struct sg_req held;
	int have_held;
	struct sg_req req;
	struct sg_wire_dec *dec;
	msgpack_sbuffer sb;
};

struct msg {
	unsigned char rid[256];
	size_t rid_len;
	unsigned char *body;
	size_t len;
};

static void *zctx;
static struct fake fk;
static struct sg_http *http;
static unsigned ep_seq;
static char ep[64];

static void
fake_send(struct fake *f, const unsigned char *rid, size_t rid_len)
{
	zmq_send(f->router, rid, rid_len, ZMQ_SNDMORE);
	zmq_send(f->router, f->sb.data, f->sb.size, 0);
}

/*
 * The ok reply to req: timestamp "TSR:" + tsq with PKIStatus status;
 * crl.get "CRL:" + the CA with f->this_update and f->next_update; ocsp
 * f->ocsp_resp, or "OCSP:" + the request.
 */
static void
fake_echo(struct fake *f, const unsigned char *rid, size_t rid_len, const struct sg_req *req,
          unsigned status)
{
	struct sg_blob_rep b;
	struct sg_crl_rep c;
	unsigned char *buf = NULL, *ocsp_resp;
	char crl_ca[SG_NAME_MAX + 1];
	uint64_t this_update, next_update;
	size_t ocsp_resp_len;
	int r = -1;

	pthread_mutex_lock(&f->mu);
	memcpy(crl_ca, f->crl_ca, sizeof(crl_ca));
	this_update = f->this_update;
	next_update = f->next_update;
	ocsp_resp = f->ocsp_resp;
	ocsp_resp_len = f->ocsp_resp_len;
	pthread_mutex_unlock(&f->mu);
	switch (req->op) {
	case SG_OP_TIMESTAMP:
		memset(&b, 0, sizeof(b));
		buf = malloc(req->u.ts.tsq_len + 4);
		snprintf(b.key, sizeof(b.key), "tsa");
		b.alg = SG_KEYALG_EC_P256;
		b.hash = SG_HASH_SHA256;
		b.status = status;
		memcpy(buf, "TSR:", 4);
		memcpy(buf + 4, req->u.ts.tsq, req->u.ts.tsq_len);
		b.data = buf;
		b.len = req->u.ts.tsq_len + 4;
		b.record = 7;
		r = sg_wire_encode_blob_rep(&f->sb, req->id, SG_OP_TIMESTAMP, &b);
		break;
	case SG_OP_CRL_GET:
		memset(&c, 0, sizeof(c));
		memcpy(c.ca, crl_ca[0] != '\0' ? crl_ca : req->u.crl.ca, sizeof(c.ca));
		c.number = 42;
		c.this_update = this_update;
		c.next_update = next_update;
		buf = malloc(4 + SG_NAME_MAX);
		memcpy(buf, "CRL:", 4);
		memcpy(buf + 4, req->u.crl.ca, strlen(req->u.crl.ca));
		c.data = buf;
		c.len = 4 + strlen(req->u.crl.ca);
		r = sg_wire_encode_crl_rep(&f->sb, req->id, &c);
		break;
	case SG_OP_OCSP:
		if (ocsp_resp != NULL) {
			r = sg_wire_encode_ocsp_rep(&f->sb, req->id, ocsp_resp, ocsp_resp_len);
			break;
		}
		buf = malloc(req->u.ocsp.len + 5);
		memcpy(buf, "OCSP:", 5);
		memcpy(buf + 5, req->u.ocsp.der, req->u.ocsp.len);
		r = sg_wire_encode_ocsp_rep(&f->sb, req->id, buf, req->u.ocsp.len + 5);
		break;
	default:
		break;
	}
	/* A reply the fake cannot encode is a bug of the test: the request times out. */
	if (r == 0)
		fake_send(f, rid, rid_len);
	else
		fprintf(stderr, "fake front: cannot encode the reply to op %d: %d\n", req->op, r);
	free(buf);
}

static void
fake_handle(struct fake *f, const struct msg *m)
{
	struct sg_ping_rep ping = {.time = 1};
	char why[SG_WHY_MAX];
	int have_id = 0, r;
	enum fake_mode mode;
	unsigned status, delay;
	int err;

	r = sg_wire_decode_req(f->dec, m->body, m->len, SG_WIRE_DEFAULT_MAX_MSG, &f->req, &have_id,
	                       why);
	pthread_mutex_lock(&f->mu);
	mode = f->mode;
	status = f->status;
	err = f->err;
	delay = f->delay_ms;
	if (r == 0) {
		f->received++;
		f->last_op = f->req.op;
		switch (f->req.op) {
		case SG_OP_TIMESTAMP:
			f->last_len = f->req.u.ts.tsq_len;
			memcpy(f->last_in, f->req.u.ts.tsq, f->last_len);
			break;
		case SG_OP_CRL_GET:
			f->last_len = strlen(f->req.u.crl.ca);
			memcpy(f->last_in, f->req.u.crl.ca, f->last_len);
			break;
		case SG_OP_OCSP:
			f->last_len = f->req.u.ocsp.len;
			memcpy(f->last_in, f->req.u.ocsp.der, f->last_len);
			break;
		default:
			f->last_len = 0;
			break;
		}
	}
	pthread_mutex_unlock(&f->mu);
	if (r != 0) {
		if (sg_wire_encode_err(&f->sb, have_id ? f->req.id : 0, r, why) == 0)
			fake_send(f, m->rid, m->rid_len);
		return;
	}
	switch (mode) {
	case FAKE_ECHO:
		fake_echo(f, m->rid, m->rid_len, &f->req, status);
		break;
	case FAKE_DELAY:
		usleep(delay * 1000);
		fake_echo(f, m->rid, m->rid_len, &f->req, status);
		break;
	case FAKE_ERR:
		if (sg_wire_encode_err(&f->sb, f->req.id, err, "scripted by the test") == 0)
			fake_send(f, m->rid, m->rid_len);
		break;
	case FAKE_LATE:
		if (!f->have_held) {
			memcpy(f->held_rid, m->rid, m->rid_len);
			f->held_rid_len = m->rid_len;
			memcpy(&f->held, &f->req, sizeof(f->req));
			f->have_held = 1;
			break;
		}
		fake_echo(f, f->held_rid, f->held_rid_len, &f->held, 0);
		f->have_held = 0;
		fake_echo(f, m->rid, m->rid_len, &f->req, 0);
		break;
	case FAKE_WRONG:
		snprintf(ping.server, sizeof(ping.server), "fake");
		if (sg_wire_encode_ping_rep(&f->sb, f->req.id, &ping) == 0)
			fake_send(f, m->rid, m->rid_len);
		break;
	case FAKE_GARBAGE:
		zmq_send(f->router, m->rid, m->rid_len, ZMQ_SNDMORE);
		zmq_send(f->router, "\xc1\xc1garbage", 9, 0);
		break;
	case FAKE_SILENT:
	default:
		break;
	}
}

/* Reads one [rid][body] message; 0 or -1 when none is waiting. */
static int
fake_recv(struct fake *f, struct msg *m)
{
	zmq_msg_t part;
	int n;

	n = zmq_recv(f->router, m->rid, sizeof(m->rid), ZMQ_DONTWAIT);
	if (n < 0)
		return -1;
	m->rid_len = (size_t)n;
	zmq_msg_init(&part);
	if (zmq_msg_recv(&part, f->router, 0) < 0) {
		zmq_msg_close(&part);
		return -1;
	}
	m->len = zmq_msg_size(&part);
	m->body = malloc(m->len + 1);
	memcpy(m->body, zmq_msg_data(&part), m->len);
	zmq_msg_close(&part);
	return 0;
}

/*
 * Answers each batch of waiting requests in reverse order, so that replies
 * come back out of order whenever several requests are in flight.
 */
static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	struct msg batch[64];
	zmq_pollitem_t it;
	int n, i;

	while (!atomic_load(&f->stop)) {
		it.socket = f->router;
		it.fd = 0;
		it.events = ZMQ_POLLIN;
		it.revents = 0;
		if (zmq_poll(&it, 1, 20) <= 0)
			continue;
		for (n = 0; n < 64 && fake_recv(f, &batch[n]) == 0; n++)
			;
		for (i = n - 1; i >= 0; i--) {
			fake_handle(f, &batch[i]);
			free(batch[i].body);
		}
	}
	return NULL;
}

static void
fake_start(const char *endpoint)
{
	int linger = 0;

	memset(&fk, 0, sizeof(fk));
	pthread_mutex_init(&fk.mu, NULL);
	fk.mode = FAKE_ECHO;
	fk.this_update = (uint64_t)time(NULL) - 60;
	fk.next_update = (uint64_t)time(NULL) + 3600;
	assert_non_null(fk.dec = sg_wire_dec_new());
	msgpack_sbuffer_init(&fk.sb);
	assert_non_null(fk.router = zmq_socket(zctx, ZMQ_ROUTER));
	zmq_setsockopt(fk.router, ZMQ_LINGER, &linger, sizeof(linger));
	assert_int_equal(zmq_bind(fk.router, endpoint), 0);
	assert_int_equal(pthread_create(&fk.th, NULL, fake_main, &fk), 0);
}

static void
fake_stop(void)
{
	if (fk.router == NULL)
		return;
	atomic_store(&fk.stop, 1);
	pthread_join(fk.th, NULL);
	zmq_close(fk.router);
	fk.router = NULL;
	sg_wire_dec_free(fk.dec);
	msgpack_sbuffer_destroy(&fk.sb);
	pthread_mutex_destroy(&fk.mu);
	free(fk.ocsp_resp);
	fk.ocsp_resp = NULL;
}

static void
fake_script(enum fake_mode mode, int err, unsigned status)
{
	pthread_mutex_lock(&fk.mu);
	fk.mode = mode;
	fk.err = err;
	fk.status = status;
	pthread_mutex_unlock(&fk.mu);
}

static unsigned
fake_received(void)
{
	unsigned n;

	pthread_mutex_lock(&fk.mu);
	n = fk.received;
	pthread_mutex_unlock(&fk.mu);
	return n;
}

/* ---- an HTTP client on plain sockets ---- */

struct res {
	int status; /* 0: no complete response (connection closed or timed out) */
	char head[8192];
	unsigned char body[RES_MAX];
	size_t body_len;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
tcp_connect(uint16_t port)
{
	struct sockaddr_in a;
	struct timeval tv = {.tv_sec = 10};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t k;

	while (n > 0) {
		if ((k = send(fd, c, n, MSG_NOSIGNAL)) <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Value of header name in res->head (case-insensitive name), or NULL. */
static const char *
header(const struct res *res, const char *name, char *buf, size_t buf_len)
{
	const char *line = strstr(res->head, "\r\n");
	size_t nl = strlen(name), vl;

	while (line != NULL && line[2] != '\0') {
		line += 2;
		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1, *e;

			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			vl = e != NULL ? (size_t)(e - v) : strlen(v);
			if (vl >= buf_len)
				vl = buf_len - 1;
			memcpy(buf, v, vl);
			buf[vl] = '\0';
			return buf;
		}
		line = strstr(line, "\r\n");
	}
	return NULL;
}

/* Reads one response from fd (headers, then Content-Length bytes of body). */
static void
read_response(int fd, struct res *res)
{
	static const size_t cap = sizeof(res->head) + RES_MAX;
	char *buf = malloc(cap), *eoh, num[32];
	size_t have = 0, hl, want = 0;
	ssize_t k;

	res->status = 0;
	res->head[0] = '\0';
	res->body_len = 0;
	for (;;) {
		buf[have] = '\0';
		if ((eoh = strstr(buf, "\r\n\r\n")) != NULL) {
			hl = (size_t)(eoh - buf) + 2;
			if (hl >= sizeof(res->head))
				break;
			memcpy(res->head, buf, hl);
			res->head[hl] = '\0';
			want = header(res, "Content-Length", num, sizeof(num)) != NULL
			           ? strtoul(num, NULL, 10)
			           : 0;
			if (want <= RES_MAX && have >= hl + 2 + want) {
				memcpy(res->body, eoh + 4, want);
				res->body_len = want;
				if (sscanf(buf, "HTTP/1.%*c %d", &res->status) != 1)
					res->status = 0;
				break;
			}
		}
		if (have + 1 >= cap || (k = recv(fd, buf + have, cap - 1 - have, 0)) <= 0)
			break;
		have += (size_t)k;
	}
	free(buf);
}

/* Sends raw bytes on a new connection and reads one response. */
static void
http_raw(const void *raw, size_t len, struct res *res)
{
	int fd = tcp_connect(sg_http_port(http));

	res->status = 0;
	if (fd < 0)
		return;
	if (send_all(fd, raw, len) == 0)
		read_response(fd, res);
	close(fd);
}

static void
http_post(const char *path, const char *ctype, const void *body, size_t len, struct res *res)
{
	char head[512];
	size_t hl;
	char *raw;

	if (ctype != NULL)
		hl = (size_t)snprintf(head, sizeof(head),
		                      "POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\n"
		                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		                      path, ctype, len);
	else
		hl = (size_t)snprintf(head, sizeof(head),
		                      "POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n"
		                      "Connection: close\r\n\r\n",
		                      path, len);
	raw = malloc(hl + len + 1);
	memcpy(raw, head, hl);
	memcpy(raw + hl, body, len);
	http_raw(raw, hl + len, res);
	free(raw);
}

#define TSQ_CT "application/timestamp-query"

static struct res *
res_new(void)
{
	struct res *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	return r;
}

static void
assert_header(const struct res *res, const char *name, const char *want)
{
	char buf[256];

	assert_non_null(header(res, name, buf, sizeof(buf)));
	assert_string_equal(buf, want);
}

static void
assert_error(const struct res *res, int status, const char *body)
{
	assert_int_equal(res->status, status);
	assert_header(res, "Content-Type", "text/plain; charset=utf-8");
	assert_header(res, "Cache-Control", "no-store");
	assert_int_equal(res->body_len, strlen(body));
	assert_memory_equal(res->body, body, res->body_len);
}

/* A success that must not be cached: no-store, no Last-Modified, no Expires. */
static void
assert_not_cached(const struct res *res)
{
	char buf[64];

	assert_header(res, "Cache-Control", "no-store");
	assert_null(header(res, "Last-Modified", buf, sizeof(buf)));
	assert_null(header(res, "Expires", buf, sizeof(buf)));
}

/* ---- fixtures ---- */

static struct sg_http_config
config(void)
{
	struct sg_http_config c = {
	    .listen = "127.0.0.1:0",
	    .front_ep = ep,
	    .max_connections = 64,
	    .timeout_ms = TIMEOUT_MS,
	    .max_body = MAX_BODY,
	};
	return c;
}

static int
setup(void **state)
{
	struct sg_http_config c;
	char why[256] = "";

	snprintf(ep, sizeof(ep), "inproc://test-http-%u", ++ep_seq);
	fake_start(ep);
	c = config();
	http = sg_http_start(zctx, &c, why, sizeof(why));
	if (http == NULL)
		fprintf(stderr, "sg_http_start: %s\n", why);
	assert_non_null(http);
	assert_int_not_equal(sg_http_port(http), 0);
	return 0;
}

static int
teardown(void **state)
{
	sg_http_stop(http);
	http = NULL;
	fake_stop();
	return 0;
}

/* ---- tests ---- */

static void
check_tsa_ok(const char *path, const char *ctype, unsigned status)
{
	static const char tsq[] = "\x30\x03\x02\x01\x01-a-time-stamp-query";
	struct res *res = res_new();
	struct sg_http_stats st;

	fake_script(FAKE_ECHO, 0, status);
	http_post(path, ctype, tsq, sizeof(tsq) - 1, res);
	assert_int_equal(res->status, 200);
	assert_header(res, "Content-Type", "application/timestamp-reply");
	assert_not_cached(res);
	assert_int_equal(res->body_len, sizeof(tsq) - 1 + 4);
	assert_memory_equal(res->body, "TSR:", 4);
	assert_memory_equal(res->body + 4, tsq, sizeof(tsq) - 1);
	/* the front saw exactly the body, as a timestamp request */
	pthread_mutex_lock(&fk.mu);
	assert_int_equal(fk.last_op, SG_OP_TIMESTAMP);
	assert_int_equal(fk.last_len, sizeof(tsq) - 1);
	assert_memory_equal(fk.last_in, tsq, sizeof(tsq) - 1);
	pthread_mutex_unlock(&fk.mu);
	sg_http_get_stats(http, &st);
	assert_true(st.status_2xx >= 1);
	assert_true(st.forwarded >= 1);
	free(res);
}

static void
test_tsa_ok(void **state)
{
	check_tsa_ok("/tsa", TSQ_CT, 0);
	assert_int_equal(fake_received(), 1);
}

static void
test_root_ok(void **state)
{
	check_tsa_ok("/", TSQ_CT, 0);
	/* a query string is ignored */
	check_tsa_ok("/tsa?x=1", TSQ_CT, 0);
	assert_int_equal(fake_received(), 2);
}

/* A PKIStatus rejection is still a 200 carrying the TimeStampResp. */
static void
test_rejection_is_200(void **state)
{
	check_tsa_ok("/tsa", TSQ_CT, 2);
}

/* Media type: case-insensitive, parameters ignored. */
static void
test_ctype_variants(void **state)
{
	check_tsa_ok("/tsa", "Application/TimeStamp-Query; charset=binary", 0);
	check_tsa_ok("/tsa", "application/timestamp-query ", 0);
}

static void
test_wire_errors(void **state)
{
	static const struct {
		int err;
		int status;
		const char *body;
		const char *retry;
	} cases[] = {
	    {SG_ERR_DENIED, 403, "denied\n", NULL},
	    {SG_ERR_BUSY, 503, "busy\n", "1"},
	    {SG_ERR_SHUTTING_DOWN, 503, "shutting_down\n", "5"},
	    {SG_ERR_HSM_UNAVAILABLE, 503, "hsm_unavailable\n", "5"},
	    {SG_ERR_AUDIT_UNAVAILABLE, 503, "audit_unavailable\n", "5"},
	    {SG_ERR_NO_TSA, 503, "no_tsa\n", NULL},
	    {SG_ERR_MALFORMED, 400, "malformed\n", NULL},
	    {SG_ERR_BAD_VALUE, 400, "bad_value\n", NULL},
	    {SG_ERR_TOO_LARGE, 400, "too_large\n", NULL},
	    {SG_ERR_HSM, 500, "internal\n", NULL},
	    {SG_ERR_INTERNAL, 500, "internal\n", NULL},
	    {SG_ERR_UNKNOWN_KEY, 500, "internal\n", NULL},
	};
	struct res *res = res_new();
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_script(FAKE_ERR, cases[i].err, 0);
		http_post("/tsa", TSQ_CT, "q", 1, res);
		assert_error(res, cases[i].status, cases[i].body);
		if (cases[i].retry != NULL)
			assert_header(res, "Retry-After", cases[i].retry);
		else
			assert_null(header(res, "Retry-After", buf, sizeof(buf)));
	}
	assert_int_equal(fake_received(), i);
	free(res);
}

static void
test_too_large_declared(void **state)
{
	static const char head[] = "POST /tsa HTTP/1.1\r\nHost: t\r\n"
	                           "Content-Type: application/timestamp-query\r\n"
	                           "Content-Length: 16385\r\n\r\n";
	struct res *res = res_new();

	/* refused on the headers alone: the body is never sent */
	http_raw(head, sizeof(head) - 1, res);
	assert_error(res, 413, "too_large\n");
	assert_int_equal(fake_received(), 0);
	free(res);
}

/* Exactly max_body is accepted and forwarded whole. */
static void
test_max_body_boundary(void **state)
{
	unsigned char *body = malloc(MAX_BODY);
	struct res *res = res_new();
	size_t i;

	for (i = 0; i < MAX_BODY; i++)
		body[i] = (unsigned char)(i * 7);
	http_post("/tsa", TSQ_CT, body, MAX_BODY, res);
	assert_int_equal(res->status, 200);
	assert_int_equal(res->body_len, MAX_BODY + 4);
	assert_memory_equal(res->body + 4, body, MAX_BODY);
	free(body);
	free(res);
}

/* A chunked body of n bytes in chunks of 1000. */
static void
post_chunked(size_t n, struct res *res)
{
	static const char head[] = "POST /tsa HTTP/1.1\r\nHost: t\r\n"
	                           "Content-Type: application/timestamp-query\r\n"
	                           "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
	char chunk[1100];
	size_t k, hl;
	int fd = tcp_connect(sg_http_port(http)), ok;

	res->status = 0;
	assert_true(fd >= 0);
	ok = send_all(fd, head, sizeof(head) - 1) == 0;
	while (ok && n > 0) {
		k = n < 1000 ? n : 1000;
		hl = (size_t)snprintf(chunk, sizeof(chunk), "%zx\r\n", k);
		memset(chunk + hl, 'c', k);
		memcpy(chunk + hl + k, "\r\n", 2);
		ok = send_all(fd, chunk, hl + k + 2) == 0;
		n -= k;
	}
	if (ok && send_all(fd, "0\r\n\r\n", 5) == 0)
		read_response(fd, res);
	close(fd);
}

static void
test_chunked(void **state)
{
	struct res *res = res_new();

	post_chunked(3000, res);
	assert_int_equal(res->status, 200);
	assert_int_equal(res->body_len, 3004);
	assert_int_equal(fake_received(), 1);
	/* a little over: discarded, then 413 */
	post_chunked(MAX_BODY + 100, res);
	assert_error(res, 413, "too_large\n");
	/* far over: the connection is cut, no response */
	post_chunked(3 * MAX_BODY, res);
	assert_int_equal(res->status, 0);
	assert_int_equal(fake_received(), 1);
	free(res);
}

static void
test_empty_body(void **state)
{
	struct res *res = res_new();

	http_post("/tsa", TSQ_CT, "", 0, res);
	assert_error(res, 400, "malformed: empty body\n");
	assert_int_equal(fake_received(), 0);
	free(res);
}

static void
test_wrong_method(void **state)
{
	static const char *reqs[] = {
	    "GET /tsa HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	    "PUT / HTTP/1.1\r\nHost: t\r\nContent-Type: application/timestamp-query\r\n"
	    "Content-Length: 1\r\nConnection: close\r\n\r\nq",
	    "DELETE /tsa HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
	};
	struct res *res = res_new();
	size_t i;

	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		http_raw(reqs[i], strlen(reqs[i]), res);
		assert_error(res, 405, "method_not_allowed\n");
		assert_header(res, "Allow", "POST");
	}
	assert_int_equal(fake_received(), 0);
	free(res);
}

static void
test_wrong_type(void **state)
{
	static const char *types[] = {NULL, "application/octet-stream",
	                              "application/timestamp-queryx", "text/plain",
	                              "application/x-www-form-urlencoded"};
	struct res *res = res_new();
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		http_post("/tsa", types[i], "q", 1, res);
		assert_error(res, 415, "unsupported_media_type: application/timestamp-query\n");
	}
	assert_int_equal(fake_received(), 0);
	free(res);
}

static void
test_unknown_path(void **state)
{
	static const char *paths[] = {
	    "/tsa/",  "/TSA",  "/tsa/../tsa2", "/crl",    "/crl/",          "/crl/root.crl.gz",
	    "/ocspx", "/OCSP", "/%74Sa",       "/%2Ftsa", "/crl/a%2Fb.crl",
	};
	struct res *res = res_new();
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		http_post(paths[i], TSQ_CT, "q", 1, res);
		assert_error(res, 404, "not_found\n");
	}
	assert_int_equal(fake_received(), 0);
	/* percent-encoded characters of a known path are decoded first (RFC 3986 2.1) */
	check_tsa_ok("/t%73a", TSQ_CT, 0);
	check_tsa_ok("/%74%73%61", TSQ_CT, 0);
	assert_int_equal(fake_received(), 2);
	free(res);
}

/* A '%' without two hex digits, or an escaped NUL, in any path: 400 before routing. */
static void
test_bad_percent(void **state)
{
	static const char *paths[] = {"/tsa%",   "/tsa%2", "/ts%zza",      "/ts%a",    "/tsa%00",
	                              "/%g1tsa", "/%%",    "/crl/x%2.crl", "/unknown%"};
	struct res *res = res_new();
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		http_post(paths[i], TSQ_CT, "q", 1, res);
		assert_error(res, 400, "malformed: bad percent-encoding in the path\n");
	}
	assert_int_equal(fake_received(), 0);
	free(res);
}

static void
test_front_silent(void **state)
{
	struct res *res = res_new();
	struct sg_http_stats st;
	int64_t t0;

	fake_script(FAKE_SILENT, 0, 0);
	t0 = now_ms();
	http_post("/tsa", TSQ_CT, "q", 1, res);
	assert_error(res, 503, "unavailable\n");
	assert_header(res, "Retry-After", "5");
	assert_true(now_ms() - t0 >= TIMEOUT_MS - 50);
	assert_true(now_ms() - t0 < TIMEOUT_MS + 2000);
	sg_http_get_stats(http, &st);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.status_5xx, 1);
	free(res);
}

/* A late reply to a request that timed out is discarded, not given to the next one. */
static void
test_stale_reply(void **state)
{
	struct res *res = res_new();
	struct sg_http_stats st;

	fake_script(FAKE_LATE, 0, 0);
	http_post("/tsa", TSQ_CT, "first", 5, res);
	assert_error(res, 503, "unavailable\n");
	http_post("/tsa", TSQ_CT, "second", 6, res);
	assert_int_equal(res->status, 200);
	assert_int_equal(res->body_len, 10);
	assert_memory_equal(res->body, "TSR:second", 10);
	sg_http_get_stats(http, &st);
	assert_int_equal(st.stale, 1);
	assert_int_equal(st.timeouts, 1);
	free(res);
}

static void
test_bad_replies(void **state)
{
	struct res *res = res_new();
	struct sg_http_stats st;

	/* well-formed reply with the right id, wrong shape: 502 */
	fake_script(FAKE_WRONG, 0, 0);
	http_post("/tsa", TSQ_CT, "q", 1, res);
	assert_error(res, 502, "bad_gateway\n");
	/* unreadable reply: dropped, the request times out */
	fake_script(FAKE_GARBAGE, 0, 0);
	http_post("/tsa", TSQ_CT, "q", 1, res);
	assert_error(res, 503, "unavailable\n");
	sg_http_get_stats(http, &st);
	assert_int_equal(st.stale, 1);
	free(res);
}

/*
 * Nobody bound the endpoint (inproc connects before bind succeed, and the
 * message waits for a front): 503 after the timeout.
 */
static void
test_front_unbound(void **state)
{
	struct sg_http_config c = config();
	struct res *res = res_new();
	char why[256];
	int64_t t0;

	sg_http_stop(http);
	c.front_ep = "inproc://nobody-binds-this";
	http = sg_http_start(zctx, &c, why, sizeof(why));
	assert_non_null(http);
	t0 = now_ms();
	http_post("/tsa", TSQ_CT, "q", 1, res);
	assert_error(res, 503, "unavailable\n");
	assert_true(now_ms() - t0 >= TIMEOUT_MS - 50);
	free(res);
}

/* The front's socket went away: 503 at once (ZMQ_IMMEDIATE: no peer, no queueing). */
static void
test_front_gone(void **state)
{
	struct res *res = res_new();
	int64_t t0;

	check_tsa_ok("/tsa", TSQ_CT, 0);
	fake_stop();
	usleep(50 * 1000);
	t0 = now_ms();
	http_post("/tsa", TSQ_CT, "q", 1, res);
	assert_error(res, 503, "unavailable\n");
	assert_true(now_ms() - t0 < TIMEOUT_MS / 2);
	free(res);
}

/* Two requests on one keep-alive connection. */
static void
test_keep_alive(void **state)
{
	static const char req[] = "POST /tsa HTTP/1.1\r\nHost: t\r\n"
	                          "Content-Type: application/timestamp-query\r\n"
	                          "Content-Length: 3\r\n\r\nabc";
	struct res *res = res_new();
	int fd = tcp_connect(sg_http_port(http)), i;

	assert_true(fd >= 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(send_all(fd, req, sizeof(req) - 1), 0);
		read_response(fd, res);
		assert_int_equal(res->status, 200);
		assert_memory_equal(res->body, "TSR:abc", 7);
	}
	close(fd);
	assert_int_equal(fake_received(), 2);
	free(res);
}

/* Garbage and oversized heads get an error or a closed connection, and the server lives on. */
static void
test_garbage_input(void **state)
{
	static const char *junk[] = {
	    "\x00\xff\xfe garbage\r\n\r\n",
	    "GARBAGE\r\n\r\n",
	    "POST /tsa HTTP/9.9\r\n\r\n",
	    "POST /tsa HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
	    "POST /tsa HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	    "POST /tsa HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Type: application/timestamp-query\r\n\r\nzz\r\n",
	    "POST /tsa HTTP/1.1\r\nHost t\r\n\r\n",
	    "\r\n\r\n\r\n",
	};
	struct res *res = res_new();
	char *big;
	size_t i;

	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		http_raw(junk[i], strlen(junk[i]) + (i == 0 ? 1 : 0), res);
		/* MHD itself answers an unknown HTTP version with 505 */
		if (!(res->status == 0 || (res->status >= 400 && res->status < 500) ||
		      (i == 2 && res->status == 505)))
			fail_msg("junk %zu: status %d", i, res->status);
	}
	/* headers over the per-connection memory */
	big = malloc(40000);
	strcpy(big, "POST /tsa HTTP/1.1\r\nHost: t\r\nX-Big: ");
	i = strlen(big);
	memset(big + i, 'x', 30000);
	strcpy(big + i + 30000, "\r\n\r\n");
	http_raw(big, strlen(big), res);
	assert_true(res->status == 0 || (res->status >= 400 && res->status < 500));
	/* a long path */
	strcpy(big, "POST /");
	memset(big + 6, 'p', 30000);
	strcpy(big + 30006, " HTTP/1.1\r\nHost: t\r\n\r\n");
	http_raw(big, strlen(big), res);
	assert_true(res->status == 0 || (res->status >= 400 && res->status < 500));
	free(big);
	assert_int_equal(fake_received(), 0);
	check_tsa_ok("/tsa", TSQ_CT, 0);
	free(res);
}

struct client {
	pthread_t th;
	int idx;
	int ok;    /* responses whose body matched the request */
	int wrong; /* responses with another request's body, or an error */
};

#define CLIENTS 32
#define PER_CLIENT 8

static void *
client_main(void *arg)
{
	struct client *c = arg;
	struct res *res = calloc(1, sizeof(*res));
	char body[64], want[80];
	int i;

	for (i = 0; i < PER_CLIENT; i++) {
		snprintf(body, sizeof(body), "client-%d-request-%d", c->idx, i);
		snprintf(want, sizeof(want), "TSR:%s", body);
		http_post(i % 2 ? "/" : "/tsa", TSQ_CT, body, strlen(body), res);
		if (res->status == 200 && res->body_len == strlen(want) &&
		    memcmp(res->body, want, res->body_len) == 0)
			c->ok++;
		else
			c->wrong++;
	}
	free(res);
	return NULL;
}

/* Many clients at once; the fake front answers each batch in reverse order. */
static void
test_concurrent(void **state)
{
	struct client cl[CLIENTS];
	struct sg_http_stats st;
	int i, ok = 0, wrong = 0;

	memset(cl, 0, sizeof(cl));
	for (i = 0; i < CLIENTS; i++) {
		cl[i].idx = i;
		assert_int_equal(pthread_create(&cl[i].th, NULL, client_main, &cl[i]), 0);
	}
	for (i = 0; i < CLIENTS; i++) {
		pthread_join(cl[i].th, NULL);
		ok += cl[i].ok;
		wrong += cl[i].wrong;
	}
	assert_int_equal(wrong, 0);
	assert_int_equal(ok, CLIENTS * PER_CLIENT);
	sg_http_get_stats(http, &st);
	assert_int_equal(st.forwarded, CLIENTS * PER_CLIENT);
	assert_int_equal(st.status_2xx, CLIENTS * PER_CLIENT);
	assert_int_equal(st.stale, 0);
}

/*
 * Over max_connections a new connection is not served (it waits in the
 * listen backlog) until a slot frees up.
 */
static void
test_connection_limit(void **state)
{
	static const char req[] = "POST /tsa HTTP/1.1\r\nHost: t\r\n"
	                          "Content-Type: application/timestamp-query\r\n"
	                          "Content-Length: 4\r\nConnection: close\r\n\r\nlast";
	struct sg_http_config c = config();
	struct res *res = res_new();
	struct pollfd pfd;
	char why[256];
	int idle[2], i, fd;

	sg_http_stop(http);
	c.max_connections = 2;
	c.timeout_ms = 5000; /* the idle connections must outlive the test's wait */
	http = sg_http_start(zctx, &c, why, sizeof(why));
	assert_non_null(http);
	for (i = 0; i < 2; i++) {
		assert_true((idle[i] = tcp_connect(sg_http_port(http))) >= 0);
		assert_int_equal(send_all(idle[i], "POST /tsa HTTP/1.1\r\n", 20), 0);
	}
	usleep(100 * 1000);
	assert_true((fd = tcp_connect(sg_http_port(http))) >= 0);
	assert_int_equal(send_all(fd, req, sizeof(req) - 1), 0);
	pfd.fd = fd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 500), 0);
	assert_int_equal(fake_received(), 0);
	/* a slot frees up: the waiting connection is served */
	close(idle[0]);
	read_response(fd, res);
	assert_int_equal(res->status, 200);
	assert_memory_equal(res->body, "TSR:last", 8);
	close(fd);
	close(idle[1]);
	free(res);
}

/* Partial requests (slowloris) do not hold up the stop. */
static void
test_stop_with_partial_requests(void **state)
{
	static const char *partial[] = {
	    "POST /tsa HTTP/1.1\r\nHo",
	    "POST /tsa HTTP/1.1\r\nHost: t\r\nContent-Type: application/timestamp-query\r\n"
	    "Content-Length: 100\r\n\r\nonly-part-of-the-body",
	    "P",
	};
	int fds[3], i;
	int64_t t0;
	char c;

	for (i = 0; i < 3; i++) {
		assert_true((fds[i] = tcp_connect(sg_http_port(http))) >= 0);
		assert_int_equal(send_all(fds[i], partial[i], strlen(partial[i])), 0);
	}
	usleep(100 * 1000);
	t0 = now_ms();
	sg_http_stop(http);
	http = NULL;
	assert_true(now_ms() - t0 < 500);
	/* each partial connection was closed */
	for (i = 0; i < 3; i++) {
		assert_true(recv(fds[i], &c, 1, 0) <= 0);
		close(fds[i]);
	}
	assert_int_equal(fake_received(), 0);
}

struct one_post {
	pthread_t th;
	const char *body;
	struct res *res;
};

static void *
one_post_main(void *arg)
{
	struct one_post *p = arg;

	http_post("/tsa", TSQ_CT, p->body, strlen(p->body), p->res);
	return NULL;
}

/* A request in flight when the stop begins still gets its answer. */
static void
test_stop_finishes_inflight(void **state)
{
	struct one_post p = {.body = "in-flight", .res = res_new()};
	uint16_t port = sg_http_port(http);
	int64_t t0;
	int fd;

	pthread_mutex_lock(&fk.mu);
	fk.mode = FAKE_DELAY;
	fk.delay_ms = 300;
	pthread_mutex_unlock(&fk.mu);
	assert_int_equal(pthread_create(&p.th, NULL, one_post_main, &p), 0);
	t0 = now_ms();
	while (fake_received() == 0 && now_ms() - t0 < 3000)
		usleep(5 * 1000);
	assert_int_equal(fake_received(), 1);
	sg_http_stop(http);
	http = NULL;
	pthread_join(p.th, NULL);
	assert_int_equal(p.res->status, 200);
	assert_memory_equal(p.res->body, "TSR:in-flight", 13);
	/* and the port no longer accepts */
	fd = tcp_connect(port);
	assert_true(fd < 0);
	free(p.res);
}

/* A request in flight whose front never answers fails with 503 when the stop ends. */
static void
test_stop_fails_unanswered(void **state)
{
	struct one_post p = {.body = "never-answered", .res = res_new()};
	int64_t t0;

	fake_script(FAKE_SILENT, 0, 0);
	assert_int_equal(pthread_create(&p.th, NULL, one_post_main, &p), 0);
	t0 = now_ms();
	while (fake_received() == 0 && now_ms() - t0 < 3000)
		usleep(5 * 1000);
	t0 = now_ms();
	sg_http_stop(http);
	http = NULL;
	assert_true(now_ms() - t0 < TIMEOUT_MS + 1000);
	pthread_join(p.th, NULL);
	assert_error(p.res, 503, "unavailable\n");
	assert_header(p.res, "Connection", "close");
	free(p.res);
}

/* ---- CRLs ---- */

#define OCSP_CT "application/ocsp-request"

/*
 * Sends "METHOD path" without body on a new connection.  A HEAD response is
 * read to the end of the connection, so that a body sent by mistake shows
 * up in res->body_len.
 */
static void
http_get(const char *method, const char *path, struct res *res)
{
	size_t n = strlen(method) + strlen(path) + 64;
	char *raw = malloc(n), *buf, *eoh;
	size_t have = 0, cap = sizeof(res->head) + RES_MAX;
	ssize_t k;
	int fd;

	snprintf(raw, n, "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", method, path);
	if (strcmp(method, "HEAD") != 0) {
		http_raw(raw, strlen(raw), res);
		free(raw);
		return;
	}
	res->status = 0;
	res->head[0] = '\0';
	res->body_len = 0;
	fd = tcp_connect(sg_http_port(http));
	assert_true(fd >= 0);
	buf = malloc(cap);
	if (send_all(fd, raw, strlen(raw)) == 0)
		while (have + 1 < cap && (k = recv(fd, buf + have, cap - 1 - have, 0)) > 0)
			have += (size_t)k;
	close(fd);
	buf[have] = '\0';
	if ((eoh = strstr(buf, "\r\n\r\n")) != NULL &&
	    (size_t)(eoh - buf) + 2 < sizeof(res->head) &&
	    sscanf(buf, "HTTP/1.%*c %d", &res->status) == 1) {
		memcpy(res->head, buf, (size_t)(eoh - buf) + 2);
		res->head[eoh - buf + 2] = '\0';
		res->body_len = have - (size_t)(eoh - buf) - 4;
	}
	free(buf);
	free(raw);
}

/* The IMF-fixdate of t by the C library (the test runs in the C locale). */
static void
imf_date(uint64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	assert_non_null(gmtime_r(&tt, &tm));
	assert_int_not_equal(strftime(buf, n, "%a, %d %b %Y %H:%M:%S GMT", &tm), 0);
}

/* Cache-Control is "max-age=N" with N in [lo, hi]. */
static void
assert_max_age(const struct res *res, uint64_t lo, uint64_t hi)
{
	char buf[64], *end;
	unsigned long long n;

	assert_non_null(header(res, "Cache-Control", buf, sizeof(buf)));
	assert_int_equal(strncmp(buf, "max-age=", 8), 0);
	n = strtoull(buf + 8, &end, 10);
	assert_true(end != buf + 8 && *end == '\0');
	if (n < lo || n > hi)
		fail_msg("max-age %llu not in [%llu, %llu]", n, (unsigned long long)lo,
		         (unsigned long long)hi);
}

static void
fake_crl_times(const char *ca, uint64_t this_update, uint64_t next_update)
{
	pthread_mutex_lock(&fk.mu);
	snprintf(fk.crl_ca, sizeof(fk.crl_ca), "%s", ca);
	fk.this_update = this_update;
	fk.next_update = next_update;
	pthread_mutex_unlock(&fk.mu);
}

/* The fake front answers every ocsp request with der (taken over; NULL: echo). */
static void
fake_ocsp(unsigned char *der, size_t len)
{
	pthread_mutex_lock(&fk.mu);
	free(fk.ocsp_resp);
	fk.ocsp_resp = der;
	fk.ocsp_resp_len = len;
	pthread_mutex_unlock(&fk.mu);
}

/* The front saw op with exactly in[0..len). */
static void
assert_forwarded(enum sg_op op, const void *in, size_t len)
{
	pthread_mutex_lock(&fk.mu);
	assert_int_equal(fk.last_op, op);
	assert_int_equal(fk.last_len, len);
	assert_memory_equal(fk.last_in, in, len);
	pthread_mutex_unlock(&fk.mu);
}

/* GET path answers 200 with the CRL of ca, and the front was asked for ca. */
static void
check_crl_ok(const char *path, const char *ca, struct res *res)
{
	char want[80];

	http_get("GET", path, res);
	assert_int_equal(res->status, 200);
	assert_header(res, "Content-Type", "application/pkix-crl");
	snprintf(want, sizeof(want), "CRL:%s", ca);
	assert_int_equal(res->body_len, strlen(want));
	assert_memory_equal(res->body, want, res->body_len);
	assert_forwarded(SG_OP_CRL_GET, ca, strlen(ca));
}

static void
test_crl_ok(void **state)
{
	struct res *res = res_new();
	uint64_t now = (uint64_t)time(NULL);
	char want[96], name64[80];

	/* Sun, 06 Nov 1994 08:49:37 GMT is RFC 7231's own example */
	fake_crl_times("", 784111777, now + 7200);
	check_crl_ok("/crl/int-dev.crl", "int-dev", res);
	assert_header(res, "Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT");
	/* caches read Expires against the response's Date (MHD's) */
	assert_non_null(header(res, "Date", want, sizeof(want)));
	assert_non_null(strstr(want, " GMT"));
	imf_date(now + 7200, want, sizeof(want));
	assert_header(res, "Expires", want);
	assert_max_age(res, 7200 - 5, 7200);
	/* names with dots, underscores, digits; percent-encoded characters */
	check_crl_ok("/crl/root.v2_CA-1.crl", "root.v2_CA-1", res);
	check_crl_ok("/crl/int%2ddev.crl", "int-dev", res);
	check_crl_ok("/crl/%69nt-dev%2Ecrl", "int-dev", res);
	check_crl_ok("/crl/a.crl.crl", "a.crl", res);
	/* a query string is ignored */
	check_crl_ok("/crl/int-dev.crl?x=%zz", "int-dev", res);
	/* the longest name */
	memset(name64, 'n', 64);
	name64[64] = '\0';
	snprintf(want, sizeof(want), "/crl/%s.crl", name64);
	check_crl_ok(want, name64, res);
	assert_int_equal(fake_received(), 7);
	free(res);
}

/* Expires and max-age follow next_update: past, far future, and beyond what a date can say. */
static void
test_crl_cache_headers(void **state)
{
	struct res *res = res_new();
	char buf[64];

	/* a CRL past its nextUpdate: Expires in the past, max-age=0 */
	fake_crl_times("", 784111777, 784198177);
	check_crl_ok("/crl/ca.crl", "ca", res);
	assert_header(res, "Expires", "Mon, 07 Nov 1994 08:49:37 GMT");
	assert_header(res, "Cache-Control", "max-age=0");
	/* this_update == next_update */
	fake_crl_times("", 784111777, 784111777);
	check_crl_ok("/crl/ca.crl", "ca", res);
	assert_header(res, "Expires", "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_header(res, "Cache-Control", "max-age=0");
	/* the last second of 9999: max-age capped at 2^31 */
	fake_crl_times("", 0, UINT64_C(253402300799));
	check_crl_ok("/crl/ca.crl", "ca", res);
	assert_header(res, "Last-Modified", "Thu, 01 Jan 1970 00:00:00 GMT");
	assert_header(res, "Expires", "Fri, 31 Dec 9999 23:59:59 GMT");
	assert_header(res, "Cache-Control", "max-age=2147483648");
	/* one second more cannot be written as a date: the reply is refused */
	fake_crl_times("", 0, UINT64_C(253402300800));
	http_get("GET", "/crl/ca.crl", res);
	assert_error(res, 502, "bad_gateway\n");
	assert_null(header(res, "Expires", buf, sizeof(buf)));
	fake_crl_times("", UINT64_C(253402300800), UINT64_MAX);
	http_get("GET", "/crl/ca.crl", res);
	assert_error(res, 502, "bad_gateway\n");
	free(res);
}

/* HEAD: the headers of the GET, no body; the front is asked all the same. */
static void
test_crl_head(void **state)
{
	struct res *res = res_new();
	struct sg_http_stats st0, st1;
	uint64_t now = (uint64_t)time(NULL);
	char want[64];

	fake_crl_times("", 784111777, now + 600);
	sg_http_get_stats(http, &st0);
	http_get("HEAD", "/crl/int-dev.crl", res);
	sg_http_get_stats(http, &st1);
	assert_int_equal(res->status, 200);
	assert_header(res, "Content-Type", "application/pkix-crl");
	assert_header(res, "Content-Length", "11"); /* "CRL:int-dev" */
	assert_header(res, "Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT");
	imf_date(now + 600, want, sizeof(want));
	assert_header(res, "Expires", want);
	assert_max_age(res, 600 - 5, 600);
	assert_int_equal(res->body_len, 0);
	assert_forwarded(SG_OP_CRL_GET, "int-dev", 7);
	assert_int_equal(st1.bytes_out, st0.bytes_out);
	assert_int_equal(st1.status_2xx, st0.status_2xx + 1);
	/* HEAD of an unknown CA: 404, no body either */
	fake_script(FAKE_ERR, SG_ERR_UNKNOWN_KEY, 0);
	http_get("HEAD", "/crl/nope.crl", res);
	assert_int_equal(res->status, 404);
	assert_int_equal(res->body_len, 0);
	assert_int_equal(fake_received(), 2);
	free(res);
}

/* Names that are not key names are unknown paths, refused without asking the front. */
static void
test_crl_bad_names(void **state)
{
	static const char *paths[] = {
	    "/crl/.crl",      "/crl/a%20b.crl", "/crl/a/b.crl",   "/crl/x.CRL",
	    "/crl/x.crl/",    "/crl/x",         "/crl/x%2Fy.crl", "/crl/%C3%A9.crl",
	    "/crl/a+b.crl",   "/crl/a%3Bb.crl", "/crl/..%2F.crl", "/crl//x.crl",
	    "/crl/a%0Ab.crl", "/CRL/x.crl",     "/crl/x.crl%20",  "/crl/*.crl",
	};
	struct res *res = res_new();
	char path[128];
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		http_get("GET", paths[i], res);
		if (res->status != 404)
			fail_msg("%s: status %d", paths[i], res->status);
		assert_error(res, 404, "not_found\n");
	}
	/* 65 characters: one too many */
	strcpy(path, "/crl/");
	memset(path + 5, 'n', 65);
	strcpy(path + 70, ".crl");
	http_get("GET", path, res);
	assert_error(res, 404, "not_found\n");
	http_get("HEAD", path, res);
	assert_int_equal(res->status, 404);
	assert_int_equal(fake_received(), 0);
	free(res);
}

static void
test_crl_wire_errors(void **state)
{
	static const struct {
		int err;
		int status;
		const char *body;
		const char *retry;
	} cases[] = {
	    {SG_ERR_UNKNOWN_KEY, 404, "unknown_key\n", NULL},
	    {SG_ERR_NOT_FOUND, 404, "not_found\n", NULL},
	    {SG_ERR_DENIED, 403, "denied\n", NULL},
	    {SG_ERR_BUSY, 503, "busy\n", "1"},
	    {SG_ERR_SHUTTING_DOWN, 503, "shutting_down\n", "5"},
	    {SG_ERR_HSM_UNAVAILABLE, 503, "hsm_unavailable\n", "5"},
	    {SG_ERR_AUDIT_UNAVAILABLE, 503, "audit_unavailable\n", "5"},
	    {SG_ERR_MALFORMED, 400, "malformed\n", NULL},
	    {SG_ERR_BAD_VALUE, 400, "bad_value\n", NULL},
	    {SG_ERR_HSM, 500, "internal\n", NULL},
	    {SG_ERR_NO_CERT, 500, "internal\n", NULL},
	    {SG_ERR_INTERNAL, 500, "internal\n", NULL},
	};
	struct res *res = res_new();
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_script(FAKE_ERR, cases[i].err, 0);
		http_get("GET", "/crl/int-dev.crl", res);
		assert_error(res, cases[i].status, cases[i].body);
		assert_null(header(res, "Last-Modified", buf, sizeof(buf)));
		assert_null(header(res, "Expires", buf, sizeof(buf)));
		if (cases[i].retry != NULL)
			assert_header(res, "Retry-After", cases[i].retry);
		else
			assert_null(header(res, "Retry-After", buf, sizeof(buf)));
	}
	assert_int_equal(fake_received(), i);
	free(res);
}

/* Replies that are not an answer to the question: 502. */
static void
test_crl_bad_replies(void **state)
{
	struct res *res = res_new();

	/* the CRL of another CA */
	fake_crl_times("root", 784111777, 784198177);
	http_get("GET", "/crl/int-dev.crl", res);
	assert_error(res, 502, "bad_gateway\n");
	/* a reply of another op */
	fake_crl_times("", 784111777, 784198177);
	fake_script(FAKE_WRONG, 0, 0);
	http_get("GET", "/crl/int-dev.crl", res);
	assert_error(res, 502, "bad_gateway\n");
	assert_int_equal(fake_received(), 2);
	free(res);
}

/* Other methods, and bodies on a GET. */
static void
test_crl_methods(void **state)
{
	static const char *with_body[] = {
	    "GET /crl/ca.crl HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n"
	    "\r\nabc",
	    "GET /crl/ca.crl HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
	    "Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	};
	static const char *empty[] = {
	    "GET /crl/ca.crl HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	    "GET /crl/ca.crl HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
	    "Connection: close\r\n\r\n0\r\n\r\n",
	};
	struct res *res = res_new();
	size_t i;

	http_post("/crl/ca.crl", "application/pkix-crl", "x", 1, res);
	assert_error(res, 405, "method_not_allowed\n");
	assert_header(res, "Allow", "GET, HEAD");
	http_get("DELETE", "/crl/ca.crl", res);
	assert_error(res, 405, "method_not_allowed\n");
	assert_header(res, "Allow", "GET, HEAD");
	for (i = 0; i < sizeof(with_body) / sizeof(with_body[0]); i++) {
		http_raw(with_body[i], strlen(with_body[i]), res);
		assert_error(res, 400, "malformed: unexpected body\n");
	}
	assert_int_equal(fake_received(), 0);
	/* an empty body is no body */
	for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		http_raw(empty[i], strlen(empty[i]), res);
		assert_int_equal(res->status, 200);
		assert_memory_equal(res->body, "CRL:ca", 6);
	}
	assert_int_equal(fake_received(), 2);
	free(res);
}

/* ---- OCSP ---- */

/* Bytes whose base64 has '+', '/' and padding. */
static const unsigned char ocsp_req[] = {0x30, 0x0b, 0xfb, 0xef, 0xbe, 0xff, 0xff,
                                         0xff, 0x3e, 0x00, 0x01, 0xfc, 0x10};

/* "/ocsp/" and the base64 of p[0..n), its '+', '/' and '=' percent-encoded if encode. */
static char *
ocsp_get_path(const unsigned char *p, size_t n, int encode)
{
	unsigned char *b64 = malloc(4 * ((n + 2) / 3) + 1);
	char *path = malloc(3 * 4 * ((n + 2) / 3) + 8), *d;
	int len = EVP_EncodeBlock(b64, p, (int)n), i;

	assert_true(len > 0);
	strcpy(path, "/ocsp/");
	d = path + 6;
	for (i = 0; i < len; i++) {
		if (encode && (b64[i] == '+' || b64[i] == '/' || b64[i] == '='))
			d += sprintf(d, "%%%02X", b64[i]);
		else
			*d++ = (char)b64[i];
	}
	*d = '\0';
	free(b64);
	return path;
}

static void
check_ocsp_echo(const struct res *res, const unsigned char *req, size_t n)
{
	assert_int_equal(res->status, 200);
	assert_header(res, "Content-Type", "application/ocsp-response");
	assert_not_cached(res);
	assert_int_equal(res->body_len, n + 5);
	assert_memory_equal(res->body, "OCSP:", 5);
	assert_memory_equal(res->body + 5, req, n);
	assert_forwarded(SG_OP_OCSP, req, n);
}

static void
test_ocsp_post(void **state)
{
	static const char *paths[] = {"/ocsp", "/ocsp/", "/", "/ocsp?x=1"};
	struct res *res = res_new();
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		http_post(paths[i], OCSP_CT, ocsp_req, sizeof(ocsp_req), res);
		check_ocsp_echo(res, ocsp_req, sizeof(ocsp_req));
	}
	http_post("/", "Application/OCSP-Request; x=y", ocsp_req, sizeof(ocsp_req), res);
	check_ocsp_echo(res, ocsp_req, sizeof(ocsp_req));
	/* the root still time-stamps a time-stamp query */
	check_tsa_ok("/", TSQ_CT, 0);
	assert_int_equal(fake_received(), 6);
	free(res);
}

static void
test_ocsp_get(void **state)
{
	unsigned char big[3000];
	struct res *res = res_new();
	char *path;
	size_t i;

	/* URL-encoded as RFC 6960 A.1 says */
	path = ocsp_get_path(ocsp_req, sizeof(ocsp_req), 1);
	assert_non_null(strstr(path, "%2B"));
	assert_non_null(strstr(path, "%2F"));
	assert_non_null(strstr(path, "%3D"));
	http_get("GET", path, res);
	check_ocsp_echo(res, ocsp_req, sizeof(ocsp_req));
	free(path);
	/* not encoded: '+', '/' and '=' are legal in a path as they are */
	path = ocsp_get_path(ocsp_req, sizeof(ocsp_req), 0);
	http_get("GET", path, res);
	check_ocsp_echo(res, ocsp_req, sizeof(ocsp_req));
	free(path);
	/* lower-case escapes, one and two padding characters */
	http_get("GET", "/ocsp/MAuA%2b%2f8%3d", res);
	check_ocsp_echo(res, (const unsigned char *)"\x30\x0b\x80\xfb\xff", 5);
	http_get("GET", "/ocsp/MAE%3D", res);
	check_ocsp_echo(res, (const unsigned char *)"\x30\x01", 2);
	http_get("GET", "/ocsp/MA%3D%3D", res);
	check_ocsp_echo(res, (const unsigned char *)"\x30", 1);
	/* longer than OpenSSL's 64-character decoding lines */
	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 31 + 7);
	path = ocsp_get_path(big, sizeof(big), 1);
	http_get("GET", path, res);
	check_ocsp_echo(res, big, sizeof(big));
	free(path);
	assert_int_equal(fake_received(), 6);
	free(res);
}

/* Bad base64 or percent-encoding: 400, nothing forwarded. */
static void
test_ocsp_get_bad(void **state)
{
	static const char *bad_b64[] = {
	    "/ocsp/",                   /* empty */
	    "/ocsp/MAE",                /* not a multiple of 4 */
	    "/ocsp/MAE%3D%3D",          /* 5 */
	    "/ocsp/MA!E",               /* outside the alphabet */
	    "/ocsp/MA%21E",             /* the same, escaped */
	    "/ocsp/MA%C3%A9",           /* the same, UTF-8 */
	    "/ocsp/MA%3D%3DMA%3D%3D",   /* data after padding */
	    "/ocsp/MA%3DE",             /* '=' inside */
	    "/ocsp/M%3D%3D%3D",         /* three '=' */
	    "/ocsp/MAuA%3D%3D%3D%3D",   /* four '=' */
	    "/ocsp/%3D%3D%3D%3D",       /* padding only */
	    "/ocsp/MAE%3D%20%20%20%20", /* blanks, which OpenSSL would skip */
	    "/ocsp/MA%0AE%3D%0A%0A%0A", /* line breaks, likewise */
	    "/ocsp/MA%09E%3D%09%09%09", /* tabs */
	    "/ocsp/MA-E",               /* base64url */
	    "/ocsp/MA_E",               /* base64url */
	    "/ocsp/MAE%3DMAE%3D",       /* two padded blocks */
	};
	static const char *bad_pct[] = {"/ocsp/MA%3", "/ocsp/MA%zz==", "/ocsp/%00AAA",
	                                "/ocsp/MA%3D%"};
	struct res *res = res_new();
	size_t i;

	for (i = 0; i < sizeof(bad_b64) / sizeof(bad_b64[0]); i++) {
		http_get("GET", bad_b64[i], res);
		if (res->status != 400)
			fail_msg("%s: status %d", bad_b64[i], res->status);
		assert_error(res, 400, "malformed: bad base64 in the path\n");
	}
	for (i = 0; i < sizeof(bad_pct) / sizeof(bad_pct[0]); i++) {
		http_get("GET", bad_pct[i], res);
		assert_error(res, 400, "malformed: bad percent-encoding in the path\n");
	}
	assert_int_equal(fake_received(), 0);
	free(res);
}

static void
test_ocsp_methods_and_types(void **state)
{
	static const char *others[] = {"text/plain", "application/ocsp-response",
	                               "application/ocsp-requestx", NULL};
	struct res *res = res_new();
	size_t i;

	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		http_post("/ocsp", others[i], ocsp_req, sizeof(ocsp_req), res);
		assert_error(res, 415, "unsupported_media_type: application/ocsp-request\n");
		http_post("/", others[i], ocsp_req, sizeof(ocsp_req), res);
		assert_error(res, 415,
		             "unsupported_media_type: application/timestamp-query, "
		             "application/ocsp-request\n");
	}
	/* each path its own methods */
	http_post("/ocsp", TSQ_CT, "q", 1, res);
	assert_error(res, 415, "unsupported_media_type: application/ocsp-request\n");
	http_get("GET", "/ocsp", res);
	assert_error(res, 405, "method_not_allowed\n");
	assert_header(res, "Allow", "POST");
	http_get("PUT", "/ocsp/", res);
	assert_error(res, 405, "method_not_allowed\n");
	assert_header(res, "Allow", "POST, GET");
	http_post("/ocsp/MAE%3D", OCSP_CT, ocsp_req, sizeof(ocsp_req), res);
	assert_error(res, 405, "method_not_allowed\n");
	assert_header(res, "Allow", "GET");
	/* HEAD of a GET that costs a signature: not offered */
	http_get("HEAD", "/ocsp/MAE%3D", res);
	assert_int_equal(res->status, 405);
	assert_header(res, "Allow", "GET");
	http_get("GET", "/", res);
	assert_error(res, 405, "method_not_allowed\n");
	assert_header(res, "Allow", "POST");
	/* empty and too-large bodies */
	http_post("/ocsp", OCSP_CT, "", 0, res);
	assert_error(res, 400, "malformed: empty body\n");
	assert_int_equal(fake_received(), 0);
	free(res);
}

/*
 * SG_OCSP_REQ_MAX is the wire's cap on an OCSP request: with a max_body
 * above it, a body over it is 413 and not forwarded.
 */
static void
test_ocsp_size_limit(void **state)
{
	struct sg_http_config c = config();
	unsigned char *body = malloc(SG_OCSP_REQ_MAX + 1);
	struct res *res = res_new();
	char why[256];
	size_t i;

	sg_http_stop(http);
	c.max_body = SG_OCSP_REQ_MAX + 1000;
	http = sg_http_start(zctx, &c, why, sizeof(why));
	assert_non_null(http);
	for (i = 0; i < SG_OCSP_REQ_MAX + 1; i++)
		body[i] = (unsigned char)(i * 13);
	http_post("/ocsp", OCSP_CT, body, SG_OCSP_REQ_MAX + 1, res);
	assert_error(res, 413, "too_large\n");
	assert_int_equal(fake_received(), 0);
	http_post("/ocsp", OCSP_CT, body, SG_OCSP_REQ_MAX, res);
	assert_int_equal(res->status, 200);
	assert_int_equal(res->body_len, SG_OCSP_REQ_MAX + 5);
	assert_forwarded(SG_OP_OCSP, body, SG_OCSP_REQ_MAX);
	/* and over max_body: refused on the headers */
	http_post("/", OCSP_CT, body, 0, res); /* (empty: 400, see above) */
	assert_int_equal(res->status, 400);
	free(body);
	free(res);
}

/* A request over max_body: 413 on the declared length, nothing forwarded. */
static void
test_ocsp_too_large_declared(void **state)
{
	static const char head[] = "POST /ocsp HTTP/1.1\r\nHost: t\r\n"
	                           "Content-Type: application/ocsp-request\r\n"
	                           "Content-Length: 16385\r\n\r\n";
	struct res *res = res_new();

	http_raw(head, sizeof(head) - 1, res);
	assert_error(res, 413, "too_large\n");
	assert_int_equal(fake_received(), 0);
	free(res);
}

static void
test_ocsp_wire_errors(void **state)
{
	static const struct {
		int err;
		int status;
		const char *body;
	} cases[] = {
	    {SG_ERR_DENIED, 403, "denied\n"},
	    {SG_ERR_BUSY, 503, "busy\n"},
	    {SG_ERR_HSM_UNAVAILABLE, 503, "hsm_unavailable\n"},
	    {SG_ERR_MALFORMED, 400, "malformed\n"},
	    /* no key in the path: a key the front chose is its own fault */
	    {SG_ERR_UNKNOWN_KEY, 500, "internal\n"},
	    {SG_ERR_NOT_FOUND, 500, "internal\n"},
	    {SG_ERR_HSM, 500, "internal\n"},
	};
	struct res *res = res_new();
	char *path = ocsp_get_path(ocsp_req, sizeof(ocsp_req), 1);
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_script(FAKE_ERR, cases[i].err, 0);
		http_post("/ocsp", OCSP_CT, ocsp_req, sizeof(ocsp_req), res);
		assert_error(res, cases[i].status, cases[i].body);
		http_get("GET", path, res);
		assert_error(res, cases[i].status, cases[i].body);
	}
	assert_int_equal(fake_received(), 2 * i);
	/* a reply of another op */
	fake_script(FAKE_WRONG, 0, 0);
	http_post("/ocsp", OCSP_CT, ocsp_req, sizeof(ocsp_req), res);
	assert_error(res, 502, "bad_gateway\n");
	free(path);
	free(res);
}

/*
 * A DER OCSPResponse of status; when successful, signed by a throwaway key
 * with one SingleResponse per thisUpdate (next[i] 0: no nextUpdate).
 */
static unsigned char *
make_ocsp_resp(int status, const uint64_t *this_upd, const uint64_t *next_upd, size_t n,
               size_t *len)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	X509_NAME *name;
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp;
	OCSP_CERTID *id;
	ASN1_TIME *tu, *nu;
	unsigned char *der = NULL, *out;
	size_t i;
	int dl;

	if (status == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		assert_non_null(key = EVP_EC_gen("P-256"));
		assert_non_null(cert = X509_new());
		X509_set_version(cert, 2);
		ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
		X509_gmtime_adj(X509_getm_notBefore(cert), 0);
		X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
		name = X509_get_subject_name(cert);
		X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"ocsp",
		                           -1, -1, 0);
		X509_set_issuer_name(cert, name);
		X509_set_pubkey(cert, key);
		assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
		assert_non_null(bs = OCSP_BASICRESP_new());
		for (i = 0; i < n; i++) {
			assert_non_null(id = OCSP_cert_to_id(NULL, cert, cert));
			assert_non_null(tu = ASN1_TIME_set(NULL, (time_t)this_upd[i]));
			nu = next_upd[i] != 0 ? ASN1_TIME_set(NULL, (time_t)next_upd[i]) : NULL;
			assert_non_null(OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD, 0,
			                                       NULL, tu, nu));
			ASN1_TIME_free(tu);
			ASN1_TIME_free(nu);
			OCSP_CERTID_free(id);
		}
		assert_int_equal(OCSP_basic_sign(bs, cert, key, EVP_sha256(), NULL, 0), 1);
	}
	assert_non_null(resp = OCSP_response_create(status, bs));
	assert_true((dl = i2d_OCSP_RESPONSE(resp, &der)) > 0);
	out = malloc((size_t)dl);
	memcpy(out, der, (size_t)dl);
	*len = (size_t)dl;
	OPENSSL_free(der);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	X509_free(cert);
	EVP_PKEY_free(key);
	return out;
}

/* The front's OCSPResponse is sent as it is, over POST and GET; returns its copy. */
static void
check_ocsp_passthrough(const unsigned char *der, size_t len, struct res *res, int get)
{
	char *path = ocsp_get_path(ocsp_req, sizeof(ocsp_req), 1);

	if (get)
		http_get("GET", path, res);
	else
		http_post("/ocsp", OCSP_CT, ocsp_req, sizeof(ocsp_req), res);
	free(path);
	assert_int_equal(res->status, 200);
	assert_header(res, "Content-Type", "application/ocsp-response");
	assert_int_equal(res->body_len, len);
	assert_memory_equal(res->body, der, len);
	assert_forwarded(SG_OP_OCSP, ocsp_req, sizeof(ocsp_req));
}

/* An OCSP error (malformedRequest, unauthorized, ...) is still a 200, never cached. */
static void
test_ocsp_error_is_200(void **state)
{
	static const int statuses[] = {
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, OCSP_RESPONSE_STATUS_UNAUTHORIZED,
	    OCSP_RESPONSE_STATUS_INTERNALERROR, OCSP_RESPONSE_STATUS_TRYLATER};
	struct res *res = res_new();
	unsigned char *der, *copy;
	size_t i, len;
	int get;

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		der = make_ocsp_resp(statuses[i], NULL, NULL, 0, &len);
		copy = malloc(len);
		memcpy(copy, der, len);
		fake_ocsp(der, len);
		for (get = 0; get < 2; get++) {
			check_ocsp_passthrough(copy, len, res, get);
			assert_not_cached(res);
		}
		free(copy);
	}
	free(res);
}

/* A successful response is cacheable until its earliest nextUpdate (RFC 5019 6.2). */
static void
test_ocsp_cache_headers(void **state)
{
	uint64_t now = (uint64_t)time(NULL);
	uint64_t this1[] = {784111777}, next1[] = {now + 3600};
	uint64_t this2[] = {now - 100, 784111777, now - 50},
	         next2[] = {now + 900, now + 600, now + 3600};
	uint64_t this3[] = {now - 100, now - 100}, next3[] = {now + 900, 0};
	uint64_t this4[] = {784111777}, next4[] = {784198177};
	struct res *res = res_new();
	unsigned char *der, *copy;
	char want[64];
	size_t len;
	int get;

	/* one SingleResponse */
	der = make_ocsp_resp(OCSP_RESPONSE_STATUS_SUCCESSFUL, this1, next1, 1, &len);
	copy = malloc(len);
	memcpy(copy, der, len);
	fake_ocsp(der, len);
	for (get = 0; get < 2; get++) {
		check_ocsp_passthrough(copy, len, res, get);
		assert_header(res, "Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT");
		imf_date(now + 3600, want, sizeof(want));
		assert_header(res, "Expires", want);
		assert_max_age(res, 3600 - 5, 3600);
	}
	free(copy);
	/* several: the latest thisUpdate, the earliest nextUpdate */
	der = make_ocsp_resp(OCSP_RESPONSE_STATUS_SUCCESSFUL, this2, next2, 3, &len);
	copy = malloc(len);
	memcpy(copy, der, len);
	fake_ocsp(der, len);
	check_ocsp_passthrough(copy, len, res, 1);
	imf_date(now - 50, want, sizeof(want));
	assert_header(res, "Last-Modified", want);
	imf_date(now + 600, want, sizeof(want));
	assert_header(res, "Expires", want);
	assert_max_age(res, 600 - 5, 600);
	free(copy);
	/* one without nextUpdate: newer information is always available */
	der = make_ocsp_resp(OCSP_RESPONSE_STATUS_SUCCESSFUL, this3, next3, 2, &len);
	copy = malloc(len);
	memcpy(copy, der, len);
	fake_ocsp(der, len);
	check_ocsp_passthrough(copy, len, res, 1);
	assert_not_cached(res);
	free(copy);
	/* past its nextUpdate: max-age=0 */
	der = make_ocsp_resp(OCSP_RESPONSE_STATUS_SUCCESSFUL, this4, next4, 1, &len);
	copy = malloc(len);
	memcpy(copy, der, len);
	fake_ocsp(der, len);
	check_ocsp_passthrough(copy, len, res, 0);
	assert_header(res, "Expires", "Mon, 07 Nov 1994 08:49:37 GMT");
	assert_header(res, "Cache-Control", "max-age=0");
	/* the same bytes and a trailing byte: not an OCSPResponse, sent as is, not cached */
	der = malloc(len + 1);
	memcpy(der, copy, len);
	der[len] = 0;
	free(copy);
	copy = malloc(len + 1);
	memcpy(copy, der, len + 1);
	fake_ocsp(der, len + 1);
	check_ocsp_passthrough(copy, len + 1, res, 0);
	assert_not_cached(res);
	free(copy);
	free(res);
}

static void
test_config(void **state)
{
	static const char *bad_listen[] = {"127.0.0.1",
	                                   "localhost:80",
	                                   "1.2.3.4:99999",
	                                   "[::1]80",
	                                   "1.2.3.4:-1",
	                                   "1.2.3.4: 80",
	                                   ":80",
	                                   "[::1]:",
	                                   "1.2.3.4:80x",
	                                   "1.2.3.4:",
	                                   "::1:80",
	                                   "[::1:80",
	                                   "1.2.3:80",
	                                   "",
	                                   "[fe80::1%lo]:80",
	                                   "0x7f.0.0.1:80"};
	struct sg_http_config c;
	struct sg_http *h;
	char why[256];
	size_t i;

	for (i = 0; i < sizeof(bad_listen) / sizeof(bad_listen[0]); i++) {
		c = config();
		c.listen = bad_listen[i];
		why[0] = '\0';
		assert_null(sg_http_start(zctx, &c, why, sizeof(why)));
		assert_non_null(strstr(why, "listen address"));
	}
	c = config();
	c.front_ep = "tcp://127.0.0.1:5555";
	assert_null(sg_http_start(zctx, &c, why, sizeof(why)));
	assert_non_null(strstr(why, "inproc"));
	c = config();
	c.max_connections = 0;
	assert_null(sg_http_start(zctx, &c, why, sizeof(why)));
	c.max_connections = SG_HTTP_MAX_CONNECTIONS + 1;
	assert_null(sg_http_start(zctx, &c, why, sizeof(why)));
	c = config();
	c.timeout_ms = 0;
	assert_null(sg_http_start(zctx, &c, why, sizeof(why)));
	c = config();
	c.max_body = 0;
	assert_null(sg_http_start(zctx, &c, why, sizeof(why)));
	c.max_body = SG_HTTP_MAX_BODY + 1;
	assert_null(sg_http_start(zctx, &c, why, sizeof(why)));
	assert_null(sg_http_start(NULL, &c, why, sizeof(why)));
	/* the upper bounds themselves are accepted */
	c = config();
	c.max_connections = SG_HTTP_MAX_CONNECTIONS;
	c.max_body = SG_HTTP_MAX_BODY;
	assert_non_null(h = sg_http_start(zctx, &c, why, sizeof(why)));
	sg_http_stop(h);
	/* a port in use */
	c = config();
	snprintf(why, sizeof(why), "127.0.0.1:%u", (unsigned)sg_http_port(http));
	c.listen = why;
	{
		char why2[256] = "";

		assert_null(sg_http_start(zctx, &c, why2, sizeof(why2)));
		assert_non_null(strstr(why2, "cannot listen"));
	}
	sg_http_stop(NULL);
}

/* [IPv6]:PORT, when the machine has IPv6 loopback. */
static void
test_ipv6(void **state)
{
	struct sg_http_config c = config();
	struct sockaddr_in6 a;
	struct sg_http *h;
	struct res *res;
	char why[256];
	int fd;

	c.listen = "[::1]:0";
	if ((h = sg_http_start(zctx, &c, why, sizeof(why))) == NULL) {
		print_message("no IPv6 loopback here (%s): skipped\n", why);
		skip();
	}
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_port = htons(sg_http_port(h));
	a.sin6_addr = in6addr_loopback;
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	res = res_new();
	assert_int_equal(send_all(fd, "GET /tsa HTTP/1.1\r\nHost: t\r\n\r\n", 30), 0);
	read_response(fd, res);
	assert_int_equal(res->status, 405);
	close(fd);
	free(res);
	sg_http_stop(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tsa_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rejection_is_200, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctype_variants, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wire_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_large_declared, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_body_boundary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chunked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_method, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_type, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_percent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_front_silent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_reply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_replies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_front_unbound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_front_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_with_partial_requests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_finishes_inflight, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_fails_unanswered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crl_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crl_cache_headers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crl_head, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crl_bad_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crl_wire_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crl_bad_replies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crl_methods, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ocsp_post, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ocsp_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ocsp_get_bad, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ocsp_methods_and_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ocsp_size_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ocsp_too_large_declared, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ocsp_wire_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ocsp_error_is_200, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ocsp_cache_headers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
	};
	int rc;

	sg_log_init("sg_http_test", SG_LOG_WARN, 0);
	zctx = zmq_ctx_new();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	zmq_ctx_term(zctx);
	return rc;
}
