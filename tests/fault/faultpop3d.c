/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* A scripted POP3 server for failure-mode tests (curl test850 style). */

/*
 * faultpop3d -p PORTFILE -s SCRIPT -t TRANSCRIPT [-n CONNS] [-P PORT]
 *     [-w SECS]
 *
 * Listens on 127.0.0.1 on PORT, or by default on a port the kernel picks
 * (a test that restarts the server on the port it had keeps the client's
 * idea of the server unchanged), writes the port to PORTFILE, serves up to CONNS connections (default 1) one after another,
 * each running SCRIPT from its start (with -s given more than once,
 * connection K runs the K-th SCRIPT, the last one for all later
 * connections), and records every line received
 * ("C: ") and sent ("S: ") in TRANSCRIPT, after a line "--- connection K"
 * (K counts from 1) at the start of each connection.  Script lines:
 *
 *	S <text>		send text + CRLF
 *	RAW <text>		send text with \r, \n and \\ decoded, in one write
 *	R <glob>		read a line, which must match (fnmatch)
 *	DROP			close the connection now
 *	CLOSE			shut down our side (FIN), then close without
 *				reading what the client still sends
 *	SLEEP <secs>		pause
 *	BIGLINE <bytes>		send that many 'x' without a line end
 *	GARBAGE			send binary junk and a CRLF
 *	BODY <n> <len>		send n lines of len bytes, no terminator
 *	LISTING <n> <LIST|UIDL> [open]
 *				send n listing lines ("K 100" or "K uid-K"
 *				for K = 1..n) in large writes, then the
 *				terminator unless "open" is given
 *
 * After the script every further line is still recorded (that is how a
 * test sees a password the client should never have sent) and answered
 * "-ERR", or "+OK" for QUIT, until the client closes or stays silent for
 * SECS (default 5).  DROP and CLOSE end the connection without that.
 *
 * After the first connection, the server waits up to 30 s for the next
 * one; that wait ending, or SIGTERM during it, ends the run early.  Exit 0
 * when the script ran to its end on every connection served, 1 when one
 * had a mismatch, end of stream or timeout at an R, 2 on a usage or setup
 * error or when no client connected at all.
 */

#include "autoconf.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define FAULT_LINE_MAX		65536
#define FAULT_ACCEPT_MS		30000
#define FAULT_READ_MS		10000
#define FAULT_CONNS_MAX		1000
#define FAULT_SCRIPTS_MAX	8

struct fault {
	int	 fd;
	FILE	*tr;
	char	 in[FAULT_LINE_MAX + 1];
	size_t	 inlen;
};

static void	 usage(void) __attribute__((noreturn));
static int	 fault_listen(const char *portfile, unsigned short port);
static int	 fault_send(struct fault *f, const void *data, size_t len);
static int	 fault_sendline(struct fault *f, const char *text);
static int	 fault_readline(struct fault *f, int timeout_ms, char **line);
static int	 fault_step(struct fault *f, char *cmd);
static void	 fault_drain(struct fault *f, int idle_ms);
static void	 fault_sleep(double secs);
static size_t	 fault_unescape(char *s);
static int	 fault_accept(int ls, int first);
static int	 fault_serve(struct fault *f, FILE *sp, int idle_ms);
static void	 fault_onterm(int sig);

static volatile sig_atomic_t	 fault_term;

/* usage: print the synopsis and exit 2. */
static void
usage(void)
{
	fprintf(stderr, "usage: faultpop3d -p portfile -s script "
	    "-t transcript [-n conns] [-P port] [-w secs]\n");
	exit(2);
}

/* fault_listen: bind 127.0.0.1:port, publish the port, return the socket. */
static int
fault_listen(const char *portfile, unsigned short port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	char			 tmp[4096];
	FILE			*fp;
	int			 s, one = 1;

	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	/* The previous server's connections may linger in TIME_WAIT. */
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		goto fail;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s, 8) == -1 ||
	    getsockname(s, (struct sockaddr *)&sin, &len) == -1)
		goto fail;
	/* Write then rename, so a polling test never reads half a port. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	if ((fp = fopen(tmp, "w")) == NULL)
		goto fail;
	fprintf(fp, "%u\n", ntohs(sin.sin_port));
	if (fclose(fp) != 0 || rename(tmp, portfile) == -1)
		goto fail;
	return s;
fail:
	close(s);
	return -1;
}

/* fault_send: send everything; a vanished client is not our error. */
static int
fault_send(struct fault *f, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;

	while (len > 0) {
		n = send(f->fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(f->tr, "SENDFAIL %s\n", strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fault_sendline: send text + CRLF and record it. */
static int
fault_sendline(struct fault *f, const char *text)
{
	fprintf(f->tr, "S: %s\n", text);
	if (fault_send(f, text, strlen(text)) == -1)
		return -1;
	return fault_send(f, "\r\n", 2);
}

/*
 * fault_readline: the next line without CRLF in *line, valid until the
 * next call.  Returns 0, -1 at end of stream, -2 on timeout.  A line
 * longer than the buffer is cut and its remainder read as further lines.
 */
static int
fault_readline(struct fault *f, int timeout_ms, char **line)
{
	static char	 out[FAULT_LINE_MAX + 1];
	struct pollfd	 pfd;
	char		*lf;
	size_t		 n;
	ssize_t		 r;

	for (;;) {
		lf = memchr(f->in, '\n', f->inlen);
		if (lf != NULL || f->inlen == FAULT_LINE_MAX) {
			n = lf != NULL ? (size_t)(lf - f->in) : f->inlen;
			memcpy(out, f->in, n);
			out[n] = '\0';
			if (n > 0 && out[n - 1] == '\r')
				out[n - 1] = '\0';
			if (lf != NULL)
				n++;
			memmove(f->in, f->in + n, f->inlen - n);
			f->inlen -= n;
			*line = out;
			return 0;
		}
		pfd.fd = f->fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, timeout_ms)) == 0)
			return -2;
		if (r == -1 && errno == EINTR)
			continue;
		r = read(f->fd, f->in + f->inlen, FAULT_LINE_MAX - f->inlen);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		f->inlen += (size_t)r;
	}
}

/* fault_sleep: pause for secs, which may have a fraction. */
static void
fault_sleep(double secs)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* fault_unescape: decode \r, \n and \\ in place; returns the length. */
static size_t
fault_unescape(char *s)
{
	char	*r, *w;

	for (r = w = s; *r != '\0'; r++) {
		if (*r == '\\' && r[1] != '\0') {
			r++;
			*w++ = *r == 'r' ? '\r' : *r == 'n' ? '\n' : *r;
		} else
			*w++ = *r;
	}
	*w = '\0';
	return (size_t)(w - s);
}

/*
 * fault_step: run one script line.  Returns 0 to go on, 1 when the
 * connection is closed (DROP, CLOSE), -1 on a failed expectation.
 */
static int
fault_step(struct fault *f, char *cmd)
{
	/* Control bytes, an escape sequence, high bytes and a NUL. */
	static const unsigned char junk[] = {
		0x00, 0xff, 0xfe, 0x1b, '[', '2', 'J', 0x80, 0x07, 0x08,
		'\r', 0xc3, 0x28, 0x7f, 0x01, 'O', 'K', 0x00, 0x9b, '\r', '\n'
	};
	char		 chunk[8192], *arg, *line;
	unsigned long	 n, len, i;
	int		 r, open_end;

	arg = strchr(cmd, ' ');
	if (arg != NULL)
		*arg++ = '\0';
	else
		arg = cmd + strlen(cmd);
	if (strcmp(cmd, "S") == 0) {
		fault_sendline(f, arg);
	} else if (strcmp(cmd, "RAW") == 0) {
		fprintf(f->tr, "S: %s (raw)\n", arg);
		fault_send(f, arg, fault_unescape(arg));
	} else if (strcmp(cmd, "R") == 0) {
		r = fault_readline(f, FAULT_READ_MS, &line);
		if (r != 0) {
			fprintf(f->tr, "%s waiting for %s\n",
			    r == -1 ? "EOF" : "TIMEOUT", arg);
			return -1;
		}
		fprintf(f->tr, "C: %s\n", line);
		if (fnmatch(arg, line, 0) != 0) {
			fprintf(f->tr, "MISMATCH expected %s\n", arg);
			return -1;
		}
	} else if (strcmp(cmd, "DROP") == 0) {
		fprintf(f->tr, "DROP\n");
		close(f->fd);
		f->fd = -1;
		return 1;
	} else if (strcmp(cmd, "CLOSE") == 0) {
		fprintf(f->tr, "CLOSE\n");
		shutdown(f->fd, SHUT_WR);
		close(f->fd);
		f->fd = -1;
		return 1;
	} else if (strcmp(cmd, "SLEEP") == 0) {
		fprintf(f->tr, "SLEEP %s\n", arg);
		fflush(f->tr);
		fault_sleep(strtod(arg, NULL));
	} else if (strcmp(cmd, "BIGLINE") == 0) {
		n = strtoul(arg, NULL, 10);
		fprintf(f->tr, "S: <%lu bytes of x>\n", n);
		memset(chunk, 'x', sizeof(chunk));
		for (; n > 0; n -= len) {
			len = n < sizeof(chunk) ? n : sizeof(chunk);
			/* The client may hang up on us: that is the point. */
			if (fault_send(f, chunk, len) == -1)
				break;
		}
	} else if (strcmp(cmd, "GARBAGE") == 0) {
		fprintf(f->tr, "S: <garbage>\n");
		fault_send(f, junk, sizeof(junk));
	} else if (strcmp(cmd, "BODY") == 0) {
		n = strtoul(arg, &arg, 10);
		len = strtoul(arg, NULL, 10);
		if (len > sizeof(chunk) - 2)
			len = sizeof(chunk) - 2;
		fprintf(f->tr, "S: <%lu lines of %lu bytes>\n", n, len);
		memset(chunk, 'b', len);
		memcpy(chunk + len, "\r\n", 2);
		for (i = 0; i < n; i++)
			if (fault_send(f, chunk, len + 2) == -1)
				break;
	} else if (strcmp(cmd, "LISTING") == 0) {
		n = strtoul(arg, &arg, 10);
		arg += strspn(arg, " ");
		open_end = (line = strchr(arg, ' ')) != NULL &&
		    strcmp(line + 1, "open") == 0;
		if (line != NULL)
			*line = '\0';
		fprintf(f->tr, "S: <%lu %s lines>\n", n, arg);
		for (i = 1, len = 0, r = 0; i <= n && r == 0; i++) {
			if (strcmp(arg, "UIDL") == 0)
				len += (unsigned long)snprintf(chunk + len,
				    sizeof(chunk) - len, "%lu uid-%lu\r\n", i,
				    i);
			else
				len += (unsigned long)snprintf(chunk + len,
				    sizeof(chunk) - len, "%lu 100\r\n", i);
			if (len > sizeof(chunk) - 64) {
				r = fault_send(f, chunk, len);
				len = 0;
			}
		}
		if (!open_end)
			len += (unsigned long)snprintf(chunk + len,
			    sizeof(chunk) - len, ".\r\n");
		if (r == 0 && len > 0)
			fault_send(f, chunk, len);
	} else {
		fprintf(f->tr, "BADSCRIPT %s\n", cmd);
		return -1;
	}
	fflush(f->tr);
	return 0;
}

/* fault_drain: record what the client still says after the script. */
static void
fault_drain(struct fault *f, int idle_ms)
{
	char	*line;

	while (fault_readline(f, idle_ms, &line) == 0) {
		fprintf(f->tr, "C: %s\n", line);
		if (strncasecmp(line, "QUIT", 4) == 0) {
			fault_sendline(f, "+OK bye");
			break;
		}
		if (fault_sendline(f, "-ERR faultpop3d: end of script") == -1)
			break;
		fflush(f->tr);
	}
}

/* fault_onterm: SIGTERM while waiting for a further connection. */
static void
fault_onterm(int sig)
{
	(void)sig;
	fault_term = 1;
}

/*
 * fault_accept: wait for the next client and return its socket, or -1.
 * Only while waiting for a second or later client does SIGTERM end the
 * wait (and the run) cleanly; anywhere else it kills us as usual.
 */
static int
fault_accept(int ls, int first)
{
	struct sigaction	 sa;
	struct pollfd		 pfd;
	int			 fd = -1, r;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	if (!first) {
		/* No SA_RESTART: poll() must return EINTR. */
		sa.sa_handler = fault_onterm;
		sigaction(SIGTERM, &sa, NULL);
	}
	pfd.fd = ls;
	pfd.events = POLLIN;
	while (!fault_term) {
		r = poll(&pfd, 1, FAULT_ACCEPT_MS);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == 1)
			fd = accept(ls, NULL, NULL);
		break;
	}
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
	return fd;
}

/*
 * fault_serve: run the script from its start on f->fd, then answer what
 * the client still says.  Returns 0 when the script ran to its end, -1
 * on a failed expectation.
 */
static int
fault_serve(struct fault *f, FILE *sp, int idle_ms)
{
	char	 buf[4096];
	size_t	 len;
	int	 r = 0;

	rewind(sp);
	f->inlen = 0;
	while (fgets(buf, sizeof(buf), sp) != NULL) {
		len = strcspn(buf, "\r\n");
		buf[len] = '\0';
		if (buf[0] == '\0' || buf[0] == '#')
			continue;
		if ((r = fault_step(f, buf)) != 0)
			break;
	}
	if (r == 0)
		fault_drain(f, idle_ms);
	fprintf(f->tr, "END\n");
	fflush(f->tr);
	if (f->fd != -1) {
		close(f->fd);
		f->fd = -1;
	}
	return r == -1 ? -1 : 0;
}

int
main(int argc, char *argv[])
{
	struct fault	 f;
	const char	*portfile = NULL, *script[FAULT_SCRIPTS_MAX];
	const char	*trpath = NULL;
	FILE		*sp[FAULT_SCRIPTS_MAX];
	long		 conns = 1, port = 0, k;
	size_t		 nscript = 0, i;
	char		*ep;
	int		 ch, ls = -1, idle_ms = 5000, rc = 2;

	memset(&f, 0, sizeof(f));
	f.fd = -1;
	while ((ch = getopt(argc, argv, "n:P:p:s:t:w:")) != -1) {
		switch (ch) {
		case 'n':
			errno = 0;
			conns = strtol(optarg, &ep, 10);
			if (errno != 0 || *optarg == '\0' || *ep != '\0' ||
			    conns < 1 || conns > FAULT_CONNS_MAX)
				usage();
			break;
		case 'P':
			errno = 0;
			port = strtol(optarg, &ep, 10);
			if (errno != 0 || *optarg == '\0' || *ep != '\0' ||
			    port < 1 || port > 65535)
				usage();
			break;
		case 'p':
			portfile = optarg;
			break;
		case 's':
			if (nscript == FAULT_SCRIPTS_MAX)
				usage();
			script[nscript++] = optarg;
			break;
		case 't':
			trpath = optarg;
			break;
		case 'w':
			idle_ms = atoi(optarg) * 1000;
			break;
		default:
			usage();
		}
	}
	if (portfile == NULL || nscript == 0 || trpath == NULL ||
	    optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);

	memset(sp, 0, sizeof(sp));
	for (i = 0; i < nscript; i++) {
		if ((sp[i] = fopen(script[i], "r")) == NULL) {
			perror(script[i]);
			goto out;
		}
	}
	if ((f.tr = fopen(trpath, "w")) == NULL) {
		perror(trpath);
		goto out;
	}
	if ((ls = fault_listen(portfile, (unsigned short)port)) == -1) {
		perror("faultpop3d: listen");
		goto out;
	}
	for (k = 1; k <= conns; k++) {
		/* A test that died before connecting must not leave us behind. */
		if ((f.fd = fault_accept(ls, k == 1)) == -1) {
			if (k == 1)
				fprintf(stderr, "faultpop3d: no connection\n");
			break;
		}
		if (k == 1)
			rc = 0;
		fprintf(f.tr, "--- connection %ld\n", k);
		i = (size_t)k - 1 < nscript ? (size_t)k - 1 : nscript - 1;
		if (fault_serve(&f, sp[i], idle_ms) == -1)
			rc = 1;
	}
out:
	if (f.fd != -1)
		close(f.fd);
	if (ls != -1)
		close(ls);
	if (f.tr != NULL)
		fclose(f.tr);
	for (i = 0; i < nscript; i++)
		if (sp[i] != NULL)
			fclose(sp[i]);
	return rc;
}
