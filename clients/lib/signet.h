/*
 * libsignet: the C client of a Signet appliance (wire protocol v1,
 * docs/protocol.md).
 *
 * A client owns one ZeroMQ DEALER socket, CURVE-authenticated, connected to
 * one appliance.  It assigns request ids, keeps requests pipelined, matches
 * replies by id in whatever order they come, resends a request after a
 * timeout, a lost connection or a "busy" / "shutting_down" answer (bounded,
 * with exponential backoff and jitter), and turns silence into
 * SG_ERR_TIMEOUT (something answered at the TCP level, nothing at the
 * protocol level) or SG_ERR_UNAVAILABLE (no connection could be made).
 *
 * Resending is safe for every request of protocol v1: ping, keys.list,
 * cert.status, crl.get, ca.list and ocsp only read, and every sign.digest,
 * sign.cms, timestamp, cert.issue and cert.revoke request carries an
 * idempotency key (16 bytes from RAND_bytes, drawn by the library when the
 * caller gave none) that stays the same across resends, so a resent request
 * returns the stored answer: never a second signature or certificate, never
 * already_revoked for a revocation that went through.
 *
 * Threads: a client is NOT thread-safe.  Use one client per thread; each
 * client has its own ZeroMQ context, so clients in different threads share
 * nothing.  The functions that are not methods of a client (signet_opts_*,
 * signet_hash_file, signet_verify_digest, signet_keys_*,
 * signet_issue_rep_free, signet_cas_free) are thread-safe.
 *
 * Secrets: the client's CURVE secret key is read from cfg->secret_key_file
 * (sg_secret_read_file: owner-only file), decoded into locked memory, handed
 * to ZeroMQ and wiped.  The library never logs it or puts it in a message.
 *
 * Errors: functions return 0 or a negative SG_ERR_* (sg_err.h).  A failure
 * that the appliance reported returns the appliance's code; its message (or
 * a local explanation of a local failure) is in signet_client_errmsg().
 */
#ifndef SIGNET_H
#define SIGNET_H

#include <stddef.h>
#include <stdint.h>

#include "sg_alg.h"
#include "sg_clientconf.h"
#include "sg_err.h"
#include "sg_wire.h"

#include <openssl/evp.h>

#define SIGNET_DEFAULT_TIMEOUT_MS 30000u
#define SIGNET_DEFAULT_RETRIES 3u
#define SIGNET_DEFAULT_BACKOFF_MS 200u
#define SIGNET_DEFAULT_BACKOFF_MAX_MS 3000u
/* The largest reply: a crl.get of up to SG_CRL_MAX bytes (keys.list needs about 1.1 MiB at most). */
#define SIGNET_DEFAULT_MAX_MSG (SG_CRL_MAX + 64u * 1024)
#define SIGNET_DEFAULT_MAX_INFLIGHT 64u
#define SIGNET_MAX_INFLIGHT 4096u
#define SIGNET_IDEM_LEN 16
#define SIGNET_ERRMSG_MAX 320

/* Tunables of a client; signet_opts_default() fills the defaults above. */
struct signet_opts {
	unsigned timeout_ms;     /* one request, all attempts included; 0 = cfg->timeout_ms,
	                            or the default if that is 0 too */
	unsigned retries;        /* attempts after the first one; an attempt that is not
	                            cut short by a lost connection or a "busy" answer waits
	                            timeout_ms / (retries + 1) for its reply */
	unsigned backoff_ms;     /* pause before the first resend, doubled each time */
	unsigned backoff_max_ms; /* cap of that pause */
	size_t max_msg;          /* largest reply accepted (ZMQ_MAXMSGSIZE); 256..64 MiB */
	unsigned max_inflight;   /* requests pending at once, 1..SIGNET_MAX_INFLIGHT */
};

/* Fills *o with the defaults (timeout_ms = 0: take the configuration's). */
void signet_opts_default(struct signet_opts *o);

struct signet_client;

/*
 * Creates a client for the appliance described by cfg (endpoint, server
 * public key, secret key file) with the options opts (NULL: defaults) and
 * starts connecting in the background; it does not wait for the connection.
 * Returns NULL on failure, with a one-line reason in why (why_len bytes; may
 * be NULL): unreadable or insecure secret key file, a secret key that is not
 * 40 characters of Z85, a bad endpoint, bad options, libzmq without CURVE.
 */
struct signet_client *signet_client_new(const struct sg_clientconf *cfg,
                                        const struct signet_opts *opts, char *why, size_t why_len);

/*
 * As signet_client_new, with the configuration loaded from the YAML file at
 * path (sg_clientconf_load).  *err (may be NULL) receives the error code of a
 * failure: SG_ERR_CONFIG / SG_ERR_IO / SG_ERR_NOT_FOUND / SG_ERR_PERM, etc.
 */
struct signet_client *signet_client_open(const char *path, const struct signet_opts *opts, int *err,
                                         char *why, size_t why_len);

/* Closes the socket (pending requests are dropped), wipes and frees; NULL-safe. */
void signet_client_free(struct signet_client *c);

/* The endpoint this client connects to (never NULL). */
const char *signet_client_endpoint(const struct signet_client *c);

/* Timeout of requests sent from now on (1..3600000 ms); SG_ERR_INVALID_ARG. */
int signet_client_set_timeout(struct signet_client *c, unsigned timeout_ms);

/*
 * Message of the last failure of a call on c that returned an error: the
 * appliance's err.msg for an appliance error, else a local explanation;
 * "" when none.  Valid until the next call on c.
 */
const char *signet_client_errmsg(const struct signet_client *c);

/* ---- Pipelined (asynchronous) requests ---- */

/*
 * Queues req for sending.  The library assigns req->id (returned in *id too,
 * may be NULL) and, for a sign.digest without an idempotency key, draws a
 * random SIGNET_IDEM_LEN-byte one into req->idem (likewise for sign.cms,
 * timestamp, cert.issue and cert.revoke).  Never blocks: the request
 * is sent at once when the connection is up, else by the next
 * signet_client_recv/wait.  Returns SG_ERR_LIMIT when max_inflight requests
 * are pending, SG_ERR_INVALID_ARG when req cannot be encoded (bad op, hash,
 * digest length), SG_ERR_INTERNAL when the random source fails.
 */
int signet_client_send(struct signet_client *c, struct sg_req *req, uint64_t *id);

/*
 * Waits up to wait_ms (< 0: until one completes; every pending request has a
 * deadline, so this is bounded) for the next request to complete, in the
 * order in which they complete.  Returns 0 and fills *rep (release it with
 * sg_rep_clear) with its outcome: rep->id says which request; rep->ok, or
 * rep->err with rep->err_name and rep->err_msg say how it ended, whether the
 * appliance answered an error or the request failed locally (SG_ERR_TIMEOUT,
 * SG_ERR_UNAVAILABLE, or a decoding error such as SG_ERR_MALFORMED for a
 * reply that does not parse).  Returns SG_ERR_TIMEOUT when nothing completed
 * within wait_ms and SG_ERR_NOT_FOUND when nothing is pending.
 */
int signet_client_recv(struct signet_client *c, int wait_ms, struct sg_rep *rep);

/*
 * As signet_client_recv for the one request id: blocks until it completes
 * (bounded by its deadlines); replies to other requests that arrive meanwhile
 * are kept for later.  Returns 0 (with *rep as above) or SG_ERR_NOT_FOUND
 * when id is not pending.
 */
int signet_client_wait(struct signet_client *c, uint64_t id, struct sg_rep *rep);

/* Forgets pending request id: no resend, a late reply is dropped.  0 or SG_ERR_NOT_FOUND. */
int signet_client_cancel(struct signet_client *c, uint64_t id);

/* Number of requests sent or queued whose outcome was not yet collected. */
size_t signet_client_pending(const struct signet_client *c);

/*
 * Sends req and waits for its outcome into *rep (release with sg_rep_clear).
 * Returns 0 when the appliance answered ok, else the error (rep->err); the
 * message is in rep->err_msg and signet_client_errmsg().
 */
int signet_client_call(struct signet_client *c, struct sg_req *req, struct sg_rep *rep);

/*
 * Fills request i (0..n-1) of a pipeline.  Returns 0 to send it, 1 to skip it
 * (nothing is sent and done is not called for i), or a negative SG_ERR_* to
 * stop the pipeline with that error.
 */
typedef int (*signet_fill_fn)(void *arg, size_t i, struct sg_req *req);

/*
 * Receives the outcome of request i (as signet_client_recv describes it);
 * rep is released by the pipeline after the call.  Returns 0 to go on, or a
 * negative SG_ERR_* to stop the pipeline with that error.
 */
typedef int (*signet_done_fn)(void *arg, size_t i, const struct sg_rep *rep);

/*
 * Runs n requests with at most depth (1..max_inflight; larger is clamped) in
 * flight: fills and sends request i as soon as fewer than depth are pending,
 * and calls done for each as it completes, in completion order.  Failed
 * requests are reported to done, not returned.  Returns 0 when every request
 * was filled and completed, or the first negative value of fill or done (the
 * requests still pending are then cancelled).  Only requests of this pipeline
 * may be pending on c when it starts (SG_ERR_INVALID_ARG otherwise).
 */
int signet_client_pipeline(struct signet_client *c, size_t n, unsigned depth, signet_fill_fn fill,
                           signet_done_fn done, void *arg);

/* ---- Synchronous helpers (each one request, resent as described above) ---- */

/* ping: fills *out (may be NULL) with the server's name and clock. */
int signet_ping(struct signet_client *c, struct sg_ping_rep *out);

/*
 * keys.list: on success *keys (release with signet_keys_free) holds the *n
 * keys this client may use; *keys is NULL when *n is 0.
 */
int signet_keys_list(struct signet_client *c, struct sg_key_info **keys, size_t *n);

/* Frees the n keys of signet_keys_list (with their certificates); NULL-safe. */
void signet_keys_free(struct sg_key_info *keys, size_t n);

/* The key named name in keys[0..n), or NULL. */
const struct sg_key_info *signet_keys_find(const struct sg_key_info *keys, size_t n,
                                           const char *name);

/*
 * sign.digest: signs req->digest (req->digest_len bytes of req->hash) with
 * req->key.  When req->idem_len is 0 the library draws a random idempotency
 * key into req->idem first; resends (after a timeout, a lost connection, a
 * "busy" answer) use the same key, so a retried request yields the stored
 * signature.  On success *out holds the signature and the audit receipt; the
 * library has checked that the reply names the key, hash and padding asked
 * for (SG_ERR_MALFORMED otherwise).
 */
int signet_sign_digest(struct signet_client *c, struct sg_sign_req *req, struct sg_sign_rep *out);

/*
 * sign.cms: a detached CMS SignedData (DER) over the content whose digest is
 * req->digest, signed with req->key, with the key's certificate chain and the
 * signed attributes contentType, signingTime, messageDigest and
 * CMSAlgorithmProtection (docs/formats.md).  req->pad must be SG_PAD_NONE.
 * Idempotency as for signet_sign_digest.  On success out->data (release
 * with free()) holds out->len bytes of DER; the library has checked that the
 * reply names the key and hash asked for (SG_ERR_MALFORMED otherwise).
 */
int signet_sign_cms(struct signet_client *c, struct sg_sign_req *req, struct sg_blob_rep *out);

/*
 * timestamp: an RFC 3161 TimeStampResp (DER) from the appliance's TSA for
 * req->tsq (a DER TimeStampReq) or for the imprint req->hash / req->digest.
 * A request the TSA refuses still succeeds: out->status is then the
 * PKIStatus (2, rejection) and out->data a rejection response.  Idempotency
 * as for signet_sign_digest.  out->data is released with free().
 */
int signet_timestamp(struct signet_client *c, struct sg_ts_req *req, struct sg_blob_rep *out);

/*
 * sign.cms, then timestamp over the signature: the CMS of signet_sign_cms
 * with an RFC 3161 token from the appliance's TSA embedded as the unsigned
 * attribute id-aa-signatureTimeStampToken (RFC 3161 appendix A).  The token
 * request carries a random nonce, which the answer must echo
 * (SG_ERR_MALFORMED otherwise); a rejected request is SG_ERR_DENIED.  Two
 * requests, each audited; the client needs sign.cms on the key and
 * timestamp on the TSA.  out->data is released with free().
 */
int signet_sign_cms_timestamped(struct signet_client *c, struct sg_sign_req *req,
                                struct sg_blob_rep *out);

/* ---- CA delegation (docs/protocol.md) ---- */

/*
 * cert.issue: a certificate for the CSR req->csr (PEM or DER) under the
 * profile req->profile, with the lifetime req->ttl (0: the profile's
 * default) and the SANs req->sans.  When req->idem_len is 0 the library
 * draws a random idempotency key into req->idem first; resends use it, so a
 * retried request yields the stored certificate (out->replayed), never a
 * second one.  Profile refusals come back as the appliance's codes
 * (SG_ERR_SAN_NOT_ALLOWED, SG_ERR_TTL_TOO_LONG, ...).
 *
 * On success *out holds the reply: out->cert and out->chain[] point into
 * out->buf, which belongs to the caller (release with
 * signet_issue_rep_free).  The library has checked that the reply answers
 * this request: it names the profile asked for, out->cert is one DER
 * X.509 certificate whose serial number and validity are out->serial,
 * out->not_before and out->not_after, and whose public key is the CSR's
 * (when the CSR parses here; the appliance refuses one that does not);
 * SG_ERR_MALFORMED otherwise.  It does not verify the chain: the appliance
 * verified the signature before releasing it, and a relying party checks the
 * chain against its own root (openssl verify).
 */
int signet_cert_issue(struct signet_client *c, struct sg_issue_req *req, struct sg_issue_rep *out);

/* Frees out->buf of signet_cert_issue and clears *rep; NULL-safe. */
void signet_issue_rep_free(struct sg_issue_rep *rep);

/*
 * cert.revoke: revokes the certificate of serial req->serial (big-endian,
 * no leading zero byte) with reason req->reason.  Idempotency as for
 * signet_cert_issue: a resent revocation returns the stored answer, not
 * SG_ERR_ALREADY_REVOKED.  On success *out is the certificate's new status;
 * the library has checked that it is revoked, for the serial and reason
 * asked (SG_ERR_MALFORMED otherwise).  SG_ERR_UNKNOWN_SERIAL,
 * SG_ERR_ALREADY_REVOKED and SG_ERR_CEREMONY_REQUIRED are the appliance's.
 */
int signet_cert_revoke(struct signet_client *c, struct sg_serial_req *req,
                       struct sg_status_rep *out);

/*
 * cert.status: the status of the certificate of serial[0..serial_len)
 * (1..SG_SERIAL_MAX bytes, else SG_ERR_INVALID_ARG).  A serial the
 * appliance did not issue is not an error: out->status is SG_CERT_UNKNOWN.
 * The library has checked that the reply is about this serial
 * (SG_ERR_MALFORMED otherwise).
 */
int signet_cert_status(struct signet_client *c, const unsigned char *serial, size_t serial_len,
                       struct sg_status_rep *out);

/*
 * crl.get: the current CRL of the CA ca.  On success out->data (release with
 * free()) holds out->len bytes of DER; the library has checked that the
 * reply names ca and that the DER is one X.509 CRL whose CRL number,
 * thisUpdate and nextUpdate are out->number, out->this_update and
 * out->next_update (SG_ERR_MALFORMED otherwise).  Its signature is the
 * caller's to verify, with the CA's certificate (signet_ca_list).
 */
int signet_crl_get(struct signet_client *c, const char *ca, struct sg_crl_rep *out);

/*
 * ca.list: on success *cas (release with signet_cas_free) holds the *n CAs
 * whose profiles this client may use, each with its certificate and chain
 * (DER) and those profiles; *cas is NULL when *n is 0.  The library has
 * checked that no CA is listed twice and that each CA's first certificate
 * is a DER X.509 certificate whose notAfter is the entry's not_after
 * (SG_ERR_MALFORMED otherwise).
 */
int signet_ca_list(struct signet_client *c, struct sg_ca_info **cas, size_t *n);

/* Frees the n CAs of signet_ca_list (with their certificates); NULL-safe. */
void signet_cas_free(struct sg_ca_info *cas, size_t n);

/* ---- Local cryptography (no appliance involved) ---- */

/*
 * Hashes the regular file at path with hash, reading it in fixed-size chunks
 * (constant memory, any size).  Fails with SG_ERR_CHANGED when the file's
 * size, inode, device, mtime or ctime (nanoseconds) differ before and after
 * reading, or when the bytes read differ from the size; SG_ERR_NOT_FOUND,
 * SG_ERR_IO (unreadable, not a regular file), SG_ERR_UNKNOWN_HASH.  On
 * success digest (SG_HASH_MAX_LEN bytes) holds *digest_len bytes and *size
 * (may be NULL) the file's size.
 */
int signet_hash_file(const char *path, enum sg_hash hash, unsigned char *digest, size_t *digest_len,
                     uint64_t *size);

/*
 * Verifies sig over digest (digest_len bytes of hash) with the public key
 * pkey: ECDSA (DER signature) or RSA with pad (SG_PAD_NONE means PKCS#1
 * v1.5; PSS uses MGF1 with the same hash and a salt as long as the digest,
 * as the appliance signs).  Returns 0, SG_ERR_BAD_SIGNATURE,
 * SG_ERR_BAD_PADDING (a padding for an EC key), SG_ERR_DIGEST_LENGTH,
 * SG_ERR_UNKNOWN_HASH or SG_ERR_INTERNAL.
 */
int signet_verify_digest(EVP_PKEY *pkey, enum sg_hash hash, enum sg_pad pad,
                         const unsigned char *digest, size_t digest_len, const unsigned char *sig,
                         size_t sig_len);

/*
 * Parses k->pub (DER SubjectPublicKeyInfo) into *out (release with
 * EVP_PKEY_free) and checks that it is a key of algorithm k->alg.  Returns 0
 * or SG_ERR_MALFORMED.
 */
int signet_key_pubkey(const struct sg_key_info *k, EVP_PKEY **out);

#endif /* SIGNET_H */
