/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* password_command: a child spawned clean, waited for in slices. */

#include "autoconf.h"

#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pwcmd.h"
#include "util.h"
#include "xmalloc.h"

/* One pipe from the child and where its bytes go. */
struct pwcmd_pipe {
	int	 fd;
	char	*buf;		/* kept bytes */
	size_t	 max;
	size_t	 len;
	bool	 line_only;	/* stop keeping at the first LF */
	bool	 eof;
};

static int	pwcmd_spawn(const char *cmd, int ofd, int efd, pid_t *pid,
		    struct err *e);
static int	pwcmd_pidfd(pid_t pid);
static int	pwcmd_read(struct pwcmd_pipe *p, struct err *e);
static void	pwcmd_errline(const struct pwcmd_pipe *p,
		    struct pwcmd_result *r);

int
pwcmd_run(const char *cmd, struct waiter *w, char *out, size_t outmax,
    size_t *outlen, struct pwcmd_result *r, struct err *e)
{
	struct pwcmd_pipe	 pp[2];
	struct pollfd		 pfd[3];
	char			 errbuf[PWCMD_ERRLINE_MAX];
	int64_t			 since = util_now_ms();
	pid_t			 pid = -1, got;
	nfds_t			 n;
	int			 opipe[2] = { -1, -1 }, epipe[2] = { -1, -1 };
	int			 pidfd = -1, rc, i;

	*outlen = 0;
	memset(r, 0, sizeof(*r));
	memset(pp, 0, sizeof(pp));
	/* Only our ends are non-blocking: the child's writes must block. */
	if (pipe2(opipe, O_CLOEXEC) == -1 || pipe2(epipe, O_CLOEXEC) == -1 ||
	    fcntl(opipe[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(epipe[0], F_SETFL, O_NONBLOCK) == -1) {
		rc = err_set(e, E_IO, "pipe: %s", strerror(errno));
		goto out;
	}
	if ((rc = pwcmd_spawn(cmd, opipe[1], epipe[1], &pid, e)) < 0)
		goto out;
	close(opipe[1]);
	close(epipe[1]);
	opipe[1] = epipe[1] = -1;
	pp[0] = (struct pwcmd_pipe){ opipe[0], out, outmax, 0, false, false };
	pp[1] = (struct pwcmd_pipe){ epipe[0], errbuf, sizeof(errbuf) - 1, 0,
	    true, false };
	/* Without pidfd (Linux before 5.3) an exit that leaves the pipes
	 * open is seen at the end of the slice. */
	pidfd = pwcmd_pidfd(pid);

	for (;;) {
		if ((got = waitpid(pid, &r->status, WNOHANG)) == pid) {
			pid = -1;
			/* Take what is left; a daemon the command started
			 * may hold the pipes open for good. */
			rc = 0;
			for (i = 0; i < 2 && rc >= 0; i++)
				while (!pp[i].eof &&
				    (rc = pwcmd_read(&pp[i], e)) > 0)
					;
			if (rc < 0)
				goto out;
			break;
		}
		if (got == -1 && errno != EINTR) {
			rc = err_set(e, E_IO, "waitpid: %s", strerror(errno));
			goto out;
		}
		/* The whole run is bounded, even while output keeps
		 * coming; so is a stop. */
		if ((rc = waiter_expired(w, since, e)) < 0 ||
		    (rc = waiter_progress(w, e)) < 0)
			goto out;
		n = 0;
		for (i = 0; i < 2; i++)
			if (!pp[i].eof)
				pfd[n++] = (struct pollfd){ pp[i].fd, POLLIN,
				    0 };
		if (pidfd != -1)
			pfd[n++] = (struct pollfd){ pidfd, POLLIN, 0 };
		if ((rc = waiter_poll(w, pfd, n, since, e)) < 0)
			goto out;
		for (i = 0; i < 2; i++)
			if (!pp[i].eof && (rc = pwcmd_read(&pp[i], e)) < 0)
				goto out;
	}
	*outlen = pp[0].len;
	pwcmd_errline(&pp[1], r);
out:
	if (rc < 0 && pid > 0) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &r->status, 0) == -1 && errno == EINTR)
			;
	}
	if (rc < 0)
		pwcmd_errline(&pp[1], r);
	for (i = 0; i < 2; i++) {
		if (opipe[i] != -1)
			close(opipe[i]);
		if (epipe[i] != -1)
			close(epipe[i]);
	}
	if (pidfd != -1)
		close(pidfd);
	return rc;
}

/*
 * posix_spawn /bin/sh -c cmd with stdout to ofd, stderr to efd, stdin from
 * /dev/null, default signals, an empty mask, and a new process group.
 */
static int
pwcmd_spawn(const char *cmd, int ofd, int efd, pid_t *pid, struct err *e)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 all, none;
	char				 sh[] = "sh", dash_c[] = "-c";
	char				*argv[4];
	int				 r;

	argv[0] = sh;
	argv[1] = dash_c;
	argv[2] = xstrdup(cmd);
	argv[3] = NULL;
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	if ((r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO,
	    "/dev/null", O_RDONLY, 0)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(&fa, ofd,
	    STDOUT_FILENO)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(&fa, efd,
	    STDERR_FILENO)) != 0 ||
	    (r = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
	    (r = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (r = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
	    (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP)) != 0)
		goto out;
	r = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, environ);
out:
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(argv[2]);
	if (r != 0)
		return err_set(e, E_IO, "cannot run /bin/sh: %s", strerror(r));
	return 0;
}

/* A descriptor that polls readable when pid exits, or -1. */
static int
pwcmd_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	/* Close-on-exec by definition. */
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/*
 * Read what the pipe has.  Returns 1 after reading bytes, 0 when there is
 * nothing now or at end of stream (eof is then set), or E_IO.
 */
static int
pwcmd_read(struct pwcmd_pipe *p, struct err *e)
{
	char	 drop[512];
	char	*dst = drop;
	size_t	 room = sizeof(drop);
	ssize_t	 n;

	if (p->len < p->max && (!p->line_only ||
	    memchr(p->buf, '\n', p->len) == NULL)) {
		dst = p->buf + p->len;
		room = p->max - p->len;
	}
	n = read(p->fd, dst, room);
	if (n > 0 && dst != drop)
		p->len += (size_t)n;
	/* Surplus output may be part of a secret too. */
	explicit_bzero(drop, sizeof(drop));
	if (n > 0)
		return 1;
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == -1)
		return err_set(e, E_IO, "read: %s", strerror(errno));
	p->eof = true;
	return 0;
}

/* The first line of what stderr gave, sanitized, into r->errline. */
static void
pwcmd_errline(const struct pwcmd_pipe *p, struct pwcmd_result *r)
{
	char	 line[PWCMD_ERRLINE_MAX];
	size_t	 len = p->len;
	char	*nl;

	if (len == 0)
		return;
	memcpy(line, p->buf, len);
	line[len] = '\0';
	if ((nl = strchr(line, '\n')) != NULL)
		*nl = '\0';
	len = strlen(line);
	if (len > 0 && line[len - 1] == '\r')
		line[len - 1] = '\0';
	err_sanitize(r->errline, sizeof(r->errline), line);
}
