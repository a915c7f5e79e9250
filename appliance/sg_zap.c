/* sg_zap: see sg_zap.h. */
#include "sg_zap.h"
#include "sg_err.h"
#include "sg_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <zmq.h>

#define SG_ZAP_FRAMES 7
#define SG_ZAP_FRAME_MAX 256

void
sg_zap_fingerprint(const unsigned char pub[32], char out[17])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int i;

	if (EVP_Digest(pub, 32, md, &mdlen, EVP_sha256(), NULL) != 1) {
		strcpy(out, "????????????????");
		return;
	}
	for (i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int
sg_zap_send(void *zap, const char *frame, size_t len, int more)
{
	return zmq_send(zap, frame, len, more ? ZMQ_SNDMORE : 0) < 0 ? SG_ERR_IO : 0;
}

static int
sg_zap_reply(void *zap, const char *req_id, size_t req_id_len, const char *status, const char *text,
             const char *user_id)
{
	int r;

	if ((r = sg_zap_send(zap, "1.0", 3, 1)) != 0 ||
	    (r = sg_zap_send(zap, req_id, req_id_len, 1)) != 0 ||
	    (r = sg_zap_send(zap, status, strlen(status), 1)) != 0 ||
	    (r = sg_zap_send(zap, text, strlen(text), 1)) != 0 ||
	    (r = sg_zap_send(zap, user_id, strlen(user_id), 1)) != 0 ||
	    (r = sg_zap_send(zap, "", 0, 0)) != 0)
		return r;
	return 0;
}

int
sg_zap_handle(void *zap, const struct sg_policy *policy, uint64_t *refused)
{
	char frames[SG_ZAP_FRAMES][SG_ZAP_FRAME_MAX];
	size_t lens[SG_ZAP_FRAMES];
	char fp[17], user_id[41];
	const struct sg_policy_client *c;
	size_t n = 0;
	int more = 1, len, extra = 0;
	size_t msz = sizeof(more);

	/* Read every frame, keeping at most SG_ZAP_FRAMES, so the REP socket stays in step. */
	while (more) {
		char tmp[SG_ZAP_FRAME_MAX];

		len = zmq_recv(zap, n < SG_ZAP_FRAMES ? frames[n] : tmp, SG_ZAP_FRAME_MAX, 0);
		if (len < 0)
			return errno == ETERM ? SG_ERR_SHUTTING_DOWN : SG_ERR_IO;
		if (n < SG_ZAP_FRAMES)
			lens[n] =
			    (size_t)len > SG_ZAP_FRAME_MAX ? SG_ZAP_FRAME_MAX + 1 : (size_t)len;
		else
			extra = 1;
		n++;
		if (zmq_getsockopt(zap, ZMQ_RCVMORE, &more, &msz) != 0)
			return SG_ERR_IO;
	}
	/* No request id to echo: answer anyway (with an empty one), or the REP
	 * socket could never receive again and every later handshake would hang. */
	if (n < 2 || lens[1] > SG_ZAP_FRAME_MAX)
		return sg_zap_reply(zap, "", 0, "500", "bad ZAP request", "");
	if (n != SG_ZAP_FRAMES || extra || lens[0] != 3 || memcmp(frames[0], "1.0", 3) != 0)
		return sg_zap_reply(zap, frames[1], lens[1], "500", "bad ZAP request", "");
	if (lens[5] != 5 || memcmp(frames[5], "CURVE", 5) != 0 || lens[6] != 32) {
		(*refused)++;
		sg_warn("refused a connection without CURVE authentication");
		return sg_zap_reply(zap, frames[1], lens[1], "400", "CURVE required", "");
	}
	if (policy == NULL) {
		(*refused)++;
		return sg_zap_reply(zap, frames[1], lens[1], "400", "shutting down", "");
	}
	if ((c = sg_policy_client_by_pubkey(policy, (unsigned char *)frames[6])) == NULL) {
		(*refused)++;
		sg_zap_fingerprint((unsigned char *)frames[6], fp);
		sg_warn("refused unknown CURVE client key (fingerprint %s)", fp);
		return sg_zap_reply(zap, frames[1], lens[1], "400", "unknown client", "");
	}
	if (zmq_z85_encode(user_id, (uint8_t *)frames[6], 32) == NULL)
		return sg_zap_reply(zap, frames[1], lens[1], "500", "internal error", "");
	sg_debug("admitted client %s", sg_policy_client_name(c));
	return sg_zap_reply(zap, frames[1], lens[1], "200", "OK", user_id);
}
