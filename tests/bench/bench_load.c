/* bench_load: see bench_load.h. */
#include "bench_load.h"

#include "sg_err.h"
#include "sg_wire.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BL_PROG "signet-bench"
#define BL_MAX_CLIENTS 256

/* Shared by the client threads of one load phase. */
struct bl_shared {
	const struct bench_load_spec *s;
	atomic_uint ready; /* threads that are connected (or gave up) */
	atomic_int go;     /* set once t_start/t_end are written */
	uint64_t t_start, t_end;
};

/* One request in flight: when it was sent, and what the mode keeps about it. */
struct bl_inflight {
	uint64_t id; /* 0: free */
	uint64_t t_send;
	unsigned char slot[BENCH_SLOT_MAX];
};

struct bl_thr {
	pthread_t tid;
	struct bl_shared *sh;
	unsigned idx;
	int started;
	struct bl_inflight *fl; /* depth entries */
	struct bench_hist *lat; /* latency of the ok replies in the window */
	struct sg_req *req;
	uint64_t ok;
	uint64_t err[BENCH_ERR_SLOTS];
	uint64_t err_outside;
	int failed;
	char why[SIGNET_ERRMSG_MAX + 64];
};

static void
bl_count_err(uint64_t *slots, int err)
{
	int i = -err;

	slots[i > 0 && i < BENCH_ERR_SLOTS ? i : 0]++;
}

static struct bl_inflight *
bl_find(struct bl_thr *t, uint64_t id)
{
	unsigned i;

	for (i = 0; i < t->sh->s->depth; i++) {
		if (t->fl[i].id == id)
			return &t->fl[i];
	}
	return NULL;
}

static void *
bl_client_main(void *arg)
{
	struct bl_thr *t = arg;
	struct bl_shared *sh = t->sh;
	const struct bench_load_spec *s = sh->s;
	struct signet_client *c = NULL;
	struct signet_opts so;
	struct sg_rep rep;
	struct bl_inflight *f;
	enum bench_verdict v;
	uint64_t now;
	unsigned pending = 0;
	int err = 0, r, in_window;

	memset(&rep, 0, sizeof(rep));
	signet_opts_default(&so);
	so.max_inflight = s->depth;
	c = signet_client_open(s->config, &so, &err, t->why, sizeof(t->why));
	atomic_fetch_add(&sh->ready, 1);
	if (c == NULL) {
		t->failed = 1;
		goto out;
	}
	while (!atomic_load(&sh->go))
		usleep(200);
	for (;;) {
		now = bench_now_ns();
		while (now < sh->t_end && pending < s->depth) {
			if ((f = bl_find(t, 0)) == NULL) {
				snprintf(t->why, sizeof(t->why),
				         "signet_client_send: no free slot");
				t->failed = 1;
				goto out;
			}
			if ((r = s->prepare(s->arg, t->idx, t->req, f->slot)) != 0) {
				snprintf(t->why, sizeof(t->why), "request: %s", sg_strerror(r));
				t->failed = 1;
				goto out;
			}
			if (signet_client_send(c, t->req, &f->id) != 0) {
				snprintf(t->why, sizeof(t->why), "signet_client_send: %s",
				         signet_client_errmsg(c));
				t->failed = 1;
				goto out;
			}
			f->t_send = bench_now_ns();
			pending++;
		}
		if (pending == 0)
			break;
		if ((r = signet_client_recv(c, -1, &rep)) != 0) {
			snprintf(t->why, sizeof(t->why), "signet_client_recv: %s", sg_strerror(r));
			t->failed = 1;
			goto out;
		}
		now = bench_now_ns();
		if (rep.id == 0 || (f = bl_find(t, rep.id)) == NULL) {
			snprintf(t->why, sizeof(t->why), "a reply to request %llu, never sent",
			         (unsigned long long)rep.id);
			sg_rep_clear(&rep);
			t->failed = 1;
			goto out;
		}
		in_window = now >= sh->t_start && now < sh->t_end;
		v = s->judge(s->arg, t->idx, &rep, f->slot, in_window);
		if (v == BENCH_REPLY_OK && in_window) {
			t->ok++;
			bench_hist_add(t->lat, now - f->t_send);
		} else if (v == BENCH_REPLY_ERR && in_window) {
			bl_count_err(t->err, rep.err);
		} else if (v == BENCH_REPLY_ERR) {
			t->err_outside++;
		}
		sg_rep_clear(&rep);
		f->id = 0;
		pending--;
	}
out:
	signet_client_free(c);
	return NULL;
}

int
bench_load_run(const struct bench_load_spec *s, struct bench_load_result *res)
{
	struct bl_thr *th = NULL;
	struct bl_shared sh;
	double cpu0, dcpu0 = -1, dcpu1 = -1;
	unsigned i, k, started = 0;
	int r = SG_ERR_INVALID_ARG;

	memset(res, 0, sizeof(*res));
	res->daemon_cpu_s = -1.0;
	if (s == NULL || s->config == NULL || s->prepare == NULL || s->judge == NULL ||
	    s->clients == 0 || s->clients > BL_MAX_CLIENTS || s->depth == 0 ||
	    s->depth > SIGNET_MAX_INFLIGHT)
		return r;
	memset(&sh, 0, sizeof(sh));
	sh.s = s;
	atomic_init(&sh.ready, 0);
	atomic_init(&sh.go, 0);
	r = SG_ERR_NOMEM;
	if ((th = calloc(s->clients, sizeof(*th))) == NULL)
		goto out;
	for (i = 0; i < s->clients; i++) {
		th[i].sh = &sh;
		th[i].idx = i;
		if ((th[i].fl = calloc(s->depth, sizeof(*th[i].fl))) == NULL ||
		    (th[i].lat = calloc(1, sizeof(*th[i].lat))) == NULL ||
		    (th[i].req = calloc(1, sizeof(*th[i].req))) == NULL)
			goto out;
	}
	for (i = 0; i < s->clients; i++) {
		if (pthread_create(&th[i].tid, NULL, bl_client_main, &th[i]) != 0)
			break;
		th[i].started = 1;
		started++;
	}
	while (atomic_load(&sh.ready) < started)
		usleep(1000);
	sh.t_start = bench_now_ns() + (uint64_t)(s->warmup * 1e9);
	sh.t_end = sh.t_start + (uint64_t)(s->seconds * 1e9);
	if (started < s->clients)
		sh.t_start = sh.t_end = bench_now_ns(); /* the started ones run an empty window */
	atomic_store(&sh.go, 1);
	bench_sleep_until(sh.t_start);
	cpu0 = bench_self_cpu_s();
	if (s->daemon_pid > 0)
		dcpu0 = bench_pid_cpu_s(s->daemon_pid);
	bench_sleep_until(sh.t_end);
	res->bench_cpu_s = bench_self_cpu_s() - cpu0;
	if (s->daemon_pid > 0)
		dcpu1 = bench_pid_cpu_s(s->daemon_pid);
	if (dcpu0 >= 0 && dcpu1 >= 0)
		res->daemon_cpu_s = dcpu1 - dcpu0;
	res->window_s = (double)(sh.t_end - sh.t_start) / 1e9;
	r = started == s->clients ? 0 : SG_ERR_INTERNAL;
out:
	for (i = 0; th != NULL && i < s->clients; i++) {
		if (!th[i].started)
			continue;
		pthread_join(th[i].tid, NULL);
		if (th[i].failed) {
			res->failed++;
			fprintf(stderr, BL_PROG ": client %u: %s\n", i, th[i].why);
		}
		res->ok += th[i].ok;
		for (k = 0; k < BENCH_ERR_SLOTS; k++) {
			res->err[k] += th[i].err[k];
			res->errors += th[i].err[k];
		}
		res->err_outside += th[i].err_outside;
		bench_hist_merge(&res->lat, th[i].lat);
	}
	for (i = 0; th != NULL && i < s->clients; i++) {
		free(th[i].fl);
		free(th[i].lat);
		free(th[i].req);
	}
	free(th);
	return r;
}

void
bench_format_errors(const uint64_t *err, char *buf, size_t len)
{
	size_t used = 0;
	int k, w;

	buf[0] = '\0';
	for (k = 0; k < BENCH_ERR_SLOTS; k++) {
		if (err[k] == 0)
			continue;
		w = snprintf(buf + used, len - used, "%s%s:%llu", used > 0 ? "," : "",
		             k == 0 ? "unknown" : sg_err_name(-k), (unsigned long long)err[k]);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	if (used == 0)
		snprintf(buf, len, "none");
}
