/*
 * Unit tests of libsignet against a real CURVE ROUTER server that runs in a
 * thread of the test, on tcp://127.0.0.1:<free port> and on ipc://.  The
 * server decodes requests with sg_wire and answers with the sg_wire encoders;
 * depending on the scenario it answers at once, in reverse order, in
 * batches, never, with an error, with an oversize reply, after a restart of
 * its socket, or "busy" first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <zmq.h>

#include "signet.h"

#define MAX_HELD 64
#define MAX_SEEN 16

enum srv_mode {
	MODE_ECHO,     /* answer every request at once */
	MODE_REVERSE,  /* hold `param` requests, answer them in reverse order */
	MODE_BATCH,    /* hold requests until idle for 50 ms, answer in reverse order */
	MODE_SILENT,   /* never answer */
	MODE_ERROR,    /* answer every request with err_code / err_msg */
	MODE_RESTART,  /* close and re-bind the socket after the first request */
	MODE_OVERSIZE, /* answer keys.list with a reply larger than the client's cap */
	MODE_BUSY,     /* answer the first request "busy", then as ECHO */
};

struct msg_in {
	unsigned char ident[256];
	size_t ident_len;
	struct sg_req req;
};

struct srv {
	void *ctx;
	void *sock;
	char endpoint[256];
	unsigned char pub[32], sec[32];
	enum srv_mode mode;
	size_t param;
	int err_code;
	char err_msg[128];
	EVP_PKEY *key; /* the key keys.list lists (EC P-256) */
	pthread_t th;
	atomic_int stop;
	atomic_int bad; /* the server thread saw something wrong */
	atomic_int lie; /* CA ops: answer something other than what was asked (LIE_*) */
	uint64_t next_serial;
	/* What the server saw (read after the thread is joined). */
	size_t n_req;
	size_t max_held;
	unsigned char idem[MAX_SEEN][SG_IDEM_MAX];
	size_t idem_len[MAX_SEEN];
	size_t n_idem;
	int restarted;
	struct sg_wire_dec *dec;
	msgpack_sbuffer sb;
	struct msg_in held[MAX_HELD];
	size_t n_held;
};

struct fx {
	char dir[64];
	char sk_path[128];
	char ipc_path[128];
	struct srv srv;
	struct sg_clientconf cfg;
	struct signet_client *c;
};

/* ---- the server ---- */

/* cmocka's asserts are for the main thread: the server records failures instead. */
#define CHECK(s, cond)                                                                             \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "test server: %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
			atomic_store(&(s)->bad, 1);                                                \
		}                                                                                  \
	} while (0)

static int
srv_bind(struct srv *s)
{
	int one = 1, zero = 0, i;

	if ((s->sock = zmq_socket(s->ctx, ZMQ_ROUTER)) == NULL)
		return -1;
	if (zmq_setsockopt(s->sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
	    zmq_setsockopt(s->sock, ZMQ_CURVE_SECRETKEY, s->sec, 32) != 0 ||
	    zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof(zero)) != 0)
		return -1;
	/* The old socket's listener is released asynchronously: retry for 3 s. */
	for (i = 0; i < 300; i++) {
		if (zmq_bind(s->sock, s->endpoint) == 0)
			return 0;
		usleep(10000);
	}
	return -1;
}

static int
srv_recv(struct srv *s, struct msg_in *m, int timeout_ms)
{
	zmq_pollitem_t it = {s->sock, 0, ZMQ_POLLIN, 0};
	unsigned char buf[8192];
	char why[SG_WHY_MAX];
	int n, have_id = 0, more = 0;
	size_t more_len = sizeof(more);

	if (zmq_poll(&it, 1, timeout_ms) <= 0)
		return -1;
	if ((n = zmq_recv(s->sock, m->ident, sizeof(m->ident), 0)) < 0)
		return -1;
	m->ident_len = (size_t)n;
	zmq_getsockopt(s->sock, ZMQ_RCVMORE, &more, &more_len);
	if (!more || (n = zmq_recv(s->sock, buf, sizeof(buf), 0)) < 0)
		return -1;
	if (sg_wire_decode_req(s->dec, buf, (size_t)n, SG_WIRE_DEFAULT_MAX_MSG, &m->req, &have_id,
	                       why) != 0) {
		fprintf(stderr, "test server: bad request: %s\n", why);
		return -1;
	}
	return 0;
}

static void
srv_send(struct srv *s, const struct msg_in *m)
{
	zmq_send(s->sock, m->ident, m->ident_len, ZMQ_SNDMORE);
	zmq_send(s->sock, s->sb.data, s->sb.size, 0);
}

/* What a lying server gets wrong in its CA answers. */
enum {
	LIE_NONE = 0,
	LIE_NAME = 1,     /* another profile, CA or serial in the reply */
	LIE_DER = 2,      /* the DER disagrees: another key, another CRL number, another reason */
	LIE_SERIAL = 3,   /* cert.issue: the certificate's serial is not the reply's */
	LIE_VALIDITY = 4, /* the reply's times are not the DER's */
	LIE_COUNT
};

/* Records the idempotency key of a request that has one. */
static void
srv_note_idem(struct srv *s, const struct sg_req *req)
{
	const unsigned char *idem;
	size_t len;

	switch (req->op) {
	case SG_OP_SIGN_DIGEST:
		idem = req->u.sign.idem;
		len = req->u.sign.idem_len;
		break;
	case SG_OP_CERT_ISSUE:
		idem = req->u.issue.idem;
		len = req->u.issue.idem_len;
		break;
	case SG_OP_CERT_REVOKE:
		idem = req->u.serial.idem;
		len = req->u.serial.idem_len;
		break;
	default:
		return;
	}
	if (s->n_idem < MAX_SEEN) {
		memcpy(s->idem[s->n_idem], idem, len);
		s->idem_len[s->n_idem++] = len;
	}
}

/* A certificate for pub signed by key: DER into *der (OPENSSL_free), its length or -1. */
static int
mk_cert(EVP_PKEY *pub, EVP_PKEY *key, uint64_t serial, int64_t nb, int64_t na, const char *cn,
        unsigned char **der)
{
	X509 *x = X509_new();
	X509_NAME *n;
	int len = -1;

	*der = NULL;
	if (x != NULL && X509_set_version(x, 2) == 1 &&
	    ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial) == 1 &&
	    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) != NULL &&
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) != NULL &&
	    (n = X509_get_subject_name(x)) != NULL &&
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
	                               0) == 1 &&
	    X509_set_issuer_name(x, n) == 1 && X509_set_pubkey(x, pub) == 1 &&
	    X509_sign(x, key, EVP_sha256()) > 0)
		len = i2d_X509(x, der);
	X509_free(x);
	return len;
}

/* A v2 CRL of issuer CN=cn with the given number and times, signed by key. */
static int
mk_crl(EVP_PKEY *key, const char *cn, uint64_t number, int64_t this_u, int64_t next_u,
       unsigned char **der)
{
	X509_CRL *crl = X509_CRL_new();
	X509_NAME *n = X509_NAME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t)this_u),
	          *t2 = ASN1_TIME_set(NULL, (time_t)next_u);
	int len = -1;

	*der = NULL;
	if (crl != NULL && n != NULL && num != NULL && t1 != NULL && t2 != NULL &&
	    X509_CRL_set_version(crl, 1) == 1 &&
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
	                               0) == 1 &&
	    X509_CRL_set_issuer_name(crl, n) == 1 && X509_CRL_set1_lastUpdate(crl, t1) == 1 &&
	    X509_CRL_set1_nextUpdate(crl, t2) == 1 && ASN1_INTEGER_set_uint64(num, number) == 1 &&
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) == 1 &&
	    X509_CRL_sign(crl, key, EVP_sha256()) > 0)
		len = i2d_X509_CRL(crl, der);
	X509_CRL_free(crl);
	X509_NAME_free(n);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t1);
	ASN1_TIME_free(t2);
	return len;
}

static void
be64(uint64_t v, unsigned char out[8])
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (unsigned char)v;
}

#define SRV_NOT_BEFORE 1700000000
#define SRV_CA_NOT_AFTER 2000000000
#define SRV_CRL_NUMBER 7

/* cert.issue: a certificate for the CSR's key, signed by the server's key. */
static void
srv_issue(struct srv *s, const struct sg_req *req, int replayed)
{
	const struct sg_issue_req *q = &req->u.issue;
	const unsigned char *p = q->csr;
	int lie = atomic_load(&s->lie);
	struct sg_issue_rep rep;
	X509_REQ *csr;
	BIO *bio;
	EVP_PKEY *pub;
	unsigned char *leaf = NULL, *ca = NULL;
	uint64_t serial = s->next_serial++, na;
	int leaf_len, ca_len;

	if ((csr = d2i_X509_REQ(NULL, &p, (long)q->csr_len)) == NULL &&
	    (bio = BIO_new_mem_buf(q->csr, (int)q->csr_len)) != NULL) {
		csr = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	CHECK(s, csr != NULL);
	if (csr == NULL)
		return;
	pub = lie == LIE_DER ? s->key : X509_REQ_get0_pubkey(csr);
	na = SRV_NOT_BEFORE + (q->ttl != 0 ? q->ttl : 86400);
	leaf_len = mk_cert(pub, s->key, lie == LIE_SERIAL ? serial + 1 : serial, SRV_NOT_BEFORE,
	                   (int64_t)na, "leaf", &leaf);
	ca_len = mk_cert(s->key, s->key, 1, SRV_NOT_BEFORE, SRV_CA_NOT_AFTER, "int-a", &ca);
	CHECK(s, leaf_len > 0 && ca_len > 0);
	memset(&rep, 0, sizeof(rep));
	snprintf(rep.profile, sizeof(rep.profile), "%s", lie == LIE_NAME ? "other" : q->profile);
	snprintf(rep.ca, sizeof(rep.ca), "int-a");
	be64(serial, rep.serial);
	rep.serial_len = 8;
	rep.not_before = SRV_NOT_BEFORE;
	rep.not_after = na + (lie == LIE_VALIDITY);
	rep.cert = leaf;
	rep.cert_len = (size_t)leaf_len;
	rep.chain[0] = ca;
	rep.chain_len[0] = (size_t)ca_len;
	rep.n_chain = 1;
	rep.record = req->id + 1000;
	rep.replayed = replayed;
	CHECK(s, sg_wire_encode_issue_rep(&s->sb, req->id, &rep) == 0);
	OPENSSL_free(leaf);
	OPENSSL_free(ca);
	X509_REQ_free(csr);
}

/* cert.revoke and cert.status: serials beginning with 0x7f are unknown, others good. */
static void
srv_status(struct srv *s, const struct sg_req *req, int replayed)
{
	const struct sg_serial_req *q = &req->u.serial;
	int lie = atomic_load(&s->lie);
	struct sg_status_rep rep;

	memset(&rep, 0, sizeof(rep));
	memcpy(rep.serial, q->serial, q->serial_len);
	rep.serial_len = q->serial_len;
	if (lie == LIE_NAME)
		rep.serial[q->serial_len - 1] ^= 1;
	rep.record = req->id + 1000;
	if (req->op == SG_OP_CERT_STATUS && q->serial[0] == 0x7f) {
		rep.status = SG_CERT_UNKNOWN;
	} else {
		rep.status = SG_CERT_GOOD;
		snprintf(rep.profile, sizeof(rep.profile), "leaf-tls");
		snprintf(rep.ca, sizeof(rep.ca), "int-a");
		rep.not_after = SRV_NOT_BEFORE + 86400;
	}
	if (req->op == SG_OP_CERT_REVOKE && lie != LIE_SERIAL) {
		rep.status = SG_CERT_REVOKED;
		rep.revoked_at = SRV_NOT_BEFORE + 60;
		rep.reason = lie == LIE_DER
		                 ? (q->reason == SG_REASON_SUPERSEDED ? SG_REASON_KEY_COMPROMISE
		                                                      : SG_REASON_SUPERSEDED)
		                 : q->reason;
		rep.replayed = replayed;
	}
	CHECK(s, sg_wire_encode_status_rep(&s->sb, req->id, req->op, &rep) == 0);
}

static void
srv_crl(struct srv *s, const struct sg_req *req)
{
	int lie = atomic_load(&s->lie);
	struct sg_crl_rep rep;
	unsigned char *der = NULL;
	int len;

	len = mk_crl(s->key, req->u.crl.ca, SRV_CRL_NUMBER, SRV_NOT_BEFORE, SRV_NOT_BEFORE + 3600,
	             &der);
	CHECK(s, len > 0);
	memset(&rep, 0, sizeof(rep));
	snprintf(rep.ca, sizeof(rep.ca), "%s", lie == LIE_NAME ? "other-ca" : req->u.crl.ca);
	rep.number = SRV_CRL_NUMBER + (lie == LIE_DER);
	rep.this_update = SRV_NOT_BEFORE;
	rep.next_update = SRV_NOT_BEFORE + 3600 + 60 * (lie == LIE_VALIDITY);
	rep.data = der;
	rep.len = (size_t)len;
	CHECK(s, sg_wire_encode_crl_rep(&s->sb, req->id, &rep) == 0);
	OPENSSL_free(der);
}

/* ca.list: int-a (with two profiles) and int-b (none), each with its certificate. */
static void
srv_cas(struct srv *s, const struct sg_req *req)
{
	int lie = atomic_load(&s->lie);
	struct sg_ca_info *cas = calloc(2, sizeof(*cas));
	unsigned char *der = NULL;
	int len;

	CHECK(s, cas != NULL);
	if (cas == NULL)
		return;
	len = mk_cert(s->key, s->key, 1, SRV_NOT_BEFORE, SRV_CA_NOT_AFTER, "int-a", &der);
	CHECK(s, len > 0);
	for (int i = 0; i < 2; i++) {
		snprintf(cas[i].name, sizeof(cas[i].name), "%s",
		         i == 0 || lie == LIE_NAME ? "int-a" : "int-b");
		cas[i].not_after = SRV_CA_NOT_AFTER + (lie == LIE_VALIDITY);
		cas[i].cert[0] = der;
		cas[i].cert_len[0] = (size_t)len;
		cas[i].n_certs = 1;
	}
	snprintf(cas[0].profiles[0], sizeof(cas[0].profiles[0]), "leaf-tls");
	snprintf(cas[0].profiles[1], sizeof(cas[0].profiles[1]), "intermediate-ca");
	cas[0].n_profiles = 2;
	CHECK(s, sg_wire_encode_cas_rep(&s->sb, req->id, cas, 2) == 0);
	OPENSSL_free(der);
	free(cas);
}

static void
srv_answer(struct srv *s, const struct msg_in *m, int replayed)
{
	struct sg_sign_rep sr;
	struct sg_ping_rep pr;
	struct sg_key_info k;
	unsigned char *p;
	int len;

	switch (m->req.op) {
	case SG_OP_PING:
		memset(&pr, 0, sizeof(pr));
		snprintf(pr.server, sizeof(pr.server), "test-server");
		pr.time = 1700000000;
		CHECK(s, sg_wire_encode_ping_rep(&s->sb, m->req.id, &pr) == 0);
		break;
	case SG_OP_KEYS_LIST:
		memset(&k, 0, sizeof(k));
		snprintf(k.name, sizeof(k.name), "release");
		k.alg = SG_KEYALG_EC_P256;
		p = k.pub;
		len = i2d_PUBKEY(s->key, &p);
		CHECK(s, len > 0);
		k.pub_len = (size_t)len;
		k.hashes = (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384);
		k.ops = 1u << SG_OP_SIGN_DIGEST;
		CHECK(s, sg_wire_encode_keys_rep(&s->sb, m->req.id, &k, 1) == 0);
		break;
	case SG_OP_SIGN_DIGEST:
		/* The "signature" is the digest reversed: the client can match it to its request.
		 */
		memset(&sr, 0, sizeof(sr));
		snprintf(sr.key, sizeof(sr.key), "%s", m->req.u.sign.key);
		sr.alg = SG_KEYALG_EC_P256;
		sr.hash = m->req.u.sign.hash;
		sr.pad = SG_PAD_NONE;
		for (size_t i = 0; i < m->req.u.sign.digest_len; i++)
			sr.sig[i] = m->req.u.sign.digest[m->req.u.sign.digest_len - 1 - i];
		sr.sig_len = m->req.u.sign.digest_len;
		sr.record = m->req.id + 1000;
		memset(sr.record_hash, 0xab, sizeof(sr.record_hash));
		sr.replayed = replayed;
		CHECK(s, sg_wire_encode_sign_rep(&s->sb, m->req.id, &sr) == 0);
		break;
	case SG_OP_CERT_ISSUE:
		srv_issue(s, &m->req, replayed);
		break;
	case SG_OP_CERT_REVOKE:
	case SG_OP_CERT_STATUS:
		srv_status(s, &m->req, replayed);
		break;
	case SG_OP_CRL_GET:
		srv_crl(s, &m->req);
		break;
	case SG_OP_CA_LIST:
		srv_cas(s, &m->req);
		break;
	case SG_OP_NONE:
	default:
		CHECK(s, 0);
		return;
	}
	srv_send(s, m);
}

static void
srv_error(struct srv *s, const struct msg_in *m, int code, const char *msg)
{
	CHECK(s, sg_wire_encode_err(&s->sb, m->req.id, code, msg) == 0);
	srv_send(s, m);
}

/* A keys.list reply of 40 keys of 1000 bytes each: far over the client's cap. */
static void
srv_oversize(struct srv *s, const struct msg_in *m)
{
	static struct sg_key_info keys[40];
	size_t i;

	for (i = 0; i < 40; i++) {
		memset(&keys[i], 0, sizeof(keys[i]));
		snprintf(keys[i].name, sizeof(keys[i].name), "k%zu", i);
		keys[i].alg = SG_KEYALG_RSA_4096;
		memset(keys[i].pub, 0x42, 1000);
		keys[i].pub_len = 1000;
		keys[i].hashes = 1u << SG_HASH_SHA256;
		keys[i].ops = 1u << SG_OP_SIGN_DIGEST;
	}
	CHECK(s, sg_wire_encode_keys_rep(&s->sb, m->req.id, keys, 40) == 0);
	srv_send(s, m);
}

static void
srv_flush_reverse(struct srv *s)
{
	while (s->n_held > 0) {
		s->n_held--;
		srv_answer(s, &s->held[s->n_held], 0);
	}
}

static void *
srv_main(void *arg)
{
	struct srv *s = arg;
	struct msg_in m;

	while (!atomic_load(&s->stop)) {
		if (srv_recv(s, &m, 50) != 0) {
			if (s->mode == MODE_BATCH)
				srv_flush_reverse(s);
			continue;
		}
		s->n_req++;
		srv_note_idem(s, &m.req);
		switch (s->mode) {
		case MODE_ECHO:
			srv_answer(s, &m, 0);
			break;
		case MODE_REVERSE:
		case MODE_BATCH:
			if (s->n_held == MAX_HELD) {
				CHECK(s, 0);
				break;
			}
			s->held[s->n_held++] = m;
			if (s->n_held > s->max_held)
				s->max_held = s->n_held;
			if (s->mode == MODE_REVERSE && s->n_held == s->param)
				srv_flush_reverse(s);
			break;
		case MODE_SILENT:
			break;
		case MODE_ERROR:
			srv_error(s, &m, s->err_code, s->err_msg);
			break;
		case MODE_RESTART:
			if (s->n_req == 1) {
				/* Drop the request unanswered and restart the "appliance". */
				zmq_close(s->sock);
				usleep(300000);
				CHECK(s, srv_bind(s) == 0);
				s->restarted = 1;
			} else {
				srv_answer(s, &m, 1);
			}
			break;
		case MODE_OVERSIZE:
			if (m.req.op == SG_OP_KEYS_LIST)
				srv_oversize(s, &m);
			else
				srv_answer(s, &m, 0);
			break;
		case MODE_BUSY:
			if (s->n_req == 1)
				srv_error(s, &m, SG_ERR_BUSY, "too many requests in flight");
			else
				srv_answer(s, &m, 1);
			break;
		default:
			CHECK(s, 0);
		}
	}
	return NULL;
}

static void
srv_start(struct srv *s, enum srv_mode mode)
{
	s->mode = mode;
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void
srv_join(struct srv *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	assert_int_equal(atomic_load(&s->bad), 0);
}

/* ---- fixtures ---- */

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int
fx_setup(struct fx *f, int ipc)
{
	char spub[41], ssec[41], cpub[41], csec[42], ep[256];
	size_t len = sizeof(ep);
	void *tmp;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/sg_client_test.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->srv.ctx = zmq_ctx_new();
	f->srv.dec = sg_wire_dec_new();
	msgpack_sbuffer_init(&f->srv.sb);
	if (zmq_curve_keypair(spub, ssec) != 0 || zmq_curve_keypair(cpub, csec) != 0)
		return -1;
	zmq_z85_decode(f->srv.pub, spub);
	zmq_z85_decode(f->srv.sec, ssec);
	snprintf(f->sk_path, sizeof(f->sk_path), "%s/client.key", f->dir);
	strcat(csec, "\n");
	write_file(f->sk_path, csec, 0600);
	if (ipc) {
		snprintf(f->srv.endpoint, sizeof(f->srv.endpoint), "ipc://%s/signet.sock", f->dir);
	} else {
		/* A free port: bind to an ephemeral one, then keep using its number. */
		tmp = zmq_socket(f->srv.ctx, ZMQ_ROUTER);
		if (zmq_bind(tmp, "tcp://127.0.0.1:*") != 0 ||
		    zmq_getsockopt(tmp, ZMQ_LAST_ENDPOINT, ep, &len) != 0)
			return -1;
		zmq_close(tmp);
		snprintf(f->srv.endpoint, sizeof(f->srv.endpoint), "%s", ep);
	}
	if (srv_bind(&f->srv) != 0)
		return -1;
	f->srv.key = EVP_EC_gen("P-256");
	f->srv.next_serial = 0x1122334455667788ULL;
	f->cfg.endpoint = f->srv.endpoint;
	memcpy(f->cfg.server_pub, f->srv.pub, 32);
	snprintf(f->cfg.server_pub_z85, sizeof(f->cfg.server_pub_z85), "%s", spub);
	f->cfg.secret_key_file = f->sk_path;
	f->cfg.timeout_ms = 1000;
	return f->srv.key == NULL ? -1 : 0;
}

static int
setup_tcp(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	*state = f;
	return f == NULL || fx_setup(f, 0) != 0;
}

static int
setup_ipc(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	*state = f;
	return f == NULL || fx_setup(f, 1) != 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	signet_client_free(f->c);
	if (f->srv.sock != NULL)
		zmq_close(f->srv.sock);
	zmq_ctx_term(f->srv.ctx);
	sg_wire_dec_free(f->srv.dec);
	msgpack_sbuffer_destroy(&f->srv.sb);
	EVP_PKEY_free(f->srv.key);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return 1;
	free(f);
	return 0;
}

static struct signet_client *
client(struct fx *f, unsigned timeout_ms, unsigned retries, size_t max_msg)
{
	struct signet_opts o;
	char why[256];

	signet_opts_default(&o);
	o.timeout_ms = timeout_ms;
	o.retries = retries;
	o.backoff_ms = 50;
	o.backoff_max_ms = 200;
	if (max_msg != 0)
		o.max_msg = max_msg;
	f->c = signet_client_new(&f->cfg, &o, why, sizeof(why));
	if (f->c == NULL)
		fprintf(stderr, "signet_client_new: %s\n", why);
	assert_non_null(f->c);
	return f->c;
}

static void
sign_req(struct sg_req *req, unsigned char seed)
{
	memset(req, 0, sizeof(*req));
	req->op = SG_OP_SIGN_DIGEST;
	snprintf(req->u.sign.key, sizeof(req->u.sign.key), "release");
	req->u.sign.hash = SG_HASH_SHA256;
	req->u.sign.digest_len = 32;
	for (size_t i = 0; i < 32; i++)
		req->u.sign.digest[i] = (unsigned char)(seed * 31 + i);
	snprintf(req->u.sign.meta.artifact, sizeof(req->u.sign.meta.artifact), "a%u", seed);
}

/* 1 if sig is digest reversed (what the test server "signs"). */
static int
sig_matches(const unsigned char *sig, size_t sig_len, const unsigned char *digest, size_t dlen)
{
	if (sig_len != dlen)
		return 0;
	for (size_t i = 0; i < dlen; i++) {
		if (sig[i] != digest[dlen - 1 - i])
			return 0;
	}
	return 1;
}

/* ---- tests ---- */

/* Replies in reverse order, of three different ops, each matched to its request by id. */
static void
test_out_of_order(void **state)
{
	struct fx *f = *state;
	struct sg_req reqs[6];
	uint64_t ids[6];
	struct sg_rep rep;
	int seen[6] = {0};
	size_t i, j;

	f->srv.param = 6;
	srv_start(&f->srv, MODE_REVERSE);
	client(f, 3000, 0, 0);
	for (i = 0; i < 6; i++) {
		sign_req(&reqs[i], (unsigned char)i);
		if (i == 2)
			reqs[i].op = SG_OP_PING;
		if (i == 4)
			reqs[i].op = SG_OP_KEYS_LIST;
		assert_int_equal(signet_client_send(f->c, &reqs[i], &ids[i]), 0);
		assert_int_equal(ids[i], reqs[i].id);
		if (i > 0)
			assert_true(ids[i] > ids[i - 1]);
	}
	assert_int_equal(signet_client_pending(f->c), 6);
	for (i = 0; i < 6; i++) {
		assert_int_equal(signet_client_recv(f->c, 5000, &rep), 0);
		for (j = 0; j < 6 && ids[j] != rep.id; j++)
			;
		assert_true(j < 6);
		/* The server answered the last request first. */
		assert_int_equal(j, 5 - i);
		assert_false(seen[j]);
		seen[j] = 1;
		assert_true(rep.ok);
		assert_int_equal(rep.op, reqs[j].op);
		if (reqs[j].op == SG_OP_SIGN_DIGEST)
			assert_true(sig_matches(rep.u.sign.sig, rep.u.sign.sig_len,
			                        reqs[j].u.sign.digest, 32));
		else if (reqs[j].op == SG_OP_KEYS_LIST)
			assert_int_equal(rep.u.keys.n, 1);
		else
			assert_string_equal(rep.u.ping.server, "test-server");
		sg_rep_clear(&rep);
	}
	assert_int_equal(signet_client_pending(f->c), 0);
	assert_int_equal(signet_client_recv(f->c, 10, &rep), SG_ERR_NOT_FOUND);
	srv_join(&f->srv);
	assert_int_equal(f->srv.max_held, 6);
}

/* wait(id) for the first request while the replies come in reverse: the others are kept. */
static void
test_wait_keeps_others(void **state)
{
	struct fx *f = *state;
	struct sg_req reqs[3];
	uint64_t ids[3];
	struct sg_rep rep;
	size_t i;

	f->srv.param = 3;
	srv_start(&f->srv, MODE_REVERSE);
	client(f, 3000, 0, 0);
	for (i = 0; i < 3; i++) {
		sign_req(&reqs[i], (unsigned char)(10 + i));
		assert_int_equal(signet_client_send(f->c, &reqs[i], &ids[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(signet_client_wait(f->c, ids[i], &rep), 0);
		assert_int_equal(rep.id, ids[i]);
		assert_true(rep.ok);
		assert_true(
		    sig_matches(rep.u.sign.sig, rep.u.sign.sig_len, reqs[i].u.sign.digest, 32));
		sg_rep_clear(&rep);
	}
	assert_int_equal(signet_client_wait(f->c, ids[0], &rep), SG_ERR_NOT_FOUND);
	srv_join(&f->srv);
}

/* The sync helpers, and the public key of keys.list verifying a real signature. */
static void
test_sync_helpers(void **state)
{
	struct fx *f = *state;
	struct sg_ping_rep ping;
	struct sg_key_info *keys = NULL;
	const struct sg_key_info *k;
	struct sg_sign_req sreq;
	struct sg_sign_rep srep;
	struct sg_req tmp;
	unsigned char digest[32], sig[128];
	size_t n = 0, sig_len = sizeof(sig);
	EVP_PKEY *pub = NULL;
	EVP_PKEY_CTX *pc;

	srv_start(&f->srv, MODE_ECHO);
	client(f, 3000, 0, 0);
	assert_int_equal(signet_ping(f->c, &ping), 0);
	assert_string_equal(ping.server, "test-server");
	assert_int_equal(ping.time, 1700000000);

	assert_int_equal(signet_keys_list(f->c, &keys, &n), 0);
	assert_int_equal(n, 1);
	assert_null(signet_keys_find(keys, n, "other"));
	k = signet_keys_find(keys, n, "release");
	assert_non_null(k);
	assert_int_equal(k->alg, SG_KEYALG_EC_P256);
	assert_int_equal(k->hashes, (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384));
	assert_int_equal(signet_key_pubkey(k, &pub), 0);
	/* A signature by the server's private key verifies with the listed public key. */
	assert_int_equal(RAND_bytes(digest, sizeof(digest)), 1);
	pc = EVP_PKEY_CTX_new(f->srv.key, NULL);
	assert_int_equal(EVP_PKEY_sign_init(pc), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_sign(pc, sig, &sig_len, digest, sizeof(digest)), 1);
	EVP_PKEY_CTX_free(pc);
	assert_int_equal(
	    signet_verify_digest(pub, SG_HASH_SHA256, SG_PAD_NONE, digest, 32, sig, sig_len), 0);
	digest[0] ^= 1;
	assert_int_equal(
	    signet_verify_digest(pub, SG_HASH_SHA256, SG_PAD_NONE, digest, 32, sig, sig_len),
	    SG_ERR_BAD_SIGNATURE);
	assert_int_equal(
	    signet_verify_digest(pub, SG_HASH_SHA256, SG_PAD_PSS, digest, 32, sig, sig_len),
	    SG_ERR_BAD_PADDING);
	EVP_PKEY_free(pub);
	/* The wrong algorithm for the key's DER is refused. */
	keys[0].alg = SG_KEYALG_EC_P384;
	assert_int_equal(signet_key_pubkey(&keys[0], &pub), SG_ERR_MALFORMED);
	assert_null(pub);
	signet_keys_free(keys, n);

	sign_req(&tmp, 7);
	sreq = tmp.u.sign;
	assert_int_equal(sreq.idem_len, 0);
	assert_int_equal(signet_sign_digest(f->c, &sreq, &srep), 0);
	/* The library drew an idempotency key, and the server saw exactly it. */
	assert_int_equal(sreq.idem_len, SIGNET_IDEM_LEN);
	assert_true(sig_matches(srep.sig, srep.sig_len, sreq.digest, 32));
	assert_int_equal(srep.hash, SG_HASH_SHA256);
	assert_false(srep.replayed);
	srv_join(&f->srv);
	assert_int_equal(f->srv.n_idem, 1);
	assert_int_equal(f->srv.idem_len[0], SIGNET_IDEM_LEN);
	assert_memory_equal(f->srv.idem[0], sreq.idem, SIGNET_IDEM_LEN);
}

/* A server that stays silent: SG_ERR_TIMEOUT, after 1 + retries sends of the same request. */
static void
test_timeout_silent(void **state)
{
	struct fx *f = *state;
	struct sg_req tmp;
	struct sg_sign_req sreq;
	struct sg_sign_rep srep;
	struct timespec t0, t1;
	long ms;

	srv_start(&f->srv, MODE_SILENT);
	client(f, 900, 2, 0);
	sign_req(&tmp, 3);
	sreq = tmp.u.sign;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(signet_sign_digest(f->c, &sreq, &srep), SG_ERR_TIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	/* Three attempts of up to 300 ms and two backoffs, all within the 900 ms budget. */
	assert_true(ms >= 850 && ms < 3000);
	assert_non_null(strstr(signet_client_errmsg(f->c), "no reply"));
	srv_join(&f->srv);
	assert_int_equal(f->srv.n_req, 3);
	assert_int_equal(f->srv.n_idem, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(f->srv.idem_len[i], SIGNET_IDEM_LEN);
		assert_memory_equal(f->srv.idem[i], sreq.idem, SIGNET_IDEM_LEN);
	}
	/* recv with nothing completing within wait_ms is a timeout of the wait only. */
	assert_int_equal(signet_client_pending(f->c), 0);
}

/* recv(wait_ms) returns SG_ERR_TIMEOUT when nothing completes yet; the request stays pending. */
static void
test_recv_wait_timeout(void **state)
{
	struct fx *f = *state;
	struct sg_req req;
	struct sg_rep rep;
	uint64_t id;

	srv_start(&f->srv, MODE_SILENT);
	client(f, 2000, 0, 0);
	memset(&req, 0, sizeof(req));
	req.op = SG_OP_PING;
	assert_int_equal(signet_client_send(f->c, &req, &id), 0);
	assert_int_equal(signet_client_recv(f->c, 100, &rep), SG_ERR_TIMEOUT);
	assert_int_equal(signet_client_pending(f->c), 1);
	assert_int_equal(signet_client_cancel(f->c, id), 0);
	assert_int_equal(signet_client_cancel(f->c, id), SG_ERR_NOT_FOUND);
	assert_int_equal(signet_client_pending(f->c), 0);
	assert_int_equal(signet_client_recv(f->c, 100, &rep), SG_ERR_NOT_FOUND);
	srv_join(&f->srv);
}

/* An error reply: the exact code and the server's message reach the caller. */
static void
test_server_error(void **state)
{
	struct fx *f = *state;
	struct sg_req tmp, req;
	struct sg_sign_req sreq;
	struct sg_sign_rep srep;
	struct sg_rep rep;
	const char *msg = "client ci-7 may not use key release with sha512";

	f->srv.err_code = SG_ERR_DENIED;
	snprintf(f->srv.err_msg, sizeof(f->srv.err_msg), "%s", msg);
	srv_start(&f->srv, MODE_ERROR);
	client(f, 2000, 3, 0);
	sign_req(&tmp, 1);
	sreq = tmp.u.sign;
	assert_int_equal(signet_sign_digest(f->c, &sreq, &srep), SG_ERR_DENIED);
	assert_string_equal(signet_client_errmsg(f->c), msg);
	/* The same through the asynchronous API. */
	sign_req(&req, 2);
	assert_int_equal(signet_client_send(f->c, &req, NULL), 0);
	assert_int_equal(signet_client_recv(f->c, 3000, &rep), 0);
	assert_false(rep.ok);
	assert_int_equal(rep.err, SG_ERR_DENIED);
	assert_string_equal(rep.err_name, "denied");
	assert_string_equal(rep.err_msg, msg);
	sg_rep_clear(&rep);
	srv_join(&f->srv);
	/* An error answer is final: no resend despite retries = 3. */
	assert_int_equal(f->srv.n_req, 2);
}

/*
 * The server drops the first request and restarts (socket closed and bound
 * again): the client resends with the same idempotency key and succeeds.
 */
static void
test_restart_same_idem(void **state)
{
	struct fx *f = *state;
	struct sg_req tmp;
	struct sg_sign_req sreq;
	struct sg_sign_rep srep;

	srv_start(&f->srv, MODE_RESTART);
	client(f, 8000, 3, 0);
	sign_req(&tmp, 9);
	sreq = tmp.u.sign;
	assert_int_equal(signet_sign_digest(f->c, &sreq, &srep), 0);
	assert_true(sig_matches(srep.sig, srep.sig_len, sreq.digest, 32));
	assert_true(srep.replayed);
	srv_join(&f->srv);
	assert_true(f->srv.restarted);
	assert_int_equal(f->srv.n_idem, 2);
	assert_int_equal(f->srv.idem_len[0], SIGNET_IDEM_LEN);
	assert_int_equal(f->srv.idem_len[1], SIGNET_IDEM_LEN);
	assert_memory_equal(f->srv.idem[0], f->srv.idem[1], SIGNET_IDEM_LEN);
	assert_memory_equal(f->srv.idem[0], sreq.idem, SIGNET_IDEM_LEN);
}

/* An idempotency key given by the caller is the one sent, on every attempt. */
static void
test_busy_then_ok(void **state)
{
	struct fx *f = *state;
	struct sg_req tmp;
	struct sg_sign_req sreq;
	struct sg_sign_rep srep;

	srv_start(&f->srv, MODE_BUSY);
	client(f, 2000, 2, 0);
	sign_req(&tmp, 4);
	sreq = tmp.u.sign;
	memset(sreq.idem, 0x5a, 24);
	sreq.idem_len = 24;
	assert_int_equal(signet_sign_digest(f->c, &sreq, &srep), 0);
	assert_true(sig_matches(srep.sig, srep.sig_len, sreq.digest, 32));
	srv_join(&f->srv);
	assert_int_equal(f->srv.n_req, 2);
	assert_int_equal(f->srv.idem_len[0], 24);
	assert_int_equal(f->srv.idem_len[1], 24);
	assert_memory_equal(f->srv.idem[0], f->srv.idem[1], 24);
	assert_int_equal(f->srv.idem[0][23], 0x5a);
}

/* "busy" until the retries run out: the busy error reaches the caller. */
static void
test_busy_exhausted(void **state)
{
	struct fx *f = *state;
	struct sg_req tmp;
	struct sg_sign_req sreq;
	struct sg_sign_rep srep;

	f->srv.err_code = SG_ERR_BUSY;
	snprintf(f->srv.err_msg, sizeof(f->srv.err_msg), "256 requests in flight");
	srv_start(&f->srv, MODE_ERROR);
	client(f, 2000, 2, 0);
	sign_req(&tmp, 5);
	sreq = tmp.u.sign;
	assert_int_equal(signet_sign_digest(f->c, &sreq, &srep), SG_ERR_BUSY);
	assert_string_equal(signet_client_errmsg(f->c), "256 requests in flight");
	srv_join(&f->srv);
	assert_int_equal(f->srv.n_req, 3);
}

/* A reply over max_msg never reaches the decoder; the client stays usable. */
static void
test_oversize_reply(void **state)
{
	struct fx *f = *state;
	struct sg_key_info *keys = NULL;
	size_t n = 0;

	srv_start(&f->srv, MODE_OVERSIZE);
	client(f, 2000, 1, 4096);
	assert_int_equal(signet_keys_list(f->c, &keys, &n), SG_ERR_TIMEOUT);
	assert_null(keys);
	assert_int_equal(n, 0);
	assert_non_null(strstr(signet_client_errmsg(f->c), "connection was lost"));
	/* Small replies still come through on the next connection. */
	assert_int_equal(signet_ping(f->c, NULL), 0);
	srv_join(&f->srv);
	/* Two attempts of keys.list (retries = 1), then the ping. */
	assert_int_equal(f->srv.n_req, 3);
}

/* With a wrong server public key the handshake fails: a timeout, not a crash. */
static void
test_wrong_server_key(void **state)
{
	struct fx *f = *state;
	char pub[41], sec[41];

	srv_start(&f->srv, MODE_ECHO);
	assert_int_equal(zmq_curve_keypair(pub, sec), 0);
	zmq_z85_decode(f->cfg.server_pub, pub);
	client(f, 1000, 1, 0);
	assert_int_equal(signet_ping(f->c, NULL), SG_ERR_TIMEOUT);
	assert_non_null(strstr(signet_client_errmsg(f->c), "handshake"));
	srv_join(&f->srv);
	assert_int_equal(f->srv.n_req, 0);
}

/* Nobody listening: SG_ERR_UNAVAILABLE after the attempts. */
static void
test_unavailable(void **state)
{
	struct fx *f = *state;

	/* Close the server's socket: nothing listens on the endpoint any more. */
	zmq_close(f->srv.sock);
	f->srv.sock = NULL;
	usleep(100000);
	client(f, 600, 1, 0);
	assert_int_equal(signet_ping(f->c, NULL), SG_ERR_UNAVAILABLE);
	assert_non_null(strstr(signet_client_errmsg(f->c), "no connection"));
}

struct pipe_ctx {
	struct sg_req reqs[20];
	int done[20];
	int failed;
};

static int
pipe_fill(void *arg, size_t i, struct sg_req *req)
{
	struct pipe_ctx *p = arg;

	if (i == 7)
		return 1; /* skipped: never sent, never reported */
	sign_req(req, (unsigned char)(100 + i));
	p->reqs[i] = *req;
	return 0;
}

static int
pipe_done(void *arg, size_t i, const struct sg_rep *rep)
{
	struct pipe_ctx *p = arg;

	/* The reply must be the one to item i: its "signature" is item i's digest reversed. */
	if (i >= 20 || p->done[i] || !rep->ok || rep->op != SG_OP_SIGN_DIGEST ||
	    !sig_matches(rep->u.sign.sig, rep->u.sign.sig_len, p->reqs[i].u.sign.digest, 32))
		p->failed = 1;
	p->done[i]++;
	return 0;
}

/* The pipeline keeps exactly `depth` requests in flight and completes them all. */
static void
test_pipeline(void **state)
{
	struct fx *f = *state;
	struct pipe_ctx *p = calloc(1, sizeof(*p));
	size_t i;

	assert_non_null(p);
	srv_start(&f->srv, MODE_BATCH);
	client(f, 3000, 0, 0);
	assert_int_equal(signet_client_pipeline(f->c, 20, 4, pipe_fill, pipe_done, p), 0);
	assert_false(p->failed);
	for (i = 0; i < 20; i++)
		assert_int_equal(p->done[i], i == 7 ? 0 : 1);
	assert_int_equal(signet_client_pending(f->c), 0);
	srv_join(&f->srv);
	assert_int_equal(f->srv.n_req, 19);
	assert_int_equal(f->srv.max_held, 4);
	free(p);
}

static int
pipe_fill_abort(void *arg, size_t i, struct sg_req *req)
{
	if (i == 3)
		return SG_ERR_IO;
	return pipe_fill(arg, i, req);
}

/* A fill that fails stops the pipeline with its error and cancels what is pending. */
static void
test_pipeline_abort(void **state)
{
	struct fx *f = *state;
	struct pipe_ctx *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	srv_start(&f->srv, MODE_SILENT);
	client(f, 3000, 0, 0);
	assert_int_equal(signet_client_pipeline(f->c, 10, 8, pipe_fill_abort, pipe_done, p),
	                 SG_ERR_IO);
	assert_int_equal(signet_client_pending(f->c), 0);
	srv_join(&f->srv);
	free(p);
}

/* More than max_inflight requests at once: SG_ERR_LIMIT, nothing lost. */
static void
test_inflight_limit(void **state)
{
	struct fx *f = *state;
	struct signet_opts o;
	struct sg_req req;
	char why[256];
	unsigned i;

	signet_opts_default(&o);
	o.max_inflight = 3;
	f->c = signet_client_new(&f->cfg, &o, why, sizeof(why));
	assert_non_null(f->c);
	for (i = 0; i < 3; i++) {
		memset(&req, 0, sizeof(req));
		req.op = SG_OP_PING;
		assert_int_equal(signet_client_send(f->c, &req, NULL), 0);
	}
	assert_int_equal(signet_client_send(f->c, &req, NULL), SG_ERR_LIMIT);
	assert_int_equal(signet_client_pending(f->c), 3);
	/* A request that cannot be encoded is refused at once. */
	signet_client_free(f->c);
	f->c = signet_client_new(&f->cfg, &o, why, sizeof(why));
	sign_req(&req, 1);
	req.u.sign.hash = SG_HASH_NONE;
	assert_int_equal(signet_client_send(f->c, &req, NULL), SG_ERR_INVALID_ARG);
	assert_int_equal(signet_client_pending(f->c), 0);
}

/* Constructor failures: a readable-by-others key file, a bad key, a bad endpoint. */
static void
test_new_failures(void **state)
{
	struct fx *f = *state;
	char why[256];

	chmod(f->sk_path, 0644);
	assert_null(signet_client_new(&f->cfg, NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "secret_key_file"));
	chmod(f->sk_path, 0600);

	write_file(f->sk_path, "this is not a Z85 key at all, 40 chars!!", 0600);
	assert_null(signet_client_new(&f->cfg, NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "Z85"));
	/* The message names the file, never its contents. */
	assert_null(strstr(why, "not a Z85 key at all"));

	write_file(f->sk_path, "short", 0600);
	assert_null(signet_client_new(&f->cfg, NULL, why, sizeof(why)));

	assert_int_equal(zmq_curve_keypair(why, why + 64), 0);
	write_file(f->sk_path, why + 64, 0600);
	f->cfg.endpoint = "bogus://nowhere";
	assert_null(signet_client_new(&f->cfg, NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "endpoint"));
	f->cfg.endpoint = f->srv.endpoint;

	f->cfg.secret_key_file = "/nonexistent/client.key";
	assert_null(signet_client_new(&f->cfg, NULL, why, sizeof(why)));
	f->cfg.secret_key_file = f->sk_path;
	f->c = signet_client_new(&f->cfg, NULL, why, sizeof(why));
	assert_non_null(f->c);
	assert_string_equal(signet_client_endpoint(f->c), f->srv.endpoint);
}

/* Streaming file hashes against OpenSSL's one-shot digest; missing and odd files. */
static void
test_hash_file(void **state)
{
	struct fx *f = *state;
	unsigned char *data, want[64], got[64];
	size_t len = 3 * 65536 + 123, dlen = 0;
	unsigned wlen = 0;
	uint64_t size = 0;
	char path[160];
	int fd;

	data = malloc(len);
	assert_non_null(data);
	assert_int_equal(RAND_bytes(data, (int)len), 1);
	snprintf(path, sizeof(path), "%s/artifact.bin", f->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	assert_int_equal(EVP_Digest(data, len, want, &wlen, EVP_sha384(), NULL), 1);
	assert_int_equal(signet_hash_file(path, SG_HASH_SHA384, got, &dlen, &size), 0);
	assert_int_equal(dlen, 48);
	assert_int_equal(size, len);
	assert_memory_equal(got, want, 48);
	assert_int_equal(signet_hash_file(path, SG_HASH_NONE, got, &dlen, NULL),
	                 SG_ERR_UNKNOWN_HASH);
	snprintf(path, sizeof(path), "%s/missing", f->dir);
	assert_int_equal(signet_hash_file(path, SG_HASH_SHA256, got, &dlen, NULL),
	                 SG_ERR_NOT_FOUND);
	assert_int_equal(signet_hash_file(f->dir, SG_HASH_SHA256, got, &dlen, NULL), SG_ERR_IO);
	free(data);
}

/* RSA PKCS#1 v1.5 and PSS (salt = hash length) with the appliance's conventions. */
static void
test_verify_rsa(void **state)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	EVP_PKEY_CTX *pc;
	unsigned char digest[48], sig[256];
	size_t sig_len = sizeof(sig);

	assert_non_null(key);
	assert_int_equal(RAND_bytes(digest, sizeof(digest)), 1);
	pc = EVP_PKEY_CTX_new(key, NULL);
	assert_int_equal(EVP_PKEY_sign_init(pc), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(pc, EVP_sha384()), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 48), 1);
	assert_int_equal(EVP_PKEY_sign(pc, sig, &sig_len, digest, sizeof(digest)), 1);
	EVP_PKEY_CTX_free(pc);
	assert_int_equal(
	    signet_verify_digest(key, SG_HASH_SHA384, SG_PAD_PSS, digest, 48, sig, sig_len), 0);
	assert_int_equal(
	    signet_verify_digest(key, SG_HASH_SHA384, SG_PAD_PKCS1, digest, 48, sig, sig_len),
	    SG_ERR_BAD_SIGNATURE);
	assert_int_equal(
	    signet_verify_digest(key, SG_HASH_SHA256, SG_PAD_PSS, digest, 48, sig, sig_len),
	    SG_ERR_DIGEST_LENGTH);

	sig_len = sizeof(sig);
	pc = EVP_PKEY_CTX_new(key, NULL);
	assert_int_equal(EVP_PKEY_sign_init(pc), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(pc, EVP_sha384()), 1);
	assert_int_equal(EVP_PKEY_sign(pc, sig, &sig_len, digest, sizeof(digest)), 1);
	EVP_PKEY_CTX_free(pc);
	assert_int_equal(
	    signet_verify_digest(key, SG_HASH_SHA384, SG_PAD_NONE, digest, 48, sig, sig_len), 0);
	sig[10] ^= 0x01;
	assert_int_equal(
	    signet_verify_digest(key, SG_HASH_SHA384, SG_PAD_PKCS1, digest, 48, sig, sig_len),
	    SG_ERR_BAD_SIGNATURE);
	EVP_PKEY_free(key);
}

/* ---- CA delegation ---- */

/* A CSR for key (CN=svc), DER or PEM, into out (size *len in, length out). */
static void
mk_csr(EVP_PKEY *key, int pem, unsigned char *out, size_t *len)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	unsigned char *der = NULL;
	BIO *bio;
	BUF_MEM *bm;
	int dlen;

	assert_non_null(req);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	                                            (const unsigned char *)"svc", -1, -1, 0),
	                 1);
	assert_int_equal(X509_REQ_set_subject_name(req, n), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	if (pem) {
		bio = BIO_new(BIO_s_mem());
		assert_int_equal(PEM_write_bio_X509_REQ(bio, req), 1);
		BIO_get_mem_ptr(bio, &bm);
		assert_true(bm->length <= *len);
		memcpy(out, bm->data, bm->length);
		*len = bm->length;
		BIO_free(bio);
	} else {
		dlen = i2d_X509_REQ(req, &der);
		assert_true(dlen > 0 && (size_t)dlen <= *len);
		memcpy(out, der, (size_t)dlen);
		*len = (size_t)dlen;
		OPENSSL_free(der);
	}
	X509_NAME_free(n);
	X509_REQ_free(req);
}

static void
issue_req(struct sg_issue_req *q, EVP_PKEY *key, int pem)
{
	memset(q, 0, sizeof(*q));
	snprintf(q->profile, sizeof(q->profile), "leaf-tls");
	q->csr_len = sizeof(q->csr);
	mk_csr(key, pem, q->csr, &q->csr_len);
	q->ttl = 3600;
	snprintf(q->sans[0], sizeof(q->sans[0]), "DNS:svc.dev.example");
	q->n_sans = 1;
}

/* Every CA op against an honest server: the replies and what the server saw. */
static void
test_ca_ops(void **state)
{
	struct fx *f = *state;
	static struct sg_issue_req ireq;
	struct sg_issue_rep irep;
	struct sg_serial_req sreq;
	struct sg_status_rep st;
	struct sg_crl_rep crl;
	struct sg_ca_info *cas = NULL;
	unsigned char serial[SG_SERIAL_MAX + 1];
	const unsigned char *p;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x;
	X509_CRL *xc;
	size_t n = 0;

	assert_non_null(key);
	srv_start(&f->srv, MODE_ECHO);
	client(f, 3000, 0, 0);

	/* cert.issue with a DER CSR: the library draws the idempotency key */
	issue_req(&ireq, key, 0);
	assert_int_equal(signet_cert_issue(f->c, &ireq, &irep), 0);
	assert_int_equal(ireq.idem_len, SIGNET_IDEM_LEN);
	assert_string_equal(irep.profile, "leaf-tls");
	assert_string_equal(irep.ca, "int-a");
	assert_int_equal(irep.serial_len, 8);
	assert_int_equal(irep.serial[0], 0x11);
	assert_true(irep.not_after - irep.not_before == 3600);
	assert_int_equal(irep.n_chain, 1);
	assert_false(irep.replayed);
	p = irep.cert;
	x = d2i_X509(NULL, &p, (long)irep.cert_len);
	assert_non_null(x);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), key), 1);
	X509_free(x);
	p = irep.chain[0];
	x = d2i_X509(NULL, &p, (long)irep.chain_len[0]);
	assert_non_null(x);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), f->srv.key), 1);
	X509_free(x);
	signet_issue_rep_free(&irep);
	assert_null(irep.buf);
	signet_issue_rep_free(NULL);

	/* ... and with a PEM CSR and the profile's default lifetime */
	issue_req(&ireq, key, 1);
	ireq.ttl = 0;
	ireq.n_sans = 0;
	assert_int_equal(memcmp(ireq.csr, "-----BEGIN CERTIFICATE REQUEST-----", 35), 0);
	ERR_clear_error();
	assert_int_equal(signet_cert_issue(f->c, &ireq, &irep), 0);
	/* The tentative DER parse of the PEM CSR left nothing in OpenSSL's error queue. */
	assert_int_equal(ERR_peek_error(), 0);
	assert_true(irep.not_after - irep.not_before == 86400);
	assert_int_equal(irep.serial[7], 0x89); /* the server's next serial */
	signet_issue_rep_free(&irep);

	/* cert.revoke: an idempotency key is drawn; the reply says revoked, with the reason */
	memset(&sreq, 0, sizeof(sreq));
	be64(0x1122334455667788ULL, sreq.serial);
	sreq.serial_len = 8;
	sreq.reason = SG_REASON_KEY_COMPROMISE;
	assert_int_equal(signet_cert_revoke(f->c, &sreq, &st), 0);
	assert_int_equal(sreq.idem_len, SIGNET_IDEM_LEN);
	assert_int_equal(st.status, SG_CERT_REVOKED);
	assert_int_equal(st.reason, SG_REASON_KEY_COMPROMISE);
	assert_string_equal(st.ca, "int-a");
	assert_true(st.revoked_at != 0);

	/* cert.status: good, and unknown (not an error) */
	assert_int_equal(signet_cert_status(f->c, sreq.serial, 8, &st), 0);
	assert_int_equal(st.status, SG_CERT_GOOD);
	assert_string_equal(st.profile, "leaf-tls");
	memset(serial, 0x7f, sizeof(serial));
	assert_int_equal(signet_cert_status(f->c, serial, SG_SERIAL_MAX, &st), 0);
	assert_int_equal(st.status, SG_CERT_UNKNOWN);
	assert_string_equal(st.ca, "");
	assert_int_equal(signet_cert_status(f->c, serial, 0, &st), SG_ERR_INVALID_ARG);
	assert_int_equal(signet_cert_status(f->c, serial, SG_SERIAL_MAX + 1, &st),
	                 SG_ERR_INVALID_ARG);

	/* crl.get */
	assert_int_equal(signet_crl_get(f->c, "int-a", &crl), 0);
	assert_string_equal(crl.ca, "int-a");
	assert_true(crl.number == SRV_CRL_NUMBER);
	assert_true(crl.next_update - crl.this_update == 3600);
	p = crl.data;
	xc = d2i_X509_CRL(NULL, &p, (long)crl.len);
	assert_non_null(xc);
	assert_int_equal(X509_CRL_verify(xc, f->srv.key), 1);
	X509_CRL_free(xc);
	free(crl.data);
	assert_int_equal(signet_crl_get(f->c, "int/a", &crl), SG_ERR_INVALID_ARG);
	assert_null(crl.data);

	/* ca.list */
	assert_int_equal(signet_ca_list(f->c, &cas, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(cas[0].name, "int-a");
	assert_int_equal(cas[0].n_profiles, 2);
	assert_string_equal(cas[0].profiles[1], "intermediate-ca");
	assert_string_equal(cas[1].name, "int-b");
	assert_int_equal(cas[1].n_profiles, 0);
	assert_int_equal(cas[1].n_certs, 1);
	assert_true(cas[1].not_after == SRV_CA_NOT_AFTER);
	signet_cas_free(cas, n);
	signet_cas_free(NULL, 0);

	srv_join(&f->srv);
	/* Keys went with the two issuances and the revocation, and only with them. */
	assert_int_equal(f->srv.n_idem, 3);
	assert_int_equal(f->srv.idem_len[2], SIGNET_IDEM_LEN);
	assert_memory_equal(f->srv.idem[2], sreq.idem, SIGNET_IDEM_LEN);
	assert_memory_equal(f->srv.idem[1], ireq.idem, SIGNET_IDEM_LEN);
	assert_memory_not_equal(f->srv.idem[0], f->srv.idem[1], SIGNET_IDEM_LEN);
	EVP_PKEY_free(key);
}

/* A server whose answers do not answer the request: SG_ERR_MALFORMED, nothing handed out. */
static void
test_ca_ops_mismatch(void **state)
{
	struct fx *f = *state;
	static struct sg_issue_req ireq;
	struct sg_issue_rep irep;
	struct sg_serial_req sreq;
	struct sg_status_rep st;
	struct sg_crl_rep crl;
	struct sg_ca_info *cas = NULL;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	size_t n = 0;
	static const struct {
		int lie;
		const char *msg;
	} issue_lies[] = {
	    {LIE_NAME, "profile other"},
	    {LIE_DER, "public key"},
	    {LIE_SERIAL, "serial number"},
	    {LIE_VALIDITY, "validity"},
	};

	assert_non_null(key);
	srv_start(&f->srv, MODE_ECHO);
	client(f, 3000, 0, 0);
	issue_req(&ireq, key, 0);
	for (size_t i = 0; i < sizeof(issue_lies) / sizeof(issue_lies[0]); i++) {
		atomic_store(&f->srv.lie, issue_lies[i].lie);
		ireq.idem_len = 0;
		assert_int_equal(signet_cert_issue(f->c, &ireq, &irep), SG_ERR_MALFORMED);
		if (strstr(signet_client_errmsg(f->c), issue_lies[i].msg) == NULL)
			fail_msg("lie %d: '%s'", issue_lies[i].lie, signet_client_errmsg(f->c));
		assert_null(irep.buf);
		assert_null(irep.cert);
	}

	memset(&sreq, 0, sizeof(sreq));
	sreq.serial[0] = 0x42;
	sreq.serial_len = 3;
	sreq.reason = SG_REASON_SUPERSEDED;
	atomic_store(&f->srv.lie, LIE_NAME);
	assert_int_equal(signet_cert_revoke(f->c, &sreq, &st), SG_ERR_MALFORMED);
	assert_non_null(strstr(signet_client_errmsg(f->c), "another serial"));
	assert_int_equal(signet_cert_status(f->c, sreq.serial, 3, &st), SG_ERR_MALFORMED);
	assert_int_equal(st.serial_len, 0);
	atomic_store(&f->srv.lie, LIE_DER);
	assert_int_equal(signet_cert_revoke(f->c, &sreq, &st), SG_ERR_MALFORMED);
	assert_non_null(strstr(signet_client_errmsg(f->c), "another reason"));
	atomic_store(&f->srv.lie, LIE_SERIAL);
	assert_int_equal(signet_cert_revoke(f->c, &sreq, &st), SG_ERR_MALFORMED);
	assert_non_null(strstr(signet_client_errmsg(f->c), "revoked"));

	atomic_store(&f->srv.lie, LIE_NAME);
	assert_int_equal(signet_crl_get(f->c, "int-a", &crl), SG_ERR_MALFORMED);
	assert_non_null(strstr(signet_client_errmsg(f->c), "other-ca"));
	assert_null(crl.data);
	atomic_store(&f->srv.lie, LIE_DER);
	assert_int_equal(signet_crl_get(f->c, "int-a", &crl), SG_ERR_MALFORMED);
	assert_non_null(strstr(signet_client_errmsg(f->c), "CRL number"));
	atomic_store(&f->srv.lie, LIE_VALIDITY);
	assert_int_equal(signet_crl_get(f->c, "int-a", &crl), SG_ERR_MALFORMED);
	assert_non_null(strstr(signet_client_errmsg(f->c), "update times"));

	atomic_store(&f->srv.lie, LIE_NAME);
	assert_int_equal(signet_ca_list(f->c, &cas, &n), SG_ERR_MALFORMED);
	assert_non_null(strstr(signet_client_errmsg(f->c), "twice"));
	assert_null(cas);
	assert_int_equal(n, 0);
	atomic_store(&f->srv.lie, LIE_VALIDITY);
	assert_int_equal(signet_ca_list(f->c, &cas, &n), SG_ERR_MALFORMED);
	assert_non_null(strstr(signet_client_errmsg(f->c), "expire"));
	assert_null(cas);

	/* An honest answer again goes through. */
	atomic_store(&f->srv.lie, LIE_NONE);
	assert_int_equal(signet_ca_list(f->c, &cas, &n), 0);
	signet_cas_free(cas, n);
	srv_join(&f->srv);
	EVP_PKEY_free(key);
}

/*
 * The server drops the first cert.issue and restarts: the resend carries the
 * same idempotency key and gets the stored certificate.
 */
static void
test_issue_restart_same_idem(void **state)
{
	struct fx *f = *state;
	static struct sg_issue_req ireq;
	struct sg_issue_rep irep;
	EVP_PKEY *key = EVP_EC_gen("P-256");

	assert_non_null(key);
	srv_start(&f->srv, MODE_RESTART);
	client(f, 8000, 3, 0);
	issue_req(&ireq, key, 1);
	assert_int_equal(signet_cert_issue(f->c, &ireq, &irep), 0);
	assert_true(irep.replayed);
	signet_issue_rep_free(&irep);
	srv_join(&f->srv);
	assert_true(f->srv.restarted);
	assert_int_equal(f->srv.n_idem, 2);
	assert_int_equal(f->srv.idem_len[0], SIGNET_IDEM_LEN);
	assert_int_equal(f->srv.idem_len[1], SIGNET_IDEM_LEN);
	assert_memory_equal(f->srv.idem[0], f->srv.idem[1], SIGNET_IDEM_LEN);
	assert_memory_equal(f->srv.idem[0], ireq.idem, SIGNET_IDEM_LEN);
	EVP_PKEY_free(key);
}

/* A "busy" revocation is resent with the caller's own idempotency key. */
static void
test_revoke_busy_same_idem(void **state)
{
	struct fx *f = *state;
	struct sg_serial_req sreq;
	struct sg_status_rep st;

	srv_start(&f->srv, MODE_BUSY);
	client(f, 2000, 2, 0);
	memset(&sreq, 0, sizeof(sreq));
	memset(sreq.serial, 0x31, 16);
	sreq.serial_len = 16;
	sreq.reason = SG_REASON_CESSATION_OF_OPERATION;
	memset(sreq.idem, 0xa5, 20);
	sreq.idem_len = 20;
	assert_int_equal(signet_cert_revoke(f->c, &sreq, &st), 0);
	assert_int_equal(st.reason, SG_REASON_CESSATION_OF_OPERATION);
	assert_true(st.replayed);
	srv_join(&f->srv);
	assert_int_equal(f->srv.n_req, 2);
	assert_int_equal(f->srv.n_idem, 2);
	assert_int_equal(f->srv.idem_len[0], 20);
	assert_int_equal(f->srv.idem_len[1], 20);
	assert_memory_equal(f->srv.idem[0], sreq.idem, 20);
	assert_memory_equal(f->srv.idem[1], sreq.idem, 20);
}

/* A profile refusal reaches the caller with its code and message; nothing is handed out. */
static void
test_issue_refused(void **state)
{
	struct fx *f = *state;
	static struct sg_issue_req ireq;
	struct sg_issue_rep irep;
	struct sg_serial_req sreq;
	struct sg_status_rep st;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	const char *msg = "SAN DNS:evil.example is outside the profile's DNS suffixes";

	assert_non_null(key);
	f->srv.err_code = SG_ERR_SAN_NOT_ALLOWED;
	snprintf(f->srv.err_msg, sizeof(f->srv.err_msg), "%s", msg);
	srv_start(&f->srv, MODE_ERROR);
	client(f, 2000, 2, 0);
	issue_req(&ireq, key, 0);
	assert_int_equal(signet_cert_issue(f->c, &ireq, &irep), SG_ERR_SAN_NOT_ALLOWED);
	assert_string_equal(signet_client_errmsg(f->c), msg);
	assert_null(irep.buf);
	memset(&sreq, 0, sizeof(sreq));
	sreq.serial[0] = 9;
	sreq.serial_len = 1;
	/* A reason the wire cannot name is refused before anything is sent. */
	sreq.reason = (enum sg_reason)8;
	assert_int_equal(signet_cert_revoke(f->c, &sreq, &st), SG_ERR_INVALID_ARG);
	srv_join(&f->srv);
	/* An error answer is final: no resend. */
	assert_int_equal(f->srv.n_req, 1);
	EVP_PKEY_free(key);
}

#define T_TCP(fn) cmocka_unit_test_setup_teardown(fn, setup_tcp, teardown)
#define T_IPC(fn) cmocka_unit_test_setup_teardown(fn, setup_ipc, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T_TCP(test_out_of_order),
	    T_IPC(test_out_of_order),
	    T_TCP(test_wait_keeps_others),
	    T_TCP(test_sync_helpers),
	    T_IPC(test_sync_helpers),
	    T_TCP(test_timeout_silent),
	    T_TCP(test_recv_wait_timeout),
	    T_TCP(test_server_error),
	    T_TCP(test_restart_same_idem),
	    T_IPC(test_restart_same_idem),
	    T_TCP(test_busy_then_ok),
	    T_TCP(test_busy_exhausted),
	    T_TCP(test_oversize_reply),
	    T_IPC(test_oversize_reply),
	    T_TCP(test_wrong_server_key),
	    T_IPC(test_wrong_server_key),
	    T_TCP(test_unavailable),
	    T_IPC(test_unavailable),
	    T_TCP(test_pipeline),
	    T_TCP(test_pipeline_abort),
	    T_TCP(test_inflight_limit),
	    T_TCP(test_new_failures),
	    T_TCP(test_hash_file),
	    T_TCP(test_verify_rsa),
	    T_TCP(test_ca_ops),
	    T_IPC(test_ca_ops),
	    T_TCP(test_ca_ops_mismatch),
	    T_TCP(test_issue_restart_same_idem),
	    T_TCP(test_revoke_busy_same_idem),
	    T_TCP(test_issue_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
