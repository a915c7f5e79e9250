/* Unit tests of sg_p11uri: the RFC 7512 subset and label:NAME. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sg_err.h"
#include "sg_p11uri.h"
#include "sg_wire.h"

static void
test_full_uri(void **state)
{
	struct sg_p11uri u;
	char why[SG_WHY_MAX];

	(void)state;
	assert_int_equal(
	    sg_p11uri_parse("pkcs11:token=signet%20prod;manufacturer=SoftHSM%20project;"
	                    "model=SoftHSM%20v2;serial=9a52;object=ci-release;"
	                    "id=%01%02%ff;type=private;library-manufacturer=SoftHSM;"
	                    "library-description=Implementation;library-version=2.6",
	                    &u, why),
	    0);
	assert_int_equal(u.have, SG_P11URI_HAVE_TOKEN | SG_P11URI_HAVE_MANUFACTURER |
	                             SG_P11URI_HAVE_MODEL | SG_P11URI_HAVE_SERIAL |
	                             SG_P11URI_HAVE_OBJECT | SG_P11URI_HAVE_ID |
	                             SG_P11URI_HAVE_TYPE | SG_P11URI_HAVE_LIB_MANUFACTURER |
	                             SG_P11URI_HAVE_LIB_DESCRIPTION | SG_P11URI_HAVE_LIB_VERSION);
	assert_string_equal(u.token, "signet prod");
	assert_string_equal(u.manufacturer, "SoftHSM project");
	assert_string_equal(u.model, "SoftHSM v2");
	assert_string_equal(u.serial, "9a52");
	assert_string_equal(u.object, "ci-release");
	assert_int_equal(u.id_len, 3);
	assert_memory_equal(u.id, "\x01\x02\xff", 3);
	assert_int_equal(u.type, SG_P11URI_TYPE_PRIVATE);
	assert_string_equal(u.lib_manufacturer, "SoftHSM");
	assert_string_equal(u.lib_description, "Implementation");
	assert_int_equal(u.lib_version_major, 2);
	assert_int_equal(u.lib_version_minor, 6);
	assert_string_equal(sg_p11uri_type_name(u.type), "private");
}

static void
test_minimal_and_label(void **state)
{
	struct sg_p11uri u;

	(void)state;
	assert_int_equal(sg_p11uri_parse("pkcs11:object=ec256", &u, NULL), 0);
	assert_int_equal(u.have, SG_P11URI_HAVE_OBJECT);
	assert_string_equal(u.object, "ec256");
	/* the scheme is case-insensitive (RFC 3986) */
	assert_int_equal(sg_p11uri_parse("PKCS11:id=%03", &u, NULL), 0);
	assert_int_equal(u.have, SG_P11URI_HAVE_ID);
	assert_int_equal(u.id_len, 1);
	assert_int_equal(u.id[0], 3);
	assert_int_equal(sg_p11uri_parse("pkcs11:", &u, NULL), 0);
	assert_int_equal(u.have, 0);
	/* label: takes the name verbatim, '%' included */
	assert_int_equal(sg_p11uri_parse("label:my key%20", &u, NULL), 0);
	assert_int_equal(u.have, SG_P11URI_HAVE_OBJECT);
	assert_string_equal(u.object, "my key%20");
	assert_int_equal(sg_p11uri_parse("pkcs11:type=cert;object=a", &u, NULL), 0);
	assert_int_equal(u.type, SG_P11URI_TYPE_CERT);
	assert_int_equal(sg_p11uri_parse("pkcs11:library-version=3", &u, NULL), 0);
	assert_int_equal(u.lib_version_major, 3);
	assert_int_equal(u.lib_version_minor, 0);
	/* literal reserved characters allowed in a path value */
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a:b@c(d)+e,f", &u, NULL), 0);
	assert_string_equal(u.object, "a:b@c(d)+e,f");
	/* a control character is refused whether written as it is or percent-encoded */
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a%07b", &u, NULL), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:token=a%7fb", &u, NULL), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("label:a\x07" "b", &u, NULL), SG_ERR_INVALID_ARG);
	/* ...but an id is binary and may hold any byte */
	assert_int_equal(sg_p11uri_parse("pkcs11:id=%00%07%7f", &u, NULL), 0);
}

static void
test_pin_refused(void **state)
{
	struct sg_p11uri u;
	char why[SG_WHY_MAX];

	(void)state;
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a?pin-value=s3cr3tPIN", &u, why),
	                 SG_ERR_DENIED);
	assert_null(strstr(why, "s3cr3tPIN"));
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a;pin-value=s3cr3tPIN", &u, why),
	                 SG_ERR_DENIED);
	assert_null(strstr(why, "s3cr3tPIN"));
	assert_int_equal(
	    sg_p11uri_parse("pkcs11:object=a?module-name=x&pin-source=file:/p", &u, why),
	    SG_ERR_DENIED);
	/* before anything else, even if the path is malformed */
	assert_int_equal(sg_p11uri_parse("pkcs11:bogus;;pin-value=1234", &u, why), SG_ERR_DENIED);
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a?pin-value", &u, why), SG_ERR_DENIED);
}

static void
test_refused_shapes(void **state)
{
	struct sg_p11uri u;
	char why[SG_WHY_MAX];

	(void)state;
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a?module-path=/tmp/evil.so", &u, why),
	                 SG_ERR_UNKNOWN_FIELD);
	assert_int_equal(sg_p11uri_parse("pkcs11:slot-id=3", &u, why), SG_ERR_UNKNOWN_FIELD);
	assert_non_null(strstr(why, "slot-id"));
	assert_int_equal(sg_p11uri_parse("pkcs11:Object=a", &u, why), SG_ERR_UNKNOWN_FIELD);
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a;object=b", &u, why),
	                 SG_ERR_DUPLICATE_FIELD);
	assert_int_equal(sg_p11uri_parse("pkcs11:id=%01;token=t;id=%02", &u, why),
	                 SG_ERR_DUPLICATE_FIELD);
	assert_int_equal(sg_p11uri_parse("pkcs11:object=", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:id=", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:object", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:=a", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a;", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a;;id=%01", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a%2", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a%", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a%zz", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a b", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a\"b", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:object=\xc3\xa9", &u, why), SG_ERR_INVALID_ARG);
	/* decoded NUL and invalid UTF-8 in text attributes */
	assert_int_equal(sg_p11uri_parse("pkcs11:object=a%00b", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:token=%ff", &u, why), SG_ERR_INVALID_ARG);
	/* but id is bytes */
	assert_int_equal(sg_p11uri_parse("pkcs11:id=%00%ff", &u, why), 0);
	assert_int_equal(u.id_len, 2);
	assert_int_equal(sg_p11uri_parse("pkcs11:type=secret", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:library-version=1.2.3", &u, why),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:library-version=256", &u, why),
	                 SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("pkcs11:library-version=.1", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("file:///etc/passwd", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("ec256", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("label:", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("label:a\tb", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse("label:\xff", &u, why), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_p11uri_parse(NULL, &u, why), SG_ERR_INVALID_ARG);
}

static void
test_limits(void **state)
{
	struct sg_p11uri u;
	char buf[SG_P11URI_MAX + 64];
	size_t i, n;

	(void)state;
	/* token: exactly SG_P11URI_TEXT_MAX bytes fit, one more does not */
	n = (size_t)snprintf(buf, sizeof(buf), "pkcs11:token=");
	for (i = 0; i < SG_P11URI_TEXT_MAX; i++)
		buf[n++] = 't';
	buf[n] = '\0';
	assert_int_equal(sg_p11uri_parse(buf, &u, NULL), 0);
	assert_int_equal(strlen(u.token), SG_P11URI_TEXT_MAX);
	buf[n++] = 't';
	buf[n] = '\0';
	assert_int_equal(sg_p11uri_parse(buf, &u, NULL), SG_ERR_LIMIT);

	/* id: SG_P11URI_ID_MAX bytes fit, one more does not */
	n = (size_t)snprintf(buf, sizeof(buf), "pkcs11:id=");
	for (i = 0; i < SG_P11URI_ID_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%%%02x", (unsigned)i);
	assert_int_equal(sg_p11uri_parse(buf, &u, NULL), 0);
	assert_int_equal(u.id_len, SG_P11URI_ID_MAX);
	assert_int_equal(u.id[SG_P11URI_ID_MAX - 1], SG_P11URI_ID_MAX - 1);
	snprintf(buf + n, sizeof(buf) - n, "%%aa");
	assert_int_equal(sg_p11uri_parse(buf, &u, NULL), SG_ERR_LIMIT);

	/* object: SG_P11URI_OBJECT_MAX fits, one more does not */
	n = (size_t)snprintf(buf, sizeof(buf), "label:");
	for (i = 0; i < SG_P11URI_OBJECT_MAX; i++)
		buf[n++] = 'o';
	buf[n] = '\0';
	assert_int_equal(sg_p11uri_parse(buf, &u, NULL), 0);
	buf[n++] = 'o';
	buf[n] = '\0';
	assert_int_equal(sg_p11uri_parse(buf, &u, NULL), SG_ERR_LIMIT);

	/* whole URI: SG_P11URI_MAX bytes at most */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "pkcs11:object=", 14);
	buf[SG_P11URI_MAX + 1] = '\0';
	assert_int_equal(sg_p11uri_parse(buf, &u, NULL), SG_ERR_LIMIT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_uri),    cmocka_unit_test(test_minimal_and_label),
	    cmocka_unit_test(test_pin_refused), cmocka_unit_test(test_refused_shapes),
	    cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
