/* sg_secret: see sg_secret.h. */
#include "sg_secret.h"
#include "sg_err.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

struct sg_secret {
	size_t map_len; /* length of the whole mapping, header included */
	size_t cap;
	size_t len;
	unsigned char data[]; /* cap + 1 bytes, NUL-terminated */
};

void
sg_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

int
sg_ct_eq(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

struct sg_secret *
sg_secret_new(size_t cap)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), need, map_len;
	struct sg_secret *s;
	void *p;

	if (cap > (1u << 20))
		return NULL;
	need = sizeof(*s) + cap + 1;
	map_len = (need + page - 1) / page * page;
	p = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Both are best effort: a refused mlock still leaves DONTDUMP and wiping. */
	(void)madvise(p, map_len, MADV_DONTDUMP);
	(void)mlock(p, map_len);
	s = p;
	s->map_len = map_len;
	s->cap = cap;
	s->len = 0;
	s->data[0] = '\0';
	return s;
}

void
sg_secret_free(struct sg_secret *s)
{
	size_t map_len;

	if (s == NULL)
		return;
	map_len = s->map_len;
	sg_wipe(s, map_len);
	(void)munlock(s, map_len);
	(void)munmap(s, map_len);
}

const char *
sg_secret_str(const struct sg_secret *s)
{
	return (const char *)s->data;
}

const unsigned char *
sg_secret_data(const struct sg_secret *s)
{
	return s->data;
}

size_t
sg_secret_len(const struct sg_secret *s)
{
	return s->len;
}

int
sg_secret_set(struct sg_secret *s, const void *data, size_t len)
{
	if (len > s->cap)
		return SG_ERR_LIMIT;
	sg_wipe(s->data, s->cap + 1);
	memcpy(s->data, data, len);
	s->data[len] = '\0';
	s->len = len;
	return 0;
}

int
sg_secret_read_fd(int fd, size_t max, struct sg_secret **out)
{
	struct sg_secret *s = NULL;
	size_t len = 0;
	ssize_t n;
	int r = SG_ERR_INTERNAL;

	*out = NULL;
	/* One spare byte so that an over-long secret is detected, not truncated. */
	if ((s = sg_secret_new(max + 2)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		if (len == s->cap) {
			r = SG_ERR_CONFIG;
			goto out;
		}
		n = read(fd, s->data + len, s->cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = SG_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > 0 && s->data[len - 1] == '\n')
		len--;
	if (len > 0 && s->data[len - 1] == '\r')
		len--;
	if (len == 0 || len > max || memchr(s->data, '\0', len) != NULL) {
		r = SG_ERR_CONFIG;
		goto out;
	}
	sg_wipe(s->data + len, s->cap + 1 - len);
	s->len = len;
	*out = s;
	s = NULL;
	r = 0;
out:
	sg_secret_free(s);
	return r;
}

int
sg_secret_read_file(const char *path, size_t max, struct sg_secret **out)
{
	struct stat st;
	int fd = -1, r;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY)) < 0) {
		r = errno == ENOENT ? SG_ERR_NOT_FOUND : SG_ERR_IO;
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		r = SG_ERR_IO;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		r = SG_ERR_PERM;
		goto out;
	}
	r = sg_secret_read_fd(fd, max, out);
out:
	if (fd >= 0)
		close(fd);
	return r;
}

int
sg_secret_harden_process(void)
{
	struct rlimit rl = {0, 0};

	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return SG_ERR_INTERNAL;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return SG_ERR_INTERNAL;
	return 0;
}
