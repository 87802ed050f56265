/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_PROGRESS_H
#define POPSYNC_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sync.h"

/*
 * How a run looks to a person: the live progress line of --once on a
 * terminal, and the summary line that ends each account's run (printed by
 * --once, logged by the daemon).
 *
 * A struct progress is not locked: its caller serializes the calls (the
 * --once pool holds its own lock around them).
 */
struct progress;

/*
 * progress_new: a renderer for naccounts accounts (slots 0..naccounts-1)
 * that draws on fp, a terminal: one line per running account, cut to the
 * terminal's width (TIOCGWINSZ, 80 if it does not say) and redrawn in
 * place, with messages and bytes done, the byte total, the rate and an
 * estimate of the time left when the LIST sizes are known.  fp is not
 * written to between the calls.  Free with progress_free.
 */
struct progress *progress_new(FILE *fp, size_t naccounts);

/* progress_free: erase what is drawn and free p (NULL is fine). */
void	 progress_free(struct progress *p);

/* progress_start: the account in slot has started; now_ms is monotonic. */
void	 progress_start(struct progress *p, size_t slot, const char *name,
	    int64_t now_ms);

/*
 * progress_update: what the sync in slot reports; redrawn at most every
 * 200 ms.
 */
void	 progress_update(struct progress *p, size_t slot,
	    const struct sync_progress *pr, int64_t now_ms);

/* progress_end: the account in slot is done; redrawn at once. */
void	 progress_end(struct progress *p, size_t slot, int64_t now_ms);

/* progress_bytes: a byte count for people into buf: "512 B", "1.2 MB". */
void	 progress_bytes(char *buf, size_t len, double bytes);

/*
 * progress_summary: the line that ends an account's run, without a
 * newline: "NAME: 3 new, 0 skipped, 0 deleted, 0 errors (1.2 MB in 0.4 s)".
 */
void	 progress_summary(char *buf, size_t len, const char *name,
	    const struct sync_result *r, int64_t ms);

#endif
