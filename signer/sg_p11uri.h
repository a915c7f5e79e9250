/*
 * sg_p11uri: parser of the key references of the signer's configuration.
 *
 * Two forms are accepted:
 *   - an RFC 7512 "pkcs11:" URI with path attributes only (token,
 *     manufacturer, model, serial, object, id, type, library-manufacturer,
 *     library-description, library-version), percent-decoded; "id" is the
 *     raw CKA_ID bytes (percent-encoded in the URI);
 *   - "label:NAME", the object label NAME on the configured token.
 *
 * Refused: pin-value and pin-source (a secret never goes in a URI; the PIN
 * comes from its own 0600 file), query attributes, unknown attributes,
 * duplicate attributes, empty or over-long values, bad percent escapes and
 * decoded NUL bytes in text attributes.
 *
 * This module only parses: it never touches a token.
 */
#ifndef SG_P11URI_H
#define SG_P11URI_H

#include <stddef.h>

#define SG_P11URI_MAX 512        /* whole URI, bytes */
#define SG_P11URI_TEXT_MAX 64    /* decoded text attributes (token labels are 32 bytes) */
#define SG_P11URI_OBJECT_MAX 128 /* decoded object label */
#define SG_P11URI_ID_MAX 64      /* decoded CKA_ID bytes */

enum sg_p11uri_type {
	SG_P11URI_TYPE_ANY = 0, /* no type attribute */
	SG_P11URI_TYPE_PRIVATE,
	SG_P11URI_TYPE_PUBLIC,
	SG_P11URI_TYPE_CERT,
	SG_P11URI_TYPE_SECRET_KEY,
	SG_P11URI_TYPE_DATA,
};

/* Bits of sg_p11uri.have: which attributes were present. */
#define SG_P11URI_HAVE_TOKEN (1u << 0)
#define SG_P11URI_HAVE_MANUFACTURER (1u << 1)
#define SG_P11URI_HAVE_MODEL (1u << 2)
#define SG_P11URI_HAVE_SERIAL (1u << 3)
#define SG_P11URI_HAVE_OBJECT (1u << 4)
#define SG_P11URI_HAVE_ID (1u << 5)
#define SG_P11URI_HAVE_TYPE (1u << 6)
#define SG_P11URI_HAVE_LIB_MANUFACTURER (1u << 7)
#define SG_P11URI_HAVE_LIB_DESCRIPTION (1u << 8)
#define SG_P11URI_HAVE_LIB_VERSION (1u << 9)

struct sg_p11uri {
	unsigned have; /* SG_P11URI_HAVE_* */
	char token[SG_P11URI_TEXT_MAX + 1];
	char manufacturer[SG_P11URI_TEXT_MAX + 1];
	char model[SG_P11URI_TEXT_MAX + 1];
	char serial[SG_P11URI_TEXT_MAX + 1];
	char object[SG_P11URI_OBJECT_MAX + 1];
	unsigned char id[SG_P11URI_ID_MAX];
	size_t id_len;
	enum sg_p11uri_type type;
	char lib_manufacturer[SG_P11URI_TEXT_MAX + 1];
	char lib_description[SG_P11URI_TEXT_MAX + 1];
	unsigned lib_version_major, lib_version_minor; /* "M" or "M.m" */
};

/*
 * Parses s (NUL-terminated) into *out (fully overwritten).  "label:NAME"
 * yields have = SG_P11URI_HAVE_OBJECT with object = NAME (taken verbatim,
 * no percent-decoding).  Returns 0, SG_ERR_LIMIT (URI or a value too long),
 * SG_ERR_DENIED (pin-value / pin-source), SG_ERR_UNKNOWN_FIELD,
 * SG_ERR_DUPLICATE_FIELD, or SG_ERR_INVALID_ARG (anything else malformed).
 * why (SG_WHY_MAX bytes, may be NULL) names the offending attribute; it
 * never echoes a pin-value.
 */
int sg_p11uri_parse(const char *s, struct sg_p11uri *out, char *why);

/* The RFC 7512 spelling of a type ("private", ...); "" for SG_P11URI_TYPE_ANY. */
const char *sg_p11uri_type_name(enum sg_p11uri_type t);

#endif /* SG_P11URI_H */
