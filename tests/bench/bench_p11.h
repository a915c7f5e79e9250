/*
 * bench_p11: the raw PKCS#11 signing baseline of signet-bench's newer modes
 * (sign in signet_bench.c, issue_bench.c): dlopen of the module, C_GetFunctionList, one session per
 * thread, C_SignInit + C_Sign [+ C_VerifyInit + C_Verify] over random
 * digests with one token key, for a warm-up and a measured window.  This is
 * what the HSM itself can do with the key, with no appliance in the way.
 *
 * Mechanisms as the appliance signs with the key: CKM_ECDSA over the digest
 * for EC keys; CKM_RSA_PKCS over a DigestInfo for RSA keys (the appliance
 * signs certificates, CRLs and OCSP answers with PKCS#1 v1.5), or
 * CKM_RSA_PKCS_PSS over the digest (MGF1 with the hash, salt = hash length)
 * when the run asks for PSS, as sign.digest does with pad=pss.
 *
 * Secrets: the user PIN is read from a 0600 file (sg_secret_read_file),
 * used for C_Login and wiped at once; never from argv or the environment.
 * It owns no appliance state and must never write to the token.
 */
#ifndef BENCH_P11_H
#define BENCH_P11_H

#include <stdint.h>

#include "bench_util.h"
#include "sg_alg.h"

struct bench_p11;

/*
 * Loads module, finds the token labelled exactly token and logs the
 * application in with the user PIN of pin_file.  Returns 0 with *out (free
 * with bench_p11_free), or SG_ERR_NOT_FOUND / SG_ERR_LOGIN / SG_ERR_HSM /
 * SG_ERR_NOMEM / an sg_secret_read_file error, after a message on stderr.
 */
int bench_p11_open(const char *module, const char *token, const char *pin_file,
                   struct bench_p11 **out);

/* Logs out, finalizes the module and frees; NULL-safe. */
void bench_p11_free(struct bench_p11 *p);

/* One baseline run. */
struct bench_p11_run {
	const char *key;    /* CKA_LABEL of the private (and public) key */
	enum sg_keyalg alg; /* what the key must be (checked against CKA_KEY_TYPE) */
	enum sg_hash hash;  /* digest length; RSA: the DigestInfo's or PSS's hash */
	enum sg_pad pad;    /* RSA: SG_PAD_PSS for PSS, else PKCS#1 v1.5; EC: ignored */
	int verify;         /* also C_Verify every signature */
	unsigned threads;   /* 1..256 */
	double warmup;      /* seconds, not counted */
	double seconds;     /* measured window */
};

struct bench_p11_result {
	uint64_t ops;    /* signatures completed inside the window */
	double window_s; /* length of the window */
	double cpu_s;    /* CPU seconds of this process during the window */
	struct bench_hist lat;
	unsigned failed; /* threads that failed (said why on stderr) */
};

/*
 * Runs o on the logged-in token p and fills *res.  Returns 0 (a thread that
 * failed is counted in res->failed), SG_ERR_INVALID_ARG or SG_ERR_NOMEM /
 * SG_ERR_INTERNAL (threads could not be made).
 */
int bench_p11_run(struct bench_p11 *p, const struct bench_p11_run *o, struct bench_p11_result *res);

#endif /* BENCH_P11_H */
