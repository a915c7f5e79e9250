/*
 * signet-p11-remote: serves libsignet-pkcs11.so to p11-kit over stdin and
 * stdout (p11-kit's "remote: |signet-p11-remote" module option,
 * hsm-config/p11-kit/signet.module, docs/pkcs11-module.md).  Callers that
 * promise no threads (CKF_LIBRARY_CANT_CREATE_OS_THREADS: GnuTLS, NSS) reach
 * the module through p11-kit-proxy.so, and the module's own threads (libzmq)
 * live in this process instead of theirs.
 *
 * It owns only the dlopen() of the module and the hand-over to
 * p11_kit_remote_serve_module().  It must never write anything but the RPC
 * stream to stdout (diagnostics go to stderr), and never read or pass on
 * secrets: the module reads its own configuration (SIGNET_PKCS11_CONFIG).
 */
#define CRYPTOKI_COMPAT 1
/* p11_kit_remote_serve_module() is in p11-kit's "future unstable" API (0.24). */
#define P11_KIT_FUTURE_UNSTABLE_API 1
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/remote.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SG_P11_REMOTE_DEFAULT_MODULE
#define SG_P11_REMOTE_DEFAULT_MODULE "libsignet-pkcs11.so"
#endif

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: signet-p11-remote [--module PATH]\n"
	        "Serves the Signet PKCS#11 module to p11-kit on stdin/stdout.\n"
	        "PATH defaults to $SIGNET_P11_REMOTE_MODULE, else %s.\n",
	        SG_P11_REMOTE_DEFAULT_MODULE);
}

int
main(int argc, char **argv)
{
	const char *path = getenv("SIGNET_P11_REMOTE_MODULE");
	void *dl = NULL;
	CK_C_GetFunctionList get_list;
	CK_FUNCTION_LIST *list = NULL;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--module") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (path == NULL || path[0] == '\0')
		path = SG_P11_REMOTE_DEFAULT_MODULE;
	/* stdin/stdout are the RPC channel: a terminal there means a human ran
	 * us by hand, and the binary protocol would only garble it. */
	if (isatty(STDIN_FILENO) || isatty(STDOUT_FILENO)) {
		usage(stderr);
		fprintf(stderr, "signet-p11-remote: stdin/stdout must be p11-kit's pipe\n");
		return 2;
	}
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		fprintf(stderr, "signet-p11-remote: cannot load %s: %s\n", path, dlerror());
		goto out;
	}
	/* dlsym returns an object pointer; assigning through void ** is the
	 * POSIX-documented way to turn it into a function pointer. */
	*(void **)&get_list = dlsym(dl, "C_GetFunctionList");
	if (get_list == NULL) {
		fprintf(stderr, "signet-p11-remote: %s has no C_GetFunctionList\n", path);
		goto out;
	}
	if (get_list(&list) != CKR_OK || list == NULL) {
		fprintf(stderr, "signet-p11-remote: C_GetFunctionList of %s failed\n", path);
		goto out;
	}
	/* p11-kit forwards the caller's C_Initialize/C_Finalize to the module;
	 * this returns when the caller closes the pipe. */
	rc = p11_kit_remote_serve_module(list, STDIN_FILENO, STDOUT_FILENO) == 0 ? 0 : 1;
out:
	/* The module is not dlclose()d: libzmq's threads may still be winding
	 * down, and the process exits next anyway. */
	return rc;
}
