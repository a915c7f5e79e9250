/*
 * signet_pkix: verification of CMS detached signatures (.p7s) and RFC 3161
 * time-stamps (.tsr responses, bare tokens) over a file, for `signet verify`
 * (docs/cli.md).
 *
 * CMS: one DER ContentInfo of a detached SignedData with exactly one
 * SignerInfo.  OpenSSL's CMS_verify finds the signer's certificate and
 * checks the signature over the signed attributes; the file is hashed by
 * the CLI's streaming reader (signet_file) into the digest context that
 * CMS_SignerInfo_verify_content then compares with messageDigest (or, with
 * no signed attributes, verifies the signature over).  An embedded
 * time-stamp (unsigned attribute id-aa-signatureTimeStampToken, RFC 3161
 * appendix A) is verified with TS_RESP_verify_token against the hash of the
 * SignerInfo's signature value; when it verifies, the signer's certificate
 * path is checked at its genTime (so a certificate that expired since still
 * verifies), otherwise at the current time.  A time-stamp that is present
 * and does not verify fails the whole signature.  The signer's certificate
 * must allow digital signatures and, if it has an extended key usage, code
 * signing.
 *
 * Time-stamps: TS_RESP_verify_token checks the TSA's signature, its
 * certificate path (purpose timeStamping, at the current time), the
 * version, the TSA name against the signer, and the imprint against the
 * file's hash with the token's hash algorithm.
 *
 * Accepted hashes: SHA-256, SHA-384, SHA-512.  Nothing here parses ASN.1 by
 * hand or reaches the network.
 */
#ifndef SIGNET_PKIX_H
#define SIGNET_PKIX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <openssl/evp.h>

#include "signet_trust.h"

#define CLI_CHAIN_MAX 10 /* certificates of a path reported */

/* What a signature file holds. */
enum cli_sigfmt {
	CLI_SIG_RAW = 0, /* anything else: a raw signature */
	CLI_SIG_CMS,     /* a CMS SignedData ContentInfo */
	CLI_SIG_TSR,     /* an RFC 3161 TimeStampResp */
	CLI_SIG_TST,     /* a bare TimeStampToken (a SignedData of TSTInfo) */
};

/* Detects the format of len bytes of DER (each candidate must use all the bytes). */
enum cli_sigfmt cli_sig_detect(const unsigned char *der, size_t len);

/* "raw", "cms", "tsr", "tst". */
const char *cli_sigfmt_name(enum cli_sigfmt f);

/* A time-stamp as read from its token (and, when verified, who signed it). */
struct cli_ts_info {
	int present;
	int verified;
	time_t gen_time;
	char time[32];                     /* genTime, "YYYY-MM-DDTHH:MM:SSZ" */
	char tsa[CLI_TRUST_NAME_MAX];      /* subject of the TSA's certificate */
	char tsa_name[CLI_TRUST_NAME_MAX]; /* the TSTInfo's tsa field; "" if absent */
	char serial[128];                  /* lowercase hex */
	char policy[128];                  /* dotted OID */
	char hash[16];                     /* the imprint's hash */
	int has_accuracy;
	char accuracy[32]; /* seconds, decimal */
	char nonce[128];   /* lowercase hex; "" if absent */
};

/* The outcome of a CMS or time-stamp verification, for printing. */
struct cli_vresult {
	enum cli_sigfmt format;
	int err;            /* 0, or why it failed (SG_ERR_BAD_SIGNATURE for a verdict) */
	const char *failed; /* the check that failed: "format", "signature", "timestamp",
	                       "certificate", "key", "content"; NULL when verified */
	char reason[768];
	/* CMS: the signer */
	int has_signer;
	char subject[CLI_TRUST_NAME_MAX];
	char issuer[CLI_TRUST_NAME_MAX];
	char serial[128];
	char not_before[32], not_after[32];
	char key_name[SG_NAME_MAX + 1]; /* "" when the key is not known by name */
	char key_alg[48];
	unsigned char key_fp[32];
	char digest_alg[16];
	char sig_alg[64];
	char signing_time[32]; /* signingTime attribute; "" if absent */
	struct cli_ts_info ts;
	char chain[CLI_CHAIN_MAX][CLI_TRUST_NAME_MAX];
	size_t n_chain;
	char checked_at[32];    /* when the certificate path was checked */
	const char *checked_by; /* "timestamp" or "now" */
	/* The file */
	unsigned char digest[EVP_MAX_MD_SIZE];
	size_t digest_len;
	uint64_t size;
};

/*
 * Verifies the CMS der (len bytes) over the file at path with trust t.
 * want (may be NULL) is a public key the signer must have, called
 * want_name.  Fills *res.  Returns 0 when everything verifies,
 * SG_ERR_BAD_SIGNATURE for a verdict against it (res->failed and
 * res->reason say why), or a local error reading the file (SG_ERR_NOT_FOUND,
 * SG_ERR_IO, SG_ERR_CHANGED: res->reason says more), SG_ERR_NOMEM or
 * SG_ERR_INTERNAL.
 */
int cli_verify_cms(const char *path, const unsigned char *der, size_t len,
                   const struct cli_trust *t, const EVP_PKEY *want, const char *want_name,
                   struct cli_vresult *res);

/*
 * Verifies a time-stamp (a TimeStampResp, or a bare token when fmt is
 * CLI_SIG_TST) over the file at path.  Returns as cli_verify_cms; a
 * response whose status is not granted is SG_ERR_BAD_SIGNATURE.
 */
int cli_verify_ts(const char *path, const unsigned char *der, size_t len, enum cli_sigfmt fmt,
                  const struct cli_trust *t, struct cli_vresult *res);

/*
 * Checks a CMS that the appliance made over a file whose md digest is
 * digest, before it is written (the CLI has no trust anchors here, so no
 * certificate path): one detached SignerInfo with digest algorithm md, a
 * signer certificate holding pub (and equal to the DER cert, when not
 * NULL), a signature over the signed attributes that verifies (CMS_verify),
 * messageDigest equal to digest, and, when want_ts, an embedded time-stamp
 * token whose imprint is the hash of the signature value.  Returns 0 or
 * SG_ERR_SELF_VERIFY with why.
 */
int cli_cms_selfcheck(const unsigned char *der, size_t len, const EVP_MD *md,
                      const unsigned char *digest, size_t digest_len, const EVP_PKEY *pub,
                      const unsigned char *cert, size_t cert_len, int want_ts, char *why,
                      size_t why_len);

/*
 * Checks a TimeStampResp before it is written: granted, a token of version
 * 1 whose imprint is imprint (imprint form), or that answers the DER
 * TimeStampReq tsq (request form: imprint, nonce, policy; imprint NULL).
 * The TSA's signature is not checked here (no trust anchors).  Fills *ts
 * from the token when there is one.  Returns 0, SG_ERR_DENIED (not granted:
 * *status says how), or SG_ERR_SELF_VERIFY with why.
 */
int cli_tsr_selfcheck(const unsigned char *der, size_t len, const unsigned char *imprint,
                      size_t imprint_len, const unsigned char *tsq, size_t tsq_len,
                      struct cli_ts_info *ts, long *status, char *why, size_t why_len);

/* Human report (on f) of a result: the signer, key, times, path. */
void cli_vresult_print(FILE *f, const struct cli_vresult *res);

/* The members of a JSON object describing res (no braces; starts with a comma). */
void cli_vresult_json(FILE *f, const struct cli_vresult *res);

#endif /* SIGNET_PKIX_H */
