/*
 * Unit tests of sg_policy: a valid policy and every decision path of
 * sg_policy_check and sg_policy_key_grants; every schema and semantic error,
 * each with its exact code and the file, line and field named in why; key
 * certificates (made here with OpenSSL) and each way a certificate file can
 * be wrong; the ops sign.cms and timestamp; the HTTP client; CA keys (purpose
 * ca), the profile ops and their decisions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <zmq.h>

#include "sg_err.h"
#include "sg_policy.h"
#include "sg_yaml.h"

static char tmpdir[] = "/tmp/sg_policy_test.XXXXXX";
static char ppath[256];
static char why[512];
/* Z85 of 32 bytes of value i + 1; K[3] is not valid Z85. */
static char K[4][41];

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Writes the formatted policy to ppath and loads it. */
static int load_fmt(struct sg_policy **p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
load_fmt(struct sg_policy **p, const char *fmt, ...)
{
	char text[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(text));
	write_file(ppath, text, (size_t)n);
	why[0] = '\0';
	return sg_policy_load(ppath, p, why, sizeof(why));
}

/* Asserts why is "<ppath>:<line>: <rest>..." */
static void
assert_why(unsigned line, const char *rest)
{
	char want[512];

	(void)snprintf(want, sizeof(want), "%s:%u: %s", ppath, line, rest);
	if (strncmp(why, want, strlen(want)) != 0)
		fail_msg("why is \"%s\", expected it to start with \"%s\"", why, want);
}

/*
 * Certificates for the certificate tests, made here with OpenSSL and
 * software keys: root -> inter -> leaves, and a few deliberately wrong ones.
 * Written as PEM files under tmpdir.
 */
static struct {
	EVP_PKEY *root_key, *inter_key, *ec_key, *p384_key, *rsa_key, *tsa_key, *imp_key;
	X509 *root, *inter, *leaf_ec, *leaf_p384, *leaf_rsa, *leaf_noaki, *impostor;
	X509 *tsa, *tsa_noncrit, *tsa_multi, *tsa_noeku, *tsa_badku, *dup_ext;
	X509 *ca_nokusign, *ca_nocrlsign, *ca_noku;
	X509 *deep[SG_POLICY_MAX_CERTS]; /* a valid chain of 8, leaf first */
} pki;

static EVP_PKEY *
mkkey(const char *type)
{
	EVP_PKEY *k;

	if (strcmp(type, "RSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", type);
	assert_non_null(k);
	return k;
}

/*
 * A certificate for pub named cn, signed by sign_key as issuer (NULL: self-
 * signed); exts is a NULL-terminated list of "nid-name=value" strings.
 */
static X509 *
mkcert(const char *cn, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *sign_key, const char *const *exts)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	char buf[256], *eq;
	static long serial = 1;
	size_t i;

	assert_non_null(x);
	assert_non_null(name);
	assert_true(X509_set_version(x, X509_VERSION_3));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++));
	assert_true(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	                                       (const unsigned char *)"Signet Test", -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
	                                       -1, -1, 0));
	assert_true(X509_set_subject_name(x, name));
	assert_true(X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400L));
	assert_true(X509_set_pubkey(x, pub));
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	for (i = 0; exts != NULL && exts[i] != NULL; i++) {
		(void)snprintf(buf, sizeof(buf), "%s", exts[i]);
		eq = strchr(buf, '=');
		assert_non_null(eq);
		*eq = '\0';
		ext = X509V3_EXT_nconf_nid(NULL, &ctx, OBJ_txt2nid(buf), eq + 1);
		if (ext == NULL)
			fail_msg("extension %s", exts[i]);
		assert_true(X509_add_ext(x, ext, -1));
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, sign_key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	return x;
}

static const char *const ext_ca[] = {
    "basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign",
    "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid:always", NULL};
static const char *const ext_leaf[] = {
    "basicConstraints=critical,CA:FALSE",           "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=codeSigning,emailProtection", "subjectKeyIdentifier=hash",
    "authorityKeyIdentifier=keyid:always",          NULL};
static const char *const ext_noaki[] = {"basicConstraints=critical,CA:FALSE", NULL};
static const char *const ext_imp[] = {"basicConstraints=critical,CA:TRUE", NULL};
static const char *const ext_tsa[] = {
    "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=critical,timeStamping", "authorityKeyIdentifier=keyid:always", NULL};
static const char *const ext_tsa_noncrit[] = {"extendedKeyUsage=timeStamping", NULL};
static const char *const ext_tsa_multi[] = {"extendedKeyUsage=critical,timeStamping,codeSigning",
                                            NULL};
static const char *const ext_tsa_badku[] = {"keyUsage=critical,digitalSignature,keyCertSign",
                                            "extendedKeyUsage=critical,timeStamping", NULL};
static const char *const ext_ca_nokusign[] = {"basicConstraints=critical,CA:TRUE",
                                              "keyUsage=critical,cRLSign", NULL};
static const char *const ext_ca_nocrlsign[] = {"basicConstraints=critical,CA:TRUE",
                                               "keyUsage=critical,keyCertSign", NULL};
static const char *const ext_dup[] = {"basicConstraints=critical,CA:FALSE",
                                      "basicConstraints=critical,CA:FALSE", NULL};

static void
pki_make(void)
{
	char cn[32];
	int i;

	pki.root_key = mkkey("P-384");
	pki.inter_key = mkkey("P-384");
	pki.ec_key = mkkey("P-256");
	pki.p384_key = mkkey("P-384");
	pki.rsa_key = mkkey("RSA");
	pki.tsa_key = mkkey("P-256");
	pki.imp_key = mkkey("P-384");
	pki.root = mkcert("Test Root", pki.root_key, NULL, pki.root_key, ext_ca);
	pki.inter = mkcert("Test Intermediate", pki.inter_key, pki.root, pki.root_key, ext_ca);
	/* Same name as the intermediate, another key, no key identifiers. */
	pki.impostor = mkcert("Test Intermediate", pki.imp_key, pki.root, pki.root_key, ext_imp);
	pki.leaf_ec = mkcert("Test EC", pki.ec_key, pki.inter, pki.inter_key, ext_leaf);
	pki.leaf_p384 = mkcert("Test P-384", pki.p384_key, pki.inter, pki.inter_key, ext_leaf);
	pki.leaf_rsa = mkcert("Test RSA", pki.rsa_key, pki.inter, pki.inter_key, ext_leaf);
	pki.leaf_noaki = mkcert("Test no AKI", pki.ec_key, pki.inter, pki.inter_key, ext_noaki);
	pki.tsa = mkcert("Test TSA", pki.tsa_key, pki.inter, pki.inter_key, ext_tsa);
	pki.tsa_noncrit = mkcert("TSA 2", pki.tsa_key, pki.inter, pki.inter_key, ext_tsa_noncrit);
	pki.tsa_multi = mkcert("TSA 3", pki.tsa_key, pki.inter, pki.inter_key, ext_tsa_multi);
	pki.tsa_noeku = mkcert("TSA 4", pki.tsa_key, pki.inter, pki.inter_key, ext_leaf);
	pki.tsa_badku = mkcert("TSA 5", pki.tsa_key, pki.inter, pki.inter_key, ext_tsa_badku);
	pki.dup_ext = mkcert("Test dup", pki.ec_key, pki.inter, pki.inter_key, ext_dup);
	pki.ca_nokusign = mkcert("CA 2", pki.p384_key, pki.root, pki.root_key, ext_ca_nokusign);
	pki.ca_nocrlsign = mkcert("CA 3", pki.p384_key, pki.root, pki.root_key, ext_ca_nocrlsign);
	pki.ca_noku = mkcert("CA 4", pki.p384_key, pki.root, pki.root_key, ext_imp);
	/* deep[7] is a self-signed root, deep[6..1] CAs, deep[0] the leaf; one EC key. */
	pki.deep[SG_POLICY_MAX_CERTS - 1] = mkcert("Deep 7", pki.ec_key, NULL, pki.ec_key, ext_ca);
	for (i = SG_POLICY_MAX_CERTS - 2; i >= 0; i--) {
		(void)snprintf(cn, sizeof(cn), "Deep %d", i);
		pki.deep[i] =
		    mkcert(cn, pki.ec_key, pki.deep[i + 1], pki.ec_key, i == 0 ? ext_leaf : ext_ca);
	}
}

static void
pki_free(void)
{
	EVP_PKEY *keys[] = {pki.root_key, pki.inter_key, pki.ec_key, pki.p384_key,
	                    pki.rsa_key,  pki.tsa_key,   pki.imp_key};
	X509 *certs[] = {pki.root,        pki.inter,       pki.leaf_ec,      pki.leaf_p384,
	                 pki.leaf_rsa,    pki.leaf_noaki,  pki.impostor,     pki.tsa,
	                 pki.tsa_noncrit, pki.tsa_multi,   pki.tsa_noeku,    pki.tsa_badku,
	                 pki.dup_ext,     pki.ca_nokusign, pki.ca_nocrlsign, pki.ca_noku};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		EVP_PKEY_free(keys[i]);
	for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		X509_free(certs[i]);
	for (i = 0; i < SG_POLICY_MAX_CERTS; i++)
		X509_free(pki.deep[i]);
}

/* Writes the certificates (NULL-terminated) as PEM to tmpdir/name; returns the path. */
static const char *
write_pem(const char *name, ...)
{
	static char path[8][300];
	static int slot;
	char *p = path[slot++ % 8];
	va_list ap;
	X509 *x;
	FILE *f;

	(void)snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	va_start(ap, name);
	while ((x = va_arg(ap, X509 *)) != NULL)
		assert_true(PEM_write_X509(f, x));
	va_end(ap);
	assert_int_equal(fclose(f), 0);
	return p;
}

static int
setup(void **state)
{
	unsigned char raw[32];
	int i;

	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	(void)snprintf(ppath, sizeof(ppath), "%s/p.yaml", tmpdir);
	for (i = 0; i < 3; i++) {
		memset(raw, i + 1, sizeof(raw));
		if (zmq_z85_encode(K[i], raw, sizeof(raw)) == NULL)
			return -1;
	}
	/* 40 characters, but '~' is not in the Z85 alphabet. */
	memcpy(K[3], K[0], sizeof(K[3]));
	K[3][7] = '~';
	pki_make();
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	pki_free();
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd);
}

#define VALID_FMT                                                                                  \
	"version: 1\n"                                                        /* 1 */              \
	"clients:\n"                                                          /* 2 */              \
	"  - name: ci-runner\n"                                               /* 3 */              \
	"    curve_public_key: \"%s\"\n"                                      /* 4 */              \
	"    roles: [ci]\n"                                                   /* 5 */              \
	"    max_inflight: 64\n"                                              /* 6 */              \
	"  - name: releaser\n"                                                /* 7 */              \
	"    curve_public_key: \"%s\"\n"                                      /* 8 */              \
	"    roles: [release]\n"                                              /* 9 */              \
	"  - name: watcher\n"                                                 /* 10 */             \
	"    curve_public_key: \"%s\"\n"                                      /* 11 */             \
	"keys:\n"                                                             /* 12 */             \
	"  - name: build-ec\n"                                                /* 13 */             \
	"    uri: \"pkcs11:token=signet-dev;object=build-ec;type=private\"\n" /* 14 */             \
	"    algorithm: ec-p256\n"                                            /* 15 */             \
	"    purposes: [sign]\n"                                              /* 16 */             \
	"    self_verify: false\n"                                            /* 17 */             \
	"  - name: build-rsa\n"                                               /* 18 */             \
	"    uri: \"label:build rsa\"\n"                                      /* 19 */             \
	"    algorithm: rsa-3072\n"                                           /* 20 */             \
	"    purposes: [sign]\n"                                              /* 21 */             \
	"  - name: release-ec\n"                                              /* 22 */             \
	"    uri: \"pkcs11:object=release-ec\"\n"                             /* 23 */             \
	"    algorithm: ec-p384\n"                                            /* 24 */             \
	"    purposes: [sign]\n"                                              /* 25 */             \
	"    self_verify: true\n"                                             /* 26 */             \
	"rules:\n"                                                            /* 27 */             \
	"  - name: ci-signing\n"                                              /* 28 */             \
	"    roles: [ci]\n"                                                   /* 29 */             \
	"    ops: [ping, keys.list, sign.digest]\n"                           /* 30 */             \
	"    keys: [build-ec, build-rsa]\n"                                   /* 31 */             \
	"    hashes: [sha256, sha384]\n"                                      /* 32 */             \
	"    paddings: [pss]\n"                                               /* 33 */             \
	"  - name: release\n"                                                 /* 34 */             \
	"    clients: [releaser]\n"                                           /* 35 */             \
	"    ops: [sign.digest]\n"                                            /* 36 */             \
	"    keys: [release-ec, build-rsa, release-ec]\n"                     /* 37 */             \
	"  - name: watch\n"                                                   /* 38 */             \
	"    clients: [watcher]\n"                                            /* 39 */             \
	"    ops: [ping]\n"                                                   /* 40 */

static struct sg_policy *
load_valid(void)
{
	struct sg_policy *p = NULL;

	if (load_fmt(&p, VALID_FMT, K[0], K[1], K[2]) != 0)
		fail_msg("valid policy refused: %s", why);
	assert_non_null(p);
	return p;
}

static void
test_valid_accessors(void **state)
{
	struct sg_policy *p = load_valid();
	const struct sg_policy_client *c;
	const struct sg_policy_key *k;
	unsigned char raw[32];

	(void)state;
	memset(raw, 2, sizeof(raw));
	c = sg_policy_client_by_pubkey(p, raw);
	assert_non_null(c);
	assert_string_equal(sg_policy_client_name(c), "releaser");
	assert_ptr_equal(sg_policy_client_by_name(p, "releaser"), c);
	assert_int_equal(sg_policy_client_max_inflight(c), 0);
	c = sg_policy_client_by_name(p, "ci-runner");
	assert_non_null(c);
	assert_int_equal(sg_policy_client_max_inflight(c), 64);
	memset(raw, 1, sizeof(raw));
	assert_ptr_equal(sg_policy_client_by_pubkey(p, raw), c);
	memset(raw, 9, sizeof(raw));
	assert_null(sg_policy_client_by_pubkey(p, raw));
	assert_null(sg_policy_client_by_name(p, "nobody"));

	assert_int_equal(sg_policy_key_count(p), 3);
	k = sg_policy_key_at(p, 0);
	assert_string_equal(sg_policy_key_name(k), "build-ec");
	assert_string_equal(sg_policy_key_uri(k),
	                    "pkcs11:token=signet-dev;object=build-ec;type=private");
	assert_int_equal(sg_policy_key_alg(k), SG_KEYALG_EC_P256);
	assert_int_equal(sg_policy_key_self_verify(k), 0);
	k = sg_policy_key_at(p, 1);
	assert_string_equal(sg_policy_key_name(k), "build-rsa");
	assert_string_equal(sg_policy_key_uri(k), "label:build rsa");
	assert_int_equal(sg_policy_key_alg(k), SG_KEYALG_RSA_3072);
	assert_int_equal(sg_policy_key_self_verify(k), 1);
	k = sg_policy_key_at(p, 2);
	assert_string_equal(sg_policy_key_name(k), "release-ec");
	assert_int_equal(sg_policy_key_alg(k), SG_KEYALG_EC_P384);
	assert_int_equal(sg_policy_key_self_verify(k), 1);
	assert_null(sg_policy_key_at(p, 3));
	assert_ptr_equal(sg_policy_key_by_name(p, "build-rsa"), sg_policy_key_at(p, 1));
	assert_null(sg_policy_key_by_name(p, "nope"));
	sg_policy_free(p);
	sg_policy_free(NULL);
}

static void
test_check(void **state)
{
	struct sg_policy *p = load_valid();

	(void)state;
	/* Allowed through the role "ci". */
	assert_int_equal(
	    sg_policy_check(p, "ci-runner", SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE), 0);
	assert_int_equal(
	    sg_policy_check(p, "ci-runner", SG_OP_KEYS_LIST, NULL, SG_HASH_NONE, SG_PAD_NONE), 0);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-ec",
	                                 SG_HASH_SHA256, SG_PAD_NONE),
	                 0);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-ec",
	                                 SG_HASH_SHA384, SG_PAD_NONE),
	                 0);
	/* Hash outside the rule's list, and no hash at all. */
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-ec",
	                                 SG_HASH_SHA512, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-ec",
	                                 SG_HASH_NONE, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	/* A key of the policy that no rule of this client names. */
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "release-ec",
	                                 SG_HASH_SHA256, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	/* Unknown key. */
	assert_int_equal(
	    sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "nope", SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_UNKNOWN_KEY);
	assert_int_equal(
	    sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, NULL, SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_DENIED);
	/* Unknown client: denied, whatever the key. */
	assert_int_equal(sg_policy_check(p, "mallory", SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "mallory", SG_OP_SIGN_DIGEST, "nope", SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, NULL, SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	/* Allowed through the client's name, every hash by default; ops not granted. */
	assert_int_equal(sg_policy_check(p, "releaser", SG_OP_SIGN_DIGEST, "release-ec",
	                                 SG_HASH_SHA512, SG_PAD_NONE),
	                 0);
	assert_int_equal(
	    sg_policy_check(p, "releaser", SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "releaser", SG_OP_SIGN_DIGEST, "build-ec",
	                                 SG_HASH_SHA256, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "watcher", SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 0);
	assert_int_equal(
	    sg_policy_check(p, "watcher", SG_OP_KEYS_LIST, NULL, SG_HASH_NONE, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "watcher", SG_OP_NONE, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "watcher", (enum sg_op)99, NULL, SG_HASH_NONE, SG_PAD_NONE),
	    SG_ERR_DENIED);
	sg_policy_free(p);
}

static void
test_check_padding(void **state)
{
	struct sg_policy *p = load_valid();

	(void)state;
	/* EC keys take no padding. */
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-ec",
	                                 SG_HASH_SHA256, SG_PAD_PSS),
	                 SG_ERR_BAD_PADDING);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-ec",
	                                 SG_HASH_SHA256, SG_PAD_PKCS1),
	                 SG_ERR_BAD_PADDING);
	/* ci-signing allows only pss on RSA: NONE means pkcs1, so it is denied. */
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-rsa",
	                                 SG_HASH_SHA256, SG_PAD_PSS),
	                 0);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-rsa",
	                                 SG_HASH_SHA256, SG_PAD_PKCS1),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-rsa",
	                                 SG_HASH_SHA256, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-rsa",
	                                 SG_HASH_SHA256, (enum sg_pad)7),
	                 SG_ERR_BAD_PADDING);
	/* The release rule allows every padding. */
	assert_int_equal(sg_policy_check(p, "releaser", SG_OP_SIGN_DIGEST, "build-rsa",
	                                 SG_HASH_SHA256, SG_PAD_NONE),
	                 0);
	assert_int_equal(sg_policy_check(p, "releaser", SG_OP_SIGN_DIGEST, "build-rsa",
	                                 SG_HASH_SHA256, SG_PAD_PKCS1),
	                 0);
	assert_int_equal(sg_policy_check(p, "releaser", SG_OP_SIGN_DIGEST, "build-rsa",
	                                 SG_HASH_SHA512, SG_PAD_PSS),
	                 0);
	sg_policy_free(p);
}

static void
test_key_grants(void **state)
{
	struct sg_policy *p = load_valid();
	const struct sg_policy_key *ec = sg_policy_key_by_name(p, "build-ec");
	const struct sg_policy_key *rsa = sg_policy_key_by_name(p, "build-rsa");
	const struct sg_policy_key *rel = sg_policy_key_by_name(p, "release-ec");
	unsigned ops = 77, hashes = 77;
	const unsigned all =
	    (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384) | (1u << SG_HASH_SHA512);

	(void)state;
	sg_policy_key_grants(p, "ci-runner", ec, &ops, &hashes);
	assert_int_equal(ops, 1u << SG_OP_SIGN_DIGEST);
	assert_int_equal(hashes, (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384));
	sg_policy_key_grants(p, "ci-runner", rel, &ops, &hashes);
	assert_int_equal(ops, 0);
	assert_int_equal(hashes, 0);
	sg_policy_key_grants(p, "releaser", rel, &ops, &hashes);
	assert_int_equal(ops, 1u << SG_OP_SIGN_DIGEST);
	assert_int_equal(hashes, all);
	/* The release rule names build-rsa with every hash. */
	sg_policy_key_grants(p, "releaser", rsa, &ops, &hashes);
	assert_int_equal(hashes, all);
	sg_policy_key_grants(p, "watcher", ec, &ops, &hashes);
	assert_int_equal(ops, 0);
	assert_int_equal(hashes, 0);
	ops = hashes = 5;
	sg_policy_key_grants(p, "mallory", ec, &ops, &hashes);
	assert_int_equal(ops, 0);
	assert_int_equal(hashes, 0);
	sg_policy_free(p);
}

/* A client holding a role and named directly gets the union of both rules. */
static void
test_role_and_name_union(void **state)
{
	struct sg_policy *p = NULL;
	const struct sg_policy_key *k;
	unsigned ops, hashes;

	(void)state;
	assert_int_equal(
	    load_fmt(&p,
	             "version: 1\n"
	             "clients:\n"
	             "  - {name: a, curve_public_key: \"%s\", roles: [r1, r2]}\n"
	             "  - {name: b, curve_public_key: \"%s\", roles: [r2]}\n"
	             "keys:\n"
	             "  - {name: k, uri: \"label:k\", algorithm: ec-p256, purposes: [sign]}\n"
	             "rules:\n"
	             "  - {roles: [r1, r2], clients: [a], ops: [sign.digest], keys: [k], hashes: "
	             "[sha256]}\n"
	             "  - {clients: [a], ops: [sign.digest], keys: [k], hashes: [sha512]}\n"
	             "  - {roles: [r2], ops: [keys.list]}\n",
	             K[0], K[1]),
	    0);
	k = sg_policy_key_by_name(p, "k");
	sg_policy_key_grants(p, "a", k, &ops, &hashes);
	assert_int_equal(hashes, (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA512));
	sg_policy_key_grants(p, "b", k, &ops, &hashes);
	assert_int_equal(hashes, 1u << SG_HASH_SHA256);
	assert_int_equal(
	    sg_policy_check(p, "b", SG_OP_SIGN_DIGEST, "k", SG_HASH_SHA512, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "a", SG_OP_SIGN_DIGEST, "k", SG_HASH_SHA512, SG_PAD_NONE), 0);
	assert_int_equal(sg_policy_check(p, "b", SG_OP_KEYS_LIST, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 0);
	assert_int_equal(sg_policy_check(p, "a", SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	sg_policy_free(p);
}

static void
test_example_policy_loads(void **state)
{
	struct sg_policy *p = NULL;
	char path[512];
	int r;

	(void)state;
	(void)snprintf(path, sizeof(path), "%s/policies/example.yaml", SG_SOURCE_DIR);
	r = sg_policy_load(path, &p, why, sizeof(why));
	if (r != 0)
		fail_msg("%s: %s", path, why);
	assert_non_null(sg_policy_key_by_name(p, "build-signing"));
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-signing",
	                                 SG_HASH_SHA256, SG_PAD_NONE),
	                 0);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_CMS, "build-signing",
	                                 SG_HASH_SHA384, SG_PAD_NONE),
	                 0);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_CMS, "build-signing",
	                                 SG_HASH_SHA512, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "ci-runner", SG_OP_TIMESTAMP, "tsa", SG_HASH_SHA256, SG_PAD_NONE),
	    0);
	assert_int_equal(
	    sg_policy_check(p, "http-tsa", SG_OP_TIMESTAMP, "tsa", SG_HASH_SHA512, SG_PAD_NONE), 0);
	assert_ptr_equal(sg_policy_client_http(p), sg_policy_client_by_name(p, "http-tsa"));
	assert_int_equal(sk_X509_num(sg_policy_key_chain(sg_policy_key_by_name(p, "tsa"))), 1);
	assert_non_null(sg_policy_key_cert(sg_policy_key_by_name(p, "release-signing")));
	sg_policy_free(p);
}

/* Schema errors found by the pre-scan or libcyaml. */

#define CLIENT_A "clients:\n  - name: a\n    curve_public_key: \"%s\"\n"

static void
test_err_unknown_field(void **state)
{
	struct sg_policy *p = (void *)1;

	(void)state;
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    bogus: 1\nkeys: []\nrules: []\n", K[0]),
	    SG_ERR_POLICY);
	assert_null(p);
	assert_why(5, "field 'clients[0].bogus': unknown field");
	assert_int_equal(
	    load_fmt(&p, "version: 1\nextra: 2\n" CLIENT_A "keys: []\nrules: []\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(2, "field 'extra': unknown field");
}

static void
test_err_duplicate_key(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    name: b\nkeys: []\nrules: []\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(5, "field 'clients[0].name': duplicate key 'name' (first at line 3)");
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "keys: []\nrules: []\nversion: 1\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(7, "field 'version': duplicate key 'version' (first at line 1)");
	/* In flow style, on one line. */
	assert_int_equal(load_fmt(&p, "version: 1\nclients: []\nkeys: []\nrules:\n  - {clients: "
	                              "[a], clients: [b], ops: [ping]}\n"),
	                 SG_ERR_POLICY);
	assert_why(5, "field 'rules[0].clients': duplicate key 'clients'");
}

static void
test_err_alias_anchor(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    roles: &r [ci]\nkeys: []\nrules: []\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(5, "field 'clients[0].roles': YAML anchors are not allowed");
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    roles: *r\nkeys: []\nrules: []\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(5, "field 'clients[0].roles': YAML aliases are not allowed");
}

static void
test_err_wrong_type(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    roles: ci\nkeys: []\nrules: []\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(5, "field 'clients[0].roles': wrong type: expected a sequence, got a scalar");
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    max_inflight: lots\nkeys: []\nrules: []\n",
	             K[0]),
	    SG_ERR_POLICY);
	assert_why(5, "field 'clients[0].max_inflight': ");
	assert_int_equal(load_fmt(&p, "version: 1\n" CLIENT_A "keys: {}\nrules: []\n", K[0]),
	                 SG_ERR_POLICY);
	assert_why(5, "field 'keys': wrong type: expected a sequence, got a mapping");
	/* libcyaml's bool takes any word as true: ours is strict. */
	assert_int_equal(
	    load_fmt(&p, "version: 1\nclients: []\nkeys:\n  - name: k\n    uri: \"label:k\"\n"
	                 "    algorithm: ec-p256\n    purposes: [sign]\n    self_verify: "
	                 "flase\nrules: []\n"),
	    SG_ERR_POLICY);
	assert_why(8, "field 'keys[0].self_verify': ");
	assert_int_equal(load_fmt(&p, "- version: 1\n"), SG_ERR_POLICY);
	assert_why(1, "the top level must be a mapping");
}

static void
test_err_missing_field(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(
	    load_fmt(&p,
	             "version: 1\nclients:\n  - name: a\n    roles: [x]\nkeys: []\nrules: []\n"),
	    SG_ERR_POLICY);
	assert_why(3, "field 'clients[0].curve_public_key': required field missing");
	assert_int_equal(load_fmt(&p, "version: 1\nclients: []\nkeys: []\n"), SG_ERR_POLICY);
	assert_why(1, "field 'rules': required field missing");
	assert_int_equal(
	    load_fmt(&p, "version: 1\nclients: []\nkeys:\n  - name: k\n    uri: \"label:k\"\n"
	                 "    algorithm: ec-p256\nrules: []\n"),
	    SG_ERR_POLICY);
	assert_why(4, "field 'keys[0].purposes': required field missing");
}

static void
test_err_bad_z85(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(load_fmt(&p, "version: 1\n" CLIENT_A "keys: []\nrules: []\n", K[3]),
	                 SG_ERR_POLICY);
	assert_why(4, "field 'clients[0].curve_public_key': not a Z85 CURVE public key");
	assert_int_equal(load_fmt(&p, "version: 1\n" CLIENT_A "keys: []\nrules: []\n", "abcde"),
	                 SG_ERR_POLICY);
	assert_why(4, "field 'clients[0].curve_public_key': not a Z85");
	/* 40 valid characters whose value overflows 32 bits per group. */
	assert_int_equal(load_fmt(&p, "version: 1\n" CLIENT_A "keys: []\nrules: []\n",
	                          "########################################"),
	                 SG_ERR_POLICY);
	assert_why(4, "field 'clients[0].curve_public_key': not a Z85");
}

static void
test_err_duplicate_client(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(
	    load_fmt(&p,
	             "version: 1\n" CLIENT_A "  - name: b\n    curve_public_key: \"%s\"\n"
	             "  - name: a\n    curve_public_key: \"%s\"\nkeys: []\nrules: []\n",
	             K[0], K[1], K[2]),
	    SG_ERR_POLICY);
	assert_why(7, "field 'clients[2].name': duplicate client name 'a' (also clients[0])");
	assert_int_equal(
	    load_fmt(&p,
	             "version: 1\n" CLIENT_A "  - name: b\n    curve_public_key: \"%s\"\n"
	             "  - name: c\n    curve_public_key: \"%s\"\nkeys: []\nrules: []\n",
	             K[0], K[1], K[0]),
	    SG_ERR_POLICY);
	assert_why(8, "field 'clients[2].curve_public_key': public key of client 'c' is also that "
	              "of client 'a'");
	assert_int_equal(load_fmt(&p,
	                          "version: 1\nclients:\n  - name: \"a b\"\n    curve_public_key: "
	                          "\"%s\"\nkeys: []\nrules: []\n",
	                          K[0]),
	                 SG_ERR_POLICY);
	assert_why(3, "field 'clients[0].name': invalid client name 'a b'");
}

#define KEY_FMT                                                                                    \
	"version: 1\nclients: []\nkeys:\n"                                                         \
	"  - name: k\n    uri: \"%s\"\n    algorithm: %s\n    purposes: [%s]\n%s"                  \
	"rules: []\n"

static void
test_err_keys(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(
	    load_fmt(&p, KEY_FMT, "label:k", "rsa-2048", "sign", "    self_verify: false\n"),
	    SG_ERR_POLICY);
	assert_why(8,
	           "field 'keys[0].self_verify': self_verify: false is only allowed for EC keys");
	assert_int_equal(load_fmt(&p, KEY_FMT, "label:k", "rsa-1024", "sign", ""), SG_ERR_POLICY);
	assert_why(6, "field 'keys[0].algorithm': unknown algorithm 'rsa-1024'");
	assert_int_equal(load_fmt(&p, KEY_FMT, "label:k", "ec-p256", "sign, cms", ""),
	                 SG_ERR_POLICY);
	assert_why(7, "field 'keys[0].purposes[1]': unknown purpose 'cms'");
	assert_int_equal(load_fmt(&p, KEY_FMT, "file:/etc/passwd", "ec-p256", "sign", ""),
	                 SG_ERR_POLICY);
	assert_why(5, "field 'keys[0].uri': expected a \"pkcs11:\" URI");
	assert_int_equal(load_fmt(&p, KEY_FMT, "pkcs11:", "ec-p256", "sign", ""), SG_ERR_POLICY);
	assert_why(5, "field 'keys[0].uri': ");
	assert_int_equal(
	    load_fmt(&p, "version: 1\nclients: []\nkeys:\n"
	                 "  - {name: k, uri: \"label:k\", algorithm: ec-p256, purposes: [sign]}\n"
	                 "  - {name: k, uri: \"label:l\", algorithm: ec-p256, purposes: [sign]}\n"
	                 "rules: []\n"),
	    SG_ERR_POLICY);
	assert_why(5, "field 'keys[1].name': duplicate key name 'k' (also keys[0])");
	/* Boundary: a URI of exactly SG_POLICY_URI_MAX characters loads, one more does not. */
	{
		char uri[SG_POLICY_URI_MAX + 2];

		memset(uri, 'x', sizeof(uri));
		memcpy(uri, "label:", 6);
		uri[SG_POLICY_URI_MAX] = '\0';
		assert_int_equal(load_fmt(&p, KEY_FMT, uri, "ec-p256", "sign", ""), 0);
		sg_policy_free(p);
		p = NULL;
		uri[SG_POLICY_URI_MAX] = 'x';
		uri[SG_POLICY_URI_MAX + 1] = '\0';
		assert_int_equal(load_fmt(&p, KEY_FMT, uri, "ec-p256", "sign", ""), SG_ERR_POLICY);
		assert_why(5, "field 'keys[0].uri': string longer than 512 characters");
	}
}

#define RULE_BASE                                                                                  \
	"version: 1\n" CLIENT_A "    roles: [ci]\n"                                                \
	"keys:\n  - {name: k, uri: \"label:k\", algorithm: rsa-2048, purposes: [sign]}\n"          \
	"rules:\n  - name: r\n"
/* The rule starts on line 9, its next field on line 10. */

static void
test_err_rules(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(load_fmt(&p, RULE_BASE "    clients: [a, b]\n    ops: [ping]\n", K[0]),
	                 SG_ERR_POLICY);
	assert_why(10, "field 'rules[0].clients[1]': unknown client 'b'");
	assert_int_equal(load_fmt(&p, RULE_BASE "    roles: [release]\n    ops: [ping]\n", K[0]),
	                 SG_ERR_POLICY);
	assert_why(10, "field 'rules[0].roles[0]': role 'release' is held by no client");
	assert_int_equal(
	    load_fmt(&p, RULE_BASE "    roles: [ci]\n    ops: [sign.digest]\n    keys: [k, nope]\n",
	             K[0]),
	    SG_ERR_POLICY);
	assert_why(12, "field 'rules[0].keys[1]': unknown key 'nope'");
	assert_int_equal(
	    load_fmt(&p, RULE_BASE "    roles: [ci]\n    ops: [ping, sign.raw]\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(11, "field 'rules[0].ops[1]': unknown op 'sign.raw'");
	assert_int_equal(
	    load_fmt(&p,
	             RULE_BASE
	             "    roles: [ci]\n    ops: [sign.digest]\n    keys: [k]\n    hashes: [md5]\n",
	             K[0]),
	    SG_ERR_POLICY);
	assert_why(13, "field 'rules[0].hashes[0]': unknown hash 'md5'");
	assert_int_equal(load_fmt(&p,
	                          RULE_BASE "    roles: [ci]\n    ops: [sign.digest]\n    keys: "
	                                    "[k]\n    paddings: [pss, none]\n",
	                          K[0]),
	                 SG_ERR_POLICY);
	assert_why(13, "field 'rules[0].paddings[1]': unknown padding 'none'");
	assert_int_equal(load_fmt(&p, RULE_BASE "    roles: [ci]\n    ops: [sign.digest]\n", K[0]),
	                 SG_ERR_POLICY);
	assert_why(9, "field 'rules[0].keys': required when 'ops' has an op on a key");
	assert_int_equal(
	    load_fmt(&p, RULE_BASE "    roles: [ci]\n    ops: [ping]\n    keys: [k]\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(12, "field 'rules[0].keys': only allowed when 'ops' has an op on a key");
	assert_int_equal(
	    load_fmt(&p, RULE_BASE "    roles: [ci]\n    ops: [keys.list]\n    hashes: [sha256]\n",
	             K[0]),
	    SG_ERR_POLICY);
	assert_why(12, "field 'rules[0].hashes': only allowed");
	assert_int_equal(load_fmt(&p, RULE_BASE "    ops: [ping]\n", K[0]), SG_ERR_POLICY);
	assert_why(9, "field 'rules[0]': a rule needs 'clients' or 'roles'");
	assert_int_equal(load_fmt(&p, RULE_BASE "    clients: []\n    ops: [ping]\n", K[0]),
	                 SG_ERR_POLICY);
	assert_why(10, "field 'rules[0].clients': ");
	assert_int_equal(load_fmt(&p, RULE_BASE "    roles: [ci]\n    ops: []\n", K[0]),
	                 SG_ERR_POLICY);
	assert_why(11, "field 'rules[0].ops': ");
	/* A keyless op beside a key op: keys then apply to the key op. */
	assert_int_equal(
	    load_fmt(&p, RULE_BASE "    roles: [ci]\n    ops: [ping, sign.digest]\n    keys: [k]\n",
	             K[0]),
	    0);
	assert_int_equal(sg_policy_check(p, "a", SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE), 0);
	sg_policy_free(p);
}

/* Certificates: loading, accessors and every load error. */

#define CERT_FMT                                                                                   \
	"version: 1\n"              /* 1 */                                                        \
	"clients: []\n"             /* 2 */                                                        \
	"keys:\n"                   /* 3 */                                                        \
	"  - name: k\n"             /* 4 */                                                        \
	"    uri: \"label:k\"\n"    /* 5 */                                                        \
	"    algorithm: %s\n"       /* 6 */                                                        \
	"    purposes: [%s]\n"      /* 7 */                                                        \
	"    certificate: \"%s\"\n" /* 8 */                                                        \
	"rules: []\n"               /* 9 */

/* Loads CERT_FMT and asserts that it fails at line 8 with "<rest>". */
static void
assert_cert_err(const char *alg, const char *purposes, const char *path, const char *rest)
{
	struct sg_policy *p = (void *)1;
	char want[512];

	assert_int_equal(load_fmt(&p, CERT_FMT, alg, purposes, path), SG_ERR_POLICY);
	assert_null(p);
	(void)snprintf(want, sizeof(want), "field 'keys[0].certificate': %s", rest);
	assert_why(8, want);
}

static void
test_cert_load(void **state)
{
	struct sg_policy *p = NULL;
	const struct sg_policy_key *k;
	const char *path;
	char rel[64];

	(void)state;
	/* Leaf and intermediate: the chain is the intermediate. */
	path = write_pem("ec.pem", pki.leaf_ec, pki.inter, NULL);
	assert_int_equal(load_fmt(&p, CERT_FMT, "ec-p256", "sign", path), 0);
	k = sg_policy_key_by_name(p, "k");
	assert_non_null(sg_policy_key_cert(k));
	assert_int_equal(X509_cmp(sg_policy_key_cert(k), pki.leaf_ec), 0);
	assert_int_equal(sk_X509_num(sg_policy_key_chain(k)), 1);
	assert_int_equal(X509_cmp(sk_X509_value(sg_policy_key_chain(k), 0), pki.inter), 0);
	sg_policy_free(p);
	/* With the root: kept, as the file has it. */
	path = write_pem("ec-root.pem", pki.leaf_ec, pki.inter, pki.root, NULL);
	assert_int_equal(load_fmt(&p, CERT_FMT, "ec-p256", "sign", path), 0);
	k = sg_policy_key_by_name(p, "k");
	assert_int_equal(sk_X509_num(sg_policy_key_chain(k)), 2);
	assert_int_equal(X509_cmp(sk_X509_value(sg_policy_key_chain(k), 1), pki.root), 0);
	sg_policy_free(p);
	/* The leaf alone: an empty chain. */
	path = write_pem("ec-alone.pem", pki.leaf_ec, NULL);
	assert_int_equal(load_fmt(&p, CERT_FMT, "ec-p256", "sign", path), 0);
	k = sg_policy_key_by_name(p, "k");
	assert_non_null(sg_policy_key_chain(k));
	assert_int_equal(sk_X509_num(sg_policy_key_chain(k)), 0);
	sg_policy_free(p);
	/* A path relative to the policy file's directory. */
	(void)write_pem("ec-rel.pem", pki.leaf_p384, pki.inter, NULL);
	(void)snprintf(rel, sizeof(rel), "ec-rel.pem");
	assert_int_equal(load_fmt(&p, CERT_FMT, "ec-p384", "sign", rel), 0);
	k = sg_policy_key_by_name(p, "k");
	assert_int_equal(X509_cmp(sg_policy_key_cert(k), pki.leaf_p384), 0);
	sg_policy_free(p);
	/* RSA, and a time-stamping certificate as RFC 3161 wants it. */
	path = write_pem("rsa.pem", pki.leaf_rsa, pki.inter, NULL);
	assert_int_equal(load_fmt(&p, CERT_FMT, "rsa-2048", "sign", path), 0);
	sg_policy_free(p);
	path = write_pem("tsa.pem", pki.tsa, pki.inter, NULL);
	assert_int_equal(load_fmt(&p, CERT_FMT, "ec-p256", "timestamp", path), 0);
	sg_policy_free(p);
	/* Boundary: 8 certificates load. */
	path = write_pem("deep8.pem", pki.deep[0], pki.deep[1], pki.deep[2], pki.deep[3],
	                 pki.deep[4], pki.deep[5], pki.deep[6], pki.deep[7], NULL);
	assert_int_equal(load_fmt(&p, CERT_FMT, "ec-p256", "sign", path), 0);
	k = sg_policy_key_by_name(p, "k");
	assert_int_equal(sk_X509_num(sg_policy_key_chain(k)), SG_POLICY_MAX_CERTS - 1);
	sg_policy_free(p);
	/* Accessors are NULL-safe, and NULL for a key without a certificate. */
	assert_null(sg_policy_key_cert(NULL));
	assert_null(sg_policy_key_chain(NULL));
	p = load_valid();
	k = sg_policy_key_by_name(p, "build-ec");
	assert_null(sg_policy_key_cert(k));
	assert_null(sg_policy_key_chain(k));
	sg_policy_free(p);
}

static void
test_cert_err_file(void **state)
{
	char path[300], want[400], *big;
	const char *pem;
	size_t len, n;
	FILE *f;

	(void)state;
	(void)snprintf(path, sizeof(path), "%s/none.pem", tmpdir);
	(void)snprintf(want, sizeof(want), "cannot read %s: No such file or directory", path);
	assert_cert_err("ec-p256", "sign", path, want);
	(void)snprintf(want, sizeof(want), "cannot read %s: not a regular file", tmpdir);
	assert_cert_err("ec-p256", "sign", tmpdir, want);
	/* A FIFO: refused at once, not waited on. */
	(void)snprintf(path, sizeof(path), "%s/fifo.pem", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	(void)snprintf(want, sizeof(want), "cannot read %s: not a regular file", path);
	assert_cert_err("ec-p256", "sign", path, want);
	/* Empty, or white space only. */
	(void)snprintf(path, sizeof(path), "%s/empty.pem", tmpdir);
	write_file(path, " \n\t\n", 4);
	(void)snprintf(want, sizeof(want), "%s: holds no certificate", path);
	assert_cert_err("ec-p256", "sign", path, want);
	/* Size cap: exactly SG_POLICY_CERT_FILE_MAX bytes load, one more does not. */
	pem = write_pem("big.pem", pki.leaf_ec, NULL);
	big = malloc(SG_POLICY_CERT_FILE_MAX + 1);
	assert_non_null(big);
	f = fopen(pem, "r");
	assert_non_null(f);
	len = fread(big, 1, SG_POLICY_CERT_FILE_MAX, f);
	assert_int_equal(fclose(f), 0);
	for (n = len; n < SG_POLICY_CERT_FILE_MAX + 1; n++)
		big[n] = '\n';
	write_file(pem, big, SG_POLICY_CERT_FILE_MAX);
	{
		struct sg_policy *p = NULL;

		assert_int_equal(load_fmt(&p, CERT_FMT, "ec-p256", "sign", pem), 0);
		sg_policy_free(p);
	}
	write_file(pem, big, SG_POLICY_CERT_FILE_MAX + 1);
	(void)snprintf(want, sizeof(want), "cannot read %s: larger than 262144 bytes", pem);
	assert_cert_err("ec-p256", "sign", pem, want);
	free(big);
}

/* Writes text, then the PEM of x (if any), then tail, to tmpdir/name. */
static const char *
write_mixed(const char *name, const char *text, X509 *x, const char *tail)
{
	static char path[300];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	if (x != NULL)
		assert_true(PEM_write_X509(f, x));
	assert_true(fputs(tail, f) >= 0);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void
test_cert_err_pem(void **state)
{
	char want[512];
	const char *path;
	unsigned char der[SG_POLICY_CERT_DER_MAX + 2], *q;
	int len;
	FILE *f;

	(void)state;
	/* Text before, between or after the blocks. */
	path = write_mixed("text1.pem", "subject=CN = x\n", pki.leaf_ec, "");
	(void)snprintf(want, sizeof(want),
	               "%s:1: text outside a PEM block (the file must hold only CERTIFICATE "
	               "blocks)",
	               path);
	assert_cert_err("ec-p256", "sign", path, want);
	path = write_mixed("text2.pem", "\n\n", pki.leaf_ec, "\n# end\n");
	(void)snprintf(want, sizeof(want), "%s:", path);
	assert_cert_err("ec-p256", "sign", path, want);
	assert_non_null(strstr(why, ": text outside a PEM block"));
	/* A private key next to the certificate: named by its type only. */
	{
		char name[300];

		(void)snprintf(name, sizeof(name), "%s/key.pem", tmpdir);
		f = fopen(name, "w");
		assert_non_null(f);
		assert_true(PEM_write_X509(f, pki.leaf_ec));
		assert_true(PEM_write_PrivateKey(f, pki.ec_key, NULL, NULL, 0, NULL, NULL));
		assert_int_equal(fclose(f), 0);
		(void)snprintf(want, sizeof(want), "%s:", name);
		assert_cert_err("ec-p256", "sign", name, want);
		assert_non_null(
		    strstr(why, ": a 'PRIVATE KEY' block; only CERTIFICATE blocks are allowed"));
	}
	/* Another block type, and a certificate block with headers. */
	path = write_mixed("trusted.pem",
	                   "-----BEGIN TRUSTED CERTIFICATE-----\nAAAA\n-----END TRUSTED "
	                   "CERTIFICATE-----\n",
	                   NULL, "");
	(void)snprintf(want, sizeof(want),
	               "%s:1: a 'TRUSTED CERTIFICATE' block; only CERTIFICATE blocks are allowed",
	               path);
	assert_cert_err("ec-p256", "sign", path, want);
	path = write_mixed("headers.pem",
	                   "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: "
	                   "AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END "
	                   "CERTIFICATE-----\n",
	                   NULL, "");
	(void)snprintf(want, sizeof(want),
	               "%s:1: a 'CERTIFICATE' block with headers; only CERTIFICATE blocks are "
	               "allowed",
	               path);
	assert_cert_err("ec-p256", "sign", path, want);
	/* Bad base64, a missing END line. */
	path = write_mixed("b64.pem", "", pki.leaf_ec,
	                   "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
	(void)snprintf(want, sizeof(want), "%s:", path);
	assert_cert_err("ec-p256", "sign", path, want);
	assert_non_null(strstr(why, ": malformed PEM block"));
	path = write_mixed("noend.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n", NULL, "");
	(void)snprintf(want, sizeof(want), "%s:1: malformed PEM block", path);
	assert_cert_err("ec-p256", "sign", path, want);
	/* Not a certificate, and a certificate with a byte after it. */
	path = write_mixed("notx509.pem",
	                   "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END "
	                   "CERTIFICATE-----\n",
	                   NULL, "");
	(void)snprintf(want, sizeof(want), "%s:1: not a DER X.509 certificate", path);
	assert_cert_err("ec-p256", "sign", path, want);
	q = der;
	len = i2d_X509(pki.leaf_ec, &q);
	assert_true(len > 0);
	der[len] = 0;
	{
		char name[300];

		(void)snprintf(name, sizeof(name), "%s/trailing.pem", tmpdir);
		f = fopen(name, "w");
		assert_non_null(f);
		assert_true(PEM_write(f, "CERTIFICATE", "", der, len + 1));
		assert_int_equal(fclose(f), 0);
		(void)snprintf(want, sizeof(want), "%s:1: not a DER X.509 certificate", name);
		assert_cert_err("ec-p256", "sign", name, want);
		/* Over SG_POLICY_CERT_DER_MAX bytes: refused before it is parsed. */
		memset(der, 0, sizeof(der));
		f = fopen(name, "w");
		assert_non_null(f);
		assert_true(PEM_write(f, "CERTIFICATE", "", der, SG_POLICY_CERT_DER_MAX + 1));
		assert_int_equal(fclose(f), 0);
		(void)snprintf(want, sizeof(want), "%s:1: certificate larger than 16384 bytes",
		               name);
		assert_cert_err("ec-p256", "sign", name, want);
	}
	/* Nine certificates: one too many. */
	path = write_pem("nine.pem", pki.deep[0], pki.deep[1], pki.deep[2], pki.deep[3],
	                 pki.deep[4], pki.deep[5], pki.deep[6], pki.deep[7], pki.root, NULL);
	(void)snprintf(want, sizeof(want), "%s:", path);
	assert_cert_err("ec-p256", "sign", path, want);
	assert_non_null(strstr(why, ": more than 8 certificates (the key's and its chain)"));
}

static void
test_cert_err_chain(void **state)
{
	char want[512];
	const char *path;

	(void)state;
	/* Out of order: the intermediate first. */
	path = write_pem("order.pem", pki.inter, pki.leaf_ec, NULL);
	(void)snprintf(want, sizeof(want),
	               "%s: certificate 1 (/O=Signet Test/CN=Test Intermediate) was not issued "
	               "by certificate 2 (/O=Signet Test/CN=Test EC); the file must hold the "
	               "key's certificate, then each issuer in turn",
	               path);
	assert_cert_err("ec-p256", "sign", path, want);
	/* A gap: the root did not issue the leaf. */
	path = write_pem("gap.pem", pki.leaf_ec, pki.root, NULL);
	(void)snprintf(want, sizeof(want),
	               "%s: certificate 1 (/O=Signet Test/CN=Test EC) was "
	               "not issued by certificate 2",
	               path);
	assert_cert_err("ec-p256", "sign", path, want);
	/* Same issuer name, another key: only the signature tells. */
	path = write_pem("impostor.pem", pki.leaf_noaki, pki.impostor, NULL);
	(void)snprintf(want, sizeof(want),
	               "%s: the signature of certificate 1 (/O=Signet Test/CN=Test no AKI) does "
	               "not verify with the key of certificate 2 (/O=Signet Test/CN=Test "
	               "Intermediate)",
	               path);
	assert_cert_err("ec-p256", "sign", path, want);
	/* The genuine issuer of the same certificate is accepted. */
	{
		struct sg_policy *p = NULL;

		path = write_pem("noaki.pem", pki.leaf_noaki, pki.inter, NULL);
		assert_int_equal(load_fmt(&p, CERT_FMT, "ec-p256", "sign", path), 0);
		sg_policy_free(p);
	}
	/* A certificate with two basicConstraints. */
	path = write_pem("dup.pem", pki.dup_ext, pki.inter, NULL);
	(void)snprintf(want, sizeof(want), "%s: certificate 1 has invalid or repeated extensions",
	               path);
	assert_cert_err("ec-p256", "sign", path, want);
	/* The leaf's key against the key's algorithm. */
	path = write_pem("ec2.pem", pki.leaf_ec, pki.inter, NULL);
	(void)snprintf(want, sizeof(want),
	               "%s: the certificate's public key is ec-p256, but the key's algorithm is "
	               "ec-p384",
	               path);
	assert_cert_err("ec-p384", "sign", path, want);
	(void)snprintf(want, sizeof(want),
	               "%s: the certificate's public key is ec-p256, but the key's algorithm is "
	               "rsa-2048",
	               path);
	assert_cert_err("rsa-2048", "sign", path, want);
	path = write_pem("rsa2.pem", pki.leaf_rsa, pki.inter, NULL);
	(void)snprintf(want, sizeof(want),
	               "%s: the certificate's public key is rsa-2048, but the key's algorithm is "
	               "rsa-3072",
	               path);
	assert_cert_err("rsa-3072", "sign", path, want);
	/* A CA key (P-384) as the leaf of an ec-p256 key: refused by algorithm too. */
	path = write_pem("root.pem", pki.root, NULL);
	(void)snprintf(want, sizeof(want),
	               "%s: the certificate's public key is ec-p384, but the key's algorithm is "
	               "ec-p256",
	               path);
	assert_cert_err("ec-p256", "sign", path, want);
}

static void
test_cert_err_tsa(void **state)
{
	struct sg_policy *p = NULL;
	const char *path;

	(void)state;
	path = write_pem("tsa-noncrit.pem", pki.tsa_noncrit, pki.inter, NULL);
	assert_cert_err("ec-p256", "timestamp", path,
	                "the certificate of a key with purpose 'timestamp' has extendedKeyUsage "
	                "timeStamping, but not marked critical (RFC 3161 needs extendedKeyUsage "
	                "timeStamping alone, critical)");
	path = write_pem("tsa-multi.pem", pki.tsa_multi, pki.inter, NULL);
	assert_cert_err("ec-p256", "timestamp", path,
	                "the certificate of a key with purpose 'timestamp' has an "
	                "extendedKeyUsage other than timeStamping alone");
	/* A code-signing certificate is no TSA certificate. */
	path = write_pem("tsa-cs.pem", pki.tsa_noeku, pki.inter, NULL);
	assert_cert_err("ec-p256", "timestamp", path,
	                "the certificate of a key with purpose 'timestamp' has an "
	                "extendedKeyUsage other than timeStamping alone");
	path = write_pem("tsa-noeku.pem", pki.leaf_noaki, pki.inter, NULL);
	assert_cert_err("ec-p256", "timestamp", path,
	                "the certificate of a key with purpose 'timestamp' has no "
	                "extendedKeyUsage");
	path = write_pem("tsa-badku.pem", pki.tsa_badku, pki.inter, NULL);
	assert_cert_err("ec-p256", "timestamp", path,
	                "the certificate of a key with purpose 'timestamp' has a keyUsage other "
	                "than digitalSignature and/or nonRepudiation");
	/* A TSA key needs a certificate, and no other purpose. */
	assert_int_equal(load_fmt(&p, KEY_FMT, "label:k", "ec-p256", "timestamp", ""),
	                 SG_ERR_POLICY);
	assert_why(4, "field 'keys[0].certificate': required for a key with purpose 'timestamp'");
	path = write_pem("tsa-ok.pem", pki.tsa, pki.inter, NULL);
	assert_int_equal(load_fmt(&p, CERT_FMT, "ec-p256", "sign, timestamp", path), SG_ERR_POLICY);
	assert_why(7, "field 'keys[0].purposes': purpose 'timestamp' cannot be combined with "
	              "another: a time-stamping key must sign nothing else");
	assert_int_equal(load_fmt(&p, CERT_FMT, "ec-p256", "timestamp, timestamp", path), 0);
	sg_policy_free(p);
}

/*
 * A policy with the new ops: "cms" (sign, certificate), "tsa" (timestamp),
 * "raw" (sign, no certificate), a CI client and the HTTP client.
 */
#define OPS_FMT                                                                                    \
	"version: 1\n"                                               /* 1 */                       \
	"clients:\n"                                                 /* 2 */                       \
	"  - {name: ci, curve_public_key: \"%s\", roles: [ci]}\n"    /* 3 */                       \
	"  - {name: web, http: true, roles: [tsa-users]}\n"          /* 4 */                       \
	"  - {name: other, curve_public_key: \"%s\", http: false}\n" /* 5 */                       \
	"keys:\n"                                                    /* 6 */                       \
	"  - {name: cms, uri: \"label:cms\", algorithm: ec-p256, purposes: [sign], "               \
	"certificate: \"%s\"}\n" /* 7 */                                                           \
	"  - {name: tsa, uri: \"label:tsa\", algorithm: ec-p256, purposes: [timestamp], "          \
	"certificate: \"%s\"}\n"                                                       /* 8 */     \
	"  - {name: raw, uri: \"label:raw\", algorithm: rsa-2048, purposes: [sign]}\n" /* 9 */     \
	"rules:\n"                                                                     /* 10 */    \
	"  - {roles: [ci], ops: [sign.digest, sign.cms], keys: [cms], hashes: [sha256]}\n" /* 11   \
	                                                                                    */     \
	"  - {roles: [ci], ops: [timestamp, ping], keys: [tsa], hashes: [sha256, sha512]}\n"       \
	"  - {roles: [ci], ops: [sign.digest], keys: [raw]}\n"                        /* 13 */     \
	"  - {roles: [tsa-users], ops: [timestamp], keys: [tsa], hashes: [sha256]}\n" /* 14 */     \
	"%s"

static struct sg_policy *
load_ops(const char *extra)
{
	struct sg_policy *p = NULL;
	const char *cms = write_pem("ops-cms.pem", pki.leaf_ec, pki.inter, NULL);
	const char *tsa = write_pem("ops-tsa.pem", pki.tsa, pki.inter, NULL);

	if (load_fmt(&p, OPS_FMT, K[0], K[1], cms, tsa, extra) != 0)
		fail_msg("ops policy refused: %s", why);
	return p;
}

static void
test_ops_check(void **state)
{
	struct sg_policy *p = load_ops("");

	(void)state;
	/* sign.cms: a key op with the rule's hashes. */
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_SIGN_CMS, "cms", SG_HASH_SHA256, SG_PAD_NONE), 0);
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_SIGN_CMS, "cms", SG_HASH_SHA384, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "ci", SG_OP_SIGN_CMS, "cms", SG_HASH_NONE, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_SIGN_CMS, NULL, SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_SIGN_CMS, "nope", SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_UNKNOWN_KEY);
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_SIGN_CMS, "cms", SG_HASH_SHA256, SG_PAD_PSS),
	    SG_ERR_BAD_PADDING);
	/* sign.digest on raw does not grant sign.cms on it. */
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_SIGN_DIGEST, "raw", SG_HASH_SHA256, SG_PAD_NONE), 0);
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_SIGN_CMS, "raw", SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_DENIED);
	/* timestamp: only on the TSA key, hash of the imprint from the rule. */
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_TIMESTAMP, "tsa", SG_HASH_SHA512, SG_PAD_NONE), 0);
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_TIMESTAMP, "tsa", SG_HASH_SHA384, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_TIMESTAMP, "cms", SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_SIGN_DIGEST, "tsa", SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_SIGN_CMS, "tsa", SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_TIMESTAMP, NULL, SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "ci", SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE), 0);
	/* The HTTP client: its timestamp rule, nothing else. */
	assert_int_equal(
	    sg_policy_check(p, "web", SG_OP_TIMESTAMP, "tsa", SG_HASH_SHA256, SG_PAD_NONE), 0);
	assert_int_equal(
	    sg_policy_check(p, "web", SG_OP_TIMESTAMP, "tsa", SG_HASH_SHA512, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "web", SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "web", SG_OP_SIGN_CMS, "cms", SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_DENIED);
	/* A client with no rule. */
	assert_int_equal(
	    sg_policy_check(p, "other", SG_OP_TIMESTAMP, "tsa", SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "mallory", SG_OP_TIMESTAMP, "tsa", SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_DENIED);
	sg_policy_free(p);
}

static void
test_ops_grants(void **state)
{
	struct sg_policy *p = load_ops("");
	const struct sg_policy_key *cms = sg_policy_key_by_name(p, "cms");
	const struct sg_policy_key *tsa = sg_policy_key_by_name(p, "tsa");
	const struct sg_policy_key *raw = sg_policy_key_by_name(p, "raw");
	unsigned ops = 0, hashes = 0;

	(void)state;
	sg_policy_key_grants(p, "ci", cms, &ops, &hashes);
	assert_int_equal(ops, (1u << SG_OP_SIGN_DIGEST) | (1u << SG_OP_SIGN_CMS));
	assert_int_equal(hashes, 1u << SG_HASH_SHA256);
	/* ping beside timestamp in the rule is not a key op: not listed. */
	sg_policy_key_grants(p, "ci", tsa, &ops, &hashes);
	assert_int_equal(ops, 1u << SG_OP_TIMESTAMP);
	assert_int_equal(hashes, (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA512));
	sg_policy_key_grants(p, "ci", raw, &ops, &hashes);
	assert_int_equal(ops, 1u << SG_OP_SIGN_DIGEST);
	sg_policy_key_grants(p, "web", tsa, &ops, &hashes);
	assert_int_equal(ops, 1u << SG_OP_TIMESTAMP);
	assert_int_equal(hashes, 1u << SG_HASH_SHA256);
	sg_policy_key_grants(p, "web", cms, &ops, &hashes);
	assert_int_equal(ops, 0);
	assert_int_equal(hashes, 0);
	sg_policy_free(p);
}

static void
test_http_client(void **state)
{
	struct sg_policy *p = load_ops("");
	const struct sg_policy_client *web = sg_policy_client_by_name(p, "web");
	unsigned char raw[32];

	(void)state;
	assert_non_null(web);
	assert_ptr_equal(sg_policy_client_http(p), web);
	assert_int_equal(sg_policy_client_is_http(web), 1);
	assert_int_equal(sg_policy_client_is_http(sg_policy_client_by_name(p, "ci")), 0);
	assert_int_equal(sg_policy_client_is_http(sg_policy_client_by_name(p, "other")), 0);
	assert_int_equal(sg_policy_client_is_http(NULL), 0);
	assert_null(sg_policy_client_http(NULL));
	/* No CURVE key finds the HTTP client, not even the all-zero one. */
	memset(raw, 0, sizeof(raw));
	assert_null(sg_policy_client_by_pubkey(p, raw));
	memset(raw, 1, sizeof(raw));
	assert_ptr_equal(sg_policy_client_by_pubkey(p, raw), sg_policy_client_by_name(p, "ci"));
	memset(raw, 2, sizeof(raw));
	assert_ptr_equal(sg_policy_client_by_pubkey(p, raw), sg_policy_client_by_name(p, "other"));
	sg_policy_free(p);
	/* A policy without one. */
	p = load_valid();
	assert_null(sg_policy_client_http(p));
	sg_policy_free(p);
	/* Only HTTP clients: no CURVE key at all. */
	assert_int_equal(
	    load_fmt(&p,
	             "version: 1\nclients:\n  - {name: web, http: true}\nkeys: []\nrules: []\n"),
	    0);
	memset(raw, 0, sizeof(raw));
	assert_null(sg_policy_client_by_pubkey(p, raw));
	assert_non_null(sg_policy_client_http(p));
	sg_policy_free(p);
}

static void
test_err_http_client(void **state)
{
	struct sg_policy *p = (void *)1;

	(void)state;
	assert_int_equal(load_fmt(&p,
	                          "version: 1\nclients:\n  - name: web\n    curve_public_key: "
	                          "\"%s\"\n    http: true\nkeys: []\nrules: []\n",
	                          K[0]),
	                 SG_ERR_POLICY);
	assert_null(p);
	assert_why(5, "field 'clients[0].http': a client has either 'curve_public_key' or 'http: "
	              "true', not both");
	assert_int_equal(
	    load_fmt(&p,
	             "version: 1\nclients:\n  - name: web\n    http: false\nkeys: []\nrules: []\n"),
	    SG_ERR_POLICY);
	assert_why(3, "field 'clients[0].curve_public_key': required field missing (a client has "
	              "either 'curve_public_key' or 'http: true')");
	assert_int_equal(load_fmt(&p, "version: 1\nclients:\n  - name: web\nkeys: []\nrules: []\n"),
	                 SG_ERR_POLICY);
	assert_why(3, "field 'clients[0].curve_public_key': required field missing");
	assert_int_equal(load_fmt(&p, "version: 1\nclients:\n  - {name: a, http: true}\n"
	                              "  - {name: b, http: true}\nkeys: []\nrules: []\n"),
	                 SG_ERR_POLICY);
	assert_why(
	    4, "field 'clients[1].http': only one client may have 'http: true' (also clients[0])");
	assert_int_equal(load_fmt(&p, "version: 1\nclients:\n  - {name: a, http: yes}\n"
	                              "keys: []\nrules: []\n"),
	                 SG_ERR_POLICY);
	assert_why(3, "field 'clients[0].http': ");
	/* The same name twice, one of them HTTP. */
	assert_int_equal(load_fmt(&p,
	                          "version: 1\nclients:\n  - {name: a, http: true}\n"
	                          "  - {name: a, curve_public_key: \"%s\"}\nkeys: []\nrules: []\n",
	                          K[0]),
	                 SG_ERR_POLICY);
	assert_why(4, "field 'clients[1].name': duplicate client name 'a' (also clients[0])");
	/* The HTTP client is granted timestamp only, whether by name or by role. */
	p = (void *)1;
	assert_int_equal(load_fmt(&p, OPS_FMT, K[0], K[1],
	                          write_pem("ops-cms.pem", pki.leaf_ec, pki.inter, NULL),
	                          write_pem("ops-tsa.pem", pki.tsa, pki.inter, NULL),
	                          "  - {clients: [ci, web], ops: [ping]}\n"),
	                 SG_ERR_POLICY);
	assert_null(p);
	assert_why(15, "field 'rules[4].ops': grants ping to the HTTP client 'web', which can only "
	               "be granted timestamp");
	assert_int_equal(load_fmt(&p, OPS_FMT, K[0], K[1],
	                          write_pem("ops-cms.pem", pki.leaf_ec, pki.inter, NULL),
	                          write_pem("ops-tsa.pem", pki.tsa, pki.inter, NULL),
	                          "  - {roles: [tsa-users], ops: [timestamp, sign.cms], keys: "
	                          "[cms]}\n"),
	                 SG_ERR_POLICY);
	assert_why(15, "field 'rules[4].keys[0]': key 'cms' lacks purpose 'timestamp' needed by "
	               "timestamp");
	assert_int_equal(load_fmt(&p, OPS_FMT, K[0], K[1],
	                          write_pem("ops-cms.pem", pki.leaf_ec, pki.inter, NULL),
	                          write_pem("ops-tsa.pem", pki.tsa, pki.inter, NULL),
	                          "  - {roles: [tsa-users], ops: [sign.cms], keys: [cms]}\n"),
	                 SG_ERR_POLICY);
	assert_why(15, "field 'rules[4].ops': grants sign.cms to the HTTP client 'web'");
}

static void
test_err_ops_rules(void **state)
{
	struct sg_policy *p = (void *)1;
	const char *cms = write_pem("r-cms.pem", pki.leaf_ec, pki.inter, NULL);
	const char *tsa = write_pem("r-tsa.pem", pki.tsa, pki.inter, NULL);

#define OPS_RULE_FMT                                                                               \
	"version: 1\n" CLIENT_A "    roles: [ci]\n"                                                \
	"keys:\n"                                                                                  \
	"  - {name: cms, uri: \"label:c\", algorithm: ec-p256, purposes: [sign], certificate: "    \
	"\"%s\"}\n"                                                                                \
	"  - {name: tsa, uri: \"label:t\", algorithm: ec-p256, purposes: [timestamp], "            \
	"certificate: \"%s\"}\n"                                                                   \
	"  - {name: raw, uri: \"label:r\", algorithm: ec-p256, purposes: [sign]}\n"                \
	"rules:\n  - roles: [ci]\n    ops: [%s]\n    keys: [%s]\n"
	/* The rule's keys are on line 13. */
	(void)state;
	assert_int_equal(load_fmt(&p, OPS_RULE_FMT, K[0], cms, tsa, "sign.cms", "cms, raw"),
	                 SG_ERR_POLICY);
	assert_null(p);
	assert_why(13, "field 'rules[0].keys[1]': key 'raw' has no 'certificate', needed by "
	               "sign.cms");
	assert_int_equal(load_fmt(&p, OPS_RULE_FMT, K[0], cms, tsa, "sign.cms", "tsa"),
	                 SG_ERR_POLICY);
	assert_why(13, "field 'rules[0].keys[0]': key 'tsa' lacks purpose 'sign' needed by "
	               "sign.cms");
	assert_int_equal(load_fmt(&p, OPS_RULE_FMT, K[0], cms, tsa, "sign.digest", "tsa"),
	                 SG_ERR_POLICY);
	assert_why(13, "field 'rules[0].keys[0]': key 'tsa' lacks purpose 'sign' needed by "
	               "sign.digest");
	assert_int_equal(load_fmt(&p, OPS_RULE_FMT, K[0], cms, tsa, "timestamp", "cms"),
	                 SG_ERR_POLICY);
	assert_why(13, "field 'rules[0].keys[0]': key 'cms' lacks purpose 'timestamp' needed by "
	               "timestamp");
	/* Keys serve every key op of the rule. */
	assert_int_equal(
	    load_fmt(&p, OPS_RULE_FMT, K[0], cms, tsa, "sign.digest, timestamp", "tsa"),
	    SG_ERR_POLICY);
	assert_why(13, "field 'rules[0].keys[0]': key 'tsa' lacks purpose 'sign' needed by "
	               "sign.digest");
	/* sign.digest needs no certificate. */
	assert_int_equal(load_fmt(&p, OPS_RULE_FMT, K[0], cms, tsa, "sign.digest", "raw, cms"), 0);
	sg_policy_free(p);
	assert_int_equal(load_fmt(&p, OPS_RULE_FMT, K[0], cms, tsa, "timestamp", "tsa"), 0);
	sg_policy_free(p);
	assert_int_equal(load_fmt(&p, OPS_RULE_FMT, K[0], cms, tsa, "sign.cms, timestamp", "tsa"),
	                 SG_ERR_POLICY);
	assert_why(13, "field 'rules[0].keys[0]': key 'tsa' lacks purpose 'sign' needed by "
	               "sign.cms");
	/* An unknown op names the ops there are. */
	assert_int_equal(load_fmt(&p, OPS_RULE_FMT, K[0], cms, tsa, "sign.raw", "cms"),
	                 SG_ERR_POLICY);
	assert_why(12, "field 'rules[0].ops[0]': unknown op 'sign.raw' (expected ping, keys.list, "
	               "sign.digest, sign.cms, timestamp, cert.issue, cert.revoke, cert.status, "
	               "crl.get, ca.list or ocsp)");
#undef OPS_RULE_FMT
}

static void
test_err_version(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(load_fmt(&p, "clients: []\nkeys: []\nrules: []\nversion: 2\n"),
	                 SG_ERR_POLICY);
	assert_why(4, "field 'version': unsupported policy version 2 (expected 1)");
	assert_int_equal(load_fmt(&p, "version: -1\nclients: []\nkeys: []\nrules: []\n"),
	                 SG_ERR_POLICY);
	assert_why(1, "field 'version': ");
	assert_int_equal(load_fmt(&p, "clients: []\nkeys: []\nrules: []\n"), SG_ERR_POLICY);
	assert_why(1, "field 'version': required field missing");
}

static void
test_err_file(void **state)
{
	struct sg_policy *p = NULL;
	char big_path[300], text[600];
	char *big;
	size_t n = SG_YAML_MAX_FILE + 1, i;
	int len;

	(void)state;
	assert_int_equal(load_fmt(&p, "%s", ""), SG_ERR_POLICY);
	assert_string_equal(why + strlen(ppath), ": file is empty");
	assert_int_equal(load_fmt(&p, "# only a comment\n\n"), SG_ERR_POLICY);
	assert_non_null(strstr(why, "file is empty"));
	assert_int_equal(
	    load_fmt(&p, "version: 1\nclients: []\nkeys: []\nrules: []\n---\nversion: 1\n"),
	    SG_ERR_POLICY);
	assert_why(5, "only one YAML document is allowed");
	assert_int_equal(load_fmt(&p, "version: 1\nclients: [\nkeys: []\n"), SG_ERR_POLICY);
	assert_non_null(strstr(why, "YAML syntax error"));

	/* A valid policy padded with a comment past the cap. */
	len = snprintf(text, sizeof(text), "version: 1\nclients: []\nkeys: []\nrules: []\n#");
	big = malloc(n);
	assert_non_null(big);
	memcpy(big, text, (size_t)len);
	for (i = (size_t)len; i < n - 1; i++)
		big[i] = 'x';
	big[n - 1] = '\n';
	(void)snprintf(big_path, sizeof(big_path), "%s/big.yaml", tmpdir);
	write_file(big_path, big, n);
	assert_int_equal(sg_policy_load(big_path, &p, why, sizeof(why)), SG_ERR_POLICY);
	assert_non_null(strstr(why, "larger than 1048576 bytes"));
	/* One byte less is accepted. */
	big[n - 2] = '\n';
	write_file(big_path, big, n - 1);
	assert_int_equal(sg_policy_load(big_path, &p, why, sizeof(why)), 0);
	sg_policy_free(p);
	p = NULL;
	free(big);

	(void)snprintf(big_path, sizeof(big_path), "%s/missing.yaml", tmpdir);
	assert_int_equal(sg_policy_load(big_path, &p, why, sizeof(why)), SG_ERR_NOT_FOUND);
	assert_null(p);
	assert_int_equal(sg_policy_load(tmpdir, &p, why, sizeof(why)), SG_ERR_IO);
	assert_null(p);
}

static void
test_err_limits(void **state)
{
	struct sg_policy *p = NULL;
	size_t cap = 80 * (SG_POLICY_MAX_KEYS + 2) + 200, len, i;
	char *text = malloc(cap);
	int n;

	(void)state;
	assert_non_null(text);
	len = (size_t)snprintf(text, cap, "version: 1\nclients: []\nrules: []\nkeys:\n");
	for (i = 0; i <= SG_POLICY_MAX_KEYS; i++) {
		n = snprintf(
		    text + len, cap - len,
		    "  - {name: k%zu, uri: \"label:k\", algorithm: ec-p256, purposes: [sign]}\n",
		    i);
		len += (size_t)n;
	}
	write_file(ppath, text, len);
	assert_int_equal(sg_policy_load(ppath, &p, why, sizeof(why)), SG_ERR_POLICY);
	assert_why(4, "field 'keys': too many entries (at most 1024)");
	free(text);

	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    max_inflight: 65537\nkeys: []\nrules: []\n",
	             K[0]),
	    SG_ERR_POLICY);
	assert_why(5, "field 'clients[0].max_inflight': 65537 is out of range");
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    max_inflight: 65536\nkeys: []\nrules: []\n",
	             K[0]),
	    0);
	assert_int_equal(sg_policy_client_max_inflight(sg_policy_client_by_name(p, "a")), 65536);
	sg_policy_free(p);
}

/*
 * CA keys and profile rules.  The line of each field the errors name is in
 * the comment beside it.
 */
#define CA_FMT                                                                                     \
	"version: 1\n"                                                             /* 1 */         \
	"clients:\n"                                                               /* 2 */         \
	"  - {name: ci, curve_public_key: \"%s\", roles: [ci]}\n"                  /* 3 */         \
	"  - {name: ca-server, curve_public_key: \"%s\", roles: [ca]}\n"           /* 4 */         \
	"  - {name: web, http: true}\n"                                            /* 5 */         \
	"keys:\n"                                                                  /* 6 */         \
	"  - name: root\n"                                                         /* 7 */         \
	"    uri: \"label:root\"\n"                                                /* 8 */         \
	"    algorithm: ec-p384\n"                                                 /* 9 */         \
	"    purposes: [%s]\n"                                                     /* 10 */        \
	"    certificate: \"%s\"\n"                                                /* 11 */        \
	"  - {name: int, uri: \"label:int\", algorithm: ec-p384, purposes: [ca], " /* 12 */        \
	"certificate: \"%s\"}\n"                                                                   \
	"  - {name: build, uri: \"label:b\", algorithm: ec-p256, purposes: [sign]}\n" /* 13 */     \
	"  - {name: tsa, uri: \"label:t\", algorithm: ec-p256, purposes: [timestamp], "            \
	"certificate: \"%s\"}\n"                                                    /* 14 */       \
	"rules:\n"                                                                  /* 15 */       \
	"  - roles: [ci]\n"                                                         /* 16 */       \
	"    ops: [cert.issue, cert.status, ca.list]\n"                             /* 17 */       \
	"    profiles: [leaf-tls]\n"                                                /* 18 */       \
	"  - roles: [ca]\n"                                                         /* 19 */       \
	"    ops: [cert.issue, cert.revoke, cert.status, crl.get, ca.list, ping]\n" /* 20 */       \
	"    profiles: [leaf-tls, intermediate-ca, leaf-tls]\n"                     /* 21 */       \
	"  - clients: [ci]\n"                                                       /* 22 */       \
	"    ops: [sign.digest, cert.revoke]\n"                                     /* 23 */       \
	"    keys: [build]\n"                                                       /* 24 */       \
	"    profiles: [%s]\n"                                                      /* 25 */       \
	"  - clients: [web]\n"                                                      /* 26 */       \
	"    ops: [%s]\n"                                                           /* 27 */       \
	"    keys: [tsa]\n"                                                         /* 28 */

/* Loads CA_FMT with the root key's purposes and certificate, the intermediate's
 * certificate file (int_cert and the root), the third rule's profiles and the
 * web client's ops. */
static int
load_ca(struct sg_policy **p, const char *root_purposes, X509 *root_cert, X509 *int_cert,
        const char *ci_profiles, const char *web_ops)
{
	const char *rp = write_pem("ca-root.pem", root_cert, NULL);
	/* The intermediate's chain when the root issued it (a bare certificate otherwise). */
	const char *ip = X509_check_issued(pki.root, int_cert) == X509_V_OK
	                     ? write_pem("ca-int.pem", int_cert, pki.root, NULL)
	                     : write_pem("ca-int.pem", int_cert, NULL);
	const char *tp = write_pem("ca-tsa.pem", pki.tsa, pki.inter, NULL);

	return load_fmt(p, CA_FMT, K[0], K[1], root_purposes, rp, ip, tp, ci_profiles, web_ops);
}

static struct sg_policy *
load_ca_valid(void)
{
	struct sg_policy *p = NULL;

	if (load_ca(&p, "ca", pki.root, pki.inter, "other", "timestamp, ocsp, crl.get") != 0)
		fail_msg("valid CA policy refused: %s", why);
	return p;
}

static void
test_ca_keys(void **state)
{
	struct sg_policy *p = load_ca_valid();
	unsigned ops, hashes;

	(void)state;
	assert_true(sg_policy_key_is_ca(sg_policy_key_by_name(p, "root")));
	assert_true(sg_policy_key_is_ca(sg_policy_key_by_name(p, "int")));
	assert_false(sg_policy_key_is_ca(sg_policy_key_by_name(p, "build")));
	assert_false(sg_policy_key_is_ca(sg_policy_key_by_name(p, "tsa")));
	assert_false(sg_policy_key_is_ca(NULL));
	/* The certificates: the root alone, the intermediate and its root. */
	assert_int_equal(X509_cmp(sg_policy_key_cert(sg_policy_key_by_name(p, "root")), pki.root),
	                 0);
	assert_int_equal(sk_X509_num(sg_policy_key_chain(sg_policy_key_by_name(p, "root"))), 0);
	assert_int_equal(X509_cmp(sg_policy_key_cert(sg_policy_key_by_name(p, "int")), pki.inter),
	                 0);
	assert_int_equal(sk_X509_num(sg_policy_key_chain(sg_policy_key_by_name(p, "int"))), 1);
	/* No key op on a CA key, for anyone. */
	sg_policy_key_grants(p, "ca-server", sg_policy_key_by_name(p, "int"), &ops, &hashes);
	assert_int_equal(ops, 0);
	assert_int_equal(hashes, 0);
	assert_int_equal(
	    sg_policy_check(p, "ca-server", SG_OP_SIGN_DIGEST, "int", SG_HASH_SHA384, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_SIGN_DIGEST, "root", SG_HASH_SHA384, SG_PAD_NONE),
	    SG_ERR_DENIED);
	sg_policy_free(p);
	/* A key without keyUsage in its CA certificate is a CA all the same. */
	assert_int_equal(load_ca(&p, "ca", pki.root, pki.ca_noku, "other", "timestamp"), 0);
	assert_true(sg_policy_key_is_ca(sg_policy_key_by_name(p, "int")));
	sg_policy_free(p);
}

static void
test_err_ca_keys(void **state)
{
	struct sg_policy *p = (void *)1;

	(void)state;
	/* 'ca' is a purpose of its own, like 'timestamp'. */
	assert_int_equal(load_ca(&p, "ca, sign", pki.root, pki.inter, "other", "timestamp"),
	                 SG_ERR_POLICY);
	assert_null(p);
	assert_why(10, "field 'keys[0].purposes': purpose 'ca' cannot be combined with another");
	assert_int_equal(load_ca(&p, "timestamp, ca", pki.root, pki.inter, "other", "timestamp"),
	                 SG_ERR_POLICY);
	assert_why(10, "field 'keys[0].purposes': purpose 'timestamp' cannot be combined");
	assert_int_equal(load_ca(&p, "cert", pki.root, pki.inter, "other", "timestamp"),
	                 SG_ERR_POLICY);
	assert_why(10, "field 'keys[0].purposes[0]': unknown purpose 'cert' (expected sign, "
	               "timestamp or ca)");
	/* The certificate must be a CA's that may sign certificates and CRLs. */
	assert_int_equal(load_ca(&p, "ca", pki.root, pki.leaf_p384, "other", "timestamp"),
	                 SG_ERR_POLICY);
	assert_why(12, "field 'keys[1].certificate': the certificate of a key with purpose 'ca' "
	               "has no basicConstraints CA:TRUE");
	assert_int_equal(load_ca(&p, "ca", pki.root, pki.ca_nokusign, "other", "timestamp"),
	                 SG_ERR_POLICY);
	assert_why(12, "field 'keys[1].certificate': the certificate of a key with purpose 'ca' "
	               "has a keyUsage without keyCertSign and cRLSign");
	assert_int_equal(load_ca(&p, "ca", pki.root, pki.ca_nocrlsign, "other", "timestamp"),
	                 SG_ERR_POLICY);
	assert_why(12, "field 'keys[1].certificate': the certificate of a key with purpose 'ca' "
	               "has a keyUsage without keyCertSign and cRLSign");
	/* A CA key needs a certificate. */
	assert_int_equal(
	    load_fmt(&p, "version: 1\nclients: []\nkeys:\n"
	                 "  - {name: k, uri: \"label:k\", algorithm: ec-p384, purposes: [ca]}\n"
	                 "rules: []\n"),
	    SG_ERR_POLICY);
	assert_why(4, "field 'keys[0].certificate': required for a key with purpose 'ca'");
	/* ... of its algorithm. */
	assert_int_equal(load_ca(&p, "ca", pki.root, pki.leaf_ec, "other", "timestamp"),
	                 SG_ERR_POLICY);
	assert_why(12, "field 'keys[1].certificate': ");
	if (strstr(why, "the certificate's public key is ec-p256, but the key's algorithm is "
	                "ec-p384") == NULL)
		fail_msg("why: %s", why);
	/* No rule can grant a key op on a CA key. */
	assert_int_equal(
	    load_fmt(&p,
	             "version: 1\n" CLIENT_A "keys:\n"
	             "  - {name: k, uri: \"label:k\", algorithm: ec-p384, purposes: [ca], "
	             "certificate: \"%s\"}\n"
	             "rules:\n  - {clients: [a], ops: [sign.cms], keys: [k]}\n",
	             K[0], write_pem("ca-k.pem", pki.root, NULL)),
	    SG_ERR_POLICY);
	assert_why(8, "field 'rules[0].keys[0]': key 'k' lacks purpose 'sign' needed by sign.cms");
	assert_null(p);
}

static void
test_profile_ops(void **state)
{
	struct sg_policy *p = load_ca_valid();
	const unsigned issue = 1u << SG_OP_CERT_ISSUE, revoke = 1u << SG_OP_CERT_REVOKE,
	               status = 1u << SG_OP_CERT_STATUS;

	(void)state;
	/* The profile names the rules give, sorted, each once. */
	assert_int_equal(sg_policy_profile_count(p), 3);
	assert_string_equal(sg_policy_profile_at(p, 0), "intermediate-ca");
	assert_string_equal(sg_policy_profile_at(p, 1), "leaf-tls");
	assert_string_equal(sg_policy_profile_at(p, 2), "other");
	assert_null(sg_policy_profile_at(p, 3));
	/* ci: issue and status with leaf-tls; revoke with 'other' (rule 3). */
	assert_int_equal(sg_policy_check_profile(p, "ci", SG_OP_CERT_ISSUE, "leaf-tls"), 0);
	assert_int_equal(sg_policy_check_profile(p, "ci", SG_OP_CERT_STATUS, "leaf-tls"), 0);
	assert_int_equal(sg_policy_check_profile(p, "ci", SG_OP_CERT_REVOKE, "leaf-tls"),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check_profile(p, "ci", SG_OP_CERT_ISSUE, "intermediate-ca"),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check_profile(p, "ci", SG_OP_CERT_REVOKE, "other"), 0);
	assert_int_equal(sg_policy_check_profile(p, "ci", SG_OP_CERT_ISSUE, "other"),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_profile_ops(p, "ci", "leaf-tls"), issue | status);
	assert_int_equal(sg_policy_profile_ops(p, "ci", "other"), revoke);
	assert_int_equal(sg_policy_profile_ops(p, "ci", "intermediate-ca"), 0);
	/* ca-server: all three with both profiles. */
	assert_int_equal(sg_policy_profile_ops(p, "ca-server", "leaf-tls"),
	                 issue | revoke | status);
	assert_int_equal(sg_policy_profile_ops(p, "ca-server", "intermediate-ca"),
	                 issue | revoke | status);
	assert_int_equal(
	    sg_policy_check_profile(p, "ca-server", SG_OP_CERT_REVOKE, "intermediate-ca"), 0);
	assert_int_equal(sg_policy_profile_ops(p, "ca-server", "other"), 0);
	/* Profile names are case-sensitive, unknown ones denied. */
	assert_int_equal(sg_policy_check_profile(p, "ca-server", SG_OP_CERT_ISSUE, "Leaf-tls"),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check_profile(p, "ca-server", SG_OP_CERT_ISSUE, "nope"),
	                 SG_ERR_DENIED);
	/* Not a profile op, no profile, unknown client. */
	assert_int_equal(sg_policy_check_profile(p, "ca-server", SG_OP_CRL_GET, "leaf-tls"),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check_profile(p, "ca-server", SG_OP_SIGN_DIGEST, "leaf-tls"),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check_profile(p, "ca-server", SG_OP_NONE, "leaf-tls"),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check_profile(p, "ca-server", SG_OP_COUNT, "leaf-tls"),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check_profile(p, "ca-server", SG_OP_CERT_ISSUE, NULL),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check_profile(p, "nobody", SG_OP_CERT_ISSUE, "leaf-tls"),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_profile_ops(p, "nobody", "leaf-tls"), 0);
	assert_int_equal(sg_policy_profile_ops(p, "ci", NULL), 0);
	/* sg_policy_check takes the profile in place of the key. */
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_CERT_ISSUE, "leaf-tls", SG_HASH_NONE, SG_PAD_NONE), 0);
	assert_int_equal(sg_policy_check(p, "ci", SG_OP_CERT_ISSUE, "intermediate-ca", SG_HASH_NONE,
	                                 SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "ci", SG_OP_CERT_ISSUE, NULL, SG_HASH_NONE, SG_PAD_NONE),
	    SG_ERR_DENIED);
	/* The keyless CA ops. */
	assert_int_equal(
	    sg_policy_check(p, "ca-server", SG_OP_CRL_GET, NULL, SG_HASH_NONE, SG_PAD_NONE), 0);
	assert_int_equal(
	    sg_policy_check(p, "ca-server", SG_OP_CA_LIST, NULL, SG_HASH_NONE, SG_PAD_NONE), 0);
	assert_int_equal(sg_policy_check(p, "ci", SG_OP_CA_LIST, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 0);
	assert_int_equal(sg_policy_check(p, "ci", SG_OP_CRL_GET, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "ci", SG_OP_OCSP, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	/* The HTTP client: OCSP and CRLs beside time-stamps. */
	assert_int_equal(sg_policy_check(p, "web", SG_OP_OCSP, NULL, SG_HASH_NONE, SG_PAD_NONE), 0);
	assert_int_equal(sg_policy_check(p, "web", SG_OP_CRL_GET, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 0);
	/* Every op of a client, whatever the key or profile. */
	assert_int_equal(sg_policy_client_ops(p, "ci"), issue | status | (1u << SG_OP_CA_LIST) |
	                                                    revoke | (1u << SG_OP_SIGN_DIGEST));
	assert_int_equal(sg_policy_client_ops(p, "ca-server"),
	                 issue | revoke | status | (1u << SG_OP_CRL_GET) | (1u << SG_OP_CA_LIST) |
	                     (1u << SG_OP_PING));
	assert_int_equal(sg_policy_client_ops(p, "web"),
	                 (1u << SG_OP_TIMESTAMP) | (1u << SG_OP_OCSP) | (1u << SG_OP_CRL_GET));
	assert_int_equal(sg_policy_client_ops(p, "nobody"), 0);
	sg_policy_free(p);
	/* A policy without profile rules names no profile. */
	p = load_valid();
	assert_int_equal(sg_policy_profile_count(p), 0);
	assert_null(sg_policy_profile_at(p, 0));
	sg_policy_free(p);
}

static void
test_err_profile_rules(void **state)
{
	struct sg_policy *p = (void *)1;

	(void)state;
	/* The HTTP client may have ocsp and crl.get, nothing else of the CA ops. */
	assert_int_equal(load_ca(&p, "ca", pki.root, pki.inter, "other", "timestamp, ca.list"),
	                 SG_ERR_POLICY);
	assert_null(p);
	assert_why(27, "field 'rules[3].ops': grants ca.list to the HTTP client 'web', which can "
	               "only be granted timestamp, ocsp and crl.get");
	/* A profile name is a name. */
	assert_int_equal(load_ca(&p, "ca", pki.root, pki.inter, "\"a b\"", "timestamp"),
	                 SG_ERR_POLICY);
	assert_why(25, "field 'rules[2].profiles[0]': invalid profile name 'a b'");
	/* profiles iff a profile op. */
	assert_int_equal(load_fmt(&p,
	                          "version: 1\n" CLIENT_A "keys: []\nrules:\n  - clients: [a]\n"
	                          "    ops: [cert.issue]\n",
	                          K[0]),
	                 SG_ERR_POLICY);
	assert_why(7, "field 'rules[0].profiles': required when 'ops' has an op on a profile "
	              "(cert.issue, cert.revoke, cert.status)");
	assert_int_equal(load_fmt(&p,
	                          "version: 1\n" CLIENT_A "keys: []\nrules:\n  - clients: [a]\n"
	                          "    ops: [crl.get, ca.list]\n    profiles: [x]\n",
	                          K[0]),
	                 SG_ERR_POLICY);
	assert_why(9, "field 'rules[0].profiles': only allowed when 'ops' has an op on a profile");
	assert_int_equal(load_fmt(&p,
	                          "version: 1\n" CLIENT_A "keys: []\nrules:\n  - clients: [a]\n"
	                          "    ops: [cert.status]\n    profiles: []\n",
	                          K[0]),
	                 SG_ERR_POLICY);
	assert_why(9, "field 'rules[0].profiles': ");
	/* The CA ops other than the profile ops name no key. */
	assert_int_equal(load_fmt(&p,
	                          "version: 1\n" CLIENT_A "keys: []\nrules:\n  - clients: [a]\n"
	                          "    ops: [cert.issue]\n    profiles: [x]\n    keys: [k]\n",
	                          K[0]),
	                 SG_ERR_POLICY);
	assert_why(10, "field 'rules[0].keys': only allowed when 'ops' has an op on a key");
	assert_int_equal(load_fmt(&p,
	                          "version: 1\n" CLIENT_A "keys: []\nrules:\n  - clients: [a]\n"
	                          "    ops: [crl.get]\n    hashes: [sha256]\n",
	                          K[0]),
	                 SG_ERR_POLICY);
	assert_why(9, "field 'rules[0].hashes': only allowed when 'ops' has an op on a key");
	assert_null(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_accessors),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_check_padding),
	    cmocka_unit_test(test_key_grants),
	    cmocka_unit_test(test_role_and_name_union),
	    cmocka_unit_test(test_example_policy_loads),
	    cmocka_unit_test(test_err_unknown_field),
	    cmocka_unit_test(test_err_duplicate_key),
	    cmocka_unit_test(test_err_alias_anchor),
	    cmocka_unit_test(test_err_wrong_type),
	    cmocka_unit_test(test_err_missing_field),
	    cmocka_unit_test(test_err_bad_z85),
	    cmocka_unit_test(test_err_duplicate_client),
	    cmocka_unit_test(test_err_keys),
	    cmocka_unit_test(test_err_rules),
	    cmocka_unit_test(test_err_version),
	    cmocka_unit_test(test_err_file),
	    cmocka_unit_test(test_err_limits),
	    cmocka_unit_test(test_cert_load),
	    cmocka_unit_test(test_cert_err_file),
	    cmocka_unit_test(test_cert_err_pem),
	    cmocka_unit_test(test_cert_err_chain),
	    cmocka_unit_test(test_cert_err_tsa),
	    cmocka_unit_test(test_ops_check),
	    cmocka_unit_test(test_ops_grants),
	    cmocka_unit_test(test_http_client),
	    cmocka_unit_test(test_err_http_client),
	    cmocka_unit_test(test_err_ops_rules),
	    cmocka_unit_test(test_ca_keys),
	    cmocka_unit_test(test_err_ca_keys),
	    cmocka_unit_test(test_profile_ops),
	    cmocka_unit_test(test_err_profile_rules),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
