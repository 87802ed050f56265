/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for sdnotify.c: the messages systemd is sent. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdnotify.h"

/*
 * sd_notify and sd_notifyf are wrapped at link time (-Wl,--wrap): the last
 * message sent.
 */
int	__wrap_sd_notify(int, const char *);
int	__wrap_sd_notifyf(int, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

static char	sent[1024];
static int	sent_unset;

int
__wrap_sd_notify(int unset_environment, const char *state)
{
	sent_unset = unset_environment;
	snprintf(sent, sizeof(sent), "%s", state);
	return 1;
}

int
__wrap_sd_notifyf(int unset_environment, const char *fmt, ...)
{
	va_list	ap;

	sent_unset = unset_environment;
	va_start(ap, fmt);
	vsnprintf(sent, sizeof(sent), fmt, ap);
	va_end(ap);
	return 1;
}

static void
test_messages(void **state)
{
	long long	us;

	(void)state;
	sdnotify_ready("2 accounts; last: none; next poll 12:05");
	assert_string_equal(sent,
	    "READY=1\nSTATUS=2 accounts; last: none; next poll 12:05");
	assert_int_equal(sent_unset, 0);
	sdnotify_ready(NULL);
	assert_string_equal(sent, "READY=1");
	sdnotify_status("1 account; last: work ok, 5 new; next poll 12:05");
	assert_string_equal(sent,
	    "STATUS=1 account; last: work ok, 5 new; next poll 12:05");
	sdnotify_stopping();
	assert_string_equal(sent, "STOPPING=1");
	sdnotify_watchdog();
	assert_string_equal(sent, "WATCHDOG=1");
	sdnotify_reloading();
	assert_true(sscanf(sent, "RELOADING=1\nMONOTONIC_USEC=%lld", &us) ==
	    1);
	assert_true(us > 0);
}

static void
test_watchdog_interval(void **state)
{
	char	pid[32];

	(void)state;
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(sdnotify_watchdog_ms(), 0);
	setenv("WATCHDOG_USEC", "2000000", 1);
	assert_int_equal(sdnotify_watchdog_ms(), 2000);
	/* For us... */
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(sdnotify_watchdog_ms(), 2000);
	/* ... or for another process: then not for us. */
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(sdnotify_watchdog_ms(), 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "junk", 1);
	assert_int_equal(sdnotify_watchdog_ms(), 0);
	unsetenv("WATCHDOG_USEC");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_watchdog_interval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
