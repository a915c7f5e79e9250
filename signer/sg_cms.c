/* sg_cms: see sg_cms.h and docs/formats.md. */
#include "sg_cms.h"
#include "sg_formats_priv.h"
#include "sg_err.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>

/* RFC 6211 id-aa-CMSAlgorithmProtection: OpenSSL 3.0 has no NID for it. */
#define SG_OID_CMS_ALG_PROTECTION "1.2.840.113549.1.9.52"

struct sg_cms_build {
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si; /* owned by cms */
	X509 *cert;         /* own reference, for the check of the signed output */
	enum sg_keyalg alg; /* of cert's key: bounds the signature length */
};

/*
 * CMSAlgorithmProtection ::= SEQUENCE {
 *   digestAlgorithm DigestAlgorithmIdentifier,
 *   signatureAlgorithm [1] SignatureAlgorithmIdentifier OPTIONAL,
 *   macAlgorithm [2] MessageAuthenticationCodeAlgorithm OPTIONAL }
 * (RFC 6211 section 2; the tags are IMPLICIT, the module's default).
 */
typedef struct {
	X509_ALGOR *digest_alg;
	X509_ALGOR *signature_alg;
	X509_ALGOR *mac_alg;
} SG_CMS_ALG_PROTECTION;

/* clang-format off */
ASN1_SEQUENCE(SG_CMS_ALG_PROTECTION) = {
	ASN1_SIMPLE(SG_CMS_ALG_PROTECTION, digest_alg, X509_ALGOR),
	ASN1_IMP_OPT(SG_CMS_ALG_PROTECTION, signature_alg, X509_ALGOR, 1),
	ASN1_IMP_OPT(SG_CMS_ALG_PROTECTION, mac_alg, X509_ALGOR, 2),
} static_ASN1_SEQUENCE_END(SG_CMS_ALG_PROTECTION)

/*
 * The signed attributes as they are signed (RFC 5652 5.4): a SET OF with
 * the universal SET tag, its elements sorted as DER requires.  OpenSSL
 * has the same item (CMS_Attributes_Sign) but does not export it.
 * ASN1_TFLG_SET_ORDER also reorders the stack it encodes: it is only ever
 * given a stack of borrowed pointers built for the purpose.
 */
ASN1_ITEM_TEMPLATE(SG_CMS_SIGNED_ATTRS) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SET_ORDER, 0, SG_CMS_SIGNED_ATTRS, X509_ATTRIBUTE)
static_ASN1_ITEM_TEMPLATE_END(SG_CMS_SIGNED_ATTRS)

/* The users of the items (declared here also to end the macros for clang-format). */
static int sg_cms_add_alg_protection(CMS_SignerInfo *si);
static int sg_cms_tbs(CMS_SignerInfo *si, const EVP_MD *md, unsigned char *tbs, size_t *tbs_len);
/* clang-format on */

int
sg_cms_hash_by_obj(const ASN1_OBJECT *obj, enum sg_hash *hash)
{
	int h, nid;

	if (obj == NULL || hash == NULL || (nid = OBJ_obj2nid(obj)) == NID_undef)
		return SG_ERR_UNKNOWN_HASH;
	for (h = SG_HASH_SHA256; h <= SG_HASH_SHA512; h++) {
		if (EVP_MD_get_type(sg_hash_md((enum sg_hash)h)) == nid) {
			*hash = (enum sg_hash)h;
			return 0;
		}
	}
	return SG_ERR_UNKNOWN_HASH;
}

int
sg_cms_cert_keyalg(const X509 *cert, enum sg_keyalg *alg)
{
	enum sg_keyalg a;

	if (cert == NULL || alg == NULL)
		return SG_ERR_INVALID_ARG;
	/* RSA-PSS keys give SG_KEYALG_NONE: CMS here is PKCS#1 v1.5. */
	if ((a = sg_keyalg_of_pkey(X509_get0_pubkey(cert))) == SG_KEYALG_NONE) {
		ERR_clear_error();
		return SG_ERR_INVALID_ARG;
	}
	*alg = a;
	return 0;
}

/* eContent: the given octets, or none at all for a detached SignedData. */
static int
sg_cms_set_content(CMS_ContentInfo *cms, const struct sg_cms_params *p)
{
	ASN1_OCTET_STRING **pos, *os;

	if (p->content == NULL)
		return CMS_set_detached(cms, 1) == 1 ? 0 : SG_ERR_INTERNAL;
	if ((pos = CMS_get0_content(cms)) == NULL)
		return SG_ERR_INTERNAL;
	if ((os = ASN1_OCTET_STRING_new()) == NULL)
		return SG_ERR_NOMEM;
	if (ASN1_OCTET_STRING_set(os, p->content, (int)p->content_len) != 1) {
		ASN1_OCTET_STRING_free(os);
		return SG_ERR_NOMEM;
	}
	ASN1_OCTET_STRING_free(*pos);
	*pos = os;
	return 0;
}

/* The signer's certificate and its chain, each once: CMS_add1_cert() refuses duplicates. */
static int
sg_cms_add_certs(CMS_ContentInfo *cms, const struct sg_cms_identity *id)
{
	X509 *x;
	int i, j, dup;

	if (CMS_add1_cert(cms, id->cert) != 1)
		return SG_ERR_INTERNAL;
	for (i = 0; i < sk_X509_num(id->chain); i++) {
		if ((x = sk_X509_value(id->chain, i)) == NULL)
			return SG_ERR_INVALID_ARG;
		dup = X509_cmp(x, id->cert) == 0;
		for (j = 0; j < i && !dup; j++)
			dup = X509_cmp(x, sk_X509_value(id->chain, j)) == 0;
		if (!dup && CMS_add1_cert(cms, x) != 1)
			return SG_ERR_INTERNAL;
	}
	return 0;
}

/*
 * RFC 6211: the SignerInfo's own digest and signature algorithms, copied
 * from it after CMS_add1_signer() chose them, so that the two always agree.
 */
static int
sg_cms_add_alg_protection(CMS_SignerInfo *si)
{
	SG_CMS_ALG_PROTECTION *ap = NULL;
	X509_ALGOR *dig = NULL, *sig = NULL;
	ASN1_OBJECT *oid = NULL;
	unsigned char *der = NULL;
	int len, r = SG_ERR_INTERNAL;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
	if (dig == NULL || sig == NULL)
		goto out;
	ap = (SG_CMS_ALG_PROTECTION *)ASN1_item_new(ASN1_ITEM_rptr(SG_CMS_ALG_PROTECTION));
	if (ap == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if (X509_ALGOR_copy(ap->digest_alg, dig) != 1 ||
	    (ap->signature_alg = X509_ALGOR_dup(sig)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	len = ASN1_item_i2d((ASN1_VALUE *)ap, &der, ASN1_ITEM_rptr(SG_CMS_ALG_PROTECTION));
	if (len <= 0 || (oid = OBJ_txt2obj(SG_OID_CMS_ALG_PROTECTION, 1)) == NULL)
		goto out;
	if (CMS_signed_add1_attr_by_OBJ(si, oid, V_ASN1_SEQUENCE, der, len) != 1)
		goto out;
	r = 0;
out:
	ASN1_OBJECT_free(oid);
	OPENSSL_free(der);
	ASN1_item_free((ASN1_VALUE *)ap, ASN1_ITEM_rptr(SG_CMS_ALG_PROTECTION));
	return r;
}

static int
sg_cms_add_signed_attrs(struct sg_cms_build *b, const EVP_MD *md, const ASN1_OBJECT *ctype,
                        const struct sg_cms_params *p, const unsigned char *mdv, size_t mdv_len)
{
	ESS_SIGNING_CERT_V2 *sc = NULL;
	ASN1_TIME *tt = NULL;
	unsigned char *der = NULL;
	int len, r = SG_ERR_INTERNAL;

	if (CMS_signed_add1_attr_by_NID(b->si, NID_pkcs9_contentType, V_ASN1_OBJECT, ctype, -1) !=
	    1)
		goto out;
	if (p->signing_time != NULL) {
		/* UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5652 11.3), as
		 * ASN1_TIME_set() does. */
		if ((tt = ASN1_TIME_set(NULL, *p->signing_time)) == NULL) {
			r = SG_ERR_INVALID_ARG;
			goto out;
		}
		if (CMS_signed_add1_attr_by_NID(b->si, NID_pkcs9_signingTime, ASN1_STRING_type(tt),
		                                tt, -1) != 1)
			goto out;
	}
	if (CMS_signed_add1_attr_by_NID(b->si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, mdv,
	                                (int)mdv_len) != 1)
		goto out;
	if (p->signing_cert_v2) {
		/* ESSCertIDv2 with issuerSerial, hashed with the signature's hash. */
		if ((sc = OSSL_ESS_signing_cert_v2_new_init(md, b->cert, NULL, 1)) == NULL)
			goto out;
		if ((len = i2d_ESS_SIGNING_CERT_V2(sc, &der)) <= 0)
			goto out;
		if (CMS_signed_add1_attr_by_NID(b->si, NID_id_smime_aa_signingCertificateV2,
		                                V_ASN1_SEQUENCE, der, len) != 1)
			goto out;
	}
	r = sg_cms_add_alg_protection(b->si);
out:
	OPENSSL_free(der);
	ESS_SIGNING_CERT_V2_free(sc);
	ASN1_TIME_free(tt);
	return r;
}

/*
 * The SignedData version (3 when eContentType is not id-data, RFC 5652
 * 5.1) is only fixed up by OpenSSL in CMS_dataInit() of a partial
 * SignedData; CMS_final() would also sign, which needs the private key.
 * CMS_dataInit() is called for that fix-up alone: its BIO chain (digests of
 * the content that nobody reads) is dropped at once.
 */
static int
sg_cms_fix_version(CMS_ContentInfo *cms)
{
	BIO *bio;

	if ((bio = CMS_dataInit(cms, NULL)) == NULL)
		return SG_ERR_INTERNAL;
	BIO_free_all(bio);
	return 0;
}

/* tbs = hash of the DER SET OF signed attributes, sorted exactly as in the encoded SignerInfo. */
static int
sg_cms_tbs(CMS_SignerInfo *si, const EVP_MD *md, unsigned char *tbs, size_t *tbs_len)
{
	STACK_OF(X509_ATTRIBUTE) * attrs;
	unsigned char *der = NULL;
	int i, len = 0, r = SG_ERR_INTERNAL;

	if ((attrs = sk_X509_ATTRIBUTE_new_null()) == NULL)
		return SG_ERR_NOMEM;
	for (i = 0; i < CMS_signed_get_attr_count(si); i++) {
		if (sk_X509_ATTRIBUTE_push(attrs, CMS_signed_get_attr(si, i)) <= 0) {
			r = SG_ERR_NOMEM;
			goto out;
		}
	}
	r = sg_fmt_tbs_digest((ASN1_VALUE *)attrs, ASN1_ITEM_rptr(SG_CMS_SIGNED_ATTRS), md, &der,
	                      &len, tbs, tbs_len);
out:
	OPENSSL_free(der);
	sk_X509_ATTRIBUTE_free(attrs); /* the attributes stay the SignerInfo's */
	return r;
}

int
sg_cms_begin(const struct sg_cms_identity *id, enum sg_hash hash, const struct sg_cms_params *p,
             struct sg_cms_build **out, unsigned char tbs[SG_HASH_MAX_LEN], size_t *tbs_len)
{
	struct sg_cms_build *b = NULL;
	unsigned char cdig[EVP_MAX_MD_SIZE];
	const unsigned char *mdv;
	const ASN1_OBJECT *ctype;
	const EVP_MD *md;
	unsigned int n = 0;
	size_t mdv_len;
	int r = SG_ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (tbs_len != NULL)
		*tbs_len = 0;
	if (id == NULL || id->cert == NULL || p == NULL || out == NULL || tbs == NULL ||
	    tbs_len == NULL || (md = sg_hash_md(hash)) == NULL)
		return SG_ERR_INVALID_ARG;
	if (p->content != NULL ? (p->digest != NULL || p->content_len > SG_CMS_MAX_DER)
	                       : (p->digest == NULL || p->digest_len != sg_hash_len(hash)))
		return SG_ERR_INVALID_ARG;
	if (p->content_type == NID_undef || (ctype = OBJ_nid2obj(p->content_type)) == NULL ||
	    OBJ_length(ctype) == 0) {
		ERR_clear_error();
		return SG_ERR_INVALID_ARG;
	}

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return SG_ERR_NOMEM;
	if ((r = sg_cms_cert_keyalg(id->cert, &b->alg)) != 0)
		goto out;
	r = SG_ERR_INTERNAL;
	if (X509_up_ref(id->cert) != 1)
		goto out;
	b->cert = id->cert;
	if ((b->cms = CMS_ContentInfo_new()) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if (CMS_SignedData_init(b->cms) != 1 || CMS_set1_eContentType(b->cms, ctype) != 1)
		goto out;
	if ((r = sg_cms_set_content(b->cms, p)) != 0)
		goto out;
	/*
	 * The public key stands in for the private one: CMS_add1_signer()
	 * only compares it with the certificate and picks the signature
	 * algorithm from its type.  CMS_PARTIAL: nothing is signed here.
	 */
	b->si = CMS_add1_signer(b->cms, b->cert, X509_get0_pubkey(b->cert), md,
	                        CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP | CMS_NOCERTS);
	if (b->si == NULL) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	if (!p->no_certs && (r = sg_cms_add_certs(b->cms, id)) != 0)
		goto out;
	if (p->content != NULL) {
		r = SG_ERR_INTERNAL;
		if (EVP_Digest(p->content, p->content_len, cdig, &n, md, NULL) != 1)
			goto out;
		mdv = cdig;
		mdv_len = n;
	} else {
		mdv = p->digest;
		mdv_len = p->digest_len;
	}
	if ((r = sg_cms_add_signed_attrs(b, md, ctype, p, mdv, mdv_len)) != 0)
		goto out;
	if ((r = sg_cms_fix_version(b->cms)) != 0)
		goto out;
	if ((r = sg_cms_tbs(b->si, md, tbs, tbs_len)) != 0)
		goto out;
	*out = b;
	b = NULL;
	r = 0;
out:
	if (r != 0)
		ERR_clear_error();
	sg_cms_build_free(b);
	return r;
}

int
sg_cms_begin_detached(const struct sg_cms_identity *id, enum sg_hash hash,
                      const unsigned char *digest, size_t digest_len, time_t at,
                      struct sg_cms_build **out, unsigned char tbs[SG_HASH_MAX_LEN],
                      size_t *tbs_len)
{
	struct sg_cms_params p = {
	    .content_type = NID_pkcs7_data,
	    .digest = digest,
	    .digest_len = digest_len,
	    .signing_time = &at,
	};

	if (digest == NULL) {
		if (out != NULL)
			*out = NULL;
		if (tbs_len != NULL)
			*tbs_len = 0;
		return SG_ERR_INVALID_ARG;
	}
	return sg_cms_begin(id, hash, &p, out, tbs, tbs_len);
}

/*
 * Decodes der[0..len) and verifies its one SignerInfo's signature over the
 * decoded signed attributes with cert's public key: the check covers the
 * very bytes that are handed out, as any verifier will read them.
 */
static int
sg_cms_self_verify(const unsigned char *der, size_t len, X509 *cert)
{
	STACK_OF(CMS_SignerInfo) * sis;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	const unsigned char *p = der;
	int r = SG_ERR_INTERNAL;

	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL || p != der + len)
		goto out;
	if ((sis = CMS_get0_SignerInfos(cms)) == NULL || sk_CMS_SignerInfo_num(sis) != 1)
		goto out;
	si = sk_CMS_SignerInfo_value(sis, 0);
	if (CMS_SignerInfo_cert_cmp(si, cert) != 0)
		goto out;
	CMS_SignerInfo_set1_signer_cert(si, cert);
	r = CMS_SignerInfo_verify(si) == 1 ? 0 : SG_ERR_SELF_VERIFY;
out:
	CMS_ContentInfo_free(cms);
	return r;
}

int
sg_cms_finish(struct sg_cms_build *b, const unsigned char *sig, size_t sig_len, unsigned char **der,
              size_t *der_len)
{
	ASN1_OCTET_STRING *os;
	unsigned char *buf = NULL;
	size_t len = 0;
	int r = SG_ERR_INTERNAL;

	if (der != NULL)
		*der = NULL;
	if (der_len != NULL)
		*der_len = 0;
	if (b == NULL || sig == NULL || der == NULL || der_len == NULL || sig_len == 0 ||
	    sig_len > sg_keyalg_sig_max(b->alg))
		return SG_ERR_INVALID_ARG;
	if ((os = CMS_SignerInfo_get0_signature(b->si)) == NULL)
		goto out;
	if (ASN1_OCTET_STRING_set(os, sig, (int)sig_len) != 1) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if ((r = SG_FMT_DER(CMS_ContentInfo, b->cms, &buf, &len)) != 0)
		goto out;
	if ((r = sg_cms_self_verify(buf, len, b->cert)) != 0)
		goto out;
	*der = buf;
	*der_len = len;
	buf = NULL;
	r = 0;
out:
	if (r != 0)
		ERR_clear_error();
	free(buf);
	return r;
}

int
sg_cms_build_content(const struct sg_cms_build *b, int *content_type, const unsigned char **content,
                     size_t *content_len)
{
	ASN1_OCTET_STRING **pos;

	if (b == NULL || content_type == NULL || content == NULL || content_len == NULL)
		return SG_ERR_INVALID_ARG;
	*content_type = OBJ_obj2nid(CMS_get0_eContentType(b->cms));
	pos = CMS_get0_content(b->cms);
	*content = pos != NULL && *pos != NULL ? ASN1_STRING_get0_data(*pos) : NULL;
	*content_len = pos != NULL && *pos != NULL ? (size_t)ASN1_STRING_length(*pos) : 0;
	return 0;
}

void
sg_cms_build_free(struct sg_cms_build *b)
{
	if (b == NULL)
		return;
	CMS_ContentInfo_free(b->cms);
	X509_free(b->cert);
	free(b);
}

/* Exactly one DER ContentInfo of type SignedData with exactly one SignerInfo. */
static int
sg_cms_parse(const unsigned char *der, size_t len, CMS_ContentInfo **cms, CMS_SignerInfo **si)
{
	STACK_OF(CMS_SignerInfo) * sis;
	CMS_ContentInfo *c = NULL;
	const unsigned char *p = der;

	*cms = NULL;
	if (len > SG_CMS_MAX_DER)
		return SG_ERR_TOO_LARGE;
	if (len == 0 || (c = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL || p != der + len)
		goto malformed;
	if (OBJ_obj2nid(CMS_get0_type(c)) != NID_pkcs7_signed)
		goto malformed;
	if ((sis = CMS_get0_SignerInfos(c)) == NULL || sk_CMS_SignerInfo_num(sis) != 1)
		goto malformed;
	*si = sk_CMS_SignerInfo_value(sis, 0);
	*cms = c;
	return 0;
malformed:
	CMS_ContentInfo_free(c);
	ERR_clear_error();
	return SG_ERR_MALFORMED;
}

int
sg_cms_signature_value(const unsigned char *cms, size_t len, unsigned char **sig, size_t *sig_len)
{
	CMS_ContentInfo *c = NULL;
	CMS_SignerInfo *si;
	ASN1_OCTET_STRING *os;
	unsigned char *buf;
	int r;

	if (sig != NULL)
		*sig = NULL;
	if (sig_len != NULL)
		*sig_len = 0;
	if (cms == NULL || sig == NULL || sig_len == NULL)
		return SG_ERR_INVALID_ARG;
	if ((r = sg_cms_parse(cms, len, &c, &si)) != 0)
		return r;
	os = CMS_SignerInfo_get0_signature(si);
	if (os == NULL || ASN1_STRING_length(os) <= 0) {
		r = SG_ERR_MALFORMED;
		goto out;
	}
	if ((buf = malloc((size_t)ASN1_STRING_length(os))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	memcpy(buf, ASN1_STRING_get0_data(os), (size_t)ASN1_STRING_length(os));
	*sig = buf;
	*sig_len = (size_t)ASN1_STRING_length(os);
	r = 0;
out:
	CMS_ContentInfo_free(c);
	return r;
}

/* The DER token of a granted TimeStampResp whose imprint is the hash of sigv. */
static int
sg_cms_tsr_token(const unsigned char *tsr, size_t tsr_len, const ASN1_OCTET_STRING *sigv,
                 unsigned char **tok, int *tok_len)
{
	TS_RESP *resp = NULL;
	TS_TST_INFO *tst;
	TS_MSG_IMPRINT *imp;
	const ASN1_OBJECT *obj;
	const ASN1_OCTET_STRING *msg;
	const unsigned char *p = tsr;
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hlen = 0;
	enum sg_hash hash;
	long status;
	int r = SG_ERR_MALFORMED;

	*tok = NULL;
	if (tsr_len > SG_CMS_MAX_DER)
		return SG_ERR_TOO_LARGE;
	if (tsr_len == 0 || (resp = d2i_TS_RESP(NULL, &p, (long)tsr_len)) == NULL ||
	    p != tsr + tsr_len)
		goto out;
	status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp)));
	if (status != TS_STATUS_GRANTED && status != TS_STATUS_GRANTED_WITH_MODS) {
		r = SG_ERR_INVALID_ARG;
		goto out;
	}
	if (TS_RESP_get_token(resp) == NULL || (tst = TS_RESP_get_tst_info(resp)) == NULL)
		goto out;
	imp = TS_TST_INFO_get_msg_imprint(tst);
	X509_ALGOR_get0(&obj, NULL, NULL, TS_MSG_IMPRINT_get_algo(imp));
	if ((r = sg_cms_hash_by_obj(obj, &hash)) != 0)
		goto out;
	r = SG_ERR_INTERNAL;
	if (EVP_Digest(ASN1_STRING_get0_data(sigv), (size_t)ASN1_STRING_length(sigv), h, &hlen,
	               sg_hash_md(hash), NULL) != 1)
		goto out;
	msg = TS_MSG_IMPRINT_get_msg(imp);
	if (msg == NULL || (unsigned int)ASN1_STRING_length(msg) != hlen ||
	    memcmp(ASN1_STRING_get0_data(msg), h, hlen) != 0) {
		r = SG_ERR_INVALID_ARG;
		goto out;
	}
	if ((*tok_len = i2d_PKCS7(TS_RESP_get_token(resp), tok)) <= 0)
		goto out;
	/* The token goes in as the TSA encoded it, or not at all. */
	if (memmem(tsr, tsr_len, *tok, (size_t)*tok_len) == NULL) {
		r = SG_ERR_MALFORMED;
		goto out;
	}
	r = 0;
out:
	if (r != 0) {
		OPENSSL_free(*tok);
		*tok = NULL;
	}
	TS_RESP_free(resp);
	return r;
}

int
sg_cms_add_timestamp(const unsigned char *cms, size_t len, const unsigned char *tsr, size_t tsr_len,
                     unsigned char **out, size_t *out_len)
{
	CMS_ContentInfo *c = NULL;
	CMS_SignerInfo *si;
	ASN1_OCTET_STRING *sigv;
	unsigned char *tok = NULL;
	int tok_len = 0, r;

	if (out != NULL)
		*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	if (cms == NULL || tsr == NULL || out == NULL || out_len == NULL)
		return SG_ERR_INVALID_ARG;
	if ((r = sg_cms_parse(cms, len, &c, &si)) != 0)
		goto out;
	if ((sigv = CMS_SignerInfo_get0_signature(si)) == NULL || ASN1_STRING_length(sigv) <= 0) {
		r = SG_ERR_MALFORMED;
		goto out;
	}
	if (CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, -1) >= 0) {
		r = SG_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = sg_cms_tsr_token(tsr, tsr_len, sigv, &tok, &tok_len)) != 0)
		goto out;
	r = SG_ERR_INTERNAL;
	if (CMS_unsigned_add1_attr_by_NID(si, NID_id_smime_aa_timeStampToken, V_ASN1_SEQUENCE, tok,
	                                  tok_len) != 1)
		goto out;
	r = SG_FMT_DER(CMS_ContentInfo, c, out, out_len);
out:
	if (r != 0)
		ERR_clear_error();
	OPENSSL_free(tok);
	CMS_ContentInfo_free(c);
	return r;
}
