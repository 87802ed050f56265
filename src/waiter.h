/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_WAITER_H
#define POPSYNC_WAITER_H

#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/*
 * The one way popsyncd waits.  Every blocking step (name resolution, each
 * connect, the TLS handshake, password_command, every read and write, and
 * CPU-bound work on a long listing) waits in slices of at most
 * WAITER_SLICE_MS.  Between slices the idle hook runs, so a daemon's
 * watchdog sees a slow step as alive, and the stop flags are checked, so a
 * signal is heard within a slice.  Data moving counts as life: the hook
 * also runs while bytes keep coming, at most every WAITER_BEAT_MS.
 *
 * Two flags, both set by signal handlers:
 *  - stop: "stop after this message".  A wait ends with E_ABORT after an
 *    empty slice, unless hold is set (a message is being written, and it
 *    is finished first).
 *  - abort: "give up now".  A wait ends with E_ABORT after an empty slice,
 *    and any step ends a slice after the flag was first seen even while
 *    data keeps coming (a server that trickles a byte a second cannot hold
 *    us).
 *
 * A struct waiter belongs to one thread: it keeps the time of the last
 * idle call (set idle_ms to the start time) and of the first sight of a
 * flag.  It is plain data: zero means no hook, no flags and the default
 * timeout.
 */

/* The longest single wait. */
#define WAITER_SLICE_MS		1000
/* The idle hook runs at most this often while data moves. */
#define WAITER_BEAT_MS		250
/* The timeout when none is set. */
#define WAITER_TIMEOUT_DEFAULT	60000

struct waiter {
	int				 timeout_ms; /* without progress */
	void				(*idle)(void *arg);
	void				*idle_arg;
	const atomic_int	*stop;
	const atomic_int	*abort;
	bool				 hold;	/* stop waits for the message */
	/* State, zero at the start. */
	int64_t				 idle_ms;	/* last idle call */
	int64_t				 flag_ms;	/* a flag first seen */
};

/* waiter_timeout: w's timeout in ms (the default when unset). */
int	 waiter_timeout(const struct waiter *w);

/*
 * waiter_slice: how long the next wait may last: at most a slice, and no
 * longer than what is left of the timeout counted from since (at least
 * 1 ms, so that the timeout itself is seen by waiter_empty).
 */
int	 waiter_slice(const struct waiter *w, int64_t since);

/*
 * waiter_stopping: whether a flag asks the current step to end (abort, or
 * stop without hold).  Does not wait.
 */
bool	 waiter_stopping(const struct waiter *w);

/*
 * waiter_progress: call after data moved or a chunk of CPU-bound work:
 * runs the idle hook if WAITER_BEAT_MS passed since it last ran, and ends
 * the step once a flag (as in waiter_stopping) has been seen for a slice.
 * Errors: E_ABORT "interrupted while busy".
 */
int	 waiter_progress(struct waiter *w, struct err *e);

/*
 * waiter_empty: call after a wait that brought nothing: ends the step on a
 * flag, runs the idle hook, and gives up once the timeout has passed since
 * since.  Returns 0 to wait again.
 * Errors: E_ABORT "interrupted by a signal", E_TIMEOUT "timed out after N
 * s" (or "N ms" for a timeout that is not whole seconds).
 */
int	 waiter_empty(struct waiter *w, int64_t since, struct err *e);

/*
 * waiter_expired: E_TIMEOUT "timed out after N s" once the timeout has
 * passed since since, else 0: for a step whose data keeps moving but
 * whose whole run is bounded (password_command).
 */
int	 waiter_expired(const struct waiter *w, int64_t since, struct err *e);

/*
 * waiter_poll: poll() the n entries of pfd (n may be 0: just wait) in
 * slices until one has revents, the timeout counted from since passes, or
 * a flag stops the wait.  EINTR counts as an empty slice.  Returns the
 * number of entries ready (> 0) or a negative code.
 * Errors: those of waiter_empty, E_IO (poll failed).
 */
int	 waiter_poll(struct waiter *w, struct pollfd *pfd, nfds_t n,
	    int64_t since, struct err *e);

#endif
