/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_PWCMD_H
#define POPSYNC_PWCMD_H

#include <stddef.h>

#include "err.h"
#include "waiter.h"

/*
 * Running password_command: "/bin/sh -c CMD" as a well-behaved child of a
 * daemon.  It is started with posix_spawn:
 *  - every signal at its default disposition and none blocked: the
 *    daemon's worker threads block TERM/INT/HUP/USR1 and the process
 *    ignores PIPE, and a child must inherit neither (a pinentry that
 *    cannot be stopped by SIGTERM, a pipeline that never sees EPIPE);
 *  - in a process group of its own, so a timeout or a stop kills the
 *    shell and everything it started (SIGKILL to the whole group);
 *  - stdin from /dev/null, stdout and stderr into pipes of ours; only
 *    file descriptors 0-2 stay open in it (ours are close-on-exec).
 * The run waits through a struct waiter (waiter.h): the idle hook keeps
 * running, the flags end it within a slice, and the waiter's timeout
 * bounds the whole run, counted from the start.
 */

/* How much of stderr's first line is kept for the error message. */
#define PWCMD_ERRLINE_MAX	256

struct pwcmd_result {
	int	 status;			/* as waitpid() gives it */
	char	 errline[PWCMD_ERRLINE_MAX];	/* stderr's first line,
						 * sanitized; "" if none */
};

/*
 * pwcmd_run: run cmd and wait for it to exit.  Its stdout is stored in
 * out[0..outmax) with the count in *outlen; output past outmax is read and
 * dropped (and wiped) so the command never blocks on a full pipe.  Once
 * the shell has exited, what is left in the pipes is taken and the run
 * ends, even if a program it started in the background keeps them open.
 * Returns 0 when the command exited, whatever its status (r->status), or a
 * negative code, after which the command's group has been killed and
 * reaped.  out may hold part of a secret either way: the caller wipes it.
 *
 * Errors: E_TIMEOUT ("timed out after N s"), E_ABORT (a flag of w),
 * E_IO (pipes or spawning failed).
 */
int	 pwcmd_run(const char *cmd, struct waiter *w, char *out, size_t outmax,
	    size_t *outlen, struct pwcmd_result *r, struct err *e);

#endif
