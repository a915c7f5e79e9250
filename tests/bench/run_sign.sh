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
repo=$(cd "$here/../.." && pwd)
export SIGNET_BIN=${SIGNET_BIN:-$repo/build/bin}
SECS=${SECS:-5}
WARMUP=${WARMUP:-0.5}
WORKERS=${WORKERS:-2}
DEV=$repo/hsm-config/signet-dev
BENCH=$SIGNET_BIN/signet-bench
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

for p in signetd signet-token signet-keygen signet-bench; do
	[[ -x "$SIGNET_BIN/$p" ]] || {
		echo "run_sign.sh: $p not found in $SIGNET_BIN (build it, or set SIGNET_BIN)" >&2
		exit 1
	}
done

source "$repo/tests/lib/devenv.sh"

cleanup() {
	local rc=$?
	devenv_teardown "$rc"
	exit $rc
}

# ipc:// paths are limited to about 100 bytes: keep the directory short.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sgbench.XXXXXX")
trap cleanup EXIT
DEVDIR=$WORK/dev
SIGNET_DEV_PORT=$(free_port)
export SIGNET_DEV_PORT SIGNET_DEV_WORKERS=$WORKERS
if ! "$DEV" up "$DEVDIR" >"$WORK/dev-up.log" 2>&1; then
	cat "$WORK/dev-up.log" >&2
	exit 1
fi
export SOFTHSM2_CONF=$DEVDIR/softhsm2.conf
pid=$(cat "$DEVDIR/signetd.pid")

{
	echo "# run_sign.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) git=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo none)"
	echo "# nproc=$(nproc) cpu=\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)\" kernel=$(uname -r)"
	echo "# softhsm=$(softhsm2-util --version 2>/dev/null || echo ?) openssl=\"$(openssl version 2>/dev/null || echo ?)\" libzmq=$(pkg-config --modversion libzmq 2>/dev/null || echo ?) sqlite=$(pkg-config --modversion sqlite3 2>/dev/null || echo ?)"
	echo "# SECS=$SECS WARMUP=$WARMUP WORKERS=$WORKERS"
} >>"$RESULTS"

fails=0
for row in "${rows[@]}"; do
	read -r key clients depth extra <<<"$row"
	# shellcheck disable=SC2206 # extra holds options, split on purpose
	cmd=("$BENCH" sign --config "$DEVDIR/client.conf" --key "$key" --clients "$clients"
		--depth "$depth" --seconds "$SECS" --warmup "$WARMUP" ${extra:-}
		--daemon-pid "$pid" --baseline-token signet-dev
		--baseline-pin-file "$DEVDIR/user.pin" --baseline-threads "$WORKERS" --baseline-verify)
	echo "# row: signet-bench sign --key $key --clients $clients --depth $depth ${extra:+$extra }(loadavg $(cut -d' ' -f1-3 /proc/loadavg))" >>"$RESULTS"
	if ! "${cmd[@]}" >>"$RESULTS" 2>"$WORK/bench.err"; then
		fails=$((fails + 1))
		echo "# row failed: $(tr '\n' ' ' <"$WORK/bench.err")" >>"$RESULTS"
	fi
	cat "$WORK/bench.err" >&2
done
echo "run_sign.sh: results in $RESULTS" >&2
[[ $fails -eq 0 ]]
