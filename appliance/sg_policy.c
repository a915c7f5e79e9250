/* sg_policy: see sg_policy.h and policies/README.md. */
#include "sg_policy.h"
#include "sg_err.h"
#include "sg_yaml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SG_POLICY_VERSION 1
#define SG_POLICY_MAX_ROLES 32  /* per client */
#define SG_POLICY_MAX_LIST 1024 /* entries of a rule's lists */
#define SG_POLICY_MAX_INFLIGHT 65536

/* Ops that act on a key, and the key purpose each one requires. */
#define SG_POLICY_KEY_OPS (1u << SG_OP_SIGN_DIGEST)
#define SG_PURPOSE_SIGN (1u << 0)

#define SG_POLICY_ALL_HASHES                                                                       \
	((1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384) | (1u << SG_HASH_SHA512))
#define SG_POLICY_ALL_PADS ((1u << SG_PAD_PKCS1) | (1u << SG_PAD_PSS))

static const struct {
	const char *name;
	unsigned bit;
} sg_purposes[] = {
    {"sign", SG_PURPOSE_SIGN},
};

/* The file as libcyaml loads it. */
struct sg_y_client {
	char *name;
	char *curve_public_key;
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
	int self_verify; /* enum sg_yaml_bool */
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
    CYAML_FIELD_STRING_PTR("curve_public_key", CYAML_FLAG_POINTER, struct sg_y_client,
                           curve_public_key, 1, 64),
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
	unsigned char pub[32];
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
};

struct sg_policy_rule {
	unsigned ops;    /* bit (1 << enum sg_op) */
	unsigned hashes; /* bit (1 << enum sg_hash) */
	unsigned pads;   /* bit (1 << enum sg_pad); RSA keys only */
	uint32_t *keys;  /* key indexes, ascending, unique */
	size_t n_keys;
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
	struct sg_policy_client **by_pub;
	size_t n_clients;
	struct sg_policy_key *keys;
	struct sg_policy_key **keys_by_name;
	size_t n_keys;
	struct sg_policy_rule *rules;
	size_t n_rules;
	struct sg_policy_role *roles;
	size_t n_roles;
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
	for (i = 0; i < p->n_rules && p->rules != NULL; i++)
		free(p->rules[i].keys);
	free(p->clients);
	free(p->by_name);
	free(p->by_pub);
	free(p->keys);
	free(p->keys_by_name);
	free(p->rules);
	free(p->roles);
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

	if (p == NULL || pub == NULL || p->n_clients == 0)
		return NULL;
	memcpy(k.pub, pub, sizeof(k.pub));
	found = bsearch(&kp, p->by_pub, p->n_clients, sizeof(*p->by_pub), sg_client_pub_cmp);
	return found == NULL ? NULL : *found;
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
		*ops |= rule->ops & SG_POLICY_KEY_OPS;
		if ((rule->ops & (1u << SG_OP_SIGN_DIGEST)) != 0)
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
		p->by_pub[i] = c;
		if (!sg_wire_name_valid(yc->name, strlen(yc->name))) {
			(void)snprintf(f, sizeof(f), "clients[%zu].name", i);
			sg_yaml_why(doc, why, why_len, f,
			            "invalid client name '%s' (expected [A-Za-z0-9._-]{1,%d})",
			            yc->name, SG_NAME_MAX);
			r = SG_ERR_POLICY;
			goto out;
		}
		if (sg_yaml_z85_key(yc->curve_public_key, c->pub) != 0) {
			(void)snprintf(f, sizeof(f), "clients[%zu].curve_public_key", i);
			sg_yaml_why(doc, why, why_len, f,
			            "not a Z85 CURVE public key (40 characters for 32 bytes)");
			r = SG_ERR_POLICY;
			goto out;
		}
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
	if (p->n_clients > 0) {
		qsort(p->by_name, p->n_clients, sizeof(*p->by_name), sg_client_name_cmp);
		qsort(p->by_pub, p->n_clients, sizeof(*p->by_pub), sg_client_pub_cmp);
	}
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
	for (i = 1; i < p->n_clients; i++) {
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
				            "unknown purpose '%s' (expected sign)",
				            yk->purposes[j]);
				r = SG_ERR_POLICY;
				goto out;
			}
			k->purposes |= sg_purposes[m].bit;
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
			            "unknown op '%s' (expected ping, keys.list or sign.digest)",
			            yr->ops[j]);
			goto out;
		}
		rule->ops |= 1u << op;
	}
	if ((rule->ops & SG_POLICY_KEY_OPS) == 0) {
		/* Keyless ops only: key, hash and padding lists would mean nothing. */
		const char *extra = yr->keys_count > 0       ? "keys"
		                    : yr->hashes_count > 0   ? "hashes"
		                    : yr->paddings_count > 0 ? "paddings"
		                                             : NULL;

		if (extra != NULL) {
			(void)snprintf(f, sizeof(f), "rules[%zu].%s", i, extra);
			sg_yaml_why(doc, why, why_len, f,
			            "only allowed when 'ops' has an op on a key (sign.digest)");
			goto out;
		}
		r = 0;
		goto out;
	}
	if (yr->keys_count == 0) {
		(void)snprintf(f, sizeof(f), "rules[%zu].keys", i);
		sg_yaml_why(doc, why, why_len, f,
		            "required when 'ops' has an op on a key (sign.digest)");
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
		if ((rule->ops & (1u << SG_OP_SIGN_DIGEST)) != 0 &&
		    (k->purposes & SG_PURPOSE_SIGN) == 0) {
			sg_yaml_why(doc, why, why_len, f,
			            "key '%s' lacks purpose 'sign' needed by sign.digest",
			            yr->keys[j]);
			goto out;
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

static int
sg_policy_load_rules(struct sg_policy *p, const struct sg_yaml_doc *doc, char *why, size_t why_len)
{
	size_t *stamp = NULL, i;
	int r = SG_ERR_INTERNAL;

	p->n_rules = p->raw->rules_count;
	if (p->n_rules > 0 && (p->rules = calloc(p->n_rules, sizeof(*p->rules))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < p->n_rules; i++) {
		if ((r = sg_policy_load_rule(p, i, doc, why, why_len)) != 0)
			goto out;
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
