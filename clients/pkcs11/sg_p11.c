/*
 * sg_p11: the PKCS#11 v2.40 module libsignet-pkcs11.so
 * (docs/pkcs11-module.md).  It presents one slot holding one token: the
 * appliance named by the client configuration (SIGNET_PKCS11_CONFIG, else
 * SG_P11_DEFAULT_CONFIG).  The token's objects are built from keys.list:
 * for each key this client may sign digests with, a private key, a public
 * key and, where the appliance has one, a certificate.  Every signature is
 * one sign.digest request; hashing mechanisms hash locally.
 *
 * It owns the module's global state (one libsignet client, the object table,
 * the sessions), all behind one mutex, since a libsignet client is not
 * thread-safe.  After fork() the child abandons the parent's client (its
 * ZeroMQ context cannot be used or freed in the child) and connects anew.
 *
 * It must never abort or exit the host process, never hold key material
 * (there is none on this side), and never answer a function it does not
 * implement with anything but CKR_FUNCTION_NOT_SUPPORTED.
 */
#define CRYPTOKI_COMPAT 1
#include <p11-kit/pkcs11.h>

#include "sg_p11conv.h"
#include "signet.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#define SG_P11_EXPORT __attribute__((visibility("default")))
#define SG_P11_DEFAULT_CONFIG SIGNET_SYSCONFDIR "/signet/pkcs11.conf"
#define SG_P11_SLOT 1
#define SG_P11_MAX_SESSIONS 4096
#define SG_P11_ID_LEN 16

/* One attribute of an object, its value owned by the object. */
struct p11_attr {
	CK_ATTRIBUTE_TYPE type;
	unsigned char *val;
	CK_ULONG len;
};

struct p11_obj {
	CK_OBJECT_CLASS cls;
	size_t key; /* index in g.keys */
	size_t n, cap;
	struct p11_attr *attrs;
};

struct p11_sess {
	int used;
	CK_FLAGS flags;
	/* find */
	int finding;
	CK_OBJECT_HANDLE *found;
	size_t n_found, pos;
	/* sign */
	int signing;
	CK_MECHANISM_TYPE mech;
	size_t key;
	enum sg_hash hash; /* hashing mechanisms and PSS: the hash; else NONE */
	EVP_MD_CTX *md;    /* hashing mechanisms only */
};

static struct {
	pthread_mutex_t lock;
	int initialized;
	pid_t pid;
	int logged_in;
	struct sg_clientconf cfg;
	int cfg_loaded;
	struct signet_client *client;
	struct sg_key_info *keys; /* keys.list, those with sign.digest only */
	size_t n_keys;
	int keys_loaded;
	struct p11_obj *objs; /* handle h is objs[h - 1] */
	size_t n_objs;
	struct p11_sess *sess; /* session handle h is sess[h - 1] */
	size_t n_sess;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void
atfork_prepare(void)
{
	pthread_mutex_lock(&g.lock);
}

static void
atfork_parent(void)
{
	pthread_mutex_unlock(&g.lock);
}

static void
atfork_child(void)
{
	pthread_mutex_unlock(&g.lock);
}

static void
atfork_register(void)
{
	(void)pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Copies s into the blank-padded PKCS#11 field f of n bytes. */
static void
pad_copy(CK_UTF8CHAR *f, size_t n, const char *s)
{
	size_t l = strlen(s);

	memset(f, ' ', n);
	memcpy(f, s, l < n ? l : n);
}

/* The PKCS#11 code a caller can act on for a libsignet/appliance error
 * (the table of docs/pkcs11-module.md). */
static CK_RV
map_err(int err)
{
	switch (err) {
	case 0:
		return CKR_OK;
	case SG_ERR_NOMEM:
		return CKR_HOST_MEMORY;
	case SG_ERR_DENIED:
		return CKR_FUNCTION_REJECTED;
	case SG_ERR_UNKNOWN_KEY:
		return CKR_KEY_HANDLE_INVALID;
	case SG_ERR_UNKNOWN_HASH:
	case SG_ERR_BAD_PADDING:
		return CKR_MECHANISM_INVALID;
	case SG_ERR_DIGEST_LENGTH:
		return CKR_DATA_LEN_RANGE;
	case SG_ERR_INVALID_ARG:
		return CKR_ARGUMENTS_BAD;
	default:
		/* Unreachable, timed out, busy after the retries, HSM or audit
		 * trouble, a malformed reply: the device failed this request;
		 * the next may succeed (the client reconnects by itself). */
		return CKR_DEVICE_ERROR;
	}
}

/* ---- Objects ---- */

static int
obj_add(struct p11_obj *o, CK_ATTRIBUTE_TYPE type, const void *val, size_t len)
{
	struct p11_attr *a;

	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 24;
		a = realloc(o->attrs, cap * sizeof(*a));
		if (a == NULL)
			return SG_ERR_NOMEM;
		o->attrs = a;
		o->cap = cap;
	}
	a = &o->attrs[o->n];
	a->type = type;
	a->len = len;
	a->val = malloc(len ? len : 1);
	if (a->val == NULL)
		return SG_ERR_NOMEM;
	if (len)
		memcpy(a->val, val, len);
	o->n++;
	return 0;
}

static int
obj_bool(struct p11_obj *o, CK_ATTRIBUTE_TYPE type, int v)
{
	CK_BBOOL b = v ? CK_TRUE : CK_FALSE;

	return obj_add(o, type, &b, sizeof(b));
}

static int
obj_ulong(struct p11_obj *o, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
	return obj_add(o, type, &v, sizeof(v));
}

static const struct p11_attr *
obj_get(const struct p11_obj *o, CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->attrs[i].type == type)
			return &o->attrs[i];
	return NULL;
}

static void
obj_clear(struct p11_obj *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->attrs[i].val);
	free(o->attrs);
	memset(o, 0, sizeof(*o));
}

/* Adds the DER of a BIGNUM parameter name of pkey as big-endian bytes. */
static int
add_bn(struct p11_obj *o, CK_ATTRIBUTE_TYPE type, EVP_PKEY *pkey, const char *name)
{
	BIGNUM *bn = NULL;
	unsigned char *buf = NULL;
	int len, r = SG_ERR_INTERNAL;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
		goto out;
	len = BN_num_bytes(bn);
	if ((buf = malloc(len ? (size_t)len : 1)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	BN_bn2bin(bn, buf);
	r = obj_add(o, type, buf, (size_t)len);
out:
	free(buf);
	BN_free(bn);
	return r;
}

/* The key-type attributes and public parameters, shared by the private and
 * the public key object (libp11 reads them from the private key). */
static int
add_key_common(struct p11_obj *o, const struct sg_key_info *k, EVP_PKEY *pkey,
               const unsigned char *id, const unsigned char *subj, size_t subj_len)
{
	int r;

	if ((r = obj_bool(o, CKA_TOKEN, 1)) != 0 || (r = obj_bool(o, CKA_PRIVATE, 0)) != 0 ||
	    (r = obj_bool(o, CKA_MODIFIABLE, 0)) != 0 ||
	    (r = obj_add(o, CKA_LABEL, k->name, strlen(k->name))) != 0 ||
	    (r = obj_add(o, CKA_ID, id, SG_P11_ID_LEN)) != 0 ||
	    (r = obj_bool(o, CKA_LOCAL, 1)) != 0 || (r = obj_bool(o, CKA_DERIVE, 0)) != 0 ||
	    (r = obj_add(o, CKA_SUBJECT, subj, subj_len)) != 0 ||
	    (r = obj_add(o, CKA_PUBLIC_KEY_INFO, k->pub, k->pub_len)) != 0)
		return r;
	if (sg_keyalg_is_rsa(k->alg)) {
		if ((r = obj_ulong(o, CKA_KEY_TYPE, CKK_RSA)) != 0 ||
		    (r = add_bn(o, CKA_MODULUS, pkey, OSSL_PKEY_PARAM_RSA_N)) != 0 ||
		    (r = add_bn(o, CKA_PUBLIC_EXPONENT, pkey, OSSL_PKEY_PARAM_RSA_E)) != 0 ||
		    (r = obj_ulong(o, CKA_MODULUS_BITS, (CK_ULONG)EVP_PKEY_get_bits(pkey))) != 0)
			return r;
	} else {
		char group[64];
		unsigned char point[160], *params = NULL, *pder = NULL;
		size_t plen = 0;
		ASN1_OBJECT *oid;
		ASN1_OCTET_STRING *os = NULL;
		int n, m;

		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                   sizeof(group), NULL) != 1 ||
		    EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
		                                    sizeof(point), &plen) != 1 ||
		    (oid = OBJ_nid2obj(OBJ_txt2nid(group))) == NULL)
			return SG_ERR_INTERNAL;
		/* CKA_EC_PARAMS: the named curve's OID; CKA_EC_POINT: the
		 * uncompressed point wrapped in a DER OCTET STRING (v2.40). */
		r = SG_ERR_INTERNAL;
		if ((n = i2d_ASN1_OBJECT(oid, &params)) > 0 &&
		    (os = ASN1_OCTET_STRING_new()) != NULL &&
		    ASN1_OCTET_STRING_set(os, point, (int)plen) == 1 &&
		    (m = i2d_ASN1_OCTET_STRING(os, &pder)) > 0) {
			if ((r = obj_ulong(o, CKA_KEY_TYPE, CKK_EC)) == 0 &&
			    (r = obj_add(o, CKA_EC_PARAMS, params, (size_t)n)) == 0)
				r = obj_add(o, CKA_EC_POINT, pder, (size_t)m);
		}
		OPENSSL_free(params);
		OPENSSL_free(pder);
		ASN1_OCTET_STRING_free(os);
		if (r != 0)
			return r;
	}
	return 0;
}

static int
add_der_name(struct p11_obj *o, CK_ATTRIBUTE_TYPE type, const X509_NAME *name)
{
	unsigned char *der = NULL;
	int n = i2d_X509_NAME(name, &der), r;

	if (n <= 0)
		return SG_ERR_INTERNAL;
	r = obj_add(o, type, der, (size_t)n);
	OPENSSL_free(der);
	return r;
}

/* Builds the objects of key i: private key, public key, certificate. */
static int
build_key_objects(size_t i)
{
	const struct sg_key_info *k = &g.keys[i];
	unsigned char md[32], *subj = NULL, *ser = NULL;
	int subj_len = 0, ser_len, r;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	struct p11_obj *o;
	const unsigned char *p;

	/* CKA_ID: stable across loads and processes, derived from the name. */
	if (EVP_Digest(k->name, strlen(k->name), md, NULL, EVP_sha256(), NULL) != 1)
		return SG_ERR_INTERNAL;
	if ((r = signet_key_pubkey(k, &pkey)) != 0)
		return r;
	if (k->n_certs > 0) {
		p = k->cert[0];
		cert = d2i_X509(NULL, &p, (long)k->cert_len[0]);
		if (cert == NULL ||
		    (subj_len = i2d_X509_NAME(X509_get_subject_name(cert), &subj)) <= 0) {
			r = SG_ERR_MALFORMED;
			goto out;
		}
	}

	o = &g.objs[g.n_objs++];
	o->cls = CKO_PRIVATE_KEY;
	o->key = i;
	if ((r = obj_ulong(o, CKA_CLASS, CKO_PRIVATE_KEY)) != 0 ||
	    (r = add_key_common(o, k, pkey, md, subj, subj_len > 0 ? (size_t)subj_len : 0)) != 0 ||
	    (r = obj_bool(o, CKA_SIGN, 1)) != 0 || (r = obj_bool(o, CKA_SIGN_RECOVER, 0)) != 0 ||
	    (r = obj_bool(o, CKA_DECRYPT, 0)) != 0 || (r = obj_bool(o, CKA_UNWRAP, 0)) != 0 ||
	    (r = obj_bool(o, CKA_SENSITIVE, 1)) != 0 ||
	    (r = obj_bool(o, CKA_ALWAYS_SENSITIVE, 1)) != 0 ||
	    (r = obj_bool(o, CKA_EXTRACTABLE, 0)) != 0 ||
	    (r = obj_bool(o, CKA_NEVER_EXTRACTABLE, 1)) != 0 ||
	    (r = obj_bool(o, CKA_ALWAYS_AUTHENTICATE, 0)) != 0)
		goto out;

	o = &g.objs[g.n_objs++];
	o->cls = CKO_PUBLIC_KEY;
	o->key = i;
	/* CKA_VERIFY false: the module does not verify (C_Verify* is not
	 * supported); callers verify with the public parameters themselves. */
	if ((r = obj_ulong(o, CKA_CLASS, CKO_PUBLIC_KEY)) != 0 ||
	    (r = add_key_common(o, k, pkey, md, subj, subj_len > 0 ? (size_t)subj_len : 0)) != 0 ||
	    (r = obj_bool(o, CKA_VERIFY, 0)) != 0 ||
	    (r = obj_bool(o, CKA_VERIFY_RECOVER, 0)) != 0 ||
	    (r = obj_bool(o, CKA_ENCRYPT, 0)) != 0 || (r = obj_bool(o, CKA_WRAP, 0)) != 0 ||
	    (r = obj_bool(o, CKA_TRUSTED, 0)) != 0)
		goto out;

	if (cert != NULL) {
		ser = NULL;
		ser_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert), &ser);
		if (ser_len <= 0) {
			r = SG_ERR_INTERNAL;
			goto out;
		}
		o = &g.objs[g.n_objs++];
		o->cls = CKO_CERTIFICATE;
		o->key = i;
		if ((r = obj_ulong(o, CKA_CLASS, CKO_CERTIFICATE)) != 0 ||
		    (r = obj_bool(o, CKA_TOKEN, 1)) != 0 ||
		    (r = obj_bool(o, CKA_PRIVATE, 0)) != 0 ||
		    (r = obj_bool(o, CKA_MODIFIABLE, 0)) != 0 ||
		    (r = obj_add(o, CKA_LABEL, k->name, strlen(k->name))) != 0 ||
		    (r = obj_add(o, CKA_ID, md, SG_P11_ID_LEN)) != 0 ||
		    (r = obj_ulong(o, CKA_CERTIFICATE_TYPE, CKC_X_509)) != 0 ||
		    (r = obj_bool(o, CKA_TRUSTED, 0)) != 0 ||
		    (r = obj_ulong(o, CKA_CERTIFICATE_CATEGORY, 0)) != 0 ||
		    (r = obj_add(o, CKA_VALUE, k->cert[0], k->cert_len[0])) != 0 ||
		    (r = obj_add(o, CKA_SUBJECT, subj, (size_t)subj_len)) != 0 ||
		    (r = add_der_name(o, CKA_ISSUER, X509_get_issuer_name(cert))) != 0 ||
		    (r = obj_add(o, CKA_SERIAL_NUMBER, ser, (size_t)ser_len)) != 0)
			goto out;
	}
	r = 0;
out:
	OPENSSL_free(ser);
	OPENSSL_free(subj);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	return r;
}

static void
objects_clear(void)
{
	for (size_t i = 0; i < g.n_objs; i++)
		obj_clear(&g.objs[i]);
	free(g.objs);
	g.objs = NULL;
	g.n_objs = 0;
	signet_keys_free(g.keys, g.n_keys);
	g.keys = NULL;
	g.n_keys = 0;
	g.keys_loaded = 0;
}

/* The client of this process: after fork() the parent's is abandoned, not
 * freed, since its ZeroMQ context belongs to threads the child lacks. */
static struct signet_client *
client_get(void)
{
	char why[256];

	if (g.pid != getpid()) {
		g.client = NULL;
		g.pid = getpid();
	}
	if (g.client == NULL)
		g.client = signet_client_new(&g.cfg, NULL, why, sizeof(why));
	return g.client;
}

/* Loads keys.list once; the token is present once it has been loaded, and
 * its object handles stay the same for the life of the module. */
static CK_RV
keys_ensure(void)
{
	struct signet_client *c;
	struct sg_key_info *all = NULL;
	size_t n = 0, k = 0;
	int r;

	if (g.keys_loaded)
		return CKR_OK;
	if ((c = client_get()) == NULL)
		return CKR_DEVICE_ERROR;
	if ((r = signet_keys_list(c, &all, &n)) != 0)
		return map_err(r);
	/* Only keys this client may sign digests with become objects. */
	for (size_t i = 0; i < n; i++) {
		if (!(all[i].ops & (1u << SG_OP_SIGN_DIGEST)))
			continue;
		if (k != i) {
			struct sg_key_info t = all[k];
			all[k] = all[i];
			all[i] = t;
		}
		k++;
	}
	g.keys = all;
	g.n_keys = n;
	if (k > 0 && (g.objs = calloc(3 * k, sizeof(*g.objs))) == NULL) {
		objects_clear();
		return CKR_HOST_MEMORY;
	}
	for (size_t i = 0; i < k; i++) {
		if ((r = build_key_objects(i)) != 0) {
			objects_clear();
			return r == SG_ERR_NOMEM ? CKR_HOST_MEMORY : CKR_DEVICE_ERROR;
		}
	}
	g.keys_loaded = 1;
	return CKR_OK;
}

static struct p11_obj *
obj_of(CK_OBJECT_HANDLE h)
{
	if (h == 0 || h > g.n_objs)
		return NULL;
	return &g.objs[h - 1];
}

/* ---- Sessions ---- */

static void
sess_end_find(struct p11_sess *s)
{
	free(s->found);
	s->found = NULL;
	s->n_found = s->pos = 0;
	s->finding = 0;
}

static void
sess_end_sign(struct p11_sess *s)
{
	EVP_MD_CTX_free(s->md);
	s->md = NULL;
	s->signing = 0;
}

static void
sess_close(struct p11_sess *s)
{
	sess_end_find(s);
	sess_end_sign(s);
	memset(s, 0, sizeof(*s));
}

static struct p11_sess *
sess_of(CK_SESSION_HANDLE h)
{
	if (h == 0 || h > g.n_sess || !g.sess[h - 1].used)
		return NULL;
	return &g.sess[h - 1];
}

/* The one slot and a non-NULL output: CKR_SLOT_ID_INVALID is checked first. */
static CK_RV
slot_args(CK_SLOT_ID slot, const void *out)
{
	if (slot != SG_P11_SLOT)
		return CKR_SLOT_ID_INVALID;
	return out == NULL ? CKR_ARGUMENTS_BAD : CKR_OK;
}

/* The session of handle h, or CKR_SESSION_HANDLE_INVALID. */
static CK_RV
sess_get(CK_SESSION_HANDLE h, struct p11_sess **out)
{
	return (*out = sess_of(h)) == NULL ? CKR_SESSION_HANDLE_INVALID : CKR_OK;
}

/* The session of handle h with a search under way (C_FindObjectsInit). */
static CK_RV
sess_finding(CK_SESSION_HANDLE h, struct p11_sess **out)
{
	if ((*out = sess_of(h)) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	return (*out)->finding ? CKR_OK : CKR_OPERATION_NOT_INITIALIZED;
}

/* The session of handle h with a signature under way (C_SignInit). */
static CK_RV
sess_signing(CK_SESSION_HANDLE h, struct p11_sess **out)
{
	if ((*out = sess_of(h)) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	return (*out)->signing ? CKR_OK : CKR_OPERATION_NOT_INITIALIZED;
}

static size_t
sess_count(int rw_only)
{
	size_t n = 0;

	for (size_t i = 0; i < g.n_sess; i++)
		if (g.sess[i].used && (!rw_only || (g.sess[i].flags & CKF_RW_SESSION)))
			n++;
	return n;
}

/* Every entry point: the lock, and the module initialised. */
/*
 * Every entry point takes the module lock first and releases it at its one
 * out: label; before C_Initialize the answer is CKR_CRYPTOKI_NOT_INITIALIZED.
 */
static CK_RV
sg_p11_enter(void)
{
	pthread_mutex_lock(&g.lock);
	return g.initialized ? CKR_OK : CKR_CRYPTOKI_NOT_INITIALIZED;
}

/* ---- General ---- */

SG_P11_EXPORT CK_RV
C_Initialize(CK_VOID_PTR init_args)
{
	CK_C_INITIALIZE_ARGS *a = init_args;
	char why[256];
	const char *path;
	CK_RV rv = CKR_OK;
	int r;

	pthread_once(&g_atfork_once, atfork_register);
	pthread_mutex_lock(&g.lock);
	/* A child of fork() inherits an initialised module: it starts afresh. */
	if (g.initialized && g.pid == getpid()) {
		rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
		goto out;
	}
	if (a != NULL) {
		int some = a->CreateMutex || a->DestroyMutex || a->LockMutex || a->UnlockMutex;
		int all = a->CreateMutex && a->DestroyMutex && a->LockMutex && a->UnlockMutex;

		if (a->pReserved != NULL || (some && !all)) {
			rv = CKR_ARGUMENTS_BAD;
			goto out;
		}
		/* libzmq always starts threads of its own. */
		if (a->flags & CKF_LIBRARY_CANT_CREATE_OS_THREADS) {
			rv = CKR_NEED_TO_CREATE_THREADS;
			goto out;
		}
		/* Only the OS's locks are used. */
		if (all && !(a->flags & CKF_OS_LOCKING_OK)) {
			rv = CKR_CANT_LOCK;
			goto out;
		}
	}
	if (g.initialized) {
		/* fork()ed child: drop the parent's state without touching its
		 * client (see client_get). */
		g.client = NULL;
		for (size_t i = 0; i < g.n_sess; i++)
			sess_close(&g.sess[i]);
		free(g.sess);
		g.sess = NULL;
		g.n_sess = 0;
		objects_clear();
		sg_clientconf_clear(&g.cfg);
		g.initialized = 0;
	}
	path = getenv("SIGNET_PKCS11_CONFIG");
	if (path == NULL || *path == '\0')
		path = SG_P11_DEFAULT_CONFIG;
	if ((r = sg_clientconf_load(path, &g.cfg, why, sizeof(why))) != 0) {
		rv = r == SG_ERR_NOMEM ? CKR_HOST_MEMORY : CKR_GENERAL_ERROR;
		goto out;
	}
	g.pid = getpid();
	g.client = NULL;
	g.logged_in = 0;
	g.initialized = 1;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

SG_P11_EXPORT CK_RV
C_Finalize(CK_VOID_PTR reserved)
{
	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if (reserved != NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	for (size_t i = 0; i < g.n_sess; i++)
		sess_close(&g.sess[i]);
	free(g.sess);
	g.sess = NULL;
	g.n_sess = 0;
	objects_clear();
	if (g.pid == getpid())
		signet_client_free(g.client);
	g.client = NULL;
	sg_clientconf_clear(&g.cfg);
	g.initialized = 0;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

SG_P11_EXPORT CK_RV
C_GetInfo(CK_INFO_PTR info)
{
	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if (info == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	memset(info, 0, sizeof(*info));
	info->cryptokiVersion.major = 2;
	info->cryptokiVersion.minor = 40;
	pad_copy(info->manufacturerID, sizeof(info->manufacturerID), "Signet");
	pad_copy(info->libraryDescription, sizeof(info->libraryDescription),
	         "Signet appliance PKCS#11 module");
	info->libraryVersion.major = 0;
	info->libraryVersion.minor = 1;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

/* ---- Slot and token ---- */

SG_P11_EXPORT CK_RV
C_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	CK_ULONG n;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if (count == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	/* The token is present when the appliance has answered keys.list. */
	n = (!token_present || keys_ensure() == CKR_OK) ? 1 : 0;
	if (list != NULL) {
		if (*count < n) {
			*count = n;
			rv = CKR_BUFFER_TOO_SMALL;
			goto out;
		}
		if (n)
			list[0] = SG_P11_SLOT;
	}
	*count = n;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

SG_P11_EXPORT CK_RV
C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
	char desc[80];

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = slot_args(slot, info)) != CKR_OK)
		goto out;
	memset(info, 0, sizeof(*info));
	snprintf(desc, sizeof(desc), "Signet %s", g.cfg.endpoint);
	pad_copy(info->slotDescription, sizeof(info->slotDescription), desc);
	pad_copy(info->manufacturerID, sizeof(info->manufacturerID), "Signet");
	info->flags = CKF_REMOVABLE_DEVICE | CKF_HW_SLOT;
	if (keys_ensure() == CKR_OK)
		info->flags |= CKF_TOKEN_PRESENT;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

SG_P11_EXPORT CK_RV
C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	char serial[17];

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = slot_args(slot, info)) != CKR_OK)
		goto out;
	if (keys_ensure() != CKR_OK) {
		rv = CKR_TOKEN_NOT_PRESENT;
		goto out;
	}
	memset(info, 0, sizeof(*info));
	pad_copy(info->label, sizeof(info->label), "signet");
	pad_copy(info->manufacturerID, sizeof(info->manufacturerID), "Signet");
	pad_copy(info->model, sizeof(info->model), "appliance");
	/* The serial: the appliance's CURVE public key, 8 bytes in hex. */
	for (int i = 0; i < 8; i++)
		snprintf(serial + 2 * i, 3, "%02x", g.cfg.server_pub[i]);
	pad_copy(info->serialNumber, sizeof(info->serialNumber), serial);
	/* No CKF_LOGIN_REQUIRED: the client is authenticated by its CURVE key. */
	info->flags = CKF_TOKEN_INITIALIZED;
	info->ulMaxSessionCount = SG_P11_MAX_SESSIONS;
	info->ulSessionCount = sess_count(0);
	info->ulMaxRwSessionCount = SG_P11_MAX_SESSIONS;
	info->ulRwSessionCount = sess_count(1);
	info->ulMaxPinLen = 0;
	info->ulMinPinLen = 0;
	info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->hardwareVersion.major = 1;
	info->firmwareVersion.major = 1;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

/* ---- Mechanisms ---- */

struct mech_def {
	CK_MECHANISM_TYPE type;
	int rsa;           /* 1 RSA, 0 EC */
	enum sg_hash hash; /* hashed locally with this hash; NONE: the caller hashed */
	enum sg_pad pad;
};

static const struct mech_def mechs[] = {
    {CKM_ECDSA, 0, SG_HASH_NONE, SG_PAD_NONE},
    {CKM_ECDSA_SHA256, 0, SG_HASH_SHA256, SG_PAD_NONE},
    {CKM_ECDSA_SHA384, 0, SG_HASH_SHA384, SG_PAD_NONE},
    {CKM_ECDSA_SHA512, 0, SG_HASH_SHA512, SG_PAD_NONE},
    {CKM_RSA_PKCS, 1, SG_HASH_NONE, SG_PAD_PKCS1},
    {CKM_SHA256_RSA_PKCS, 1, SG_HASH_SHA256, SG_PAD_PKCS1},
    {CKM_SHA384_RSA_PKCS, 1, SG_HASH_SHA384, SG_PAD_PKCS1},
    {CKM_SHA512_RSA_PKCS, 1, SG_HASH_SHA512, SG_PAD_PKCS1},
    {CKM_RSA_PKCS_PSS, 1, SG_HASH_NONE, SG_PAD_PSS},
    {CKM_SHA256_RSA_PKCS_PSS, 1, SG_HASH_SHA256, SG_PAD_PSS},
    {CKM_SHA384_RSA_PKCS_PSS, 1, SG_HASH_SHA384, SG_PAD_PSS},
    {CKM_SHA512_RSA_PKCS_PSS, 1, SG_HASH_SHA512, SG_PAD_PSS},
};

static const struct mech_def *
mech_find(CK_MECHANISM_TYPE t)
{
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (mechs[i].type == t)
			return &mechs[i];
	return NULL;
}

/* Key sizes in bits of the token's keys of one kind; 0 when it has none. */
static void
key_bits(int rsa, CK_ULONG *min, CK_ULONG *max)
{
	*min = *max = 0;
	for (size_t i = 0; i < g.n_objs; i++) {
		const struct sg_key_info *k;
		CK_ULONG bits;

		if (g.objs[i].cls != CKO_PRIVATE_KEY)
			continue;
		k = &g.keys[g.objs[i].key];
		if (sg_keyalg_is_rsa(k->alg) != rsa)
			continue;
		bits = rsa ? 8 * sg_p11conv_sig_len(k->alg) : 8 * sg_p11conv_ec_field_len(k->alg);
		if (*min == 0 || bits < *min)
			*min = bits;
		if (bits > *max)
			*max = bits;
	}
}

SG_P11_EXPORT CK_RV
C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	CK_ULONG n = 0, min, max;
	int have[2];

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = slot_args(slot, count)) != CKR_OK)
		goto out;
	if (keys_ensure() != CKR_OK) {
		rv = CKR_TOKEN_NOT_PRESENT;
		goto out;
	}
	/* Only the mechanisms of the key types the token holds. */
	key_bits(0, &min, &max);
	have[0] = max > 0;
	key_bits(1, &min, &max);
	have[1] = max > 0;
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		if (!have[mechs[i].rsa])
			continue;
		if (list != NULL && n < *count)
			list[n] = mechs[i].type;
		n++;
	}
	if (list != NULL && *count < n)
		rv = CKR_BUFFER_TOO_SMALL;
	*count = n;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

SG_P11_EXPORT CK_RV
C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	const struct mech_def *m;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = slot_args(slot, info)) != CKR_OK)
		goto out;
	if (keys_ensure() != CKR_OK) {
		rv = CKR_TOKEN_NOT_PRESENT;
		goto out;
	}
	m = mech_find(type);
	memset(info, 0, sizeof(*info));
	if (m != NULL)
		key_bits(m->rsa, &info->ulMinKeySize, &info->ulMaxKeySize);
	if (m == NULL || info->ulMaxKeySize == 0) {
		rv = CKR_MECHANISM_INVALID;
		goto out;
	}
	info->flags = CKF_HW | CKF_SIGN;
	if (!m->rsa)
		info->flags |= CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

/* ---- Sessions ---- */

SG_P11_EXPORT CK_RV
C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
              CK_SESSION_HANDLE_PTR out_h)
{
	size_t i;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = slot_args(slot, out_h)) != CKR_OK)
		goto out;
	if (!(flags & CKF_SERIAL_SESSION)) {
		rv = CKR_SESSION_PARALLEL_NOT_SUPPORTED;
		goto out;
	}
	if ((rv = keys_ensure()) != CKR_OK) {
		rv = rv == CKR_HOST_MEMORY ? rv : CKR_TOKEN_NOT_PRESENT;
		goto out;
	}
	for (i = 0; i < g.n_sess && g.sess[i].used; i++)
		;
	if (i == g.n_sess) {
		size_t cap = g.n_sess ? 2 * g.n_sess : 16;
		struct p11_sess *s;

		if (cap > SG_P11_MAX_SESSIONS) {
			rv = CKR_SESSION_COUNT;
			goto out;
		}
		if ((s = realloc(g.sess, cap * sizeof(*s))) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		memset(s + g.n_sess, 0, (cap - g.n_sess) * sizeof(*s));
		g.sess = s;
		g.n_sess = cap;
	}
	g.sess[i].used = 1;
	g.sess[i].flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
	*out_h = i + 1;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

SG_P11_EXPORT CK_RV
C_CloseSession(CK_SESSION_HANDLE h)
{
	struct p11_sess *s;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = sess_get(h, &s)) != CKR_OK)
		goto out;
	sess_close(s);
	if (sess_count(0) == 0)
		g.logged_in = 0;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

SG_P11_EXPORT CK_RV
C_CloseAllSessions(CK_SLOT_ID slot)
{
	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if (slot != SG_P11_SLOT) {
		rv = CKR_SLOT_ID_INVALID;
		goto out;
	}
	for (size_t i = 0; i < g.n_sess; i++)
		if (g.sess[i].used)
			sess_close(&g.sess[i]);
	g.logged_in = 0;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

SG_P11_EXPORT CK_RV
C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
	struct p11_sess *s;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = sess_get(h, &s)) != CKR_OK)
		goto out;
	if (info == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	memset(info, 0, sizeof(*info));
	info->slotID = SG_P11_SLOT;
	info->flags = s->flags;
	if (s->flags & CKF_RW_SESSION)
		info->state = g.logged_in ? CKS_RW_USER_FUNCTIONS : CKS_RW_PUBLIC_SESSION;
	else
		info->state = g.logged_in ? CKS_RO_USER_FUNCTIONS : CKS_RO_PUBLIC_SESSION;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

/*
 * The token has no PIN (no CKF_LOGIN_REQUIRED): the appliance authenticates
 * this client by its CURVE key, and every object is public.  C_Login as the
 * user is accepted for callers that log in regardless, with any PIN, and
 * changes only the session state reported; documented in
 * docs/pkcs11-module.md.  Other user types are refused.
 */
SG_P11_EXPORT CK_RV
C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
	struct p11_sess *s;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = sess_get(h, &s)) != CKR_OK)
		goto out;
	if (user != CKU_USER) {
		rv = CKR_USER_TYPE_INVALID;
		goto out;
	}
	if (g.logged_in) {
		rv = CKR_USER_ALREADY_LOGGED_IN;
		goto out;
	}
	g.logged_in = 1;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

SG_P11_EXPORT CK_RV
C_Logout(CK_SESSION_HANDLE h)
{
	struct p11_sess *s;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = sess_get(h, &s)) != CKR_OK)
		goto out;
	if (!g.logged_in) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	g.logged_in = 0;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

/* ---- Objects ---- */

/* Attributes a private key holds but never reveals. */
static int
attr_sensitive(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE t)
{
	if (cls != CKO_PRIVATE_KEY)
		return 0;
	switch (t) {
	case CKA_VALUE:
	case CKA_PRIVATE_EXPONENT:
	case CKA_PRIME_1:
	case CKA_PRIME_2:
	case CKA_EXPONENT_1:
	case CKA_EXPONENT_2:
	case CKA_COEFFICIENT:
		return 1;
	default:
		return 0;
	}
}

SG_P11_EXPORT CK_RV
C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
	const struct p11_obj *o;
	struct p11_sess *s;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = sess_get(h, &s)) != CKR_OK)
		goto out;
	if ((o = obj_of(oh)) == NULL) {
		rv = CKR_OBJECT_HANDLE_INVALID;
		goto out;
	}
	if (tmpl == NULL && n > 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	/* Each attribute on its own (v2.40 5.7): the others are still filled. */
	for (CK_ULONG i = 0; i < n; i++) {
		const struct p11_attr *a = obj_get(o, tmpl[i].type);

		if (attr_sensitive(o->cls, tmpl[i].type)) {
			tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_SENSITIVE;
		} else if (a == NULL) {
			tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_TYPE_INVALID;
		} else if (tmpl[i].pValue == NULL) {
			tmpl[i].ulValueLen = a->len;
		} else if (tmpl[i].ulValueLen < a->len) {
			tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_BUFFER_TOO_SMALL;
		} else {
			memcpy(tmpl[i].pValue, a->val, a->len);
			tmpl[i].ulValueLen = a->len;
		}
	}
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

static int
obj_matches(const struct p11_obj *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		const struct p11_attr *a = obj_get(o, tmpl[i].type);

		if (a == NULL || a->len != tmpl[i].ulValueLen ||
		    (a->len > 0 &&
		     (tmpl[i].pValue == NULL || memcmp(a->val, tmpl[i].pValue, a->len))))
			return 0;
	}
	return 1;
}

SG_P11_EXPORT CK_RV
C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
	struct p11_sess *s;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = sess_get(h, &s)) != CKR_OK)
		goto out;
	if (tmpl == NULL && n > 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (s->finding) {
		rv = CKR_OPERATION_ACTIVE;
		goto out;
	}
	if (g.n_objs > 0 && (s->found = calloc(g.n_objs, sizeof(*s->found))) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	for (size_t i = 0; i < g.n_objs; i++)
		if (obj_matches(&g.objs[i], tmpl, n))
			s->found[s->n_found++] = i + 1;
	s->pos = 0;
	s->finding = 1;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

SG_P11_EXPORT CK_RV
C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR list, CK_ULONG max, CK_ULONG_PTR count)
{
	struct p11_sess *s;
	CK_ULONG k = 0;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = sess_finding(h, &s)) != CKR_OK)
		goto out;
	if (count == NULL || (list == NULL && max > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	while (k < max && s->pos < s->n_found)
		list[k++] = s->found[s->pos++];
	*count = k;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

SG_P11_EXPORT CK_RV
C_FindObjectsFinal(CK_SESSION_HANDLE h)
{
	struct p11_sess *s;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = sess_finding(h, &s)) != CKR_OK)
		goto out;
	sess_end_find(s);
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

/* ---- Signing ---- */

/* Checks the CK_RSA_PKCS_PSS_PARAMS of mech: the appliance signs PSS only
 * with MGF1 of the same hash and a salt as long as the digest. */
static CK_RV
pss_check(const CK_MECHANISM *mech, const struct mech_def *m, enum sg_hash *hash)
{
	const CK_RSA_PKCS_PSS_PARAMS *p = mech->pParameter;
	enum sg_hash h;
	CK_RSA_PKCS_MGF_TYPE mgf;

	if (p == NULL || mech->ulParameterLen != sizeof(*p))
		return CKR_MECHANISM_PARAM_INVALID;
	switch (p->hashAlg) {
	case CKM_SHA256:
		h = SG_HASH_SHA256;
		mgf = CKG_MGF1_SHA256;
		break;
	case CKM_SHA384:
		h = SG_HASH_SHA384;
		mgf = CKG_MGF1_SHA384;
		break;
	case CKM_SHA512:
		h = SG_HASH_SHA512;
		mgf = CKG_MGF1_SHA512;
		break;
	default:
		return CKR_MECHANISM_PARAM_INVALID;
	}
	if (p->mgf != mgf || p->sLen != sg_hash_len(h) || (m->hash != SG_HASH_NONE && m->hash != h))
		return CKR_MECHANISM_PARAM_INVALID;
	*hash = h;
	return CKR_OK;
}

SG_P11_EXPORT CK_RV
C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	struct p11_sess *s;
	const struct p11_obj *o;
	const struct mech_def *m;
	enum sg_hash hash = SG_HASH_NONE;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = sess_get(h, &s)) != CKR_OK)
		goto out;
	if (mech == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (s->signing) {
		rv = CKR_OPERATION_ACTIVE;
		goto out;
	}
	if ((o = obj_of(key)) == NULL) {
		rv = CKR_KEY_HANDLE_INVALID;
		goto out;
	}
	if (o->cls != CKO_PRIVATE_KEY) {
		rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
		goto out;
	}
	if ((m = mech_find(mech->mechanism)) == NULL) {
		rv = CKR_MECHANISM_INVALID;
		goto out;
	}
	if (m->rsa != sg_keyalg_is_rsa(g.keys[o->key].alg)) {
		rv = CKR_KEY_TYPE_INCONSISTENT;
		goto out;
	}
	if (m->pad == SG_PAD_PSS) {
		if ((rv = pss_check(mech, m, &hash)) != CKR_OK)
			goto out;
	} else if (mech->pParameter != NULL || mech->ulParameterLen != 0) {
		rv = CKR_MECHANISM_PARAM_INVALID;
		goto out;
	} else {
		hash = m->hash;
	}
	if (m->hash != SG_HASH_NONE) {
		if ((s->md = EVP_MD_CTX_new()) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		if (EVP_DigestInit_ex(s->md, sg_hash_md(m->hash), NULL) != 1) {
			EVP_MD_CTX_free(s->md);
			s->md = NULL;
			rv = CKR_GENERAL_ERROR;
			goto out;
		}
	}
	s->mech = m->type;
	s->key = o->key;
	s->hash = hash;
	s->signing = 1;
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

/*
 * Signs the digest of hash with the session's key through the appliance and
 * writes the PKCS#11 form of the signature (r||s for ECDSA) into out.
 */
static CK_RV
remote_sign(struct p11_sess *s, enum sg_hash hash, const unsigned char *digest, size_t digest_len,
            enum sg_pad pad, unsigned char *out, CK_ULONG *out_len)
{
	const struct sg_key_info *k = &g.keys[s->key];
	struct signet_client *c;
	struct sg_sign_req req;
	struct sg_sign_rep rep;
	size_t len = sg_p11conv_sig_len(k->alg);
	int r;

	memset(&req, 0, sizeof(req));
	memset(&rep, 0, sizeof(rep));
	if ((c = client_get()) == NULL)
		return CKR_DEVICE_ERROR;
	snprintf(req.key, sizeof(req.key), "%s", k->name);
	req.hash = hash;
	memcpy(req.digest, digest, digest_len);
	req.digest_len = digest_len;
	req.pad = sg_keyalg_is_rsa(k->alg) ? pad : SG_PAD_NONE;
	if ((r = signet_sign_digest(c, &req, &rep)) != 0)
		return map_err(r);
	if (sg_keyalg_is_rsa(k->alg)) {
		if (rep.sig_len != len)
			return CKR_DEVICE_ERROR;
		memcpy(out, rep.sig, len);
	} else if (sg_p11conv_ecdsa_raw(rep.sig, rep.sig_len, sg_p11conv_ec_field_len(k->alg),
	                                out) != 0) {
		return CKR_DEVICE_ERROR;
	}
	*out_len = len;
	return CKR_OK;
}

/* The digest (and its hash) that a raw mechanism's input data stands for. */
static CK_RV
raw_digest(const struct p11_sess *s, const struct mech_def *m, const unsigned char *data,
           CK_ULONG len, enum sg_hash *hash, unsigned char *digest, size_t *digest_len)
{
	if (m->type == CKM_RSA_PKCS) {
		/* The policy checks the hash: only a DigestInfo of a SHA-2
		 * hash is signed, never arbitrary data. */
		if (data == NULL || sg_p11conv_digestinfo(data, len, hash, digest, digest_len) != 0)
			return CKR_DATA_INVALID;
		return CKR_OK;
	}
	/* CKM_ECDSA: the digest itself, its length naming the hash;
	 * CKM_RSA_PKCS_PSS: the digest of the parameters' hash. */
	*hash = m->pad == SG_PAD_PSS ? s->hash : sg_p11conv_hash_of_len(len);
	if (*hash == SG_HASH_NONE || len != sg_hash_len(*hash) || data == NULL)
		return CKR_DATA_LEN_RANGE;
	memcpy(digest, data, len);
	*digest_len = len;
	return CKR_OK;
}

/* Ends a signature: C_Sign (data != NULL or len 0 with final 0) or C_SignFinal. */
static CK_RV
sign_finish(struct p11_sess *s, const unsigned char *data, CK_ULONG data_len, int single,
            CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	const struct mech_def *m = mech_find(s->mech);
	CK_ULONG need = sg_p11conv_sig_len(g.keys[s->key].alg);
	unsigned char digest[SG_HASH_MAX_LEN];
	size_t digest_len = 0;
	unsigned dl = 0;
	enum sg_hash hash = SG_HASH_NONE;
	CK_RV rv;

	/* A length query costs no remote signature and keeps the operation. */
	if (sig == NULL) {
		*sig_len = need;
		return CKR_OK;
	}
	if (*sig_len < need) {
		*sig_len = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (m->hash != SG_HASH_NONE) {
		if ((single && data_len > 0 && EVP_DigestUpdate(s->md, data, data_len) != 1) ||
		    EVP_DigestFinal_ex(s->md, digest, &dl) != 1) {
			rv = CKR_GENERAL_ERROR;
			goto out;
		}
		digest_len = dl;
		hash = m->hash;
	} else if ((rv = raw_digest(s, m, data, data_len, &hash, digest, &digest_len)) != CKR_OK) {
		goto out;
	}
	rv = remote_sign(s, hash, digest, digest_len, m->pad, sig, sig_len);
out:
	sess_end_sign(s);
	return rv;
}

SG_P11_EXPORT CK_RV
C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
       CK_ULONG_PTR sig_len)
{
	struct p11_sess *s;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = sess_signing(h, &s)) != CKR_OK)
		goto out;
	if (sig_len == NULL || (data == NULL && data_len > 0)) {
		sess_end_sign(s);
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	rv = sign_finish(s, data, data_len, 1, sig, sig_len);
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

SG_P11_EXPORT CK_RV
C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG part_len)
{
	struct p11_sess *s;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = sess_signing(h, &s)) != CKR_OK)
		goto out;
	/* Multi-part signing only with the mechanisms that hash here. */
	if (s->md == NULL) {
		sess_end_sign(s);
		rv = CKR_FUNCTION_NOT_SUPPORTED;
		goto out;
	}
	if ((part == NULL && part_len > 0) ||
	    (part_len > 0 && EVP_DigestUpdate(s->md, part, part_len) != 1)) {
		sess_end_sign(s);
		rv = part == NULL ? CKR_ARGUMENTS_BAD : CKR_GENERAL_ERROR;
		goto out;
	}
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

SG_P11_EXPORT CK_RV
C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	struct p11_sess *s;

	CK_RV rv = sg_p11_enter();

	if (rv != CKR_OK)
		goto out;
	if ((rv = sess_signing(h, &s)) != CKR_OK)
		goto out;
	if (s->md == NULL || sig_len == NULL) {
		sess_end_sign(s);
		rv = sig_len == NULL ? CKR_ARGUMENTS_BAD : CKR_FUNCTION_NOT_SUPPORTED;
		goto out;
	}
	rv = sign_finish(s, NULL, 0, 0, sig, sig_len);
out:
	pthread_mutex_unlock(&g.lock);
	return rv;
}

/* ---- What the module does not do ---- */

#define UNSUPPORTED(name, args)                                                                    \
	SG_P11_EXPORT CK_RV name args                                                              \
	{                                                                                          \
		return CKR_FUNCTION_NOT_SUPPORTED;                                                 \
	}

UNSUPPORTED(C_InitToken, (CK_SLOT_ID a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d))
UNSUPPORTED(C_InitPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c))
UNSUPPORTED(C_SetPIN,
            (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d, CK_ULONG e))
UNSUPPORTED(C_GetOperationState, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c))
UNSUPPORTED(C_SetOperationState, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c,
                                  CK_OBJECT_HANDLE d, CK_OBJECT_HANDLE e))
UNSUPPORTED(C_CreateObject,
            (CK_SESSION_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c, CK_OBJECT_HANDLE_PTR d))
UNSUPPORTED(C_CopyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d,
                           CK_OBJECT_HANDLE_PTR e))
UNSUPPORTED(C_DestroyObject, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b))
UNSUPPORTED(C_GetObjectSize, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ULONG_PTR c))
UNSUPPORTED(C_SetAttributeValue,
            (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d))
UNSUPPORTED(C_EncryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c))
UNSUPPORTED(C_Encrypt,
            (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))
UNSUPPORTED(C_EncryptUpdate,
            (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))
UNSUPPORTED(C_EncryptFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c))
UNSUPPORTED(C_DecryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c))
UNSUPPORTED(C_Decrypt,
            (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))
UNSUPPORTED(C_DecryptUpdate,
            (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))
UNSUPPORTED(C_DecryptFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c))
UNSUPPORTED(C_DigestInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b))
UNSUPPORTED(C_Digest,
            (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))
UNSUPPORTED(C_DigestUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c))
UNSUPPORTED(C_DigestKey, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b))
UNSUPPORTED(C_DigestFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c))
UNSUPPORTED(C_SignRecoverInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c))
UNSUPPORTED(C_SignRecover,
            (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))
UNSUPPORTED(C_VerifyInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c))
UNSUPPORTED(C_Verify, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG e))
UNSUPPORTED(C_VerifyUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c))
UNSUPPORTED(C_VerifyFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c))
UNSUPPORTED(C_VerifyRecoverInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c))
UNSUPPORTED(C_VerifyRecover,
            (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))
UNSUPPORTED(C_DigestEncryptUpdate,
            (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))
UNSUPPORTED(C_DecryptDigestUpdate,
            (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))
UNSUPPORTED(C_SignEncryptUpdate,
            (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))
UNSUPPORTED(C_DecryptVerifyUpdate,
            (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))
UNSUPPORTED(C_GenerateKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d,
                            CK_OBJECT_HANDLE_PTR e))
UNSUPPORTED(C_GenerateKeyPair,
            (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c, CK_ULONG d,
             CK_ATTRIBUTE_PTR e, CK_ULONG f, CK_OBJECT_HANDLE_PTR g_, CK_OBJECT_HANDLE_PTR h))
UNSUPPORTED(C_WrapKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c,
                        CK_OBJECT_HANDLE d, CK_BYTE_PTR e, CK_ULONG_PTR f))
UNSUPPORTED(C_UnwrapKey,
            (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c, CK_BYTE_PTR d, CK_ULONG e,
             CK_ATTRIBUTE_PTR f, CK_ULONG g_, CK_OBJECT_HANDLE_PTR h))
UNSUPPORTED(C_DeriveKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c,
                          CK_ATTRIBUTE_PTR d, CK_ULONG e, CK_OBJECT_HANDLE_PTR f))
UNSUPPORTED(C_SeedRandom, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c))
UNSUPPORTED(C_GenerateRandom, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c))
UNSUPPORTED(C_WaitForSlotEvent, (CK_FLAGS a, CK_SLOT_ID_PTR b, CK_VOID_PTR c))

/* Legacy functions of parallel sessions (v2.40 5.16): always this answer. */
SG_P11_EXPORT CK_RV
C_GetFunctionStatus(CK_SESSION_HANDLE h)
{
	return CKR_FUNCTION_NOT_PARALLEL;
}

SG_P11_EXPORT CK_RV
C_CancelFunction(CK_SESSION_HANDLE h)
{
	return CKR_FUNCTION_NOT_PARALLEL;
}

static CK_FUNCTION_LIST function_list = {
    .version = {2, 40},
#define F(n) .n = n
    F(C_Initialize),
    F(C_Finalize),
    F(C_GetInfo),
    F(C_GetFunctionList),
    F(C_GetSlotList),
    F(C_GetSlotInfo),
    F(C_GetTokenInfo),
    F(C_GetMechanismList),
    F(C_GetMechanismInfo),
    F(C_InitToken),
    F(C_InitPIN),
    F(C_SetPIN),
    F(C_OpenSession),
    F(C_CloseSession),
    F(C_CloseAllSessions),
    F(C_GetSessionInfo),
    F(C_GetOperationState),
    F(C_SetOperationState),
    F(C_Login),
    F(C_Logout),
    F(C_CreateObject),
    F(C_CopyObject),
    F(C_DestroyObject),
    F(C_GetObjectSize),
    F(C_GetAttributeValue),
    F(C_SetAttributeValue),
    F(C_FindObjectsInit),
    F(C_FindObjects),
    F(C_FindObjectsFinal),
    F(C_EncryptInit),
    F(C_Encrypt),
    F(C_EncryptUpdate),
    F(C_EncryptFinal),
    F(C_DecryptInit),
    F(C_Decrypt),
    F(C_DecryptUpdate),
    F(C_DecryptFinal),
    F(C_DigestInit),
    F(C_Digest),
    F(C_DigestUpdate),
    F(C_DigestKey),
    F(C_DigestFinal),
    F(C_SignInit),
    F(C_Sign),
    F(C_SignUpdate),
    F(C_SignFinal),
    F(C_SignRecoverInit),
    F(C_SignRecover),
    F(C_VerifyInit),
    F(C_Verify),
    F(C_VerifyUpdate),
    F(C_VerifyFinal),
    F(C_VerifyRecoverInit),
    F(C_VerifyRecover),
    F(C_DigestEncryptUpdate),
    F(C_DecryptDigestUpdate),
    F(C_SignEncryptUpdate),
    F(C_DecryptVerifyUpdate),
    F(C_GenerateKey),
    F(C_GenerateKeyPair),
    F(C_WrapKey),
    F(C_UnwrapKey),
    F(C_DeriveKey),
    F(C_SeedRandom),
    F(C_GenerateRandom),
    F(C_GetFunctionStatus),
    F(C_CancelFunction),
    F(C_WaitForSlotEvent),
#undef F
};

SG_P11_EXPORT CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	if (list == NULL)
		return CKR_ARGUMENTS_BAD;
	*list = &function_list;
	return CKR_OK;
}
