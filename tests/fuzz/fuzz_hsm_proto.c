/*
 * fuzz_hsm_proto: every decoder of signer/sg_hsm_proto.h on the same
 * arbitrary bytes (the signer decodes what the front sends and the front
 * what the signer sends; either side may be the compromised one), with the
 * clear functions after each.
 *
 * Invariants checked:
 *  - results are 0, SG_ERR_MALFORMED or SG_ERR_TOO_LARGE;
 *  - a decoded message agrees with the peek functions: sg_hsm_peek_type()
 *    gives its type, and for a SIGN request sg_hsm_peek_seq() its seq;
 *  - decoded fields are within the ranges docs/hsm-channel.md gives;
 *  - round trip: a decoded message re-encodes with the matching encoder
 *    (which must accept it: the decoder may not let through what the
 *    encoder refuses), and the encoding decodes to the same message and is
 *    the same bytes when encoded again.
 */
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sg_err.h"
#include "sg_hsm_proto.h"

static msgpack_sbuffer sg_sb1, sg_sb2;
static int sg_ready;

static int
sg_ok_err(int r)
{
	return r == 0 || r == SG_ERR_MALFORMED || r == SG_ERR_TOO_LARGE;
}

static void
sg_same_bytes(void)
{
	SG_FUZZ_CHECK(sg_sb1.size == sg_sb2.size);
	SG_FUZZ_CHECK(memcmp(sg_sb1.data, sg_sb2.data, sg_sb1.size) == 0);
}

static void
sg_sign_req(const uint8_t *data, size_t size)
{
	struct sg_hsm_sign_req a, b;
	enum sg_hsm_type t;
	uint64_t seq;
	int r;

	r = sg_hsm_decode_sign_req(data, size, &a);
	SG_FUZZ_CHECK(sg_ok_err(r));
	if (r != 0)
		return;
	SG_FUZZ_CHECK(sg_hsm_peek_type(data, size, &t) == 0 && t == SG_HSM_SIGN);
	SG_FUZZ_CHECK(sg_hsm_peek_seq(data, size, &seq) == 0 && seq == a.seq);
	SG_FUZZ_CHECK(sg_wire_name_valid(a.key, strlen(a.key)));
	SG_FUZZ_CHECK(a.digest_len >= 1 && a.digest_len <= SG_HASH_MAX_LEN);
	SG_FUZZ_CHECK(sg_hsm_encode_sign_req(&sg_sb1, &a) == 0);
	SG_FUZZ_CHECK(sg_hsm_decode_sign_req(sg_sb1.data, sg_sb1.size, &b) == 0);
	SG_FUZZ_CHECK(a.seq == b.seq && strcmp(a.key, b.key) == 0 && a.hash == b.hash &&
	              a.pad == b.pad && a.digest_len == b.digest_len &&
	              memcmp(a.digest, b.digest, a.digest_len) == 0);
	SG_FUZZ_CHECK(sg_hsm_encode_sign_req(&sg_sb2, &b) == 0);
	sg_same_bytes();
}

static void
sg_sign_rep(const uint8_t *data, size_t size)
{
	static struct sg_hsm_sign_rep a, b;
	enum sg_hsm_type t;
	int r;

	r = sg_hsm_decode_sign_rep(data, size, &a);
	SG_FUZZ_CHECK(sg_ok_err(r));
	if (r != 0)
		return;
	SG_FUZZ_CHECK(sg_hsm_peek_type(data, size, &t) == 0 && t == SG_HSM_SIGN);
	SG_FUZZ_CHECK(a.err == 0 || sg_err_known(a.err));
	SG_FUZZ_CHECK(a.err == 0 ? (a.sig_len >= 1 && a.sig_len <= SG_SIG_MAX) : a.sig_len == 0);
	SG_FUZZ_CHECK(sg_hsm_encode_sign_rep(&sg_sb1, &a) == 0);
	SG_FUZZ_CHECK(sg_hsm_decode_sign_rep(sg_sb1.data, sg_sb1.size, &b) == 0);
	SG_FUZZ_CHECK(a.seq == b.seq && a.err == b.err && a.sig_len == b.sig_len &&
	              memcmp(a.sig, b.sig, a.sig_len) == 0);
	SG_FUZZ_CHECK(sg_hsm_encode_sign_rep(&sg_sb2, &b) == 0);
	sg_same_bytes();
}

static void
sg_keys_req(const uint8_t *data, size_t size)
{
	struct sg_hsm_keys_req a, b;
	enum sg_hsm_type t;
	size_t i;
	int r;

	r = sg_hsm_decode_keys_req(data, size, &a);
	SG_FUZZ_CHECK(sg_ok_err(r));
	if (r != 0) {
		/* On failure nothing needs freeing: clearing must be harmless. */
		SG_FUZZ_CHECK(a.specs == NULL && a.n == 0);
		sg_hsm_keys_req_clear(&a);
		return;
	}
	SG_FUZZ_CHECK(sg_hsm_peek_type(data, size, &t) == 0 && t == SG_HSM_KEYS);
	SG_FUZZ_CHECK(a.n <= SG_MAX_KEYS && (a.n == 0 || a.specs != NULL));
	for (i = 0; i < a.n; i++) {
		SG_FUZZ_CHECK(sg_wire_name_valid(a.specs[i].name, strlen(a.specs[i].name)));
		SG_FUZZ_CHECK(strlen(a.specs[i].uri) >= 1 &&
		              strlen(a.specs[i].uri) <= SG_HSM_URI_MAX);
	}
	SG_FUZZ_CHECK(sg_hsm_encode_keys_req(&sg_sb1, &a) == 0);
	SG_FUZZ_CHECK(sg_hsm_decode_keys_req(sg_sb1.data, sg_sb1.size, &b) == 0);
	SG_FUZZ_CHECK(a.n == b.n);
	for (i = 0; i < a.n; i++) {
		const struct sg_hsm_keyspec *x = &a.specs[i], *y = &b.specs[i];

		SG_FUZZ_CHECK(strcmp(x->name, y->name) == 0 && strcmp(x->uri, y->uri) == 0 &&
		              x->alg == y->alg && x->self_verify == y->self_verify);
	}
	SG_FUZZ_CHECK(sg_hsm_encode_keys_req(&sg_sb2, &b) == 0);
	sg_same_bytes();
	sg_hsm_keys_req_clear(&b);
	sg_hsm_keys_req_clear(&a);
	SG_FUZZ_CHECK(a.specs == NULL && a.n == 0);
}

static void
sg_keys_rep(const uint8_t *data, size_t size)
{
	struct sg_hsm_keys_rep a, b;
	enum sg_hsm_type t;
	size_t i;
	int r;

	r = sg_hsm_decode_keys_rep(data, size, &a);
	SG_FUZZ_CHECK(sg_ok_err(r));
	if (r != 0) {
		SG_FUZZ_CHECK(a.keys == NULL && a.n == 0);
		sg_hsm_keys_rep_clear(&a);
		return;
	}
	SG_FUZZ_CHECK(sg_hsm_peek_type(data, size, &t) == 0 && t == SG_HSM_KEYS);
	SG_FUZZ_CHECK(a.err == 0 || sg_err_known(a.err));
	SG_FUZZ_CHECK(a.n <= SG_MAX_KEYS && (a.n == 0) == (a.keys == NULL));
	for (i = 0; i < a.n; i++) {
		const struct sg_hsm_key_status *k = &a.keys[i];

		SG_FUZZ_CHECK(k->name[0] == '\0' || sg_wire_name_valid(k->name, strlen(k->name)));
		SG_FUZZ_CHECK(k->err == 0 ? (k->pub_len >= 1 && k->pub_len <= SG_PUB_MAX)
		                          : (k->pub_len == 0 && sg_err_known(k->err)));
	}
	SG_FUZZ_CHECK(sg_hsm_encode_keys_rep(&sg_sb1, &a) == 0);
	SG_FUZZ_CHECK(sg_hsm_decode_keys_rep(sg_sb1.data, sg_sb1.size, &b) == 0);
	SG_FUZZ_CHECK(a.err == b.err && a.n == b.n);
	for (i = 0; i < a.n; i++) {
		const struct sg_hsm_key_status *x = &a.keys[i], *y = &b.keys[i];

		SG_FUZZ_CHECK(strcmp(x->name, y->name) == 0 && x->err == y->err &&
		              x->alg == y->alg && x->pub_len == y->pub_len &&
		              memcmp(x->pub, y->pub, x->pub_len) == 0);
	}
	SG_FUZZ_CHECK(sg_hsm_encode_keys_rep(&sg_sb2, &b) == 0);
	sg_same_bytes();
	sg_hsm_keys_rep_clear(&b);
	sg_hsm_keys_rep_clear(&a);
	SG_FUZZ_CHECK(a.keys == NULL && a.n == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum sg_hsm_type t;
	uint64_t seq;
	int r;

	if (!sg_ready) {
		msgpack_sbuffer_init(&sg_sb1);
		msgpack_sbuffer_init(&sg_sb2);
		sg_ready = 1;
	}
	/* The peeks read a prefix of a possibly malformed message on their own. */
	r = sg_hsm_peek_type(data, size, &t);
	SG_FUZZ_CHECK(r == 0 || r == SG_ERR_MALFORMED);
	SG_FUZZ_CHECK(r != 0 || t == SG_HSM_SIGN || t == SG_HSM_KEYS);
	r = sg_hsm_peek_seq(data, size, &seq);
	SG_FUZZ_CHECK(r == 0 || r == SG_ERR_MALFORMED);
	sg_sign_req(data, size);
	sg_sign_rep(data, size);
	sg_keys_req(data, size);
	sg_keys_rep(data, size);
	return 0;
}
