/* Unit tests of the ZAP handler over a real inproc REQ/REP pair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "sg_err.h"
#include "sg_policy.h"
#include "sg_zap.h"

static void *zctx, *rep, *req;
static struct sg_policy *policy;
static char client_pub[41];
static unsigned char client_raw[32];

static int
setup(void **state)
{
	char dir[] = "/tmp/sg_zap_test.XXXXXX", path[128], sec[41], why[256];
	FILE *fp;

	if (mkdtemp(dir) == NULL || zmq_curve_keypair(client_pub, sec) != 0)
		return -1;
	zmq_z85_decode(client_raw, client_pub);
	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	fprintf(fp,
	        "version: 1\n"
	        "clients:\n"
	        "  - name: ci\n"
	        "    curve_public_key: \"%s\"\n"
	        "keys: []\n"
	        "rules:\n"
	        "  - clients: [ci]\n"
	        "    ops: [ping]\n",
	        client_pub);
	fclose(fp);
	if (sg_policy_load(path, &policy, why, sizeof(why)) != 0) {
		fprintf(stderr, "%s\n", why);
		return -1;
	}
	unlink(path);
	rmdir(dir);
	zctx = zmq_ctx_new();
	rep = zmq_socket(zctx, ZMQ_REP);
	req = zmq_socket(zctx, ZMQ_REQ);
	if (zmq_bind(rep, "inproc://zap-test") != 0 || zmq_connect(req, "inproc://zap-test") != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	zmq_close(req);
	zmq_close(rep);
	zmq_ctx_term(zctx);
	sg_policy_free(policy);
	return 0;
}

/* Sends a ZAP request with the given version, mechanism and credential, plus extra frames. */
static void
send_zap(const char *version, const char *mechanism, const void *cred, size_t cred_len, int extra)
{
	const char *frames[6] = {version, "42", "signet", "127.0.0.1", "", mechanism};
	int i;

	for (i = 0; i < 6; i++)
		assert_true(zmq_send(req, frames[i], strlen(frames[i]), ZMQ_SNDMORE) >= 0);
	assert_true(zmq_send(req, cred, cred_len, extra ? ZMQ_SNDMORE : 0) >= 0);
	if (extra)
		assert_true(zmq_send(req, "x", 1, 0) >= 0);
}

/* Receives the 6 reply frames; returns the status code, user id into uid. */
static int
recv_zap(char *uid, size_t uid_len)
{
	char frames[6][128];
	int i, n, more;
	size_t msz = sizeof(more);

	for (i = 0; i < 6; i++) {
		n = zmq_recv(req, frames[i], sizeof(frames[i]) - 1, 0);
		assert_true(n >= 0);
		frames[i][n] = '\0';
		zmq_getsockopt(req, ZMQ_RCVMORE, &more, &msz);
		assert_int_equal(more, i < 5);
	}
	assert_string_equal(frames[0], "1.0");
	assert_string_equal(frames[1], "42");
	snprintf(uid, uid_len, "%s", frames[4]);
	return atoi(frames[2]);
}

static void
test_known_key(void **state)
{
	uint64_t refused = 0;
	char uid[128];

	send_zap("1.0", "CURVE", client_raw, 32, 0);
	assert_int_equal(sg_zap_handle(rep, policy, &refused), 0);
	assert_int_equal(recv_zap(uid, sizeof(uid)), 200);
	assert_string_equal(uid, client_pub);
	assert_int_equal(refused, 0);
}

static void
test_unknown_key(void **state)
{
	unsigned char other[32];
	uint64_t refused = 0;
	char uid[128];

	memcpy(other, client_raw, 32);
	other[31] ^= 1;
	send_zap("1.0", "CURVE", other, 32, 0);
	assert_int_equal(sg_zap_handle(rep, policy, &refused), 0);
	assert_int_equal(recv_zap(uid, sizeof(uid)), 400);
	assert_string_equal(uid, "");
	assert_int_equal(refused, 1);
}

static void
test_not_curve(void **state)
{
	uint64_t refused = 0;
	char uid[128];

	send_zap("1.0", "PLAIN", "user", 4, 0);
	assert_int_equal(sg_zap_handle(rep, policy, &refused), 0);
	assert_int_equal(recv_zap(uid, sizeof(uid)), 400);
	assert_int_equal(refused, 1);
	/* CURVE with a short credential */
	send_zap("1.0", "CURVE", client_raw, 31, 0);
	assert_int_equal(sg_zap_handle(rep, policy, &refused), 0);
	assert_int_equal(recv_zap(uid, sizeof(uid)), 400);
	assert_int_equal(refused, 2);
}

static void
test_bad_requests(void **state)
{
	uint64_t refused = 0;
	char uid[128];

	send_zap("2.0", "CURVE", client_raw, 32, 0);
	assert_int_equal(sg_zap_handle(rep, policy, &refused), 0);
	assert_int_equal(recv_zap(uid, sizeof(uid)), 500);
	send_zap("1.0", "CURVE", client_raw, 32, 1);
	assert_int_equal(sg_zap_handle(rep, policy, &refused), 0);
	assert_int_equal(recv_zap(uid, sizeof(uid)), 500);
	assert_int_equal(refused, 0);
}

/* Receives one reply with a timeout; returns the status code, or -1 if none came. */
static int
recv_zap_status(char *req_id, size_t req_id_len)
{
	char frames[6][300];
	int i, n, more, timeout = 2000;
	size_t msz = sizeof(more);

	zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	for (i = 0; i < 6; i++) {
		n = zmq_recv(req, frames[i], sizeof(frames[i]) - 1, 0);
		if (n < 0)
			return -1;
		frames[i][n < (int)sizeof(frames[i]) ? n : (int)sizeof(frames[i]) - 1] = '\0';
		zmq_getsockopt(req, ZMQ_RCVMORE, &more, &msz);
		assert_int_equal(more, i < 5);
	}
	assert_string_equal(frames[0], "1.0");
	snprintf(req_id, req_id_len, "%s", frames[1]);
	return atoi(frames[2]);
}

/*
 * Requests too short to carry a request id, or with an overlong one, still
 * get a reply (status 500): a REP socket that does not answer can never
 * receive again, and every later CURVE handshake would hang.
 */
static void
test_unanswerable_requests(void **state)
{
	char long_id[400], rid[300], uid[128];
	uint64_t refused = 0;

	/* one frame only */
	assert_true(zmq_send(req, "1.0", 3, 0) >= 0);
	assert_int_equal(sg_zap_handle(rep, policy, &refused), 0);
	assert_int_equal(recv_zap_status(rid, sizeof(rid)), 500);
	assert_string_equal(rid, "");
	/* a request id longer than a frame the handler keeps */
	memset(long_id, 'x', sizeof(long_id));
	assert_true(zmq_send(req, "1.0", 3, ZMQ_SNDMORE) >= 0);
	assert_true(zmq_send(req, long_id, sizeof(long_id), 0) >= 0);
	assert_int_equal(sg_zap_handle(rep, policy, &refused), 0);
	assert_int_equal(recv_zap_status(rid, sizeof(rid)), 500);
	assert_string_equal(rid, "");
	/* the socket is still in step: a good request is admitted */
	send_zap("1.0", "CURVE", client_raw, 32, 0);
	assert_int_equal(sg_zap_handle(rep, policy, &refused), 0);
	assert_int_equal(recv_zap(uid, sizeof(uid)), 200);
	assert_string_equal(uid, client_pub);
	assert_int_equal(refused, 0);
}

static void
test_draining(void **state)
{
	uint64_t refused = 0;
	char uid[128];

	send_zap("1.0", "CURVE", client_raw, 32, 0);
	assert_int_equal(sg_zap_handle(rep, NULL, &refused), 0);
	assert_int_equal(recv_zap(uid, sizeof(uid)), 400);
	assert_int_equal(refused, 1);
}

static void
test_fingerprint(void **state)
{
	char a[17], b[17];
	unsigned char other[32];

	sg_zap_fingerprint(client_raw, a);
	assert_int_equal(strlen(a), 16);
	assert_int_equal(strspn(a, "0123456789abcdef"), 16);
	/* not the key itself: no 16-hex-digit prefix of the key */
	memcpy(other, client_raw, 32);
	other[0] ^= 0x80;
	sg_zap_fingerprint(other, b);
	assert_string_not_equal(a, b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_key),
	    cmocka_unit_test(test_unknown_key),
	    cmocka_unit_test(test_not_curve),
	    cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_draining),
	    cmocka_unit_test(test_fingerprint),
	    cmocka_unit_test(test_unanswerable_requests),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
