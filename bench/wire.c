/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/*
 * The pipelined wire bound for bench/run.sh --targets: the least a POP3
 * client can do to fetch a whole mailbox over the same TLS link.  It logs
 * in, sends every RETR with a window of WIRE_WINDOW bytes of replies
 * outstanding (the LIST sizes say how many), reads the replies and throws
 * the bytes away, counting only the "\r\n.\r\n" ends, then QUITs.  No
 * parsing, no unstuffing, no disk: any real client is slower.
 *
 * Usage: wire HOST PORT CAFILE USER PASS
 * Prints "wire: MESSAGES messages, BYTES bytes" on stdout; exit 0, or 1
 * with the reason on stderr.
 */

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* Replies in flight, in bytes: as much as the socket buffers hold. */
#define WIRE_WINDOW	(256 * 1024)

static SSL		*wire_ssl;
static char		 wire_buf[64 * 1024];
static size_t		 wire_rpos, wire_wpos;

static void	wire_die(const char *what) __attribute__((noreturn));
static void	wire_fill(void);
static char	*wire_line(void);
static void	wire_send(const char *s, size_t len);
static void	wire_cmd(const char *cmd);

static void
wire_die(const char *what)
{
	fprintf(stderr, "wire: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* Read once into the free end of the buffer. */
static void
wire_fill(void)
{
	int	n;

	if (wire_rpos > 0) {
		memmove(wire_buf, wire_buf + wire_rpos, wire_wpos - wire_rpos);
		wire_wpos -= wire_rpos;
		wire_rpos = 0;
	}
	if (wire_wpos == sizeof(wire_buf))
		wire_die("line too long");
	if ((n = SSL_read(wire_ssl, wire_buf + wire_wpos,
	    (int)(sizeof(wire_buf) - wire_wpos))) <= 0)
		wire_die("connection closed");
	wire_wpos += (size_t)n;
}

/* The next CRLF-terminated line, NUL-terminated, CRLF cut off. */
static char *
wire_line(void)
{
	char	*s, *nl;

	for (;;) {
		s = wire_buf + wire_rpos;
		if ((nl = memchr(s, '\n', wire_wpos - wire_rpos)) != NULL) {
			*nl = '\0';
			if (nl > s && nl[-1] == '\r')
				nl[-1] = '\0';
			wire_rpos = (size_t)(nl + 1 - wire_buf);
			return s;
		}
		wire_fill();
	}
}

static void
wire_send(const char *s, size_t len)
{
	if (SSL_write(wire_ssl, s, (int)len) != (int)len)
		wire_die("write failed");
}

/* A one-line command that must answer +OK. */
static void
wire_cmd(const char *cmd)
{
	char	*l;

	wire_send(cmd, strlen(cmd));
	l = wire_line();
	if (strncmp(l, "+OK", 3) != 0) {
		fprintf(stderr, "wire: %.*s: %s\n", (int)strcspn(cmd, " \r"),
		    cmd, l);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	struct addrinfo	 hints, *ai;
	SSL_CTX		*ctx;
	unsigned long	*sizes = NULL, count, num, next = 1, done = 0;
	unsigned long long	 inflight = 0, total = 0;
	char		 cmds[4096], *l;
	size_t		 n, i, len;
	int		 fd, st = 0;
	const char	*eob = "\r\n.\r\n";

	if (argc != 6) {
		fprintf(stderr, "usage: wire HOST PORT CAFILE USER PASS\n");
		return 2;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0)
		wire_die("getaddrinfo");
	if ((fd = socket(ai->ai_family, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		wire_die("connect");
	freeaddrinfo(ai);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    !SSL_CTX_load_verify_locations(ctx, argv[3], NULL))
		wire_die("SSL_CTX");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((wire_ssl = SSL_new(ctx)) == NULL || !SSL_set_fd(wire_ssl, fd) ||
	    !SSL_set1_host(wire_ssl, argv[1]) ||
	    !SSL_set_tlsext_host_name(wire_ssl, argv[1]) ||
	    SSL_connect(wire_ssl) != 1)
		wire_die("TLS handshake");

	l = wire_line();
	if (strncmp(l, "+OK", 3) != 0)
		wire_die("greeting");
	snprintf(cmds, sizeof(cmds), "USER %s\r\n", argv[4]);
	wire_cmd(cmds);
	snprintf(cmds, sizeof(cmds), "PASS %s\r\n", argv[5]);
	wire_cmd(cmds);

	/* LIST: the sizes that size the window. */
	wire_cmd("LIST\r\n");
	count = 0;
	while (strcmp(l = wire_line(), ".") != 0) {
		num = strtoul(l, &l, 10);
		if ((sizes = realloc(sizes, (num + 1) * sizeof(*sizes))) ==
		    NULL)
			wire_die("malloc");
		sizes[num] = strtoul(l, NULL, 10);
		count = num;
	}

	while (done < count) {
		/* Top the window up with one write of as many RETRs as fit. */
		len = 0;
		while (next <= count && (inflight < WIRE_WINDOW ||
		    next == done + 1) && len + 32 < sizeof(cmds)) {
			len += (size_t)snprintf(cmds + len, sizeof(cmds) - len,
			    "RETR %lu\r\n", next);
			inflight += sizes[next] + 64;
			next++;
		}
		if (len > 0)
			wire_send(cmds, len);
		/* Discard what came, counting the ends of replies. */
		if (wire_rpos == wire_wpos)
			wire_rpos = wire_wpos = 0;
		wire_fill();
		n = wire_wpos - wire_rpos;
		total += n;
		for (i = wire_rpos; i < wire_wpos; i++) {
			if (wire_buf[i] == eob[st])
				st++;
			else
				st = wire_buf[i] == '\r' ? 1 : 0;
			if (st == 5) {
				st = 0;
				done++;
				inflight -= sizes[done] + 64;
			}
		}
		wire_rpos = wire_wpos;
	}
	wire_cmd("QUIT\r\n");
	printf("wire: %lu messages, %llu bytes\n", count, total);
	SSL_free(wire_ssl);
	SSL_CTX_free(ctx);
	free(sizes);
	close(fd);
	return 0;
}
