/*
 * signet timestamp: has the appliance's time-stamping authority (RFC 3161)
 * time-stamp a file, whose digest is computed locally (streamed; the file
 * never leaves the machine), or answer a ready TimeStampReq; checks that the
 * answer is for what was asked (cli_tsr_selfcheck) and writes the DER
 * TimeStampResp atomically.
 */
#include "signet_cli.h"
#include "signet_file.h"
#include "signet_pkix.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
timestamp_help(void)
{
	fputs("usage: signet timestamp FILE [-o OUT] [--hash sha256|sha384|sha512]\n"
	      "                        [--job ID] [--force] [--config FILE] [--json] [-v]\n"
	      "       signet timestamp --request REQ.tsq -o OUT [--job ID] [--force]\n"
	      "                        [--config FILE] [--json] [-v]\n"
	      "\n"
	      "Hashes FILE locally and has the appliance's time-stamping authority make an\n"
	      "RFC 3161 time-stamp of the digest; writes the DER TimeStampResp to FILE.tsr.\n"
	      "With --request, sends a ready DER TimeStampReq (as 'openssl ts -query' makes)\n"
	      "and writes the response, granted or not, to OUT.\n"
	      "\n"
	      "  -o, --output OUT   response file (default FILE.tsr; required with --request)\n"
	      "  --request REQ      a DER TimeStampReq to pass through\n"
	      "  --hash ALG         the imprint's hash: sha256 (default), sha384 or sha512\n"
	      "  --job ID           CI job id for the audit log (default: $SIGNET_JOB_ID,\n"
	      "                     then $CI_JOB_ID)\n"
	      "  --force            replace an existing OUT (default: refuse)\n"
	      "  --config FILE      client configuration (default: $SIGNET_CONFIG)\n"
	      "  --json             one JSON document on stdout\n"
	      "  -v, --verbose      more messages on stderr\n",
	      stdout);
}

static void
timestamp_json(const char *file, const char *out, const char *hash, const unsigned char *digest,
               size_t dlen, long status, const struct cli_ts_info *ts, const struct sg_blob_rep *b,
               int ok, int err, const char *msg)
{
	printf("{\"ok\":%s,\"file\":", ok ? "true" : "false");
	if (file != NULL)
		cli_json_str(stdout, file);
	else
		printf("null");
	printf(",\"timestamp_file\":");
	cli_json_str(stdout, out);
	printf(",\"hash\":");
	if (hash != NULL)
		cli_json_str(stdout, hash);
	else
		printf("null");
	printf(",\"digest\":");
	if (dlen > 0)
		cli_json_hex(stdout, digest, dlen);
	else
		printf("null");
	printf(",\"status\":%ld,\"time\":", status);
	if (ts->time[0] != '\0')
		cli_json_str(stdout, ts->time);
	else
		printf("null");
	printf(",\"serial\":");
	if (ts->serial[0] != '\0')
		cli_json_str(stdout, ts->serial);
	else
		printf("null");
	printf(",\"policy\":");
	if (ts->policy[0] != '\0')
		cli_json_str(stdout, ts->policy);
	else
		printf("null");
	printf(",\"receipt\":{\"record\":%llu,\"hash\":", (unsigned long long)b->record);
	cli_json_hex(stdout, b->record_hash, sizeof(b->record_hash));
	printf("},\"replayed\":%s", b->replayed ? "true" : "false");
	if (!ok) {
		putchar(',');
		cli_json_error(stdout, err, msg);
	}
	printf("}\n");
}

int
cli_cmd_timestamp(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"request", required_argument, NULL, CLI_OPT_REQUEST},
	    {"hash", required_argument, NULL, 'H'},
	    {"job", required_argument, NULL, CLI_OPT_JOB},
	    {"force", no_argument, NULL, CLI_OPT_FORCE},
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	const char *file = NULL, *output = NULL, *request = NULL, *hash = NULL, *job = NULL;
	struct signet_client *c = NULL;
	struct sg_ts_req *req = NULL;
	struct sg_blob_rep b;
	struct cli_ts_info ts;
	enum sg_hash h = SG_HASH_SHA256;
	char *out_owned = NULL, why[640];
	uint64_t size = 0;
	long status = -1;
	size_t len;
	int ch, r, force = 0, code = CLI_USAGE, written = 0;

	memset(&b, 0, sizeof(b));
	memset(&ts, 0, sizeof(ts));
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":o:" CLI_COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			output = optarg;
			break;
		case CLI_OPT_REQUEST:
			request = optarg;
			break;
		case 'H':
			hash = optarg;
			break;
		case CLI_OPT_JOB:
			job = optarg;
			break;
		case CLI_OPT_FORCE:
			force = 1;
			break;
		case 'h':
			timestamp_help();
			return CLI_OK;
		default:
			if (cli_common_opt(cli, ch, optarg))
				break;
			return cli_bad_opt(cli, argv);
		}
	}
	if (request != NULL) {
		if (optind != argc)
			return cli_usage(cli, "--request takes no FILE");
		if (output == NULL)
			return cli_usage(cli, "--request needs -o OUT");
		if (hash != NULL)
			return cli_usage(
			    cli, "--hash does not apply to --request (the request names it)");
	} else {
		if (argc - optind != 1)
			return cli_usage(cli, "exactly one FILE is needed (or --request REQ)");
		file = argv[optind];
		if (hash != NULL && sg_hash_parse(hash, &h) != 0)
			return cli_usage(cli, "unknown hash '%s' (sha256, sha384 or sha512)", hash);
	}
	if ((r = cli_job_id(cli, &job)) != 0)
		return r;
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return cli_fail(cli, SG_ERR_NOMEM, "%s", sg_strerror(SG_ERR_NOMEM));
	if (output == NULL) {
		len = strlen(file) + 5;
		if ((out_owned = malloc(len)) == NULL) {
			code = cli_fail(cli, SG_ERR_NOMEM, "%s", sg_strerror(SG_ERR_NOMEM));
			goto out;
		}
		snprintf(out_owned, len, "%s.tsr", file);
		output = out_owned;
	}
	/* Refuse early, before the appliance time-stamps (and audits) for nothing. */
	if (!force && access(output, F_OK) == 0) {
		code = cli_fail(cli, SG_ERR_IO, "%s exists (use --force to replace it)", output);
		goto out;
	}
	if (request != NULL) {
		if ((r = cli_read_small(request, req->tsq, sizeof(req->tsq), &req->tsq_len)) != 0) {
			code =
			    cli_fail(cli, r, "%s: %s", request,
			             r == SG_ERR_LIMIT ? "larger than a time-stamp request can be"
			                               : sg_strerror(r));
			goto out;
		}
	} else {
		if ((r = cli_hash_file(file, sg_hash_md(h), req->digest, &req->digest_len, &size,
		                       why, sizeof(why))) != 0) {
			code = cli_fail(cli, r, "%s: %s", file, why);
			goto out;
		}
		req->hash = h;
		cli_artifact_name(file, req->meta.artifact, SG_META_ARTIFACT_MAX);
		req->meta.has_size = 1;
		req->meta.size = size;
	}
	if (job != NULL)
		snprintf(req->meta.job, sizeof(req->meta.job), "%s", job);

	if ((r = cli_connect(cli, &c, &code)) != 0)
		goto out;
	if ((r = signet_timestamp(c, req, &b)) != 0) {
		code =
		    cli_fail(cli, r, "timestamp: %s: %s", sg_strerror(r), signet_client_errmsg(c));
		goto out;
	}
	r = cli_tsr_selfcheck(b.data, b.len, request == NULL ? req->digest : NULL, req->digest_len,
	                      request != NULL ? req->tsq : NULL, req->tsq_len, &ts, &status, why,
	                      sizeof(why));
	/*
	 * A rejection is written only when a ready request was passed through:
	 * its sender wants the TSA's answer, whatever it is.
	 */
	if (r == 0 || (r == SG_ERR_DENIED && request != NULL)) {
		char wwhy[512];
		int w;

		if ((w = cli_write_atomic(output, b.data, b.len, force, wwhy, sizeof(wwhy))) != 0) {
			code =
			    cli_fail(cli, w, "time-stamped (audit record %llu) but not saved: %s",
			             (unsigned long long)b.record, wwhy);
			goto out;
		}
		written = 1;
	}
	if (r != 0) {
		if (r == SG_ERR_DENIED && written)
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
			         "; the response is in %s", output);
		cli_msg(cli, "%s: %s", file != NULL ? file : request, why);
		if (cli->json)
			timestamp_json(file, output, request == NULL ? sg_hash_name(h) : NULL,
			               req->digest, req->digest_len, status, &ts, &b, 0, r, why);
		code = cli_exit_code(r);
		goto out;
	}
	if (cli->json)
		timestamp_json(file, output, request == NULL ? sg_hash_name(h) : ts.hash,
		               req->digest, req->digest_len, status, &ts, &b, 1, 0, NULL);
	if (!cli->json || cli->verbose)
		cli_msg(cli, "%s: time-stamped at %s (serial %s), audit record %llu%s -> %s",
		        file != NULL ? file : request, ts.time, ts.serial,
		        (unsigned long long)b.record, b.replayed ? " (replayed)" : "", output);
	code = CLI_OK;
out:
	free(b.data);
	free(out_owned);
	free(req);
	signet_client_free(c);
	return code;
}
