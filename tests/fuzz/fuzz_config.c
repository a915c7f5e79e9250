/*
 * fuzz_config: sg_config_load() (signetd.yaml) on arbitrary bytes as the
 * file (a memfd, see sg_fuzz_file()), then sg_config_clear().
 *
 * Invariants checked: the result is 0 or SG_ERR_CONFIG / SG_ERR_IO /
 * SG_ERR_NOT_FOUND / SG_ERR_NOMEM with a terminated, non-empty why; a
 * failed load leaves the struct cleared; a loaded one holds what
 * docs/configuration.md promises (1..8 valid endpoints, the required paths
 * resolved to absolute paths, an absolute module, exactly one PIN source,
 * limits within their ranges); clearing leaves it zeroed.
 */
#include "fuzz.h"

#include <stdint.h>
#include <string.h>

#include "sg_config.h"
#include "sg_err.h"
#include "sg_wire.h"
#include "sg_yaml.h"

static int
sg_abs(const char *s)
{
	return s != NULL && s[0] == '/';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sg_config zero;
	static struct sg_config cfg;
	const char *path;
	char why[512];
	size_t i;
	int r;

	path = sg_fuzz_file(data, size);
	memset(why, 'x', sizeof(why));
	r = sg_config_load(path, &cfg, why, sizeof(why));
	SG_FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
	SG_FUZZ_CHECK(r == 0 || r == SG_ERR_CONFIG || r == SG_ERR_IO || r == SG_ERR_NOT_FOUND ||
	              r == SG_ERR_NOMEM);
	if (r != 0) {
		SG_FUZZ_CHECK(why[0] != '\0');
		SG_FUZZ_CHECK(memcmp(&cfg, &zero, sizeof(cfg)) == 0);
		sg_config_clear(&cfg);
		return 0;
	}
	SG_FUZZ_CHECK(cfg.n_listen >= 1 && cfg.n_listen <= SG_CONFIG_MAX_LISTEN);
	for (i = 0; i < SG_CONFIG_MAX_LISTEN; i++)
		SG_FUZZ_CHECK(i < cfg.n_listen ? sg_yaml_endpoint_valid(cfg.listen[i])
		                               : cfg.listen[i] == NULL);
	SG_FUZZ_CHECK(sg_abs(cfg.server_secret_key_file) && sg_abs(cfg.policy_file) &&
	              sg_abs(cfg.audit_db) && sg_abs(cfg.module) && sg_abs(cfg.module_allowlist));
	SG_FUZZ_CHECK(cfg.token_label != NULL && cfg.token_label[0] != '\0');
	SG_FUZZ_CHECK((cfg.pin_file != NULL) != (cfg.pin_fd >= 0));
	SG_FUZZ_CHECK(cfg.pin_file == NULL || sg_abs(cfg.pin_file));
	SG_FUZZ_CHECK(cfg.pin_fd == -1 || cfg.pin_fd == 0 || cfg.pin_fd >= 3);
	SG_FUZZ_CHECK(cfg.pid_file == NULL || sg_abs(cfg.pid_file));
	SG_FUZZ_CHECK(cfg.workers >= 1 && cfg.workers <= 64);
	SG_FUZZ_CHECK(cfg.max_message_size >= 256 && cfg.max_message_size <= 1024 * 1024);
	SG_FUZZ_CHECK(cfg.max_inflight_per_client >= 1 && cfg.max_inflight_per_client <= 65536);
	sg_config_clear(&cfg);
	SG_FUZZ_CHECK(memcmp(&cfg, &zero, sizeof(cfg)) == 0);
	return 0;
}
