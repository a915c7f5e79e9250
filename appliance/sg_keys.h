/*
 * sg_keys: the front's view of the key inventory — for every key of the
 * policy, whether the HSM holds it, its public key, its certificate chain
 * (checked against that public key) and, when signetd.yaml configures one,
 * the time-stamping authority built on the TSA key.
 *
 * An inventory is immutable once built: a policy reload builds a new one and
 * the front swaps it in.  Requests in flight never point into an inventory
 * (CMS and time-stamp builds hold their own certificate references), so the
 * old one can be freed at once.
 *
 * This module holds public material only (public keys, certificates).  It
 * never talks to the HSM: the front hands it the signer's answer to the key
 * inventory request.
 */
#ifndef SG_KEYS_H
#define SG_KEYS_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "sg_cms.h"
#include "sg_config.h"
#include "sg_hsm_proto.h"
#include "sg_policy.h"
#include "sg_tsa.h"
#include "sg_wire.h"

struct sg_key_entry {
	char name[SG_NAME_MAX + 1];
	int usable; /* the HSM holds it and it matches the policy */
	enum sg_keyalg alg;
	unsigned char pub[SG_PUB_MAX]; /* DER SubjectPublicKeyInfo */
	size_t pub_len;
	/* The certificate and its chain, only if the certificate's public key is
	 * the HSM key's (else none, with a warning at load). */
	struct sg_cms_identity id; /* id.cert NULL when none */
	size_t n_der;              /* DER of cert then chain, for keys.list */
	unsigned char *der[SG_CERTS_MAX];
	size_t der_len[SG_CERTS_MAX];
};

struct sg_keys;

/*
 * Builds the inventory of policy from rep, the signer's answer to the key
 * request listing the policy's keys in policy order (rep->n must equal the
 * policy's key count).  Keys the signer could not use are kept as unusable;
 * a certificate that does not match its key is dropped; both with a warning.
 * tsa (may be NULL or disabled) configures the time-stamping authority on
 * its key: a TSA that cannot be built (key unknown or unusable, no fit
 * certificate) is left out with a warning, and timestamp requests are then
 * answered no_tsa.  Returns 0, SG_ERR_INVALID_ARG or SG_ERR_NOMEM.
 */
int sg_keys_new(const struct sg_policy *policy, const struct sg_hsm_keys_rep *rep,
                const struct sg_config_tsa *tsa, struct sg_keys **out);

/* NULL-safe. */
void sg_keys_free(struct sg_keys *k);

size_t sg_keys_count(const struct sg_keys *k);
const struct sg_key_entry *sg_keys_at(const struct sg_keys *k, size_t i); /* sorted by name */
const struct sg_key_entry *sg_keys_find(const struct sg_keys *k, const char *name);

/* The TSA and the name of its key, or NULL when there is none. */
const struct sg_tsa *sg_keys_tsa(const struct sg_keys *k);
const char *sg_keys_tsa_key(const struct sg_keys *k);

/*
 * Whether e may sign a CMS or a time-stamp at time t: 0, SG_ERR_NO_CERT (no
 * usable certificate) or SG_ERR_CERT_VALIDITY (t outside the validity of the
 * certificate or of a certificate of its chain).
 */
int sg_keys_cert_usable(const struct sg_key_entry *e, time_t t);

#endif /* SG_KEYS_H */
