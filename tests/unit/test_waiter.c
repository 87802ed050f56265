/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for waiter.c: slices, the idle hook, timeouts, stop flags. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "idle_hook.h"
#include "util.h"
#include "waiter.h"

/* A slice is at most a second and never past the timeout. */
static void
test_waiter_slice(void **state)
{
	struct waiter	w = hook_waiter(60000);
	int64_t		now = util_now_ms();

	(void)state;
	assert_int_equal(waiter_slice(&w, now), WAITER_SLICE_MS);
	w.timeout_ms = 300;
	assert_true(waiter_slice(&w, now) <= 300);
	assert_int_equal(waiter_slice(&w, now - 5000), 1);
	w.timeout_ms = 0;
	assert_int_equal(waiter_timeout(&w), WAITER_TIMEOUT_DEFAULT);
}

/* After an empty slice: the hook runs, then the timeout, in its words. */
static void
test_waiter_empty_timeout(void **state)
{
	struct waiter	w = hook_waiter(2000);
	struct err	e;
	int64_t		now = util_now_ms();

	(void)state;
	assert_int_equal(waiter_empty(&w, now, &e), 0);
	assert_int_equal(waiter_empty(&w, now, &e), 0);
	assert_int_equal(hook_calls, 2);
	assert_int_equal(waiter_empty(&w, now - 2000, &e), E_TIMEOUT);
	assert_string_equal(e.msg, "timed out after 2 s");
	w.timeout_ms = 250;
	assert_int_equal(waiter_expired(&w, now - 300, &e), E_TIMEOUT);
	assert_string_equal(e.msg, "timed out after 250 ms");
	assert_int_equal(waiter_expired(&w, util_now_ms(), &e), 0);
}

/* stop ends a wait unless a message is held; abort always does. */
static void
test_waiter_flags(void **state)
{
	struct waiter	w = hook_waiter(60000);
	struct err	e;
	int64_t		now = util_now_ms();

	(void)state;
	assert_false(waiter_stopping(&w));
	hook_stop = 1;
	assert_true(waiter_stopping(&w));
	assert_int_equal(waiter_empty(&w, now, &e), E_ABORT);
	assert_string_equal(e.msg, "interrupted by a signal");
	w.hold = true;
	assert_false(waiter_stopping(&w));
	assert_int_equal(waiter_empty(&w, now, &e), 0);
	hook_abort = 1;
	assert_true(waiter_stopping(&w));
	assert_int_equal(waiter_empty(&w, now, &e), E_ABORT);
}

/*
 * While data moves: the hook at most every WAITER_BEAT_MS, and a flag
 * ends the work only a slice after it was first seen (what is already
 * there is still taken).
 */
static void
test_waiter_progress(void **state)
{
	struct waiter	w = hook_waiter(60000);
	struct err	e;
	int64_t		t0;
	int		i;

	(void)state;
	for (i = 0; i < 100; i++)
		assert_int_equal(waiter_progress(&w, &e), 0);
	assert_int_equal(hook_calls, 0);
	usleep((WAITER_BEAT_MS + 20) * 1000);
	assert_int_equal(waiter_progress(&w, &e), 0);
	assert_int_equal(waiter_progress(&w, &e), 0);
	assert_int_equal(hook_calls, 1);

	hook_stop = 1;
	t0 = util_now_ms();
	while (waiter_progress(&w, &e) == 0)
		usleep(10000);
	assert_int_equal(e.code, E_ABORT);
	assert_true(util_now_ms() - t0 >= WAITER_SLICE_MS);
	assert_true(util_now_ms() - t0 < WAITER_SLICE_MS + 500);
}

/* waiter_poll: ready at once, a timeout in slices, an abort in a slice. */
static void
test_waiter_poll(void **state)
{
	struct waiter	w = hook_waiter(1500);
	struct pollfd	pfd;
	struct err	e;
	int64_t		t0, ms;
	int		p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(waiter_poll(&w, &pfd, 1, util_now_ms(), &e), 1);
	assert_true(pfd.revents & POLLIN);
	assert_int_equal(hook_calls, 0);

	/* Nothing comes: two slices (1000 + 500 ms), the hook after each. */
	assert_int_equal(read(p[0], &(char){ 0 }, 1), 1);
	t0 = util_now_ms();
	assert_int_equal(waiter_poll(&w, &pfd, 1, t0, &e), E_TIMEOUT);
	ms = util_now_ms() - t0;
	assert_true(ms >= 1500 && ms < 2500);
	assert_int_equal(hook_calls, 2);

	/* A "signal" at the first idle call ends the wait at the next. */
	w = hook_waiter(60000);
	hook_abort_at = 1;
	t0 = util_now_ms();
	assert_int_equal(waiter_poll(&w, &pfd, 1, t0, &e), E_ABORT);
	ms = util_now_ms() - t0;
	assert_true(ms < 2500);
	assert_int_equal(hook_calls, 1);
	close(p[0]);
	close(p[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waiter_slice),
		cmocka_unit_test(test_waiter_empty_timeout),
		cmocka_unit_test(test_waiter_flags),
		cmocka_unit_test(test_waiter_progress),
		cmocka_unit_test(test_waiter_poll),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
