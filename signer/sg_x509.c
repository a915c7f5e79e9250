/* sg_x509: see sg_x509.h and docs/formats.md. */
#include "sg_x509.h"
#include "sg_formats_priv.h"
#include "sg_cms.h"
#include "sg_err.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

enum sg_x509_kind { SG_X509_CERT = 1, SG_X509_CRL = 2 };

struct sg_x509_build {
	enum sg_x509_kind kind;
	unsigned char *tbs; /* DER TBSCertificate / TBSCertList, OPENSSL_malloc'd */
	int tbs_len;
	X509_ALGOR *alg;       /* signatureAlgorithm, the same as inside tbs */
	EVP_PKEY *key;         /* the issuer's public key, own reference */
	enum sg_keyalg keyalg; /* of key: bounds the signature length */
};

/*
 * TBSCertificate (RFC 5280 4.1) without the unique identifiers, which are
 * never written.  OpenSSL's X509_CINF has the same shape but is opaque, and
 * OpenSSL 3.0 has no setter for its signature field outside X509_sign()
 * (which needs the private key): the structure is built here with the
 * exported item types of its fields and decoded by d2i_X509() once signed.
 */
typedef struct {
	ASN1_INTEGER *version; /* [0] EXPLICIT: 2 (v3) */
	ASN1_INTEGER *serial;
	X509_ALGOR *sig_alg;
	X509_NAME *issuer;
	X509_VAL *validity;
	X509_NAME *subject;
	X509_PUBKEY *spki;
	STACK_OF(X509_EXTENSION) * exts; /* [3] EXPLICIT */
} SG_TBS_CERT;

/*
 * TBSCertList (RFC 5280 5.1).  OpenSSL 3.0 has no accessor at all for the
 * signature field of a CRL's TBS part.
 */
typedef struct {
	ASN1_INTEGER *version; /* 1 (v2) */
	X509_ALGOR *sig_alg;
	X509_NAME *issuer;
	ASN1_TIME *this_update;
	ASN1_TIME *next_update;
	STACK_OF(X509_REVOKED) * revoked; /* absent when empty */
	STACK_OF(X509_EXTENSION) * exts;  /* [0] EXPLICIT */
} SG_TBS_CRL;

/*
 * Certificate and CertificateList share this shape: the TBS part as the
 * very bytes that were hashed (an ANY holding the whole DER SEQUENCE is
 * written out unchanged), the algorithm and the signature.
 */
typedef struct {
	ASN1_TYPE *tbs;
	X509_ALGOR *alg;
	ASN1_BIT_STRING *sig;
} SG_X509_SIGNED;

/* clang-format off */
ASN1_SEQUENCE(SG_TBS_CERT) = {
	ASN1_EXP_OPT(SG_TBS_CERT, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(SG_TBS_CERT, serial, ASN1_INTEGER),
	ASN1_SIMPLE(SG_TBS_CERT, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(SG_TBS_CERT, issuer, X509_NAME),
	ASN1_SIMPLE(SG_TBS_CERT, validity, X509_VAL),
	ASN1_SIMPLE(SG_TBS_CERT, subject, X509_NAME),
	ASN1_SIMPLE(SG_TBS_CERT, spki, X509_PUBKEY),
	ASN1_EXP_SEQUENCE_OF_OPT(SG_TBS_CERT, exts, X509_EXTENSION, 3),
} static_ASN1_SEQUENCE_END(SG_TBS_CERT)

ASN1_SEQUENCE(SG_TBS_CRL) = {
	ASN1_OPT(SG_TBS_CRL, version, ASN1_INTEGER),
	ASN1_SIMPLE(SG_TBS_CRL, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(SG_TBS_CRL, issuer, X509_NAME),
	ASN1_SIMPLE(SG_TBS_CRL, this_update, ASN1_TIME),
	ASN1_OPT(SG_TBS_CRL, next_update, ASN1_TIME),
	ASN1_SEQUENCE_OF_OPT(SG_TBS_CRL, revoked, X509_REVOKED),
	ASN1_EXP_SEQUENCE_OF_OPT(SG_TBS_CRL, exts, X509_EXTENSION, 0),
} static_ASN1_SEQUENCE_END(SG_TBS_CRL)

ASN1_SEQUENCE(SG_X509_SIGNED) = {
	ASN1_SIMPLE(SG_X509_SIGNED, tbs, ASN1_ANY),
	ASN1_SIMPLE(SG_X509_SIGNED, alg, X509_ALGOR),
	ASN1_SIMPLE(SG_X509_SIGNED, sig, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(SG_X509_SIGNED)

/* The users of the items (declared here also to end the macros for clang-format). */
static int sg_x509_encode_signed(const struct sg_x509_build *b, const unsigned char *sig,
                                 size_t sig_len, unsigned char **der, size_t *der_len);
/* clang-format on */

/* ---- CSR ------------------------------------------------------------------ */

static int
sg_x509_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * The DER inside exactly one PEM block of type CERTIFICATE REQUEST (or the
 * legacy NEW CERTIFICATE REQUEST), with only white space around it and no
 * headers.  *der is OPENSSL_malloc'd.
 */
static int
sg_x509_csr_pem(const unsigned char *in, size_t len, unsigned char **der, long *der_len)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	char *rest = NULL;
	long dlen = 0, rlen, i;
	int r = SG_ERR_CSR_INVALID;

	*der = NULL;
	if ((bio = BIO_new_mem_buf(in, (int)len)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if (PEM_read_bio(bio, &name, &header, &data, &dlen) != 1)
		goto out;
	if (strcmp(name, PEM_STRING_X509_REQ) != 0 && strcmp(name, PEM_STRING_X509_REQ_OLD) != 0)
		goto out;
	if (header[0] != '\0' || dlen <= 0)
		goto out;
	/* What PEM_read_bio() left unread: white space only. */
	rlen = BIO_get_mem_data(bio, &rest);
	for (i = 0; i < rlen; i++) {
		if (!sg_x509_is_space((unsigned char)rest[i]))
			goto out;
	}
	*der = data;
	*der_len = dlen;
	data = NULL;
	r = 0;
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return r;
}

int
sg_x509_csr_parse(const unsigned char *in, size_t len, X509_REQ **out)
{
	static const char pem_begin[] = "-----BEGIN ";
	X509_REQ *req = NULL;
	unsigned char *pem_der = NULL;
	const unsigned char *der, *p;
	EVP_PKEY *pk;
	long der_len;
	size_t i;
	int r = SG_ERR_CSR_INVALID;

	if (out != NULL)
		*out = NULL;
	if (in == NULL || out == NULL)
		return SG_ERR_INVALID_ARG;
	if (len == 0 || len > SG_CSR_MAX)
		return SG_ERR_CSR_INVALID;
	for (i = 0; i < len && sg_x509_is_space(in[i]); i++)
		;
	if (len - i >= sizeof(pem_begin) - 1 &&
	    memcmp(in + i, pem_begin, sizeof(pem_begin) - 1) == 0) {
		/* Text before the BEGIN line is refused by starting at it. */
		if ((r = sg_x509_csr_pem(in + i, len - i, &pem_der, &der_len)) != 0)
			goto out;
		der = pem_der;
	} else {
		der = in;
		der_len = (long)len;
	}
	r = SG_ERR_CSR_INVALID;
	p = der;
	if ((req = d2i_X509_REQ(NULL, &p, der_len)) == NULL || p != der + der_len)
		goto out;
	if (X509_REQ_get_version(req) != X509_REQ_VERSION_1)
		goto out;
	if ((pk = X509_REQ_get0_pubkey(req)) == NULL)
		goto out;
	if (X509_REQ_verify(req, pk) != 1) {
		r = SG_ERR_CSR_SIGNATURE;
		goto out;
	}
	*out = req;
	req = NULL;
	r = 0;
out:
	if (r != 0)
		ERR_clear_error();
	OPENSSL_free(pem_der);
	X509_REQ_free(req);
	return r;
}

/* ---- helpers -------------------------------------------------------------- */

/*
 * The positive INTEGER of an unsigned big-endian serial s[0..len): 1..20
 * bytes, nonzero, below 2^159 (so that its DER form fits 20 octets).
 */
static int
sg_x509_serial(const unsigned char *s, size_t len, BIGNUM *bn, ASN1_INTEGER **ai)
{
	if (len == 0 || len > SG_X509_SERIAL_MAX)
		return SG_ERR_INVALID_ARG;
	if (BN_bin2bn(s, (int)len, bn) == NULL)
		return SG_ERR_NOMEM;
	if (BN_is_zero(bn) || BN_num_bits(bn) > 8 * SG_X509_SERIAL_MAX - 1)
		return SG_ERR_INVALID_ARG;
	if ((*ai = BN_to_ASN1_INTEGER(bn, *ai)) == NULL)
		return SG_ERR_NOMEM;
	return 0;
}

int
sg_x509_sig_alg(const X509 *cert, enum sg_hash hash, X509_ALGOR *alg, enum sg_keyalg *keyalg)
{
	const EVP_MD *md;
	int sig_nid = NID_undef, rsa;

	if (cert == NULL || alg == NULL || keyalg == NULL || (md = sg_hash_md(hash)) == NULL ||
	    sg_cms_cert_keyalg(cert, keyalg) != 0)
		return SG_ERR_INVALID_ARG;
	rsa = sg_keyalg_is_rsa(*keyalg);
	if (OBJ_find_sigid_by_algs(&sig_nid, EVP_MD_get_type(md),
	                           rsa ? NID_rsaEncryption : NID_X9_62_id_ecPublicKey) != 1)
		return SG_ERR_INTERNAL;
	/* RFC 4055 2.1 / RFC 5758 3.2: NULL parameters for RSA, absent for ECDSA. */
	if (X509_ALGOR_set0(alg, OBJ_nid2obj(sig_nid), rsa ? V_ASN1_NULL : V_ASN1_UNDEF, NULL) != 1)
		return SG_ERR_INTERNAL;
	return 0;
}

/*
 * The issuer's part of a build: its key and the signature algorithm for it
 * and hash, written into tbs_alg and kept in b->alg for the outer field.
 */
static int
sg_x509_issuer_setup(X509 *issuer, enum sg_hash hash, struct sg_x509_build *b, X509_ALGOR *tbs_alg)
{
	int r;

	if ((r = sg_x509_sig_alg(issuer, hash, tbs_alg, &b->keyalg)) != 0)
		return r;
	if ((b->alg = X509_ALGOR_dup(tbs_alg)) == NULL)
		return SG_ERR_NOMEM;
	if (EVP_PKEY_up_ref(X509_get0_pubkey(issuer)) != 1)
		return SG_ERR_INTERNAL;
	b->key = X509_get0_pubkey(issuer);
	return 0;
}

/* Appends an extension holding value (of the type X509V3 knows for nid). */
static int
sg_x509_add_ext(STACK_OF(X509_EXTENSION) * *exts, int nid, void *value, int critical)
{
	return X509V3_add1_i2d(exts, nid, value, critical, X509V3_ADD_APPEND) == 1 ? 0
	                                                                           : SG_ERR_NOMEM;
}

/* SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2, method 1). */
static int
sg_x509_key_id(X509_PUBKEY *spki, ASN1_OCTET_STRING **out)
{
	const unsigned char *bits;
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int len;

	if (X509_PUBKEY_get0_param(NULL, &bits, &len, NULL, spki) != 1 || len <= 0)
		return SG_ERR_INTERNAL;
	if (EVP_Digest(bits, (size_t)len, h, &n, EVP_sha1(), NULL) != 1)
		return SG_ERR_INTERNAL;
	if ((*out = ASN1_OCTET_STRING_new()) == NULL || ASN1_OCTET_STRING_set(*out, h, (int)n) != 1)
		return SG_ERR_NOMEM;
	return 0;
}

/* authorityKeyIdentifier: keyIdentifier only, the issuer's SKI (or method 1 on its key). */
static int
sg_x509_add_akid(STACK_OF(X509_EXTENSION) * *exts, X509 *issuer)
{
	AUTHORITY_KEYID *akid;
	const ASN1_OCTET_STRING *ski;
	int r = SG_ERR_NOMEM;

	if ((akid = AUTHORITY_KEYID_new()) == NULL)
		return SG_ERR_NOMEM;
	if ((ski = X509_get0_subject_key_id(issuer)) != NULL) {
		if ((akid->keyid = ASN1_OCTET_STRING_dup(ski)) == NULL)
			goto out;
	} else if ((r = sg_x509_key_id(X509_get_X509_PUBKEY(issuer), &akid->keyid)) != 0) {
		goto out;
	}
	r = sg_x509_add_ext(exts, NID_authority_key_identifier, akid, 0);
out:
	AUTHORITY_KEYID_free(akid);
	return r;
}

/* A URI GeneralName: printable ASCII without spaces, 1..SG_X509_MAX_URL bytes. */
static int
sg_x509_uri(const char *url, GENERAL_NAME **out)
{
	ASN1_IA5STRING *s = NULL;
	GENERAL_NAME *gn = NULL;
	size_t i, len;

	*out = NULL;
	if ((len = strnlen(url, SG_X509_MAX_URL + 1)) == 0 || len > SG_X509_MAX_URL)
		return SG_ERR_INVALID_ARG;
	for (i = 0; i < len; i++) {
		if (url[i] <= ' ' || url[i] > '~')
			return SG_ERR_INVALID_ARG;
	}
	if ((s = ASN1_IA5STRING_new()) == NULL || ASN1_STRING_set(s, url, (int)len) != 1 ||
	    (gn = GENERAL_NAME_new()) == NULL) {
		ASN1_IA5STRING_free(s);
		return SG_ERR_NOMEM;
	}
	GENERAL_NAME_set0_value(gn, GEN_URI, s);
	*out = gn;
	return 0;
}

/* ---- certificate extensions ----------------------------------------------- */

static int
sg_x509_add_basic_constraints(STACK_OF(X509_EXTENSION) * *exts, const struct sg_cert_params *p)
{
	BASIC_CONSTRAINTS *bc;
	int r = SG_ERR_NOMEM;

	if ((bc = BASIC_CONSTRAINTS_new()) == NULL)
		return SG_ERR_NOMEM;
	/* cA is DEFAULT FALSE: OpenSSL leaves it out when 0, as DER wants. */
	bc->ca = p->is_ca ? 0xff : 0;
	if (p->is_ca && p->path_len >= 0) {
		if ((bc->pathlen = ASN1_INTEGER_new()) == NULL ||
		    ASN1_INTEGER_set(bc->pathlen, p->path_len) != 1)
			goto out;
	}
	r = sg_x509_add_ext(exts, NID_basic_constraints, bc, 1);
out:
	BASIC_CONSTRAINTS_free(bc);
	return r;
}

/* The KU_* flags of OpenSSL and the bits of the KeyUsage BIT STRING (RFC 5280 4.2.1.3). */
static const struct {
	unsigned flag;
	int bit;
} sg_x509_ku_bits[] = {
    {KU_DIGITAL_SIGNATURE, 0}, {KU_NON_REPUDIATION, 1}, {KU_KEY_ENCIPHERMENT, 2},
    {KU_DATA_ENCIPHERMENT, 3}, {KU_KEY_AGREEMENT, 4},   {KU_KEY_CERT_SIGN, 5},
    {KU_CRL_SIGN, 6},          {KU_ENCIPHER_ONLY, 7},   {KU_DECIPHER_ONLY, 8},
};

static int
sg_x509_add_key_usage(STACK_OF(X509_EXTENSION) * *exts, unsigned ku)
{
	ASN1_BIT_STRING *bs;
	size_t i;
	int r = SG_ERR_NOMEM;

	if ((bs = ASN1_BIT_STRING_new()) == NULL)
		return SG_ERR_NOMEM;
	for (i = 0; i < sizeof(sg_x509_ku_bits) / sizeof(sg_x509_ku_bits[0]); i++) {
		/* Trailing zero bits are dropped by OpenSSL's encoder (DER, X.690 11.2.2). */
		if ((ku & sg_x509_ku_bits[i].flag) != 0 &&
		    ASN1_BIT_STRING_set_bit(bs, sg_x509_ku_bits[i].bit, 1) != 1)
			goto out;
	}
	r = sg_x509_add_ext(exts, NID_key_usage, bs, 1);
out:
	ASN1_BIT_STRING_free(bs);
	return r;
}

static int
sg_x509_add_eku(STACK_OF(X509_EXTENSION) * *exts, const int *nids, size_t n)
{
	EXTENDED_KEY_USAGE *eku;
	ASN1_OBJECT *obj;
	size_t i;
	int r = SG_ERR_NOMEM;

	if ((eku = sk_ASN1_OBJECT_new_null()) == NULL)
		return SG_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		if (nids[i] == NID_undef || (obj = OBJ_nid2obj(nids[i])) == NULL ||
		    OBJ_length(obj) == 0) {
			r = SG_ERR_INVALID_ARG;
			goto out;
		}
		if (sk_ASN1_OBJECT_push(eku, obj) <= 0)
			goto out;
	}
	r = sg_x509_add_ext(exts, NID_ext_key_usage, eku, 0);
out:
	/* The objects are OpenSSL's static ones: the stack alone is freed. */
	sk_ASN1_OBJECT_free(eku);
	return r;
}

static int
sg_x509_add_policies(STACK_OF(X509_EXTENSION) * *exts, const char *const *oids, size_t n)
{
	CERTIFICATEPOLICIES *cp;
	POLICYINFO *pi = NULL;
	size_t i, j;
	int r = SG_ERR_NOMEM;

	if ((cp = sk_POLICYINFO_new_null()) == NULL)
		return SG_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		if ((pi = POLICYINFO_new()) == NULL)
			goto out;
		ASN1_OBJECT_free(pi->policyid);
		/* RFC 5280 4.2.1.4: a policy OID appears at most once. */
		if ((pi->policyid = sg_fmt_oid(oids[i])) == NULL) {
			r = SG_ERR_INVALID_ARG;
			goto out;
		}
		for (j = 0; j < i; j++) {
			if (OBJ_cmp(sk_POLICYINFO_value(cp, (int)j)->policyid, pi->policyid) == 0) {
				r = SG_ERR_INVALID_ARG;
				goto out;
			}
		}
		if (sk_POLICYINFO_push(cp, pi) <= 0)
			goto out;
		pi = NULL;
	}
	r = sg_x509_add_ext(exts, NID_certificate_policies, cp, 0);
out:
	POLICYINFO_free(pi);
	sk_POLICYINFO_pop_free(cp, POLICYINFO_free);
	return r;
}

/* cRLDistributionPoints: one DistributionPoint with one fullName URI. */
static int
sg_x509_add_crl_dp(STACK_OF(X509_EXTENSION) * *exts, const char *url)
{
	CRL_DIST_POINTS *dps;
	DIST_POINT *dp = NULL;
	GENERAL_NAME *gn = NULL;
	int r = SG_ERR_NOMEM;

	if ((dps = sk_DIST_POINT_new_null()) == NULL)
		return SG_ERR_NOMEM;
	if ((r = sg_x509_uri(url, &gn)) != 0)
		goto out;
	r = SG_ERR_NOMEM;
	if ((dp = DIST_POINT_new()) == NULL || (dp->distpoint = DIST_POINT_NAME_new()) == NULL)
		goto out;
	dp->distpoint->type = 0; /* fullName */
	if ((dp->distpoint->name.fullname = GENERAL_NAMES_new()) == NULL ||
	    sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn) <= 0)
		goto out;
	gn = NULL;
	if (sk_DIST_POINT_push(dps, dp) <= 0)
		goto out;
	dp = NULL;
	r = sg_x509_add_ext(exts, NID_crl_distribution_points, dps, 0);
out:
	GENERAL_NAME_free(gn);
	DIST_POINT_free(dp);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	return r;
}

/* authorityInfoAccess: ocsp, then caIssuers, each with one URI. */
static int
sg_x509_add_aia(STACK_OF(X509_EXTENSION) * *exts, const char *ocsp, const char *issuer)
{
	AUTHORITY_INFO_ACCESS *aia;
	ACCESS_DESCRIPTION *ad = NULL;
	const char *urls[2] = {ocsp, issuer};
	const int methods[2] = {NID_ad_OCSP, NID_ad_ca_issuers};
	size_t i;
	int r = SG_ERR_NOMEM;

	if ((aia = sk_ACCESS_DESCRIPTION_new_null()) == NULL)
		return SG_ERR_NOMEM;
	for (i = 0; i < 2; i++) {
		if (urls[i] == NULL)
			continue;
		if ((ad = ACCESS_DESCRIPTION_new()) == NULL)
			goto out;
		ASN1_OBJECT_free(ad->method);
		ad->method = OBJ_nid2obj(methods[i]);
		GENERAL_NAME_free(ad->location);
		if ((r = sg_x509_uri(urls[i], &ad->location)) != 0)
			goto out;
		r = SG_ERR_NOMEM;
		if (sk_ACCESS_DESCRIPTION_push(aia, ad) <= 0)
			goto out;
		ad = NULL;
	}
	r = sg_x509_add_ext(exts, NID_info_access, aia, 0);
out:
	ACCESS_DESCRIPTION_free(ad);
	sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
	return r;
}

/*
 * The subject re-encoded entry by entry, multi-valued RDNs kept: the CSR's
 * X509_NAME keeps the bytes it was decoded from (BER included), and those
 * must not reach a certificate the CA signs.
 */
static int
sg_x509_name_copy(const X509_NAME *in, X509_NAME **out)
{
	const X509_NAME_ENTRY *ne;
	X509_NAME *n;
	int i, set, prev = -1;

	if ((n = X509_NAME_new()) == NULL)
		return SG_ERR_NOMEM;
	for (i = 0; i < X509_NAME_entry_count(in); i++) {
		ne = X509_NAME_get_entry(in, i);
		set = X509_NAME_ENTRY_set(ne);
		if (X509_NAME_add_entry(n, ne, -1, i > 0 && set == prev ? -1 : 0) != 1) {
			X509_NAME_free(n);
			return SG_ERR_NOMEM;
		}
		prev = set;
	}
	*out = n;
	return 0;
}

static int
sg_x509_check_params(const struct sg_cert_params *p)
{
	unsigned known = 0;
	size_t i;

	if (p->pubkey == NULL || p->subject == NULL || p->issuer == NULL)
		return SG_ERR_INVALID_ARG;
	if (p->not_after <= p->not_before)
		return SG_ERR_INVALID_ARG;
	if (!p->is_ca && (p->path_len >= 0 || (p->key_usage & KU_KEY_CERT_SIGN) != 0 ||
	                  p->name_constraints != NULL))
		return SG_ERR_INVALID_ARG;
	for (i = 0; i < sizeof(sg_x509_ku_bits) / sizeof(sg_x509_ku_bits[0]); i++)
		known |= sg_x509_ku_bits[i].flag;
	if ((p->key_usage & ~known) != 0)
		return SG_ERR_INVALID_ARG;
	if (p->sans != NULL && sk_GENERAL_NAME_num(p->sans) <= 0)
		return SG_ERR_INVALID_ARG;
	if (X509_NAME_entry_count(p->subject) == 0 && p->sans == NULL)
		return SG_ERR_INVALID_ARG;
	if ((p->n_eku > 0 && p->eku_nids == NULL) || p->n_eku > SG_X509_MAX_EKU)
		return SG_ERR_INVALID_ARG;
	if ((p->n_policies > 0 && p->policy_oids == NULL) || p->n_policies > SG_X509_MAX_POLICIES)
		return SG_ERR_INVALID_ARG;
	return 0;
}

static int
sg_x509_cert_exts(SG_TBS_CERT *tbs, const struct sg_cert_params *p)
{
	ASN1_OCTET_STRING *ski = NULL;
	int r;

	if ((r = sg_x509_key_id(tbs->spki, &ski)) != 0)
		goto out;
	if ((r = sg_x509_add_ext(&tbs->exts, NID_subject_key_identifier, ski, 0)) != 0)
		goto out;
	if ((r = sg_x509_add_akid(&tbs->exts, p->issuer)) != 0)
		goto out;
	if ((r = sg_x509_add_basic_constraints(&tbs->exts, p)) != 0)
		goto out;
	if (p->key_usage != 0 && (r = sg_x509_add_key_usage(&tbs->exts, p->key_usage)) != 0)
		goto out;
	if (p->n_eku > 0 && (r = sg_x509_add_eku(&tbs->exts, p->eku_nids, p->n_eku)) != 0)
		goto out;
	/* RFC 5280 4.2.1.6: critical when the subject is empty. */
	if (p->sans != NULL && (r = sg_x509_add_ext(&tbs->exts, NID_subject_alt_name, p->sans,
	                                            X509_NAME_entry_count(p->subject) == 0)) != 0)
		goto out;
	if (p->name_constraints != NULL &&
	    (r = sg_x509_add_ext(&tbs->exts, NID_name_constraints, p->name_constraints, 1)) != 0)
		goto out;
	if (p->n_policies > 0 &&
	    (r = sg_x509_add_policies(&tbs->exts, p->policy_oids, p->n_policies)) != 0)
		goto out;
	if (p->crl_dp_url != NULL && (r = sg_x509_add_crl_dp(&tbs->exts, p->crl_dp_url)) != 0)
		goto out;
	if ((p->aia_ocsp_url != NULL || p->aia_issuer_url != NULL) &&
	    (r = sg_x509_add_aia(&tbs->exts, p->aia_ocsp_url, p->aia_issuer_url)) != 0)
		goto out;
	r = 0;
out:
	ASN1_OCTET_STRING_free(ski);
	return r;
}

/* Encodes the TBS structure val into the build and its digest with hash into tbs. */
static int
sg_x509_tbs(struct sg_x509_build *b, const ASN1_VALUE *val, const ASN1_ITEM *it, enum sg_hash hash,
            unsigned char *tbs, size_t *tbs_len)
{
	return sg_fmt_tbs_digest(val, it, sg_hash_md(hash), &b->tbs, &b->tbs_len, tbs, tbs_len);
}

int
sg_x509_begin(const struct sg_cert_params *p, struct sg_x509_build **out,
              unsigned char tbs[SG_HASH_MAX_LEN], size_t *tbs_len)
{
	struct sg_x509_build *b = NULL;
	SG_TBS_CERT *t = NULL;
	BIGNUM *bn = NULL;
	int r;

	if (out != NULL)
		*out = NULL;
	if (tbs_len != NULL)
		*tbs_len = 0;
	if (p == NULL || out == NULL || tbs == NULL || tbs_len == NULL)
		return SG_ERR_INVALID_ARG;
	if ((r = sg_x509_check_params(p)) != 0)
		return r;
	r = SG_ERR_NOMEM;
	if ((b = calloc(1, sizeof(*b))) == NULL || (bn = BN_new()) == NULL)
		goto out;
	b->kind = SG_X509_CERT;
	if ((t = (SG_TBS_CERT *)ASN1_item_new(ASN1_ITEM_rptr(SG_TBS_CERT))) == NULL)
		goto out;
	if ((r = sg_x509_issuer_setup(p->issuer, p->hash, b, t->sig_alg)) != 0)
		goto out;
	if ((r = sg_x509_serial(p->serial, p->serial_len, bn, &t->serial)) != 0)
		goto out;
	r = SG_ERR_NOMEM;
	if ((t->version = ASN1_INTEGER_new()) == NULL ||
	    ASN1_INTEGER_set(t->version, X509_VERSION_3) != 1)
		goto out;
	if (X509_NAME_set(&t->issuer, X509_get_subject_name(p->issuer)) != 1)
		goto out;
	if (ASN1_TIME_set(t->validity->notBefore, p->not_before) == NULL ||
	    ASN1_TIME_set(t->validity->notAfter, p->not_after) == NULL) {
		r = SG_ERR_INVALID_ARG;
		goto out;
	}
	X509_NAME_free(t->subject);
	t->subject = NULL;
	if ((r = sg_x509_name_copy(p->subject, &t->subject)) != 0)
		goto out;
	/* A key OpenSSL cannot put into a SubjectPublicKeyInfo is the caller's mistake. */
	if (X509_PUBKEY_set(&t->spki, p->pubkey) != 1) {
		r = SG_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = sg_x509_cert_exts(t, p)) != 0)
		goto out;
	if ((r = sg_x509_tbs(b, (ASN1_VALUE *)t, ASN1_ITEM_rptr(SG_TBS_CERT), p->hash, tbs,
	                     tbs_len)) != 0)
		goto out;
	*out = b;
	b = NULL;
	r = 0;
out:
	if (r != 0) {
		ERR_clear_error();
		*tbs_len = 0;
	}
	BN_free(bn);
	ASN1_item_free((ASN1_VALUE *)t, ASN1_ITEM_rptr(SG_TBS_CERT));
	sg_x509_build_free(b);
	return r;
}

/* ---- phase two ------------------------------------------------------------ */

/* The Certificate / CertificateList of b with sig, DER in a malloc'd *der. */
static int
sg_x509_encode_signed(const struct sg_x509_build *b, const unsigned char *sig, size_t sig_len,
                      unsigned char **der, size_t *der_len)
{
	SG_X509_SIGNED *s;
	int r;

	if ((s = (SG_X509_SIGNED *)ASN1_item_new(ASN1_ITEM_rptr(SG_X509_SIGNED))) == NULL)
		return SG_ERR_NOMEM;
	if ((r = sg_fmt_signed_set(s->tbs, s->alg, s->sig, b->tbs, b->tbs_len, b->alg, sig,
	                           sig_len)) != 0)
		goto out;
	r = sg_fmt_item_der((ASN1_VALUE *)s, ASN1_ITEM_rptr(SG_X509_SIGNED), der, der_len);
out:
	ASN1_item_free((ASN1_VALUE *)s, ASN1_ITEM_rptr(SG_X509_SIGNED));
	return r;
}

/*
 * Both finishes: encode, decode with OpenSSL's own type (exactly, no
 * trailing bytes) and verify with the issuer's key.
 */
static int
sg_x509_finish_kind(struct sg_x509_build *b, enum sg_x509_kind kind, const unsigned char *sig,
                    size_t sig_len, unsigned char **der, size_t *der_len)
{
	unsigned char *buf = NULL;
	const unsigned char *p;
	X509_CRL *crl = NULL;
	X509 *x = NULL;
	size_t len = 0;
	int ok, r;

	if (der != NULL)
		*der = NULL;
	if (der_len != NULL)
		*der_len = 0;
	if (b == NULL || sig == NULL || der == NULL || der_len == NULL || b->kind != kind ||
	    sig_len == 0 || sig_len > sg_keyalg_sig_max(b->keyalg))
		return SG_ERR_INVALID_ARG;
	if ((r = sg_x509_encode_signed(b, sig, sig_len, &buf, &len)) != 0)
		goto out;
	r = SG_ERR_INTERNAL;
	p = buf;
	if (kind == SG_X509_CERT) {
		if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != buf + len)
			goto out;
		ok = X509_verify(x, b->key) == 1;
	} else {
		if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL || p != buf + len)
			goto out;
		ok = X509_CRL_verify(crl, b->key) == 1;
	}
	if (!ok) {
		r = SG_ERR_SELF_VERIFY;
		goto out;
	}
	*der = buf;
	*der_len = len;
	buf = NULL;
	r = 0;
out:
	if (r != 0)
		ERR_clear_error();
	X509_free(x);
	X509_CRL_free(crl);
	free(buf);
	return r;
}

int
sg_x509_finish(struct sg_x509_build *b, const unsigned char *sig, size_t sig_len,
               unsigned char **der, size_t *der_len)
{
	return sg_x509_finish_kind(b, SG_X509_CERT, sig, sig_len, der, der_len);
}

int
sg_crl_finish(struct sg_x509_build *b, const unsigned char *sig, size_t sig_len,
              unsigned char **der, size_t *der_len)
{
	return sg_x509_finish_kind(b, SG_X509_CRL, sig, sig_len, der, der_len);
}

void
sg_x509_build_free(struct sg_x509_build *b)
{
	if (b == NULL)
		return;
	OPENSSL_free(b->tbs);
	X509_ALGOR_free(b->alg);
	EVP_PKEY_free(b->key);
	free(b);
}

/* ---- CRL ------------------------------------------------------------------ */

/* The serial without its leading zero bytes. */
static void
sg_crl_serial_norm(const struct sg_crl_entry *e, const unsigned char **s, size_t *n)
{
	size_t len = e->serial_len <= SG_X509_SERIAL_MAX ? e->serial_len : SG_X509_SERIAL_MAX;
	const unsigned char *p = e->serial;

	while (len > 0 && *p == 0) {
		p++;
		len--;
	}
	*s = p;
	*n = len;
}

/* Ascending serial numbers (as unsigned integers). */
static int
sg_crl_entry_cmp(const void *a, const void *b)
{
	const struct sg_crl_entry *x = *(const struct sg_crl_entry *const *)a;
	const struct sg_crl_entry *y = *(const struct sg_crl_entry *const *)b;
	const unsigned char *sx, *sy;
	size_t nx, ny;

	sg_crl_serial_norm(x, &sx, &nx);
	sg_crl_serial_norm(y, &sy, &ny);
	if (nx != ny)
		return nx < ny ? -1 : 1;
	return nx == 0 ? 0 : memcmp(sx, sy, nx);
}

int
sg_crl_reason_valid(int reason)
{
	switch (reason) {
	case CRL_REASON_NONE:
	case CRL_REASON_UNSPECIFIED:
	case CRL_REASON_KEY_COMPROMISE:
	case CRL_REASON_CA_COMPROMISE:
	case CRL_REASON_AFFILIATION_CHANGED:
	case CRL_REASON_SUPERSEDED:
	case CRL_REASON_CESSATION_OF_OPERATION:
	case CRL_REASON_CERTIFICATE_HOLD:
	case CRL_REASON_PRIVILEGE_WITHDRAWN:
	case CRL_REASON_AA_COMPROMISE:
		return 1;
	default:
		return 0;
	}
}

/* revokedCertificates, in ascending serial order, into t->revoked (left NULL when n is 0). */
static int
sg_crl_entries(SG_TBS_CRL *t, const struct sg_crl_entry *e, size_t n)
{
	const struct sg_crl_entry **idx = NULL;
	X509_REVOKED *rev = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_ENUMERATED *reason = NULL;
	ASN1_TIME *tm = NULL;
	BIGNUM *bn = NULL;
	size_t i;
	int r = SG_ERR_NOMEM;

	if (n == 0)
		return 0;
	if ((idx = calloc(n, sizeof(*idx))) == NULL || (bn = BN_new()) == NULL ||
	    (reason = ASN1_ENUMERATED_new()) == NULL ||
	    (t->revoked = sk_X509_REVOKED_new_reserve(NULL, (int)n)) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		if (!sg_crl_reason_valid(e[i].reason)) {
			r = SG_ERR_INVALID_ARG;
			goto out;
		}
		idx[i] = &e[i];
	}
	qsort(idx, n, sizeof(*idx), sg_crl_entry_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0 && sg_crl_entry_cmp(&idx[i - 1], &idx[i]) == 0) {
			r = SG_ERR_INVALID_ARG;
			goto out;
		}
		if ((r = sg_x509_serial(idx[i]->serial, idx[i]->serial_len, bn, &serial)) != 0)
			goto out;
		if ((tm = ASN1_TIME_set(tm, idx[i]->revoked_at)) == NULL) {
			r = SG_ERR_INVALID_ARG;
			goto out;
		}
		r = SG_ERR_NOMEM;
		if ((rev = X509_REVOKED_new()) == NULL ||
		    X509_REVOKED_set_serialNumber(rev, serial) != 1 ||
		    X509_REVOKED_set_revocationDate(rev, tm) != 1)
			goto out;
		/* RFC 5280 5.3.1: no reasonCode rather than unspecified. */
		if (idx[i]->reason > CRL_REASON_UNSPECIFIED &&
		    (ASN1_ENUMERATED_set(reason, idx[i]->reason) != 1 ||
		     X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, X509V3_ADD_APPEND) !=
		         1))
			goto out;
		if (sk_X509_REVOKED_push(t->revoked, rev) <= 0)
			goto out;
		rev = NULL;
	}
	r = 0;
out:
	X509_REVOKED_free(rev);
	ASN1_INTEGER_free(serial);
	ASN1_ENUMERATED_free(reason);
	ASN1_TIME_free(tm);
	BN_free(bn);
	free(idx);
	return r;
}

int
sg_crl_begin(X509 *issuer, const struct sg_crl_entry *e, size_t n, uint64_t crl_number,
             time_t this_update, time_t next_update, enum sg_hash hash, struct sg_x509_build **out,
             unsigned char tbs[SG_HASH_MAX_LEN], size_t *tbs_len)
{
	struct sg_x509_build *b = NULL;
	SG_TBS_CRL *t = NULL;
	ASN1_INTEGER *num = NULL;
	int r;

	if (out != NULL)
		*out = NULL;
	if (tbs_len != NULL)
		*tbs_len = 0;
	if (issuer == NULL || (e == NULL && n > 0) || out == NULL || tbs == NULL ||
	    tbs_len == NULL || next_update <= this_update)
		return SG_ERR_INVALID_ARG;
	if (n > SG_CRL_MAX_ENTRIES)
		return SG_ERR_LIMIT;
	r = SG_ERR_NOMEM;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		goto out;
	b->kind = SG_X509_CRL;
	if ((t = (SG_TBS_CRL *)ASN1_item_new(ASN1_ITEM_rptr(SG_TBS_CRL))) == NULL)
		goto out;
	if ((r = sg_x509_issuer_setup(issuer, hash, b, t->sig_alg)) != 0)
		goto out;
	r = SG_ERR_NOMEM;
	if ((t->version = ASN1_INTEGER_new()) == NULL ||
	    ASN1_INTEGER_set(t->version, X509_CRL_VERSION_2) != 1)
		goto out;
	if (X509_NAME_set(&t->issuer, X509_get_subject_name(issuer)) != 1)
		goto out;
	if (ASN1_TIME_set(t->this_update, this_update) == NULL ||
	    (t->next_update = ASN1_TIME_set(NULL, next_update)) == NULL) {
		r = SG_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = sg_crl_entries(t, e, n)) != 0)
		goto out;
	if ((r = sg_x509_add_akid(&t->exts, issuer)) != 0)
		goto out;
	r = SG_ERR_NOMEM;
	if ((num = ASN1_INTEGER_new()) == NULL || ASN1_INTEGER_set_uint64(num, crl_number) != 1)
		goto out;
	if ((r = sg_x509_add_ext(&t->exts, NID_crl_number, num, 0)) != 0)
		goto out;
	if ((r = sg_x509_tbs(b, (ASN1_VALUE *)t, ASN1_ITEM_rptr(SG_TBS_CRL), hash, tbs, tbs_len)) !=
	    0)
		goto out;
	*out = b;
	b = NULL;
	r = 0;
out:
	if (r != 0) {
		ERR_clear_error();
		*tbs_len = 0;
	}
	ASN1_INTEGER_free(num);
	ASN1_item_free((ASN1_VALUE *)t, ASN1_ITEM_rptr(SG_TBS_CRL));
	sg_x509_build_free(b);
	return r;
}
