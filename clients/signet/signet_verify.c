/*
 * signet verify: checks a signature locally with OpenSSL: the file is
 * stream-hashed and the signature verified with the public key from a PEM
 * file or from the appliance's keys.list.
 */
#include "signet_cli.h"
#include "signet_file.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

static void
verify_help(void)
{
	fputs("usage: signet verify FILE --sig SIG (--key NAME | --pubkey PEM)\n"
	      "                     [--hash sha256|sha384|sha512] [--pad pkcs1|pss]\n"
	      "                     [--config FILE] [--json] [-v]\n"
	      "\n"
	      "Verifies SIG (a raw signature as 'signet sign' writes it) over FILE locally.\n"
	      "\n"
	      "  -s, --sig SIG      signature file\n"
	      "  -k, --key NAME     take the public key of NAME from the appliance (keys.list)\n"
	      "  --pubkey PEM       take the public key from a PEM SubjectPublicKeyInfo file\n"
	      "  --hash ALG         sha256 (default), sha384 or sha512\n"
	      "  --pad PAD          RSA padding: pkcs1 (default) or pss (salt = hash length)\n"
	      "  --config FILE      client configuration, for --key (default: $SIGNET_CONFIG)\n"
	      "  --json             one JSON document on stdout\n"
	      "  -v, --verbose      more messages on stderr\n",
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

int
cli_cmd_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"sig", required_argument, NULL, 's'},
	    {"key", required_argument, NULL, 'k'},
	    {"pubkey", required_argument, NULL, CLI_OPT_PUBKEY},
	    {"hash", required_argument, NULL, 'H'},
	    {"pad", required_argument, NULL, 'P'},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	const char *file, *sigpath = NULL, *key = NULL, *pem = NULL, *hash = "sha256", *pad = NULL;
	unsigned char sig[SG_SIG_MAX], digest[SG_HASH_MAX_LEN];
	struct signet_client *c = NULL;
	struct sg_key_info info;
	EVP_PKEY *pub = NULL;
	enum sg_hash h;
	enum sg_pad p = SG_PAD_NONE;
	size_t sig_len = 0, dlen = 0;
	char why[512];
	int ch, r, code = CLI_USAGE;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":s:k:" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sigpath = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case CLI_OPT_PUBKEY:
			pem = optarg;
			break;
		case 'H':
			hash = optarg;
			break;
		case 'P':
			pad = optarg;
			break;
		case 'h':
			verify_help();
			return CLI_OK;
		default:
			if (cli_common_opt(cli, ch, optarg))
				break;
			return cli_bad_opt(cli, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cli, "exactly one FILE is needed");
	file = argv[optind];
	if (sigpath == NULL)
		return cli_usage(cli, "--sig SIG is required");
	if ((key == NULL) == (pem == NULL))
		return cli_usage(cli, "one of --key NAME or --pubkey PEM is required");
	if (sg_hash_parse(hash, &h) != 0)
		return cli_usage(cli, "unknown hash '%s' (sha256, sha384 or sha512)", hash);
	if (pad != NULL && (sg_pad_parse(pad, &p) != 0 || p == SG_PAD_NONE))
		return cli_usage(cli, "unknown padding '%s' (pkcs1 or pss)", pad);

	if ((r = cli_read_small(sigpath, sig, sizeof(sig), &sig_len)) != 0) {
		/* A file too long to be a signature of any supported key is a bad signature. */
		if (r == SG_ERR_LIMIT)
			r = SG_ERR_BAD_SIGNATURE;
		code = cli_fail(cli, r, "%s: %s", sigpath,
		                r == SG_ERR_BAD_SIGNATURE ? "too long to be a signature"
		                                          : sg_strerror(r));
		goto out;
	}
	if ((r = cli_hash_file(file, sg_hash_md(h), digest, &dlen, NULL, why, sizeof(why))) != 0) {
		code = cli_fail(cli, r, "%s: %s", file, why);
		goto out;
	}
	if (pem != NULL) {
		if ((r = verify_load_pem(pem, &pub)) != 0) {
			code = cli_fail(cli, r, "%s: %s", pem,
			                r == SG_ERR_NOT_FOUND ? "cannot open it"
			                                      : "not a PEM public key");
			goto out;
		}
	} else {
		if ((r = cli_connect(cli, &c, &code)) != 0 ||
		    (r = cli_find_key(cli, c, key, &info, &code)) != 0)
			goto out;
		if ((r = signet_key_pubkey(&info, &pub)) != 0) {
			code = cli_fail(cli, r, "the public key of '%s' does not parse", key);
			goto out;
		}
	}
	if (p != SG_PAD_NONE && EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA) {
		code = cli_usage(cli, "--pad applies to RSA keys only");
		goto out;
	}
	r = signet_verify_digest(pub, h, p, digest, dlen, sig, sig_len);
	if (r != 0 && r != SG_ERR_BAD_SIGNATURE) {
		code = cli_fail(cli, r, "cannot verify: %s", sg_strerror(r));
		goto out;
	}
	if (cli->json) {
		printf("{\"ok\":%s,\"file\":", r == 0 ? "true" : "false");
		cli_json_str(stdout, file);
		printf(",\"signature_file\":");
		cli_json_str(stdout, sigpath);
		printf(",\"hash\":");
		cli_json_str(stdout, sg_hash_name(h));
		printf(",\"pad\":");
		cli_json_str(stdout, sg_pad_name(p));
		printf(",\"digest\":");
		cli_json_hex(stdout, digest, dlen);
		printf(",\"verified\":%s", r == 0 ? "true" : "false");
		if (r != 0) {
			putchar(',');
			cli_json_error(stdout, r, "signature does not verify");
		}
		printf("}\n");
	}
	fprintf(stderr, "%s\n", r == 0 ? "Verified OK" : "Verification failure");
	code = cli_exit_code(r);
out:
	EVP_PKEY_free(pub);
	signet_client_free(c);
	return code;
}
