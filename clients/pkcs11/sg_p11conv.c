/* sg_p11conv: see sg_p11conv.h. */
#include "sg_p11conv.h"

#include "sg_err.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

int
sg_p11conv_digestinfo(const unsigned char *der, size_t len, enum sg_hash *hash,
                      unsigned char *digest, size_t *digest_len)
{
	const unsigned char *p = der;
	X509_SIG *sig = NULL;
	const X509_ALGOR *alg = NULL;
	const ASN1_OCTET_STRING *dig = NULL;
	const ASN1_OBJECT *oid = NULL;
	const void *pval = NULL;
	unsigned char *re = NULL;
	int ptype = 0, relen, r = SG_ERR_MALFORMED;
	enum sg_hash h;

	if (der == NULL || len == 0 || len > 256)
		goto out;
	sig = d2i_X509_SIG(NULL, &p, (long)len);
	if (sig == NULL || p != der + len)
		goto out;
	/* Only the strict DER encoding: what the appliance is told must be
	 * exactly what the caller asked to be signed. */
	relen = i2d_X509_SIG(sig, &re);
	if (relen < 0 || (size_t)relen != len || memcmp(re, der, len) != 0)
		goto out;
	X509_SIG_get0(sig, &alg, &dig);
	X509_ALGOR_get0(&oid, &ptype, &pval, alg);
	if (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL)
		goto out;
	switch (OBJ_obj2nid(oid)) {
	case NID_sha256:
		h = SG_HASH_SHA256;
		break;
	case NID_sha384:
		h = SG_HASH_SHA384;
		break;
	case NID_sha512:
		h = SG_HASH_SHA512;
		break;
	default:
		r = SG_ERR_UNKNOWN_HASH;
		goto out;
	}
	if ((size_t)ASN1_STRING_length(dig) != sg_hash_len(h)) {
		r = SG_ERR_DIGEST_LENGTH;
		goto out;
	}
	memcpy(digest, ASN1_STRING_get0_data(dig), sg_hash_len(h));
	*digest_len = sg_hash_len(h);
	*hash = h;
	r = 0;
out:
	OPENSSL_free(re);
	X509_SIG_free(sig);
	return r;
}

int
sg_p11conv_ecdsa_raw(const unsigned char *der, size_t len, size_t field_len, unsigned char *out)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *br = NULL, *bs = NULL;
	unsigned char *re = NULL;
	int relen, r = SG_ERR_MALFORMED;

	if (der == NULL || len == 0 || field_len == 0 || field_len > 66)
		goto out;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	if (sig == NULL || p != der + len)
		goto out;
	relen = i2d_ECDSA_SIG(sig, &re);
	if (relen < 0 || (size_t)relen != len || memcmp(re, der, len) != 0)
		goto out;
	ECDSA_SIG_get0(sig, &br, &bs);
	if (BN_is_negative(br) || BN_is_negative(bs) || BN_is_zero(br) || BN_is_zero(bs))
		goto out;
	if ((size_t)BN_num_bytes(br) > field_len || (size_t)BN_num_bytes(bs) > field_len) {
		r = SG_ERR_LIMIT;
		goto out;
	}
	if (BN_bn2binpad(br, out, (int)field_len) < 0 ||
	    BN_bn2binpad(bs, out + field_len, (int)field_len) < 0) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	r = 0;
out:
	OPENSSL_free(re);
	ECDSA_SIG_free(sig);
	return r;
}

size_t
sg_p11conv_ec_field_len(enum sg_keyalg a)
{
	switch (a) {
	case SG_KEYALG_EC_P256:
		return 32;
	case SG_KEYALG_EC_P384:
		return 48;
	default:
		return 0;
	}
}

size_t
sg_p11conv_sig_len(enum sg_keyalg a)
{
	switch (a) {
	case SG_KEYALG_EC_P256:
	case SG_KEYALG_EC_P384:
		return 2 * sg_p11conv_ec_field_len(a);
	case SG_KEYALG_RSA_2048:
		return 256;
	case SG_KEYALG_RSA_3072:
		return 384;
	case SG_KEYALG_RSA_4096:
		return 512;
	default:
		return 0;
	}
}

enum sg_hash
sg_p11conv_hash_of_len(size_t len)
{
	switch (len) {
	case 32:
		return SG_HASH_SHA256;
	case 48:
		return SG_HASH_SHA384;
	case 64:
		return SG_HASH_SHA512;
	default:
		return SG_HASH_NONE;
	}
}
