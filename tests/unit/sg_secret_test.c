/* Unit tests of secret memory, secret files and the algorithm names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sg_alg.h"
#include "sg_err.h"
#include "sg_secret.h"

static char dir[64];

static int
setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/sg_secret_test.XXXXXX");
	return mkdtemp(dir) == NULL;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) != 0;
}

/* Writes data (len bytes) to dir/name with mode; returns the path. */
static const char *
put(const char *name, const void *data, size_t len, mode_t mode)
{
	static char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void
test_read_file(void **state)
{
	struct sg_secret *s = NULL;

	assert_int_equal(sg_secret_read_file(put("pin", "1234\n", 5, 0600), 64, &s), 0);
	assert_string_equal(sg_secret_str(s), "1234");
	assert_int_equal(sg_secret_len(s), 4);
	sg_secret_free(s);
	/* CRLF is trimmed once; inner newlines are kept */
	assert_int_equal(sg_secret_read_file(put("pin", "ab\ncd\r\n", 7, 0400), 64, &s), 0);
	assert_string_equal(sg_secret_str(s), "ab\ncd");
	sg_secret_free(s);
	/* exactly max bytes is fine, one more is not */
	assert_int_equal(sg_secret_read_file(put("pin", "12345678", 8, 0600), 8, &s), 0);
	sg_secret_free(s);
	assert_int_equal(sg_secret_read_file(put("pin", "123456789", 9, 0600), 8, &s),
	                 SG_ERR_CONFIG);
	assert_null(s);
}

static void
test_read_file_refusals(void **state)
{
	struct sg_secret *s = (struct sg_secret *)1;
	char path[128];

	assert_int_equal(sg_secret_read_file(put("pin", "1234", 4, 0640), 64, &s), SG_ERR_PERM);
	assert_null(s);
	assert_int_equal(sg_secret_read_file(put("pin", "1234", 4, 0604), 64, &s), SG_ERR_PERM);
	assert_int_equal(sg_secret_read_file(put("pin", "", 0, 0600), 64, &s), SG_ERR_CONFIG);
	assert_int_equal(sg_secret_read_file(put("pin", "\n", 1, 0600), 64, &s), SG_ERR_CONFIG);
	assert_int_equal(sg_secret_read_file(put("pin",
	                                         "12\0"
	                                         "34",
	                                         5, 0600),
	                                     64, &s),
	                 SG_ERR_CONFIG);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(sg_secret_read_file(path, 64, &s), SG_ERR_NOT_FOUND);
	/* a directory is not a secret file */
	assert_int_equal(sg_secret_read_file(dir, 64, &s), SG_ERR_PERM);
	/* a symlink is not followed */
	put("real", "1234", 4, 0600);
	snprintf(path, sizeof(path), "%s/link", dir);
	unlink(path);
	assert_int_equal(symlink("real", path), 0);
	assert_int_equal(sg_secret_read_file(path, 64, &s), SG_ERR_IO);
}

static void
test_read_fd(void **state)
{
	struct sg_secret *s = NULL;
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "s3cret\n", 7), 7);
	close(fds[1]);
	assert_int_equal(sg_secret_read_fd(fds[0], 32, &s), 0);
	assert_string_equal(sg_secret_str(s), "s3cret");
	close(fds[0]);
	sg_secret_free(s);
}

static void
test_set_and_compare(void **state)
{
	struct sg_secret *s = sg_secret_new(8);

	assert_non_null(s);
	assert_int_equal(sg_secret_set(s, "abcdefgh", 8), 0);
	assert_memory_equal(sg_secret_data(s), "abcdefgh", 8);
	assert_int_equal(sg_secret_set(s, "abcdefghi", 9), SG_ERR_LIMIT);
	assert_int_equal(sg_secret_set(s, "xy", 2), 0);
	assert_string_equal(sg_secret_str(s), "xy");
	sg_secret_free(s);
	sg_secret_free(NULL);
	assert_int_equal(sg_ct_eq("abc", "abc", 3), 1);
	assert_int_equal(sg_ct_eq("abc", "abd", 3), 0);
	assert_int_equal(sg_ct_eq("abc", "xbc", 3), 0);
	assert_int_equal(sg_ct_eq("", "", 0), 1);
}

static void
test_alg_names(void **state)
{
	enum sg_hash h;
	enum sg_keyalg a;
	enum sg_pad p;

	assert_int_equal(sg_hash_parse("sha384", &h), 0);
	assert_int_equal(h, SG_HASH_SHA384);
	assert_int_equal(sg_hash_len(h), 48);
	assert_non_null(sg_hash_md(h));
	assert_int_equal(sg_hash_parse("SHA256", &h), SG_ERR_UNKNOWN_HASH);
	assert_int_equal(sg_hash_parse("sha1", &h), SG_ERR_UNKNOWN_HASH);
	assert_null(sg_hash_name(SG_HASH_NONE));
	assert_int_equal(sg_hash_len((enum sg_hash)9), 0);
	assert_int_equal(sg_keyalg_parse("rsa-4096", &a), 0);
	assert_int_equal(sg_keyalg_is_rsa(a), 1);
	assert_int_equal(sg_keyalg_sig_max(a), 512);
	assert_int_equal(sg_keyalg_parse("ec-p256", &a), 0);
	assert_int_equal(sg_keyalg_is_rsa(a), 0);
	assert_int_equal(sg_keyalg_parse("ed25519", &a), SG_ERR_INVALID_ARG);
	assert_string_equal(sg_keyalg_name(SG_KEYALG_EC_P384), "ec-p384");
	assert_int_equal(sg_pad_parse("pss", &p), 0);
	assert_int_equal(p, SG_PAD_PSS);
	assert_int_equal(sg_pad_parse("oaep", &p), SG_ERR_BAD_PADDING);
	assert_string_equal(sg_pad_name(SG_PAD_PKCS1), "pkcs1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_file), cmocka_unit_test(test_read_file_refusals),
	    cmocka_unit_test(test_read_fd),   cmocka_unit_test(test_set_and_compare),
	    cmocka_unit_test(test_alg_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
