/*
 * sg_profile: certificate profiles, the rules under which the appliance's CA
 * keys issue certificates (policies/profiles/README.md).
 *
 * A profile is one strict YAML file (common/sg_yaml.h: unknown fields,
 * duplicate keys and aliases refused; errors name the file, line and field)
 * in the profiles directory.  It says what kind of certificate it makes
 * (a leaf, or an intermediate CA), which CA key of the policy issues it, the
 * subject public keys it accepts, which subject attributes and subject
 * alternative names a request may carry, the key usages, extended key usages,
 * basic and name constraints, URLs and policy OIDs the certificate gets, its
 * default and maximum lifetime, how far notBefore is back-dated, the signature
 * hash, and how often the issuer's CRL is re-issued.  Everything is checked at
 * load; a loaded set is immutable (a reload builds a new one), so that
 * sg_profile_apply may run in any number of threads at once.
 *
 * sg_profile_apply checks a parsed CSR (whose signature the caller has
 * verified: sg_x509_csr_parse) and the request's options against one profile
 * and hands out what the certificate must hold, or refuses with the error
 * code of the first rule broken.  It draws no serial, signs nothing and
 * builds no certificate: the serial and the issuer are the caller's, the
 * certificate is built (signer/sg_x509) from what it returns.
 *
 * This module never touches the HSM, the network or the audit log, and reads
 * no file but the profiles directory.  It trusts nothing in a CSR: every
 * value that reaches a certificate comes either from the profile or through
 * one of its rules.
 */
#ifndef SG_PROFILE_H
#define SG_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "sg_alg.h"

struct sg_policy;

#define SG_PROFILE_VERSION 1
#define SG_PROFILES_MAX 256        /* profiles in a directory */
#define SG_PROFILE_MAX_ATTRS 16    /* subject attribute rules */
#define SG_PROFILE_MAX_LIST 256    /* entries of a profile's lists */
#define SG_PROFILE_MAX_SANS 256    /* the most a profile may allow */
#define SG_PROFILE_MAX_EKU 16      /* extended key usages (sg_x509's cap) */
#define SG_PROFILE_MAX_POLICIES 16 /* certificate policy OIDs (sg_x509's cap) */
#define SG_PROFILE_URL_MAX 512     /* CRL distribution point and AIA URLs */
#define SG_PROFILE_VALUE_MAX 256   /* one subject attribute value, UTF-8 bytes */
#define SG_PROFILE_PATTERN_MAX 512 /* one subject pattern */
#define SG_PROFILE_TTL_MAX ((uint64_t)20 * 366 * 86400) /* 20 years */
#define SG_PROFILE_BACKDATE_MAX ((uint64_t)86400)       /* 1 day */

/* Defaults of optional fields. */
#define SG_PROFILE_DEFAULT_LEAF_TTL ((uint64_t)86400)        /* 24 h */
#define SG_PROFILE_DEFAULT_BACKDATE ((uint64_t)300)          /* 5 min */
#define SG_PROFILE_DEFAULT_CRL_NEXT_UPDATE ((uint64_t)86400) /* 24 h */

enum sg_profile_kind {
	SG_PROFILE_LEAF = 1,
	SG_PROFILE_INTERMEDIATE_CA = 2,
};

struct sg_profiles;
struct sg_profile;

/*
 * What the certificate must hold, as sg_profile_apply hands it out; the
 * serial and the issuer are the caller's.  Its fields are those of struct
 * sg_cert_params (signer/sg_x509.h), with the same names and meanings, for
 * the caller to copy over; this module does not depend on sg_x509 (nor on
 * sg_formats), so that profiles load and check where no certificate is built.
 *
 * Owned (freed by sg_profile_issue_clear): pubkey (a reference of its own to
 * the CSR's key), subject, sans.  Borrowed from the profile, valid as long as
 * the profile set is: eku_nids, name_constraints, the URLs and policy_oids.
 */
struct sg_profile_issue {
	EVP_PKEY *pubkey;
	X509_NAME *subject;  /* built from the profile's attribute rules, in their order */
	GENERAL_NAMES *sans; /* NULL when the certificate gets none */
	time_t not_before;   /* now - backdate, never before the issuer's notBefore */
	time_t not_after;    /* now + ttl, capped at the issuer's notAfter */
	int capped;          /* 1 if not_after was cut to the issuer's notAfter */
	int is_ca;           /* 1 for an intermediate CA profile */
	int path_len;        /* pathLenConstraint; -1 for none (and for leaves) */
	unsigned key_usage;  /* KU_* bits of <openssl/x509v3.h>; never 0 */
	const int *eku_nids; /* NULL when n_eku is 0 (no extendedKeyUsage) */
	size_t n_eku;
	NAME_CONSTRAINTS *name_constraints; /* NULL when none; intermediate CAs only */
	const char *crl_dp_url;             /* NULL when none */
	const char *aia_issuer_url;         /* NULL when none */
	const char *aia_ocsp_url;           /* NULL when none */
	const char *const *policy_oids;     /* dotted OIDs; NULL when n_policies is 0 */
	size_t n_policies;
	enum sg_hash hash; /* the signature's */
};

/*
 * Loads every "*.yaml" file of dir (names starting with '.' are skipped; a
 * "*.yml" file is refused rather than silently skipped), at most
 * SG_PROFILES_MAX.  A profile's name must be its file's name without
 * ".yaml", so names are unique.  A directory without profiles loads (as an
 * empty set).  Returns 0 and *out, or SG_ERR_NOT_FOUND (no such directory),
 * SG_ERR_IO (not a readable directory, or a profile file unreadable),
 * SG_ERR_LIMIT (too many files), SG_ERR_NOMEM, or SG_ERR_POLICY for any
 * problem with a profile's contents, with why (why_len bytes) saying
 * "FILE:LINE: field 'PATH': reason".  The profiles' issuers are checked
 * against the policy by sg_profiles_check_policy, not here.
 */
int sg_profiles_load(const char *dir, struct sg_profiles **out, char *why, size_t why_len);

/* NULL-safe. */
void sg_profiles_free(struct sg_profiles *ps);

/* The profiles, sorted by name. */
size_t sg_profiles_count(const struct sg_profiles *ps);
const struct sg_profile *sg_profiles_at(const struct sg_profiles *ps, size_t i);
/* NULL if ps has no profile of that name. */
const struct sg_profile *sg_profiles_find(const struct sg_profiles *ps, const char *name);

/*
 * Cross-checks a profile set and a policy, which are loaded separately (and
 * reloaded separately: run it after either changes, and keep the old pair in
 * force when it fails).  Every profile's issuer must be a key of the policy
 * with purpose "ca" (hence with a CA certificate); an intermediate CA
 * profile's issuer certificate must allow one more CA below it (its
 * pathLenConstraint, if any, greater than the profile's path_len, which must
 * then be set); and every profile the policy's rules name must be in the set.
 * Returns 0 or SG_ERR_POLICY with why naming the profile file or the
 * profile.
 */
int sg_profiles_check_policy(const struct sg_profiles *ps, const struct sg_policy *policy,
                             char *why, size_t why_len);

/*
 * How long the CRLs of the CA key issuer stay current (nextUpdate -
 * thisUpdate, seconds): the shortest crl_next_update of the profiles it
 * issues under, or 0 if no profile names it.
 */
uint64_t sg_profiles_crl_next_update(const struct sg_profiles *ps, const char *issuer);

/* Accessors. */
const char *sg_profile_name(const struct sg_profile *p);
const char *sg_profile_path(const struct sg_profile *p); /* the file it came from */
enum sg_profile_kind sg_profile_kind(const struct sg_profile *p);
const char *sg_profile_issuer(const struct sg_profile *p); /* a policy key name */
enum sg_hash sg_profile_hash(const struct sg_profile *p);
uint64_t sg_profile_ttl_default(const struct sg_profile *p); /* seconds */
uint64_t sg_profile_ttl_max(const struct sg_profile *p);     /* seconds */
uint64_t sg_profile_crl_next_update(const struct sg_profile *p);
/* 1 if the profile accepts subject keys of algorithm a. */
int sg_profile_key_allowed(const struct sg_profile *p, enum sg_keyalg a);

/*
 * Checks a certificate request against profile p and fills *out.
 *
 *   csr        the parsed request; its signature must have been verified
 *              (sg_x509_csr_parse does it): this function does not.
 *   req_sans   SANs asked for in the request, each "DNS:name", "IP:address"
 *              or "URI:uri" (type case-insensitive).  When n_sans > 0 they
 *              replace the CSR's subjectAltName entirely (which is then
 *              neither checked nor copied); when 0 the CSR's are used.
 *   ttl_s      the lifetime asked for in seconds; 0 means the profile's
 *              default.
 *   now        the issuing time.
 *   issuer_cert the certificate of the profile's issuer key.
 *
 * Rules are checked in this order and the first broken one decides:
 *
 *   SG_ERR_INVALID_ARG     a NULL argument, or n_sans > 0 with req_sans NULL
 *   SG_ERR_NO_CERT         issuer_cert is not a CA certificate that may sign
 *                          certificates (basicConstraints CA, keyCertSign)
 *   SG_ERR_CA_NOT_ALLOWED  an intermediate CA profile under an issuer whose
 *                          pathLenConstraint leaves no room for it
 *   SG_ERR_KEY_NOT_ALLOWED the CSR's key is not of a type the profile
 *                          lists (curve, RSA size), or fails OpenSSL's
 *                          public key check, or the profile's key usages
 *                          leave nothing for its type
 *   SG_ERR_CSR_INVALID     an extensionRequest that does not decode, a
 *                          repeated extension, a subjectAltName or
 *                          basicConstraints that does not decode
 *   SG_ERR_CA_NOT_ALLOWED  a leaf profile and a CSR asking basicConstraints
 *                          CA:TRUE
 *   SG_ERR_CSR_EXTENSION   a critical extension the profile does not handle
 *                          (see below)
 *   SG_ERR_SUBJECT_NOT_ALLOWED  an attribute without a rule, a multi-valued
 *                          RDN, a value that is empty, has control
 *                          characters, is not UTF-8-convertible, breaks a
 *                          pattern or differs from a fixed value, too many
 *                          of one attribute, a required attribute missing,
 *                          a value that does not fit the attribute's ASN.1
 *                          type (C is two letters), an empty subject
 *   SG_ERR_SAN_NOT_ALLOWED a SAN of another type than DNS, IP or URI, one
 *                          outside the DNS suffixes, IP ranges or URI
 *                          prefixes, a malformed one, a repeated one, a
 *                          wildcard where the profile has none, fewer than
 *                          the profile's min or more than its max, a name
 *                          outside the issuer certificate's nameConstraints
 *   SG_ERR_TTL_TOO_LONG    ttl_s over the profile's maximum
 *   SG_ERR_CERT_VALIDITY   the issuer certificate is not valid at now
 *
 * Extensions of the CSR: subjectAltName is used (unless req_sans replace
 * it); basicConstraints is read for CA:TRUE; keyUsage, extendedKeyUsage,
 * subjectKeyIdentifier, authorityKeyIdentifier, cRLDistributionPoints,
 * authorityInfoAccess, certificatePolicies and (intermediate CA profiles)
 * nameConstraints are the profile's to set, so the CSR's values are ignored
 * whatever their criticality.  Any other extension, known to OpenSSL or not,
 * is refused when critical and ignored (never copied) when not.
 *
 * Validity: notAfter is cut to the issuer's notAfter when it would outlive
 * it (out->capped says so), rather than refused; notBefore is now - backdate
 * but never before the issuer's notBefore.
 *
 * Returns 0 with *out filled (release with sg_profile_issue_clear), or one
 * of the codes above (or SG_ERR_NOMEM) with *out zeroed and why saying
 * which rule and value; CSR values in why are cut short and stripped of
 * non-printable bytes.  The OpenSSL error queue is left empty.
 */
int sg_profile_apply(const struct sg_profile *p, X509_REQ *csr, const char *const *req_sans,
                     size_t n_sans, uint64_t ttl_s, time_t now, X509 *issuer_cert,
                     struct sg_profile_issue *out, char *why, size_t why_len);

/* Frees what *iss owns and zeroes it; NULL-safe. */
void sg_profile_issue_clear(struct sg_profile_issue *iss);

#endif /* SG_PROFILE_H */
