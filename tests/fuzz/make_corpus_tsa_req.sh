#!/usr/bin/env bash
# Regenerates the seeds of the fuzz_tsa_req corpus (tests/fuzz/corpus/tsa_req/).
#
#   tests/fuzz/make_corpus_tsa_req.sh
#
# Valid requests come from `openssl ts -query`; the others are written by
# `openssl asn1parse -genconf` (OpenSSL encodes them; nothing is hand-made)
# or cut from valid ones.  Files named bad-* are meant to be refused, with the
# PKIFailureInfo in the name.  The policies match the test TSA of
# fuzz_tsa_req.c (default ...55555.1.1, accepted ...55555.1.2).  Seeds are
# (re)written under fixed names; inputs kept from fuzzing runs survive.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$here/corpus/tsa_req
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf 'signet fuzz seed\n' >"$tmp/data"
q() { name=$1; shift; openssl ts -query -data "$tmp/data" "$@" -out "$out/$name" 2>/dev/null; }

q sha256-cert-nonce -sha256 -cert
q sha384-no-nonce -sha384 -no_nonce
q sha512-accepted-policy -sha512 -cert -tspolicy 1.3.6.1.4.1.55555.1.2
q sha256-default-policy -sha256 -no_nonce -tspolicy 1.3.6.1.4.1.55555.1.1
q bad-alg-sha1 -sha1 -cert
q bad-policy -sha256 -tspolicy 1.2.3.4

# gen NAME: DER of the -genconf configuration on stdin.
gen() {
  cat >"$tmp/$1.cnf"
  openssl asn1parse -genconf "$tmp/$1.cnf" -noout -out "$out/$1" >/dev/null
}
d32=$(printf '%064d' 7)

gen bad-request-version2 <<EOF
asn1=SEQUENCE:req
[req]
version=INTEGER:2
imprint=SEQUENCE:imprint
[imprint]
alg=SEQUENCE:alg
digest=FORMAT:HEX,OCT:$d32
[alg]
oid=OID:sha256
null=NULL
EOF

gen bad-data-format-length <<EOF
asn1=SEQUENCE:req
[req]
version=INTEGER:1
imprint=SEQUENCE:imprint
nonce=INTEGER:0x0102030405060708
[imprint]
alg=SEQUENCE:alg
digest=FORMAT:HEX,OCT:${d32}00
[alg]
oid=OID:sha256
null=NULL
EOF

gen bad-alg-params <<EOF
asn1=SEQUENCE:req
[req]
version=INTEGER:1
imprint=SEQUENCE:imprint
[imprint]
alg=SEQUENCE:alg
digest=FORMAT:HEX,OCT:$d32
[alg]
oid=OID:sha256
param=INTEGER:5
EOF

gen bad-extension-critical <<EOF
asn1=SEQUENCE:req
[req]
version=INTEGER:1
imprint=SEQUENCE:imprint
nonce=INTEGER:0x7fffffff
certReq=BOOLEAN:TRUE
exts=IMPLICIT:0,SEQUENCE:exts
[imprint]
alg=SEQUENCE:alg
digest=FORMAT:HEX,OCT:$d32
[alg]
oid=OID:sha256
null=NULL
[exts]
ext=SEQUENCE:ext
[ext]
oid=OID:1.3.6.1.4.1.55555.9
critical=BOOLEAN:TRUE
value=FORMAT:HEX,OCT:0500
EOF

gen bad-extension-noncritical <<EOF
asn1=SEQUENCE:req
[req]
version=INTEGER:1
imprint=SEQUENCE:imprint
exts=IMPLICIT:0,SEQUENCE:exts
[imprint]
alg=SEQUENCE:alg
digest=FORMAT:HEX,OCT:$d32
[alg]
oid=OID:sha256
[exts]
ext=SEQUENCE:ext
[ext]
oid=OID:1.3.6.1.4.1.55555.9
value=FORMAT:HEX,OCT:0500
EOF

gen no-params-nonce-negative <<EOF
asn1=SEQUENCE:req
[req]
version=INTEGER:1
imprint=SEQUENCE:imprint
nonce=INTEGER:-5
[imprint]
alg=SEQUENCE:alg
digest=FORMAT:HEX,OCT:$d32
[alg]
oid=OID:sha256
EOF

# Cut and padded copies of a valid request.
v=$out/sha256-cert-nonce
n=$(stat -c %s "$v")
head -c $((n - 1)) "$v" >"$out/bad-data-format-truncated"
head -c 7 "$v" >"$out/bad-data-format-short"
{ cat "$v"; printf '\0'; } >"$out/bad-data-format-trailing"
# The outer length in long form: BER, not DER.
{ printf '\x30\x81'; tail -c +2 "$v"; } >"$out/bad-data-format-ber-length"
printf 'GET / HTTP/1.1\r\n\r\n' >"$out/bad-data-format-garbage"
: >"$out/bad-data-format-empty"

echo "tsa_req corpus: $(find "$out" -type f | wc -l) files"
