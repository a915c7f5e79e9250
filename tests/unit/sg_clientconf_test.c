/*
 * Unit tests of sg_clientconf: a valid file, defaults, relative path
 * resolution, timeout bounds, and errors with field and line.
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

#include "sg_clientconf.h"
#include "sg_err.h"

static char tmpdir[] = "/tmp/sg_clientconf_test.XXXXXX";
static char realdir[4096];
static char cpath[512];
static char why[512];
static char spub[41];
static unsigned char spub_raw[32];

static int load_fmt(struct sg_clientconf *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
load_fmt(struct sg_clientconf *cfg, const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	FILE *f;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(text));
	f = fopen(cpath, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, (size_t)n, f), (size_t)n);
	assert_int_equal(fclose(f), 0);
	why[0] = '\0';
	return sg_clientconf_load(cpath, cfg, why, sizeof(why));
}

static void
assert_why(unsigned line, const char *rest)
{
	char want[1024];

	(void)snprintf(want, sizeof(want), "%s:%u: %s", cpath, line, rest);
	if (strncmp(why, want, strlen(want)) != 0)
		fail_msg("why is \"%s\", expected it to start with \"%s\"", why, want);
}

static void
assert_cleared(const struct sg_clientconf *cfg)
{
	struct sg_clientconf zero;

	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(cfg, &zero, sizeof(zero));
}

static int
setup(void **state)
{
	size_t i;

	(void)state;
	if (mkdtemp(tmpdir) == NULL || realpath(tmpdir, realdir) == NULL)
		return -1;
	(void)snprintf(cpath, sizeof(cpath), "%s/client.conf", tmpdir);
	for (i = 0; i < sizeof(spub_raw); i++)
		spub_raw[i] = (unsigned char)(i * 7 + 1);
	return zmq_z85_encode(spub, spub_raw, sizeof(spub_raw)) == NULL ? -1 : 0;
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
test_valid(void **state)
{
	struct sg_clientconf cfg;
	char want[4200];

	(void)state;
	if (load_fmt(&cfg,
	             "endpoint: tcp://127.0.0.1:7701\n"
	             "server_public_key: \"%s\"\n"
	             "secret_key_file: keys/ci.key\n",
	             spub) != 0)
		fail_msg("%s", why);
	assert_string_equal(cfg.endpoint, "tcp://127.0.0.1:7701");
	assert_memory_equal(cfg.server_pub, spub_raw, 32);
	assert_string_equal(cfg.server_pub_z85, spub);
	(void)snprintf(want, sizeof(want), "%s/keys/ci.key", realdir);
	assert_string_equal(cfg.secret_key_file, want);
	assert_int_equal(cfg.timeout_ms, SG_CLIENTCONF_DEFAULT_TIMEOUT_MS);
	assert_int_equal(cfg.timeout_ms, 30000);
	sg_clientconf_clear(&cfg);
	assert_cleared(&cfg);
	sg_clientconf_clear(NULL);

	if (load_fmt(&cfg,
	             "endpoint: ipc:///run/signet/signetd.sock\n"
	             "server_public_key: \"%s\"\n"
	             "secret_key_file: /etc/signet/ci.key\n"
	             "timeout_ms: 3600000\n",
	             spub) != 0)
		fail_msg("%s", why);
	assert_string_equal(cfg.secret_key_file, "/etc/signet/ci.key");
	assert_int_equal(cfg.timeout_ms, 3600000);
	sg_clientconf_clear(&cfg);

	assert_int_equal(load_fmt(&cfg,
	                          "endpoint: tcp://h:1\nserver_public_key: \"%s\"\n"
	                          "secret_key_file: k\ntimeout_ms: 1\n",
	                          spub),
	                 0);
	assert_int_equal(cfg.timeout_ms, 1);
	sg_clientconf_clear(&cfg);
}

static void
test_errors(void **state)
{
	struct sg_clientconf cfg;
	char bad[41];

	(void)state;
	assert_int_equal(load_fmt(&cfg,
	                          "endpoint: tcp://h:1\nserver_public_key: \"%s\"\n"
	                          "secret_key_file: k\ntimeout_ms: 0\n",
	                          spub),
	                 SG_ERR_CONFIG);
	assert_why(4, "field 'timeout_ms': 0 is out of range (1..3600000)");
	assert_cleared(&cfg);
	assert_int_equal(load_fmt(&cfg,
	                          "endpoint: tcp://h:1\nserver_public_key: \"%s\"\n"
	                          "secret_key_file: k\ntimeout_ms: 3600001\n",
	                          spub),
	                 SG_ERR_CONFIG);
	assert_why(4, "field 'timeout_ms': 3600001 is out of range");

	memcpy(bad, spub, sizeof(bad));
	bad[39] = '~'; /* not in the Z85 alphabet */
	assert_int_equal(
	    load_fmt(&cfg, "endpoint: tcp://h:1\nsecret_key_file: k\nserver_public_key: \"%s\"\n",
	             bad),
	    SG_ERR_CONFIG);
	assert_why(3, "field 'server_public_key': not a Z85 CURVE public key");
	assert_int_equal(
	    load_fmt(&cfg,
	             "endpoint: tcp://h:1\nsecret_key_file: k\nserver_public_key: \"%.39s\"\n",
	             spub),
	    SG_ERR_CONFIG);
	assert_why(3, "field 'server_public_key': not a Z85");

	assert_int_equal(
	    load_fmt(&cfg, "endpoint: udp://h:1\nserver_public_key: \"%s\"\nsecret_key_file: k\n",
	             spub),
	    SG_ERR_CONFIG);
	assert_why(1, "field 'endpoint': 'udp://h:1' is not a tcp:// or ipc:// endpoint");
	assert_int_equal(
	    load_fmt(&cfg, "endpoint: tcp://h:1\nserver_public_key: \"%s\"\nsecret_key: k\n", spub),
	    SG_ERR_CONFIG);
	assert_why(3, "field 'secret_key': unknown field");
	assert_int_equal(load_fmt(&cfg, "endpoint: tcp://h:1\nserver_public_key: \"%s\"\n", spub),
	                 SG_ERR_CONFIG);
	assert_why(1, "field 'secret_key_file': required field missing");
	assert_int_equal(load_fmt(&cfg,
	                          "endpoint: tcp://h:1\nserver_public_key: \"%s\"\n"
	                          "secret_key_file: k\nendpoint: tcp://h:2\n",
	                          spub),
	                 SG_ERR_CONFIG);
	assert_why(4, "field 'endpoint': duplicate key 'endpoint' (first at line 1)");
	assert_int_equal(
	    load_fmt(&cfg,
	             "endpoint: &e tcp://h:1\nserver_public_key: \"%s\"\nsecret_key_file: k\n",
	             spub),
	    SG_ERR_CONFIG);
	assert_why(1, "field 'endpoint': YAML anchors are not allowed");
	assert_int_equal(
	    load_fmt(&cfg, "endpoint: [tcp://h:1]\nserver_public_key: \"%s\"\nsecret_key_file: k\n",
	             spub),
	    SG_ERR_CONFIG);
	assert_why(1, "field 'endpoint': wrong type: expected a string, got a sequence");
	assert_int_equal(load_fmt(&cfg, "%s", ""), SG_ERR_CONFIG);
	assert_non_null(strstr(why, "file is empty"));
	assert_int_equal(sg_clientconf_load("/nonexistent/client.conf", &cfg, why, sizeof(why)),
	                 SG_ERR_NOT_FOUND);
	assert_cleared(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
