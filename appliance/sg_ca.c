/* sg_ca: see sg_ca.h and docs/protocol.md (cert.issue ... ocsp). */
#include "sg_ca.h"
#include "sg_err.h"
#include "sg_log.h"
#include "sg_ocsp.h"
#include "sg_profile.h"
#include "sg_x509.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define SG_CA_SERIAL_LEN 16    /* 127 random bits: RFC 5280 asks 64 at least */
#define SG_CA_MAX_ISSUERS 64   /* distinct issuing CA keys */
#define SG_CA_CLIENT "signetd" /* the client name of the appliance's own CRL records */
#define SG_CA_CRL_RETRY_S 60   /* a failed CRL is tried again after this long */
#define SG_CA_OCSP_LIFE_S 3600 /* nextUpdate of an OCSP answer */

/* The CRL state of one issuing CA. */
struct sg_ca_issuer {
	char name[SG_NAME_MAX + 1];
	int in_flight; /* a CRL of it is being made */
	int dirty;     /* a revocation came after the CRL in flight started */
	int64_t due;   /* when its next CRL is due (seconds since the epoch) */
};

struct sg_ca {
	char *dir;
	struct sg_profiles *profiles;
	struct sg_ca_issuer issuers[SG_CA_MAX_ISSUERS];
	size_t n_issuers;
	int loaded_due; /* the issuers' due times were read from the database */
};

/* The state of one CA request in flight. */
struct sg_ca_job {
	enum sg_op op;
	int internal; /* a CRL the appliance makes of its own accord: no reply */
	char ca[SG_NAME_MAX + 1];
	char profile[SG_NAME_MAX + 1];
	struct sg_x509_build *xb;
	struct sg_ocsp_build *ob;
	unsigned char *der; /* the certificate, CRL or OCSP response */
	size_t der_len;
	struct sg_audit_cert cert; /* issued, revoked or asked about */
	unsigned char *cert_der;   /* cert.status / revoke: the stored certificate */
	struct sg_audit_crl crl;
	enum sg_cert_status status;
	int replayed; /* cert.revoke of a certificate revoked already with that reason */
};

void
sg_ca_job_free(struct sg_ca_job *job)
{
	if (job == NULL)
		return;
	sg_x509_build_free(job->xb);
	sg_ocsp_build_free(job->ob);
	free(job->der);
	free(job->cert_der);
	free(job);
}

/* Rebuilds the issuer list from the profiles, keeping the state of issuers that stay. */
static void
sg_ca_set_issuers(struct sg_ca *ca)
{
	struct sg_ca_issuer old[SG_CA_MAX_ISSUERS];
	size_t n_old = ca->n_issuers, i, j;

	memcpy(old, ca->issuers, sizeof(old));
	ca->n_issuers = 0;
	for (i = 0; i < sg_profiles_count(ca->profiles); i++) {
		const char *name = sg_profile_issuer(sg_profiles_at(ca->profiles, i));
		struct sg_ca_issuer *is = NULL;

		for (j = 0; j < ca->n_issuers; j++) {
			if (strcmp(ca->issuers[j].name, name) == 0)
				is = &ca->issuers[j];
		}
		if (is != NULL)
			continue;
		if (ca->n_issuers == SG_CA_MAX_ISSUERS) {
			sg_warn("more than %d issuing CA keys: CRLs of %s are not kept",
			        SG_CA_MAX_ISSUERS, name);
			continue;
		}
		is = &ca->issuers[ca->n_issuers++];
		memset(is, 0, sizeof(*is));
		snprintf(is->name, sizeof(is->name), "%s", name);
		for (j = 0; j < n_old; j++) {
			if (strcmp(old[j].name, name) == 0)
				*is = old[j];
		}
	}
	ca->loaded_due = 0;
}

static struct sg_ca_issuer *
sg_ca_issuer(struct sg_ca *ca, const char *name)
{
	size_t i;

	for (i = 0; i < ca->n_issuers; i++) {
		if (strcmp(ca->issuers[i].name, name) == 0)
			return &ca->issuers[i];
	}
	return NULL;
}

static int
sg_ca_load(const char *dir, const struct sg_policy *policy, struct sg_profiles **out, char *why,
           size_t why_len)
{
	struct sg_profiles *ps = NULL;
	int r;

	*out = NULL;
	if (dir == NULL)
		return 0;
	if ((r = sg_profiles_load(dir, &ps, why, why_len)) != 0)
		return r;
	if ((r = sg_profiles_check_policy(ps, policy, why, why_len)) != 0) {
		sg_profiles_free(ps);
		return r;
	}
	*out = ps;
	return 0;
}

int
sg_ca_new(const char *dir, const struct sg_policy *policy, struct sg_ca **out, char *why,
          size_t why_len)
{
	struct sg_ca *ca;
	int r;

	*out = NULL;
	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return SG_ERR_NOMEM;
	if (dir != NULL && (ca->dir = strdup(dir)) == NULL) {
		free(ca);
		return SG_ERR_NOMEM;
	}
	if ((r = sg_ca_load(dir, policy, &ca->profiles, why, why_len)) != 0) {
		sg_ca_free(ca);
		return r;
	}
	sg_ca_set_issuers(ca);
	if (dir != NULL)
		sg_info("%zu certificate profiles, %zu issuing CAs",
		        sg_profiles_count(ca->profiles), ca->n_issuers);
	*out = ca;
	return 0;
}

void
sg_ca_free(struct sg_ca *ca)
{
	if (ca == NULL)
		return;
	sg_profiles_free(ca->profiles);
	free(ca->dir);
	free(ca);
}

int
sg_ca_reload(struct sg_ca *ca, const struct sg_policy *policy, char *why, size_t why_len)
{
	struct sg_profiles *ps = NULL;
	int r;

	if ((r = sg_ca_load(ca->dir, policy, &ps, why, why_len)) != 0)
		return r;
	/* Requests in flight hold no pointer into the profiles (names only). */
	sg_profiles_free(ca->profiles);
	ca->profiles = ps;
	sg_ca_set_issuers(ca);
	return 0;
}

static struct sg_ca_job *
sg_ca_job_new(struct sg_front *f, struct sg_pending *p, enum sg_op op)
{
	if ((p->ca = calloc(1, sizeof(*p->ca))) == NULL) {
		sg_front_fail(f, p, SG_ERR_NOMEM, NULL);
		return NULL;
	}
	p->ca->op = op;
	return p->ca;
}

/* The CA key entry of name with a usable certificate, or NULL with p failed. */
static const struct sg_key_entry *
sg_ca_key(struct sg_front *f, struct sg_pending *p, const char *name, time_t now)
{
	const struct sg_key_entry *e = sg_keys_find(f->keys, name);
	int r;

	if (e == NULL || !e->usable) {
		snprintf(p->why, sizeof(p->why), "CA key %s is not available in the HSM", name);
		sg_front_fail(f, p, SG_ERR_HSM_UNAVAILABLE, NULL);
		return NULL;
	}
	if ((r = sg_keys_cert_usable(e, now)) != 0) {
		snprintf(p->why, sizeof(p->why), "CA key %s: %s", name,
		         r == SG_ERR_NO_CERT ? "no certificate matches it"
		                             : "its certificate chain is not valid now");
		sg_front_fail(f, p, r, NULL);
		return NULL;
	}
	return e;
}

/* The padding the HSM uses with a CA key: PKCS#1 v1.5 for RSA, none for EC. */
static enum sg_pad
sg_ca_pad(const struct sg_key_entry *e)
{
	return sg_keyalg_is_rsa(e->alg) ? SG_PAD_PKCS1 : SG_PAD_NONE;
}

/* The hash a CA key signs CRLs with: SHA-384 for P-384 keys, SHA-256 otherwise. */
static enum sg_hash
sg_ca_crl_hash(const struct sg_key_entry *e)
{
	return e->alg == SG_KEYALG_EC_P384 ? SG_HASH_SHA384 : SG_HASH_SHA256;
}

/* SHA-256 over what identifies a cert.issue request, for its idempotency key. */
static int
sg_ca_issue_fp(const struct sg_issue_req *q, unsigned char fp[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char ttl[8];
	size_t i;
	int ok;

	for (i = 0; i < 8; i++)
		ttl[i] = (unsigned char)(q->ttl >> (56 - 8 * i));
	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, q->profile, strlen(q->profile) + 1) == 1 &&
	     EVP_DigestUpdate(ctx, ttl, sizeof(ttl)) == 1 &&
	     EVP_DigestUpdate(ctx, q->csr, q->csr_len) == 1;
	for (i = 0; ok && i < q->n_sans; i++)
		ok = EVP_DigestUpdate(ctx, q->sans[i], strlen(q->sans[i]) + 1) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, fp, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : SG_ERR_INTERNAL;
}

/* A fresh random serial number that no stored certificate has. */
static int
sg_ca_new_serial(struct sg_front *f, unsigned char *serial, size_t *len)
{
	struct sg_audit_cert c;
	unsigned char *der = NULL;
	int tries, r;

	for (tries = 0; tries < 4; tries++) {
		if (RAND_bytes(serial, SG_CA_SERIAL_LEN) != 1)
			return SG_ERR_INTERNAL;
		serial[0] &= 0x7f; /* positive */
		serial[0] |= 0x01; /* and 16 bytes long, never shorter */
		*len = SG_CA_SERIAL_LEN;
		r = sg_audit_cert_get(f->audit, serial, *len, &c, &der);
		free(der);
		der = NULL;
		if (r == SG_ERR_NOT_FOUND)
			return 0;
		if (r != 0)
			return SG_ERR_AUDIT_UNAVAILABLE;
	}
	return SG_ERR_INTERNAL;
}

/* The RFC 2253 one-line form of name, cut to fit out (for the certificate store). */
static void
sg_ca_subject_line(const X509_NAME *name, char *out, size_t len)
{
	BIO *mem = BIO_new(BIO_s_mem());
	int n = 0;

	out[0] = '\0';
	if (mem != NULL && X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(mem, out, (int)len - 1)) > 0)
		out[n] = '\0';
	BIO_free(mem);
}

/* The SANs as OpenSSL prints them ("DNS:a, IP Address:b"), cut to fit out. */
static void
sg_ca_sans_line(const GENERAL_NAMES *sans, char *out, size_t len)
{
	BIO *mem = BIO_new(BIO_s_mem());
	int i, n = 0;

	out[0] = '\0';
	for (i = 0; mem != NULL && sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		if (i > 0)
			BIO_puts(mem, ", ");
		GENERAL_NAME_print(mem, sk_GENERAL_NAME_value(sans, i));
	}
	if (mem != NULL && (n = BIO_read(mem, out, (int)len - 1)) > 0)
		out[n] = '\0';
	BIO_free(mem);
}

static void
sg_ca_issue(struct sg_front *f, struct sg_pending *p, const struct sg_issue_req *q)
{
	const struct sg_profile *prof;
	const struct sg_key_entry *cak;
	struct sg_profile_issue iss;
	struct sg_cert_params cp;
	struct sg_ca_job *job;
	const char *sans[SG_SANS_MAX];
	unsigned char tbs[SG_HASH_MAX_LEN], fp[32];
	size_t tbs_len = 0, i;
	X509_REQ *csr = NULL;
	time_t now = time(NULL);
	int r;

	memset(&iss, 0, sizeof(iss));
	p->rec.meta = q->meta;
	if ((r = sg_policy_check_profile(f->policy, p->rec.client, SG_OP_CERT_ISSUE, q->profile)) !=
	    0) {
		sg_front_fail(f, p, r, "not allowed by policy");
		return;
	}
	if ((prof = sg_profiles_find(f->ca->profiles, q->profile)) == NULL) {
		sg_front_fail(f, p, SG_ERR_UNKNOWN_PROFILE, NULL);
		return;
	}
	if ((job = sg_ca_job_new(f, p, SG_OP_CERT_ISSUE)) == NULL)
		return;
	snprintf(job->profile, sizeof(job->profile), "%s", q->profile);
	snprintf(job->ca, sizeof(job->ca), "%s", sg_profile_issuer(prof));
	snprintf(p->rec.key, sizeof(p->rec.key), "%s", job->ca);
	p->rec.hash = sg_profile_hash(prof);
	if ((cak = sg_ca_key(f, p, job->ca, now)) == NULL)
		return;
	p->rec.pad = sg_ca_pad(cak);
	if ((r = sg_x509_csr_parse(q->csr, q->csr_len, &csr)) != 0) {
		sg_front_fail(f, p, r, r == SG_ERR_CSR_INVALID ? "not a PKCS#10 request" : NULL);
		return;
	}
	for (i = 0; i < q->n_sans; i++)
		sans[i] = q->sans[i];
	if ((r = sg_profile_apply(prof, csr, sans, q->n_sans, q->ttl, now, cak->id.cert, &iss,
	                          p->why, sizeof(p->why))) != 0) {
		sg_front_fail(f, p, r, NULL);
		goto out;
	}
	/* The record's digest: what identifies the request (profile, CSR, options). */
	if ((r = sg_ca_issue_fp(q, fp)) != 0) {
		sg_front_fail(f, p, r, "cannot fingerprint the request");
		goto out;
	}
	memcpy(p->rec.digest, fp, sizeof(fp));
	p->rec.digest_len = sizeof(fp);
	if (sg_front_idem(f, p, q->idem, q->idem_len, fp, sizeof(fp)) != 0)
		goto out;
	memset(&cp, 0, sizeof(cp));
	if ((r = sg_ca_new_serial(f, cp.serial, &cp.serial_len)) != 0) {
		sg_front_fail(f, p, r, "cannot draw a serial number");
		goto out;
	}
	cp.pubkey = iss.pubkey;
	cp.subject = iss.subject;
	cp.sans = iss.sans;
	cp.not_before = iss.not_before;
	cp.not_after = iss.not_after;
	cp.is_ca = iss.is_ca;
	cp.path_len = iss.path_len;
	cp.key_usage = iss.key_usage;
	cp.eku_nids = iss.eku_nids;
	cp.n_eku = iss.n_eku;
	cp.name_constraints = iss.name_constraints;
	cp.crl_dp_url = iss.crl_dp_url;
	cp.aia_issuer_url = iss.aia_issuer_url;
	cp.aia_ocsp_url = iss.aia_ocsp_url;
	cp.policy_oids = iss.policy_oids;
	cp.n_policies = iss.n_policies;
	cp.issuer = cak->id.cert;
	cp.hash = iss.hash;
	if ((r = sg_x509_begin(&cp, &job->xb, tbs, &tbs_len)) != 0) {
		sg_front_fail(f, p, r, "cannot build the certificate");
		goto out;
	}
	/* What the certificate row will hold once signed. */
	memcpy(job->cert.serial, cp.serial, cp.serial_len);
	job->cert.serial_len = cp.serial_len;
	snprintf(job->cert.ca, sizeof(job->cert.ca), "%s", job->ca);
	snprintf(job->cert.profile, sizeof(job->cert.profile), "%s", job->profile);
	snprintf(job->cert.requester, sizeof(job->cert.requester), "%s", p->rec.client);
	sg_ca_subject_line(iss.subject, job->cert.subject, sizeof(job->cert.subject));
	sg_ca_sans_line(iss.sans, job->cert.sans, sizeof(job->cert.sans));
	job->cert.not_before = (int64_t)cp.not_before;
	job->cert.not_after = (int64_t)cp.not_after;
	job->cert.is_ca = cp.is_ca;
	if (iss.capped)
		sg_info("certificate for %s under %s: lifetime cut to the issuer's", p->rec.client,
		        job->profile);
	sg_front_to_signer(f, p, cak, cp.hash, p->rec.pad, tbs, tbs_len);
out:
	sg_profile_issue_clear(&iss);
	X509_REQ_free(csr);
}

/* cert.revoke and cert.status: find the certificate, then decide. */
static void
sg_ca_serial_op(struct sg_front *f, struct sg_pending *p, enum sg_op op,
                const struct sg_serial_req *q)
{
	struct sg_ca_job *job;
	struct sg_pending *other;
	size_t i;
	int r;

	/* Whether the client may use the op at all, before it learns whether a serial exists. */
	if ((sg_policy_client_ops(f->policy, p->rec.client) & (1u << op)) == 0) {
		sg_front_fail(f, p, SG_ERR_DENIED, "not allowed by policy");
		return;
	}
	if ((job = sg_ca_job_new(f, p, op)) == NULL)
		return;
	memcpy(p->rec.digest, q->serial, q->serial_len);
	p->rec.digest_len = q->serial_len;
	r = sg_audit_cert_get(f->audit, q->serial, q->serial_len, &job->cert, &job->cert_der);
	if (r == SG_ERR_NOT_FOUND) {
		job->status = SG_CERT_UNKNOWN;
		memcpy(job->cert.serial, q->serial, q->serial_len);
		job->cert.serial_len = q->serial_len;
		if (op == SG_OP_CERT_REVOKE) {
			sg_front_fail(f, p, SG_ERR_UNKNOWN_SERIAL, NULL);
			return;
		}
		sg_front_finish(f, p, 0);
		return;
	}
	if (r != 0) {
		sg_front_fail(f, p, SG_ERR_AUDIT_UNAVAILABLE, "certificate store unreadable");
		return;
	}
	snprintf(p->rec.key, sizeof(p->rec.key), "%s", job->cert.ca);
	snprintf(job->ca, sizeof(job->ca), "%s", job->cert.ca);
	snprintf(job->profile, sizeof(job->profile), "%s", job->cert.profile);
	if ((r = sg_policy_check_profile(f->policy, p->rec.client, op, job->cert.profile)) != 0) {
		sg_front_fail(f, p, r, "not allowed by policy");
		return;
	}
	job->status = job->cert.revoked_at != 0 ? SG_CERT_REVOKED : SG_CERT_GOOD;
	if (op == SG_OP_CERT_STATUS) {
		sg_front_finish(f, p, 0);
		return;
	}
	if (job->status == SG_CERT_REVOKED) {
		/* A revocation is idempotent: asked again (a resend) with the same reason it
		 * answers the revocation that stands; with another reason it is refused. */
		if (job->cert.reason == (int)q->reason) {
			job->replayed = 1;
			sg_front_finish(f, p, 0);
			return;
		}
		snprintf(p->why, sizeof(p->why), "already revoked, with reason %s",
		         sg_reason_name((enum sg_reason)job->cert.reason) != NULL
		             ? sg_reason_name((enum sg_reason)job->cert.reason)
		             : "?");
		sg_front_fail(f, p, SG_ERR_ALREADY_REVOKED, NULL);
		return;
	}
	if (job->cert.is_ca) {
		sg_front_fail(f, p, SG_ERR_CEREMONY_REQUIRED,
		              "revoking a CA certificate is a key ceremony");
		return;
	}
	/* Two revocations of one certificate in flight: the second waits for the first. */
	for (i = 0; i < f->n_chunks * SG_CHUNK; i++) {
		other = &f->chunks[i / SG_CHUNK][i % SG_CHUNK];
		if (other != p && other->state != SG_PEND_FREE && other->ca != NULL &&
		    other->ca->op == SG_OP_CERT_REVOKE && other->ca->status == SG_CERT_REVOKED &&
		    other->ca->cert.serial_len == q->serial_len &&
		    memcmp(other->ca->cert.serial, q->serial, q->serial_len) == 0) {
			sg_front_fail(f, p, SG_ERR_BUSY,
			              "this certificate is being revoked; retry");
			return;
		}
	}
	job->status = SG_CERT_REVOKED;
	job->cert.revoked_at = (int64_t)time(NULL);
	job->cert.reason = (int)q->reason;
	p->rec.state = SG_AUDIT_STATE_CERT_REVOKED;
	p->rec.cert = &job->cert;
	sg_front_finish(f, p, 0);
}

static void
sg_ca_crl_get(struct sg_front *f, struct sg_pending *p, const struct sg_crl_req *q)
{
	struct sg_ca_job *job;
	int r;

	if ((r = sg_policy_check(f->policy, p->rec.client, SG_OP_CRL_GET, NULL, SG_HASH_NONE,
	                         SG_PAD_NONE)) != 0) {
		sg_front_fail(f, p, r, "not allowed by policy");
		return;
	}
	snprintf(p->rec.key, sizeof(p->rec.key), "%s", q->ca);
	if (sg_ca_issuer(f->ca, q->ca) == NULL) {
		snprintf(p->why, sizeof(p->why), "%s issues under no profile", q->ca);
		sg_front_fail(f, p, SG_ERR_UNKNOWN_KEY, NULL);
		return;
	}
	if ((job = sg_ca_job_new(f, p, SG_OP_CRL_GET)) == NULL)
		return;
	r = sg_audit_crl_get(f->audit, q->ca, &job->crl, &job->der);
	if (r == SG_ERR_NOT_FOUND) {
		sg_front_fail(f, p, SG_ERR_BUSY, "the first CRL of this CA is being made; retry");
		return;
	}
	if (r != 0) {
		sg_front_fail(f, p, SG_ERR_AUDIT_UNAVAILABLE, "CRL store unreadable");
		return;
	}
	job->der_len = job->crl.der_len;
	job->crl.der = job->der;
	sg_front_finish(f, p, 0);
}

static void
sg_ca_list(struct sg_front *f, struct sg_pending *p)
{
	int r;

	if ((r = sg_policy_check(f->policy, p->rec.client, SG_OP_CA_LIST, NULL, SG_HASH_NONE,
	                         SG_PAD_NONE)) != 0) {
		sg_front_fail(f, p, r, "not allowed by policy");
		return;
	}
	if (sg_ca_job_new(f, p, SG_OP_CA_LIST) == NULL)
		return;
	sg_front_finish(f, p, 0);
}

/* An OCSP answer that carries no statuses (malformedRequest, unauthorized): not signed. */
static void
sg_ca_ocsp_refuse(struct sg_front *f, struct sg_pending *p, int status, const char *why)
{
	struct sg_ca_job *job = p->ca;
	int r;

	sg_debug("OCSP request %llu refused (%d): %s", (unsigned long long)p->rec.req_id, status,
	         why);
	if ((r = sg_ocsp_error_response(status, &job->der, &job->der_len)) != 0) {
		sg_front_fail(f, p, r, NULL);
		return;
	}
	snprintf(p->why, sizeof(p->why), "%s", why);
	sg_front_finish(f, p, 0);
}

/*
 * ocsp (RFC 6960): every CertID of the request must name one of the
 * appliance's CAs, the same for all; each serial is looked up among the
 * certificates that CA issued.  The CA key signs the answer.
 */
static void
sg_ca_ocsp(struct sg_front *f, struct sg_pending *p, const struct sg_ocsp_req *q)
{
	struct sg_ocsp_query qs[SG_OCSP_MAX_QUERIES];
	struct sg_ocsp_status st[SG_OCSP_MAX_QUERIES];
	unsigned char nonce[SG_OCSP_MAX_NONCE], tbs[SG_HASH_MAX_LEN];
	const struct sg_key_entry *cak = NULL;
	struct sg_ca_job *job;
	size_t n = 0, nonce_len = 0, i, j, tbs_len = 0;
	time_t now = time(NULL);
	int r;

	if ((r = sg_policy_check(f->policy, p->rec.client, SG_OP_OCSP, NULL, SG_HASH_NONE,
	                         SG_PAD_NONE)) != 0) {
		sg_front_fail(f, p, r, "not allowed by policy");
		return;
	}
	if ((job = sg_ca_job_new(f, p, SG_OP_OCSP)) == NULL)
		return;
	if (sg_ocsp_parse_request(q->der, q->len, qs, SG_OCSP_MAX_QUERIES, &n, nonce, &nonce_len) !=
	    0) {
		sg_ca_ocsp_refuse(f, p, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
		                  "not an OCSP request this responder reads");
		return;
	}
	for (i = 0; i < f->ca->n_issuers && cak == NULL; i++) {
		const struct sg_key_entry *e = sg_keys_find(f->keys, f->ca->issuers[i].name);

		if (e == NULL || !e->usable || e->id.cert == NULL)
			continue;
		for (j = 0; j < n && sg_ocsp_query_matches(&qs[j], e->id.cert); j++)
			;
		if (j == n)
			cak = e;
	}
	if (cak == NULL) {
		sg_ca_ocsp_refuse(f, p, OCSP_RESPONSE_STATUS_UNAUTHORIZED,
		                  "asks about certificates of no CA of this appliance");
		return;
	}
	snprintf(job->ca, sizeof(job->ca), "%s", cak->name);
	snprintf(p->rec.key, sizeof(p->rec.key), "%s", cak->name);
	if (sg_keys_cert_usable(cak, now) != 0) {
		sg_ca_ocsp_refuse(f, p, OCSP_RESPONSE_STATUS_INTERNALERROR,
		                  "the CA certificate is not valid now");
		return;
	}
	for (i = 0; i < n; i++) {
		struct sg_audit_cert c;
		unsigned char *der = NULL;

		memset(&st[i], 0, sizeof(st[i]));
		st[i].status = V_OCSP_CERTSTATUS_UNKNOWN;
		st[i].reason = -1;
		r = sg_audit_cert_get(f->audit, qs[i].serial, qs[i].serial_len, &c, &der);
		free(der);
		if (r != 0 && r != SG_ERR_NOT_FOUND) {
			sg_ca_ocsp_refuse(f, p, OCSP_RESPONSE_STATUS_TRYLATER,
			                  "certificate store unreadable");
			return;
		}
		if (r != 0 || strcmp(c.ca, cak->name) != 0)
			continue;
		if (c.revoked_at != 0) {
			st[i].status = V_OCSP_CERTSTATUS_REVOKED;
			st[i].revoked_at = (time_t)c.revoked_at;
			st[i].reason = c.reason;
		} else {
			st[i].status = V_OCSP_CERTSTATUS_GOOD;
		}
	}
	p->rec.hash = sg_ca_crl_hash(cak);
	p->rec.pad = sg_ca_pad(cak);
	if ((r = sg_ocsp_begin(cak->id.cert, cak->id.cert, qs, st, n, nonce, nonce_len, now,
	                       now + SG_CA_OCSP_LIFE_S, p->rec.hash, &job->ob, tbs, &tbs_len)) !=
	    0) {
		sg_ca_ocsp_refuse(f, p, OCSP_RESPONSE_STATUS_INTERNALERROR,
		                  "cannot build the OCSP answer");
		return;
	}
	memcpy(p->rec.digest, tbs, tbs_len);
	p->rec.digest_len = tbs_len;
	sg_front_to_signer(f, p, cak, p->rec.hash, p->rec.pad, tbs, tbs_len);
}

void
sg_ca_request(struct sg_front *f, struct sg_pending *p, const struct sg_req *req)
{
	switch (req->op) {
	case SG_OP_CERT_ISSUE:
		sg_ca_issue(f, p, &req->u.issue);
		break;
	case SG_OP_CERT_REVOKE:
	case SG_OP_CERT_STATUS:
		sg_ca_serial_op(f, p, req->op, &req->u.serial);
		break;
	case SG_OP_CRL_GET:
		sg_ca_crl_get(f, p, &req->u.crl);
		break;
	case SG_OP_CA_LIST:
		sg_ca_list(f, p);
		break;
	case SG_OP_OCSP:
		sg_ca_ocsp(f, p, &req->u.ocsp);
		break;
	case SG_OP_NONE:
	case SG_OP_PING:
	case SG_OP_KEYS_LIST:
	case SG_OP_SIGN_DIGEST:
	case SG_OP_SIGN_CMS:
	case SG_OP_TIMESTAMP:
	default:
		sg_front_fail(f, p, SG_ERR_UNKNOWN_OP, NULL);
		break;
	}
}

void
sg_ca_on_signed(struct sg_front *f, struct sg_pending *p, const unsigned char *sig, size_t sig_len)
{
	struct sg_ca_job *job = p->ca;
	int r;

	switch (job->op) {
	case SG_OP_CERT_ISSUE:
		if ((r = sg_x509_finish(job->xb, sig, sig_len, &job->der, &job->der_len)) != 0) {
			sg_front_fail(f, p, r, sg_strerror(r));
			return;
		}
		job->cert.der = job->der;
		job->cert.der_len = job->der_len;
		p->rec.state = SG_AUDIT_STATE_CERT_ISSUED;
		p->rec.cert = &job->cert;
		/* Stored with the idempotency key: a retry gets this certificate again. */
		p->rec.out = job->der;
		p->rec.out_len = job->der_len;
		break;
	case SG_OP_CRL_GET:
		if ((r = sg_crl_finish(job->xb, sig, sig_len, &job->der, &job->der_len)) != 0) {
			sg_front_fail(f, p, r, sg_strerror(r));
			return;
		}
		job->crl.der = job->der;
		job->crl.der_len = job->der_len;
		p->rec.state = SG_AUDIT_STATE_CRL;
		p->rec.crl = &job->crl;
		break;
	case SG_OP_OCSP:
		if ((r = sg_ocsp_finish(job->ob, sig, sig_len, &job->der, &job->der_len)) != 0) {
			sg_front_fail(f, p, r, sg_strerror(r));
			return;
		}
		break;
	default:
		sg_front_fail(f, p, SG_ERR_INTERNAL, NULL);
		return;
	}
	p->rec.has_sig = 1;
	snprintf(p->rec.rep.key, sizeof(p->rec.rep.key), "%s", p->rec.key);
	p->rec.rep.hash = p->rec.hash;
	p->rec.rep.pad = p->rec.pad;
	memcpy(p->rec.rep.sig, sig, sig_len);
	p->rec.rep.sig_len = sig_len;
	f->st.signatures++;
	sg_front_finish(f, p, 0);
}

/* The DER certificates of CA key name (its own first), for replies. */
static void
sg_ca_chain(const struct sg_front *f, const char *name, int with_root, size_t *n,
            const unsigned char **der, size_t *len)
{
	const struct sg_key_entry *e = sg_keys_find(f->keys, name);
	X509 *x;
	size_t i;

	*n = 0;
	for (i = 0; e != NULL && i < e->n_der; i++) {
		/* der[0] is e's certificate, der[i] the chain's (i - 1)th. */
		x = i == 0 ? e->id.cert : sk_X509_value(e->id.chain, (int)i - 1);
		if (!with_root && x != NULL && X509_check_issued(x, x) == X509_V_OK)
			continue; /* a root: the relying party has its own */
		der[*n] = e->der[i];
		len[*n] = e->der_len[i];
		(*n)++;
	}
}

/* An ASN1_TIME as seconds since the epoch (0 when unreadable). */
static uint64_t
sg_ca_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (uint64_t)timegm(&tm);
}

/* The reply of a cert.issue answered from the idempotency store: read the certificate back. */
static int
sg_ca_issue_replayed(struct sg_front *f, struct sg_pending *p, struct sg_issue_rep *rep)
{
	const unsigned char *q = p->out;
	const ASN1_INTEGER *sn;
	X509 *x;
	int len, r = SG_ERR_INTERNAL;

	if (q == NULL || (x = d2i_X509(NULL, &q, (long)p->out_len)) == NULL)
		return SG_ERR_INTERNAL;
	if ((sn = X509_get0_serialNumber(x)) != NULL && (len = ASN1_STRING_length(sn)) > 0 &&
	    (size_t)len <= sizeof(rep->serial)) {
		memcpy(rep->serial, ASN1_STRING_get0_data(sn), (size_t)len);
		rep->serial_len = (size_t)len;
		rep->not_before = sg_ca_time(X509_get0_notBefore(x));
		rep->not_after = sg_ca_time(X509_get0_notAfter(x));
		rep->cert = p->out;
		rep->cert_len = p->out_len;
		r = 0;
	}
	X509_free(x);
	return r;
}

int
sg_ca_encode_reply(struct sg_front *f, struct sg_pending *p)
{
	const struct sg_audit_record *rec = &p->rec;
	struct sg_ca_job *job = p->ca;
	struct sg_issue_rep ir;
	struct sg_status_rep sr;
	struct sg_crl_rep cr;
	struct sg_ca_info *cas = NULL;
	size_t i, j, n = 0;
	int r;

	if (job == NULL) {
		/* Replayed from the idempotency store before a job was made. */
		if (rec->op != SG_OP_CERT_ISSUE || !rec->rep.replayed)
			return sg_wire_encode_err(&f->sb, rec->req_id, SG_ERR_INTERNAL, NULL);
	}
	switch (rec->op) {
	case SG_OP_CERT_ISSUE:
		memset(&ir, 0, sizeof(ir));
		if (rec->rep.replayed) {
			if ((r = sg_ca_issue_replayed(f, p, &ir)) != 0)
				return sg_wire_encode_err(&f->sb, rec->req_id, r, NULL);
			snprintf(ir.ca, sizeof(ir.ca), "%s", rec->rep.key);
			if (job != NULL)
				snprintf(ir.profile, sizeof(ir.profile), "%s", job->profile);
			ir.replayed = 1;
		} else {
			snprintf(ir.ca, sizeof(ir.ca), "%s", job->ca);
			snprintf(ir.profile, sizeof(ir.profile), "%s", job->profile);
			memcpy(ir.serial, job->cert.serial, job->cert.serial_len);
			ir.serial_len = job->cert.serial_len;
			ir.not_before = (uint64_t)job->cert.not_before;
			ir.not_after = (uint64_t)job->cert.not_after;
			ir.cert = job->der;
			ir.cert_len = job->der_len;
		}
		sg_ca_chain(f, ir.ca, 0, &ir.n_chain, ir.chain, ir.chain_len);
		ir.record = rec->seq;
		memcpy(ir.record_hash, rec->record_hash, sizeof(ir.record_hash));
		return sg_wire_encode_issue_rep(&f->sb, rec->req_id, &ir);
	case SG_OP_CERT_REVOKE:
	case SG_OP_CERT_STATUS:
		memset(&sr, 0, sizeof(sr));
		memcpy(sr.serial, job->cert.serial, job->cert.serial_len);
		sr.serial_len = job->cert.serial_len;
		sr.status = job->status;
		if (job->status != SG_CERT_UNKNOWN) {
			snprintf(sr.profile, sizeof(sr.profile), "%s", job->cert.profile);
			snprintf(sr.ca, sizeof(sr.ca), "%s", job->cert.ca);
			sr.not_after = (uint64_t)job->cert.not_after;
		}
		if (job->status == SG_CERT_REVOKED) {
			sr.revoked_at = (uint64_t)job->cert.revoked_at;
			sr.reason = (enum sg_reason)job->cert.reason;
		}
		sr.replayed = rec->op == SG_OP_CERT_REVOKE && job->replayed;
		sr.record = rec->seq;
		memcpy(sr.record_hash, rec->record_hash, sizeof(sr.record_hash));
		return sg_wire_encode_status_rep(&f->sb, rec->req_id, rec->op, &sr);
	case SG_OP_CRL_GET:
		memset(&cr, 0, sizeof(cr));
		snprintf(cr.ca, sizeof(cr.ca), "%s", job->crl.ca);
		cr.number = job->crl.number;
		cr.this_update = (uint64_t)job->crl.this_update;
		cr.next_update = (uint64_t)job->crl.next_update;
		cr.data = job->der;
		cr.len = job->der_len;
		return sg_wire_encode_crl_rep(&f->sb, rec->req_id, &cr);
	case SG_OP_CA_LIST:
		if (f->ca->n_issuers > 0 && (cas = calloc(f->ca->n_issuers, sizeof(*cas))) == NULL)
			return sg_wire_encode_err(&f->sb, rec->req_id, SG_ERR_NOMEM, NULL);
		for (i = 0; i < f->ca->n_issuers; i++) {
			const struct sg_key_entry *e =
			    sg_keys_find(f->keys, f->ca->issuers[i].name);
			struct sg_ca_info *c = &cas[n];

			if (e == NULL || !e->usable || e->id.cert == NULL)
				continue;
			for (j = 0; j < sg_profiles_count(f->ca->profiles); j++) {
				const struct sg_profile *pr = sg_profiles_at(f->ca->profiles, j);

				if (strcmp(sg_profile_issuer(pr), e->name) != 0 ||
				    sg_policy_check_profile(f->policy, rec->client,
				                            SG_OP_CERT_ISSUE,
				                            sg_profile_name(pr)) != 0 ||
				    c->n_profiles == SG_CA_PROFILES_MAX)
					continue;
				snprintf(c->profiles[c->n_profiles], sizeof(c->profiles[0]), "%s",
				         sg_profile_name(pr));
				c->n_profiles++;
			}
			if (c->n_profiles == 0)
				continue;
			snprintf(c->name, sizeof(c->name), "%s", e->name);
			c->not_after = sg_ca_time(X509_get0_notAfter(e->id.cert));
			sg_ca_chain(f, e->name, 1, &c->n_certs, c->cert, c->cert_len);
			n++;
		}
		r = sg_wire_encode_cas_rep(&f->sb, rec->req_id, cas, n);
		free(cas);
		return r;
	case SG_OP_OCSP:
		return sg_wire_encode_ocsp_rep(&f->sb, rec->req_id, job->der, job->der_len);
	default:
		return sg_wire_encode_err(&f->sb, rec->req_id, SG_ERR_INTERNAL, NULL);
	}
}

/* Collects the revoked certificates of a CA for its CRL. */
struct sg_ca_revoked {
	struct sg_crl_entry *e;
	size_t n, cap;
};

static int
sg_ca_add_revoked(void *arg, const unsigned char *serial, size_t len, int64_t revoked_at,
                  int reason)
{
	struct sg_ca_revoked *rv = arg;
	struct sg_crl_entry *ne;

	if (len > SG_X509_SERIAL_MAX)
		return 0;
	if (rv->n == rv->cap) {
		size_t cap = rv->cap == 0 ? 256 : rv->cap * 2;

		if (cap > SG_CRL_MAX_ENTRIES || (ne = realloc(rv->e, cap * sizeof(*ne))) == NULL)
			return SG_ERR_NOMEM;
		rv->e = ne;
		rv->cap = cap;
	}
	memcpy(rv->e[rv->n].serial, serial, len);
	rv->e[rv->n].serial_len = len;
	rv->e[rv->n].revoked_at = (time_t)revoked_at;
	rv->e[rv->n].reason = reason;
	rv->n++;
	return 0;
}

/*
 * Starts a new CRL of issuer is: an internal request (no client, client name
 * SG_CA_CLIENT in the audit log) that the CA key signs like any other.
 */
static void
sg_ca_crl_start(struct sg_front *f, struct sg_ca_issuer *is)
{
	struct sg_ca_revoked rv = {0};
	const struct sg_key_entry *cak;
	struct sg_pending *p;
	struct sg_ca_job *job;
	unsigned char tbs[SG_HASH_MAX_LEN];
	char counter[SG_NAME_MAX + 8];
	size_t tbs_len = 0;
	uint64_t number = 0, life;
	time_t now = time(NULL);
	int r;

	is->due = (int64_t)now + SG_CA_CRL_RETRY_S; /* until this one succeeds */
	if ((p = sg_front_internal_pending(f)) == NULL)
		return;
	p->rec.op = SG_OP_CRL_GET;
	snprintf(p->rec.client, sizeof(p->rec.client), "%s", SG_CA_CLIENT);
	snprintf(p->rec.key, sizeof(p->rec.key), "%s", is->name);
	if ((job = sg_ca_job_new(f, p, SG_OP_CRL_GET)) == NULL)
		return;
	job->internal = 1;
	snprintf(job->ca, sizeof(job->ca), "%s", is->name);
	is->in_flight = 1;
	is->dirty = 0;
	if ((cak = sg_ca_key(f, p, is->name, now)) == NULL)
		return;
	p->rec.hash = sg_ca_crl_hash(cak);
	p->rec.pad = sg_ca_pad(cak);
	if ((r = sg_audit_revoked(f->audit, is->name, sg_ca_add_revoked, &rv)) != 0) {
		sg_front_fail(f, p, r == SG_ERR_NOMEM ? r : SG_ERR_AUDIT_UNAVAILABLE,
		              "cannot list the revoked certificates");
		goto out;
	}
	snprintf(counter, sizeof(counter), "crl:%s", is->name);
	if ((r = sg_audit_counter_reserve(f->audit, counter, 1, &number)) != 0) {
		sg_front_fail(f, p, r, "cannot reserve a CRL number");
		goto out;
	}
	if ((life = sg_profiles_crl_next_update(f->ca->profiles, is->name)) == 0)
		life = SG_PROFILE_DEFAULT_CRL_NEXT_UPDATE;
	snprintf(job->crl.ca, sizeof(job->crl.ca), "%s", is->name);
	job->crl.number = number;
	job->crl.this_update = (int64_t)now;
	job->crl.next_update = (int64_t)(now + (time_t)life);
	if ((r = sg_crl_begin(cak->id.cert, rv.e, rv.n, number, now, now + (time_t)life,
	                      p->rec.hash, &job->xb, tbs, &tbs_len)) != 0) {
		sg_front_fail(f, p, r, "cannot build the CRL");
		goto out;
	}
	memcpy(p->rec.digest, tbs, tbs_len);
	p->rec.digest_len = tbs_len;
	sg_debug("CRL %llu of %s: %zu revoked certificates", (unsigned long long)number, is->name,
	         rv.n);
	sg_front_to_signer(f, p, cak, p->rec.hash, p->rec.pad, tbs, tbs_len);
out:
	free(rv.e);
}

void
sg_ca_after_audit(struct sg_front *f, struct sg_pending *p)
{
	struct sg_ca_job *job = p->ca;
	struct sg_ca_issuer *is;

	if (job == NULL)
		return;
	if (p->rec.state == SG_AUDIT_STATE_CERT_REVOKED && p->rec.status == 0 &&
	    p->rec.result == 0 && (is = sg_ca_issuer(f->ca, job->ca)) != NULL) {
		/* A revocation is in the next CRL at once, not at the next scheduled one. */
		if (is->in_flight)
			is->dirty = 1;
		else
			is->due = 0;
	}
	if (job->internal && (is = sg_ca_issuer(f->ca, job->ca)) != NULL) {
		is->in_flight = 0;
		if (p->rec.status == 0 && p->rec.result == 0) {
			int64_t life = job->crl.next_update - job->crl.this_update;

			is->due = job->crl.this_update + life / 2;
			sg_info("CRL %llu of %s issued (next update in %lld s)",
			        (unsigned long long)job->crl.number, job->ca, (long long)life);
		} else {
			sg_warn("CRL of %s not issued: %s; trying again in %d s", job->ca,
			        sg_strerror(p->rec.status != 0 ? p->rec.status : p->rec.result),
			        SG_CA_CRL_RETRY_S);
		}
		if (is->dirty)
			is->due = 0;
	}
}

/* Reads when each issuer's next CRL is due from the stored CRLs (once per profile set). */
static void
sg_ca_load_due(struct sg_front *f)
{
	struct sg_audit_crl crl;
	unsigned char *der = NULL;
	size_t i;

	for (i = 0; i < f->ca->n_issuers; i++) {
		struct sg_ca_issuer *is = &f->ca->issuers[i];

		if (is->in_flight || is->due != 0)
			continue;
		if (sg_audit_crl_get(f->audit, is->name, &crl, &der) == 0)
			is->due = crl.this_update + (crl.next_update - crl.this_update) / 2;
		free(der);
		der = NULL;
	}
	f->ca->loaded_due = 1;
}

void
sg_ca_tick(struct sg_front *f)
{
	int64_t now = (int64_t)time(NULL);
	size_t i;

	if (f->ca == NULL || f->draining)
		return;
	if (!f->ca->loaded_due)
		sg_ca_load_due(f);
	for (i = 0; i < f->ca->n_issuers; i++) {
		struct sg_ca_issuer *is = &f->ca->issuers[i];

		if (!is->in_flight && is->due <= now)
			sg_ca_crl_start(f, is);
	}
}

long
sg_ca_timeout_ms(const struct sg_front *f)
{
	int64_t now = (int64_t)time(NULL), next = -1;
	size_t i;

	if (f->ca == NULL || f->draining)
		return -1;
	if (!f->ca->loaded_due)
		return 0;
	for (i = 0; i < f->ca->n_issuers; i++) {
		const struct sg_ca_issuer *is = &f->ca->issuers[i];

		if (is->in_flight)
			continue;
		if (next < 0 || is->due < next)
			next = is->due;
	}
	if (next < 0)
		return -1;
	return next <= now ? 0 : (long)((next - now) * 1000);
}
