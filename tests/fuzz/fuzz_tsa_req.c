/*
 * Fuzz target: sg_tsa_begin() on arbitrary bytes as a TimeStampReq, with a
 * fixed test TSA (a self-signed EC P-256 certificate with EKU timeStamping,
 * critical, made once per process) at a fixed time inside its validity.
 *
 * Invariants beyond ASan/UBSan:
 *  - the result is always 0 (the input never makes it fail);
 *  - a rejection has no build, a DER TimeStampResp that decodes exactly
 *    with status rejection(2), no token, a statusString, and exactly the
 *    failure bit reported in *failinfo, which is one of those the header
 *    lists for requests (never systemFailure: the certificate is valid);
 *  - a grant has no response and a digest of the sign hash's length, and the
 *    input is one exact DER TimeStampReq of version 1; signed with the test
 *    key it finishes, and OpenSSL's TS verifier (built from the request:
 *    imprint, nonce, policy, version, signature and chain, at the fixed
 *    time) accepts the response, whose serial is the one given and whose
 *    certificates are there exactly when the request asked for them.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sg_cms.h"
#include "sg_err.h"
#include "sg_tsa.h"

#define SG_FUZZ_SERIAL 42

/* 2024-05-01T12:00:00.25Z; the certificate is valid 2020..2040. */
static const struct timespec sg_now = {1714564800, 250000000};

static struct {
	int ready;
	EVP_PKEY *key;
	X509 *cert;
	struct sg_cms_identity id;
	struct sg_tsa *tsa;
	X509_STORE *store;
} g;

static void
sg_fuzz_init(void)
{
	static const char *const accepted[] = {"1.3.6.1.4.1.55555.1.2"};
	static const char *const exts[] = {"keyUsage", "critical,digitalSignature",
	                                   "extendedKeyUsage", "critical,timeStamping", NULL};
	struct sg_tsa_config cfg = {
	    .policy_oid = "1.3.6.1.4.1.55555.1.1",
	    .accepted_policies = accepted,
	    .n_accepted = 1,
	    .hashes = (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384) | (1u << SG_HASH_SHA512),
	    .accuracy_s = 1,
	    .accuracy_ms = 500,
	    .sign_hash = SG_HASH_SHA256,
	};
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	X509_NAME *name;
	char why[256];
	size_t i;

	SG_FUZZ_CHECK((g.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) != NULL);
	SG_FUZZ_CHECK((g.cert = X509_new()) != NULL);
	SG_FUZZ_CHECK(X509_set_version(g.cert, X509_VERSION_3) == 1);
	SG_FUZZ_CHECK(ASN1_INTEGER_set(X509_get_serialNumber(g.cert), 1) == 1);
	SG_FUZZ_CHECK((name = X509_get_subject_name(g.cert)) != NULL);
	SG_FUZZ_CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                         (const unsigned char *)"fuzz TSA", -1, -1, 0) == 1);
	SG_FUZZ_CHECK(X509_set_issuer_name(g.cert, name) == 1);
	SG_FUZZ_CHECK(ASN1_TIME_set_string(X509_getm_notBefore(g.cert), "20200101000000Z") == 1);
	SG_FUZZ_CHECK(ASN1_TIME_set_string(X509_getm_notAfter(g.cert), "20400101000000Z") == 1);
	SG_FUZZ_CHECK(X509_set_pubkey(g.cert, g.key) == 1);
	X509V3_set_ctx(&ctx, g.cert, g.cert, NULL, NULL, 0);
	for (i = 0; exts[i] != NULL; i += 2) {
		SG_FUZZ_CHECK((e = X509V3_EXT_nconf(NULL, &ctx, exts[i], exts[i + 1])) != NULL);
		SG_FUZZ_CHECK(X509_add_ext(g.cert, e, -1) == 1);
		X509_EXTENSION_free(e);
	}
	SG_FUZZ_CHECK(X509_sign(g.cert, g.key, EVP_sha256()) > 0);
	g.id.cert = g.cert;
	cfg.id = &g.id;
	if ((g.tsa = sg_tsa_new(&cfg, why, sizeof(why))) == NULL)
		sg_fuzz_fail(why, __FILE__, __LINE__);
	/* The verifier's trust: the TSA certificate itself, at the fixed time. */
	SG_FUZZ_CHECK((g.store = X509_STORE_new()) != NULL);
	SG_FUZZ_CHECK(X509_STORE_add_cert(g.store, g.cert) == 1);
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(g.store), sg_now.tv_sec);
	g.ready = 1;
}

static void
sg_check_rejection(const unsigned char *resp, size_t len, int fail)
{
	const unsigned char *p = resp;
	const ASN1_BIT_STRING *fi;
	TS_STATUS_INFO *st;
	TS_RESP *r;
	int bit;

	SG_FUZZ_CHECK(fail == SG_TSA_FAIL_BAD_ALG || fail == SG_TSA_FAIL_BAD_REQUEST ||
	              fail == SG_TSA_FAIL_BAD_DATA_FORMAT || fail == SG_TSA_FAIL_UNACCEPTED_POLICY ||
	              fail == SG_TSA_FAIL_UNACCEPTED_EXTENSION);
	SG_FUZZ_CHECK((r = d2i_TS_RESP(NULL, &p, (long)len)) != NULL && p == resp + len);
	st = TS_RESP_get_status_info(r);
	SG_FUZZ_CHECK(ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(st)) == TS_STATUS_REJECTION);
	SG_FUZZ_CHECK(TS_RESP_get_token(r) == NULL);
	SG_FUZZ_CHECK(sk_ASN1_UTF8STRING_num(TS_STATUS_INFO_get0_text(st)) == 1);
	SG_FUZZ_CHECK((fi = TS_STATUS_INFO_get0_failure_info(st)) != NULL);
	for (bit = 0; bit < 31; bit++)
		SG_FUZZ_CHECK(ASN1_BIT_STRING_get_bit(fi, bit) == ((fail >> bit) & 1));
	TS_RESP_free(r);
}

static void
sg_check_grant(const uint8_t *data, size_t size, const unsigned char *resp, size_t len)
{
	const unsigned char *p = data;
	STACK_OF(X509) *untrusted;
	TS_VERIFY_CTX *ctx;
	TS_REQ *req;
	TS_RESP *r;
	PKCS7 *tok;

	SG_FUZZ_CHECK((req = d2i_TS_REQ(NULL, &p, (long)size)) != NULL && p == data + size);
	SG_FUZZ_CHECK(TS_REQ_get_version(req) == 1);
	p = resp;
	SG_FUZZ_CHECK((r = d2i_TS_RESP(NULL, &p, (long)len)) != NULL && p == resp + len);
	SG_FUZZ_CHECK(ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(r))) ==
	              TS_STATUS_GRANTED);
	SG_FUZZ_CHECK(ASN1_INTEGER_get(TS_TST_INFO_get_serial(TS_RESP_get_tst_info(r))) ==
	              SG_FUZZ_SERIAL);
	SG_FUZZ_CHECK((tok = TS_RESP_get_token(r)) != NULL);
	SG_FUZZ_CHECK((sk_X509_num(tok->d.sign->cert) > 0) == (TS_REQ_get_cert_req(req) != 0));

	SG_FUZZ_CHECK((ctx = TS_REQ_to_TS_VERIFY_CTX(req, NULL)) != NULL);
	TS_VERIFY_CTX_add_flags(ctx, TS_VFY_SIGNATURE);
	SG_FUZZ_CHECK(X509_STORE_up_ref(g.store) == 1);
	TS_VERIFY_CTX_set_store(ctx, g.store);
	SG_FUZZ_CHECK((untrusted = sk_X509_new_null()) != NULL);
	SG_FUZZ_CHECK(X509_up_ref(g.cert) == 1 && sk_X509_push(untrusted, g.cert) > 0);
	TS_VERIFY_CTX_set_certs(ctx, untrusted);
	SG_FUZZ_CHECK(TS_RESP_verify_response(ctx, r) == 1);
	TS_VERIFY_CTX_free(ctx);
	TS_RESP_free(r);
	TS_REQ_free(req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_cms_build *b = NULL;
	unsigned char tbs[SG_HASH_MAX_LEN], sig[128], *resp = NULL;
	size_t tbs_len = 0, resp_len = 0, sig_len = sizeof(sig);
	EVP_PKEY_CTX *pctx;
	int fail = -1, r;

	if (!g.ready)
		sg_fuzz_init();
	r = sg_tsa_begin(g.tsa, data, size, SG_FUZZ_SERIAL, &sg_now, &b, tbs, &tbs_len, &resp,
	                 &resp_len, &fail);
	SG_FUZZ_CHECK(r == 0);
	if (b == NULL) {
		SG_FUZZ_CHECK(resp != NULL && resp_len > 0 && tbs_len == 0);
		sg_check_rejection(resp, resp_len, fail);
		free(resp);
		return 0;
	}
	SG_FUZZ_CHECK(resp == NULL && resp_len == 0 && fail == 0 && tbs_len == 32);
	/* The HSM's part, done with the test key. */
	SG_FUZZ_CHECK((pctx = EVP_PKEY_CTX_new(g.key, NULL)) != NULL);
	SG_FUZZ_CHECK(EVP_PKEY_sign_init(pctx) == 1);
	SG_FUZZ_CHECK(EVP_PKEY_sign(pctx, sig, &sig_len, tbs, tbs_len) == 1);
	EVP_PKEY_CTX_free(pctx);
	SG_FUZZ_CHECK(sg_tsa_finish(b, sig, sig_len, &resp, &resp_len) == 0);
	sg_check_grant(data, size, resp, resp_len);
	free(resp);
	sg_cms_build_free(b);
	return 0;
}
