/*
 * signet-bench issue: certificates per second and latency of cert.issue on
 * a running appliance, beside the raw PKCS#11 signing rate of the issuing
 * CA's own key measured in the same run (docs/benchmarks.md).
 *
 * Load phase: C client threads, each with its own libsignet connection,
 * keep D cert.issue requests in flight (signet_client_send / _recv), all
 * with the same CSR and profile and each with a fresh idempotency key, so
 * each one is a new certificate: CSR check, profile rules, serial number,
 * TBSCertificate, one signature by the CA key in the HSM, the appliance's
 * checks of it, the certificate row and its audit record.  A reply counts
 * when it completes inside the window (after the warm-up); an error or a
 * replayed answer (a stored certificate, not a new one) never counts as
 * throughput.  Each thread checks its first IB_CHECK_FIRST certificates and
 * then one in IB_CHECK_EVERY: the DER parses, its serial number and public
 * key are the reply's and the CSR's, it is issued by the CA certificate that
 * ca.list gave and its signature verifies with that CA's key; one that fails
 * is counted as bad_signature or malformed and fails the run.
 *
 * Baseline phase, after the load with the daemon idle (bench_p11.c): T
 * threads sign with the issuing CA's key itself (its token label is the
 * CA's key name unless --baseline-key says otherwise), with the mechanism
 * and hash the appliance used for the certificates (read from the first
 * certificate's signature algorithm), sign-only and, with
 * --baseline-verify, sign + C_Verify.  ratio = certificates/s over the
 * baseline's signatures/s: how close issuance comes to the HSM's own rate.
 *
 * Secrets: the baseline's PIN comes from a 0600 file and is wiped after
 * C_Login; the client's CURVE key is read by libsignet.
 *
 * Exit status: 0 the run completed, 1 it failed (no certificate counted, a
 * client failed, a bad certificate, the baseline failed), 2 usage.
 */
#include "issue_bench.h"

#include "bench_load.h"
#include "bench_opt.h"
#include "bench_p11.h"
#include "bench_util.h"
#include "signet.h"

#include "sg_alg.h"
#include "sg_err.h"
#include "sg_wire.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define IB_PROG "signet-bench issue"
#define IB_MAX_TTL (366ul * 86400)
#define IB_CHECK_FIRST 4  /* replies checked at the start of each client thread */
#define IB_CHECK_EVERY 64 /* then one in this many (a P-384 verify costs about 1 ms here) */

enum ib_exit {
	IB_EXIT_OK = 0,
	IB_EXIT_FAIL = 1,
	IB_EXIT_USAGE = 2,
};

struct ib_opts {
	struct bench_opts_common c; /* the load phase and the baseline (bench_opt.c) */
	const char *csr_file;
	const char *profile;
	uint64_t ttl;             /* 0: the profile's default */
	const char *baseline_key; /* NULL: the CA's name */
};

/* What the run issues with: the CSR and the CA that signs under the profile. */
struct ib_target {
	unsigned char csr[SG_CSR_MAX];
	size_t csr_len;
	EVP_PKEY *csr_key; /* the CSR's public key */
	char ca[SG_NAME_MAX + 1];
	X509 *ca_cert;
	enum sg_keyalg ca_alg;
};

static const char issue_usage[] =
    "usage: signet-bench issue --csr FILE --profile NAME --clients C --depth D --seconds S\n"
    "         [--config FILE] [--ttl SECONDS] [--warmup S] [--daemon-pid PID]\n"
    "         [--baseline-module PATH] [--baseline-token LABEL] [--baseline-pin-file FILE]\n"
    "         [--baseline-key LABEL] [--baseline-threads T] [--baseline-verify]\n"
    "         [--no-baseline]\n"
    "\n"
    "Load phase: C client threads (1..256), each with its own libsignet connection\n"
    "(configuration from --config, else $SIGNET_CONFIG; a client that may issue\n"
    "under NAME and list CAs), keep D (1..4096) cert.issue requests for the CSR in\n"
    "FILE (PEM or DER) under profile NAME in flight, each with a new idempotency\n"
    "key (--ttl: the lifetime asked for, default the profile's).  After --warmup\n"
    "seconds (default 1, not counted) the replies that complete within the next S\n"
    "seconds (0.1..3600) are counted: new certificates as throughput with their\n"
    "send-to-reply latency, errors by code, replayed answers apart.  Each thread\n"
    "checks its first 4 certificates and one in 64 against the CSR and the CA\n"
    "certificate from ca.list.  The per-client in-flight cap of signetd (default\n"
    "256) applies to C x D together.\n"
    "\n"
    "Baseline phase (unless --no-baseline), after the load phase, with the daemon\n"
    "idle: T threads (default 2, signetd's default workers) sign random digests on\n"
    "the token LABEL of the PKCS#11 module PATH (default " BENCH_OPT_DEFAULT_MODULE ")\n"
    "with the issuing CA's private key (CKA_LABEL = the CA's name, or --baseline-key),\n"
    "using the hash of the certificates' signatures (ECDSA: CKM_ECDSA; RSA:\n"
    "CKM_RSA_PKCS over a DigestInfo), for the same warm-up and S seconds; with\n"
    "--baseline-verify a second baseline also runs C_Verify on every signature.\n"
    "The user PIN is read from FILE (mode 0600).  --baseline-token and\n"
    "--baseline-pin-file are required unless --no-baseline.\n"
    "\n"
    "Output (stdout, key=value):\n"
    "  mode=issue profile= ca= ca_alg= hash= clients= depth= seconds= certificates=\n"
    "    errors= errors_by_code= replayed= checked= throughput_per_s= p50_us= p99_us=\n"
    "    p999_us= cert_bytes= bench_cpu_s= [daemon_cpu_s= daemon_cpu_us_per_cert=]\n"
    "  baseline=raw-pkcs11[-verify] baseline_key= baseline_threads=\n"
    "    baseline_signatures= baseline_throughput_per_s= baseline_p50_us=\n"
    "    baseline_p99_us= baseline_cpu_s= baseline_cpu_us_per_sig= ratio= [cpu_ratio=]\n"
    "  (ratio = certificates/s over the baseline's signatures/s; cpu_ratio (with\n"
    "  --daemon-pid) = the baseline's CPU per signature over signetd's CPU per\n"
    "  certificate; *_cpu_s are CPU seconds (user + system) during the window)\n"
    "\n"
    "Exit status: 0 the run completed; 1 it failed (no certificate counted, a\n"
    "client failed, a certificate did not check out, the baseline failed);\n"
    "2 usage error.\n";

/* Says what is wrong with the command line; returns IB_EXIT_USAGE. */
#define ib_usage_error(...) bench_usage_error(IB_PROG, IB_PROG, __VA_ARGS__)

enum ib_opt {
	IO_CSR = BENCH_OPT_MODE_FIRST,
	IO_PROFILE,
	IO_TTL,
	IO_KEY,
	IO_HELP,
};

static const struct option ib_longopts[] = {
    {"csr", required_argument, NULL, IO_CSR},
    {"profile", required_argument, NULL, IO_PROFILE},
    {"ttl", required_argument, NULL, IO_TTL},
    {"baseline-key", required_argument, NULL, IO_KEY},
    BENCH_OPT_LONGOPTS,
    {"help", no_argument, NULL, IO_HELP},
    {NULL, 0, NULL, 0},
};

/* As sign_parse of signet_bench.c: 0 with *stop = 0 to run, else the exit status. */
static int
ib_parse(int argc, char **argv, struct ib_opts *o, int *stop)
{
	char why[BENCH_OPT_WHY_MAX];
	unsigned long v;
	int c, r;

	*stop = 1;
	memset(o, 0, sizeof(*o));
	bench_opt_defaults(&o->c);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", ib_longopts, NULL)) != -1) {
		if ((r = bench_opt_take(c, optarg, &o->c, why, sizeof(why))) < 0)
			return ib_usage_error("%s", why);
		if (r > 0)
			continue;
		switch (c) {
		case IO_CSR:
			o->csr_file = optarg;
			break;
		case IO_PROFILE:
			if (!sg_wire_name_valid(optarg, strlen(optarg)))
				return ib_usage_error("--profile: '%s' is not a profile name",
				                      optarg);
			o->profile = optarg;
			break;
		case IO_TTL:
			if (bench_parse_ulong(optarg, 1, IB_MAX_TTL, &v) != 0)
				return ib_usage_error("--ttl: '%s' is not in 1..%lu seconds",
				                      optarg, IB_MAX_TTL);
			o->ttl = v;
			break;
		case IO_KEY:
			if (strlen(optarg) < 1 || strlen(optarg) > SG_NAME_MAX)
				return ib_usage_error("--baseline-key: '%s' is not a key label",
				                      optarg);
			o->baseline_key = optarg;
			break;
		case IO_HELP:
			fputs(issue_usage, stdout);
			return IB_EXIT_OK;
		default:
			return ib_usage_error("unknown option or missing value: %s",
			                      argv[optind - 1]);
		}
	}
	if (optind != argc)
		return ib_usage_error("unexpected argument: %s", argv[optind]);
	if (o->csr_file == NULL)
		return ib_usage_error("%s is required", "--csr");
	if (o->profile == NULL)
		return ib_usage_error("%s is required", "--profile");
	if (bench_opt_check(&o->c, why, sizeof(why)) != 0)
		return ib_usage_error("%s", why);
	*stop = 0;
	return 0;
}

/* ---- the CSR and the CA ---- */

/* A CSR as cert.issue takes it: one DER request with nothing after it, or PEM. */
static X509_REQ *
ib_csr_parse(const unsigned char *p, size_t len)
{
	const unsigned char *q = p;
	X509_REQ *req;
	BIO *bio;

	if ((req = d2i_X509_REQ(NULL, &q, (long)len)) != NULL) {
		if (q == p + len)
			return req;
		X509_REQ_free(req);
		return NULL;
	}
	if ((bio = BIO_new_mem_buf(p, (int)len)) == NULL)
		return NULL;
	req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return req;
}

/* Reads the CSR file into t and keeps its public key; 0 or SG_ERR_IO / SG_ERR_CSR_INVALID. */
static int
ib_read_csr(const char *path, struct ib_target *t)
{
	X509_REQ *req = NULL;
	FILE *fp;
	size_t n;
	int r = SG_ERR_IO;

	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, IB_PROG ": %s: cannot open\n", path);
		goto out;
	}
	n = fread(t->csr, 1, sizeof(t->csr), fp);
	if (ferror(fp) || fgetc(fp) != EOF || n == 0) {
		fprintf(stderr, IB_PROG ": %s: unreadable, empty or over %d bytes\n", path,
		        SG_CSR_MAX);
		fclose(fp);
		goto out;
	}
	fclose(fp);
	t->csr_len = n;
	ERR_set_mark();
	req = ib_csr_parse(t->csr, t->csr_len);
	ERR_pop_to_mark();
	if (req == NULL || (t->csr_key = X509_REQ_get_pubkey(req)) == NULL) {
		fprintf(stderr, IB_PROG ": %s: not a PKCS#10 request\n", path);
		r = SG_ERR_CSR_INVALID;
		goto out;
	}
	r = 0;
out:
	X509_REQ_free(req);
	return r;
}

/* The Signet key algorithm of pkey, or SG_KEYALG_NONE. */
static enum sg_keyalg
ib_keyalg(const EVP_PKEY *pkey)
{
	char group[64];
	size_t glen = 0;

	if (EVP_PKEY_is_a(pkey, "RSA")) {
		switch (EVP_PKEY_get_bits(pkey)) {
		case 2048:
			return SG_KEYALG_RSA_2048;
		case 3072:
			return SG_KEYALG_RSA_3072;
		case 4096:
			return SG_KEYALG_RSA_4096;
		default:
			return SG_KEYALG_NONE;
		}
	}
	if (!EVP_PKEY_is_a(pkey, "EC") ||
	    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
	                                   &glen) != 1)
		return SG_KEYALG_NONE;
	if (OBJ_sn2nid(group) == NID_X9_62_prime256v1 || OBJ_txt2nid(group) == NID_X9_62_prime256v1)
		return SG_KEYALG_EC_P256;
	if (OBJ_sn2nid(group) == NID_secp384r1 || OBJ_txt2nid(group) == NID_secp384r1)
		return SG_KEYALG_EC_P384;
	return SG_KEYALG_NONE;
}

/*
 * Asks the appliance (ca.list) which CA issues under o->profile for this
 * client and keeps its name, certificate and key algorithm in t.  Returns
 * 0 or the exit status to end with.
 */
static int
ib_describe_ca(const struct ib_opts *o, struct ib_target *t)
{
	struct signet_client *c = NULL;
	struct sg_ca_info *cas = NULL;
	const unsigned char *p;
	char why[SIGNET_ERRMSG_MAX] = "";
	size_t n = 0, i, j;
	int err = 0, r, rc = IB_EXIT_FAIL;

	if ((c = signet_client_open(o->c.config, NULL, &err, why, sizeof(why))) == NULL) {
		fprintf(stderr, IB_PROG ": %s: %s (%s)\n", o->c.config, why, sg_strerror(err));
		goto out;
	}
	if ((r = signet_ca_list(c, &cas, &n)) != 0) {
		fprintf(stderr, IB_PROG ": ca.list: %s (%s)\n", signet_client_errmsg(c),
		        sg_err_name(r));
		goto out;
	}
	for (i = 0; i < n && t->ca_cert == NULL; i++) {
		for (j = 0; j < cas[i].n_profiles; j++) {
			if (strcmp(cas[i].profiles[j], o->profile) != 0)
				continue;
			p = cas[i].cert[0];
			if ((t->ca_cert = d2i_X509(NULL, &p, (long)cas[i].cert_len[0])) == NULL) {
				fprintf(stderr,
				        IB_PROG ": the certificate of CA %s does not parse\n",
				        cas[i].name);
				goto out;
			}
			snprintf(t->ca, sizeof(t->ca), "%s", cas[i].name);
			break;
		}
	}
	if (t->ca_cert == NULL) {
		fprintf(stderr, IB_PROG ": no CA lists profile %s for this client\n", o->profile);
		goto out;
	}
	if ((t->ca_alg = ib_keyalg(X509_get0_pubkey(t->ca_cert))) == SG_KEYALG_NONE) {
		fprintf(stderr, IB_PROG ": CA %s has a key type the baseline does not know\n",
		        t->ca);
		goto out;
	}
	rc = 0;
out:
	signet_cas_free(cas, n);
	signet_client_free(c);
	return rc;
}

/* The hash of cert's signature, or SG_HASH_NONE. */
static enum sg_hash
ib_cert_hash(const X509 *cert)
{
	int mdnid = NID_undef;

	if (X509_get_signature_info((X509 *)cert, &mdnid, NULL, NULL, NULL) != 1)
		return SG_HASH_NONE;
	switch (mdnid) {
	case NID_sha256:
		return SG_HASH_SHA256;
	case NID_sha384:
		return SG_HASH_SHA384;
	case NID_sha512:
		return SG_HASH_SHA512;
	default:
		return SG_HASH_NONE;
	}
}

/* ---- load phase: cert.issue through bench_load ---- */

/* What one client thread keeps; only that thread touches it. */
struct ib_client {
	_Alignas(64) int filled; /* the thread's request holds the CSR */
	uint64_t fresh;          /* new certificates, in the window or not */
	uint64_t replayed;       /* in the window */
	uint64_t bad;
	uint64_t checked;
	uint64_t cert_bytes; /* of the last certificate checked */
	enum sg_hash hash;   /* of the first certificate checked */
};

struct ib_load {
	const struct ib_opts *o;
	const struct ib_target *t;
	struct ib_client *cl; /* o->c.clients entries */
};

/* 1 if the ASN.1 INTEGER a is the positive number of magnitude p[0..len). */
static int
ib_serial_is(const ASN1_INTEGER *a, const unsigned char *p, size_t len)
{
	BIGNUM *x = NULL, *y = NULL;
	int same = 0;

	if (a != NULL && (x = ASN1_INTEGER_to_BN(a, NULL)) != NULL &&
	    (y = BN_bin2bn(p, (int)len, NULL)) != NULL)
		same = !BN_is_negative(x) && BN_cmp(x, y) == 0;
	BN_free(x);
	BN_free(y);
	return same;
}

/*
 * Checks one new certificate: one DER certificate with the reply's serial,
 * the CSR's public key, issued by the CA and signed by its key.  0 or
 * SG_ERR_BAD_SIGNATURE / SG_ERR_MALFORMED.
 */
static int
ib_check(const struct ib_target *t, struct ib_client *th, const struct sg_issue_rep *rep)
{
	const unsigned char *p = rep->cert;
	X509 *x = NULL;
	int r = SG_ERR_MALFORMED;

	th->checked++;
	ERR_set_mark();
	if (strcmp(rep->ca, t->ca) != 0 || (x = d2i_X509(NULL, &p, (long)rep->cert_len)) == NULL ||
	    p != rep->cert + rep->cert_len ||
	    !ib_serial_is(X509_get0_serialNumber(x), rep->serial, rep->serial_len) ||
	    EVP_PKEY_eq(X509_get0_pubkey(x), t->csr_key) != 1 ||
	    X509_check_issued(t->ca_cert, x) != X509_V_OK)
		goto out;
	if (X509_verify(x, X509_get0_pubkey(t->ca_cert)) != 1) {
		r = SG_ERR_BAD_SIGNATURE;
		goto out;
	}
	if (th->hash == SG_HASH_NONE)
		th->hash = ib_cert_hash(x);
	th->cert_bytes = rep->cert_len;
	r = 0;
out:
	ERR_pop_to_mark();
	X509_free(x);
	return r;
}

/*
 * The request every thread sends, filled once per thread (libsignet writes
 * id and idempotency key into it); a new idempotency key each time makes a
 * new certificate, not a replay.
 */
static int
ib_prepare(void *arg, unsigned client, struct sg_req *req, unsigned char *slot)
{
	struct ib_load *ld = arg;
	struct ib_client *c = &ld->cl[client];

	(void)slot;
	if (!c->filled) {
		memset(req, 0, sizeof(*req));
		req->op = SG_OP_CERT_ISSUE;
		snprintf(req->u.issue.profile, sizeof(req->u.issue.profile), "%s", ld->o->profile);
		memcpy(req->u.issue.csr, ld->t->csr, ld->t->csr_len);
		req->u.issue.csr_len = ld->t->csr_len;
		req->u.issue.ttl = ld->o->ttl;
		c->filled = 1;
	}
	req->u.issue.idem_len = 0;
	return 0;
}

/* A replay is neither throughput nor an error; new certificates are checked now and then. */
static enum bench_verdict
ib_judge(void *arg, unsigned client, struct sg_rep *rep, const unsigned char *slot, int in_window)
{
	struct ib_load *ld = arg;
	struct ib_client *c = &ld->cl[client];
	int r;

	(void)slot;
	if (rep->ok &&
	    (rep->op != SG_OP_CERT_ISSUE || strcmp(rep->u.issue.profile, ld->o->profile) != 0)) {
		rep->ok = 0;
		rep->err = SG_ERR_MALFORMED;
	}
	if (!rep->ok)
		return BENCH_REPLY_ERR;
	if (rep->u.issue.replayed) {
		if (in_window)
			c->replayed++;
		return BENCH_REPLY_OTHER;
	}
	c->fresh++;
	if ((c->fresh <= IB_CHECK_FIRST || c->fresh % IB_CHECK_EVERY == 0) &&
	    (r = ib_check(ld->t, c, &rep->u.issue)) != 0) {
		c->bad++;
		rep->ok = 0;
		rep->err = r;
		return BENCH_REPLY_ERR;
	}
	return BENCH_REPLY_OK;
}

struct ib_result {
	struct bench_load_result b; /* b.ok: new certificates in the window */
	uint64_t replayed;
	uint64_t bad;
	uint64_t checked;
	uint64_t cert_bytes;
	enum sg_hash hash;
};

/* The load phase; 0 or a bench_load_run error (clients that failed: res->b.failed). */
static int
ib_load_run(const struct ib_opts *o, const struct ib_target *t, struct ib_result *res)
{
	struct bench_load_spec spec;
	struct ib_load ld;
	unsigned i;
	int r = SG_ERR_NOMEM;

	memset(res, 0, sizeof(*res));
	res->b.daemon_cpu_s = -1.0;
	ld.o = o;
	ld.t = t;
	if ((ld.cl = aligned_alloc(64, sizeof(*ld.cl) * o->c.clients)) == NULL)
		goto out;
	memset(ld.cl, 0, sizeof(*ld.cl) * o->c.clients);
	memset(&spec, 0, sizeof(spec));
	spec.config = o->c.config;
	spec.clients = o->c.clients;
	spec.depth = o->c.depth;
	spec.warmup = o->c.warmup;
	spec.seconds = o->c.seconds;
	spec.daemon_pid = o->c.daemon_pid;
	spec.arg = &ld;
	spec.prepare = ib_prepare;
	spec.judge = ib_judge;
	r = bench_load_run(&spec, &res->b);
	for (i = 0; i < o->c.clients; i++) {
		res->replayed += ld.cl[i].replayed;
		res->bad += ld.cl[i].bad;
		res->checked += ld.cl[i].checked;
		if (ld.cl[i].cert_bytes > 0)
			res->cert_bytes = ld.cl[i].cert_bytes;
		if (res->hash == SG_HASH_NONE)
			res->hash = ld.cl[i].hash;
	}
out:
	free(ld.cl);
	return r;
}

int
cmd_issue(int argc, char **argv)
{
	struct ib_opts o;
	struct ib_target *t = NULL;
	struct ib_result *lr = NULL;
	struct bench_p11_result *br = NULL;
	struct bench_p11 *p11 = NULL;
	struct bench_p11_run run;
	char errs[512], dcpu[96], cpur[96];
	double tput, btput;
	int rc, r, pass, stop = 0;

	if ((rc = ib_parse(argc, argv, &o, &stop)) != 0 || stop)
		return rc;
	rc = IB_EXIT_FAIL;
	if ((t = calloc(1, sizeof(*t))) == NULL || (lr = calloc(1, sizeof(*lr))) == NULL ||
	    (br = calloc(1, sizeof(*br))) == NULL) {
		fprintf(stderr, IB_PROG ": out of memory\n");
		goto out;
	}
	if (ib_read_csr(o.csr_file, t) != 0 || (rc = ib_describe_ca(&o, t)) != 0) {
		rc = IB_EXIT_FAIL;
		goto out;
	}
	rc = IB_EXIT_FAIL;
	/* Log in before the load phase, so that a wrong token or PIN fails at once. */
	if (o.c.baseline && bench_p11_open(o.c.module, o.c.token, o.c.pin_file, &p11) != 0)
		goto out;
	if ((r = ib_load_run(&o, t, lr)) != 0) {
		fprintf(stderr, IB_PROG ": load phase: %s\n", sg_strerror(r));
		goto out;
	}
	tput = lr->b.window_s > 0 ? (double)lr->b.ok / lr->b.window_s : 0.0;
	bench_format_errors(lr->b.err, errs, sizeof(errs));
	dcpu[0] = '\0';
	if (lr->b.daemon_cpu_s >= 0 && lr->b.ok > 0)
		snprintf(dcpu, sizeof(dcpu), " daemon_cpu_s=%.2f daemon_cpu_us_per_cert=%.0f",
		         lr->b.daemon_cpu_s, lr->b.daemon_cpu_s * 1e6 / (double)lr->b.ok);
	printf("mode=issue profile=%s ca=%s ca_alg=%s hash=%s clients=%u depth=%u seconds=%.2f "
	       "certificates=%llu errors=%llu errors_by_code=%s replayed=%llu checked=%llu "
	       "throughput_per_s=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f cert_bytes=%llu "
	       "bench_cpu_s=%.2f%s\n",
	       o.profile, t->ca, sg_keyalg_name(t->ca_alg),
	       lr->hash != SG_HASH_NONE ? sg_hash_name(lr->hash) : "unknown", o.c.clients,
	       o.c.depth, lr->b.window_s, (unsigned long long)lr->b.ok,
	       (unsigned long long)lr->b.errors, errs, (unsigned long long)lr->replayed,
	       (unsigned long long)lr->checked, tput, bench_hist_quantile_us(&lr->b.lat, 0.50),
	       bench_hist_quantile_us(&lr->b.lat, 0.99), bench_hist_quantile_us(&lr->b.lat, 0.999),
	       (unsigned long long)lr->cert_bytes, lr->b.bench_cpu_s, dcpu);
	fflush(stdout);
	if (lr->b.err_outside > 0)
		fprintf(stderr, IB_PROG ": %llu errors outside the window (warm-up, drain)\n",
		        (unsigned long long)lr->b.err_outside);
	if (lr->b.failed > 0 || lr->bad > 0 || lr->b.ok == 0 || lr->hash == SG_HASH_NONE) {
		fprintf(stderr,
		        IB_PROG ": load phase failed: %u client(s) failed, %llu bad "
		                "certificate(s) of %llu checked, %llu certificate(s) counted\n",
		        lr->b.failed, (unsigned long long)lr->bad, (unsigned long long)lr->checked,
		        (unsigned long long)lr->b.ok);
		goto out;
	}
	if (!o.c.baseline) {
		rc = IB_EXIT_OK;
		goto out;
	}
	memset(&run, 0, sizeof(run));
	run.key = o.baseline_key != NULL ? o.baseline_key : t->ca;
	run.alg = t->ca_alg;
	run.hash = lr->hash;
	run.threads = o.c.baseline_threads;
	run.warmup = o.c.warmup;
	run.seconds = o.c.seconds;
	for (pass = 0; pass <= o.c.baseline_verify; pass++) {
		run.verify = pass;
		if ((r = bench_p11_run(p11, &run, br)) != 0 || br->failed > 0 || br->ops == 0) {
			fprintf(stderr, IB_PROG ": baseline failed%s%s\n", r != 0 ? ": " : "",
			        r != 0 ? sg_strerror(r) : "");
			goto out;
		}
		btput = (double)br->ops / br->window_s;
		/* CPU per item: steadier than wall-clock rates on a machine others load too. */
		cpur[0] = '\0';
		if (lr->b.daemon_cpu_s > 0)
			snprintf(cpur, sizeof(cpur), " cpu_ratio=%.3f",
			         (br->cpu_s / (double)br->ops) /
			             (lr->b.daemon_cpu_s / (double)lr->b.ok));
		printf("baseline=%s baseline_key=%s baseline_threads=%u baseline_signatures=%llu "
		       "baseline_throughput_per_s=%.1f baseline_p50_us=%.1f baseline_p99_us=%.1f "
		       "baseline_cpu_s=%.2f baseline_cpu_us_per_sig=%.0f ratio=%.3f%s\n",
		       pass ? "raw-pkcs11-verify" : "raw-pkcs11", run.key, run.threads,
		       (unsigned long long)br->ops, btput, bench_hist_quantile_us(&br->lat, 0.50),
		       bench_hist_quantile_us(&br->lat, 0.99), br->cpu_s,
		       br->cpu_s * 1e6 / (double)br->ops, tput / btput, cpur);
		fflush(stdout);
	}
	rc = IB_EXIT_OK;
out:
	bench_p11_free(p11);
	if (t != NULL) {
		EVP_PKEY_free(t->csr_key);
		X509_free(t->ca_cert);
	}
	free(t);
	free(lr);
	free(br);
	return rc;
}
