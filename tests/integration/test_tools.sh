#!/usr/bin/env bash
# test_tools.sh: signet-token and signet-keygen against throwaway SoftHSMv2
# tokens in a temporary directory.  pkcs11-tool and openssl are the judges:
# keys made by signet-token must sign with pkcs11-tool and verify with
# openssl against the PEM that signet-token exports.
#
# Run by ctest with SG_BINARY_DIR set to the build directory, or by hand:
#   SG_BINARY_DIR=build-tools bash tests/integration/test_tools.sh
set -euo pipefail

bin=${SG_BINARY_DIR:?SG_BINARY_DIR must name the build directory}/bin
tok=$bin/signet-token
kg=$bin/signet-keygen
module=${SG_TEST_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
for f in "$tok" "$kg" "$module"; do
	[[ -e $f ]] || { echo "FAIL: $f does not exist (build signet-token and signet-keygen)" >&2; exit 1; }
done
for t in pkcs11-tool openssl; do
	command -v "$t" >/dev/null || { echo "FAIL: $t is needed" >&2; exit 1; }
done

umask 077
work=$(mktemp -d "${TMPDIR:-/tmp}/signet-tools.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/tokens"
cat >"$work/softhsm2.conf" <<CONF
directories.tokendir = $work/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF=$work/softhsm2.conf

# Every stdout and stderr of the two tools lands in $log as well; at the end
# it must not contain a PIN or a CURVE secret key.
log=$work/tool-output.log
: >"$log"
checks=0

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

ok() {
	checks=$((checks + 1))
	echo "ok $checks - $*"
}

# run WANT NAME CMD...: runs CMD, stdout to $work/NAME.out, stderr to
# $work/NAME.err, and fails unless it exits with status WANT.
run() {
	local want=$1 name=$2 rc=0
	shift 2
	"$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
	cat "$work/$name.out" "$work/$name.err" >>"$log"
	if [[ $rc -ne $want ]]; then
		sed 's/^/  | /' "$work/$name.err" >&2
		fail "$name: exit status $rc, expected $want"
	fi
}

# expect_in FILE TEXT WHAT: FILE must contain TEXT (a fixed string).
expect_in() {
	grep -qF -- "$2" "$1" || { sed 's/^/  | /' "$1" >&2; fail "$3: '$2' not in $(basename "$1")"; }
}

rand_hex() {
	od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# Distinctive PINs so that the final grep cannot match by accident.
pin="usr-$(rand_hex 8)"
so_pin="so-$(rand_hex 8)"
printf '%s\n' "$pin" >"$work/pin"
printf '%s\n' "$so_pin" >"$work/so-pin"
printf 'wrong-%s\n' "$(rand_hex 4)" >"$work/wrong-pin"
chmod 600 "$work/pin" "$work/so-pin" "$work/wrong-pin"

# slot_of LABEL: the slot id of the one token labelled exactly LABEL.
# pkcs11-tool's --token-label matches prefixes ("dev" finds "dev-2"), so the
# judge addresses tokens by slot id.
slot_of() {
	pkcs11-tool --module "$module" -L 2>/dev/null | awk -v want="$1" '
		/^Slot [0-9]+ \(0x[0-9a-f]+\)/ { id = $3; gsub(/[()]/, "", id) }
		/^  token label *:/ {
			l = $0; sub(/^  token label *: /, "", l); sub(/ +$/, "", l)
			if (l == want) { print id; n++ }
		}
		END { exit n == 1 ? 0 : 1 }'
}

# p11 SLOT ARGS...: pkcs11-tool logged in to SLOT.  The test PIN is on its
# command line: acceptable for this throwaway token only; Signet's own tools
# never take a PIN from argv.
p11() {
	local slot=$1
	shift
	pkcs11-tool --module "$module" --slot "$slot" --login --pin "$pin" "$@"
}

# objects SLOT NAME: the objects of SLOT as pkcs11-tool lists them, in $work/NAME
# (a file, not a pipe: "grep -q" closing a pipe early would fail the pipeline).
objects() {
	p11 "$1" -O >"$work/$2" 2>"$work/$2.err" || fail "pkcs11-tool -O on slot $1: $(cat "$work/$2.err")"
}

common=(--module "$module" --pin-file "$work/pin")

# ---- signet-token init ----
run 0 init-dev "$tok" init --module "$module" --label dev --so-pin-file "$work/so-pin" \
	--pin-file "$work/pin"
slot_of dev >/dev/null || fail "no token labelled dev after init"
ok "init creates token dev"

run 1 init-dev-again "$tok" init --module "$module" --label dev --so-pin-file "$work/so-pin" \
	--pin-file "$work/pin"
expect_in "$work/init-dev-again.err" "exists already" "second init of dev"
[[ $(pkcs11-tool --module "$module" -L 2>/dev/null | grep -c "token label *: dev *$") -eq 1 ]] ||
	fail "a second token labelled dev exists"
ok "init with an existing label is refused"

run 0 init-dev2 "$tok" init --module "$module" --label dev-2 --so-pin-file "$work/so-pin" \
	--pin-file "$work/pin"
slot_dev=$(slot_of dev) || fail "token dev not found"
slot_dev2=$(slot_of dev-2) || fail "token dev-2 not found"
[[ $slot_dev != "$slot_dev2" ]] || fail "dev and dev-2 share slot $slot_dev"
ok "init dev-2 beside dev (dev is a prefix of dev-2)"

chmod 644 "$work/so-pin"
run 1 init-loose-so-pin "$tok" init --module "$module" --label loose --so-pin-file "$work/so-pin" \
	--pin-file "$work/pin"
expect_in "$work/init-loose-so-pin.err" "refused" "init with a 0644 SO PIN file"
chmod 600 "$work/so-pin"
slot_of loose >/dev/null && fail "token 'loose' was created from a 0644 SO PIN file"
ok "init refuses a 0644 SO PIN file"

# ---- signet-token keygen, one key per algorithm, all on dev ----
algs=(ec-p256 ec-p384 rsa-2048 rsa-3072 rsa-4096)
declare -A key_id
for alg in "${algs[@]}"; do
	run 0 "keygen-$alg" "$tok" keygen "${common[@]}" --token dev --label "k-$alg" --alg "$alg"
	line=$(cat "$work/keygen-$alg.out")
	[[ $line =~ ^label=k-$alg\ alg=$alg\ id=([0-9a-f]{16})$ ]] ||
		fail "keygen $alg printed '$line'"
	key_id[$alg]=${BASH_REMATCH[1]}
done
ok "keygen for each algorithm prints label, alg and an 8-byte random id"

run 0 keygen-id "$tok" keygen "${common[@]}" --token dev --label k-fixed-id --alg ec-p256 \
	--id 0A0b0C
[[ $(cat "$work/keygen-id.out") == "label=k-fixed-id alg=ec-p256 id=0a0b0c" ]] ||
	fail "keygen --id printed '$(cat "$work/keygen-id.out")'"
ok "keygen --id uses the given id"

# The judge: each key pair is on dev (not dev-2), with one id for both halves,
# and the private key is sensitive, never extractable and signs only.
objects "$slot_dev" objects-dev
objects "$slot_dev2" objects-dev2
for alg in "${algs[@]}"; do
	n=$(grep -cE "^  label: +k-$alg$" "$work/objects-dev" || true)
	[[ $n -eq 2 ]] || fail "token dev holds $n objects labelled k-$alg, expected 2"
	n=$(grep -cE "^  ID: +${key_id[$alg]}$" "$work/objects-dev" || true)
	[[ $n -eq 2 ]] || fail "token dev holds $n objects with id ${key_id[$alg]} (k-$alg)"
	awk -v l="k-$alg" '/^Private Key Object/ { p = 1; next } /^[A-Z]/ { p = 0 }
		p && $1 == "label:" && $2 == l { f = 1 } END { exit !f }' "$work/objects-dev" ||
		fail "no private key k-$alg on dev"
done
[[ $(grep -c "^Private Key Object" "$work/objects-dev") -eq 6 ]] || fail "dev: not 6 private keys"
[[ $(grep -c "Access: *sensitive, always sensitive, never extractable, local" \
	"$work/objects-dev") -eq 6 ]] || fail "a private key is not sensitive and never extractable"
[[ $(grep -c "Usage: *sign$" "$work/objects-dev") -eq 6 ]] ||
	fail "a private key may do more than sign"
if grep -q "Object" "$work/objects-dev2"; then
	fail "keygen on dev left objects on dev-2: $(cat "$work/objects-dev2")"
fi
ok "keys land on dev only, private keys sensitive, never extractable, sign only"

run 0 list-json "$tok" list "${common[@]}" --token dev --json
for alg in ec-p256 ec-p384; do
	expect_in "$work/list-json.out" "{\"label\":\"k-$alg\",\"id\":\"${key_id[$alg]}\",\"type\":\"ec\"" "list --json"
done
expect_in "$work/list-json.out" '"type":"ec","bits":256,"curve":"P-256","alg":"ec-p256"' "list --json"
expect_in "$work/list-json.out" '"type":"ec","bits":384,"curve":"P-384","alg":"ec-p384"' "list --json"
for bits in 2048 3072 4096; do
	expect_in "$work/list-json.out" "{\"label\":\"k-rsa-$bits\",\"id\":\"${key_id[rsa-$bits]}\",\"type\":\"rsa\",\"bits\":$bits,\"alg\":\"rsa-$bits\"}" "list --json"
done
[[ $(grep -o '"label"' "$work/list-json.out" | wc -l) -eq 6 ]] || fail "list --json: not 6 keys"
if command -v python3 >/dev/null; then
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["token"]=="dev" and len(d["keys"])==6' \
		"$work/list-json.out" || fail "list --json is not the expected JSON"
fi
run 0 list-text "$tok" list "${common[@]}" --token dev
grep -qE "^k-rsa-3072 +${key_id[rsa-3072]} +rsa +3072 +rsa-3072$" "$work/list-text.out" ||
	fail "list: no line for k-rsa-3072: $(cat "$work/list-text.out")"
run 0 list-dev2 "$tok" list "${common[@]}" --token dev-2 --json
[[ $(cat "$work/list-dev2.out") == '{"token":"dev-2","keys":[]}' ]] ||
	fail "list dev-2: $(cat "$work/list-dev2.out")"
ok "list shows the keys of dev (text and JSON) and none on dev-2"

run 0 keygen-on-dev2 "$tok" keygen "${common[@]}" --token dev-2 --label only-dev2 --alg ec-p256
objects "$slot_dev2" objects-dev2
objects "$slot_dev" objects-dev
grep -qE "^  label: +only-dev2$" "$work/objects-dev2" || fail "only-dev2 not on dev-2"
grep -qE "^  label: +only-dev2$" "$work/objects-dev" && fail "only-dev2 is on dev"
ok "keygen on dev-2 lands on dev-2 only"

run 1 keygen-dup "$tok" keygen "${common[@]}" --token dev --label k-ec-p256 --alg ec-p384
expect_in "$work/keygen-dup.err" "exists already" "duplicate key label"
objects "$slot_dev" objects-dev
[[ $(grep -cE "^  label: +k-ec-p256$" "$work/objects-dev") -eq 2 ]] ||
	fail "a second key labelled k-ec-p256 was made"
run 1 keygen-dup-id "$tok" keygen "${common[@]}" --token dev --label other --alg ec-p256 --id 0a0b0c
expect_in "$work/keygen-dup-id.err" "exists already" "duplicate key id"
ok "keygen refuses an existing key label or id"

run 1 keygen-no-token "$tok" keygen "${common[@]}" --token de --label x --alg ec-p256
expect_in "$work/keygen-no-token.err" "no token labelled 'de'" "keygen on a label prefix"
ok "a prefix of a token label finds no token"

# ---- PIN files ----
run 1 list-wrong-pin "$tok" list --module "$module" --pin-file "$work/wrong-pin" --token dev
expect_in "$work/list-wrong-pin.err" "CKR_PIN_INCORRECT" "wrong PIN"
run 1 keygen-wrong-pin "$tok" keygen --module "$module" --pin-file "$work/wrong-pin" --token dev \
	--label wp --alg ec-p256
expect_in "$work/keygen-wrong-pin.err" "CKR_PIN_INCORRECT" "wrong PIN"
ok "a wrong PIN fails with exit 1 and CKR_PIN_INCORRECT"

cp "$work/pin" "$work/pin-0644"
chmod 644 "$work/pin-0644"
run 1 list-0644 "$tok" list --module "$module" --pin-file "$work/pin-0644" --token dev
expect_in "$work/list-0644.err" "refused" "0644 PIN file"
run 1 keygen-0644 "$tok" keygen --module "$module" --pin-file "$work/pin-0644" --token dev \
	--label loose --alg ec-p256
objects "$slot_dev" objects-dev
grep -qE "^  label: +loose$" "$work/objects-dev" && fail "key made with a 0644 PIN file"
ok "a 0644 PIN file is refused"

# ---- pubkey, then pkcs11-tool signs and openssl verifies ----
for alg in "${algs[@]}"; do
	pem=$work/k-$alg.pem
	run 0 "pubkey-$alg" "$tok" pubkey "${common[@]}" --token dev --label "k-$alg" -o "$pem"
	run 0 "pubkey-stdout-$alg" "$tok" pubkey "${common[@]}" --token dev --label "k-$alg"
	cmp -s "$pem" "$work/pubkey-stdout-$alg.out" || fail "pubkey $alg: -o and stdout differ"
	openssl pkey -pubin -in "$pem" -noout -text >"$work/pem-$alg.txt" 2>&1 ||
		fail "openssl cannot read the PEM of k-$alg"
	case $alg in
	ec-p256) hash=sha256 dlen=32 mech=ECDSA want="NIST CURVE: P-256" ;;
	ec-p384) hash=sha384 dlen=48 mech=ECDSA want="NIST CURVE: P-384" ;;
	rsa-*) hash=sha256 dlen=32 mech=RSA-PKCS want="Public-Key: (${alg#rsa-} bit)" ;;
	*) fail "no case for $alg" ;;
	esac
	expect_in "$work/pem-$alg.txt" "$want" "PEM of k-$alg"
	head -c "$dlen" /dev/urandom >"$work/digest"
	head -c "$dlen" /dev/urandom >"$work/other-digest"
	cmp -s "$work/digest" "$work/other-digest" && fail "random digests are equal"
	if [[ $mech == RSA-PKCS ]]; then
		# CKM_RSA_PKCS signs a DigestInfo; openssl rebuilds it from -pkeyopt digest.
		printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20' |
			cat - "$work/digest" >"$work/tbs"
		fmt=()
	else
		cp "$work/digest" "$work/tbs"
		fmt=(--signature-format openssl)
	fi
	# By --id: pkcs11-tool 0.23 fails to sign with an EC key selected by --label.
	p11 "$slot_dev" --sign --mechanism "$mech" --id "${key_id[$alg]}" --input-file "$work/tbs" \
		--output-file "$work/sig" "${fmt[@]}" >/dev/null 2>"$work/p11-sign.err" ||
		fail "pkcs11-tool cannot sign with k-$alg: $(cat "$work/p11-sign.err")"
	openssl pkeyutl -verify -pubin -inkey "$pem" -pkeyopt "digest:$hash" -in "$work/digest" \
		-sigfile "$work/sig" >"$work/verify.out" 2>&1 ||
		fail "openssl does not verify the k-$alg signature: $(cat "$work/verify.out")"
	expect_in "$work/verify.out" "Signature Verified Successfully" "openssl verify k-$alg"
	if openssl pkeyutl -verify -pubin -inkey "$pem" -pkeyopt "digest:$hash" \
		-in "$work/other-digest" -sigfile "$work/sig" >"$work/verify-bad.out" 2>&1; then
		fail "openssl verifies the k-$alg signature over a different digest"
	fi
	expect_in "$work/verify-bad.out" "Signature Verification Failure" "openssl verify, other digest"
done
ok "pubkey PEMs verify pkcs11-tool signatures for every algorithm, and not over other digests"

# A key made on dev-2 has a different public key: the PEM of dev's k-ec-p256
# must not verify a signature of dev-2's only-dev2.
head -c 32 /dev/urandom >"$work/digest"
dev2_id=$(sed -n 's/^label=only-dev2 alg=ec-p256 id=\([0-9a-f]*\)$/\1/p' "$work/keygen-on-dev2.out")
[[ -n $dev2_id ]] || fail "no id for only-dev2"
p11 "$slot_dev2" --sign --mechanism ECDSA --id "$dev2_id" --input-file "$work/digest" \
	--output-file "$work/sig" --signature-format openssl >/dev/null 2>&1 || fail "sign on dev-2"
if openssl pkeyutl -verify -pubin -inkey "$work/k-ec-p256.pem" -in "$work/digest" \
	-sigfile "$work/sig" >/dev/null 2>&1; then
	fail "dev's k-ec-p256 verifies a signature of dev-2's key"
fi
ok "a public key does not verify another key's signature"

run 1 pubkey-missing "$tok" pubkey "${common[@]}" --token dev --label nope
expect_in "$work/pubkey-missing.err" "no public key labelled 'nope'" "pubkey of a missing key"
ok "pubkey of a missing key fails"

# ---- concurrent keygen (SoftHSM 2.6.1 cannot generate keys concurrently) ----
pids=()
for i in 1 2 3 4; do
	"$tok" keygen "${common[@]}" --token dev-2 --label "par-$i" --alg ec-p256 \
		>"$work/par-$i.out" 2>"$work/par-$i.err" &
	pids+=($!)
done
for i in 1 2 3 4; do
	wait "${pids[$((i - 1))]}" || fail "concurrent keygen par-$i: $(cat "$work/par-$i.err")"
	cat "$work/par-$i.out" "$work/par-$i.err" >>"$log"
done
run 0 list-par "$tok" list "${common[@]}" --token dev-2
for i in 1 2 3 4; do
	grep -qE "^par-$i +[0-9a-f]{16} +ec +P-256 +ec-p256$" "$work/list-par.out" ||
		fail "par-$i missing after concurrent keygen"
done
ok "four concurrent keygens all succeed"

# ---- --sync-dir fsyncs every file of the token directory ----
if strace -f -o /dev/null true 2>/dev/null; then
	# LeakSanitizer cannot run under ptrace: off for the traced runs of a sanitizer build.
	no_lsan=ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	env "$no_lsan" strace -f -y -e trace=fsync,fdatasync -o "$work/strace-sync" "$tok" keygen "${common[@]}" \
		--token dev-2 --label synced --alg ec-p256 --sync-dir "$work/tokens" \
		>>"$log" 2>&1 || fail "keygen --sync-dir failed"
	missing=0
	while IFS= read -r f; do
		grep -qF "<$f>) = 0" "$work/strace-sync" || { echo "not fsynced: $f" >&2; missing=1; }
	done < <(find "$work/tokens" \( -type f -o -type d \))
	[[ $missing -eq 0 ]] || fail "--sync-dir left files unsynced"
	env "$no_lsan" strace -f -y -e trace=fsync,fdatasync -o "$work/strace-nosync" "$tok" keygen "${common[@]}" \
		--token dev-2 --label unsynced --alg ec-p256 >>"$log" 2>&1 || fail "keygen failed"
	grep -q "<$work/tokens" "$work/strace-nosync" && fail "keygen without --sync-dir fsynced"
	ok "keygen --sync-dir fsyncs every file and directory under the token directory"
else
	run 0 keygen-sync "$tok" keygen "${common[@]}" --token dev-2 --label synced --alg ec-p256 \
		--sync-dir "$work/tokens"
	ok "keygen --sync-dir succeeds (strace unavailable: fsyncs not observed)"
fi
run 1 keygen-sync-missing "$tok" keygen "${common[@]}" --token dev-2 --label synced-2 \
	--alg ec-p256 --sync-dir "$work/no-such-dir"
expect_in "$work/keygen-sync-missing.err" "no-such-dir" "--sync-dir of a missing directory"
run 0 list-after-sync "$tok" list "${common[@]}" --token dev-2
grep -q "^synced-2 " "$work/list-after-sync.out" && fail "a key was made despite a bad --sync-dir"
ok "keygen --sync-dir of a missing directory fails before making a key"

# ---- usage errors exit 2, --help exits 0 ----
run 2 usage-alg "$tok" keygen "${common[@]}" --token dev --label u --alg ec-p521
expect_in "$work/usage-alg.err" "unknown --alg" "bad --alg"
run 2 usage-id "$tok" keygen "${common[@]}" --token dev --label u --alg ec-p256 --id abc
run 2 usage-missing "$tok" list --module "$module" --token dev
expect_in "$work/usage-missing.err" "--pin-file is required" "missing --pin-file"
# No PIN on argv, not even through getopt's abbreviations (--pin for --pin-file).
run 2 usage-pin-argv "$tok" list --module "$module" --token dev --pin 1234
expect_in "$work/usage-pin-argv.err" "unknown option --pin" "--pin on argv"
run 2 usage-cmd "$tok" frobnicate
run 2 usage-label "$tok" init --module "$module" --label "$(printf 'x%.0s' {1..33})" \
	--so-pin-file "$work/so-pin" --pin-file "$work/pin"
run 0 help "$tok" --help
for c in init keygen list pubkey; do
	expect_in "$work/help.out" "  $c " "signet-token --help"
	run 0 "help-$c" "$tok" "$c" --help
	expect_in "$work/help-$c.out" "usage: signet-token $c" "signet-token $c --help"
done
for o in --id --sync-dir --alg; do
	expect_in "$work/help-keygen.out" "$o" "signet-token keygen --help"
done
expect_in "$work/help-list.out" "--json" "signet-token list --help"
ok "usage errors exit 2, --help describes every command"

# ---- signet-keygen ----
run 0 kg "$kg" -o "$work/curve"
[[ $(stat -c %a "$work/curve") == 600 ]] || fail "secret key mode $(stat -c %a "$work/curve")"
[[ $(stat -c %a "$work/curve.pub") == 644 ]] || fail "public key mode $(stat -c %a "$work/curve.pub")"
[[ $(wc -c <"$work/curve") -eq 41 ]] || fail "secret key file is not 40 characters + newline"
grep -qxE '[[:graph:]]{40}' "$work/curve" || fail "secret key is not 40 Z85 characters"
cmp -s "$work/kg.out" "$work/curve.pub" || fail "printed public key differs from curve.pub"
cmp -s "$work/curve" "$work/curve.pub" && fail "secret and public key are equal"
ok "signet-keygen writes a 0600 secret key and a 0644 .pub, prints the public key"

secret_key=$(cat "$work/curve")
sum=$(sha256sum <"$work/curve")
run 1 kg-again "$kg" -o "$work/curve"
expect_in "$work/kg-again.err" "refusing to overwrite" "signet-keygen over an existing file"
[[ $(sha256sum <"$work/curve") == "$sum" ]] || fail "the secret key was overwritten"
ln -s "$work/elsewhere" "$work/curve-link"
run 1 kg-symlink "$kg" -o "$work/curve-link"
[[ -e $work/elsewhere ]] && fail "signet-keygen followed a symlink"
ok "signet-keygen refuses to overwrite a file or follow a symlink"

run 0 kg-public "$kg" --public "$work/curve"
cmp -s "$work/kg-public.out" "$work/curve.pub" || fail "--public differs from curve.pub"
run 0 kg2 "$kg" -o "$work/curve2"
cmp -s "$work/kg2.out" "$work/kg.out" && fail "two key pairs have the same public key"
chmod 644 "$work/curve"
run 1 kg-public-0644 "$kg" --public "$work/curve"
expect_in "$work/kg-public-0644.err" "refused" "--public of a 0644 file"
run 2 kg-usage "$kg"
ok "signet-keygen --public matches .pub; a 0644 secret key is refused"

# ---- no secret in any output ----
for secret in "$pin" "$so_pin" "$(cat "$work/wrong-pin")" "$secret_key" "$(cat "$work/curve2")"; do
	grep -qF -- "$secret" "$log" && fail "a secret appears in the tools' output"
done
# The check above must be able to see a secret if one were printed.
[[ -s $log ]] && grep -qF -- "$(cat "$work/curve.pub")" "$log" || fail "output log is not collected"
ok "no PIN and no CURVE secret key in any output"

echo "all $checks checks passed"
