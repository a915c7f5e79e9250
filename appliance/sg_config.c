/* sg_config: see sg_config.h and docs/configuration.md ("signetd.yaml"). */
#include "sg_config.h"
#include "sg_err.h"
#include "sg_wire.h"
#include "sg_yaml.h"

#include <limits.h>
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
