/*
 * issue_bench: the "issue" mode of signet-bench (docs/benchmarks.md):
 * cert.issue throughput and latency of a running appliance under a profile,
 * against the raw PKCS#11 signing rate of the issuing CA's own key in the
 * same run.
 */
#ifndef ISSUE_BENCH_H
#define ISSUE_BENCH_H

/* signet-bench issue ...: argv[0] is "issue".  Returns the process exit status. */
int cmd_issue(int argc, char **argv);

#endif /* ISSUE_BENCH_H */
