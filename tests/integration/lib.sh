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
dev_up() {
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/signet-it.XXXXXX")
	# ipc:// paths are limited to about 100 bytes: keep the directory short.
	DEVDIR=$WORK/dev
	# Before anything can fail: a half-made appliance (token, PINs) goes too.
	trap dev_cleanup EXIT
	SIGNET_DEV_PORT=$(free_port)
	export SIGNET_DEV_PORT
	"$DEV" up "$DEVDIR" >/dev/null 2>"$WORK/dev-up.log" || {
		cat "$WORK/dev-up.log" >&2
		fail "signet-dev up"
	}
	export SIGNET_CONFIG=$DEVDIR/client.conf
	export SOFTHSM2_CONF=$DEVDIR/softhsm2.conf
}

dev_cleanup() {
	local rc=$?
	devenv_teardown "$rc"
	exit $rc
}
