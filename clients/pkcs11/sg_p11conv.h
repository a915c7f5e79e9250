/*
 * sg_p11conv: the pure conversions of the PKCS#11 module (no PKCS#11 state,
 * no network): a DER DigestInfo (the input of CKM_RSA_PKCS) into its hash
 * and digest, a DER ECDSA-Sig-Value (what the appliance returns) into the
 * raw r||s that PKCS#11 requires, and the signature length of a key
 * algorithm.  It owns nothing; it must never accept a DigestInfo that is not
 * exactly the strict DER encoding of a SHA-2 256/384/512 digest, since the
 * hash is what the appliance's policy checks.
 */
#ifndef SG_P11CONV_H
#define SG_P11CONV_H

#include <stddef.h>

#include "sg_alg.h"

/*
 * Parses der[0..len) as a DigestInfo (RFC 8017 9.2) of sha256, sha384 or
 * sha512, with NULL or absent parameters, whose digest has the hash's
 * length, and which re-encodes to exactly the input (no trailing bytes, no
 * BER).  On success *hash and digest (SG_HASH_MAX_LEN bytes) / *digest_len
 * hold it.  Returns 0, SG_ERR_MALFORMED (not such a DigestInfo),
 * SG_ERR_UNKNOWN_HASH (another algorithm) or SG_ERR_DIGEST_LENGTH.
 */
int sg_p11conv_digestinfo(const unsigned char *der, size_t len, enum sg_hash *hash,
                          unsigned char *digest, size_t *digest_len);

/*
 * Converts the DER ECDSA-Sig-Value der[0..len) into r||s, each left-padded
 * to field_len bytes, in out (2 * field_len bytes).  Returns 0,
 * SG_ERR_MALFORMED (not one strict DER ECDSA-Sig-Value, trailing bytes) or
 * SG_ERR_LIMIT (r or s longer than field_len).
 */
int sg_p11conv_ecdsa_raw(const unsigned char *der, size_t len, size_t field_len,
                         unsigned char *out);

/*
 * The length of a PKCS#11 signature by a key of algorithm a: 2 * field size
 * for ECDSA (r||s), the modulus size for RSA; 0 for an unknown algorithm.
 */
size_t sg_p11conv_sig_len(enum sg_keyalg a);

/* The field size of an EC algorithm (32, 48), 0 for others. */
size_t sg_p11conv_ec_field_len(enum sg_keyalg a);

/* The hash whose digest is len bytes long (32, 48, 64), else SG_HASH_NONE. */
enum sg_hash sg_p11conv_hash_of_len(size_t len);

#endif /* SG_P11CONV_H */
