/*
 * signet ca: the CA-server side of CA delegation (docs/cli.md, "signet
 * ca"): certificates for CSRs under the appliance's profiles (cert.issue),
 * revocation (cert.revoke), status (cert.status), CRLs (crl.get) and the CAs
 * this client may use (ca.list).
 *
 * The appliance decides what may be issued; this file only checks what it
 * gets back before handing it on: a certificate is written only once its
 * signature verifies with its issuer's certificate, a CRL only once it
 * verifies with the CA's certificate from ca.list.  It never takes a secret,
 * and never encodes or decodes ASN.1, PEM or base64 itself (OpenSSL does).
 */
#include "sg_duration.h"
#include "signet_cli.h"
#include "signet_trust.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* getopt_long values of the options of `signet ca`, clear of CLI_OPT_*. */
enum {
	CA_OPT_PROFILE = 0x200,
	CA_OPT_CSR,
	CA_OPT_TTL,
	CA_OPT_SAN,
	CA_OPT_REASON,
	CA_OPT_PEM,
};

/* The longest duration --ttl takes (2^40 s, as the profiles' durations). */
#define CA_TTL_MAX ((uint64_t)1 << 40)

/*
 * The exit code of err for these commands: the profile and revocation
 * refusals are the appliance saying no (1, as "denied"), a CSR that is not
 * one is the user's file (2); everything else as for every command.
 */
static int
ca_exit_code(int err)
{
	switch (err) {
	case SG_ERR_CSR_SIGNATURE:
	case SG_ERR_CSR_EXTENSION:
	case SG_ERR_UNKNOWN_PROFILE:
	case SG_ERR_KEY_NOT_ALLOWED:
	case SG_ERR_SUBJECT_NOT_ALLOWED:
	case SG_ERR_SAN_NOT_ALLOWED:
	case SG_ERR_TTL_TOO_LONG:
	case SG_ERR_CA_NOT_ALLOWED:
	case SG_ERR_UNKNOWN_SERIAL:
	case SG_ERR_ALREADY_REVOKED:
	case SG_ERR_CEREMONY_REQUIRED:
		return CLI_BAD;
	case SG_ERR_CSR_INVALID:
		return CLI_USAGE;
	/* The CA key's certificate is the appliance's business. */
	case SG_ERR_NO_CERT:
	case SG_ERR_CERT_VALIDITY:
		return CLI_APPLIANCE;
	default:
		return cli_exit_code(err);
	}
}

/* cli_fail with the exit code of ca_exit_code. */
static int ca_fail(const struct cli *cli, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
ca_fail(const struct cli *cli, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)cli_fail(cli, err, "%s", msg);
	return ca_exit_code(err);
}

/* A failed request: "OP: MESSAGE (NAME): the appliance's explanation". */
static int
ca_refused(const struct cli *cli, struct signet_client *c, const char *op, int err)
{
	const char *m = signet_client_errmsg(c);

	/* An explanation that only repeats the code's message is left out. */
	if (strcmp(m, sg_strerror(err)) == 0)
		m = "";
	return ca_fail(cli, err, "%s: %s (%s)%s%s", op, sg_strerror(err), sg_err_name(err),
	               m[0] != '\0' ? ": " : "", m);
}

/*
 * A serial number as people copy it: hex digits, any case, optionally
 * "0x" first and colons between bytes ("4f:3a:..", as openssl -text prints
 * it).  Into the wire form: big-endian, no leading zero byte, 1..
 * SG_SERIAL_MAX bytes.  0 or -1.
 */
static int
ca_serial_parse(const char *s, unsigned char *out, size_t *len)
{
	char hex[2 * SG_SERIAL_MAX + 64];
	const char *p = s;
	BIGNUM *bn = NULL;
	size_t n = 0;
	int r = -1, nb;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (; *p != '\0'; p++) {
		if (*p == ':') {
			/* Only between digits: not first, last or doubled. */
			if (n == 0 || p[1] == '\0' || p[1] == ':')
				goto out;
			continue;
		}
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
		      (*p >= 'A' && *p <= 'F')) ||
		    n + 1 >= sizeof(hex))
			goto out;
		hex[n++] = *p;
	}
	hex[n] = '\0';
	if (n == 0 || BN_hex2bn(&bn, hex) != (int)n)
		goto out;
	nb = BN_num_bytes(bn);
	/* Zero is no serial number (RFC 5280: positive). */
	if (nb < 1 || nb > SG_SERIAL_MAX)
		goto out;
	*len = (size_t)BN_bn2bin(bn, out);
	r = 0;
out:
	BN_free(bn);
	return r;
}

/* serial[0..len) as lowercase hex (out: 2 * SG_SERIAL_MAX + 1 bytes). */
static void
ca_serial_hex(const unsigned char *serial, size_t len, char *out)
{
	size_t i;

	out[0] = '\0';
	for (i = 0; i < len && i < SG_SERIAL_MAX; i++)
		snprintf(out + 2 * i, 3, "%02x", serial[i]);
}

/* One DER certificate, all of der[0..len) and nothing else; NULL otherwise. */
static X509 *
ca_x509(const unsigned char *der, size_t len)
{
	const unsigned char *q = der;
	X509 *x;

	if ((x = d2i_X509(NULL, &q, (long)len)) != NULL && q != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* x as PEM in a new string (*out, release with free()); 0 or SG_ERR_NOMEM. */
static int
ca_pem(X509 *x, X509_CRL *crl, char **out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int r = SG_ERR_NOMEM;

	*out = NULL;
	if (b == NULL ||
	    (x != NULL ? PEM_write_bio_X509(b, x) : PEM_write_bio_X509_CRL(b, crl)) != 1 ||
	    (n = BIO_get_mem_data(b, &p)) <= 0 || (*out = malloc((size_t)n + 1)) == NULL)
		goto out;
	memcpy(*out, p, (size_t)n);
	(*out)[n] = '\0';
	r = 0;
out:
	BIO_free(b);
	return r;
}

/* The RFC 2253 subject of x (out: CLI_TRUST_NAME_MAX bytes). */
static void
ca_subject(X509 *x, char *out)
{
	cli_trust_name(X509_get_subject_name(x), out, CLI_TRUST_NAME_MAX);
}

/* "null" or the JSON string s. */
static void
ca_json_opt(const char *s)
{
	if (s != NULL && s[0] != '\0')
		cli_json_str(stdout, s);
	else
		fputs("null", stdout);
}

/* The receipt and replay members of a reply (starts with a comma). */
static void
ca_json_receipt(uint64_t record, const unsigned char hash[32], int replayed)
{
	printf(",\"receipt\":{\"record\":%llu,\"hash\":", (unsigned long long)record);
	cli_json_hex(stdout, hash, 32);
	printf("},\"replayed\":%s", replayed ? "true" : "false");
}

/* Refuses an existing OUT early, before the appliance acts (and audits) for nothing. */
static int
ca_check_out(const struct cli *cli, const char *out, int force, int *code)
{
	if (out == NULL || force || access(out, F_OK) != 0)
		return 0;
	*code = ca_fail(cli, SG_ERR_IO, "%s exists (use --force to replace it)", out);
	return SG_ERR_IO;
}

/* Fetches ca.list and the entry of CA name (NULL when it is not listed); errors reported. */
static int
ca_list_find(const struct cli *cli, struct signet_client *c, const char *name,
             struct sg_ca_info **cas, size_t *n, const struct sg_ca_info **found, int *code)
{
	size_t i;
	int r;

	*found = NULL;
	if ((r = signet_ca_list(c, cas, n)) != 0) {
		*code = ca_refused(cli, c, "ca.list", r);
		return r;
	}
	for (i = 0; i < *n; i++) {
		if (strcmp((*cas)[i].name, name) == 0)
			*found = &(*cas)[i];
	}
	return 0;
}

/* ---- signet ca issue ---- */

static void
ca_issue_help(void)
{
	fputs("usage: signet ca issue --profile NAME --csr REQ [--ttl DURATION] [--san SAN]...\n"
	      "                       [-o OUT] [--force] [--job ID] [--config FILE] [--json] [-v]\n"
	      "\n"
	      "Has the appliance issue a certificate for the PKCS#10 request REQ (PEM or DER)\n"
	      "under the certificate profile NAME, signed by the profile's CA key in the HSM.\n"
	      "Writes the certificate, then the chain that came with it (the issuing CA's\n"
	      "certificate first), as PEM to OUT, or to stdout without -o; prints the serial\n"
	      "number and validity.\n"
	      "\n"
	      "  -p, --profile NAME  the certificate profile (see 'signet ca list')\n"
	      "  --csr REQ           the certificate signing request (at most 16 KiB)\n"
	      "  --ttl DURATION      the lifetime asked for: NUMBER and unit s, m, h or d\n"
	      "                      (30m, 24h, 7d, 1h30m); default: the profile's\n"
	      "  --san SAN           a subject alternative name to include: DNS:name, IP:addr\n"
	      "                      or URI:uri (repeatable, at most 32)\n"
	      "  -o, --output OUT    the PEM file to write (default: stdout)\n"
	      "  --force             replace an existing OUT (default: refuse)\n"
	      "  --job ID            CI job id for the audit log (default: $SIGNET_JOB_ID,\n"
	      "                      then $CI_JOB_ID)\n"
	      "  --config FILE       client configuration (default: $SIGNET_CONFIG)\n"
	      "  --json              one JSON document on stdout (the PEM in it)\n"
	      "  -v, --verbose       more messages on stderr\n",
	      stdout);
}

/* Checks a --san value as the protocol takes it; NULL or why not. */
static const char *
ca_san_bad(const char *s)
{
	size_t len = strlen(s);

	if (len > SG_SAN_MAX)
		return "longer than 256 bytes";
	if (!sg_wire_utf8_valid((const unsigned char *)s, len))
		return "not UTF-8";
	if ((strncmp(s, "DNS:", 4) == 0 || strncmp(s, "URI:", 4) == 0) && len > 4)
		return NULL;
	if (strncmp(s, "IP:", 3) == 0 && len > 3)
		return NULL;
	return "not DNS:name, IP:address or URI:uri";
}

/* The issued certificate, its chain and the PEM of both, as checked. */
struct ca_issued {
	X509 *cert;
	X509 *chain[SG_CERTS_MAX];
	size_t n_chain;
	char *pem; /* certificate then chain */
	char *pem_one[1 + SG_CERTS_MAX];
	char subject[CLI_TRUST_NAME_MAX];
};

static void
ca_issued_clear(struct ca_issued *is)
{
	size_t i;

	X509_free(is->cert);
	for (i = 0; i < is->n_chain; i++)
		X509_free(is->chain[i]);
	for (i = 0; i < 1 + SG_CERTS_MAX; i++)
		free(is->pem_one[i]);
	free(is->pem);
	memset(is, 0, sizeof(*is));
}

/*
 * Checks the reply rep: every certificate parses, and the certificate was
 * issued by, and verifies with, its issuer's certificate (the chain's first,
 * or for a certificate the root issued, the CA's own from ca.list).  Fills
 * *is.  Returns 0, SG_ERR_SELF_VERIFY (why) or an error already reported.
 */
static int
ca_issue_check(const struct cli *cli, struct signet_client *c, const struct sg_issue_rep *rep,
               struct ca_issued *is, char *why, size_t why_len, int *code)
{
	struct sg_ca_info *cas = NULL;
	const struct sg_ca_info *ca;
	X509 *issuer = NULL, *own = NULL;
	size_t n = 0, i, total;
	int r;

	if ((is->cert = ca_x509(rep->cert, rep->cert_len)) == NULL) {
		snprintf(why, why_len, "the certificate does not parse");
		r = SG_ERR_SELF_VERIFY;
		goto out;
	}
	ca_subject(is->cert, is->subject);
	for (i = 0; i < rep->n_chain; i++) {
		if ((is->chain[i] = ca_x509(rep->chain[i], rep->chain_len[i])) == NULL) {
			snprintf(why, why_len, "certificate %zu of the chain does not parse",
			         i + 1);
			r = SG_ERR_SELF_VERIFY;
			goto out;
		}
		is->n_chain++;
	}
	if (is->n_chain > 0) {
		issuer = is->chain[0];
	} else {
		if ((r = ca_list_find(cli, c, rep->ca, &cas, &n, &ca, code)) != 0)
			goto out;
		if (ca == NULL || (own = ca_x509(ca->cert[0], ca->cert_len[0])) == NULL) {
			snprintf(why, why_len,
			         "no chain came with it and ca.list does not give CA %s's "
			         "certificate to check it with",
			         rep->ca);
			r = SG_ERR_SELF_VERIFY;
			goto out;
		}
		issuer = own;
	}
	ERR_set_mark();
	r = X509_check_issued(issuer, is->cert) == X509_V_OK &&
	            X509_verify(is->cert, X509_get0_pubkey(issuer)) == 1
	        ? 0
	        : SG_ERR_SELF_VERIFY;
	ERR_pop_to_mark();
	if (r != 0) {
		snprintf(why, why_len, "the certificate does not verify with CA %s's certificate",
		         rep->ca);
		goto out;
	}
	if ((r = ca_pem(is->cert, NULL, &is->pem_one[0])) != 0)
		goto out;
	total = strlen(is->pem_one[0]);
	for (i = 0; i < is->n_chain; i++) {
		if ((r = ca_pem(is->chain[i], NULL, &is->pem_one[1 + i])) != 0)
			goto out;
		total += strlen(is->pem_one[1 + i]);
	}
	if ((is->pem = malloc(total + 1)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	is->pem[0] = '\0';
	for (i = 0; i < 1 + is->n_chain; i++)
		strcat(is->pem, is->pem_one[i]);
	r = 0;
out:
	X509_free(own);
	signet_cas_free(cas, n);
	return r;
}

static void
ca_issue_json(const struct sg_issue_rep *rep, const struct ca_issued *is, const char *output)
{
	char serial[2 * SG_SERIAL_MAX + 1], t[32];
	size_t i;

	ca_serial_hex(rep->serial, rep->serial_len, serial);
	printf("{\"ok\":true,\"profile\":");
	cli_json_str(stdout, rep->profile);
	printf(",\"ca\":");
	cli_json_str(stdout, rep->ca);
	printf(",\"serial\":");
	cli_json_str(stdout, serial);
	printf(",\"subject\":");
	cli_json_str(stdout, is->subject);
	cli_trust_time_t((time_t)rep->not_before, t, sizeof(t));
	printf(",\"not_before\":");
	cli_json_str(stdout, t);
	cli_trust_time_t((time_t)rep->not_after, t, sizeof(t));
	printf(",\"not_after\":");
	cli_json_str(stdout, t);
	printf(",\"certificate_file\":");
	ca_json_opt(output);
	printf(",\"certificate\":");
	cli_json_str(stdout, is->pem_one[0]);
	printf(",\"chain\":[");
	for (i = 0; i < is->n_chain; i++) {
		if (i > 0)
			putchar(',');
		cli_json_str(stdout, is->pem_one[1 + i]);
	}
	putchar(']');
	ca_json_receipt(rep->record, rep->record_hash, rep->replayed);
	printf("}\n");
}

static int
ca_issue(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"profile", required_argument, NULL, 'p'},
	    {"csr", required_argument, NULL, CA_OPT_CSR},
	    {"ttl", required_argument, NULL, CA_OPT_TTL},
	    {"san", required_argument, NULL, CA_OPT_SAN},
	    {"output", required_argument, NULL, 'o'},
	    {"force", no_argument, NULL, CLI_OPT_FORCE},
	    {"job", required_argument, NULL, CLI_OPT_JOB},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	const char *profile = NULL, *csr = NULL, *output = NULL, *job = NULL, *bad;
	struct signet_client *c = NULL;
	struct sg_issue_req *req = NULL;
	struct sg_issue_rep rep;
	struct ca_issued is;
	char why[512], serial[2 * SG_SERIAL_MAX + 1], na[32];
	int ch, r, force = 0, code = CLI_USAGE;

	memset(&rep, 0, sizeof(rep));
	memset(&is, 0, sizeof(is));
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return ca_fail(cli, SG_ERR_NOMEM, "%s", sg_strerror(SG_ERR_NOMEM));
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":p:o:" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			profile = optarg;
			break;
		case CA_OPT_CSR:
			csr = optarg;
			break;
		case CA_OPT_TTL:
			if (sg_duration_parse(optarg, CA_TTL_MAX, &req->ttl) != 0 ||
			    req->ttl == 0) {
				code = cli_usage(cli,
				                 "--ttl '%s' is not a duration (NUMBER and unit s, "
				                 "m, h or d, as in 30m, 24h, 7d)",
				                 optarg);
				goto out;
			}
			break;
		case CA_OPT_SAN:
			if ((bad = ca_san_bad(optarg)) != NULL) {
				code = cli_usage(cli, "--san '%s': %s", optarg, bad);
				goto out;
			}
			if (req->n_sans == SG_SANS_MAX) {
				code = cli_usage(cli, "at most %d --san", SG_SANS_MAX);
				goto out;
			}
			snprintf(req->sans[req->n_sans++], sizeof(req->sans[0]), "%s", optarg);
			break;
		case 'o':
			output = optarg;
			break;
		case CLI_OPT_FORCE:
			force = 1;
			break;
		case CLI_OPT_JOB:
			job = optarg;
			break;
		case 'h':
			ca_issue_help();
			code = CLI_OK;
			goto out;
		default:
			if (cli_common_opt(cli, ch, optarg))
				break;
			code = cli_bad_opt(cli, argv);
			goto out;
		}
	}
	if (optind != argc) {
		code = cli_usage(cli, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (profile == NULL || csr == NULL) {
		code = cli_usage(cli, "--profile NAME and --csr REQ are required");
		goto out;
	}
	if (!sg_wire_name_valid(profile, strlen(profile))) {
		code = cli_usage(cli, "'%s' is not a valid profile name", profile);
		goto out;
	}
	if ((r = cli_job_id(cli, &job)) != 0) {
		code = r;
		goto out;
	}
	snprintf(req->profile, sizeof(req->profile), "%s", profile);
	if (job != NULL)
		snprintf(req->meta.job, sizeof(req->meta.job), "%s", job);
	cli_artifact_name(csr, req->meta.artifact, SG_META_ARTIFACT_MAX);
	if ((r = ca_check_out(cli, output, force, &code)) != 0)
		goto out;
	if ((r = cli_read_small(csr, req->csr, sizeof(req->csr), &req->csr_len)) != 0) {
		code = ca_fail(cli, r, "%s: %s", csr,
		               r == SG_ERR_LIMIT ? "larger than a CSR may be (16 KiB)"
		                                 : sg_strerror(r));
		goto out;
	}
	if (req->csr_len == 0) {
		code = ca_fail(cli, SG_ERR_CSR_INVALID, "%s: empty", csr);
		goto out;
	}

	if ((r = cli_connect(cli, &c, &code)) != 0)
		goto out;
	if ((r = signet_cert_issue(c, req, &rep)) != 0) {
		code = ca_refused(cli, c, "cert.issue", r);
		goto out;
	}
	ca_serial_hex(rep.serial, rep.serial_len, serial);
	if ((r = ca_issue_check(cli, c, &rep, &is, why, sizeof(why), &code)) != 0) {
		if (r == SG_ERR_SELF_VERIFY || r == SG_ERR_NOMEM)
			code = ca_fail(cli, r, "serial %s (audit record %llu): %s; not written",
			               serial, (unsigned long long)rep.record,
			               r == SG_ERR_NOMEM ? sg_strerror(r) : why);
		goto out;
	}
	if (output != NULL) {
		if ((r = cli_write_atomic(output, is.pem, strlen(is.pem), force, why,
		                          sizeof(why))) != 0) {
			code = ca_fail(cli, r,
			               "issued serial %s (audit record %llu) but not saved: %s",
			               serial, (unsigned long long)rep.record, why);
			goto out;
		}
	} else if (!cli->json) {
		fputs(is.pem, stdout);
	}
	cli_trust_time_t((time_t)rep.not_after, na, sizeof(na));
	if (cli->json) {
		ca_issue_json(&rep, &is, output);
	} else if (output != NULL) {
		/* stdout holds the certificate without -o; with it, what a script wants. */
		printf("serial:     %s\nsubject:    %s\nca:         %s\nprofile:    %s\n", serial,
		       is.subject, rep.ca, rep.profile);
		cli_trust_time_t((time_t)rep.not_before, why, sizeof(why));
		printf("not_before: %s\nnot_after:  %s\n", why, na);
	}
	if (!cli->json || cli->verbose)
		cli_msg(
		    cli,
		    "issued serial %s (%s) by %s under %s, valid until %s, audit record %llu%s%s%s",
		    serial, is.subject, rep.ca, rep.profile, na, (unsigned long long)rep.record,
		    rep.replayed ? " (replayed)" : "", output != NULL ? " -> " : "",
		    output != NULL ? output : "");
	code = CLI_OK;
out:
	ca_issued_clear(&is);
	signet_issue_rep_free(&rep);
	signet_client_free(c);
	free(req);
	return code;
}

/* ---- signet ca revoke / status ---- */

static void
ca_revoke_help(void)
{
	fputs("usage: signet ca revoke SERIAL --reason REASON [--config FILE] [--json] [-v]\n"
	      "\n"
	      "Revokes the certificate the appliance issued with serial number SERIAL (hex,\n"
	      "colons allowed); its CA's CRL is made anew.  REASON is an RFC 5280 reason:\n"
	      "unspecified, keyCompromise, cACompromise, affiliationChanged, superseded,\n"
	      "cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise.\n"
	      "Revoking a CA certificate takes a key ceremony (ceremony_required).\n",
	      stdout);
}

static void
ca_status_help(void)
{
	fputs("usage: signet ca status SERIAL [--config FILE] [--json] [-v]\n"
	      "\n"
	      "Prints the status of the certificate of serial number SERIAL (hex, colons\n"
	      "allowed): good, revoked (when and why) or unknown (not issued by the\n"
	      "appliance), with its CA, profile and expiry.\n",
	      stdout);
}

static void
ca_status_print(FILE *f, const struct sg_status_rep *st, const char *serial)
{
	char t[32];

	fprintf(f, "serial:     %s\nstatus:     %s\n", serial, sg_cert_status_name(st->status));
	if (st->status == SG_CERT_UNKNOWN)
		return;
	fprintf(f, "ca:         %s\nprofile:    %s\n", st->ca, st->profile);
	cli_trust_time_t((time_t)st->not_after, t, sizeof(t));
	fprintf(f, "not_after:  %s\n", t);
	if (st->status != SG_CERT_REVOKED)
		return;
	cli_trust_time_t((time_t)st->revoked_at, t, sizeof(t));
	fprintf(f, "revoked_at: %s\nreason:     %s\n", t,
	        sg_reason_name(st->reason) != NULL ? sg_reason_name(st->reason) : "?");
}

static void
ca_status_json(const struct sg_status_rep *st, const char *serial, int revoke)
{
	char t[32];

	printf("{\"ok\":true,\"serial\":");
	cli_json_str(stdout, serial);
	printf(",\"status\":");
	cli_json_str(stdout, sg_cert_status_name(st->status));
	printf(",\"ca\":");
	ca_json_opt(st->ca);
	printf(",\"profile\":");
	ca_json_opt(st->profile);
	printf(",\"not_after\":");
	cli_trust_time_t((time_t)st->not_after, t, sizeof(t));
	ca_json_opt(st->status != SG_CERT_UNKNOWN ? t : NULL);
	printf(",\"revoked_at\":");
	cli_trust_time_t((time_t)st->revoked_at, t, sizeof(t));
	ca_json_opt(st->status == SG_CERT_REVOKED ? t : NULL);
	printf(",\"reason\":");
	ca_json_opt(st->status == SG_CERT_REVOKED ? sg_reason_name(st->reason) : NULL);
	ca_json_receipt(st->record, st->record_hash, revoke && st->replayed);
	printf("}\n");
}

/* signet ca revoke (revoke = 1) and signet ca status. */
static int
ca_serial_cmd(struct cli *cli, int argc, char **argv, int revoke)
{
	static const struct option opts[] = {
	    {"reason", required_argument, NULL, CA_OPT_REASON},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	static const struct option opts_status[] = {
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	const char *reason = NULL;
	struct signet_client *c = NULL;
	struct sg_serial_req q;
	struct sg_status_rep st;
	char serial[2 * SG_SERIAL_MAX + 1], t[32];
	int ch, r, code = CLI_USAGE;

	memset(&q, 0, sizeof(q));
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":" CLI_COMMON_SHORTOPTS, revoke ? opts : opts_status,
	                         NULL)) != -1) {
		switch (ch) {
		case CA_OPT_REASON:
			reason = optarg;
			break;
		case 'h':
			if (revoke)
				ca_revoke_help();
			else
				ca_status_help();
			return CLI_OK;
		default:
			if (cli_common_opt(cli, ch, optarg))
				break;
			return cli_bad_opt(cli, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cli, "exactly one SERIAL is needed");
	if (ca_serial_parse(argv[optind], q.serial, &q.serial_len) != 0)
		return cli_usage(cli,
		                 "'%s' is not a serial number (hex, colons allowed, not zero, "
		                 "at most %d bytes)",
		                 argv[optind], SG_SERIAL_MAX);
	if (revoke) {
		if (reason == NULL)
			return cli_usage(cli, "--reason REASON is required");
		if (sg_reason_parse(reason, &q.reason) != 0)
			return cli_usage(
			    cli,
			    "unknown reason '%s' (unspecified, keyCompromise, "
			    "cACompromise, affiliationChanged, superseded, "
			    "cessationOfOperation, certificateHold, privilegeWithdrawn, "
			    "aACompromise)",
			    reason);
	}
	ca_serial_hex(q.serial, q.serial_len, serial);
	if ((r = cli_connect(cli, &c, &code)) != 0)
		goto out;
	r = revoke ? signet_cert_revoke(c, &q, &st)
	           : signet_cert_status(c, q.serial, q.serial_len, &st);
	if (r != 0) {
		code = ca_refused(cli, c, revoke ? "cert.revoke" : "cert.status", r);
		goto out;
	}
	if (cli->json)
		ca_status_json(&st, serial, revoke);
	else if (!revoke)
		ca_status_print(stdout, &st, serial);
	if (revoke && (!cli->json || cli->verbose)) {
		cli_trust_time_t((time_t)st.revoked_at, t, sizeof(t));
		cli_msg(cli, "%s revoked (%s) at %s, issued by %s under %s, audit record %llu%s",
		        serial, sg_reason_name(st.reason), t, st.ca, st.profile,
		        (unsigned long long)st.record, st.replayed ? " (replayed)" : "");
	}
	code = CLI_OK;
out:
	signet_client_free(c);
	return code;
}

/* ---- signet ca crl ---- */

static void
ca_crl_help(void)
{
	fputs("usage: signet ca crl --ca NAME [-o OUT] [--pem] [--force] [--config FILE]\n"
	      "                     [--json] [-v]\n"
	      "\n"
	      "Fetches the current CRL of the CA NAME (see 'signet ca list'), checks its\n"
	      "signature with the CA's certificate, and writes it to OUT (default: stdout).\n"
	      "\n"
	      "  --ca NAME          the CA (its key's name)\n"
	      "  -o, --output OUT   the file to write (default: stdout)\n"
	      "  --pem              PEM instead of DER\n"
	      "  --force            replace an existing OUT (default: refuse)\n"
	      "  --config FILE      client configuration (default: $SIGNET_CONFIG)\n"
	      "  --json             one JSON document on stdout (without -o: the DER in it,\n"
	      "                     base64)\n"
	      "  -v, --verbose      more messages on stderr\n",
	      stdout);
}

static int
ca_crl(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"ca", required_argument, NULL, CLI_OPT_CA},
	    {"output", required_argument, NULL, 'o'},
	    {"pem", no_argument, NULL, CA_OPT_PEM},
	    {"force", no_argument, NULL, CLI_OPT_FORCE},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	const char *name = NULL, *output = NULL;
	struct signet_client *c = NULL;
	struct sg_ca_info *cas = NULL;
	const struct sg_ca_info *ca;
	struct sg_crl_rep crl;
	X509_CRL *x = NULL;
	X509 *cacert = NULL;
	const unsigned char *q;
	char *pem = NULL, why[512], tu[32], nu[32];
	const void *data;
	size_t n = 0, len;
	int ch, r, pemout = 0, force = 0, code = CLI_USAGE, ok, revoked;

	memset(&crl, 0, sizeof(crl));
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":o:" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case CLI_OPT_CA:
			name = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case CA_OPT_PEM:
			pemout = 1;
			break;
		case CLI_OPT_FORCE:
			force = 1;
			break;
		case 'h':
			ca_crl_help();
			return CLI_OK;
		default:
			if (cli_common_opt(cli, ch, optarg))
				break;
			return cli_bad_opt(cli, argv);
		}
	}
	if (optind != argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);
	if (name == NULL)
		return cli_usage(cli, "--ca NAME is required");
	if (!sg_wire_name_valid(name, strlen(name)))
		return cli_usage(cli, "'%s' is not a valid CA name", name);
	if (output == NULL && !cli->json && !pemout && isatty(STDOUT_FILENO))
		return cli_usage(cli, "not writing a DER CRL to a terminal: use -o OUT or --pem");
	if ((r = ca_check_out(cli, output, force, &code)) != 0)
		goto out;

	if ((r = cli_connect(cli, &c, &code)) != 0)
		goto out;
	/* The CA's certificate first: what the CRL must verify with. */
	if ((r = ca_list_find(cli, c, name, &cas, &n, &ca, &code)) != 0)
		goto out;
	if (ca == NULL) {
		code =
		    ca_fail(cli, SG_ERR_UNKNOWN_KEY,
		            "CA '%s' is not one this client may use (see 'signet ca list')", name);
		goto out;
	}
	if ((cacert = ca_x509(ca->cert[0], ca->cert_len[0])) == NULL) {
		code = ca_fail(cli, SG_ERR_MALFORMED,
		               "ca.list: the certificate of %s does not parse", name);
		goto out;
	}
	if ((r = signet_crl_get(c, name, &crl)) != 0) {
		code = ca_refused(cli, c, "crl.get", r);
		goto out;
	}
	q = crl.data;
	ERR_set_mark();
	ok = (x = d2i_X509_CRL(NULL, &q, (long)crl.len)) != NULL &&
	     X509_NAME_cmp(X509_CRL_get_issuer(x), X509_get_subject_name(cacert)) == 0 &&
	     X509_CRL_verify(x, X509_get0_pubkey(cacert)) == 1;
	ERR_pop_to_mark();
	if (!ok) {
		code = ca_fail(cli, SG_ERR_SELF_VERIFY,
		               "the CRL of %s (number %llu) does not verify with the CA's "
		               "certificate; not written",
		               name, (unsigned long long)crl.number);
		goto out;
	}
	revoked = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(x));
	if (revoked < 0)
		revoked = 0;
	if (pemout) {
		if ((r = ca_pem(NULL, x, &pem)) != 0) {
			code = ca_fail(cli, r, "%s", sg_strerror(r));
			goto out;
		}
		data = pem;
		len = strlen(pem);
	} else {
		data = crl.data;
		len = crl.len;
	}
	if (output != NULL) {
		if ((r = cli_write_atomic(output, data, len, force, why, sizeof(why))) != 0) {
			code = ca_fail(cli, r, "%s", why);
			goto out;
		}
	} else if (!cli->json && fwrite(data, 1, len, stdout) != len) {
		code = ca_fail(cli, SG_ERR_IO, "cannot write to stdout");
		goto out;
	}
	cli_trust_time_t((time_t)crl.this_update, tu, sizeof(tu));
	cli_trust_time_t((time_t)crl.next_update, nu, sizeof(nu));
	if (cli->json) {
		printf("{\"ok\":true,\"ca\":");
		cli_json_str(stdout, name);
		printf(",\"number\":%llu,\"this_update\":", (unsigned long long)crl.number);
		cli_json_str(stdout, tu);
		printf(",\"next_update\":");
		cli_json_str(stdout, nu);
		printf(",\"revoked\":%d,\"format\":\"%s\",\"crl_file\":", revoked,
		       pemout ? "pem" : "der");
		ca_json_opt(output);
		if (output == NULL) {
			printf(",\"crl\":");
			if (pemout)
				cli_json_str(stdout, pem);
			else if ((r = cli_json_b64(stdout, crl.data, crl.len)) != 0)
				printf("null");
		}
		printf("}\n");
	}
	if (!cli->json || cli->verbose)
		cli_msg(cli,
		        "CRL of %s, number %llu, %d revoked, this update %s, next update %s%s%s",
		        name, (unsigned long long)crl.number, revoked, tu, nu,
		        output != NULL ? " -> " : "", output != NULL ? output : "");
	code = CLI_OK;
out:
	free(pem);
	free(crl.data);
	X509_CRL_free(x);
	X509_free(cacert);
	signet_cas_free(cas, n);
	signet_client_free(c);
	return code;
}

/* ---- signet ca list ---- */

static void
ca_list_help(void)
{
	fputs("usage: signet ca list [--config FILE] [--json] [-v]\n"
	      "\n"
	      "Lists the CAs whose profiles this client may use: name, expiry and subject of\n"
	      "the CA's certificate, and the profiles (with --json also the certificates,\n"
	      "PEM, the CA's first).\n",
	      stdout);
}

/* The members of CA ca (certificate x, its first) in a JSON object of ca list. */
static int
ca_list_json(const struct sg_ca_info *ca, X509 *x)
{
	char name[CLI_TRUST_NAME_MAX], t[32], alg[48], serial[128], *hex = NULL, *pem = NULL;
	unsigned char fp[32];
	BIGNUM *bn;
	X509 *y;
	size_t j;
	int r = 0;

	printf("{\"name\":");
	cli_json_str(stdout, ca->name);
	ca_subject(x, name);
	printf(",\"subject\":");
	cli_json_str(stdout, name);
	cli_trust_name(X509_get_issuer_name(x), name, sizeof(name));
	printf(",\"issuer\":");
	cli_json_str(stdout, name);
	serial[0] = '\0';
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) != NULL &&
	    (hex = BN_bn2hex(bn)) != NULL) {
		for (j = 0; hex[j] != '\0' && j + 1 < sizeof(serial); j++)
			serial[j] = (char)(hex[j] >= 'A' && hex[j] <= 'F' ? hex[j] + 32 : hex[j]);
		serial[j] = '\0';
	}
	OPENSSL_free(hex);
	BN_free(bn);
	printf(",\"serial\":");
	cli_json_str(stdout, serial);
	cli_trust_time(X509_get0_notBefore(x), t, sizeof(t));
	printf(",\"not_before\":");
	cli_json_str(stdout, t);
	cli_trust_time(X509_get0_notAfter(x), t, sizeof(t));
	printf(",\"not_after\":");
	cli_json_str(stdout, t);
	cli_trust_key_alg(X509_get0_pubkey(x), alg, sizeof(alg));
	printf(",\"key\":{\"alg\":");
	cli_json_str(stdout, alg);
	printf(",\"fingerprint\":");
	if (cli_trust_key_fp(X509_get0_pubkey(x), fp) == 0)
		cli_json_hex(stdout, fp, sizeof(fp));
	else
		printf("null");
	printf("},\"profiles\":[");
	for (j = 0; j < ca->n_profiles; j++) {
		if (j > 0)
			putchar(',');
		cli_json_str(stdout, ca->profiles[j]);
	}
	printf("],\"certificates\":[");
	for (j = 0; j < ca->n_certs && r == 0; j++) {
		if ((y = ca_x509(ca->cert[j], ca->cert_len[j])) == NULL) {
			r = SG_ERR_MALFORMED;
		} else if ((r = ca_pem(y, NULL, &pem)) == 0) {
			if (j > 0)
				putchar(',');
			cli_json_str(stdout, pem);
		}
		free(pem);
		pem = NULL;
		X509_free(y);
	}
	printf("]}");
	return r;
}

static int
ca_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	struct signet_client *c = NULL;
	struct sg_ca_info *cas = NULL;
	X509 **x = NULL;
	char subject[CLI_TRUST_NAME_MAX], na[32];
	size_t n = 0, i, j;
	int ch, r, code = CLI_USAGE;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			ca_list_help();
			return CLI_OK;
		default:
			if (cli_common_opt(cli, ch, optarg))
				break;
			return cli_bad_opt(cli, argv);
		}
	}
	if (optind != argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);
	if ((r = cli_connect(cli, &c, &code)) != 0)
		goto out;
	if ((r = signet_ca_list(c, &cas, &n)) != 0) {
		code = ca_refused(cli, c, "ca.list", r);
		goto out;
	}
	/* Every certificate parses before anything is printed: no half a listing. */
	if (n > 0 && (x = calloc(n, sizeof(*x))) == NULL) {
		code = ca_fail(cli, SG_ERR_NOMEM, "%s", sg_strerror(SG_ERR_NOMEM));
		goto out;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < cas[i].n_certs; j++) {
			X509 *y = ca_x509(cas[i].cert[j], cas[i].cert_len[j]);

			if (y == NULL) {
				code = ca_fail(cli, SG_ERR_MALFORMED,
				               "ca.list: certificate %zu of CA %s does not parse",
				               j + 1, cas[i].name);
				goto out;
			}
			if (j == 0)
				x[i] = y;
			else
				X509_free(y);
		}
	}
	if (cli->json) {
		printf("{\"ok\":true,\"cas\":[");
		for (i = 0, r = 0; i < n && r == 0; i++) {
			if (i > 0)
				putchar(',');
			r = ca_list_json(&cas[i], x[i]);
		}
		printf("]}\n");
		if (r != 0) {
			/* Out of memory in the middle: the document is closed, so only stderr. */
			cli_msg(cli, "%s", sg_strerror(r));
			code = ca_exit_code(r);
			goto out;
		}
	} else {
		for (i = 0; i < n; i++) {
			ca_subject(x[i], subject);
			cli_trust_time(X509_get0_notAfter(x[i]), na, sizeof(na));
			printf("%-16s expires %s  profiles=", cas[i].name, na);
			for (j = 0; j < cas[i].n_profiles; j++)
				printf("%s%s", j > 0 ? "," : "", cas[i].profiles[j]);
			printf("%s  %s\n", cas[i].n_profiles == 0 ? "-" : "", subject);
		}
	}
	code = CLI_OK;
out:
	for (i = 0; x != NULL && i < n; i++)
		X509_free(x[i]);
	free(x);
	signet_cas_free(cas, n);
	signet_client_free(c);
	return code;
}

/* ---- dispatch ---- */

static void
ca_help(void)
{
	fputs("usage: signet ca COMMAND [OPTIONS] [ARGS]\n"
	      "\n"
	      "CA delegation: certificates signed by CA keys held in the appliance's HSM.\n"
	      "\n"
	      "Commands:\n"
	      "  issue --profile P --csr REQ   a certificate for a CSR under a profile\n"
	      "  revoke SERIAL --reason R      revoke a certificate the appliance issued\n"
	      "  status SERIAL                 good, revoked or unknown\n"
	      "  crl --ca NAME [-o OUT]        the CA's current CRL (DER, or --pem)\n"
	      "  list                          the CAs and profiles this client may use\n"
	      "\n"
	      "'signet ca COMMAND --help' describes each.  Exit status as for every command;\n"
	      "a refusal by a profile or of a revocation exits 1.  See docs/cli.md.\n",
	      stdout);
}

int
cli_cmd_ca(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name, *full;
		int (*fn)(struct cli *, int, char **);
	} subs[] = {
	    {"issue", "ca issue", ca_issue},
	    {"crl", "ca crl", ca_crl},
	    {"list", "ca list", ca_list},
	};
	const char *sub;
	size_t i;

	if (argc < 2) {
		(void)cli_usage(cli, "no command given (issue, revoke, status, crl or list)");
		return CLI_USAGE;
	}
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		ca_help();
		return CLI_OK;
	}
	if (strcmp(sub, "revoke") == 0 || strcmp(sub, "status") == 0) {
		int revoke = sub[0] == 'r';

		cli->cmd = revoke ? "ca revoke" : "ca status";
		return ca_serial_cmd(cli, argc - 1, argv + 1, revoke);
	}
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(sub, subs[i].name) == 0) {
			cli->cmd = subs[i].full;
			return subs[i].fn(cli, argc - 1, argv + 1);
		}
	}
	return cli_usage(cli, "unknown command '%s' (issue, revoke, status, crl or list)", sub);
}
