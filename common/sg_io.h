/*
 * sg_io: small I/O helpers shared by the programs (tools, CLI, daemon).
 */
#ifndef SG_IO_H
#define SG_IO_H

#include <stddef.h>

/*
 * Writes all len bytes of buf to fd, retrying short writes and EINTR.
 * Returns 0, or SG_ERR_IO with errno set (EIO if write(2) returned 0).
 */
int sg_write_all(int fd, const void *buf, size_t len);

#endif /* SG_IO_H */
