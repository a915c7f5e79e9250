/*
 * sg_ca_itest: drives the CA delegation ops through libsignet against a
 * running dev appliance (SIGNET_CONFIG), so that the shell test can hand the
 * outputs to openssl.  Not a user tool: the CLI is `signet ca`.
 *
 *   sg_ca_itest issue PROFILE CSR OUT [TTL [SAN...]]  prints the serial (hex)
 *   sg_ca_itest revoke SERIAL REASON                  prints the status
 *   sg_ca_itest status SERIAL                         prints the status
 *   sg_ca_itest crl CA OUT                            prints the CRL number
 *   sg_ca_itest calist                                prints "CA profile..." per CA
 *
 * Exits 0 on success, 3 with "ERRNAME: message" on stderr when the appliance
 * refused, 2 on a local failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int
read_file(const char *path, unsigned char *buf, size_t cap, size_t *n)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return -1;
	*n = fread(buf, 1, cap, f);
	fclose(f);
	return *n == cap ? -1 : 0;
}

static int
hex_to_bin(const char *hex, unsigned char *out, size_t cap, size_t *n)
{
	size_t len = strlen(hex), i;

	if (len == 0 || len % 2 != 0 || len / 2 > cap)
		return -1;
	for (i = 0; i < len / 2; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	*n = len / 2;
	return 0;
}

static void
print_hex(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02X", p[i]);
	printf("\n");
}

static const char *
status_name(enum sg_cert_status s)
{
	return s == SG_CERT_GOOD ? "good" : s == SG_CERT_REVOKED ? "revoked" : "unknown";
}

int
main(int argc, char **argv)
{
	static struct sg_issue_req iq;
	struct signet_client *c;
	char why[256];
	int r, rc = 2, i;

	if (argc < 2 ||
	    (c = signet_client_open(getenv("SIGNET_CONFIG"), NULL, &r, why, sizeof(why))) == NULL) {
		fprintf(stderr, "usage: see the source (or no client: %s)\n", argc < 2 ? "" : why);
		return 2;
	}
	if (strcmp(argv[1], "issue") == 0 && argc >= 5) {
		struct sg_issue_rep rep;

		memset(&iq, 0, sizeof(iq));
		snprintf(iq.profile, sizeof(iq.profile), "%s", argv[2]);
		if (read_file(argv[3], iq.csr, sizeof(iq.csr), &iq.csr_len) != 0)
			goto out;
		if (argc >= 6)
			iq.ttl = strtoull(argv[5], NULL, 10);
		for (i = 6; i < argc && iq.n_sans < SG_SANS_MAX; i++)
			snprintf(iq.sans[iq.n_sans++], sizeof(iq.sans[0]), "%s", argv[i]);
		if ((r = signet_cert_issue(c, &iq, &rep)) != 0) {
			fprintf(stderr, "%s: %s\n", sg_err_name(r), signet_client_errmsg(c));
			rc = 3;
			goto out;
		}
		print_hex(rep.serial, rep.serial_len);
		rc = write_file(argv[4], rep.cert, rep.cert_len) == 0 ? 0 : 2;
		signet_issue_rep_free(&rep);
	} else if ((strcmp(argv[1], "revoke") == 0 && argc == 4) ||
	           (strcmp(argv[1], "status") == 0 && argc == 3)) {
		struct sg_serial_req q;
		struct sg_status_rep st;

		memset(&q, 0, sizeof(q));
		if (hex_to_bin(argv[2], q.serial, sizeof(q.serial), &q.serial_len) != 0)
			goto out;
		if (argc == 4 && sg_reason_parse(argv[3], &q.reason) != 0)
			goto out;
		r = argc == 4 ? signet_cert_revoke(c, &q, &st)
		              : signet_cert_status(c, q.serial, q.serial_len, &st);
		if (r != 0) {
			fprintf(stderr, "%s: %s\n", sg_err_name(r), signet_client_errmsg(c));
			rc = 3;
			goto out;
		}
		printf("%s\n", status_name(st.status));
		rc = 0;
	} else if (strcmp(argv[1], "crl") == 0 && argc == 4) {
		struct sg_crl_rep crl;

		if ((r = signet_crl_get(c, argv[2], &crl)) != 0) {
			fprintf(stderr, "%s: %s\n", sg_err_name(r), signet_client_errmsg(c));
			rc = 3;
			goto out;
		}
		printf("%llu\n", (unsigned long long)crl.number);
		rc = write_file(argv[3], crl.data, crl.len) == 0 ? 0 : 2;
		free(crl.data);
	} else if (strcmp(argv[1], "calist") == 0 && argc == 2) {
		struct sg_ca_info *cas = NULL;
		size_t n = 0, k, j;

		if ((r = signet_ca_list(c, &cas, &n)) != 0) {
			fprintf(stderr, "%s: %s\n", sg_err_name(r), signet_client_errmsg(c));
			rc = 3;
			goto out;
		}
		for (k = 0; k < n; k++) {
			printf("%s", cas[k].name);
			for (j = 0; j < cas[k].n_profiles; j++)
				printf(" %s", cas[k].profiles[j]);
			printf("\n");
		}
		signet_cas_free(cas, n);
		rc = 0;
	} else {
		fprintf(stderr, "usage: see the source\n");
	}
out:
	signet_client_free(c);
	return rc;
}
