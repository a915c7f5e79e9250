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

/* The id of any reply shape, found without decoding the rest. */
static void
test_peek_id(void **state)
{
	msgpack_zone zone;
	uint64_t id = 0;

	(void)state;
	assert_true(msgpack_zone_init(&zone, 1024));
	/* an error reply for some other op: the id is all that is read */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	pstr("v");
	msgpack_pack_uint64(&pk, 1);
	pstr("err");
	pstr("whatever");
	pstr("id");
	msgpack_pack_uint64(&pk, 0x1122334455667788ULL);
	assert_int_equal(sg_wire_peek_id(&zone, sb.data, sb.size, &id), 0);
	assert_true(id == 0x1122334455667788ULL);
	/* the first well-typed id: a negative or string id is not one */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	pstr("id");
	msgpack_pack_int64(&pk, -5);
	pstr("id");
	pstr("7");
	pstr("id");
	msgpack_pack_uint64(&pk, 9);
	assert_int_equal(sg_wire_peek_id(&zone, sb.data, sb.size, &id), 0);
	assert_true(id == 9);
	/* no id; an "idx" key is not "id" */
	id = 42;
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 1);
	pstr("idx");
	msgpack_pack_uint64(&pk, 3);
	assert_int_equal(sg_wire_peek_id(&zone, sb.data, sb.size, &id), SG_ERR_MISSING_FIELD);
	assert_true(id == 42);
	/* not a map, trailing bytes, truncated, nothing */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 2);
	pstr("id");
	msgpack_pack_uint64(&pk, 1);
	assert_int_equal(sg_wire_peek_id(&zone, sb.data, sb.size, &id), SG_ERR_MALFORMED);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 1);
	pstr("id");
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_nil(&pk);
	assert_int_equal(sg_wire_peek_id(&zone, sb.data, sb.size, &id), SG_ERR_MALFORMED);
	assert_int_equal(sg_wire_peek_id(&zone, sb.data, sb.size - 2, &id), SG_ERR_MALFORMED);
	assert_int_equal(sg_wire_peek_id(&zone, sb.data, 0, &id), SG_ERR_MALFORMED);
	assert_true(id == 42);
	msgpack_zone_destroy(&zone);
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

/* ---- CA delegation ops ---- */

static const unsigned char csr_der[700] = {0x30, 0x82, 0x02, 0xb8};
static const unsigned char serial9[9] = {0x4f, 1, 2, 3, 4, 5, 6, 7, 8};

/* A cert.issue request with every field; extra() adds nextra more. */
static void
issue_req(size_t nextra, void (*extra)(void))
{
	head(5 + nextra, 21, "cert.issue");
	pstr("profile");
	pstr("leaf-tls");
	pstr("csr");
	pbin(csr_der, sizeof(csr_der));
	if (extra != NULL)
		extra();
}

static void
x_csr_dup(void)
{
	pstr("csr");
	pbin(csr_der, 10);
}

static void
x_ttl_zero(void)
{
	pstr("ttl");
	msgpack_pack_uint64(&pk, 0);
}

static void
x_ttl_neg(void)
{
	pstr("ttl");
	msgpack_pack_int64(&pk, -60);
}

static void
x_ttl_str(void)
{
	pstr("ttl");
	pstr("1h");
}

static void
x_sans_str(void)
{
	pstr("sans");
	pstr("DNS:a.example");
}

static void
x_sans_empty(void)
{
	pstr("sans");
	msgpack_pack_array(&pk, 0);
}

static void
x_sans_many(void)
{
	int i;

	pstr("sans");
	msgpack_pack_array(&pk, SG_SANS_MAX + 1);
	for (i = 0; i <= SG_SANS_MAX; i++)
		pstr("DNS:a.example");
}

static void
x_sans_int(void)
{
	pstr("sans");
	msgpack_pack_array(&pk, 2);
	pstr("DNS:a.example");
	msgpack_pack_int(&pk, 4);
}

static void
x_sans_lower(void)
{
	pstr("sans");
	msgpack_pack_array(&pk, 1);
	pstr("dns:a.example");
}

static void
x_sans_bare(void)
{
	pstr("sans");
	msgpack_pack_array(&pk, 1);
	pstr("URI:");
}

static void
x_sans_email(void)
{
	pstr("sans");
	msgpack_pack_array(&pk, 1);
	pstr("email:a@example.com");
}

static void
x_sans_long(void)
{
	char s[SG_SAN_MAX + 2];

	memset(s, 'a', sizeof(s));
	memcpy(s, "DNS:", 4);
	s[SG_SAN_MAX + 1] = '\0';
	pstr("sans");
	msgpack_pack_array(&pk, 1);
	pstr(s);
}

static void
x_sans_nul(void)
{
	pstr("sans");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_str(&pk, 7);
	msgpack_pack_str_body(&pk, "DNS:a\0b", 7);
}

static void
x_pad(void)
{
	pstr("pad");
	pstr("pss");
}

static void
x_idem_long(void)
{
	unsigned char b[SG_IDEM_MAX + 1] = {0};

	pstr("idem");
	pbin(b, sizeof(b));
}

static void
test_issue_request(void **state)
{
	static struct sg_req req, out;
	char why[SG_WHY_MAX];
	int have_id;

	memset(&req, 0, sizeof(req));
	req.id = 20;
	req.op = SG_OP_CERT_ISSUE;
	strcpy(req.u.issue.profile, "leaf-tls");
	memcpy(req.u.issue.csr, csr_der, sizeof(csr_der));
	req.u.issue.csr_len = sizeof(csr_der);
	req.u.issue.ttl = 3600;
	strcpy(req.u.issue.sans[0], "DNS:svc.dev.example");
	strcpy(req.u.issue.sans[1], "IP:10.0.0.7");
	strcpy(req.u.issue.sans[2], "URI:spiffe://dev.example/svc");
	req.u.issue.n_sans = 3;
	req.u.issue.idem_len = 16;
	memset(req.u.issue.idem, 0x42, 16);
	strcpy(req.u.issue.meta.job, "deploy-9");
	assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_int_equal(out.op, SG_OP_CERT_ISSUE);
	assert_int_equal(out.id, 20);
	assert_string_equal(out.u.issue.profile, "leaf-tls");
	assert_int_equal(out.u.issue.csr_len, sizeof(csr_der));
	assert_memory_equal(out.u.issue.csr, csr_der, sizeof(csr_der));
	assert_true(out.u.issue.ttl == 3600);
	assert_int_equal(out.u.issue.n_sans, 3);
	assert_string_equal(out.u.issue.sans[0], "DNS:svc.dev.example");
	assert_string_equal(out.u.issue.sans[1], "IP:10.0.0.7");
	assert_string_equal(out.u.issue.sans[2], "URI:spiffe://dev.example/svc");
	assert_int_equal(out.u.issue.idem_len, 16);
	assert_memory_equal(out.u.issue.idem, req.u.issue.idem, 16);
	assert_string_equal(out.u.issue.meta.job, "deploy-9");

	/* The minimal form: profile and CSR; ttl 0 and no SANs mean "absent". */
	issue_req(0, NULL);
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_true(out.u.issue.ttl == 0);
	assert_int_equal(out.u.issue.n_sans, 0);
	assert_int_equal(out.u.issue.idem_len, 0);
	assert_int_equal(out.u.issue.csr_len, sizeof(csr_der));

	/* The encoder refuses what the struct cannot mean. */
	req.u.issue.n_sans = SG_SANS_MAX + 1;
	assert_int_equal(sg_wire_encode_req(&sb, &req), SG_ERR_INVALID_ARG);
	req.u.issue.n_sans = 1;
	req.u.issue.csr_len = 0;
	assert_int_equal(sg_wire_encode_req(&sb, &req), SG_ERR_INVALID_ARG);
	req.u.issue.csr_len = SG_CSR_MAX + 1;
	assert_int_equal(sg_wire_encode_req(&sb, &req), SG_ERR_INVALID_ARG);
	req.u.issue.csr_len = 10;
	memset(req.u.issue.sans[0], 'a', sizeof(req.u.issue.sans[0])); /* unterminated */
	assert_int_equal(sg_wire_encode_req(&sb, &req), SG_ERR_INVALID_ARG);
	/* At the limits: 32 SANs of 256 bytes each and a CSR of SG_CSR_MAX. */
	for (size_t i = 0; i < SG_SANS_MAX; i++) {
		memset(req.u.issue.sans[i], 'x', SG_SAN_MAX);
		memcpy(req.u.issue.sans[i], "DNS:", 4);
		req.u.issue.sans[i][SG_SAN_MAX] = '\0';
	}
	req.u.issue.n_sans = SG_SANS_MAX;
	req.u.issue.csr_len = SG_CSR_MAX;
	assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_int_equal(out.u.issue.n_sans, SG_SANS_MAX);
	assert_int_equal(strlen(out.u.issue.sans[31]), SG_SAN_MAX);
	assert_int_equal(out.u.issue.csr_len, SG_CSR_MAX);
}

static void
test_issue_request_errors(void **state)
{
	static unsigned char big[SG_CSR_MAX + 1];
	struct {
		void (*extra)(void);
		int code;
		const char *why;
	} cases[] = {
	    {x_csr_dup, SG_ERR_DUPLICATE_FIELD, "csr"},
	    {x_ttl_zero, SG_ERR_BAD_VALUE, "ttl"},
	    {x_ttl_neg, SG_ERR_BAD_TYPE, "ttl"},
	    {x_ttl_str, SG_ERR_BAD_TYPE, "ttl"},
	    {x_sans_str, SG_ERR_BAD_TYPE, "sans"},
	    {x_sans_empty, SG_ERR_BAD_VALUE, "sans"},
	    {x_sans_many, SG_ERR_BAD_VALUE, "sans"},
	    {x_sans_int, SG_ERR_BAD_TYPE, "sans"},
	    {x_sans_lower, SG_ERR_BAD_VALUE, "prefix"},
	    {x_sans_bare, SG_ERR_BAD_VALUE, "prefix"},
	    {x_sans_email, SG_ERR_BAD_VALUE, "prefix"},
	    {x_sans_long, SG_ERR_BAD_VALUE, "sans"},
	    {x_sans_nul, SG_ERR_BAD_VALUE, "NUL"},
	    {x_pad, SG_ERR_UNKNOWN_FIELD, "pad"},
	    {x_idem_long, SG_ERR_BAD_VALUE, "idem"},
	    {extra_meta_unknown, SG_ERR_UNKNOWN_FIELD, "branch"},
	    {extra_meta_not_map, SG_ERR_BAD_TYPE, "meta"},
	};
	static struct sg_req out;
	char why[SG_WHY_MAX];
	size_t i;
	int have_id;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		issue_req(1, cases[i].extra);
		assert_int_equal(decode(&out, &have_id, why), cases[i].code);
		if (strstr(why, cases[i].why) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, why, cases[i].why);
		assert_int_equal(have_id, 1);
		assert_int_equal(out.id, 21);
	}
	/* no profile */
	head(4, 22, "cert.issue");
	pstr("csr");
	pbin(csr_der, 10);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_MISSING_FIELD);
	assert_non_null(strstr(why, "profile"));
	/* profile not a name */
	head(5, 22, "cert.issue");
	pstr("profile");
	pstr("leaf tls");
	pstr("csr");
	pbin(csr_der, 10);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_VALUE);
	/* no csr */
	head(4, 22, "cert.issue");
	pstr("profile");
	pstr("leaf-tls");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_MISSING_FIELD);
	assert_non_null(strstr(why, "csr"));
	/* csr as a string (PEM must be sent as binary) */
	head(5, 22, "cert.issue");
	pstr("profile");
	pstr("leaf-tls");
	pstr("csr");
	pstr("-----BEGIN CERTIFICATE REQUEST-----");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_TYPE);
	/* an empty and an oversize CSR are not CSRs */
	head(5, 22, "cert.issue");
	pstr("profile");
	pstr("leaf-tls");
	pstr("csr");
	pbin(big, 0);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_CSR_INVALID);
	head(5, 22, "cert.issue");
	pstr("profile");
	pstr("leaf-tls");
	pstr("csr");
	pbin(big, sizeof(big));
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_CSR_INVALID);
	assert_non_null(strstr(why, "csr"));
	head(5, 22, "cert.issue");
	pstr("profile");
	pstr("leaf-tls");
	pstr("csr");
	pbin(big, SG_CSR_MAX);
	assert_int_equal(decode(&out, &have_id, why), 0);
}

/* A cert.revoke (reason != NULL) or cert.status request for serial[0..len). */
static void
serial_req(const char *op, const unsigned char *serial, size_t len, const char *reason,
           size_t nextra, void (*extra)(void))
{
	head(4 + (reason != NULL) + nextra, 30, op);
	pstr("serial");
	pbin(serial, len);
	if (reason != NULL) {
		pstr("reason");
		pstr(reason);
	}
	if (extra != NULL)
		extra();
}

static void
x_idem16(void)
{
	unsigned char b[16];

	memset(b, 9, sizeof(b));
	pstr("idem");
	pbin(b, sizeof(b));
}

static void
x_reason_int(void)
{
	pstr("reason");
	msgpack_pack_uint64(&pk, 1);
}

static void
x_serial_str(void)
{
	pstr("serial");
	pstr("4f01");
}

static void
test_revoke_status_request(void **state)
{
	static const unsigned char zero_lead[3] = {0, 0x80, 1};
	unsigned char s21[SG_SERIAL_MAX + 1];
	static struct sg_req req, out;
	char why[SG_WHY_MAX];
	int have_id, v;
	size_t named = 0;

	/* Every reason round-trips by name; 7 and 8 (and others) have none. */
	for (v = 0; v <= 11; v++) {
		const char *name = sg_reason_name((enum sg_reason)v);
		enum sg_reason back;

		if (name == NULL) {
			assert_true(v == 7 || v == 8 || v == 11);
			continue;
		}
		named++;
		assert_int_equal(sg_reason_parse(name, &back), 0);
		assert_int_equal(back, v);
		memset(&req, 0, sizeof(req));
		req.id = 31;
		req.op = SG_OP_CERT_REVOKE;
		memcpy(req.u.serial.serial, serial9, sizeof(serial9));
		req.u.serial.serial_len = sizeof(serial9);
		req.u.serial.reason = (enum sg_reason)v;
		req.u.serial.idem_len = 5;
		memset(req.u.serial.idem, 3, 5);
		assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
		assert_int_equal(decode(&out, &have_id, why), 0);
		assert_int_equal(out.op, SG_OP_CERT_REVOKE);
		assert_int_equal(out.u.serial.serial_len, sizeof(serial9));
		assert_memory_equal(out.u.serial.serial, serial9, sizeof(serial9));
		assert_int_equal(out.u.serial.reason, v);
		assert_int_equal(out.u.serial.idem_len, 5);
	}
	assert_int_equal(named, 9);
	assert_string_equal(sg_reason_name(SG_REASON_KEY_COMPROMISE), "keyCompromise");
	assert_string_equal(sg_reason_name(SG_REASON_AA_COMPROMISE), "aACompromise");
	assert_int_equal(sg_reason_parse("removeFromCRL", &(enum sg_reason){0}), SG_ERR_BAD_VALUE);
	assert_int_equal(sg_reason_parse("KeyCompromise", &(enum sg_reason){0}), SG_ERR_BAD_VALUE);
	/* The encoder cannot name reasons 7 and 8. */
	req.u.serial.reason = (enum sg_reason)8;
	assert_int_equal(sg_wire_encode_req(&sb, &req), SG_ERR_INVALID_ARG);
	req.u.serial.reason = SG_REASON_SUPERSEDED;
	req.u.serial.serial_len = 0;
	assert_int_equal(sg_wire_encode_req(&sb, &req), SG_ERR_INVALID_ARG);
	req.u.serial.serial_len = SG_SERIAL_MAX + 1;
	assert_int_equal(sg_wire_encode_req(&sb, &req), SG_ERR_INVALID_ARG);

	/* cert.status: the serial only; an idempotency key is refused by both sides. */
	req.op = SG_OP_CERT_STATUS;
	req.u.serial.serial_len = SG_SERIAL_MAX;
	memset(req.u.serial.serial, 0xff, SG_SERIAL_MAX);
	assert_int_equal(sg_wire_encode_req(&sb, &req), SG_ERR_INVALID_ARG);
	req.u.serial.idem_len = 0;
	assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_int_equal(out.op, SG_OP_CERT_STATUS);
	assert_int_equal(out.u.serial.serial_len, SG_SERIAL_MAX);
	serial_req("cert.status", serial9, 9, NULL, 1, x_idem16);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_UNKNOWN_FIELD);
	assert_non_null(strstr(why, "idem"));
	serial_req("cert.status", serial9, 9, "keyCompromise", 0, NULL);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_UNKNOWN_FIELD);
	assert_non_null(strstr(why, "reason"));

	/* serials: empty, too long, a leading zero byte, not binary, missing */
	memset(s21, 0x11, sizeof(s21));
	serial_req("cert.status", s21, 0, NULL, 0, NULL);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_VALUE);
	serial_req("cert.status", s21, sizeof(s21), NULL, 0, NULL);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_VALUE);
	serial_req("cert.revoke", zero_lead, sizeof(zero_lead), "superseded", 0, NULL);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_VALUE);
	assert_non_null(strstr(why, "leading zero"));
	serial_req("cert.revoke", zero_lead + 1, 2, "superseded", 0, NULL);
	assert_int_equal(decode(&out, &have_id, why), 0);
	head(4, 30, "cert.status");
	x_serial_str();
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_TYPE);
	head(4, 30, "cert.revoke");
	pstr("reason");
	pstr("superseded");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_MISSING_FIELD);
	assert_non_null(strstr(why, "serial"));

	/* reasons: missing, unknown, wrong case, not a string */
	serial_req("cert.revoke", serial9, 9, NULL, 0, NULL);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_MISSING_FIELD);
	assert_non_null(strstr(why, "reason"));
	serial_req("cert.revoke", serial9, 9, "removeFromCRL", 0, NULL);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_VALUE);
	assert_non_null(strstr(why, "removeFromCRL"));
	serial_req("cert.revoke", serial9, 9, "KEYCOMPROMISE", 0, NULL);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_VALUE);
	serial_req("cert.revoke", serial9, 9, NULL, 1, x_reason_int);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_TYPE);
	serial_req("cert.revoke", serial9, 9, "keyCompromise", 1, x_idem_long);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_VALUE);
	serial_req("cert.revoke", serial9, 9, "keyCompromise", 1, extra_meta_unknown);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_UNKNOWN_FIELD);
	assert_non_null(strstr(why, "meta"));
}

static void
test_crl_calist_ocsp_request(void **state)
{
	static unsigned char der[SG_OCSP_REQ_MAX + 1];
	static struct sg_req req, out;
	char why[SG_WHY_MAX];
	int have_id;

	memset(&req, 0, sizeof(req));
	req.id = 40;
	req.op = SG_OP_CRL_GET;
	strcpy(req.u.crl.ca, "int-dev");
	assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_int_equal(out.op, SG_OP_CRL_GET);
	assert_string_equal(out.u.crl.ca, "int-dev");
	head(3, 41, "crl.get");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_MISSING_FIELD);
	assert_non_null(strstr(why, "ca"));
	head(4, 41, "crl.get");
	pstr("ca");
	pstr("../int");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_VALUE);
	head(4, 41, "crl.get");
	pstr("ca");
	pbin("int", 3);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_TYPE);
	head(5, 41, "crl.get");
	pstr("ca");
	pstr("int");
	pstr("number");
	msgpack_pack_uint64(&pk, 3);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_UNKNOWN_FIELD);

	memset(&req, 0, sizeof(req));
	req.id = 42;
	req.op = SG_OP_CA_LIST;
	assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
	assert_int_equal(sb.size, 19); /* {v, id, op} and nothing else */
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_int_equal(out.op, SG_OP_CA_LIST);
	head(4, 42, "ca.list");
	pstr("ca");
	pstr("int");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_UNKNOWN_FIELD);

	memset(&req, 0, sizeof(req));
	req.id = 43;
	req.op = SG_OP_OCSP;
	memset(req.u.ocsp.der, 0x30, 80);
	req.u.ocsp.len = 80;
	assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_int_equal(out.op, SG_OP_OCSP);
	assert_int_equal(out.u.ocsp.len, 80);
	assert_memory_equal(out.u.ocsp.der, req.u.ocsp.der, 80);
	req.u.ocsp.len = 0;
	assert_int_equal(sg_wire_encode_req(&sb, &req), SG_ERR_INVALID_ARG);
	req.u.ocsp.len = SG_OCSP_REQ_MAX + 1;
	assert_int_equal(sg_wire_encode_req(&sb, &req), SG_ERR_INVALID_ARG);
	head(3, 44, "ocsp");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_MISSING_FIELD);
	head(4, 44, "ocsp");
	pstr("req");
	pstr("MEUwQzBBMD8wPTAJ");
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_TYPE);
	head(4, 44, "ocsp");
	pstr("req");
	pbin(der, 0);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_VALUE);
	head(4, 44, "ocsp");
	pstr("req");
	pbin(der, SG_OCSP_REQ_MAX + 1);
	assert_int_equal(decode(&out, &have_id, why), SG_ERR_BAD_VALUE);
	head(4, 44, "ocsp");
	pstr("req");
	pbin(der, SG_OCSP_REQ_MAX);
	assert_int_equal(decode(&out, &have_id, why), 0);
	assert_int_equal(out.u.ocsp.len, SG_OCSP_REQ_MAX);
}

/* No strict prefix of a CA delegation request decodes. */
static void
test_ca_request_truncations(void **state)
{
	static struct sg_req reqs[4];
	unsigned char full[2048];
	size_t i, n, cut;

	memset(reqs, 0, sizeof(reqs));
	reqs[0].id = 1;
	reqs[0].op = SG_OP_CERT_ISSUE;
	strcpy(reqs[0].u.issue.profile, "p");
	reqs[0].u.issue.csr_len = 100;
	reqs[0].u.issue.ttl = 300;
	strcpy(reqs[0].u.issue.sans[0], "DNS:a");
	reqs[0].u.issue.n_sans = 1;
	reqs[0].u.issue.idem_len = 2;
	reqs[1].id = 2;
	reqs[1].op = SG_OP_CERT_REVOKE;
	reqs[1].u.serial.serial_len = 3;
	reqs[1].u.serial.serial[0] = 1;
	reqs[1].u.serial.reason = SG_REASON_CA_COMPROMISE;
	reqs[2].id = 3;
	reqs[2].op = SG_OP_CRL_GET;
	strcpy(reqs[2].u.crl.ca, "ca");
	reqs[3].id = 4;
	reqs[3].op = SG_OP_OCSP;
	reqs[3].u.ocsp.len = 9;
	for (i = 0; i < 4; i++) {
		assert_int_equal(sg_wire_encode_req(&sb, &reqs[i]), 0);
		n = sb.size;
		assert_true(n < sizeof(full));
		memcpy(full, sb.data, n);
		assert_int_equal(decode_raw(full, n), 0);
		for (cut = 1; cut < n; cut++)
			assert_int_equal(decode_raw(full, cut), SG_ERR_MALFORMED);
	}
}

/*
 * Hand-made replies: a table of fields with their usual values; rep_raw()
 * packs them all but `skip`, with `alt` packed by alt_fn instead, plus an
 * unknown field if `unknown`.
 */
struct rfield {
	const char *name;
	void (*pack)(void);
};

static void
rep_raw(const struct rfield *f, size_t n, const char *skip, const char *alt, void (*alt_fn)(void),
        int unknown)
{
	size_t i;

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3 + n - (skip != NULL) + (unknown != 0));
	pstr("v");
	msgpack_pack_uint64(&pk, 1);
	pstr("id");
	msgpack_pack_uint64(&pk, 50);
	pstr("ok");
	msgpack_pack_true(&pk);
	for (i = 0; i < n; i++) {
		if (skip != NULL && strcmp(f[i].name, skip) == 0)
			continue;
		pstr(f[i].name);
		if (alt != NULL && strcmp(f[i].name, alt) == 0)
			alt_fn();
		else
			f[i].pack();
	}
	if (unknown) {
		pstr("colour");
		pstr("blue");
	}
}

static int
rep_decode(enum sg_op op, struct sg_rep *rep, char *why)
{
	return sg_wire_decode_rep(dec, sb.data, sb.size, op, rep, why);
}

/* Every strict prefix of the reply in sb fails with SG_ERR_MALFORMED. */
static void
rep_truncations(enum sg_op op)
{
	struct sg_rep rep;
	char why[SG_WHY_MAX];
	size_t cut;

	for (cut = 1; cut < sb.size; cut++) {
		if (sg_wire_decode_rep(dec, sb.data, cut, op, &rep, why) != SG_ERR_MALFORMED)
			fail_msg("%s reply cut at %zu of %zu decodes", sg_op_name(op), cut,
			         sb.size);
	}
}

static void
v_name(void)
{
	pstr("int-dev");
}

static void
v_profile(void)
{
	pstr("leaf-tls");
}

static void
v_bad_name(void)
{
	pstr("int dev");
}

static void
v_serial(void)
{
	pbin(serial9, sizeof(serial9));
}

static void
v_serial_zero(void)
{
	static const unsigned char z[2] = {0, 1};

	pbin(z, sizeof(z));
}

static void
v_serial_long(void)
{
	unsigned char s[SG_SERIAL_MAX + 1];

	memset(s, 1, sizeof(s));
	pbin(s, sizeof(s));
}

static void
v_t1000(void)
{
	msgpack_pack_uint64(&pk, 1000);
}

static void
v_t2000(void)
{
	msgpack_pack_uint64(&pk, 2000);
}

static void
v_t500(void)
{
	msgpack_pack_uint64(&pk, 500);
}

static void
v_neg(void)
{
	msgpack_pack_int64(&pk, -1);
}

static void
v_str(void)
{
	pstr("x");
}

static void
v_cert(void)
{
	pbin(csr_der, 300);
}

static void
v_empty_bin(void)
{
	pbin(csr_der, 0);
}

static void
v_big_cert(void)
{
	static unsigned char big[SG_CERT_MAX + 1];

	pbin(big, sizeof(big));
}

static void
v_chain(void)
{
	msgpack_pack_array(&pk, 2);
	pbin(csr_der, 200);
	pbin(csr_der, 100);
}

static void
v_chain_nine(void)
{
	int i;

	msgpack_pack_array(&pk, SG_CERTS_MAX + 1);
	for (i = 0; i <= SG_CERTS_MAX; i++)
		pbin(csr_der, 10);
}

static void
v_chain_str(void)
{
	msgpack_pack_array(&pk, 2);
	pbin(csr_der, 200);
	pstr("cert");
}

static void
v_chain_empty_cert(void)
{
	msgpack_pack_array(&pk, 1);
	pbin(csr_der, 0);
}

static void
v_receipt(void)
{
	unsigned char h[32];

	memset(h, 0xcd, sizeof(h));
	msgpack_pack_map(&pk, 2);
	pstr("record");
	msgpack_pack_uint64(&pk, 77);
	pstr("hash");
	pbin(h, sizeof(h));
}

static void
v_receipt_short(void)
{
	unsigned char h[31] = {0};

	msgpack_pack_map(&pk, 2);
	pstr("record");
	msgpack_pack_uint64(&pk, 77);
	pstr("hash");
	pbin(h, sizeof(h));
}

static void
v_receipt_extra(void)
{
	unsigned char h[32] = {0};

	msgpack_pack_map(&pk, 3);
	pstr("record");
	msgpack_pack_uint64(&pk, 77);
	pstr("hash");
	pbin(h, sizeof(h));
	pstr("seq");
	msgpack_pack_uint64(&pk, 1);
}

static void
v_true(void)
{
	msgpack_pack_true(&pk);
}

static void
v_int1(void)
{
	msgpack_pack_uint64(&pk, 1);
}

static const struct rfield issue_fields[] = {
    {"profile", v_profile},  {"ca", v_name},         {"serial", v_serial},
    {"not_before", v_t1000}, {"not_after", v_t2000}, {"cert", v_cert},
    {"chain", v_chain},      {"receipt", v_receipt}, {"replayed", v_true},
};
#define N_ISSUE (sizeof(issue_fields) / sizeof(issue_fields[0]))

static void
test_issue_reply(void **state)
{
	static const unsigned char leaf[900] = {0x30, 0x82, 3}, inter[700] = {0x30, 0x82, 2},
	                           root[500] = {0x30, 0x82, 1};
	static const struct {
		const char *skip, *alt;
		void (*alt_fn)(void);
		int unknown, code;
	} bad[] = {
	    {"profile", NULL, NULL, 0, SG_ERR_MISSING_FIELD},
	    {"ca", NULL, NULL, 0, SG_ERR_MISSING_FIELD},
	    {"serial", NULL, NULL, 0, SG_ERR_MISSING_FIELD},
	    {"not_before", NULL, NULL, 0, SG_ERR_MISSING_FIELD},
	    {"not_after", NULL, NULL, 0, SG_ERR_MISSING_FIELD},
	    {"cert", NULL, NULL, 0, SG_ERR_MISSING_FIELD},
	    {"chain", NULL, NULL, 0, SG_ERR_MISSING_FIELD},
	    {"receipt", NULL, NULL, 0, SG_ERR_MISSING_FIELD},
	    {NULL, "profile", v_bad_name, 0, SG_ERR_BAD_VALUE},
	    {NULL, "ca", v_int1, 0, SG_ERR_BAD_TYPE},
	    {NULL, "serial", v_serial_zero, 0, SG_ERR_BAD_VALUE},
	    {NULL, "serial", v_serial_long, 0, SG_ERR_BAD_VALUE},
	    {NULL, "serial", v_str, 0, SG_ERR_BAD_TYPE},
	    {NULL, "not_before", v_neg, 0, SG_ERR_BAD_TYPE},
	    {NULL, "not_after", v_t500, 0, SG_ERR_BAD_VALUE},
	    {NULL, "cert", v_empty_bin, 0, SG_ERR_BAD_VALUE},
	    {NULL, "cert", v_big_cert, 0, SG_ERR_BAD_VALUE},
	    {NULL, "cert", v_chain, 0, SG_ERR_BAD_TYPE},
	    {NULL, "chain", v_cert, 0, SG_ERR_BAD_TYPE},
	    {NULL, "chain", v_chain_nine, 0, SG_ERR_BAD_VALUE},
	    {NULL, "chain", v_chain_str, 0, SG_ERR_BAD_TYPE},
	    {NULL, "chain", v_chain_empty_cert, 0, SG_ERR_BAD_VALUE},
	    {NULL, "receipt", v_receipt_short, 0, SG_ERR_BAD_VALUE},
	    {NULL, "receipt", v_receipt_extra, 0, SG_ERR_UNKNOWN_FIELD},
	    {NULL, "receipt", v_str, 0, SG_ERR_BAD_TYPE},
	    {NULL, "replayed", v_int1, 0, SG_ERR_BAD_TYPE},
	    {NULL, NULL, NULL, 1, SG_ERR_UNKNOWN_FIELD},
	};
	struct sg_issue_rep s;
	struct sg_rep rep;
	char why[SG_WHY_MAX];
	size_t i;

	memset(&s, 0, sizeof(s));
	strcpy(s.profile, "leaf-tls");
	strcpy(s.ca, "int-dev");
	memcpy(s.serial, serial9, sizeof(serial9));
	s.serial_len = sizeof(serial9);
	s.not_before = 1700000000;
	s.not_after = 1700086400;
	s.cert = leaf;
	s.cert_len = sizeof(leaf);
	s.chain[0] = inter;
	s.chain_len[0] = sizeof(inter);
	s.chain[1] = root;
	s.chain_len[1] = sizeof(root);
	s.n_chain = 2;
	s.record = 4242;
	memset(s.record_hash, 0x5e, 32);
	s.replayed = 1;
	assert_int_equal(sg_wire_encode_issue_rep(&sb, 60, &s), 0);
	assert_int_equal(rep_decode(SG_OP_CERT_ISSUE, &rep, why), 0);
	assert_int_equal(rep.ok, 1);
	assert_int_equal(rep.id, 60);
	assert_string_equal(rep.u.issue.profile, "leaf-tls");
	assert_string_equal(rep.u.issue.ca, "int-dev");
	assert_int_equal(rep.u.issue.serial_len, sizeof(serial9));
	assert_memory_equal(rep.u.issue.serial, serial9, sizeof(serial9));
	assert_true(rep.u.issue.not_before == 1700000000);
	assert_true(rep.u.issue.not_after == 1700086400);
	assert_int_equal(rep.u.issue.cert_len, sizeof(leaf));
	assert_memory_equal(rep.u.issue.cert, leaf, sizeof(leaf));
	assert_int_equal(rep.u.issue.n_chain, 2);
	assert_int_equal(rep.u.issue.chain_len[0], sizeof(inter));
	assert_memory_equal(rep.u.issue.chain[0], inter, sizeof(inter));
	assert_int_equal(rep.u.issue.chain_len[1], sizeof(root));
	assert_memory_equal(rep.u.issue.chain[1], root, sizeof(root));
	assert_true(rep.u.issue.record == 4242);
	assert_memory_equal(rep.u.issue.record_hash, s.record_hash, 32);
	assert_int_equal(rep.u.issue.replayed, 1);
	sg_rep_clear(&rep);
	assert_null(rep.u.issue.buf);
	rep_truncations(SG_OP_CERT_ISSUE);
	/* read as the reply of another op, it is refused (and leaks nothing) */
	assert_int_equal(rep_decode(SG_OP_CERT_STATUS, &rep, why), SG_ERR_MISSING_FIELD);
	assert_int_equal(rep_decode(SG_OP_SIGN_CMS, &rep, why), SG_ERR_MISSING_FIELD);

	/* an empty chain (the issuer is the root), not replayed, not_after == not_before */
	s.n_chain = 0;
	s.replayed = 0;
	s.not_after = s.not_before;
	assert_int_equal(sg_wire_encode_issue_rep(&sb, 61, &s), 0);
	assert_int_equal(rep_decode(SG_OP_CERT_ISSUE, &rep, why), 0);
	assert_int_equal(rep.u.issue.n_chain, 0);
	assert_int_equal(rep.u.issue.replayed, 0);
	assert_memory_equal(rep.u.issue.cert, leaf, sizeof(leaf));
	sg_rep_clear(&rep);

	/* the encoder refuses what the decoder would */
	s.not_after = s.not_before - 1;
	assert_int_equal(sg_wire_encode_issue_rep(&sb, 61, &s), SG_ERR_INVALID_ARG);
	s.not_after = s.not_before;
	s.serial[0] = 0;
	assert_int_equal(sg_wire_encode_issue_rep(&sb, 61, &s), SG_ERR_INVALID_ARG);
	s.serial[0] = 1;
	s.serial_len = SG_SERIAL_MAX + 1;
	assert_int_equal(sg_wire_encode_issue_rep(&sb, 61, &s), SG_ERR_INVALID_ARG);
	s.serial_len = 9;
	s.cert_len = 0;
	assert_int_equal(sg_wire_encode_issue_rep(&sb, 61, &s), SG_ERR_INVALID_ARG);
	s.cert_len = sizeof(leaf);
	s.n_chain = SG_CERTS_MAX + 1;
	assert_int_equal(sg_wire_encode_issue_rep(&sb, 61, &s), SG_ERR_INVALID_ARG);
	s.n_chain = 1;
	s.chain[0] = NULL;
	assert_int_equal(sg_wire_encode_issue_rep(&sb, 61, &s), SG_ERR_INVALID_ARG);
	s.chain[0] = inter;
	strcpy(s.ca, "");
	assert_int_equal(sg_wire_encode_issue_rep(&sb, 61, &s), SG_ERR_INVALID_ARG);
	strcpy(s.ca, "int-dev");
	assert_int_equal(sg_wire_encode_issue_rep(&sb, 61, &s), 0);

	/* hand-made replies: every field missing, of the wrong type or out of range */
	rep_raw(issue_fields, N_ISSUE, NULL, NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_ISSUE, &rep, why), 0);
	assert_int_equal(rep.u.issue.n_chain, 2);
	sg_rep_clear(&rep);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rep_raw(issue_fields, N_ISSUE, bad[i].skip, bad[i].alt, bad[i].alt_fn,
		        bad[i].unknown);
		if (rep_decode(SG_OP_CERT_ISSUE, &rep, why) != bad[i].code)
			fail_msg("issue reply case %zu: want %d (%s)", i, bad[i].code, why);
		assert_null(rep.u.issue.buf);
	}
}

static void
v_good(void)
{
	pstr("good");
}

static void
v_revoked(void)
{
	pstr("revoked");
}

static void
v_unknown(void)
{
	pstr("unknown");
}

static void
v_valid(void)
{
	pstr("valid");
}

static void
v_reason(void)
{
	pstr("keyCompromise");
}

static void
v_reason8(void)
{
	pstr("removeFromCRL");
}

static const struct rfield revoked_fields[] = {
    {"serial", v_serial},   {"status", v_revoked},   {"profile", v_profile}, {"ca", v_name},
    {"not_after", v_t2000}, {"revoked_at", v_t1000}, {"reason", v_reason},   {"receipt", v_receipt},
};
#define N_REVOKED (sizeof(revoked_fields) / sizeof(revoked_fields[0]))

static const struct rfield good_fields[] = {
    {"serial", v_serial}, {"status", v_good},     {"profile", v_profile},
    {"ca", v_name},       {"not_after", v_t2000}, {"receipt", v_receipt},
};
#define N_GOOD (sizeof(good_fields) / sizeof(good_fields[0]))

static const struct rfield unknown_fields[] = {
    {"serial", v_serial},
    {"status", v_unknown},
    {"receipt", v_receipt},
};
#define N_UNKNOWN (sizeof(unknown_fields) / sizeof(unknown_fields[0]))

static void
test_status_reply(void **state)
{
	struct sg_status_rep s;
	struct sg_rep rep;
	char why[SG_WHY_MAX];

	/* revoked, as cert.revoke answers, replayed */
	memset(&s, 0, sizeof(s));
	memcpy(s.serial, serial9, 9);
	s.serial_len = 9;
	s.status = SG_CERT_REVOKED;
	strcpy(s.profile, "leaf-tls");
	strcpy(s.ca, "int-dev");
	s.not_after = 1700086400;
	s.revoked_at = 1700001234;
	s.reason = SG_REASON_PRIVILEGE_WITHDRAWN;
	s.record = 5;
	memset(s.record_hash, 0x77, 32);
	s.replayed = 1;
	assert_int_equal(sg_wire_encode_status_rep(&sb, 70, SG_OP_CERT_REVOKE, &s), 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), 0);
	assert_int_equal(rep.u.status.serial_len, 9);
	assert_memory_equal(rep.u.status.serial, serial9, 9);
	assert_int_equal(rep.u.status.status, SG_CERT_REVOKED);
	assert_string_equal(rep.u.status.profile, "leaf-tls");
	assert_string_equal(rep.u.status.ca, "int-dev");
	assert_true(rep.u.status.not_after == 1700086400);
	assert_true(rep.u.status.revoked_at == 1700001234);
	assert_int_equal(rep.u.status.reason, SG_REASON_PRIVILEGE_WITHDRAWN);
	assert_true(rep.u.status.record == 5);
	assert_memory_equal(rep.u.status.record_hash, s.record_hash, 32);
	assert_int_equal(rep.u.status.replayed, 1);
	sg_rep_clear(&rep);
	rep_truncations(SG_OP_CERT_REVOKE);
	/* cert.status answers are never replayed: the field is unknown there */
	assert_int_equal(rep_decode(SG_OP_CERT_STATUS, &rep, why), SG_ERR_UNKNOWN_FIELD);
	assert_non_null(strstr(why, "replayed"));
	assert_int_equal(sg_wire_encode_status_rep(&sb, 70, SG_OP_CERT_STATUS, &s),
	                 SG_ERR_INVALID_ARG);
	s.replayed = 0;
	assert_int_equal(sg_wire_encode_status_rep(&sb, 70, SG_OP_CERT_STATUS, &s), 0);
	assert_int_equal(rep_decode(SG_OP_CERT_STATUS, &rep, why), 0);
	assert_int_equal(rep.u.status.reason, SG_REASON_PRIVILEGE_WITHDRAWN);
	sg_rep_clear(&rep);
	rep_truncations(SG_OP_CERT_STATUS);

	/* good: no revocation details */
	s.status = SG_CERT_GOOD;
	assert_int_equal(sg_wire_encode_status_rep(&sb, 71, SG_OP_CERT_STATUS, &s),
	                 SG_ERR_INVALID_ARG); /* revoked_at set */
	s.revoked_at = 0;
	assert_int_equal(sg_wire_encode_status_rep(&sb, 71, SG_OP_CERT_STATUS, &s), 0);
	assert_int_equal(rep_decode(SG_OP_CERT_STATUS, &rep, why), 0);
	assert_int_equal(rep.u.status.status, SG_CERT_GOOD);
	assert_string_equal(rep.u.status.ca, "int-dev");
	assert_true(rep.u.status.revoked_at == 0);
	assert_int_equal(rep.u.status.reason, SG_REASON_UNSPECIFIED);
	sg_rep_clear(&rep);
	rep_truncations(SG_OP_CERT_STATUS);

	/* unknown: the serial and the receipt only */
	s.status = SG_CERT_UNKNOWN;
	assert_int_equal(sg_wire_encode_status_rep(&sb, 72, SG_OP_CERT_STATUS, &s),
	                 SG_ERR_INVALID_ARG);
	s.profile[0] = s.ca[0] = '\0';
	s.not_after = 0;
	assert_int_equal(sg_wire_encode_status_rep(&sb, 72, SG_OP_CERT_STATUS, &s), 0);
	assert_int_equal(rep_decode(SG_OP_CERT_STATUS, &rep, why), 0);
	assert_int_equal(rep.u.status.status, SG_CERT_UNKNOWN);
	assert_string_equal(rep.u.status.profile, "");
	sg_rep_clear(&rep);
	rep_truncations(SG_OP_CERT_STATUS);

	/* more encoder refusals */
	s.status = SG_CERT_GOOD;
	assert_int_equal(sg_wire_encode_status_rep(&sb, 73, SG_OP_CERT_STATUS, &s),
	                 SG_ERR_INVALID_ARG); /* good without profile and ca */
	strcpy(s.profile, "leaf-tls");
	strcpy(s.ca, "int-dev");
	s.status = SG_CERT_REVOKED;
	s.reason = (enum sg_reason)7;
	assert_int_equal(sg_wire_encode_status_rep(&sb, 73, SG_OP_CERT_REVOKE, &s),
	                 SG_ERR_INVALID_ARG);
	s.reason = SG_REASON_SUPERSEDED;
	s.status = (enum sg_cert_status)3;
	assert_int_equal(sg_wire_encode_status_rep(&sb, 73, SG_OP_CERT_REVOKE, &s),
	                 SG_ERR_INVALID_ARG);
	s.status = SG_CERT_REVOKED;
	assert_int_equal(sg_wire_encode_status_rep(&sb, 73, SG_OP_CRL_GET, &s), SG_ERR_INVALID_ARG);
	s.serial_len = 0;
	assert_int_equal(sg_wire_encode_status_rep(&sb, 73, SG_OP_CERT_REVOKE, &s),
	                 SG_ERR_INVALID_ARG);
	s.serial_len = 9;
	assert_int_equal(sg_wire_encode_status_rep(&sb, 73, SG_OP_CERT_REVOKE, &s), 0);

	/* hand-made: the details must agree with the status */
	rep_raw(revoked_fields, N_REVOKED, NULL, NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), 0);
	assert_int_equal(rep.u.status.reason, SG_REASON_KEY_COMPROMISE);
	rep_raw(revoked_fields, N_REVOKED, "reason", NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_MISSING_FIELD);
	rep_raw(revoked_fields, N_REVOKED, "revoked_at", NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_MISSING_FIELD);
	rep_raw(revoked_fields, N_REVOKED, "profile", NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_MISSING_FIELD);
	rep_raw(revoked_fields, N_REVOKED, "receipt", NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_MISSING_FIELD);
	rep_raw(revoked_fields, N_REVOKED, "serial", NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_MISSING_FIELD);
	rep_raw(revoked_fields, N_REVOKED, "status", NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_MISSING_FIELD);
	rep_raw(revoked_fields, N_REVOKED, NULL, "status", v_valid, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_BAD_VALUE);
	rep_raw(revoked_fields, N_REVOKED, NULL, "status", v_good, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_BAD_VALUE);
	rep_raw(revoked_fields, N_REVOKED, NULL, "status", v_unknown, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_BAD_VALUE);
	rep_raw(revoked_fields, N_REVOKED, NULL, "reason", v_reason8, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_BAD_VALUE);
	rep_raw(revoked_fields, N_REVOKED, NULL, "reason", v_int1, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_BAD_TYPE);
	rep_raw(revoked_fields, N_REVOKED, NULL, "revoked_at", v_str, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_BAD_TYPE);
	rep_raw(revoked_fields, N_REVOKED, NULL, "serial", v_serial_zero, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_BAD_VALUE);
	rep_raw(revoked_fields, N_REVOKED, NULL, "ca", v_bad_name, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_BAD_VALUE);
	rep_raw(revoked_fields, N_REVOKED, NULL, NULL, NULL, 1);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), SG_ERR_UNKNOWN_FIELD);
	rep_raw(good_fields, N_GOOD, NULL, NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_STATUS, &rep, why), 0);
	rep_raw(good_fields, N_GOOD, "not_after", NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_STATUS, &rep, why), SG_ERR_MISSING_FIELD);
	rep_raw(good_fields, N_GOOD, "ca", NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_STATUS, &rep, why), SG_ERR_MISSING_FIELD);
	rep_raw(unknown_fields, N_UNKNOWN, NULL, NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_STATUS, &rep, why), 0);
	assert_int_equal(rep.u.status.status, SG_CERT_UNKNOWN);
	/* an unknown certificate with details: "good" fields under "unknown" */
	rep_raw(good_fields, N_GOOD, NULL, "status", v_unknown, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_STATUS, &rep, why), SG_ERR_BAD_VALUE);
	assert_non_null(strstr(why, "unknown"));
	/* a good certificate with a reason */
	rep_raw(revoked_fields, N_REVOKED, "revoked_at", "status", v_good, 0);
	assert_int_equal(rep_decode(SG_OP_CERT_STATUS, &rep, why), SG_ERR_BAD_VALUE);
	assert_non_null(strstr(why, "good"));
}

static void
v_crl(void)
{
	pbin(csr_der, 600);
}

static void
v_crl_big(void)
{
	static unsigned char big[SG_BLOB_MAX + 1];

	pbin(big, sizeof(big));
}

/* A CRL reply may be larger than other blobs: up to SG_CRL_MAX. */
static void
v_crlrep_big(void)
{
	static unsigned char big[SG_CRL_MAX + 1];

	pbin(big, sizeof(big));
}

static void
v_crl_max(void)
{
	static unsigned char big[SG_CRL_MAX];

	pbin(big, sizeof(big));
}

static const struct rfield crl_fields[] = {
    {"ca", v_name},           {"number", v_int1}, {"this_update", v_t1000},
    {"next_update", v_t2000}, {"crl", v_crl},
};
#define N_CRL (sizeof(crl_fields) / sizeof(crl_fields[0]))

static void
test_crl_reply(void **state)
{
	static const unsigned char der[1200] = {0x30, 0x82, 4, 0xac};
	static const struct {
		const char *skip, *alt;
		void (*alt_fn)(void);
		int unknown, code;
	} bad[] = {
	    {"ca", NULL, NULL, 0, SG_ERR_MISSING_FIELD},
	    {"number", NULL, NULL, 0, SG_ERR_MISSING_FIELD},
	    {"this_update", NULL, NULL, 0, SG_ERR_MISSING_FIELD},
	    {"next_update", NULL, NULL, 0, SG_ERR_MISSING_FIELD},
	    {"crl", NULL, NULL, 0, SG_ERR_MISSING_FIELD},
	    {NULL, "ca", v_bad_name, 0, SG_ERR_BAD_VALUE},
	    {NULL, "number", v_neg, 0, SG_ERR_BAD_TYPE},
	    {NULL, "this_update", v_str, 0, SG_ERR_BAD_TYPE},
	    {NULL, "next_update", v_t500, 0, SG_ERR_BAD_VALUE},
	    {NULL, "crl", v_str, 0, SG_ERR_BAD_TYPE},
	    {NULL, "crl", v_empty_bin, 0, SG_ERR_BAD_VALUE},
	    {NULL, "crl", v_crlrep_big, 0, SG_ERR_BAD_VALUE},
	    {NULL, NULL, NULL, 1, SG_ERR_UNKNOWN_FIELD},
	};
	struct sg_crl_rep c;
	struct sg_rep rep;
	char why[SG_WHY_MAX];
	size_t i;

	memset(&c, 0, sizeof(c));
	strcpy(c.ca, "int-dev");
	c.number = 1234567;
	c.this_update = 1700000000;
	c.next_update = 1700086400;
	c.data = (unsigned char *)der;
	c.len = sizeof(der);
	assert_int_equal(sg_wire_encode_crl_rep(&sb, 80, &c), 0);
	assert_int_equal(rep_decode(SG_OP_CRL_GET, &rep, why), 0);
	assert_string_equal(rep.u.crl.ca, "int-dev");
	assert_true(rep.u.crl.number == 1234567);
	assert_true(rep.u.crl.this_update == 1700000000);
	assert_true(rep.u.crl.next_update == 1700086400);
	assert_int_equal(rep.u.crl.len, sizeof(der));
	assert_memory_equal(rep.u.crl.data, der, sizeof(der));
	sg_rep_clear(&rep);
	rep_truncations(SG_OP_CRL_GET);
	assert_int_equal(rep_decode(SG_OP_OCSP, &rep, why), SG_ERR_MISSING_FIELD);

	c.next_update = c.this_update - 1;
	assert_int_equal(sg_wire_encode_crl_rep(&sb, 80, &c), SG_ERR_INVALID_ARG);
	c.next_update = c.this_update;
	c.len = 0;
	assert_int_equal(sg_wire_encode_crl_rep(&sb, 80, &c), SG_ERR_INVALID_ARG);
	c.len = SG_CRL_MAX + 1;
	assert_int_equal(sg_wire_encode_crl_rep(&sb, 80, &c), SG_ERR_INVALID_ARG);
	c.len = sizeof(der);
	c.data = NULL;
	assert_int_equal(sg_wire_encode_crl_rep(&sb, 80, &c), SG_ERR_INVALID_ARG);
	c.data = (unsigned char *)der;
	strcpy(c.ca, "a/b");
	assert_int_equal(sg_wire_encode_crl_rep(&sb, 80, &c), SG_ERR_INVALID_ARG);

	rep_raw(crl_fields, N_CRL, NULL, "crl", v_crl_max, 0);
	assert_int_equal(rep_decode(SG_OP_CRL_GET, &rep, why), 0);
	assert_int_equal(rep.u.crl.len, SG_CRL_MAX);
	sg_rep_clear(&rep);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rep_raw(crl_fields, N_CRL, bad[i].skip, bad[i].alt, bad[i].alt_fn, bad[i].unknown);
		if (rep_decode(SG_OP_CRL_GET, &rep, why) != bad[i].code)
			fail_msg("crl reply case %zu: want %d (%s)", i, bad[i].code, why);
		assert_null(rep.u.crl.data);
	}
}

/* ca.list entries, hand-made: entry() packs one CA map. */
static void
cas_raw(size_t n, void (*entry)(size_t i))
{
	size_t i;

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 4);
	pstr("v");
	msgpack_pack_uint64(&pk, 1);
	pstr("id");
	msgpack_pack_uint64(&pk, 90);
	pstr("ok");
	msgpack_pack_true(&pk);
	pstr("cas");
	msgpack_pack_array(&pk, n);
	for (i = 0; i < n; i++)
		entry(i);
}

static int ca_variant;

/* Entry 0 is always good (so that a failure in entry 1 must free entry 0's certificates). */
static void
ca_entry(size_t i)
{
	int v = i == 0 ? 0 : ca_variant;
	size_t nf = 4 - (v == 1) + (v == 2);

	msgpack_pack_map(&pk, nf);
	pstr("name");
	pstr(v == 3 ? "bad name" : "int-dev");
	pstr("not_after");
	if (v == 4)
		pstr("2030");
	else
		msgpack_pack_uint64(&pk, 1900000000);
	pstr("certs");
	if (v == 5) {
		msgpack_pack_array(&pk, 0);
	} else if (v == 6) {
		pbin(csr_der, 10);
	} else if (v == 7) {
		msgpack_pack_array(&pk, SG_CERTS_MAX + 1);
		for (int k = 0; k <= SG_CERTS_MAX; k++)
			pbin(csr_der, 10);
	} else {
		msgpack_pack_array(&pk, 2);
		pbin(csr_der, 400);
		pbin(csr_der, 300);
	}
	if (v != 1) {
		pstr("profiles");
		if (v == 8) {
			pstr("leaf-tls");
		} else if (v == 9) {
			msgpack_pack_array(&pk, 1);
			pstr("leaf tls");
		} else if (v == 10) {
			msgpack_pack_array(&pk, SG_CA_PROFILES_MAX + 1);
			for (int k = 0; k <= SG_CA_PROFILES_MAX; k++)
				pstr("p");
		} else if (v == 11) {
			msgpack_pack_array(&pk, 1);
			pbin("p", 1);
		} else {
			msgpack_pack_array(&pk, 2);
			pstr("leaf-tls");
			pstr("intermediate-ca");
		}
	}
	if (v == 2) {
		pstr("colour");
		pstr("blue");
	}
}

static void
ca_entry_not_map(size_t i)
{
	if (i == 0)
		ca_entry(0);
	else
		pstr("int-dev");
}

static void
test_cas_reply(void **state)
{
	static const unsigned char c1[800] = {0x30, 1}, c2[600] = {0x30, 2}, c3[400] = {0x30, 3};
	static const struct {
		int variant, code;
	} bad[] = {
	    {1, SG_ERR_MISSING_FIELD}, {2, SG_ERR_UNKNOWN_FIELD}, {3, SG_ERR_BAD_VALUE},
	    {4, SG_ERR_BAD_TYPE},      {5, SG_ERR_BAD_VALUE},     {6, SG_ERR_BAD_TYPE},
	    {7, SG_ERR_BAD_VALUE},     {8, SG_ERR_BAD_TYPE},      {9, SG_ERR_BAD_VALUE},
	    {10, SG_ERR_BAD_VALUE},    {11, SG_ERR_BAD_TYPE},
	};
	static struct sg_ca_info cas[SG_MAX_CAS + 1];
	struct sg_rep rep;
	char why[SG_WHY_MAX];
	size_t i;

	memset(cas, 0, sizeof(cas));
	strcpy(cas[0].name, "root");
	cas[0].not_after = 2000000000;
	cas[0].cert[0] = c1;
	cas[0].cert_len[0] = sizeof(c1);
	cas[0].n_certs = 1;
	strcpy(cas[1].name, "int-dev");
	cas[1].not_after = 1900000000;
	cas[1].cert[0] = c2;
	cas[1].cert_len[0] = sizeof(c2);
	cas[1].cert[1] = c3;
	cas[1].cert_len[1] = sizeof(c3);
	cas[1].n_certs = 2;
	strcpy(cas[1].profiles[0], "leaf-tls");
	strcpy(cas[1].profiles[1], "intermediate-ca");
	strcpy(cas[1].profiles[2], "x.y_z");
	cas[1].n_profiles = 3;
	assert_int_equal(sg_wire_encode_cas_rep(&sb, 90, cas, 2), 0);
	assert_int_equal(rep_decode(SG_OP_CA_LIST, &rep, why), 0);
	assert_int_equal(rep.u.cas.n, 2);
	assert_string_equal(rep.u.cas.cas[0].name, "root");
	assert_true(rep.u.cas.cas[0].not_after == 2000000000);
	assert_int_equal(rep.u.cas.cas[0].n_certs, 1);
	assert_memory_equal(rep.u.cas.cas[0].cert[0], c1, sizeof(c1));
	assert_int_equal(rep.u.cas.cas[0].n_profiles, 0);
	assert_string_equal(rep.u.cas.cas[1].name, "int-dev");
	assert_int_equal(rep.u.cas.cas[1].n_certs, 2);
	assert_int_equal(rep.u.cas.cas[1].cert_len[1], sizeof(c3));
	assert_memory_equal(rep.u.cas.cas[1].cert[0], c2, sizeof(c2));
	assert_memory_equal(rep.u.cas.cas[1].cert[1], c3, sizeof(c3));
	assert_int_equal(rep.u.cas.cas[1].n_profiles, 3);
	assert_string_equal(rep.u.cas.cas[1].profiles[0], "leaf-tls");
	assert_string_equal(rep.u.cas.cas[1].profiles[2], "x.y_z");
	sg_rep_clear(&rep);
	assert_null(rep.u.cas.cas);
	rep_truncations(SG_OP_CA_LIST);
	assert_int_equal(rep_decode(SG_OP_KEYS_LIST, &rep, why), SG_ERR_MISSING_FIELD);

	/* none */
	assert_int_equal(sg_wire_encode_cas_rep(&sb, 91, NULL, 0), 0);
	assert_int_equal(rep_decode(SG_OP_CA_LIST, &rep, why), 0);
	assert_int_equal(rep.u.cas.n, 0);
	assert_null(rep.u.cas.cas);
	sg_rep_clear(&rep);

	/* the encoder refuses what the decoder would */
	cas[0].n_certs = 0;
	assert_int_equal(sg_wire_encode_cas_rep(&sb, 92, cas, 2), SG_ERR_INVALID_ARG);
	cas[0].n_certs = 1;
	cas[1].n_profiles = SG_CA_PROFILES_MAX + 1;
	assert_int_equal(sg_wire_encode_cas_rep(&sb, 92, cas, 2), SG_ERR_INVALID_ARG);
	cas[1].n_profiles = 3;
	strcpy(cas[1].profiles[2], "x y");
	assert_int_equal(sg_wire_encode_cas_rep(&sb, 92, cas, 2), SG_ERR_INVALID_ARG);
	strcpy(cas[1].profiles[2], "xy");
	cas[1].cert_len[1] = SG_CERT_MAX + 1;
	assert_int_equal(sg_wire_encode_cas_rep(&sb, 92, cas, 2), SG_ERR_INVALID_ARG);
	cas[1].cert_len[1] = sizeof(c3);
	assert_int_equal(sg_wire_encode_cas_rep(&sb, 92, cas, SG_MAX_CAS + 1), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_wire_encode_cas_rep(&sb, 92, NULL, 1), SG_ERR_INVALID_ARG);
	/* SG_MAX_CAS entries */
	for (i = 2; i < SG_MAX_CAS; i++)
		cas[i] = cas[0];
	assert_int_equal(sg_wire_encode_cas_rep(&sb, 93, cas, SG_MAX_CAS), 0);
	assert_int_equal(rep_decode(SG_OP_CA_LIST, &rep, why), 0);
	assert_int_equal(rep.u.cas.n, SG_MAX_CAS);
	assert_memory_equal(rep.u.cas.cas[SG_MAX_CAS - 1].cert[0], c1, sizeof(c1));
	sg_rep_clear(&rep);

	/* hand-made: the second entry is bad in one way each; the first one is freed */
	ca_variant = 0;
	cas_raw(2, ca_entry);
	assert_int_equal(rep_decode(SG_OP_CA_LIST, &rep, why), 0);
	assert_int_equal(rep.u.cas.cas[1].n_profiles, 2);
	sg_rep_clear(&rep);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ca_variant = bad[i].variant;
		cas_raw(2, ca_entry);
		if (rep_decode(SG_OP_CA_LIST, &rep, why) != bad[i].code)
			fail_msg("ca.list variant %d: want %d (%s)", bad[i].variant, bad[i].code,
			         why);
		assert_null(rep.u.cas.cas);
	}
	cas_raw(2, ca_entry_not_map);
	assert_int_equal(rep_decode(SG_OP_CA_LIST, &rep, why), SG_ERR_BAD_TYPE);
	ca_variant = 0;
	cas_raw(SG_MAX_CAS + 1, ca_entry);
	assert_int_equal(rep_decode(SG_OP_CA_LIST, &rep, why), SG_ERR_BAD_VALUE);
	/* cas not an array, or missing */
	rep_raw((const struct rfield[]){{"cas", v_str}}, 1, NULL, NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_CA_LIST, &rep, why), SG_ERR_BAD_TYPE);
	rep_raw((const struct rfield[]){{"cas", v_str}}, 1, "cas", NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_CA_LIST, &rep, why), SG_ERR_MISSING_FIELD);
}

static void
test_ocsp_reply(void **state)
{
	static const unsigned char der[1800] = {0x30, 0x82, 7, 0x04, 0x0a, 1, 0};
	static const struct rfield f[] = {{"resp", v_crl}};
	struct sg_rep rep;
	char why[SG_WHY_MAX];

	assert_int_equal(sg_wire_encode_ocsp_rep(&sb, 95, der, sizeof(der)), 0);
	assert_int_equal(rep_decode(SG_OP_OCSP, &rep, why), 0);
	assert_int_equal(rep.u.blob.len, sizeof(der));
	assert_memory_equal(rep.u.blob.data, der, sizeof(der));
	sg_rep_clear(&rep);
	assert_null(rep.u.blob.data);
	rep_truncations(SG_OP_OCSP);
	assert_int_equal(rep_decode(SG_OP_CRL_GET, &rep, why), SG_ERR_MISSING_FIELD);
	assert_int_equal(sg_wire_encode_ocsp_rep(&sb, 95, der, 0), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_wire_encode_ocsp_rep(&sb, 95, NULL, 10), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_wire_encode_ocsp_rep(&sb, 95, der, SG_BLOB_MAX + 1),
	                 SG_ERR_INVALID_ARG);
	rep_raw(f, 1, NULL, NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_OCSP, &rep, why), 0);
	assert_int_equal(rep.u.blob.len, 600);
	sg_rep_clear(&rep);
	rep_raw(f, 1, "resp", NULL, NULL, 0);
	assert_int_equal(rep_decode(SG_OP_OCSP, &rep, why), SG_ERR_MISSING_FIELD);
	rep_raw(f, 1, NULL, "resp", v_empty_bin, 0);
	assert_int_equal(rep_decode(SG_OP_OCSP, &rep, why), SG_ERR_BAD_VALUE);
	rep_raw(f, 1, NULL, "resp", v_crl_big, 0);
	assert_int_equal(rep_decode(SG_OP_OCSP, &rep, why), SG_ERR_BAD_VALUE);
	rep_raw(f, 1, NULL, "resp", v_str, 0);
	assert_int_equal(rep_decode(SG_OP_OCSP, &rep, why), SG_ERR_BAD_TYPE);
	rep_raw(f, 1, NULL, NULL, NULL, 1);
	assert_int_equal(rep_decode(SG_OP_OCSP, &rep, why), SG_ERR_UNKNOWN_FIELD);
	assert_null(rep.u.blob.data);
	/* an error reply to any of the new ops decodes as one */
	assert_int_equal(sg_wire_encode_err(&sb, 96, SG_ERR_UNKNOWN_SERIAL, NULL), 0);
	assert_int_equal(rep_decode(SG_OP_CERT_REVOKE, &rep, why), 0);
	assert_int_equal(rep.ok, 0);
	assert_int_equal(rep.err, SG_ERR_UNKNOWN_SERIAL);
	assert_string_equal(rep.err_name, "unknown_serial");
	sg_rep_clear(&rep);
}

static void
test_cert_status_names(void **state)
{
	enum sg_cert_status st;

	assert_string_equal(sg_cert_status_name(SG_CERT_GOOD), "good");
	assert_string_equal(sg_cert_status_name(SG_CERT_REVOKED), "revoked");
	assert_string_equal(sg_cert_status_name(SG_CERT_UNKNOWN), "unknown");
	assert_null(sg_cert_status_name((enum sg_cert_status)3));
	assert_int_equal(sg_cert_status_parse("revoked", &st), 0);
	assert_int_equal(st, SG_CERT_REVOKED);
	assert_int_equal(sg_cert_status_parse("Revoked", &st), SG_ERR_BAD_VALUE);
	assert_string_equal(sg_op_name(SG_OP_CERT_ISSUE), "cert.issue");
	assert_string_equal(sg_op_name(SG_OP_OCSP), "ocsp");
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
	    cmocka_unit_test(test_peek_id),
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
	    cmocka_unit_test(test_issue_request),
	    cmocka_unit_test(test_issue_request_errors),
	    cmocka_unit_test(test_revoke_status_request),
	    cmocka_unit_test(test_crl_calist_ocsp_request),
	    cmocka_unit_test(test_ca_request_truncations),
	    cmocka_unit_test(test_issue_reply),
	    cmocka_unit_test(test_status_reply),
	    cmocka_unit_test(test_crl_reply),
	    cmocka_unit_test(test_cas_reply),
	    cmocka_unit_test(test_ocsp_reply),
	    cmocka_unit_test(test_cert_status_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
