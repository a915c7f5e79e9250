#!/usr/bin/env bash
# The CI path end to end with the real CLI: files of 0 B, 1 B and 100 MB
# signed with every key type (and every hash, and RSA-PSS) over tcp:// and
# ipc://, each signature verified by stock OpenSSL; tampering detected;
# denials and an unknown CURVE key answered with the documented exit codes.
source "$(dirname "$0")/lib.sh"
dev_up
S="$BIN/signet"
F=$WORK/files
mkdir -p "$F"
: >"$F/empty.bin"
printf 'x' >"$F/one.bin"
head -c 104857600 /dev/urandom >"$F/big.bin"

ossl_verify() { # pub hash file sig [pss]
	local extra=()
	[[ ${5:-} == pss ]] && extra=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest)
	openssl dgst "-$2" -verify "$1" "${extra[@]}" -signature "$4" "$3" 2>&1
}

for key in build-signing build-signing-p384 build-signing-rsa2048 build-signing-rsa3072; do
	"$S" pubkey --key "$key" -o "$WORK/$key.pub.pem"
	# the appliance's view of the public key is the token's
	cmp -s <(openssl pkey -pubin -in "$WORK/$key.pub.pem" -outform DER) \
		<(openssl pkey -pubin -in "$DEVDIR/keys/$key.pub.pem" -outform DER) ||
		fail "$key: signet pubkey differs from the token's public key"
	for f in empty one big; do
		"$S" sign "$F/$f.bin" --key "$key" -o "$WORK/$f.$key.sig"
		out=$(ossl_verify "$WORK/$key.pub.pem" sha256 "$F/$f.bin" "$WORK/$f.$key.sig")
		[[ $out == "Verified OK" ]] || fail "$key $f: openssl says: $out"
	done
	pass "$key: 0 B, 1 B and 100 MB signed and verified by openssl"
done

# every hash (P-256), and PSS for both RSA keys
for h in sha384 sha512; do
	"$S" sign "$F/one.bin" --key build-signing --hash "$h" -o "$WORK/one.$h.sig"
	out=$(ossl_verify "$WORK/build-signing.pub.pem" "$h" "$F/one.bin" "$WORK/one.$h.sig")
	[[ $out == "Verified OK" ]] || fail "sha $h: $out"
done
for key in build-signing-rsa2048 build-signing-rsa3072; do
	"$S" sign "$F/big.bin" --key "$key" --pad pss -o "$WORK/big.$key.pss.sig"
	out=$(ossl_verify "$WORK/$key.pub.pem" sha256 "$F/big.bin" "$WORK/big.$key.pss.sig" pss)
	[[ $out == "Verified OK" ]] || fail "$key pss: $out"
	# a PSS signature is not a PKCS#1 v1.5 one
	out=$(ossl_verify "$WORK/$key.pub.pem" sha256 "$F/big.bin" "$WORK/big.$key.pss.sig" || true)
	[[ $out != "Verified OK" ]] || fail "$key: PSS signature accepted as PKCS#1 v1.5"
done
pass "sha384, sha512 and RSA-PSS verified by openssl"

# default output name FILE.sig, and several files in one call
cp "$F/one.bin" "$WORK/a.bin"
cp "$F/empty.bin" "$WORK/b.bin"
"$S" sign "$WORK/a.bin" "$WORK/b.bin" --key build-signing
for x in a b; do
	[[ $(ossl_verify "$WORK/build-signing.pub.pem" sha256 "$WORK/$x.bin" "$WORK/$x.bin.sig") == "Verified OK" ]] ||
		fail "multi-file sign: $x"
done
pass "two files in one call, FILE.sig names"

# tampering: one changed byte fails with openssl and with signet verify (exit 1)
cp "$F/big.bin" "$WORK/tampered.bin"
flip_byte "$WORK/tampered.bin" 5000000
out=$(ossl_verify "$WORK/build-signing.pub.pem" sha256 "$WORK/tampered.bin" "$WORK/big.build-signing.sig" || true)
[[ ${out,,} == "verification failure" ]] || fail "openssl accepted a tampered file: $out"
"$S" verify "$F/big.bin" --sig "$WORK/big.build-signing.sig" --key build-signing >/dev/null 2>&1 ||
	fail "signet verify rejected a good signature"
rc=0
"$S" verify "$WORK/tampered.bin" --sig "$WORK/big.build-signing.sig" --pubkey "$WORK/build-signing.pub.pem" \
	>/dev/null 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "signet verify of a tampered file exited $rc, not 1"
pass "tampering detected (openssl and signet verify)"

# a key the CI client may not use: exit 1, and the reason on stderr
rc=0
"$S" sign "$F/one.bin" --key release-signing -o "$WORK/denied.sig" 2>"$WORK/denied.err" || rc=$?
[[ $rc -eq 1 ]] || fail "denied signing exited $rc, not 1"
grep -q denied "$WORK/denied.err" || fail "denial not explained: $(cat "$WORK/denied.err")"
[[ ! -e "$WORK/denied.sig" ]] || fail "a signature file was written for a denied request"
n=$(sqlite3 "$DEVDIR/audit.db" "SELECT count(*) FROM records WHERE key = 'release-signing' AND result = -30 AND client = 'ci'")
[[ $n == 1 ]] || fail "the denial has $n audit records, not 1"
pass "denied key: exit 1, no file, the refusal audited"

# keys: lists exactly the four CI keys
"$S" keys --json >"$WORK/keys.json"
for key in build-signing build-signing-p384 build-signing-rsa2048 build-signing-rsa3072; do
	grep -q "\"$key\"" "$WORK/keys.json" || fail "keys --json lacks $key"
done
! grep -q release-signing "$WORK/keys.json" || fail "keys lists a key the client may not use"
pass "keys --json"

# ipc:// works as well as tcp://
sed "s#^endpoint: .*#endpoint: ipc://$DEVDIR/signetd.sock#" "$DEVDIR/client.conf" >"$DEVDIR/client-ipc.conf"
SIGNET_CONFIG=$DEVDIR/client-ipc.conf "$S" sign "$F/one.bin" --key build-signing-p384 -o "$WORK/ipc.sig"
[[ $(ossl_verify "$WORK/build-signing-p384.pub.pem" sha256 "$F/one.bin" "$WORK/ipc.sig") == "Verified OK" ]] ||
	fail "ipc:// signature"
pass "ipc:// endpoint"

# an unknown CURVE key never gets a reply: exit 3 (unavailable) after the timeout
"$BIN/signet-keygen" -o "$DEVDIR/stranger.key" >/dev/null
sed -e "s#^secret_key_file: .*#secret_key_file: stranger.key#" "$DEVDIR/client.conf" >"$DEVDIR/stranger.conf"
echo "timeout_ms: 1500" >>"$DEVDIR/stranger.conf"
rc=0
SIGNET_CONFIG=$DEVDIR/stranger.conf "$S" ping >/dev/null 2>&1 || rc=$?
[[ $rc -eq 3 ]] || fail "an unknown client key got exit $rc, not 3"
grep -q "refused unknown CURVE client key" "$DEVDIR/signetd.log" || fail "refusal not logged"
pass "unknown CURVE key: no answer, exit 3, logged by fingerprint"

# nothing secret in the logs
for s in "$DEVDIR/user.pin" "$DEVDIR/so.pin" "$DEVDIR/server.key" "$DEVDIR/ci.key"; do
	! grep -qF "$(cat "$s")" "$DEVDIR/signetd.log" "$WORK"/*.err 2>/dev/null ||
		fail "a secret from $(basename "$s") appears in a log"
done
"$BIN/signet-audit" verify "$DEVDIR/audit.db" >/dev/null || fail "audit chain does not verify"
pass "no secrets in logs; audit chain verifies"
