#!/usr/bin/env bash
# run_hash.sh RESULTS: one run of `signet-bench hash` (docs/benchmarks.md):
# a file of SIZE_MIB MiB (default 2048) of random bytes in a temporary
# directory under $TMPDIR (default /tmp), hashed ROUNDS times (default 5) by
# the signet CLI's hash and by `openssl dgst -sha256`, first with a warm page
# cache, then cold.  Appends the machine, the versions, the load average and
# the raw output to RESULTS.  Needs $SIGNET_BIN/signet-bench.
set -euo pipefail

out=${1:?usage: run_hash.sh RESULTS}
bench=${SIGNET_BIN:?set SIGNET_BIN to the bin directory of a build}/signet-bench
size_mib=${SIZE_MIB:-2048}
rounds=${ROUNDS:-5}
[[ -x $bench ]] || {
	echo "run_hash.sh: $bench not built" >&2
	exit 2
}
dir=$(mktemp -d "${TMPDIR:-/tmp}/signet-hash-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
# Random bytes, not a sparse file: reading holes costs the kernel less than reading data.
head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$dir/artifact.bin"

{
	echo "# signet-bench hash, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
	echo "# kernel: $(uname -r); $(openssl version); file system: $(stat -f -c %T "$dir")"
	echo "# commit: $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	for cache in warm cold; do
		echo "# load average before the $cache run: $(cut -d' ' -f1-3 /proc/loadavg)"
		if [[ $cache == cold ]]; then
			"$bench" hash --file "$dir/artifact.bin" --rounds "$rounds" --cold
		else
			"$bench" hash --file "$dir/artifact.bin" --rounds "$rounds"
		fi
	done
} | tee -a "$out"
