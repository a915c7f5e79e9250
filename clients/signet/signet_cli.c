/*
 * signet: the command-line client of a Signet appliance (docs/cli.md).
 * This file: the command dispatcher, exit codes, configuration, JSON output
 * and atomic file writes shared by the commands.
 */
#include "signet_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sg_io.h"
#include "sg_json.h"
#include "sg_log.h"
#include "sg_secret.h"

int
cli_exit_code(int err)
{
	switch (err) {
	case SG_OK:
		return CLI_OK;
	case SG_ERR_BAD_SIGNATURE:
	case SG_ERR_DENIED:
	case SG_ERR_UNKNOWN_KEY:
		return CLI_BAD;
	case SG_ERR_TIMEOUT:
	case SG_ERR_UNAVAILABLE:
	case SG_ERR_BUSY:
	case SG_ERR_SHUTTING_DOWN:
		return CLI_UNAVAILABLE;
	case SG_ERR_INTERNAL:
	case SG_ERR_HSM:
	case SG_ERR_HSM_UNAVAILABLE:
	case SG_ERR_SELF_VERIFY:
	case SG_ERR_MODULE_NOT_ALLOWED:
	case SG_ERR_LOGIN:
	case SG_ERR_AUDIT_UNAVAILABLE:
	case SG_ERR_AUDIT_CORRUPT:
	case SG_ERR_POLICY:
	/* The appliance refused or sent something we cannot read: not the user's doing. */
	case SG_ERR_MALFORMED:
	case SG_ERR_TOO_LARGE:
	case SG_ERR_VERSION:
	case SG_ERR_UNKNOWN_OP:
	case SG_ERR_MISSING_FIELD:
	case SG_ERR_UNKNOWN_FIELD:
	case SG_ERR_BAD_TYPE:
	case SG_ERR_DUPLICATE_FIELD:
	case SG_ERR_BAD_VALUE:
	case SG_ERR_IDEM_CONFLICT:
		return CLI_APPLIANCE;
	default:
		/* Local failures: arguments, files, configuration, memory. */
		return CLI_USAGE;
	}
}

void
cli_msg(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s%s%s: ", cli->prog, cli->cmd != NULL ? " " : "",
	        cli->cmd != NULL ? cli->cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_fail(const struct cli *cli, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_msg(cli, "%s", msg);
	if (cli->json) {
		fputs("{\"ok\":false,", stdout);
		cli_json_error(stdout, err, msg);
		fputs("}\n", stdout);
	}
	return cli_exit_code(err);
}

int
cli_usage(const struct cli *cli, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)cli_fail(cli, SG_ERR_INVALID_ARG, "%s (see '%s%s%s --help')", msg, cli->prog,
	               cli->cmd != NULL ? " " : "", cli->cmd != NULL ? cli->cmd : "");
	return CLI_USAGE;
}

int
cli_bad_opt(const struct cli *cli, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";

	if (optopt != 0 && optopt < 0x100 && strchr(arg, optopt) != NULL && arg[1] != '-')
		return cli_usage(cli, "bad option or missing argument: -%c", optopt);
	return cli_usage(cli, "bad option or missing argument: %s", arg);
}

int
cli_common_opt(struct cli *cli, int c, const char *arg)
{
	switch (c) {
	case CLI_OPT_CONFIG:
		cli->config = arg;
		return 1;
	case CLI_OPT_JSON:
		cli->json = 1;
		return 1;
	case 'v':
		cli->verbose++;
		sg_log_init("signet", cli->verbose > 1 ? SG_LOG_DEBUG : SG_LOG_INFO, 0);
		return 1;
	default:
		return 0;
	}
}

int
cli_connect(const struct cli *cli, struct signet_client **out, int *code)
{
	const char *path = cli->config;
	char why[512];
	int err = 0;

	*out = NULL;
	if (path == NULL || path[0] == '\0')
		path = getenv("SIGNET_CONFIG");
	if (path == NULL || path[0] == '\0') {
		*code = cli_fail(cli, SG_ERR_CONFIG,
		                 "no configuration: use --config FILE or set SIGNET_CONFIG");
		return SG_ERR_CONFIG;
	}
	if ((*out = signet_client_open(path, NULL, &err, why, sizeof(why))) == NULL) {
		if (err == 0)
			err = SG_ERR_CONFIG;
		*code = cli_fail(cli, err, "%s: %s", path, why[0] != '\0' ? why : sg_strerror(err));
		return err;
	}
	return 0;
}

int
cli_find_key(const struct cli *cli, struct signet_client *c, const char *name,
             struct sg_key_info *out, int *code)
{
	struct sg_key_info *keys = NULL;
	const struct sg_key_info *k;
	size_t n = 0;
	int r;

	if ((r = signet_keys_list(c, &keys, &n)) != 0) {
		*code =
		    cli_fail(cli, r, "keys.list: %s: %s", sg_strerror(r), signet_client_errmsg(c));
		goto out;
	}
	if ((k = signet_keys_find(keys, n, name)) == NULL) {
		r = SG_ERR_UNKNOWN_KEY;
		*code =
		    cli_fail(cli, r,
		             "key '%s' is not available to this client (denied by policy, or no "
		             "such key)",
		             name);
		goto out;
	}
	*out = *k;
	/* The copy outlives keys: it keeps no pointer into them. */
	out->n_certs = 0;
	out->certs_buf = NULL;
	memset(out->cert, 0, sizeof(out->cert));
	r = 0;
out:
	signet_keys_free(keys, n);
	return r;
}

void
cli_json_str(FILE *f, const char *s)
{
	sg_json_str(f, s, strlen(s));
}

void
cli_json_hex(FILE *f, const unsigned char *p, size_t n)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fputc('"', f);
}

int
cli_json_b64(FILE *f, const unsigned char *p, size_t n)
{
	unsigned char *b;

	if ((b = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		return SG_ERR_NOMEM;
	EVP_EncodeBlock(b, p, (int)n);
	fprintf(f, "\"%s\"", (const char *)b);
	free(b);
	return 0;
}

void
cli_json_error(FILE *f, int err, const char *msg)
{
	fprintf(f, "\"error\":{\"code\":%d,\"name\":", -err);
	cli_json_str(f, sg_err_name(err));
	fputs(",\"message\":", f);
	cli_json_str(f, msg);
	fputc('}', f);
}

int
cli_write_atomic(const char *path, const void *data, size_t len, int force, char *why,
                 size_t why_len)
{
	char *tmp = NULL, *dcopy = NULL;
	int fd = -1, dfd = -1, r, e;

	if ((tmp = malloc(strlen(path) + 16)) == NULL || (dcopy = strdup(path)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	/* Same directory, so that the rename or link cannot cross a file system. */
	snprintf(tmp, strlen(path) + 16, "%s.tmp.XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0) {
		snprintf(why, why_len, "cannot create a temporary file next to %s: %s", path,
		         strerror(errno));
		free(tmp);
		tmp = NULL;
		r = SG_ERR_IO;
		goto out;
	}
	if ((r = sg_write_all(fd, data, len)) != 0) {
		snprintf(why, why_len, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
		snprintf(why, why_len, "cannot write %s: %s", tmp, strerror(errno));
		r = SG_ERR_IO;
		goto out;
	}
	close(fd);
	fd = -1;
	if (force ? rename(tmp, path) != 0 : link(tmp, path) != 0) {
		e = errno;
		if (e == EEXIST)
			snprintf(why, why_len, "%s exists (use --force to replace it)", path);
		else
			snprintf(why, why_len, "cannot create %s: %s", path, strerror(e));
		errno = e;
		r = SG_ERR_IO;
		goto out;
	}
	if (!force)
		(void)unlink(tmp);
	free(tmp);
	tmp = NULL;
	/* Make the new name durable too. */
	if ((dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		(void)fsync(dfd);
	r = 0;
out:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (tmp != NULL)
		(void)unlink(tmp);
	free(tmp);
	free(dcopy);
	errno = e;
	return r;
}

int
cli_read_small(const char *path, unsigned char *buf, size_t max, size_t *len)
{
	struct stat st;
	size_t off = 0;
	ssize_t n;
	int fd = -1, r;

	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		r = errno == ENOENT ? SG_ERR_NOT_FOUND : SG_ERR_IO;
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = SG_ERR_IO;
		goto out;
	}
	for (;;) {
		if (off == max) {
			/* One more byte tells "exactly max" from "longer". */
			unsigned char extra;

			n = read(fd, &extra, 1);
			r = n == 0 ? 0 : SG_ERR_LIMIT;
			if (r != 0)
				goto out;
			break;
		}
		n = read(fd, buf + off, max - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = SG_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	*len = off;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

void
cli_artifact_name(const char *path, char *out, size_t max)
{
	const char *base = strrchr(path, '/');
	size_t i;

	base = base != NULL && base[1] != '\0' ? base + 1 : path;
	snprintf(out, max + 1, "%s", base);
	if (!sg_wire_utf8_valid((const unsigned char *)out, strlen(out))) {
		for (i = 0; out[i] != '\0'; i++) {
			if ((unsigned char)out[i] >= 0x80)
				out[i] = '?';
		}
	}
}

int
cli_job_id(const struct cli *cli, const char **job)
{
	const char *j = *job;

	if (j == NULL)
		j = getenv("SIGNET_JOB_ID");
	if (j == NULL || j[0] == '\0')
		j = getenv("CI_JOB_ID");
	if (j != NULL && j[0] == '\0')
		j = NULL;
	if (j != NULL && (strlen(j) > SG_META_JOB_MAX ||
	                  !sg_wire_utf8_valid((const unsigned char *)j, strlen(j))))
		return cli_usage(cli, "the job id must be UTF-8 of at most %d bytes",
		                 SG_META_JOB_MAX);
	*job = j;
	return 0;
}

static void
cli_help(FILE *f)
{
	fputs("usage: signet COMMAND [OPTIONS] [ARGS]\n"
	      "\n"
	      "Commands:\n"
	      "  sign FILE... --key NAME   have the appliance sign files (FILE.sig, or FILE.p7s\n"
	      "                            with --format cms)\n"
	      "  verify FILE --sig SIG     verify a raw, CMS or time-stamp signature locally\n"
	      "  timestamp FILE            have the appliance's TSA time-stamp a file (FILE.tsr)\n"
	      "  bundle export DIR         write a verification bundle for offline verify\n"
	      "  ca issue|revoke|status|crl|list\n"
	      "                            CA delegation: certificates for CSRs under the\n"
	      "                            appliance's profiles, revocation, CRLs\n"
	      "  keys                      list the keys this client may use\n"
	      "  pubkey --key NAME         print a key's public key (PEM)\n"
	      "  ping                      check that the appliance answers\n"
	      "\n"
	      "Options of every command:\n"
	      "  --config FILE   client configuration (default: $SIGNET_CONFIG)\n"
	      "  --json          one JSON document on stdout; messages on stderr\n"
	      "  -v, --verbose   log the client's connection events (twice: debug)\n"
	      "  -h, --help      help of the command\n"
	      "\n"
	      "Exit status: 0 ok; 1 bad signature or denied by policy; 2 usage or local error;\n"
	      "3 appliance unavailable or timeout; 4 appliance-side failure.  See docs/cli.md.\n",
	      f);
}

int
main(int argc, char **argv)
{
	struct cli cli;
	const char *cmd;
	int i;

	memset(&cli, 0, sizeof(cli));
	cli.prog = "signet";
	sg_log_init("signet", SG_LOG_WARN, 0);
	/* Usage errors found before a command parses its options still honour --json. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			cli.json = 1;
		if (strcmp(argv[i], "--") == 0)
			break;
	}
	/* Options of every command may also come before the command. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			cli.json = 1;
		} else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			(void)cli_common_opt(&cli, 'v', NULL);
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			cli.config = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			cli.config = argv[i] + 9;
		} else {
			break;
		}
	}
	if (i >= argc)
		return cli_usage(&cli, "no command given");
	argc -= i - 1;
	argv += i - 1;
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		cli_help(stdout);
		return CLI_OK;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("signet %s\n", SIGNET_VERSION);
		return CLI_OK;
	}
	cli.cmd = cmd;
	if (strcmp(cmd, "sign") == 0)
		return cli_cmd_sign(&cli, argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return cli_cmd_verify(&cli, argc - 1, argv + 1);
	if (strcmp(cmd, "keys") == 0)
		return cli_cmd_keys(&cli, argc - 1, argv + 1);
	if (strcmp(cmd, "pubkey") == 0)
		return cli_cmd_pubkey(&cli, argc - 1, argv + 1);
	if (strcmp(cmd, "ping") == 0)
		return cli_cmd_ping(&cli, argc - 1, argv + 1);
	if (strcmp(cmd, "timestamp") == 0)
		return cli_cmd_timestamp(&cli, argc - 1, argv + 1);
	if (strcmp(cmd, "bundle") == 0)
		return cli_cmd_bundle(&cli, argc - 1, argv + 1);
	if (strcmp(cmd, "ca") == 0)
		return cli_cmd_ca(&cli, argc - 1, argv + 1);
	cli.cmd = NULL;
	return cli_usage(&cli, "unknown command '%s'", cmd);
}
