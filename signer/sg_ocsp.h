/*
 * sg_ocsp: an RFC 6960 OCSP responder's formats, whose signature is
 * computed elsewhere (the CA key or a delegated OCSP-signing key lives in
 * the HSM).  sg_ocsp_parse_request() reads an OCSPRequest from the
 * network; sg_ocsp_begin() builds the ResponseData of a successful
 * BasicOCSPResponse and hands out the digest of its DER encoding, which
 * the HSM signs (sign.digest semantics, like sg_cms and sg_x509);
 * sg_ocsp_finish() puts the signature in, decodes the OCSPResponse with
 * OpenSSL and verifies it before handing it out.  sg_ocsp_error_response()
 * answers without a body.
 *
 * This module knows nothing about which certificates exist or are
 * revoked: the caller looks every query up (sg_ocsp_query_matches() tells
 * whether a query is about one of its CAs) and passes the statuses in.  It
 * never holds a private key, never reads the clock (the caller passes the
 * times) and never touches the network.  Every ASN.1 structure is encoded
 * and decoded by OpenSSL (docs/formats.md: the template types that mirror
 * RFC 6960 where OpenSSL's types have no setter or accessor).  Buffers
 * handed out are malloc'd, freed with free().  Thread-safe as long as the
 * certificates passed in are not modified meanwhile.
 */
#ifndef SG_OCSP_H
#define SG_OCSP_H

#include <stddef.h>
#include <time.h>

#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "sg_alg.h"

/* Largest OCSPRequest sg_ocsp_parse_request() reads, in bytes. */
#define SG_OCSP_MAX_REQ (16 * 1024)
/* Most CertIDs in one request (and SingleResponses in one response). */
#define SG_OCSP_MAX_QUERIES 16
/* Longest nonce (RFC 8954 2.1: 1..32 octets). */
#define SG_OCSP_MAX_NONCE 32

/* One CertID of a request (RFC 6960 4.1.1). */
struct sg_ocsp_query {
	/* Hash of the CertID as a NID: NID_sha1 (what `openssl ocsp` sends by default),
	 * NID_sha256, NID_sha384 or NID_sha512 (enum sg_hash has no SHA-1). */
	int id_hash;
	unsigned char name_hash[64], key_hash[64]; /* issuerNameHash, issuerKeyHash */
	size_t hash_len;                           /* the hash's length, both */
	/* serialNumber: unsigned big-endian without leading zero bytes (zero is {0}, 1 byte). */
	unsigned char serial[20];
	size_t serial_len; /* 1..20 */
};

/*
 * Parses the DER OCSPRequest der[0..len) (at most SG_OCSP_MAX_REQ bytes)
 * into q[0..*n) (at most max and at most SG_OCSP_MAX_QUERIES CertIDs, at
 * least one) and its nonce (id-pkix-ocsp-nonce, RFC 8954: an OCTET STRING
 * of 1..SG_OCSP_MAX_NONCE octets inside the extension value) into
 * nonce[0..*nonce_len) (*nonce_len 0 when there is none; nonce must hold
 * SG_OCSP_MAX_NONCE bytes).
 *
 * Accepted: version v1 only; a requestorName (ignored); a signed request,
 * whose signature and certificates are parsed but neither checked nor used
 * (this responder answers anyone; RFC 6960 4.1.2 makes signing optional);
 * extensions other than the nonce, in the request or in a CertID's
 * singleRequestExtensions, only when non-critical (they are ignored).
 * Refused with SG_ERR_MALFORMED (*n and *nonce_len 0; q and nonce may
 * have been written to and mean nothing): empty, larger
 * than SG_OCSP_MAX_REQ, not exactly one OCSPRequest, not DER (its
 * re-encoding differs), another version, no CertID or more than allowed,
 * a CertID hash other than those above or with parameters other than
 * absent/NULL, hashes of the wrong length, a negative serial or one longer
 * than 20 octets, a nonce twice or outside 1..32 octets or not an OCTET
 * STRING, an unknown critical extension.  Other errors: SG_ERR_INVALID_ARG
 * (NULL argument), SG_ERR_NOMEM.
 */
int sg_ocsp_parse_request(const unsigned char *der, size_t len, struct sg_ocsp_query *q, size_t max,
                          size_t *n, unsigned char *nonce, size_t *nonce_len);

/*
 * 1 if the query's CertID names a certificate issued by issuer: its
 * issuerNameHash is the hash of the DER of issuer's subject name and its
 * issuerKeyHash the hash of issuer's subjectPublicKey bits (RFC 6960
 * 4.1.1), with the query's hash.  0 otherwise, and for NULL arguments.
 */
int sg_ocsp_query_matches(const struct sg_ocsp_query *q, X509 *issuer);

/* The status of one query, as the caller found it. */
struct sg_ocsp_status {
	int status;        /* V_OCSP_CERTSTATUS_GOOD, _REVOKED or _UNKNOWN */
	time_t revoked_at; /* revoked only */
	/* Revoked only: CRL_REASON_* as in sg_crl_entry (-1 or 0: no revocationReason). */
	int reason;
};

struct sg_ocsp_build;

/*
 * Phase one of a successful BasicOCSPResponse for q[0..n) with the
 * statuses st[0..n): ResponseData v1 (version omitted), responderID byKey
 * (SHA-1 of signer's public key bits), producedAt = produced_at, one
 * SingleResponse per query in order (certID with the query's hash and
 * NULL parameters, the status, thisUpdate = produced_at, nextUpdate =
 * next_update, no singleExtensions), and responseExtensions holding the
 * nonce nonce[0..nonce_len) when nonce_len > 0 (echoed as the request
 * carried it: an OCTET STRING inside the extension value, non-critical).
 * All times are GeneralizedTime.  The signature algorithm is that of
 * signer's key with hash, as for certificates.
 *
 * signer is issuer itself, or a delegated responder: a certificate issued
 * by issuer (X509_check_issued) with extendedKeyUsage id-kp-OCSPSigning,
 * which then goes into the response's certs (RFC 6960 4.2.2.2) so that
 * clients can check it.  Every query must match issuer
 * (sg_ocsp_query_matches): clients refuse a response about another CA's
 * certificates anyway, so the caller answers those itself (unknown, or
 * unauthorized).
 *
 * On success *out is a build (sg_ocsp_build_free) and tbs[0..*tbs_len) the
 * digest with hash of the DER ResponseData.  Errors (*out NULL):
 * SG_ERR_INVALID_ARG (NULL argument, n 0 or over SG_OCSP_MAX_QUERIES,
 * nonce_len over SG_OCSP_MAX_NONCE or nonce NULL with nonce_len > 0,
 * next_update <= produced_at, a status or reason out of range, a query for
 * another issuer, a signer that is neither issuer nor a delegated
 * responder of it, a signer key or hash sg_x509 does not support),
 * SG_ERR_NOMEM, SG_ERR_INTERNAL.
 */
int sg_ocsp_begin(X509 *signer, X509 *issuer, const struct sg_ocsp_query *q,
                  const struct sg_ocsp_status *st, size_t n, const unsigned char *nonce,
                  size_t nonce_len, time_t produced_at, time_t next_update, enum sg_hash hash,
                  struct sg_ocsp_build **out, unsigned char tbs[SG_HASH_MAX_LEN], size_t *tbs_len);

/*
 * Phase two: sig[0..sig_len) goes in, the OCSPResponse (status
 * successful(0), responseType id-pkix-ocsp-basic) is encoded, decoded again
 * by OpenSSL and its BasicOCSPResponse verified with the signer's public
 * key, found through the responderID (OCSP_basic_verify).  On success
 * *der (malloc'd) holds the DER OCSPResponse.  Errors (*der NULL):
 * SG_ERR_INVALID_ARG (NULL argument, sig_len 0 or larger than the key
 * allows), SG_ERR_SELF_VERIFY, SG_ERR_NOMEM, SG_ERR_INTERNAL.  The build
 * stays the caller's and may be finished again.
 */
int sg_ocsp_finish(struct sg_ocsp_build *b, const unsigned char *sig, size_t sig_len,
                   unsigned char **der, size_t *der_len);

/* Frees a build; NULL-safe. */
void sg_ocsp_build_free(struct sg_ocsp_build *b);

/*
 * An OCSPResponse without responseBytes, with status malformedRequest(1),
 * internalError(2), tryLater(3) or unauthorized(6) (OCSP_RESPONSE_STATUS_*),
 * DER in a malloc'd *der.  Errors: SG_ERR_INVALID_ARG (another status,
 * NULL argument), SG_ERR_NOMEM, SG_ERR_INTERNAL.
 */
int sg_ocsp_error_response(int status, unsigned char **der, size_t *der_len);

#endif /* SG_OCSP_H */
