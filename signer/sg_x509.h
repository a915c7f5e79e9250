/*
 * sg_x509: CSR parsing and two-phase builders of X.509 v3 certificates and
 * v2 CRLs (RFC 5280) whose signature is computed elsewhere, by the issuing
 * CA's key in the HSM (sign.digest semantics, like sg_cms).
 *
 * Phase one (sg_x509_begin, sg_crl_begin) encodes the TBSCertificate or
 * TBSCertList as DER, with the signature algorithm of the issuer's key in
 * it, and hands out tbs: the digest of exactly those bytes.  The HSM signs
 * tbs: ECDSA over the digest (DER ECDSA-Sig-Value), or RSA PKCS#1 v1.5 over
 * a DigestInfo of the same hash.  Phase two (sg_x509_finish, sg_crl_finish)
 * wraps the same bytes, the algorithm and the signature into a Certificate
 * or CertificateList, decodes the result with OpenSSL's own X509 / X509_CRL
 * decoder and verifies the signature with the issuer's public key before
 * handing out the DER.  Signature algorithms: ecdsa-with-SHA256/384/512
 * (parameters absent) for EC P-256/P-384 issuers, sha256/384/512WithRSA-
 * Encryption (NULL parameters) for RSA 2048/3072/4096 issuers.
 *
 * This module decides nothing about what a certificate may contain: the
 * profile logic (another module) fills struct sg_cert_params and is the one
 * that refuses weak keys, foreign names, long lifetimes and so on.  Here
 * only RFC 5280's own structural rules are enforced (serial size,
 * basicConstraints and keyCertSign consistency, a subject or a SAN).  It
 * must never see a private key, a PIN or the network, never read the clock
 * and never choose serial numbers (the caller passes them).  The only
 * untrusted input it parses is a CSR, in sg_x509_csr_parse().  Every ASN.1
 * structure is encoded and decoded by OpenSSL (docs/formats.md: the
 * template types of the TBS structures).  Buffers handed out are malloc'd
 * and freed by the caller with free().  All functions are thread-safe as
 * long as the objects passed in are not modified meanwhile.
 */
#ifndef SG_X509_H
#define SG_X509_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sg_alg.h"

/* Largest CSR sg_x509_csr_parse() takes, PEM or DER (bytes). */
#define SG_CSR_MAX (16 * 1024)
/* Largest serial number, in bytes (RFC 5280 4.1.2.2: at most 20 octets as an INTEGER). */
#define SG_X509_SERIAL_MAX 20
/* Caps of the lists of struct sg_cert_params. */
#define SG_X509_MAX_EKU 16
#define SG_X509_MAX_POLICIES 16
/* URLs of the CRL distribution point and AIA, in bytes. */
#define SG_X509_MAX_URL 2048
/* Entries of one CRL (sg_crl_begin: SG_ERR_LIMIT above). */
#define SG_CRL_MAX_ENTRIES 1000000

/*
 * Parses a CSR (PEM "CERTIFICATE REQUEST" or DER, at most SG_CSR_MAX
 * bytes, exactly one, no trailing bytes) and checks its self-signature
 * (proof of possession) with the public key it holds.
 *
 * PEM: the input starts with "-----BEGIN CERTIFICATE REQUEST-----" (or the
 * legacy "NEW CERTIFICATE REQUEST" that Windows certreq writes) after
 * optional white space, has no PEM headers (Proc-Type, ...), and nothing but
 * white space follows the END line.  Otherwise the whole input must be one
 * DER CertificationRequest (OpenSSL's decoder also takes some BER, which is
 * harmless: sg_x509_begin() re-encodes the subject and the key).  The
 * version must be v1 (0).  Any key type
 * OpenSSL can decode is accepted (RSA-1024 and Ed25519 included): refusing
 * keys, subjects and requested extensions is the profile's job.
 *
 * On success *out is the request (X509_REQ_free by the caller).  Errors
 * (*out NULL): SG_ERR_INVALID_ARG (NULL argument), SG_ERR_CSR_INVALID
 * (empty, larger than SG_CSR_MAX, garbage, truncated, trailing bytes, a PEM
 * block of another type, several blocks, not v1, a public key OpenSSL
 * cannot decode), SG_ERR_CSR_SIGNATURE (the signature does not verify, or
 * its algorithm is unknown), SG_ERR_NOMEM.
 */
int sg_x509_csr_parse(const unsigned char *in, size_t len, X509_REQ **out);

/*
 * Everything a certificate will hold; the profile logic fills it.  All
 * pointers are borrowed for the duration of sg_x509_begin() only.
 */
struct sg_cert_params {
	EVP_PKEY *pubkey; /* subject public key (from the CSR) */
	X509_NAME
	*subject; /* re-encoded entry by entry (DER whatever the CSR held); may be empty */
	/* subjectAltName: NULL for none; non-critical, or critical when the subject is empty
	 * (then required, RFC 5280 4.2.1.6); at least one name when given. */
	GENERAL_NAMES *sans;
	/* Serial number: unsigned big-endian (leading zero bytes allowed), nonzero and below
	 * 2^159 so that its DER INTEGER takes at most 20 octets.  Chosen by the caller. */
	unsigned char serial[SG_X509_SERIAL_MAX];
	size_t serial_len;
	time_t not_before, not_after; /* not_after > not_before; UTCTime through 2049 */
	/* basicConstraints, always present and critical: cA = is_ca; pathLenConstraint =
	 * path_len when >= 0 (CA only), none when < 0. */
	int is_ca;
	int path_len;
	/* keyUsage (critical): KU_* bits of openssl/x509v3.h, 0 = no extension.
	 * KU_KEY_CERT_SIGN needs is_ca (RFC 5280 4.2.1.3). */
	unsigned key_usage;
	const int *eku_nids; /* extendedKeyUsage (non-critical): NIDs, n_eku = 0 for none */
	size_t n_eku;        /* at most SG_X509_MAX_EKU */
	NAME_CONSTRAINTS *name_constraints; /* NULL for none; CA only; critical */
	/* One fullName URI each, NULL for none: cRLDistributionPoints, authorityInfoAccess
	 * caIssuers and ocsp (both non-critical; at most SG_X509_MAX_URL bytes). */
	const char *crl_dp_url, *aia_issuer_url, *aia_ocsp_url;
	/* certificatePolicies (non-critical): dotted OIDs, no qualifiers; 0 for none. */
	const char *const *policy_oids;
	size_t n_policies; /* at most SG_X509_MAX_POLICIES */
	X509 *issuer;      /* issuing CA certificate: issuer name, AKI, signature algorithm */
	enum sg_hash hash; /* signature hash: SHA-256/384/512 */
};

struct sg_x509_build;

/*
 * Phase one of a certificate: the TBSCertificate, version 3, with the
 * serial, the issuer's subject name as issuer, the validity, the subject
 * and its public key, the signature algorithm for the issuer's key and
 * p->hash, and the extensions in this order: subjectKeyIdentifier (SHA-1 of
 * the subjectPublicKey bits, RFC 5280 4.2.1.2 method 1), authorityKey-
 * Identifier (keyIdentifier = the issuer's SKI, or the same SHA-1 of its
 * key if it has none), basicConstraints, keyUsage, extendedKeyUsage,
 * subjectAltName, nameConstraints, certificatePolicies,
 * cRLDistributionPoints, authorityInfoAccess (each only when asked).
 *
 * On success *out is a build owned by the caller (sg_x509_build_free) and
 * tbs[0..*tbs_len) the digest with p->hash of the DER TBSCertificate.
 * Errors (*out NULL): SG_ERR_INVALID_ARG (NULL argument or pointer field
 * that is required, hash not SHA-256/384/512, issuer key not EC P-256/P-384
 * or RSA 2048/3072/4096, serial zero / too long / >= 2^159, not_after <=
 * not_before or a time ASN.1 cannot hold, path_len >= 0 or keyCertSign or
 * name constraints without is_ca, unknown key-usage bits, empty subject
 * without SANs, an empty SAN list, unknown EKU NID, a policy that is not a
 * canonical dotted OID, a URL empty or too long, a list over its cap),
 * SG_ERR_NOMEM, SG_ERR_INTERNAL.
 */
int sg_x509_begin(const struct sg_cert_params *p, struct sg_x509_build **out,
                  unsigned char tbs[SG_HASH_MAX_LEN], size_t *tbs_len);

/*
 * Phase two of a certificate: sig[0..sig_len) (the HSM's signature over
 * tbs) goes in, the Certificate is encoded, decoded again by d2i_X509() and
 * its signature verified with the issuer's public key.  On success *der
 * (malloc'd) holds the DER certificate.  Errors (*der NULL):
 * SG_ERR_INVALID_ARG (NULL argument, a CRL build, sig_len 0 or larger than
 * the issuer key allows), SG_ERR_SELF_VERIFY (the signature does not
 * verify), SG_ERR_NOMEM, SG_ERR_INTERNAL.  The build stays the caller's and
 * may be finished again (e.g. after a failure).
 */
int sg_x509_finish(struct sg_x509_build *b, const unsigned char *sig, size_t sig_len,
                   unsigned char **der, size_t *der_len);

/* Frees a certificate or CRL build; NULL-safe. */
void sg_x509_build_free(struct sg_x509_build *b);

/*
 * The signatureAlgorithm with which cert's key signs with hash, set into
 * alg (RFC 5758 ecdsa-with-SHA256/384/512 with parameters absent; RFC 4055
 * sha256/384/512WithRSAEncryption with NULL parameters), and the key's
 * algorithm into *keyalg (it bounds the signature length).  Shared with
 * sg_ocsp.  Errors: SG_ERR_INVALID_ARG (NULL argument, a key sg_cms does
 * not support: EC P-256/P-384 and RSA 2048/3072/4096 only, a hash other
 * than SHA-256/384/512), SG_ERR_INTERNAL.
 */
int sg_x509_sig_alg(const X509 *cert, enum sg_hash hash, X509_ALGOR *alg, enum sg_keyalg *keyalg);

/*
 * 1 if reason may go into a CRL entry or an OCSP revocation: -1
 * (CRL_REASON_NONE) and 0 (unspecified, written as no reason at all), and
 * 1..6, 9, 10; 0 for removeFromCRL (8, delta CRLs only), 7 and anything
 * else.
 */
int sg_crl_reason_valid(int reason);

/* One revoked certificate of a CRL. */
struct sg_crl_entry {
	unsigned char serial[SG_X509_SERIAL_MAX]; /* same rules as sg_cert_params.serial */
	size_t serial_len;
	time_t revoked_at;
	/* CRL_REASON_* of openssl/x509v3.h: -1 (CRL_REASON_NONE) or 0 (unspecified) for no
	 * reasonCode (RFC 5280 5.3.1: unspecified SHOULD be absent); 1..6, 9, 10 otherwise.
	 * removeFromCRL (8) belongs to delta CRLs and is refused. */
	int reason;
};

/*
 * Phase one of a CRL v2 (RFC 5280 5.1) of issuer: signature algorithm for
 * the issuer's key and hash, issuer = the issuer's subject name,
 * thisUpdate, nextUpdate, one revokedCertificates entry per e[i] (userCert-
 * ificate, revocationDate, reasonCode extension unless none/unspecified),
 * sorted by serial number whatever the order of e, and the CRL extensions
 * authorityKeyIdentifier (as in certificates) and cRLNumber (non-critical).
 * No revokedCertificates field at all when n is 0.  Times: UTCTime
 * through 2049, GeneralizedTime from 2050.
 *
 * On success *out is a build (sg_x509_build_free) and tbs[0..*tbs_len) the
 * digest with hash of the DER TBSCertList.  Errors (*out NULL):
 * SG_ERR_INVALID_ARG (NULL argument, e NULL with n > 0, hash or issuer key
 * unsupported, next_update <= this_update or a time ASN.1 cannot hold, a
 * serial as refused by sg_x509_begin, the same serial twice, a reason
 * outside the list above), SG_ERR_LIMIT (n > SG_CRL_MAX_ENTRIES),
 * SG_ERR_NOMEM, SG_ERR_INTERNAL.
 */
int sg_crl_begin(X509 *issuer, const struct sg_crl_entry *e, size_t n, uint64_t crl_number,
                 time_t this_update, time_t next_update, enum sg_hash hash,
                 struct sg_x509_build **out, unsigned char tbs[SG_HASH_MAX_LEN], size_t *tbs_len);

/*
 * Phase two of a CRL: as sg_x509_finish(), with d2i_X509_CRL() and
 * X509_CRL_verify(); SG_ERR_INVALID_ARG for a certificate build.
 */
int sg_crl_finish(struct sg_x509_build *b, const unsigned char *sig, size_t sig_len,
                  unsigned char **der, size_t *der_len);

#endif /* SG_X509_H */
