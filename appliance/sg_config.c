/* sg_config: see sg_config.h and docs/configuration.md ("signetd.yaml"). */
#include "sg_config.h"
#include "sg_err.h"
#include "sg_wire.h"
#include "sg_yaml.h"

#include <openssl/objects.h>

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SG_CONFIG_DEFAULT_WORKERS 2
#define SG_CONFIG_MAX_WORKERS 64
#define SG_CONFIG_MIN_MSG 256
#define SG_CONFIG_MAX_MSG (1024 * 1024)
#define SG_CONFIG_DEFAULT_INFLIGHT 256
#define SG_CONFIG_MAX_INFLIGHT 65536
#define SG_CONFIG_ENDPOINT_MAX 1024
#define SG_CONFIG_TOKEN_LABEL_MAX 32 /* CK_TOKEN_INFO.label */
#define SG_CONFIG_DEFAULT_ALLOWLIST SIGNET_SYSCONFDIR "/signet/pkcs11-modules.allow"

/* The file as libcyaml loads it; optional scalars are pointers (NULL = absent). */
struct sg_y_pkcs11 {
	char *module;
	char *module_allowlist;
	char *token_label;
	char *pin_file;
	int32_t *pin_fd;
};

struct sg_y_limits {
	uint32_t *max_message_size;
	uint32_t *max_inflight_per_client;
};

struct sg_y_log {
	char *level;
	int syslog; /* enum sg_yaml_bool */
};

struct sg_y_accuracy {
	uint32_t *seconds;
	uint32_t *millis;
	uint32_t *micros;
};

struct sg_y_tsa {
	char *key;
	char *policy;
	char **accepted_policies;
	unsigned accepted_policies_count;
	char **hashes;
	unsigned hashes_count;
	struct sg_y_accuracy *accuracy;
	char *sign_hash;
};

struct sg_y_http {
	char *listen;
	char *client;
	uint32_t *max_connections;
	uint32_t *timeout_ms;
};

struct sg_y_config {
	char **listen;
	unsigned listen_count;
	char *server_secret_key_file;
	char *policy;
	char *audit_db;
	struct sg_y_pkcs11 *pkcs11;
	uint32_t *workers;
	struct sg_y_limits *limits;
	struct sg_y_log *log;
	char *pid_file;
	char *profiles_dir;
	struct sg_y_tsa *tsa;
	struct sg_y_http *http;
};

static const cyaml_schema_value_t sg_y_endpoint = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, SG_CONFIG_ENDPOINT_MAX),
};

static const cyaml_schema_field_t sg_y_pkcs11_fields[] = {
    CYAML_FIELD_STRING_PTR("module", CYAML_FLAG_POINTER, struct sg_y_pkcs11, module, 1,
                           SG_PATH_MAX),
    CYAML_FIELD_STRING_PTR("module_allowlist", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                           struct sg_y_pkcs11, module_allowlist, 1, SG_PATH_MAX),
    CYAML_FIELD_STRING_PTR("token_label", CYAML_FLAG_POINTER, struct sg_y_pkcs11, token_label, 1,
                           SG_CONFIG_TOKEN_LABEL_MAX),
    CYAML_FIELD_STRING_PTR("pin_file", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_pkcs11,
                           pin_file, 1, SG_PATH_MAX),
    CYAML_FIELD_INT_PTR("pin_fd", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_pkcs11,
                        pin_fd),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sg_y_limits_fields[] = {
    CYAML_FIELD_UINT_PTR("max_message_size", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                         struct sg_y_limits, max_message_size),
    CYAML_FIELD_UINT_PTR("max_inflight_per_client", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                         struct sg_y_limits, max_inflight_per_client),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sg_y_log_fields[] = {
    CYAML_FIELD_STRING_PTR("level", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_log,
                           level, 1, 16),
    SG_YAML_FIELD_BOOL("syslog", CYAML_FLAG_OPTIONAL, struct sg_y_log, syslog),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t sg_y_oid = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, SG_CONFIG_OID_MAX),
};

static const cyaml_schema_value_t sg_y_hash_name = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 16),
};

static const cyaml_schema_field_t sg_y_accuracy_fields[] = {
    CYAML_FIELD_UINT_PTR("seconds", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_accuracy,
                         seconds),
    CYAML_FIELD_UINT_PTR("millis", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_accuracy,
                         millis),
    CYAML_FIELD_UINT_PTR("micros", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_accuracy,
                         micros),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sg_y_tsa_fields[] = {
    CYAML_FIELD_STRING_PTR("key", CYAML_FLAG_POINTER, struct sg_y_tsa, key, 1, SG_NAME_MAX),
    CYAML_FIELD_STRING_PTR("policy", CYAML_FLAG_POINTER, struct sg_y_tsa, policy, 1,
                           SG_CONFIG_OID_MAX),
    CYAML_FIELD_SEQUENCE("accepted_policies", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                         struct sg_y_tsa, accepted_policies, &sg_y_oid, 0,
                         SG_CONFIG_MAX_TSA_POLICIES),
    CYAML_FIELD_SEQUENCE("hashes", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_tsa,
                         hashes, &sg_y_hash_name, 1, 3),
    CYAML_FIELD_MAPPING_PTR("accuracy", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_tsa,
                            accuracy, sg_y_accuracy_fields),
    CYAML_FIELD_STRING_PTR("sign_hash", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_tsa,
                           sign_hash, 1, 16),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sg_y_http_fields[] = {
    CYAML_FIELD_STRING_PTR("listen", CYAML_FLAG_POINTER, struct sg_y_http, listen, 1, 64),
    CYAML_FIELD_STRING_PTR("client", CYAML_FLAG_POINTER, struct sg_y_http, client, 1, SG_NAME_MAX),
    CYAML_FIELD_UINT_PTR("max_connections", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                         struct sg_y_http, max_connections),
    CYAML_FIELD_UINT_PTR("timeout_ms", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_http,
                         timeout_ms),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sg_y_config_fields[] = {
    CYAML_FIELD_SEQUENCE("listen", CYAML_FLAG_POINTER, struct sg_y_config, listen, &sg_y_endpoint,
                         1, SG_CONFIG_MAX_LISTEN),
    CYAML_FIELD_STRING_PTR("server_secret_key_file", CYAML_FLAG_POINTER, struct sg_y_config,
                           server_secret_key_file, 1, SG_PATH_MAX),
    CYAML_FIELD_STRING_PTR("policy", CYAML_FLAG_POINTER, struct sg_y_config, policy, 1,
                           SG_PATH_MAX),
    CYAML_FIELD_STRING_PTR("audit_db", CYAML_FLAG_POINTER, struct sg_y_config, audit_db, 1,
                           SG_PATH_MAX),
    CYAML_FIELD_MAPPING_PTR("pkcs11", CYAML_FLAG_POINTER, struct sg_y_config, pkcs11,
                            sg_y_pkcs11_fields),
    CYAML_FIELD_UINT_PTR("workers", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_config,
                         workers),
    CYAML_FIELD_MAPPING_PTR("limits", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_config,
                            limits, sg_y_limits_fields),
    CYAML_FIELD_MAPPING_PTR("log", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_config,
                            log, sg_y_log_fields),
    CYAML_FIELD_STRING_PTR("pid_file", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_config,
                           pid_file, 1, SG_PATH_MAX),
    CYAML_FIELD_STRING_PTR("profiles_dir", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                           struct sg_y_config, profiles_dir, 1, SG_PATH_MAX),
    CYAML_FIELD_MAPPING_PTR("tsa", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_config,
                            tsa, sg_y_tsa_fields),
    CYAML_FIELD_MAPPING_PTR("http", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_config,
                            http, sg_y_http_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t sg_y_config_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct sg_y_config, sg_y_config_fields),
};

void
sg_config_clear(struct sg_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < SG_CONFIG_MAX_LISTEN; i++)
		free(cfg->listen[i]);
	free(cfg->server_secret_key_file);
	free(cfg->policy_file);
	free(cfg->audit_db);
	free(cfg->module);
	free(cfg->module_allowlist);
	free(cfg->token_label);
	free(cfg->pin_file);
	free(cfg->pid_file);
	free(cfg->profiles_dir);
	free(cfg->tsa.key);
	free(cfg->tsa.policy_oid);
	for (i = 0; i < SG_CONFIG_MAX_TSA_POLICIES; i++)
		free(cfg->tsa.accepted[i]);
	free(cfg->http.listen);
	free(cfg->http.client);
	memset(cfg, 0, sizeof(*cfg));
}

/* Resolves a path of the file against the file's directory into *out. */
static int
sg_config_path(const struct sg_yaml_doc *doc, const char *field, const char *value, char **out,
               char *why, size_t why_len)
{
	int r;

	if ((r = sg_yaml_path_resolve(sg_yaml_doc_path(doc), value, out)) == 0)
		return 0;
	if (r == SG_ERR_NOMEM)
		return r;
	if (r == SG_ERR_IO)
		sg_yaml_why(doc, why, why_len, field,
		            "cannot resolve the configuration file's directory");
	else
		sg_yaml_why(doc, why, why_len, field, "path is empty or longer than %d bytes",
		            SG_YAML_PATH_MAX);
	return SG_ERR_CONFIG;
}

static int
sg_config_dup(const char *s, char **out)
{
	if ((*out = strdup(s)) == NULL)
		return SG_ERR_NOMEM;
	return 0;
}

static int
sg_config_listen(const struct sg_y_config *y, const struct sg_yaml_doc *doc, struct sg_config *cfg,
                 char *why, size_t why_len)
{
	char f[32];
	size_t i, j;
	int r;

	for (i = 0; i < y->listen_count; i++) {
		(void)snprintf(f, sizeof(f), "listen[%zu]", i);
		if (!sg_yaml_endpoint_valid(y->listen[i])) {
			sg_yaml_why(doc, why, why_len, f, "'%s' is not a tcp:// or ipc:// endpoint",
			            y->listen[i]);
			return SG_ERR_CONFIG;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(y->listen[i], y->listen[j]) == 0) {
				sg_yaml_why(doc, why, why_len, f, "endpoint '%s' is listed twice",
				            y->listen[i]);
				return SG_ERR_CONFIG;
			}
		}
		if ((r = sg_config_dup(y->listen[i], &cfg->listen[i])) != 0)
			return r;
		cfg->n_listen++;
	}
	return 0;
}

static int
sg_config_pkcs11(const struct sg_y_pkcs11 *y, const struct sg_yaml_doc *doc, struct sg_config *cfg,
                 char *why, size_t why_len)
{
	int r = SG_ERR_CONFIG;

	/* Never resolved against the file: which code is loaded must be explicit. */
	if (y->module[0] != '/') {
		sg_yaml_why(doc, why, why_len, "pkcs11.module", "must be an absolute path");
		goto out;
	}
	if ((r = sg_config_dup(y->module, &cfg->module)) != 0)
		goto out;
	if (y->module_allowlist != NULL)
		r = sg_config_path(doc, "pkcs11.module_allowlist", y->module_allowlist,
		                   &cfg->module_allowlist, why, why_len);
	else
		r = sg_config_dup(SG_CONFIG_DEFAULT_ALLOWLIST, &cfg->module_allowlist);
	if (r != 0)
		goto out;
	if ((r = sg_config_dup(y->token_label, &cfg->token_label)) != 0)
		goto out;
	if ((y->pin_file == NULL) == (y->pin_fd == NULL)) {
		sg_yaml_why(doc, why, why_len, y->pin_fd != NULL ? "pkcs11.pin_fd" : "pkcs11",
		            "exactly one of pin_file and pin_fd is required");
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (y->pin_file != NULL) {
		r = sg_config_path(doc, "pkcs11.pin_file", y->pin_file, &cfg->pin_file, why,
		                   why_len);
		goto out;
	}
	/* stdout and stderr are never a PIN source. */
	if (*y->pin_fd < 0 || *y->pin_fd == 1 || *y->pin_fd == 2) {
		sg_yaml_why(doc, why, why_len, "pkcs11.pin_fd",
		            "%d is not a usable descriptor (0 or 3 and above)", (int)*y->pin_fd);
		r = SG_ERR_CONFIG;
		goto out;
	}
	cfg->pin_fd = *y->pin_fd;
	r = 0;
out:
	return r;
}

static int
sg_config_rest(const struct sg_y_config *y, const struct sg_yaml_doc *doc, struct sg_config *cfg,
               char *why, size_t why_len)
{
	if (y->workers != NULL) {
		if (*y->workers < 1 || *y->workers > SG_CONFIG_MAX_WORKERS) {
			sg_yaml_why(doc, why, why_len, "workers", "%u is out of range (1..%d)",
			            (unsigned)*y->workers, SG_CONFIG_MAX_WORKERS);
			return SG_ERR_CONFIG;
		}
		cfg->workers = *y->workers;
	}
	if (y->limits != NULL && y->limits->max_message_size != NULL) {
		if (*y->limits->max_message_size < SG_CONFIG_MIN_MSG ||
		    *y->limits->max_message_size > SG_CONFIG_MAX_MSG) {
			sg_yaml_why(doc, why, why_len, "limits.max_message_size",
			            "%u is out of range (%d..%d)",
			            (unsigned)*y->limits->max_message_size, SG_CONFIG_MIN_MSG,
			            SG_CONFIG_MAX_MSG);
			return SG_ERR_CONFIG;
		}
		cfg->max_message_size = *y->limits->max_message_size;
	}
	if (y->limits != NULL && y->limits->max_inflight_per_client != NULL) {
		if (*y->limits->max_inflight_per_client < 1 ||
		    *y->limits->max_inflight_per_client > SG_CONFIG_MAX_INFLIGHT) {
			sg_yaml_why(doc, why, why_len, "limits.max_inflight_per_client",
			            "%u is out of range (1..%d)",
			            (unsigned)*y->limits->max_inflight_per_client,
			            SG_CONFIG_MAX_INFLIGHT);
			return SG_ERR_CONFIG;
		}
		cfg->max_inflight_per_client = *y->limits->max_inflight_per_client;
	}
	if (y->log != NULL && y->log->level != NULL &&
	    sg_log_level_parse(y->log->level, &cfg->log_level) != 0) {
		sg_yaml_why(doc, why, why_len, "log.level",
		            "unknown level '%s' (expected error, warn, info or debug)",
		            y->log->level);
		return SG_ERR_CONFIG;
	}
	if (y->log != NULL)
		cfg->log_syslog = y->log->syslog == SG_YAML_BOOL_TRUE;
	return 0;
}

/* 1 if s is a dotted OID that OpenSSL can encode (numeric form only). */
static int
sg_config_oid_valid(const char *s)
{
	ASN1_OBJECT *o;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if ((s[i] < '0' || s[i] > '9') && s[i] != '.')
			return 0;
	}
	if ((o = OBJ_txt2obj(s, 1)) == NULL)
		return 0;
	ASN1_OBJECT_free(o);
	return 1;
}

static int
sg_config_tsa(const struct sg_y_tsa *y, const struct sg_yaml_doc *doc, struct sg_config *cfg,
              char *why, size_t why_len)
{
	struct sg_config_tsa *t = &cfg->tsa;
	enum sg_hash h;
	char f[48];
	size_t i, j;
	int r;

	t->enabled = 1;
	t->hashes = (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384) | (1u << SG_HASH_SHA512);
	t->accuracy_s = 1;
	t->sign_hash = SG_HASH_SHA256;
	if (!sg_wire_name_valid(y->key, strlen(y->key))) {
		sg_yaml_why(doc, why, why_len, "tsa.key", "'%s' is not a valid key name", y->key);
		return SG_ERR_CONFIG;
	}
	if (!sg_config_oid_valid(y->policy)) {
		sg_yaml_why(doc, why, why_len, "tsa.policy", "'%s' is not a dotted OID", y->policy);
		return SG_ERR_CONFIG;
	}
	if ((r = sg_config_dup(y->key, &t->key)) != 0 ||
	    (r = sg_config_dup(y->policy, &t->policy_oid)) != 0)
		return r;
	for (i = 0; i < y->accepted_policies_count; i++) {
		(void)snprintf(f, sizeof(f), "tsa.accepted_policies[%zu]", i);
		if (!sg_config_oid_valid(y->accepted_policies[i])) {
			sg_yaml_why(doc, why, why_len, f, "'%s' is not a dotted OID",
			            y->accepted_policies[i]);
			return SG_ERR_CONFIG;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(y->accepted_policies[i], y->accepted_policies[j]) == 0) {
				sg_yaml_why(doc, why, why_len, f, "'%s' is listed twice",
				            y->accepted_policies[i]);
				return SG_ERR_CONFIG;
			}
		}
		if ((r = sg_config_dup(y->accepted_policies[i], &t->accepted[i])) != 0)
			return r;
		t->n_accepted++;
	}
	if (y->hashes != NULL)
		t->hashes = 0;
	for (i = 0; i < y->hashes_count; i++) {
		(void)snprintf(f, sizeof(f), "tsa.hashes[%zu]", i);
		if (sg_hash_parse(y->hashes[i], &h) != 0) {
			sg_yaml_why(doc, why, why_len, f,
			            "unknown hash '%s' (expected sha256, sha384 or sha512)",
			            y->hashes[i]);
			return SG_ERR_CONFIG;
		}
		t->hashes |= 1u << h;
	}
	if (y->sign_hash != NULL) {
		if (sg_hash_parse(y->sign_hash, &h) != 0) {
			sg_yaml_why(doc, why, why_len, "tsa.sign_hash",
			            "unknown hash '%s' (expected sha256, sha384 or sha512)",
			            y->sign_hash);
			return SG_ERR_CONFIG;
		}
		t->sign_hash = h;
	}
	if (y->accuracy != NULL) {
		const struct sg_y_accuracy *a = y->accuracy;

		t->accuracy_s = a->seconds != NULL ? *a->seconds : 0;
		t->accuracy_ms = a->millis != NULL ? *a->millis : 0;
		t->accuracy_us = a->micros != NULL ? *a->micros : 0;
		/* RFC 3161: millis and micros are INTEGER (1..999). */
		if (t->accuracy_ms > 999 || t->accuracy_us > 999 || t->accuracy_s > 86400) {
			sg_yaml_why(doc, why, why_len, "tsa.accuracy",
			            "seconds 0..86400, millis and micros 0..999");
			return SG_ERR_CONFIG;
		}
	}
	return 0;
}

/* 1 if s is "A.B.C.D:PORT" or "[IPv6]:PORT" with a port 1..65535. */
static int
sg_config_hostport_valid(const char *s)
{
	char host[64];
	const char *colon;
	unsigned char addr[16];
	char *end;
	unsigned long port;
	size_t n;
	int v6 = s[0] == '[';

	if ((colon = strrchr(s, ':')) == NULL)
		return 0;
	n = (size_t)(colon - s);
	if (v6) {
		if (n < 3 || s[n - 1] != ']')
			return 0;
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		return 0;
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1)
		return 0;
	if (colon[1] < '0' || colon[1] > '9')
		return 0;
	port = strtoul(colon + 1, &end, 10);
	return *end == '\0' && port >= 1 && port <= 65535;
}

static int
sg_config_http(const struct sg_y_http *y, const struct sg_yaml_doc *doc, struct sg_config *cfg,
               char *why, size_t why_len)
{
	struct sg_config_http *h = &cfg->http;
	int r;

	h->enabled = 1;
	h->max_connections = 64;
	h->timeout_ms = 10000;
	if (!sg_config_hostport_valid(y->listen)) {
		sg_yaml_why(doc, why, why_len, "http.listen",
		            "'%s' is not HOST:PORT with a numeric IPv4 or [IPv6] address",
		            y->listen);
		return SG_ERR_CONFIG;
	}
	if (!sg_wire_name_valid(y->client, strlen(y->client))) {
		sg_yaml_why(doc, why, why_len, "http.client", "'%s' is not a valid client name",
		            y->client);
		return SG_ERR_CONFIG;
	}
	if (y->max_connections != NULL) {
		if (*y->max_connections < 1 || *y->max_connections > 1024) {
			sg_yaml_why(doc, why, why_len, "http.max_connections",
			            "%u is out of range (1..1024)", (unsigned)*y->max_connections);
			return SG_ERR_CONFIG;
		}
		h->max_connections = *y->max_connections;
	}
	if (y->timeout_ms != NULL) {
		if (*y->timeout_ms < 100 || *y->timeout_ms > 600000) {
			sg_yaml_why(doc, why, why_len, "http.timeout_ms",
			            "%u is out of range (100..600000)", (unsigned)*y->timeout_ms);
			return SG_ERR_CONFIG;
		}
		h->timeout_ms = *y->timeout_ms;
	}
	if ((r = sg_config_dup(y->listen, &h->listen)) != 0 ||
	    (r = sg_config_dup(y->client, &h->client)) != 0)
		return r;
	return 0;
}

int
sg_config_load(const char *path, struct sg_config *cfg, char *why, size_t why_len)
{
	struct sg_yaml_doc *doc = NULL;
	struct sg_y_config *y = NULL;
	void *raw = NULL;
	int r = SG_ERR_INTERNAL;

	memset(cfg, 0, sizeof(*cfg));
	cfg->pin_fd = -1;
	cfg->workers = SG_CONFIG_DEFAULT_WORKERS;
	cfg->max_message_size = SG_WIRE_DEFAULT_MAX_MSG;
	cfg->max_inflight_per_client = SG_CONFIG_DEFAULT_INFLIGHT;
	cfg->log_level = SG_LOG_INFO;
	cfg->log_syslog = 0;
	if ((r = sg_yaml_load(path, &sg_y_config_schema, SG_ERR_CONFIG, &raw, &doc, why,
	                      why_len)) != 0)
		goto out;
	y = raw;
	if ((r = sg_config_listen(y, doc, cfg, why, why_len)) != 0 ||
	    (r = sg_config_path(doc, "server_secret_key_file", y->server_secret_key_file,
	                        &cfg->server_secret_key_file, why, why_len)) != 0 ||
	    (r = sg_config_path(doc, "policy", y->policy, &cfg->policy_file, why, why_len)) != 0 ||
	    (r = sg_config_path(doc, "audit_db", y->audit_db, &cfg->audit_db, why, why_len)) != 0 ||
	    (r = sg_config_pkcs11(y->pkcs11, doc, cfg, why, why_len)) != 0 ||
	    (r = sg_config_rest(y, doc, cfg, why, why_len)) != 0)
		goto out;
	if (y->pid_file != NULL &&
	    (r = sg_config_path(doc, "pid_file", y->pid_file, &cfg->pid_file, why, why_len)) != 0)
		goto out;
	if (y->profiles_dir != NULL && (r = sg_config_path(doc, "profiles_dir", y->profiles_dir,
	                                                   &cfg->profiles_dir, why, why_len)) != 0)
		goto out;
	if (y->tsa != NULL && (r = sg_config_tsa(y->tsa, doc, cfg, why, why_len)) != 0)
		goto out;
	if (y->http != NULL && (r = sg_config_http(y->http, doc, cfg, why, why_len)) != 0)
		goto out;
	r = 0;
out:
	if (r == SG_ERR_NOMEM && why != NULL && why_len > 0)
		(void)snprintf(why, why_len, "%s: out of memory", path);
	if (r != 0)
		sg_config_clear(cfg);
	sg_yaml_free(&sg_y_config_schema, raw);
	sg_yaml_doc_free(doc);
	return r;
}
