#!/usr/bin/env bash
# signetd start-up: --check-config, refusals with clear messages (insecure
# key file, broken policy, module not on the allowlist, wrong PIN, unknown
# token), and the secrets hygiene of a running daemon (PIN not in argv or
# environment, core dumps off).
source "$(dirname "$0")/lib.sh"
dev_up
D=$BIN/signetd
conf=$DEVDIR/signetd.yaml

out=$("$D" -c "$conf" --check-config 2>&1) || fail "check-config of a good config: $out"
grep -q "configuration OK" <<<"$out" || fail "check-config said: $out"
rc=0; "$D" --bogus >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "an unknown option exited $rc, not 2"
"$D" --help | grep -q -- "--check-config" || fail "--help does not document --check-config"
pass "check-config and usage"

pid=$(cat "$DEVDIR/signetd.pid")
pin=$(cat "$DEVDIR/user.pin")
! tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qF "$pin" || fail "the PIN is in signetd's argv"
! tr '\0' '\n' <"/proc/$pid/environ" | grep -qF "$pin" || fail "the PIN is in signetd's environment"
grep -E '^Max core file size +0 +0 ' "/proc/$pid/limits" >/dev/null || fail "core dumps are not off"
pass "running daemon: PIN not in argv or environment, core dumps off"

# a second signetd on the same configuration refuses to start (pid file lock)
rc=0
SOFTHSM2_CONF=$DEVDIR/softhsm2.conf "$D" -c "$conf" 2>"$WORK/second.err" || rc=$?
[[ $rc -eq 1 ]] || fail "a second signetd exited $rc, not 1"
grep -q "another signetd (pid $pid) holds" "$WORK/second.err" || fail "second instance: $(cat "$WORK/second.err")"
[[ $(cat "$DEVDIR/signetd.pid") == "$pid" ]] || fail "the second instance touched the pid file"
"$BIN/signet" ping >/dev/null 2>&1 || fail "the first signetd stopped serving"
pass "a second instance is refused; the first goes on"
"$DEV" down "$DEVDIR" >/dev/null 2>&1

expect_refusal() { # what pattern
	local rc=0
	: >"$DEVDIR/signetd.log"
	SOFTHSM2_CONF=$DEVDIR/softhsm2.conf "$D" -c "$conf" 2>>"$DEVDIR/signetd.log" || rc=$?
	[[ $rc -eq 1 ]] || fail "$1: signetd exited $rc, not 1"
	grep -q "$2" "$DEVDIR/signetd.log" || fail "$1: the log does not say '$2': $(cat "$DEVDIR/signetd.log")"
	! grep -qF "$pin" "$DEVDIR/signetd.log" || fail "$1: the PIN is in the log"
	pass "$1 refused: $(grep -m1 -o "$2.*" "$DEVDIR/signetd.log" | cut -c1-100)"
}

chmod 644 "$DEVDIR/server.key"
rc=0; out=$("$D" -c "$conf" --check-config 2>&1) || rc=$?
[[ $rc -eq 1 ]] && grep -q "insecure" <<<"$out" || fail "check-config accepted a 0644 secret key: $out"
expect_refusal "a world-readable server key" "insecure"
chmod 600 "$DEVDIR/server.key"

cp "$DEVDIR/policy.yaml" "$WORK/policy.good"
printf 'version: 1\nclients:\n  - name: ci\n    colour: blue\n' >"$DEVDIR/policy.yaml"
rc=0; out=$("$D" -c "$conf" --check-config 2>&1) || rc=$?
[[ $rc -eq 1 ]] && grep -q "policy.yaml:4" <<<"$out" || fail "check-config of a bad policy: $out"
expect_refusal "a policy with an unknown field" "policy.yaml:4"
cp "$WORK/policy.good" "$DEVDIR/policy.yaml"

cp "$DEVDIR/pkcs11-modules.allow" "$WORK/allow.good"
echo "/usr/lib/x86_64-linux-gnu/libc.so.6" >"$DEVDIR/pkcs11-modules.allow"
expect_refusal "a module not on the allowlist" "is not listed in"
cp "$WORK/allow.good" "$DEVDIR/pkcs11-modules.allow"

cp "$DEVDIR/user.pin" "$WORK/pin.good"
echo "0000-wrong-pin" >"$DEVDIR/user.pin"
expect_refusal "a wrong PIN" "login"
! grep -q "0000-wrong-pin" "$DEVDIR/signetd.log" || fail "the wrong PIN is in the log"
cp "$WORK/pin.good" "$DEVDIR/user.pin"

sed -i 's/^  token_label: signet-dev$/  token_label: signet-de/' "$conf"
expect_refusal "a token label that is only a prefix" "signet-de"
sed -i 's/^  token_label: signet-de$/  token_label: signet-dev/' "$conf"

"$DEV" start "$DEVDIR" >/dev/null 2>&1 || fail "signetd does not start again with the good files"
echo x >"$WORK/x"
"$BIN/signet" sign "$WORK/x" --key build-signing >/dev/null 2>&1 || fail "signing after the refusals"
pass "starts and signs again once the files are right"
