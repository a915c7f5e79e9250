/*
 * sg_yaml: strict loading of Signet's YAML files (policy, daemon
 * configuration, client configuration) on top of libcyaml.
 *
 * A file is read once into memory (at most SG_YAML_MAX_FILE bytes) and parsed
 * twice from the same bytes: first by a libyaml event pre-scan that records
 * the line of every mapping key and sequence entry and refuses what libcyaml
 * would accept or report badly (duplicate keys, aliases, anchors, several
 * documents, an empty file, a top level that is not a mapping, keys that are
 * not plain field names, deep nesting); then by libcyaml against the caller's
 * schema, with unknown keys refused (no CYAML_CFG_IGNORE_UNKNOWN_KEYS) and
 * aliases refused (CYAML_CFG_NO_ALIAS).  libcyaml's log is captured through
 * its log callback, at every level, and its backtrace is turned back into a
 * field path whose line the pre-scan knows.  Every error message has the form
 *
 *   FILE:LINE: field 'PATH': reason
 *
 * where PATH is a dotted field path with sequence indexes counted from 0, as
 * in "clients[1].curve_public_key".  Callers use the same index
 * (sg_yaml_why) to report their semantic checks with the same precision.
 *
 * Booleans: libcyaml's CYAML_BOOL reads any unknown word as true, so schemas
 * use SG_YAML_FIELD_BOOL, a strict enum of "true" and "false".
 *
 * This module owns no policy: it knows nothing of what the files mean.
 */
#ifndef SG_YAML_H
#define SG_YAML_H

#include <stdarg.h>
#include <stddef.h>

#include <cyaml/cyaml.h>

#define SG_YAML_MAX_FILE (1024 * 1024) /* bytes */
#define SG_YAML_MAX_DEPTH 32           /* nested mappings and sequences */
#define SG_YAML_KEY_MAX 64             /* length of a mapping key */

/* Values of a strict boolean field; UNSET when an optional field is absent. */
enum sg_yaml_bool {
	SG_YAML_BOOL_UNSET = 0,
	SG_YAML_BOOL_FALSE = 1,
	SG_YAML_BOOL_TRUE = 2,
};

/* The strings of a strict boolean: "false" and "true". */
extern const cyaml_strval_t sg_yaml_bool_strings[2];

/* A strict boolean mapping field stored in an enum sg_yaml_bool (an int). */
#define SG_YAML_FIELD_BOOL(key, flags, structure, member)                                          \
	CYAML_FIELD_ENUM(key, (flags) | CYAML_FLAG_STRICT, structure, member,                      \
	                 sg_yaml_bool_strings, 2)

/* The line index of a loaded file; kept while its contents are checked. */
struct sg_yaml_doc;

/*
 * Reads path (a regular file of at most SG_YAML_MAX_FILE bytes) and loads it
 * against schema, whose top level must be a CYAML_FLAG_POINTER mapping.
 * Returns 0 with *data (free with sg_yaml_free) and *doc (free with
 * sg_yaml_doc_free) set, or: SG_ERR_NOT_FOUND if path does not exist,
 * SG_ERR_IO if it cannot be opened or read or is not a regular file,
 * SG_ERR_NOMEM, or bad (the caller's code, e.g. SG_ERR_POLICY) for any
 * problem with the contents.  On failure *data and *doc are NULL and why
 * (why_len bytes, always NUL-terminated when why_len > 0) says
 * "FILE:LINE: field 'PATH': reason" or, when no field is involved,
 * "FILE[:LINE]: reason".
 */
int sg_yaml_load(const char *path, const cyaml_schema_value_t *schema, int bad, void **data,
                 struct sg_yaml_doc **doc, char *why, size_t why_len);

/* Frees data loaded with schema by sg_yaml_load (cyaml_free); NULL-safe. */
void sg_yaml_free(const cyaml_schema_value_t *schema, void *data);

/* NULL-safe. */
void sg_yaml_doc_free(struct sg_yaml_doc *doc);

/* The path the document was loaded from. */
const char *sg_yaml_doc_path(const struct sg_yaml_doc *doc);

/*
 * The 1-based line of field (a path as above: "" is the top-level mapping,
 * "keys[2]" a sequence entry, "keys[2].uri" a key), or 0 if the file has no
 * such field.
 */
unsigned sg_yaml_line(const struct sg_yaml_doc *doc, const char *field);

/*
 * Writes "FILE:LINE: field 'FIELD': " and the formatted reason into why.
 * When field is absent from the file, the line of its nearest present parent
 * is used (so a missing field points at the mapping that lacks it).
 */
void sg_yaml_why(const struct sg_yaml_doc *doc, char *why, size_t why_len, const char *field,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Resolves a path named in the file at doc_path: an absolute path is copied,
 * a relative one is joined to the canonical (realpath) directory of doc_path.
 * Returns 0 and *out (malloc'ed), SG_ERR_INVALID_ARG for an empty path or a
 * result longer than SG_YAML_PATH_MAX, SG_ERR_IO if the directory cannot be
 * resolved, or SG_ERR_NOMEM.
 */
#define SG_YAML_PATH_MAX 4096
int sg_yaml_path_resolve(const char *doc_path, const char *p, char **out);

/*
 * Decodes a CURVE key written in Z85: exactly 40 characters of the Z85
 * alphabet giving 32 bytes.  Returns 0 or SG_ERR_BAD_VALUE.
 */
int sg_yaml_z85_key(const char *z85, unsigned char out[32]);

/* 1 if s starts with "tcp://" or "ipc://" followed by at least one character. */
int sg_yaml_endpoint_valid(const char *s);

#endif /* SG_YAML_H */
