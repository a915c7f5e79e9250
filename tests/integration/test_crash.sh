#!/usr/bin/env bash
# kill -9 of signetd in the middle of a signing loop loses no signature that
# a client received: every .sig file written has its audit record, and the
# chain verifies after the restart.
source "$(dirname "$0")/lib.sh"
dev_up
N=${CRASH_N:-200}
mkdir -p "$WORK/loop"
for i in $(seq 1 "$N"); do echo "file $i $RANDOM" >"$WORK/loop/f$i"; done
(
	for i in $(seq 1 "$N"); do
		# failures are allowed while the daemon is down; received signatures must be audited
		"$BIN/signet" sign "$WORK/loop/f$i" --key build-signing >/dev/null 2>&1 || true
	done
) &
loop=$!
# kill when about a third of the files are signed
for _ in $(seq 1 600); do
	n=$(find "$WORK/loop" -name '*.sig' | wc -l)
	((n >= N / 3)) && break
	sleep 0.05
done
kill -KILL "$(cat "$DEVDIR/signetd.pid")"
before=$(find "$WORK/loop" -name '*.sig' | wc -l)
sleep 0.5
"$DEV" start "$DEVDIR" >/dev/null 2>&1 || fail "signetd did not restart after kill -9"
wait "$loop"
after=$(find "$WORK/loop" -name '*.sig' | wc -l)
((before > 0 && after > before)) || fail "signing did not go on around the crash ($before, then $after)"
"$DEV" down "$DEVDIR" >/dev/null 2>&1
"$BIN/signet-audit" verify "$DEVDIR/audit.db" >/dev/null || fail "chain does not verify after kill -9"
missing=0
for s in "$WORK"/loop/*.sig; do
	h=$(openssl dgst -sha256 -binary "$s" | od -An -tx1 | tr -d ' \n')
	n=$(sqlite3 "$DEVDIR/audit.db" "SELECT count(*) FROM records WHERE sig_hash = X'$h' AND result = 0")
	((n >= 1)) || { echo "no audit record for $s" >&2; missing=$((missing + 1)); }
done
((missing == 0)) || fail "$missing received signatures have no audit record"
pass "kill -9 after $before of $N signatures: all $after received signatures are audited, chain verifies"
