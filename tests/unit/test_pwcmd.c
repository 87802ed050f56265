/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for pwcmd.c: real /bin/sh commands, as password_command runs. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/types.h>
#include <sys/wait.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "pwcmd.h"
#include "idle_hook.h"
#include "util.h"
#include "waiter.h"
#include "xmalloc.h"

#define OUTMAX	64

static char	tmpdir[] = "/tmp/test_pwcmd.XXXXXX";

/* Whether pid still runs (a zombie waiting for init does not count). */
static int
running(long pid)
{
	char	 path[64], st = '?';
	FILE	*fp;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(fp, "%*d (%*[^)]) %c", &st) != 1)
		st = '?';
	fclose(fp);
	return st != 'Z' && st != 'X';
}

/* The pid a command wrote to FILE. */
static long
read_pid(const char *file)
{
	char	 buf[32];
	FILE	*fp;
	long	 pid;

	fp = fopen(file, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	pid = strtol(buf, NULL, 10);
	assert_true(pid > 1);
	return pid;
}

/* Success: stdout kept, exit status 0, no stderr line. */
static void
test_pwcmd_success(void **state)
{
	struct waiter		 w = hook_waiter(5000);
	struct pwcmd_result	 r;
	struct err		 e;
	char			 out[OUTMAX];
	size_t			 len;

	(void)state;
	assert_int_equal(pwcmd_run("printf 'sekrit\\nsecond\\n'", &w, out,
	    sizeof(out), &len, &r, &e), 0);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_int_equal(len, 14);
	assert_memory_equal(out, "sekrit\nsecond\n", 14);
	assert_string_equal(r.errline, "");

	/* Output past outmax is drained, not a deadlock, and not kept. */
	assert_int_equal(pwcmd_run("head -c 300000 /dev/zero | tr '\\0' a",
	    &w, out, sizeof(out), &len, &r, &e), 0);
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_int_equal(len, sizeof(out));
}

/* A failure: its status, and the first line of stderr, sanitized. */
static void
test_pwcmd_exit_stderr(void **state)
{
	struct waiter		 w = hook_waiter(5000);
	struct pwcmd_result	 r;
	struct account		*a;
	struct err		 e;
	char			 out[OUTMAX], *secret = NULL;
	size_t			 len;

	(void)state;
	assert_int_equal(pwcmd_run("echo 'gpg: decryption failed: No secret "
	    "key\r' >&2; echo second line >&2; exit 3", &w, out, sizeof(out),
	    &len, &r, &e), 0);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 3);
	assert_string_equal(r.errline, "gpg: decryption failed: No secret key");

	/* Control bytes never reach a log line. */
	assert_int_equal(pwcmd_run("printf 'bad\\033[2Jterm\\n' >&2; exit 1",
	    &w, out, sizeof(out), &len, &r, &e), 0);
	assert_string_equal(r.errline, "bad?[2Jterm");

	/* account_secret puts it into the message. */
	a = account_new();
	a->name = xstrdup("t");
	a->timeout = 5;
	a->password_command = xstrdup("echo sekrit; echo 'pinentry: no tty' "
	    ">&2; exit 2");
	assert_int_equal(account_secret(a, &w, &secret, &e), E_CONFIG);
	assert_null(secret);
	assert_string_equal(e.msg, "t: password_command failed: exited with "
	    "status 2: pinentry: no tty");
	account_free(a);
}

/* A timeout kills the whole group: the shell and what it started. */
static void
test_pwcmd_timeout_kills_group(void **state)
{
	struct waiter		 w = hook_waiter(1000);
	struct pwcmd_result	 r;
	struct err		 e;
	char			 out[OUTMAX], *cmd, *pidfile;
	size_t			 len;
	int64_t			 t0, ms;
	long			 pid;
	int			 i;

	(void)state;
	pidfile = xasprintf("%s/grandchild.pid", tmpdir);
	/* The grandchild ignores SIGTERM: only SIGKILL ends it. */
	cmd = xasprintf("sh -c 'trap \"\" TERM; sleep 30' & echo $! > %s; "
	    "echo waiting >&2; wait", pidfile);
	t0 = util_now_ms();
	assert_int_equal(pwcmd_run(cmd, &w, out, sizeof(out), &len, &r, &e),
	    E_TIMEOUT);
	ms = util_now_ms() - t0;
	assert_string_equal(e.msg, "timed out after 1 s");
	assert_string_equal(r.errline, "waiting");
	assert_true(ms >= 1000 && ms < 2500);
	/* The idle hook ran while it waited. */
	assert_true(hook_calls >= 1);
	pid = read_pid(pidfile);
	for (i = 0; i < 100 && running(pid); i++)
		usleep(10000);
	if (running(pid))
		fail_msg("grandchild %ld still runs after the timeout", pid);
	free(cmd);
	free(pidfile);
}

/* A stop flag ends the wait within a slice and kills the group too. */
static void
test_pwcmd_stop(void **state)
{
	struct waiter		 w = hook_waiter(60000);
	struct pwcmd_result	 r;
	struct account		*a;
	struct err		 e;
	char			 out[OUTMAX], *cmd, *pidfile, *secret = NULL;
	size_t			 len;
	int64_t			 t0, ms;
	long			 pid;
	int			 i;

	(void)state;
	pidfile = xasprintf("%s/stopped.pid", tmpdir);
	cmd = xasprintf("sleep 30 & echo $! > %s; wait", pidfile);
	hook_abort_at = 2;
	t0 = util_now_ms();
	assert_int_equal(pwcmd_run(cmd, &w, out, sizeof(out), &len, &r, &e),
	    E_ABORT);
	ms = util_now_ms() - t0;
	/* Two empty slices, then the flag is seen at the next. */
	assert_true(ms < 4000);
	pid = read_pid(pidfile);
	for (i = 0; i < 100 && running(pid); i++)
		usleep(10000);
	assert_false(running(pid));

	/* Through account_secret: E_ABORT, not a config error. */
	w = hook_waiter(60000);
	hook_abort = 1;
	a = account_new();
	a->name = xstrdup("t");
	a->timeout = 60;
	a->password_command = xstrdup("sleep 30");
	assert_int_equal(account_secret(a, &w, &secret, &e), E_ABORT);
	assert_string_equal(e.msg, "t: password_command stopped: "
	    "interrupted by a signal");
	account_free(a);
	free(cmd);
	free(pidfile);
}

/*
 * The child starts with default signals and an empty mask, whatever the
 * daemon's thread blocks or ignores: SIGTERM kills it, SIGPIPE is not
 * ignored.
 */
static void
test_pwcmd_signals_default(void **state)
{
	struct waiter		 w = hook_waiter(5000);
	struct pwcmd_result	 r;
	struct err		 e;
	sigset_t		 block, old;
	unsigned long long	 blk, ign;
	char			 out[OUTMAX];
	size_t			 len;
	int64_t			 t0;

	(void)state;
	/* More than a daemon worker thread blocks: everything. */
	sigfillset(&block);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	signal(SIGPIPE, SIG_IGN);

	/* A shell that sends itself SIGTERM dies of it, at once. */
	t0 = util_now_ms();
	assert_int_equal(pwcmd_run("kill -TERM $$; sleep 4; echo alive",
	    &w, out, sizeof(out), &len, &r, &e), 0);
	assert_true(WIFSIGNALED(r.status));
	assert_int_equal(WTERMSIG(r.status), SIGTERM);
	assert_true(util_now_ms() - t0 < 3000);

	/* Nothing blocked, no standard signal ignored.  (glibc's
	 * posix_spawn leaves its own two internal real-time signals, 32
	 * and 33, ignored; they are not ours to reset.) */
	assert_int_equal(pwcmd_run("grep -E '^Sig(Blk|Ign):' /proc/self/status",
	    &w, out, sizeof(out) - 1, &len, &r, &e), 0);
	out[len] = '\0';
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_int_equal(sscanf(out, "SigBlk: %llx SigIgn: %llx", &blk, &ign),
	    2);
	assert_true(blk == 0);
	assert_true((ign & 0x7fffffffULL) == 0);

	/* A writer into a closed pipe dies of SIGPIPE quietly; with SIGPIPE
	 * ignored, yes would complain "Broken pipe" on stderr. */
	assert_int_equal(pwcmd_run("yes | head -n 1 >/dev/null", &w, out,
	    sizeof(out), &len, &r, &e), 0);
	assert_int_equal(WEXITSTATUS(r.status), 0);
	assert_string_equal(r.errline, "");

	signal(SIGPIPE, SIG_DFL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	*cmd;
	int	 rc;

	(void)state;
	cmd = xasprintf("rm -rf '%s'", tmpdir);
	rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pwcmd_success),
		cmocka_unit_test(test_pwcmd_exit_stderr),
		cmocka_unit_test(test_pwcmd_timeout_kills_group),
		cmocka_unit_test(test_pwcmd_stop),
		cmocka_unit_test(test_pwcmd_signals_default),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
