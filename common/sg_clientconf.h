/*
 * sg_clientconf: the client configuration (client.conf, YAML; see
 * docs/configuration.md), shared by the C client library, the signet CLI and
 * the PKCS#11 module.  Loaded with the strict rules of sg_yaml.
 *
 * The file names the client's CURVE secret key file, never the key itself;
 * this module does not read that file (sg_secret does, with its permission
 * checks).
 */
#ifndef SG_CLIENTCONF_H
#define SG_CLIENTCONF_H

#include <stddef.h>

#define SG_CLIENTCONF_DEFAULT_TIMEOUT_MS 30000
#define SG_CLIENTCONF_MAX_TIMEOUT_MS 3600000

struct sg_clientconf {
	char *endpoint;               /* tcp://... or ipc://... */
	unsigned char server_pub[32]; /* the server's CURVE public key */
	char server_pub_z85[41];      /* the same in Z85, NUL-terminated */
	char *secret_key_file;        /* absolute path of the client's Z85 secret key (0600) */
	unsigned timeout_ms;          /* per request, 1..3600000, default 30000 */
};

/*
 * Loads path into *cfg (zeroed first, defaults applied); a relative
 * secret_key_file is resolved against the directory of path.  Returns 0, or
 * SG_ERR_CONFIG / SG_ERR_IO / SG_ERR_NOT_FOUND / SG_ERR_NOMEM with why
 * (why_len bytes) saying "FILE:LINE: field 'X': reason".  On failure *cfg is
 * left cleared.
 */
int sg_clientconf_load(const char *path, struct sg_clientconf *cfg, char *why, size_t why_len);

/* Frees the strings of cfg and zeroes it; NULL-safe. */
void sg_clientconf_clear(struct sg_clientconf *cfg);

#endif /* SG_CLIENTCONF_H */
