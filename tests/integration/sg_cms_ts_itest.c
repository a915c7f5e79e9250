/*
 * sg_cms_ts_itest: test helper for test_cli_verify.sh, which makes CMS
 * signatures with `openssl cms -sign` and time-stamps with `openssl ts
 * -reply`; the openssl command cannot embed a time-stamp token in a CMS, so
 * this does that one step, with OpenSSL's CMS API.  Not a user tool.
 *
 *   sg_cms_ts_itest sigvalue IN.p7s OUT     writes the SignerInfo's signature value
 *   sg_cms_ts_itest attach IN.p7s TOKEN OUT adds TOKEN (a DER TimeStampToken, as
 *                                           `openssl ts -reply -token_out` writes)
 *                                           as the unsigned attribute
 *                                           id-aa-signatureTimeStampToken (RFC 3161
 *                                           appendix A)
 *
 * IN.p7s is a DER CMS SignedData with exactly one SignerInfo.  Exit status
 * 0 on success, 1 on any failure (with OpenSSL's errors on stderr), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>

static CMS_ContentInfo *
load_cms(const char *path, CMS_SignerInfo **si)
{
	CMS_ContentInfo *cms = NULL;
	BIO *in = BIO_new_file(path, "rb");

	if (in == NULL || (cms = d2i_CMS_bio(in, NULL)) == NULL ||
	    sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1) {
		fprintf(stderr, "%s: not a DER CMS SignedData with one signer\n", path);
		CMS_ContentInfo_free(cms);
		cms = NULL;
	} else {
		*si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	}
	BIO_free(in);
	return cms;
}

static int
write_all(const char *path, const unsigned char *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok = f != NULL && fwrite(p, 1, n, f) == n;

	if (f != NULL && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si = NULL;
	ASN1_OCTET_STRING *sig;
	unsigned char *tok = NULL, *der = NULL;
	long tok_len;
	int der_len, rc = 1;
	BIO *tb = NULL, *mem = NULL;

	if (argc == 4 && strcmp(argv[1], "sigvalue") == 0) {
		if ((cms = load_cms(argv[2], &si)) == NULL)
			goto out;
		sig = CMS_SignerInfo_get0_signature(si);
		rc = write_all(argv[3], sig->data, (size_t)sig->length);
	} else if (argc == 5 && strcmp(argv[1], "attach") == 0) {
		if ((cms = load_cms(argv[2], &si)) == NULL)
			goto out;
		if ((tb = BIO_new_file(argv[3], "rb")) == NULL ||
		    (mem = BIO_new(BIO_s_mem())) == NULL)
			goto out;
		{
			char buf[4096];
			int n;

			while ((n = BIO_read(tb, buf, sizeof(buf))) > 0)
				BIO_write(mem, buf, n);
		}
		tok_len = BIO_get_mem_data(mem, (char **)&tok);
		/* The attribute's value is the token's DER, a SEQUENCE (ContentInfo). */
		if (tok_len <= 0 ||
		    CMS_unsigned_add1_attr_by_NID(si, NID_id_smime_aa_timeStampToken,
		                                  V_ASN1_SEQUENCE, tok, (int)tok_len) != 1 ||
		    (der_len = i2d_CMS_ContentInfo(cms, &der)) <= 0)
			goto out;
		rc = write_all(argv[4], der, (size_t)der_len);
	} else {
		fprintf(stderr, "usage: sg_cms_ts_itest sigvalue IN.p7s OUT | attach IN.p7s TOKEN "
		                "OUT\n");
		return 2;
	}
out:
	if (rc != 0)
		ERR_print_errors_fp(stderr);
	OPENSSL_free(der);
	BIO_free(tb);
	BIO_free(mem);
	CMS_ContentInfo_free(cms);
	return rc;
}
