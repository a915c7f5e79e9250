/*
 * sg_policy: the access policy of signetd, loaded from a YAML file with a
 * strict schema (libcyaml; see policies/README.md).
 *
 * A policy names clients (name, CURVE public key or "http: true", roles,
 * in-flight cap), keys (name, pkcs11: URI, algorithm, purposes, self-verify,
 * certificate chain) and rules (which clients or roles may run which ops on
 * which keys with which hashes and paddings, and which certificate profiles
 * they may issue, revoke and query under).  Everything no rule allows is
 * denied.  The profiles themselves are sg_profile's (a directory of their
 * own); sg_profiles_check_policy matches the two.
 *
 * A key's certificate file (PEM, leaf first) is read and checked at load:
 * only CERTIFICATE blocks, each certificate issued and signed by the next,
 * the leaf's key of the key's algorithm, and for a time-stamping key the
 * EKU that RFC 3161 requires.  Whether the leaf's public key is the HSM
 * key's is the signer's and the front's to check; validity periods are
 * left to verifiers, so that an expired certificate still loads.
 *
 * A loaded policy is immutable; a reload builds a new one (re-reading the
 * certificate files) and swaps it in, so a failed reload leaves the old
 * policy in force.  Loading refuses unknown fields, duplicate keys and YAML
 * aliases and names the field and line.  This module never touches the HSM,
 * the network or the audit log, and reads no file but the policy and the
 * certificate files it names.
 */
#ifndef SG_POLICY_H
#define SG_POLICY_H

#include <stddef.h>

#include <openssl/x509.h>

#include "sg_alg.h"
#include "sg_wire.h"

#define SG_POLICY_MAX_CLIENTS 4096
#define SG_POLICY_MAX_KEYS 1024
#define SG_POLICY_MAX_RULES 4096
#define SG_POLICY_URI_MAX 512
#define SG_POLICY_MAX_CERTS 8        /* per key: the leaf and its chain */
#define SG_POLICY_CERT_DER_MAX 16384 /* one certificate, DER */
#define SG_POLICY_CERT_FILE_MAX (256 * 1024)

struct sg_policy;
struct sg_policy_client;
struct sg_policy_key;

/*
 * Loads and validates the policy at path.  Returns 0 and *out, or
 * SG_ERR_POLICY / SG_ERR_IO / SG_ERR_NOT_FOUND with why (why_len bytes)
 * naming the file, line and field at fault.
 */
int sg_policy_load(const char *path, struct sg_policy **out, char *why, size_t why_len);

/* NULL-safe. */
void sg_policy_free(struct sg_policy *p);

/*
 * Clients.  pub is the raw 32-byte CURVE public key; the HTTP client (which
 * has none) is never returned by sg_policy_client_by_pubkey.
 */
const struct sg_policy_client *sg_policy_client_by_pubkey(const struct sg_policy *p,
                                                          const unsigned char pub[32]);
const struct sg_policy_client *sg_policy_client_by_name(const struct sg_policy *p,
                                                        const char *name);
const char *sg_policy_client_name(const struct sg_policy_client *c);
/*
 * The identity of requests that arrive through the appliance's HTTP listener
 * (RFC 3161 over HTTP): the one client with "http: true", or NULL when the
 * policy has none (then every HTTP request is denied).
 */
const struct sg_policy_client *sg_policy_client_http(const struct sg_policy *p);
/* 1 if c is the HTTP client, else 0. */
int sg_policy_client_is_http(const struct sg_policy_client *c);
/* The client's cap on requests in flight; 0 means "use the daemon default". */
unsigned sg_policy_client_max_inflight(const struct sg_policy_client *c);

/* Keys, in file order. */
size_t sg_policy_key_count(const struct sg_policy *p);
const struct sg_policy_key *sg_policy_key_at(const struct sg_policy *p, size_t i);
const struct sg_policy_key *sg_policy_key_by_name(const struct sg_policy *p, const char *name);
const char *sg_policy_key_name(const struct sg_policy_key *k);
const char *sg_policy_key_uri(const struct sg_policy_key *k);
enum sg_keyalg sg_policy_key_alg(const struct sg_policy_key *k);
/* 1 unless the policy turned self-verification off for this (EC) key. */
int sg_policy_key_self_verify(const struct sg_policy_key *k);
/*
 * The key's certificate and the rest of its file, in file order (the
 * intermediates, and the root if the file has it); the leaf is not in the
 * chain.  Borrowed from the policy, valid as long as it is; NULL when the key
 * has no certificate (the chain is then NULL too; it is an empty stack for a
 * file with the leaf alone).
 */
X509 *sg_policy_key_cert(const struct sg_policy_key *k);
STACK_OF(X509) * sg_policy_key_chain(const struct sg_policy_key *k);

/*
 * 1 if the key has purpose "ca": it signs certificates, CRLs and OCSP
 * responses and nothing else (no rule can grant a key op on it), and it has
 * a certificate with basicConstraints CA:TRUE (and keyCertSign and cRLSign
 * if it has a keyUsage).  NULL-safe (0).
 */
int sg_policy_key_is_ca(const struct sg_policy_key *k);

/*
 * The decision.  key is NULL for ops that name no key (ping, keys.list,
 * crl.get, ca.list, ocsp); hash and pad are SG_HASH_NONE / SG_PAD_NONE where
 * they do not apply.  For the key ops (sign.digest, sign.cms, timestamp)
 * hash is the hash of the digest: of the content for sign.cms, of the
 * message imprint for timestamp.  For the profile ops (cert.issue,
 * cert.revoke, cert.status) key is the profile's name and the decision is
 * sg_policy_check_profile's.  Returns 0 if a rule allows it,
 * SG_ERR_UNKNOWN_KEY if key names no key of the policy, SG_ERR_BAD_PADDING
 * if pad does not suit the key's algorithm, and SG_ERR_DENIED otherwise
 * (also for an unknown client).
 */
int sg_policy_check(const struct sg_policy *p, const char *client, enum sg_op op, const char *key,
                    enum sg_hash hash, enum sg_pad pad);

/*
 * The decision for a profile op: cert.issue with profile, or cert.revoke /
 * cert.status of a certificate issued under profile.  0 if a rule that
 * applies to client lists op and profile; SG_ERR_DENIED otherwise, also for
 * an unknown client, a NULL profile or an op that is not a profile op.  A
 * profile the policy does not name is denied like any other: whether it
 * exists is for the caller to tell (SG_ERR_UNKNOWN_PROFILE) only after this.
 */
int sg_policy_check_profile(const struct sg_policy *p, const char *client, enum sg_op op,
                            const char *profile);

/*
 * Bit (1 << op) for each profile op that the rules grant client on profile
 * (for ca.list); 0 for an unknown client or a NULL profile.
 */
unsigned sg_policy_profile_ops(const struct sg_policy *p, const char *client, const char *profile);

/*
 * Bit (1 << op) for each op any rule grants client, on whatever key or
 * profile: whether it may use an op at all, e.g. before a serial is looked
 * up for cert.status.  0 for an unknown client.
 */
unsigned sg_policy_client_ops(const struct sg_policy *p, const char *client);

/*
 * Every profile name the rules give, sorted by strcmp, each once (for
 * sg_profiles_check_policy); sg_policy_profile_at returns NULL past the end.
 */
size_t sg_policy_profile_count(const struct sg_policy *p);
const char *sg_policy_profile_at(const struct sg_policy *p, size_t i);

/*
 * What client may do with key: *ops gets bit (1 << op) for each key op a
 * rule allows on it, *hashes bit (1 << hash) for each hash allowed with any
 * of them.  Both 0 when nothing is allowed.
 */
void sg_policy_key_grants(const struct sg_policy *p, const char *client,
                          const struct sg_policy_key *k, unsigned *ops, unsigned *hashes);

#endif /* SG_POLICY_H */
