/*
 * signet_trust: trust anchors, intermediates, CRLs and named keys for
 * `signet verify`, and path checks at a chosen time (see signet_trust.h).
 */
#include "signet_trust.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "sg_err.h"

/* The time a path is checked at, handed to the verify callback through ex_data. */
struct trust_at {
	time_t at;
	int ts_time;               /* at is a verified time-stamp's genTime */
	STACK_OF(X509_CRL) * crls; /* every CRL the store holds */
};

/* The CLI is one thread: a lazily drawn index is enough. */
static int trust_at_idx = -1;

static int
trust_at_index(void)
{
	if (trust_at_idx < 0)
		trust_at_idx = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	return trust_at_idx;
}

/*
 * 1 if the revocation entry rev allows a signature time-stamped at at: the
 * certificate was revoked after at, for a reason that does not say a key
 * was compromised (then the compromise may predate the revocation), and no
 * invalidity date is at or before at.
 */
static int
trust_entry_after(X509_REVOKED *rev, time_t at)
{
	ASN1_ENUMERATED *reason = NULL;
	ASN1_GENERALIZEDTIME *inval = NULL;
	long code = CRL_REASON_NONE;
	int crit = -1, ok = 0;

	reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
	if (reason == NULL && crit != -1)
		goto out; /* present but unreadable, or twice */
	if (reason != NULL)
		code = ASN1_ENUMERATED_get(reason);
	if (code == CRL_REASON_KEY_COMPROMISE || code == CRL_REASON_CA_COMPROMISE ||
	    code == CRL_REASON_AA_COMPROMISE)
		goto out;
	inval = X509_REVOKED_get_ext_d2i(rev, NID_invalidity_date, &crit, NULL);
	if (inval == NULL && crit != -1)
		goto out;
	if (inval != NULL && X509_cmp_time(inval, &at) <= 0)
		goto out;
	/* X509_cmp_time: > 0 when the revocation date is after at. */
	ok = X509_cmp_time(X509_REVOKED_get0_revocationDate(rev), &at) > 0;
out:
	ASN1_ENUMERATED_free(reason);
	ASN1_GENERALIZEDTIME_free(inval);
	return ok;
}

/*
 * OpenSSL has told us that the current certificate is revoked, but does not
 * say by which CRL (3.0 clears the current CRL after its time check).  Every
 * entry for the certificate in every CRL of its issuer that we hold must
 * allow the signature (trust_entry_after): more revocation data can only
 * refuse more.
 */
static int
trust_revoked_after(X509_STORE_CTX *ctx, const struct trust_at *ta)
{
	X509 *x = X509_STORE_CTX_get_current_cert(ctx);
	X509_CRL *crl;
	X509_REVOKED *rev;
	int i, seen = 0;

	if (x == NULL || ta->crls == NULL)
		return 0;
	for (i = 0; i < sk_X509_CRL_num(ta->crls); i++) {
		crl = sk_X509_CRL_value(ta->crls, i);
		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(x)) != 0)
			continue;
		rev = NULL;
		if (X509_CRL_get0_by_cert(crl, &rev, x) != 1)
			continue;
		if (!trust_entry_after(rev, ta->at))
			return 0;
		seen++;
	}
	return seen > 0;
}

/* The store's verify callback: the revocation rules of signet_trust.h. */
static int
trust_verify_cb(int ok, X509_STORE_CTX *ctx)
{
	const struct trust_at *ta;

	if (ok)
		return 1;
	ta = X509_STORE_CTX_get_ex_data(ctx, trust_at_index());
	switch (X509_STORE_CTX_get_error(ctx)) {
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		/* The issuer has no CRL in the set: this certificate is not checked. */
		return 1;
	case X509_V_ERR_CRL_NOT_YET_VALID:
		/* At a time-stamp's time, a CRL issued later is the one to use. */
		return ta != NULL && ta->ts_time;
	case X509_V_ERR_CERT_REVOKED:
		return ta != NULL && ta->ts_time && trust_revoked_after(ctx, ta);
	default:
		return 0;
	}
}

struct cli_trust *
cli_trust_new(void)
{
	struct cli_trust *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->store = X509_STORE_new()) == NULL || (t->untrusted = sk_X509_new_null()) == NULL ||
	    (t->crls = sk_X509_CRL_new_null()) == NULL) {
		cli_trust_free(t);
		return NULL;
	}
	X509_STORE_set_verify_cb(t->store, trust_verify_cb);
	return t;
}

void
cli_trust_free(struct cli_trust *t)
{
	size_t i;

	if (t == NULL)
		return;
	X509_STORE_free(t->store);
	sk_X509_pop_free(t->untrusted, X509_free);
	sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
	for (i = 0; i < t->n_keys; i++)
		EVP_PKEY_free(t->keys[i].pub);
	free(t->keys);
	free(t);
}

int
cli_trust_read_file(const char *path, unsigned char **buf, size_t *len, char *why, size_t why_len)
{
	FILE *f = NULL;
	unsigned char *p = NULL, *np;
	size_t n = 0, cap = 0, got;
	int r, e;

	*buf = NULL;
	*len = 0;
	if ((f = fopen(path, "rb")) == NULL) {
		e = errno;
		snprintf(why, why_len, "%s: %s", path, strerror(e));
		r = e == ENOENT ? SG_ERR_NOT_FOUND : SG_ERR_IO;
		goto out;
	}
	for (;;) {
		if (n == cap) {
			if (cap == CLI_TRUST_FILE_MAX) {
				snprintf(why, why_len, "%s: larger than %d bytes", path,
				         CLI_TRUST_FILE_MAX);
				r = SG_ERR_LIMIT;
				goto out;
			}
			cap = cap == 0 ? 16384 : cap * 2;
			if (cap > CLI_TRUST_FILE_MAX)
				cap = CLI_TRUST_FILE_MAX;
			if ((np = realloc(p, cap)) == NULL) {
				snprintf(why, why_len, "out of memory");
				r = SG_ERR_NOMEM;
				goto out;
			}
			p = np;
		}
		got = fread(p + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				snprintf(why, why_len, "%s: %s", path, strerror(errno));
				r = SG_ERR_IO;
				goto out;
			}
			break;
		}
	}
	*buf = p;
	*len = n;
	p = NULL;
	r = 0;
out:
	if (f != NULL)
		fclose(f);
	free(p);
	return r;
}

/* 1 if the last OpenSSL error is PEM's "no start line" (the end of the PEM blocks). */
static int
trust_pem_end(void)
{
	unsigned long e = ERR_peek_last_error();

	return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

int
cli_trust_add_certs_mem(struct cli_trust *t, const char *label, const unsigned char *buf,
                        size_t len, int untrusted, char *why, size_t why_len)
{
	BIO *b = NULL;
	X509 *x = NULL;
	size_t n = 0;
	int r;

	if (len > INT_MAX || (b = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		/* Reads the next CERTIFICATE block, skipping blocks of other kinds. */
		if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
			if (trust_pem_end() && n > 0)
				break;
			snprintf(why, why_len, "%s: %s", label,
			         n == 0 && trust_pem_end() ? "no PEM certificate in it"
			                                   : "a PEM certificate does not parse");
			r = SG_ERR_CONFIG;
			goto out;
		}
		if (untrusted) {
			if (!sk_X509_push(t->untrusted, x)) {
				r = SG_ERR_NOMEM;
				goto out;
			}
			x = NULL;
		} else {
			/* X509_STORE_add_cert takes its own reference; a duplicate is not an error.
			 */
			if (X509_STORE_add_cert(t->store, x) != 1) {
				r = SG_ERR_NOMEM;
				goto out;
			}
			X509_free(x);
			x = NULL;
			t->n_roots++;
		}
		n++;
	}
	r = 0;
out:
	if (r == SG_ERR_NOMEM)
		snprintf(why, why_len, "out of memory");
	ERR_clear_error();
	X509_free(x);
	BIO_free(b);
	return r;
}

/* Takes crl into the set (and the store); frees it on failure. */
static int
trust_take_crl(struct cli_trust *t, X509_CRL *crl)
{
	if (X509_STORE_add_crl(t->store, crl) != 1 || !sk_X509_CRL_push(t->crls, crl)) {
		X509_CRL_free(crl);
		return SG_ERR_NOMEM;
	}
	return 0;
}

int
cli_trust_add_crl_mem(struct cli_trust *t, const char *label, const unsigned char *buf, size_t len,
                      char *why, size_t why_len)
{
	const unsigned char *p = buf;
	BIO *b = NULL;
	X509_CRL *crl;
	size_t n = 0;
	int r;

	if (len > INT_MAX || (b = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	while ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
		if ((r = trust_take_crl(t, crl)) != 0)
			goto out;
		n++;
	}
	if (!trust_pem_end()) {
		snprintf(why, why_len, "%s: a PEM CRL does not parse", label);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (n == 0) {
		/* Not PEM: one DER CRL, the whole file and nothing after it. */
		ERR_clear_error();
		if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL) {
			snprintf(why, why_len, "%s: not a PEM or DER CRL", label);
			r = SG_ERR_CONFIG;
			goto out;
		}
		if (p != buf + len) {
			X509_CRL_free(crl);
			snprintf(why, why_len, "%s: bytes after the DER CRL", label);
			r = SG_ERR_CONFIG;
			goto out;
		}
		if ((r = trust_take_crl(t, crl)) != 0)
			goto out;
	}
	r = 0;
out:
	if (r == SG_ERR_NOMEM)
		snprintf(why, why_len, "out of memory");
	ERR_clear_error();
	BIO_free(b);
	return r;
}

int
cli_trust_add_key_mem(struct cli_trust *t, const char *name, const char *label,
                      const unsigned char *buf, size_t len, char *why, size_t why_len)
{
	struct cli_trust_key *k;
	EVP_PKEY *pub = NULL;
	BIO *b = NULL;
	int r;

	if (strlen(name) > SG_NAME_MAX || !sg_wire_name_valid(name, strlen(name))) {
		snprintf(why, why_len, "%s: '%s' is not a valid key name", label, name);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (cli_trust_key_by_name(t, name) != NULL) {
		snprintf(why, why_len, "%s: key '%s' is given twice", label, name);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (len > INT_MAX || (b = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		snprintf(why, why_len, "out of memory");
		r = SG_ERR_NOMEM;
		goto out;
	}
	if ((pub = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL)) == NULL) {
		snprintf(why, why_len, "%s: not a PEM public key", label);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if ((k = realloc(t->keys, (t->n_keys + 1) * sizeof(*k))) == NULL) {
		snprintf(why, why_len, "out of memory");
		r = SG_ERR_NOMEM;
		goto out;
	}
	t->keys = k;
	k = &t->keys[t->n_keys++];
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->pub = pub;
	pub = NULL;
	r = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(pub);
	BIO_free(b);
	return r;
}

int
cli_trust_add_certs(struct cli_trust *t, const char *path, int untrusted, char *why, size_t why_len)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = cli_trust_read_file(path, &buf, &len, why, why_len)) == 0)
		r = cli_trust_add_certs_mem(t, path, buf, len, untrusted, why, why_len);
	free(buf);
	return r;
}

int
cli_trust_add_crl(struct cli_trust *t, const char *path, char *why, size_t why_len)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = cli_trust_read_file(path, &buf, &len, why, why_len)) == 0)
		r = cli_trust_add_crl_mem(t, path, buf, len, why, why_len);
	free(buf);
	return r;
}

const struct cli_trust_key *
cli_trust_key_by_pub(const struct cli_trust *t, const EVP_PKEY *pub)
{
	size_t i;

	for (i = 0; i < t->n_keys; i++) {
		if (EVP_PKEY_eq(t->keys[i].pub, pub) == 1)
			return &t->keys[i];
	}
	ERR_clear_error();
	return NULL;
}

const struct cli_trust_key *
cli_trust_key_by_name(const struct cli_trust *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n_keys; i++) {
		if (strcmp(t->keys[i].name, name) == 0)
			return &t->keys[i];
	}
	return NULL;
}

int
cli_trust_finish(struct cli_trust *t)
{
	if (sk_X509_CRL_num(t->crls) > 0 &&
	    X509_STORE_set_flags(t->store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL) != 1)
		return SG_ERR_INTERNAL;
	return 0;
}

int
cli_trust_verify_path(const struct cli_trust *t, X509 *leaf, STACK_OF(X509) * extra, time_t at,
                      int ts_time, STACK_OF(X509) * *chain, char *why, size_t why_len)
{
	struct trust_at ta = {at, ts_time, t->crls};
	STACK_OF(X509) *cand = NULL;
	X509_STORE_CTX *ctx = NULL;
	char subj[CLI_TRUST_NAME_MAX];
	X509 *bad;
	int r, err;

	if (chain != NULL)
		*chain = NULL;
	if ((cand = sk_X509_new_null()) == NULL ||
	    (extra != NULL && X509_add_certs(cand, extra, X509_ADD_FLAG_UP_REF) != 1) ||
	    X509_add_certs(cand, t->untrusted, X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP) != 1 ||
	    (ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, t->store, leaf, cand) != 1 ||
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY) != 1 ||
	    X509_STORE_CTX_set_ex_data(ctx, trust_at_index(), &ta) != 1) {
		snprintf(why, why_len, "cannot set up the certificate check");
		r = SG_ERR_INTERNAL;
		goto out;
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), at);
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		bad = X509_STORE_CTX_get_current_cert(ctx);
		subj[0] = '\0';
		if (bad != NULL)
			cli_trust_name(X509_get_subject_name(bad), subj, sizeof(subj));
		snprintf(why, why_len, "%s (certificate %s, depth %d)",
		         X509_verify_cert_error_string(err), subj[0] != '\0' ? subj : "?",
		         X509_STORE_CTX_get_error_depth(ctx));
		r = SG_ERR_BAD_SIGNATURE;
		goto out;
	}
	if (chain != NULL && (*chain = X509_STORE_CTX_get1_chain(ctx)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(cand, X509_free);
	return r;
}

void
cli_trust_name(const X509_NAME *name, char *out, size_t out_len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;

	out[0] = '\0';
	if (b == NULL)
		return;
	/* RFC 2253 with UTF-8 kept as is (the JSON writer escapes what needs it). */
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(b, &p)) > 0)
		snprintf(out, out_len, "%.*s", (int)n, p);
	BIO_free(b);
}

void
cli_trust_key_alg(const EVP_PKEY *pub, char *out, size_t out_len)
{
	char group[64];
	size_t glen = 0;
	int id = EVP_PKEY_get_base_id(pub), bits = EVP_PKEY_get_bits(pub);

	switch (id) {
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                   sizeof(group), &glen) != 1)
			snprintf(group, sizeof(group), "?");
		if (strcmp(group, "prime256v1") == 0)
			snprintf(out, out_len, "%s", sg_keyalg_name(SG_KEYALG_EC_P256));
		else if (strcmp(group, "secp384r1") == 0)
			snprintf(out, out_len, "%s", sg_keyalg_name(SG_KEYALG_EC_P384));
		else
			snprintf(out, out_len, "ec-%s", group);
		break;
	case EVP_PKEY_RSA:
		snprintf(out, out_len, "rsa-%d", bits);
		break;
	case EVP_PKEY_RSA_PSS:
		snprintf(out, out_len, "rsa-pss-%d", bits);
		break;
	default:
		snprintf(out, out_len, "%s",
		         EVP_PKEY_get0_type_name(pub) != NULL ? EVP_PKEY_get0_type_name(pub) : "?");
		break;
	}
	ERR_clear_error();
}

int
cli_trust_key_fp(const EVP_PKEY *pub, unsigned char fp[32])
{
	unsigned char *der = NULL;
	int len, r;

	if ((len = i2d_PUBKEY(pub, &der)) <= 0)
		return SG_ERR_INTERNAL;
	r = EVP_Digest(der, (size_t)len, fp, NULL, EVP_sha256(), NULL) == 1 ? 0 : SG_ERR_INTERNAL;
	OPENSSL_free(der);
	return r;
}

void
cli_trust_time(const ASN1_TIME *t, char *out, size_t out_len)
{
	struct tm tm;

	out[0] = '\0';
	if (t != NULL && ASN1_TIME_to_tm(t, &tm) == 1)
		strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
cli_trust_time_t(time_t t, char *out, size_t out_len)
{
	struct tm tm;

	out[0] = '\0';
	if (gmtime_r(&t, &tm) != NULL)
		strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
