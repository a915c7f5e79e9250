/*
 * Shared declarations of Signet's fuzz targets (tests/fuzz, docs/fuzzing.md).
 *
 * Each fuzz_<name>.c defines LLVMFuzzerTestOneInput().  Built with clang and
 * -fsanitize=fuzzer it is a libFuzzer program; built with any compiler and
 * replay_main.c it is a replay driver that feeds it the files of a corpus
 * (what CTest runs, under ASan+UBSan in the SIGNET_SANITIZE build).
 *
 * A target must never abort on any input except to report a broken
 * invariant: then it calls sg_fuzz_fail() (through SG_FUZZ_CHECK), which
 * prints the condition and aborts, so that libFuzzer records the input as a
 * crash and the replay test fails.
 */
#ifndef SG_FUZZ_H
#define SG_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints "file:line: invariant failed: what" to stderr and aborts. */
void sg_fuzz_fail(const char *what, const char *file, int line) __attribute__((noreturn));

#define SG_FUZZ_CHECK(cond)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			sg_fuzz_fail(#cond, __FILE__, __LINE__);                                   \
	} while (0)

/*
 * Makes data[0..size) the contents of a scratch file and returns its path
 * (valid until the next call).  The file is a memfd reached through
 * /proc/self/fd, so that loaders that take a path (sg_yaml_load) read the
 * fuzz input without touching the disk; /dev/shm is the fallback.  Aborts
 * if neither works: a fuzz run without its input file would prove nothing.
 */
const char *sg_fuzz_file(const uint8_t *data, size_t size);

#endif /* SG_FUZZ_H */
