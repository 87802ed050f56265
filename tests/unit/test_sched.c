/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/*
 * Unit tests for sched.c: when the daemon polls an account next, and the
 * daemon loop itself driven through its clock seam (no real sleeps) with
 * sync_account replaced at link time (-Wl,--wrap).
 */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "sched.h"
#include "sync.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const struct {
	const char	*what;
	int		 interval;
	int		 fails;
	bool		 temporary;
	long		 login_delay;
	int64_t		 jitter_ms;
	int64_t		 want_ms;
} delay_cases[] = {
	/* After a success: the interval plus the jitter given. */
	{ "ok", 300, 0, false, -1, 0, 300000 },
	{ "ok with jitter", 300, 0, false, -1, 17000, 317000 },
	{ "ok, interval 1", 1, 0, false, -1, 0, 1000 },
	/* Temporary failures double from the interval... */
	{ "temp 1", 60, 1, true, -1, 5000, 60000 },
	{ "temp 2", 60, 2, true, -1, 0, 120000 },
	{ "temp 3", 60, 3, true, -1, 0, 240000 },
	{ "temp 6", 60, 6, true, -1, 0, 1920000 },
	/* ... up to an hour ... */
	{ "temp 7 capped", 60, 7, true, -1, 0, 3600000 },
	{ "temp 1000 capped", 60, 1000, true, -1, 0, 3600000 },
	{ "temp, interval 1", 1, 4, true, -1, 0, 8000 },
	/* ... or the interval when that is longer. */
	{ "temp, daily", 86400, 3, true, -1, 0, 86400000 },
	/* Permanent failures wait the cap at once. */
	{ "perm 1", 60, 1, false, -1, 0, 3600000 },
	{ "perm, daily", 86400, 1, false, -1, 0, 86400000 },
	/* LOGIN-DELAY is a floor, never a ceiling. */
	{ "login-delay above", 60, 0, false, 900, 0, 900000 },
	{ "login-delay below", 600, 0, false, 300, 0, 600000 },
	{ "login-delay on temp", 60, 1, true, 120, 0, 120000 },
	{ "login-delay 0", 60, 0, false, 0, 0, 60000 },
};

static void
test_delay(void **state)
{
	size_t	i;
	int64_t	got;

	(void)state;
	for (i = 0; i < NELEM(delay_cases); i++) {
		got = sched_delay_ms(delay_cases[i].interval,
		    delay_cases[i].fails, delay_cases[i].temporary,
		    delay_cases[i].login_delay, delay_cases[i].jitter_ms);
		if (got != delay_cases[i].want_ms)
			fail_msg("%s: got %lld ms, want %lld ms",
			    delay_cases[i].what, (long long)got,
			    (long long)delay_cases[i].want_ms);
	}
}

/* The backoff never shrinks while failures go on, and never overflows. */
static void
test_delay_monotonic(void **state)
{
	int64_t	prev = 0, got;
	int	n;

	(void)state;
	for (n = 1; n <= 200; n++) {
		got = sched_delay_ms(7, n, true, -1, 0);
		assert_true(got >= prev);
		assert_true(got <= 3600000);
		prev = got;
	}
	assert_int_equal(prev, 3600000);
	got = sched_delay_ms(2147483647, 40, true, -1, 0);
	assert_int_equal(got, (int64_t)2147483647 * 1000);
}

/*
 * The fake world: a clock that jumps to the next due event, signals raised
 * at fixed fake times, and syncs that end at once with a scripted result.
 */
#define FAKE_START_MS	1000000
#define FAKE_MAXPOLLS	64

struct fake_poll {
	char	 name[32];
	int64_t	 at_ms;		/* fake monotonic time of the sync */
};

struct fake_signal {
	int64_t	 at_ms;		/* after the start */
	int	 sig;
};

static struct {
	pthread_mutex_t		 lock;
	int64_t			 now_ms;
	struct fake_poll	 polls[FAKE_MAXPOLLS];
	size_t			 npolls;
	const struct fake_signal *sigs;
	size_t			 nsigs;
	size_t			 nextsig;
	size_t			 maxrunning;
} fake = { PTHREAD_MUTEX_INITIALIZER, 0, { { "", 0 } }, 0, NULL, 0, 0, 0 };

int	__wrap_sync_account(const struct account *, const struct sync_shared *,
	    struct sync_result *, struct err *);

/* A sync of an account named "bad*" times out; any other one is fine. */
int
__wrap_sync_account(const struct account *a, const struct sync_shared *sh,
    struct sync_result *r, struct err *e)
{
	(void)sh;
	pthread_mutex_lock(&fake.lock);
	if (fake.npolls < FAKE_MAXPOLLS) {
		snprintf(fake.polls[fake.npolls].name,
		    sizeof(fake.polls[fake.npolls].name), "%s", a->name);
		fake.polls[fake.npolls].at_ms = fake.now_ms;
		fake.npolls++;
	}
	pthread_mutex_unlock(&fake.lock);
	memset(r, 0, sizeof(*r));
	r->login_delay = -1;
	if (strncmp(a->name, "bad", 3) == 0) {
		r->errors = 1;
		return err_set(e, E_TIMEOUT, "%s: no reply in 30 s", a->name);
	}
	return 0;
}

static int64_t
fake_now(void *arg)
{
	int64_t	now;

	(void)arg;
	pthread_mutex_lock(&fake.lock);
	now = fake.now_ms;
	pthread_mutex_unlock(&fake.lock);
	return now;
}

static time_t
fake_wall(void *arg)
{
	/* 2026-11-30 00:00:00 UTC at the start. */
	return (time_t)1795996800 + (time_t)((fake_now(arg) - FAKE_START_MS) /
	    1000);
}

/*
 * While a sync runs, wait for real until it ends (a fake sync ends at
 * once).  Otherwise jump the clock to the earlier of the timeout and the
 * next scripted signal, and raise that signal.
 */
static int
fake_wait(void *arg, int fd, int timeout_ms, size_t running)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	int64_t		 until;
	int		 n;

	(void)arg;
	if (running > fake.maxrunning)
		fake.maxrunning = running;
	if (running > 0)
		return poll(&pfd, 1, 10000);
	if ((n = poll(&pfd, 1, 0)) != 0)
		return n;
	until = fake_now(NULL) + timeout_ms;
	if (fake.nextsig < fake.nsigs &&
	    FAKE_START_MS + fake.sigs[fake.nextsig].at_ms <= until) {
		pthread_mutex_lock(&fake.lock);
		fake.now_ms = FAKE_START_MS + fake.sigs[fake.nextsig].at_ms;
		pthread_mutex_unlock(&fake.lock);
		raise(fake.sigs[fake.nextsig++].sig);
		return poll(&pfd, 1, 0);
	}
	pthread_mutex_lock(&fake.lock);
	fake.now_ms = until;
	pthread_mutex_unlock(&fake.lock);
	return 0;
}

/*
 * sd_notify and sd_notifyf are wrapped (-Wl,--wrap): every STATUS= line the
 * loop sends, in order.
 */
int	__wrap_sd_notify(int, const char *);
int	__wrap_sd_notifyf(int, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#define FAKE_MAXSTATUS	256
static char	statuses[FAKE_MAXSTATUS][256];
static size_t	nstatuses;

int
__wrap_sd_notify(int unset_environment, const char *state)
{
	(void)unset_environment;
	(void)state;
	return 1;
}

int
__wrap_sd_notifyf(int unset_environment, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];
	char	*st;

	(void)unset_environment;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((st = strstr(msg, "STATUS=")) != NULL &&
	    nstatuses < FAKE_MAXSTATUS)
		snprintf(statuses[nstatuses++], sizeof(statuses[0]), "%s",
		    st + 7);
	return 1;
}

/* The first status line from 'from' on that starts with want, or -1. */
static int
status_find(size_t from, const char *want)
{
	size_t	i;

	for (i = from; i < nstatuses; i++)
		if (strncmp(statuses[i], want, strlen(want)) == 0)
			return (int)i;
	return -1;
}

/*
 * The journal as the log sink sees it (JOURNAL_STREAM is pointed at our
 * stderr so log.c uses the sink): priority, ACCOUNT= and the message.
 */
#define FAKE_MAXLINES	256
static struct {
	int	 prio;
	char	 account[32];
	char	 msg[256];
} lines[FAKE_MAXLINES];
static size_t	nlines;
static pthread_mutex_t lines_lock = PTHREAD_MUTEX_INITIALIZER;

static int
fake_sink(int prio, const char *account, const char *uidl, const char *msg)
{
	(void)uidl;
	pthread_mutex_lock(&lines_lock);
	if (nlines < FAKE_MAXLINES) {
		lines[nlines].prio = prio;
		snprintf(lines[nlines].account, sizeof(lines[0].account), "%s",
		    account != NULL ? account : "");
		snprintf(lines[nlines].msg, sizeof(lines[0].msg), "%s", msg);
		nlines++;
	}
	pthread_mutex_unlock(&lines_lock);
	return 0;
}

static void
fake_journal(enum log_level level)
{
	struct stat	st;
	char		js[64];

	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	log_init(level);
	log_set_sink(fake_sink);
	nlines = 0;
}

/* The first logged line that contains part, or NULL. */
static size_t
line_find(const char *part)
{
	size_t	i;

	for (i = 0; i < nlines; i++)
		if (strstr(lines[i].msg, part) != NULL)
			return i;
	return (size_t)-1;
}

static const struct sched_clock fake_clock = {
	fake_now, fake_wall, fake_wait, NULL
};

static char	tmpdir[64];

/* A config with the accounts named, each its own mailbox and Maildir. */
static struct config *
fake_config(const char *const *names, const int *intervals, size_t n)
{
	struct config	*cfg = NULL;
	struct err	 e;
	char		 path[128];
	FILE		*fp;
	size_t		 i;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_sched.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/config", tmpdir);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "state_db = \"%s/state.db\";\nmax_parallel = 4;\n"
	    "accounts = (\n", tmpdir);
	for (i = 0; i < n; i++)
		/* One mailbox (user@host) and one Maildir per account. */
		fprintf(fp, "%s{ name = \"%s\"; host = \"localhost\"; "
		    "user = \"%s\"; password_command = \"true\"; "
		    "maildir = \"%s/%s\"; interval = %d; }\n",
		    i > 0 ? ", " : "", names[i], names[i], tmpdir, names[i],
		    intervals[i]);
	fprintf(fp, ");\n");
	fclose(fp);
	if (config_load(path, &cfg, &e) < 0)
		fail_msg("config_load: %s", e.msg);
	return cfg;
}

static void
fake_cleanup(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
}

/* Run the daemon loop until it stops; the polls it made are in fake. */
static void
fake_run(const char *const *names, const int *intervals, size_t n,
    const struct fake_signal *sigs, size_t nsigs)
{
	struct config	*cfg;
	struct err	 e;
	int		 rc;

	pthread_mutex_lock(&fake.lock);
	fake.now_ms = FAKE_START_MS;
	fake.npolls = 0;
	fake.sigs = sigs;
	fake.nsigs = nsigs;
	fake.nextsig = 0;
	fake.maxrunning = 0;
	pthread_mutex_unlock(&fake.lock);
	nstatuses = 0;
	cfg = fake_config(names, intervals, n);
	err_clear(&e);
	rc = sched_daemon(cfg->path, cfg, true, &fake_clock, &e);
	if (rc != 0)
		fail_msg("sched_daemon: %s", e.msg);
	fake_cleanup();
}

/* The times (after the start) at which account name was polled. */
static size_t
fake_polls_of(const char *name, int64_t *at, size_t max)
{
	size_t	i, n = 0;

	for (i = 0; i < fake.npolls && n < max; i++)
		if (strcmp(fake.polls[i].name, name) == 0)
			at[n++] = fake.polls[i].at_ms - FAKE_START_MS;
	return n;
}

/*
 * Success: polled at the start (within 5 s of jitter) and then every
 * interval plus up to a tenth of it.  Temporary failures back off 60, 120,
 * 240 s.  SIGTERM ends the loop with 0.
 */
static void
test_daemon_run_queue(void **state)
{
	static const char *const names[] = { "good", "bad" };
	static const int intervals[] = { 60, 60 };
	static const struct fake_signal sigs[] = { { 400000, SIGTERM } };
	int64_t	at[16] = { 0 };
	size_t	n, i;
	int	k;

	(void)state;
	fake_journal(LOG_LVL_INFO);
	fake_run(names, intervals, 2, sigs, 1);

	n = fake_polls_of("good", at, 16);
	assert_true(n >= 6);
	assert_true(at[0] >= 0 && at[0] <= 5000);
	for (i = 1; i < n; i++)
		if (at[i] - at[i - 1] < 60000 || at[i] - at[i - 1] > 66000)
			fail_msg("good: poll %zu came %lld ms after the one "
			    "before", i, (long long)(at[i] - at[i - 1]));
	assert_true(at[n - 1] <= 400000);

	n = fake_polls_of("bad", at, 16);
	assert_int_equal(n, 3);
	assert_true(at[0] >= 0 && at[0] <= 5000);
	assert_int_equal(at[1] - at[0], 60000);
	assert_int_equal(at[2] - at[1], 120000);
	assert_true(fake.maxrunning <= 2);

	/*
	 * systemctl status: ready before any sync, then what runs, then
	 * which account fails and why.  The clock starts at 00:00 UTC.
	 */
	assert_int_equal(status_find(0, "2 accounts; last: none; next poll "
	    "00:00"), 0);
	k = status_find(0, "2 accounts; syncing ");
	assert_int_equal(k, 1);
	assert_true(status_find((size_t)k, "2 accounts, 1 failing (bad: no "
	    "reply in 30 s); next poll 00:0") > k);
	assert_true(status_find(0, "2 accounts, 1 failing (bad: no reply in "
	    "30 s); syncing good; next poll 00:0") > k);

	/*
	 * journalctl ACCOUNT=bad: the failure, logged by the loop's thread,
	 * at PRIORITY=3, once however often it repeats.  Empty polls of
	 * good are not logged at info.
	 */
	n = line_find("bad: no reply in 30 s (temporary; next poll in 60 s)");
	assert_true(n != (size_t)-1);
	assert_int_equal(lines[n].prio, 3);
	assert_string_equal(lines[n].account, "bad");
	assert_true(line_find("bad: no reply in 30 s (temporary; next poll "
	    "in 120 s)") == (size_t)-1);
	assert_true(line_find("good: 0 new") == (size_t)-1);
	log_set_sink(NULL);
	unsetenv("JOURNAL_STREAM");
	log_init(LOG_LVL_INFO);
}

/* SIGUSR1 polls every account at once, whatever its schedule. */
static void
test_daemon_usr1(void **state)
{
	static const char *const names[] = { "one", "two" };
	static const int intervals[] = { 3600, 86400 };
	static const struct fake_signal sigs[] = {
		{ 100000, SIGUSR1 }, { 200000, SIGTERM }
	};
	int64_t	at[4] = { 0 };

	(void)state;
	fake_run(names, intervals, 2, sigs, 2);
	assert_int_equal(fake_polls_of("one", at, 4), 2);
	assert_int_equal(at[1], 100000);
	assert_int_equal(fake_polls_of("two", at, 4), 2);
	assert_int_equal(at[1], 100000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_delay_monotonic),
		cmocka_unit_test(test_daemon_run_queue),
		cmocka_unit_test(test_daemon_usr1),
	};

	/* The status line's times are in local time: make it UTC. */
	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
