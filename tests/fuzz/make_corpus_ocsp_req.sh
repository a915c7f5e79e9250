#!/usr/bin/env bash
# Regenerates the seeds of the fuzz_ocsp_req corpus (tests/fuzz/corpus/ocsp_req/).
#
#   tests/fuzz/make_corpus_ocsp_req.sh
#
# Valid requests come from `openssl ocsp -reqout` for a throwaway CA made
# here (the target answers for its own CA whatever the request's hashes
# say); the others are written by `openssl asn1parse -genconf` (OpenSSL
# encodes them; nothing is hand-made) or cut from valid ones.  Files named
# bad-* are meant to be refused (malformed).  Seeds are (re)written under
# fixed names; inputs kept from fuzzing runs survive.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$here/corpus/ocsp_req
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/ca.key" \
  -subj "/CN=seed CA" -days 30 -out "$tmp/ca.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/leaf.key" \
  -subj "/CN=seed leaf" -days 30 -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -out "$tmp/leaf.pem" \
  2>/dev/null

o() { name=$1; shift; openssl ocsp -issuer "$tmp/ca.pem" "$@" -reqout "$out/$name" >/dev/null; }

o sha1-nonce -cert "$tmp/leaf.pem"
o sha1-no-nonce -no_nonce -cert "$tmp/leaf.pem"
o sha256-two -sha256 -cert "$tmp/leaf.pem" -serial 0x0102
o sha384-serial20 -sha384 -serial 0x7f0102030405060708090a0b0c0d0e0f10111213
o sha512-zero -sha512 -serial 0 -no_nonce
o signed -cert "$tmp/leaf.pem" -signer "$tmp/leaf.pem" -signkey "$tmp/leaf.key"
o sixteen $(for i in $(seq 1 16); do printf -- '-serial %d ' "$i"; done)
o bad-seventeen $(for i in $(seq 1 17); do printf -- '-serial %d ' "$i"; done)

# gen NAME: DER of the -genconf configuration on stdin.
gen() {
  cat >"$tmp/$1.cnf"
  openssl asn1parse -genconf "$tmp/$1.cnf" -noout -out "$out/$1" >/dev/null
}
# One CertID (SHA-1 sized hashes) with the given [alg] section, version and serial.
one() {
  local name=$1 version=$2 alg=$3 serial=$4 nh=${5:-$(printf '%040d' 1)} exts=${6:-}
  gen "$name" <<CNF
asn1=SEQUENCE:req
[req]
tbs=SEQUENCE:tbs
[tbs]
$version
list=SEQUENCE:list
$exts
[list]
r1=SEQUENCE:r1
[r1]
certid=SEQUENCE:certid
[certid]
alg=SEQUENCE:alg
name=FORMAT:HEX,OCT:$nh
key=FORMAT:HEX,OCT:$(printf '%040d' 2)
serial=INTEGER:$serial
[alg]
$alg
[exts]
e1=SEQUENCE:e1
[e1]
oid=OID:1.3.6.1.4.1.55555.9
critical=BOOLEAN:TRUE
value=FORMAT:HEX,OCT:0500
[nonceexts]
n1=SEQUENCE:n1
n2=SEQUENCE:n2
[n1]
oid=OID:1.3.6.1.5.5.7.48.1.2
value=OCTWRAP,FORMAT:HEX,OCT:0102030405060708
[n2]
oid=OID:1.3.6.1.5.5.7.48.1.2
value=OCTWRAP,FORMAT:HEX,OCT:0807060504030201
[longnonce]
n=SEQUENCE:ln
[ln]
oid=OID:1.3.6.1.5.5.7.48.1.2
value=FORMAT:HEX,OCT:0421$(printf '%066d' 7)
CNF
}
sha1='oid=OID:sha1
null=NULL'
one version0-explicit 'version=EXPLICIT:0,INTEGER:0' "$sha1" 0x1234
one no-params '' 'oid=OID:sha1' 0x1234
one bad-version1 'version=EXPLICIT:0,INTEGER:1' "$sha1" 0x1234
one bad-params '' 'oid=OID:sha1
p=INTEGER:5' 0x1234
one bad-md5 '' 'oid=OID:md5
null=NULL' 0x1234
one bad-short-hash '' "$sha1" 0x1234 "$(printf '%038d' 1)"
one bad-negative-serial '' "$sha1" -5
one bad-serial21 '' "$sha1" 0x7f0102030405060708090a0b0c0d0e0f1011121314
one bad-critical-ext '' "$sha1" 7 "$(printf '%040d' 1)" 'exts=EXPLICIT:2,SEQUENCE:exts'
one bad-nonce-twice '' "$sha1" 7 "$(printf '%040d' 1)" 'exts=EXPLICIT:2,SEQUENCE:nonceexts'
one bad-nonce-33 '' "$sha1" 7 "$(printf '%040d' 1)" 'exts=EXPLICIT:2,SEQUENCE:longnonce'
gen bad-empty-list <<CNF
asn1=SEQUENCE:req
[req]
tbs=SEQUENCE:tbs
[tbs]
list=SEQUENCE:list
[list]
CNF

# Cut and padded copies of a valid request.
v=$out/sha1-nonce
n=$(stat -c %s "$v")
head -c $((n - 1)) "$v" >"$out/bad-truncated"
{ cat "$v"; printf '\0'; } >"$out/bad-trailing"
{ printf '\x30\x81'; tail -c +2 "$v"; } >"$out/bad-ber-length"
printf 'POST /ocsp HTTP/1.1\r\n\r\n' >"$out/bad-garbage"
: >"$out/bad-empty"

echo "ocsp_req corpus: $(find "$out" -type f | wc -l) files"
