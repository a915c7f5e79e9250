# shellcheck shell=bash
# bench_env.sh: what the run_*.sh benchmark scripts share (sourced, after
# `set -euo pipefail`): the environment they take, the check for the
# programs, a fresh dev appliance (hsm-config/signet-dev) in a temporary
# directory on a free TCP port that is stopped and removed on exit whatever
# happens, the header of a results file, and one benchmark row appended to it.
#
# Environment: SIGNET_BIN (directory of signetd, signet-token, signet-keygen,
# signet-bench; default: build/bin of this repository), SECS (measured
# seconds per phase, default 5), WARMUP (seconds before each phase, not
# counted, default 0.5), WORKERS (signetd workers and baseline threads,
# default 2).
#
# Sets: repo, SIGNET_BIN, SECS, WARMUP, WORKERS, DEV, BENCH; after
# bench_dev_up also WORK, DEVDIR, SOFTHSM2_CONF; bench_fails counts the rows
# that failed.  It never reads a PIN: signet-bench reads DEVDIR/user.pin.

bench_env_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$bench_env_dir/../.." && pwd)
export SIGNET_BIN=${SIGNET_BIN:-$repo/build/bin}
SECS=${SECS:-5}
WARMUP=${WARMUP:-0.5}
WORKERS=${WORKERS:-2}
DEV=$repo/hsm-config/signet-dev
# shellcheck disable=SC2034 # used by the scripts that source this file
BENCH=$SIGNET_BIN/signet-bench
bench_fails=0

# shellcheck source=../lib/devenv.sh
source "$repo/tests/lib/devenv.sh"

# bench_check_bins NAME: exits 1 (NAME says who) unless the programs are built.
bench_check_bins() {
	local p
	for p in signetd signet-token signet-keygen signet-bench; do
		[[ -x "$SIGNET_BIN/$p" ]] || {
			echo "$1: $p not found in $SIGNET_BIN (build it, or set SIGNET_BIN)" >&2
			exit 1
		}
	done
}

bench_cleanup() {
	local rc=$?
	devenv_teardown "$rc"
	exit $rc
}

# bench_dev_up PREFIX: a dev appliance in a new $WORK (named PREFIX.XXXXXX)
# with SIGNET_DEV_WORKERS=$WORKERS; exits 1 with its log if it does not start.
bench_dev_up() {
	# ipc:// paths are limited to about 100 bytes: keep the directory short.
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	trap bench_cleanup EXIT
	DEVDIR=$WORK/dev
	SIGNET_DEV_PORT=$(free_port)
	export SIGNET_DEV_PORT SIGNET_DEV_WORKERS=$WORKERS
	# signetd keeps the caller's stdout after it detaches: send it to a file, not a pipe.
	if ! "$DEV" up "$DEVDIR" >"$WORK/dev-up.log" 2>&1; then
		cat "$WORK/dev-up.log" >&2
		exit 1
	fi
	export SOFTHSM2_CONF=$DEVDIR/softhsm2.conf
}

# bench_daemon_pid: the pid of the running signetd of $DEVDIR.
bench_daemon_pid() {
	cat "$DEVDIR/signetd.pid"
}

# bench_results_header NAME RESULTS [EXTRA]: the machine, versions and settings
# of this run as comment lines (EXTRA ends the settings line).
bench_results_header() {
	{
		echo "# $1 $(date -u +%Y-%m-%dT%H:%M:%SZ) git=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo none)"
		echo "# nproc=$(nproc) cpu=\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)\" kernel=$(uname -r)"
		echo "# softhsm=$(softhsm2-util --version 2>/dev/null || echo ?) openssl=\"$(openssl version 2>/dev/null || echo ?)\" libzmq=$(pkg-config --modversion libzmq 2>/dev/null || echo ?) sqlite=$(pkg-config --modversion sqlite3 2>/dev/null || echo ?)"
		echo "# SECS=$SECS WARMUP=$WARMUP WORKERS=$WORKERS${3:+ $3}"
	} >>"$2"
}

# bench_run_row RESULTS DESC COMMAND...: runs COMMAND with its stdout
# appended to RESULTS after a "# row: DESC" line; a failure is counted in
# bench_fails and its stderr noted in RESULTS; the stderr is shown either way.
bench_run_row() {
	local results=$1 desc=$2
	shift 2
	echo "# row: $desc (loadavg $(cut -d' ' -f1-3 /proc/loadavg))" >>"$results"
	if ! "$@" >>"$results" 2>"$WORK/bench.err"; then
		bench_fails=$((bench_fails + 1))
		echo "# row failed: $(tr '\n' ' ' <"$WORK/bench.err")" >>"$results"
	fi
	cat "$WORK/bench.err" >&2
}
