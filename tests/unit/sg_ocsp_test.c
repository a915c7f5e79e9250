/*
 * Unit tests of sg_ocsp: OCSPRequests written by `openssl ocsp -reqout`,
 * by OpenSSL's OCSP_REQUEST API and by `openssl asn1parse -genconf` (the
 * broken ones), parsed; responses built in two phases with software keys
 * standing in for the HSM, signed by the CA key or by a delegated
 * responder.  The judges are `openssl ocsp -respin` (signature, chain,
 * nonce, status) and OpenSSL's OCSP_basic_verify(), OCSP_resp_find_status()
 * and OCSP_check_nonce(); every field is read back through OpenSSL's
 * OCSP decoders.
 *
 * PKI: root (EC P-384) -> intermediate CA (EC P-256) and an RSA-2048
 * intermediate -> leaves, a delegated responder (EKU OCSPSigning), a
 * responder without that EKU and one issued by the root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>

#include "sg_err.h"
#include "sg_formats_testlib.h"
#include "sg_ocsp.h"

#define HOUR 3600
#define DAY 86400

static const char *const g_ca_exts[] = {"basicConstraints",
                                        "critical,CA:TRUE",
                                        "keyUsage",
                                        "critical,keyCertSign,cRLSign",
                                        "subjectKeyIdentifier",
                                        "hash",
                                        NULL};
static const char *const g_leaf_exts[] = {"basicConstraints", "critical,CA:FALSE", "keyUsage",
                                          "critical,digitalSignature", NULL};
static const char *const g_resp_exts[] = {
    "basicConstraints", "critical,CA:FALSE", "keyUsage", "critical,digitalSignature",
    "extendedKeyUsage", "OCSPSigning",       NULL};

static struct {
	EVP_PKEY *root_key, *int_key, *rsa_key, *leaf_key, *resp_key;
	X509 *root, *inter, *inter_rsa;
	X509 *good, *revoked, *unknown, *rsa_leaf, *root_leaf;
	X509 *resp, *resp_no_eku, *resp_by_root;
	time_t now;
} g;

/* ---- helpers -------------------------------------------------------------- */

static int
group_setup(void **state)
{
	X509 *pem[2];

	(void)state;
	tl_mkdir();
	g.now = time(NULL);
	g.root_key = tl_key(TL_EC384);
	g.root = tl_cert(NULL, NULL, g.root_key, "OCSP test root", -DAY, 30 * DAY, g_ca_exts);
	g.int_key = tl_key(TL_EC256);
	g.inter = tl_cert(g.root, g.root_key, g.int_key, "OCSP test intermediate", -DAY, 30 * DAY,
	                  g_ca_exts);
	g.rsa_key = tl_key(TL_RSA2048);
	g.inter_rsa = tl_cert(g.root, g.root_key, g.rsa_key, "OCSP test RSA intermediate", -DAY,
	                      30 * DAY, g_ca_exts);
	g.leaf_key = tl_key(TL_EC256);
	g.good = tl_cert(g.inter, g.int_key, g.leaf_key, "good", -HOUR, DAY, g_leaf_exts);
	g.revoked = tl_cert(g.inter, g.int_key, g.leaf_key, "revoked", -HOUR, DAY, g_leaf_exts);
	g.unknown = tl_cert(g.inter, g.int_key, g.leaf_key, "unknown", -HOUR, DAY, g_leaf_exts);
	g.rsa_leaf =
	    tl_cert(g.inter_rsa, g.rsa_key, g.leaf_key, "rsa leaf", -HOUR, DAY, g_leaf_exts);
	g.root_leaf = tl_cert(g.root, g.root_key, g.leaf_key, "root leaf", -HOUR, DAY, g_leaf_exts);
	g.resp_key = tl_key(TL_EC256);
	g.resp = tl_cert(g.inter, g.int_key, g.resp_key, "OCSP responder", -HOUR, DAY, g_resp_exts);
	g.resp_no_eku =
	    tl_cert(g.inter, g.int_key, g.resp_key, "not a responder", -HOUR, DAY, g_leaf_exts);
	g.resp_by_root =
	    tl_cert(g.root, g.root_key, g.resp_key, "root's responder", -HOUR, DAY, g_resp_exts);
	tl_write_pem("root.pem", &g.root, 1);
	tl_write_pem("int.pem", &g.inter, 1);
	tl_write_pem("int-rsa.pem", &g.inter_rsa, 1);
	pem[0] = g.inter;
	pem[1] = g.inter_rsa;
	tl_write_pem("ints.pem", pem, 2);
	tl_write_pem("good.pem", &g.good, 1);
	tl_write_pem("revoked.pem", &g.revoked, 1);
	tl_write_pem("unknown.pem", &g.unknown, 1);
	tl_write_pem("rsa-leaf.pem", &g.rsa_leaf, 1);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	tl_rmdir();
	X509_free(g.root);
	X509_free(g.inter);
	X509_free(g.inter_rsa);
	X509_free(g.good);
	X509_free(g.revoked);
	X509_free(g.unknown);
	X509_free(g.rsa_leaf);
	X509_free(g.root_leaf);
	X509_free(g.resp);
	X509_free(g.resp_no_eku);
	X509_free(g.resp_by_root);
	EVP_PKEY_free(g.root_key);
	EVP_PKEY_free(g.int_key);
	EVP_PKEY_free(g.rsa_key);
	EVP_PKEY_free(g.leaf_key);
	EVP_PKEY_free(g.resp_key);
	return 0;
}

/* Runs `openssl ocsp` with the given arguments (paths relative to the scratch dir marked @). */
static int
openssl_ocsp(char *out, size_t cap, const char *const *args)
{
	const char *argv[40];
	char paths[38][512];
	size_t i;

	argv[0] = "openssl";
	argv[1] = "ocsp";
	for (i = 0; args[i] != NULL && i < 37; i++) {
		if (args[i][0] == '@') {
			snprintf(paths[i], sizeof(paths[i]), "%s", tl_path(args[i] + 1));
			argv[i + 2] = paths[i];
		} else {
			argv[i + 2] = args[i];
		}
	}
	argv[i + 2] = NULL;
	return tl_run(out, cap, argv);
}

/* DER of a request made with the OCSP_REQUEST API (malloc'd). */
static unsigned char *
req_der(OCSP_REQUEST *req, size_t *len)
{
	unsigned char *der = NULL, *buf;
	int l;

	assert_true((l = i2d_OCSP_REQUEST(req, &der)) > 0);
	assert_non_null(buf = malloc((size_t)l));
	memcpy(buf, der, (size_t)l);
	OPENSSL_free(der);
	*len = (size_t)l;
	return buf;
}

/* A request for certs (issued by issuer) with CertID hash md, nonce of nonce_len (0: none). */
static OCSP_REQUEST *
make_req(X509 *const *certs, size_t n, X509 *issuer, const EVP_MD *md, const unsigned char *nonce,
         int nonce_len)
{
	OCSP_REQUEST *req;
	OCSP_CERTID *id;
	size_t i;

	assert_non_null(req = OCSP_REQUEST_new());
	for (i = 0; i < n; i++) {
		assert_non_null(id = OCSP_cert_to_id(md, certs[i], issuer));
		assert_non_null(OCSP_request_add0_id(req, id));
	}
	if (nonce_len > 0)
		assert_int_equal(OCSP_request_add1_nonce(req, (unsigned char *)nonce, nonce_len),
		                 1);
	return req;
}

static void
expect_parse(const unsigned char *der, size_t len, size_t max, int err)
{
	struct sg_ocsp_query q[SG_OCSP_MAX_QUERIES + 1];
	unsigned char nonce[SG_OCSP_MAX_NONCE];
	size_t n = 99, nonce_len = 99;

	assert_int_equal(sg_ocsp_parse_request(der, len, q, max, &n, nonce, &nonce_len), err);
	if (err != 0) {
		assert_int_equal(n, 0);
		assert_int_equal(nonce_len, 0);
	}
	assert_int_equal(ERR_peek_error(), 0);
}

/* Parses and checks that every CertID equals OpenSSL's for cert (hash md) and the nonce. */
static void
parse_and_compare(const unsigned char *der, size_t len, X509 *const *certs, size_t n_certs,
                  X509 *issuer, const EVP_MD *md, struct sg_ocsp_query *q, size_t *n,
                  unsigned char *nonce, size_t *nonce_len)
{
	ASN1_OCTET_STRING *nh, *kh;
	ASN1_OBJECT *alg;
	ASN1_INTEGER *serial;
	OCSP_CERTID *id;
	BIGNUM *bn;
	unsigned char s[20];
	size_t i;

	assert_int_equal(
	    sg_ocsp_parse_request(der, len, q, SG_OCSP_MAX_QUERIES, n, nonce, nonce_len), 0);
	assert_int_equal(*n, n_certs);
	for (i = 0; i < n_certs; i++) {
		assert_non_null(id = OCSP_cert_to_id(md, certs[i], issuer));
		assert_int_equal(OCSP_id_get0_info(&nh, &alg, &kh, &serial, id), 1);
		assert_int_equal(q[i].id_hash, EVP_MD_get_type(md));
		assert_int_equal(q[i].hash_len, (size_t)EVP_MD_get_size(md));
		assert_memory_equal(q[i].name_hash, ASN1_STRING_get0_data(nh), q[i].hash_len);
		assert_memory_equal(q[i].key_hash, ASN1_STRING_get0_data(kh), q[i].hash_len);
		assert_non_null(bn = ASN1_INTEGER_to_BN(serial, NULL));
		assert_int_equal(BN_num_bytes(bn), (int)q[i].serial_len);
		assert_int_equal(BN_bn2bin(bn, s), (int)q[i].serial_len);
		assert_memory_equal(s, q[i].serial, q[i].serial_len);
		assert_int_equal(sg_ocsp_query_matches(&q[i], issuer), 1);
		BN_free(bn);
		OCSP_CERTID_free(id);
	}
}

/* Both phases; returns the DER OCSPResponse (malloc'd) and the tbs digest. */
static unsigned char *
respond(X509 *signer, EVP_PKEY *key, X509 *issuer, const struct sg_ocsp_query *q,
        const struct sg_ocsp_status *st, size_t n, const unsigned char *nonce, size_t nonce_len,
        time_t produced_at, enum sg_hash h, unsigned char *tbs, size_t *len)
{
	struct sg_ocsp_build *b = NULL;
	unsigned char sig[512], *der = NULL;
	size_t tbs_len = 0, sig_len;

	assert_int_equal(sg_ocsp_begin(signer, issuer, q, st, n, nonce, nonce_len, produced_at,
	                               produced_at + HOUR, h, &b, tbs, &tbs_len),
	                 0);
	assert_int_equal(tbs_len, sg_hash_len(h));
	sig_len = tl_sign(key, h, tbs, tbs_len, sig, sizeof(sig));
	assert_int_equal(sg_ocsp_finish(b, sig, sig_len, &der, len), 0);
	assert_non_null(der);
	assert_int_equal(ERR_peek_error(), 0);
	sg_ocsp_build_free(b);
	return der;
}

static OCSP_BASICRESP *
basic_of(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;

	assert_non_null(resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len));
	assert_ptr_equal(p, der + len);
	assert_int_equal(OCSP_response_status(resp), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_non_null(bs = OCSP_response_get1_basic(resp));
	OCSP_RESPONSE_free(resp);
	return bs;
}

/* OCSP_basic_verify() with only the root trusted and the intermediates as other certs. */
static int
basic_verify(OCSP_BASICRESP *bs)
{
	X509_STORE *st;
	STACK_OF(X509) * other;
	int r;

	assert_non_null(st = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(st, g.root), 1);
	assert_non_null(other = sk_X509_new_null());
	assert_true(sk_X509_push(other, g.inter) > 0);
	assert_true(sk_X509_push(other, g.inter_rsa) > 0);
	r = OCSP_basic_verify(bs, other, st, 0);
	sk_X509_free(other);
	X509_STORE_free(st);
	ERR_clear_error();
	return r;
}

static void
expect_status(OCSP_BASICRESP *bs, X509 *cert, X509 *issuer, const EVP_MD *md, int status,
              int reason, time_t revoked_at, time_t this_update)
{
	ASN1_GENERALIZEDTIME *rev = NULL, *tu = NULL, *nu = NULL;
	OCSP_CERTID *id;
	int st = -9, rs = -9;

	assert_non_null(id = OCSP_cert_to_id(md, cert, issuer));
	assert_int_equal(OCSP_resp_find_status(bs, id, &st, &rs, &rev, &tu, &nu), 1);
	assert_int_equal(st, status);
	if (status == V_OCSP_CERTSTATUS_REVOKED) {
		assert_int_equal(rs, reason); /* -1: no revocationReason */
		assert_int_equal(ASN1_TIME_cmp_time_t(rev, revoked_at), 0);
	} else {
		assert_null(rev);
	}
	assert_int_equal(ASN1_TIME_cmp_time_t(tu, this_update), 0);
	assert_int_equal(ASN1_TIME_cmp_time_t(nu, this_update + HOUR), 0);
	assert_int_equal(ASN1_STRING_type(tu), V_ASN1_GENERALIZEDTIME);
	assert_int_equal(OCSP_check_validity(tu, nu, 300, -1), 1);
	OCSP_CERTID_free(id);
}

/* ---- requests ------------------------------------------------------------- */

/* What `openssl ocsp` sends: SHA-1 CertIDs and a 16-byte nonce by default. */
static void
test_parse_openssl_requests(void **state)
{
	static const char *const plain[] = {"-issuer",   "@int.pem",  "-cert",
	                                    "@good.pem", "-cert",     "@revoked.pem",
	                                    "-reqout",   "@req1.der", NULL};
	/* The digest option goes before the -cert / -serial it applies to. */
	static const char *const sha256[] = {"-issuer", "@int.pem",  "-sha256",
	                                     "-cert",   "@good.pem", "-no_nonce",
	                                     "-reqout", "@req2.der", NULL};
	static const char *const serial[] = {"-issuer",
	                                     "@int.pem",
	                                     "-sha512",
	                                     "-serial",
	                                     "0x00ff00112233445566778899aabbccddeeff0011",
	                                     "-reqout",
	                                     "@req3.der",
	                                     NULL};
	struct sg_ocsp_query q[SG_OCSP_MAX_QUERIES];
	unsigned char nonce[SG_OCSP_MAX_NONCE], *der;
	X509 *certs[2] = {g.good, g.revoked};
	OCSP_REQUEST *req;
	const unsigned char *p;
	char out[4096];
	size_t len, n, nonce_len;

	(void)state;
	assert_int_equal(openssl_ocsp(out, sizeof(out), plain), 0);
	der = tl_read("req1.der", &len);
	parse_and_compare(der, len, certs, 2, g.inter, EVP_sha1(), q, &n, nonce, &nonce_len);
	assert_int_equal(q[0].id_hash, NID_sha1);
	/* The nonce is the one OpenSSL checks against the response. */
	assert_int_equal(nonce_len, 16);
	p = der;
	assert_non_null(req = d2i_OCSP_REQUEST(NULL, &p, (long)len));
	{
		X509_EXTENSION *e = OCSP_REQUEST_get_ext(
		    req, OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1));
		const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(e);

		assert_int_equal(ASN1_STRING_length(v), 18); /* 04 10 + 16 octets */
		assert_memory_equal(ASN1_STRING_get0_data(v) + 2, nonce, 16);
	}
	OCSP_REQUEST_free(req);
	free(der);

	assert_int_equal(openssl_ocsp(out, sizeof(out), sha256), 0);
	der = tl_read("req2.der", &len);
	parse_and_compare(der, len, certs, 1, g.inter, EVP_sha256(), q, &n, nonce, &nonce_len);
	assert_int_equal(nonce_len, 0);
	free(der);

	/* A 20-octet serial (leading zero byte of the magnitude dropped: 19 bytes left). */
	assert_int_equal(openssl_ocsp(out, sizeof(out), serial), 0);
	der = tl_read("req3.der", &len);
	assert_int_equal(sg_ocsp_parse_request(der, len, q, 4, &n, nonce, &nonce_len), 0);
	assert_int_equal(n, 1);
	assert_int_equal(q[0].id_hash, NID_sha512);
	assert_int_equal(q[0].hash_len, 64);
	assert_int_equal(q[0].serial_len, 19);
	assert_memory_equal(q[0].serial,
	                    "\xff\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff"
	                    "\x00\x11",
	                    19);
	assert_int_equal(sg_ocsp_query_matches(&q[0], g.inter), 1);
	free(der);
}

static void
test_parse_requests_from_the_api(void **state)
{
	unsigned char nonce32[33], got[SG_OCSP_MAX_NONCE], *der;
	struct sg_ocsp_query q[SG_OCSP_MAX_QUERIES];
	X509 *certs[SG_OCSP_MAX_QUERIES + 1];
	OCSP_REQUEST *req;
	size_t len, n, nonce_len, i;

	(void)state;
	assert_int_equal(RAND_bytes(nonce32, sizeof(nonce32)), 1);
	for (i = 0; i <= SG_OCSP_MAX_QUERIES; i++)
		certs[i] = i % 2 ? g.good : g.unknown;
	/* Nonces of 1 and 32 octets; 16 CertIDs (the cap), SHA-384. */
	req = make_req(certs, SG_OCSP_MAX_QUERIES, g.inter, EVP_sha384(), nonce32, 32);
	der = req_der(req, &len);
	parse_and_compare(der, len, certs, SG_OCSP_MAX_QUERIES, g.inter, EVP_sha384(), q, &n, got,
	                  &nonce_len);
	assert_int_equal(nonce_len, 32);
	assert_memory_equal(got, nonce32, 32);
	/* The caller's array is the limit too. */
	expect_parse(der, len, SG_OCSP_MAX_QUERIES - 1, SG_ERR_MALFORMED);
	OCSP_REQUEST_free(req);
	free(der);
	req = make_req(certs, 1, g.inter, EVP_sha1(), nonce32, 1);
	der = req_der(req, &len);
	parse_and_compare(der, len, certs, 1, g.inter, EVP_sha1(), q, &n, got, &nonce_len);
	assert_int_equal(nonce_len, 1);
	assert_int_equal(got[0], nonce32[0]);
	OCSP_REQUEST_free(req);
	free(der);

	/* Signed requests are accepted; their signature is not looked at. */
	req = make_req(certs, 2, g.inter, EVP_sha1(), NULL, 0);
	assert_int_equal(OCSP_request_sign(req, g.good, g.leaf_key, EVP_sha256(), NULL, 0), 1);
	der = req_der(req, &len);
	parse_and_compare(der, len, certs, 2, g.inter, EVP_sha1(), q, &n, got, &nonce_len);
	assert_int_equal(nonce_len, 0);
	OCSP_REQUEST_free(req);
	free(der);
	/* Even when it does not verify: without certificates the signature's last byte is last. */
	req = make_req(certs, 2, g.inter, EVP_sha1(), NULL, 0);
	assert_int_equal(
	    OCSP_request_sign(req, g.good, g.leaf_key, EVP_sha256(), NULL, OCSP_NOCERTS), 1);
	der = req_der(req, &len);
	der[len - 1] ^= 0x01;
	parse_and_compare(der, len, certs, 2, g.inter, EVP_sha1(), q, &n, got, &nonce_len);
	OCSP_REQUEST_free(req);
	free(der);

	/* A zero serial is a serial like another (not one of ours, but answerable). */
	{
		ASN1_INTEGER *zero = ASN1_INTEGER_new();
		OCSP_CERTID *id;

		assert_non_null(zero);
		assert_non_null(req = OCSP_REQUEST_new());
		assert_non_null(id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(g.inter),
		                                      X509_get0_pubkey_bitstr(g.inter), zero));
		assert_non_null(OCSP_request_add0_id(req, id));
		der = req_der(req, &len);
		assert_int_equal(sg_ocsp_parse_request(der, len, q, 1, &n, got, &nonce_len), 0);
		assert_int_equal(q[0].serial_len, 1);
		assert_int_equal(q[0].serial[0], 0);
		ASN1_INTEGER_free(zero);
		OCSP_REQUEST_free(req);
		free(der);
	}
}

/* An extension with an arbitrary value (DER of an OCTET STRING of v, or v as is). */
static X509_EXTENSION *
make_ext(int nid, const char *oid, int critical, const unsigned char *v, int vlen, int wrap)
{
	ASN1_OCTET_STRING *inner, *os;
	ASN1_OBJECT *obj;
	X509_EXTENSION *e;
	unsigned char *der = NULL;
	int l;

	assert_non_null(os = ASN1_OCTET_STRING_new());
	if (wrap) {
		assert_non_null(inner = ASN1_OCTET_STRING_new());
		assert_int_equal(ASN1_OCTET_STRING_set(inner, v, vlen), 1);
		assert_true((l = i2d_ASN1_OCTET_STRING(inner, &der)) > 0);
		assert_int_equal(ASN1_OCTET_STRING_set(os, der, l), 1);
		OPENSSL_free(der);
		ASN1_OCTET_STRING_free(inner);
	} else {
		assert_int_equal(ASN1_OCTET_STRING_set(os, v, vlen), 1);
	}
	assert_non_null(obj = oid != NULL ? OBJ_txt2obj(oid, 1) : OBJ_nid2obj(nid));
	assert_non_null(e = X509_EXTENSION_create_by_OBJ(NULL, obj, critical, os));
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	return e;
}

static void
expect_req_with_ext(X509_EXTENSION *e, X509_EXTENSION *e2, int single, int err)
{
	X509 *certs[1] = {g.good};
	OCSP_REQUEST *req = make_req(certs, 1, g.inter, EVP_sha1(), NULL, 0);
	unsigned char *der;
	size_t len;

	if (single) {
		assert_int_equal(OCSP_ONEREQ_add_ext(OCSP_request_onereq_get0(req, 0), e, -1), 1);
	} else {
		assert_int_equal(OCSP_REQUEST_add_ext(req, e, -1), 1);
		if (e2 != NULL)
			assert_int_equal(OCSP_REQUEST_add_ext(req, e2, -1), 1);
	}
	der = req_der(req, &len);
	expect_parse(der, len, 4, err);
	free(der);
	OCSP_REQUEST_free(req);
	X509_EXTENSION_free(e);
	X509_EXTENSION_free(e2);
}

static void
test_parse_extensions(void **state)
{
	static const unsigned char v[40] = {0x30, 1, 2, 3, 4, 5, 6, 7, 8, 9};
	static const char unknown[] = "1.3.6.1.4.1.55555.9";

	(void)state;
	/* Nonce: 0 and 33 octets, not an OCTET STRING, twice, critical (fine). */
	expect_req_with_ext(make_ext(NID_id_pkix_OCSP_Nonce, NULL, 0, v, 0, 1), NULL, 0,
	                    SG_ERR_MALFORMED);
	expect_req_with_ext(make_ext(NID_id_pkix_OCSP_Nonce, NULL, 0, v, 33, 1), NULL, 0,
	                    SG_ERR_MALFORMED);
	expect_req_with_ext(make_ext(NID_id_pkix_OCSP_Nonce, NULL, 0, v, 16, 0), NULL, 0,
	                    SG_ERR_MALFORMED);
	expect_req_with_ext(make_ext(NID_id_pkix_OCSP_Nonce, NULL, 0, v, 16, 1),
	                    make_ext(NID_id_pkix_OCSP_Nonce, NULL, 0, v, 8, 1), 0,
	                    SG_ERR_MALFORMED);
	expect_req_with_ext(make_ext(NID_id_pkix_OCSP_Nonce, NULL, 1, v, 16, 1), NULL, 0, 0);
	/* Unknown extensions: ignored when non-critical, refused when critical. */
	expect_req_with_ext(make_ext(0, unknown, 0, v, 4, 1), NULL, 0, 0);
	expect_req_with_ext(make_ext(0, unknown, 1, v, 4, 1), NULL, 0, SG_ERR_MALFORMED);
	expect_req_with_ext(make_ext(0, unknown, 0, v, 4, 1), NULL, 1, 0);
	expect_req_with_ext(make_ext(0, unknown, 1, v, 4, 1), NULL, 1, SG_ERR_MALFORMED);
	/* A nonce among a CertID's extensions is not one: unknown there, so refused if critical. */
	expect_req_with_ext(make_ext(NID_id_pkix_OCSP_Nonce, NULL, 1, v, 16, 1), NULL, 1,
	                    SG_ERR_MALFORMED);
}

/* `openssl asn1parse -genconf` of cnf into name; returns the DER (malloc'd). */
static unsigned char *
genconf(const char *name, const char *cnf, size_t *len)
{
	char cfg[512], o[512], out[2048], file[64];
	const char *argv[] = {"openssl", "asn1parse", "-genconf", cfg, "-noout", "-out", o, NULL};

	snprintf(file, sizeof(file), "%s.cnf", name);
	tl_write(file, cnf, strlen(cnf));
	snprintf(cfg, sizeof(cfg), "%s", tl_path(file));
	snprintf(o, sizeof(o), "%s", tl_path(name));
	if (tl_run(out, sizeof(out), argv) != 0)
		print_error("asn1parse: %s\n", out);
	return tl_read(name, len);
}

/* A one-CertID request for g.good with the given version line, algorithm and hash lengths. */
static unsigned char *
genconf_req(const char *version, const char *alg, int name_len, const char *serial, size_t *len)
{
	unsigned char nh[20], kh[20];
	char cnf[2048], nhex[81], khex[81];
	unsigned int l = 0;

	assert_int_equal(X509_NAME_digest(X509_get_subject_name(g.inter), EVP_sha1(), nh, &l), 1);
	assert_int_equal(X509_pubkey_digest(g.inter, EVP_sha1(), kh, &l), 1);
	tl_hex(nh, 20, nhex);
	tl_hex(kh, 20, khex);
	nhex[2 * name_len] = '\0';
	snprintf(
	    cnf, sizeof(cnf),
	    "asn1=SEQUENCE:req\n[req]\ntbs=SEQUENCE:tbs\n[tbs]\n%slist=SEQUENCE:list\n"
	    "[list]\nr1=SEQUENCE:r1\n[r1]\ncertid=SEQUENCE:certid\n[certid]\n"
	    "alg=SEQUENCE:alg\nname=FORMAT:HEX,OCT:%s\nkey=FORMAT:HEX,OCT:%s\nserial=INTEGER:%s\n"
	    "[alg]\n%s",
	    version, nhex, khex, serial, alg);
	return genconf("genreq.der", cnf, len);
}

static void
test_parse_malformed(void **state)
{
	static const char sha1_null[] = "oid=OID:sha1\nnull=NULL\n";
	unsigned char *der, *buf;
	struct sg_ocsp_query q[2];
	unsigned char nonce[SG_OCSP_MAX_NONCE];
	size_t len, n, nonce_len;
	X509 *certs[SG_OCSP_MAX_QUERIES + 1];
	OCSP_REQUEST *req;
	size_t i;

	(void)state;
	/* The genconf baseline parses, with and without NULL parameters, explicit version v1. */
	der = genconf_req("", sha1_null, 20, "0x1234", &len);
	assert_int_equal(sg_ocsp_parse_request(der, len, q, 2, &n, nonce, &nonce_len), 0);
	assert_int_equal(sg_ocsp_query_matches(&q[0], g.inter), 1);
	assert_int_equal(q[0].serial_len, 2);
	free(der);
	der = genconf_req("", "oid=OID:sha1\n", 20, "0x1234", &len);
	expect_parse(der, len, 2, 0);
	free(der);
	der = genconf_req("version=EXPLICIT:0,INTEGER:0\n", sha1_null, 20, "0x1234", &len);
	expect_parse(der, len, 2, 0);
	free(der);
	/* Another version, parameters, a short hash, a foreign hash, a negative or long serial. */
	der = genconf_req("version=EXPLICIT:0,INTEGER:1\n", sha1_null, 20, "0x1234", &len);
	expect_parse(der, len, 2, SG_ERR_MALFORMED);
	free(der);
	der = genconf_req("", "oid=OID:sha1\np=INTEGER:5\n", 20, "0x1234", &len);
	expect_parse(der, len, 2, SG_ERR_MALFORMED);
	free(der);
	der = genconf_req("", sha1_null, 19, "0x1234", &len);
	expect_parse(der, len, 2, SG_ERR_MALFORMED);
	free(der);
	der = genconf_req("", "oid=OID:md5\nnull=NULL\n", 16, "0x1234", &len);
	expect_parse(der, len, 2, SG_ERR_MALFORMED);
	free(der);
	der = genconf_req("", "oid=OID:sha256\nnull=NULL\n", 20, "0x1234", &len);
	expect_parse(der, len, 2, SG_ERR_MALFORMED); /* SHA-256 with 20-byte hashes */
	free(der);
	der = genconf_req("", sha1_null, 20, "-5", &len);
	expect_parse(der, len, 2, SG_ERR_MALFORMED);
	free(der);
	der = genconf_req("", sha1_null, 20, "0x7f0102030405060708090a0b0c0d0e0f1011121314", &len);
	expect_parse(der, len, 2, SG_ERR_MALFORMED); /* 21 octets */
	free(der);
	der = genconf_req("", sha1_null, 20, "0x7f0102030405060708090a0b0c0d0e0f10111213", &len);
	expect_parse(der, len, 2, 0); /* 20 octets */
	free(der);
	/* No CertID at all. */
	der = genconf("empty.der",
	              "asn1=SEQUENCE:req\n[req]\ntbs=SEQUENCE:tbs\n[tbs]\nlist=SEQUENCE:list\n"
	              "[list]\n",
	              &len);
	expect_parse(der, len, 2, SG_ERR_MALFORMED);
	free(der);

	/* 17 CertIDs: one over the cap. */
	for (i = 0; i <= SG_OCSP_MAX_QUERIES; i++)
		certs[i] = g.good;
	req = make_req(certs, SG_OCSP_MAX_QUERIES + 1, g.inter, EVP_sha1(), NULL, 0);
	der = req_der(req, &len);
	expect_parse(der, len, SG_OCSP_MAX_QUERIES + 1, SG_ERR_MALFORMED);
	OCSP_REQUEST_free(req);
	free(der);

	/* Bytes: trailing, truncated, BER length, garbage, empty, over the cap. */
	req =
	    make_req(certs, 1, g.inter, EVP_sha1(), (const unsigned char *)"0123456789abcdef", 16);
	der = req_der(req, &len);
	OCSP_REQUEST_free(req);
	expect_parse(der, len, 2, 0);
	assert_true(len < 128 && der[1] == len - 2);
	assert_non_null(buf = calloc(1, SG_OCSP_MAX_REQ + 2));
	memcpy(buf, der, len);
	expect_parse(buf, len + 1, 2, SG_ERR_MALFORMED);
	expect_parse(der, len - 1, 2, SG_ERR_MALFORMED);
	expect_parse(der, 0, 2, SG_ERR_MALFORMED);
	buf[0] = 0x30;
	buf[1] = 0x81; /* the same length in long form: BER */
	memcpy(buf + 2, der + 1, len - 1);
	expect_parse(buf, len + 1, 2, SG_ERR_MALFORMED);
	expect_parse((const unsigned char *)"POST /ocsp HTTP/1.1\r\n", 21, 2, SG_ERR_MALFORMED);
	memset(buf, 0, SG_OCSP_MAX_REQ + 2);
	memcpy(buf, der, len);
	expect_parse(buf, SG_OCSP_MAX_REQ + 1, 2, SG_ERR_MALFORMED);
	assert_int_equal(sg_ocsp_parse_request(NULL, len, q, 2, &n, nonce, &nonce_len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_ocsp_parse_request(der, len, NULL, 2, &n, nonce, &nonce_len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_ocsp_parse_request(der, len, q, 2, NULL, nonce, &nonce_len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_ocsp_parse_request(der, len, q, 2, &n, NULL, &nonce_len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_ocsp_parse_request(der, len, q, 2, &n, nonce, NULL),
	                 SG_ERR_INVALID_ARG);
	free(buf);
	free(der);
}

static void
test_query_matches(void **state)
{
	struct sg_ocsp_query q[2];
	unsigned char nonce[SG_OCSP_MAX_NONCE], *der;
	X509 *certs[2] = {g.good, g.root_leaf};
	OCSP_REQUEST *req;
	size_t len, n, nonce_len;
	struct sg_ocsp_query t;

	(void)state;
	req = make_req(certs, 1, g.inter, EVP_sha256(), NULL, 0);
	OCSP_request_add0_id(req, OCSP_cert_to_id(EVP_sha256(), g.root_leaf, g.root));
	der = req_der(req, &len);
	assert_int_equal(sg_ocsp_parse_request(der, len, q, 2, &n, nonce, &nonce_len), 0);
	assert_int_equal(n, 2);
	assert_int_equal(sg_ocsp_query_matches(&q[0], g.inter), 1);
	assert_int_equal(sg_ocsp_query_matches(&q[0], g.root), 0);
	assert_int_equal(sg_ocsp_query_matches(&q[1], g.root), 1);
	assert_int_equal(sg_ocsp_query_matches(&q[1], g.inter), 0);
	/* Same name, another key: the key hash decides. */
	assert_int_equal(sg_ocsp_query_matches(&q[0], g.inter_rsa), 0);
	t = q[0];
	t.key_hash[5] ^= 1;
	assert_int_equal(sg_ocsp_query_matches(&t, g.inter), 0);
	t = q[0];
	t.name_hash[0] ^= 1;
	assert_int_equal(sg_ocsp_query_matches(&t, g.inter), 0);
	t = q[0];
	t.id_hash = NID_md5;
	assert_int_equal(sg_ocsp_query_matches(&t, g.inter), 0);
	t = q[0];
	t.hash_len = 20;
	assert_int_equal(sg_ocsp_query_matches(&t, g.inter), 0);
	assert_int_equal(sg_ocsp_query_matches(NULL, g.inter), 0);
	assert_int_equal(sg_ocsp_query_matches(&q[0], NULL), 0);
	OCSP_REQUEST_free(req);
	free(der);
	(void)certs;
}

/* ---- responses ------------------------------------------------------------ */

/*
 * The CA's own key answers good / revoked / unknown in one response with
 * the nonce echoed; `openssl ocsp` verifies signature, chain and nonce
 * and prints each status.
 */
static void
test_respond_by_ca_judged_by_openssl(void **state)
{
	static const char *const mkreq[] = {"-issuer", "@int.pem",     "-cert", "@good.pem",
	                                    "-cert",   "@revoked.pem", "-cert", "@unknown.pem",
	                                    "-reqout", "@ca-req.der",  NULL};
	static const char *const check_nonce[] = {"-reqin",        "@ca-req.der", "-respin",
	                                          "@ca-resp.der",  "-CAfile",     "@root.pem",
	                                          "-verify_other", "@int.pem",    NULL};
	static const char *const status[] = {
	    "-issuer",   "@int.pem",      "-cert",     "@good.pem", "-cert",        "@revoked.pem",
	    "-cert",     "@unknown.pem",  "-no_nonce", "-respin",   "@ca-resp.der", "-CAfile",
	    "@root.pem", "-verify_other", "@int.pem",  NULL};
	struct sg_ocsp_query q[SG_OCSP_MAX_QUERIES];
	struct sg_ocsp_status st[3] = {
	    {V_OCSP_CERTSTATUS_GOOD, 0, 0},
	    {V_OCSP_CERTSTATUS_REVOKED, 0, CRL_REASON_KEY_COMPROMISE},
	    {V_OCSP_CERTSTATUS_UNKNOWN, 0, 0},
	};
	unsigned char nonce[SG_OCSP_MAX_NONCE], tbs[SG_HASH_MAX_LEN], *der, *resp,
	    *rd = NULL, h[SG_HASH_MAX_LEN];
	const ASN1_OCTET_STRING *keyid;
	const X509_NAME *byname;
	const ASN1_OBJECT *alg;
	ASN1_OCTET_STRING *want;
	OCSP_BASICRESP *bs;
	OCSP_REQUEST *req;
	const unsigned char *p;
	char out[8192];
	size_t len, rlen, n, nonce_len;
	int rd_len;

	(void)state;
	st[1].revoked_at = g.now - 600;
	assert_int_equal(openssl_ocsp(out, sizeof(out), mkreq), 0);
	der = tl_read("ca-req.der", &len);
	assert_int_equal(
	    sg_ocsp_parse_request(der, len, q, SG_OCSP_MAX_QUERIES, &n, nonce, &nonce_len), 0);
	assert_int_equal(n, 3);
	assert_int_equal(nonce_len, 16);
	resp = respond(g.inter, g.int_key, g.inter, q, st, n, nonce, nonce_len, g.now,
	               SG_HASH_SHA256, tbs, &rlen);
	tl_write("ca-resp.der", resp, rlen);

	if (openssl_ocsp(out, sizeof(out), check_nonce) != 0)
		print_error("openssl ocsp: %s\n", out);
	assert_non_null(strstr(out, "Response verify OK"));
	assert_null(strstr(out, "nonce"));
	assert_null(strstr(out, "Nonce"));
	if (openssl_ocsp(out, sizeof(out), status) != 0)
		print_error("openssl ocsp: %s\n", out);
	assert_non_null(strstr(out, "Response verify OK"));
	assert_non_null(strstr(out, "good.pem: good"));
	assert_non_null(strstr(out, "revoked.pem: revoked"));
	assert_non_null(strstr(out, "Reason: keyCompromise"));
	assert_non_null(strstr(out, "unknown.pem: unknown"));
	assert_null(strstr(out, "WARNING"));

	/* The same, read back in-process. */
	bs = basic_of(resp, rlen);
	assert_int_equal(basic_verify(bs), 1);
	p = der;
	assert_non_null(req = d2i_OCSP_REQUEST(NULL, &p, (long)len));
	assert_int_equal(OCSP_check_nonce(req, bs), 1);
	OCSP_REQUEST_free(req);
	expect_status(bs, g.good, g.inter, EVP_sha1(), V_OCSP_CERTSTATUS_GOOD, -1, 0, g.now);
	expect_status(bs, g.revoked, g.inter, EVP_sha1(), V_OCSP_CERTSTATUS_REVOKED,
	              CRL_REASON_KEY_COMPROMISE, st[1].revoked_at, g.now);
	expect_status(bs, g.unknown, g.inter, EVP_sha1(), V_OCSP_CERTSTATUS_UNKNOWN, -1, 0, g.now);
	assert_int_equal(OCSP_resp_count(bs), 3);
	/* responderID byKey = SHA-1 of the CA key; producedAt; no certificates (the CA signs). */
	assert_int_equal(OCSP_resp_get0_id(bs, &keyid, &byname), 1);
	assert_null(byname);
	assert_non_null(keyid);
	{
		unsigned char kh[20];
		unsigned int kl = 0;

		assert_int_equal(X509_pubkey_digest(g.inter, EVP_sha1(), kh, &kl), 1);
		assert_non_null(want = ASN1_OCTET_STRING_new());
		assert_int_equal(ASN1_OCTET_STRING_set(want, kh, (int)kl), 1);
		assert_int_equal(ASN1_OCTET_STRING_cmp(keyid, want), 0);
		ASN1_OCTET_STRING_free(want);
	}
	assert_int_equal(ASN1_TIME_cmp_time_t(OCSP_resp_get0_produced_at(bs), g.now), 0);
	assert_int_equal(ASN1_STRING_type(OCSP_resp_get0_produced_at(bs)), V_ASN1_GENERALIZEDTIME);
	assert_null(OCSP_resp_get0_certs(bs)); /* no certs field at all */
	X509_ALGOR_get0(&alg, NULL, NULL, OCSP_resp_get0_tbs_sigalg(bs));
	assert_int_equal(OBJ_obj2nid(alg), NID_ecdsa_with_SHA256);
	/* tbs is the digest of the ResponseData as OpenSSL re-encodes it (version omitted). */
	assert_true((rd_len = i2d_OCSP_RESPDATA(OCSP_resp_get0_respdata(bs), &rd)) > 0);
	tl_digest(SG_HASH_SHA256, rd, (size_t)rd_len, h);
	assert_memory_equal(h, tbs, 32);
	/* The first field after the header is responderID byKey [2]: no [0] version. */
	assert_int_equal(rd[(rd[1] & 0x80) != 0 ? 2 + (rd[1] & 0x7f) : 2], 0xa2);
	OPENSSL_free(rd);
	/* The nonce extension, non-critical, exactly the request's value. */
	assert_int_equal(OCSP_BASICRESP_get_ext_count(bs), 1);
	assert_int_equal(X509_EXTENSION_get_critical(OCSP_BASICRESP_get_ext(bs, 0)), 0);
	OCSP_BASICRESP_free(bs);
	free(resp);
	free(der);
}

/* A delegated responder (EKU OCSPSigning, issued by the CA) with its certificate included. */
static void
test_respond_delegated(void **state)
{
	static const char *const check[] = {
	    "-issuer",       "@int.pem", "-cert",     "@revoked.pem",  "-no_nonce", "-respin",
	    "@del-resp.der", "-CAfile",  "@root.pem", "-verify_other", "@int.pem",  NULL};
	X509 *certs[1] = {g.revoked};
	struct sg_ocsp_query q[1];
	struct sg_ocsp_status st[1] = {{V_OCSP_CERTSTATUS_REVOKED, 0, CRL_REASON_UNSPECIFIED}};
	unsigned char nonce[SG_OCSP_MAX_NONCE], tbs[SG_HASH_MAX_LEN], *der, *resp;
	const STACK_OF(X509) * in;
	OCSP_BASICRESP *bs;
	OCSP_REQUEST *req;
	char out[8192];
	size_t len, rlen, n, nonce_len;

	(void)state;
	st[0].revoked_at = g.now - DAY;
	req = make_req(certs, 1, g.inter, EVP_sha1(), NULL, 0);
	der = req_der(req, &len);
	OCSP_REQUEST_free(req);
	assert_int_equal(sg_ocsp_parse_request(der, len, q, 1, &n, nonce, &nonce_len), 0);
	resp = respond(g.resp, g.resp_key, g.inter, q, st, 1, NULL, 0, g.now, SG_HASH_SHA384, tbs,
	               &rlen);
	tl_write("del-resp.der", resp, rlen);
	if (openssl_ocsp(out, sizeof(out), check) != 0)
		print_error("openssl ocsp: %s\n", out);
	assert_non_null(strstr(out, "Response verify OK"));
	assert_non_null(strstr(out, "revoked.pem: revoked"));
	assert_null(strstr(out, "Reason:")); /* unspecified: no reason */
	bs = basic_of(resp, rlen);
	assert_int_equal(basic_verify(bs), 1);
	in = OCSP_resp_get0_certs(bs);
	assert_int_equal(sk_X509_num(in), 1);
	assert_int_equal(X509_cmp(sk_X509_value(in, 0), g.resp), 0);
	expect_status(bs, g.revoked, g.inter, EVP_sha1(), V_OCSP_CERTSTATUS_REVOKED, -1,
	              st[0].revoked_at, g.now);
	assert_int_equal(OCSP_BASICRESP_get_ext_count(bs), 0); /* no nonce asked, none sent */
	OCSP_BASICRESP_free(bs);
	free(resp);
	free(der);
}

/* An RSA CA, SHA-512 CertIDs, every reason code. */
static void
test_respond_rsa_every_reason(void **state)
{
	static const int reasons[] = {
	    CRL_REASON_KEY_COMPROMISE,         CRL_REASON_CA_COMPROMISE,
	    CRL_REASON_AFFILIATION_CHANGED,    CRL_REASON_SUPERSEDED,
	    CRL_REASON_CESSATION_OF_OPERATION, CRL_REASON_CERTIFICATE_HOLD,
	    CRL_REASON_PRIVILEGE_WITHDRAWN,    CRL_REASON_AA_COMPROMISE};
	enum { N = sizeof(reasons) / sizeof(reasons[0]) };
	X509 *certs[N];
	struct sg_ocsp_query q[N];
	struct sg_ocsp_status st[N];
	unsigned char nonce[SG_OCSP_MAX_NONCE], tbs[SG_HASH_MAX_LEN], *der, *resp;
	OCSP_BASICRESP *bs;
	OCSP_REQUEST *req;
	OCSP_SINGLERESP *sr;
	ASN1_GENERALIZEDTIME *rev, *tu, *nu;
	size_t len, rlen, n, nonce_len, i;
	int reason;

	(void)state;
	for (i = 0; i < N; i++) {
		certs[i] = g.rsa_leaf;
		st[i].status = V_OCSP_CERTSTATUS_REVOKED;
		st[i].revoked_at = g.now - (time_t)i * 60;
		st[i].reason = reasons[i];
	}
	req = make_req(certs, N, g.inter_rsa, EVP_sha512(), (const unsigned char *)"n", 1);
	der = req_der(req, &len);
	assert_int_equal(sg_ocsp_parse_request(der, len, q, N, &n, nonce, &nonce_len), 0);
	resp = respond(g.inter_rsa, g.rsa_key, g.inter_rsa, q, st, N, nonce, nonce_len, g.now,
	               SG_HASH_SHA512, tbs, &rlen);
	bs = basic_of(resp, rlen);
	assert_int_equal(basic_verify(bs), 1);
	assert_int_equal(OCSP_check_nonce(req, bs), 1);
	assert_int_equal(OCSP_resp_count(bs), N);
	for (i = 0; i < N; i++) {
		assert_non_null(sr = OCSP_resp_get0(bs, (int)i));
		assert_int_equal(OCSP_single_get0_status(sr, &reason, &rev, &tu, &nu),
		                 V_OCSP_CERTSTATUS_REVOKED);
		assert_int_equal(reason, reasons[i]);
		assert_int_equal(ASN1_TIME_cmp_time_t(rev, st[i].revoked_at), 0);
	}
	{
		const ASN1_OBJECT *alg;

		X509_ALGOR_get0(&alg, NULL, NULL, OCSP_resp_get0_tbs_sigalg(bs));
		assert_int_equal(OBJ_obj2nid(alg), NID_sha512WithRSAEncryption);
	}
	OCSP_BASICRESP_free(bs);
	OCSP_REQUEST_free(req);
	free(resp);
	free(der);
}

static void
expect_begin(X509 *signer, X509 *issuer, const struct sg_ocsp_query *q,
             const struct sg_ocsp_status *st, size_t n, const unsigned char *nonce,
             size_t nonce_len, time_t pa, time_t nu, enum sg_hash h, int err)
{
	struct sg_ocsp_build *b = (struct sg_ocsp_build *)1;
	unsigned char tbs[SG_HASH_MAX_LEN];
	size_t tbs_len = 3;

	assert_int_equal(
	    sg_ocsp_begin(signer, issuer, q, st, n, nonce, nonce_len, pa, nu, h, &b, tbs, &tbs_len),
	    err);
	assert_null(b);
	assert_int_equal(tbs_len, 0);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_begin_refusals(void **state)
{
	X509 *certs[2] = {g.good, g.root_leaf};
	struct sg_ocsp_query q[SG_OCSP_MAX_QUERIES + 1];
	struct sg_ocsp_status st[SG_OCSP_MAX_QUERIES + 1];
	unsigned char nonce[SG_OCSP_MAX_NONCE + 1] = {1}, *der;
	OCSP_REQUEST *req;
	time_t t = g.now, u = g.now + HOUR;
	size_t len, n, nonce_len, i;
	const int I = SG_ERR_INVALID_ARG;

	(void)state;
	req = make_req(certs, 1, g.inter, EVP_sha1(), NULL, 0);
	OCSP_request_add0_id(req, OCSP_cert_to_id(EVP_sha1(), g.root_leaf, g.root));
	der = req_der(req, &len);
	OCSP_REQUEST_free(req);
	assert_int_equal(sg_ocsp_parse_request(der, len, q, 2, &n, nonce, &nonce_len), 0);
	free(der);
	for (i = 0; i <= SG_OCSP_MAX_QUERIES; i++) {
		st[i].status = V_OCSP_CERTSTATUS_GOOD;
		st[i].revoked_at = 0;
		st[i].reason = -1;
		if (i >= 2)
			q[i] = q[0];
	}
	/* The baseline works. */
	{
		struct sg_ocsp_build *b = NULL;
		unsigned char tbs[SG_HASH_MAX_LEN];
		size_t tbs_len = 0;

		assert_int_equal(sg_ocsp_begin(g.inter, g.inter, q, st, 1, nonce, 32, t, u,
		                               SG_HASH_SHA256, &b, tbs, &tbs_len),
		                 0);
		sg_ocsp_build_free(b);
		sg_ocsp_build_free(NULL);
	}
	/* A query for another CA's certificate, alone or among ours. */
	expect_begin(g.inter, g.inter, &q[1], st, 1, NULL, 0, t, u, SG_HASH_SHA256, I);
	expect_begin(g.inter, g.inter, q, st, 2, NULL, 0, t, u, SG_HASH_SHA256, I);
	/* Counts, nonce, times, hash. */
	expect_begin(g.inter, g.inter, q, st, 0, NULL, 0, t, u, SG_HASH_SHA256, I);
	expect_begin(g.inter, g.inter, &q[2], st, SG_OCSP_MAX_QUERIES + 1, NULL, 0, t, u,
	             SG_HASH_SHA256, I);
	expect_begin(g.inter, g.inter, q, st, 1, nonce, SG_OCSP_MAX_NONCE + 1, t, u, SG_HASH_SHA256,
	             I);
	expect_begin(g.inter, g.inter, q, st, 1, NULL, 4, t, u, SG_HASH_SHA256, I);
	expect_begin(g.inter, g.inter, q, st, 1, NULL, 0, t, t, SG_HASH_SHA256, I);
	expect_begin(g.inter, g.inter, q, st, 1, NULL, 0, t, u, SG_HASH_NONE, I);
	/* Statuses and reasons. */
	st[0].status = 3;
	expect_begin(g.inter, g.inter, q, st, 1, NULL, 0, t, u, SG_HASH_SHA256, I);
	st[0].status = V_OCSP_CERTSTATUS_REVOKED;
	st[0].reason = CRL_REASON_REMOVE_FROM_CRL;
	expect_begin(g.inter, g.inter, q, st, 1, NULL, 0, t, u, SG_HASH_SHA256, I);
	st[0].reason = 7;
	expect_begin(g.inter, g.inter, q, st, 1, NULL, 0, t, u, SG_HASH_SHA256, I);
	st[0].status = V_OCSP_CERTSTATUS_GOOD;
	/* Signers that are neither the CA nor its delegated responder. */
	expect_begin(g.resp_no_eku, g.inter, q, st, 1, NULL, 0, t, u, SG_HASH_SHA256, I);
	expect_begin(g.resp_by_root, g.inter, q, st, 1, NULL, 0, t, u, SG_HASH_SHA256, I);
	expect_begin(g.root, g.inter, q, st, 1, NULL, 0, t, u, SG_HASH_SHA256, I);
	/* NULL arguments. */
	expect_begin(NULL, g.inter, q, st, 1, NULL, 0, t, u, SG_HASH_SHA256, I);
	expect_begin(g.inter, NULL, q, st, 1, NULL, 0, t, u, SG_HASH_SHA256, I);
	expect_begin(g.inter, g.inter, NULL, st, 1, NULL, 0, t, u, SG_HASH_SHA256, I);
	expect_begin(g.inter, g.inter, q, NULL, 1, NULL, 0, t, u, SG_HASH_SHA256, I);
}

static void
test_finish_wrong_signature(void **state)
{
	X509 *certs[1] = {g.good};
	struct sg_ocsp_query q[1];
	struct sg_ocsp_status st[1] = {{V_OCSP_CERTSTATUS_GOOD, 0, -1}};
	struct sg_ocsp_build *b = NULL;
	unsigned char nonce[SG_OCSP_MAX_NONCE], tbs[SG_HASH_MAX_LEN], sig[512], *der,
	    *resp = (unsigned char *)1;
	OCSP_REQUEST *req;
	OCSP_BASICRESP *bs;
	size_t len, n, nonce_len, tbs_len = 0, sig_len, rlen = 1;

	(void)state;
	req = make_req(certs, 1, g.inter, EVP_sha1(), NULL, 0);
	der = req_der(req, &len);
	OCSP_REQUEST_free(req);
	assert_int_equal(sg_ocsp_parse_request(der, len, q, 1, &n, nonce, &nonce_len), 0);
	free(der);
	assert_int_equal(sg_ocsp_begin(g.resp, g.inter, q, st, 1, NULL, 0, g.now, g.now + HOUR,
	                               SG_HASH_SHA256, &b, tbs, &tbs_len),
	                 0);
	/* The CA's key is not the delegated responder's. */
	sig_len = tl_sign(g.int_key, SG_HASH_SHA256, tbs, tbs_len, sig, sizeof(sig));
	assert_int_equal(sg_ocsp_finish(b, sig, sig_len, &resp, &rlen), SG_ERR_SELF_VERIFY);
	assert_null(resp);
	assert_int_equal(rlen, 0);
	assert_int_equal(ERR_peek_error(), 0);
	assert_int_equal(sg_ocsp_finish(b, sig, 0, &resp, &rlen), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_ocsp_finish(b, sig, 300, &resp, &rlen), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_ocsp_finish(NULL, sig, sig_len, &resp, &rlen), SG_ERR_INVALID_ARG);
	/* The right key still finishes the same build. */
	sig_len = tl_sign(g.resp_key, SG_HASH_SHA256, tbs, tbs_len, sig, sizeof(sig));
	assert_int_equal(sg_ocsp_finish(b, sig, sig_len, &resp, &rlen), 0);
	bs = basic_of(resp, rlen);
	assert_int_equal(basic_verify(bs), 1);
	OCSP_BASICRESP_free(bs);
	free(resp);
	sg_ocsp_build_free(b);
}

static void
test_error_responses(void **state)
{
	static const int ok[] = {OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
	                         OCSP_RESPONSE_STATUS_INTERNALERROR, OCSP_RESPONSE_STATUS_TRYLATER,
	                         OCSP_RESPONSE_STATUS_UNAUTHORIZED};
	static const int bad[] = {OCSP_RESPONSE_STATUS_SUCCESSFUL, 4,
	                          OCSP_RESPONSE_STATUS_SIGREQUIRED, 7, -1};
	static const char *const text[] = {"-respin", "@err.der", "-resp_text", "-noverify", NULL};
	OCSP_RESPONSE *resp;
	unsigned char *der = (unsigned char *)1;
	const unsigned char *p;
	char out[2048];
	size_t len = 1, i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(sg_ocsp_error_response(ok[i], &der, &len), 0);
		p = der;
		assert_non_null(resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len));
		assert_ptr_equal(p, der + len);
		assert_int_equal(OCSP_response_status(resp), ok[i]);
		assert_null(OCSP_response_get1_basic(resp));
		ERR_clear_error();
		assert_int_equal(len, 5); /* SEQUENCE { ENUMERATED } and nothing else */
		OCSP_RESPONSE_free(resp);
		if (ok[i] == OCSP_RESPONSE_STATUS_UNAUTHORIZED) {
			tl_write("err.der", der, len);
			assert_int_not_equal(openssl_ocsp(out, sizeof(out), text), 0);
			assert_non_null(strstr(out, "Responder Error: unauthorized (6)"));
		}
		free(der);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		der = (unsigned char *)1;
		assert_int_equal(sg_ocsp_error_response(bad[i], &der, &len), SG_ERR_INVALID_ARG);
		assert_null(der);
		assert_int_equal(len, 0);
	}
	assert_int_equal(sg_ocsp_error_response(ok[0], NULL, &len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_ocsp_error_response(ok[0], &der, NULL), SG_ERR_INVALID_ARG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_openssl_requests),
	    cmocka_unit_test(test_parse_requests_from_the_api),
	    cmocka_unit_test(test_parse_extensions),
	    cmocka_unit_test(test_parse_malformed),
	    cmocka_unit_test(test_query_matches),
	    cmocka_unit_test(test_respond_by_ca_judged_by_openssl),
	    cmocka_unit_test(test_respond_delegated),
	    cmocka_unit_test(test_respond_rsa_every_reason),
	    cmocka_unit_test(test_begin_refusals),
	    cmocka_unit_test(test_finish_wrong_signature),
	    cmocka_unit_test(test_error_responses),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
