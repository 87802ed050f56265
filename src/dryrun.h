/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_DRYRUN_H
#define POPSYNC_DRYRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "err.h"

/*
 * --once --dry-run: what a sync of each account would do, and why, without
 * doing it.  For each account it logs in, lists (LIST and UIDL) and QUITs:
 * no RETR, TOP or DELE is sent.  The plan is sync_plan_make's, from the
 * ledger as the state database holds it (opened read-only; a missing
 * database is an empty ledger) and from another fetcher's imported state
 * as the sync would apply it (import_apply); nothing is written to the
 * database or the Maildir, which is not even opened.
 *
 * Per account it prints what would be fetched (new; skipped before and now
 * within max_message_size; left "fetching" by a run that stopped; failed
 * before and due again; listed twice under one UIDL), skipped (larger than
 * max_message_size; failed and not due yet; in only one of LIST and UIDL,
 * or with an unusable UIDL, so left alone; listed twice under one UIDL, so
 * never deleted) and deleted (keep = false; delete_after_days; a deletion still pending), each
 * message with its number, UIDL, size and reason, with counts and octets,
 * and how many are already fetched (and how many of those an import
 * vouches for).  json: one object {"accounts": [...]} instead.
 */

/*
 * dryrun_run: the dry run of the n accounts named (every account when n is
 * 0), in config order, printed to out.  An account that fails (network,
 * login, ...) is reported in its entry and on stderr, and the others are
 * still done; the first such error is returned, and e is left untouched
 * (it carries only the errors that stop the whole run).
 * Errors: E_USAGE (an unknown name: nothing is done), E_STORE (the
 * database cannot be read), those of session_open and pop3.
 */
int	 dryrun_run(const struct config *cfg, char *const *names, size_t n,
	    FILE *out, bool json, struct err *e);

#endif
