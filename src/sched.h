/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_SCHED_H
#define POPSYNC_SCHED_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "err.h"

/*
 * The daemon's clock, a seam so that tests drive the loop without real
 * sleeps.  now_ms: monotonic milliseconds (worker threads call it too, so
 * it must be thread-safe); wall: the time of day, for the status line;
 * wait: sleep until fd is readable or timeout_ms have passed, returning as
 * poll(2) does; running is the number of syncs started and not yet reaped
 * (a fake clock must not jump ahead while one may still end).
 */
struct sched_clock {
	int64_t	 (*now_ms)(void *arg);
	time_t	 (*wall)(void *arg);
	int	 (*wait)(void *arg, int fd, int timeout_ms, size_t running);
	void	*arg;
};

/*
 * sched_daemon: the daemon's main loop, until SIGTERM or SIGINT.  Polls
 * every account on its interval (the first poll at once, within a few
 * seconds of jitter), at most max_parallel at once, each sync on its own
 * thread with its own connection.  Temporary failures back off
 * exponentially (interval, 2x, 4x ... up to max(interval, 1 h)); permanent
 * ones wait max(interval, 1 h); a CAPA LOGIN-DELAY is never undercut.  A
 * failure is logged when it differs from the account's last one.
 *
 * Signals: SIGHUP reloads path (a config with errors is logged and the old
 * one kept; removed accounts stop after their current sync); SIGUSR1 polls
 * every account now; SIGTERM/SIGINT stop: no new syncs, running ones end
 * after the message they are writing and send no new DELE.
 *
 * The threads share the one SQLite handle under a mutex: every store call
 * is short (one row, or one batch of 32 in a transaction), the database
 * has a single writer by design (the flock in store_open), and one handle
 * keeps the connection count flat however many accounts there are.
 *
 * systemd (see sdnotify.h): READY=1 once the database is open, STATUS=
 * after every sync, RELOADING=1/READY=1 around a reload, STOPPING=1, and
 * WATCHDOG=1 at half of WATCHDOG_USEC while every running sync shows life
 * (bytes, or a one-second wait slice on its socket).
 *
 * cfg is taken over and freed; level_fixed: -v was given, so a reload does
 * not change the log level; clock: NULL for the real one.  Returns 0 after a clean stop.
 * Errors: E_STORE (database, or locked by another popsyncd), E_IO (pipe,
 * poll).
 */
/*
 * sched_delay_ms: how long after a sync the next poll of its account
 * waits.  fails: consecutive failed polls including this one (0 after a
 * success); temporary: the failure was temporary; login_delay: CAPA
 * LOGIN-DELAY seconds, or -1; jitter_ms: added after a success.  After a
 * success: interval + jitter.  Temporary failures: interval * 2^(fails-1),
 * at most max(interval, 3600 s).  Permanent ones: max(interval, 3600 s).
 * Never less than login_delay.
 */
int64_t	 sched_delay_ms(int interval, int fails, bool temporary,
	    long login_delay, int64_t jitter_ms);

int	 sched_daemon(const char *path, struct config *cfg, bool level_fixed,
	    const struct sched_clock *clock, struct err *e);

#endif
