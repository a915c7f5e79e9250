/*
 * sg_log: leveled logging to stderr or syslog.
 *
 * Thread-safe (one write per line).  Never pass a secret (PIN, CURVE secret
 * key, key material) to these functions: log key fingerprints, not keys.
 */
#ifndef SG_LOG_H
#define SG_LOG_H

enum sg_log_level {
	SG_LOG_ERROR = 0,
	SG_LOG_WARN = 1,
	SG_LOG_INFO = 2,
	SG_LOG_DEBUG = 3,
};

/* Sets the program name, the threshold and the sink (syslog if use_syslog). */
void sg_log_init(const char *ident, enum sg_log_level level, int use_syslog);

/* Parses "error", "warn", "info" or "debug"; returns 0 or SG_ERR_INVALID_ARG. */
int sg_log_level_parse(const char *s, enum sg_log_level *out);

/* Current threshold. */
enum sg_log_level sg_log_get_level(void);

void sg_log(enum sg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sg_error(...) sg_log(SG_LOG_ERROR, __VA_ARGS__)
#define sg_warn(...) sg_log(SG_LOG_WARN, __VA_ARGS__)
#define sg_info(...) sg_log(SG_LOG_INFO, __VA_ARGS__)
#define sg_debug(...) sg_log(SG_LOG_DEBUG, __VA_ARGS__)

#endif /* SG_LOG_H */
