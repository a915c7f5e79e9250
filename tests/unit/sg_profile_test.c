/*
 * Unit tests of sg_profile: the shipped example profiles load; a full
 * profile's every field as loaded; every schema and semantic error at load,
 * each with SG_ERR_POLICY and the file, line and field named; the directory
 * rules; sg_profile_apply on CSRs made here with OpenSSL, with the exact code
 * of each rule broken (key types, CA:TRUE, critical and unknown extensions,
 * subject rules, SAN rules, TTL, the issuer's validity, path length and name
 * constraints) and the exact parameters of each accepted request; the
 * cross-check against a policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "sg_err.h"
#include "sg_policy.h"
#include "sg_profile.h"

static char tmpdir[] = "/tmp/sg_profile_test.XXXXXX";
static char pdir[300]; /* the profiles directory of the current test */
static char why[1024];
static time_t now;

static struct {
	EVP_PKEY *root_key, *int_key, *p256, *p384, *rsa2048, *rsa1024, *k1, *ed;
	X509 *root, *inter, *int_pl0, *expired, *future, *short_lived, *not_ca, *nc_ca, *no_kcs;
} pki;

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Empties the profiles directory (a fresh one per call). */
static void
reset_dir(void)
{
	static int n;
	char cmd[400];

	if (pdir[0] != '\0') {
		(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pdir);
		assert_int_equal(system(cmd), 0);
	}
	(void)snprintf(pdir, sizeof(pdir), "%s/p%d", tmpdir, n++);
	assert_int_equal(mkdir(pdir, 0700), 0);
}

/* Writes pdir/NAME.yaml. */
static void write_profile(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
write_profile(const char *name, const char *fmt, ...)
{
	char path[400], text[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(text));
	(void)snprintf(path, sizeof(path), "%s/%s.yaml", pdir, name);
	write_file(path, text);
}

static int
load(struct sg_profiles **ps)
{
	why[0] = '\0';
	return sg_profiles_load(pdir, ps, why, sizeof(why));
}

/* Asserts why starts with "<pdir>/<file>.yaml:<line>: <rest>". */
static void
assert_why_at(const char *file, unsigned line, const char *rest)
{
	char want[1024];

	(void)snprintf(want, sizeof(want), "%s/%s.yaml:%u: %s", pdir, file, line, rest);
	if (strncmp(why, want, strlen(want)) != 0)
		fail_msg("why is \"%s\", expected it to start with \"%s\"", why, want);
}

static void
assert_why_has(const char *part)
{
	if (strstr(why, part) == NULL)
		fail_msg("why is \"%s\", expected it to contain \"%s\"", why, part);
}

/*
 * The leaf profile of most tests, one line per field (the line numbers are
 * what the error tests expect).  leaf_with() replaces one line.
 */
static const char *const leaf_lines[] = {
    "version: 1",                                                    /* 1 */
    "name: leaf",                                                    /* 2 */
    "kind: leaf",                                                    /* 3 */
    "issuer: int",                                                   /* 4 */
    "key_types: [ec-p256, rsa-2048]",                                /* 5 */
    "hash: sha384",                                                  /* 6 */
    "subject:",                                                      /* 7 */
    "  - {attribute: O, value: \"Signet Test\"}",                    /* 8 */
    "  - {attribute: OU, max: 2}",                                   /* 9 */
    "  - {attribute: CN, required: true, pattern: \"[a-z0-9.-]+\"}", /* 10 */
    "san:",                                                          /* 11 */
    "  max: 4",                                                      /* 12 */
    "  min: 1",                                                      /* 13 */
    "  dns_suffixes: [example.com, .svc.Example.NET]",               /* 14 */
    "  ip_ranges: [10.0.0.0/8, \"fd00::/8\"]",                       /* 15 */
    "  uri_prefixes: [\"spiffe://example.com/ns/\"]",                /* 16 */
    "key_usage: [digitalSignature, keyEncipherment]",                /* 17 */
    "extended_key_usage: [serverAuth, clientAuth]",                  /* 18 */
    "ttl: {default: 24h, max: 72h}",                                 /* 19 */
    "backdate: 5m",                                                  /* 20 */
    "crl_distribution_point: \"http://127.0.0.1:8080/crl/int.crl\"", /* 21 */
    "aia: {ca_issuers: \"http://127.0.0.1:8080/ca/int.crt\", ocsp: " /* 22 */
    "\"http://127.0.0.1:8080/ocsp\"}",                               /* 22 */
    "certificate_policies: [2.23.140.1.2.1]",                        /* 23 */
    "crl_next_update: 12h",                                          /* 24 */
    NULL,
};

/* The leaf profile with line `line` (1-based) replaced by repl (NULL: the profile as is). */
static void
leaf_with(unsigned line, const char *repl)
{
	char text[8192];
	size_t i, n = 0;

	text[0] = '\0';
	for (i = 0; leaf_lines[i] != NULL; i++) {
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\n",
		                      i + 1 == line && repl != NULL ? repl : leaf_lines[i]);
		assert_true(n < sizeof(text));
	}
	write_profile("leaf", "%s", text);
}

#define SUBCA_FMT                                                                                  \
	"version: 1\n"                                                   /* 1 */                   \
	"name: sub-ca\n"                                                 /* 2 */                   \
	"kind: intermediate-ca\n"                                        /* 3 */                   \
	"issuer: root\n"                                                 /* 4 */                   \
	"key_types: [ec-p384]\n"                                         /* 5 */                   \
	"subject:\n"                                                     /* 6 */                   \
	"  - {attribute: O, value: \"Signet Test\"}\n"                   /* 7 */                   \
	"  - {attribute: CN, required: true}\n"                          /* 8 */                   \
	"basic_constraints: {ca: true%s}\n"                              /* 9 */                   \
	"name_constraints: {permitted_dns: [example.com], excluded_ip: " /* 10 */                  \
	"[0.0.0.0/0, \"::/0\"]}\n"                                                                 \
	"ttl: {default: 365d, max: 730d}\n" /* 11 */

/* Keys and certificates. */

static EVP_PKEY *
mkkey(const char *type)
{
	EVP_PKEY *k;

	if (strcmp(type, "RSA-2048") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(type, "RSA-1024") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	else if (strcmp(type, "ED25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", type);
	assert_non_null(k);
	return k;
}

/* Adds "name=value" extensions (X509V3_EXT_nconf syntax) to sk. */
static void
add_exts(STACK_OF(X509_EXTENSION) * *sk, X509V3_CTX *ctx, const char *const *exts)
{
	X509_EXTENSION *ext;
	CONF *conf = NCONF_new(NULL); /* empty, for the extensions that want a database */
	char buf[512], *eq;
	size_t i;

	assert_non_null(conf);
	X509V3_set_nconf(ctx, conf);
	for (i = 0; exts != NULL && exts[i] != NULL; i++) {
		(void)snprintf(buf, sizeof(buf), "%s", exts[i]);
		eq = strchr(buf, '=');
		assert_non_null(eq);
		*eq = '\0';
		ext = X509V3_EXT_nconf(conf, ctx, buf, eq + 1);
		if (ext == NULL)
			fail_msg("extension %s", exts[i]);
		assert_non_null(X509v3_add_ext(sk, ext, -1));
		X509_EXTENSION_free(ext);
	}
	NCONF_free(conf);
}

/*
 * A certificate named cn for pub, issued by issuer (NULL: self-signed) with
 * sign_key, valid from now + nb to now + na seconds.
 */
static X509 *
mkcert(const char *cn, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *sign_key, long nb, long na,
       const char *const *exts)
{
	STACK_OF(X509_EXTENSION) *sk = NULL;
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	static long serial = 1;
	int i;

	assert_non_null(x);
	assert_true(X509_set_version(x, X509_VERSION_3));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++));
	assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
	                                       -1, -1, 0));
	assert_true(X509_set_subject_name(x, name));
	assert_true(X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name));
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), 0, nb, &now));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), 0, na, &now));
	assert_true(X509_set_pubkey(x, pub));
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	add_exts(&sk, &ctx, exts);
	for (i = 0; i < sk_X509_EXTENSION_num(sk); i++)
		assert_true(X509_add_ext(x, sk_X509_EXTENSION_value(sk, i), -1));
	sk_X509_EXTENSION_pop_free(sk, X509_EXTENSION_free);
	assert_true(X509_sign(x, sign_key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	return x;
}

/*
 * A CSR for key: subj is a NULL-terminated list of "ATTR=value" (a leading
 * '+' joins the previous RDN; values are UTF8Strings whatever the attribute), exts of "name=value"
 * for the extensionRequest (NULL: none).
 */
static X509_REQ *
mkcsr(EVP_PKEY *key, const char *const *subj, const char *const *exts)
{
	STACK_OF(X509_EXTENSION) *sk = NULL;
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	char buf[512], *eq;
	size_t i;
	int plus;

	assert_non_null(req);
	assert_non_null(name);
	for (i = 0; subj != NULL && subj[i] != NULL; i++) {
		plus = subj[i][0] == '+';
		(void)snprintf(buf, sizeof(buf), "%s", subj[i] + plus);
		eq = strchr(buf, '=');
		assert_non_null(eq);
		*eq = '\0';
		/* A raw UTF8String: no length or character checks, as a hostile CSR has it. */
		assert_true(X509_NAME_add_entry_by_txt(name, buf, V_ASN1_UTF8STRING,
		                                       (const unsigned char *)eq + 1, -1, -1,
		                                       plus ? -1 : 0));
	}
	assert_true(X509_REQ_set_subject_name(req, name));
	assert_true(X509_REQ_set_pubkey(req, key));
	if (exts != NULL) {
		X509V3_set_ctx(&ctx, NULL, NULL, req, NULL, 0);
		add_exts(&sk, &ctx, exts);
		assert_true(X509_REQ_add_extensions(req, sk));
		sk_X509_EXTENSION_pop_free(sk, X509_EXTENSION_free);
	}
	assert_true(
	    X509_REQ_sign(req, key,
	                  EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256()) > 0);
	X509_NAME_free(name);
	return req;
}

static const char *const ext_ca[] = {"basicConstraints=critical,CA:TRUE",
                                     "keyUsage=critical,keyCertSign,cRLSign",
                                     "subjectKeyIdentifier=hash", NULL};
static const char *const ext_ca_pl0[] = {"basicConstraints=critical,CA:TRUE,pathlen:0",
                                         "keyUsage=critical,keyCertSign,cRLSign", NULL};
static const char *const ext_leaf[] = {"basicConstraints=critical,CA:FALSE",
                                       "keyUsage=critical,digitalSignature", NULL};
static const char *const ext_nc_ca[] = {
    "basicConstraints=critical,CA:TRUE,pathlen:0", "keyUsage=critical,keyCertSign,cRLSign",
    "nameConstraints=critical,permitted;DNS:example.com,permitted;IP:10.0.0.0/255.0.0.0", NULL};
static const char *const ext_no_kcs[] = {"basicConstraints=critical,CA:TRUE",
                                         "keyUsage=critical,cRLSign", NULL};

static int
setup(void **state)
{
	(void)state;
	now = time(NULL);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	pki.root_key = mkkey("P-384");
	pki.int_key = mkkey("P-384");
	pki.p256 = mkkey("P-256");
	pki.p384 = mkkey("P-384");
	pki.rsa2048 = mkkey("RSA-2048");
	pki.rsa1024 = mkkey("RSA-1024");
	pki.k1 = mkkey("secp256k1");
	pki.ed = mkkey("ED25519");
	pki.root = mkcert("Root", pki.root_key, NULL, pki.root_key, -3600, 3650L * 86400, ext_ca);
	pki.inter = mkcert("Int", pki.int_key, pki.root, pki.root_key, -3600, 365L * 86400, ext_ca);
	pki.int_pl0 =
	    mkcert("Int 0", pki.int_key, pki.root, pki.root_key, -3600, 365L * 86400, ext_ca_pl0);
	pki.expired = mkcert("Old", pki.int_key, pki.root, pki.root_key, -7200, -3600, ext_ca);
	pki.future = mkcert("New", pki.int_key, pki.root, pki.root_key, 3600, 7200, ext_ca);
	pki.short_lived = mkcert("Short", pki.int_key, pki.root, pki.root_key, -60, 3600, ext_ca);
	pki.not_ca = mkcert("Leaf", pki.int_key, pki.root, pki.root_key, -3600, 86400, ext_leaf);
	pki.nc_ca =
	    mkcert("NC", pki.int_key, pki.root, pki.root_key, -3600, 365L * 86400, ext_nc_ca);
	pki.no_kcs =
	    mkcert("No KCS", pki.int_key, pki.root, pki.root_key, -3600, 86400, ext_no_kcs);
	return 0;
}

static int
teardown(void **state)
{
	EVP_PKEY *keys[] = {pki.root_key, pki.int_key, pki.p256, pki.p384,
	                    pki.rsa2048,  pki.rsa1024, pki.k1,   pki.ed};
	X509 *certs[] = {pki.root,        pki.inter,  pki.int_pl0, pki.expired, pki.future,
	                 pki.short_lived, pki.not_ca, pki.nc_ca,   pki.no_kcs};
	char cmd[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		EVP_PKEY_free(keys[i]);
	for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		X509_free(certs[i]);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd);
}

/* Loads the leaf profile (as leaf_with left it) and the sub-ca profile. */
static struct sg_profiles *
load_ok(void)
{
	struct sg_profiles *ps = NULL;

	if (load(&ps) != 0)
		fail_msg("profiles refused: %s", why);
	assert_non_null(ps);
	return ps;
}

/* The standard pair: leaf and sub-ca (path_len 0). */
static struct sg_profiles *
load_std(void)
{
	reset_dir();
	leaf_with(0, NULL);
	write_profile("sub-ca", SUBCA_FMT, ", path_len: 0");
	return load_ok();
}

/* Loading. */

static void
test_examples_load(void **state)
{
	struct sg_profiles *ps = NULL;
	const struct sg_profile *p;
	char dir[512];

	(void)state;
	(void)snprintf(dir, sizeof(dir), "%s/policies/profiles", SG_SOURCE_DIR);
	if (sg_profiles_load(dir, &ps, why, sizeof(why)) != 0)
		fail_msg("the example profiles do not load: %s", why);
	assert_int_equal(sg_profiles_count(ps), 2);
	p = sg_profiles_at(ps, 0);
	assert_string_equal(sg_profile_name(p), "intermediate-ca");
	assert_int_equal(sg_profile_kind(p), SG_PROFILE_INTERMEDIATE_CA);
	assert_string_equal(sg_profile_issuer(p), "dev-root-ca");
	assert_true(sg_profile_key_allowed(p, SG_KEYALG_EC_P384));
	p = sg_profiles_at(ps, 1);
	assert_string_equal(sg_profile_name(p), "leaf-tls");
	assert_int_equal(sg_profile_kind(p), SG_PROFILE_LEAF);
	assert_string_equal(sg_profile_issuer(p), "int-dev");
	assert_int_equal(sg_profile_ttl_default(p), 86400);
	assert_true(sg_profile_key_allowed(p, SG_KEYALG_EC_P256));
	assert_true(sg_profile_key_allowed(p, SG_KEYALG_RSA_2048));
	assert_null(sg_profiles_at(ps, 2));
	sg_profiles_free(ps);
}

static void
test_load_fields(void **state)
{
	struct sg_profiles *ps = load_std();
	const struct sg_profile *p;

	(void)state;
	assert_int_equal(sg_profiles_count(ps), 2);
	/* Sorted by name; found by name. */
	assert_string_equal(sg_profile_name(sg_profiles_at(ps, 0)), "leaf");
	assert_string_equal(sg_profile_name(sg_profiles_at(ps, 1)), "sub-ca");
	p = sg_profiles_find(ps, "leaf");
	assert_ptr_equal(p, sg_profiles_at(ps, 0));
	assert_null(sg_profiles_find(ps, "Leaf"));
	assert_null(sg_profiles_find(ps, "none"));
	assert_null(sg_profiles_find(ps, NULL));
	assert_int_equal(sg_profile_kind(p), SG_PROFILE_LEAF);
	assert_string_equal(sg_profile_issuer(p), "int");
	assert_int_equal(sg_profile_hash(p), SG_HASH_SHA384);
	assert_int_equal(sg_profile_ttl_default(p), 86400);
	assert_int_equal(sg_profile_ttl_max(p), 3 * 86400);
	assert_int_equal(sg_profile_crl_next_update(p), 12 * 3600);
	assert_true(sg_profile_key_allowed(p, SG_KEYALG_EC_P256));
	assert_true(sg_profile_key_allowed(p, SG_KEYALG_RSA_2048));
	assert_false(sg_profile_key_allowed(p, SG_KEYALG_EC_P384));
	assert_false(sg_profile_key_allowed(p, SG_KEYALG_RSA_4096));
	assert_false(sg_profile_key_allowed(p, SG_KEYALG_NONE));
	assert_non_null(strstr(sg_profile_path(p), "/leaf.yaml"));
	p = sg_profiles_find(ps, "sub-ca");
	assert_int_equal(sg_profile_kind(p), SG_PROFILE_INTERMEDIATE_CA);
	assert_int_equal(sg_profile_hash(p), SG_HASH_SHA256); /* the default */
	assert_int_equal(sg_profile_ttl_default(p), 365 * 86400);
	assert_int_equal(sg_profile_ttl_max(p), 730 * 86400);
	assert_int_equal(sg_profile_crl_next_update(p), 86400); /* the default */
	/* The CRL interval of an issuer: the shortest of its profiles. */
	assert_int_equal(sg_profiles_crl_next_update(ps, "int"), 12 * 3600);
	assert_int_equal(sg_profiles_crl_next_update(ps, "root"), 86400);
	assert_int_equal(sg_profiles_crl_next_update(ps, "other"), 0);
	sg_profiles_free(ps);
	/* Defaults of a minimal leaf: 24 h, max = default, 5 min, sha256. */
	reset_dir();
	write_profile("min", "version: 1\nname: min\nkind: leaf\nissuer: i\nkey_types: [ec-p256]\n"
	                     "subject: [{attribute: CN}]\n");
	write_profile("min2", "version: 1\nname: min2\nkind: leaf\nissuer: i\nkey_types: "
	                      "[ec-p256]\nsubject: [{attribute: CN}]\ncrl_next_update: 6h\n");
	ps = load_ok();
	p = sg_profiles_find(ps, "min");
	assert_int_equal(sg_profile_ttl_default(p), 86400);
	assert_int_equal(sg_profile_ttl_max(p), 86400);
	assert_int_equal(sg_profile_hash(p), SG_HASH_SHA256);
	assert_int_equal(sg_profiles_crl_next_update(ps, "i"), 6 * 3600);
	sg_profiles_free(ps);
	sg_profiles_free(NULL);
	assert_int_equal(sg_profiles_count(NULL), 0);
}

/* Expects the leaf profile with line `line` replaced by repl to be refused. */
static void
leaf_err(unsigned line, const char *repl, unsigned err_line, const char *rest)
{
	struct sg_profiles *ps = (void *)1;

	reset_dir();
	leaf_with(line, repl);
	assert_int_equal(load(&ps), SG_ERR_POLICY);
	assert_null(ps);
	assert_why_at("leaf", err_line, rest);
}

static void
test_err_schema(void **state)
{
	(void)state;
	/* Unknown fields, duplicate keys, aliases: sg_yaml's strictness. */
	leaf_err(20, "backdate: 5m\nbogus: 1", 21, "field 'bogus': ");
	leaf_err(12, "  max: 4\n  maximum: 5", 13, "field 'san.maximum': ");
	leaf_err(20, "backdate: 5m\nbackdate: 6m", 21, "field 'backdate': ");
	leaf_err(8, "  - &a {attribute: O, value: \"Signet Test\"}\n  - *a", 8, "");
	leaf_err(1, "version: 2", 1, "field 'version': unsupported profile version 2 (expected 1)");
	leaf_err(2, "name: other", 2,
	         "field 'name': 'other' is not the file's name: profile other must be in "
	         "other.yaml");
	leaf_err(3, "kind: root", 3, "field 'kind': ");
	leaf_err(4, "issuer: \"a b\"", 4, "field 'issuer': invalid key name 'a b'");
	leaf_err(5, "key_types: [ec-p256, rsa-1024]", 5,
	         "field 'key_types[1]': unknown key type 'rsa-1024'");
	leaf_err(5, "key_types: []", 5, "field 'key_types': ");
	leaf_err(6, "hash: md5", 6, "field 'hash': unknown hash 'md5'");
	leaf_err(19, "ttl: {default: 24h, max: 72h, min: 1h}", 19, "field 'ttl.min': ");
	leaf_err(9, "  - {attribute: OU, max: -1}", 9, "field 'subject[1].max': ");
	leaf_err(13, "  min: yes", 13, "field 'san.min': ");
	leaf_err(9, "  - {attribute: OU, required: yes}", 9, "field 'subject[1].required': ");
}

static void
test_err_semantics(void **state)
{
	(void)state;
	/* Basic constraints agree with the kind. */
	leaf_err(20, "backdate: 5m\nbasic_constraints: {ca: true}", 21,
	         "field 'basic_constraints.ca': a leaf profile cannot make CA certificates");
	leaf_err(20, "backdate: 5m\nbasic_constraints: {ca: false, path_len: 0}", 21,
	         "field 'basic_constraints.path_len': only for kind: intermediate-ca");
	leaf_err(20, "backdate: 5m\nname_constraints: {permitted_dns: [example.com]}", 21,
	         "field 'name_constraints': only for kind: intermediate-ca");
	/* TTLs: max at least the default, durations well-formed and in range. */
	leaf_err(19, "ttl: {default: 24h, max: 12h}", 19,
	         "field 'ttl.max': 12h is less than the default (24h)");
	leaf_err(19, "ttl: {max: 12h}", 19, "field 'ttl.max': 12h is less than the default (24h)");
	leaf_err(19, "ttl: {default: 24, max: 72h}", 19,
	         "field 'ttl.default': '24' is not a duration");
	leaf_err(19, "ttl: {default: 1h, max: 1y}", 19, "field 'ttl.max': '1y' is not a duration");
	leaf_err(19, "ttl: {default: 30s}", 19, "field 'ttl.default': 30s is out of range");
	leaf_err(19, "ttl: {default: 1h, max: 7400d}", 19,
	         "field 'ttl.max': 7400d is out of range");
	leaf_err(20, "backdate: 2d", 20, "field 'backdate': 2d is out of range");
	leaf_err(24, "crl_next_update: 1m", 24, "field 'crl_next_update': 1m is out of range");
	leaf_err(24, "crl_next_update: h", 24, "field 'crl_next_update': 'h' is not a duration");
	/* OIDs, URLs. */
	leaf_err(23, "certificate_policies: [2.23.140.1.2.1, 2.23.140..1]", 23,
	         "field 'certificate_policies[1]': '2.23.140..1' is not a dotted OID");
	leaf_err(23, "certificate_policies: [anyPolicy]", 23,
	         "field 'certificate_policies[0]': 'anyPolicy' is not a dotted OID");
	leaf_err(23, "certificate_policies: [1.02.3]", 23,
	         "field 'certificate_policies[0]': '1.02.3' is not a dotted OID");
	leaf_err(23, "certificate_policies: [1.40.3]", 23,
	         "field 'certificate_policies[0]': '1.40.3' is not a dotted OID");
	leaf_err(23, "certificate_policies: [3.1]", 23,
	         "field 'certificate_policies[0]': '3.1' is not a dotted OID");
	leaf_err(23, "certificate_policies: [1.2.3, 1.2.3]", 23,
	         "field 'certificate_policies[1]': '1.2.3' is listed twice");
	leaf_err(21, "crl_distribution_point: \"https://ca.example.com/int.crl\"", 21,
	         "field 'crl_distribution_point': 'https://ca.example.com/int.crl' is not an "
	         "http:// URL");
	leaf_err(21, "crl_distribution_point: \"http://ca.example.com/a b.crl\"", 21,
	         "field 'crl_distribution_point': ");
	leaf_err(22, "aia: {ocsp: \"http:///ocsp\"}", 22, "field 'aia.ocsp': ");
	leaf_err(22, "aia: {}", 22, "field 'aia': needs ca_issuers or ocsp");
	/* Subject rules. */
	leaf_err(10, "  - {attribute: CN, required: true, pattern: \"[a-z\"}", 10,
	         "field 'subject[2].pattern': not a POSIX extended regular expression: ");
	leaf_err(10, "  - {attribute: CN, required: true, pattern: \"(a\"}", 10,
	         "field 'subject[2].pattern': not a POSIX extended regular expression: ");
	leaf_err(10, "  - {attribute: commonName}", 10,
	         "field 'subject[2].attribute': unknown attribute 'commonName'");
	leaf_err(10, "  - {attribute: O}", 10,
	         "field 'subject[2].attribute': attribute 'O' has a rule already (subject[0])");
	leaf_err(8, "  - {attribute: O, value: \"Signet Test\", pattern: \"x\"}", 8,
	         "field 'subject[0].pattern': not allowed beside 'value'");
	leaf_err(8, "  - {attribute: O, value: \"Signet Test\", required: true}", 8,
	         "field 'subject[0].required': not allowed beside 'value'");
	leaf_err(8, "  - {attribute: C, value: USA}", 8,
	         "field 'subject[0].value': 'USA' is not a valid C");
	leaf_err(8, "  - {attribute: O, value: \"a\\tb\"}", 8, "field 'subject[0].value': ");
	leaf_err(9, "  - {attribute: OU, max: 0}", 9, "field 'subject[1].max': 0 is out of range");
	leaf_err(9, "  - {attribute: OU, max: 17}", 9,
	         "field 'subject[1].max': 17 is out of range");
	/* SAN rules. */
	leaf_err(12, "  max: 0", 12, "field 'san.max': 0 is out of range (1..256)");
	leaf_err(12, "  max: 257", 12, "field 'san.max': 257 is out of range (1..256)");
	leaf_err(13, "  min: 5", 13, "field 'san.min': 5 is more than max (4)");
	leaf_err(14, "  dns_suffixes: [example.com, \"*.example.org\"]", 14,
	         "field 'san.dns_suffixes[1]': '*.example.org' is not a DNS name");
	leaf_err(14, "  dns_suffixes: [example.com.]", 14,
	         "field 'san.dns_suffixes[0]': 'example.com.' is not a DNS name");
	leaf_err(14, "  dns_suffixes: [-example.com]", 14,
	         "field 'san.dns_suffixes[0]': '-example.com' is not a DNS name");
	leaf_err(15, "  ip_ranges: [10.0.0.1/8]", 15,
	         "field 'san.ip_ranges[0]': '10.0.0.1/8': the address has bits set beyond the "
	         "prefix length");
	leaf_err(15, "  ip_ranges: [10.0.0.0/33]", 15,
	         "field 'san.ip_ranges[0]': '10.0.0.0/33': the prefix length must be");
	leaf_err(15, "  ip_ranges: [10.0.0.0]", 15,
	         "field 'san.ip_ranges[0]': '10.0.0.0': expected ADDRESS/PREFIX");
	leaf_err(15, "  ip_ranges: [\"fd00::/8\", 10.0.0/8]", 15,
	         "field 'san.ip_ranges[1]': '10.0.0/8': expected ADDRESS/PREFIX");
	leaf_err(16, "  uri_prefixes: [\"spiffe://example.com\"]", 16,
	         "field 'san.uri_prefixes[0]': 'spiffe://example.com' is not a URI prefix");
	leaf_err(16, "  uri_prefixes: [\"spiffe://example.com/a/../\"]", 16,
	         "field 'san.uri_prefixes[0]': ");
	leaf_err(16, "  uri_prefixes: [\"example.com/\"]", 16, "field 'san.uri_prefixes[0]': ");
	leaf_err(14, "  wildcards: true", 14, "field 'san.wildcards': needs dns_suffixes");
	/* Usages. */
	leaf_err(17, "key_usage: [digitalSignature, keyCertSign]", 17,
	         "field 'key_usage[1]': 'keyCertSign' is for CA certificates");
	leaf_err(17, "key_usage: [digitalSignature, signing]", 17,
	         "field 'key_usage[1]': unknown key usage 'signing'");
	leaf_err(17, "key_usage: [encipherOnly]", 17,
	         "field 'key_usage': encipherOnly and decipherOnly need keyAgreement");
	leaf_err(18, "extended_key_usage: [serverAuth, webAuth]", 18,
	         "field 'extended_key_usage[1]': unknown extended key usage 'webAuth'");
	leaf_err(18, "extended_key_usage: [serverAuth, 1.3.6.1.5.5.7.3.1]", 18,
	         "field 'extended_key_usage[1]': '1.3.6.1.5.5.7.3.1' is listed twice");
	leaf_err(18, "extended_key_usage: [1.2.3.4.5.6.7.8.9]", 18,
	         "field 'extended_key_usage[0]': unknown extended key usage");
}

static void
test_err_semantics_ca(void **state)
{
	struct sg_profiles *ps = (void *)1;

	(void)state;
	reset_dir();
	write_profile("sub-ca", SUBCA_FMT, ", path_len: 9");
	assert_int_equal(load(&ps), SG_ERR_POLICY);
	assert_null(ps);
	assert_why_at("sub-ca", 9, "field 'basic_constraints.path_len': 9 is out of range (0..8)");
	write_profile("sub-ca", SUBCA_FMT, ", ca: false");
	assert_int_equal(load(&ps), SG_ERR_POLICY);
	assert_why_at("sub-ca", 9, "field 'basic_constraints.ca': ");
	write_profile("sub-ca", "version: 1\nname: sub-ca\nkind: intermediate-ca\nissuer: root\n"
	                        "key_types: [ec-p384]\nsubject: [{attribute: CN}]\n"
	                        "basic_constraints: {ca: false}\nttl: {default: 1d}\n");
	assert_int_equal(load(&ps), SG_ERR_POLICY);
	assert_why_at("sub-ca", 7,
	              "field 'basic_constraints.ca': must be true for kind: "
	              "intermediate-ca");
	write_profile("sub-ca", "version: 1\nname: sub-ca\nkind: intermediate-ca\nissuer: root\n"
	                        "key_types: [ec-p384]\nsubject: [{attribute: CN}]\n");
	assert_int_equal(load(&ps), SG_ERR_POLICY);
	assert_why_at("sub-ca", 1, "field 'ttl.default': required for kind: intermediate-ca");
	write_profile("sub-ca", "version: 1\nname: sub-ca\nkind: intermediate-ca\nissuer: root\n"
	                        "key_types: [ec-p384]\nsubject: [{attribute: CN}]\n"
	                        "key_usage: [cRLSign]\nttl: {default: 1d}\n");
	assert_int_equal(load(&ps), SG_ERR_POLICY);
	assert_why_at("sub-ca", 7, "field 'key_usage': an intermediate CA needs keyCertSign");
	write_profile("sub-ca", "version: 1\nname: sub-ca\nkind: intermediate-ca\nissuer: root\n"
	                        "key_types: [ec-p384]\nsubject: [{attribute: CN}]\n"
	                        "name_constraints: {}\nttl: {default: 1d}\n");
	assert_int_equal(load(&ps), SG_ERR_POLICY);
	assert_why_at("sub-ca", 7, "field 'name_constraints': constrains nothing");
	write_profile("sub-ca",
	              "version: 1\nname: sub-ca\nkind: intermediate-ca\nissuer: root\n"
	              "key_types: [ec-p384]\nsubject: [{attribute: CN}]\n"
	              "name_constraints:\n  permitted_dns: [ok.example]\n"
	              "  excluded_ip: [10.0.0.0/8, 192.168.1.1/16]\nttl: {default: 1d}\n");
	assert_int_equal(load(&ps), SG_ERR_POLICY);
	assert_why_at("sub-ca", 9,
	              "field 'name_constraints.excluded_ip[1]': '192.168.1.1/16': the address has "
	              "bits set");
	write_profile("sub-ca", "version: 1\nname: sub-ca\nkind: intermediate-ca\nissuer: root\n"
	                        "key_types: [ec-p384]\nsubject: [{attribute: CN}]\n"
	                        "name_constraints:\n  permitted_dns: [\"*.example\"]\n"
	                        "ttl: {default: 1d}\n");
	assert_int_equal(load(&ps), SG_ERR_POLICY);
	assert_why_at("sub-ca", 8,
	              "field 'name_constraints.permitted_dns[0]': '*.example': not a "
	              "DNS name");
}

static void
test_err_dir(void **state)
{
	struct sg_profiles *ps = (void *)1;
	char path[400], name[64];
	int i;

	(void)state;
	/* No directory, not a directory. */
	(void)snprintf(path, sizeof(path), "%s/none", tmpdir);
	assert_int_equal(sg_profiles_load(path, &ps, why, sizeof(why)), SG_ERR_NOT_FOUND);
	assert_null(ps);
	assert_non_null(strstr(why, path));
	(void)snprintf(path, sizeof(path), "%s/file", tmpdir);
	write_file(path, "x");
	assert_int_equal(sg_profiles_load(path, &ps, why, sizeof(why)), SG_ERR_IO);
	/* An empty directory loads as no profiles; other files and hidden ones are skipped. */
	reset_dir();
	assert_int_equal(load(&ps), 0);
	assert_int_equal(sg_profiles_count(ps), 0);
	assert_null(sg_profiles_find(ps, "leaf"));
	sg_profiles_free(ps);
	(void)snprintf(path, sizeof(path), "%s/README.md", pdir);
	write_file(path, "not a profile");
	(void)snprintf(path, sizeof(path), "%s/.leaf.yaml.swp", pdir);
	write_file(path, "garbage: [");
	(void)snprintf(path, sizeof(path), "%s/.hidden.yaml", pdir);
	write_file(path, "garbage: [");
	leaf_with(0, NULL);
	assert_int_equal(load(&ps), 0);
	assert_int_equal(sg_profiles_count(ps), 1);
	sg_profiles_free(ps);
	/* A .yml file is an error, not skipped. */
	(void)snprintf(path, sizeof(path), "%s/other.yml", pdir);
	write_file(path, "version: 1\n");
	assert_int_equal(load(&ps), SG_ERR_POLICY);
	assert_null(ps);
	assert_why_has("other.yml: profile files end in .yaml");
	/* File names are profile names. */
	reset_dir();
	(void)snprintf(path, sizeof(path), "%s/a b.yaml", pdir);
	write_file(path, "version: 1\n");
	assert_int_equal(load(&ps), SG_ERR_POLICY);
	assert_why_has("a b.yaml: a profile file is NAME.yaml");
	/* An error in the second file names it; nothing is loaded. */
	reset_dir();
	leaf_with(0, NULL);
	write_profile("zz", "version: 1\nname: zz\n");
	assert_int_equal(load(&ps), SG_ERR_POLICY);
	assert_null(ps);
	assert_why_at("zz", 1, "");
	/* A directory named *.yaml, an unreadable profile. */
	reset_dir();
	(void)snprintf(path, sizeof(path), "%s/d.yaml", pdir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(load(&ps), SG_ERR_IO);
	/* At most SG_PROFILES_MAX files. */
	reset_dir();
	for (i = 0; i <= SG_PROFILES_MAX; i++) {
		(void)snprintf(name, sizeof(name), "p%d", i);
		write_profile(name, "x\n");
	}
	assert_int_equal(load(&ps), SG_ERR_LIMIT);
	assert_why_has("more than 256 profiles");
}

/* Applying. */

static const char *const subj_ok[] = {"O=Signet Test", "CN=www.example.com", NULL};
static const char *const san_ok[] = {"subjectAltName=DNS:www.example.com,IP:10.1.2.3", NULL};

/* Applies profile name of ps to csr (consumed) with the given options. */
static int
apply(const struct sg_profiles *ps, const char *name, X509_REQ *csr, const char *const *sans,
      size_t n_sans, uint64_t ttl, X509 *issuer, struct sg_profile_issue *out)
{
	const struct sg_profile *p = sg_profiles_find(ps, name);
	int r;

	assert_non_null(p);
	why[0] = '\0';
	r = sg_profile_apply(p, csr, sans, n_sans, ttl, now, issuer, out, why, sizeof(why));
	X509_REQ_free(csr);
	if (getenv("SG_TEST_VERBOSE") != NULL)
		fprintf(stderr, "apply %s: %d %s\n", name, r, why);
	/* The error queue is left empty, success or not. */
	assert_int_equal(ERR_peek_error(), 0);
	if (r != 0) {
		assert_null(out->pubkey);
		assert_null(out->subject);
		assert_null(out->sans);
	}
	return r;
}

/* Expects apply of the leaf profile to fail with err and why containing part. */
static void
leaf_refused(const struct sg_profiles *ps, X509_REQ *csr, const char *const *sans, size_t n_sans,
             uint64_t ttl, X509 *issuer, int err, const char *part)
{
	struct sg_profile_issue iss;

	assert_int_equal(apply(ps, "leaf", csr, sans, n_sans, ttl, issuer, &iss), err);
	if (part != NULL)
		assert_why_has(part);
}

static void
subject_is(const X509_NAME *name, const char *want)
{
	char buf[512];

	(void)X509_NAME_oneline(name, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

/* "DNS:a, IP:b" of a SAN list. */
static void
sans_are(GENERAL_NAMES *sans, const char *want)
{
	char buf[1024];
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		unsigned char *s = NULL;

		if (gn->type == GEN_IPADD) {
			char ip[64];
			int len = ASN1_STRING_length(gn->d.iPAddress);

			assert_non_null(inet_ntop(len == 4 ? AF_INET : AF_INET6,
			                          ASN1_STRING_get0_data(gn->d.iPAddress), ip,
			                          sizeof(ip)));
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sIP:%s", i ? ", " : "",
			                      ip);
			continue;
		}
		assert_true(ASN1_STRING_to_UTF8(&s, gn->d.ia5) >= 0);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s:%s", i ? ", " : "",
		                      gn->type == GEN_DNS ? "DNS" : "URI", s);
		OPENSSL_free(s);
	}
	assert_string_equal(buf, want);
}

static void
test_apply_leaf(void **state)
{
	struct sg_profiles *ps = load_std();
	struct sg_profile_issue iss;
	const char *const subj[] = {"CN=www.example.com", "OU=b", "OU=a", NULL};
	const char *const exts[] = {"subjectAltName=DNS:WWW.Example.COM,IP:fd00::1,"
	                            "URI:spiffe://example.com/ns/web,DNS:a.b.svc.example.net",
	                            NULL};

	(void)state;
	assert_int_equal(
	    apply(ps, "leaf", mkcsr(pki.p256, subj, exts), NULL, 0, 0, pki.inter, &iss), 0);
	/* The profile's order, the fixed O added, the CSR's OUs in its order. */
	subject_is(iss.subject, "/O=Signet Test/OU=b/OU=a/CN=www.example.com");
	/* DNS names lowercase; the rest as asked. */
	sans_are(iss.sans, "DNS:www.example.com, IP:fd00::1, URI:spiffe://example.com/ns/web, "
	                   "DNS:a.b.svc.example.net");
	assert_int_equal(EVP_PKEY_eq(iss.pubkey, pki.p256), 1);
	assert_int_equal(iss.not_before, now - 300);
	assert_int_equal(iss.not_after, now + 86400);
	assert_int_equal(iss.capped, 0);
	assert_int_equal(iss.is_ca, 0);
	assert_int_equal(iss.path_len, -1);
	/* keyEncipherment does not apply to an EC key. */
	assert_int_equal(iss.key_usage, KU_DIGITAL_SIGNATURE);
	assert_int_equal(iss.n_eku, 2);
	assert_int_equal(iss.eku_nids[0], NID_server_auth);
	assert_int_equal(iss.eku_nids[1], NID_client_auth);
	assert_null(iss.name_constraints);
	assert_string_equal(iss.crl_dp_url, "http://127.0.0.1:8080/crl/int.crl");
	assert_string_equal(iss.aia_issuer_url, "http://127.0.0.1:8080/ca/int.crt");
	assert_string_equal(iss.aia_ocsp_url, "http://127.0.0.1:8080/ocsp");
	assert_int_equal(iss.n_policies, 1);
	assert_string_equal(iss.policy_oids[0], "2.23.140.1.2.1");
	assert_int_equal(iss.hash, SG_HASH_SHA384);
	sg_profile_issue_clear(&iss);
	assert_null(iss.pubkey);
	sg_profile_issue_clear(&iss);
	sg_profile_issue_clear(NULL);
	/* RSA keeps keyEncipherment; the requested TTL is used; the maximum is allowed. */
	assert_int_equal(apply(ps, "leaf", mkcsr(pki.rsa2048, subj_ok, san_ok), NULL, 0, 72 * 3600,
	                       pki.inter, &iss),
	                 0);
	assert_int_equal(iss.key_usage, KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	assert_int_equal(iss.not_after, now + 72 * 3600);
	subject_is(iss.subject, "/O=Signet Test/CN=www.example.com");
	sg_profile_issue_clear(&iss);
	sg_profiles_free(ps);
}

static void
test_apply_key(void **state)
{
	struct sg_profiles *ps = load_std();

	(void)state;
	leaf_refused(ps, mkcsr(pki.rsa1024, subj_ok, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_KEY_NOT_ALLOWED, "profile leaf does not allow a RSA 1024 bits key");
	leaf_refused(ps, mkcsr(pki.k1, subj_ok, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_KEY_NOT_ALLOWED, "does not allow a EC secp256k1 key");
	leaf_refused(ps, mkcsr(pki.ed, subj_ok, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_KEY_NOT_ALLOWED, "does not allow a ED25519 key");
	/* A supported type the profile does not list. */
	leaf_refused(ps, mkcsr(pki.p384, subj_ok, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_KEY_NOT_ALLOWED, "does not allow an ec-p384 key");
	/* Usages that leave nothing for the key's type. */
	reset_dir();
	leaf_with(17, "key_usage: [keyEncipherment]");
	sg_profiles_free(ps);
	ps = load_ok();
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_KEY_NOT_ALLOWED,
	             "none of profile leaf's key usages applies to an EC key");
	sg_profiles_free(ps);
	reset_dir();
	leaf_with(17, "key_usage: [keyAgreement]");
	ps = load_ok();
	leaf_refused(ps, mkcsr(pki.rsa2048, subj_ok, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_KEY_NOT_ALLOWED, "applies to an RSA key");
	sg_profiles_free(ps);
}

static void
test_apply_extensions(void **state)
{
	struct sg_profiles *ps = load_std();
	struct sg_profile_issue iss;
	const char *const ca_true[] = {"basicConstraints=critical,CA:TRUE", san_ok[0], NULL};
	const char *const ca_false[] = {"basicConstraints=critical,CA:FALSE", san_ok[0], NULL};
	const char *const unk_crit[] = {san_ok[0], "1.3.6.1.4.1.99999.7=critical,DER:05:00", NULL};
	const char *const unk_plain[] = {san_ok[0], "1.3.6.1.4.1.99999.7=DER:05:00", NULL};
	const char *const known_crit[] = {san_ok[0], "tlsfeature=status_request", NULL};
	const char *const pc_crit[] = {san_ok[0],
	                               "policyConstraints=critical,requireExplicitPolicy:0", NULL};
	const char *const nc_crit[] = {san_ok[0],
	                               "nameConstraints=critical,permitted;DNS:example.com", NULL};
	const char *const handled[] = {
	    san_ok[0],
	    "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
	    "extendedKeyUsage=critical,codeSigning",
	    "subjectKeyIdentifier=critical,hash",
	    "certificatePolicies=critical,1.2.3.4",
	    "crlDistributionPoints=critical,URI:http://evil.example/crl",
	    "authorityInfoAccess=OCSP;URI:http://evil.example/ocsp",
	    NULL};
	const char *const twice[] = {san_ok[0], "subjectAltName=DNS:www.example.com", NULL};
	const char *const twice_unk[] = {san_ok[0], "1.2.3.4=DER:05:00", "1.2.3.4=DER:05:00", NULL};
	const char *const bad_san[] = {"subjectAltName=DER:05:00", NULL};
	const char *const bad_bc[] = {san_ok[0], "basicConstraints=critical,DER:05:00", NULL};

	(void)state;
	/* CA:TRUE asked of a leaf profile. */
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, ca_true), NULL, 0, 0, pki.inter,
	             SG_ERR_CA_NOT_ALLOWED, "the CSR asks basicConstraints CA:TRUE");
	/* CA:FALSE is fine (the profile sets it anyway). */
	assert_int_equal(
	    apply(ps, "leaf", mkcsr(pki.p256, subj_ok, ca_false), NULL, 0, 0, pki.inter, &iss), 0);
	sg_profile_issue_clear(&iss);
	/* A critical extension nobody handles, known to OpenSSL or not. */
	leaf_refused(
	    ps, mkcsr(pki.p256, subj_ok, unk_crit), NULL, 0, 0, pki.inter, SG_ERR_CSR_EXTENSION,
	    "the CSR asks a critical extension 1.3.6.1.4.1.99999.7, which profile leaf does "
	    "not handle");
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, pc_crit), NULL, 0, 0, pki.inter,
	             SG_ERR_CSR_EXTENSION, "critical extension policyConstraints");
	/* nameConstraints: a leaf profile does not handle it. */
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, nc_crit), NULL, 0, 0, pki.inter,
	             SG_ERR_CSR_EXTENSION, "critical extension nameConstraints");
	/* Non-critical ones are ignored and never copied. */
	assert_int_equal(
	    apply(ps, "leaf", mkcsr(pki.p256, subj_ok, unk_plain), NULL, 0, 0, pki.inter, &iss), 0);
	sg_profile_issue_clear(&iss);
	assert_int_equal(
	    apply(ps, "leaf", mkcsr(pki.p256, subj_ok, known_crit), NULL, 0, 0, pki.inter, &iss),
	    0);
	sg_profile_issue_clear(&iss);
	/* What the profile sets, the CSR cannot: its values are ignored, critical or not. */
	assert_int_equal(
	    apply(ps, "leaf", mkcsr(pki.rsa2048, subj_ok, handled), NULL, 0, 0, pki.inter, &iss),
	    0);
	assert_int_equal(iss.key_usage, KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	assert_int_equal(iss.eku_nids[0], NID_server_auth);
	assert_string_equal(iss.crl_dp_url, "http://127.0.0.1:8080/crl/int.crl");
	assert_string_equal(iss.aia_ocsp_url, "http://127.0.0.1:8080/ocsp");
	assert_string_equal(iss.policy_oids[0], "2.23.140.1.2.1");
	sg_profile_issue_clear(&iss);
	/* Malformed requests. */
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, twice), NULL, 0, 0, pki.inter, SG_ERR_CSR_INVALID,
	             "the CSR asks extension subjectAltName twice");
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, twice_unk), NULL, 0, 0, pki.inter,
	             SG_ERR_CSR_INVALID, "the CSR asks extension 1.2.3.4 twice");
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, bad_san), NULL, 0, 0, pki.inter,
	             SG_ERR_CSR_INVALID, "the CSR's subjectAltName does not decode");
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, bad_bc), NULL, 0, 0, pki.inter,
	             SG_ERR_CSR_INVALID, "the CSR's basicConstraints does not decode");
	/* The intermediate profile takes CA:TRUE and nameConstraints (and sets its own). */
	{
		const char *const sub_subj[] = {"CN=Sub CA", NULL};
		const char *const sub_exts[] = {
		    "basicConstraints=critical,CA:TRUE,pathlen:5",
		    "nameConstraints=critical,permitted;DNS:evil.example", NULL};

		assert_int_equal(apply(ps, "sub-ca", mkcsr(pki.p384, sub_subj, sub_exts), NULL, 0,
		                       0, pki.root, &iss),
		                 0);
		assert_int_equal(iss.is_ca, 1);
		assert_int_equal(iss.path_len, 0);
		assert_int_equal(iss.key_usage, KU_KEY_CERT_SIGN | KU_CRL_SIGN);
		assert_non_null(iss.name_constraints);
		subject_is(iss.subject, "/O=Signet Test/CN=Sub CA");
		assert_null(iss.sans);
		assert_int_equal(iss.not_after, now + 365 * 86400);
		sg_profile_issue_clear(&iss);
	}
	sg_profiles_free(ps);
}

static void
test_apply_subject(void **state)
{
	struct sg_profiles *ps = load_std();
	struct sg_profile_issue iss;
	const char *const s_extra[] = {"CN=www.example.com", "L=Paris", NULL};
	const char *const s_fixed[] = {"O=Other", "CN=www.example.com", NULL};
	const char *const s_pattern[] = {"CN=WWW.example.com", NULL};
	const char *const s_missing[] = {"O=Signet Test", "OU=x", NULL};
	const char *const s_multi[] = {"O=Signet Test", "CN=www.example.com", "+OU=x", NULL};
	const char *const s_three[] = {"OU=a", "OU=b", "OU=c", "CN=www.example.com", NULL};
	const char *const s_two_o[] = {"O=Signet Test", "O=Signet Test", "CN=www.example.com",
	                               NULL};
	const char *const s_ctrl[] = {"CN=www.example.com", "OU=a\x01z", NULL};
	const char *const s_empty[] = {"CN=www.example.com", "OU=", NULL};
	const char *const s_evil[] = {"CN=www.example.com\n", NULL};

	(void)state;
	leaf_refused(ps, mkcsr(pki.p256, s_extra, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_SUBJECT_NOT_ALLOWED, "profile leaf allows no subject attribute L");
	leaf_refused(ps, mkcsr(pki.p256, s_fixed, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_SUBJECT_NOT_ALLOWED,
	             "subject O 'Other' is not the profile's fixed value 'Signet Test'");
	leaf_refused(ps, mkcsr(pki.p256, s_pattern, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_SUBJECT_NOT_ALLOWED,
	             "subject CN 'WWW.example.com' does not match the profile's pattern");
	leaf_refused(ps, mkcsr(pki.p256, s_missing, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_SUBJECT_NOT_ALLOWED, "profile leaf requires subject CN");
	leaf_refused(ps, mkcsr(pki.p256, s_multi, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_SUBJECT_NOT_ALLOWED, "multi-valued RDN");
	leaf_refused(ps, mkcsr(pki.p256, s_three, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_SUBJECT_NOT_ALLOWED, "subject OU appears more than 2 times");
	leaf_refused(ps, mkcsr(pki.p256, s_two_o, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_SUBJECT_NOT_ALLOWED, "subject O appears more than 1 time");
	leaf_refused(ps, mkcsr(pki.p256, s_ctrl, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_SUBJECT_NOT_ALLOWED, "subject OU has a control character");
	leaf_refused(ps, mkcsr(pki.p256, s_empty, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_SUBJECT_NOT_ALLOWED, "subject OU is empty");
	/* The pattern is anchored: a trailing newline does not slip through. */
	leaf_refused(ps, mkcsr(pki.p256, s_evil, san_ok), NULL, 0, 0, pki.inter,
	             SG_ERR_SUBJECT_NOT_ALLOWED, "subject CN has a control character");
	sg_profiles_free(ps);
	/* Values that break the attribute's ASN.1 type; an empty result. */
	reset_dir();
	write_profile("c", "version: 1\nname: c\nkind: leaf\nissuer: i\nkey_types: [ec-p256]\n"
	                   "subject: [{attribute: C}, {attribute: OU, pattern: \"[a-z]+\"}]\n");
	ps = load_ok();
	{
		const char *const s_c3[] = {"C=FRA", NULL};
		const char *const s_c2[] = {"C=FR", NULL};
		const char *const s_none[] = {NULL};

		assert_int_equal(
		    apply(ps, "c", mkcsr(pki.p256, s_c3, NULL), NULL, 0, 0, pki.inter, &iss),
		    SG_ERR_SUBJECT_NOT_ALLOWED);
		assert_why_has("subject C 'FRA' does not fit the attribute's type");
		assert_int_equal(
		    apply(ps, "c", mkcsr(pki.p256, s_none, NULL), NULL, 0, 0, pki.inter, &iss),
		    SG_ERR_SUBJECT_NOT_ALLOWED);
		assert_why_has("the subject would be empty");
		assert_int_equal(
		    apply(ps, "c", mkcsr(pki.p256, s_c2, NULL), NULL, 0, 0, pki.inter, &iss), 0);
		/* C is a PrintableString, as RFC 5280 wants. */
		assert_int_equal(
		    ASN1_STRING_type(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(iss.subject, 0))),
		    V_ASN1_PRINTABLESTRING);
		subject_is(iss.subject, "/C=FR");
		assert_null(iss.sans);
		sg_profile_issue_clear(&iss);
	}
	sg_profiles_free(ps);
}

static void
test_apply_sans(void **state)
{
	struct sg_profiles *ps = load_std();
	struct sg_profile_issue iss;
	const char *const outside[] = {"subjectAltName=DNS:www.example.org", NULL};
	const char *const req_ok[] = {"DNS:API.example.com", "ip:10.9.9.9",
	                              "uri:spiffe://example.com/ns/a"};
	const char *one[1];

	(void)state;
	/* Requested SANs replace the CSR's, which are then not even checked. */
	assert_int_equal(
	    apply(ps, "leaf", mkcsr(pki.p256, subj_ok, outside), req_ok, 3, 0, pki.inter, &iss), 0);
	sans_are(iss.sans, "DNS:api.example.com, IP:10.9.9.9, URI:spiffe://example.com/ns/a");
	sg_profile_issue_clear(&iss);
	/* Without requested SANs, the CSR's are checked. */
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, outside), NULL, 0, 0, pki.inter,
	             SG_ERR_SAN_NOT_ALLOWED,
	             "SAN DNS:www.example.org is outside profile leaf's DNS suffixes");
	/* Each kind of SAN outside its rule. */
#define SAN_REFUSED(s, part)                                                                       \
	do {                                                                                       \
		one[0] = (s);                                                                      \
		leaf_refused(ps, mkcsr(pki.p256, subj_ok, NULL), one, 1, 0, pki.inter,             \
		             SG_ERR_SAN_NOT_ALLOWED, (part));                                      \
	} while (0)
#define SAN_OK(s, want)                                                                            \
	do {                                                                                       \
		one[0] = (s);                                                                      \
		assert_int_equal(                                                                  \
		    apply(ps, "leaf", mkcsr(pki.p256, subj_ok, NULL), one, 1, 0, pki.inter, &iss), \
		    0);                                                                            \
		sans_are(iss.sans, (want));                                                        \
		sg_profile_issue_clear(&iss);                                                      \
	} while (0)
	SAN_OK("DNS:example.com", "DNS:example.com");
	SAN_OK("dns:a.b.c.example.com", "DNS:a.b.c.example.com");
	SAN_REFUSED("DNS:badexample.com", "outside profile leaf's DNS suffixes");
	SAN_REFUSED("DNS:example.com.evil.org", "outside");
	/* ".svc.example.net": subdomains only. */
	SAN_OK("DNS:x.svc.example.net", "DNS:x.svc.example.net");
	SAN_REFUSED("DNS:svc.example.net", "outside");
	SAN_REFUSED("DNS:*.example.com", "(profile allows no wildcard)");
	SAN_REFUSED("DNS:exa_mple.example.com", "is not a DNS name");
	SAN_REFUSED("DNS:www.example.com.", "is not a DNS name");
	SAN_REFUSED("DNS:", "is not a DNS name");
	SAN_REFUSED("DNS:-a.example.com", "is not a DNS name");
	SAN_OK("IP:10.255.255.255", "IP:10.255.255.255");
	SAN_OK("IP:fdff::1", "IP:fdff::1");
	SAN_REFUSED("IP:11.0.0.1", "SAN IP:11.0.0.1 is outside profile leaf's IP ranges");
	SAN_REFUSED("IP:fe00::1", "outside");
	/* An IPv4-mapped IPv6 address is not the IPv4 address. */
	SAN_REFUSED("IP:::ffff:10.0.0.1", "outside");
	SAN_REFUSED("URI:spiffe://example.com/nsx", "outside profile leaf's URI prefixes");
	SAN_REFUSED("URI:spiffe://example.com/other/a", "outside");
	SAN_REFUSED("URI:spiffe://example.com/ns/../admin", "not a scheme://authority/path URI");
	SAN_REFUSED("URI:spiffe://example.com/ns/a?x=1", "not a scheme://authority/path URI");
	SAN_REFUSED("URI:spiffe://example.com/ns/%2e%2e/x", "not a scheme://authority/path URI");
	SAN_OK("URI:spiffe://example.com/ns/", "URI:spiffe://example.com/ns/");
	/* Malformed requests. */
	SAN_REFUSED("email:a@example.com", "requested SAN 'email:a@example.com' is not DNS:name");
	SAN_REFUSED("IP:10.0.0", "requested SAN 'IP:10.0.0' is not an IP address");
	SAN_REFUSED("www.example.com", "is not DNS:name, IP:address or URI:uri");
	SAN_REFUSED("DNS:www.example.com\x7f", "SAN DNS:www.example.com? is not a DNS name");
	/* Other SAN types in the CSR. */
	{
		const char *const mail[] = {"subjectAltName=email:a@example.com", NULL};
		const char *const dirn[] = {"subjectAltName=RID:1.2.3.4", NULL};
		const char *const dup[] = {"subjectAltName=DNS:a.example.com,DNS:A.example.com",
		                           NULL};
		const char *const five[] = {"subjectAltName=DNS:a.example.com,DNS:b.example.com,"
		                            "DNS:c.example.com,DNS:d.example.com,DNS:e.example.com",
		                            NULL};

		leaf_refused(ps, mkcsr(pki.p256, subj_ok, mail), NULL, 0, 0, pki.inter,
		             SG_ERR_SAN_NOT_ALLOWED, "a SAN of type 1 (RFC 5280 GeneralName tag)");
		leaf_refused(ps, mkcsr(pki.p256, subj_ok, dirn), NULL, 0, 0, pki.inter,
		             SG_ERR_SAN_NOT_ALLOWED, "a SAN of type 8");
		leaf_refused(ps, mkcsr(pki.p256, subj_ok, dup), NULL, 0, 0, pki.inter,
		             SG_ERR_SAN_NOT_ALLOWED, "a SAN appears twice");
		leaf_refused(ps, mkcsr(pki.p256, subj_ok, five), NULL, 0, 0, pki.inter,
		             SG_ERR_SAN_NOT_ALLOWED,
		             "profile leaf allows at most 4 SANs (the CSR has 5)");
		/* min: 1 */
		leaf_refused(ps, mkcsr(pki.p256, subj_ok, NULL), NULL, 0, 0, pki.inter,
		             SG_ERR_SAN_NOT_ALLOWED,
		             "profile leaf needs at least 1 SAN (the CSR has 0)");
	}
	{
		const char *const five[] = {"DNS:a.example.com", "DNS:b.example.com",
		                            "DNS:c.example.com", "DNS:d.example.com",
		                            "DNS:e.example.com"};

		leaf_refused(ps, mkcsr(pki.p256, subj_ok, san_ok), five, 5, 0, pki.inter,
		             SG_ERR_SAN_NOT_ALLOWED, "at most 4 SANs (the request has 5)");
		leaf_refused(ps, mkcsr(pki.p256, subj_ok, san_ok), NULL, 2, 0, pki.inter,
		             SG_ERR_INVALID_ARG, NULL);
	}
	/* A profile without 'san' allows none. */
	{
		struct sg_profile_issue iss2;
		const char *const sub_subj[] = {"CN=Sub CA", NULL};
		const char *const sub_san[] = {"subjectAltName=DNS:x.example.com", NULL};

		assert_int_equal(apply(ps, "sub-ca", mkcsr(pki.p384, sub_subj, sub_san), NULL, 0, 0,
		                       pki.root, &iss2),
		                 SG_ERR_SAN_NOT_ALLOWED);
		assert_why_has("profile sub-ca allows no SAN (the CSR has 1)");
	}
	sg_profiles_free(ps);
	/* Wildcards, when allowed. */
	reset_dir();
	leaf_with(14, "  dns_suffixes: [example.com, .svc.example.net]\n  wildcards: true");
	ps = load_ok();
	SAN_OK("DNS:*.example.com", "DNS:*.example.com");
	SAN_OK("DNS:*.a.example.com", "DNS:*.a.example.com");
	SAN_OK("DNS:*.svc.example.net", "DNS:*.svc.example.net");
	SAN_REFUSED("DNS:*.com", "outside");
	SAN_REFUSED("DNS:a.*.example.com", "is not a DNS name");
	SAN_REFUSED("DNS:*", "is not a DNS name");
	SAN_REFUSED("DNS:**.example.com", "is not a DNS name");
#undef SAN_OK
#undef SAN_REFUSED
	sg_profiles_free(ps);
}

static void
test_apply_validity(void **state)
{
	struct sg_profiles *ps = load_std();
	struct sg_profile_issue iss;

	(void)state;
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, san_ok), NULL, 0, 72 * 3600 + 1, pki.inter,
	             SG_ERR_TTL_TOO_LONG,
	             "a lifetime of 259201 s is over profile leaf's maximum of "
	             "259200 s");
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, san_ok), NULL, 0, UINT64_MAX, pki.inter,
	             SG_ERR_TTL_TOO_LONG, NULL);
	/* A short TTL is fine. */
	assert_int_equal(
	    apply(ps, "leaf", mkcsr(pki.p256, subj_ok, san_ok), NULL, 0, 60, pki.inter, &iss), 0);
	assert_int_equal(iss.not_after, now + 60);
	sg_profile_issue_clear(&iss);
	/* Cut to the issuer's notAfter (an hour from now), notBefore not before its own. */
	assert_int_equal(
	    apply(ps, "leaf", mkcsr(pki.p256, subj_ok, san_ok), NULL, 0, 0, pki.short_lived, &iss),
	    0);
	assert_int_equal(iss.capped, 1);
	assert_int_equal(iss.not_after, now + 3600);
	assert_int_equal(iss.not_before, now - 60);
	sg_profile_issue_clear(&iss);
	/* An issuer outside its validity. */
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, san_ok), NULL, 0, 0, pki.expired,
	             SG_ERR_CERT_VALIDITY, "the certificate of issuer 'int' is not valid now");
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, san_ok), NULL, 0, 0, pki.future,
	             SG_ERR_CERT_VALIDITY, NULL);
	sg_profiles_free(ps);
}

static void
test_apply_issuer(void **state)
{
	struct sg_profiles *ps = load_std();
	struct sg_profile_issue iss;
	const char *const sub_subj[] = {"CN=Sub CA", NULL};
	const char *const one[] = {"DNS:www.example.com"};
	const char *const ten[] = {"IP:10.0.0.1"};
	const char *const other[] = {"DNS:www.example.org"};
	const char *const s_cn_out[] = {"CN=www.example.org", NULL};

	(void)state;
	/* Not a CA certificate, or one that may not sign certificates. */
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, san_ok), NULL, 0, 0, pki.not_ca, SG_ERR_NO_CERT,
	             "the certificate of issuer 'int' is not a CA certificate");
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, san_ok), NULL, 0, 0, pki.no_kcs, SG_ERR_NO_CERT,
	             NULL);
	/* An intermediate under an issuer with pathlen 0. */
	assert_int_equal(
	    apply(ps, "sub-ca", mkcsr(pki.p384, sub_subj, NULL), NULL, 0, 0, pki.int_pl0, &iss),
	    SG_ERR_CA_NOT_ALLOWED);
	assert_why_has(
	    "issuer 'root' has pathLenConstraint 0: it cannot issue a CA with path_len 0");
	/* The issuer's name constraints, as OpenSSL's verifier would apply them. */
	assert_int_equal(
	    apply(ps, "leaf", mkcsr(pki.p256, subj_ok, NULL), one, 1, 0, pki.nc_ca, &iss), 0);
	sg_profile_issue_clear(&iss);
	assert_int_equal(
	    apply(ps, "leaf", mkcsr(pki.p256, subj_ok, NULL), ten, 1, 0, pki.nc_ca, &iss), 0);
	sg_profile_issue_clear(&iss);
	reset_dir();
	sg_profiles_free(ps);
	leaf_with(14, "  dns_suffixes: [example.com, example.org]");
	ps = load_ok();
	leaf_refused(ps, mkcsr(pki.p256, subj_ok, NULL), other, 1, 0, pki.nc_ca,
	             SG_ERR_SAN_NOT_ALLOWED,
	             "a name is outside the nameConstraints of issuer 'int'");
	reset_dir();
	sg_profiles_free(ps);
	leaf_with(13, "  min: 0");
	ps = load_ok();
	/* Without DNS SANs, a host name CN is checked too. */
	leaf_refused(ps, mkcsr(pki.p256, s_cn_out, NULL), NULL, 0, 0, pki.nc_ca,
	             SG_ERR_SUBJECT_NOT_ALLOWED, "the subject CN is outside the nameConstraints");
	sg_profiles_free(ps);
}

/* The name constraints of an intermediate profile are what they say. */
static void
test_name_constraints(void **state)
{
	struct sg_profiles *ps = load_std();
	struct sg_profile_issue iss;
	const char *const sub_subj[] = {"CN=Sub CA", NULL};
	struct {
		const char *san;
		int ok;
	} cases[] = {
	    {"DNS:example.com", 1},    {"DNS:a.example.com", 1}, {"DNS:example.org", 0},
	    {"DNS:badexample.com", 0}, {"IP:10.0.0.1", 0},       {"IP:::1", 0},
	};
	size_t i;

	(void)state;
	assert_int_equal(
	    apply(ps, "sub-ca", mkcsr(pki.p384, sub_subj, NULL), NULL, 0, 0, pki.root, &iss), 0);
	assert_non_null(iss.name_constraints);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *x = X509_new();
		GENERAL_NAMES *gns = GENERAL_NAMES_new();
		GENERAL_NAME *gn = NULL;
		char buf[64];

		assert_non_null(x);
		(void)snprintf(buf, sizeof(buf), "%s", cases[i].san);
		*strchr(buf, ':') = '\0';
		gn =
		    a2i_GENERAL_NAME(NULL, NULL, NULL, strcmp(buf, "IP") == 0 ? GEN_IPADD : GEN_DNS,
		                     strchr(cases[i].san, ':') + 1, 0);
		assert_non_null(gn);
		assert_true(sk_GENERAL_NAME_push(gns, gn));
		assert_true(X509_add1_ext_i2d(x, NID_subject_alt_name, gns, 0, 0));
		(void)X509_get_extension_flags(x); /* as the verifier has them: cached */
		if ((NAME_CONSTRAINTS_check(x, iss.name_constraints) == X509_V_OK) != cases[i].ok)
			fail_msg("%s: expected %s", cases[i].san,
			         cases[i].ok ? "permitted" : "refused");
		GENERAL_NAMES_free(gns);
		X509_free(x);
	}
	sg_profile_issue_clear(&iss);
	sg_profiles_free(ps);
}

/* The policy cross-check. */

static const char *
write_cert(const char *name, X509 *x)
{
	static char path[4][400];
	static int slot;
	char *p = path[slot++ % 4];
	FILE *f;

	(void)snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(p, "w"));
	assert_true(PEM_write_X509(f, x));
	assert_int_equal(fclose(f), 0);
	return p;
}

static struct sg_policy *
policy(X509 *int_cert, const char *int_purpose, const char *profiles)
{
	struct sg_policy *pol = NULL;
	char path[400], text[4096];

	(void)snprintf(path, sizeof(path), "%s/policy.yaml", tmpdir);
	(void)snprintf(
	    text, sizeof(text),
	    "version: 1\nclients:\n"
	    "  - {name: ca, curve_public_key: \"d{@q2-9CJNR+bFs7Vr167aF/FokuI=v8jndXL^Pv\"}\n"
	    "keys:\n"
	    "  - {name: root, uri: \"label:root\", algorithm: ec-p384, purposes: [ca], "
	    "certificate: \"%s\"}\n"
	    "  - {name: int, uri: \"label:int\", algorithm: ec-p384, purposes: [%s], "
	    "certificate: \"%s\"}\n"
	    "rules:\n  - {clients: [ca], ops: [cert.issue], profiles: [%s]}\n",
	    write_cert("root.pem", pki.root), int_purpose, write_cert("int.pem", int_cert),
	    profiles);
	write_file(path, text);
	if (sg_policy_load(path, &pol, why, sizeof(why)) != 0)
		fail_msg("policy: %s", why);
	return pol;
}

static void
test_check_policy(void **state)
{
	struct sg_profiles *ps = load_std();
	struct sg_policy *pol;

	(void)state;
	pol = policy(pki.inter, "ca", "leaf, sub-ca");
	assert_int_equal(sg_profiles_check_policy(ps, pol, why, sizeof(why)), 0);
	sg_policy_free(pol);
	/* A profile the policy names is missing. */
	pol = policy(pki.inter, "ca", "leaf, nope");
	assert_int_equal(sg_profiles_check_policy(ps, pol, why, sizeof(why)), SG_ERR_POLICY);
	assert_string_equal(why, "the policy's rules name profile 'nope', which is not in the "
	                         "profiles directory");
	sg_policy_free(pol);
	/* The issuer is not a CA key. */
	pol = policy(pki.inter, "sign", "leaf");
	assert_int_equal(sg_profiles_check_policy(ps, pol, why, sizeof(why)), SG_ERR_POLICY);
	assert_why_at("leaf", 4, "field 'issuer': key 'int' of the policy lacks purpose 'ca'");
	sg_policy_free(pol);
	/* The issuer's certificate leaves no room for the intermediate. */
	reset_dir();
	write_profile("sub-ca", SUBCA_FMT, "");
	sg_profiles_free(ps);
	ps = load_ok();
	pol = policy(pki.inter, "ca", "sub-ca");
	assert_int_equal(sg_profiles_check_policy(ps, pol, why, sizeof(why)), 0);
	sg_policy_free(pol);
	reset_dir();
	write_profile("sub-ca", SUBCA_FMT, "");
	write_profile("sub-sub", "version: 1\nname: sub-sub\nkind: intermediate-ca\nissuer: int\n"
	                         "key_types: [ec-p384]\nsubject: [{attribute: CN}]\n"
	                         "ttl: {default: 30d}\n");
	sg_profiles_free(ps);
	ps = load_ok();
	pol = policy(pki.int_pl0, "ca", "sub-ca");
	assert_int_equal(sg_profiles_check_policy(ps, pol, why, sizeof(why)), SG_ERR_POLICY);
	assert_why_at("sub-sub", 3,
	              "field 'basic_constraints.path_len': the certificate of issuer 'int' has "
	              "pathLenConstraint 0");
	sg_policy_free(pol);
	/* An issuer that is not a key of the policy. */
	reset_dir();
	write_profile("x", "version: 1\nname: x\nkind: leaf\nissuer: nokey\nkey_types: [ec-p256]\n"
	                   "subject: [{attribute: CN}]\n");
	sg_profiles_free(ps);
	ps = load_ok();
	pol = policy(pki.inter, "ca", "x");
	assert_int_equal(sg_profiles_check_policy(ps, pol, why, sizeof(why)), SG_ERR_POLICY);
	assert_why_at("x", 4, "field 'issuer': 'nokey' is not a key of the policy");
	sg_policy_free(pol);
	sg_profiles_free(ps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_examples_load),    cmocka_unit_test(test_load_fields),
	    cmocka_unit_test(test_err_schema),       cmocka_unit_test(test_err_semantics),
	    cmocka_unit_test(test_err_semantics_ca), cmocka_unit_test(test_err_dir),
	    cmocka_unit_test(test_apply_leaf),       cmocka_unit_test(test_apply_key),
	    cmocka_unit_test(test_apply_extensions), cmocka_unit_test(test_apply_subject),
	    cmocka_unit_test(test_apply_sans),       cmocka_unit_test(test_apply_validity),
	    cmocka_unit_test(test_apply_issuer),     cmocka_unit_test(test_name_constraints),
	    cmocka_unit_test(test_check_policy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
