/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* TCP connect with a timeout over every resolved address, and fd waits. */

#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "util.h"

static int	net_try(const struct addrinfo *ai, int timeout_ms, int *fdp,
		    char *why, size_t whylen);
static void	net_addrstr(const struct addrinfo *ai, char *dst, size_t len);

int
net_connect(const char *host, int port, int timeout_ms, struct err *e)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 portstr[16], addr[NI_MAXHOST], why[256];
	const char	*lb, *rb;
	int		 fd = -1, rc, gai;

	/* An IPv6 literal reads as "[::1]:995" in messages. */
	lb = rb = "";
	if (strchr(host, ':') != NULL) {
		lb = "[";
		rb = "]";
	}
	if (port < 1 || port > 65535) {
		rc = err_set(e, E_IO, "connect to %s%s%s:%d: invalid port",
		    lb, host, rb, port);
		goto out;
	}
	snprintf(portstr, sizeof(portstr), "%d", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		rc = err_set(e, E_IO, "connect to %s%s%s:%d: cannot resolve: "
		    "%s", lb, host, rb, port,
		    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		res = NULL;
		goto out;
	}

	rc = E_IO;
	snprintf(why, sizeof(why), "no usable address");
	addr[0] = '\0';
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		net_addrstr(ai, addr, sizeof(addr));
		rc = net_try(ai, timeout_ms, &fd, why, sizeof(why));
		if (rc == 0)
			break;
	}
	if (rc == 0) {
		rc = fd;
		goto out;
	}
	if (addr[0] != '\0' && strcmp(addr, host) != 0)
		err_set(e, rc, "connect to %s%s%s:%d failed: %s: %s",
		    lb, host, rb, port, addr, why);
	else
		err_set(e, rc, "connect to %s%s%s:%d failed: %s",
		    lb, host, rb, port, why);
out:
	if (res != NULL)
		freeaddrinfo(res);
	return rc;
}

/*
 * Connect to one address.  Returns 0 with *fdp set, or E_IO / E_TIMEOUT
 * with the reason in why.
 */
static int
net_try(const struct addrinfo *ai, int timeout_ms, int *fdp, char *why,
    size_t whylen)
{
	int64_t		deadline, left;
	socklen_t	sl;
	int		fd, r, soerr, rc = E_IO;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		goto out;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		rc = 0;
		goto out;
	}
	if (errno != EINPROGRESS && errno != EINTR) {
		snprintf(why, whylen, "%s", strerror(errno));
		goto out;
	}

	/* A signal must not shorten the wait, so poll against a deadline. */
	deadline = util_now_ms() + timeout_ms;
	for (;;) {
		if ((left = deadline - util_now_ms()) <= 0) {
			snprintf(why, whylen, "timed out after %d ms",
			    timeout_ms);
			rc = E_TIMEOUT;
			goto out;
		}
		if ((r = net_wait(fd, 1, (int)left, NULL)) == 1)
			break;
		if (r < 0) {
			snprintf(why, whylen, "poll: %s", strerror(errno));
			goto out;
		}
	}
	sl = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1) {
		snprintf(why, whylen, "getsockopt: %s", strerror(errno));
		goto out;
	}
	if (soerr != 0) {
		snprintf(why, whylen, "%s", strerror(soerr));
		goto out;
	}
	rc = 0;
out:
	if (rc == 0)
		*fdp = fd;
	else if (fd != -1)
		close(fd);
	return rc;
}

/* The numeric form of ai's address, for error messages. */
static void
net_addrstr(const struct addrinfo *ai, char *dst, size_t len)
{
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, dst, len, NULL, 0,
	    NI_NUMERICHOST) != 0)
		snprintf(dst, len, "?");
}

int
net_wait(int fd, int want_write, int timeout_ms, struct err *e)
{
	struct pollfd	pfd;
	int		r;

	pfd.fd = fd;
	pfd.events = want_write ? POLLOUT : POLLIN;
	pfd.revents = 0;
	if (timeout_ms < 0)
		timeout_ms = 0;
	r = poll(&pfd, 1, timeout_ms);
	if (r == -1) {
		if (errno == EINTR)
			return 0;
		return err_set(e, E_IO, "poll: %s", strerror(errno));
	}
	/* POLLERR and POLLHUP count as ready: the read or write that follows
	 * reports what happened. */
	return r > 0 ? 1 : 0;
}
