/*
 * Fuzz target: sg_ocsp_parse_request() on arbitrary bytes (an OCSPRequest
 * from the network), checked against OpenSSL's own OCSP_REQUEST decoder,
 * then a response to every accepted request built by sg_ocsp_begin() and
 * sg_ocsp_finish() with a fixed test CA (a self-signed EC P-256 certificate
 * made once per process) and its key standing in for the HSM.
 *
 * Invariants beyond ASan/UBSan:
 *  - the result is 0 or SG_ERR_MALFORMED; on failure *n and *nonce_len are
 *    0; OpenSSL's error queue is left empty;
 *  - an accepted request has 1..16 CertIDs, each with a hash OpenSSL names
 *    (SHA-1/256/384/512) and hashes of its length, a serial of 1..20 bytes
 *    without a leading zero byte (but for zero itself), and a nonce of at
 *    most 32 bytes;
 *  - differential: d2i_OCSP_REQUEST() decodes the same bytes exactly, with
 *    the same CertIDs in the same order (hash OID, both hashes, serial) and
 *    the same nonce (its extension value is the DER OCTET STRING of the
 *    nonce; no nonce extension when none was reported);
 *  - the queries, rewritten to name the test CA (same hash, same serials),
 *    always give a response; OpenSSL verifies it (OCSP_basic_verify with
 *    the CA trusted), finds each CertID with the status given, and
 *    OCSP_check_nonce() agrees with the request OpenSSL decoded.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sg_err.h"
#include "sg_ocsp.h"

/* 2024-05-01T12:00:00Z; the CA is valid 2020..2040. */
#define SG_FUZZ_NOW 1714564800

static struct {
	int ready;
	EVP_PKEY *key;
	X509 *ca;
	X509_STORE *store;
	STACK_OF(X509) * certs;
} g;

static void
sg_fuzz_init(void)
{
	static const char *const exts[] = {"basicConstraints",
	                                   "critical,CA:TRUE",
	                                   "keyUsage",
	                                   "critical,keyCertSign,cRLSign",
	                                   "subjectKeyIdentifier",
	                                   "hash",
	                                   NULL};
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	X509_NAME *name;
	size_t i;

	SG_FUZZ_CHECK((g.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) != NULL);
	SG_FUZZ_CHECK((g.ca = X509_new()) != NULL);
	SG_FUZZ_CHECK(X509_set_version(g.ca, X509_VERSION_3) == 1);
	SG_FUZZ_CHECK(ASN1_INTEGER_set(X509_get_serialNumber(g.ca), 1) == 1);
	SG_FUZZ_CHECK((name = X509_get_subject_name(g.ca)) != NULL);
	SG_FUZZ_CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                         (const unsigned char *)"fuzz OCSP CA", -1, -1,
	                                         0) == 1);
	SG_FUZZ_CHECK(X509_set_issuer_name(g.ca, name) == 1);
	SG_FUZZ_CHECK(ASN1_TIME_set_string(X509_getm_notBefore(g.ca), "20200101000000Z") == 1);
	SG_FUZZ_CHECK(ASN1_TIME_set_string(X509_getm_notAfter(g.ca), "20400101000000Z") == 1);
	SG_FUZZ_CHECK(X509_set_pubkey(g.ca, g.key) == 1);
	X509V3_set_ctx(&ctx, g.ca, g.ca, NULL, NULL, 0);
	for (i = 0; exts[i] != NULL; i += 2) {
		SG_FUZZ_CHECK((e = X509V3_EXT_nconf(NULL, &ctx, exts[i], exts[i + 1])) != NULL);
		SG_FUZZ_CHECK(X509_add_ext(g.ca, e, -1) == 1);
		X509_EXTENSION_free(e);
	}
	SG_FUZZ_CHECK(X509_sign(g.ca, g.key, EVP_sha256()) > 0);
	SG_FUZZ_CHECK((g.store = X509_STORE_new()) != NULL);
	SG_FUZZ_CHECK(X509_STORE_add_cert(g.store, g.ca) == 1);
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(g.store), SG_FUZZ_NOW);
	SG_FUZZ_CHECK((g.certs = sk_X509_new_null()) != NULL);
	SG_FUZZ_CHECK(sk_X509_push(g.certs, g.ca) > 0);
	g.ready = 1;
}

static const EVP_MD *
sg_md(int nid)
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

static ASN1_INTEGER *
sg_serial(const struct sg_ocsp_query *q)
{
	BIGNUM *bn;
	ASN1_INTEGER *ai;

	SG_FUZZ_CHECK((bn = BN_bin2bn(q->serial, (int)q->serial_len, NULL)) != NULL);
	SG_FUZZ_CHECK((ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL);
	BN_free(bn);
	return ai;
}

/* The request as OpenSSL decodes it agrees with the queries and the nonce. */
static OCSP_REQUEST *
sg_check_openssl(const uint8_t *data, size_t size, const struct sg_ocsp_query *q, size_t n,
                 const unsigned char *nonce, size_t nonce_len)
{
	const unsigned char *p = data;
	ASN1_OCTET_STRING *nh, *kh, *os;
	ASN1_OBJECT *alg;
	ASN1_INTEGER *serial, *want;
	OCSP_REQUEST *req;
	OCSP_CERTID *id;
	X509_EXTENSION *e;
	unsigned char *der = NULL;
	size_t i;
	int idx, len;

	SG_FUZZ_CHECK((req = d2i_OCSP_REQUEST(NULL, &p, (long)size)) != NULL && p == data + size);
	SG_FUZZ_CHECK(OCSP_request_onereq_count(req) == (int)n);
	for (i = 0; i < n; i++) {
		id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, (int)i));
		SG_FUZZ_CHECK(OCSP_id_get0_info(&nh, &alg, &kh, &serial, id) == 1);
		SG_FUZZ_CHECK(OBJ_obj2nid(alg) == q[i].id_hash);
		SG_FUZZ_CHECK((size_t)ASN1_STRING_length(nh) == q[i].hash_len &&
		              memcmp(ASN1_STRING_get0_data(nh), q[i].name_hash, q[i].hash_len) ==
		                  0);
		SG_FUZZ_CHECK((size_t)ASN1_STRING_length(kh) == q[i].hash_len &&
		              memcmp(ASN1_STRING_get0_data(kh), q[i].key_hash, q[i].hash_len) == 0);
		want = sg_serial(&q[i]);
		SG_FUZZ_CHECK(ASN1_INTEGER_cmp(serial, want) == 0);
		ASN1_INTEGER_free(want);
	}
	idx = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
	if (nonce_len == 0) {
		SG_FUZZ_CHECK(idx < 0);
	} else {
		SG_FUZZ_CHECK(idx >= 0 && (e = OCSP_REQUEST_get_ext(req, idx)) != NULL);
		SG_FUZZ_CHECK((os = ASN1_OCTET_STRING_new()) != NULL);
		SG_FUZZ_CHECK(ASN1_OCTET_STRING_set(os, nonce, (int)nonce_len) == 1);
		SG_FUZZ_CHECK((len = i2d_ASN1_OCTET_STRING(os, &der)) > 0);
		SG_FUZZ_CHECK(ASN1_STRING_length(X509_EXTENSION_get_data(e)) == len &&
		              memcmp(ASN1_STRING_get0_data(X509_EXTENSION_get_data(e)), der,
		                     (size_t)len) == 0);
		OPENSSL_free(der);
		ASN1_OCTET_STRING_free(os);
	}
	return req;
}

/* Answers the queries (rewritten to name the test CA) and checks the response. */
static void
sg_check_response(OCSP_REQUEST *req, struct sg_ocsp_query *q, size_t n, const unsigned char *nonce,
                  size_t nonce_len)
{
	static const int reasons[] = {-1, 0, 1, 2, 3, 4, 5, 6, 9, 10};
	struct sg_ocsp_status st[SG_OCSP_MAX_QUERIES];
	struct sg_ocsp_build *b = NULL;
	unsigned char tbs[SG_HASH_MAX_LEN], sig[128], *der = NULL;
	const unsigned char *p;
	size_t tbs_len = 0, sig_len = sizeof(sig), len = 0, i;
	unsigned int hl = 0;
	EVP_PKEY_CTX *pctx;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	OCSP_CERTID *id;
	ASN1_INTEGER *serial;
	int status, reason, last;

	for (i = 0; i < n; i++) {
		const EVP_MD *md = sg_md(q[i].id_hash);

		SG_FUZZ_CHECK(
		    X509_NAME_digest(X509_get_subject_name(g.ca), md, q[i].name_hash, &hl) == 1);
		SG_FUZZ_CHECK(X509_pubkey_digest(g.ca, md, q[i].key_hash, &hl) == 1);
		SG_FUZZ_CHECK(sg_ocsp_query_matches(&q[i], g.ca) == 1);
		last = q[i].serial[q[i].serial_len - 1];
		st[i].status = last % 3;
		st[i].revoked_at = SG_FUZZ_NOW - 60 * last;
		st[i].reason = reasons[last % 10];
	}
	SG_FUZZ_CHECK(sg_ocsp_begin(g.ca, g.ca, q, st, n, nonce, nonce_len, SG_FUZZ_NOW,
	                            SG_FUZZ_NOW + 3600, SG_HASH_SHA256, &b, tbs, &tbs_len) == 0);
	SG_FUZZ_CHECK((pctx = EVP_PKEY_CTX_new(g.key, NULL)) != NULL);
	SG_FUZZ_CHECK(EVP_PKEY_sign_init(pctx) == 1);
	SG_FUZZ_CHECK(EVP_PKEY_sign(pctx, sig, &sig_len, tbs, tbs_len) == 1);
	EVP_PKEY_CTX_free(pctx);
	SG_FUZZ_CHECK(sg_ocsp_finish(b, sig, sig_len, &der, &len) == 0);
	sg_ocsp_build_free(b);

	p = der;
	SG_FUZZ_CHECK((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) != NULL && p == der + len);
	SG_FUZZ_CHECK(OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL);
	SG_FUZZ_CHECK((bs = OCSP_response_get1_basic(resp)) != NULL);
	SG_FUZZ_CHECK(OCSP_basic_verify(bs, g.certs, g.store, 0) == 1);
	SG_FUZZ_CHECK(OCSP_resp_count(bs) == (int)n);
	for (i = 0; i < n; i++) {
		serial = sg_serial(&q[i]);
		SG_FUZZ_CHECK(
		    (id = OCSP_cert_id_new(sg_md(q[i].id_hash), X509_get_subject_name(g.ca),
		                           X509_get0_pubkey_bitstr(g.ca), serial)) != NULL);
		/* Equal CertIDs answer the first; only check the first of each. */
		SG_FUZZ_CHECK(OCSP_resp_find(bs, id, -1) <= (int)i);
		if (OCSP_resp_find(bs, id, -1) == (int)i) {
			status = OCSP_single_get0_status(OCSP_resp_get0(bs, (int)i), &reason, NULL,
			                                 NULL, NULL);
			SG_FUZZ_CHECK(status == st[i].status);
			if (status == V_OCSP_CERTSTATUS_REVOKED)
				SG_FUZZ_CHECK(reason == (st[i].reason > 0 ? st[i].reason : -1));
		}
		OCSP_CERTID_free(id);
		ASN1_INTEGER_free(serial);
	}
	SG_FUZZ_CHECK(OCSP_check_nonce(req, bs) == (nonce_len > 0 ? 1 : 2));
	ERR_clear_error(); /* OCSP_resp_find() and friends may leave notes behind */
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	free(der);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_ocsp_query q[SG_OCSP_MAX_QUERIES];
	unsigned char nonce[SG_OCSP_MAX_NONCE];
	size_t n = 99, nonce_len = 99, i;
	OCSP_REQUEST *req;
	int r;

	if (!g.ready)
		sg_fuzz_init();
	r = sg_ocsp_parse_request(data, size, q, SG_OCSP_MAX_QUERIES, &n, nonce, &nonce_len);
	SG_FUZZ_CHECK(r == 0 || r == SG_ERR_MALFORMED);
	SG_FUZZ_CHECK(ERR_peek_error() == 0);
	if (r != 0) {
		SG_FUZZ_CHECK(n == 0 && nonce_len == 0);
		return 0;
	}
	SG_FUZZ_CHECK(size > 0 && size <= SG_OCSP_MAX_REQ);
	SG_FUZZ_CHECK(n >= 1 && n <= SG_OCSP_MAX_QUERIES && nonce_len <= SG_OCSP_MAX_NONCE);
	for (i = 0; i < n; i++) {
		SG_FUZZ_CHECK(sg_md(q[i].id_hash) != NULL);
		SG_FUZZ_CHECK(q[i].hash_len == (size_t)EVP_MD_get_size(sg_md(q[i].id_hash)));
		SG_FUZZ_CHECK(q[i].serial_len >= 1 && q[i].serial_len <= 20);
		SG_FUZZ_CHECK(q[i].serial_len == 1 || q[i].serial[0] != 0);
	}
	req = sg_check_openssl(data, size, q, n, nonce, nonce_len);
	sg_check_response(req, q, n, nonce, nonce_len);
	OCSP_REQUEST_free(req);
	return 0;
}
