/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* The daemon's loop: a run queue of accounts, signals and reload. */

#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "progress.h"
#include "sdnotify.h"
#include "sched.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "xmalloc.h"

/*
 * The daemon: a run queue of accounts, each with its next poll time, and a
 * main loop that polls a self-pipe.  Signal handlers and finished workers
 * write one byte to the pipe; the loop's timeout is the earliest due poll
 * or watchdog ping.
 */

/* Backoff caps: temporary failures grow to this, permanent ones wait it. */
#define SCHED_BACKOFF_CAP	3600
/* The first poll of each account lands within this many seconds. */
#define SCHED_START_JITTER	5

/* A config and the syncs still running on its accounts. */
struct sched_cfg {
	TAILQ_ENTRY(sched_cfg)	 entry;
	struct config		*cfg;
	int			 refs;		/* running syncs + 1 if current */
};

/* One account in the run queue. */
struct sched_acct {
	TAILQ_ENTRY(sched_acct)	 entry;
	struct sched_daemon	*d;
	char			*name;
	const struct account	*a;		/* current settings; NULL once
						 * removed by a reload */
	int64_t			 next_ms;	/* monotonic time of next poll */
	int			 fails;		/* consecutive failed polls */
	char			 lasterr[ERR_MSGLEN];
	char			 why[ERR_MSGLEN]; /* lasterr without the name */
	/* The running sync; the worker owns these until done is set. */
	bool			 running;
	bool			 done;		/* under d->lock */
	int64_t			 beat_ms;	/* under d->lock */
	pthread_t		 tid;
	struct sched_cfg	*run_cfg;
	const struct account	*run_a;
	struct sync_shared	 sh;
	struct sync_result	 r;
	struct err		 e;
	int			 rc;
	int64_t			 start_ms;
};

TAILQ_HEAD(sched_acct_list, sched_acct);
TAILQ_HEAD(sched_cfg_list, sched_cfg);

struct sched_daemon {
	char			*path;		/* the config file to reload */
	bool			 level_fixed;	/* -v beats log_level */
	struct sched_cfg	*cur;
	struct sched_cfg_list	 cfgs;
	struct sched_acct_list	 accts;
	struct store		*store;
	pthread_mutex_t		 lock;		/* done, beat_ms */
	size_t			 running;
	int64_t			 wd_ms;		/* watchdog interval, or 0 */
	int64_t			 wd_next_ms;
	char			 last[160];	/* the last sync, for STATUS */
	const struct sched_clock *clock;
	char			 reload_err[ERR_MSGLEN]; /* until a reload works */
};

/* Set by the signal handler, read by the sync threads: C11 lets a handler
 * store a lock-free atomic, and makes the threads' reads race-free. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic_int must be lock-free");
static atomic_int	 sched_sig_term;
static atomic_int	 sched_sig_hup;
static atomic_int	 sched_sig_usr1;
/* Stopping took longer than the accounts' timeout: cut every wait. */
static atomic_int	 sched_hard_stop;
static int			 sched_pipe[2] = { -1, -1 };

static void	 sched_on_signal(int);
static int	 sched_signals(struct err *);
static void	 sched_wake(void);
static int64_t	 sched_jitter(int64_t);
static void	 sched_beat(void *);
static void	 sched_beat_progress(void *, const struct sync_progress *);
static void	*sched_daemon_worker(void *);
static struct sched_acct *sched_acct_add(struct sched_daemon *,
		    const struct account *, int64_t);
static void	 sched_acct_free(struct sched_acct *);
static void	 sched_cfg_unref(struct sched_daemon *, struct sched_cfg *);
static void	 sched_start(struct sched_daemon *, struct sched_acct *,
		    int64_t);
static void	 sched_reap(struct sched_daemon *, struct sched_acct *,
		    int64_t);
static void	 sched_reload(struct sched_daemon *, int64_t);
static void	 sched_status(struct sched_daemon *, int64_t, bool);
static void	 sched_watchdog(struct sched_daemon *, int64_t);
static int64_t	 sched_timeout(struct sched_daemon *, int64_t, bool);
static int	 sched_max_timeout(struct sched_daemon *);
static int64_t	 sched_real_now(void *);
static time_t	 sched_real_wall(void *);
static int	 sched_real_wait(void *, int, int, size_t);

/* The real clock: the monotonic clock, the time of day and poll(2). */
static const struct sched_clock sched_real_clock = {
	sched_real_now, sched_real_wall, sched_real_wait, NULL
};

static int64_t
sched_real_now(void *arg)
{
	(void)arg;
	return util_now_ms();
}

static time_t
sched_real_wall(void *arg)
{
	(void)arg;
	return time(NULL);
}

static int
sched_real_wait(void *arg, int fd, int timeout_ms, size_t running)
{
	struct pollfd	pfd;

	(void)arg;
	(void)running;
	pfd.fd = fd;
	pfd.events = POLLIN;
	return poll(&pfd, 1, timeout_ms);
}

/* Handlers only set a flag and wake the loop (errno is kept). */
static void
sched_on_signal(int sig)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		sched_sig_term = 1;
		break;
	case SIGHUP:
		sched_sig_hup = 1;
		break;
	case SIGUSR1:
		sched_sig_usr1 = 1;
		break;
	default:
		break;
	}
	sched_wake();
}

/* Write one byte to the self-pipe; a full pipe already wakes the loop. */
static void
sched_wake(void)
{
	int	saved = errno;
	ssize_t	n;

	n = write(sched_pipe[1], "x", 1);
	(void)n;
	errno = saved;
}

/* The self-pipe and the handlers for TERM, INT, HUP and USR1. */
static int
sched_signals(struct err *e)
{
	struct sigaction	sa;
	int			i, fl;

	if (pipe(sched_pipe) == -1)
		return err_set(e, E_IO, "pipe: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		fl = fcntl(sched_pipe[i], F_GETFL);
		fcntl(sched_pipe[i], F_SETFL, fl | O_NONBLOCK);
		fcntl(sched_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sched_on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return 0;
}

int64_t
sched_delay_ms(int interval, int fails, bool temporary, long login_delay,
    int64_t jitter_ms)
{
	int64_t	cap, delay;
	int	shift;

	cap = interval > SCHED_BACKOFF_CAP ? interval : SCHED_BACKOFF_CAP;
	if (fails <= 0)
		delay = (int64_t)interval * 1000 + jitter_ms;
	else if (temporary) {
		shift = fails - 1 < 20 ? fails - 1 : 20;
		delay = (int64_t)interval << shift;
		delay = (delay > cap ? cap : delay) * 1000;
	} else
		delay = cap * 1000;
	/* The server asked for this much time between logins. */
	if (login_delay > 0 && delay < (int64_t)login_delay * 1000)
		delay = (int64_t)login_delay * 1000;
	return delay;
}

/* A random delay in [0, max_ms]: accounts must not all fire together. */
static int64_t
sched_jitter(int64_t max_ms)
{
	return max_ms <= 0 ? 0 : (int64_t)(random() % (max_ms + 1));
}

/* The session's idle hook: this sync is alive, if slow. */
static void
sched_beat(void *arg)
{
	struct sched_acct	*s = arg;

	pthread_mutex_lock(&s->d->lock);
	s->beat_ms = s->d->clock->now_ms(s->d->clock->arg);
	pthread_mutex_unlock(&s->d->lock);
}

static void
sched_beat_progress(void *arg, const struct sync_progress *pr)
{
	(void)pr;
	sched_beat(arg);
}

/* One sync on its own thread; the main loop joins it when done is set. */
static void *
sched_daemon_worker(void *arg)
{
	struct sched_acct	*s = arg;

	err_clear(&s->e);
	s->rc = sync_account(s->run_a, &s->sh, &s->r, &s->e);
	pthread_mutex_lock(&s->d->lock);
	s->done = true;
	pthread_mutex_unlock(&s->d->lock);
	sched_wake();
	return NULL;
}

/* Queue an account for its first poll at now plus a little jitter. */
static struct sched_acct *
sched_acct_add(struct sched_daemon *d, const struct account *a, int64_t now)
{
	struct sched_acct	*s;
	int64_t			 spread;

	s = xcalloc(1, sizeof(*s));
	s->d = d;
	s->name = xstrdup(a->name);
	s->a = a;
	spread = a->interval / 10 < SCHED_START_JITTER ? a->interval / 10 :
	    SCHED_START_JITTER;
	s->next_ms = now + sched_jitter(spread * 1000);
	TAILQ_INSERT_TAIL(&d->accts, s, entry);
	return s;
}

static void
sched_acct_free(struct sched_acct *s)
{
	if (s == NULL)
		return;
	free(s->name);
	free(s);
}

/* Drop one reference; free a config nobody uses any more. */
static void
sched_cfg_unref(struct sched_daemon *d, struct sched_cfg *c)
{
	if (--c->refs > 0)
		return;
	TAILQ_REMOVE(&d->cfgs, c, entry);
	config_free(c->cfg);
	free(c);
}

/* Start a sync of s on a new thread. */
static void
sched_start(struct sched_daemon *d, struct sched_acct *s, int64_t now)
{
	sigset_t	block, old;
	int		rc;

	s->run_cfg = d->cur;
	s->run_cfg->refs++;
	s->run_a = s->a;
	memset(&s->r, 0, sizeof(s->r));
	s->sh.store = d->store;
	s->sh.abort_flag = &sched_sig_term;
	s->sh.progress = sched_beat_progress;
	s->sh.progress_arg = s;
	s->sh.idle = sched_beat;
	s->sh.idle_arg = s;
	s->sh.hard_abort = &sched_hard_stop;
	s->sh.wall = d->clock->wall;
	s->sh.wall_arg = d->clock->arg;
	s->done = false;
	s->beat_ms = now;
	s->start_ms = now;
	/* Signals are the main loop's: the thread starts with them blocked,
	 * so none interrupts a worker's system call. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&s->tid, NULL, sched_daemon_worker, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		/* Out of threads is temporary: try again at the next wake. */
		log_set_context(s->name, NULL);
		log_warnx("%s: cannot start a thread: %s; retrying in 10 s",
		    s->name, strerror(rc));
		log_set_context(NULL, NULL);
		sched_cfg_unref(d, s->run_cfg);
		s->run_cfg = NULL;
		s->next_ms = now + 10000;
		return;
	}
	s->running = true;
	d->running++;
}

/* A sync ended: log it once, and work out when to poll next. */
static void
sched_reap(struct sched_daemon *d, struct sched_acct *s, int64_t now)
{
	char		line[512];
	const char	*msg;
	int64_t		delay;

	pthread_join(s->tid, NULL);
	s->running = false;
	d->running--;
	progress_summary(line, sizeof(line), s->name, &s->r, now - s->start_ms);
	/* journalctl ACCOUNT=NAME finds what this thread says of it too. */
	log_set_context(s->name, NULL);

	if (s->rc == 0) {
		/* An empty poll is news to nobody: 288 lines a day at 5 min. */
		if (s->r.fetched + s->r.recovered + s->r.skipped +
		    s->r.deleted + s->r.failed == 0)
			log_debug("%s", line);
		else
			log_info("%s", line);
		if (s->fails > 0)
			log_info("%s: ok again after %d failed poll%s",
			    s->name, s->fails, s->fails == 1 ? "" : "s");
		s->fails = 0;
		s->lasterr[0] = '\0';
		s->why[0] = '\0';
		snprintf(d->last, sizeof(d->last), "%s ok, %zu new", s->name,
		    s->r.fetched + s->r.recovered);
	} else if (s->rc == E_ABORT && sched_sig_term) {
		log_info("%s: stopped (%s)", s->name, s->e.msg);
	} else {
		s->fails++;
		/* The message starts with the account name already. */
		if ((msg = err_after_prefix(&s->e, s->name)) == NULL)
			msg = s->e.msg;
		snprintf(d->last, sizeof(d->last), "%s failed: %.100s",
		    s->name, msg);
		snprintf(s->why, sizeof(s->why), "%s", msg);
	}
	delay = sched_delay_ms(s->run_a->interval, s->fails,
	    s->rc < 0 && err_is_temporary(&s->e), s->r.login_delay,
	    sched_jitter((int64_t)s->run_a->interval * 100));
	if (s->fails > 0 && strcmp(s->lasterr, s->e.msg) != 0) {
		/* Log a failure when it changes, not at every poll. */
		log_error("%s (%s; next poll in %lld s)", s->e.msg,
		    err_is_temporary(&s->e) ? "temporary" : "permanent",
		    (long long)(delay / 1000));
		snprintf(s->lasterr, sizeof(s->lasterr), "%s", s->e.msg);
	} else if (s->fails > 0)
		log_debug("%s (again: %d failed polls; next in %lld s)",
		    s->e.msg, s->fails, (long long)(delay / 1000));
	s->next_ms = now + delay;

	sched_cfg_unref(d, s->run_cfg);
	s->run_cfg = NULL;
	s->run_a = NULL;
	if (s->a == NULL) {
		/* Removed by a reload while it ran. */
		log_info("%s: removed from the config; no longer polled",
		    s->name);
		TAILQ_REMOVE(&d->accts, s, entry);
		sched_acct_free(s);
	}
	log_set_context(NULL, NULL);
}

/* SIGHUP: load the config again; keep the old one if the new one fails. */
static void
sched_reload(struct sched_daemon *d, int64_t now)
{
	struct config		*cfg = NULL;
	struct sched_cfg	*c;
	struct sched_acct	*s, *tmp;
	struct account		*a;
	struct err		 e;

	sdnotify_reloading();
	log_info("reloading %s", d->path);
	if (config_load(d->path, &cfg, &e) < 0) {
		log_error("reload: %s; keeping the old config", e.msg);
		snprintf(d->reload_err, sizeof(d->reload_err), "%s", e.msg);
		goto out;
	}
	d->reload_err[0] = '\0';
	if (strcmp(cfg->state_db, d->cur->cfg->state_db) != 0)
		log_warnx("reload: state_db changed to %s; still using %s "
		    "until a restart", cfg->state_db, d->cur->cfg->state_db);
	if (!d->level_fixed)
		log_set_level(cfg->log_level);

	c = xcalloc(1, sizeof(*c));
	c->cfg = cfg;
	c->refs = 1;
	TAILQ_INSERT_TAIL(&d->cfgs, c, entry);
	sched_cfg_unref(d, d->cur);
	d->cur = c;

	/* Removed accounts stop after their current sync (sched_reap). */
	for (s = TAILQ_FIRST(&d->accts); s != NULL; s = tmp) {
		tmp = TAILQ_NEXT(s, entry);
		s->a = config_find(cfg, s->name);
		if (s->a == NULL && !s->running) {
			log_set_context(s->name, NULL);
			log_info("%s: removed from the config", s->name);
			log_set_context(NULL, NULL);
			TAILQ_REMOVE(&d->accts, s, entry);
			sched_acct_free(s);
		}
	}
	TAILQ_FOREACH(a, &cfg->accounts, entry) {
		TAILQ_FOREACH(s, &d->accts, entry)
			if (strcmp(s->name, a->name) == 0)
				break;
		if (s == NULL) {
			log_set_context(a->name, NULL);
			log_info("%s: added", a->name);
			log_set_context(NULL, NULL);
			sched_acct_add(d, a, now);
		}
	}
	log_info("reloaded %s", d->path);
out:
	sched_status(d, now, true);
}

/*
 * STATUS=, with READY=1 if ready: how many accounts, how many fail and the
 * first of them with its reason, what runs now (or the last sync), and
 * the next poll: "2 accounts, 1 failing (work: authentication failed);
 * next poll 01:28".
 */
static void
sched_status(struct sched_daemon *d, int64_t now, bool ready)
{
	struct sched_acct	*s, *fail = NULL, *run = NULL;
	char			 status[512], next[16];
	int64_t			 first = INT64_MAX;
	time_t			 t;
	struct tm		 tm;
	size_t			 n = 0, nfail = 0, nrun = 0;
	int			 len;

	TAILQ_FOREACH(s, &d->accts, entry) {
		if (s->a == NULL)
			continue;
		n++;
		if (s->fails > 0 && nfail++ == 0)
			fail = s;
		if (s->running && nrun++ == 0)
			run = s;
		if (!s->running && s->next_ms < first)
			first = s->next_ms;
	}
	/* A rejected reload stays in view until a reload succeeds. */
	len = snprintf(status, sizeof(status), "%s%.200s%s%zu account%s",
	    d->reload_err[0] != '\0' ? "reload failed, old config running: " :
	    "", d->reload_err, d->reload_err[0] != '\0' ? "; " : "", n,
	    n == 1 ? "" : "s");
	if (fail != NULL)
		len += snprintf(status + len, sizeof(status) - (size_t)len,
		    ", %zu failing (%s: %.60s)", nfail, fail->name, fail->why);
	if (run != NULL && nrun > 1)
		len += snprintf(status + len, sizeof(status) - (size_t)len,
		    "; syncing %s and %zu more", run->name, nrun - 1);
	else if (run != NULL)
		len += snprintf(status + len, sizeof(status) - (size_t)len,
		    "; syncing %s", run->name);
	else if (fail == NULL)
		len += snprintf(status + len, sizeof(status) - (size_t)len,
		    "; last: %s", d->last[0] != '\0' ? d->last : "none");
	if (first != INT64_MAX && len > 0 && (size_t)len < sizeof(status)) {
		t = d->clock->wall(d->clock->arg) +
		    (time_t)((first > now ? first - now : 0) / 1000);
		localtime_r(&t, &tm);
		strftime(next, sizeof(next), "%H:%M", &tm);
		snprintf(status + len, sizeof(status) - (size_t)len,
		    "; next poll %s", next);
	}
	if (ready)
		sdnotify_ready(status);
	else
		sdnotify_status(status);
}

/* Ping the watchdog while every running sync shows life. */
static void
sched_watchdog(struct sched_daemon *d, int64_t now)
{
	struct sched_acct	*s;
	bool			 alive = true;

	if (d->wd_ms == 0 || now < d->wd_next_ms)
		return;
	pthread_mutex_lock(&d->lock);
	TAILQ_FOREACH(s, &d->accts, entry)
		if (s->running && !s->done && now - s->beat_ms > d->wd_ms)
			alive = false;
	pthread_mutex_unlock(&d->lock);
	if (!alive) {
		/* A hung thread: let systemd see it and restart us. */
		log_debug("watchdog: a sync shows no life; not pinging");
		d->wd_next_ms = now + d->wd_ms / 4;
		return;
	}
	sdnotify_watchdog();
	d->wd_next_ms = now + d->wd_ms / 2;
}

/* How long poll() may sleep: until a poll is due or the watchdog. */
static int64_t
sched_timeout(struct sched_daemon *d, int64_t now, bool stopping)
{
	struct sched_acct	*s;
	int64_t			 t = 60000;

	if (!stopping && d->running < (size_t)d->cur->cfg->max_parallel)
		TAILQ_FOREACH(s, &d->accts, entry)
			if (!s->running && s->a != NULL && s->next_ms - now < t)
				t = s->next_ms - now;
	if (d->wd_ms > 0 && d->wd_next_ms - now < t)
		t = d->wd_next_ms - now;
	if (stopping && t > 1000)
		t = 1000;	/* to notice when to break off */
	return t < 0 ? 0 : t;
}

/* The longest timeout among the accounts of running syncs. */
static int
sched_max_timeout(struct sched_daemon *d)
{
	struct sched_acct	*s;
	int			 t = 1;

	TAILQ_FOREACH(s, &d->accts, entry)
		if (s->running && s->run_a->timeout > t)
			t = s->run_a->timeout;
	return t;
}

int
sched_daemon(const char *path, struct config *cfg, bool level_fixed,
    const struct sched_clock *clock, struct err *e)
{
	struct sched_daemon	 d;
	struct sched_acct	*s, *tmp, *best;
	struct sched_cfg	*c;
	struct account		*a;
	char			 drain[64];
	int64_t			 now, hard_ms = 0;
	bool			 done, stopping = false, started = false;
	int			 rc, i;

	memset(&d, 0, sizeof(d));
	d.path = xstrdup(path);
	d.level_fixed = level_fixed;
	d.clock = clock != NULL ? clock : &sched_real_clock;
	TAILQ_INIT(&d.cfgs);
	TAILQ_INIT(&d.accts);
	d.cur = xcalloc(1, sizeof(*d.cur));
	d.cur->cfg = cfg;
	d.cur->refs = 1;
	TAILQ_INSERT_TAIL(&d.cfgs, d.cur, entry);
	pthread_mutex_init(&d.lock, NULL);
	srandom((unsigned)(time(NULL) ^ getpid()));

	/* A second run in one process (the tests) starts afresh. */
	sched_sig_term = sched_sig_hup = sched_sig_usr1 = sched_hard_stop = 0;
	if ((rc = sched_signals(e)) < 0)
		goto out;
	if ((rc = store_open(cfg->state_db, &d.store, e)) < 0)
		goto out;
	now = d.clock->now_ms(d.clock->arg);
	TAILQ_FOREACH(a, &cfg->accounts, entry)
		sched_acct_add(&d, a, now);
	d.wd_ms = sdnotify_watchdog_ms();
	d.wd_next_ms = now;
	log_info("started with %s, state in %s", cfg->path, cfg->state_db);
	sched_status(&d, now, true);

	for (;;) {
		now = d.clock->now_ms(d.clock->arg);
		if (sched_sig_term && !stopping) {
			stopping = true;
			sdnotify_stopping();
			log_info("stopping: %zu sync%s still running", d.running,
			    d.running == 1 ? "" : "s");
			hard_ms = now + sched_max_timeout(&d) * 1000;
		}
		if (stopping && !sched_hard_stop && now >= hard_ms) {
			/* A sync still waits on a slow server: end it; the
			 * message it was on is fetched next time. */
			log_warnx("stopping: syncs still running after the "
			    "timeout; breaking off");
			sched_hard_stop = 1;
		}
		/* Reap what finished. */
		for (s = TAILQ_FIRST(&d.accts); s != NULL; s = tmp) {
			tmp = TAILQ_NEXT(s, entry);
			if (!s->running)
				continue;
			pthread_mutex_lock(&d.lock);
			done = s->done;
			pthread_mutex_unlock(&d.lock);
			if (done) {
				sched_reap(&d, s, now);
				sched_status(&d, now, false);
			}
		}
		if (stopping && d.running == 0)
			break;
		if (!stopping && sched_sig_hup) {
			sched_sig_hup = 0;
			sched_reload(&d, now);
		}
		if (!stopping && sched_sig_usr1) {
			sched_sig_usr1 = 0;
			log_info("SIGUSR1: polling every account now");
			TAILQ_FOREACH(s, &d.accts, entry)
				if (!s->running)
					s->next_ms = now;
		}
		/* Start due syncs, the most overdue first. */
		while (!stopping &&
		    d.running < (size_t)d.cur->cfg->max_parallel) {
			best = NULL;
			TAILQ_FOREACH(s, &d.accts, entry)
				if (!s->running && s->a != NULL &&
				    s->next_ms <= now &&
				    (best == NULL || s->next_ms < best->next_ms))
					best = s;
			if (best == NULL)
				break;
			sched_start(&d, best, now);
			if (!best->running)
				break;
			started = true;
		}
		/* "syncing NAME", not a next poll that is already past. */
		if (started) {
			sched_status(&d, now, false);
			started = false;
		}
		sched_watchdog(&d, now);

		if (d.clock->wait(d.clock->arg, sched_pipe[0],
		    (int)sched_timeout(&d, d.clock->now_ms(d.clock->arg),
		    stopping), d.running) == -1 && errno != EINTR) {
			rc = err_set(e, E_IO, "poll: %s", strerror(errno));
			break;
		}
		while (read(sched_pipe[0], drain, sizeof(drain)) > 0)
			;
	}
	if (rc == 0)
		log_info("stopped");

out:
	/* Only reached with no thread running, or after poll failed. */
	for (s = TAILQ_FIRST(&d.accts); s != NULL; s = tmp) {
		tmp = TAILQ_NEXT(s, entry);
		if (s->running)
			pthread_join(s->tid, NULL);
		TAILQ_REMOVE(&d.accts, s, entry);
		sched_acct_free(s);
	}
	store_close(d.store);
	while ((c = TAILQ_FIRST(&d.cfgs)) != NULL) {
		TAILQ_REMOVE(&d.cfgs, c, entry);
		config_free(c->cfg);
		free(c);
	}
	pthread_mutex_destroy(&d.lock);
	free(d.path);
	for (i = 0; i < 2; i++)
		if (sched_pipe[i] != -1) {
			close(sched_pipe[i]);
			sched_pipe[i] = -1;
		}
	return rc;
}
