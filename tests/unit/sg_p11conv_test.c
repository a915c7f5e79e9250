/*
 * Unit tests of sg_p11conv: DigestInfo parsing (SHA-2 accepted, SHA-1,
 * wrong lengths, trailing bytes, BER and parameters refused) and the
 * DER ECDSA-Sig-Value to r||s conversion (padding, oversize, garbage),
 * judged against OpenSSL-made encodings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/x509.h>

#include "sg_err.h"
#include "sg_p11conv.h"

/* DER DigestInfo prefixes of RFC 8017 9.2, note 1. */
static const unsigned char pfx256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                       0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
static const unsigned char pfx512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                       0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};
static const unsigned char pfx_sha1[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                         0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};

static size_t
build(unsigned char *buf, const unsigned char *pfx, size_t pfx_len, size_t dlen)
{
	memcpy(buf, pfx, pfx_len);
	for (size_t i = 0; i < dlen; i++)
		buf[pfx_len + i] = (unsigned char)(i + 1);
	return pfx_len + dlen;
}

static void
test_digestinfo_ok(void **state)
{
	unsigned char buf[128], d[SG_HASH_MAX_LEN];
	size_t n, dl = 0;
	enum sg_hash h = SG_HASH_NONE;

	n = build(buf, pfx256, sizeof(pfx256), 32);
	assert_int_equal(sg_p11conv_digestinfo(buf, n, &h, d, &dl), 0);
	assert_int_equal(h, SG_HASH_SHA256);
	assert_int_equal(dl, 32);
	assert_memory_equal(d, buf + sizeof(pfx256), 32);

	n = build(buf, pfx512, sizeof(pfx512), 64);
	assert_int_equal(sg_p11conv_digestinfo(buf, n, &h, d, &dl), 0);
	assert_int_equal(h, SG_HASH_SHA512);
	assert_int_equal(dl, 64);
}

static void
test_digestinfo_absent_params(void **state)
{
	/* sha256 AlgorithmIdentifier without the NULL: allowed (RFC 8017 note 2). */
	static const unsigned char pfx[] = {0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48,
	                                    0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x04, 0x20};
	unsigned char buf[128], d[SG_HASH_MAX_LEN];
	size_t n = build(buf, pfx, sizeof(pfx), 32), dl;
	enum sg_hash h;

	assert_int_equal(sg_p11conv_digestinfo(buf, n, &h, d, &dl), 0);
	assert_int_equal(h, SG_HASH_SHA256);
}

static void
test_digestinfo_refused(void **state)
{
	unsigned char buf[128], d[SG_HASH_MAX_LEN];
	size_t n, dl;
	enum sg_hash h;

	n = build(buf, pfx_sha1, sizeof(pfx_sha1), 20);
	assert_int_equal(sg_p11conv_digestinfo(buf, n, &h, d, &dl), SG_ERR_UNKNOWN_HASH);

	/* sha256 OID with a 31-byte digest (lengths adjusted to stay DER). */
	n = build(buf, pfx256, sizeof(pfx256), 31);
	buf[1] = 0x30;
	buf[sizeof(pfx256) - 1] = 31;
	assert_int_equal(sg_p11conv_digestinfo(buf, n, &h, d, &dl), SG_ERR_DIGEST_LENGTH);

	/* Trailing byte. */
	n = build(buf, pfx256, sizeof(pfx256), 32);
	buf[n] = 0;
	assert_int_equal(sg_p11conv_digestinfo(buf, n + 1, &h, d, &dl), SG_ERR_MALFORMED);
	/* Truncated. */
	assert_int_equal(sg_p11conv_digestinfo(buf, n - 1, &h, d, &dl), SG_ERR_MALFORMED);
	/* A bare digest is not a DigestInfo. */
	assert_int_equal(sg_p11conv_digestinfo(buf + sizeof(pfx256), 32, &h, d, &dl),
	                 SG_ERR_MALFORMED);
	/* BER: the outer length in long form (0x81 0x31) re-encodes differently. */
	{
		unsigned char ber[128];
		ber[0] = 0x30;
		ber[1] = 0x81;
		memcpy(ber + 2, buf + 1, n - 1);
		assert_int_equal(sg_p11conv_digestinfo(ber, n + 1, &h, d, &dl), SG_ERR_MALFORMED);
	}
	/* Parameters other than NULL: an INTEGER 0 in place of the NULL. */
	n = build(buf, pfx256, sizeof(pfx256), 32);
	buf[15] = 0x02;
	buf[16] = 0x00;
	assert_int_equal(sg_p11conv_digestinfo(buf, n, &h, d, &dl), SG_ERR_MALFORMED);
	assert_int_equal(sg_p11conv_digestinfo(NULL, 0, &h, d, &dl), SG_ERR_MALFORMED);
}

/* DER of an ECDSA-Sig-Value with r and s given as big-endian bytes. */
static size_t
ecdsa_der(unsigned char *out, const unsigned char *r, size_t rl, const unsigned char *s, size_t sl)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *br = BN_bin2bn(r, (int)rl, NULL), *bs = BN_bin2bn(s, (int)sl, NULL);
	unsigned char *p = out;
	int n;

	assert_non_null(sig);
	assert_int_equal(ECDSA_SIG_set0(sig, br, bs), 1);
	n = i2d_ECDSA_SIG(sig, &p);
	assert_true(n > 0);
	ECDSA_SIG_free(sig);
	return (size_t)n;
}

static void
test_ecdsa_raw(void **state)
{
	unsigned char r[32], s[32], der[128], raw[96];
	size_t n;

	memset(r, 0xff, sizeof(r)); /* high bit set: DER adds a 0 byte */
	memset(s, 0, sizeof(s));
	s[31] = 0x07; /* short: must be left-padded */
	n = ecdsa_der(der, r, 32, s, 32);
	assert_int_equal(sg_p11conv_ecdsa_raw(der, n, 32, raw), 0);
	assert_memory_equal(raw, r, 32);
	assert_memory_equal(raw + 32, s, 32);

	/* The same into a P-384 field: both halves padded to 48 bytes. */
	assert_int_equal(sg_p11conv_ecdsa_raw(der, n, 48, raw), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(raw[i], 0);
	assert_memory_equal(raw + 16, r, 32);
	assert_int_equal(raw[95], 0x07);

	/* r longer than the field. */
	assert_int_equal(sg_p11conv_ecdsa_raw(der, n, 16, raw), SG_ERR_LIMIT);
	/* Trailing bytes, truncation, garbage. */
	der[n] = 0;
	assert_int_equal(sg_p11conv_ecdsa_raw(der, n + 1, 32, raw), SG_ERR_MALFORMED);
	assert_int_equal(sg_p11conv_ecdsa_raw(der, n - 1, 32, raw), SG_ERR_MALFORMED);
	memset(der, 0x41, 40);
	assert_int_equal(sg_p11conv_ecdsa_raw(der, 40, 32, raw), SG_ERR_MALFORMED);
}

static void
test_sizes(void **state)
{
	assert_int_equal(sg_p11conv_sig_len(SG_KEYALG_EC_P256), 64);
	assert_int_equal(sg_p11conv_sig_len(SG_KEYALG_EC_P384), 96);
	assert_int_equal(sg_p11conv_sig_len(SG_KEYALG_RSA_2048), 256);
	assert_int_equal(sg_p11conv_sig_len(SG_KEYALG_RSA_4096), 512);
	assert_int_equal(sg_p11conv_sig_len(SG_KEYALG_NONE), 0);
	assert_int_equal(sg_p11conv_hash_of_len(48), SG_HASH_SHA384);
	assert_int_equal(sg_p11conv_hash_of_len(20), SG_HASH_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_digestinfo_ok),
	    cmocka_unit_test(test_digestinfo_absent_params),
	    cmocka_unit_test(test_digestinfo_refused),
	    cmocka_unit_test(test_ecdsa_raw),
	    cmocka_unit_test(test_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
