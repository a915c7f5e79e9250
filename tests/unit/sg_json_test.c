/* Unit tests of the JSON string writer of the tools. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sg_json.h"

/* The JSON text sg_json_str writes for n bytes at s (caller frees). */
static char *
render(const char *s, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	sg_json_str(f, s, n);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void
check(const char *s, size_t n, const char *want)
{
	char *got = render(s, n);

	assert_string_equal(got, want);
	free(got);
}

static void
test_escapes(void **state)
{
	check("plain", 5, "\"plain\"");
	check("", 0, "\"\"");
	check("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	check("l1\nl2\r\tx", 8, "\"l1\\nl2\\r\\tx\"");
	check("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
	/* an embedded NUL is escaped, not a terminator */
	check("a\0b", 3, "\"a\\u0000b\"");
}

static void
test_utf8(void **state)
{
	/* valid UTF-8 is copied as it is */
	check("h\xc3\xa9", 3, "\"h\xc3\xa9\"");
	/* a string that is not UTF-8 has its high bytes escaped */
	check("h\xe9x", 3, "\"h\\u00e9x\"");
	check("\xc3", 1, "\"\\u00c3\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
