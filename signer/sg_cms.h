/*
 * sg_cms: two-phase builder of CMS SignedData (RFC 5652) whose signature is
 * computed elsewhere, by the HSM through the appliance's signer.
 *
 * Phase one (sg_cms_begin*) builds the SignedData with its signed
 * attributes and hands out tbs: the digest, with the SignerInfo's digest
 * algorithm, of the DER encoding of the signed attributes (a SET OF, sorted
 * as DER requires, exactly as it appears in the output).  That digest is
 * what sign.digest signs: ECDSA over the digest (DER ECDSA-Sig-Value), or
 * RSA PKCS#1 v1.5 over a DigestInfo of the same hash.  Phase two
 * (sg_cms_finish) puts the signature in, encodes the SignedData, decodes
 * that encoding again and verifies the signature with the certificate's
 * public key before handing the bytes out.
 *
 * Signed attributes (docs/formats.md): contentType, signingTime (detached
 * CMS), messageDigest, signingCertificateV2 (time-stamp tokens) and
 * CMSAlgorithmProtection (RFC 6211) with the SignerInfo's digest and
 * signature algorithms.  Signature algorithms: ecdsa-with-SHA256/384/512
 * for EC keys, rsaEncryption (PKCS#1 v1.5) for RSA keys.
 *
 * This module only ever holds certificates and public keys: it must never
 * see a private key, a PIN or the network; it parses untrusted CMS and
 * TimeStampResp input only in sg_cms_signature_value() and
 * sg_cms_add_timestamp(), which refuse anything but one DER SignedData with
 * one SignerInfo.  Every ASN.1 structure is built and parsed by OpenSSL.
 * Buffers handed out are malloc'd and freed by the caller with free().
 */
#ifndef SG_CMS_H
#define SG_CMS_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "sg_alg.h"

/* Largest CMS or TimeStampResp the parsing helpers accept (SG_ERR_TOO_LARGE). */
#define SG_CMS_MAX_DER (1024 * 1024)

/*
 * A signer: its certificate and the intermediates up to (not including) the
 * root, in any order.  Both borrowed: they must outlive the calls that take
 * them (a build keeps its own reference to what it needs).
 */
struct sg_cms_identity {
	X509 *cert;
	STACK_OF(X509) * chain; /* intermediates; NULL or empty for none */
};

struct sg_cms_build;

/*
 * The Signet key algorithm of the public key in cert: EC P-256/P-384, RSA
 * 2048/3072/4096.  SG_ERR_INVALID_ARG for any other key (including RSA-PSS
 * keys, Ed25519, other curves and sizes) or a NULL argument.
 */
int sg_cms_cert_keyalg(const X509 *cert, enum sg_keyalg *alg);

/*
 * The Signet hash whose OID is obj (sha256, sha384, sha512): 0, or
 * SG_ERR_UNKNOWN_HASH for any other OID or NULL.
 */
int sg_cms_hash_by_obj(const ASN1_OBJECT *obj, enum sg_hash *hash);

/* What to build; see sg_cms_begin(). */
struct sg_cms_params {
	int content_type; /* NID of eContentType: NID_pkcs7_data, NID_id_smime_ct_TSTInfo, ... */
	/* Encapsulated content, or NULL for a detached SignedData (no eContent). */
	const unsigned char *content;
	size_t content_len; /* at most SG_CMS_MAX_DER */
	/* Detached only: the digest of the content with the build's hash. */
	const unsigned char *digest;
	size_t digest_len;
	const time_t *signing_time; /* NULL: no signingTime attribute */
	int signing_cert_v2;        /* add ESS signingCertificateV2 (RFC 5035) for the signer */
	int no_certs;               /* leave out the certificates (else signer cert + chain) */
};

/*
 * Phase one: a SignedData with one SignerInfo for id->cert (identified by
 * issuer and serial number), digest algorithm hash, and the signed
 * attributes contentType (= p->content_type), signingTime if asked,
 * messageDigest (the given digest when detached, else the digest of the
 * content computed here), signingCertificateV2 if asked, and
 * CMSAlgorithmProtection.  Certificates: id->cert and id->chain (each once)
 * unless p->no_certs.  SignedData version 1 for id-data, 3 otherwise.
 *
 * On success *out is a build owned by the caller (sg_cms_build_free) and
 * tbs[0..*tbs_len) the digest with hash of the DER signed attributes, which
 * the HSM signs.  Errors (nothing allocated, *out NULL): SG_ERR_INVALID_ARG
 * (NULL argument, hash not sha256/384/512, digest length != hash length,
 * digest given with content or missing without, unknown content type,
 * content too large, unsupported key type, a signing time ASN.1 cannot
 * represent), SG_ERR_NOMEM, SG_ERR_INTERNAL.
 * Thread-safe as long as id's certificates are not modified meanwhile.
 */
int sg_cms_begin(const struct sg_cms_identity *id, enum sg_hash hash, const struct sg_cms_params *p,
                 struct sg_cms_build **out, unsigned char tbs[SG_HASH_MAX_LEN], size_t *tbs_len);

/*
 * Phase one of a detached CMS signature of content whose digest with hash
 * is digest[0..digest_len): eContentType id-data without eContent, signed
 * attributes contentType, signingTime = at, messageDigest and
 * CMSAlgorithmProtection, certificates id->cert and id->chain.  Nothing here
 * checks that at lies within the certificate's validity: that is the
 * caller's policy.  Same contract and errors as sg_cms_begin().
 */
int sg_cms_begin_detached(const struct sg_cms_identity *id, enum sg_hash hash,
                          const unsigned char *digest, size_t digest_len, time_t at,
                          struct sg_cms_build **out, unsigned char tbs[SG_HASH_MAX_LEN],
                          size_t *tbs_len);

/*
 * Phase two: makes sig[0..sig_len) (DER ECDSA-Sig-Value, or the RSA
 * signature) the SignerInfo's signature, encodes the ContentInfo as DER,
 * decodes it again and verifies the signature over the decoded signed
 * attributes with the public key of the build's certificate.  On success
 * *der (malloc'd, freed by the caller) holds the DER ContentInfo.  Errors
 * (*der NULL): SG_ERR_INVALID_ARG (NULL argument, sig_len 0 or larger than
 * the key allows), SG_ERR_SELF_VERIFY (the signature does not verify),
 * SG_ERR_NOMEM, SG_ERR_INTERNAL.  The build stays owned by the caller and
 * may be finished again (e.g. with another signature after a failure).
 */
int sg_cms_finish(struct sg_cms_build *b, const unsigned char *sig, size_t sig_len,
                  unsigned char **der, size_t *der_len);

/* The eContentType NID of b and its encapsulated content (NULL, 0 when detached). */
int sg_cms_build_content(const struct sg_cms_build *b, int *content_type,
                         const unsigned char **content, size_t *content_len);

/* Frees a build; NULL-safe. */
void sg_cms_build_free(struct sg_cms_build *b);

/*
 * The octets of the signature of the single SignerInfo of a DER CMS
 * SignedData cms[0..len) (RFC 3161 appendix A time-stamps their hash), in a
 * malloc'd *sig.  Errors: SG_ERR_INVALID_ARG (NULL argument),
 * SG_ERR_TOO_LARGE (len > SG_CMS_MAX_DER), SG_ERR_MALFORMED (not exactly
 * one DER ContentInfo, not SignedData, not exactly one SignerInfo, empty
 * signature), SG_ERR_NOMEM.
 */
int sg_cms_signature_value(const unsigned char *cms, size_t len, unsigned char **sig,
                           size_t *sig_len);

/*
 * Embeds the TimeStampToken of the DER TimeStampResp tsr[0..tsr_len) in the
 * single SignerInfo of the DER SignedData cms[0..len) as the unsigned
 * attribute id-aa-signatureTimeStampToken (RFC 3161 appendix A) and writes
 * the new DER ContentInfo into a malloc'd *out.  The response must be
 * granted (status 0 or 1) and its token's messageImprint must be the hash
 * (sha256/384/512) of the SignerInfo's signature value; the token's own
 * signature and certificates are not checked here (the verifier does, with
 * its trust anchors).  Errors: SG_ERR_INVALID_ARG (NULL argument, response
 * not granted, imprint over another value, SignerInfo already time-stamped),
 * SG_ERR_UNKNOWN_HASH (imprint hash not sha256/384/512), SG_ERR_TOO_LARGE,
 * SG_ERR_MALFORMED (either input not exactly one DER structure of its type,
 * no token), SG_ERR_NOMEM, SG_ERR_INTERNAL.
 */
int sg_cms_add_timestamp(const unsigned char *cms, size_t len, const unsigned char *tsr,
                         size_t tsr_len, unsigned char **out, size_t *out_len);

#endif /* SG_CMS_H */
