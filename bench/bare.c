/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/*
 * The bare re-poll for bench/run.sh --targets (accounts): what a poll of
 * many mailboxes with nothing new costs at the least.  For the users
 * PREFIX001 .. PREFIXnnn (N of them) it connects, does a full TLS
 * handshake (no session is resumed), logs in with USER and PASS, asks for
 * UIDL, reads the listing to its end and QUITs; P processes share the
 * users, each taking every P-th one, as a daemon with max_parallel = P
 * would.  Nothing is parsed beyond the status lines and the terminator.
 *
 * Usage: bare HOST PORT CAFILE PREFIX PASS N P
 * Prints "bare: N polls" on stdout; exit 0, or 1 with the reason on stderr.
 */

#include <sys/socket.h>
#include <sys/wait.h>
#include <netdb.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static SSL	*bare_ssl;
static char	 bare_buf[16 * 1024];
static size_t	 bare_rpos, bare_wpos;

static void	bare_die(const char *, const char *) __attribute__((noreturn));
static char	*bare_line(void);
static void	bare_cmd(const char *, int);
static void	bare_poll(SSL_CTX *, const char *, const char *, const char *,
		    const char *);

static void
bare_die(const char *user, const char *what)
{
	fprintf(stderr, "bare: %s: %s\n", user, what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* The next line, CRLF cut off. */
static char *
bare_line(void)
{
	char	*s, *nl;
	int	 n;

	for (;;) {
		s = bare_buf + bare_rpos;
		if ((nl = memchr(s, '\n', bare_wpos - bare_rpos)) != NULL) {
			*nl = '\0';
			if (nl > s && nl[-1] == '\r')
				nl[-1] = '\0';
			bare_rpos = (size_t)(nl + 1 - bare_buf);
			return s;
		}
		memmove(bare_buf, s, bare_wpos - bare_rpos);
		bare_wpos -= bare_rpos;
		bare_rpos = 0;
		if (bare_wpos == sizeof(bare_buf))
			bare_die("-", "line too long");
		if ((n = SSL_read(bare_ssl, bare_buf + bare_wpos,
		    (int)(sizeof(bare_buf) - bare_wpos))) <= 0)
			bare_die("-", "connection closed");
		bare_wpos += (size_t)n;
	}
}

/* Send cmd, read its status (and a multi-line body up to "."). */
static void
bare_cmd(const char *cmd, int multi)
{
	char	line[512], *s;

	snprintf(line, sizeof(line), "%s\r\n", cmd);
	if (SSL_write(bare_ssl, line, (int)strlen(line)) <= 0)
		bare_die(cmd, "write failed");
	if (strncmp(s = bare_line(), "+OK", 3) != 0)
		bare_die(cmd, s);
	while (multi && strcmp(bare_line(), ".") != 0)
		;
}

/* One poll of user: connect, handshake, log in, UIDL, QUIT. */
static void
bare_poll(SSL_CTX *ctx, const char *host, const char *port,
    const char *user, const char *pass)
{
	struct addrinfo	 hints, *res;
	char		 cmd[256];
	int		 fd;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		bare_die(user, "getaddrinfo");
	if ((fd = socket(res->ai_family, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, res->ai_addr, res->ai_addrlen) == -1)
		bare_die(user, "connect");
	freeaddrinfo(res);
	if ((bare_ssl = SSL_new(ctx)) == NULL ||
	    !SSL_set_tlsext_host_name(bare_ssl, host) ||
	    !SSL_set1_host(bare_ssl, host) ||
	    !SSL_set_fd(bare_ssl, fd) || SSL_connect(bare_ssl) != 1)
		bare_die(user, "TLS handshake");
	bare_rpos = bare_wpos = 0;
	if (strncmp(bare_line(), "+OK", 3) != 0)
		bare_die(user, "greeting");
	snprintf(cmd, sizeof(cmd), "USER %s", user);
	bare_cmd(cmd, 0);
	snprintf(cmd, sizeof(cmd), "PASS %s", pass);
	bare_cmd(cmd, 0);
	bare_cmd("UIDL", 1);
	bare_cmd("QUIT", 0);
	SSL_free(bare_ssl);
	close(fd);
}

int
main(int argc, char *argv[])
{
	SSL_CTX	*ctx;
	char	 user[128];
	long	 n, p, i, k;
	int	 status, bad = 0;
	pid_t	 pid;

	if (argc != 8)
		bare_die("usage", "bare HOST PORT CAFILE PREFIX PASS N P");
	n = strtol(argv[6], NULL, 10);
	p = strtol(argv[7], NULL, 10);
	if (n < 1 || p < 1)
		bare_die("usage", "N and P must be at least 1");
	for (k = 0; k < p; k++) {
		if ((pid = fork()) == -1)
			bare_die("fork", "failed");
		if (pid != 0)
			continue;
		if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
		    SSL_CTX_load_verify_locations(ctx, argv[3], NULL) != 1)
			bare_die(argv[3], "CA file");
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		/* A full handshake every time, as the issue asks. */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		for (i = k; i < n; i += p) {
			snprintf(user, sizeof(user), "%s%03ld", argv[4],
			    i + 1);
			bare_poll(ctx, argv[1], argv[2], user, argv[5]);
		}
		SSL_CTX_free(ctx);
		_exit(0);
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad = 1;
	if (bad)
		bare_die("child", "a poll failed");
	printf("bare: %ld polls\n", n);
	return 0;
}
