/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_NET_H
#define POPSYNC_NET_H

#include "err.h"

/*
 * net_connect: resolve host (getaddrinfo, IPv4 and IPv6) and try each
 * address in turn with a non-blocking connect bounded by timeout_ms.
 * Returns a connected socket in non-blocking mode, close-on-exec, or a
 * negative code.  The message names host, port and the last failure.
 *
 * Errors: E_IO (resolution or every connect failed), E_TIMEOUT (the last
 * address timed out).
 */
int	 net_connect(const char *host, int port, int timeout_ms, struct err *e);

/*
 * net_wait: poll fd for POLLIN (events "r") or POLLOUT ("w") for at most
 * timeout_ms.  Returns 1 when ready, 0 on timeout, E_IO on poll failure.
 * EINTR is not retried: it returns 0 so callers can check for signals.
 */
int	 net_wait(int fd, int want_write, int timeout_ms, struct err *e);

#endif
