/*
 * hash_bench: the "hash" mode of signet-bench (docs/benchmarks.md): the
 * signet CLI's streaming file hash against `openssl dgst` on the same file,
 * in the same run.
 */
#ifndef HASH_BENCH_H
#define HASH_BENCH_H

/* signet-bench hash ...: argv[0] is "hash".  Returns the process exit status. */
int cmd_hash(int argc, char **argv);

#endif /* HASH_BENCH_H */
