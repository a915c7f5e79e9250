/*
 * signet bundle export: writes a verification bundle (signet_bundle.h,
 * docs/cli.md) from what the appliance tells this client (keys.list: the
 * public keys, the keys' certificates and chains, the TSA's) and the trust
 * anchors and CRLs the operator gives.  The bundle is built in a temporary
 * directory next to DIR, read back with the bundle reader, and only then
 * renamed to DIR, so DIR is either complete or absent.
 *
 * Roots are never taken from the appliance: keys.list stops below the root,
 * and trusting a root is the operator's decision (--ca).  Every key
 * certificate must chain to those roots, or nothing is written.  The current
 * CRLs come from crl.get for each CA that ca.list gives this client, each
 * checked against its CA's certificate (which must chain to the roots too)
 * before it is written; an appliance that does not let this client list CAs
 * gives none, and the operator may add CRLs with --crl.
 */
#include "signet_cli.h"
#include "signet_bundle.h"
#include "signet_trust.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#define EXPORT_MAX_INPUTS 16
#define EXPORT_PATH_MAX 4096

/* One file of the bundle, for the manifest. */
struct export_file {
	char path[160]; /* DIR-relative */
	unsigned char sha256[32];
};

struct export_ctx {
	struct cli *cli;
	char *tmp; /* the temporary directory being filled */
	struct export_file *files;
	size_t n_files;
	size_t n_roots, n_chains, n_tsa, n_crls, n_ca_crls;
	size_t n_cas, n_cas_skipped; /* CAs of ca.list, and those left out */
	int ca_list_denied;          /* ca.list refused: no CRLs from the appliance */
};

static void
export_help(void)
{
	fputs("usage: signet bundle export DIR --ca ROOTS.pem [--ca ...] [--crl CRL ...]\n"
	      "                            [--config FILE] [--json] [-v]\n"
	      "\n"
	      "Writes a verification bundle to DIR (which must not exist): the public keys and\n"
	      "certificate chains of the keys this client may use and the TSA's (keys.list),\n"
	      "the current CRLs of the CAs this client may list (ca.list, crl.get), the trust\n"
	      "anchors of --ca, the CRLs of --crl, and a manifest.json with the SHA-256 of\n"
	      "every file.  'signet verify --bundle DIR' then needs nothing else.  Every key\n"
	      "certificate must chain to a --ca root.\n"
	      "\n"
	      "  --ca FILE          PEM root certificates to trust; repeatable, at least one\n"
	      "  --crl FILE         a CRL (PEM or DER) to include; repeatable\n"
	      "  --config FILE      client configuration (default: $SIGNET_CONFIG)\n"
	      "  --json             one JSON document on stdout\n"
	      "  -v, --verbose      more messages on stderr\n",
	      stdout);
}

/* Writes len bytes as DIR-relative rel in the temporary directory, and records it. */
static int
export_put(struct export_ctx *x, const char *rel, const void *data, size_t len, char *why,
           size_t why_len)
{
	char full[EXPORT_PATH_MAX + 200];
	struct export_file *f;
	int r;

	if ((f = realloc(x->files, (x->n_files + 1) * sizeof(*f))) == NULL) {
		snprintf(why, why_len, "out of memory");
		return SG_ERR_NOMEM;
	}
	x->files = f;
	f = &x->files[x->n_files];
	snprintf(f->path, sizeof(f->path), "%s", rel);
	if (EVP_Digest(data, len, f->sha256, NULL, EVP_sha256(), NULL) != 1) {
		snprintf(why, why_len, "cannot hash %s", rel);
		return SG_ERR_INTERNAL;
	}
	snprintf(full, sizeof(full), "%s/%s", x->tmp, rel);
	if ((r = cli_write_atomic(full, data, len, 0, why, why_len)) != 0)
		return r;
	x->n_files++;
	return 0;
}

/* The PEM text of a BIO's contents into an export file. */
static int
export_put_bio(struct export_ctx *x, const char *rel, BIO *b, char *why, size_t why_len)
{
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);

	if (n <= 0) {
		snprintf(why, why_len, "cannot encode %s", rel);
		return SG_ERR_INTERNAL;
	}
	return export_put(x, rel, p, (size_t)n, why, why_len);
}

/* Each --ca certificate as roots/ROOT-N.pem, also into t for the chain checks. */
static int
export_roots(struct export_ctx *x, struct cli_trust *t, const char *path, char *why, size_t why_len)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	char rel[64];
	int r;

	if ((r = cli_trust_read_file(path, &buf, &len, why, why_len)) != 0 ||
	    (r = cli_trust_add_certs_mem(t, path, buf, len, 0, why, why_len)) != 0)
		goto out;
	/* As given (PEM, as cli_trust_add_certs_mem just accepted it). */
	snprintf(rel, sizeof(rel), "roots/root-%zu.pem", ++x->n_roots);
	r = export_put(x, rel, buf, len, why, why_len);
out:
	free(buf);
	return r;
}

/* A --crl file as crls/crl-N (its bytes, after checking that it parses). */
static int
export_crl(struct export_ctx *x, struct cli_trust *t, const char *path, char *why, size_t why_len)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	char rel[64];
	int r;

	if ((r = cli_trust_read_file(path, &buf, &len, why, why_len)) != 0 ||
	    (r = cli_trust_add_crl_mem(t, path, buf, len, why, why_len)) != 0)
		goto out;
	snprintf(rel, sizeof(rel), "crls/crl-%zu", ++x->n_crls);
	r = export_put(x, rel, buf, len, why, why_len);
out:
	free(buf);
	return r;
}

/*
 * One key of keys.list: keys/NAME.pem and, when it has certificates, their
 * PEM as chains/NAME.pem (signing keys) and/or tsa/NAME.pem (the TSA), after
 * checking that the leaf holds the key and chains to the roots now.
 */
static int
export_key(struct export_ctx *x, struct cli_trust *t, const struct sg_key_info *k, char *why,
           size_t why_len)
{
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *pub = NULL;
	X509 *cert;
	BIO *b = NULL;
	char rel[SG_NAME_MAX + 32], reason[512];
	const unsigned char *p;
	size_t i;
	int r, is_tsa, is_signer;

	if ((r = signet_key_pubkey(k, &pub)) != 0) {
		snprintf(why, why_len, "the public key of '%s' in keys.list does not parse",
		         k->name);
		goto out;
	}
	if ((b = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(b, pub) != 1) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	snprintf(rel, sizeof(rel), "keys/%s.pem", k->name);
	if ((r = export_put_bio(x, rel, b, why, why_len)) != 0)
		goto out;
	if (k->n_certs == 0)
		goto done;
	BIO_free(b);
	if ((b = BIO_new(BIO_s_mem())) == NULL || (chain = sk_X509_new_null()) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < k->n_certs; i++) {
		p = k->cert[i];
		if ((cert = d2i_X509(NULL, &p, (long)k->cert_len[i])) == NULL ||
		    p != k->cert[i] + k->cert_len[i] || !sk_X509_push(chain, cert)) {
			X509_free(cert);
			snprintf(why, why_len,
			         "certificate %zu of '%s' in keys.list does not parse", i, k->name);
			r = SG_ERR_MALFORMED;
			goto out;
		}
		if (PEM_write_bio_X509(b, cert) != 1) {
			r = SG_ERR_NOMEM;
			goto out;
		}
	}
	cert = sk_X509_value(chain, 0);
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), pub) != 1) {
		snprintf(why, why_len, "the certificate of '%s' does not hold its public key",
		         k->name);
		r = SG_ERR_MALFORMED;
		goto out;
	}
	if ((r = cli_trust_verify_path(t, cert, chain, time(NULL), 0, NULL, reason,
	                               sizeof(reason))) != 0) {
		snprintf(why, why_len,
		         "the certificate of '%s' does not chain to the --ca roots: %s", k->name,
		         reason);
		r = SG_ERR_CONFIG;
		goto out;
	}
	is_tsa = (k->ops & (1u << SG_OP_TIMESTAMP)) != 0;
	is_signer = (k->ops & ((1u << SG_OP_SIGN_DIGEST) | (1u << SG_OP_SIGN_CMS))) != 0;
	if (is_tsa) {
		snprintf(rel, sizeof(rel), "tsa/%s.pem", k->name);
		if ((r = export_put_bio(x, rel, b, why, why_len)) != 0)
			goto out;
		x->n_tsa++;
	}
	if (is_signer || !is_tsa) {
		snprintf(rel, sizeof(rel), "chains/%s.pem", k->name);
		if ((r = export_put_bio(x, rel, b, why, why_len)) != 0)
			goto out;
		x->n_chains++;
	}
done:
	r = 0;
out:
	if (r == SG_ERR_NOMEM)
		snprintf(why, why_len, "out of memory");
	sk_X509_pop_free(chain, X509_free);
	BIO_free(b);
	EVP_PKEY_free(pub);
	ERR_clear_error();
	return r;
}

static void
export_hex(FILE *f, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

/*
 * The current CRL of each CA of ca.list, as crls/NAME.crl (DER), and the
 * CA's certificates as chains/ca-NAME.pem, so that a verifier can check the
 * CRL's signature.  A CA whose certificate does not chain to the roots is
 * left out (said on stderr): its CRL could not be checked there either.
 */
static int
export_ca_crls(struct export_ctx *x, struct signet_client *c, struct cli_trust *t, char *why,
               size_t why_len)
{
	struct sg_ca_info *cas = NULL;
	struct sg_crl_rep crl;
	STACK_OF(X509) *chain = NULL;
	X509_CRL *xcrl = NULL;
	X509 *cert;
	BIO *b = NULL;
	const unsigned char *p;
	char rel[SG_NAME_MAX + 32], reason[512];
	size_t n_cas = 0, i, j;
	int r;

	memset(&crl, 0, sizeof(crl));
	if ((r = signet_ca_list(c, &cas, &n_cas)) != 0) {
		if (r == SG_ERR_DENIED || r == SG_ERR_UNKNOWN_OP) {
			/* Not this client's business: a bundle without the appliance's CRLs. */
			x->ca_list_denied = 1;
			if (x->cli->verbose)
				cli_msg(x->cli, "ca.list: %s (no CRLs from the appliance)",
				        sg_strerror(r));
			r = 0;
			goto out;
		}
		snprintf(why, why_len, "ca.list: %s: %s", sg_strerror(r), signet_client_errmsg(c));
		goto out;
	}
	x->n_cas = n_cas;
	if (x->cli->verbose)
		cli_msg(x->cli, "ca.list: %zu CAs", n_cas);
	for (i = 0; i < n_cas; i++) {
		sk_X509_pop_free(chain, X509_free);
		BIO_free(b);
		b = NULL;
		if ((chain = sk_X509_new_null()) == NULL || (b = BIO_new(BIO_s_mem())) == NULL) {
			r = SG_ERR_NOMEM;
			goto out;
		}
		for (j = 0; j < cas[i].n_certs; j++) {
			p = cas[i].cert[j];
			cert = d2i_X509(NULL, &p, (long)cas[i].cert_len[j]);
			if (cert == NULL || p != cas[i].cert[j] + cas[i].cert_len[j] ||
			    !sk_X509_push(chain, cert)) {
				X509_free(cert);
				snprintf(why, why_len,
				         "a certificate of CA '%s' in ca.list does not parse",
				         cas[i].name);
				r = SG_ERR_MALFORMED;
				goto out;
			}
			if (PEM_write_bio_X509(b, cert) != 1) {
				r = SG_ERR_NOMEM;
				goto out;
			}
		}
		cert = sk_X509_value(chain, 0);
		if (cert == NULL || cli_trust_verify_path(t, cert, chain, time(NULL), 0, NULL,
		                                          reason, sizeof(reason)) != 0) {
			cli_msg(
			    x->cli,
			    "CA '%s' does not chain to the --ca roots (%s): its CRL is left out",
			    cas[i].name, cert == NULL ? "no certificate" : reason);
			x->n_cas_skipped++;
			continue;
		}
		if ((r = signet_crl_get(c, cas[i].name, &crl)) != 0) {
			snprintf(why, why_len, "crl.get %s: %s: %s", cas[i].name, sg_strerror(r),
			         signet_client_errmsg(c));
			goto out;
		}
		p = crl.data;
		/* The library checked the DER; the signature is ours to check, with the CA's key.
		 */
		if ((xcrl = d2i_X509_CRL(NULL, &p, (long)crl.len)) == NULL ||
		    X509_NAME_cmp(X509_CRL_get_issuer(xcrl), X509_get_subject_name(cert)) != 0 ||
		    X509_CRL_verify(xcrl, X509_get0_pubkey(cert)) != 1) {
			snprintf(why, why_len,
			         "the CRL of CA '%s' is not signed by its certificate",
			         cas[i].name);
			r = SG_ERR_MALFORMED;
			goto out;
		}
		X509_CRL_free(xcrl);
		xcrl = NULL;
		if ((r = cli_trust_add_crl_mem(t, cas[i].name, crl.data, crl.len, why, why_len)) !=
		    0)
			goto out;
		snprintf(rel, sizeof(rel), "crls/%s.crl", cas[i].name);
		if ((r = export_put(x, rel, crl.data, crl.len, why, why_len)) != 0)
			goto out;
		snprintf(rel, sizeof(rel), "chains/ca-%s.pem", cas[i].name);
		if ((r = export_put_bio(x, rel, b, why, why_len)) != 0)
			goto out;
		free(crl.data);
		memset(&crl, 0, sizeof(crl));
		x->n_ca_crls++;
	}
	r = 0;
out:
	if (r == SG_ERR_NOMEM)
		snprintf(why, why_len, "out of memory");
	free(crl.data);
	X509_CRL_free(xcrl);
	sk_X509_pop_free(chain, X509_free);
	BIO_free(b);
	signet_cas_free(cas, n_cas);
	ERR_clear_error();
	return r;
}

/* manifest.json: what signet_bundle.c reads back. */
static int
export_manifest(struct export_ctx *x, const char *server, const struct sg_key_info *keys,
                size_t n_keys, char *why, size_t why_len)
{
	unsigned char fp[32];
	char created[32], *text = NULL;
	size_t len = 0, i;
	FILE *f;
	int r;

	if ((f = open_memstream(&text, &len)) == NULL) {
		snprintf(why, why_len, "out of memory");
		return SG_ERR_NOMEM;
	}
	cli_trust_time_t(time(NULL), created, sizeof(created));
	fprintf(f, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"created\": \"%s\",\n",
	        CLI_BUNDLE_FORMAT, CLI_BUNDLE_VERSION, created);
	fputs("  \"appliance\": ", f);
	cli_json_str(f, server);
	fputs(",\n  \"keys\": [", f);
	for (i = 0; i < n_keys; i++) {
		(void)EVP_Digest(keys[i].pub, keys[i].pub_len, fp, NULL, EVP_sha256(), NULL);
		fprintf(f, "%s\n    {\"name\": ", i > 0 ? "," : "");
		cli_json_str(f, keys[i].name);
		fputs(", \"alg\": ", f);
		cli_json_str(f, sg_keyalg_name(keys[i].alg));
		fputs(", \"fingerprint\": \"", f);
		export_hex(f, fp, sizeof(fp));
		fputs("\"}", f);
	}
	fputs(n_keys > 0 ? "\n  ],\n  \"files\": [" : "],\n  \"files\": [", f);
	for (i = 0; i < x->n_files; i++) {
		fprintf(f, "%s\n    {\"path\": ", i > 0 ? "," : "");
		cli_json_str(f, x->files[i].path);
		fputs(", \"sha256\": \"", f);
		export_hex(f, x->files[i].sha256, sizeof(x->files[i].sha256));
		fputs("\"}", f);
	}
	fputs(x->n_files > 0 ? "\n  ]\n}\n" : "]\n}\n", f);
	if (fclose(f) != 0) {
		free(text);
		snprintf(why, why_len, "out of memory");
		return SG_ERR_NOMEM;
	}
	{
		char full[EXPORT_PATH_MAX + 32];

		snprintf(full, sizeof(full), "%s/manifest.json", x->tmp);
		r = cli_write_atomic(full, text, len, 0, why, why_len);
	}
	free(text);
	return r;
}

/* Removes the temporary directory of a failed export (only what export_put wrote). */
static void
export_cleanup(struct export_ctx *x)
{
	static const char *const dirs[] = {"roots", "chains", "tsa", "crls", "keys"};
	char full[EXPORT_PATH_MAX + 200];
	size_t i;

	if (x->tmp == NULL)
		return;
	for (i = 0; i < x->n_files; i++) {
		snprintf(full, sizeof(full), "%s/%s", x->tmp, x->files[i].path);
		(void)unlink(full);
	}
	snprintf(full, sizeof(full), "%s/manifest.json", x->tmp);
	(void)unlink(full);
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(full, sizeof(full), "%s/%s", x->tmp, dirs[i]);
		(void)rmdir(full);
	}
	(void)rmdir(x->tmp);
}

static int
export_run(struct cli *cli, const char *dir, const char **ca, size_t n_ca, const char **crl,
           size_t n_crl)
{
	static const char *const dirs[] = {"roots", "chains", "tsa", "crls", "keys"};
	struct export_ctx x;
	struct signet_client *c = NULL;
	struct sg_key_info *keys = NULL;
	struct sg_ping_rep ping;
	struct cli_trust *t = NULL, *check = NULL;
	char why[1024], sub[EXPORT_PATH_MAX + 32], *dcopy = NULL;
	size_t n_keys = 0, i;
	struct stat st;
	int r, code = CLI_USAGE, dfd;

	memset(&x, 0, sizeof(x));
	x.cli = cli;
	if (strlen(dir) > EXPORT_PATH_MAX - 32)
		return cli_usage(cli, "DIR is too long");
	if (lstat(dir, &st) == 0)
		return cli_fail(cli, SG_ERR_IO, "%s exists: a bundle goes to a new directory", dir);
	if ((t = cli_trust_new()) == NULL || (x.tmp = malloc(strlen(dir) + 16)) == NULL) {
		code = cli_fail(cli, SG_ERR_NOMEM, "%s", sg_strerror(SG_ERR_NOMEM));
		goto out;
	}
	/* Beside DIR, so that the final rename stays on one file system. */
	snprintf(x.tmp, strlen(dir) + 16, "%s.tmp.XXXXXX", dir);
	if (mkdtemp(x.tmp) == NULL) {
		code = cli_fail(cli, SG_ERR_IO, "cannot create a directory next to %s: %s", dir,
		                strerror(errno));
		free(x.tmp);
		x.tmp = NULL;
		goto out;
	}
	(void)chmod(x.tmp, 0755);
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(sub, sizeof(sub), "%s/%s", x.tmp, dirs[i]);
		if (mkdir(sub, 0755) != 0) {
			code = cli_fail(cli, SG_ERR_IO, "%s: %s", sub, strerror(errno));
			goto out;
		}
	}
	for (i = 0; i < n_ca; i++) {
		if ((r = export_roots(&x, t, ca[i], why, sizeof(why))) != 0) {
			code = cli_fail(cli, r, "%s", why);
			goto out;
		}
	}
	for (i = 0; i < n_crl; i++) {
		if ((r = export_crl(&x, t, crl[i], why, sizeof(why))) != 0) {
			code = cli_fail(cli, r, "%s", why);
			goto out;
		}
	}
	if ((r = cli_connect(cli, &c, &code)) != 0)
		goto out;
	if ((r = signet_ping(c, &ping)) != 0 || (r = signet_keys_list(c, &keys, &n_keys)) != 0) {
		code = cli_fail(cli, r, "%s: %s", sg_strerror(r), signet_client_errmsg(c));
		goto out;
	}
	/* The CRLs first: the keys' certificates are then checked against them too. */
	if ((r = export_ca_crls(&x, c, t, why, sizeof(why))) != 0) {
		code = cli_fail(cli, r, "%s", why);
		goto out;
	}
	if ((r = cli_trust_finish(t)) != 0) {
		code = cli_fail(cli, r, "cannot set up revocation checks");
		goto out;
	}
	for (i = 0; i < n_keys; i++) {
		if ((r = export_key(&x, t, &keys[i], why, sizeof(why))) != 0) {
			code = cli_fail(cli, r, "%s", why);
			goto out;
		}
	}
	if ((r = export_manifest(&x, ping.server, keys, n_keys, why, sizeof(why))) != 0) {
		code = cli_fail(cli, r, "%s", why);
		goto out;
	}
	/* Read it back as `signet verify --bundle` will, before it gets its name. */
	if ((check = cli_trust_new()) == NULL) {
		code = cli_fail(cli, SG_ERR_NOMEM, "%s", sg_strerror(SG_ERR_NOMEM));
		goto out;
	}
	if ((r = cli_bundle_load(check, x.tmp, why, sizeof(why))) != 0) {
		code = cli_fail(cli, SG_ERR_INTERNAL, "the bundle written does not read back: %s",
		                why);
		goto out;
	}
	if (rename(x.tmp, dir) != 0) {
		code = cli_fail(cli, SG_ERR_IO, "cannot rename %s to %s: %s", x.tmp, dir,
		                strerror(errno));
		goto out;
	}
	free(x.tmp);
	x.tmp = NULL;
	if ((dcopy = strdup(dir)) != NULL &&
	    (dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	if (cli->json) {
		printf("{\"ok\":true,\"dir\":");
		cli_json_str(stdout, dir);
		printf(",\"appliance\":");
		cli_json_str(stdout, ping.server);
		printf(",\"keys\":[");
		for (i = 0; i < n_keys; i++) {
			if (i > 0)
				putchar(',');
			cli_json_str(stdout, keys[i].name);
		}
		printf("],\"roots\":%zu,\"chains\":%zu,\"tsa\":%zu,\"crls\":%zu,"
		       "\"appliance_crls\":%zu,\"ca_list\":%s,\"cas\":%zu,\"cas_skipped\":%zu,"
		       "\"files\":%zu}\n",
		       t->n_roots, x.n_chains, x.n_tsa, x.n_crls + x.n_ca_crls, x.n_ca_crls,
		       x.ca_list_denied ? "false" : "true", x.n_cas, x.n_cas_skipped, x.n_files);
	} else {
		cli_msg(cli,
		        "wrote %s: %zu keys, %zu roots, %zu key chains, %zu TSA chains, %zu CRLs "
		        "(%zu from the appliance%s)",
		        dir, n_keys, t->n_roots, x.n_chains, x.n_tsa, x.n_crls + x.n_ca_crls,
		        x.n_ca_crls,
		        x.ca_list_denied ? "; ca.list is not allowed to this client" : "");
	}
	code = CLI_OK;
out:
	export_cleanup(&x);
	free(x.tmp);
	free(x.files);
	free(dcopy);
	cli_trust_free(check);
	cli_trust_free(t);
	signet_keys_free(keys, n_keys);
	signet_client_free(c);
	return code;
}

int
cli_cmd_bundle(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"ca", required_argument, NULL, CLI_OPT_CA},
	    {"crl", required_argument, NULL, CLI_OPT_CRL},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	const char *ca[EXPORT_MAX_INPUTS], *crl[EXPORT_MAX_INPUTS];
	size_t n_ca = 0, n_crl = 0;
	int ch;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		export_help();
		return CLI_OK;
	}
	if (argc < 2 || strcmp(argv[1], "export") != 0)
		return cli_usage(cli, "the bundle command is 'signet bundle export DIR'");
	argc--;
	argv++;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case CLI_OPT_CA:
			if (n_ca == EXPORT_MAX_INPUTS)
				return cli_usage(cli, "at most %d --ca", EXPORT_MAX_INPUTS);
			ca[n_ca++] = optarg;
			break;
		case CLI_OPT_CRL:
			if (n_crl == EXPORT_MAX_INPUTS)
				return cli_usage(cli, "at most %d --crl", EXPORT_MAX_INPUTS);
			crl[n_crl++] = optarg;
			break;
		case 'h':
			export_help();
			return CLI_OK;
		default:
			if (cli_common_opt(cli, ch, optarg))
				break;
			return cli_bad_opt(cli, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cli, "exactly one DIR is needed");
	if (n_ca == 0)
		return cli_usage(cli, "--ca ROOTS.pem is required: the bundle's trust anchors are "
		                      "the operator's choice, not the appliance's");
	return export_run(cli, argv[optind], ca, n_ca, crl, n_crl);
}
