/*
 * bench_util: what the modes of signet-bench share (signet_bench.c,
 * issue_bench.c, crl_bench.c, bench_p11.c, bench_load.c): a fixed-size
 * latency histogram, clocks, CPU time, a cheap random source for test
 * inputs, and strict parsing of numeric options.
 *
 * It measures and formats; it never decides whether a figure is good
 * enough (benchmarks assert no timings, docs/benchmarks.md) and it never
 * handles a secret.  The random source is for inputs that only need to
 * differ (digests, serial numbers of test rows), never for keys.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_NS_PER_S 1000000000ull

/*
 * Log-linear buckets of nanoseconds: exact below 128 ns, then 64 buckets
 * per power of two (relative error under 1 %), up to 2^41 ns (about 36
 * min).  Fixed size: recording allocates nothing and threads merge by
 * adding.
 */
#define BENCH_HIST_SUB 128
#define BENCH_HIST_HALF 64
#define BENCH_HIST_MAX_MSB 40
#define BENCH_HIST_BUCKETS (BENCH_HIST_SUB + (BENCH_HIST_MAX_MSB - 6) * BENCH_HIST_HALF)

struct bench_hist {
	uint64_t n;
	uint64_t b[BENCH_HIST_BUCKETS];
};

/* Records one value of ns nanoseconds. */
void bench_hist_add(struct bench_hist *h, uint64_t ns);

/* Adds every count of from into into. */
void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from);

/* The q-quantile (0 < q <= 1) in microseconds; 0 for an empty histogram. */
double bench_hist_quantile_us(const struct bench_hist *h, double q);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* Sleeps until bench_now_ns() >= t. */
void bench_sleep_until(uint64_t t);

/* CPU seconds (user + system) of this process. */
double bench_self_cpu_s(void);

/* CPU seconds (user + system) of process pid from /proc, or a negative value. */
double bench_pid_cpu_s(long pid);

/* A nonzero seed for bench_rng_*, different per call site (salt), process and time. */
uint64_t bench_rng_seed(unsigned salt);

/* xorshift64*: the next value of state *s. */
uint64_t bench_rng_next(uint64_t *s);

/* Fills p[0..n) from state *s. */
void bench_rng_fill(uint64_t *s, unsigned char *p, size_t n);

/* A decimal in [lo, hi] into *out; 0 or SG_ERR_INVALID_ARG. */
int bench_parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out);

/* Seconds (decimal, [lo, hi]) into *out; 0 or SG_ERR_INVALID_ARG. */
int bench_parse_secs(const char *s, double lo, double hi, double *out);

/*
 * Says on stderr "PROG: <fmt...>" and "(HELP --help for usage)"; returns 2,
 * the exit status of a usage error in every mode.
 */
int bench_usage_error(const char *prog, const char *help, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The median of v[0..n) (sorts v); 0 when n is 0. */
double bench_median(double *v, size_t n);

#endif /* BENCH_UTIL_H */
