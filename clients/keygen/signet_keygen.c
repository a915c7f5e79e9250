/*
 * signet-keygen: CURVE key pairs for signetd and its clients.
 *
 *   signet-keygen -o FILE       new key pair: the Z85 secret key (40 characters
 *                               and a newline) goes to FILE, created mode 0600
 *                               and never overwritten; the Z85 public key goes
 *                               to FILE.pub (0644) and to stdout.
 *   signet-keygen --public FILE prints the public key of the secret key in FILE
 *                               (which must be a 0600 file owned by the user).
 *
 * The secret key never reaches stdout, stderr or argv; its copies in memory
 * are wiped, and the process is made non-dumpable first.
 *
 * Exit status: 0 success, 1 operation failed, 2 usage error.
 */
#include "sg_err.h"
#include "sg_io.h"
#include "sg_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#define PROG "signet-keygen"
#define Z85_KEY_LEN 40 /* a 32-byte CURVE key in Z85 */

enum tool_exit {
	TOOL_EXIT_OK = 0,
	TOOL_EXIT_FAIL = 1,
	TOOL_EXIT_USAGE = 2,
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: " PROG " -o FILE\n"
	           "       " PROG " --public FILE\n"
	           "\n"
	           "  -o, --output FILE  generate a CURVE key pair: write the Z85 secret key to\n"
	           "                     FILE (created with mode 0600; an existing FILE or\n"
	           "                     FILE.pub is never overwritten), the Z85 public key to\n"
	           "                     FILE.pub (mode 0644), and print the public key\n"
	           "  --public FILE      print the public key of the secret key in FILE, which\n"
	           "                     must be a regular file owned by you with mode 0600\n"
	           "  -h, --help         show this help\n"
	           "\n"
	           "Exit status: 0 success, 1 operation failed, 2 usage error.\n");
}

/*
 * Creates path (O_EXCL: an existing file or symlink is an error) with mode,
 * writes len bytes of data, fsyncs and closes it.  On failure after the
 * creation the file is removed.  *created tells whether path was created.
 */
static int
write_new_file(const char *path, mode_t mode, const void *data, size_t len, int *created)
{
	int fd = -1, r = SG_ERR_IO;

	*created = 0;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)) < 0) {
		fprintf(stderr, PROG ": cannot create %s: %s%s\n", path, strerror(errno),
		        errno == EEXIST ? " (refusing to overwrite)" : "");
		goto out;
	}
	*created = 1;
	/* The umask may only have narrowed a public file; it is meant to be readable. */
	if ((mode & 044) != 0 && fchmod(fd, mode) != 0) {
		fprintf(stderr, PROG ": cannot chmod %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (sg_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(errno));
		goto out;
	}
	r = close(fd) == 0 ? 0 : SG_ERR_IO;
	fd = -1;
	if (r != 0)
		fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (r != 0 && *created) {
		(void)unlink(path);
		*created = 0;
	}
	return r;
}

/* fsyncs the directory that holds path, so that new names in it are durable. */
static int
sync_parent(const char *path)
{
	char *copy = NULL;
	int fd = -1, r = SG_ERR_IO;

	if ((copy = strdup(path)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fsync(fd) != 0) {
		fprintf(stderr, PROG ": cannot sync the directory of %s: %s\n", path,
		        strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

static int
cmd_generate(const char *path)
{
	struct sg_secret *secret = NULL;
	char public[Z85_KEY_LEN + 2], *pub_path = NULL;
	size_t n;
	int made_secret = 0, made_public = 0, r = SG_ERR_INTERNAL;

	if (!zmq_has("curve")) {
		fprintf(stderr, PROG ": this libzmq was built without CURVE support\n");
		goto out;
	}
	n = strlen(path) + sizeof(".pub");
	if ((pub_path = malloc(n)) == NULL || (secret = sg_secret_new(Z85_KEY_LEN + 1)) == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		r = SG_ERR_NOMEM;
		goto out;
	}
	snprintf(pub_path, n, "%s.pub", path);
	/* zmq_curve_keypair writes the secret straight into locked, non-dumped memory. */
	if (zmq_curve_keypair(public, (char *)sg_secret_data(secret)) != 0) {
		fprintf(stderr, PROG ": zmq_curve_keypair failed: %s\n", zmq_strerror(errno));
		goto out;
	}
	memcpy((char *)sg_secret_data(secret) + Z85_KEY_LEN, "\n", 2);
	memcpy(public + Z85_KEY_LEN, "\n", 2);
	if ((r = write_new_file(path, 0600, sg_secret_data(secret), Z85_KEY_LEN + 1,
	                        &made_secret)) != 0 ||
	    (r = write_new_file(pub_path, 0644, public, Z85_KEY_LEN + 1, &made_public)) != 0 ||
	    (r = sync_parent(path)) != 0)
		goto out;
	if (fputs(public, stdout) == EOF || fflush(stdout) != 0) {
		fprintf(stderr, PROG ": cannot write to stdout\n");
		r = SG_ERR_IO;
		goto out;
	}
	r = 0;
out:
	/* Leave no half of a pair behind. */
	if (r != 0 && made_public)
		(void)unlink(pub_path);
	if (r != 0 && made_secret)
		(void)unlink(path);
	sg_secret_free(secret);
	free(pub_path);
	return r;
}

static int
cmd_public(const char *path)
{
	struct sg_secret *secret = NULL;
	char public[Z85_KEY_LEN + 1];
	int r;

	if ((r = sg_secret_read_file(path, Z85_KEY_LEN, &secret)) != 0) {
		switch (r) {
		case SG_ERR_PERM:
			fprintf(stderr,
			        PROG ": %s: refused: must be a regular file owned by you with "
			             "mode 0600 (no group or other permissions)\n",
			        path);
			break;
		case SG_ERR_NOT_FOUND:
			fprintf(stderr, PROG ": %s: no such file\n", path);
			break;
		case SG_ERR_CONFIG:
			fprintf(stderr, PROG ": %s: not a Z85 CURVE secret key (%d characters)\n",
			        path, Z85_KEY_LEN);
			break;
		default:
			fprintf(stderr, PROG ": %s: %s\n", path, sg_strerror(r));
			break;
		}
		goto out;
	}
	if (sg_secret_len(secret) != Z85_KEY_LEN ||
	    zmq_curve_public(public, sg_secret_str(secret)) != 0) {
		fprintf(stderr, PROG ": %s: not a Z85 CURVE secret key (%d characters)\n", path,
		        Z85_KEY_LEN);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (printf("%s\n", public) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, PROG ": cannot write to stdout\n");
		r = SG_ERR_IO;
		goto out;
	}
	r = 0;
out:
	sg_secret_free(secret);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"public", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL, *pub = NULL;
	int ch;

	if (sg_secret_harden_process() != 0) {
		fprintf(stderr, PROG ": cannot disable core dumps\n");
		return TOOL_EXIT_FAIL;
	}
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			out = optarg;
			break;
		case 'p':
			pub = optarg;
			break;
		case 'h':
			usage(stdout);
			return TOOL_EXIT_OK;
		case ':':
			fprintf(stderr, PROG ": option %s needs a value\n", argv[optind - 1]);
			usage(stderr);
			return TOOL_EXIT_USAGE;
		case '?':
		default:
			fprintf(stderr, PROG ": unknown option %s\n", argv[optind - 1]);
			usage(stderr);
			return TOOL_EXIT_USAGE;
		}
	}
	if (optind < argc || (out == NULL) == (pub == NULL)) {
		fprintf(stderr, PROG ": give either -o FILE or --public FILE\n");
		usage(stderr);
		return TOOL_EXIT_USAGE;
	}
	if (out != NULL && out[0] == '\0') {
		fprintf(stderr, PROG ": -o needs a file name\n");
		return TOOL_EXIT_USAGE;
	}
	if ((out != NULL ? cmd_generate(out) : cmd_public(pub)) != 0)
		return TOOL_EXIT_FAIL;
	return TOOL_EXIT_OK;
}
