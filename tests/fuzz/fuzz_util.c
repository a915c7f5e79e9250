/* Helpers shared by the fuzz targets: see fuzz.h. */
#include "fuzz.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

void
sg_fuzz_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
	abort();
}

static int sg_fuzz_fd = -1;
static char sg_fuzz_path[64];

/* Opens the scratch file once: a memfd, else an unlinked-on-exit file in /dev/shm. */
static void
sg_fuzz_file_open(void)
{
	int fd;

	if ((fd = memfd_create("sg-fuzz-input", MFD_CLOEXEC)) != -1) {
		snprintf(sg_fuzz_path, sizeof(sg_fuzz_path), "/proc/self/fd/%d", fd);
		if (access(sg_fuzz_path, R_OK) == 0) {
			sg_fuzz_fd = fd;
			return;
		}
		close(fd);
	}
	snprintf(sg_fuzz_path, sizeof(sg_fuzz_path), "/dev/shm/sg-fuzz-%ld.yaml", (long)getpid());
	if ((fd = open(sg_fuzz_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1)
		sg_fuzz_fail("cannot create a scratch file for the input", __FILE__, __LINE__);
	sg_fuzz_fd = fd;
}

const char *
sg_fuzz_file(const uint8_t *data, size_t size)
{
	size_t off = 0;
	ssize_t n;

	if (sg_fuzz_fd == -1)
		sg_fuzz_file_open();
	SG_FUZZ_CHECK(ftruncate(sg_fuzz_fd, 0) == 0);
	while (off < size) {
		n = pwrite(sg_fuzz_fd, data + off, size - off, (off_t)off);
		SG_FUZZ_CHECK(n > 0);
		off += (size_t)n;
	}
	return sg_fuzz_path;
}
