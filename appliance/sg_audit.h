/*
 * sg_audit: the durable, hash-chained audit log of signetd (SQLite, WAL,
 * synchronous=FULL) and the idempotency store that lives beside it.
 *
 * One record per request outcome, allowed or denied.  Each record holds the
 * previous record's hash and its own (SHA-256 over a canonical encoding of
 * its fields, docs/audit.md), so any edit, deletion or reordering breaks the
 * chain.  A writer thread commits records in groups: whatever was submitted
 * while the previous commit was syncing goes into the next transaction, so
 * under load one fsync covers many records.  The caller releases a signature
 * only after its record came back completed with status 0 (durable).
 *
 * If a commit fails (disk full, I/O error) every record of that group comes
 * back with SG_ERR_AUDIT_UNAVAILABLE, the chain head stays at the last
 * durable record, and the next group tries again: signing fails closed and
 * resumes by itself when writing works again.
 *
 * Threads: sg_audit_submit() and sg_audit_take_completed() may be called
 * from one front thread while the writer runs; sg_audit_idem_lookup() uses
 * its own read connection and must be called from that same front thread.
 */
#ifndef SG_AUDIT_H
#define SG_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "sg_alg.h"
#include "sg_wire.h"

struct sg_audit;

/* An issued certificate, as stored (and, with revoked_at/reason, as read back). */
struct sg_audit_cert {
	unsigned char serial[SG_SERIAL_MAX];
	size_t serial_len;
	char ca[SG_NAME_MAX + 1]; /* the issuing CA's key name */
	char profile[SG_NAME_MAX + 1];
	char subject[512]; /* RFC 2253 one-line form, for people */
	char sans[1024];   /* "DNS:a, IP:b, URI:c" (cut to fit), for people */
	char requester[SG_NAME_MAX + 1];
	int64_t not_before, not_after; /* seconds since the epoch */
	int is_ca;
	const unsigned char *der; /* borrowed when stored; see sg_audit_cert_get */
	size_t der_len;
	int64_t revoked_at; /* 0 when not revoked */
	int reason;         /* enum sg_reason, when revoked */
};

/* A CA's current CRL. */
struct sg_audit_crl {
	char ca[SG_NAME_MAX + 1];
	uint64_t number;
	int64_t this_update, next_update;
	const unsigned char *der; /* borrowed when stored */
	size_t der_len;
};

/*
 * A change of state that must be durable with its record, in the same
 * transaction: a certificate issued, one revoked (serial, revoked_at,
 * reason of cert), or a CA's new CRL.
 */
enum sg_audit_state {
	SG_AUDIT_STATE_NONE = 0,
	SG_AUDIT_STATE_CERT_ISSUED,
	SG_AUDIT_STATE_CERT_REVOKED,
	SG_AUDIT_STATE_CRL,
};

struct sg_audit_record {
	/* Filled by the submitter. */
	char client[SG_NAME_MAX + 1]; /* "" if the client is unknown */
	enum sg_op op;                /* SG_OP_NONE for undecodable requests */
	uint64_t req_id;              /* the request's id (0 if none) */
	char key[SG_NAME_MAX + 1];    /* "" if none */
	enum sg_hash hash;            /* SG_HASH_NONE if none */
	enum sg_pad pad;
	unsigned char digest[SG_HASH_MAX_LEN];
	size_t digest_len; /* 0 if none */
	int result;        /* 0 or the negative SG_ERR_* sent to the client */
	struct sg_meta meta;
	/* For a signature: the reply, whose sig is hashed into the record and
	 * which is stored under (client, idem) when idem_len > 0. */
	int has_sig;
	struct sg_sign_rep rep;
	unsigned char idem[SG_IDEM_MAX];
	size_t idem_len;
	unsigned char req_fp[32]; /* fingerprint of the request, for idempotency conflicts */
	/* sign.cms / timestamp: the DER answer, stored with the idempotency entry
	 * (borrowed; must stay valid until the record comes back). */
	const unsigned char *out;
	size_t out_len;
	/* A state change committed with the record (borrowed, as out). */
	enum sg_audit_state state;
	const struct sg_audit_cert *cert; /* CERT_ISSUED, CERT_REVOKED */
	const struct sg_audit_crl *crl;   /* CRL */

	/* Filled by the writer on completion.  For a durable record with has_sig
	 * the writer also sets rep.record and rep.record_hash (the receipt). */
	int status;   /* 0 durable, or SG_ERR_AUDIT_UNAVAILABLE (SG_ERR_INVALID_ARG: see submit) */
	uint64_t seq; /* record number, from 1 (0 if not durable) */
	unsigned char record_hash[32]; /* this record's hash (all zero if not durable) */
	int64_t time_us;               /* commit-time wall clock, microseconds since the epoch */

	/* Owned by the caller, untouched by the audit module. */
	void *cookie;
	struct sg_audit_record *next; /* queue link: the module uses it while it holds the record */
};

/*
 * Opens (creating if needed) the database at path, checks its schema, and
 * reads the chain head.  vfs names a SQLite VFS (NULL: the default); tests
 * use it to inject full-disk and I/O errors.  Returns 0 or SG_ERR_IO /
 * SG_ERR_AUDIT_CORRUPT with why.
 */
int sg_audit_open(const char *path, const char *vfs, struct sg_audit **out, char *why,
                  size_t why_len);

/* Starts the writer thread; 0 or SG_ERR_INTERNAL. */
int sg_audit_start(struct sg_audit *a);

/*
 * Hands rec to the writer.  The module owns rec until it comes back from
 * sg_audit_take_completed(); it never frees it.  A record whose lengths
 * exceed their arrays (or whose strings are not terminated) comes back at
 * once with status SG_ERR_INVALID_ARG; one submitted after sg_audit_stop()
 * comes back at once with SG_ERR_AUDIT_UNAVAILABLE.  Neither is recorded.
 */
void sg_audit_submit(struct sg_audit *a, struct sg_audit_record *rec);

/* A descriptor (eventfd) that is readable while completed records wait. */
int sg_audit_event_fd(const struct sg_audit *a);

/*
 * Takes every completed record, in commit order, as a list linked by next
 * (NULL if none), and clears the event descriptor.
 */
struct sg_audit_record *sg_audit_take_completed(struct sg_audit *a);

/* 1 if the last commit succeeded (or none was tried yet). */
int sg_audit_writable(const struct sg_audit *a);

/* Writer counters, for metrics and for tests that prove grouping. */
struct sg_audit_stats {
	uint64_t commits;        /* groups committed durably */
	uint64_t records;        /* records committed durably */
	uint64_t failures;       /* groups that failed (rolled back) */
	uint64_t last_commit_us; /* wall clock of the last durable commit (us, epoch; 0: none) */
	uint64_t max_group;      /* largest group committed */
};

/* Copies the counters (thread-safe, any thread). */
void sg_audit_stats(const struct sg_audit *a, struct sg_audit_stats *st);

/*
 * Looks up a stored answer for (client, idem).  Returns 0 with *rep and
 * req_fp filled (rep->replayed = 1) and, for a stored sign.cms or timestamp
 * answer, *out (malloc'd, the caller frees) and *out_len (else NULL and 0);
 * SG_ERR_NOT_FOUND (also for entries past the 24 h retention), SG_ERR_NOMEM
 * or SG_ERR_IO.
 */
int sg_audit_idem_lookup(struct sg_audit *a, const char *client, const unsigned char *idem,
                         size_t idem_len, struct sg_sign_rep *rep, unsigned char req_fp[32],
                         unsigned char **out, size_t *out_len);

/*
 * Reserves count (1..2^32) consecutive values of the persistent counter name
 * (which starts at 1): *first gets the first of them.  The reservation is
 * durable before the call returns, so no later call, in this process or after
 * a restart, hands out any of them again (values reserved but never used are
 * skipped).  Used for time-stamp serial numbers.  Front thread only.
 * Returns 0, SG_ERR_INVALID_ARG, SG_ERR_AUDIT_UNAVAILABLE (cannot write) or
 * SG_ERR_AUDIT_CORRUPT (a stored value out of range).
 */
int sg_audit_counter_reserve(struct sg_audit *a, const char *name, uint64_t count, uint64_t *first);

/*
 * Reads the certificate with serial[0..len): 0 with *out filled and *der (a
 * malloc'd copy of the DER, the caller frees; out->der points to it),
 * SG_ERR_NOT_FOUND or SG_ERR_IO.  Front thread only (read connection).
 */
int sg_audit_cert_get(struct sg_audit *a, const unsigned char *serial, size_t len,
                      struct sg_audit_cert *out, unsigned char **der);

/*
 * Calls fn for every revoked certificate of ca (any order); stops at fn's
 * first non-zero return, which it returns.  0, SG_ERR_IO.  Front thread only.
 */
int sg_audit_revoked(struct sg_audit *a, const char *ca,
                     int (*fn)(void *arg, const unsigned char *serial, size_t len,
                               int64_t revoked_at, int reason),
                     void *arg);

/* The stored CRL of ca, as sg_audit_cert_get: 0, SG_ERR_NOT_FOUND, SG_ERR_IO. */
int sg_audit_crl_get(struct sg_audit *a, const char *ca, struct sg_audit_crl *out,
                     unsigned char **der);

/*
 * Stops the writer after it has committed everything submitted so far;
 * completed records are still collected with sg_audit_take_completed().
 */
void sg_audit_stop(struct sg_audit *a);

/* Stops (if needed) and closes; NULL-safe. */
void sg_audit_close(struct sg_audit *a);

/*
 * Recomputes the whole chain of the database at path (opened read-only).
 * Returns 0 with *count records verified, or SG_ERR_AUDIT_CORRUPT with
 * *first_bad the number of the first record that does not match and why
 * saying what does not match; SG_ERR_IO if it cannot be read.
 */
int sg_audit_verify(const char *path, uint64_t *count, uint64_t *first_bad, char *why,
                    size_t why_len);

#endif /* SG_AUDIT_H */
