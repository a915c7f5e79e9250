/*
 * sg_http: the appliance's HTTP listener (libmicrohttpd), off by default.
 *
 * A translator, nothing more: each HTTP request on a known route becomes one
 * wire-protocol-v1 request (docs/protocol.md) sent over a ZeroMQ DEALER to an
 * inproc ROUTER endpoint of the network front, and the wire reply becomes the
 * HTTP response.  The front attributes everything arriving on that endpoint
 * to the configured HTTP-only policy client, so policy and audit apply
 * exactly as for ZeroMQ clients.
 *
 * It holds no keys, no policy and no audit log, and must never decide
 * anything the front decides: it only refuses what is not a well-formed
 * request of a known route (path, method, content type, body size) before
 * forwarding.  It never logs request or response bodies.
 *
 * Routes (docs/http.md):
 *   POST /tsa, POST / with Content-Type application/timestamp-query
 *     (RFC 3161 section 3.4) -> op "timestamp";
 *   GET and HEAD /crl/<ca>.crl -> op "crl.get" (a DER CRL, cacheable until
 *     its nextUpdate);
 *   POST /ocsp, /ocsp/ and / with Content-Type application/ocsp-request,
 *     and GET /ocsp/<URL-encoded base64 of the request> (RFC 6960
 *     appendix A.1) -> op "ocsp".
 * Paths are percent-decoded strictly before they are matched.
 */
#ifndef SG_HTTP_H
#define SG_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define SG_HTTP_MAX_CONNECTIONS 1024
#define SG_HTTP_MAX_BODY (64 * 1024) /* largest max_body accepted (the wire's message cap) */

struct sg_http_config {
	const char *listen;       /* "A.B.C.D:PORT" or "[IPv6]:PORT"; numeric only; PORT 0 = any */
	const char *front_ep;     /* inproc endpoint of the front, e.g. "inproc://signet-http" */
	unsigned max_connections; /* 1..SG_HTTP_MAX_CONNECTIONS */
	unsigned timeout_ms;      /* idle connection timeout, and the wait for the front's reply */
	size_t max_body;          /* largest request body accepted, 1..SG_HTTP_MAX_BODY */
};

/* Counters for metrics; each is monotonic over the listener's life. */
struct sg_http_stats {
	uint64_t requests;   /* HTTP responses queued by sg_http (all statuses) */
	uint64_t status_2xx; /* ... of which 2xx */
	uint64_t status_4xx; /* ... 4xx */
	uint64_t status_5xx; /* ... 5xx */
	uint64_t bytes_in;   /* request body bytes accepted */
	uint64_t bytes_out;  /* response body bytes queued */
	uint64_t forwarded;  /* wire requests handed to the front */
	uint64_t timeouts;   /* wire requests the front did not answer in time */
	uint64_t stale;      /* wire replies discarded: unknown, expired or unreadable id */
};

struct sg_http;

/*
 * Validates cfg, connects a DEALER of zctx (the front's ZeroMQ context) to
 * cfg->front_ep (the front may bind it later: until then requests are
 * answered 503), binds cfg->listen and starts serving.  cfg's strings are
 * copied.  Returns NULL with a one-line reason in why on failure.
 */
struct sg_http *sg_http_start(void *zctx, const struct sg_http_config *cfg, char *why,
                              size_t why_len);

/* The bound TCP port (useful with PORT 0). */
uint16_t sg_http_port(const struct sg_http *h);

/* Snapshot of the counters; any thread. */
void sg_http_get_stats(const struct sg_http *h, struct sg_http_stats *st);

/*
 * Stops accepting connections, lets the requests handed to the front finish
 * (each within its timeout_ms; later requests on open connections get 503
 * shutting_down), sends their responses, closes every connection (partial
 * requests included) and joins all threads.  Call it before the front stops
 * serving the endpoint.  NULL-safe.
 */
void sg_http_stop(struct sg_http *h);

#endif /* SG_HTTP_H */
