/*
 * sg_p11_itest MODULE KEYLABEL: drives libsignet-pkcs11.so (dlopen) against
 * a running dev appliance for what pkcs11-tool cannot ask: the thread-flag
 * refusal, per-attribute errors, exact template matching, a C_Sign length
 * query, a made-up key handle, object creation, 8 threads signing at once
 * and a fork()ed child signing; with RESTART-COMMAND, one session signs,
 * the command restarts signetd, and the same session and key handle sign
 * again.  Every signature is verified by OpenSSL with
 * the key's CKA_PUBLIC_KEY_INFO.  Prints "FAIL: ..." and exits 1 on the
 * first failure.
 */
#define CRYPTOKI_COMPAT 1
#include <p11-kit/pkcs11.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

static CK_FUNCTION_LIST *f;
static CK_OBJECT_HANDLE priv;
static unsigned char spki[1024];
static CK_ULONG spki_len;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL: " __VA_ARGS__);                                     \
			fprintf(stderr, "\n");                                                     \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

/* Signs a digest with CKM_ECDSA in session s and verifies r||s. */
static int
sign_in(CK_SESSION_HANDLE s)
{
	CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
	unsigned char dg[32], sig[256], der[256], *p = der;
	CK_ULONG sl = sizeof(sig);
	const unsigned char *q = spki;
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	ECDSA_SIG *es = NULL;
	int ok = 0, n;

	memset(dg, 0x5a, sizeof(dg));
	if (f->C_SignInit(s, &m, priv) != CKR_OK || f->C_Sign(s, dg, 32, sig, &sl) != CKR_OK ||
	    sl != 64)
		goto out;
	es = ECDSA_SIG_new();
	ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
	n = i2d_ECDSA_SIG(es, &p);
	pk = d2i_PUBKEY(NULL, &q, (long)spki_len);
	ctx = EVP_PKEY_CTX_new(pk, NULL);
	ok = ctx && EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_verify(ctx, der, n, dg, 32) == 1;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	ECDSA_SIG_free(es);
	return ok;
}

/* sign_in in a session of its own. */
static int
sign_verify(void)
{
	CK_SESSION_HANDLE s;
	int ok;

	if (f->C_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return 0;
	ok = sign_in(s);
	f->C_CloseSession(s);
	return ok;
}

static void *
thread_main(void *arg)
{
	int *ok = arg;

	*ok = 1;
	for (int i = 0; i < 4; i++)
		*ok &= sign_verify();
	return NULL;
}

int
main(int argc, char **argv)
{
	CK_C_GetFunctionList gfl;
	CK_C_INITIALIZE_ARGS ia;
	CK_SESSION_HANDLE s;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY, bogus_cls = 0x80001234UL;
	CK_ULONG n, sl;
	CK_OBJECT_HANDLE found[64], h;
	CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
	unsigned char dg[32] = {1}, sig[512], lab[64];
	pthread_t th[8];
	int ok[8];
	void *lib;
	pid_t pid;
	int st;

	CHECK(argc == 3 || argc == 4, "usage: sg_p11_itest MODULE KEYLABEL [RESTART-COMMAND]");
	lib = dlopen(argv[1], RTLD_NOW);
	CHECK(lib != NULL, "dlopen: %s", dlerror());
	gfl = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	CHECK(gfl && gfl(&f) == CKR_OK, "C_GetFunctionList");

	memset(&ia, 0, sizeof(ia));
	ia.flags = CKF_LIBRARY_CANT_CREATE_OS_THREADS;
	CHECK(f->C_Initialize(&ia) == CKR_NEED_TO_CREATE_THREADS, "thread flag not refused");
	ia.flags = CKF_OS_LOCKING_OK;
	CHECK(f->C_Initialize(&ia) == CKR_OK, "C_Initialize");
	CHECK(f->C_Initialize(&ia) == CKR_CRYPTOKI_ALREADY_INITIALIZED, "double C_Initialize");
	CHECK(f->C_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &s) == CKR_OK, "C_OpenSession");

	/* Template: the private key of that label, exactly. */
	{
		CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
		                    {CKA_LABEL, argv[2], strlen(argv[2])}};
		CHECK(f->C_FindObjectsInit(s, t, 2) == CKR_OK, "FindObjectsInit");
		CHECK(f->C_FindObjects(s, found, 64, &n) == CKR_OK && n == 1, "one key, got %lu",
		      n);
		CHECK(f->C_FindObjectsFinal(s) == CKR_OK, "FindObjectsFinal");
		priv = found[0];
		/* A label prefix must not match. */
		t[1].ulValueLen = strlen(argv[2]) - 1;
		CHECK(f->C_FindObjectsInit(s, t, 2) == CKR_OK, "FindObjectsInit");
		CHECK(f->C_FindObjects(s, found, 64, &n) == CKR_OK && n == 0, "prefix matched");
		f->C_FindObjectsFinal(s);
	}
	/* An object class the token has none of (NSS asks for CKO_PROFILE): empty. */
	{
		CK_ATTRIBUTE t[] = {{CKA_CLASS, &bogus_cls, sizeof(bogus_cls)}};
		CHECK(f->C_FindObjectsInit(s, t, 1) == CKR_OK, "FindObjectsInit");
		CHECK(f->C_FindObjects(s, found, 64, &n) == CKR_OK && n == 0,
		      "unknown class found");
		f->C_FindObjectsFinal(s);
	}
	/* Attributes: one unknown, one sensitive, one length query, one copy. */
	{
		CK_ATTRIBUTE t[] = {{CKA_LABEL, NULL, 0},
		                    {0x8000FFFFUL, lab, sizeof(lab)},
		                    {CKA_PRIVATE_EXPONENT, lab, sizeof(lab)},
		                    {CKA_PUBLIC_KEY_INFO, spki, sizeof(spki)}};
		CK_RV rv = f->C_GetAttributeValue(s, priv, t, 4);
		CHECK(rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE, "rv %lu",
		      rv);
		CHECK(t[0].ulValueLen == strlen(argv[2]), "label length query");
		CHECK(t[1].ulValueLen == CK_UNAVAILABLE_INFORMATION, "unknown attribute length");
		CHECK(t[2].ulValueLen == CK_UNAVAILABLE_INFORMATION, "sensitive attribute length");
		CHECK(t[3].ulValueLen > 0 && t[3].ulValueLen < sizeof(spki), "public key info");
		spki_len = t[3].ulValueLen;
	}
	/* Length query, then a too-small buffer: the operation stays active. */
	CHECK(f->C_SignInit(s, &m, priv) == CKR_OK, "SignInit");
	CHECK(f->C_Sign(s, dg, 32, NULL, &sl) == CKR_OK && sl == 64, "length query %lu", sl);
	sl = 10;
	CHECK(f->C_Sign(s, dg, 32, sig, &sl) == CKR_BUFFER_TOO_SMALL && sl == 64, "too small");
	sl = sizeof(sig);
	CHECK(f->C_Sign(s, dg, 32, sig, &sl) == CKR_OK && sl == 64, "C_Sign");
	CHECK(f->C_Sign(s, dg, 32, sig, &sl) == CKR_OPERATION_NOT_INITIALIZED, "op not ended");
	/* A digest of no SHA-2 length. */
	CHECK(f->C_SignInit(s, &m, priv) == CKR_OK, "SignInit");
	sl = sizeof(sig);
	CHECK(f->C_Sign(s, dg, 20, sig, &sl) == CKR_DATA_LEN_RANGE, "20-byte digest");
	/* Made-up and wrong handles. */
	CHECK(f->C_SignInit(s, &m, 0x7777) == CKR_KEY_HANDLE_INVALID, "made-up handle");
	CHECK(f->C_SignInit(s, &m, priv + 1) == CKR_KEY_FUNCTION_NOT_PERMITTED, "public key signs");
	/* Objects cannot be created. */
	{
		CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}};
		CHECK(f->C_CreateObject(s, t, 1, &h) == CKR_FUNCTION_NOT_SUPPORTED, "CreateObject");
	}
	CHECK(sign_verify(), "single signature does not verify");

	/* 8 threads at once. */
	for (int i = 0; i < 8; i++)
		CHECK(pthread_create(&th[i], NULL, thread_main, &ok[i]) == 0, "pthread_create");
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		CHECK(ok[i], "thread %d: signature failed or did not verify", i);
	}
	/* A forked child signs on a connection of its own, without C_Initialize. */
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0)
		_exit(sign_verify() ? 0 : 1);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child");
	CHECK(sign_verify(), "parent after fork");

	/* signetd restarted between two signatures of one session: the same
	 * session and key handle sign again, without a new C_Initialize. */
	if (argc == 4) {
		CHECK(sign_in(s), "signature before the restart");
		CHECK(system(argv[3]) == 0, "restart command failed");
		CHECK(sign_in(s), "signature after the restart failed or did not verify");
	}

	f->C_CloseSession(s);
	CHECK(f->C_Finalize(NULL) == CKR_OK, "C_Finalize");
	printf("sg_p11_itest: ok\n");
	return 0;
}
