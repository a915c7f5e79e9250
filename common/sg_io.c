/* sg_io: see sg_io.h. */
#include "sg_io.h"
#include "sg_err.h"

#include <errno.h>
#include <unistd.h>

int
sg_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *b = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return SG_ERR_IO;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}
