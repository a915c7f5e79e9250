#!/usr/bin/env bash
# A full disk under the audit log: signing fails closed with exit 4
# (audit_unavailable) and no signature file, nothing that was acknowledged is
# lost, and signing resumes by itself once space is back. Needs root (tmpfs);
# exits 77 (skipped) where mounting is not permitted.
source "$(dirname "$0")/lib.sh"
dev_up
fs=$WORK/auditfs
mkdir -p "$fs"
if ! mount -t tmpfs -o size=1m tmpfs "$fs" 2>/dev/null; then
	echo "skipped: cannot mount a tmpfs here (not root?)"
	exit 77
fi
cleanup_fs() {
	"$DEV" down "$DEVDIR" >/dev/null 2>&1 || true
	umount "$fs" 2>/dev/null || true
}
trap 'cleanup_fs; dev_cleanup' EXIT
"$DEV" down "$DEVDIR" >/dev/null 2>&1
sed -i "s#^audit_db: .*#audit_db: $fs/audit.db#" "$DEVDIR/signetd.yaml"
"$DEV" start "$DEVDIR" >/dev/null 2>&1 || fail "signetd did not start with the audit log on tmpfs"
echo one >"$WORK/ok1"
"$BIN/signet" sign "$WORK/ok1" --key build-signing || fail "signing before the disk is full"

# fill the file system
dd if=/dev/zero of="$fs/filler" bs=4k 2>/dev/null || true
failed=0
for i in $(seq 1 40); do
	echo "during $i" >"$WORK/full$i"
	rc=0
	"$BIN/signet" sign "$WORK/full$i" --key build-signing 2>"$WORK/full$i.err" || rc=$?
	if [[ $rc -ne 0 ]]; then
		[[ $rc -eq 4 ]] || fail "signing on a full disk exited $rc, not 4: $(cat "$WORK/full$i.err")"
		grep -q "audit" "$WORK/full$i.err" || fail "the failure does not name the audit log"
		[[ ! -e "$WORK/full$i.sig" ]] || fail "a signature was written although its record was not"
		failed=$((failed + 1))
	fi
done
((failed > 0)) || fail "no signing failed on a full disk"
grep -q "signing suspended" "$DEVDIR/signetd.log" || fail "signetd did not log the suspension"
pass "full disk: $failed of 40 signatures refused with exit 4, no file written"

# space is back: signing resumes without a restart
rm -f "$fs/filler"
echo after >"$WORK/ok2"
"$BIN/signet" sign "$WORK/ok2" --key build-signing || fail "signing did not resume"
"$DEV" down "$DEVDIR" >/dev/null 2>&1
"$BIN/signet-audit" verify "$fs/audit.db" >/dev/null || fail "chain does not verify"
for s in "$WORK"/*.sig; do
	h=$(openssl dgst -sha256 -binary "$s" | od -An -tx1 | tr -d ' \n')
	n=$(sqlite3 "$fs/audit.db" "SELECT count(*) FROM records WHERE sig_hash = X'$h'")
	((n >= 1)) || fail "$(basename "$s") was released without an audit record"
done
pass "signing resumed; every released signature is audited; chain verifies"
