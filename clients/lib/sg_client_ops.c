/*
 * sg_client_ops: the synchronous requests of libsignet (see signet.h): one
 * request each, through the engine of sg_client.c, so they share its
 * timeouts, resends and idempotency keys.  Each checks that the reply
 * answers the request it made (names, serials, and for certificates and
 * CRLs that the DER says what the reply says) before handing it out; it
 * never holds a key and never trusts a reply it has not checked.
 */
#include "signet.h"
#include "sg_client_priv.h"
#include "sg_cms.h"
#include "sg_tsa.h"
#include "sg_secret.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

int
signet_ping(struct signet_client *c, struct sg_ping_rep *out)
{
	struct sg_req req;
	struct sg_rep rep;
	int r;

	memset(&req, 0, sizeof(req));
	req.op = SG_OP_PING;
	if ((r = signet_client_call(c, &req, &rep)) != 0)
		goto out;
	if (out != NULL)
		*out = rep.u.ping;
	r = 0;
out:
	sg_rep_clear(&rep);
	return r;
}

int
signet_keys_list(struct signet_client *c, struct sg_key_info **keys, size_t *n)
{
	struct sg_req req;
	struct sg_rep rep;
	int r;

	*keys = NULL;
	*n = 0;
	memset(&req, 0, sizeof(req));
	req.op = SG_OP_KEYS_LIST;
	if ((r = signet_client_call(c, &req, &rep)) != 0)
		goto out;
	/* The array was allocated by the decoder with calloc: hand it over. */
	*keys = rep.u.keys.keys;
	*n = rep.u.keys.n;
	rep.u.keys.keys = NULL;
	rep.u.keys.n = 0;
	r = 0;
out:
	sg_rep_clear(&rep);
	return r;
}

void
signet_keys_free(struct sg_key_info *keys, size_t n)
{
	size_t i;

	for (i = 0; keys != NULL && i < n; i++)
		free(keys[i].certs_buf);
	free(keys);
}

const struct sg_key_info *
signet_keys_find(const struct sg_key_info *keys, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n && keys != NULL; i++) {
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
	return NULL;
}

/* 1 if a reply's padding answers the padding asked for. */
static int
sg_pad_matches(enum sg_pad asked, enum sg_keyalg alg, enum sg_pad got)
{
	if (asked != SG_PAD_NONE)
		return got == asked;
	/* Not asked: none for ECDSA, the RSA default (PKCS#1 v1.5) for RSA. */
	return sg_keyalg_is_rsa(alg) ? (got == SG_PAD_PKCS1 || got == SG_PAD_NONE)
	                             : got == SG_PAD_NONE;
}

int
signet_sign_digest(struct signet_client *c, struct sg_sign_req *sreq, struct sg_sign_rep *out)
{
	struct sg_req req;
	struct sg_rep rep;
	int r;

	memset(&req, 0, sizeof(req));
	memset(out, 0, sizeof(*out));
	req.op = SG_OP_SIGN_DIGEST;
	req.u.sign = *sreq;
	r = signet_client_call(c, &req, &rep);
	/* The caller keeps the idempotency key that was used, e.g. to log it. */
	memcpy(sreq->idem, req.u.sign.idem, sizeof(sreq->idem));
	sreq->idem_len = req.u.sign.idem_len;
	if (r != 0)
		goto out;
	/* A reply for another key, hash or padding is not an answer to this request. */
	if (strcmp(rep.u.sign.key, sreq->key) != 0 || rep.u.sign.hash != sreq->hash ||
	    !sg_pad_matches(sreq->pad, rep.u.sign.alg, rep.u.sign.pad) || rep.u.sign.sig_len == 0) {
		sg_client_seterr(
		    c, "the reply names key %s, hash %s, padding %s: not what was asked",
		    rep.u.sign.key,
		    sg_hash_name(rep.u.sign.hash) != NULL ? sg_hash_name(rep.u.sign.hash) : "?",
		    sg_pad_name(rep.u.sign.pad));
		r = SG_ERR_MALFORMED;
		goto out;
	}
	*out = rep.u.sign;
	r = 0;
out:
	sg_rep_clear(&rep);
	sg_wipe(&req, sizeof(req));
	return r;
}

/* Moves the blob reply out of rep into *out (the caller frees out->data). */
static void
sg_take_blob(struct sg_rep *rep, struct sg_blob_rep *out)
{
	*out = rep->u.blob;
	rep->u.blob.data = NULL;
	rep->u.blob.len = 0;
}

int
signet_sign_cms(struct signet_client *c, struct sg_sign_req *sreq, struct sg_blob_rep *out)
{
	struct sg_req req;
	struct sg_rep rep;
	int r;

	memset(&req, 0, sizeof(req));
	memset(out, 0, sizeof(*out));
	if (sreq->pad != SG_PAD_NONE)
		return SG_ERR_INVALID_ARG;
	req.op = SG_OP_SIGN_CMS;
	req.u.sign = *sreq;
	r = signet_client_call(c, &req, &rep);
	memcpy(sreq->idem, req.u.sign.idem, sizeof(sreq->idem));
	sreq->idem_len = req.u.sign.idem_len;
	if (r != 0)
		goto out;
	if (strcmp(rep.u.blob.key, sreq->key) != 0 || rep.u.blob.hash != sreq->hash) {
		sg_client_seterr(
		    c, "the reply names key %s, hash %s: not what was asked", rep.u.blob.key,
		    sg_hash_name(rep.u.blob.hash) != NULL ? sg_hash_name(rep.u.blob.hash) : "?");
		r = SG_ERR_MALFORMED;
		goto out;
	}
	sg_take_blob(&rep, out);
out:
	sg_rep_clear(&rep);
	return r;
}

int
signet_timestamp(struct signet_client *c, struct sg_ts_req *treq, struct sg_blob_rep *out)
{
	struct sg_req req;
	struct sg_rep rep;
	int r;

	memset(&req, 0, sizeof(req));
	memset(out, 0, sizeof(*out));
	req.op = SG_OP_TIMESTAMP;
	req.u.ts = *treq;
	r = signet_client_call(c, &req, &rep);
	memcpy(treq->idem, req.u.ts.idem, sizeof(treq->idem));
	treq->idem_len = req.u.ts.idem_len;
	if (r != 0)
		goto out;
	sg_take_blob(&rep, out);
out:
	sg_rep_clear(&rep);
	return r;
}

/* 1 if the granted TimeStampResp tsr echoes nonce[0..len) (big-endian). */
static int
sg_tsr_nonce_is(const unsigned char *tsr, size_t tsr_len, const unsigned char *nonce, size_t len)
{
	const unsigned char *q = tsr;
	TS_RESP *resp;
	TS_TST_INFO *tst;
	const ASN1_INTEGER *got;
	BIGNUM *a = NULL, *b = NULL;
	int same = 0;

	if ((resp = d2i_TS_RESP(NULL, &q, (long)tsr_len)) == NULL)
		return 0;
	if ((tst = TS_RESP_get_tst_info(resp)) != NULL &&
	    (got = TS_TST_INFO_get_nonce(tst)) != NULL &&
	    (a = ASN1_INTEGER_to_BN(got, NULL)) != NULL &&
	    (b = BN_bin2bn(nonce, (int)len, NULL)) != NULL)
		same = BN_cmp(a, b) == 0;
	BN_free(a);
	BN_free(b);
	TS_RESP_free(resp);
	return same;
}

int
signet_sign_cms_timestamped(struct signet_client *c, struct sg_sign_req *sreq,
                            struct sg_blob_rep *out)
{
	struct sg_blob_rep cms, ts;
	struct sg_ts_req treq;
	unsigned char *sigval = NULL, *tsq = NULL, *stamped = NULL, nonce[8];
	unsigned char imprint[SG_HASH_MAX_LEN];
	size_t sigval_len = 0, tsq_len = 0, stamped_len = 0;
	unsigned imprint_len = 0;
	int r;

	memset(&cms, 0, sizeof(cms));
	memset(&ts, 0, sizeof(ts));
	memset(out, 0, sizeof(*out));
	if ((r = signet_sign_cms(c, sreq, &cms)) != 0)
		goto out;
	/* RFC 3161 appendix A: the token's imprint is the hash of the signature value. */
	if ((r = sg_cms_signature_value(cms.data, cms.len, &sigval, &sigval_len)) != 0) {
		sg_client_seterr(c, "the appliance's CMS has no single signature: %s",
		                 sg_strerror(r));
		goto out;
	}
	if (EVP_Digest(sigval, sigval_len, imprint, &imprint_len, EVP_sha256(), NULL) != 1 ||
	    RAND_bytes(nonce, sizeof(nonce)) != 1) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	nonce[0] &= 0x7f; /* a positive INTEGER of 8 bytes at most */
	if ((r = sg_tsa_make_request(SG_HASH_SHA256, imprint, imprint_len, 1, nonce, sizeof(nonce),
	                             &tsq, &tsq_len)) != 0)
		goto out;
	memset(&treq, 0, sizeof(treq));
	if (tsq_len > sizeof(treq.tsq)) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	memcpy(treq.tsq, tsq, tsq_len);
	treq.tsq_len = tsq_len;
	treq.meta = sreq->meta;
	if ((r = signet_timestamp(c, &treq, &ts)) != 0)
		goto out;
	if (ts.status > 1) {
		sg_client_seterr(c, "the time-stamping authority rejected the request (status %u)",
		                 ts.status);
		r = SG_ERR_DENIED;
		goto out;
	}
	if (!sg_tsr_nonce_is(ts.data, ts.len, nonce, sizeof(nonce))) {
		sg_client_seterr(c, "the time-stamp does not answer this request (nonce)");
		r = SG_ERR_MALFORMED;
		goto out;
	}
	if ((r = sg_cms_add_timestamp(cms.data, cms.len, ts.data, ts.len, &stamped,
	                              &stamped_len)) != 0) {
		sg_client_seterr(c, "cannot embed the time-stamp: %s", sg_strerror(r));
		goto out;
	}
	/* The reply as sign.cms gave it, with the time-stamped DER instead. */
	free(cms.data);
	cms.data = NULL;
	*out = cms;
	out->data = stamped;
	out->len = stamped_len;
	stamped = NULL;
	r = 0;
out:
	free(cms.data);
	free(ts.data);
	free(sigval);
	free(tsq);
	free(stamped);
	return r;
}

/* ---- CA delegation ---- */

/* A CSR as cert.issue takes it: DER (nothing after it) or PEM; NULL if neither. */
static X509_REQ *
sg_csr_parse(const unsigned char *p, size_t len)
{
	const unsigned char *q = p;
	X509_REQ *req;
	BIO *bio;

	if ((req = d2i_X509_REQ(NULL, &q, (long)len)) != NULL) {
		if (q == p + len)
			return req;
		X509_REQ_free(req);
		return NULL;
	}
	if ((bio = BIO_new_mem_buf(p, (int)len)) == NULL)
		return NULL;
	req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return req;
}

/* 1 if the ASN.1 INTEGER a is the positive number of magnitude p[0..len). */
static int
sg_asn1_int_is(const ASN1_INTEGER *a, const unsigned char *p, size_t len)
{
	BIGNUM *x = NULL, *y = NULL;
	int same = 0;

	if (a != NULL && (x = ASN1_INTEGER_to_BN(a, NULL)) != NULL &&
	    (y = BN_bin2bn(p, (int)len, NULL)) != NULL)
		same = !BN_is_negative(x) && BN_cmp(x, y) == 0;
	BN_free(x);
	BN_free(y);
	return same;
}

/* 1 if the ASN.1 time t is the second t_s since the epoch. */
static int
sg_asn1_time_is(const ASN1_TIME *t, uint64_t t_s)
{
	return t != NULL && t_s <= (uint64_t)INT64_MAX && ASN1_TIME_cmp_time_t(t, (time_t)t_s) == 0;
}

/* One DER X.509 certificate with nothing after it; NULL otherwise. */
static X509 *
sg_cert_parse(const unsigned char *p, size_t len)
{
	const unsigned char *q = p;
	X509 *x;

	if ((x = d2i_X509(NULL, &q, (long)len)) != NULL && q != p + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* Checks that rep->cert is the certificate rep describes, for the CSR of q. */
static int
sg_issued_check(struct signet_client *c, const struct sg_issue_req *q,
                const struct sg_issue_rep *rep)
{
	X509 *x = NULL;
	X509_REQ *csr = NULL;
	const char *what = NULL;

	/* Parsing leaves errors behind on failure: they are not the caller's. */
	ERR_set_mark();
	if ((x = sg_cert_parse(rep->cert, rep->cert_len)) == NULL)
		what = "is not one DER X.509 certificate";
	else if (!sg_asn1_int_is(X509_get0_serialNumber(x), rep->serial, rep->serial_len))
		what = "has another serial number than the reply";
	else if (!sg_asn1_time_is(X509_get0_notBefore(x), rep->not_before) ||
	         !sg_asn1_time_is(X509_get0_notAfter(x), rep->not_after))
		what = "has another validity than the reply";
	else if ((csr = sg_csr_parse(q->csr, q->csr_len)) != NULL &&
	         EVP_PKEY_eq(X509_get0_pubkey(x), X509_REQ_get0_pubkey(csr)) != 1)
		what = "is not for the CSR's public key";
	ERR_pop_to_mark();
	X509_free(x);
	X509_REQ_free(csr);
	if (what == NULL)
		return 0;
	sg_client_seterr(c, "the certificate of the reply %s", what);
	return SG_ERR_MALFORMED;
}

int
signet_cert_issue(struct signet_client *c, struct sg_issue_req *ireq, struct sg_issue_rep *out)
{
	struct sg_req req;
	struct sg_rep rep;
	int r;

	memset(&req, 0, sizeof(req));
	memset(out, 0, sizeof(*out));
	req.op = SG_OP_CERT_ISSUE;
	req.u.issue = *ireq;
	r = signet_client_call(c, &req, &rep);
	/* The caller keeps the idempotency key that was used, to retry with it later. */
	memcpy(ireq->idem, req.u.issue.idem, sizeof(ireq->idem));
	ireq->idem_len = req.u.issue.idem_len;
	if (r != 0)
		goto out;
	if (strcmp(rep.u.issue.profile, ireq->profile) != 0) {
		sg_client_seterr(c, "the reply names profile %s: not what was asked",
		                 rep.u.issue.profile);
		r = SG_ERR_MALFORMED;
		goto out;
	}
	if ((r = sg_issued_check(c, ireq, &rep.u.issue)) != 0)
		goto out;
	/* cert and chain point into buf: moving the struct hands them over with it. */
	*out = rep.u.issue;
	rep.u.issue.buf = NULL;
	r = 0;
out:
	sg_rep_clear(&rep);
	return r;
}

void
signet_issue_rep_free(struct sg_issue_rep *rep)
{
	if (rep == NULL)
		return;
	free(rep->buf);
	memset(rep, 0, sizeof(*rep));
}

/* 1 if the status reply s is about serial[0..len). */
static int
sg_serial_is(const struct sg_status_rep *s, const unsigned char *serial, size_t len)
{
	return s->serial_len == len && memcmp(s->serial, serial, len) == 0;
}

int
signet_cert_revoke(struct signet_client *c, struct sg_serial_req *sreq, struct sg_status_rep *out)
{
	struct sg_req req;
	struct sg_rep rep;
	const char *why = NULL;
	int r;

	memset(&req, 0, sizeof(req));
	memset(out, 0, sizeof(*out));
	req.op = SG_OP_CERT_REVOKE;
	req.u.serial = *sreq;
	r = signet_client_call(c, &req, &rep);
	memcpy(sreq->idem, req.u.serial.idem, sizeof(sreq->idem));
	sreq->idem_len = req.u.serial.idem_len;
	if (r != 0)
		goto out;
	if (!sg_serial_is(&rep.u.status, sreq->serial, sreq->serial_len))
		why = "is about another serial number";
	else if (rep.u.status.status != SG_CERT_REVOKED)
		why = "does not say the certificate is revoked";
	else if (rep.u.status.reason != sreq->reason)
		why = "names another reason";
	if (why != NULL) {
		sg_client_seterr(c, "the reply %s: not what was asked", why);
		r = SG_ERR_MALFORMED;
		goto out;
	}
	*out = rep.u.status;
	r = 0;
out:
	sg_rep_clear(&rep);
	return r;
}

int
signet_cert_status(struct signet_client *c, const unsigned char *serial, size_t serial_len,
                   struct sg_status_rep *out)
{
	struct sg_req req;
	struct sg_rep rep;
	int r;

	memset(out, 0, sizeof(*out));
	if (serial == NULL || serial_len == 0 || serial_len > SG_SERIAL_MAX)
		return SG_ERR_INVALID_ARG;
	memset(&req, 0, sizeof(req));
	req.op = SG_OP_CERT_STATUS;
	memcpy(req.u.serial.serial, serial, serial_len);
	req.u.serial.serial_len = serial_len;
	if ((r = signet_client_call(c, &req, &rep)) != 0)
		goto out;
	if (!sg_serial_is(&rep.u.status, serial, serial_len)) {
		sg_client_seterr(c, "the reply is about another serial number: not what was asked");
		r = SG_ERR_MALFORMED;
		goto out;
	}
	*out = rep.u.status;
	r = 0;
out:
	sg_rep_clear(&rep);
	return r;
}

/* Checks that the DER of rep is one X.509 CRL with the number and times of rep. */
static int
sg_crl_check(struct signet_client *c, const struct sg_crl_rep *rep)
{
	const unsigned char *q = rep->data;
	X509_CRL *crl;
	ASN1_INTEGER *num = NULL;
	uint64_t n = 0;
	const char *what = NULL;

	ERR_set_mark();
	if ((crl = d2i_X509_CRL(NULL, &q, (long)rep->len)) == NULL || q != rep->data + rep->len)
		what = "is not one DER X.509 CRL";
	else if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL)) == NULL ||
	         ASN1_INTEGER_get_uint64(&n, num) != 1 || n != rep->number)
		what = "has another CRL number than the reply";
	else if (!sg_asn1_time_is(X509_CRL_get0_lastUpdate(crl), rep->this_update) ||
	         !sg_asn1_time_is(X509_CRL_get0_nextUpdate(crl), rep->next_update))
		what = "has other update times than the reply";
	ERR_pop_to_mark();
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	if (what == NULL)
		return 0;
	sg_client_seterr(c, "the CRL of the reply %s", what);
	return SG_ERR_MALFORMED;
}

int
signet_crl_get(struct signet_client *c, const char *ca, struct sg_crl_rep *out)
{
	struct sg_req req;
	struct sg_rep rep;
	int r;

	memset(out, 0, sizeof(*out));
	if (ca == NULL || !sg_wire_name_valid(ca, strlen(ca)))
		return SG_ERR_INVALID_ARG;
	memset(&req, 0, sizeof(req));
	req.op = SG_OP_CRL_GET;
	snprintf(req.u.crl.ca, sizeof(req.u.crl.ca), "%s", ca);
	if ((r = signet_client_call(c, &req, &rep)) != 0)
		goto out;
	if (strcmp(rep.u.crl.ca, ca) != 0) {
		sg_client_seterr(c, "the reply names CA %s: not what was asked", rep.u.crl.ca);
		r = SG_ERR_MALFORMED;
		goto out;
	}
	if ((r = sg_crl_check(c, &rep.u.crl)) != 0)
		goto out;
	*out = rep.u.crl;
	rep.u.crl.data = NULL;
	r = 0;
out:
	sg_rep_clear(&rep);
	return r;
}

/* Checks each CA of a ca.list reply: named once, its certificate's notAfter its not_after. */
static int
sg_cas_check(struct signet_client *c, const struct sg_ca_info *cas, size_t n)
{
	X509 *x;
	size_t i, j;
	int ok;

	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++) {
			if (strcmp(cas[i].name, cas[j].name) == 0) {
				sg_client_seterr(c, "the reply lists CA %s twice", cas[i].name);
				return SG_ERR_MALFORMED;
			}
		}
		ERR_set_mark();
		x = sg_cert_parse(cas[i].cert[0], cas[i].cert_len[0]);
		ok = x != NULL && sg_asn1_time_is(X509_get0_notAfter(x), cas[i].not_after);
		ERR_pop_to_mark();
		X509_free(x);
		if (!ok) {
			sg_client_seterr(c,
			                 "the certificate of CA %s is not DER X.509 or does not "
			                 "expire when the reply says",
			                 cas[i].name);
			return SG_ERR_MALFORMED;
		}
	}
	return 0;
}

int
signet_ca_list(struct signet_client *c, struct sg_ca_info **cas, size_t *n)
{
	struct sg_req req;
	struct sg_rep rep;
	int r;

	*cas = NULL;
	*n = 0;
	memset(&req, 0, sizeof(req));
	req.op = SG_OP_CA_LIST;
	if ((r = signet_client_call(c, &req, &rep)) != 0 ||
	    (r = sg_cas_check(c, rep.u.cas.cas, rep.u.cas.n)) != 0)
		goto out;
	/* The array was allocated by the decoder with calloc: hand it over. */
	*cas = rep.u.cas.cas;
	*n = rep.u.cas.n;
	rep.u.cas.cas = NULL;
	rep.u.cas.n = 0;
	r = 0;
out:
	sg_rep_clear(&rep);
	return r;
}

void
signet_cas_free(struct sg_ca_info *cas, size_t n)
{
	size_t i;

	for (i = 0; cas != NULL && i < n; i++)
		free(cas[i].certs_buf);
	free(cas);
}
