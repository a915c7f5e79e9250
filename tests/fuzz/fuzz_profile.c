/*
 * Fuzz target: sg_profile_apply() on an arbitrary CSR, the untrusted input
 * of cert.issue once the front has parsed it.
 *
 * Input: one options byte, then the CSR (DER, or PEM when it starts with
 * "-----BEGIN").  The CSR is decoded with d2i_X509_REQ()/PEM without its
 * signature checked (sg_x509_csr_parse checks it before a profile ever sees
 * a request; skipping that here lets mutations reach every rule).  Options:
 * bit 0 the intermediate CA profile instead of the leaf one; bit 1 an issuer
 * with nameConstraints; bit 2 requested SANs, taken from the input's
 * printable runs after the CSR's DER ("DNS:x", "IP:y", ... or garbage);
 * bits 3-4 the requested TTL (0, 1 h, 72 h, 73 h).  The profiles (a leaf with
 * every kind of rule, wildcards on, and an intermediate CA with name
 * constraints) are written to a scratch directory and loaded once.
 *
 * Invariants beyond ASan/UBSan:
 *  - the result is 0 or one of the codes sg_profile.h lists, the OpenSSL
 *    error queue is empty, why is terminated;
 *  - on failure the output is all zero;
 *  - on success: the key is the CSR's; the subject is non-empty and every
 *    attribute of it is one the profile names; every SAN is DNS, IP or URI,
 *    at most the profile's max, each once; not_before < not_after <= now +
 *    the TTL, within the issuer's validity; the key usage is non-zero and has
 *    keyCertSign exactly for the CA profile; the hash is the profile's.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "sg_err.h"
#include "sg_profile.h"

#define SG_FUZZ_SANS 8

static const char leaf_yaml[] =
    "version: 1\nname: leaf\nkind: leaf\nissuer: ca\n"
    "key_types: [ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096]\n"
    "subject:\n"
    "  - {attribute: O, value: \"Fuzz\"}\n"
    "  - {attribute: OU, max: 3, pattern: \"[a-z]+( [a-z]+)*\"}\n"
    "  - {attribute: C}\n"
    "  - {attribute: DC, max: 4}\n"
    "  - {attribute: CN, required: true, pattern: \"[a-z0-9.*-]+\"}\n"
    "san:\n  max: 6\n  dns_suffixes: [example.com, .svc.example.net, localhost]\n"
    "  wildcards: true\n  ip_ranges: [10.0.0.0/8, \"fd00::/8\", 127.0.0.1/32]\n"
    "  uri_prefixes: [\"spiffe://example.com/\"]\n"
    "key_usage: [digitalSignature, keyEncipherment, keyAgreement]\n"
    "extended_key_usage: [serverAuth, clientAuth]\n"
    "ttl: {default: 24h, max: 72h}\n";

static const char ca_yaml[] = "version: 1\nname: sub\nkind: intermediate-ca\nissuer: ca\n"
                              "key_types: [ec-p384, rsa-3072]\n"
                              "subject: [{attribute: CN, required: true}, {attribute: O}]\n"
                              "basic_constraints: {ca: true, path_len: 0}\n"
                              "name_constraints: {permitted_dns: [example.com], "
                              "excluded_ip: [0.0.0.0/0]}\n"
                              "ttl: {default: 30d}\n";

static struct {
	int ready;
	struct sg_profiles *ps;
	const struct sg_profile *leaf, *sub;
	EVP_PKEY *key;
	X509 *ca, *nc_ca;
	time_t now;
} g;

static X509 *
sg_fuzz_ca(const char *nc)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	const char *exts[3] = {"critical,CA:TRUE,pathlen:1", "critical,keyCertSign,cRLSign", nc};
	const int nids[3] = {NID_basic_constraints, NID_key_usage, NID_name_constraints};
	int i;

	SG_FUZZ_CHECK(x != NULL && name != NULL);
	SG_FUZZ_CHECK(X509_set_version(x, X509_VERSION_3));
	SG_FUZZ_CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x), 1));
	SG_FUZZ_CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                         (const unsigned char *)"Fuzz CA", -1, -1, 0));
	SG_FUZZ_CHECK(X509_set_subject_name(x, name) && X509_set_issuer_name(x, name));
	SG_FUZZ_CHECK(X509_time_adj_ex(X509_getm_notBefore(x), 0, -3600, &g.now) != NULL);
	SG_FUZZ_CHECK(X509_time_adj_ex(X509_getm_notAfter(x), 30, 0, &g.now) != NULL);
	SG_FUZZ_CHECK(X509_set_pubkey(x, g.key));
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	for (i = 0; i < 3; i++) {
		if (exts[i] == NULL)
			continue;
		SG_FUZZ_CHECK((e = X509V3_EXT_conf_nid(NULL, &ctx, nids[i], exts[i])) != NULL);
		SG_FUZZ_CHECK(X509_add_ext(x, e, -1));
		X509_EXTENSION_free(e);
	}
	SG_FUZZ_CHECK(X509_sign(x, g.key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	return x;
}

static void
sg_fuzz_write(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	SG_FUZZ_CHECK((f = fopen(path, "w")) != NULL);
	SG_FUZZ_CHECK(fputs(text, f) >= 0);
	SG_FUZZ_CHECK(fclose(f) == 0);
}

static void
sg_fuzz_init(void)
{
	char dir[] = "/tmp/fuzz_profile.XXXXXX", why[512], path[512];

	g.now = time(NULL);
	SG_FUZZ_CHECK((g.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) != NULL);
	g.ca = sg_fuzz_ca(NULL);
	g.nc_ca = sg_fuzz_ca("critical,permitted;DNS:example.com,permitted;IP:10.0.0.0/255.0.0.0");
	SG_FUZZ_CHECK(mkdtemp(dir) != NULL);
	sg_fuzz_write(dir, "leaf.yaml", leaf_yaml);
	sg_fuzz_write(dir, "sub.yaml", ca_yaml);
	if (sg_profiles_load(dir, &g.ps, why, sizeof(why)) != 0) {
		fprintf(stderr, "%s\n", why);
		SG_FUZZ_CHECK(!"the fuzz profiles load");
	}
	/* Loaded once, then not needed: the directory goes at once. */
	(void)snprintf(path, sizeof(path), "%s/leaf.yaml", dir);
	(void)unlink(path);
	(void)snprintf(path, sizeof(path), "%s/sub.yaml", dir);
	(void)unlink(path);
	(void)rmdir(dir);
	g.leaf = sg_profiles_find(g.ps, "leaf");
	g.sub = sg_profiles_find(g.ps, "sub");
	SG_FUZZ_CHECK(g.leaf != NULL && g.sub != NULL);
	ERR_clear_error();
	g.ready = 1;
}

/* Printable runs (3..255 bytes) of data as requested SANs. */
static size_t
sg_fuzz_sans(const uint8_t *data, size_t size, char s[SG_FUZZ_SANS][256])
{
	size_t i = 0, j, n = 0;

	while (i < size && n < SG_FUZZ_SANS) {
		for (j = i; j < size && data[j] > 0x20 && data[j] < 0x7f && j - i < 255; j++)
			;
		if (j - i >= 3) {
			memcpy(s[n], data + i, j - i);
			s[n][j - i] = '\0';
			n++;
		}
		i = j + 1;
	}
	return n;
}

static int
sg_fuzz_known(int r)
{
	switch (r) {
	case 0:
	case SG_ERR_INVALID_ARG:
	case SG_ERR_NOMEM:
	case SG_ERR_NO_CERT:
	case SG_ERR_CA_NOT_ALLOWED:
	case SG_ERR_KEY_NOT_ALLOWED:
	case SG_ERR_CSR_INVALID:
	case SG_ERR_CSR_EXTENSION:
	case SG_ERR_SUBJECT_NOT_ALLOWED:
	case SG_ERR_SAN_NOT_ALLOWED:
	case SG_ERR_TTL_TOO_LONG:
	case SG_ERR_CERT_VALIDITY:
		return 1;
	default:
		return 0;
	}
}

static void
sg_fuzz_check_ok(const struct sg_profile *p, X509_REQ *csr, const struct sg_profile_issue *iss,
                 uint64_t ttl)
{
	const int leaf_nids[] = {NID_organizationName, NID_organizationalUnitName, NID_countryName,
	                         NID_domainComponent, NID_commonName};
	const int sub_nids[] = {NID_commonName, NID_organizationName};
	const int *nids = p == g.leaf ? leaf_nids : sub_nids;
	size_t n_nids = p == g.leaf ? 5 : 2, k;
	int i, j, nid, t;

	SG_FUZZ_CHECK(EVP_PKEY_eq(iss->pubkey, X509_REQ_get0_pubkey(csr)) == 1);
	SG_FUZZ_CHECK(iss->subject != NULL && X509_NAME_entry_count(iss->subject) > 0);
	for (i = 0; i < X509_NAME_entry_count(iss->subject); i++) {
		nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(iss->subject, i)));
		for (k = 0; k < n_nids && nids[k] != nid; k++)
			;
		SG_FUZZ_CHECK(k < n_nids);
	}
	SG_FUZZ_CHECK(iss->sans == NULL || sk_GENERAL_NAME_num(iss->sans) > 0);
	SG_FUZZ_CHECK(p == g.leaf || iss->sans == NULL);
	SG_FUZZ_CHECK(sk_GENERAL_NAME_num(iss->sans) <= 6);
	for (i = 0; i < sk_GENERAL_NAME_num(iss->sans); i++) {
		t = sk_GENERAL_NAME_value(iss->sans, i)->type;
		SG_FUZZ_CHECK(t == GEN_DNS || t == GEN_IPADD || t == GEN_URI);
		for (j = 0; j < i; j++)
			SG_FUZZ_CHECK(GENERAL_NAME_cmp(sk_GENERAL_NAME_value(iss->sans, i),
			                               sk_GENERAL_NAME_value(iss->sans, j)) != 0);
	}
	SG_FUZZ_CHECK(iss->not_before < iss->not_after);
	SG_FUZZ_CHECK(iss->not_after <=
	              g.now + (time_t)(ttl != 0 ? ttl : sg_profile_ttl_default(p)));
	SG_FUZZ_CHECK(iss->not_before >= g.now - 3600);
	SG_FUZZ_CHECK(iss->key_usage != 0);
	SG_FUZZ_CHECK(((iss->key_usage & KU_KEY_CERT_SIGN) != 0) == (p == g.sub));
	SG_FUZZ_CHECK(iss->is_ca == (p == g.sub));
	SG_FUZZ_CHECK(iss->hash == sg_profile_hash(p));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t ttls[4] = {0, 3600, 72 * 3600, 73 * 3600};
	struct sg_profile_issue iss;
	const struct sg_profile *p;
	X509_REQ *csr = NULL;
	BIO *bio = NULL;
	const unsigned char *q;
	char sans[SG_FUZZ_SANS][256], why[256];
	const char *sanp[SG_FUZZ_SANS];
	uint64_t ttl;
	size_t n_sans = 0, i, used;
	uint8_t opt;
	int r;

	if (!g.ready)
		sg_fuzz_init();
	if (size < 1)
		return 0;
	opt = data[0];
	data++;
	size--;
	if (size >= 10 && memcmp(data, "-----BEGIN", 10) == 0) {
		SG_FUZZ_CHECK((bio = BIO_new_mem_buf(data, (int)size)) != NULL);
		csr = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
		used = size;
		BIO_free(bio);
	} else {
		q = data;
		csr = d2i_X509_REQ(NULL, &q, (long)size);
		used = (size_t)(q - data);
	}
	ERR_clear_error();
	if (csr == NULL)
		return 0;
	p = (opt & 1) != 0 ? g.sub : g.leaf;
	if ((opt & 4) != 0)
		n_sans = sg_fuzz_sans(data + used, size - used, sans);
	for (i = 0; i < n_sans; i++)
		sanp[i] = sans[i];
	ttl = ttls[(opt >> 3) & 3];
	why[0] = 'x';
	r = sg_profile_apply(p, csr, n_sans > 0 ? sanp : NULL, n_sans, ttl, g.now,
	                     (opt & 2) != 0 ? g.nc_ca : g.ca, &iss, why, sizeof(why));
	SG_FUZZ_CHECK(sg_fuzz_known(r));
	SG_FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
	SG_FUZZ_CHECK(ERR_peek_error() == 0);
	if (r == 0) {
		sg_fuzz_check_ok(p, csr, &iss, ttl);
	} else {
		SG_FUZZ_CHECK(iss.pubkey == NULL && iss.subject == NULL && iss.sans == NULL &&
		              iss.not_after == 0 && iss.key_usage == 0);
		SG_FUZZ_CHECK(why[0] != '\0');
	}
	sg_profile_issue_clear(&iss);
	X509_REQ_free(csr);
	ERR_clear_error();
	return 0;
}
