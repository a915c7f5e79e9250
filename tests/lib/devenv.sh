# Helpers shared by the integration tests and the benchmark scripts (sourced):
# a free TCP port for a dev appliance, and its teardown.

# A TCP port on 127.0.0.1 that nothing listens on, outside the kernel's
# ephemeral range: a port in that range may be the local end of some
# client's connection, which a listen() on it would collide with.
free_port() {
	local p lo=32768 hi=60999 base span
	if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
		read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	fi
	if ((lo > 12000)); then
		base=10000 span=$((lo - 10000))
	else
		base=$((hi + 1)) span=$((65535 - hi))
	fi
	for _ in $(seq 1 100); do
		p=$((base + RANDOM % span))
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
