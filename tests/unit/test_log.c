/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for log.c: levels, stderr format, journald fields. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sdnotify.h"

/*
 * sd_journal_send is wrapped at link time (-Wl,--wrap): each entry's
 * fields are joined with '|' into journal[]; journal_rc is what journald
 * "returns".  The wrapper formats the conversions sdnotify.c uses: %s, %i
 * and %.*s.
 */
int	__wrap_sd_journal_send(const char *, ...);

static char	journal[4096];
static int	journal_calls;
static int	journal_rc;

/* One field: fmt with its arguments taken from ap, appended to journal. */
static size_t
journal_field(size_t len, const char *fmt, va_list *ap)
{
	const char	*p, *str;
	int		 prec;

	for (p = fmt; *p != '\0'; p++) {
		assert_true(len + 1 < sizeof(journal));
		if (*p != '%') {
			journal[len++] = *p;
			continue;
		}
		if (strncmp(p, "%s", 2) == 0) {
			str = va_arg(*ap, const char *);
			len += (size_t)snprintf(journal + len,
			    sizeof(journal) - len, "%s", str);
			p++;
		} else if (strncmp(p, "%i", 2) == 0) {
			len += (size_t)snprintf(journal + len,
			    sizeof(journal) - len, "%d", va_arg(*ap, int));
			p++;
		} else if (strncmp(p, "%.*s", 4) == 0) {
			prec = va_arg(*ap, int);
			str = va_arg(*ap, const char *);
			len += (size_t)snprintf(journal + len,
			    sizeof(journal) - len, "%.*s", prec, str);
			p += 3;
		} else
			fail_msg("unexpected conversion in \"%s\"", fmt);
	}
	journal[len] = '\0';
	return len;
}

int
__wrap_sd_journal_send(const char *fmt, ...)
{
	va_list	ap;
	size_t	len = 0;

	journal_calls++;
	journal[0] = '\0';
	va_start(ap, fmt);
	for (; fmt != NULL; fmt = va_arg(ap, const char *)) {
		if (len > 0)
			journal[len++] = '|';
		len = journal_field(len, fmt, &ap);
		assert_true(len < sizeof(journal));
	}
	va_end(ap);
	return journal_rc;
}

/* Point fd 2 at a fresh temp file; with journal, set JOURNAL_STREAM to it. */
static char	errpath[] = "/tmp/popsyncd-test-log.XXXXXX";

static void
stderr_to_file(int journal_on)
{
	struct stat	st;
	char		js[64];
	int		fd;

	fflush(stderr);
	strcpy(errpath, "/tmp/popsyncd-test-log.XXXXXX");
	fd = mkstemp(errpath);
	assert_true(fd != -1);
	assert_true(dup2(fd, STDERR_FILENO) != -1);
	close(fd);
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	if (journal_on) {
		snprintf(js, sizeof(js), "%llu:%llu",
		    (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino);
		setenv("JOURNAL_STREAM", js, 1);
	} else
		unsetenv("JOURNAL_STREAM");
	log_set_output(NULL);
	log_set_sink(sdnotify_journal);
	journal_calls = 0;
	journal_rc = 0;
	journal[0] = '\0';
}

/* What went to fd 2 since stderr_to_file, then remove the file. */
static void
stderr_read(char *buf, size_t len)
{
	FILE	*fp;
	size_t	 n;

	fflush(stderr);
	fp = fopen(errpath, "r");
	assert_non_null(fp);
	n = fread(buf, 1, len - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	unlink(errpath);
}

/* Without the journal: "popsyncd: [level: ]message", threshold obeyed. */
static void
test_stderr(void **state)
{
	char	out[4096];

	(void)state;
	stderr_to_file(0);
	log_init(LOG_LVL_INFO);
	log_set_context("work", "UID-1");
	log_error("work: RETR: -ERR %s", "boom");
	log_info("work: 1 new");
	log_debug("work: not shown at info");
	errno = ENOSPC;
	log_warn("work: write");
	log_set_context(NULL, NULL);
	stderr_read(out, sizeof(out));
	assert_string_equal(out,
	    "popsyncd: error: work: RETR: -ERR boom\n"
	    "popsyncd: work: 1 new\n"
	    "popsyncd: warning: work: write: No space left on device\n");
	assert_int_equal(journal_calls, 0);
}

/* Under journald: one structured entry per line, with the context. */
static void
test_journal_fields(void **state)
{
	char	out[256];

	(void)state;
	stderr_to_file(1);
	log_init(LOG_LVL_DEBUG);
	log_set_context("work", "000001a4");
	log_error("work: RETR 3: -ERR gone");
	assert_int_equal(journal_calls, 1);
	assert_string_equal(journal, "MESSAGE=work: RETR 3: -ERR gone|"
	    "PRIORITY=3|SYSLOG_IDENTIFIER=popsyncd|ACCOUNT=work|"
	    "UIDL=000001a4");

	log_set_context("work", NULL);
	log_info("work: 2 new");
	assert_string_equal(journal, "MESSAGE=work: 2 new|PRIORITY=6|"
	    "SYSLOG_IDENTIFIER=popsyncd|ACCOUNT=work");

	log_set_context(NULL, NULL);
	errno = EACCES;
	log_warn("reload");
	assert_string_equal(journal, "MESSAGE=reload: Permission denied|"
	    "PRIORITY=4|SYSLOG_IDENTIFIER=popsyncd");
	log_debug("debug line");
	assert_string_equal(journal, "MESSAGE=debug line|PRIORITY=7|"
	    "SYSLOG_IDENTIFIER=popsyncd");
	assert_int_equal(journal_calls, 4);

	/* Nothing reached stderr while journald took every line. */
	stderr_read(out, sizeof(out));
	assert_string_equal(out, "");
}

/* journald refuses: the line goes to stderr with a "<N>" prefix. */
static void
test_journal_fallback(void **state)
{
	char	out[256];

	(void)state;
	stderr_to_file(1);
	log_init(LOG_LVL_INFO);
	journal_rc = -1;
	log_error("work: AUTH: -ERR [AUTH] no");
	assert_int_equal(journal_calls, 1);
	stderr_read(out, sizeof(out));
	assert_string_equal(out, "<3>work: AUTH: -ERR [AUTH] no\n");
}

/* A JOURNAL_STREAM that is not our stderr (a pipe to a child, say). */
static void
test_journal_other_stream(void **state)
{
	char	out[256];

	(void)state;
	stderr_to_file(0);
	setenv("JOURNAL_STREAM", "1:2", 1);
	log_init(LOG_LVL_INFO);
	log_info("plain");
	stderr_read(out, sizeof(out));
	assert_string_equal(out, "popsyncd: plain\n");
	assert_int_equal(journal_calls, 0);
}

/* Each thread has its own context. */
static void *
other_thread(void *arg)
{
	(void)arg;
	log_set_context("other", NULL);
	log_info("from the thread");
	return NULL;
}

static void
test_context_per_thread(void **state)
{
	pthread_t	t;
	char		out[256];

	(void)state;
	stderr_to_file(1);
	log_init(LOG_LVL_INFO);
	log_set_context("main", NULL);
	assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
	pthread_join(t, NULL);
	assert_string_equal(journal, "MESSAGE=from the thread|PRIORITY=6|"
	    "SYSLOG_IDENTIFIER=popsyncd|ACCOUNT=other");
	log_info("from main");
	assert_string_equal(journal, "MESSAGE=from main|PRIORITY=6|"
	    "SYSLOG_IDENTIFIER=popsyncd|ACCOUNT=main");
	log_set_context(NULL, NULL);
	stderr_read(out, sizeof(out));
}

static void
test_level_parse(void **state)
{
	enum log_level	l;

	(void)state;
	assert_int_equal(log_level_parse("trace", &l), 0);
	assert_int_equal(l, LOG_LVL_TRACE);
	assert_int_equal(log_level_parse("warning", &l), 0);
	assert_int_equal(l, LOG_LVL_WARN);
	assert_int_equal(log_level_parse("warn", &l), -1);
	assert_int_equal(log_level_parse("", &l), -1);
}

/*
 * A sink that fails into fatal, as an out-of-memory inside it would: the
 * second fatal must not go round again (it used to recurse until the stack
 * overflowed).
 */
static int
sink_fatal(int prio, const char *account, const char *uidl, const char *msg)
{
	(void)prio;
	(void)account;
	(void)uidl;
	(void)msg;
	fatal("malloc");
}

/* Run fn in a child with stderr to a file: its exit status and stderr. */
static int
fatal_in_child(void (*fn)(void), char *out, size_t len)
{
	pid_t	pid;
	int	status;

	stderr_to_file(1);
	if ((pid = fork()) == 0) {
		fn();
		_exit(99);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	stderr_read(out, len);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
child_fatal_sink(void)
{
	log_init(LOG_LVL_INFO);
	log_set_sink(sink_fatal);
	errno = ENOMEM;
	fatal("xmalloc");
}

static void
child_fatalx(void)
{
	log_init(LOG_LVL_INFO);
	log_set_context("work", "UID-9");
	journal_rc = -1;
	fatalx("%s: bad state %d", "sync_next", 7);
}

static void
test_fatal(void **state)
{
	char	out[512];

	(void)state;
	assert_int_equal(fatal_in_child(child_fatal_sink, out, sizeof(out)),
	    1);
	assert_string_equal(out,
	    "popsyncd: fatal error while reporting a fatal error\n");

	/* journald refuses: the line still reaches stderr, at <3>. */
	assert_int_equal(fatal_in_child(child_fatalx, out, sizeof(out)), 1);
	assert_string_equal(out, "<3>sync_next: bad state 7\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stderr),
		cmocka_unit_test(test_journal_fields),
		cmocka_unit_test(test_journal_fallback),
		cmocka_unit_test(test_journal_other_stream),
		cmocka_unit_test(test_context_per_thread),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_fatal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
