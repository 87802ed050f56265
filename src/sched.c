/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Running account syncs on worker threads, at most max_parallel at once. */

#include "autoconf.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "sched.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "xmalloc.h"

/* Redraw the progress line at most this often. */
#define SCHED_PROGRESS_MS	200

/* One account's run. */
struct sched_job {
	const struct account	*a;
	struct sync_result	 r;
	struct err		 e;
	int			 rc;
	bool			 running;
	int64_t			 start_ms;
	int64_t			 end_ms;
	struct sync_progress	 pr;
};

/* What the worker threads share. */
struct sched_once {
	struct sched_job	*jobs;
	size_t			 njobs;
	size_t			 next;		/* the next job to take */
	pthread_mutex_t		 lock;		/* next, jobs[].pr, drawing */
	pthread_mutex_t		 store_lock;
	struct sync_shared	 sh;
	FILE			*progress;
	int64_t			 drawn_ms;
};

static void	 sched_bytes(char *, size_t, double);
static void	 sched_draw(struct sched_once *, bool);
static void	 sched_progress(void *, const struct sync_progress *);
static void	*sched_worker(void *);
static void	 sched_summary(FILE *, const struct sched_job *);

/* A byte count for people: "512 B", "1.2 MB". */
static void
sched_bytes(char *buf, size_t len, double b)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
	size_t			 u = 0;

	while (b >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		b /= 1000;
		u++;
	}
	snprintf(buf, len, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
}

/* Redraw the progress line (caller holds o->lock). */
static void
sched_draw(struct sched_once *o, bool force)
{
	struct sched_job	*j;
	int64_t			 now = util_now_ms();
	char			 b[32], rate[32];
	size_t			 i;
	bool			 any = false;

	if (o->progress == NULL ||
	    (!force && now - o->drawn_ms < SCHED_PROGRESS_MS))
		return;
	o->drawn_ms = now;
	fputs("\r\033[K", o->progress);
	for (i = 0; i < o->njobs; i++) {
		j = &o->jobs[i];
		if (!j->running)
			continue;
		sched_bytes(b, sizeof(b), (double)j->pr.bytes);
		sched_bytes(rate, sizeof(rate), now > j->start_ms ?
		    (double)j->pr.bytes * 1000 / (double)(now - j->start_ms) :
		    0);
		fprintf(o->progress, "%s%s %zu/%zu %s %s/s", any ? " | " : "",
		    j->a->name, j->pr.done, j->pr.total, b, rate);
		any = true;
	}
	fflush(o->progress);
}

/* sync_account's progress callback. */
static void
sched_progress(void *arg, const struct sync_progress *pr)
{
	struct sched_once	*o = arg;
	size_t			 i;

	pthread_mutex_lock(&o->lock);
	for (i = 0; i < o->njobs; i++)
		if (strcmp(o->jobs[i].a->name, pr->account) == 0)
			o->jobs[i].pr = *pr;
	sched_draw(o, false);
	pthread_mutex_unlock(&o->lock);
}

/* Take jobs until none is left. */
static void *
sched_worker(void *arg)
{
	struct sched_once	*o = arg;
	struct sched_job	*j;

	for (;;) {
		pthread_mutex_lock(&o->lock);
		j = o->next < o->njobs ? &o->jobs[o->next++] : NULL;
		if (j != NULL) {
			j->running = true;
			j->start_ms = util_now_ms();
		}
		pthread_mutex_unlock(&o->lock);
		if (j == NULL)
			return NULL;

		err_clear(&j->e);
		j->rc = sync_account(j->a, &o->sh, &j->r, &j->e);
		if (j->rc < 0)
			log_error("%s", j->e.msg);

		pthread_mutex_lock(&o->lock);
		j->running = false;
		j->end_ms = util_now_ms();
		sched_draw(o, true);
		pthread_mutex_unlock(&o->lock);
	}
}

/* The line that ends each account's run. */
static void
sched_summary(FILE *out, const struct sched_job *j)
{
	char	b[32];

	sched_bytes(b, sizeof(b), (double)j->r.bytes);
	fprintf(out, "%s: %zu new, %zu skipped, %zu deleted, %zu error%s "
	    "(%s in %.1f s)\n", j->a->name, j->r.fetched + j->r.recovered,
	    j->r.skipped, j->r.deleted, j->r.errors,
	    j->r.errors == 1 ? "" : "s", b,
	    (double)(j->end_ms - j->start_ms) / 1000);
}

int
sched_once(const struct config *cfg, char *const *names, size_t n,
    FILE *out, FILE *progress, const volatile sig_atomic_t *abort_flag,
    struct err *e)
{
	struct sched_once	 o;
	const struct account	*a;
	pthread_t		*tids = NULL;
	size_t			 i, nthreads = 0, started = 0;
	int			 rc = 0;

	memset(&o, 0, sizeof(o));
	for (i = 0; i < n; i++)
		if (config_find(cfg, names[i]) == NULL)
			return err_set(e, E_USAGE, "%s: no account named %s",
			    cfg->path, names[i]);
	TAILQ_FOREACH(a, &cfg->accounts, entry) {
		for (i = 0; i < n && strcmp(names[i], a->name) != 0; i++)
			;
		if (n == 0 || i < n)
			o.njobs++;
	}
	o.jobs = xcalloc(o.njobs, sizeof(*o.jobs));
	o.njobs = 0;
	TAILQ_FOREACH(a, &cfg->accounts, entry) {
		for (i = 0; i < n && strcmp(names[i], a->name) != 0; i++)
			;
		if (n == 0 || i < n)
			o.jobs[o.njobs++].a = a;
	}

	if ((rc = store_open(cfg->state_db, &o.sh.store, e)) < 0) {
		log_error("%s", e->msg);
		goto out;
	}
	pthread_mutex_init(&o.lock, NULL);
	pthread_mutex_init(&o.store_lock, NULL);
	o.sh.store_lock = &o.store_lock;
	o.sh.abort_flag = abort_flag;
	o.sh.progress = sched_progress;
	o.sh.progress_arg = &o;
	o.progress = progress;

	nthreads = o.njobs < (size_t)cfg->max_parallel ? o.njobs :
	    (size_t)cfg->max_parallel;
	tids = xcalloc(nthreads, sizeof(*tids));
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&tids[i], NULL, sched_worker, &o) != 0)
			break;
		started++;
	}
	/* With no thread at all, run the jobs here. */
	if (started == 0)
		sched_worker(&o);
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (progress != NULL) {
		fputs("\r\033[K", progress);
		fflush(progress);
	}

	for (i = 0; i < o.njobs; i++) {
		sched_summary(out, &o.jobs[i]);
		if (o.jobs[i].rc < 0 && rc == 0) {
			rc = o.jobs[i].rc;
			*e = o.jobs[i].e;
		}
	}
	pthread_mutex_destroy(&o.lock);
	pthread_mutex_destroy(&o.store_lock);
out:
	store_close(o.sh.store);
	free(tids);
	free(o.jobs);
	return rc;
}
