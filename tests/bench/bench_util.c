/* bench_util: see bench_util.h. */
#include "bench_util.h"

#include "sg_err.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static unsigned
bench_hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < BENCH_HIST_SUB)
		return (unsigned)v;
	if (v >= (1ull << (BENCH_HIST_MAX_MSB + 1)))
		v = (1ull << (BENCH_HIST_MAX_MSB + 1)) - 1;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - 6u; /* v >> shift is in [64, 128) */
	return BENCH_HIST_SUB + (shift - 1u) * BENCH_HIST_HALF +
	       (unsigned)((v >> shift) - BENCH_HIST_HALF);
}

/* The midpoint of bucket i, in nanoseconds. */
static double
bench_hist_value(unsigned i)
{
	unsigned k, shift;
	uint64_t sub;

	if (i < BENCH_HIST_SUB)
		return (double)i;
	k = i - BENCH_HIST_SUB;
	shift = k / BENCH_HIST_HALF + 1u;
	sub = (uint64_t)(k % BENCH_HIST_HALF + BENCH_HIST_HALF);
	return (double)(sub << shift) + (double)(1ull << shift) / 2.0;
}

void
bench_hist_add(struct bench_hist *h, uint64_t ns)
{
	h->b[bench_hist_index(ns)]++;
	h->n++;
}

void
bench_hist_merge(struct bench_hist *into, const struct bench_hist *from)
{
	unsigned i;

	for (i = 0; i < BENCH_HIST_BUCKETS; i++)
		into->b[i] += from->b[i];
	into->n += from->n;
}

double
bench_hist_quantile_us(const struct bench_hist *h, double q)
{
	uint64_t rank, seen = 0;
	unsigned i;

	if (h->n == 0)
		return 0.0;
	rank = (uint64_t)ceil(q * (double)h->n);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			return bench_hist_value(i) / 1000.0;
	}
	return bench_hist_value(BENCH_HIST_BUCKETS - 1) / 1000.0;
}

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * BENCH_NS_PER_S + (uint64_t)ts.tv_nsec;
}

void
bench_sleep_until(uint64_t t)
{
	uint64_t now;
	struct timespec ts;

	while ((now = bench_now_ns()) < t) {
		ts.tv_sec = (time_t)((t - now) / BENCH_NS_PER_S);
		ts.tv_nsec = (long)((t - now) % BENCH_NS_PER_S);
		nanosleep(&ts, NULL);
	}
}

double
bench_self_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0.0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

double
bench_pid_cpu_s(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1.0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: state is field 3. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2 ||
	    hz <= 0)
		return -1.0;
	return (double)(ut + st) / (double)hz;
}

uint64_t
bench_rng_seed(unsigned salt)
{
	uint64_t s =
	    bench_now_ns() ^ ((uint64_t)getpid() << 32) ^ ((uint64_t)salt * 0x9E3779B97F4A7C15ull);

	return s != 0 ? s : 1;
}

uint64_t
bench_rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

void
bench_rng_fill(uint64_t *s, unsigned char *p, size_t n)
{
	uint64_t x;
	size_t i, k;

	for (i = 0; i < n; i += 8) {
		x = bench_rng_next(s);
		for (k = 0; k < 8 && i + k < n; k++)
			p[i + k] = (unsigned char)(x >> (8 * k));
	}
}

int
bench_parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return SG_ERR_INVALID_ARG;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return SG_ERR_INVALID_ARG;
	*out = v;
	return 0;
}

int
bench_parse_secs(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (s == NULL || ((*s < '0' || *s > '9') && *s != '.'))
		return SG_ERR_INVALID_ARG;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v >= lo && v <= hi))
		return SG_ERR_INVALID_ARG;
	*out = v;
	return 0;
}

int
bench_usage_error(const char *prog, const char *help, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(%s --help for usage)\n", help);
	return 2;
}

static int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y ? 1 : 0;
}

double
bench_median(double *v, size_t n)
{
	if (n == 0)
		return 0.0;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}
