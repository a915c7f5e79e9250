/* Unit tests of sg_hsm_proto: round trips and every malformed shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sg_err.h"
#include "sg_hsm_proto.h"

/* ---- helpers to build arbitrary (also malformed) messages ------------- */

struct mp {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

static void
mp_init(struct mp *m)
{
	msgpack_sbuffer_init(&m->sb);
	msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void
mp_done(struct mp *m)
{
	msgpack_sbuffer_destroy(&m->sb);
}

static void
mp_str(struct mp *m, const char *s)
{
	msgpack_pack_str(&m->pk, strlen(s));
	msgpack_pack_str_body(&m->pk, s, strlen(s));
}

static void
mp_bin(struct mp *m, const unsigned char *b, size_t n)
{
	msgpack_pack_bin(&m->pk, n);
	msgpack_pack_bin_body(&m->pk, b, n);
}

static const unsigned char d32[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                      12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                      23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* Packs [1, seq, key, hash, pad, digest] with one field replaced by "bad". */
static void
pack_sign_req(struct mp *m, int which, int n_elems)
{
	unsigned char big[SG_HASH_MAX_LEN + 1];

	memset(big, 7, sizeof(big));
	msgpack_pack_array(&m->pk, (size_t)n_elems);
	for (int i = 0; i < n_elems; i++) {
		int bad = i == which;

		switch (i) {
		case 0:
			if (bad == 1)
				msgpack_pack_uint8(&m->pk, 2); /* KEYS tag */
			else
				msgpack_pack_uint8(&m->pk, 1);
			break;
		case 1:
			if (bad)
				mp_str(m, "1");
			else
				msgpack_pack_uint64(&m->pk, 77);
			break;
		case 2:
			if (bad)
				mp_str(m, "bad name");
			else
				mp_str(m, "ci-release");
			break;
		case 3:
			if (bad)
				msgpack_pack_uint16(&m->pk, 256);
			else
				msgpack_pack_uint8(&m->pk, SG_HASH_SHA256);
			break;
		case 4:
			if (bad)
				msgpack_pack_int8(&m->pk, -1);
			else
				msgpack_pack_uint8(&m->pk, SG_PAD_NONE);
			break;
		case 5:
			if (bad)
				mp_bin(m, big, sizeof(big));
			else
				mp_bin(m, d32, sizeof(d32));
			break;
		default:
			msgpack_pack_nil(&m->pk);
			break;
		}
	}
}

static void
test_sign_req_roundtrip(void **state)
{
	struct sg_hsm_sign_req req, back;
	msgpack_sbuffer sb;
	enum sg_hsm_type t;
	uint64_t seq;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.seq = UINT64_MAX;
	strcpy(req.key, "ci-release_2.x");
	req.hash = SG_HASH_SHA512;
	req.pad = SG_PAD_PSS;
	memset(req.digest, 0xab, 64);
	req.digest_len = 64;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sg_hsm_encode_sign_req(&sb, &req), 0);
	assert_int_equal(sg_hsm_decode_sign_req(sb.data, sb.size, &back), 0);
	assert_true(back.seq == UINT64_MAX);
	assert_string_equal(back.key, req.key);
	assert_int_equal(back.hash, SG_HASH_SHA512);
	assert_int_equal(back.pad, SG_PAD_PSS);
	assert_int_equal(back.digest_len, 64);
	assert_memory_equal(back.digest, req.digest, 64);
	assert_int_equal(sg_hsm_peek_type(sb.data, sb.size, &t), 0);
	assert_int_equal(t, SG_HSM_SIGN);
	assert_int_equal(sg_hsm_peek_seq(sb.data, sb.size, &seq), 0);
	assert_true(seq == UINT64_MAX);

	/* every truncation is malformed; a trailing byte is malformed */
	for (size_t n = 0; n < sb.size; n++)
		assert_int_equal(sg_hsm_decode_sign_req(sb.data, n, &back), SG_ERR_MALFORMED);
	msgpack_sbuffer_write(&sb, "\xc0", 1);
	assert_int_equal(sg_hsm_decode_sign_req(sb.data, sb.size, &back), SG_ERR_MALFORMED);
	msgpack_sbuffer_destroy(&sb);

	/* encoder refuses what the decoder would refuse */
	msgpack_sbuffer_init(&sb);
	req.digest_len = 0;
	assert_int_equal(sg_hsm_encode_sign_req(&sb, &req), SG_ERR_INVALID_ARG);
	req.digest_len = SG_HASH_MAX_LEN + 1;
	assert_int_equal(sg_hsm_encode_sign_req(&sb, &req), SG_ERR_INVALID_ARG);
	req.digest_len = 32;
	strcpy(req.key, "no/slash");
	assert_int_equal(sg_hsm_encode_sign_req(&sb, &req), SG_ERR_INVALID_ARG);
	req.key[0] = '\0';
	assert_int_equal(sg_hsm_encode_sign_req(&sb, &req), SG_ERR_INVALID_ARG);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_sign_req_malformed(void **state)
{
	struct sg_hsm_sign_req back;
	struct mp m;
	uint64_t seq;

	(void)state;
	/* the well-formed baseline decodes */
	mp_init(&m);
	pack_sign_req(&m, -1, 6);
	assert_int_equal(sg_hsm_decode_sign_req(m.sb.data, m.sb.size, &back), 0);
	assert_int_equal(back.seq, 77);
	mp_done(&m);
	/* each field wrong in turn */
	for (int which = 0; which < 6; which++) {
		mp_init(&m);
		pack_sign_req(&m, which, 6);
		assert_int_equal(sg_hsm_decode_sign_req(m.sb.data, m.sb.size, &back),
		                 SG_ERR_MALFORMED);
		mp_done(&m);
	}
	/* a bad field after seq still lets the seq be read for the error reply */
	mp_init(&m);
	pack_sign_req(&m, 5, 6);
	assert_int_equal(sg_hsm_peek_seq(m.sb.data, m.sb.size, &seq), 0);
	assert_int_equal(seq, 77);
	mp_done(&m);
	mp_init(&m);
	pack_sign_req(&m, 1, 6);
	assert_int_equal(sg_hsm_peek_seq(m.sb.data, m.sb.size, &seq), SG_ERR_MALFORMED);
	mp_done(&m);
	/* wrong counts */
	mp_init(&m);
	pack_sign_req(&m, -1, 5);
	assert_int_equal(sg_hsm_decode_sign_req(m.sb.data, m.sb.size, &back), SG_ERR_MALFORMED);
	mp_done(&m);
	mp_init(&m);
	pack_sign_req(&m, -1, 7);
	assert_int_equal(sg_hsm_decode_sign_req(m.sb.data, m.sb.size, &back), SG_ERR_MALFORMED);
	mp_done(&m);
	/* an empty digest, a digest as str, a key of 65 bytes */
	mp_init(&m);
	msgpack_pack_array(&m.pk, 6);
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_pack_uint8(&m.pk, 1);
	mp_str(&m, "k");
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_pack_uint8(&m.pk, 0);
	mp_bin(&m, d32, 0);
	assert_int_equal(sg_hsm_decode_sign_req(m.sb.data, m.sb.size, &back), SG_ERR_MALFORMED);
	mp_done(&m);
	mp_init(&m);
	msgpack_pack_array(&m.pk, 6);
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_pack_uint8(&m.pk, 1);
	mp_str(&m, "k");
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_pack_uint8(&m.pk, 0);
	mp_str(&m, "0123456789abcdef0123456789abcdef");
	assert_int_equal(sg_hsm_decode_sign_req(m.sb.data, m.sb.size, &back), SG_ERR_MALFORMED);
	mp_done(&m);
	mp_init(&m);
	msgpack_pack_array(&m.pk, 6);
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_pack_uint8(&m.pk, 1);
	mp_str(&m, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); /* 65 */
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_pack_uint8(&m.pk, 0);
	mp_bin(&m, d32, 32);
	assert_int_equal(sg_hsm_decode_sign_req(m.sb.data, m.sb.size, &back), SG_ERR_MALFORMED);
	mp_done(&m);
	/* a map instead of an array; an ext type; nothing at all */
	mp_init(&m);
	msgpack_pack_map(&m.pk, 1);
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_pack_uint8(&m.pk, 1);
	assert_int_equal(sg_hsm_decode_sign_req(m.sb.data, m.sb.size, &back), SG_ERR_MALFORMED);
	mp_done(&m);
	assert_int_equal(
	    sg_hsm_decode_sign_req("\x96\x01\x01\xd4\x00\x00\x01\x00\xc4\x00", 10, &back),
	    SG_ERR_MALFORMED);
	assert_int_equal(sg_hsm_decode_sign_req("", 0, &back), SG_ERR_MALFORMED);
	assert_int_equal(sg_hsm_decode_sign_req(NULL, 4, &back), SG_ERR_MALFORMED);
	/* a claimed length beyond the frame (bin32 of 4 GiB) */
	assert_int_equal(
	    sg_hsm_decode_sign_req("\x96\x01\x01\xa1k\x01\x00\xc6\xff\xff\xff\xff", 12, &back),
	    SG_ERR_MALFORMED);
}

static void
test_too_large(void **state)
{
	struct sg_hsm_sign_req req;
	struct sg_hsm_keys_req kreq;
	unsigned char *big;

	(void)state;
	big = calloc(1, SG_HSM_MAX_KEYS_MSG + 1);
	assert_non_null(big);
	assert_int_equal(sg_hsm_decode_sign_req(big, SG_HSM_MAX_MSG + 1, &req), SG_ERR_TOO_LARGE);
	assert_int_equal(sg_hsm_decode_keys_req(big, SG_HSM_MAX_KEYS_MSG + 1, &kreq),
	                 SG_ERR_TOO_LARGE);
	assert_null(kreq.specs);
	free(big);
}

static void
test_sign_rep(void **state)
{
	struct sg_hsm_sign_rep rep, back;
	msgpack_sbuffer sb;
	struct mp m;

	(void)state;
	memset(&rep, 0, sizeof(rep));
	rep.seq = 5;
	rep.sig_len = SG_SIG_MAX;
	memset(rep.sig, 0x5a, SG_SIG_MAX);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sg_hsm_encode_sign_rep(&sb, &rep), 0);
	assert_int_equal(sg_hsm_decode_sign_rep(sb.data, sb.size, &back), 0);
	assert_int_equal(back.seq, 5);
	assert_int_equal(back.err, 0);
	assert_int_equal(back.sig_len, SG_SIG_MAX);
	assert_memory_equal(back.sig, rep.sig, SG_SIG_MAX);
	for (size_t n = 0; n < sb.size; n++)
		assert_int_equal(sg_hsm_decode_sign_rep(sb.data, n, &back), SG_ERR_MALFORMED);

	rep.sig_len = 0;
	rep.err = SG_ERR_SELF_VERIFY;
	assert_int_equal(sg_hsm_encode_sign_rep(&sb, &rep), 0);
	assert_int_equal(sg_hsm_decode_sign_rep(sb.data, sb.size, &back), 0);
	assert_int_equal(back.err, SG_ERR_SELF_VERIFY);
	assert_int_equal(back.sig_len, 0);

	/* encoder: sig with an error, no sig on success, unknown code, too long */
	rep.sig_len = 3;
	assert_int_equal(sg_hsm_encode_sign_rep(&sb, &rep), SG_ERR_INVALID_ARG);
	rep.err = 0;
	rep.sig_len = 0;
	assert_int_equal(sg_hsm_encode_sign_rep(&sb, &rep), SG_ERR_INVALID_ARG);
	rep.err = -9;
	assert_int_equal(sg_hsm_encode_sign_rep(&sb, &rep), SG_ERR_INVALID_ARG);
	rep.err = 0;
	rep.sig_len = SG_SIG_MAX + 1;
	assert_int_equal(sg_hsm_encode_sign_rep(&sb, &rep), SG_ERR_INVALID_ARG);
	msgpack_sbuffer_destroy(&sb);

	/* decoder: the same shapes built by hand */
	{
		static const struct {
			int64_t err;
			size_t sig;
		} bad[] = {{-9, 0},      {3, 0}, {SG_ERR_HSM, 4}, {0, 0}, {0, SG_SIG_MAX + 1},
		           {-1000000, 0}};
		unsigned char sig[SG_SIG_MAX + 1];

		memset(sig, 1, sizeof(sig));
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			mp_init(&m);
			msgpack_pack_array(&m.pk, 4);
			msgpack_pack_uint8(&m.pk, 1);
			msgpack_pack_uint8(&m.pk, 9);
			msgpack_pack_int64(&m.pk, bad[i].err);
			mp_bin(&m, sig, bad[i].sig);
			assert_int_equal(sg_hsm_decode_sign_rep(m.sb.data, m.sb.size, &back),
			                 SG_ERR_MALFORMED);
			mp_done(&m);
		}
	}
	/* negative error codes in other msgpack widths decode */
	{
		/* [1, 9, int32(-40), bin8 ""] */
		const char msg[] = "\x94\x01\x09\xd2\xff\xff\xff\xd8\xc4\x00";
		const char msg16[] = "\x94\x01\x09\xd1\xff\xd8\xc4\x00";

		assert_int_equal(sg_hsm_decode_sign_rep(msg, sizeof(msg) - 1, &back), 0);
		assert_int_equal(back.err, SG_ERR_HSM);
		assert_int_equal(sg_hsm_decode_sign_rep(msg16, sizeof(msg16) - 1, &back), 0);
		assert_int_equal(back.err, SG_ERR_HSM);
	}
}

static void
fill_spec(struct sg_hsm_keyspec *k, const char *name, const char *uri, enum sg_keyalg alg, int sv)
{
	memset(k, 0, sizeof(*k));
	strcpy(k->name, name);
	strcpy(k->uri, uri);
	k->alg = alg;
	k->self_verify = sv;
}

static void
test_keys_req(void **state)
{
	struct sg_hsm_keyspec specs[2];
	struct sg_hsm_keys_req req = {specs, 2}, back;
	msgpack_sbuffer sb;
	enum sg_hsm_type t;

	(void)state;
	fill_spec(&specs[0], "ec", "pkcs11:token=t;object=ec256;type=private", SG_KEYALG_EC_P256,
	          0);
	fill_spec(&specs[1], "rsa", "label:rsa2048", SG_KEYALG_RSA_2048, 1);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sg_hsm_encode_keys_req(&sb, &req), 0);
	assert_int_equal(sg_hsm_peek_type(sb.data, sb.size, &t), 0);
	assert_int_equal(t, SG_HSM_KEYS);
	assert_int_equal(sg_hsm_decode_keys_req(sb.data, sb.size, &back), 0);
	assert_int_equal(back.n, 2);
	assert_string_equal(back.specs[0].name, "ec");
	assert_string_equal(back.specs[0].uri, specs[0].uri);
	assert_int_equal(back.specs[0].alg, SG_KEYALG_EC_P256);
	assert_int_equal(back.specs[0].self_verify, 0);
	assert_string_equal(back.specs[1].uri, "label:rsa2048");
	assert_int_equal(back.specs[1].self_verify, 1);
	sg_hsm_keys_req_clear(&back);
	assert_null(back.specs);
	for (size_t n = 0; n < sb.size; n++) {
		assert_int_equal(sg_hsm_decode_keys_req(sb.data, n, &back), SG_ERR_MALFORMED);
		assert_null(back.specs);
	}
	msgpack_sbuffer_write(&sb, "\x00", 1);
	assert_int_equal(sg_hsm_decode_keys_req(sb.data, sb.size, &back), SG_ERR_MALFORMED);

	/* an empty inventory is a valid request */
	req.n = 0;
	assert_int_equal(sg_hsm_encode_keys_req(&sb, &req), 0);
	assert_int_equal(sg_hsm_decode_keys_req(sb.data, sb.size, &back), 0);
	assert_int_equal(back.n, 0);
	sg_hsm_keys_req_clear(&back);

	/* encoder refusals */
	req.n = 1;
	specs[0].uri[0] = '\0';
	assert_int_equal(sg_hsm_encode_keys_req(&sb, &req), SG_ERR_INVALID_ARG);
	strcpy(specs[0].uri, "label:x");
	strcpy(specs[0].name, "a b");
	assert_int_equal(sg_hsm_encode_keys_req(&sb, &req), SG_ERR_INVALID_ARG);
	req.n = SG_MAX_KEYS + 1;
	assert_int_equal(sg_hsm_encode_keys_req(&sb, &req), SG_ERR_INVALID_ARG);
	msgpack_sbuffer_destroy(&sb);
	sg_hsm_keys_req_clear(NULL);
}

/* [2, [spec]] with spec elements given by the caller's packing function. */
static void
keys_req_one(struct mp *m, int variant)
{
	char uri[SG_HSM_URI_MAX + 2];

	memset(uri, 'u', sizeof(uri));
	uri[SG_HSM_URI_MAX + 1] = '\0';
	msgpack_pack_array(&m->pk, 2);
	msgpack_pack_uint8(&m->pk, 2);
	msgpack_pack_array(&m->pk, 1);
	msgpack_pack_array(&m->pk, variant == 0 ? 3 : 4);
	if (variant == 1)
		mp_str(m, "bad name");
	else
		mp_str(m, "good");
	if (variant == 2)
		mp_str(m, "");
	else if (variant == 3)
		mp_str(m, uri); /* 513 bytes */
	else if (variant == 4)
		mp_bin(m, (const unsigned char *)"label:x", 7);
	else
		mp_str(m, "label:x");
	if (variant == 5)
		msgpack_pack_uint16(&m->pk, 300);
	else
		msgpack_pack_uint8(&m->pk, 1);
	if (variant == 0)
		return;
	if (variant == 6)
		msgpack_pack_uint8(&m->pk, 1);
	else
		msgpack_pack_true(&m->pk);
}

static void
test_keys_req_malformed(void **state)
{
	struct sg_hsm_keys_req back;
	struct mp m;

	(void)state;
	mp_init(&m);
	keys_req_one(&m, 7);
	assert_int_equal(sg_hsm_decode_keys_req(m.sb.data, m.sb.size, &back), 0);
	assert_int_equal(back.n, 1);
	sg_hsm_keys_req_clear(&back);
	mp_done(&m);
	for (int v = 0; v <= 6; v++) {
		mp_init(&m);
		keys_req_one(&m, v);
		assert_int_equal(sg_hsm_decode_keys_req(m.sb.data, m.sb.size, &back),
		                 SG_ERR_MALFORMED);
		assert_null(back.specs);
		mp_done(&m);
	}
	/* the count says two, one follows */
	mp_init(&m);
	msgpack_pack_array(&m.pk, 2);
	msgpack_pack_uint8(&m.pk, 2);
	msgpack_pack_array(&m.pk, 2);
	msgpack_pack_array(&m.pk, 4);
	mp_str(&m, "a");
	mp_str(&m, "label:a");
	msgpack_pack_uint8(&m.pk, 1);
	msgpack_pack_false(&m.pk);
	assert_int_equal(sg_hsm_decode_keys_req(m.sb.data, m.sb.size, &back), SG_ERR_MALFORMED);
	mp_done(&m);
	/* SG_MAX_KEYS specs pass, one more does not */
	for (int extra = 0; extra <= 1; extra++) {
		size_t n = SG_MAX_KEYS + (size_t)extra;

		mp_init(&m);
		msgpack_pack_array(&m.pk, 2);
		msgpack_pack_uint8(&m.pk, 2);
		msgpack_pack_array(&m.pk, n);
		for (size_t i = 0; i < n; i++) {
			msgpack_pack_array(&m.pk, 4);
			mp_str(&m, "k");
			mp_str(&m, "label:k");
			msgpack_pack_uint8(&m.pk, 1);
			msgpack_pack_false(&m.pk);
		}
		assert_int_equal(sg_hsm_decode_keys_req(m.sb.data, m.sb.size, &back),
		                 extra ? SG_ERR_MALFORMED : 0);
		if (!extra)
			assert_int_equal(back.n, SG_MAX_KEYS);
		sg_hsm_keys_req_clear(&back);
		mp_done(&m);
	}
	/* a SIGN message is not a KEYS message */
	mp_init(&m);
	pack_sign_req(&m, -1, 6);
	assert_int_equal(sg_hsm_decode_keys_req(m.sb.data, m.sb.size, &back), SG_ERR_MALFORMED);
	mp_done(&m);
}

static void
test_keys_rep(void **state)
{
	struct sg_hsm_key_status st[3];
	struct sg_hsm_keys_rep rep = {0, st, 3}, back;
	msgpack_sbuffer sb;
	struct mp m;

	(void)state;
	memset(st, 0, sizeof(st));
	strcpy(st[0].name, "ec");
	st[0].alg = SG_KEYALG_EC_P256;
	st[0].pub_len = SG_PUB_MAX;
	memset(st[0].pub, 0x30, SG_PUB_MAX);
	strcpy(st[1].name, "gone");
	st[1].alg = SG_KEYALG_RSA_3072;
	st[1].err = SG_ERR_NOT_FOUND;
	st[2].err = SG_ERR_INVALID_ARG; /* a spec with an unusable name */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(sg_hsm_encode_keys_rep(&sb, &rep), 0);
	assert_int_equal(sg_hsm_decode_keys_rep(sb.data, sb.size, &back), 0);
	assert_int_equal(back.err, 0);
	assert_int_equal(back.n, 3);
	assert_string_equal(back.keys[0].name, "ec");
	assert_int_equal(back.keys[0].pub_len, SG_PUB_MAX);
	assert_memory_equal(back.keys[0].pub, st[0].pub, SG_PUB_MAX);
	assert_int_equal(back.keys[1].err, SG_ERR_NOT_FOUND);
	assert_int_equal(back.keys[1].alg, SG_KEYALG_RSA_3072);
	assert_string_equal(back.keys[2].name, "");
	sg_hsm_keys_rep_clear(&back);
	for (size_t n = 0; n < sb.size; n++)
		assert_int_equal(sg_hsm_decode_keys_rep(sb.data, n, &back), SG_ERR_MALFORMED);

	/* error-only reply */
	rep.err = SG_ERR_MALFORMED;
	rep.n = 0;
	assert_int_equal(sg_hsm_encode_keys_rep(&sb, &rep), 0);
	assert_int_equal(sg_hsm_decode_keys_rep(sb.data, sb.size, &back), 0);
	assert_int_equal(back.err, SG_ERR_MALFORMED);
	assert_int_equal(back.n, 0);
	assert_null(back.keys);

	/* encoder refusals: pub with an error, no pub with success */
	rep.n = 2;
	rep.err = 0;
	st[1].pub_len = 1;
	assert_int_equal(sg_hsm_encode_keys_rep(&sb, &rep), SG_ERR_INVALID_ARG);
	st[1].pub_len = 0;
	st[0].pub_len = 0;
	assert_int_equal(sg_hsm_encode_keys_rep(&sb, &rep), SG_ERR_INVALID_ARG);
	msgpack_sbuffer_destroy(&sb);

	/* decoder: oversized public key */
	{
		unsigned char pub[SG_PUB_MAX + 1];

		memset(pub, 1, sizeof(pub));
		mp_init(&m);
		msgpack_pack_array(&m.pk, 3);
		msgpack_pack_uint8(&m.pk, 2);
		msgpack_pack_int(&m.pk, 0);
		msgpack_pack_array(&m.pk, 1);
		msgpack_pack_array(&m.pk, 4);
		mp_str(&m, "k");
		msgpack_pack_int(&m.pk, 0);
		msgpack_pack_uint8(&m.pk, 1);
		mp_bin(&m, pub, sizeof(pub));
		assert_int_equal(sg_hsm_decode_keys_rep(m.sb.data, m.sb.size, &back),
		                 SG_ERR_MALFORMED);
		assert_null(back.keys);
		mp_done(&m);
	}
	sg_hsm_keys_rep_clear(NULL);
}

static void
test_peek(void **state)
{
	enum sg_hsm_type t;
	uint64_t seq;

	(void)state;
	assert_int_equal(sg_hsm_peek_type("\x91\x03", 2, &t), SG_ERR_MALFORMED);
	assert_int_equal(sg_hsm_peek_type("\x90", 1, &t), SG_ERR_MALFORMED);
	assert_int_equal(sg_hsm_peek_type("\x91", 1, &t), SG_ERR_MALFORMED);
	assert_int_equal(sg_hsm_peek_type("\x01", 1, &t), SG_ERR_MALFORMED);
	assert_int_equal(sg_hsm_peek_type("\x91\x02", 2, &t), 0);
	assert_int_equal(t, SG_HSM_KEYS);
	/* seq: needs [1, uint, ...]; bounds are checked without preflight */
	assert_int_equal(sg_hsm_peek_seq("\x92\x01\xcf\x00\x00", 5, &seq), SG_ERR_MALFORMED);
	assert_int_equal(sg_hsm_peek_seq("\x92\x01\xcd\x01\x00", 5, &seq), 0);
	assert_int_equal(seq, 256);
	assert_int_equal(sg_hsm_peek_seq("\x92\x02\x05", 3, &seq), SG_ERR_MALFORMED);
	assert_int_equal(sg_hsm_peek_seq("\x91\x01", 2, &seq), SG_ERR_MALFORMED);
	assert_int_equal(sg_hsm_peek_seq("\x92\x01\xff", 3, &seq), SG_ERR_MALFORMED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_req_roundtrip), cmocka_unit_test(test_sign_req_malformed),
	    cmocka_unit_test(test_too_large),          cmocka_unit_test(test_sign_rep),
	    cmocka_unit_test(test_keys_req),           cmocka_unit_test(test_keys_req_malformed),
	    cmocka_unit_test(test_keys_rep),           cmocka_unit_test(test_peek),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
