/*
 * signet sign: hashes files locally (streaming, constant memory), has the
 * appliance sign the digests (pipelined), checks each signature with the
 * key's public key and writes FILE.sig (raw) or FILE.p7s (CMS detached,
 * optionally with an embedded RFC 3161 time-stamp) atomically.
 */
#include "signet_cli.h"
#include "signet_file.h"
#include "signet_pkix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define SIGN_DEFAULT_DEPTH 8

struct sign_file {
	const char *path;
	const char *out; /* where the signature goes */
	char *out_owned;
	int err;
	char msg[640];
	unsigned char digest[SG_HASH_MAX_LEN];
	size_t digest_len;
	uint64_t size;
	struct sg_sign_rep rep; /* raw: the reply; CMS: its receipt fields only */
};

struct sign_ctx {
	struct cli *cli;
	struct sign_file *files;
	size_t n;
	const char *key;
	enum sg_hash hash;
	enum sg_pad pad;
	const char *job;
	int force;
	int cms;       /* --format cms */
	int timestamp; /* --timestamp */
	struct sg_key_info info;
	EVP_PKEY *pub;
};

static void
sign_help(void)
{
	fputs("usage: signet sign FILE... --key NAME [--format raw|cms] [--timestamp]\n"
	      "                   [--hash sha256|sha384|sha512] [--pad pkcs1|pss] [-o OUT]\n"
	      "                   [--job ID] [--force] [--depth N] [--config FILE] [--json] [-v]\n"
	      "\n"
	      "Hashes each FILE locally and has the appliance sign the digest with key NAME;\n"
	      "writes the raw signature (DER for ECDSA) to FILE.sig, or with --format cms a\n"
	      "detached CMS signature (DER) to FILE.p7s.\n"
	      "\n"
	      "  -k, --key NAME     key to sign with (see 'signet keys')\n"
	      "  --format FMT       raw (default) or cms (CMS SignedData with the key's\n"
	      "                     certificate chain, detached)\n"
	      "  --timestamp        cms: embed an RFC 3161 time-stamp of the signature from the\n"
	      "                     appliance's TSA (needs the timestamp operation)\n"
	      "  --hash ALG         sha256 (default), sha384 or sha512\n"
	      "  --pad PAD          raw, RSA: pkcs1 (default) or pss (salt = hash length)\n"
	      "  -o, --output OUT   output file (only with one FILE; default FILE.sig or\n"
	      "                     FILE.p7s)\n"
	      "  --job ID           CI job id for the audit log (default: $SIGNET_JOB_ID,\n"
	      "                     then $CI_JOB_ID)\n"
	      "  --force            replace existing signature files (default: refuse)\n"
	      "  --depth N          signing requests in flight, 1..64 (default 8)\n"
	      "  --config FILE      client configuration (default: $SIGNET_CONFIG)\n"
	      "  --json             one JSON document on stdout\n"
	      "  -v, --verbose      more messages on stderr\n",
	      stdout);
}

static int
sign_fill(void *arg, size_t i, struct sg_req *req)
{
	struct sign_ctx *x = arg;
	struct sign_file *f = &x->files[i];
	struct sg_sign_req *s = &req->u.sign;
	char why[512];
	int r;

	if (f->err != 0)
		return 1;
	if ((r = cli_hash_file(f->path, sg_hash_md(x->hash), f->digest, &f->digest_len, &f->size,
	                       why, sizeof(why))) != 0) {
		/* Nothing was sent: a file that changed while hashed is never signed. */
		f->err = r;
		snprintf(f->msg, sizeof(f->msg), "%s%s", r == SG_ERR_CHANGED ? "refused: " : "",
		         why);
		return 1;
	}
	req->op = x->cms ? SG_OP_SIGN_CMS : SG_OP_SIGN_DIGEST;
	snprintf(s->key, sizeof(s->key), "%s", x->key);
	s->hash = x->hash;
	memcpy(s->digest, f->digest, f->digest_len);
	s->digest_len = f->digest_len;
	s->pad = x->pad;
	cli_artifact_name(f->path, s->meta.artifact, SG_META_ARTIFACT_MAX);
	s->meta.has_size = 1;
	s->meta.size = f->size;
	if (x->job != NULL)
		snprintf(s->meta.job, sizeof(s->meta.job), "%s", x->job);
	return 0;
}

/*
 * A CMS from the appliance: checked against the file's digest and the key
 * (cli_cms_selfcheck) before it is written; never written otherwise.
 */
static void
sign_cms_finish(struct sign_ctx *x, struct sign_file *f, const struct sg_blob_rep *b)
{
	char why[512];
	int r;

	if (strcmp(b->key, x->key) != 0 || b->hash != x->hash) {
		f->err = SG_ERR_MALFORMED;
		snprintf(f->msg, sizeof(f->msg), "the appliance answered for another key or hash");
		return;
	}
	if (x->pub == NULL) {
		f->err = SG_ERR_UNKNOWN_KEY;
		snprintf(f->msg, sizeof(f->msg),
		         "signed (audit record %llu), but keys.list did not offer the key's public "
		         "key to check it against; not saved",
		         (unsigned long long)b->record);
		return;
	}
	if ((r = cli_cms_selfcheck(b->data, b->len, sg_hash_md(x->hash), f->digest, f->digest_len,
	                           x->pub, x->info.n_certs > 0 ? x->info.cert[0] : NULL,
	                           x->info.n_certs > 0 ? x->info.cert_len[0] : 0, x->timestamp, why,
	                           sizeof(why))) != 0) {
		f->err = SG_ERR_SELF_VERIFY;
		snprintf(f->msg, sizeof(f->msg),
		         "the appliance's CMS does not check: %s; not saved", why);
		return;
	}
	f->rep.record = b->record;
	memcpy(f->rep.record_hash, b->record_hash, sizeof(f->rep.record_hash));
	f->rep.replayed = b->replayed;
	if ((r = cli_write_atomic(f->out, b->data, b->len, x->force, why, sizeof(why))) != 0) {
		f->err = r;
		snprintf(f->msg, sizeof(f->msg), "signed (audit record %llu) but not saved: %s",
		         (unsigned long long)b->record, why);
	}
}

static int
sign_done(void *arg, size_t i, const struct sg_rep *rep)
{
	struct sign_ctx *x = arg;
	struct sign_file *f = &x->files[i];
	const struct sg_sign_rep *s = &rep->u.sign;
	char why[512];
	int r;

	if (!rep->ok) {
		f->err = rep->err < 0 ? rep->err : SG_ERR_INTERNAL;
		snprintf(f->msg, sizeof(f->msg), "%s", rep->err_msg);
		return 0;
	}
	if (x->cms) {
		sign_cms_finish(x, f, &rep->u.blob);
		return 0;
	}
	if (strcmp(s->key, x->key) != 0 || s->hash != x->hash ||
	    (x->pad != SG_PAD_NONE && s->pad != x->pad)) {
		f->err = SG_ERR_MALFORMED;
		snprintf(f->msg, sizeof(f->msg), "the appliance answered for another key or hash");
		return 0;
	}
	/* Never write a signature that does not verify: openssl must say "Verified OK". */
	if (x->pub == NULL) {
		f->err = SG_ERR_UNKNOWN_KEY;
		snprintf(f->msg, sizeof(f->msg),
		         "signed (audit record %llu), but keys.list did not offer the key's public "
		         "key to check it against; not saved",
		         (unsigned long long)s->record);
		return 0;
	}
	if ((r = signet_verify_digest(x->pub, x->hash, s->pad, f->digest, f->digest_len, s->sig,
	                              s->sig_len)) != 0) {
		f->err = SG_ERR_SELF_VERIFY;
		snprintf(f->msg, sizeof(f->msg),
		         "the appliance's signature does not verify with the key's public key");
		return 0;
	}
	f->rep = *s;
	if ((r = cli_write_atomic(f->out, s->sig, s->sig_len, x->force, why, sizeof(why))) != 0) {
		f->err = r;
		snprintf(f->msg, sizeof(f->msg), "signed (audit record %llu) but not saved: %s",
		         (unsigned long long)s->record, why);
		return 0;
	}
	return 0;
}

/*
 * CMS with an embedded time-stamp: two requests per file (sign.cms, then
 * timestamp over the signature), which libsignet makes in order; the files
 * go one after the other.
 */
static int
sign_cms_timestamped(struct sign_ctx *x, struct signet_client *c)
{
	struct sg_blob_rep b;
	struct sg_req req;
	size_t i;
	int r;

	for (i = 0; i < x->n; i++) {
		struct sign_file *f = &x->files[i];

		memset(&req, 0, sizeof(req));
		if ((r = sign_fill(x, i, &req)) != 0) {
			if (r < 0)
				return r;
			continue;
		}
		memset(&b, 0, sizeof(b));
		if ((r = signet_sign_cms_timestamped(c, &req.u.sign, &b)) != 0) {
			f->err = r;
			snprintf(f->msg, sizeof(f->msg), "%s", signet_client_errmsg(c));
		} else {
			sign_cms_finish(x, f, &b);
		}
		free(b.data);
	}
	return 0;
}

static void
sign_json(const struct sign_ctx *x, int ok)
{
	const struct sign_file *f;
	size_t i;

	printf("{\"ok\":%s,\"key\":", ok ? "true" : "false");
	cli_json_str(stdout, x->key);
	printf(",\"alg\":");
	if (sg_keyalg_name(x->info.alg) != NULL)
		cli_json_str(stdout, sg_keyalg_name(x->info.alg));
	else
		printf("null"); /* the appliance was not asked: every file failed locally */
	printf(",\"hash\":");
	cli_json_str(stdout, sg_hash_name(x->hash));
	printf(",\"format\":\"%s\",\"timestamp\":%s,\"files\":[", x->cms ? "cms" : "raw",
	       x->timestamp ? "true" : "false");
	for (i = 0; i < x->n; i++) {
		f = &x->files[i];
		printf("%s{\"file\":", i > 0 ? "," : "");
		cli_json_str(stdout, f->path);
		printf(",\"ok\":%s", f->err == 0 ? "true" : "false");
		if (f->err != 0) {
			putchar(',');
			cli_json_error(stdout, f->err, f->msg);
			putchar('}');
			continue;
		}
		printf(",\"signature_file\":");
		cli_json_str(stdout, f->out);
		printf(",\"size\":%llu,\"digest\":", (unsigned long long)f->size);
		cli_json_hex(stdout, f->digest, f->digest_len);
		if (!x->cms) {
			printf(",\"pad\":");
			cli_json_str(stdout, sg_pad_name(f->rep.pad));
			printf(",\"signature\":");
			(void)cli_json_b64(stdout, f->rep.sig, f->rep.sig_len);
		}
		printf(",\"receipt\":{\"record\":%llu,\"hash\":",
		       (unsigned long long)f->rep.record);
		cli_json_hex(stdout, f->rep.record_hash, sizeof(f->rep.record_hash));
		printf("},\"replayed\":%s}", f->rep.replayed ? "true" : "false");
	}
	printf("]}\n");
}

int
cli_cmd_sign(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"hash", required_argument, NULL, 'H'},
	    {"pad", required_argument, NULL, 'P'},
	    {"output", required_argument, NULL, 'o'},
	    {"job", required_argument, NULL, CLI_OPT_JOB},
	    {"force", no_argument, NULL, CLI_OPT_FORCE},
	    {"depth", required_argument, NULL, CLI_OPT_DEPTH},
	    {"format", required_argument, NULL, CLI_OPT_FORMAT},
	    {"timestamp", no_argument, NULL, CLI_OPT_TIMESTAMP},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	struct sign_ctx x;
	struct signet_client *c = NULL;
	struct sg_key_info *keys = NULL;
	const struct sg_key_info *k;
	size_t nkeys = 0;
	const char *output = NULL, *hash = "sha256", *pad = NULL, *format = "raw";
	unsigned long depth = SIGN_DEFAULT_DEPTH;
	char *end;
	struct stat st;
	size_t i, len, todo = 0;
	int ch, r, code = CLI_USAGE, worst;

	memset(&x, 0, sizeof(x));
	x.cli = cli;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":k:o:" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			x.key = optarg;
			break;
		case 'H':
			hash = optarg;
			break;
		case 'P':
			pad = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case CLI_OPT_JOB:
			x.job = optarg;
			break;
		case CLI_OPT_FORCE:
			x.force = 1;
			break;
		case CLI_OPT_DEPTH:
			depth = strtoul(optarg, &end, 10);
			if (*end != '\0' || depth < 1 || depth > 64)
				return cli_usage(cli, "--depth must be 1..64");
			break;
		case CLI_OPT_FORMAT:
			format = optarg;
			break;
		case CLI_OPT_TIMESTAMP:
			x.timestamp = 1;
			break;
		case 'h':
			sign_help();
			return CLI_OK;
		default:
			if (cli_common_opt(cli, ch, optarg))
				break;
			return cli_bad_opt(cli, argv);
		}
	}
	x.n = (size_t)(argc - optind);
	if (x.n == 0)
		return cli_usage(cli, "no FILE to sign");
	if (x.key == NULL)
		return cli_usage(cli, "--key NAME is required");
	if (!sg_wire_name_valid(x.key, strlen(x.key)))
		return cli_usage(cli, "'%s' is not a valid key name", x.key);
	if (output != NULL && x.n != 1)
		return cli_usage(cli, "-o/--output needs exactly one FILE");
	if (sg_hash_parse(hash, &x.hash) != 0)
		return cli_usage(cli, "unknown hash '%s' (sha256, sha384 or sha512)", hash);
	if (pad != NULL && (sg_pad_parse(pad, &x.pad) != 0 || x.pad == SG_PAD_NONE))
		return cli_usage(cli, "unknown padding '%s' (pkcs1 or pss)", pad);
	if (strcmp(format, "cms") == 0)
		x.cms = 1;
	else if (strcmp(format, "raw") != 0)
		return cli_usage(cli, "unknown format '%s' (raw or cms)", format);
	if (x.cms && pad != NULL)
		return cli_usage(cli,
		                 "--pad applies to raw signatures (CMS uses PKCS#1 v1.5 for RSA)");
	if (x.timestamp && !x.cms)
		return cli_usage(cli, "--timestamp needs --format cms");
	if ((r = cli_job_id(cli, &x.job)) != 0)
		return r;
	if ((x.files = calloc(x.n, sizeof(*x.files))) == NULL)
		return cli_fail(cli, SG_ERR_NOMEM, "%s", sg_strerror(SG_ERR_NOMEM));

	for (i = 0; i < x.n; i++) {
		struct sign_file *f = &x.files[i];

		f->path = argv[optind + (int)i];
		if (output != NULL) {
			f->out = output;
		} else {
			len = strlen(f->path) + 5;
			if ((f->out_owned = malloc(len)) == NULL) {
				code = cli_fail(cli, SG_ERR_NOMEM, "%s", sg_strerror(SG_ERR_NOMEM));
				goto out;
			}
			snprintf(f->out_owned, len, "%s.%s", f->path, x.cms ? "p7s" : "sig");
			f->out = f->out_owned;
		}
		/* Refuse early, before the appliance signs (and audits) for nothing. */
		if (stat(f->path, &st) != 0) {
			f->err = errno == ENOENT ? SG_ERR_NOT_FOUND : SG_ERR_IO;
			snprintf(f->msg, sizeof(f->msg), "%s", strerror(errno));
		} else if (!S_ISREG(st.st_mode)) {
			f->err = SG_ERR_IO;
			snprintf(f->msg, sizeof(f->msg), "not a regular file");
		} else if (!x.force && access(f->out, F_OK) == 0) {
			f->err = SG_ERR_IO;
			snprintf(f->msg, sizeof(f->msg), "%s exists (use --force to replace it)",
			         f->out);
		} else {
			todo++;
		}
	}
	if (todo == 0)
		goto report;

	if ((r = cli_connect(cli, &c, &code)) != 0)
		goto out;
	/*
	 * The public key checks each signature before it is written.  A key that
	 * keys.list does not offer is still asked for: the appliance decides and
	 * audits the refusal, and its error is what the user sees.
	 */
	if ((r = signet_keys_list(c, &keys, &nkeys)) != 0) {
		code =
		    cli_fail(cli, r, "keys.list: %s: %s", sg_strerror(r), signet_client_errmsg(c));
		goto out;
	}
	if ((k = signet_keys_find(keys, nkeys, x.key)) != NULL) {
		x.info = *k;
		if ((r = signet_key_pubkey(&x.info, &x.pub)) != 0) {
			code = cli_fail(
			    cli, r, "the public key of '%s' in keys.list does not parse", x.key);
			goto out;
		}
	}
	if (x.timestamp)
		r = sign_cms_timestamped(&x, c);
	else
		r = signet_client_pipeline(c, x.n, (unsigned)depth, sign_fill, sign_done, &x);
	if (r != 0) {
		code = cli_fail(cli, r, "%s: %s", sg_strerror(r), signet_client_errmsg(c));
		goto out;
	}

report:
	worst = CLI_OK;
	for (i = 0; i < x.n; i++) {
		struct sign_file *f = &x.files[i];

		if (f->err != 0) {
			cli_msg(cli, "%s: %s: %s", f->path, sg_strerror(f->err), f->msg);
			if (cli_exit_code(f->err) > worst)
				worst = cli_exit_code(f->err);
		} else if (!cli->json || cli->verbose) {
			cli_msg(cli, "%s: signed with %s (%s%s%s), audit record %llu%s -> %s",
			        f->path, x.key, sg_hash_name(x.hash),
			        x.cms                       ? ", CMS"
			        : f->rep.pad != SG_PAD_NONE ? ", "
			                                    : "",
			        x.cms                       ? (x.timestamp ? ", time-stamped" : "")
			        : f->rep.pad != SG_PAD_NONE ? sg_pad_name(f->rep.pad)
			                                    : "",
			        (unsigned long long)f->rep.record,
			        f->rep.replayed ? " (replayed)" : "", f->out);
		}
	}
	if (cli->json)
		sign_json(&x, worst == CLI_OK);
	code = worst;
out:
	if (x.files != NULL) {
		for (i = 0; i < x.n; i++)
			free(x.files[i].out_owned);
		free(x.files);
	}
	EVP_PKEY_free(x.pub);
	signet_keys_free(keys, nkeys);
	signet_client_free(c);
	return code;
}
