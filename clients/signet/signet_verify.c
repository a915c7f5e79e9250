/*
 * signet verify: checks a signature over a file locally with OpenSSL: a raw
 * signature with a public key (a PEM file, a bundle's key, or the
 * appliance's keys.list), a CMS detached signature or an RFC 3161
 * time-stamp with trust anchors (--ca, --untrusted, --crl, or a bundle).
 * The signature file's format is detected from its contents unless
 * --format names it.  The file is stream-hashed (signet_file).
 */
#include "signet_cli.h"
#include "signet_bundle.h"
#include "signet_file.h"
#include "signet_pkix.h"
#include "signet_trust.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#define VERIFY_MAX_INPUTS 16 /* --ca, --untrusted, --crl each */

struct verify_opts {
	const char *file, *sigpath, *key, *pem, *hash, *pad, *format, *bundle;
	const char *ca[VERIFY_MAX_INPUTS], *untrusted[VERIFY_MAX_INPUTS], *crl[VERIFY_MAX_INPUTS];
	size_t n_ca, n_untrusted, n_crl;
};

static void
verify_help(void)
{
	fputs("usage: signet verify FILE --sig SIG [--format auto|raw|cms|tsr]\n"
	      "         raw:  (--key NAME | --pubkey PEM | --bundle DIR [--key NAME])\n"
	      "               [--hash sha256|sha384|sha512] [--pad pkcs1|pss]\n"
	      "         cms:  (--ca ROOTS.pem [--untrusted CERTS.pem] [--crl CRL] | --bundle DIR)\n"
	      "               [--key NAME | --pubkey PEM]\n"
	      "         tsr:  (--ca ROOTS.pem [--untrusted CERTS.pem] [--crl CRL] | --bundle DIR)\n"
	      "         [--config FILE] [--json] [-v]\n"
	      "\n"
	      "Verifies SIG over FILE locally: a raw signature as 'signet sign' writes it, a\n"
	      "CMS detached signature (.p7s, DER, with or without an embedded time-stamp) or an\n"
	      "RFC 3161 time-stamp (.tsr response or bare token).  The format of SIG is read\n"
	      "from its contents.  Details go to stdout, the verdict to stderr.\n"
	      "\n"
	      "  -s, --sig SIG         signature file\n"
	      "  --format FMT          auto (default), raw, cms or tsr\n"
	      "  -k, --key NAME        raw: verify with key NAME (from the bundle, else from the\n"
	      "                        appliance's keys.list); cms: the signer must have key NAME\n"
	      "  --pubkey PEM          raw: verify with this PEM public key; cms: the signer must\n"
	      "                        have it\n"
	      "  --ca FILE             PEM trust anchors (root certificates); repeatable\n"
	      "  --untrusted FILE      PEM intermediate and TSA certificates; repeatable\n"
	      "  --crl FILE            a CRL (PEM or DER); repeatable: certificates whose issuer\n"
	      "                        has a CRL here are checked for revocation\n"
	      "  --bundle DIR          take keys, roots, chains, TSA certificates and CRLs from a\n"
	      "                        verification bundle (see docs/cli.md); no appliance needed\n"
	      "  --hash ALG            raw: sha256 (default), sha384 or sha512\n"
	      "  --pad PAD             raw, RSA: pkcs1 (default) or pss (salt = hash length)\n"
	      "  --config FILE         client configuration, for --key without --bundle\n"
	      "  --json                one JSON document on stdout\n"
	      "  -v, --verbose         more messages on stderr\n",
	      stdout);
}

static int
verify_load_pem(const char *path, EVP_PKEY **out)
{
	FILE *f;

	*out = NULL;
	if ((f = fopen(path, "r")) == NULL)
		return SG_ERR_NOT_FOUND;
	*out = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	return *out != NULL ? 0 : SG_ERR_CONFIG;
}

/* The public key of --key NAME from the appliance (keys.list). */
static int
verify_appliance_key(struct cli *cli, const char *name, EVP_PKEY **out, int *code)
{
	struct signet_client *c = NULL;
	struct sg_key_info info;
	int r;

	*out = NULL;
	if ((r = cli_connect(cli, &c, code)) != 0 ||
	    (r = cli_find_key(cli, c, name, &info, code)) != 0)
		goto out;
	if ((r = signet_key_pubkey(&info, out)) != 0)
		*code = cli_fail(cli, r, "the public key of '%s' does not parse", name);
out:
	signet_client_free(c);
	return r;
}

/* Loads --ca, --untrusted, --crl and --bundle into *out; errors reported. */
static int
verify_trust(struct cli *cli, const struct verify_opts *o, struct cli_trust **out, int *code)
{
	struct cli_trust *t;
	char why[1024];
	size_t i;
	int r = 0;

	*out = NULL;
	if ((t = cli_trust_new()) == NULL) {
		*code = cli_fail(cli, SG_ERR_NOMEM, "%s", sg_strerror(SG_ERR_NOMEM));
		return SG_ERR_NOMEM;
	}
	if (o->bundle != NULL && (r = cli_bundle_load(t, o->bundle, why, sizeof(why))) != 0)
		goto fail;
	for (i = 0; i < o->n_ca && r == 0; i++)
		r = cli_trust_add_certs(t, o->ca[i], 0, why, sizeof(why));
	for (i = 0; i < o->n_untrusted && r == 0; i++)
		r = cli_trust_add_certs(t, o->untrusted[i], 1, why, sizeof(why));
	for (i = 0; i < o->n_crl && r == 0; i++)
		r = cli_trust_add_crl(t, o->crl[i], why, sizeof(why));
	if (r != 0)
		goto fail;
	if ((r = cli_trust_finish(t)) != 0) {
		snprintf(why, sizeof(why), "cannot set up revocation checks");
		goto fail;
	}
	*out = t;
	return 0;
fail:
	*code = cli_fail(cli, r, "%s", why);
	cli_trust_free(t);
	return r;
}

/* A raw signature: with one key, or with each key of the bundle until one verifies. */
static int
verify_raw(struct cli *cli, const struct verify_opts *o, const unsigned char *sig, size_t sig_len)
{
	unsigned char digest[SG_HASH_MAX_LEN];
	const struct cli_trust_key *k;
	const char *name = NULL;
	struct cli_trust *t = NULL;
	EVP_PKEY *pub = NULL;
	enum sg_hash h;
	enum sg_pad p = SG_PAD_NONE;
	size_t dlen = 0, i;
	char why[512];
	int r, code = CLI_USAGE, tried = 0;

	if (o->n_ca > 0 || o->n_untrusted > 0 || o->n_crl > 0)
		return cli_usage(cli, "--ca, --untrusted and --crl apply to CMS and time-stamps");
	if (o->bundle == NULL && (o->key == NULL) == (o->pem == NULL))
		return cli_usage(cli,
		                 "one of --key NAME, --pubkey PEM or --bundle DIR is required");
	if (o->bundle != NULL && o->pem != NULL)
		return cli_usage(cli, "--pubkey and --bundle exclude each other");
	if (sg_hash_parse(o->hash != NULL ? o->hash : "sha256", &h) != 0)
		return cli_usage(cli, "unknown hash '%s' (sha256, sha384 or sha512)", o->hash);
	if (o->pad != NULL && (sg_pad_parse(o->pad, &p) != 0 || p == SG_PAD_NONE))
		return cli_usage(cli, "unknown padding '%s' (pkcs1 or pss)", o->pad);
	if (sig_len > SG_SIG_MAX) {
		/* Too long to be a signature of any supported key: a bad signature. */
		return cli_fail(cli, SG_ERR_BAD_SIGNATURE, "%s: too long to be a signature",
		                o->sigpath);
	}

	if (o->bundle != NULL) {
		if ((r = verify_trust(cli, o, &t, &code)) != 0)
			goto out;
		if (o->key != NULL && cli_trust_key_by_name(t, o->key) == NULL) {
			code = cli_fail(cli, SG_ERR_UNKNOWN_KEY, "the bundle %s has no key '%s'",
			                o->bundle, o->key);
			goto out;
		}
		if (t->n_keys == 0) {
			code = cli_fail(cli, SG_ERR_UNKNOWN_KEY, "the bundle %s has no keys",
			                o->bundle);
			goto out;
		}
	} else if (o->pem != NULL) {
		if ((r = verify_load_pem(o->pem, &pub)) != 0) {
			code = cli_fail(cli, r, "%s: %s", o->pem,
			                r == SG_ERR_NOT_FOUND ? "cannot open it"
			                                      : "not a PEM public key");
			goto out;
		}
	} else if ((r = verify_appliance_key(cli, o->key, &pub, &code)) != 0) {
		goto out;
	}
	if (pub != NULL && p != SG_PAD_NONE && EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA) {
		code = cli_usage(cli, "--pad applies to RSA keys only");
		goto out;
	}

	if ((r = cli_hash_file(o->file, sg_hash_md(h), digest, &dlen, NULL, why, sizeof(why))) !=
	    0) {
		code = cli_fail(cli, r, "%s: %s", o->file, why);
		goto out;
	}
	if (t == NULL) {
		r = signet_verify_digest(pub, h, p, digest, dlen, sig, sig_len);
		name = o->key;
		tried = 1;
	} else {
		r = SG_ERR_BAD_SIGNATURE;
		for (i = 0; i < t->n_keys && r == SG_ERR_BAD_SIGNATURE; i++) {
			k = &t->keys[i];
			if (o->key != NULL && strcmp(k->name, o->key) != 0)
				continue;
			/* A padding names RSA keys; an EC key is not a candidate then. */
			if (p != SG_PAD_NONE && EVP_PKEY_get_base_id(k->pub) != EVP_PKEY_RSA)
				continue;
			tried++;
			r = signet_verify_digest(k->pub, h, p, digest, dlen, sig, sig_len);
			if (r == SG_ERR_BAD_PADDING || r == SG_ERR_INVALID_ARG)
				r = SG_ERR_BAD_SIGNATURE;
			if (r == 0)
				name = k->name;
		}
		if (tried == 0) {
			code = cli_usage(cli, "--pad applies to RSA keys only");
			goto out;
		}
	}
	if (r != 0 && r != SG_ERR_BAD_SIGNATURE) {
		code = cli_fail(cli, r, "cannot verify: %s", sg_strerror(r));
		goto out;
	}
	if (cli->json) {
		printf("{\"ok\":%s,\"format\":\"raw\",\"file\":", r == 0 ? "true" : "false");
		cli_json_str(stdout, o->file);
		printf(",\"signature_file\":");
		cli_json_str(stdout, o->sigpath);
		printf(",\"hash\":");
		cli_json_str(stdout, sg_hash_name(h));
		printf(",\"pad\":");
		cli_json_str(stdout, sg_pad_name(p));
		printf(",\"key\":");
		if (name != NULL)
			cli_json_str(stdout, name);
		else
			printf("null");
		printf(",\"digest\":");
		cli_json_hex(stdout, digest, dlen);
		printf(",\"verified\":%s", r == 0 ? "true" : "false");
		if (r != 0) {
			putchar(',');
			cli_json_error(stdout, r, "signature does not verify");
		}
		printf("}\n");
	} else if (r == 0 && t != NULL) {
		printf("key:        %s\n", name);
	}
	fprintf(stderr, "%s\n", r == 0 ? "Verified OK" : "Verification failure");
	code = cli_exit_code(r);
out:
	EVP_PKEY_free(pub);
	cli_trust_free(t);
	return code;
}

/* A CMS signature or a time-stamp, against trust anchors. */
static int
verify_pkix(struct cli *cli, const struct verify_opts *o, enum cli_sigfmt fmt,
            const unsigned char *der, size_t len)
{
	struct cli_vresult *res = NULL;
	struct cli_trust *t = NULL;
	const struct cli_trust_key *k;
	const EVP_PKEY *want = NULL;
	EVP_PKEY *pub = NULL;
	const char *want_name = NULL;
	int r, code = CLI_USAGE;

	if (o->hash != NULL || o->pad != NULL)
		return cli_usage(cli,
		                 "--hash and --pad apply to raw signatures: a %s names its own",
		                 fmt == CLI_SIG_CMS ? "CMS signature" : "time-stamp");
	if (fmt != CLI_SIG_CMS && (o->key != NULL || o->pem != NULL))
		return cli_usage(cli, "--key and --pubkey do not apply to time-stamps");
	if (o->key != NULL && o->pem != NULL)
		return cli_usage(cli, "--key and --pubkey exclude each other");
	if (o->bundle == NULL && o->n_ca == 0)
		return cli_usage(cli, "a %s needs trust anchors: --ca ROOTS.pem or --bundle DIR",
		                 fmt == CLI_SIG_CMS ? "CMS signature" : "time-stamp");
	if ((res = calloc(1, sizeof(*res))) == NULL)
		return cli_fail(cli, SG_ERR_NOMEM, "%s", sg_strerror(SG_ERR_NOMEM));
	if ((r = verify_trust(cli, o, &t, &code)) != 0)
		goto out;
	if (t->n_roots == 0) {
		code = cli_fail(cli, SG_ERR_CONFIG, "no trust anchor: the bundle has no roots");
		goto out;
	}
	if (o->pem != NULL) {
		if ((r = verify_load_pem(o->pem, &pub)) != 0) {
			code = cli_fail(cli, r, "%s: %s", o->pem,
			                r == SG_ERR_NOT_FOUND ? "cannot open it"
			                                      : "not a PEM public key");
			goto out;
		}
		want = pub;
		want_name = o->pem;
	} else if (o->key != NULL && o->bundle != NULL) {
		if ((k = cli_trust_key_by_name(t, o->key)) == NULL) {
			code = cli_fail(cli, SG_ERR_UNKNOWN_KEY, "the bundle %s has no key '%s'",
			                o->bundle, o->key);
			goto out;
		}
		want = k->pub;
		want_name = k->name;
	} else if (o->key != NULL) {
		if ((r = verify_appliance_key(cli, o->key, &pub, &code)) != 0)
			goto out;
		want = pub;
		want_name = o->key;
	}

	if (fmt == CLI_SIG_CMS)
		r = cli_verify_cms(o->file, der, len, t, want, want_name, res);
	else
		r = cli_verify_ts(o->file, der, len, fmt, t, res);
	if (r != 0 && r != SG_ERR_BAD_SIGNATURE) {
		/* The file could not be read (or changed): no verdict. */
		code = cli_fail(cli, r, "%s: %s", o->file, res->reason);
		goto out;
	}
	if (cli->json) {
		printf("{\"ok\":%s,\"verified\":%s,\"file\":", r == 0 ? "true" : "false",
		       r == 0 ? "true" : "false");
		cli_json_str(stdout, o->file);
		printf(",\"signature_file\":");
		cli_json_str(stdout, o->sigpath);
		cli_vresult_json(stdout, res);
		if (r != 0) {
			putchar(',');
			cli_json_error(stdout, r, res->reason);
		}
		printf("}\n");
	} else {
		cli_vresult_print(stdout, res);
		fflush(stdout);
	}
	if (r == 0)
		fprintf(stderr, "Verified OK\n");
	else
		fprintf(stderr, "Verification failure: %s: %s\n", res->failed, res->reason);
	code = cli_exit_code(r);
out:
	EVP_PKEY_free(pub);
	cli_trust_free(t);
	free(res);
	return code;
}

/* Adds optarg to one of the repeatable lists. */
static int
verify_push(struct cli *cli, const char **list, size_t *n, const char *opt, const char *arg)
{
	if (*n == VERIFY_MAX_INPUTS)
		return cli_usage(cli, "at most %d %s options", VERIFY_MAX_INPUTS, opt);
	list[(*n)++] = arg;
	return 0;
}

int
cli_cmd_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"sig", required_argument, NULL, 's'},
	    {"key", required_argument, NULL, 'k'},
	    {"pubkey", required_argument, NULL, CLI_OPT_PUBKEY},
	    {"hash", required_argument, NULL, 'H'},
	    {"pad", required_argument, NULL, 'P'},
	    {"format", required_argument, NULL, CLI_OPT_FORMAT},
	    {"ca", required_argument, NULL, CLI_OPT_CA},
	    {"untrusted", required_argument, NULL, CLI_OPT_UNTRUSTED},
	    {"crl", required_argument, NULL, CLI_OPT_CRL},
	    {"bundle", required_argument, NULL, CLI_OPT_BUNDLE},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	struct verify_opts o;
	unsigned char *sig = NULL;
	enum cli_sigfmt fmt, found;
	size_t sig_len = 0;
	int ch, r, code = CLI_USAGE;

	memset(&o, 0, sizeof(o));
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":s:k:" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		r = 0;
		switch (ch) {
		case 's':
			o.sigpath = optarg;
			break;
		case 'k':
			o.key = optarg;
			break;
		case CLI_OPT_PUBKEY:
			o.pem = optarg;
			break;
		case 'H':
			o.hash = optarg;
			break;
		case 'P':
			o.pad = optarg;
			break;
		case CLI_OPT_FORMAT:
			o.format = optarg;
			break;
		case CLI_OPT_CA:
			r = verify_push(cli, o.ca, &o.n_ca, "--ca", optarg);
			break;
		case CLI_OPT_UNTRUSTED:
			r = verify_push(cli, o.untrusted, &o.n_untrusted, "--untrusted", optarg);
			break;
		case CLI_OPT_CRL:
			r = verify_push(cli, o.crl, &o.n_crl, "--crl", optarg);
			break;
		case CLI_OPT_BUNDLE:
			o.bundle = optarg;
			break;
		case 'h':
			verify_help();
			return CLI_OK;
		default:
			if (cli_common_opt(cli, ch, optarg))
				break;
			return cli_bad_opt(cli, argv);
		}
		if (r != 0)
			return r;
	}
	if (argc - optind != 1)
		return cli_usage(cli, "exactly one FILE is needed");
	o.file = argv[optind];
	if (o.sigpath == NULL)
		return cli_usage(cli, "--sig SIG is required");
	if (o.format != NULL && strcmp(o.format, "auto") != 0 && strcmp(o.format, "raw") != 0 &&
	    strcmp(o.format, "cms") != 0 && strcmp(o.format, "tsr") != 0)
		return cli_usage(cli, "unknown format '%s' (auto, raw, cms or tsr)", o.format);
	if (o.key != NULL && !sg_wire_name_valid(o.key, strlen(o.key)))
		return cli_usage(cli, "'%s' is not a valid key name", o.key);

	if ((sig = malloc(SG_BLOB_MAX)) == NULL)
		return cli_fail(cli, SG_ERR_NOMEM, "%s", sg_strerror(SG_ERR_NOMEM));
	if ((r = cli_read_small(o.sigpath, sig, SG_BLOB_MAX, &sig_len)) != 0) {
		/* Longer than any signature, CMS or time-stamp we make: not one of them. */
		if (r == SG_ERR_LIMIT)
			r = SG_ERR_BAD_SIGNATURE;
		code = cli_fail(cli, r, "%s: %s", o.sigpath,
		                r == SG_ERR_BAD_SIGNATURE ? "too long to be a signature"
		                                          : sg_strerror(r));
		goto out;
	}
	found = cli_sig_detect(sig, sig_len);
	fmt = found;
	if (o.format != NULL && strcmp(o.format, "raw") == 0) {
		fmt = CLI_SIG_RAW;
	} else if (o.format != NULL && strcmp(o.format, "cms") == 0 && found != CLI_SIG_CMS) {
		code = cli_fail(cli, SG_ERR_BAD_SIGNATURE, "%s: not a DER CMS detached signature",
		                o.sigpath);
		goto out;
	} else if (o.format != NULL && strcmp(o.format, "tsr") == 0 && found != CLI_SIG_TSR &&
	           found != CLI_SIG_TST) {
		code = cli_fail(cli, SG_ERR_BAD_SIGNATURE,
		                "%s: not a DER time-stamp response or token", o.sigpath);
		goto out;
	}
	if (fmt == CLI_SIG_RAW && (o.format == NULL || strcmp(o.format, "auto") == 0) &&
	    (o.n_ca > 0 || o.n_untrusted > 0 || o.n_crl > 0)) {
		/* Certificates were given, so a CMS or a time-stamp was expected. */
		code = cli_fail(cli, SG_ERR_BAD_SIGNATURE,
		                "%s: neither a DER CMS signature nor a time-stamp", o.sigpath);
		goto out;
	}
	if (cli->verbose)
		cli_msg(cli, "%s: %s", o.sigpath, cli_sigfmt_name(fmt));
	if (fmt == CLI_SIG_RAW)
		code = verify_raw(cli, &o, sig, sig_len);
	else
		code = verify_pkix(cli, &o, fmt, sig, sig_len);
out:
	free(sig);
	return code;
}
