/* sg_clientconf: see sg_clientconf.h and docs/configuration.md ("client.conf"). */
#include "sg_clientconf.h"
#include "sg_err.h"
#include "sg_yaml.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SG_CLIENTCONF_ENDPOINT_MAX 1024

/* The file as libcyaml loads it. */
struct sg_y_clientconf {
	char *endpoint;
	char *server_public_key;
	char *secret_key_file;
	uint32_t *timeout_ms; /* NULL when absent */
};

static const cyaml_schema_field_t sg_y_clientconf_fields[] = {
    CYAML_FIELD_STRING_PTR("endpoint", CYAML_FLAG_POINTER, struct sg_y_clientconf, endpoint, 1,
                           SG_CLIENTCONF_ENDPOINT_MAX),
    CYAML_FIELD_STRING_PTR("server_public_key", CYAML_FLAG_POINTER, struct sg_y_clientconf,
                           server_public_key, 1, 64),
    CYAML_FIELD_STRING_PTR("secret_key_file", CYAML_FLAG_POINTER, struct sg_y_clientconf,
                           secret_key_file, 1, SG_YAML_PATH_MAX),
    CYAML_FIELD_UINT_PTR("timeout_ms", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                         struct sg_y_clientconf, timeout_ms),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t sg_y_clientconf_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct sg_y_clientconf, sg_y_clientconf_fields),
};

void
sg_clientconf_clear(struct sg_clientconf *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->endpoint);
	free(cfg->secret_key_file);
	memset(cfg, 0, sizeof(*cfg));
}

int
sg_clientconf_load(const char *path, struct sg_clientconf *cfg, char *why, size_t why_len)
{
	struct sg_y_clientconf *y = NULL;
	struct sg_yaml_doc *doc = NULL;
	void *raw = NULL;
	int r = SG_ERR_INTERNAL;

	memset(cfg, 0, sizeof(*cfg));
	cfg->timeout_ms = SG_CLIENTCONF_DEFAULT_TIMEOUT_MS;
	if ((r = sg_yaml_load(path, &sg_y_clientconf_schema, SG_ERR_CONFIG, &raw, &doc, why,
	                      why_len)) != 0)
		goto out;
	y = raw;
	if (!sg_yaml_endpoint_valid(y->endpoint)) {
		sg_yaml_why(doc, why, why_len, "endpoint",
		            "'%s' is not a tcp:// or ipc:// endpoint", y->endpoint);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (sg_yaml_z85_key(y->server_public_key, cfg->server_pub) != 0) {
		sg_yaml_why(doc, why, why_len, "server_public_key",
		            "not a Z85 CURVE public key (40 characters for 32 bytes)");
		r = SG_ERR_CONFIG;
		goto out;
	}
	(void)snprintf(cfg->server_pub_z85, sizeof(cfg->server_pub_z85), "%s",
	               y->server_public_key);
	if (y->timeout_ms != NULL) {
		if (*y->timeout_ms < 1 || *y->timeout_ms > SG_CLIENTCONF_MAX_TIMEOUT_MS) {
			sg_yaml_why(doc, why, why_len, "timeout_ms", "%u is out of range (1..%d)",
			            (unsigned)*y->timeout_ms, SG_CLIENTCONF_MAX_TIMEOUT_MS);
			r = SG_ERR_CONFIG;
			goto out;
		}
		cfg->timeout_ms = *y->timeout_ms;
	}
	if ((cfg->endpoint = strdup(y->endpoint)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if ((r = sg_yaml_path_resolve(path, y->secret_key_file, &cfg->secret_key_file)) != 0) {
		if (r != SG_ERR_NOMEM) {
			sg_yaml_why(doc, why, why_len, "secret_key_file",
			            "cannot resolve the path against the file's directory");
			r = SG_ERR_CONFIG;
		}
		goto out;
	}
	r = 0;
out:
	if (r == SG_ERR_NOMEM && why != NULL && why_len > 0)
		(void)snprintf(why, why_len, "%s: out of memory", path);
	if (r != 0)
		sg_clientconf_clear(cfg);
	sg_yaml_free(&sg_y_clientconf_schema, raw);
	sg_yaml_doc_free(doc);
	return r;
}
