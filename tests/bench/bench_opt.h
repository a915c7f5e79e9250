/*
 * bench_opt: the command-line options that the request modes of
 * signet-bench share (sign in signet_bench.c, issue_bench.c): the load
 * phase (--config, --clients, --depth, --seconds, --warmup, --daemon-pid)
 * and the raw PKCS#11 baseline (--baseline-module, --baseline-token,
 * --baseline-pin-file, --baseline-threads, --baseline-verify,
 * --no-baseline), parsed and checked the same way for both.
 *
 * A mode lists BENCH_OPT_LONGOPTS in its getopt_long table, numbers its own
 * options from BENCH_OPT_MODE_FIRST, hands every option to bench_opt_take
 * and, once all are read, calls bench_opt_check.  It only parses: the PIN
 * file is named here, never read.
 */
#ifndef BENCH_OPT_H
#define BENCH_OPT_H

#include <stddef.h>

#define BENCH_OPT_DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
/* signetd's default `workers` (docs/configuration.md): the baseline's default thread count. */
#define BENCH_OPT_DEFAULT_THREADS 2
#define BENCH_OPT_WHY_MAX 160

enum bench_opt_id {
	BO_CLIENTS = 256,
	BO_DEPTH,
	BO_SECONDS,
	BO_CONFIG,
	BO_WARMUP,
	BO_DAEMON_PID,
	BO_MODULE,
	BO_TOKEN,
	BO_PIN_FILE,
	BO_THREADS,
	BO_VERIFY,
	BO_NO_BASELINE,
	BENCH_OPT_MODE_FIRST, /* the first id a mode may use */
};

/* The entries of struct option for the shared options (no terminator). */
/* clang-format off */
#define BENCH_OPT_LONGOPTS \
	{"clients", required_argument, NULL, BO_CLIENTS}, \
	{"depth", required_argument, NULL, BO_DEPTH}, \
	{"seconds", required_argument, NULL, BO_SECONDS}, \
	{"config", required_argument, NULL, BO_CONFIG}, \
	{"warmup", required_argument, NULL, BO_WARMUP}, \
	{"daemon-pid", required_argument, NULL, BO_DAEMON_PID}, \
	{"baseline-module", required_argument, NULL, BO_MODULE}, \
	{"baseline-token", required_argument, NULL, BO_TOKEN}, \
	{"baseline-pin-file", required_argument, NULL, BO_PIN_FILE}, \
	{"baseline-threads", required_argument, NULL, BO_THREADS}, \
	{"baseline-verify", no_argument, NULL, BO_VERIFY}, \
	{"no-baseline", no_argument, NULL, BO_NO_BASELINE}
/* clang-format on */

struct bench_opts_common {
	const char *config; /* --config, else $SIGNET_CONFIG */
	unsigned clients;
	unsigned depth;
	double seconds;
	double warmup;
	long daemon_pid; /* 0: not given */
	int baseline;    /* 0 with --no-baseline */
	int baseline_verify;
	const char *module;
	const char *token;
	const char *pin_file;
	unsigned baseline_threads;
	int have_clients, have_depth, have_secs;
};

/* The defaults (warm-up 1 s, baseline on with 2 threads on SoftHSM) into *o. */
void bench_opt_defaults(struct bench_opts_common *o);

/*
 * Takes option id c with argument arg into *o.  Returns 1 when c is a
 * shared option and was taken, 0 when it is not a shared option, or
 * SG_ERR_INVALID_ARG with why (len bytes) saying what is wrong.
 */
int bench_opt_take(int c, const char *arg, struct bench_opts_common *o, char *why, size_t len);

/*
 * After the last option: the required ones are there and the baseline has
 * its token and PIN file (or is off); fills in config from SIGNET_CONFIG.
 * 0 or SG_ERR_INVALID_ARG with why.
 */
int bench_opt_check(struct bench_opts_common *o, char *why, size_t len);

#endif /* BENCH_OPT_H */
