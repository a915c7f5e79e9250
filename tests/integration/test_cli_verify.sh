#!/usr/bin/env bash
# test_cli_verify: `signet verify` on CMS detached signatures (.p7s) and RFC
# 3161 time-stamps (.tsr, bare tokens), and on verification bundles, with
# no appliance.  Everything it verifies is made by stock OpenSSL in a temp
# directory: a software CA (openssl req/x509/ca), `openssl cms -sign`, and
# `openssl ts -reply` as a software TSA; certificates valid in the past or the
# future and time-stamps of the past come from faketime.  The one step
# openssl cannot do, embedding a time-stamp token in a CMS, is done by
# sg_cms_ts_itest with OpenSSL's CMS API.  Wherever openssl can judge the
# same file (cms -verify, ts -verify), its verdict is checked to agree.
# Exit codes: docs/cli.md.
set -euo pipefail

: "${SG_BINARY_DIR:?SG_BINARY_DIR must name the build directory}"
signet=$SG_BINARY_DIR/bin/signet
addts=$SG_BINARY_DIR/tests/sg_cms_ts_itest
[[ -x $signet && -x $addts ]] || {
	echo "test_cli_verify: $signet or $addts not built" >&2
	exit 1
}
command -v faketime >/dev/null || {
	echo "SKIP: faketime is not installed (.ci/install-deps installs it)" >&2
	exit 77
}
source "${SG_SOURCE_DIR:?SG_SOURCE_DIR must name the source directory}/tests/lib/devenv.sh"
work=$(mktemp -d /tmp/signet-cli-verify.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
unset SIGNET_CONFIG SIGNET_JOB_ID CI_JOB_ID

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
pass() {
	echo "ok: $*"
}

# expect CODE CMD...: runs CMD, checks its exit code; stdout in out.txt, stderr in err.txt.
expect() {
	local want=$1 got=0
	shift
	"$@" >out.txt 2>err.txt || got=$?
	if [[ "$got" != "$want" ]]; then
		fail "exit $got, expected $want: $*"
		sed 's/^/  stdout: /' out.txt >&2
		sed 's/^/  stderr: /' err.txt >&2
	fi
}

# json_check EXPR: out.txt holds exactly one JSON document and EXPR (Python, on d) holds.
json_check() {
	if ! python3 -c 'import json,sys; d=json.load(open("out.txt")); sys.exit(0 if ('"$1"') else 1)'; then
		fail "JSON check '$1' failed on: $(cat out.txt)"
	fi
}

# ossl_ok CMD...: openssl must accept; ossl_no CMD...: openssl must refuse.
ossl_ok() { "$@" >/dev/null 2>ossl.err || fail "openssl refused: $* ($(tail -2 ossl.err))"; }
ossl_no() { if "$@" >/dev/null 2>&1; then fail "openssl accepted: $*"; fi; }

# ---------------------------------------------------------------- the PKI ---
cat >ext.cnf <<'EOF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[signer]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[email]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = emailProtection
[tsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
PAST='2019-06-01 00:00:00'

newkey() { # NAME [rsa]
	if [[ ${2:-} == rsa ]]; then
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" 2>/dev/null
	else
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
	fi
	openssl pkey -in "$1.key" -pubout -out "$1.pub"
}
mkroot() { # NAME: a self-signed root, valid from 2019 for 20 years
	newkey "$1"
	faketime "$PAST" openssl req -new -x509 -key "$1.key" -subj "/CN=$1" -days 7300 \
		-config ext.cnf -extensions ca -out "$1.pem"
}
mkcert() { # NAME ISSUER DAYS SECTION [WHEN] [rsa]: a certificate issued at WHEN (default now)
	local name=$1 issuer=$2 days=$3 sect=$4 when=${5:-} ft=()
	[[ -n $when ]] && ft=(faketime "$when")
	newkey "$name" "${6:-}"
	openssl req -new -key "$name.key" -subj "/CN=$name" -config ext.cnf -out "$name.csr"
	"${ft[@]}" openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" \
		-CAcreateserial -days "$days" -extfile ext.cnf -extensions "$sect" -out "$name.pem" 2>/dev/null
}
mkroot root
mkroot other-root
mkcert inter root 7300 ca "$PAST"
mkcert tsa inter 7300 tsa "$PAST"
mkcert signer inter 365 signer
mkcert rsa-signer inter 365 signer "" rsa
mkcert old-signer inter 365 signer '2020-01-01 00:00:00'      # expired at the end of 2020
mkcert old-sup inter 365 signer '2020-01-01 00:00:00'         # expired, revoked (superseded) below
mkcert old-kc inter 365 signer '2020-01-01 00:00:00'          # expired, revoked (keyCompromise) below
mkcert future-signer inter 365 signer '2031-01-01 00:00:00'   # not valid before 2031
mkcert revoked-signer inter 365 signer
mkcert mail-signer inter 365 email
cat tsa.pem inter.pem >tsa-chain.pem

# The TSA: openssl ts -reply with a configuration file.
echo 01 >tsaserial
cat >tsa.cnf <<EOF
[tsa]
default_tsa = tsa1
[tsa1]
serial = $work/tsaserial
crypto_device = builtin
signer_cert = $work/tsa.pem
certs = $work/inter.pem
signer_key = $work/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1.1
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500
clock_precision_digits = 0
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
EOF
# tsreply DATA OUT [WHEN] [HASH] [token]: a time-stamp of DATA made at WHEN (default now)
# by the TSA of $TSA_CNF (default tsa.cnf).
tsreply() {
	local data=$1 out=$2 when=${3:-} hash=${4:-sha256} tok=() ft=()
	[[ -n $when ]] && ft=(faketime "$when")
	[[ ${5:-} == token ]] && tok=(-token_out)
	openssl ts -query -data "$data" "-$hash" -cert -out "$out.tsq" 2>/dev/null
	"${ft[@]}" openssl ts -reply -config "${TSA_CNF:-tsa.cnf}" -queryfile "$out.tsq" "${tok[@]}" \
		-out "$out" 2>/dev/null
}
# cmssign SIGNER FILE OUT [WHEN] [extra openssl cms options...]
cmssign() {
	local signer=$1 file=$2 out=$3 when=${4:-} ft=()
	shift 4 || shift $#
	[[ -n $when ]] && ft=(faketime "$when")
	"${ft[@]}" openssl cms -sign -binary -in "$file" -signer "$signer.pem" -inkey "$signer.key" \
		-md sha256 -outform DER -out "$out" "$@"
}
# addts IN.p7s OUT.p7s [WHEN]: embeds a time-stamp (made at WHEN) of IN's signature value.
addts() {
	local in=$1 out=$2 when=${3:-}
	"$addts" sigvalue "$in" "$in.sigvalue"
	tsreply "$in.sigvalue" "$in.tst" "$when" sha256 token
	"$addts" attach "$in" "$in.tst" "$out"
}
ossl_cms() { # P7S FILE [options]
	local p7s=$1 file=$2
	shift 2
	openssl cms -verify -binary -inform DER -in "$p7s" -content "$file" -purpose any -out /dev/null "$@"
}

head -c 3000000 /dev/urandom >app.bin
cp app.bin tampered.bin
flip_byte tampered.bin 1234567

# ------------------------------------------------------------------ CMS ---
cmssign signer app.bin good.p7s "" -certfile inter.pem
ossl_ok ossl_cms good.p7s app.bin -CAfile root.pem
expect 0 "$signet" verify app.bin --sig good.p7s --ca root.pem
grep -q 'Verified OK' err.txt || fail "no 'Verified OK' on stderr"
grep -q '^signer: *CN=signer$' out.txt || fail "the signer is not printed: $(cat out.txt)"
grep -q '^signed at: *20' out.txt || fail "the signing time is not printed"
grep -q 'ecdsa-with-SHA256 with sha256' out.txt || fail "the algorithm is not printed"
expect 0 "$signet" verify app.bin --sig good.p7s --ca root.pem --json
json_check 'd["ok"] and d["verified"] and d["format"] == "cms" and d["signer"]["subject"] == "CN=signer" and d["signer"]["issuer"] == "CN=inter"'
json_check 'd["key"]["alg"] == "ec-p256" and d["key"]["name"] is None and d["digest_algorithm"] == "sha256" and d["signature_algorithm"] == "ecdsa-with-SHA256"'
json_check 'd["signing_time"].startswith("20") and d["timestamp"] is None and d["checked_by"] == "now" and d["chain"] == ["CN=signer", "CN=inter", "CN=root"]'
want=$(openssl dgst -sha256 -r app.bin | cut -d' ' -f1)
json_check 'd["digest"] == "'"$want"'" and d["failed"] is None'
fp=$(openssl pkey -pubin -in signer.pub -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
json_check 'd["key"]["fingerprint"] == "'"$fp"'"'
expect 0 "$signet" verify app.bin --sig good.p7s --ca root.pem --format cms
pass "CMS: verified, signer, key, algorithm, signing time, path reported (openssl agrees)"

# one changed byte of the file
ossl_no ossl_cms good.p7s tampered.bin -CAfile root.pem
expect 1 "$signet" verify tampered.bin --sig good.p7s --ca root.pem --json
json_check 'not d["ok"] and not d["verified"] and d["failed"] == "content" and d["error"]["name"] == "bad_signature"'
grep -q 'Verification failure: content' err.txt || fail "stderr does not say content: $(cat err.txt)"
# another root
ossl_no ossl_cms good.p7s app.bin -CAfile other-root.pem
expect 1 "$signet" verify app.bin --sig good.p7s --ca other-root.pem --json
json_check 'd["failed"] == "certificate" and "local issuer" in d["error"]["message"]'
# the intermediate missing from the CMS: needed from --untrusted
cmssign signer app.bin nochain.p7s ""
expect 1 "$signet" verify app.bin --sig nochain.p7s --ca root.pem
expect 0 "$signet" verify app.bin --sig nochain.p7s --ca root.pem --untrusted inter.pem
# a flipped byte in the signature value, and a signature file that is not CMS
"$addts" sigvalue good.p7s sv.bin
python3 - good.p7s badsig.p7s sv.bin <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
sv = open(sys.argv[3], "rb").read()
assert len(sv) > 16, "no signature value"
i = data.index(sv)
data = data[:i + 10] + bytes([data[i + 10] ^ 0xff]) + data[i + 11:]
open(sys.argv[2], "wb").write(data)
EOF
ossl_no ossl_cms badsig.p7s app.bin -CAfile root.pem
expect 1 "$signet" verify app.bin --sig badsig.p7s --ca root.pem --json
json_check 'd["failed"] == "signature"'
head -c 700 good.p7s >truncated.p7s
expect 1 "$signet" verify app.bin --sig truncated.p7s --ca root.pem
expect 1 "$signet" verify app.bin --sig truncated.p7s --ca root.pem --format cms
# an RSA signer
cmssign rsa-signer app.bin rsa.p7s "" -certfile inter.pem
ossl_ok ossl_cms rsa.p7s app.bin -CAfile root.pem
expect 0 "$signet" verify app.bin --sig rsa.p7s --ca root.pem --json
json_check 'd["key"]["alg"] == "rsa-2048" and d["signer"]["subject"] == "CN=rsa-signer"'
# SHA-384 content digest
cmssign signer app.bin sha384.p7s "" -certfile inter.pem -md sha384
expect 0 "$signet" verify app.bin --sig sha384.p7s --ca root.pem --json
json_check 'd["digest_algorithm"] == "sha384"'
# a certificate for e-mail, not code signing
cmssign mail-signer app.bin mail.p7s "" -certfile inter.pem
expect 1 "$signet" verify app.bin --sig mail.p7s --ca root.pem --json
json_check 'd["failed"] == "certificate" and "code signing" in d["error"]["message"]'
# the signer's key pinned with --pubkey
expect 0 "$signet" verify app.bin --sig good.p7s --ca root.pem --pubkey signer.pub
expect 1 "$signet" verify app.bin --sig good.p7s --ca root.pem --pubkey rsa-signer.pub --json
json_check 'd["failed"] == "key"'
pass "CMS: tampered file, wrong root, missing intermediate, bad signature, truncated file, e-mail certificate, other key refused; RSA and SHA-384 verified"

# ------------------------------------------- validity and time-stamps ---
# Expired certificate, no time-stamp: refused at the current time (openssl too).
cmssign old-signer app.bin old.p7s '2020-06-01 12:00:00' -certfile inter.pem
ossl_no ossl_cms old.p7s app.bin -CAfile root.pem
expect 1 "$signet" verify app.bin --sig old.p7s --ca root.pem --json
json_check 'd["failed"] == "certificate" and "expired" in d["error"]["message"] and d["checked_by"] == "now"'
# Not valid yet.
cmssign future-signer app.bin future.p7s "" -certfile inter.pem
expect 1 "$signet" verify app.bin --sig future.p7s --ca root.pem --json
json_check 'd["failed"] == "certificate" and "not yet valid" in d["error"]["message"]'
# Expired certificate with a time-stamp from when it was valid: verifies, at genTime.
addts old.p7s old-ts.p7s '2020-06-01 12:00:05'
ossl_ok ossl_cms old-ts.p7s app.bin -CAfile root.pem -attime "$(date -d '2020-06-01 12:00:00Z' +%s)"
ossl_ok openssl ts -verify -data old.p7s.sigvalue -in old.p7s.tst -token_in -CAfile root.pem -untrusted inter.pem
expect 0 "$signet" verify app.bin --sig old-ts.p7s --ca root.pem --json
json_check 'd["ok"] and d["checked_by"] == "timestamp" and d["checked_at"].startswith("2020-06-01T12:00") and d["timestamp"]["verified"]'
json_check 'd["timestamp"]["time"].startswith("2020-06-01T12:00") and d["timestamp"]["tsa"] == "CN=tsa" and d["timestamp"]["policy"] == "1.3.6.1.4.1.99999.1.1" and d["timestamp"]["hash"] == "sha256"'
json_check 'd["timestamp"]["accuracy"] == 1.5 and d["signing_time"].startswith("2020-06-01T12:00")'
expect 0 "$signet" verify app.bin --sig old-ts.p7s --ca root.pem
grep -q '^timestamp: *2020-06-01T12:00' out.txt || fail "the time-stamp time is not printed"
grep -q "^checked at: .*the time-stamp's time" out.txt || fail "the check time is not explained"
# ... but not with a time-stamp made after the certificate expired.
addts old.p7s old-latets.p7s ""
expect 1 "$signet" verify app.bin --sig old-latets.p7s --ca root.pem --json
json_check 'd["failed"] == "certificate" and "expired" in d["error"]["message"] and d["checked_by"] == "timestamp"'
# A valid certificate with a time-stamp made now.
addts good.p7s good-ts.p7s ""
ossl_ok ossl_cms good-ts.p7s app.bin -CAfile root.pem
expect 0 "$signet" verify app.bin --sig good-ts.p7s --ca root.pem --json
json_check 'd["ok"] and d["timestamp"]["verified"] and d["checked_by"] == "timestamp"'
# A time-stamp over another signature value: the token does not match.
"$addts" attach good.p7s old.p7s.tst wrongts.p7s
expect 1 "$signet" verify app.bin --sig wrongts.p7s --ca root.pem --json
json_check 'd["failed"] == "timestamp" and not d["timestamp"]["verified"]'
# A time-stamp from a TSA that does not chain to the roots given.
mkcert other-tsa other-root 7300 tsa "$PAST"
sed -e "s#/tsa.pem#/other-tsa.pem#; s#/tsa.key#/other-tsa.key#; s#^certs = .*#certs = $work/other-root.pem#" \
	tsa.cnf >other-tsa.cnf
TSA_CNF=other-tsa.cnf addts good.p7s foreignts.p7s ""
expect 1 "$signet" verify app.bin --sig foreignts.p7s --ca root.pem --json
json_check 'd["failed"] == "timestamp" and d["timestamp"]["tsa"] is None and "Verify error" in d["error"]["message"]'
expect 0 "$signet" verify app.bin --sig foreignts.p7s --ca root.pem --ca other-root.pem
pass "validity: expired and not-yet-valid refused; expired + time-stamp of its validity verifies at genTime; late or foreign time-stamps refused"

# ---------------------------------------------------------- time-stamps ---
tsreply app.bin app.tsr
ossl_ok openssl ts -verify -data app.bin -in app.tsr -CAfile root.pem
expect 0 "$signet" verify app.bin --sig app.tsr --ca root.pem --json
json_check 'd["ok"] and d["format"] == "tsr" and d["timestamp"]["verified"] and d["timestamp"]["tsa"] == "CN=tsa" and d["timestamp"]["hash"] == "sha256" and d["signer"] is None'
json_check 'd["digest"] == "'"$want"'" and d["timestamp"]["serial"] != "" and d["timestamp"]["tsa_name"] == "CN=tsa"'
expect 0 "$signet" verify app.bin --sig app.tsr --ca root.pem
grep -q '^timestamp: ' out.txt || fail "the time-stamp is not printed"
grep -q '^tsa: *CN=tsa$' out.txt || fail "the TSA is not printed"
ossl_no openssl ts -verify -data tampered.bin -in app.tsr -CAfile root.pem
expect 1 "$signet" verify tampered.bin --sig app.tsr --ca root.pem --json
json_check 'd["failed"] == "timestamp"'
expect 1 "$signet" verify app.bin --sig app.tsr --ca other-root.pem
# SHA-512 imprint, a bare token, a token from the past
tsreply app.bin app512.tsr "" sha512
expect 0 "$signet" verify app.bin --sig app512.tsr --ca root.pem --json
json_check 'd["timestamp"]["hash"] == "sha512" and len(d["digest"]) == 128'
tsreply app.bin app.tst "" sha256 token
expect 0 "$signet" verify app.bin --sig app.tst --ca root.pem --json
json_check 'd["format"] == "tst"'
expect 0 "$signet" verify app.bin --sig app.tst --ca root.pem --format tsr
tsreply app.bin past.tsr '2021-03-04 05:06:07'
expect 0 "$signet" verify app.bin --sig past.tsr --ca root.pem --json
json_check 'd["timestamp"]["time"].startswith("2021-03-04T05:06")'
# A rejection (SHA-1 is not among the TSA's digests) carries no time-stamp.
openssl ts -query -data app.bin -sha1 -cert -out sha1.tsq 2>/dev/null
openssl ts -reply -config tsa.cnf -queryfile sha1.tsq -out rejected.tsr 2>/dev/null
expect 1 "$signet" verify app.bin --sig rejected.tsr --ca root.pem --json
json_check 'd["failed"] == "timestamp" and "status 2" in d["error"]["message"]'
pass "time-stamps: .tsr and bare token verified (openssl agrees); tampered file, foreign root, rejection refused; SHA-512 and past genTime reported"

# ------------------------------------------------------- usage and files ---
expect 2 "$signet" verify app.bin --sig good.p7s                          # no anchors
expect 2 "$signet" verify app.bin --sig good.p7s --ca root.pem --hash sha384
expect 2 "$signet" verify app.bin --sig app.tsr --ca root.pem --pubkey signer.pub
expect 2 "$signet" verify app.bin --sig good.p7s --ca missing.pem
expect 2 "$signet" verify app.bin --sig good.p7s --ca app.bin          # not PEM
expect 2 "$signet" verify app.bin --sig good.p7s --ca root.pem --format xml
expect 2 "$signet" verify missing.bin --sig good.p7s --ca root.pem --json
json_check 'd["ok"] is False and d["error"]["name"] == "not_found"'
# an openssl raw signature: --ca makes no sense for it
openssl dgst -sha256 -sign signer.key -out app.sig app.bin
expect 1 "$signet" verify app.bin --sig app.sig --ca root.pem
expect 0 "$signet" verify app.bin --sig app.sig --pubkey signer.pub --json
json_check 'd["format"] == "raw" and d["verified"]'
expect 0 "$signet" verify --help
for o in --sig --format --key --pubkey --ca --untrusted --crl --bundle --hash --pad --json; do
	grep -q -- "$o" out.txt || fail "verify --help does not mention $o"
done
pass "usage errors and unreadable inputs: exit 2"

# --------------------------------------------------------------- CRLs ---
mkdir -p ca/newcerts
: >ca/index.txt
echo 1000 >ca/crlnumber
cat >ca.cnf <<EOF
[ca]
default_ca = inter
[inter]
database = $work/ca/index.txt
new_certs_dir = $work/ca/newcerts
certificate = $work/inter.pem
private_key = $work/inter.key
crlnumber = $work/ca/crlnumber
default_md = sha256
default_crl_days = 30
policy = any
[any]
commonName = supplied
EOF
openssl ca -config ca.cnf -revoke revoked-signer.pem -crl_reason superseded 2>/dev/null
openssl ca -config ca.cnf -revoke old-sup.pem -crl_reason superseded 2>/dev/null
openssl ca -config ca.cnf -revoke old-kc.pem -crl_reason keyCompromise 2>/dev/null
openssl ca -config ca.cnf -gencrl -out inter.crl 2>/dev/null
openssl crl -in inter.crl -outform DER -out inter.crl.der
cmssign revoked-signer app.bin revoked.p7s "" -certfile inter.pem
expect 0 "$signet" verify app.bin --sig revoked.p7s --ca root.pem # no CRL given: not checked
ossl_no ossl_cms revoked.p7s app.bin -CAfile root.pem -CRLfile inter.crl -crl_check
expect 1 "$signet" verify app.bin --sig revoked.p7s --ca root.pem --crl inter.crl --json
json_check 'd["failed"] == "certificate" and "revoked" in d["error"]["message"]'
expect 1 "$signet" verify app.bin --sig revoked.p7s --ca root.pem --crl inter.crl.der
expect 0 "$signet" verify app.bin --sig good.p7s --ca root.pem --crl inter.crl
expect 0 "$signet" verify app.bin --sig good-ts.p7s --ca root.pem --crl inter.crl
expect 0 "$signet" verify app.bin --sig app.tsr --ca root.pem --crl inter.crl
# Revoked in 2026 (superseded), time-stamped in 2020: the signature predates the revocation.
cmssign old-sup app.bin oldsup.p7s '2020-06-01 12:00:00' -certfile inter.pem
addts oldsup.p7s oldsup-ts.p7s '2020-06-01 12:00:05'
expect 0 "$signet" verify app.bin --sig oldsup-ts.p7s --ca root.pem --crl inter.crl
# ... but not when the key was compromised: the time-stamp cannot vouch for it.
cmssign old-kc app.bin oldkc.p7s '2020-06-01 12:00:00' -certfile inter.pem
addts oldkc.p7s oldkc-ts.p7s '2020-06-01 12:00:05'
expect 1 "$signet" verify app.bin --sig oldkc-ts.p7s --ca root.pem --crl inter.crl --json
json_check 'd["failed"] == "certificate" and "revoked" in d["error"]["message"]'
expect 0 "$signet" verify app.bin --sig oldkc-ts.p7s --ca root.pem # without the CRL it is not known
expect 2 "$signet" verify app.bin --sig good.p7s --ca root.pem --crl app.bin
pass "CRLs: revoked refused (PEM and DER CRL); revoked after a time-stamp verifies unless keyCompromise"

# ------------------------------------------------------------ bundles ---
# mkbundle DIR: roots, the intermediate as chain, the TSA chain, the CRL, two
# named keys, and a manifest listing all of them with their SHA-256.
mkbundle() {
	local b=$1
	rm -rf "$b"
	mkdir -p "$b"/{roots,chains,tsa,crls,keys}
	cp root.pem "$b/roots/root.pem"
	cp inter.pem "$b/chains/inter.pem"
	cp tsa.pem "$b/tsa/tsa.pem"
	cp inter.crl.der "$b/crls/inter.crl"
	cp signer.pub "$b/keys/ci-signer.pem"
	cp rsa-signer.pub "$b/keys/ci-rsa.pem"
	python3 - "$b" <<'EOF'
import hashlib, json, os, subprocess, sys
b = sys.argv[1]
files = []
for d in ("roots", "chains", "tsa", "crls", "keys"):
    for n in sorted(os.listdir(os.path.join(b, d))):
        p = os.path.join(d, n)
        files.append({"path": p, "sha256": hashlib.sha256(open(os.path.join(b, p), "rb").read()).hexdigest()})
keys = []
for name, alg in (("ci-signer", "ec-p256"), ("ci-rsa", "rsa-2048")):
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", os.path.join(b, "keys", name + ".pem"),
                          "-outform", "DER"], capture_output=True, check=True).stdout
    keys.append({"name": name, "alg": alg, "fingerprint": hashlib.sha256(der).hexdigest()})
json.dump({"format": "signet-bundle", "version": 1, "created": "2026-11-25T00:00:00Z",
           "appliance": "test", "keys": keys, "files": files},
          open(os.path.join(b, "manifest.json"), "w"), indent=2)
EOF
}
mkbundle bundle
expect 0 "$signet" verify app.bin --sig good.p7s --bundle bundle --json
json_check 'd["ok"] and d["key"]["name"] == "ci-signer"'
expect 0 "$signet" verify app.bin --sig nochain.p7s --bundle bundle   # chains/ gives the intermediate
expect 0 "$signet" verify app.bin --sig old-ts.p7s --bundle bundle
expect 0 "$signet" verify app.bin --sig app.tsr --bundle bundle
expect 1 "$signet" verify app.bin --sig revoked.p7s --bundle bundle   # crls/ is used
expect 1 "$signet" verify tampered.bin --sig good.p7s --bundle bundle
expect 0 "$signet" verify app.bin --sig good.p7s --bundle bundle --key ci-signer
expect 1 "$signet" verify app.bin --sig good.p7s --bundle bundle --key ci-rsa --json
json_check 'd["failed"] == "key"'
expect 1 "$signet" verify app.bin --sig good.p7s --bundle bundle --key nosuchkey
# raw signatures: the key is found among the bundle's keys
expect 0 "$signet" verify app.bin --sig app.sig --bundle bundle --json
json_check 'd["format"] == "raw" and d["key"] == "ci-signer"'
expect 0 "$signet" verify app.bin --sig app.sig --bundle bundle --key ci-signer
expect 1 "$signet" verify app.bin --sig app.sig --bundle bundle --key ci-rsa
expect 1 "$signet" verify tampered.bin --sig app.sig --bundle bundle
openssl dgst -sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 -sign rsa-signer.key -out app.pss app.bin
expect 0 "$signet" verify app.bin --sig app.pss --bundle bundle --hash sha384 --pad pss --json
json_check 'd["key"] == "ci-rsa"'
# an empty crls/ is allowed, and nothing is then checked for revocation
mkbundle nocrl
rm nocrl/crls/inter.crl
python3 - nocrl/manifest.json <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["files"] = [f for f in m["files"] if not f["path"].startswith("crls/")]
json.dump(m, open(sys.argv[1], "w"))
EOF
expect 0 "$signet" verify app.bin --sig revoked.p7s --bundle nocrl
pass "bundles: CMS, time-stamps, CRLs, named keys for CMS and raw signatures, no appliance"

# A bundle that does not match its manifest is refused (exit 2) before any verdict.
broken() { # NAME: a fresh copy of the bundle to break
	rm -rf "$1"
	cp -a bundle "$1"
}
broken b1; echo '# extra' >>b1/roots/root.pem
broken b2; cp other-root.pem b2/roots/other.pem
broken b3; rm b3/chains/inter.pem
broken b4; cp rsa-signer.pub b4/keys/ci-signer.pem
python3 - b4/manifest.json <<'EOF'
import hashlib, json, sys
m = json.load(open(sys.argv[1]))
for f in m["files"]:
    if f["path"] == "keys/ci-signer.pem":
        f["sha256"] = hashlib.sha256(open("b4/keys/ci-signer.pem", "rb").read()).hexdigest()
json.dump(m, open(sys.argv[1], "w"))
EOF
broken b5; sed -i 's/"version": 1/"version": 2/' b5/manifest.json
broken b6; rm b6/roots/root.pem; ln -s "$work/root.pem" b6/roots/root.pem
broken b7; rmdir b7/tsa 2>/dev/null || { rm -rf b7/tsa; }
broken b8; echo '{"format": "signet-bundle", "version": 1}' >b8/manifest.json
broken b9; sed -i 's/"created"/"created": "x", "extra": 1, "created2"/' b9/manifest.json
for b in b1 b2 b3 b4 b5 b6 b7 b8 b9; do
	expect 2 "$signet" verify app.bin --sig good.p7s --bundle "$b" --json
	json_check 'd["ok"] is False and d["error"]["name"] == "config"'
done
grep -q 'manifest' err.txt || fail "a broken manifest is not named: $(cat err.txt)"
expect 2 "$signet" verify app.bin --sig good.p7s --bundle missing-dir
pass "bundles: changed, extra, missing, mismatched-key, wrong-version, symlinked and incomplete bundles refused"

if ((failures > 0)); then
	echo "test_cli_verify: $failures failure(s)" >&2
	exit 1
fi
echo "test_cli_verify: ok"
