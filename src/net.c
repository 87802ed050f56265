/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* TCP connect over every resolved address, all waits sliced; fd waits. */

#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "util.h"
#include "xmalloc.h"

/*
 * One name resolution.  getaddrinfo() blocks and cannot be interrupted, so
 * it runs on a thread of its own and the caller waits for the thread's
 * byte on a pipe through the same sliced wait as every other step.
 * getaddrinfo_a() was the other choice, but a lookup it has started cannot
 * be cancelled (gai_cancel gives EAI_NOTCANCELED) and its request must
 * then outlive a caller that gave up, with nobody left to free it.  Here
 * the caller and the thread each hold a reference, and whichever lets go
 * last frees the request, so a caller stopped by a signal returns at once.
 */
struct net_resolve {
	pthread_mutex_t	 lock;
	int		 refs;		/* under lock */
	int		 pipe[2];	/* the thread writes a byte when done */
	char		*host;
	char		 port[16];
	struct addrinfo	*res;		/* under lock */
	int		 gai;		/* under lock */
	int		 gai_errno;	/* under lock */
};

static int	net_resolve(const char *host, const char *port,
		    struct waiter *w, struct addrinfo **res, char *why,
		    size_t whylen);
static void	*net_resolve_thread(void *arg);
static void	net_resolve_run(struct net_resolve *r);
static void	net_resolve_unref(struct net_resolve *r);
static int	net_try(const struct addrinfo *ai, struct waiter *w, int *fdp,
		    char *why, size_t whylen);
static void	net_addrstr(const struct addrinfo *ai, char *dst, size_t len);

int
net_connect(const char *host, int port, struct waiter *w, struct err *e)
{
	struct addrinfo	*res = NULL, *ai;
	char		 portstr[16], addr[NI_MAXHOST], why[ERR_MSGLEN];
	const char	*lb, *rb;
	int		 fd = -1, rc;

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
	if ((rc = net_resolve(host, portstr, w, &res, why, sizeof(why))) < 0) {
		err_set(e, rc, "connect to %s%s%s:%d: cannot resolve: %s",
		    lb, host, rb, port, why);
		goto out;
	}

	rc = E_IO;
	snprintf(why, sizeof(why), "no usable address");
	addr[0] = '\0';
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		net_addrstr(ai, addr, sizeof(addr));
		rc = net_try(ai, w, &fd, why, sizeof(why));
		if (rc == 0 || rc == E_ABORT)
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
 * Resolve host and port (TCP, IPv4 and IPv6) into *res, waiting through w.
 * Returns 0, or E_IO, E_TIMEOUT, E_ABORT with the reason in why.
 */
static int
net_resolve(const char *host, const char *port, struct waiter *w,
    struct addrinfo **res, char *why, size_t whylen)
{
	struct net_resolve	*r;
	struct pollfd		 pfd;
	pthread_attr_t		 attr;
	pthread_t		 tid;
	sigset_t		 all, old;
	struct err		 we;
	int			 rc = 0, started;

	*res = NULL;
	r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->refs = 1;
	r->host = xstrdup(host);
	snprintf(r->port, sizeof(r->port), "%s", port);
	if (pipe2(r->pipe, O_CLOEXEC) == -1) {
		r->pipe[0] = r->pipe[1] = -1;
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		rc = E_IO;
		goto out;
	}

	/* The thread takes no signal: the handlers' flags are for the
	 * threads that wait. */
	r->refs = 2;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	started = pthread_create(&tid, &attr, net_resolve_thread, r) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (!started) {
		/* No thread to spare: resolve here, blind but working. */
		r->refs = 1;
		net_resolve_run(r);
	}

	pfd.fd = r->pipe[0];
	pfd.events = POLLIN;
	if ((rc = waiter_poll(w, &pfd, 1, util_now_ms(), &we)) < 0) {
		snprintf(why, whylen, "%s", we.msg);
		goto out;
	}
	pthread_mutex_lock(&r->lock);
	if (r->gai != 0) {
		rc = E_IO;
		snprintf(why, whylen, "%s", r->gai == EAI_SYSTEM ?
		    strerror(r->gai_errno) : gai_strerror(r->gai));
	} else {
		rc = 0;
		*res = r->res;
		r->res = NULL;
	}
	pthread_mutex_unlock(&r->lock);
out:
	net_resolve_unref(r);
	return rc;
}

/* The resolver thread: getaddrinfo, then drop its reference. */
static void *
net_resolve_thread(void *arg)
{
	struct net_resolve	*r = arg;

	net_resolve_run(r);
	net_resolve_unref(r);
	return NULL;
}

/* Run the lookup, publish the result and wake the caller. */
static void
net_resolve_run(struct net_resolve *r)
{
	struct addrinfo	 hints, *res = NULL;
	int		 gai, saved;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	gai = getaddrinfo(r->host, r->port, &hints, &res);
	saved = errno;
	pthread_mutex_lock(&r->lock);
	r->res = gai == 0 ? res : NULL;
	r->gai = gai;
	r->gai_errno = saved;
	pthread_mutex_unlock(&r->lock);
	/* The pipe stays open until the last reference goes. */
	while (write(r->pipe[1], "", 1) == -1 && errno == EINTR)
		;
}

/* Drop one reference; the last one frees the request. */
static void
net_resolve_unref(struct net_resolve *r)
{
	int	refs;

	pthread_mutex_lock(&r->lock);
	refs = --r->refs;
	pthread_mutex_unlock(&r->lock);
	if (refs > 0)
		return;
	if (r->res != NULL)
		freeaddrinfo(r->res);
	if (r->pipe[0] != -1)
		close(r->pipe[0]);
	if (r->pipe[1] != -1)
		close(r->pipe[1]);
	pthread_mutex_destroy(&r->lock);
	free(r->host);
	free(r);
}

/*
 * Connect to one address, waiting through w.  Returns 0 with *fdp set, or
 * E_IO, E_TIMEOUT, E_ABORT with the reason in why.
 */
static int
net_try(const struct addrinfo *ai, struct waiter *w, int *fdp, char *why,
    size_t whylen)
{
	struct pollfd	pfd;
	struct err	we;
	socklen_t	sl;
	int		fd, soerr, rc = E_IO;

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

	pfd.fd = fd;
	pfd.events = POLLOUT;
	if ((rc = waiter_poll(w, &pfd, 1, util_now_ms(), &we)) < 0) {
		snprintf(why, whylen, "%s", we.msg);
		goto out;
	}
	rc = E_IO;
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
