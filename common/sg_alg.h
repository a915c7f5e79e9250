/*
 * sg_alg: names and sizes of the hash algorithms, key algorithms and RSA
 * paddings that Signet supports.  Shared by the wire codec, the policy, the
 * signer and the clients so that every side agrees on the same spelling.
 */
#ifndef SG_ALG_H
#define SG_ALG_H

#include <stddef.h>
#include <openssl/evp.h>

enum sg_hash {
	SG_HASH_NONE = 0,
	SG_HASH_SHA256 = 1,
	SG_HASH_SHA384 = 2,
	SG_HASH_SHA512 = 3,
};
#define SG_HASH_MAX_LEN 64

enum sg_keyalg {
	SG_KEYALG_NONE = 0,
	SG_KEYALG_EC_P256 = 1,
	SG_KEYALG_EC_P384 = 2,
	SG_KEYALG_RSA_2048 = 3,
	SG_KEYALG_RSA_3072 = 4,
	SG_KEYALG_RSA_4096 = 5,
};

enum sg_pad {
	SG_PAD_NONE = 0, /* ECDSA: no padding; for RSA the key's default (pkcs1) */
	SG_PAD_PKCS1 = 1,
	SG_PAD_PSS = 2,
};

/* Parsing returns 0 or SG_ERR_UNKNOWN_HASH / SG_ERR_INVALID_ARG / SG_ERR_BAD_PADDING. */
int sg_hash_parse(const char *name, enum sg_hash *out);
const char *sg_hash_name(enum sg_hash h);      /* NULL for SG_HASH_NONE or unknown */
size_t sg_hash_len(enum sg_hash h);            /* 0 for unknown */
const EVP_MD *sg_hash_md(enum sg_hash h);      /* NULL for unknown */

int sg_keyalg_parse(const char *name, enum sg_keyalg *out);
const char *sg_keyalg_name(enum sg_keyalg a);  /* NULL for unknown */
int sg_keyalg_is_rsa(enum sg_keyalg a);
/* Maximum DER signature size for the algorithm (ECDSA) or the modulus size (RSA). */
size_t sg_keyalg_sig_max(enum sg_keyalg a);
/*
 * The key algorithm of a public key: EC P-256 or P-384, RSA of 2048, 3072
 * or 4096 bits; SG_KEYALG_NONE for any other key (other curves, sizes or
 * types, RSA-PSS keys) and for NULL.
 */
enum sg_keyalg sg_keyalg_of_pkey(const EVP_PKEY *pk);

int sg_pad_parse(const char *name, enum sg_pad *out);
const char *sg_pad_name(enum sg_pad p);        /* "none", "pkcs1", "pss" */

#endif /* SG_ALG_H */
