/* bench_p11: see bench_p11.h. */
#include "bench_p11.h"

#include "sg_err.h"
#include "sg_secret.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#define BP_PROG "signet-bench"
#define BP_PIN_MAX 255
#define BP_LABEL_LEN 32 /* CK_TOKEN_INFO.label */
#define BP_MAX_THREADS 256
#define BP_SIG_BUF 1024
#define BP_INPUT_MAX 128 /* a DigestInfo of SHA-512 is 83 bytes */
#define BP_WARM_OPS 3    /* per thread, before the clock starts */

struct bench_p11 {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	int initialized;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE login; /* holds the application's login */
	int have_login;
};

void
bench_p11_free(struct bench_p11 *p)
{
	if (p == NULL)
		return;
	if (p->have_login)
		p->f->C_CloseSession(p->login);
	if (p->initialized)
		p->f->C_Finalize(NULL);
	if (p->dl != NULL)
		dlclose(p->dl);
	free(p);
}

int
bench_p11_open(const char *module, const char *token, const char *pin_file, struct bench_p11 **out)
{
	struct bench_p11 *p = NULL;
	struct sg_secret *pin = NULL;
	CK_C_GetFunctionList gfl;
	CK_C_INITIALIZE_ARGS ia;
	CK_SLOT_ID *slots = NULL;
	CK_TOKEN_INFO ti;
	CK_ULONG n = 0, i;
	CK_RV rv;
	char want[BP_LABEL_LEN];
	size_t tl = strlen(token);
	int r, found = 0;

	*out = NULL;
	if (tl == 0 || tl > BP_LABEL_LEN)
		return SG_ERR_INVALID_ARG;
	if ((r = sg_secret_read_file(pin_file, BP_PIN_MAX, &pin)) != 0) {
		fprintf(stderr, BP_PROG ": PIN file %s: %s\n", pin_file, sg_strerror(r));
		goto out;
	}
	r = SG_ERR_NOMEM;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto out;
	r = SG_ERR_HSM;
	if ((p->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, BP_PROG ": dlopen %s: %s\n", module, dlerror());
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	*(void **)&gfl = dlsym(p->dl, "C_GetFunctionList");
	if (gfl == NULL || gfl(&p->f) != CKR_OK || p->f == NULL) {
		fprintf(stderr, BP_PROG ": %s: no PKCS#11 function list\n", module);
		goto out;
	}
	memset(&ia, 0, sizeof(ia));
	ia.flags = CKF_OS_LOCKING_OK;
	if ((rv = p->f->C_Initialize(&ia)) != CKR_OK) {
		fprintf(stderr, BP_PROG ": C_Initialize: 0x%08lx\n", (unsigned long)rv);
		goto out;
	}
	p->initialized = 1;
	if (p->f->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_OK ||
	    (slots = calloc(n > 0 ? n : 1, sizeof(*slots))) == NULL ||
	    p->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK) {
		fprintf(stderr, BP_PROG ": C_GetSlotList failed\n");
		goto out;
	}
	/* Exact label match: CK_TOKEN_INFO.label is space padded. */
	memset(want, ' ', sizeof(want));
	memcpy(want, token, tl);
	for (i = 0; i < n && !found; i++) {
		if (p->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    memcmp(ti.label, want, sizeof(want)) == 0) {
			p->slot = slots[i];
			found = 1;
		}
	}
	if (!found) {
		fprintf(stderr, BP_PROG ": no token labelled '%s' in %s\n", token, module);
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	if ((rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION, NULL, NULL, &p->login)) !=
	    CKR_OK) {
		fprintf(stderr, BP_PROG ": C_OpenSession: 0x%08lx\n", (unsigned long)rv);
		goto out;
	}
	p->have_login = 1;
	rv = p->f->C_Login(p->login, CKU_USER, (CK_UTF8CHAR_PTR)sg_secret_str(pin),
	                   (CK_ULONG)sg_secret_len(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		fprintf(stderr, BP_PROG ": C_Login: 0x%08lx\n", (unsigned long)rv);
		r = SG_ERR_LOGIN;
		goto out;
	}
	*out = p;
	p = NULL;
	r = 0;
out:
	sg_secret_free(pin);
	free(slots);
	bench_p11_free(p);
	return r;
}

/* Shared by the threads of one run. */
struct bp_shared {
	struct bench_p11 *p;
	const struct bench_p11_run *o;
	unsigned char prefix[BP_INPUT_MAX]; /* RSA PKCS#1: the DigestInfo before the digest */
	size_t prefix_len;
	CK_MECHANISM_TYPE mech;
	CK_RSA_PKCS_PSS_PARAMS pss; /* when mech is CKM_RSA_PKCS_PSS */
	atomic_uint ready;
	atomic_int go;
	uint64_t t_start, t_end;
};

struct bp_thr {
	pthread_t tid;
	struct bp_shared *s;
	unsigned idx;
	int started;
	struct bench_hist *lat;
	uint64_t ops;
	int failed;
	char why[160];
};

/*
 * The DER DigestInfo of hash over an all-zero digest, minus the digest: the
 * digest is the last field of the structure, so an input is this prefix
 * followed by the digest.  Encoded by OpenSSL (X509_SIG).
 */
static int
bp_digestinfo_prefix(enum sg_hash hash, unsigned char *out, size_t *out_len)
{
	static const unsigned char zero[SG_HASH_MAX_LEN];
	const EVP_MD *md = NULL;
	X509_SIG *sig = NULL;
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *dig;
	unsigned char *der = NULL;
	size_t dlen = sg_hash_len(hash);
	int len, r = SG_ERR_INVALID_ARG;

	switch (hash) {
	case SG_HASH_SHA256:
		md = EVP_sha256();
		break;
	case SG_HASH_SHA384:
		md = EVP_sha384();
		break;
	case SG_HASH_SHA512:
		md = EVP_sha512();
		break;
	case SG_HASH_NONE:
	default:
		goto out;
	}
	r = SG_ERR_INTERNAL;
	if ((sig = X509_SIG_new()) == NULL)
		goto out;
	X509_SIG_getm(sig, &alg, &dig);
	if (X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL) != 1 ||
	    ASN1_OCTET_STRING_set(dig, zero, (int)dlen) != 1 ||
	    (len = i2d_X509_SIG(sig, &der)) <= 0 || (size_t)len > BP_INPUT_MAX ||
	    (size_t)len <= dlen)
		goto out;
	memcpy(out, der, (size_t)len - dlen);
	*out_len = (size_t)len - dlen;
	r = 0;
out:
	OPENSSL_free(der);
	X509_SIG_free(sig);
	return r;
}

/* The PSS parameters the appliance uses: MGF1 with hash, salt = hash length. */
static int
bp_pss_params(enum sg_hash hash, CK_RSA_PKCS_PSS_PARAMS *pp)
{
	int r = 0;

	switch (hash) {
	case SG_HASH_SHA256:
		pp->hashAlg = CKM_SHA256;
		pp->mgf = CKG_MGF1_SHA256;
		break;
	case SG_HASH_SHA384:
		pp->hashAlg = CKM_SHA384;
		pp->mgf = CKG_MGF1_SHA384;
		break;
	case SG_HASH_SHA512:
		pp->hashAlg = CKM_SHA512;
		pp->mgf = CKG_MGF1_SHA512;
		break;
	case SG_HASH_NONE:
	default:
		r = SG_ERR_UNKNOWN_HASH;
		break;
	}
	pp->sLen = (CK_ULONG)sg_hash_len(hash);
	return r;
}

/* The one token object of class cls labelled label: 0, SG_ERR_NOT_FOUND or SG_ERR_HSM. */
static int
bp_find(struct bench_p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label,
        CK_OBJECT_HANDLE *out)
{
	CK_BBOOL tok = CK_TRUE;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)},
	    {CKA_TOKEN, &tok, sizeof(tok)},
	};
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n = 0;
	int r = SG_ERR_HSM;

	if (p->f->C_FindObjectsInit(s, t, 3) != CKR_OK)
		goto out;
	if (p->f->C_FindObjects(s, h, 2, &n) != CKR_OK) {
		p->f->C_FindObjectsFinal(s);
		goto out;
	}
	if (p->f->C_FindObjectsFinal(s) != CKR_OK)
		goto out;
	if (n != 1) {
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	*out = h[0];
	r = 0;
out:
	return r;
}

/* One C_SignInit + C_Sign (+ C_VerifyInit + C_Verify) over a fresh random digest. */
static CK_RV
bp_op(struct bp_shared *sh, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub,
      uint64_t *rng)
{
	CK_FUNCTION_LIST_PTR f = sh->p->f;
	unsigned char data[BP_INPUT_MAX], sig[BP_SIG_BUF];
	size_t dlen = sg_hash_len(sh->o->hash);
	CK_ULONG sig_len = sizeof(sig), data_len = (CK_ULONG)(sh->prefix_len + dlen);
	CK_MECHANISM m = {sh->mech, NULL, 0};
	CK_RV rv;

	if (sh->mech == CKM_RSA_PKCS_PSS) {
		m.pParameter = &sh->pss;
		m.ulParameterLen = sizeof(sh->pss);
	}
	memcpy(data, sh->prefix, sh->prefix_len);
	bench_rng_fill(rng, data + sh->prefix_len, dlen);
	if ((rv = f->C_SignInit(s, &m, priv)) != CKR_OK ||
	    (rv = f->C_Sign(s, data, data_len, sig, &sig_len)) != CKR_OK)
		return rv;
	if (sh->o->verify && ((rv = f->C_VerifyInit(s, &m, pub)) != CKR_OK ||
	                      (rv = f->C_Verify(s, data, data_len, sig, sig_len)) != CKR_OK))
		return rv;
	return CKR_OK;
}

static void *
bp_main(void *arg)
{
	struct bp_thr *t = arg;
	struct bp_shared *sh = t->s;
	CK_FUNCTION_LIST_PTR f = sh->p->f;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE, pub = CK_INVALID_HANDLE;
	CK_KEY_TYPE kt = 0;
	CK_ATTRIBUTE ka = {CKA_KEY_TYPE, &kt, sizeof(kt)};
	CK_RV rv;
	uint64_t rng = bench_rng_seed(2000 + t->idx), t0, t1;
	int i, have_session = 0;

	if ((rv = f->C_OpenSession(sh->p->slot, CKF_SERIAL_SESSION, NULL, NULL, &s)) != CKR_OK) {
		snprintf(t->why, sizeof(t->why), "C_OpenSession: 0x%08lx", (unsigned long)rv);
		goto fail;
	}
	have_session = 1;
	if (bp_find(sh->p, s, CKO_PRIVATE_KEY, sh->o->key, &priv) != 0 ||
	    (sh->o->verify && bp_find(sh->p, s, CKO_PUBLIC_KEY, sh->o->key, &pub) != 0)) {
		snprintf(t->why, sizeof(t->why), "no single %skey labelled %s on the token",
		         priv == CK_INVALID_HANDLE ? "private " : "public ", sh->o->key);
		goto fail;
	}
	if (f->C_GetAttributeValue(s, priv, &ka, 1) != CKR_OK ||
	    kt != (sg_keyalg_is_rsa(sh->o->alg) ? CKK_RSA : CKK_EC)) {
		snprintf(t->why, sizeof(t->why), "the token's key %s is not %s", sh->o->key,
		         sg_keyalg_name(sh->o->alg));
		goto fail;
	}
	for (i = 0; i < BP_WARM_OPS; i++) {
		if ((rv = bp_op(sh, s, priv, pub, &rng)) != CKR_OK) {
			snprintf(t->why, sizeof(t->why), "C_Sign%s: 0x%08lx",
			         sh->o->verify ? "/C_Verify" : "", (unsigned long)rv);
			goto fail;
		}
	}
	atomic_fetch_add(&sh->ready, 1);
	while (!atomic_load(&sh->go))
		usleep(200);
	for (;;) {
		t0 = bench_now_ns();
		if (t0 >= sh->t_end)
			break;
		if ((rv = bp_op(sh, s, priv, pub, &rng)) != CKR_OK) {
			snprintf(t->why, sizeof(t->why), "C_Sign%s: 0x%08lx",
			         sh->o->verify ? "/C_Verify" : "", (unsigned long)rv);
			t->failed = 1;
			break;
		}
		t1 = bench_now_ns();
		if (t0 >= sh->t_start && t1 < sh->t_end) {
			t->ops++;
			bench_hist_add(t->lat, t1 - t0);
		}
	}
	f->C_CloseSession(s);
	return NULL;
fail:
	t->failed = 1;
	if (have_session)
		f->C_CloseSession(s);
	atomic_fetch_add(&sh->ready, 1);
	return NULL;
}

int
bench_p11_run(struct bench_p11 *p, const struct bench_p11_run *o, struct bench_p11_result *res)
{
	struct bp_thr *th = NULL;
	struct bp_shared *sh = NULL;
	double cpu0;
	unsigned i, started = 0;
	int r = SG_ERR_INVALID_ARG;

	memset(res, 0, sizeof(*res));
	if (p == NULL || o == NULL || o->key == NULL || o->threads == 0 ||
	    o->threads > BP_MAX_THREADS || sg_hash_len(o->hash) == 0)
		goto out;
	r = SG_ERR_NOMEM;
	if ((sh = calloc(1, sizeof(*sh))) == NULL || (th = calloc(o->threads, sizeof(*th))) == NULL)
		goto out;
	sh->p = p;
	sh->o = o;
	atomic_init(&sh->ready, 0);
	atomic_init(&sh->go, 0);
	sh->mech = CKM_ECDSA;
	if (sg_keyalg_is_rsa(o->alg) && o->pad == SG_PAD_PSS) {
		sh->mech = CKM_RSA_PKCS_PSS;
		if ((r = bp_pss_params(o->hash, &sh->pss)) != 0)
			goto out;
	} else if (sg_keyalg_is_rsa(o->alg)) {
		sh->mech = CKM_RSA_PKCS;
		if ((r = bp_digestinfo_prefix(o->hash, sh->prefix, &sh->prefix_len)) != 0)
			goto out;
	}
	r = SG_ERR_NOMEM;
	for (i = 0; i < o->threads; i++) {
		th[i].s = sh;
		th[i].idx = i;
		if ((th[i].lat = calloc(1, sizeof(*th[i].lat))) == NULL)
			goto out;
	}
	for (i = 0; i < o->threads; i++) {
		if (pthread_create(&th[i].tid, NULL, bp_main, &th[i]) != 0)
			break;
		th[i].started = 1;
		started++;
	}
	while (atomic_load(&sh->ready) < started)
		usleep(1000);
	sh->t_start = bench_now_ns() + (uint64_t)(o->warmup * 1e9);
	sh->t_end = sh->t_start + (uint64_t)(o->seconds * 1e9);
	if (started < o->threads)
		sh->t_start = sh->t_end = bench_now_ns();
	atomic_store(&sh->go, 1);
	res->window_s = (double)(sh->t_end - sh->t_start) / 1e9;
	/* Nothing else of this process runs now: its CPU time is the baseline's. */
	bench_sleep_until(sh->t_start);
	cpu0 = bench_self_cpu_s();
	bench_sleep_until(sh->t_end);
	res->cpu_s = bench_self_cpu_s() - cpu0;
	r = started == o->threads ? 0 : SG_ERR_INTERNAL;
out:
	for (i = 0; th != NULL && i < o->threads; i++) {
		if (!th[i].started)
			continue;
		pthread_join(th[i].tid, NULL);
		if (th[i].failed) {
			res->failed++;
			fprintf(stderr, BP_PROG ": baseline thread %u: %s\n", i, th[i].why);
		}
		res->ops += th[i].ops;
		bench_hist_merge(&res->lat, th[i].lat);
	}
	for (i = 0; th != NULL && i < o->threads; i++)
		free(th[i].lat);
	free(th);
	free(sh);
	return r;
}
