/* sg_ocsp: see sg_ocsp.h and docs/formats.md. */
#include "sg_ocsp.h"
#include "sg_formats_priv.h"
#include "sg_err.h"
#include "sg_x509.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

struct sg_ocsp_build {
	unsigned char *tbs; /* DER ResponseData, OPENSSL_malloc'd */
	int tbs_len;
	X509_ALGOR *alg;       /* signatureAlgorithm */
	X509 *signer;          /* own reference: the responderID's key, and verification */
	int include_signer;    /* delegated responder: its certificate goes into certs */
	enum sg_keyalg keyalg; /* of signer's key: bounds the signature length */
};

/*
 * OCSPRequest (RFC 6960 4.1.1), mirrored with OpenSSL's template macros.
 * OpenSSL's OCSP_REQUEST has the same shape but no accessor for the
 * version, and its OCSP_CERTID none for the hash algorithm's parameters;
 * both are checked here.  The optional signature is decoded the way
 * OpenSSL decodes it (algorithm, BIT STRING, certificates) and then
 * ignored.
 */
typedef struct {
	X509_ALGOR *hash_alg;
	ASN1_OCTET_STRING *name_hash;
	ASN1_OCTET_STRING *key_hash;
	ASN1_INTEGER *serial;
} SG_OCSP_CERTID;

typedef struct {
	SG_OCSP_CERTID *cert_id;
	STACK_OF(X509_EXTENSION) * exts; /* singleRequestExtensions [0] EXPLICIT */
} SG_OCSP_ONEREQ;

DEFINE_STACK_OF(SG_OCSP_ONEREQ)

typedef struct {
	ASN1_INTEGER *version;           /* [0] EXPLICIT DEFAULT v1 */
	GENERAL_NAME *requestor;         /* [1] EXPLICIT OPTIONAL */
	STACK_OF(SG_OCSP_ONEREQ) * list; /* requestList */
	STACK_OF(X509_EXTENSION) * exts; /* requestExtensions [2] EXPLICIT */
} SG_OCSP_TBSREQ;

typedef struct {
	X509_ALGOR *alg;
	ASN1_BIT_STRING *sig;
	STACK_OF(X509) * certs; /* [0] EXPLICIT OPTIONAL */
} SG_OCSP_REQSIG;

typedef struct {
	SG_OCSP_TBSREQ *tbs;
	SG_OCSP_REQSIG *sig; /* optionalSignature [0] EXPLICIT */
} SG_OCSP_REQ;

/*
 * ResponseData (RFC 6960 4.2.1).  OpenSSL's OCSP_RESPDATA gets its
 * responderID and producedAt only from OCSP_basic_sign(), which needs the
 * private key: the structure is built here from OpenSSL's exported item
 * types (OCSP_RESPID, OCSP_SINGLERESP, X509_EXTENSION) and the result is
 * decoded by d2i_OCSP_BASICRESP() once signed.
 */
typedef struct {
	ASN1_INTEGER *version; /* [0] EXPLICIT DEFAULT v1: always left out */
	OCSP_RESPID *responder_id;
	ASN1_GENERALIZEDTIME *produced_at;
	STACK_OF(OCSP_SINGLERESP) * responses;
	STACK_OF(X509_EXTENSION) * exts; /* responseExtensions [1] EXPLICIT */
} SG_OCSP_RESPDATA;

/* BasicOCSPResponse, with the ResponseData as the very bytes that were hashed. */
typedef struct {
	ASN1_TYPE *tbs;
	X509_ALGOR *alg;
	ASN1_BIT_STRING *sig;
	STACK_OF(X509) * certs; /* [0] EXPLICIT OPTIONAL */
} SG_OCSP_BASIC;

/* clang-format off */
ASN1_SEQUENCE(SG_OCSP_CERTID) = {
	ASN1_SIMPLE(SG_OCSP_CERTID, hash_alg, X509_ALGOR),
	ASN1_SIMPLE(SG_OCSP_CERTID, name_hash, ASN1_OCTET_STRING),
	ASN1_SIMPLE(SG_OCSP_CERTID, key_hash, ASN1_OCTET_STRING),
	ASN1_SIMPLE(SG_OCSP_CERTID, serial, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(SG_OCSP_CERTID)

ASN1_SEQUENCE(SG_OCSP_ONEREQ) = {
	ASN1_SIMPLE(SG_OCSP_ONEREQ, cert_id, SG_OCSP_CERTID),
	ASN1_EXP_SEQUENCE_OF_OPT(SG_OCSP_ONEREQ, exts, X509_EXTENSION, 0),
} static_ASN1_SEQUENCE_END(SG_OCSP_ONEREQ)

ASN1_SEQUENCE(SG_OCSP_TBSREQ) = {
	ASN1_EXP_OPT(SG_OCSP_TBSREQ, version, ASN1_INTEGER, 0),
	ASN1_EXP_OPT(SG_OCSP_TBSREQ, requestor, GENERAL_NAME, 1),
	ASN1_SEQUENCE_OF(SG_OCSP_TBSREQ, list, SG_OCSP_ONEREQ),
	ASN1_EXP_SEQUENCE_OF_OPT(SG_OCSP_TBSREQ, exts, X509_EXTENSION, 2),
} static_ASN1_SEQUENCE_END(SG_OCSP_TBSREQ)

ASN1_SEQUENCE(SG_OCSP_REQSIG) = {
	ASN1_SIMPLE(SG_OCSP_REQSIG, alg, X509_ALGOR),
	ASN1_SIMPLE(SG_OCSP_REQSIG, sig, ASN1_BIT_STRING),
	ASN1_EXP_SEQUENCE_OF_OPT(SG_OCSP_REQSIG, certs, X509, 0),
} static_ASN1_SEQUENCE_END(SG_OCSP_REQSIG)

ASN1_SEQUENCE(SG_OCSP_REQ) = {
	ASN1_SIMPLE(SG_OCSP_REQ, tbs, SG_OCSP_TBSREQ),
	ASN1_EXP_OPT(SG_OCSP_REQ, sig, SG_OCSP_REQSIG, 0),
} static_ASN1_SEQUENCE_END(SG_OCSP_REQ)

ASN1_SEQUENCE(SG_OCSP_RESPDATA) = {
	ASN1_EXP_OPT(SG_OCSP_RESPDATA, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(SG_OCSP_RESPDATA, responder_id, OCSP_RESPID),
	ASN1_SIMPLE(SG_OCSP_RESPDATA, produced_at, ASN1_GENERALIZEDTIME),
	ASN1_SEQUENCE_OF(SG_OCSP_RESPDATA, responses, OCSP_SINGLERESP),
	ASN1_EXP_SEQUENCE_OF_OPT(SG_OCSP_RESPDATA, exts, X509_EXTENSION, 1),
} static_ASN1_SEQUENCE_END(SG_OCSP_RESPDATA)

ASN1_SEQUENCE(SG_OCSP_BASIC) = {
	ASN1_SIMPLE(SG_OCSP_BASIC, tbs, ASN1_ANY),
	ASN1_SIMPLE(SG_OCSP_BASIC, alg, X509_ALGOR),
	ASN1_SIMPLE(SG_OCSP_BASIC, sig, ASN1_BIT_STRING),
	ASN1_EXP_SEQUENCE_OF_OPT(SG_OCSP_BASIC, certs, X509, 0),
} static_ASN1_SEQUENCE_END(SG_OCSP_BASIC)

/* The users of the items (declared here also to end the macros for clang-format). */
static int sg_ocsp_encode_basic(const struct sg_ocsp_build *b, const unsigned char *sig,
                                size_t sig_len, unsigned char **der, int *der_len);
/* clang-format on */

/* The digests a CertID may use; NULL for any other NID. */
static const EVP_MD *
sg_ocsp_md(int nid)
{
	switch (nid) {
	case NID_sha1:
		return EVP_sha1();
	case NID_sha256:
		return EVP_sha256();
	case NID_sha384:
		return EVP_sha384();
	case NID_sha512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/* ---- requests ------------------------------------------------------------- */

/*
 * The extensions of a request or of one of its CertIDs: the nonce (request
 * level only, once, 1..32 octets in an OCTET STRING) and non-critical
 * others, which are ignored (RFC 6960 4.4).
 */
static int
sg_ocsp_req_exts(const STACK_OF(X509_EXTENSION) * exts, int nonce_allowed, unsigned char *nonce,
                 size_t *nonce_len)
{
	X509_EXTENSION *e;
	const ASN1_OCTET_STRING *v;
	ASN1_OCTET_STRING *os;
	const unsigned char *p;
	int i, have_nonce = 0, ok;

	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		e = sk_X509_EXTENSION_value(exts, i);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) != NID_id_pkix_OCSP_Nonce ||
		    !nonce_allowed) {
			if (X509_EXTENSION_get_critical(e))
				return SG_ERR_MALFORMED;
			continue;
		}
		if (have_nonce++)
			return SG_ERR_MALFORMED;
		v = X509_EXTENSION_get_data(e);
		p = ASN1_STRING_get0_data(v);
		if ((os = d2i_ASN1_OCTET_STRING(NULL, &p, ASN1_STRING_length(v))) == NULL)
			return SG_ERR_MALFORMED;
		ok = p == ASN1_STRING_get0_data(v) + ASN1_STRING_length(v) &&
		     ASN1_STRING_length(os) >= 1 && ASN1_STRING_length(os) <= SG_OCSP_MAX_NONCE;
		if (ok) {
			memcpy(nonce, ASN1_STRING_get0_data(os), (size_t)ASN1_STRING_length(os));
			*nonce_len = (size_t)ASN1_STRING_length(os);
		}
		ASN1_OCTET_STRING_free(os);
		if (!ok)
			return SG_ERR_MALFORMED;
	}
	return 0;
}

/* One CertID into q: a known hash with absent or NULL parameters, exact lengths, a serial. */
static int
sg_ocsp_certid(const SG_OCSP_CERTID *id, BIGNUM *bn, struct sg_ocsp_query *q)
{
	const ASN1_OBJECT *obj;
	const EVP_MD *md;
	int ptype, mdlen, n;

	X509_ALGOR_get0(&obj, &ptype, NULL, id->hash_alg);
	if ((md = sg_ocsp_md(OBJ_obj2nid(obj))) == NULL ||
	    (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL))
		return SG_ERR_MALFORMED;
	mdlen = EVP_MD_get_size(md);
	if (mdlen <= 0 || mdlen > (int)sizeof(q->name_hash) ||
	    ASN1_STRING_length(id->name_hash) != mdlen || ASN1_STRING_length(id->key_hash) != mdlen)
		return SG_ERR_MALFORMED;
	if (ASN1_STRING_type(id->serial) != V_ASN1_INTEGER ||
	    ASN1_INTEGER_to_BN(id->serial, bn) == NULL)
		return SG_ERR_MALFORMED;
	if ((n = BN_num_bytes(bn)) > (int)sizeof(q->serial))
		return SG_ERR_MALFORMED;
	memset(q, 0, sizeof(*q));
	q->id_hash = EVP_MD_get_type(md);
	q->hash_len = (size_t)mdlen;
	memcpy(q->name_hash, ASN1_STRING_get0_data(id->name_hash), (size_t)mdlen);
	memcpy(q->key_hash, ASN1_STRING_get0_data(id->key_hash), (size_t)mdlen);
	if (n == 0) {
		q->serial_len = 1; /* zero */
	} else {
		BN_bn2bin(bn, q->serial);
		q->serial_len = (size_t)n;
	}
	return 0;
}

int
sg_ocsp_parse_request(const unsigned char *der, size_t len, struct sg_ocsp_query *q, size_t max,
                      size_t *n, unsigned char *nonce, size_t *nonce_len)
{
	SG_OCSP_REQ *req = NULL;
	SG_OCSP_TBSREQ *tbs;
	SG_OCSP_ONEREQ *one;
	unsigned char *re = NULL;
	const unsigned char *p = der;
	BIGNUM *bn = NULL;
	int i, count, re_len, r = SG_ERR_MALFORMED;

	if (n != NULL)
		*n = 0;
	if (nonce_len != NULL)
		*nonce_len = 0;
	if (der == NULL || q == NULL || n == NULL || nonce == NULL || nonce_len == NULL)
		return SG_ERR_INVALID_ARG;
	if (len == 0 || len > SG_OCSP_MAX_REQ)
		return SG_ERR_MALFORMED;
	if ((bn = BN_new()) == NULL)
		return SG_ERR_NOMEM;
	req = (SG_OCSP_REQ *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(SG_OCSP_REQ));
	if (req == NULL || p != der + len)
		goto out;
	/* DER only: the encoding of what was decoded is the input. */
	re_len = ASN1_item_i2d((ASN1_VALUE *)req, &re, ASN1_ITEM_rptr(SG_OCSP_REQ));
	if (re_len < 0 || (size_t)re_len != len || memcmp(re, der, len) != 0)
		goto out;
	tbs = req->tbs;
	if (tbs->version != NULL && ASN1_INTEGER_get(tbs->version) != 0)
		goto out;
	count = sk_SG_OCSP_ONEREQ_num(tbs->list);
	if (count <= 0 || (size_t)count > max || count > SG_OCSP_MAX_QUERIES)
		goto out;
	for (i = 0; i < count; i++) {
		one = sk_SG_OCSP_ONEREQ_value(tbs->list, i);
		if ((r = sg_ocsp_certid(one->cert_id, bn, &q[i])) != 0)
			goto out;
		if ((r = sg_ocsp_req_exts(one->exts, 0, NULL, NULL)) != 0)
			goto out;
	}
	if ((r = sg_ocsp_req_exts(tbs->exts, 1, nonce, nonce_len)) != 0)
		goto out;
	*n = (size_t)count;
	r = 0;
out:
	if (r != 0) {
		*nonce_len = 0;
		ERR_clear_error();
	}
	OPENSSL_free(re);
	BN_free(bn);
	ASN1_item_free((ASN1_VALUE *)req, ASN1_ITEM_rptr(SG_OCSP_REQ));
	return r;
}

int
sg_ocsp_query_matches(const struct sg_ocsp_query *q, X509 *issuer)
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hlen = 0;
	const EVP_MD *md;
	int ok = 0;

	if (q == NULL || issuer == NULL || (md = sg_ocsp_md(q->id_hash)) == NULL ||
	    q->hash_len != (size_t)EVP_MD_get_size(md))
		return 0;
	if (X509_NAME_digest(X509_get_subject_name(issuer), md, h, &hlen) != 1 ||
	    hlen != q->hash_len || memcmp(h, q->name_hash, hlen) != 0)
		goto out;
	if (X509_pubkey_digest(issuer, md, h, &hlen) != 1 || hlen != q->hash_len ||
	    memcmp(h, q->key_hash, hlen) != 0)
		goto out;
	ok = 1;
out:
	ERR_clear_error();
	return ok;
}

/* ---- responses ------------------------------------------------------------ */

/* signer is issuer, or a delegated responder of it (issued by it, EKU OCSPSigning). */
static int
sg_ocsp_check_signer(X509 *signer, X509 *issuer, int *delegated)
{
	*delegated = X509_cmp(signer, issuer) != 0;
	if (!*delegated)
		return 0;
	if (X509_check_issued(issuer, signer) != X509_V_OK ||
	    X509_verify(signer, X509_get0_pubkey(issuer)) != 1)
		return SG_ERR_INVALID_ARG;
	if ((X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) == 0 ||
	    (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN) == 0)
		return SG_ERR_INVALID_ARG;
	return 0;
}

static int
sg_ocsp_check_statuses(const struct sg_ocsp_status *st, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		switch (st[i].status) {
		case V_OCSP_CERTSTATUS_GOOD:
		case V_OCSP_CERTSTATUS_UNKNOWN:
			break;
		case V_OCSP_CERTSTATUS_REVOKED:
			if (!sg_crl_reason_valid(st[i].reason))
				return SG_ERR_INVALID_ARG;
			break;
		default:
			return SG_ERR_INVALID_ARG;
		}
	}
	return 0;
}

/*
 * The SingleResponses and the nonce extension, made by OpenSSL's own
 * OCSP_basic_add1_status() and OCSP_basic_add1_nonce() in a scratch
 * BasicOCSPResponse (never signed nor encoded), then copied into rd.
 */
static int
sg_ocsp_responses(SG_OCSP_RESPDATA *rd, X509 *issuer, const struct sg_ocsp_query *q,
                  const struct sg_ocsp_status *st, size_t n, const unsigned char *nonce,
                  size_t nonce_len, time_t this_update, time_t next_update)
{
	OCSP_BASICRESP *bs = NULL;
	OCSP_CERTID *cid = NULL;
	OCSP_SINGLERESP *sr;
	ASN1_GENERALIZEDTIME *tu = NULL, *nu = NULL, *rt = NULL;
	ASN1_INTEGER *serial = NULL;
	X509_EXTENSION *ext;
	unsigned char nbuf[SG_OCSP_MAX_NONCE];
	BIGNUM *bn = NULL;
	size_t i;
	int reason, r = SG_ERR_NOMEM;

	if ((bs = OCSP_BASICRESP_new()) == NULL || (bn = BN_new()) == NULL)
		goto out;
	if ((tu = ASN1_GENERALIZEDTIME_set(NULL, this_update)) == NULL ||
	    (nu = ASN1_GENERALIZEDTIME_set(NULL, next_update)) == NULL) {
		r = SG_ERR_INVALID_ARG;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (BN_bin2bn(q[i].serial, (int)q[i].serial_len, bn) == NULL ||
		    (serial = BN_to_ASN1_INTEGER(bn, serial)) == NULL)
			goto out;
		/* The hashes come out as the query's: sg_ocsp_begin() checked that it matches. */
		OCSP_CERTID_free(cid);
		cid = OCSP_cert_id_new(sg_ocsp_md(q[i].id_hash), X509_get_subject_name(issuer),
		                       X509_get0_pubkey_bitstr(issuer), serial);
		if (cid == NULL)
			goto out;
		reason = OCSP_REVOKED_STATUS_NOSTATUS;
		if (st[i].status == V_OCSP_CERTSTATUS_REVOKED) {
			if ((rt = ASN1_GENERALIZEDTIME_set(rt, st[i].revoked_at)) == NULL) {
				r = SG_ERR_INVALID_ARG;
				goto out;
			}
			/* As in CRLs: unspecified is written as no reason at all. */
			if (st[i].reason > CRL_REASON_UNSPECIFIED)
				reason = st[i].reason;
		}
		sr = OCSP_basic_add1_status(bs, cid, st[i].status, reason,
		                            st[i].status == V_OCSP_CERTSTATUS_REVOKED ? rt : NULL,
		                            tu, nu);
		if (sr == NULL)
			goto out;
		sr = (OCSP_SINGLERESP *)ASN1_item_dup(ASN1_ITEM_rptr(OCSP_SINGLERESP), sr);
		if (sr == NULL || sk_OCSP_SINGLERESP_push(rd->responses, sr) <= 0) {
			OCSP_SINGLERESP_free(sr);
			goto out;
		}
	}
	if (nonce_len > 0) {
		/* OCSP_basic_add1_nonce() takes a non-const buffer it only reads. */
		memcpy(nbuf, nonce, nonce_len);
		if (OCSP_basic_add1_nonce(bs, nbuf, (int)nonce_len) != 1 ||
		    (ext = OCSP_BASICRESP_get_ext(bs, 0)) == NULL)
			goto out;
		if ((rd->exts = sk_X509_EXTENSION_new_null()) == NULL ||
		    (ext = X509_EXTENSION_dup(ext)) == NULL)
			goto out;
		if (sk_X509_EXTENSION_push(rd->exts, ext) <= 0) {
			X509_EXTENSION_free(ext);
			goto out;
		}
	}
	r = 0;
out:
	OCSP_CERTID_free(cid);
	ASN1_INTEGER_free(serial);
	ASN1_GENERALIZEDTIME_free(tu);
	ASN1_GENERALIZEDTIME_free(nu);
	ASN1_GENERALIZEDTIME_free(rt);
	BN_free(bn);
	OCSP_BASICRESP_free(bs);
	return r;
}

int
sg_ocsp_begin(X509 *signer, X509 *issuer, const struct sg_ocsp_query *q,
              const struct sg_ocsp_status *st, size_t n, const unsigned char *nonce,
              size_t nonce_len, time_t produced_at, time_t next_update, enum sg_hash hash,
              struct sg_ocsp_build **out, unsigned char tbs[SG_HASH_MAX_LEN], size_t *tbs_len)
{
	struct sg_ocsp_build *b = NULL;
	SG_OCSP_RESPDATA *rd = NULL;
	size_t i;
	int r;

	if (out != NULL)
		*out = NULL;
	if (tbs_len != NULL)
		*tbs_len = 0;
	if (signer == NULL || issuer == NULL || q == NULL || st == NULL || out == NULL ||
	    tbs == NULL || tbs_len == NULL || n == 0 || n > SG_OCSP_MAX_QUERIES ||
	    nonce_len > SG_OCSP_MAX_NONCE || (nonce == NULL && nonce_len > 0) ||
	    next_update <= produced_at)
		return SG_ERR_INVALID_ARG;
	for (i = 0; i < n; i++) {
		if (!sg_ocsp_query_matches(&q[i], issuer))
			return SG_ERR_INVALID_ARG;
	}
	if ((r = sg_ocsp_check_statuses(st, n)) != 0)
		return r;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return SG_ERR_NOMEM;
	if ((r = sg_ocsp_check_signer(signer, issuer, &b->include_signer)) != 0)
		goto out;
	r = SG_ERR_NOMEM;
	if ((b->alg = X509_ALGOR_new()) == NULL)
		goto out;
	if ((r = sg_x509_sig_alg(signer, hash, b->alg, &b->keyalg)) != 0)
		goto out;
	r = SG_ERR_INTERNAL;
	if (X509_up_ref(signer) != 1)
		goto out;
	b->signer = signer;
	r = SG_ERR_NOMEM;
	if ((rd = (SG_OCSP_RESPDATA *)ASN1_item_new(ASN1_ITEM_rptr(SG_OCSP_RESPDATA))) == NULL)
		goto out;
	if (OCSP_RESPID_set_by_key(rd->responder_id, signer) != 1)
		goto out;
	if (ASN1_GENERALIZEDTIME_set(rd->produced_at, produced_at) == NULL) {
		r = SG_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = sg_ocsp_responses(rd, issuer, q, st, n, nonce, nonce_len, produced_at,
	                           next_update)) != 0)
		goto out;
	if ((r = sg_fmt_tbs_digest((ASN1_VALUE *)rd, ASN1_ITEM_rptr(SG_OCSP_RESPDATA),
	                           sg_hash_md(hash), &b->tbs, &b->tbs_len, tbs, tbs_len)) != 0)
		goto out;
	*out = b;
	b = NULL;
	r = 0;
out:
	if (r != 0)
		ERR_clear_error();
	ASN1_item_free((ASN1_VALUE *)rd, ASN1_ITEM_rptr(SG_OCSP_RESPDATA));
	sg_ocsp_build_free(b);
	return r;
}

/* The DER BasicOCSPResponse of b with sig (OPENSSL_malloc'd). */
static int
sg_ocsp_encode_basic(const struct sg_ocsp_build *b, const unsigned char *sig, size_t sig_len,
                     unsigned char **der, int *der_len)
{
	SG_OCSP_BASIC *s;
	int r;

	if ((s = (SG_OCSP_BASIC *)ASN1_item_new(ASN1_ITEM_rptr(SG_OCSP_BASIC))) == NULL)
		return SG_ERR_NOMEM;
	if ((r = sg_fmt_signed_set(s->tbs, s->alg, s->sig, b->tbs, b->tbs_len, b->alg, sig,
	                           sig_len)) != 0)
		goto out;
	r = SG_ERR_NOMEM;
	if (b->include_signer) {
		if ((s->certs = sk_X509_new_null()) == NULL || X509_up_ref(b->signer) != 1)
			goto out;
		if (sk_X509_push(s->certs, b->signer) <= 0) {
			X509_free(b->signer);
			goto out;
		}
	}
	r = SG_ERR_INTERNAL;
	if ((*der_len = ASN1_item_i2d((ASN1_VALUE *)s, der, ASN1_ITEM_rptr(SG_OCSP_BASIC))) <= 0)
		goto out;
	r = 0;
out:
	ASN1_item_free((ASN1_VALUE *)s, ASN1_ITEM_rptr(SG_OCSP_BASIC));
	return r;
}

/*
 * The check of what is handed out: der decodes as exactly one successful
 * OCSPResponse whose BasicOCSPResponse verifies with the signer's key,
 * found through the responderID (no chain building: that is the client's).
 */
static int
sg_ocsp_self_verify(const unsigned char *der, size_t len, X509 *signer)
{
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs = NULL;
	STACK_OF(X509) *certs = NULL;
	const unsigned char *p = der;
	int r = SG_ERR_INTERNAL;

	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL || p != der + len)
		goto out;
	if (OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (bs = OCSP_response_get1_basic(resp)) == NULL)
		goto out;
	if ((certs = sk_X509_new_null()) == NULL || sk_X509_push(certs, signer) <= 0) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	r = OCSP_basic_verify(bs, certs, NULL, OCSP_NOINTERN | OCSP_NOVERIFY) == 1
	        ? 0
	        : SG_ERR_SELF_VERIFY;
out:
	sk_X509_free(certs); /* signer stays the build's */
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return r;
}

int
sg_ocsp_finish(struct sg_ocsp_build *b, const unsigned char *sig, size_t sig_len,
               unsigned char **der, size_t *der_len)
{
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp = NULL;
	unsigned char *basic = NULL, *buf = NULL;
	const unsigned char *p;
	size_t len = 0;
	int basic_len = 0, r;

	if (der != NULL)
		*der = NULL;
	if (der_len != NULL)
		*der_len = 0;
	if (b == NULL || sig == NULL || der == NULL || der_len == NULL || sig_len == 0 ||
	    sig_len > sg_keyalg_sig_max(b->keyalg))
		return SG_ERR_INVALID_ARG;
	if ((r = sg_ocsp_encode_basic(b, sig, sig_len, &basic, &basic_len)) != 0)
		goto out;
	r = SG_ERR_INTERNAL;
	p = basic;
	if ((bs = d2i_OCSP_BASICRESP(NULL, &p, basic_len)) == NULL || p != basic + basic_len)
		goto out;
	if ((resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs)) == NULL)
		goto out;
	if ((r = SG_FMT_DER(OCSP_RESPONSE, resp, &buf, &len)) != 0)
		goto out;
	if ((r = sg_ocsp_self_verify(buf, len, b->signer)) != 0)
		goto out;
	*der = buf;
	*der_len = len;
	buf = NULL;
	r = 0;
out:
	if (r != 0)
		ERR_clear_error();
	free(buf);
	OPENSSL_free(basic);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	return r;
}

void
sg_ocsp_build_free(struct sg_ocsp_build *b)
{
	if (b == NULL)
		return;
	OPENSSL_free(b->tbs);
	X509_ALGOR_free(b->alg);
	X509_free(b->signer);
	free(b);
}

int
sg_ocsp_error_response(int status, unsigned char **der, size_t *der_len)
{
	OCSP_RESPONSE *resp;
	int r;

	if (der != NULL)
		*der = NULL;
	if (der_len != NULL)
		*der_len = 0;
	if (der == NULL || der_len == NULL)
		return SG_ERR_INVALID_ARG;
	switch (status) {
	case OCSP_RESPONSE_STATUS_MALFORMEDREQUEST:
	case OCSP_RESPONSE_STATUS_INTERNALERROR:
	case OCSP_RESPONSE_STATUS_TRYLATER:
	case OCSP_RESPONSE_STATUS_UNAUTHORIZED:
		break;
	default:
		return SG_ERR_INVALID_ARG;
	}
	if ((resp = OCSP_response_create(status, NULL)) == NULL) {
		ERR_clear_error();
		return SG_ERR_NOMEM;
	}
	r = SG_FMT_DER(OCSP_RESPONSE, resp, der, der_len);
	OCSP_RESPONSE_free(resp);
	return r;
}
