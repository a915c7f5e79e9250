/*
 * signet_file: the CLI's one way of reading an artifact (docs/cli.md,
 * "Large files").
 *
 * An artifact is read once, front to back, with read(2) into one large
 * aligned buffer, and fed to OpenSSL digest contexts; memory stays constant
 * whatever the file's size.  What was read must be what is on disk: the
 * file's device, inode, size, mtime and ctime (nanoseconds) are taken with
 * fstat before the first read and again after the last one, the path is
 * stat'ed again to see that it still names the same file, and the number of
 * bytes read must equal the size.  Any difference is SG_ERR_CHANGED, so that
 * no signature is ever made or accepted over a file that changed while it was
 * hashed.
 *
 * While reading, a progress line is drawn on stderr, only when stderr is a
 * terminal, only for reads that last long enough to need one, and erased at
 * the end; nothing at all is written when stderr is not a terminal.
 *
 * This module never maps a file (a file truncated under a mapping raises
 * SIGBUS), never follows a path twice for reading, and never writes to
 * stdout.
 */
#ifndef SIGNET_FILE_H
#define SIGNET_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <openssl/evp.h>

/* Bytes per read(2): large enough that syscalls and digest calls cost nothing. */
#define CLI_FILE_CHUNK (1024 * 1024)

/* A progress line on a terminal; all zero means "not started". */
struct cli_progress {
	int on;    /* stderr is a terminal */
	int drawn; /* a line is on the screen, to be erased */
	char label[64];
	uint64_t total;
	uint64_t start_ns, last_ns;
};

/* An artifact open for one streaming pass. */
struct cli_file {
	const char *path;
	int fd;
	struct stat before;
	uint64_t done; /* bytes read so far */
	struct cli_progress progress;
};

/*
 * Starts a progress line for total bytes labelled label (its base name is
 * shown).  Does nothing visible unless stderr is a terminal.
 */
void cli_progress_start(struct cli_progress *p, const char *label, uint64_t total);

/* Redraws the line for done bytes, at most every 100 ms and not in the first 250 ms. */
void cli_progress_update(struct cli_progress *p, uint64_t done);

/* Erases the line if one was drawn. */
void cli_progress_end(struct cli_progress *p);

/*
 * Opens path (a regular file) for reading and takes its fstat.  Returns 0,
 * SG_ERR_NOT_FOUND, or SG_ERR_IO (unreadable, not a regular file); why
 * (why_len bytes) says which.  Close with cli_file_close, also on failure.
 */
int cli_file_open(struct cli_file *f, const char *path, char *why, size_t why_len);

/*
 * Reads the whole file and feeds every byte to each of the n initialised
 * digest contexts ctx[0..n), drawing progress labelled label (NULL: the
 * path).  Then checks that the file did not change (above).  Returns 0,
 * SG_ERR_IO, SG_ERR_CHANGED (why says what changed), SG_ERR_NOMEM or
 * SG_ERR_INTERNAL.  Callable once per open.
 */
int cli_file_stream(struct cli_file *f, EVP_MD_CTX *const *ctx, size_t n, const char *label,
                    char *why, size_t why_len);

/* Closes the file; safe on a file that failed to open or was never opened. */
void cli_file_close(struct cli_file *f);

/*
 * Open, stream into one digest of md, check, close: digest (EVP_MAX_MD_SIZE
 * bytes) gets *digest_len bytes, *size (may be NULL) the file's size.
 * Errors as above.
 */
int cli_hash_file(const char *path, const EVP_MD *md, unsigned char *digest, size_t *digest_len,
                  uint64_t *size, char *why, size_t why_len);

#endif /* SIGNET_FILE_H */
