/* Unit tests of the wire codec: round trips and every malformed shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sg_err.h"
#include "sg_wire.h"

static struct sg_wire_dec *dec;
static msgpack_sbuffer sb;
static msgpack_packer pk;

static int
setup(void **state)
{
	dec = sg_wire_dec_new();
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	return dec == NULL;
}

static int
teardown(void **state)
{
	sg_wire_dec_free(dec);
	msgpack_sbuffer_destroy(&sb);
	return 0;
}

static void
pstr(const char *s)
{
	msgpack_pack_str(&pk, strlen(s));
	msgpack_pack_str_body(&pk, s, strlen(s));
}

static void
pbin(const void *p, size_t n)
{
	msgpack_pack_bin(&pk, n);
	msgpack_pack_bin_body(&pk, p, n);
}

/* Starts a request map of n entries with v, id (if id != 0) and op (if op != NULL). */
static void
head(size_t n, uint64_t id, const char *op)
{
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, n);
	pstr("v");
	msgpack_pack_uint64(&pk, 1);
	if (id != 0) {
		pstr("id");
		msgpack_pack_uint64(&pk, id);
	}
	if (op != NULL) {
		pstr("op");
		pstr(op);
	}
}

static int
decode(struct sg_req *req, int *have_id, char *why)
{
	return sg_wire_decode_req(dec, sb.data, sb.size, SG_WIRE_DEFAULT_MAX_MSG, req, have_id,
	                          why);
}

static int
decode_raw(const void *p, size_t n)
{
	struct sg_req req;
	char why[SG_WHY_MAX];
	int have_id;

	return sg_wire_decode_req(dec, p, n, SG_WIRE_DEFAULT_MAX_MSG, &req, &have_id, why);
}

static const unsigned char digest32[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                           12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                           23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* A sign.digest request with the given digest length and extra fields appended by extra(). */
static void
sign_req(size_t digest_len, size_t nextra, void (*extra)(void))
{
	unsigned char d[80] = {0};

	memcpy(d, digest32, sizeof(digest32));
	head(6 + nextra, 7, "sign.digest");
	pstr("key");
	pstr("build-signing");
	pstr("hash");
	pstr("sha256");
	pstr("digest");
	pbin(d, digest_len);
	if (extra != NULL)
		extra();
}

static void
test_ping_roundtrip(void **state)
{
	struct sg_req req = {.id = 42, .op = SG_OP_PING}, out;
	char why[SG_WHY_MAX];
	int have_id;

	assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_int_equal(out.op, SG_OP_PING);
	assert_int_equal(out.id, 42);
	assert_int_equal(have_id, 1);
}

static void
test_sign_roundtrip(void **state)
{
	struct sg_req req, out;
	char why[SG_WHY_MAX];
	int have_id;

	memset(&req, 0, sizeof(req));
	req.id = 9;
	req.op = SG_OP_SIGN_DIGEST;
	strcpy(req.u.sign.key, "rsa-key_1.x");
	req.u.sign.hash = SG_HASH_SHA384;
	req.u.sign.digest_len = 48;
	memset(req.u.sign.digest, 0xab, 48);
	req.u.sign.pad = SG_PAD_PSS;
	req.u.sign.idem_len = 16;
	memset(req.u.sign.idem, 0x55, 16);
	strcpy(req.u.sign.meta.artifact, "app.tar.gz");
	req.u.sign.meta.has_size = 1;
	req.u.sign.meta.size = 123456789012ULL;
	strcpy(req.u.sign.meta.job, "job-77");
	assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_int_equal(out.op, SG_OP_SIGN_DIGEST);
	assert_string_equal(out.u.sign.key, "rsa-key_1.x");
	assert_int_equal(out.u.sign.hash, SG_HASH_SHA384);
	assert_int_equal(out.u.sign.digest_len, 48);
	assert_memory_equal(out.u.sign.digest, req.u.sign.digest, 48);
	assert_int_equal(out.u.sign.pad, SG_PAD_PSS);
	assert_int_equal(out.u.sign.idem_len, 16);
	assert_memory_equal(out.u.sign.idem, req.u.sign.idem, 16);
	assert_string_equal(out.u.sign.meta.artifact, "app.tar.gz");
	assert_int_equal(out.u.sign.meta.has_size, 1);
	assert_true(out.u.sign.meta.size == 123456789012ULL);
	assert_string_equal(out.u.sign.meta.job, "job-77");
}

static void
test_sign_minimal(void **state)
{
	struct sg_req out;
	char why[SG_WHY_MAX];
	int have_id;

	sign_req(32, 0, NULL);
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_int_equal(out.u.sign.pad, SG_PAD_NONE);
	assert_int_equal(out.u.sign.idem_len, 0);
	assert_string_equal(out.u.sign.meta.artifact, "");
	assert_int_equal(out.u.sign.meta.has_size, 0);
}

static void
test_digest_length(void **state)
{
	struct sg_req out;
	char why[SG_WHY_MAX];
	int have_id;

	sign_req(31, 0, NULL);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_DIGEST_LENGTH);
	assert_int_equal(have_id, 1);
	assert_int_equal(out.id, 7);
	assert_non_null(strstr(why, "31"));
	sign_req(33, 0, NULL);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_DIGEST_LENGTH);
	sign_req(65, 0, NULL);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_DIGEST_LENGTH);
}

static void
extra_pad_none(void)
{
	pstr("pad");
	pstr("none");
}

static void
extra_pad_bogus(void)
{
	pstr("pad");
	pstr("oaep");
}

static void
extra_pad_int(void)
{
	pstr("pad");
	msgpack_pack_int(&pk, 1);
}

static void
extra_unknown(void)
{
	pstr("colour");
	pstr("blue");
}

static void
extra_dup_key(void)
{
	pstr("key");
	pstr("other");
}

static void
extra_idem_long(void)
{
	unsigned char b[65] = {0};

	pstr("idem");
	pbin(b, sizeof(b));
}

static void
extra_idem_str(void)
{
	pstr("idem");
	pstr("abc");
}

static void
extra_meta_unknown(void)
{
	pstr("meta");
	msgpack_pack_map(&pk, 1);
	pstr("branch");
	pstr("main");
}

static void
extra_meta_size_neg(void)
{
	pstr("meta");
	msgpack_pack_map(&pk, 1);
	pstr("size");
	msgpack_pack_int64(&pk, -5);
}

static void
extra_meta_not_map(void)
{
	pstr("meta");
	pstr("x");
}

static void
extra_meta_badutf8(void)
{
	pstr("meta");
	msgpack_pack_map(&pk, 1);
	pstr("artifact");
	msgpack_pack_str(&pk, 3);
	msgpack_pack_str_body(&pk, "a\xc0\xaf", 3); /* overlong '/' */
}

static void
extra_meta_nul(void)
{
	pstr("meta");
	msgpack_pack_map(&pk, 1);
	pstr("job");
	msgpack_pack_str(&pk, 3);
	msgpack_pack_str_body(&pk, "a\0b", 3);
}

static void
test_sign_field_errors(void **state)
{
	struct {
		void (*extra)(void);
		int code;
		const char *why;
	} cases[] = {
	    {extra_pad_none, SG_ERR_BAD_PADDING, "padding"},
	    {extra_pad_bogus, SG_ERR_BAD_PADDING, "padding"},
	    {extra_pad_int, SG_ERR_BAD_TYPE, "pad"},
	    {extra_unknown, SG_ERR_UNKNOWN_FIELD, "colour"},
	    {extra_dup_key, SG_ERR_DUPLICATE_FIELD, "key"},
	    {extra_idem_long, SG_ERR_BAD_VALUE, "idem"},
	    {extra_idem_str, SG_ERR_BAD_TYPE, "idem"},
	    {extra_meta_unknown, SG_ERR_UNKNOWN_FIELD, "branch"},
	    {extra_meta_size_neg, SG_ERR_BAD_TYPE, "size"},
	    {extra_meta_not_map, SG_ERR_BAD_TYPE, "meta"},
	    {extra_meta_badutf8, SG_ERR_BAD_VALUE, "UTF-8"},
	    {extra_meta_nul, SG_ERR_BAD_VALUE, "NUL"},
	};
	struct sg_req out;
	char why[SG_WHY_MAX];
	size_t i;
	int have_id;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sign_req(32, 1, cases[i].extra);
		assert_int_equal(decode(&out, &have_id, why), cases[i].code);
		assert_non_null(strstr(why, cases[i].why));
		assert_int_equal(have_id, 1);
		assert_int_equal(out.id, 7);
		/* A duplicate key is found before the op is read. */
		assert_int_equal(out.op, cases[i].code == SG_ERR_DUPLICATE_FIELD
		                             ? SG_OP_NONE
		                             : SG_OP_SIGN_DIGEST);
	}
}

static void
test_sign_missing_and_types(void **state)
{
	struct sg_req out;
	char why[SG_WHY_MAX];
	int have_id;

	/* no key */
	head(5, 3, "sign.digest");
	pstr("hash");
	pstr("sha256");
	pstr("digest");
	pbin(digest32, 32);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_MISSING_FIELD);
	assert_non_null(strstr(why, "key"));
	/* key not a valid name */
	head(6, 3, "sign.digest");
	pstr("key");
	pstr("../etc/passwd");
	pstr("hash");
	pstr("sha256");
	pstr("digest");
	pbin(digest32, 32);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_VALUE);
	/* unknown hash */
	head(6, 3, "sign.digest");
	pstr("key");
	pstr("k");
	pstr("hash");
	pstr("md5");
	pstr("digest");
	pbin(digest32, 16);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_UNKNOWN_HASH);
	/* digest as a string */
	head(6, 3, "sign.digest");
	pstr("key");
	pstr("k");
	pstr("hash");
	pstr("sha256");
	pstr("digest");
	pstr("0123456789abcdef0123456789abcdef");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_TYPE);
	/* key as an integer */
	head(6, 3, "sign.digest");
	pstr("key");
	msgpack_pack_int(&pk, 5);
	pstr("hash");
	pstr("sha256");
	pstr("digest");
	pbin(digest32, 32);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_TYPE);
}

static void
test_header_errors(void **state)
{
	struct sg_req out;
	char why[SG_WHY_MAX];
	int have_id;

	/* no v */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 2);
	pstr("id");
	msgpack_pack_uint64(&pk, 5);
	pstr("op");
	pstr("ping");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_MISSING_FIELD);
	assert_int_equal(have_id, 1);
	assert_int_equal(out.id, 5);
	/* v = 2 */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	pstr("v");
	msgpack_pack_uint64(&pk, 2);
	pstr("id");
	msgpack_pack_uint64(&pk, 5);
	pstr("op");
	pstr("ping");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_VERSION);
	/* v as a string */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	pstr("v");
	pstr("1");
	pstr("id");
	msgpack_pack_uint64(&pk, 5);
	pstr("op");
	pstr("ping");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_VERSION);
	/* no id */
	head(2, 0, "ping");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_MISSING_FIELD);
	assert_int_equal(have_id, 0);
	/* id = 0 */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	pstr("v");
	msgpack_pack_uint64(&pk, 1);
	pstr("id");
	msgpack_pack_uint64(&pk, 0);
	pstr("op");
	pstr("ping");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_VALUE);
	assert_int_equal(have_id, 0);
	/* id negative */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	pstr("v");
	msgpack_pack_uint64(&pk, 1);
	pstr("id");
	msgpack_pack_int64(&pk, -4);
	pstr("op");
	pstr("ping");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_TYPE);
	assert_int_equal(have_id, 0);
	/* id a float */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	pstr("v");
	msgpack_pack_uint64(&pk, 1);
	pstr("id");
	msgpack_pack_double(&pk, 1.5);
	pstr("op");
	pstr("ping");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_TYPE);
	/* unknown op */
	head(3, 8, "sign.everything");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_UNKNOWN_OP);
	assert_int_equal(have_id, 1);
	assert_int_equal(out.id, 8);
	/* op as binary */
	head(3, 8, NULL);
	pstr("op");
	pbin("ping", 4);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_TYPE);
	/* no op */
	head(2, 8, NULL);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_MISSING_FIELD);
	/* ping with an extra field */
	head(4, 8, "ping");
	pstr("key");
	pstr("x");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_UNKNOWN_FIELD);
	/* a non-string key */
	head(4, 8, "ping");
	msgpack_pack_int(&pk, 1);
	pstr("x");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_MALFORMED);
	/* duplicate id */
	head(4, 8, "ping");
	pstr("id");
	msgpack_pack_uint64(&pk, 9);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_DUPLICATE_FIELD);
	/* too many fields */
	{
		int i;
		char k[8];

		msgpack_sbuffer_clear(&sb);
		msgpack_pack_map(&pk, SG_WIRE_MAX_FIELDS + 1);
		for (i = 0; i < SG_WIRE_MAX_FIELDS + 1; i++) {
			snprintf(k, sizeof(k), "f%d", i);
			pstr(k);
			msgpack_pack_nil(&pk);
		}
		assert_int_equal(decode(&out, &have_id, why), SG_ERR_MALFORMED);
	}
	/* not a map */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_uint64(&pk, 1);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_MALFORMED);
}

static void
test_preflight(void **state)
{
	/* fixmap claiming 15 entries with none present */
	static const unsigned char fixmap_short[] = {0x8f};
	/* map32 claiming 2^31 entries */
	static const unsigned char map32_huge[] = {0xdf, 0x80, 0x00, 0x00, 0x00, 0xa1, 'v', 0x01};
	/* array32 claiming 4 billion entries */
	static const unsigned char arr32_huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
	/* str32 claiming 4 GiB */
	static const unsigned char str32_huge[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
	/* bin16 claiming 300 bytes with 2 present */
	static const unsigned char bin16_short[] = {0xc5, 0x01, 0x2c, 0x00, 0x00};
	/* truncated uint64 */
	static const unsigned char u64_short[] = {0xcf, 0x00, 0x01};
	/* reserved byte */
	static const unsigned char never_used[] = {0xc1};
	/* ext types */
	static const unsigned char fixext1[] = {0xd4, 0x01, 0x00};
	static const unsigned char ext8[] = {0xc7, 0x01, 0x05, 0x00};
	/* one good object followed by a trailing byte */
	static const unsigned char trailing[] = {0x80, 0x00};
	/* two objects */
	static const unsigned char two[] = {0x01, 0x02};
	unsigned char deep[64];
	unsigned char ok_map[] = {0x81, 0xa1, 'a', 0x01};
	size_t i;

	assert_int_equal(sg_wire_preflight(ok_map, sizeof(ok_map), 8), 0);
	assert_int_equal(sg_wire_preflight(ok_map, 0, 8), SG_ERR_MALFORMED);
	assert_int_equal(sg_wire_preflight(NULL, 1, 8), SG_ERR_MALFORMED);
	assert_int_equal(sg_wire_preflight(fixmap_short, sizeof(fixmap_short), 8),
	                 SG_ERR_MALFORMED);
	assert_int_equal(sg_wire_preflight(map32_huge, sizeof(map32_huge), 8), SG_ERR_MALFORMED);
	assert_int_equal(sg_wire_preflight(arr32_huge, sizeof(arr32_huge), 8), SG_ERR_MALFORMED);
	assert_int_equal(sg_wire_preflight(str32_huge, sizeof(str32_huge), 8), SG_ERR_MALFORMED);
	assert_int_equal(sg_wire_preflight(bin16_short, sizeof(bin16_short), 8), SG_ERR_MALFORMED);
	assert_int_equal(sg_wire_preflight(u64_short, sizeof(u64_short), 8), SG_ERR_MALFORMED);
	assert_int_equal(sg_wire_preflight(never_used, sizeof(never_used), 8), SG_ERR_MALFORMED);
	assert_int_equal(sg_wire_preflight(fixext1, sizeof(fixext1), 8), SG_ERR_MALFORMED);
	assert_int_equal(sg_wire_preflight(ext8, sizeof(ext8), 8), SG_ERR_MALFORMED);
	assert_int_equal(sg_wire_preflight(trailing, sizeof(trailing), 8), SG_ERR_MALFORMED);
	assert_int_equal(sg_wire_preflight(trailing, 1, 8), 0);
	assert_int_equal(sg_wire_preflight(two, sizeof(two), 8), SG_ERR_MALFORMED);
	/* nesting: 8 arrays deep is the limit (the 9th level is refused) */
	for (i = 0; i < sizeof(deep); i++)
		deep[i] = 0x91; /* fixarray of 1 */
	deep[8] = 0x01;
	assert_int_equal(sg_wire_preflight(deep, 9, 8), 0);
	deep[8] = 0x91;
	deep[9] = 0x01;
	assert_int_equal(sg_wire_preflight(deep, 10, 8), SG_ERR_MALFORMED);
	/* the request decoder refuses all of these too, without a crash */
	assert_int_equal(decode_raw(map32_huge, sizeof(map32_huge)), SG_ERR_MALFORMED);
	assert_int_equal(decode_raw(trailing, sizeof(trailing)), SG_ERR_MALFORMED);
	assert_int_equal(decode_raw(fixext1, sizeof(fixext1)), SG_ERR_MALFORMED);
	assert_int_equal(decode_raw(deep, 10), SG_ERR_MALFORMED);
}

static void
test_truncation_everywhere(void **state)
{
	struct sg_req req;
	unsigned char full[512];
	size_t n, cut;

	memset(&req, 0, sizeof(req));
	req.id = 77;
	req.op = SG_OP_SIGN_DIGEST;
	strcpy(req.u.sign.key, "k");
	req.u.sign.hash = SG_HASH_SHA256;
	req.u.sign.digest_len = 32;
	strcpy(req.u.sign.meta.artifact, "a");
	assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
	n = sb.size;
	assert_true(n < sizeof(full));
	memcpy(full, sb.data, n);
	assert_int_equal(decode_raw(full, n), 0);
	/* Every strict prefix is malformed: no prefix of a valid message is valid. */
	for (cut = 1; cut < n; cut++)
		assert_int_equal(decode_raw(full, cut), SG_ERR_MALFORMED);
}

static void
test_too_large(void **state)
{
	struct sg_req out;
	char why[SG_WHY_MAX];
	int have_id;

	head(3, 1, "ping");
	assert_int_equal(
	    sg_wire_decode_req(dec, sb.data, sb.size, sb.size - 1, &out, &have_id, why),
	    SG_ERR_TOO_LARGE);
	assert_int_equal(sg_wire_decode_req(dec, sb.data, sb.size, sb.size, &out, &have_id, why),
	                 0);
}

static void
test_err_reply(void **state)
{
	struct sg_rep rep;
	char why[SG_WHY_MAX];

	assert_int_equal(sg_wire_encode_err(&sb, 12, SG_ERR_DENIED, "client ci may not use key x"),
	                 0);
	assert_int_equal(sg_wire_decode_rep(dec, sb.data, sb.size, SG_OP_SIGN_DIGEST, &rep, why),
	                 0);
	assert_int_equal(rep.ok, 0);
	assert_int_equal(rep.id, 12);
	assert_int_equal(rep.err, SG_ERR_DENIED);
	assert_string_equal(rep.err_name, "denied");
	assert_string_equal(rep.err_msg, "client ci may not use key x");
	sg_rep_clear(&rep);
	/* default message from the table */
	assert_int_equal(sg_wire_encode_err(&sb, 0, SG_ERR_MALFORMED, NULL), 0);
	assert_int_equal(sg_wire_decode_rep(dec, sb.data, sb.size, SG_OP_PING, &rep, why), 0);
	assert_string_equal(rep.err_msg, sg_strerror(SG_ERR_MALFORMED));
	assert_int_equal(sg_wire_encode_err(&sb, 1, 0, NULL), SG_ERR_INVALID_ARG);
}

static void
test_keys_reply(void **state)
{
	struct sg_key_info keys[2];
	struct sg_rep rep;
	char why[SG_WHY_MAX];

	memset(keys, 0, sizeof(keys));
	strcpy(keys[0].name, "ec");
	keys[0].alg = SG_KEYALG_EC_P256;
	keys[0].pub_len = 91;
	memset(keys[0].pub, 3, 91);
	keys[0].hashes = (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA512);
	keys[0].ops = 1u << SG_OP_SIGN_DIGEST;
	strcpy(keys[1].name, "rsa");
	keys[1].alg = SG_KEYALG_RSA_3072;
	keys[1].pub_len = 422;
	keys[1].hashes = 1u << SG_HASH_SHA384;
	keys[1].ops = 1u << SG_OP_SIGN_DIGEST;
	assert_int_equal(sg_wire_encode_keys_rep(&sb, 5, keys, 2), 0);
	assert_int_equal(sg_wire_decode_rep(dec, sb.data, sb.size, SG_OP_KEYS_LIST, &rep, why), 0);
	assert_int_equal(rep.ok, 1);
	assert_int_equal(rep.u.keys.n, 2);
	assert_string_equal(rep.u.keys.keys[0].name, "ec");
	assert_int_equal(rep.u.keys.keys[0].alg, SG_KEYALG_EC_P256);
	assert_int_equal(rep.u.keys.keys[0].pub_len, 91);
	assert_memory_equal(rep.u.keys.keys[0].pub, keys[0].pub, 91);
	assert_int_equal(rep.u.keys.keys[0].hashes, keys[0].hashes);
	assert_int_equal(rep.u.keys.keys[1].alg, SG_KEYALG_RSA_3072);
	assert_int_equal(rep.u.keys.keys[1].ops, 1u << SG_OP_SIGN_DIGEST);
	sg_rep_clear(&rep);
	/* empty list */
	assert_int_equal(sg_wire_encode_keys_rep(&sb, 6, keys, 0), 0);
	assert_int_equal(sg_wire_decode_rep(dec, sb.data, sb.size, SG_OP_KEYS_LIST, &rep, why), 0);
	assert_int_equal(rep.u.keys.n, 0);
	sg_rep_clear(&rep);
}

static void
test_sign_reply(void **state)
{
	struct sg_sign_rep s;
	struct sg_rep rep;
	char why[SG_WHY_MAX];
	size_t n, cut;

	memset(&s, 0, sizeof(s));
	strcpy(s.key, "build-signing");
	s.alg = SG_KEYALG_EC_P256;
	s.hash = SG_HASH_SHA256;
	s.pad = SG_PAD_NONE;
	s.sig_len = 71;
	memset(s.sig, 0x30, 71);
	s.record = 991;
	memset(s.record_hash, 0xee, 32);
	s.replayed = 1;
	assert_int_equal(sg_wire_encode_sign_rep(&sb, 3, &s), 0);
	assert_int_equal(sg_wire_decode_rep(dec, sb.data, sb.size, SG_OP_SIGN_DIGEST, &rep, why),
	                 0);
	assert_int_equal(rep.ok, 1);
	assert_int_equal(rep.id, 3);
	assert_string_equal(rep.u.sign.key, "build-signing");
	assert_int_equal(rep.u.sign.sig_len, 71);
	assert_memory_equal(rep.u.sign.sig, s.sig, 71);
	assert_int_equal(rep.u.sign.record, 991);
	assert_memory_equal(rep.u.sign.record_hash, s.record_hash, 32);
	assert_int_equal(rep.u.sign.replayed, 1);
	/* a reply decoded as the wrong op fails cleanly */
	assert_int_equal(sg_wire_decode_rep(dec, sb.data, sb.size, SG_OP_PING, &rep, why),
	                 SG_ERR_MISSING_FIELD);
	/* every truncation of a reply fails */
	n = sb.size;
	for (cut = 1; cut < n; cut++)
		assert_int_equal(
		    sg_wire_decode_rep(dec, sb.data, cut, SG_OP_SIGN_DIGEST, &rep, why),
		    SG_ERR_MALFORMED);
	s.sig_len = 0;
	assert_int_equal(sg_wire_encode_sign_rep(&sb, 3, &s), SG_ERR_INVALID_ARG);
}

static void
test_cms_request(void **state)
{
	struct sg_req req, out;
	char why[SG_WHY_MAX];
	int have_id;
	unsigned char d[32];

	memset(&req, 0, sizeof(req));
	req.id = 9;
	req.op = SG_OP_SIGN_CMS;
	strcpy(req.u.sign.key, "build-signing");
	req.u.sign.hash = SG_HASH_SHA256;
	req.u.sign.digest_len = 32;
	memset(req.u.sign.digest, 0xab, 32);
	req.u.sign.idem_len = 16;
	memset(req.u.sign.idem, 7, 16);
	strcpy(req.u.sign.meta.artifact, "app.tar.gz");
	assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_int_equal(out.op, SG_OP_SIGN_CMS);
	assert_string_equal(out.u.sign.key, "build-signing");
	assert_int_equal(out.u.sign.pad, SG_PAD_NONE);
	assert_int_equal(out.u.sign.idem_len, 16);
	assert_string_equal(out.u.sign.meta.artifact, "app.tar.gz");
	/* a padding makes no sense in a CMS request: the encoder refuses it... */
	req.u.sign.pad = SG_PAD_PSS;
	assert_int_equal(sg_wire_encode_req(&sb, &req), SG_ERR_INVALID_ARG);
	/* ...and the decoder does not know the field */
	memset(d, 1, sizeof(d));
	head(7, 10, "sign.cms");
	pstr("key");
	pstr("k");
	pstr("hash");
	pstr("sha256");
	pstr("digest");
	pbin(d, 32);
	pstr("pad");
	pstr("pss");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_UNKNOWN_FIELD);
	/* a digest of the wrong length */
	head(6, 11, "sign.cms");
	pstr("key");
	pstr("k");
	pstr("hash");
	pstr("sha384");
	pstr("digest");
	pbin(d, 32);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_DIGEST_LENGTH);
}

static void
test_timestamp_request(void **state)
{
	static unsigned char tsq[SG_TSQ_MAX + 1];
	struct sg_req req, out;
	char why[SG_WHY_MAX];
	int have_id;
	unsigned char d[64];

	memset(&req, 0, sizeof(req));
	req.id = 12;
	req.op = SG_OP_TIMESTAMP;
	req.u.ts.tsq_len = 57;
	memset(req.u.ts.tsq, 0x30, 57);
	assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_int_equal(out.op, SG_OP_TIMESTAMP);
	assert_int_equal(out.u.ts.tsq_len, 57);
	assert_int_equal(out.u.ts.hash, SG_HASH_NONE);
	/* the imprint form */
	memset(&req.u.ts, 0, sizeof(req.u.ts));
	req.u.ts.hash = SG_HASH_SHA512;
	req.u.ts.digest_len = 64;
	memset(req.u.ts.digest, 5, 64);
	req.u.ts.idem_len = 3;
	assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_int_equal(out.u.ts.tsq_len, 0);
	assert_int_equal(out.u.ts.hash, SG_HASH_SHA512);
	assert_int_equal(out.u.ts.digest_len, 64);
	assert_int_equal(out.u.ts.idem_len, 3);
	/* neither form */
	head(3, 13, "timestamp");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_MISSING_FIELD);
	/* both forms */
	memset(d, 2, sizeof(d));
	head(6, 14, "timestamp");
	pstr("tsq");
	pbin(d, 10);
	pstr("hash");
	pstr("sha256");
	pstr("digest");
	pbin(d, 32);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_VALUE);
	/* a digest without its hash */
	head(4, 15, "timestamp");
	pstr("digest");
	pbin(d, 32);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_MISSING_FIELD);
	/* an unknown hash, a short digest, a tsq of the wrong type or size */
	head(5, 16, "timestamp");
	pstr("hash");
	pstr("md5");
	pstr("digest");
	pbin(d, 16);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_UNKNOWN_HASH);
	head(5, 17, "timestamp");
	pstr("hash");
	pstr("sha256");
	pstr("digest");
	pbin(d, 31);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_DIGEST_LENGTH);
	head(4, 18, "timestamp");
	pstr("tsq");
	pstr("not binary");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_TYPE);
	memset(tsq, 0x30, sizeof(tsq));
	head(4, 19, "timestamp");
	pstr("tsq");
	pbin(tsq, SG_TSQ_MAX + 1);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_VALUE);
	head(4, 20, "timestamp");
	pstr("tsq");
	pbin(tsq, SG_TSQ_MAX);
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_int_equal(out.u.ts.tsq_len, SG_TSQ_MAX);
}

static void
test_keys_reply_certs(void **state)
{
	static const unsigned char leaf[300] = {0x30, 1}, inter[200] = {0x30, 2};
	static unsigned char big[SG_CERT_MAX + 1];
	struct sg_key_info k;
	struct sg_rep rep;
	char why[SG_WHY_MAX];

	memset(&k, 0, sizeof(k));
	strcpy(k.name, "ec");
	k.alg = SG_KEYALG_EC_P256;
	k.pub_len = 91;
	k.ops = 1u << SG_OP_SIGN_CMS;
	k.n_certs = 2;
	k.cert[0] = leaf;
	k.cert_len[0] = sizeof(leaf);
	k.cert[1] = inter;
	k.cert_len[1] = sizeof(inter);
	assert_int_equal(sg_wire_encode_keys_rep(&sb, 5, &k, 1), 0);
	assert_int_equal(sg_wire_decode_rep(dec, sb.data, sb.size, SG_OP_KEYS_LIST, &rep, why), 0);
	assert_int_equal(rep.u.keys.n, 1);
	assert_int_equal(rep.u.keys.keys[0].ops, 1u << SG_OP_SIGN_CMS);
	assert_int_equal(rep.u.keys.keys[0].n_certs, 2);
	assert_int_equal(rep.u.keys.keys[0].cert_len[0], sizeof(leaf));
	assert_memory_equal(rep.u.keys.keys[0].cert[0], leaf, sizeof(leaf));
	assert_int_equal(rep.u.keys.keys[0].cert_len[1], sizeof(inter));
	assert_memory_equal(rep.u.keys.keys[0].cert[1], inter, sizeof(inter));
	sg_rep_clear(&rep);
	/* the encoder refuses what the decoder would refuse */
	k.n_certs = SG_CERTS_MAX + 1;
	assert_int_equal(sg_wire_encode_keys_rep(&sb, 5, &k, 1), SG_ERR_INVALID_ARG);
	k.n_certs = 1;
	memset(big, 0x30, sizeof(big));
	k.cert[0] = big;
	k.cert_len[0] = sizeof(big);
	assert_int_equal(sg_wire_encode_keys_rep(&sb, 5, &k, 1), SG_ERR_INVALID_ARG);
	/* a hand-made reply whose certs is not an array of binaries */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 4);
	pstr("v");
	msgpack_pack_uint64(&pk, 1);
	pstr("id");
	msgpack_pack_uint64(&pk, 5);
	pstr("ok");
	msgpack_pack_true(&pk);
	pstr("keys");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 6);
	pstr("name");
	pstr("ec");
	pstr("alg");
	pstr("ec-p256");
	pstr("pub");
	pbin(leaf, 91);
	pstr("hashes");
	msgpack_pack_array(&pk, 0);
	pstr("ops");
	msgpack_pack_array(&pk, 0);
	pstr("certs");
	msgpack_pack_array(&pk, 2);
	pbin(leaf, 10);
	pstr("oops");
	assert_int_equal(sg_wire_decode_rep(dec, sb.data, sb.size, SG_OP_KEYS_LIST, &rep, why),
	                 SG_ERR_BAD_TYPE);
	sg_rep_clear(&rep);
}

static void
test_blob_reply(void **state)
{
	static const unsigned char der[1500] = {0x30, 0x82};
	struct sg_blob_rep b;
	struct sg_rep rep;
	char why[SG_WHY_MAX];
	size_t n, cut;

	memset(&b, 0, sizeof(b));
	strcpy(b.key, "build-signing");
	b.alg = SG_KEYALG_EC_P384;
	b.hash = SG_HASH_SHA384;
	b.data = (unsigned char *)der;
	b.len = sizeof(der);
	b.record = 77;
	memset(b.record_hash, 0x11, 32);
	assert_int_equal(sg_wire_encode_blob_rep(&sb, 8, SG_OP_SIGN_CMS, &b), 0);
	assert_int_equal(sg_wire_decode_rep(dec, sb.data, sb.size, SG_OP_SIGN_CMS, &rep, why), 0);
	assert_int_equal(rep.u.blob.alg, SG_KEYALG_EC_P384);
	assert_int_equal(rep.u.blob.len, sizeof(der));
	assert_memory_equal(rep.u.blob.data, der, sizeof(der));
	assert_int_equal(rep.u.blob.record, 77);
	assert_int_equal(rep.u.blob.replayed, 0);
	sg_rep_clear(&rep);
	/* a CMS reply read as a timestamp reply lacks status and tsr */
	assert_int_equal(sg_wire_decode_rep(dec, sb.data, sb.size, SG_OP_TIMESTAMP, &rep, why),
	                 SG_ERR_MISSING_FIELD);
	sg_rep_clear(&rep);
	b.status = 2;
	b.replayed = 1;
	assert_int_equal(sg_wire_encode_blob_rep(&sb, 9, SG_OP_TIMESTAMP, &b), 0);
	assert_int_equal(sg_wire_decode_rep(dec, sb.data, sb.size, SG_OP_TIMESTAMP, &rep, why), 0);
	assert_int_equal(rep.u.blob.status, 2);
	assert_int_equal(rep.u.blob.replayed, 1);
	assert_memory_equal(rep.u.blob.data, der, sizeof(der));
	sg_rep_clear(&rep);
	n = sb.size;
	for (cut = 1; cut < n; cut += 7)
		assert_int_equal(sg_wire_decode_rep(dec, sb.data, cut, SG_OP_TIMESTAMP, &rep, why),
		                 SG_ERR_MALFORMED);
	/* bad arguments */
	b.status = 6;
	assert_int_equal(sg_wire_encode_blob_rep(&sb, 9, SG_OP_TIMESTAMP, &b), SG_ERR_INVALID_ARG);
	b.status = 0;
	assert_int_equal(sg_wire_encode_blob_rep(&sb, 9, SG_OP_SIGN_DIGEST, &b),
	                 SG_ERR_INVALID_ARG);
	b.len = 0;
	assert_int_equal(sg_wire_encode_blob_rep(&sb, 9, SG_OP_SIGN_CMS, &b), SG_ERR_INVALID_ARG);
}

static void
test_ping_reply(void **state)
{
	struct sg_ping_rep p = {.server = "signetd-0.1.0", .time = 1700000000};
	struct sg_rep rep;
	char why[SG_WHY_MAX];

	assert_int_equal(sg_wire_encode_ping_rep(&sb, 4, &p), 0);
	assert_int_equal(sg_wire_decode_rep(dec, sb.data, sb.size, SG_OP_PING, &rep, why), 0);
	assert_string_equal(rep.u.ping.server, "signetd-0.1.0");
	assert_int_equal(rep.u.ping.time, 1700000000);
}

static void
test_names_and_utf8(void **state)
{
	assert_int_equal(sg_wire_name_valid("a", 1), 1);
	assert_int_equal(sg_wire_name_valid("", 0), 0);
	assert_int_equal(sg_wire_name_valid("a b", 3), 0);
	assert_int_equal(sg_wire_name_valid("a/b", 3), 0);
	assert_int_equal(
	    sg_wire_name_valid("0123456789012345678901234567890123456789012345678901234567890123",
	                       64),
	    1);
	assert_int_equal(
	    sg_wire_name_valid("01234567890123456789012345678901234567890123456789012345678901234",
	                       65),
	    0);
	assert_int_equal(sg_wire_utf8_valid((const unsigned char *)"h\xc3\xa9llo", 6), 1);
	assert_int_equal(sg_wire_utf8_valid((const unsigned char *)"\xf0\x9f\x94\x91", 4), 1);
	assert_int_equal(sg_wire_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3),
	                 0); /* surrogate */
	assert_int_equal(sg_wire_utf8_valid((const unsigned char *)"\xe0\x80\xaf", 3),
	                 0); /* overlong */
	assert_int_equal(sg_wire_utf8_valid((const unsigned char *)"\xf4\x90\x80\x80", 4), 0);
	assert_int_equal(sg_wire_utf8_valid((const unsigned char *)"\xc3", 1), 0); /* truncated */
	assert_int_equal(sg_wire_utf8_valid((const unsigned char *)"\x80", 1), 0);
	assert_int_equal(sg_wire_utf8_valid((const unsigned char *)"a\0", 2), 0);
	assert_int_equal(sg_op_parse("sign.digest", &(enum sg_op){0}), 0);
	assert_int_equal(sg_op_parse("sign.Digest", &(enum sg_op){0}), SG_ERR_UNKNOWN_OP);
	assert_string_equal(sg_op_name(SG_OP_KEYS_LIST), "keys.list");
	assert_string_equal(sg_op_name(SG_OP_NONE), "?");
}

static void
test_err_table(void **state)
{
	assert_string_equal(sg_err_name(SG_ERR_DENIED), "denied");
	assert_string_equal(sg_err_name(12345), "unknown");
	assert_string_equal(sg_strerror(-9999), "unknown error");
	assert_int_equal(sg_err_known(SG_ERR_AUDIT_UNAVAILABLE), 1);
	assert_int_equal(sg_err_known(-9), 0);
}

/* docs/protocol.md documents every code of the table with its number and name. */
static void
test_err_table_documented(void **state)
{
#define SG_DOC_ROW(sym, val, name, msg) {(val), (name)},
	static const struct {
		int code;
		const char *name;
	} rows[] = {SG_ERR_TABLE(SG_DOC_ROW)};
#undef SG_DOC_ROW
	char path[4096], row[160], *doc;
	FILE *fp;
	long n;
	size_t i;

	snprintf(path, sizeof(path), "%s/docs/protocol.md", SG_SOURCE_DIR);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n > 0);
	rewind(fp);
	doc = test_malloc((size_t)n + 1);
	assert_int_equal(fread(doc, 1, (size_t)n, fp), (size_t)n);
	doc[n] = '\0';
	fclose(fp);
	for (i = 1; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(row, sizeof(row), "| %d | `%s` | %s |", -rows[i].code, rows[i].name,
		         sg_strerror(rows[i].code));
		if (strstr(doc, row) == NULL)
			fail_msg("docs/protocol.md lacks the row: %s", row);
	}
	test_free(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ping_roundtrip),
	    cmocka_unit_test(test_sign_roundtrip),
	    cmocka_unit_test(test_sign_minimal),
	    cmocka_unit_test(test_digest_length),
	    cmocka_unit_test(test_sign_field_errors),
	    cmocka_unit_test(test_sign_missing_and_types),
	    cmocka_unit_test(test_header_errors),
	    cmocka_unit_test(test_preflight),
	    cmocka_unit_test(test_truncation_everywhere),
	    cmocka_unit_test(test_too_large),
	    cmocka_unit_test(test_err_reply),
	    cmocka_unit_test(test_keys_reply),
	    cmocka_unit_test(test_sign_reply),
	    cmocka_unit_test(test_cms_request),
	    cmocka_unit_test(test_timestamp_request),
	    cmocka_unit_test(test_keys_reply_certs),
	    cmocka_unit_test(test_blob_reply),
	    cmocka_unit_test(test_ping_reply),
	    cmocka_unit_test(test_names_and_utf8),
	    cmocka_unit_test(test_err_table),
	    cmocka_unit_test(test_err_table_documented),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
