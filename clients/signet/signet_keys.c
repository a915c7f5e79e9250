/* signet keys, signet pubkey, signet ping: what the appliance offers this client. */
#include "signet_cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

/* Parses the options every one of these commands shares; returns -1 to go on. */
static int
simple_opts(struct cli *cli, int argc, char **argv, const struct option *extra, size_t n_extra,
            void (*help)(void), const char **key, const char **out, int *force)
{
	struct option opts[8];
	static const struct option common[] = {CLI_COMMON_LONGOPTS};
	size_t i, k = 0;
	int ch;

	for (i = 0; i < n_extra; i++)
		opts[k++] = extra[i];
	for (i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		opts[k++] = common[i];
	memset(&opts[k], 0, sizeof(opts[k]));
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":k:o:" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
		case 'o':
			if (n_extra == 0)
				return cli_bad_opt(cli, argv);
			*(ch == 'k' ? key : out) = optarg;
			break;
		case CLI_OPT_FORCE:
			*force = 1;
			break;
		case 'h':
			help();
			return CLI_OK;
		default:
			if (cli_common_opt(cli, ch, optarg))
				break;
			return cli_bad_opt(cli, argv);
		}
	}
	if (optind != argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);
	return -1;
}

static void
keys_help(void)
{
	fputs("usage: signet keys [--config FILE] [--json] [-v]\n"
	      "\n"
	      "Lists the keys this client may use: name, algorithm, allowed hashes and\n"
	      "operations, and the SHA-256 fingerprint of the public key (DER).\n",
	      stdout);
}

static void
names(FILE *f, unsigned mask, int lo, int hi, const char *(*name)(int), int json)
{
	int i, first = 1;

	for (i = lo; i <= hi; i++) {
		if (((mask >> i) & 1u) == 0)
			continue;
		if (!first)
			fputc(',', f);
		if (json)
			cli_json_str(f, name(i));
		else
			fputs(name(i), f);
		first = 0;
	}
}

static const char *
hash_name_i(int i)
{
	return sg_hash_name((enum sg_hash)i);
}

static const char *
op_name_i(int i)
{
	return sg_op_name((enum sg_op)i);
}

int
cli_cmd_keys(struct cli *cli, int argc, char **argv)
{
	struct signet_client *c = NULL;
	struct sg_key_info *keys = NULL;
	unsigned char fp[32];
	size_t n = 0, i;
	int r, code;

	if ((code = simple_opts(cli, argc, argv, NULL, 0, keys_help, NULL, NULL, NULL)) >= 0)
		return code;
	if ((r = cli_connect(cli, &c, &code)) != 0)
		goto out;
	if ((r = signet_keys_list(c, &keys, &n)) != 0) {
		code =
		    cli_fail(cli, r, "keys.list: %s: %s", sg_strerror(r), signet_client_errmsg(c));
		goto out;
	}
	if (cli->json)
		printf("{\"ok\":true,\"keys\":[");
	for (i = 0; i < n; i++) {
		const struct sg_key_info *k = &keys[i];

		(void)EVP_Digest(k->pub, k->pub_len, fp, NULL, EVP_sha256(), NULL);
		if (cli->json) {
			printf("%s{\"name\":", i > 0 ? "," : "");
			cli_json_str(stdout, k->name);
			printf(",\"alg\":");
			cli_json_str(stdout, sg_keyalg_name(k->alg));
			printf(",\"hashes\":[");
			names(stdout, k->hashes, SG_HASH_SHA256, SG_HASH_SHA512, hash_name_i, 1);
			printf("],\"ops\":[");
			names(stdout, k->ops, SG_OP_PING, SG_OP_COUNT - 1, op_name_i, 1);
			printf("],\"fingerprint\":");
			cli_json_hex(stdout, fp, sizeof(fp));
			printf(",\"pub\":");
			(void)cli_json_b64(stdout, k->pub, k->pub_len);
			putchar('}');
		} else {
			printf("%-24s %-9s hashes=", k->name, sg_keyalg_name(k->alg));
			names(stdout, k->hashes, SG_HASH_SHA256, SG_HASH_SHA512, hash_name_i, 0);
			printf(" ops=");
			names(stdout, k->ops, SG_OP_PING, SG_OP_COUNT - 1, op_name_i, 0);
			printf(" sha256:");
			for (size_t j = 0; j < sizeof(fp); j++)
				printf("%02x", fp[j]);
			putchar('\n');
		}
	}
	if (cli->json)
		printf("]}\n");
	else if (n == 0)
		cli_msg(cli, "no keys are available to this client");
	code = CLI_OK;
out:
	signet_keys_free(keys, n);
	signet_client_free(c);
	return code;
}

static void
pubkey_help(void)
{
	fputs("usage: signet pubkey --key NAME [-o FILE] [--force] [--config FILE] [-v]\n"
	      "\n"
	      "Writes the public key of NAME as PEM SubjectPublicKeyInfo ('openssl dgst\n"
	      "-verify' takes it) to stdout, or atomically to FILE.\n"
	      "\n"
	      "  -k, --key NAME     the key (see 'signet keys')\n"
	      "  -o, --output FILE  write to FILE instead of stdout\n"
	      "  --force            replace FILE if it exists (default: refuse)\n",
	      stdout);
}

int
cli_cmd_pubkey(struct cli *cli, int argc, char **argv)
{
	static const struct option extra[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"output", required_argument, NULL, 'o'},
	    {"force", no_argument, NULL, CLI_OPT_FORCE},
	};
	struct signet_client *c = NULL;
	struct sg_key_info info;
	const char *key = NULL, *out = NULL;
	EVP_PKEY *pub = NULL;
	BIO *bio = NULL;
	char *pem = NULL, why[512];
	long len;
	int r, code, force = 0;

	if ((code = simple_opts(cli, argc, argv, extra, 3, pubkey_help, &key, &out, &force)) >= 0)
		return code;
	if (cli->json)
		return cli_usage(cli, "pubkey writes PEM; --json is not supported");
	if (key == NULL)
		return cli_usage(cli, "--key NAME is required");
	if ((r = cli_connect(cli, &c, &code)) != 0 ||
	    (r = cli_find_key(cli, c, key, &info, &code)) != 0)
		goto out;
	if ((r = signet_key_pubkey(&info, &pub)) != 0) {
		code = cli_fail(cli, r, "the public key of '%s' does not parse", key);
		goto out;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(bio, pub) != 1 ||
	    (len = BIO_get_mem_data(bio, &pem)) <= 0) {
		code = cli_fail(cli, SG_ERR_INTERNAL, "cannot write PEM");
		goto out;
	}
	if (out == NULL) {
		if (fwrite(pem, 1, (size_t)len, stdout) != (size_t)len || fflush(stdout) != 0) {
			code = cli_fail(cli, SG_ERR_IO, "cannot write to stdout");
			goto out;
		}
	} else if ((r = cli_write_atomic(out, pem, (size_t)len, force, why, sizeof(why))) != 0) {
		code = cli_fail(cli, r, "%s", why);
		goto out;
	}
	code = CLI_OK;
out:
	BIO_free(bio);
	EVP_PKEY_free(pub);
	signet_client_free(c);
	return code;
}

static void
ping_help(void)
{
	fputs("usage: signet ping [--config FILE] [--json] [-v]\n"
	      "\n"
	      "Checks that the appliance answers this client; prints its name, its clock\n"
	      "and the round-trip time.\n",
	      stdout);
}

int
cli_cmd_ping(struct cli *cli, int argc, char **argv)
{
	struct signet_client *c = NULL;
	struct sg_ping_rep rep;
	struct timespec t0, t1;
	double ms;
	int r, code;

	if ((code = simple_opts(cli, argc, argv, NULL, 0, ping_help, NULL, NULL, NULL)) >= 0)
		return code;
	if ((r = cli_connect(cli, &c, &code)) != 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((r = signet_ping(c, &rep)) != 0) {
		code = cli_fail(cli, r, "%s: %s", sg_strerror(r), signet_client_errmsg(c));
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (cli->json) {
		printf("{\"ok\":true,\"endpoint\":");
		cli_json_str(stdout, signet_client_endpoint(c));
		printf(",\"server\":");
		cli_json_str(stdout, rep.server);
		printf(",\"time\":%llu,\"rtt_ms\":%.3f}\n", (unsigned long long)rep.time, ms);
	} else {
		printf("%s: %s answered in %.1f ms (server clock %llu)\n",
		       signet_client_endpoint(c), rep.server, ms, (unsigned long long)rep.time);
	}
	code = CLI_OK;
out:
	signet_client_free(c);
	return code;
}
