/*
 * signet_pkix: CMS and RFC 3161 verification over files (see signet_pkix.h).
 */
#include "signet_pkix.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include "sg_err.h"
#include "sg_json.h"
#include "signet_file.h"

enum cli_sigfmt
cli_sig_detect(const unsigned char *der, size_t len)
{
	const unsigned char *p;
	TS_RESP *resp = NULL;
	CMS_ContentInfo *cms = NULL;
	enum cli_sigfmt f = CLI_SIG_RAW;

	if (len == 0 || len > LONG_MAX)
		return CLI_SIG_RAW;
	p = der;
	if ((resp = d2i_TS_RESP(NULL, &p, (long)len)) != NULL && p == der + len) {
		f = CLI_SIG_TSR;
		goto out;
	}
	p = der;
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) != NULL && p == der + len &&
	    OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed) {
		f = OBJ_obj2nid(CMS_get0_eContentType(cms)) == NID_id_smime_ct_TSTInfo
		        ? CLI_SIG_TST
		        : CLI_SIG_CMS;
		goto out;
	}
out:
	TS_RESP_free(resp);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return f;
}

const char *
cli_sigfmt_name(enum cli_sigfmt f)
{
	switch (f) {
	case CLI_SIG_CMS:
		return "cms";
	case CLI_SIG_TSR:
		return "tsr";
	case CLI_SIG_TST:
		return "tst";
	case CLI_SIG_RAW:
	default:
		return "raw";
	}
}

/* Records a failed check: which one and why.  Returns SG_ERR_BAD_SIGNATURE. */
static int pkix_fail(struct cli_vresult *res, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
pkix_fail(struct cli_vresult *res, const char *check, const char *fmt, ...)
{
	va_list ap;

	res->failed = check;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	res->err = SG_ERR_BAD_SIGNATURE;
	return SG_ERR_BAD_SIGNATURE;
}

/* OpenSSL's reason for the last failure, for messages; clears the queue. */
static const char *
pkix_ossl_reason(void)
{
	static char buf[384];
	const char *data = NULL;
	int flags = 0;
	unsigned long e = ERR_peek_last_error_data(&data, &flags);
	size_t n;

	if (e == 0) {
		snprintf(buf, sizeof(buf), "no reason given");
	} else {
		/* The reason string, and the detail some errors carry ("Verify error:..."). */
		ERR_error_string_n(e, buf, sizeof(buf));
		n = strlen(buf);
		if (data != NULL && (flags & ERR_TXT_STRING) && data[0] != '\0')
			snprintf(buf + n, sizeof(buf) - n, " (%s)", data);
	}
	ERR_clear_error();
	return buf;
}

/* SHA-2 digests only; NULL for anything else. */
static const EVP_MD *
pkix_md(const ASN1_OBJECT *obj, char *name, size_t name_len)
{
	int nid = OBJ_obj2nid(obj);
	enum sg_hash h;

	switch (nid) {
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
		if (name != NULL)
			OBJ_obj2txt(name, (int)name_len, obj, 0);
		return NULL;
	}
	if (name != NULL)
		snprintf(name, name_len, "%s", sg_hash_name(h));
	return sg_hash_md(h);
}

static void
pkix_int_hex(const ASN1_INTEGER *i, char *out, size_t out_len)
{
	BIGNUM *bn = NULL;
	char *hex = NULL, *c;

	out[0] = '\0';
	if (i == NULL || (bn = ASN1_INTEGER_to_BN(i, NULL)) == NULL ||
	    (hex = BN_bn2hex(bn)) == NULL)
		goto out;
	for (c = hex; *c != '\0'; c++)
		*c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
	snprintf(out, out_len, "%s", hex);
out:
	OPENSSL_free(hex);
	BN_free(bn);
}

/* Fills the signer fields of res from cert. */
static void
pkix_signer(struct cli_vresult *res, X509 *cert)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);

	res->has_signer = 1;
	cli_trust_name(X509_get_subject_name(cert), res->subject, sizeof(res->subject));
	cli_trust_name(X509_get_issuer_name(cert), res->issuer, sizeof(res->issuer));
	pkix_int_hex(X509_get0_serialNumber(cert), res->serial, sizeof(res->serial));
	cli_trust_time(X509_get0_notBefore(cert), res->not_before, sizeof(res->not_before));
	cli_trust_time(X509_get0_notAfter(cert), res->not_after, sizeof(res->not_after));
	if (pub != NULL) {
		cli_trust_key_alg(pub, res->key_alg, sizeof(res->key_alg));
		(void)cli_trust_key_fp(pub, res->key_fp);
	}
}

/* The path's subjects, leaf first. */
static void
pkix_chain(struct cli_vresult *res, STACK_OF(X509) * chain)
{
	int i;

	res->n_chain = 0;
	for (i = 0; i < sk_X509_num(chain) && res->n_chain < CLI_CHAIN_MAX; i++)
		cli_trust_name(X509_get_subject_name(sk_X509_value(chain, i)),
		               res->chain[res->n_chain++], CLI_TRUST_NAME_MAX);
}

/*
 * Reads the TSTInfo of token into ts and returns the imprint's digest in
 * *md (NULL and a reason when the hash is not one we accept).
 */
static int
pkix_ts_read(PKCS7 *token, struct cli_ts_info *ts, const EVP_MD **md, char *why, size_t why_len)
{
	TS_TST_INFO *tst = NULL;
	TS_ACCURACY *acc;
	GENERAL_NAME *gn;
	const ASN1_OBJECT *alg = NULL;
	const ASN1_INTEGER *s, *ms, *us;
	BIO *b = NULL;
	char *p;
	long n;
	struct tm tm;
	int r;

	memset(ts, 0, sizeof(*ts));
	ts->present = 1;
	*md = NULL;
	if ((tst = PKCS7_to_TS_TST_INFO(token)) == NULL) {
		snprintf(why, why_len, "the time-stamp token does not hold a TSTInfo: %s",
		         pkix_ossl_reason());
		r = SG_ERR_BAD_SIGNATURE;
		goto out;
	}
	if (ASN1_TIME_to_tm(TS_TST_INFO_get_time(tst), &tm) != 1) {
		snprintf(why, why_len, "the time-stamp's genTime does not parse");
		r = SG_ERR_BAD_SIGNATURE;
		goto out;
	}
	ts->gen_time = timegm(&tm);
	cli_trust_time_t(ts->gen_time, ts->time, sizeof(ts->time));
	pkix_int_hex(TS_TST_INFO_get_serial(tst), ts->serial, sizeof(ts->serial));
	OBJ_obj2txt(ts->policy, sizeof(ts->policy), TS_TST_INFO_get_policy_id(tst), 1);
	pkix_int_hex(TS_TST_INFO_get_nonce(tst), ts->nonce, sizeof(ts->nonce));
	if ((acc = TS_TST_INFO_get_accuracy(tst)) != NULL) {
		s = TS_ACCURACY_get_seconds(acc);
		ms = TS_ACCURACY_get_millis(acc);
		us = TS_ACCURACY_get_micros(acc);
		ts->has_accuracy = 1;
		snprintf(ts->accuracy, sizeof(ts->accuracy), "%ld.%03ld%03ld",
		         s != NULL ? ASN1_INTEGER_get(s) : 0L,
		         ms != NULL ? ASN1_INTEGER_get(ms) : 0L,
		         us != NULL ? ASN1_INTEGER_get(us) : 0L);
	}
	if ((gn = TS_TST_INFO_get_tsa(tst)) != NULL) {
		if (gn->type == GEN_DIRNAME) {
			cli_trust_name(gn->d.directoryName, ts->tsa_name, sizeof(ts->tsa_name));
		} else if ((b = BIO_new(BIO_s_mem())) != NULL && GENERAL_NAME_print(b, gn) == 1 &&
		           (n = BIO_get_mem_data(b, &p)) > 0) {
			snprintf(ts->tsa_name, sizeof(ts->tsa_name), "%.*s", (int)n, p);
		}
	}
	X509_ALGOR_get0(&alg, NULL, NULL,
	                TS_MSG_IMPRINT_get_algo(TS_TST_INFO_get_msg_imprint(tst)));
	if ((*md = pkix_md(alg, ts->hash, sizeof(ts->hash))) == NULL) {
		snprintf(why, why_len, "the time-stamp's imprint uses %s (not SHA-256/384/512)",
		         ts->hash);
		r = SG_ERR_BAD_SIGNATURE;
		goto out;
	}
	r = 0;
out:
	BIO_free(b);
	TS_TST_INFO_free(tst);
	ERR_clear_error();
	return r;
}

/*
 * Verifies token (read by pkix_ts_read) against imprint: TSA signature and
 * certificate path (timeStamping, now), version, TSA name, imprint.
 */
static int
pkix_ts_check(PKCS7 *token, const unsigned char *imprint, size_t imprint_len,
              const struct cli_trust *t, struct cli_ts_info *ts, char *why, size_t why_len)
{
	TS_VERIFY_CTX *ctx = NULL;
	STACK_OF(X509) *certs = NULL, *signers = NULL;
	unsigned char *imp = NULL;
	int r;

	if ((ctx = TS_VERIFY_CTX_new()) == NULL ||
	    (imp = OPENSSL_memdup(imprint, imprint_len)) == NULL ||
	    (certs = X509_chain_up_ref(t->untrusted)) == NULL || X509_STORE_up_ref(t->store) != 1) {
		snprintf(why, why_len, "out of memory");
		OPENSSL_free(imp);
		sk_X509_pop_free(certs, X509_free);
		r = SG_ERR_NOMEM;
		goto out;
	}
	/* The context owns what it is given (TS_VERIFY_CTX_cleanup frees them). */
	TS_VERIFY_CTX_set_store(ctx, t->store);
	TS_VERIFY_CTX_set_certs(ctx, certs);
	TS_VERIFY_CTX_set_imprint(ctx, imp, (long)imprint_len);
	TS_VERIFY_CTX_set_flags(ctx,
	                        TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_SIGNER | TS_VFY_IMPRINT);
	if (TS_RESP_verify_token(ctx, token) != 1) {
		snprintf(why, why_len, "%s", pkix_ossl_reason());
		r = SG_ERR_BAD_SIGNATURE;
		goto out;
	}
	/* Who signed it, for the report: the certificate TS_RESP_verify_token accepted. */
	if ((signers = PKCS7_get0_signers(token, t->untrusted, 0)) != NULL &&
	    sk_X509_num(signers) == 1)
		cli_trust_name(X509_get_subject_name(sk_X509_value(signers, 0)), ts->tsa,
		               sizeof(ts->tsa));
	ts->verified = 1;
	r = 0;
out:
	sk_X509_free(signers);
	TS_VERIFY_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/*
 * The embedded time-stamp of si, if any: verified against the hash of the
 * SignerInfo's signature value.  Returns 0 (with res->ts.present 0 when
 * there is none), or a failure recorded in res.
 */
static int
pkix_cms_ts(CMS_SignerInfo *si, const struct cli_trust *t, struct cli_vresult *res)
{
	const ASN1_OCTET_STRING *sigval = CMS_SignerInfo_get0_signature(si);
	unsigned char imprint[EVP_MAX_MD_SIZE];
	unsigned ilen = 0;
	X509_ATTRIBUTE *attr;
	ASN1_TYPE *v;
	PKCS7 *token = NULL;
	const unsigned char *p;
	const EVP_MD *md;
	char why[512];
	int idx, r;

	idx = CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, -1);
	if (idx < 0)
		return 0;
	res->ts.present = 1;
	if (CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, idx) >= 0)
		return pkix_fail(res, "timestamp",
		                 "more than one signatureTimeStampToken attribute");
	attr = CMS_unsigned_get_attr(si, idx);
	if (X509_ATTRIBUTE_count(attr) != 1 || (v = X509_ATTRIBUTE_get0_type(attr, 0)) == NULL ||
	    v->type != V_ASN1_SEQUENCE)
		return pkix_fail(res, "timestamp",
		                 "the signatureTimeStampToken attribute is not one token");
	p = v->value.sequence->data;
	if ((token = d2i_PKCS7(NULL, &p, v->value.sequence->length)) == NULL ||
	    p != v->value.sequence->data + v->value.sequence->length) {
		r = pkix_fail(res, "timestamp", "the embedded time-stamp token does not parse");
		goto out;
	}
	if ((r = pkix_ts_read(token, &res->ts, &md, why, sizeof(why))) != 0) {
		r = pkix_fail(res, "timestamp", "%s", why);
		goto out;
	}
	if (sigval == NULL ||
	    EVP_Digest(sigval->data, (size_t)sigval->length, imprint, &ilen, md, NULL) != 1) {
		r = pkix_fail(res, "timestamp", "cannot hash the signature value");
		goto out;
	}
	if ((r = pkix_ts_check(token, imprint, ilen, t, &res->ts, why, sizeof(why))) != 0) {
		if (r == SG_ERR_BAD_SIGNATURE)
			r = pkix_fail(res, "timestamp",
			              "the embedded time-stamp does not verify over the signature "
			              "value: %s",
			              why);
		goto out;
	}
	r = 0;
out:
	PKCS7_free(token);
	ERR_clear_error();
	return r;
}

/* Key usage of a code-signing certificate (RFC 5280 4.2.1.3, 4.2.1.12). */
static int
pkix_check_usage(X509 *cert, struct cli_vresult *res)
{
	uint32_t ku = X509_get_key_usage(cert), xku = X509_get_extended_key_usage(cert);

	/* UINT32_MAX: the extension is absent, which allows every usage. */
	if (ku != UINT32_MAX && (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) == 0)
		return pkix_fail(res, "certificate",
		                 "the signer's certificate does not allow digital signatures");
	if (xku != UINT32_MAX && (xku & (XKU_CODE_SIGN | XKU_ANYEKU)) == 0)
		return pkix_fail(res, "certificate",
		                 "the signer's certificate is not for code signing (extended key "
		                 "usage)");
	return 0;
}

/* The signingTime signed attribute, if there is one. */
static void
pkix_signing_time(CMS_SignerInfo *si, struct cli_vresult *res)
{
	X509_ATTRIBUTE *attr;
	ASN1_TYPE *v;
	int idx;

	idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	if (idx < 0 || (attr = CMS_signed_get_attr(si, idx)) == NULL ||
	    X509_ATTRIBUTE_count(attr) != 1 || (v = X509_ATTRIBUTE_get0_type(attr, 0)) == NULL)
		return;
	if (v->type == V_ASN1_UTCTIME || v->type == V_ASN1_GENERALIZEDTIME)
		cli_trust_time(v->value.utctime, res->signing_time, sizeof(res->signing_time));
}

/* Streams the file into a digest context of md held by an md BIO (what CMS compares). */
static int
pkix_hash_into(const char *path, BIO *mdbio, struct cli_vresult *res)
{
	struct cli_file f;
	EVP_MD_CTX *ctx = NULL, *copy = NULL;
	unsigned len = 0;
	int r;

	if ((r = cli_file_open(&f, path, res->reason, sizeof(res->reason))) != 0)
		goto out;
	if (BIO_get_md_ctx(mdbio, &ctx) != 1 || ctx == NULL) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	if ((r = cli_file_stream(&f, &ctx, 1, path, res->reason, sizeof(res->reason))) != 0)
		goto out;
	res->size = f.done;
	/* The file's digest for the report, from a copy: CMS finalises its own copy. */
	if ((copy = EVP_MD_CTX_new()) != NULL && EVP_MD_CTX_copy_ex(copy, ctx) == 1 &&
	    EVP_DigestFinal_ex(copy, res->digest, &len) == 1)
		res->digest_len = len;
	r = 0;
out:
	if (r != 0)
		res->err = r;
	EVP_MD_CTX_free(copy);
	cli_file_close(&f);
	return r;
}

int
cli_verify_cms(const char *path, const unsigned char *der, size_t len, const struct cli_trust *t,
               const EVP_PKEY *want, const char *want_name, struct cli_vresult *res)
{
	CMS_ContentInfo *cms = NULL;
	STACK_OF(CMS_SignerInfo) * sis;
	CMS_SignerInfo *si;
	STACK_OF(X509) *signers = NULL, *certs = NULL, *chain = NULL;
	const struct cli_trust_key *k;
	X509_ALGOR *dig = NULL, *sigalg = NULL;
	const ASN1_OBJECT *dig_obj = NULL, *sig_obj = NULL;
	X509 *signer;
	BIO *empty = NULL, *mdbio = NULL;
	const unsigned char *p = der;
	const EVP_MD *md;
	char why[640];
	time_t at;
	int r;

	memset(res, 0, sizeof(*res));
	res->format = CLI_SIG_CMS;
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL || p != der + len ||
	    OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		r = pkix_fail(res, "format", "not a DER CMS SignedData");
		goto out;
	}
	if (CMS_is_detached(cms) != 1) {
		r = pkix_fail(res, "format",
		              "the CMS carries its content: not a detached signature");
		goto out;
	}
	sis = CMS_get0_SignerInfos(cms);
	if (sk_CMS_SignerInfo_num(sis) != 1) {
		r = pkix_fail(res, "format",
		              "%d signers (signet verify checks CMS with exactly one)",
		              sk_CMS_SignerInfo_num(sis));
		goto out;
	}
	si = sk_CMS_SignerInfo_value(sis, 0);
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sigalg);
	X509_ALGOR_get0(&dig_obj, NULL, NULL, dig);
	X509_ALGOR_get0(&sig_obj, NULL, NULL, sigalg);
	if ((md = pkix_md(dig_obj, res->digest_alg, sizeof(res->digest_alg))) == NULL) {
		r = pkix_fail(res, "signature", "digest algorithm %s is not accepted",
		              res->digest_alg);
		goto out;
	}
	OBJ_obj2txt(res->sig_alg, sizeof(res->sig_alg), sig_obj, 0);
	pkix_signing_time(si, res);

	/*
	 * The signer's certificate and the signature over the signed attributes.
	 * Its path is checked below, at the right time; the content is hashed
	 * by our own reader, so CMS gets an empty stream here.
	 */
	if ((empty = BIO_new_mem_buf("", 0)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if (CMS_verify(cms, t->untrusted, t->store, empty, NULL,
	               CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_NO_CONTENT_VERIFY) != 1) {
		r = pkix_fail(res, "signature", "%s", pkix_ossl_reason());
		goto out;
	}
	if ((signers = CMS_get0_signers(cms)) == NULL || sk_X509_num(signers) != 1) {
		r = pkix_fail(res, "signature", "no signer certificate");
		goto out;
	}
	signer = sk_X509_value(signers, 0);
	pkix_signer(res, signer);

	/* The time the certificate must have been valid at: the time-stamp's, if any. */
	if ((r = pkix_cms_ts(si, t, res)) != 0)
		goto out;
	at = res->ts.verified ? res->ts.gen_time : time(NULL);
	res->checked_by = res->ts.verified ? "timestamp" : "now";
	cli_trust_time_t(at, res->checked_at, sizeof(res->checked_at));
	certs = CMS_get1_certs(cms);
	if ((r = cli_trust_verify_path(t, signer, certs, at, res->ts.verified, &chain, why,
	                               sizeof(why))) != 0) {
		if (r == SG_ERR_BAD_SIGNATURE)
			r = pkix_fail(
			    res, "certificate", "%s, checked at %s (%s)", why, res->checked_at,
			    res->ts.verified ? "the time-stamp's time" : "the current time");
		goto out;
	}
	pkix_chain(res, chain);
	if ((r = pkix_check_usage(signer, res)) != 0)
		goto out;

	if (want != NULL && EVP_PKEY_eq(X509_get0_pubkey(signer), want) != 1) {
		r = pkix_fail(res, "key", "signed with another key than %s", want_name);
		goto out;
	}
	if (want != NULL)
		snprintf(res->key_name, sizeof(res->key_name), "%s", want_name);
	else if ((k = cli_trust_key_by_pub(t, X509_get0_pubkey(signer))) != NULL)
		snprintf(res->key_name, sizeof(res->key_name), "%s", k->name);

	/* Last and longest: the file's digest against the signed one. */
	if ((mdbio = BIO_new(BIO_f_md())) == NULL || BIO_set_md(mdbio, md) != 1) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if ((r = pkix_hash_into(path, mdbio, res)) != 0)
		goto out;
	if (CMS_SignerInfo_verify_content(si, mdbio) != 1) {
		r = pkix_fail(res, "content",
		              "the file's %s digest is not the one that was signed (%s)",
		              res->digest_alg, pkix_ossl_reason());
		goto out;
	}
	r = 0;
out:
	if (r != 0 && res->err == 0)
		res->err = r;
	if (r == SG_ERR_NOMEM)
		snprintf(res->reason, sizeof(res->reason), "out of memory");
	BIO_free(mdbio);
	BIO_free(empty);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_free(signers);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return r;
}

int
cli_verify_ts(const char *path, const unsigned char *der, size_t len, enum cli_sigfmt fmt,
              const struct cli_trust *t, struct cli_vresult *res)
{
	TS_RESP *resp = NULL;
	PKCS7 *token = NULL;
	const TS_STATUS_INFO *si;
	const unsigned char *p = der;
	const EVP_MD *md;
	char why[512];
	long status;
	int r;

	memset(res, 0, sizeof(*res));
	res->format = fmt;
	if (fmt == CLI_SIG_TSR) {
		if ((resp = d2i_TS_RESP(NULL, &p, (long)len)) == NULL || p != der + len) {
			r = pkix_fail(res, "format", "not a DER TimeStampResp");
			goto out;
		}
		si = TS_RESP_get_status_info(resp);
		status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si));
		/* 0 granted, 1 granted with modifications; anything else carries no token. */
		if ((status != 0 && status != 1) || TS_RESP_get_token(resp) == NULL) {
			r = pkix_fail(res, "timestamp",
			              "the TSA did not grant a time-stamp (status %ld)", status);
			goto out;
		}
		token = PKCS7_dup(TS_RESP_get_token(resp));
	} else {
		if ((token = d2i_PKCS7(NULL, &p, (long)len)) == NULL || p != der + len) {
			r = pkix_fail(res, "format", "not a DER time-stamp token");
			goto out;
		}
	}
	if (token == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if ((r = pkix_ts_read(token, &res->ts, &md, why, sizeof(why))) != 0) {
		r = pkix_fail(res, "timestamp", "%s", why);
		goto out;
	}
	if ((r = cli_hash_file(path, md, res->digest, &res->digest_len, &res->size, res->reason,
	                       sizeof(res->reason))) != 0) {
		res->err = r;
		goto out;
	}
	if ((r = pkix_ts_check(token, res->digest, res->digest_len, t, &res->ts, why,
	                       sizeof(why))) != 0) {
		if (r == SG_ERR_BAD_SIGNATURE)
			r = pkix_fail(res, "timestamp", "%s", why);
		goto out;
	}
	cli_trust_time_t(time(NULL), res->checked_at, sizeof(res->checked_at));
	res->checked_by = "now";
	r = 0;
out:
	if (r != 0 && res->err == 0)
		res->err = r;
	if (r == SG_ERR_NOMEM)
		snprintf(res->reason, sizeof(res->reason), "out of memory");
	PKCS7_free(token);
	TS_RESP_free(resp);
	ERR_clear_error();
	return r;
}

int
cli_cms_selfcheck(const unsigned char *der, size_t len, const EVP_MD *md,
                  const unsigned char *digest, size_t digest_len, const EVP_PKEY *pub,
                  const unsigned char *cert, size_t cert_len, int want_ts, char *why,
                  size_t why_len)
{
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	STACK_OF(X509) *signers = NULL;
	const ASN1_OCTET_STRING *mdval, *sigval;
	X509_ALGOR *dig = NULL;
	const ASN1_OBJECT *dig_obj = NULL;
	unsigned char *sder = NULL, imprint[EVP_MAX_MD_SIZE];
	unsigned ilen = 0;
	struct cli_ts_info ts;
	X509_ATTRIBUTE *attr;
	ASN1_TYPE *v;
	PKCS7 *token = NULL;
	TS_VERIFY_CTX *vctx = NULL;
	const unsigned char *p = der;
	const EVP_MD *tmd;
	X509 *signer;
	BIO *empty = NULL;
	int slen, idx, r = SG_ERR_SELF_VERIFY;

	if (len > LONG_MAX || (cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL ||
	    p != der + len || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    CMS_is_detached(cms) != 1 || sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1) {
		snprintf(why, why_len, "not a detached CMS SignedData with one signer");
		goto out;
	}
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
	X509_ALGOR_get0(&dig_obj, NULL, NULL, dig);
	if (OBJ_obj2nid(dig_obj) != EVP_MD_get_type(md)) {
		snprintf(why, why_len, "the CMS uses another digest algorithm than was asked for");
		goto out;
	}
	if ((empty = BIO_new_mem_buf("", 0)) == NULL ||
	    CMS_verify(cms, NULL, NULL, empty, NULL,
	               CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY | CMS_NO_CONTENT_VERIFY) != 1 ||
	    CMS_signed_get_attr_count(si) < 0) {
		snprintf(why, why_len, "the CMS signature does not verify: %s", pkix_ossl_reason());
		goto out;
	}
	if ((signers = CMS_get0_signers(cms)) == NULL || sk_X509_num(signers) != 1 ||
	    (signer = sk_X509_value(signers, 0)) == NULL ||
	    EVP_PKEY_eq(X509_get0_pubkey(signer), pub) != 1) {
		snprintf(why, why_len,
		         "the CMS signer's certificate does not hold the key's public key");
		goto out;
	}
	if (cert != NULL && ((slen = i2d_X509(signer, &sder)) <= 0 || (size_t)slen != cert_len ||
	                     memcmp(sder, cert, cert_len) != 0)) {
		snprintf(why, why_len, "the CMS signer's certificate is not the key's (keys.list)");
		goto out;
	}
	mdval = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3,
	                                    V_ASN1_OCTET_STRING);
	if (mdval == NULL || (size_t)mdval->length != digest_len ||
	    memcmp(mdval->data, digest, digest_len) != 0) {
		snprintf(why, why_len, "the CMS messageDigest is not the file's digest");
		goto out;
	}
	if (want_ts) {
		idx = CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, -1);
		sigval = CMS_SignerInfo_get0_signature(si);
		if (idx < 0 || (attr = CMS_unsigned_get_attr(si, idx)) == NULL ||
		    X509_ATTRIBUTE_count(attr) != 1 ||
		    (v = X509_ATTRIBUTE_get0_type(attr, 0)) == NULL || v->type != V_ASN1_SEQUENCE) {
			snprintf(why, why_len, "the CMS has no embedded time-stamp");
			goto out;
		}
		p = v->value.sequence->data;
		if ((token = d2i_PKCS7(NULL, &p, v->value.sequence->length)) == NULL ||
		    pkix_ts_read(token, &ts, &tmd, why, why_len) != 0 ||
		    EVP_Digest(sigval->data, (size_t)sigval->length, imprint, &ilen, tmd, NULL) !=
		        1) {
			snprintf(why, why_len, "the embedded time-stamp does not parse");
			goto out;
		}
		if ((vctx = TS_VERIFY_CTX_new()) == NULL) {
			r = SG_ERR_NOMEM;
			goto out;
		}
		TS_VERIFY_CTX_set_imprint(vctx, OPENSSL_memdup(imprint, ilen), (long)ilen);
		TS_VERIFY_CTX_set_flags(vctx, TS_VFY_VERSION | TS_VFY_IMPRINT);
		if (TS_RESP_verify_token(vctx, token) != 1) {
			snprintf(why, why_len,
			         "the embedded time-stamp is not over the signature value: %s",
			         pkix_ossl_reason());
			goto out;
		}
	}
	r = 0;
out:
	TS_VERIFY_CTX_free(vctx);
	PKCS7_free(token);
	OPENSSL_free(sder);
	sk_X509_free(signers);
	BIO_free(empty);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return r;
}

int
cli_tsr_selfcheck(const unsigned char *der, size_t len, const unsigned char *imprint,
                  size_t imprint_len, const unsigned char *tsq, size_t tsq_len,
                  struct cli_ts_info *ts, long *status, char *why, size_t why_len)
{
	TS_RESP *resp = NULL;
	TS_REQ *req = NULL;
	TS_VERIFY_CTX *vctx = NULL;
	const unsigned char *p = der;
	const EVP_MD *md;
	int r = SG_ERR_SELF_VERIFY;

	memset(ts, 0, sizeof(*ts));
	*status = -1;
	if (len > LONG_MAX || (resp = d2i_TS_RESP(NULL, &p, (long)len)) == NULL || p != der + len) {
		snprintf(why, why_len, "not a DER TimeStampResp");
		goto out;
	}
	*status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp)));
	if ((*status != 0 && *status != 1) || TS_RESP_get_token(resp) == NULL) {
		snprintf(why, why_len, "the time-stamping authority did not grant it (status %ld)",
		         *status);
		r = SG_ERR_DENIED;
		goto out;
	}
	if (pkix_ts_read(TS_RESP_get_token(resp), ts, &md, why, why_len) != 0)
		goto out;
	if (tsq != NULL) {
		p = tsq;
		if (tsq_len > LONG_MAX || (req = d2i_TS_REQ(NULL, &p, (long)tsq_len)) == NULL ||
		    p != tsq + tsq_len || (vctx = TS_REQ_to_TS_VERIFY_CTX(req, NULL)) == NULL) {
			snprintf(why, why_len, "the request does not parse");
			goto out;
		}
		/* Imprint, nonce and policy of the request; not the signature (no anchors). */
		TS_VERIFY_CTX_set_flags(
		    vctx, TS_VFY_VERSION | TS_VFY_IMPRINT | TS_VFY_NONCE |
		              (TS_REQ_get_policy_id(req) != NULL ? TS_VFY_POLICY : 0));
	} else {
		if ((vctx = TS_VERIFY_CTX_new()) == NULL) {
			r = SG_ERR_NOMEM;
			goto out;
		}
		TS_VERIFY_CTX_set_imprint(vctx, OPENSSL_memdup(imprint, imprint_len),
		                          (long)imprint_len);
		TS_VERIFY_CTX_set_flags(vctx, TS_VFY_VERSION | TS_VFY_IMPRINT);
	}
	if (TS_RESP_verify_response(vctx, resp) != 1) {
		snprintf(why, why_len, "the time-stamp does not answer the request: %s",
		         pkix_ossl_reason());
		goto out;
	}
	r = 0;
out:
	TS_VERIFY_CTX_free(vctx);
	TS_REQ_free(req);
	TS_RESP_free(resp);
	ERR_clear_error();
	return r;
}

static void
pkix_hex(FILE *f, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

void
cli_vresult_print(FILE *f, const struct cli_vresult *res)
{
	size_t i;

	fprintf(f, "format:     %s\n", cli_sigfmt_name(res->format));
	if (res->has_signer) {
		fprintf(f, "signer:     %s\n", res->subject);
		fprintf(f, "issuer:     %s\n", res->issuer);
		fprintf(f, "serial:     %s\n", res->serial);
		fprintf(f, "valid:      %s .. %s\n", res->not_before, res->not_after);
		fprintf(f, "key:        %s (%s, sha256:", res->key_name[0] ? res->key_name : "-",
		        res->key_alg);
		pkix_hex(f, res->key_fp, sizeof(res->key_fp));
		fprintf(f, ")\n");
		fprintf(f, "algorithm:  %s with %s\n", res->sig_alg, res->digest_alg);
		fprintf(f, "signed at:  %s\n",
		        res->signing_time[0] ? res->signing_time : "- (no signingTime attribute)");
		if (res->signing_time[0])
			fprintf(f, "            (signingTime: the signer's claim)\n");
	}
	if (res->ts.present) {
		fprintf(f, "timestamp:  %s%s\n", res->ts.time[0] ? res->ts.time : "?",
		        res->ts.verified ? "" : " (not verified)");
		if (res->ts.tsa[0])
			fprintf(f, "tsa:        %s\n", res->ts.tsa);
		if (res->ts.tsa_name[0])
			fprintf(f, "tsa name:   %s\n", res->ts.tsa_name);
		fprintf(f, "ts serial:  %s\n", res->ts.serial);
		fprintf(f, "ts policy:  %s\n", res->ts.policy);
		if (res->ts.has_accuracy)
			fprintf(f, "accuracy:   %s s\n", res->ts.accuracy);
	}
	for (i = 0; i < res->n_chain; i++)
		fprintf(f, "%s %s\n", i == 0 ? "path:      " : "           ", res->chain[i]);
	if (res->checked_at[0])
		fprintf(f, "checked at: %s (%s)\n", res->checked_at,
		        strcmp(res->checked_by, "timestamp") == 0 ? "the time-stamp's time"
		                                                  : "the current time");
	if (res->digest_len > 0) {
		fprintf(f, "digest:     %s:",
		        res->format == CLI_SIG_CMS ? res->digest_alg : res->ts.hash);
		pkix_hex(f, res->digest, res->digest_len);
		fputc('\n', f);
	}
}

static void
pkix_json_str_or_null(FILE *f, const char *s)
{
	if (s == NULL || s[0] == '\0')
		fputs("null", f);
	else
		sg_json_str(f, s, strlen(s));
}

static void
pkix_json_key(FILE *f, const char *key, const char *s)
{
	fprintf(f, ",\"%s\":", key);
	pkix_json_str_or_null(f, s);
}

void
cli_vresult_json(FILE *f, const struct cli_vresult *res)
{
	size_t i;

	pkix_json_key(f, "format", cli_sigfmt_name(res->format));
	if (res->has_signer) {
		fputs(",\"signer\":{\"subject\":", f);
		pkix_json_str_or_null(f, res->subject);
		pkix_json_key(f, "issuer", res->issuer);
		pkix_json_key(f, "serial", res->serial);
		pkix_json_key(f, "not_before", res->not_before);
		pkix_json_key(f, "not_after", res->not_after);
		fputs("},\"key\":{\"name\":", f);
		pkix_json_str_or_null(f, res->key_name);
		pkix_json_key(f, "alg", res->key_alg);
		fputs(",\"fingerprint\":\"", f);
		pkix_hex(f, res->key_fp, sizeof(res->key_fp));
		fputs("\"}", f);
		pkix_json_key(f, "digest_algorithm", res->digest_alg);
		pkix_json_key(f, "signature_algorithm", res->sig_alg);
		pkix_json_key(f, "signing_time", res->signing_time);
	} else {
		fputs(",\"signer\":null", f);
	}
	if (res->ts.present) {
		fputs(",\"timestamp\":{\"verified\":", f);
		fputs(res->ts.verified ? "true" : "false", f);
		pkix_json_key(f, "time", res->ts.time);
		pkix_json_key(f, "tsa", res->ts.tsa);
		pkix_json_key(f, "tsa_name", res->ts.tsa_name);
		pkix_json_key(f, "serial", res->ts.serial);
		pkix_json_key(f, "policy", res->ts.policy);
		pkix_json_key(f, "hash", res->ts.hash);
		fputs(",\"accuracy\":", f);
		if (res->ts.has_accuracy)
			fputs(res->ts.accuracy, f);
		else
			fputs("null", f);
		pkix_json_key(f, "nonce", res->ts.nonce);
		fputc('}', f);
	} else {
		fputs(",\"timestamp\":null", f);
	}
	fputs(",\"chain\":[", f);
	for (i = 0; i < res->n_chain; i++) {
		if (i > 0)
			fputc(',', f);
		sg_json_str(f, res->chain[i], strlen(res->chain[i]));
	}
	fputc(']', f);
	pkix_json_key(f, "checked_at", res->checked_at);
	pkix_json_key(f, "checked_by", res->checked_by);
	fputs(",\"digest\":", f);
	if (res->digest_len > 0) {
		fputc('"', f);
		pkix_hex(f, res->digest, res->digest_len);
		fputc('"', f);
	} else {
		fputs("null", f);
	}
	pkix_json_key(f, "failed", res->failed);
}
