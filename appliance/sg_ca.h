/*
 * sg_ca: the CA delegation ops of signetd's front — cert.issue,
 * cert.revoke, cert.status, crl.get, ca.list and ocsp — and the CRLs the
 * appliance keeps current for each issuing CA.
 *
 * It owns the certificate profiles (sg_profile) and the state of CA requests
 * in flight; the front (sg_front.c) owns the sockets, the pending pool, the
 * signer channel and the audit submission, and calls in here at each step of
 * a CA request: when it arrives, when the HSM has signed, to encode its
 * reply, and once its record is durable.  Certificates, revocations and CRLs
 * are stored in the audit database in the transaction of their record
 * (sg_audit), so none exists without its audit record.
 *
 * Like the rest of the front it never sees a private key: certificates, CRLs
 * and OCSP responses are built in two phases (sg_x509, sg_ocsp) and the CA
 * key in the HSM signs the digest of their to-be-signed part.
 */
#ifndef SG_CA_H
#define SG_CA_H

#include <stdint.h>

#include "sg_front_priv.h"

/*
 * Loads the profiles of dir (NULL: none) and checks them against policy.
 * 0, or the sg_profiles_load / sg_profiles_check_policy error with why.
 */
int sg_ca_new(const char *dir, const struct sg_policy *policy, struct sg_ca **out, char *why,
              size_t why_len);
void sg_ca_free(struct sg_ca *ca);

/*
 * For a policy reload: loads the profiles again and checks them against the
 * new policy; on success the new set replaces the old one (requests in flight
 * keep what they took).  On failure nothing changes.
 */
int sg_ca_reload(struct sg_ca *ca, const struct sg_policy *policy, char *why, size_t why_len);

/* A CA op has arrived (decoded, the client's in-flight count taken). */
void sg_ca_request(struct sg_front *f, struct sg_pending *p, const struct sg_req *req);

/* The HSM signed for p (p->ca set); sig is the raw signature. */
void sg_ca_on_signed(struct sg_front *f, struct sg_pending *p, const unsigned char *sig,
                     size_t sig_len);

/* Encodes the successful reply of p (a CA op) into f->sb. */
int sg_ca_encode_reply(struct sg_front *f, struct sg_pending *p);

/* p's record is durable (or failed): follow-ups such as a new CRL after a revocation. */
void sg_ca_after_audit(struct sg_front *f, struct sg_pending *p);

/* Frees a CA request's state; NULL-safe. */
void sg_ca_job_free(struct sg_ca_job *job);

/*
 * Timers: CRLs are re-issued before their nextUpdate (at half their
 * lifetime) and at start when missing.  sg_ca_tick starts what is due;
 * sg_ca_timeout_ms says how long the loop may sleep (-1: nothing due).
 */
void sg_ca_tick(struct sg_front *f);
long sg_ca_timeout_ms(const struct sg_front *f);

#endif /* SG_CA_H */
