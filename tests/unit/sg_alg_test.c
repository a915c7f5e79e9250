/* Unit tests of sg_alg: the key algorithm of a public key, and the keys it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "sg_alg.h"

/* A key made by OpenSSL from the algorithm name and one parameter. */
static EVP_PKEY *
gen(const char *type, const char *curve, size_t bits)
{
	EVP_PKEY *pk;

	if (curve != NULL)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, type, curve);
	else if (bits > 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, type, bits);
	else
		pk = EVP_PKEY_Q_keygen(NULL, NULL, type);
	assert_non_null(pk);
	return pk;
}

static void
test_of_pkey(void **state)
{
	static const struct {
		const char *type, *curve;
		size_t bits;
		enum sg_keyalg want;
	} cases[] = {
	    /* clang-format off */
	    {"EC", "P-256", 0, SG_KEYALG_EC_P256},
	    {"EC", "prime256v1", 0, SG_KEYALG_EC_P256},
	    {"EC", "P-384", 0, SG_KEYALG_EC_P384},
	    {"EC", "P-521", 0, SG_KEYALG_NONE},
	    {"EC", "secp256k1", 0, SG_KEYALG_NONE},
	    {"RSA", NULL, 2048, SG_KEYALG_RSA_2048},
	    {"RSA", NULL, 1024, SG_KEYALG_NONE},
	    {"ED25519", NULL, 0, SG_KEYALG_NONE},
	    /* clang-format on */
	};
	EVP_PKEY *pk;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pk = gen(cases[i].type, cases[i].curve, cases[i].bits);
		assert_int_equal(sg_keyalg_of_pkey(pk), cases[i].want);
		EVP_PKEY_free(pk);
	}
	/* RSA-PSS keys: the appliance signs PKCS#1 v1.5 only (no Q_keygen shortcut for them). */
	{
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);

		pk = NULL;
		assert_non_null(ctx);
		assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048), 1);
		assert_int_equal(EVP_PKEY_keygen(ctx, &pk), 1);
		assert_int_equal(EVP_PKEY_get_bits(pk), 2048);
		assert_int_equal(sg_keyalg_of_pkey(pk), SG_KEYALG_NONE);
		EVP_PKEY_free(pk);
		EVP_PKEY_CTX_free(ctx);
	}
	assert_int_equal(sg_keyalg_of_pkey(NULL), SG_KEYALG_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_of_pkey),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
