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
 *          printed.  The load phase is bench_load.c, the baseline bench_p11.c.
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

#include "bench_load.h"
#include "bench_opt.h"
#include "bench_p11.h"
#include "bench_util.h"
#include "crl_bench.h"
#include "hash_bench.h"
#include "issue_bench.h"

#include "sg_alg.h"
#include "sg_err.h"
#include "sg_wire.h"

#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#define PROG "signet-bench"

enum bench_exit {
	BENCH_EXIT_OK = 0,
	BENCH_EXIT_FAIL = 1,
	BENCH_EXIT_USAGE = 2,
};

#define VERIFY_FIRST 4    /* replies verified at the start of each client thread */
#define VERIFY_EVERY 1024 /* then one reply in this many */

/* ---- options ---- */

struct bench_opts {
	struct bench_opts_common c; /* the load phase and the baseline (bench_opt.c) */
	const char *key;
	enum sg_hash hash;
	enum sg_pad pad;
	int pad_given;
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
    "the token labelled LABEL of the PKCS#11 module PATH (default " BENCH_OPT_DEFAULT_MODULE ";\n"
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

/* Says what is wrong with the command line; returns BENCH_EXIT_USAGE. */
#define usage_error(...) bench_usage_error(PROG, PROG " sign", __VA_ARGS__)

enum sign_opt {
	O_KEY = BENCH_OPT_MODE_FIRST,
	O_HASH,
	O_PAD,
	O_HELP,
};

static const struct option sign_longopts[] = {
    {"key", required_argument, NULL, O_KEY}, {"hash", required_argument, NULL, O_HASH},
    {"pad", required_argument, NULL, O_PAD}, BENCH_OPT_LONGOPTS,
    {"help", no_argument, NULL, O_HELP},     {NULL, 0, NULL, 0},
};

/*
 * Parses the options of `sign` into *o.  Returns 0 with *stop = 0 to run;
 * otherwise *stop = 1 and the exit status to end with: BENCH_EXIT_USAGE
 * after a message, BENCH_EXIT_OK after --help.
 */
static int
sign_parse(int argc, char **argv, struct bench_opts *o, int *stop)
{
	char why[BENCH_OPT_WHY_MAX];
	int c, r;

	*stop = 1;
	memset(o, 0, sizeof(*o));
	bench_opt_defaults(&o->c);
	o->hash = SG_HASH_SHA256;
	o->pad = SG_PAD_NONE;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", sign_longopts, NULL)) != -1) {
		if ((r = bench_opt_take(c, optarg, &o->c, why, sizeof(why))) < 0)
			return usage_error("%s", why);
		if (r > 0)
			continue;
		switch (c) {
		case O_KEY:
			if (!sg_wire_name_valid(optarg, strlen(optarg)))
				return usage_error("--key: '%s' is not a key name", optarg);
			o->key = optarg;
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
	if (bench_opt_check(&o->c, why, sizeof(why)) != 0)
		return usage_error("%s", why);
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
	if ((c = signet_client_open(o->c.config, NULL, &err, why, sizeof(why))) == NULL) {
		fprintf(stderr, PROG ": %s: %s (%s)\n", o->c.config, why, sg_strerror(err));
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

/* ---- load phase: sign.digest through bench_load ---- */

/* What one client thread keeps; only that thread touches it. */
struct sign_client {
	_Alignas(64) uint64_t rng;
	uint64_t replies; /* ok replies, in the window or not */
	uint64_t bad_sigs;
	uint64_t verified;
};

struct sign_load {
	const struct bench_opts *o;
	const struct key_desc *kd;
	struct sign_client *cl; /* o->c.clients entries */
};

_Static_assert(SG_HASH_MAX_LEN <= BENCH_SLOT_MAX, "a digest fits a bench_load slot");

/* A sign.digest request over a fresh random digest; the slot keeps the digest. */
static int
sign_prepare(void *arg, unsigned client, struct sg_req *req, unsigned char *slot)
{
	struct sign_load *sl = arg;
	const struct bench_opts *o = sl->o;
	size_t dlen = sg_hash_len(o->hash);

	memset(req, 0, sizeof(*req));
	req->op = SG_OP_SIGN_DIGEST;
	snprintf(req->u.sign.key, sizeof(req->u.sign.key), "%s", o->key);
	req->u.sign.hash = o->hash;
	req->u.sign.pad = sl->kd->pad;
	bench_rng_fill(&sl->cl[client].rng, req->u.sign.digest, dlen);
	req->u.sign.digest_len = dlen;
	memcpy(slot, req->u.sign.digest, dlen);
	return 0;
}

/* Checks one ok reply: names the key asked for and verifies over the digest sent. */
static int
sign_check(const struct sign_load *sl, const struct sg_rep *rep, const unsigned char *digest)
{
	const struct bench_opts *o = sl->o;
	const struct sg_sign_rep *s = &rep->u.sign;

	if (rep->op != SG_OP_SIGN_DIGEST || strcmp(s->key, o->key) != 0 || s->hash != o->hash)
		return SG_ERR_MALFORMED;
	return signet_verify_digest(sl->kd->pub, o->hash, sl->kd->pad, digest, sg_hash_len(o->hash),
	                            s->sig, s->sig_len);
}

/* The first replies of each client and one in VERIFY_EVERY are verified; a bad one is an error. */
static enum bench_verdict
sign_judge(void *arg, unsigned client, struct sg_rep *rep, const unsigned char *slot, int in_window)
{
	struct sign_load *sl = arg;
	struct sign_client *c = &sl->cl[client];

	(void)in_window;
	if (!rep->ok)
		return BENCH_REPLY_ERR;
	c->replies++;
	if (c->replies <= VERIFY_FIRST || c->replies % VERIFY_EVERY == 0) {
		c->verified++;
		if (sign_check(sl, rep, slot) != 0) {
			c->bad_sigs++;
			rep->ok = 0;
			rep->err = SG_ERR_BAD_SIGNATURE;
			return BENCH_REPLY_ERR;
		}
	}
	return BENCH_REPLY_OK;
}

struct load_result {
	struct bench_load_result b;
	uint64_t bad_sigs;
	uint64_t verified;
};

/*
 * Runs the load phase: o->c.clients threads keep o->c.depth requests each in
 * flight for the warm-up and o->c.seconds.  Fills *res.  Returns 0 or a
 * bench_load_run error; a thread that failed is counted in res->b.failed.
 */
static int
load_run(const struct bench_opts *o, const struct key_desc *kd, struct load_result *res)
{
	struct bench_load_spec spec;
	struct sign_load sl;
	unsigned i;
	int r = SG_ERR_NOMEM;

	memset(res, 0, sizeof(*res));
	res->b.daemon_cpu_s = -1.0;
	sl.o = o;
	sl.kd = kd;
	if ((sl.cl = aligned_alloc(64, sizeof(*sl.cl) * o->c.clients)) == NULL)
		goto out;
	memset(sl.cl, 0, sizeof(*sl.cl) * o->c.clients);
	for (i = 0; i < o->c.clients; i++)
		sl.cl[i].rng = bench_rng_seed(i + 1);
	memset(&spec, 0, sizeof(spec));
	spec.config = o->c.config;
	spec.clients = o->c.clients;
	spec.depth = o->c.depth;
	spec.warmup = o->c.warmup;
	spec.seconds = o->c.seconds;
	spec.daemon_pid = o->c.daemon_pid;
	spec.arg = &sl;
	spec.prepare = sign_prepare;
	spec.judge = sign_judge;
	r = bench_load_run(&spec, &res->b);
	for (i = 0; i < o->c.clients; i++) {
		res->bad_sigs += sl.cl[i].bad_sigs;
		res->verified += sl.cl[i].verified;
	}
out:
	free(sl.cl);
	return r;
}

/* ---- sign ---- */

static int
cmd_sign(int argc, char **argv)
{
	struct bench_opts o;
	struct key_desc kd;
	struct load_result *lr = NULL;
	struct bench_p11_result *br = NULL;
	struct bench_p11 *p11 = NULL;
	struct bench_p11_run run;
	char errs[512], dcpu[64];
	double tput = 0.0, btput;
	int rc, r, pass, stop = 0;

	memset(&kd, 0, sizeof(kd));
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
	if (o.c.baseline && bench_p11_open(o.c.module, o.c.token, o.c.pin_file, &p11) != 0)
		goto out;
	if ((r = load_run(&o, &kd, lr)) != 0) {
		fprintf(stderr, PROG ": load phase: %s\n", sg_strerror(r));
		goto out;
	}
	tput = lr->b.window_s > 0 ? (double)lr->b.ok / lr->b.window_s : 0.0;
	bench_format_errors(lr->b.err, errs, sizeof(errs));
	dcpu[0] = '\0';
	if (lr->b.daemon_cpu_s >= 0)
		snprintf(dcpu, sizeof(dcpu), " daemon_cpu_s=%.2f", lr->b.daemon_cpu_s);
	printf("mode=sign key=%s alg=%s hash=%s pad=%s clients=%u depth=%u seconds=%.2f "
	       "signatures=%llu errors=%llu errors_by_code=%s throughput_per_s=%.1f "
	       "p50_us=%.1f p99_us=%.1f p999_us=%.1f bench_cpu_s=%.2f%s\n",
	       o.key, sg_keyalg_name(kd.alg), sg_hash_name(o.hash), sg_pad_name(kd.pad),
	       o.c.clients, o.c.depth, lr->b.window_s, (unsigned long long)lr->b.ok,
	       (unsigned long long)lr->b.errors, errs, tput,
	       bench_hist_quantile_us(&lr->b.lat, 0.50), bench_hist_quantile_us(&lr->b.lat, 0.99),
	       bench_hist_quantile_us(&lr->b.lat, 0.999), lr->b.bench_cpu_s, dcpu);
	fflush(stdout);
	if (lr->b.err_outside > 0)
		fprintf(stderr, PROG ": %llu errors outside the window (warm-up, drain)\n",
		        (unsigned long long)lr->b.err_outside);
	if (lr->b.failed > 0 || lr->bad_sigs > 0 || lr->b.ok == 0) {
		fprintf(stderr,
		        PROG ": load phase failed: %u client(s) failed, %llu bad "
		             "signature(s) of %llu verified, %llu signature(s) counted\n",
		        lr->b.failed, (unsigned long long)lr->bad_sigs,
		        (unsigned long long)lr->verified, (unsigned long long)lr->b.ok);
		goto out;
	}
	if (!o.c.baseline) {
		rc = BENCH_EXIT_OK;
		goto out;
	}
	memset(&run, 0, sizeof(run));
	run.key = o.key;
	run.alg = kd.alg;
	run.hash = o.hash;
	run.pad = kd.pad;
	run.threads = o.c.baseline_threads;
	run.warmup = o.c.warmup;
	run.seconds = o.c.seconds;
	/* Sign-only first, then sign + C_Verify when asked (the appliance's own work). */
	for (pass = 0; pass <= o.c.baseline_verify; pass++) {
		run.verify = pass;
		if ((r = bench_p11_run(p11, &run, br)) != 0 || br->failed > 0) {
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
		       pass ? "raw-pkcs11-verify" : "raw-pkcs11", o.c.baseline_threads,
		       (unsigned long long)br->ops, btput, bench_hist_quantile_us(&br->lat, 0.50),
		       bench_hist_quantile_us(&br->lat, 0.99), br->cpu_s, tput / btput);
		fflush(stdout);
	}
	rc = BENCH_EXIT_OK;
out:
	bench_p11_free(p11);
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
