#!/usr/bin/env bash
# The dev PKI that signet-dev up makes: every leaf verifies with stock
# OpenSSL against DIR/ca/root.pem (and no other root), each certificate has
# the profile it should (CA flags, key usage, EKU, lifetime, unique names,
# random serials), each certifies the key the token holds under its name, the
# CA's private keys never appear outside the token, the daemon serves with
# the generated policy (certificates, tsa key, HTTP client), and no PIN is on
# a command line or in an environment of any program that up runs.  CA
# delegation: one intermediate CA per environment under the root, the CA
# keys and the profile rules in the policy, the profiles in DIR/profiles/
# (the shipped examples), and a second client, ca-server, with its own key.
source "$(dirname "$0")/lib.sh"

# Every program up runs by name (openssl from PATH, the signet programs from
# SIGNET_BIN) goes through a wrapper that logs its arguments and environment,
# NUL-separated, before it execs the real one: afterwards the logs must not
# hold a PIN.  Sampling the process list could miss a short-lived process;
# this cannot.
TRACE=$(mktemp -d "${TMPDIR:-/tmp}/signet-devpki.XXXXXX")
real_openssl=$(command -v openssl)
mkdir "$TRACE/bin"
wrap() { # name real
	cat >"$TRACE/bin/$1" <<-EOF
		#!/usr/bin/env bash
		{ printf 'argv\0'; printf '%s\0' "\$0" "\$@"; printf 'env\0'; env -0; } >>"$TRACE/exec.log"
		exec "$2" "\$@"
	EOF
	chmod +x "$TRACE/bin/$1"
}
wrap openssl "$real_openssl"
for p in signet-token signet-keygen signetd; do
	wrap "$p" "$BIN/$p"
done
saved_path=$PATH
PATH=$TRACE/bin:$PATH SIGNET_BIN=$TRACE/bin dev_up
PATH=$saved_path
mv "$TRACE" "$WORK/trace"
TRACE=$WORK/trace
CA=$DEVDIR/ca

# ---- no PIN on a command line or in an environment ----
user_pin=$(cat "$DEVDIR/user.pin")
so_pin=$(tr -d '\n' <"$DEVDIR/so.pin")
[[ ${#user_pin} -ge 16 && ${#so_pin} -ge 16 ]] || fail "PIN files too short to search for"
n_exec=$(tr '\0' '\n' <"$TRACE/exec.log" | grep -c '^argv$' || true)
n_engine=$(tr '\0' '\n' <"$TRACE/exec.log" | grep -c 'pin-source=file:' || true)
# signet-token init, keygen and pubkey for 11 keys, 3 signet-keygen, signetd,
# 11 certificates and 3 openssl rand: 41 programs.
((n_exec >= 41)) || fail "only $n_exec programs traced: the wrappers were not used"
# 11 per attempt: dev_up tries again in a new directory when the port was taken.
((n_engine >= 11 && n_engine % 11 == 0)) ||
	fail "$n_engine openssl runs used pin-source, expected 11 (one per certificate) per attempt"
for pin in "$user_pin" "$so_pin"; do
	if grep -aqF -- "$pin" "$TRACE/exec.log"; then
		fail "a PIN is in the argv or environment of a program signet-dev up ran"
	fi
done
pass "$n_exec programs run by up (11 signing with the CA keys): no PIN in any argv or environment"

# ---- files ----
keys=(build-signing build-signing-p384 build-signing-rsa2048 build-signing-rsa3072 release-signing tsa)
envs=(dev staging prod)
for f in root.pem intermediate.pem tsa-chain.pem "${keys[@]/%/.pem}" "${envs[@]/#/int-}"; do
	[[ -s $CA/${f%.pem}.pem ]] || fail "$CA/${f%.pem}.pem missing"
done
for f in profiles/intermediate-ca.yaml profiles/leaf-tls.yaml ca-client.conf ca-server.key; do
	[[ -s $DEVDIR/$f ]] || fail "$DEVDIR/$f missing"
done
if grep -rlaE -- "-----BEGIN ([A-Z]+ )?PRIVATE KEY-----" "$DEVDIR" >"$WORK/privfiles"; then
	fail "a private key outside the token: $(cat "$WORK/privfiles")"
fi
pass "root, intermediates, one chain file per key, the TSA chain, profiles, the CA client; no private key outside the token"

# ncerts FILE: the number of certificates in FILE
ncerts() { grep -c -- "-----BEGIN CERTIFICATE-----" "$1"; }
# field FILE FIELD: a field of the first certificate in FILE (x509 -FIELD)
field() { openssl x509 -in "$1" -noout "-$2" | sed 's/^[^=]*=//'; }
# days FILE: the certificate's lifetime in days
days() {
	local nb na
	nb=$(date -d "$(field "$1" startdate)" +%s)
	na=$(date -d "$(field "$1" enddate)" +%s)
	echo $(((na - nb) / 86400))
}
# ext FILE NAME: the values of one extension, after "critical" if it is
ext() {
	local out
	out=$(openssl x509 -in "$1" -noout -ext "$2")
	[[ ${out%%$'\n'*} == *": critical" ]] && echo critical
	sed 1d <<<"$out" | sed 's/^ *//'
}
same_pub() { # cert-file pub-pem-file
	cmp -s <(openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER) \
		<(openssl pkey -pubin -in "$2" -outform DER)
}

# ---- the CA certificates ----
root_subj=$(field "$CA/root.pem" subject)
[[ $root_subj == "O = Signet Dev, CN = Signet Dev Root CA" ]] || fail "root subject: $root_subj"
[[ $(field "$CA/root.pem" issuer) == "$root_subj" ]] || fail "root is not self-issued"
openssl verify -CAfile "$CA/root.pem" "$CA/root.pem" >/dev/null || fail "root does not verify itself"
openssl x509 -in "$CA/root.pem" -noout -text | grep -A1 "Basic Constraints: critical" |
	grep -qx " *CA:TRUE" || fail "root: basicConstraints not critical CA:TRUE"
openssl x509 -in "$CA/root.pem" -noout -text | grep -A1 "Key Usage: critical" |
	grep -qx " *Certificate Sign, CRL Sign" || fail "root: keyUsage not critical keyCertSign, cRLSign"
[[ $(days "$CA/root.pem") -eq 3650 ]] || fail "root lifetime $(days "$CA/root.pem") days"
[[ $(ncerts "$CA/root.pem") -eq 1 && $(ncerts "$CA/intermediate.pem") -eq 1 ]] ||
	fail "root.pem or intermediate.pem holds more than one certificate"
int_subj=$(field "$CA/intermediate.pem" subject)
[[ $int_subj == "O = Signet Dev, CN = Signet Dev Intermediate CA" ]] || fail "intermediate subject: $int_subj"
[[ $(field "$CA/intermediate.pem" issuer) == "$root_subj" ]] || fail "intermediate issuer"
openssl x509 -in "$CA/intermediate.pem" -noout -text | grep -A1 "Basic Constraints: critical" |
	grep -qx " *CA:TRUE, pathlen:0" || fail "intermediate: basicConstraints not critical CA:TRUE, pathlen:0"
[[ $(days "$CA/intermediate.pem") -eq 1826 ]] || fail "intermediate lifetime $(days "$CA/intermediate.pem") days"
openssl verify -CAfile "$CA/root.pem" "$CA/intermediate.pem" >/dev/null || fail "intermediate does not verify"
same_pub "$CA/root.pem" "$DEVDIR/keys/dev-root-ca.pub.pem" || fail "root.pem is not the token's dev-root-ca"
same_pub "$CA/intermediate.pem" "$DEVDIR/keys/dev-intermediate-ca.pub.pem" ||
	fail "intermediate.pem is not the token's dev-intermediate-ca"
pass "root (self-signed, CA, 10 years) and intermediate (CA, pathlen 0, 5 years), keys on the token"

# A root with the same name and another key: nothing may verify with it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout /dev/null \
	-subj "/O=Signet Dev/CN=Signet Dev Root CA" -days 1 -out "$WORK/fake-root.pem" 2>/dev/null
module=/usr/lib/softhsm/libsofthsm2.so
serials=("$(field "$CA/root.pem" serial)" "$(field "$CA/intermediate.pem" serial)")

# ---- one intermediate CA per environment (CA delegation) ----
for env in "${envs[@]}"; do
	f=$CA/int-$env.pem
	[[ $(ncerts "$f") -eq 1 ]] || fail "int-$env.pem holds $(ncerts "$f") certificates"
	subj=$(field "$f" subject)
	[[ $subj == "O = Signet Dev, OU = $env, CN = Signet Dev $env Intermediate CA" ]] ||
		fail "int-$env subject: $subj"
	[[ $(field "$f" issuer) == "$root_subj" ]] || fail "int-$env: issuer $(field "$f" issuer)"
	[[ $(ext "$f" basicConstraints | tr '\n' ' ') == "critical CA:TRUE, pathlen:0 " ]] ||
		fail "int-$env: basicConstraints $(ext "$f" basicConstraints)"
	[[ $(ext "$f" keyUsage | tr '\n' ' ') == "critical Certificate Sign, CRL Sign " ]] ||
		fail "int-$env: keyUsage $(ext "$f" keyUsage)"
	[[ $(days "$f") -eq 1826 ]] || fail "int-$env lifetime $(days "$f") days"
	out=$(openssl verify -CAfile "$CA/root.pem" "$f" 2>&1) || fail "int-$env: openssl verify: $out"
	if openssl verify -CAfile "$WORK/fake-root.pem" "$f" >/dev/null 2>&1; then
		fail "int-$env verifies with a root of the same name and another key"
	fi
	openssl x509 -in "$f" -noout -text | grep "ASN1 OID: secp384r1" >/dev/null || fail "int-$env: not a P-384 key"
	same_pub "$f" "$DEVDIR/keys/int-$env.pub.pem" || fail "int-$env.pem is not the token's int-$env"
	"$BIN/signet-token" pubkey --module "$module" --token signet-dev --pin-file "$DEVDIR/user.pin" \
		--label "int-$env" -o "$WORK/int-$env.token.pem"
	same_pub "$f" "$WORK/int-$env.token.pem" || fail "int-$env: the certificate is for another key"
	serials+=("$(field "$f" serial)")
done
pass "int-dev, int-staging, int-prod: P-384 keys on the token, issued by the root, CA pathlen 0, 5 years"

# ---- the leaves ----
subjects=()
for key in "${keys[@]}"; do
	f=$CA/$key.pem
	[[ $(ncerts "$f") -eq 2 ]] || fail "$key.pem holds $(ncerts "$f") certificates, expected 2"
	# The second certificate is the intermediate.
	awk 'n == 1 { print } /-----END CERTIFICATE-----/ { n++ }' "$f" >"$WORK/second.pem"
	cmp -s <(openssl x509 -in "$WORK/second.pem" -outform DER) \
		<(openssl x509 -in "$CA/intermediate.pem" -outform DER) ||
		fail "$key.pem: the second certificate is not the intermediate"
	out=$(openssl verify -CAfile "$CA/root.pem" -untrusted "$CA/intermediate.pem" "$f" 2>&1) ||
		fail "$key: openssl verify: $out"
	out=$(openssl verify -CAfile "$CA/root.pem" -untrusted "$f" "$f" 2>&1) ||
		fail "$key: openssl verify with its own chain file: $out"
	if openssl verify -CAfile "$WORK/fake-root.pem" -untrusted "$CA/intermediate.pem" "$f" \
		>/dev/null 2>&1; then
		fail "$key verifies with a root of the same name and another key"
	fi
	if openssl verify -CAfile "$CA/intermediate.pem" "$f" >/dev/null 2>&1; then
		fail "$key verifies with the intermediate alone as the trust anchor"
	fi
	subj=$(field "$f" subject)
	[[ $subj == "O = Signet Dev, CN = Signet Dev $key" ]] || fail "$key subject: $subj"
	subjects+=("$subj")
	serials+=("$(field "$f" serial)")
	[[ $(field "$f" issuer) == "$int_subj" ]] || fail "$key: issuer $(field "$f" issuer)"
	[[ $(days "$f") -eq 365 ]] || fail "$key lifetime $(days "$f") days"
	[[ $(ext "$f" basicConstraints | tr '\n' ' ') == "critical CA:FALSE " ]] ||
		fail "$key: basicConstraints $(ext "$f" basicConstraints)"
	[[ $(ext "$f" keyUsage | tr '\n' ' ') == "critical Digital Signature " ]] ||
		fail "$key: keyUsage $(ext "$f" keyUsage)"
	openssl x509 -in "$f" -noout -purpose >"$WORK/purpose"
	if [[ $key == tsa ]]; then
		# RFC 3161 2.3: timeStamping alone, critical; OpenSSL's TSA purpose agrees.
		[[ $(ext "$f" extendedKeyUsage | tr '\n' ' ') == "critical Time Stamping " ]] ||
			fail "tsa: extendedKeyUsage $(ext "$f" extendedKeyUsage)"
		grep -qx "Time Stamp signing : Yes" "$WORK/purpose" || fail "tsa: not a TSA certificate to openssl"
	else
		# codeSigning, and emailProtection so that openssl cms -verify accepts it.
		[[ $(ext "$f" extendedKeyUsage | tr '\n' ' ') == "Code Signing, E-mail Protection " ]] ||
			fail "$key: extendedKeyUsage $(ext "$f" extendedKeyUsage)"
		grep -qx "S/MIME signing : Yes" "$WORK/purpose" || fail "$key: openssl cms would refuse it"
		grep -qx "Time Stamp signing : No" "$WORK/purpose" || fail "$key: usable as a TSA certificate"
	fi
	# The certificate is for the key the token holds under that name.
	"$BIN/signet-token" pubkey --module "$module" --token signet-dev --pin-file "$DEVDIR/user.pin" \
		--label "$key" -o "$WORK/$key.token.pem"
	same_pub "$f" "$WORK/$key.token.pem" || fail "$key: the certificate is for another key"
done
cmp -s "$CA/tsa.pem" "$CA/tsa-chain.pem" || fail "tsa-chain.pem is not the TSA's chain"
[[ $(printf '%s\n' "${subjects[@]}" | sort -u | wc -l) -eq ${#keys[@]} ]] || fail "subjects not unique"
[[ $(printf '%s\n' "${serials[@]}" | sort -u | wc -l) -eq ${#serials[@]} ]] || fail "serials not unique"
for s in "${serials[@]}"; do
	# 128 random bits: 31 or 32 hex digits (a leading zero nibble is dropped)
	[[ ${#s} -ge 30 ]] || fail "serial $s is not a 128-bit random number"
done
pass "${#keys[@]} leaves: verified to root.pem only, code signing / TSA profiles, 1 year, the token's keys"

# ---- the daemon serves with the generated policy ----
grep -q "10 of 10 keys usable" "$DEVDIR/signetd.log" || fail "signetd did not open the 10 policy keys"
grep -q "certificate: ca/tsa.pem" "$DEVDIR/policy.yaml" || fail "policy: no certificate for tsa"
grep -qx "    purposes: \[timestamp\]" "$DEVDIR/policy.yaml" || fail "policy: no timestamp key"
grep -qx "    http: true" "$DEVDIR/policy.yaml" || fail "policy: no HTTP client"
# A raw signature from the appliance verifies with the certificate's key.
printf 'devpki' >"$WORK/data"
"$BIN/signet" sign "$WORK/data" --key build-signing -o "$WORK/data.sig"
openssl x509 -in "$CA/build-signing.pem" -noout -pubkey >"$WORK/cert.pub"
out=$(openssl dgst -sha256 -verify "$WORK/cert.pub" -signature "$WORK/data.sig" "$WORK/data" 2>&1)
[[ $out == "Verified OK" ]] || fail "signature by build-signing vs its certificate: $out"
pass "signetd serves with certificates, the tsa key and the HTTP client; a signature verifies with the certificate"

# ---- CA delegation: CA keys, profile rules, profiles, the CA client ----
# The policy's CA keys: the root and the environments' intermediates, purpose
# ca alone, each with its certificate file.
for k in dev-root-ca int-dev int-staging int-prod; do
	cert=ca/$k.pem
	[[ $k == dev-root-ca ]] && cert=ca/root.pem
	awk -v k="$k" '$0 == "  - name: " k { on = 1; next } /^  - name: / { on = 0 } on' \
		"$DEVDIR/policy.yaml" >"$WORK/key.$k"
	grep -qx "    purposes: \[ca\]" "$WORK/key.$k" || fail "policy: $k is not a key of purpose ca"
	grep -qx "    certificate: $cert" "$WORK/key.$k" || fail "policy: $k has not the certificate $cert"
	grep -qx "    algorithm: ec-p384" "$WORK/key.$k" || fail "policy: $k is not ec-p384"
done
grep -q "^    profiles: \[leaf-tls\]$" "$DEVDIR/policy.yaml" || fail "policy: no leaf-tls rule for ci"
grep -q "^    profiles: \[intermediate-ca, leaf-tls\]$" "$DEVDIR/policy.yaml" ||
	fail "policy: no profile rule for ca-server"
# The profiles are the shipped examples (which the unit tests load and check),
# comments aside; the URLs come only with the HTTP listener, which is off.
for p in intermediate-ca leaf-tls; do
	diff <(grep -v '^#' "$SG_SOURCE_DIR/policies/profiles/$p.yaml" | grep -v '^$') \
		<(grep -v '^#' "$DEVDIR/profiles/$p.yaml" | grep -v '^$') >"$WORK/profile.diff" ||
		fail "$p.yaml differs from policies/profiles/$p.yaml: $(cat "$WORK/profile.diff")"
done
# ca-server: its own CURVE key and client configuration; the daemon knows it
# apart from ci (ping yes, keys.list and signing no).
cmp -s "$DEVDIR/ca-server.key.pub" "$DEVDIR/ci.key.pub" && fail "ca-server and ci share a key"
grep -qx "secret_key_file: ca-server.key" "$DEVDIR/ca-client.conf" || fail "ca-client.conf: not ca-server's key"
[[ $(stat -c %a "$DEVDIR/ca-server.key") == 600 ]] || fail "ca-server.key is not 0600"
SIGNET_CONFIG=$DEVDIR/ca-client.conf "$BIN/signet" ping >/dev/null || fail "ca-server cannot ping"
rc=0
SIGNET_CONFIG=$DEVDIR/ca-client.conf "$BIN/signet" keys >/dev/null 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "ca-server: keys.list gave $rc, expected 1 (denied)"
rc=0
SIGNET_CONFIG=$DEVDIR/ca-client.conf "$BIN/signet" sign "$WORK/data" --key build-signing \
	-o "$WORK/ca.sig" >/dev/null 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "ca-server: signing gave $rc, expected 1 (denied)"
pass "CA keys (root, int-dev, int-staging, int-prod) and profile rules in the policy, the example profiles, ca-server apart from ci"
