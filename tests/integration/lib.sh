# Shared helpers of the integration tests (sourced, not run).
# Each test gets its own dev environment in a temporary directory, on a free
# TCP port, torn down on exit whatever happens.
set -euo pipefail

: "${SG_SOURCE_DIR:?run through ctest (SG_SOURCE_DIR unset)}"
: "${SG_BINARY_DIR:?run through ctest (SG_BINARY_DIR unset)}"
export SIGNET_BIN="$SG_BINARY_DIR/bin"
BIN=$SIGNET_BIN
DEV=$SG_SOURCE_DIR/hsm-config/signet-dev
source "$SG_SOURCE_DIR/tests/lib/devenv.sh"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

pass() {
	echo "ok: $*"
}

# dev_up: creates and starts a dev appliance in $WORK/dev; sets SIGNET_CONFIG.
# Tests run in parallel: a port taken between free_port and signetd's bind
# is retried with another port (and a new directory) twice.
dev_up() {
	local attempt
	trap dev_cleanup EXIT
	for attempt in 1 2 3; do
		# ipc:// paths are limited to about 100 bytes: keep the directory short.
		WORK=$(mktemp -d "${TMPDIR:-/tmp}/signet-it.XXXXXX")
		SIGNET_DEV_PORT=$(free_port)
		export SIGNET_DEV_PORT
		if "$DEV" up "$WORK/dev" >/dev/null 2>"$WORK/dev-up.log"; then
			DEVDIR=$WORK/dev
			export SIGNET_CONFIG=$DEVDIR/client.conf
			export SOFTHSM2_CONF=$DEVDIR/softhsm2.conf
			return 0
		fi
		if [[ $attempt -lt 3 ]] && grep -q "Address already in use" "$WORK/dev/signetd.log" 2>/dev/null; then
			echo "port $SIGNET_DEV_PORT was taken meanwhile; trying another" >&2
			rm -rf "$WORK"
			continue
		fi
		cat "$WORK/dev-up.log" >&2
		fail "signet-dev up"
	done
}

dev_cleanup() {
	local rc=$?
	devenv_teardown "$rc"
	exit $rc
}
