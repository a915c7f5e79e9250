/*
 * sg_config: the daemon configuration (signetd.yaml; see docs/configuration.md),
 * loaded with the same strict YAML rules as the policy.
 *
 * The configuration names files, never secrets: the CURVE server secret key
 * and the user PIN are read from their own 0600 files (or the PIN from an
 * inherited descriptor) by the daemon, through sg_secret.
 */
#ifndef SG_CONFIG_H
#define SG_CONFIG_H

#include <stddef.h>

#include "sg_log.h"

#define SG_CONFIG_MAX_LISTEN 8
#define SG_PATH_MAX 4096
#define SG_CONFIG_MAX_TSA_POLICIES 16
#define SG_CONFIG_OID_MAX 128

/* The time-stamping authority (RFC 3161); enabled when the tsa section is present. */
struct sg_config_tsa {
	int enabled;
	char *key;        /* policy key name: purpose timestamp, with its certificate */
	char *policy_oid; /* default TSA policy, dotted OID */
	char *accepted[SG_CONFIG_MAX_TSA_POLICIES]; /* other policies a request may name */
	size_t n_accepted;
	unsigned hashes; /* bit (1 << enum sg_hash) per accepted imprint hash; default all */
	unsigned accuracy_s, accuracy_ms, accuracy_us; /* default 1 s */
	unsigned sign_hash; /* enum sg_hash of the token signature; default sha256 */
};

/* The HTTP listener (RFC 3161 section 3.4); enabled when the http section is present. */
struct sg_config_http {
	int enabled;
	char *listen;             /* "HOST:PORT", numeric */
	char *client;             /* the policy's HTTP-only client that HTTP requests act as */
	unsigned max_connections; /* default 64, 1..1024 */
	unsigned timeout_ms;      /* default 10000, 100..600000 */
};

struct sg_config {
	char *listen[SG_CONFIG_MAX_LISTEN]; /* ZeroMQ endpoints: tcp://..., ipc://... */
	size_t n_listen;
	char *server_secret_key_file; /* Z85 CURVE secret key, 0600 */
	char *policy_file;
	char *audit_db;
	/* pkcs11 */
	char *module;           /* absolute path of the PKCS#11 module */
	char *module_allowlist; /* file of allowed module paths; default
	                           SIGNET_SYSCONFDIR/signet/pkcs11-modules.allow */
	char *token_label;      /* exact token label */
	char *pin_file;         /* 0600 file with the user PIN, or NULL when pin_fd is used */
	int pin_fd;             /* inherited descriptor with the PIN, or -1 */
	unsigned workers;       /* signing worker threads, default 2, 1..64 */
	/* limits */
	size_t max_message_size;          /* default SG_WIRE_DEFAULT_MAX_MSG, 256..1 MiB */
	unsigned max_inflight_per_client; /* default 256, 1..65536 */
	/* logging */
	enum sg_log_level log_level; /* default info */
	int log_syslog;              /* default 0 */
	char *pid_file;              /* optional */
	char *profiles_dir;          /* certificate profiles (CA delegation); NULL: none */
	struct sg_config_tsa tsa;
	struct sg_config_http http;
};

/*
 * Loads path into *cfg (zeroed first, defaults applied).  Relative paths in
 * the file are resolved against the directory of the file.  Returns 0, or
 * SG_ERR_CONFIG / SG_ERR_IO / SG_ERR_NOT_FOUND with why naming line and field.
 */
int sg_config_load(const char *path, struct sg_config *cfg, char *why, size_t why_len);

/* Frees the strings of cfg; NULL-safe, leaves cfg zeroed. */
void sg_config_clear(struct sg_config *cfg);

#endif /* SG_CONFIG_H */
