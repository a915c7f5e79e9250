/*
 * sg_http: HTTP requests -> wire protocol v1 requests to the front, and back.
 *
 * Threads.  libmicrohttpd runs one internal polling thread (epoll) that
 * parses HTTP and calls sg_http_access(); one bridge thread owns the only
 * ZeroMQ socket (a DEALER connected to the front's inproc ROUTER).  When a
 * request's body is complete, the access handler suspends the connection
 * (MHD_suspend_connection) and queues the request for the bridge; the bridge
 * sends it, matches the reply by id, stores the HTTP answer in the request
 * and resumes the connection (MHD_resume_connection is safe from any
 * thread); MHD then calls the handler again, which queues the response.
 *
 * Why this and not a thread pool with a DEALER per worker: a worker would
 * block for up to timeout_ms on each reply, so one slow HSM operation would
 * stall every connection of that worker and the concurrency would be the
 * pool size.  Here MHD's thread never blocks, the number of requests in
 * flight is bounded by max_connections alone, a ZeroMQ socket is only ever
 * used by one thread, and request ids are unique per socket by construction
 * (one counter, one socket).  The HTTP side is light (bodies of a few KiB);
 * the heavy work happens behind the front.
 *
 * Ownership of a request (struct sg_http_req): MHD's thread creates it at
 * the first call of the handler and frees it in the request-completed
 * callback.  Between submission and resumption the bridge may touch it and
 * the MHD thread does not (the connection is suspended, and MHD neither
 * calls the handler nor closes a suspended connection); after
 * MHD_resume_connection the bridge forgets it.  sg_http_stop() resumes
 * every suspended connection (by letting the bridge answer or expire each
 * request) before MHD_stop_daemon(), which the MHD API requires.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <msgpack.h>
#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <zmq.h>

#include "sg_err.h"
#include "sg_http.h"
#include "sg_log.h"
#include "sg_wire.h"

/*
 * Per-connection memory of libmicrohttpd: request line, headers and I/O
 * buffers (bodies are copied out as they arrive).  A request whose line or
 * headers do not fit is answered by MHD itself (414/431) and closed.
 */
#define SG_HTTP_CONN_MEMORY (16 * 1024)
#define SG_HTTP_RETRY_BUSY 1        /* Retry-After of a 503 busy, seconds */
#define SG_HTTP_RETRY_UNAVAILABLE 5 /* Retry-After of the other 503s */
#define SG_HTTP_LOG_FIELD 64        /* bytes of method and path kept for the log */
#define SG_HTTP_EP_MAX 256
#define SG_HTTP_LISTEN_MAX 64
#define SG_HTTP_TIMEOUT_MAX (3600u * 1000u)
#define SG_HTTP_TEXT "text/plain; charset=utf-8"

struct sg_http_out {
	unsigned status;
	const char *ctype;   /* of body on success */
	unsigned char *body; /* malloc'd; handed to MHD */
	size_t len;
	const char *err;      /* error name: the text/plain body and the log; NULL on success */
	const char *hint;     /* fixed text added to the error body, or NULL */
	unsigned retry_after; /* seconds; 0 = no Retry-After */
	/* Freshness of a success (RFC 7234); cache "" = Cache-Control: no-store. */
	char cache[32];         /* Cache-Control value */
	char last_modified[32]; /* RFC 7231 IMF-fixdate, or "" */
	char expires[32];       /* RFC 7231 IMF-fixdate, or "" */
	char why[SG_WHY_MAX];   /* log detail, never sent */
};

/*
 * A route: method, path, request media type and the translations.
 *
 * The path is exact (suffix NULL) or a pattern "path ARG suffix" whose ARG
 * arg_ok accepts (NULL: any ARG): a path whose ARG is refused matches no
 * route, so it is an unknown path (404) like any other.  Several routes may
 * share a path, told apart by method or by Content-Type ("/" serves RFC 3161
 * and RFC 6960 clients).
 *
 * ctype is the media type of the request body; NULL for a request without
 * body (GET, HEAD), whose input is its ARG as from_arg turns it into bytes.
 * build() then makes the wire request of the input (the body, or those
 * bytes), and answer() the response of a successful wire reply; answer()
 * also sees the input, to check that the reply is about it.
 */
struct sg_http_route {
	const char *method;
	const char *path;
	const char *suffix;
	int (*arg_ok)(const char *arg, size_t len);
	const char *ctype;
	enum sg_op op;
	int key_in_path; /* the ARG names a key: unknown_key and not_found are 404 */
	int arg_is_body; /* the ARG is the request itself: logged by its length only */
	/* ARG -> input (malloc'd): 0, SG_ERR_NOMEM, or SG_ERR_MALFORMED with *hint set (400). */
	int (*from_arg)(const char *arg, size_t len, unsigned char **in, size_t *in_len,
	                const char **hint);
	/* Input -> wire request (id set by the caller): 0, SG_ERR_TOO_LARGE or SG_ERR_MALFORMED. */
	int (*build)(const unsigned char *in, size_t len, struct sg_req *req);
	/*
	 * Successful wire reply -> response (may take ownership of reply data):
	 * 0, or < 0 with out->why set (502).
	 */
	int (*answer)(const unsigned char *in, size_t in_len, struct sg_rep *rep,
	              struct sg_http_out *out);
};

enum sg_http_state {
	SG_HTTP_READING = 0, /* MHD thread: headers in, body arriving */
	SG_HTTP_QUEUED,      /* in h->queue, connection suspended */
	SG_HTTP_SENT,        /* in h->pending (bridge only), connection suspended */
	SG_HTTP_DONE,        /* out is final; connection resumed or never suspended */
};

struct sg_http;

struct sg_http_req {
	struct sg_http *h;
	struct MHD_Connection *conn;
	const struct sg_http_route *route;
	enum sg_http_state state;
	int submitted;       /* counted in h->inflight */
	char *path;          /* the URL's path, percent-decoded */
	int head;            /* a HEAD request: no body is sent */
	unsigned char *body; /* the request body, or the input from_arg made of the path */
	size_t len, cap;
	size_t over;      /* bytes discarded past max_body (chunked bodies) */
	size_t extra;     /* body bytes sent with a request that has none (discarded) */
	uint64_t id;      /* wire id, bridge only */
	int64_t deadline; /* monotonic ms */
	struct sg_http_req *next;
	struct sg_http_out out;
	char what[2 * SG_HTTP_LOG_FIELD + 2]; /* "METHOD /path", sanitised, for the log */
	char allow[32];                       /* Allow header of a 405 */
	char accept[96];                      /* media types of the path and method, for a 415 */
};

struct sg_http {
	struct MHD_Daemon *daemon;
	void *dealer; /* bridge thread only once started */
	int efd;      /* wakes the bridge */
	pthread_t bridge;
	int bridge_started;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sg_http_req *queue_head, *queue_tail; /* mu */
	int stopping;                                /* mu */
	unsigned inflight;                           /* mu: submitted, not yet completed */
	atomic_int closing;                          /* copy of stopping for response headers */

	/* bridge thread only */
	struct sg_http_req *pending;
	uint64_t next_id;
	struct sg_wire_dec *dec;
	msgpack_sbuffer sb;
	msgpack_zone zone;
	int zone_ok;
	struct sg_req wreq;
	struct sg_rep wrep;

	char listen[SG_HTTP_LISTEN_MAX + 1];
	unsigned timeout_ms;
	size_t max_body;
	uint16_t port;

	atomic_int starting; /* MHD messages go to start_msg while MHD_start_daemon runs */
	char start_msg[SG_WHY_MAX];

	atomic_uint_fast64_t requests, s2xx, s4xx, s5xx, bytes_in, bytes_out, forwarded, timeouts,
	    stale;
};

/* ---- routes ---- */

static int
sg_http_tsa_build(const unsigned char *body, size_t len, struct sg_req *req)
{
	if (len == 0)
		return SG_ERR_MALFORMED;
	if (len > sizeof(req->u.ts.tsq))
		return SG_ERR_TOO_LARGE;
	req->op = SG_OP_TIMESTAMP;
	memcpy(req->u.ts.tsq, body, len);
	req->u.ts.tsq_len = len;
	req->u.ts.hash = SG_HASH_NONE;
	return 0;
}

/* Hands the reply's DER to out as a 200 of media type ctype. */
static int
sg_http_take_blob(struct sg_rep *rep, const char *ctype, struct sg_http_out *out)
{
	if (rep->u.blob.data == NULL || rep->u.blob.len == 0) {
		sg_whyf(out->why, sizeof(out->why), "reply without content");
		return SG_ERR_MALFORMED;
	}
	out->status = MHD_HTTP_OK;
	out->ctype = ctype;
	out->body = rep->u.blob.data;
	out->len = rep->u.blob.len;
	rep->u.blob.data = NULL; /* now owned by out, then by MHD */
	rep->u.blob.len = 0;
	return 0;
}

/*
 * Any TimeStampResp is a 200, a PKIStatus rejection included (RFC 3161
 * section 3.4: the status is in the response, not in HTTP).  Never cached:
 * each response answers one query.
 */
static int
sg_http_tsa_answer(const unsigned char *in, size_t in_len, struct sg_rep *rep,
                   struct sg_http_out *out)
{
	return sg_http_take_blob(rep, "application/timestamp-reply", out);
}

/* Largest max-age sent: caches read any larger one as 2^31 (RFC 7234 section 1.2.1). */
#define SG_HTTP_MAX_AGE_MAX UINT64_C(2147483648)
/* 9999-12-31T23:59:59Z: the last second an IMF-fixdate (and a GeneralizedTime) can name. */
#define SG_HTTP_DATE_MAX UINT64_C(253402300799)

/* t as an RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), whatever the locale. */
static int
sg_http_date(uint64_t t, char *buf, size_t buf_len)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt;
	struct tm tm;

	if (t > SG_HTTP_DATE_MAX)
		return SG_ERR_BAD_VALUE;
	tt = (time_t)t;
	if (gmtime_r(&tt, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11)
		return SG_ERR_BAD_VALUE;
	snprintf(buf, buf_len, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
	         months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return 0;
}

/*
 * Lets caches keep a response until next_update (RFC 5019 section 6.2 for
 * OCSP; the same for CRLs): Last-Modified this_update, Expires next_update,
 * max-age the seconds left until next_update (0 once it has passed).
 */
static int
sg_http_fresh_until(struct sg_http_out *out, uint64_t this_update, uint64_t next_update)
{
	time_t now = time(NULL);
	uint64_t left;

	if (next_update < this_update ||
	    sg_http_date(this_update, out->last_modified, sizeof(out->last_modified)) != 0 ||
	    sg_http_date(next_update, out->expires, sizeof(out->expires)) != 0) {
		out->last_modified[0] = out->expires[0] = '\0';
		return SG_ERR_BAD_VALUE;
	}
	left = now >= 0 && next_update > (uint64_t)now ? next_update - (uint64_t)now : 0;
	if (left > SG_HTTP_MAX_AGE_MAX)
		left = SG_HTTP_MAX_AGE_MAX;
	snprintf(out->cache, sizeof(out->cache), "max-age=%" PRIu64, left);
	return 0;
}

/* The ARG as it is (a CA name). */
static int
sg_http_copy_arg(const char *arg, size_t len, unsigned char **in, size_t *in_len, const char **hint)
{
	if ((*in = malloc(len > 0 ? len : 1)) == NULL)
		return SG_ERR_NOMEM;
	memcpy(*in, arg, len);
	*in_len = len;
	return 0;
}

static int
sg_http_crl_build(const unsigned char *in, size_t len, struct sg_req *req)
{
	/* The route accepts only names; checked again, as the wire codec would refuse it. */
	if (!sg_wire_name_valid((const char *)in, len))
		return SG_ERR_MALFORMED;
	req->op = SG_OP_CRL_GET;
	memcpy(req->u.crl.ca, in, len);
	req->u.crl.ca[len] = '\0';
	return 0;
}

/*
 * A CRL is public and the same for everyone until the next one: cacheable
 * until its nextUpdate.  The reply must be about the CA that was asked for.
 */
static int
sg_http_crl_answer(const unsigned char *in, size_t in_len, struct sg_rep *rep,
                   struct sg_http_out *out)
{
	struct sg_crl_rep *c = &rep->u.crl;

	if (c->data == NULL || c->len == 0) {
		sg_whyf(out->why, sizeof(out->why), "crl.get reply without a CRL");
		return SG_ERR_MALFORMED;
	}
	if (strlen(c->ca) != in_len || memcmp(c->ca, in, in_len) != 0) {
		sg_whyf(out->why, sizeof(out->why), "crl.get reply about another CA");
		return SG_ERR_MALFORMED;
	}
	if (sg_http_fresh_until(out, c->this_update, c->next_update) != 0) {
		sg_whyf(out->why, sizeof(out->why),
		        "crl.get reply with unusable times (this_update %" PRIu64
		        ", next_update %" PRIu64 ")",
		        c->this_update, c->next_update);
		return SG_ERR_BAD_VALUE;
	}
	out->status = MHD_HTTP_OK;
	out->ctype = "application/pkix-crl";
	out->body = c->data;
	out->len = c->len;
	c->data = NULL; /* now owned by out, then by MHD */
	c->len = 0;
	return 0;
}

/*
 * The ARG of GET /ocsp/ARG: the URL-encoded (percent-decoded already, with
 * the rest of the path) base64 of a DER OCSPRequest (RFC 6960 appendix
 * A.1).  Only the RFC 4648 section 4 alphabet with its padding: OpenSSL's
 * decoder would also skip blanks and line breaks, which a URL cannot mean.
 */
static int
sg_http_base64_arg(const char *arg, size_t len, unsigned char **in, size_t *in_len,
                   const char **hint)
{
	EVP_ENCODE_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	int n = 0, fin = 0, r = SG_ERR_MALFORMED;
	size_t i;

	*hint = "bad base64 in the path";
	if (len == 0 || len % 4 != 0 || len > INT_MAX)
		goto out;
	for (i = 0; i < len; i++) {
		char c = arg[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || c == '='))
			goto out;
	}
	/* The decoded bytes are fewer than the characters. */
	if ((buf = malloc(len)) == NULL || (ctx = EVP_ENCODE_CTX_new()) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *)arg, (int)len) < 0 ||
	    EVP_DecodeFinal(ctx, buf + n, &fin) != 1 || n + fin <= 0)
		goto out;
	*in = buf;
	*in_len = (size_t)n + (size_t)fin;
	buf = NULL;
	r = 0;
out:
	EVP_ENCODE_CTX_free(ctx);
	free(buf);
	return r;
}

static int
sg_http_ocsp_build(const unsigned char *in, size_t len, struct sg_req *req)
{
	if (len == 0)
		return SG_ERR_MALFORMED;
	if (len > sizeof(req->u.ocsp.der))
		return SG_ERR_TOO_LARGE;
	req->op = SG_OP_OCSP;
	memcpy(req->u.ocsp.der, in, len);
	req->u.ocsp.len = len;
	return 0;
}

/* An ASN1_GENERALIZEDTIME as seconds since the epoch; 0 or SG_ERR_BAD_VALUE. */
static int
sg_http_asn1_time(const ASN1_GENERALIZEDTIME *t, uint64_t *out)
{
	struct tm tm;
	time_t tt;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 || (tt = timegm(&tm)) < 0)
		return SG_ERR_BAD_VALUE;
	*out = (uint64_t)tt;
	return 0;
}

/*
 * Cache headers of an OCSPResponse (RFC 5019 section 6.2): a successful
 * basic response whose every SingleResponse has a nextUpdate is fresh
 * until the earliest of them, and last modified at the latest thisUpdate.
 * Anything else (an error status, no nextUpdate, meaning newer information
 * is always available: RFC 6960 section 4.2.2.1, bytes OpenSSL does not
 * parse) keeps no-store.  The listener does not judge the response: it is
 * sent as the front made it either way.
 */
static void
sg_http_ocsp_freshness(const unsigned char *der, size_t len, struct sg_http_out *out)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *basic = NULL;
	OCSP_SINGLERESP *single;
	ASN1_GENERALIZEDTIME *this_upd, *next_upd;
	uint64_t t, last = 0, until = UINT64_MAX;
	int i, n, reason;

	if (len > LONG_MAX || (resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL ||
	    p != der + len || OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (basic = OCSP_response_get1_basic(resp)) == NULL || (n = OCSP_resp_count(basic)) <= 0)
		goto out;
	for (i = 0; i < n; i++) {
		this_upd = next_upd = NULL;
		if ((single = OCSP_resp_get0(basic, i)) == NULL ||
		    OCSP_single_get0_status(single, &reason, NULL, &this_upd, &next_upd) < 0 ||
		    sg_http_asn1_time(this_upd, &t) != 0)
			goto out;
		if (t > last)
			last = t;
		if (next_upd == NULL || sg_http_asn1_time(next_upd, &t) != 0)
			goto out;
		if (t < until)
			until = t;
	}
	if (sg_http_fresh_until(out, last, until) != 0)
		out->cache[0] = '\0';
out:
	OCSP_BASICRESP_free(basic);
	OCSP_RESPONSE_free(resp);
}

/*
 * Any OCSPResponse is a 200, malformedRequest and unauthorized included
 * (RFC 6960 appendix A.1: the status is in the response).
 */
static int
sg_http_ocsp_answer(const unsigned char *in, size_t in_len, struct sg_rep *rep,
                    struct sg_http_out *out)
{
	if (rep->u.blob.data != NULL && rep->u.blob.len > 0)
		sg_http_ocsp_freshness(rep->u.blob.data, rep->u.blob.len, out);
	return sg_http_take_blob(rep, "application/ocsp-response", out);
}

#define SG_HTTP_TSQ "application/timestamp-query"
#define SG_HTTP_OCSP_REQ "application/ocsp-request"

/*
 * "/" as well as "/tsa" and "/ocsp": TSA and OCSP clients are often
 * configured with the bare host URL and post to the root (RFC 3161 section
 * 3.4 names no path); the Content-Type tells the two apart.  "/ocsp/" too,
 * for responder URLs written with a trailing slash.
 *
 * HEAD of a CRL: for caches and mirrors that check Last-Modified and size
 * first.  Not for GET /ocsp/ARG: each such request costs a signature.
 */
static const struct sg_http_route sg_http_routes[] = {
    {"POST", "/tsa", NULL, NULL, SG_HTTP_TSQ, SG_OP_TIMESTAMP, 0, 0, NULL, sg_http_tsa_build,
     sg_http_tsa_answer},
    {"POST", "/", NULL, NULL, SG_HTTP_TSQ, SG_OP_TIMESTAMP, 0, 0, NULL, sg_http_tsa_build,
     sg_http_tsa_answer},
    {"GET", "/crl/", ".crl", sg_wire_name_valid, NULL, SG_OP_CRL_GET, 1, 0, sg_http_copy_arg,
     sg_http_crl_build, sg_http_crl_answer},
    {"HEAD", "/crl/", ".crl", sg_wire_name_valid, NULL, SG_OP_CRL_GET, 1, 0, sg_http_copy_arg,
     sg_http_crl_build, sg_http_crl_answer},
    {"POST", "/ocsp", NULL, NULL, SG_HTTP_OCSP_REQ, SG_OP_OCSP, 0, 0, NULL, sg_http_ocsp_build,
     sg_http_ocsp_answer},
    {"POST", "/ocsp/", NULL, NULL, SG_HTTP_OCSP_REQ, SG_OP_OCSP, 0, 0, NULL, sg_http_ocsp_build,
     sg_http_ocsp_answer},
    {"POST", "/", NULL, NULL, SG_HTTP_OCSP_REQ, SG_OP_OCSP, 0, 0, NULL, sg_http_ocsp_build,
     sg_http_ocsp_answer},
    {"GET", "/ocsp/", "", NULL, NULL, SG_OP_OCSP, 0, 1, sg_http_base64_arg, sg_http_ocsp_build,
     sg_http_ocsp_answer},
};
#define SG_HTTP_NROUTES (sizeof(sg_http_routes) / sizeof(sg_http_routes[0]))

/* 1 if path is one of rt's; *arg, *arg_len: its ARG (empty for an exact path). */
static int
sg_http_route_match(const struct sg_http_route *rt, const char *path, const char **arg,
                    size_t *arg_len)
{
	size_t pl = strlen(path), rl = strlen(rt->path), sl;

	*arg = path + pl;
	*arg_len = 0;
	if (rt->suffix == NULL)
		return strcmp(path, rt->path) == 0;
	sl = strlen(rt->suffix);
	if (pl < rl + sl || memcmp(path, rt->path, rl) != 0 ||
	    memcmp(path + pl - sl, rt->suffix, sl) != 0)
		return 0;
	*arg = path + rl;
	*arg_len = pl - rl - sl;
	return rt->arg_ok == NULL || rt->arg_ok(*arg, *arg_len);
}

/* ---- helpers ---- */

static int64_t
sg_http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copies at most SG_HTTP_LOG_FIELD bytes of s, each non-printable byte as '?'. */
static void
sg_http_sanitise(char *dst, size_t dst_len, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i < SG_HTTP_LOG_FIELD && i + 1 < dst_len; i++)
		dst[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
	dst[i] = '\0';
}

/*
 * 1 if the Content-Type header value v names the media type want: case
 * insensitive, parameters (";...") and surrounding blanks ignored.
 */
static int
sg_http_ctype_is(const char *v, const char *want)
{
	size_t n, wl = strlen(want);

	if (v == NULL)
		return 0;
	while (*v == ' ' || *v == '\t')
		v++;
	n = strcspn(v, "; \t");
	if (n != wl || strncasecmp(v, want, wl) != 0)
		return 0;
	v += n;
	while (*v == ' ' || *v == '\t')
		v++;
	return *v == '\0' || *v == ';';
}

/* The client's address as "a.b.c.d:port" or "[v6]:port". */
static void
sg_http_peer(struct MHD_Connection *conn, char *out, size_t out_len)
{
	const union MHD_ConnectionInfo *ci;
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	const struct sockaddr *sa;
	socklen_t sl;

	snprintf(out, out_len, "?");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	sl = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (getnameinfo(sa, sl, host, sizeof(host), serv, sizeof(serv),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return;
	snprintf(out, out_len, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

static void
sg_http_set_err(struct sg_http_out *out, unsigned status, const char *err, const char *hint,
                unsigned retry_after)
{
	out->status = status;
	out->err = err;
	out->hint = hint;
	out->retry_after = retry_after;
}

/*
 * Wire error -> HTTP.  Errors about the client's input are 400; a key the
 * path names (a CA) that the front does not know 404; refusals by policy
 * 403; transient conditions 503 with Retry-After, a missing TSA 503
 * without; anything else (errors in a request sg_http built itself, HSM
 * failures, a key the front chose itself such as the TSA's) is 500
 * "internal", without detail: the detail goes to the log.
 */
static void
sg_http_map_err(const struct sg_rep *rep, const struct sg_http_route *rt, struct sg_http_out *out)
{
	int err = rep->err;

	switch (err) {
	case SG_ERR_UNKNOWN_KEY:
	case SG_ERR_NOT_FOUND:
		if (rt->key_in_path)
			sg_http_set_err(out, MHD_HTTP_NOT_FOUND, sg_err_name(err), NULL, 0);
		else
			sg_http_set_err(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0);
		break;
	case SG_ERR_DENIED:
		sg_http_set_err(out, MHD_HTTP_FORBIDDEN, sg_err_name(err), NULL, 0);
		break;
	case SG_ERR_BUSY:
		sg_http_set_err(out, MHD_HTTP_SERVICE_UNAVAILABLE, sg_err_name(err), NULL,
		                SG_HTTP_RETRY_BUSY);
		break;
	case SG_ERR_SHUTTING_DOWN:
	case SG_ERR_HSM_UNAVAILABLE:
	case SG_ERR_AUDIT_UNAVAILABLE:
		sg_http_set_err(out, MHD_HTTP_SERVICE_UNAVAILABLE, sg_err_name(err), NULL,
		                SG_HTTP_RETRY_UNAVAILABLE);
		break;
	case SG_ERR_NO_TSA:
		/* Not configured, or its key or certificate unusable: no retry hint. */
		sg_http_set_err(out, MHD_HTTP_SERVICE_UNAVAILABLE, sg_err_name(err), NULL, 0);
		break;
	case SG_ERR_MALFORMED:
	case SG_ERR_BAD_VALUE:
	case SG_ERR_TOO_LARGE:
	case SG_ERR_UNKNOWN_HASH:
	case SG_ERR_DIGEST_LENGTH:
		sg_http_set_err(out, MHD_HTTP_BAD_REQUEST, sg_err_name(err), NULL, 0);
		break;
	default:
		sg_http_set_err(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0);
		break;
	}
	sg_whyf(out->why, sizeof(out->why), "the front answered %s (%s)", sg_err_name(err),
	        rep->err_msg);
}

/* ---- MHD thread ---- */

static void
sg_http_count(struct sg_http *h, unsigned status, size_t len)
{
	atomic_fetch_add_explicit(&h->requests, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->bytes_out, len, memory_order_relaxed);
	if (status < 300)
		atomic_fetch_add_explicit(&h->s2xx, 1, memory_order_relaxed);
	else if (status >= 400 && status < 500)
		atomic_fetch_add_explicit(&h->s4xx, 1, memory_order_relaxed);
	else if (status >= 500)
		atomic_fetch_add_explicit(&h->s5xx, 1, memory_order_relaxed);
}

/* Queues r->out as the response; logs one line if it is an error. */
static enum MHD_Result
sg_http_queue(struct sg_http_req *r)
{
	struct sg_http *h = r->h;
	struct sg_http_out *o = &r->out;
	struct MHD_Response *resp;
	char text[128], peer[NI_MAXHOST + NI_MAXSERV + 4], num[16];
	size_t len;
	const char *cache;
	enum MHD_Result ret;
	int fresh;

	r->state = SG_HTTP_DONE;
	/* Only a success the route declared fresh may be cached; errors never. */
	fresh = o->err == NULL && o->cache[0] != '\0';
	cache = fresh ? o->cache : "no-store";
	if (o->err != NULL) {
		snprintf(text, sizeof(text), "%s%s%s\n", o->err, o->hint != NULL ? ": " : "",
		         o->hint != NULL ? o->hint : "");
		len = strlen(text);
		resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_COPY);
	} else {
		len = o->len;
		resp = MHD_create_response_from_buffer(len, o->body, MHD_RESPMEM_MUST_FREE);
		if (resp != NULL)
			o->body = NULL;
	}
	if (resp == NULL)
		return MHD_NO;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                            o->err != NULL ? SG_HTTP_TEXT : o->ctype) != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache) != MHD_YES ||
	    (fresh && o->last_modified[0] != '\0' &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, o->last_modified) !=
	         MHD_YES) ||
	    (fresh && o->expires[0] != '\0' &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_EXPIRES, o->expires) != MHD_YES) ||
	    (o->status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow) != MHD_YES) ||
	    (atomic_load(&h->closing) &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	if (o->retry_after > 0) {
		snprintf(num, sizeof(num), "%u", o->retry_after);
		if (MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, num) != MHD_YES) {
			MHD_destroy_response(resp);
			return MHD_NO;
		}
	}
	ret = MHD_queue_response(r->conn, o->status, resp);
	MHD_destroy_response(resp);
	/* MHD sends no body in answer to HEAD. */
	sg_http_count(h, o->status, r->head ? 0 : len);
	if (o->status >= 400) {
		sg_http_peer(r->conn, peer, sizeof(peer));
		sg_log(o->status >= 500 ? SG_LOG_WARN : SG_LOG_INFO, "http: %s %s: %u %s%s%s", peer,
		       r->what, o->status, o->err != NULL ? o->err : "",
		       o->why[0] != '\0' ? ": " : "", o->why);
	}
	return ret;
}

static enum MHD_Result
sg_http_refuse(struct sg_http_req *r, unsigned status, const char *err, const char *hint,
               unsigned retry_after)
{
	sg_http_set_err(&r->out, status, err, hint, retry_after);
	return sg_http_queue(r);
}

/* Lists the methods of the routes of path into r->allow. */
static void
sg_http_allow(struct sg_http_req *r, const char *path)
{
	const char *arg;
	size_t i, j, arg_len;
	int seen;

	r->allow[0] = '\0';
	for (i = 0; i < SG_HTTP_NROUTES; i++) {
		if (!sg_http_route_match(&sg_http_routes[i], path, &arg, &arg_len))
			continue;
		for (seen = 0, j = 0; j < i && !seen; j++)
			seen = strcmp(sg_http_routes[i].method, sg_http_routes[j].method) == 0 &&
			       sg_http_route_match(&sg_http_routes[j], path, &arg, &arg_len);
		if (!seen)
			snprintf(r->allow + strlen(r->allow), sizeof(r->allow) - strlen(r->allow),
			         "%s%s", r->allow[0] != '\0' ? ", " : "", sg_http_routes[i].method);
	}
}

static int
sg_http_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes the %HH escapes of a path (RFC 3986 section 2.1) into a new
 * string: 0, SG_ERR_NOMEM, or SG_ERR_MALFORMED for a '%' without two hex
 * digits or an escaped NUL.  MHD's own unescaping is turned off
 * (sg_http_raw_url): it lets such escapes through as they are.
 */
static int
sg_http_unescape(const char *s, char **out)
{
	size_t i, n = 0, len = strlen(s);
	char *d;
	int hi, lo;

	if ((d = malloc(len + 1)) == NULL)
		return SG_ERR_NOMEM;
	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			d[n++] = s[i];
			continue;
		}
		hi = i + 2 < len ? sg_http_hex(s[i + 1]) : -1;
		lo = hi < 0 ? -1 : sg_http_hex(s[i + 2]);
		if (lo < 0 || (hi | lo) == 0) {
			free(d);
			return SG_ERR_MALFORMED;
		}
		d[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	d[n] = '\0';
	*out = d;
	return 0;
}

/* Appends media type t to r->accept, once. */
static void
sg_http_accept(struct sg_http_req *r, const char *t)
{
	size_t n = strlen(r->accept), tl = strlen(t);
	const char *p;

	for (p = r->accept; (p = strstr(p, t)) != NULL; p += tl)
		if ((p == r->accept || p[-1] == ' ') && (p[tl] == '\0' || p[tl] == ','))
			return;
	snprintf(r->accept + n, sizeof(r->accept) - n, "%s%s", n > 0 ? ", " : "", t);
}

/*
 * First call of a request (headers in, no body yet): route it, check its
 * declared length and decode the input a path carries, so that refusals
 * happen before any body is read (and before MHD sends "100 Continue").
 */
static enum MHD_Result
sg_http_begin(struct sg_http *h, struct sg_http_req *r, const char *url, const char *method)
{
	const struct sg_http_route *rt;
	const char *ctype, *cl, *arg = NULL, *a, *hint = NULL;
	int path_known = 0, method_known = 0, rc;
	unsigned long long n;
	size_t i, arg_len = 0, al;
	char *end;

	if ((rc = sg_http_unescape(url, &r->path)) != 0) {
		if (rc == SG_ERR_NOMEM)
			return MHD_NO;
		return sg_http_refuse(r, MHD_HTTP_BAD_REQUEST, "malformed",
		                      "bad percent-encoding in the path", 0);
	}
	r->head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	ctype = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	for (i = 0; i < SG_HTTP_NROUTES && r->route == NULL; i++) {
		rt = &sg_http_routes[i];
		if (!sg_http_route_match(rt, r->path, &a, &al))
			continue;
		path_known = 1;
		if (strcmp(method, rt->method) != 0)
			continue;
		method_known = 1;
		if (rt->ctype != NULL && !sg_http_ctype_is(ctype, rt->ctype)) {
			sg_http_accept(r, rt->ctype);
			continue;
		}
		r->route = rt;
		arg = a;
		arg_len = al;
	}
	if (!path_known)
		return sg_http_refuse(r, MHD_HTTP_NOT_FOUND, "not_found", NULL, 0);
	if (!method_known) {
		sg_http_allow(r, r->path);
		return sg_http_refuse(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL,
		                      0);
	}
	if (r->route == NULL)
		return sg_http_refuse(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
		                      r->accept, 0);
	rt = r->route;
	if (rt->arg_is_body)
		snprintf(r->what, sizeof(r->what), "%s %s<%zu characters>", rt->method, rt->path,
		         arg_len);
	/* MHD has checked the syntax; chunked bodies have no Content-Length. */
	cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno != 0 || end == cl || *end != '\0' || n > h->max_body)
			return sg_http_refuse(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", NULL, 0);
		if (rt->ctype == NULL && n > 0)
			return sg_http_refuse(r, MHD_HTTP_BAD_REQUEST, "malformed",
			                      "unexpected body", 0);
		if (rt->ctype != NULL && n > 0 && (r->body = malloc(n)) == NULL)
			return MHD_NO;
		r->cap = n;
	}
	if (rt->from_arg != NULL) {
		if ((rc = rt->from_arg(arg, arg_len, &r->body, &r->len, &hint)) != 0) {
			if (rc == SG_ERR_NOMEM)
				return MHD_NO;
			return sg_http_refuse(r, MHD_HTTP_BAD_REQUEST, "malformed", hint, 0);
		}
		r->cap = r->len;
	}
	return MHD_YES;
}

/* Appends a piece of the body; past max_body it is discarded and counted. */
static enum MHD_Result
sg_http_body(struct sg_http *h, struct sg_http_req *r, const char *data, size_t n)
{
	unsigned char *p;
	size_t cap;

	/* A request without body (GET, HEAD) that has one: refused once it is in. */
	if (r->route->ctype == NULL) {
		r->extra += n;
		if (r->extra > h->max_body) {
			char peer[NI_MAXHOST + NI_MAXSERV + 4];

			sg_http_peer(r->conn, peer, sizeof(peer));
			sg_info("http: %s %s: body over %zu bytes, connection closed", peer,
			        r->what, h->max_body);
			return MHD_NO;
		}
		return MHD_YES;
	}
	if (r->over > 0 || n > h->max_body - r->len) {
		r->over += n;
		/*
		 * A 413 can only be queued once the body is in: discard up to
		 * another max_body of it, then cut the connection.
		 */
		if (r->over > h->max_body) {
			char peer[NI_MAXHOST + NI_MAXSERV + 4];

			sg_http_peer(r->conn, peer, sizeof(peer));
			sg_info("http: %s %s: body over %zu bytes, connection closed", peer,
			        r->what, h->max_body);
			return MHD_NO;
		}
		return MHD_YES;
	}
	if (r->len + n > r->cap) {
		cap = r->cap == 0 ? 1024 : r->cap;
		while (cap < r->len + n)
			cap *= 2;
		if (cap > h->max_body)
			cap = h->max_body;
		if ((p = realloc(r->body, cap)) == NULL)
			return MHD_NO;
		r->body = p;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	return MHD_YES;
}

static void
sg_http_wake(struct sg_http *h)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already non-zero: the bridge will wake. */
	if (write(h->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		sg_warn("http: cannot wake the bridge thread: %s", strerror(errno));
}

/* The body is in: hand the request to the bridge and suspend the connection. */
static enum MHD_Result
sg_http_submit(struct sg_http *h, struct sg_http_req *r)
{
	if (r->over > 0)
		return sg_http_refuse(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", NULL, 0);
	if (r->extra > 0)
		return sg_http_refuse(r, MHD_HTTP_BAD_REQUEST, "malformed", "unexpected body", 0);
	if (r->len == 0)
		return sg_http_refuse(r, MHD_HTTP_BAD_REQUEST, "malformed", "empty body", 0);
	atomic_fetch_add_explicit(&h->bytes_in, r->len, memory_order_relaxed);
	pthread_mutex_lock(&h->mu);
	if (h->stopping) {
		pthread_mutex_unlock(&h->mu);
		return sg_http_refuse(r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting_down", NULL,
		                      SG_HTTP_RETRY_UNAVAILABLE);
	}
	/* Suspended before the bridge can see it: it may resume it at once. */
	MHD_suspend_connection(r->conn);
	r->state = SG_HTTP_QUEUED;
	r->submitted = 1;
	r->deadline = sg_http_now_ms() + h->timeout_ms;
	r->next = NULL;
	if (h->queue_tail != NULL)
		h->queue_tail->next = r;
	else
		h->queue_head = r;
	h->queue_tail = r;
	h->inflight++;
	pthread_mutex_unlock(&h->mu);
	sg_http_wake(h);
	return MHD_YES;
}

static enum MHD_Result
sg_http_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
               const char *version, const char *upload_data, size_t *upload_data_size,
               void **con_cls)
{
	struct sg_http *h = cls;
	struct sg_http_req *r = *con_cls;
	char m[SG_HTTP_LOG_FIELD + 1], p[SG_HTTP_LOG_FIELD + 1];

	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		r->h = h;
		r->conn = conn;
		sg_http_sanitise(m, sizeof(m), method);
		sg_http_sanitise(p, sizeof(p), url);
		snprintf(r->what, sizeof(r->what), "%s %s", m, p);
		*con_cls = r;
		return sg_http_begin(h, r, url, method);
	}
	switch (r->state) {
	case SG_HTTP_READING:
		if (*upload_data_size != 0) {
			size_t n = *upload_data_size;

			*upload_data_size = 0;
			return sg_http_body(h, r, upload_data, n);
		}
		return sg_http_submit(h, r);
	case SG_HTTP_DONE:
		/* Resumed by the bridge: the answer is ready. */
		return sg_http_queue(r);
	case SG_HTTP_QUEUED:
	case SG_HTTP_SENT:
	default:
		/* Not called while suspended (MHD contract); nothing to do. */
		return MHD_YES;
	}
}

static void
sg_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                  enum MHD_RequestTerminationCode toe)
{
	struct sg_http *h = cls;
	struct sg_http_req *r = *con_cls;

	if (r == NULL)
		return;
	*con_cls = NULL;
	if (r->submitted) {
		pthread_mutex_lock(&h->mu);
		h->inflight--;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
	}
	free(r->path);
	free(r->body);
	free(r->out.body);
	free(r);
}

/*
 * MHD's unescaping callback, as a no-op: the handler gets the path as it
 * was sent and sg_http_unescape() decodes it strictly.  (Query arguments,
 * which no route reads, stay escaped too.)
 */
static size_t
sg_http_raw_url(void *cls, struct MHD_Connection *conn, char *s)
{
	return strlen(s);
}

__attribute__((format(printf, 2, 0))) static void
sg_http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct sg_http *h = cls;
	char buf[SG_WHY_MAX];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (atomic_load(&h->starting))
		snprintf(h->start_msg, sizeof(h->start_msg), "%s", buf);
	else
		sg_debug("http: libmicrohttpd: %s", buf);
}

/* ---- bridge thread ---- */

/* Hands r back to MHD's thread; r must be in no list.  The bridge forgets r. */
static void
sg_http_finish(struct sg_http_req *r)
{
	r->state = SG_HTTP_DONE;
	MHD_resume_connection(r->conn);
}

static void
sg_http_forward(struct sg_http *h, struct sg_http_req *r)
{
	int rc;

	memset(&h->wreq, 0, sizeof(h->wreq));
	if (++h->next_id == 0)
		h->next_id = 1; /* 0 is reserved by the protocol */
	r->id = h->wreq.id = h->next_id;
	if ((rc = r->route->build(r->body, r->len, &h->wreq)) != 0) {
		if (rc == SG_ERR_TOO_LARGE)
			sg_http_set_err(&r->out, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", NULL, 0);
		else
			sg_http_set_err(&r->out, MHD_HTTP_BAD_REQUEST, "malformed", NULL, 0);
		sg_http_finish(r);
		return;
	}
	if ((rc = sg_wire_encode_req(&h->sb, &h->wreq)) != 0) {
		sg_http_set_err(&r->out, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, 0);
		sg_whyf(r->out.why, sizeof(r->out.why), "cannot encode the wire request: %s",
		        sg_strerror(rc));
		sg_http_finish(r);
		return;
	}
	/* ZMQ_IMMEDIATE: EAGAIN when the front is not bound, or its queue is full. */
	if (zmq_send(h->dealer, h->sb.data, h->sb.size, ZMQ_DONTWAIT) < 0) {
		sg_http_set_err(&r->out, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", NULL,
		                SG_HTTP_RETRY_UNAVAILABLE);
		sg_whyf(r->out.why, sizeof(r->out.why), "cannot reach the front: %s",
		        zmq_strerror(errno));
		sg_http_finish(r);
		return;
	}
	atomic_fetch_add_explicit(&h->forwarded, 1, memory_order_relaxed);
	r->state = SG_HTTP_SENT;
	r->next = h->pending;
	h->pending = r;
}

static struct sg_http_req *
sg_http_unlink(struct sg_http *h, uint64_t id)
{
	struct sg_http_req **pp, *r;

	for (pp = &h->pending; (r = *pp) != NULL; pp = &r->next) {
		if (r->id == id) {
			*pp = r->next;
			r->next = NULL;
			return r;
		}
	}
	return NULL;
}

/* One reply from the front: match it, translate it, resume its connection. */
static void
sg_http_reply(struct sg_http *h, const void *buf, size_t len)
{
	struct sg_http_req *r;
	char why[SG_WHY_MAX] = "";
	uint64_t id = 0;
	int rc;

	if (sg_wire_peek_id(&h->zone, buf, len, &id) != 0 || (r = sg_http_unlink(h, id)) == NULL) {
		/* A late answer to a request that timed out, or garbage. */
		atomic_fetch_add_explicit(&h->stale, 1, memory_order_relaxed);
		sg_debug("http: dropped a reply of %zu bytes (id %" PRIu64 " not pending)", len,
		         id);
		return;
	}
	if ((rc = sg_wire_decode_rep(h->dec, buf, len, r->route->op, &h->wrep, why)) != 0) {
		sg_http_set_err(&r->out, MHD_HTTP_BAD_GATEWAY, "bad_gateway", NULL, 0);
		sg_whyf(r->out.why, sizeof(r->out.why), "reply does not decode: %s: %s",
		        sg_strerror(rc), why);
	} else if (!h->wrep.ok) {
		sg_http_map_err(&h->wrep, r->route, &r->out);
	} else if (r->route->answer(r->body, r->len, &h->wrep, &r->out) != 0) {
		sg_http_set_err(&r->out, MHD_HTTP_BAD_GATEWAY, "bad_gateway", NULL, 0);
	}
	sg_rep_clear(&h->wrep);
	sg_http_finish(r);
}

static void
sg_http_read(struct sg_http *h)
{
	zmq_msg_t m;
	int more;

	for (;;) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, h->dealer, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		more = zmq_msg_more(&m);
		if (!more)
			sg_http_reply(h, zmq_msg_data(&m), zmq_msg_size(&m));
		zmq_msg_close(&m);
		/* Protocol v1 replies are one frame: drop a longer message whole. */
		while (more) {
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, h->dealer, ZMQ_DONTWAIT) < 0)
				more = 0;
			else
				more = zmq_msg_more(&m);
			zmq_msg_close(&m);
			if (!more)
				atomic_fetch_add_explicit(&h->stale, 1, memory_order_relaxed);
		}
	}
}

/* Fails the pending requests whose deadline has passed (or all, if all). */
static void
sg_http_expire(struct sg_http *h, int64_t now, int all)
{
	struct sg_http_req **pp, *r;

	for (pp = &h->pending; (r = *pp) != NULL;) {
		if (!all && r->deadline > now) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		r->next = NULL;
		atomic_fetch_add_explicit(&h->timeouts, 1, memory_order_relaxed);
		sg_http_set_err(&r->out, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", NULL,
		                SG_HTTP_RETRY_UNAVAILABLE);
		sg_whyf(r->out.why, sizeof(r->out.why), "no answer from the front within %u ms",
		        h->timeout_ms);
		sg_http_finish(r);
	}
}

static long
sg_http_poll_timeout(const struct sg_http *h, int64_t now)
{
	const struct sg_http_req *r;
	int64_t next = -1;

	for (r = h->pending; r != NULL; r = r->next)
		if (next < 0 || r->deadline < next)
			next = r->deadline;
	if (next < 0)
		return -1;
	return next > now ? (long)(next - now) : 0;
}

static void *
sg_http_bridge(void *arg)
{
	struct sg_http *h = arg;
	struct sg_http_req *batch, *r;
	zmq_pollitem_t items[2];
	uint64_t cnt;
	int stopping, n;

	for (;;) {
		pthread_mutex_lock(&h->mu);
		batch = h->queue_head;
		h->queue_head = h->queue_tail = NULL;
		stopping = h->stopping;
		pthread_mutex_unlock(&h->mu);
		while ((r = batch) != NULL) {
			batch = r->next;
			sg_http_forward(h, r);
		}
		sg_http_expire(h, sg_http_now_ms(), 0);
		/* After stopping is set nothing is queued any more. */
		if (stopping && h->pending == NULL)
			break;
		memset(items, 0, sizeof(items));
		items[0].socket = h->dealer;
		items[0].events = ZMQ_POLLIN;
		items[1].fd = h->efd;
		items[1].events = ZMQ_POLLIN;
		n = zmq_poll(items, 2, sg_http_poll_timeout(h, sg_http_now_ms()));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* The context is going away: refuse everything from now on. */
			sg_error("http: bridge stops: %s", zmq_strerror(errno));
			pthread_mutex_lock(&h->mu);
			h->stopping = 1;
			atomic_store(&h->closing, 1);
			batch = h->queue_head;
			h->queue_head = h->queue_tail = NULL;
			pthread_mutex_unlock(&h->mu);
			while ((r = batch) != NULL) {
				batch = r->next;
				r->next = h->pending;
				h->pending = r;
			}
			sg_http_expire(h, 0, 1);
			break;
		}
		if (items[1].revents & ZMQ_POLLIN)
			(void)!read(h->efd, &cnt, sizeof(cnt));
		if (items[0].revents & ZMQ_POLLIN)
			sg_http_read(h);
	}
	return NULL;
}

/* ---- start, stop ---- */

/* "A.B.C.D:PORT" or "[v6]:PORT"; numeric host and port only. */
static int
sg_http_parse_listen(const char *s, struct sockaddr_storage *ss, int *v6, char *why, size_t why_len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	char host[SG_HTTP_LISTEN_MAX + 1];
	const char *port, *close_br;
	unsigned long p;
	size_t hl, i;

	memset(ss, 0, sizeof(*ss));
	if (strlen(s) > SG_HTTP_LISTEN_MAX)
		goto bad;
	if (s[0] == '[') {
		if ((close_br = strchr(s, ']')) == NULL || close_br[1] != ':')
			goto bad;
		hl = (size_t)(close_br - s - 1);
		port = close_br + 2;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		*v6 = 1;
	} else {
		if ((port = strchr(s, ':')) == NULL || strchr(port + 1, ':') != NULL)
			goto bad;
		hl = (size_t)(port - s);
		port++;
		memcpy(host, s, hl);
		host[hl] = '\0';
		*v6 = 0;
	}
	if (port[0] == '\0' || strlen(port) > 5)
		goto bad;
	for (i = 0; port[i] != '\0'; i++)
		if (port[i] < '0' || port[i] > '9')
			goto bad;
	if ((p = strtoul(port, NULL, 10)) > 65535)
		goto bad;
	if (*v6) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			goto bad;
	} else {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			goto bad;
	}
	return 0;
bad:
	sg_whyf(why, why_len, "http listen address \"%.64s\" is not A.B.C.D:PORT or [IPv6]:PORT",
	        s);
	return SG_ERR_CONFIG;
}

static int
sg_http_check_config(const struct sg_http_config *cfg, char *why, size_t why_len)
{
	if (cfg->listen == NULL || cfg->front_ep == NULL) {
		sg_whyf(why, why_len, "http: listen address and front endpoint are required");
		return SG_ERR_CONFIG;
	}
	/* Only inproc: the front trusts that endpoint without CURVE. */
	if (strncmp(cfg->front_ep, "inproc://", 9) != 0 || cfg->front_ep[9] == '\0' ||
	    strlen(cfg->front_ep) > SG_HTTP_EP_MAX) {
		sg_whyf(why, why_len, "http: the front endpoint must be an inproc:// endpoint");
		return SG_ERR_CONFIG;
	}
	if (cfg->max_connections < 1 || cfg->max_connections > SG_HTTP_MAX_CONNECTIONS) {
		sg_whyf(why, why_len, "http: max_connections %u is not in 1..%u",
		        cfg->max_connections, SG_HTTP_MAX_CONNECTIONS);
		return SG_ERR_CONFIG;
	}
	if (cfg->timeout_ms < 1 || cfg->timeout_ms > SG_HTTP_TIMEOUT_MAX) {
		sg_whyf(why, why_len, "http: timeout %u ms is not in 1..%u", cfg->timeout_ms,
		        SG_HTTP_TIMEOUT_MAX);
		return SG_ERR_CONFIG;
	}
	if (cfg->max_body < 1 || cfg->max_body > SG_HTTP_MAX_BODY) {
		sg_whyf(why, why_len, "http: max_body %zu is not in 1..%d", cfg->max_body,
		        SG_HTTP_MAX_BODY);
		return SG_ERR_CONFIG;
	}
	return 0;
}

struct sg_http *
sg_http_start(void *zctx, const struct sg_http_config *cfg, char *why, size_t why_len)
{
	struct sg_http *h = NULL, *ret = NULL;
	struct sockaddr_storage ss;
	pthread_condattr_t ca;
	const union MHD_DaemonInfo *di;
	unsigned flags, secs;
	int v6 = 0, linger = 0, one = 1, hwm, rc;

	if (zctx == NULL || cfg == NULL) {
		sg_whyf(why, why_len, "http: no ZeroMQ context or configuration");
		return NULL;
	}
	if (sg_http_check_config(cfg, why, why_len) != 0 ||
	    sg_http_parse_listen(cfg->listen, &ss, &v6, why, why_len) != 0)
		return NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		sg_whyf(why, why_len, "http: out of memory");
		return NULL;
	}
	h->efd = -1;
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	msgpack_sbuffer_init(&h->sb);
	snprintf(h->listen, sizeof(h->listen), "%s", cfg->listen);
	h->timeout_ms = cfg->timeout_ms;
	h->max_body = cfg->max_body;
	if (!(h->zone_ok = msgpack_zone_init(&h->zone, 2048)) ||
	    (h->dec = sg_wire_dec_new()) == NULL) {
		sg_whyf(why, why_len, "http: out of memory");
		goto out;
	}
	if ((h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		sg_whyf(why, why_len, "http: eventfd: %s", strerror(errno));
		goto out;
	}
	/* Room for one request per connection in each direction. */
	hwm = (int)cfg->max_connections + 16;
	if ((h->dealer = zmq_socket(zctx, ZMQ_DEALER)) == NULL ||
	    zmq_setsockopt(h->dealer, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
	    zmq_setsockopt(h->dealer, ZMQ_IMMEDIATE, &one, sizeof(one)) != 0 ||
	    zmq_setsockopt(h->dealer, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_setsockopt(h->dealer, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_connect(h->dealer, cfg->front_ep) != 0) {
		sg_whyf(why, why_len, "http: cannot connect to %s: %s", cfg->front_ep,
		        zmq_strerror(errno));
		goto out;
	}
	if ((rc = pthread_create(&h->bridge, NULL, sg_http_bridge, h)) != 0) {
		sg_whyf(why, why_len, "http: cannot start the bridge thread: %s", strerror(rc));
		goto out;
	}
	h->bridge_started = 1;
	/*
	 * No MHD_OPTION_LISTENING_ADDRESS_REUSE: it means SO_REUSEPORT, which
	 * would let a second process share (and steal from) the port.
	 */
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
	        MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
	secs = (cfg->timeout_ms + 999) / 1000;
	atomic_store(&h->starting, 1);
	h->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, sg_http_access, h, MHD_OPTION_EXTERNAL_LOGGER, sg_http_mhd_log, h,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
	    cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, secs,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SG_HTTP_CONN_MEMORY,
	    MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_NOTIFY_COMPLETED, sg_http_completed, h,
	    MHD_OPTION_UNESCAPE_CALLBACK, sg_http_raw_url, NULL, MHD_OPTION_END);
	atomic_store(&h->starting, 0);
	if (h->daemon == NULL) {
		sg_whyf(why, why_len, "http: cannot listen on %s%s%s", h->listen,
		        h->start_msg[0] != '\0' ? ": " : "", h->start_msg);
		goto out;
	}
	if ((di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT)) != NULL)
		h->port = di->port;
	sg_info("http: listening on %s (port %u)", h->listen, (unsigned)h->port);
	ret = h;
	h = NULL;
out:
	sg_http_stop(h);
	return ret;
}

uint16_t
sg_http_port(const struct sg_http *h)
{
	return h != NULL ? h->port : 0;
}

void
sg_http_get_stats(const struct sg_http *h, struct sg_http_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (h == NULL)
		return;
	st->requests = atomic_load(&h->requests);
	st->status_2xx = atomic_load(&h->s2xx);
	st->status_4xx = atomic_load(&h->s4xx);
	st->status_5xx = atomic_load(&h->s5xx);
	st->bytes_in = atomic_load(&h->bytes_in);
	st->bytes_out = atomic_load(&h->bytes_out);
	st->forwarded = atomic_load(&h->forwarded);
	st->timeouts = atomic_load(&h->timeouts);
	st->stale = atomic_load(&h->stale);
}

void
sg_http_stop(struct sg_http *h)
{
	struct timespec ts;
	MHD_socket lfd;
	int64_t until;

	if (h == NULL)
		return;
	/* Closed only after MHD_stop_daemon: MHD's thread may still poll it. */
	lfd = h->daemon != NULL ? MHD_quiesce_daemon(h->daemon) : MHD_INVALID_SOCKET;
	pthread_mutex_lock(&h->mu);
	h->stopping = 1;
	atomic_store(&h->closing, 1);
	pthread_mutex_unlock(&h->mu);
	if (h->bridge_started) {
		/* Returns once every submitted request is answered or expired. */
		sg_http_wake(h);
		pthread_join(h->bridge, NULL);
	}
	/* Let the resumed connections send their responses (bounded). */
	until = sg_http_now_ms() + h->timeout_ms;
	ts.tv_sec = until / 1000;
	ts.tv_nsec = (until % 1000) * 1000000;
	pthread_mutex_lock(&h->mu);
	while (h->inflight > 0 && pthread_cond_timedwait(&h->cv, &h->mu, &ts) == 0)
		;
	if (h->inflight > 0)
		sg_warn("http: %u responses not sent before the stop", h->inflight);
	pthread_mutex_unlock(&h->mu);
	if (h->daemon != NULL) {
		MHD_stop_daemon(h->daemon);
		if (lfd != MHD_INVALID_SOCKET)
			close(lfd);
		sg_info("http: stopped listening on %s", h->listen);
	}
	if (h->dealer != NULL)
		zmq_close(h->dealer);
	if (h->efd >= 0)
		close(h->efd);
	sg_rep_clear(&h->wrep);
	sg_wire_dec_free(h->dec);
	if (h->zone_ok)
		msgpack_zone_destroy(&h->zone);
	msgpack_sbuffer_destroy(&h->sb);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
