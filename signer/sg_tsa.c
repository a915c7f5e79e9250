/* sg_tsa: see sg_tsa.h and docs/formats.md. */
#include "sg_tsa.h"
#include "sg_formats_priv.h"
#include "sg_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

/* At most this many accepted policies besides the default one. */
#define SG_TSA_MAX_POLICIES 64
/* statusString texts of sg_tsa_reject(), in bytes. */
#define SG_TSA_MAX_TEXT 1024

#define SG_TSA_FAIL_ALL                                                                            \
	(SG_TSA_FAIL_BAD_ALG | SG_TSA_FAIL_BAD_REQUEST | SG_TSA_FAIL_BAD_DATA_FORMAT |             \
	 SG_TSA_FAIL_TIME_NOT_AVAILABLE | SG_TSA_FAIL_UNACCEPTED_POLICY |                          \
	 SG_TSA_FAIL_UNACCEPTED_EXTENSION | SG_TSA_FAIL_ADD_INFO_NOT_AVAILABLE |                   \
	 SG_TSA_FAIL_SYSTEM_FAILURE)
#define SG_TSA_HASH_BITS ((1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384) | (1u << SG_HASH_SHA512))

_Static_assert(SG_TSA_FAIL_BAD_ALG == 1 << TS_INFO_BAD_ALG, "badAlg bit");
_Static_assert(SG_TSA_FAIL_BAD_REQUEST == 1 << TS_INFO_BAD_REQUEST, "badRequest bit");
_Static_assert(SG_TSA_FAIL_BAD_DATA_FORMAT == 1 << TS_INFO_BAD_DATA_FORMAT, "badDataFormat bit");
_Static_assert(SG_TSA_FAIL_TIME_NOT_AVAILABLE == 1 << TS_INFO_TIME_NOT_AVAILABLE,
               "timeNotAvailable bit");
_Static_assert(SG_TSA_FAIL_UNACCEPTED_POLICY == 1 << TS_INFO_UNACCEPTED_POLICY,
               "unacceptedPolicy bit");
_Static_assert(SG_TSA_FAIL_UNACCEPTED_EXTENSION == 1 << TS_INFO_UNACCEPTED_EXTENSION,
               "unacceptedExtension bit");
_Static_assert(SG_TSA_FAIL_ADD_INFO_NOT_AVAILABLE == 1 << TS_INFO_ADD_INFO_NOT_AVAILABLE,
               "addInfoNotAvailable bit");
_Static_assert(SG_TSA_FAIL_SYSTEM_FAILURE == 1 << TS_INFO_SYSTEM_FAILURE, "systemFailure bit");

struct sg_tsa {
	ASN1_OBJECT *policy;
	ASN1_OBJECT **accepted;
	size_t n_accepted;
	unsigned hashes;
	TS_ACCURACY *accuracy; /* NULL: omitted */
	enum sg_hash sign_hash;
	X509 *cert;                /* own reference */
	STACK_OF(X509) * chain;    /* own references, or NULL */
	struct sg_cms_identity id; /* points at cert and chain */
};

/*
 * PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText
 * OPTIONAL, failInfo PKIFailureInfo OPTIONAL } (RFC 3161 2.4.2), the same
 * shape as OpenSSL's TS_STATUS_INFO.  OpenSSL 3.0 has no setter for the
 * text and failure info of a TS_STATUS_INFO outside its TS_RESP_CTX (which
 * signs with a private key), so a rejection is encoded with this item and
 * decoded as a TS_STATUS_INFO, which checks it against OpenSSL's own type.
 */
typedef struct {
	ASN1_INTEGER *status;
	STACK_OF(ASN1_UTF8STRING) * text;
	ASN1_BIT_STRING *failure_info;
} SG_PKI_STATUS_INFO;

/* clang-format off */
ASN1_SEQUENCE(SG_PKI_STATUS_INFO) = {
	ASN1_SIMPLE(SG_PKI_STATUS_INFO, status, ASN1_INTEGER),
	ASN1_SEQUENCE_OF_OPT(SG_PKI_STATUS_INFO, text, ASN1_UTF8STRING),
	ASN1_OPT(SG_PKI_STATUS_INFO, failure_info, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(SG_PKI_STATUS_INFO)

    /* clang-format on */

    /* ---- responses ----------------------------------------------------------- */

    int sg_tsa_reject(int failinfo, const char *text, unsigned char **resp, size_t *resp_len)
{
	SG_PKI_STATUS_INFO *psi = NULL;
	TS_STATUS_INFO *si = NULL;
	ASN1_UTF8STRING *s = NULL;
	TS_RESP *tr = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	int bit, len, r = SG_ERR_NOMEM;

	if (resp != NULL)
		*resp = NULL;
	if (resp_len != NULL)
		*resp_len = 0;
	if (resp == NULL || resp_len == NULL || failinfo <= 0 || (failinfo & (failinfo - 1)) != 0 ||
	    (failinfo & ~SG_TSA_FAIL_ALL) != 0 ||
	    (text != NULL && strnlen(text, SG_TSA_MAX_TEXT + 1) > SG_TSA_MAX_TEXT))
		return SG_ERR_INVALID_ARG;
	for (bit = 0; (failinfo & (1 << bit)) == 0; bit++)
		;
	psi = (SG_PKI_STATUS_INFO *)ASN1_item_new(ASN1_ITEM_rptr(SG_PKI_STATUS_INFO));
	if (psi == NULL || ASN1_INTEGER_set(psi->status, TS_STATUS_REJECTION) != 1)
		goto out;
	if (text != NULL) {
		if ((psi->text = sk_ASN1_UTF8STRING_new_null()) == NULL ||
		    (s = ASN1_UTF8STRING_new()) == NULL || ASN1_STRING_set(s, text, -1) != 1 ||
		    sk_ASN1_UTF8STRING_push(psi->text, s) <= 0)
			goto out;
		s = NULL;
	}
	if ((psi->failure_info = ASN1_BIT_STRING_new()) == NULL ||
	    ASN1_BIT_STRING_set_bit(psi->failure_info, bit, 1) != 1)
		goto out;
	r = SG_ERR_INTERNAL;
	if ((len = ASN1_item_i2d((ASN1_VALUE *)psi, &der, ASN1_ITEM_rptr(SG_PKI_STATUS_INFO))) <= 0)
		goto out;
	p = der;
	if ((si = d2i_TS_STATUS_INFO(NULL, &p, len)) == NULL || p != der + len)
		goto out;
	if ((tr = TS_RESP_new()) == NULL || TS_RESP_set_status_info(tr, si) != 1)
		goto out;
	r = SG_FMT_DER(TS_RESP, tr, resp, resp_len);
out:
	if (r != 0)
		ERR_clear_error();
	TS_RESP_free(tr);
	TS_STATUS_INFO_free(si);
	OPENSSL_free(der);
	ASN1_UTF8STRING_free(s);
	ASN1_item_free((ASN1_VALUE *)psi, ASN1_ITEM_rptr(SG_PKI_STATUS_INFO));
	return r;
}

/* ---- configuration ------------------------------------------------------- */

/* RFC 3161 2.3: extendedKeyUsage critical, with timeStamping as its only purpose. */
static int
sg_tsa_check_cert(X509 *cert, char *why, size_t why_len)
{
	EXTENDED_KEY_USAGE *eku = NULL;
	int crit = -1, ok = 0;

	eku = X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, NULL);
	if (eku == NULL) {
		sg_whyf(why, why_len, "TSA certificate: %s",
		        crit == -1   ? "no extendedKeyUsage"
		        : crit == -2 ? "extendedKeyUsage appears twice"
		                     : "extendedKeyUsage cannot be decoded");
		goto out;
	}
	if (!crit) {
		sg_whyf(why, why_len, "TSA certificate: extendedKeyUsage must be critical");
		goto out;
	}
	if (sk_ASN1_OBJECT_num(eku) != 1 ||
	    OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)) != NID_time_stamp) {
		sg_whyf(why, why_len,
		        "TSA certificate: extendedKeyUsage must be timeStamping alone");
		goto out;
	}
	/* OpenSSL's own test, which a verifier applies: keyUsage, if any, fits too. */
	if (X509_check_purpose(cert, X509_PURPOSE_TIMESTAMP_SIGN, 0) != 1) {
		sg_whyf(why, why_len,
		        "TSA certificate is not fit for time-stamping (keyUsage must be "
		        "digitalSignature and/or nonRepudiation)");
		goto out;
	}
	ok = 1;
out:
	EXTENDED_KEY_USAGE_free(eku);
	return ok;
}

struct sg_tsa *
sg_tsa_new(const struct sg_tsa_config *cfg, char *why, size_t why_len)
{
	struct sg_tsa *t = NULL;
	ASN1_INTEGER *v = NULL;
	enum sg_keyalg alg;
	size_t i;
	int ok = 0;

	if (why != NULL && why_len > 0)
		why[0] = '\0';
	if (cfg == NULL || cfg->id == NULL || cfg->id->cert == NULL) {
		sg_whyf(why, why_len, "TSA: no configuration or no certificate");
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		sg_whyf(why, why_len, "TSA: out of memory");
		return NULL;
	}
	if ((t->policy = sg_fmt_oid(cfg->policy_oid)) == NULL) {
		sg_whyf(why, why_len, "TSA: default policy is not a dotted OID");
		goto out;
	}
	if (cfg->n_accepted > SG_TSA_MAX_POLICIES ||
	    (cfg->n_accepted > 0 && cfg->accepted_policies == NULL)) {
		sg_whyf(why, why_len, "TSA: at most %d accepted policies", SG_TSA_MAX_POLICIES);
		goto out;
	}
	if (cfg->n_accepted > 0 &&
	    (t->accepted = calloc(cfg->n_accepted, sizeof(*t->accepted))) == NULL) {
		sg_whyf(why, why_len, "TSA: out of memory");
		goto out;
	}
	for (i = 0; i < cfg->n_accepted; i++, t->n_accepted++) {
		if ((t->accepted[i] = sg_fmt_oid(cfg->accepted_policies[i])) == NULL) {
			sg_whyf(why, why_len, "TSA: accepted policy %zu is not a dotted OID",
			        i + 1);
			goto out;
		}
	}
	if (cfg->hashes == 0 || (cfg->hashes & ~SG_TSA_HASH_BITS) != 0) {
		sg_whyf(why, why_len,
		        "TSA: accepted hashes must be some of sha256, sha384, sha512");
		goto out;
	}
	t->hashes = cfg->hashes;
	if (cfg->accuracy_ms > 999 || cfg->accuracy_us > 999) {
		sg_whyf(why, why_len, "TSA: accuracy milliseconds and microseconds are 0..999");
		goto out;
	}
	if (cfg->accuracy_s != 0 || cfg->accuracy_ms != 0 || cfg->accuracy_us != 0) {
		/* Zero components are left out (RFC 3161 2.4.2: missing ones count as 0). */
		if ((t->accuracy = TS_ACCURACY_new()) == NULL || (v = ASN1_INTEGER_new()) == NULL)
			goto nomem;
		if (cfg->accuracy_s != 0 && (ASN1_INTEGER_set_uint64(v, cfg->accuracy_s) != 1 ||
		                             TS_ACCURACY_set_seconds(t->accuracy, v) != 1))
			goto nomem;
		if (cfg->accuracy_ms != 0 && (ASN1_INTEGER_set_uint64(v, cfg->accuracy_ms) != 1 ||
		                              TS_ACCURACY_set_millis(t->accuracy, v) != 1))
			goto nomem;
		if (cfg->accuracy_us != 0 && (ASN1_INTEGER_set_uint64(v, cfg->accuracy_us) != 1 ||
		                              TS_ACCURACY_set_micros(t->accuracy, v) != 1))
			goto nomem;
	}
	if (sg_hash_md(cfg->sign_hash) == NULL) {
		sg_whyf(why, why_len, "TSA: signature hash must be sha256, sha384 or sha512");
		goto out;
	}
	t->sign_hash = cfg->sign_hash;
	if (sg_cms_cert_keyalg(cfg->id->cert, &alg) != 0) {
		sg_whyf(why, why_len,
		        "TSA certificate: key must be EC P-256/P-384 or RSA 2048/3072/4096");
		goto out;
	}
	if (!sg_tsa_check_cert(cfg->id->cert, why, why_len))
		goto out;
	if (X509_up_ref(cfg->id->cert) != 1)
		goto nomem;
	t->cert = cfg->id->cert;
	if (cfg->id->chain != NULL && (t->chain = X509_chain_up_ref(cfg->id->chain)) == NULL)
		goto nomem;
	t->id.cert = t->cert;
	t->id.chain = t->chain;
	ok = 1;
	goto out;
nomem:
	sg_whyf(why, why_len, "TSA: out of memory");
out:
	ASN1_INTEGER_free(v);
	if (!ok) {
		ERR_clear_error();
		sg_tsa_free(t);
		t = NULL;
	}
	return t;
}

void
sg_tsa_free(struct sg_tsa *t)
{
	size_t i;

	if (t == NULL)
		return;
	ASN1_OBJECT_free(t->policy);
	for (i = 0; i < t->n_accepted; i++)
		ASN1_OBJECT_free(t->accepted[i]);
	free(t->accepted);
	TS_ACCURACY_free(t->accuracy);
	X509_free(t->cert);
	sk_X509_pop_free(t->chain, X509_free);
	free(t);
}

/* ---- requests ------------------------------------------------------------ */

/*
 * Checks a request in the order of sg_tsa.h.  Returns 0 with either *fail
 * (an SG_TSA_FAIL_* mask) and *why set, or the parsed request in *out and
 * the policy of the answer in *policy; a negative error only when the
 * checking itself fails.
 */
static int
sg_tsa_check_req(const struct sg_tsa *t, const unsigned char *req, size_t req_len, TS_REQ **out,
                 ASN1_OBJECT **policy, int *fail, const char **why)
{
	TS_REQ *tr = NULL;
	TS_MSG_IMPRINT *imp;
	const ASN1_OBJECT *hobj;
	ASN1_OBJECT *want;
	const void *pval;
	const unsigned char *p = req;
	unsigned char *enc = NULL;
	enum sg_hash h;
	size_t i;
	int ptype, len, r = 0;

	if (req_len == 0 || req_len > SG_TSA_MAX_REQ) {
		*fail = SG_TSA_FAIL_BAD_DATA_FORMAT;
		*why = "TimeStampReq is empty or larger than 16384 bytes";
		goto out;
	}
	if ((tr = d2i_TS_REQ(NULL, &p, (long)req_len)) == NULL) {
		*fail = SG_TSA_FAIL_BAD_DATA_FORMAT;
		*why = "not a TimeStampReq";
		goto out;
	}
	if (p != req + req_len) {
		*fail = SG_TSA_FAIL_BAD_DATA_FORMAT;
		*why = "trailing bytes after the TimeStampReq";
		goto out;
	}
	if ((len = i2d_TS_REQ(tr, &enc)) <= 0) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	/* OpenSSL also decodes BER; the same request encoded again tells DER apart. */
	if ((size_t)len != req_len || memcmp(enc, req, req_len) != 0) {
		*fail = SG_TSA_FAIL_BAD_DATA_FORMAT;
		*why = "TimeStampReq is not DER";
		goto out;
	}
	if (TS_REQ_get_version(tr) != 1) {
		*fail = SG_TSA_FAIL_BAD_REQUEST;
		*why = "TimeStampReq version must be 1";
		goto out;
	}
	imp = TS_REQ_get_msg_imprint(tr);
	X509_ALGOR_get0(&hobj, &ptype, &pval, TS_MSG_IMPRINT_get_algo(imp));
	if (sg_cms_hash_by_obj(hobj, &h) != 0 || (t->hashes & (1u << h)) == 0 ||
	    (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL)) {
		*fail = SG_TSA_FAIL_BAD_ALG;
		*why = "hash algorithm of the messageImprint not accepted";
		goto out;
	}
	if ((size_t)ASN1_STRING_length(TS_MSG_IMPRINT_get_msg(imp)) != sg_hash_len(h)) {
		*fail = SG_TSA_FAIL_BAD_DATA_FORMAT;
		*why = "messageImprint length does not match its hash algorithm";
		goto out;
	}
	if ((want = TS_REQ_get_policy_id(tr)) == NULL || OBJ_cmp(want, t->policy) == 0) {
		*policy = t->policy;
	} else {
		*policy = NULL;
		for (i = 0; i < t->n_accepted && *policy == NULL; i++) {
			if (OBJ_cmp(want, t->accepted[i]) == 0)
				*policy = t->accepted[i];
		}
		if (*policy == NULL) {
			*fail = SG_TSA_FAIL_UNACCEPTED_POLICY;
			*why = "requested policy not accepted";
			goto out;
		}
	}
	if (TS_REQ_get_exts(tr) != NULL) {
		*fail = SG_TSA_FAIL_UNACCEPTED_EXTENSION;
		*why = "no request extension is supported";
		goto out;
	}
	*out = tr;
	tr = NULL;
out:
	OPENSSL_free(enc);
	TS_REQ_free(tr);
	if (*fail != 0)
		ERR_clear_error();
	return r;
}

/* genTime: UTC, milliseconds without trailing zeros, no fraction when it is 0 (RFC 3161 2.4.2). */
static int
sg_tsa_gen_time(const struct timespec *now, ASN1_GENERALIZEDTIME **out)
{
	ASN1_GENERALIZEDTIME *gt;
	struct tm tm;
	char buf[64], frac[8];
	time_t sec = now->tv_sec;
	size_t n;
	int ms;

	*out = NULL;
	if (gmtime_r(&sec, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return SG_ERR_INVALID_ARG;
	ms = (int)(now->tv_nsec / 1000000);
	frac[0] = '\0';
	if (ms != 0) {
		snprintf(frac, sizeof(frac), ".%03d", ms);
		for (n = strlen(frac); frac[n - 1] == '0'; n--)
			frac[n - 1] = '\0';
	}
	snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
	if ((gt = ASN1_GENERALIZEDTIME_new()) == NULL)
		return SG_ERR_NOMEM;
	if (ASN1_GENERALIZEDTIME_set_string(gt, buf) != 1) {
		ASN1_GENERALIZEDTIME_free(gt);
		return SG_ERR_INVALID_ARG;
	}
	*out = gt;
	return 0;
}

/* The DER TSTInfo of the answer to tr (OPENSSL_free()d by the caller). */
static int
sg_tsa_tst_info(const struct sg_tsa *t, TS_REQ *tr, ASN1_OBJECT *policy, uint64_t serial,
                const struct timespec *now, unsigned char **der, int *der_len)
{
	ASN1_GENERALIZEDTIME *gt = NULL;
	TS_TST_INFO *tst = NULL;
	ASN1_INTEGER *sn = NULL;
	const ASN1_INTEGER *nonce;
	int r;

	*der = NULL;
	if ((r = sg_tsa_gen_time(now, &gt)) != 0)
		goto out;
	if ((tst = TS_TST_INFO_new()) == NULL || (sn = ASN1_INTEGER_new()) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	r = SG_ERR_INTERNAL;
	/* Every setter copies its argument. */
	if (TS_TST_INFO_set_version(tst, 1) != 1 || TS_TST_INFO_set_policy_id(tst, policy) != 1 ||
	    TS_TST_INFO_set_msg_imprint(tst, TS_REQ_get_msg_imprint(tr)) != 1 ||
	    ASN1_INTEGER_set_uint64(sn, serial) != 1 || TS_TST_INFO_set_serial(tst, sn) != 1 ||
	    TS_TST_INFO_set_time(tst, gt) != 1 ||
	    (t->accuracy != NULL && TS_TST_INFO_set_accuracy(tst, t->accuracy) != 1) ||
	    TS_TST_INFO_set_ordering(tst, 0) != 1)
		goto out;
	if ((nonce = TS_REQ_get_nonce(tr)) != NULL && TS_TST_INFO_set_nonce(tst, nonce) != 1)
		goto out;
	if ((*der_len = i2d_TS_TST_INFO(tst, der)) <= 0)
		goto out;
	r = 0;
out:
	ASN1_INTEGER_free(sn);
	TS_TST_INFO_free(tst);
	ASN1_GENERALIZEDTIME_free(gt);
	return r;
}

/* notBefore <= now <= notAfter; an undecodable time counts as not valid. */
static int
sg_tsa_cert_valid(const X509 *cert, time_t now)
{
	int nb = ASN1_TIME_cmp_time_t(X509_get0_notBefore(cert), now);
	int na = ASN1_TIME_cmp_time_t(X509_get0_notAfter(cert), now);

	return nb != -2 && nb <= 0 && na >= 0;
}

int
sg_tsa_begin(const struct sg_tsa *t, const unsigned char *req, size_t req_len, uint64_t serial,
             const struct timespec *now, struct sg_cms_build **build,
             unsigned char tbs[SG_HASH_MAX_LEN], size_t *tbs_len, unsigned char **resp,
             size_t *resp_len, int *failinfo)
{
	struct sg_cms_params p;
	ASN1_OBJECT *policy = NULL;
	TS_REQ *tr = NULL;
	unsigned char *tst = NULL;
	const char *why = NULL;
	int fail = 0, tst_len = 0, r;

	if (build != NULL)
		*build = NULL;
	if (tbs_len != NULL)
		*tbs_len = 0;
	if (resp != NULL)
		*resp = NULL;
	if (resp_len != NULL)
		*resp_len = 0;
	if (failinfo != NULL)
		*failinfo = 0;
	if (t == NULL || (req == NULL && req_len > 0) || now == NULL || build == NULL ||
	    tbs == NULL || tbs_len == NULL || resp == NULL || resp_len == NULL ||
	    failinfo == NULL || now->tv_nsec < 0 || now->tv_nsec > 999999999)
		return SG_ERR_INVALID_ARG;
	if ((r = sg_tsa_check_req(t, req, req_len, &tr, &policy, &fail, &why)) != 0)
		goto out;
	if (fail == 0 && !sg_tsa_cert_valid(t->cert, now->tv_sec)) {
		fail = SG_TSA_FAIL_SYSTEM_FAILURE;
		why = "TSA certificate not valid at this time";
	}
	if (fail != 0) {
		if ((r = sg_tsa_reject(fail, why, resp, resp_len)) == 0)
			*failinfo = fail;
		goto out;
	}
	if ((r = sg_tsa_tst_info(t, tr, policy, serial, now, &tst, &tst_len)) != 0)
		goto out;
	memset(&p, 0, sizeof(p));
	p.content_type = NID_id_smime_ct_TSTInfo;
	p.content = tst;
	p.content_len = (size_t)tst_len;
	p.signing_cert_v2 = 1;
	p.no_certs = !TS_REQ_get_cert_req(tr);
	r = sg_cms_begin(&t->id, t->sign_hash, &p, build, tbs, tbs_len);
out:
	if (r != 0)
		ERR_clear_error();
	OPENSSL_free(tst);
	TS_REQ_free(tr);
	return r;
}

int
sg_tsa_finish(struct sg_cms_build *b, const unsigned char *sig, size_t sig_len,
              unsigned char **resp, size_t *resp_len)
{
	const unsigned char *content, *p;
	unsigned char *cms = NULL, *tok = NULL;
	size_t content_len, cms_len = 0;
	TS_STATUS_INFO *st = NULL;
	TS_TST_INFO *tst = NULL;
	TS_RESP *tr = NULL;
	PKCS7 *p7 = NULL;
	int type, len, r;

	if (resp != NULL)
		*resp = NULL;
	if (resp_len != NULL)
		*resp_len = 0;
	if (b == NULL || resp == NULL || resp_len == NULL)
		return SG_ERR_INVALID_ARG;
	if ((r = sg_cms_build_content(b, &type, &content, &content_len)) != 0)
		return r;
	if (type != NID_id_smime_ct_TSTInfo || content == NULL)
		return SG_ERR_INVALID_ARG;
	if ((r = sg_cms_finish(b, sig, sig_len, &cms, &cms_len)) != 0)
		goto out;
	r = SG_ERR_INTERNAL;
	/* OpenSSL's TS_RESP holds the token as a PKCS7: the same DER, decoded as such. */
	p = cms;
	if ((p7 = d2i_PKCS7(NULL, &p, (long)cms_len)) == NULL || p != cms + cms_len)
		goto out;
	p = content;
	if ((tst = d2i_TS_TST_INFO(NULL, &p, (long)content_len)) == NULL ||
	    p != content + content_len)
		goto out;
	if ((tr = TS_RESP_new()) == NULL || (st = TS_STATUS_INFO_new()) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if (TS_STATUS_INFO_set_status(st, TS_STATUS_GRANTED) != 1 ||
	    TS_RESP_set_status_info(tr, st) != 1)
		goto out;
	TS_RESP_set_tst_info(tr, p7, tst);
	p7 = NULL;
	tst = NULL;
	/* The token goes out byte for byte as it was signed and checked. */
	if ((len = i2d_PKCS7(TS_RESP_get_token(tr), &tok)) <= 0 || (size_t)len != cms_len ||
	    memcmp(tok, cms, cms_len) != 0)
		goto out;
	r = SG_FMT_DER(TS_RESP, tr, resp, resp_len);
out:
	if (r != 0)
		ERR_clear_error();
	free(cms);
	OPENSSL_free(tok);
	PKCS7_free(p7);
	TS_TST_INFO_free(tst);
	TS_STATUS_INFO_free(st);
	TS_RESP_free(tr);
	return r;
}

int
sg_tsa_make_request(enum sg_hash hash, const unsigned char *digest, size_t len, int cert_req,
                    const unsigned char *nonce, size_t nonce_len, unsigned char **der,
                    size_t *der_len)
{
	unsigned char d[SG_HASH_MAX_LEN];
	TS_MSG_IMPRINT *imp = NULL;
	X509_ALGOR *alg = NULL;
	ASN1_INTEGER *n = NULL;
	TS_REQ *tr = NULL;
	BIGNUM *bn = NULL;
	const EVP_MD *md;
	int r = SG_ERR_NOMEM;

	if (der != NULL)
		*der = NULL;
	if (der_len != NULL)
		*der_len = 0;
	if (digest == NULL || der == NULL || der_len == NULL || (md = sg_hash_md(hash)) == NULL ||
	    len != sg_hash_len(hash) || nonce_len > SG_TSA_MAX_NONCE ||
	    (nonce == NULL && nonce_len > 0))
		return SG_ERR_INVALID_ARG;
	memcpy(d, digest, len);
	if ((tr = TS_REQ_new()) == NULL || (imp = TS_MSG_IMPRINT_new()) == NULL ||
	    (alg = X509_ALGOR_new()) == NULL)
		goto out;
	r = SG_ERR_INTERNAL;
	/* Hash OID with explicit NULL parameters, as openssl ts -query writes it. */
	if (X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL) != 1 ||
	    TS_MSG_IMPRINT_set_algo(imp, alg) != 1 ||
	    TS_MSG_IMPRINT_set_msg(imp, d, (int)len) != 1 || TS_REQ_set_version(tr, 1) != 1 ||
	    TS_REQ_set_msg_imprint(tr, imp) != 1 || TS_REQ_set_cert_req(tr, cert_req ? 1 : 0) != 1)
		goto out;
	if (nonce_len > 0) {
		if ((bn = BN_bin2bn(nonce, (int)nonce_len, NULL)) == NULL ||
		    (n = BN_to_ASN1_INTEGER(bn, NULL)) == NULL || TS_REQ_set_nonce(tr, n) != 1)
			goto out;
	}
	r = SG_FMT_DER(TS_REQ, tr, der, der_len);
out:
	if (r != 0)
		ERR_clear_error();
	BN_free(bn);
	ASN1_INTEGER_free(n);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(imp);
	TS_REQ_free(tr);
	return r;
}
