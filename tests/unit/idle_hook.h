/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_IDLE_HOOK_H
#define POPSYNC_IDLE_HOOK_H

/*
 * A struct waiter for unit tests: its idle hook counts its calls in
 * hook_calls and sets hook_abort at call hook_abort_at (a "signal" in the
 * middle of a wait); hook_stop is its stop flag.
 */

#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "util.h"
#include "waiter.h"

static int			 hook_calls;
static int			 hook_abort_at;
static atomic_int	 hook_stop, hook_abort;

static inline void
hook_idle(void *arg)
{
	(void)arg;
	if (++hook_calls == hook_abort_at)
		hook_abort = 1;
}

/* A waiter with this hook and these flags, all cleared. */
static inline struct waiter
hook_waiter(int timeout_ms)
{
	struct waiter	w;

	memset(&w, 0, sizeof(w));
	w.timeout_ms = timeout_ms;
	w.idle = hook_idle;
	w.stop = &hook_stop;
	w.abort = &hook_abort;
	w.idle_ms = util_now_ms();
	hook_calls = hook_abort_at = 0;
	hook_stop = hook_abort = 0;
	return w;
}

#endif
