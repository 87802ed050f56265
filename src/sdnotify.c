/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Talking to systemd: sd_notify and structured journal entries. */

#include "autoconf.h"

#include <sys/uio.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "sdnotify.h"
#include "xmalloc.h"

/* Journal fields carry at most this much of a value. */
#define SDNOTIFY_FIELD_MAX	1024

static void	 sdnotify_send(const char *msg);

/* One notification; failures are ignored (see sdnotify.h). */
static void
sdnotify_send(const char *msg)
{
	/* 0: keep NOTIFY_SOCKET for the next message. */
	(void)sd_notify(0, msg);
}

void
sdnotify_ready(const char *status)
{
	char	*msg;

	if (status == NULL) {
		sdnotify_send("READY=1");
		return;
	}
	msg = xasprintf("READY=1\nSTATUS=%s", status);
	sdnotify_send(msg);
	free(msg);
}

void
sdnotify_status(const char *status)
{
	char	*msg;

	msg = xasprintf("STATUS=%s", status);
	sdnotify_send(msg);
	free(msg);
}

void
sdnotify_reloading(void)
{
	struct timespec	ts;
	char		msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld",
	    (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	sdnotify_send(msg);
}

void
sdnotify_stopping(void)
{
	sdnotify_send("STOPPING=1");
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
	sdnotify_send("WATCHDOG=1");
}

int
sdnotify_journal(int priority, const char *account, const char *uidl,
    const char *msg)
{
	struct iovec	 iov[5];
	char		*f[5];
	int		 n = 0, i, rc;

	f[n++] = xasprintf("MESSAGE=%s", msg);
	f[n++] = xasprintf("PRIORITY=%d", priority);
	f[n++] = xstrdup("SYSLOG_IDENTIFIER=popsyncd");
	if (account != NULL)
		f[n++] = xasprintf("ACCOUNT=%.*s", SDNOTIFY_FIELD_MAX, account);
	if (uidl != NULL)
		f[n++] = xasprintf("UIDL=%.*s", SDNOTIFY_FIELD_MAX, uidl);
	for (i = 0; i < n; i++) {
		iov[i].iov_base = f[i];
		iov[i].iov_len = strlen(f[i]);
	}
	rc = sd_journal_sendv(iov, n);
	for (i = 0; i < n; i++)
		free(f[i]);
	return rc < 0 ? -1 : 0;
}
