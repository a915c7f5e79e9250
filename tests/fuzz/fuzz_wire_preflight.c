/*
 * fuzz_wire_preflight: sg_wire_preflight() against msgpack-c's own unpacker.
 *
 * The preflight is what stands between an attacker's frame and msgpack-c,
 * whose unpacker allocates whatever a header claims: whenever it accepts a
 * frame, msgpack_unpack() must succeed and consume exactly every byte (the
 * preflight promised "exactly one object, nothing after it"), and the
 * unpacked object must be no deeper than the depth the preflight allowed.
 * Every depth from 0 to SG_WIRE_MAX_DEPTH is tried, since the HSM channel
 * preflights with 3 and the wire protocol with 8; acceptance must be
 * monotonic in the depth.
 */
#include "fuzz.h"

#include <stdint.h>
#include <string.h>

#include "sg_err.h"
#include "sg_wire.h"

static msgpack_zone sg_zone;
static int sg_zone_ready;

/* Depth of nesting of containers: 0 for a scalar, 1 for [] or [1], ... */
static unsigned
sg_depth(const msgpack_object *o)
{
	unsigned d = 0, x;
	uint32_t i;

	switch (o->type) {
	case MSGPACK_OBJECT_ARRAY:
		for (i = 0; i < o->via.array.size; i++) {
			if ((x = sg_depth(&o->via.array.ptr[i])) > d)
				d = x;
		}
		return d + 1;
	case MSGPACK_OBJECT_MAP:
		for (i = 0; i < o->via.map.size; i++) {
			if ((x = sg_depth(&o->via.map.ptr[i].key)) > d)
				d = x;
			if ((x = sg_depth(&o->via.map.ptr[i].val)) > d)
				d = x;
		}
		return d + 1;
	case MSGPACK_OBJECT_EXT:
		/* The preflight refuses every ext type. */
		sg_fuzz_fail("preflight accepted an ext type", __FILE__, __LINE__);
	default:
		return 0;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_object obj;
	size_t off;
	unsigned depth, d;
	int r, accepted_below = 0;

	if (!sg_zone_ready) {
		SG_FUZZ_CHECK(msgpack_zone_init(&sg_zone, 4096));
		sg_zone_ready = 1;
	}
	for (depth = 0; depth <= SG_WIRE_MAX_DEPTH; depth++) {
		r = sg_wire_preflight(data, size, depth);
		SG_FUZZ_CHECK(r == 0 || r == SG_ERR_MALFORMED);
		/* Accepted with a smaller cap: must stay accepted with a larger one. */
		SG_FUZZ_CHECK(!accepted_below || r == 0);
		if (r != 0)
			continue;
		accepted_below = 1;
		off = 0;
		msgpack_zone_clear(&sg_zone);
		SG_FUZZ_CHECK(msgpack_unpack((const char *)data, size, &off, &sg_zone, &obj) ==
		              MSGPACK_UNPACK_SUCCESS);
		SG_FUZZ_CHECK(off == size);
		d = sg_depth(&obj);
		SG_FUZZ_CHECK(d <= depth);
	}
	return 0;
}
