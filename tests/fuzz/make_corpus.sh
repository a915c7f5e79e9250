#!/usr/bin/env bash
# Regenerates the seed corpora of the fuzz targets in tests/fuzz/corpus/.
#
#   tests/fuzz/make_corpus.sh [BUILD_DIR]     (default: build-fuzz-gcc)
#
# The msgpack seeds (wire_req, wire_rep, wire_preflight, hsm_proto) come from
# make_corpus.c, which uses the project's own encoders; the text seeds
# (p11uri, policy, config, clientconf) are written here.  Files named bad-*
# are meant to be refused.  Inputs kept from fuzzing runs (regression inputs,
# minimised findings) live in the same directories under other names
# (regress-*, and the hash-named files `run.sh --merge` added) and are not
# touched.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build-fuzz-gcc}
corpus=$here/corpus

cmake -S "$root" -B "$build" >/dev/null
cmake --build "$build" --target fuzz_make_corpus -j"$(nproc)" >/dev/null

# Seeds are (re)written under fixed names; nothing else is removed, so that
# regression inputs and merged corpus entries survive a regeneration.
for t in wire_req wire_rep wire_preflight hsm_proto p11uri policy config clientconf; do
  mkdir -p "$corpus/$t"
done
"$build/tests/fuzz/fuzz_make_corpus" "$corpus"

# --- p11uri: one URI per file, no newline ---------------------------------
uri() { printf '%s' "$2" >"$corpus/p11uri/$1"; }
uri token-object-type 'pkcs11:token=signet-dev;object=build-signing;type=private'
uri all-attrs 'pkcs11:token=T;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;serial=0123abcd;object=k;id=%01%02%03;type=cert;library-manufacturer=SoftHSM;library-description=Implementation%20of%20PKCS11;library-version=2.6'
uri id-only 'pkcs11:id=%de%ad%be%ef'
uri upper-scheme 'PKCS11:object=a%2Fb;type=public'
uri types 'pkcs11:type=secret-key'
uri type-data 'pkcs11:type=data;library-version=3'
uri label 'label:release signing key'
uri label-utf8 $'label:cl\xc3\xa9 de signature'
uri empty-path 'pkcs11:'
uri bad-pin-value 'pkcs11:object=k;pin-value=1234secret'
uri bad-pin-source 'pkcs11:object=k?pin-source=file:/etc/pin'
uri bad-query 'pkcs11:object=k?module-path=/tmp/evil.so'
uri bad-unknown 'pkcs11:slot-id=3'
uri bad-duplicate 'pkcs11:object=a;object=b'
uri bad-escape 'pkcs11:object=%4'
uri bad-nul 'pkcs11:object=a%00b'
uri bad-empty-segment 'pkcs11:object=a;'
uri bad-version 'pkcs11:library-version=1.2.3'
uri bad-type 'pkcs11:type=privat'
uri bad-too-long "pkcs11:object=$(printf 'x%.0s' $(seq 1 130))"
uri bad-scheme 'file:object=a'
uri bad-label-control $'label:a\tb'

# --- policy ----------------------------------------------------------------
cp "$root/policies/example.yaml" "$corpus/policy/example.yaml"
cat >"$corpus/policy/small.yaml" <<'Y'
version: 1
clients:
  - name: a
    curve_public_key: "d{@q2-9CJNR+bFs7Vr167aF/FokuI=v8jndXL^Pv"
    roles: [r1, r2]
  - name: b
    curve_public_key: "2WOv:Umo.HqWy:)cthW#bOEAt?.KSnfX8tly9?UR"
    max_inflight: 1
keys:
  - name: ec
    uri: "label:fast key"
    algorithm: ec-p384
    purposes: [sign]
    self_verify: false
  - name: rsa
    uri: "pkcs11:id=%01%02"
    algorithm: rsa-4096
    purposes: [sign]
    self_verify: true
rules:
  - clients: [a, b]
    roles: [r2]
    ops: [sign.digest]
    keys: [ec, rsa, ec]
    hashes: [sha512]
    paddings: [pkcs1]
  - roles: [r1]
    ops: [keys.list]
Y
cat >"$corpus/policy/empty-lists.yaml" <<'Y'
version: 1
clients: []
keys: []
rules: []
Y
cat >"$corpus/policy/bad-alias.yaml" <<'Y'
version: 1
clients:
  - &c
    name: a
    curve_public_key: "d{@q2-9CJNR+bFs7Vr167aF/FokuI=v8jndXL^Pv"
  - *c
keys: []
rules: []
Y
cat >"$corpus/policy/bad-duplicate-key.yaml" <<'Y'
version: 1
version: 2
clients: []
Y
cat >"$corpus/policy/bad-unknown-field.yaml" <<'Y'
version: 1
clients: []
keys: []
rules:
  - ops: [ping]
    allow_all: true
Y
cat >"$corpus/policy/bad-rsa-no-verify.yaml" <<'Y'
version: 1
clients:
  - name: a
    curve_public_key: "d{@q2-9CJNR+bFs7Vr167aF/FokuI=v8jndXL^Pv"
keys:
  - name: rsa
    uri: "pkcs11:object=rsa"
    algorithm: rsa-2048
    purposes: [sign]
    self_verify: false
rules:
  - clients: [a]
    ops: [sign.digest]
    keys: [nosuch]
Y
printf 'version: 1\nclients: [\n' >"$corpus/policy/bad-truncated.yaml"

# --- config (signetd.yaml) --------------------------------------------------
cat >"$corpus/config/example.yaml" <<'Y'
listen: ["tcp://127.0.0.1:7701", "ipc:///run/signet/signetd.sock"]
server_secret_key_file: server.key
policy: policy.yaml
audit_db: audit.db
pkcs11:
  module: /usr/lib/softhsm/libsofthsm2.so
  module_allowlist: pkcs11-modules.allow
  token_label: signet-dev
  pin_file: user.pin
workers: 2
limits:
  max_message_size: 65536
  max_inflight_per_client: 256
log:
  level: info
  syslog: false
pid_file: signetd.pid
Y
cat >"$corpus/config/minimal-pin-fd.yaml" <<'Y'
listen: [ipc:///tmp/s]
server_secret_key_file: /etc/signet/server.key
policy: /etc/signet/policy.yaml
audit_db: /var/lib/signet/audit.db
pkcs11: {module: /usr/lib/x.so, token_label: t, pin_fd: 3}
Y
cat >"$corpus/config/bad-both-pins.yaml" <<'Y'
listen: ["tcp://*:1", "tcp://*:1"]
server_secret_key_file: k
policy: p
audit_db: a
pkcs11: {module: rel.so, token_label: t, pin_fd: 2, pin_file: p}
workers: 65
limits: {max_message_size: 1}
log: {level: loud, syslog: maybe}
Y

# --- clientconf (client.conf) -----------------------------------------------
cat >"$corpus/clientconf/example.conf" <<'Y'
endpoint: tcp://127.0.0.1:7701
server_public_key: "d{@q2-9CJNR+bFs7Vr167aF/FokuI=v8jndXL^Pv"
secret_key_file: ci.key
timeout_ms: 30000
Y
cat >"$corpus/clientconf/absolute.conf" <<'Y'
endpoint: "ipc:///run/signet/signetd.sock"
server_public_key: '2WOv:Umo.HqWy:)cthW#bOEAt?.KSnfX8tly9?UR'
secret_key_file: /home/ci/.signet/ci.key
Y
cat >"$corpus/clientconf/bad-key.conf" <<'Y'
endpoint: udp://x
server_public_key: "short"
secret_key_file: ""
timeout_ms: 0
Y

echo "corpus: $(find "$corpus" -type f | wc -l) files, $(du -sh "$corpus" | cut -f1)"
