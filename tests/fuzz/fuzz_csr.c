/*
 * Fuzz target: sg_x509_csr_parse() on arbitrary bytes (a CSR, PEM or DER,
 * from a CA client), then a certificate built from every accepted CSR by
 * sg_x509_begin()/sg_x509_finish() with a fixed test CA (a self-signed EC
 * P-256 certificate made once per process) and its key standing in for the
 * HSM.
 *
 * Invariants beyond ASan/UBSan:
 *  - the result is 0, SG_ERR_CSR_INVALID or SG_ERR_CSR_SIGNATURE, with a
 *    request exactly when it is 0, and nothing left in OpenSSL's error queue;
 *  - an accepted CSR came from at most SG_CSR_MAX bytes, is v1, and its
 *    signature verifies with its own key (checked again here);
 *  - a certificate with the CSR's key and subject (and a SAN, so that an
 *    empty subject is allowed) always builds and finishes; OpenSSL decodes
 *    it, it verifies with the CA key, its subject compares equal to the
 *    CSR's (re-encoded, never copied as received) and its key is the CSR's.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sg_err.h"
#include "sg_x509.h"

static struct {
	int ready;
	EVP_PKEY *key;
	X509 *ca;
	GENERAL_NAMES *sans;
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
	                                         (const unsigned char *)"fuzz CA", -1, -1, 0) == 1);
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
	SG_FUZZ_CHECK((e = X509V3_EXT_nconf(NULL, NULL, "subjectAltName", "DNS:fuzz.example")) !=
	              NULL);
	SG_FUZZ_CHECK((g.sans = X509V3_EXT_d2i(e)) != NULL);
	X509_EXTENSION_free(e);
	g.ready = 1;
}

/* Builds, signs and checks a certificate for the accepted request. */
static void
sg_check_issue(X509_REQ *req)
{
	struct sg_cert_params p;
	struct sg_x509_build *b = NULL;
	unsigned char tbs[SG_HASH_MAX_LEN], sig[128], *der = NULL;
	const unsigned char *q;
	size_t tbs_len = 0, sig_len = sizeof(sig), len = 0;
	EVP_PKEY_CTX *pctx;
	X509 *x;

	memset(&p, 0, sizeof(p));
	p.pubkey = X509_REQ_get0_pubkey(req);
	p.subject = X509_REQ_get_subject_name(req);
	p.sans = g.sans;
	p.serial[0] = 0x42;
	p.serial_len = 1;
	p.not_before = 1714564800; /* 2024-05-01 */
	p.not_after = p.not_before + 86400;
	p.path_len = -1;
	p.key_usage = KU_DIGITAL_SIGNATURE;
	p.issuer = g.ca;
	p.hash = SG_HASH_SHA256;
	SG_FUZZ_CHECK(sg_x509_begin(&p, &b, tbs, &tbs_len) == 0);
	SG_FUZZ_CHECK(tbs_len == 32);
	SG_FUZZ_CHECK((pctx = EVP_PKEY_CTX_new(g.key, NULL)) != NULL);
	SG_FUZZ_CHECK(EVP_PKEY_sign_init(pctx) == 1);
	SG_FUZZ_CHECK(EVP_PKEY_sign(pctx, sig, &sig_len, tbs, tbs_len) == 1);
	EVP_PKEY_CTX_free(pctx);
	SG_FUZZ_CHECK(sg_x509_finish(b, sig, sig_len, &der, &len) == 0);
	q = der;
	SG_FUZZ_CHECK((x = d2i_X509(NULL, &q, (long)len)) != NULL && q == der + len);
	SG_FUZZ_CHECK(X509_verify(x, g.key) == 1);
	SG_FUZZ_CHECK(X509_NAME_cmp(X509_get_subject_name(x), p.subject) == 0);
	SG_FUZZ_CHECK(EVP_PKEY_eq(X509_get0_pubkey(x), p.pubkey) == 1);
	SG_FUZZ_CHECK(ERR_peek_error() == 0);
	X509_free(x);
	free(der);
	sg_x509_build_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509_REQ *req = NULL;
	int r;

	if (!g.ready)
		sg_fuzz_init();
	r = sg_x509_csr_parse(data, size, &req);
	SG_FUZZ_CHECK(r == 0 || r == SG_ERR_CSR_INVALID || r == SG_ERR_CSR_SIGNATURE);
	SG_FUZZ_CHECK((r == 0) == (req != NULL));
	SG_FUZZ_CHECK(ERR_peek_error() == 0);
	if (r != 0)
		return 0;
	SG_FUZZ_CHECK(size > 0 && size <= SG_CSR_MAX);
	SG_FUZZ_CHECK(X509_REQ_get_version(req) == X509_REQ_VERSION_1);
	SG_FUZZ_CHECK(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) == 1);
	sg_check_issue(req);
	X509_REQ_free(req);
	return 0;
}
