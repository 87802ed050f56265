/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Sliced waits that feed the idle hook and hear the stop flags. */

#include "autoconf.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "util.h"
#include "waiter.h"

static void	waiter_beat(struct waiter *w, int64_t now, bool always);

int
waiter_timeout(const struct waiter *w)
{
	return w->timeout_ms > 0 ? w->timeout_ms : WAITER_TIMEOUT_DEFAULT;
}

int
waiter_slice(const struct waiter *w, int64_t since)
{
	int64_t	left = waiter_timeout(w) - (util_now_ms() - since);

	if (left > WAITER_SLICE_MS)
		return WAITER_SLICE_MS;
	return left < 1 ? 1 : (int)left;
}

bool
waiter_stopping(const struct waiter *w)
{
	if (w->abort != NULL && *w->abort)
		return true;
	return w->stop != NULL && *w->stop && !w->hold;
}

/* Run the idle hook: always, or when it last ran a beat ago or more. */
static void
waiter_beat(struct waiter *w, int64_t now, bool always)
{
	if (w->idle == NULL)
		return;
	if (!always && now - w->idle_ms < WAITER_BEAT_MS)
		return;
	w->idle_ms = now;
	w->idle(w->idle_arg);
}

int
waiter_progress(struct waiter *w, struct err *e)
{
	int64_t	now = util_now_ms();

	waiter_beat(w, now, false);
	if (!waiter_stopping(w))
		return 0;
	/* Data already here is still taken within the slice. */
	if (w->flag_ms == 0)
		w->flag_ms = now;
	if (now - w->flag_ms < WAITER_SLICE_MS)
		return 0;
	return err_set(e, E_ABORT, "interrupted while busy");
}

int
waiter_empty(struct waiter *w, int64_t since, struct err *e)
{
	int64_t	now = util_now_ms();

	if (waiter_stopping(w))
		return err_set(e, E_ABORT, "interrupted by a signal");
	waiter_beat(w, now, true);
	return waiter_expired(w, since, e);
}

int
waiter_expired(const struct waiter *w, int64_t since, struct err *e)
{
	int	ms = waiter_timeout(w);

	if (util_now_ms() - since < ms)
		return 0;
	if (ms % 1000 == 0)
		return err_set(e, E_TIMEOUT, "timed out after %d s", ms / 1000);
	return err_set(e, E_TIMEOUT, "timed out after %d ms", ms);
}

int
waiter_poll(struct waiter *w, struct pollfd *pfd, nfds_t n, int64_t since,
    struct err *e)
{
	nfds_t	i;
	int	r, rc;

	for (;;) {
		for (i = 0; i < n; i++)
			pfd[i].revents = 0;
		r = poll(pfd, n, waiter_slice(w, since));
		if (r > 0)
			return r;
		if (r == -1 && errno != EINTR)
			return err_set(e, E_IO, "poll: %s", strerror(errno));
		if ((rc = waiter_empty(w, since, e)) < 0)
			return rc;
	}
}
