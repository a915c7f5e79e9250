/*
 * sg_signer: see sg_signer.h.
 *
 * Sessions.  libp11 0.4.12 keeps a session pool per slot: every operation
 * (C_SignInit + C_Sign, C_FindObjects, C_Login) takes a session from the
 * pool, or opens a new one when all are checked out, up to 16 per slot, and
 * puts it back afterwards; a 17th concurrent operation waits on the slot's
 * condition variable.  So W threads signing at once run on W distinct
 * sessions (for W <= 16), opened on demand; the login made on the first one
 * holds for all (PKCS#11 login state is per token and application).  The
 * private EVP_PKEYs that libp11 hands out hold a reference on their PKCS#11
 * object, not on libp11's key array (which PKCS11_enumerate_keys reallocs),
 * so they stay valid across later enumerations.
 *
 * Inventory.  An immutable, reference-counted array of keys sorted by name.
 * sg_signer_sign takes a reference under a read lock; sg_signer_set_keys
 * builds a new one and swaps the pointer under the write lock, so signatures
 * in flight finish with the old inventory, which is freed by whoever drops
 * the last reference.
 */
#include "sg_signer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libp11.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <zmq.h>

#include "sg_err.h"
#include "sg_log.h"
#include "sg_p11uri.h"
#include "sg_wire.h"

#define SG_SIGNER_MAX_WORKERS 64
#define SG_LIBP11_MAX_SESSIONS 16 /* libp11 0.4.12: pkcs11_slot_new() */
#define SG_ALLOWLIST_MAX (64 * 1024)
#define SG_POLL_MS 100          /* how often an idle service thread looks at the stop flag */
#define SG_SEND_TIMEOUT_MS 2000 /* a reply the front does not take is dropped, not waited on */

struct sg_key {
	char name[SG_NAME_MAX + 1];
	enum sg_keyalg alg;
	int rsa;
	int self_verify; /* always 1 for RSA */
	EVP_PKEY *priv;  /* libp11's: every operation goes to the token */
	EVP_PKEY *pub;   /* pure OpenSSL, parsed from pub_der: verification never uses the token */
	unsigned char pub_der[SG_PUB_MAX];
	size_t pub_len;
};

struct sg_inv {
	atomic_uint refs;
	size_t n;
	struct sg_key *keys; /* sorted by name */
};

/* Signing and verification contexts kept by one thread for its last (key, hash, pad). */
struct sg_sign_cache {
	struct sg_inv *inv; /* referenced while cached, so the pointer cannot be reused */
	size_t key;
	enum sg_hash hash;
	enum sg_pad pad;
	EVP_PKEY_CTX *sctx;
	EVP_PKEY_CTX *vctx; /* NULL when the key is not verified */
};

struct sg_thread {
	struct sg_signer *s;
	pthread_t tid;
	int control;
	void *in;  /* PULL (worker) or REP (control) */
	void *out; /* PUSH (worker) or NULL */
};

struct sg_signer {
	PKCS11_CTX *ctx;
	PKCS11_SLOT *slots;
	unsigned nslots;
	PKCS11_SLOT *slot;
	int loaded;
	int logged_in;
	unsigned workers;

	pthread_rwlock_t inv_lock; /* guards the pointer inv, not the inventory */
	struct sg_inv *inv;
	pthread_mutex_t keys_lock; /* one sg_signer_set_keys at a time (libp11's key cache) */

	atomic_int stop;
	struct sg_thread *threads;
	size_t nthreads;
};

/* The first queued OpenSSL/libp11 error as text (never key material); clears the queue. */
static const char *
sg_ossl_err(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, len, "no error detail");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/* ---- inventory ------------------------------------------------------- */

static void
sg_inv_put(struct sg_inv *inv)
{
	size_t i;

	if (inv == NULL || atomic_fetch_sub(&inv->refs, 1) != 1)
		return;
	for (i = 0; i < inv->n; i++) {
		EVP_PKEY_free(inv->keys[i].priv);
		EVP_PKEY_free(inv->keys[i].pub);
	}
	free(inv->keys);
	free(inv);
}

static struct sg_inv *
sg_inv_get(struct sg_signer *s)
{
	struct sg_inv *inv;

	pthread_rwlock_rdlock(&s->inv_lock);
	inv = s->inv;
	if (inv != NULL)
		atomic_fetch_add(&inv->refs, 1);
	pthread_rwlock_unlock(&s->inv_lock);
	return inv;
}

static int
sg_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sg_key *)a)->name, ((const struct sg_key *)b)->name);
}

static const struct sg_key *
sg_inv_find(const struct sg_inv *inv, const char *name, size_t *idx)
{
	size_t lo = 0, hi = inv->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(name, inv->keys[mid].name);
		if (c == 0) {
			*idx = mid;
			return &inv->keys[mid];
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- module allowlist ------------------------------------------------ */

/* A file that only its owner (root or us) may change. */
static int
sg_file_safe(const struct stat *st)
{
	return S_ISREG(st->st_mode) && (st->st_mode & (S_IWGRP | S_IWOTH)) == 0 &&
	       (st->st_uid == 0 || st->st_uid == geteuid());
}

static int
sg_allowlist_check(const char *module, const char *allowlist, char *real, char *why, size_t why_len)
{
	char entry_real[PATH_MAX];
	struct stat st;
	char *buf = NULL, *line, *save = NULL, *hash, *end;
	ssize_t got;
	size_t len = 0;
	int fd = -1, r = SG_ERR_MODULE_NOT_ALLOWED;

	if (module == NULL || module[0] != '/') {
		sg_whyf(why, why_len, "module path must be absolute");
		return SG_ERR_MODULE_NOT_ALLOWED;
	}
	if (realpath(module, real) == NULL) {
		sg_whyf(why, why_len, "module %s: %s", module, strerror(errno));
		return SG_ERR_MODULE_NOT_ALLOWED;
	}
	if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
		sg_whyf(why, why_len, "module %s is not a regular file", real);
		return SG_ERR_MODULE_NOT_ALLOWED;
	}
	if (!sg_file_safe(&st)) {
		sg_whyf(why, why_len,
		       "module %s is writable by group or others, or not owned by root or us",
		       real);
		return SG_ERR_PERM;
	}
	if (allowlist == NULL || (fd = open(allowlist, O_RDONLY | O_CLOEXEC)) < 0) {
		sg_whyf(why, why_len, "cannot open module allowlist %s: %s",
		       allowlist != NULL ? allowlist : "(none)", strerror(errno));
		r = SG_ERR_MODULE_NOT_ALLOWED;
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SG_ALLOWLIST_MAX) {
		sg_whyf(why, why_len,
		       "module allowlist %s is not a regular file of at most %d bytes", allowlist,
		       SG_ALLOWLIST_MAX);
		r = SG_ERR_MODULE_NOT_ALLOWED;
		goto out;
	}
	if (!sg_file_safe(&st)) {
		sg_whyf(why, why_len,
		       "module allowlist %s is writable by group or others, or not owned by root "
		       "or us",
		       allowlist);
		r = SG_ERR_PERM;
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		got = read(fd, buf + len, (size_t)st.st_size - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		end = line + strlen(line);
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		if (*line != '/')
			continue; /* empty, comment, or not an absolute path */
		if (realpath(line, entry_real) == NULL)
			continue; /* a listed module that is not installed here */
		if (strcmp(entry_real, real) == 0) {
			r = 0;
			goto out;
		}
	}
	sg_whyf(why, why_len, "module %s is not listed in %s", real, allowlist);
	r = SG_ERR_MODULE_NOT_ALLOWED;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

/* ---- open / close ---------------------------------------------------- */

/* libp11 trims the padding of token labels; trim again in case a module pads with NULs. */
static int
sg_label_eq(const char *token_label, const char *want)
{
	size_t n;

	if (token_label == NULL)
		return 0;
	n = strlen(token_label);
	while (n > 0 && token_label[n - 1] == ' ')
		n--;
	return n == strlen(want) && memcmp(token_label, want, n) == 0;
}

int
sg_signer_open(const struct sg_signer_config *cfg, struct sg_signer **out, char *why,
               size_t why_len)
{
	struct sg_signer *s = NULL;
	char real[PATH_MAX], err[256];
	const char *pin;
	unsigned i, found = 0;
	int r = SG_ERR_INTERNAL;

	if (why != NULL && why_len > 0)
		why[0] = '\0';
	if (out == NULL || cfg == NULL || cfg->token_label == NULL || cfg->pin == NULL ||
	    cfg->workers < 1 || cfg->workers > SG_SIGNER_MAX_WORKERS) {
		sg_whyf(why, why_len, "invalid signer configuration (workers must be 1..%d)",
		       SG_SIGNER_MAX_WORKERS);
		return SG_ERR_INVALID_ARG;
	}
	*out = NULL;
	pin = sg_secret_str(cfg->pin);
	if (pin == NULL || pin[0] == '\0') {
		sg_whyf(why, why_len, "empty user PIN");
		return SG_ERR_INVALID_ARG;
	}
	if ((r = sg_allowlist_check(cfg->module, cfg->allowlist, real, why, why_len)) != 0)
		goto out;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	pthread_rwlock_init(&s->inv_lock, NULL);
	pthread_mutex_init(&s->keys_lock, NULL);
	s->workers = cfg->workers;
	if ((s->ctx = PKCS11_CTX_new()) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	/* Load the resolved path that was checked, not the name given. */
	if (PKCS11_CTX_load(s->ctx, real) != 0) {
		sg_whyf(why, why_len, "cannot load PKCS#11 module %s: %s", real,
		       sg_ossl_err(err, sizeof(err)));
		r = SG_ERR_HSM_UNAVAILABLE;
		goto out;
	}
	s->loaded = 1;
	if (PKCS11_enumerate_slots(s->ctx, &s->slots, &s->nslots) != 0) {
		sg_whyf(why, why_len, "cannot list the slots of %s: %s", real,
		       sg_ossl_err(err, sizeof(err)));
		r = SG_ERR_HSM_UNAVAILABLE;
		goto out;
	}
	for (i = 0; i < s->nslots; i++) {
		if (s->slots[i].token == NULL || !s->slots[i].token->initialized ||
		    !sg_label_eq(s->slots[i].token->label, cfg->token_label))
			continue;
		if (found++ == 0)
			s->slot = &s->slots[i];
	}
	if (found == 0) {
		sg_whyf(why, why_len, "no initialised token labelled exactly '%s'",
		       cfg->token_label);
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	if (found > 1) {
		sg_whyf(why, why_len, "%u tokens are labelled '%s'; refusing to choose", found,
		       cfg->token_label);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (s->slot->token->userPinLocked) {
		sg_whyf(why, why_len, "the user PIN of token '%s' is locked", cfg->token_label);
		r = SG_ERR_LOGIN;
		goto out;
	}
	if (PKCS11_open_session(s->slot, 0) != 0) {
		sg_whyf(why, why_len, "cannot open a session on token '%s': %s", cfg->token_label,
		       sg_ossl_err(err, sizeof(err)));
		r = SG_ERR_HSM_UNAVAILABLE;
		goto out;
	}
	/* libp11 keeps its own copy of the PIN (OPENSSL_strdup, cleansed when the
	 * slot is released) to log in again after a token reset. */
	if (PKCS11_login(s->slot, 0, pin) != 0) {
		sg_whyf(why, why_len, "login to token '%s' failed: %s", cfg->token_label,
		       sg_ossl_err(err, sizeof(err)));
		r = SG_ERR_LOGIN;
		goto out;
	}
	s->logged_in = 1;
	if (cfg->workers > SG_LIBP11_MAX_SESSIONS)
		sg_warn("signer: %u workers, but libp11 pools at most %d sessions per slot: "
		        "at most %d signatures run at once",
		        cfg->workers, SG_LIBP11_MAX_SESSIONS, SG_LIBP11_MAX_SESSIONS);
	sg_info("signer: module %s, token '%s', %u workers", real, cfg->token_label, cfg->workers);
	*out = s;
	s = NULL;
	r = 0;
out:
	sg_signer_close(s);
	return r;
}

void
sg_signer_close(struct sg_signer *s)
{
	struct sg_inv *inv;

	if (s == NULL)
		return;
	sg_signer_serve_stop(s);
	pthread_rwlock_wrlock(&s->inv_lock);
	inv = s->inv;
	s->inv = NULL;
	pthread_rwlock_unlock(&s->inv_lock);
	/* The private keys refer to libp11 objects: free them before unloading. */
	sg_inv_put(inv);
	if (s->logged_in && PKCS11_logout(s->slot) != 0)
		ERR_clear_error();
	if (s->slots != NULL)
		PKCS11_release_all_slots(s->ctx, s->slots, s->nslots);
	if (s->loaded)
		PKCS11_CTX_unload(s->ctx);
	if (s->ctx != NULL)
		PKCS11_CTX_free(s->ctx);
	pthread_rwlock_destroy(&s->inv_lock);
	pthread_mutex_destroy(&s->keys_lock);
	free(s);
}

/* ---- key inventory --------------------------------------------------- */

static int
sg_keyalg_matches(enum sg_keyalg alg, const EVP_PKEY *pub)
{
	char group[64];
	size_t glen = 0;

	switch (alg) {
	case SG_KEYALG_EC_P256:
	case SG_KEYALG_EC_P384:
		if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_EC ||
		    !EVP_PKEY_get_group_name(pub, group, sizeof(group), &glen))
			return 0;
		return strcmp(group, alg == SG_KEYALG_EC_P256 ? "prime256v1" : "secp384r1") == 0;
	case SG_KEYALG_RSA_2048:
		return EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA && EVP_PKEY_get_bits(pub) == 2048;
	case SG_KEYALG_RSA_3072:
		return EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA && EVP_PKEY_get_bits(pub) == 3072;
	case SG_KEYALG_RSA_4096:
		return EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA && EVP_PKEY_get_bits(pub) == 4096;
	case SG_KEYALG_NONE:
	default:
		return 0;
	}
}

/* Does the URI's token part (and library part) designate our token? */
static int
sg_uri_token_matches(const struct sg_signer *s, const struct sg_p11uri *u, const char *name)
{
	const PKCS11_TOKEN *t = s->slot->token;

	if ((u->have & SG_P11URI_HAVE_TOKEN) && !sg_label_eq(t->label, u->token))
		return SG_ERR_NOT_FOUND;
	if ((u->have & SG_P11URI_HAVE_MANUFACTURER) &&
	    !sg_label_eq(t->manufacturer, u->manufacturer))
		return SG_ERR_NOT_FOUND;
	if ((u->have & SG_P11URI_HAVE_MODEL) && !sg_label_eq(t->model, u->model))
		return SG_ERR_NOT_FOUND;
	if ((u->have & SG_P11URI_HAVE_SERIAL) && !sg_label_eq(t->serialnr, u->serial))
		return SG_ERR_NOT_FOUND;
	if ((u->have & SG_P11URI_HAVE_LIB_MANUFACTURER) &&
	    !sg_label_eq(s->ctx->manufacturer, u->lib_manufacturer))
		return SG_ERR_NOT_FOUND;
	if ((u->have & SG_P11URI_HAVE_LIB_DESCRIPTION) &&
	    !sg_label_eq(s->ctx->description, u->lib_description))
		return SG_ERR_NOT_FOUND;
	if (u->have & SG_P11URI_HAVE_LIB_VERSION) {
		/* libp11 does not expose the module's version: a condition we
		 * cannot check is refused rather than ignored. */
		sg_warn("signer: key %s: library-version cannot be checked; remove it", name);
		return SG_ERR_INVALID_ARG;
	}
	return 0;
}

/*
 * Finds the private key of spec among keys[0..nkeys) and fills k and st.
 * Returns 0 or the status error.
 */
static int
sg_key_load(struct sg_signer *s, const struct sg_hsm_keyspec *spec, PKCS11_KEY *keys,
            unsigned nkeys, struct sg_key *k, struct sg_hsm_key_status *st)
{
	struct sg_p11uri u;
	char why[SG_WHY_MAX], err[256];
	PKCS11_KEY *match = NULL;
	EVP_PKEY *priv = NULL, *pub = NULL, *p11pub = NULL;
	const unsigned char *cp;
	unsigned char *dp;
	unsigned i, nmatch = 0;
	int len, r;

	if (!sg_keyalg_name(spec->alg)) {
		sg_warn("signer: key %s: unknown algorithm %d", spec->name, (int)spec->alg);
		return SG_ERR_CONFIG;
	}
	if ((r = sg_p11uri_parse(spec->uri, &u, why)) != 0) {
		sg_warn("signer: key %s: %s", spec->name, why);
		return r == SG_ERR_LIMIT || r == SG_ERR_DENIED ? r : SG_ERR_INVALID_ARG;
	}
	if (!(u.have & (SG_P11URI_HAVE_OBJECT | SG_P11URI_HAVE_ID))) {
		sg_warn("signer: key %s: the URI names no object and no id", spec->name);
		return SG_ERR_INVALID_ARG;
	}
	if ((u.have & SG_P11URI_HAVE_TYPE) && u.type != SG_P11URI_TYPE_PRIVATE) {
		sg_warn("signer: key %s: a signing key must be type=private", spec->name);
		return SG_ERR_INVALID_ARG;
	}
	if ((r = sg_uri_token_matches(s, &u, spec->name)) != 0) {
		if (r == SG_ERR_NOT_FOUND)
			sg_warn("signer: key %s: the URI designates another token", spec->name);
		return r;
	}
	for (i = 0; i < nkeys; i++) {
		if (!keys[i].isPrivate)
			continue;
		if ((u.have & SG_P11URI_HAVE_OBJECT) &&
		    (keys[i].label == NULL || strcmp(keys[i].label, u.object) != 0))
			continue;
		if ((u.have & SG_P11URI_HAVE_ID) &&
		    (keys[i].id_len != u.id_len || memcmp(keys[i].id, u.id, u.id_len) != 0))
			continue;
		match = &keys[i];
		nmatch++;
	}
	if (nmatch == 0) {
		sg_warn("signer: key %s: no private key matches its URI", spec->name);
		return SG_ERR_NOT_FOUND;
	}
	if (nmatch > 1) {
		sg_warn("signer: key %s: %u private keys match its URI; add id= to choose",
		        spec->name, nmatch);
		return SG_ERR_CONFIG;
	}
	if (PKCS11_get_key_type(match) !=
	    (sg_keyalg_is_rsa(spec->alg) ? EVP_PKEY_RSA : EVP_PKEY_EC)) {
		sg_warn("signer: key %s: the token key is not %s", spec->name,
		        sg_keyalg_name(spec->alg));
		return SG_ERR_CONFIG;
	}
	if ((priv = PKCS11_get_private_key(match)) == NULL) {
		sg_warn("signer: key %s: libp11 gives no private key: %s", spec->name,
		        sg_ossl_err(err, sizeof(err)));
		r = SG_ERR_HSM;
		goto out;
	}
	/* The public half: from the private key's own attributes (RSA n, e; EC
	 * point found by libp11), else from the public key object. */
	len = i2d_PUBKEY(priv, NULL);
	if (len <= 0) {
		ERR_clear_error();
		if ((p11pub = PKCS11_get_public_key(match)) != NULL)
			len = i2d_PUBKEY(p11pub, NULL);
	}
	if (len <= 0) {
		sg_warn("signer: key %s: no public key on the token: %s", spec->name,
		        sg_ossl_err(err, sizeof(err)));
		r = SG_ERR_HSM;
		goto out;
	}
	if ((size_t)len > SG_PUB_MAX) {
		r = SG_ERR_LIMIT;
		goto out;
	}
	dp = k->pub_der;
	if (i2d_PUBKEY(p11pub != NULL ? p11pub : priv, &dp) != len) {
		r = SG_ERR_HSM;
		goto out;
	}
	k->pub_len = (size_t)len;
	cp = k->pub_der;
	if ((pub = d2i_PUBKEY(NULL, &cp, len)) == NULL || cp != k->pub_der + len) {
		sg_warn("signer: key %s: its public key does not parse: %s", spec->name,
		        sg_ossl_err(err, sizeof(err)));
		r = SG_ERR_HSM;
		goto out;
	}
	if (!sg_keyalg_matches(spec->alg, pub)) {
		sg_warn("signer: key %s: the token key does not match %s", spec->name,
		        sg_keyalg_name(spec->alg));
		r = SG_ERR_CONFIG;
		goto out;
	}
	memcpy(k->name, spec->name, sizeof(k->name));
	k->alg = spec->alg;
	k->rsa = sg_keyalg_is_rsa(spec->alg);
	k->self_verify = k->rsa || spec->self_verify;
	k->priv = priv;
	k->pub = pub;
	priv = pub = NULL;
	memcpy(st->pub, k->pub_der, k->pub_len);
	st->pub_len = k->pub_len;
	r = 0;
out:
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(p11pub);
	ERR_clear_error();
	return r;
}

int
sg_signer_set_keys(struct sg_signer *s, const struct sg_hsm_keyspec *specs, size_t n,
                   struct sg_hsm_key_status *status)
{
	struct sg_inv *inv = NULL, *old;
	struct sg_hsm_key_status st;
	PKCS11_KEY *keys = NULL;
	unsigned nkeys = 0;
	char err[256];
	size_t i, j, ok = 0;
	int r = SG_ERR_INTERNAL, locked = 0;

	if (s == NULL || n > SG_MAX_KEYS || (n > 0 && (specs == NULL || status == NULL)))
		return SG_ERR_INVALID_ARG;
	pthread_mutex_lock(&s->keys_lock);
	locked = 1;
	if ((inv = calloc(1, sizeof(*inv))) == NULL ||
	    (n > 0 && (inv->keys = calloc(n, sizeof(*inv->keys))) == NULL)) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	atomic_init(&inv->refs, 1);
	if (n > 0 && PKCS11_enumerate_keys(s->slot->token, &keys, &nkeys) != 0) {
		/* libp11 0.4.12 fails the whole listing when the token holds a key
		 * type it does not know (e.g. Ed25519). */
		sg_error("signer: cannot list the token's private keys: %s",
		         sg_ossl_err(err, sizeof(err)));
		for (i = 0; i < n; i++) {
			memset(&status[i], 0, sizeof(status[i]));
			snprintf(status[i].name, sizeof(status[i].name), "%s", specs[i].name);
			status[i].alg = specs[i].alg;
			status[i].err = SG_ERR_HSM;
		}
		r = SG_ERR_HSM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		memset(&st, 0, sizeof(st));
		st.alg = specs[i].alg;
		if (memchr(specs[i].name, '\0', sizeof(specs[i].name)) == NULL ||
		    !sg_wire_name_valid(specs[i].name, strlen(specs[i].name))) {
			st.err = SG_ERR_INVALID_ARG;
			status[i] = st;
			continue;
		}
		memcpy(st.name, specs[i].name, sizeof(st.name));
		for (j = 0; j < inv->n; j++)
			if (strcmp(inv->keys[j].name, specs[i].name) == 0)
				break;
		if (j < inv->n) {
			sg_warn("signer: key %s is listed twice; the second is ignored",
			        specs[i].name);
			st.err = SG_ERR_DUPLICATE_FIELD;
		} else if (memchr(specs[i].uri, '\0', sizeof(specs[i].uri)) == NULL) {
			st.err = SG_ERR_INVALID_ARG;
		} else {
			st.err = sg_key_load(s, &specs[i], keys, nkeys, &inv->keys[inv->n], &st);
			if (st.err == 0) {
				inv->n++;
				ok++;
			}
		}
		if (st.err != 0)
			st.pub_len = 0;
		status[i] = st;
	}
	if (inv->n > 1)
		qsort(inv->keys, inv->n, sizeof(*inv->keys), sg_key_cmp);
	pthread_rwlock_wrlock(&s->inv_lock);
	old = s->inv;
	s->inv = inv;
	pthread_rwlock_unlock(&s->inv_lock);
	inv = NULL;
	sg_inv_put(old);
	sg_info("signer: key inventory replaced: %zu of %zu keys usable", ok, n);
	r = 0;
out:
	if (locked)
		pthread_mutex_unlock(&s->keys_lock);
	sg_inv_put(inv);
	return r;
}

/* ---- signing --------------------------------------------------------- */

static void
sg_cache_release(struct sg_sign_cache *c)
{
	EVP_PKEY_CTX_free(c->sctx);
	EVP_PKEY_CTX_free(c->vctx);
	sg_inv_put(c->inv);
	memset(c, 0, sizeof(*c));
}

static int
sg_ctx_params(EVP_PKEY_CTX *c, const struct sg_key *k, enum sg_pad pad, const EVP_MD *md)
{
	if (k->rsa) {
		if (EVP_PKEY_CTX_set_rsa_padding(c, pad == SG_PAD_PSS ? RSA_PKCS1_PSS_PADDING
		                                                      : RSA_PKCS1_PADDING) <= 0)
			return -1;
	}
	/* For RSA PKCS#1 v1.5 the digest makes OpenSSL build the DigestInfo;
	 * for ECDSA it pins the input length. */
	if (EVP_PKEY_CTX_set_signature_md(c, md) <= 0)
		return -1;
	if (k->rsa && pad == SG_PAD_PSS) {
		if (EVP_PKEY_CTX_set_rsa_pss_saltlen(c, EVP_MD_get_size(md)) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(c, md) <= 0)
			return -1;
	}
	return 0;
}

/* Prepares c for (inv, idx, hash, pad); inv is referenced by the cache on success. */
static int
sg_cache_prepare(struct sg_sign_cache *c, struct sg_inv *inv, size_t idx, enum sg_hash hash,
                 enum sg_pad pad)
{
	const struct sg_key *k = &inv->keys[idx];
	const EVP_MD *md = sg_hash_md(hash);

	if (c->inv == inv && c->key == idx && c->hash == hash && c->pad == pad && c->sctx != NULL)
		return 0;
	sg_cache_release(c);
	if ((c->sctx = EVP_PKEY_CTX_new(k->priv, NULL)) == NULL ||
	    EVP_PKEY_sign_init(c->sctx) <= 0 || sg_ctx_params(c->sctx, k, pad, md) != 0)
		goto fail;
	if (k->self_verify &&
	    ((c->vctx = EVP_PKEY_CTX_new(k->pub, NULL)) == NULL ||
	     EVP_PKEY_verify_init(c->vctx) <= 0 || sg_ctx_params(c->vctx, k, pad, md) != 0))
		goto fail;
	atomic_fetch_add(&inv->refs, 1);
	c->inv = inv;
	c->key = idx;
	c->hash = hash;
	c->pad = pad;
	return 0;
fail:
	sg_cache_release(c);
	return SG_ERR_HSM;
}

static int
sg_sign_with(struct sg_signer *s, struct sg_sign_cache *c, const struct sg_hsm_sign_req *req,
             struct sg_hsm_sign_rep *rep)
{
	struct sg_inv *inv = NULL;
	const struct sg_key *k;
	char err[256];
	size_t idx = 0, siglen;
	int r;

	rep->seq = req->seq;
	rep->sig_len = 0;
	ERR_clear_error();
	inv = sg_inv_get(s);
	if (inv == NULL || memchr(req->key, '\0', sizeof(req->key)) == NULL ||
	    (k = sg_inv_find(inv, req->key, &idx)) == NULL) {
		r = SG_ERR_UNKNOWN_KEY;
		goto out;
	}
	if (sg_hash_md(req->hash) == NULL) {
		r = SG_ERR_UNKNOWN_HASH;
		goto out;
	}
	if (req->digest_len != sg_hash_len(req->hash)) {
		r = SG_ERR_DIGEST_LENGTH;
		goto out;
	}
	switch (req->pad) {
	case SG_PAD_NONE:
		break;
	case SG_PAD_PKCS1:
	case SG_PAD_PSS:
		if (!k->rsa) {
			r = SG_ERR_BAD_PADDING;
			goto out;
		}
		break;
	default:
		r = SG_ERR_BAD_PADDING;
		goto out;
	}
	if ((r = sg_cache_prepare(c, inv, idx, req->hash, req->pad)) != 0) {
		sg_error("signer: key %s: cannot set up signing: %s", k->name,
		         sg_ossl_err(err, sizeof(err)));
		goto out;
	}
	siglen = sizeof(rep->sig);
	if (EVP_PKEY_sign(c->sctx, rep->sig, &siglen, req->digest, req->digest_len) <= 0 ||
	    siglen == 0 || siglen > sizeof(rep->sig)) {
		sg_error("signer: key %s: the token did not sign: %s", k->name,
		         sg_ossl_err(err, sizeof(err)));
		sg_cache_release(c);
		r = SG_ERR_HSM;
		goto out;
	}
	if (c->vctx != NULL &&
	    EVP_PKEY_verify(c->vctx, rep->sig, siglen, req->digest, req->digest_len) != 1) {
		sg_error("signer: key %s: signature failed verification with the public key; "
		         "withheld: %s",
		         k->name, sg_ossl_err(err, sizeof(err)));
		sg_wipe(rep->sig, siglen);
		sg_cache_release(c);
		r = SG_ERR_SELF_VERIFY;
		goto out;
	}
	rep->sig_len = siglen;
	r = 0;
out:
	sg_inv_put(inv);
	rep->err = r;
	return r;
}

int
sg_signer_sign(struct sg_signer *s, const struct sg_hsm_sign_req *req, struct sg_hsm_sign_rep *rep)
{
	struct sg_sign_cache c;
	int r;

	if (rep == NULL)
		return SG_ERR_INVALID_ARG;
	if (s == NULL || req == NULL) {
		memset(rep, 0, sizeof(*rep));
		rep->err = SG_ERR_INVALID_ARG;
		return rep->err;
	}
	memset(&c, 0, sizeof(c));
	r = sg_sign_with(s, &c, req, rep);
	sg_cache_release(&c);
	return r;
}

/* ---- service --------------------------------------------------------- */

/* Receives one whole message (all parts) into m; 0, 1 if multipart (dropped), or -1 on errno. */
static int
sg_recv(void *sock, zmq_msg_t *m)
{
	zmq_msg_t extra;
	int more, multi = 0;

	if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0)
		return -1;
	more = zmq_msg_more(m);
	while (more) {
		multi = 1;
		zmq_msg_init(&extra);
		if (zmq_msg_recv(&extra, sock, 0) < 0) {
			zmq_msg_close(&extra);
			return -1;
		}
		more = zmq_msg_more(&extra);
		zmq_msg_close(&extra);
	}
	return multi;
}

/* Waits for input on sock; 1 ready, 0 nothing yet, -1 the thread must exit. */
static int
sg_wait(struct sg_signer *s, void *sock)
{
	zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
	int rc;

	if (atomic_load(&s->stop))
		return -1;
	rc = zmq_poll(&it, 1, SG_POLL_MS);
	if (rc < 0) {
		if (errno == EINTR)
			return 0;
		if (errno != ETERM)
			sg_error("signer: zmq_poll: %s", zmq_strerror(errno));
		return -1;
	}
	return rc > 0 && (it.revents & ZMQ_POLLIN) ? 1 : 0;
}

static void
sg_worker_handle(struct sg_signer *s, struct sg_sign_cache *c, msgpack_sbuffer *sb, void *out,
                 const void *buf, size_t len, int multi)
{
	struct sg_hsm_sign_req req;
	struct sg_hsm_sign_rep rep;
	uint64_t seq;
	int r;

	memset(&rep, 0, sizeof(rep));
	r = multi ? SG_ERR_MALFORMED : sg_hsm_decode_sign_req(buf, len, &req);
	if (r != 0) {
		if (sg_hsm_peek_seq(buf, len, &seq) != 0) {
			sg_warn("signer: dropped a malformed message of %zu bytes (%s)", len,
			        sg_err_name(r));
			return;
		}
		sg_warn("signer: malformed sign request seq %llu (%s)", (unsigned long long)seq,
		        sg_err_name(r));
		rep.seq = seq;
		rep.err = SG_ERR_MALFORMED;
	} else {
		sg_sign_with(s, c, &req, &rep);
	}
	if (sg_hsm_encode_sign_rep(sb, &rep) != 0) {
		sg_error("signer: cannot encode the reply to seq %llu",
		         (unsigned long long)rep.seq);
		return;
	}
	if (zmq_send(out, sb->data, sb->size, 0) < 0 && errno != ETERM)
		sg_error("signer: reply to seq %llu dropped: %s", (unsigned long long)rep.seq,
		         zmq_strerror(errno));
}

static void *
sg_worker_main(void *arg)
{
	struct sg_thread *t = arg;
	struct sg_sign_cache cache;
	msgpack_sbuffer sb;
	zmq_msg_t m;
	int rc;

	memset(&cache, 0, sizeof(cache));
	msgpack_sbuffer_init(&sb);
	zmq_msg_init(&m);
	for (;;) {
		if ((rc = sg_wait(t->s, t->in)) < 0)
			break;
		if (rc == 0)
			continue;
		if ((rc = sg_recv(t->in, &m)) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			if (errno != ETERM)
				sg_error("signer: receive: %s", zmq_strerror(errno));
			break;
		}
		sg_worker_handle(t->s, &cache, &sb, t->out, zmq_msg_data(&m), zmq_msg_size(&m), rc);
	}
	zmq_msg_close(&m);
	sg_cache_release(&cache);
	msgpack_sbuffer_destroy(&sb);
	zmq_close(t->in);
	zmq_close(t->out);
	t->in = t->out = NULL;
	return NULL;
}

static void
sg_control_handle(struct sg_signer *s, msgpack_sbuffer *sb, void *sock, const void *buf, size_t len,
                  int multi)
{
	struct sg_hsm_keys_req req;
	struct sg_hsm_keys_rep rep;
	int r;

	memset(&req, 0, sizeof(req));
	memset(&rep, 0, sizeof(rep));
	r = multi ? SG_ERR_MALFORMED : sg_hsm_decode_keys_req(buf, len, &req);
	if (r != 0) {
		sg_warn("signer: malformed keys request of %zu bytes (%s)", len, sg_err_name(r));
		rep.err = SG_ERR_MALFORMED;
	} else if (req.n > 0 && (rep.keys = calloc(req.n, sizeof(*rep.keys))) == NULL) {
		rep.err = SG_ERR_NOMEM;
	} else {
		rep.err = sg_signer_set_keys(s, req.specs, req.n, rep.keys);
		rep.n = req.n;
	}
	if (sg_hsm_encode_keys_rep(sb, &rep) != 0) {
		/* A REP socket must answer: fall back to a bare error. */
		sg_hsm_keys_rep_clear(&rep);
		rep.err = SG_ERR_INTERNAL;
		if (sg_hsm_encode_keys_rep(sb, &rep) != 0)
			goto out;
	}
	if (zmq_send(sock, sb->data, sb->size, 0) < 0 && errno != ETERM)
		sg_error("signer: keys reply dropped: %s", zmq_strerror(errno));
out:
	sg_hsm_keys_req_clear(&req);
	sg_hsm_keys_rep_clear(&rep);
}

static void *
sg_control_main(void *arg)
{
	struct sg_thread *t = arg;
	msgpack_sbuffer sb;
	zmq_msg_t m;
	int rc;

	msgpack_sbuffer_init(&sb);
	zmq_msg_init(&m);
	for (;;) {
		if ((rc = sg_wait(t->s, t->in)) < 0)
			break;
		if (rc == 0)
			continue;
		if ((rc = sg_recv(t->in, &m)) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			if (errno != ETERM)
				sg_error("signer: control receive: %s", zmq_strerror(errno));
			break;
		}
		sg_control_handle(t->s, &sb, t->in, zmq_msg_data(&m), zmq_msg_size(&m), rc);
	}
	zmq_msg_close(&m);
	msgpack_sbuffer_destroy(&sb);
	zmq_close(t->in);
	t->in = NULL;
	return NULL;
}

static void *
sg_socket(void *zctx, int type, const char *ep, int64_t maxmsg)
{
	void *sock;
	int zero = 0, tmo = SG_SEND_TIMEOUT_MS;

	if ((sock = zmq_socket(zctx, type)) == NULL)
		return NULL;
	if (zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &tmo, sizeof(tmo)) != 0 ||
	    (maxmsg > 0 && zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0) ||
	    zmq_connect(sock, ep) != 0) {
		sg_error("signer: cannot connect to %s: %s", ep, zmq_strerror(errno));
		zmq_close(sock);
		return NULL;
	}
	return sock;
}

int
sg_signer_serve_start(struct sg_signer *s, void *zctx, const char *req_ep, const char *rep_ep,
                      const char *ctl_ep)
{
	struct sg_thread *th = NULL;
	size_t i, n, started = 0;
	int r = SG_ERR_INTERNAL;

	if (s == NULL || zctx == NULL || req_ep == NULL || rep_ep == NULL || ctl_ep == NULL)
		return SG_ERR_INVALID_ARG;
	if (s->threads != NULL)
		return SG_ERR_BUSY;
	n = (size_t)s->workers + 1;
	if ((th = calloc(n, sizeof(*th))) == NULL)
		return SG_ERR_NOMEM;
	/* Sockets are made and connected here, so that a bad endpoint is an
	 * error of this call; each is then used only by its own thread. */
	for (i = 0; i < n; i++) {
		th[i].s = s;
		th[i].control = i == n - 1;
		if (th[i].control) {
			th[i].in = sg_socket(zctx, ZMQ_REP, ctl_ep, SG_HSM_MAX_KEYS_MSG);
			if (th[i].in == NULL) {
				r = SG_ERR_CONFIG;
				goto out;
			}
		} else {
			th[i].in = sg_socket(zctx, ZMQ_PULL, req_ep, SG_HSM_MAX_MSG);
			th[i].out = sg_socket(zctx, ZMQ_PUSH, rep_ep, 0);
			if (th[i].in == NULL || th[i].out == NULL) {
				r = SG_ERR_CONFIG;
				goto out;
			}
		}
	}
	atomic_store(&s->stop, 0);
	for (started = 0; started < n; started++) {
		if (pthread_create(&th[started].tid, NULL,
		                   th[started].control ? sg_control_main : sg_worker_main,
		                   &th[started]) != 0) {
			sg_error("signer: cannot start a service thread");
			r = SG_ERR_INTERNAL;
			goto out;
		}
	}
	s->threads = th;
	s->nthreads = n;
	th = NULL;
	sg_info("signer: serving with %u workers", s->workers);
	r = 0;
out:
	if (th != NULL) {
		atomic_store(&s->stop, 1);
		for (i = 0; i < started; i++)
			pthread_join(th[i].tid, NULL);
		for (i = started; i < n; i++) {
			if (th[i].in != NULL)
				zmq_close(th[i].in);
			if (th[i].out != NULL)
				zmq_close(th[i].out);
		}
		free(th);
	}
	return r;
}

void
sg_signer_serve_stop(struct sg_signer *s)
{
	size_t i;

	if (s == NULL || s->threads == NULL)
		return;
	atomic_store(&s->stop, 1);
	for (i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i].tid, NULL);
	free(s->threads);
	s->threads = NULL;
	s->nthreads = 0;
}
