/* sg_audit: see sg_audit.h; the record encoding is specified in docs/audit.md. */
#include "sg_audit.h"
#include "sg_err.h"
#include "sg_log.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#define SG_AUDIT_APP_ID 0x53474155 /* "SGAU" in PRAGMA application_id */
#define SG_AUDIT_SCHEMA_VERSION 3  /* PRAGMA user_version */
#define SG_AUDIT_GROUP_MAX 4096    /* records per transaction */
#define SG_AUDIT_IDEM_RETENTION_US (24LL * 3600 * 1000000)
#define SG_AUDIT_PRUNE_INTERVAL_US (60LL * 1000000)
#define SG_AUDIT_PRUNE_BATCH 10000 /* idempotency entries deleted per group at most */
#define SG_AUDIT_BUSY_MS 5000

/* The canonical encoding (docs/audit.md): a domain prefix then 15 fields. */
#define SG_AUDIT_DOMAIN "signet-audit-v1" /* followed by one 0x00 byte */
#define SG_AUDIT_DOMAIN_LEN 16
#define SG_AUDIT_NFIELDS 15
#define SG_AUDIT_NULL_LEN 0xffffffffU
#define SG_AUDIT_ENC_MAX                                                                           \
	(SG_AUDIT_DOMAIN_LEN + SG_AUDIT_NFIELDS * 4 + 8 * 8 + 2 * SG_NAME_MAX + SG_HASH_MAX_LEN +  \
	 32 + SG_META_ARTIFACT_MAX + SG_META_JOB_MAX + 32)

/* Version 3: issued certificates, their revocations, and each CA's current CRL. */
#define SG_AUDIT_SCHEMA_CERTS                                                                      \
	"CREATE TABLE certs ("                                                                     \
	" serial BLOB PRIMARY KEY,"                                                                \
	" ca TEXT NOT NULL,"                                                                       \
	" profile TEXT NOT NULL,"                                                                  \
	" subject TEXT NOT NULL,"                                                                  \
	" sans TEXT NOT NULL,"                                                                     \
	" requester TEXT NOT NULL,"                                                                \
	" not_before INTEGER NOT NULL,"                                                            \
	" not_after INTEGER NOT NULL,"                                                             \
	" is_ca INTEGER NOT NULL,"                                                                 \
	" der BLOB NOT NULL,"                                                                      \
	" record INTEGER NOT NULL,"                                                                \
	" revoked_at INTEGER,"                                                                     \
	" reason INTEGER);"                                                                        \
	"CREATE INDEX certs_revoked ON certs (ca, revoked_at) WHERE revoked_at IS NOT NULL;"       \
	"CREATE TABLE crls ("                                                                      \
	" ca TEXT PRIMARY KEY,"                                                                    \
	" number INTEGER NOT NULL,"                                                                \
	" this_update INTEGER NOT NULL,"                                                           \
	" next_update INTEGER NOT NULL,"                                                           \
	" der BLOB NOT NULL);"

static const char sg_audit_schema[] = "CREATE TABLE records ("
                                      " seq INTEGER PRIMARY KEY,"
                                      " time_us INTEGER NOT NULL,"
                                      " client TEXT NOT NULL,"
                                      " op INTEGER NOT NULL,"
                                      " req_id INTEGER NOT NULL,"
                                      " key TEXT NOT NULL,"
                                      " hash_alg INTEGER NOT NULL,"
                                      " digest BLOB NOT NULL,"
                                      " pad INTEGER NOT NULL,"
                                      " sig_hash BLOB,"
                                      " result INTEGER NOT NULL,"
                                      " artifact TEXT NOT NULL,"
                                      " size INTEGER,"
                                      " job TEXT NOT NULL,"
                                      " prev_hash BLOB NOT NULL,"
                                      " hash BLOB NOT NULL);"
                                      "CREATE TABLE idem ("
                                      " id INTEGER PRIMARY KEY,"
                                      " client TEXT NOT NULL,"
                                      " idem BLOB NOT NULL,"
                                      " created_us INTEGER NOT NULL,"
                                      " req_fp BLOB NOT NULL,"
                                      " key TEXT NOT NULL,"
                                      " alg INTEGER NOT NULL,"
                                      " hash_alg INTEGER NOT NULL,"
                                      " pad INTEGER NOT NULL,"
                                      " sig BLOB NOT NULL,"
                                      " record INTEGER NOT NULL,"
                                      " record_hash BLOB NOT NULL,"
                                      " out BLOB,"
                                      " UNIQUE (client, idem));"
                                      "CREATE INDEX idem_created ON idem (created_us);"
                                      "CREATE TABLE counters ("
                                      " name TEXT PRIMARY KEY,"
                                      " next INTEGER NOT NULL);" SG_AUDIT_SCHEMA_CERTS;
/* Version 1 lacked stored CMS / time-stamp answers and the counters. */
static const char sg_audit_migrate_1_2[] = "ALTER TABLE idem ADD COLUMN out BLOB;"
                                           "CREATE TABLE counters ("
                                           " name TEXT PRIMARY KEY,"
                                           " next INTEGER NOT NULL);"
                                           "PRAGMA user_version = 2;";
static const char sg_audit_migrate_2_3[] = SG_AUDIT_SCHEMA_CERTS "PRAGMA user_version = 3;";
static const char sg_audit_sql_cert_insert[] =
    "INSERT INTO certs (serial, ca, profile, subject, requester, not_before, not_after, is_ca,"
    " der, record, sans) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
static const char sg_audit_sql_cert_revoke[] =
    "UPDATE certs SET revoked_at = ?2, reason = ?3 WHERE serial = ?1 AND revoked_at IS NULL";
static const char sg_audit_sql_crl_store[] =
    "INSERT INTO crls (ca, number, this_update, next_update, der) VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (ca) DO UPDATE SET number = excluded.number,"
    " this_update = excluded.this_update, next_update = excluded.next_update, der = excluded.der";
static const char sg_audit_sql_cert_get[] =
    "SELECT ca, profile, subject, requester, not_before, not_after, is_ca, der, revoked_at, reason"
    " FROM certs WHERE serial = ?1";
static const char sg_audit_sql_revoked[] =
    "SELECT serial, revoked_at, reason FROM certs WHERE ca = ?1 AND revoked_at IS NOT NULL";
static const char sg_audit_sql_crl_get[] =
    "SELECT number, this_update, next_update, der FROM crls WHERE ca = ?1";

static const char sg_audit_sql_insert[] =
    "INSERT INTO records (seq, time_us, client, op, req_id, key, hash_alg, digest, pad,"
    " sig_hash, result, artifact, size, job, prev_hash, hash)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";
/* A key that is already stored keeps its answer unless that answer has expired. */
static const char sg_audit_sql_idem_insert[] =
    "INSERT INTO idem (client, idem, created_us, req_fp, key, alg, hash_alg, pad, sig, record,"
    " record_hash, out) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?13)"
    " ON CONFLICT (client, idem) DO UPDATE SET created_us = excluded.created_us,"
    " req_fp = excluded.req_fp, key = excluded.key, alg = excluded.alg,"
    " hash_alg = excluded.hash_alg, pad = excluded.pad, sig = excluded.sig,"
    " record = excluded.record, record_hash = excluded.record_hash, out = excluded.out"
    " WHERE idem.created_us < ?12";
static const char sg_audit_sql_idem_prune[] =
    "DELETE FROM idem WHERE id IN"
    " (SELECT id FROM idem WHERE created_us < ?1 ORDER BY created_us LIMIT ?2)";
static const char sg_audit_sql_idem_lookup[] =
    "SELECT req_fp, key, alg, hash_alg, pad, sig, record, record_hash, out FROM idem"
    " WHERE client = ?1 AND idem = ?2 AND created_us >= ?3";
/* Reserves a block of a counter: the caller gets [next, next + n). */
static const char sg_audit_sql_counter_get[] = "SELECT next FROM counters WHERE name = ?1";
static const char sg_audit_sql_counter_set[] =
    "INSERT INTO counters (name, next) VALUES (?1, ?2)"
    " ON CONFLICT (name) DO UPDATE SET next = excluded.next";
static const char sg_audit_sql_head[] = "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1";
static const char sg_audit_sql_walk[] =
    "SELECT seq, time_us, client, op, req_id, key, hash_alg, digest, pad, sig_hash, result,"
    " artifact, size, job, prev_hash, hash FROM records ORDER BY seq";

struct sg_audit {
	/* Writer side: used by the opener, then only by the writer thread. */
	sqlite3 *wdb;
	sqlite3_stmt *st_begin, *st_commit, *st_rollback, *st_insert, *st_idem, *st_prune, *st_head;
	sqlite3_stmt *st_cert_insert, *st_cert_revoke, *st_crl_store;
	EVP_MD *sha256;
	EVP_MD_CTX *wctx;
	uint64_t head_seq; /* last durable record */
	unsigned char head_hash[32];
	int resync; /* re-read the head from the database before the next group */
	int64_t next_prune_us;
	int prune_more; /* the last prune hit its batch limit */

	/* Front side: the read connection for idempotency lookups. */
	sqlite3 *rdb;
	sqlite3_stmt *st_lookup, *st_cert_get, *st_revoked, *st_crl_get;
	/* Front side: the counters connection (writes a few rows, rarely). */
	sqlite3 *cdb;
	sqlite3_stmt *st_cget, *st_cset;

	/* Shared, under mtx. */
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	struct sg_audit_record *q_head, *q_tail;
	struct sg_audit_record *c_head, *c_tail;
	int efd;
	int started, stopping, stopped;
	int writable;
	struct sg_audit_stats stats;
	pthread_t thread;
};

/* The fields of a record as they are hashed (and read back by the verifier). */
struct sg_audit_row {
	uint64_t seq;
	int64_t time_us;
	const unsigned char *client;
	size_t client_len;
	int64_t op;
	uint64_t req_id;
	const unsigned char *key;
	size_t key_len;
	int64_t hash_alg;
	const unsigned char *digest;
	size_t digest_len;
	int64_t pad;
	const unsigned char *sig_hash; /* NULL: no signature; else 32 bytes */
	int64_t result;
	const unsigned char *artifact;
	size_t artifact_len;
	int has_size;
	uint64_t size;
	const unsigned char *job;
	size_t job_len;
	const unsigned char *prev_hash; /* 32 bytes */
};

static int64_t
sg_audit_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static unsigned char *
sg_audit_put_len(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return p + 4;
}

static unsigned char *
sg_audit_put_int(unsigned char *p, uint64_t v)
{
	int i;

	p = sg_audit_put_len(p, 8);
	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
	return p + 8;
}

static unsigned char *
sg_audit_put_bytes(unsigned char *p, const unsigned char *b, size_t len)
{
	p = sg_audit_put_len(p, (uint32_t)len);
	if (len > 0)
		memcpy(p, b, len);
	return p + len;
}

/*
 * Writes the canonical encoding of row into buf (SG_AUDIT_ENC_MAX bytes)
 * and returns its length.  The caller has checked every length against its
 * limit, which is what bounds SG_AUDIT_ENC_MAX.
 */
static size_t
sg_audit_encode(const struct sg_audit_row *row, unsigned char *buf)
{
	unsigned char *p = buf;

	memcpy(p, SG_AUDIT_DOMAIN, SG_AUDIT_DOMAIN_LEN); /* includes the NUL */
	p += SG_AUDIT_DOMAIN_LEN;
	p = sg_audit_put_int(p, row->seq);
	p = sg_audit_put_int(p, (uint64_t)row->time_us);
	p = sg_audit_put_bytes(p, row->client, row->client_len);
	p = sg_audit_put_int(p, (uint64_t)row->op);
	p = sg_audit_put_int(p, row->req_id);
	p = sg_audit_put_bytes(p, row->key, row->key_len);
	p = sg_audit_put_int(p, (uint64_t)row->hash_alg);
	p = sg_audit_put_bytes(p, row->digest, row->digest_len);
	p = sg_audit_put_int(p, (uint64_t)row->pad);
	if (row->sig_hash != NULL)
		p = sg_audit_put_bytes(p, row->sig_hash, 32);
	else
		p = sg_audit_put_len(p, SG_AUDIT_NULL_LEN);
	p = sg_audit_put_int(p, (uint64_t)row->result);
	p = sg_audit_put_bytes(p, row->artifact, row->artifact_len);
	if (row->has_size)
		p = sg_audit_put_int(p, row->size);
	else
		p = sg_audit_put_len(p, SG_AUDIT_NULL_LEN);
	p = sg_audit_put_bytes(p, row->job, row->job_len);
	p = sg_audit_put_bytes(p, row->prev_hash, 32);
	return (size_t)(p - buf);
}

/* SHA-256 of p[0..len) into out with a reusable context; 0 or SG_ERR_INTERNAL. */
static int
sg_audit_sha256(EVP_MD_CTX *ctx, const EVP_MD *md, const void *p, size_t len, unsigned char out[32])
{
	unsigned int olen = 0;

	if (EVP_DigestInit_ex2(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, p, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &olen) != 1 || olen != 32)
		return SG_ERR_INTERNAL;
	return 0;
}

/* Hash of a record: SHA-256 of its canonical encoding. */
static int
sg_audit_row_hash(EVP_MD_CTX *ctx, const EVP_MD *md, const struct sg_audit_row *row,
                  unsigned char out[32])
{
	unsigned char buf[SG_AUDIT_ENC_MAX];

	return sg_audit_sha256(ctx, md, buf, sg_audit_encode(row, buf), out);
}

/* Reads one integer pragma; 0 or the SQLite result code. */
static int
sg_audit_pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		goto out;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		goto out;
	*out = sqlite3_column_int64(st, 0);
	rc = SQLITE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

/* Maps a SQLite failure at open to our codes: not a database is corruption, the rest I/O. */
static int
sg_audit_open_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return SG_ERR_AUDIT_CORRUPT;
	default:
		return SG_ERR_IO;
	}
}

/*
 * Checks that db holds our schema (application_id and user_version), or is
 * empty and create is set, in which case the schema is created.  0,
 * SG_ERR_IO or SG_ERR_AUDIT_CORRUPT with why.
 */
static int
sg_audit_check_schema(sqlite3 *db, int create, char *why, size_t why_len)
{
	int64_t app_id = 0, version = 0, ntables = 0;
	char sql[128];
	int rc, r = SG_ERR_AUDIT_CORRUPT;

	if ((rc = sg_audit_pragma_int(db, "PRAGMA application_id", &app_id)) != SQLITE_OK ||
	    (rc = sg_audit_pragma_int(db, "PRAGMA user_version", &version)) != SQLITE_OK ||
	    (rc = sg_audit_pragma_int(db, "SELECT count(*) FROM sqlite_master", &ntables)) !=
	        SQLITE_OK) {
		r = sg_audit_open_err(rc);
		sg_whyf(why, why_len, "cannot read the database: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (app_id == 0 && version == 0 && ntables == 0) {
		if (!create) {
			sg_whyf(why, why_len, "empty database, not a signet audit log");
			goto out;
		}
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d;",
		         SG_AUDIT_APP_ID, SG_AUDIT_SCHEMA_VERSION);
		if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK ||
		    (rc = sqlite3_exec(db, sg_audit_schema, NULL, NULL, NULL)) != SQLITE_OK ||
		    (rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK ||
		    (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
			sg_whyf(why, why_len, "cannot create the schema: %s", sqlite3_errmsg(db));
			if (!sqlite3_get_autocommit(db))
				sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			r = SG_ERR_IO;
			goto out;
		}
		r = 0;
		goto out;
	}
	if (app_id != SG_AUDIT_APP_ID) {
		sg_whyf(why, why_len,
		        "not a signet audit database (application_id 0x%llx, %lld tables)",
		        (unsigned long long)app_id, (long long)ntables);
		goto out;
	}
	if ((version == 1 || version == 2) && create) {
		/* The records are untouched: the chain of an older log stays valid. */
		if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK ||
		    (version == 1 && (rc = sqlite3_exec(db, sg_audit_migrate_1_2, NULL, NULL,
		                                        NULL)) != SQLITE_OK) ||
		    (rc = sqlite3_exec(db, sg_audit_migrate_2_3, NULL, NULL, NULL)) != SQLITE_OK ||
		    (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
			sg_whyf(why, why_len, "cannot upgrade the schema to version %d: %s",
			        SG_AUDIT_SCHEMA_VERSION, sqlite3_errmsg(db));
			if (!sqlite3_get_autocommit(db))
				sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			r = SG_ERR_IO;
			goto out;
		}
		version = SG_AUDIT_SCHEMA_VERSION;
	}
	/* Reading (create == 0) accepts every version whose records we know. */
	if (version != SG_AUDIT_SCHEMA_VERSION && !((version == 1 || version == 2) && !create)) {
		sg_whyf(why, why_len, "unsupported audit schema version %lld (this build reads %d)",
		        (long long)version, SG_AUDIT_SCHEMA_VERSION);
		goto out;
	}
	r = 0;
out:
	return r;
}

/*
 * Reads the last record (seq, hash) through the prepared statement st.
 * An empty log gives seq 0 and a zero hash.  0, or SG_ERR_IO /
 * SG_ERR_AUDIT_CORRUPT (hash not 32 bytes).
 */
static int
sg_audit_read_head(sqlite3_stmt *st, uint64_t *seq, unsigned char hash[32])
{
	int rc, r = SG_ERR_IO;

	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		*seq = 0;
		memset(hash, 0, 32);
		r = 0;
		goto out;
	}
	if (rc != SQLITE_ROW)
		goto out;
	if (sqlite3_column_type(st, 0) != SQLITE_INTEGER || sqlite3_column_int64(st, 0) < 1 ||
	    sqlite3_column_type(st, 1) != SQLITE_BLOB || sqlite3_column_bytes(st, 1) != 32) {
		r = SG_ERR_AUDIT_CORRUPT;
		goto out;
	}
	*seq = (uint64_t)sqlite3_column_int64(st, 0);
	memcpy(hash, sqlite3_column_blob(st, 1), 32);
	r = 0;
out:
	sqlite3_reset(st);
	return r;
}

int
sg_audit_open(const char *path, const char *vfs, struct sg_audit **out, char *why, size_t why_len)
{
	struct sg_audit *a = NULL;
	const char *mode;
	sqlite3_stmt *st = NULL;
	int rc, r = SG_ERR_INTERNAL;
	int mtx_init = 0, cond_init = 0;

	*out = NULL;
	sg_whyf(why, why_len, "internal error");
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		r = SG_ERR_NOMEM;
		sg_whyf(why, why_len, "out of memory");
		goto out;
	}
	a->efd = -1;
	a->writable = 1;
	if (pthread_mutex_init(&a->mtx, NULL) != 0)
		goto out;
	mtx_init = 1;
	if (pthread_cond_init(&a->cond, NULL) != 0)
		goto out;
	cond_init = 1;
	if ((a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		sg_whyf(why, why_len, "eventfd: %s", strerror(errno));
		goto out;
	}
	if ((a->sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL)) == NULL ||
	    (a->wctx = EVP_MD_CTX_new()) == NULL) {
		sg_whyf(why, why_len, "cannot set up SHA-256");
		goto out;
	}

	/* The writer connection; NOMUTEX: each connection is used by one thread. */
	rc = sqlite3_open_v2(path, &a->wdb,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs);
	if (rc != SQLITE_OK) {
		r = sg_audit_open_err(rc);
		sg_whyf(why, why_len, "cannot open %s: %s", path,
		        a->wdb != NULL ? sqlite3_errmsg(a->wdb) : sqlite3_errstr(rc));
		goto out;
	}
	sqlite3_extended_result_codes(a->wdb, 1);
	sqlite3_busy_timeout(a->wdb, SG_AUDIT_BUSY_MS);
	if ((r = sg_audit_check_schema(a->wdb, 1, why, why_len)) != 0)
		goto out;
	r = SG_ERR_IO;
	if ((rc = sqlite3_prepare_v2(a->wdb, "PRAGMA journal_mode = WAL", -1, &st, NULL)) !=
	        SQLITE_OK ||
	    (rc = sqlite3_step(st)) != SQLITE_ROW ||
	    (mode = (const char *)sqlite3_column_text(st, 0)) == NULL || strcmp(mode, "wal") != 0) {
		sg_whyf(why, why_len, "cannot switch %s to WAL: %s", path, sqlite3_errmsg(a->wdb));
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = sqlite3_exec(a->wdb, "PRAGMA synchronous = FULL", NULL, NULL, NULL)) !=
	    SQLITE_OK) {
		sg_whyf(why, why_len, "PRAGMA synchronous: %s", sqlite3_errmsg(a->wdb));
		goto out;
	}
	/* A statement that does not prepare means the tables are not the ones we made. */
	if (sqlite3_prepare_v3(a->wdb, "BEGIN IMMEDIATE", -1, SQLITE_PREPARE_PERSISTENT,
	                       &a->st_begin, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(a->wdb, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &a->st_commit,
	                       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(a->wdb, "ROLLBACK", -1, SQLITE_PREPARE_PERSISTENT, &a->st_rollback,
	                       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(a->wdb, sg_audit_sql_insert, -1, SQLITE_PREPARE_PERSISTENT,
	                       &a->st_insert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(a->wdb, sg_audit_sql_idem_insert, -1, SQLITE_PREPARE_PERSISTENT,
	                       &a->st_idem, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(a->wdb, sg_audit_sql_idem_prune, -1, SQLITE_PREPARE_PERSISTENT,
	                       &a->st_prune, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(a->wdb, sg_audit_sql_head, -1, SQLITE_PREPARE_PERSISTENT,
	                       &a->st_head, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(a->wdb, sg_audit_sql_cert_insert, -1, SQLITE_PREPARE_PERSISTENT,
	                       &a->st_cert_insert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(a->wdb, sg_audit_sql_cert_revoke, -1, SQLITE_PREPARE_PERSISTENT,
	                       &a->st_cert_revoke, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(a->wdb, sg_audit_sql_crl_store, -1, SQLITE_PREPARE_PERSISTENT,
	                       &a->st_crl_store, NULL) != SQLITE_OK) {
		r = SG_ERR_AUDIT_CORRUPT;
		sg_whyf(why, why_len, "audit schema does not match: %s", sqlite3_errmsg(a->wdb));
		goto out;
	}
	if ((r = sg_audit_read_head(a->st_head, &a->head_seq, a->head_hash)) != 0) {
		sg_whyf(why, why_len, "cannot read the last record: %s",
		        r == SG_ERR_AUDIT_CORRUPT ? "malformed seq or hash"
		                                  : sqlite3_errmsg(a->wdb));
		goto out;
	}

	/* The front's read connection, opened once the file is in WAL mode. */
	rc = sqlite3_open_v2(path, &a->rdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, vfs);
	if (rc != SQLITE_OK) {
		r = SG_ERR_IO;
		sg_whyf(why, why_len, "cannot open %s for reading: %s", path,
		        a->rdb != NULL ? sqlite3_errmsg(a->rdb) : sqlite3_errstr(rc));
		goto out;
	}
	sqlite3_busy_timeout(a->rdb, SG_AUDIT_BUSY_MS);
	if (sqlite3_prepare_v3(a->rdb, sg_audit_sql_idem_lookup, -1, SQLITE_PREPARE_PERSISTENT,
	                       &a->st_lookup, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(a->rdb, sg_audit_sql_cert_get, -1, SQLITE_PREPARE_PERSISTENT,
	                       &a->st_cert_get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(a->rdb, sg_audit_sql_revoked, -1, SQLITE_PREPARE_PERSISTENT,
	                       &a->st_revoked, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(a->rdb, sg_audit_sql_crl_get, -1, SQLITE_PREPARE_PERSISTENT,
	                       &a->st_crl_get, NULL) != SQLITE_OK) {
		r = SG_ERR_IO;
		sg_whyf(why, why_len, "cannot prepare the idempotency lookup: %s",
		        sqlite3_errmsg(a->rdb));
		goto out;
	}
	/* The counters connection: writes, each one durable before it returns. */
	rc = sqlite3_open_v2(path, &a->cdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs);
	if (rc != SQLITE_OK) {
		r = SG_ERR_IO;
		sg_whyf(why, why_len, "cannot open %s for the counters: %s", path,
		        a->cdb != NULL ? sqlite3_errmsg(a->cdb) : sqlite3_errstr(rc));
		goto out;
	}
	sqlite3_extended_result_codes(a->cdb, 1);
	sqlite3_busy_timeout(a->cdb, SG_AUDIT_BUSY_MS);
	if (sqlite3_exec(a->cdb, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(a->cdb, sg_audit_sql_counter_get, -1, SQLITE_PREPARE_PERSISTENT,
	                       &a->st_cget, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(a->cdb, sg_audit_sql_counter_set, -1, SQLITE_PREPARE_PERSISTENT,
	                       &a->st_cset, NULL) != SQLITE_OK) {
		r = SG_ERR_IO;
		sg_whyf(why, why_len, "cannot prepare the counters: %s", sqlite3_errmsg(a->cdb));
		goto out;
	}
	a->next_prune_us = sg_audit_now_us();
	sg_whyf(why, why_len, "ok");
	*out = a;
	a = NULL;
	r = 0;
out:
	sqlite3_finalize(st);
	if (a != NULL) {
		if (!cond_init || !mtx_init) {
			/* sg_audit_close() needs both; release by hand. */
			if (mtx_init)
				pthread_mutex_destroy(&a->mtx);
			free(a);
		} else {
			sg_audit_close(a);
		}
	}
	return r;
}

/* Runs a statement that returns no row and resets it; SQLITE_OK or the error. */
static int
sg_audit_exec(sqlite3_stmt *st)
{
	int rc;

	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static size_t
sg_audit_strlen(const char *s, size_t cap)
{
	return strnlen(s, cap);
}

/* The row of rec as it is hashed and stored. */
static void
sg_audit_row_of(const struct sg_audit_record *rec, const unsigned char *sig_hash,
                const unsigned char *prev, struct sg_audit_row *row)
{
	row->seq = rec->seq;
	row->time_us = rec->time_us;
	row->client = (const unsigned char *)rec->client;
	row->client_len = sg_audit_strlen(rec->client, sizeof(rec->client));
	row->op = rec->op;
	row->req_id = rec->req_id;
	row->key = (const unsigned char *)rec->key;
	row->key_len = sg_audit_strlen(rec->key, sizeof(rec->key));
	row->hash_alg = rec->hash;
	row->digest = rec->digest;
	row->digest_len = rec->digest_len;
	row->pad = rec->pad;
	row->sig_hash = rec->has_sig ? sig_hash : NULL;
	row->result = rec->result;
	row->artifact = (const unsigned char *)rec->meta.artifact;
	row->artifact_len = sg_audit_strlen(rec->meta.artifact, sizeof(rec->meta.artifact));
	row->has_size = rec->meta.has_size != 0;
	row->size = rec->meta.size;
	row->job = (const unsigned char *)rec->meta.job;
	row->job_len = sg_audit_strlen(rec->meta.job, sizeof(rec->meta.job));
	row->prev_hash = prev;
}

/* Binds row and its hash to the insert statement; SQLITE_OK or the error. */
static int
sg_audit_bind_row(sqlite3_stmt *st, const struct sg_audit_row *row, const unsigned char *hash)
{
	int rc;

	if ((rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)row->seq)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 2, row->time_us)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(st, 3, (const char *)row->client, (int)row->client_len,
	                            SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 4, row->op)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 5, (sqlite3_int64)row->req_id)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(st, 6, (const char *)row->key, (int)row->key_len,
	                            SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 7, row->hash_alg)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(st, 8, row->digest, (int)row->digest_len, SQLITE_STATIC)) !=
	        SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 9, row->pad)) != SQLITE_OK ||
	    (rc = (row->sig_hash != NULL
	               ? sqlite3_bind_blob(st, 10, row->sig_hash, 32, SQLITE_STATIC)
	               : sqlite3_bind_null(st, 10))) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 11, row->result)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(st, 12, (const char *)row->artifact, (int)row->artifact_len,
	                            SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = (row->has_size ? sqlite3_bind_int64(st, 13, (sqlite3_int64)row->size)
	                         : sqlite3_bind_null(st, 13))) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(st, 14, (const char *)row->job, (int)row->job_len,
	                            SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(st, 15, row->prev_hash, 32, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(st, 16, hash, 32, SQLITE_STATIC)) != SQLITE_OK)
		return rc;
	return SQLITE_OK;
}

/* Binds the idempotency entry of a signed, durable-to-be record. */
static int
sg_audit_bind_idem(sqlite3_stmt *st, const struct sg_audit_record *rec, int64_t now)
{
	const struct sg_sign_rep *rep = &rec->rep;
	int rc;

	if ((rc = sqlite3_bind_text(st, 1, rec->client,
	                            (int)sg_audit_strlen(rec->client, sizeof(rec->client)),
	                            SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(st, 2, rec->idem, (int)rec->idem_len, SQLITE_STATIC)) !=
	        SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 3, now)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(st, 4, rec->req_fp, 32, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(st, 5, rep->key,
	                            (int)sg_audit_strlen(rep->key, sizeof(rep->key)),
	                            SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 6, rep->alg)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 7, rep->hash)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 8, rep->pad)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(st, 9, rep->sig, (int)rep->sig_len, SQLITE_STATIC)) !=
	        SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 10, (sqlite3_int64)rep->record)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(st, 11, rep->record_hash, 32, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 12, now - SG_AUDIT_IDEM_RETENTION_US)) != SQLITE_OK ||
	    (rc = (rec->out_len > 0
	               ? sqlite3_bind_blob(st, 13, rec->out, (int)rec->out_len, SQLITE_STATIC)
	               : sqlite3_bind_null(st, 13))) != SQLITE_OK)
		return rc;
	return SQLITE_OK;
}

/*
 * The state change of rec, in the group's transaction.  A revocation that
 * finds the certificate revoked already changes nothing (the front refuses
 * such requests before; this keeps a record from poisoning its group).
 */
static int
sg_audit_apply_state(struct sg_audit *a, const struct sg_audit_record *rec)
{
	const struct sg_audit_cert *c = rec->cert;
	const struct sg_audit_crl *l = rec->crl;
	sqlite3_stmt *st;
	int rc;

	switch (rec->state) {
	case SG_AUDIT_STATE_CERT_ISSUED:
		st = a->st_cert_insert;
		if ((rc = sqlite3_bind_blob(st, 1, c->serial, (int)c->serial_len, SQLITE_STATIC)) !=
		        SQLITE_OK ||
		    (rc = sqlite3_bind_text(st, 2, c->ca, -1, SQLITE_STATIC)) != SQLITE_OK ||
		    (rc = sqlite3_bind_text(st, 3, c->profile, -1, SQLITE_STATIC)) != SQLITE_OK ||
		    (rc = sqlite3_bind_text(st, 4, c->subject, -1, SQLITE_STATIC)) != SQLITE_OK ||
		    (rc = sqlite3_bind_text(st, 5, c->requester, -1, SQLITE_STATIC)) != SQLITE_OK ||
		    (rc = sqlite3_bind_int64(st, 6, c->not_before)) != SQLITE_OK ||
		    (rc = sqlite3_bind_int64(st, 7, c->not_after)) != SQLITE_OK ||
		    (rc = sqlite3_bind_int(st, 8, c->is_ca)) != SQLITE_OK ||
		    (rc = sqlite3_bind_blob(st, 9, c->der, (int)c->der_len, SQLITE_STATIC)) !=
		        SQLITE_OK ||
		    (rc = sqlite3_bind_int64(st, 10, (sqlite3_int64)rec->seq)) != SQLITE_OK ||
		    (rc = sqlite3_bind_text(st, 11, c->sans, -1, SQLITE_STATIC)) != SQLITE_OK)
			break;
		rc = sg_audit_exec(st);
		break;
	case SG_AUDIT_STATE_CERT_REVOKED:
		st = a->st_cert_revoke;
		if ((rc = sqlite3_bind_blob(st, 1, c->serial, (int)c->serial_len, SQLITE_STATIC)) !=
		        SQLITE_OK ||
		    (rc = sqlite3_bind_int64(st, 2, c->revoked_at)) != SQLITE_OK ||
		    (rc = sqlite3_bind_int(st, 3, c->reason)) != SQLITE_OK)
			break;
		rc = sg_audit_exec(st);
		break;
	case SG_AUDIT_STATE_CRL:
		st = a->st_crl_store;
		if ((rc = sqlite3_bind_text(st, 1, l->ca, -1, SQLITE_STATIC)) != SQLITE_OK ||
		    (rc = sqlite3_bind_int64(st, 2, (sqlite3_int64)l->number)) != SQLITE_OK ||
		    (rc = sqlite3_bind_int64(st, 3, l->this_update)) != SQLITE_OK ||
		    (rc = sqlite3_bind_int64(st, 4, l->next_update)) != SQLITE_OK ||
		    (rc = sqlite3_bind_blob(st, 5, l->der, (int)l->der_len, SQLITE_STATIC)) !=
		        SQLITE_OK)
			break;
		rc = sg_audit_exec(st);
		break;
	case SG_AUDIT_STATE_NONE:
	default:
		return SQLITE_OK;
	}
	sqlite3_clear_bindings(st);
	return rc;
}

/*
 * Writes the group (n records linked by next) in one transaction and sets
 * each record's status, seq, record_hash and time_us.  On any failure the
 * transaction is rolled back, every record gets SG_ERR_AUDIT_UNAVAILABLE and
 * the chain head stays at the last durable record.  Writer thread only.
 */
static int
sg_audit_commit_group(struct sg_audit *a, struct sg_audit_record *group, size_t n)
{
	struct sg_audit_record *rec;
	struct sg_audit_row row;
	unsigned char prev[32], sig_hash[32];
	const char *what = "BEGIN";
	uint64_t seq;
	int64_t now;
	int prune, pruned_all = 1;
	int rc = SQLITE_OK, r = SG_ERR_AUDIT_UNAVAILABLE;

	now = sg_audit_now_us();
	if ((rc = sg_audit_exec(a->st_begin)) != SQLITE_OK)
		goto out;
	if (a->resync) {
		/* A failed COMMIT may leave doubt about what is durable: ask the database. */
		what = "reading the last record";
		if (sg_audit_read_head(a->st_head, &a->head_seq, a->head_hash) != 0) {
			rc = sqlite3_extended_errcode(a->wdb);
			goto out;
		}
	}
	seq = a->head_seq;
	memcpy(prev, a->head_hash, sizeof(prev));
	for (rec = group; rec != NULL; rec = rec->next) {
		rec->seq = ++seq;
		rec->time_us = now;
		what = "hashing";
		rc = SQLITE_OK;
		if (rec->has_sig && sg_audit_sha256(a->wctx, a->sha256, rec->rep.sig,
		                                    rec->rep.sig_len, sig_hash) != 0)
			goto out;
		sg_audit_row_of(rec, sig_hash, prev, &row);
		if (sg_audit_row_hash(a->wctx, a->sha256, &row, rec->record_hash) != 0)
			goto out;
		what = "inserting a record";
		if ((rc = sg_audit_bind_row(a->st_insert, &row, rec->record_hash)) != SQLITE_OK ||
		    (rc = sg_audit_exec(a->st_insert)) != SQLITE_OK)
			goto out;
		if (rec->has_sig) {
			rec->rep.record = rec->seq;
			memcpy(rec->rep.record_hash, rec->record_hash, 32);
			what = "storing an idempotency entry";
			if (rec->idem_len > 0 &&
			    ((rc = sg_audit_bind_idem(a->st_idem, rec, now)) != SQLITE_OK ||
			     (rc = sg_audit_exec(a->st_idem)) != SQLITE_OK))
				goto out;
		}
		what = "storing certificate state";
		if (rec->state != SG_AUDIT_STATE_NONE &&
		    (rc = sg_audit_apply_state(a, rec)) != SQLITE_OK)
			goto out;
		memcpy(prev, rec->record_hash, sizeof(prev));
	}
	/* Pruning rides in the group's transaction, so it costs no fsync of its own. */
	prune = a->prune_more || now >= a->next_prune_us;
	if (prune) {
		what = "pruning idempotency entries";
		if ((rc = sqlite3_bind_int64(a->st_prune, 1, now - SG_AUDIT_IDEM_RETENTION_US)) !=
		        SQLITE_OK ||
		    (rc = sqlite3_bind_int64(a->st_prune, 2, SG_AUDIT_PRUNE_BATCH)) != SQLITE_OK ||
		    (rc = sg_audit_exec(a->st_prune)) != SQLITE_OK)
			goto out;
		pruned_all = sqlite3_changes(a->wdb) < SG_AUDIT_PRUNE_BATCH;
	}
	what = "COMMIT";
	if ((rc = sg_audit_exec(a->st_commit)) != SQLITE_OK)
		goto out;
	a->head_seq = seq;
	memcpy(a->head_hash, prev, sizeof(prev));
	a->resync = 0;
	if (prune) {
		a->prune_more = !pruned_all;
		a->next_prune_us = now + SG_AUDIT_PRUNE_INTERVAL_US;
	}
	r = 0;
out:
	sqlite3_clear_bindings(a->st_insert);
	sqlite3_clear_bindings(a->st_idem);
	if (r != 0) {
		sg_error("audit: group of %zu records not committed (%s): %s (%d); signing "
		         "suspended until a commit succeeds",
		         n, what, rc != SQLITE_OK ? sqlite3_errstr(rc) : "internal error", rc);
		if (!sqlite3_get_autocommit(a->wdb) &&
		    (rc = sg_audit_exec(a->st_rollback)) != SQLITE_OK)
			sg_error("audit: ROLLBACK failed: %s (%d)", sqlite3_errstr(rc), rc);
		a->resync = 1;
	}
	for (rec = group; rec != NULL; rec = rec->next) {
		rec->status = r;
		if (r != 0) {
			rec->seq = 0;
			memset(rec->record_hash, 0, sizeof(rec->record_hash));
			if (rec->has_sig) {
				rec->rep.record = 0;
				memset(rec->rep.record_hash, 0, sizeof(rec->rep.record_hash));
			}
		}
	}
	return r;
}

/* Appends first..last to the completed list and wakes the front.  Caller holds mtx. */
static void
sg_audit_complete_locked(struct sg_audit *a, struct sg_audit_record *first,
                         struct sg_audit_record *last)
{
	uint64_t one = 1;

	last->next = NULL;
	if (a->c_tail != NULL)
		a->c_tail->next = first;
	else
		a->c_head = first;
	a->c_tail = last;
	/* Written under mtx so that take_completed() cannot clear a newer wake-up. */
	if (write(a->efd, &one, sizeof(one)) != (ssize_t)sizeof(one) && errno != EAGAIN)
		sg_error("audit: eventfd write: %s", strerror(errno));
}

/*
 * The writer: each round takes everything queued (up to a group's cap) and
 * commits it; what arrives meanwhile waits for the next round.  Returns
 * once stopping is set and the queue is empty.
 */
static void *
sg_audit_writer_main(void *arg)
{
	struct sg_audit *a = arg;
	struct sg_audit_record *group, *last;
	size_t n;
	int r;

	pthread_mutex_lock(&a->mtx);
	for (;;) {
		while (a->q_head == NULL && !a->stopping)
			pthread_cond_wait(&a->cond, &a->mtx);
		if (a->q_head == NULL)
			break;
		group = last = a->q_head;
		for (n = 1; last->next != NULL && n < SG_AUDIT_GROUP_MAX; n++)
			last = last->next;
		a->q_head = last->next;
		if (a->q_head == NULL)
			a->q_tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&a->mtx);

		r = sg_audit_commit_group(a, group, n);

		pthread_mutex_lock(&a->mtx);
		if (r == 0) {
			a->stats.commits++;
			a->stats.records += n;
			a->stats.last_commit_us = (uint64_t)group->time_us;
			if (n > a->stats.max_group)
				a->stats.max_group = n;
		} else {
			a->stats.failures++;
		}
		a->writable = r == 0;
		sg_audit_complete_locked(a, group, last);
	}
	pthread_mutex_unlock(&a->mtx);
	return NULL;
}

int
sg_audit_start(struct sg_audit *a)
{
	sigset_t all, old;
	int r = SG_ERR_INTERNAL;

	pthread_mutex_lock(&a->mtx);
	if (a->started || a->stopped)
		goto out;
	/* The writer takes no signals: they stay with the daemon's own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&a->thread, NULL, sg_audit_writer_main, a) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		goto out;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	a->started = 1;
	r = 0;
out:
	pthread_mutex_unlock(&a->mtx);
	return r;
}

/* 1 if every length of rec fits its array and every string is terminated. */
/* The state change a record carries, if any, is complete and within bounds. */
static int
sg_audit_state_valid(const struct sg_audit_record *rec)
{
	const struct sg_audit_cert *c = rec->cert;
	const struct sg_audit_crl *l = rec->crl;

	switch (rec->state) {
	case SG_AUDIT_STATE_NONE:
		return 1;
	case SG_AUDIT_STATE_CERT_ISSUED:
	case SG_AUDIT_STATE_CERT_REVOKED:
		return c != NULL && c->serial_len >= 1 && c->serial_len <= SG_SERIAL_MAX &&
		       memchr(c->ca, '\0', sizeof(c->ca)) != NULL &&
		       memchr(c->profile, '\0', sizeof(c->profile)) != NULL &&
		       memchr(c->subject, '\0', sizeof(c->subject)) != NULL &&
		       memchr(c->sans, '\0', sizeof(c->sans)) != NULL &&
		       memchr(c->requester, '\0', sizeof(c->requester)) != NULL &&
		       (rec->state == SG_AUDIT_STATE_CERT_REVOKED ||
		        (c->der != NULL && c->der_len > 0 && c->der_len <= INT_MAX));
	case SG_AUDIT_STATE_CRL:
		return l != NULL && memchr(l->ca, '\0', sizeof(l->ca)) != NULL && l->der != NULL &&
		       l->der_len > 0 && l->der_len <= INT_MAX;
	default:
		return 0;
	}
}

static int
sg_audit_record_valid(const struct sg_audit_record *rec)
{
	return sg_audit_strlen(rec->client, sizeof(rec->client)) < sizeof(rec->client) &&
	       sg_audit_strlen(rec->key, sizeof(rec->key)) < sizeof(rec->key) &&
	       sg_audit_strlen(rec->meta.artifact, sizeof(rec->meta.artifact)) <
	           sizeof(rec->meta.artifact) &&
	       sg_audit_strlen(rec->meta.job, sizeof(rec->meta.job)) < sizeof(rec->meta.job) &&
	       rec->digest_len <= sizeof(rec->digest) && rec->idem_len <= sizeof(rec->idem) &&
	       (!rec->has_sig ||
	        (rec->rep.sig_len <= sizeof(rec->rep.sig) &&
	         sg_audit_strlen(rec->rep.key, sizeof(rec->rep.key)) < sizeof(rec->rep.key))) &&
	       sg_audit_state_valid(rec);
}

void
sg_audit_submit(struct sg_audit *a, struct sg_audit_record *rec)
{
	int valid = sg_audit_record_valid(rec);

	rec->next = NULL;
	rec->seq = 0;
	memset(rec->record_hash, 0, sizeof(rec->record_hash));
	pthread_mutex_lock(&a->mtx);
	if (!valid || a->stopped) {
		rec->status = valid ? SG_ERR_AUDIT_UNAVAILABLE : SG_ERR_INVALID_ARG;
		rec->time_us = sg_audit_now_us();
		sg_audit_complete_locked(a, rec, rec);
	} else {
		if (a->q_tail != NULL) {
			a->q_tail->next = rec;
		} else {
			a->q_head = rec;
			/* The writer only sleeps on an empty queue. */
			pthread_cond_signal(&a->cond);
		}
		a->q_tail = rec;
	}
	pthread_mutex_unlock(&a->mtx);
}

int
sg_audit_event_fd(const struct sg_audit *a)
{
	return a->efd;
}

struct sg_audit_record *
sg_audit_take_completed(struct sg_audit *a)
{
	struct sg_audit_record *list;
	uint64_t v;

	pthread_mutex_lock(&a->mtx);
	if (read(a->efd, &v, sizeof(v)) != (ssize_t)sizeof(v) && errno != EAGAIN)
		sg_error("audit: eventfd read: %s", strerror(errno));
	list = a->c_head;
	a->c_head = a->c_tail = NULL;
	pthread_mutex_unlock(&a->mtx);
	return list;
}

/* The mutex guards state that reading does not change; hence the cast. */
int
sg_audit_writable(const struct sg_audit *a)
{
	struct sg_audit *m = (struct sg_audit *)a;
	int w;

	pthread_mutex_lock(&m->mtx);
	w = m->writable;
	pthread_mutex_unlock(&m->mtx);
	return w;
}

void
sg_audit_stats(const struct sg_audit *a, struct sg_audit_stats *st)
{
	struct sg_audit *m = (struct sg_audit *)a;

	pthread_mutex_lock(&m->mtx);
	*st = m->stats;
	pthread_mutex_unlock(&m->mtx);
}

int
sg_audit_idem_lookup(struct sg_audit *a, const char *client, const unsigned char *idem,
                     size_t idem_len, struct sg_sign_rep *rep, unsigned char req_fp[32],
                     unsigned char **out, size_t *out_len)
{
	sqlite3_stmt *st = a->st_lookup;
	int64_t alg, hash, pad, record;
	size_t key_len, sig_len, blob_len;
	int rc, r = SG_ERR_IO;

	*out = NULL;
	*out_len = 0;
	if (idem_len > SG_IDEM_MAX || strlen(client) > SG_NAME_MAX) {
		r = SG_ERR_NOT_FOUND; /* nothing that long is ever stored */
		goto out;
	}
	if ((rc = sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(st, 2, idem_len > 0 ? (const void *)idem : (const void *)"",
	                            (int)idem_len, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(st, 3, sg_audit_now_us() - SG_AUDIT_IDEM_RETENTION_US)) !=
	        SQLITE_OK) {
		sg_error("audit: idempotency lookup: %s", sqlite3_errstr(rc));
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		sg_error("audit: idempotency lookup: %s", sqlite3_errmsg(a->rdb));
		goto out;
	}
	key_len = (size_t)sqlite3_column_bytes(st, 1);
	sig_len = (size_t)sqlite3_column_bytes(st, 5);
	alg = sqlite3_column_int64(st, 2);
	hash = sqlite3_column_int64(st, 3);
	pad = sqlite3_column_int64(st, 4);
	record = sqlite3_column_int64(st, 6);
	if (sqlite3_column_type(st, 0) != SQLITE_BLOB || sqlite3_column_bytes(st, 0) != 32 ||
	    sqlite3_column_type(st, 1) != SQLITE_TEXT || key_len > SG_NAME_MAX ||
	    alg < SG_KEYALG_NONE || alg > SG_KEYALG_RSA_4096 || hash < SG_HASH_NONE ||
	    hash > SG_HASH_SHA512 || pad < SG_PAD_NONE || pad > SG_PAD_PSS ||
	    sqlite3_column_type(st, 5) != SQLITE_BLOB || sig_len > SG_SIG_MAX || record < 1 ||
	    sqlite3_column_type(st, 7) != SQLITE_BLOB || sqlite3_column_bytes(st, 7) != 32 ||
	    (sqlite3_column_type(st, 8) != SQLITE_NULL &&
	     (sqlite3_column_type(st, 8) != SQLITE_BLOB || sqlite3_column_bytes(st, 8) < 1 ||
	      (size_t)sqlite3_column_bytes(st, 8) > SG_BLOB_MAX))) {
		sg_error("audit: malformed idempotency entry for client %s", client);
		goto out;
	}
	if (sqlite3_column_type(st, 8) == SQLITE_BLOB) {
		blob_len = (size_t)sqlite3_column_bytes(st, 8);
		if ((*out = malloc(blob_len)) == NULL) {
			r = SG_ERR_NOMEM;
			goto out;
		}
		memcpy(*out, sqlite3_column_blob(st, 8), blob_len);
		*out_len = blob_len;
	}
	memset(rep, 0, sizeof(*rep));
	memcpy(req_fp, sqlite3_column_blob(st, 0), 32);
	memcpy(rep->key, sqlite3_column_text(st, 1), key_len);
	rep->alg = (enum sg_keyalg)alg;
	rep->hash = (enum sg_hash)hash;
	rep->pad = (enum sg_pad)pad;
	if (sig_len > 0)
		memcpy(rep->sig, sqlite3_column_blob(st, 5), sig_len);
	rep->sig_len = sig_len;
	rep->record = (uint64_t)record;
	memcpy(rep->record_hash, sqlite3_column_blob(st, 7), 32);
	rep->replayed = 1;
	r = 0;
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

void
sg_audit_stop(struct sg_audit *a)
{
	int started;

	pthread_mutex_lock(&a->mtx);
	if (a->stopped) {
		pthread_mutex_unlock(&a->mtx);
		return;
	}
	a->stopping = 1;
	started = a->started;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mtx);
	if (started)
		pthread_join(a->thread, NULL);
	else
		sg_audit_writer_main(a); /* never started: commit what was queued here */
	pthread_mutex_lock(&a->mtx);
	a->started = 0;
	a->stopped = 1;
	pthread_mutex_unlock(&a->mtx);
}

void
sg_audit_close(struct sg_audit *a)
{
	if (a == NULL)
		return;
	sg_audit_stop(a);
	sqlite3_finalize(a->st_begin);
	sqlite3_finalize(a->st_commit);
	sqlite3_finalize(a->st_rollback);
	sqlite3_finalize(a->st_insert);
	sqlite3_finalize(a->st_idem);
	sqlite3_finalize(a->st_prune);
	sqlite3_finalize(a->st_head);
	sqlite3_finalize(a->st_lookup);
	sqlite3_finalize(a->st_cert_get);
	sqlite3_finalize(a->st_revoked);
	sqlite3_finalize(a->st_crl_get);
	sqlite3_finalize(a->st_cert_insert);
	sqlite3_finalize(a->st_cert_revoke);
	sqlite3_finalize(a->st_crl_store);
	sqlite3_finalize(a->st_cget);
	sqlite3_finalize(a->st_cset);
	sqlite3_close(a->cdb);
	sqlite3_close_v2(a->rdb);
	sqlite3_close_v2(a->wdb);
	EVP_MD_CTX_free(a->wctx);
	EVP_MD_free(a->sha256);
	if (a->efd != -1)
		close(a->efd);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mtx);
	free(a);
}

/*
 * Reads the current row of the walk statement into row, checking each
 * column's type and length.  Returns NULL or the name of the first column
 * that is malformed.  row points into the statement until its next step.
 */
static const char *
sg_audit_row_read(sqlite3_stmt *st, struct sg_audit_row *row)
{
	/* Column types in walk order; 'n' marks the two that may be NULL. */
	static const struct {
		const char *name;
		int type;
		int nullable;
		int max; /* bytes; -1 for integers, exact 32 for hashes via min */
		int min;
	} cols[] = {
	    {"seq", SQLITE_INTEGER, 0, -1, 0},
	    {"time_us", SQLITE_INTEGER, 0, -1, 0},
	    {"client", SQLITE_TEXT, 0, SG_NAME_MAX, 0},
	    {"op", SQLITE_INTEGER, 0, -1, 0},
	    {"req_id", SQLITE_INTEGER, 0, -1, 0},
	    {"key", SQLITE_TEXT, 0, SG_NAME_MAX, 0},
	    {"hash_alg", SQLITE_INTEGER, 0, -1, 0},
	    {"digest", SQLITE_BLOB, 0, SG_HASH_MAX_LEN, 0},
	    {"pad", SQLITE_INTEGER, 0, -1, 0},
	    {"sig_hash", SQLITE_BLOB, 1, 32, 32},
	    {"result", SQLITE_INTEGER, 0, -1, 0},
	    {"artifact", SQLITE_TEXT, 0, SG_META_ARTIFACT_MAX, 0},
	    {"size", SQLITE_INTEGER, 1, -1, 0},
	    {"job", SQLITE_TEXT, 0, SG_META_JOB_MAX, 0},
	    {"prev_hash", SQLITE_BLOB, 0, 32, 32},
	    {"hash", SQLITE_BLOB, 0, 32, 32},
	};
	const unsigned char *p[16];
	int len[16];
	int i, t;

	for (i = 0; i < 16; i++) {
		p[i] = NULL;
		len[i] = 0;
		t = sqlite3_column_type(st, i);
		if (t == SQLITE_NULL && cols[i].nullable)
			continue;
		if (t != cols[i].type)
			return cols[i].name;
		switch (t) {
		case SQLITE_TEXT:
			p[i] = sqlite3_column_text(st, i);
			len[i] = sqlite3_column_bytes(st, i);
			break;
		case SQLITE_BLOB:
			p[i] = sqlite3_column_blob(st, i);
			len[i] = sqlite3_column_bytes(st, i);
			break;
		default:
			break;
		}
		if (cols[i].max >= 0 && (len[i] > cols[i].max || len[i] < cols[i].min))
			return cols[i].name;
	}
	row->seq = (uint64_t)sqlite3_column_int64(st, 0);
	row->time_us = sqlite3_column_int64(st, 1);
	row->client = p[2];
	row->client_len = (size_t)len[2];
	row->op = sqlite3_column_int64(st, 3);
	row->req_id = (uint64_t)sqlite3_column_int64(st, 4);
	row->key = p[5];
	row->key_len = (size_t)len[5];
	row->hash_alg = sqlite3_column_int64(st, 6);
	row->digest = p[7];
	row->digest_len = (size_t)len[7];
	row->pad = sqlite3_column_int64(st, 8);
	row->sig_hash = p[9];
	row->result = sqlite3_column_int64(st, 10);
	row->artifact = p[11];
	row->artifact_len = (size_t)len[11];
	row->has_size = sqlite3_column_type(st, 12) != SQLITE_NULL;
	row->size = row->has_size ? (uint64_t)sqlite3_column_int64(st, 12) : 0;
	row->job = p[13];
	row->job_len = (size_t)len[13];
	row->prev_hash = p[14];
	return NULL;
}

int
sg_audit_verify(const char *path, uint64_t *count, uint64_t *first_bad, char *why, size_t why_len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	EVP_MD *md = NULL;
	EVP_MD_CTX *ctx = NULL;
	struct sg_audit_row row;
	unsigned char prev[32], h[32];
	const unsigned char *stored;
	const char *bad;
	uint64_t expect = 1;
	int64_t seq;
	int rc, r = SG_ERR_IO;

	*count = 0;
	*first_bad = 0;
	memset(prev, 0, sizeof(prev));
	if ((md = EVP_MD_fetch(NULL, "SHA2-256", NULL)) == NULL ||
	    (ctx = EVP_MD_CTX_new()) == NULL) {
		r = SG_ERR_INTERNAL;
		sg_whyf(why, why_len, "cannot set up SHA-256");
		goto out;
	}
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		sg_whyf(why, why_len, "cannot open %s: %s", path,
		        db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		goto out;
	}
	if ((r = sg_audit_check_schema(db, 0, why, why_len)) != 0) {
		/* Not our database (or none at all) is unreadable, not a broken chain. */
		r = SG_ERR_IO;
		goto out;
	}
	r = SG_ERR_IO;
	if (sqlite3_prepare_v2(db, sg_audit_sql_walk, -1, &st, NULL) != SQLITE_OK) {
		sg_whyf(why, why_len, "audit schema does not match: %s", sqlite3_errmsg(db));
		goto out;
	}
	r = SG_ERR_AUDIT_CORRUPT;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) == SQLITE_INTEGER &&
		    (seq = sqlite3_column_int64(st, 0)) != (int64_t)expect) {
			*first_bad = expect;
			if (seq > (int64_t)expect)
				sg_whyf(why, why_len,
				        "record %llu missing: gap in sequence (next record "
				        "is %lld)",
				        (unsigned long long)expect, (long long)seq);
			else
				sg_whyf(why, why_len,
				        "gap in sequence: record number %lld where %llu was "
				        "expected",
				        (long long)seq, (unsigned long long)expect);
			goto out;
		}
		if ((bad = sg_audit_row_read(st, &row)) != NULL) {
			*first_bad = expect;
			sg_whyf(why, why_len, "record %llu: malformed column %s",
			        (unsigned long long)expect, bad);
			goto out;
		}
		if (memcmp(row.prev_hash, prev, sizeof(prev)) != 0) {
			*first_bad = expect;
			if (expect == 1)
				sg_whyf(why, why_len,
				        "record 1: broken link: prev_hash is not 32 zero bytes");
			else
				sg_whyf(why, why_len,
				        "record %llu: broken link: prev_hash does not match "
				        "the hash of record %llu",
				        (unsigned long long)expect,
				        (unsigned long long)(expect - 1));
			goto out;
		}
		stored = sqlite3_column_blob(st, 15);
		if (sg_audit_row_hash(ctx, md, &row, h) != 0) {
			r = SG_ERR_INTERNAL;
			sg_whyf(why, why_len, "SHA-256 failed");
			goto out;
		}
		if (memcmp(h, stored, sizeof(h)) != 0) {
			*first_bad = expect;
			sg_whyf(why, why_len,
			        "record %llu: hash mismatch: the stored hash does not match "
			        "the record's fields",
			        (unsigned long long)expect);
			goto out;
		}
		memcpy(prev, stored, sizeof(prev));
		expect++;
	}
	if (rc != SQLITE_DONE) {
		r = SG_ERR_IO;
		sg_whyf(why, why_len, "cannot read record %llu: %s", (unsigned long long)expect,
		        sqlite3_errmsg(db));
		goto out;
	}
	*count = expect - 1;
	sg_whyf(why, why_len, "%llu records verified", (unsigned long long)(expect - 1));
	r = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
	EVP_MD_CTX_free(ctx);
	EVP_MD_free(md);
	return r;
}

int
sg_audit_counter_reserve(struct sg_audit *a, const char *name, uint64_t count, uint64_t *first)
{
	sqlite3_int64 next = 1;
	int rc, r = SG_ERR_IO;

	*first = 0;
	if (count == 0 || count > ((uint64_t)1 << 32) || strlen(name) > SG_NAME_MAX)
		return SG_ERR_INVALID_ARG;
	if ((rc = sqlite3_exec(a->cdb, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
		goto out;
	if ((rc = sqlite3_bind_text(a->st_cget, 1, name, -1, SQLITE_STATIC)) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(a->st_cget);
	if (rc == SQLITE_ROW) {
		next = sqlite3_column_int64(a->st_cget, 0);
	} else if (rc != SQLITE_DONE) {
		goto out;
	}
	/* Counters stay below 2^62: far beyond any use, and safe in a signed column. */
	if (next < 1 || (uint64_t)next + count > ((uint64_t)1 << 62)) {
		sg_error("audit: counter %s is out of range (%lld)", name, (long long)next);
		r = SG_ERR_AUDIT_CORRUPT;
		goto out;
	}
	if ((rc = sqlite3_bind_text(a->st_cset, 1, name, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(a->st_cset, 2, next + (sqlite3_int64)count)) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(a->st_cset);
	if (rc != SQLITE_DONE)
		goto out;
	if ((rc = sqlite3_exec(a->cdb, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		goto out;
	*first = (uint64_t)next;
	r = 0;
out:
	sqlite3_reset(a->st_cget);
	sqlite3_reset(a->st_cset);
	sqlite3_clear_bindings(a->st_cget);
	sqlite3_clear_bindings(a->st_cset);
	if (r != 0) {
		if (r == SG_ERR_IO) {
			sg_error("audit: reserving counter %s: %s", name, sqlite3_errmsg(a->cdb));
			r = SG_ERR_AUDIT_UNAVAILABLE;
		}
		if (!sqlite3_get_autocommit(a->cdb))
			sqlite3_exec(a->cdb, "ROLLBACK", NULL, NULL, NULL);
	}
	return r;
}

int
sg_audit_cert_get(struct sg_audit *a, const unsigned char *serial, size_t len,
                  struct sg_audit_cert *out, unsigned char **der)
{
	sqlite3_stmt *st = a->st_cert_get;
	const unsigned char *t;
	size_t n;
	int rc, i, r = SG_ERR_IO;

	*der = NULL;
	memset(out, 0, sizeof(*out));
	if (len == 0 || len > SG_SERIAL_MAX)
		return SG_ERR_NOT_FOUND;
	if ((rc = sqlite3_bind_blob(st, 1, serial, (int)len, SQLITE_STATIC)) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	if (rc != SQLITE_ROW)
		goto out;
	memcpy(out->serial, serial, len);
	out->serial_len = len;
	for (i = 0; i < 4; i++) {
		char *dst = i == 0   ? out->ca
		            : i == 1 ? out->profile
		            : i == 2 ? out->subject
		                     : out->requester;
		size_t cap = i == 2 ? sizeof(out->subject) : sizeof(out->ca);

		if ((t = sqlite3_column_text(st, i)) == NULL)
			goto malformed;
		n = (size_t)sqlite3_column_bytes(st, i);
		if (n >= cap)
			goto malformed;
		memcpy(dst, t, n);
		dst[n] = '\0';
	}
	out->not_before = sqlite3_column_int64(st, 4);
	out->not_after = sqlite3_column_int64(st, 5);
	out->is_ca = sqlite3_column_int(st, 6) != 0;
	n = (size_t)sqlite3_column_bytes(st, 7);
	if (sqlite3_column_type(st, 7) != SQLITE_BLOB || n == 0)
		goto malformed;
	if ((*der = malloc(n)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	memcpy(*der, sqlite3_column_blob(st, 7), n);
	out->der = *der;
	out->der_len = n;
	if (sqlite3_column_type(st, 8) != SQLITE_NULL) {
		out->revoked_at = sqlite3_column_int64(st, 8);
		out->reason = sqlite3_column_int(st, 9);
	}
	r = 0;
	goto out;
malformed:
	sg_error("audit: malformed certificate row");
	r = SG_ERR_IO;
out:
	if (r == SG_ERR_IO && rc != SQLITE_ROW)
		sg_error("audit: reading a certificate: %s", sqlite3_errmsg(a->rdb));
	if (r != 0) {
		free(*der);
		*der = NULL;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

int
sg_audit_revoked(struct sg_audit *a, const char *ca,
                 int (*fn)(void *arg, const unsigned char *serial, size_t len, int64_t revoked_at,
                           int reason),
                 void *arg)
{
	sqlite3_stmt *st = a->st_revoked;
	int rc, r = 0;

	if ((rc = sqlite3_bind_text(st, 1, ca, -1, SQLITE_STATIC)) != SQLITE_OK) {
		r = SG_ERR_IO;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(st, 0);

		if (sqlite3_column_type(st, 0) != SQLITE_BLOB || n == 0 || n > SG_SERIAL_MAX)
			continue; /* not ours to serve; never stored by this module */
		if ((r = fn(arg, sqlite3_column_blob(st, 0), n, sqlite3_column_int64(st, 1),
		            sqlite3_column_int(st, 2))) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		sg_error("audit: listing revocations: %s", sqlite3_errmsg(a->rdb));
		r = SG_ERR_IO;
	}
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

int
sg_audit_crl_get(struct sg_audit *a, const char *ca, struct sg_audit_crl *out, unsigned char **der)
{
	sqlite3_stmt *st = a->st_crl_get;
	size_t n;
	int rc, r = SG_ERR_IO;

	*der = NULL;
	memset(out, 0, sizeof(*out));
	if (strlen(ca) > SG_NAME_MAX)
		return SG_ERR_NOT_FOUND;
	if ((rc = sqlite3_bind_text(st, 1, ca, -1, SQLITE_STATIC)) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = SG_ERR_NOT_FOUND;
		goto out;
	}
	n = (size_t)sqlite3_column_bytes(st, 3);
	if (rc != SQLITE_ROW || sqlite3_column_type(st, 3) != SQLITE_BLOB || n == 0)
		goto out;
	if ((*der = malloc(n)) == NULL) {
		r = SG_ERR_NOMEM;
		goto out;
	}
	memcpy(*der, sqlite3_column_blob(st, 3), n);
	snprintf(out->ca, sizeof(out->ca), "%s", ca);
	out->number = (uint64_t)sqlite3_column_int64(st, 0);
	out->this_update = sqlite3_column_int64(st, 1);
	out->next_update = sqlite3_column_int64(st, 2);
	out->der = *der;
	out->der_len = n;
	r = 0;
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}
