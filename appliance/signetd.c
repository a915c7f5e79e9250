/*
 * signetd: the Signet appliance daemon.
 *
 * Start-up order matters: signals are blocked before any thread exists (so
 * only the signalfd sees them), core dumps are disabled before any secret is
 * read, the PIN is used for the login and wiped, the audit log is opened and
 * its writer started before the first request can arrive, and the ZAP
 * handler is bound before the CURVE server socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sg_audit.h"
#include "sg_config.h"
#include "sg_err.h"
#include "sg_front.h"
#include "sg_log.h"
#include "sg_policy.h"
#include "sg_secret.h"
#include "sg_signer.h"

#define SG_PIN_MAX 256
#define SG_CURVE_SECRET_LEN 40

static void
usage(FILE *out)
{
	fprintf(out,
	        "usage: signetd -c CONFIG [--foreground]\n"
	        "       signetd -c CONFIG --check-config\n"
	        "\n"
	        "  -c, --config FILE   daemon configuration (signetd.yaml)\n"
	        "  -f, --foreground    do not detach; log to stderr unless the config says syslog\n"
	        "      --check-config  load the configuration, the policy and the secret files,\n"
	        "                      report the first problem, and exit (0 valid, 1 invalid)\n"
	        "  -V, --version       print the version and exit\n"
	        "  -h, --help          this text\n"
	        "\n"
	        "Signals: SIGHUP reloads the policy (a bad file keeps the old one);\n"
	        "SIGTERM and SIGINT stop accepting, finish requests in flight, and exit.\n"
	        "Exit status: 0 clean stop, 1 start-up or runtime failure, 2 usage error.\n");
}

static int
read_pin(const struct sg_config *cfg, struct sg_secret **pin, char *why, size_t why_len)
{
	int r;

	if (cfg->pin_file != NULL) {
		r = sg_secret_read_file(cfg->pin_file, SG_PIN_MAX, pin);
		if (r != 0)
			snprintf(why, why_len, "PIN file %s: %s", cfg->pin_file, sg_strerror(r));
		return r;
	}
	r = sg_secret_read_fd(cfg->pin_fd, SG_PIN_MAX, pin);
	close(cfg->pin_fd);
	if (r != 0)
		snprintf(why, why_len, "PIN descriptor %d: %s", cfg->pin_fd, sg_strerror(r));
	return r;
}

static int
read_server_key(const struct sg_config *cfg, struct sg_secret **key, char *why, size_t why_len)
{
	int r;

	if ((r = sg_secret_read_file(cfg->server_secret_key_file, 64, key)) != 0) {
		snprintf(why, why_len, "server secret key %s: %s", cfg->server_secret_key_file,
		         sg_strerror(r));
		return r;
	}
	if (sg_secret_len(*key) != SG_CURVE_SECRET_LEN) {
		snprintf(why, why_len, "server secret key %s: not a 40-character Z85 key",
		         cfg->server_secret_key_file);
		sg_secret_free(*key);
		*key = NULL;
		return SG_ERR_CONFIG;
	}
	return 0;
}

/*
 * Detaches: the parent waits until the child reports that it serves (or
 * why it could not start) and exits with the matching status.  Returns the
 * write end of the status pipe in the child.
 */
static int
daemonize(void)
{
	int fds[2], status = 1, null;
	pid_t pid;
	char c;

	if (pipe(fds) != 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &c, 1) == 1 && c == '0')
			status = 0;
		_exit(status);
	}
	close(fds[0]);
	if (setsid() < 0)
		return -1;
	if (chdir("/") != 0)
		return -1;
	/* Let go of the caller's stdin and stdout (a pipe would never see EOF);
	 * stderr stays: it is where the log goes unless syslog is configured. */
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 || dup2(null, STDIN_FILENO) < 0 ||
	    dup2(null, STDOUT_FILENO) < 0)
		return -1;
	if (null > STDERR_FILENO)
		close(null);
	return fds[1];
}

static void
report_ready(int fd, int ok)
{
	char c = ok ? '0' : '1';

	if (fd < 0)
		return;
	if (write(fd, &c, 1) != 1)
		sg_warn("could not report start-up status to the parent");
	close(fd);
}

/*
 * Takes the pid file's lock, so that a second signetd with the same
 * configuration refuses to start instead of taking over an ipc:// socket
 * path.  The lock lives as long as the process (the descriptor stays open).
 * Returns the descriptor, or -1 with why.
 */
static int
lock_pid_file(const char *path, char *why, size_t why_len)
{
	char buf[32];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0) {
		snprintf(why, why_len, "pid file %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(why, why_len, "another signetd (pid %s) holds %s", buf[0] ? buf : "?",
		         path);
		close(fd);
		return -1;
	}
	return fd;
}

static int
write_pid_file(int fd)
{
	char buf[32];
	int n;

	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return SG_ERR_IO;
	return 0;
}

static int
check_config(const struct sg_config *cfg, const char *path)
{
	struct sg_policy *policy = NULL;
	struct sg_secret *secret = NULL;
	char why[1024];
	int r;

	if ((r = sg_policy_load(cfg->policy_file, &policy, why, sizeof(why))) != 0)
		goto fail;
	sg_policy_free(policy);
	if ((r = read_server_key(cfg, &secret, why, sizeof(why))) != 0)
		goto fail;
	sg_secret_free(secret);
	if (cfg->pin_file != NULL) {
		if ((r = read_pin(cfg, &secret, why, sizeof(why))) != 0)
			goto fail;
		sg_secret_free(secret);
	}
	printf("%s: configuration OK (policy %s)\n", path, cfg->policy_file);
	return 0;
fail:
	fprintf(stderr, "signetd: %s\n", why);
	return 1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"foreground", no_argument, NULL, 'f'},
	    {"check-config", no_argument, NULL, 'C'}, {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	struct sg_config cfg;
	struct sg_signer_config scfg;
	struct sg_policy *policy = NULL;
	struct sg_secret *pin = NULL, *server_key = NULL;
	struct sg_signer *signer = NULL;
	struct sg_audit *audit = NULL;
	struct sg_front *front = NULL;
	const char *config_path = NULL;
	int foreground = 0, check = 0, ch, sigfd = -1, ready_fd = -1, pid_fd = -1, status = 1, r;
	char why[1024];
	sigset_t set;

	memset(&cfg, 0, sizeof(cfg));
	while ((ch = getopt_long(argc, argv, "c:fVh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'C':
			check = 1;
			break;
		case 'V':
			printf("signetd %s\n", SIGNET_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (config_path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	/* Before any thread: only the signalfd receives these. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	umask(077);
	if (sg_secret_harden_process() != 0) {
		fprintf(stderr, "signetd: cannot disable core dumps\n");
		return 1;
	}
	sg_log_init("signetd", SG_LOG_INFO, 0);
	if ((r = sg_config_load(config_path, &cfg, why, sizeof(why))) != 0) {
		fprintf(stderr, "signetd: %s\n", why);
		return 1;
	}
	if (check) {
		status = check_config(&cfg, config_path);
		sg_config_clear(&cfg);
		return status;
	}
	sg_log_init("signetd", cfg.log_level, cfg.log_syslog);
	if ((r = sg_policy_load(cfg.policy_file, &policy, why, sizeof(why))) != 0) {
		sg_error("%s", why);
		goto out;
	}
	if (!foreground && (ready_fd = daemonize()) < 0) {
		sg_error("cannot detach: %s", strerror(errno));
		goto out;
	}
	if (cfg.pid_file != NULL && (pid_fd = lock_pid_file(cfg.pid_file, why, sizeof(why))) < 0) {
		sg_error("%s", why);
		goto out;
	}
	if ((sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		sg_error("signalfd: %s", strerror(errno));
		goto out;
	}
	if ((r = read_pin(&cfg, &pin, why, sizeof(why))) != 0) {
		sg_error("%s", why);
		goto out;
	}
	memset(&scfg, 0, sizeof(scfg));
	scfg.module = cfg.module;
	scfg.allowlist = cfg.module_allowlist;
	scfg.token_label = cfg.token_label;
	scfg.pin = pin;
	scfg.workers = cfg.workers;
	r = sg_signer_open(&scfg, &signer, why, sizeof(why));
	sg_secret_free(pin);
	pin = NULL;
	if (r != 0) {
		sg_error("HSM: %s", why);
		goto out;
	}
	if ((r = sg_audit_open(cfg.audit_db, NULL, &audit, why, sizeof(why))) != 0) {
		sg_error("audit log %s: %s", cfg.audit_db, why);
		goto out;
	}
	if ((r = sg_audit_start(audit)) != 0) {
		sg_error("cannot start the audit writer: %s", sg_strerror(r));
		goto out;
	}
	if ((r = read_server_key(&cfg, &server_key, why, sizeof(why))) != 0) {
		sg_error("%s", why);
		goto out;
	}
	r = sg_front_new(&cfg, config_path, policy, audit, signer, server_key, &front, why,
	                 sizeof(why));
	policy = NULL; /* owned by the front now, even on failure */
	sg_secret_free(server_key);
	server_key = NULL;
	if (r != 0) {
		sg_error("%s", why);
		goto out;
	}
	if (pid_fd >= 0 && write_pid_file(pid_fd) != 0)
		sg_warn("cannot write pid file %s", cfg.pid_file);
	sg_info("signetd %s ready (token %s, %u workers)", SIGNET_VERSION, cfg.token_label,
	        cfg.workers);
	report_ready(ready_fd, 1);
	ready_fd = -1;
	if (sg_front_run(front, sigfd) == 0)
		status = 0;
out:
	report_ready(ready_fd, 0);
	/* Whatever the audit writer still holds points into the front's pending
	 * pool: let it finish before the front goes. */
	if (audit != NULL)
		sg_audit_stop(audit);
	sg_front_free(front);
	sg_audit_close(audit);
	sg_signer_close(signer);
	sg_policy_free(policy);
	sg_secret_free(pin);
	sg_secret_free(server_key);
	if (pid_fd >= 0) {
		/* Only the holder of the lock removes the file. */
		if (status == 0)
			unlink(cfg.pid_file);
		close(pid_fd);
	}
	sg_config_clear(&cfg);
	if (sigfd >= 0)
		close(sigfd);
	sg_info("exiting with status %d", status);
	return status;
}
