/* bench_opt: see bench_opt.h. */
#include "bench_opt.h"

#include "bench_util.h"
#include "signet.h"

#include "sg_err.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BO_MAX_CLIENTS 256
#define BO_MAX_THREADS 256
#define BO_MAX_SECONDS 3600.0
#define BO_TOKEN_LABEL_LEN 32 /* CK_TOKEN_INFO.label */

void
bench_opt_defaults(struct bench_opts_common *o)
{
	memset(o, 0, sizeof(*o));
	o->warmup = 1.0;
	o->baseline = 1;
	o->module = BENCH_OPT_DEFAULT_MODULE;
	o->baseline_threads = BENCH_OPT_DEFAULT_THREADS;
}

int
bench_opt_take(int c, const char *arg, struct bench_opts_common *o, char *why, size_t len)
{
	unsigned long v;

	switch (c) {
	case BO_CLIENTS:
		if (bench_parse_ulong(arg, 1, BO_MAX_CLIENTS, &v) != 0) {
			snprintf(why, len, "--clients: '%s' is not in 1..256", arg);
			return SG_ERR_INVALID_ARG;
		}
		o->clients = (unsigned)v;
		o->have_clients = 1;
		return 1;
	case BO_DEPTH:
		if (bench_parse_ulong(arg, 1, SIGNET_MAX_INFLIGHT, &v) != 0) {
			snprintf(why, len, "--depth: '%s' is not in 1..4096", arg);
			return SG_ERR_INVALID_ARG;
		}
		o->depth = (unsigned)v;
		o->have_depth = 1;
		return 1;
	case BO_SECONDS:
		if (bench_parse_secs(arg, 0.1, BO_MAX_SECONDS, &o->seconds) != 0) {
			snprintf(why, len, "--seconds: '%s' is not in 0.1..3600", arg);
			return SG_ERR_INVALID_ARG;
		}
		o->have_secs = 1;
		return 1;
	case BO_CONFIG:
		o->config = arg;
		return 1;
	case BO_WARMUP:
		if (bench_parse_secs(arg, 0.0, 60.0, &o->warmup) != 0) {
			snprintf(why, len, "--warmup: '%s' is not in 0..60", arg);
			return SG_ERR_INVALID_ARG;
		}
		return 1;
	case BO_DAEMON_PID:
		if (bench_parse_ulong(arg, 1, INT_MAX, &v) != 0) {
			snprintf(why, len, "--daemon-pid: '%s' is not a process id", arg);
			return SG_ERR_INVALID_ARG;
		}
		o->daemon_pid = (long)v;
		return 1;
	case BO_MODULE:
		o->module = arg;
		return 1;
	case BO_TOKEN:
		if (strlen(arg) < 1 || strlen(arg) > BO_TOKEN_LABEL_LEN) {
			snprintf(why, len, "--baseline-token: '%s' is not 1..32 bytes", arg);
			return SG_ERR_INVALID_ARG;
		}
		o->token = arg;
		return 1;
	case BO_PIN_FILE:
		o->pin_file = arg;
		return 1;
	case BO_THREADS:
		if (bench_parse_ulong(arg, 1, BO_MAX_THREADS, &v) != 0) {
			snprintf(why, len, "--baseline-threads: '%s' is not in 1..256", arg);
			return SG_ERR_INVALID_ARG;
		}
		o->baseline_threads = (unsigned)v;
		return 1;
	case BO_VERIFY:
		o->baseline_verify = 1;
		return 1;
	case BO_NO_BASELINE:
		o->baseline = 0;
		return 1;
	default:
		return 0;
	}
}

int
bench_opt_check(struct bench_opts_common *o, char *why, size_t len)
{
	const char *missing = NULL;

	if (!o->have_clients)
		missing = "--clients";
	else if (!o->have_depth)
		missing = "--depth";
	else if (!o->have_secs)
		missing = "--seconds";
	if (missing != NULL) {
		snprintf(why, len, "%s is required", missing);
		return SG_ERR_INVALID_ARG;
	}
	if (o->config == NULL && (o->config = getenv("SIGNET_CONFIG")) == NULL) {
		snprintf(why, len, "no client configuration: --config FILE or SIGNET_CONFIG");
		return SG_ERR_INVALID_ARG;
	}
	if (o->baseline && (o->token == NULL || o->pin_file == NULL)) {
		snprintf(why, len, "%s is required (or --no-baseline)",
		         o->token == NULL ? "--baseline-token" : "--baseline-pin-file");
		return SG_ERR_INVALID_ARG;
	}
	return 0;
}
