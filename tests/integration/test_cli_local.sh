#!/usr/bin/env bash
# test_cli_local: the parts of the signet CLI that need no appliance: usage
# errors, --help, local verification of signatures made by openssl (which is
# the judge), tampered and missing files, and the exit code of an appliance
# nobody answers for.  Exit codes: docs/cli.md.
set -euo pipefail

signet=${SG_BINARY_DIR:?SG_BINARY_DIR must name the build directory}/bin/signet
[[ -x "$signet" ]] || { echo "test_cli_local: $signet not built" >&2; exit 1; }
source "${SG_SOURCE_DIR:?SG_SOURCE_DIR must name the source directory}/tests/lib/devenv.sh"
work=$(mktemp -d /tmp/signet-cli-local.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
unset SIGNET_CONFIG SIGNET_JOB_ID CI_JOB_ID

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# expect CODE CMD...: runs CMD, checks its exit code; its stdout is left in out.txt.
expect() {
	local want=$1 got=0
	shift
	"$@" >out.txt 2>err.txt || got=$?
	if [[ "$got" != "$want" ]]; then
		fail "exit $got, expected $want: $*"
		sed 's/^/  stderr: /' err.txt >&2
	fi
}

# json_check EXPR: out.txt holds exactly one JSON document and EXPR (Python, on d) holds.
json_check() {
	if ! python3 -c 'import json,sys; d=json.load(open("out.txt")); sys.exit(0 if ('"$1"') else 1)'; then
		fail "JSON check '$1' failed on: $(cat out.txt)"
	fi
}

# --- usage errors: 2 ---
expect 2 "$signet"
expect 2 "$signet" frobnicate
expect 2 "$signet" sign
expect 2 "$signet" sign a.bin
expect 2 "$signet" sign a.bin --key bad/name
expect 2 "$signet" sign a.bin b.bin --key k -o x.sig
expect 2 "$signet" sign a.bin --key k --hash md5
expect 2 "$signet" sign a.bin --key k --pad none
expect 2 "$signet" sign a.bin --key k --depth 0
expect 2 "$signet" sign --no-such-option
expect 2 "$signet" verify a.bin
expect 2 "$signet" verify a.bin --sig a.sig
expect 2 "$signet" verify a.bin --sig a.sig --key k --pubkey p.pem
expect 2 "$signet" verify a.bin b.bin --sig a.sig --pubkey p.pem
expect 2 "$signet" keys extra-argument
expect 2 "$signet" pubkey
expect 2 "$signet" ping --key k
expect 2 "$signet" --json sign
json_check 'd["ok"] is False and d["error"]["name"] == "invalid_argument"'

# --- --help of each command: 0, on stdout, naming its options ---
expect 0 "$signet" --help
grep -q 'Exit status' out.txt || fail "signet --help does not describe the exit status"
expect 0 "$signet" sign --help
for o in --key --hash --pad --output --job --force --depth --config --json; do
	grep -q -- "$o" out.txt || fail "sign --help does not mention $o"
done
expect 0 "$signet" verify --help
for o in --sig --key --pubkey --hash --pad --json; do
	grep -q -- "$o" out.txt || fail "verify --help does not mention $o"
done
expect 0 "$signet" keys --help
expect 0 "$signet" pubkey --help
grep -q -- "--output" out.txt || fail "pubkey --help does not mention --output"
expect 0 "$signet" ping --help
expect 0 "$signet" timestamp --help
for o in --output --request --hash --job --force --json; do
	grep -q -- "$o" out.txt || fail "timestamp --help does not mention $o"
done
expect 0 "$signet" bundle export --help
for o in --ca --crl --json; do
	grep -q -- "$o" out.txt || fail "bundle export --help does not mention $o"
done
expect 0 "$signet" sign --help
for o in --format --timestamp; do
	grep -q -- "$o" out.txt || fail "sign --help does not mention $o"
done
for c in timestamp bundle; do
	grep -q "^  $c" <("$signet" --help) || fail "signet --help does not list $c"
done

# --- usage errors of timestamp and bundle: 2, before any configuration is needed ---
expect 2 "$signet" timestamp
expect 2 "$signet" timestamp a.bin b.bin
expect 2 "$signet" timestamp --request req.tsq
expect 2 "$signet" timestamp a.bin --hash md5
expect 2 "$signet" bundle
expect 2 "$signet" bundle import x
expect 2 "$signet" bundle export
expect 2 "$signet" bundle export dir          # no --ca
expect 2 "$signet" sign a.bin --key k --format pdf
expect 2 "$signet" sign a.bin --key k --timestamp

# --- no configuration: 2 ---
printf 'artifact\n' >a.bin
expect 2 "$signet" ping
expect 2 "$signet" keys --json
json_check 'd["ok"] is False and d["error"]["name"] == "config"'
expect 2 "$signet" --config "$work/missing.conf" ping

# --- local verification, openssl as the signer ---
head -c 1000000 /dev/urandom >artifact.bin
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key 2>/dev/null
openssl pkey -in ec.key -pubout -out ec.pem
openssl dgst -sha256 -sign ec.key -out artifact.sig artifact.bin
expect 0 "$signet" verify artifact.bin --sig artifact.sig --pubkey ec.pem
grep -q 'Verified OK' err.txt || fail "verify did not say Verified OK"
expect 0 "$signet" verify artifact.bin --sig artifact.sig --pubkey ec.pem --json
json_check 'd["ok"] is True and d["verified"] is True and d["hash"] == "sha256"'
# The digest it reports is the file's.
want=$(openssl dgst -sha256 -r artifact.bin | cut -d' ' -f1)
json_check 'd["digest"] == "'"$want"'"'
# Wrong hash, tampered file, tampered signature, another key: 1.
expect 1 "$signet" verify artifact.bin --sig artifact.sig --pubkey ec.pem --hash sha384
cp artifact.bin tampered.bin
flip_byte tampered.bin 500000
expect 1 "$signet" verify tampered.bin --sig artifact.sig --pubkey ec.pem
grep -q 'Verification failure' err.txt || fail "verify of a tampered file did not say so"
expect 1 "$signet" verify tampered.bin --sig artifact.sig --pubkey ec.pem --json
json_check 'd["ok"] is False and d["verified"] is False and d["error"]["name"] == "bad_signature"'
cp artifact.sig bad.sig
flip_byte bad.sig 20
expect 1 "$signet" verify artifact.bin --sig bad.sig --pubkey ec.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key 2>/dev/null
openssl pkey -in other.key -pubout -out other.pem
expect 1 "$signet" verify artifact.bin --sig artifact.sig --pubkey other.pem
head -c 5000 /dev/urandom >huge.sig
expect 1 "$signet" verify artifact.bin --sig huge.sig --pubkey ec.pem
# PSS on an EC key is a usage error.
expect 2 "$signet" verify artifact.bin --sig artifact.sig --pubkey ec.pem --pad pss

# RSA: PKCS#1 v1.5 and PSS with salt = hash length.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
openssl pkey -in rsa.key -pubout -out rsa.pem
openssl dgst -sha384 -sign rsa.key -out rsa.sig artifact.bin
expect 0 "$signet" verify artifact.bin --sig rsa.sig --pubkey rsa.pem --hash sha384
expect 0 "$signet" verify artifact.bin --sig rsa.sig --pubkey rsa.pem --hash sha384 --pad pkcs1
expect 1 "$signet" verify artifact.bin --sig rsa.sig --pubkey rsa.pem --hash sha384 --pad pss
openssl dgst -sha512 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:64 \
	-sign rsa.key -out pss.sig artifact.bin
expect 0 "$signet" verify artifact.bin --sig pss.sig --pubkey rsa.pem --hash sha512 --pad pss
expect 1 "$signet" verify artifact.bin --sig pss.sig --pubkey rsa.pem --hash sha512
expect 1 "$signet" verify tampered.bin --sig pss.sig --pubkey rsa.pem --hash sha512 --pad pss

# Missing or unreadable inputs: 2.
expect 2 "$signet" verify missing.bin --sig artifact.sig --pubkey ec.pem
expect 2 "$signet" verify artifact.bin --sig missing.sig --pubkey ec.pem
expect 2 "$signet" verify artifact.bin --sig artifact.sig --pubkey missing.pem
printf 'not a key\n' >junk.pem
expect 2 "$signet" verify artifact.bin --sig artifact.sig --pubkey junk.pem
expect 2 "$signet" verify . --sig artifact.sig --pubkey ec.pem --json
json_check 'd["ok"] is False'

# --- sign: local refusals happen before the appliance is asked ---
# A missing file or an existing signature needs no configuration to be refused.
expect 2 "$signet" sign missing.bin --key build-signing
[[ ! -e missing.bin.sig ]] || fail "a signature was written for a missing file"
cp artifact.sig artifact.bin.sig
expect 2 "$signet" sign artifact.bin --key build-signing --json
json_check 'd["ok"] is False and d["files"][0]["ok"] is False and "exists" in d["files"][0]["error"]["message"]'
cmp -s artifact.sig artifact.bin.sig || fail "an existing signature was modified"
rm -f artifact.bin.sig

# --- an appliance nobody answers for: 3, and no signature file ---
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Any 32 bytes are a CURVE secret key; these two are Z85 for fixed patterns.
printf '%s\n' 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7' >client.key
chmod 600 client.key
cat >client.conf <<EOF
endpoint: tcp://127.0.0.1:$port
server_public_key: "Yne@\$w-vo<fVvi]a<NY6T1ed:M\$fCG*[IaLV{hID"
secret_key_file: $work/client.key
timeout_ms: 600
EOF
expect 3 "$signet" --config client.conf ping
expect 3 "$signet" sign artifact.bin --key build-signing --config client.conf --json
json_check 'd["ok"] is False and d["error"]["name"] == "unavailable"'
[[ ! -e artifact.bin.sig ]] || fail "a signature file was written without an appliance"
SIGNET_CONFIG=$work/client.conf expect 3 "$signet" keys
# An insecure secret key file is a local error: 2.
chmod 644 client.key
expect 2 "$signet" --config client.conf ping
grep -q 'secret_key_file' err.txt || fail "the insecure key file is not named"
if grep -q 'rq:rM' err.txt out.txt; then fail "the secret key appears in a message"; fi

if ((failures > 0)); then
	echo "test_cli_local: $failures failure(s)" >&2
	exit 1
fi
echo "test_cli_local: ok"
