/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Talking to systemd: sd_notify and structured journal entries. */

#include "autoconf.h"

#include <time.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "sdnotify.h"

/* Journal fields carry at most this much of a value. */
#define SDNOTIFY_FIELD_MAX	1024

/*
 * Notifications are best effort (see sdnotify.h); the 0 keeps
 * NOTIFY_SOCKET for the next one.
 */

void
sdnotify_ready(const char *status)
{
	if (status == NULL)
		(void)sd_notify(0, "READY=1");
	else
		(void)sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void
sdnotify_status(const char *status)
{
	(void)sd_notifyf(0, "STATUS=%s", status);
}

void
sdnotify_reloading(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%lld",
	    (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

void
sdnotify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1");
}

int64_t
sdnotify_watchdog_ms(void)
{
	uint64_t	usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec < 2000 ? 1 : (int64_t)(usec / 1000);
}

void
sdnotify_watchdog(void)
{
	(void)sd_notify(0, "WATCHDOG=1");
}

/*
 * sd_journal_send stops at the first NULL format, so a missing ACCOUNT
 * ends the list there, and a missing UIDL after ACCOUNT.  It allocates
 * inside libsystemd only, and reports running out as an error: the logger
 * then writes to stderr, never back into itself.
 */
int
sdnotify_journal(int priority, const char *account, const char *uidl,
    const char *msg)
{
	const char	*acct_fmt = account != NULL ? "ACCOUNT=%.*s" : NULL;
	const char	*uidl_fmt = account != NULL && uidl != NULL ?
			    "UIDL=%.*s" : NULL;

	return sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", priority,
	    "SYSLOG_IDENTIFIER=popsyncd", acct_fmt, SDNOTIFY_FIELD_MAX,
	    account, uidl_fmt, SDNOTIFY_FIELD_MAX, uidl, NULL) < 0 ? -1 : 0;
}
