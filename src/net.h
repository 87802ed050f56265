/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_NET_H
#define POPSYNC_NET_H

#include "err.h"
#include "waiter.h"

/*
 * net_connect: resolve host (IPv4 and IPv6) and try each address in turn
 * with a non-blocking connect.  Resolution and each connect wait through
 * w (waiter.h): each is bounded by w's timeout, feeds its idle hook and
 * ends on its flags.  Returns a connected socket in non-blocking mode,
 * close-on-exec, or a negative code.  The message names host, port and
 * the last failure.
 *
 * Errors: E_IO (resolution or every connect failed), E_TIMEOUT
 * (resolution, or the last address, timed out), E_ABORT.
 */
int	 net_connect(const char *host, int port, struct waiter *w,
	    struct err *e);

/*
 * net_wait: poll fd for POLLIN (want_write 0) or POLLOUT (1) for at most
 * timeout_ms: one slice of a caller's sliced wait.  Returns 1 when ready,
 * 0 on timeout, E_IO on poll failure.  EINTR is not retried: it returns 0
 * so callers can check for signals.
 */
int	 net_wait(int fd, int want_write, int timeout_ms, struct err *e);

#endif
