#!/usr/bin/env bash
# test_ca: CA delegation through `signet ca` against a real dev appliance
# (its root and intermediates in the token, its profiles), judged by stock
# OpenSSL and curl:
#  - leaf-tls certificates chain to the root (openssl verify -untrusted int);
#  - after `signet ca revoke`, openssl verify -crl_check with the CRL of
#    `signet ca crl` says "certificate revoked", and the CRL served over HTTP
#    is the same bytes; openssl ocsp says good, then revoked;
#  - an intermediate CA from the intermediate-ca profile verifies, with
#    pathlen 0 and the profile's name constraints enforced by openssl, and its
#    revocation is ceremony_required;
#  - each profile rule refuses with its own code (CLI exit 1, the name in the
#    message and in --json); a garbage CSR is csr_invalid (exit 2);
#  - the CI client may use leaf-tls but not intermediate-ca; ca list shows
#    what each client may use; signet-audit verify passes at the end.
source "$(dirname "$0")/lib.sh"
if ! command -v curl >/dev/null; then
	echo "curl is not installed (.ci/install-deps): skipped"
	exit 77
fi
SIGNET_DEV_HTTP_PORT=$(free_port)
export SIGNET_DEV_HTTP_PORT
dev_up
URL=http://127.0.0.1:$SIGNET_DEV_HTTP_PORT
# Until signet-dev writes it: the daemon reads the profiles from DIR/profiles.
if ! grep -q '^profiles_dir:' "$DEVDIR/signetd.yaml"; then
	"$DEV" down "$DEVDIR" >/dev/null 2>&1
	echo "profiles_dir: profiles" >>"$DEVDIR/signetd.yaml"
	"$DEV" start "$DEVDIR" >/dev/null 2>&1 || fail "restart with profiles_dir"
fi
S="$BIN/signet"
CA=$DEVDIR/ca
CI_CONF=$DEVDIR/client.conf
export SIGNET_CONFIG=$DEVDIR/ca-client.conf
cd "$WORK"

# jcheck FILE EXPR: FILE holds one JSON document d for which EXPR (Python) holds.
jcheck() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ('"$2"') else 1)' "$1" ||
		fail "JSON check '$2' on $1: $(cat "$1")"
}
# csr NAME SUBJECT [openssl req options...]: NAME.key, NAME.csr (PEM); EC P-256 unless told.
csr() {
	local name=$1 subj=$2
	shift 2
	[[ $# -gt 0 ]] || set -- -newkey ec -pkeyopt ec_paramgen_curve:P-256
	openssl req -new "$@" -nodes -keyout "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null ||
		fail "openssl req $name"
}
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
lower() { tr 'A-F' 'a-f'; }
ocsp() { # CERT ISSUER: openssl's verdict line "CERT: good|revoked|unknown"
	openssl ocsp -issuer "$2" -cert "$1" -url "$URL/ocsp" -CAfile "$CA/root.pem" 2>&1 |
		grep "^$1: " || true
}

# --- ca list: what each client may use ---
"$S" ca list >list.txt 2>list.err || fail "ca list: $(cat list.err)"
grep -Eq '^dev-root-ca +expires [0-9T:Z-]+  profiles=intermediate-ca  CN=Signet Dev Root CA,O=Signet Dev$' list.txt ||
	fail "ca list (ca-server) lacks the root: $(cat list.txt)"
grep -Eq '^int-dev +expires [0-9T:Z-]+  profiles=leaf-tls  CN=Signet Dev dev Intermediate CA,OU=dev,O=Signet Dev$' list.txt ||
	fail "ca list (ca-server) lacks int-dev: $(cat list.txt)"
[[ $(wc -l <list.txt) -eq 2 ]] || fail "ca list (ca-server) lists more: $(cat list.txt)"
"$S" ca list --json >list.json || fail "ca list --json"
want_na=$(openssl x509 -in "$CA/int-dev.pem" -noout -enddate | cut -d= -f2)
want_na=$(date -u -d "$want_na" +%Y-%m-%dT%H:%M:%SZ)
jcheck list.json 'd["ok"] and sorted(c["name"] for c in d["cas"]) == ["dev-root-ca", "int-dev"]'
jcheck list.json '[c for c in d["cas"] if c["name"] == "int-dev"][0]["not_after"] == "'"$want_na"'" and [c for c in d["cas"] if c["name"] == "int-dev"][0]["profiles"] == ["leaf-tls"]'
python3 -c 'import json,sys; d=json.load(open("list.json")); open("int-dev.list.pem","w").write([c for c in d["cas"] if c["name"]=="int-dev"][0]["certificates"][0])'
cmp -s <(openssl x509 -in int-dev.list.pem -outform DER) <(openssl x509 -in "$CA/int-dev.pem" -outform DER) ||
	fail "ca list --json: int-dev's certificate is not ca/int-dev.pem"
SIGNET_CONFIG=$CI_CONF "$S" ca list >ci-list.txt || fail "ca list (ci)"
[[ $(wc -l <ci-list.txt) -eq 1 ]] && grep -Eq '^int-dev +expires .*  profiles=leaf-tls  ' ci-list.txt ||
	fail "ca list (ci) should show int-dev with leaf-tls only: $(cat ci-list.txt)"
pass "ca list: ca-server sees dev-root-ca (intermediate-ca) and int-dev (leaf-tls), ci sees int-dev (leaf-tls)"

# --- issue a leaf; openssl verifies the chain ---
csr web "/O=Signet Dev/CN=web.dev.signet.test"
"$S" ca issue --profile leaf-tls --csr web.csr --san DNS:web.dev.signet.test --san IP:127.0.0.1 \
	--ttl 1h -o web.pem >web.out 2>web.err || fail "ca issue leaf-tls: $(cat web.err)"
[[ $(grep -c 'BEGIN CERTIFICATE' web.pem) -eq 2 ]] || fail "web.pem is not certificate + chain"
openssl x509 -in web.pem -out web.leaf.pem
openssl verify -CAfile "$CA/root.pem" -untrusted "$CA/int-dev.pem" web.leaf.pem >/dev/null ||
	fail "openssl verify refused the issued leaf"
# the chain in the file is the intermediate: the file alone is enough with the root
openssl verify -CAfile "$CA/root.pem" -untrusted web.pem web.leaf.pem >/dev/null ||
	fail "the chain written after the certificate is not its issuer"
# the certificate holds the CSR's key, the SANs asked for, and lives one hour
[[ $(openssl x509 -in web.leaf.pem -noout -pubkey) == $(openssl req -in web.csr -noout -pubkey) ]] ||
	fail "the certificate's key is not the CSR's"
openssl x509 -in web.leaf.pem -noout -ext subjectAltName | grep -q 'DNS:web.dev.signet.test, IP Address:127.0.0.1' ||
	fail "SANs: $(openssl x509 -in web.leaf.pem -noout -ext subjectAltName)"
nb=$(date -u -d "$(openssl x509 -in web.leaf.pem -noout -startdate | cut -d= -f2)" +%s)
na=$(date -u -d "$(openssl x509 -in web.leaf.pem -noout -enddate | cut -d= -f2)" +%s)
now=$(date +%s)
((na - now >= 3590 && na - now <= 3610)) || fail "--ttl 1h gave notAfter $((na - now)) s from now"
((nb <= now)) || fail "notBefore is in the future"
WEB=$(serial_of web.leaf.pem | lower)
grep -qx "serial:     $WEB" web.out || fail "ca issue did not print the serial $WEB: $(cat web.out)"
grep -qx "not_after:  $(date -u -d "@$na" +%Y-%m-%dT%H:%M:%SZ)" web.out ||
	fail "ca issue did not print notAfter: $(cat web.out)"
grep -q "issued serial $WEB .* by int-dev under leaf-tls" web.err || fail "human line: $(cat web.err)"
# without -o, the PEM goes to stdout; --json carries it; an existing -o is refused
"$S" ca issue -p leaf-tls --csr web.csr --san DNS:web.dev.signet.test >stdout.pem 2>/dev/null ||
	fail "ca issue to stdout"
openssl verify -CAfile "$CA/root.pem" -untrusted stdout.pem stdout.pem >/dev/null ||
	fail "the PEM on stdout does not verify"
"$S" ca issue -p leaf-tls --csr web.csr --san DNS:web.dev.signet.test --ttl 30m --json >web.json ||
	fail "ca issue --json"
jcheck web.json 'd["ok"] and d["ca"] == "int-dev" and d["profile"] == "leaf-tls" and d["certificate_file"] is None and len(d["chain"]) == 1 and d["certificate"].startswith("-----BEGIN CERTIFICATE-----") and d["replayed"] is False'
rc=0
"$S" ca issue -p leaf-tls --csr web.csr --san DNS:web.dev.signet.test -o web.pem >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "an existing -o file was not refused (exit $rc)"
pass "ca issue leaf-tls: openssl verify -CAfile root -untrusted int-dev; key, SANs, --ttl 1h, serial and notAfter printed"

# --- CRL and OCSP before and after a revocation ---
"$S" ca crl --ca int-dev -o before.crl 2>crl.err || fail "ca crl: $(cat crl.err)"
crlnum() { openssl crl -inform DER -in "$1" -noout -crlnumber | sed 's/^crlNumber=0x//'; }
n_before=$(crlnum before.crl)
openssl crl -inform DER -in before.crl -noout -CAfile <(cat "$CA/root.pem" "$CA/int-dev.pem") 2>&1 |
	grep -q 'verify OK' || fail "openssl crl does not verify the CRL with int-dev"
[[ $(ocsp web.leaf.pem "$CA/int-dev.pem") == "web.leaf.pem: good" ]] ||
	fail "OCSP before the revocation: $(ocsp web.leaf.pem "$CA/int-dev.pem")"
openssl crl -inform DER -in before.crl -out before.crl.pem
openssl verify -crl_check -CRLfile before.crl.pem -CAfile "$CA/root.pem" -untrusted "$CA/int-dev.pem" \
	web.leaf.pem >/dev/null || fail "openssl verify -crl_check refused a good certificate"

colons=$(echo "$WEB" | sed 's/../&:/g; s/:$//' | tr 'a-f' 'A-F')
"$S" ca revoke "$colons" --reason keyCompromise 2>revoke.err || fail "ca revoke: $(cat revoke.err)"
grep -q "$WEB revoked (keyCompromise)" revoke.err || fail "revoke message: $(cat revoke.err)"
"$S" ca crl --ca int-dev -o after.crl 2>/dev/null || fail "ca crl after the revocation"
n_after=$(crlnum after.crl)
((16#$n_after > 16#$n_before)) || fail "CRL number $n_after after $n_before"
openssl crl -inform DER -in after.crl -noout -text | grep -A4 "Serial Number: $(echo "$WEB" | tr 'a-f' 'A-F')" |
	grep -q 'Key Compromise' || fail "the CRL does not list $WEB with keyCompromise"
openssl crl -inform DER -in after.crl -out after.crl.pem
out=$(openssl verify -crl_check -CRLfile after.crl.pem -CAfile "$CA/root.pem" -untrusted "$CA/int-dev.pem" \
	web.leaf.pem 2>&1) && fail "openssl verify -crl_check accepted a revoked certificate"
[[ $out == *"certificate revoked"* ]] || fail "openssl verify -crl_check: $out"
# the same CRL over HTTP, and in PEM with --pem
code=$(curl -s -o http.crl -w '%{http_code}' "$URL/crl/int-dev.crl")
[[ $code == 200 ]] || fail "GET /crl/int-dev.crl: status $code"
cmp -s http.crl after.crl || fail "the CRL over HTTP differs from crl.get's"
"$S" ca crl --ca int-dev --pem -o after.pem.crl 2>/dev/null || fail "ca crl --pem"
cmp -s after.pem.crl after.crl.pem || fail "ca crl --pem is not the PEM of the DER CRL"
"$S" ca crl --ca int-dev --json >crl.json || fail "ca crl --json"
jcheck crl.json 'd["ok"] and d["ca"] == "int-dev" and d["revoked"] >= 1 and d["number"] == int("'"$n_after"'", 16) and d["crl_file"] is None and len(d["crl"]) > 100'
[[ $(ocsp web.leaf.pem "$CA/int-dev.pem") == "web.leaf.pem: revoked" ]] ||
	fail "OCSP after the revocation: $(ocsp web.leaf.pem "$CA/int-dev.pem")"
# status; the same revocation again is answered as it stands, another reason is refused
"$S" ca status "$WEB" >status.txt || fail "ca status"
grep -qx 'status:     revoked' status.txt && grep -qx 'reason:     keyCompromise' status.txt &&
	grep -qx 'ca:         int-dev' status.txt || fail "ca status: $(cat status.txt)"
"$S" ca revoke "$WEB" --reason keyCompromise --json >again.json 2>/dev/null || fail "revoke again, same reason"
jcheck again.json 'd["status"] == "revoked" and d["reason"] == "keyCompromise"'
rc=0
"$S" ca revoke "$WEB" --reason superseded --json >other.json 2>/dev/null || rc=$?
[[ $rc -eq 1 ]] || fail "revoke with another reason exited $rc"
jcheck other.json 'd["error"]["name"] == "already_revoked"'
rc=0
"$S" ca revoke 0x7fffffffffffffff01 --reason superseded 2>unknown.err || rc=$?
[[ $rc -eq 1 ]] && grep -q '(unknown_serial)' unknown.err || fail "unknown serial: exit $rc, $(cat unknown.err)"
"$S" ca status 7fffffffffffffff01 --json >unknown.json || fail "ca status of an unknown serial"
jcheck unknown.json 'd["status"] == "unknown" and d["ca"] is None'
pass "revocation: openssl verify -crl_check says revoked, CRL number up, HTTP CRL = crl.get CRL, OCSP good then revoked"

# --- an intermediate CA from the intermediate-ca profile ---
csr sub "/O=Signet Dev/OU=team/CN=Team Sub CA" -newkey ec -pkeyopt ec_paramgen_curve:P-384 \
	-addext "basicConstraints=critical,CA:TRUE"
"$S" ca issue --profile intermediate-ca --csr sub.csr --ttl 30d -o sub.pem >sub.out 2>sub.err ||
	fail "ca issue intermediate-ca: $(cat sub.err)"
grep -qx 'ca:         dev-root-ca' sub.out || fail "the intermediate was not issued by dev-root-ca: $(cat sub.out)"
openssl x509 -in sub.pem -out sub.ca.pem
openssl verify -CAfile "$CA/root.pem" sub.ca.pem >/dev/null || fail "openssl verify refused the intermediate"
openssl x509 -in sub.ca.pem -noout -ext basicConstraints | grep -q 'CA:TRUE, pathlen:0' ||
	fail "intermediate: $(openssl x509 -in sub.ca.pem -noout -ext basicConstraints)"
# what it signs itself: a leaf inside its name constraints verifies, one outside does not,
# and a CA below it breaks pathlen 0
sub_sign() { # NAME SUBJECT EXT
	csr "$1" "$2"
	printf '%s\n' "$3" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA sub.ca.pem -CAkey sub.key -days 1 -set_serial "0x$(openssl rand -hex 8)" \
		-extfile "$1.ext" -out "$1.pem" 2>/dev/null || fail "openssl x509 -req $1"
}
sub_sign in "/CN=a.signet.test" "subjectAltName=DNS:a.signet.test"
openssl verify -CAfile "$CA/root.pem" -untrusted sub.ca.pem in.pem >/dev/null ||
	fail "a leaf within the intermediate's name constraints does not verify"
sub_sign outside "/CN=a.example.com" "subjectAltName=DNS:a.example.com"
out=$(openssl verify -CAfile "$CA/root.pem" -untrusted sub.ca.pem outside.pem 2>&1) &&
	fail "a leaf outside the name constraints verified"
[[ $out == *"permitted subtree violation"* ]] || fail "name constraints: $out"
sub_sign subsub "/CN=Sub Sub CA" "basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign"
openssl x509 -req -in in.csr -CA subsub.pem -CAkey subsub.key -days 1 -set_serial 7 \
	-out deep.pem 2>/dev/null || fail "openssl x509 -req deep"
out=$(openssl verify -CAfile "$CA/root.pem" -untrusted <(cat sub.ca.pem subsub.pem) deep.pem 2>&1) &&
	fail "a path below a second CA verified despite pathlen 0"
[[ $out == *"path length constraint exceeded"* ]] || fail "pathlen: $out"
SUB=$(serial_of sub.ca.pem | lower)
rc=0
"$S" ca revoke "$SUB" --reason superseded --json >sub-revoke.json 2>sub-revoke.err || rc=$?
[[ $rc -eq 1 ]] || fail "revoking the intermediate exited $rc"
jcheck sub-revoke.json 'd["ok"] is False and d["error"]["name"] == "ceremony_required"'
grep -q '(ceremony_required)' sub-revoke.err || fail "ceremony message: $(cat sub-revoke.err)"
"$S" ca status "$SUB" | grep -qx 'status:     good' || fail "the intermediate's status changed"
pass "intermediate-ca: verifies to the root, pathlen 0 and name constraints enforced by openssl; revocation is ceremony_required"

# --- each profile rule refuses with its own code ---
# refuse NAME WANT_EXIT CODE_NAME CSR [issue options...]
refuse() {
	local name=$1 want=$2 code=$3 req=$4 rc=0
	shift 4
	"$S" ca issue -p leaf-tls --csr "$req" "$@" --json >"$name.json" 2>"$name.err" || rc=$?
	[[ $rc -eq $want ]] || fail "$name: exit $rc, expected $want: $(cat "$name.err")"
	jcheck "$name.json" 'd["ok"] is False and d["error"]["name"] == "'"$code"'"'
	grep -q "($code)" "$name.err" || fail "$name: the message does not name $code: $(cat "$name.err")"
}
csr isca "/O=Signet Dev/CN=x.dev.signet.test" -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	-addext "basicConstraints=critical,CA:TRUE"
refuse ca-true 1 ca_not_allowed isca.csr --san DNS:x.dev.signet.test
refuse san 1 san_not_allowed web.csr --san DNS:www.example.com
refuse ttl 1 ttl_too_long web.csr --san DNS:web.dev.signet.test --ttl 8d
csr rsa1024 "/O=Signet Dev/CN=x.dev.signet.test" -newkey rsa:1024
refuse rsa1024 1 key_not_allowed rsa1024.csr --san DNS:x.dev.signet.test
# a DER CSR ends with its signature BIT STRING: its last byte is the signature's
openssl req -in web.csr -outform DER -out badsig.der
flip_byte badsig.der $(($(stat -c %s badsig.der) - 1))
# (openssl 3.0's req -verify exits 0 either way: its words decide)
[[ $(openssl req -inform DER -in badsig.der -noout -verify 2>&1) == *"verify failure"* ]] ||
	fail "the flipped CSR still verifies"
refuse badsig 1 csr_signature badsig.der --san DNS:web.dev.signet.test
csr crit "/O=Signet Dev/CN=x.dev.signet.test" -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	-addext "1.2.3.4=critical,ASN1:UTF8String:x"
refuse critext 1 csr_extension crit.csr --san DNS:x.dev.signet.test
head -c 700 /dev/urandom >garbage.csr
refuse garbage 2 csr_invalid garbage.csr --san DNS:x.dev.signet.test
# the CI client: leaf-tls yes, intermediate-ca no
SIGNET_CONFIG=$CI_CONF "$S" ca issue -p leaf-tls --csr web.csr --san DNS:web.dev.signet.test -o ci.pem \
	>/dev/null 2>ci.err || fail "the CI client could not issue leaf-tls: $(cat ci.err)"
openssl verify -CAfile "$CA/root.pem" -untrusted ci.pem ci.pem >/dev/null || fail "the CI client's leaf does not verify"
rc=0
SIGNET_CONFIG=$CI_CONF "$S" ca issue -p intermediate-ca --csr sub.csr --json >ci-sub.json 2>/dev/null || rc=$?
[[ $rc -eq 1 ]] || fail "the CI client's intermediate-ca request exited $rc"
jcheck ci-sub.json 'd["error"]["name"] == "denied"'
# the CI client may not revoke either
rc=0
SIGNET_CONFIG=$CI_CONF "$S" ca revoke "$(serial_of ci.pem)" --reason superseded >/dev/null 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "the CI client revoked (exit $rc)"
pass "refusals: ca_not_allowed, san_not_allowed, ttl_too_long, key_not_allowed, csr_signature, csr_extension (exit 1), csr_invalid (exit 2); ci: leaf-tls yes, intermediate-ca and revoke denied"

# --- usage errors never reach the appliance ---
for bad in "issue -p leaf-tls" "issue --csr web.csr" "issue -p leaf-tls --csr web.csr --ttl 1y" \
	"issue -p leaf-tls --csr web.csr --san mail:x" "revoke $WEB" "revoke $WEB --reason bogus" \
	"revoke 00 --reason superseded" "revoke xyz --reason superseded" "status" "crl" "frobnicate"; do
	rc=0
	# shellcheck disable=SC2086 # the options are words on purpose
	"$S" ca $bad >/dev/null 2>&1 || rc=$?
	[[ $rc -eq 2 ]] || fail "'signet ca $bad' exited $rc, expected 2"
done
"$S" ca --help | grep -q 'issue --profile' || fail "signet ca --help"
for h in "issue:--profile --csr --ttl --san --output --force --json" "revoke:--reason keyCompromise" \
	"status:SERIAL" "crl:--ca --output --pem" "list:--json"; do
	out=$("$S" ca "${h%%:*}" --help) || fail "signet ca ${h%%:*} --help"
	for o in ${h#*:}; do
		grep -q -- "$o" <<<"$out" || fail "signet ca ${h%%:*} --help does not mention $o"
	done
done
"$S" --help | grep -q '^  ca issue|revoke|status|crl|list' || fail "signet --help lacks ca"
pass "usage errors exit 2"

"$DEV" down "$DEVDIR" >/dev/null 2>&1
"$BIN/signet-audit" verify "$DEVDIR/audit.db" >/dev/null || fail "signet-audit verify"
pass "signet-audit verify"
