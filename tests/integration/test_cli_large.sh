#!/usr/bin/env bash
# test_cli_large: large artifacts with the real CLI and a real appliance.
#  - a 2 GiB file is signed and openssl verifies the signature;
#  - no progress output when stderr is not a terminal (stderr stays empty
#    with --json), and a progress line on a pseudo-terminal (script -qec);
#  - a file that changes while it is being hashed is refused (exit 2,
#    file_changed), no signature file is written and the appliance is never
#    asked (no audit record).  The change is made deterministic without any
#    test hook in the CLI: the test watches the CLI's read offset on the file
#    (/proc/PID/fdinfo), stops the CLI with SIGSTOP once it is past the first
#    read and short of the end - so it has taken its first fstat and not yet
#    its last - changes the file, and lets it go on with SIGCONT.
source "$(dirname "$0")/lib.sh"
command -v script >/dev/null || {
	echo "SKIP: script(1) (bsdutils) is not installed" >&2
	exit 77
}
dev_up
S="$BIN/signet"
cd "$WORK"
GIB2=$((2 * 1024 * 1024 * 1024))
# The files changed mid-read: large enough to take a while to hash, here and under ASan.
MID=$((512 * 1024 * 1024))

# fd_pos PID FD: prints the read offset of PID's descriptor FD (fails if gone).
fd_pos() {
	local k v
	while read -r k v; do
		if [[ $k == pos: ]]; then
			echo "$v"
			return 0
		fi
	done <"/proc/$1/fdinfo/$2"
	return 1
}

# stop_mid_read PID FILE: stops PID (SIGSTOP) while its read offset in FILE is
# past 0 and short of FILE's size, and prints that offset.  Returns 1 if PID
# finished reading or exited first (the caller then cannot test anything).
stop_mid_read() {
	local pid=$1 file=$2 size fd="" n pos i
	size=$(stat -c %s "$file")
	for ((i = 0; i < 20000; i++)); do
		kill -0 "$pid" 2>/dev/null || return 1
		if [[ -z $fd ]]; then
			for n in /proc/"$pid"/fd/*; do
				# -ef compares device and inode through the fd's symlink
				if [[ $n -ef $file ]]; then
					fd=${n##*/}
					break
				fi
			done
			[[ -n $fd ]] || sleep 0.005
			continue
		fi
		pos=$(fd_pos "$pid" "$fd" 2>/dev/null) || return 1
		if ((pos == 0)); then
			sleep 0.005
			continue
		fi
		kill -STOP "$pid"
		# The offset after the stop is final until SIGCONT.
		pos=$(fd_pos "$pid" "$fd") || return 1
		if ((pos > 0 && pos < size)); then
			echo "$pos"
			return 0
		fi
		kill -CONT "$pid"
		return 1
	done
	return 1
}

# change_while_signing NAME HOW: signs a fresh sparse file NAME of MID bytes and,
# while the CLI hashes it, changes it as HOW says (grow, shrink, poke,
# replace, none).  Leaves the exit status in rc and the JSON in NAME.json.
change_while_signing() {
	local name=$1 how=$2 pid attempt pos
	for attempt in 1 2 3; do
		rm -f "$name" "$name.sig"
		truncate -s "$MID" "$name"
		"$S" sign "$name" --key build-signing --json >"$name.json" 2>"$name.err" &
		pid=$!
		if ! pos=$(stop_mid_read "$pid" "$name"); then
			wait "$pid" || true
			echo "attempt $attempt: the CLI read $name before it could be stopped; again" >&2
			continue
		fi
		case $how in
		grow) printf 'appended' >>"$name" ;;
		shrink) truncate -s $((MID - 4096)) "$name" ;;
		poke) printf 'X' | dd of="$name" bs=1 seek=$((MID - 10)) conv=notrunc status=none ;;
		replace)
			truncate -s "$MID" "$name.new"
			mv "$name.new" "$name"
			;;
		none) ;;
		*) fail "unknown change $how" ;;
		esac
		kill -CONT "$pid"
		rc=0
		wait "$pid" || rc=$?
		echo "$how: stopped at offset $pos of $MID, exit $rc" >&2
		return 0
	done
	fail "could not stop the CLI in the middle of reading $name in 3 attempts"
}

# --- a 2 GiB file, signed and verified by openssl; stderr not a terminal: silent ---
truncate -s "$GIB2" big.bin
printf 'end' >>big.bin
"$S" pubkey --key build-signing -o pub.pem
"$S" sign big.bin --key build-signing --json >big.json 2>big.err
[[ ! -s big.err ]] || fail "sign wrote to a stderr that is not a terminal: $(od -c big.err | head -3)"
python3 -c 'import json,sys; d=json.load(open("big.json")); sys.exit(0 if d["ok"] and d["files"][0]["size"] == '$((GIB2 + 3))' else 1)' ||
	fail "sign --json of 2 GiB: $(cat big.json)"
out=$(openssl dgst -sha256 -verify pub.pem -signature big.bin.sig big.bin 2>&1)
[[ $out == "Verified OK" ]] || fail "openssl on the 2 GiB signature: $out"
pass "2 GiB file signed, verified by openssl, nothing on a non-terminal stderr"

# --- a terminal gets a progress line, erased at the end ---
rm -f big.bin.sig
script -qec "'$S' sign big.bin --key build-signing" /dev/null >tty.out 2>&1 ||
	fail "sign on a pty failed: $(tr '\r' '\n' <tty.out | tail -3)"
grep -q 'MiB/s' tty.out || fail "no progress line on a terminal: $(od -c tty.out | head -5)"
grep -q $'\r' tty.out || fail "the progress line is not redrawn in place"
grep -q $'\r\033\\[K' tty.out || fail "the progress line is not erased at the end"
tr '\r' '\n' <tty.out | grep -q 'signed with build-signing' || fail "no result line on the pty"
[[ -s big.bin.sig ]] || fail "no signature file after the pty run"
pass "progress line on a terminal"

# --- a file that changes while it is hashed is refused and never sent ---
audit_count() {
	sqlite3 "$DEVDIR/audit.db" "SELECT count(*) FROM records WHERE artifact = '$1'"
}
for how in grow shrink poke replace; do
	name=changed-$how.bin
	change_while_signing "$name" "$how"
	[[ $rc -eq 2 ]] || fail "$how: exit $rc, not 2; $(cat "$name.err")"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); f=d["files"][0]; sys.exit(0 if not d["ok"] and f["error"]["name"] == "file_changed" else 1)' "$name.json" ||
		fail "$how: JSON is not a file_changed failure: $(cat "$name.json")"
	grep -q 'file changed' "$name.err" || fail "$how: stderr does not say why: $(cat "$name.err")"
	[[ ! -e $name.sig ]] || fail "$how: a signature file was written"
	[[ $(audit_count "$name") == 0 ]] || fail "$how: the appliance was asked to sign"
done
pass "grown, shrunk, overwritten and replaced files refused (exit 2, file_changed, nothing sent)"

# The same stop and continue without a change signs: the stop itself is harmless.
change_while_signing still.bin none
[[ $rc -eq 0 ]] || fail "an unchanged file stopped mid-read was refused: $(cat still.bin.err)"
[[ $(audit_count still.bin) == 1 ]] || fail "the unchanged file was not signed once"
out=$(openssl dgst -sha256 -verify pub.pem -signature still.bin.sig still.bin 2>&1)
[[ $out == "Verified OK" ]] || fail "openssl on still.bin: $out"
pass "control: a file stopped mid-read but unchanged is signed"

# --- verify refuses a file that changes while it is hashed (exit 2, not a verdict) ---
cp --sparse=always still.bin vgrow.bin
"$S" verify vgrow.bin --sig still.bin.sig --pubkey pub.pem --json >v.json 2>v.err &
pid=$!
if pos=$(stop_mid_read "$pid" vgrow.bin); then
	printf 'more' >>vgrow.bin
	kill -CONT "$pid"
	rc=0
	wait "$pid" || rc=$?
	[[ $rc -eq 2 ]] || fail "verify of a growing file: exit $rc, not 2"
	grep -q '"file_changed"' v.json || fail "verify of a growing file: $(cat v.json)"
	pass "verify refuses a file that grows while it is hashed"
else
	wait "$pid" || true
	fail "could not stop verify in the middle of reading"
fi
