/*
 * signet_file: streaming reads of artifacts that notice a file changing
 * under them, with a progress line on terminals (see signet_file.h).
 */
#include "signet_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "sg_err.h"

#define NS_PER_MS 1000000ull
#define PROGRESS_DELAY_NS (250 * NS_PER_MS)  /* short reads never draw a line */
#define PROGRESS_PERIOD_NS (100 * NS_PER_MS) /* redraws at most 10 times a second */
#define PROGRESS_BAR 24

static uint64_t
file_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void
cli_progress_start(struct cli_progress *p, const char *label, uint64_t total)
{
	const char *base = strrchr(label, '/');

	memset(p, 0, sizeof(*p));
	p->on = isatty(STDERR_FILENO);
	if (!p->on)
		return;
	base = base != NULL && base[1] != '\0' ? base + 1 : label;
	snprintf(p->label, sizeof(p->label), "%s", base);
	p->total = total;
	p->start_ns = file_now_ns();
}

void
cli_progress_update(struct cli_progress *p, uint64_t done)
{
	char bar[PROGRESS_BAR + 1];
	struct winsize ws;
	uint64_t now, el;
	double pct, rate;
	size_t i, fill;
	int width = 80, labw;

	if (!p->on)
		return;
	now = file_now_ns();
	el = now - p->start_ns;
	if (el < PROGRESS_DELAY_NS || (p->drawn && now - p->last_ns < PROGRESS_PERIOD_NS))
		return;
	p->last_ns = now;
	pct = p->total > 0 ? 100.0 * (double)done / (double)p->total : 100.0;
	if (pct > 100.0)
		pct = 100.0;
	fill = (size_t)(pct * PROGRESS_BAR / 100.0);
	for (i = 0; i < PROGRESS_BAR; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[PROGRESS_BAR] = '\0';
	rate = (double)done / ((double)el / 1e9) / (1024.0 * 1024.0);
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		width = ws.ws_col;
	/* The numbers take about 60 columns; the name gets what is left (at least 8). */
	labw = width - 62;
	if (labw < 8)
		labw = 8;
	fprintf(stderr, "\r%-*.*s %3.0f%% [%s] %8.1f/%.1f MiB %7.1f MiB/s\033[K", labw, labw,
	        p->label, pct, bar, (double)done / (1024.0 * 1024.0),
	        (double)p->total / (1024.0 * 1024.0), rate);
	fflush(stderr);
	p->drawn = 1;
}

void
cli_progress_end(struct cli_progress *p)
{
	if (p->on && p->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	p->drawn = 0;
}

int
cli_file_open(struct cli_file *f, const char *path, char *why, size_t why_len)
{
	int r, e;

	memset(f, 0, sizeof(*f));
	f->path = path;
	f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (f->fd < 0) {
		e = errno;
		r = (e == ENOENT || e == ENOTDIR) ? SG_ERR_NOT_FOUND : SG_ERR_IO;
		snprintf(why, why_len, "%s", strerror(e));
		goto out;
	}
	if (fstat(f->fd, &f->before) != 0) {
		snprintf(why, why_len, "%s", strerror(errno));
		r = SG_ERR_IO;
		goto out;
	}
	if (!S_ISREG(f->before.st_mode)) {
		snprintf(why, why_len, "not a regular file");
		r = SG_ERR_IO;
		goto out;
	}
	/* Doubles the kernel's read-ahead for this file. */
	(void)posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r = 0;
out:
	return r;
}

/* 1 if a and b describe the same file with the same contents' metadata. */
static int
file_stat_same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * What was read must be the file as it was before and after, and the path
 * must still name it (not a file renamed over it meanwhile).  Linux's
 * fine-grained timestamps make a write after our first fstat change ctime
 * even within one clock tick.
 */
static int
file_check(struct cli_file *f, char *why, size_t why_len)
{
	struct stat after, now;

	if (fstat(f->fd, &after) != 0) {
		snprintf(why, why_len, "cannot stat it after reading: %s", strerror(errno));
		return SG_ERR_CHANGED;
	}
	if (after.st_size != f->before.st_size) {
		snprintf(why, why_len,
		         "its size changed from %lld to %lld bytes while it was being read",
		         (long long)f->before.st_size, (long long)after.st_size);
		return SG_ERR_CHANGED;
	}
	if (f->done != (uint64_t)f->before.st_size) {
		snprintf(why, why_len, "%llu bytes were read, but it has %lld",
		         (unsigned long long)f->done, (long long)f->before.st_size);
		return SG_ERR_CHANGED;
	}
	if (!file_stat_same(&f->before, &after)) {
		snprintf(why, why_len,
		         "it was modified while it was being read (modification or change time "
		         "moved)");
		return SG_ERR_CHANGED;
	}
	if (stat(f->path, &now) != 0) {
		snprintf(why, why_len, "it was removed or renamed while it was being read");
		return SG_ERR_CHANGED;
	}
	if (!file_stat_same(&after, &now)) {
		snprintf(why, why_len,
		         "the path names another file now (replaced while it was "
		         "being read)");
		return SG_ERR_CHANGED;
	}
	return 0;
}

int
cli_file_stream(struct cli_file *f, EVP_MD_CTX *const *ctx, size_t n, const char *label, char *why,
                size_t why_len)
{
	unsigned char *buf = NULL;
	size_t i;
	ssize_t got;
	int r;

	if (posix_memalign((void **)&buf, 4096, CLI_FILE_CHUNK) != 0) {
		buf = NULL;
		snprintf(why, why_len, "out of memory");
		r = SG_ERR_NOMEM;
		goto out;
	}
	cli_progress_start(&f->progress, label != NULL ? label : f->path,
	                   (uint64_t)f->before.st_size);
	for (;;) {
		got = read(f->fd, buf, CLI_FILE_CHUNK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(why, why_len, "read: %s", strerror(errno));
			r = SG_ERR_IO;
			goto out;
		}
		if (got == 0)
			break;
		for (i = 0; i < n; i++) {
			if (EVP_DigestUpdate(ctx[i], buf, (size_t)got) != 1) {
				snprintf(why, why_len, "digest failed");
				r = SG_ERR_INTERNAL;
				goto out;
			}
		}
		f->done += (uint64_t)got;
		cli_progress_update(&f->progress, f->done);
	}
	r = file_check(f, why, why_len);
out:
	cli_progress_end(&f->progress);
	free(buf);
	return r;
}

void
cli_file_close(struct cli_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

int
cli_hash_file(const char *path, const EVP_MD *md, unsigned char *digest, size_t *digest_len,
              uint64_t *size, char *why, size_t why_len)
{
	struct cli_file f;
	EVP_MD_CTX *ctx = NULL;
	unsigned len = 0;
	int r;

	*digest_len = 0;
	if ((r = cli_file_open(&f, path, why, why_len)) != 0)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		snprintf(why, why_len, "cannot set up the digest");
		r = SG_ERR_INTERNAL;
		goto out;
	}
	if ((r = cli_file_stream(&f, &ctx, 1, path, why, why_len)) != 0)
		goto out;
	if (EVP_DigestFinal_ex(ctx, digest, &len) != 1) {
		snprintf(why, why_len, "digest failed");
		r = SG_ERR_INTERNAL;
		goto out;
	}
	*digest_len = len;
	if (size != NULL)
		*size = f.done;
	r = 0;
out:
	cli_file_close(&f);
	EVP_MD_CTX_free(ctx);
	return r;
}
