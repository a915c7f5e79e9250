/*
 * sg_secret: memory for secrets (PINs, CURVE secret keys).
 *
 * A secret lives in its own anonymous mapping that is locked in RAM (best
 * effort: mlock may be refused by RLIMIT_MEMLOCK), excluded from core dumps
 * (MADV_DONTDUMP) and zeroed before it is unmapped.  Secrets are read from
 * files that only their owner can read, or from an inherited descriptor;
 * never from argv or the environment.  This module never logs a secret's
 * contents.
 */
#ifndef SG_SECRET_H
#define SG_SECRET_H

#include <stddef.h>

struct sg_secret;

/* Allocates an empty secret able to hold cap bytes plus a NUL; NULL on failure. */
struct sg_secret *sg_secret_new(size_t cap);

/* Zeroes and releases s; NULL-safe. */
void sg_secret_free(struct sg_secret *s);

/* The secret's bytes, always NUL-terminated (so PINs can be passed as C strings). */
const char *sg_secret_str(const struct sg_secret *s);
const unsigned char *sg_secret_data(const struct sg_secret *s);
size_t sg_secret_len(const struct sg_secret *s);

/* Replaces the contents with len bytes of data; SG_ERR_LIMIT if over the capacity. */
int sg_secret_set(struct sg_secret *s, const void *data, size_t len);

/*
 * Reads a secret of at most max bytes from path.  The file must be a regular
 * file owned by the effective user with no group or other permission bits
 * (SG_ERR_PERM otherwise).  One trailing "\n" or "\r\n" is removed; an empty
 * secret, a NUL byte or more than max bytes is SG_ERR_CONFIG.  On success
 * *out owns the secret.
 */
int sg_secret_read_file(const char *path, size_t max, struct sg_secret **out);

/* As sg_secret_read_file, from an already open descriptor (read to EOF, not closed). */
int sg_secret_read_fd(int fd, size_t max, struct sg_secret **out);

/* Constant-time comparison: returns 1 if the n bytes at a and b are equal. */
int sg_ct_eq(const void *a, const void *b, size_t n);

/* Zeroes n bytes at p in a way the compiler will not remove. */
void sg_wipe(void *p, size_t n);

/* Sets RLIMIT_CORE to 0 and makes the process non-dumpable; 0 or SG_ERR_INTERNAL. */
int sg_secret_harden_process(void);

#endif /* SG_SECRET_H */
