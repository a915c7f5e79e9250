/*
 * Unit tests of sg_tsa (and of sg_cms_add_timestamp, which needs a TSA):
 * RFC 3161 requests from `openssl ts -query` and from the TS API, answered
 * in two phases with software keys standing in for the HSM.  The judges
 * are `openssl ts -verify`, `openssl cms -verify` and OpenSSL's
 * TS_RESP_verify_response() with a store holding only the root; fields are
 * read back through OpenSSL's TS, PKCS7 and CMS decoders.
 *
 * PKI: root (P-384) -> intermediate (P-256) -> TSA certificates (EC P-256
 * and RSA-2048, EKU timeStamping critical) and a code-signing leaf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/ts.h>

#include "sg_cms.h"
#include "sg_err.h"
#include "sg_formats_testlib.h"
#include "sg_tsa.h"

#define POLICY "1.3.6.1.4.1.55555.1.1"
#define POLICY2 "1.3.6.1.4.1.55555.1.2"
#define POLICY_BAD "1.3.6.1.4.1.55555.1.3"
#define ALL_HASHES ((1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384) | (1u << SG_HASH_SHA512))

static const char *const g_accepted[] = {POLICY2};

static struct {
	EVP_PKEY *root_key, *int_key, *ec_key, *rsa_key, *cs_key;
	X509 *root, *inter, *tsa_ec, *tsa_rsa, *cs_leaf;
	STACK_OF(X509) * chain;
	struct sg_cms_identity id_ec, id_rsa;
	struct sg_tsa *ec, *rsa;
	unsigned char content[4096];
} g;

static const char *const g_ca_exts[] = {"basicConstraints",
                                        "critical,CA:TRUE",
                                        "keyUsage",
                                        "critical,keyCertSign,cRLSign",
                                        "subjectKeyIdentifier",
                                        "hash",
                                        NULL};
static const char *const g_tsa_exts[] = {"basicConstraints",
                                         "critical,CA:FALSE",
                                         "keyUsage",
                                         "critical,digitalSignature,nonRepudiation",
                                         "extendedKeyUsage",
                                         "critical,timeStamping",
                                         "subjectKeyIdentifier",
                                         "hash",
                                         "authorityKeyIdentifier",
                                         "keyid",
                                         NULL};

static struct sg_tsa *
new_tsa(const struct sg_cms_identity *id, enum sg_hash sign_hash, unsigned hashes)
{
	struct sg_tsa_config cfg = {
	    .policy_oid = POLICY,
	    .accepted_policies = g_accepted,
	    .n_accepted = 1,
	    .hashes = hashes,
	    .accuracy_s = 1,
	    .accuracy_ms = 500,
	    .sign_hash = sign_hash,
	    .id = id,
	};
	char why[256];
	struct sg_tsa *t = sg_tsa_new(&cfg, why, sizeof(why));

	if (t == NULL)
		print_error("sg_tsa_new: %s\n", why);
	assert_non_null(t);
	return t;
}

static int
group_setup(void **state)
{
	static const char *const int_exts[] = {"basicConstraints",
	                                       "critical,CA:TRUE,pathlen:0",
	                                       "keyUsage",
	                                       "critical,keyCertSign,cRLSign",
	                                       "subjectKeyIdentifier",
	                                       "hash",
	                                       "authorityKeyIdentifier",
	                                       "keyid",
	                                       NULL};
	static const char *const cs_exts[] = {"basicConstraints",
	                                      "critical,CA:FALSE",
	                                      "keyUsage",
	                                      "critical,digitalSignature",
	                                      "extendedKeyUsage",
	                                      "codeSigning,emailProtection",
	                                      NULL};
	X509 *pem[2];

	(void)state;
	tl_mkdir();
	g.root_key = tl_key(TL_EC384);
	g.root = tl_cert(NULL, NULL, g.root_key, "Signet test root", -86400, 86400 * 30, g_ca_exts);
	g.int_key = tl_key(TL_EC256);
	g.inter = tl_cert(g.root, g.root_key, g.int_key, "Signet test intermediate", -86400,
	                  86400 * 30, int_exts);
	g.ec_key = tl_key(TL_EC256);
	g.tsa_ec = tl_cert(g.inter, g.int_key, g.ec_key, "TSA EC", -3600, 86400 * 7, g_tsa_exts);
	g.rsa_key = tl_key(TL_RSA2048);
	g.tsa_rsa = tl_cert(g.inter, g.int_key, g.rsa_key, "TSA RSA", -3600, 86400 * 7, g_tsa_exts);
	g.cs_key = tl_key(TL_EC256);
	g.cs_leaf =
	    tl_cert(g.inter, g.int_key, g.cs_key, "code signing", -3600, 86400 * 7, cs_exts);
	assert_non_null(g.chain = sk_X509_new_null());
	assert_true(sk_X509_push(g.chain, g.inter) > 0);
	g.id_ec.cert = g.tsa_ec;
	g.id_ec.chain = g.chain;
	g.id_rsa.cert = g.tsa_rsa;
	g.id_rsa.chain = g.chain;
	g.ec = new_tsa(&g.id_ec, SG_HASH_SHA256, ALL_HASHES);
	g.rsa = new_tsa(&g.id_rsa, SG_HASH_SHA384, ALL_HASHES);
	assert_int_equal(RAND_bytes(g.content, sizeof(g.content)), 1);
	tl_write("content.bin", g.content, sizeof(g.content));
	tl_write_pem("root.pem", &g.root, 1);
	tl_write_pem("chain.pem", &g.inter, 1);
	pem[0] = g.tsa_ec;
	pem[1] = g.inter;
	tl_write_pem("tsa-ec-chain.pem", pem, 2);
	pem[0] = g.tsa_rsa;
	tl_write_pem("tsa-rsa-chain.pem", pem, 2);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	tl_rmdir();
	sg_tsa_free(g.ec);
	sg_tsa_free(g.rsa);
	sk_X509_free(g.chain);
	X509_free(g.cs_leaf);
	X509_free(g.tsa_rsa);
	X509_free(g.tsa_ec);
	X509_free(g.inter);
	X509_free(g.root);
	EVP_PKEY_free(g.cs_key);
	EVP_PKEY_free(g.rsa_key);
	EVP_PKEY_free(g.ec_key);
	EVP_PKEY_free(g.int_key);
	EVP_PKEY_free(g.root_key);
	return 0;
}

static struct timespec
now_ts(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
	return ts;
}

/* Both phases of a request that must be granted; the DER TimeStampResp (malloc'd). */
static unsigned char *
grant(const struct sg_tsa *t, EVP_PKEY *key, enum sg_hash sign_hash, const unsigned char *req,
      size_t req_len, uint64_t serial, const struct timespec *now, size_t *len)
{
	struct sg_cms_build *b = NULL;
	unsigned char tbs[SG_HASH_MAX_LEN], sig[512], *resp = (unsigned char *)"x";
	size_t tbs_len = 0, resp_len = 1, sig_len;
	int fail = -1;

	assert_int_equal(
	    sg_tsa_begin(t, req, req_len, serial, now, &b, tbs, &tbs_len, &resp, &resp_len, &fail),
	    0);
	assert_non_null(b);
	assert_null(resp);
	assert_int_equal(resp_len, 0);
	assert_int_equal(fail, 0);
	assert_int_equal(tbs_len, sg_hash_len(sign_hash));
	sig_len = tl_sign(key, sign_hash, tbs, tbs_len, sig, sizeof(sig));
	assert_int_equal(sg_tsa_finish(b, sig, sig_len, &resp, len), 0);
	assert_non_null(resp);
	assert_int_equal(ERR_peek_error(), 0); /* nothing left behind on success either */
	sg_cms_build_free(b);
	return resp;
}

/* A request that must be rejected with exactly the failure bit fail; returns the response. */
static TS_RESP *
reject(const struct sg_tsa *t, const unsigned char *req, size_t req_len, const struct timespec *now,
       int fail, unsigned char **der, size_t *der_len)
{
	struct sg_cms_build *b = (struct sg_cms_build *)&g;
	unsigned char tbs[SG_HASH_MAX_LEN], *resp = NULL;
	const unsigned char *p;
	const ASN1_BIT_STRING *fi;
	const STACK_OF(ASN1_UTF8STRING) * text;
	size_t tbs_len = 9, resp_len = 0;
	TS_RESP *r;
	int got = -1, bit;

	assert_int_equal(
	    sg_tsa_begin(t, req, req_len, 7, now, &b, tbs, &tbs_len, &resp, &resp_len, &got), 0);
	assert_null(b);
	assert_int_equal(tbs_len, 0);
	assert_non_null(resp);
	assert_int_equal(got, fail);
	p = resp;
	assert_non_null(r = d2i_TS_RESP(NULL, &p, (long)resp_len));
	assert_ptr_equal(p, resp + resp_len);
	assert_int_equal(ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(r))),
	                 TS_STATUS_REJECTION);
	assert_null(TS_RESP_get_token(r));
	assert_non_null(fi = TS_STATUS_INFO_get0_failure_info(TS_RESP_get_status_info(r)));
	for (bit = 0; bit < 32; bit++)
		assert_int_equal(ASN1_BIT_STRING_get_bit(fi, bit), (fail >> bit) & 1);
	text = TS_STATUS_INFO_get0_text(TS_RESP_get_status_info(r));
	assert_int_equal(sk_ASN1_UTF8STRING_num(text), 1);
	assert_true(ASN1_STRING_length(sk_ASN1_UTF8STRING_value(text, 0)) > 0);
	if (der != NULL) {
		*der = resp;
		*der_len = resp_len;
	} else {
		free(resp);
	}
	return r;
}

static int
openssl_ts_verify_data(const char *tsr, const char *data, const char *untrusted, char *out,
                       size_t cap)
{
	char in[512], d[512], ca[512], un[512];
	const char *argv[] = {"openssl", "ts",      "-verify", "-data",      d,  "-in",
	                      in,        "-CAfile", ca,        "-untrusted", un, NULL};

	snprintf(in, sizeof(in), "%s", tl_path(tsr));
	snprintf(d, sizeof(d), "%s", tl_path(data));
	snprintf(ca, sizeof(ca), "%s", tl_path("root.pem"));
	snprintf(un, sizeof(un), "%s", tl_path(untrusted));
	return tl_run(out, cap, argv);
}

/* `openssl ts -query -data content.bin -<hash> -cert` into name; returns the DER. */
static unsigned char *
openssl_query(const char *hash_opt, int cert, const char *name, size_t *len)
{
	char d[512], o[512], out[1024];
	const char *argv[] = {"openssl", "ts",   "-query", "-data", d,
	                      hash_opt,  "-out", o,        NULL,    NULL};

	snprintf(d, sizeof(d), "%s", tl_path("content.bin"));
	snprintf(o, sizeof(o), "%s", tl_path(name));
	if (cert)
		argv[8] = "-cert";
	assert_int_equal(tl_run(out, sizeof(out), argv), 0);
	return tl_read(name, len);
}

/* The round trip: openssl query, our answer, openssl verify; a changed byte fails. */
static void
test_tsa_openssl_query_and_verify(void **state)
{
	static const struct {
		const char *opt;
		int rsa;
	} cases[] = {{"-sha256", 0}, {"-sha384", 0}, {"-sha512", 1}, {"-sha256", 1}};
	struct timespec now = now_ts();
	unsigned char *req, *resp, *bad;
	size_t req_len, resp_len, i;
	char out[4096];

	(void)state;
	assert_non_null(bad = malloc(sizeof(g.content)));
	memcpy(bad, g.content, sizeof(g.content));
	bad[0] ^= 0x40;
	tl_write("tampered.bin", bad, sizeof(g.content));
	free(bad);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req = openssl_query(cases[i].opt, 1, "q.tsq", &req_len);
		resp = cases[i].rsa ? grant(g.rsa, g.rsa_key, SG_HASH_SHA384, req, req_len, 100 + i,
		                            &now, &resp_len)
		                    : grant(g.ec, g.ec_key, SG_HASH_SHA256, req, req_len, 100 + i,
		                            &now, &resp_len);
		tl_write("r.tsr", resp, resp_len);
		assert_int_equal(
		    openssl_ts_verify_data("r.tsr", "content.bin",
		                           cases[i].rsa ? "tsa-rsa-chain.pem" : "tsa-ec-chain.pem",
		                           out, sizeof(out)),
		    0);
		assert_non_null(strstr(out, "Verification: OK"));
		assert_int_not_equal(
		    openssl_ts_verify_data("r.tsr", "tampered.bin",
		                           cases[i].rsa ? "tsa-rsa-chain.pem" : "tsa-ec-chain.pem",
		                           out, sizeof(out)),
		    0);
		assert_non_null(strstr(out, "Verification: FAILED"));
		assert_non_null(strstr(out, "message imprint mismatch"));
		free(resp);
		free(req);
	}
}

/* RFC 6211 attribute of a token's SignerInfo, checked against the SignerInfo (the CMS view). */
typedef struct {
	X509_ALGOR *digest;
	X509_ALGOR *signature;
	X509_ALGOR *mac;
} T_ALG_PROTECTION;

/* clang-format off */
ASN1_SEQUENCE(T_ALG_PROTECTION) = {
	ASN1_SIMPLE(T_ALG_PROTECTION, digest, X509_ALGOR),
	ASN1_IMP_OPT(T_ALG_PROTECTION, signature, X509_ALGOR, 1),
	ASN1_IMP_OPT(T_ALG_PROTECTION, mac, X509_ALGOR, 2),
} static_ASN1_SEQUENCE_END(T_ALG_PROTECTION)

static void check_token_cms(const unsigned char *der, size_t len, const unsigned char *tst,
                            size_t tst_len, X509 *tsa, enum sg_hash sign_hash, int certs);
/* clang-format on */

static void
check_token_cms(const unsigned char *der, size_t len, const unsigned char *tst, size_t tst_len,
                X509 *tsa, enum sg_hash sign_hash, int certs)
{
	const unsigned char *p = der, *q;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	X509_ALGOR *dig, *sig;
	ASN1_OCTET_STRING *os;
	ASN1_OBJECT *ap_oid;
	T_ALG_PROTECTION *ap;
	ESS_SIGNING_CERT_V2 *ess;
	STACK_OF(X509) * one, *got;
	X509_ATTRIBUTE *attr;
	ASN1_TYPE *t;
	unsigned char md[SG_HASH_MAX_LEN];
	int loc;

	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &p, (long)len));
	assert_int_equal(OBJ_obj2nid(CMS_get0_eContentType(cms)), NID_id_smime_ct_TSTInfo);
	assert_non_null(*CMS_get0_content(cms));
	assert_int_equal(ASN1_STRING_length(*CMS_get0_content(cms)), tst_len);
	assert_memory_equal(ASN1_STRING_get0_data(*CMS_get0_content(cms)), tst, tst_len);
	assert_int_equal(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)), 1);
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	assert_int_equal(CMS_SignerInfo_cert_cmp(si, tsa), 0);
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
	assert_int_equal(OBJ_obj2nid(dig->algorithm), EVP_MD_get_type(sg_hash_md(sign_hash)));

	/* contentType, messageDigest, signingCertificateV2, CMSAlgorithmProtection; no signingTime.
	 */
	assert_int_equal(CMS_signed_get_attr_count(si), 4);
	assert_int_equal(CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1), -1);
	t = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_contentType), -3, V_ASN1_OBJECT);
	assert_non_null(t);
	assert_int_equal(OBJ_obj2nid((ASN1_OBJECT *)t), NID_id_smime_ct_TSTInfo);
	os = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3,
	                                 V_ASN1_OCTET_STRING);
	assert_non_null(os);
	tl_digest(sign_hash, tst, tst_len, md);
	assert_int_equal(ASN1_STRING_length(os), sg_hash_len(sign_hash));
	assert_memory_equal(ASN1_STRING_get0_data(os), md, sg_hash_len(sign_hash));

	loc = CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, -1);
	assert_true(loc >= 0);
	t = X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, loc), 0);
	assert_int_equal(t->type, V_ASN1_SEQUENCE);
	q = ASN1_STRING_get0_data(t->value.sequence);
	assert_non_null(
	    ess = d2i_ESS_SIGNING_CERT_V2(NULL, &q, ASN1_STRING_length(t->value.sequence)));
	/* OpenSSL's ESS check: the first ESSCertIDv2 names the TSA certificate (hash, issuer,
	 * serial). */
	assert_non_null(one = sk_X509_new_null());
	assert_true(sk_X509_push(one, tsa) > 0);
	assert_int_equal(OSSL_ESS_check_signing_certs(NULL, ess, one, 1), 1);
	sk_X509_free(one);
	assert_non_null(one = sk_X509_new_null());
	assert_true(sk_X509_push(one, g.inter) > 0);
	assert_int_not_equal(OSSL_ESS_check_signing_certs(NULL, ess, one, 1), 1);
	sk_X509_free(one);
	ERR_clear_error();
	ESS_SIGNING_CERT_V2_free(ess);

	assert_non_null(ap_oid = OBJ_txt2obj("1.2.840.113549.1.9.52", 1));
	assert_true((loc = CMS_signed_get_attr_by_OBJ(si, ap_oid, -1)) >= 0);
	attr = CMS_signed_get_attr(si, loc);
	t = X509_ATTRIBUTE_get0_type(attr, 0);
	q = ASN1_STRING_get0_data(t->value.sequence);
	ap = (T_ALG_PROTECTION *)ASN1_item_d2i(NULL, &q, ASN1_STRING_length(t->value.sequence),
	                                       ASN1_ITEM_rptr(T_ALG_PROTECTION));
	assert_non_null(ap);
	assert_int_equal(X509_ALGOR_cmp(ap->digest, dig), 0);
	assert_non_null(ap->signature);
	assert_int_equal(X509_ALGOR_cmp(ap->signature, sig), 0);
	ASN1_item_free((ASN1_VALUE *)ap, ASN1_ITEM_rptr(T_ALG_PROTECTION));
	ASN1_OBJECT_free(ap_oid);

	got = CMS_get1_certs(cms);
	if (certs) {
		assert_non_null(got);
		assert_int_equal(sk_X509_num(got), 2);
	} else {
		assert_true(got == NULL || sk_X509_num(got) == 0);
	}
	sk_X509_pop_free(got, X509_free);
	CMS_ContentInfo_free(cms);
}

/* The verifier of OpenSSL's TS API, built from the request: imprint, nonce, version, signature. */
static int
ts_verify(TS_REQ *req, const unsigned char *resp, size_t resp_len, X509 *extra)
{
	const unsigned char *p = resp;
	TS_VERIFY_CTX *ctx;
	STACK_OF(X509) * untrusted;
	X509_STORE *store;
	TS_RESP *r;
	int ok;

	assert_non_null(r = d2i_TS_RESP(NULL, &p, (long)resp_len));
	assert_non_null(ctx = TS_REQ_to_TS_VERIFY_CTX(req, NULL));
	TS_VERIFY_CTX_add_flags(ctx, TS_VFY_SIGNATURE);
	assert_non_null(store = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(store, g.root), 1);
	TS_VERIFY_CTX_set_store(ctx, store); /* the context owns it from here */
	assert_non_null(untrusted = sk_X509_new_null());
	assert_int_equal(X509_up_ref(g.inter), 1);
	assert_true(sk_X509_push(untrusted, g.inter) > 0);
	if (extra != NULL) {
		assert_int_equal(X509_up_ref(extra), 1);
		assert_true(sk_X509_push(untrusted, extra) > 0);
	}
	TS_VERIFY_CTX_set_certs(ctx, untrusted);
	ok = TS_RESP_verify_response(ctx, r);
	ERR_clear_error();
	TS_VERIFY_CTX_free(ctx);
	TS_RESP_free(r);
	return ok;
}

/* Every field of a granted response, through OpenSSL's decoders. */
static void
test_tsa_fields(void **state)
{
	static const unsigned char nonce[16] = {0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
	static const unsigned char nonce2[8] = {1, 2, 3, 4, 5, 6, 7, 9};
	struct timespec now = {.tv_sec = 0, .tv_nsec = 250000000};
	unsigned char dig[SG_HASH_MAX_LEN], *req, *resp, *tst = NULL, *tok = NULL;
	const unsigned char *p;
	size_t req_len, resp_len;
	int tst_len, tok_len;
	TS_REQ *tr, *tr2;
	TS_RESP *r;
	TS_TST_INFO *ti;
	TS_ACCURACY *acc;
	PKCS7 *p7;
	ASN1_INTEGER *want;
	ASN1_OBJECT *pol;
	BIGNUM *bn;
	char gt[64];
	struct tm tm;

	(void)state;
	now.tv_sec = time(NULL);
	tl_digest(SG_HASH_SHA384, g.content, sizeof(g.content), dig);
	assert_int_equal(
	    sg_tsa_make_request(SG_HASH_SHA384, dig, 48, 1, nonce, sizeof(nonce), &req, &req_len),
	    0);
	resp = grant(g.ec, g.ec_key, SG_HASH_SHA256, req, req_len, UINT64_MAX, &now, &resp_len);
	p = resp;
	assert_non_null(r = d2i_TS_RESP(NULL, &p, (long)resp_len));
	assert_int_equal(ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(r))),
	                 TS_STATUS_GRANTED);
	assert_null(TS_STATUS_INFO_get0_failure_info(TS_RESP_get_status_info(r)));
	assert_non_null(ti = TS_RESP_get_tst_info(r));
	assert_int_equal(TS_TST_INFO_get_version(ti), 1);
	assert_non_null(pol = OBJ_txt2obj(POLICY, 1));
	assert_int_equal(OBJ_cmp(TS_TST_INFO_get_policy_id(ti), pol), 0);
	ASN1_OBJECT_free(pol);
	/* The imprint as asked, the serial given (2^64 - 1 needs nine octets), the nonce echoed. */
	p = req;
	assert_non_null(tr = d2i_TS_REQ(NULL, &p, (long)req_len));
	assert_int_equal(TS_MSG_IMPRINT_get_msg(TS_TST_INFO_get_msg_imprint(ti))->length, 48);
	assert_memory_equal(TS_MSG_IMPRINT_get_msg(TS_TST_INFO_get_msg_imprint(ti))->data, dig, 48);
	assert_int_equal(
	    OBJ_obj2nid(TS_MSG_IMPRINT_get_algo(TS_TST_INFO_get_msg_imprint(ti))->algorithm),
	    NID_sha384);
	assert_non_null(bn = BN_new());
	assert_int_equal(BN_set_word(bn, UINT64_MAX), 1);
	assert_non_null(want = BN_to_ASN1_INTEGER(bn, NULL));
	assert_int_equal(ASN1_INTEGER_cmp(TS_TST_INFO_get_serial(ti), want), 0);
	ASN1_INTEGER_free(want);
	BN_free(bn);
	assert_non_null(TS_TST_INFO_get_nonce(ti));
	assert_int_equal(ASN1_INTEGER_cmp(TS_TST_INFO_get_nonce(ti), TS_REQ_get_nonce(tr)), 0);
	/* genTime to the millisecond, trailing zero dropped. */
	assert_non_null(gmtime_r(&now.tv_sec, &tm));
	snprintf(gt, sizeof(gt), "%04d%02d%02d%02d%02d%02d.25Z", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	assert_int_equal(TS_TST_INFO_get_time(ti)->length, strlen(gt));
	assert_memory_equal(TS_TST_INFO_get_time(ti)->data, gt, strlen(gt));
	/* Accuracy 1 s 500 ms, micros left out; ordering false, no TSA name, no extensions. */
	assert_non_null(acc = TS_TST_INFO_get_accuracy(ti));
	assert_int_equal(ASN1_INTEGER_get(TS_ACCURACY_get_seconds(acc)), 1);
	assert_int_equal(ASN1_INTEGER_get(TS_ACCURACY_get_millis(acc)), 500);
	assert_null(TS_ACCURACY_get_micros(acc));
	assert_int_equal(TS_TST_INFO_get_ordering(ti), 0);
	assert_null(TS_TST_INFO_get_tsa(ti));
	assert_int_equal(TS_TST_INFO_get_ext_count(ti), 0);

	/* The token: SignedData version 3, signer version 1, certificates asked for. */
	assert_non_null(p7 = TS_RESP_get_token(r));
	assert_int_equal(ASN1_INTEGER_get(p7->d.sign->version), 3);
	assert_int_equal(
	    ASN1_INTEGER_get(sk_PKCS7_SIGNER_INFO_value(p7->d.sign->signer_info, 0)->version), 1);
	assert_int_equal(sk_X509_num(p7->d.sign->cert), 2);
	assert_true((tst_len = i2d_TS_TST_INFO(ti, &tst)) > 0);
	assert_true((tok_len = i2d_PKCS7(p7, &tok)) > 0);
	check_token_cms(tok, (size_t)tok_len, tst, (size_t)tst_len, g.tsa_ec, SG_HASH_SHA256, 1);

	/* OpenSSL's TS verifier: passes with the request's nonce, fails with another. */
	assert_int_equal(ts_verify(tr, resp, resp_len, NULL), 1);
	free(req);
	assert_int_equal(
	    sg_tsa_make_request(SG_HASH_SHA384, dig, 48, 1, nonce2, sizeof(nonce2), &req, &req_len),
	    0);
	p = req;
	assert_non_null(tr2 = d2i_TS_REQ(NULL, &p, (long)req_len));
	assert_int_equal(ts_verify(tr2, resp, resp_len, NULL), 0);
	TS_REQ_free(tr2);
	free(req);
	OPENSSL_free(tok);
	OPENSSL_free(tst);
	TS_REQ_free(tr);
	TS_RESP_free(r);
	free(resp);
}

/* certReq false: no certificates; openssl still verifies with the TSA certificate given. */
static void
test_tsa_cert_req_false(void **state)
{
	struct timespec now = now_ts();
	unsigned char *req, *resp, *tok = NULL, *tst = NULL;
	const unsigned char *p;
	size_t req_len, resp_len;
	int tok_len, tst_len;
	char out[4096];
	TS_RESP *r;
	TS_REQ *tr;

	(void)state;
	req = openssl_query("-sha256", 0, "nc.tsq", &req_len);
	resp = grant(g.rsa, g.rsa_key, SG_HASH_SHA384, req, req_len, 5, &now, &resp_len);
	p = resp;
	assert_non_null(r = d2i_TS_RESP(NULL, &p, (long)resp_len));
	assert_int_equal(sk_X509_num(TS_RESP_get_token(r)->d.sign->cert), -1);
	assert_true((tok_len = i2d_PKCS7(TS_RESP_get_token(r), &tok)) > 0);
	assert_true((tst_len = i2d_TS_TST_INFO(TS_RESP_get_tst_info(r), &tst)) > 0);
	check_token_cms(tok, (size_t)tok_len, tst, (size_t)tst_len, g.tsa_rsa, SG_HASH_SHA384, 0);
	tl_write("nc.tsr", resp, resp_len);
	assert_int_equal(
	    openssl_ts_verify_data("nc.tsr", "content.bin", "tsa-rsa-chain.pem", out, sizeof(out)),
	    0);
	assert_non_null(strstr(out, "Verification: OK"));
	/* Without the TSA certificate there is nothing to verify with. */
	assert_int_not_equal(
	    openssl_ts_verify_data("nc.tsr", "content.bin", "chain.pem", out, sizeof(out)), 0);
	p = req;
	assert_non_null(tr = d2i_TS_REQ(NULL, &p, (long)req_len));
	assert_int_equal(ts_verify(tr, resp, resp_len, NULL), 0);
	assert_int_equal(ts_verify(tr, resp, resp_len, g.tsa_rsa), 1);
	TS_REQ_free(tr);
	OPENSSL_free(tok);
	OPENSSL_free(tst);
	TS_RESP_free(r);
	free(resp);
	free(req);
}

/* A TS_REQ with the given fields, DER in a malloc'd buffer. */
static unsigned char *
make_req(long version, int md_nid, int param_type, size_t dig_len, const char *policy, int ext_crit,
         size_t *len)
{
	unsigned char dig[64] = {1, 2, 3}, *der = NULL, *p;
	TS_MSG_IMPRINT *imp;
	X509_ALGOR *alg;
	ASN1_OBJECT *pol;
	ASN1_INTEGER *i;
	X509_EXTENSION *ext;
	ASN1_OCTET_STRING *ev;
	TS_REQ *r;
	int n;

	assert_non_null(r = TS_REQ_new());
	assert_int_equal(TS_REQ_set_version(r, version), 1);
	assert_non_null(imp = TS_MSG_IMPRINT_new());
	assert_non_null(alg = X509_ALGOR_new());
	if (param_type == V_ASN1_INTEGER) {
		assert_non_null(i = ASN1_INTEGER_new());
		assert_int_equal(ASN1_INTEGER_set(i, 5), 1);
		assert_int_equal(X509_ALGOR_set0(alg, OBJ_nid2obj(md_nid), V_ASN1_INTEGER, i), 1);
	} else {
		assert_int_equal(X509_ALGOR_set0(alg, OBJ_nid2obj(md_nid), param_type, NULL), 1);
	}
	assert_int_equal(TS_MSG_IMPRINT_set_algo(imp, alg), 1);
	assert_int_equal(TS_MSG_IMPRINT_set_msg(imp, dig, (int)dig_len), 1);
	assert_int_equal(TS_REQ_set_msg_imprint(r, imp), 1);
	if (policy != NULL) {
		assert_non_null(pol = OBJ_txt2obj(policy, 1));
		assert_int_equal(TS_REQ_set_policy_id(r, pol), 1);
		ASN1_OBJECT_free(pol);
	}
	if (ext_crit >= 0) {
		assert_non_null(ev = ASN1_OCTET_STRING_new());
		assert_int_equal(ASN1_OCTET_STRING_set(ev, (const unsigned char *)"\x05\x00", 2),
		                 1);
		assert_non_null(pol = OBJ_txt2obj("1.3.6.1.4.1.55555.9", 1));
		assert_non_null(ext = X509_EXTENSION_create_by_OBJ(NULL, pol, ext_crit, ev));
		ASN1_OBJECT_free(pol);
		assert_int_equal(TS_REQ_add_ext(r, ext, -1), 1);
		X509_EXTENSION_free(ext);
		ASN1_OCTET_STRING_free(ev);
	}
	assert_true((n = i2d_TS_REQ(r, NULL)) > 0);
	assert_non_null(der = malloc((size_t)n + 1));
	p = der;
	assert_int_equal(i2d_TS_REQ(r, &p), n);
	*len = (size_t)n;
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(imp);
	TS_REQ_free(r);
	return der;
}

/* Policies: absent and default give the default, an accepted one is used, others refused. */
static void
test_tsa_policies(void **state)
{
	static const char *const asked[] = {NULL, POLICY, POLICY2};
	static const char *const used[] = {POLICY, POLICY, POLICY2};
	struct timespec now = now_ts();
	unsigned char *req, *resp;
	const unsigned char *p;
	size_t req_len, resp_len, i;
	ASN1_OBJECT *want;
	TS_RESP *r;

	(void)state;
	for (i = 0; i < 3; i++) {
		req = make_req(1, NID_sha256, V_ASN1_NULL, 32, asked[i], -1, &req_len);
		resp = grant(g.ec, g.ec_key, SG_HASH_SHA256, req, req_len, i, &now, &resp_len);
		p = resp;
		assert_non_null(r = d2i_TS_RESP(NULL, &p, (long)resp_len));
		assert_non_null(want = OBJ_txt2obj(used[i], 1));
		assert_int_equal(OBJ_cmp(TS_TST_INFO_get_policy_id(TS_RESP_get_tst_info(r)), want),
		                 0);
		ASN1_OBJECT_free(want);
		TS_RESP_free(r);
		free(resp);
		free(req);
	}
	req = make_req(1, NID_sha256, V_ASN1_NULL, 32, POLICY_BAD, -1, &req_len);
	TS_RESP_free(reject(g.ec, req, req_len, &now, SG_TSA_FAIL_UNACCEPTED_POLICY, NULL, NULL));
	free(req);
}

/* Every rejection of the header, each with its one failure bit. */
static void
test_tsa_rejections(void **state)
{
	struct timespec now = now_ts(), early = now_ts(), late = now_ts();
	unsigned char *good, *x, *big, *resp;
	size_t good_len, len, resp_len;
	struct sg_tsa *only256;
	char out[4096];
	const char *argv[] = {"openssl", "ts", "-reply", "-in", NULL, "-text", NULL};
	char in[512];

	(void)state;
	good = openssl_query("-sha256", 1, "good.tsq", &good_len);
	/* badDataFormat: truncated, trailing byte, garbage, empty, oversized, not DER. */
	TS_RESP_free(
	    reject(g.ec, good, good_len - 1, &now, SG_TSA_FAIL_BAD_DATA_FORMAT, NULL, NULL));
	TS_RESP_free(reject(g.ec, good, 10, &now, SG_TSA_FAIL_BAD_DATA_FORMAT, NULL, NULL));
	assert_non_null(x = malloc(good_len + 1));
	memcpy(x, good, good_len);
	x[good_len] = 0;
	TS_RESP_free(reject(g.ec, x, good_len + 1, &now, SG_TSA_FAIL_BAD_DATA_FORMAT, NULL, NULL));
	free(x);
	/* The outer length in long form (30 81 44 for 30 44): valid BER, not DER. */
	assert_true(good_len < 128 && good[0] == 0x30 && good[1] == good_len - 2);
	assert_non_null(x = malloc(good_len + 1));
	x[0] = 0x30;
	x[1] = 0x81;
	memcpy(x + 2, good + 1, good_len - 1);
	TS_RESP_free(reject(g.ec, x, good_len + 1, &now, SG_TSA_FAIL_BAD_DATA_FORMAT, NULL, NULL));
	free(x);
	TS_RESP_free(reject(g.ec, (const unsigned char *)"hello, TSA", 10, &now,
	                    SG_TSA_FAIL_BAD_DATA_FORMAT, NULL, NULL));
	TS_RESP_free(reject(g.ec, NULL, 0, &now, SG_TSA_FAIL_BAD_DATA_FORMAT, NULL, NULL));
	assert_non_null(big = calloc(1, SG_TSA_MAX_REQ + 1));
	memcpy(big, good, good_len);
	TS_RESP_free(
	    reject(g.ec, big, SG_TSA_MAX_REQ + 1, &now, SG_TSA_FAIL_BAD_DATA_FORMAT, NULL, NULL));
	free(big);
	/* Wrong digest length, for the three hashes. */
	x = make_req(1, NID_sha256, V_ASN1_NULL, 20, NULL, -1, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_BAD_DATA_FORMAT, NULL, NULL));
	free(x);
	x = make_req(1, NID_sha384, V_ASN1_NULL, 32, NULL, -1, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_BAD_DATA_FORMAT, NULL, NULL));
	free(x);
	x = make_req(1, NID_sha512, V_ASN1_UNDEF, 63, NULL, -1, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_BAD_DATA_FORMAT, NULL, NULL));
	free(x);
	/* badRequest: version 2 and 0. */
	x = make_req(2, NID_sha256, V_ASN1_NULL, 32, NULL, -1, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_BAD_REQUEST, NULL, NULL));
	free(x);
	x = make_req(0, NID_sha256, V_ASN1_NULL, 32, NULL, -1, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_BAD_REQUEST, NULL, NULL));
	free(x);
	/* badAlg: SHA-1, MD5, an unknown OID, parameters that are not NULL, a hash not accepted. */
	x = make_req(1, NID_sha1, V_ASN1_NULL, 20, NULL, -1, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_BAD_ALG, &resp, &resp_len));
	free(x);
	/* openssl's own reading of one rejection. */
	tl_write("rej.tsr", resp, resp_len);
	free(resp);
	snprintf(in, sizeof(in), "%s", tl_path("rej.tsr"));
	argv[4] = in;
	assert_int_equal(tl_run(out, sizeof(out), argv), 0);
	assert_non_null(strstr(out, "Status: Rejected."));
	assert_non_null(strstr(out, "unrecognized or unsupported algorithm identifier"));
	assert_non_null(strstr(out, "hash algorithm of the messageImprint not accepted"));
	assert_non_null(strstr(out, "TST info:\nNot included."));
	x = make_req(1, NID_md5, V_ASN1_NULL, 16, NULL, -1, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_BAD_ALG, NULL, NULL));
	free(x);
	x = make_req(1, NID_sm3, V_ASN1_UNDEF, 32, NULL, -1, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_BAD_ALG, NULL, NULL));
	free(x);
	x = make_req(1, NID_sha256, V_ASN1_INTEGER, 32, NULL, -1, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_BAD_ALG, NULL, NULL));
	free(x);
	only256 = new_tsa(&g.id_ec, SG_HASH_SHA256, 1u << SG_HASH_SHA256);
	x = make_req(1, NID_sha512, V_ASN1_NULL, 64, NULL, -1, &len);
	TS_RESP_free(reject(only256, x, len, &now, SG_TSA_FAIL_BAD_ALG, NULL, NULL));
	free(resp = grant(g.ec, g.ec_key, SG_HASH_SHA256, x, len, 1, &now, &resp_len));
	free(x);
	sg_tsa_free(only256);
	/* unacceptedExtension: critical or not (RFC 3161 2.4.1). */
	x = make_req(1, NID_sha256, V_ASN1_NULL, 32, NULL, 1, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_UNACCEPTED_EXTENSION, NULL, NULL));
	free(x);
	x = make_req(1, NID_sha256, V_ASN1_NULL, 32, NULL, 0, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_UNACCEPTED_EXTENSION, NULL, NULL));
	free(x);
	/* The order of the checks: version before hash before length before policy. */
	x = make_req(3, NID_md5, V_ASN1_NULL, 3, POLICY_BAD, 1, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_BAD_REQUEST, NULL, NULL));
	free(x);
	x = make_req(1, NID_md5, V_ASN1_NULL, 3, POLICY_BAD, 1, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_BAD_ALG, NULL, NULL));
	free(x);
	x = make_req(1, NID_sha256, V_ASN1_NULL, 3, POLICY_BAD, 1, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_BAD_DATA_FORMAT, NULL, NULL));
	free(x);
	x = make_req(1, NID_sha256, V_ASN1_NULL, 32, POLICY_BAD, 1, &len);
	TS_RESP_free(reject(g.ec, x, len, &now, SG_TSA_FAIL_UNACCEPTED_POLICY, NULL, NULL));
	free(x);
	/* systemFailure: the TSA certificate is not valid yet, or no longer. */
	early.tv_sec -= 7200;
	late.tv_sec += 86400 * 8;
	TS_RESP_free(reject(g.ec, good, good_len, &early, SG_TSA_FAIL_SYSTEM_FAILURE, NULL, NULL));
	TS_RESP_free(reject(g.ec, good, good_len, &late, SG_TSA_FAIL_SYSTEM_FAILURE, NULL, NULL));
	assert_int_equal(ERR_peek_error(), 0);
	free(good);
}

static void
test_tsa_wrong_signature_and_bad_calls(void **state)
{
	struct timespec now = now_ts();
	struct sg_cms_build *b = NULL, *cms = NULL;
	struct sg_cms_identity cs = {g.cs_leaf, g.chain};
	unsigned char tbs[SG_HASH_MAX_LEN], sig[512], dig[32] = {0}, *req, *resp = NULL;
	size_t tbs_len, sig_len, req_len, resp_len = 3;
	int fail;

	(void)state;
	req = openssl_query("-sha256", 1, "w.tsq", &req_len);
	assert_int_equal(
	    sg_tsa_begin(g.ec, req, req_len, 1, &now, &b, tbs, &tbs_len, &resp, &resp_len, &fail),
	    0);
	sig_len = tl_sign(g.cs_key, SG_HASH_SHA256, tbs, tbs_len, sig, sizeof(sig));
	assert_int_equal(sg_tsa_finish(b, sig, sig_len, &resp, &resp_len), SG_ERR_SELF_VERIFY);
	assert_null(resp);
	assert_int_equal(resp_len, 0);
	sig_len = tl_sign(g.ec_key, SG_HASH_SHA256, tbs, tbs_len, sig, sizeof(sig));
	assert_int_equal(sg_tsa_finish(b, sig, 0, &resp, &resp_len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_tsa_finish(NULL, sig, sig_len, &resp, &resp_len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_tsa_finish(b, sig, sig_len, NULL, &resp_len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_tsa_finish(b, sig, sig_len, &resp, &resp_len), 0);
	free(resp);
	sg_cms_build_free(b);

	/* A detached CMS build is not a token. */
	assert_int_equal(
	    sg_cms_begin_detached(&cs, SG_HASH_SHA256, dig, 32, 0, &cms, tbs, &tbs_len), 0);
	sig_len = tl_sign(g.cs_key, SG_HASH_SHA256, tbs, tbs_len, sig, sizeof(sig));
	assert_int_equal(sg_tsa_finish(cms, sig, sig_len, &resp, &resp_len), SG_ERR_INVALID_ARG);
	sg_cms_build_free(cms);

	/* Bad arguments of sg_tsa_begin. */
	assert_int_equal(
	    sg_tsa_begin(NULL, req, req_len, 1, &now, &b, tbs, &tbs_len, &resp, &resp_len, &fail),
	    SG_ERR_INVALID_ARG);
	assert_int_equal(
	    sg_tsa_begin(g.ec, NULL, 5, 1, &now, &b, tbs, &tbs_len, &resp, &resp_len, &fail),
	    SG_ERR_INVALID_ARG);
	assert_int_equal(
	    sg_tsa_begin(g.ec, req, req_len, 1, NULL, &b, tbs, &tbs_len, &resp, &resp_len, &fail),
	    SG_ERR_INVALID_ARG);
	assert_int_equal(
	    sg_tsa_begin(g.ec, req, req_len, 1, &now, &b, tbs, &tbs_len, &resp, &resp_len, NULL),
	    SG_ERR_INVALID_ARG);
	now.tv_nsec = 1000000000;
	assert_int_equal(
	    sg_tsa_begin(g.ec, req, req_len, 1, &now, &b, tbs, &tbs_len, &resp, &resp_len, &fail),
	    SG_ERR_INVALID_ARG);
	now.tv_nsec = -1;
	assert_int_equal(
	    sg_tsa_begin(g.ec, req, req_len, 1, &now, &b, tbs, &tbs_len, &resp, &resp_len, &fail),
	    SG_ERR_INVALID_ARG);
	assert_null(b);
	assert_null(resp);
	free(req);
}

/* genTime fractions: none for .000, trailing zeros dropped, three digits at most. */
static void
test_tsa_gen_time(void **state)
{
	static const struct {
		long ns;
		const char *frac;
	} cases[] = {
	    {0, "Z"},           {999999, "Z"},       {1000000, ".001Z"},  {10000000, ".01Z"},
	    {100000000, ".1Z"}, {120000000, ".12Z"}, {999999999, ".999Z"}};
	struct timespec now;
	unsigned char dig[32] = {9}, *req, *resp;
	const unsigned char *p;
	size_t req_len, resp_len, i;
	const ASN1_GENERALIZEDTIME *gt;
	char want[64];
	struct tm tm;
	TS_RESP *r;

	(void)state;
	assert_int_equal(sg_tsa_make_request(SG_HASH_SHA256, dig, 32, 0, NULL, 0, &req, &req_len),
	                 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		now.tv_sec = time(NULL);
		now.tv_nsec = cases[i].ns;
		resp = grant(g.ec, g.ec_key, SG_HASH_SHA256, req, req_len, i, &now, &resp_len);
		p = resp;
		assert_non_null(r = d2i_TS_RESP(NULL, &p, (long)resp_len));
		gt = TS_TST_INFO_get_time(TS_RESP_get_tst_info(r));
		assert_non_null(gmtime_r(&now.tv_sec, &tm));
		snprintf(want, sizeof(want), "%04d%02d%02d%02d%02d%02d%s", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		         cases[i].frac);
		assert_int_equal(gt->length, strlen(want));
		assert_memory_equal(gt->data, want, strlen(want));
		assert_int_equal(ASN1_TIME_cmp_time_t(gt, now.tv_sec), 0);
		TS_RESP_free(r);
		free(resp);
	}
	free(req);
}

/* Byte for byte what `openssl ts -query -digest ... -no_nonce` writes; nonces; errors. */
static void
test_tsa_make_request(void **state)
{
	static const unsigned char nonce[] = {0x00, 0x00, 0xde, 0xad, 0xbe, 0xef};
	static const struct {
		enum sg_hash h;
		const char *opt;
		int cert;
	} cases[] = {{SG_HASH_SHA256, "-sha256", 1},
	             {SG_HASH_SHA384, "-sha384", 0},
	             {SG_HASH_SHA512, "-sha512", 1}};
	unsigned char dig[SG_HASH_MAX_LEN], *der = NULL, *ref;
	const unsigned char *p;
	char hex[2 * SG_HASH_MAX_LEN + 1], o[512], out[1024];
	const char *argv[] = {"openssl",   "ts",   "-query", "-digest", hex, NULL,
	                      "-no_nonce", "-out", o,        NULL,      NULL};
	size_t len = 0, ref_len, i;
	TS_REQ *r;
	BIGNUM *bn;

	(void)state;
	snprintf(o, sizeof(o), "%s", tl_path("ref.tsq"));
	for (i = 0; i < 3; i++) {
		tl_digest(cases[i].h, g.content, sizeof(g.content), dig);
		tl_hex(dig, sg_hash_len(cases[i].h), hex);
		argv[5] = cases[i].opt;
		argv[9] = cases[i].cert ? "-cert" : NULL;
		assert_int_equal(tl_run(out, sizeof(out), argv), 0);
		ref = tl_read("ref.tsq", &ref_len);
		assert_int_equal(sg_tsa_make_request(cases[i].h, dig, sg_hash_len(cases[i].h),
		                                     cases[i].cert, NULL, 0, &der, &len),
		                 0);
		assert_int_equal(len, ref_len);
		assert_memory_equal(der, ref, len);
		free(ref);
		free(der);
	}
	/* A nonce is the unsigned big-endian number of its bytes. */
	assert_int_equal(
	    sg_tsa_make_request(SG_HASH_SHA256, dig, 32, 0, nonce, sizeof(nonce), &der, &len), 0);
	p = der;
	assert_non_null(r = d2i_TS_REQ(NULL, &p, (long)len));
	assert_non_null(bn = ASN1_INTEGER_to_BN(TS_REQ_get_nonce(r), NULL));
	assert_true(BN_is_word(bn, 0xdeadbeef));
	assert_int_equal(TS_REQ_get_cert_req(r), 0);
	BN_free(bn);
	TS_REQ_free(r);
	free(der);
	/* Errors. */
	assert_int_equal(sg_tsa_make_request(SG_HASH_SHA256, dig, 31, 0, NULL, 0, &der, &len),
	                 SG_ERR_INVALID_ARG);
	assert_null(der);
	assert_int_equal(len, 0);
	assert_int_equal(sg_tsa_make_request(SG_HASH_NONE, dig, 32, 0, NULL, 0, &der, &len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(
	    sg_tsa_make_request(SG_HASH_SHA256, dig, 32, 0, dig, SG_TSA_MAX_NONCE + 1, &der, &len),
	    SG_ERR_INVALID_ARG);
	assert_int_equal(sg_tsa_make_request(SG_HASH_SHA256, dig, 32, 0, NULL, 4, &der, &len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_tsa_make_request(SG_HASH_SHA256, NULL, 32, 0, NULL, 0, &der, &len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_tsa_make_request(SG_HASH_SHA256, dig, 32, 0, NULL, 0, NULL, &len),
	                 SG_ERR_INVALID_ARG);
}

static void
test_tsa_reject_api(void **state)
{
	unsigned char *resp = NULL;
	const unsigned char *p;
	size_t len = 0;
	TS_RESP *r;

	(void)state;
	assert_int_equal(sg_tsa_reject(SG_TSA_FAIL_SYSTEM_FAILURE, "HSM unavailable", &resp, &len),
	                 0);
	p = resp;
	assert_non_null(r = d2i_TS_RESP(NULL, &p, (long)len));
	assert_int_equal(ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(r))),
	                 TS_STATUS_REJECTION);
	assert_int_equal(ASN1_BIT_STRING_get_bit(
	                     TS_STATUS_INFO_get0_failure_info(TS_RESP_get_status_info(r)), 25),
	                 1);
	assert_int_equal(
	    sk_ASN1_UTF8STRING_num(TS_STATUS_INFO_get0_text(TS_RESP_get_status_info(r))), 1);
	TS_RESP_free(r);
	free(resp);
	/* No text at all. */
	assert_int_equal(sg_tsa_reject(SG_TSA_FAIL_TIME_NOT_AVAILABLE, NULL, &resp, &len), 0);
	p = resp;
	assert_non_null(r = d2i_TS_RESP(NULL, &p, (long)len));
	assert_null(TS_STATUS_INFO_get0_text(TS_RESP_get_status_info(r)));
	TS_RESP_free(r);
	free(resp);
	/* Exactly one defined bit. */
	assert_int_equal(sg_tsa_reject(0, "x", &resp, &len), SG_ERR_INVALID_ARG);
	assert_int_equal(
	    sg_tsa_reject(SG_TSA_FAIL_BAD_ALG | SG_TSA_FAIL_BAD_REQUEST, "x", &resp, &len),
	    SG_ERR_INVALID_ARG);
	assert_int_equal(sg_tsa_reject(1 << 3, "x", &resp, &len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_tsa_reject(-1, "x", &resp, &len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_tsa_reject(SG_TSA_FAIL_BAD_ALG, "x", NULL, &len), SG_ERR_INVALID_ARG);
	assert_null(resp);
}

/* Configurations sg_tsa_new() must refuse, each with a reason. */
static void
test_tsa_new_refuses(void **state)
{
	static const char *const no_eku[] = {"keyUsage", "critical,digitalSignature", NULL};
	static const char *const eku_noncrit[] = {"extendedKeyUsage", "timeStamping", NULL};
	static const char *const eku_two[] = {"extendedKeyUsage",
	                                      "critical,timeStamping,codeSigning", NULL};
	static const char *const ku_bad[] = {"keyUsage", "critical,keyCertSign", "extendedKeyUsage",
	                                     "critical,timeStamping", NULL};
	static const char *const bad_oid[] = {"1.2.3.x"};
	const char *const *exts[] = {no_eku, eku_noncrit, eku_two, ku_bad};
	struct sg_cms_identity id = {NULL, NULL};
	struct sg_tsa_config cfg;
	struct sg_tsa_config ok = {.policy_oid = POLICY,
	                           .hashes = 1u << SG_HASH_SHA256,
	                           .sign_hash = SG_HASH_SHA256,
	                           .id = &g.id_ec};
	EVP_PKEY *ed;
	X509 *x;
	char why[256];
	size_t i;
	struct sg_tsa *t;

	(void)state;
	assert_null(sg_tsa_new(NULL, why, sizeof(why)));
	assert_true(strlen(why) > 0);
	/* The minimal configuration is fine; then one thing wrong at a time. */
	assert_non_null(t = sg_tsa_new(&ok, why, sizeof(why)));
	sg_tsa_free(t);
	sg_tsa_free(NULL);
#define REFUSED(field, value, word)                                                                \
	do {                                                                                       \
		cfg = ok;                                                                          \
		cfg.field = value;                                                                 \
		why[0] = '\0';                                                                     \
		assert_null(sg_tsa_new(&cfg, why, sizeof(why)));                                   \
		assert_non_null(strstr(why, word));                                                \
	} while (0)
	REFUSED(policy_oid, NULL, "policy");
	REFUSED(policy_oid, "tsa-policy", "policy");
	REFUSED(policy_oid, "1.2.3 ", "policy");
	REFUSED(policy_oid, "1", "policy");
	REFUSED(policy_oid, "1..2", "policy");
	REFUSED(n_accepted, 1, "accepted");
	cfg = ok;
	cfg.accepted_policies = bad_oid;
	cfg.n_accepted = 1;
	assert_null(sg_tsa_new(&cfg, why, sizeof(why)));
	assert_non_null(strstr(why, "accepted policy 1"));
	REFUSED(hashes, 0, "hashes");
	REFUSED(hashes, 1u << SG_HASH_NONE, "hashes");
	REFUSED(hashes, (1u << SG_HASH_SHA256) | (1u << 4), "hashes");
	REFUSED(accuracy_ms, 1000, "accuracy");
	REFUSED(accuracy_us, 1000, "accuracy");
	REFUSED(sign_hash, SG_HASH_NONE, "signature hash");
	REFUSED(id, NULL, "certificate");
	REFUSED(id, &id, "certificate");
	/* Certificates unfit for time-stamping. */
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		x = tl_cert(g.inter, g.int_key, g.ec_key, "unfit TSA", -3600, 86400, exts[i]);
		id.cert = x;
		REFUSED(id, &id, "TSA certificate");
		X509_free(x);
	}
	ed = tl_key(TL_ED25519);
	x = tl_cert(g.inter, g.int_key, ed, "ed25519 TSA", -3600, 86400, g_tsa_exts);
	id.cert = x;
	REFUSED(id, &id, "key must be");
	X509_free(x);
	EVP_PKEY_free(ed);
#undef REFUSED
	assert_int_equal(ERR_peek_error(), 0);
}

/*
 * RFC 3161 appendix A: a CMS signature time-stamped over its signature
 * value still verifies with openssl cms, and the embedded token verifies
 * with openssl ts against the SHA-256 of the signature value.
 */
static void
test_cms_add_timestamp(void **state)
{
	struct sg_cms_identity id = {g.cs_leaf, g.chain};
	struct timespec now = now_ts();
	struct sg_cms_build *b = NULL;
	unsigned char dig[SG_HASH_MAX_LEN], tbs[SG_HASH_MAX_LEN], sig[512], *cms, *v, *req, *tsr,
	    *out2 = NULL, *out3 = NULL, *v2, *rej, *other;
	size_t tbs_len, sig_len, cms_len, vlen, req_len, tsr_len, out_len, out3_len, v2len, rej_len,
	    other_len;
	unsigned char nonce[8];
	const unsigned char *p;
	CMS_ContentInfo *c;
	CMS_SignerInfo *si;
	X509_ATTRIBUTE *attr;
	ASN1_TYPE *t;
	char hex[2 * SG_HASH_MAX_LEN + 1], in[512], content[512], ca[512], un[512], tok[512],
	    outbuf[4096];
	const char *cms_verify[] = {"openssl", "cms", "-verify", "-binary",   "-inform",
	                            "DER",     "-in", in,        "-content",  content,
	                            "-CAfile", ca,    "-out",    "/dev/null", NULL};
	const char *ts_verify_argv[] = {"openssl",    "ts",  "-verify", "-digest", hex,
	                                "-token_in",  "-in", tok,       "-CAfile", ca,
	                                "-untrusted", un,    NULL};

	(void)state;
	tl_digest(SG_HASH_SHA256, g.content, sizeof(g.content), dig);
	assert_int_equal(
	    sg_cms_begin_detached(&id, SG_HASH_SHA256, dig, 32, now.tv_sec, &b, tbs, &tbs_len), 0);
	sig_len = tl_sign(g.cs_key, SG_HASH_SHA256, tbs, tbs_len, sig, sizeof(sig));
	assert_int_equal(sg_cms_finish(b, sig, sig_len, &cms, &cms_len), 0);
	sg_cms_build_free(b);

	/* The client's side: hash the signature value, ask the TSA, embed the token. */
	assert_int_equal(sg_cms_signature_value(cms, cms_len, &v, &vlen), 0);
	tl_digest(SG_HASH_SHA256, v, vlen, dig);
	assert_int_equal(RAND_bytes(nonce, sizeof(nonce)), 1);
	assert_int_equal(
	    sg_tsa_make_request(SG_HASH_SHA256, dig, 32, 1, nonce, sizeof(nonce), &req, &req_len),
	    0);
	tsr = grant(g.rsa, g.rsa_key, SG_HASH_SHA384, req, req_len, 77, &now, &tsr_len);
	assert_int_equal(sg_cms_add_timestamp(cms, cms_len, tsr, tsr_len, &out2, &out_len), 0);

	/* Still the same signature, still verifies. */
	assert_int_equal(sg_cms_signature_value(out2, out_len, &v2, &v2len), 0);
	assert_int_equal(v2len, vlen);
	assert_memory_equal(v2, v, vlen);
	free(v2);
	tl_write("ts.p7s", out2, out_len);
	snprintf(in, sizeof(in), "%s", tl_path("ts.p7s"));
	snprintf(content, sizeof(content), "%s", tl_path("content.bin"));
	snprintf(ca, sizeof(ca), "%s", tl_path("root.pem"));
	snprintf(un, sizeof(un), "%s", tl_path("tsa-rsa-chain.pem"));
	snprintf(tok, sizeof(tok), "%s", tl_path("token.der"));
	assert_int_equal(tl_run(outbuf, sizeof(outbuf), cms_verify), 0);
	assert_non_null(strstr(outbuf, "Verification successful"));

	/* The token: the one unsigned attribute id-aa-signatureTimeStampToken. */
	p = out2;
	assert_non_null(c = d2i_CMS_ContentInfo(NULL, &p, (long)out_len));
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(c), 0);
	assert_int_equal(CMS_unsigned_get_attr_count(si), 1);
	attr = CMS_unsigned_get_attr(si, 0);
	assert_int_equal(OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attr)),
	                 NID_id_smime_aa_timeStampToken);
	assert_int_equal(X509_ATTRIBUTE_count(attr), 1);
	t = X509_ATTRIBUTE_get0_type(attr, 0);
	assert_int_equal(t->type, V_ASN1_SEQUENCE);
	tl_write("token.der", ASN1_STRING_get0_data(t->value.sequence),
	         (size_t)ASN1_STRING_length(t->value.sequence));
	CMS_ContentInfo_free(c);
	tl_hex(dig, 32, hex);
	assert_int_equal(tl_run(outbuf, sizeof(outbuf), ts_verify_argv), 0);
	assert_non_null(strstr(outbuf, "Verification: OK"));
	/* Over another value it fails. */
	hex[0] = hex[0] == '0' ? '1' : '0';
	assert_int_not_equal(tl_run(outbuf, sizeof(outbuf), ts_verify_argv), 0);
	assert_non_null(strstr(outbuf, "message imprint mismatch"));

	/* Refused: a second token, a token over something else, a rejection, garbage. */
	assert_int_equal(sg_cms_add_timestamp(out2, out_len, tsr, tsr_len, &out3, &out3_len),
	                 SG_ERR_INVALID_ARG);
	assert_null(out3);
	assert_int_equal(out3_len, 0);
	free(req);
	dig[5] ^= 1;
	assert_int_equal(sg_tsa_make_request(SG_HASH_SHA256, dig, 32, 1, NULL, 0, &req, &req_len),
	                 0);
	other = grant(g.ec, g.ec_key, SG_HASH_SHA256, req, req_len, 78, &now, &other_len);
	assert_int_equal(sg_cms_add_timestamp(cms, cms_len, other, other_len, &out3, &out3_len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_tsa_reject(SG_TSA_FAIL_SYSTEM_FAILURE, "down", &rej, &rej_len), 0);
	assert_int_equal(sg_cms_add_timestamp(cms, cms_len, rej, rej_len, &out3, &out3_len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_cms_add_timestamp(cms, cms_len, tsr, tsr_len - 1, &out3, &out3_len),
	                 SG_ERR_MALFORMED);
	assert_int_equal(sg_cms_add_timestamp(cms, cms_len, cms, cms_len, &out3, &out3_len),
	                 SG_ERR_MALFORMED);
	assert_int_equal(sg_cms_add_timestamp(tsr, tsr_len, tsr, tsr_len, &out3, &out3_len),
	                 SG_ERR_MALFORMED);
	assert_int_equal(
	    sg_cms_add_timestamp(cms, cms_len, tsr, SG_CMS_MAX_DER + 1, &out3, &out3_len),
	    SG_ERR_TOO_LARGE);
	assert_int_equal(sg_cms_add_timestamp(cms, cms_len, NULL, 1, &out3, &out3_len),
	                 SG_ERR_INVALID_ARG);
	assert_null(out3);
	assert_int_equal(ERR_peek_error(), 0);
	free(rej);
	free(other);
	free(req);
	free(tsr);
	free(v);
	free(out2);
	free(cms);
}

/*
 * One TSA, four threads: every grant finishes (its signature checked by
 * sg_tsa_finish) with its own serial.  No assertion inside the threads.
 */
struct worker {
	pthread_t th;
	int id, ok;
	unsigned char *req;
	size_t req_len;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct timespec now;
	struct sg_cms_build *b;
	unsigned char tbs[SG_HASH_MAX_LEN], sig[128], *resp;
	const unsigned char *p;
	size_t tbs_len, resp_len, sig_len;
	EVP_PKEY_CTX *c;
	TS_RESP *r;
	int i, fail;

	for (i = 0; i < 25; i++) {
		clock_gettime(CLOCK_REALTIME, &now);
		if (sg_tsa_begin(g.ec, w->req, w->req_len, (uint64_t)(w->id * 1000 + i), &now, &b,
		                 tbs, &tbs_len, &resp, &resp_len, &fail) != 0 ||
		    b == NULL)
			return NULL;
		sig_len = sizeof(sig);
		c = EVP_PKEY_CTX_new(g.ec_key, NULL);
		if (c == NULL || EVP_PKEY_sign_init(c) != 1 ||
		    EVP_PKEY_sign(c, sig, &sig_len, tbs, tbs_len) != 1 ||
		    sg_tsa_finish(b, sig, sig_len, &resp, &resp_len) != 0) {
			EVP_PKEY_CTX_free(c);
			sg_cms_build_free(b);
			return NULL;
		}
		EVP_PKEY_CTX_free(c);
		sg_cms_build_free(b);
		p = resp;
		r = d2i_TS_RESP(NULL, &p, (long)resp_len);
		if (r != NULL && ASN1_INTEGER_get(TS_TST_INFO_get_serial(
		                     TS_RESP_get_tst_info(r))) == w->id * 1000 + i)
			w->ok++;
		TS_RESP_free(r);
		free(resp);
	}
	return NULL;
}

static void
test_tsa_threads(void **state)
{
	struct worker w[4];
	unsigned char dig[32] = {0};
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		w[i].id = i + 1;
		w[i].ok = 0;
		dig[0] = (unsigned char)i;
		assert_int_equal(sg_tsa_make_request(SG_HASH_SHA256, dig, 32, i & 1, dig, 8,
		                                     &w[i].req, &w[i].req_len),
		                 0);
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&w[i].th, NULL, worker_run, &w[i]), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_join(w[i].th, NULL), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(w[i].ok, 25);
		free(w[i].req);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsa_openssl_query_and_verify),
	    cmocka_unit_test(test_tsa_fields),
	    cmocka_unit_test(test_tsa_cert_req_false),
	    cmocka_unit_test(test_tsa_policies),
	    cmocka_unit_test(test_tsa_rejections),
	    cmocka_unit_test(test_tsa_wrong_signature_and_bad_calls),
	    cmocka_unit_test(test_tsa_gen_time),
	    cmocka_unit_test(test_tsa_make_request),
	    cmocka_unit_test(test_tsa_reject_api),
	    cmocka_unit_test(test_tsa_new_refuses),
	    cmocka_unit_test(test_cms_add_timestamp),
	    cmocka_unit_test(test_tsa_threads),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
