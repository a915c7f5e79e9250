/*
 * signet_cli: what the files of the signet CLI share (see docs/cli.md).
 *
 * The CLI never takes a secret on its command line or from the
 * environment: the client's CURVE secret key is named by the configuration
 * file and read by libsignet.  With --json exactly one JSON document goes to
 * stdout; every human message goes to stderr.
 */
#ifndef SIGNET_CLI_H
#define SIGNET_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "signet.h"

/* Exit codes (docs/cli.md). */
#define CLI_OK 0
#define CLI_BAD 1         /* bad signature, or denied by policy */
#define CLI_USAGE 2       /* usage error or local fatal error */
#define CLI_UNAVAILABLE 3 /* appliance unavailable or timeout */
#define CLI_APPLIANCE 4   /* appliance-side failure */

/* getopt_long values of the long options without a short form. */
enum {
	CLI_OPT_CONFIG = 0x100,
	CLI_OPT_JSON,
	CLI_OPT_FORCE,
	CLI_OPT_JOB,
	CLI_OPT_DEPTH,
	CLI_OPT_SIG,
	CLI_OPT_PUBKEY,
	CLI_OPT_FORMAT,
	CLI_OPT_CA,
	CLI_OPT_UNTRUSTED,
	CLI_OPT_CRL,
	CLI_OPT_BUNDLE,
	CLI_OPT_TIMESTAMP,
	CLI_OPT_REQUEST,
	CLI_OPT_CRL_OUT,
};

/* The long options every command accepts (getopt_long table entries). */
#define CLI_COMMON_LONGOPTS                                                                        \
	{"config", required_argument, NULL, CLI_OPT_CONFIG},                                       \
	    {"json", no_argument, NULL, CLI_OPT_JSON}, {"verbose", no_argument, NULL, 'v'},        \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}
#define CLI_COMMON_SHORTOPTS "vh"

/* Options every command accepts. */
struct cli {
	const char *prog;   /* "signet" */
	const char *cmd;    /* the command's name */
	const char *config; /* --config, else $SIGNET_CONFIG */
	int json;
	int verbose;
};

/* The exit code for an error code (0 for 0). */
int cli_exit_code(int err);

/* Prints "signet CMD: message" to stderr. */
void cli_msg(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Reports a failure of the whole command: the message to stderr and, with
 * --json, {"ok":false,"error":{...}} to stdout.  Returns the exit code.
 */
int cli_fail(const struct cli *cli, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A usage error: the message and a pointer to --help; returns CLI_USAGE. */
int cli_usage(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Handles an option that every command shares (--config, --json,
 * --verbose) given as getopt_long's val c; returns 1 if it was one.
 */
int cli_common_opt(struct cli *cli, int c, const char *arg);

/* Reports an option getopt_long refused (c is '?' or ':'); returns CLI_USAGE. */
int cli_bad_opt(const struct cli *cli, char **argv);

/*
 * Connects to the appliance named by the configuration (--config or
 * $SIGNET_CONFIG).  Returns 0 or an error already reported (with *code the
 * exit code).
 */
int cli_connect(const struct cli *cli, struct signet_client **out, int *code);

/* Fetches keys.list and finds key name; errors are reported (exit code in *code). */
int cli_find_key(const struct cli *cli, struct signet_client *c, const char *name,
                 struct sg_key_info *out, int *code);

/* JSON output: a string (escaped; bytes that are not UTF-8 become \u00XX), hex, base64. */
void cli_json_str(FILE *f, const char *s);
void cli_json_hex(FILE *f, const unsigned char *p, size_t n);
int cli_json_b64(FILE *f, const unsigned char *p, size_t n);
/* "error":{"code":N,"name":"...","message":"..."} with N = -err, as on the wire. */
void cli_json_error(FILE *f, int err, const char *msg);

/*
 * Writes len bytes to path atomically: a temporary file in the same
 * directory, fsync, then rename (force) or link (no overwrite: an existing
 * path is SG_ERR_IO with errno EEXIST), then fsync of the directory.  The
 * file gets mode 0644.  why (why_len) explains a failure.
 */
int cli_write_atomic(const char *path, const void *data, size_t len, int force, char *why,
                     size_t why_len);

/* Reads at most max bytes of path into buf; SG_ERR_LIMIT if it is longer. */
int cli_read_small(const char *path, unsigned char *buf, size_t max, size_t *len);

/* The artifact name sent to the audit log: path's base name, as valid UTF-8 (max bytes). */
void cli_artifact_name(const char *path, char *out, size_t max);

/*
 * The CI job id for the audit log: *job (--job) if given, else
 * $SIGNET_JOB_ID, else $CI_JOB_ID, else NULL.  Returns 0, or the exit code
 * of a usage error (not UTF-8, too long), already reported.
 */
int cli_job_id(const struct cli *cli, const char **job);

/* The commands: argc/argv start at the command's name. */
int cli_cmd_sign(struct cli *cli, int argc, char **argv);
int cli_cmd_verify(struct cli *cli, int argc, char **argv);
int cli_cmd_keys(struct cli *cli, int argc, char **argv);
int cli_cmd_pubkey(struct cli *cli, int argc, char **argv);
int cli_cmd_ping(struct cli *cli, int argc, char **argv);
int cli_cmd_timestamp(struct cli *cli, int argc, char **argv);
int cli_cmd_bundle(struct cli *cli, int argc, char **argv);
int cli_cmd_ca(struct cli *cli, int argc, char **argv); /* signet_ca.c */

#endif /* SIGNET_CLI_H */
