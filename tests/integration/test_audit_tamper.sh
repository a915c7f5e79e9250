#!/usr/bin/env bash
# The audit log of a real daemon: every signature the CLI received has its
# record (matched by the SHA-256 of the signature), and signet-audit verify
# finds a modified, a deleted and a reordered row by number.
source "$(dirname "$0")/lib.sh"
dev_up
for i in $(seq 1 12); do
	echo "artifact $i" >"$WORK/a$i"
	"$BIN/signet" sign "$WORK/a$i" --key build-signing --job "job-$i"
done
"$SG_SOURCE_DIR/hsm-config/signet-dev" down "$DEVDIR" 2>/dev/null
db=$DEVDIR/audit.db
for i in $(seq 1 12); do
	h=$(openssl dgst -sha256 -binary "$WORK/a$i.sig" | od -An -tx1 | tr -d ' \n')
	n=$(sqlite3 "$db" "SELECT count(*) FROM records WHERE sig_hash = X'$h' AND job = 'job-$i' AND artifact LIKE '%a$i'")
	[[ $n == 1 ]] || fail "signature $i has $n audit records"
done
pass "every received signature has its audit record, with its metadata"
"$BIN/signet-audit" verify "$db" >/dev/null || fail "chain does not verify before tampering"

expect_bad() { # db record-number what
	local rc=0 out
	out=$("$BIN/signet-audit" verify "$1" 2>&1) || rc=$?
	[[ $rc -eq 1 ]] || fail "$3: verify exited $rc, not 1 ($out)"
	grep -q "record $2\b" <<<"$out" || fail "$3: verify did not name record $2: $out"
	pass "$3 found at record $2"
}

cp "$db" "$WORK/mod.db"
sqlite3 "$WORK/mod.db" "UPDATE records SET key = 'build-signing-p384' WHERE seq = 5"
expect_bad "$WORK/mod.db" 5 "a modified row"
cp "$db" "$WORK/del.db"
sqlite3 "$WORK/del.db" "DELETE FROM records WHERE seq = 7"
expect_bad "$WORK/del.db" 7 "a deleted row"
cp "$db" "$WORK/swap.db"
sqlite3 "$WORK/swap.db" "UPDATE records SET seq = -1 WHERE seq = 3; UPDATE records SET seq = 3 WHERE seq = 4; UPDATE records SET seq = 4 WHERE seq = -1"
expect_bad "$WORK/swap.db" 3 "reordered rows"
