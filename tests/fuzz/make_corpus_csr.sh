#!/usr/bin/env bash
# Regenerates the seeds of the fuzz_csr corpus (tests/fuzz/corpus/csr/).
#
#   tests/fuzz/make_corpus_csr.sh
#
# Valid CSRs come from `openssl req -new` (PEM and DER, several key types,
# subjects and extensions); the others are cut, padded or altered copies of
# them, or something else altogether.  Files named bad-* are meant to be
# refused (csr_invalid or csr_signature, as the name says).  Keys are made
# afresh, so the bytes change on every run; seeds are (re)written under fixed
# names and inputs kept from fuzzing runs survive.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$here/corpus/csr
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# req NAME FORM KEYOPTS... -- REQOPTS...: a CSR for a new key.
req() {
  local name=$1 form=$2; shift 2
  local keyopts=()
  while [ "$1" != -- ]; do keyopts+=("$1"); shift; done
  shift
  openssl genpkey "${keyopts[@]}" -out "$tmp/$name.key" 2>/dev/null
  openssl req -new -key "$tmp/$name.key" -outform "$form" -out "$out/$name" "$@"
}

req ec256-pem PEM -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -- \
  -subj "/O=Signet/CN=svc.example.com" -addext "subjectAltName=DNS:svc.example.com,IP:10.0.0.1"
req ec384-der DER -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -- \
  -subj "/C=DE/O=Signet/OU=dev+OU=ops/CN=multi-valued RDN"
req rsa2048-pem PEM -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -- \
  -subj "/CN=rsa.example.com" -addext "keyUsage=critical,digitalSignature" \
  -addext "extendedKeyUsage=serverAuth"
req rsa1024-der DER -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -- -subj "/CN=weak.example.com"
req ed25519-pem PEM -algorithm ED25519 -- -subj "/CN=ed.example.com"
req empty-subject-der DER -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -- \
  -subj "/" -addext "subjectAltName=URI:spiffe://td/workload"
req utf8-ca-ext-pem PEM -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -- -utf8 \
  -subj "/CN=Zürich ünïcødé" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "1.3.6.1.4.1.55555.9=critical,DER:0500"

# The legacy PEM label, white space around the block.
{ printf ' \n'; sed 's/CERTIFICATE REQUEST/NEW CERTIFICATE REQUEST/' "$out/ec256-pem"; printf '\n\n'; } \
  >"$out/legacy-label-pem"

d=$out/ec384-der
n=$(stat -c %s "$d")
head -c $((n - 1)) "$d" >"$out/bad-invalid-truncated"
{ cat "$d"; printf '\0'; } >"$out/bad-invalid-trailing"
{ cat "$out/ec256-pem" "$out/rsa2048-pem"; } >"$out/bad-invalid-two-blocks"
{ printf 'my CSR:\n'; cat "$out/ec256-pem"; } >"$out/bad-invalid-text-before"
sed 's/CERTIFICATE REQUEST/CERTIFICATE/' "$out/ec256-pem" >"$out/bad-invalid-wrong-label"
printf 'GET / HTTP/1.1\r\n\r\n' >"$out/bad-invalid-garbage"
: >"$out/bad-invalid-empty"
# One byte of the subject changed after signing: the signature no longer covers it.
sed 's/weak\.example/weak.exbmple/' "$out/rsa1024-der" >"$out/bad-signature-subject"
# The RSA signature's last byte flipped.
r=$out/rsa1024-der
n=$(stat -c %s "$r")
{ head -c $((n - 1)) "$r"; tail -c 1 "$r" | tr '\000-\377' '\001-\377\000'; } \
  >"$out/bad-signature-last-byte"

echo "csr corpus: $(find "$out" -type f | wc -l) files"
