#!/usr/bin/env bash
# run_sign.sh: the sign.digest benchmark rows of docs/benchmarks.md.
#
#   tests/bench/run_sign.sh [RESULTS_FILE]
#
# Brings up a fresh dev appliance (hsm-config/signet-dev) in a temporary
# directory on a free TCP port, runs signet-bench sign for each row below
# (appliance load phase, then the raw PKCS#11 baselines, sign-only and
# sign + C_Verify, on the same token and key while the daemon is idle), and
# appends the raw key=value output to RESULTS_FILE (default:
# ./bench-sign-YYYYmmdd-HHMMSS.txt).  The appliance is stopped and the
# directory removed on exit, whatever happens.
#
# Environment: SIGNET_BIN (directory of signetd, signet-token, signet-keygen,
# signet-bench; default: build/bin of this repository), SECS (measured
# seconds per phase, default 5), WARMUP (seconds before each phase, not
# counted, default 0.5), WORKERS (signetd workers and baseline threads,
# default 2).  With the defaults the whole run takes about 2.5 minutes.
#
# In flight: every bench connection authenticates as the dev client "ci",
# whose cap is signetd's default limits.max_inflight_per_client (256); the
# largest row (8 clients x 32) is exactly 256, so no row gets "busy".
#
# Exit status: 0 if every row succeeded, 1 otherwise.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench_env.sh
source "$here/bench_env.sh"
RESULTS=${1:-$PWD/bench-sign-$(date +%Y%m%d-%H%M%S).txt}

# key clients depth extra-options
rows=(
	"build-signing 1 1"
	"build-signing 1 16"
	"build-signing 4 16"
	"build-signing 8 32"
	"build-signing-p384 4 16 --hash sha384"
	"build-signing-rsa2048 4 16 --pad pkcs1"
	"build-signing-rsa2048 4 16 --pad pss"
	"build-signing-rsa3072 4 8"
)

bench_check_bins run_sign.sh
bench_dev_up sgbench
pid=$(bench_daemon_pid)
bench_results_header run_sign.sh "$RESULTS"

for row in "${rows[@]}"; do
	read -r key clients depth extra <<<"$row"
	# shellcheck disable=SC2206 # extra holds options, split on purpose
	cmd=("$BENCH" sign --config "$DEVDIR/client.conf" --key "$key" --clients "$clients"
		--depth "$depth" --seconds "$SECS" --warmup "$WARMUP" ${extra:-}
		--daemon-pid "$pid" --baseline-token signet-dev
		--baseline-pin-file "$DEVDIR/user.pin" --baseline-threads "$WORKERS" --baseline-verify)
	bench_run_row "$RESULTS" "signet-bench sign --key $key --clients $clients --depth $depth${extra:+ $extra}" "${cmd[@]}"
done
echo "run_sign.sh: results in $RESULTS" >&2
[[ $bench_fails -eq 0 ]]
