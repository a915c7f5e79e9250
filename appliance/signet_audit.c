/*
 * signet-audit: offline tools for the audit log of signetd.
 *
 * verify DB [--json]: recomputes the hash chain of the database (opened
 * read-only) and names the first record that does not match.  Exit codes:
 * 0 the chain verifies, 1 it does not, 2 usage error or unreadable DB.
 * This program never writes to the database.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sg_audit.h"
#include "sg_json.h"
#include "sg_err.h"

#define EXIT_VERIFIED 0
#define EXIT_MISMATCH 1
#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: signet-audit verify DB [--json]\n"
    "       signet-audit --help | --version\n"
    "\n"
    "verify DB    recompute the hash chain of the audit database DB (opened\n"
    "             read-only): every record's hash, its link to the previous\n"
    "             record, and record numbers contiguous from 1.\n"
    "  --json     print one JSON object instead of a line of text:\n"
    "             {\"result\":\"ok\",\"records\":N}\n"
    "             {\"result\":\"mismatch\",\"first_bad\":N,\"error\":\"...\"}\n"
    "             {\"result\":\"error\",\"error\":\"...\"}\n"
    "\n"
    "Exit status: 0 the chain verifies (the count is printed), 1 it does not\n"
    "(the first record that does not match is named, with the reason), 2 usage\n"
    "error or the database cannot be read (or is not a signet audit log).\n"
    "A valid chain cannot show that records were cut from its end; see\n"
    "docs/audit.md.\n";

static int
cmd_verify(const char *path, int json)
{
	uint64_t count = 0, first_bad = 0;
	char why[512];
	int r;

	r = sg_audit_verify(path, &count, &first_bad, why, sizeof(why));
	switch (r) {
	case 0:
		if (json)
			printf("{\"result\":\"ok\",\"records\":%llu}\n", (unsigned long long)count);
		else
			printf("OK: %llu records verified\n", (unsigned long long)count);
		return EXIT_VERIFIED;
	case SG_ERR_AUDIT_CORRUPT:
		if (json) {
			printf("{\"result\":\"mismatch\",\"first_bad\":%llu,\"error\":",
			       (unsigned long long)first_bad);
			sg_json_str(stdout, why, strlen(why));
			printf("}\n");
		} else {
			printf("FAIL: %s\n", why); /* why names record first_bad */
		}
		return EXIT_MISMATCH;
	default:
		if (json) {
			printf("{\"result\":\"error\",\"error\":");
			sg_json_str(stdout, why, strlen(why));
			printf("}\n");
		} else {
			fprintf(stderr, "signet-audit: %s (%s)\n", why, sg_strerror(r));
		}
		return EXIT_USAGE;
	}
}

int
main(int argc, char **argv)
{
	const char *db = NULL;
	int json = 0, i;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("signet-audit %s\n", SIGNET_VERSION);
		return 0;
	}
	if (argc < 3 || strcmp(argv[1], "verify") != 0)
		goto usage;
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			if (json)
				goto usage;
			json = 1;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "signet-audit: unknown option %s\n", argv[i]);
			goto usage;
		} else if (db == NULL) {
			db = argv[i];
		} else {
			goto usage;
		}
	}
	if (db == NULL)
		goto usage;
	return cmd_verify(db, json);
usage:
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}
