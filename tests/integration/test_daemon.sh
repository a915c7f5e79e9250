#!/usr/bin/env bash
# signetd end to end over raw sockets: keys.list, every key/hash/padding on
# tcp:// and ipc:// verified by OpenSSL, denials and malformed requests with
# their codes, oversized frames, an unknown CURVE key, pipelining,
# idempotency, and policy reloads (bad file kept out, removed client cut off).
source "$(dirname "$0")/lib.sh"
dev_up
SIGNET_DEV_DIR=$DEVDIR SG_ALT_ENDPOINT="ipc://$DEVDIR/signetd.sock" \
	"$SG_BINARY_DIR/tests/sg_daemon_itest"
grep -q "refused unknown CURVE client key (fingerprint [0-9a-f]\{16\})" "$DEVDIR/signetd.log" ||
	fail "the unknown CURVE key was not logged by fingerprint"
grep -q "policy reload failed, keeping the old policy" "$DEVDIR/signetd.log" ||
	fail "the broken policy was not reported"
# the itest ends with SIGTERM: signetd drains and exits 0
for _ in $(seq 1 100); do
	grep -q "exiting with status" "$DEVDIR/signetd.log" && break
	sleep 0.1
done
grep -q "exiting with status 0" "$DEVDIR/signetd.log" || fail "signetd did not stop cleanly on SIGTERM"
"$BIN/signet-audit" verify "$DEVDIR/audit.db" >/dev/null || fail "audit chain does not verify"
pass "daemon integration"
