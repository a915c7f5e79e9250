/*
 * sg_formats_priv: steps shared by the builders of library sg_formats
 * (sg_cms, sg_tsa, sg_x509, sg_ocsp) and by nothing else: encoding DER
 * into the malloc'd buffers the public API hands out, the digest of a
 * to-be-signed encoding, the three fields of a signed SEQUENCE, and the
 * canonical dotted OIDs the configurations name.  Internal to the
 * library: not installed, not part of any public header.  It holds no
 * state and never signs anything.
 */
#ifndef SG_FORMATS_PRIV_H
#define SG_FORMATS_PRIV_H

#include <stddef.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/*
 * The DER of v, written by i2d, in a malloc'd *der (freed with free()).
 * Returns 0, SG_ERR_NOMEM or SG_ERR_INTERNAL (v does not encode); *der
 * and *der_len are untouched on failure.  Use SG_FMT_DER, which checks
 * that i2d matches the type of v.
 */
int sg_fmt_der(i2d_of_void *i2d, const void *v, unsigned char **der, size_t *der_len);
#define SG_FMT_DER(type, v, der, der_len)                                                          \
	sg_fmt_der(CHECKED_I2D_OF(type, i2d_##type), (v), (der), (der_len))

/* sg_fmt_der for the types made here with the template macros (no i2d_ function). */
int sg_fmt_item_der(const ASN1_VALUE *v, const ASN1_ITEM *it, unsigned char **der, size_t *der_len);

/*
 * The to-be-signed DER of val (item it) in an OPENSSL_malloc'd *tbs, and
 * its digest under md in dig (*dig_len bytes).  Returns 0 or
 * SG_ERR_INTERNAL; on failure the caller still frees *tbs (it may be set).
 */
int sg_fmt_tbs_digest(const ASN1_VALUE *val, const ASN1_ITEM *it, const EVP_MD *md,
                      unsigned char **tbs, int *tbs_len, unsigned char *dig, size_t *dig_len);

/*
 * The fields of a signed SEQUENCE { tbs, signatureAlgorithm, signature
 * BIT STRING } (Certificate, CertificateList, BasicOCSPResponse): the
 * to-be-signed bytes as they were digested (not re-encoded), a copy of
 * alg, and sig as a BIT STRING of whole octets.  Returns 0 or SG_ERR_NOMEM.
 */
int sg_fmt_signed_set(ASN1_TYPE *tbs_out, X509_ALGOR *alg_out, ASN1_BIT_STRING *sig_out,
                      const unsigned char *tbs, int tbs_len, const X509_ALGOR *alg,
                      const unsigned char *sig, size_t sig_len);

/*
 * A dotted OID in canonical form only: no names, no "1..2" (OpenSSL reads
 * it as 1.0.2), at most 200 characters.  NULL otherwise.
 */
ASN1_OBJECT *sg_fmt_oid(const char *s);

#endif
