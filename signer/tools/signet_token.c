/*
 * signet-token: provisioning of PKCS#11 tokens and signing keys for Signet.
 *
 * Talks raw PKCS#11 to the module named with --module (dlopen +
 * C_GetFunctionList) so that what it creates is exactly what signetd
 * expects: tokens found by their exact label (never a prefix), private keys
 * that are token objects, private, sensitive, not extractable and usable only
 * to sign, each checked by a pairwise sign/verify test before it is reported.
 *
 * PINs are read from files that only their owner can read
 * (sg_secret_read_file), never from argv or the environment; they live in
 * sg_secret memory and are wiped as soon as the login is done.  No message of
 * this program contains a PIN.
 *
 * init and keygen hold an exclusive flock(2) on the module file while they
 * change a token: SoftHSMv2 2.6.1 fails when two processes generate keys at
 * once, and concurrent inits could both claim the same free slot.
 *
 * Exit status: 0 success, 1 operation failed, 2 usage error.
 */
#include "sg_alg.h"
#include "sg_err.h"
#include "sg_io.h"
#include "sg_json.h"
#include "sg_secret.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#define PROG "signet-token"

enum tool_exit {
	TOOL_EXIT_OK = 0,
	TOOL_EXIT_FAIL = 1,
	TOOL_EXIT_USAGE = 2,
};

#define PIN_MAX 255        /* longest PIN read from a PIN file */
#define TOKEN_LABEL_LEN 32 /* CK_TOKEN_INFO.label, space padded */
#define KEY_LABEL_MAX 128
#define KEY_ID_MAX 64
#define KEY_ID_RANDOM_LEN 8
#define FIND_MAX 100000    /* objects listed from one token, at most */
#define LOCK_WAIT_SECS 120 /* how long init/keygen wait for another instance */
#define SYNC_DEPTH_MAX 4   /* directory levels below --sync-dir that are synced */

/* ---- command line ---- */

enum opt_bit {
	OPT_MODULE = 1u << 0,
	OPT_LABEL = 1u << 1,
	OPT_SO_PIN = 1u << 2,
	OPT_PIN = 1u << 3,
	OPT_TOKEN = 1u << 4,
	OPT_ALG = 1u << 5,
	OPT_ID = 1u << 6,
	OPT_SYNC = 1u << 7,
	OPT_JSON = 1u << 8,
	OPT_OUT = 1u << 9,
};

struct opts {
	unsigned seen; /* OPT_* bits given */
	const char *module;
	const char *label;
	const char *so_pin_file;
	const char *pin_file;
	const char *token;
	const char *sync_dir;
	const char *out;
	enum sg_keyalg alg;
	unsigned char id[KEY_ID_MAX];
	size_t id_len;
};

struct cmd {
	const char *name;
	unsigned required; /* OPT_* bits that must be given */
	unsigned allowed;  /* OPT_* bits that may be given */
	int (*run)(const struct opts *o);
	const char *help;
};

static int cmd_init(const struct opts *o);
static int cmd_keygen(const struct opts *o);
static int cmd_list(const struct opts *o);
static int cmd_pubkey(const struct opts *o);

/* Option names in the order "is required" messages name them. */
static const struct {
	const char *name;
	unsigned bit;
} opt_names[] = {
    {"module", OPT_MODULE},      {"token", OPT_TOKEN},  {"label", OPT_LABEL},
    {"so-pin-file", OPT_SO_PIN}, {"pin-file", OPT_PIN}, {"alg", OPT_ALG},
};

static const struct cmd cmds[] = {
    {"init", OPT_MODULE | OPT_LABEL | OPT_SO_PIN | OPT_PIN,
     OPT_MODULE | OPT_LABEL | OPT_SO_PIN | OPT_PIN, cmd_init,
     "usage: " PROG " init --module PATH --label LABEL --so-pin-file FILE --pin-file FILE\n"
     "\n"
     "Initializes the first uninitialized token of the module (SoftHSM's free slot)\n"
     "with LABEL (1-32 bytes) and the SO PIN, then sets the user PIN.  Refuses if a\n"
     "token labelled exactly LABEL exists already.  Both PIN files must be regular\n"
     "files owned by you with no group or other permissions (mode 0600).\n"},
    {"keygen", OPT_MODULE | OPT_TOKEN | OPT_PIN | OPT_LABEL | OPT_ALG,
     OPT_MODULE | OPT_TOKEN | OPT_PIN | OPT_LABEL | OPT_ALG | OPT_ID | OPT_SYNC, cmd_keygen,
     "usage: " PROG " keygen --module PATH --token LABEL --pin-file FILE --label KEYLABEL\n"
     "         --alg ec-p256|ec-p384|rsa-2048|rsa-3072|rsa-4096 [--id HEX] [--sync-dir DIR]\n"
     "\n"
     "Generates a key pair on the token labelled exactly LABEL.  The private key is a\n"
     "token object, private, sensitive, not extractable and may only sign; the public\n"
     "key may only verify.  Both get CKA_LABEL KEYLABEL (1-128 bytes) and the same\n"
     "CKA_ID: HEX (1-64 bytes) or 8 random bytes.  Refuses if an object with that\n"
     "label (or that id) exists on the token.  The new key must sign a random digest\n"
     "that verifies with its public key (in the token and with OpenSSL) or it is\n"
     "destroyed.  With --sync-dir, every file and directory under DIR (the token\n"
     "directory) is fsynced afterwards.  Prints \"label=KEYLABEL alg=ALG id=HEX\".\n"},
    {"list", OPT_MODULE | OPT_TOKEN | OPT_PIN, OPT_MODULE | OPT_TOKEN | OPT_PIN | OPT_JSON,
     cmd_list,
     "usage: " PROG " list --module PATH --token LABEL --pin-file FILE [--json]\n"
     "\n"
     "Lists the private keys of the token labelled exactly LABEL: label, id (hex),\n"
     "type, size or curve, and the matching --alg name (\"-\" if none).  --json\n"
     "prints {\"token\":LABEL,\"keys\":[{\"label\",\"id\",\"type\",\"bits\",\"curve\",\"alg\"}]}\n"
     "(\"curve\" for EC keys only, \"alg\" null if none).\n"},
    {"pubkey", OPT_MODULE | OPT_TOKEN | OPT_PIN | OPT_LABEL,
     OPT_MODULE | OPT_TOKEN | OPT_PIN | OPT_LABEL | OPT_OUT, cmd_pubkey,
     "usage: " PROG " pubkey --module PATH --token LABEL --pin-file FILE --label KEYLABEL\n"
     "         [-o|--out FILE]\n"
     "\n"
     "Writes the public key labelled exactly KEYLABEL as a PEM SubjectPublicKeyInfo\n"
     "to stdout, or to FILE (created with mode 0644 less the umask, or replaced).\n"},
};

static void
usage_all(FILE *f)
{
	fprintf(
	    f,
	    "usage: " PROG " COMMAND [OPTIONS]\n"
	    "\n"
	    "Provisions PKCS#11 tokens and signing keys for signetd.  PINs are read from\n"
	    "files that only their owner can read (mode 0600), never from the command line.\n"
	    "\n"
	    "commands:\n"
	    "  init    --module PATH --label LABEL --so-pin-file FILE --pin-file FILE\n"
	    "  keygen  --module PATH --token LABEL --pin-file FILE --label KEYLABEL\n"
	    "          --alg ec-p256|ec-p384|rsa-2048|rsa-3072|rsa-4096 [--id HEX]\n"
	    "          [--sync-dir DIR]\n"
	    "  list    --module PATH --token LABEL --pin-file FILE [--json]\n"
	    "  pubkey  --module PATH --token LABEL --pin-file FILE --label KEYLABEL [-o FILE]\n"
	    "\n"
	    "Tokens and keys are found by their exact label.  \"" PROG " COMMAND --help\"\n"
	    "describes a command.  Exit status: 0 success, 1 operation failed, 2 usage error.\n");
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
hex_val(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parses an even number of hex digits, 1..max bytes; 0 or SG_ERR_INVALID_ARG. */
static int
parse_hex(const char *s, unsigned char *out, size_t max, size_t *out_len)
{
	size_t n = strlen(s), i;
	int hi, lo;

	if (n == 0 || n % 2 != 0 || n / 2 > max)
		return SG_ERR_INVALID_ARG;
	for (i = 0; i < n / 2; i++) {
		if ((hi = hex_val((unsigned char)s[2 * i])) < 0 ||
		    (lo = hex_val((unsigned char)s[2 * i + 1])) < 0)
			return SG_ERR_INVALID_ARG;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	*out_len = n / 2;
	return 0;
}

/* A label is 1..max bytes without control characters; token labels also
 * must not end in a space, which the 32-byte padding would swallow. */
static int
check_label(const char *what, const char *s, size_t max, int no_trailing_space)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max) {
		say("%s must be 1 to %zu bytes long", what, max);
		return SG_ERR_INVALID_ARG;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			say("%s must not contain control characters", what);
			return SG_ERR_INVALID_ARG;
		}
	}
	if (no_trailing_space && s[n - 1] == ' ') {
		say("%s must not end with a space", what);
		return SG_ERR_INVALID_ARG;
	}
	return 0;
}

/* 1 if arg is exactly "--name" or "--name=...". */
static int
long_name_exact(const char *arg, const char *name)
{
	size_t n = strlen(name);

	return strncmp(arg, "--", 2) == 0 && strncmp(arg + 2, name, n) == 0 &&
	       (arg[2 + n] == '\0' || arg[2 + n] == '=');
}

/*
 * Parses the options of command c into *o.  Returns 0, 1 if help was asked
 * for (printed on stdout), or SG_ERR_INVALID_ARG after printing why.
 */
static int
parse_opts(const struct cmd *c, int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"module", required_argument, NULL, 'M'},
	    {"label", required_argument, NULL, 'l'},
	    {"so-pin-file", required_argument, NULL, 'S'},
	    {"pin-file", required_argument, NULL, 'P'},
	    {"token", required_argument, NULL, 't'},
	    {"alg", required_argument, NULL, 'a'},
	    {"id", required_argument, NULL, 'i'},
	    {"sync-dir", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *id_hex = NULL, *alg = NULL, *arg;
	unsigned bit, missing;
	size_t i;
	int ch, li = -1;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+:o:h", longopts, &li)) != -1) {
		/* The option as written, for messages; short ones take no abbreviations. */
		arg = ch == 'o' ? "-o" : ch == 'h' ? "-h" : argv[optind - 1];
		if (li >= 0 && ch != '?' && ch != ':') {
			if (longopts[li].has_arg == required_argument && optarg == argv[optind - 1])
				arg = argv[optind - 2]; /* "--name VALUE" */
			else
				arg = argv[optind - 1]; /* "--name=VALUE" or "--name" */
			/* getopt_long takes abbreviations: "--pin 1234" would name a PIN file. */
			if (!long_name_exact(arg, longopts[li].name)) {
				say("%s: unknown option %s (see " PROG " %s --help)", c->name, arg,
				    c->name);
				return SG_ERR_INVALID_ARG;
			}
		}
		li = -1;
		switch (ch) {
		case 'M':
			bit = OPT_MODULE;
			o->module = optarg;
			break;
		case 'l':
			bit = OPT_LABEL;
			o->label = optarg;
			break;
		case 'S':
			bit = OPT_SO_PIN;
			o->so_pin_file = optarg;
			break;
		case 'P':
			bit = OPT_PIN;
			o->pin_file = optarg;
			break;
		case 't':
			bit = OPT_TOKEN;
			o->token = optarg;
			break;
		case 'a':
			bit = OPT_ALG;
			alg = optarg;
			break;
		case 'i':
			bit = OPT_ID;
			id_hex = optarg;
			break;
		case 's':
			bit = OPT_SYNC;
			o->sync_dir = optarg;
			break;
		case 'j':
			bit = OPT_JSON;
			break;
		case 'o':
			bit = OPT_OUT;
			o->out = optarg;
			break;
		case 'h':
			fputs(c->help, stdout);
			return 1;
		case ':':
			say("%s: option %s needs a value", c->name, argv[optind - 1]);
			return SG_ERR_INVALID_ARG;
		case '?':
		default:
			say("%s: unknown option %s (see " PROG " %s --help)", c->name,
			    argv[optind - 1], c->name);
			return SG_ERR_INVALID_ARG;
		}
		if ((c->allowed & bit) == 0) {
			say("%s: option %s is not valid here (see " PROG " %s --help)", c->name,
			    arg, c->name);
			return SG_ERR_INVALID_ARG;
		}
		if (o->seen & bit) {
			say("%s: option %s given twice", c->name, arg);
			return SG_ERR_INVALID_ARG;
		}
		o->seen |= bit;
	}
	if (optind < argc) {
		say("%s: unexpected argument '%s'", c->name, argv[optind]);
		return SG_ERR_INVALID_ARG;
	}
	if ((missing = c->required & ~o->seen) != 0) {
		for (i = 0; i < sizeof(opt_names) / sizeof(opt_names[0]); i++) {
			if (missing & opt_names[i].bit)
				break;
		}
		say("%s: --%s is required (see " PROG " %s --help)", c->name,
		    i < sizeof(opt_names) / sizeof(opt_names[0]) ? opt_names[i].name : "?",
		    c->name);
		return SG_ERR_INVALID_ARG;
	}
	if (alg != NULL && sg_keyalg_parse(alg, &o->alg) != 0) {
		say("%s: unknown --alg '%s' (ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096)",
		    c->name, alg);
		return SG_ERR_INVALID_ARG;
	}
	if (id_hex != NULL && parse_hex(id_hex, o->id, sizeof(o->id), &o->id_len) != 0) {
		say("%s: --id must be 1 to %d bytes in hex (an even number of digits)", c->name,
		    KEY_ID_MAX);
		return SG_ERR_INVALID_ARG;
	}
	if (o->token != NULL && check_label("--token", o->token, TOKEN_LABEL_LEN, 1) != 0)
		return SG_ERR_INVALID_ARG;
	if (o->label != NULL) {
		if (c->run == cmd_init) {
			if (check_label("--label", o->label, TOKEN_LABEL_LEN, 1) != 0)
				return SG_ERR_INVALID_ARG;
		} else if (check_label("--label", o->label, KEY_LABEL_MAX, 0) != 0) {
			return SG_ERR_INVALID_ARG;
		}
	}
	return 0;
}

/* ---- PKCS#11 ---- */

#define CKR_NAMES(X)                                                                               \
	X(CKR_OK)                                                                                  \
	X(CKR_CANCEL)                                                                              \
	X(CKR_HOST_MEMORY)                                                                         \
	X(CKR_SLOT_ID_INVALID)                                                                     \
	X(CKR_GENERAL_ERROR)                                                                       \
	X(CKR_FUNCTION_FAILED)                                                                     \
	X(CKR_ARGUMENTS_BAD)                                                                       \
	X(CKR_NO_EVENT)                                                                            \
	X(CKR_NEED_TO_CREATE_THREADS)                                                              \
	X(CKR_CANT_LOCK)                                                                           \
	X(CKR_ATTRIBUTE_READ_ONLY)                                                                 \
	X(CKR_ATTRIBUTE_SENSITIVE)                                                                 \
	X(CKR_ATTRIBUTE_TYPE_INVALID)                                                              \
	X(CKR_ATTRIBUTE_VALUE_INVALID)                                                             \
	X(CKR_ACTION_PROHIBITED)                                                                   \
	X(CKR_DATA_INVALID)                                                                        \
	X(CKR_DATA_LEN_RANGE)                                                                      \
	X(CKR_DEVICE_ERROR)                                                                        \
	X(CKR_DEVICE_MEMORY)                                                                       \
	X(CKR_DEVICE_REMOVED)                                                                      \
	X(CKR_ENCRYPTED_DATA_INVALID)                                                              \
	X(CKR_ENCRYPTED_DATA_LEN_RANGE)                                                            \
	X(CKR_FUNCTION_CANCELED)                                                                   \
	X(CKR_FUNCTION_NOT_PARALLEL)                                                               \
	X(CKR_FUNCTION_NOT_SUPPORTED)                                                              \
	X(CKR_KEY_HANDLE_INVALID)                                                                  \
	X(CKR_KEY_SIZE_RANGE)                                                                      \
	X(CKR_KEY_TYPE_INCONSISTENT)                                                               \
	X(CKR_KEY_NOT_NEEDED)                                                                      \
	X(CKR_KEY_CHANGED)                                                                         \
	X(CKR_KEY_NEEDED)                                                                          \
	X(CKR_KEY_INDIGESTIBLE)                                                                    \
	X(CKR_KEY_FUNCTION_NOT_PERMITTED)                                                          \
	X(CKR_KEY_NOT_WRAPPABLE)                                                                   \
	X(CKR_KEY_UNEXTRACTABLE)                                                                   \
	X(CKR_MECHANISM_INVALID)                                                                   \
	X(CKR_MECHANISM_PARAM_INVALID)                                                             \
	X(CKR_OBJECT_HANDLE_INVALID)                                                               \
	X(CKR_OPERATION_ACTIVE)                                                                    \
	X(CKR_OPERATION_NOT_INITIALIZED)                                                           \
	X(CKR_PIN_INCORRECT)                                                                       \
	X(CKR_PIN_INVALID)                                                                         \
	X(CKR_PIN_LEN_RANGE)                                                                       \
	X(CKR_PIN_EXPIRED)                                                                         \
	X(CKR_PIN_LOCKED)                                                                          \
	X(CKR_SESSION_CLOSED)                                                                      \
	X(CKR_SESSION_COUNT)                                                                       \
	X(CKR_SESSION_HANDLE_INVALID)                                                              \
	X(CKR_SESSION_PARALLEL_NOT_SUPPORTED)                                                      \
	X(CKR_SESSION_READ_ONLY)                                                                   \
	X(CKR_SESSION_EXISTS)                                                                      \
	X(CKR_SESSION_READ_ONLY_EXISTS)                                                            \
	X(CKR_SESSION_READ_WRITE_SO_EXISTS)                                                        \
	X(CKR_SIGNATURE_INVALID)                                                                   \
	X(CKR_SIGNATURE_LEN_RANGE)                                                                 \
	X(CKR_TEMPLATE_INCOMPLETE)                                                                 \
	X(CKR_TEMPLATE_INCONSISTENT)                                                               \
	X(CKR_TOKEN_NOT_PRESENT)                                                                   \
	X(CKR_TOKEN_NOT_RECOGNIZED)                                                                \
	X(CKR_TOKEN_WRITE_PROTECTED)                                                               \
	X(CKR_UNWRAPPING_KEY_SIZE_RANGE)                                                           \
	X(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)                                                    \
	X(CKR_USER_ALREADY_LOGGED_IN)                                                              \
	X(CKR_USER_NOT_LOGGED_IN)                                                                  \
	X(CKR_USER_PIN_NOT_INITIALIZED)                                                            \
	X(CKR_USER_TYPE_INVALID)                                                                   \
	X(CKR_USER_ANOTHER_ALREADY_LOGGED_IN)                                                      \
	X(CKR_USER_TOO_MANY_TYPES)                                                                 \
	X(CKR_WRAPPED_KEY_INVALID)                                                                 \
	X(CKR_WRAPPED_KEY_LEN_RANGE)                                                               \
	X(CKR_WRAPPING_KEY_HANDLE_INVALID)                                                         \
	X(CKR_WRAPPING_KEY_SIZE_RANGE)                                                             \
	X(CKR_WRAPPING_KEY_TYPE_INCONSISTENT)                                                      \
	X(CKR_RANDOM_SEED_NOT_SUPPORTED)                                                           \
	X(CKR_RANDOM_NO_RNG)                                                                       \
	X(CKR_DOMAIN_PARAMS_INVALID)                                                               \
	X(CKR_CURVE_NOT_SUPPORTED)                                                                 \
	X(CKR_BUFFER_TOO_SMALL)                                                                    \
	X(CKR_SAVED_STATE_INVALID)                                                                 \
	X(CKR_INFORMATION_SENSITIVE)                                                               \
	X(CKR_STATE_UNSAVEABLE)                                                                    \
	X(CKR_CRYPTOKI_NOT_INITIALIZED)                                                            \
	X(CKR_CRYPTOKI_ALREADY_INITIALIZED)                                                        \
	X(CKR_MUTEX_BAD)                                                                           \
	X(CKR_MUTEX_NOT_LOCKED)                                                                    \
	X(CKR_NEW_PIN_MODE)                                                                        \
	X(CKR_NEXT_OTP)                                                                            \
	X(CKR_EXCEEDED_MAX_ITERATIONS)                                                             \
	X(CKR_FIPS_SELF_TEST_FAILED)                                                               \
	X(CKR_LIBRARY_LOAD_FAILED)                                                                 \
	X(CKR_PIN_TOO_WEAK)                                                                        \
	X(CKR_PUBLIC_KEY_INVALID)                                                                  \
	X(CKR_FUNCTION_REJECTED)

static const struct {
	CK_RV rv;
	const char *name;
} ckr_names[] = {
#define CKR_ENTRY(sym) {sym, #sym},
    CKR_NAMES(CKR_ENTRY)
#undef CKR_ENTRY
};

/* The CKR_* name of rv, or NULL for a vendor or unknown code. */
static const char *
ckr_name(CK_RV rv)
{
	size_t i;

	for (i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++) {
		if (ckr_names[i].rv == rv)
			return ckr_names[i].name;
	}
	return NULL;
}

/* Prints "what: CKR_NAME" and returns the matching SG_ERR_* code. */
static int
p11_fail(const char *what, CK_RV rv)
{
	const char *name = ckr_name(rv);

	if (name != NULL)
		say("%s failed: %s (0x%08lx)", what, name, (unsigned long)rv);
	else
		say("%s failed: PKCS#11 error 0x%08lx", what, (unsigned long)rv);
	switch (rv) {
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
	case CKR_PIN_EXPIRED:
	case CKR_PIN_LOCKED:
	case CKR_USER_PIN_NOT_INITIALIZED:
		return SG_ERR_LOGIN;
	case CKR_HOST_MEMORY:
		return SG_ERR_NOMEM;
	default:
		return SG_ERR_HSM;
	}
}

struct p11 {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	int initialized;
	int lock_fd;
};

/*
 * Loads and initializes the module at path into *p (zeroed by the caller
 * apart from lock_fd = -1).  With lock set, first takes an exclusive flock
 * on the module file, waiting up to LOCK_WAIT_SECS.  Undone by p11_close.
 */
static int
p11_open(const char *path, int lock, struct p11 *p)
{
	CK_C_GetFunctionList get_list;
	CK_C_INITIALIZE_ARGS ia;
	CK_RV rv;
	int waited = 0, r = SG_ERR_HSM_UNAVAILABLE;

	if (lock) {
		if ((p->lock_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			say("cannot open module %s: %s", path, strerror(errno));
			goto out;
		}
		while (flock(p->lock_fd, LOCK_EX | LOCK_NB) != 0) {
			if (errno != EWOULDBLOCK && errno != EINTR) {
				say("cannot lock module %s: %s", path, strerror(errno));
				goto out;
			}
			if (++waited == 10)
				say("waiting for another " PROG " using %s", path);
			if (waited > LOCK_WAIT_SECS * 10) {
				say("gave up waiting for the lock on %s", path);
				r = SG_ERR_BUSY;
				goto out;
			}
			nanosleep(&(struct timespec){0, 100000000L}, NULL);
		}
	}
	if ((p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		say("cannot load PKCS#11 module %s: %s", path, dlerror());
		goto out;
	}
	/* POSIX allows this conversion of dlsym's result; ISO C does not know it. */
	*(void **)&get_list = dlsym(p->dl, "C_GetFunctionList");
	if (get_list == NULL) {
		say("%s is not a PKCS#11 module (no C_GetFunctionList)", path);
		goto out;
	}
	if ((rv = get_list(&p->f)) != CKR_OK) {
		r = p11_fail("C_GetFunctionList", rv);
		goto out;
	}
	memset(&ia, 0, sizeof(ia));
	ia.flags = CKF_OS_LOCKING_OK;
	if ((rv = p->f->C_Initialize(&ia)) != CKR_OK) {
		r = p11_fail("C_Initialize", rv);
		goto out;
	}
	p->initialized = 1;
	r = 0;
out:
	return r;
}

/* Finalizes and unloads the module and drops the lock; safe on a partial p11_open. */
static void
p11_close(struct p11 *p)
{
	if (p->initialized)
		(void)p->f->C_Finalize(NULL);
	p->initialized = 0;
	if (p->dl != NULL)
		dlclose(p->dl);
	p->dl = NULL;
	if (p->lock_fd >= 0)
		close(p->lock_fd); /* releases the flock */
	p->lock_fd = -1;
}

/* Copies a space-padded CK_TOKEN_INFO label into out[33] without the padding. */
static void
token_label(const CK_TOKEN_INFO *ti, char *out)
{
	size_t n = TOKEN_LABEL_LEN;

	memcpy(out, ti->label, TOKEN_LABEL_LEN);
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'))
		n--;
	out[n] = '\0';
}

/*
 * Looks at every slot with a token.  *found_slot gets the slot of the one
 * initialized token labelled exactly label (count in *found), *free_slot the
 * first uninitialized token (*have_free).  SG_ERR_HSM on a module failure.
 */
static int
p11_scan_slots(struct p11 *p, const char *label, CK_SLOT_ID *found_slot, int *found,
               CK_SLOT_ID *free_slot, int *have_free)
{
	CK_SLOT_ID *slots = NULL;
	CK_TOKEN_INFO ti;
	CK_ULONG n = 0, i;
	CK_RV rv;
	char lab[TOKEN_LABEL_LEN + 1];
	int r = SG_ERR_HSM;

	*found = 0;
	*have_free = 0;
	if ((rv = p->f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK) {
		r = p11_fail("C_GetSlotList", rv);
		goto out;
	}
	if ((slots = calloc(n > 0 ? n : 1, sizeof(*slots))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	if ((rv = p->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		r = p11_fail("C_GetSlotList", rv);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((rv = p->f->C_GetTokenInfo(slots[i], &ti)) != CKR_OK) {
			r = p11_fail("C_GetTokenInfo", rv);
			goto out;
		}
		if ((ti.flags & CKF_TOKEN_INITIALIZED) == 0) {
			if (!*have_free) {
				*free_slot = slots[i];
				*have_free = 1;
			}
			continue;
		}
		token_label(&ti, lab);
		if (strcmp(lab, label) == 0) {
			*found_slot = slots[i];
			(*found)++;
		}
	}
	r = 0;
out:
	free(slots);
	return r;
}

/* The slot of the one initialized token labelled exactly label. */
static int
p11_find_token(struct p11 *p, const char *label, CK_SLOT_ID *slot)
{
	CK_SLOT_ID free_slot;
	int found, have_free, r;

	if ((r = p11_scan_slots(p, label, slot, &found, &free_slot, &have_free)) != 0)
		goto out;
	if (found == 0) {
		say("no token labelled '%s'", label);
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	if (found > 1) {
		say("%d tokens are labelled '%s'; refusing to guess", found, label);
		r = SG_ERR_CONFIG;
		goto out;
	}
	r = 0;
out:
	return r;
}

/* Reads a PIN file, explaining a refusal; *out is wiped by sg_secret_free. */
static int
read_pin(const char *what, const char *path, struct sg_secret **out)
{
	int r;

	if ((r = sg_secret_read_file(path, PIN_MAX, out)) == 0)
		goto out;
	switch (r) {
	case SG_ERR_NOT_FOUND:
		say("%s %s: no such file", what, path);
		break;
	case SG_ERR_PERM:
		say("%s %s: refused: must be a regular file owned by you with mode 0600 (no "
		    "group or other permissions)",
		    what, path);
		break;
	case SG_ERR_CONFIG:
		say("%s %s: must hold one PIN of 1 to %d bytes without NUL bytes", what, path,
		    PIN_MAX);
		break;
	default:
		say("%s %s: %s", what, path, sg_strerror(r));
		break;
	}
out:
	return r;
}

/* Opens a session on slot and logs in as who with pin; *s is valid only on success. */
static int
p11_login(struct p11 *p, CK_SLOT_ID slot, int rw, CK_USER_TYPE who, const struct sg_secret *pin,
          CK_SESSION_HANDLE *s)
{
	CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
	CK_RV rv;
	int r = SG_ERR_HSM;

	if ((rv = p->f->C_OpenSession(slot, flags, NULL, NULL, s)) != CKR_OK) {
		r = p11_fail("C_OpenSession", rv);
		goto out;
	}
	rv = p->f->C_Login(*s, who, (CK_UTF8CHAR_PTR)sg_secret_str(pin),
	                   (CK_ULONG)sg_secret_len(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		r = p11_fail(who == CKU_SO ? "C_Login (security officer)" : "C_Login", rv);
		(void)p->f->C_CloseSession(*s);
		*s = CK_INVALID_HANDLE;
		goto out;
	}
	r = 0;
out:
	return r;
}

static void
p11_logout(struct p11 *p, CK_SESSION_HANDLE s)
{
	(void)p->f->C_Logout(s);
	(void)p->f->C_CloseSession(s);
}

/*
 * Finds the objects that match tmpl.  *out (malloc'd, may be NULL when
 * *count is 0) gets at most FIND_MAX handles.
 */
static int
p11_find(struct p11 *p, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl,
         CK_OBJECT_HANDLE **out, CK_ULONG *count)
{
	CK_OBJECT_HANDLE *h = NULL, *nh;
	CK_ULONG n = 0, cap = 0, got;
	CK_RV rv;
	int active = 0, r = SG_ERR_HSM;

	*out = NULL;
	*count = 0;
	if ((rv = p->f->C_FindObjectsInit(s, tmpl, ntmpl)) != CKR_OK) {
		r = p11_fail("C_FindObjectsInit", rv);
		goto out;
	}
	active = 1;
	for (;;) {
		if (n == cap) {
			if (cap >= FIND_MAX) {
				say("more than %d matching objects on the token", FIND_MAX);
				r = SG_ERR_LIMIT;
				goto out;
			}
			cap = cap == 0 ? 16 : cap * 2;
			if ((nh = realloc(h, cap * sizeof(*h))) == NULL) {
				r = SG_ERR_NOMEM;
				goto out;
			}
			h = nh;
		}
		if ((rv = p->f->C_FindObjects(s, h + n, cap - n, &got)) != CKR_OK) {
			r = p11_fail("C_FindObjects", rv);
			goto out;
		}
		if (got == 0)
			break;
		n += got;
	}
	*out = h;
	h = NULL;
	*count = n;
	r = 0;
out:
	if (active)
		(void)p->f->C_FindObjectsFinal(s);
	free(h);
	return r;
}

/*
 * Reads attribute type of object o into *val (malloc'd, NUL-terminated
 * after *len bytes).  SG_ERR_NOT_FOUND if the object has no such attribute.
 */
static int
p11_attr(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
         unsigned char **val, size_t *len)
{
	CK_ATTRIBUTE a = {type, NULL, 0};
	unsigned char *v = NULL;
	CK_RV rv;
	int r = SG_ERR_HSM;

	*val = NULL;
	*len = 0;
	rv = p->f->C_GetAttributeValue(s, o, &a, 1);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID || a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	if (rv != CKR_OK) {
		r = p11_fail("C_GetAttributeValue", rv);
		goto out;
	}
	if (a.ulValueLen > 1u << 20) {
		r = SG_ERR_TOO_LARGE;
		goto out;
	}
	if ((v = calloc(1, a.ulValueLen + 1)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	a.pValue = v;
	if ((rv = p->f->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK) {
		r = p11_fail("C_GetAttributeValue", rv);
		goto out;
	}
	v[a.ulValueLen] = '\0';
	*len = a.ulValueLen;
	*val = v;
	v = NULL;
	r = 0;
out:
	free(v);
	return r;
}

static int
p11_attr_ulong(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
               CK_ULONG *val)
{
	CK_ATTRIBUTE a = {type, val, sizeof(*val)};
	CK_RV rv;

	if ((rv = p->f->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK)
		return p11_fail("C_GetAttributeValue", rv);
	return 0;
}

/* ---- public keys through OpenSSL ---- */

/* The NID of a DER namedCurve OID (CKA_EC_PARAMS); NID_undef otherwise. */
static int
ec_params_nid(const unsigned char *der, size_t len)
{
	const unsigned char *pp = der;
	ASN1_OBJECT *oid;
	int nid = NID_undef;

	if ((oid = d2i_ASN1_OBJECT(NULL, &pp, (long)len)) == NULL)
		return NID_undef;
	if (pp == der + len)
		nid = OBJ_obj2nid(oid);
	ASN1_OBJECT_free(oid);
	return nid;
}

/*
 * Builds *out from the public key object o: CKA_MODULUS and
 * CKA_PUBLIC_EXPONENT for RSA, CKA_EC_PARAMS (a named curve) and
 * CKA_EC_POINT (a DER OCTET STRING, or the bare point some modules return)
 * for EC.  The result has passed EVP_PKEY_public_check.
 */
static int
pkey_from_object(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, EVP_PKEY **out)
{
	unsigned char *a = NULL, *b = NULL;
	const unsigned char *pp, *pt;
	size_t alen, blen, pt_len;
	ASN1_OCTET_STRING *point = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	EVP_PKEY *pk = NULL;
	BIGNUM *n = NULL, *e = NULL;
	CK_ULONG type;
	const char *alg;
	int nid, r;

	*out = NULL;
	if ((r = p11_attr_ulong(p, s, o, CKA_KEY_TYPE, &type)) != 0)
		goto out;
	r = SG_ERR_NOMEM;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		goto out;
	switch (type) {
	case CKK_RSA:
		alg = "RSA";
		if ((r = p11_attr(p, s, o, CKA_MODULUS, &a, &alen)) != 0 ||
		    (r = p11_attr(p, s, o, CKA_PUBLIC_EXPONENT, &b, &blen)) != 0) {
			say("RSA public key without modulus or exponent");
			goto out;
		}
		r = SG_ERR_NOMEM;
		if ((n = BN_bin2bn(a, (int)alen, NULL)) == NULL ||
		    (e = BN_bin2bn(b, (int)blen, NULL)) == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto out;
		break;
	case CKK_EC:
		alg = "EC";
		if ((r = p11_attr(p, s, o, CKA_EC_PARAMS, &a, &alen)) != 0 ||
		    (r = p11_attr(p, s, o, CKA_EC_POINT, &b, &blen)) != 0) {
			say("EC public key without parameters or point");
			goto out;
		}
		if ((nid = ec_params_nid(a, alen)) == NID_undef) {
			say("EC public key on a curve that is not a known named curve");
			r = SG_ERR_UNKNOWN_KEY;
			goto out;
		}
		pp = b;
		point = d2i_ASN1_OCTET_STRING(NULL, &pp, (long)blen);
		if (point != NULL && pp != b + blen) {
			ASN1_OCTET_STRING_free(point);
			point = NULL;
		}
		if (point != NULL) {
			pt = ASN1_STRING_get0_data(point);
			pt_len = (size_t)ASN1_STRING_length(point);
		} else {
			pt = b;
			pt_len = blen;
		}
		r = SG_ERR_NOMEM;
		if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
		                                     OBJ_nid2sn(nid), 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, pt_len))
			goto out;
		break;
	default:
		say("unsupported key type 0x%lx", (unsigned long)type);
		r = SG_ERR_UNKNOWN_KEY;
		goto out;
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL)) == NULL)
		goto out;
	if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0 ||
	    (check = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL ||
	    EVP_PKEY_public_check(check) != 1) {
		say("the token's %s public key is not valid", alg);
		r = SG_ERR_UNKNOWN_KEY;
		goto out;
	}
	*out = pk;
	pk = NULL;
	r = 0;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	ASN1_OCTET_STRING_free(point);
	BN_free(n);
	BN_free(e);
	free(a);
	free(b);
	return r;
}

/* ---- key algorithms ---- */

/* DER OIDs of the named curves (CKA_EC_PARAMS). */
static const unsigned char oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
/* DigestInfo prefix for SHA-256 (RFC 8017, section 9.2, note 1): CKM_RSA_PKCS signs it whole. */
static const unsigned char digestinfo_sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                                  0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                                  0x01, 0x05, 0x00, 0x04, 0x20};

struct keyalg_info {
	int rsa;
	CK_ULONG bits;            /* RSA modulus size */
	const unsigned char *oid; /* EC named curve */
	size_t oid_len;
	enum sg_hash hash; /* of the pairwise test digest */
};

static int
keyalg_info(enum sg_keyalg alg, struct keyalg_info *ki)
{
	memset(ki, 0, sizeof(*ki));
	switch (alg) {
	case SG_KEYALG_EC_P256:
		ki->oid = oid_p256;
		ki->oid_len = sizeof(oid_p256);
		ki->hash = SG_HASH_SHA256;
		return 0;
	case SG_KEYALG_EC_P384:
		ki->oid = oid_p384;
		ki->oid_len = sizeof(oid_p384);
		ki->hash = SG_HASH_SHA384;
		return 0;
	case SG_KEYALG_RSA_2048:
	case SG_KEYALG_RSA_3072:
	case SG_KEYALG_RSA_4096:
		ki->rsa = 1;
		ki->bits = alg == SG_KEYALG_RSA_2048   ? 2048
		           : alg == SG_KEYALG_RSA_3072 ? 3072
		                                       : 4096;
		ki->hash = SG_HASH_SHA256;
		return 0;
	case SG_KEYALG_NONE:
	default:
		return SG_ERR_INVALID_ARG;
	}
}

/* Maps a key type and size or curve NID back to the --alg name; SG_KEYALG_NONE if none. */
static enum sg_keyalg
keyalg_of(CK_ULONG type, int bits, int nid)
{
	switch (type) {
	case CKK_RSA:
		return bits == 2048   ? SG_KEYALG_RSA_2048
		       : bits == 3072 ? SG_KEYALG_RSA_3072
		       : bits == 4096 ? SG_KEYALG_RSA_4096
		                      : SG_KEYALG_NONE;
	case CKK_EC:
		return nid == NID_X9_62_prime256v1 ? SG_KEYALG_EC_P256
		       : nid == NID_secp384r1      ? SG_KEYALG_EC_P384
		                                   : SG_KEYALG_NONE;
	default:
		return SG_KEYALG_NONE;
	}
}

/* ECDSA signatures from PKCS#11 are r || s; OpenSSL wants DER. */
static int
ecdsa_raw_to_der(const unsigned char *sig, size_t len, unsigned char **der, size_t *der_len)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *rr = NULL, *ss = NULL;
	unsigned char *d = NULL;
	int n, r = SG_ERR_BAD_SIGNATURE;

	*der = NULL;
	if (len == 0 || len % 2 != 0)
		goto out;
	r = SG_ERR_NOMEM;
	if ((es = ECDSA_SIG_new()) == NULL || (rr = BN_bin2bn(sig, (int)len / 2, NULL)) == NULL ||
	    (ss = BN_bin2bn(sig + len / 2, (int)len / 2, NULL)) == NULL)
		goto out;
	if (!ECDSA_SIG_set0(es, rr, ss))
		goto out;
	rr = ss = NULL;
	if ((n = i2d_ECDSA_SIG(es, &d)) <= 0)
		goto out;
	*der = d;
	*der_len = (size_t)n;
	r = 0;
out:
	BN_free(rr);
	BN_free(ss);
	ECDSA_SIG_free(es);
	return r;
}

/* 1 if OpenSSL verifies sig (as PKCS#11 returned it) over digest with pk. */
static int
openssl_verifies(EVP_PKEY *pk, const struct keyalg_info *ki, const unsigned char *digest,
                 size_t dlen, const unsigned char *sig, size_t slen)
{
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char *der = NULL;
	int ok = 0;

	if (!ki->rsa) {
		if (ecdsa_raw_to_der(sig, slen, &der, &slen) != 0)
			goto out;
		sig = der;
	}
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL ||
	    EVP_PKEY_verify_init(ctx) <= 0 ||
	    (ki->rsa && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0) ||
	    EVP_PKEY_CTX_set_signature_md(ctx, sg_hash_md(ki->hash)) <= 0)
		goto out;
	ok = EVP_PKEY_verify(ctx, sig, slen, digest, dlen) == 1;
out:
	OPENSSL_free(der);
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

/*
 * Pairwise consistency test: the new private key signs a random digest,
 * which must verify with the new public key in the token (C_Verify) and
 * with OpenSSL from the exported public key, and a changed digest must not.
 */
static int
pairwise_test(struct p11 *p, CK_SESSION_HANDLE s, const struct keyalg_info *ki,
              CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv)
{
	CK_MECHANISM mech = {ki->rsa ? CKM_RSA_PKCS : CKM_ECDSA, NULL, 0};
	unsigned char data[sizeof(digestinfo_sha256) + SG_HASH_MAX_LEN], sig[1024];
	unsigned char *digest;
	size_t dlen = sg_hash_len(ki->hash), off = 0;
	CK_ULONG slen = sizeof(sig);
	EVP_PKEY *pk = NULL;
	CK_RV rv;
	int r = SG_ERR_SELF_VERIFY;

	if (ki->rsa) {
		memcpy(data, digestinfo_sha256, sizeof(digestinfo_sha256));
		off = sizeof(digestinfo_sha256);
	}
	digest = data + off;
	if (RAND_bytes(digest, (int)dlen) != 1) {
		say("no random bytes for the pairwise test");
		r = SG_ERR_INTERNAL;
		goto out;
	}
	if ((rv = p->f->C_SignInit(s, &mech, priv)) != CKR_OK ||
	    (rv = p->f->C_Sign(s, data, (CK_ULONG)(off + dlen), sig, &slen)) != CKR_OK) {
		p11_fail("pairwise test: C_Sign", rv);
		goto out;
	}
	if ((rv = p->f->C_VerifyInit(s, &mech, pub)) != CKR_OK ||
	    (rv = p->f->C_Verify(s, data, (CK_ULONG)(off + dlen), sig, slen)) != CKR_OK) {
		p11_fail("pairwise test: C_Verify", rv);
		goto out;
	}
	if ((r = pkey_from_object(p, s, pub, &pk)) != 0)
		goto out;
	r = SG_ERR_SELF_VERIFY;
	if (!openssl_verifies(pk, ki, digest, dlen, sig, slen)) {
		say("pairwise test: OpenSSL does not verify the signature with the public key");
		goto out;
	}
	digest[0] ^= 0x01;
	if (openssl_verifies(pk, ki, digest, dlen, sig, slen)) {
		say("pairwise test: OpenSSL verifies a signature over a different digest");
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_free(pk);
	return r;
}

/* ---- output helpers ---- */

static void
print_hex(FILE *f, const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
}

/* Labels come from the token: control characters are shown as '?'. */
static void
print_text(FILE *f, const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fputc(s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i], f);
}

/* fsyncs every regular file and directory below dirfd (depth levels), then dirfd. */
static int
sync_tree(int dirfd, const char *path, int depth)
{
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	int fd = -1, sub = -1, r = SG_ERR_IO;

	if ((fd = dup(dirfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		say("cannot read directory %s: %s", path, strerror(errno));
		goto out;
	}
	fd = -1; /* owned by d */
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			say("cannot stat %s/%s: %s", path, de->d_name, strerror(errno));
			goto out;
		}
		if (S_ISREG(st.st_mode)) {
			if ((sub = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) <
			        0 ||
			    fsync(sub) != 0) {
				say("cannot fsync %s/%s: %s", path, de->d_name, strerror(errno));
				goto out;
			}
		} else if (S_ISDIR(st.st_mode) && depth > 0) {
			if ((sub = openat(dirfd, de->d_name,
			                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
				say("cannot open %s/%s: %s", path, de->d_name, strerror(errno));
				goto out;
			}
			if ((r = sync_tree(sub, de->d_name, depth - 1)) != 0)
				goto out;
			r = SG_ERR_IO;
		}
		if (sub >= 0)
			close(sub);
		sub = -1;
	}
	if (errno != 0) {
		say("cannot read directory %s: %s", path, strerror(errno));
		goto out;
	}
	if (fsync(dirfd) != 0) {
		say("cannot fsync %s: %s", path, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (sub >= 0)
		close(sub);
	if (fd >= 0)
		close(fd);
	if (d != NULL)
		closedir(d);
	return r;
}

/* ---- commands ---- */

static int
cmd_init(const struct opts *o)
{
	struct p11 p = {.lock_fd = -1};
	struct sg_secret *so_pin = NULL, *pin = NULL;
	CK_UTF8CHAR label[TOKEN_LABEL_LEN];
	CK_SLOT_ID slot = 0, free_slot = 0;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_RV rv;
	int found, have_free, r;

	if ((r = read_pin("SO PIN file", o->so_pin_file, &so_pin)) != 0 ||
	    (r = read_pin("PIN file", o->pin_file, &pin)) != 0)
		goto out;
	if ((r = p11_open(o->module, 1, &p)) != 0)
		goto out;
	if ((r = p11_scan_slots(&p, o->label, &slot, &found, &free_slot, &have_free)) != 0)
		goto out;
	if (found > 0) {
		say("a token labelled '%s' exists already", o->label);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if (!have_free) {
		say("the module has no uninitialized token to initialize");
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	memset(label, ' ', sizeof(label));
	memcpy(label, o->label, strlen(o->label));
	if ((rv = p.f->C_InitToken(free_slot, (CK_UTF8CHAR_PTR)sg_secret_str(so_pin),
	                           (CK_ULONG)sg_secret_len(so_pin), label)) != CKR_OK) {
		r = p11_fail("C_InitToken", rv);
		goto out;
	}
	if ((r = p11_login(&p, free_slot, 1, CKU_SO, so_pin, &s)) != 0)
		goto out;
	sg_secret_free(so_pin);
	so_pin = NULL;
	if ((rv = p.f->C_InitPIN(s, (CK_UTF8CHAR_PTR)sg_secret_str(pin),
	                         (CK_ULONG)sg_secret_len(pin))) != CKR_OK) {
		r = p11_fail("C_InitPIN", rv);
		goto out;
	}
	printf("initialized token '%s'\n", o->label);
	r = 0;
out:
	if (s != CK_INVALID_HANDLE)
		p11_logout(&p, s);
	p11_close(&p);
	sg_secret_free(so_pin);
	sg_secret_free(pin);
	return r;
}

/* Number of objects on the token with attribute type equal to len bytes at val. */
static int
count_objects(struct p11 *p, CK_SESSION_HANDLE s, CK_ATTRIBUTE_TYPE type, const void *val,
              size_t len, CK_ULONG *count)
{
	CK_ATTRIBUTE t[] = {{type, (void *)val, (CK_ULONG)len}};
	CK_OBJECT_HANDLE *h = NULL;
	int r;

	r = p11_find(p, s, t, 1, &h, count);
	free(h);
	return r;
}

static int
cmd_keygen(const struct opts *o)
{
	struct p11 p = {.lock_fd = -1};
	struct sg_secret *pin = NULL;
	struct keyalg_info ki;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BYTE exponent[] = {0x01, 0x00, 0x01};
	CK_MECHANISM mech = {0, NULL, 0};
	CK_ATTRIBUTE pubt[10], privt[12];
	CK_ULONG npub = 0, npriv = 0, count, bits;
	unsigned char id[KEY_ID_MAX];
	size_t id_len, label_len = strlen(o->label);
	int keep = 0, sync_fd = -1, r;
	CK_RV rv;

	if ((r = keyalg_info(o->alg, &ki)) != 0)
		goto out;
	/* Opened first: a wrong --sync-dir must not leave a key made but reported failed. */
	if (o->sync_dir != NULL &&
	    (sync_fd = open(o->sync_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		say("cannot open --sync-dir %s: %s", o->sync_dir, strerror(errno));
		r = SG_ERR_IO;
		goto out;
	}
	bits = ki.bits;
	if (o->id_len > 0) {
		memcpy(id, o->id, o->id_len);
		id_len = o->id_len;
	} else {
		id_len = KEY_ID_RANDOM_LEN;
		if (RAND_bytes(id, (int)id_len) != 1) {
			say("no random bytes for the key id");
			r = SG_ERR_INTERNAL;
			goto out;
		}
	}
	if ((r = read_pin("PIN file", o->pin_file, &pin)) != 0)
		goto out;
	if ((r = p11_open(o->module, 1, &p)) != 0 || (r = p11_find_token(&p, o->token, &slot)) != 0)
		goto out;
	if ((r = p11_login(&p, slot, 1, CKU_USER, pin, &s)) != 0)
		goto out;
	sg_secret_free(pin);
	pin = NULL;

	if ((r = count_objects(&p, s, CKA_LABEL, o->label, label_len, &count)) != 0)
		goto out;
	if (count > 0) {
		say("an object labelled '%s' exists already on token '%s'", o->label, o->token);
		r = SG_ERR_CONFIG;
		goto out;
	}
	if ((r = count_objects(&p, s, CKA_ID, id, id_len, &count)) != 0)
		goto out;
	if (count > 0) {
		fprintf(stderr, PROG ": an object with id ");
		print_hex(stderr, id, id_len);
		fprintf(stderr, " exists already on token '%s'\n", o->token);
		r = SG_ERR_CONFIG;
		goto out;
	}

	/* Signing keys only: no decrypt, unwrap or derive, never leaving the token. */
	pubt[npub++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
	pubt[npub++] = (CK_ATTRIBUTE){CKA_PRIVATE, &no, sizeof(no)};
	pubt[npub++] = (CK_ATTRIBUTE){CKA_VERIFY, &yes, sizeof(yes)};
	pubt[npub++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &no, sizeof(no)};
	pubt[npub++] = (CK_ATTRIBUTE){CKA_WRAP, &no, sizeof(no)};
	pubt[npub++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)o->label, (CK_ULONG)label_len};
	pubt[npub++] = (CK_ATTRIBUTE){CKA_ID, id, (CK_ULONG)id_len};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_PRIVATE, &yes, sizeof(yes)};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &yes, sizeof(yes)};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &no, sizeof(no)};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_SIGN, &yes, sizeof(yes)};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_DECRYPT, &no, sizeof(no)};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_UNWRAP, &no, sizeof(no)};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_DERIVE, &no, sizeof(no)};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)o->label, (CK_ULONG)label_len};
	privt[npriv++] = (CK_ATTRIBUTE){CKA_ID, id, (CK_ULONG)id_len};
	if (ki.rsa) {
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		pubt[npub++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)};
		pubt[npub++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)};
	} else {
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
		pubt[npub++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)ki.oid, (CK_ULONG)ki.oid_len};
	}
	if ((rv = p.f->C_GenerateKeyPair(s, &mech, pubt, npub, privt, npriv, &pub, &priv)) !=
	    CKR_OK) {
		r = p11_fail("C_GenerateKeyPair", rv);
		goto out;
	}
	if ((r = pairwise_test(&p, s, &ki, pub, priv)) != 0) {
		say("the new key failed its pairwise consistency test and is destroyed");
		goto out;
	}
	keep = 1;
	printf("label=%s alg=%s id=", o->label, sg_keyalg_name(o->alg));
	print_hex(stdout, id, id_len);
	printf("\n");
	r = 0;
out:
	if (!keep && priv != CK_INVALID_HANDLE)
		(void)p.f->C_DestroyObject(s, priv);
	if (!keep && pub != CK_INVALID_HANDLE)
		(void)p.f->C_DestroyObject(s, pub);
	if (s != CK_INVALID_HANDLE)
		p11_logout(&p, s);
	p11_close(&p);
	sg_secret_free(pin);
	/* SoftHSM has written its files but never fsyncs them: make the new key durable. */
	if (r == 0 && sync_fd >= 0 && (r = sync_tree(sync_fd, o->sync_dir, SYNC_DEPTH_MAX)) != 0)
		say("key '%s' was generated but --sync-dir failed", o->label);
	if (sync_fd >= 0)
		close(sync_fd);
	return r;
}

struct key_row {
	unsigned char *label;
	size_t label_len;
	unsigned char *id;
	size_t id_len;
	CK_ULONG type;
	int bits;
	const char *curve; /* static, EC only */
	enum sg_keyalg alg;
};

static int
key_row_cmp(const void *a, const void *b)
{
	const struct key_row *x = a, *y = b;
	size_t n = x->label_len < y->label_len ? x->label_len : y->label_len;
	int c = memcmp(x->label, y->label, n);

	if (c != 0)
		return c;
	return x->label_len < y->label_len ? -1 : x->label_len > y->label_len;
}

/* Fills row from the private key o: label, id, type and size or curve. */
static int
key_row_read(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, struct key_row *row)
{
	unsigned char *v = NULL;
	size_t len;
	BIGNUM *n = NULL;
	EC_GROUP *g = NULL;
	int nid = NID_undef, r;

	if ((r = p11_attr(p, s, o, CKA_LABEL, &row->label, &row->label_len)) == SG_ERR_NOT_FOUND)
		r = 0;
	if (r != 0)
		goto out;
	if ((r = p11_attr(p, s, o, CKA_ID, &row->id, &row->id_len)) == SG_ERR_NOT_FOUND)
		r = 0;
	if (r != 0)
		goto out;
	if ((r = p11_attr_ulong(p, s, o, CKA_KEY_TYPE, &row->type)) != 0)
		goto out;
	switch (row->type) {
	case CKK_RSA:
		if ((r = p11_attr(p, s, o, CKA_MODULUS, &v, &len)) != 0)
			goto out;
		if ((n = BN_bin2bn(v, (int)len, NULL)) == NULL) {
			r = SG_ERR_NOMEM;
			goto out;
		}
		row->bits = BN_num_bits(n);
		break;
	case CKK_EC:
		if ((r = p11_attr(p, s, o, CKA_EC_PARAMS, &v, &len)) != 0)
			goto out;
		if ((nid = ec_params_nid(v, len)) == NID_undef) {
			row->curve = "unknown";
			break;
		}
		row->curve =
		    EC_curve_nid2nist(nid) != NULL ? EC_curve_nid2nist(nid) : OBJ_nid2sn(nid);
		if ((g = EC_GROUP_new_by_curve_name(nid)) != NULL)
			row->bits = EC_GROUP_order_bits(g);
		break;
	default:
		break;
	}
	row->alg = keyalg_of(row->type, row->bits, nid);
	r = 0;
out:
	EC_GROUP_free(g);
	BN_free(n);
	free(v);
	return r;
}

static const char *
key_type_name(CK_ULONG type)
{
	switch (type) {
	case CKK_RSA:
		return "rsa";
	case CKK_EC:
		return "ec";
	default:
		return "other";
	}
}

static void
list_print(const char *token, const struct key_row *rows, CK_ULONG n, int json)
{
	CK_ULONG i;

	if (json) {
		printf("{\"token\":");
		sg_json_str(stdout, (const unsigned char *)token, strlen(token));
		printf(",\"keys\":[");
		for (i = 0; i < n; i++) {
			printf("%s{\"label\":", i > 0 ? "," : "");
			sg_json_str(stdout, rows[i].label, rows[i].label_len);
			printf(",\"id\":\"");
			print_hex(stdout, rows[i].id, rows[i].id_len);
			printf("\",\"type\":\"%s\",\"bits\":%d", key_type_name(rows[i].type),
			       rows[i].bits);
			if (rows[i].curve != NULL)
				printf(",\"curve\":\"%s\"", rows[i].curve);
			if (rows[i].alg != SG_KEYALG_NONE)
				printf(",\"alg\":\"%s\"}", sg_keyalg_name(rows[i].alg));
			else
				printf(",\"alg\":null}");
		}
		printf("]}\n");
		return;
	}
	printf("%-24s %-18s %-5s %-8s %s\n", "LABEL", "ID", "TYPE", "SIZE", "ALG");
	for (i = 0; i < n; i++) {
		print_text(stdout, rows[i].label, rows[i].label_len);
		printf("%*s ", rows[i].label_len < 24 ? (int)(24 - rows[i].label_len) : 0, "");
		print_hex(stdout, rows[i].id, rows[i].id_len);
		printf("%*s ", rows[i].id_len < 9 ? (int)(18 - 2 * rows[i].id_len) : 0, "");
		printf("%-5s ", key_type_name(rows[i].type));
		if (rows[i].curve != NULL)
			printf("%-8s ", rows[i].curve);
		else
			printf("%-8d ", rows[i].bits);
		printf("%s\n", rows[i].alg != SG_KEYALG_NONE ? sg_keyalg_name(rows[i].alg) : "-");
	}
}

static int
cmd_list(const struct opts *o)
{
	struct p11 p = {.lock_fd = -1};
	struct sg_secret *pin = NULL;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_TOKEN, &yes, sizeof(yes)}};
	CK_OBJECT_HANDLE *h = NULL;
	struct key_row *rows = NULL;
	CK_ULONG n = 0, i;
	int r;

	if ((r = read_pin("PIN file", o->pin_file, &pin)) != 0)
		goto out;
	if ((r = p11_open(o->module, 0, &p)) != 0 || (r = p11_find_token(&p, o->token, &slot)) != 0)
		goto out;
	if ((r = p11_login(&p, slot, 0, CKU_USER, pin, &s)) != 0)
		goto out;
	sg_secret_free(pin);
	pin = NULL;
	if ((r = p11_find(&p, s, t, 2, &h, &n)) != 0)
		goto out;
	if ((rows = calloc(n > 0 ? n : 1, sizeof(*rows))) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = key_row_read(&p, s, h[i], &rows[i])) != 0)
			goto out;
	}
	qsort(rows, n, sizeof(*rows), key_row_cmp);
	list_print(o->token, rows, n, (o->seen & OPT_JSON) != 0);
	r = 0;
out:
	for (i = 0; rows != NULL && i < n; i++) {
		free(rows[i].label);
		free(rows[i].id);
	}
	free(rows);
	free(h);
	if (s != CK_INVALID_HANDLE)
		p11_logout(&p, s);
	p11_close(&p);
	sg_secret_free(pin);
	return r;
}

static int
cmd_pubkey(const struct opts *o)
{
	struct p11 p = {.lock_fd = -1};
	struct sg_secret *pin = NULL;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
	                    {CKA_TOKEN, &yes, sizeof(yes)},
	                    {CKA_LABEL, (void *)o->label, (CK_ULONG)strlen(o->label)}};
	CK_OBJECT_HANDLE *h = NULL;
	CK_ULONG n = 0;
	EVP_PKEY *pk = NULL;
	BIO *mem = NULL;
	char *pem;
	long pem_len;
	int fd = -1, r;

	if ((r = read_pin("PIN file", o->pin_file, &pin)) != 0)
		goto out;
	if ((r = p11_open(o->module, 0, &p)) != 0 || (r = p11_find_token(&p, o->token, &slot)) != 0)
		goto out;
	if ((r = p11_login(&p, slot, 0, CKU_USER, pin, &s)) != 0)
		goto out;
	sg_secret_free(pin);
	pin = NULL;
	if ((r = p11_find(&p, s, t, 3, &h, &n)) != 0)
		goto out;
	if (n != 1) {
		if (n == 0)
			say("no public key labelled '%s' on token '%s'", o->label, o->token);
		else
			say("%lu public keys labelled '%s' on token '%s'; refusing to guess",
			    (unsigned long)n, o->label, o->token);
		r = n == 0 ? SG_ERR_NOT_FOUND : SG_ERR_CONFIG;
		goto out;
	}
	if ((r = pkey_from_object(&p, s, h[0], &pk)) != 0)
		goto out;
	if ((mem = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_PUBKEY(mem, pk) ||
	    (pem_len = BIO_get_mem_data(mem, &pem)) <= 0) {
		say("cannot encode the public key as PEM");
		r = SG_ERR_INTERNAL;
		goto out;
	}
	if (o->out == NULL) {
		if (fwrite(pem, 1, (size_t)pem_len, stdout) != (size_t)pem_len ||
		    fflush(stdout) != 0) {
			say("cannot write the public key: %s", strerror(errno));
			r = SG_ERR_IO;
			goto out;
		}
	} else {
		if ((fd = open(o->out, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		               0644)) < 0 ||
		    sg_write_all(fd, pem, (size_t)pem_len) != 0 || close(fd) != 0) {
			fd = -1;
			say("cannot write %s: %s", o->out, strerror(errno));
			r = SG_ERR_IO;
			goto out;
		}
		fd = -1;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	BIO_free(mem);
	EVP_PKEY_free(pk);
	free(h);
	if (s != CK_INVALID_HANDLE)
		p11_logout(&p, s);
	p11_close(&p);
	sg_secret_free(pin);
	return r;
}

int
main(int argc, char **argv)
{
	const struct cmd *c = NULL;
	struct opts o;
	size_t i;
	int r;

	/* PINs pass through this process: no core dumps, no ptrace by others. */
	if (sg_secret_harden_process() != 0) {
		say("cannot disable core dumps");
		return TOOL_EXIT_FAIL;
	}
	if (argc < 2) {
		usage_all(stderr);
		return TOOL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage_all(stdout);
		return TOOL_EXIT_OK;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) == 0)
			c = &cmds[i];
	}
	if (c == NULL) {
		say("unknown command '%s'", argv[1]);
		usage_all(stderr);
		return TOOL_EXIT_USAGE;
	}
	if ((r = parse_opts(c, argc - 1, argv + 1, &o)) != 0)
		return r == 1 ? TOOL_EXIT_OK : TOOL_EXIT_USAGE;
	if ((r = c->run(&o)) != 0)
		return TOOL_EXIT_FAIL;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		say("cannot write to stdout");
		return TOOL_EXIT_FAIL;
	}
	return TOOL_EXIT_OK;
}
