/*
 * signet_bundle: reading verification bundles (see signet_bundle.h).
 */
#include "signet_bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sg_err.h"
#include "sg_yaml.h"

#define BUNDLE_NAME_MAX 128 /* a file name inside a bundle directory */

/* The five directories, and what their files are. */
enum bundle_kind {
	BUNDLE_ROOTS,
	BUNDLE_CHAINS,
	BUNDLE_TSA,
	BUNDLE_CRLS,
	BUNDLE_KEYS,
	BUNDLE_NKINDS,
};

static const char *const bundle_dirs[BUNDLE_NKINDS] = {"roots", "chains", "tsa", "crls", "keys"};

/* manifest.json as libcyaml loads it (JSON is YAML's flow syntax). */
struct bundle_y_file {
	char *path;
	char *sha256;
};

struct bundle_y_key {
	char *name;
	char *alg;
	char *fingerprint;
};

struct bundle_y {
	char *format;
	uint32_t version;
	char *created;
	char *appliance; /* NULL when absent */
	struct bundle_y_key *keys;
	unsigned keys_count;
	struct bundle_y_file *files;
	unsigned files_count;
};

static const cyaml_schema_field_t bundle_y_file_fields[] = {
    CYAML_FIELD_STRING_PTR("path", CYAML_FLAG_POINTER, struct bundle_y_file, path, 1, 256),
    CYAML_FIELD_STRING_PTR("sha256", CYAML_FLAG_POINTER, struct bundle_y_file, sha256, 64, 64),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t bundle_y_file_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct bundle_y_file, bundle_y_file_fields),
};

static const cyaml_schema_field_t bundle_y_key_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct bundle_y_key, name, 1, SG_NAME_MAX),
    CYAML_FIELD_STRING_PTR("alg", CYAML_FLAG_POINTER, struct bundle_y_key, alg, 1, 47),
    CYAML_FIELD_STRING_PTR("fingerprint", CYAML_FLAG_POINTER, struct bundle_y_key, fingerprint, 64,
                           64),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t bundle_y_key_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct bundle_y_key, bundle_y_key_fields),
};

static const cyaml_schema_field_t bundle_y_fields[] = {
    CYAML_FIELD_STRING_PTR("format", CYAML_FLAG_POINTER, struct bundle_y, format, 1, 64),
    CYAML_FIELD_UINT("version", CYAML_FLAG_DEFAULT, struct bundle_y, version),
    CYAML_FIELD_STRING_PTR("created", CYAML_FLAG_POINTER, struct bundle_y, created, 1, 64),
    CYAML_FIELD_STRING_PTR("appliance", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct bundle_y,
                           appliance, 0, SG_NAME_MAX),
    CYAML_FIELD_SEQUENCE("keys", CYAML_FLAG_POINTER, struct bundle_y, keys, &bundle_y_key_schema, 0,
                         SG_MAX_KEYS),
    CYAML_FIELD_SEQUENCE("files", CYAML_FLAG_POINTER, struct bundle_y, files, &bundle_y_file_schema,
                         0, CLI_BUNDLE_FILES_MAX),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t bundle_y_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct bundle_y, bundle_y_fields),
};

/* A plain file name: [A-Za-z0-9][A-Za-z0-9._-]*, at most BUNDLE_NAME_MAX bytes. */
static int
bundle_name_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > BUNDLE_NAME_MAX || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Splits "DIR/NAME" into its kind and name; -1 if it is not a bundle file's path. */
static int
bundle_path_kind(const char *path, const char **name)
{
	const char *slash = strchr(path, '/');
	int k;

	if (slash == NULL || !bundle_name_valid(slash + 1))
		return -1;
	for (k = 0; k < BUNDLE_NKINDS; k++) {
		if (strlen(bundle_dirs[k]) == (size_t)(slash - path) &&
		    strncmp(path, bundle_dirs[k], (size_t)(slash - path)) == 0) {
			*name = slash + 1;
			return k;
		}
	}
	return -1;
}

static int
bundle_hex_valid(const char *s, size_t n)
{
	size_t i;

	if (strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

static void
bundle_hex(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/*
 * Reads DIR/path, which must be a regular file (not a link), into *buf and
 * checks its SHA-256 against the manifest's.
 */
static int
bundle_read(const char *dir, const char *path, const char *want, unsigned char **buf, size_t *len,
            char *why, size_t why_len)
{
	unsigned char md[32];
	char full[4096 + 300], hex[65];
	struct stat st;
	int r;

	*buf = NULL;
	snprintf(full, sizeof(full), "%s/%s", dir, path);
	if (lstat(full, &st) != 0) {
		snprintf(why, why_len, "%s: listed in the manifest but %s", full, strerror(errno));
		return SG_ERR_CONFIG;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, why_len, "%s: not a regular file", full);
		return SG_ERR_CONFIG;
	}
	if ((r = cli_trust_read_file(full, buf, len, why, why_len)) != 0)
		return r == SG_ERR_NOT_FOUND ? SG_ERR_CONFIG : r;
	if (EVP_Digest(*buf, *len, md, NULL, EVP_sha256(), NULL) != 1) {
		snprintf(why, why_len, "%s: cannot hash it", full);
		return SG_ERR_INTERNAL;
	}
	bundle_hex(md, sizeof(md), hex);
	if (strcmp(hex, want) != 0) {
		snprintf(why, why_len,
		         "%s: its SHA-256 is not the manifest's (the bundle was changed)", full);
		return SG_ERR_CONFIG;
	}
	return 0;
}

/* Every entry of the five directories must be one of the manifest's files. */
static int
bundle_scan(const char *dir, const struct bundle_y *y, char *why, size_t why_len)
{
	char sub[4096 + 16], path[BUNDLE_NAME_MAX + 16];
	struct dirent *de;
	DIR *d = NULL;
	unsigned i;
	int k, found, r = 0;

	for (k = 0; k < BUNDLE_NKINDS && r == 0; k++) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, bundle_dirs[k]);
		if ((d = opendir(sub)) == NULL) {
			snprintf(why, why_len,
			         "%s: %s (a bundle has all of roots, chains, tsa, crls "
			         "and keys, possibly empty)",
			         sub, strerror(errno));
			return SG_ERR_CONFIG;
		}
		while (r == 0 && (de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%.*s", bundle_dirs[k], BUNDLE_NAME_MAX + 1,
			         de->d_name);
			for (found = 0, i = 0; i < y->files_count && !found; i++)
				found = strcmp(y->files[i].path, path) == 0;
			if (!found) {
				snprintf(why, why_len, "%s/%s: not listed in the manifest", sub,
				         de->d_name);
				r = SG_ERR_CONFIG;
			}
		}
		closedir(d);
	}
	return r;
}

/* The key file keys/NAME.pem: NAME must be a key of the manifest, and match it. */
static int
bundle_key(struct cli_trust *t, struct sg_yaml_doc *doc, const struct bundle_y *y, const char *dir,
           const char *fname, const unsigned char *buf, size_t len, char *why, size_t why_len)
{
	char name[BUNDLE_NAME_MAX + 1], label[4096 + 300], alg[48], hex[65];
	unsigned char fp[32];
	const struct cli_trust_key *k;
	size_t n = strlen(fname);
	unsigned i;
	int r;

	snprintf(label, sizeof(label), "%s/keys/%s", dir, fname);
	if (n <= 4 || strcmp(fname + n - 4, ".pem") != 0) {
		snprintf(why, why_len, "%s: key files are named NAME.pem", label);
		return SG_ERR_CONFIG;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(n - 4), fname);
	for (i = 0; i < y->keys_count; i++) {
		if (strcmp(y->keys[i].name, name) == 0)
			break;
	}
	if (i == y->keys_count) {
		snprintf(why, why_len, "%s: the manifest has no key '%s'", label, name);
		return SG_ERR_CONFIG;
	}
	if ((r = cli_trust_add_key_mem(t, name, label, buf, len, why, why_len)) != 0)
		return r;
	k = cli_trust_key_by_name(t, name);
	cli_trust_key_alg(k->pub, alg, sizeof(alg));
	if (cli_trust_key_fp(k->pub, fp) != 0)
		return SG_ERR_INTERNAL;
	bundle_hex(fp, sizeof(fp), hex);
	if (strcmp(hex, y->keys[i].fingerprint) != 0 || strcmp(alg, y->keys[i].alg) != 0) {
		char field[64];

		snprintf(field, sizeof(field), "keys[%u]", i);
		sg_yaml_why(doc, why, why_len, field,
		            "%s is a %s key with fingerprint %s, not what the manifest says", label,
		            alg, hex);
		return SG_ERR_CONFIG;
	}
	return 0;
}

int
cli_bundle_load(struct cli_trust *t, const char *dir, char *why, size_t why_len)
{
	struct bundle_y *y = NULL;
	struct sg_yaml_doc *doc = NULL;
	unsigned char *buf = NULL;
	const char *name;
	char mpath[4096 + 32], label[4096 + 300], field[64];
	void *raw = NULL;
	size_t len;
	unsigned i, j;
	int kind, r;

	snprintf(mpath, sizeof(mpath), "%s/manifest.json", dir);
	if ((r = sg_yaml_load(mpath, &bundle_y_schema, SG_ERR_CONFIG, &raw, &doc, why, why_len)) !=
	    0)
		goto out;
	y = raw;
	if (strcmp(y->format, CLI_BUNDLE_FORMAT) != 0 || y->version != CLI_BUNDLE_VERSION) {
		sg_yaml_why(doc, why, why_len, "format",
		            "not a %s of version %d (format '%s', version %u)", CLI_BUNDLE_FORMAT,
		            CLI_BUNDLE_VERSION, y->format, (unsigned)y->version);
		r = SG_ERR_CONFIG;
		goto out;
	}
	for (i = 0; i < y->keys_count; i++) {
		snprintf(field, sizeof(field), "keys[%u]", i);
		if (!sg_wire_name_valid(y->keys[i].name, strlen(y->keys[i].name)) ||
		    !bundle_hex_valid(y->keys[i].fingerprint, 64)) {
			sg_yaml_why(
			    doc, why, why_len, field,
			    "a key needs a valid name and a SHA-256 fingerprint in lowercase hex");
			r = SG_ERR_CONFIG;
			goto out;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(y->keys[i].name, y->keys[j].name) == 0) {
				sg_yaml_why(doc, why, why_len, field, "key '%s' is listed twice",
				            y->keys[i].name);
				r = SG_ERR_CONFIG;
				goto out;
			}
		}
	}
	for (i = 0; i < y->files_count; i++) {
		snprintf(field, sizeof(field), "files[%u]", i);
		if ((kind = bundle_path_kind(y->files[i].path, &name)) < 0 ||
		    !bundle_hex_valid(y->files[i].sha256, 64)) {
			sg_yaml_why(
			    doc, why, why_len, field,
			    "'%s' is not DIR/NAME in roots, chains, tsa, crls or keys, or its "
			    "sha256 is not lowercase hex",
			    y->files[i].path);
			r = SG_ERR_CONFIG;
			goto out;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(y->files[i].path, y->files[j].path) == 0) {
				sg_yaml_why(doc, why, why_len, field, "'%s' is listed twice",
				            y->files[i].path);
				r = SG_ERR_CONFIG;
				goto out;
			}
		}
		if ((r = bundle_read(dir, y->files[i].path, y->files[i].sha256, &buf, &len, why,
		                     why_len)) != 0)
			goto out;
		snprintf(label, sizeof(label), "%s/%s", dir, y->files[i].path);
		switch (kind) {
		case BUNDLE_ROOTS:
			r = cli_trust_add_certs_mem(t, label, buf, len, 0, why, why_len);
			break;
		case BUNDLE_CHAINS:
		case BUNDLE_TSA:
			r = cli_trust_add_certs_mem(t, label, buf, len, 1, why, why_len);
			break;
		case BUNDLE_CRLS:
			r = cli_trust_add_crl_mem(t, label, buf, len, why, why_len);
			break;
		case BUNDLE_KEYS:
			r = bundle_key(t, doc, y, dir, name, buf, len, why, why_len);
			break;
		default:
			r = SG_ERR_INTERNAL;
			break;
		}
		free(buf);
		buf = NULL;
		if (r != 0)
			goto out;
	}
	for (i = 0; i < y->keys_count; i++) {
		if (cli_trust_key_by_name(t, y->keys[i].name) == NULL) {
			snprintf(field, sizeof(field), "keys[%u]", i);
			sg_yaml_why(doc, why, why_len, field, "key '%s' has no file keys/%s.pem",
			            y->keys[i].name, y->keys[i].name);
			r = SG_ERR_CONFIG;
			goto out;
		}
	}
	if ((r = bundle_scan(dir, y, why, why_len)) != 0)
		goto out;
	r = 0;
out:
	free(buf);
	sg_yaml_free(&bundle_y_schema, raw);
	sg_yaml_doc_free(doc);
	return r;
}
