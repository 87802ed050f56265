/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_STATUS_H
#define POPSYNC_STATUS_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "err.h"

/*
 * status_print: what the state database says about each account of cfg
 * (no network): last sync start and end, result, messages known, delivered
 * total, pending deletions, the counts of the last sync and the last error.
 * Accounts never synced are shown as such.  With json, one JSON object
 * {"accounts": [...]} instead of the table.  Reads through a read-only
 * handle, so it works while a daemon holds the database.
 * Errors: E_STORE.
 */
int	 status_print(const struct config *cfg, FILE *out, bool json,
	    struct err *e);

/*
 * status_mailbox_changes: for --check-config, warn on out about each
 * account of cfg that the state database last saw on another mailbox
 * (another host, compared without case, or user): its mail counts as new.
 * Returns how many; a missing or unreadable database gives 0.
 */
int	 status_mailbox_changes(const struct config *cfg, FILE *out);

#endif
