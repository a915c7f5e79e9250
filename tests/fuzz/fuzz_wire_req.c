/*
 * fuzz_wire_req: sg_wire_decode_req() (the server's request decoder) on
 * arbitrary bytes, with one sg_wire_dec reused across inputs as signetd
 * reuses it.
 *
 * Invariants checked:
 *  - the result is 0 or a known negative SG_ERR_*; why is a terminated string;
 *  - a decoded request has an id >= 1 and a known op, and *have_id is set;
 *  - round trip: a decoded request re-encodes with sg_wire_encode_req(), the
 *    encoding decodes again to the same request, and re-encoding that gives
 *    the same bytes (the encoder's output is a fixed point).
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
sg_req_equal(const struct sg_req *a, const struct sg_req *b)
{
	const struct sg_sign_req *x = &a->u.sign, *y = &b->u.sign;

	if (a->id != b->id || a->op != b->op)
		return 0;
	if (a->op != SG_OP_SIGN_DIGEST)
		return 1;
	return strcmp(x->key, y->key) == 0 && x->hash == y->hash &&
	       x->digest_len == y->digest_len && memcmp(x->digest, y->digest, x->digest_len) == 0 &&
	       x->pad == y->pad && x->idem_len == y->idem_len &&
	       memcmp(x->idem, y->idem, x->idem_len) == 0 && sg_meta_equal(&x->meta, &y->meta);
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
