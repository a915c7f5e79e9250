/*
 * Replay driver: the main() of a fuzz target built without libFuzzer (gcc,
 * the default build, and the ASan+UBSan build).  Every argument is a file or
 * a directory; each regular file (directories: each regular file directly
 * inside, in name order) is read into a buffer of exactly its size, so that
 * ASan sees any over-read, and passed once to LLVMFuzzerTestOneInput().
 *
 * Exit status: 0 when every input ran (a broken invariant aborts), 1 when an
 * argument cannot be read or no input at all was found: a replay of an empty
 * or missing corpus must not pass silently.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SG_REPLAY_MAX_INPUT (4 * 1024 * 1024)

static int
sg_replay_file(const char *path, size_t *count)
{
	struct stat st;
	unsigned char *buf = NULL;
	FILE *f = NULL;
	size_t n;
	int r = 1;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (st.st_size < 0 || st.st_size > SG_REPLAY_MAX_INPUT) {
		fprintf(stderr, "replay: %s: larger than %d bytes\n", path, SG_REPLAY_MAX_INPUT);
		goto out;
	}
	n = (size_t)st.st_size;
	/* malloc(0) may return NULL: keep one byte, pass size 0. */
	if ((buf = malloc(n > 0 ? n : 1)) == NULL) {
		fprintf(stderr, "replay: %s: out of memory\n", path);
		goto out;
	}
	if (n > 0 && fread(buf, 1, n, f) != n) {
		fprintf(stderr, "replay: %s: short read\n", path);
		goto out;
	}
	LLVMFuzzerTestOneInput(buf, n);
	(*count)++;
	r = 0;
out:
	free(buf);
	if (f != NULL)
		fclose(f);
	return r;
}

static int
sg_replay_regular(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static int
sg_replay_dir(const char *dir, size_t *count)
{
	struct dirent **ents = NULL;
	struct stat st;
	char path[4096];
	int i, n, r = 0;

	if ((n = scandir(dir, &ents, sg_replay_regular, alphasort)) < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (r == 0) {
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name) >=
			    sizeof(path)) {
				fprintf(stderr, "replay: %s/%s: path too long\n", dir,
				        ents[i]->d_name);
				r = 1;
			} else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				r = sg_replay_file(path, count);
			}
		}
		free(ents[i]);
	}
	free(ents);
	return r;
}

int
main(int argc, char **argv)
{
	struct stat st;
	size_t count = 0;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if ((S_ISDIR(st.st_mode) ? sg_replay_dir(argv[i], &count)
		                         : sg_replay_file(argv[i], &count)) != 0)
			return 1;
	}
	if (count == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	printf("replay: %zu inputs, no invariant broken\n", count);
	return 0;
}
