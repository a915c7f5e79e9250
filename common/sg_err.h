/*
 * sg_err: the one table of Signet error codes.
 *
 * Every function that can fail returns 0 or a negative SG_ERR_* value.  The
 * same table gives each code a stable wire name and a human message; the wire
 * protocol carries the positive number (-code) and the name.  Codes are never
 * renumbered: docs/protocol.md lists them and clients depend on them.
 */
#ifndef SG_ERR_H
#define SG_ERR_H

#include <stddef.h>

/* X(symbol, value, wire name, message) */
#define SG_ERR_TABLE(X)                                                                            \
	X(SG_OK, 0, "ok", "success")                                                               \
	X(SG_ERR_INTERNAL, -1, "internal", "internal error")                                       \
	X(SG_ERR_NOMEM, -2, "no_memory", "out of memory")                                          \
	X(SG_ERR_INVALID_ARG, -3, "invalid_argument", "invalid argument")                          \
	X(SG_ERR_IO, -4, "io", "input/output error")                                               \
	X(SG_ERR_NOT_FOUND, -5, "not_found", "not found")                                          \
	X(SG_ERR_PERM, -6, "insecure_permissions", "file has insecure ownership or permissions")   \
	X(SG_ERR_CONFIG, -7, "config", "invalid configuration")                                    \
	X(SG_ERR_LIMIT, -8, "limit", "size or count limit exceeded")                               \
	X(SG_ERR_MALFORMED, -10, "malformed", "malformed message")                                 \
	X(SG_ERR_TOO_LARGE, -11, "too_large", "message too large")                                 \
	X(SG_ERR_VERSION, -12, "unsupported_version", "unsupported protocol version")              \
	X(SG_ERR_UNKNOWN_OP, -13, "unknown_op", "unknown operation")                               \
	X(SG_ERR_MISSING_FIELD, -14, "missing_field", "required field missing")                    \
	X(SG_ERR_UNKNOWN_FIELD, -15, "unknown_field", "unknown field")                             \
	X(SG_ERR_BAD_TYPE, -16, "bad_type", "field has the wrong type")                            \
	X(SG_ERR_DUPLICATE_FIELD, -17, "duplicate_field", "field appears twice")                   \
	X(SG_ERR_BAD_VALUE, -18, "bad_value", "field value out of range")                          \
	X(SG_ERR_UNKNOWN_HASH, -20, "unknown_hash", "unsupported hash algorithm")                  \
	X(SG_ERR_DIGEST_LENGTH, -21, "digest_length", "digest length does not match the hash")     \
	X(SG_ERR_BAD_PADDING, -22, "bad_padding", "padding not valid for this key")                \
	X(SG_ERR_UNKNOWN_KEY, -23, "unknown_key", "unknown key")                                   \
	X(SG_ERR_NO_CERT, -24, "no_certificate", "key has no usable certificate")                  \
	X(SG_ERR_CERT_VALIDITY, -25, "certificate_not_valid",                                      \
	  "certificate not valid at this time")                                                    \
	X(SG_ERR_NO_TSA, -26, "no_tsa", "no time-stamping authority available")                    \
	X(SG_ERR_DENIED, -30, "denied", "denied by policy")                                        \
	X(SG_ERR_BUSY, -31, "busy", "too many requests in flight")                                 \
	X(SG_ERR_IDEM_CONFLICT, -32, "idempotency_conflict",                                       \
	  "idempotency key reused for a different request")                                        \
	X(SG_ERR_SHUTTING_DOWN, -33, "shutting_down", "server is shutting down")                   \
	X(SG_ERR_HSM, -40, "hsm", "HSM operation failed")                                          \
	X(SG_ERR_HSM_UNAVAILABLE, -41, "hsm_unavailable", "HSM unavailable")                       \
	X(SG_ERR_SELF_VERIFY, -42, "self_verify_failed",                                           \
	  "signature failed verification with the public key")                                     \
	X(SG_ERR_MODULE_NOT_ALLOWED, -43, "module_not_allowed",                                    \
	  "PKCS#11 module not on the allowlist")                                                   \
	X(SG_ERR_LOGIN, -44, "login_failed", "HSM login failed")                                   \
	X(SG_ERR_AUDIT_UNAVAILABLE, -50, "audit_unavailable",                                      \
	  "audit log cannot be written; signing is suspended")                                     \
	X(SG_ERR_AUDIT_CORRUPT, -51, "audit_corrupt", "audit log does not verify")                 \
	X(SG_ERR_POLICY, -60, "policy", "invalid policy")                                          \
	X(SG_ERR_TIMEOUT, -70, "timeout", "request timed out")                                     \
	X(SG_ERR_UNAVAILABLE, -71, "unavailable", "server unavailable")                            \
	X(SG_ERR_BAD_SIGNATURE, -72, "bad_signature", "signature does not verify")                 \
	X(SG_ERR_CHANGED, -73, "file_changed", "file changed while it was being read")             \
	X(SG_ERR_CSR_INVALID, -80, "csr_invalid", "not a valid certificate signing request")       \
	X(SG_ERR_CSR_SIGNATURE, -81, "csr_signature",                                              \
	  "CSR signature does not verify (no proof of possession)")                                \
	X(SG_ERR_CSR_EXTENSION, -82, "csr_extension", "CSR has an extension the profile refuses")  \
	X(SG_ERR_UNKNOWN_PROFILE, -83, "unknown_profile", "unknown certificate profile")           \
	X(SG_ERR_KEY_NOT_ALLOWED, -84, "key_not_allowed",                                          \
	  "public key type or size not allowed by the profile")                                    \
	X(SG_ERR_SUBJECT_NOT_ALLOWED, -85, "subject_not_allowed",                                  \
	  "subject not allowed by the profile")                                                    \
	X(SG_ERR_SAN_NOT_ALLOWED, -86, "san_not_allowed",                                          \
	  "subject alternative name not allowed by the profile")                                   \
	X(SG_ERR_TTL_TOO_LONG, -87, "ttl_too_long", "lifetime over the profile's maximum")         \
	X(SG_ERR_CA_NOT_ALLOWED, -88, "ca_not_allowed",                                            \
	  "CA certificate not allowed by the profile")                                             \
	X(SG_ERR_UNKNOWN_SERIAL, -89, "unknown_serial", "no certificate with this serial number")  \
	X(SG_ERR_ALREADY_REVOKED, -90, "already_revoked", "certificate already revoked")           \
	X(SG_ERR_CEREMONY_REQUIRED, -91, "ceremony_required",                                      \
	  "this needs a key ceremony under officer approval")

enum sg_err {
#define SG_ERR_ENUM(sym, val, name, msg) sym = (val),
	SG_ERR_TABLE(SG_ERR_ENUM)
#undef SG_ERR_ENUM
};

/* Human message for an error code; never NULL ("unknown error" for others). */
const char *sg_strerror(int err);

/* Stable wire name for an error code; never NULL ("unknown" for others). */
const char *sg_err_name(int err);

/* Returns nonzero if err is a code of the table. */
int sg_err_known(int err);

/*
 * Formats an explanation into why (why_len bytes, always terminated,
 * truncated if longer); does nothing if why is NULL or why_len is 0.  The
 * "why" buffers that go with error codes throughout the code base use it.
 */
void sg_whyf(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* SG_ERR_H */
