/*
 * Unit tests of sg_signer against a real SoftHSMv2 token in a temporary
 * directory (tests/lib/mktoken.sh).  Every signature is checked with
 * OpenSSL from the public key the signer returned, independently of the
 * signer's own self-verification.
 *
 * One signer at a time: libp11 finalizes the module when a context is
 * unloaded, so each test opens and closes its own.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
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
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <p11-kit-1/p11-kit/pkcs11.h>
#include <zmq.h>

#include "sg_err.h"
#include "sg_log.h"
#include "sg_signer.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define TOKEN "signet-test"
#define PIN "123456"
#define WORKERS 4

static char g_dir[] = "/tmp/sg_signer_test.XXXXXX";
static char g_allow[512];
static struct sg_secret *g_pin;

enum { K_EC256, K_EC384, K_RSA2048, K_RSA3072, K_N };

static const struct {
	const char *name;
	const char *uri;
	enum sg_keyalg alg;
} g_keys[K_N] = {
    {"ec256", "label:ec256", SG_KEYALG_EC_P256},
    {"ec384", "pkcs11:token=signet-test;object=ec384;type=private", SG_KEYALG_EC_P384},
    {"rsa2048", "pkcs11:id=%03", SG_KEYALG_RSA_2048},
    {"rsa3072", "pkcs11:token=signet-test;manufacturer=SoftHSM%20project;id=%04",
     SG_KEYALG_RSA_3072},
};

struct fix {
	struct sg_signer *s;
	EVP_PKEY *pub[K_N]; /* from the signer's statuses, parsed by the test */
};

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int
group_setup(void **state)
{
	char cmd[1024], conf[600];
	FILE *p;

	(void)state;
	sg_log_init("sg_signer_test", SG_LOG_WARN, 0);
	if (mkdtemp(g_dir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/tests/lib/mktoken.sh %s", SG_SOURCE_DIR, g_dir);
	if ((p = popen(cmd, "r")) == NULL || fgets(conf, sizeof(conf), p) == NULL) {
		if (p != NULL)
			pclose(p);
		return -1;
	}
	if (pclose(p) != 0)
		return -1;
	conf[strcspn(conf, "\n")] = '\0';
	setenv("SOFTHSM2_CONF", conf, 1);
	snprintf(g_allow, sizeof(g_allow), "%s/modules.allow", g_dir);
	write_file(g_allow, "# test allowlist\n\n  " MODULE "  # softhsm\n", 0600);
	g_pin = sg_secret_new(64);
	if (g_pin == NULL || sg_secret_set(g_pin, PIN, strlen(PIN)) != 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[600];

	(void)state;
	sg_secret_free(g_pin);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct sg_signer_config
cfg_default(void)
{
	struct sg_signer_config c = {MODULE, g_allow, TOKEN, NULL, WORKERS};

	c.pin = g_pin;
	return c;
}

static void
spec(struct sg_hsm_keyspec *k, const char *name, const char *uri, enum sg_keyalg alg, int sv)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	snprintf(k->uri, sizeof(k->uri), "%s", uri);
	k->alg = alg;
	k->self_verify = sv;
}

static EVP_PKEY *
parse_pub(const struct sg_hsm_key_status *st)
{
	const unsigned char *p = st->pub;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)st->pub_len);

	assert_non_null(k);
	assert_ptr_equal(p, st->pub + st->pub_len);
	return k;
}

/* Opens a signer with the four good keys. */
static int
fix_setup(void **state)
{
	struct sg_signer_config c = cfg_default();
	struct sg_hsm_keyspec specs[K_N];
	struct sg_hsm_key_status st[K_N];
	struct fix *f = calloc(1, sizeof(*f));
	char why[256];
	int i;

	if (f == NULL || sg_signer_open(&c, &f->s, why, sizeof(why)) != 0) {
		fprintf(stderr, "open: %s\n", why);
		free(f);
		return -1;
	}
	for (i = 0; i < K_N; i++)
		spec(&specs[i], g_keys[i].name, g_keys[i].uri, g_keys[i].alg, 1);
	if (sg_signer_set_keys(f->s, specs, K_N, st) != 0)
		return -1;
	for (i = 0; i < K_N; i++) {
		if (st[i].err != 0)
			return -1;
		f->pub[i] = parse_pub(&st[i]);
	}
	*state = f;
	return 0;
}

static int
fix_teardown(void **state)
{
	struct fix *f = *state;
	int i;

	sg_signer_close(f->s);
	for (i = 0; i < K_N; i++)
		EVP_PKEY_free(f->pub[i]);
	free(f);
	return 0;
}

/* Independent verification with OpenSSL: 1 valid, 0 not. */
static int
ossl_verify(EVP_PKEY *pub, enum sg_hash hash, enum sg_pad pad, const unsigned char *dg, size_t dlen,
            const unsigned char *sig, size_t slen)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pub, NULL);
	const EVP_MD *md = sg_hash_md(hash);
	int ok;

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_verify_init(c), 1);
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) {
		if (pad == SG_PAD_PSS) {
			assert_true(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) > 0);
			assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(c, (int)sg_hash_len(hash)) >
			            0);
			assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(c, md) > 0);
		} else {
			assert_true(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) > 0);
		}
	}
	assert_true(EVP_PKEY_CTX_set_signature_md(c, md) > 0);
	ok = EVP_PKEY_verify(c, sig, slen, dg, dlen) == 1;
	EVP_PKEY_CTX_free(c);
	return ok;
}

static void
mkreq(struct sg_hsm_sign_req *req, uint64_t seq, const char *key, enum sg_hash h, enum sg_pad p)
{
	memset(req, 0, sizeof(*req));
	req->seq = seq;
	snprintf(req->key, sizeof(req->key), "%s", key);
	req->hash = h;
	req->pad = p;
	req->digest_len = sg_hash_len(h) ? sg_hash_len(h) : 32;
	assert_int_equal(RAND_bytes(req->digest, (int)req->digest_len), 1);
}

/* Number of sessions SoftHSM has open in this process (its handles are small integers). */
static int
softhsm_sessions(void)
{
	void *h = dlopen(MODULE, RTLD_NOW | RTLD_NOLOAD);
	CK_C_GetFunctionList gfl;
	CK_FUNCTION_LIST_PTR fl;
	CK_SESSION_INFO si;
	CK_SESSION_HANDLE sh;
	int n = 0;

	assert_non_null(h);
	*(void **)(&gfl) = dlsym(h, "C_GetFunctionList");
	assert_non_null(gfl);
	assert_int_equal(gfl(&fl), CKR_OK);
	for (sh = 1; sh <= 512; sh++)
		if (fl->C_GetSessionInfo(sh, &si) == CKR_OK)
			n++;
	dlclose(h);
	return n;
}

/* ---- open ------------------------------------------------------------ */

static void
test_open_errors(void **state)
{
	struct sg_signer_config c = cfg_default();
	struct sg_signer *s = NULL;
	struct sg_secret *bad;
	char why[256], path[600];

	(void)state;
	/* module not listed (the list names other modules, one not installed) */
	snprintf(path, sizeof(path), "%s/other.allow", g_dir);
	write_file(path,
	           "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so\n/opt/none/libx.so\n"
	           "#" MODULE "\n/usr/lib/softhsm/libsofthsm2.so.bak\n",
	           0600);
	c.allowlist = path;
	assert_int_equal(sg_signer_open(&c, &s, why, sizeof(why)), SG_ERR_MODULE_NOT_ALLOWED);
	assert_null(s);
	assert_non_null(strstr(why, "not listed"));
	/* a relative module path, a missing allowlist */
	c = cfg_default();
	c.module = "libsofthsm2.so";
	assert_int_equal(sg_signer_open(&c, &s, why, sizeof(why)), SG_ERR_MODULE_NOT_ALLOWED);
	c = cfg_default();
	snprintf(path, sizeof(path), "%s/missing.allow", g_dir);
	c.allowlist = path;
	assert_int_equal(sg_signer_open(&c, &s, why, sizeof(why)), SG_ERR_MODULE_NOT_ALLOWED);
	/* the allowlist writable by others */
	snprintf(path, sizeof(path), "%s/loose.allow", g_dir);
	write_file(path, MODULE "\n", 0666);
	c.allowlist = path;
	assert_int_equal(sg_signer_open(&c, &s, why, sizeof(why)), SG_ERR_PERM);
	/* listed through another path of the same file (symlink resolved both ways) */
	snprintf(path, sizeof(path), "%s/real.allow", g_dir);
	write_file(path, "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so\n", 0600);
	c.allowlist = path;
	assert_int_equal(sg_signer_open(&c, &s, why, sizeof(why)), 0);
	sg_signer_close(s);
	s = NULL;

	/* token labels: unknown, a prefix of the real one, the real one plus a suffix */
	c = cfg_default();
	c.token_label = "nope";
	assert_int_equal(sg_signer_open(&c, &s, why, sizeof(why)), SG_ERR_NOT_FOUND);
	c.token_label = "signet-te";
	assert_int_equal(sg_signer_open(&c, &s, why, sizeof(why)), SG_ERR_NOT_FOUND);
	c.token_label = "signet-test-";
	assert_int_equal(sg_signer_open(&c, &s, why, sizeof(why)), SG_ERR_NOT_FOUND);
	assert_null(s);

	/* wrong PIN; the PIN is in no message */
	bad = sg_secret_new(16);
	assert_non_null(bad);
	assert_int_equal(sg_secret_set(bad, "999999", 6), 0);
	c = cfg_default();
	c.pin = bad;
	assert_int_equal(sg_signer_open(&c, &s, why, sizeof(why)), SG_ERR_LOGIN);
	assert_null(strstr(why, "999999"));
	assert_null(s);
	sg_secret_free(bad);

	/* workers out of range */
	c = cfg_default();
	c.workers = 0;
	assert_int_equal(sg_signer_open(&c, &s, why, sizeof(why)), SG_ERR_INVALID_ARG);
	c.workers = 65;
	assert_int_equal(sg_signer_open(&c, &s, why, sizeof(why)), SG_ERR_INVALID_ARG);
	sg_signer_close(NULL);
}

/* ---- key inventory --------------------------------------------------- */

static void
test_set_keys_statuses(void **state)
{
	struct fix *f = *state;
	struct sg_hsm_keyspec sp[14];
	struct sg_hsm_key_status st[14];
	struct sg_hsm_sign_req req;
	struct sg_hsm_sign_rep rep;
	EVP_PKEY *k;
	int i;

	spec(&sp[0], "ec256", "label:ec256", SG_KEYALG_EC_P256, 0);
	spec(&sp[1], "rsa", "pkcs11:object=rsa2048;id=%03;type=private", SG_KEYALG_RSA_2048, 0);
	spec(&sp[2], "missing", "label:nope", SG_KEYALG_EC_P256, 1);
	spec(&sp[3], "not-rsa", "label:ec256", SG_KEYALG_RSA_2048, 1);
	spec(&sp[4], "wrong-curve", "label:ec256", SG_KEYALG_EC_P384, 1);
	spec(&sp[5], "wrong-size", "pkcs11:id=%03", SG_KEYALG_RSA_3072, 1);
	spec(&sp[6], "other-token", "pkcs11:token=signet-test-other;object=ec256",
	     SG_KEYALG_EC_P256, 1);
	spec(&sp[7], "prefix-token", "pkcs11:token=signet-te;object=ec256", SG_KEYALG_EC_P256, 1);
	spec(&sp[8], "pin", "pkcs11:object=ec256?pin-value=123456", SG_KEYALG_EC_P256, 1);
	spec(&sp[9], "ec256", "label:ec384", SG_KEYALG_EC_P384, 1);
	spec(&sp[10], "no-object", "pkcs11:token=signet-test", SG_KEYALG_EC_P256, 1);
	spec(&sp[11], "pubtype", "pkcs11:object=ec256;type=public", SG_KEYALG_EC_P256, 1);
	spec(&sp[12], "bad-alg", "label:ec256", (enum sg_keyalg)9, 1);
	spec(&sp[13], "wrong-id", "pkcs11:object=ec256;id=%02", SG_KEYALG_EC_P256, 1);
	assert_int_equal(sg_signer_set_keys(f->s, sp, 14, st), 0);
	assert_int_equal(st[0].err, 0);
	assert_int_equal(st[1].err, 0);
	assert_int_equal(st[2].err, SG_ERR_NOT_FOUND);
	assert_int_equal(st[3].err, SG_ERR_CONFIG);
	assert_int_equal(st[4].err, SG_ERR_CONFIG);
	assert_int_equal(st[5].err, SG_ERR_CONFIG);
	assert_int_equal(st[6].err, SG_ERR_NOT_FOUND);
	assert_int_equal(st[7].err, SG_ERR_NOT_FOUND);
	assert_int_equal(st[8].err, SG_ERR_DENIED);
	assert_int_equal(st[9].err, SG_ERR_DUPLICATE_FIELD);
	assert_int_equal(st[10].err, SG_ERR_INVALID_ARG);
	assert_int_equal(st[11].err, SG_ERR_INVALID_ARG);
	assert_int_equal(st[12].err, SG_ERR_CONFIG);
	assert_int_equal(st[13].err, SG_ERR_NOT_FOUND);
	for (i = 0; i < 14; i++) {
		assert_string_equal(st[i].name, sp[i].name);
		assert_int_equal(st[i].alg, sp[i].alg);
		if (st[i].err != 0)
			assert_int_equal(st[i].pub_len, 0);
	}
	/* the public keys are the token's: P-256 and a 2048-bit RSA key */
	k = parse_pub(&st[0]);
	assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_bits(k), 256);
	assert_true(EVP_PKEY_eq(k, f->pub[K_EC256]) == 1);
	EVP_PKEY_free(k);
	k = parse_pub(&st[1]);
	assert_int_equal(EVP_PKEY_get_bits(k), 2048);
	assert_true(EVP_PKEY_eq(k, f->pub[K_RSA2048]) == 1);
	EVP_PKEY_free(k);

	/* the inventory is exactly the usable keys */
	mkreq(&req, 1, "rsa", SG_HASH_SHA256, SG_PAD_PKCS1);
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), 0);
	assert_true(ossl_verify(f->pub[K_RSA2048], req.hash, req.pad, req.digest, req.digest_len,
	                        rep.sig, rep.sig_len));
	mkreq(&req, 2, "missing", SG_HASH_SHA256, SG_PAD_NONE);
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), SG_ERR_UNKNOWN_KEY);
	mkreq(&req, 3, "rsa2048", SG_HASH_SHA256, SG_PAD_NONE); /* from the old inventory */
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), SG_ERR_UNKNOWN_KEY);

	/* an empty inventory */
	assert_int_equal(sg_signer_set_keys(f->s, NULL, 0, NULL), 0);
	mkreq(&req, 4, "rsa", SG_HASH_SHA256, SG_PAD_PKCS1);
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), SG_ERR_UNKNOWN_KEY);
	assert_int_equal(sg_signer_set_keys(f->s, sp, SG_MAX_KEYS + 1, st), SG_ERR_INVALID_ARG);
}

/* ---- signing --------------------------------------------------------- */

static void
test_sign_every_key(void **state)
{
	struct fix *f = *state;
	static const enum sg_hash hashes[] = {SG_HASH_SHA256, SG_HASH_SHA384, SG_HASH_SHA512};
	static const enum sg_pad rsa_pads[] = {SG_PAD_NONE, SG_PAD_PKCS1, SG_PAD_PSS};
	struct sg_hsm_sign_req req;
	struct sg_hsm_sign_rep rep;
	const unsigned char *p;
	ECDSA_SIG *es;
	uint64_t seq = 100;
	size_t h, pi, npads;
	int k, count = 0;

	for (k = 0; k < K_N; k++) {
		int rsa = sg_keyalg_is_rsa(g_keys[k].alg);

		npads = rsa ? 3 : 1;
		for (h = 0; h < 3; h++) {
			for (pi = 0; pi < npads; pi++) {
				enum sg_pad pad = rsa ? rsa_pads[pi] : SG_PAD_NONE;

				mkreq(&req, seq, g_keys[k].name, hashes[h], pad);
				memset(&rep, 0xee, sizeof(rep));
				assert_int_equal(sg_signer_sign(f->s, &req, &rep), 0);
				assert_int_equal(rep.err, 0);
				assert_true(rep.seq == seq);
				seq++;
				if (rsa) {
					assert_int_equal(rep.sig_len,
					                 (size_t)EVP_PKEY_get_size(f->pub[k]));
				} else {
					/* DER ECDSA-Sig-Value, nothing after it */
					p = rep.sig;
					es = d2i_ECDSA_SIG(NULL, &p, (long)rep.sig_len);
					assert_non_null(es);
					assert_ptr_equal(p, rep.sig + rep.sig_len);
					ECDSA_SIG_free(es);
					assert_true(rep.sig_len <=
					            sg_keyalg_sig_max(g_keys[k].alg));
				}
				assert_true(ossl_verify(f->pub[k], req.hash, pad, req.digest,
				                        req.digest_len, rep.sig, rep.sig_len));
				/* the check can fail: another digest does not verify */
				req.digest[0] ^= 1;
				assert_false(ossl_verify(f->pub[k], req.hash, pad, req.digest,
				                         req.digest_len, rep.sig, rep.sig_len));
				/* and PSS is not PKCS#1 v1.5 */
				if (rsa)
					assert_false(ossl_verify(
					    f->pub[k], req.hash,
					    pad == SG_PAD_PSS ? SG_PAD_PKCS1 : SG_PAD_PSS,
					    req.digest, req.digest_len, rep.sig, rep.sig_len));
				count++;
			}
		}
	}
	assert_int_equal(count, 2 * 3 + 2 * 9);
}

static void
test_sign_errors(void **state)
{
	struct fix *f = *state;
	struct sg_hsm_sign_req req;
	struct sg_hsm_sign_rep rep;

	mkreq(&req, 7, "ec256", SG_HASH_SHA256, SG_PAD_NONE);
	req.digest_len = 31;
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), SG_ERR_DIGEST_LENGTH);
	assert_int_equal(rep.err, SG_ERR_DIGEST_LENGTH);
	assert_int_equal(rep.seq, 7);
	assert_int_equal(rep.sig_len, 0);
	req.digest_len = 48; /* a SHA-384 length with SHA-256 */
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), SG_ERR_DIGEST_LENGTH);
	mkreq(&req, 8, "ec384", SG_HASH_SHA384, SG_PAD_NONE);
	req.digest_len = 64;
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), SG_ERR_DIGEST_LENGTH);

	mkreq(&req, 9, "nokey", SG_HASH_SHA256, SG_PAD_NONE);
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), SG_ERR_UNKNOWN_KEY);
	assert_int_equal(rep.sig_len, 0);

	mkreq(&req, 10, "ec256", SG_HASH_SHA256, SG_PAD_PSS);
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), SG_ERR_BAD_PADDING);
	mkreq(&req, 11, "ec384", SG_HASH_SHA384, SG_PAD_PKCS1);
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), SG_ERR_BAD_PADDING);
	mkreq(&req, 12, "rsa2048", SG_HASH_SHA256, (enum sg_pad)3);
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), SG_ERR_BAD_PADDING);

	mkreq(&req, 13, "rsa2048", SG_HASH_NONE, SG_PAD_PKCS1);
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), SG_ERR_UNKNOWN_HASH);
	mkreq(&req, 14, "rsa2048", (enum sg_hash)4, SG_PAD_PKCS1);
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), SG_ERR_UNKNOWN_HASH);
	assert_int_equal(rep.seq, 14);
}

/* A token whose public key object does not match the private key. */
static void
test_self_verify(void **state)
{
	struct fix *f = *state;
	struct sg_hsm_keyspec sp[2];
	struct sg_hsm_key_status st[2];
	struct sg_hsm_sign_req req;
	struct sg_hsm_sign_rep rep;
	EVP_PKEY *wrong;

	spec(&sp[0], "bad-checked", "pkcs11:id=%05", SG_KEYALG_EC_P256, 1);
	spec(&sp[1], "bad-unchecked", "label:ecbad", SG_KEYALG_EC_P256, 0);
	assert_int_equal(sg_signer_set_keys(f->s, sp, 2, st), 0);
	assert_int_equal(st[0].err, 0);
	assert_int_equal(st[1].err, 0);
	wrong = parse_pub(&st[0]);

	mkreq(&req, 20, "bad-checked", SG_HASH_SHA256, SG_PAD_NONE);
	memset(rep.sig, 0, sizeof(rep.sig));
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), SG_ERR_SELF_VERIFY);
	assert_int_equal(rep.sig_len, 0);

	/* with self-verification off (EC only), the token's signature is released:
	 * and it indeed does not verify with the public key the token shows */
	mkreq(&req, 21, "bad-unchecked", SG_HASH_SHA256, SG_PAD_NONE);
	assert_int_equal(sg_signer_sign(f->s, &req, &rep), 0);
	assert_true(rep.sig_len > 0);
	assert_false(ossl_verify(wrong, req.hash, req.pad, req.digest, req.digest_len, rep.sig,
	                         rep.sig_len));
	EVP_PKEY_free(wrong);
}

/* ---- concurrency ----------------------------------------------------- */

struct sign_thread {
	struct fix *f;
	pthread_barrier_t *go;
	int id;
	int ok;
};

#define PER_THREAD 24

static void *
sign_thread_main(void *arg)
{
	struct sign_thread *t = arg;
	struct sg_hsm_sign_req req;
	struct sg_hsm_sign_rep rep;
	int i, k;

	pthread_barrier_wait(t->go);
	for (i = 0; i < PER_THREAD; i++) {
		k = (i + t->id) % 2 == 0 ? K_RSA2048 : K_EC256;
		memset(&req, 0, sizeof(req));
		req.seq = (uint64_t)t->id << 32 | (uint64_t)i;
		strcpy(req.key, g_keys[k].name);
		req.hash = SG_HASH_SHA256;
		req.pad = k == K_RSA2048 ? SG_PAD_PSS : SG_PAD_NONE;
		req.digest_len = 32;
		RAND_bytes(req.digest, 32);
		if (sg_signer_sign(t->f->s, &req, &rep) != 0 || rep.seq != req.seq ||
		    !ossl_verify(t->f->pub[k], req.hash, req.pad, req.digest, req.digest_len,
		                 rep.sig, rep.sig_len))
			return NULL;
	}
	t->ok = 1;
	return NULL;
}

static void
test_concurrent(void **state)
{
	struct fix *f = *state;
	pthread_t tid[WORKERS];
	struct sign_thread th[WORKERS];
	struct sg_hsm_keyspec specs[K_N];
	struct sg_hsm_key_status st[K_N];
	pthread_barrier_t go;
	int i, swaps, sessions;

	assert_int_equal(pthread_barrier_init(&go, NULL, WORKERS + 1), 0);
	for (i = 0; i < WORKERS; i++) {
		th[i] = (struct sign_thread){f, &go, i, 0};
		assert_int_equal(pthread_create(&tid[i], NULL, sign_thread_main, &th[i]), 0);
	}
	pthread_barrier_wait(&go);
	/* replace the inventory (same keys) while signatures are in flight */
	for (i = 0; i < K_N; i++)
		spec(&specs[i], g_keys[i].name, g_keys[i].uri, g_keys[i].alg, 1);
	for (swaps = 0; swaps < 3; swaps++) {
		assert_int_equal(sg_signer_set_keys(f->s, specs, K_N, st), 0);
		for (i = 0; i < K_N; i++)
			assert_int_equal(st[i].err, 0);
	}
	for (i = 0; i < WORKERS; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(th[i].ok, 1);
	}
	pthread_barrier_destroy(&go);
	/* libp11 opens a new session only when every pooled one is checked out,
	 * so more than one session means signatures ran at the same time, each
	 * on its own session; libp11 0.4.12 stops at 16 per slot. */
	sessions = softhsm_sessions();
	print_message("sessions after %d concurrent signers: %d\n", WORKERS, sessions);
	assert_true(sessions >= 2);
	assert_true(sessions <= WORKERS + 1);
}

/* ---- service over inproc ZeroMQ --------------------------------------- */

static void
zsend(void *sock, const msgpack_sbuffer *sb)
{
	assert_int_equal(zmq_send(sock, sb->data, sb->size, 0), (int)sb->size);
}

static int
zrecv(void *sock, unsigned char *buf, size_t cap)
{
	int n = zmq_recv(sock, buf, cap, 0);

	assert_true(n >= 0);
	assert_true((size_t)n <= cap);
	return n;
}

#define NREQ 40

static void
test_service(void **state)
{
	struct fix *f = *state;
	void *z, *push, *pull, *ctl;
	struct sg_hsm_keyspec specs[3];
	struct sg_hsm_keys_req kreq = {specs, 3};
	struct sg_hsm_keys_rep krep;
	struct sg_hsm_sign_req reqs[NREQ + 2];
	struct sg_hsm_sign_rep rep;
	msgpack_sbuffer sb;
	static unsigned char buf[SG_HSM_MAX_KEYS_MSG];
	EVP_PKEY *pub[2];
	int seen[NREQ + 2], tmo = 20000, i, n, k;

	memset(seen, 0, sizeof(seen));
	z = zmq_ctx_new();
	assert_non_null(z);
	/* the signer connects before the front binds: fine for inproc in libzmq 4.3 */
	assert_int_equal(
	    sg_signer_serve_start(f->s, z, "inproc://t-req", "inproc://t-rep", "inproc://t-ctl"),
	    0);
	assert_int_equal(
	    sg_signer_serve_start(f->s, z, "inproc://t-req", "inproc://t-rep", "inproc://t-ctl"),
	    SG_ERR_BUSY);
	push = zmq_socket(z, ZMQ_PUSH);
	pull = zmq_socket(z, ZMQ_PULL);
	ctl = zmq_socket(z, ZMQ_REQ);
	assert_int_equal(zmq_bind(push, "inproc://t-req"), 0);
	assert_int_equal(zmq_bind(pull, "inproc://t-rep"), 0);
	assert_int_equal(zmq_bind(ctl, "inproc://t-ctl"), 0);
	zmq_setsockopt(pull, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	zmq_setsockopt(ctl, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	msgpack_sbuffer_init(&sb);

	/* KEYS over the control socket */
	spec(&specs[0], "svc-ec", "label:ec256", SG_KEYALG_EC_P256, 1);
	spec(&specs[1], "svc-rsa", "pkcs11:id=%04", SG_KEYALG_RSA_3072, 1);
	spec(&specs[2], "svc-none", "label:absent", SG_KEYALG_RSA_3072, 1);
	assert_int_equal(sg_hsm_encode_keys_req(&sb, &kreq), 0);
	zsend(ctl, &sb);
	n = zrecv(ctl, buf, sizeof(buf));
	assert_int_equal(sg_hsm_decode_keys_rep(buf, (size_t)n, &krep), 0);
	assert_int_equal(krep.err, 0);
	assert_int_equal(krep.n, 3);
	assert_int_equal(krep.keys[0].err, 0);
	assert_int_equal(krep.keys[1].err, 0);
	assert_int_equal(krep.keys[2].err, SG_ERR_NOT_FOUND);
	pub[0] = parse_pub(&krep.keys[0]);
	pub[1] = parse_pub(&krep.keys[1]);
	sg_hsm_keys_rep_clear(&krep);

	/* a malformed KEYS request still gets an answer */
	zmq_send(ctl, "\x92\x02\x01", 3, 0);
	n = zrecv(ctl, buf, sizeof(buf));
	assert_int_equal(sg_hsm_decode_keys_rep(buf, (size_t)n, &krep), 0);
	assert_int_equal(krep.err, SG_ERR_MALFORMED);
	assert_int_equal(krep.n, 0);

	/* NREQ pipelined SIGN requests over both keys */
	for (i = 0; i < NREQ; i++) {
		k = i % 2;
		mkreq(&reqs[i], (uint64_t)i, k ? "svc-rsa" : "svc-ec", SG_HASH_SHA256,
		      k ? SG_PAD_PSS : SG_PAD_NONE);
		assert_int_equal(sg_hsm_encode_sign_req(&sb, &reqs[i]), 0);
		zsend(push, &sb);
	}
	/* garbage (dropped), a bad request with a readable seq, an unknown key */
	zmq_send(push, "\xc1garbage", 8, 0);
	zmq_send(push,
	         "\x96\x01\x28\xa3"
	         "a b"
	         "\x01\x00\xc4\x00",
	         11, 0); /* seq 40 */
	mkreq(&reqs[NREQ + 1], NREQ + 1, "svc-none", SG_HASH_SHA256, SG_PAD_PSS);
	assert_int_equal(sg_hsm_encode_sign_req(&sb, &reqs[NREQ + 1]), 0);
	zsend(push, &sb);

	for (i = 0; i < NREQ + 2; i++) {
		n = zrecv(pull, buf, sizeof(buf));
		assert_int_equal(sg_hsm_decode_sign_rep(buf, (size_t)n, &rep), 0);
		assert_true(rep.seq < NREQ + 2);
		assert_int_equal(seen[rep.seq], 0);
		seen[rep.seq] = 1;
		if (rep.seq == NREQ) {
			assert_int_equal(rep.err, SG_ERR_MALFORMED);
		} else if (rep.seq == NREQ + 1) {
			assert_int_equal(rep.err, SG_ERR_UNKNOWN_KEY);
		} else {
			const struct sg_hsm_sign_req *q = &reqs[rep.seq];

			assert_int_equal(rep.err, 0);
			assert_true(ossl_verify(pub[rep.seq % 2], q->hash, q->pad, q->digest,
			                        q->digest_len, rep.sig, rep.sig_len));
		}
	}
	/* nothing else comes (the garbage was dropped) */
	tmo = 300;
	zmq_setsockopt(pull, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	assert_int_equal(zmq_recv(pull, buf, sizeof(buf), 0), -1);
	assert_int_equal(zmq_errno(), EAGAIN);
	print_message("sessions after the service: %d\n", softhsm_sessions());

	/* stop, then start again on a new context and end it by terminating it */
	sg_signer_serve_stop(f->s);
	sg_signer_serve_stop(f->s);
	zmq_close(push);
	zmq_close(pull);
	zmq_close(ctl);
	assert_int_equal(zmq_ctx_term(z), 0);

	z = zmq_ctx_new();
	assert_int_equal(
	    sg_signer_serve_start(f->s, z, "inproc://u-req", "inproc://u-rep", "inproc://u-ctl"),
	    0);
	/* zmq_ctx_term returns only once every signer socket is closed (ETERM) */
	assert_int_equal(zmq_ctx_term(z), 0);
	sg_signer_serve_stop(f->s);
	/* a bad endpoint is an error of the call */
	z = zmq_ctx_new();
	assert_int_equal(
	    sg_signer_serve_start(f->s, z, "bogus://x", "inproc://v-rep", "inproc://v-ctl"),
	    SG_ERR_CONFIG);
	assert_int_equal(zmq_ctx_term(z), 0);

	EVP_PKEY_free(pub[0]);
	EVP_PKEY_free(pub[1]);
	msgpack_sbuffer_destroy(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_errors),
	    cmocka_unit_test_setup_teardown(test_set_keys_statuses, fix_setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_sign_every_key, fix_setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_sign_errors, fix_setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_self_verify, fix_setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent, fix_setup, fix_teardown),
	    cmocka_unit_test_setup_teardown(test_service, fix_setup, fix_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
