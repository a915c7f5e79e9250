/* sg_formats_priv: see sg_formats_priv.h. */
#include "sg_formats_priv.h"
#include "sg_alg.h"
#include "sg_err.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>

int
sg_fmt_der(i2d_of_void *i2d, const void *v, unsigned char **der, size_t *der_len)
{
	unsigned char *buf, *p;
	int len;

	if ((len = i2d(v, NULL)) <= 0)
		return SG_ERR_INTERNAL;
	if ((buf = malloc((size_t)len)) == NULL)
		return SG_ERR_NOMEM;
	p = buf;
	if (i2d(v, &p) != len) {
		free(buf);
		return SG_ERR_INTERNAL;
	}
	*der = buf;
	*der_len = (size_t)len;
	return 0;
}

int
sg_fmt_item_der(const ASN1_VALUE *v, const ASN1_ITEM *it, unsigned char **der, size_t *der_len)
{
	unsigned char *buf, *p;
	int len;

	if ((len = ASN1_item_i2d(v, NULL, it)) <= 0)
		return SG_ERR_INTERNAL;
	if ((buf = malloc((size_t)len)) == NULL)
		return SG_ERR_NOMEM;
	p = buf;
	if (ASN1_item_i2d(v, &p, it) != len) {
		free(buf);
		return SG_ERR_INTERNAL;
	}
	*der = buf;
	*der_len = (size_t)len;
	return 0;
}

int
sg_fmt_tbs_digest(const ASN1_VALUE *val, const ASN1_ITEM *it, const EVP_MD *md, unsigned char **tbs,
                  int *tbs_len, unsigned char *dig, size_t *dig_len)
{
	unsigned int n = 0;

	if ((*tbs_len = ASN1_item_i2d(val, tbs, it)) <= 0)
		return SG_ERR_INTERNAL;
	if (md == NULL || EVP_Digest(*tbs, (size_t)*tbs_len, dig, &n, md, NULL) != 1 ||
	    n > SG_HASH_MAX_LEN)
		return SG_ERR_INTERNAL;
	*dig_len = n;
	return 0;
}

int
sg_fmt_signed_set(ASN1_TYPE *tbs_out, X509_ALGOR *alg_out, ASN1_BIT_STRING *sig_out,
                  const unsigned char *tbs, int tbs_len, const X509_ALGOR *alg,
                  const unsigned char *sig, size_t sig_len)
{
	ASN1_STRING *seq;

	if ((seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE)) == NULL ||
	    ASN1_STRING_set(seq, tbs, tbs_len) != 1) {
		ASN1_STRING_free(seq);
		return SG_ERR_NOMEM;
	}
	ASN1_TYPE_set(tbs_out, V_ASN1_SEQUENCE, seq);
	if (X509_ALGOR_copy(alg_out, alg) != 1 || ASN1_STRING_set(sig_out, sig, (int)sig_len) != 1)
		return SG_ERR_NOMEM;
	/*
	 * A signature is a whole number of octets: say so, or the encoder
	 * would count the trailing zero bits of the last octet as unused.
	 */
	sig_out->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	sig_out->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	return 0;
}

ASN1_OBJECT *
sg_fmt_oid(const char *s)
{
	ASN1_OBJECT *obj;
	char canon[256];
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > 200)
		return NULL;
	for (i = 0; s[i] != '\0'; i++) {
		if ((s[i] < '0' || s[i] > '9') && s[i] != '.')
			return NULL;
	}
	if ((obj = OBJ_txt2obj(s, 1)) == NULL)
		return NULL;
	if (OBJ_obj2txt(canon, sizeof(canon), obj, 1) <= 0 || strcmp(canon, s) != 0) {
		ASN1_OBJECT_free(obj);
		return NULL;
	}
	return obj;
}
