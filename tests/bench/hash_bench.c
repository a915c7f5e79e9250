/*
 * signet-bench hash: throughput of the signet CLI's file hashing
 * (cli_hash_file, clients/signet/signet_file.c, the very function that
 * `signet sign` and `signet verify` call) against `openssl dgst` on the same
 * file, rotating the order in each of N rounds, and the ratio of the two.
 * libsignet's signet_hash_file (64 KiB reads) is timed too, for comparison.
 *
 * The baseline is the stock command: fork + exec of `openssl dgst -SHA -r
 * FILE`, timed from fork to its exit (process start-up is a few ms against
 * seconds of hashing); its CPU time comes from wait4.  Signet's side runs in
 * this process; its CPU time comes from getrusage.  Each round checks that
 * both sides printed the same digest, so a fast wrong hash fails the run.
 *
 * --cold drops the file's pages from the page cache before every
 * measurement (posix_fadvise POSIX_FADV_DONTNEED after an fdatasync); that
 * empties this kernel's cache only, not a cache below it (a VM host).
 * Without it a first untimed read warms the cache.
 *
 * Output: key=value lines on stdout (one per round, one summary); nothing is
 * asserted about the timings.  Exit status: 0 the run completed, 1 it
 * failed (unreadable file, openssl failed, digests differ), 2 usage.
 */
#include "hash_bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sg_alg.h"
#include "sg_err.h"
#include "signet.h"
#include "signet_file.h"

#define HB_PROG "signet-bench hash"
#define HB_MAX_ROUNDS 100
#define HB_OUT_MAX 512

static const char hash_usage[] =
    "usage: signet-bench hash --file PATH [--rounds N] [--hash sha256|sha384|sha512]\n"
    "                         [--cold] [--openssl PATH]\n"
    "\n"
    "Hashes PATH N times (1..100, default 5) with the signet CLI's streaming hash and\n"
    "N times with `openssl dgst -HASH -r PATH` (default sha256; --openssl names the\n"
    "binary, default openssl from $PATH), rotating which goes first, and prints\n"
    "MB/s (10^6 bytes/s) and CPU seconds of each, per round and as medians, with\n"
    "ratio (signet's MB/s over openssl's) and cpu_ratio (openssl's CPU seconds over\n"
    "signet's, steadier than wall time on a busy machine).  libsignet's\n"
    "signet_hash_file is timed too (lib_*).  All must give the same digest.\n"
    "Without --cold one untimed read warms the page cache first; with --cold the\n"
    "file's cached pages are dropped before every measurement (this kernel's cache\n"
    "only).\n";

static double
hb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
hb_tv(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static double
hb_cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return hb_tv(&ru.ru_utime) + hb_tv(&ru.ru_stime);
}

/* Drops the file's pages from this kernel's page cache. */
static int
hb_drop_cache(const char *path)
{
	int fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return SG_ERR_IO;
	(void)fdatasync(fd);
	if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
		r = SG_ERR_IO;
	close(fd);
	return r;
}

/*
 * Runs `openssl dgst -NAME -r path`; returns 0 with its lowercase hex digest
 * in hex, its wall time in *secs and its CPU time in *cpu.
 */
static int
hb_openssl(const char *openssl, const char *name, const char *path, char *hex, size_t hex_len,
           double *secs, double *cpu)
{
	char opt[32], out[HB_OUT_MAX];
	struct rusage ru;
	size_t off = 0;
	ssize_t n;
	pid_t pid;
	double t0;
	int p[2] = {-1, -1}, status = 0, r;
	char *sp;

	snprintf(opt, sizeof(opt), "-%s", name);
	if (pipe(p) != 0)
		return SG_ERR_IO;
	t0 = hb_now();
	if ((pid = fork()) < 0) {
		r = SG_ERR_IO;
		goto out;
	}
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		execlp(openssl, openssl, "dgst", opt, "-r", path, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	p[1] = -1;
	while (off < sizeof(out) - 1) {
		n = read(p[0], out + off, sizeof(out) - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	out[off] = '\0';
	while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
		;
	*secs = hb_now() - t0;
	*cpu = hb_tv(&ru.ru_utime) + hb_tv(&ru.ru_stime);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || (sp = strchr(out, ' ')) == NULL) {
		fprintf(stderr, HB_PROG ": %s dgst failed (status %d): %s\n", openssl, status, out);
		r = SG_ERR_IO;
		goto out;
	}
	*sp = '\0';
	snprintf(hex, hex_len, "%s", out);
	r = 0;
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return r;
}

/* libsignet's signet_hash_file (64 KiB reads), for comparison; timed, hex gets the digest. */
static int
hb_lib(const char *path, enum sg_hash h, char *hex, size_t hex_len, double *secs, double *cpu)
{
	unsigned char d[SG_HASH_MAX_LEN];
	size_t dlen = 0, i;
	double t0, c0;
	int r;

	c0 = hb_cpu_self();
	t0 = hb_now();
	r = signet_hash_file(path, h, d, &dlen, NULL);
	*secs = hb_now() - t0;
	*cpu = hb_cpu_self() - c0;
	if (r != 0) {
		fprintf(stderr, HB_PROG ": %s: signet_hash_file: %s\n", path, sg_strerror(r));
		return r;
	}
	for (i = 0; i < dlen && 2 * i + 2 < hex_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return 0;
}

/* Signet's side: cli_hash_file, timed; hex gets the digest. */
static int
hb_signet(const char *path, const EVP_MD *md, char *hex, size_t hex_len, double *secs, double *cpu,
          uint64_t *size)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	char why[512];
	size_t dlen = 0, i;
	double t0, c0;
	int r;

	c0 = hb_cpu_self();
	t0 = hb_now();
	r = cli_hash_file(path, md, d, &dlen, size, why, sizeof(why));
	*secs = hb_now() - t0;
	*cpu = hb_cpu_self() - c0;
	if (r != 0) {
		fprintf(stderr, HB_PROG ": %s: %s\n", path, why);
		return r;
	}
	for (i = 0; i < dlen && 2 * i + 2 < hex_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return 0;
}

static int
hb_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y ? 1 : 0;
}

static double
hb_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), hb_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

int
cmd_hash(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"rounds", required_argument, NULL, 'n'},
	    {"hash", required_argument, NULL, 'H'},
	    {"cold", no_argument, NULL, 'c'},
	    {"openssl", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = NULL, *openssl = "openssl", *hname = "sha256";
	double o_mbps[HB_MAX_ROUNDS], s_mbps[HB_MAX_ROUNDS], l_mbps[HB_MAX_ROUNDS];
	double ratio[HB_MAX_ROUNDS], cpu_ratio[HB_MAX_ROUNDS];
	double o_s = 0, o_cpu = 0, s_s = 0, s_cpu = 0, l_s = 0, l_cpu = 0, med_o, med_s, med_l,
	       med_r, med_c;
	char o_hex[HB_OUT_MAX], s_hex[HB_OUT_MAX], l_hex[HB_OUT_MAX], *end;
	unsigned long rounds = 5, i;
	uint64_t size = 0;
	enum sg_hash h;
	const EVP_MD *md;
	struct stat st;
	int ch, cold = 0, order, turn, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			path = optarg;
			break;
		case 'n':
			rounds = strtoul(optarg, &end, 10);
			if (*end != '\0' || rounds < 1 || rounds > HB_MAX_ROUNDS) {
				fprintf(stderr, HB_PROG ": --rounds must be 1..%d\n",
				        HB_MAX_ROUNDS);
				return 2;
			}
			break;
		case 'H':
			hname = optarg;
			break;
		case 'c':
			cold = 1;
			break;
		case 'o':
			openssl = optarg;
			break;
		case 'h':
			fputs(hash_usage, stdout);
			return 0;
		default:
			fputs(hash_usage, stderr);
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		fputs(hash_usage, stderr);
		return 2;
	}
	if (sg_hash_parse(hname, &h) != 0 || (md = sg_hash_md(h)) == NULL) {
		fprintf(stderr, HB_PROG ": unknown hash '%s'\n", hname);
		return 2;
	}
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, HB_PROG ": %s: not a readable regular file\n", path);
		return 1;
	}
	if (!cold && hb_signet(path, md, s_hex, sizeof(s_hex), &s_s, &s_cpu, &size) != 0)
		return 1;
	for (i = 0; i < rounds; i++) {
		/*
		 * Rotate who goes first, so that no side always inherits the
		 * other's state (page cache, CPU frequency, a neighbour's load).
		 */
		for (order = 0; order < 3; order++) {
			turn = (int)((i + (unsigned long)order) % 3);
			if (cold && hb_drop_cache(path) != 0) {
				fprintf(stderr, HB_PROG ": cannot drop %s from the page cache\n",
				        path);
				return 1;
			}
			if (turn == 0)
				r = hb_openssl(openssl, hname, path, o_hex, sizeof(o_hex), &o_s,
				               &o_cpu);
			else if (turn == 1)
				r = hb_signet(path, md, s_hex, sizeof(s_hex), &s_s, &s_cpu, &size);
			else
				r = hb_lib(path, h, l_hex, sizeof(l_hex), &l_s, &l_cpu);
			if (r != 0)
				return 1;
		}
		if (strcmp(o_hex, s_hex) != 0 || strcmp(o_hex, l_hex) != 0) {
			fprintf(stderr, HB_PROG ": digests differ: openssl %s, signet %s, lib %s\n",
			        o_hex, s_hex, l_hex);
			return 1;
		}
		o_mbps[i] = (double)size / o_s / 1e6;
		s_mbps[i] = (double)size / s_s / 1e6;
		l_mbps[i] = (double)size / l_s / 1e6;
		ratio[i] = s_mbps[i] / o_mbps[i];
		/* CPU per byte is steadier than wall time on a shared machine. */
		cpu_ratio[i] = s_cpu > 0 ? o_cpu / s_cpu : 0;
		printf("mode=hash round=%lu cache=%s hash=%s size=%llu openssl_s=%.3f "
		       "openssl_mbps=%.0f openssl_cpu_s=%.3f signet_s=%.3f signet_mbps=%.0f "
		       "signet_cpu_s=%.3f lib_s=%.3f lib_mbps=%.0f lib_cpu_s=%.3f ratio=%.3f "
		       "lib_ratio=%.3f cpu_ratio=%.3f\n",
		       i + 1, cold ? "cold" : "warm", hname, (unsigned long long)size, o_s,
		       o_mbps[i], o_cpu, s_s, s_mbps[i], s_cpu, l_s, l_mbps[i], l_cpu, ratio[i],
		       l_mbps[i] / o_mbps[i], cpu_ratio[i]);
		fflush(stdout);
	}
	/* hb_median sorts: after it, ratio[0] and ratio[rounds - 1] are the extremes. */
	med_o = hb_median(o_mbps, rounds);
	med_s = hb_median(s_mbps, rounds);
	med_l = hb_median(l_mbps, rounds);
	med_r = hb_median(ratio, rounds);
	med_c = hb_median(cpu_ratio, rounds);
	printf("summary=hash cache=%s hash=%s size=%llu rounds=%lu chunk=%d file=%s "
	       "openssl_mbps_median=%.0f signet_mbps_median=%.0f lib_mbps_median=%.0f "
	       "ratio_median=%.3f ratio_min=%.3f ratio_max=%.3f cpu_ratio_median=%.3f\n",
	       cold ? "cold" : "warm", hname, (unsigned long long)size, rounds, CLI_FILE_CHUNK,
	       path, med_o, med_s, med_l, med_r, ratio[0], ratio[rounds - 1], med_c);
	return 0;
}
