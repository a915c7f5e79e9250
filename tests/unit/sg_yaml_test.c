/*
 * Unit tests of sg_yaml: the line index, the pre-scan's refusals (depth,
 * complex keys, odd key names), sg_yaml_why's nearest-parent lines, and the
 * shared helpers (Z85 keys, endpoints, path resolution).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "sg_err.h"
#include "sg_yaml.h"

static char tmpdir[] = "/tmp/sg_yaml_test.XXXXXX";
static char realdir[4096];
static char ypath[512];
static char why[512];

struct t_item {
	char *name;
	int flag; /* enum sg_yaml_bool */
};
struct t_doc {
	struct t_item *items;
	unsigned items_count;
	char **tags;
	unsigned tags_count;
};

static const cyaml_schema_value_t t_str = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, 64),
};
static const cyaml_schema_field_t t_item_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct t_item, name, 1, 64),
    SG_YAML_FIELD_BOOL("flag", CYAML_FLAG_OPTIONAL, struct t_item, flag),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t t_item = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct t_item, t_item_fields),
};
static const cyaml_schema_field_t t_doc_fields[] = {
    CYAML_FIELD_SEQUENCE("items", CYAML_FLAG_POINTER, struct t_doc, items, &t_item, 0, 16),
    CYAML_FIELD_SEQUENCE("tags", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct t_doc, tags,
                         &t_str, 0, 16),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t t_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct t_doc, t_doc_fields),
};

static int
load_text(const char *text, void **data, struct sg_yaml_doc **doc)
{
	FILE *f = fopen(ypath, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	why[0] = '\0';
	return sg_yaml_load(ypath, &t_schema, SG_ERR_CONFIG, data, doc, why, sizeof(why));
}

static void
assert_why(unsigned line, const char *rest)
{
	char want[1024];

	(void)snprintf(want, sizeof(want), "%s:%u: %s", ypath, line, rest);
	if (strncmp(why, want, strlen(want)) != 0)
		fail_msg("why is \"%s\", expected it to start with \"%s\"", why, want);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL || realpath(tmpdir, realdir) == NULL)
		return -1;
	(void)snprintf(ypath, sizeof(ypath), "%s/t.yaml", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd);
}

static void
test_line_index(void **state)
{
	struct sg_yaml_doc *doc = NULL;
	struct t_doc *d = NULL;
	void *data = NULL;

	(void)state;
	if (load_text("# header\n"
	              "items:\n"
	              "  - name: a\n"
	              "    flag: true\n"
	              "\n"
	              "  - name: b\n"
	              "    flag: false\n"
	              "  - {name: c}\n"
	              "tags:\n"
	              "  - x\n"
	              "  - y\n",
	              &data, &doc) != 0)
		fail_msg("%s", why);
	d = data;
	assert_int_equal(d->items_count, 3);
	assert_int_equal(d->items[0].flag, SG_YAML_BOOL_TRUE);
	assert_int_equal(d->items[1].flag, SG_YAML_BOOL_FALSE);
	assert_int_equal(d->items[2].flag, SG_YAML_BOOL_UNSET);
	assert_string_equal(sg_yaml_doc_path(doc), ypath);
	assert_int_equal(sg_yaml_line(doc, ""), 2);
	assert_int_equal(sg_yaml_line(doc, "items"), 2);
	assert_int_equal(sg_yaml_line(doc, "items[0]"), 3);
	assert_int_equal(sg_yaml_line(doc, "items[0].flag"), 4);
	assert_int_equal(sg_yaml_line(doc, "items[1].name"), 6);
	assert_int_equal(sg_yaml_line(doc, "items[1].flag"), 7);
	assert_int_equal(sg_yaml_line(doc, "items[2].name"), 8);
	assert_int_equal(sg_yaml_line(doc, "tags[1]"), 11);
	assert_int_equal(sg_yaml_line(doc, "items[3]"), 0);
	assert_int_equal(sg_yaml_line(doc, "nope"), 0);
	/* An absent field is reported at its nearest parent. */
	sg_yaml_why(doc, why, sizeof(why), "items[1].missing", "reason %d", 42);
	assert_why(6, "field 'items[1].missing': reason 42");
	sg_yaml_why(doc, why, sizeof(why), "tags[0]", "bad tag");
	assert_why(10, "field 'tags[0]': bad tag");
	sg_yaml_free(&t_schema, data);
	sg_yaml_doc_free(doc);
	sg_yaml_free(&t_schema, NULL);
	sg_yaml_doc_free(NULL);
}

static void
test_prescan_refusals(void **state)
{
	struct sg_yaml_doc *doc = (void *)1;
	void *data = (void *)1;
	char deep[256];
	int i, n = 0;

	(void)state;
	assert_int_equal(load_text("items:\n  - name: a\n    ? [x]\n    : 1\n", &data, &doc),
	                 SG_ERR_CONFIG);
	assert_null(data);
	assert_null(doc);
	assert_why(3, "field 'items[0]': mapping keys must be plain names");
	assert_int_equal(load_text("items: []\n\"ta gs\": []\n", &data, &doc), SG_ERR_CONFIG);
	assert_why(2, "invalid field name");
	for (i = 0; i < SG_YAML_MAX_DEPTH + 1; i++)
		deep[n++] = '[';
	for (i = 0; i < SG_YAML_MAX_DEPTH + 1; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	{
		char text[400];

		(void)snprintf(text, sizeof(text), "items: []\ntags: %s\n", deep);
		assert_int_equal(load_text(text, &data, &doc), SG_ERR_CONFIG);
		assert_why(2, "field 'tags");
		assert_non_null(strstr(why, "nested more than 32 levels deep"));
	}
	assert_int_equal(load_text("items:\n  - name: a\n    flag: yes\n", &data, &doc),
	                 SG_ERR_CONFIG);
	assert_why(3, "field 'items[0].flag': ");
	assert_int_equal(load_text("items:\n  - name: a\ntags: [x, *y]\n", &data, &doc),
	                 SG_ERR_CONFIG);
	assert_why(3, "field 'tags[1]': YAML aliases are not allowed");
	assert_int_equal(load_text("items: [{name: a}, {name: b, name: c}]\n", &data, &doc),
	                 SG_ERR_CONFIG);
	assert_why(1, "field 'items[1].name': duplicate key 'name' (first at line 1)");
	assert_int_equal(load_text("items:\n  - name: \"\"\n", &data, &doc), SG_ERR_CONFIG);
	assert_why(2, "field 'items[0].name': string shorter than 1 characters");
}

static void
test_z85(void **state)
{
	unsigned char raw[32], out[32];
	char z[41], bad[41];

	(void)state;
	memset(raw, 0xa5, sizeof(raw));
	assert_non_null(zmq_z85_encode(z, raw, sizeof(raw)));
	assert_int_equal(sg_yaml_z85_key(z, out), 0);
	assert_memory_equal(out, raw, 32);
	memcpy(bad, z, sizeof(bad));
	bad[0] = '"';
	assert_int_equal(sg_yaml_z85_key(bad, out), SG_ERR_BAD_VALUE);
	bad[0] = '#';
	memcpy(bad, "#####", 5); /* 84 * (85^4 + ...) > 2^32 - 1 */
	assert_int_equal(sg_yaml_z85_key(bad, out), SG_ERR_BAD_VALUE);
	z[39] = '\0';
	assert_int_equal(sg_yaml_z85_key(z, out), SG_ERR_BAD_VALUE);
	assert_int_equal(sg_yaml_z85_key("", out), SG_ERR_BAD_VALUE);
	assert_int_equal(sg_yaml_z85_key(NULL, out), SG_ERR_BAD_VALUE);
}

static void
test_endpoint(void **state)
{
	(void)state;
	assert_true(sg_yaml_endpoint_valid("tcp://127.0.0.1:7701"));
	assert_true(sg_yaml_endpoint_valid("ipc:///run/signet/s.sock"));
	assert_false(sg_yaml_endpoint_valid("tcp://"));
	assert_false(sg_yaml_endpoint_valid("inproc://x"));
	assert_false(sg_yaml_endpoint_valid("tcp://a b:1"));
	assert_false(sg_yaml_endpoint_valid("TCP://a:1"));
	assert_false(sg_yaml_endpoint_valid(NULL));
}

static void
test_path_resolve(void **state)
{
	char *out = NULL, want[4200], long_p[SG_YAML_PATH_MAX + 2];

	(void)state;
	assert_int_equal(sg_yaml_path_resolve(ypath, "/abs/x", &out), 0);
	assert_string_equal(out, "/abs/x");
	free(out);
	assert_int_equal(sg_yaml_path_resolve(ypath, "sub/x", &out), 0);
	(void)snprintf(want, sizeof(want), "%s/sub/x", realdir);
	assert_string_equal(out, want);
	free(out);
	assert_int_equal(sg_yaml_path_resolve("/t.yaml", "x", &out), 0);
	assert_string_equal(out, "/x");
	free(out);
	assert_int_equal(sg_yaml_path_resolve(ypath, "", &out), SG_ERR_INVALID_ARG);
	assert_null(out);
	memset(long_p, 'a', sizeof(long_p));
	long_p[SG_YAML_PATH_MAX + 1] = '\0';
	assert_int_equal(sg_yaml_path_resolve(ypath, long_p, &out), SG_ERR_INVALID_ARG);
	assert_int_equal(sg_yaml_path_resolve("/nonexistent-dir/t.yaml", "x", &out), SG_ERR_IO);
	assert_null(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_line_index),   cmocka_unit_test(test_prescan_refusals),
	    cmocka_unit_test(test_z85),          cmocka_unit_test(test_endpoint),
	    cmocka_unit_test(test_path_resolve),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
