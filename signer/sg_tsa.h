/*
 * sg_tsa: an RFC 3161 time-stamping authority whose signature is computed
 * elsewhere (the TSA key lives in the HSM).  Two phases, like sg_cms:
 * sg_tsa_begin() parses and checks a TimeStampReq and either answers it
 * with a rejection at once or builds the TSTInfo and the token's SignedData
 * and hands out the digest to sign; sg_tsa_finish() puts the signature in,
 * checks it and encodes the granted TimeStampResp.
 *
 * The token (docs/formats.md): SignedData version 3 with eContentType
 * id-smime-ct-TSTInfo and the DER TSTInfo as eContent; signed attributes
 * contentType, messageDigest, signingCertificateV2 and
 * CMSAlgorithmProtection; the TSA certificate and its chain only when the
 * request asks for them (certReq).  TSTInfo: version 1, the policy asked for
 * (if accepted) or the default one, the request's messageImprint, the
 * caller's serial number, genTime to the millisecond, the configured
 * accuracy, ordering false (omitted), the request's nonce if any.
 *
 * The request is untrusted input from the network: it is parsed by OpenSSL
 * from at most SG_TSA_MAX_REQ bytes, must be exactly one DER TimeStampReq,
 * and anything refused gets a rejection response, never a crash.  This
 * module never holds a private key, never chooses serial numbers (the
 * caller makes them unique and persistent) and never reads the clock (the
 * caller passes the time).  Buffers handed out are malloc'd, freed with
 * free().
 */
#ifndef SG_TSA_H
#define SG_TSA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sg_cms.h"

#define SG_TSA_MAX_REQ 16384

/*
 * PKIFailureInfo (RFC 3161 2.4.2) as masks: *failinfo of sg_tsa_begin() is
 * 1 << (the bit of the BIT STRING), so that 0 means granted.
 */
#define SG_TSA_FAIL_BAD_ALG (1 << 0)                 /* unrecognized or unsupported hash */
#define SG_TSA_FAIL_BAD_REQUEST (1 << 2)             /* transaction not permitted/supported */
#define SG_TSA_FAIL_BAD_DATA_FORMAT (1 << 5)         /* data submitted has the wrong format */
#define SG_TSA_FAIL_TIME_NOT_AVAILABLE (1 << 14)     /* the TSA's time source is not available */
#define SG_TSA_FAIL_UNACCEPTED_POLICY (1 << 15)      /* requested policy not supported */
#define SG_TSA_FAIL_UNACCEPTED_EXTENSION (1 << 16)   /* requested extension not supported */
#define SG_TSA_FAIL_ADD_INFO_NOT_AVAILABLE (1 << 17) /* additional information not available */
#define SG_TSA_FAIL_SYSTEM_FAILURE (1 << 25)         /* the request cannot be handled */

/* Maximum nonce length sg_tsa_make_request() takes, in bytes. */
#define SG_TSA_MAX_NONCE 64

struct sg_tsa_config {
	const char *policy_oid; /* default TSA policy, dotted OID */
	const char *const *accepted_policies;
	size_t n_accepted;   /* other dotted OIDs a request may ask for (at most 64) */
	unsigned hashes;     /* bit (1u << enum sg_hash) per accepted imprint hash */
	unsigned accuracy_s; /* stated accuracy; all 0 = omitted */
	unsigned accuracy_ms, accuracy_us; /* 0..999 each */
	enum sg_hash sign_hash;            /* hash of the token signature */
	/* TSA cert (EKU timeStamping, critical, sole EKU) + chain; taken by reference. */
	const struct sg_cms_identity *id;
};

struct sg_tsa;

/*
 * A TSA for cfg, which is copied (the certificates are referenced, not
 * copied: they must not be modified while the TSA lives).  Checks that the
 * policies are dotted OIDs, hashes holds only sha256/384/512 bits and at
 * least one, accuracy_ms/us are at most 999, sign_hash is a hash, and the
 * certificate's key is one sg_cms supports and the certificate is fit for
 * time-stamping (extendedKeyUsage present, critical, timeStamping alone; a
 * keyUsage, if any, only digitalSignature/nonRepudiation).  Returns NULL
 * with the reason in why (why_len bytes, always terminated) on failure.
 */
struct sg_tsa *sg_tsa_new(const struct sg_tsa_config *cfg, char *why, size_t why_len);

/* Frees a TSA; NULL-safe.  Builds made by it stay valid (they hold their own references). */
void sg_tsa_free(struct sg_tsa *t);

/*
 * Parses the DER TimeStampReq req[0..req_len) and starts its answer.
 * Safe to call from several threads at once on the same TSA.
 *
 * Rejected (returns 0, *build NULL, *resp a malloc'd DER TimeStampResp with
 * PKIStatus rejection(2), one PKIFailureInfo bit and a statusString;
 * *failinfo = that bit as an SG_TSA_FAIL_* mask), checked in this order:
 *   - badDataFormat: empty or more than SG_TSA_MAX_REQ bytes, not a
 *     TimeStampReq, trailing bytes, not DER (re-encoding differs);
 *   - badRequest: version other than 1;
 *   - badAlg: imprint hash not sha256/384/512, not in cfg->hashes, or with
 *     parameters other than absent or NULL;
 *   - badDataFormat: imprint length != the hash's length;
 *   - unacceptedPolicy: reqPolicy neither the default nor an accepted one;
 *   - unacceptedExtension: any extension (RFC 3161 2.4.1: an extension the
 *     TSA does not recognize, critical or not, is refused; none is
 *     recognized);
 *   - systemFailure: now outside the TSA certificate's validity.
 * Granted (returns 0, *resp NULL, *failinfo 0): *build holds the token and
 * tbs[0..*tbs_len) the digest with cfg->sign_hash of its signed attributes,
 * to be signed by the TSA key (sign.digest semantics); finish with
 * sg_tsa_finish(), free with sg_cms_build_free().  genTime is now, in UTC,
 * with milliseconds (trailing zeros and a zero fraction left out).
 *
 * Errors (nothing allocated, *build and *resp NULL): SG_ERR_INVALID_ARG
 * (NULL argument, req NULL with req_len > 0, now->tv_nsec out of range or
 * a time OpenSSL cannot represent), SG_ERR_NOMEM, SG_ERR_INTERNAL.
 */
int sg_tsa_begin(const struct sg_tsa *t, const unsigned char *req, size_t req_len, uint64_t serial,
                 const struct timespec *now, struct sg_cms_build **build,
                 unsigned char tbs[SG_HASH_MAX_LEN], size_t *tbs_len, unsigned char **resp,
                 size_t *resp_len, int *failinfo);

/*
 * Phase two of a granted request: puts sig in (see sg_cms_finish(), which
 * checks it with the TSA certificate's public key) and encodes the
 * TimeStampResp with status granted(0) and the token into a malloc'd
 * *resp.  Errors (*resp NULL): SG_ERR_INVALID_ARG (NULL argument, a build
 * that is not a time-stamp token, bad signature length),
 * SG_ERR_SELF_VERIFY, SG_ERR_NOMEM, SG_ERR_INTERNAL.  The build stays the
 * caller's.
 */
int sg_tsa_finish(struct sg_cms_build *b, const unsigned char *sig, size_t sig_len,
                  unsigned char **resp, size_t *resp_len);

/*
 * A DER TimeStampResp with PKIStatus rejection(2), the failure info
 * failinfo (exactly one SG_TSA_FAIL_* mask) and statusString text (UTF-8,
 * NULL for none): for the appliance when the signing itself fails after
 * sg_tsa_begin() (systemFailure).  Errors: SG_ERR_INVALID_ARG,
 * SG_ERR_NOMEM, SG_ERR_INTERNAL.
 */
int sg_tsa_reject(int failinfo, const char *text, unsigned char **resp, size_t *resp_len);

/*
 * A DER TimeStampReq like `openssl ts -query -sha256 -cert` makes: version
 * 1, messageImprint (hash OID with NULL parameters, digest[0..len)), no
 * policy, the nonce nonce[0..nonce_len) (big-endian unsigned; NULL or 0
 * bytes: none), certReq if cert_req.  Errors: SG_ERR_INVALID_ARG (NULL
 * argument, unknown hash, len != hash length, nonce_len >
 * SG_TSA_MAX_NONCE), SG_ERR_NOMEM, SG_ERR_INTERNAL.
 */
int sg_tsa_make_request(enum sg_hash hash, const unsigned char *digest, size_t len, int cert_req,
                        const unsigned char *nonce, size_t nonce_len, unsigned char **der,
                        size_t *der_len);

#endif /* SG_TSA_H */
