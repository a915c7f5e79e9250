/* sg_profile: see sg_profile.h and policies/profiles/README.md. */
#include "sg_profile.h"
#include "sg_duration.h"
#include "sg_err.h"
#include "sg_policy.h"
#include "sg_wire.h"
#include "sg_yaml.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#define SG_PROFILE_TTL_MIN ((uint64_t)60)          /* 1 min */
#define SG_PROFILE_CRL_MIN ((uint64_t)300)         /* 5 min */
#define SG_PROFILE_CRL_MAX ((uint64_t)366 * 86400) /* a year */
#define SG_PROFILE_MAX_PATH_LEN 8
#define SG_PROFILE_MAX_ATTR_COUNT 16 /* occurrences of one attribute */
#define SG_PROFILE_SAN_DEFAULT_MAX 0 /* without a 'san' section: no SAN at all */
#define SG_DNS_MAX 253

/* The file as libcyaml loads it. */
struct sg_y_attr {
	char *attribute;
	char *value;
	char *pattern;
	int required; /* enum sg_yaml_bool */
	uint32_t *max;
};

struct sg_y_san {
	uint32_t min;
	uint32_t max;
	char **dns_suffixes;
	unsigned dns_suffixes_count;
	int wildcards; /* enum sg_yaml_bool */
	char **ip_ranges;
	unsigned ip_ranges_count;
	char **uri_prefixes;
	unsigned uri_prefixes_count;
};

struct sg_y_bc {
	int ca; /* enum sg_yaml_bool */
	uint32_t *path_len;
};

struct sg_y_nc {
	char **permitted_dns;
	unsigned permitted_dns_count;
	char **excluded_dns;
	unsigned excluded_dns_count;
	char **permitted_ip;
	unsigned permitted_ip_count;
	char **excluded_ip;
	unsigned excluded_ip_count;
};

struct sg_y_ttl {
	char *dflt;
	char *max;
};

struct sg_y_aia {
	char *ca_issuers;
	char *ocsp;
};

struct sg_y_profile {
	uint32_t version;
	char *name;
	int kind; /* enum sg_profile_kind */
	char *issuer;
	char **key_types;
	unsigned key_types_count;
	char *hash;
	struct sg_y_attr *subject;
	unsigned subject_count;
	struct sg_y_san *san;
	char **key_usage;
	unsigned key_usage_count;
	char **extended_key_usage;
	unsigned extended_key_usage_count;
	struct sg_y_bc *basic_constraints;
	struct sg_y_nc *name_constraints;
	struct sg_y_ttl *ttl;
	char *backdate;
	char *crl_distribution_point;
	struct sg_y_aia *aia;
	char **certificate_policies;
	unsigned certificate_policies_count;
	char *crl_next_update;
};

static const cyaml_strval_t sg_y_kinds[] = {
    {"leaf", SG_PROFILE_LEAF},
    {"intermediate-ca", SG_PROFILE_INTERMEDIATE_CA},
};

static const cyaml_schema_value_t sg_y_word = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 64),
};
static const cyaml_schema_value_t sg_y_text = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, SG_PROFILE_URL_MAX),
};

static const cyaml_schema_field_t sg_y_attr_fields[] = {
    CYAML_FIELD_STRING_PTR("attribute", CYAML_FLAG_POINTER, struct sg_y_attr, attribute, 1, 64),
    CYAML_FIELD_STRING_PTR("value", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_attr,
                           value, 1, SG_PROFILE_VALUE_MAX),
    CYAML_FIELD_STRING_PTR("pattern", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_attr,
                           pattern, 1, SG_PROFILE_PATTERN_MAX),
    SG_YAML_FIELD_BOOL("required", CYAML_FLAG_OPTIONAL, struct sg_y_attr, required),
    CYAML_FIELD_UINT_PTR("max", CYAML_FLAG_OPTIONAL, struct sg_y_attr, max),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t sg_y_attr_value = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct sg_y_attr, sg_y_attr_fields),
};

static const cyaml_schema_field_t sg_y_san_fields[] = {
    CYAML_FIELD_UINT("min", CYAML_FLAG_OPTIONAL, struct sg_y_san, min),
    CYAML_FIELD_UINT("max", CYAML_FLAG_DEFAULT, struct sg_y_san, max),
    CYAML_FIELD_SEQUENCE("dns_suffixes", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_san,
                         dns_suffixes, &sg_y_text, 1, SG_PROFILE_MAX_LIST),
    SG_YAML_FIELD_BOOL("wildcards", CYAML_FLAG_OPTIONAL, struct sg_y_san, wildcards),
    CYAML_FIELD_SEQUENCE("ip_ranges", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_san,
                         ip_ranges, &sg_y_text, 1, SG_PROFILE_MAX_LIST),
    CYAML_FIELD_SEQUENCE("uri_prefixes", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_san,
                         uri_prefixes, &sg_y_text, 1, SG_PROFILE_MAX_LIST),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sg_y_bc_fields[] = {
    SG_YAML_FIELD_BOOL("ca", CYAML_FLAG_DEFAULT, struct sg_y_bc, ca),
    CYAML_FIELD_UINT_PTR("path_len", CYAML_FLAG_OPTIONAL, struct sg_y_bc, path_len),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sg_y_nc_fields[] = {
    CYAML_FIELD_SEQUENCE("permitted_dns", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_nc,
                         permitted_dns, &sg_y_text, 1, SG_PROFILE_MAX_LIST),
    CYAML_FIELD_SEQUENCE("excluded_dns", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_nc,
                         excluded_dns, &sg_y_text, 1, SG_PROFILE_MAX_LIST),
    CYAML_FIELD_SEQUENCE("permitted_ip", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_nc,
                         permitted_ip, &sg_y_text, 1, SG_PROFILE_MAX_LIST),
    CYAML_FIELD_SEQUENCE("excluded_ip", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_nc,
                         excluded_ip, &sg_y_text, 1, SG_PROFILE_MAX_LIST),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sg_y_ttl_fields[] = {
    CYAML_FIELD_STRING_PTR("default", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_ttl,
                           dflt, 1, 32),
    CYAML_FIELD_STRING_PTR("max", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_ttl, max, 1,
                           32),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sg_y_aia_fields[] = {
    CYAML_FIELD_STRING_PTR("ca_issuers", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_aia,
                           ca_issuers, 1, SG_PROFILE_URL_MAX),
    CYAML_FIELD_STRING_PTR("ocsp", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_aia, ocsp,
                           1, SG_PROFILE_URL_MAX),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sg_y_profile_fields[] = {
    CYAML_FIELD_UINT("version", CYAML_FLAG_DEFAULT, struct sg_y_profile, version),
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct sg_y_profile, name, 1, SG_NAME_MAX),
    CYAML_FIELD_ENUM("kind", CYAML_FLAG_STRICT, struct sg_y_profile, kind, sg_y_kinds, 2),
    CYAML_FIELD_STRING_PTR("issuer", CYAML_FLAG_POINTER, struct sg_y_profile, issuer, 1,
                           SG_NAME_MAX),
    CYAML_FIELD_SEQUENCE("key_types", CYAML_FLAG_POINTER, struct sg_y_profile, key_types,
                         &sg_y_word, 1, 16),
    CYAML_FIELD_STRING_PTR("hash", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_profile,
                           hash, 1, 16),
    CYAML_FIELD_SEQUENCE("subject", CYAML_FLAG_POINTER, struct sg_y_profile, subject,
                         &sg_y_attr_value, 1, SG_PROFILE_MAX_ATTRS),
    CYAML_FIELD_MAPPING_PTR("san", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_profile,
                            san, sg_y_san_fields),
    CYAML_FIELD_SEQUENCE("key_usage", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_profile,
                         key_usage, &sg_y_word, 1, 16),
    CYAML_FIELD_SEQUENCE("extended_key_usage", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                         struct sg_y_profile, extended_key_usage, &sg_y_word, 1,
                         SG_PROFILE_MAX_EKU),
    CYAML_FIELD_MAPPING_PTR("basic_constraints", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                            struct sg_y_profile, basic_constraints, sg_y_bc_fields),
    CYAML_FIELD_MAPPING_PTR("name_constraints", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                            struct sg_y_profile, name_constraints, sg_y_nc_fields),
    CYAML_FIELD_MAPPING_PTR("ttl", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_profile,
                            ttl, sg_y_ttl_fields),
    CYAML_FIELD_STRING_PTR("backdate", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                           struct sg_y_profile, backdate, 1, 32),
    CYAML_FIELD_STRING_PTR("crl_distribution_point", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                           struct sg_y_profile, crl_distribution_point, 1, SG_PROFILE_URL_MAX),
    CYAML_FIELD_MAPPING_PTR("aia", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct sg_y_profile,
                            aia, sg_y_aia_fields),
    CYAML_FIELD_SEQUENCE("certificate_policies", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                         struct sg_y_profile, certificate_policies, &sg_y_word, 1,
                         SG_PROFILE_MAX_POLICIES),
    CYAML_FIELD_STRING_PTR("crl_next_update", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                           struct sg_y_profile, crl_next_update, 1, 32),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t sg_y_profile_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct sg_y_profile, sg_y_profile_fields),
};

/* The subject attributes a profile may name: OpenSSL's short names. */
static const struct {
	const char *name;
	int nid;
} sg_attrs[] = {
    {"C", NID_countryName},
    {"ST", NID_stateOrProvinceName},
    {"L", NID_localityName},
    {"street", NID_streetAddress},
    {"postalCode", NID_postalCode},
    {"O", NID_organizationName},
    {"OU", NID_organizationalUnitName},
    {"title", NID_title},
    {"CN", NID_commonName},
    {"GN", NID_givenName},
    {"SN", NID_surname},
    {"serialNumber", NID_serialNumber},
    {"UID", NID_userId},
    {"DC", NID_domainComponent},
    {"emailAddress", NID_pkcs9_emailAddress},
};

/* keyUsage names of RFC 5280 4.2.1.3 as OpenSSL spells them, and their bits. */
static const struct {
	const char *name;
	unsigned bit;
} sg_kus[] = {
    {"digitalSignature", KU_DIGITAL_SIGNATURE},
    {"nonRepudiation", KU_NON_REPUDIATION},
    {"keyEncipherment", KU_KEY_ENCIPHERMENT},
    {"dataEncipherment", KU_DATA_ENCIPHERMENT},
    {"keyAgreement", KU_KEY_AGREEMENT},
    {"keyCertSign", KU_KEY_CERT_SIGN},
    {"cRLSign", KU_CRL_SIGN},
    {"encipherOnly", KU_ENCIPHER_ONLY},
    {"decipherOnly", KU_DECIPHER_ONLY},
};

/* Key usages that cannot apply to a key of one kind, so are left out for it. */
#define SG_KU_NOT_EC (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT)
#define SG_KU_NOT_RSA (KU_KEY_AGREEMENT | KU_ENCIPHER_ONLY | KU_DECIPHER_ONLY)

struct sg_subject_rule {
	const char *name; /* as the profile spells it */
	int nid;
	const char *value; /* fixed value, or NULL */
	regex_t re;
	int has_re;
	int required;
	unsigned max;
};

struct sg_ip_range {
	size_t len; /* 4 or 16 */
	unsigned char addr[16];
	unsigned prefix;
};

struct sg_profile {
	struct sg_y_profile *raw;
	char *path;
	const char *name;
	const char *issuer;
	unsigned issuer_line, path_len_line;
	enum sg_profile_kind kind;
	unsigned key_types; /* bit (1 << enum sg_keyalg) */
	enum sg_hash hash;
	struct sg_subject_rule *subj;
	size_t n_subj;
	unsigned san_min, san_max;
	int wildcards;
	const char *const *dns; /* lowercase, in place in raw */
	size_t n_dns;
	struct sg_ip_range *ips;
	size_t n_ips;
	const char *const *uris;
	size_t n_uris;
	unsigned key_usage;
	int *eku;
	size_t n_eku;
	int is_ca;
	int path_len;
	NAME_CONSTRAINTS *nc;
	uint64_t ttl_default, ttl_max, backdate, crl_next_update;
	const char *crl_dp, *aia_issuers, *aia_ocsp;
	const char *const *policies;
	size_t n_policies;
};

struct sg_profiles {
	struct sg_profile *v; /* sorted by name */
	size_t n;
};

/* Helpers shared by loading and checking. */

static int
sg_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
sg_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char
sg_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Flags of sg_dns_norm. */
#define SG_DNS_WILD 1u /* "*." may start the name */
#define SG_DNS_DOT 2u  /* "." may start the name (a suffix: subdomains only) */

/*
 * A DNS name of LDH labels (letters, digits, hyphens; 1..63 bytes; no hyphen
 * at either end) joined by dots, at most 253 bytes, no trailing dot; written
 * lowercase into out (SG_DNS_MAX + 1 bytes).  Returns 0 or -1.
 */
static int
sg_dns_norm(const unsigned char *s, size_t len, unsigned flags, char *out)
{
	size_t i = 0, label = 0, o = 0;
	unsigned char c;

	if (len == 0 || len > SG_DNS_MAX)
		return -1;
	if ((flags & SG_DNS_WILD) != 0 && len > 2 && s[0] == '*' && s[1] == '.') {
		out[o++] = '*';
		out[o++] = '.';
		i = 2;
	} else if ((flags & SG_DNS_DOT) != 0 && len > 1 && s[0] == '.') {
		out[o++] = '.';
		i = 1;
	}
	for (; i < len; i++) {
		c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return -1;
			label = 0;
		} else if (sg_is_alpha((char)c) || sg_is_digit((char)c) || c == '-') {
			if (c == '-' && label == 0)
				return -1;
			if (++label > 63)
				return -1;
		} else {
			return -1;
		}
		out[o++] = sg_lower((char)c);
	}
	if (label == 0 || s[len - 1] == '-')
		return -1;
	out[o] = '\0';
	return 0;
}

/*
 * 1 if name (lowercase, no wildcard) falls under suffix: "example.com" is
 * the name itself and its subdomains, ".example.com" its subdomains only.
 */
static int
sg_dns_under(const char *name, const char *suffix)
{
	size_t n = strlen(name), m = strlen(suffix);

	if (suffix[0] == '.')
		return n > m && memcmp(name + n - m, suffix, m) == 0;
	if (n == m)
		return memcmp(name, suffix, n) == 0;
	return n > m && name[n - m - 1] == '.' && memcmp(name + n - m, suffix, m) == 0;
}

/* An IPv4 or IPv6 address in text; *len is 4 or 16.  0 or -1. */
static int
sg_ip_parse(const char *s, unsigned char addr[16], size_t *len)
{
	if (inet_pton(AF_INET, s, addr) == 1) {
		*len = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*len = 16;
		return 0;
	}
	return -1;
}

/*
 * "ADDRESS/PREFIX" with the address's host bits zero (so that "10.1.2.3/8"
 * cannot be misread as 10.0.0.0/8).  0 or -1 with *msg saying why.
 */
static int
sg_cidr_parse(const char *s, struct sg_ip_range *r, const char **msg)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	unsigned long prefix;
	char *end;
	size_t i;

	*msg = "expected ADDRESS/PREFIX, as in 10.0.0.0/8 or fd00::/8";
	if (slash == NULL || (size_t)(slash - s) >= sizeof(buf) || !sg_is_digit(slash[1]))
		return -1;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (sg_ip_parse(buf, r->addr, &r->len) != 0)
		return -1;
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (errno != 0 || *end != '\0' || (slash[1] == '0' && slash[2] != '\0') ||
	    prefix > r->len * 8) {
		*msg = "the prefix length must be 0..32 (IPv4) or 0..128 (IPv6)";
		return -1;
	}
	r->prefix = (unsigned)prefix;
	for (i = 0; i < r->len; i++) {
		unsigned keep = prefix >= (i + 1) * 8 ? 8
		                : prefix > i * 8      ? (unsigned)(prefix - i * 8)
		                                      : 0;
		unsigned char mask = (unsigned char)(keep == 0 ? 0 : 0xff << (8 - keep));

		if ((r->addr[i] & (unsigned char)~mask) != 0) {
			*msg = "the address has bits set beyond the prefix length";
			return -1;
		}
	}
	return 0;
}

/* 1 if addr (len bytes) is in range r. */
static int
sg_ip_in(const struct sg_ip_range *r, const unsigned char *addr, size_t len)
{
	unsigned bits = r->prefix, i;

	if (len != r->len)
		return 0;
	for (i = 0; bits >= 8; i++, bits -= 8) {
		if (addr[i] != r->addr[i])
			return 0;
	}
	return bits == 0 || ((addr[i] ^ r->addr[i]) & (0xff << (8 - bits)) & 0xff) == 0;
}

/*
 * A URI SAN: "scheme://authority[/path]" of printable ASCII, with none of
 * '%', '?', '#', '\\' and no "." or ".." path segment, so that a prefix check
 * cannot be walked around by a relying party that normalises the path.
 * Stricter than RFC 3986 on purpose (SPIFFE IDs are stricter still).  On
 * success *path_at is the offset of the path ('/'), or len when none.
 */
static int
sg_uri_valid(const unsigned char *u, size_t len, size_t *path_at)
{
	size_t i, seg;

	if (len == 0 || !sg_is_alpha((char)u[0]))
		return 0;
	for (i = 0; i < len; i++) {
		if (u[i] <= 0x20 || u[i] >= 0x7f || u[i] == '%' || u[i] == '?' || u[i] == '#' ||
		    u[i] == '\\')
			return 0;
	}
	for (i = 1; i < len && (sg_is_alpha((char)u[i]) || sg_is_digit((char)u[i]) || u[i] == '+' ||
	                        u[i] == '-' || u[i] == '.');
	     i++)
		;
	if (i + 3 > len || memcmp(u + i, "://", 3) != 0)
		return 0;
	i += 3;
	if (i == len || u[i] == '/')
		return 0; /* no authority */
	while (i < len && u[i] != '/')
		i++;
	*path_at = i;
	while (i < len) {
		/* u[i] == '/': the segment runs to the next '/' or the end. */
		for (seg = ++i; i < len && u[i] != '/'; i++)
			;
		if ((i - seg == 1 && u[seg] == '.') ||
		    (i - seg == 2 && u[seg] == '.' && u[seg + 1] == '.'))
			return 0;
	}
	return 1;
}

/* An http:// URL for a CRL distribution point or AIA: printable, no spaces, a host. */
static int
sg_url_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n <= 7 || strncmp(s, "http://", 7) != 0 || s[7] == '/')
		return 0;
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	}
	return 1;
}

/*
 * A dotted OID in canonical form (arcs without leading zeros, the first 0..2,
 * the second below 40 under 0 and 1) that OpenSSL accepts.
 */
static int
sg_oid_valid(const char *s)
{
	ASN1_OBJECT *o;
	unsigned long arc;
	size_t i, narcs = 0, start;
	int ok;

	for (i = 0; s[i] != '\0';) {
		start = i;
		if (!sg_is_digit(s[i]))
			return 0;
		if (s[i] == '0' && sg_is_digit(s[i + 1]))
			return 0;
		for (arc = 0; sg_is_digit(s[i]); i++) {
			arc = arc * 10 + (unsigned long)(s[i] - '0');
			if (i - start > 18)
				return 0;
		}
		if (narcs == 0 && arc > 2)
			return 0;
		if (narcs == 1 && s[0] != '2' && arc >= 40)
			return 0;
		narcs++;
		if (s[i] == '.') {
			if (s[i + 1] == '\0')
				return 0;
			i++;
		} else if (s[i] != '\0') {
			return 0;
		}
	}
	if (narcs < 2)
		return 0;
	o = OBJ_txt2obj(s, 1);
	ok = o != NULL;
	ASN1_OBJECT_free(o);
	ERR_clear_error();
	return ok;
}

/* Describes a public key for an error message: "RSA 1024 bits", "EC secp256k1". */
static void
sg_pkey_describe(EVP_PKEY *pk, char *buf, size_t len)
{
	char group[64];
	size_t glen = 0;
	const char *type;

	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen))
			(void)snprintf(buf, len, "EC %s", group);
		else
			(void)snprintf(buf, len, "EC with explicit curve parameters");
		break;
	case EVP_PKEY_RSA:
		(void)snprintf(buf, len, "RSA %d bits", EVP_PKEY_get_bits(pk));
		break;
	default:
		type = EVP_PKEY_get0_type_name(pk);
		(void)snprintf(buf, len, "%s", type != NULL ? type : "of an unknown type");
		break;
	}
	ERR_clear_error();
}

/* An OID for a message: OpenSSL's short name when it has one, else dotted. */
static const char *
sg_obj_name(const ASN1_OBJECT *obj, char *buf, size_t len)
{
	int nid = OBJ_obj2nid(obj);

	if (nid != NID_undef && OBJ_nid2sn(nid) != NULL)
		return OBJ_nid2sn(nid);
	(void)OBJ_obj2txt(buf, (int)len, obj, 1);
	return buf;
}

/*
 * Copies untrusted bytes into buf (buf_len >= 8) for an error message:
 * printable ASCII as is, every other byte as '?', cut at 64 bytes with "...".
 */
static const char *
sg_q(char *buf, size_t buf_len, const unsigned char *s, size_t n)
{
	size_t i, o = 0, cap = buf_len - 4 < 64 ? buf_len - 4 : 64;

	for (i = 0; i < n && o < cap; i++)
		buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	if (i < n) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* Loading. */

static void
sg_profile_clear(struct sg_profile *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n_subj && p->subj != NULL; i++) {
		if (p->subj[i].has_re)
			regfree(&p->subj[i].re);
	}
	free(p->subj);
	free(p->ips);
	free(p->eku);
	NAME_CONSTRAINTS_free(p->nc);
	sg_yaml_free(&sg_y_profile_schema, p->raw);
	free(p->path);
	memset(p, 0, sizeof(*p));
}

static int
sg_profile_load_subject(struct sg_profile *p, const struct sg_yaml_doc *doc, char *why,
                        size_t why_len)
{
	const struct sg_y_profile *y = p->raw;
	struct sg_subject_rule *s;
	X509_NAME_ENTRY *ne = NULL;
	char f[64], *anchored = NULL, msg[128];
	size_t i, j, k, n;
	int rc, r = SG_ERR_POLICY;

	if ((p->subj = calloc(y->subject_count, sizeof(*p->subj))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < y->subject_count; i++) {
		const struct sg_y_attr *ya = &y->subject[i];

		s = &p->subj[i];
		p->n_subj = i + 1;
		s->name = ya->attribute;
		for (j = 0; j < sizeof(sg_attrs) / sizeof(sg_attrs[0]); j++) {
			if (strcmp(ya->attribute, sg_attrs[j].name) == 0)
				break;
		}
		if (j == sizeof(sg_attrs) / sizeof(sg_attrs[0])) {
			(void)snprintf(f, sizeof(f), "subject[%zu].attribute", i);
			sg_yaml_why(
			    doc, why, why_len, f,
			    "unknown attribute '%s' (expected C, ST, L, street, postalCode, O, "
			    "OU, title, CN, GN, SN, serialNumber, UID, DC or emailAddress)",
			    ya->attribute);
			goto out;
		}
		s->nid = sg_attrs[j].nid;
		for (k = 0; k < i; k++) {
			if (p->subj[k].nid == s->nid) {
				(void)snprintf(f, sizeof(f), "subject[%zu].attribute", i);
				sg_yaml_why(
				    doc, why, why_len, f,
				    "attribute '%s' has a rule already (subject[%zu]); give "
				    "'max' for several values",
				    ya->attribute, k);
				goto out;
			}
		}
		s->required = ya->required == SG_YAML_BOOL_TRUE;
		s->max = ya->max != NULL ? *ya->max : 1;
		if (ya->value != NULL) {
			const char *extra = ya->pattern != NULL                  ? "pattern"
			                    : ya->required != SG_YAML_BOOL_UNSET ? "required"
			                    : ya->max != NULL                    ? "max"
			                                                         : NULL;

			if (extra != NULL) {
				(void)snprintf(f, sizeof(f), "subject[%zu].%s", i, extra);
				sg_yaml_why(
				    doc, why, why_len, f,
				    "not allowed beside 'value' (a fixed value is always in "
				    "the subject, once)");
				goto out;
			}
			for (n = 0; ya->value[n] != '\0'; n++) {
				if ((unsigned char)ya->value[n] < 0x20 || ya->value[n] == 0x7f)
					break;
			}
			ERR_clear_error();
			if (ya->value[n] != '\0' ||
			    (ne = X509_NAME_ENTRY_create_by_NID(NULL, s->nid, MBSTRING_UTF8,
			                                        (const unsigned char *)ya->value,
			                                        -1)) == NULL) {
				(void)snprintf(f, sizeof(f), "subject[%zu].value", i);
				sg_yaml_why(
				    doc, why, why_len, f,
				    "'%s' is not a valid %s (control characters, bad UTF-8, "
				    "or a length or characters its ASN.1 type refuses)",
				    ya->value, ya->attribute);
				goto out;
			}
			X509_NAME_ENTRY_free(ne);
			ne = NULL;
			s->value = ya->value;
			continue;
		}
		if (s->max < 1 || s->max > SG_PROFILE_MAX_ATTR_COUNT) {
			(void)snprintf(f, sizeof(f), "subject[%zu].max", i);
			sg_yaml_why(doc, why, why_len, f, "%u is out of range (1..%d)", s->max,
			            SG_PROFILE_MAX_ATTR_COUNT);
			goto out;
		}
		if (ya->pattern == NULL)
			continue;
		(void)snprintf(f, sizeof(f), "subject[%zu].pattern", i);
		for (n = 0; ya->pattern[n] != '\0'; n++) {
			if ((unsigned char)ya->pattern[n] < 0x20 || ya->pattern[n] == 0x7f) {
				sg_yaml_why(doc, why, why_len, f,
				            "control character in the pattern");
				goto out;
			}
		}
		/* Anchored: the pattern must match the whole value. */
		n = strlen(ya->pattern) + 5;
		if ((anchored = malloc(n)) == NULL) {
			r = SG_ERR_NOMEM;
			goto out;
		}
		(void)snprintf(anchored, n, "^(%s)$", ya->pattern);
		if ((rc = regcomp(&s->re, anchored, REG_EXTENDED | REG_NOSUB)) != 0) {
			(void)regerror(rc, NULL, msg, sizeof(msg));
			sg_yaml_why(doc, why, why_len, f,
			            "not a POSIX extended regular expression: %s", msg);
			goto out;
		}
		s->has_re = 1;
		free(anchored);
		anchored = NULL;
	}
	r = 0;
out:
	X509_NAME_ENTRY_free(ne);
	free(anchored);
	ERR_clear_error();
	return r;
}

static int
sg_profile_load_san(struct sg_profile *p, const struct sg_yaml_doc *doc, char *why, size_t why_len)
{
	struct sg_y_san *y = p->raw->san;
	char f[64], dns[SG_DNS_MAX + 1];
	const char *msg;
	size_t i, at;
	int r = SG_ERR_POLICY;

	if (y == NULL) {
		p->san_min = 0;
		p->san_max = SG_PROFILE_SAN_DEFAULT_MAX;
		r = 0;
		goto out;
	}
	p->san_min = y->min;
	p->san_max = y->max;
	if (y->max < 1 || y->max > SG_PROFILE_MAX_SANS) {
		sg_yaml_why(doc, why, why_len, "san.max", "%u is out of range (1..%d)",
		            (unsigned)y->max, SG_PROFILE_MAX_SANS);
		goto out;
	}
	if (y->min > y->max) {
		sg_yaml_why(doc, why, why_len, "san.min", "%u is more than max (%u)",
		            (unsigned)y->min, (unsigned)y->max);
		goto out;
	}
	if (y->dns_suffixes_count + y->ip_ranges_count + y->uri_prefixes_count == 0) {
		sg_yaml_why(doc, why, why_len, "san",
		            "allows no name: give dns_suffixes, ip_ranges or uri_prefixes (or "
		            "leave 'san' out for certificates without SANs)");
		goto out;
	}
	for (i = 0; i < y->dns_suffixes_count; i++) {
		if (sg_dns_norm((const unsigned char *)y->dns_suffixes[i],
		                strlen(y->dns_suffixes[i]), SG_DNS_DOT, dns) != 0) {
			(void)snprintf(f, sizeof(f), "san.dns_suffixes[%zu]", i);
			sg_yaml_why(doc, why, why_len, f,
			            "'%s' is not a DNS name (LDH labels, an optional leading '.' "
			            "for subdomains only, no wildcard, no trailing '.')",
			            y->dns_suffixes[i]);
			goto out;
		}
		memcpy(y->dns_suffixes[i], dns, strlen(dns) + 1); /* same length, lowercase */
	}
	p->dns = (const char *const *)y->dns_suffixes;
	p->n_dns = y->dns_suffixes_count;
	if (y->wildcards == SG_YAML_BOOL_TRUE && p->n_dns == 0) {
		sg_yaml_why(doc, why, why_len, "san.wildcards", "needs dns_suffixes");
		goto out;
	}
	p->wildcards = y->wildcards == SG_YAML_BOOL_TRUE;
	if (y->ip_ranges_count > 0 &&
	    (p->ips = calloc(y->ip_ranges_count, sizeof(*p->ips))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < y->ip_ranges_count; i++) {
		if (sg_cidr_parse(y->ip_ranges[i], &p->ips[i], &msg) != 0) {
			(void)snprintf(f, sizeof(f), "san.ip_ranges[%zu]", i);
			sg_yaml_why(doc, why, why_len, f, "'%s': %s", y->ip_ranges[i], msg);
			goto out;
		}
	}
	p->n_ips = y->ip_ranges_count;
	for (i = 0; i < y->uri_prefixes_count; i++) {
		const char *u = y->uri_prefixes[i];

		if (!sg_uri_valid((const unsigned char *)u, strlen(u), &at) || at == strlen(u)) {
			(void)snprintf(f, sizeof(f), "san.uri_prefixes[%zu]", i);
			sg_yaml_why(doc, why, why_len, f,
			            "'%s' is not a URI prefix of the form scheme://authority/... "
			            "(the '/' after the authority keeps a prefix from matching "
			            "another authority; no '%%', '?', '#', '\\', '.' or '..' "
			            "segments)",
			            u);
			goto out;
		}
	}
	p->uris = (const char *const *)y->uri_prefixes;
	p->n_uris = y->uri_prefixes_count;
	r = 0;
out:
	return r;
}

static int
sg_profile_load_usages(struct sg_profile *p, const struct sg_yaml_doc *doc, char *why,
                       size_t why_len)
{
	const struct sg_y_profile *y = p->raw;
	char f[64];
	size_t i, j;
	int nid, r = SG_ERR_POLICY;

	if (y->key_usage_count == 0) {
		p->key_usage = p->kind == SG_PROFILE_LEAF ? KU_DIGITAL_SIGNATURE
		                                          : KU_KEY_CERT_SIGN | KU_CRL_SIGN;
	}
	for (i = 0; i < y->key_usage_count; i++) {
		for (j = 0; j < sizeof(sg_kus) / sizeof(sg_kus[0]); j++) {
			if (strcmp(y->key_usage[i], sg_kus[j].name) == 0)
				break;
		}
		(void)snprintf(f, sizeof(f), "key_usage[%zu]", i);
		if (j == sizeof(sg_kus) / sizeof(sg_kus[0])) {
			sg_yaml_why(doc, why, why_len, f,
			            "unknown key usage '%s' (expected digitalSignature, "
			            "nonRepudiation, keyEncipherment, dataEncipherment, "
			            "keyAgreement, keyCertSign, cRLSign, encipherOnly or "
			            "decipherOnly)",
			            y->key_usage[i]);
			goto out;
		}
		if (p->kind == SG_PROFILE_LEAF &&
		    (sg_kus[j].bit & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) != 0) {
			sg_yaml_why(doc, why, why_len, f,
			            "'%s' is for CA certificates; this profile is kind: leaf",
			            y->key_usage[i]);
			goto out;
		}
		p->key_usage |= sg_kus[j].bit;
	}
	if (p->kind == SG_PROFILE_INTERMEDIATE_CA && (p->key_usage & KU_KEY_CERT_SIGN) == 0) {
		sg_yaml_why(doc, why, why_len, "key_usage", "an intermediate CA needs keyCertSign");
		goto out;
	}
	if ((p->key_usage & (KU_ENCIPHER_ONLY | KU_DECIPHER_ONLY)) != 0 &&
	    (p->key_usage & KU_KEY_AGREEMENT) == 0) {
		sg_yaml_why(doc, why, why_len, "key_usage",
		            "encipherOnly and decipherOnly need keyAgreement (RFC 5280 4.2.1.3)");
		goto out;
	}
	if (y->extended_key_usage_count > 0 &&
	    (p->eku = calloc(y->extended_key_usage_count, sizeof(*p->eku))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < y->extended_key_usage_count; i++) {
		const char *e = y->extended_key_usage[i];

		(void)snprintf(f, sizeof(f), "extended_key_usage[%zu]", i);
		nid = sg_is_digit(e[0]) ? (sg_oid_valid(e) ? OBJ_txt2nid(e) : NID_undef)
		                        : OBJ_sn2nid(e);
		ERR_clear_error();
		if (nid == NID_undef) {
			sg_yaml_why(doc, why, why_len, f,
			            "unknown extended key usage '%s' (a short name such as "
			            "serverAuth, clientAuth, codeSigning, emailProtection, "
			            "timeStamping, OCSPSigning, or a dotted OID OpenSSL knows)",
			            e);
			goto out;
		}
		for (j = 0; j < p->n_eku; j++) {
			if (p->eku[j] == nid) {
				sg_yaml_why(doc, why, why_len, f, "'%s' is listed twice", e);
				goto out;
			}
		}
		p->eku[p->n_eku++] = nid;
	}
	r = 0;
out:
	return r;
}

/* Appends one subtree (a DNS name or a CIDR range) to *st. */
static int
sg_nc_add(STACK_OF(GENERAL_SUBTREE) * *st, const char *s, int is_ip, const char **msg)
{
	GENERAL_SUBTREE *sub = NULL;
	struct sg_ip_range rg;
	unsigned char buf[32];
	char dns[SG_DNS_MAX + 1];
	size_t i;
	int r = SG_ERR_POLICY;

	if (is_ip) {
		if (sg_cidr_parse(s, &rg, msg) != 0)
			goto out;
		/* RFC 5280 4.2.1.10: the address, then the mask. */
		memcpy(buf, rg.addr, rg.len);
		for (i = 0; i < rg.len; i++) {
			unsigned keep = rg.prefix >= (i + 1) * 8 ? 8
			                : rg.prefix > i * 8      ? (unsigned)(rg.prefix - i * 8)
			                                         : 0;

			buf[rg.len + i] = (unsigned char)(keep == 0 ? 0 : 0xff << (8 - keep));
		}
	} else if (sg_dns_norm((const unsigned char *)s, strlen(s), SG_DNS_DOT, dns) != 0) {
		*msg = "not a DNS name (LDH labels, an optional leading '.', no wildcard)";
		goto out;
	}
	r = SG_ERR_NOMEM;
	if (*st == NULL && (*st = sk_GENERAL_SUBTREE_new_null()) == NULL)
		goto out;
	if ((sub = GENERAL_SUBTREE_new()) == NULL)
		goto out;
	if (is_ip) {
		sub->base->type = GEN_IPADD;
		if ((sub->base->d.iPAddress = ASN1_OCTET_STRING_new()) == NULL ||
		    !ASN1_OCTET_STRING_set(sub->base->d.iPAddress, buf, (int)(2 * rg.len)))
			goto out;
	} else {
		sub->base->type = GEN_DNS;
		if ((sub->base->d.dNSName = ASN1_IA5STRING_new()) == NULL ||
		    !ASN1_STRING_set(sub->base->d.dNSName, dns, -1))
			goto out;
	}
	if (!sk_GENERAL_SUBTREE_push(*st, sub))
		goto out;
	sub = NULL;
	r = 0;
out:
	GENERAL_SUBTREE_free(sub);
	return r;
}

static int
sg_profile_load_nc(struct sg_profile *p, const struct sg_yaml_doc *doc, char *why, size_t why_len)
{
	const struct sg_y_nc *y = p->raw->name_constraints;
	const struct {
		const char *field;
		char **v;
		unsigned n;
		int excluded, is_ip;
	} lists[] = {
	    {"permitted_dns", y != NULL ? y->permitted_dns : NULL,
	     y != NULL ? y->permitted_dns_count : 0, 0, 0},
	    {"excluded_dns", y != NULL ? y->excluded_dns : NULL,
	     y != NULL ? y->excluded_dns_count : 0, 1, 0},
	    {"permitted_ip", y != NULL ? y->permitted_ip : NULL,
	     y != NULL ? y->permitted_ip_count : 0, 0, 1},
	    {"excluded_ip", y != NULL ? y->excluded_ip : NULL, y != NULL ? y->excluded_ip_count : 0,
	     1, 1},
	};
	const char *msg = NULL;
	char f[64];
	size_t i, j;
	int r = SG_ERR_POLICY;

	if (y == NULL) {
		r = 0;
		goto out;
	}
	if (p->kind != SG_PROFILE_INTERMEDIATE_CA) {
		sg_yaml_why(doc, why, why_len, "name_constraints",
		            "only for kind: intermediate-ca (RFC 5280 puts name constraints in "
		            "CA certificates only)");
		goto out;
	}
	if (y->permitted_dns_count + y->excluded_dns_count + y->permitted_ip_count +
	        y->excluded_ip_count ==
	    0) {
		sg_yaml_why(doc, why, why_len, "name_constraints",
		            "constrains nothing: give permitted_dns, excluded_dns, permitted_ip or "
		            "excluded_ip (or leave it out)");
		goto out;
	}
	if ((p->nc = NAME_CONSTRAINTS_new()) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		for (j = 0; j < lists[i].n; j++) {
			r = sg_nc_add(lists[i].excluded ? &p->nc->excludedSubtrees
			                                : &p->nc->permittedSubtrees,
			              lists[i].v[j], lists[i].is_ip, &msg);
			if (r == SG_ERR_POLICY) {
				(void)snprintf(f, sizeof(f), "name_constraints.%s[%zu]",
				               lists[i].field, j);
				sg_yaml_why(doc, why, why_len, f, "'%s': %s", lists[i].v[j], msg);
			}
			if (r != 0)
				goto out;
		}
	}
	r = 0;
out:
	return r;
}

/* A duration field: absent gives dflt; else within [lo, hi]. */
static int
sg_profile_duration(const struct sg_yaml_doc *doc, const char *field, const char *s, uint64_t dflt,
                    uint64_t lo, uint64_t hi, uint64_t *out, char *why, size_t why_len)
{
	if (s == NULL) {
		*out = dflt;
		return 0;
	}
	/* 2^40 s: far beyond any range, and no sum can overflow. */
	if (sg_duration_parse(s, (uint64_t)1 << 40, out) != 0) {
		sg_yaml_why(doc, why, why_len, field,
		            "'%s' is not a duration (NUMBER and unit s, m, h or d, as in 24h, 90d, "
		            "1h30m)",
		            s);
		return SG_ERR_POLICY;
	}
	if (*out < lo || *out > hi) {
		sg_yaml_why(doc, why, why_len, field, "%s is out of range (%llu s .. %llu s)", s,
		            (unsigned long long)lo, (unsigned long long)hi);
		return SG_ERR_POLICY;
	}
	return 0;
}

static int
sg_profile_load_times(struct sg_profile *p, const struct sg_yaml_doc *doc, char *why,
                      size_t why_len)
{
	const struct sg_y_profile *y = p->raw;
	const char *dflt = y->ttl != NULL ? y->ttl->dflt : NULL;
	const char *max = y->ttl != NULL ? y->ttl->max : NULL;
	int r;

	if (p->kind == SG_PROFILE_INTERMEDIATE_CA && dflt == NULL) {
		sg_yaml_why(doc, why, why_len, "ttl.default",
		            "required for kind: intermediate-ca (leaves default to 24h)");
		return SG_ERR_POLICY;
	}
	if ((r = sg_profile_duration(doc, "ttl.default", dflt, SG_PROFILE_DEFAULT_LEAF_TTL,
	                             SG_PROFILE_TTL_MIN, SG_PROFILE_TTL_MAX, &p->ttl_default, why,
	                             why_len)) != 0 ||
	    (r = sg_profile_duration(doc, "ttl.max", max, p->ttl_default, SG_PROFILE_TTL_MIN,
	                             SG_PROFILE_TTL_MAX, &p->ttl_max, why, why_len)) != 0)
		return r;
	if (p->ttl_max < p->ttl_default) {
		sg_yaml_why(doc, why, why_len, "ttl.max", "%s is less than the default (%s)", max,
		            dflt != NULL ? dflt : "24h");
		return SG_ERR_POLICY;
	}
	if ((r = sg_profile_duration(doc, "backdate", y->backdate, SG_PROFILE_DEFAULT_BACKDATE, 0,
	                             SG_PROFILE_BACKDATE_MAX, &p->backdate, why, why_len)) != 0 ||
	    (r = sg_profile_duration(doc, "crl_next_update", y->crl_next_update,
	                             SG_PROFILE_DEFAULT_CRL_NEXT_UPDATE, SG_PROFILE_CRL_MIN,
	                             SG_PROFILE_CRL_MAX, &p->crl_next_update, why, why_len)) != 0)
		return r;
	return 0;
}

static int
sg_profile_load_urls(struct sg_profile *p, const struct sg_yaml_doc *doc, char *why, size_t why_len)
{
	const struct sg_y_profile *y = p->raw;
	const struct {
		const char *field;
		const char *url;
	} urls[] = {
	    {"crl_distribution_point", y->crl_distribution_point},
	    {"aia.ca_issuers", y->aia != NULL ? y->aia->ca_issuers : NULL},
	    {"aia.ocsp", y->aia != NULL ? y->aia->ocsp : NULL},
	};
	char f[64];
	size_t i, j;

	if (y->aia != NULL && y->aia->ca_issuers == NULL && y->aia->ocsp == NULL) {
		sg_yaml_why(doc, why, why_len, "aia", "needs ca_issuers or ocsp (or leave it out)");
		return SG_ERR_POLICY;
	}
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		if (urls[i].url != NULL && !sg_url_valid(urls[i].url)) {
			sg_yaml_why(doc, why, why_len, urls[i].field,
			            "'%s' is not an http:// URL with a host, of printable ASCII "
			            "without spaces (RFC 5280 wants these fetched over plain HTTP)",
			            urls[i].url);
			return SG_ERR_POLICY;
		}
	}
	p->crl_dp = y->crl_distribution_point;
	p->aia_issuers = y->aia != NULL ? y->aia->ca_issuers : NULL;
	p->aia_ocsp = y->aia != NULL ? y->aia->ocsp : NULL;
	for (i = 0; i < y->certificate_policies_count; i++) {
		(void)snprintf(f, sizeof(f), "certificate_policies[%zu]", i);
		if (!sg_oid_valid(y->certificate_policies[i])) {
			sg_yaml_why(doc, why, why_len, f,
			            "'%s' is not a dotted OID (as in 2.23.140.1.2.1)",
			            y->certificate_policies[i]);
			return SG_ERR_POLICY;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(y->certificate_policies[i], y->certificate_policies[j]) == 0) {
				sg_yaml_why(doc, why, why_len, f, "'%s' is listed twice",
				            y->certificate_policies[i]);
				return SG_ERR_POLICY;
			}
		}
	}
	p->policies = (const char *const *)y->certificate_policies;
	p->n_policies = y->certificate_policies_count;
	return 0;
}

static int
sg_profile_load_bc(struct sg_profile *p, const struct sg_yaml_doc *doc, char *why, size_t why_len)
{
	const struct sg_y_bc *bc = p->raw->basic_constraints;

	p->is_ca = p->kind == SG_PROFILE_INTERMEDIATE_CA;
	/* An intermediate below which no further CA may be made, unless said. */
	p->path_len = p->is_ca ? 0 : -1;
	if (bc == NULL)
		return 0;
	if ((bc->ca == SG_YAML_BOOL_TRUE) != p->is_ca) {
		sg_yaml_why(doc, why, why_len, "basic_constraints.ca",
		            p->is_ca ? "must be true for kind: intermediate-ca"
		                     : "a leaf profile cannot make CA certificates (kind: leaf)");
		return SG_ERR_POLICY;
	}
	if (bc->path_len != NULL) {
		if (!p->is_ca) {
			sg_yaml_why(doc, why, why_len, "basic_constraints.path_len",
			            "only for kind: intermediate-ca");
			return SG_ERR_POLICY;
		}
		if (*bc->path_len > SG_PROFILE_MAX_PATH_LEN) {
			sg_yaml_why(doc, why, why_len, "basic_constraints.path_len",
			            "%u is out of range (0..%d)", (unsigned)*bc->path_len,
			            SG_PROFILE_MAX_PATH_LEN);
			return SG_ERR_POLICY;
		}
		p->path_len = (int)*bc->path_len;
	}
	return 0;
}

/* Loads the profile at path, whose file name without ".yaml" is base. */
static int
sg_profile_load(struct sg_profile *p, const char *path, const char *base, char *why, size_t why_len)
{
	struct sg_yaml_doc *doc = NULL;
	struct sg_y_profile *y;
	enum sg_keyalg alg;
	char f[64];
	void *raw = NULL;
	size_t i;
	int r;

	if ((r = sg_yaml_load(path, &sg_y_profile_schema, SG_ERR_POLICY, &raw, &doc, why,
	                      why_len)) != 0)
		goto out;
	y = p->raw = raw;
	raw = NULL;
	if ((p->path = strdup(path)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	r = SG_ERR_POLICY;
	if (y->version != SG_PROFILE_VERSION) {
		sg_yaml_why(doc, why, why_len, "version",
		            "unsupported profile version %u (expected %d)", (unsigned)y->version,
		            SG_PROFILE_VERSION);
		goto out;
	}
	if (strcmp(y->name, base) != 0) {
		sg_yaml_why(doc, why, why_len, "name",
		            "'%s' is not the file's name: profile %s must be in %s.yaml", y->name,
		            y->name, y->name);
		goto out;
	}
	p->name = y->name;
	p->kind = (enum sg_profile_kind)y->kind;
	if (!sg_wire_name_valid(y->issuer, strlen(y->issuer))) {
		sg_yaml_why(doc, why, why_len, "issuer",
		            "invalid key name '%s' (expected [A-Za-z0-9._-]{1,%d})", y->issuer,
		            SG_NAME_MAX);
		goto out;
	}
	p->issuer = y->issuer;
	p->issuer_line = sg_yaml_line(doc, "issuer");
	p->path_len_line = sg_yaml_line(doc, "basic_constraints.path_len");
	if (p->path_len_line == 0)
		p->path_len_line = sg_yaml_line(doc, "kind");
	for (i = 0; i < y->key_types_count; i++) {
		if (sg_keyalg_parse(y->key_types[i], &alg) != 0) {
			(void)snprintf(f, sizeof(f), "key_types[%zu]", i);
			sg_yaml_why(doc, why, why_len, f,
			            "unknown key type '%s' (expected ec-p256, ec-p384, rsa-2048, "
			            "rsa-3072 or rsa-4096)",
			            y->key_types[i]);
			goto out;
		}
		p->key_types |= 1u << alg;
	}
	p->hash = SG_HASH_SHA256;
	if (y->hash != NULL && sg_hash_parse(y->hash, &p->hash) != 0) {
		sg_yaml_why(doc, why, why_len, "hash",
		            "unknown hash '%s' (expected sha256, sha384 or sha512)", y->hash);
		goto out;
	}
	if ((r = sg_profile_load_bc(p, doc, why, why_len)) != 0 ||
	    (r = sg_profile_load_subject(p, doc, why, why_len)) != 0 ||
	    (r = sg_profile_load_san(p, doc, why, why_len)) != 0 ||
	    (r = sg_profile_load_usages(p, doc, why, why_len)) != 0 ||
	    (r = sg_profile_load_nc(p, doc, why, why_len)) != 0 ||
	    (r = sg_profile_load_times(p, doc, why, why_len)) != 0 ||
	    (r = sg_profile_load_urls(p, doc, why, why_len)) != 0)
		goto out;
	r = 0;
out:
	if (r == SG_ERR_NOMEM)
		sg_whyf(why, why_len, "%s: out of memory", path);
	sg_yaml_free(&sg_y_profile_schema, raw);
	sg_yaml_doc_free(doc);
	return r;
}

static int
sg_name_cmp(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
}

static int
sg_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

void
sg_profiles_free(struct sg_profiles *ps)
{
	size_t i;

	if (ps == NULL)
		return;
	for (i = 0; i < ps->n; i++)
		sg_profile_clear(&ps->v[i]);
	free(ps->v);
	free(ps);
}

int
sg_profiles_load(const char *dir, struct sg_profiles **out, char *why, size_t why_len)
{
	struct sg_profiles *ps = NULL;
	struct dirent *de;
	DIR *d = NULL;
	char **names = NULL, *path = NULL, base[SG_NAME_MAX + 1];
	size_t n = 0, i, len;
	int r = SG_ERR_INTERNAL;

	*out = NULL;
	if ((d = opendir(dir)) == NULL) {
		r = errno == ENOENT ? SG_ERR_NOT_FOUND : SG_ERR_IO;
		sg_whyf(why, why_len, "%s: %s", dir, strerror(errno));
		goto out;
	}
	if ((names = calloc(SG_PROFILES_MAX, sizeof(*names))) == NULL ||
	    (ps = calloc(1, sizeof(*ps))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				r = SG_ERR_IO;
				sg_whyf(why, why_len, "%s: %s", dir, strerror(errno));
				goto out;
			}
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		/* A profile under another extension would be silently ignored. */
		if (sg_ends_with(de->d_name, ".yml")) {
			r = SG_ERR_POLICY;
			sg_whyf(why, why_len, "%s/%s: profile files end in .yaml (rename it)", dir,
			        de->d_name);
			goto out;
		}
		if (!sg_ends_with(de->d_name, ".yaml"))
			continue;
		if (n == SG_PROFILES_MAX) {
			r = SG_ERR_LIMIT;
			sg_whyf(why, why_len, "%s: more than %d profiles", dir, SG_PROFILES_MAX);
			goto out;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			r = SG_ERR_NOMEM;
			goto out;
		}
		n++;
	}
	if (n > 0) {
		qsort(names, n, sizeof(*names), sg_name_cmp);
		if ((ps->v = calloc(n, sizeof(*ps->v))) == NULL) {
			r = SG_ERR_NOMEM;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		len = strlen(names[i]) - 5;
		if (len > SG_NAME_MAX || !sg_wire_name_valid(names[i], len)) {
			r = SG_ERR_POLICY;
			sg_whyf(why, why_len,
			        "%s/%s: a profile file is NAME.yaml with NAME of "
			        "[A-Za-z0-9._-]{1,%d}",
			        dir, names[i], SG_NAME_MAX);
			goto out;
		}
		memcpy(base, names[i], len);
		base[len] = '\0';
		free(path);
		if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
			path = NULL;
			r = SG_ERR_NOMEM;
			goto out;
		}
		ps->n = i + 1;
		if ((r = sg_profile_load(&ps->v[i], path, base, why, why_len)) != 0)
			goto out;
	}
	*out = ps;
	ps = NULL;
	r = 0;
out:
	if (r == SG_ERR_NOMEM)
		sg_whyf(why, why_len, "%s: out of memory", dir);
	for (i = 0; names != NULL && i < n; i++)
		free(names[i]);
	free(names);
	free(path);
	sg_profiles_free(ps);
	if (d != NULL)
		(void)closedir(d);
	return r;
}

size_t
sg_profiles_count(const struct sg_profiles *ps)
{
	return ps == NULL ? 0 : ps->n;
}

const struct sg_profile *
sg_profiles_at(const struct sg_profiles *ps, size_t i)
{
	return ps != NULL && i < ps->n ? &ps->v[i] : NULL;
}

const struct sg_profile *
sg_profiles_find(const struct sg_profiles *ps, const char *name)
{
	size_t lo = 0, hi, mid;
	int c;

	if (ps == NULL || name == NULL)
		return NULL;
	for (hi = ps->n; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(ps->v[mid].name, name)) == 0)
			return &ps->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

uint64_t
sg_profiles_crl_next_update(const struct sg_profiles *ps, const char *issuer)
{
	uint64_t best = 0;
	size_t i;

	for (i = 0; ps != NULL && issuer != NULL && i < ps->n; i++) {
		if (strcmp(ps->v[i].issuer, issuer) == 0 &&
		    (best == 0 || ps->v[i].crl_next_update < best))
			best = ps->v[i].crl_next_update;
	}
	return best;
}

const char *
sg_profile_name(const struct sg_profile *p)
{
	return p->name;
}

const char *
sg_profile_path(const struct sg_profile *p)
{
	return p->path;
}

enum sg_profile_kind
sg_profile_kind(const struct sg_profile *p)
{
	return p->kind;
}

const char *
sg_profile_issuer(const struct sg_profile *p)
{
	return p->issuer;
}

enum sg_hash
sg_profile_hash(const struct sg_profile *p)
{
	return p->hash;
}

uint64_t
sg_profile_ttl_default(const struct sg_profile *p)
{
	return p->ttl_default;
}

uint64_t
sg_profile_ttl_max(const struct sg_profile *p)
{
	return p->ttl_max;
}

uint64_t
sg_profile_crl_next_update(const struct sg_profile *p)
{
	return p->crl_next_update;
}

int
sg_profile_key_allowed(const struct sg_profile *p, enum sg_keyalg a)
{
	return a > SG_KEYALG_NONE && a <= SG_KEYALG_RSA_4096 && (p->key_types & (1u << a)) != 0;
}

/*
 * How many more CA certificates issuer_cert allows below it: -1 for no
 * limit, else its pathLenConstraint.
 */
static long
sg_issuer_room(X509 *issuer_cert)
{
	long pl;

	(void)X509_get_extension_flags(issuer_cert);
	pl = X509_get_pathlen(issuer_cert);
	ERR_clear_error();
	return pl;
}

int
sg_profiles_check_policy(const struct sg_profiles *ps, const struct sg_policy *policy, char *why,
                         size_t why_len)
{
	const struct sg_policy_key *k;
	const struct sg_profile *p;
	const char *name;
	long room;
	size_t i;

	for (i = 0; i < sg_profiles_count(ps); i++) {
		p = &ps->v[i];
		if ((k = sg_policy_key_by_name(policy, p->issuer)) == NULL) {
			sg_whyf(why, why_len,
			        "%s:%u: field 'issuer': '%s' is not a key of the policy", p->path,
			        p->issuer_line, p->issuer);
			return SG_ERR_POLICY;
		}
		if (!sg_policy_key_is_ca(k)) {
			sg_whyf(why, why_len,
			        "%s:%u: field 'issuer': key '%s' of the policy lacks purpose 'ca'",
			        p->path, p->issuer_line, p->issuer);
			return SG_ERR_POLICY;
		}
		if (p->kind != SG_PROFILE_INTERMEDIATE_CA)
			continue;
		room = sg_issuer_room(sg_policy_key_cert(k));
		if (room >= 0 && p->path_len >= room) {
			sg_whyf(why, why_len,
			        "%s:%u: field 'basic_constraints.path_len': the certificate of "
			        "issuer '%s' has pathLenConstraint %ld, so the CAs it issues need "
			        "path_len below it (this profile: %d)",
			        p->path, p->path_len_line, p->issuer, room, p->path_len);
			return SG_ERR_POLICY;
		}
	}
	for (i = 0; i < sg_policy_profile_count(policy); i++) {
		name = sg_policy_profile_at(policy, i);
		if (sg_profiles_find(ps, name) == NULL) {
			sg_whyf(
			    why, why_len,
			    "the policy's rules name profile '%s', which is not in the profiles "
			    "directory",
			    name);
			return SG_ERR_POLICY;
		}
	}
	return 0;
}

/* Applying a profile to a request. */

void
sg_profile_issue_clear(struct sg_profile_issue *iss)
{
	if (iss == NULL)
		return;
	EVP_PKEY_free(iss->pubkey);
	X509_NAME_free(iss->subject);
	GENERAL_NAMES_free(iss->sans);
	memset(iss, 0, sizeof(*iss));
}

static int
sg_time_of(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return -1;
	*out = timegm(&tm);
	return 0;
}

/* The issuer certificate may sign certificates, and (intermediates) one more CA. */
static int
sg_apply_issuer(const struct sg_profile *p, X509 *issuer_cert, char *why, size_t why_len)
{
	uint32_t flags = X509_get_extension_flags(issuer_cert);
	long room;

	if ((flags & EXFLAG_INVALID) != 0 || (flags & EXFLAG_CA) == 0 ||
	    (flags & EXFLAG_BCONS) == 0 ||
	    ((flags & EXFLAG_KUSAGE) != 0 &&
	     (X509_get_key_usage(issuer_cert) & KU_KEY_CERT_SIGN) == 0)) {
		sg_whyf(why, why_len,
		        "the certificate of issuer '%s' is not a CA certificate that may sign "
		        "certificates",
		        p->issuer);
		return SG_ERR_NO_CERT;
	}
	if (p->kind == SG_PROFILE_INTERMEDIATE_CA && (room = sg_issuer_room(issuer_cert)) >= 0 &&
	    p->path_len >= room) {
		sg_whyf(why, why_len,
		        "issuer '%s' has pathLenConstraint %ld: it cannot issue a CA with "
		        "path_len %d (profile %s)",
		        p->issuer, room, p->path_len, p->name);
		return SG_ERR_CA_NOT_ALLOWED;
	}
	return 0;
}

/* The CSR's public key: a type the profile lists, sound, and usages left for it. */
static int
sg_apply_key(const struct sg_profile *p, X509_REQ *csr, struct sg_profile_issue *iss, char *why,
             size_t why_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = X509_REQ_get0_pubkey(csr);
	enum sg_keyalg alg;
	char desc[96];
	int r = SG_ERR_KEY_NOT_ALLOWED;

	if (pk == NULL) {
		sg_whyf(why, why_len, "the CSR's public key cannot be decoded");
		goto out;
	}
	alg = sg_keyalg_of_pkey(pk);
	if (alg == SG_KEYALG_NONE || !sg_profile_key_allowed(p, alg)) {
		if (alg == SG_KEYALG_NONE)
			sg_pkey_describe(pk, desc, sizeof(desc));
		sg_whyf(why, why_len, "profile %s does not allow %s%s key", p->name,
		        alg == SG_KEYALG_NONE ? "a " : "an ",
		        alg == SG_KEYALG_NONE ? desc : sg_keyalg_name(alg));
		goto out;
	}
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_public_check(ctx) != 1) {
		sg_whyf(why, why_len, "the CSR's %s public key fails OpenSSL's public key check",
		        sg_keyalg_name(alg));
		goto out;
	}
	iss->key_usage = p->key_usage & ~(sg_keyalg_is_rsa(alg) ? SG_KU_NOT_RSA : SG_KU_NOT_EC);
	if (iss->key_usage == 0) {
		sg_whyf(why, why_len, "none of profile %s's key usages applies to an %s key",
		        p->name, sg_keyalg_is_rsa(alg) ? "RSA" : "EC");
		goto out;
	}
	if (!EVP_PKEY_up_ref(pk)) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	iss->pubkey = pk;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/* The CSR's extension request, decoded; *exts is an empty stack when it has none. */
static int
sg_csr_exts(X509_REQ *csr, STACK_OF(X509_EXTENSION) * *exts, char *why, size_t why_len)
{
	const int nids[] = {NID_ext_req, NID_ms_ext_req};
	X509_ATTRIBUTE *attr = NULL;
	ASN1_TYPE *t;
	const unsigned char *q, *end;
	size_t i;
	int idx, found = 0;

	for (i = 0; i < sizeof(nids) / sizeof(nids[0]); i++) {
		for (idx = -1; (idx = X509_REQ_get_attr_by_NID(csr, nids[i], idx)) >= 0;) {
			if (found++ > 0) {
				sg_whyf(why, why_len, "the CSR has more than one extensionRequest");
				return SG_ERR_CSR_INVALID;
			}
			attr = X509_REQ_get_attr(csr, idx);
		}
	}
	if (attr == NULL) {
		*exts = sk_X509_EXTENSION_new_null();
		return *exts == NULL ? SG_ERR_NOMEM : 0;
	}
	if (X509_ATTRIBUTE_count(attr) != 1 || (t = X509_ATTRIBUTE_get0_type(attr, 0)) == NULL ||
	    t->type != V_ASN1_SEQUENCE) {
		sg_whyf(why, why_len,
		        "the CSR's extensionRequest is not one SEQUENCE of extensions");
		return SG_ERR_CSR_INVALID;
	}
	q = t->value.sequence->data;
	end = q + t->value.sequence->length;
	*exts = (STACK_OF(X509_EXTENSION) *)ASN1_item_d2i(NULL, &q, t->value.sequence->length,
	                                                  ASN1_ITEM_rptr(X509_EXTENSIONS));
	if (*exts == NULL || q != end) {
		sk_X509_EXTENSION_pop_free(*exts, X509_EXTENSION_free);
		*exts = NULL;
		sg_whyf(why, why_len, "the CSR's extensionRequest does not decode");
		return SG_ERR_CSR_INVALID;
	}
	return 0;
}

/* 1 for the extensions whose contents the profile sets, so that the CSR's are ignored. */
static int
sg_ext_handled(const struct sg_profile *p, int nid)
{
	switch (nid) {
	case NID_subject_alt_name:
	case NID_basic_constraints:
	case NID_key_usage:
	case NID_ext_key_usage:
	case NID_subject_key_identifier:
	case NID_authority_key_identifier:
	case NID_crl_distribution_points:
	case NID_info_access:
	case NID_certificate_policies:
		return 1;
	case NID_name_constraints:
		return p->kind == SG_PROFILE_INTERMEDIATE_CA;
	default:
		return 0;
	}
}

/*
 * The CSR's extensions: well-formed and each once; no CA:TRUE for a leaf; no
 * critical extension the profile does not handle.  *sans gets the CSR's
 * subjectAltName (NULL if none).
 */
static int
sg_apply_exts(const struct sg_profile *p, X509_REQ *csr, GENERAL_NAMES **sans, char *why,
              size_t why_len)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	BASIC_CONSTRAINTS *bc = NULL;
	X509_EXTENSION *e;
	ASN1_OBJECT *obj;
	char buf[80];
	const char *oid;
	int i, j, n, nid, ca = 0, r;

	*sans = NULL;
	if ((r = sg_csr_exts(csr, &exts, why, why_len)) != 0)
		goto out;
	r = SG_ERR_CSR_INVALID;
	n = sk_X509_EXTENSION_num(exts);
	for (i = 0; i < n; i++) {
		e = sk_X509_EXTENSION_value(exts, i);
		obj = X509_EXTENSION_get_object(e);
		oid = sg_obj_name(obj, buf, sizeof(buf));
		for (j = 0; j < i; j++) {
			if (OBJ_cmp(obj, X509_EXTENSION_get_object(
			                     sk_X509_EXTENSION_value(exts, j))) == 0) {
				sg_whyf(why, why_len, "the CSR asks extension %s twice", oid);
				goto out;
			}
		}
		nid = OBJ_obj2nid(obj);
		if (nid == NID_subject_alt_name) {
			if ((*sans = X509V3_EXT_d2i(e)) == NULL) {
				sg_whyf(why, why_len, "the CSR's subjectAltName does not decode");
				goto out;
			}
		} else if (nid == NID_basic_constraints) {
			if ((bc = X509V3_EXT_d2i(e)) == NULL) {
				sg_whyf(why, why_len, "the CSR's basicConstraints does not decode");
				goto out;
			}
			ca = bc->ca != 0;
			BASIC_CONSTRAINTS_free(bc);
			bc = NULL;
		}
	}
	if (ca && p->kind == SG_PROFILE_LEAF) {
		sg_whyf(why, why_len,
		        "the CSR asks basicConstraints CA:TRUE, but profile %s makes leaf "
		        "certificates",
		        p->name);
		r = SG_ERR_CA_NOT_ALLOWED;
		goto out;
	}
	for (i = 0; i < n; i++) {
		e = sk_X509_EXTENSION_value(exts, i);
		obj = X509_EXTENSION_get_object(e);
		if (!X509_EXTENSION_get_critical(e) || sg_ext_handled(p, OBJ_obj2nid(obj)))
			continue;
		oid = sg_obj_name(obj, buf, sizeof(buf));
		sg_whyf(why, why_len,
		        "the CSR asks a critical extension %s, which profile %s does "
		        "not handle",
		        oid, p->name);
		r = SG_ERR_CSR_EXTENSION;
		goto out;
	}
	r = 0;
out:
	if (r != 0) {
		GENERAL_NAMES_free(*sans);
		*sans = NULL;
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return r;
}

/* The value of a CSR subject entry as UTF-8, checked; *utf8 is OPENSSL_malloc'ed. */
static int
sg_entry_utf8(const X509_NAME_ENTRY *ne, const char *attr, unsigned char **utf8, int *len,
              char *why, size_t why_len)
{
	int i;

	*utf8 = NULL;
	if ((*len = ASN1_STRING_to_UTF8(utf8, X509_NAME_ENTRY_get_data(ne))) < 0) {
		*utf8 = NULL;
		sg_whyf(why, why_len, "subject %s is not a string that converts to UTF-8", attr);
		return SG_ERR_SUBJECT_NOT_ALLOWED;
	}
	if (*len == 0 || *len > SG_PROFILE_VALUE_MAX) {
		sg_whyf(why, why_len, "subject %s is %s", attr,
		        *len == 0 ? "empty" : "longer than 256 bytes");
		return SG_ERR_SUBJECT_NOT_ALLOWED;
	}
	for (i = 0; i < *len; i++) {
		if ((*utf8)[i] < 0x20 || (*utf8)[i] == 0x7f) {
			sg_whyf(why, why_len, "subject %s has a control character", attr);
			return SG_ERR_SUBJECT_NOT_ALLOWED;
		}
	}
	return 0;
}

/*
 * The subject: every attribute of the CSR's must have a rule and pass it;
 * the issued subject has the profile's attributes in the profile's order
 * (fixed values, then the CSR's values in the CSR's order), one per RDN.
 */
static int
sg_apply_subject(const struct sg_profile *p, X509_REQ *csr, X509_NAME **out, char *why,
                 size_t why_len)
{
	const X509_NAME *in = X509_REQ_get_subject_name(csr);
	X509_NAME *name = NULL;
	const X509_NAME_ENTRY *ne;
	const struct sg_subject_rule *s;
	unsigned counts[SG_PROFILE_MAX_ATTRS] = {0};
	unsigned char *utf8 = NULL;
	char abuf[80], q[80];
	const char *attr;
	int i, n = X509_NAME_entry_count(in), len, set = -1, r = SG_ERR_SUBJECT_NOT_ALLOWED;
	size_t k;

	*out = NULL;
	for (i = 0; i < n; i++) {
		ne = X509_NAME_get_entry(in, i);
		attr = sg_obj_name(X509_NAME_ENTRY_get_object(ne), abuf, sizeof(abuf));
		if (X509_NAME_ENTRY_set(ne) == set) {
			sg_whyf(why, why_len, "the CSR's subject has a multi-valued RDN (at %s)",
			        attr);
			goto out;
		}
		set = X509_NAME_ENTRY_set(ne);
		for (k = 0; k < p->n_subj; k++) {
			if (p->subj[k].nid == OBJ_obj2nid(X509_NAME_ENTRY_get_object(ne)))
				break;
		}
		if (k == p->n_subj) {
			sg_whyf(why, why_len, "profile %s allows no subject attribute %s", p->name,
			        attr);
			goto out;
		}
		s = &p->subj[k];
		if ((r = sg_entry_utf8(ne, s->name, &utf8, &len, why, why_len)) != 0)
			goto out;
		r = SG_ERR_SUBJECT_NOT_ALLOWED;
		if (s->value != NULL &&
		    ((size_t)len != strlen(s->value) || memcmp(utf8, s->value, (size_t)len) != 0)) {
			sg_whyf(why, why_len,
			        "subject %s '%s' is not the profile's fixed value '%s'", s->name,
			        sg_q(q, sizeof(q), utf8, (size_t)len), s->value);
			goto out;
		}
		if (s->has_re && (memchr(utf8, '\0', (size_t)len) != NULL ||
		                  regexec(&s->re, (const char *)utf8, 0, NULL, 0) != 0)) {
			sg_whyf(why, why_len,
			        "subject %s '%s' does not match the profile's pattern", s->name,
			        sg_q(q, sizeof(q), utf8, (size_t)len));
			goto out;
		}
		OPENSSL_free(utf8);
		utf8 = NULL;
		if (++counts[k] > (s->value != NULL ? 1 : s->max)) {
			sg_whyf(why, why_len, "subject %s appears more than %u time%s", s->name,
			        s->value != NULL ? 1 : s->max,
			        (s->value != NULL ? 1 : s->max) == 1 ? "" : "s");
			goto out;
		}
	}
	if ((name = X509_NAME_new()) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (k = 0; k < p->n_subj; k++) {
		s = &p->subj[k];
		if (s->value != NULL) {
			if (!X509_NAME_add_entry_by_NID(name, s->nid, MBSTRING_UTF8,
			                                (const unsigned char *)s->value, -1, -1,
			                                0)) {
				r = SG_ERR_NOMEM;
				goto out;
			}
			continue;
		}
		if (s->required && counts[k] == 0) {
			sg_whyf(why, why_len, "profile %s requires subject %s", p->name, s->name);
			goto out;
		}
		for (i = 0; i < n && counts[k] > 0; i++) {
			ne = X509_NAME_get_entry(in, i);
			if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(ne)) != s->nid)
				continue;
			if ((r = sg_entry_utf8(ne, s->name, &utf8, &len, why, why_len)) != 0)
				goto out;
			r = SG_ERR_SUBJECT_NOT_ALLOWED;
			/* The attribute's ASN.1 type decides: C is two printable letters, etc. */
			if (!X509_NAME_add_entry_by_NID(name, s->nid, MBSTRING_UTF8, utf8, len, -1,
			                                0)) {
				sg_whyf(why, why_len,
				        "subject %s '%s' does not fit the attribute's type",
				        s->name, sg_q(q, sizeof(q), utf8, (size_t)len));
				goto out;
			}
			OPENSSL_free(utf8);
			utf8 = NULL;
		}
	}
	if (X509_NAME_entry_count(name) == 0) {
		sg_whyf(why, why_len, "the subject would be empty");
		goto out;
	}
	*out = name;
	name = NULL;
	r = 0;
out:
	OPENSSL_free(utf8);
	X509_NAME_free(name);
	ERR_clear_error();
	return r;
}

/* Turns a requested "TYPE:value" SAN into a GENERAL_NAME. */
static int
sg_san_from_text(const char *s, GENERAL_NAME **out, char *why, size_t why_len)
{
	GENERAL_NAME *gn = NULL;
	unsigned char addr[16];
	const char *v;
	char q[80];
	size_t len;
	int type, r = SG_ERR_SAN_NOT_ALLOWED;

	if (strncasecmp(s, "DNS:", 4) == 0) {
		type = GEN_DNS;
		v = s + 4;
	} else if (strncasecmp(s, "IP:", 3) == 0) {
		type = GEN_IPADD;
		v = s + 3;
	} else if (strncasecmp(s, "URI:", 4) == 0) {
		type = GEN_URI;
		v = s + 4;
	} else {
		sg_whyf(why, why_len, "requested SAN '%s' is not DNS:name, IP:address or URI:uri",
		        sg_q(q, sizeof(q), (const unsigned char *)s, strlen(s)));
		goto out;
	}
	if (type == GEN_IPADD && sg_ip_parse(v, addr, &len) != 0) {
		sg_whyf(why, why_len, "requested SAN '%s' is not an IP address",
		        sg_q(q, sizeof(q), (const unsigned char *)s, strlen(s)));
		goto out;
	}
	r = SG_ERR_NOMEM;
	if ((gn = GENERAL_NAME_new()) == NULL)
		goto out;
	gn->type = type;
	if (type == GEN_IPADD) {
		if ((gn->d.iPAddress = ASN1_OCTET_STRING_new()) == NULL ||
		    !ASN1_OCTET_STRING_set(gn->d.iPAddress, addr, (int)len))
			goto out;
	} else {
		/* d.dNSName and d.uniformResourceIdentifier are the same member type. */
		if ((gn->d.ia5 = ASN1_IA5STRING_new()) == NULL ||
		    !ASN1_STRING_set(gn->d.ia5, v, -1))
			goto out;
	}
	*out = gn;
	gn = NULL;
	r = 0;
out:
	GENERAL_NAME_free(gn);
	return r;
}

/*
 * Checks one SAN against the rules and appends its canonical form (DNS names
 * lowercase) to sans, refusing a repeat.
 */
static int
sg_san_check(const struct sg_profile *p, const GENERAL_NAME *gn, GENERAL_NAMES *sans, char *why,
             size_t why_len)
{
	GENERAL_NAME *c = NULL;
	const ASN1_STRING *str;
	const unsigned char *b;
	char dns[SG_DNS_MAX + 1], q[80], ip[64];
	size_t i, len, at;
	int r = SG_ERR_SAN_NOT_ALLOWED;

	switch (gn->type) {
	case GEN_DNS:
		str = gn->d.dNSName;
		b = ASN1_STRING_get0_data(str);
		len = (size_t)ASN1_STRING_length(str);
		if (sg_dns_norm(b, len, p->wildcards ? SG_DNS_WILD : 0, dns) != 0) {
			sg_whyf(why, why_len, "SAN DNS:%s is not a DNS name%s",
			        sg_q(q, sizeof(q), b, len),
			        !p->wildcards && len > 0 && b[0] == '*' ? " (profile "
			                                                  "allows no wildcard)"
			                                                : "");
			goto out;
		}
		for (i = 0; i < p->n_dns; i++) {
			if (dns[0] == '*' ? sg_dns_under(dns + 2, p->dns[i] + (p->dns[i][0] == '.'))
			                  : sg_dns_under(dns, p->dns[i]))
				break;
		}
		if (i == p->n_dns) {
			sg_whyf(why, why_len, "SAN DNS:%s is outside profile %s's DNS suffixes",
			        dns, p->name);
			goto out;
		}
		break;
	case GEN_IPADD:
		str = gn->d.iPAddress;
		b = ASN1_STRING_get0_data(str);
		len = (size_t)ASN1_STRING_length(str);
		if ((len != 4 && len != 16) ||
		    inet_ntop(len == 4 ? AF_INET : AF_INET6, b, ip, sizeof(ip)) == NULL) {
			sg_whyf(why, why_len, "SAN IP of %zu bytes is not an address", len);
			goto out;
		}
		for (i = 0; i < p->n_ips; i++) {
			if (sg_ip_in(&p->ips[i], b, len))
				break;
		}
		if (i == p->n_ips) {
			sg_whyf(why, why_len, "SAN IP:%s is outside profile %s's IP ranges", ip,
			        p->name);
			goto out;
		}
		break;
	case GEN_URI:
		str = gn->d.uniformResourceIdentifier;
		b = ASN1_STRING_get0_data(str);
		len = (size_t)ASN1_STRING_length(str);
		if (!sg_uri_valid(b, len, &at)) {
			sg_whyf(
			    why, why_len,
			    "SAN URI:%s is not a scheme://authority/path URI without '%%', '?', "
			    "'#', '\\' or dot segments",
			    sg_q(q, sizeof(q), b, len));
			goto out;
		}
		for (i = 0; i < p->n_uris; i++) {
			if (len >= strlen(p->uris[i]) &&
			    memcmp(b, p->uris[i], strlen(p->uris[i])) == 0)
				break;
		}
		if (i == p->n_uris) {
			sg_whyf(why, why_len, "SAN URI:%s is outside profile %s's URI prefixes",
			        sg_q(q, sizeof(q), b, len), p->name);
			goto out;
		}
		break;
	default:
		sg_whyf(
		    why, why_len,
		    "a SAN of type %d (RFC 5280 GeneralName tag) is not allowed: only DNS, IP and "
		    "URI",
		    gn->type);
		goto out;
	}
	r = SG_ERR_NOMEM;
	if ((c = GENERAL_NAME_dup(gn)) == NULL)
		goto out;
	if (c->type == GEN_DNS && !ASN1_STRING_set(c->d.dNSName, dns, -1))
		goto out;
	for (i = 0; i < (size_t)sk_GENERAL_NAME_num(sans); i++) {
		if (GENERAL_NAME_cmp(sk_GENERAL_NAME_value(sans, (int)i), c) == 0) {
			sg_whyf(why, why_len, "a SAN appears twice (the %zuth and a later one)",
			        i + 1);
			r = SG_ERR_SAN_NOT_ALLOWED;
			goto out;
		}
	}
	if (!sk_GENERAL_NAME_push(sans, c))
		goto out;
	c = NULL;
	r = 0;
out:
	GENERAL_NAME_free(c);
	return r;
}

/* The SANs: the requested ones if any, else the CSR's; each within the rules. */
static int
sg_apply_sans(const struct sg_profile *p, const GENERAL_NAMES *csr_sans,
              const char *const *req_sans, size_t n_sans, GENERAL_NAMES **out, char *why,
              size_t why_len)
{
	GENERAL_NAMES *sans = NULL;
	GENERAL_NAME *gn = NULL;
	size_t i, n = n_sans > 0         ? n_sans
	              : csr_sans != NULL ? (size_t)sk_GENERAL_NAME_num(csr_sans)
	                                 : 0;
	int r = SG_ERR_SAN_NOT_ALLOWED;

	*out = NULL;
	if (n > p->san_max) {
		if (p->san_max == 0)
			sg_whyf(why, why_len, "profile %s allows no SAN (%s has %zu)", p->name,
			        n_sans > 0 ? "the request" : "the CSR", n);
		else
			sg_whyf(why, why_len, "profile %s allows at most %u SANs (%s has %zu)",
			        p->name, p->san_max, n_sans > 0 ? "the request" : "the CSR", n);
		goto out;
	}
	if (n < p->san_min) {
		sg_whyf(why, why_len, "profile %s needs at least %u SAN%s (%s has %zu)", p->name,
		        p->san_min, p->san_min == 1 ? "" : "s",
		        n_sans > 0 ? "the request" : "the CSR", n);
		goto out;
	}
	if (n == 0) {
		r = 0;
		goto out;
	}
	if ((sans = GENERAL_NAMES_new()) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (n_sans > 0) {
			if (req_sans[i] == NULL) {
				r = SG_ERR_INVALID_ARG;
				sg_whyf(why, why_len, "requested SAN %zu is NULL", i);
				goto out;
			}
			if ((r = sg_san_from_text(req_sans[i], &gn, why, why_len)) != 0)
				goto out;
			r = sg_san_check(p, gn, sans, why, why_len);
			GENERAL_NAME_free(gn);
			gn = NULL;
		} else {
			r = sg_san_check(p, sk_GENERAL_NAME_value(csr_sans, (int)i), sans, why,
			                 why_len);
		}
		if (r != 0)
			goto out;
	}
	*out = sans;
	sans = NULL;
	r = 0;
out:
	GENERAL_NAMES_free(sans);
	ERR_clear_error();
	return r;
}

/*
 * The issuer certificate's nameConstraints, if it has any, as OpenSSL's
 * verifier will apply them to the certificate: checked on a scratch
 * certificate with the subject and SANs.
 */
static int
sg_apply_issuer_nc(const struct sg_profile *p, X509 *issuer_cert, const X509_NAME *subject,
                   GENERAL_NAMES *sans, char *why, size_t why_len)
{
	NAME_CONSTRAINTS *nc = NULL;
	X509 *x = NULL;
	int crit = -1, rc, r = SG_ERR_NOMEM;

	if ((nc = X509_get_ext_d2i(issuer_cert, NID_name_constraints, &crit, NULL)) == NULL) {
		r = crit == -1 ? 0 : SG_ERR_NO_CERT;
		if (r != 0)
			sg_whyf(why, why_len, "the nameConstraints of issuer '%s' do not decode",
			        p->issuer);
		goto out;
	}
	if ((x = X509_new()) == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    !X509_set_subject_name(x, subject) ||
	    (sans != NULL && !X509_add1_ext_i2d(x, NID_subject_alt_name, sans, 0, 0)))
		goto out;
	/* NAME_CONSTRAINTS_check reads the SANs the extension cache holds. */
	if ((X509_get_extension_flags(x) & EXFLAG_INVALID) != 0) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	if ((rc = NAME_CONSTRAINTS_check(x, nc)) != X509_V_OK) {
		sg_whyf(why, why_len, "a name is outside the nameConstraints of issuer '%s': %s",
		        p->issuer, X509_verify_cert_error_string(rc));
		r = SG_ERR_SAN_NOT_ALLOWED;
		goto out;
	}
	if (p->kind == SG_PROFILE_LEAF && (rc = NAME_CONSTRAINTS_check_CN(x, nc)) != X509_V_OK) {
		sg_whyf(why, why_len,
		        "the subject CN is outside the nameConstraints of issuer '%s': %s",
		        p->issuer, X509_verify_cert_error_string(rc));
		r = SG_ERR_SUBJECT_NOT_ALLOWED;
		goto out;
	}
	r = 0;
out:
	X509_free(x);
	NAME_CONSTRAINTS_free(nc);
	ERR_clear_error();
	return r;
}

static int
sg_apply_validity(const struct sg_profile *p, uint64_t ttl_s, time_t now, X509 *issuer_cert,
                  struct sg_profile_issue *iss, char *why, size_t why_len)
{
	uint64_t ttl = ttl_s != 0 ? ttl_s : p->ttl_default;
	time_t inb, ina;

	if (ttl_s > p->ttl_max) {
		sg_whyf(why, why_len, "a lifetime of %llu s is over profile %s's maximum of %llu s",
		        (unsigned long long)ttl_s, p->name, (unsigned long long)p->ttl_max);
		return SG_ERR_TTL_TOO_LONG;
	}
	if (sg_time_of(X509_get0_notBefore(issuer_cert), &inb) != 0 ||
	    sg_time_of(X509_get0_notAfter(issuer_cert), &ina) != 0 || now < inb || now >= ina) {
		sg_whyf(why, why_len, "the certificate of issuer '%s' is not valid now", p->issuer);
		ERR_clear_error();
		return SG_ERR_CERT_VALIDITY;
	}
	iss->not_before = now - (time_t)p->backdate;
	if (iss->not_before < inb)
		iss->not_before = inb;
	iss->not_after = now + (time_t)ttl;
	if (iss->not_after > ina) {
		iss->not_after = ina;
		iss->capped = 1;
	}
	return 0;
}

int
sg_profile_apply(const struct sg_profile *p, X509_REQ *csr, const char *const *req_sans,
                 size_t n_sans, uint64_t ttl_s, time_t now, X509 *issuer_cert,
                 struct sg_profile_issue *out, char *why, size_t why_len)
{
	struct sg_profile_issue iss;
	GENERAL_NAMES *csr_sans = NULL;
	int r;

	memset(&iss, 0, sizeof(iss));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (p == NULL || csr == NULL || issuer_cert == NULL || out == NULL ||
	    (n_sans > 0 && req_sans == NULL)) {
		sg_whyf(why, why_len, "invalid argument");
		r = SG_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = sg_apply_issuer(p, issuer_cert, why, why_len)) != 0 ||
	    (r = sg_apply_key(p, csr, &iss, why, why_len)) != 0 ||
	    (r = sg_apply_exts(p, csr, &csr_sans, why, why_len)) != 0 ||
	    (r = sg_apply_subject(p, csr, &iss.subject, why, why_len)) != 0 ||
	    (r = sg_apply_sans(p, csr_sans, req_sans, n_sans, &iss.sans, why, why_len)) != 0 ||
	    (r = sg_apply_issuer_nc(p, issuer_cert, iss.subject, iss.sans, why, why_len)) != 0 ||
	    (r = sg_apply_validity(p, ttl_s, now, issuer_cert, &iss, why, why_len)) != 0)
		goto out;
	iss.is_ca = p->is_ca;
	iss.path_len = p->path_len;
	iss.eku_nids = p->n_eku > 0 ? p->eku : NULL;
	iss.n_eku = p->n_eku;
	iss.name_constraints = p->nc;
	iss.crl_dp_url = p->crl_dp;
	iss.aia_issuer_url = p->aia_issuers;
	iss.aia_ocsp_url = p->aia_ocsp;
	iss.policy_oids = p->n_policies > 0 ? p->policies : NULL;
	iss.n_policies = p->n_policies;
	iss.hash = p->hash;
	*out = iss;
	memset(&iss, 0, sizeof(iss));
	r = 0;
out:
	sg_profile_issue_clear(&iss);
	GENERAL_NAMES_free(csr_sans);
	ERR_clear_error();
	return r;
}
