/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for sched.c: when the daemon polls an account next. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>

#include "sched.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_delay_monotonic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
