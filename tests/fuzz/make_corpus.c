/*
 * make_corpus: writes the msgpack seed inputs of the fuzz targets
 * (corpus/wire_req, wire_rep, wire_preflight, hsm_proto) with the project's
 * own encoders, plus hand-made malformed frames.  Run by make_corpus.sh,
 * which also writes the text seeds (URIs, YAML files).
 *
 * The DER inside timestamp requests and replies is made by OpenSSL (a
 * TimeStampReq, a rejected TimeStampResp); the CMS and the granted token are
 * opaque bytes, since the wire codec never looks inside them.
 *
 * Usage: fuzz_make_corpus CORPUS_DIR   (the subdirectories must exist)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <openssl/asn1.h>
#include <openssl/ts.h>

#include "sg_err.h"
#include "sg_hsm_proto.h"
#include "sg_wire.h"

static const char *sg_dir;

static void
sg_put(const char *sub, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", sg_dir, sub, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "make_corpus: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* Writes sb to sub/name and also to wire_preflight/ (every frame is a preflight seed). */
static void
sg_put_sb(const char *sub, const char *name, const msgpack_sbuffer *sb)
{
	char pre[256];

	sg_put(sub, name, sb->data, sb->size);
	snprintf(pre, sizeof(pre), "%s-%s", sub, name);
	sg_put("wire_preflight", pre, sb->data, sb->size);
}

static void
sg_check(int r, const char *what)
{
	if (r != 0) {
		fprintf(stderr, "make_corpus: encoding %s failed: %d\n", what, r);
		exit(1);
	}
}

static void
sg_fill(unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 37);
}

static void
sg_pack_s(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* The DER of a TimeStampReq for a SHA-256 imprint, as `openssl ts -query -cert` makes. */
static size_t
sg_make_tsq(unsigned char *out, size_t max)
{
	TS_REQ *req = NULL;
	TS_MSG_IMPRINT *mi = NULL;
	X509_ALGOR *alg = NULL;
	ASN1_INTEGER *nonce = NULL;
	unsigned char digest[32], *p = NULL;
	int n = -1;

	sg_fill(digest, sizeof(digest), 41);
	if ((req = TS_REQ_new()) == NULL || (mi = TS_MSG_IMPRINT_new()) == NULL ||
	    (alg = X509_ALGOR_new()) == NULL || (nonce = ASN1_INTEGER_new()) == NULL ||
	    !TS_REQ_set_version(req, 1) ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) ||
	    !TS_MSG_IMPRINT_set_algo(mi, alg) ||
	    !TS_MSG_IMPRINT_set_msg(mi, digest, (int)sizeof(digest)) ||
	    !TS_REQ_set_msg_imprint(req, mi) || !ASN1_INTEGER_set_int64(nonce, 0x5167e7) ||
	    !TS_REQ_set_nonce(req, nonce) || !TS_REQ_set_cert_req(req, 1) ||
	    (n = i2d_TS_REQ(req, &p)) <= 0 || (size_t)n > max) {
		fprintf(stderr, "make_corpus: TimeStampReq: OpenSSL failed\n");
		exit(1);
	}
	memcpy(out, p, (size_t)n);
	OPENSSL_free(p);
	ASN1_INTEGER_free(nonce);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(req);
	return (size_t)n;
}

/* The DER of a TimeStampResp with status rejection (2) and no token. */
static size_t
sg_make_tsr_rejected(unsigned char *out, size_t max)
{
	TS_RESP *resp = NULL;
	TS_STATUS_INFO *si = NULL;
	unsigned char *p = NULL;
	int n = -1;

	if ((resp = TS_RESP_new()) == NULL || (si = TS_STATUS_INFO_new()) == NULL ||
	    !TS_STATUS_INFO_set_status(si, TS_STATUS_REJECTION) ||
	    !TS_RESP_set_status_info(resp, si) || (n = i2d_TS_RESP(resp, &p)) <= 0 ||
	    (size_t)n > max) {
		fprintf(stderr, "make_corpus: TimeStampResp: OpenSSL failed\n");
		exit(1);
	}
	memcpy(out, p, (size_t)n);
	OPENSSL_free(p);
	TS_STATUS_INFO_free(si);
	TS_RESP_free(resp);
	return (size_t)n;
}

/* Starts a request map of n fields: v, id, op and n - 3 more. */
static void
sg_pack_req_head(msgpack_packer *pk, size_t n, uint64_t id, const char *op)
{
	msgpack_pack_map(pk, n);
	sg_pack_s(pk, "v");
	msgpack_pack_uint8(pk, 1);
	sg_pack_s(pk, "id");
	msgpack_pack_uint64(pk, id);
	sg_pack_s(pk, "op");
	sg_pack_s(pk, op);
}

static void
sg_pack_b(msgpack_packer *pk, const char *key, const unsigned char *p, size_t n)
{
	sg_pack_s(pk, key);
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, p, n);
}

/* sign.cms and timestamp requests, valid and not. */
static void
sg_wire_reqs_formats(msgpack_sbuffer *sb)
{
	static struct sg_req q;
	static unsigned char big[SG_TSQ_MAX + 1];
	unsigned char d[64];
	msgpack_packer pk;

	memset(&q, 0, sizeof(q));
	q.id = 11;
	q.op = SG_OP_SIGN_CMS;
	strcpy(q.u.sign.key, "release-signing");
	q.u.sign.hash = SG_HASH_SHA256;
	q.u.sign.digest_len = 32;
	sg_fill(q.u.sign.digest, 32, 3);
	sg_check(sg_wire_encode_req(sb, &q), "sign.cms");
	sg_put_sb("wire_req", "cms-sha256", sb);
	q.u.sign.hash = SG_HASH_SHA512;
	q.u.sign.digest_len = 64;
	sg_fill(q.u.sign.digest, 64, 5);
	q.u.sign.idem_len = SG_IDEM_MAX;
	sg_fill(q.u.sign.idem, SG_IDEM_MAX, 7);
	strcpy(q.u.sign.meta.artifact, "dist/signet_0.2.0_amd64.deb");
	q.u.sign.meta.has_size = 1;
	q.u.sign.meta.size = 0;
	strcpy(q.u.sign.meta.job, "release/0.2.0");
	sg_check(sg_wire_encode_req(sb, &q), "sign.cms");
	sg_put_sb("wire_req", "cms-sha512-idem-meta", sb);

	memset(&q, 0, sizeof(q));
	q.id = 12;
	q.op = SG_OP_TIMESTAMP;
	q.u.ts.tsq_len = sg_make_tsq(q.u.ts.tsq, sizeof(q.u.ts.tsq));
	sg_check(sg_wire_encode_req(sb, &q), "timestamp tsq");
	sg_put_sb("wire_req", "ts-tsq", sb);
	q.u.ts.idem_len = 16;
	sg_fill(q.u.ts.idem, 16, 9);
	strcpy(q.u.ts.meta.artifact, "dist/signet-0.2.0.tar.gz");
	q.u.ts.meta.has_size = 1;
	q.u.ts.meta.size = UINT64_MAX;
	strcpy(q.u.ts.meta.job, "ci/nightly \xe2\x9c\x93");
	sg_check(sg_wire_encode_req(sb, &q), "timestamp tsq");
	sg_put_sb("wire_req", "ts-tsq-idem-meta", sb);
	/* The largest tsq the protocol allows (the codec does not parse it). */
	memset(&q.u.ts, 0, sizeof(q.u.ts));
	q.u.ts.tsq_len = SG_TSQ_MAX;
	sg_fill(q.u.ts.tsq, SG_TSQ_MAX, 13);
	sg_check(sg_wire_encode_req(sb, &q), "timestamp tsq");
	sg_put("wire_req", "ts-tsq-max", sb->data, sb->size);

	memset(&q.u.ts, 0, sizeof(q.u.ts));
	q.u.ts.hash = SG_HASH_SHA384;
	q.u.ts.digest_len = 48;
	sg_fill(q.u.ts.digest, 48, 15);
	sg_check(sg_wire_encode_req(sb, &q), "timestamp imprint");
	sg_put_sb("wire_req", "ts-imprint-sha384", sb);
	q.u.ts.hash = SG_HASH_SHA256;
	q.u.ts.digest_len = 32;
	q.u.ts.idem_len = 1;
	q.u.ts.idem[0] = 0;
	strcpy(q.u.ts.meta.job, "j");
	sg_check(sg_wire_encode_req(sb, &q), "timestamp imprint");
	sg_put_sb("wire_req", "ts-imprint-idem-meta", sb);

	/* Malformed: each breaks one rule of the two new requests. */
	sg_fill(d, sizeof(d), 17);
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	sg_pack_req_head(&pk, 7, 13, "sign.cms");
	sg_pack_s(&pk, "key");
	sg_pack_s(&pk, "release-signing");
	sg_pack_s(&pk, "hash");
	sg_pack_s(&pk, "sha256");
	sg_pack_b(&pk, "digest", d, 32);
	sg_pack_s(&pk, "pad");
	sg_pack_s(&pk, "pss");
	sg_put_sb("wire_req", "bad-cms-pad", sb);

	msgpack_sbuffer_clear(sb);
	sg_pack_req_head(&pk, 4, 14, "sign.cms");
	sg_pack_b(&pk, "digest", d, 32);
	sg_put_sb("wire_req", "bad-cms-no-key-hash", sb);

	msgpack_sbuffer_clear(sb);
	sg_pack_req_head(&pk, 6, 15, "timestamp");
	sg_pack_b(&pk, "tsq", d, 40);
	sg_pack_s(&pk, "hash");
	sg_pack_s(&pk, "sha256");
	sg_pack_b(&pk, "digest", d, 32);
	sg_put_sb("wire_req", "bad-ts-both-forms", sb);

	msgpack_sbuffer_clear(sb);
	sg_pack_req_head(&pk, 4, 16, "timestamp");
	sg_pack_b(&pk, "idem", d, 8);
	sg_put_sb("wire_req", "bad-ts-no-form", sb);

	msgpack_sbuffer_clear(sb);
	sg_pack_req_head(&pk, 5, 17, "timestamp");
	sg_pack_b(&pk, "tsq", d, 40);
	sg_pack_b(&pk, "digest", d, 32);
	sg_put_sb("wire_req", "bad-ts-tsq-digest", sb);

	msgpack_sbuffer_clear(sb);
	sg_pack_req_head(&pk, 5, 18, "timestamp");
	sg_pack_s(&pk, "hash");
	sg_pack_s(&pk, "sha512");
	sg_pack_b(&pk, "digest", d, 32);
	sg_put_sb("wire_req", "bad-ts-digest-length", sb);

	msgpack_sbuffer_clear(sb);
	sg_pack_req_head(&pk, 4, 19, "timestamp");
	sg_pack_b(&pk, "tsq", d, 0);
	sg_put_sb("wire_req", "bad-ts-tsq-empty", sb);

	msgpack_sbuffer_clear(sb);
	sg_pack_req_head(&pk, 4, 20, "timestamp");
	sg_pack_s(&pk, "tsq");
	sg_pack_s(&pk, "MIIB");
	sg_put_sb("wire_req", "bad-ts-tsq-str", sb);

	msgpack_sbuffer_clear(sb);
	sg_pack_req_head(&pk, 4, 21, "timestamp");
	sg_pack_b(&pk, "tsq", big, sizeof(big));
	sg_put("wire_req", "bad-ts-tsq-too-large", sb->data, sb->size);

	msgpack_sbuffer_clear(sb);
	sg_pack_req_head(&pk, 5, 22, "timestamp");
	sg_pack_b(&pk, "tsq", d, 40);
	sg_pack_s(&pk, "pad");
	sg_pack_s(&pk, "pkcs1");
	sg_put_sb("wire_req", "bad-ts-pad", sb);

	msgpack_sbuffer_clear(sb);
	sg_pack_req_head(&pk, 5, 23, "timestamp");
	sg_pack_b(&pk, "tsq", d, 40);
	sg_pack_s(&pk, "meta");
	msgpack_pack_map(&pk, 2);
	sg_pack_s(&pk, "job");
	sg_pack_s(&pk, "x");
	sg_pack_s(&pk, "who");
	sg_pack_s(&pk, "x");
	sg_put_sb("wire_req", "bad-ts-meta-unknown", sb);
}

/* Requests of the CA delegation ops (the CSR and OCSP bytes are opaque to the codec). */
static void
sg_wire_reqs_ca(msgpack_sbuffer *sb)
{
	static struct sg_req q;
	unsigned char d[32];
	msgpack_packer pk;

	memset(&q, 0, sizeof(q));
	q.id = 31;
	q.op = SG_OP_CERT_ISSUE;
	strcpy(q.u.issue.profile, "leaf-tls");
	q.u.issue.csr_len = 600;
	sg_fill(q.u.issue.csr, 600, 43);
	sg_check(sg_wire_encode_req(sb, &q), "cert.issue");
	sg_put_sb("wire_req", "issue", sb);
	q.u.issue.ttl = 86400;
	strcpy(q.u.issue.sans[0], "DNS:build.example.org");
	strcpy(q.u.issue.sans[1], "IP:192.0.2.7");
	strcpy(q.u.issue.sans[2], "URI:spiffe://example.org/ci");
	q.u.issue.n_sans = 3;
	q.u.issue.idem_len = 16;
	sg_fill(q.u.issue.idem, 16, 45);
	strcpy(q.u.issue.meta.job, "ci/certs/7");
	sg_check(sg_wire_encode_req(sb, &q), "cert.issue");
	sg_put_sb("wire_req", "issue-all-fields", sb);

	memset(&q, 0, sizeof(q));
	q.id = 32;
	q.op = SG_OP_CERT_REVOKE;
	q.u.serial.serial_len = SG_SERIAL_MAX;
	sg_fill(q.u.serial.serial, SG_SERIAL_MAX, 47);
	q.u.serial.reason = SG_REASON_KEY_COMPROMISE;
	q.u.serial.idem_len = 8;
	sg_fill(q.u.serial.idem, 8, 49);
	sg_check(sg_wire_encode_req(sb, &q), "cert.revoke");
	sg_put_sb("wire_req", "revoke-idem", sb);
	q.op = SG_OP_CERT_STATUS;
	q.u.serial.serial_len = 1;
	q.u.serial.reason = SG_REASON_UNSPECIFIED;
	q.u.serial.idem_len = 0;
	sg_check(sg_wire_encode_req(sb, &q), "cert.status");
	sg_put_sb("wire_req", "status", sb);

	memset(&q, 0, sizeof(q));
	q.id = 33;
	q.op = SG_OP_CRL_GET;
	strcpy(q.u.crl.ca, "issuing-ca");
	sg_check(sg_wire_encode_req(sb, &q), "crl.get");
	sg_put_sb("wire_req", "crl-get", sb);
	q.op = SG_OP_CA_LIST;
	sg_check(sg_wire_encode_req(sb, &q), "ca.list");
	sg_put_sb("wire_req", "ca-list", sb);
	memset(&q, 0, sizeof(q));
	q.id = 34;
	q.op = SG_OP_OCSP;
	q.u.ocsp.len = 120;
	sg_fill(q.u.ocsp.der, 120, 51);
	sg_check(sg_wire_encode_req(sb, &q), "ocsp");
	sg_put_sb("wire_req", "ocsp", sb);

	sg_fill(d, sizeof(d), 53);
	d[0] = 0;
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	sg_pack_req_head(&pk, 5, 35, "cert.revoke");
	sg_pack_b(&pk, "serial", d, 4);
	sg_pack_s(&pk, "reason");
	sg_pack_s(&pk, "keyCompromise");
	sg_put_sb("wire_req", "bad-serial-leading-zero", sb);

	msgpack_sbuffer_clear(sb);
	sg_pack_req_head(&pk, 5, 36, "cert.status");
	sg_pack_b(&pk, "serial", d + 1, 4);
	sg_pack_b(&pk, "idem", d, 8);
	sg_put_sb("wire_req", "bad-status-idem", sb);

	msgpack_sbuffer_clear(sb);
	sg_pack_req_head(&pk, 6, 37, "cert.issue");
	sg_pack_s(&pk, "profile");
	sg_pack_s(&pk, "leaf-tls");
	sg_pack_b(&pk, "csr", d, 32);
	sg_pack_s(&pk, "sans");
	msgpack_pack_array(&pk, 2);
	sg_pack_s(&pk, "DNS:a.example");
	sg_pack_s(&pk, "email:a@example.org");
	sg_put_sb("wire_req", "bad-issue-san-prefix", sb);
}

static void
sg_wire_reqs(msgpack_sbuffer *sb)
{
	static struct sg_req q;
	msgpack_packer pk;
	int i;

	memset(&q, 0, sizeof(q));
	q.id = 1;
	q.op = SG_OP_PING;
	sg_check(sg_wire_encode_req(sb, &q), "ping");
	sg_put_sb("wire_req", "ping", sb);
	q.id = UINT64_MAX;
	q.op = SG_OP_KEYS_LIST;
	sg_check(sg_wire_encode_req(sb, &q), "keys.list");
	sg_put_sb("wire_req", "keys-list-max-id", sb);

	q.id = 7;
	q.op = SG_OP_SIGN_DIGEST;
	strcpy(q.u.sign.key, "build-signing");
	q.u.sign.hash = SG_HASH_SHA256;
	q.u.sign.digest_len = 32;
	sg_fill(q.u.sign.digest, 32, 1);
	sg_check(sg_wire_encode_req(sb, &q), "sign");
	sg_put_sb("wire_req", "sign-sha256-ec", sb);
	q.u.sign.hash = SG_HASH_SHA384;
	q.u.sign.digest_len = 48;
	q.u.sign.pad = SG_PAD_PKCS1;
	sg_check(sg_wire_encode_req(sb, &q), "sign");
	sg_put_sb("wire_req", "sign-sha384-pkcs1", sb);
	q.u.sign.hash = SG_HASH_SHA512;
	q.u.sign.digest_len = 64;
	q.u.sign.pad = SG_PAD_PSS;
	q.u.sign.idem_len = 16;
	sg_fill(q.u.sign.idem, 16, 9);
	sg_check(sg_wire_encode_req(sb, &q), "sign");
	sg_put_sb("wire_req", "sign-sha512-pss-idem", sb);
	strcpy(q.u.sign.meta.artifact, "dist/artifact-1.2.3.tar.gz");
	q.u.sign.meta.has_size = 1;
	q.u.sign.meta.size = 123456789;
	strcpy(q.u.sign.meta.job, "ci/pipeline/42 \xc3\xa9t\xc3\xa9");
	sg_check(sg_wire_encode_req(sb, &q), "sign");
	sg_put_sb("wire_req", "sign-all-fields", sb);

	/* Malformed and refused requests, each for its own error path. */
	msgpack_sbuffer_clear(sb);
	sg_check(sg_wire_encode_req(sb, &q), "sign");
	msgpack_sbuffer_write(sb, "\xc0", 1);
	sg_put_sb("wire_req", "bad-trailing-byte", sb);
	sg_check(sg_wire_encode_req(sb, &q), "sign");
	sg_put("wire_req", "bad-truncated", sb->data, sb->size - 1);

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	sg_pack_s(&pk, "v");
	msgpack_pack_uint8(&pk, 1);
	sg_pack_s(&pk, "id");
	msgpack_pack_uint8(&pk, 3);
	sg_pack_s(&pk, "op");
	sg_pack_s(&pk, "ping");
	sg_pack_s(&pk, "id");
	msgpack_pack_uint8(&pk, 4);
	sg_put_sb("wire_req", "bad-duplicate-id", sb);

	msgpack_sbuffer_clear(sb);
	msgpack_pack_map(&pk, 4);
	sg_pack_s(&pk, "v");
	msgpack_pack_uint8(&pk, 1);
	sg_pack_s(&pk, "id");
	msgpack_pack_uint8(&pk, 3);
	sg_pack_s(&pk, "op");
	sg_pack_s(&pk, "ping");
	sg_pack_s(&pk, "extra");
	msgpack_pack_nil(&pk);
	sg_put_sb("wire_req", "bad-unknown-field", sb);

	msgpack_sbuffer_clear(sb);
	msgpack_pack_map(&pk, 3);
	sg_pack_s(&pk, "v");
	msgpack_pack_uint8(&pk, 2);
	sg_pack_s(&pk, "id");
	msgpack_pack_uint8(&pk, 3);
	sg_pack_s(&pk, "op");
	sg_pack_s(&pk, "ping");
	sg_put_sb("wire_req", "bad-version", sb);

	msgpack_sbuffer_clear(sb);
	msgpack_pack_map(&pk, 3);
	sg_pack_s(&pk, "v");
	msgpack_pack_uint8(&pk, 1);
	sg_pack_s(&pk, "id");
	msgpack_pack_uint8(&pk, 0);
	sg_pack_s(&pk, "op");
	sg_pack_s(&pk, "sign.everything");
	sg_put_sb("wire_req", "bad-id0-unknown-op", sb);

	msgpack_sbuffer_clear(sb);
	msgpack_pack_map(&pk, 7);
	sg_pack_s(&pk, "v");
	msgpack_pack_uint8(&pk, 1);
	sg_pack_s(&pk, "id");
	msgpack_pack_uint8(&pk, 5);
	sg_pack_s(&pk, "op");
	sg_pack_s(&pk, "sign.digest");
	sg_pack_s(&pk, "key");
	sg_pack_s(&pk, "bad name/\xff");
	sg_pack_s(&pk, "hash");
	sg_pack_s(&pk, "md5");
	sg_pack_s(&pk, "digest");
	msgpack_pack_bin(&pk, 20);
	msgpack_pack_bin_body(&pk, "0123456789abcdefghij", 20);
	sg_pack_s(&pk, "meta");
	msgpack_pack_map(&pk, 1);
	sg_pack_s(&pk, "size");
	msgpack_pack_int(&pk, -1);
	sg_put_sb("wire_req", "bad-sign-fields", sb);

	msgpack_sbuffer_clear(sb);
	msgpack_pack_map(&pk, 17);
	for (i = 0; i < 17; i++) {
		char k[8];

		snprintf(k, sizeof(k), "f%d", i);
		sg_pack_s(&pk, k);
		msgpack_pack_int(&pk, i);
	}
	sg_put_sb("wire_req", "bad-17-fields", sb);

	msgpack_sbuffer_clear(sb);
	msgpack_pack_map(&pk, 1);
	sg_pack_s(&pk, "meta");
	for (i = 0; i < 9; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	sg_put_sb("wire_req", "bad-too-deep", sb);

	msgpack_sbuffer_clear(sb);
	msgpack_pack_array(&pk, 3);
	sg_pack_s(&pk, "v");
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_float(&pk, 1.5f);
	sg_put_sb("wire_req", "bad-array", sb);

	/* Headers that promise more than the frame holds; ext and 0xc1. */
	sg_put("wire_req", "bad-huge-map32", "\xdf\xff\xff\xff\xff\xa1v\x01", 8);
	sg_put("wire_req", "bad-huge-str32", "\x81\xa1v\xdb\x7f\xff\xff\xff", 8);
	sg_put("wire_req", "bad-ext", "\x81\xa1v\xd4\x01\x00", 6);
	sg_put("wire_req", "bad-c1", "\x81\xa1v\xc1", 4);
	sg_put("wire_req", "bad-nul-in-key", "\x81\xa2v\x00\x01", 5);

	sg_wire_reqs_formats(sb);
	sg_wire_reqs_ca(sb);
}

/* Starts a success reply map of n fields: v, id, ok and n - 3 more. */
static void
sg_pack_rep_head(msgpack_packer *pk, size_t n, uint64_t id)
{
	msgpack_pack_map(pk, n);
	sg_pack_s(pk, "v");
	msgpack_pack_uint8(pk, 1);
	sg_pack_s(pk, "id");
	msgpack_pack_uint64(pk, id);
	sg_pack_s(pk, "ok");
	msgpack_pack_true(pk);
}

/*
 * A keys.list reply with one key whose certs field holds ncerts binaries of
 * len bytes (as_str: the last one a string instead).
 */
static void
sg_pack_keys_certs(msgpack_sbuffer *sb, size_t ncerts, size_t len, int as_str)
{
	static unsigned char cert[SG_CERT_MAX + 1];
	msgpack_packer pk;
	size_t i;

	sg_fill(cert, sizeof(cert), 29);
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	sg_pack_rep_head(&pk, 4, 2);
	sg_pack_s(&pk, "keys");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 6);
	sg_pack_s(&pk, "name");
	sg_pack_s(&pk, "tsa");
	sg_pack_s(&pk, "alg");
	sg_pack_s(&pk, "ec-p384");
	sg_pack_b(&pk, "pub", cert, 120);
	sg_pack_s(&pk, "hashes");
	msgpack_pack_array(&pk, 1);
	sg_pack_s(&pk, "sha384");
	sg_pack_s(&pk, "ops");
	msgpack_pack_array(&pk, 1);
	sg_pack_s(&pk, "timestamp");
	sg_pack_s(&pk, "certs");
	msgpack_pack_array(&pk, ncerts);
	for (i = 0; i < ncerts; i++) {
		if (as_str && i + 1 == ncerts) {
			msgpack_pack_str(&pk, len);
			msgpack_pack_str_body(&pk, cert, len);
		} else {
			msgpack_pack_bin(&pk, len);
			msgpack_pack_bin_body(&pk, cert, len);
		}
	}
}

/* A blob reply (sign.cms or timestamp) field by field, for the malformed seeds. */
static void
sg_pack_blob(msgpack_sbuffer *sb, const char *data_field, size_t data_len, int with_status,
             uint64_t status, size_t hash_len)
{
	unsigned char b[64];
	msgpack_packer pk;

	sg_fill(b, sizeof(b), 31);
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	sg_pack_rep_head(&pk, 3 + 5 + (with_status != 0), 9);
	sg_pack_s(&pk, "key");
	sg_pack_s(&pk, "tsa");
	sg_pack_s(&pk, "alg");
	sg_pack_s(&pk, "ec-p256");
	sg_pack_s(&pk, "hash");
	sg_pack_s(&pk, "sha256");
	if (with_status) {
		sg_pack_s(&pk, "status");
		msgpack_pack_uint64(&pk, status);
	}
	sg_pack_b(&pk, data_field, b, data_len);
	sg_pack_s(&pk, "receipt");
	msgpack_pack_map(&pk, 2);
	sg_pack_s(&pk, "record");
	msgpack_pack_uint8(&pk, 1);
	sg_pack_b(&pk, "hash", b, hash_len);
}

/* Replies of sign.cms and timestamp, keys with certificates; valid and not. */
static void
sg_wire_reps_formats(msgpack_sbuffer *sb)
{
	static struct sg_key_info keys[2];
	static unsigned char certs[SG_CERTS_MAX][700];
	static unsigned char blob[3000];
	static struct sg_blob_rep b;
	size_t i;

	memset(keys, 0, sizeof(keys));
	strcpy(keys[0].name, "release-signing");
	keys[0].alg = SG_KEYALG_RSA_3072;
	keys[0].pub_len = 422;
	sg_fill(keys[0].pub, 422, 5);
	keys[0].hashes = (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384);
	keys[0].ops = (1u << SG_OP_SIGN_DIGEST) | (1u << SG_OP_SIGN_CMS);
	for (i = 0; i < SG_CERTS_MAX; i++)
		sg_fill(certs[i], sizeof(certs[i]), 50 + (unsigned)i);
	keys[0].n_certs = 2;
	keys[0].cert[0] = certs[0];
	keys[0].cert_len[0] = 700;
	keys[0].cert[1] = certs[1];
	keys[0].cert_len[1] = 512;
	strcpy(keys[1].name, "tsa");
	keys[1].alg = SG_KEYALG_EC_P384;
	keys[1].pub_len = 120;
	sg_fill(keys[1].pub, 120, 6);
	keys[1].hashes = 1u << SG_HASH_SHA384;
	keys[1].ops = 1u << SG_OP_TIMESTAMP;
	keys[1].n_certs = 1;
	keys[1].cert[0] = certs[2];
	keys[1].cert_len[0] = 1;
	sg_check(sg_wire_encode_keys_rep(sb, 2, keys, 2), "keys rep certs");
	sg_put_sb("wire_rep", "keys-certs", sb);
	keys[0].n_certs = SG_CERTS_MAX;
	for (i = 0; i < SG_CERTS_MAX; i++) {
		keys[0].cert[i] = certs[i];
		keys[0].cert_len[i] = 100 + i;
	}
	sg_check(sg_wire_encode_keys_rep(sb, 2, keys, 1), "keys rep certs");
	sg_put_sb("wire_rep", "keys-certs-max", sb);

	memset(&b, 0, sizeof(b));
	sg_fill(blob, sizeof(blob), 37);
	strcpy(b.key, "release-signing");
	b.alg = SG_KEYALG_RSA_3072;
	b.hash = SG_HASH_SHA256;
	b.data = blob;
	b.len = 2100;
	b.record = 77;
	sg_fill(b.record_hash, 32, 39);
	sg_check(sg_wire_encode_blob_rep(sb, 7, SG_OP_SIGN_CMS, &b), "cms rep");
	sg_put_sb("wire_rep", "cms", sb);
	b.replayed = 1;
	sg_check(sg_wire_encode_blob_rep(sb, 7, SG_OP_SIGN_CMS, &b), "cms rep");
	sg_put_sb("wire_rep", "cms-replayed", sb);

	strcpy(b.key, "tsa");
	b.alg = SG_KEYALG_EC_P384;
	b.hash = SG_HASH_SHA384;
	b.status = 0;
	b.replayed = 0;
	b.len = 1500;
	b.record = UINT64_MAX;
	sg_check(sg_wire_encode_blob_rep(sb, 8, SG_OP_TIMESTAMP, &b), "ts rep");
	sg_put_sb("wire_rep", "ts-granted", sb);
	b.status = 2;
	b.len = sg_make_tsr_rejected(blob, sizeof(blob));
	sg_check(sg_wire_encode_blob_rep(sb, 8, SG_OP_TIMESTAMP, &b), "ts rep");
	sg_put_sb("wire_rep", "ts-rejected", sb);
	b.replayed = 1;
	sg_check(sg_wire_encode_blob_rep(sb, 8, SG_OP_TIMESTAMP, &b), "ts rep");
	sg_put_sb("wire_rep", "ts-rejected-replayed", sb);
	sg_check(sg_wire_encode_err(sb, 8, SG_ERR_NO_TSA, NULL), "err");
	sg_put_sb("wire_rep", "err-no-tsa", sb);
	sg_check(sg_wire_encode_err(sb, 7, SG_ERR_NO_CERT, "key has no certificate"), "err");
	sg_put_sb("wire_rep", "err-no-certificate", sb);

	/* Malformed: each breaks one rule of the new replies. */
	sg_pack_keys_certs(sb, 0, 1, 0);
	sg_put_sb("wire_rep", "bad-keys-certs-empty", sb);
	sg_pack_keys_certs(sb, SG_CERTS_MAX + 1, 2, 0);
	sg_put_sb("wire_rep", "bad-keys-certs-9", sb);
	sg_pack_keys_certs(sb, 2, 0, 0);
	sg_put_sb("wire_rep", "bad-keys-cert-empty", sb);
	sg_pack_keys_certs(sb, 1, SG_CERT_MAX + 1, 0);
	sg_put("wire_rep", "bad-keys-cert-too-large", sb->data, sb->size);
	sg_pack_keys_certs(sb, 3, 10, 1);
	sg_put_sb("wire_rep", "bad-keys-cert-str", sb);
	sg_pack_blob(sb, "tsr", 40, 1, 6, 32);
	sg_put_sb("wire_rep", "bad-ts-status-6", sb);
	sg_pack_blob(sb, "tsr", 40, 0, 0, 32);
	sg_put_sb("wire_rep", "bad-ts-no-status", sb);
	sg_pack_blob(sb, "cms", 40, 1, 0, 32);
	/* Also a timestamp reply whose DER is under the wrong name (cms, not tsr). */
	sg_put_sb("wire_rep", "bad-cms-status", sb);
	sg_pack_blob(sb, "tsr", 0, 1, 0, 32);
	sg_put_sb("wire_rep", "bad-ts-tsr-empty", sb);
	sg_pack_blob(sb, "cms", 40, 0, 0, 31);
	sg_put_sb("wire_rep", "bad-cms-receipt-hash-31", sb);
}

static void
sg_wire_reps(msgpack_sbuffer *sb)
{
	struct sg_ping_rep ping;
	static struct sg_key_info keys[2];
	static struct sg_sign_rep s;

	memset(&ping, 0, sizeof(ping));
	strcpy(ping.server, "signetd-0.1.0");
	ping.time = 1700000000;
	sg_check(sg_wire_encode_ping_rep(sb, 1, &ping), "ping rep");
	sg_put_sb("wire_rep", "ping", sb);

	memset(keys, 0, sizeof(keys));
	strcpy(keys[0].name, "build-signing");
	keys[0].alg = SG_KEYALG_EC_P256;
	keys[0].pub_len = 91;
	sg_fill(keys[0].pub, 91, 3);
	keys[0].hashes = (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA512);
	keys[0].ops = 1u << SG_OP_SIGN_DIGEST;
	strcpy(keys[1].name, "release-signing");
	keys[1].alg = SG_KEYALG_RSA_3072;
	keys[1].pub_len = 422;
	sg_fill(keys[1].pub, 422, 5);
	keys[1].hashes = 1u << SG_HASH_SHA384;
	keys[1].ops = (1u << SG_OP_PING) | (1u << SG_OP_KEYS_LIST) | (1u << SG_OP_SIGN_DIGEST);
	sg_check(sg_wire_encode_keys_rep(sb, 2, keys, 2), "keys rep");
	sg_put_sb("wire_rep", "keys-2", sb);
	sg_check(sg_wire_encode_keys_rep(sb, 2, keys, 0), "keys rep");
	sg_put_sb("wire_rep", "keys-empty", sb);

	memset(&s, 0, sizeof(s));
	strcpy(s.key, "build-signing");
	s.alg = SG_KEYALG_EC_P256;
	s.hash = SG_HASH_SHA256;
	s.pad = SG_PAD_NONE;
	s.sig_len = 71;
	sg_fill(s.sig, 71, 11);
	s.record = 42;
	sg_fill(s.record_hash, 32, 13);
	sg_check(sg_wire_encode_sign_rep(sb, 3, &s), "sign rep");
	sg_put_sb("wire_rep", "sign-ec", sb);
	strcpy(s.key, "release-signing");
	s.alg = SG_KEYALG_RSA_4096;
	s.hash = SG_HASH_SHA512;
	s.pad = SG_PAD_PSS;
	s.sig_len = 512;
	s.replayed = 1;
	sg_check(sg_wire_encode_sign_rep(sb, 4, &s), "sign rep");
	sg_put_sb("wire_rep", "sign-rsa-pss-replayed", sb);

	sg_check(sg_wire_encode_err(sb, 5, SG_ERR_DENIED, "no rule allows this"), "err");
	sg_put_sb("wire_rep", "err-denied", sb);
	sg_check(sg_wire_encode_err(sb, 0, SG_ERR_MALFORMED, NULL), "err");
	sg_put_sb("wire_rep", "err-malformed-id0", sb);
	sg_check(sg_wire_encode_err(sb, 6, -99999, "x"), "err");
	sg_put_sb("wire_rep", "err-unknown-code", sb);
	sg_put("wire_rep", "bad-empty-map", "\x80", 1);

	sg_wire_reps_formats(sb);
}

static void
sg_hsm(msgpack_sbuffer *sb)
{
	struct sg_hsm_sign_req q;
	static struct sg_hsm_sign_rep p;
	static struct sg_hsm_keyspec specs[3];
	static struct sg_hsm_key_status st[3];
	struct sg_hsm_keys_req kq;
	struct sg_hsm_keys_rep kp;

	memset(&q, 0, sizeof(q));
	q.seq = 77;
	strcpy(q.key, "build-signing");
	q.hash = SG_HASH_SHA256;
	q.pad = SG_PAD_NONE;
	q.digest_len = 32;
	sg_fill(q.digest, 32, 17);
	sg_check(sg_hsm_encode_sign_req(sb, &q), "hsm sign req");
	sg_put_sb("hsm_proto", "sign-req", sb);
	sg_put("hsm_proto", "bad-sign-req-truncated", sb->data, sb->size - 3);
	q.seq = UINT64_MAX;
	q.hash = SG_HASH_SHA512;
	q.pad = SG_PAD_PSS;
	q.digest_len = 64;
	sg_check(sg_hsm_encode_sign_req(sb, &q), "hsm sign req");
	sg_put_sb("hsm_proto", "sign-req-pss", sb);

	memset(&p, 0, sizeof(p));
	p.seq = 77;
	p.sig_len = 72;
	sg_fill(p.sig, 72, 19);
	sg_check(sg_hsm_encode_sign_rep(sb, &p), "hsm sign rep");
	sg_put_sb("hsm_proto", "sign-rep", sb);
	p.err = SG_ERR_SELF_VERIFY;
	p.sig_len = 0;
	sg_check(sg_hsm_encode_sign_rep(sb, &p), "hsm sign rep");
	sg_put_sb("hsm_proto", "sign-rep-err", sb);

	memset(specs, 0, sizeof(specs));
	strcpy(specs[0].name, "build-signing");
	strcpy(specs[0].uri, "pkcs11:token=signet-dev;object=build-signing;type=private");
	specs[0].alg = SG_KEYALG_EC_P256;
	specs[0].self_verify = 1;
	strcpy(specs[1].name, "release-signing");
	strcpy(specs[1].uri, "label:release signing");
	specs[1].alg = SG_KEYALG_RSA_3072;
	specs[1].self_verify = 1;
	strcpy(specs[2].name, "fast.ec_key-2");
	strcpy(specs[2].uri, "pkcs11:id=%01%02%ff;library-version=2.40");
	specs[2].alg = SG_KEYALG_EC_P384;
	kq.specs = specs;
	kq.n = 3;
	sg_check(sg_hsm_encode_keys_req(sb, &kq), "hsm keys req");
	sg_put_sb("hsm_proto", "keys-req", sb);
	kq.n = 0;
	sg_check(sg_hsm_encode_keys_req(sb, &kq), "hsm keys req");
	sg_put_sb("hsm_proto", "keys-req-empty", sb);

	memset(st, 0, sizeof(st));
	strcpy(st[0].name, "build-signing");
	st[0].alg = SG_KEYALG_EC_P256;
	st[0].pub_len = 91;
	sg_fill(st[0].pub, 91, 23);
	strcpy(st[1].name, "release-signing");
	st[1].err = SG_ERR_NOT_FOUND;
	st[1].alg = SG_KEYALG_RSA_3072;
	st[2].err = SG_ERR_HSM;
	kp.err = 0;
	kp.keys = st;
	kp.n = 3;
	sg_check(sg_hsm_encode_keys_rep(sb, &kp), "hsm keys rep");
	sg_put_sb("hsm_proto", "keys-rep", sb);
	kp.err = SG_ERR_HSM;
	kp.n = 0;
	sg_check(sg_hsm_encode_keys_rep(sb, &kp), "hsm keys rep");
	sg_put_sb("hsm_proto", "keys-rep-err", sb);

	/* [1, seq, ...] that is malformed but peekable; wrong counts; big ints. */
	sg_put("hsm_proto", "bad-sign-peekable", "\x96\x01\xcd\x01\x00\xa1k\x01\x00\xc4\x00", 11);
	sg_put("hsm_proto", "bad-keys-count", "\x92\x02\xdd\x00\x00\x10\x00", 7);
	sg_put("hsm_proto", "bad-err-int64",
	       "\x94\x01\x05\xd3\xff\xff\xff\xff\x00\x00\x00\x00\xc4\x00", 14);
	sg_put("hsm_proto", "bad-trailing", "\x92\x02\x90\x00", 4);
}

/* Scalars and containers of every msgpack type for the preflight. */
static void
sg_preflight(msgpack_sbuffer *sb)
{
	msgpack_packer pk;
	int i;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 16);
	msgpack_pack_nil(&pk);
	msgpack_pack_true(&pk);
	msgpack_pack_false(&pk);
	msgpack_pack_int8(&pk, -5);
	msgpack_pack_int16(&pk, -300);
	msgpack_pack_int32(&pk, -70000);
	msgpack_pack_int64(&pk, INT64_MIN);
	msgpack_pack_uint16(&pk, 65535);
	msgpack_pack_uint32(&pk, 4000000000u);
	msgpack_pack_uint64(&pk, UINT64_MAX);
	msgpack_pack_float(&pk, 0.25f);
	msgpack_pack_double(&pk, -1e300);
	msgpack_pack_str(&pk, 40);
	msgpack_pack_str_body(&pk, "0123456789012345678901234567890123456789", 40);
	msgpack_pack_bin(&pk, 3);
	msgpack_pack_bin_body(&pk, "\x00\x01\x02", 3);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_array(&pk, 0);
	msgpack_pack_map(&pk, 0);
	sg_put("wire_preflight", "all-types", sb->data, sb->size);

	msgpack_sbuffer_clear(sb);
	for (i = 0; i < 8; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	sg_put("wire_preflight", "depth-8", sb->data, sb->size);
	sg_put("wire_preflight", "array16", "\xdc\x00\x02\xc0\xc0", 5);
	sg_put("wire_preflight", "map16", "\xde\x00\x01\xc0\xc0", 5);
	sg_put("wire_preflight", "str16-bin16", "\x92\xda\x00\x01x\xc5\x00\x01y", 9);
	sg_put("wire_preflight", "bad-array32-huge", "\xdd\xff\xff\xff\xff\xc0", 6);
	sg_put("wire_preflight", "bad-map-odd", "\x82\xc0\xc0\xc0", 4);
	sg_put("wire_preflight", "bad-ext8", "\xc7\x01\x05\x00", 4);
	sg_put("wire_preflight", "bad-fixext16",
	       "\xd8\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	       "\x00\x00\x00\x00\x00\x00",
	       18);
	sg_put("wire_preflight", "bad-two-objects", "\xc0\xc0", 2);
	sg_put("wire_preflight", "bad-float-short", "\xcb\x00\x00", 3);
}

int
main(int argc, char **argv)
{
	msgpack_sbuffer sb;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	sg_dir = argv[1];
	msgpack_sbuffer_init(&sb);
	sg_wire_reqs(&sb);
	sg_wire_reps(&sb);
	sg_hsm(&sb);
	sg_preflight(&sb);
	msgpack_sbuffer_destroy(&sb);
	return 0;
}
