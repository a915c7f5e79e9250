/*
 * sg_hsm_proto: the typed messages between the network front and the HSM
 * side (the signer).  The front reaches the signer only through these, so
 * that the signer can run in a separate, privileged process without any
 * change of design: today they travel over inproc:// ZeroMQ sockets.
 *
 * Each message is one msgpack array with a fixed layout (docs/hsm-channel.md).  Decoders are strict
 * like sg_wire's: sg_wire_preflight() first, then exact types, lengths and counts; trailing bytes
 * are errors. The HSM side re-checks every request on its own (key known, padding fits the key,
 * digest length matches the hash) and never trusts the front.
 */
#ifndef SG_HSM_PROTO_H
#define SG_HSM_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "sg_alg.h"
#include "sg_wire.h"

#define SG_HSM_MAX_MSG (256 * 1024) /* SG_HSM_SIGN requests and replies */
/* SG_HSM_KEYS messages: up to SG_MAX_KEYS specs or statuses with their
 * public keys (about 1.1 MiB at most), so they get their own cap. */
#define SG_HSM_MAX_KEYS_MSG (2 * 1024 * 1024)
#define SG_HSM_URI_MAX 512

enum sg_hsm_type {
	SG_HSM_SIGN = 1, /* sign a digest */
	SG_HSM_KEYS = 2, /* replace the key inventory, return public keys */
};

struct sg_hsm_keyspec {
	char name[SG_NAME_MAX + 1];
	char uri[SG_HSM_URI_MAX + 1]; /* RFC 7512 pkcs11: URI, or "label:NAME" */
	enum sg_keyalg alg;
	int self_verify;
};

struct sg_hsm_key_status {
	char name[SG_NAME_MAX + 1];
	int err; /* 0, or why the key is unusable (SG_ERR_NOT_FOUND, SG_ERR_HSM, ...) */
	enum sg_keyalg alg;
	unsigned char pub[SG_PUB_MAX]; /* DER SubjectPublicKeyInfo */
	size_t pub_len;
};

struct sg_hsm_sign_req {
	uint64_t seq; /* the front's correlation number, echoed */
	char key[SG_NAME_MAX + 1];
	enum sg_hash hash;
	enum sg_pad pad;
	unsigned char digest[SG_HASH_MAX_LEN];
	size_t digest_len;
};

struct sg_hsm_sign_rep {
	uint64_t seq;
	int err; /* 0 or negative SG_ERR_* */
	unsigned char sig[SG_SIG_MAX];
	size_t sig_len;
};

struct sg_hsm_keys_req {
	struct sg_hsm_keyspec *specs; /* owned by whoever built or decoded it */
	size_t n;                     /* at most SG_MAX_KEYS */
};

struct sg_hsm_keys_rep {
	int err;
	struct sg_hsm_key_status *keys; /* owned */
	size_t n;
};

/*
 * Peeks at the type of an encoded message (the first element of its array,
 * SG_HSM_SIGN or SG_HSM_KEYS); 0 or SG_ERR_MALFORMED.  Does not validate the
 * rest of the message.
 */
int sg_hsm_peek_type(const void *buf, size_t len, enum sg_hsm_type *type);

/*
 * Reads the seq of a (possibly malformed) SG_HSM_SIGN request, so that an
 * error reply can echo it: the message must start with an array header of
 * at least two elements, the type SG_HSM_SIGN and an unsigned integer.
 * Bounds-checked on its own, without trusting the rest of the message.
 * Returns 0 or SG_ERR_MALFORMED.
 */
int sg_hsm_peek_seq(const void *buf, size_t len, uint64_t *seq);

/*
 * Encoders clear sb and append one message.  They return 0, or
 * SG_ERR_INVALID_ARG when a field is out of range (a name that is not a
 * valid key name, a digest over SG_HASH_MAX_LEN, a count over SG_MAX_KEYS,
 * ...), or SG_ERR_NOMEM.
 *
 * Decoders accept exactly the layouts of docs/hsm-channel.md: they return
 * 0, SG_ERR_TOO_LARGE (over SG_HSM_MAX_MSG, or SG_HSM_MAX_KEYS_MSG for the
 * SG_HSM_KEYS messages) or SG_ERR_MALFORMED (anything else, including
 * trailing bytes).  On failure the output holds nothing that needs freeing.
 */
int sg_hsm_encode_sign_req(msgpack_sbuffer *sb, const struct sg_hsm_sign_req *req);
int sg_hsm_decode_sign_req(const void *buf, size_t len, struct sg_hsm_sign_req *req);
int sg_hsm_encode_sign_rep(msgpack_sbuffer *sb, const struct sg_hsm_sign_rep *rep);
int sg_hsm_decode_sign_rep(const void *buf, size_t len, struct sg_hsm_sign_rep *rep);

int sg_hsm_encode_keys_req(msgpack_sbuffer *sb, const struct sg_hsm_keys_req *req);
/* On success req->specs is allocated; sg_hsm_keys_req_clear() frees it. */
int sg_hsm_decode_keys_req(const void *buf, size_t len, struct sg_hsm_keys_req *req);
/* Frees req->specs and zeroes req; NULL-safe. */
void sg_hsm_keys_req_clear(struct sg_hsm_keys_req *req);
int sg_hsm_encode_keys_rep(msgpack_sbuffer *sb, const struct sg_hsm_keys_rep *rep);
/* On success rep->keys is allocated (NULL when n is 0); sg_hsm_keys_rep_clear() frees it. */
int sg_hsm_decode_keys_rep(const void *buf, size_t len, struct sg_hsm_keys_rep *rep);
/* Frees rep->keys and zeroes rep; NULL-safe. */
void sg_hsm_keys_rep_clear(struct sg_hsm_keys_rep *rep);

#endif /* SG_HSM_PROTO_H */
