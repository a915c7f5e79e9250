/*
 * sg_formats_itest: drives sign.cms and timestamp through libsignet against a
 * running dev appliance (SIGNET_CONFIG), so that the shell test can hand the
 * outputs to openssl.  Not a user tool: the CLI is `signet`.
 *
 *   sg_formats_itest cms KEY HASH FILE OUT       detached CMS of FILE
 *   sg_formats_itest cms-twice KEY FILE OUT1 OUT2 the same request (same idem) twice
 *   sg_formats_itest cms-ts KEY FILE OUT         detached CMS with an embedded time-stamp
 *   sg_formats_itest tsq TSQ OUT                  pass a DER TimeStampReq through
 *   sg_formats_itest ts HASH FILE OUT             the imprint form
 *   sg_formats_itest keys DIR                     writes DIR/KEY.certs.der (leaf DER) per key
 *
 * Prints the status for timestamps ("status N") and "replayed" when the
 * appliance said so; exits 0 on success, 3 with the error name on stderr when
 * the appliance refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "signet.h"

static int
write_file(const char *path, const unsigned char *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(p, 1, n, f) != n) {
		if (f != NULL)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

static unsigned char *
read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	long len;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (p = malloc((size_t)len + 1)) != NULL && fread(p, 1, (size_t)len, f) == (size_t)len) {
		*n = (size_t)len;
	} else {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

static int
refused(struct signet_client *c, int r)
{
	fprintf(stderr, "%s: %s\n", sg_err_name(r), signet_client_errmsg(c));
	return 3;
}

static int
fill_sign(struct sg_sign_req *s, const char *key, const char *hash, const char *file)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->key, sizeof(s->key), "%s", key);
	if (sg_hash_parse(hash, &s->hash) != 0 ||
	    signet_hash_file(file, s->hash, s->digest, &s->digest_len, NULL) != 0)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct signet_client *c;
	struct sg_sign_req s;
	struct sg_ts_req t;
	struct sg_blob_rep b, b2;
	char why[256];
	int r, rc = 2;

	if (argc < 3) {
		fprintf(stderr, "usage: see the source\n");
		return 2;
	}
	if ((c = signet_client_open(getenv("SIGNET_CONFIG"), NULL, &r, why, sizeof(why))) == NULL) {
		fprintf(stderr, "cannot open the client: %s\n", why);
		return 2;
	}
	memset(&b, 0, sizeof(b));
	memset(&b2, 0, sizeof(b2));
	if (strcmp(argv[1], "cms") == 0 && argc == 6) {
		if (fill_sign(&s, argv[2], argv[3], argv[4]) != 0)
			goto out;
		if ((r = signet_sign_cms(c, &s, &b)) != 0) {
			rc = refused(c, r);
			goto out;
		}
		rc = write_file(argv[5], b.data, b.len) == 0 ? 0 : 2;
	} else if (strcmp(argv[1], "cms-twice") == 0 && argc == 6) {
		if (fill_sign(&s, argv[2], "sha256", argv[3]) != 0)
			goto out;
		if ((r = signet_sign_cms(c, &s, &b)) != 0 ||
		    (r = signet_sign_cms(c, &s, &b2)) != 0) {
			rc = refused(c, r);
			goto out;
		}
		if (b2.replayed)
			printf("replayed\n");
		rc = write_file(argv[4], b.data, b.len) == 0 &&
		             write_file(argv[5], b2.data, b2.len) == 0
		         ? 0
		         : 2;
	} else if (strcmp(argv[1], "cms-ts") == 0 && argc == 5) {
		if (fill_sign(&s, argv[2], "sha256", argv[3]) != 0)
			goto out;
		if ((r = signet_sign_cms_timestamped(c, &s, &b)) != 0) {
			rc = refused(c, r);
			goto out;
		}
		rc = write_file(argv[4], b.data, b.len) == 0 ? 0 : 2;
	} else if (strcmp(argv[1], "tsq") == 0 && argc == 4) {
		unsigned char *q;
		size_t n = 0;

		memset(&t, 0, sizeof(t));
		if ((q = read_file(argv[2], &n)) == NULL || n > sizeof(t.tsq)) {
			free(q);
			goto out;
		}
		memcpy(t.tsq, q, n);
		t.tsq_len = n;
		free(q);
		if ((r = signet_timestamp(c, &t, &b)) != 0) {
			rc = refused(c, r);
			goto out;
		}
		printf("status %u\n", b.status);
		rc = write_file(argv[3], b.data, b.len) == 0 ? 0 : 2;
	} else if (strcmp(argv[1], "ts") == 0 && argc == 5) {
		memset(&t, 0, sizeof(t));
		if (sg_hash_parse(argv[2], &t.hash) != 0 ||
		    signet_hash_file(argv[3], t.hash, t.digest, &t.digest_len, NULL) != 0)
			goto out;
		if ((r = signet_timestamp(c, &t, &b)) != 0) {
			rc = refused(c, r);
			goto out;
		}
		printf("status %u\n", b.status);
		rc = write_file(argv[4], b.data, b.len) == 0 ? 0 : 2;
	} else if (strcmp(argv[1], "keys") == 0 && argc == 3) {
		struct sg_key_info *keys = NULL;
		size_t n = 0, i;
		char path[4096];

		if ((r = signet_keys_list(c, &keys, &n)) != 0) {
			rc = refused(c, r);
			goto out;
		}
		rc = 0;
		for (i = 0; i < n; i++) {
			printf("%s certs %zu\n", keys[i].name, keys[i].n_certs);
			if (keys[i].n_certs == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s.der", argv[2], keys[i].name);
			if (write_file(path, keys[i].cert[0], keys[i].cert_len[0]) != 0)
				rc = 2;
		}
		signet_keys_free(keys, n);
	} else {
		fprintf(stderr, "usage: see the source\n");
	}
out:
	free(b.data);
	free(b2.data);
	signet_client_free(c);
	return rc;
}
