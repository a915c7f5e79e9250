/*
 * sg_hsm_proto: see sg_hsm_proto.h; layouts in docs/hsm-channel.md.
 *
 * Decoding does not go through msgpack-c's unpacker: after
 * sg_wire_preflight() has vouched for the framing, a small bounds-checked
 * cursor reads the fixed layout field by field, so the hot path (SIGN)
 * allocates nothing and every field is checked for type, length and range
 * in the order the layout lists them.
 */
#include "sg_hsm_proto.h"

#include <stdlib.h>
#include <string.h>

#include "sg_err.h"

/* Nesting of the deepest message: [2, [[...], ...]] */
#define SG_HSM_DEPTH 3
#define SG_HSM_SIGN_REQ_N 6
#define SG_HSM_SIGN_REP_N 4
#define SG_HSM_KEYS_N 2 /* [2, specs] */
#define SG_HSM_KEYS_REP_N 3
#define SG_HSM_SPEC_N 4
#define SG_HSM_STATUS_N 4
#define SG_HSM_SMALL_MAX 255 /* hash, pad, alg: enums travel as small uints */

/* ---- reader ---------------------------------------------------------- */

struct sg_rd {
	const unsigned char *p;
	size_t len;
	size_t off;
};

static int
sg_rd_take(struct sg_rd *r, size_t n, const unsigned char **out)
{
	if (n > r->len - r->off)
		return SG_ERR_MALFORMED;
	*out = r->p + r->off;
	r->off += n;
	return 0;
}

static int
sg_rd_be(struct sg_rd *r, size_t n, uint64_t *v)
{
	const unsigned char *b;
	size_t i;
	int e;

	if ((e = sg_rd_take(r, n, &b)) != 0)
		return e;
	*v = 0;
	for (i = 0; i < n; i++)
		*v = (*v << 8) | b[i];
	return 0;
}

static int
sg_rd_byte(struct sg_rd *r, unsigned char *c)
{
	const unsigned char *b;
	int e;

	if ((e = sg_rd_take(r, 1, &b)) != 0)
		return e;
	*c = b[0];
	return 0;
}

static int
sg_rd_array(struct sg_rd *r, size_t *n)
{
	unsigned char c;
	uint64_t v;
	int e;

	if ((e = sg_rd_byte(r, &c)) != 0)
		return e;
	if ((c & 0xf0) == 0x90) {
		*n = c & 0x0f;
		return 0;
	}
	switch (c) {
	case 0xdc:
		e = sg_rd_be(r, 2, &v);
		break;
	case 0xdd:
		e = sg_rd_be(r, 4, &v);
		break;
	default:
		return SG_ERR_MALFORMED;
	}
	if (e != 0)
		return e;
	*n = (size_t)v;
	return 0;
}

static int
sg_rd_uint(struct sg_rd *r, uint64_t *v)
{
	unsigned char c;

	if (sg_rd_byte(r, &c) != 0)
		return SG_ERR_MALFORMED;
	if (c <= 0x7f) {
		*v = c;
		return 0;
	}
	switch (c) {
	case 0xcc:
		return sg_rd_be(r, 1, v);
	case 0xcd:
		return sg_rd_be(r, 2, v);
	case 0xce:
		return sg_rd_be(r, 4, v);
	case 0xcf:
		return sg_rd_be(r, 8, v);
	default:
		return SG_ERR_MALFORMED;
	}
}

/* A signed integer in [INT32_MIN, INT32_MAX] (error codes). */
static int
sg_rd_int(struct sg_rd *r, int *out)
{
	unsigned char c;
	uint64_t u;
	int64_t v;
	size_t n;

	if (sg_rd_byte(r, &c) != 0)
		return SG_ERR_MALFORMED;
	if (c <= 0x7f) {
		*out = c;
		return 0;
	}
	if (c >= 0xe0) {
		*out = (int)(signed char)c;
		return 0;
	}
	switch (c) {
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf:
		n = (size_t)1 << (c - 0xcc);
		if (sg_rd_be(r, n, &u) != 0 || u > INT32_MAX)
			return SG_ERR_MALFORMED;
		*out = (int)u;
		return 0;
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3:
		n = (size_t)1 << (c - 0xd0);
		if (sg_rd_be(r, n, &u) != 0)
			return SG_ERR_MALFORMED;
		/* sign-extend the n-byte two's complement value */
		if (n < 8 && (u & ((uint64_t)1 << (n * 8 - 1))))
			u |= ~(uint64_t)0 << (n * 8);
		v = (int64_t)u;
		if (v < INT32_MIN || v > INT32_MAX)
			return SG_ERR_MALFORMED;
		*out = (int)v;
		return 0;
	default:
		return SG_ERR_MALFORMED;
	}
}

static int
sg_rd_raw(struct sg_rd *r, int bin, const unsigned char **b, size_t *n)
{
	unsigned char c;
	uint64_t v;
	int e;

	if ((e = sg_rd_byte(r, &c)) != 0)
		return e;
	if (!bin && (c & 0xe0) == 0xa0) {
		v = c & 0x1f;
	} else {
		switch (c) {
		case 0xd9:
		case 0xc4:
			e = sg_rd_be(r, 1, &v);
			break;
		case 0xda:
		case 0xc5:
			e = sg_rd_be(r, 2, &v);
			break;
		case 0xdb:
		case 0xc6:
			e = sg_rd_be(r, 4, &v);
			break;
		default:
			return SG_ERR_MALFORMED;
		}
		if (e != 0)
			return e;
		/* str8/16/32 are 0xd9..0xdb, bin8/16/32 are 0xc4..0xc6 */
		if ((bin && c >= 0xd9) || (!bin && c <= 0xc6))
			return SG_ERR_MALFORMED;
	}
	if (v > r->len - r->off)
		return SG_ERR_MALFORMED;
	*n = (size_t)v;
	return sg_rd_take(r, *n, b);
}

static int
sg_rd_bool(struct sg_rd *r, int *b)
{
	unsigned char c;

	if (sg_rd_byte(r, &c) != 0 || (c != 0xc2 && c != 0xc3))
		return SG_ERR_MALFORMED;
	*b = c == 0xc3;
	return 0;
}

/* A key name: valid per sg_wire_name_valid, or empty when allow_empty. */
static int
sg_rd_name(struct sg_rd *r, char *out, int allow_empty)
{
	const unsigned char *s;
	size_t n;

	if (sg_rd_raw(r, 0, &s, &n) != 0 || n > SG_NAME_MAX)
		return SG_ERR_MALFORMED;
	if (!(n == 0 && allow_empty) && !sg_wire_name_valid((const char *)s, n))
		return SG_ERR_MALFORMED;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int
sg_rd_small(struct sg_rd *r, int *out)
{
	uint64_t v;

	if (sg_rd_uint(r, &v) != 0 || v > SG_HSM_SMALL_MAX)
		return SG_ERR_MALFORMED;
	*out = (int)v;
	return 0;
}

/* An error code: 0 or a negative code of the table. */
static int
sg_rd_err(struct sg_rd *r, int *err)
{
	if (sg_rd_int(r, err) != 0 || *err > 0 || !sg_err_known(*err))
		return SG_ERR_MALFORMED;
	return 0;
}

/* Preflight, then the outer array [type, ...] with exactly n elements. */
static int
sg_rd_open(struct sg_rd *r, const void *buf, size_t len, size_t max, enum sg_hsm_type type,
           size_t n)
{
	size_t count;
	uint64_t t;

	if (buf == NULL)
		return SG_ERR_MALFORMED;
	if (len > max)
		return SG_ERR_TOO_LARGE;
	if (sg_wire_preflight(buf, len, SG_HSM_DEPTH) != 0)
		return SG_ERR_MALFORMED;
	r->p = buf;
	r->len = len;
	r->off = 0;
	if (sg_rd_array(r, &count) != 0 || count != n)
		return SG_ERR_MALFORMED;
	if (sg_rd_uint(r, &t) != 0 || t != (uint64_t)type)
		return SG_ERR_MALFORMED;
	return 0;
}

static int
sg_rd_close(const struct sg_rd *r)
{
	return r->off == r->len ? 0 : SG_ERR_MALFORMED;
}

/* ---- peeking --------------------------------------------------------- */

int
sg_hsm_peek_type(const void *buf, size_t len, enum sg_hsm_type *type)
{
	struct sg_rd r = {buf, len, 0};
	size_t n;
	uint64_t t;

	if (buf == NULL || type == NULL)
		return SG_ERR_MALFORMED;
	if (sg_rd_array(&r, &n) != 0 || n < 1 || sg_rd_uint(&r, &t) != 0)
		return SG_ERR_MALFORMED;
	switch (t) {
	case SG_HSM_SIGN:
	case SG_HSM_KEYS:
		*type = (enum sg_hsm_type)t;
		return 0;
	default:
		return SG_ERR_MALFORMED;
	}
}

int
sg_hsm_peek_seq(const void *buf, size_t len, uint64_t *seq)
{
	struct sg_rd r = {buf, len, 0};
	size_t n;
	uint64_t t;

	if (buf == NULL || seq == NULL)
		return SG_ERR_MALFORMED;
	if (sg_rd_array(&r, &n) != 0 || n < 2 || sg_rd_uint(&r, &t) != 0 || t != SG_HSM_SIGN)
		return SG_ERR_MALFORMED;
	return sg_rd_uint(&r, seq) == 0 ? 0 : SG_ERR_MALFORMED;
}

/* ---- SIGN ------------------------------------------------------------ */

int
sg_hsm_decode_sign_req(const void *buf, size_t len, struct sg_hsm_sign_req *req)
{
	struct sg_hsm_sign_req q;
	struct sg_rd r;
	const unsigned char *d;
	int v;

	memset(&q, 0, sizeof(q));
	if (req == NULL)
		return SG_ERR_MALFORMED;
	if ((v = sg_rd_open(&r, buf, len, SG_HSM_MAX_MSG, SG_HSM_SIGN, SG_HSM_SIGN_REQ_N)) != 0)
		return v;
	if (sg_rd_uint(&r, &q.seq) != 0)
		goto malformed;
	if (sg_rd_name(&r, q.key, 0) != 0)
		goto malformed;
	if (sg_rd_small(&r, &v) != 0)
		goto malformed;
	q.hash = (enum sg_hash)v;
	if (sg_rd_small(&r, &v) != 0)
		goto malformed;
	q.pad = (enum sg_pad)v;
	if (sg_rd_raw(&r, 1, &d, &q.digest_len) != 0 || q.digest_len == 0 ||
	    q.digest_len > SG_HASH_MAX_LEN)
		goto malformed;
	memcpy(q.digest, d, q.digest_len);
	if (sg_rd_close(&r) != 0)
		goto malformed;
	*req = q;
	return 0;
malformed:
	return SG_ERR_MALFORMED;
}

int
sg_hsm_decode_sign_rep(const void *buf, size_t len, struct sg_hsm_sign_rep *rep)
{
	struct sg_hsm_sign_rep p;
	struct sg_rd r;
	const unsigned char *s;
	int e;

	memset(&p, 0, sizeof(p));
	if (rep == NULL)
		return SG_ERR_MALFORMED;
	if ((e = sg_rd_open(&r, buf, len, SG_HSM_MAX_MSG, SG_HSM_SIGN, SG_HSM_SIGN_REP_N)) != 0)
		return e;
	if (sg_rd_uint(&r, &p.seq) != 0)
		goto malformed;
	if (sg_rd_err(&r, &p.err) != 0)
		goto malformed;
	if (sg_rd_raw(&r, 1, &s, &p.sig_len) != 0 || p.sig_len > SG_SIG_MAX)
		goto malformed;
	/* a signature comes with success and only with it */
	if ((p.err == 0) != (p.sig_len > 0))
		goto malformed;
	memcpy(p.sig, s, p.sig_len);
	if (sg_rd_close(&r) != 0)
		goto malformed;
	*rep = p;
	return 0;
malformed:
	return SG_ERR_MALFORMED;
}

/* ---- KEYS ------------------------------------------------------------ */

int
sg_hsm_decode_keys_req(const void *buf, size_t len, struct sg_hsm_keys_req *req)
{
	struct sg_hsm_keyspec *specs = NULL, *k;
	struct sg_rd r;
	const unsigned char *s;
	size_t n = 0, i, m, slen;
	int v, e;

	if (req == NULL)
		return SG_ERR_MALFORMED;
	memset(req, 0, sizeof(*req));
	if ((e = sg_rd_open(&r, buf, len, SG_HSM_MAX_KEYS_MSG, SG_HSM_KEYS, SG_HSM_KEYS_N)) != 0)
		return e;
	if (sg_rd_array(&r, &n) != 0 || n > SG_MAX_KEYS)
		goto malformed;
	if (n > 0 && (specs = calloc(n, sizeof(*specs))) == NULL)
		return SG_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		k = &specs[i];
		if (sg_rd_array(&r, &m) != 0 || m != SG_HSM_SPEC_N)
			goto malformed;
		if (sg_rd_name(&r, k->name, 0) != 0)
			goto malformed;
		if (sg_rd_raw(&r, 0, &s, &slen) != 0 || slen == 0 || slen > SG_HSM_URI_MAX ||
		    !sg_wire_utf8_valid(s, slen))
			goto malformed;
		memcpy(k->uri, s, slen);
		k->uri[slen] = '\0';
		if (sg_rd_small(&r, &v) != 0)
			goto malformed;
		k->alg = (enum sg_keyalg)v;
		if (sg_rd_bool(&r, &k->self_verify) != 0)
			goto malformed;
	}
	if (sg_rd_close(&r) != 0)
		goto malformed;
	req->specs = specs;
	req->n = n;
	return 0;
malformed:
	free(specs);
	return SG_ERR_MALFORMED;
}

void
sg_hsm_keys_req_clear(struct sg_hsm_keys_req *req)
{
	if (req == NULL)
		return;
	free(req->specs);
	memset(req, 0, sizeof(*req));
}

int
sg_hsm_decode_keys_rep(const void *buf, size_t len, struct sg_hsm_keys_rep *rep)
{
	struct sg_hsm_key_status *keys = NULL, *k;
	struct sg_rd r;
	const unsigned char *s;
	size_t n = 0, i, m;
	int v, e, err;

	if (rep == NULL)
		return SG_ERR_MALFORMED;
	memset(rep, 0, sizeof(*rep));
	if ((e = sg_rd_open(&r, buf, len, SG_HSM_MAX_KEYS_MSG, SG_HSM_KEYS, SG_HSM_KEYS_REP_N)) !=
	    0)
		return e;
	if (sg_rd_err(&r, &err) != 0)
		goto malformed;
	if (sg_rd_array(&r, &n) != 0 || n > SG_MAX_KEYS)
		goto malformed;
	if (n > 0 && (keys = calloc(n, sizeof(*keys))) == NULL)
		return SG_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		k = &keys[i];
		if (sg_rd_array(&r, &m) != 0 || m != SG_HSM_STATUS_N)
			goto malformed;
		if (sg_rd_name(&r, k->name, 1) != 0)
			goto malformed;
		if (sg_rd_err(&r, &k->err) != 0)
			goto malformed;
		if (sg_rd_small(&r, &v) != 0)
			goto malformed;
		k->alg = (enum sg_keyalg)v;
		if (sg_rd_raw(&r, 1, &s, &k->pub_len) != 0 || k->pub_len > SG_PUB_MAX)
			goto malformed;
		/* a public key comes with a usable key and only with it */
		if ((k->err == 0) != (k->pub_len > 0))
			goto malformed;
		memcpy(k->pub, s, k->pub_len);
	}
	if (sg_rd_close(&r) != 0)
		goto malformed;
	rep->err = err;
	rep->keys = keys;
	rep->n = n;
	return 0;
malformed:
	free(keys);
	return SG_ERR_MALFORMED;
}

void
sg_hsm_keys_rep_clear(struct sg_hsm_keys_rep *rep)
{
	if (rep == NULL)
		return;
	free(rep->keys);
	memset(rep, 0, sizeof(*rep));
}

/* ---- encoders -------------------------------------------------------- */

static int
sg_pk_str(msgpack_packer *pk, const char *s, size_t n)
{
	if (msgpack_pack_str(pk, n) != 0 || msgpack_pack_str_body(pk, s, n) != 0)
		return SG_ERR_NOMEM;
	return 0;
}

static int
sg_pk_bin(msgpack_packer *pk, const unsigned char *b, size_t n)
{
	if (msgpack_pack_bin(pk, n) != 0 || msgpack_pack_bin_body(pk, b, n) != 0)
		return SG_ERR_NOMEM;
	return 0;
}

static int
sg_enc_name_ok(const char *name, int allow_empty)
{
	size_t n = strnlen(name, SG_NAME_MAX + 1);

	if (n == 0)
		return allow_empty;
	return n <= SG_NAME_MAX && sg_wire_name_valid(name, n);
}

static int
sg_enc_small_ok(int v)
{
	return v >= 0 && v <= SG_HSM_SMALL_MAX;
}

static int
sg_enc_err_ok(int err)
{
	return err <= 0 && sg_err_known(err);
}

int
sg_hsm_encode_sign_req(msgpack_sbuffer *sb, const struct sg_hsm_sign_req *req)
{
	msgpack_packer pk;

	if (sb == NULL || req == NULL || !sg_enc_name_ok(req->key, 0) ||
	    !sg_enc_small_ok((int)req->hash) || !sg_enc_small_ok((int)req->pad) ||
	    req->digest_len == 0 || req->digest_len > SG_HASH_MAX_LEN)
		return SG_ERR_INVALID_ARG;
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (msgpack_pack_array(&pk, SG_HSM_SIGN_REQ_N) != 0 ||
	    msgpack_pack_uint8(&pk, SG_HSM_SIGN) != 0 || msgpack_pack_uint64(&pk, req->seq) != 0 ||
	    sg_pk_str(&pk, req->key, strlen(req->key)) != 0 ||
	    msgpack_pack_uint8(&pk, (uint8_t)req->hash) != 0 ||
	    msgpack_pack_uint8(&pk, (uint8_t)req->pad) != 0 ||
	    sg_pk_bin(&pk, req->digest, req->digest_len) != 0)
		return SG_ERR_NOMEM;
	return 0;
}

int
sg_hsm_encode_sign_rep(msgpack_sbuffer *sb, const struct sg_hsm_sign_rep *rep)
{
	msgpack_packer pk;

	if (sb == NULL || rep == NULL || !sg_enc_err_ok(rep->err) || rep->sig_len > SG_SIG_MAX ||
	    (rep->err == 0) != (rep->sig_len > 0))
		return SG_ERR_INVALID_ARG;
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (msgpack_pack_array(&pk, SG_HSM_SIGN_REP_N) != 0 ||
	    msgpack_pack_uint8(&pk, SG_HSM_SIGN) != 0 || msgpack_pack_uint64(&pk, rep->seq) != 0 ||
	    msgpack_pack_int(&pk, rep->err) != 0 || sg_pk_bin(&pk, rep->sig, rep->sig_len) != 0)
		return SG_ERR_NOMEM;
	return 0;
}

int
sg_hsm_encode_keys_req(msgpack_sbuffer *sb, const struct sg_hsm_keys_req *req)
{
	msgpack_packer pk;
	const struct sg_hsm_keyspec *k;
	size_t i, ulen;

	if (sb == NULL || req == NULL || req->n > SG_MAX_KEYS || (req->n > 0 && req->specs == NULL))
		return SG_ERR_INVALID_ARG;
	for (i = 0; i < req->n; i++) {
		k = &req->specs[i];
		ulen = strnlen(k->uri, sizeof(k->uri));
		if (!sg_enc_name_ok(k->name, 0) || ulen == 0 || ulen > SG_HSM_URI_MAX ||
		    !sg_wire_utf8_valid((const unsigned char *)k->uri, ulen) ||
		    !sg_enc_small_ok((int)k->alg))
			return SG_ERR_INVALID_ARG;
	}
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (msgpack_pack_array(&pk, SG_HSM_KEYS_N) != 0 ||
	    msgpack_pack_uint8(&pk, SG_HSM_KEYS) != 0 || msgpack_pack_array(&pk, req->n) != 0)
		return SG_ERR_NOMEM;
	for (i = 0; i < req->n; i++) {
		k = &req->specs[i];
		if (msgpack_pack_array(&pk, SG_HSM_SPEC_N) != 0 ||
		    sg_pk_str(&pk, k->name, strlen(k->name)) != 0 ||
		    sg_pk_str(&pk, k->uri, strlen(k->uri)) != 0 ||
		    msgpack_pack_uint8(&pk, (uint8_t)k->alg) != 0 ||
		    (k->self_verify ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk)) != 0)
			return SG_ERR_NOMEM;
	}
	return 0;
}

int
sg_hsm_encode_keys_rep(msgpack_sbuffer *sb, const struct sg_hsm_keys_rep *rep)
{
	msgpack_packer pk;
	const struct sg_hsm_key_status *k;
	size_t i;

	if (sb == NULL || rep == NULL || !sg_enc_err_ok(rep->err) || rep->n > SG_MAX_KEYS ||
	    (rep->n > 0 && rep->keys == NULL))
		return SG_ERR_INVALID_ARG;
	for (i = 0; i < rep->n; i++) {
		k = &rep->keys[i];
		if (!sg_enc_name_ok(k->name, 1) || !sg_enc_err_ok(k->err) ||
		    !sg_enc_small_ok((int)k->alg) || k->pub_len > SG_PUB_MAX ||
		    (k->err == 0) != (k->pub_len > 0))
			return SG_ERR_INVALID_ARG;
	}
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (msgpack_pack_array(&pk, SG_HSM_KEYS_REP_N) != 0 ||
	    msgpack_pack_uint8(&pk, SG_HSM_KEYS) != 0 || msgpack_pack_int(&pk, rep->err) != 0 ||
	    msgpack_pack_array(&pk, rep->n) != 0)
		return SG_ERR_NOMEM;
	for (i = 0; i < rep->n; i++) {
		k = &rep->keys[i];
		if (msgpack_pack_array(&pk, SG_HSM_STATUS_N) != 0 ||
		    sg_pk_str(&pk, k->name, strlen(k->name)) != 0 ||
		    msgpack_pack_int(&pk, k->err) != 0 ||
		    msgpack_pack_uint8(&pk, (uint8_t)k->alg) != 0 ||
		    sg_pk_bin(&pk, k->pub, k->pub_len) != 0)
			return SG_ERR_NOMEM;
	}
	return 0;
}
