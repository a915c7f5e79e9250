/* sg_log: see sg_log.h. */
#include "sg_log.h"
#include "sg_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *sg_log_ident = "signet";
static enum sg_log_level sg_log_threshold = SG_LOG_INFO;
static int sg_log_syslog;

static const char *const sg_log_names[] = {"error", "warn", "info", "debug"};

void
sg_log_init(const char *ident, enum sg_log_level level, int use_syslog)
{
	sg_log_ident = ident;
	sg_log_threshold = level;
	sg_log_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
sg_log_level_parse(const char *s, enum sg_log_level *out)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (strcmp(s, sg_log_names[i]) == 0) {
			*out = (enum sg_log_level)i;
			return 0;
		}
	}
	return SG_ERR_INVALID_ARG;
}

enum sg_log_level
sg_log_get_level(void)
{
	return sg_log_threshold;
}

void
sg_log(enum sg_log_level level, const char *fmt, ...)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	char msg[1024], line[1200], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n;

	if (level > sg_log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sg_log_syslog) {
		syslog(prio[level], "%s", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld] %s: %s\n", ts, now.tv_nsec / 1000000L,
		     sg_log_ident, (long)getpid(), sg_log_names[level], msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	/* One write(2) per line keeps lines from threads whole. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
