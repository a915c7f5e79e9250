/* sg_policy: see sg_policy.h and policies/README.md. */
#include "sg_policy.h"
#include "sg_err.h"
#include "sg_yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define SG_POLICY_VERSION 1
#define SG_POLICY_MAX_ROLES 32  /* per client */
#define SG_POLICY_MAX_LIST 1024 /* entries of a rule's lists */
#define SG_POLICY_MAX_INFLIGHT 65536

/* Ops that act on a key; the purpose each one requires is sg_op_purpose(). */
#define SG_POLICY_KEY_OPS                                                                          \
	((1u << SG_OP_SIGN_DIGEST) | (1u << SG_OP_SIGN_CMS) | (1u << SG_OP_TIMESTAMP))
/* Key ops whose result carries the key's certificate chain. */
#define SG_POLICY_CERT_OPS ((1u << SG_OP_SIGN_CMS) | (1u << SG_OP_TIMESTAMP))
/*
 * Ops on a certificate profile: the rule's 'profiles' say which (for
 * cert.revoke and cert.status: the profile the certificate was issued under).
 */
#define SG_POLICY_PROFILE_OPS                                                                      \
	((1u << SG_OP_CERT_ISSUE) | (1u << SG_OP_CERT_REVOKE) | (1u << SG_OP_CERT_STATUS))
/*
 * What the HTTP listener serves (RFC 3161 time-stamps; OCSP and CRLs, which
 * relying parties fetch without a CURVE key), so all that its client may be
 * granted.
 */
#define SG_POLICY_HTTP_OPS ((1u << SG_OP_TIMESTAMP) | (1u << SG_OP_OCSP) | (1u << SG_OP_CRL_GET))
#define SG_PURPOSE_SIGN (1u << 0)
#define SG_PURPOSE_TIMESTAMP (1u << 1)
#define SG_PURPOSE_CA (1u << 2)

#define SG_POLICY_ALL_HASHES                                                                       \
	((1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384) | (1u << SG_HASH_SHA512))
#define SG_POLICY_ALL_PADS ((1u << SG_PAD_PKCS1) | (1u << SG_PAD_PSS))

static const struct {
	const char *name;
	unsigned bit;
} sg_purposes[] = {
    {"sign", SG_PURPOSE_SIGN},
    {"timestamp", SG_PURPOSE_TIMESTAMP},
    {"ca", SG_PURPOSE_CA},
};

/* The key purpose an op needs; 0 for ops that name no key. */
static unsigned
sg_op_purpose(enum sg_op op)
{
	switch (op) {
	case SG_OP_SIGN_DIGEST:
	case SG_OP_SIGN_CMS:
		return SG_PURPOSE_SIGN;
	case SG_OP_TIMESTAMP:
		return SG_PURPOSE_TIMESTAMP;
	case SG_OP_NONE:
	case SG_OP_PING:
	case SG_OP_KEYS_LIST:
	case SG_OP_CERT_ISSUE:
	case SG_OP_CERT_REVOKE:
	case SG_OP_CERT_STATUS:
	case SG_OP_CRL_GET:
	case SG_OP_CA_LIST:
	case SG_OP_OCSP:
	default:
		return 0;
	}
}

static const char *
sg_purpose_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < sizeof(sg_purposes) / sizeof(sg_purposes[0]); i++) {
		if (sg_purposes[i].bit == bit)
			return sg_purposes[i].name;
	}
	return "?";
}

/* The file as libcyaml loads it. */
struct sg_y_client {
	char *name;
	char *curve_public_key; /* NULL for the HTTP client */
	int http;               /* enum sg_yaml_bool */
	char **roles;
	unsigned roles_count;
	uint32_t max_inflight;
};

struct sg_y_key {
	char *name;
	char *uri;
	char *algorithm;
	char **purposes;
	unsigned purposes_count;
	int self_verify;   /* enum sg_yaml_bool */
	char *certificate; /* path, relative to the policy file's directory */
};

struct sg_y_rule {
	char *name;
	char **clients;
	unsigned clients_count;
	char **roles;
	unsigned roles_count;
	char **ops;
	unsigned ops_count;
	char **keys;
	unsigned keys_count;
	char **hashes;
	unsigned hashes_count;
	char **paddings;
	unsigned paddings_count;
	char **profiles;
	unsigned profiles_count;
};

struct sg_y_policy {
	uint32_t version;
	struct sg_y_client *clients;
	unsigned clients_count;
	struct sg_y_key *keys;
	unsigned keys_count;
	struct sg_y_rule *rules;
	unsigned rules_count;
};

static const cyaml_schema_value_t sg_y_name = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, SG_NAME_MAX),
};
static const cyaml_schema_value_t sg_y_word = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 64),
};

static const cyaml_schema_field_t sg_y_client_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct sg_y_client, name, 1, SG_NAME_MAX),
    CYAML_FIELD_STRING_PTR("curve_public_key", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                           struct sg_y_client, curve_public_key, 1, 64),
    SG_YAML_FIELD_BOOL("http", CYAML_FLAG_OPTIONAL, struct sg_y_client, http),
    CYAML_FIELD_SEQUENCE("roles", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_client,
                         roles, &sg_y_name, 0, SG_POLICY_MAX_ROLES),
    CYAML_FIELD_UINT("max_inflight", CYAML_FLAG_OPTIONAL, struct sg_y_client, max_inflight),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sg_y_key_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct sg_y_key, name, 1, SG_NAME_MAX),
    CYAML_FIELD_STRING_PTR("uri", CYAML_FLAG_POINTER, struct sg_y_key, uri, 1, SG_POLICY_URI_MAX),
    CYAML_FIELD_STRING_PTR("algorithm", CYAML_FLAG_POINTER, struct sg_y_key, algorithm, 1, 64),
    CYAML_FIELD_SEQUENCE("purposes", CYAML_FLAG_POINTER, struct sg_y_key, purposes, &sg_y_word, 1,
                         16),
    SG_YAML_FIELD_BOOL("self_verify", CYAML_FLAG_OPTIONAL, struct sg_y_key, self_verify),
    CYAML_FIELD_STRING_PTR("certificate", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_key,
                           certificate, 1, SG_YAML_PATH_MAX),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sg_y_rule_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_rule, name,
                           1, SG_NAME_MAX),
    CYAML_FIELD_SEQUENCE("clients", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_rule,
                         clients, &sg_y_name, 1, SG_POLICY_MAX_LIST),
    CYAML_FIELD_SEQUENCE("roles", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_rule, roles,
                         &sg_y_name, 1, SG_POLICY_MAX_LIST),
    CYAML_FIELD_SEQUENCE("ops", CYAML_FLAG_POINTER, struct sg_y_rule, ops, &sg_y_word, 1,
                         SG_POLICY_MAX_LIST),
    CYAML_FIELD_SEQUENCE("keys", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_rule, keys,
                         &sg_y_name, 1, SG_POLICY_MAX_LIST),
    CYAML_FIELD_SEQUENCE("hashes", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_rule,
                         hashes, &sg_y_word, 1, SG_POLICY_MAX_LIST),
    CYAML_FIELD_SEQUENCE("paddings", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_rule,
                         paddings, &sg_y_word, 1, SG_POLICY_MAX_LIST),
    CYAML_FIELD_SEQUENCE("profiles", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_rule,
                         profiles, &sg_y_name, 1, SG_POLICY_MAX_LIST),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t sg_y_client_value = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct sg_y_client, sg_y_client_fields),
};
static const cyaml_schema_value_t sg_y_key_value = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct sg_y_key, sg_y_key_fields),
};
static const cyaml_schema_value_t sg_y_rule_value = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct sg_y_rule, sg_y_rule_fields),
};

static const cyaml_schema_field_t sg_y_policy_fields[] = {
    CYAML_FIELD_UINT("version", CYAML_FLAG_DEFAULT, struct sg_y_policy, version),
    CYAML_FIELD_SEQUENCE("clients", CYAML_FLAG_POINTER, struct sg_y_policy, clients,
                         &sg_y_client_value, 0, SG_POLICY_MAX_CLIENTS),
    CYAML_FIELD_SEQUENCE("keys", CYAML_FLAG_POINTER, struct sg_y_policy, keys, &sg_y_key_value, 0,
                         SG_POLICY_MAX_KEYS),
    CYAML_FIELD_SEQUENCE("rules", CYAML_FLAG_POINTER, struct sg_y_policy, rules, &sg_y_rule_value,
                         0, SG_POLICY_MAX_RULES),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t sg_y_policy_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct sg_y_policy, sg_y_policy_fields),
};

/* The loaded policy; strings point into the libcyaml data it keeps. */
struct sg_policy_client {
	const char *name;
	unsigned char pub[32]; /* all zero for the HTTP client, which is not in by_pub */
	int http;
	unsigned max_inflight;
	size_t idx;      /* position in the file */
	uint32_t *rules; /* rules that name this client or one of its roles, ascending */
	size_t n_rules;
};

struct sg_policy_key {
	const char *name;
	const char *uri;
	enum sg_keyalg alg;
	int self_verify;
	unsigned purposes;
	size_t idx;
	X509 *cert;             /* NULL when the key has none */
	STACK_OF(X509) * chain; /* the rest of the certificate file; NULL when cert is */
};

struct sg_policy_rule {
	unsigned ops;    /* bit (1 << enum sg_op) */
	unsigned hashes; /* bit (1 << enum sg_hash) */
	unsigned pads;   /* bit (1 << enum sg_pad); RSA keys only */
	uint32_t *keys;  /* key indexes, ascending, unique */
	size_t n_keys;
	const char **profiles; /* profile names (the profile ops'), strcmp order, unique */
	size_t n_profiles;
};

/* One (role, client) pair; sorted by role so that a role's holders are a range. */
struct sg_policy_role {
	const char *role;
	uint32_t client;
};

struct sg_policy {
	struct sg_y_policy *raw;
	struct sg_policy_client *clients;
	struct sg_policy_client **by_name;
	struct sg_policy_client **by_pub; /* the clients with a CURVE key */
	size_t n_pub;
	size_t n_clients;
	const struct sg_policy_client *http; /* the one client with "http: true", or NULL */
	struct sg_policy_key *keys;
	struct sg_policy_key **keys_by_name;
	size_t n_keys;
	struct sg_policy_rule *rules;
	size_t n_rules;
	struct sg_policy_role *roles;
	size_t n_roles;
	const char **profiles; /* every profile a rule names, strcmp order, unique */
	size_t n_profiles;
};

static int
sg_client_name_cmp(const void *a, const void *b)
{
	const struct sg_policy_client *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int
sg_client_pub_cmp(const void *a, const void *b)
{
	const struct sg_policy_client *const *x = a, *const *y = b;

	return memcmp((*x)->pub, (*y)->pub, sizeof((*x)->pub));
}

static int
sg_key_name_cmp(const void *a, const void *b)
{
	const struct sg_policy_key *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int
sg_role_cmp(const void *a, const void *b)
{
	const struct sg_policy_role *x = a, *y = b;
	int c = strcmp(x->role, y->role);

	if (c != 0)
		return c;
	return (x->client > y->client) - (x->client < y->client);
}

static int
sg_str_cmp(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
}

/* Sorts names[0..n) and drops repeats; returns how many are left. */
static size_t
sg_str_sort_unique(const char **names, size_t n)
{
	size_t i, m = 0;

	if (n == 0)
		return 0;
	qsort(names, n, sizeof(*names), sg_str_cmp);
	for (i = 0; i < n; i++) {
		if (m == 0 || strcmp(names[m - 1], names[i]) != 0)
			names[m++] = names[i];
	}
	return m;
}

static int
sg_u32_cmp(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	return (*x > *y) - (*x < *y);
}

void
sg_policy_free(struct sg_policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n_clients && p->clients != NULL; i++)
		free(p->clients[i].rules);
	for (i = 0; i < p->n_rules && p->rules != NULL; i++) {
		free(p->rules[i].keys);
		free(p->rules[i].profiles);
	}
	for (i = 0; i < p->n_keys && p->keys != NULL; i++) {
		X509_free(p->keys[i].cert);
		sk_X509_pop_free(p->keys[i].chain, X509_free);
	}
	free(p->clients);
	free(p->by_name);
	free(p->by_pub);
	free(p->keys);
	free(p->keys_by_name);
	free(p->rules);
	free(p->roles);
	free(p->profiles);
	sg_yaml_free(&sg_y_policy_schema, p->raw);
	free(p);
}

const struct sg_policy_client *
sg_policy_client_by_name(const struct sg_policy *p, const char *name)
{
	struct sg_policy_client k, *kp = &k, **found;

	if (p == NULL || name == NULL || p->n_clients == 0)
		return NULL;
	k.name = name;
	found = bsearch(&kp, p->by_name, p->n_clients, sizeof(*p->by_name), sg_client_name_cmp);
	return found == NULL ? NULL : *found;
}

const struct sg_policy_client *
sg_policy_client_by_pubkey(const struct sg_policy *p, const unsigned char pub[32])
{
	struct sg_policy_client k, *kp = &k, **found;

	if (p == NULL || pub == NULL || p->n_pub == 0)
		return NULL;
	memcpy(k.pub, pub, sizeof(k.pub));
	found = bsearch(&kp, p->by_pub, p->n_pub, sizeof(*p->by_pub), sg_client_pub_cmp);
	return found == NULL ? NULL : *found;
}

const struct sg_policy_client *
sg_policy_client_http(const struct sg_policy *p)
{
	return p == NULL ? NULL : p->http;
}

int
sg_policy_client_is_http(const struct sg_policy_client *c)
{
	return c != NULL && c->http;
}

const char *
sg_policy_client_name(const struct sg_policy_client *c)
{
	return c->name;
}

unsigned
sg_policy_client_max_inflight(const struct sg_policy_client *c)
{
	return c->max_inflight;
}

size_t
sg_policy_key_count(const struct sg_policy *p)
{
	return p->n_keys;
}

const struct sg_policy_key *
sg_policy_key_at(const struct sg_policy *p, size_t i)
{
	return i < p->n_keys ? &p->keys[i] : NULL;
}

const struct sg_policy_key *
sg_policy_key_by_name(const struct sg_policy *p, const char *name)
{
	struct sg_policy_key k, *kp = &k, **found;

	if (p == NULL || name == NULL || p->n_keys == 0)
		return NULL;
	k.name = name;
	found = bsearch(&kp, p->keys_by_name, p->n_keys, sizeof(*p->keys_by_name), sg_key_name_cmp);
	return found == NULL ? NULL : *found;
}

const char *
sg_policy_key_name(const struct sg_policy_key *k)
{
	return k->name;
}

const char *
sg_policy_key_uri(const struct sg_policy_key *k)
{
	return k->uri;
}

enum sg_keyalg
sg_policy_key_alg(const struct sg_policy_key *k)
{
	return k->alg;
}

int
sg_policy_key_self_verify(const struct sg_policy_key *k)
{
	return k->self_verify;
}

X509 *
sg_policy_key_cert(const struct sg_policy_key *k)
{
	return k == NULL ? NULL : k->cert;
}

STACK_OF(X509) * sg_policy_key_chain(const struct sg_policy_key *k)
{
	return k == NULL ? NULL : k->chain;
}

static unsigned
sg_hash_bit(enum sg_hash h)
{
	return (h >= SG_HASH_SHA256 && h <= SG_HASH_SHA512) ? 1u << h : 0;
}

static unsigned
sg_pad_bit(enum sg_pad pad)
{
	return (pad == SG_PAD_PKCS1 || pad == SG_PAD_PSS) ? 1u << pad : 0;
}

static int
sg_rule_has_key(const struct sg_policy_rule *r, const struct sg_policy_key *k)
{
	uint32_t idx = (uint32_t)k->idx;

	return r->n_keys > 0 &&
	       bsearch(&idx, r->keys, r->n_keys, sizeof(*r->keys), sg_u32_cmp) != NULL;
}

int
sg_policy_key_is_ca(const struct sg_policy_key *k)
{
	return k != NULL && (k->purposes & SG_PURPOSE_CA) != 0;
}

size_t
sg_policy_profile_count(const struct sg_policy *p)
{
	return p->n_profiles;
}

const char *
sg_policy_profile_at(const struct sg_policy *p, size_t i)
{
	return i < p->n_profiles ? p->profiles[i] : NULL;
}

static int
sg_rule_has_profile(const struct sg_policy_rule *r, const char *profile)
{
	return r->n_profiles > 0 && bsearch(&profile, r->profiles, r->n_profiles,
	                                    sizeof(*r->profiles), sg_str_cmp) != NULL;
}

unsigned
sg_policy_profile_ops(const struct sg_policy *p, const char *client, const char *profile)
{
	const struct sg_policy_client *c;
	const struct sg_policy_rule *rule;
	unsigned ops = 0;
	size_t i;

	if (profile == NULL || (c = sg_policy_client_by_name(p, client)) == NULL)
		return 0;
	for (i = 0; i < c->n_rules; i++) {
		rule = &p->rules[c->rules[i]];
		if ((rule->ops & SG_POLICY_PROFILE_OPS) != 0 && sg_rule_has_profile(rule, profile))
			ops |= rule->ops & SG_POLICY_PROFILE_OPS;
	}
	return ops;
}

unsigned
sg_policy_client_ops(const struct sg_policy *p, const char *client)
{
	const struct sg_policy_client *c;
	unsigned ops = 0;
	size_t i;

	if ((c = sg_policy_client_by_name(p, client)) == NULL)
		return 0;
	for (i = 0; i < c->n_rules; i++)
		ops |= p->rules[c->rules[i]].ops;
	return ops;
}

int
sg_policy_check_profile(const struct sg_policy *p, const char *client, enum sg_op op,
                        const char *profile)
{
	if (op <= SG_OP_NONE || op >= SG_OP_COUNT || ((1u << op) & SG_POLICY_PROFILE_OPS) == 0)
		return SG_ERR_DENIED;
	return (sg_policy_profile_ops(p, client, profile) & (1u << op)) != 0 ? 0 : SG_ERR_DENIED;
}

int
sg_policy_check(const struct sg_policy *p, const char *client, enum sg_op op, const char *key,
                enum sg_hash hash, enum sg_pad pad)
{
	const struct sg_policy_client *c;
	const struct sg_policy_key *k = NULL;
	const struct sg_policy_rule *rule;
	unsigned opbit;
	size_t i;

	/* An unknown client learns nothing, not even whether a key exists. */
	if ((c = sg_policy_client_by_name(p, client)) == NULL)
		return SG_ERR_DENIED;
	if (op <= SG_OP_NONE || op >= SG_OP_COUNT)
		return SG_ERR_DENIED;
	opbit = 1u << op;
	/* A profile op names a profile, never a key: key is the profile's name. */
	if ((opbit & SG_POLICY_PROFILE_OPS) != 0)
		return sg_policy_check_profile(p, client, op, key);
	if ((opbit & SG_POLICY_KEY_OPS) != 0) {
		if (key == NULL)
			return SG_ERR_DENIED;
		if ((k = sg_policy_key_by_name(p, key)) == NULL)
			return SG_ERR_UNKNOWN_KEY;
		if (sg_keyalg_is_rsa(k->alg)) {
			if (pad == SG_PAD_NONE)
				pad = SG_PAD_PKCS1;
			if (sg_pad_bit(pad) == 0)
				return SG_ERR_BAD_PADDING;
		} else if (pad != SG_PAD_NONE) {
			return SG_ERR_BAD_PADDING;
		}
	}
	for (i = 0; i < c->n_rules; i++) {
		rule = &p->rules[c->rules[i]];
		if ((rule->ops & opbit) == 0)
			continue;
		if (k == NULL)
			return 0;
		if (!sg_rule_has_key(rule, k) || (rule->hashes & sg_hash_bit(hash)) == 0)
			continue;
		if (sg_keyalg_is_rsa(k->alg) && (rule->pads & sg_pad_bit(pad)) == 0)
			continue;
		return 0;
	}
	return SG_ERR_DENIED;
}

void
sg_policy_key_grants(const struct sg_policy *p, const char *client, const struct sg_policy_key *k,
                     unsigned *ops, unsigned *hashes)
{
	const struct sg_policy_client *c;
	const struct sg_policy_rule *rule;
	size_t i;

	*ops = 0;
	*hashes = 0;
	if (k == NULL || (c = sg_policy_client_by_name(p, client)) == NULL)
		return;
	for (i = 0; i < c->n_rules; i++) {
		rule = &p->rules[c->rules[i]];
		if ((rule->ops & SG_POLICY_KEY_OPS) == 0 || !sg_rule_has_key(rule, k))
			continue;
		/* A rule's hashes apply to each of its key ops. */
		*ops |= rule->ops & SG_POLICY_KEY_OPS;
		*hashes |= rule->hashes;
	}
}

/* Loading. */

/* A key URI: "pkcs11:" (RFC 7512, checked in full by the signer) or "label:NAME". */
static int
sg_policy_uri_valid(const char *uri)
{
	const char *rest;
	int space_ok;
	size_t i;

	if (strncmp(uri, "pkcs11:", 7) == 0) {
		rest = uri + 7;
		space_ok = 0;
	} else if (strncmp(uri, "label:", 6) == 0) {
		rest = uri + 6;
		space_ok = 1;
	} else {
		return 0;
	}
	if (rest[0] == '\0')
		return 0;
	for (i = 0; rest[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)rest[i];

		if (ch >= 0x7f || ch < 0x20 || (ch == ' ' && !space_ok))
			return 0;
	}
	return 1;
}

/*
 * How client i authenticates: its CURVE key (ZAP admits it), or "http: true"
 * for the one client that stands for the HTTP listener's requests, which
 * carry no key and so must never be found by one.
 */
static int
sg_policy_load_identity(struct sg_policy *p, size_t i, const struct sg_yaml_doc *doc, char *why,
                        size_t why_len)
{
	const struct sg_y_client *yc = &p->raw->clients[i];
	struct sg_policy_client *c = &p->clients[i];
	char f[96];
	int r = SG_ERR_POLICY;

	if (yc->http == SG_YAML_BOOL_TRUE) {
		(void)snprintf(f, sizeof(f), "clients[%zu].http", i);
		if (yc->curve_public_key != NULL) {
			sg_yaml_why(doc, why, why_len, f,
			            "a client has either 'curve_public_key' or 'http: true', not "
			            "both");
			goto out;
		}
		if (p->http != NULL) {
			sg_yaml_why(doc, why, why_len, f,
			            "only one client may have 'http: true' (also clients[%zu])",
			            p->http->idx);
			goto out;
		}
		c->http = 1;
		p->http = c;
		r = 0;
		goto out;
	}
	(void)snprintf(f, sizeof(f), "clients[%zu].curve_public_key", i);
	if (yc->curve_public_key == NULL) {
		sg_yaml_why(doc, why, why_len, f,
		            "required field missing (a client has either 'curve_public_key' or "
		            "'http: true')");
		goto out;
	}
	if (sg_yaml_z85_key(yc->curve_public_key, c->pub) != 0) {
		sg_yaml_why(doc, why, why_len, f,
		            "not a Z85 CURVE public key (40 characters for 32 bytes)");
		goto out;
	}
	p->by_pub[p->n_pub++] = c;
	r = 0;
out:
	return r;
}

static int
sg_policy_load_clients(struct sg_policy *p, const struct sg_yaml_doc *doc, char *why,
                       size_t why_len)
{
	const struct sg_y_client *yc;
	struct sg_policy_client *c;
	char f[96];
	size_t i, j, n_roles = 0;
	int r = SG_ERR_INTERNAL;

	p->n_clients = p->raw->clients_count;
	if (p->n_clients > 0 && ((p->clients = calloc(p->n_clients, sizeof(*p->clients))) == NULL ||
	                         (p->by_name = calloc(p->n_clients, sizeof(*p->by_name))) == NULL ||
	                         (p->by_pub = calloc(p->n_clients, sizeof(*p->by_pub))) == NULL)) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < p->n_clients; i++) {
		yc = &p->raw->clients[i];
		c = &p->clients[i];
		c->idx = i;
		c->name = yc->name;
		p->by_name[i] = c;
		if (!sg_wire_name_valid(yc->name, strlen(yc->name))) {
			(void)snprintf(f, sizeof(f), "clients[%zu].name", i);
			sg_yaml_why(doc, why, why_len, f,
			            "invalid client name '%s' (expected [A-Za-z0-9._-]{1,%d})",
			            yc->name, SG_NAME_MAX);
			r = SG_ERR_POLICY;
			goto out;
		}
		if ((r = sg_policy_load_identity(p, i, doc, why, why_len)) != 0)
			goto out;
		if (yc->max_inflight > SG_POLICY_MAX_INFLIGHT) {
			(void)snprintf(f, sizeof(f), "clients[%zu].max_inflight", i);
			sg_yaml_why(doc, why, why_len, f, "%u is out of range (1..%d, 0 = default)",
			            (unsigned)yc->max_inflight, SG_POLICY_MAX_INFLIGHT);
			r = SG_ERR_POLICY;
			goto out;
		}
		c->max_inflight = yc->max_inflight;
		for (j = 0; j < yc->roles_count; j++) {
			if (!sg_wire_name_valid(yc->roles[j], strlen(yc->roles[j]))) {
				(void)snprintf(f, sizeof(f), "clients[%zu].roles[%zu]", i, j);
				sg_yaml_why(
				    doc, why, why_len, f,
				    "invalid role name '%s' (expected [A-Za-z0-9._-]{1,%d})",
				    yc->roles[j], SG_NAME_MAX);
				r = SG_ERR_POLICY;
				goto out;
			}
		}
		n_roles += yc->roles_count;
	}
	if (p->n_clients > 0)
		qsort(p->by_name, p->n_clients, sizeof(*p->by_name), sg_client_name_cmp);
	if (p->n_pub > 0)
		qsort(p->by_pub, p->n_pub, sizeof(*p->by_pub), sg_client_pub_cmp);
	for (i = 1; i < p->n_clients; i++) {
		const struct sg_policy_client *a = p->by_name[i - 1], *b = p->by_name[i];

		if (strcmp(a->name, b->name) == 0) {
			if (a->idx > b->idx) {
				a = b;
				b = p->by_name[i - 1];
			}
			(void)snprintf(f, sizeof(f), "clients[%zu].name", b->idx);
			sg_yaml_why(doc, why, why_len, f,
			            "duplicate client name '%s' (also clients[%zu])", b->name,
			            a->idx);
			r = SG_ERR_POLICY;
			goto out;
		}
	}
	for (i = 1; i < p->n_pub; i++) {
		const struct sg_policy_client *a = p->by_pub[i - 1], *b = p->by_pub[i];

		if (memcmp(a->pub, b->pub, sizeof(a->pub)) == 0) {
			if (a->idx > b->idx) {
				a = b;
				b = p->by_pub[i - 1];
			}
			(void)snprintf(f, sizeof(f), "clients[%zu].curve_public_key", b->idx);
			sg_yaml_why(doc, why, why_len, f,
			            "public key of client '%s' is also that of client '%s'",
			            b->name, a->name);
			r = SG_ERR_POLICY;
			goto out;
		}
	}
	/* The (role, client) table, so that a rule's roles resolve to clients. */
	if (n_roles > 0 && (p->roles = calloc(n_roles, sizeof(*p->roles))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < p->n_clients; i++) {
		yc = &p->raw->clients[i];
		for (j = 0; j < yc->roles_count; j++) {
			p->roles[p->n_roles].role = yc->roles[j];
			p->roles[p->n_roles].client = (uint32_t)i;
			p->n_roles++;
		}
	}
	if (p->n_roles > 0)
		qsort(p->roles, p->n_roles, sizeof(*p->roles), sg_role_cmp);
	r = 0;
out:
	return r;
}

/*
 * Reads the certificate file at path into *buf (malloc'ed, *len bytes).  A
 * regular file of at most SG_POLICY_CERT_FILE_MAX bytes only: O_NONBLOCK so
 * that a FIFO named by mistake cannot hang a (re)load.  On failure *msg says
 * why (static or strerror text).
 */
static int
sg_policy_read_cert_file(const char *path, unsigned char **buf, size_t *len, const char **msg)
{
	unsigned char *b = NULL;
	struct stat st;
	size_t n = 0;
	ssize_t got;
	int fd = -1, r = SG_ERR_POLICY;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0 ||
	    fstat(fd, &st) != 0) {
		*msg = strerror(errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		*msg = "not a regular file";
		goto out;
	}
	/* One spare byte, so that a file that grew past the cap is seen. */
	if ((b = malloc(SG_POLICY_CERT_FILE_MAX + 1)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	while (n < SG_POLICY_CERT_FILE_MAX + 1) {
		got = read(fd, b + n, SG_POLICY_CERT_FILE_MAX + 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			*msg = strerror(errno);
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > SG_POLICY_CERT_FILE_MAX) {
		*msg = "larger than 262144 bytes";
		goto out;
	}
	*buf = b;
	*len = n;
	b = NULL;
	r = 0;
out:
	free(b);
	if (fd >= 0)
		(void)close(fd);
	return r;
}

/*
 * Splits the file into its certificates: nothing but CERTIFICATE PEM blocks
 * and white space, each block one DER certificate with nothing after it, at
 * most SG_POLICY_MAX_CERTS.  Text around the blocks (as `openssl x509 -text`
 * writes) is refused rather than skipped: a mangled BEGIN line would
 * otherwise drop a certificate without a word.
 */
static int
sg_policy_parse_certs(const unsigned char *buf, size_t len, STACK_OF(X509) * certs,
                      const struct sg_yaml_doc *doc, const char *f, const char *path, char *why,
                      size_t why_len)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL, *rest = NULL;
	unsigned char *der = NULL;
	const unsigned char *q;
	X509 *x = NULL;
	long der_len, left;
	size_t off, line, i;
	int r = SG_ERR_POLICY;

	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		left = BIO_get_mem_data(bio, &rest);
		while (left > 0 &&
		       (rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r' || rest[0] == '\n')) {
			rest++;
			left--;
		}
		if (left <= 0)
			break;
		off = len - (size_t)left;
		for (i = 0, line = 1; i < off; i++)
			line += buf[i] == '\n';
		if ((size_t)left < 11 || memcmp(rest, "-----BEGIN ", 11) != 0) {
			sg_yaml_why(doc, why, why_len, f,
			            "%s:%zu: text outside a PEM block (the file must hold only "
			            "CERTIFICATE blocks)",
			            path, line);
			goto out;
		}
		ERR_clear_error();
		if (!PEM_read_bio(bio, &name, &header, &der, &der_len)) {
			sg_yaml_why(doc, why, why_len, f, "%s:%zu: malformed PEM block", path,
			            line);
			goto out;
		}
		if (strcmp(name, "CERTIFICATE") != 0 || header[0] != '\0') {
			/* Never more of the block than its name: it may be a private key. */
			sg_yaml_why(
			    doc, why, why_len, f,
			    "%s:%zu: a '%.32s' block%s; only CERTIFICATE blocks are allowed", path,
			    line, name, header[0] != '\0' ? " with headers" : "");
			goto out;
		}
		if (sk_X509_num(certs) == SG_POLICY_MAX_CERTS) {
			sg_yaml_why(doc, why, why_len, f,
			            "%s:%zu: more than %d certificates (the key's and its chain)",
			            path, line, SG_POLICY_MAX_CERTS);
			goto out;
		}
		q = der;
		if (der_len > SG_POLICY_CERT_DER_MAX || (x = d2i_X509(NULL, &q, der_len)) == NULL ||
		    q != der + der_len) {
			sg_yaml_why(doc, why, why_len, f,
			            der_len > SG_POLICY_CERT_DER_MAX
			                ? "%s:%zu: certificate larger than 16384 bytes"
			                : "%s:%zu: not a DER X.509 certificate",
			            path, line);
			goto out;
		}
		if (!sk_X509_push(certs, x)) {
			r = SG_ERR_NOMEM;
			goto out;
		}
		x = NULL;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		name = header = NULL;
		der = NULL;
	}
	if (sk_X509_num(certs) == 0) {
		sg_yaml_why(doc, why, why_len, f, "%s: holds no certificate", path);
		goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	X509_free(x);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(bio);
	return r;
}

/*
 * Checks that certificate j+1 issued certificate j for every j (names, key
 * identifiers, key usage: X509_check_issued; and the signature), so that the
 * file is the key's certificate followed by its chain in order.
 */
static int
sg_policy_check_chain(STACK_OF(X509) * certs, const struct sg_yaml_doc *doc, const char *f,
                      const char *path, char *why, size_t why_len)
{
	X509 *sub, *iss;
	EVP_PKEY *ipk;
	char sn[128], in[128];
	int j, n = sk_X509_num(certs), r = SG_ERR_POLICY;

	for (j = 0; j < n; j++) {
		if ((X509_get_extension_flags(sk_X509_value(certs, j)) & EXFLAG_INVALID) != 0) {
			sg_yaml_why(doc, why, why_len, f,
			            "%s: certificate %d has invalid or repeated extensions", path,
			            j + 1);
			goto out;
		}
	}
	for (j = 0; j + 1 < n; j++) {
		sub = sk_X509_value(certs, j);
		iss = sk_X509_value(certs, j + 1);
		(void)X509_NAME_oneline(X509_get_subject_name(sub), sn, sizeof(sn));
		(void)X509_NAME_oneline(X509_get_subject_name(iss), in, sizeof(in));
		if (X509_check_issued(iss, sub) != X509_V_OK) {
			sg_yaml_why(
			    doc, why, why_len, f,
			    "%s: certificate %d (%s) was not issued by certificate %d (%s); "
			    "the file must hold the key's certificate, then each issuer "
			    "in turn",
			    path, j + 1, sn, j + 2, in);
			goto out;
		}
		if ((ipk = X509_get0_pubkey(iss)) == NULL || X509_verify(sub, ipk) != 1) {
			sg_yaml_why(doc, why, why_len, f,
			            "%s: the signature of certificate %d (%s) does not verify with "
			            "the key of certificate %d (%s)",
			            path, j + 1, sn, j + 2, in);
			goto out;
		}
	}
	r = 0;
out:
	ERR_clear_error();
	return r;
}

/*
 * A time-stamping key's certificate, as RFC 3161 section 2.3 wants it and
 * `openssl ts -verify` checks it: extendedKeyUsage present, critical and
 * timeStamping alone; keyUsage, if present, digitalSignature and/or
 * nonRepudiation and nothing else.
 */
static int
sg_policy_check_tsa_cert(X509 *leaf, const struct sg_yaml_doc *doc, const char *f, char *why,
                         size_t why_len)
{
	EXTENDED_KEY_USAGE *eku = NULL;
	const unsigned ku_ok = KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION;
	const char *bad = NULL;
	unsigned ku;
	int crit = -1, r = SG_ERR_POLICY;

	eku = X509_get_ext_d2i(leaf, NID_ext_key_usage, &crit, NULL);
	if (eku == NULL)
		bad = crit == -2 ? "has extendedKeyUsage twice" : "has no extendedKeyUsage";
	else if (sk_ASN1_OBJECT_num(eku) != 1 ||
	         OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)) != NID_time_stamp)
		bad = "has an extendedKeyUsage other than timeStamping alone";
	else if (crit != 1)
		bad = "has extendedKeyUsage timeStamping, but not marked critical";
	if (bad == NULL && (X509_get_extension_flags(leaf) & EXFLAG_KUSAGE) != 0) {
		ku = (unsigned)X509_get_key_usage(leaf);
		if ((ku & ~ku_ok) != 0 || (ku & ku_ok) == 0)
			bad = "has a keyUsage other than digitalSignature and/or nonRepudiation";
	}
	if (bad != NULL) {
		sg_yaml_why(doc, why, why_len, f,
		            "the certificate of a key with purpose 'timestamp' %s (RFC 3161 "
		            "needs extendedKeyUsage timeStamping alone, critical)",
		            bad);
		goto out;
	}
	r = 0;
out:
	EXTENDED_KEY_USAGE_free(eku);
	ERR_clear_error();
	return r;
}

/*
 * A CA key's certificate: basicConstraints CA:TRUE (X509_check_ca, which
 * also takes a v1 self-signed root, is not enough: OpenSSL's verifier
 * refuses such an issuer under a v3 leaf) and, when keyUsage is present,
 * keyCertSign and cRLSign, since the appliance signs both with the key.
 */
static int
sg_policy_check_ca_cert(X509 *cert, const struct sg_yaml_doc *doc, const char *f, char *why,
                        size_t why_len)
{
	const unsigned need = KU_KEY_CERT_SIGN | KU_CRL_SIGN;
	uint32_t flags = X509_get_extension_flags(cert);
	const char *bad = NULL;

	if ((flags & EXFLAG_BCONS) == 0 || (flags & EXFLAG_CA) == 0)
		bad = "has no basicConstraints CA:TRUE";
	else if ((flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(cert) & need) != need)
		bad = "has a keyUsage without keyCertSign and cRLSign";
	ERR_clear_error();
	if (bad != NULL) {
		sg_yaml_why(doc, why, why_len, f,
		            "the certificate of a key with purpose 'ca' %s (it signs certificates "
		            "and CRLs)",
		            bad);
		return SG_ERR_POLICY;
	}
	return 0;
}

/* Loads and checks key i's certificate file into k->cert and k->chain. */
static int
sg_policy_load_cert(struct sg_policy_key *k, size_t i, const struct sg_y_key *yk,
                    const struct sg_yaml_doc *doc, char *why, size_t why_len)
{
	STACK_OF(X509) *certs = NULL;
	unsigned char *buf = NULL;
	const char *msg = NULL;
	char *path = NULL, f[96];
	enum sg_keyalg got;
	size_t len = 0;
	int r = SG_ERR_INTERNAL;

	(void)snprintf(f, sizeof(f), "keys[%zu].certificate", i);
	if ((r = sg_yaml_path_resolve(sg_yaml_doc_path(doc), yk->certificate, &path)) != 0) {
		if (r == SG_ERR_NOMEM)
			goto out;
		sg_yaml_why(doc, why, why_len, f,
		            r == SG_ERR_IO ? "cannot resolve the policy file's directory"
		                           : "path is longer than 4096 bytes");
		r = SG_ERR_POLICY;
		goto out;
	}
	if ((r = sg_policy_read_cert_file(path, &buf, &len, &msg)) != 0) {
		if (r == SG_ERR_POLICY)
			sg_yaml_why(doc, why, why_len, f, "cannot read %s: %s", path, msg);
		goto out;
	}
	if ((certs = sk_X509_new_null()) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if ((r = sg_policy_parse_certs(buf, len, certs, doc, f, path, why, why_len)) != 0 ||
	    (r = sg_policy_check_chain(certs, doc, f, path, why, why_len)) != 0)
		goto out;
	got = sg_keyalg_of_pkey(X509_get0_pubkey(sk_X509_value(certs, 0)));
	if (got != k->alg) {
		sg_yaml_why(
		    doc, why, why_len, f,
		    "%s: the certificate's public key is %s, but the key's algorithm is %s", path,
		    got == SG_KEYALG_NONE ? "of another algorithm or size" : sg_keyalg_name(got),
		    sg_keyalg_name(k->alg));
		r = SG_ERR_POLICY;
		goto out;
	}
	k->cert = sk_X509_shift(certs);
	k->chain = certs;
	certs = NULL;
	r = 0;
out:
	ERR_clear_error();
	sk_X509_pop_free(certs, X509_free);
	free(buf);
	free(path);
	return r;
}

static int
sg_policy_load_keys(struct sg_policy *p, const struct sg_yaml_doc *doc, char *why, size_t why_len)
{
	const struct sg_y_key *yk;
	struct sg_policy_key *k;
	char f[96];
	size_t i, j, m;
	int r = SG_ERR_INTERNAL;

	p->n_keys = p->raw->keys_count;
	if (p->n_keys > 0 &&
	    ((p->keys = calloc(p->n_keys, sizeof(*p->keys))) == NULL ||
	     (p->keys_by_name = calloc(p->n_keys, sizeof(*p->keys_by_name))) == NULL)) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < p->n_keys; i++) {
		yk = &p->raw->keys[i];
		k = &p->keys[i];
		k->idx = i;
		k->name = yk->name;
		k->uri = yk->uri;
		p->keys_by_name[i] = k;
		if (!sg_wire_name_valid(yk->name, strlen(yk->name))) {
			(void)snprintf(f, sizeof(f), "keys[%zu].name", i);
			sg_yaml_why(doc, why, why_len, f,
			            "invalid key name '%s' (expected [A-Za-z0-9._-]{1,%d})",
			            yk->name, SG_NAME_MAX);
			r = SG_ERR_POLICY;
			goto out;
		}
		if (!sg_policy_uri_valid(yk->uri)) {
			(void)snprintf(f, sizeof(f), "keys[%zu].uri", i);
			sg_yaml_why(doc, why, why_len, f,
			            "expected a \"pkcs11:\" URI or \"label:NAME\" of printable "
			            "ASCII");
			r = SG_ERR_POLICY;
			goto out;
		}
		if (sg_keyalg_parse(yk->algorithm, &k->alg) != 0) {
			(void)snprintf(f, sizeof(f), "keys[%zu].algorithm", i);
			sg_yaml_why(doc, why, why_len, f,
			            "unknown algorithm '%s' (expected ec-p256, ec-p384, rsa-2048, "
			            "rsa-3072 or rsa-4096)",
			            yk->algorithm);
			r = SG_ERR_POLICY;
			goto out;
		}
		for (j = 0; j < yk->purposes_count; j++) {
			for (m = 0; m < sizeof(sg_purposes) / sizeof(sg_purposes[0]); m++) {
				if (strcmp(yk->purposes[j], sg_purposes[m].name) == 0)
					break;
			}
			if (m == sizeof(sg_purposes) / sizeof(sg_purposes[0])) {
				(void)snprintf(f, sizeof(f), "keys[%zu].purposes[%zu]", i, j);
				sg_yaml_why(doc, why, why_len, f,
				            "unknown purpose '%s' (expected sign, timestamp or ca)",
				            yk->purposes[j]);
				r = SG_ERR_POLICY;
				goto out;
			}
			k->purposes |= sg_purposes[m].bit;
		}
		/*
		 * A TSA key signs nothing else: a signature it made over a digest a
		 * client chose could be passed off as a time-stamp token.
		 */
		if ((k->purposes & SG_PURPOSE_TIMESTAMP) != 0 &&
		    k->purposes != SG_PURPOSE_TIMESTAMP) {
			(void)snprintf(f, sizeof(f), "keys[%zu].purposes", i);
			sg_yaml_why(doc, why, why_len, f,
			            "purpose 'timestamp' cannot be combined with another: a "
			            "time-stamping key must sign nothing else");
			r = SG_ERR_POLICY;
			goto out;
		}
		/*
		 * Nor does a CA key: a digest of a client's choosing could be the
		 * digest of a TBSCertificate, and its signature a certificate.
		 */
		if ((k->purposes & SG_PURPOSE_CA) != 0 && k->purposes != SG_PURPOSE_CA) {
			(void)snprintf(f, sizeof(f), "keys[%zu].purposes", i);
			sg_yaml_why(doc, why, why_len, f,
			            "purpose 'ca' cannot be combined with another: a CA key must "
			            "sign nothing but certificates, CRLs and OCSP responses");
			r = SG_ERR_POLICY;
			goto out;
		}
		switch (yk->self_verify) {
		case SG_YAML_BOOL_FALSE:
			/* An RSA signature is cheap to verify and worth it: always on. */
			if (sg_keyalg_is_rsa(k->alg)) {
				(void)snprintf(f, sizeof(f), "keys[%zu].self_verify", i);
				sg_yaml_why(doc, why, why_len, f,
				            "self_verify: false is only allowed for EC keys");
				r = SG_ERR_POLICY;
				goto out;
			}
			k->self_verify = 0;
			break;
		case SG_YAML_BOOL_UNSET:
		case SG_YAML_BOOL_TRUE:
		default:
			k->self_verify = 1;
			break;
		}
		if (yk->certificate != NULL &&
		    (r = sg_policy_load_cert(k, i, yk, doc, why, why_len)) != 0)
			goto out;
		if ((k->purposes & SG_PURPOSE_TIMESTAMP) != 0) {
			(void)snprintf(f, sizeof(f), "keys[%zu].certificate", i);
			if (k->cert == NULL) {
				sg_yaml_why(doc, why, why_len, f,
				            "required for a key with purpose 'timestamp'");
				r = SG_ERR_POLICY;
				goto out;
			}
			if ((r = sg_policy_check_tsa_cert(k->cert, doc, f, why, why_len)) != 0)
				goto out;
		}
		if ((k->purposes & SG_PURPOSE_CA) != 0) {
			(void)snprintf(f, sizeof(f), "keys[%zu].certificate", i);
			if (k->cert == NULL) {
				sg_yaml_why(doc, why, why_len, f,
				            "required for a key with purpose 'ca' (the issuer of "
				            "what it signs)");
				r = SG_ERR_POLICY;
				goto out;
			}
			if ((r = sg_policy_check_ca_cert(k->cert, doc, f, why, why_len)) != 0)
				goto out;
		}
	}
	if (p->n_keys > 0)
		qsort(p->keys_by_name, p->n_keys, sizeof(*p->keys_by_name), sg_key_name_cmp);
	for (i = 1; i < p->n_keys; i++) {
		const struct sg_policy_key *a = p->keys_by_name[i - 1], *b = p->keys_by_name[i];

		if (strcmp(a->name, b->name) == 0) {
			if (a->idx > b->idx) {
				a = b;
				b = p->keys_by_name[i - 1];
			}
			(void)snprintf(f, sizeof(f), "keys[%zu].name", b->idx);
			sg_yaml_why(doc, why, why_len, f,
			            "duplicate key name '%s' (also keys[%zu])", b->name, a->idx);
			r = SG_ERR_POLICY;
			goto out;
		}
	}
	r = 0;
out:
	return r;
}

/* The range of p->roles held by role; *n is 0 when nobody holds it. */
static const struct sg_policy_role *
sg_policy_role_range(const struct sg_policy *p, const char *role, size_t *n)
{
	size_t lo = 0, hi = p->n_roles, mid, end;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(p->roles[mid].role, role) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < p->n_roles && strcmp(p->roles[end].role, role) == 0; end++)
		;
	*n = end - lo;
	return *n > 0 ? &p->roles[lo] : NULL;
}

/*
 * Rule i's profiles: required by the profile ops, refused without one.
 * Whether each names a loaded profile is sg_profiles_check_policy's to say,
 * since profiles are loaded apart from the policy.
 */
static int
sg_policy_load_rule_profiles(struct sg_policy *p, size_t i, const struct sg_yaml_doc *doc,
                             char *why, size_t why_len)
{
	const struct sg_y_rule *yr = &p->raw->rules[i];
	struct sg_policy_rule *rule = &p->rules[i];
	char f[96];
	size_t j;
	int r = SG_ERR_POLICY;

	(void)snprintf(f, sizeof(f), "rules[%zu].profiles", i);
	if ((rule->ops & SG_POLICY_PROFILE_OPS) == 0) {
		if (yr->profiles_count > 0) {
			sg_yaml_why(doc, why, why_len, f,
			            "only allowed when 'ops' has an op on a profile (cert.issue, "
			            "cert.revoke, cert.status)");
			goto out;
		}
		r = 0;
		goto out;
	}
	if (yr->profiles_count == 0) {
		sg_yaml_why(doc, why, why_len, f,
		            "required when 'ops' has an op on a profile (cert.issue, cert.revoke, "
		            "cert.status)");
		goto out;
	}
	for (j = 0; j < yr->profiles_count; j++) {
		if (!sg_wire_name_valid(yr->profiles[j], strlen(yr->profiles[j]))) {
			(void)snprintf(f, sizeof(f), "rules[%zu].profiles[%zu]", i, j);
			sg_yaml_why(doc, why, why_len, f,
			            "invalid profile name '%s' (expected [A-Za-z0-9._-]{1,%d})",
			            yr->profiles[j], SG_NAME_MAX);
			goto out;
		}
	}
	if ((rule->profiles = calloc(yr->profiles_count, sizeof(*rule->profiles))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (j = 0; j < yr->profiles_count; j++)
		rule->profiles[j] = yr->profiles[j];
	rule->n_profiles = sg_str_sort_unique(rule->profiles, yr->profiles_count);
	r = 0;
out:
	return r;
}

static int
sg_policy_load_rule(struct sg_policy *p, size_t i, const struct sg_yaml_doc *doc, char *why,
                    size_t why_len)
{
	const struct sg_y_rule *yr = &p->raw->rules[i];
	struct sg_policy_rule *rule = &p->rules[i];
	const struct sg_policy_key *k;
	enum sg_op op;
	enum sg_hash h;
	enum sg_pad pad;
	char f[96];
	size_t j, n;
	int r = SG_ERR_POLICY;

	if (yr->name != NULL && !sg_wire_name_valid(yr->name, strlen(yr->name))) {
		(void)snprintf(f, sizeof(f), "rules[%zu].name", i);
		sg_yaml_why(doc, why, why_len, f,
		            "invalid rule name '%s' (expected [A-Za-z0-9._-]{1,%d})", yr->name,
		            SG_NAME_MAX);
		goto out;
	}
	if (yr->clients_count == 0 && yr->roles_count == 0) {
		(void)snprintf(f, sizeof(f), "rules[%zu]", i);
		sg_yaml_why(doc, why, why_len, f, "a rule needs 'clients' or 'roles' (or both)");
		goto out;
	}
	for (j = 0; j < yr->clients_count; j++) {
		if (sg_policy_client_by_name(p, yr->clients[j]) == NULL) {
			(void)snprintf(f, sizeof(f), "rules[%zu].clients[%zu]", i, j);
			sg_yaml_why(doc, why, why_len, f, "unknown client '%s'", yr->clients[j]);
			goto out;
		}
	}
	for (j = 0; j < yr->roles_count; j++) {
		if (sg_policy_role_range(p, yr->roles[j], &n) == NULL) {
			(void)snprintf(f, sizeof(f), "rules[%zu].roles[%zu]", i, j);
			sg_yaml_why(doc, why, why_len, f, "role '%s' is held by no client",
			            yr->roles[j]);
			goto out;
		}
	}
	for (j = 0; j < yr->ops_count; j++) {
		if (sg_op_parse(yr->ops[j], &op) != 0) {
			(void)snprintf(f, sizeof(f), "rules[%zu].ops[%zu]", i, j);
			sg_yaml_why(doc, why, why_len, f,
			            "unknown op '%s' (expected ping, keys.list, sign.digest, "
			            "sign.cms, timestamp, cert.issue, cert.revoke, cert.status, "
			            "crl.get, ca.list or ocsp)",
			            yr->ops[j]);
			goto out;
		}
		rule->ops |= 1u << op;
	}
	if ((r = sg_policy_load_rule_profiles(p, i, doc, why, why_len)) != 0)
		goto out;
	r = SG_ERR_POLICY;
	if ((rule->ops & SG_POLICY_KEY_OPS) == 0) {
		/* No op on a key: key, hash and padding lists would mean nothing. */
		const char *extra = yr->keys_count > 0       ? "keys"
		                    : yr->hashes_count > 0   ? "hashes"
		                    : yr->paddings_count > 0 ? "paddings"
		                                             : NULL;

		if (extra != NULL) {
			(void)snprintf(f, sizeof(f), "rules[%zu].%s", i, extra);
			sg_yaml_why(doc, why, why_len, f,
			            "only allowed when 'ops' has an op on a key (sign.digest, "
			            "sign.cms, timestamp)");
			goto out;
		}
		r = 0;
		goto out;
	}
	if (yr->keys_count == 0) {
		(void)snprintf(f, sizeof(f), "rules[%zu].keys", i);
		sg_yaml_why(doc, why, why_len, f,
		            "required when 'ops' has an op on a key (sign.digest, sign.cms, "
		            "timestamp)");
		goto out;
	}
	if ((rule->keys = calloc(yr->keys_count, sizeof(*rule->keys))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (j = 0; j < yr->keys_count; j++) {
		(void)snprintf(f, sizeof(f), "rules[%zu].keys[%zu]", i, j);
		if ((k = sg_policy_key_by_name(p, yr->keys[j])) == NULL) {
			sg_yaml_why(doc, why, why_len, f, "unknown key '%s'", yr->keys[j]);
			goto out;
		}
		/* The keys serve every key op of the rule. */
		for (op = SG_OP_PING; op < SG_OP_COUNT; op++) {
			if ((rule->ops & SG_POLICY_KEY_OPS & (1u << op)) == 0)
				continue;
			if ((k->purposes & sg_op_purpose(op)) == 0) {
				sg_yaml_why(doc, why, why_len, f,
				            "key '%s' lacks purpose '%s' needed by %s", yr->keys[j],
				            sg_purpose_name(sg_op_purpose(op)), sg_op_name(op));
				goto out;
			}
			if ((SG_POLICY_CERT_OPS & (1u << op)) != 0 && k->cert == NULL) {
				sg_yaml_why(doc, why, why_len, f,
				            "key '%s' has no 'certificate', needed by %s",
				            yr->keys[j], sg_op_name(op));
				goto out;
			}
		}
		rule->keys[j] = (uint32_t)k->idx;
	}
	qsort(rule->keys, yr->keys_count, sizeof(*rule->keys), sg_u32_cmp);
	for (j = 0, n = 0; j < yr->keys_count; j++) {
		if (n == 0 || rule->keys[n - 1] != rule->keys[j])
			rule->keys[n++] = rule->keys[j];
	}
	rule->n_keys = n;
	rule->hashes = yr->hashes_count == 0 ? SG_POLICY_ALL_HASHES : 0;
	for (j = 0; j < yr->hashes_count; j++) {
		if (sg_hash_parse(yr->hashes[j], &h) != 0) {
			(void)snprintf(f, sizeof(f), "rules[%zu].hashes[%zu]", i, j);
			sg_yaml_why(doc, why, why_len, f,
			            "unknown hash '%s' (expected sha256, sha384 or sha512)",
			            yr->hashes[j]);
			goto out;
		}
		rule->hashes |= sg_hash_bit(h);
	}
	rule->pads = yr->paddings_count == 0 ? SG_POLICY_ALL_PADS : 0;
	for (j = 0; j < yr->paddings_count; j++) {
		if (sg_pad_parse(yr->paddings[j], &pad) != 0 || sg_pad_bit(pad) == 0) {
			(void)snprintf(f, sizeof(f), "rules[%zu].paddings[%zu]", i, j);
			sg_yaml_why(doc, why, why_len, f,
			            "unknown padding '%s' (expected pkcs1 or pss)",
			            yr->paddings[j]);
			goto out;
		}
		rule->pads |= sg_pad_bit(pad);
	}
	r = 0;
out:
	return r;
}

/*
 * Hands each rule to the clients it names, directly or by role, so that a
 * decision only walks the client's own rules.  pass 0 counts, pass 1 fills;
 * stamp (one per client) keeps a rule from being listed twice for a client.
 */
static void
sg_policy_assign(struct sg_policy *p, int pass, size_t *stamp)
{
	const struct sg_y_rule *yr;
	const struct sg_policy_role *range;
	struct sg_policy_client *c;
	size_t i, j, m, n, ci;

	for (i = 0; i < p->n_clients; i++)
		stamp[i] = 0;
	for (i = 0; i < p->n_rules; i++) {
		yr = &p->raw->rules[i];
		for (j = 0; j < yr->clients_count + yr->roles_count; j++) {
			if (j < yr->clients_count) {
				c = (struct sg_policy_client *)sg_policy_client_by_name(
				    p, yr->clients[j]);
				range = NULL;
				n = 1;
			} else {
				c = NULL;
				range =
				    sg_policy_role_range(p, yr->roles[j - yr->clients_count], &n);
			}
			for (m = 0; m < n; m++) {
				ci = range != NULL ? range[m].client : c->idx;
				if (stamp[ci] == i + 1)
					continue;
				stamp[ci] = i + 1;
				if (pass == 0)
					p->clients[ci].n_rules++;
				else
					p->clients[ci].rules[p->clients[ci].n_rules++] =
					    (uint32_t)i;
			}
		}
	}
}

/*
 * The HTTP client can only ever ask for what the HTTP listener serves: a rule
 * that grants it more (by name or by role) is a mistake in the policy, and
 * would turn into a grant should the listener one day serve more.
 */
static int
sg_policy_check_http(const struct sg_policy *p, const struct sg_yaml_doc *doc, char *why,
                     size_t why_len)
{
	const struct sg_policy_client *c = p->http;
	const struct sg_policy_rule *rule;
	unsigned extra;
	char f[96];
	size_t i;
	int op;

	if (c == NULL)
		return 0;
	for (i = 0; i < c->n_rules; i++) {
		rule = &p->rules[c->rules[i]];
		if ((extra = rule->ops & ~SG_POLICY_HTTP_OPS) == 0)
			continue;
		for (op = SG_OP_PING; op < SG_OP_COUNT && (extra & (1u << op)) == 0; op++)
			;
		(void)snprintf(f, sizeof(f), "rules[%u].ops", (unsigned)c->rules[i]);
		sg_yaml_why(doc, why, why_len, f,
		            "grants %s to the HTTP client '%s', which can only be granted "
		            "timestamp, ocsp and crl.get",
		            sg_op_name((enum sg_op)op), c->name);
		return SG_ERR_POLICY;
	}
	return 0;
}

static int
sg_policy_load_rules(struct sg_policy *p, const struct sg_yaml_doc *doc, char *why, size_t why_len)
{
	size_t *stamp = NULL, i, j, n_profiles = 0;
	int r = SG_ERR_INTERNAL;

	p->n_rules = p->raw->rules_count;
	if (p->n_rules > 0 && (p->rules = calloc(p->n_rules, sizeof(*p->rules))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < p->n_rules; i++) {
		if ((r = sg_policy_load_rule(p, i, doc, why, why_len)) != 0)
			goto out;
		n_profiles += p->rules[i].n_profiles;
	}
	/* The profiles all rules name, for sg_profiles_check_policy. */
	if (n_profiles > 0) {
		if ((p->profiles = calloc(n_profiles, sizeof(*p->profiles))) == NULL) {
			r = SG_ERR_NOMEM;
			goto out;
		}
		for (i = 0; i < p->n_rules; i++) {
			for (j = 0; j < p->rules[i].n_profiles; j++)
				p->profiles[p->n_profiles++] = p->rules[i].profiles[j];
		}
		p->n_profiles = sg_str_sort_unique(p->profiles, p->n_profiles);
	}
	if (p->n_clients == 0) {
		r = 0;
		goto out;
	}
	if ((stamp = calloc(p->n_clients, sizeof(*stamp))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	sg_policy_assign(p, 0, stamp);
	for (i = 0; i < p->n_clients; i++) {
		if (p->clients[i].n_rules == 0)
			continue;
		p->clients[i].rules = calloc(p->clients[i].n_rules, sizeof(*p->clients[i].rules));
		if (p->clients[i].rules == NULL) {
			r = SG_ERR_NOMEM;
			goto out;
		}
		p->clients[i].n_rules = 0;
	}
	sg_policy_assign(p, 1, stamp);
	if ((r = sg_policy_check_http(p, doc, why, why_len)) != 0)
		goto out;
	r = 0;
out:
	free(stamp);
	return r;
}

int
sg_policy_load(const char *path, struct sg_policy **out, char *why, size_t why_len)
{
	struct sg_yaml_doc *doc = NULL;
	struct sg_policy *p = NULL;
	void *raw = NULL;
	int r = SG_ERR_INTERNAL;

	*out = NULL;
	if ((r = sg_yaml_load(path, &sg_y_policy_schema, SG_ERR_POLICY, &raw, &doc, why,
	                      why_len)) != 0)
		goto out;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	p->raw = raw;
	raw = NULL;
	if (p->raw->version != SG_POLICY_VERSION) {
		sg_yaml_why(doc, why, why_len, "version",
		            "unsupported policy version %u (expected %d)",
		            (unsigned)p->raw->version, SG_POLICY_VERSION);
		r = SG_ERR_POLICY;
		goto out;
	}
	if ((r = sg_policy_load_clients(p, doc, why, why_len)) != 0 ||
	    (r = sg_policy_load_keys(p, doc, why, why_len)) != 0 ||
	    (r = sg_policy_load_rules(p, doc, why, why_len)) != 0)
		goto out;
	*out = p;
	p = NULL;
	r = 0;
out:
	if (r == SG_ERR_NOMEM && why != NULL && why_len > 0)
		(void)snprintf(why, why_len, "%s: out of memory", path);
	sg_policy_free(p);
	sg_yaml_free(&sg_y_policy_schema, raw);
	sg_yaml_doc_free(doc);
	return r;
}
