/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* --once: each chosen account synced once on a pool of worker threads. */

#include "autoconf.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "once.h"
#include "progress.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "xmalloc.h"

/* One account's run. */
struct once_job {
	const struct account	*a;
	struct sync_result	 r;
	struct err		 e;
	int			 rc;
	int64_t			 start_ms;
	int64_t			 end_ms;
};

/* What the worker threads share. */
struct once_pool {
	struct once_job		*jobs;
	size_t			 njobs;
	size_t			 next;		/* the next job to take */
	pthread_mutex_t		 lock;		/* next, progress */
	struct sync_shared	 sh;
	struct progress		*progress;	/* NULL: not a terminal */
};

static void	 once_progress(void *, const struct sync_progress *);
static void	*once_worker(void *);

/* sync_account's progress callback. */
static void
once_progress(void *arg, const struct sync_progress *pr)
{
	struct once_pool	*o = arg;
	size_t			 i;

	if (o->progress == NULL)
		return;
	pthread_mutex_lock(&o->lock);
	for (i = 0; i < o->njobs; i++)
		if (strcmp(o->jobs[i].a->name, pr->account) == 0)
			progress_update(o->progress, i, pr, util_now_ms());
	pthread_mutex_unlock(&o->lock);
}

/* Take jobs until none is left. */
static void *
once_worker(void *arg)
{
	struct once_pool	*o = arg;
	struct once_job		*j;
	size_t			 slot = 0;

	for (;;) {
		pthread_mutex_lock(&o->lock);
		j = NULL;
		if (o->next < o->njobs) {
			slot = o->next++;
			j = &o->jobs[slot];
			j->start_ms = util_now_ms();
			if (o->progress != NULL)
				progress_start(o->progress, slot, j->a->name,
				    j->start_ms);
		}
		pthread_mutex_unlock(&o->lock);
		if (j == NULL)
			return NULL;

		err_clear(&j->e);
		j->rc = sync_account(j->a, &o->sh, &j->r, &j->e);
		if (j->rc < 0) {
			log_set_context(j->a->name, NULL);
			log_error("%s", j->e.msg);
			log_set_context(NULL, NULL);
		}

		pthread_mutex_lock(&o->lock);
		j->end_ms = util_now_ms();
		if (o->progress != NULL)
			progress_end(o->progress, slot, j->end_ms);
		pthread_mutex_unlock(&o->lock);
	}
}

int
once_run(const struct config *cfg, char *const *names, size_t n,
    FILE *out, FILE *progress, const atomic_int *abort_flag,
    const atomic_int *hard_abort, struct err *e)
{
	struct once_pool	 o;
	const struct account	*a;
	pthread_t		*tids = NULL;
	size_t			 i, nthreads = 0, started = 0;
	int			 rc = 0;
	char			 line[512];

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
	o.sh.abort_flag = abort_flag;
	o.sh.hard_abort = hard_abort;
	o.sh.progress = once_progress;
	o.sh.progress_arg = &o;
	if (progress != NULL)
		o.progress = progress_new(progress, o.njobs);

	nthreads = o.njobs < (size_t)cfg->max_parallel ? o.njobs :
	    (size_t)cfg->max_parallel;
	tids = xcalloc(nthreads, sizeof(*tids));
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&tids[i], NULL, once_worker, &o) != 0)
			break;
		started++;
	}
	/* With no thread at all, run the jobs here. */
	if (started == 0)
		once_worker(&o);
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	progress_free(o.progress);
	o.progress = NULL;

	for (i = 0; i < o.njobs; i++) {
		progress_summary(line, sizeof(line), o.jobs[i].a->name,
		    &o.jobs[i].r, o.jobs[i].end_ms - o.jobs[i].start_ms);
		if (out != NULL)
			fprintf(out, "%s\n", line);
		if (o.jobs[i].rc < 0 && rc == 0) {
			rc = o.jobs[i].rc;
			*e = o.jobs[i].e;
		}
	}
	pthread_mutex_destroy(&o.lock);
out:
	store_close(o.sh.store);
	free(tids);
	free(o.jobs);
	return rc;
}
