#!/usr/bin/env bash
# lib.sh: a dev_up that fails half-way (here: a PKCS#11 module that does not
# exist) leaves nothing behind, neither the temporary directory with its
# token and PIN files nor a daemon.
source "$(dirname "$0")/lib.sh"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/signet-lib.XXXXXX")
if TMPDIR=$scratch SIGNET_PKCS11_MODULE=/nonexistent/libnone.so \
	bash -c 'source "$SG_SOURCE_DIR/tests/integration/lib.sh"; dev_up' >/dev/null 2>&1; then
	rm -rf "$scratch"
	fail "dev_up succeeded with a module that does not exist"
fi
left=$(ls -A "$scratch")
rm -rf "$scratch"
[[ -z "$left" ]] || fail "a failed dev_up left $left behind"
pass "a failed dev_up cleans up"
