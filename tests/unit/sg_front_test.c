/*
 * Unit tests of sg_front's internal tables.  The tables are static to
 * sg_front.c, so this file includes it: the test links its own copy of the
 * module (the library's object is not pulled in) and drives the functions
 * on a zeroed struct sg_front, without sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../appliance/sg_front.c"

static struct sg_front *
front_tables(void)
{
	struct sg_front *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->counts = calloc(SG_COUNT_SLOTS, sizeof(*f->counts));
	assert_non_null(f->counts);
	return f;
}

static void
front_tables_free(struct sg_front *f)
{
	free(f->counts);
	free(f);
}

/*
 * The in-flight counters are keyed by client name and never emptied.  Over
 * the daemon's life (reloads that rename or rotate clients) more distinct
 * names than slots send requests: a counter at zero must be reusable, or
 * every new client is answered busy for good.
 */
static void
test_count_slots_reused(void **state)
{
	struct sg_front *f = front_tables();
	char name[SG_NAME_MAX + 1];
	unsigned busy_slot, slot, i;

	busy_slot = sg_count_slot(f, "busy-client");
	assert_int_not_equal(busy_slot, SG_EMPTY_SLOT);
	f->counts[busy_slot].count = 3; /* requests in flight */
	/* many more names than slots, each with its requests finished */
	for (i = 0; i < 3 * SG_COUNT_SLOTS; i++) {
		snprintf(name, sizeof(name), "client-%u", i);
		slot = sg_count_slot(f, name);
		assert_int_not_equal(slot, SG_EMPTY_SLOT);
		/* never the counter of a client that has requests in flight */
		assert_int_not_equal(slot, busy_slot);
		assert_string_equal(f->counts[slot].name, name);
		assert_int_equal(f->counts[slot].count, 0);
		/* the same name finds the same counter while it is in use */
		f->counts[slot].count = 1;
		assert_int_equal(sg_count_slot(f, name), slot);
		f->counts[slot].count = 0;
	}
	assert_int_equal(sg_count_slot(f, "busy-client"), busy_slot);
	assert_int_equal(f->counts[busy_slot].count, 3);
	front_tables_free(f);
}

/* While every counter is in use, a new name gets none (and the caller answers busy). */
static void
test_count_slots_full(void **state)
{
	struct sg_front *f = front_tables();
	char name[SG_NAME_MAX + 1];
	unsigned slot, i;

	for (i = 0; i < SG_COUNT_SLOTS; i++) {
		snprintf(name, sizeof(name), "client-%u", i);
		slot = sg_count_slot(f, name);
		assert_int_not_equal(slot, SG_EMPTY_SLOT);
		f->counts[slot].count = 1;
	}
	assert_int_equal(sg_count_slot(f, "one-too-many"), SG_EMPTY_SLOT);
	assert_int_not_equal(sg_count_slot(f, "client-7"), SG_EMPTY_SLOT);
	front_tables_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_count_slots_reused),
	    cmocka_unit_test(test_count_slots_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
