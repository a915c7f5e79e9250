/*
 * fuzz_policy: sg_policy_load() on arbitrary bytes as the policy file (a
 * memfd, see sg_fuzz_file()), then, on a policy that loaded, the decision
 * sg_policy_check() and sg_policy_key_grants() for every name-shaped word of
 * the input as a client (so the policy's own clients are among them) on
 * every key, op, hash and padding; sg_policy_free() at the end.
 *
 * Invariants checked:
 *  - load returns 0 or SG_ERR_POLICY / SG_ERR_IO / SG_ERR_NOT_FOUND /
 *    SG_ERR_NOMEM, with a terminated why that is non-empty on failure;
 *  - lookups agree: a key found by index is found again by its name, a
 *    client found by name has that name;
 *  - a decision is 0, SG_ERR_DENIED, SG_ERR_UNKNOWN_KEY or SG_ERR_BAD_PADDING;
 *    an unknown client or an op out of range is always SG_ERR_DENIED; a key
 *    of the policy is never SG_ERR_UNKNOWN_KEY;
 *  - what the decision allows, sg_policy_key_grants() lists (the keys.list
 *    reply is built from the grants and must not hide an allowed key), and
 *    an unknown client is granted nothing.
 *
 * The whole request path (front + dispatcher + policy + signer) is not
 * fuzzed here: the dispatcher lives inside the ZeroMQ loop of sg_front.c.
 */
#include "fuzz.h"

#include <stdint.h>
#include <string.h>

#include "sg_err.h"
#include "sg_policy.h"
#include "sg_wire.h"

#define SG_FUZZ_MAX_NAMES 16 /* candidate client names taken from the input */
#define SG_FUZZ_MAX_KEYS 16  /* keys checked per policy */

struct sg_names {
	char name[SG_FUZZ_MAX_NAMES][SG_NAME_MAX + 1];
	size_t n;
};

static int
sg_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* Collects the distinct maximal runs of name characters of 1..64 bytes. */
static void
sg_names_collect(const uint8_t *data, size_t size, struct sg_names *ns)
{
	size_t i = 0, j, k, len;

	ns->n = 0;
	while (i < size && ns->n < SG_FUZZ_MAX_NAMES) {
		if (!sg_name_char(data[i])) {
			i++;
			continue;
		}
		for (j = i; j < size && sg_name_char(data[j]); j++)
			;
		len = j - i;
		if (len <= SG_NAME_MAX) {
			memcpy(ns->name[ns->n], data + i, len);
			ns->name[ns->n][len] = '\0';
			for (k = 0; k < ns->n && strcmp(ns->name[k], ns->name[ns->n]) != 0; k++)
				;
			if (k == ns->n)
				ns->n++;
		}
		i = j;
	}
}

static void
sg_check_client(const struct sg_policy *p, const char *client)
{
	const struct sg_policy_client *c = sg_policy_client_by_name(p, client);
	const struct sg_policy_key *k;
	unsigned ops, hashes;
	size_t i, nk;
	int h, pad, r;

	if (c != NULL)
		SG_FUZZ_CHECK(strcmp(sg_policy_client_name(c), client) == 0);
	SG_FUZZ_CHECK(sg_policy_check(p, client, SG_OP_NONE, NULL, SG_HASH_NONE, SG_PAD_NONE) ==
	              SG_ERR_DENIED);
	SG_FUZZ_CHECK(sg_policy_check(p, client, (enum sg_op)SG_OP_COUNT, NULL, SG_HASH_NONE,
	                              SG_PAD_NONE) == SG_ERR_DENIED);
	r = sg_policy_check(p, client, SG_OP_PING, NULL, SG_HASH_NONE, SG_PAD_NONE);
	SG_FUZZ_CHECK(r == 0 || r == SG_ERR_DENIED);
	SG_FUZZ_CHECK(c != NULL || r == SG_ERR_DENIED);
	r = sg_policy_check(p, client, SG_OP_KEYS_LIST, NULL, SG_HASH_NONE, SG_PAD_NONE);
	SG_FUZZ_CHECK(r == 0 || r == SG_ERR_DENIED);
	SG_FUZZ_CHECK(c != NULL || r == SG_ERR_DENIED);
	/* sign.digest names a key: without one it is denied. */
	SG_FUZZ_CHECK(sg_policy_check(p, client, SG_OP_SIGN_DIGEST, NULL, SG_HASH_SHA256,
	                              SG_PAD_NONE) == SG_ERR_DENIED);

	nk = sg_policy_key_count(p);
	for (i = 0; i < nk && i < SG_FUZZ_MAX_KEYS; i++) {
		k = sg_policy_key_at(p, i);
		sg_policy_key_grants(p, client, k, &ops, &hashes);
		if (c == NULL)
			SG_FUZZ_CHECK(ops == 0 && hashes == 0);
		for (h = SG_HASH_NONE; h <= SG_HASH_SHA512; h++) {
			for (pad = SG_PAD_NONE; pad <= SG_PAD_PSS; pad++) {
				r = sg_policy_check(p, client, SG_OP_SIGN_DIGEST,
				                    sg_policy_key_name(k), (enum sg_hash)h,
				                    (enum sg_pad)pad);
				SG_FUZZ_CHECK(r == 0 || r == SG_ERR_DENIED ||
				              r == SG_ERR_BAD_PADDING);
				SG_FUZZ_CHECK(c != NULL || r == SG_ERR_DENIED);
				if (r != 0)
					continue;
				SG_FUZZ_CHECK(h != SG_HASH_NONE);
				SG_FUZZ_CHECK((ops & (1u << SG_OP_SIGN_DIGEST)) != 0);
				SG_FUZZ_CHECK((hashes & (1u << h)) != 0);
			}
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sg_names ns;
	struct sg_policy *p = NULL;
	const struct sg_policy_key *k;
	const char *path;
	char why[512];
	size_t i, nk;
	int r;

	path = sg_fuzz_file(data, size);
	memset(why, 'x', sizeof(why));
	r = sg_policy_load(path, &p, why, sizeof(why));
	SG_FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
	SG_FUZZ_CHECK(r == 0 || r == SG_ERR_POLICY || r == SG_ERR_IO || r == SG_ERR_NOT_FOUND ||
	              r == SG_ERR_NOMEM);
	if (r != 0) {
		SG_FUZZ_CHECK(why[0] != '\0');
		SG_FUZZ_CHECK(p == NULL);
		return 0;
	}
	SG_FUZZ_CHECK(p != NULL);

	nk = sg_policy_key_count(p);
	SG_FUZZ_CHECK(nk <= SG_POLICY_MAX_KEYS);
	for (i = 0; i < nk; i++) {
		k = sg_policy_key_at(p, i);
		SG_FUZZ_CHECK(k != NULL);
		SG_FUZZ_CHECK(sg_policy_key_by_name(p, sg_policy_key_name(k)) == k);
		SG_FUZZ_CHECK(sg_keyalg_name(sg_policy_key_alg(k)) != NULL);
		SG_FUZZ_CHECK(sg_policy_key_uri(k) != NULL && sg_policy_key_uri(k)[0] != '\0');
		/* Self-verification may be off only for EC keys. */
		SG_FUZZ_CHECK(sg_policy_key_self_verify(k) ||
		              !sg_keyalg_is_rsa(sg_policy_key_alg(k)));
	}
	sg_names_collect(data, size, &ns);
	for (i = 0; i < ns.n; i++) {
		sg_check_client(p, ns.name[i]);
		/* A name that is not a key of the policy: unknown key, or denied to an unknown
		 * client. */
		if (sg_policy_key_by_name(p, ns.name[i]) == NULL) {
			r = sg_policy_check(p, ns.name[0], SG_OP_SIGN_DIGEST, ns.name[i],
			                    SG_HASH_SHA256, SG_PAD_NONE);
			SG_FUZZ_CHECK(r == SG_ERR_UNKNOWN_KEY || r == SG_ERR_DENIED);
			SG_FUZZ_CHECK((r == SG_ERR_UNKNOWN_KEY) ==
			              (sg_policy_client_by_name(p, ns.name[0]) != NULL));
		}
	}
	sg_check_client(p, "");
	sg_policy_free(p);
	return 0;
}
