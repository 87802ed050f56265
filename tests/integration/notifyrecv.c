/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* A stand-in for systemd's notify socket: logs what sd_notify() sends. */

/*
 * notifyrecv SOCKETPATH OUTFILE
 *
 * Binds an AF_UNIX datagram socket at SOCKETPATH (what NOTIFY_SOCKET names)
 * and appends each assignment of each datagram received to OUTFILE as
 * a line "<CLOCK_MONOTONIC in ms> <assignment>", so "READY=1\nSTATUS=x"
 * becomes two lines with the same time.  The file is flushed after each
 * datagram, so a test can poll it.  The socket exists once bind() is
 * done; a test waits for it before it starts the daemon.  SIGTERM or
 * SIGINT ends the run: the socket is removed, exit 0.  Exit 2 on a usage
 * or setup error, 1 when receiving or writing fails.
 *
 * Plain C11 and POSIX, no libsystemd: the receiver must not share code
 * with the sender it checks.
 */

#include "autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* sd_notify datagrams are a few hundred bytes; this is ample. */
#define NOTIFYRECV_MAX	65536

static void	 usage(void) __attribute__((noreturn));
static void	 notifyrecv_onterm(int sig);
static long long notifyrecv_now_ms(void);
static int	 notifyrecv_bind(const char *path);
static int	 notifyrecv_log(FILE *out, char *msg, size_t len);

static volatile sig_atomic_t	 notifyrecv_term;

/* usage: print the synopsis and exit 2. */
static void
usage(void)
{
	fprintf(stderr, "usage: notifyrecv socketpath outfile\n");
	exit(2);
}

/* notifyrecv_onterm: SIGTERM/SIGINT: leave the receive loop. */
static void
notifyrecv_onterm(int sig)
{
	(void)sig;
	notifyrecv_term = 1;
}

/* notifyrecv_now_ms: CLOCK_MONOTONIC in milliseconds. */
static long long
notifyrecv_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* notifyrecv_bind: a datagram socket bound at path (a stale one replaced). */
static int
notifyrecv_bind(const char *path)
{
	struct sockaddr_un	 sun;
	int			 s;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "notifyrecv: %s: path too long\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((s = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1) {
		perror("notifyrecv: socket");
		return -1;
	}
	unlink(path);
	if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "notifyrecv: bind %s: %s\n", path,
		    strerror(errno));
		close(s);
		return -1;
	}
	return s;
}

/*
 * notifyrecv_log: one output line per non-empty line of the datagram
 * msg (len bytes, NUL-terminated by the caller), all with one time stamp.
 * A NUL inside the datagram is shown as "\0" rather than ending the line.
 */
static int
notifyrecv_log(FILE *out, char *msg, size_t len)
{
	long long	 now = notifyrecv_now_ms();
	size_t		 i, k, start = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && msg[i] != '\n')
			continue;
		if (i > start) {
			fprintf(out, "%lld ", now);
			for (k = start; k < i; k++) {
				if (msg[k] == '\0')
					fputs("\\0", out);
				else
					fputc(msg[k], out);
			}
			fputc('\n', out);
		}
		start = i + 1;
	}
	return fflush(out) == 0 ? 0 : -1;
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	static char		 msg[NOTIFYRECV_MAX + 1];
	const char		*path;
	FILE			*out = NULL;
	ssize_t			 n;
	int			 s = -1, rc = 2;

	if (argc != 3)
		usage();
	path = argv[1];

	/* No SA_RESTART: recv() must return EINTR so the loop can end. */
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = notifyrecv_onterm;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if ((out = fopen(argv[2], "a")) == NULL) {
		fprintf(stderr, "notifyrecv: %s: %s\n", argv[2],
		    strerror(errno));
		goto out;
	}
	if ((s = notifyrecv_bind(path)) == -1)
		goto out;
	rc = 0;
	while (!notifyrecv_term) {
		n = recv(s, msg, NOTIFYRECV_MAX, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			perror("notifyrecv: recv");
			rc = 1;
			break;
		}
		msg[n] = '\0';
		if (notifyrecv_log(out, msg, (size_t)n) == -1) {
			perror("notifyrecv: write");
			rc = 1;
			break;
		}
	}
out:
	if (s != -1) {
		close(s);
		unlink(path);
	}
	if (out != NULL && fclose(out) != 0 && rc == 0)
		rc = 1;
	return rc;
}
