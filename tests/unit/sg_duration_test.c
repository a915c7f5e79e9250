/* Unit tests of sg_duration: the spellings taken, every other one refused, the cap exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sg_duration.h"
#include "sg_err.h"

#define CAP ((uint64_t)1 << 40)

static void
test_good(void **state)
{
	uint64_t v = 1;

	(void)state;
	assert_int_equal(sg_duration_parse("90s", CAP, &v), 0);
	assert_true(v == 90);
	assert_int_equal(sg_duration_parse("30m", CAP, &v), 0);
	assert_true(v == 1800);
	assert_int_equal(sg_duration_parse("24h", CAP, &v), 0);
	assert_true(v == 86400);
	assert_int_equal(sg_duration_parse("7d", CAP, &v), 0);
	assert_true(v == 604800);
	assert_int_equal(sg_duration_parse("1h30m", CAP, &v), 0);
	assert_true(v == 5400);
	assert_int_equal(sg_duration_parse("1d1h1m1s", CAP, &v), 0);
	assert_true(v == 90061);
	/* the same unit twice adds up; leading zeros are digits */
	assert_int_equal(sg_duration_parse("1m1m", CAP, &v), 0);
	assert_true(v == 120);
	assert_int_equal(sg_duration_parse("007s", CAP, &v), 0);
	assert_true(v == 7);
	/* zero is a duration: whether it is allowed is the caller's */
	assert_int_equal(sg_duration_parse("0s", CAP, &v), 0);
	assert_true(v == 0);
}

static void
test_bad(void **state)
{
	static const char *const bad[] = {
	    "",    "s",   "10",   "10x", "10S", "1h30", " 1h", "1h ",
	    "-1s", "+1s", "1.5h", "h1",  "1hh", "1 h",  "1w",
	};
	uint64_t v = 77;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sg_duration_parse(bad[i], CAP, &v), SG_ERR_BAD_VALUE);
		assert_true(v == 77);
	}
	assert_int_equal(sg_duration_parse(NULL, CAP, &v), SG_ERR_BAD_VALUE);
	assert_int_equal(sg_duration_parse("1s", CAP, NULL), SG_ERR_BAD_VALUE);
}

static void
test_cap(void **state)
{
	uint64_t v = 0;

	(void)state;
	/* the cap itself is taken, one second more is not, as a number or as a sum */
	assert_int_equal(sg_duration_parse("1099511627776s", CAP, &v), 0);
	assert_true(v == CAP);
	assert_int_equal(sg_duration_parse("1099511627777s", CAP, &v), SG_ERR_BAD_VALUE);
	assert_int_equal(sg_duration_parse("1099511627775s1s", CAP, &v), 0);
	assert_true(v == CAP);
	assert_int_equal(sg_duration_parse("1099511627775s2s", CAP, &v), SG_ERR_BAD_VALUE);
	/* a number under the cap whose unit takes it over */
	assert_int_equal(sg_duration_parse("12725829d", CAP, &v), 0);
	assert_true(v == (uint64_t)12725829 * 86400);
	assert_int_equal(sg_duration_parse("12725830d", CAP, &v), SG_ERR_BAD_VALUE);
	/* digits that would wrap 64 bits are refused, not wrapped */
	assert_int_equal(sg_duration_parse("99999999999999999999999s", CAP, &v), SG_ERR_BAD_VALUE);
	/* a small cap */
	assert_int_equal(sg_duration_parse("1m", 60, &v), 0);
	assert_true(v == 60);
	assert_int_equal(sg_duration_parse("1m1s", 60, &v), SG_ERR_BAD_VALUE);
	assert_int_equal(sg_duration_parse("1h", 60, &v), SG_ERR_BAD_VALUE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
