/*
 * signet-bench: throughput and latency of a running Signet appliance, each
 * figure printed beside a baseline measured in the same run on the same
 * token and key (docs/benchmarks.md).
 *
 * Subcommands (one table, cmds[]; later modes are new rows):
 *   sign   C client threads, each with its own libsignet connection, keep D
 *          sign.digest requests in flight for S seconds; then, with the
 *          daemon idle, a raw PKCS#11 loop (dlopen + C_GetFunctionList,
 *          one session per thread, C_SignInit + C_Sign [+ C_Verify]) signs
 *          for S seconds with the same key, and the ratio of the two is
 *          printed.
 *   hash   the signet CLI's streaming file hash against `openssl dgst` on
 *          the same file (hash_bench.c).
 *   issue  cert.issue throughput and latency against raw PKCS#11 signing
 *          with the issuing CA's key (issue_bench.c).
 *   crl    CRL generation time for growing numbers of revoked serials
 *          against OpenSSL's CRL code (crl_bench.c).
 *
 * Output: key=value lines on stdout, one per measurement; diagnostics on
 * stderr.  Nothing here asserts a timing: the figures are for people to read
 * against the baselines printed beside them.
 *
 * Counting: a reply is counted when it completes inside the measurement
 * window (after the warm-up, before the end); an error reply or a local
 * failure is counted by its code and never as throughput.  Every client
 * thread verifies its first replies and then one reply in VERIFY_EVERY with
 * the public key from keys.list; a signature that does not verify is an
 * error (bad_signature) and fails the run.
 *
 * Secrets: the PIN of the baseline comes from a 0600 file
 * (sg_secret_read_file), never from argv or the environment, and is wiped
 * right after C_Login.  The client's CURVE key is read by libsignet.
 *
 * Exit status: 0 the run completed, 1 the run failed (no signature, a
 * thread could not connect, a bad signature, a baseline failure), 2 usage.
 */
#include "signet.h"

#include "crl_bench.h"
#include "hash_bench.h"
#include "issue_bench.h"

#include "sg_alg.h"
#include "sg_err.h"
#include "sg_secret.h"
#include "sg_wire.h"

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include <openssl/evp.h>

#define PROG "signet-bench"

enum bench_exit {
	BENCH_EXIT_OK = 0,
	BENCH_EXIT_FAIL = 1,
	BENCH_EXIT_USAGE = 2,
};

#define MAX_CLIENTS 256
#define MAX_THREADS 256
#define MAX_SECONDS 3600.0
#define DEFAULT_WARMUP 1.0
#define PIN_MAX 255
#define TOKEN_LABEL_LEN 32
/* signetd's default `workers` (docs/configuration.md): the baseline's default thread count. */
#define DEFAULT_BASELINE_THREADS 2
#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define VERIFY_FIRST 4    /* replies verified at the start of each client thread */
#define VERIFY_EVERY 1024 /* then one reply in this many */
#define ERR_SLOTS 128     /* error counters indexed by -SG_ERR_* (slot 0: unknown codes) */
#define SIG_BUF 1024
#define NS_PER_S 1000000000ull

/* ---- latency histogram ---- */

/*
 * Log-linear buckets of nanoseconds: exact below 128 ns, then 64 buckets per
 * power of two (relative error under 1 %), up to 2^41 ns (about 36 min).
 * Fixed size, so recording allocates nothing and threads merge by adding.
 */
#define HIST_SUB 128
#define HIST_HALF 64
#define HIST_MAX_MSB 40
#define HIST_BUCKETS (HIST_SUB + (HIST_MAX_MSB - 6) * HIST_HALF)

struct hist {
	uint64_t n;
	uint64_t b[HIST_BUCKETS];
};

static unsigned
hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < HIST_SUB)
		return (unsigned)v;
	if (v >= (1ull << (HIST_MAX_MSB + 1)))
		v = (1ull << (HIST_MAX_MSB + 1)) - 1;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - 6u; /* v >> shift is in [64, 128) */
	return HIST_SUB + (shift - 1u) * HIST_HALF + (unsigned)((v >> shift) - HIST_HALF);
}

/* The midpoint of bucket i, in nanoseconds. */
static double
hist_value(unsigned i)
{
	unsigned k, shift;
	uint64_t sub;

	if (i < HIST_SUB)
		return (double)i;
	k = i - HIST_SUB;
	shift = k / HIST_HALF + 1u;
	sub = (uint64_t)(k % HIST_HALF + HIST_HALF);
	return (double)(sub << shift) + (double)(1ull << shift) / 2.0;
}

static void
hist_add(struct hist *h, uint64_t ns)
{
	h->b[hist_index(ns)]++;
	h->n++;
}

static void
hist_merge(struct hist *into, const struct hist *from)
{
	unsigned i;

	for (i = 0; i < HIST_BUCKETS; i++)
		into->b[i] += from->b[i];
	into->n += from->n;
}

/* The q-quantile (0 < q <= 1) in microseconds; 0 for an empty histogram. */
static double
hist_quantile_us(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;
	unsigned i;

	if (h->n == 0)
		return 0.0;
	rank = (uint64_t)ceil(q * (double)h->n);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			return hist_value(i) / 1000.0;
	}
	return hist_value(HIST_BUCKETS - 1) / 1000.0;
}

/* ---- small helpers ---- */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void
sleep_until(uint64_t t)
{
	uint64_t now;
	struct timespec ts;

	while ((now = now_ns()) < t) {
		ts.tv_sec = (time_t)((t - now) / NS_PER_S);
		ts.tv_nsec = (long)((t - now) % NS_PER_S);
		nanosleep(&ts, NULL);
	}
}

/* xorshift64*: digests only need to differ, not to be unpredictable. */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static void
rng_fill(uint64_t *s, unsigned char *p, size_t n)
{
	uint64_t x;
	size_t i, k;

	for (i = 0; i < n; i += 8) {
		x = rng_next(s);
		for (k = 0; k < 8 && i + k < n; k++)
			p[i + k] = (unsigned char)(x >> (8 * k));
	}
}

static uint64_t
rng_seed(unsigned salt)
{
	uint64_t s =
	    now_ns() ^ ((uint64_t)getpid() << 32) ^ ((uint64_t)salt * 0x9E3779B97F4A7C15ull);

	return s != 0 ? s : 1;
}

/* CPU seconds (user + system) of this process. */
static double
self_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0.0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds (user + system) of process pid from /proc, or a negative value. */
static double
pid_cpu_s(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1.0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: state is field 3. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2 ||
	    hz <= 0)
		return -1.0;
	return (double)(ut + st) / (double)hz;
}

/* Parses a decimal in [lo, hi] into *out; 0 or SG_ERR_INVALID_ARG. */
static int
parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return SG_ERR_INVALID_ARG;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return SG_ERR_INVALID_ARG;
	*out = v;
	return 0;
}

/* Parses seconds (decimal, [lo, hi]) into *out; 0 or SG_ERR_INVALID_ARG. */
static int
parse_secs(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (s == NULL || ((*s < '0' || *s > '9') && *s != '.'))
		return SG_ERR_INVALID_ARG;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v >= lo && v <= hi))
		return SG_ERR_INVALID_ARG;
	*out = v;
	return 0;
}

/* ---- options ---- */

struct bench_opts {
	const char *config;
	const char *key;
	unsigned clients;
	unsigned depth;
	double seconds;
	double warmup;
	enum sg_hash hash;
	enum sg_pad pad;
	int pad_given;
	long daemon_pid; /* 0: not given */
	int baseline;    /* 0 with --no-baseline */
	int baseline_verify;
	const char *module;
	const char *token;
	const char *pin_file;
	unsigned baseline_threads;
};

struct cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static int cmd_sign(int argc, char **argv);

static const struct cmd cmds[] = {
    {"sign", cmd_sign, "sign.digest throughput and latency against raw PKCS#11 signing"},
    {"hash", cmd_hash, "the CLI's streaming file hash against openssl dgst (hash_bench.c)"},
    {"issue", cmd_issue, "cert.issue throughput and latency against raw PKCS#11 signing"},
    {"crl", cmd_crl, "CRL generation time by revoked count against OpenSSL (crl_bench.c)"},
};

static const char sign_usage[] =
    "usage: " PROG " sign --key NAME --clients C --depth D --seconds S\n"
    "         [--hash sha256|sha384|sha512] [--pad pkcs1|pss] [--config FILE]\n"
    "         [--warmup S] [--daemon-pid PID]\n"
    "         [--baseline-module PATH] [--baseline-token LABEL] [--baseline-pin-file FILE]\n"
    "         [--baseline-threads T] [--baseline-verify] [--no-baseline]\n"
    "\n"
    "Load phase: C client threads (1..256), each with its own libsignet connection\n"
    "(configuration from --config, else $SIGNET_CONFIG), keep D (1..4096) sign.digest\n"
    "requests with random digests of HASH (default sha256) in flight on key NAME.\n"
    "After --warmup seconds (default 1, not counted) the replies that complete within\n"
    "the next S seconds (0.1..3600) are counted: ok replies as throughput with their\n"
    "send-to-reply latency, error replies by error code.  --pad (RSA keys only,\n"
    "default pkcs1) chooses the RSA padding.  Each client thread verifies its first\n"
    "replies and one in 1024 with the key's public key from keys.list.  The per-client\n"
    "in-flight cap of signetd (default 256) applies to C x D together: replies over it\n"
    "are 'busy' and libsignet resends them.\n"
    "\n"
    "Baseline phase (unless --no-baseline), after the load phase, with the daemon\n"
    "idle: T threads (default 2, signetd's default workers) each open a session on\n"
    "the token labelled LABEL of the PKCS#11 module PATH (default " DEFAULT_MODULE ";\n"
    "SoftHSM reads $SOFTHSM2_CONF), log in with the user PIN read from FILE (mode\n"
    "0600) and loop C_SignInit + C_Sign with the private key whose CKA_LABEL is NAME\n"
    "over random digests (ECDSA: CKM_ECDSA; RSA pkcs1: CKM_RSA_PKCS over a\n"
    "DigestInfo; RSA pss: CKM_RSA_PKCS_PSS, MGF1 with HASH, salt = hash length)\n"
    "for the same warm-up and S seconds.  With --baseline-verify a second baseline\n"
    "also runs C_VerifyInit + C_Verify of every signature (the appliance verifies\n"
    "every signature it releases).  --baseline-token and --baseline-pin-file are\n"
    "required unless --no-baseline.\n"
    "\n"
    "With --daemon-pid, the CPU time signetd (that pid) used during the window is\n"
    "printed too.\n"
    "\n"
    "Output (stdout, key=value):\n"
    "  mode=sign key= alg= hash= pad= clients= depth= seconds= signatures= errors=\n"
    "    errors_by_code= throughput_per_s= p50_us= p99_us= p999_us= bench_cpu_s=\n"
    "    [daemon_cpu_s=]\n"
    "  baseline=raw-pkcs11[-verify] baseline_threads= baseline_signatures=\n"
    "    baseline_throughput_per_s= baseline_p50_us= baseline_p99_us= baseline_cpu_s=\n"
    "    ratio=\n"
    "  (ratio = throughput_per_s / baseline_throughput_per_s; latencies are the\n"
    "  percentiles of send-to-reply, resp. of one sign [+ verify] call; *_cpu_s are\n"
    "  the CPU seconds (user + system) of signet-bench and of signetd during the\n"
    "  window)\n"
    "\n"
    "Exit status: 0 the run completed; 1 it failed (no signature counted, a client\n"
    "could not connect or failed, a signature did not verify, the baseline failed);\n"
    "2 usage error.\n";

static void
main_usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: " PROG " COMMAND [OPTIONS]   (" PROG " COMMAND --help)\n\n"
	            "Benchmarks of a running Signet appliance; figures are printed as\n"
	            "key=value lines beside baselines measured in the same run.\n\n"
	            "Commands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(fp, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Says what is wrong with the command line; returns BENCH_EXIT_USAGE. */
static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(" PROG " sign --help for usage)\n");
	return BENCH_EXIT_USAGE;
}

enum sign_opt {
	O_KEY = 256,
	O_CLIENTS,
	O_DEPTH,
	O_SECONDS,
	O_HASH,
	O_PAD,
	O_CONFIG,
	O_WARMUP,
	O_DAEMON_PID,
	O_MODULE,
	O_TOKEN,
	O_PIN_FILE,
	O_THREADS,
	O_VERIFY,
	O_NO_BASELINE,
	O_HELP,
};

static const struct option sign_longopts[] = {
    {"key", required_argument, NULL, O_KEY},
    {"clients", required_argument, NULL, O_CLIENTS},
    {"depth", required_argument, NULL, O_DEPTH},
    {"seconds", required_argument, NULL, O_SECONDS},
    {"hash", required_argument, NULL, O_HASH},
    {"pad", required_argument, NULL, O_PAD},
    {"config", required_argument, NULL, O_CONFIG},
    {"warmup", required_argument, NULL, O_WARMUP},
    {"daemon-pid", required_argument, NULL, O_DAEMON_PID},
    {"baseline-module", required_argument, NULL, O_MODULE},
    {"baseline-token", required_argument, NULL, O_TOKEN},
    {"baseline-pin-file", required_argument, NULL, O_PIN_FILE},
    {"baseline-threads", required_argument, NULL, O_THREADS},
    {"baseline-verify", no_argument, NULL, O_VERIFY},
    {"no-baseline", no_argument, NULL, O_NO_BASELINE},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

/*
 * Parses the options of `sign` into *o.  Returns 0 with *stop = 0 to run;
 * otherwise *stop = 1 and the exit status to end with: BENCH_EXIT_USAGE
 * after a message, BENCH_EXIT_OK after --help.
 */
static int
sign_parse(int argc, char **argv, struct bench_opts *o, int *stop)
{
	unsigned long v;
	int c, have_clients = 0, have_depth = 0, have_secs = 0;

	*stop = 1;
	memset(o, 0, sizeof(*o));
	o->hash = SG_HASH_SHA256;
	o->pad = SG_PAD_NONE;
	o->warmup = DEFAULT_WARMUP;
	o->baseline = 1;
	o->module = DEFAULT_MODULE;
	o->baseline_threads = DEFAULT_BASELINE_THREADS;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", sign_longopts, NULL)) != -1) {
		switch (c) {
		case O_KEY:
			if (!sg_wire_name_valid(optarg, strlen(optarg)))
				return usage_error("--key: '%s' is not a key name", optarg);
			o->key = optarg;
			break;
		case O_CLIENTS:
			if (parse_ulong(optarg, 1, MAX_CLIENTS, &v) != 0)
				return usage_error("--clients: '%s' is not in 1..256", optarg);
			o->clients = (unsigned)v;
			have_clients = 1;
			break;
		case O_DEPTH:
			if (parse_ulong(optarg, 1, SIGNET_MAX_INFLIGHT, &v) != 0)
				return usage_error("--depth: '%s' is not in 1..4096", optarg);
			o->depth = (unsigned)v;
			have_depth = 1;
			break;
		case O_SECONDS:
			if (parse_secs(optarg, 0.1, MAX_SECONDS, &o->seconds) != 0)
				return usage_error("--seconds: '%s' is not in 0.1..3600", optarg);
			have_secs = 1;
			break;
		case O_HASH:
			if (sg_hash_parse(optarg, &o->hash) != 0)
				return usage_error("--hash: '%s' is not sha256, sha384 or sha512",
				                   optarg);
			break;
		case O_PAD:
			if (sg_pad_parse(optarg, &o->pad) != 0 || o->pad == SG_PAD_NONE)
				return usage_error("--pad: '%s' is not pkcs1 or pss", optarg);
			o->pad_given = 1;
			break;
		case O_CONFIG:
			o->config = optarg;
			break;
		case O_WARMUP:
			if (parse_secs(optarg, 0.0, 60.0, &o->warmup) != 0)
				return usage_error("--warmup: '%s' is not in 0..60", optarg);
			break;
		case O_DAEMON_PID:
			if (parse_ulong(optarg, 1, INT_MAX, &v) != 0)
				return usage_error("--daemon-pid: '%s' is not a process id",
				                   optarg);
			o->daemon_pid = (long)v;
			break;
		case O_MODULE:
			o->module = optarg;
			break;
		case O_TOKEN:
			if (strlen(optarg) < 1 || strlen(optarg) > TOKEN_LABEL_LEN)
				return usage_error("--baseline-token: '%s' is not 1..32 bytes",
				                   optarg);
			o->token = optarg;
			break;
		case O_PIN_FILE:
			o->pin_file = optarg;
			break;
		case O_THREADS:
			if (parse_ulong(optarg, 1, MAX_THREADS, &v) != 0)
				return usage_error("--baseline-threads: '%s' is not in 1..256",
				                   optarg);
			o->baseline_threads = (unsigned)v;
			break;
		case O_VERIFY:
			o->baseline_verify = 1;
			break;
		case O_NO_BASELINE:
			o->baseline = 0;
			break;
		case O_HELP:
			fputs(sign_usage, stdout);
			return BENCH_EXIT_OK;
		default:
			return usage_error("unknown option or missing value: %s", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return usage_error("unexpected argument: %s", argv[optind]);
	if (o->key == NULL)
		return usage_error("%s is required", "--key");
	if (!have_clients)
		return usage_error("%s is required", "--clients");
	if (!have_depth)
		return usage_error("%s is required", "--depth");
	if (!have_secs)
		return usage_error("%s is required", "--seconds");
	if (o->config == NULL && (o->config = getenv("SIGNET_CONFIG")) == NULL)
		return usage_error("no client configuration: --config FILE or SIGNET_CONFIG");
	if (o->baseline && o->token == NULL)
		return usage_error("%s is required (or --no-baseline)", "--baseline-token");
	if (o->baseline && o->pin_file == NULL)
		return usage_error("%s is required (or --no-baseline)", "--baseline-pin-file");
	*stop = 0;
	return 0;
}

/* ---- the key, as the appliance describes it ---- */

struct key_desc {
	enum sg_keyalg alg;
	EVP_PKEY *pub;
	enum sg_pad pad; /* what is sent: SG_PAD_NONE for EC, pkcs1 or pss for RSA */
};

/*
 * Asks the appliance (keys.list) for key o->key, checks that this client may
 * sign with it using o->hash and that o->pad fits it, and fills *kd (kd->pub
 * to be freed by the caller).  Returns 0, or the exit status to end with.
 */
static int
key_describe(const struct bench_opts *o, struct key_desc *kd)
{
	struct signet_client *c = NULL;
	struct sg_key_info *keys = NULL;
	const struct sg_key_info *k;
	char why[SIGNET_ERRMSG_MAX] = "";
	size_t n = 0;
	int err = 0, r, rc = BENCH_EXIT_FAIL;

	memset(kd, 0, sizeof(*kd));
	if ((c = signet_client_open(o->config, NULL, &err, why, sizeof(why))) == NULL) {
		fprintf(stderr, PROG ": %s: %s (%s)\n", o->config, why, sg_strerror(err));
		goto out;
	}
	if ((r = signet_keys_list(c, &keys, &n)) != 0) {
		fprintf(stderr, PROG ": keys.list: %s (%s)\n", signet_client_errmsg(c),
		        sg_err_name(r));
		goto out;
	}
	if ((k = signet_keys_find(keys, n, o->key)) == NULL) {
		fprintf(stderr, PROG ": the appliance lists no key %s for this client\n", o->key);
		goto out;
	}
	if (!(k->ops & (1u << SG_OP_SIGN_DIGEST)) || !(k->hashes & (1u << o->hash))) {
		fprintf(stderr, PROG ": this client may not sign with %s using %s\n", o->key,
		        sg_hash_name(o->hash));
		goto out;
	}
	if (!sg_keyalg_is_rsa(k->alg) && o->pad_given) {
		fprintf(stderr, PROG ": --pad is for RSA keys; %s is %s\n", o->key,
		        sg_keyalg_name(k->alg));
		rc = BENCH_EXIT_USAGE;
		goto out;
	}
	if (signet_key_pubkey(k, &kd->pub) != 0) {
		fprintf(stderr, PROG ": the public key of %s does not parse\n", o->key);
		goto out;
	}
	kd->alg = k->alg;
	kd->pad = !sg_keyalg_is_rsa(k->alg) ? SG_PAD_NONE : o->pad_given ? o->pad : SG_PAD_PKCS1;
	rc = 0;
out:
	signet_keys_free(keys, n);
	signet_client_free(c);
	return rc;
}

/* ---- load phase: client threads ---- */

/* Shared by the client threads of one load phase. */
struct load {
	const struct bench_opts *o;
	const struct key_desc *kd;
	atomic_uint ready; /* threads that are connected (or gave up) */
	atomic_int go;     /* set once t_start/t_end are written */
	uint64_t t_start, t_end;
};

/* One request in flight: when it was sent, and its digest for verification. */
struct inflight {
	uint64_t id; /* 0: free */
	uint64_t t_send;
	unsigned char digest[SG_HASH_MAX_LEN];
};

struct client_thr {
	pthread_t tid;
	struct load *ld;
	unsigned idx;
	int started;
	struct inflight *fl; /* depth entries */
	struct hist *lat;    /* latency of the ok replies in the window */
	uint64_t ok;         /* ok replies in the window */
	uint64_t err[ERR_SLOTS];
	uint64_t err_outside; /* errors of the warm-up and the drain */
	uint64_t bad_sigs;
	uint64_t verified;
	int failed;
	char why[SIGNET_ERRMSG_MAX + 64];
};

static void
count_err(uint64_t *slots, int err)
{
	int i = -err;

	slots[i > 0 && i < ERR_SLOTS ? i : 0]++;
}

/* Checks one ok reply: names the key asked for and verifies over the digest sent. */
static int
client_check(struct client_thr *t, const struct sg_rep *rep, const struct inflight *f)
{
	const struct bench_opts *o = t->ld->o;
	const struct sg_sign_rep *s = &rep->u.sign;

	t->verified++;
	if (rep->op != SG_OP_SIGN_DIGEST || strcmp(s->key, o->key) != 0 || s->hash != o->hash)
		return SG_ERR_MALFORMED;
	return signet_verify_digest(t->ld->kd->pub, o->hash, t->ld->kd->pad, f->digest,
	                            sg_hash_len(o->hash), s->sig, s->sig_len);
}

static void *
client_main(void *arg)
{
	struct client_thr *t = arg;
	struct load *ld = t->ld;
	const struct bench_opts *o = ld->o;
	struct signet_client *c = NULL;
	struct signet_opts so;
	struct sg_req req;
	struct sg_rep rep;
	struct inflight *f;
	size_t dlen = sg_hash_len(o->hash);
	uint64_t rng = rng_seed(t->idx + 1), now, replies = 0;
	unsigned i, pending = 0;
	int err = 0, r, in_window;

	signet_opts_default(&so);
	so.max_inflight = o->depth;
	c = signet_client_open(o->config, &so, &err, t->why, sizeof(t->why));
	atomic_fetch_add(&ld->ready, 1);
	if (c == NULL) {
		t->failed = 1;
		goto out;
	}
	while (!atomic_load(&ld->go))
		usleep(200);
	for (;;) {
		now = now_ns();
		while (now < ld->t_end && pending < o->depth) {
			for (i = 0, f = NULL; i < o->depth && f == NULL; i++) {
				if (t->fl[i].id == 0)
					f = &t->fl[i];
			}
			memset(&req, 0, sizeof(req));
			req.op = SG_OP_SIGN_DIGEST;
			snprintf(req.u.sign.key, sizeof(req.u.sign.key), "%s", o->key);
			req.u.sign.hash = o->hash;
			req.u.sign.pad = ld->kd->pad;
			rng_fill(&rng, req.u.sign.digest, dlen);
			req.u.sign.digest_len = dlen;
			if (f == NULL || (r = signet_client_send(c, &req, &f->id)) != 0) {
				snprintf(t->why, sizeof(t->why), "signet_client_send: %s",
				         f == NULL ? "no free slot" : signet_client_errmsg(c));
				t->failed = 1;
				goto out;
			}
			memcpy(f->digest, req.u.sign.digest, dlen);
			f->t_send = now_ns();
			pending++;
		}
		if (pending == 0)
			break;
		if ((r = signet_client_recv(c, -1, &rep)) != 0) {
			snprintf(t->why, sizeof(t->why), "signet_client_recv: %s", sg_strerror(r));
			t->failed = 1;
			goto out;
		}
		now = now_ns();
		for (i = 0, f = NULL; i < o->depth && f == NULL; i++) {
			if (t->fl[i].id == rep.id)
				f = &t->fl[i];
		}
		if (f == NULL) {
			sg_rep_clear(&rep);
			snprintf(t->why, sizeof(t->why), "a reply to request %llu, never sent",
			         (unsigned long long)rep.id);
			t->failed = 1;
			goto out;
		}
		in_window = now >= ld->t_start && now < ld->t_end;
		if (rep.ok) {
			replies++;
			if (replies <= VERIFY_FIRST || replies % VERIFY_EVERY == 0) {
				if ((r = client_check(t, &rep, f)) != 0) {
					t->bad_sigs++;
					rep.ok = 0;
					rep.err = SG_ERR_BAD_SIGNATURE;
				}
			}
		}
		if (rep.ok && in_window) {
			t->ok++;
			hist_add(t->lat, now - f->t_send);
		} else if (!rep.ok && in_window) {
			count_err(t->err, rep.err);
		} else if (!rep.ok) {
			t->err_outside++;
		}
		sg_rep_clear(&rep);
		f->id = 0;
		pending--;
	}
out:
	signet_client_free(c);
	return NULL;
}

struct load_result {
	uint64_t signatures;
	uint64_t errors;
	uint64_t err[ERR_SLOTS];
	uint64_t err_outside;
	uint64_t bad_sigs;
	uint64_t verified;
	double window_s;
	double bench_cpu_s;
	double daemon_cpu_s; /* < 0 when unknown */
	struct hist lat;
	unsigned failed;
};

/*
 * Runs the load phase: o->clients threads keep o->depth requests each in
 * flight for the warm-up and o->seconds.  Fills *res.  Returns 0 or
 * SG_ERR_NOMEM / SG_ERR_INTERNAL (threads not started); a thread that failed
 * is counted in res->failed.
 */
static int
load_run(const struct bench_opts *o, const struct key_desc *kd, struct load_result *res)
{
	struct client_thr *th = NULL;
	struct load ld;
	double cpu0 = 0, cpu1 = 0, dcpu0 = -1, dcpu1 = -1;
	unsigned i, k, started = 0;
	uint64_t t;
	int r = SG_ERR_NOMEM;

	memset(res, 0, sizeof(*res));
	res->daemon_cpu_s = -1.0;
	memset(&ld, 0, sizeof(ld));
	ld.o = o;
	ld.kd = kd;
	atomic_init(&ld.ready, 0);
	atomic_init(&ld.go, 0);
	if ((th = calloc(o->clients, sizeof(*th))) == NULL)
		goto out;
	for (i = 0; i < o->clients; i++) {
		th[i].ld = &ld;
		th[i].idx = i;
		if ((th[i].fl = calloc(o->depth, sizeof(*th[i].fl))) == NULL ||
		    (th[i].lat = calloc(1, sizeof(*th[i].lat))) == NULL)
			goto out;
	}
	for (i = 0; i < o->clients; i++) {
		if (pthread_create(&th[i].tid, NULL, client_main, &th[i]) != 0) {
			r = SG_ERR_INTERNAL;
			/* Let the started ones run an empty window and end. */
			ld.t_start = ld.t_end = now_ns();
			atomic_store(&ld.go, 1);
			goto out;
		}
		th[i].started = 1;
		started++;
	}
	while (atomic_load(&ld.ready) < o->clients)
		usleep(1000);
	t = now_ns();
	ld.t_start = t + (uint64_t)(o->warmup * 1e9);
	ld.t_end = ld.t_start + (uint64_t)(o->seconds * 1e9);
	atomic_store(&ld.go, 1);
	sleep_until(ld.t_start);
	cpu0 = self_cpu_s();
	if (o->daemon_pid > 0)
		dcpu0 = pid_cpu_s(o->daemon_pid);
	sleep_until(ld.t_end);
	cpu1 = self_cpu_s();
	if (o->daemon_pid > 0)
		dcpu1 = pid_cpu_s(o->daemon_pid);
	res->window_s = (double)(ld.t_end - ld.t_start) / 1e9;
	res->bench_cpu_s = cpu1 - cpu0;
	if (dcpu0 >= 0 && dcpu1 >= 0)
		res->daemon_cpu_s = dcpu1 - dcpu0;
	r = 0;
out:
	for (i = 0; th != NULL && i < o->clients; i++) {
		if (th[i].started)
			pthread_join(th[i].tid, NULL);
	}
	for (i = 0; th != NULL && i < o->clients && started == o->clients; i++) {
		if (th[i].failed) {
			res->failed++;
			fprintf(stderr, PROG ": client %u: %s\n", i, th[i].why);
		}
		res->signatures += th[i].ok;
		for (k = 0; k < ERR_SLOTS; k++) {
			res->err[k] += th[i].err[k];
			res->errors += th[i].err[k];
		}
		res->err_outside += th[i].err_outside;
		res->bad_sigs += th[i].bad_sigs;
		res->verified += th[i].verified;
		hist_merge(&res->lat, th[i].lat);
	}
	for (i = 0; th != NULL && i < o->clients; i++) {
		free(th[i].fl);
		free(th[i].lat);
	}
	free(th);
	return r;
}

/* "busy:3,timeout:1" or "none" into buf. */
static void
format_errors(const uint64_t *err, char *buf, size_t len)
{
	size_t used = 0;
	int k, w;

	buf[0] = '\0';
	for (k = 0; k < ERR_SLOTS; k++) {
		if (err[k] == 0)
			continue;
		w = snprintf(buf + used, len - used, "%s%s:%llu", used > 0 ? "," : "",
		             k == 0 ? "unknown" : sg_err_name(-k), (unsigned long long)err[k]);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	if (used == 0)
		snprintf(buf, len, "none");
}

/* ---- baseline phase: raw PKCS#11 ---- */

struct p11 {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	int initialized;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE login; /* keeps the login of the application */
	int have_login;
};

static void
p11_close(struct p11 *p)
{
	if (p->have_login)
		p->f->C_CloseSession(p->login);
	if (p->initialized)
		p->f->C_Finalize(NULL);
	if (p->dl != NULL)
		dlclose(p->dl);
	memset(p, 0, sizeof(*p));
}

/*
 * Loads module, finds the token labelled exactly token, opens a session and
 * logs the application in with the user PIN of pin_file (wiped at once).
 * Returns 0 or SG_ERR_NOT_FOUND / SG_ERR_LOGIN / SG_ERR_HSM / SG_ERR_PERM /
 * SG_ERR_CONFIG / SG_ERR_IO, after a message on stderr.
 */
static int
p11_open(struct p11 *p, const char *module, const char *token, const char *pin_file)
{
	CK_C_GetFunctionList gfl;
	CK_C_INITIALIZE_ARGS ia;
	CK_SLOT_ID *slots = NULL;
	CK_TOKEN_INFO ti;
	CK_ULONG n = 0, i;
	CK_RV rv;
	struct sg_secret *pin = NULL;
	char want[TOKEN_LABEL_LEN];
	size_t tl = strlen(token);
	int r = SG_ERR_HSM, found = 0;

	memset(p, 0, sizeof(*p));
	if ((r = sg_secret_read_file(pin_file, PIN_MAX, &pin)) != 0) {
		fprintf(stderr, PROG ": PIN file %s: %s\n", pin_file, sg_strerror(r));
		goto out;
	}
	r = SG_ERR_HSM;
	if ((p->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, PROG ": dlopen %s: %s\n", module, dlerror());
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	*(void **)&gfl = dlsym(p->dl, "C_GetFunctionList");
	if (gfl == NULL || gfl(&p->f) != CKR_OK || p->f == NULL) {
		fprintf(stderr, PROG ": %s: no PKCS#11 function list\n", module);
		goto out;
	}
	memset(&ia, 0, sizeof(ia));
	ia.flags = CKF_OS_LOCKING_OK;
	if ((rv = p->f->C_Initialize(&ia)) != CKR_OK) {
		fprintf(stderr, PROG ": C_Initialize: 0x%08lx\n", (unsigned long)rv);
		goto out;
	}
	p->initialized = 1;
	if ((rv = p->f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK ||
	    (slots = calloc(n > 0 ? n : 1, sizeof(*slots))) == NULL ||
	    (rv = p->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		fprintf(stderr, PROG ": C_GetSlotList failed\n");
		goto out;
	}
	/* Exact label match: CK_TOKEN_INFO.label is space padded to 32 bytes. */
	memset(want, ' ', sizeof(want));
	memcpy(want, token, tl);
	for (i = 0; i < n && !found; i++) {
		if (p->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    memcmp(ti.label, want, sizeof(want)) == 0) {
			p->slot = slots[i];
			found = 1;
		}
	}
	if (!found) {
		fprintf(stderr, PROG ": no token labelled '%s' in %s\n", token, module);
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	if ((rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION, NULL, NULL, &p->login)) !=
	    CKR_OK) {
		fprintf(stderr, PROG ": C_OpenSession: 0x%08lx\n", (unsigned long)rv);
		goto out;
	}
	p->have_login = 1;
	rv = p->f->C_Login(p->login, CKU_USER, (CK_UTF8CHAR_PTR)sg_secret_str(pin),
	                   (CK_ULONG)sg_secret_len(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		fprintf(stderr, PROG ": C_Login: 0x%08lx\n", (unsigned long)rv);
		r = SG_ERR_LOGIN;
		goto out;
	}
	r = 0;
out:
	sg_secret_free(pin);
	free(slots);
	if (r != 0)
		p11_close(p);
	return r;
}

/* The DER DigestInfo prefix of hash h for CKM_RSA_PKCS (RFC 8017, 9.2 note 1). */
static const unsigned char *
digestinfo_prefix(enum sg_hash h, size_t *len)
{
	static const unsigned char di256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
	                                      0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
	                                      0x01, 0x05, 0x00, 0x04, 0x20};
	static const unsigned char di384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60,
	                                      0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
	                                      0x02, 0x05, 0x00, 0x04, 0x30};
	static const unsigned char di512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60,
	                                      0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
	                                      0x03, 0x05, 0x00, 0x04, 0x40};

	switch (h) {
	case SG_HASH_SHA256:
		*len = sizeof(di256);
		return di256;
	case SG_HASH_SHA384:
		*len = sizeof(di384);
		return di384;
	case SG_HASH_SHA512:
		*len = sizeof(di512);
		return di512;
	case SG_HASH_NONE:
	default:
		*len = 0;
		return NULL;
	}
}

/* The PSS parameters the appliance uses: MGF1 with hash h, salt = hash length. */
static int
pss_params(enum sg_hash h, CK_RSA_PKCS_PSS_PARAMS *pp)
{
	int r = 0;

	switch (h) {
	case SG_HASH_SHA256:
		pp->hashAlg = CKM_SHA256;
		pp->mgf = CKG_MGF1_SHA256;
		break;
	case SG_HASH_SHA384:
		pp->hashAlg = CKM_SHA384;
		pp->mgf = CKG_MGF1_SHA384;
		break;
	case SG_HASH_SHA512:
		pp->hashAlg = CKM_SHA512;
		pp->mgf = CKG_MGF1_SHA512;
		break;
	case SG_HASH_NONE:
	default:
		r = SG_ERR_UNKNOWN_HASH;
		break;
	}
	pp->sLen = (CK_ULONG)sg_hash_len(h);
	return r;
}

/* Shared by the threads of one baseline run. */
struct base {
	const struct bench_opts *o;
	const struct key_desc *kd;
	struct p11 *p;
	int verify;
	atomic_uint ready;
	atomic_int go;
	uint64_t t_start, t_end;
};

struct base_thr {
	pthread_t tid;
	struct base *b;
	unsigned idx;
	int started;
	struct hist *lat;
	uint64_t ops; /* in the window */
	int failed;
	char why[160];
};

/* The handle of the one token object of class cls labelled label (0 or SG_ERR_NOT_FOUND/HSM). */
static int
p11_find(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label,
         CK_OBJECT_HANDLE *out)
{
	CK_BBOOL tok = CK_TRUE;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)},
	    {CKA_TOKEN, &tok, sizeof(tok)},
	};
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n = 0;
	int r = SG_ERR_HSM;

	if (p->f->C_FindObjectsInit(s, t, 3) != CKR_OK)
		goto out;
	if (p->f->C_FindObjects(s, h, 2, &n) != CKR_OK) {
		p->f->C_FindObjectsFinal(s);
		goto out;
	}
	if (p->f->C_FindObjectsFinal(s) != CKR_OK)
		goto out;
	if (n != 1) {
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	*out = h[0];
	r = 0;
out:
	return r;
}

/*
 * The input of one signature over digest (dlen bytes) into data and *data_len
 * (room for 128 bytes) and the mechanism into *m (pss holds its parameters).
 */
static void
base_input(const struct base *b, const unsigned char *digest, size_t dlen, CK_MECHANISM *m,
           CK_RSA_PKCS_PSS_PARAMS *pss, unsigned char *data, CK_ULONG *data_len)
{
	const unsigned char *pre;
	size_t plen;

	memset(m, 0, sizeof(*m));
	if (!sg_keyalg_is_rsa(b->kd->alg)) {
		m->mechanism = CKM_ECDSA;
		memcpy(data, digest, dlen);
		*data_len = (CK_ULONG)dlen;
	} else if (b->kd->pad == SG_PAD_PSS) {
		m->mechanism = CKM_RSA_PKCS_PSS;
		m->pParameter = pss;
		m->ulParameterLen = sizeof(*pss);
		memcpy(data, digest, dlen);
		*data_len = (CK_ULONG)dlen;
	} else {
		m->mechanism = CKM_RSA_PKCS;
		pre = digestinfo_prefix(b->o->hash, &plen);
		memcpy(data, pre, plen);
		memcpy(data + plen, digest, dlen);
		*data_len = (CK_ULONG)(plen + dlen);
	}
}

/* One C_SignInit + C_Sign (+ C_VerifyInit + C_Verify) over a fresh random digest. */
static CK_RV
base_op(struct base *b, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub,
        CK_RSA_PKCS_PSS_PARAMS *pss, uint64_t *rng)
{
	CK_FUNCTION_LIST_PTR f = b->p->f;
	unsigned char digest[SG_HASH_MAX_LEN], data[128], sig[SIG_BUF];
	size_t dlen = sg_hash_len(b->o->hash);
	CK_ULONG data_len = 0, sig_len = sizeof(sig);
	CK_MECHANISM m;
	CK_RV rv;

	rng_fill(rng, digest, dlen);
	base_input(b, digest, dlen, &m, pss, data, &data_len);
	if ((rv = f->C_SignInit(s, &m, priv)) != CKR_OK ||
	    (rv = f->C_Sign(s, data, data_len, sig, &sig_len)) != CKR_OK)
		return rv;
	if (b->verify && ((rv = f->C_VerifyInit(s, &m, pub)) != CKR_OK ||
	                  (rv = f->C_Verify(s, data, data_len, sig, sig_len)) != CKR_OK))
		return rv;
	return CKR_OK;
}

static void *
base_main(void *arg)
{
	struct base_thr *t = arg;
	struct base *b = t->b;
	CK_FUNCTION_LIST_PTR f = b->p->f;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE, pub = CK_INVALID_HANDLE;
	CK_KEY_TYPE kt = 0;
	CK_ATTRIBUTE ka = {CKA_KEY_TYPE, &kt, sizeof(kt)};
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_RV rv;
	uint64_t rng = rng_seed(1000 + t->idx), t0, t1;
	int i, have_session = 0;

	memset(&pss, 0, sizeof(pss));
	if ((rv = f->C_OpenSession(b->p->slot, CKF_SERIAL_SESSION, NULL, NULL, &s)) != CKR_OK) {
		snprintf(t->why, sizeof(t->why), "C_OpenSession: 0x%08lx", (unsigned long)rv);
		goto fail;
	}
	have_session = 1;
	if (p11_find(b->p, s, CKO_PRIVATE_KEY, b->o->key, &priv) != 0 ||
	    (b->verify && p11_find(b->p, s, CKO_PUBLIC_KEY, b->o->key, &pub) != 0)) {
		snprintf(t->why, sizeof(t->why), "no single %skey labelled %s on the token",
		         priv == CK_INVALID_HANDLE ? "private " : "public ", b->o->key);
		goto fail;
	}
	if (f->C_GetAttributeValue(s, priv, &ka, 1) != CKR_OK ||
	    kt != (sg_keyalg_is_rsa(b->kd->alg) ? CKK_RSA : CKK_EC)) {
		snprintf(t->why, sizeof(t->why), "the token's key %s is not %s", b->o->key,
		         sg_keyalg_name(b->kd->alg));
		goto fail;
	}
	if (sg_keyalg_is_rsa(b->kd->alg) && b->kd->pad == SG_PAD_PSS &&
	    pss_params(b->o->hash, &pss) != 0) {
		snprintf(t->why, sizeof(t->why), "no PSS parameters for this hash");
		goto fail;
	}
	/* A few operations before the clock starts: sessions and key caches warm. */
	for (i = 0; i < 3; i++) {
		if ((rv = base_op(b, s, priv, pub, &pss, &rng)) != CKR_OK) {
			snprintf(t->why, sizeof(t->why), "%s: 0x%08lx",
			         b->verify ? "C_Sign/C_Verify" : "C_Sign", (unsigned long)rv);
			goto fail;
		}
	}
	atomic_fetch_add(&b->ready, 1);
	while (!atomic_load(&b->go))
		usleep(200);
	for (;;) {
		t0 = now_ns();
		if (t0 >= b->t_end)
			break;
		if ((rv = base_op(b, s, priv, pub, &pss, &rng)) != CKR_OK) {
			snprintf(t->why, sizeof(t->why), "%s: 0x%08lx",
			         b->verify ? "C_Sign/C_Verify" : "C_Sign", (unsigned long)rv);
			t->failed = 1;
			break;
		}
		t1 = now_ns();
		if (t0 >= b->t_start && t1 < b->t_end) {
			t->ops++;
			hist_add(t->lat, t1 - t0);
		}
	}
	f->C_CloseSession(s);
	return NULL;
fail:
	t->failed = 1;
	if (have_session)
		f->C_CloseSession(s);
	atomic_fetch_add(&b->ready, 1);
	return NULL;
}

struct base_result {
	uint64_t ops;
	double window_s;
	double cpu_s; /* CPU time of this process during the window */
	struct hist lat;
	unsigned failed;
};

/*
 * Runs one baseline: o->baseline_threads threads sign (and verify when
 * verify) for the warm-up and o->seconds on the logged-in token p.  Returns
 * 0 or SG_ERR_NOMEM / SG_ERR_INTERNAL; failed threads are in res->failed.
 */
static int
base_run(const struct bench_opts *o, const struct key_desc *kd, struct p11 *p, int verify,
         struct base_result *res)
{
	struct base_thr *th = NULL;
	struct base b;
	double cpu0;
	unsigned i, started = 0;
	int r = SG_ERR_NOMEM;

	memset(res, 0, sizeof(*res));
	memset(&b, 0, sizeof(b));
	b.o = o;
	b.kd = kd;
	b.p = p;
	b.verify = verify;
	atomic_init(&b.ready, 0);
	atomic_init(&b.go, 0);
	if ((th = calloc(o->baseline_threads, sizeof(*th))) == NULL)
		goto out;
	for (i = 0; i < o->baseline_threads; i++) {
		th[i].b = &b;
		th[i].idx = i;
		if ((th[i].lat = calloc(1, sizeof(*th[i].lat))) == NULL)
			goto out;
	}
	for (i = 0; i < o->baseline_threads; i++) {
		if (pthread_create(&th[i].tid, NULL, base_main, &th[i]) != 0) {
			r = SG_ERR_INTERNAL;
			break;
		}
		th[i].started = 1;
		started++;
	}
	while (atomic_load(&b.ready) < started)
		usleep(1000);
	b.t_start = now_ns() + (uint64_t)(o->warmup * 1e9);
	b.t_end = b.t_start + (uint64_t)(o->seconds * 1e9);
	if (started < o->baseline_threads)
		b.t_start = b.t_end = now_ns();
	atomic_store(&b.go, 1);
	if (started == o->baseline_threads)
		r = 0;
	res->window_s = (double)(b.t_end - b.t_start) / 1e9;
	/* The load phase is over, so the baseline threads are what runs here. */
	sleep_until(b.t_start);
	cpu0 = self_cpu_s();
	sleep_until(b.t_end);
	res->cpu_s = self_cpu_s() - cpu0;
out:
	for (i = 0; th != NULL && i < o->baseline_threads; i++) {
		if (!th[i].started)
			continue;
		pthread_join(th[i].tid, NULL);
		if (th[i].failed) {
			res->failed++;
			fprintf(stderr, PROG ": baseline thread %u: %s\n", i, th[i].why);
		}
		res->ops += th[i].ops;
		hist_merge(&res->lat, th[i].lat);
	}
	for (i = 0; th != NULL && i < o->baseline_threads; i++)
		free(th[i].lat);
	free(th);
	return r;
}

/* ---- sign ---- */

static int
cmd_sign(int argc, char **argv)
{
	struct bench_opts o;
	struct key_desc kd;
	struct load_result *lr = NULL;
	struct base_result *br = NULL;
	struct p11 p;
	char errs[512], dcpu[64];
	double tput = 0.0, btput;
	int rc, r, pass, stop = 0, have_p11 = 0;

	memset(&kd, 0, sizeof(kd));
	memset(&p, 0, sizeof(p));
	if ((rc = sign_parse(argc, argv, &o, &stop)) != 0 || stop)
		goto out;
	if ((rc = key_describe(&o, &kd)) != 0)
		goto out;
	rc = BENCH_EXIT_FAIL;
	if ((lr = calloc(1, sizeof(*lr))) == NULL || (br = calloc(1, sizeof(*br))) == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	/* Log in before the load phase, so that a wrong token or PIN file fails at once. */
	if (o.baseline) {
		if (p11_open(&p, o.module, o.token, o.pin_file) != 0)
			goto out;
		have_p11 = 1;
	}
	if ((r = load_run(&o, &kd, lr)) != 0) {
		fprintf(stderr, PROG ": load phase: %s\n", sg_strerror(r));
		goto out;
	}
	tput = lr->window_s > 0 ? (double)lr->signatures / lr->window_s : 0.0;
	format_errors(lr->err, errs, sizeof(errs));
	dcpu[0] = '\0';
	if (lr->daemon_cpu_s >= 0)
		snprintf(dcpu, sizeof(dcpu), " daemon_cpu_s=%.2f", lr->daemon_cpu_s);
	printf("mode=sign key=%s alg=%s hash=%s pad=%s clients=%u depth=%u seconds=%.2f "
	       "signatures=%llu errors=%llu errors_by_code=%s throughput_per_s=%.1f "
	       "p50_us=%.1f p99_us=%.1f p999_us=%.1f bench_cpu_s=%.2f%s\n",
	       o.key, sg_keyalg_name(kd.alg), sg_hash_name(o.hash), sg_pad_name(kd.pad), o.clients,
	       o.depth, lr->window_s, (unsigned long long)lr->signatures,
	       (unsigned long long)lr->errors, errs, tput, hist_quantile_us(&lr->lat, 0.50),
	       hist_quantile_us(&lr->lat, 0.99), hist_quantile_us(&lr->lat, 0.999), lr->bench_cpu_s,
	       dcpu);
	fflush(stdout);
	if (lr->err_outside > 0)
		fprintf(stderr, PROG ": %llu errors outside the window (warm-up, drain)\n",
		        (unsigned long long)lr->err_outside);
	if (lr->failed > 0 || lr->bad_sigs > 0 || lr->signatures == 0) {
		fprintf(stderr,
		        PROG ": load phase failed: %u client(s) failed, %llu bad "
		             "signature(s) of %llu verified, %llu signature(s) counted\n",
		        lr->failed, (unsigned long long)lr->bad_sigs,
		        (unsigned long long)lr->verified, (unsigned long long)lr->signatures);
		goto out;
	}
	if (!o.baseline) {
		rc = BENCH_EXIT_OK;
		goto out;
	}
	/* Sign-only first, then sign + C_Verify when asked (the appliance's own work). */
	for (pass = 0; pass <= o.baseline_verify; pass++) {
		if ((r = base_run(&o, &kd, &p, pass, br)) != 0 || br->failed > 0) {
			fprintf(stderr, PROG ": baseline failed%s%s\n", r != 0 ? ": " : "",
			        r != 0 ? sg_strerror(r) : "");
			goto out;
		}
		btput = br->window_s > 0 ? (double)br->ops / br->window_s : 0.0;
		if (br->ops == 0) {
			fprintf(stderr, PROG ": the baseline signed nothing\n");
			goto out;
		}
		printf("baseline=%s baseline_threads=%u baseline_signatures=%llu "
		       "baseline_throughput_per_s=%.1f baseline_p50_us=%.1f baseline_p99_us=%.1f "
		       "baseline_cpu_s=%.2f ratio=%.3f\n",
		       pass ? "raw-pkcs11-verify" : "raw-pkcs11", o.baseline_threads,
		       (unsigned long long)br->ops, btput, hist_quantile_us(&br->lat, 0.50),
		       hist_quantile_us(&br->lat, 0.99), br->cpu_s, tput / btput);
		fflush(stdout);
	}
	rc = BENCH_EXIT_OK;
out:
	if (have_p11)
		p11_close(&p);
	EVP_PKEY_free(kd.pub);
	free(lr);
	free(br);
	return rc;
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		main_usage(stderr);
		return BENCH_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		main_usage(stdout);
		return BENCH_EXIT_OK;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, PROG ": unknown command '%s'\n", argv[1]);
	main_usage(stderr);
	return BENCH_EXIT_USAGE;
}
