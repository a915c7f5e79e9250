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


# A port taken between free_port and signetd's bind: dev_up retries with another.
held=$(mktemp "${TMPDIR:-/tmp}/signet-port.XXXXXX")
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(120)' >"$held" &
holder=$!
for _ in $(seq 1 50); do [[ -s "$held" ]] && break; sleep 0.1; done
busy=$(cat "$held")
out=$(bash -c '
	source "$SG_SOURCE_DIR/tests/integration/lib.sh"
	# The first answer is a port that is already taken.  free_port runs in a
	# command substitution (a subshell): remember the first call in a file.
	free_port() {
		if [[ ! -e "'"$held"'.called" ]]; then
			: >"'"$held"'.called"
			echo "'"$busy"'"
		else
			echo $((20000 + RANDOM % 10000))
		fi
	}
	dev_up
	"$BIN/signet" ping >/dev/null && echo "serving on $SIGNET_DEV_PORT"
' 2>&1) || true
kill "$holder" 2>/dev/null || true
rm -f "$held" "$held.called"
grep -q "port $busy was taken meanwhile; trying another" <<<"$out" || fail "dev_up did not retry: $out"
grep -q "serving on" <<<"$out" || fail "dev_up did not come up on another port: $out"
pass "dev_up retries when its port is taken"
