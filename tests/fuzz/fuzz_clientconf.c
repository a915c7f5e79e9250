/*
 * fuzz_clientconf: sg_clientconf_load() (client.conf) on arbitrary bytes as
 * the file (a memfd, see sg_fuzz_file()), then sg_clientconf_clear().
 *
 * Invariants checked: the result is 0 or SG_ERR_CONFIG / SG_ERR_IO /
 * SG_ERR_NOT_FOUND / SG_ERR_NOMEM with a terminated, non-empty why; a failed
 * load leaves the struct cleared; a loaded one has a valid endpoint, a
 * 40-character Z85 key that decodes to the 32 bytes it holds, an absolute
 * secret key path and a timeout within 1..SG_CLIENTCONF_MAX_TIMEOUT_MS;
 * clearing leaves it zeroed.
 */
#include "fuzz.h"

#include <stdint.h>
#include <string.h>

#include "sg_clientconf.h"
#include "sg_err.h"
#include "sg_yaml.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sg_clientconf zero;
	static struct sg_clientconf cfg;
	unsigned char pub[32];
	const char *path;
	char why[512];
	int r;

	path = sg_fuzz_file(data, size);
	memset(why, 'x', sizeof(why));
	r = sg_clientconf_load(path, &cfg, why, sizeof(why));
	SG_FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
	SG_FUZZ_CHECK(r == 0 || r == SG_ERR_CONFIG || r == SG_ERR_IO || r == SG_ERR_NOT_FOUND ||
	              r == SG_ERR_NOMEM);
	if (r != 0) {
		SG_FUZZ_CHECK(why[0] != '\0');
		SG_FUZZ_CHECK(memcmp(&cfg, &zero, sizeof(cfg)) == 0);
		sg_clientconf_clear(&cfg);
		return 0;
	}
	SG_FUZZ_CHECK(cfg.endpoint != NULL && sg_yaml_endpoint_valid(cfg.endpoint));
	SG_FUZZ_CHECK(strlen(cfg.server_pub_z85) == 40);
	SG_FUZZ_CHECK(sg_yaml_z85_key(cfg.server_pub_z85, pub) == 0);
	SG_FUZZ_CHECK(memcmp(pub, cfg.server_pub, sizeof(pub)) == 0);
	SG_FUZZ_CHECK(cfg.secret_key_file != NULL && cfg.secret_key_file[0] == '/');
	SG_FUZZ_CHECK(cfg.timeout_ms >= 1 && cfg.timeout_ms <= SG_CLIENTCONF_MAX_TIMEOUT_MS);
	sg_clientconf_clear(&cfg);
	SG_FUZZ_CHECK(memcmp(&cfg, &zero, sizeof(cfg)) == 0);
	return 0;
}
