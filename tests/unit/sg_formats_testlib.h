/*
 * Helpers shared by the unit tests of the formats library (sg_cms_test.c,
 * sg_tsa_test.c): software keys, a root -> intermediate -> leaf PKI made
 * with OpenSSL's X509 API, the stand-in for the HSM (EVP_PKEY_sign() over
 * the digest, with sign.digest semantics), files in a scratch directory
 * and the openssl binary as the foreign verifier.
 *
 * Header-only (static functions, each test includes it once); a helper
 * failure fails the test through cmocka's assertions.
 */
#ifndef SG_FORMATS_TESTLIB_H
#define SG_FORMATS_TESTLIB_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sg_alg.h"

#define TL_FN static __attribute__((unused))

/* Key types of the tests. */
enum tl_key { TL_EC256, TL_EC384, TL_RSA2048, TL_RSA3072, TL_ED25519 };

TL_FN EVP_PKEY *
tl_key(enum tl_key k)
{
	EVP_PKEY *pk = NULL;

	switch (k) {
	case TL_EC256:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case TL_EC384:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case TL_RSA2048:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case TL_RSA3072:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case TL_ED25519:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	default:
		break;
	}
	assert_non_null(pk);
	return pk;
}

/*
 * A certificate for key named CN=cn, issued by issuer/issuer_key (NULL:
 * self-signed with key), valid from now + nb to now + na seconds, with the
 * extensions exts: pairs of name and value (X509V3_EXT_nconf syntax), NULL
 * terminated.
 */
TL_FN X509 *
tl_cert(X509 *issuer, EVP_PKEY *issuer_key, EVP_PKEY *key, const char *cn, long nb, long na,
        const char *const *exts)
{
	static long serial = 1000;
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	X509_NAME *name;
	X509 *x;
	size_t i;

	assert_non_null(x = X509_new());
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
	assert_non_null(name = X509_NAME_new());
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	                                            (const unsigned char *)"Signet tests", -1, -1,
	                                            0),
	                 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                            (const unsigned char *)cn, -1, -1, 0),
	                 1);
	assert_int_equal(X509_set_subject_name(x, name), 1);
	assert_int_equal(
	    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name), 1);
	X509_NAME_free(name);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), nb));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), na));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	for (i = 0; exts != NULL && exts[i] != NULL; i += 2) {
		e = X509V3_EXT_nconf(NULL, &ctx, exts[i], exts[i + 1]);
		assert_non_null(e);
		assert_int_equal(X509_add_ext(x, e, -1), 1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

/* The HSM's sign.digest: ECDSA over the digest (DER), RSA PKCS#1 v1.5 over a DigestInfo. */
TL_FN size_t
tl_sign(EVP_PKEY *key, enum sg_hash h, const unsigned char *tbs, size_t tbs_len, unsigned char *sig,
        size_t cap)
{
	EVP_PKEY_CTX *c;
	size_t n = cap;

	assert_non_null(c = EVP_PKEY_CTX_new(key, NULL));
	assert_int_equal(EVP_PKEY_sign_init(c), 1);
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_signature_md(c, sg_hash_md(h)), 1);
	}
	assert_int_equal(EVP_PKEY_sign(c, sig, &n, tbs, tbs_len), 1);
	EVP_PKEY_CTX_free(c);
	return n;
}

TL_FN void
tl_digest(enum sg_hash h, const void *data, size_t len, unsigned char *out)
{
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(data, len, out, &n, sg_hash_md(h), NULL), 1);
	assert_int_equal(n, sg_hash_len(h));
}

TL_FN void
tl_hex(const unsigned char *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* ---- files --------------------------------------------------------------- */

static char tl_dir[] = "/tmp/sg_formats_test.XXXXXX";

TL_FN const char *
tl_path(const char *name)
{
	static char buf[4][512];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tl_dir, name);
	return p;
}

TL_FN void
tl_mkdir(void)
{
	assert_non_null(mkdtemp(tl_dir));
}

static int
tl_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

TL_FN void
tl_rmdir(void)
{
	nftw(tl_dir, tl_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TL_FN void
tl_write(const char *name, const void *data, size_t len)
{
	FILE *f = fopen(tl_path(name), "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The whole file in a malloc'd buffer. */
TL_FN unsigned char *
tl_read(const char *name, size_t *len)
{
	unsigned char *buf;
	struct stat st;
	FILE *f = fopen(tl_path(name), "rb");

	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &st), 0);
	assert_non_null(buf = malloc((size_t)st.st_size + 1));
	assert_int_equal(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	*len = (size_t)st.st_size;
	return buf;
}

/* PEM certificates into one file. */
TL_FN void
tl_write_pem(const char *name, X509 *const *certs, size_t n)
{
	FILE *f = fopen(tl_path(name), "w");
	size_t i;

	assert_non_null(f);
	for (i = 0; i < n; i++)
		assert_int_equal(PEM_write_X509(f, certs[i]), 1);
	assert_int_equal(fclose(f), 0);
}

/* ---- the foreign verifier ------------------------------------------------ */

/*
 * Runs argv (argv[0] looked up in PATH) with stdout and stderr captured
 * into out (cap bytes, terminated) and returns its exit status (-1 if it
 * did not exit normally).
 */
TL_FN int
tl_run(char *out, size_t cap, const char *const *argv)
{
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	int fds[2], status = 0;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		char sink[256];

		if (len + 1 < cap)
			n = read(fds[0], out + len, cap - 1 - len);
		else
			n = read(fds[0], sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len + 1 < cap)
			len += (size_t)n;
	}
	out[len] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif /* SG_FORMATS_TESTLIB_H */
