/*
 * sg_client_ops: the synchronous requests of libsignet (see signet.h): one
 * request each, through the engine of sg_client.c, so they share its
 * timeouts, resends and idempotency keys.
 */
#include "signet.h"
#include "sg_client_priv.h"
#include "sg_cms.h"
#include "sg_tsa.h"
#include "sg_secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ts.h>

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
