/*
 * sg_client_crypto: the local cryptography of libsignet (see signet.h):
 * streaming file hashes that notice a file changing under them, signature
 * verification with the appliance's conventions, public keys of keys.list.
 * No network here.
 */
#include "signet.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#define SG_HASH_CHUNK (64 * 1024)

/* 1 if a and b describe the same file with the same contents' metadata. */
static int
sg_stat_same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int
signet_hash_file(const char *path, enum sg_hash hash, unsigned char *digest, size_t *digest_len,
                 uint64_t *size)
{
	const EVP_MD *md = sg_hash_md(hash);
	EVP_MD_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	struct stat before, after, now;
	uint64_t total = 0;
	unsigned dlen = 0;
	ssize_t n;
	int fd = -1, r;

	*digest_len = 0;
	if (md == NULL) {
		r = SG_ERR_UNKNOWN_HASH;
		goto out;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		r = (errno == ENOENT || errno == ENOTDIR) ? SG_ERR_NOT_FOUND : SG_ERR_IO;
		goto out;
	}
	if (fstat(fd, &before) != 0 || !S_ISREG(before.st_mode)) {
		r = SG_ERR_IO;
		goto out;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if ((buf = malloc(SG_HASH_CHUNK)) == NULL || (ctx = EVP_MD_CTX_new()) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	for (;;) {
		n = read(fd, buf, SG_HASH_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = SG_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			r = SG_ERR_INTERNAL;
			goto out;
		}
	}
	/*
	 * What we hashed must be the file as it was before and after, and the
	 * path must still name it (not a file renamed over it meanwhile).
	 */
	if (fstat(fd, &after) != 0 || stat(path, &now) != 0) {
		r = SG_ERR_CHANGED;
		goto out;
	}
	if (!sg_stat_same(&before, &after) || !sg_stat_same(&after, &now) ||
	    total != (uint64_t)before.st_size) {
		r = SG_ERR_CHANGED;
		goto out;
	}
	if (EVP_DigestFinal_ex(ctx, digest, &dlen) != 1 || dlen != sg_hash_len(hash)) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	*digest_len = dlen;
	if (size != NULL)
		*size = total;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	free(buf);
	return r;
}

int
signet_verify_digest(EVP_PKEY *pkey, enum sg_hash hash, enum sg_pad pad,
                     const unsigned char *digest, size_t digest_len, const unsigned char *sig,
                     size_t sig_len)
{
	const EVP_MD *md = sg_hash_md(hash);
	EVP_PKEY_CTX *ctx = NULL;
	int r, type;

	if (md == NULL) {
		r = SG_ERR_UNKNOWN_HASH;
		goto out;
	}
	if (digest_len != sg_hash_len(hash)) {
		r = SG_ERR_DIGEST_LENGTH;
		goto out;
	}
	type = EVP_PKEY_get_base_id(pkey);
	if ((ctx = EVP_PKEY_CTX_new(pkey, NULL)) == NULL || EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md) != 1) {
		r = SG_ERR_INTERNAL;
		goto out;
	}
	switch (type) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		if (pad == SG_PAD_PSS) {
			/* The appliance's PSS: MGF1 with the same hash, salt = hash length. */
			if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
			    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1 ||
			    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)digest_len) != 1) {
				r = SG_ERR_INTERNAL;
				goto out;
			}
		} else if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1) {
			r = SG_ERR_BAD_PADDING;
			goto out;
		}
		break;
	case EVP_PKEY_EC:
		if (pad != SG_PAD_NONE) {
			r = SG_ERR_BAD_PADDING;
			goto out;
		}
		break;
	default:
		r = SG_ERR_INVALID_ARG;
		goto out;
	}
	/* 0 is a wrong signature, < 0 one that does not even parse: both are bad. */
	r = EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1 ? 0 : SG_ERR_BAD_SIGNATURE;
out:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

int
signet_key_pubkey(const struct sg_key_info *k, EVP_PKEY **out)
{
	const unsigned char *p = k->pub;
	EVP_PKEY *pkey = NULL;
	char group[64];
	size_t glen = 0;
	int r, bits;

	*out = NULL;
	if (k->pub_len == 0 || k->pub_len > sizeof(k->pub) ||
	    (pkey = d2i_PUBKEY(NULL, &p, (long)k->pub_len)) == NULL || p != k->pub + k->pub_len) {
		r = SG_ERR_MALFORMED;
		goto out;
	}
	bits = EVP_PKEY_get_bits(pkey);
	switch (k->alg) {
	case SG_KEYALG_EC_P256:
	case SG_KEYALG_EC_P384:
		if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC ||
		    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                   sizeof(group), &glen) != 1 ||
		    strcmp(group, k->alg == SG_KEYALG_EC_P256 ? "prime256v1" : "secp384r1") != 0) {
			r = SG_ERR_MALFORMED;
			goto out;
		}
		break;
	case SG_KEYALG_RSA_2048:
	case SG_KEYALG_RSA_3072:
	case SG_KEYALG_RSA_4096:
		if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA ||
		    (size_t)bits != sg_keyalg_sig_max(k->alg) * 8) {
			r = SG_ERR_MALFORMED;
			goto out;
		}
		break;
	case SG_KEYALG_NONE:
	default:
		r = SG_ERR_MALFORMED;
		goto out;
	}
	*out = pkey;
	pkey = NULL;
	r = 0;
out:
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return r;
}
