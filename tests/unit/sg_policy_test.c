/*
 * Unit tests of sg_policy: a valid policy and every decision path of
 * sg_policy_check and sg_policy_key_grants; every schema and semantic error,
 * each with its exact code and the file, line and field named in why.
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
#include "sg_policy.h"
#include "sg_yaml.h"

static char tmpdir[] = "/tmp/sg_policy_test.XXXXXX";
static char ppath[256];
static char why[512];
/* Z85 of 32 bytes of value i + 1; K[3] is not valid Z85. */
static char K[4][41];

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Writes the formatted policy to ppath and loads it. */
static int load_fmt(struct sg_policy **p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
load_fmt(struct sg_policy **p, const char *fmt, ...)
{
	char text[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(text));
	write_file(ppath, text, (size_t)n);
	why[0] = '\0';
	return sg_policy_load(ppath, p, why, sizeof(why));
}

/* Asserts why is "<ppath>:<line>: <rest>..." */
static void
assert_why(unsigned line, const char *rest)
{
	char want[512];

	(void)snprintf(want, sizeof(want), "%s:%u: %s", ppath, line, rest);
	if (strncmp(why, want, strlen(want)) != 0)
		fail_msg("why is \"%s\", expected it to start with \"%s\"", why, want);
}

static int
setup(void **state)
{
	unsigned char raw[32];
	int i;

	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	(void)snprintf(ppath, sizeof(ppath), "%s/p.yaml", tmpdir);
	for (i = 0; i < 3; i++) {
		memset(raw, i + 1, sizeof(raw));
		if (zmq_z85_encode(K[i], raw, sizeof(raw)) == NULL)
			return -1;
	}
	/* 40 characters, but '~' is not in the Z85 alphabet. */
	memcpy(K[3], K[0], sizeof(K[3]));
	K[3][7] = '~';
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

#define VALID_FMT                                                                                  \
	"version: 1\n"                                                        /* 1 */              \
	"clients:\n"                                                          /* 2 */              \
	"  - name: ci-runner\n"                                               /* 3 */              \
	"    curve_public_key: \"%s\"\n"                                      /* 4 */              \
	"    roles: [ci]\n"                                                   /* 5 */              \
	"    max_inflight: 64\n"                                              /* 6 */              \
	"  - name: releaser\n"                                                /* 7 */              \
	"    curve_public_key: \"%s\"\n"                                      /* 8 */              \
	"    roles: [release]\n"                                              /* 9 */              \
	"  - name: watcher\n"                                                 /* 10 */             \
	"    curve_public_key: \"%s\"\n"                                      /* 11 */             \
	"keys:\n"                                                             /* 12 */             \
	"  - name: build-ec\n"                                                /* 13 */             \
	"    uri: \"pkcs11:token=signet-dev;object=build-ec;type=private\"\n" /* 14 */             \
	"    algorithm: ec-p256\n"                                            /* 15 */             \
	"    purposes: [sign]\n"                                              /* 16 */             \
	"    self_verify: false\n"                                            /* 17 */             \
	"  - name: build-rsa\n"                                               /* 18 */             \
	"    uri: \"label:build rsa\"\n"                                      /* 19 */             \
	"    algorithm: rsa-3072\n"                                           /* 20 */             \
	"    purposes: [sign]\n"                                              /* 21 */             \
	"  - name: release-ec\n"                                              /* 22 */             \
	"    uri: \"pkcs11:object=release-ec\"\n"                             /* 23 */             \
	"    algorithm: ec-p384\n"                                            /* 24 */             \
	"    purposes: [sign]\n"                                              /* 25 */             \
	"    self_verify: true\n"                                             /* 26 */             \
	"rules:\n"                                                            /* 27 */             \
	"  - name: ci-signing\n"                                              /* 28 */             \
	"    roles: [ci]\n"                                                   /* 29 */             \
	"    ops: [ping, keys.list, sign.digest]\n"                           /* 30 */             \
	"    keys: [build-ec, build-rsa]\n"                                   /* 31 */             \
	"    hashes: [sha256, sha384]\n"                                      /* 32 */             \
	"    paddings: [pss]\n"                                               /* 33 */             \
	"  - name: release\n"                                                 /* 34 */             \
	"    clients: [releaser]\n"                                           /* 35 */             \
	"    ops: [sign.digest]\n"                                            /* 36 */             \
	"    keys: [release-ec, build-rsa, release-ec]\n"                     /* 37 */             \
	"  - name: watch\n"                                                   /* 38 */             \
	"    clients: [watcher]\n"                                            /* 39 */             \
	"    ops: [ping]\n"                                                   /* 40 */

static struct sg_policy *
load_valid(void)
{
	struct sg_policy *p = NULL;

	if (load_fmt(&p, VALID_FMT, K[0], K[1], K[2]) != 0)
		fail_msg("valid policy refused: %s", why);
	assert_non_null(p);
	return p;
}

static void
test_valid_accessors(void **state)
{
	struct sg_policy *p = load_valid();
	const struct sg_policy_client *c;
	const struct sg_policy_key *k;
	unsigned char raw[32];

	(void)state;
	memset(raw, 2, sizeof(raw));
	c = sg_policy_client_by_pubkey(p, raw);
	assert_non_null(c);
	assert_string_equal(sg_policy_client_name(c), "releaser");
	assert_ptr_equal(sg_policy_client_by_name(p, "releaser"), c);
	assert_int_equal(sg_policy_client_max_inflight(c), 0);
	c = sg_policy_client_by_name(p, "ci-runner");
	assert_non_null(c);
	assert_int_equal(sg_policy_client_max_inflight(c), 64);
	memset(raw, 1, sizeof(raw));
	assert_ptr_equal(sg_policy_client_by_pubkey(p, raw), c);
	memset(raw, 9, sizeof(raw));
	assert_null(sg_policy_client_by_pubkey(p, raw));
	assert_null(sg_policy_client_by_name(p, "nobody"));

	assert_int_equal(sg_policy_key_count(p), 3);
	k = sg_policy_key_at(p, 0);
	assert_string_equal(sg_policy_key_name(k), "build-ec");
	assert_string_equal(sg_policy_key_uri(k),
	                    "pkcs11:token=signet-dev;object=build-ec;type=private");
	assert_int_equal(sg_policy_key_alg(k), SG_KEYALG_EC_P256);
	assert_int_equal(sg_policy_key_self_verify(k), 0);
	k = sg_policy_key_at(p, 1);
	assert_string_equal(sg_policy_key_name(k), "build-rsa");
	assert_string_equal(sg_policy_key_uri(k), "label:build rsa");
	assert_int_equal(sg_policy_key_alg(k), SG_KEYALG_RSA_3072);
	assert_int_equal(sg_policy_key_self_verify(k), 1);
	k = sg_policy_key_at(p, 2);
	assert_string_equal(sg_policy_key_name(k), "release-ec");
	assert_int_equal(sg_policy_key_alg(k), SG_KEYALG_EC_P384);
	assert_int_equal(sg_policy_key_self_verify(k), 1);
	assert_null(sg_policy_key_at(p, 3));
	assert_ptr_equal(sg_policy_key_by_name(p, "build-rsa"), sg_policy_key_at(p, 1));
	assert_null(sg_policy_key_by_name(p, "nope"));
	sg_policy_free(p);
	sg_policy_free(NULL);
}

static void
test_check(void **state)
{
	struct sg_policy *p = load_valid();

	(void)state;
	/* Allowed through the role "ci". */
	assert_int_equal(
	    sg_policy_check(p, "ci-runner", SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE), 0);
	assert_int_equal(
	    sg_policy_check(p, "ci-runner", SG_OP_KEYS_LIST, NULL, SG_HASH_NONE, SG_PAD_NONE), 0);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-ec",
	                                 SG_HASH_SHA256, SG_PAD_NONE),
	                 0);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-ec",
	                                 SG_HASH_SHA384, SG_PAD_NONE),
	                 0);
	/* Hash outside the rule's list, and no hash at all. */
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-ec",
	                                 SG_HASH_SHA512, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-ec",
	                                 SG_HASH_NONE, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	/* A key of the policy that no rule of this client names. */
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "release-ec",
	                                 SG_HASH_SHA256, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	/* Unknown key. */
	assert_int_equal(
	    sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "nope", SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_UNKNOWN_KEY);
	assert_int_equal(
	    sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, NULL, SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_DENIED);
	/* Unknown client: denied, whatever the key. */
	assert_int_equal(sg_policy_check(p, "mallory", SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "mallory", SG_OP_SIGN_DIGEST, "nope", SG_HASH_SHA256, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, NULL, SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	/* Allowed through the client's name, every hash by default; ops not granted. */
	assert_int_equal(sg_policy_check(p, "releaser", SG_OP_SIGN_DIGEST, "release-ec",
	                                 SG_HASH_SHA512, SG_PAD_NONE),
	                 0);
	assert_int_equal(
	    sg_policy_check(p, "releaser", SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "releaser", SG_OP_SIGN_DIGEST, "build-ec",
	                                 SG_HASH_SHA256, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "watcher", SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 0);
	assert_int_equal(
	    sg_policy_check(p, "watcher", SG_OP_KEYS_LIST, NULL, SG_HASH_NONE, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "watcher", SG_OP_NONE, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "watcher", (enum sg_op)99, NULL, SG_HASH_NONE, SG_PAD_NONE),
	    SG_ERR_DENIED);
	sg_policy_free(p);
}

static void
test_check_padding(void **state)
{
	struct sg_policy *p = load_valid();

	(void)state;
	/* EC keys take no padding. */
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-ec",
	                                 SG_HASH_SHA256, SG_PAD_PSS),
	                 SG_ERR_BAD_PADDING);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-ec",
	                                 SG_HASH_SHA256, SG_PAD_PKCS1),
	                 SG_ERR_BAD_PADDING);
	/* ci-signing allows only pss on RSA: NONE means pkcs1, so it is denied. */
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-rsa",
	                                 SG_HASH_SHA256, SG_PAD_PSS),
	                 0);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-rsa",
	                                 SG_HASH_SHA256, SG_PAD_PKCS1),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-rsa",
	                                 SG_HASH_SHA256, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-rsa",
	                                 SG_HASH_SHA256, (enum sg_pad)7),
	                 SG_ERR_BAD_PADDING);
	/* The release rule allows every padding. */
	assert_int_equal(sg_policy_check(p, "releaser", SG_OP_SIGN_DIGEST, "build-rsa",
	                                 SG_HASH_SHA256, SG_PAD_NONE),
	                 0);
	assert_int_equal(sg_policy_check(p, "releaser", SG_OP_SIGN_DIGEST, "build-rsa",
	                                 SG_HASH_SHA256, SG_PAD_PKCS1),
	                 0);
	assert_int_equal(sg_policy_check(p, "releaser", SG_OP_SIGN_DIGEST, "build-rsa",
	                                 SG_HASH_SHA512, SG_PAD_PSS),
	                 0);
	sg_policy_free(p);
}

static void
test_key_grants(void **state)
{
	struct sg_policy *p = load_valid();
	const struct sg_policy_key *ec = sg_policy_key_by_name(p, "build-ec");
	const struct sg_policy_key *rsa = sg_policy_key_by_name(p, "build-rsa");
	const struct sg_policy_key *rel = sg_policy_key_by_name(p, "release-ec");
	unsigned ops = 77, hashes = 77;
	const unsigned all =
	    (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384) | (1u << SG_HASH_SHA512);

	(void)state;
	sg_policy_key_grants(p, "ci-runner", ec, &ops, &hashes);
	assert_int_equal(ops, 1u << SG_OP_SIGN_DIGEST);
	assert_int_equal(hashes, (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA384));
	sg_policy_key_grants(p, "ci-runner", rel, &ops, &hashes);
	assert_int_equal(ops, 0);
	assert_int_equal(hashes, 0);
	sg_policy_key_grants(p, "releaser", rel, &ops, &hashes);
	assert_int_equal(ops, 1u << SG_OP_SIGN_DIGEST);
	assert_int_equal(hashes, all);
	/* The release rule names build-rsa with every hash. */
	sg_policy_key_grants(p, "releaser", rsa, &ops, &hashes);
	assert_int_equal(hashes, all);
	sg_policy_key_grants(p, "watcher", ec, &ops, &hashes);
	assert_int_equal(ops, 0);
	assert_int_equal(hashes, 0);
	ops = hashes = 5;
	sg_policy_key_grants(p, "mallory", ec, &ops, &hashes);
	assert_int_equal(ops, 0);
	assert_int_equal(hashes, 0);
	sg_policy_free(p);
}

/* A client holding a role and named directly gets the union of both rules. */
static void
test_role_and_name_union(void **state)
{
	struct sg_policy *p = NULL;
	const struct sg_policy_key *k;
	unsigned ops, hashes;

	(void)state;
	assert_int_equal(
	    load_fmt(&p,
	             "version: 1\n"
	             "clients:\n"
	             "  - {name: a, curve_public_key: \"%s\", roles: [r1, r2]}\n"
	             "  - {name: b, curve_public_key: \"%s\", roles: [r2]}\n"
	             "keys:\n"
	             "  - {name: k, uri: \"label:k\", algorithm: ec-p256, purposes: [sign]}\n"
	             "rules:\n"
	             "  - {roles: [r1, r2], clients: [a], ops: [sign.digest], keys: [k], hashes: "
	             "[sha256]}\n"
	             "  - {clients: [a], ops: [sign.digest], keys: [k], hashes: [sha512]}\n"
	             "  - {roles: [r2], ops: [keys.list]}\n",
	             K[0], K[1]),
	    0);
	k = sg_policy_key_by_name(p, "k");
	sg_policy_key_grants(p, "a", k, &ops, &hashes);
	assert_int_equal(hashes, (1u << SG_HASH_SHA256) | (1u << SG_HASH_SHA512));
	sg_policy_key_grants(p, "b", k, &ops, &hashes);
	assert_int_equal(hashes, 1u << SG_HASH_SHA256);
	assert_int_equal(
	    sg_policy_check(p, "b", SG_OP_SIGN_DIGEST, "k", SG_HASH_SHA512, SG_PAD_NONE),
	    SG_ERR_DENIED);
	assert_int_equal(
	    sg_policy_check(p, "a", SG_OP_SIGN_DIGEST, "k", SG_HASH_SHA512, SG_PAD_NONE), 0);
	assert_int_equal(sg_policy_check(p, "b", SG_OP_KEYS_LIST, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 0);
	assert_int_equal(sg_policy_check(p, "a", SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE),
	                 SG_ERR_DENIED);
	sg_policy_free(p);
}

static void
test_example_policy_loads(void **state)
{
	struct sg_policy *p = NULL;
	char path[512];
	int r;

	(void)state;
	(void)snprintf(path, sizeof(path), "%s/policies/example.yaml", SG_SOURCE_DIR);
	r = sg_policy_load(path, &p, why, sizeof(why));
	if (r != 0)
		fail_msg("%s: %s", path, why);
	assert_non_null(sg_policy_key_by_name(p, "build-signing"));
	assert_int_equal(sg_policy_check(p, "ci-runner", SG_OP_SIGN_DIGEST, "build-signing",
	                                 SG_HASH_SHA256, SG_PAD_NONE),
	                 0);
	sg_policy_free(p);
}

/* Schema errors found by the pre-scan or libcyaml. */

#define CLIENT_A "clients:\n  - name: a\n    curve_public_key: \"%s\"\n"

static void
test_err_unknown_field(void **state)
{
	struct sg_policy *p = (void *)1;

	(void)state;
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    bogus: 1\nkeys: []\nrules: []\n", K[0]),
	    SG_ERR_POLICY);
	assert_null(p);
	assert_why(5, "field 'clients[0].bogus': unknown field");
	assert_int_equal(
	    load_fmt(&p, "version: 1\nextra: 2\n" CLIENT_A "keys: []\nrules: []\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(2, "field 'extra': unknown field");
}

static void
test_err_duplicate_key(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    name: b\nkeys: []\nrules: []\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(5, "field 'clients[0].name': duplicate key 'name' (first at line 3)");
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "keys: []\nrules: []\nversion: 1\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(7, "field 'version': duplicate key 'version' (first at line 1)");
	/* In flow style, on one line. */
	assert_int_equal(load_fmt(&p, "version: 1\nclients: []\nkeys: []\nrules:\n  - {clients: "
	                              "[a], clients: [b], ops: [ping]}\n"),
	                 SG_ERR_POLICY);
	assert_why(5, "field 'rules[0].clients': duplicate key 'clients'");
}

static void
test_err_alias_anchor(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    roles: &r [ci]\nkeys: []\nrules: []\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(5, "field 'clients[0].roles': YAML anchors are not allowed");
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    roles: *r\nkeys: []\nrules: []\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(5, "field 'clients[0].roles': YAML aliases are not allowed");
}

static void
test_err_wrong_type(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    roles: ci\nkeys: []\nrules: []\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(5, "field 'clients[0].roles': wrong type: expected a sequence, got a scalar");
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    max_inflight: lots\nkeys: []\nrules: []\n",
	             K[0]),
	    SG_ERR_POLICY);
	assert_why(5, "field 'clients[0].max_inflight': ");
	assert_int_equal(load_fmt(&p, "version: 1\n" CLIENT_A "keys: {}\nrules: []\n", K[0]),
	                 SG_ERR_POLICY);
	assert_why(5, "field 'keys': wrong type: expected a sequence, got a mapping");
	/* libcyaml's bool takes any word as true: ours is strict. */
	assert_int_equal(
	    load_fmt(&p, "version: 1\nclients: []\nkeys:\n  - name: k\n    uri: \"label:k\"\n"
	                 "    algorithm: ec-p256\n    purposes: [sign]\n    self_verify: "
	                 "flase\nrules: []\n"),
	    SG_ERR_POLICY);
	assert_why(8, "field 'keys[0].self_verify': ");
	assert_int_equal(load_fmt(&p, "- version: 1\n"), SG_ERR_POLICY);
	assert_why(1, "the top level must be a mapping");
}

static void
test_err_missing_field(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(
	    load_fmt(&p,
	             "version: 1\nclients:\n  - name: a\n    roles: [x]\nkeys: []\nrules: []\n"),
	    SG_ERR_POLICY);
	assert_why(3, "field 'clients[0].curve_public_key': required field missing");
	assert_int_equal(load_fmt(&p, "version: 1\nclients: []\nkeys: []\n"), SG_ERR_POLICY);
	assert_why(1, "field 'rules': required field missing");
	assert_int_equal(
	    load_fmt(&p, "version: 1\nclients: []\nkeys:\n  - name: k\n    uri: \"label:k\"\n"
	                 "    algorithm: ec-p256\nrules: []\n"),
	    SG_ERR_POLICY);
	assert_why(4, "field 'keys[0].purposes': required field missing");
}

static void
test_err_bad_z85(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(load_fmt(&p, "version: 1\n" CLIENT_A "keys: []\nrules: []\n", K[3]),
	                 SG_ERR_POLICY);
	assert_why(4, "field 'clients[0].curve_public_key': not a Z85 CURVE public key");
	assert_int_equal(load_fmt(&p, "version: 1\n" CLIENT_A "keys: []\nrules: []\n", "abcde"),
	                 SG_ERR_POLICY);
	assert_why(4, "field 'clients[0].curve_public_key': not a Z85");
	/* 40 valid characters whose value overflows 32 bits per group. */
	assert_int_equal(load_fmt(&p, "version: 1\n" CLIENT_A "keys: []\nrules: []\n",
	                          "########################################"),
	                 SG_ERR_POLICY);
	assert_why(4, "field 'clients[0].curve_public_key': not a Z85");
}

static void
test_err_duplicate_client(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(
	    load_fmt(&p,
	             "version: 1\n" CLIENT_A "  - name: b\n    curve_public_key: \"%s\"\n"
	             "  - name: a\n    curve_public_key: \"%s\"\nkeys: []\nrules: []\n",
	             K[0], K[1], K[2]),
	    SG_ERR_POLICY);
	assert_why(7, "field 'clients[2].name': duplicate client name 'a' (also clients[0])");
	assert_int_equal(
	    load_fmt(&p,
	             "version: 1\n" CLIENT_A "  - name: b\n    curve_public_key: \"%s\"\n"
	             "  - name: c\n    curve_public_key: \"%s\"\nkeys: []\nrules: []\n",
	             K[0], K[1], K[0]),
	    SG_ERR_POLICY);
	assert_why(8, "field 'clients[2].curve_public_key': public key of client 'c' is also that "
	              "of client 'a'");
	assert_int_equal(load_fmt(&p,
	                          "version: 1\nclients:\n  - name: \"a b\"\n    curve_public_key: "
	                          "\"%s\"\nkeys: []\nrules: []\n",
	                          K[0]),
	                 SG_ERR_POLICY);
	assert_why(3, "field 'clients[0].name': invalid client name 'a b'");
}

#define KEY_FMT                                                                                    \
	"version: 1\nclients: []\nkeys:\n"                                                         \
	"  - name: k\n    uri: \"%s\"\n    algorithm: %s\n    purposes: [%s]\n%s"                  \
	"rules: []\n"

static void
test_err_keys(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(
	    load_fmt(&p, KEY_FMT, "label:k", "rsa-2048", "sign", "    self_verify: false\n"),
	    SG_ERR_POLICY);
	assert_why(8,
	           "field 'keys[0].self_verify': self_verify: false is only allowed for EC keys");
	assert_int_equal(load_fmt(&p, KEY_FMT, "label:k", "rsa-1024", "sign", ""), SG_ERR_POLICY);
	assert_why(6, "field 'keys[0].algorithm': unknown algorithm 'rsa-1024'");
	assert_int_equal(load_fmt(&p, KEY_FMT, "label:k", "ec-p256", "sign, cms", ""),
	                 SG_ERR_POLICY);
	assert_why(7, "field 'keys[0].purposes[1]': unknown purpose 'cms'");
	assert_int_equal(load_fmt(&p, KEY_FMT, "file:/etc/passwd", "ec-p256", "sign", ""),
	                 SG_ERR_POLICY);
	assert_why(5, "field 'keys[0].uri': expected a \"pkcs11:\" URI");
	assert_int_equal(load_fmt(&p, KEY_FMT, "pkcs11:", "ec-p256", "sign", ""), SG_ERR_POLICY);
	assert_why(5, "field 'keys[0].uri': ");
	assert_int_equal(
	    load_fmt(&p, "version: 1\nclients: []\nkeys:\n"
	                 "  - {name: k, uri: \"label:k\", algorithm: ec-p256, purposes: [sign]}\n"
	                 "  - {name: k, uri: \"label:l\", algorithm: ec-p256, purposes: [sign]}\n"
	                 "rules: []\n"),
	    SG_ERR_POLICY);
	assert_why(5, "field 'keys[1].name': duplicate key name 'k' (also keys[0])");
	/* Boundary: a URI of exactly SG_POLICY_URI_MAX characters loads, one more does not. */
	{
		char uri[SG_POLICY_URI_MAX + 2];

		memset(uri, 'x', sizeof(uri));
		memcpy(uri, "label:", 6);
		uri[SG_POLICY_URI_MAX] = '\0';
		assert_int_equal(load_fmt(&p, KEY_FMT, uri, "ec-p256", "sign", ""), 0);
		sg_policy_free(p);
		p = NULL;
		uri[SG_POLICY_URI_MAX] = 'x';
		uri[SG_POLICY_URI_MAX + 1] = '\0';
		assert_int_equal(load_fmt(&p, KEY_FMT, uri, "ec-p256", "sign", ""), SG_ERR_POLICY);
		assert_why(5, "field 'keys[0].uri': string longer than 512 characters");
	}
}

#define RULE_BASE                                                                                  \
	"version: 1\n" CLIENT_A "    roles: [ci]\n"                                                \
	"keys:\n  - {name: k, uri: \"label:k\", algorithm: rsa-2048, purposes: [sign]}\n"          \
	"rules:\n  - name: r\n"
/* The rule starts on line 9, its next field on line 10. */

static void
test_err_rules(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(load_fmt(&p, RULE_BASE "    clients: [a, b]\n    ops: [ping]\n", K[0]),
	                 SG_ERR_POLICY);
	assert_why(10, "field 'rules[0].clients[1]': unknown client 'b'");
	assert_int_equal(load_fmt(&p, RULE_BASE "    roles: [release]\n    ops: [ping]\n", K[0]),
	                 SG_ERR_POLICY);
	assert_why(10, "field 'rules[0].roles[0]': role 'release' is held by no client");
	assert_int_equal(
	    load_fmt(&p, RULE_BASE "    roles: [ci]\n    ops: [sign.digest]\n    keys: [k, nope]\n",
	             K[0]),
	    SG_ERR_POLICY);
	assert_why(12, "field 'rules[0].keys[1]': unknown key 'nope'");
	assert_int_equal(
	    load_fmt(&p, RULE_BASE "    roles: [ci]\n    ops: [ping, sign.raw]\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(11, "field 'rules[0].ops[1]': unknown op 'sign.raw'");
	assert_int_equal(
	    load_fmt(&p,
	             RULE_BASE
	             "    roles: [ci]\n    ops: [sign.digest]\n    keys: [k]\n    hashes: [md5]\n",
	             K[0]),
	    SG_ERR_POLICY);
	assert_why(13, "field 'rules[0].hashes[0]': unknown hash 'md5'");
	assert_int_equal(load_fmt(&p,
	                          RULE_BASE "    roles: [ci]\n    ops: [sign.digest]\n    keys: "
	                                    "[k]\n    paddings: [pss, none]\n",
	                          K[0]),
	                 SG_ERR_POLICY);
	assert_why(13, "field 'rules[0].paddings[1]': unknown padding 'none'");
	assert_int_equal(load_fmt(&p, RULE_BASE "    roles: [ci]\n    ops: [sign.digest]\n", K[0]),
	                 SG_ERR_POLICY);
	assert_why(9, "field 'rules[0].keys': required when 'ops' has an op on a key");
	assert_int_equal(
	    load_fmt(&p, RULE_BASE "    roles: [ci]\n    ops: [ping]\n    keys: [k]\n", K[0]),
	    SG_ERR_POLICY);
	assert_why(12, "field 'rules[0].keys': only allowed when 'ops' has an op on a key");
	assert_int_equal(
	    load_fmt(&p, RULE_BASE "    roles: [ci]\n    ops: [keys.list]\n    hashes: [sha256]\n",
	             K[0]),
	    SG_ERR_POLICY);
	assert_why(12, "field 'rules[0].hashes': only allowed");
	assert_int_equal(load_fmt(&p, RULE_BASE "    ops: [ping]\n", K[0]), SG_ERR_POLICY);
	assert_why(9, "field 'rules[0]': a rule needs 'clients' or 'roles'");
	assert_int_equal(load_fmt(&p, RULE_BASE "    clients: []\n    ops: [ping]\n", K[0]),
	                 SG_ERR_POLICY);
	assert_why(10, "field 'rules[0].clients': ");
	assert_int_equal(load_fmt(&p, RULE_BASE "    roles: [ci]\n    ops: []\n", K[0]),
	                 SG_ERR_POLICY);
	assert_why(11, "field 'rules[0].ops': ");
	/* A keyless op beside a key op: keys then apply to the key op. */
	assert_int_equal(
	    load_fmt(&p, RULE_BASE "    roles: [ci]\n    ops: [ping, sign.digest]\n    keys: [k]\n",
	             K[0]),
	    0);
	assert_int_equal(sg_policy_check(p, "a", SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE), 0);
	sg_policy_free(p);
}

static void
test_err_version(void **state)
{
	struct sg_policy *p = NULL;

	(void)state;
	assert_int_equal(load_fmt(&p, "clients: []\nkeys: []\nrules: []\nversion: 2\n"),
	                 SG_ERR_POLICY);
	assert_why(4, "field 'version': unsupported policy version 2 (expected 1)");
	assert_int_equal(load_fmt(&p, "version: -1\nclients: []\nkeys: []\nrules: []\n"),
	                 SG_ERR_POLICY);
	assert_why(1, "field 'version': ");
	assert_int_equal(load_fmt(&p, "clients: []\nkeys: []\nrules: []\n"), SG_ERR_POLICY);
	assert_why(1, "field 'version': required field missing");
}

static void
test_err_file(void **state)
{
	struct sg_policy *p = NULL;
	char big_path[300], text[600];
	char *big;
	size_t n = SG_YAML_MAX_FILE + 1, i;
	int len;

	(void)state;
	assert_int_equal(load_fmt(&p, "%s", ""), SG_ERR_POLICY);
	assert_string_equal(why + strlen(ppath), ": file is empty");
	assert_int_equal(load_fmt(&p, "# only a comment\n\n"), SG_ERR_POLICY);
	assert_non_null(strstr(why, "file is empty"));
	assert_int_equal(
	    load_fmt(&p, "version: 1\nclients: []\nkeys: []\nrules: []\n---\nversion: 1\n"),
	    SG_ERR_POLICY);
	assert_why(5, "only one YAML document is allowed");
	assert_int_equal(load_fmt(&p, "version: 1\nclients: [\nkeys: []\n"), SG_ERR_POLICY);
	assert_non_null(strstr(why, "YAML syntax error"));

	/* A valid policy padded with a comment past the cap. */
	len = snprintf(text, sizeof(text), "version: 1\nclients: []\nkeys: []\nrules: []\n#");
	big = malloc(n);
	assert_non_null(big);
	memcpy(big, text, (size_t)len);
	for (i = (size_t)len; i < n - 1; i++)
		big[i] = 'x';
	big[n - 1] = '\n';
	(void)snprintf(big_path, sizeof(big_path), "%s/big.yaml", tmpdir);
	write_file(big_path, big, n);
	assert_int_equal(sg_policy_load(big_path, &p, why, sizeof(why)), SG_ERR_POLICY);
	assert_non_null(strstr(why, "larger than 1048576 bytes"));
	/* One byte less is accepted. */
	big[n - 2] = '\n';
	write_file(big_path, big, n - 1);
	assert_int_equal(sg_policy_load(big_path, &p, why, sizeof(why)), 0);
	sg_policy_free(p);
	p = NULL;
	free(big);

	(void)snprintf(big_path, sizeof(big_path), "%s/missing.yaml", tmpdir);
	assert_int_equal(sg_policy_load(big_path, &p, why, sizeof(why)), SG_ERR_NOT_FOUND);
	assert_null(p);
	assert_int_equal(sg_policy_load(tmpdir, &p, why, sizeof(why)), SG_ERR_IO);
	assert_null(p);
}

static void
test_err_limits(void **state)
{
	struct sg_policy *p = NULL;
	size_t cap = 80 * (SG_POLICY_MAX_KEYS + 2) + 200, len, i;
	char *text = malloc(cap);
	int n;

	(void)state;
	assert_non_null(text);
	len = (size_t)snprintf(text, cap, "version: 1\nclients: []\nrules: []\nkeys:\n");
	for (i = 0; i <= SG_POLICY_MAX_KEYS; i++) {
		n = snprintf(
		    text + len, cap - len,
		    "  - {name: k%zu, uri: \"label:k\", algorithm: ec-p256, purposes: [sign]}\n",
		    i);
		len += (size_t)n;
	}
	write_file(ppath, text, len);
	assert_int_equal(sg_policy_load(ppath, &p, why, sizeof(why)), SG_ERR_POLICY);
	assert_why(4, "field 'keys': too many entries (at most 1024)");
	free(text);

	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    max_inflight: 65537\nkeys: []\nrules: []\n",
	             K[0]),
	    SG_ERR_POLICY);
	assert_why(5, "field 'clients[0].max_inflight': 65537 is out of range");
	assert_int_equal(
	    load_fmt(&p, "version: 1\n" CLIENT_A "    max_inflight: 65536\nkeys: []\nrules: []\n",
	             K[0]),
	    0);
	assert_int_equal(sg_policy_client_max_inflight(sg_policy_client_by_name(p, "a")), 65536);
	sg_policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_accessors),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_check_padding),
	    cmocka_unit_test(test_key_grants),
	    cmocka_unit_test(test_role_and_name_union),
	    cmocka_unit_test(test_example_policy_loads),
	    cmocka_unit_test(test_err_unknown_field),
	    cmocka_unit_test(test_err_duplicate_key),
	    cmocka_unit_test(test_err_alias_anchor),
	    cmocka_unit_test(test_err_wrong_type),
	    cmocka_unit_test(test_err_missing_field),
	    cmocka_unit_test(test_err_bad_z85),
	    cmocka_unit_test(test_err_duplicate_client),
	    cmocka_unit_test(test_err_keys),
	    cmocka_unit_test(test_err_rules),
	    cmocka_unit_test(test_err_version),
	    cmocka_unit_test(test_err_file),
	    cmocka_unit_test(test_err_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
