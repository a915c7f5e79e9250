/* sg_alg: see sg_alg.h. */
#include "sg_alg.h"
#include "sg_err.h"

#include <string.h>

#include <openssl/ec.h>
#include <openssl/objects.h>

static const char *const sg_hash_names[] = {NULL, "sha256", "sha384", "sha512"};
static const size_t sg_hash_lens[] = {0, 32, 48, 64};
static const char *const sg_keyalg_names[] = {NULL,       "ec-p256",  "ec-p384",
                                              "rsa-2048", "rsa-3072", "rsa-4096"};
static const char *const sg_pad_names[] = {"none", "pkcs1", "pss"};

int
sg_hash_parse(const char *name, enum sg_hash *out)
{
	int i;

	for (i = SG_HASH_SHA256; i <= SG_HASH_SHA512; i++) {
		if (strcmp(name, sg_hash_names[i]) == 0) {
			*out = (enum sg_hash)i;
			return 0;
		}
	}
	return SG_ERR_UNKNOWN_HASH;
}

const char *
sg_hash_name(enum sg_hash h)
{
	return (h >= SG_HASH_SHA256 && h <= SG_HASH_SHA512) ? sg_hash_names[h] : NULL;
}

size_t
sg_hash_len(enum sg_hash h)
{
	return (h >= SG_HASH_SHA256 && h <= SG_HASH_SHA512) ? sg_hash_lens[h] : 0;
}

const EVP_MD *
sg_hash_md(enum sg_hash h)
{
	switch (h) {
	case SG_HASH_SHA256:
		return EVP_sha256();
	case SG_HASH_SHA384:
		return EVP_sha384();
	case SG_HASH_SHA512:
		return EVP_sha512();
	case SG_HASH_NONE:
	default:
		return NULL;
	}
}

int
sg_keyalg_parse(const char *name, enum sg_keyalg *out)
{
	int i;

	for (i = SG_KEYALG_EC_P256; i <= SG_KEYALG_RSA_4096; i++) {
		if (strcmp(name, sg_keyalg_names[i]) == 0) {
			*out = (enum sg_keyalg)i;
			return 0;
		}
	}
	return SG_ERR_INVALID_ARG;
}

const char *
sg_keyalg_name(enum sg_keyalg a)
{
	return (a >= SG_KEYALG_EC_P256 && a <= SG_KEYALG_RSA_4096) ? sg_keyalg_names[a] : NULL;
}

int
sg_keyalg_is_rsa(enum sg_keyalg a)
{
	return a == SG_KEYALG_RSA_2048 || a == SG_KEYALG_RSA_3072 || a == SG_KEYALG_RSA_4096;
}

size_t
sg_keyalg_sig_max(enum sg_keyalg a)
{
	switch (a) {
	case SG_KEYALG_EC_P256:
		return 72;
	case SG_KEYALG_EC_P384:
		return 104;
	case SG_KEYALG_RSA_2048:
		return 256;
	case SG_KEYALG_RSA_3072:
		return 384;
	case SG_KEYALG_RSA_4096:
		return 512;
	case SG_KEYALG_NONE:
	default:
		return 0;
	}
}

int
sg_pad_parse(const char *name, enum sg_pad *out)
{
	int i;

	for (i = SG_PAD_NONE; i <= SG_PAD_PSS; i++) {
		if (strcmp(name, sg_pad_names[i]) == 0) {
			*out = (enum sg_pad)i;
			return 0;
		}
	}
	return SG_ERR_BAD_PADDING;
}

const char *
sg_pad_name(enum sg_pad p)
{
	return (p >= SG_PAD_NONE && p <= SG_PAD_PSS) ? sg_pad_names[p] : "unknown";
}

enum sg_keyalg
sg_keyalg_of_pkey(const EVP_PKEY *pk)
{
	char group[64];
	size_t glen = 0;
	int nid;

	if (pk == NULL)
		return SG_KEYALG_NONE;
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen))
			return SG_KEYALG_NONE;
		if ((nid = OBJ_sn2nid(group)) == NID_undef)
			nid = EC_curve_nist2nid(group);
		return nid == NID_X9_62_prime256v1 ? SG_KEYALG_EC_P256
		       : nid == NID_secp384r1      ? SG_KEYALG_EC_P384
		                                   : SG_KEYALG_NONE;
	case EVP_PKEY_RSA:
		switch (EVP_PKEY_get_bits(pk)) {
		case 2048:
			return SG_KEYALG_RSA_2048;
		case 3072:
			return SG_KEYALG_RSA_3072;
		case 4096:
			return SG_KEYALG_RSA_4096;
		default:
			return SG_KEYALG_NONE;
		}
	default:
		return SG_KEYALG_NONE;
	}
}
