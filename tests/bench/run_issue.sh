#!/usr/bin/env bash
# run_issue.sh: the cert.issue rows of docs/benchmarks.md.
#
#   tests/bench/run_issue.sh [RESULTS_FILE]
#
# Brings up a fresh dev appliance (hsm-config/signet-dev) in a temporary
# directory on a free TCP port, with the certificate profiles on
# (profiles_dir: profiles in signetd.yaml, added and the daemon restarted if
# the generated file lacks it), makes an EC P-256 CSR that the dev profile
# leaf-tls accepts (O=Signet Dev, CN and a DNS SAN under dev.signet.test),
# and runs `signet-bench issue` for each row below as the dev CA server
# (DIR/ca-client.conf): the appliance's load phase, then the raw PKCS#11
# baselines with the issuing CA's own key (int-dev, EC P-384), sign-only
# and sign + C_Verify, while the daemon is idle.  One `signet-bench sign`
# row on the dev P-384 signing key (SHA-384) follows, so that the cost of a
# certificate can be told from the cost of a P-384 signature through the
# appliance.  The raw key=value output is appended to RESULTS_FILE (default:
# ./bench-issue-YYYYmmdd-HHMMSS.txt).  The appliance is stopped and the
# directory removed on exit, whatever happens.
#
# Environment: SIGNET_BIN (directory of signetd, signet-token, signet-keygen,
# signet-bench; default: build/bin of this repository), SECS (measured
# seconds per phase, default 5), WARMUP (seconds before each phase, not
# counted, default 0.5), WORKERS (signetd workers and baseline threads,
# default 2).  With the defaults the whole run takes about 1.5 minutes.
#
# In flight: every issue connection authenticates as the dev client
# "ca-server", whose cap is signetd's default limits.max_inflight_per_client
# (256); the largest row (8 clients x 32) is exactly 256.
#
# Exit status: 0 if every row succeeded, 1 otherwise.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench_env.sh
source "$here/bench_env.sh"
RESULTS=${1:-$PWD/bench-issue-$(date +%Y%m%d-%H%M%S).txt}
PROFILE=leaf-tls

# clients depth
rows=(
	"1 1"
	"1 16"
	"4 16"
	"8 32"
)

bench_check_bins run_issue.sh
bench_dev_up sgissue
if ! grep -q '^profiles_dir:' "$DEVDIR/signetd.yaml"; then
	[[ -d "$DEVDIR/profiles" ]] || {
		echo "run_issue.sh: signet-dev wrote no profiles/ directory" >&2
		exit 1
	}
	echo "profiles_dir: profiles" >>"$DEVDIR/signetd.yaml"
	"$DEV" down "$DEVDIR" >>"$WORK/dev-up.log" 2>&1
	if ! "$DEV" start "$DEVDIR" >>"$WORK/dev-up.log" 2>&1; then
		cat "$WORK/dev-up.log" >&2
		exit 1
	fi
fi
pid=$(bench_daemon_pid)

# The CSR: EC P-256, the subject and SAN that leaf-tls allows.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$WORK/leaf.key" -subj "/O=Signet Dev/CN=bench.dev.signet.test" \
	-addext "subjectAltName=DNS:bench.dev.signet.test" -out "$WORK/leaf.csr" 2>/dev/null

bench_results_header run_issue.sh "$RESULTS" "PROFILE=$PROFILE"

run_row() {
	bench_run_row "$RESULTS" "$*" "$@"
}

for row in "${rows[@]}"; do
	read -r clients depth <<<"$row"
	run_row "$BENCH" issue --config "$DEVDIR/ca-client.conf" --csr "$WORK/leaf.csr" \
		--profile "$PROFILE" --clients "$clients" --depth "$depth" --seconds "$SECS" \
		--warmup "$WARMUP" --daemon-pid "$pid" --baseline-token signet-dev \
		--baseline-pin-file "$DEVDIR/user.pin" --baseline-threads "$WORKERS" --baseline-verify
done
# The same P-384 signature through the appliance, without a certificate around it.
run_row "$BENCH" sign --config "$DEVDIR/client.conf" --key build-signing-p384 --hash sha384 \
	--clients 4 --depth 16 --seconds "$SECS" --warmup "$WARMUP" --daemon-pid "$pid" \
	--baseline-token signet-dev --baseline-pin-file "$DEVDIR/user.pin" \
	--baseline-threads "$WORKERS" --baseline-verify
echo "run_issue.sh: results in $RESULTS" >&2
[[ $bench_fails -eq 0 ]]
