#!/bin/sh
# mktoken.sh DIR: creates a throwaway SoftHSMv2 token store in DIR for the
# signer tests and prints the SOFTHSM2_CONF path on stdout.
#
#   token "signet-test"  (user PIN 123456): ec256 (id 01), ec384 (id 02),
#                                           rsa2048 (id 03), rsa3072 (id 04),
#                                           ecbad (id 05): a P-256 private key whose
#                                           public key object (same id) is another key's
#   token "signet-test-other" (same PIN):   ec256 (id 01), a different key
#
# The test PINs of this throwaway token appear on softhsm2-util's and
# pkcs11-tool's command lines; Signet itself never takes a PIN from argv.
# Tokens are addressed by slot number, never by --token-label (which
# pkcs11-tool matches as a prefix).
set -eu
dir=${1:?usage: mktoken.sh DIR}
module=${SG_TEST_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
pin=123456
so_pin=12345678
mkdir -p "$dir/tokens"
conf="$dir/softhsm2.conf"
cat >"$conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
CONF
SOFTHSM2_CONF=$conf
export SOFTHSM2_CONF

init_token() {
	softhsm2-util --init-token --free --label "$1" --so-pin "$so_pin" --pin "$pin" |
		sed -n 's/.*reassigned to slot \([0-9][0-9]*\).*/\1/p'
}

keygen() { # slot type label id
	pkcs11-tool --module "$module" --slot "$1" --login --pin "$pin" --keypairgen \
		--key-type "$2" --label "$3" --id "$4" >/dev/null 2>&1
}

slot=$(init_token signet-test)
[ -n "$slot" ] || { echo "mktoken: token init failed" >&2; exit 1; }
keygen "$slot" EC:prime256v1 ec256 01
keygen "$slot" EC:secp384r1 ec384 02
keygen "$slot" rsa:2048 rsa2048 03
keygen "$slot" rsa:3072 rsa3072 04
# ecbad: generate two pairs, drop the first public key and give the second
# one's public key the first one's id, so that the token presents a public
# key that does not match the private key (the self-verification case).
keygen "$slot" EC:prime256v1 ecbad 05
keygen "$slot" EC:prime256v1 ecother 06
p11() { pkcs11-tool --module "$module" --slot "$slot" --login --pin "$pin" "$@" >/dev/null 2>&1; }
p11 --delete-object --type pubkey --id 05
p11 --delete-object --type privkey --id 06
p11 --set-id 05 --type pubkey --id 06

slot2=$(init_token signet-test-other)
[ -n "$slot2" ] || { echo "mktoken: second token init failed" >&2; exit 1; }
keygen "$slot2" EC:prime256v1 ec256 01

echo "$conf"
