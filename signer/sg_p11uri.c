/* sg_p11uri: see sg_p11uri.h. */
#include "sg_p11uri.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sg_err.h"
#include "sg_wire.h"

#define SG_P11URI_SCHEME "pkcs11:"
#define SG_P11URI_LABEL "label:"

static const char *const sg_p11uri_type_names[] = {"",     "private",    "public",
                                                   "cert", "secret-key", "data"};

const char *
sg_p11uri_type_name(enum sg_p11uri_type t)
{
	switch (t) {
	case SG_P11URI_TYPE_ANY:
	case SG_P11URI_TYPE_PRIVATE:
	case SG_P11URI_TYPE_PUBLIC:
	case SG_P11URI_TYPE_CERT:
	case SG_P11URI_TYPE_SECRET_KEY:
	case SG_P11URI_TYPE_DATA:
		return sg_p11uri_type_names[t];
	default:
		return "";
	}
}

static int
sg_p11uri_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 7512 pk11-pchar without pct-encoded: unreserved and the reserved
 * characters a path value may carry literally. */
static int
sg_p11uri_pchar(int c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("-._~:[]@!$'()*+,=&/", c) != NULL;
}

/*
 * Percent-decodes v[0..len) into out (cap bytes).  Returns the decoded
 * length, -1 for a bad character or escape, -2 if it does not fit.
 */
static long
sg_p11uri_decode(const char *v, size_t len, unsigned char *out, size_t cap)
{
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '%') {
			if (i + 2 >= len)
				return -1;
			hi = sg_p11uri_hex((unsigned char)v[i + 1]);
			lo = sg_p11uri_hex((unsigned char)v[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (!sg_p11uri_pchar(c)) {
			return -1;
		}
		if (n >= cap)
			return -2;
		out[n++] = c;
	}
	return (long)n;
}

/* 1 if the n bytes at p hold an ASCII control character (NUL included). */
static int
sg_p11uri_has_control(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 1;
	}
	return 0;
}

/* Decodes a text attribute: valid UTF-8 without control characters, 1..cap bytes. */
static int
sg_p11uri_text(const char *name, const char *v, size_t len, char *out, size_t cap, char *why)
{
	long n;

	n = sg_p11uri_decode(v, len, (unsigned char *)out, cap);
	if (n == -2) {
		sg_whyf(why, SG_WHY_MAX, "pkcs11 URI: attribute %s is too long", name);
		return SG_ERR_LIMIT;
	}
	if (n < 0) {
		sg_whyf(why, SG_WHY_MAX, "pkcs11 URI: bad character or escape in %s", name);
		return SG_ERR_INVALID_ARG;
	}
	if (n == 0 || sg_p11uri_has_control((const unsigned char *)out, (size_t)n) ||
	    !sg_wire_utf8_valid((const unsigned char *)out, (size_t)n)) {
		sg_whyf(
		    why, SG_WHY_MAX,
		    "pkcs11 URI: attribute %s is empty, not valid UTF-8 or has a control character",
		    name);
		return SG_ERR_INVALID_ARG;
	}
	out[n] = '\0';
	return 0;
}

static int
sg_p11uri_version(const char *v, size_t len, unsigned *major, unsigned *minor)
{
	unsigned part[2] = {0, 0};
	size_t i, digits = 0;
	int k = 0;

	for (i = 0; i < len; i++) {
		if (v[i] == '.' && k == 0 && digits > 0) {
			k = 1;
			digits = 0;
			continue;
		}
		if (v[i] < '0' || v[i] > '9' || digits >= 3)
			return SG_ERR_INVALID_ARG;
		part[k] = part[k] * 10 + (unsigned)(v[i] - '0');
		digits++;
	}
	if (digits == 0 || part[0] > 255 || part[1] > 255)
		return SG_ERR_INVALID_ARG;
	*major = part[0];
	*minor = part[1];
	return 0;
}

struct sg_p11uri_attr {
	const char *name;
	unsigned bit;
};

static const struct sg_p11uri_attr sg_p11uri_attrs[] = {
    {"token", SG_P11URI_HAVE_TOKEN},
    {"manufacturer", SG_P11URI_HAVE_MANUFACTURER},
    {"model", SG_P11URI_HAVE_MODEL},
    {"serial", SG_P11URI_HAVE_SERIAL},
    {"object", SG_P11URI_HAVE_OBJECT},
    {"id", SG_P11URI_HAVE_ID},
    {"type", SG_P11URI_HAVE_TYPE},
    {"library-manufacturer", SG_P11URI_HAVE_LIB_MANUFACTURER},
    {"library-description", SG_P11URI_HAVE_LIB_DESCRIPTION},
    {"library-version", SG_P11URI_HAVE_LIB_VERSION},
};

/* Stores one path attribute name=v[0..len). */
static int
sg_p11uri_attr(struct sg_p11uri *u, unsigned bit, const char *name, const char *v, size_t len,
               char *why)
{
	unsigned char tmp[SG_P11URI_TEXT_MAX];
	long n;
	size_t t;

	switch (bit) {
	case SG_P11URI_HAVE_TOKEN:
		return sg_p11uri_text(name, v, len, u->token, SG_P11URI_TEXT_MAX, why);
	case SG_P11URI_HAVE_MANUFACTURER:
		return sg_p11uri_text(name, v, len, u->manufacturer, SG_P11URI_TEXT_MAX, why);
	case SG_P11URI_HAVE_MODEL:
		return sg_p11uri_text(name, v, len, u->model, SG_P11URI_TEXT_MAX, why);
	case SG_P11URI_HAVE_SERIAL:
		return sg_p11uri_text(name, v, len, u->serial, SG_P11URI_TEXT_MAX, why);
	case SG_P11URI_HAVE_OBJECT:
		return sg_p11uri_text(name, v, len, u->object, SG_P11URI_OBJECT_MAX, why);
	case SG_P11URI_HAVE_LIB_MANUFACTURER:
		return sg_p11uri_text(name, v, len, u->lib_manufacturer, SG_P11URI_TEXT_MAX, why);
	case SG_P11URI_HAVE_LIB_DESCRIPTION:
		return sg_p11uri_text(name, v, len, u->lib_description, SG_P11URI_TEXT_MAX, why);
	case SG_P11URI_HAVE_ID:
		n = sg_p11uri_decode(v, len, u->id, sizeof(u->id));
		if (n == -2) {
			sg_whyf(why, SG_WHY_MAX, "pkcs11 URI: attribute %s is too long", name);
			return SG_ERR_LIMIT;
		}
		if (n <= 0) {
			sg_whyf(why, SG_WHY_MAX, "pkcs11 URI: bad or empty value of %s", name);
			return SG_ERR_INVALID_ARG;
		}
		u->id_len = (size_t)n;
		return 0;
	case SG_P11URI_HAVE_TYPE:
		n = sg_p11uri_decode(v, len, tmp, sizeof(tmp) - 1);
		if (n <= 0) {
			sg_whyf(why, SG_WHY_MAX, "pkcs11 URI: bad value of %s", name);
			return SG_ERR_INVALID_ARG;
		}
		for (t = SG_P11URI_TYPE_PRIVATE; t <= SG_P11URI_TYPE_DATA; t++) {
			if (strlen(sg_p11uri_type_names[t]) == (size_t)n &&
			    memcmp(sg_p11uri_type_names[t], tmp, (size_t)n) == 0) {
				u->type = (enum sg_p11uri_type)t;
				return 0;
			}
		}
		sg_whyf(why, SG_WHY_MAX, "pkcs11 URI: unknown %s value", name);
		return SG_ERR_INVALID_ARG;
	case SG_P11URI_HAVE_LIB_VERSION:
		if (sg_p11uri_version(v, len, &u->lib_version_major, &u->lib_version_minor) != 0) {
			sg_whyf(why, SG_WHY_MAX, "pkcs11 URI: bad value of %s", name);
			return SG_ERR_INVALID_ARG;
		}
		return 0;
	default:
		sg_whyf(why, SG_WHY_MAX, "pkcs11 URI: internal error at %s", name);
		return SG_ERR_INTERNAL;
	}
}

static int
sg_p11uri_is_pin_attr(const char *a, size_t alen)
{
	return (alen == 9 && memcmp(a, "pin-value", 9) == 0) ||
	       (alen == 10 && memcmp(a, "pin-source", 10) == 0);
}

/* 1 if any attribute of the path or the query is pin-value or pin-source. */
static int
sg_p11uri_has_pin(const char *p)
{
	size_t seg, name;

	while (*p != '\0') {
		seg = strcspn(p, ";?&");
		name = strcspn(p, "=;?&");
		if (sg_p11uri_is_pin_attr(p, name < seg ? name : seg))
			return 1;
		p += seg;
		if (*p != '\0')
			p++;
	}
	return 0;
}

int
sg_p11uri_parse(const char *s, struct sg_p11uri *out, char *why)
{
	struct sg_p11uri u;
	const char *p, *end, *seg_end, *eq, *q;
	size_t len, i, nlen;
	int r;

	memset(&u, 0, sizeof(u));
	if (why != NULL)
		why[0] = '\0';
	if (s == NULL || out == NULL) {
		sg_whyf(why, SG_WHY_MAX, "%s", "pkcs11 URI: missing");
		return SG_ERR_INVALID_ARG;
	}
	len = strnlen(s, SG_P11URI_MAX + 1);
	if (len > SG_P11URI_MAX) {
		sg_whyf(why, SG_WHY_MAX, "%s", "key URI is too long");
		return SG_ERR_LIMIT;
	}

	if (strncmp(s, SG_P11URI_LABEL, strlen(SG_P11URI_LABEL)) == 0) {
		p = s + strlen(SG_P11URI_LABEL);
		nlen = len - strlen(SG_P11URI_LABEL);
		if (nlen == 0 || nlen > SG_P11URI_OBJECT_MAX) {
			sg_whyf(why, SG_WHY_MAX, "%s", "label: name is empty or too long");
			return nlen == 0 ? SG_ERR_INVALID_ARG : SG_ERR_LIMIT;
		}
		if (!sg_wire_utf8_valid((const unsigned char *)p, nlen)) {
			sg_whyf(why, SG_WHY_MAX, "%s", "label: name is not valid UTF-8");
			return SG_ERR_INVALID_ARG;
		}
		if (sg_p11uri_has_control((const unsigned char *)p, nlen)) {
			sg_whyf(why, SG_WHY_MAX, "%s", "label: name has a control character");
			return SG_ERR_INVALID_ARG;
		}
		memcpy(u.object, p, nlen);
		u.have = SG_P11URI_HAVE_OBJECT;
		*out = u;
		return 0;
	}

	if (strncasecmp(s, SG_P11URI_SCHEME, strlen(SG_P11URI_SCHEME)) != 0) {
		sg_whyf(why, SG_WHY_MAX, "%s", "key reference is neither pkcs11: nor label:");
		return SG_ERR_INVALID_ARG;
	}
	p = s + strlen(SG_P11URI_SCHEME);
	if (sg_p11uri_has_pin(p)) {
		sg_whyf(why, SG_WHY_MAX, "%s", "pkcs11 URI: a PIN must not be given in a URI");
		return SG_ERR_DENIED;
	}
	/* Query attributes (module-name, module-path, ...) would let a key
	 * reference choose the module: the allowlisted module is the only one. */
	q = strchr(p, '?');
	if (q != NULL) {
		sg_whyf(why, SG_WHY_MAX, "%s", "pkcs11 URI: query attributes are not accepted");
		return SG_ERR_UNKNOWN_FIELD;
	}
	end = s + len;

	while (p < end) {
		seg_end = memchr(p, ';', (size_t)(end - p));
		if (seg_end == NULL)
			seg_end = end;
		eq = memchr(p, '=', (size_t)(seg_end - p));
		if (eq == NULL || eq == p) {
			sg_whyf(why, SG_WHY_MAX, "%s",
			        "pkcs11 URI: attribute without a name or '='");
			return SG_ERR_INVALID_ARG;
		}
		nlen = (size_t)(eq - p);
		for (i = 0; i < sizeof(sg_p11uri_attrs) / sizeof(sg_p11uri_attrs[0]); i++) {
			if (strlen(sg_p11uri_attrs[i].name) == nlen &&
			    memcmp(sg_p11uri_attrs[i].name, p, nlen) == 0)
				break;
		}
		if (i == sizeof(sg_p11uri_attrs) / sizeof(sg_p11uri_attrs[0])) {
			if (why != NULL)
				snprintf(why, SG_WHY_MAX, "pkcs11 URI: unknown attribute '%.*s'",
				         (int)(nlen > 32 ? 32 : nlen), p);
			return SG_ERR_UNKNOWN_FIELD;
		}
		if (u.have & sg_p11uri_attrs[i].bit) {
			sg_whyf(why, SG_WHY_MAX, "pkcs11 URI: attribute %s appears twice",
			        sg_p11uri_attrs[i].name);
			return SG_ERR_DUPLICATE_FIELD;
		}
		if ((r = sg_p11uri_attr(&u, sg_p11uri_attrs[i].bit, sg_p11uri_attrs[i].name, eq + 1,
		                        (size_t)(seg_end - eq - 1), why)) != 0)
			return r;
		u.have |= sg_p11uri_attrs[i].bit;
		if (seg_end == end)
			break;
		p = seg_end + 1;
		if (p == end) {
			sg_whyf(why, SG_WHY_MAX, "%s", "pkcs11 URI: empty attribute after ';'");
			return SG_ERR_INVALID_ARG;
		}
	}
	*out = u;
	return 0;
}
