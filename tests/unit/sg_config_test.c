/*
 * Unit tests of sg_config: a full file, the defaults, relative path
 * resolution, pin_file/pin_fd exclusivity, every range boundary, and schema
 * errors with the field and line named in why.
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

#include "sg_config.h"
#include "sg_err.h"
#include "sg_wire.h"

static char tmpdir[] = "/tmp/sg_config_test.XXXXXX";
static char realdir[4096];
static char cpath[512];
static char why[512];

static int load_fmt(struct sg_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
load_fmt(struct sg_config *cfg, const char *fmt, ...)
{
	char text[8192];
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
	return sg_config_load(cpath, cfg, why, sizeof(why));
}

static void
assert_why(unsigned line, const char *rest)
{
	char want[1024];

	(void)snprintf(want, sizeof(want), "%s:%u: %s", cpath, line, rest);
	if (strncmp(why, want, strlen(want)) != 0)
		fail_msg("why is \"%s\", expected it to start with \"%s\"", why, want);
}

/* Fails unless cfg is all zero (what sg_config_clear leaves). */
static void
assert_cleared(const struct sg_config *cfg)
{
	struct sg_config zero;

	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(cfg, &zero, sizeof(zero));
}

static void
assert_in_dir(const char *got, const char *name)
{
	char want[4200];

	(void)snprintf(want, sizeof(want), "%s/%s", realdir, name);
	assert_non_null(got);
	assert_string_equal(got, want);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL || realpath(tmpdir, realdir) == NULL)
		return -1;
	(void)snprintf(cpath, sizeof(cpath), "%s/signetd.yaml", tmpdir);
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

/* The minimal file: line 7 is "pkcs11:", line 10 is the PIN line. */
#define MIN_HEAD                                                                                   \
	"listen: [\"tcp://127.0.0.1:7701\"]\n"                                                     \
	"server_secret_key_file: server.key\n"                                                     \
	"policy: policy.yaml\n"                                                                    \
	"audit_db: /var/lib/signet/audit.db\n"                                                     \
	"# comment\n"                                                                              \
	"\n"                                                                                       \
	"pkcs11:\n"                                                                                \
	"  module: /usr/lib/softhsm/libsofthsm2.so\n"                                              \
	"  token_label: signet-dev\n"
#define MIN MIN_HEAD "  pin_file: user.pin\n"

static void
test_full(void **state)
{
	struct sg_config cfg;

	(void)state;
	if (load_fmt(&cfg,
	             "listen: [\"tcp://127.0.0.1:7701\", \"ipc:///run/signet/signetd.sock\"]\n"
	             "server_secret_key_file: keys/server.key\n"
	             "policy: /etc/signet/policy.yaml\n"
	             "audit_db: audit.db\n"
	             "pkcs11:\n"
	             "  module: /usr/lib/softhsm/libsofthsm2.so\n"
	             "  module_allowlist: pkcs11-modules.allow\n"
	             "  token_label: signet-dev\n"
	             "  pin_fd: 3\n"
	             "workers: 64\n"
	             "limits:\n"
	             "  max_message_size: 1048576\n"
	             "  max_inflight_per_client: 65536\n"
	             "log:\n"
	             "  level: debug\n"
	             "  syslog: true\n"
	             "pid_file: run/signetd.pid\n"
	             "profiles_dir: profiles\n") != 0)
		fail_msg("%s", why);
	assert_int_equal(cfg.n_listen, 2);
	assert_string_equal(cfg.listen[0], "tcp://127.0.0.1:7701");
	assert_string_equal(cfg.listen[1], "ipc:///run/signet/signetd.sock");
	assert_null(cfg.listen[2]);
	assert_in_dir(cfg.server_secret_key_file, "keys/server.key");
	assert_string_equal(cfg.policy_file, "/etc/signet/policy.yaml");
	assert_in_dir(cfg.audit_db, "audit.db");
	assert_string_equal(cfg.module, "/usr/lib/softhsm/libsofthsm2.so");
	assert_in_dir(cfg.module_allowlist, "pkcs11-modules.allow");
	assert_string_equal(cfg.token_label, "signet-dev");
	assert_null(cfg.pin_file);
	assert_int_equal(cfg.pin_fd, 3);
	assert_int_equal(cfg.workers, 64);
	assert_int_equal(cfg.max_message_size, 1048576);
	assert_int_equal(cfg.max_inflight_per_client, 65536);
	assert_int_equal(cfg.log_level, SG_LOG_DEBUG);
	assert_int_equal(cfg.log_syslog, 1);
	assert_in_dir(cfg.pid_file, "run/signetd.pid");
	assert_in_dir(cfg.profiles_dir, "profiles");
	sg_config_clear(&cfg);
	assert_cleared(&cfg);
	sg_config_clear(NULL);
}

static void
test_defaults(void **state)
{
	struct sg_config cfg;

	(void)state;
	if (load_fmt(&cfg, MIN) != 0)
		fail_msg("%s", why);
	assert_int_equal(cfg.n_listen, 1);
	assert_in_dir(cfg.server_secret_key_file, "server.key");
	assert_in_dir(cfg.policy_file, "policy.yaml");
	assert_string_equal(cfg.audit_db, "/var/lib/signet/audit.db");
	assert_string_equal(cfg.module_allowlist, SIGNET_SYSCONFDIR "/signet/pkcs11-modules.allow");
	assert_in_dir(cfg.pin_file, "user.pin");
	assert_int_equal(cfg.pin_fd, -1);
	assert_int_equal(cfg.workers, 2);
	assert_int_equal(cfg.max_message_size, SG_WIRE_DEFAULT_MAX_MSG);
	assert_int_equal(cfg.max_inflight_per_client, 256);
	assert_int_equal(cfg.log_level, SG_LOG_INFO);
	assert_int_equal(cfg.log_syslog, 0);
	assert_null(cfg.pid_file);
	assert_null(cfg.profiles_dir);
	sg_config_clear(&cfg);

	/* Empty optional sections keep the defaults. */
	if (load_fmt(&cfg, MIN "limits: {}\nlog:\n  syslog: false\n") != 0)
		fail_msg("%s", why);
	assert_int_equal(cfg.max_inflight_per_client, 256);
	assert_int_equal(cfg.log_level, SG_LOG_INFO);
	assert_int_equal(cfg.log_syslog, 0);
	sg_config_clear(&cfg);
}

/* A relative config path still yields absolute paths. */
static void
test_relative_config_path(void **state)
{
	struct sg_config cfg;
	char cwd[4096];

	(void)state;
	assert_int_equal(load_fmt(&cfg, MIN), 0);
	sg_config_clear(&cfg);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(sg_config_load("signetd.yaml", &cfg, why, sizeof(why)), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_in_dir(cfg.policy_file, "policy.yaml");
	sg_config_clear(&cfg);
}

static void
test_pin(void **state)
{
	struct sg_config cfg;

	(void)state;
	assert_int_equal(load_fmt(&cfg, MIN "  pin_fd: 3\n"), SG_ERR_CONFIG);
	assert_why(11, "field 'pkcs11.pin_fd': exactly one of pin_file and pin_fd is required");
	assert_cleared(&cfg);
	assert_int_equal(load_fmt(&cfg, MIN_HEAD), SG_ERR_CONFIG);
	assert_why(7, "field 'pkcs11': exactly one of pin_file and pin_fd is required");
	assert_int_equal(load_fmt(&cfg, MIN_HEAD "  pin_fd: 2\n"), SG_ERR_CONFIG);
	assert_why(10, "field 'pkcs11.pin_fd': 2 is not a usable descriptor");
	assert_int_equal(load_fmt(&cfg, MIN_HEAD "  pin_fd: -4\n"), SG_ERR_CONFIG);
	assert_why(10, "field 'pkcs11.pin_fd': -4 is not a usable descriptor");
	assert_int_equal(load_fmt(&cfg, MIN_HEAD "  pin_fd: 0\n"), 0);
	assert_int_equal(cfg.pin_fd, 0);
	assert_null(cfg.pin_file);
	sg_config_clear(&cfg);
}

static void
test_ranges(void **state)
{
	static const struct {
		const char *text;
		int ok;
		unsigned line;
		const char *field;
	} cases[] = {
	    {"workers: 0\n", 0, 11, "workers"},
	    {"workers: 65\n", 0, 11, "workers"},
	    {"workers: 1\n", 1, 0, NULL},
	    {"workers: -1\n", 0, 11, "workers"},
	    {"limits:\n  max_message_size: 255\n", 0, 12, "limits.max_message_size"},
	    {"limits:\n  max_message_size: 256\n", 1, 0, NULL},
	    {"limits:\n  max_message_size: 1048577\n", 0, 12, "limits.max_message_size"},
	    {"limits:\n  max_inflight_per_client: 0\n", 0, 12, "limits.max_inflight_per_client"},
	    {"limits:\n  max_inflight_per_client: 1\n", 1, 0, NULL},
	    {"limits:\n  max_inflight_per_client: 65537\n", 0, 12,
	     "limits.max_inflight_per_client"},
	    {"log:\n  level: verbose\n", 0, 12, "log.level"},
	    {"log:\n  syslog: yes\n", 0, 12, "log.syslog"},
	};
	struct sg_config cfg;
	char want[128];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = load_fmt(&cfg, MIN "%s", cases[i].text);
		if (cases[i].ok) {
			if (r != 0)
				fail_msg("case %zu: %s", i, why);
			sg_config_clear(&cfg);
			continue;
		}
		if (r != SG_ERR_CONFIG)
			fail_msg("case %zu: got %d (%s)", i, r, why);
		(void)snprintf(want, sizeof(want), "field '%s': ", cases[i].field);
		assert_why(cases[i].line, want);
		assert_cleared(&cfg);
	}
}

static void
test_listen(void **state)
{
	struct sg_config cfg;

	(void)state;
	assert_int_equal(
	    load_fmt(&cfg,
	             "listen:\n  - tcp://a:1\n  - tcp://a:2\n  - tcp://a:3\n  - tcp://a:4\n"
	             "  - tcp://a:5\n  - tcp://a:6\n  - tcp://a:7\n  - tcp://a:8\n  - tcp://a:9\n"
	             "server_secret_key_file: s\npolicy: p\naudit_db: a\n"
	             "pkcs11: {module: /m.so, token_label: t, pin_fd: 3}\n"),
	    SG_ERR_CONFIG);
	assert_why(1, "field 'listen': too many entries (at most 8)");
	assert_int_equal(
	    load_fmt(&cfg, "listen:\n  - tcp://a:1\n  - tcp://a:2\n  - tcp://a:3\n  - tcp://a:4\n"
	                   "  - tcp://a:5\n  - tcp://a:6\n  - tcp://a:7\n  - tcp://a:8\n"
	                   "server_secret_key_file: s\npolicy: p\naudit_db: a\n"
	                   "pkcs11: {module: /m.so, token_label: t, pin_fd: 3}\n"),
	    0);
	assert_int_equal(cfg.n_listen, 8);
	assert_string_equal(cfg.listen[7], "tcp://a:8");
	sg_config_clear(&cfg);
	assert_int_equal(load_fmt(&cfg,
	                          "listen: []\nserver_secret_key_file: s\npolicy: p\naudit_db: a\n"
	                          "pkcs11: {module: /m.so, token_label: t, pin_fd: 3}\n"),
	                 SG_ERR_CONFIG);
	assert_why(1, "field 'listen': ");
	assert_int_equal(
	    load_fmt(
	        &cfg,
	        "listen:\n  - tcp://a:1\n  - http://a:2\nserver_secret_key_file: s\npolicy: p\n"
	        "audit_db: a\npkcs11: {module: /m.so, token_label: t, pin_fd: 3}\n"),
	    SG_ERR_CONFIG);
	assert_why(3, "field 'listen[1]': 'http://a:2' is not a tcp:// or ipc:// endpoint");
	assert_int_equal(
	    load_fmt(&cfg,
	             "listen:\n  - tcp://a:1\n  - tcp://a:1\nserver_secret_key_file: s\npolicy: p\n"
	             "audit_db: a\npkcs11: {module: /m.so, token_label: t, pin_fd: 3}\n"),
	    SG_ERR_CONFIG);
	assert_why(3, "field 'listen[1]': endpoint 'tcp://a:1' is listed twice");
}

static void
test_schema_errors(void **state)
{
	struct sg_config cfg;

	(void)state;
	assert_int_equal(load_fmt(&cfg, MIN "  pin: 1234\n"), SG_ERR_CONFIG);
	assert_why(11, "field 'pkcs11.pin': unknown field");
	assert_int_equal(load_fmt(&cfg, MIN "workers: 2\nworkers: 3\n"), SG_ERR_CONFIG);
	assert_why(12, "field 'workers': duplicate key 'workers' (first at line 11)");
	assert_int_equal(
	    load_fmt(&cfg,
	             "listen: [\"tcp://x:1\"]\nserver_secret_key_file: s\npolicy: p\naudit_db: a\n"
	             "pkcs11:\n  module: /m.so\n  pin_fd: 3\n"),
	    SG_ERR_CONFIG);
	assert_why(5, "field 'pkcs11.token_label': required field missing");
	assert_int_equal(load_fmt(&cfg, MIN "log: debug\n"), SG_ERR_CONFIG);
	assert_why(11, "field 'log': wrong type: expected a mapping, got a scalar");
	assert_int_equal(load_fmt(&cfg, MIN "pid_file: &p x\n"), SG_ERR_CONFIG);
	assert_why(11, "field 'pid_file': YAML anchors are not allowed");
	assert_int_equal(load_fmt(&cfg, MIN_HEAD "  pin_file: user.pin\n  token_label: other\n"),
	                 SG_ERR_CONFIG);
	assert_why(11, "field 'pkcs11.token_label': duplicate key");
	assert_int_equal(
	    load_fmt(&cfg,
	             "listen: [\"tcp://x:1\"]\nserver_secret_key_file: s\npolicy: p\naudit_db: a\n"
	             "pkcs11:\n  module: lib/softhsm2.so\n  token_label: t\n  pin_fd: 3\n"),
	    SG_ERR_CONFIG);
	assert_why(6, "field 'pkcs11.module': must be an absolute path");
	assert_int_equal(
	    load_fmt(&cfg,
	             "listen: [\"tcp://x:1\"]\nserver_secret_key_file: s\npolicy: p\naudit_db: a\n"
	             "pkcs11:\n  module: /m.so\n  token_label: a-label-longer-than-32-characters\n "
	             " pin_fd: 3\n"),
	    SG_ERR_CONFIG);
	assert_why(7, "field 'pkcs11.token_label': string longer than 32 characters");
	assert_int_equal(load_fmt(&cfg, "%s", ""), SG_ERR_CONFIG);
	assert_non_null(strstr(why, "file is empty"));
	assert_int_equal(sg_config_load("/nonexistent/signetd.yaml", &cfg, why, sizeof(why)),
	                 SG_ERR_NOT_FOUND);
	assert_cleared(&cfg);
}

static void
test_tsa_http(void **state)
{
	struct sg_config cfg;

	(void)state;
	/* absent: both off */
	assert_int_equal(load_fmt(&cfg, MIN), 0);
	assert_int_equal(cfg.tsa.enabled, 0);
	assert_int_equal(cfg.http.enabled, 0);
	sg_config_clear(&cfg);
	/* the defaults */
	if (load_fmt(&cfg, MIN "tsa:\n  key: tsa\n  policy: 1.3.6.1.4.1.4146.2.3\n"
	                       "http:\n  listen: 127.0.0.1:8318\n  client: http-tsa\n") != 0)
		fail_msg("%s", why);
	assert_int_equal(cfg.tsa.enabled, 1);
	assert_string_equal(cfg.tsa.key, "tsa");
	assert_string_equal(cfg.tsa.policy_oid, "1.3.6.1.4.1.4146.2.3");
	assert_int_equal(cfg.tsa.n_accepted, 0);
	assert_int_equal(cfg.tsa.hashes,
	                 (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384) | (1u << SG_HASH_SHA512));
	assert_int_equal(cfg.tsa.accuracy_s, 1);
	assert_int_equal(cfg.tsa.accuracy_ms, 0);
	assert_int_equal(cfg.tsa.sign_hash, SG_HASH_SHA256);
	assert_int_equal(cfg.http.enabled, 1);
	assert_string_equal(cfg.http.listen, "127.0.0.1:8318");
	assert_string_equal(cfg.http.client, "http-tsa");
	assert_int_equal(cfg.http.max_connections, 64);
	assert_int_equal(cfg.http.timeout_ms, 10000);
	sg_config_clear(&cfg);
	assert_cleared(&cfg);
	/* everything given */
	if (load_fmt(&cfg, MIN "tsa:\n  key: tsa\n  policy: 1.2.3\n"
	                       "  accepted_policies: [1.2.4, 1.2.5]\n  hashes: [sha384]\n"
	                       "  accuracy: {millis: 500, micros: 999}\n  sign_hash: sha512\n"
	                       "http:\n  listen: \"[::1]:65535\"\n  client: web\n"
	                       "  max_connections: 1024\n  timeout_ms: 100\n") != 0)
		fail_msg("%s", why);
	assert_int_equal(cfg.tsa.n_accepted, 2);
	assert_string_equal(cfg.tsa.accepted[1], "1.2.5");
	assert_int_equal(cfg.tsa.hashes, 1u << SG_HASH_SHA384);
	assert_int_equal(cfg.tsa.accuracy_s, 0);
	assert_int_equal(cfg.tsa.accuracy_ms, 500);
	assert_int_equal(cfg.tsa.accuracy_us, 999);
	assert_int_equal(cfg.tsa.sign_hash, SG_HASH_SHA512);
	assert_string_equal(cfg.http.listen, "[::1]:65535");
	assert_int_equal(cfg.http.max_connections, 1024);
	assert_int_equal(cfg.http.timeout_ms, 100);
	sg_config_clear(&cfg);
	/* errors, each naming its field (MIN is 10 lines; tsa: is line 11) */
	assert_int_equal(load_fmt(&cfg, MIN "tsa:\n  key: tsa\n  policy: not-an-oid\n"),
	                 SG_ERR_CONFIG);
	assert_why(13, "field 'tsa.policy'");
	assert_cleared(&cfg);
	assert_int_equal(load_fmt(&cfg, MIN "tsa:\n  key: tsa\n  policy: 1.2.3\n"
	                                    "  accepted_policies: [1.2.4, 1.2.4]\n"),
	                 SG_ERR_CONFIG);
	assert_why(14, "field 'tsa.accepted_policies[1]'");
	assert_int_equal(load_fmt(&cfg, MIN "tsa:\n  key: tsa\n  policy: 1.2.3\n  hashes: [md5]\n"),
	                 SG_ERR_CONFIG);
	assert_why(14, "field 'tsa.hashes[0]'");
	assert_int_equal(load_fmt(&cfg, MIN "tsa:\n  key: 'bad name'\n  policy: 1.2.3\n"),
	                 SG_ERR_CONFIG);
	assert_why(12, "field 'tsa.key'");
	assert_int_equal(
	    load_fmt(&cfg, MIN "tsa:\n  key: tsa\n  policy: 1.2.3\n  accuracy: {millis: 1000}\n"),
	    SG_ERR_CONFIG);
	assert_why(14, "field 'tsa.accuracy'");
	assert_int_equal(load_fmt(&cfg, MIN "tsa:\n  key: tsa\n"), SG_ERR_CONFIG);
	assert_int_equal(
	    load_fmt(&cfg, MIN "tsa:\n  key: tsa\n  policy: 1.2.3\n  ordering: true\n"),
	    SG_ERR_CONFIG);
	assert_int_equal(load_fmt(&cfg, MIN "http:\n  listen: localhost:80\n  client: c\n"),
	                 SG_ERR_CONFIG);
	assert_why(12, "field 'http.listen'");
	assert_int_equal(load_fmt(&cfg, MIN "http:\n  listen: 127.0.0.1:0\n  client: c\n"),
	                 SG_ERR_CONFIG);
	assert_int_equal(load_fmt(&cfg, MIN "http:\n  listen: 127.0.0.1:65536\n  client: c\n"),
	                 SG_ERR_CONFIG);
	assert_int_equal(load_fmt(&cfg, MIN "http:\n  listen: ::1:80\n  client: c\n"),
	                 SG_ERR_CONFIG);
	assert_int_equal(
	    load_fmt(&cfg, MIN "http:\n  listen: 127.0.0.1:80\n  client: c\n  timeout_ms: 99\n"),
	    SG_ERR_CONFIG);
	assert_why(14, "field 'http.timeout_ms'");
	assert_int_equal(
	    load_fmt(&cfg,
	             MIN "http:\n  listen: 127.0.0.1:80\n  client: c\n  max_connections: 0\n"),
	    SG_ERR_CONFIG);
	assert_cleared(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_relative_config_path),
	    cmocka_unit_test(test_pin),
	    cmocka_unit_test(test_ranges),
	    cmocka_unit_test(test_listen),
	    cmocka_unit_test(test_schema_errors),
	    cmocka_unit_test(test_tsa_http),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
