/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_LOG_H
#define POPSYNC_LOG_H

#include <stdio.h>

/*
 * Logging in the OpenBSD pairs.  Messages go to stderr (or the stream given
 * to log_set_output()), one line each.  When stderr is the journal
 * (JOURNAL_STREAM matches it), each line goes to the sink set with
 * log_set_sink (main.c wires it to sdnotify_journal: a structured entry
 * with PRIORITY=, ACCOUNT=, UIDL=; see log_set_context), or, if there is
 * no sink or it refuses the line, to stderr with the sd-daemon "<N>"
 * priority prefix.
 *
 * log.c depends on nothing above it and allocates nothing: a line is
 * formatted on the stack, fatal's into a static buffer, so running out of
 * memory cannot recurse through the logger (xmalloc -> fatal -> log ->
 * xmalloc).  A sink must not log or call fatal either.
 *
 * Callers prefix messages with the account name ("%s: ...", a->name).
 * Secrets never reach a log: the POP3 client redacts before it calls here.
 */

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,		/* -v: one line per command and reply */
	LOG_LVL_TRACE		/* -vv: every protocol line */
};

/* log_init: set the threshold and detect the journal on stderr. */
void	 log_init(enum log_level level);

/* log_set_level / log_get_level: change or read the threshold. */
void	 log_set_level(enum log_level level);
enum log_level log_get_level(void);

/*
 * log_level_parse: "error", "warning", "info", "debug" or "trace" to a
 * level.  Returns 0, or -1 for an unknown name.
 */
int	 log_level_parse(const char *name, enum log_level *level);

/*
 * log_set_context: the account (and message UIDL) the calling thread works
 * on, sent as the journal fields ACCOUNT= and UIDL=; NULL clears.  The
 * strings must outlive the context: clear it before freeing them.
 */
void	 log_set_context(const char *account, const char *uidl);

/*
 * log_set_sink: where lines go when stderr is the journal.  sink gets the
 * syslog priority (0..7), the thread's context (either may be NULL) and the
 * line without a prefix, and returns 0 when it took the line, -1 when it
 * did not (the line then goes to stderr).  NULL: no sink.
 */
void	 log_set_sink(int (*sink)(int priority, const char *account,
	    const char *uidl, const char *msg));

/* log_set_output: send log lines to fp instead of stderr (NULL: stderr). */
void	 log_set_output(FILE *fp);

/* log_enabled: whether a message at this level would be written. */
int	 log_enabled(enum log_level level);

/* log_warn: warning with ": strerror(errno)" appended. */
void	 log_warn(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	 log_error(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	 log_info(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	 log_trace(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * fatal / fatalx: log and exit(1).  Only for out of memory and impossible
 * states, never for network, server, config or disk errors (STYLE 6).
 * fatal appends strerror(errno).  Neither allocates; a fatal error while
 * one is being logged (from the sink, or another thread) writes straight to
 * stderr and exits.
 */
void	 fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
