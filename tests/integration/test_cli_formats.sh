#!/usr/bin/env bash
# test_cli_formats: the CLI's artifact formats against a real dev appliance
# (its PKI and TSA keys in the token), judged by stock OpenSSL:
#  - signet sign --format cms [--timestamp] with every key type -> FILE.p7s,
#    which `openssl cms -verify ... -CAfile root.pem` accepts, and which
#    fails for one changed byte;
#  - signet timestamp FILE -> FILE.tsr and --request REQ -o OUT, accepted by
#    `openssl ts -verify`; a rejected request;
#  - signet bundle export, then signet verify --bundle with no configuration
#    and the appliance stopped (offline verification).
source "$(dirname "$0")/lib.sh"
dev_up
S="$BIN/signet"
cd "$WORK"
CA=$DEVDIR/ca
head -c 5000000 /dev/urandom >app.bin
printf 'x' >one.bin
: >empty.bin
cp app.bin tampered.bin
flip_byte tampered.bin 2000000

ossl_cms() { # P7S FILE
	openssl cms -verify -binary -inform DER -in "$1" -content "$2" -CAfile "$CA/root.pem" -out /dev/null 2>&1
}
# jcheck FILE EXPR: FILE holds one JSON document d for which EXPR (Python) holds.
jcheck() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ('"$2"') else 1)' "$1" ||
		fail "JSON check '$2' on $1: $(cat "$1")"
}

# --- CMS with every key type; openssl and signet verify both judge ---
for key in build-signing build-signing-p384 build-signing-rsa2048 build-signing-rsa3072; do
	hash=sha256
	[[ $key == build-signing-p384 ]] && hash=sha384
	for f in app one empty; do
		"$S" sign "$f.bin" --key "$key" --format cms --hash "$hash" -o "$f.$key.p7s" --json >sign.json
		jcheck sign.json 'd["ok"] and d["format"] == "cms" and d["timestamp"] is False and d["files"][0]["signature_file"].endswith(".p7s")'
		out=$(ossl_cms "$f.$key.p7s" "$f.bin") || fail "$key $f: openssl cms -verify: $out"
	done
	"$S" verify app.bin --sig "app.$key.p7s" --ca "$CA/root.pem" --json >v.json 2>v.err ||
		fail "$key: signet verify: $(cat v.err)"
	jcheck v.json 'd["verified"] and d["signer"]["subject"] == "CN=Signet Dev '"$key"',O=Signet Dev" and d["digest_algorithm"] == "'"$hash"'" and d["signing_time"] is not None'
	if out=$(ossl_cms "app.$key.p7s" tampered.bin); then fail "$key: openssl accepted a tampered file"; fi
	rc=0
	"$S" verify tampered.bin --sig "app.$key.p7s" --ca "$CA/root.pem" >/dev/null 2>&1 || rc=$?
	[[ $rc -eq 1 ]] || fail "$key: signet verify of a tampered file exited $rc"
done
pass "CMS: 4 key types x 0 B, 1 B, 5 MB verified by openssl cms -verify and signet verify; tampering caught"

# default name FILE.p7s, no overwrite, and the usage errors of the format options
cp one.bin named.bin
"$S" sign named.bin --key build-signing --format cms 2>sign.err || fail "sign to FILE.p7s: $(cat sign.err)"
[[ -s named.bin.p7s && ! -e named.bin.sig ]] || fail "the CMS did not go to named.bin.p7s"
grep -q 'CMS' sign.err || fail "the human line does not say CMS: $(cat sign.err)"
rc=0
"$S" sign named.bin --key build-signing --format cms >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "an existing .p7s was not refused (exit $rc)"
for bad in "--format xml" "--format cms --pad pss" "--timestamp" "--format raw --timestamp"; do
	rc=0
	# shellcheck disable=SC2086 # the options are words on purpose
	"$S" sign one.bin --key build-signing-rsa2048 $bad -o x.out >/dev/null 2>&1 || rc=$?
	[[ $rc -eq 2 ]] || fail "sign $bad: exit $rc, not 2"
done
pass "CMS: FILE.p7s by default, no overwrite, usage errors"

# --- CMS with an embedded time-stamp ---
"$S" sign app.bin --key build-signing --format cms --timestamp -o ts.p7s --json >sign.json
jcheck sign.json 'd["ok"] and d["timestamp"] is True'
out=$(ossl_cms ts.p7s app.bin) || fail "openssl cms -verify of a time-stamped CMS: $out"
"$S" verify app.bin --sig ts.p7s --ca "$CA/root.pem" --json >v.json 2>/dev/null || fail "signet verify of a time-stamped CMS"
jcheck v.json 'd["timestamp"]["verified"] and d["checked_by"] == "timestamp" and d["timestamp"]["tsa"] == "CN=Signet Dev tsa,O=Signet Dev" and d["timestamp"]["policy"] == "1.3.6.1.4.1.99999.1.1"'
"$SG_BINARY_DIR/tests/sg_cms_ts_itest" sigvalue ts.p7s sigvalue.bin
"$S" timestamp sigvalue.bin -o sigvalue.tsr >/dev/null 2>&1 # a second token over the same value
out=$(openssl ts -verify -data sigvalue.bin -in sigvalue.tsr -CAfile "$CA/root.pem" -untrusted "$CA/tsa-chain.pem" 2>&1) ||
	fail "openssl ts -verify over the signature value: $out"
n=$(sqlite3 "$DEVDIR/audit.db" "SELECT count(*) FROM records WHERE artifact = 'app.bin' AND op = 5")
((n >= 1)) || fail "the time-stamp of the CMS is not audited"
pass "CMS --timestamp: openssl cms -verify accepts it, signet verify checks the token and reports the TSA"

# --- signet timestamp FILE and --request ---
"$S" timestamp app.bin --json >ts.json 2>ts.err || fail "signet timestamp: $(cat ts.err)"
jcheck ts.json 'd["ok"] and d["timestamp_file"] == "app.bin.tsr" and d["status"] == 0 and d["hash"] == "sha256" and d["policy"] == "1.3.6.1.4.1.99999.1.1" and d["receipt"]["record"] > 0'
out=$(openssl ts -verify -data app.bin -in app.bin.tsr -CAfile "$CA/root.pem" -untrusted "$CA/tsa-chain.pem" 2>&1) ||
	fail "openssl ts -verify of signet timestamp: $out"
if openssl ts -verify -data tampered.bin -in app.bin.tsr -CAfile "$CA/root.pem" -untrusted "$CA/tsa-chain.pem" >/dev/null 2>&1; then
	fail "openssl accepted the time-stamp for a tampered file"
fi
"$S" verify app.bin --sig app.bin.tsr --ca "$CA/root.pem" --json >v.json 2>/dev/null || fail "signet verify of a .tsr"
jcheck v.json 'd["verified"] and d["format"] == "tsr"'
"$S" timestamp one.bin --hash sha512 -o one.tsr >/dev/null 2>&1 || fail "timestamp --hash sha512"
out=$(openssl ts -verify -data one.bin -in one.tsr -CAfile "$CA/root.pem" -untrusted "$CA/tsa-chain.pem" 2>&1) ||
	fail "openssl ts -verify (sha512): $out"
rc=0
"$S" timestamp app.bin >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "an existing .tsr was not refused (exit $rc)"
openssl ts -query -data app.bin -sha384 -cert -out req.tsq 2>/dev/null
"$S" timestamp --request req.tsq -o resp.tsr 2>ts.err || fail "timestamp --request: $(cat ts.err)"
out=$(openssl ts -verify -queryfile req.tsq -in resp.tsr -CAfile "$CA/root.pem" -untrusted "$CA/tsa-chain.pem" 2>&1) ||
	fail "openssl ts -verify -queryfile: $out"
# SHA-1 is not accepted: the TSA's rejection is written, and the exit status says so.
openssl ts -query -data app.bin -sha1 -cert -out sha1.tsq 2>/dev/null
rc=0
"$S" timestamp --request sha1.tsq -o sha1.tsr --json >ts.json 2>/dev/null || rc=$?
[[ $rc -eq 1 ]] || fail "a rejected request exited $rc, not 1"
jcheck ts.json 'not d["ok"] and d["status"] == 2 and d["error"]["name"] == "denied"'
openssl ts -reply -in sha1.tsr -text 2>/dev/null | grep -qi 'reject' || fail "the rejection response was not written"
for bad in "--request req.tsq" "app.bin --request req.tsq -o x" "--request req.tsq -o x --hash sha256" "app.bin --hash md5"; do
	rc=0
	# shellcheck disable=SC2086
	"$S" timestamp $bad >/dev/null 2>&1 || rc=$?
	[[ $rc -eq 2 ]] || fail "timestamp $bad: exit $rc, not 2"
done
pass "timestamp: FILE.tsr and --request accepted by openssl ts -verify; rejection written with exit 1; usage errors"

# --- a verification bundle, then verification offline ---
"$S" sign app.bin --key build-signing-rsa2048 -o app.raw.sig >/dev/null 2>&1 || fail "raw sign"
"$S" bundle export bundle --ca "$CA/root.pem" --json >exp.json 2>exp.err || fail "bundle export: $(cat exp.err)"
jcheck exp.json 'd["ok"] and d["roots"] == 1 and d["tsa"] == 1 and d["chains"] == 4 and "tsa" in d["keys"] and "build-signing" in d["keys"]'
for f in manifest.json roots/root-1.pem keys/build-signing.pem chains/build-signing.pem tsa/tsa.pem; do
	[[ -f bundle/$f ]] || fail "the bundle lacks $f"
done
[[ -d bundle/crls ]] || fail "the bundle lacks crls/"
# The appliance's CRLs come with it when this client may list CAs; each one
# must verify with openssl against the bundle's own certificates.
jcheck exp.json 'd["crls"] == d["appliance_crls"] == d["cas"] - d["cas_skipped"] and (d["ca_list"] or d["cas"] == 0)'
for crl in bundle/crls/*.crl; do
	[[ -e $crl ]] || continue
	ca=$(basename "$crl" .crl)
	out=$(openssl crl -inform DER -in "$crl" -noout -CAfile <(cat bundle/roots/*.pem "bundle/chains/ca-$ca.pem") 2>&1) ||
		fail "openssl does not verify the bundle's CRL of $ca: $out"
done
cmp -s <(openssl pkey -pubin -in bundle/keys/build-signing.pem -outform DER) \
	<(openssl pkey -pubin -in "$DEVDIR/keys/build-signing.pub.pem" -outform DER) ||
	fail "the bundle's public key is not the token's"
openssl verify -CAfile bundle/roots/root-1.pem -untrusted bundle/chains/build-signing.pem \
	bundle/chains/build-signing.pem >/dev/null 2>&1 || fail "openssl does not verify the bundle's chain"
rc=0
"$S" bundle export bundle --ca "$CA/root.pem" >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "export over an existing directory exited $rc, not 2"
openssl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
	-subj /CN=other -days 1 -out other.pem 2>/dev/null
rc=0
"$S" bundle export wrong --ca other.pem >/dev/null 2>exp.err || rc=$?
[[ $rc -eq 2 && ! -e wrong ]] || fail "export with a foreign root: exit $rc, or a directory was left"
grep -q 'does not chain' exp.err || fail "the foreign root is not explained: $(cat exp.err)"
ls "$WORK" | grep -q 'wrong.tmp' && fail "a temporary export directory was left behind"

"$DEV" down "$DEVDIR" >/dev/null 2>&1 # offline from here on
unset SIGNET_CONFIG
for sig in app.build-signing.p7s ts.p7s app.bin.tsr app.raw.sig; do
	"$S" verify app.bin --sig "$sig" --bundle bundle --json >v.json 2>v.err ||
		fail "offline verify of $sig: $(cat v.err)"
done
"$S" verify app.bin --sig app.build-signing.p7s --bundle bundle --json >v.json 2>/dev/null
jcheck v.json 'd["key"]["name"] == "build-signing" and d["chain"][-1] == "CN=Signet Dev Root CA,O=Signet Dev"'
"$S" verify app.bin --sig app.raw.sig --bundle bundle --json >v.json 2>/dev/null
jcheck v.json 'd["key"] == "build-signing-rsa2048"'
rc=0
"$S" verify tampered.bin --sig app.build-signing.p7s --bundle bundle >/dev/null 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "offline verify of a tampered file exited $rc, not 1"
pass "bundle export (roots, chains, TSA chain, keys, manifest) and offline verify --bundle with the appliance down"
