# Helpers shared by the integration tests and the benchmark scripts (sourced):
# a free TCP port for a dev appliance, and its teardown.

# A TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# devenv_teardown RC: stops the appliance in $DEVDIR (with signet-dev $DEV),
# shows the end of its log if RC says the caller failed, removes $WORK.
devenv_teardown() {
	local rc=$1
	if [[ -n "${DEVDIR:-}" ]]; then
		"$DEV" down "$DEVDIR" >/dev/null 2>&1 || true
		if [[ $rc -ne 0 && -f "$DEVDIR/signetd.log" ]]; then
			echo "--- signetd.log (last 40 lines)" >&2
			tail -n 40 "$DEVDIR/signetd.log" >&2
		fi
	fi
	if [[ -n "${WORK:-}" ]]; then
		rm -rf "$WORK"
	fi
}

# flip_byte FILE OFFSET: inverts every bit of one byte in place, so the file
# is certain to change (writing a fixed byte would leave it unchanged when it
# already held that byte).
flip_byte() {
	local f=$1 off=$2 b
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	[[ -n "$b" ]] || return 1
	# shellcheck disable=SC2059 # the format is the octal escape of the new byte
	printf "$(printf '\\%03o' $((b ^ 255)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}
