/*
 * signet-bench crl: how the time to make a CRL grows with the number of
 * revoked serials (docs/benchmarks.md), on the appliance's own code path
 * and beside OpenSSL's CRL code on the same entries and key, same run.
 *
 * Set-up (not timed): a temporary directory with a software EC P-384 CA
 * (key and self-signed certificate made with OpenSSL) standing in for the
 * HSM's CA key, and a real audit database (sg_audit_open + the writer
 * thread) into which certificates and their revocations go as the
 * appliance puts them there: records carrying SG_AUDIT_STATE_CERT_ISSUED
 * then SG_AUDIT_STATE_CERT_REVOKED, submitted in large groups.  Serial
 * numbers are 16 random bytes as the appliance draws them; reasons cycle
 * through unspecified (no reasonCode), keyCompromise, affiliationChanged,
 * superseded and cessationOfOperation.  Every row stores the same DER
 * certificate (the bench CA's own) as its certificate: the listing does not
 * read it, it only makes the rows as large as real ones.  The database
 * grows from one size to the next (1k, then 9k more, then 90k more).
 *
 * Timed, per size N and per round (the median of the rounds is printed),
 * what sg_ca.c does for a CRL, in the order it does it:
 *   list    sg_audit_revoked into a growing array (as sg_ca_add_revoked);
 *   begin   sg_crl_begin (sort, encode the TBSCertList, digest it);
 *   sign    the software key signs the digest (the HSM's one signature);
 *   finish  sg_crl_finish (wrap, decode with d2i_X509_CRL, verify).
 * Baselines on the same entries and key, same rounds, the order of the two
 * sides alternating from round to round:
 *   openssl_api        X509_CRL_new, X509_REVOKED entries, X509_CRL_sort,
 *                      AKI and CRL number, X509_CRL_sign, i2d (what
 *                      `openssl ca -gencrl` does in-process);
 *   openssl_api_check  the same plus d2i_X509_CRL + X509_CRL_verify, the
 *                      check sg_crl_finish does;
 *   openssl_ca         fork + exec of `openssl ca -gencrl` on an index.txt
 *                      holding the same N revoked entries (written before the
 *                      rounds, not timed), timed to its exit: the stock tool,
 *                      its own database read included (unless --no-openssl-ca).
 * Each CRL made is checked: N entries, and the signature verifies.
 *
 * Output: one key=value line per size, then one growth= line per step
 * between consecutive sizes.  speed_ratio_* = the baseline's time over
 * ours (1.0: as fast as OpenSSL; 0.5: twice its time).  Nothing is
 * asserted about the timings.  Exit status: 0 the run completed, 1 it
 * failed, 2 usage.
 */
#include "crl_bench.h"

#include "bench_util.h"
#include "sg_audit.h"
#include "sg_err.h"
#include "sg_x509.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define CB_PROG "signet-bench crl"
#define CB_CA "bench-ca" /* the issuing CA's key name in the audit database */
#define CB_MAX_SIZES 8
#define CB_MAX_ROUNDS 50
#define CB_DEFAULT_ROUNDS 5
#define CB_BATCH 2000    /* certificates per submission: 2 records each */
#define CB_SERIAL_LEN 16 /* as sg_ca.c draws them */
#define CB_CRL_LIFE_S 86400
#define CB_PATH_MAX 4096
#define CB_DIR_MAX 1024 /* the run's directory: room for a file name in a path */
#define CB_SIG_MAX 256

enum cb_exit {
	CB_EXIT_OK = 0,
	CB_EXIT_FAIL = 1,
	CB_EXIT_USAGE = 2,
};

static const int cb_reasons[] = {CRL_REASON_UNSPECIFIED, CRL_REASON_KEY_COMPROMISE,
                                 CRL_REASON_AFFILIATION_CHANGED, CRL_REASON_SUPERSEDED,
                                 CRL_REASON_CESSATION_OF_OPERATION};
/* Their names in an openssl ca index.txt (unspecified: written as no reason at all). */
static const char *const cb_reason_names[] = {NULL, "keyCompromise", "affiliationChanged",
                                              "superseded", "cessationOfOperation"};

struct cb_opts {
	size_t sizes[CB_MAX_SIZES];
	size_t n_sizes;
	unsigned rounds;
	const char *parent; /* where the temporary directory goes */
	const char *openssl;
	int openssl_ca;
	int keep;
};

/* Everything one run owns. */
struct cb_run {
	const struct cb_opts *o;
	char dir[CB_DIR_MAX];
	int have_dir;
	EVP_PKEY *key;
	X509 *ca;
	unsigned char *ca_der;
	int ca_der_len;
	struct sg_audit *audit;
	size_t stored; /* certificates issued and revoked in the database */
	uint64_t rng;
	uint64_t crl_number;
	double fill_s; /* time spent filling the database */
	size_t fill_records;
};

/* The revoked entries of one listing (as sg_ca.c's struct sg_ca_revoked). */
struct cb_list {
	struct sg_crl_entry *e;
	size_t n, cap;
};

/* The timings of one size, per round (ms; [0] is the warm-up round). */
struct cb_times {
	double list[CB_MAX_ROUNDS + 1], begin[CB_MAX_ROUNDS + 1], sign[CB_MAX_ROUNDS + 1];
	double finish[CB_MAX_ROUNDS + 1], build[CB_MAX_ROUNDS + 1], total[CB_MAX_ROUNDS + 1];
	double api[CB_MAX_ROUNDS + 1], api_check[CB_MAX_ROUNDS + 1], ca[CB_MAX_ROUNDS + 1];
};

/* The medians of one size, kept for the growth lines. */
struct cb_summary {
	size_t n;
	double list, begin, sign, finish, build, total, api, api_check, ca;
	size_t crl_bytes, api_bytes;
};

static const char crl_usage[] =
    "usage: signet-bench crl [--sizes N,N,...] [--rounds R] [--dir PARENT]\n"
    "                        [--openssl PATH] [--no-openssl-ca] [--keep]\n"
    "\n"
    "For each number of revoked serials N (ascending, 1..1000000; default\n"
    "1000,10000,100000) grows an audit database in a temporary directory under\n"
    "PARENT (default $TMPDIR, else /tmp) to N revoked certificates of one\n"
    "software EC P-384 CA, then R times (1..50, default 5) times the appliance's\n"
    "CRL path (sg_audit_revoked, sg_crl_begin, one signature, sg_crl_finish) and\n"
    "OpenSSL's on the same entries and key: the X509_CRL API (build, sort, sign,\n"
    "encode; and with d2i + X509_CRL_verify) and `openssl ca -gencrl` on an\n"
    "index.txt of the same entries (PATH: the openssl binary, default openssl\n"
    "from $PATH; --no-openssl-ca leaves it out).  Prints the medians, the CRL\n"
    "size, speed ratios (OpenSSL's time over ours) and the growth from one N to\n"
    "the next.  --keep leaves the directory in place.\n"
    "\n"
    "Output (stdout, key=value):\n"
    "  mode=crl revoked= rounds= crl_bytes= list_ms= begin_ms= sign_ms= finish_ms=\n"
    "    build_ms= total_ms= openssl_api_ms= openssl_api_check_ms= openssl_api_bytes=\n"
    "    [openssl_ca_ms=] speed_ratio_api= speed_ratio_api_check= [speed_ratio_ca=]\n"
    "    db_bytes=\n"
    "  growth=N2/N1 revoked_ratio= list_ratio= build_ratio= total_ratio=\n"
    "    openssl_api_ratio= [openssl_ca_ratio=]\n"
    "  (build = begin + sign + finish, total = list + build; speed_ratio_api and\n"
    "  _api_check compare build, speed_ratio_ca compares total)\n"
    "\n"
    "Exit status: 0 the run completed; 1 it failed; 2 usage error.\n";

/* Says what is wrong with the command line; returns CB_EXIT_USAGE. */
#define cb_usage_error(...) bench_usage_error(CB_PROG, CB_PROG, __VA_ARGS__)

/* "1000,10000,100000" into o->sizes, strictly ascending; 0 or SG_ERR_INVALID_ARG. */
static int
cb_parse_sizes(const char *s, struct cb_opts *o)
{
	char buf[256], *tok, *save = NULL;
	unsigned long v;

	if (strlen(s) >= sizeof(buf))
		return SG_ERR_INVALID_ARG;
	snprintf(buf, sizeof(buf), "%s", s);
	o->n_sizes = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (o->n_sizes == CB_MAX_SIZES ||
		    bench_parse_ulong(tok, 1, SG_CRL_MAX_ENTRIES, &v) != 0 ||
		    (o->n_sizes > 0 && v <= o->sizes[o->n_sizes - 1]))
			return SG_ERR_INVALID_ARG;
		o->sizes[o->n_sizes++] = v;
	}
	return o->n_sizes > 0 ? 0 : SG_ERR_INVALID_ARG;
}

enum cb_opt {
	CO_SIZES = 256,
	CO_ROUNDS,
	CO_DIR,
	CO_OPENSSL,
	CO_NO_CA,
	CO_KEEP,
	CO_HELP,
};

static const struct option cb_longopts[] = {
    {"sizes", required_argument, NULL, CO_SIZES},
    {"rounds", required_argument, NULL, CO_ROUNDS},
    {"dir", required_argument, NULL, CO_DIR},
    {"openssl", required_argument, NULL, CO_OPENSSL},
    {"no-openssl-ca", no_argument, NULL, CO_NO_CA},
    {"keep", no_argument, NULL, CO_KEEP},
    {"help", no_argument, NULL, CO_HELP},
    {NULL, 0, NULL, 0},
};

static int
cb_parse(int argc, char **argv, struct cb_opts *o, int *stop)
{
	unsigned long v;
	int c;

	*stop = 1;
	memset(o, 0, sizeof(*o));
	o->sizes[0] = 1000;
	o->sizes[1] = 10000;
	o->sizes[2] = 100000;
	o->n_sizes = 3;
	o->rounds = CB_DEFAULT_ROUNDS;
	o->openssl = "openssl";
	o->openssl_ca = 1;
	if ((o->parent = getenv("TMPDIR")) == NULL || o->parent[0] == '\0')
		o->parent = "/tmp";
	if (strlen(o->parent) > CB_DIR_MAX - 64)
		o->parent = "/tmp";
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", cb_longopts, NULL)) != -1) {
		switch (c) {
		case CO_SIZES:
			if (cb_parse_sizes(optarg, o) != 0)
				return cb_usage_error("--sizes: '%s' is not up to %d ascending "
				                      "numbers in 1..%d",
				                      optarg, CB_MAX_SIZES, SG_CRL_MAX_ENTRIES);
			break;
		case CO_ROUNDS:
			if (bench_parse_ulong(optarg, 1, CB_MAX_ROUNDS, &v) != 0)
				return cb_usage_error("--rounds: '%s' is not in 1..%d", optarg,
				                      CB_MAX_ROUNDS);
			o->rounds = (unsigned)v;
			break;
		case CO_DIR:
			if (strlen(optarg) > CB_DIR_MAX - 64)
				return cb_usage_error("--dir: longer than %d bytes",
				                      CB_DIR_MAX - 64);
			o->parent = optarg;
			break;
		case CO_OPENSSL:
			o->openssl = optarg;
			break;
		case CO_NO_CA:
			o->openssl_ca = 0;
			break;
		case CO_KEEP:
			o->keep = 1;
			break;
		case CO_HELP:
			fputs(crl_usage, stdout);
			return CB_EXIT_OK;
		default:
			return cb_usage_error("unknown option or missing value: %s",
			                      argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cb_usage_error("unexpected argument: %s", argv[optind]);
	*stop = 0;
	return 0;
}

/* ---- the software CA ---- */

/* Adds extension nid with value (OpenSSL's config syntax) to x, issued by itself. */
static int
cb_add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/* The software P-384 CA: key and self-signed certificate; 0 or SG_ERR_INTERNAL. */
static int
cb_make_ca(struct cb_run *run)
{
	X509_NAME *name = NULL;
	int r = SG_ERR_INTERNAL;

	if ((run->key = EVP_EC_gen("P-384")) == NULL || (run->ca = X509_new()) == NULL ||
	    (name = X509_NAME_new()) == NULL)
		goto out;
	if (X509_set_version(run->ca, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(run->ca), 1) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	                               (const unsigned char *)"Signet Bench", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                               (const unsigned char *)"Signet Bench CRL CA", -1, -1,
	                               0) != 1 ||
	    X509_set_subject_name(run->ca, name) != 1 || X509_set_issuer_name(run->ca, name) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(run->ca), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(run->ca), 365L * 86400) == NULL ||
	    X509_set_pubkey(run->ca, run->key) != 1 ||
	    !cb_add_ext(run->ca, NID_basic_constraints, "critical,CA:TRUE") ||
	    !cb_add_ext(run->ca, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !cb_add_ext(run->ca, NID_subject_key_identifier, "hash") ||
	    X509_sign(run->ca, run->key, EVP_sha384()) <= 0 ||
	    (run->ca_der_len = i2d_X509(run->ca, &run->ca_der)) <= 0)
		goto out;
	r = 0;
out:
	X509_NAME_free(name);
	return r;
}

/* Writes the key (0600) and the certificate as PEM for openssl ca; 0 or SG_ERR_IO. */
static int
cb_write_ca(const struct cb_run *run)
{
	char path[CB_PATH_MAX];
	FILE *fp = NULL;
	int fd, r = SG_ERR_IO;

	snprintf(path, sizeof(path), "%s/ca.key", run->dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 ||
	    (fp = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (PEM_write_PrivateKey(fp, run->key, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	if (fclose(fp) != 0) {
		fp = NULL;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/ca.pem", run->dir);
	if ((fp = fopen(path, "w")) == NULL || PEM_write_X509(fp, run->ca) != 1)
		goto out;
	r = 0;
out:
	if (fp != NULL && fclose(fp) != 0)
		r = SG_ERR_IO;
	return r;
}

/* ---- the audit database ---- */

/*
 * Certificate k (its serial drawn here) and its two records: issued, then
 * revoked at a time within the last 30 days with the k-th reason of the
 * cycle.
 */
static void
cb_fill_one(struct cb_run *run, size_t k, time_t now, struct sg_audit_cert *c,
            struct sg_audit_record *iss, struct sg_audit_record *rev)
{
	bench_rng_fill(&run->rng, c->serial, CB_SERIAL_LEN);
	c->serial[0] = (unsigned char)((c->serial[0] & 0x7f) | 0x01);
	c->serial_len = CB_SERIAL_LEN;
	snprintf(c->ca, sizeof(c->ca), "%s", CB_CA);
	snprintf(c->profile, sizeof(c->profile), "leaf-tls");
	snprintf(c->subject, sizeof(c->subject), "CN=host%zu.dev.signet.test,O=Signet Dev", k);
	snprintf(c->requester, sizeof(c->requester), "ca-server");
	c->not_before = (int64_t)now - 300;
	c->not_after = (int64_t)now + 86400;
	c->der = run->ca_der;
	c->der_len = (size_t)run->ca_der_len;
	c->revoked_at = (int64_t)now - (int64_t)(k % (30 * 86400));
	c->reason = cb_reasons[k % (sizeof(cb_reasons) / sizeof(cb_reasons[0]))];

	snprintf(iss->client, sizeof(iss->client), "ca-server");
	iss->op = SG_OP_CERT_ISSUE;
	snprintf(iss->key, sizeof(iss->key), "%s", CB_CA);
	iss->hash = SG_HASH_SHA384;
	bench_rng_fill(&run->rng, iss->digest, 32);
	iss->digest_len = 32;
	iss->state = SG_AUDIT_STATE_CERT_ISSUED;
	iss->cert = c;

	snprintf(rev->client, sizeof(rev->client), "ca-server");
	rev->op = SG_OP_CERT_REVOKE;
	snprintf(rev->key, sizeof(rev->key), "%s", CB_CA);
	memcpy(rev->digest, c->serial, CB_SERIAL_LEN);
	rev->digest_len = CB_SERIAL_LEN;
	rev->state = SG_AUDIT_STATE_CERT_REVOKED;
	rev->cert = c;
}

/*
 * Grows the database to want certificates, each issued and then revoked:
 * batches of CB_BATCH certificates, 2 records each, submitted at once so
 * that the writer commits them in large groups.  0 or an error.
 */
static int
cb_fill(struct cb_run *run, size_t want)
{
	struct sg_audit_record *recs = NULL, *done;
	struct sg_audit_cert *certs = NULL;
	struct pollfd pfd;
	time_t now = time(NULL);
	uint64_t t0 = bench_now_ns();
	size_t b, i, back;
	int r = SG_ERR_NOMEM, bad = 0;

	if ((recs = calloc(2 * CB_BATCH, sizeof(*recs))) == NULL ||
	    (certs = calloc(CB_BATCH, sizeof(*certs))) == NULL)
		goto out;
	while (run->stored < want) {
		b = want - run->stored < CB_BATCH ? want - run->stored : CB_BATCH;
		memset(recs, 0, 2 * b * sizeof(*recs));
		memset(certs, 0, b * sizeof(*certs));
		for (i = 0; i < b; i++)
			cb_fill_one(run, run->stored + i, now, &certs[i], &recs[i], &recs[b + i]);
		/* All issues first, then all revocations: each revocation follows its issue. */
		for (i = 0; i < 2 * b; i++)
			sg_audit_submit(run->audit, &recs[i]);
		for (back = 0; back < 2 * b;) {
			pfd.fd = sg_audit_event_fd(run->audit);
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 60000) <= 0) {
				/* The writer still owns the records: they must not be freed. */
				fprintf(stderr,
				        CB_PROG ": the audit writer did not answer in 60 s\n");
				recs = NULL;
				certs = NULL;
				r = SG_ERR_TIMEOUT;
				goto out;
			}
			for (done = sg_audit_take_completed(run->audit); done != NULL;
			     done = done->next) {
				back++;
				if (done->status != 0 && bad == 0) {
					fprintf(stderr, CB_PROG ": audit record not stored: %s\n",
					        sg_strerror(done->status));
					bad = done->status;
				}
			}
		}
		if (bad != 0) {
			r = bad;
			goto out;
		}
		run->stored += b;
		run->fill_records += 2 * b;
	}
	r = 0;
out:
	run->fill_s += (double)(bench_now_ns() - t0) / 1e9;
	free(recs);
	free(certs);
	return r;
}

/* As sg_ca_add_revoked (sg_ca.c): the array grows by doubling from 256. */
static int
cb_add_revoked(void *arg, const unsigned char *serial, size_t len, int64_t revoked_at, int reason)
{
	struct cb_list *l = arg;
	struct sg_crl_entry *ne;

	if (len > SG_X509_SERIAL_MAX)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap == 0 ? 256 : l->cap * 2;

		if (cap > 2 * (size_t)SG_CRL_MAX_ENTRIES ||
		    (ne = realloc(l->e, cap * sizeof(*ne))) == NULL)
			return SG_ERR_NOMEM;
		l->e = ne;
		l->cap = cap;
	}
	memcpy(l->e[l->n].serial, serial, len);
	l->e[l->n].serial_len = len;
	l->e[l->n].revoked_at = (time_t)revoked_at;
	l->e[l->n].reason = reason;
	l->n++;
	return 0;
}

/* ---- our side ---- */

/* The software key's ECDSA signature over the digest tbs (DER); 0 or SG_ERR_INTERNAL. */
static int
cb_sign(EVP_PKEY *key, const unsigned char *tbs, size_t tbs_len, unsigned char *sig,
        size_t *sig_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	int ok;

	*sig_len = CB_SIG_MAX;
	ok = ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
	     EVP_PKEY_sign(ctx, sig, sig_len, tbs, tbs_len) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : SG_ERR_INTERNAL;
}

/* The number of entries of the DER CRL der, checked with key; -1 if it does not verify. */
static long
cb_crl_count(const unsigned char *der, size_t len, EVP_PKEY *key)
{
	const unsigned char *p = der;
	X509_CRL *crl;
	long n = -1;

	if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) != NULL && p == der + len &&
	    X509_CRL_verify(crl, key) == 1) {
		/* An empty CRL has no revokedCertificates at all (a NULL stack). */
		n = X509_CRL_get_REVOKED(crl) != NULL
		        ? sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl))
		        : 0;
	}
	X509_CRL_free(crl);
	return n;
}

/*
 * One CRL the appliance's way; ms[0..4) get list, begin, sign, finish.  The
 * listed entries stay in *l for the baselines (the caller frees l->e).
 * *der gets the CRL.  0 or an error (after a message).
 */
static int
cb_ours(struct cb_run *run, size_t want, struct cb_list *l, double ms[4], unsigned char **der,
        size_t *der_len)
{
	struct sg_x509_build *b = NULL;
	unsigned char tbs[SG_HASH_MAX_LEN], sig[CB_SIG_MAX];
	size_t tbs_len = 0, sig_len = 0;
	time_t now = time(NULL);
	uint64_t t0, t1, t2, t3, t4;
	int r;

	*der = NULL;
	free(l->e);
	memset(l, 0, sizeof(*l));
	t0 = bench_now_ns();
	if ((r = sg_audit_revoked(run->audit, CB_CA, cb_add_revoked, l)) != 0) {
		fprintf(stderr, CB_PROG ": sg_audit_revoked: %s\n", sg_strerror(r));
		goto out;
	}
	t1 = bench_now_ns();
	if ((r = sg_crl_begin(run->ca, l->e, l->n, ++run->crl_number, now, now + CB_CRL_LIFE_S,
	                      SG_HASH_SHA384, &b, tbs, &tbs_len)) != 0) {
		fprintf(stderr, CB_PROG ": sg_crl_begin: %s\n", sg_strerror(r));
		goto out;
	}
	t2 = bench_now_ns();
	if ((r = cb_sign(run->key, tbs, tbs_len, sig, &sig_len)) != 0) {
		fprintf(stderr, CB_PROG ": signing the CRL's digest failed\n");
		goto out;
	}
	t3 = bench_now_ns();
	if ((r = sg_crl_finish(b, sig, sig_len, der, der_len)) != 0) {
		fprintf(stderr, CB_PROG ": sg_crl_finish: %s\n", sg_strerror(r));
		goto out;
	}
	t4 = bench_now_ns();
	ms[0] = (double)(t1 - t0) / 1e6;
	ms[1] = (double)(t2 - t1) / 1e6;
	ms[2] = (double)(t3 - t2) / 1e6;
	ms[3] = (double)(t4 - t3) / 1e6;
	if (l->n != want) {
		fprintf(stderr, CB_PROG ": listed %zu revoked serials, %zu stored\n", l->n, want);
		r = SG_ERR_INTERNAL;
	}
out:
	sg_x509_build_free(b);
	if (r != 0) {
		free(*der);
		*der = NULL;
	}
	return r;
}

/* ---- OpenSSL's side ---- */

/*
 * The same CRL with OpenSSL's API: v2, issuer, thisUpdate/nextUpdate, the
 * entries (reasonCode unless unspecified), sorted, AKI and CRL number,
 * signed with SHA-384, DER into *der.  0 or SG_ERR_INTERNAL.
 */
static int
cb_api(struct cb_run *run, const struct cb_list *l, unsigned char **der, int *der_len)
{
	X509_CRL *crl = NULL;
	X509_REVOKED *rev = NULL;
	X509V3_CTX ctx;
	X509_EXTENSION *aki = NULL;
	ASN1_TIME *tm = NULL;
	ASN1_INTEGER *serial = NULL, *num = NULL;
	ASN1_ENUMERATED *reason = NULL;
	BIGNUM *bn = NULL;
	time_t now = time(NULL);
	size_t i;
	int r = SG_ERR_INTERNAL;

	*der = NULL;
	if ((crl = X509_CRL_new()) == NULL || (tm = ASN1_TIME_new()) == NULL ||
	    (bn = BN_new()) == NULL || (reason = ASN1_ENUMERATED_new()) == NULL ||
	    (num = ASN1_INTEGER_new()) == NULL)
		goto out;
	if (X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(run->ca)) != 1 ||
	    ASN1_TIME_set(tm, now) == NULL || X509_CRL_set1_lastUpdate(crl, tm) != 1 ||
	    ASN1_TIME_set(tm, now + CB_CRL_LIFE_S) == NULL ||
	    X509_CRL_set1_nextUpdate(crl, tm) != 1)
		goto out;
	for (i = 0; i < l->n; i++) {
		const struct sg_crl_entry *e = &l->e[i];

		if ((rev = X509_REVOKED_new()) == NULL ||
		    BN_bin2bn(e->serial, (int)e->serial_len, bn) == NULL ||
		    (serial = BN_to_ASN1_INTEGER(bn, serial)) == NULL ||
		    X509_REVOKED_set_serialNumber(rev, serial) != 1 ||
		    ASN1_TIME_set(tm, e->revoked_at) == NULL ||
		    X509_REVOKED_set_revocationDate(rev, tm) != 1)
			goto out;
		if (e->reason > CRL_REASON_UNSPECIFIED &&
		    (ASN1_ENUMERATED_set(reason, e->reason) != 1 ||
		     X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, 0) != 1))
			goto out;
		if (X509_CRL_add0_revoked(crl, rev) != 1)
			goto out;
		rev = NULL;
	}
	X509V3_set_ctx(&ctx, run->ca, NULL, NULL, crl, 0);
	if (X509_CRL_sort(crl) != 1 ||
	    (aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always")) ==
	        NULL ||
	    X509_CRL_add_ext(crl, aki, -1) != 1 ||
	    ASN1_INTEGER_set_uint64(num, ++run->crl_number) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1 ||
	    X509_CRL_sign(crl, run->key, EVP_sha384()) <= 0 ||
	    (*der_len = i2d_X509_CRL(crl, der)) <= 0)
		goto out;
	r = 0;
out:
	if (r != 0) {
		OPENSSL_free(*der);
		*der = NULL;
		ERR_print_errors_fp(stderr);
	}
	X509_REVOKED_free(rev);
	X509_EXTENSION_free(aki);
	X509_CRL_free(crl);
	ASN1_TIME_free(tm);
	ASN1_INTEGER_free(serial);
	ASN1_INTEGER_free(num);
	ASN1_ENUMERATED_free(reason);
	BN_free(bn);
	return r;
}

/* The check sg_crl_finish makes, on OpenSSL's CRL: decode and verify.  0 or SG_ERR_INTERNAL. */
static int
cb_api_check(const struct cb_run *run, const unsigned char *der, int len)
{
	const unsigned char *p = der;
	X509_CRL *crl;
	int ok;

	ok = (crl = d2i_X509_CRL(NULL, &p, len)) != NULL && p == der + len &&
	     X509_CRL_verify(crl, run->key) == 1;
	X509_CRL_free(crl);
	return ok ? 0 : SG_ERR_INTERNAL;
}

/* A UTCTime (YYMMDDHHMMSSZ, years 2000..2049 here) of t for index.txt. */
static void
cb_utctime(time_t t, char out[16])
{
	char full[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(full, sizeof(full), "%Y%m%d%H%M%SZ", &tm) != 15) {
		out[0] = '\0';
		return;
	}
	memcpy(out, full + 2, 14); /* YYMMDDHHMMSSZ and its NUL */
}

/*
 * The openssl ca set-up of the entries of l: index.txt (one R line each),
 * crlnumber, openssl.cnf.  0 or SG_ERR_IO.
 */
static int
cb_write_index(const struct cb_run *run, const struct cb_list *l)
{
	char path[CB_PATH_MAX], exp[16], when[16];
	FILE *fp = NULL;
	size_t i, k;
	int r = SG_ERR_IO;

	snprintf(path, sizeof(path), "%s/index.txt", run->dir);
	if ((fp = fopen(path, "w")) == NULL)
		goto out;
	cb_utctime(time(NULL) + 86400, exp);
	for (i = 0; i < l->n; i++) {
		const struct sg_crl_entry *e = &l->e[i];
		const char *rn = NULL;

		for (k = 0; k < sizeof(cb_reasons) / sizeof(cb_reasons[0]); k++) {
			if (cb_reasons[k] == e->reason)
				rn = cb_reason_names[k];
		}
		cb_utctime(e->revoked_at, when);
		fprintf(fp, "R\t%s\t%s%s%s\t", exp, when, rn != NULL ? "," : "",
		        rn != NULL ? rn : "");
		for (k = 0; k < e->serial_len; k++)
			fprintf(fp, "%02X", e->serial[k]);
		fprintf(fp, "\tunknown\t/O=Signet Dev/CN=host%zu.dev.signet.test\n", i);
	}
	if (fclose(fp) != 0) {
		fp = NULL;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/crlnumber", run->dir);
	if ((fp = fopen(path, "w")) == NULL || fprintf(fp, "01\n") < 0 || fclose(fp) != 0) {
		fp = NULL;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/openssl.cnf", run->dir);
	if ((fp = fopen(path, "w")) == NULL)
		goto out;
	fprintf(fp,
	        "# written by signet-bench crl\n"
	        "[ca]\n"
	        "default_ca = bench\n"
	        "[bench]\n"
	        "dir = %s\n"
	        "database = $dir/index.txt\n"
	        "crlnumber = $dir/crlnumber\n"
	        "certificate = $dir/ca.pem\n"
	        "private_key = $dir/ca.key\n"
	        "default_md = sha384\n"
	        "default_crl_days = 1\n"
	        "unique_subject = no\n"
	        "crl_extensions = crl_ext\n"
	        "[crl_ext]\n"
	        "authorityKeyIdentifier = keyid:always\n",
	        run->dir);
	if (fclose(fp) != 0) {
		fp = NULL;
		goto out;
	}
	fp = NULL;
	r = 0;
out:
	if (fp != NULL)
		fclose(fp);
	return r;
}

/*
 * Runs `openssl ca -gencrl` on the set-up of cb_write_index; *ms gets the
 * time from fork to its exit.  The CRL is checked afterwards (want entries,
 * signature).  0 or SG_ERR_INTERNAL / SG_ERR_IO.
 */
static int
cb_openssl_ca(const struct cb_run *run, size_t want, double *ms)
{
	char cnf[CB_PATH_MAX], out[CB_PATH_MAX], log[CB_PATH_MAX];
	X509_CRL *crl = NULL;
	FILE *fp = NULL;
	uint64_t t0, t1;
	pid_t pid;
	int status, fd, r = SG_ERR_INTERNAL;

	snprintf(cnf, sizeof(cnf), "%s/openssl.cnf", run->dir);
	snprintf(out, sizeof(out), "%s/openssl-ca.crl", run->dir);
	snprintf(log, sizeof(log), "%s/openssl-ca.log", run->dir);
	t0 = bench_now_ns();
	if ((pid = fork()) < 0)
		goto out;
	if (pid == 0) {
		if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execlp(run->o->openssl, run->o->openssl, "ca", "-config", cnf, "-gencrl", "-batch",
		       "-out", out, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			goto out;
	}
	t1 = bench_now_ns();
	*ms = (double)(t1 - t0) / 1e6;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, CB_PROG ": %s ca -gencrl failed (log: %s)\n", run->o->openssl, log);
		goto out;
	}
	r = SG_ERR_IO;
	if ((fp = fopen(out, "r")) == NULL ||
	    (crl = PEM_read_X509_CRL(fp, NULL, NULL, NULL)) == NULL)
		goto out;
	r = SG_ERR_INTERNAL;
	if (X509_CRL_verify(crl, run->key) != 1 ||
	    (size_t)sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) != want) {
		fprintf(stderr, CB_PROG ": the CRL of openssl ca has not the %zu entries\n", want);
		goto out;
	}
	r = 0;
out:
	if (fp != NULL)
		fclose(fp);
	X509_CRL_free(crl);
	return r;
}

/* ---- one size ---- */

static long long
cb_file_size(const char *dir, const char *name)
{
	char path[CB_PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Grows the database to n, times the rounds and prints the line of size n. */
static int
cb_size(struct cb_run *run, size_t n, struct cb_summary *sum)
{
	const struct cb_opts *o = run->o;
	struct cb_times *tm = NULL;
	struct cb_list l = {0};
	unsigned char *der = NULL, *api_der = NULL;
	size_t der_len = 0;
	int api_len = 0, r, side;
	unsigned k;
	double ms[4];
	long cnt;
	uint64_t t0;
	char ca_part[128] = "";

	memset(sum, 0, sizeof(*sum));
	sum->n = n;
	if ((r = cb_fill(run, n)) != 0)
		goto out;
	r = SG_ERR_NOMEM;
	if ((tm = calloc(1, sizeof(*tm))) == NULL)
		goto out;
	/* index.txt of the stored entries, for openssl ca (not timed). */
	if (o->openssl_ca) {
		if ((r = sg_audit_revoked(run->audit, CB_CA, cb_add_revoked, &l)) != 0 ||
		    (r = cb_write_index(run, &l)) != 0) {
			fprintf(stderr, CB_PROG ": cannot write index.txt: %s\n", sg_strerror(r));
			goto out;
		}
	}
	/* Round 0 warms caches and allocators and is not counted; rounds 1..R are. */
	for (k = 0; k <= o->rounds; k++) {
		/* Alternate which side goes first: caches and clocks favour neither. */
		for (side = 0; side < 2; side++) {
			if ((side == 0) == (k % 2 == 0)) {
				free(der);
				der = NULL;
				if ((r = cb_ours(run, n, &l, ms, &der, &der_len)) != 0)
					goto out;
				tm->list[k] = ms[0];
				tm->begin[k] = ms[1];
				tm->sign[k] = ms[2];
				tm->finish[k] = ms[3];
				tm->build[k] = ms[1] + ms[2] + ms[3];
				tm->total[k] = ms[0] + tm->build[k];
			} else {
				if (l.n != n && (r = sg_audit_revoked(run->audit, CB_CA,
				                                      cb_add_revoked, &l)) != 0)
					goto out;
				OPENSSL_free(api_der);
				api_der = NULL;
				t0 = bench_now_ns();
				if ((r = cb_api(run, &l, &api_der, &api_len)) != 0)
					goto out;
				tm->api[k] = (double)(bench_now_ns() - t0) / 1e6;
				if ((r = cb_api_check(run, api_der, api_len)) != 0)
					goto out;
				tm->api_check[k] = (double)(bench_now_ns() - t0) / 1e6;
				if (o->openssl_ca && (r = cb_openssl_ca(run, n, &tm->ca[k])) != 0)
					goto out;
			}
		}
		/* Both CRLs hold the n entries and verify with the CA key. */
		r = SG_ERR_INTERNAL;
		if ((cnt = cb_crl_count(der, der_len, run->key)) != (long)n ||
		    cb_crl_count(api_der, (size_t)api_len, run->key) != (long)n) {
			fprintf(stderr, CB_PROG ": a CRL of %zu entries holds %ld\n", n, cnt);
			goto out;
		}
	}
	sum->crl_bytes = der_len;
	sum->api_bytes = (size_t)api_len;
	sum->list = bench_median(tm->list + 1, o->rounds);
	sum->begin = bench_median(tm->begin + 1, o->rounds);
	sum->sign = bench_median(tm->sign + 1, o->rounds);
	sum->finish = bench_median(tm->finish + 1, o->rounds);
	sum->build = bench_median(tm->build + 1, o->rounds);
	sum->total = bench_median(tm->total + 1, o->rounds);
	sum->api = bench_median(tm->api + 1, o->rounds);
	sum->api_check = bench_median(tm->api_check + 1, o->rounds);
	if (o->openssl_ca) {
		sum->ca = bench_median(tm->ca + 1, o->rounds);
		snprintf(ca_part, sizeof(ca_part), " openssl_ca_ms=%.3f speed_ratio_ca=%.3f",
		         sum->ca, sum->ca / sum->total);
	}
	printf("mode=crl revoked=%zu rounds=%u crl_bytes=%zu list_ms=%.3f begin_ms=%.3f "
	       "sign_ms=%.3f finish_ms=%.3f build_ms=%.3f total_ms=%.3f openssl_api_ms=%.3f "
	       "openssl_api_check_ms=%.3f openssl_api_bytes=%zu speed_ratio_api=%.3f "
	       "speed_ratio_api_check=%.3f%s db_bytes=%lld fill_records_per_s=%.0f\n",
	       n, o->rounds, sum->crl_bytes, sum->list, sum->begin, sum->sign, sum->finish,
	       sum->build, sum->total, sum->api, sum->api_check, sum->api_bytes,
	       sum->api / sum->build, sum->api_check / sum->build, ca_part,
	       cb_file_size(run->dir, "audit.db") + (cb_file_size(run->dir, "audit.db-wal") > 0
	                                                 ? cb_file_size(run->dir, "audit.db-wal")
	                                                 : 0),
	       run->fill_s > 0 ? (double)run->fill_records / run->fill_s : 0.0);
	fflush(stdout);
	r = 0;
out:
	free(l.e);
	free(der);
	OPENSSL_free(api_der);
	free(tm);
	return r;
}

/* Removes the run's directory and what this program put in it. */
static void
cb_cleanup_dir(const struct cb_run *run)
{
	static const char *const files[] = {
	    "audit.db",       "audit.db-wal",       "audit.db-shm",   "ca.key",
	    "ca.pem",         "index.txt",          "index.txt.attr", "index.txt.old",
	    "crlnumber",      "crlnumber.old",      "openssl.cnf",    "openssl-ca.crl",
	    "openssl-ca.log", "index.txt.attr.old",
	};
	char path[CB_PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", run->dir, files[i]);
		unlink(path);
	}
	if (rmdir(run->dir) != 0)
		fprintf(stderr, CB_PROG ": %s left behind: %s\n", run->dir, strerror(errno));
}

int
cmd_crl(int argc, char **argv)
{
	struct cb_opts o;
	struct cb_run run;
	struct cb_summary sum[CB_MAX_SIZES];
	char why[256] = "", path[CB_PATH_MAX], ca_part[64];
	size_t i;
	int rc, r, stop = 0;

	memset(&run, 0, sizeof(run));
	if ((rc = cb_parse(argc, argv, &o, &stop)) != 0 || stop)
		return rc;
	rc = CB_EXIT_FAIL;
	run.o = &o;
	run.rng = bench_rng_seed(3000);
	snprintf(run.dir, sizeof(run.dir), "%s/signet-crl-bench.XXXXXX", o.parent);
	if (mkdtemp(run.dir) == NULL) {
		fprintf(stderr, CB_PROG ": mkdtemp %s: %s\n", run.dir, strerror(errno));
		goto out;
	}
	run.have_dir = 1;
	if (cb_make_ca(&run) != 0 || cb_write_ca(&run) != 0) {
		fprintf(stderr, CB_PROG ": cannot make the software CA\n");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/audit.db", run.dir);
	if ((r = sg_audit_open(path, NULL, &run.audit, why, sizeof(why))) != 0 ||
	    (r = sg_audit_start(run.audit)) != 0) {
		fprintf(stderr, CB_PROG ": audit database: %s (%s)\n", why, sg_strerror(r));
		goto out;
	}
	for (i = 0; i < o.n_sizes; i++) {
		if (cb_size(&run, o.sizes[i], &sum[i]) != 0)
			goto out;
	}
	for (i = 1; i < o.n_sizes; i++) {
		ca_part[0] = '\0';
		if (o.openssl_ca)
			snprintf(ca_part, sizeof(ca_part), " openssl_ca_ratio=%.2f",
			         sum[i].ca / sum[i - 1].ca);
		printf("growth=%zu/%zu revoked_ratio=%.2f list_ratio=%.2f build_ratio=%.2f "
		       "total_ratio=%.2f openssl_api_ratio=%.2f%s\n",
		       sum[i].n, sum[i - 1].n, (double)sum[i].n / (double)sum[i - 1].n,
		       sum[i].list / sum[i - 1].list, sum[i].build / sum[i - 1].build,
		       sum[i].total / sum[i - 1].total, sum[i].api / sum[i - 1].api, ca_part);
	}
	fflush(stdout);
	rc = CB_EXIT_OK;
out:
	sg_audit_close(run.audit);
	if (run.have_dir) {
		if (o.keep)
			fprintf(stderr, CB_PROG ": kept %s\n", run.dir);
		else
			cb_cleanup_dir(&run);
	}
	EVP_PKEY_free(run.key);
	X509_free(run.ca);
	OPENSSL_free(run.ca_der);
	return rc;
}
