/*
 * sg_audit_test: the audit log against a real SQLite file in a temporary
 * directory.  Record hashes are recomputed here with an independent
 * implementation of the encoding in docs/audit.md; disk-full and I/O errors
 * come from a VFS shim that wraps the default VFS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "sg_audit.h"
#include "sg_err.h"

static char test_dir[64];
static char test_db[128];
static int test_n; /* makes each test's database name unique */

/* ---- fault-injecting VFS ---------------------------------------------- */

enum fault { FAULT_NONE = 0, FAULT_FULL = 1, FAULT_IOERR = 2 };
static atomic_int fault_mode;
static atomic_int fault_hits;

struct shim_file {
	sqlite3_file base;
	sqlite3_file *real; /* follows this struct in the same allocation */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;
static sqlite3_io_methods shim_io;

#define REAL(f) (((struct shim_file *)(f))->real)

static int
shim_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int
shim_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}

static int
shim_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	if (atomic_load(&fault_mode) == FAULT_FULL) {
		atomic_fetch_add(&fault_hits, 1);
		return SQLITE_FULL;
	}
	return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}

static int
shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
shim_sync(sqlite3_file *f, int flags)
{
	if (atomic_load(&fault_mode) == FAULT_IOERR) {
		atomic_fetch_add(&fault_hits, 1);
		return SQLITE_IOERR_FSYNC;
	}
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
shim_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
shim_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}

static int
shim_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}

static int
shim_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
shim_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
shim_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
shim_device_chars(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
shim_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}

static int
shim_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void
shim_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
shim_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int
shim_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, amt, pp);
}

static int
shim_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static int
shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	struct shim_file *s = (struct shim_file *)f;
	int rc;

	(void)vfs;
	s->real = (sqlite3_file *)(s + 1);
	rc = real_vfs->xOpen(real_vfs, name, s->real, flags, out_flags);
	s->base.pMethods = s->real->pMethods != NULL ? &shim_io : NULL;
	return rc;
}

static void
shim_register(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	assert_non_null(real_vfs);
	assert_true(real_vfs->iVersion >= 2);
	shim_vfs = *real_vfs;
	shim_vfs.pNext = NULL;
	shim_vfs.zName = "sgfault";
	shim_vfs.szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile;
	shim_vfs.xOpen = shim_open;
	shim_io = (sqlite3_io_methods){
	    .iVersion = 3,
	    .xClose = shim_close,
	    .xRead = shim_read,
	    .xWrite = shim_write,
	    .xTruncate = shim_truncate,
	    .xSync = shim_sync,
	    .xFileSize = shim_file_size,
	    .xLock = shim_lock,
	    .xUnlock = shim_unlock,
	    .xCheckReservedLock = shim_check_reserved,
	    .xFileControl = shim_file_control,
	    .xSectorSize = shim_sector_size,
	    .xDeviceCharacteristics = shim_device_chars,
	    .xShmMap = shim_shm_map,
	    .xShmLock = shim_shm_lock,
	    .xShmBarrier = shim_shm_barrier,
	    .xShmUnmap = shim_shm_unmap,
	    .xFetch = shim_fetch,
	    .xUnfetch = shim_unfetch,
	};
	assert_int_equal(sqlite3_vfs_register(&shim_vfs, 0), SQLITE_OK);
}

/* ---- an independent implementation of docs/audit.md's encoding --------- */

struct enc {
	unsigned char buf[4096];
	size_t len;
};

static void
enc_len(struct enc *e, uint32_t v)
{
	assert_true(e->len + 4 <= sizeof(e->buf));
	e->buf[e->len++] = (unsigned char)(v >> 24);
	e->buf[e->len++] = (unsigned char)(v >> 16);
	e->buf[e->len++] = (unsigned char)(v >> 8);
	e->buf[e->len++] = (unsigned char)v;
}

static void
enc_col(struct enc *e, sqlite3_stmt *st, int col)
{
	sqlite3_int64 v;
	int i, n;

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		enc_len(e, 0xffffffffU);
		break;
	case SQLITE_INTEGER:
		v = sqlite3_column_int64(st, col);
		enc_len(e, 8);
		for (i = 0; i < 8; i++)
			e->buf[e->len++] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
		break;
	case SQLITE_TEXT:
	case SQLITE_BLOB:
		n = sqlite3_column_bytes(st, col);
		enc_len(e, (uint32_t)n);
		assert_true(e->len + (size_t)n <= sizeof(e->buf));
		if (n > 0)
			memcpy(e->buf + e->len, sqlite3_column_blob(st, col), (size_t)n);
		e->len += (size_t)n;
		break;
	default:
		fail_msg("column %d has an unexpected type", col);
	}
}

/* Recomputes the hash of record seq from its row in db, as an outside auditor would. */
static void
spec_hash(sqlite3 *db, int64_t seq, unsigned char out[32])
{
	static const char sql[] =
	    "SELECT seq, time_us, client, op, req_id, key, hash_alg, digest, pad, sig_hash,"
	    " result, artifact, size, job, prev_hash FROM records WHERE seq = ?";
	sqlite3_stmt *st = NULL;
	struct enc e;
	unsigned int olen = 0;
	int i;

	e.len = 0;
	memcpy(e.buf, "signet-audit-v1\0", 16);
	e.len = 16;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, seq);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	for (i = 0; i < 15; i++)
		enc_col(&e, st, i);
	sqlite3_finalize(st);
	assert_int_equal(EVP_Digest(e.buf, e.len, out, &olen, EVP_sha256(), NULL), 1);
	assert_int_equal(olen, 32);
}

/* ---- helpers ------------------------------------------------------------- */

static void
new_db_path(void)
{
	snprintf(test_db, sizeof(test_db), "%s/audit%d.db", test_dir, ++test_n);
}

static sqlite3 *
raw_open(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path);
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

static void
fill_record(struct sg_audit_record *r, unsigned i)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->client, sizeof(r->client), "ci-%u", i % 3);
	r->op = SG_OP_SIGN_DIGEST;
	r->req_id = 1000 + i;
	snprintf(r->key, sizeof(r->key), "release-%u", i % 2);
	r->hash = SG_HASH_SHA256;
	r->pad = SG_PAD_NONE;
	r->digest_len = 32;
	memset(r->digest, (int)(i & 0xff), r->digest_len);
	r->result = 0;
	snprintf(r->meta.artifact, sizeof(r->meta.artifact), "pkg-%u.tar.gz", i);
	r->meta.has_size = (i % 2) == 0;
	r->meta.size = 4096ULL * i;
	snprintf(r->meta.job, sizeof(r->meta.job), "job/%u", i);
	r->has_sig = 1;
	snprintf(r->rep.key, sizeof(r->rep.key), "%s", r->key);
	r->rep.alg = SG_KEYALG_EC_P256;
	r->rep.hash = SG_HASH_SHA256;
	r->rep.pad = SG_PAD_NONE;
	r->rep.sig_len = 70 + (i % 3);
	memset(r->rep.sig, (int)(0x80 + (i & 0x7f)), r->rep.sig_len);
}

/* A denied request: no key, no digest, no signature. */
static void
fill_denied(struct sg_audit_record *r, unsigned i)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->client, sizeof(r->client), "intruder");
	r->op = SG_OP_NONE;
	r->req_id = i;
	r->result = SG_ERR_DENIED;
}

/* Collects n completed records (in completion order) into out; fails after 30 s. */
static void
collect(struct sg_audit *a, struct sg_audit_record **out, size_t n)
{
	struct pollfd pfd = {.fd = sg_audit_event_fd(a), .events = POLLIN};
	struct sg_audit_record *r, *next;
	size_t got = 0;

	while (got < n) {
		assert_true(poll(&pfd, 1, 30000) == 1);
		for (r = sg_audit_take_completed(a); r != NULL; r = next) {
			next = r->next;
			assert_true(got < n);
			out[got++] = r;
		}
	}
}

static struct sg_audit *
open_started(const char *path, const char *vfs)
{
	struct sg_audit *a = NULL;
	char why[256];

	if (sg_audit_open(path, vfs, &a, why, sizeof(why)) != 0)
		fail_msg("sg_audit_open: %s", why);
	assert_int_equal(sg_audit_start(a), 0);
	return a;
}

/* Writes n records to a fresh log at test_db and closes it. */
static void
make_log(unsigned n)
{
	struct sg_audit_record *recs = calloc(n, sizeof(*recs));
	struct sg_audit_record **done = calloc(n, sizeof(*done));
	struct sg_audit *a;
	unsigned i;

	assert_non_null(recs);
	assert_non_null(done);
	new_db_path();
	a = open_started(test_db, NULL);
	for (i = 0; i < n; i++) {
		if (i % 4 == 3)
			fill_denied(&recs[i], i);
		else
			fill_record(&recs[i], i);
		sg_audit_submit(a, &recs[i]);
	}
	collect(a, done, n);
	for (i = 0; i < n; i++)
		assert_int_equal(done[i]->status, 0);
	sg_audit_close(a);
	free(done);
	free(recs);
}

static void
expect_corrupt(uint64_t bad, const char *what)
{
	uint64_t count = 99, first_bad = 0;
	char why[256];

	assert_int_equal(sg_audit_verify(test_db, &count, &first_bad, why, sizeof(why)),
	                 SG_ERR_AUDIT_CORRUPT);
	if (first_bad != bad || strstr(why, what) == NULL)
		fail_msg("expected record %llu (%s), got %llu: %s", (unsigned long long)bad, what,
		         (unsigned long long)first_bad, why);
}

static void
expect_ok(uint64_t n)
{
	uint64_t count = 0, first_bad = 77;
	char why[256];

	if (sg_audit_verify(test_db, &count, &first_bad, why, sizeof(why)) != 0)
		fail_msg("verify: %s", why);
	assert_int_equal(count, n);
	assert_int_equal(first_bad, 0);
}

/* ---- tests ----------------------------------------------------------------- */

static void
test_roundtrip(void **state)
{
	struct sg_audit_record recs[6], *done[6];
	unsigned char h[32], zero[32] = {0}, prev[32], sigh[32];
	unsigned int olen;
	sqlite3 *db;
	sqlite3_stmt *st;
	struct sg_audit *a;
	int i;

	(void)state;
	new_db_path();
	a = open_started(test_db, NULL);
	for (i = 0; i < 6; i++) {
		if (i == 2)
			fill_denied(&recs[i], (unsigned)i);
		else
			fill_record(&recs[i], (unsigned)i);
		recs[i].cookie = &recs[i];
		sg_audit_submit(a, &recs[i]);
	}
	collect(a, done, 6);
	for (i = 0; i < 6; i++) {
		assert_ptr_equal(done[i], &recs[i]);
		assert_ptr_equal(done[i]->cookie, &recs[i]);
		assert_int_equal(done[i]->status, 0);
		assert_int_equal(done[i]->seq, (uint64_t)i + 1);
		assert_true(done[i]->time_us > 1600000000000000LL);
		if (done[i]->has_sig) {
			assert_int_equal(done[i]->rep.record, done[i]->seq);
			assert_memory_equal(done[i]->rep.record_hash, done[i]->record_hash, 32);
		}
	}
	assert_int_equal(sg_audit_writable(a), 1);

	/* The database, read with plain SQLite, holds the chain the records describe. */
	db = raw_open(test_db);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT seq, prev_hash, hash, sig_hash, size, client,"
	                                    " result FROM records ORDER BY seq",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	memcpy(prev, zero, 32);
	for (i = 0; i < 6; i++) {
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int64(st, 0), i + 1);
		assert_memory_equal(sqlite3_column_blob(st, 1), prev, 32);
		assert_memory_equal(sqlite3_column_blob(st, 2), recs[i].record_hash, 32);
		spec_hash(db, i + 1, h);
		assert_memory_equal(h, recs[i].record_hash, 32);
		if (recs[i].has_sig) {
			assert_int_equal(EVP_Digest(recs[i].rep.sig, recs[i].rep.sig_len, sigh,
			                            &olen, EVP_sha256(), NULL),
			                 1);
			assert_int_equal(sqlite3_column_bytes(st, 3), 32);
			assert_memory_equal(sqlite3_column_blob(st, 3), sigh, 32);
		} else {
			assert_int_equal(sqlite3_column_type(st, 3), SQLITE_NULL);
		}
		if (recs[i].meta.has_size)
			assert_int_equal(sqlite3_column_int64(st, 4), (int64_t)recs[i].meta.size);
		else
			assert_int_equal(sqlite3_column_type(st, 4), SQLITE_NULL);
		assert_string_equal((const char *)sqlite3_column_text(st, 5), recs[i].client);
		assert_int_equal(sqlite3_column_int64(st, 6), recs[i].result);
		memcpy(prev, recs[i].record_hash, 32);
	}
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* Verification works on the live database and after close. */
	expect_ok(6);
	sg_audit_close(a);
	expect_ok(6);
}

static void
test_verify_empty(void **state)
{
	struct sg_audit *a;

	(void)state;
	new_db_path();
	a = open_started(test_db, NULL);
	sg_audit_close(a);
	expect_ok(0);
}

static void
test_tamper_field(void **state)
{
	/* Record 5 is a signed record with a size; record 4 a denied one. */
	static const struct {
		int seq;
		const char *sql;
	} edits[] = {
	    {5, "UPDATE records SET key = 'other' WHERE seq = 5"},
	    {5, "UPDATE records SET result = -30 WHERE seq = 5"},
	    {5, "UPDATE records SET digest = x'00' WHERE seq = 5"},
	    {5, "UPDATE records SET size = 1 WHERE seq = 5"},
	    {5, "UPDATE records SET size = NULL WHERE seq = 5"},
	    {5, "UPDATE records SET time_us = time_us + 1 WHERE seq = 5"},
	    {5, "UPDATE records SET artifact = artifact || 'x' WHERE seq = 5"},
	    {5, "UPDATE records SET job = '' WHERE seq = 5"},
	    {5, "UPDATE records SET sig_hash = NULL WHERE seq = 5"},
	    {5, "UPDATE records SET req_id = 0 WHERE seq = 5"},
	    {5, "UPDATE records SET op = 1 WHERE seq = 5"},
	    {5, "UPDATE records SET pad = 2 WHERE seq = 5"},
	    {5, "UPDATE records SET hash_alg = 3 WHERE seq = 5"},
	    {4, "UPDATE records SET sig_hash = zeroblob(32) WHERE seq = 4"},
	    {4, "UPDATE records SET client = 'ci-0' WHERE seq = 4"},
	    {8, "UPDATE records SET result = 0 WHERE seq = 8"},
	    {10, "UPDATE records SET key = 'x' WHERE seq = 10"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		make_log(10);
		expect_ok(10);
		print_message("edit: %s\n", edits[i].sql);
		raw_exec(test_db, edits[i].sql);
		expect_corrupt((uint64_t)edits[i].seq, "hash mismatch");
	}
	/* A column of the wrong type is malformed, not silently converted. */
	make_log(10);
	raw_exec(test_db, "UPDATE records SET hash = x'0102' WHERE seq = 7");
	expect_corrupt(7, "malformed column hash");
}

static void
test_tamper_delete(void **state)
{
	(void)state;
	make_log(10);
	raw_exec(test_db, "DELETE FROM records WHERE seq = 4");
	expect_corrupt(4, "gap in sequence");
	make_log(10);
	raw_exec(test_db, "DELETE FROM records WHERE seq = 1");
	expect_corrupt(1, "record 1 missing");
	/* Deleting and renumbering keeps the sequence but breaks the link. */
	make_log(10);
	raw_exec(test_db, "DELETE FROM records WHERE seq = 4;"
	                  "UPDATE records SET seq = seq - 1 WHERE seq > 4");
	expect_corrupt(4, "broken link");
}

static void
test_tamper_swap(void **state)
{
	(void)state;
	make_log(10);
	/* Exchange everything but seq between records 4 and 5. */
	raw_exec(test_db, "UPDATE records SET seq = -4 WHERE seq = 4;"
	                  "UPDATE records SET seq = 4 WHERE seq = 5;"
	                  "UPDATE records SET seq = 5 WHERE seq = -4;");
	expect_corrupt(4, "broken link");
}

static void
test_tamper_prev_hash(void **state)
{
	(void)state;
	make_log(10);
	raw_exec(test_db, "UPDATE records SET prev_hash = zeroblob(32) WHERE seq = 6");
	expect_corrupt(6, "broken link");
	make_log(10);
	raw_exec(test_db, "UPDATE records SET prev_hash ="
	                  " x'0100000000000000000000000000000000000000000000000000000000000000'"
	                  " WHERE seq = 1");
	expect_corrupt(1, "broken link");
}

/* An edit whose hash is recomputed still breaks the next record's link. */
static void
test_tamper_rehash(void **state)
{
	unsigned char h[32];
	sqlite3 *db;
	sqlite3_stmt *st;

	(void)state;
	make_log(10);
	raw_exec(test_db, "UPDATE records SET client = 'someone-else' WHERE seq = 4");
	db = raw_open(test_db);
	spec_hash(db, 4, h);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "UPDATE records SET hash = ? WHERE seq = 4", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	expect_corrupt(5, "broken link");
}

static void
test_group_commit(void **state)
{
	enum { N = 2000 };
	struct sg_audit_record *recs = calloc(N, sizeof(*recs));
	struct sg_audit_record **done = calloc(N, sizeof(*done));
	struct sg_audit_stats st;
	struct sg_audit *a;
	unsigned i;

	(void)state;
	assert_non_null(recs);
	assert_non_null(done);
	new_db_path();
	a = open_started(test_db, NULL);
	for (i = 0; i < N; i++) {
		fill_record(&recs[i], i);
		sg_audit_submit(a, &recs[i]);
	}
	collect(a, done, N);
	for (i = 0; i < N; i++) {
		assert_ptr_equal(done[i], &recs[i]);
		assert_int_equal(done[i]->status, 0);
		assert_int_equal(done[i]->seq, (uint64_t)i + 1);
	}
	sg_audit_stats(a, &st);
	print_message("group commit: %llu records in %llu commits, largest group %llu\n",
	              (unsigned long long)st.records, (unsigned long long)st.commits,
	              (unsigned long long)st.max_group);
	assert_int_equal(st.records, N);
	assert_int_equal(st.failures, 0);
	assert_true(st.commits >= 1);
	assert_true(st.commits < st.records);
	assert_true(st.max_group > 1);
	assert_true(st.max_group <= 4096);
	assert_true(st.last_commit_us >= (uint64_t)recs[N - 1].time_us);
	sg_audit_close(a);
	expect_ok(N);
	free(done);
	free(recs);
}

static void
test_stop_drains(void **state)
{
	enum { N = 300 };
	struct sg_audit_record *recs = calloc(N + 1, sizeof(*recs));
	struct sg_audit_record *r;
	struct sg_audit *a;
	unsigned i, n = 0;

	(void)state;
	assert_non_null(recs);
	new_db_path();
	a = open_started(test_db, NULL);
	for (i = 0; i < N; i++) {
		fill_record(&recs[i], i);
		sg_audit_submit(a, &recs[i]);
	}
	sg_audit_stop(a);
	for (r = sg_audit_take_completed(a); r != NULL; r = r->next) {
		assert_int_equal(r->status, 0);
		assert_int_equal(r->seq, (uint64_t)n + 1);
		n++;
	}
	assert_int_equal(n, N);
	/* After stop, a submission fails closed at once. */
	fill_record(&recs[N], N);
	sg_audit_submit(a, &recs[N]);
	r = sg_audit_take_completed(a);
	assert_ptr_equal(r, &recs[N]);
	assert_int_equal(r->status, SG_ERR_AUDIT_UNAVAILABLE);
	assert_int_equal(r->seq, 0);
	assert_int_equal(sg_audit_start(a), SG_ERR_INTERNAL);
	sg_audit_close(a);
	expect_ok(N);
	free(recs);
	sg_audit_close(NULL);
}

/* Records queued before start (or with no start at all) are committed by stop. */
static void
test_stop_without_start(void **state)
{
	struct sg_audit_record recs[3], *r;
	struct sg_audit *a = NULL;
	char why[256];
	int i, n = 0;

	(void)state;
	new_db_path();
	assert_int_equal(sg_audit_open(test_db, NULL, &a, why, sizeof(why)), 0);
	for (i = 0; i < 3; i++) {
		fill_record(&recs[i], (unsigned)i);
		sg_audit_submit(a, &recs[i]);
	}
	sg_audit_stop(a);
	for (r = sg_audit_take_completed(a); r != NULL; r = r->next) {
		assert_int_equal(r->status, 0);
		n++;
	}
	assert_int_equal(n, 3);
	sg_audit_close(a);
	expect_ok(3);
}

static void
test_invalid_record(void **state)
{
	struct sg_audit_record recs[3], *done[3];
	struct sg_audit *a;

	(void)state;
	new_db_path();
	a = open_started(test_db, NULL);
	fill_record(&recs[0], 0);
	recs[0].digest_len = SG_HASH_MAX_LEN + 1;
	fill_record(&recs[1], 1);
	memset(recs[1].client, 'x', sizeof(recs[1].client)); /* not terminated */
	fill_record(&recs[2], 2);
	sg_audit_submit(a, &recs[0]);
	sg_audit_submit(a, &recs[1]);
	sg_audit_submit(a, &recs[2]);
	collect(a, done, 3);
	assert_int_equal(recs[0].status, SG_ERR_INVALID_ARG);
	assert_int_equal(recs[0].seq, 0);
	assert_int_equal(recs[1].status, SG_ERR_INVALID_ARG);
	assert_int_equal(recs[2].status, 0);
	assert_int_equal(recs[2].seq, 1);
	sg_audit_close(a);
	expect_ok(1);
}

static void
test_idempotency(void **state)
{
	struct sg_audit_record recs[3], *done[3];
	struct sg_sign_rep rep;
	unsigned char fp[32], *ob = NULL;
	size_t obl = 0;
	struct sg_audit *a;
	char sql[256];

	(void)state;
	new_db_path();
	a = open_started(test_db, NULL);
	fill_record(&recs[0], 1);
	memcpy(recs[0].idem, "build-42-attempt", 16);
	recs[0].idem_len = 16;
	memset(recs[0].req_fp, 0xa5, 32);
	/* The same key again (the front should have de-duplicated): must not fail. */
	fill_record(&recs[1], 2);
	memcpy(recs[1].client, recs[0].client, sizeof(recs[0].client));
	memcpy(recs[1].idem, "build-42-attempt", 16);
	recs[1].idem_len = 16;
	memset(recs[1].req_fp, 0x5a, 32);
	/* An idempotency key without a signature stores nothing. */
	fill_denied(&recs[2], 3);
	memcpy(recs[2].idem, "denied-key", 10);
	recs[2].idem_len = 10;

	assert_int_equal(
	    sg_audit_idem_lookup(a, recs[0].client, recs[0].idem, 16, &rep, fp, &ob, &obl),
	    SG_ERR_NOT_FOUND);
	sg_audit_submit(a, &recs[0]);
	sg_audit_submit(a, &recs[1]);
	sg_audit_submit(a, &recs[2]);
	collect(a, done, 3);
	assert_int_equal(recs[0].status, 0);
	assert_int_equal(recs[1].status, 0);
	assert_int_equal(recs[2].status, 0);

	memset(&rep, 0, sizeof(rep));
	assert_int_equal(
	    sg_audit_idem_lookup(a, recs[0].client, recs[0].idem, 16, &rep, fp, &ob, &obl), 0);
	assert_memory_equal(fp, recs[0].req_fp, 32);
	assert_string_equal(rep.key, recs[0].rep.key);
	assert_int_equal(rep.alg, recs[0].rep.alg);
	assert_int_equal(rep.hash, recs[0].rep.hash);
	assert_int_equal(rep.pad, recs[0].rep.pad);
	assert_int_equal(rep.sig_len, recs[0].rep.sig_len);
	assert_memory_equal(rep.sig, recs[0].rep.sig, rep.sig_len);
	assert_int_equal(rep.record, recs[0].seq);
	assert_memory_equal(rep.record_hash, recs[0].record_hash, 32);
	assert_int_equal(rep.replayed, 1);
	assert_null(ob); /* a sign.digest answer has no stored output */
	assert_int_equal(obl, 0);

	assert_int_equal(sg_audit_idem_lookup(a, "ci-other", recs[0].idem, 16, &rep, fp, &ob, &obl),
	                 SG_ERR_NOT_FOUND);
	assert_int_equal(
	    sg_audit_idem_lookup(a, recs[0].client, recs[0].idem, 15, &rep, fp, &ob, &obl),
	    SG_ERR_NOT_FOUND);
	assert_int_equal(
	    sg_audit_idem_lookup(a, recs[2].client, recs[2].idem, 10, &rep, fp, &ob, &obl),
	    SG_ERR_NOT_FOUND);

	/* Past the 24 h retention an entry is no longer an answer. */
	snprintf(sql, sizeof(sql),
	         "UPDATE idem SET created_us = created_us - %lld WHERE client = '%s'",
	         25LL * 3600 * 1000000, recs[0].client);
	raw_exec(test_db, sql);
	assert_int_equal(
	    sg_audit_idem_lookup(a, recs[0].client, recs[0].idem, 16, &rep, fp, &ob, &obl),
	    SG_ERR_NOT_FOUND);
	sg_audit_close(a);
	expect_ok(3);
}

static int64_t
count_rows(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *st = NULL;
	int64_t n;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* The writer deletes expired idempotency entries (its first group after open prunes). */
/* A sign.cms / timestamp answer is stored whole beside its idempotency key. */
static void
test_idem_output(void **state)
{
	static unsigned char der[3000];
	struct sg_audit_record rec, *done[1];
	struct sg_sign_rep rep;
	unsigned char fp[32], *ob = NULL;
	size_t obl = 0, i;
	struct sg_audit *a;

	(void)state;
	for (i = 0; i < sizeof(der); i++)
		der[i] = (unsigned char)(i * 7);
	new_db_path();
	a = open_started(test_db, NULL);
	fill_record(&rec, 1);
	rec.op = SG_OP_SIGN_CMS;
	memcpy(rec.idem, "cms-attempt-0001", 16);
	rec.idem_len = 16;
	rec.out = der;
	rec.out_len = sizeof(der);
	sg_audit_submit(a, &rec);
	collect(a, done, 1);
	assert_int_equal(rec.status, 0);
	assert_int_equal(sg_audit_idem_lookup(a, rec.client, rec.idem, 16, &rep, fp, &ob, &obl), 0);
	assert_non_null(ob);
	assert_int_equal(obl, sizeof(der));
	assert_memory_equal(ob, der, sizeof(der));
	assert_memory_equal(rep.sig, rec.rep.sig, rec.rep.sig_len);
	free(ob);
	sg_audit_close(a);
	expect_ok(1);
}

/* Counters: blocks never overlap, survive a reopen, and refuse nonsense. */
static void
test_counters(void **state)
{
	struct sg_audit *a;
	uint64_t first = 0;
	char sql[128];

	(void)state;
	new_db_path();
	a = open_started(test_db, NULL);
	assert_int_equal(sg_audit_counter_reserve(a, "tsa-serial", 1000, &first), 0);
	assert_int_equal(first, 1);
	assert_int_equal(sg_audit_counter_reserve(a, "tsa-serial", 10, &first), 0);
	assert_int_equal(first, 1001);
	assert_int_equal(sg_audit_counter_reserve(a, "other", 5, &first), 0);
	assert_int_equal(first, 1);
	assert_int_equal(sg_audit_counter_reserve(a, "tsa-serial", 0, &first), SG_ERR_INVALID_ARG);
	sg_audit_close(a);
	a = open_started(test_db, NULL);
	assert_int_equal(sg_audit_counter_reserve(a, "tsa-serial", 1, &first), 0);
	assert_int_equal(first, 1011);
	sg_audit_close(a);
	/* A value out of range is reported, not wrapped. */
	snprintf(sql, sizeof(sql), "UPDATE counters SET next = -5 WHERE name = 'other'");
	raw_exec(test_db, sql);
	a = open_started(test_db, NULL);
	assert_int_equal(sg_audit_counter_reserve(a, "other", 1, &first), SG_ERR_AUDIT_CORRUPT);
	/* ...and the failed reservation left the other counter usable. */
	assert_int_equal(sg_audit_counter_reserve(a, "tsa-serial", 1, &first), 0);
	assert_int_equal(first, 1012);
	sg_audit_close(a);
}

/* A version 1 log is upgraded in place; its chain still verifies. */
static void
test_migrate_v1(void **state)
{
	struct sg_audit_record recs[2], *done[2];
	struct sg_audit *a;
	uint64_t first;

	(void)state;
	new_db_path();
	a = open_started(test_db, NULL);
	fill_record(&recs[0], 1);
	sg_audit_submit(a, &recs[0]);
	collect(a, done, 1);
	sg_audit_close(a);
	/* Turn it back into what version 1 made. */
	raw_exec(test_db, "DROP TABLE counters; ALTER TABLE idem DROP COLUMN out;"
	                  " DROP TABLE certs; DROP TABLE crls;"
	                  " PRAGMA user_version = 1;");
	expect_ok(1);
	a = open_started(test_db, NULL);
	assert_int_equal(sg_audit_counter_reserve(a, "tsa-serial", 1, &first), 0);
	fill_record(&recs[1], 2);
	sg_audit_submit(a, &recs[1]);
	collect(a, done, 1);
	assert_int_equal(recs[1].status, 0);
	assert_int_equal(recs[1].seq, 2);
	sg_audit_close(a);
	expect_ok(2);
}

static int
count_revoked(void *arg, const unsigned char *serial, size_t len, int64_t revoked_at, int reason)
{
	int *n = arg;

	if (len == 3 && memcmp(serial, "\x01\x02\x03", 3) == 0 && revoked_at == 1700000100 &&
	    reason == 1)
		(*n)++;
	return 0;
}

/* Certificates, revocations and CRLs are durable with their records. */
static void
test_cert_state(void **state)
{
	static const unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x05};
	struct sg_audit_record recs[3], *done[3];
	struct sg_audit_cert c, got;
	struct sg_audit_crl crl, gotcrl;
	unsigned char *gder = NULL;
	struct sg_audit *a;
	int n = 0;

	(void)state;
	new_db_path();
	a = open_started(test_db, NULL);
	memset(&c, 0, sizeof(c));
	memcpy(c.serial, "\x01\x02\x03", 3);
	c.serial_len = 3;
	strcpy(c.ca, "int-dev");
	strcpy(c.profile, "leaf-tls");
	strcpy(c.subject, "CN=www.example.com");
	strcpy(c.sans, "DNS:www.example.com");
	strcpy(c.requester, "ca-server");
	c.not_before = 1700000000;
	c.not_after = 1700086400;
	c.der = der;
	c.der_len = sizeof(der);
	assert_int_equal(sg_audit_cert_get(a, c.serial, 3, &got, &gder), SG_ERR_NOT_FOUND);
	fill_record(&recs[0], 1);
	recs[0].op = SG_OP_CERT_ISSUE;
	recs[0].state = SG_AUDIT_STATE_CERT_ISSUED;
	recs[0].cert = &c;
	sg_audit_submit(a, &recs[0]);
	collect(a, done, 1);
	assert_int_equal(recs[0].status, 0);
	assert_int_equal(sg_audit_cert_get(a, c.serial, 3, &got, &gder), 0);
	assert_string_equal(got.ca, "int-dev");
	assert_string_equal(got.profile, "leaf-tls");
	assert_string_equal(got.subject, "CN=www.example.com");
	assert_string_equal(got.requester, "ca-server");
	assert_int_equal(got.not_after, 1700086400);
	assert_int_equal(got.revoked_at, 0);
	assert_int_equal(got.der_len, sizeof(der));
	assert_memory_equal(gder, der, sizeof(der));
	free(gder);
	assert_int_equal(sg_audit_revoked(a, "int-dev", count_revoked, &n), 0);
	assert_int_equal(n, 0);
	/* revoked with its record; a CRL stored with another */
	c.revoked_at = 1700000100;
	c.reason = 1;
	fill_denied(&recs[1], 2);
	recs[1].result = 0;
	recs[1].op = SG_OP_CERT_REVOKE;
	recs[1].state = SG_AUDIT_STATE_CERT_REVOKED;
	recs[1].cert = &c;
	memset(&crl, 0, sizeof(crl));
	strcpy(crl.ca, "int-dev");
	crl.number = 7;
	crl.this_update = 1700000100;
	crl.next_update = 1700086500;
	crl.der = der;
	crl.der_len = sizeof(der);
	fill_record(&recs[2], 3);
	recs[2].op = SG_OP_CRL_GET;
	recs[2].state = SG_AUDIT_STATE_CRL;
	recs[2].crl = &crl;
	sg_audit_submit(a, &recs[1]);
	sg_audit_submit(a, &recs[2]);
	collect(a, done, 2);
	assert_int_equal(recs[1].status, 0);
	assert_int_equal(recs[2].status, 0);
	assert_int_equal(sg_audit_cert_get(a, c.serial, 3, &got, &gder), 0);
	assert_int_equal(got.revoked_at, 1700000100);
	assert_int_equal(got.reason, 1);
	free(gder);
	assert_int_equal(sg_audit_revoked(a, "int-dev", count_revoked, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sg_audit_revoked(a, "int-prod", count_revoked, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sg_audit_crl_get(a, "int-dev", &gotcrl, &gder), 0);
	assert_int_equal(gotcrl.number, 7);
	assert_int_equal(gotcrl.next_update, 1700086500);
	assert_memory_equal(gder, der, sizeof(der));
	free(gder);
	assert_int_equal(sg_audit_crl_get(a, "int-prod", &gotcrl, &gder), SG_ERR_NOT_FOUND);
	sg_audit_close(a);
	expect_ok(3);
}

static void
test_idem_prune(void **state)
{
	struct sg_audit_record recs[3], *done[2];
	struct sg_audit *a;

	(void)state;
	new_db_path();
	a = open_started(test_db, NULL);
	fill_record(&recs[0], 0);
	memcpy(recs[0].idem, "old", 3);
	recs[0].idem_len = 3;
	fill_record(&recs[1], 1);
	memcpy(recs[1].idem, "new", 3);
	recs[1].idem_len = 3;
	sg_audit_submit(a, &recs[0]);
	sg_audit_submit(a, &recs[1]);
	collect(a, done, 2);
	sg_audit_close(a);
	assert_int_equal(count_rows(test_db, "SELECT count(*) FROM idem"), 2);
	raw_exec(test_db, "UPDATE idem SET created_us = created_us - 90000000000"
	                  " WHERE idem = x'6f6c64'");

	a = open_started(test_db, NULL);
	fill_denied(&recs[2], 2);
	sg_audit_submit(a, &recs[2]);
	collect(a, done, 1);
	assert_int_equal(recs[2].status, 0);
	sg_audit_close(a);
	assert_int_equal(count_rows(test_db, "SELECT count(*) FROM idem"), 1);
	assert_int_equal(count_rows(test_db, "SELECT count(*) FROM idem WHERE idem = x'6e6577'"),
	                 1);
	expect_ok(3);
}

/* Runs one fault mode: records fail closed while it lasts, then the chain resumes. */
static void
run_fault(int mode)
{
	struct sg_audit_record recs[9], *done[9];
	struct sg_audit_stats st;
	unsigned char h[32];
	struct sg_audit *a;
	sqlite3 *db;
	int i;

	new_db_path();
	atomic_store(&fault_mode, FAULT_NONE);
	atomic_store(&fault_hits, 0);
	a = open_started(test_db, "sgfault");
	for (i = 0; i < 3; i++) {
		fill_record(&recs[i], (unsigned)i);
		sg_audit_submit(a, &recs[i]);
	}
	collect(a, done, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(recs[i].status, 0);
	assert_int_equal(sg_audit_writable(a), 1);

	atomic_store(&fault_mode, mode);
	for (i = 3; i < 6; i++) {
		fill_record(&recs[i], (unsigned)i);
		memcpy(recs[i].idem, "fault-idem", 10);
		recs[i].idem_len = 10;
		sg_audit_submit(a, &recs[i]);
	}
	collect(a, done, 3);
	assert_true(atomic_load(&fault_hits) > 0);
	for (i = 3; i < 6; i++) {
		assert_int_equal(recs[i].status, SG_ERR_AUDIT_UNAVAILABLE);
		assert_int_equal(recs[i].seq, 0);
		assert_int_equal(recs[i].rep.record, 0);
	}
	assert_int_equal(sg_audit_writable(a), 0);
	sg_audit_stats(a, &st);
	assert_true(st.failures >= 1);
	assert_int_equal(st.records, 3);

	atomic_store(&fault_mode, FAULT_NONE);
	for (i = 6; i < 9; i++) {
		fill_record(&recs[i], (unsigned)i);
		sg_audit_submit(a, &recs[i]);
	}
	collect(a, done, 3);
	for (i = 6; i < 9; i++) {
		assert_int_equal(recs[i].status, 0);
		assert_int_equal(recs[i].seq, (uint64_t)i - 2);
	}
	assert_int_equal(sg_audit_writable(a), 1);
	sg_audit_close(a);

	/* Record 4 links to record 3, the last durable one before the fault. */
	db = raw_open(test_db);
	spec_hash(db, 4, h);
	assert_memory_equal(h, recs[6].record_hash, 32);
	sqlite3_close(db);
	expect_ok(6);

	/* The failed group's idempotency entries were rolled back with it. */
	a = open_started(test_db, NULL);
	{
		struct sg_sign_rep rep;
		unsigned char fp[32], *ob = NULL;
		size_t obl = 0;

		assert_int_equal(sg_audit_idem_lookup(a, recs[3].client,
		                                      (const unsigned char *)"fault-idem", 10, &rep,
		                                      fp, &ob, &obl),
		                 SG_ERR_NOT_FOUND);
	}
	sg_audit_close(a);
}

static void
test_fault_full(void **state)
{
	(void)state;
	run_fault(FAULT_FULL);
}

static void
test_fault_ioerr(void **state)
{
	(void)state;
	run_fault(FAULT_IOERR);
}

static void
test_reopen_resumes(void **state)
{
	struct sg_audit_record recs[2], *done[2];
	struct sg_audit *a;
	sqlite3 *db;
	unsigned char h[32];

	(void)state;
	make_log(5);
	a = open_started(test_db, NULL);
	fill_record(&recs[0], 10);
	fill_denied(&recs[1], 11);
	sg_audit_submit(a, &recs[0]);
	sg_audit_submit(a, &recs[1]);
	collect(a, done, 2);
	assert_int_equal(recs[0].status, 0);
	assert_int_equal(recs[0].seq, 6);
	assert_int_equal(recs[1].seq, 7);
	sg_audit_close(a);
	expect_ok(7);
	db = raw_open(test_db);
	spec_hash(db, 7, h);
	assert_memory_equal(h, recs[1].record_hash, 32);
	sqlite3_close(db);
}

static void
test_open_refuses(void **state)
{
	int dummy;
	struct sg_audit *a = (struct sg_audit *)(void *)&dummy; /* open must reset it */
	uint64_t count, bad;
	char why[256], path[160];
	FILE *f;

	(void)state;
	/* Someone else's database. */
	new_db_path();
	raw_exec(test_db, "CREATE TABLE foo (x)");
	assert_int_equal(sg_audit_open(test_db, NULL, &a, why, sizeof(why)), SG_ERR_AUDIT_CORRUPT);
	assert_null(a);
	assert_non_null(strstr(why, "not a signet audit database"));
	assert_int_equal(sg_audit_verify(test_db, &count, &bad, why, sizeof(why)), SG_ERR_IO);

	/* Ours, but a schema version from the future. */
	make_log(2);
	raw_exec(test_db, "PRAGMA user_version = 4");
	assert_int_equal(sg_audit_open(test_db, NULL, &a, why, sizeof(why)), SG_ERR_AUDIT_CORRUPT);
	assert_non_null(strstr(why, "unsupported audit schema version 4"));

	/* Not a database at all. */
	snprintf(path, sizeof(path), "%s/garbage.db", test_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not an sqlite database. ", f);
	fclose(f);
	assert_int_equal(sg_audit_open(path, NULL, &a, why, sizeof(why)), SG_ERR_AUDIT_CORRUPT);
	unlink(path);

	/* Nowhere to create it. */
	snprintf(path, sizeof(path), "%s/no/such/dir/audit.db", test_dir);
	assert_int_equal(sg_audit_open(path, NULL, &a, why, sizeof(why)), SG_ERR_IO);
	assert_int_equal(sg_audit_verify(path, &count, &bad, why, sizeof(why)), SG_ERR_IO);
}

static int
group_setup(void **state)
{
	(void)state;
	snprintf(test_dir, sizeof(test_dir), "/tmp/sg_audit_test.XXXXXX");
	if (mkdtemp(test_dir) == NULL)
		return -1;
	shim_register();
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	sqlite3_vfs_unregister(&shim_vfs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_verify_empty),
		cmocka_unit_test(test_tamper_field),
		cmocka_unit_test(test_tamper_delete),
		cmocka_unit_test(test_tamper_swap),
		cmocka_unit_test(test_tamper_prev_hash),
		cmocka_unit_test(test_tamper_rehash),
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_stop_drains),
		cmocka_unit_test(test_stop_without_start),
		cmocka_unit_test(test_invalid_record),
		cmocka_unit_test(test_idempotency),
		cmocka_unit_test(test_idem_prune),
		cmocka_unit_test(test_idem_output),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_migrate_v1),
		cmocka_unit_test(test_cert_state),
		cmocka_unit_test(test_fault_full),
		cmocka_unit_test(test_fault_ioerr),
		cmocka_unit_test(test_reopen_resumes),
		cmocka_unit_test(test_open_refuses),
	};
	/* clang-format on */

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
