/*
 * bench_load: the load phase that the request modes of signet-bench share
 * (sign in signet_bench.c, issue_bench.c): C client threads, each with its
 * own libsignet connection, keep D requests in flight for a warm-up and a
 * measured window; every reply is judged by the mode, the ok ones that
 * complete inside the window are counted with their send-to-reply latency
 * and the errors by code; the CPU seconds of this process and, when a pid
 * is given, of signetd are taken over the window.
 *
 * What a request is and what makes a reply good belong to the mode (the
 * callbacks); this module owns the threads, the in-flight slots, the clock
 * and the counting.  It never handles a secret (libsignet reads the CURVE
 * key) and asserts no timing.
 */
#ifndef BENCH_LOAD_H
#define BENCH_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "bench_util.h"
#include "signet.h"

#define BENCH_ERR_SLOTS 128 /* error counters indexed by -SG_ERR_* (slot 0: unknown codes) */
#define BENCH_SLOT_MAX 64   /* bytes a mode may keep per request in flight */

/* What the mode made of one reply. */
enum bench_verdict {
	BENCH_REPLY_OK,    /* counted as throughput (with its latency) inside the window */
	BENCH_REPLY_ERR,   /* counted by rep->err inside the window, else as outside */
	BENCH_REPLY_OTHER, /* neither (the mode counts it itself, e.g. a replay) */
};

struct bench_load_spec {
	const char *config; /* libsignet client configuration */
	unsigned clients;   /* 1..256 */
	unsigned depth;     /* requests in flight per client */
	double warmup;      /* seconds, not counted */
	double seconds;     /* measured window */
	long daemon_pid;    /* 0: no daemon CPU time */
	void *arg;          /* passed to the callbacks */
	/*
	 * Makes the next request of client into *req (the same struct each
	 * time for one client: libsignet writes id and idempotency key into
	 * it) and may keep up to BENCH_SLOT_MAX bytes about it in slot, given
	 * back to judge with its reply.  0, or an error that fails the client.
	 */
	int (*prepare)(void *arg, unsigned client, struct sg_req *req, unsigned char *slot);
	/* Judges one reply of client (may set rep->ok = 0 and rep->err). */
	enum bench_verdict (*judge)(void *arg, unsigned client, struct sg_rep *rep,
	                            const unsigned char *slot, int in_window);
};

struct bench_load_result {
	uint64_t ok;     /* BENCH_REPLY_OK inside the window */
	uint64_t errors; /* BENCH_REPLY_ERR inside the window */
	uint64_t err[BENCH_ERR_SLOTS];
	uint64_t err_outside; /* errors of the warm-up and the drain */
	double window_s;
	double bench_cpu_s;
	double daemon_cpu_s; /* < 0 when unknown */
	struct bench_hist lat;
	unsigned failed; /* clients that failed (said why on stderr) */
};

/*
 * Runs the load phase of s and fills *res.  Returns 0 (a client that
 * failed is counted in res->failed), SG_ERR_INVALID_ARG, SG_ERR_NOMEM or
 * SG_ERR_INTERNAL (threads could not be made).
 */
int bench_load_run(const struct bench_load_spec *s, struct bench_load_result *res);

/* "busy:3,timeout:1" (the counters of err by code) or "none" into buf. */
void bench_format_errors(const uint64_t *err, char *buf, size_t len);

#endif /* BENCH_LOAD_H */
