/*
 * fuzz_wire_rep: sg_wire_decode_rep() (the client library's reply decoder)
 * on arbitrary bytes, once for each op the reply may answer (ping,
 * keys.list, sign.digest, sign.cms, timestamp, and SG_OP_NONE, for which
 * only an error reply may decode), with sg_rep_clear() after each.
 *
 * Invariants checked:
 *  - the result is 0 or a known negative SG_ERR_*; why is a terminated string;
 *  - a decoded keys.list reply has no more than SG_MAX_KEYS keys, and keys
 *    is non-NULL whenever n > 0; each key has at most SG_CERTS_MAX
 *    certificates of 1..SG_CERT_MAX bytes, all inside its certs_buf (NULL
 *    when there are none), and no pointer set past n_certs;
 *  - a decoded sign.cms / timestamp reply owns 1..SG_BLOB_MAX bytes of data,
 *    names a valid key, and has status 0 (sign.cms) or 0..5 (timestamp);
 *  - round trip: a decoded success reply re-encodes with the server's
 *    encoder (sg_wire_encode_ping_rep/keys_rep/sign_rep/blob_rep) and decodes
 *    again to the same reply, certificates included (count, lengths, bytes);
 *    a decoded error reply re-encodes with sg_wire_encode_err() and decodes
 *    to the same id, code and message.
 */
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sg_err.h"
#include "sg_wire.h"

static struct sg_wire_dec *sg_dec;
static msgpack_sbuffer sg_sb;

static int
sg_key_info_equal(const struct sg_key_info *a, const struct sg_key_info *b)
{
	size_t c;

	if (!(strcmp(a->name, b->name) == 0 && a->alg == b->alg && a->pub_len == b->pub_len &&
	      memcmp(a->pub, b->pub, a->pub_len) == 0 && a->hashes == b->hashes &&
	      a->ops == b->ops && a->n_certs == b->n_certs))
		return 0;
	for (c = 0; c < a->n_certs; c++) {
		if (a->cert_len[c] != b->cert_len[c] ||
		    memcmp(a->cert[c], b->cert[c], a->cert_len[c]) != 0)
			return 0;
	}
	return 1;
}

static int
sg_blob_rep_equal(const struct sg_blob_rep *x, const struct sg_blob_rep *y)
{
	return strcmp(x->key, y->key) == 0 && x->alg == y->alg && x->hash == y->hash &&
	       x->status == y->status && x->len == y->len &&
	       memcmp(x->data, y->data, x->len) == 0 && x->record == y->record &&
	       memcmp(x->record_hash, y->record_hash, sizeof(x->record_hash)) == 0 &&
	       x->replayed == y->replayed;
}

/*
 * The certificates of a decoded key: within the caps, each inside the one
 * buffer the decoder allocated (their total size, since they are copied
 * into it), pairwise disjoint, and nothing set past n_certs.
 */
static void
sg_key_info_check(const struct sg_key_info *k)
{
	size_t c, d, total = 0;

	SG_FUZZ_CHECK(k->n_certs <= SG_CERTS_MAX);
	SG_FUZZ_CHECK((k->n_certs == 0) == (k->certs_buf == NULL));
	for (c = 0; c < k->n_certs; c++) {
		SG_FUZZ_CHECK(k->cert_len[c] >= 1 && k->cert_len[c] <= SG_CERT_MAX);
		total += k->cert_len[c];
	}
	for (c = 0; c < k->n_certs; c++) {
		SG_FUZZ_CHECK(k->cert[c] >= k->certs_buf &&
		              k->cert_len[c] <= total - (size_t)(k->cert[c] - k->certs_buf));
		for (d = 0; d < c; d++)
			SG_FUZZ_CHECK(k->cert[d] + k->cert_len[d] <= k->cert[c] ||
			              k->cert[c] + k->cert_len[c] <= k->cert[d]);
	}
	for (c = k->n_certs; c < SG_CERTS_MAX; c++)
		SG_FUZZ_CHECK(k->cert[c] == NULL && k->cert_len[c] == 0);
}

static int
sg_rep_equal(const struct sg_rep *a, const struct sg_rep *b)
{
	const struct sg_sign_rep *x = &a->u.sign, *y = &b->u.sign;
	size_t i;

	if (a->id != b->id || a->ok != b->ok || a->op != b->op)
		return 0;
	if (!a->ok)
		/* An empty msg is sent as the table's message (sg_wire_encode_err). */
		return a->err == b->err &&
		       (a->err_msg[0] == '\0' || strcmp(a->err_msg, b->err_msg) == 0);
	switch (a->op) {
	case SG_OP_PING:
		return strcmp(a->u.ping.server, b->u.ping.server) == 0 &&
		       a->u.ping.time == b->u.ping.time;
	case SG_OP_KEYS_LIST:
		if (a->u.keys.n != b->u.keys.n)
			return 0;
		for (i = 0; i < a->u.keys.n; i++) {
			if (!sg_key_info_equal(&a->u.keys.keys[i], &b->u.keys.keys[i]))
				return 0;
		}
		return 1;
	case SG_OP_SIGN_CMS:
	case SG_OP_TIMESTAMP:
		return sg_blob_rep_equal(&a->u.blob, &b->u.blob);
	case SG_OP_SIGN_DIGEST:
		return strcmp(x->key, y->key) == 0 && x->alg == y->alg && x->hash == y->hash &&
		       x->pad == y->pad && x->sig_len == y->sig_len &&
		       memcmp(x->sig, y->sig, x->sig_len) == 0 && x->record == y->record &&
		       memcmp(x->record_hash, y->record_hash, sizeof(x->record_hash)) == 0 &&
		       x->replayed == y->replayed;
	case SG_OP_NONE:
	default:
		return 0;
	}
}

/* Re-encodes a decoded reply the way signetd would send it. */
static int
sg_rep_encode(msgpack_sbuffer *sb, const struct sg_rep *rep)
{
	if (!rep->ok)
		return sg_wire_encode_err(sb, rep->id, rep->err, rep->err_msg);
	switch (rep->op) {
	case SG_OP_PING:
		return sg_wire_encode_ping_rep(sb, rep->id, &rep->u.ping);
	case SG_OP_KEYS_LIST:
		return sg_wire_encode_keys_rep(sb, rep->id, rep->u.keys.keys, rep->u.keys.n);
	case SG_OP_SIGN_DIGEST:
		return sg_wire_encode_sign_rep(sb, rep->id, &rep->u.sign);
	case SG_OP_SIGN_CMS:
	case SG_OP_TIMESTAMP:
		return sg_wire_encode_blob_rep(sb, rep->id, rep->op, &rep->u.blob);
	case SG_OP_NONE:
	default:
		return SG_ERR_INVALID_ARG;
	}
}

static void
sg_one(const uint8_t *data, size_t size, enum sg_op op)
{
	/* Replies hold fixed-size buffers: keep them off the stack. */
	static struct sg_rep a, b;
	char why[SG_WHY_MAX];
	int r;

	memset(why, 'x', sizeof(why));
	r = sg_wire_decode_rep(sg_dec, data, size, op, &a, why);
	SG_FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
	SG_FUZZ_CHECK(r == 0 || sg_err_known(r));
	if (r != 0) {
		sg_rep_clear(&a);
		return;
	}
	/* An error reply does not depend on the op; a success reply to no op is refused. */
	SG_FUZZ_CHECK(op != SG_OP_NONE || !a.ok);
	SG_FUZZ_CHECK(a.op == op);
	SG_FUZZ_CHECK(a.ok ? a.err == 0 : a.err < 0);
	if (a.ok && op == SG_OP_KEYS_LIST) {
		size_t i;

		SG_FUZZ_CHECK(a.u.keys.n <= SG_MAX_KEYS &&
		              (a.u.keys.n == 0 || a.u.keys.keys != NULL));
		for (i = 0; i < a.u.keys.n; i++)
			sg_key_info_check(&a.u.keys.keys[i]);
	}
	if (a.ok && (op == SG_OP_SIGN_CMS || op == SG_OP_TIMESTAMP)) {
		const struct sg_blob_rep *bl = &a.u.blob;

		SG_FUZZ_CHECK(bl->data != NULL && bl->len >= 1 && bl->len <= SG_BLOB_MAX);
		SG_FUZZ_CHECK(sg_wire_name_valid(bl->key, strlen(bl->key)));
		SG_FUZZ_CHECK(op == SG_OP_TIMESTAMP ? bl->status <= 5 : bl->status == 0);
	}

	SG_FUZZ_CHECK(sg_rep_encode(&sg_sb, &a) == 0);
	r = sg_wire_decode_rep(sg_dec, sg_sb.data, sg_sb.size, op, &b, why);
	SG_FUZZ_CHECK(r == 0);
	SG_FUZZ_CHECK(sg_rep_equal(&a, &b));
	sg_rep_clear(&b);
	sg_rep_clear(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (sg_dec == NULL) {
		SG_FUZZ_CHECK((sg_dec = sg_wire_dec_new()) != NULL);
		msgpack_sbuffer_init(&sg_sb);
	}
	sg_one(data, size, SG_OP_PING);
	sg_one(data, size, SG_OP_KEYS_LIST);
	sg_one(data, size, SG_OP_SIGN_DIGEST);
	sg_one(data, size, SG_OP_SIGN_CMS);
	sg_one(data, size, SG_OP_TIMESTAMP);
	sg_one(data, size, SG_OP_NONE);
	return 0;
}
