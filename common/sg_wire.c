/* sg_wire: see sg_wire.h and docs/protocol.md. */
#include "sg_wire.h"
#include "sg_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sg_op_names[SG_OP_COUNT] = {
    "?",          "ping",        "keys.list",   "sign.digest", "sign.cms", "timestamp",
    "cert.issue", "cert.revoke", "cert.status", "crl.get",     "ca.list",  "ocsp"};

const char *
sg_op_name(enum sg_op op)
{
	return (op > SG_OP_NONE && op < SG_OP_COUNT) ? sg_op_names[op] : "?";
}

int
sg_op_parse(const char *s, enum sg_op *out)
{
	int i;

	for (i = SG_OP_PING; i < SG_OP_COUNT; i++) {
		if (strcmp(s, sg_op_names[i]) == 0) {
			*out = (enum sg_op)i;
			return 0;
		}
	}
	return SG_ERR_UNKNOWN_OP;
}

/* RFC 5280 section 5.3.1 names; removeFromCRL (8) is for delta CRLs, not a reason to revoke. */
static const struct {
	enum sg_reason reason;
	const char *name;
} sg_reasons[] = {
    {SG_REASON_UNSPECIFIED, "unspecified"},
    {SG_REASON_KEY_COMPROMISE, "keyCompromise"},
    {SG_REASON_CA_COMPROMISE, "cACompromise"},
    {SG_REASON_AFFILIATION_CHANGED, "affiliationChanged"},
    {SG_REASON_SUPERSEDED, "superseded"},
    {SG_REASON_CESSATION_OF_OPERATION, "cessationOfOperation"},
    {SG_REASON_CERTIFICATE_HOLD, "certificateHold"},
    {SG_REASON_PRIVILEGE_WITHDRAWN, "privilegeWithdrawn"},
    {SG_REASON_AA_COMPROMISE, "aACompromise"},
};

const char *
sg_reason_name(enum sg_reason r)
{
	size_t i;

	for (i = 0; i < sizeof(sg_reasons) / sizeof(sg_reasons[0]); i++) {
		if (sg_reasons[i].reason == r)
			return sg_reasons[i].name;
	}
	return NULL;
}

int
sg_reason_parse(const char *s, enum sg_reason *out)
{
	size_t i;

	for (i = 0; i < sizeof(sg_reasons) / sizeof(sg_reasons[0]); i++) {
		if (strcmp(s, sg_reasons[i].name) == 0) {
			*out = sg_reasons[i].reason;
			return 0;
		}
	}
	return SG_ERR_BAD_VALUE;
}

static const char *const sg_cert_status_names[] = {"good", "revoked", "unknown"};

const char *
sg_cert_status_name(enum sg_cert_status st)
{
	return (unsigned)st <= SG_CERT_UNKNOWN ? sg_cert_status_names[st] : NULL;
}

int
sg_cert_status_parse(const char *s, enum sg_cert_status *out)
{
	int i;

	for (i = SG_CERT_GOOD; i <= SG_CERT_UNKNOWN; i++) {
		if (strcmp(s, sg_cert_status_names[i]) == 0) {
			*out = (enum sg_cert_status)i;
			return 0;
		}
	}
	return SG_ERR_BAD_VALUE;
}

int
sg_wire_name_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > SG_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int
sg_wire_utf8_valid(const unsigned char *p, size_t len)
{
	size_t i = 0, n, k;
	unsigned long cp;

	while (i < len) {
		unsigned char c = p[i];

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0; /* continuation byte, overlong lead, or > U+10FFFF */
		}
		if (len - i - 1 < n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/*
 * Preflight.  Reads big-endian lengths and walks one object; the recursion is
 * bounded by max_depth and every loop by the bytes that remain, since each
 * element takes at least one byte.
 */
static int
sg_be(const unsigned char *p, size_t len, size_t *off, size_t nbytes, uint64_t *v)
{
	size_t i;

	if (len - *off < nbytes)
		return SG_ERR_MALFORMED;
	*v = 0;
	for (i = 0; i < nbytes; i++)
		*v = (*v << 8) | p[*off + i];
	*off += nbytes;
	return 0;
}

static int
sg_preflight_obj(const unsigned char *p, size_t len, size_t *off, unsigned depth,
                 unsigned max_depth)
{
	uint64_t n = 0, i, left;
	size_t skip = 0, lenbytes = 0;
	int container = 0; /* 1 array, 2 map */
	unsigned char c;
	int r;

	if (*off >= len)
		return SG_ERR_MALFORMED;
	c = p[(*off)++];
	if (c <= 0x7f || c >= 0xe0)
		return 0;
	if (c >= 0x80 && c <= 0x8f) {
		container = 2;
		n = c & 0x0f;
	} else if (c >= 0x90 && c <= 0x9f) {
		container = 1;
		n = c & 0x0f;
	} else if (c >= 0xa0 && c <= 0xbf) {
		skip = c & 0x1f;
	} else {
		switch (c) {
		case 0xc0: /* nil */
		case 0xc2: /* false */
		case 0xc3: /* true */
			return 0;
		case 0xc4: /* bin8 */
		case 0xd9: /* str8 */
			lenbytes = 1;
			break;
		case 0xc5:
		case 0xda:
			lenbytes = 2;
			break;
		case 0xc6:
		case 0xdb:
			lenbytes = 4;
			break;
		case 0xca: /* float32 */
		case 0xce: /* uint32 */
		case 0xd2: /* int32 */
			skip = 4;
			break;
		case 0xcb:
		case 0xcf:
		case 0xd3:
			skip = 8;
			break;
		case 0xcc:
		case 0xd0:
			skip = 1;
			break;
		case 0xcd:
		case 0xd1:
			skip = 2;
			break;
		case 0xdc:
			container = 1;
			lenbytes = 2;
			break;
		case 0xdd:
			container = 1;
			lenbytes = 4;
			break;
		case 0xde:
			container = 2;
			lenbytes = 2;
			break;
		case 0xdf:
			container = 2;
			lenbytes = 4;
			break;
		default:
			/* 0xc1 (never used) and every ext type: not part of the protocol. */
			return SG_ERR_MALFORMED;
		}
	}
	if (lenbytes != 0) {
		if ((r = sg_be(p, len, off, lenbytes, &n)) != 0)
			return r;
		if (container == 0)
			skip = (size_t)n;
	}
	if (container == 0) {
		if (len - *off < skip)
			return SG_ERR_MALFORMED;
		*off += skip;
		return 0;
	}
	if (depth >= max_depth)
		return SG_ERR_MALFORMED;
	/* Each element needs at least one byte: refuse counts the frame cannot hold. */
	left = len - *off;
	if (n > left || (container == 2 && n > left / 2))
		return SG_ERR_MALFORMED;
	if (container == 2)
		n *= 2;
	for (i = 0; i < n; i++) {
		if ((r = sg_preflight_obj(p, len, off, depth + 1, max_depth)) != 0)
			return r;
	}
	return 0;
}

int
sg_wire_preflight(const unsigned char *p, size_t len, unsigned max_depth)
{
	size_t off = 0;
	int r;

	if (p == NULL || len == 0)
		return SG_ERR_MALFORMED;
	if ((r = sg_preflight_obj(p, len, &off, 0, max_depth)) != 0)
		return r;
	return off == len ? 0 : SG_ERR_MALFORMED;
}

int
sg_wire_peek_id(msgpack_zone *zone, const void *buf, size_t len, uint64_t *id)
{
	msgpack_object obj;
	const msgpack_object_kv *kv;
	size_t off = 0;
	uint32_t i;

	if (zone == NULL || id == NULL || sg_wire_preflight(buf, len, SG_WIRE_MAX_DEPTH) != 0)
		return SG_ERR_MALFORMED;
	msgpack_zone_clear(zone);
	if (msgpack_unpack(buf, len, &off, zone, &obj) != MSGPACK_UNPACK_SUCCESS || off != len ||
	    obj.type != MSGPACK_OBJECT_MAP)
		return SG_ERR_MALFORMED;
	for (i = 0; i < obj.via.map.size; i++) {
		kv = &obj.via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 2 &&
		    memcmp(kv->key.via.str.ptr, "id", 2) == 0 &&
		    kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			*id = kv->val.via.u64;
			return 0;
		}
	}
	return SG_ERR_MISSING_FIELD;
}

struct sg_wire_dec {
	msgpack_zone zone;
};

struct sg_wire_dec *
sg_wire_dec_new(void)
{
	struct sg_wire_dec *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if (!msgpack_zone_init(&d->zone, 4096)) {
		free(d);
		return NULL;
	}
	return d;
}

void
sg_wire_dec_free(struct sg_wire_dec *d)
{
	if (d == NULL)
		return;
	msgpack_zone_destroy(&d->zone);
	free(d);
}

/* Preflights, then unpacks one object into the decoder's zone. */
static int
sg_wire_unpack(struct sg_wire_dec *d, const void *buf, size_t len, msgpack_object *obj)
{
	size_t off = 0;

	if (sg_wire_preflight(buf, len, SG_WIRE_MAX_DEPTH) != 0)
		return SG_ERR_MALFORMED;
	msgpack_zone_clear(&d->zone);
	if (msgpack_unpack(buf, len, &off, &d->zone, obj) != MSGPACK_UNPACK_SUCCESS || off != len)
		return SG_ERR_MALFORMED;
	return 0;
}

/*
 * A map being decoded: its entries, which of them were consumed, and the
 * place to explain a failure.
 */
struct sg_map {
	const msgpack_object_kv *kv;
	size_t n;
	unsigned used; /* bit i: entry i consumed */
	char *why;
};

static int
sg_key_is(const msgpack_object *k, const char *name)
{
	size_t n = strlen(name);

	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
	       memcmp(k->via.str.ptr, name, n) == 0;
}

/*
 * Checks that obj is a map of at most SG_WIRE_MAX_FIELDS entries whose keys
 * are distinct, valid strings.
 */
static int
sg_map_open(const msgpack_object *obj, struct sg_map *m, char *why, const char *what)
{
	size_t i, j;

	memset(m, 0, sizeof(*m));
	m->why = why;
	if (obj->type != MSGPACK_OBJECT_MAP) {
		sg_whyf(why, SG_WHY_MAX, "%s is not a map", what);
		return SG_ERR_BAD_TYPE;
	}
	if (obj->via.map.size > SG_WIRE_MAX_FIELDS) {
		sg_whyf(why, SG_WHY_MAX, "%s has too many fields", what);
		return SG_ERR_MALFORMED;
	}
	m->kv = obj->via.map.ptr;
	m->n = obj->via.map.size;
	for (i = 0; i < m->n; i++) {
		const msgpack_object *k = &m->kv[i].key;

		if (k->type != MSGPACK_OBJECT_STR || k->via.str.size == 0 || k->via.str.size > 32 ||
		    !sg_wire_utf8_valid((const unsigned char *)k->via.str.ptr, k->via.str.size)) {
			sg_whyf(why, SG_WHY_MAX, "%s has a key that is not a short string", what);
			return SG_ERR_MALFORMED;
		}
		for (j = 0; j < i; j++) {
			const msgpack_object *o = &m->kv[j].key;

			if (o->via.str.size == k->via.str.size &&
			    memcmp(o->via.str.ptr, k->via.str.ptr, k->via.str.size) == 0) {
				if (why != NULL)
					snprintf(why, SG_WHY_MAX, "field '%.*s' appears twice",
					         (int)k->via.str.size, k->via.str.ptr);
				return SG_ERR_DUPLICATE_FIELD;
			}
		}
	}
	return 0;
}

/* Finds and consumes field name; NULL if absent. */
static const msgpack_object *
sg_map_get(struct sg_map *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		if (sg_key_is(&m->kv[i].key, name)) {
			m->used |= 1u << i;
			return &m->kv[i].val;
		}
	}
	return NULL;
}

/* Fails on the first entry not consumed. */
static int
sg_map_close(const struct sg_map *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		if ((m->used & (1u << i)) == 0) {
			if (m->why != NULL)
				snprintf(m->why, SG_WHY_MAX, "unknown field '%.*s'",
				         (int)m->kv[i].key.via.str.size, m->kv[i].key.via.str.ptr);
			return SG_ERR_UNKNOWN_FIELD;
		}
	}
	return 0;
}

/*
 * Finds and consumes field name into *o (NULL when absent): 0, or
 * SG_ERR_MISSING_FIELD when a required field is absent.
 */
static int
sg_field_find(struct sg_map *m, const char *name, int required, const msgpack_object **o)
{
	*o = sg_map_get(m, name);
	if (*o == NULL && required) {
		sg_whyf(m->why, SG_WHY_MAX, "field '%s' is missing", name);
		return SG_ERR_MISSING_FIELD;
	}
	return 0;
}

static int
sg_field_uint(struct sg_map *m, const char *name, int required, uint64_t *out, int *present)
{
	const msgpack_object *o;
	int r;

	r = sg_field_find(m, name, required, &o);
	if (present != NULL)
		*present = o != NULL;
	if (r != 0 || o == NULL)
		return r;
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		sg_whyf(m->why, SG_WHY_MAX, "field '%s' must be an unsigned integer", name);
		return SG_ERR_BAD_TYPE;
	}
	*out = o->via.u64;
	return 0;
}

static int
sg_field_bool(struct sg_map *m, const char *name, int required, int *out)
{
	const msgpack_object *o;
	int r;

	if ((r = sg_field_find(m, name, required, &o)) != 0 || o == NULL)
		return r;
	if (o->type != MSGPACK_OBJECT_BOOLEAN) {
		sg_whyf(m->why, SG_WHY_MAX, "field '%s' must be a boolean", name);
		return SG_ERR_BAD_TYPE;
	}
	*out = o->via.boolean ? 1 : 0;
	return 0;
}

/* A UTF-8 string of 1..max bytes (0..max if allow_empty) into out[max + 1]. */
static int
sg_obj_str(const msgpack_object *o, char *out, size_t max, int allow_empty, char *why,
           const char *name)
{
	if (o->type != MSGPACK_OBJECT_STR) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' must be a string", name);
		return SG_ERR_BAD_TYPE;
	}
	if (o->via.str.size > max || (o->via.str.size == 0 && !allow_empty)) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' has a bad length", name);
		return SG_ERR_BAD_VALUE;
	}
	if (!sg_wire_utf8_valid((const unsigned char *)o->via.str.ptr, o->via.str.size)) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' is not valid UTF-8 or has a NUL byte", name);
		return SG_ERR_BAD_VALUE;
	}
	memcpy(out, o->via.str.ptr, o->via.str.size);
	out[o->via.str.size] = '\0';
	return 0;
}

static int
sg_field_str(struct sg_map *m, const char *name, int required, char *out, size_t max, int *present)
{
	const msgpack_object *o;
	int r;

	r = sg_field_find(m, name, required, &o);
	if (present != NULL)
		*present = o != NULL;
	if (r != 0 || o == NULL)
		return r;
	return sg_obj_str(o, out, max, 0, m->why, name);
}

/* A string field that must also be a valid key or client name. */
static int
sg_field_name(struct sg_map *m, const char *name, int required, char *out)
{
	int r, present = 0;

	if ((r = sg_field_str(m, name, required, out, SG_NAME_MAX, &present)) != 0)
		return r;
	if (present && !sg_wire_name_valid(out, strlen(out))) {
		sg_whyf(m->why, SG_WHY_MAX, "field '%s' is not a valid name", name);
		return SG_ERR_BAD_VALUE;
	}
	return 0;
}

static int
sg_field_bin(struct sg_map *m, const char *name, int required, unsigned char *out, size_t max,
             size_t *len)
{
	const msgpack_object *o;
	int r;

	*len = 0;
	if ((r = sg_field_find(m, name, required, &o)) != 0 || o == NULL)
		return r;
	if (o->type != MSGPACK_OBJECT_BIN) {
		sg_whyf(m->why, SG_WHY_MAX, "field '%s' must be binary", name);
		return SG_ERR_BAD_TYPE;
	}
	if (o->via.bin.size == 0 || o->via.bin.size > max) {
		sg_whyf(m->why, SG_WHY_MAX, "field '%s' has a bad length", name);
		return SG_ERR_BAD_VALUE;
	}
	memcpy(out, o->via.bin.ptr, o->via.bin.size);
	*len = o->via.bin.size;
	return 0;
}

static int
sg_decode_meta(const msgpack_object *o, struct sg_meta *meta, char *why)
{
	struct sg_map m;
	int r;

	if ((r = sg_map_open(o, &m, why, "meta")) != 0)
		return r;
	if ((r = sg_field_str(&m, "artifact", 0, meta->artifact, SG_META_ARTIFACT_MAX, NULL)) !=
	        0 ||
	    (r = sg_field_uint(&m, "size", 0, &meta->size, &meta->has_size)) != 0 ||
	    (r = sg_field_str(&m, "job", 0, meta->job, SG_META_JOB_MAX, NULL)) != 0)
		return r;
	return sg_map_close(&m);
}

/*
 * The hash and digest of a request: the hash a known name, the digest exactly
 * its length.  Shared by sign.digest, sign.cms and the imprint form of
 * timestamp.
 */
static int
sg_decode_hash_digest(struct sg_map *m, int required, enum sg_hash *hash, unsigned char *digest,
                      size_t *digest_len)
{
	char name[16];
	int r, present = 0;

	if ((r = sg_field_str(m, "hash", required, name, sizeof(name) - 1, &present)) != 0) {
		if (r == SG_ERR_BAD_VALUE) {
			sg_whyf(m->why, SG_WHY_MAX, "unsupported hash in field '%s'", "hash");
			r = SG_ERR_UNKNOWN_HASH;
		}
		return r;
	}
	if (!present) {
		*hash = SG_HASH_NONE;
		return 0;
	}
	if (sg_hash_parse(name, hash) != 0) {
		sg_whyf(m->why, SG_WHY_MAX, "unsupported hash '%s'", name);
		return SG_ERR_UNKNOWN_HASH;
	}
	if ((r = sg_field_bin(m, "digest", 1, digest, SG_HASH_MAX_LEN, digest_len)) != 0) {
		if (r == SG_ERR_BAD_VALUE)
			r = SG_ERR_DIGEST_LENGTH;
		return r;
	}
	if (*digest_len != sg_hash_len(*hash)) {
		if (m->why != NULL)
			snprintf(m->why, SG_WHY_MAX, "digest is %zu bytes, %s needs %zu",
			         *digest_len, sg_hash_name(*hash), sg_hash_len(*hash));
		return SG_ERR_DIGEST_LENGTH;
	}
	return 0;
}

static int
sg_decode_sign_req(struct sg_map *m, struct sg_sign_req *s, int with_pad)
{
	char name[16];
	const msgpack_object *meta;
	int r, present = 0;

	if ((r = sg_field_name(m, "key", 1, s->key)) != 0 ||
	    (r = sg_decode_hash_digest(m, 1, &s->hash, s->digest, &s->digest_len)) != 0)
		return r;
	s->pad = SG_PAD_NONE;
	if (with_pad) {
		if ((r = sg_field_str(m, "pad", 0, name, sizeof(name) - 1, &present)) != 0) {
			if (r == SG_ERR_BAD_VALUE)
				r = SG_ERR_BAD_PADDING;
			return r;
		}
		if (present && (sg_pad_parse(name, &s->pad) != 0 || s->pad == SG_PAD_NONE)) {
			sg_whyf(m->why, SG_WHY_MAX, "unsupported padding '%s'", name);
			return SG_ERR_BAD_PADDING;
		}
	}
	if ((r = sg_field_bin(m, "idem", 0, s->idem, SG_IDEM_MAX, &s->idem_len)) != 0)
		return r;
	if ((meta = sg_map_get(m, "meta")) != NULL &&
	    (r = sg_decode_meta(meta, &s->meta, m->why)) != 0)
		return r;
	return 0;
}

static int
sg_decode_ts_req(struct sg_map *m, struct sg_ts_req *t)
{
	const msgpack_object *meta;
	int r, has_tsq;

	if ((r = sg_field_bin(m, "tsq", 0, t->tsq, SG_TSQ_MAX, &t->tsq_len)) != 0)
		return r;
	has_tsq = t->tsq_len > 0;
	if ((r = sg_decode_hash_digest(m, !has_tsq, &t->hash, t->digest, &t->digest_len)) != 0)
		return r;
	if (has_tsq && t->hash != SG_HASH_NONE) {
		sg_whyf(m->why, SG_WHY_MAX, "give either '%s' or 'hash' and 'digest'", "tsq");
		return SG_ERR_BAD_VALUE;
	}
	if ((r = sg_field_bin(m, "idem", 0, t->idem, SG_IDEM_MAX, &t->idem_len)) != 0)
		return r;
	if ((meta = sg_map_get(m, "meta")) != NULL &&
	    (r = sg_decode_meta(meta, &t->meta, m->why)) != 0)
		return r;
	return 0;
}

/* 1 if p[0..len) spells a serial number: 1..SG_SERIAL_MAX bytes, no leading zero byte. */
static int
sg_serial_valid(const unsigned char *p, size_t len)
{
	return len >= 1 && len <= SG_SERIAL_MAX && p[0] != 0;
}

static int
sg_field_serial(struct sg_map *m, const char *name, unsigned char *out, size_t *len)
{
	int r;

	if ((r = sg_field_bin(m, name, 1, out, SG_SERIAL_MAX, len)) != 0)
		return r;
	if (!sg_serial_valid(out, *len)) {
		sg_whyf(m->why, SG_WHY_MAX, "field '%s' has a leading zero byte", name);
		return SG_ERR_BAD_VALUE;
	}
	return 0;
}

/*
 * 1 if s is a SAN as cert.issue takes it: a type prefix and something after
 * it.  What follows the prefix is the profile's business (the front parses
 * it); the codec only keeps out shapes that name no SAN type at all.
 */
static int
sg_san_valid(const char *s)
{
	static const char *const prefixes[] = {"DNS:", "IP:", "URI:"};
	size_t i, n;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		n = strlen(prefixes[i]);
		if (strncmp(s, prefixes[i], n) == 0)
			return s[n] != '\0';
	}
	return 0;
}

/* sans: 1..SG_SANS_MAX strings of 1..SG_SAN_MAX bytes, each a valid SAN. */
static int
sg_decode_sans(const msgpack_object *o, struct sg_issue_req *q, char *why)
{
	uint32_t i;
	int r;

	if (o->type != MSGPACK_OBJECT_ARRAY) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' must be an array of strings", "sans");
		return SG_ERR_BAD_TYPE;
	}
	if (o->via.array.size == 0 || o->via.array.size > SG_SANS_MAX) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' must hold 1..%d names", "sans", SG_SANS_MAX);
		return SG_ERR_BAD_VALUE;
	}
	for (i = 0; i < o->via.array.size; i++) {
		if ((r = sg_obj_str(&o->via.array.ptr[i], q->sans[i], SG_SAN_MAX, 0, why,
		                    "sans")) != 0)
			return r;
		if (!sg_san_valid(q->sans[i])) {
			sg_whyf(why, SG_WHY_MAX,
			        "field '%s' has a name without a DNS:, IP: or URI: prefix", "sans");
			return SG_ERR_BAD_VALUE;
		}
	}
	q->n_sans = o->via.array.size;
	return 0;
}

static int
sg_decode_issue_req(struct sg_map *m, struct sg_issue_req *q)
{
	const msgpack_object *f;
	int r, present = 0;

	if ((r = sg_field_name(m, "profile", 1, q->profile)) != 0)
		return r;
	/* An empty or oversize CSR is not a CSR (the front parses the rest). */
	if ((r = sg_field_bin(m, "csr", 1, q->csr, SG_CSR_MAX, &q->csr_len)) != 0)
		return r == SG_ERR_BAD_VALUE ? SG_ERR_CSR_INVALID : r;
	if ((r = sg_field_uint(m, "ttl", 0, &q->ttl, &present)) != 0)
		return r;
	if (present && q->ttl == 0) {
		sg_whyf(m->why, SG_WHY_MAX, "field '%s' must be at least 1", "ttl");
		return SG_ERR_BAD_VALUE;
	}
	if ((f = sg_map_get(m, "sans")) != NULL && (r = sg_decode_sans(f, q, m->why)) != 0)
		return r;
	if ((r = sg_field_bin(m, "idem", 0, q->idem, SG_IDEM_MAX, &q->idem_len)) != 0)
		return r;
	if ((f = sg_map_get(m, "meta")) != NULL && (r = sg_decode_meta(f, &q->meta, m->why)) != 0)
		return r;
	return 0;
}

/* cert.revoke (revoke = 1: serial, reason, idem) and cert.status (serial only). */
static int
sg_decode_serial_req(struct sg_map *m, struct sg_serial_req *q, int revoke)
{
	char name[32];
	int r;

	if ((r = sg_field_serial(m, "serial", q->serial, &q->serial_len)) != 0 || !revoke)
		return r;
	if ((r = sg_field_str(m, "reason", 1, name, sizeof(name) - 1, NULL)) != 0)
		return r;
	if (sg_reason_parse(name, &q->reason) != 0) {
		sg_whyf(m->why, SG_WHY_MAX, "unknown revocation reason '%s'", name);
		return SG_ERR_BAD_VALUE;
	}
	return sg_field_bin(m, "idem", 0, q->idem, SG_IDEM_MAX, &q->idem_len);
}

int
sg_wire_decode_req(struct sg_wire_dec *d, const void *buf, size_t len, size_t max_msg,
                   struct sg_req *req, int *have_id, char *why)
{
	msgpack_object obj;
	const msgpack_object *o;
	struct sg_map m;
	uint64_t v = 0;
	char opname[32];
	size_t i;
	int r;

	memset(req, 0, sizeof(*req));
	*have_id = 0;
	if (why != NULL)
		why[0] = '\0';
	if (len > max_msg) {
		sg_whyf(why, SG_WHY_MAX, "message larger than the %s limit", "size");
		return SG_ERR_TOO_LARGE;
	}
	if ((r = sg_wire_unpack(d, buf, len, &obj)) != 0) {
		sg_whyf(why, SG_WHY_MAX, "not a single well-formed msgpack %s", "object");
		return r;
	}
	if (obj.type != MSGPACK_OBJECT_MAP) {
		sg_whyf(why, SG_WHY_MAX, "request is not a %s", "map");
		return SG_ERR_MALFORMED;
	}
	/* Find a well-typed id first, so that even a bad request gets an answer it can match. */
	for (i = 0; i < obj.via.map.size && i < SG_WIRE_MAX_FIELDS; i++) {
		if (sg_key_is(&obj.via.map.ptr[i].key, "id") &&
		    obj.via.map.ptr[i].val.type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    obj.via.map.ptr[i].val.via.u64 != 0) {
			req->id = obj.via.map.ptr[i].val.via.u64;
			*have_id = 1;
			break;
		}
	}
	if ((r = sg_map_open(&obj, &m, why, "request")) != 0)
		goto fail;
	if ((o = sg_map_get(&m, "v")) == NULL) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' is missing", "v");
		r = SG_ERR_MISSING_FIELD;
		goto fail;
	}
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || (v = o->via.u64) != SG_WIRE_VERSION) {
		sg_whyf(why, SG_WHY_MAX, "unsupported protocol version (this server speaks %s)",
		        "1");
		r = SG_ERR_VERSION;
		goto fail;
	}
	if ((r = sg_field_uint(&m, "id", 1, &req->id, NULL)) != 0)
		goto fail;
	if (req->id == 0) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' must be at least 1", "id");
		r = SG_ERR_BAD_VALUE;
		goto fail;
	}
	if ((r = sg_field_str(&m, "op", 1, opname, sizeof(opname) - 1, NULL)) != 0) {
		if (r == SG_ERR_BAD_VALUE) {
			sg_whyf(why, SG_WHY_MAX, "unknown %s", "op");
			r = SG_ERR_UNKNOWN_OP;
		}
		goto fail;
	}
	if (sg_op_parse(opname, &req->op) != 0) {
		sg_whyf(why, SG_WHY_MAX, "unknown op '%s'", opname);
		r = SG_ERR_UNKNOWN_OP;
		goto fail;
	}
	switch (req->op) {
	case SG_OP_PING:
	case SG_OP_KEYS_LIST:
		break;
	case SG_OP_SIGN_DIGEST:
	case SG_OP_SIGN_CMS:
		if ((r = sg_decode_sign_req(&m, &req->u.sign, req->op == SG_OP_SIGN_DIGEST)) != 0)
			goto fail;
		break;
	case SG_OP_TIMESTAMP:
		if ((r = sg_decode_ts_req(&m, &req->u.ts)) != 0)
			goto fail;
		break;
	case SG_OP_CERT_ISSUE:
		if ((r = sg_decode_issue_req(&m, &req->u.issue)) != 0)
			goto fail;
		break;
	case SG_OP_CERT_REVOKE:
	case SG_OP_CERT_STATUS:
		if ((r = sg_decode_serial_req(&m, &req->u.serial, req->op == SG_OP_CERT_REVOKE)) !=
		    0)
			goto fail;
		break;
	case SG_OP_CRL_GET:
		if ((r = sg_field_name(&m, "ca", 1, req->u.crl.ca)) != 0)
			goto fail;
		break;
	case SG_OP_CA_LIST:
		break;
	case SG_OP_OCSP:
		if ((r = sg_field_bin(&m, "req", 1, req->u.ocsp.der, SG_OCSP_REQ_MAX,
		                      &req->u.ocsp.len)) != 0)
			goto fail;
		break;
	case SG_OP_NONE:
	default:
		r = SG_ERR_UNKNOWN_OP;
		goto fail;
	}
	if ((r = sg_map_close(&m)) != 0)
		goto fail;
	return 0;
fail:
	/* Keep the id (for the error reply) and the op (for the audit record). */
	{
		uint64_t id = req->id;
		enum sg_op op = req->op;

		memset(&req->u, 0, sizeof(req->u));
		req->id = *have_id ? id : 0;
		req->op = op;
	}
	return r;
}

/* Encoding helpers: msgpack_pack_* return 0 on success. */
static int
sg_pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	return msgpack_pack_str(pk, n) != 0 || msgpack_pack_str_body(pk, s, n) != 0;
}

static int
sg_pack_bin(msgpack_packer *pk, const unsigned char *p, size_t n)
{
	return msgpack_pack_bin(pk, n) != 0 || msgpack_pack_bin_body(pk, p, n) != 0;
}

/* Starts a reply map of n fields after v, id and ok. */
static int
sg_pack_rep_head(msgpack_packer *pk, uint64_t id, int ok, size_t extra)
{
	return msgpack_pack_map(pk, 3 + extra) != 0 || sg_pack_str(pk, "v") ||
	       msgpack_pack_uint64(pk, SG_WIRE_VERSION) != 0 || sg_pack_str(pk, "id") ||
	       msgpack_pack_uint64(pk, id) != 0 || sg_pack_str(pk, "ok") ||
	       (ok ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) != 0;
}

/* Packs a list of names: the bits set in mask, named by name(bit). */
static int
sg_pack_names(msgpack_packer *pk, unsigned mask, int lo, int hi, const char *(*name)(int))
{
	size_t n = 0;
	int i;

	for (i = lo; i <= hi; i++)
		n += (mask >> i) & 1u;
	if (msgpack_pack_array(pk, n) != 0)
		return 1;
	for (i = lo; i <= hi; i++) {
		if (((mask >> i) & 1u) && sg_pack_str(pk, name(i)))
			return 1;
	}
	return 0;
}

static const char *
sg_hash_name_i(int i)
{
	return sg_hash_name((enum sg_hash)i);
}

static const char *
sg_op_name_i(int i)
{
	return sg_op_name((enum sg_op)i);
}

static size_t
sg_meta_count(const struct sg_meta *meta)
{
	return (meta->artifact[0] != '\0') + (meta->has_size != 0) + (meta->job[0] != '\0');
}

static int
sg_pack_meta(msgpack_packer *pk, const struct sg_meta *meta)
{
	size_t nm = sg_meta_count(meta);

	if (nm == 0)
		return 0;
	if (sg_pack_str(pk, "meta") || msgpack_pack_map(pk, nm) != 0)
		return 1;
	if (meta->artifact[0] != '\0' &&
	    (sg_pack_str(pk, "artifact") || sg_pack_str(pk, meta->artifact)))
		return 1;
	if (meta->has_size && (sg_pack_str(pk, "size") || msgpack_pack_uint64(pk, meta->size) != 0))
		return 1;
	if (meta->job[0] != '\0' && (sg_pack_str(pk, "job") || sg_pack_str(pk, meta->job)))
		return 1;
	return 0;
}

/* Fields of sign.digest / sign.cms after the header; *n counts them first. */
static int
sg_check_sign_req(const struct sg_req *req, size_t *n)
{
	const struct sg_sign_req *s = &req->u.sign;

	/* The digest length is not checked against the hash: tests send bad ones. */
	if (sg_hash_name(s->hash) == NULL || s->digest_len == 0 ||
	    s->digest_len > SG_HASH_MAX_LEN || s->idem_len > SG_IDEM_MAX ||
	    (req->op == SG_OP_SIGN_CMS && s->pad != SG_PAD_NONE))
		return SG_ERR_INVALID_ARG;
	*n += 3 + (s->pad != SG_PAD_NONE) + (s->idem_len > 0) + (sg_meta_count(&s->meta) > 0);
	return 0;
}

static int
sg_pack_sign_req(msgpack_packer *pk, const struct sg_sign_req *s)
{
	if (sg_pack_str(pk, "key") || sg_pack_str(pk, s->key) || sg_pack_str(pk, "hash") ||
	    sg_pack_str(pk, sg_hash_name(s->hash)) || sg_pack_str(pk, "digest") ||
	    sg_pack_bin(pk, s->digest, s->digest_len))
		return 1;
	if (s->pad != SG_PAD_NONE &&
	    (sg_pack_str(pk, "pad") || sg_pack_str(pk, sg_pad_name(s->pad))))
		return 1;
	if (s->idem_len > 0 && (sg_pack_str(pk, "idem") || sg_pack_bin(pk, s->idem, s->idem_len)))
		return 1;
	return sg_pack_meta(pk, &s->meta);
}

static int
sg_check_ts_req(const struct sg_ts_req *t, size_t *n)
{
	if (t->tsq_len > SG_TSQ_MAX || t->idem_len > SG_IDEM_MAX)
		return SG_ERR_INVALID_ARG;
	if (t->tsq_len == 0 && (sg_hash_name(t->hash) == NULL || t->digest_len == 0 ||
	                        t->digest_len > SG_HASH_MAX_LEN))
		return SG_ERR_INVALID_ARG;
	if (t->tsq_len > 0 && t->hash != SG_HASH_NONE)
		return SG_ERR_INVALID_ARG;
	*n += (t->tsq_len > 0 ? 1 : 2) + (t->idem_len > 0) + (sg_meta_count(&t->meta) > 0);
	return 0;
}

static int
sg_pack_ts_req(msgpack_packer *pk, const struct sg_ts_req *t)
{
	if (t->tsq_len > 0) {
		if (sg_pack_str(pk, "tsq") || sg_pack_bin(pk, t->tsq, t->tsq_len))
			return 1;
	} else if (sg_pack_str(pk, "hash") || sg_pack_str(pk, sg_hash_name(t->hash)) ||
	           sg_pack_str(pk, "digest") || sg_pack_bin(pk, t->digest, t->digest_len)) {
		return 1;
	}
	if (t->idem_len > 0 && (sg_pack_str(pk, "idem") || sg_pack_bin(pk, t->idem, t->idem_len)))
		return 1;
	return sg_pack_meta(pk, &t->meta);
}

/* Packs the string s of at most max bytes; 1 when it is longer (not terminated in time). */
static int
sg_pack_strn(msgpack_packer *pk, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	return n > max || msgpack_pack_str(pk, n) != 0 || msgpack_pack_str_body(pk, s, n) != 0;
}

/* 1 if the fixed-size name buffer s holds a valid name. */
static int
sg_name_ok(const char *s)
{
	return sg_wire_name_valid(s, strnlen(s, SG_NAME_MAX + 1));
}

/*
 * Only what the struct itself could get wrong is refused here (lengths past
 * its arrays, unterminated strings); the values are the server's to judge,
 * so that tests can send it bad ones.
 */
static int
sg_check_issue_req(const struct sg_issue_req *q, size_t *n)
{
	size_t i;

	if (strnlen(q->profile, SG_NAME_MAX + 1) > SG_NAME_MAX || q->csr_len == 0 ||
	    q->csr_len > SG_CSR_MAX || q->n_sans > SG_SANS_MAX || q->idem_len > SG_IDEM_MAX)
		return SG_ERR_INVALID_ARG;
	for (i = 0; i < q->n_sans; i++) {
		if (strnlen(q->sans[i], SG_SAN_MAX + 1) > SG_SAN_MAX)
			return SG_ERR_INVALID_ARG;
	}
	*n +=
	    2 + (q->ttl > 0) + (q->n_sans > 0) + (q->idem_len > 0) + (sg_meta_count(&q->meta) > 0);
	return 0;
}

static int
sg_pack_issue_req(msgpack_packer *pk, const struct sg_issue_req *q)
{
	size_t i;

	if (sg_pack_str(pk, "profile") || sg_pack_strn(pk, q->profile, SG_NAME_MAX) ||
	    sg_pack_str(pk, "csr") || sg_pack_bin(pk, q->csr, q->csr_len))
		return 1;
	if (q->ttl > 0 && (sg_pack_str(pk, "ttl") || msgpack_pack_uint64(pk, q->ttl) != 0))
		return 1;
	if (q->n_sans > 0) {
		if (sg_pack_str(pk, "sans") || msgpack_pack_array(pk, q->n_sans) != 0)
			return 1;
		for (i = 0; i < q->n_sans; i++) {
			if (sg_pack_strn(pk, q->sans[i], SG_SAN_MAX))
				return 1;
		}
	}
	if (q->idem_len > 0 && (sg_pack_str(pk, "idem") || sg_pack_bin(pk, q->idem, q->idem_len)))
		return 1;
	return sg_pack_meta(pk, &q->meta);
}

/* cert.status carries the serial only: an idempotency key there is a caller's mistake. */
static int
sg_check_serial_req(const struct sg_req *req, size_t *n)
{
	const struct sg_serial_req *q = &req->u.serial;
	int revoke = req->op == SG_OP_CERT_REVOKE;

	if (q->serial_len == 0 || q->serial_len > SG_SERIAL_MAX || q->idem_len > SG_IDEM_MAX ||
	    (revoke && sg_reason_name(q->reason) == NULL) || (!revoke && q->idem_len > 0))
		return SG_ERR_INVALID_ARG;
	*n += 1 + (revoke ? 1 + (q->idem_len > 0) : 0);
	return 0;
}

static int
sg_pack_serial_req(msgpack_packer *pk, enum sg_op op, const struct sg_serial_req *q)
{
	if (sg_pack_str(pk, "serial") || sg_pack_bin(pk, q->serial, q->serial_len))
		return 1;
	if (op != SG_OP_CERT_REVOKE)
		return 0;
	if (sg_pack_str(pk, "reason") || sg_pack_str(pk, sg_reason_name(q->reason)))
		return 1;
	return q->idem_len > 0 &&
	       (sg_pack_str(pk, "idem") || sg_pack_bin(pk, q->idem, q->idem_len));
}

int
sg_wire_encode_req(msgpack_sbuffer *sb, const struct sg_req *req)
{
	msgpack_packer pk;
	size_t n = 3;
	int r = 0;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (req->id == 0 || req->op <= SG_OP_NONE || req->op >= SG_OP_COUNT)
		return SG_ERR_INVALID_ARG;
	switch (req->op) {
	case SG_OP_SIGN_DIGEST:
	case SG_OP_SIGN_CMS:
		r = sg_check_sign_req(req, &n);
		break;
	case SG_OP_TIMESTAMP:
		r = sg_check_ts_req(&req->u.ts, &n);
		break;
	case SG_OP_CERT_ISSUE:
		r = sg_check_issue_req(&req->u.issue, &n);
		break;
	case SG_OP_CERT_REVOKE:
	case SG_OP_CERT_STATUS:
		r = sg_check_serial_req(req, &n);
		break;
	case SG_OP_CRL_GET:
		if (strnlen(req->u.crl.ca, SG_NAME_MAX + 1) > SG_NAME_MAX)
			r = SG_ERR_INVALID_ARG;
		n++;
		break;
	case SG_OP_OCSP:
		if (req->u.ocsp.len == 0 || req->u.ocsp.len > SG_OCSP_REQ_MAX)
			r = SG_ERR_INVALID_ARG;
		n++;
		break;
	case SG_OP_PING:
	case SG_OP_KEYS_LIST:
	case SG_OP_CA_LIST:
	case SG_OP_NONE:
	default:
		break;
	}
	if (r != 0)
		return r;
	if (msgpack_pack_map(&pk, n) != 0 || sg_pack_str(&pk, "v") ||
	    msgpack_pack_uint64(&pk, SG_WIRE_VERSION) != 0 || sg_pack_str(&pk, "id") ||
	    msgpack_pack_uint64(&pk, req->id) != 0 || sg_pack_str(&pk, "op") ||
	    sg_pack_str(&pk, sg_op_name(req->op)))
		return SG_ERR_NOMEM;
	switch (req->op) {
	case SG_OP_SIGN_DIGEST:
	case SG_OP_SIGN_CMS:
		return sg_pack_sign_req(&pk, &req->u.sign) ? SG_ERR_NOMEM : 0;
	case SG_OP_TIMESTAMP:
		return sg_pack_ts_req(&pk, &req->u.ts) ? SG_ERR_NOMEM : 0;
	case SG_OP_CERT_ISSUE:
		return sg_pack_issue_req(&pk, &req->u.issue) ? SG_ERR_NOMEM : 0;
	case SG_OP_CERT_REVOKE:
	case SG_OP_CERT_STATUS:
		return sg_pack_serial_req(&pk, req->op, &req->u.serial) ? SG_ERR_NOMEM : 0;
	case SG_OP_CRL_GET:
		return sg_pack_str(&pk, "ca") || sg_pack_strn(&pk, req->u.crl.ca, SG_NAME_MAX)
		           ? SG_ERR_NOMEM
		           : 0;
	case SG_OP_OCSP:
		return sg_pack_str(&pk, "req") || sg_pack_bin(&pk, req->u.ocsp.der, req->u.ocsp.len)
		           ? SG_ERR_NOMEM
		           : 0;
	case SG_OP_PING:
	case SG_OP_KEYS_LIST:
	case SG_OP_CA_LIST:
	case SG_OP_NONE:
	default:
		return 0;
	}
}

int
sg_wire_encode_err(msgpack_sbuffer *sb, uint64_t id, int err, const char *msg)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (err >= 0)
		return SG_ERR_INVALID_ARG;
	if (msg == NULL || msg[0] == '\0')
		msg = sg_strerror(err);
	if (sg_pack_rep_head(&pk, id, 0, 1) || sg_pack_str(&pk, "err") ||
	    msgpack_pack_map(&pk, 3) != 0 || sg_pack_str(&pk, "code") ||
	    msgpack_pack_uint64(&pk, (uint64_t)-err) != 0 || sg_pack_str(&pk, "name") ||
	    sg_pack_str(&pk, sg_err_name(err)) || sg_pack_str(&pk, "msg") || sg_pack_str(&pk, msg))
		return SG_ERR_NOMEM;
	return 0;
}

int
sg_wire_encode_ping_rep(msgpack_sbuffer *sb, uint64_t id, const struct sg_ping_rep *rep)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (sg_pack_rep_head(&pk, id, 1, 2) || sg_pack_str(&pk, "server") ||
	    sg_pack_str(&pk, rep->server) || sg_pack_str(&pk, "time") ||
	    msgpack_pack_uint64(&pk, rep->time) != 0)
		return SG_ERR_NOMEM;
	return 0;
}

int
sg_wire_encode_keys_rep(msgpack_sbuffer *sb, uint64_t id, const struct sg_key_info *keys, size_t n)
{
	msgpack_packer pk;
	size_t i;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (n > SG_MAX_KEYS)
		return SG_ERR_INVALID_ARG;
	if (sg_pack_rep_head(&pk, id, 1, 1) || sg_pack_str(&pk, "keys") ||
	    msgpack_pack_array(&pk, n) != 0)
		return SG_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		const struct sg_key_info *k = &keys[i];

		size_t c;

		if (sg_keyalg_name(k->alg) == NULL || k->pub_len == 0 || k->pub_len > SG_PUB_MAX ||
		    k->n_certs > SG_CERTS_MAX)
			return SG_ERR_INVALID_ARG;
		for (c = 0; c < k->n_certs; c++) {
			if (k->cert[c] == NULL || k->cert_len[c] == 0 ||
			    k->cert_len[c] > SG_CERT_MAX)
				return SG_ERR_INVALID_ARG;
		}
		if (msgpack_pack_map(&pk, 5 + (k->n_certs > 0)) != 0 || sg_pack_str(&pk, "name") ||
		    sg_pack_str(&pk, k->name) || sg_pack_str(&pk, "alg") ||
		    sg_pack_str(&pk, sg_keyalg_name(k->alg)) || sg_pack_str(&pk, "pub") ||
		    sg_pack_bin(&pk, k->pub, k->pub_len) || sg_pack_str(&pk, "hashes") ||
		    sg_pack_names(&pk, k->hashes, SG_HASH_SHA256, SG_HASH_SHA512, sg_hash_name_i) ||
		    sg_pack_str(&pk, "ops") ||
		    sg_pack_names(&pk, k->ops, SG_OP_PING, SG_OP_COUNT - 1, sg_op_name_i))
			return SG_ERR_NOMEM;
		if (k->n_certs == 0)
			continue;
		if (sg_pack_str(&pk, "certs") || msgpack_pack_array(&pk, k->n_certs) != 0)
			return SG_ERR_NOMEM;
		for (c = 0; c < k->n_certs; c++) {
			if (sg_pack_bin(&pk, k->cert[c], k->cert_len[c]))
				return SG_ERR_NOMEM;
		}
	}
	return 0;
}

int
sg_wire_encode_sign_rep(msgpack_sbuffer *sb, uint64_t id, const struct sg_sign_rep *rep)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (sg_keyalg_name(rep->alg) == NULL || sg_hash_name(rep->hash) == NULL ||
	    rep->sig_len == 0 || rep->sig_len > SG_SIG_MAX)
		return SG_ERR_INVALID_ARG;
	if (sg_pack_rep_head(&pk, id, 1, 6 + (rep->replayed != 0)) || sg_pack_str(&pk, "key") ||
	    sg_pack_str(&pk, rep->key) || sg_pack_str(&pk, "alg") ||
	    sg_pack_str(&pk, sg_keyalg_name(rep->alg)) || sg_pack_str(&pk, "hash") ||
	    sg_pack_str(&pk, sg_hash_name(rep->hash)) || sg_pack_str(&pk, "pad") ||
	    sg_pack_str(&pk, sg_pad_name(rep->pad)) || sg_pack_str(&pk, "sig") ||
	    sg_pack_bin(&pk, rep->sig, rep->sig_len) || sg_pack_str(&pk, "receipt") ||
	    msgpack_pack_map(&pk, 2) != 0 || sg_pack_str(&pk, "record") ||
	    msgpack_pack_uint64(&pk, rep->record) != 0 || sg_pack_str(&pk, "hash") ||
	    sg_pack_bin(&pk, rep->record_hash, sizeof(rep->record_hash)))
		return SG_ERR_NOMEM;
	if (rep->replayed && (sg_pack_str(&pk, "replayed") || msgpack_pack_true(&pk) != 0))
		return SG_ERR_NOMEM;
	return 0;
}

int
sg_wire_encode_blob_rep(msgpack_sbuffer *sb, uint64_t id, enum sg_op op,
                        const struct sg_blob_rep *rep)
{
	msgpack_packer pk;
	int ts = op == SG_OP_TIMESTAMP;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if ((op != SG_OP_SIGN_CMS && op != SG_OP_TIMESTAMP) || sg_keyalg_name(rep->alg) == NULL ||
	    sg_hash_name(rep->hash) == NULL || rep->data == NULL || rep->len == 0 ||
	    rep->len > SG_BLOB_MAX || (ts && rep->status > 5) ||
	    !sg_wire_name_valid(rep->key, strlen(rep->key)))
		return SG_ERR_INVALID_ARG;
	if (sg_pack_rep_head(&pk, id, 1, 5 + ts + (rep->replayed != 0)) ||
	    sg_pack_str(&pk, "key") || sg_pack_str(&pk, rep->key) || sg_pack_str(&pk, "alg") ||
	    sg_pack_str(&pk, sg_keyalg_name(rep->alg)) || sg_pack_str(&pk, "hash") ||
	    sg_pack_str(&pk, sg_hash_name(rep->hash)))
		return SG_ERR_NOMEM;
	if (ts && (sg_pack_str(&pk, "status") || msgpack_pack_uint64(&pk, rep->status) != 0))
		return SG_ERR_NOMEM;
	if (sg_pack_str(&pk, ts ? "tsr" : "cms") || sg_pack_bin(&pk, rep->data, rep->len) ||
	    sg_pack_str(&pk, "receipt") || msgpack_pack_map(&pk, 2) != 0 ||
	    sg_pack_str(&pk, "record") || msgpack_pack_uint64(&pk, rep->record) != 0 ||
	    sg_pack_str(&pk, "hash") ||
	    sg_pack_bin(&pk, rep->record_hash, sizeof(rep->record_hash)))
		return SG_ERR_NOMEM;
	if (rep->replayed && (sg_pack_str(&pk, "replayed") || msgpack_pack_true(&pk) != 0))
		return SG_ERR_NOMEM;
	return 0;
}

/* receipt: {record, hash} of the audit record of the request. */
static int
sg_pack_receipt(msgpack_packer *pk, uint64_t record, const unsigned char hash[32])
{
	return sg_pack_str(pk, "receipt") || msgpack_pack_map(pk, 2) != 0 ||
	       sg_pack_str(pk, "record") || msgpack_pack_uint64(pk, record) != 0 ||
	       sg_pack_str(pk, "hash") || sg_pack_bin(pk, hash, 32);
}

/* 1 if the n certificates cert[i] / len[i] are what a decoder takes (1..SG_CERT_MAX each). */
static int
sg_certs_ok(const unsigned char *const *cert, const size_t *len, size_t n)
{
	size_t i;

	if (n > SG_CERTS_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (cert[i] == NULL || len[i] == 0 || len[i] > SG_CERT_MAX)
			return 0;
	}
	return 1;
}

static int
sg_pack_certs(msgpack_packer *pk, const unsigned char *const *cert, const size_t *len, size_t n)
{
	size_t i;

	if (msgpack_pack_array(pk, n) != 0)
		return 1;
	for (i = 0; i < n; i++) {
		if (sg_pack_bin(pk, cert[i], len[i]))
			return 1;
	}
	return 0;
}

int
sg_wire_encode_issue_rep(msgpack_sbuffer *sb, uint64_t id, const struct sg_issue_rep *rep)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (!sg_name_ok(rep->profile) || !sg_name_ok(rep->ca) ||
	    !sg_serial_valid(rep->serial, rep->serial_len) || rep->not_after < rep->not_before ||
	    !sg_certs_ok(&rep->cert, &rep->cert_len, 1) ||
	    !sg_certs_ok(rep->chain, rep->chain_len, rep->n_chain))
		return SG_ERR_INVALID_ARG;
	if (sg_pack_rep_head(&pk, id, 1, 8 + (rep->replayed != 0)) || sg_pack_str(&pk, "profile") ||
	    sg_pack_str(&pk, rep->profile) || sg_pack_str(&pk, "ca") || sg_pack_str(&pk, rep->ca) ||
	    sg_pack_str(&pk, "serial") || sg_pack_bin(&pk, rep->serial, rep->serial_len) ||
	    sg_pack_str(&pk, "not_before") || msgpack_pack_uint64(&pk, rep->not_before) != 0 ||
	    sg_pack_str(&pk, "not_after") || msgpack_pack_uint64(&pk, rep->not_after) != 0 ||
	    sg_pack_str(&pk, "cert") || sg_pack_bin(&pk, rep->cert, rep->cert_len) ||
	    sg_pack_str(&pk, "chain") ||
	    sg_pack_certs(&pk, rep->chain, rep->chain_len, rep->n_chain) ||
	    sg_pack_receipt(&pk, rep->record, rep->record_hash))
		return SG_ERR_NOMEM;
	if (rep->replayed && (sg_pack_str(&pk, "replayed") || msgpack_pack_true(&pk) != 0))
		return SG_ERR_NOMEM;
	return 0;
}

int
sg_wire_encode_status_rep(msgpack_sbuffer *sb, uint64_t id, enum sg_op op,
                          const struct sg_status_rep *rep)
{
	msgpack_packer pk;
	int known = rep->status != SG_CERT_UNKNOWN, revoked = rep->status == SG_CERT_REVOKED;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if ((op != SG_OP_CERT_REVOKE && op != SG_OP_CERT_STATUS) ||
	    !sg_serial_valid(rep->serial, rep->serial_len) ||
	    sg_cert_status_name(rep->status) == NULL || (op == SG_OP_CERT_STATUS && rep->replayed))
		return SG_ERR_INVALID_ARG;
	/* What is known of a certificate comes with it, and nothing without it. */
	if (known ? !sg_name_ok(rep->profile) || !sg_name_ok(rep->ca)
	          : rep->profile[0] != '\0' || rep->ca[0] != '\0' || rep->not_after != 0)
		return SG_ERR_INVALID_ARG;
	if (revoked ? sg_reason_name(rep->reason) == NULL : rep->revoked_at != 0)
		return SG_ERR_INVALID_ARG;
	if (sg_pack_rep_head(&pk, id, 1, 3 + 3 * known + 2 * revoked + (rep->replayed != 0)) ||
	    sg_pack_str(&pk, "serial") || sg_pack_bin(&pk, rep->serial, rep->serial_len) ||
	    sg_pack_str(&pk, "status") || sg_pack_str(&pk, sg_cert_status_name(rep->status)))
		return SG_ERR_NOMEM;
	if (known &&
	    (sg_pack_str(&pk, "profile") || sg_pack_str(&pk, rep->profile) ||
	     sg_pack_str(&pk, "ca") || sg_pack_str(&pk, rep->ca) || sg_pack_str(&pk, "not_after") ||
	     msgpack_pack_uint64(&pk, rep->not_after) != 0))
		return SG_ERR_NOMEM;
	if (revoked &&
	    (sg_pack_str(&pk, "revoked_at") || msgpack_pack_uint64(&pk, rep->revoked_at) != 0 ||
	     sg_pack_str(&pk, "reason") || sg_pack_str(&pk, sg_reason_name(rep->reason))))
		return SG_ERR_NOMEM;
	if (sg_pack_receipt(&pk, rep->record, rep->record_hash))
		return SG_ERR_NOMEM;
	if (rep->replayed && (sg_pack_str(&pk, "replayed") || msgpack_pack_true(&pk) != 0))
		return SG_ERR_NOMEM;
	return 0;
}

int
sg_wire_encode_crl_rep(msgpack_sbuffer *sb, uint64_t id, const struct sg_crl_rep *rep)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (!sg_name_ok(rep->ca) || rep->data == NULL || rep->len == 0 || rep->len > SG_CRL_MAX ||
	    rep->next_update < rep->this_update)
		return SG_ERR_INVALID_ARG;
	if (sg_pack_rep_head(&pk, id, 1, 5) || sg_pack_str(&pk, "ca") ||
	    sg_pack_str(&pk, rep->ca) || sg_pack_str(&pk, "number") ||
	    msgpack_pack_uint64(&pk, rep->number) != 0 || sg_pack_str(&pk, "this_update") ||
	    msgpack_pack_uint64(&pk, rep->this_update) != 0 || sg_pack_str(&pk, "next_update") ||
	    msgpack_pack_uint64(&pk, rep->next_update) != 0 || sg_pack_str(&pk, "crl") ||
	    sg_pack_bin(&pk, rep->data, rep->len))
		return SG_ERR_NOMEM;
	return 0;
}

int
sg_wire_encode_cas_rep(msgpack_sbuffer *sb, uint64_t id, const struct sg_ca_info *cas, size_t n)
{
	msgpack_packer pk;
	size_t i, j;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (n > SG_MAX_CAS || (n > 0 && cas == NULL))
		return SG_ERR_INVALID_ARG;
	for (i = 0; i < n; i++) {
		if (!sg_name_ok(cas[i].name) || cas[i].n_certs == 0 ||
		    !sg_certs_ok(cas[i].cert, cas[i].cert_len, cas[i].n_certs) ||
		    cas[i].n_profiles > SG_CA_PROFILES_MAX)
			return SG_ERR_INVALID_ARG;
		for (j = 0; j < cas[i].n_profiles; j++) {
			if (!sg_name_ok(cas[i].profiles[j]))
				return SG_ERR_INVALID_ARG;
		}
	}
	if (sg_pack_rep_head(&pk, id, 1, 1) || sg_pack_str(&pk, "cas") ||
	    msgpack_pack_array(&pk, n) != 0)
		return SG_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		const struct sg_ca_info *ca = &cas[i];

		if (msgpack_pack_map(&pk, 4) != 0 || sg_pack_str(&pk, "name") ||
		    sg_pack_str(&pk, ca->name) || sg_pack_str(&pk, "not_after") ||
		    msgpack_pack_uint64(&pk, ca->not_after) != 0 || sg_pack_str(&pk, "certs") ||
		    sg_pack_certs(&pk, ca->cert, ca->cert_len, ca->n_certs) ||
		    sg_pack_str(&pk, "profiles") || msgpack_pack_array(&pk, ca->n_profiles) != 0)
			return SG_ERR_NOMEM;
		for (j = 0; j < ca->n_profiles; j++) {
			if (sg_pack_str(&pk, ca->profiles[j]))
				return SG_ERR_NOMEM;
		}
	}
	return 0;
}

int
sg_wire_encode_ocsp_rep(msgpack_sbuffer *sb, uint64_t id, const unsigned char *resp, size_t len)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (resp == NULL || len == 0 || len > SG_BLOB_MAX)
		return SG_ERR_INVALID_ARG;
	if (sg_pack_rep_head(&pk, id, 1, 1) || sg_pack_str(&pk, "resp") ||
	    sg_pack_bin(&pk, resp, len))
		return SG_ERR_NOMEM;
	return 0;
}

/* Reply decoding (client side). */

/* A list of names into a bit mask, each name parsed by parse(). */
static int
sg_decode_names(const msgpack_object *o, unsigned *mask, int (*parse)(const char *, int *),
                char *why, const char *field)
{
	char name[SG_NAME_MAX + 1];
	uint32_t i;
	int bit, r;

	*mask = 0;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > 16) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' must be a short array", field);
		return SG_ERR_BAD_TYPE;
	}
	for (i = 0; i < o->via.array.size; i++) {
		if ((r = sg_obj_str(&o->via.array.ptr[i], name, SG_NAME_MAX, 0, why, field)) != 0)
			return r;
		if (parse(name, &bit) != 0) {
			sg_whyf(why, SG_WHY_MAX, "field '%s' names something unknown", field);
			return SG_ERR_BAD_VALUE;
		}
		*mask |= 1u << bit;
	}
	return 0;
}

static int
sg_hash_parse_i(const char *s, int *bit)
{
	enum sg_hash h;
	int r = sg_hash_parse(s, &h);

	*bit = (int)h;
	return r;
}

static int
sg_op_parse_i(const char *s, int *bit)
{
	enum sg_op op;
	int r = sg_op_parse(s, &op);

	*bit = (int)op;
	return r;
}

/*
 * Checks that o (field) is an array of min..max binaries of 1..SG_CERT_MAX
 * bytes each, and adds their sizes to *total.
 */
static int
sg_check_certs(const msgpack_object *o, const char *field, size_t min, size_t max, size_t *total,
               char *why)
{
	const msgpack_object *c;
	uint32_t i;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < min || o->via.array.size > max) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' must be an array of %zu..%zu certificates",
		        field, min, max);
		return o->type != MSGPACK_OBJECT_ARRAY ? SG_ERR_BAD_TYPE : SG_ERR_BAD_VALUE;
	}
	for (i = 0; i < o->via.array.size; i++) {
		c = &o->via.array.ptr[i];
		if (c->type != MSGPACK_OBJECT_BIN) {
			sg_whyf(why, SG_WHY_MAX, "field '%s' must hold binaries", field);
			return SG_ERR_BAD_TYPE;
		}
		if (c->via.bin.size == 0 || c->via.bin.size > SG_CERT_MAX) {
			sg_whyf(why, SG_WHY_MAX, "field '%s' has a bad length", field);
			return SG_ERR_BAD_VALUE;
		}
		*total += c->via.bin.size;
	}
	return 0;
}

/* Copies the binary c to buf + *off and points *ptr / *len at the copy. */
static void
sg_copy_bin(const msgpack_object *c, unsigned char *buf, size_t *off, const unsigned char **ptr,
            size_t *len)
{
	memcpy(buf + *off, c->via.bin.ptr, c->via.bin.size);
	*ptr = buf + *off;
	*len = c->via.bin.size;
	*off += c->via.bin.size;
}

/* certs of keys.list and ca.list: 1..SG_CERTS_MAX certificates, copied into one buffer. */
static int
sg_decode_certs(const msgpack_object *o, const unsigned char **cert, size_t *cert_len,
                size_t *n_certs, unsigned char **buf, char *why)
{
	size_t total = 0, off = 0;
	uint32_t i;
	int r;

	if ((r = sg_check_certs(o, "certs", 1, SG_CERTS_MAX, &total, why)) != 0)
		return r;
	if ((*buf = malloc(total)) == NULL)
		return SG_ERR_NOMEM;
	for (i = 0; i < o->via.array.size; i++)
		sg_copy_bin(&o->via.array.ptr[i], *buf, &off, &cert[i], &cert_len[i]);
	*n_certs = o->via.array.size;
	return 0;
}

static int
sg_decode_key_info(const msgpack_object *o, struct sg_key_info *k, char *why)
{
	struct sg_map m;
	char alg[16];
	const msgpack_object *f;
	int r;

	if ((r = sg_map_open(o, &m, why, "key")) != 0 ||
	    (r = sg_field_name(&m, "name", 1, k->name)) != 0 ||
	    (r = sg_field_str(&m, "alg", 1, alg, sizeof(alg) - 1, NULL)) != 0 ||
	    (r = sg_field_bin(&m, "pub", 1, k->pub, SG_PUB_MAX, &k->pub_len)) != 0)
		return r;
	if (sg_keyalg_parse(alg, &k->alg) != 0) {
		sg_whyf(why, SG_WHY_MAX, "unknown key algorithm '%s'", alg);
		return SG_ERR_BAD_VALUE;
	}
	if ((f = sg_map_get(&m, "hashes")) == NULL ||
	    (r = sg_decode_names(f, &k->hashes, sg_hash_parse_i, why, "hashes")) != 0)
		return f == NULL ? SG_ERR_MISSING_FIELD : r;
	if ((f = sg_map_get(&m, "ops")) == NULL ||
	    (r = sg_decode_names(f, &k->ops, sg_op_parse_i, why, "ops")) != 0)
		return f == NULL ? SG_ERR_MISSING_FIELD : r;
	if ((f = sg_map_get(&m, "certs")) != NULL &&
	    (r = sg_decode_certs(f, k->cert, k->cert_len, &k->n_certs, &k->certs_buf, why)) != 0)
		return r;
	return sg_map_close(&m);
}

/* receipt: {record: uint, hash: bin(32)}, required. */
static int
sg_decode_receipt(struct sg_map *m, uint64_t *record, unsigned char hash[32], char *why)
{
	struct sg_map rm;
	const msgpack_object *f;
	size_t hlen = 0;
	int r;

	if ((r = sg_field_find(m, "receipt", 1, &f)) != 0)
		return r;
	if ((r = sg_map_open(f, &rm, why, "receipt")) != 0 ||
	    (r = sg_field_uint(&rm, "record", 1, record, NULL)) != 0 ||
	    (r = sg_field_bin(&rm, "hash", 1, hash, 32, &hlen)) != 0 ||
	    (r = sg_map_close(&rm)) != 0)
		return r;
	if (hlen != 32) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' must be 32 bytes", "hash");
		return SG_ERR_BAD_VALUE;
	}
	return 0;
}

static int
sg_decode_sign_rep(struct sg_map *m, struct sg_sign_rep *s, char *why)
{
	char name[16];
	int r;

	if ((r = sg_field_name(m, "key", 1, s->key)) != 0 ||
	    (r = sg_field_str(m, "alg", 1, name, sizeof(name) - 1, NULL)) != 0)
		return r;
	if (sg_keyalg_parse(name, &s->alg) != 0)
		return SG_ERR_BAD_VALUE;
	if ((r = sg_field_str(m, "hash", 1, name, sizeof(name) - 1, NULL)) != 0)
		return r;
	if (sg_hash_parse(name, &s->hash) != 0)
		return SG_ERR_BAD_VALUE;
	if ((r = sg_field_str(m, "pad", 1, name, sizeof(name) - 1, NULL)) != 0)
		return r;
	if (sg_pad_parse(name, &s->pad) != 0)
		return SG_ERR_BAD_VALUE;
	if ((r = sg_field_bin(m, "sig", 1, s->sig, SG_SIG_MAX, &s->sig_len)) != 0 ||
	    (r = sg_decode_receipt(m, &s->record, s->record_hash, why)) != 0)
		return r;
	return sg_field_bool(m, "replayed", 0, &s->replayed);
}

static int
sg_decode_blob_rep(struct sg_map *m, enum sg_op op, struct sg_blob_rep *b, char *why)
{
	const msgpack_object *f;
	const char *field = op == SG_OP_TIMESTAMP ? "tsr" : "cms";
	char name[16];
	uint64_t status = 0;
	int r;

	if ((r = sg_field_name(m, "key", 1, b->key)) != 0 ||
	    (r = sg_field_str(m, "alg", 1, name, sizeof(name) - 1, NULL)) != 0)
		return r;
	if (sg_keyalg_parse(name, &b->alg) != 0)
		return SG_ERR_BAD_VALUE;
	if ((r = sg_field_str(m, "hash", 1, name, sizeof(name) - 1, NULL)) != 0)
		return r;
	if (sg_hash_parse(name, &b->hash) != 0)
		return SG_ERR_BAD_VALUE;
	if (op == SG_OP_TIMESTAMP) {
		if ((r = sg_field_uint(m, "status", 1, &status, NULL)) != 0)
			return r;
		if (status > 5)
			return SG_ERR_BAD_VALUE;
		b->status = (unsigned)status;
	}
	if ((r = sg_field_find(m, field, 1, &f)) != 0)
		return r;
	if (f->type != MSGPACK_OBJECT_BIN) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' must be binary", field);
		return SG_ERR_BAD_TYPE;
	}
	if (f->via.bin.size == 0 || f->via.bin.size > SG_BLOB_MAX) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' has a bad length", field);
		return SG_ERR_BAD_VALUE;
	}
	if ((b->data = malloc(f->via.bin.size)) == NULL)
		return SG_ERR_NOMEM;
	memcpy(b->data, f->via.bin.ptr, f->via.bin.size);
	b->len = f->via.bin.size;
	if ((r = sg_decode_receipt(m, &b->record, b->record_hash, why)) != 0)
		return r;
	return sg_field_bool(m, "replayed", 0, &b->replayed);
}

/* A required binary field of 1..max bytes, copied into *data (malloc). */
static int
sg_field_blob(struct sg_map *m, const char *name, size_t max, unsigned char **data, size_t *len)
{
	const msgpack_object *f;
	int r;

	if ((r = sg_field_find(m, name, 1, &f)) != 0)
		return r;
	if (f->type != MSGPACK_OBJECT_BIN) {
		sg_whyf(m->why, SG_WHY_MAX, "field '%s' must be binary", name);
		return SG_ERR_BAD_TYPE;
	}
	if (f->via.bin.size == 0 || f->via.bin.size > max) {
		sg_whyf(m->why, SG_WHY_MAX, "field '%s' has a bad length", name);
		return SG_ERR_BAD_VALUE;
	}
	if ((*data = malloc(f->via.bin.size)) == NULL)
		return SG_ERR_NOMEM;
	memcpy(*data, f->via.bin.ptr, f->via.bin.size);
	*len = f->via.bin.size;
	return 0;
}

static int
sg_decode_issue_rep(struct sg_map *m, struct sg_issue_rep *s, char *why)
{
	const msgpack_object *cert, *chain;
	size_t total = 0, off = 0;
	uint32_t i;
	int r;

	if ((r = sg_field_name(m, "profile", 1, s->profile)) != 0 ||
	    (r = sg_field_name(m, "ca", 1, s->ca)) != 0 ||
	    (r = sg_field_serial(m, "serial", s->serial, &s->serial_len)) != 0 ||
	    (r = sg_field_uint(m, "not_before", 1, &s->not_before, NULL)) != 0 ||
	    (r = sg_field_uint(m, "not_after", 1, &s->not_after, NULL)) != 0)
		return r;
	if (s->not_after < s->not_before) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' is before not_before", "not_after");
		return SG_ERR_BAD_VALUE;
	}
	if ((r = sg_field_find(m, "cert", 1, &cert)) != 0)
		return r;
	if (cert->type != MSGPACK_OBJECT_BIN) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' must be binary", "cert");
		return SG_ERR_BAD_TYPE;
	}
	if (cert->via.bin.size == 0 || cert->via.bin.size > SG_CERT_MAX) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' has a bad length", "cert");
		return SG_ERR_BAD_VALUE;
	}
	total = cert->via.bin.size;
	if ((r = sg_field_find(m, "chain", 1, &chain)) != 0 ||
	    (r = sg_check_certs(chain, "chain", 0, SG_CERTS_MAX, &total, why)) != 0)
		return r;
	/* The certificate and its chain in one buffer, which sg_rep_clear frees. */
	if ((s->buf = malloc(total)) == NULL)
		return SG_ERR_NOMEM;
	sg_copy_bin(cert, s->buf, &off, &s->cert, &s->cert_len);
	for (i = 0; i < chain->via.array.size; i++)
		sg_copy_bin(&chain->via.array.ptr[i], s->buf, &off, &s->chain[i], &s->chain_len[i]);
	s->n_chain = chain->via.array.size;
	if ((r = sg_decode_receipt(m, &s->record, s->record_hash, why)) != 0)
		return r;
	return sg_field_bool(m, "replayed", 0, &s->replayed);
}

/*
 * cert.revoke and cert.status: profile, ca and not_after come with a known
 * certificate (good or revoked) and never without one; revoked_at and reason
 * with a revoked one only.
 */
static int
sg_decode_status_rep(struct sg_map *m, enum sg_op op, struct sg_status_rep *s, char *why)
{
	char name[32];
	int r, known, revoked, has_na = 0, has_ra = 0, has_reason = 0;

	if ((r = sg_field_serial(m, "serial", s->serial, &s->serial_len)) != 0 ||
	    (r = sg_field_str(m, "status", 1, name, sizeof(name) - 1, NULL)) != 0)
		return r;
	if (sg_cert_status_parse(name, &s->status) != 0) {
		sg_whyf(why, SG_WHY_MAX, "unknown certificate status '%s'", name);
		return SG_ERR_BAD_VALUE;
	}
	known = s->status != SG_CERT_UNKNOWN;
	revoked = s->status == SG_CERT_REVOKED;
	if ((r = sg_field_name(m, "profile", 0, s->profile)) != 0 ||
	    (r = sg_field_name(m, "ca", 0, s->ca)) != 0 ||
	    (r = sg_field_uint(m, "not_after", 0, &s->not_after, &has_na)) != 0 ||
	    (r = sg_field_uint(m, "revoked_at", 0, &s->revoked_at, &has_ra)) != 0 ||
	    (r = sg_field_str(m, "reason", 0, name, sizeof(name) - 1, &has_reason)) != 0)
		return r;
	if (has_reason && sg_reason_parse(name, &s->reason) != 0) {
		sg_whyf(why, SG_WHY_MAX, "unknown revocation reason '%s'", name);
		return SG_ERR_BAD_VALUE;
	}
	if ((known && (s->profile[0] == '\0' || s->ca[0] == '\0' || !has_na)) ||
	    (revoked && (!has_ra || !has_reason))) {
		sg_whyf(why, SG_WHY_MAX, "a certificate %s without its details", "status");
		return SG_ERR_MISSING_FIELD;
	}
	if ((!known && (s->profile[0] != '\0' || s->ca[0] != '\0' || has_na)) ||
	    (!revoked && (has_ra || has_reason))) {
		sg_whyf(why, SG_WHY_MAX, "details that contradict status '%s'",
		        sg_cert_status_name(s->status));
		return SG_ERR_BAD_VALUE;
	}
	if ((r = sg_decode_receipt(m, &s->record, s->record_hash, why)) != 0)
		return r;
	/* Only a revocation is stored and replayed; a status query is answered afresh. */
	return op == SG_OP_CERT_REVOKE ? sg_field_bool(m, "replayed", 0, &s->replayed) : 0;
}

static int
sg_decode_crl_rep(struct sg_map *m, struct sg_crl_rep *c, char *why)
{
	int r;

	if ((r = sg_field_name(m, "ca", 1, c->ca)) != 0 ||
	    (r = sg_field_uint(m, "number", 1, &c->number, NULL)) != 0 ||
	    (r = sg_field_uint(m, "this_update", 1, &c->this_update, NULL)) != 0 ||
	    (r = sg_field_uint(m, "next_update", 1, &c->next_update, NULL)) != 0)
		return r;
	if (c->next_update < c->this_update) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' is before this_update", "next_update");
		return SG_ERR_BAD_VALUE;
	}
	return sg_field_blob(m, "crl", SG_CRL_MAX, &c->data, &c->len);
}

/* profiles: 0..SG_CA_PROFILES_MAX names. */
static int
sg_decode_profiles(const msgpack_object *o, struct sg_ca_info *ca, char *why)
{
	const msgpack_object *p;
	uint32_t i;
	int r;

	if (o->type != MSGPACK_OBJECT_ARRAY) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' must be an array of names", "profiles");
		return SG_ERR_BAD_TYPE;
	}
	if (o->via.array.size > SG_CA_PROFILES_MAX) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' has more than %d names", "profiles",
		        SG_CA_PROFILES_MAX);
		return SG_ERR_BAD_VALUE;
	}
	for (i = 0; i < o->via.array.size; i++) {
		p = &o->via.array.ptr[i];
		if ((r = sg_obj_str(p, ca->profiles[i], SG_NAME_MAX, 0, why, "profiles")) != 0)
			return r;
		if (!sg_wire_name_valid(ca->profiles[i], p->via.str.size)) {
			sg_whyf(why, SG_WHY_MAX, "field '%s' has a name that is not valid",
			        "profiles");
			return SG_ERR_BAD_VALUE;
		}
	}
	ca->n_profiles = o->via.array.size;
	return 0;
}

static int
sg_decode_ca_info(const msgpack_object *o, struct sg_ca_info *ca, char *why)
{
	struct sg_map m;
	const msgpack_object *f;
	int r;

	if ((r = sg_map_open(o, &m, why, "ca")) != 0 ||
	    (r = sg_field_name(&m, "name", 1, ca->name)) != 0 ||
	    (r = sg_field_uint(&m, "not_after", 1, &ca->not_after, NULL)) != 0 ||
	    (r = sg_field_find(&m, "certs", 1, &f)) != 0 ||
	    (r = sg_decode_certs(f, ca->cert, ca->cert_len, &ca->n_certs, &ca->certs_buf, why)) !=
	        0 ||
	    (r = sg_field_find(&m, "profiles", 1, &f)) != 0 ||
	    (r = sg_decode_profiles(f, ca, why)) != 0)
		return r;
	return sg_map_close(&m);
}

static int
sg_decode_cas_rep(struct sg_map *m, struct sg_rep *rep, char *why)
{
	const msgpack_object *f;
	uint32_t i;
	int r;

	if ((r = sg_field_find(m, "cas", 1, &f)) != 0)
		return r;
	if (f->type != MSGPACK_OBJECT_ARRAY) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' must be an array", "cas");
		return SG_ERR_BAD_TYPE;
	}
	if (f->via.array.size > SG_MAX_CAS) {
		sg_whyf(why, SG_WHY_MAX, "field '%s' has more than %d CAs", "cas", SG_MAX_CAS);
		return SG_ERR_BAD_VALUE;
	}
	if (f->via.array.size == 0)
		return 0;
	if ((rep->u.cas.cas = calloc(f->via.array.size, sizeof(struct sg_ca_info))) == NULL)
		return SG_ERR_NOMEM;
	/* n counts every entry started, so that sg_rep_clear frees a partial one too. */
	for (i = 0; i < f->via.array.size; i++) {
		rep->u.cas.n++;
		if ((r = sg_decode_ca_info(&f->via.array.ptr[i], &rep->u.cas.cas[i], why)) != 0)
			return r;
	}
	return 0;
}

int
sg_wire_decode_rep(struct sg_wire_dec *d, const void *buf, size_t len, enum sg_op expect,
                   struct sg_rep *rep, char *why)
{
	msgpack_object obj;
	const msgpack_object *f;
	struct sg_map m, em;
	uint64_t v = 0, code = 0;
	uint32_t i;
	int r;

	memset(rep, 0, sizeof(*rep));
	rep->op = expect;
	if (why != NULL)
		why[0] = '\0';
	if ((r = sg_wire_unpack(d, buf, len, &obj)) != 0) {
		sg_whyf(why, SG_WHY_MAX, "reply is not a single well-formed msgpack %s", "object");
		return r;
	}
	if ((r = sg_map_open(&obj, &m, why, "reply")) != 0)
		goto out;
	if ((r = sg_field_uint(&m, "v", 1, &v, NULL)) != 0)
		goto out;
	if (v != SG_WIRE_VERSION) {
		r = SG_ERR_VERSION;
		goto out;
	}
	if ((r = sg_field_uint(&m, "id", 1, &rep->id, NULL)) != 0 ||
	    (r = sg_field_bool(&m, "ok", 1, &rep->ok)) != 0)
		goto out;
	if (!rep->ok) {
		if ((f = sg_map_get(&m, "err")) == NULL) {
			r = SG_ERR_MISSING_FIELD;
			goto out;
		}
		if ((r = sg_map_open(f, &em, why, "err")) != 0 ||
		    (r = sg_field_uint(&em, "code", 1, &code, NULL)) != 0 ||
		    (r = sg_field_str(&em, "name", 1, rep->err_name, SG_NAME_MAX, NULL)) != 0 ||
		    (f = sg_map_get(&em, "msg")) == NULL ||
		    (r = sg_obj_str(f, rep->err_msg, sizeof(rep->err_msg) - 1, 1, why, "msg")) !=
		        0 ||
		    (r = sg_map_close(&em)) != 0) {
			if (r == 0)
				r = SG_ERR_MISSING_FIELD;
			goto out;
		}
		if (code == 0 || code > 100000) {
			r = SG_ERR_BAD_VALUE;
			goto out;
		}
		rep->err = -(int)code;
		r = sg_map_close(&m);
		goto out;
	}
	switch (expect) {
	case SG_OP_PING:
		if ((r = sg_field_str(&m, "server", 1, rep->u.ping.server, SG_NAME_MAX, NULL)) !=
		        0 ||
		    (r = sg_field_uint(&m, "time", 1, &rep->u.ping.time, NULL)) != 0)
			goto out;
		break;
	case SG_OP_KEYS_LIST:
		if ((f = sg_map_get(&m, "keys")) == NULL) {
			r = SG_ERR_MISSING_FIELD;
			goto out;
		}
		if (f->type != MSGPACK_OBJECT_ARRAY || f->via.array.size > SG_MAX_KEYS) {
			r = SG_ERR_BAD_TYPE;
			goto out;
		}
		if (f->via.array.size > 0 &&
		    (rep->u.keys.keys = calloc(f->via.array.size, sizeof(struct sg_key_info))) ==
		        NULL) {
			r = SG_ERR_NOMEM;
			goto out;
		}
		for (i = 0; i < f->via.array.size; i++) {
			if ((r = sg_decode_key_info(&f->via.array.ptr[i], &rep->u.keys.keys[i],
			                            why)) != 0) {
				free(rep->u.keys.keys[i].certs_buf);
				goto out;
			}
			rep->u.keys.n++;
		}
		break;
	case SG_OP_SIGN_DIGEST:
		if ((r = sg_decode_sign_rep(&m, &rep->u.sign, why)) != 0)
			goto out;
		break;
	case SG_OP_SIGN_CMS:
	case SG_OP_TIMESTAMP:
		if ((r = sg_decode_blob_rep(&m, expect, &rep->u.blob, why)) != 0)
			goto out;
		break;
	case SG_OP_CERT_ISSUE:
		if ((r = sg_decode_issue_rep(&m, &rep->u.issue, why)) != 0)
			goto out;
		break;
	case SG_OP_CERT_REVOKE:
	case SG_OP_CERT_STATUS:
		if ((r = sg_decode_status_rep(&m, expect, &rep->u.status, why)) != 0)
			goto out;
		break;
	case SG_OP_CRL_GET:
		if ((r = sg_decode_crl_rep(&m, &rep->u.crl, why)) != 0)
			goto out;
		break;
	case SG_OP_CA_LIST:
		if ((r = sg_decode_cas_rep(&m, rep, why)) != 0)
			goto out;
		break;
	case SG_OP_OCSP:
		if ((r = sg_field_blob(&m, "resp", SG_BLOB_MAX, &rep->u.blob.data,
		                       &rep->u.blob.len)) != 0)
			goto out;
		break;
	case SG_OP_NONE:
	default:
		r = SG_ERR_INVALID_ARG;
		goto out;
	}
	r = sg_map_close(&m);
out:
	if (r != 0) {
		uint64_t id = rep->id;

		sg_rep_clear(rep);
		rep->id = id;
	}
	return r;
}

void
sg_rep_clear(struct sg_rep *rep)
{
	size_t i;

	if (rep == NULL)
		return;
	if (rep->op == SG_OP_KEYS_LIST && rep->ok) {
		for (i = 0; rep->u.keys.keys != NULL && i < rep->u.keys.n; i++)
			free(rep->u.keys.keys[i].certs_buf);
		free(rep->u.keys.keys);
	}
	if (rep->ok) {
		switch (rep->op) {
		case SG_OP_KEYS_LIST:
			break; /* above */
		case SG_OP_SIGN_CMS:
		case SG_OP_TIMESTAMP:
		case SG_OP_OCSP:
			free(rep->u.blob.data);
			break;
		case SG_OP_CERT_ISSUE:
			free(rep->u.issue.buf);
			break;
		case SG_OP_CRL_GET:
			free(rep->u.crl.data);
			break;
		case SG_OP_CA_LIST:
			for (i = 0; rep->u.cas.cas != NULL && i < rep->u.cas.n; i++)
				free(rep->u.cas.cas[i].certs_buf);
			free(rep->u.cas.cas);
			break;
		case SG_OP_NONE:
		case SG_OP_PING:
		case SG_OP_SIGN_DIGEST:
		case SG_OP_CERT_REVOKE:
		case SG_OP_CERT_STATUS:
		default:
			break;
		}
	}
	memset(rep, 0, sizeof(*rep));
}
