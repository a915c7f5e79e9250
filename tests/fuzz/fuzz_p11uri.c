/*
 * fuzz_p11uri: sg_p11uri_parse(), the RFC 7512 / "label:" parser of key
 * references, on arbitrary strings (the input up to its first NUL).
 *
 * Invariants checked:
 *  - the result is 0 or one of the codes the header lists; why is a
 *    terminated string; when a pin-value is refused, why does not depend
 *    on the value (the same input with the value changed gives the same why);
 *  - a parsed URI has only known attribute bits, terminated text fields
 *    within their caps, an id of 1..SG_P11URI_ID_MAX bytes when present,
 *    a known type;
 *  - round trip: the parsed attributes, written back as a canonical
 *    pkcs11: URI (every byte outside the unreserved set percent-encoded),
 *    parse again to the same struct, unless that spelling is over
 *    SG_P11URI_MAX bytes.
 */
#include "fuzz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg_err.h"
#include "sg_p11uri.h"
#include "sg_wire.h"

#define SG_FUZZ_URI_IN_MAX 2048
#define SG_FUZZ_URI_OUT_MAX 4096

struct sg_out {
	char buf[SG_FUZZ_URI_OUT_MAX];
	size_t len;
	int first;
};

static void
sg_put(struct sg_out *o, const char *s, size_t n)
{
	SG_FUZZ_CHECK(o->len + n < sizeof(o->buf));
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* Appends ";name=" (no ';' first) and v percent-encoded. */
static void
sg_put_attr(struct sg_out *o, const char *name, const unsigned char *v, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3];
	size_t i;

	if (!o->first)
		sg_put(o, ";", 1);
	o->first = 0;
	sg_put(o, name, strlen(name));
	sg_put(o, "=", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = v[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			sg_put(o, (const char *)&c, 1);
		} else {
			e[0] = '%';
			e[1] = hex[c >> 4];
			e[2] = hex[c & 15];
			sg_put(o, e, 3);
		}
	}
}

static void
sg_put_text(struct sg_out *o, unsigned have, unsigned bit, const char *name, const char *v)
{
	if (have & bit)
		sg_put_attr(o, name, (const unsigned char *)v, strlen(v));
}

static void
sg_write(const struct sg_p11uri *u, struct sg_out *o)
{
	char ver[16];
	const char *tn;

	o->len = 0;
	o->first = 1;
	sg_put(o, "pkcs11:", 7);
	sg_put_text(o, u->have, SG_P11URI_HAVE_TOKEN, "token", u->token);
	sg_put_text(o, u->have, SG_P11URI_HAVE_MANUFACTURER, "manufacturer", u->manufacturer);
	sg_put_text(o, u->have, SG_P11URI_HAVE_MODEL, "model", u->model);
	sg_put_text(o, u->have, SG_P11URI_HAVE_SERIAL, "serial", u->serial);
	sg_put_text(o, u->have, SG_P11URI_HAVE_OBJECT, "object", u->object);
	if (u->have & SG_P11URI_HAVE_ID)
		sg_put_attr(o, "id", u->id, u->id_len);
	if (u->have & SG_P11URI_HAVE_TYPE) {
		tn = sg_p11uri_type_name(u->type);
		sg_put_attr(o, "type", (const unsigned char *)tn, strlen(tn));
	}
	sg_put_text(o, u->have, SG_P11URI_HAVE_LIB_MANUFACTURER, "library-manufacturer",
	            u->lib_manufacturer);
	sg_put_text(o, u->have, SG_P11URI_HAVE_LIB_DESCRIPTION, "library-description",
	            u->lib_description);
	if (u->have & SG_P11URI_HAVE_LIB_VERSION) {
		snprintf(ver, sizeof(ver), "%u.%u", u->lib_version_major, u->lib_version_minor);
		sg_put_attr(o, "library-version", (const unsigned char *)ver, strlen(ver));
	}
}

static int
sg_uri_equal(const struct sg_p11uri *a, const struct sg_p11uri *b)
{
	return a->have == b->have && strcmp(a->token, b->token) == 0 &&
	       strcmp(a->manufacturer, b->manufacturer) == 0 && strcmp(a->model, b->model) == 0 &&
	       strcmp(a->serial, b->serial) == 0 && strcmp(a->object, b->object) == 0 &&
	       a->id_len == b->id_len && memcmp(a->id, b->id, a->id_len) == 0 &&
	       a->type == b->type && strcmp(a->lib_manufacturer, b->lib_manufacturer) == 0 &&
	       strcmp(a->lib_description, b->lib_description) == 0 &&
	       a->lib_version_major == b->lib_version_major &&
	       a->lib_version_minor == b->lib_version_minor;
}

/* 1 if s is terminated within n bytes and, when have, non-empty. */
static int
sg_text_ok(const char *s, size_t n, int have)
{
	size_t len = strnlen(s, n);

	return len < n && (have ? len > 0 : len == 0);
}

/*
 * Copies s into out with the value of its first "pin-value=" overwritten
 * (each byte changed); 0 if s has no such value.
 */
static int
sg_pin_blind(const char *s, char *out, size_t out_len)
{
	const char *p = strstr(s, "pin-value=");
	size_t i, off, n;

	if (p == NULL || strlen(s) >= out_len)
		return 0;
	memcpy(out, s, strlen(s) + 1);
	off = (size_t)(p - s) + strlen("pin-value=");
	n = strcspn(s + off, ";?&");
	for (i = 0; i < n; i++)
		out[off + i] = out[off + i] == 'Q' ? 'R' : 'Q';
	return n > 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sg_p11uri a, b;
	static struct sg_out o;
	char in[SG_FUZZ_URI_IN_MAX + 1], blind[SG_FUZZ_URI_IN_MAX + 1];
	char why[SG_WHY_MAX], why2[SG_WHY_MAX];
	const unsigned known = (SG_P11URI_HAVE_LIB_VERSION << 1) - 1;
	int r;

	if (size > SG_FUZZ_URI_IN_MAX)
		size = SG_FUZZ_URI_IN_MAX;
	memcpy(in, data, size);
	in[size] = '\0';
	memset(why, 'x', sizeof(why));
	r = sg_p11uri_parse(in, &a, why);
	SG_FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
	SG_FUZZ_CHECK(r == 0 || r == SG_ERR_LIMIT || r == SG_ERR_DENIED ||
	              r == SG_ERR_UNKNOWN_FIELD || r == SG_ERR_DUPLICATE_FIELD ||
	              r == SG_ERR_INVALID_ARG);
	if (r == SG_ERR_DENIED && sg_pin_blind(in, blind, sizeof(blind))) {
		/* A PIN was recognised: the message must not depend on its value. */
		SG_FUZZ_CHECK(sg_p11uri_parse(blind, &b, why2) == SG_ERR_DENIED);
		SG_FUZZ_CHECK(strcmp(why, why2) == 0);
	}
	if (r != 0)
		return 0;

	SG_FUZZ_CHECK((a.have & ~known) == 0);
	SG_FUZZ_CHECK(sg_text_ok(a.token, sizeof(a.token), a.have & SG_P11URI_HAVE_TOKEN));
	SG_FUZZ_CHECK(sg_text_ok(a.manufacturer, sizeof(a.manufacturer),
	                         a.have & SG_P11URI_HAVE_MANUFACTURER));
	SG_FUZZ_CHECK(sg_text_ok(a.model, sizeof(a.model), a.have & SG_P11URI_HAVE_MODEL));
	SG_FUZZ_CHECK(sg_text_ok(a.serial, sizeof(a.serial), a.have & SG_P11URI_HAVE_SERIAL));
	SG_FUZZ_CHECK(sg_text_ok(a.object, sizeof(a.object), a.have & SG_P11URI_HAVE_OBJECT));
	SG_FUZZ_CHECK(sg_text_ok(a.lib_manufacturer, sizeof(a.lib_manufacturer),
	                         a.have & SG_P11URI_HAVE_LIB_MANUFACTURER));
	SG_FUZZ_CHECK(sg_text_ok(a.lib_description, sizeof(a.lib_description),
	                         a.have & SG_P11URI_HAVE_LIB_DESCRIPTION));
	SG_FUZZ_CHECK((a.have & SG_P11URI_HAVE_ID) ? (a.id_len >= 1 && a.id_len <= SG_P11URI_ID_MAX)
	                                           : a.id_len == 0);
	SG_FUZZ_CHECK((a.have & SG_P11URI_HAVE_TYPE)
	                  ? (a.type > SG_P11URI_TYPE_ANY && a.type <= SG_P11URI_TYPE_DATA)
	                  : a.type == SG_P11URI_TYPE_ANY);
	SG_FUZZ_CHECK(a.lib_version_major <= 255 && a.lib_version_minor <= 255);

	sg_write(&a, &o);
	if (o.len > SG_P11URI_MAX)
		return 0;
	r = sg_p11uri_parse(o.buf, &b, why);
	SG_FUZZ_CHECK(r == 0);
	SG_FUZZ_CHECK(sg_uri_equal(&a, &b));
	return 0;
}
