/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_SDNOTIFY_H
#define POPSYNC_SDNOTIFY_H

#include <stdint.h>

/*
 * What popsyncd tells systemd: the service notification protocol
 * (sd_notify: READY, STATUS, RELOADING, STOPPING, WATCHDOG) and structured
 * journal entries.  This is the only module that includes libsystemd's
 * headers.  Without NOTIFY_SOCKET every notification is a no-op, so the
 * callers need no "are we under systemd" test of their own.
 *
 * Notifications are best effort: a failure to send one is not an error
 * of the sync, so none of these functions returns one.
 */

/* sdnotify_ready: READY=1 with a STATUS= line (status may be NULL). */
void	 sdnotify_ready(const char *status);

/* sdnotify_status: STATUS=, the one-line state "systemctl status" shows. */
void	 sdnotify_status(const char *status);

/*
 * sdnotify_reloading: RELOADING=1 with MONOTONIC_USEC= (systemd 253 wants
 * it for Type=notify-reload; older ones ignore it).  Follow it with
 * sdnotify_ready once the reload is over, whether it was taken or not.
 */
void	 sdnotify_reloading(void);

/* sdnotify_stopping: STOPPING=1. */
void	 sdnotify_stopping(void);

/*
 * sdnotify_watchdog_ms: the watchdog interval systemd asked for
 * (WATCHDOG_USEC, for this pid when WATCHDOG_PID is set) in milliseconds,
 * or 0 when there is no watchdog.  Ping at half of it.
 */
int64_t	 sdnotify_watchdog_ms(void);

/* sdnotify_watchdog: WATCHDOG=1. */
void	 sdnotify_watchdog(void);

/*
 * sdnotify_journal: one journal entry with MESSAGE=msg, PRIORITY=priority
 * (syslog levels, 0..7), SYSLOG_IDENTIFIER=popsyncd, and ACCOUNT= and
 * UIDL= when not NULL.  Returns 0, or -1 when journald took nothing (the
 * caller then writes the line to stderr).
 */
int	 sdnotify_journal(int priority, const char *account, const char *uidl,
	    const char *msg);

#endif
