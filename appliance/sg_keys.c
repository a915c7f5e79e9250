/* sg_keys: see sg_keys.h. */
#include "sg_keys.h"
#include "sg_err.h"
#include "sg_log.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct sg_keys {
	struct sg_key_entry *e; /* sorted by name */
	size_t n;
	struct sg_tsa *tsa;
	char tsa_key[SG_NAME_MAX + 1];
};

static int
sg_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sg_key_entry *)a)->name,
	              ((const struct sg_key_entry *)b)->name);
}

static void
sg_entry_clear(struct sg_key_entry *e)
{
	size_t i;

	X509_free(e->id.cert);
	sk_X509_pop_free(e->id.chain, X509_free);
	for (i = 0; i < e->n_der; i++)
		OPENSSL_free(e->der[i]);
	memset(e, 0, sizeof(*e));
}

void
sg_keys_free(struct sg_keys *k)
{
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; i < k->n; i++)
		sg_entry_clear(&k->e[i]);
	free(k->e);
	sg_tsa_free(k->tsa);
	free(k);
}

/* 1 if the certificate's public key is the key the HSM holds (DER pub). */
static int
sg_cert_matches(X509 *cert, const unsigned char *pub, size_t pub_len)
{
	const unsigned char *p = pub;
	EVP_PKEY *hsm;
	int same;

	if ((hsm = d2i_PUBKEY(NULL, &p, (long)pub_len)) == NULL || p != pub + pub_len) {
		EVP_PKEY_free(hsm);
		return 0;
	}
	same = EVP_PKEY_eq(X509_get0_pubkey(cert), hsm) == 1;
	EVP_PKEY_free(hsm);
	return same;
}

/* Appends the DER of x to e's list for keys.list. */
static int
sg_entry_add_der(struct sg_key_entry *e, X509 *x)
{
	unsigned char *der = NULL;
	int len;

	if (e->n_der == SG_CERTS_MAX)
		return SG_ERR_LIMIT;
	if ((len = i2d_X509(x, &der)) <= 0)
		return SG_ERR_NOMEM;
	if ((size_t)len > SG_CERT_MAX) {
		OPENSSL_free(der);
		return SG_ERR_LIMIT;
	}
	e->der[e->n_der] = der;
	e->der_len[e->n_der] = (size_t)len;
	e->n_der++;
	return 0;
}

/* Takes references to the policy's certificate of pk into e, if it fits e's key. */
static int
sg_entry_set_cert(struct sg_key_entry *e, const struct sg_policy_key *pk)
{
	X509 *cert = sg_policy_key_cert(pk);
	STACK_OF(X509) *chain = sg_policy_key_chain(pk);
	int i, r;

	if (cert == NULL)
		return 0;
	if (!e->usable)
		return 0;
	if (!sg_cert_matches(cert, e->pub, e->pub_len)) {
		sg_warn("key %s: its certificate is for another key; the key signs no CMS or "
		        "time-stamp",
		        e->name);
		return 0;
	}
	if (X509_up_ref(cert) != 1)
		return SG_ERR_NOMEM;
	e->id.cert = cert;
	if (chain != NULL && (e->id.chain = X509_chain_up_ref(chain)) == NULL)
		return SG_ERR_NOMEM;
	if ((r = sg_entry_add_der(e, cert)) != 0)
		goto fail;
	for (i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
		if ((r = sg_entry_add_der(e, sk_X509_value(chain, i))) != 0)
			goto fail;
	}
	return 0;
fail:
	if (r == SG_ERR_LIMIT) {
		/* The policy caps chains below this; keep the key, drop the certificate. */
		sg_warn("key %s: certificate chain too long or too large for keys.list; the key "
		        "signs no CMS or time-stamp",
		        e->name);
		X509_free(e->id.cert);
		sk_X509_pop_free(e->id.chain, X509_free);
		e->id.cert = NULL;
		e->id.chain = NULL;
		while (e->n_der > 0)
			OPENSSL_free(e->der[--e->n_der]);
		return 0;
	}
	return r;
}

static void
sg_keys_make_tsa(struct sg_keys *k, const struct sg_config_tsa *tc)
{
	const struct sg_key_entry *e;
	struct sg_tsa_config cfg;
	char why[256];

	if (tc == NULL || !tc->enabled)
		return;
	if ((e = sg_keys_find(k, tc->key)) == NULL || !e->usable || e->id.cert == NULL) {
		sg_warn("time-stamping is off: key %s %s", tc->key,
		        e == NULL    ? "is not in the policy"
		        : !e->usable ? "is not usable in the HSM"
		                     : "has no certificate that matches it");
		return;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.policy_oid = tc->policy_oid;
	cfg.accepted_policies = (const char *const *)tc->accepted;
	cfg.n_accepted = tc->n_accepted;
	cfg.hashes = tc->hashes;
	cfg.accuracy_s = tc->accuracy_s;
	cfg.accuracy_ms = tc->accuracy_ms;
	cfg.accuracy_us = tc->accuracy_us;
	cfg.sign_hash = (enum sg_hash)tc->sign_hash;
	cfg.id = &e->id;
	if ((k->tsa = sg_tsa_new(&cfg, why, sizeof(why))) == NULL) {
		sg_warn("time-stamping is off: %s", why);
		return;
	}
	snprintf(k->tsa_key, sizeof(k->tsa_key), "%s", tc->key);
}

int
sg_keys_new(const struct sg_policy *policy, const struct sg_hsm_keys_rep *rep,
            const struct sg_config_tsa *tsa, struct sg_keys **out)
{
	struct sg_keys *k = NULL;
	size_t i, n = sg_policy_key_count(policy);
	int r = SG_ERR_NOMEM;

	*out = NULL;
	if (rep->n != n)
		return SG_ERR_INVALID_ARG;
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (n > 0 && (k->e = calloc(n, sizeof(*k->e))) == NULL))
		goto out;
	k->n = n;
	for (i = 0; i < n; i++) {
		const struct sg_policy_key *pk = sg_policy_key_at(policy, i);
		const struct sg_hsm_key_status *st = &rep->keys[i];
		struct sg_key_entry *e = &k->e[i];

		snprintf(e->name, sizeof(e->name), "%s", sg_policy_key_name(pk));
		e->alg = sg_policy_key_alg(pk);
		if (st->err != 0 || st->pub_len == 0 || st->pub_len > SG_PUB_MAX) {
			sg_warn("key %s (%s) is not usable: %s", e->name, sg_policy_key_uri(pk),
			        sg_strerror(st->err != 0 ? st->err : SG_ERR_HSM));
			continue;
		}
		e->usable = 1;
		memcpy(e->pub, st->pub, st->pub_len);
		e->pub_len = st->pub_len;
		if ((r = sg_entry_set_cert(e, pk)) != 0)
			goto out;
	}
	if (n > 0)
		qsort(k->e, n, sizeof(*k->e), sg_entry_cmp);
	sg_keys_make_tsa(k, tsa);
	*out = k;
	k = NULL;
	r = 0;
out:
	sg_keys_free(k);
	return r;
}

size_t
sg_keys_count(const struct sg_keys *k)
{
	return k == NULL ? 0 : k->n;
}

const struct sg_key_entry *
sg_keys_at(const struct sg_keys *k, size_t i)
{
	return (k == NULL || i >= k->n) ? NULL : &k->e[i];
}

const struct sg_key_entry *
sg_keys_find(const struct sg_keys *k, const char *name)
{
	struct sg_key_entry key;

	if (k == NULL || k->n == 0 || strlen(name) > SG_NAME_MAX)
		return NULL;
	snprintf(key.name, sizeof(key.name), "%s", name);
	return bsearch(&key, k->e, k->n, sizeof(key), sg_entry_cmp);
}

const struct sg_tsa *
sg_keys_tsa(const struct sg_keys *k)
{
	return k == NULL ? NULL : k->tsa;
}

const char *
sg_keys_tsa_key(const struct sg_keys *k)
{
	return (k == NULL || k->tsa == NULL) ? NULL : k->tsa_key;
}

/* 0 if t lies within x's validity, else SG_ERR_CERT_VALIDITY. */
static int
sg_cert_valid_at(X509 *x, time_t t)
{
	/* X509_cmp_time: -1 not after t, 1 after t, 0 an unreadable time (invalid). */
	if (X509_cmp_time(X509_get0_notBefore(x), &t) != -1 ||
	    X509_cmp_time(X509_get0_notAfter(x), &t) != 1)
		return SG_ERR_CERT_VALIDITY;
	return 0;
}

int
sg_keys_cert_usable(const struct sg_key_entry *e, time_t t)
{
	int i, r;

	if (e == NULL || !e->usable || e->id.cert == NULL)
		return SG_ERR_NO_CERT;
	if ((r = sg_cert_valid_at(e->id.cert, t)) != 0)
		return r;
	for (i = 0; e->id.chain != NULL && i < sk_X509_num(e->id.chain); i++) {
		if ((r = sg_cert_valid_at(sk_X509_value(e->id.chain, i), t)) != 0)
			return r;
	}
	return 0;
}
