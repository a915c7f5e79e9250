#!/usr/bin/env bash
# sign.cms and timestamp end to end, protocol level (the CLI has its own
# tests): every CI key type signs a detached CMS that `openssl cms -verify`
# accepts and rejects once the content or the root changes; a key without
# sign.cms rights is denied; keys.list carries the certificates; the TSA
# answers openssl's own requests (nonce, certReq, policies), the imprint form
# and HTTP (RFC 3161 section 3.4), rejects malformed requests with the right
# failure info, keeps serial numbers unique across a restart; a retried CMS
# request gets the same bytes; with the clock past the certificates' expiry
# the appliance refuses to sign CMS and its TSA rejects requests.
source "$(dirname "$0")/lib.sh"
SIGNET_DEV_HTTP_PORT=$(free_port)
export SIGNET_DEV_HTTP_PORT
dev_up
T=$SG_BINARY_DIR/tests/sg_formats_itest
CA=$DEVDIR/ca
cd "$WORK"
head -c 300000 /dev/urandom >art.bin

# ---- keys.list: each CI key and the TSA key with their certificates
mkdir keys
"$T" keys keys >keys.txt || fail "keys.list"
for k in build-signing build-signing-p384 build-signing-rsa2048 build-signing-rsa3072; do
	grep -qx "$k certs 2" keys.txt || fail "keys.list: $k without its chain: $(cat keys.txt)"
	openssl x509 -in "$CA/$k.pem" -outform DER -out "$k.want.der"
	cmp -s "$k.want.der" "keys/$k.der" || fail "keys.list: $k's certificate is not ca/$k.pem"
done

# ---- CMS, every key type x every hash, verified by openssl
for k in build-signing build-signing-p384 build-signing-rsa2048 build-signing-rsa3072; do
	for h in sha256 sha384 sha512; do
		"$T" cms "$k" "$h" art.bin "$k.$h.p7s" || fail "sign.cms $k $h"
		openssl cms -verify -binary -inform DER -in "$k.$h.p7s" -content art.bin \
			-CAfile "$CA/root.pem" -out /dev/null 2>/dev/null ||
			fail "openssl cms -verify refused $k $h"
	done
	# RFC 6211: CMSAlgorithmProtection is among the signed attributes
	openssl cms -cmsout -print -inform DER -in "$k.sha256.p7s" | grep "id-smime-aa-CMSAlgorithmProtection\|1.2.840.113549.1.9.52" >/dev/null ||
		fail "$k: no CMSAlgorithmProtection attribute"
done
cp art.bin tampered.bin
flip_byte tampered.bin 1234
openssl cms -verify -binary -inform DER -in build-signing.sha256.p7s -content tampered.bin \
	-CAfile "$CA/root.pem" -out /dev/null 2>/dev/null && fail "a tampered artifact verified"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
	-subj /CN=other -days 1 -out other-root.pem 2>/dev/null
openssl cms -verify -binary -inform DER -in build-signing.sha256.p7s -content art.bin \
	-CAfile other-root.pem -out /dev/null 2>/dev/null && fail "verified against the wrong root"
"$T" cms release-signing sha256 art.bin denied.p7s 2>err.txt && fail "release-signing signed a CMS"
grep -q "^denied:" err.txt || fail "release-signing: expected denied, got $(cat err.txt)"
# a retried request (same idempotency key) gets the very same bytes
"$T" cms-twice build-signing art.bin once.p7s twice.p7s >twice.txt || fail "cms retry"
grep -qx replayed twice.txt || fail "the retry was signed again, not replayed"
cmp -s once.p7s twice.p7s || fail "the replayed CMS differs"
pass "sign.cms"

# ---- CMS with an embedded time-stamp (RFC 3161 appendix A), for each key type
for k in build-signing build-signing-p384 build-signing-rsa2048 build-signing-rsa3072; do
	"$T" cms-ts "$k" art.bin "$k.ts.p7s" || fail "sign.cms + timestamp $k"
	openssl cms -verify -binary -inform DER -in "$k.ts.p7s" -content art.bin \
		-CAfile "$CA/root.pem" -out /dev/null 2>/dev/null ||
		fail "openssl cms -verify refused the time-stamped CMS of $k"
	# the signature value (the SignerInfo's OCTET STRING before its unsigned
	# attributes) and the token (the SEQUENCE in the attribute's SET), by openssl
	openssl asn1parse -inform DER -in "$k.ts.p7s" >"$k.asn1"
	sighex=$(awk '/d=5 .*OCTET STRING/ { h = $NF } /d=5 .*cont \[ 1 \]/ { print h; exit }' "$k.asn1")
	sighex=${sighex#*:}
	[[ -n $sighex ]] || fail "$k: no signature value found"
	read -r off len < <(awk '/id-smime-aa-timeStampToken/ { f = 1; next }
		f == 1 { f = 2; next }
		f == 2 { split($1, a, ":"); match($0, /hl= *[0-9]+/); h = substr($0, RSTART + 3, RLENGTH - 3)
			match($0, / l= *[0-9]+/); l = substr($0, RSTART + 3, RLENGTH - 3); print a[1] + 0, h + l; exit }' "$k.asn1")
	[[ -n ${off:-} ]] || fail "$k: no id-aa-signatureTimeStampToken attribute"
	dd if="$k.ts.p7s" of="$k.token" bs=1 skip="$off" count="$len" status=none
	imprint=$(printf '%b' "$(echo "$sighex" | sed 's/../\\x&/g')" | openssl dgst -sha256 -r | cut -d' ' -f1)
	openssl ts -verify -digest "$imprint" -token_in -in "$k.token" -CAfile "$CA/root.pem" \
		-untrusted "$CA/tsa-chain.pem" >/dev/null 2>&1 ||
		fail "$k: the embedded token does not verify against the signature value's hash"
	wrong=$(printf 'x%s' "$imprint" | openssl dgst -sha256 -r | cut -d' ' -f1)
	openssl ts -verify -digest "$wrong" -token_in -in "$k.token" -CAfile "$CA/root.pem" \
		-untrusted "$CA/tsa-chain.pem" >/dev/null 2>&1 && fail "$k: the token verified another value"
done
pass "sign.cms with an embedded time-stamp"

# ---- timestamps
tsverify() { # FILE TSR
	openssl ts -verify -data "$1" -in "$2" -CAfile "$CA/root.pem" \
		-untrusted "$CA/tsa-chain.pem" >/dev/null 2>&1
}
tsfield() { # TSR FIELD: a line of openssl's text output
	openssl ts -reply -in "$1" -text 2>/dev/null | sed -n "s/^$2: //p"
}
openssl ts -query -data art.bin -sha256 -cert -out q.tsq 2>/dev/null
"$T" tsq q.tsq q.tsr | grep -qx "status 0" || fail "timestamp: not granted"
tsverify art.bin q.tsr || fail "openssl ts -verify refused the token"
tsverify tampered.bin q.tsr && fail "the token verified a tampered artifact"
nonce=$(openssl ts -query -in q.tsq -text 2>/dev/null | sed -n 's/^Nonce: //p')
[[ -n $nonce && $(tsfield q.tsr Nonce) == "$nonce" ]] || fail "nonce not echoed"
[[ $(tsfield q.tsr "Policy OID") == 1.3.6.1.4.1.99999.1.1 ]] || fail "default policy not used"
tsfield q.tsr Accuracy | grep -q "0x01 seconds" || fail "accuracy not stated"
s1=$(tsfield q.tsr "Serial number")
# certReq false: no certificates in the token
openssl ts -query -data art.bin -sha512 -no_nonce -out nocert.tsq 2>/dev/null
"$T" tsq nocert.tsq nocert.tsr | grep -qx "status 0" || fail "timestamp without certReq"
openssl ts -reply -in nocert.tsr -token_out -out nocert.tok 2>/dev/null
[[ -z $(openssl pkcs7 -inform DER -in nocert.tok -print_certs 2>/dev/null) ]] ||
	fail "certificates included although certReq was false"
openssl ts -verify -data art.bin -in nocert.tsr -CAfile "$CA/root.pem" \
	-untrusted "$CA/tsa-chain.pem" >/dev/null 2>&1 || fail "token without certificates does not verify"
# an accepted policy, the imprint form
openssl ts -query -data art.bin -sha384 -cert -tspolicy 1.3.6.1.4.1.99999.1.2 -out pol.tsq 2>/dev/null
"$T" tsq pol.tsq pol.tsr | grep -qx "status 0" || fail "accepted policy refused"
[[ $(tsfield pol.tsr "Policy OID") == 1.3.6.1.4.1.99999.1.2 ]] || fail "asked policy not used"
"$T" ts sha256 art.bin imprint.tsr | grep -qx "status 0" || fail "imprint form"
tsverify art.bin imprint.tsr || fail "imprint form: token does not verify"

# rejections, each with its failure info
reject() { # NAME TSQ FAILINFO-TEXT
	"$T" tsq "$2" "$1.tsr" >"$1.out" || fail "$1: not answered"
	grep -qx "status 2" "$1.out" || fail "$1: not rejected: $(cat "$1.out")"
	tsfield "$1.tsr" "Failure info" | grep -qi "$3" ||
		fail "$1: failure info is '$(tsfield "$1.tsr" "Failure info")', expected $3"
}
head -c 20 q.tsq >trunc.tsq
reject truncated trunc.tsq "wrong format"
cp q.tsq trailing.tsq
printf '\0' >>trailing.tsq
reject trailing trailing.tsq "wrong format"
cp q.tsq v2.tsq
[[ $(od -An -tx1 -j2 -N3 q.tsq | tr -d ' ') == 020101 ]] || fail "unexpected TimeStampReq layout"
printf '\002' | dd of=v2.tsq bs=1 seek=4 conv=notrunc status=none
reject version v2.tsq "not supported\|not permitted"
openssl ts -query -data art.bin -sha1 -cert -out sha1.tsq 2>/dev/null
reject sha1 sha1.tsq "unrecognized or unsupported algorithm"
openssl ts -query -data art.bin -sha256 -tspolicy 1.2.3.4 -out badpol.tsq 2>/dev/null
reject policy badpol.tsq "policy"
pass "timestamp (wire)"

# over HTTP, as curl and every RFC 3161 client posts it
code=$(curl -s -o http.tsr -w '%{http_code}' --data-binary @q.tsq \
	-H 'Content-Type: application/timestamp-query' "http://127.0.0.1:$SIGNET_DEV_HTTP_PORT/tsa")
[[ $code == 200 ]] || fail "HTTP time-stamp: status $code"
tsverify art.bin http.tsr || fail "HTTP token does not verify"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @q.tsq \
	-H 'Content-Type: text/plain' "http://127.0.0.1:$SIGNET_DEV_HTTP_PORT/tsa")
[[ $code == 415 ]] || fail "HTTP with a wrong content type: status $code"
pass "timestamp (HTTP)"

# serial numbers stay unique across a restart
"$DEV" down "$DEVDIR" >/dev/null
"$DEV" start "$DEVDIR" >/dev/null 2>&1 || fail "restart"
"$T" tsq q.tsq after.tsr | grep -qx "status 0" || fail "timestamp after restart"
s2=$(tsfield after.tsr "Serial number")
((s2 > s1)) || fail "serial $s2 after the restart is not above $s1"
"$BIN/signet-audit" verify "$DEVDIR/audit.db" >/dev/null || fail "audit chain"
[[ $(sqlite3 "$DEVDIR/audit.db" "SELECT count(*) FROM records WHERE op = 4 AND result = 0") -ge 13 ]] ||
	fail "sign.cms requests missing from the audit log"
pass "serials across a restart, audit"

# a certificate of another key (same algorithm) is not served, nor signed with
cp "$DEVDIR/policy.yaml" policy.good
sed -i 's|certificate: ca/build-signing.pem|certificate: ca/release-signing.pem|' "$DEVDIR/policy.yaml"
kill -HUP "$(cat "$DEVDIR/signetd.pid")"
for _ in $(seq 1 50); do
	grep -q "its certificate is for another key" "$DEVDIR/signetd.log" && break
	sleep 0.1
done
grep -q "key build-signing: its certificate is for another key" "$DEVDIR/signetd.log" ||
	fail "a mismatched certificate was not reported"
"$T" keys keys >keys2.txt || fail "keys.list after the reload"
grep -qx "build-signing certs 0" keys2.txt || fail "mismatched certificate served: $(cat keys2.txt)"
"$T" cms build-signing sha256 art.bin mismatch.p7s 2>err.txt && fail "signed with a foreign certificate"
grep -q "^no_certificate:" err.txt || fail "mismatch: $(cat err.txt)"
cp policy.good "$DEVDIR/policy.yaml"
pass "certificate matching"

# the clock two years ahead: every certificate has expired
"$DEV" down "$DEVDIR" >/dev/null
# (under ASan the sanitizer must tolerate libfaketime coming first)
FAKETIME="+730d" LD_PRELOAD=$(ls /usr/lib/*/faketime/libfaketime.so.1 | head -n 1) \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	"$DEV" start "$DEVDIR" >/dev/null 2>&1 || fail "start with a fake clock"
"$T" cms build-signing sha256 art.bin late.p7s 2>err.txt && fail "signed CMS with an expired certificate"
grep -q "^certificate_not_valid:" err.txt || fail "expired: $(cat err.txt)"
"$T" tsq q.tsq late.tsr >late.out || fail "late timestamp not answered"
grep -qx "status 2" late.out || fail "the TSA granted with an expired certificate"
tsfield late.tsr "Failure info" | grep -qi "system failure\|unspecified\|could not" ||
	fail "expired TSA: failure info $(tsfield late.tsr "Failure info")"
pass "expired certificates"
