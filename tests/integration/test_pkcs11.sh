#!/usr/bin/env bash
# test_pkcs11: libsignet-pkcs11.so against a real dev appliance, judged by
# pkcs11-tool and openssl: -L lists the token, -O the keys this client may
# use (not release-signing), each mechanism signs and openssl verifies with
# the key's public key from `signet pubkey`, a SHA-1 DigestInfo and raw data
# are refused, object creation fails, pkcs11-tool's --test-threads and
# --test-fork pass, and sg_p11_itest covers the thread
# flag, attribute errors, templates, length queries, made-up handles, 8
# threads, a forked child and one session signing across a signetd restart.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool missing: skipped"; exit 77; }
MOD=$SG_BINARY_DIR/lib/libsignet-pkcs11.so
[[ -f $MOD ]] || fail "$MOD not built"
dev_up
# unhex HEX: the bytes the hex string spells, on stdout (no xxd on a bare Debian).
unhex() { python3 -c "import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))" "$1"; }
export SIGNET_PKCS11_CONFIG=$DEVDIR/pkcs11.conf
[[ -f $SIGNET_PKCS11_CONFIG ]] || fail "signet-dev wrote no pkcs11.conf"
cd "$WORK"
# An ASan build of the module needs the ASan runtime loaded first in
# pkcs11-tool, which is not instrumented (its own leaks are not ours).
preload=()
# (not "grep -q": under pipefail its early exit would fail ldd with SIGPIPE)
if [[ $(ldd "$MOD") == *libasan* ]]; then
	preload=(env "LD_PRELOAD=$(gcc -print-file-name=libasan.so)"
		ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0)
fi
p11() { "${preload[@]}" pkcs11-tool --module "$MOD" "$@"; }
# The CKA_ID the module derives from a key's name: SHA-256, first 16 bytes.
kid() { printf %s "$1" | openssl dgst -sha256 -r | cut -c1-32; }

p11 -L >list.txt 2>&1 || fail "pkcs11-tool -L: $(tail -n 5 list.txt)"
grep -q "token label *: signet" list.txt || fail "-L: no signet token"
p11 -O >objs.txt 2>&1 || fail "pkcs11-tool -O"
for k in build-signing build-signing-p384 build-signing-rsa2048 build-signing-rsa3072; do
	[[ $(grep -c "label: *$k\$" objs.txt) -ge 2 ]] || fail "-O: key $k lacks its objects"
done
grep -q "release-signing" objs.txt && fail "-O lists release-signing, which the CI client may not use"
grep -q "never extractable" objs.txt || fail "-O: private keys not marked never extractable"
pass "token and keys listed; release-signing hidden"

echo "signed through the appliance" >data
for h in 256 384; do openssl dgst -sha$h -binary data >d$h; done
"$BIN/signet" pubkey --key build-signing >ec.pem
"$BIN/signet" pubkey --key build-signing-p384 >ec384.pem
"$BIN/signet" pubkey --key build-signing-rsa2048 >rsa.pem

# sign NAME MECH IN OUT [pkcs11-tool options]
sign() {
	local k=$1 m=$2 in=$3 out=$4
	shift 4
	p11 --id "$(kid "$k")" --sign -m "$m" -i "$in" -o "$out" "$@" >/dev/null 2>sign.err ||
		{ cat sign.err >&2; fail "pkcs11-tool --sign -m $m with $k"; }
}

sign build-signing ECDSA d256 s1 --signature-format openssl
openssl pkeyutl -verify -pubin -inkey ec.pem -in d256 -sigfile s1 >/dev/null || fail "CKM_ECDSA"
sign build-signing-p384 ECDSA d384 s1b --signature-format openssl
openssl pkeyutl -verify -pubin -inkey ec384.pem -in d384 -sigfile s1b >/dev/null ||
	fail "CKM_ECDSA P-384"
sign build-signing ECDSA-SHA256 data s2 --signature-format openssl
openssl dgst -sha256 -verify ec.pem -signature s2 data >/dev/null || fail "CKM_ECDSA_SHA256"
pass "ECDSA and ECDSA-SHA256 verified by openssl"

# CKM_RSA_PKCS takes a DigestInfo (RFC 8017 9.2 prefix of SHA-256).
{ unhex 3031300d060960864801650304020105000420; cat d256; } >di
sign build-signing-rsa2048 RSA-PKCS di s3
openssl pkeyutl -verify -pubin -inkey rsa.pem -in d256 -sigfile s3 -pkeyopt digest:sha256 \
	>/dev/null || fail "CKM_RSA_PKCS"
sign build-signing-rsa2048 SHA256-RSA-PKCS data s4
openssl dgst -sha256 -verify rsa.pem -signature s4 data >/dev/null || fail "CKM_SHA256_RSA_PKCS"
sign build-signing-rsa2048 RSA-PKCS-PSS d256 s5 --mgf MGF1-SHA256 --hash-algorithm SHA256 --salt-len=-1
openssl pkeyutl -verify -pubin -inkey rsa.pem -in d256 -sigfile s5 -pkeyopt digest:sha256 \
	-pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32 >/dev/null || fail "CKM_RSA_PKCS_PSS"
sign build-signing-rsa2048 SHA256-RSA-PKCS-PSS data s6 --mgf MGF1-SHA256 --salt-len=-1
openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -verify rsa.pem \
	-signature s6 data >/dev/null || fail "CKM_SHA256_RSA_PKCS_PSS"
pass "RSA-PKCS (DigestInfo), SHA256-RSA-PKCS, RSA-PKCS-PSS, SHA256-RSA-PKCS-PSS verified by openssl"

# Refusals: raw data and a SHA-1 DigestInfo for CKM_RSA_PKCS, a salt the appliance does not use.
if p11 --id "$(kid build-signing-rsa2048)" --sign -m RSA-PKCS -i data -o x >/dev/null 2>err.txt; then
	fail "CKM_RSA_PKCS signed data that is no DigestInfo"
fi
# (pkcs11-tool tries C_SignUpdate first, which the raw mechanisms refuse.)
grep -Eq "CKR_DATA_INVALID|CKR_FUNCTION_NOT_SUPPORTED" err.txt || fail "raw data: $(cat err.txt)"
{ unhex 3021300906052b0e03021a05000414; head -c 20 d256; } >di1
if p11 --id "$(kid build-signing-rsa2048)" --sign -m RSA-PKCS -i di1 -o x >/dev/null 2>err.txt; then
	fail "CKM_RSA_PKCS signed a SHA-1 DigestInfo"
fi
grep -Eq "CKR_DATA_INVALID|CKR_FUNCTION_NOT_SUPPORTED" err.txt || fail "SHA-1 DigestInfo: $(cat err.txt)"
if p11 --id "$(kid build-signing-rsa2048)" --sign -m RSA-PKCS-PSS -i d256 -o x --mgf MGF1-SHA256 \
	--hash-algorithm SHA256 --salt-len=20 >/dev/null 2>err.txt; then
	fail "PSS with a 20-byte salt accepted"
fi
grep -q CKR_MECHANISM_PARAM_INVALID err.txt || fail "PSS salt: $(cat err.txt)"
pass "non-DigestInfo, SHA-1 and a foreign PSS salt refused"

# Creating an object fails with a PKCS#11 error, not a crash.
if p11 --write-object ec.pem --type pubkey --label x >/dev/null 2>err.txt; then
	fail "an object was created"
fi
grep -q "CKR_" err.txt || fail "object creation: no PKCS#11 error: $(cat err.txt)"
pass "object creation refused"

# pkcs11-tool's own thread and fork tests.  --test-threads knows only
# C_Initialize, C_GetInfo, C_GetSlotList and C_GetTokenInfo (no signing; the
# 8 signing threads are sg_p11_itest's): each thread must end with rv 0.
p11 --test-threads ILGISLT0 --test-threads ILGISLT0 --test-threads INGISLT0 -L >threads.txt 2>&1 ||
	fail "pkcs11-tool --test-threads: $(tail -n 5 threads.txt)"
[[ $(grep -c "returning rv = 0" threads.txt) -eq 3 ]] ||
	fail "--test-threads: a thread failed: $(grep "returning rv" threads.txt)"
# --test-fork: a forked child's C_Initialize must succeed, then the parent signs.
sign build-signing ECDSA d256 s7 --signature-format openssl --test-fork
openssl pkeyutl -verify -pubin -inkey ec.pem -in d256 -sigfile s7 >/dev/null ||
	fail "CKM_ECDSA after --test-fork"
pass "pkcs11-tool --test-threads (3 threads) and --test-fork followed by a verified signature"

# The restart: signet-dev down/start on the same directory keeps the port.
"$SG_BINARY_DIR/tests/sg_p11_itest" "$MOD" build-signing \
	"'$DEV' down '$DEVDIR' >/dev/null && '$DEV' start '$DEVDIR' >/dev/null" || fail "sg_p11_itest"
pass "module driven directly: errors, templates, length query, threads, fork, signetd restart"
