/*
 * Integration test of a running signetd (started by test_daemon.sh with
 * hsm-config/signet-dev): raw ZeroMQ DEALER + CURVE + msgpack, so that it
 * can send every malformed shape, and OpenSSL to verify every signature.
 *
 * Environment: SIGNET_DEV_DIR (the dev directory), SIGNET_CONFIG (its
 * client.conf), SG_ALT_ENDPOINT (the other endpoint, tcp or ipc).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <zmq.h>

#include "sg_clientconf.h"
#include "sg_err.h"
#include "sg_secret.h"
#include "sg_wire.h"

static void *zctx;
static struct sg_clientconf conf;
static struct sg_wire_dec *dec;
static msgpack_sbuffer sb;
static msgpack_packer pk;
static const char *devdir;

static void *
connect_with(const char *endpoint, const char *secret_z85, const char *public_z85)
{
	void *s = zmq_socket(zctx, ZMQ_DEALER);
	int linger = 0;

	assert_non_null(s);
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, conf.server_pub_z85, 40), 0);
	assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, public_z85, 40), 0);
	assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, secret_z85, 40), 0);
	assert_int_equal(zmq_connect(s, endpoint), 0);
	return s;
}

/* A DEALER authenticated as the dev CI client. */
static void *
connect_ci(const char *endpoint)
{
	struct sg_secret *sec = NULL;
	char pub[41];
	void *s;

	assert_int_equal(sg_secret_read_file(conf.secret_key_file, 64, &sec), 0);
	assert_int_equal(zmq_curve_public(pub, sg_secret_str(sec)), 0);
	s = connect_with(endpoint, sg_secret_str(sec), pub);
	sg_secret_free(sec);
	return s;
}

/* Receives one reply (waiting up to ms) into buf; returns its size or -1 on timeout. */
static int
recv_reply(void *s, void *buf, size_t cap, int ms)
{
	zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
	int n;

	if (zmq_poll(&it, 1, ms) <= 0)
		return -1;
	n = zmq_recv(s, buf, cap, 0);
	assert_true(n >= 0 && (size_t)n <= cap);
	return n;
}

/* Sends sb and decodes the reply as op; returns the reply's err (0 for ok). */
static int
roundtrip(void *s, enum sg_op op, struct sg_rep *rep)
{
	static unsigned char buf[1 << 20];
	char why[SG_WHY_MAX];
	int n;

	assert_int_equal(zmq_send(s, sb.data, sb.size, 0), (int)sb.size);
	n = recv_reply(s, buf, sizeof(buf), 20000);
	assert_true(n > 0);
	assert_int_equal(sg_wire_decode_rep(dec, buf, (size_t)n, op, rep, why), 0);
	return rep->ok ? 0 : rep->err;
}

static int
send_req(void *s, const struct sg_req *req, struct sg_rep *rep)
{
	assert_int_equal(sg_wire_encode_req(&sb, req), 0);
	return roundtrip(s, req->op, rep);
}

static void
assert_serves(void *s)
{
	struct sg_req req = {.id = 999, .op = SG_OP_PING};
	struct sg_rep rep;

	assert_int_equal(send_req(s, &req, &rep), 0);
	assert_int_equal(rep.id, 999);
	assert_true(rep.u.ping.time > 1600000000);
}

static int
setup(void **state)
{
	char why[256];
	const char *path = getenv("SIGNET_CONFIG");

	devdir = getenv("SIGNET_DEV_DIR");
	if (path == NULL || devdir == NULL) {
		fprintf(stderr, "SIGNET_CONFIG and SIGNET_DEV_DIR must be set\n");
		return -1;
	}
	if (sg_clientconf_load(path, &conf, why, sizeof(why)) != 0) {
		fprintf(stderr, "%s\n", why);
		return -1;
	}
	zctx = zmq_ctx_new();
	dec = sg_wire_dec_new();
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	return zctx == NULL || dec == NULL;
}

static int
teardown(void **state)
{
	msgpack_sbuffer_destroy(&sb);
	sg_wire_dec_free(dec);
	/* Not zmq_ctx_term: after a failed assertion a test may leave a socket
	 * open, and term would wait for it until the ctest timeout. */
	zmq_ctx_shutdown(zctx);
	sg_clientconf_clear(&conf);
	return 0;
}

static EVP_PKEY *
pub_from_der(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)len);

	assert_non_null(k);
	return k;
}

/* Verifies sig over digest with OpenSSL, independently of the appliance. */
static int
openssl_verify(EVP_PKEY *k, enum sg_hash h, enum sg_pad pad, const unsigned char *dg, size_t dlen,
               const unsigned char *sig, size_t slen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
	int ok;

	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, sg_hash_md(h)), 1);
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA && pad == SG_PAD_PSS) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST), 1);
	}
	ok = EVP_PKEY_verify(ctx, sig, slen, dg, dlen) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static void
sign_req_init(struct sg_req *req, uint64_t id, const char *key, enum sg_hash h)
{
	memset(req, 0, sizeof(*req));
	req->id = id;
	req->op = SG_OP_SIGN_DIGEST;
	snprintf(req->u.sign.key, sizeof(req->u.sign.key), "%s", key);
	req->u.sign.hash = h;
	req->u.sign.digest_len = sg_hash_len(h);
	assert_int_equal(RAND_bytes(req->u.sign.digest, (int)req->u.sign.digest_len), 1);
}

static void
test_keys_list(void **state)
{
	void *s = connect_ci(conf.endpoint);
	struct sg_req req = {.id = 1, .op = SG_OP_KEYS_LIST};
	struct sg_rep rep;
	size_t i;
	int seen = 0;

	assert_int_equal(send_req(s, &req, &rep), 0);
	/* The four build-signing keys, and the TSA key for timestamp only. */
	assert_int_equal(rep.u.keys.n, 5);
	for (i = 0; i < rep.u.keys.n; i++) {
		const struct sg_key_info *k = &rep.u.keys.keys[i];
		EVP_PKEY *pk1 = pub_from_der(k->pub, k->pub_len);

		/* release-signing exists in the token but the CI client may not use it */
		assert_string_not_equal(k->name, "release-signing");
		if (strcmp(k->name, "tsa") == 0) {
			assert_int_equal(k->ops, 1u << SG_OP_TIMESTAMP);
			seen |= 4;
			EVP_PKEY_free(pk1);
			continue;
		}
		assert_true(k->ops & (1u << SG_OP_SIGN_DIGEST));
		assert_int_equal(k->hashes, (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384) |
		                                (1u << SG_HASH_SHA512));
		if (strcmp(k->name, "build-signing") == 0) {
			assert_int_equal(k->alg, SG_KEYALG_EC_P256);
			seen |= 1;
		} else if (strcmp(k->name, "build-signing-rsa3072") == 0) {
			assert_int_equal(k->alg, SG_KEYALG_RSA_3072);
			assert_int_equal(EVP_PKEY_get_bits(pk1), 3072);
			seen |= 2;
		}
		EVP_PKEY_free(pk1);
	}
	assert_int_equal(seen, 7);
	sg_rep_clear(&rep);
	zmq_close(s);
}

/* Signs with every key, hash and padding on both endpoints; OpenSSL verifies each. */
static void
test_sign_all(void **state)
{
	static const struct {
		const char *key;
		enum sg_pad pad;
	} keys[] = {
	    {"build-signing", SG_PAD_NONE},          {"build-signing-p384", SG_PAD_NONE},
	    {"build-signing-rsa2048", SG_PAD_NONE},  {"build-signing-rsa2048", SG_PAD_PSS},
	    {"build-signing-rsa3072", SG_PAD_PKCS1}, {"build-signing-rsa3072", SG_PAD_PSS},
	};
	const char *alt = getenv("SG_ALT_ENDPOINT");
	const char *eps[2] = {conf.endpoint, alt};
	struct sg_req req, lreq = {.id = 1, .op = SG_OP_KEYS_LIST};
	struct sg_rep rep, lrep;
	size_t i, j, e;
	uint64_t id = 100, last_record = 0;

	for (e = 0; e < 2 && eps[e] != NULL; e++) {
		void *s = connect_ci(eps[e]);

		assert_int_equal(send_req(s, &lreq, &lrep), 0);
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			EVP_PKEY *pub = NULL;

			for (j = 0; j < lrep.u.keys.n; j++) {
				if (strcmp(lrep.u.keys.keys[j].name, keys[i].key) == 0)
					pub = pub_from_der(lrep.u.keys.keys[j].pub,
					                   lrep.u.keys.keys[j].pub_len);
			}
			assert_non_null(pub);
			for (enum sg_hash h = SG_HASH_SHA256; h <= SG_HASH_SHA512; h++) {
				sign_req_init(&req, id++, keys[i].key, h);
				req.u.sign.pad = keys[i].pad;
				assert_int_equal(send_req(s, &req, &rep), 0);
				assert_int_equal(rep.id, req.id);
				assert_true(openssl_verify(pub, h, keys[i].pad, req.u.sign.digest,
				                           req.u.sign.digest_len, rep.u.sign.sig,
				                           rep.u.sign.sig_len));
				/* a different digest must not verify */
				req.u.sign.digest[0] ^= 1;
				assert_false(openssl_verify(pub, h, keys[i].pad, req.u.sign.digest,
				                            req.u.sign.digest_len, rep.u.sign.sig,
				                            rep.u.sign.sig_len));
				/* receipts grow with the audit log */
				assert_true(rep.u.sign.record > last_record);
				last_record = rep.u.sign.record;
				assert_int_equal(rep.u.sign.replayed, 0);
			}
			EVP_PKEY_free(pub);
		}
		sg_rep_clear(&lrep);
		zmq_close(s);
	}
}

static void
test_denials(void **state)
{
	void *s = connect_ci(conf.endpoint);
	struct sg_req req;
	struct sg_rep rep;

	sign_req_init(&req, 11, "release-signing", SG_HASH_SHA256);
	assert_int_equal(send_req(s, &req, &rep), SG_ERR_DENIED);
	assert_int_equal(rep.id, 11);
	assert_string_equal(rep.err_name, "denied");
	sign_req_init(&req, 12, "no-such-key", SG_HASH_SHA256);
	assert_int_equal(send_req(s, &req, &rep), SG_ERR_UNKNOWN_KEY);
	sign_req_init(&req, 13, "build-signing", SG_HASH_SHA256);
	req.u.sign.pad = SG_PAD_PSS;
	assert_int_equal(send_req(s, &req, &rep), SG_ERR_BAD_PADDING);
	assert_serves(s);
	zmq_close(s);
}

/* Hand-built requests for shapes the encoder cannot produce. */
static void
pstr(const char *x)
{
	msgpack_pack_str(&pk, strlen(x));
	msgpack_pack_str_body(&pk, x, strlen(x));
}

static void
raw_sign(uint64_t id, const char *hash, size_t dlen, int digest_as_str)
{
	unsigned char d[64] = {0};

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 6);
	pstr("v");
	msgpack_pack_uint64(&pk, 1);
	pstr("id");
	msgpack_pack_uint64(&pk, id);
	pstr("op");
	pstr("sign.digest");
	pstr("key");
	pstr("build-signing");
	pstr("hash");
	pstr(hash);
	pstr("digest");
	if (digest_as_str) {
		msgpack_pack_str(&pk, dlen);
		msgpack_pack_str_body(&pk, d, dlen);
	} else {
		msgpack_pack_bin(&pk, dlen);
		msgpack_pack_bin_body(&pk, d, dlen);
	}
}

static void
test_bad_requests(void **state)
{
	static const unsigned char garbage[] = {0xc1, 0x00, 0xff};
	static const unsigned char huge_map[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 'v', 0x01};
	void *s = connect_ci(conf.endpoint);
	struct sg_rep rep;
	unsigned char buf[4096];
	char why[SG_WHY_MAX];
	int n;

	raw_sign(21, "sha256", 31, 0);
	assert_int_equal(roundtrip(s, SG_OP_SIGN_DIGEST, &rep), SG_ERR_DIGEST_LENGTH);
	assert_int_equal(rep.id, 21);
	raw_sign(22, "sha256", 32, 1);
	assert_int_equal(roundtrip(s, SG_OP_SIGN_DIGEST, &rep), SG_ERR_BAD_TYPE);
	raw_sign(23, "md5", 16, 0);
	assert_int_equal(roundtrip(s, SG_OP_SIGN_DIGEST, &rep), SG_ERR_UNKNOWN_HASH);
	/* unknown op */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	pstr("v");
	msgpack_pack_uint64(&pk, 1);
	pstr("id");
	msgpack_pack_uint64(&pk, 24);
	pstr("op");
	pstr("key.export");
	assert_int_equal(roundtrip(s, SG_OP_PING, &rep), SG_ERR_UNKNOWN_OP);
	assert_int_equal(rep.id, 24);
	/* wrong version */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	pstr("v");
	msgpack_pack_uint64(&pk, 2);
	pstr("id");
	msgpack_pack_uint64(&pk, 25);
	pstr("op");
	pstr("ping");
	assert_int_equal(roundtrip(s, SG_OP_PING, &rep), SG_ERR_VERSION);
	/* garbage, a huge claimed map, trailing bytes: malformed, answered with id 0 */
	msgpack_sbuffer_clear(&sb);
	msgpack_sbuffer_write(&sb, (const char *)garbage, sizeof(garbage));
	assert_int_equal(roundtrip(s, SG_OP_PING, &rep), SG_ERR_MALFORMED);
	assert_int_equal(rep.id, 0);
	msgpack_sbuffer_clear(&sb);
	msgpack_sbuffer_write(&sb, (const char *)huge_map, sizeof(huge_map));
	assert_int_equal(roundtrip(s, SG_OP_PING, &rep), SG_ERR_MALFORMED);
	{
		struct sg_req req = {.id = 26, .op = SG_OP_PING};

		assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
		msgpack_sbuffer_write(&sb, "\x00", 1);
		assert_int_equal(roundtrip(s, SG_OP_PING, &rep), SG_ERR_MALFORMED);
	}
	/* two frames in one request */
	{
		struct sg_req req = {.id = 27, .op = SG_OP_PING};

		assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
		assert_int_equal(zmq_send(s, sb.data, sb.size, ZMQ_SNDMORE), (int)sb.size);
		assert_int_equal(zmq_send(s, sb.data, sb.size, 0), (int)sb.size);
		n = recv_reply(s, buf, sizeof(buf), 20000);
		assert_true(n > 0);
		assert_int_equal(sg_wire_decode_rep(dec, buf, (size_t)n, SG_OP_PING, &rep, why), 0);
		assert_int_equal(rep.err, SG_ERR_MALFORMED);
	}
	assert_serves(s);
	zmq_close(s);
}

/* A message over the size cap closes the connection and gets no reply; others go on. */
static void
test_oversized(void **state)
{
	void *s = connect_ci(conf.endpoint), *t;
	static char big[200 * 1024];
	unsigned char buf[256];

	assert_serves(s);
	memset(big, 0xc0, sizeof(big));
	assert_int_equal(zmq_send(s, big, sizeof(big), 0), (int)sizeof(big));
	assert_int_equal(recv_reply(s, buf, sizeof(buf), 1500), -1);
	zmq_close(s);
	t = connect_ci(conf.endpoint);
	assert_serves(t);
	zmq_close(t);
}

static void
test_unknown_key_gets_nothing(void **state)
{
	char pub[41], sec[41];
	struct sg_req req = {.id = 5, .op = SG_OP_PING};
	unsigned char buf[256];
	void *s;

	assert_int_equal(zmq_curve_keypair(pub, sec), 0);
	s = connect_with(conf.endpoint, sec, pub);
	assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
	zmq_send(s, sb.data, sb.size, ZMQ_DONTWAIT);
	assert_int_equal(recv_reply(s, buf, sizeof(buf), 1500), -1);
	explicit_bzero(sec, sizeof(sec));
	zmq_close(s);
}

/* Many requests in flight on one connection, replies matched by id. */
static void
test_pipelined(void **state)
{
	enum { N = 200 };
	static struct sg_req reqs[N];
	static unsigned char buf[4096];
	struct sg_rep rep;
	char why[SG_WHY_MAX];
	void *s = connect_ci(conf.endpoint);
	int seen[N] = {0}, i, n;

	for (i = 0; i < N; i++) {
		sign_req_init(&reqs[i], 1000 + (uint64_t)i,
		              i % 2 ? "build-signing" : "build-signing-p384", SG_HASH_SHA256);
		reqs[i].u.sign.hash = i % 2 ? SG_HASH_SHA256 : SG_HASH_SHA384;
		reqs[i].u.sign.digest_len = sg_hash_len(reqs[i].u.sign.hash);
		assert_int_equal(sg_wire_encode_req(&sb, &reqs[i]), 0);
		assert_int_equal(zmq_send(s, sb.data, sb.size, 0), (int)sb.size);
	}
	for (i = 0; i < N; i++) {
		n = recv_reply(s, buf, sizeof(buf), 30000);
		assert_true(n > 0);
		assert_int_equal(
		    sg_wire_decode_rep(dec, buf, (size_t)n, SG_OP_SIGN_DIGEST, &rep, why), 0);
		assert_int_equal(rep.ok, 1);
		assert_true(rep.id >= 1000 && rep.id < 1000 + N);
		assert_int_equal(seen[rep.id - 1000], 0);
		seen[rep.id - 1000] = 1;
		assert_string_equal(rep.u.sign.key, reqs[rep.id - 1000].u.sign.key);
	}
	zmq_close(s);
}

static void
test_idempotency(void **state)
{
	void *s = connect_ci(conf.endpoint);
	struct sg_req req;
	struct sg_rep rep1, rep2;

	sign_req_init(&req, 41, "build-signing", SG_HASH_SHA256);
	req.u.sign.idem_len = 16;
	assert_int_equal(RAND_bytes(req.u.sign.idem, 16), 1);
	assert_int_equal(send_req(s, &req, &rep1), 0);
	assert_int_equal(rep1.u.sign.replayed, 0);
	/* the retry gets the very same signature (ECDSA would differ if signed again) */
	req.id = 42;
	assert_int_equal(send_req(s, &req, &rep2), 0);
	assert_int_equal(rep2.id, 42);
	assert_int_equal(rep2.u.sign.replayed, 1);
	assert_int_equal(rep2.u.sign.sig_len, rep1.u.sign.sig_len);
	assert_memory_equal(rep2.u.sign.sig, rep1.u.sign.sig, rep1.u.sign.sig_len);
	/* the same key for another digest is a conflict */
	req.id = 43;
	req.u.sign.digest[5] ^= 0x40;
	assert_int_equal(send_req(s, &req, &rep2), SG_ERR_IDEM_CONFLICT);
	/* and it survives a new connection */
	zmq_close(s);
	s = connect_ci(conf.endpoint);
	req.id = 44;
	req.u.sign.digest[5] ^= 0x40;
	assert_int_equal(send_req(s, &req, &rep2), 0);
	assert_memory_equal(rep2.u.sign.sig, rep1.u.sign.sig, rep1.u.sign.sig_len);
	zmq_close(s);
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static char *
read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = calloc(1, 1 << 22);
	size_t n;

	assert_non_null(fp);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 22) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* Lines of the daemon log that end a reload, either way. */
static int
reload_count(void)
{
	char path[4096];
	char *log, *p;
	int n = 0;

	snprintf(path, sizeof(path), "%s/signetd.log", devdir);
	log = read_file(path);
	for (p = log; (p = strstr(p, "policy reload")) != NULL; p++)
		n++;
	free(log);
	return n;
}

/* Sends SIGHUP and waits until the daemon logged the outcome of the reload. */
static void
hup_and_wait(void)
{
	char path[4096];
	char *pid;
	int before = reload_count(), i;

	snprintf(path, sizeof(path), "%s/signetd.pid", devdir);
	pid = read_file(path);
	assert_int_equal(kill((pid_t)atol(pid), SIGHUP), 0);
	free(pid);
	for (i = 0; i < 200 && reload_count() == before; i++)
		usleep(50000);
	assert_true(reload_count() > before);
}

/*
 * SIGHUP: a broken policy keeps the old one; a policy without the client cuts
 * its open connection off at once; restoring it lets it back in.
 */
static void
test_reload(void **state)
{
	char path[4096], bak[4096];
	char *orig, *pos, *edited;
	void *s = connect_ci(conf.endpoint);
	struct sg_req req = {.id = 61, .op = SG_OP_PING};
	unsigned char buf[256];

	snprintf(path, sizeof(path), "%s/policy.yaml", devdir);
	snprintf(bak, sizeof(bak), "%s/policy.yaml.orig", devdir);
	orig = read_file(path);
	write_file(bak, orig);
	assert_serves(s);
	/* 1: a broken file */
	write_file(path, "version: 1\nclients: [\n");
	hup_and_wait();
	assert_serves(s);
	/* 2: the client renamed and given another key: the old key is unknown now */
	edited = strdup(orig);
	assert_non_null(edited);
	pos = strstr(edited, "curve_public_key: \"");
	assert_non_null(pos);
	pos += strlen("curve_public_key: \"");
	pos[0] = pos[0] == 'a' ? 'b' : 'a'; /* another (still valid Z85) key */
	write_file(path, edited);
	hup_and_wait();
	assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
	assert_int_equal(zmq_send(s, sb.data, sb.size, 0), (int)sb.size);
	assert_int_equal(recv_reply(s, buf, sizeof(buf), 1500), -1);
	/* 3: restored */
	write_file(path, orig);
	hup_and_wait();
	zmq_close(s);
	s = connect_ci(conf.endpoint);
	assert_serves(s);
	zmq_close(s);
	free(edited);
	free(orig);
	unlink(bak);
}

/* Sends n signing requests pipelined and counts the replies by outcome. */
static void
blast(void *s, int n, uint64_t first_id, int *ok, int *busy, int *down)
{
	static unsigned char buf[4096];
	struct sg_req req;
	struct sg_rep rep;
	char why[SG_WHY_MAX];
	int i, len;

	*ok = *busy = *down = 0;
	for (i = 0; i < n; i++) {
		sign_req_init(&req, first_id + (uint64_t)i, "build-signing", SG_HASH_SHA256);
		assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
		assert_int_equal(zmq_send(s, sb.data, sb.size, 0), (int)sb.size);
	}
	for (i = 0; i < n; i++) {
		len = recv_reply(s, buf, sizeof(buf), 30000);
		assert_true(len > 0);
		assert_int_equal(
		    sg_wire_decode_rep(dec, buf, (size_t)len, SG_OP_SIGN_DIGEST, &rep, why), 0);
		if (rep.ok)
			(*ok)++;
		else if (rep.err == SG_ERR_BUSY)
			(*busy)++;
		else if (rep.err == SG_ERR_SHUTTING_DOWN)
			(*down)++;
		else
			fail_msg("unexpected error %d (%s)", rep.err, rep.err_msg);
	}
}

/* The policy's per-client in-flight cap answers the excess with busy. */
static void
test_inflight_cap(void **state)
{
	char path[4096];
	char *orig, *pos, *edited;
	void *s = connect_ci(conf.endpoint);
	int ok, busy, down;

	snprintf(path, sizeof(path), "%s/policy.yaml", devdir);
	orig = read_file(path);
	pos = strstr(orig, "    roles: [ci]\n");
	assert_non_null(pos);
	edited = calloc(1, strlen(orig) + 64);
	assert_non_null(edited);
	memcpy(edited, orig, (size_t)(pos - orig));
	strcat(edited, "    max_inflight: 2\n");
	strcat(edited, pos);
	write_file(path, edited);
	hup_and_wait();
	blast(s, 60, 5000, &ok, &busy, &down);
	assert_true(ok >= 2);
	assert_true(busy >= 1);
	assert_int_equal(ok + busy, 60);
	write_file(path, orig);
	hup_and_wait();
	blast(s, 60, 6000, &ok, &busy, &down);
	assert_int_equal(ok, 60);
	free(edited);
	free(orig);
	zmq_close(s);
}

/* Removes the first occurrence of the text from needle through end (inclusive) in s. */
static void
cut(char *s, const char *needle, const char *end)
{
	char *a = strstr(s, needle), *b;

	assert_non_null(a);
	b = strstr(a, end);
	assert_non_null(b);
	b += strlen(end);
	memmove(a, b, strlen(b) + 1);
}

/*
 * A reload that drops a key while signatures with it are in flight: every
 * request still gets exactly one reply, a signature made with the old
 * inventory comes back with its key's algorithm and verifies, and the rest
 * are refused.  (The front looked the key up again when the signer answered;
 * after the reload it was gone, the reply could not be encoded, and the
 * client never heard back although the audit log shows the signature.)
 */
static void
test_reload_drops_key_in_flight(void **state)
{
	enum { N = 250 }; /* under the default per-client cap of 256 */
	static unsigned char buf[4096];
	static struct sg_req reqs[N];
	char path[4096], why[SG_WHY_MAX];
	char *orig, *edited;
	void *s = connect_ci(conf.endpoint);
	struct sg_req lreq = {.id = 1, .op = SG_OP_KEYS_LIST};
	struct sg_rep rep, lrep;
	EVP_PKEY *pub = NULL;
	int seen[N] = {0}, i, len, ok = 0, refused = 0, missing = 0;
	size_t j;

	assert_int_equal(send_req(s, &lreq, &lrep), 0);
	for (j = 0; j < lrep.u.keys.n; j++) {
		if (strcmp(lrep.u.keys.keys[j].name, "build-signing-rsa3072") == 0)
			pub = pub_from_der(lrep.u.keys.keys[j].pub, lrep.u.keys.keys[j].pub_len);
	}
	assert_non_null(pub);
	sg_rep_clear(&lrep);
	snprintf(path, sizeof(path), "%s/policy.yaml", devdir);
	orig = read_file(path);
	edited = strdup(orig);
	assert_non_null(edited);
	cut(edited, "  - name: build-signing-rsa3072\n", "purposes: [sign]\n");
	cut(edited, ", build-signing-rsa3072", "rsa3072");
	assert_null(strstr(edited, "rsa3072"));
	/* RSA-3072 at a few hundred per second: most are in flight when the reload lands */
	for (i = 0; i < N; i++) {
		sign_req_init(&reqs[i], 8000 + (uint64_t)i, "build-signing-rsa3072",
		              SG_HASH_SHA256);
		assert_int_equal(sg_wire_encode_req(&sb, &reqs[i]), 0);
		assert_int_equal(zmq_send(s, sb.data, sb.size, 0), (int)sb.size);
	}
	for (i = 0; i < N; i++) {
		/* Reload once the first signature is back: the rest are in flight then. */
		if (i == 1) {
			write_file(path, edited);
			hup_and_wait();
		}
		if ((len = recv_reply(s, buf, sizeof(buf), 30000)) < 0) {
			missing = N - i;
			break;
		}
		assert_int_equal(
		    sg_wire_decode_rep(dec, buf, (size_t)len, SG_OP_SIGN_DIGEST, &rep, why), 0);
		assert_true(rep.id >= 8000 && rep.id < 8000 + N);
		assert_int_equal(seen[rep.id - 8000], 0);
		seen[rep.id - 8000] = 1;
		if (rep.ok) {
			const struct sg_req *q = &reqs[rep.id - 8000];

			assert_int_equal(rep.u.sign.alg, SG_KEYALG_RSA_3072);
			assert_true(openssl_verify(pub, SG_HASH_SHA256, SG_PAD_PKCS1,
			                           q->u.sign.digest, q->u.sign.digest_len,
			                           rep.u.sign.sig, rep.u.sign.sig_len));
			ok++;
		} else if (rep.err == SG_ERR_UNKNOWN_KEY || rep.err == SG_ERR_DENIED ||
		           rep.err == SG_ERR_HSM_UNAVAILABLE) {
			refused++;
		} else {
			fail_msg("unexpected error %d (%s)", rep.err, rep.err_msg);
		}
	}
	write_file(path, orig);
	hup_and_wait();
	assert_serves(s);
	EVP_PKEY_free(pub);
	free(edited);
	free(orig);
	zmq_close(s);
	if (missing > 0)
		fail_msg("%d of %d requests got no reply", missing, N);
	/* the reload really landed while signatures were in flight */
	assert_true(ok >= 1);
	assert_true(refused >= 1);
}

/*
 * SIGTERM with requests in flight: every request is answered (signed, or
 * refused as shutting down), none is lost.  Runs last: the daemon exits.
 */
static void
test_sigterm_drains(void **state)
{
	static unsigned char buf[4096];
	char path[4096];
	char *pid;
	struct sg_req req;
	struct sg_rep rep;
	char why[SG_WHY_MAX];
	void *s = connect_ci(conf.endpoint);
	int i, len, ok = 0, down = 0;

	assert_serves(s);
	for (i = 0; i < 150; i++) {
		sign_req_init(&req, 7000 + (uint64_t)i, "build-signing-rsa2048", SG_HASH_SHA256);
		assert_int_equal(sg_wire_encode_req(&sb, &req), 0);
		assert_int_equal(zmq_send(s, sb.data, sb.size, 0), (int)sb.size);
	}
	snprintf(path, sizeof(path), "%s/signetd.pid", devdir);
	for (i = 0; i < 150; i++) {
		/* SIGTERM once the first signature is back: the rest are in flight then
		 * (RSA-2048 at 1-3k/s), or still queued on the connection. */
		if (i == 1) {
			pid = read_file(path);
			assert_int_equal(kill((pid_t)atol(pid), SIGTERM), 0);
			free(pid);
		}
		len = recv_reply(s, buf, sizeof(buf), 30000);
		assert_true(len > 0);
		assert_int_equal(
		    sg_wire_decode_rep(dec, buf, (size_t)len, SG_OP_SIGN_DIGEST, &rep, why), 0);
		if (rep.ok)
			ok++;
		else if (rep.err == SG_ERR_SHUTTING_DOWN)
			down++;
		else
			fail_msg("unexpected error %d (%s)", rep.err, rep.err_msg);
	}
	assert_int_equal(ok + down, 150);
	assert_true(ok >= 1);
	zmq_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys_list),
	    cmocka_unit_test(test_sign_all),
	    cmocka_unit_test(test_denials),
	    cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_oversized),
	    cmocka_unit_test(test_unknown_key_gets_nothing),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_idempotency),
	    cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_inflight_cap),
	    cmocka_unit_test(test_reload_drops_key_in_flight),
	    cmocka_unit_test(test_sigterm_drains),
	};

	/* Line-buffered, so that a hang or a kill still shows which test it was. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
