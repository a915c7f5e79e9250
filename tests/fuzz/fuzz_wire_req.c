/*
 * fuzz_wire_req: sg_wire_decode_req() (the server's request decoder) on
 * arbitrary bytes, with one sg_wire_dec reused across inputs as signetd
 * reuses it.
 *
 * Invariants checked:
 *  - the result is 0 or a known negative SG_ERR_*; why is a terminated string;
 *  - a decoded request has an id >= 1 and a known op, and *have_id is set;
 *  - the per-op contract of sg_wire.h: sign.cms has no padding; timestamp
 *    has exactly one of its two forms (a DER request of 1..SG_TSQ_MAX bytes,
 *    or a known hash with a digest of that hash's length); cert.issue has a
 *    valid profile name, a CSR of 1..SG_CSR_MAX bytes, 0..SG_SANS_MAX SANs
 *    with a DNS:/IP:/URI: prefix; a serial has 1..SG_SERIAL_MAX bytes and no
 *    leading zero byte, cert.status no idempotency key; crl.get a valid CA
 *    name; ocsp 1..SG_OCSP_REQ_MAX bytes;
 *  - round trip: a decoded request re-encodes with sg_wire_encode_req(), the
 *    encoding decodes again to the same request (every field of every op:
 *    sign.digest and sign.cms key, hash, digest, pad, idem, meta; timestamp
 *    tsq bytes or hash and digest, idem, meta; cert.issue profile, CSR, ttl,
 *    SANs, idem, meta; cert.revoke / cert.status serial, reason, idem;
 *    crl.get CA; ocsp DER), and re-encoding that gives the same bytes (the
 *    encoder's output is a fixed point).
 */
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sg_err.h"
#include "sg_wire.h"

static struct sg_wire_dec *sg_dec;
static msgpack_sbuffer sg_sb1, sg_sb2;

static int
sg_meta_equal(const struct sg_meta *a, const struct sg_meta *b)
{
	return strcmp(a->artifact, b->artifact) == 0 && a->has_size == b->has_size &&
	       (!a->has_size || a->size == b->size) && strcmp(a->job, b->job) == 0;
}

static int
sg_sign_req_equal(const struct sg_sign_req *x, const struct sg_sign_req *y)
{
	return strcmp(x->key, y->key) == 0 && x->hash == y->hash &&
	       x->digest_len == y->digest_len && memcmp(x->digest, y->digest, x->digest_len) == 0 &&
	       x->pad == y->pad && x->idem_len == y->idem_len &&
	       memcmp(x->idem, y->idem, x->idem_len) == 0 && sg_meta_equal(&x->meta, &y->meta);
}

static int
sg_ts_req_equal(const struct sg_ts_req *x, const struct sg_ts_req *y)
{
	return x->tsq_len == y->tsq_len && memcmp(x->tsq, y->tsq, x->tsq_len) == 0 &&
	       x->hash == y->hash && x->digest_len == y->digest_len &&
	       memcmp(x->digest, y->digest, x->digest_len) == 0 && x->idem_len == y->idem_len &&
	       memcmp(x->idem, y->idem, x->idem_len) == 0 && sg_meta_equal(&x->meta, &y->meta);
}

static int
sg_issue_req_equal(const struct sg_issue_req *x, const struct sg_issue_req *y)
{
	size_t i;

	if (!(strcmp(x->profile, y->profile) == 0 && x->csr_len == y->csr_len &&
	      memcmp(x->csr, y->csr, x->csr_len) == 0 && x->ttl == y->ttl &&
	      x->n_sans == y->n_sans && x->idem_len == y->idem_len &&
	      memcmp(x->idem, y->idem, x->idem_len) == 0 && sg_meta_equal(&x->meta, &y->meta)))
		return 0;
	for (i = 0; i < x->n_sans; i++) {
		if (strcmp(x->sans[i], y->sans[i]) != 0)
			return 0;
	}
	return 1;
}

static int
sg_serial_req_equal(const struct sg_serial_req *x, const struct sg_serial_req *y)
{
	return x->serial_len == y->serial_len && memcmp(x->serial, y->serial, x->serial_len) == 0 &&
	       x->reason == y->reason && x->idem_len == y->idem_len &&
	       memcmp(x->idem, y->idem, x->idem_len) == 0;
}

static int
sg_req_equal(const struct sg_req *a, const struct sg_req *b)
{
	if (a->id != b->id || a->op != b->op)
		return 0;
	switch (a->op) {
	case SG_OP_PING:
	case SG_OP_KEYS_LIST:
	case SG_OP_CA_LIST:
		return 1;
	case SG_OP_SIGN_DIGEST:
	case SG_OP_SIGN_CMS:
		return sg_sign_req_equal(&a->u.sign, &b->u.sign);
	case SG_OP_TIMESTAMP:
		return sg_ts_req_equal(&a->u.ts, &b->u.ts);
	case SG_OP_CERT_ISSUE:
		return sg_issue_req_equal(&a->u.issue, &b->u.issue);
	case SG_OP_CERT_REVOKE:
	case SG_OP_CERT_STATUS:
		return sg_serial_req_equal(&a->u.serial, &b->u.serial);
	case SG_OP_CRL_GET:
		return strcmp(a->u.crl.ca, b->u.crl.ca) == 0;
	case SG_OP_OCSP:
		return a->u.ocsp.len == b->u.ocsp.len &&
		       memcmp(a->u.ocsp.der, b->u.ocsp.der, a->u.ocsp.len) == 0;
	case SG_OP_NONE:
	default:
		return 0;
	}
}

/* The per-op contract of a decoded request (sg_wire.h, docs/protocol.md). */
static void
sg_req_check(const struct sg_req *q)
{
	const struct sg_sign_req *s = &q->u.sign;
	const struct sg_ts_req *t = &q->u.ts;
	const struct sg_issue_req *is = &q->u.issue;
	const struct sg_serial_req *se = &q->u.serial;
	size_t i;

	switch (q->op) {
	case SG_OP_SIGN_DIGEST:
	case SG_OP_SIGN_CMS:
		SG_FUZZ_CHECK(s->key[0] != '\0' && sg_wire_name_valid(s->key, strlen(s->key)));
		SG_FUZZ_CHECK(sg_hash_name(s->hash) != NULL &&
		              s->digest_len == sg_hash_len(s->hash));
		SG_FUZZ_CHECK(q->op == SG_OP_SIGN_DIGEST || s->pad == SG_PAD_NONE);
		SG_FUZZ_CHECK(s->idem_len <= SG_IDEM_MAX);
		break;
	case SG_OP_TIMESTAMP:
		if (t->tsq_len > 0) {
			SG_FUZZ_CHECK(t->tsq_len <= SG_TSQ_MAX);
			SG_FUZZ_CHECK(t->hash == SG_HASH_NONE && t->digest_len == 0);
		} else {
			SG_FUZZ_CHECK(sg_hash_name(t->hash) != NULL &&
			              t->digest_len == sg_hash_len(t->hash));
		}
		SG_FUZZ_CHECK(t->idem_len <= SG_IDEM_MAX);
		break;
	case SG_OP_CERT_ISSUE:
		SG_FUZZ_CHECK(sg_wire_name_valid(is->profile, strlen(is->profile)));
		SG_FUZZ_CHECK(is->csr_len >= 1 && is->csr_len <= SG_CSR_MAX);
		SG_FUZZ_CHECK(is->n_sans <= SG_SANS_MAX && is->idem_len <= SG_IDEM_MAX);
		for (i = 0; i < is->n_sans; i++)
			SG_FUZZ_CHECK(
			    (strncmp(is->sans[i], "DNS:", 4) == 0 && is->sans[i][4] != '\0') ||
			    (strncmp(is->sans[i], "IP:", 3) == 0 && is->sans[i][3] != '\0') ||
			    (strncmp(is->sans[i], "URI:", 4) == 0 && is->sans[i][4] != '\0'));
		break;
	case SG_OP_CERT_REVOKE:
	case SG_OP_CERT_STATUS:
		SG_FUZZ_CHECK(se->serial_len >= 1 && se->serial_len <= SG_SERIAL_MAX &&
		              se->serial[0] != 0);
		SG_FUZZ_CHECK(q->op == SG_OP_CERT_REVOKE || se->idem_len == 0);
		SG_FUZZ_CHECK(se->idem_len <= SG_IDEM_MAX);
		break;
	case SG_OP_CRL_GET:
		SG_FUZZ_CHECK(sg_wire_name_valid(q->u.crl.ca, strlen(q->u.crl.ca)));
		break;
	case SG_OP_OCSP:
		SG_FUZZ_CHECK(q->u.ocsp.len >= 1 && q->u.ocsp.len <= SG_OCSP_REQ_MAX);
		break;
	case SG_OP_PING:
	case SG_OP_KEYS_LIST:
	case SG_OP_CA_LIST:
		break;
	case SG_OP_NONE:
	default:
		/* An op added to sg_wire without being taught to this target. */
		sg_fuzz_fail("decoded an op this target does not compare", __FILE__, __LINE__);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Decoded requests are large (fixed-size storage): keep them off the stack. */
	static struct sg_req a, b;
	char why[SG_WHY_MAX];
	int r, have_id = 0, have_id2 = 0;

	if (sg_dec == NULL) {
		SG_FUZZ_CHECK((sg_dec = sg_wire_dec_new()) != NULL);
		msgpack_sbuffer_init(&sg_sb1);
		msgpack_sbuffer_init(&sg_sb2);
	}
	memset(why, 'x', sizeof(why));
	r = sg_wire_decode_req(sg_dec, data, size, SG_WIRE_DEFAULT_MAX_MSG, &a, &have_id, why);
	SG_FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
	SG_FUZZ_CHECK(r == 0 || sg_err_known(r));
	SG_FUZZ_CHECK(!have_id || a.id != 0);
	if (r != 0)
		return 0;
	SG_FUZZ_CHECK(have_id && a.id != 0);
	SG_FUZZ_CHECK(a.op > SG_OP_NONE && a.op < SG_OP_COUNT);
	sg_req_check(&a);

	SG_FUZZ_CHECK(sg_wire_encode_req(&sg_sb1, &a) == 0);
	/* The canonical encoding is never longer than what was accepted. */
	SG_FUZZ_CHECK(sg_sb1.size <= size);
	r = sg_wire_decode_req(sg_dec, sg_sb1.data, sg_sb1.size, SG_WIRE_DEFAULT_MAX_MSG, &b,
	                       &have_id2, why);
	SG_FUZZ_CHECK(r == 0);
	SG_FUZZ_CHECK(have_id2);
	SG_FUZZ_CHECK(sg_req_equal(&a, &b));
	SG_FUZZ_CHECK(sg_wire_encode_req(&sg_sb2, &b) == 0);
	SG_FUZZ_CHECK(sg_sb1.size == sg_sb2.size &&
	              memcmp(sg_sb1.data, sg_sb2.data, sg_sb1.size) == 0);
	return 0;
}
