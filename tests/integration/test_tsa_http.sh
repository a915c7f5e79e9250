#!/usr/bin/env bash
# RFC 3161 over HTTP end to end (docs/http.md): a real signetd with its HTTP
# listener on, stock curl as the TSA client, and openssl ts -verify deciding.
# Covers both routes, nonce and certReq, PKIStatus rejections (still 200),
# the HTTP refusals (which never reach the front or the audit log), the policy
# applying to the HTTP-only client (a reload that narrows its rule gives 403,
# audited as denied), concurrent clients with unique serial numbers, and the
# listener closing when signetd stops.
source "$(dirname "$0")/lib.sh"
if ! command -v curl >/dev/null; then
	echo "curl is not installed (.ci/install-deps): skipped"
	exit 77
fi
SIGNET_DEV_HTTP_PORT=$(free_port)
export SIGNET_DEV_HTTP_PORT
dev_up
grep -q '^http:' "$DEVDIR/signetd.yaml" || fail "signet-dev wrote no http section"
URL=http://127.0.0.1:$SIGNET_DEV_HTTP_PORT
CT=application/timestamp-query
CA=(-CAfile "$DEVDIR/ca/root.pem" -untrusted "$DEVDIR/ca/tsa-chain.pem")
T=$WORK/tsa
mkdir -p "$T"
head -c 1048576 /dev/urandom >"$T/data.bin"

# post BODY_FILE URL OUT [CONTENT_TYPE]: prints "STATUS CONTENT-TYPE"; headers in OUT.h
post() {
	local ct=${4-$CT} h=()
	[[ -n $ct ]] && h=(-H "Content-Type: $ct")
	curl -sS --max-time 30 -o "$3" -D "$3.h" -w '%{http_code} %{content_type}' \
		--data-binary @"$1" "${h[@]}" "$2"
}

records() { # client, op 5 (timestamp), result
	sqlite3 "$DEVDIR/audit.db" \
		"SELECT count(*) FROM records WHERE client = 'http-tsa' AND op = 5 AND result = $1"
}

verify() { # data tsr [queryfile]
	local out
	out=$(openssl ts -verify -data "$1" -in "$2" "${CA[@]}" 2>&1) || {
		echo "$out" >&2
		return 1
	}
	[[ $out == *"Verification: OK"* ]] || return 1
	if [[ -n ${3:-} ]]; then
		out=$(openssl ts -verify -queryfile "$3" -in "$2" "${CA[@]}" 2>&1) || return 1
		[[ $out == *"Verification: OK"* ]] || return 1
	fi
}

status_of() { # tsr: "Granted." or "Rejected."
	openssl ts -reply -in "$1" -text 2>/dev/null | sed -n 's/^Status: //p'
}

# 1. /tsa, sha256, nonce and certReq: verified by openssl against the request too
openssl ts -query -data "$T/data.bin" -sha256 -cert -out "$T/a.tsq" 2>/dev/null
out=$(post "$T/a.tsq" "$URL/tsa" "$T/a.tsr")
[[ $out == "200 application/timestamp-reply" ]] || fail "POST /tsa: $out"
grep -qi '^Cache-Control: no-store' "$T/a.tsr.h" || fail "no Cache-Control: no-store"
verify "$T/data.bin" "$T/a.tsr" "$T/a.tsq" || fail "openssl ts -verify rejected the /tsa answer"
cp "$T/data.bin" "$T/tampered.bin"
flip_byte "$T/tampered.bin" 1000
! verify "$T/tampered.bin" "$T/a.tsr" 2>/dev/null || fail "a tampered file verified"
pass "POST /tsa: granted, nonce and imprint verified by openssl; tampering detected"

# 2. the root route, sha384 and sha512, without certReq (the chain comes from -untrusted)
for h in sha384 sha512; do
	openssl ts -query -data "$T/data.bin" "-$h" -out "$T/$h.tsq" 2>/dev/null
	out=$(post "$T/$h.tsq" "$URL/" "$T/$h.tsr")
	[[ $out == "200 application/timestamp-reply" ]] || fail "POST / $h: $out"
	verify "$T/data.bin" "$T/$h.tsr" "$T/$h.tsq" || fail "openssl ts -verify rejected the $h answer"
done
pass "POST /: sha384 and sha512 verified"

# 3. rejections are 200 with a TimeStampResp of status rejection
openssl ts -query -data "$T/data.bin" -sha256 -tspolicy 1.2.3.4 -out "$T/pol.tsq" 2>/dev/null
out=$(post "$T/pol.tsq" "$URL/tsa" "$T/pol.tsr")
[[ $out == "200 application/timestamp-reply" ]] || fail "disallowed policy: $out"
[[ $(status_of "$T/pol.tsr") == Rejected. ]] || fail "disallowed policy not rejected"
printf 'not a TimeStampReq' >"$T/junk.tsq"
out=$(post "$T/junk.tsq" "$URL/tsa" "$T/junk.tsr")
[[ $out == "200 application/timestamp-reply" ]] || fail "garbage query: $out"
[[ $(status_of "$T/junk.tsr") == Rejected. ]] || fail "garbage query not rejected"
openssl ts -reply -in "$T/junk.tsr" -text 2>/dev/null | grep -q 'wrong format' ||
	fail "garbage query: no badDataFormat"
pass "disallowed policy and garbage query: 200 with PKIStatus rejection"

# 4. HTTP refusals, before anything reaches the front: no audit record
before=$(sqlite3 "$DEVDIR/audit.db" "SELECT count(*) FROM records")
out=$(curl -sS -o "$T/get" -D "$T/get.h" -w '%{http_code}' "$URL/tsa")
[[ $out == 405 ]] || fail "GET /tsa: $out"
grep -qi '^Allow: POST' "$T/get.h" || fail "405 without Allow: POST"
out=$(post "$T/a.tsq" "$URL/tsa" "$T/ct" "")
[[ $out == 415* ]] || fail "no Content-Type: $out"
out=$(post "$T/a.tsq" "$URL/tsa" "$T/ct" application/octet-stream)
[[ $out == 415* ]] || fail "wrong Content-Type: $out"
out=$(post "$T/a.tsq" "$URL/nope" "$T/nf")
[[ $out == 404* ]] || fail "unknown path: $out"
head -c 20000 /dev/urandom >"$T/big.tsq"
out=$(post "$T/big.tsq" "$URL/tsa" "$T/big")
[[ $out == 413* ]] || fail "20000-byte body: $out"
: >"$T/empty.tsq"
out=$(post "$T/empty.tsq" "$URL/tsa" "$T/empty")
[[ $out == 400* ]] || fail "empty body: $out"
[[ $(sqlite3 "$DEVDIR/audit.db" "SELECT count(*) FROM records") == "$before" ]] ||
	fail "a refused HTTP request reached the audit log"
grep -q "http: 127.0.0.1:[0-9]* POST /nope: 404 not_found" "$DEVDIR/signetd.log" ||
	fail "no log line for the refused request"
pass "405 (Allow), 415, 404, 413, 400 answered by the listener, not audited, logged"

# 5. every forwarded request is audited as the HTTP-only client
[[ $(records 0) == 5 ]] || fail "expected 5 audited time-stamps of http-tsa, got $(records 0)"
pass "time-stamps audited as client http-tsa"

# 6. the policy decides: narrow the HTTP client's rule to sha512 and reload
awk '/name: http-timestamp/ { r = 1 } r && /hashes:/ { sub(/\[.*\]/, "[sha512]"); r = 0 } { print }' \
	"$DEVDIR/policy.yaml" >"$T/policy.yaml"
cat "$T/policy.yaml" >"$DEVDIR/policy.yaml"
kill -HUP "$(cat "$DEVDIR/signetd.pid")"
for _ in $(seq 1 50); do
	grep -q 'policy reloaded' "$DEVDIR/signetd.log" && break
	sleep 0.1
done
grep -q 'policy reloaded' "$DEVDIR/signetd.log" || fail "policy not reloaded"
out=$(post "$T/a.tsq" "$URL/tsa" "$T/denied")
[[ $out == 403* ]] || fail "sha256 after the reload: $out"
[[ $(cat "$T/denied") == denied ]] || fail "403 body: $(cat "$T/denied")"
[[ $(records -30) == 1 ]] || fail "the denial is not audited"
out=$(post "$T/sha512.tsq" "$URL/tsa" "$T/sha512b.tsr")
[[ $out == 200* ]] || fail "sha512 after the reload: $out"
verify "$T/data.bin" "$T/sha512b.tsr" || fail "sha512 answer after the reload"
pass "policy reload: sha256 denied (403, audited), sha512 still granted"

# 7. concurrent clients: all granted, all verify, serial numbers unique
pids=()
for i in $(seq 1 16); do
	openssl ts -query -data "$T/data.bin" -sha512 -cert -out "$T/c$i.tsq" 2>/dev/null
	post "$T/c$i.tsq" "$URL/tsa" "$T/c$i.tsr" >"$T/c$i.st" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent curl failed"; done
for i in $(seq 1 16); do
	[[ $(cat "$T/c$i.st") == 200* ]] || fail "concurrent request $i: $(cat "$T/c$i.st")"
	verify "$T/data.bin" "$T/c$i.tsr" "$T/c$i.tsq" || fail "concurrent answer $i does not verify"
	openssl ts -reply -in "$T/c$i.tsr" -text 2>/dev/null | sed -n 's/^Serial number: //p'
done >"$T/serials"
[[ $(sort "$T/serials" | uniq | wc -l) == 16 ]] || fail "serial numbers repeat: $(sort "$T/serials" | tr '\n' ' ')"
pass "16 concurrent clients: granted, verified, unique serial numbers"

# 8. the listener closes with signetd
"$DEV" down "$DEVDIR" >/dev/null 2>&1
if (exec 3<>"/dev/tcp/127.0.0.1/$SIGNET_DEV_HTTP_PORT") 2>/dev/null; then
	fail "the HTTP port still accepts after signetd stopped"
fi
grep -q 'http: stopped listening' "$DEVDIR/signetd.log" || fail "no stop line in the log"
# under -DSIGNET_SANITIZE=ON the sanitizers report into the daemon's log
! grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$DEVDIR/signetd.log" ||
	fail "sanitizer report in signetd.log"
pass "HTTP listener closed with signetd"
