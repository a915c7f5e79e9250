/*
 * sg_wire: the msgpack codec of wire protocol v1 (docs/protocol.md).
 *
 * One msgpack map per ZeroMQ message.  Requests are {v:1, id:uint, op:str,
 * ...}; replies {v:1, id, ok:true, ...} or {v:1, id, ok:false, err:{code,
 * name, msg}}.
 *
 * Decoding is strict and never trusts a length: every frame is first walked
 * by sg_wire_preflight(), which checks each string, binary and container
 * count against the bytes left, caps the nesting and refuses trailing bytes,
 * before msgpack-c (whose unpacker allocates what a header claims) sees it.
 * Then one function per message checks type, length and count of each field;
 * unknown fields, duplicate keys, missing fields and wrong types are errors
 * with their own codes.  Strings must be valid UTF-8 without NUL bytes.
 *
 * This module owns no sockets and no policy: it only turns bytes into typed
 * structs and back.  Decoded structs use fixed-size storage, so the server's
 * hot path allocates nothing per request beyond msgpack-c's reusable zone.
 */
#ifndef SG_WIRE_H
#define SG_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "sg_alg.h"

#define SG_WIRE_VERSION 1
#define SG_WIRE_MAX_DEPTH 8
#define SG_WIRE_MAX_FIELDS 16
#define SG_WIRE_DEFAULT_MAX_MSG (64 * 1024)
#define SG_NAME_MAX 64 /* key and client names: [A-Za-z0-9._-]{1,64} */
#define SG_IDEM_MAX 64
#define SG_META_ARTIFACT_MAX 1024
#define SG_META_JOB_MAX 256
#define SG_SIG_MAX 512
#define SG_PUB_MAX 1024
#define SG_MAX_KEYS 1024
#define SG_WHY_MAX 160
#define SG_TSQ_MAX 16384       /* a DER TimeStampReq in a timestamp request */
#define SG_BLOB_MAX (1u << 20) /* a CMS or TimeStampResp in a reply */
/* A CRL in a crl.get reply: about 46 bytes per revoked serial, so 32 MiB holds
 * some 700,000 (the CRL builder takes up to 1,000,000 entries). */
#define SG_CRL_MAX (32u << 20)
#define SG_CERTS_MAX 8         /* certificates per key in keys.list (leaf + chain) */
#define SG_CERT_MAX 16384      /* one DER certificate */
#define SG_CSR_MAX (16 * 1024) /* a CSR (PEM or DER) in cert.issue */
#define SG_SANS_MAX 32         /* SANs asked for in cert.issue */
#define SG_SAN_MAX 256         /* one SAN: "DNS:name", "IP:addr" or "URI:uri" */
#define SG_SERIAL_MAX 20       /* a certificate serial number, big-endian (RFC 5280) */
#define SG_OCSP_REQ_MAX 16384  /* an OCSPRequest forwarded by the HTTP listener */
#define SG_MAX_CAS 256         /* CAs in a ca.list reply */
#define SG_CA_PROFILES_MAX 64  /* profiles per CA in a ca.list reply */

enum sg_op {
	SG_OP_NONE = 0,
	SG_OP_PING = 1,
	SG_OP_KEYS_LIST = 2,
	SG_OP_SIGN_DIGEST = 3,
	SG_OP_SIGN_CMS = 4,    /* CMS SignedData, detached, over a digest */
	SG_OP_TIMESTAMP = 5,   /* RFC 3161 time-stamp */
	SG_OP_CERT_ISSUE = 6,  /* a certificate from a CSR under a profile */
	SG_OP_CERT_REVOKE = 7, /* revoke an issued certificate */
	SG_OP_CERT_STATUS = 8, /* status of an issued certificate */
	SG_OP_CRL_GET = 9,     /* the current CRL of a CA */
	SG_OP_CA_LIST = 10,    /* the CAs and profiles a client may use */
	SG_OP_OCSP = 11,       /* an OCSP request (RFC 6960), as the HTTP listener forwards it */
};
#define SG_OP_COUNT 12

/* Client metadata of a signing request; recorded in the audit log verbatim. */
struct sg_meta {
	char artifact[SG_META_ARTIFACT_MAX + 1]; /* "" when absent */
	int has_size;
	uint64_t size;
	char job[SG_META_JOB_MAX + 1]; /* "" when absent */
};

struct sg_sign_req {
	char key[SG_NAME_MAX + 1];
	enum sg_hash hash;
	unsigned char digest[SG_HASH_MAX_LEN];
	size_t digest_len;
	enum sg_pad pad; /* SG_PAD_NONE when absent */
	unsigned char idem[SG_IDEM_MAX];
	size_t idem_len; /* 0 when absent */
	struct sg_meta meta;
};

/*
 * timestamp: either a DER TimeStampReq (tsq_len > 0) or a message imprint
 * (hash and digest), for which the server builds the request itself (certReq
 * true, no nonce).  Exactly one of the two forms.
 */
struct sg_ts_req {
	unsigned char tsq[SG_TSQ_MAX];
	size_t tsq_len;    /* 0 when the imprint form is used */
	enum sg_hash hash; /* SG_HASH_NONE with tsq */
	unsigned char digest[SG_HASH_MAX_LEN];
	size_t digest_len;
	unsigned char idem[SG_IDEM_MAX];
	size_t idem_len;
	struct sg_meta meta;
};

/* cert.issue: a certificate for the CSR under a profile. */
struct sg_issue_req {
	char profile[SG_NAME_MAX + 1];
	unsigned char csr[SG_CSR_MAX]; /* PEM or DER PKCS#10, 1..SG_CSR_MAX bytes */
	size_t csr_len;
	uint64_t ttl;                           /* seconds; 0 when absent (the profile's default) */
	char sans[SG_SANS_MAX][SG_SAN_MAX + 1]; /* "DNS:...", "IP:...", "URI:..." */
	size_t n_sans;
	unsigned char idem[SG_IDEM_MAX];
	size_t idem_len;
	struct sg_meta meta;
};

/* RFC 5280 CRLReason values used on the wire (names in docs/protocol.md). */
enum sg_reason {
	SG_REASON_UNSPECIFIED = 0,
	SG_REASON_KEY_COMPROMISE = 1,
	SG_REASON_CA_COMPROMISE = 2,
	SG_REASON_AFFILIATION_CHANGED = 3,
	SG_REASON_SUPERSEDED = 4,
	SG_REASON_CESSATION_OF_OPERATION = 5,
	SG_REASON_CERTIFICATE_HOLD = 6,
	SG_REASON_PRIVILEGE_WITHDRAWN = 9,
	SG_REASON_AA_COMPROMISE = 10,
};

/*
 * cert.revoke (serial and reason) and cert.status (serial; reason and idem
 * unused).  A serial on the wire is the big-endian magnitude of the positive
 * serialNumber: 1..SG_SERIAL_MAX bytes, no leading zero byte, so that one
 * number has one spelling.
 */
struct sg_serial_req {
	unsigned char serial[SG_SERIAL_MAX];
	size_t serial_len; /* 1..SG_SERIAL_MAX */
	enum sg_reason reason;
	unsigned char idem[SG_IDEM_MAX];
	size_t idem_len;
};

/* crl.get */
struct sg_crl_req {
	char ca[SG_NAME_MAX + 1]; /* the CA's key name */
};

/* ocsp: a DER OCSPRequest (the HTTP listener's translation of RFC 6960 A.1). */
struct sg_ocsp_req {
	unsigned char der[SG_OCSP_REQ_MAX];
	size_t len;
};

/* sign.digest and sign.cms share struct sg_sign_req (sign.cms: pad is SG_PAD_NONE). */
struct sg_req {
	uint64_t id;
	enum sg_op op;
	union {
		struct sg_sign_req sign;
		struct sg_ts_req ts;
		struct sg_issue_req issue;
		struct sg_serial_req serial; /* cert.revoke, cert.status */
		struct sg_crl_req crl;
		struct sg_ocsp_req ocsp;
	} u;
};

/* One entry of a keys.list reply. */
struct sg_key_info {
	char name[SG_NAME_MAX + 1];
	enum sg_keyalg alg;
	unsigned char pub[SG_PUB_MAX]; /* DER SubjectPublicKeyInfo */
	size_t pub_len;
	unsigned hashes; /* bit (1 << enum sg_hash) per allowed hash */
	unsigned ops;    /* bit (1 << enum sg_op) per allowed op */
	/* The key's certificate and its chain (DER, leaf first); n_certs 0 if
	 * none.  Encoder: borrowed.  Decoder: they point into certs_buf, owned
	 * and freed by sg_rep_clear. */
	size_t n_certs;
	const unsigned char *cert[SG_CERTS_MAX];
	size_t cert_len[SG_CERTS_MAX];
	unsigned char *certs_buf;
};

struct sg_sign_rep {
	char key[SG_NAME_MAX + 1];
	enum sg_keyalg alg;
	enum sg_hash hash;
	enum sg_pad pad;
	unsigned char sig[SG_SIG_MAX];
	size_t sig_len;
	uint64_t record;               /* audit record number (receipt) */
	unsigned char record_hash[32]; /* audit record hash (receipt) */
	int replayed;                  /* 1 if this is a stored answer to a retried request */
};

/*
 * The reply of sign.cms (data = DER ContentInfo of a detached SignedData) and
 * of timestamp (data = DER TimeStampResp; status = its PKIStatus: 0 granted,
 * 2 rejection; key = the TSA key).  Encoder: data borrowed.  Decoder: data
 * owned (malloc), freed by sg_rep_clear.
 */
struct sg_blob_rep {
	char key[SG_NAME_MAX + 1];
	enum sg_keyalg alg;
	enum sg_hash hash; /* sign.cms: the content digest's hash; timestamp: the imprint's */
	unsigned status;   /* timestamp only */
	unsigned char *data;
	size_t len;
	uint64_t record;
	unsigned char record_hash[32];
	int replayed;
};

/*
 * cert.issue: the certificate and its chain (DER, the issuer first, up to
 * but not including the root).  Encoder: pointers borrowed.  Decoder: they
 * point into buf, owned and freed by sg_rep_clear.
 */
struct sg_issue_rep {
	char profile[SG_NAME_MAX + 1];
	char ca[SG_NAME_MAX + 1]; /* the issuing CA's key name */
	unsigned char serial[SG_SERIAL_MAX];
	size_t serial_len;
	uint64_t not_before, not_after; /* seconds since the epoch */
	const unsigned char *cert;
	size_t cert_len;
	size_t n_chain;
	const unsigned char *chain[SG_CERTS_MAX];
	size_t chain_len[SG_CERTS_MAX];
	unsigned char *buf;
	uint64_t record;
	unsigned char record_hash[32];
	int replayed;
};

enum sg_cert_status {
	SG_CERT_GOOD = 0,
	SG_CERT_REVOKED = 1,
	SG_CERT_UNKNOWN = 2,
};

/* cert.revoke and cert.status. */
struct sg_status_rep {
	unsigned char serial[SG_SERIAL_MAX];
	size_t serial_len;
	enum sg_cert_status status;
	char profile[SG_NAME_MAX + 1]; /* "" when unknown */
	char ca[SG_NAME_MAX + 1];      /* "" when unknown */
	uint64_t not_after;            /* 0 when unknown */
	uint64_t revoked_at;           /* when revoked, else 0 */
	enum sg_reason reason;         /* when revoked */
	uint64_t record;               /* the audit record of this request */
	unsigned char record_hash[32];
	int replayed; /* cert.revoke: 1 if this is a stored answer to a retried request */
};

/* crl.get: data is the DER CRL (encoder: borrowed; decoder: owned). */
struct sg_crl_rep {
	char ca[SG_NAME_MAX + 1];
	uint64_t number;
	uint64_t this_update, next_update;
	unsigned char *data;
	size_t len;
};

/*
 * One CA of a ca.list reply: certs as in struct sg_key_info (1..SG_CERTS_MAX,
 * the CA's own certificate first, then its chain), not_after that of the
 * CA's certificate.
 */
struct sg_ca_info {
	char name[SG_NAME_MAX + 1];
	uint64_t not_after;
	size_t n_certs;
	const unsigned char *cert[SG_CERTS_MAX];
	size_t cert_len[SG_CERTS_MAX];
	unsigned char *certs_buf;
	size_t n_profiles; /* the profiles this client may issue with, that this CA signs */
	char profiles[SG_CA_PROFILES_MAX][SG_NAME_MAX + 1];
};

struct sg_ping_rep {
	char server[SG_NAME_MAX + 1];
	uint64_t time; /* server clock, seconds since the epoch */
};

/* A decoded reply (client side). */
struct sg_rep {
	uint64_t id;
	int ok;
	int err; /* negative SG_ERR_* when !ok */
	char err_name[SG_NAME_MAX + 1];
	char err_msg[256];
	enum sg_op op;
	union {
		struct sg_ping_rep ping;
		struct {
			struct sg_key_info *keys; /* owned; freed by sg_rep_clear */
			size_t n;
		} keys;
		struct sg_sign_rep sign;
		struct sg_blob_rep blob; /* sign.cms, timestamp, ocsp (data and len only) */
		struct sg_issue_rep issue;
		struct sg_status_rep status; /* cert.revoke, cert.status */
		struct sg_crl_rep crl;
		struct {
			struct sg_ca_info *cas; /* owned; freed by sg_rep_clear */
			size_t n;
		} cas;
	} u;
};

/* Names of ops: "ping", "keys.list", "sign.digest", "sign.cms", "timestamp", "cert.issue",
 * "cert.revoke", "cert.status", "crl.get", "ca.list", "ocsp". */
const char *sg_op_name(enum sg_op op);           /* "?" for SG_OP_NONE */
int sg_op_parse(const char *s, enum sg_op *out); /* SG_ERR_UNKNOWN_OP */

/*
 * RFC 5280 reason names: "unspecified", "keyCompromise", "cACompromise",
 * "affiliationChanged", "superseded", "cessationOfOperation",
 * "certificateHold", "privilegeWithdrawn", "aACompromise" (removeFromCRL is
 * not a reason one can revoke with).  The name is NULL for other values.
 */
const char *sg_reason_name(enum sg_reason r);
int sg_reason_parse(const char *s, enum sg_reason *out); /* 0 or SG_ERR_BAD_VALUE */

/* "good", "revoked", "unknown"; NULL for other values. */
const char *sg_cert_status_name(enum sg_cert_status st);
int sg_cert_status_parse(const char *s, enum sg_cert_status *out); /* 0 or SG_ERR_BAD_VALUE */

/* 1 if s (len bytes, not NUL-terminated) is a valid key/client name. */
int sg_wire_name_valid(const char *s, size_t len);

/* 1 if p[0..len) is valid UTF-8 without NUL bytes or overlong forms. */
int sg_wire_utf8_valid(const unsigned char *p, size_t len);

/*
 * Checks that p[0..len) is exactly one msgpack object: no trailing bytes, no
 * ext types or reserved bytes, depth at most max_depth, and every length and
 * count fits in the bytes that remain.  Returns 0 or SG_ERR_MALFORMED.
 */
int sg_wire_preflight(const unsigned char *p, size_t len, unsigned max_depth);

/*
 * Reads the id of a reply of any shape (an error reply, or one for another
 * op) without decoding the rest, to match it to its request: the first
 * "id" key with a positive integer value.  zone is cleared and reused.
 * Returns 0, SG_ERR_MALFORMED (not one well-formed msgpack map) or
 * SG_ERR_MISSING_FIELD (no such id).
 */
int sg_wire_peek_id(msgpack_zone *zone, const void *buf, size_t len, uint64_t *id);

/* A reusable decoder (owns a msgpack zone, so decoding allocates only at warm-up). */
struct sg_wire_dec;
struct sg_wire_dec *sg_wire_dec_new(void);
void sg_wire_dec_free(struct sg_wire_dec *d);

/*
 * Decodes a request.  On failure returns the error code and, when the request
 * carried a well-typed id, sets *have_id and req->id so that the error reply
 * can echo it; why (SG_WHY_MAX bytes) receives a one-line explanation that
 * names the offending field.  Sizes above max_msg are SG_ERR_TOO_LARGE.
 */
int sg_wire_decode_req(struct sg_wire_dec *d, const void *buf, size_t len, size_t max_msg,
                       struct sg_req *req, int *have_id, char *why);

/* Decodes a reply to a request of op expect; sg_rep_clear() releases it. */
int sg_wire_decode_rep(struct sg_wire_dec *d, const void *buf, size_t len, enum sg_op expect,
                       struct sg_rep *rep, char *why);
void sg_rep_clear(struct sg_rep *rep);

/*
 * Encoders append one message to sb (cleared first).  They return 0 or
 * SG_ERR_NOMEM / SG_ERR_INVALID_ARG.
 */
int sg_wire_encode_req(msgpack_sbuffer *sb, const struct sg_req *req);
int sg_wire_encode_err(msgpack_sbuffer *sb, uint64_t id, int err, const char *msg);
int sg_wire_encode_ping_rep(msgpack_sbuffer *sb, uint64_t id, const struct sg_ping_rep *rep);
int sg_wire_encode_keys_rep(msgpack_sbuffer *sb, uint64_t id, const struct sg_key_info *keys,
                            size_t n);
int sg_wire_encode_sign_rep(msgpack_sbuffer *sb, uint64_t id, const struct sg_sign_rep *rep);
/* op is SG_OP_SIGN_CMS or SG_OP_TIMESTAMP. */
int sg_wire_encode_blob_rep(msgpack_sbuffer *sb, uint64_t id, enum sg_op op,
                            const struct sg_blob_rep *rep);

/*
 * The replies of the CA delegation ops.  Each refuses (SG_ERR_INVALID_ARG)
 * what the decoder would refuse: names that are not names, a serial that is
 * empty, longer than SG_SERIAL_MAX or has a leading zero byte, empty or
 * oversize certificates and blobs, counts over their caps, not_after before
 * not_before, next_update before this_update, and fields that contradict the
 * certificate status (see sg_wire_encode_status_rep).
 */
int sg_wire_encode_issue_rep(msgpack_sbuffer *sb, uint64_t id, const struct sg_issue_rep *rep);
/*
 * op is SG_OP_CERT_REVOKE or SG_OP_CERT_STATUS.  status UNKNOWN: only the
 * serial and the receipt are sent (profile, ca, not_after must be empty/0).
 * GOOD: also profile, ca and not_after.  REVOKED: also revoked_at and reason.
 * replayed is sent only with cert.revoke (with cert.status it is refused).
 */
int sg_wire_encode_status_rep(msgpack_sbuffer *sb, uint64_t id, enum sg_op op,
                              const struct sg_status_rep *rep);
int sg_wire_encode_crl_rep(msgpack_sbuffer *sb, uint64_t id, const struct sg_crl_rep *rep);
/* n CAs (at most SG_MAX_CAS), each with 1..SG_CERTS_MAX certificates. */
int sg_wire_encode_cas_rep(msgpack_sbuffer *sb, uint64_t id, const struct sg_ca_info *cas,
                           size_t n);
/* resp: the DER OCSPResponse, 1..SG_BLOB_MAX bytes (decoded into rep->u.blob.data/len). */
int sg_wire_encode_ocsp_rep(msgpack_sbuffer *sb, uint64_t id, const unsigned char *resp,
                            size_t len);

#endif /* SG_WIRE_H */
