/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_SCHED_H
#define POPSYNC_SCHED_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "err.h"

/*
 * Running account syncs: at most max_parallel at once, one worker thread
 * per running sync, each with its own connection.  The worker threads share
 * the one writable store handle under a mutex (store.h allows one writable
 * handle per process; SQLite writes are serialized anyway, and each store
 * call is short next to the network I/O around it).
 */

/*
 * sched_once: one sync of each account named in names (n of them; n == 0
 * means every account), up to cfg->max_parallel at a time.  When progress
 * is not NULL (a terminal), a progress line per running account is redrawn
 * on it.  A summary line per account goes to out at the end, in config
 * order.  abort_flag (may be NULL) stops the syncs after their current
 * message; hard_abort (may be NULL) ends them at once (the message being
 * written is given up and fetched next time).
 * Returns 0 when every sync succeeded, else the error of the first account
 * that failed (each failure is also logged with its account name).
 * Errors: E_USAGE (an unknown account name, before anything runs),
 * E_STORE (the state database cannot be opened or is in use), and the
 * errors of sync_account.
 */
int	 sched_once(const struct config *cfg, char *const *names, size_t n,
	    FILE *out, FILE *progress,
	    const volatile sig_atomic_t *abort_flag,
	    const volatile sig_atomic_t *hard_abort, struct err *e);

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
 * not change the log level.  Returns 0 after a clean stop.
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
	    struct err *e);

#endif
