/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_ONCE_H
#define POPSYNC_ONCE_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "err.h"

/*
 * --once: one sync of each chosen account on a small pool of worker
 * threads, at most max_parallel at once, each with its own connection.
 * The worker threads share the one writable store handle under a mutex
 * (store.h allows one writable handle per process; SQLite writes are
 * serialized anyway, and each store call is short next to the network I/O
 * around it).
 */

/*
 * once_run: one sync of each account named in names (n of them; n == 0
 * means every account), up to cfg->max_parallel at a time.  When progress
 * is not NULL (a terminal), a line per running account is redrawn on it in
 * place (progress.h).  A summary line per account goes to out at the end,
 * in config order, unless out is NULL (-q).  abort_flag (may be NULL)
 * stops the syncs after their current message; hard_abort (may be NULL)
 * ends them at once (the message being written is given up and fetched
 * next time).
 * Returns 0 when every sync succeeded, else the error of the first account
 * that failed (each failure is also logged with its account name).
 * Errors: E_USAGE (an unknown account name, before anything runs),
 * E_STORE (the state database cannot be opened or is in use), and the
 * errors of sync_account.
 */
int	 once_run(const struct config *cfg, char *const *names, size_t n,
	    FILE *out, FILE *progress,
	    const atomic_int *abort_flag,
	    const atomic_int *hard_abort, struct err *e);

#endif
