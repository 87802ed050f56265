/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_ERR_H
#define POPSYNC_ERR_H

#include <stdbool.h>

/*
 * Errors: functions return 0 or one of the negative codes below, and fill a
 * caller-provided struct err with the code and a message for the user.  No
 * allocation happens on the error path.
 *
 * Each error is temporary (retry later: the network, a busy mailbox) or
 * permanent (needs a person: bad password, bad certificate, bad config).
 * The code gives the default; a server response code can override it, so a
 * "-ERR [SYS/TEMP]" is temporary while a plain "-ERR" is permanent.
 */

enum err_code {
	E_OK = 0,
	E_IO = -1,		/* network or local I/O failed (temporary) */
	E_TIMEOUT = -2,		/* no answer in time (temporary) */
	E_PROTO = -3,		/* the server broke the protocol (temporary) */
	E_AUTH = -4,		/* login refused (permanent) */
	E_TLS = -5,		/* handshake or verification failed (permanent) */
	E_SERVER = -6,		/* -ERR to a command (permanent by default) */
	E_INSECURE = -7,	/* would expose a secret; refused (permanent) */
	E_DELIVERY = -8,	/* Maildir write failed (temporary) */
	E_STORE = -9,		/* state database failed (permanent) */
	E_CONFIG = -10,		/* config is wrong (permanent) */
	E_ABORT = -11,		/* stopped by a signal (temporary) */
	E_USAGE = -12		/* bad command line (permanent) */
};

/* The message is sized for a server reply (capped by us) plus context. */
#define ERR_MSGLEN	1024

struct err {
	int	 code;
	bool	 temporary;
	char	 msg[ERR_MSGLEN];
};

/*
 * err_set: record code and a formatted message in e (which may be NULL) and
 * return code, so callers can write "return err_set(e, E_IO, ...)".  The
 * temporary flag takes the code's default.
 */
int	 err_set(struct err *e, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * err_prefix: put "prefix: " in front of the message already in e, to add
 * context such as the account name while the error travels up.
 */
void	 err_prefix(struct err *e, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * err_after_prefix: the rest of e's message after "prefix: ", or NULL when
 * the message does not start with it (so a caller can add a prefix only
 * once, or show the message without one it already carries).
 */
const char *err_after_prefix(const struct err *e, const char *prefix);

/* err_clear: reset e to E_OK with an empty message. */
void	 err_clear(struct err *e);

/* err_code_is_temporary: the default class of a code. */
bool	 err_code_is_temporary(int code);

/* err_is_temporary: whether the scheduler should retry after a backoff. */
bool	 err_is_temporary(const struct err *e);

/* err_name: short name of a code ("E_IO"), for logs and tests. */
const char *err_name(int code);

/*
 * err_exitcode: the one mapping from an error code to a process exit code:
 * 0 for E_OK, 2 for E_CONFIG and E_USAGE, 1 for everything else.
 */
int	 err_exitcode(int code);

/*
 * err_sanitize: copy at most dstlen - 1 bytes of a server's text into dst,
 * replacing control and non-ASCII bytes with '?', so a hostile reply cannot
 * forge log lines or terminal escapes.
 */
void	 err_sanitize(char *dst, size_t dstlen, const char *src);

#endif
