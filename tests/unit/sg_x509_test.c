/*
 * Unit tests of sg_x509: CSR parsing (CSRs made in-test with OpenSSL's
 * X509_REQ API and by `openssl req`, and broken ones), certificates and
 * CRLs built in two phases with software keys standing in for the HSM.
 * The judges are `openssl verify -x509_strict` (chains, name constraints,
 * -crl_check), `openssl crl` and OpenSSL's X509_verify_cert(); every field
 * is read back through OpenSSL's X509 / X509_CRL decoders.
 *
 * PKI: a self-signed root per issuer key type (EC P-256/P-384, RSA
 * 2048/3072, made by the test library) -> an intermediate (EC P-256) issued
 * by sg_x509 -> leaves issued by sg_x509.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rand.h>

#include "sg_err.h"
#include "sg_formats_testlib.h"
#include "sg_x509.h"

#define DAY 86400

static const char *const g_root_exts[] = {"basicConstraints",
                                          "critical,CA:TRUE",
                                          "keyUsage",
                                          "critical,keyCertSign,cRLSign",
                                          "subjectKeyIdentifier",
                                          "hash",
                                          NULL};

static struct {
	EVP_PKEY *root_key[4]; /* TL_EC256, TL_EC384, TL_RSA2048, TL_RSA3072 */
	X509 *root[4];
	EVP_PKEY *int_key, *leaf_key, *other_key, *rsa1024, *ed_key;
	X509 *inter; /* issued by root[1] (P-384) with sg_x509 */
	NAME_CONSTRAINTS *nc;
	time_t now;
} g;

/* ---- helpers -------------------------------------------------------------- */

static GENERAL_NAMES *
sans_of(const char *value)
{
	X509_EXTENSION *e;
	GENERAL_NAMES *gens;

	assert_non_null(e = X509V3_EXT_nconf(NULL, NULL, "subjectAltName", value));
	assert_non_null(gens = X509V3_EXT_d2i(e));
	X509_EXTENSION_free(e);
	return gens;
}

static X509_NAME *
name_of(const char *cn)
{
	X509_NAME *n;

	assert_non_null(n = X509_NAME_new());
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
	                                            (const unsigned char *)"Signet tests", -1, -1,
	                                            0),
	                 1);
	if (cn != NULL)
		assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
		                                            (const unsigned char *)cn, -1, -1, 0),
		                 1);
	return n;
}

static void
set_serial(unsigned char *s, size_t *len, uint64_t v)
{
	size_t i;

	for (i = 0; i < 8; i++)
		s[i] = (unsigned char)(v >> (56 - 8 * i));
	*len = 8;
}

/* A leaf's parameters: pubkey, subject and issuer given, everything else minimal. */
static void
leaf_params(struct sg_cert_params *p, EVP_PKEY *pub, X509_NAME *subject, X509 *issuer)
{
	static uint64_t serial = 0x1000;

	memset(p, 0, sizeof(*p));
	p->pubkey = pub;
	p->subject = subject;
	set_serial(p->serial, &p->serial_len, serial++);
	p->not_before = g.now - 300;
	p->not_after = g.now + DAY;
	p->path_len = -1;
	p->key_usage = KU_DIGITAL_SIGNATURE;
	p->issuer = issuer;
	p->hash = SG_HASH_SHA256;
}

/* Phase two with the software key: the DER certificate or CRL (malloc'd). */
static unsigned char *
sign_and_finish(struct sg_x509_build *b, int crl, EVP_PKEY *key, enum sg_hash h,
                const unsigned char *tbs, size_t tbs_len, size_t *len)
{
	unsigned char sig[512], *der = NULL;
	size_t sig_len;

	sig_len = tl_sign(key, h, tbs, tbs_len, sig, sizeof(sig));
	if (crl)
		assert_int_equal(sg_crl_finish(b, sig, sig_len, &der, len), 0);
	else
		assert_int_equal(sg_x509_finish(b, sig, sig_len, &der, len), 0);
	assert_non_null(der);
	assert_int_equal(ERR_peek_error(), 0); /* nothing left behind on success */
	return der;
}

/* Both phases of p, signed with issuer_key; the decoded certificate (and its DER if asked). */
static X509 *
issue(const struct sg_cert_params *p, EVP_PKEY *issuer_key, unsigned char **der_out,
      size_t *der_len_out)
{
	struct sg_x509_build *b = NULL;
	unsigned char tbs[SG_HASH_MAX_LEN], *der, *re = NULL, h[SG_HASH_MAX_LEN];
	const unsigned char *q;
	size_t tbs_len = 0, len = 0;
	X509 *x;
	int re_len;

	assert_int_equal(sg_x509_begin(p, &b, tbs, &tbs_len), 0);
	assert_non_null(b);
	assert_int_equal(tbs_len, sg_hash_len(p->hash));
	der = sign_and_finish(b, 0, issuer_key, p->hash, tbs, tbs_len, &len);
	sg_x509_build_free(b);
	q = der;
	assert_non_null(x = d2i_X509(NULL, &q, (long)len));
	assert_ptr_equal(q, der + len);
	/* tbs is the digest of the TBSCertificate as OpenSSL re-encodes it from the decoded cert.
	 */
	assert_true((re_len = i2d_re_X509_tbs(x, &re)) > 0);
	tl_digest(p->hash, re, (size_t)re_len, h);
	assert_memory_equal(h, tbs, tbs_len);
	OPENSSL_free(re);
	if (der_out != NULL) {
		*der_out = der;
		*der_len_out = len;
	} else {
		free(der);
	}
	return x;
}

/* X509_verify_cert() with X509_V_FLAG_X509_STRICT: root trusted, intermediates untrusted. */
static int
verify_chain(X509 *root, X509 *inter, X509 *leaf, X509_CRL *crl)
{
	X509_STORE *st;
	X509_STORE_CTX *ctx;
	STACK_OF(X509) * untrusted;
	int ok, err;

	assert_non_null(st = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(st, root), 1);
	X509_STORE_set_flags(st, X509_V_FLAG_X509_STRICT);
	if (crl != NULL) {
		assert_int_equal(X509_STORE_add_crl(st, crl), 1);
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	assert_non_null(untrusted = sk_X509_new_null());
	if (inter != NULL)
		assert_true(sk_X509_push(untrusted, inter) > 0);
	assert_non_null(ctx = X509_STORE_CTX_new());
	assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, untrusted), 1);
	ok = X509_verify_cert(ctx);
	err = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	X509_STORE_free(st);
	ERR_clear_error();
	return ok == 1 ? X509_V_OK : (err != X509_V_OK ? err : -1);
}

/* `openssl verify -x509_strict -CAfile root -untrusted int [-crl_check -CRLfile crl] leaf`. */
static int
openssl_verify(const char *root, const char *inter, const char *leaf, const char *crl, char *out,
               size_t cap)
{
	char r[512], i[512], l[512], c[512];
	const char *argv[] = {"openssl", "verify", "-x509_strict", "-CAfile", r,    "-untrusted",
	                      i,         l,        NULL,           NULL,      NULL, NULL};

	snprintf(r, sizeof(r), "%s", tl_path(root));
	snprintf(i, sizeof(i), "%s", tl_path(inter));
	snprintf(l, sizeof(l), "%s", tl_path(leaf));
	if (crl != NULL) {
		snprintf(c, sizeof(c), "%s", tl_path(crl));
		argv[7] = "-crl_check";
		argv[8] = "-CRLfile";
		argv[9] = c;
		argv[10] = l;
	}
	return tl_run(out, cap, argv);
}

/* The intermediate CA params: CA, pathlen 0, keyCertSign|cRLSign, name constraints. */
static void
int_params(struct sg_cert_params *p, EVP_PKEY *pub, X509_NAME *subject, X509 *issuer)
{
	leaf_params(p, pub, subject, issuer);
	p->is_ca = 1;
	p->path_len = 0;
	p->key_usage = KU_KEY_CERT_SIGN | KU_CRL_SIGN;
	p->name_constraints = g.nc;
	p->not_before = g.now - DAY;
	p->not_after = g.now + 30 * DAY;
}

/* A DER CSR for key, subject CN=cn, version ver, SAN DNS:cn, signed with sign_key. */
static unsigned char *
make_csr(EVP_PKEY *key, EVP_PKEY *sign_key, const char *cn, long ver, size_t *len)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *e;
	X509_NAME *n = name_of(cn);
	unsigned char *der = NULL;
	char san[300];
	X509_REQ *req;
	int l;

	assert_non_null(req = X509_REQ_new());
	assert_int_equal(X509_REQ_set_version(req, ver), 1);
	assert_int_equal(X509_REQ_set_subject_name(req, n), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	snprintf(san, sizeof(san), "DNS:%s", cn);
	assert_non_null(e = X509V3_EXT_nconf(NULL, NULL, "subjectAltName", san));
	assert_non_null(X509v3_add_ext(&exts, e, -1));
	assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
	assert_true(X509_REQ_sign(req, sign_key,
	                          EVP_PKEY_get_base_id(sign_key) == EVP_PKEY_ED25519
	                              ? NULL
	                              : EVP_sha256()) > 0);
	assert_true((l = i2d_X509_REQ(req, &der)) > 0);
	*len = (size_t)l;
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_EXTENSION_free(e);
	X509_NAME_free(n);
	X509_REQ_free(req);
	return der; /* OPENSSL_malloc'd */
}

/* A self-signed Ed25519 CA certificate (tl_cert signs with SHA-256, which Ed25519 refuses). */
static X509 *
ed25519_root(void)
{
	X509_NAME *n = name_of("Ed25519 root");
	X509 *x;

	assert_non_null(x = X509_new());
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_int_equal(X509_set_subject_name(x, n), 1);
	assert_int_equal(X509_set_issuer_name(x, n), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -DAY));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), DAY));
	assert_int_equal(X509_set_pubkey(x, g.ed_key), 1);
	assert_true(X509_sign(x, g.ed_key, NULL) > 0);
	X509_NAME_free(n);
	return x;
}

/* The PEM form of a DER CSR, NUL-terminated (malloc'd). */
static char *
csr_pem(const unsigned char *der, size_t len)
{
	BIO *bio;
	char *data, *s;
	long n;

	assert_non_null(bio = BIO_new(BIO_s_mem()));
	assert_true(PEM_write_bio(bio, "CERTIFICATE REQUEST", "", der, (long)len) > 0);
	n = BIO_get_mem_data(bio, &data);
	assert_non_null(s = malloc((size_t)n + 1));
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	BIO_free(bio);
	return s;
}

static int
csr_parse_str(const char *s, X509_REQ **out)
{
	return sg_x509_csr_parse((const unsigned char *)s, strlen(s), out);
}

/* ---- setup ---------------------------------------------------------------- */

static int
group_setup(void **state)
{
	static const enum tl_key types[4] = {TL_EC256, TL_EC384, TL_RSA2048, TL_RSA3072};
	static const char *const names[4] = {"root EC P-256", "root EC P-384", "root RSA-2048",
	                                     "root RSA-3072"};
	struct sg_cert_params p;
	X509_EXTENSION *e;
	X509_NAME *n;
	char file[64];
	size_t i;

	(void)state;
	tl_mkdir();
	g.now = time(NULL);
	for (i = 0; i < 4; i++) {
		g.root_key[i] = tl_key(types[i]);
		g.root[i] =
		    tl_cert(NULL, NULL, g.root_key[i], names[i], -2 * DAY, 60 * DAY, g_root_exts);
		snprintf(file, sizeof(file), "root%zu.pem", i);
		tl_write_pem(file, &g.root[i], 1);
	}
	assert_non_null(e = X509V3_EXT_nconf(NULL, NULL, "nameConstraints",
	                                     "critical,permitted;DNS:.example.com,"
	                                     "permitted;IP:10.0.0.0/255.0.0.0"));
	assert_non_null(g.nc = X509V3_EXT_d2i(e));
	X509_EXTENSION_free(e);
	g.int_key = tl_key(TL_EC256);
	g.leaf_key = tl_key(TL_EC256);
	g.other_key = tl_key(TL_EC256);
	g.ed_key = tl_key(TL_ED25519);
	assert_non_null(g.rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024));
	n = name_of("Signet test intermediate");
	int_params(&p, g.int_key, n, g.root[1]);
	p.hash = SG_HASH_SHA384;
	g.inter = issue(&p, g.root_key[1], NULL, NULL);
	X509_NAME_free(n);
	tl_write_pem("int.pem", &g.inter, 1);
	return 0;
}

static int
group_teardown(void **state)
{
	size_t i;

	(void)state;
	tl_rmdir();
	for (i = 0; i < 4; i++) {
		X509_free(g.root[i]);
		EVP_PKEY_free(g.root_key[i]);
	}
	X509_free(g.inter);
	NAME_CONSTRAINTS_free(g.nc);
	EVP_PKEY_free(g.int_key);
	EVP_PKEY_free(g.leaf_key);
	EVP_PKEY_free(g.other_key);
	EVP_PKEY_free(g.ed_key);
	EVP_PKEY_free(g.rsa1024);
	return 0;
}

/* ---- CSR ------------------------------------------------------------------ */

static void
test_csr_der_and_pem(void **state)
{
	unsigned char *der;
	char *pem, *padded;
	X509_REQ *req = NULL;
	size_t len;

	(void)state;
	der = make_csr(g.leaf_key, g.leaf_key, "a.example.com", X509_REQ_VERSION_1, &len);
	assert_int_equal(sg_x509_csr_parse(der, len, &req), 0);
	assert_non_null(req);
	assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), g.leaf_key), 1);
	X509_REQ_free(req);
	req = NULL;

	pem = csr_pem(der, len);
	assert_int_equal(csr_parse_str(pem, &req), 0);
	assert_non_null(req);
	X509_REQ_free(req);
	req = NULL;
	/* White space around the block is fine; so is the legacy label of Windows certreq. */
	assert_non_null(padded = malloc(strlen(pem) + 64));
	snprintf(padded, strlen(pem) + 64, " \n\t%s\r\n\n  ", pem);
	assert_int_equal(csr_parse_str(padded, &req), 0);
	X509_REQ_free(req);
	req = NULL;
	free(padded);
	free(pem);
	{
		BIO *bio = BIO_new(BIO_s_mem());
		char *data, *s;
		long n;

		assert_non_null(bio);
		assert_true(PEM_write_bio(bio, "NEW CERTIFICATE REQUEST", "", der, (long)len) > 0);
		n = BIO_get_mem_data(bio, &data);
		assert_int_equal(sg_x509_csr_parse((unsigned char *)data, (size_t)n, &req), 0);
		X509_REQ_free(req);
		req = NULL;
		/* The same block labelled CERTIFICATE is another type. */
		assert_int_equal(BIO_reset(bio), 1);
		assert_true(PEM_write_bio(bio, "CERTIFICATE", "", der, (long)len) > 0);
		n = BIO_get_mem_data(bio, &s);
		req = (X509_REQ *)1;
		assert_int_equal(sg_x509_csr_parse((unsigned char *)s, (size_t)n, &req),
		                 SG_ERR_CSR_INVALID);
		assert_null(req);
		BIO_free(bio);
	}
	OPENSSL_free(der);
}

/* CSRs written by `openssl req` (the foreign producer), PEM and DER. */
static void
test_csr_from_openssl_req(void **state)
{
	char key[512], pem[512], der[512], out[2048];
	const char *gen[] = {"openssl",
	                     "req",
	                     "-new",
	                     "-newkey",
	                     "ec",
	                     "-pkeyopt",
	                     "ec_paramgen_curve:P-384",
	                     "-nodes",
	                     "-keyout",
	                     key,
	                     "-subj",
	                     "/O=Signet tests/CN=req.example.com",
	                     "-addext",
	                     "subjectAltName=DNS:req.example.com",
	                     "-out",
	                     pem,
	                     NULL};
	const char *conv[] = {"openssl", "req", "-in", pem, "-outform", "DER", "-out", der, NULL};
	unsigned char *buf;
	X509_REQ *req = NULL;
	X509_NAME *n;
	size_t len;
	int i;

	(void)state;
	snprintf(key, sizeof(key), "%s", tl_path("req.key"));
	snprintf(pem, sizeof(pem), "%s", tl_path("req.pem"));
	snprintf(der, sizeof(der), "%s", tl_path("req.der"));
	assert_int_equal(tl_run(out, sizeof(out), gen), 0);
	assert_int_equal(tl_run(out, sizeof(out), conv), 0);
	for (i = 0; i < 2; i++) {
		buf = tl_read(i == 0 ? "req.pem" : "req.der", &len);
		assert_int_equal(sg_x509_csr_parse(buf, len, &req), 0);
		n = X509_REQ_get_subject_name(req);
		assert_int_equal(X509_NAME_entry_count(n), 2);
		assert_int_equal(EVP_PKEY_get_bits(X509_REQ_get0_pubkey(req)), 384);
		X509_REQ_free(req);
		req = NULL;
		free(buf);
	}
}

/* Weak or unusual keys parse: refusing them is the profile's job. */
static void
test_csr_rsa1024_and_ed25519_parse(void **state)
{
	unsigned char *der;
	X509_REQ *req = NULL;
	size_t len;

	(void)state;
	der = make_csr(g.rsa1024, g.rsa1024, "weak.example.com", X509_REQ_VERSION_1, &len);
	assert_int_equal(sg_x509_csr_parse(der, len, &req), 0);
	assert_int_equal(EVP_PKEY_get_bits(X509_REQ_get0_pubkey(req)), 1024);
	X509_REQ_free(req);
	req = NULL;
	OPENSSL_free(der);
	der = make_csr(g.ed_key, g.ed_key, "ed.example.com", X509_REQ_VERSION_1, &len);
	assert_int_equal(sg_x509_csr_parse(der, len, &req), 0);
	assert_int_equal(EVP_PKEY_get_base_id(X509_REQ_get0_pubkey(req)), EVP_PKEY_ED25519);
	X509_REQ_free(req);
	OPENSSL_free(der);
}

static void
expect_csr(const unsigned char *in, size_t len, int err)
{
	X509_REQ *req = (X509_REQ *)1;

	assert_int_equal(sg_x509_csr_parse(in, len, &req), err);
	assert_null(req);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_csr_invalid(void **state)
{
	static const char garbage[] = "GET / HTTP/1.1\r\n\r\n";
	unsigned char *der, *buf;
	char *pem, *s;
	size_t len, plen, n;
	X509_REQ *req = NULL;

	(void)state;
	der = make_csr(g.leaf_key, g.leaf_key, "a.example.com", X509_REQ_VERSION_1, &len);
	pem = csr_pem(der, len);
	plen = strlen(pem);
	assert_non_null(buf = malloc(2 * SG_CSR_MAX + 2 * plen + 64));

	expect_csr((const unsigned char *)garbage, sizeof(garbage) - 1, SG_ERR_CSR_INVALID);
	expect_csr(der, 0, SG_ERR_CSR_INVALID);
	expect_csr(der, len - 1, SG_ERR_CSR_INVALID); /* truncated */
	expect_csr(der, 7, SG_ERR_CSR_INVALID);
	memcpy(buf, der, len);
	buf[len] = 0;
	expect_csr(buf, len + 1, SG_ERR_CSR_INVALID); /* one trailing byte */
	memcpy(buf + len, der, len);
	expect_csr(buf, 2 * len, SG_ERR_CSR_INVALID); /* two DER CSRs */
	/* PEM: trailing text, two blocks, text before the block, a header. */
	n = (size_t)snprintf((char *)buf, 2 * plen + 64, "%sjunk\n", pem);
	expect_csr(buf, n, SG_ERR_CSR_INVALID);
	n = (size_t)snprintf((char *)buf, 2 * plen + 64, "%s%s", pem, pem);
	expect_csr(buf, n, SG_ERR_CSR_INVALID);
	n = (size_t)snprintf((char *)buf, 2 * plen + 64, "my CSR:\n%s", pem);
	expect_csr(buf, n, SG_ERR_CSR_INVALID);
	s = strchr(pem, '\n');
	n = (size_t)snprintf((char *)buf, 2 * plen + 64, "%.*s\nProc-Type: 4,ENCRYPTED\n\n%s",
	                     (int)(s - pem), pem, s + 1);
	expect_csr(buf, n, SG_ERR_CSR_INVALID);
	/* A cut base64 body: the END line is missing. */
	expect_csr((const unsigned char *)pem, plen / 2, SG_ERR_CSR_INVALID);

	/* The size cap: padded with trailing white space to exactly SG_CSR_MAX, then one more. */
	memcpy(buf, pem, plen);
	memset(buf + plen, '\n', SG_CSR_MAX + 1 - plen);
	assert_int_equal(sg_x509_csr_parse(buf, SG_CSR_MAX, &req), 0);
	X509_REQ_free(req);
	req = NULL;
	expect_csr(buf, SG_CSR_MAX + 1, SG_ERR_CSR_INVALID);

	assert_int_equal(sg_x509_csr_parse(NULL, len, &req), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_x509_csr_parse(der, len, NULL), SG_ERR_INVALID_ARG);
	free(buf);
	free(pem);
	OPENSSL_free(der);

	/* Version 2 (value 1) is not a PKCS#10 v1 request, even well signed. */
	der = make_csr(g.leaf_key, g.leaf_key, "v2.example.com", 1, &len);
	expect_csr(der, len, SG_ERR_CSR_INVALID);
	OPENSSL_free(der);
}

static void
test_csr_bad_signature(void **state)
{
	unsigned char *der, *cn;
	size_t len;

	(void)state;
	/* Signed by another key than the one it holds: no proof of possession. */
	der = make_csr(g.leaf_key, g.other_key, "a.example.com", X509_REQ_VERSION_1, &len);
	expect_csr(der, len, SG_ERR_CSR_SIGNATURE);
	OPENSSL_free(der);
	/* One byte of the subject changed after signing. */
	der = make_csr(g.leaf_key, g.leaf_key, "a.example.com", X509_REQ_VERSION_1, &len);
	assert_non_null(cn = memmem(der, len, "a.example.com", 13));
	cn[0] = 'b';
	expect_csr(der, len, SG_ERR_CSR_SIGNATURE);
	OPENSSL_free(der);
	/* RSA: the last byte of the signature flipped. */
	der = make_csr(g.rsa1024, g.rsa1024, "a.example.com", X509_REQ_VERSION_1, &len);
	der[len - 1] ^= 0x01;
	expect_csr(der, len, SG_ERR_CSR_SIGNATURE);
	OPENSSL_free(der);
}

/* ---- certificates --------------------------------------------------------- */

/* Every issuer key type and hash: root (that key) -> intermediate -> leaf, judged by OpenSSL. */
static void
test_cert_chain_every_key_and_hash(void **state)
{
	static const int ec_nids[3] = {NID_ecdsa_with_SHA256, NID_ecdsa_with_SHA384,
	                               NID_ecdsa_with_SHA512};
	static const int rsa_nids[3] = {NID_sha256WithRSAEncryption, NID_sha384WithRSAEncryption,
	                                NID_sha512WithRSAEncryption};
	struct sg_cert_params p;
	X509_NAME *in = name_of("chain intermediate"), *ln = name_of("leaf.example.com");
	GENERAL_NAMES *sans = sans_of("DNS:leaf.example.com");
	char out[4096], root[64];
	X509 *inter, *leaf;
	const X509_ALGOR *outer, *inner;
	const ASN1_OBJECT *obj;
	int ptype;
	size_t k;
	int h;

	(void)state;
	for (k = 0; k < 4; k++) {
		for (h = SG_HASH_SHA256; h <= SG_HASH_SHA512; h++) {
			int_params(&p, g.int_key, in, g.root[k]);
			p.hash = (enum sg_hash)h;
			inter = issue(&p, g.root_key[k], NULL, NULL);
			assert_int_equal(X509_get_signature_nid(inter),
			                 k < 2 ? ec_nids[h - 1] : rsa_nids[h - 1]);
			/* Both algorithm fields agree; RSA has NULL parameters, ECDSA none. */
			X509_get0_signature(NULL, &outer, inter);
			inner = X509_get0_tbs_sigalg(inter);
			assert_int_equal(X509_ALGOR_cmp(outer, inner), 0);
			X509_ALGOR_get0(&obj, &ptype, NULL, outer);
			assert_int_equal(ptype, k < 2 ? V_ASN1_UNDEF : V_ASN1_NULL);

			leaf_params(&p, g.leaf_key, ln, inter);
			p.sans = sans;
			p.hash = (enum sg_hash)h;
			leaf = issue(&p, g.int_key, NULL, NULL);
			assert_int_equal(verify_chain(g.root[k], inter, leaf, NULL), X509_V_OK);
			/* The other root does not vouch for it. */
			assert_int_not_equal(verify_chain(g.root[(k + 1) % 4], inter, leaf, NULL),
			                     X509_V_OK);
			tl_write_pem("chain-int.pem", &inter, 1);
			tl_write_pem("chain-leaf.pem", &leaf, 1);
			snprintf(root, sizeof(root), "root%zu.pem", k);
			if (openssl_verify(root, "chain-int.pem", "chain-leaf.pem", NULL, out,
			                   sizeof(out)) != 0)
				print_error("openssl verify: %s\n", out);
			assert_non_null(strstr(out, ": OK"));
			X509_free(leaf);
			X509_free(inter);
		}
	}
	GENERAL_NAMES_free(sans);
	X509_NAME_free(in);
	X509_NAME_free(ln);
}

static ASN1_OCTET_STRING *
sha1_key_id(X509 *x)
{
	unsigned char h[20];
	unsigned int n = 0;
	ASN1_OCTET_STRING *os;

	assert_int_equal(X509_pubkey_digest(x, EVP_sha1(), h, &n), 1);
	assert_non_null(os = ASN1_OCTET_STRING_new());
	assert_int_equal(ASN1_OCTET_STRING_set(os, h, (int)n), 1);
	return os;
}

static X509_EXTENSION *
ext_of(X509 *x, int nid, int critical)
{
	X509_EXTENSION *e;
	int i;

	assert_true((i = X509_get_ext_by_NID(x, nid, -1)) >= 0);
	assert_int_equal(X509_get_ext_by_NID(x, nid, i), -1); /* once */
	assert_non_null(e = X509_get_ext(x, i));
	assert_int_equal(X509_EXTENSION_get_critical(e), critical);
	return e;
}

static void
test_cert_leaf_fields(void **state)
{
	static const int eku[2] = {NID_server_auth, NID_client_auth};
	static const char *const policies[2] = {"2.23.140.1.2.1", "1.3.6.1.4.1.55555.7.1"};
	static const int order[] = {NID_subject_key_identifier,
	                            NID_authority_key_identifier,
	                            NID_basic_constraints,
	                            NID_key_usage,
	                            NID_ext_key_usage,
	                            NID_subject_alt_name,
	                            NID_certificate_policies,
	                            NID_crl_distribution_points,
	                            NID_info_access};
	struct sg_cert_params p;
	X509_NAME *ln = name_of("leaf.example.com");
	GENERAL_NAMES *sans = sans_of("DNS:leaf.example.com,IP:10.1.2.3,URI:spiffe://td/svc");
	GENERAL_NAMES *got_sans;
	EXTENDED_KEY_USAGE *got_eku;
	CERTIFICATEPOLICIES *cps;
	CRL_DIST_POINTS *dps;
	AUTHORITY_INFO_ACCESS *aia;
	AUTHORITY_KEYID *akid;
	BASIC_CONSTRAINTS *bc;
	ASN1_OCTET_STRING *ski, *want;
	DIST_POINT *dp;
	ACCESS_DESCRIPTION *ad;
	const ASN1_STRING *uri;
	char out[4096], txt[80];
	BIGNUM *bn;
	X509 *leaf;
	int i;

	(void)state;
	leaf_params(&p, g.leaf_key, ln, g.inter);
	p.serial[0] = 0x5a; /* 8 bytes, top bit clear */
	p.sans = sans;
	p.key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT;
	p.eku_nids = eku;
	p.n_eku = 2;
	p.policy_oids = policies;
	p.n_policies = 2;
	p.crl_dp_url = "http://ca.example.com/crl/dev.crl";
	p.aia_issuer_url = "http://ca.example.com/dev.crt";
	p.aia_ocsp_url = "http://ca.example.com/ocsp";
	p.not_before = 1700000000;
	p.not_after = 1700000000 + 7 * DAY;
	p.hash = SG_HASH_SHA384;
	leaf = issue(&p, g.int_key, NULL, NULL);

	assert_int_equal(X509_get_version(leaf), X509_VERSION_3);
	assert_non_null(bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL));
	assert_int_equal(BN_num_bytes(bn), 8);
	{
		unsigned char s[8];

		assert_int_equal(BN_bn2bin(bn, s), 8);
		assert_memory_equal(s, p.serial, 8);
	}
	BN_free(bn);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(leaf), X509_get_subject_name(g.inter)),
	                 0);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(leaf), ln), 0);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notBefore(leaf), p.not_before), 0);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notAfter(leaf), p.not_after), 0);
	assert_int_equal(ASN1_STRING_type(X509_get0_notAfter(leaf)), V_ASN1_UTCTIME);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(leaf), g.leaf_key), 1);
	assert_int_equal(X509_get_signature_nid(leaf), NID_ecdsa_with_SHA384);

	/* Extensions, each once, in the documented order, with their criticality. */
	assert_int_equal(X509_get_ext_count(leaf), (int)(sizeof(order) / sizeof(order[0])));
	for (i = 0; i < X509_get_ext_count(leaf); i++)
		assert_int_equal(OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(leaf, i))),
		                 order[i]);
	ext_of(leaf, NID_subject_key_identifier, 0);
	assert_non_null(ski = X509_get_ext_d2i(leaf, NID_subject_key_identifier, NULL, NULL));
	want = sha1_key_id(leaf);
	assert_int_equal(ASN1_OCTET_STRING_cmp(ski, want), 0);
	ASN1_OCTET_STRING_free(want);
	ASN1_OCTET_STRING_free(ski);
	ext_of(leaf, NID_authority_key_identifier, 0);
	assert_non_null(akid = X509_get_ext_d2i(leaf, NID_authority_key_identifier, NULL, NULL));
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(g.inter)), 0);
	assert_null(akid->issuer);
	assert_null(akid->serial);
	AUTHORITY_KEYID_free(akid);
	ext_of(leaf, NID_basic_constraints, 1);
	assert_non_null(bc = X509_get_ext_d2i(leaf, NID_basic_constraints, NULL, NULL));
	assert_int_equal(bc->ca, 0);
	assert_null(bc->pathlen);
	BASIC_CONSTRAINTS_free(bc);
	ext_of(leaf, NID_key_usage, 1);
	assert_int_equal(X509_get_key_usage(leaf), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	ext_of(leaf, NID_ext_key_usage, 0);
	assert_non_null(got_eku = X509_get_ext_d2i(leaf, NID_ext_key_usage, NULL, NULL));
	assert_int_equal(sk_ASN1_OBJECT_num(got_eku), 2);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(got_eku, 0)), NID_server_auth);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(got_eku, 1)), NID_client_auth);
	sk_ASN1_OBJECT_pop_free(got_eku, ASN1_OBJECT_free);
	ext_of(leaf, NID_subject_alt_name, 0);
	assert_non_null(got_sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL));
	assert_int_equal(sk_GENERAL_NAME_num(got_sans), 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(GENERAL_NAME_cmp(sk_GENERAL_NAME_value(got_sans, i),
		                                  sk_GENERAL_NAME_value(sans, i)),
		                 0);
	GENERAL_NAMES_free(got_sans);
	ext_of(leaf, NID_certificate_policies, 0);
	assert_non_null(cps = X509_get_ext_d2i(leaf, NID_certificate_policies, NULL, NULL));
	assert_int_equal(sk_POLICYINFO_num(cps), 2);
	for (i = 0; i < 2; i++) {
		assert_true(
		    OBJ_obj2txt(txt, sizeof(txt), sk_POLICYINFO_value(cps, i)->policyid, 1) > 0);
		assert_string_equal(txt, policies[i]);
		assert_null(sk_POLICYINFO_value(cps, i)->qualifiers);
	}
	sk_POLICYINFO_pop_free(cps, POLICYINFO_free);
	ext_of(leaf, NID_crl_distribution_points, 0);
	assert_non_null(dps = X509_get_ext_d2i(leaf, NID_crl_distribution_points, NULL, NULL));
	assert_int_equal(sk_DIST_POINT_num(dps), 1);
	dp = sk_DIST_POINT_value(dps, 0);
	assert_int_equal(dp->distpoint->type, 0);
	assert_null(dp->reasons);
	assert_null(dp->CRLissuer);
	assert_int_equal(sk_GENERAL_NAME_num(dp->distpoint->name.fullname), 1);
	uri = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(dp->distpoint->name.fullname, 0), &i);
	assert_int_equal(i, GEN_URI);
	assert_string_equal((const char *)ASN1_STRING_get0_data(uri), p.crl_dp_url);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	ext_of(leaf, NID_info_access, 0);
	assert_non_null(aia = X509_get_ext_d2i(leaf, NID_info_access, NULL, NULL));
	assert_int_equal(sk_ACCESS_DESCRIPTION_num(aia), 2);
	ad = sk_ACCESS_DESCRIPTION_value(aia, 0);
	assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_OCSP);
	uri = GENERAL_NAME_get0_value(ad->location, &i);
	assert_int_equal(i, GEN_URI);
	assert_string_equal((const char *)ASN1_STRING_get0_data(uri), p.aia_ocsp_url);
	ad = sk_ACCESS_DESCRIPTION_value(aia, 1);
	assert_int_equal(OBJ_obj2nid(ad->method), NID_ad_ca_issuers);
	uri = GENERAL_NAME_get0_value(ad->location, &i);
	assert_string_equal((const char *)ASN1_STRING_get0_data(uri), p.aia_issuer_url);
	sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);

	/* The validity is in the past: OpenSSL says exactly that, nothing else. */
	tl_write_pem("fields-leaf.pem", &leaf, 1);
	assert_int_not_equal(
	    openssl_verify("root1.pem", "int.pem", "fields-leaf.pem", NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "certificate has expired"));
	X509_free(leaf);
	GENERAL_NAMES_free(sans);
	X509_NAME_free(ln);
}

static void
test_cert_intermediate_fields_and_name_constraints(void **state)
{
	struct sg_cert_params p;
	X509_NAME *ln = name_of("ok.example.com"), *bad = name_of("bad.example.org");
	GENERAL_NAMES *ok_sans = sans_of("DNS:ok.example.com,IP:10.9.9.9");
	GENERAL_NAMES *bad_sans = sans_of("DNS:bad.example.org");
	NAME_CONSTRAINTS *nc;
	BASIC_CONSTRAINTS *bc;
	char out[4096];
	X509 *leaf, *inter;

	(void)state;
	/* The intermediate of the setup: CA, pathlen 0, keyCertSign|cRLSign, constraints. */
	inter = g.inter;
	ext_of(inter, NID_basic_constraints, 1);
	assert_non_null(bc = X509_get_ext_d2i(inter, NID_basic_constraints, NULL, NULL));
	assert_true(bc->ca);
	assert_int_equal(ASN1_INTEGER_get(bc->pathlen), 0);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(X509_get_key_usage(inter), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	ext_of(inter, NID_key_usage, 1);
	ext_of(inter, NID_name_constraints, 1);
	assert_non_null(nc = X509_get_ext_d2i(inter, NID_name_constraints, NULL, NULL));
	assert_int_equal(sk_GENERAL_SUBTREE_num(nc->permittedSubtrees), 2);
	assert_null(nc->excludedSubtrees);
	NAME_CONSTRAINTS_free(nc);
	assert_int_equal(X509_get_ext_by_NID(inter, NID_ext_key_usage, -1), -1);
	assert_int_equal(X509_check_ca(inter), 1);

	/* The constraints are enforced by OpenSSL: a name inside passes, one outside fails. */
	leaf_params(&p, g.leaf_key, ln, g.inter);
	p.sans = ok_sans;
	leaf = issue(&p, g.int_key, NULL, NULL);
	tl_write_pem("nc-ok.pem", &leaf, 1);
	X509_free(leaf);
	assert_int_equal(
	    openssl_verify("root1.pem", "int.pem", "nc-ok.pem", NULL, out, sizeof(out)), 0);
	leaf_params(&p, g.leaf_key, bad, g.inter);
	p.sans = bad_sans;
	leaf = issue(&p, g.int_key, NULL, NULL);
	assert_int_equal(verify_chain(g.root[1], g.inter, leaf, NULL),
	                 X509_V_ERR_PERMITTED_VIOLATION);
	tl_write_pem("nc-bad.pem", &leaf, 1);
	X509_free(leaf);
	assert_int_not_equal(
	    openssl_verify("root1.pem", "int.pem", "nc-bad.pem", NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "permitted subtree violation"));

	/* pathlen 0: a CA below the intermediate is refused by verifiers. */
	int_params(&p, g.other_key, ln, g.inter);
	p.name_constraints = NULL;
	p.path_len = -1;
	inter = issue(&p, g.int_key, NULL, NULL);
	assert_int_equal(X509_get_pathlen(inter), -1); /* CA without pathLenConstraint */
	leaf_params(&p, g.leaf_key, ln, inter);
	p.sans = ok_sans;
	leaf = issue(&p, g.other_key, NULL, NULL);
	{
		X509_STORE *st = X509_STORE_new();
		X509_STORE_CTX *ctx = X509_STORE_CTX_new();
		STACK_OF(X509) *un = sk_X509_new_null();

		assert_non_null(st);
		assert_non_null(ctx);
		assert_non_null(un);
		assert_int_equal(X509_STORE_add_cert(st, g.root[1]), 1);
		assert_true(sk_X509_push(un, g.inter) > 0);
		assert_true(sk_X509_push(un, inter) > 0);
		assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, un), 1);
		assert_int_not_equal(X509_verify_cert(ctx), 1);
		assert_int_equal(X509_STORE_CTX_get_error(ctx), X509_V_ERR_PATH_LENGTH_EXCEEDED);
		X509_STORE_CTX_free(ctx);
		X509_STORE_free(st);
		sk_X509_free(un);
		ERR_clear_error();
	}
	X509_free(leaf);
	X509_free(inter);
	GENERAL_NAMES_free(ok_sans);
	GENERAL_NAMES_free(bad_sans);
	X509_NAME_free(ln);
	X509_NAME_free(bad);
}

/* An issuer without subjectKeyIdentifier: AKI is the SHA-1 of its key bits (method 1). */
static void
test_cert_issuer_without_ski(void **state)
{
	static const char *const exts[] = {"basicConstraints", "critical,CA:TRUE", "keyUsage",
	                                   "critical,keyCertSign,cRLSign", NULL};
	struct sg_cert_params p;
	X509_NAME *n = name_of("noski.example.com");
	AUTHORITY_KEYID *akid;
	ASN1_OCTET_STRING *want;
	X509 *root, *leaf;

	(void)state;
	root = tl_cert(NULL, NULL, g.other_key, "root without SKI", -DAY, DAY, exts);
	assert_int_equal(X509_get_ext_by_NID(root, NID_subject_key_identifier, -1), -1);
	leaf_params(&p, g.leaf_key, n, root);
	leaf = issue(&p, g.other_key, NULL, NULL);
	assert_non_null(akid = X509_get_ext_d2i(leaf, NID_authority_key_identifier, NULL, NULL));
	want = sha1_key_id(root);
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, want), 0);
	assert_int_equal(X509_check_issued(root, leaf), X509_V_OK);
	ASN1_OCTET_STRING_free(want);
	AUTHORITY_KEYID_free(akid);
	X509_free(leaf);
	X509_free(root);
	X509_NAME_free(n);
}

/* An empty subject needs SANs, which are then critical (RFC 5280 4.2.1.6). */
static void
test_cert_empty_subject(void **state)
{
	struct sg_cert_params p;
	struct sg_x509_build *b = (struct sg_x509_build *)1;
	unsigned char tbs[SG_HASH_MAX_LEN];
	size_t tbs_len = 5;
	X509_NAME *empty;
	GENERAL_NAMES *sans = sans_of("URI:spiffe://td/workload");
	char out[4096];
	X509 *leaf;

	(void)state;
	assert_non_null(empty = X509_NAME_new());
	leaf_params(&p, g.leaf_key, empty, g.inter);
	assert_int_equal(sg_x509_begin(&p, &b, tbs, &tbs_len), SG_ERR_INVALID_ARG);
	assert_null(b);
	assert_int_equal(tbs_len, 0);
	p.sans = sans;
	leaf = issue(&p, g.int_key, NULL, NULL);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(leaf)), 0);
	ext_of(leaf, NID_subject_alt_name, 1);
	tl_write_pem("empty-subject.pem", &leaf, 1);
	assert_int_equal(
	    openssl_verify("root1.pem", "int.pem", "empty-subject.pem", NULL, out, sizeof(out)), 0);
	X509_free(leaf);
	GENERAL_NAMES_free(sans);
	X509_NAME_free(empty);
}

/*
 * The subject is re-encoded: a name decoded from BER (a long-form length,
 * as a CSR might carry) reaches the certificate as DER, and multi-valued
 * RDNs stay as they are.
 */
static void
test_cert_subject_reencoded(void **state)
{
	struct sg_cert_params p;
	X509_NAME *n = name_of("rdn.example.com"), *ber_name, *got;
	X509_NAME_ENTRY *ne;
	unsigned char *der = NULL, *ber, *enc = NULL, *want = NULL;
	const unsigned char *q;
	int len, enc_len, want_len;
	X509 *leaf;

	(void)state;
	/* OU joins the RDN of CN (set -1): a multi-valued RDN. */
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC,
	                                            (const unsigned char *)"unit", -1, -1, -1),
	                 1);
	assert_true((len = i2d_X509_NAME(n, &der)) > 2 && len < 128);
	assert_int_equal(der[0], 0x30);
	assert_int_equal(der[1], len - 2);
	assert_non_null(ber = malloc((size_t)len + 1));
	ber[0] = 0x30;
	ber[1] = 0x81; /* the same length in long form: BER, not DER */
	memcpy(ber + 2, der + 1, (size_t)len - 1);
	q = ber;
	assert_non_null(ber_name = d2i_X509_NAME(NULL, &q, len + 1));
	assert_int_equal(i2d_X509_NAME(ber_name, NULL), len + 1); /* it keeps its BER bytes */

	leaf_params(&p, g.leaf_key, ber_name, g.inter);
	leaf = issue(&p, g.int_key, NULL, NULL);
	got = X509_get_subject_name(leaf);
	assert_true((enc_len = i2d_X509_NAME(got, &enc)) > 0);
	assert_true((want_len = i2d_X509_NAME(n, &want)) > 0);
	assert_int_equal(enc_len, want_len);
	assert_memory_equal(enc, want, (size_t)enc_len);
	assert_int_equal(X509_NAME_entry_count(got), 3);
	ne = X509_NAME_get_entry(got, 2);
	assert_int_equal(X509_NAME_ENTRY_set(ne), X509_NAME_ENTRY_set(X509_NAME_get_entry(got, 1)));
	assert_int_not_equal(X509_NAME_ENTRY_set(ne),
	                     X509_NAME_ENTRY_set(X509_NAME_get_entry(got, 0)));
	X509_free(leaf);
	OPENSSL_free(enc);
	OPENSSL_free(want);
	OPENSSL_free(der);
	free(ber);
	X509_NAME_free(ber_name);
	X509_NAME_free(n);
}

/* Every KU_* flag lands on its own bit of keyUsage, alone and all together. */
static void
test_cert_key_usage_bits(void **state)
{
	static const unsigned flags[] = {
	    KU_DIGITAL_SIGNATURE, KU_NON_REPUDIATION, KU_KEY_ENCIPHERMENT,
	    KU_DATA_ENCIPHERMENT, KU_KEY_AGREEMENT,   KU_KEY_CERT_SIGN,
	    KU_CRL_SIGN,          KU_ENCIPHER_ONLY,   KU_DECIPHER_ONLY};
	struct sg_cert_params p;
	X509_NAME *n = name_of("ku.example.com");
	unsigned all = 0;
	X509 *x;
	size_t i;

	(void)state;
	for (i = 0; i <= sizeof(flags) / sizeof(flags[0]); i++) {
		leaf_params(&p, g.leaf_key, n, g.inter);
		p.key_usage = i < sizeof(flags) / sizeof(flags[0]) ? flags[i] : all;
		p.is_ca = (p.key_usage & KU_KEY_CERT_SIGN) != 0;
		all |= p.key_usage;
		x = issue(&p, g.int_key, NULL, NULL);
		assert_int_equal(X509_get_key_usage(x), p.key_usage);
		ext_of(x, NID_key_usage, 1);
		X509_free(x);
	}
	/* 0: no keyUsage extension at all. */
	leaf_params(&p, g.leaf_key, n, g.inter);
	p.key_usage = 0;
	x = issue(&p, g.int_key, NULL, NULL);
	assert_int_equal(X509_get_ext_by_NID(x, NID_key_usage, -1), -1);
	X509_free(x);
	X509_NAME_free(n);
}

/* UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
static void
test_cert_time_encoding(void **state)
{
	struct sg_cert_params p;
	X509_NAME *n = name_of("time.example.com");
	X509 *leaf;

	(void)state;
	leaf_params(&p, g.leaf_key, n, g.inter);
	p.not_before = 2524607999; /* 2049-12-31T23:59:59Z */
	p.not_after = 2524608000;  /* 2050-01-01T00:00:00Z */
	leaf = issue(&p, g.int_key, NULL, NULL);
	assert_int_equal(ASN1_STRING_type(X509_get0_notBefore(leaf)), V_ASN1_UTCTIME);
	assert_int_equal(ASN1_STRING_type(X509_get0_notAfter(leaf)), V_ASN1_GENERALIZEDTIME);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notAfter(leaf), p.not_after), 0);
	X509_free(leaf);
	X509_NAME_free(n);
}

static void
expect_begin(const struct sg_cert_params *p, int err)
{
	struct sg_x509_build *b = (struct sg_x509_build *)1;
	unsigned char tbs[SG_HASH_MAX_LEN];
	size_t tbs_len = 5;

	assert_int_equal(sg_x509_begin(p, &b, tbs, &tbs_len), err);
	assert_null(b);
	assert_int_equal(tbs_len, 0);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_cert_serials(void **state)
{
	struct sg_cert_params p;
	X509_NAME *n = name_of("serial.example.com");
	const ASN1_INTEGER *ai;
	unsigned char *der = NULL;
	X509 *leaf;
	int len;

	(void)state;
	leaf_params(&p, g.leaf_key, n, g.inter);
	/* Leading zero bytes are not part of the number. */
	memcpy(p.serial, "\x00\x00\x01\x02", 4);
	p.serial_len = 4;
	leaf = issue(&p, g.int_key, NULL, NULL);
	assert_int_equal(ASN1_INTEGER_get(X509_get0_serialNumber(leaf)), 0x0102);
	X509_free(leaf);
	/* 20 bytes below 2^159: a 20-octet INTEGER. */
	memset(p.serial, 0x7f, 20);
	p.serial_len = 20;
	leaf = issue(&p, g.int_key, NULL, NULL);
	ai = X509_get0_serialNumber(leaf);
	assert_int_equal(ASN1_STRING_type(ai), V_ASN1_INTEGER);
	assert_true((len = i2d_ASN1_INTEGER(ai, &der)) > 0);
	assert_int_equal(der[1], 20);
	OPENSSL_free(der);
	der = NULL;
	X509_free(leaf);
	/* A high bit in a shorter serial: still positive (a leading zero octet is added). */
	memset(p.serial, 0xff, 16);
	p.serial_len = 16;
	leaf = issue(&p, g.int_key, NULL, NULL);
	ai = X509_get0_serialNumber(leaf);
	assert_int_equal(ASN1_STRING_type(ai), V_ASN1_INTEGER);
	assert_true((len = i2d_ASN1_INTEGER(ai, &der)) > 0);
	assert_int_equal(der[1], 17);
	assert_int_equal(der[2], 0);
	OPENSSL_free(der);
	X509_free(leaf);

	/* Refused: 2^159 and above, zero, no bytes, 21 bytes. */
	memset(p.serial, 0, sizeof(p.serial));
	p.serial[0] = 0x80;
	p.serial_len = 20;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p.serial[0] = 0;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p.serial[19] = 1;
	p.serial_len = 0;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p.serial_len = 21;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	X509_NAME_free(n);
}

static void
test_cert_bad_arguments(void **state)
{
	static const int bad_eku[1] = {NID_undef};
	static const char *const bad_oid[1] = {"1..2"};
	static const char *const dup_oid[2] = {"1.2.3.4", "1.2.3.4"};
	static const char *const name_oid[1] = {"anyPolicy"};
	struct sg_cert_params p, base;
	struct sg_x509_build *b = NULL;
	unsigned char tbs[SG_HASH_MAX_LEN];
	size_t tbs_len = 0;
	X509_NAME *n = name_of("bad.example.com");
	GENERAL_NAMES *empty = GENERAL_NAMES_new();
	X509 *ed_root;
	char long_url[SG_X509_MAX_URL + 2];

	(void)state;
	assert_non_null(empty);
	leaf_params(&base, g.leaf_key, n, g.inter);
	assert_int_equal(sg_x509_begin(NULL, &b, tbs, &tbs_len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_x509_begin(&base, NULL, tbs, &tbs_len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_x509_begin(&base, &b, NULL, &tbs_len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_x509_begin(&base, &b, tbs, NULL), SG_ERR_INVALID_ARG);

	p = base, p.pubkey = NULL;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.subject = NULL;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.issuer = NULL;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.hash = SG_HASH_NONE;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.hash = (enum sg_hash)9;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.not_after = p.not_before;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.path_len = 0; /* pathLenConstraint without cA */
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.key_usage |= KU_KEY_CERT_SIGN;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.name_constraints = g.nc;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.key_usage = 0x10000;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.sans = empty;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.eku_nids = bad_eku, p.n_eku = 1;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.eku_nids = NULL, p.n_eku = 1;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.eku_nids = bad_eku, p.n_eku = SG_X509_MAX_EKU + 1;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.policy_oids = bad_oid, p.n_policies = 1;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.policy_oids = name_oid, p.n_policies = 1;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.policy_oids = dup_oid, p.n_policies = 2;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.policy_oids = dup_oid, p.n_policies = SG_X509_MAX_POLICIES + 1;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.crl_dp_url = "";
	expect_begin(&p, SG_ERR_INVALID_ARG);
	p = base, p.aia_ocsp_url = "http://ca.example.com/a b";
	expect_begin(&p, SG_ERR_INVALID_ARG);
	memset(long_url, 'a', sizeof(long_url) - 1);
	long_url[sizeof(long_url) - 1] = '\0';
	p = base, p.aia_issuer_url = long_url;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	long_url[SG_X509_MAX_URL] = '\0'; /* exactly the cap: fine */
	p = base, p.aia_issuer_url = long_url;
	assert_int_equal(sg_x509_begin(&p, &b, tbs, &tbs_len), 0);
	sg_x509_build_free(b);
	b = NULL;

	/* Issuer keys sg_cms does not support (Ed25519) are refused. */
	ed_root = ed25519_root();
	p = base, p.issuer = ed_root;
	expect_begin(&p, SG_ERR_INVALID_ARG);
	X509_free(ed_root);
	/* A subject key of any type is fine here: the profile refuses it or not. */
	p = base, p.pubkey = g.ed_key;
	assert_int_equal(sg_x509_begin(&p, &b, tbs, &tbs_len), 0);
	sg_x509_build_free(b);
	sg_x509_build_free(NULL);
	GENERAL_NAMES_free(empty);
	X509_NAME_free(n);
}

static void
test_cert_wrong_signature(void **state)
{
	struct sg_cert_params p;
	struct sg_x509_build *b = NULL, *crl = NULL;
	unsigned char tbs[SG_HASH_MAX_LEN], ctbs[SG_HASH_MAX_LEN], sig[512],
	    *der = (unsigned char *)1;
	size_t tbs_len = 0, ctbs_len = 0, sig_len, len = 7;
	X509_NAME *n = name_of("wrong.example.com");
	X509 *leaf;

	(void)state;
	leaf_params(&p, g.leaf_key, n, g.inter);
	assert_int_equal(sg_x509_begin(&p, &b, tbs, &tbs_len), 0);
	/* Signed by another key. */
	sig_len = tl_sign(g.other_key, p.hash, tbs, tbs_len, sig, sizeof(sig));
	assert_int_equal(sg_x509_finish(b, sig, sig_len, &der, &len), SG_ERR_SELF_VERIFY);
	assert_null(der);
	assert_int_equal(len, 0);
	assert_int_equal(ERR_peek_error(), 0);
	/* The right key over another digest. */
	tbs[0] ^= 1;
	sig_len = tl_sign(g.int_key, p.hash, tbs, tbs_len, sig, sizeof(sig));
	tbs[0] ^= 1;
	assert_int_equal(sg_x509_finish(b, sig, sig_len, &der, &len), SG_ERR_SELF_VERIFY);
	/* Lengths the issuer key cannot produce, and no signature. */
	assert_int_equal(sg_x509_finish(b, sig, 0, &der, &len), SG_ERR_INVALID_ARG);
	assert_int_equal(
	    sg_x509_finish(b, sig, sg_keyalg_sig_max(SG_KEYALG_EC_P256) + 1, &der, &len),
	    SG_ERR_INVALID_ARG);
	assert_int_equal(sg_x509_finish(b, NULL, sig_len, &der, &len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_x509_finish(NULL, sig, sig_len, &der, &len), SG_ERR_INVALID_ARG);
	/* A CRL build is not a certificate build, and the other way round. */
	assert_int_equal(sg_crl_begin(g.inter, NULL, 0, 1, g.now, g.now + DAY, SG_HASH_SHA256, &crl,
	                              ctbs, &ctbs_len),
	                 0);
	sig_len = tl_sign(g.int_key, SG_HASH_SHA256, ctbs, ctbs_len, sig, sizeof(sig));
	assert_int_equal(sg_x509_finish(crl, sig, sig_len, &der, &len), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_crl_finish(b, sig, sig_len, &der, &len), SG_ERR_INVALID_ARG);
	sg_x509_build_free(crl);
	/* The build survives all that: the right signature still finishes it. */
	der = sign_and_finish(b, 0, g.int_key, p.hash, tbs, tbs_len, &len);
	{
		const unsigned char *q = der;

		assert_non_null(leaf = d2i_X509(NULL, &q, (long)len));
	}
	assert_int_equal(X509_verify(leaf, g.int_key), 1);
	X509_free(leaf);
	free(der);
	sg_x509_build_free(b);
	X509_NAME_free(n);
}

/* ---- CRLs ------------------------------------------------------------------- */

static void
entry(struct sg_crl_entry *e, uint64_t serial, time_t at, int reason)
{
	memset(e, 0, sizeof(*e));
	set_serial(e->serial, &e->serial_len, serial);
	e->revoked_at = at;
	e->reason = reason;
}

static X509_CRL *
crl_build(X509 *issuer, EVP_PKEY *key, const struct sg_crl_entry *e, size_t n, uint64_t number,
          time_t this_update, time_t next_update, enum sg_hash h)
{
	struct sg_x509_build *b = NULL;
	unsigned char tbs[SG_HASH_MAX_LEN], *der, *re = NULL, d[SG_HASH_MAX_LEN];
	const unsigned char *q;
	size_t tbs_len = 0, len = 0;
	X509_CRL *crl;
	int re_len;

	assert_int_equal(
	    sg_crl_begin(issuer, e, n, number, this_update, next_update, h, &b, tbs, &tbs_len), 0);
	assert_int_equal(tbs_len, sg_hash_len(h));
	der = sign_and_finish(b, 1, key, h, tbs, tbs_len, &len);
	sg_x509_build_free(b);
	q = der;
	assert_non_null(crl = d2i_X509_CRL(NULL, &q, (long)len));
	assert_ptr_equal(q, der + len);
	assert_true((re_len = i2d_re_X509_CRL_tbs(crl, &re)) > 0);
	tl_digest(h, re, (size_t)re_len, d);
	assert_memory_equal(d, tbs, tbs_len);
	OPENSSL_free(re);
	free(der);
	return crl;
}

static void
write_crl_pem(const char *name, X509_CRL *crl)
{
	FILE *f = fopen(tl_path(name), "w");

	assert_non_null(f);
	assert_int_equal(PEM_write_X509_CRL(f, crl), 1);
	assert_int_equal(fclose(f), 0);
}

static void
test_crl_revokes_for_openssl(void **state)
{
	struct sg_crl_entry e[4];
	struct sg_cert_params p;
	X509_NAME *n1 = name_of("revoked.example.com"), *n2 = name_of("good.example.com");
	X509 *revoked, *good, *pem[2];
	X509_CRL *crl;
	char out[4096], crlf[512], caf[512];
	const char *argv[] = {"openssl", "crl", "-in", crlf, "-CAfile", caf, "-noout", NULL};
	const ASN1_INTEGER *sn;
	BIGNUM *bn;
	unsigned char s[8];
	size_t sl;

	(void)state;
	leaf_params(&p, g.leaf_key, n1, g.inter);
	revoked = issue(&p, g.int_key, NULL, NULL);
	leaf_params(&p, g.leaf_key, n2, g.inter);
	good = issue(&p, g.int_key, NULL, NULL);
	tl_write_pem("revoked.pem", &revoked, 1);
	tl_write_pem("good.pem", &good, 1);
	assert_non_null(bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(revoked), NULL));
	assert_int_equal(BN_bn2binpad(bn, s, 8), 8);
	BN_free(bn);
	entry(&e[0], 77, g.now - 100, CRL_REASON_SUPERSEDED);
	entry(&e[1], 5, g.now - 200, CRL_REASON_NONE);
	memcpy(e[2].serial, s, 8);
	e[2].serial_len = 8;
	e[2].revoked_at = g.now - 60;
	e[2].reason = CRL_REASON_KEY_COMPROMISE;
	entry(&e[3], 1, g.now - 300, CRL_REASON_UNSPECIFIED);
	crl = crl_build(g.inter, g.int_key, e, 4, 42, g.now - 60, g.now + DAY, SG_HASH_SHA256);
	write_crl_pem("crl.pem", crl);
	assert_int_equal(verify_chain(g.root[1], g.inter, revoked, crl), X509_V_ERR_CERT_REVOKED);
	assert_int_equal(verify_chain(g.root[1], g.inter, good, crl), X509_V_OK);
	{
		X509_REVOKED *rev = NULL;

		assert_int_equal(X509_CRL_get0_by_cert(crl, &rev, revoked), 1);
		sn = X509_REVOKED_get0_serialNumber(rev);
		assert_int_equal(ASN1_INTEGER_cmp(sn, X509_get0_serialNumber(revoked)), 0);
	}
	X509_CRL_free(crl);

	/* openssl crl checks the signature with the issuer's certificate. */
	snprintf(crlf, sizeof(crlf), "%s", tl_path("crl.pem"));
	pem[0] = g.inter;
	pem[1] = g.root[1];
	tl_write_pem("int-root.pem", pem, 2);
	snprintf(caf, sizeof(caf), "%s", tl_path("int-root.pem"));
	assert_int_equal(tl_run(out, sizeof(out), argv), 0);
	assert_non_null(strstr(out, "verify OK"));
	/* The revoked leaf fails -crl_check with "certificate revoked"; the other passes. */
	assert_int_not_equal(
	    openssl_verify("root1.pem", "int.pem", "revoked.pem", "crl.pem", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "certificate revoked"));
	assert_int_equal(
	    openssl_verify("root1.pem", "int.pem", "good.pem", "crl.pem", out, sizeof(out)), 0);
	assert_non_null(strstr(out, ": OK"));
	/* A CRL signed by the root for the intermediate's certificates is another issuer's. */
	crl = crl_build(g.root[1], g.root_key[1], e, 4, 1, g.now - 60, g.now + DAY, SG_HASH_SHA384);
	write_crl_pem("crl-root.pem", crl);
	X509_CRL_free(crl);
	assert_int_not_equal(
	    openssl_verify("root1.pem", "int.pem", "good.pem", "crl-root.pem", out, sizeof(out)),
	    0);
	assert_non_null(strstr(out, "unable to get certificate CRL"));
	(void)sl;
	X509_free(revoked);
	X509_free(good);
	X509_NAME_free(n1);
	X509_NAME_free(n2);
}

static void
test_crl_fields(void **state)
{
	static const int reasons[] = {CRL_REASON_NONE,
	                              CRL_REASON_UNSPECIFIED,
	                              CRL_REASON_KEY_COMPROMISE,
	                              CRL_REASON_CA_COMPROMISE,
	                              CRL_REASON_AFFILIATION_CHANGED,
	                              CRL_REASON_SUPERSEDED,
	                              CRL_REASON_CESSATION_OF_OPERATION,
	                              CRL_REASON_CERTIFICATE_HOLD,
	                              CRL_REASON_PRIVILEGE_WITHDRAWN,
	                              CRL_REASON_AA_COMPROMISE};
	enum { N = sizeof(reasons) / sizeof(reasons[0]) };
	struct sg_crl_entry e[N];
	STACK_OF(X509_REVOKED) * revs;
	X509_REVOKED *rev;
	AUTHORITY_KEYID *akid;
	ASN1_INTEGER *num;
	ASN1_ENUMERATED *reason;
	X509_CRL *crl;
	uint64_t v;
	int i, crit;

	(void)state;
	/* Given in descending order, with the reasons in a known place. */
	for (i = 0; i < N; i++)
		entry(&e[i], (uint64_t)(N - i) * 1000 + 0x8000000000000000ULL, 1700000000 + i,
		      reasons[i]);
	crl = crl_build(g.inter, g.int_key, e, N, 0xfedcba9876543210ULL, 1700000000,
	                1700000000 + 7 * DAY, SG_HASH_SHA512);
	assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	assert_int_equal(X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA512);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(g.inter)),
	                 0);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_lastUpdate(crl), 1700000000), 0);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(crl), 1700000000 + 7 * DAY),
	                 0);
	assert_int_equal(X509_CRL_get_ext_count(crl), 2);
	assert_int_equal(OBJ_obj2nid(X509_EXTENSION_get_object(X509_CRL_get_ext(crl, 0))),
	                 NID_authority_key_identifier);
	assert_non_null(akid =
	                    X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit, NULL));
	assert_int_equal(crit, 0);
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, X509_get0_subject_key_id(g.inter)), 0);
	AUTHORITY_KEYID_free(akid);
	assert_non_null(num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL));
	assert_int_equal(crit, 0);
	assert_int_equal(ASN1_INTEGER_get_uint64(&v, num), 1);
	assert_true(v == 0xfedcba9876543210ULL);
	ASN1_INTEGER_free(num);

	revs = X509_CRL_get_REVOKED(crl);
	assert_int_equal(sk_X509_REVOKED_num(revs), N);
	for (i = 0; i < N; i++) {
		/* Ascending serials: entry i of the CRL is e[N - 1 - i]. */
		const struct sg_crl_entry *want = &e[N - 1 - i];

		rev = sk_X509_REVOKED_value(revs, i);
		assert_int_equal(ASN1_INTEGER_get_uint64(&v, X509_REVOKED_get0_serialNumber(rev)),
		                 1);
		assert_true(v == (uint64_t)(i + 1) * 1000 + 0x8000000000000000ULL);
		assert_int_equal(
		    ASN1_TIME_cmp_time_t(X509_REVOKED_get0_revocationDate(rev), want->revoked_at),
		    0);
		reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
		if (want->reason <= CRL_REASON_UNSPECIFIED) {
			assert_null(reason);
			assert_int_equal(X509_REVOKED_get_ext_count(rev), 0);
		} else {
			assert_non_null(reason);
			assert_int_equal(crit, 0);
			assert_int_equal(ASN1_ENUMERATED_get(reason), want->reason);
			assert_int_equal(X509_REVOKED_get_ext_count(rev), 1);
		}
		ASN1_ENUMERATED_free(reason);
	}
	X509_CRL_free(crl);
}

/* No revoked certificate: the revokedCertificates field is absent (RFC 5280 5.1.2.6). */
static void
test_crl_empty_and_rsa(void **state)
{
	struct sg_crl_entry e[1];
	X509_CRL *crl;

	(void)state;
	crl = crl_build(g.root[3], g.root_key[3], NULL, 0, 1, g.now, g.now + DAY, SG_HASH_SHA384);
	assert_null(X509_CRL_get_REVOKED(crl));
	assert_int_equal(X509_CRL_get_signature_nid(crl), NID_sha384WithRSAEncryption);
	assert_int_equal(X509_CRL_verify(crl, g.root_key[3]), 1);
	X509_CRL_free(crl);
	entry(&e[0], 9, 2524608000, CRL_REASON_KEY_COMPROMISE); /* revoked in 2050 */
	crl = crl_build(g.root[2], g.root_key[2], e, 1, 2, 2524608000, 2524608000 + DAY,
	                SG_HASH_SHA256);
	assert_int_equal(ASN1_STRING_type(X509_CRL_get0_lastUpdate(crl)), V_ASN1_GENERALIZEDTIME);
	assert_int_equal(ASN1_STRING_type(X509_REVOKED_get0_revocationDate(
	                     sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl), 0))),
	                 V_ASN1_GENERALIZEDTIME);
	X509_CRL_free(crl);
}

static void
expect_crl(X509 *issuer, const struct sg_crl_entry *e, size_t n, time_t tu, time_t nu,
           enum sg_hash h, int err)
{
	struct sg_x509_build *b = (struct sg_x509_build *)1;
	unsigned char tbs[SG_HASH_MAX_LEN];
	size_t tbs_len = 3;

	assert_int_equal(sg_crl_begin(issuer, e, n, 1, tu, nu, h, &b, tbs, &tbs_len), err);
	assert_null(b);
	assert_int_equal(tbs_len, 0);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_crl_bad_arguments(void **state)
{
	struct sg_crl_entry e[3];
	time_t t = g.now;
	X509 *ed_root;

	(void)state;
	entry(&e[0], 5, t, CRL_REASON_KEY_COMPROMISE);
	entry(&e[1], 6, t, CRL_REASON_NONE);
	entry(&e[2], 7, t, CRL_REASON_NONE);
	expect_crl(NULL, e, 3, t, t + DAY, SG_HASH_SHA256, SG_ERR_INVALID_ARG);
	expect_crl(g.inter, NULL, 3, t, t + DAY, SG_HASH_SHA256, SG_ERR_INVALID_ARG);
	expect_crl(g.inter, e, 3, t, t, SG_HASH_SHA256, SG_ERR_INVALID_ARG);
	expect_crl(g.inter, e, 3, t, t + DAY, SG_HASH_NONE, SG_ERR_INVALID_ARG);
	expect_crl(g.inter, e, SG_CRL_MAX_ENTRIES + 1, t, t + DAY, SG_HASH_SHA256, SG_ERR_LIMIT);
	/* The same serial twice, once with a leading zero byte. */
	e[2].serial_len = 9;
	memmove(e[2].serial + 1, e[0].serial, 8);
	e[2].serial[0] = 0;
	expect_crl(g.inter, e, 3, t, t + DAY, SG_HASH_SHA256, SG_ERR_INVALID_ARG);
	entry(&e[2], 7, t, CRL_REASON_NONE);
	/* Reasons: 7 is unused, removeFromCRL is for delta CRLs, 11 and -2 do not exist. */
	e[1].reason = 7;
	expect_crl(g.inter, e, 3, t, t + DAY, SG_HASH_SHA256, SG_ERR_INVALID_ARG);
	e[1].reason = CRL_REASON_REMOVE_FROM_CRL;
	expect_crl(g.inter, e, 3, t, t + DAY, SG_HASH_SHA256, SG_ERR_INVALID_ARG);
	e[1].reason = 11;
	expect_crl(g.inter, e, 3, t, t + DAY, SG_HASH_SHA256, SG_ERR_INVALID_ARG);
	e[1].reason = -2;
	expect_crl(g.inter, e, 3, t, t + DAY, SG_HASH_SHA256, SG_ERR_INVALID_ARG);
	e[1].reason = CRL_REASON_NONE;
	/* Serials as for certificates. */
	memset(e[1].serial, 0, 8);
	expect_crl(g.inter, e, 3, t, t + DAY, SG_HASH_SHA256, SG_ERR_INVALID_ARG);
	e[1].serial_len = 21;
	expect_crl(g.inter, e, 3, t, t + DAY, SG_HASH_SHA256, SG_ERR_INVALID_ARG);
	ed_root = ed25519_root();
	expect_crl(ed_root, NULL, 0, t, t + DAY, SG_HASH_SHA256, SG_ERR_INVALID_ARG);
	X509_free(ed_root);
}

/*
 * 100,000 revoked serials build, sign and decode.  Measured once on the
 * development machine (2 vCPUs, RelWithDebInfo build): sg_crl_begin() 0.36 s;
 * crl_build() as a whole (begin, sign, finish with its decode and verify,
 * and this test's own re-encoding and digest of the TBS) 1.06 s.  The
 * benchmark of 1k/10k/100k belongs to tests/bench, not here.
 */
static void
test_crl_100k_entries(void **state)
{
	enum { N = 100000 };
	struct sg_crl_entry *e;
	X509_CRL *crl;
	X509_REVOKED *rev = NULL;
	ASN1_INTEGER *ai;
	unsigned char r[8];
	size_t i;

	(void)state;
	assert_non_null(e = calloc(N, sizeof(*e)));
	assert_int_equal(RAND_bytes(r, sizeof(r)), 1);
	for (i = 0; i < N; i++) {
		/* Random-looking order: a multiplicative permutation of 1..N. */
		entry(&e[i], ((uint64_t)i * 7919 % N + 1) << 24 | r[i % 8], g.now - (time_t)i,
		      (int)(i % 3) == 0 ? CRL_REASON_KEY_COMPROMISE : CRL_REASON_NONE);
	}
	crl = crl_build(g.inter, g.int_key, e, N, 100, g.now, g.now + DAY, SG_HASH_SHA256);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), N);
	assert_non_null(ai = ASN1_INTEGER_new());
	assert_int_equal(
	    ASN1_INTEGER_set_uint64(ai, (((uint64_t)12345 * 7919 % N + 1) << 24) | r[12345 % 8]),
	    1);
	assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, ai), 1);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_REVOKED_get0_revocationDate(rev), g.now - 12345),
	                 0);
	ASN1_INTEGER_free(ai);
	X509_CRL_free(crl);
	free(e);
}

static void
test_crl_wrong_signature(void **state)
{
	struct sg_x509_build *b = NULL;
	struct sg_crl_entry e[1];
	unsigned char tbs[SG_HASH_MAX_LEN], sig[512], *der = (unsigned char *)1;
	size_t tbs_len = 0, sig_len, len = 1;

	(void)state;
	entry(&e[0], 3, g.now, CRL_REASON_NONE);
	assert_int_equal(
	    sg_crl_begin(g.root[2], e, 1, 1, g.now, g.now + DAY, SG_HASH_SHA256, &b, tbs, &tbs_len),
	    0);
	/* RSA over another digest. */
	tbs[tbs_len - 1] ^= 0x80;
	sig_len = tl_sign(g.root_key[2], SG_HASH_SHA256, tbs, tbs_len, sig, sizeof(sig));
	tbs[tbs_len - 1] ^= 0x80;
	assert_int_equal(sg_crl_finish(b, sig, sig_len, &der, &len), SG_ERR_SELF_VERIFY);
	assert_null(der);
	assert_int_equal(len, 0);
	assert_int_equal(ERR_peek_error(), 0);
	sig_len = tl_sign(g.root_key[3], SG_HASH_SHA256, tbs, tbs_len, sig, sizeof(sig));
	assert_int_equal(sg_crl_finish(b, sig, sig_len, &der, &len),
	                 SG_ERR_INVALID_ARG); /* 384 B */
	der = sign_and_finish(b, 1, g.root_key[2], SG_HASH_SHA256, tbs, tbs_len, &len);
	free(der);
	sg_x509_build_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csr_der_and_pem),
	    cmocka_unit_test(test_csr_from_openssl_req),
	    cmocka_unit_test(test_csr_rsa1024_and_ed25519_parse),
	    cmocka_unit_test(test_csr_invalid),
	    cmocka_unit_test(test_csr_bad_signature),
	    cmocka_unit_test(test_cert_chain_every_key_and_hash),
	    cmocka_unit_test(test_cert_leaf_fields),
	    cmocka_unit_test(test_cert_intermediate_fields_and_name_constraints),
	    cmocka_unit_test(test_cert_issuer_without_ski),
	    cmocka_unit_test(test_cert_empty_subject),
	    cmocka_unit_test(test_cert_subject_reencoded),
	    cmocka_unit_test(test_cert_key_usage_bits),
	    cmocka_unit_test(test_cert_time_encoding),
	    cmocka_unit_test(test_cert_serials),
	    cmocka_unit_test(test_cert_bad_arguments),
	    cmocka_unit_test(test_cert_wrong_signature),
	    cmocka_unit_test(test_crl_revokes_for_openssl),
	    cmocka_unit_test(test_crl_fields),
	    cmocka_unit_test(test_crl_empty_and_rsa),
	    cmocka_unit_test(test_crl_bad_arguments),
	    cmocka_unit_test(test_crl_100k_entries),
	    cmocka_unit_test(test_crl_wrong_signature),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
