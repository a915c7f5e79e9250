/*
 * signet_trust: what `signet verify` trusts, and certificate path checks
 * against it (docs/cli.md, "signet verify").
 *
 * Trust material comes from files the user names (--ca, --untrusted, --crl)
 * or from a verification bundle (signet_bundle.c): trust anchors (roots) in
 * an X509_STORE, untrusted intermediates and TSA certificates, CRLs, and
 * named public keys.  Certificate paths are built and checked by OpenSSL
 * (X509_verify_cert), at a time the caller chooses: now, or the genTime of a
 * verified time-stamp.
 *
 * Revocation: when CRLs are loaded, every certificate of a path whose issuer
 * has a CRL in the set is checked against it (a CRL that does not verify or
 * has expired fails the path); a certificate whose issuer has no CRL in the
 * set is not checked for revocation.  Checked at a time-stamp's time, a CRL
 * issued later is used (that is the point), and a certificate revoked after
 * that time still verifies unless the reason is keyCompromise, cACompromise
 * or aACompromise (the compromise may predate the revocation).
 *
 * This module reads only the files it is given, never the network, and
 * never hand-parses ASN.1: PEM and DER go through OpenSSL.
 */
#ifndef SIGNET_TRUST_H
#define SIGNET_TRUST_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "sg_alg.h"
#include "sg_wire.h"

#define CLI_TRUST_NAME_MAX 256 /* a subject or issuer as printed (RFC 2253) */

/* A named public key (a bundle's keys/NAME.pem). */
struct cli_trust_key {
	char name[SG_NAME_MAX + 1];
	EVP_PKEY *pub;
};

struct cli_trust {
	X509_STORE *store;          /* the trust anchors and the CRLs */
	STACK_OF(X509) * untrusted; /* intermediates, TSA certificates */
	STACK_OF(X509_CRL) * crls;
	size_t n_roots;
	struct cli_trust_key *keys;
	size_t n_keys;
};

/* NULL on allocation failure. */
struct cli_trust *cli_trust_new(void);

/* NULL-safe. */
void cli_trust_free(struct cli_trust *t);

/* The largest trust file read (a certificate, a chain, a CRL, a key). */
#define CLI_TRUST_FILE_MAX (4 * 1024 * 1024)

/*
 * Reads the whole file at path (at most CLI_TRUST_FILE_MAX bytes) into *buf
 * (free()).  Returns 0, SG_ERR_NOT_FOUND, SG_ERR_IO, SG_ERR_LIMIT or
 * SG_ERR_NOMEM; why says which.
 */
int cli_trust_read_file(const char *path, unsigned char **buf, size_t *len, char *why,
                        size_t why_len);

/*
 * Adds every PEM certificate of the len bytes at buf (named label in
 * messages) as a trust anchor, or as an untrusted certificate (untrusted =
 * 1).  Bytes without a certificate are an error.  Returns 0, SG_ERR_CONFIG
 * (no or a bad PEM certificate) or SG_ERR_NOMEM; why says which.
 */
int cli_trust_add_certs_mem(struct cli_trust *t, const char *label, const unsigned char *buf,
                            size_t len, int untrusted, char *why, size_t why_len);

/* Adds the CRLs of buf: PEM (one or more), or exactly one DER CRL.  Errors as above. */
int cli_trust_add_crl_mem(struct cli_trust *t, const char *label, const unsigned char *buf,
                          size_t len, char *why, size_t why_len);

/* Adds the PEM public key of buf under name (a valid key name, not yet present). */
int cli_trust_add_key_mem(struct cli_trust *t, const char *name, const char *label,
                          const unsigned char *buf, size_t len, char *why, size_t why_len);

/* As the _mem functions, from the file at path (read errors of cli_trust_read_file too). */
int cli_trust_add_certs(struct cli_trust *t, const char *path, int untrusted, char *why,
                        size_t why_len);
int cli_trust_add_crl(struct cli_trust *t, const char *path, char *why, size_t why_len);

/* The named key equal to pub, or NULL. */
const struct cli_trust_key *cli_trust_key_by_pub(const struct cli_trust *t, const EVP_PKEY *pub);

/* The key called name, or NULL. */
const struct cli_trust_key *cli_trust_key_by_name(const struct cli_trust *t, const char *name);

/*
 * Makes the loaded CRLs effective (revocation checks as described above).
 * Call once, after the last add and before any verification.
 */
int cli_trust_finish(struct cli_trust *t);

/*
 * Checks the path from leaf to a trust anchor with OpenSSL, with extra (may
 * be NULL: certificates that came with the signature) and the untrusted
 * certificates as candidate intermediates, at time at; ts_time says that at
 * is a verified time-stamp's time (revocation as above).  Any purpose is
 * accepted by the path check itself: callers check the leaf's key usage.
 * Returns 0 with *chain (may be NULL; free with sk_X509_pop_free(chain, X509_free),
 * leaf first, anchor last), or SG_ERR_BAD_SIGNATURE with OpenSSL's reason
 * in why, or SG_ERR_NOMEM / SG_ERR_INTERNAL.
 */
int cli_trust_verify_path(const struct cli_trust *t, X509 *leaf, STACK_OF(X509) * extra, time_t at,
                          int ts_time, STACK_OF(X509) * *chain, char *why, size_t why_len);

/* A certificate's subject or issuer as RFC 2253 text (out: CLI_TRUST_NAME_MAX bytes). */
void cli_trust_name(const X509_NAME *name, char *out, size_t out_len);

/*
 * The Signet name of pub's algorithm ("ec-p256", "rsa-3072", ...), or a
 * description of another key ("ec-secp521r1", "rsa-1024", "ED25519").
 */
void cli_trust_key_alg(const EVP_PKEY *pub, char *out, size_t out_len);

/* SHA-256 of pub's DER SubjectPublicKeyInfo (32 bytes), as `signet keys` prints. */
int cli_trust_key_fp(const EVP_PKEY *pub, unsigned char fp[32]);

/* An ASN1_TIME as "YYYY-MM-DDTHH:MM:SSZ" (out: at least 21 bytes); "" if unreadable. */
void cli_trust_time(const ASN1_TIME *t, char *out, size_t out_len);

/* A time_t as "YYYY-MM-DDTHH:MM:SSZ". */
void cli_trust_time_t(time_t t, char *out, size_t out_len);

#endif /* SIGNET_TRUST_H */
