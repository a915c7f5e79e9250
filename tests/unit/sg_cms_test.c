/*
 * Unit tests of sg_cms: detached CMS SignedData built in two phases, with
 * software keys standing in for the HSM (EVP_PKEY_sign over the tbs
 * digest).  The judges are foreign: `openssl cms -verify` and OpenSSL's
 * CMS_verify() with a store holding only the root; the attributes are read
 * back with OpenSSL's decoders and, for CMSAlgorithmProtection, with a
 * template written here from RFC 6211 independently of the module's.
 *
 * PKI: root (P-384) -> intermediate (P-256) -> leaves of every key type.
 * The leaves carry EKU codeSigning and emailProtection: `openssl cms
 * -verify` checks the S/MIME signing purpose, which a codeSigning-only
 * certificate fails (test_cms_codesigning_only_needs_purpose_any).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>

#include "sg_cms.h"
#include "sg_err.h"
#include "sg_formats_testlib.h"

#define NKEYS 4
#define CONTENT_LEN 10000

static const enum tl_key g_types[NKEYS] = {TL_EC256, TL_EC384, TL_RSA2048, TL_RSA3072};

static struct {
	EVP_PKEY *root_key, *int_key;
	X509 *root, *inter;
	EVP_PKEY *keys[NKEYS];
	X509 *leaves[NKEYS];
	EVP_PKEY *cs_key, *ed_key, *other_key;
	X509 *cs_leaf, *ed_leaf;
	STACK_OF(X509) * chain;
	unsigned char content[CONTENT_LEN];
} g;

/* RFC 6211 section 2, written out again here as the test's own decoder. */
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

static int group_setup(void **state);
/* clang-format on */

static const char *const g_ca_exts[] = {"basicConstraints",
                                        "critical,CA:TRUE",
                                        "keyUsage",
                                        "critical,keyCertSign,cRLSign",
                                        "subjectKeyIdentifier",
                                        "hash",
                                        NULL};
static const char *const g_leaf_exts[] = {"basicConstraints",
                                          "critical,CA:FALSE",
                                          "keyUsage",
                                          "critical,digitalSignature",
                                          "extendedKeyUsage",
                                          "codeSigning,emailProtection",
                                          "subjectKeyIdentifier",
                                          "hash",
                                          "authorityKeyIdentifier",
                                          "keyid",
                                          NULL};
static const char *const g_cs_only_exts[] = {
    "basicConstraints", "critical,CA:FALSE", "keyUsage", "critical,digitalSignature",
    "extendedKeyUsage", "codeSigning",       NULL};

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
	char cn[64];
	int i;

	(void)state;
	tl_mkdir();
	g.root_key = tl_key(TL_EC384);
	g.root = tl_cert(NULL, NULL, g.root_key, "Signet test root", -86400, 86400 * 30, g_ca_exts);
	g.int_key = tl_key(TL_EC256);
	g.inter = tl_cert(g.root, g.root_key, g.int_key, "Signet test intermediate", -86400,
	                  86400 * 30, int_exts);
	for (i = 0; i < NKEYS; i++) {
		g.keys[i] = tl_key(g_types[i]);
		snprintf(cn, sizeof(cn), "code signing %d", i);
		g.leaves[i] =
		    tl_cert(g.inter, g.int_key, g.keys[i], cn, -3600, 86400 * 7, g_leaf_exts);
	}
	g.cs_key = tl_key(TL_EC256);
	g.cs_leaf = tl_cert(g.inter, g.int_key, g.cs_key, "codeSigning only", -3600, 86400 * 7,
	                    g_cs_only_exts);
	g.ed_key = tl_key(TL_ED25519);
	g.ed_leaf = tl_cert(g.inter, g.int_key, g.ed_key, "ed25519", -3600, 86400 * 7, g_leaf_exts);
	g.other_key = tl_key(TL_EC256);
	assert_non_null(g.chain = sk_X509_new_null());
	assert_true(sk_X509_push(g.chain, g.inter) > 0);
	assert_int_equal(RAND_bytes(g.content, sizeof(g.content)), 1);
	tl_write_pem("root.pem", &g.root, 1);
	tl_write_pem("inter.pem", &g.inter, 1);
	tl_write("content.bin", g.content, sizeof(g.content));
	return 0;
}

static int
group_teardown(void **state)
{
	int i;

	(void)state;
	tl_rmdir();
	sk_X509_free(g.chain);
	for (i = 0; i < NKEYS; i++) {
		X509_free(g.leaves[i]);
		EVP_PKEY_free(g.keys[i]);
	}
	X509_free(g.cs_leaf);
	X509_free(g.ed_leaf);
	EVP_PKEY_free(g.cs_key);
	EVP_PKEY_free(g.ed_key);
	EVP_PKEY_free(g.other_key);
	X509_free(g.inter);
	X509_free(g.root);
	EVP_PKEY_free(g.int_key);
	EVP_PKEY_free(g.root_key);
	return 0;
}

/* Both phases with key as the HSM: the DER CMS of g.content (malloc'd). */
static unsigned char *
make_cms(X509 *cert, STACK_OF(X509) * chain, EVP_PKEY *key, enum sg_hash h, time_t at, size_t *len)
{
	struct sg_cms_identity id = {cert, chain};
	struct sg_cms_build *b = NULL;
	unsigned char dig[SG_HASH_MAX_LEN], tbs[SG_HASH_MAX_LEN], sig[512], *der = NULL;
	size_t tbs_len = 0, sig_len;

	tl_digest(h, g.content, sizeof(g.content), dig);
	assert_int_equal(sg_cms_begin_detached(&id, h, dig, sg_hash_len(h), at, &b, tbs, &tbs_len),
	                 0);
	assert_non_null(b);
	assert_int_equal(tbs_len, sg_hash_len(h));
	sig_len = tl_sign(key, h, tbs, tbs_len, sig, sizeof(sig));
	assert_int_equal(sg_cms_finish(b, sig, sig_len, &der, len), 0);
	assert_non_null(der);
	assert_int_equal(ERR_peek_error(), 0); /* nothing left behind on success either */
	sg_cms_build_free(b);
	return der;
}

/* `openssl cms -verify` of name over content file cfile: its exit status, output in out. */
static int
openssl_cms_verify(const char *name, const char *cfile, char *out, size_t cap, const char *purpose)
{
	char in[512], content[512], ca[512];
	const char *argv[] = {"openssl", "cms",       "-verify",  "-binary", "-inform", "DER",
	                      "-in",     in,          "-content", content,   "-CAfile", ca,
	                      "-out",    "/dev/null", NULL,       NULL,      NULL};

	snprintf(in, sizeof(in), "%s", tl_path(name));
	snprintf(content, sizeof(content), "%s", tl_path(cfile));
	snprintf(ca, sizeof(ca), "%s", tl_path("root.pem"));
	if (purpose != NULL) {
		argv[14] = "-purpose";
		argv[15] = purpose;
	}
	return tl_run(out, cap, argv);
}

/* OpenSSL's CMS_verify() with only the root trusted and the content as a BIO. */
static int
cms_verify_inproc(const unsigned char *der, size_t len, const unsigned char *content,
                  size_t content_len)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms;
	X509_STORE *store;
	BIO *bio;
	int ok;

	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &p, (long)len));
	assert_ptr_equal(p, der + len);
	assert_non_null(store = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(store, g.root), 1);
	assert_non_null(bio = BIO_new_mem_buf(content, (int)content_len));
	ok = CMS_verify(cms, NULL, store, bio, NULL, CMS_BINARY);
	ERR_clear_error();
	BIO_free(bio);
	X509_STORE_free(store);
	CMS_ContentInfo_free(cms);
	return ok;
}

/* Every key type and hash: openssl and CMS_verify accept it, a changed byte fails both. */
static void
test_cms_verifies_every_key_and_hash(void **state)
{
	static const enum sg_hash hashes[] = {SG_HASH_SHA256, SG_HASH_SHA384, SG_HASH_SHA512};
	unsigned char *der, *bad;
	char out[4096];
	size_t len, i, j;

	(void)state;
	assert_non_null(bad = malloc(sizeof(g.content)));
	memcpy(bad, g.content, sizeof(g.content));
	bad[sizeof(g.content) / 2] ^= 0x01;
	tl_write("tampered.bin", bad, sizeof(g.content));
	for (i = 0; i < NKEYS; i++) {
		for (j = 0; j < 3; j++) {
			der =
			    make_cms(g.leaves[i], g.chain, g.keys[i], hashes[j], time(NULL), &len);
			tl_write("x.p7s", der, len);
			assert_int_equal(
			    openssl_cms_verify("x.p7s", "content.bin", out, sizeof(out), NULL), 0);
			assert_non_null(strstr(out, "Verification successful"));
			assert_int_not_equal(
			    openssl_cms_verify("x.p7s", "tampered.bin", out, sizeof(out), NULL), 0);
			assert_non_null(strstr(out, "Verification failure"));
			assert_int_equal(cms_verify_inproc(der, len, g.content, sizeof(g.content)),
			                 1);
			assert_int_equal(cms_verify_inproc(der, len, bad, sizeof(g.content)), 0);
			free(der);
		}
	}
	free(bad);
}

/* The decoded CMS: structure, every signed attribute, certificates. */
static void
check_structure(const unsigned char *der, size_t len, int key_index, enum sg_hash h, time_t at,
                int sig_nid)
{
	const unsigned char *p = der, *q;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	STACK_OF(X509) * certs;
	X509_ALGOR *dig, *sig;
	X509_ATTRIBUTE *attr;
	ASN1_TYPE *t;
	ASN1_OBJECT *ap_oid;
	ASN1_OCTET_STRING *os;
	T_ALG_PROTECTION *ap;
	PKCS7 *p7;
	unsigned char md[SG_HASH_MAX_LEN];
	int loc, i;

	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &p, (long)len));
	assert_int_equal(OBJ_obj2nid(CMS_get0_type(cms)), NID_pkcs7_signed);
	assert_int_equal(OBJ_obj2nid(CMS_get0_eContentType(cms)), NID_pkcs7_data);
	assert_null(*CMS_get0_content(cms)); /* detached */
	assert_int_equal(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)), 1);
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	assert_int_equal(CMS_SignerInfo_cert_cmp(si, g.leaves[key_index]), 0);
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
	assert_int_equal(OBJ_obj2nid(dig->algorithm), EVP_MD_get_type(sg_hash_md(h)));
	assert_int_equal(OBJ_obj2nid(sig->algorithm), sig_nid);

	/* Exactly the four attributes of the brief. */
	assert_int_equal(CMS_signed_get_attr_count(si), 4);
	assert_int_equal(CMS_unsigned_get_attr_count(si), -1);
	assert_int_equal(CMS_signed_get_attr_by_NID(si, NID_SMIMECapabilities, -1), -1);
	assert_int_equal(CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, -1),
	                 -1);
	t = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_contentType), -3, V_ASN1_OBJECT);
	assert_non_null(t);
	assert_int_equal(OBJ_obj2nid((ASN1_OBJECT *)t), NID_pkcs7_data);
	attr = CMS_signed_get_attr(si, CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1));
	assert_non_null(attr);
	assert_int_equal(X509_ATTRIBUTE_count(attr), 1);
	t = X509_ATTRIBUTE_get0_type(attr, 0);
	/* RFC 5652 11.3: UTCTime through 2049, GeneralizedTime after. */
	assert_int_equal(t->type, at < 2524608000 ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME);
	assert_int_equal(ASN1_TIME_cmp_time_t(t->value.asn1_string, at), 0);
	os = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3,
	                                 V_ASN1_OCTET_STRING);
	assert_non_null(os);
	tl_digest(h, g.content, sizeof(g.content), md);
	assert_int_equal(ASN1_STRING_length(os), sg_hash_len(h));
	assert_memory_equal(ASN1_STRING_get0_data(os), md, sg_hash_len(h));

	/* RFC 6211: present once, and the same algorithms as the SignerInfo's. */
	assert_non_null(ap_oid = OBJ_txt2obj("1.2.840.113549.1.9.52", 1));
	assert_true((loc = CMS_signed_get_attr_by_OBJ(si, ap_oid, -1)) >= 0);
	assert_int_equal(CMS_signed_get_attr_by_OBJ(si, ap_oid, loc), -1);
	attr = CMS_signed_get_attr(si, loc);
	assert_int_equal(X509_ATTRIBUTE_count(attr), 1);
	t = X509_ATTRIBUTE_get0_type(attr, 0);
	assert_int_equal(t->type, V_ASN1_SEQUENCE);
	q = ASN1_STRING_get0_data(t->value.sequence);
	ap = (T_ALG_PROTECTION *)ASN1_item_d2i(NULL, &q, ASN1_STRING_length(t->value.sequence),
	                                       ASN1_ITEM_rptr(T_ALG_PROTECTION));
	assert_non_null(ap);
	assert_ptr_equal(q, ASN1_STRING_get0_data(t->value.sequence) +
	                        ASN1_STRING_length(t->value.sequence));
	assert_int_equal(X509_ALGOR_cmp(ap->digest, dig), 0);
	assert_non_null(ap->signature);
	assert_int_equal(X509_ALGOR_cmp(ap->signature, sig), 0);
	assert_null(ap->mac);
	ASN1_item_free((ASN1_VALUE *)ap, ASN1_ITEM_rptr(T_ALG_PROTECTION));
	ASN1_OBJECT_free(ap_oid);

	/* Certificates: the leaf and the intermediate, not the root. */
	assert_non_null(certs = CMS_get1_certs(cms));
	assert_int_equal(sk_X509_num(certs), 2);
	for (i = 0; i < 2; i++) {
		X509 *x = sk_X509_value(certs, i);

		assert_true(X509_cmp(x, g.leaves[key_index]) == 0 || X509_cmp(x, g.inter) == 0);
	}
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);

	/* SignedData and SignerInfo version 1 (id-data, issuerAndSerialNumber). */
	p = der;
	assert_non_null(p7 = d2i_PKCS7(NULL, &p, (long)len));
	assert_int_equal(ASN1_INTEGER_get(p7->d.sign->version), 1);
	assert_int_equal(
	    ASN1_INTEGER_get(sk_PKCS7_SIGNER_INFO_value(p7->d.sign->signer_info, 0)->version), 1);
	PKCS7_free(p7);
}

static void
test_cms_attributes_and_certificates(void **state)
{
	unsigned char *der;
	size_t len;

	(void)state;
	der = make_cms(g.leaves[1], g.chain, g.keys[1], SG_HASH_SHA384, 1700000000, &len);
	check_structure(der, len, 1, SG_HASH_SHA384, 1700000000, NID_ecdsa_with_SHA384);
	free(der);
	der = make_cms(g.leaves[0], g.chain, g.keys[0], SG_HASH_SHA512, 1700000001, &len);
	check_structure(der, len, 0, SG_HASH_SHA512, 1700000001, NID_ecdsa_with_SHA512);
	free(der);
	/* RSA PKCS#1 v1.5: rsaEncryption, as OpenSSL itself writes it. */
	der = make_cms(g.leaves[2], g.chain, g.keys[2], SG_HASH_SHA256, 1700000002, &len);
	check_structure(der, len, 2, SG_HASH_SHA256, 1700000002, NID_rsaEncryption);
	free(der);
	/* 2051: GeneralizedTime. */
	der = make_cms(g.leaves[0], g.chain, g.keys[0], SG_HASH_SHA256, 2556144000, &len);
	check_structure(der, len, 0, SG_HASH_SHA256, 2556144000, NID_ecdsa_with_SHA256);
	free(der);
}

/* A chain that repeats the leaf and the intermediate still gives each certificate once. */
static void
test_cms_chain_duplicates_and_no_chain(void **state)
{
	const unsigned char *p;
	STACK_OF(X509) * chain, *certs;
	CMS_ContentInfo *cms;
	unsigned char *der;
	char out[4096];
	size_t len;

	(void)state;
	assert_non_null(chain = sk_X509_new_null());
	assert_true(sk_X509_push(chain, g.inter) > 0);
	assert_true(sk_X509_push(chain, g.leaves[0]) > 0);
	assert_true(sk_X509_push(chain, g.inter) > 0);
	der = make_cms(g.leaves[0], chain, g.keys[0], SG_HASH_SHA256, time(NULL), &len);
	p = der;
	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &p, (long)len));
	assert_non_null(certs = CMS_get1_certs(cms));
	assert_int_equal(sk_X509_num(certs), 2);
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	free(der);
	sk_X509_free(chain);

	/* Without a chain only the leaf goes in; the verifier must bring the intermediate. */
	der = make_cms(g.leaves[0], NULL, g.keys[0], SG_HASH_SHA256, time(NULL), &len);
	p = der;
	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &p, (long)len));
	assert_non_null(certs = CMS_get1_certs(cms));
	assert_int_equal(sk_X509_num(certs), 1);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 0), g.leaves[0]), 0);
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	tl_write("nochain.p7s", der, len);
	assert_int_not_equal(
	    openssl_cms_verify("nochain.p7s", "content.bin", out, sizeof(out), NULL), 0);
	assert_non_null(strstr(out, "unable to get local issuer certificate"));
	free(der);
}

/*
 * The stock command of issue 4 checks the S/MIME signing purpose: a leaf
 * whose only EKU is codeSigning fails it ("unsuitable certificate
 * purpose") and needs `-purpose any`.  This pins the behaviour that
 * docs/formats.md describes.
 */
static void
test_cms_codesigning_only_needs_purpose_any(void **state)
{
	unsigned char *der;
	char out[4096];
	size_t len;

	(void)state;
	der = make_cms(g.cs_leaf, g.chain, g.cs_key, SG_HASH_SHA256, time(NULL), &len);
	tl_write("cs.p7s", der, len);
	assert_int_not_equal(openssl_cms_verify("cs.p7s", "content.bin", out, sizeof(out), NULL),
	                     0);
	assert_non_null(strstr(out, "unsuitable certificate purpose"));
	assert_int_equal(openssl_cms_verify("cs.p7s", "content.bin", out, sizeof(out), "any"), 0);
	assert_non_null(strstr(out, "Verification successful"));
	free(der);
}

/* An encapsulated id-data SignedData from sg_cms_begin(): openssl prints the content back. */
static void
test_cms_encapsulated_content(void **state)
{
	static const unsigned char msg[] = "attached content\n";
	struct sg_cms_identity id = {g.leaves[3], g.chain};
	struct sg_cms_params p = {
	    .content_type = NID_pkcs7_data, .content = msg, .content_len = sizeof(msg) - 1};
	struct sg_cms_build *b = NULL;
	unsigned char tbs[SG_HASH_MAX_LEN], sig[512], *der = NULL, *back;
	const unsigned char *content;
	size_t tbs_len, sig_len, len, back_len, content_len;
	char in[512], outp[512], ca[512], out[4096];
	const char *argv[] = {"openssl", "cms",     "-verify", "-binary", "-inform", "DER", "-in",
	                      in,        "-CAfile", ca,        "-out",    outp,      NULL};
	int type;

	(void)state;
	assert_int_equal(sg_cms_begin(&id, SG_HASH_SHA384, &p, &b, tbs, &tbs_len), 0);
	assert_int_equal(sg_cms_build_content(b, &type, &content, &content_len), 0);
	assert_int_equal(type, NID_pkcs7_data);
	assert_int_equal(content_len, sizeof(msg) - 1);
	assert_memory_equal(content, msg, content_len);
	sig_len = tl_sign(g.keys[3], SG_HASH_SHA384, tbs, tbs_len, sig, sizeof(sig));
	assert_int_equal(sg_cms_finish(b, sig, sig_len, &der, &len), 0);
	tl_write("att.p7m", der, len);
	snprintf(in, sizeof(in), "%s", tl_path("att.p7m"));
	snprintf(outp, sizeof(outp), "%s", tl_path("att.out"));
	snprintf(ca, sizeof(ca), "%s", tl_path("root.pem"));
	assert_int_equal(tl_run(out, sizeof(out), argv), 0);
	back = tl_read("att.out", &back_len);
	assert_int_equal(back_len, sizeof(msg) - 1);
	assert_memory_equal(back, msg, back_len);
	free(back);
	free(der);
	sg_cms_build_free(b);
}

static void
test_cms_bad_arguments(void **state)
{
	struct sg_cms_identity id = {g.leaves[0], g.chain}, ed = {g.ed_leaf, g.chain},
	                       none = {NULL, NULL};
	struct sg_cms_build *b = (struct sg_cms_build *)&id;
	unsigned char dig[SG_HASH_MAX_LEN] = {0}, tbs[SG_HASH_MAX_LEN], sig[80] = {0}, *der;
	struct sg_cms_params p = {.content_type = NID_pkcs7_data, .content = dig, .content_len = 1};
	size_t tbs_len = 99, len;
	enum sg_keyalg alg;

	(void)state;
	/* Digest length must be the hash's, for every hash. */
	assert_int_equal(sg_cms_begin_detached(&id, SG_HASH_SHA256, dig, 31, 0, &b, tbs, &tbs_len),
	                 SG_ERR_INVALID_ARG);
	assert_null(b);
	assert_int_equal(tbs_len, 0);
	assert_int_equal(sg_cms_begin_detached(&id, SG_HASH_SHA256, dig, 33, 0, &b, tbs, &tbs_len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_cms_begin_detached(&id, SG_HASH_SHA384, dig, 32, 0, &b, tbs, &tbs_len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_cms_begin_detached(&id, SG_HASH_SHA512, dig, 48, 0, &b, tbs, &tbs_len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_cms_begin_detached(&id, SG_HASH_NONE, dig, 32, 0, &b, tbs, &tbs_len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_cms_begin_detached(&id, (enum sg_hash)9, dig, 32, 0, &b, tbs, &tbs_len),
	                 SG_ERR_INVALID_ARG);
	/* Unsupported key type. */
	assert_int_equal(sg_cms_begin_detached(&ed, SG_HASH_SHA256, dig, 32, 0, &b, tbs, &tbs_len),
	                 SG_ERR_INVALID_ARG);
	assert_null(b);
	assert_int_equal(sg_cms_cert_keyalg(g.ed_leaf, &alg), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_cms_cert_keyalg(g.leaves[3], &alg), 0);
	assert_int_equal(alg, SG_KEYALG_RSA_3072);
	assert_int_equal(sg_cms_cert_keyalg(g.root, &alg), 0);
	assert_int_equal(alg, SG_KEYALG_EC_P384);
	/* NULL arguments. */
	assert_int_equal(sg_cms_begin_detached(NULL, SG_HASH_SHA256, dig, 32, 0, &b, tbs, &tbs_len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(
	    sg_cms_begin_detached(&none, SG_HASH_SHA256, dig, 32, 0, &b, tbs, &tbs_len),
	    SG_ERR_INVALID_ARG);
	assert_int_equal(sg_cms_begin_detached(&id, SG_HASH_SHA256, NULL, 32, 0, &b, tbs, &tbs_len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(
	    sg_cms_begin_detached(&id, SG_HASH_SHA256, dig, 32, 0, NULL, tbs, &tbs_len),
	    SG_ERR_INVALID_ARG);
	assert_int_equal(sg_cms_begin_detached(&id, SG_HASH_SHA256, dig, 32, 0, &b, NULL, &tbs_len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_cms_begin_detached(&id, SG_HASH_SHA256, dig, 32, 0, &b, tbs, NULL),
	                 SG_ERR_INVALID_ARG);
	/* Content and digest together, no content type. */
	p.digest = dig;
	p.digest_len = 32;
	assert_int_equal(sg_cms_begin(&id, SG_HASH_SHA256, &p, &b, tbs, &tbs_len),
	                 SG_ERR_INVALID_ARG);
	p.digest = NULL;
	p.digest_len = 0;
	p.content_type = NID_undef;
	assert_int_equal(sg_cms_begin(&id, SG_HASH_SHA256, &p, &b, tbs, &tbs_len),
	                 SG_ERR_INVALID_ARG);
	p.content_type = 1 << 30;
	assert_int_equal(sg_cms_begin(&id, SG_HASH_SHA256, &p, &b, tbs, &tbs_len),
	                 SG_ERR_INVALID_ARG);
	p.content_type = NID_pkcs7_data;
	p.content_len = SG_CMS_MAX_DER + 1;
	assert_int_equal(sg_cms_begin(&id, SG_HASH_SHA256, &p, &b, tbs, &tbs_len),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(ERR_peek_error(), 0);

	/* finish: signature length 0 or above what a P-256 key makes (72). */
	assert_int_equal(sg_cms_begin_detached(&id, SG_HASH_SHA256, dig, 32, 0, &b, tbs, &tbs_len),
	                 0);
	assert_int_equal(sg_cms_finish(b, sig, 0, &der, &len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_cms_finish(b, sig, 73, &der, &len), SG_ERR_INVALID_ARG);
	assert_null(der);
	assert_int_equal(len, 0);
	assert_int_equal(sg_cms_finish(NULL, sig, 70, &der, &len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_cms_finish(b, NULL, 70, &der, &len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_cms_finish(b, sig, 70, NULL, &len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_cms_build_content(NULL, NULL, NULL, NULL), SG_ERR_INVALID_ARG);
	sg_cms_build_free(b);
	sg_cms_build_free(NULL);
}

/* A signature that is not the certificate key's over tbs: SG_ERR_SELF_VERIFY, then recovery. */
static void
test_cms_wrong_signature(void **state)
{
	struct sg_cms_identity id;
	struct sg_cms_build *b = NULL;
	unsigned char dig[SG_HASH_MAX_LEN], tbs[SG_HASH_MAX_LEN], sig[512], *der = NULL;
	size_t tbs_len, sig_len, len = 7;
	char out[4096];
	int k;

	(void)state;
	tl_digest(SG_HASH_SHA256, g.content, sizeof(g.content), dig);
	for (k = 0; k < NKEYS; k += 2) { /* EC P-256 and RSA-2048 */
		id.cert = g.leaves[k];
		id.chain = g.chain;
		assert_int_equal(sg_cms_begin_detached(&id, SG_HASH_SHA256, dig, 32, 1700000000, &b,
		                                       tbs, &tbs_len),
		                 0);
		/* Another key (a P-256 one: its signature fits the length limit of both). */
		sig_len = tl_sign(g.other_key, SG_HASH_SHA256, tbs, tbs_len, sig, sizeof(sig));
		assert_int_equal(sg_cms_finish(b, sig, sig_len, &der, &len), SG_ERR_SELF_VERIFY);
		assert_null(der);
		assert_int_equal(len, 0);
		/* The right key over another digest. */
		tbs[0] ^= 0x80;
		sig_len = tl_sign(g.keys[k], SG_HASH_SHA256, tbs, tbs_len, sig, sizeof(sig));
		tbs[0] ^= 0x80;
		assert_int_equal(sg_cms_finish(b, sig, sig_len, &der, &len), SG_ERR_SELF_VERIFY);
		/* The right signature with one bit flipped. */
		sig_len = tl_sign(g.keys[k], SG_HASH_SHA256, tbs, tbs_len, sig, sizeof(sig));
		sig[sig_len - 1] ^= 0x01;
		assert_int_equal(sg_cms_finish(b, sig, sig_len, &der, &len), SG_ERR_SELF_VERIFY);
		/* Garbage of a plausible length. */
		memset(sig, 0x5a, sig_len);
		assert_int_equal(sg_cms_finish(b, sig, sig_len, &der, &len), SG_ERR_SELF_VERIFY);
		assert_int_equal(ERR_peek_error(), 0);
		/* The same build then takes the right signature. */
		sig_len = tl_sign(g.keys[k], SG_HASH_SHA256, tbs, tbs_len, sig, sizeof(sig));
		assert_int_equal(sg_cms_finish(b, sig, sig_len, &der, &len), 0);
		tl_write("retry.p7s", der, len);
		assert_int_equal(
		    openssl_cms_verify("retry.p7s", "content.bin", out, sizeof(out), NULL), 0);
		free(der);
		der = NULL;
		sg_cms_build_free(b);
		b = NULL;
	}
}

static void
test_cms_signature_value(void **state)
{
	struct sg_cms_identity id = {g.leaves[2], g.chain};
	struct sg_cms_build *b = NULL;
	unsigned char dig[SG_HASH_MAX_LEN], tbs[SG_HASH_MAX_LEN], sig[512], *der = NULL, *v = NULL,
	                                                                    *x;
	size_t tbs_len, sig_len, len, vlen = 5, certlen;
	unsigned char *cert = NULL, *cp;

	(void)state;
	tl_digest(SG_HASH_SHA256, g.content, sizeof(g.content), dig);
	assert_int_equal(
	    sg_cms_begin_detached(&id, SG_HASH_SHA256, dig, 32, 1700000000, &b, tbs, &tbs_len), 0);
	sig_len = tl_sign(g.keys[2], SG_HASH_SHA256, tbs, tbs_len, sig, sizeof(sig));
	assert_int_equal(sig_len, 256);
	assert_int_equal(sg_cms_finish(b, sig, sig_len, &der, &len), 0);
	assert_int_equal(sg_cms_signature_value(der, len, &v, &vlen), 0);
	assert_int_equal(vlen, sig_len);
	assert_memory_equal(v, sig, sig_len);
	free(v);

	/* Truncated, trailing byte, garbage, another DER type, empty. */
	assert_int_equal(sg_cms_signature_value(der, len - 1, &v, &vlen), SG_ERR_MALFORMED);
	assert_null(v);
	assert_int_equal(vlen, 0);
	assert_non_null(x = malloc(len + 1));
	memcpy(x, der, len);
	x[len] = 0;
	assert_int_equal(sg_cms_signature_value(x, len + 1, &v, &vlen), SG_ERR_MALFORMED);
	memset(x, 0x30, len);
	assert_int_equal(sg_cms_signature_value(x, len, &v, &vlen), SG_ERR_MALFORMED);
	free(x);
	certlen = (size_t)i2d_X509(g.root, NULL);
	assert_non_null(cert = malloc(certlen));
	cp = cert;
	assert_int_equal(i2d_X509(g.root, &cp), (int)certlen);
	assert_int_equal(sg_cms_signature_value(cert, certlen, &v, &vlen), SG_ERR_MALFORMED);
	free(cert);
	assert_int_equal(sg_cms_signature_value(der, 0, &v, &vlen), SG_ERR_MALFORMED);
	assert_int_equal(sg_cms_signature_value(der, SG_CMS_MAX_DER + 1, &v, &vlen),
	                 SG_ERR_TOO_LARGE);
	assert_int_equal(sg_cms_signature_value(NULL, len, &v, &vlen), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_cms_signature_value(der, len, NULL, &vlen), SG_ERR_INVALID_ARG);
	assert_int_equal(ERR_peek_error(), 0);
	free(der);
	sg_cms_build_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cms_verifies_every_key_and_hash),
	    cmocka_unit_test(test_cms_attributes_and_certificates),
	    cmocka_unit_test(test_cms_chain_duplicates_and_no_chain),
	    cmocka_unit_test(test_cms_codesigning_only_needs_purpose_any),
	    cmocka_unit_test(test_cms_encapsulated_content),
	    cmocka_unit_test(test_cms_bad_arguments),
	    cmocka_unit_test(test_cms_wrong_signature),
	    cmocka_unit_test(test_cms_signature_value),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
