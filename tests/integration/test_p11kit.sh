#!/usr/bin/env bash
# test_p11kit: the out-of-process path through p11-kit 0.24.  A temporary
# HOME holds ~/.config/pkcs11/modules/signet.module naming the built
# signet-p11-remote (which loads the built module), and then, judged by
# p11-kit, pkcs11-tool and openssl: `p11-kit list-modules` shows the Signet
# token, pkcs11-tool through p11-kit-proxy.so lists the keys, and a CKM_ECDSA
# signature made through the proxy verifies; GnuTLS p11tool (where installed)
# lists the token's objects and certtool self-signs a certificate with a
# pkcs11: URI key through p11-kit too.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PROXY=/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so
command -v p11-kit >/dev/null || { echo "p11-kit missing: skipped"; exit 77; }
command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool missing: skipped"; exit 77; }
[[ -f $PROXY ]] || { echo "$PROXY missing: skipped"; exit 77; }
REMOTE=$SG_BINARY_DIR/bin/signet-p11-remote
MOD=$SG_BINARY_DIR/lib/libsignet-pkcs11.so
[[ -x $REMOTE ]] || fail "$REMOTE not built"
[[ -f $MOD ]] || fail "$MOD not built"
dev_up
export SIGNET_PKCS11_CONFIG=$DEVDIR/pkcs11.conf
[[ -f $SIGNET_PKCS11_CONFIG ]] || fail "signet-dev wrote no pkcs11.conf"
cd "$WORK"

# p11-kit 0.24 reads user module files from ~/.config/pkcs11/modules/ (unless
# the user config says otherwise); the shipped file with the build tree's
# paths.  An ASan build's remote writes its reports to stderr, which p11-kit
# passes through; leaks of the uninstrumented p11-kit are not ours.
export HOME=$WORK/home
export ASAN_OPTIONS=detect_leaks=0
mkdir -p "$HOME/.config/pkcs11/modules"
sed "s#^remote: .*#remote: |$REMOTE --module $MOD#" \
	"$SG_SOURCE_DIR/hsm-config/p11-kit/signet.module" >"$HOME/.config/pkcs11/modules/signet.module"
grep -q "^remote: |$REMOTE --module $MOD\$" "$HOME/.config/pkcs11/modules/signet.module" ||
	fail "module file: no remote: line to rewrite"
# p11-kit ignores user configuration in a process running as root ("skipping
# user config in program running as root"); as root, run its callers as uid
# 1000 in a user namespace that maps that uid to us, so they still read the
# dev environment's 0600 files.
asuser=()
if [[ $(id -u) == 0 ]]; then
	asuser=(unshare --user --map-user=1000 --map-group=1000)
	"${asuser[@]}" true 2>/dev/null || { echo "root and no user namespaces: skipped"; exit 77; }
fi

"${asuser[@]}" p11-kit list-modules >modules.txt 2>modules.err || fail "p11-kit list-modules: $(tail -n 5 modules.err)"
grep -q "^signet:" modules.txt || fail "list-modules: no signet module: $(cat modules.txt modules.err)"
sed -n '/^signet:/,/^[^ ]/p' modules.txt >signet.txt
grep -q "token: signet" signet.txt || fail "list-modules: no signet token: $(cat signet.txt)"
pass "p11-kit list-modules shows the Signet token through signet-p11-remote"

p11() { "${asuser[@]}" pkcs11-tool --module "$PROXY" --token-label signet "$@"; }
kid() { printf %s "$1" | openssl dgst -sha256 -r | cut -c1-32; }
p11 -O >objs.txt 2>&1 || fail "pkcs11-tool -O through the proxy: $(tail -n 5 objs.txt)"
for k in build-signing build-signing-rsa2048; do
	[[ $(grep -c "label: *$k\$" objs.txt) -ge 2 ]] || fail "-O via proxy: key $k lacks its objects"
done
grep -q "release-signing" objs.txt && fail "-O via proxy lists release-signing"
pass "pkcs11-tool -O through p11-kit-proxy.so lists the keys"

echo "signed through p11-kit" >data
openssl dgst -sha256 -binary data >d256
"$BIN/signet" pubkey --key build-signing >ec.pem
"$BIN/signet" pubkey --key build-signing-rsa2048 >rsa.pem
sign() {
	local k=$1 m=$2 in=$3 out=$4
	shift 4
	p11 --id "$(kid "$k")" --sign -m "$m" -i "$in" -o "$out" "$@" >/dev/null 2>sign.err ||
		{ cat sign.err >&2; fail "pkcs11-tool --sign -m $m with $k through the proxy"; }
}
sign build-signing ECDSA d256 s1 --signature-format openssl
openssl pkeyutl -verify -pubin -inkey ec.pem -in d256 -sigfile s1 >/dev/null ||
	fail "CKM_ECDSA through the proxy"
# CKM_RSA_PKCS takes a DigestInfo (RFC 8017 9.2 prefix of SHA-256).
{ python3 -c "import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))" \
	3031300d060960864801650304020105000420; cat d256; } >di
sign build-signing-rsa2048 RSA-PKCS di s2
openssl pkeyutl -verify -pubin -inkey rsa.pem -in d256 -sigfile s2 -pkeyopt digest:sha256 \
	>/dev/null || fail "CKM_RSA_PKCS through the proxy"
sign build-signing-rsa2048 SHA256-RSA-PKCS data s3
openssl dgst -sha256 -verify rsa.pem -signature s3 data >/dev/null || fail "CKM_SHA256_RSA_PKCS via proxy"
sign build-signing-rsa2048 RSA-PKCS-PSS d256 s4 --mgf MGF1-SHA256 --hash-algorithm SHA256 --salt-len=-1
openssl pkeyutl -verify -pubin -inkey rsa.pem -in d256 -sigfile s4 -pkeyopt digest:sha256 \
	-pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32 >/dev/null ||
	fail "CKM_RSA_PKCS_PSS through the proxy"
pass "ECDSA, RSA-PKCS, SHA256-RSA-PKCS, RSA-PKCS-PSS through p11-kit-proxy.so verified by openssl"

# p11-kit 0.24's RPC drops mechanisms it cannot marshal from the list; the
# documented table (docs/pkcs11-module.md, "Through p11-kit") must match.
p11 -M >mechs.txt 2>&1 || fail "pkcs11-tool -M through the proxy"
mechs=$(sed -n 's/^  \([A-Z0-9-]*\),.*/\1/p' mechs.txt | sort | tr '\n' ' ')
want="ECDSA RSA-PKCS RSA-PKCS-PSS SHA256-RSA-PKCS SHA384-RSA-PKCS SHA512-RSA-PKCS "
[[ $mechs == "$want" ]] || fail "mechanisms through the proxy: '$mechs', documented '$want'"
if p11 --id "$(kid build-signing)" --sign -m ECDSA-SHA256 -i data -o s5 >/dev/null 2>&1; then
	fail "CKM_ECDSA_SHA256 passed the proxy: update the documented table"
fi
pass "the proxy's mechanism list is the documented one; ECDSA-SHA256 refused there"

if command -v p11tool >/dev/null; then
	"${asuser[@]}" p11tool --list-all "pkcs11:token=signet" >p11tool.txt 2>&1 ||
		fail "p11tool --list-all: $(tail -n 5 p11tool.txt)"
	grep -q "build-signing" p11tool.txt || fail "p11tool --list-all: no build-signing"
	pass "GnuTLS p11tool lists the token's objects through p11-kit"
	# certtool signs a self-signed certificate with the key reached by URI
	# (GnuTLS hashes itself and calls CKM_ECDSA); openssl checks the
	# signature and that the certificate carries the appliance's key.
	printf 'cn = "signet p11-kit test"\nserial = 1\nexpiration_days = 1\n' >tmpl
	"${asuser[@]}" certtool --generate-self-signed --template tmpl \
		--load-privkey "pkcs11:token=signet;object=build-signing;type=private" \
		--outfile self.pem >certtool.txt 2>&1 || fail "certtool: $(tail -n 5 certtool.txt)"
	openssl verify -CAfile self.pem self.pem >/dev/null || fail "certtool's certificate does not verify"
	[[ $(openssl x509 -in self.pem -noout -pubkey) == "$(cat ec.pem)" ]] ||
		fail "certtool's certificate does not carry build-signing's public key"
	pass "GnuTLS certtool self-signed a certificate with a pkcs11: URI key; openssl verifies it"
else
	echo "p11tool (gnutls-bin) not installed: GnuTLS part not run"
fi
