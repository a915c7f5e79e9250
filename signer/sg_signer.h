/*
 * sg_signer: the PKCS#11/OpenSSL core.  Owns the PKCS#11 module (libp11),
 * the login, the key inventory and the signing sessions.
 *
 * Only modules whose real path is listed in the allowlist file are loaded.
 * The user PIN comes from an sg_secret (read from a 0600 file or an
 * inherited descriptor by the caller), is used for the login and wiped.
 * Keys are found by RFC 7512 pkcs11: URI (token, object, id, type) or by
 * "label:NAME"; the token label must match exactly (not as a prefix).
 *
 * Every signature is verified with the key's public key before it is
 * released (for EC keys this can be turned off per key by the policy; RSA
 * keys are always verified) with a pure OpenSSL copy of the public key, so
 * verification never goes through the token.  Signing is thread-safe; the
 * service runs cfg->workers threads, each with its own ZeroMQ sockets.
 * PKCS#11 sessions come from libp11's per-slot pool: each signature takes a
 * free session or opens a new one, so W threads sign at once on W distinct
 * sessions, up to libp11 0.4.12's limit of 16 per slot (more workers wait
 * for a free session).
 *
 * This module never sees the network, the policy or the audit log: it
 * answers typed sg_hsm_proto messages and re-checks each one itself.
 */
#ifndef SG_SIGNER_H
#define SG_SIGNER_H

#include <stddef.h>

#include "sg_hsm_proto.h"
#include "sg_secret.h"

struct sg_signer_config {
	const char *module;    /* absolute path of the PKCS#11 module */
	const char *allowlist; /* file: one absolute module path per line, '#' comments */
	const char *token_label;
	const struct sg_secret *pin; /* borrowed; the signer wipes its own copies */
	unsigned workers;            /* 1..64 */
};

struct sg_signer;

/*
 * Checks the module against the allowlist (SG_ERR_MODULE_NOT_ALLOWED; the
 * module or the allowlist writable by group/others or owned by someone else
 * than root or us: SG_ERR_PERM), loads it, finds the one token whose label
 * is exactly cfg->token_label (SG_ERR_NOT_FOUND; two such tokens:
 * SG_ERR_CONFIG) and logs in (SG_ERR_LOGIN).  Other failures:
 * SG_ERR_INVALID_ARG (workers not 1..64, empty PIN), SG_ERR_HSM_UNAVAILABLE.
 * why (why_len bytes) explains a failure; it never contains the PIN.
 */
int sg_signer_open(const struct sg_signer_config *cfg, struct sg_signer **out, char *why,
                   size_t why_len);

/* Stops the service if running, closes sessions, logs out, unloads; NULL-safe. */
void sg_signer_close(struct sg_signer *s);

/*
 * Replaces the key inventory with specs[0..n) atomically: signatures in
 * flight finish with the old one.  status[i] tells for each spec whether its
 * key was found and matches its algorithm, with its public key.  Keys that
 * fail are left out of the inventory; the call itself fails only if nothing
 * could be done at all (SG_ERR_HSM: the token's keys cannot be listed, the
 * old inventory stays; SG_ERR_INVALID_ARG, SG_ERR_NOMEM).  Status errors:
 * SG_ERR_NOT_FOUND (no private key matches, or the URI names another
 * token), SG_ERR_CONFIG (algorithm or size mismatch, unknown alg, several
 * keys match), SG_ERR_INVALID_ARG (bad name or URI), SG_ERR_DENIED (a PIN in
 * the URI), SG_ERR_DUPLICATE_FIELD (name listed twice), SG_ERR_HSM.
 */
int sg_signer_set_keys(struct sg_signer *s, const struct sg_hsm_keyspec *specs, size_t n,
                       struct sg_hsm_key_status *status);

/*
 * Signs req->digest with req->key and verifies the result; thread-safe.
 * rep->err is 0, SG_ERR_UNKNOWN_KEY, SG_ERR_DIGEST_LENGTH, SG_ERR_BAD_PADDING,
 * SG_ERR_UNKNOWN_HASH, SG_ERR_HSM or SG_ERR_SELF_VERIFY; the function
 * returns rep->err.  ECDSA signatures are DER; RSA PKCS#1 v1.5 and PSS
 * (salt length = hash length, MGF1 with the same hash).
 */
int sg_signer_sign(struct sg_signer *s, const struct sg_hsm_sign_req *req,
                   struct sg_hsm_sign_rep *rep);

/*
 * Starts the service on a ZeroMQ context: each of cfg->workers threads
 * connects a PULL socket to req_ep and a PUSH socket to rep_ep and answers
 * SG_HSM_SIGN messages; one more thread connects a REP socket to ctl_ep and
 * answers SG_HSM_KEYS.  The front binds all three endpoints (before or after
 * this call).  Returns 0, SG_ERR_BUSY (already serving), SG_ERR_CONFIG (an
 * endpoint cannot be connected) or SG_ERR_INVALID_ARG.
 */
int sg_signer_serve_start(struct sg_signer *s, void *zctx, const char *req_ep, const char *rep_ep,
                          const char *ctl_ep);

/* Stops and joins the service threads (they exit when the context terminates
 * or when asked); NULL-safe. */
void sg_signer_serve_stop(struct sg_signer *s);

#endif /* SG_SIGNER_H */
