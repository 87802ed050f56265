/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Leveled logging to stderr or the journal. */

#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static void	log_vwrite(enum log_level, const char *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));
static int	log_stderr_is_journal(void);
static void	log_fatal(const char *, const char *, va_list)
		    __attribute__((format(printf, 2, 0), noreturn));

/* Worker threads read the threshold while a reload may change it. */
static _Atomic int	 log_threshold = LOG_LVL_INFO;
static int		 log_journal;
static FILE		*log_fp;
static int		(*log_sink)(int, const char *, const char *,
			    const char *);
/* Set by the first fatal: a second one does not go through the sink. */
static atomic_flag	 log_fatal_once = ATOMIC_FLAG_INIT;
/* fatal's line: static, so that out of memory needs no memory to report. */
static char		 log_fatal_buf[1024];
/* What this thread works on: the journal's ACCOUNT= and UIDL= fields. */
static _Thread_local const char *log_ctx_account;
static _Thread_local const char *log_ctx_uidl;

/* sd-daemon(3) priorities for each of our levels. */
static const int log_prio[] = { 3, 4, 6, 7, 7 };
static const char *const log_names[] = {
	"error", "warning", "info", "debug", "trace"
};

void
log_init(enum log_level level)
{
	log_threshold = level;
	log_journal = log_stderr_is_journal();
}

void
log_set_level(enum log_level level)
{
	log_threshold = level;
}

enum log_level
log_get_level(void)
{
	return (enum log_level)log_threshold;
}

void
log_set_context(const char *account, const char *uidl)
{
	log_ctx_account = account;
	log_ctx_uidl = uidl;
}

int
log_level_parse(const char *name, enum log_level *level)
{
	size_t	i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(name, log_names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_set_sink(int (*sink)(int, const char *, const char *, const char *))
{
	log_sink = sink;
}

void
log_set_output(FILE *fp)
{
	log_fp = fp;
}

int
log_enabled(enum log_level level)
{
	return (int)level <= log_threshold;
}

/* Is stderr the journal stream systemd handed us (JOURNAL_STREAM=dev:ino)? */
static int
log_stderr_is_journal(void)
{
	const char		*js;
	struct stat		 st;
	unsigned long long	 dev, ino;

	js = getenv("JOURNAL_STREAM");
	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(fileno(stderr), &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/* Write one line at a level, with an optional suffix such as strerror. */
static void
log_vwrite(enum log_level level, const char *suffix, const char *fmt,
    va_list ap)
{
	FILE	*fp = log_fp != NULL ? log_fp : stderr;
	char	 line[8192];
	int	 n;

	if (!log_enabled(level))
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (suffix != NULL && n >= 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, ": %s", suffix);
	if (log_journal && log_fp == NULL && log_sink != NULL &&
	    log_sink(log_prio[level], log_ctx_account, log_ctx_uidl,
	    line) == 0)
		return;
	if (log_journal && log_fp == NULL)
		fprintf(fp, "<%d>%s\n", log_prio[level], line);
	else
		fprintf(fp, "popsyncd: %s%s%s\n",
		    level == LOG_LVL_INFO ? "" : log_names[level],
		    level == LOG_LVL_INFO ? "" : ": ", line);
	fflush(fp);
}

#define LOG_FN(fn, level)						\
void									\
fn(const char *fmt, ...)						\
{									\
	va_list	ap;							\
									\
	va_start(ap, fmt);						\
	log_vwrite(level, NULL, fmt, ap);				\
	va_end(ap);							\
}

LOG_FN(log_warnx, LOG_LVL_WARN)
LOG_FN(log_error, LOG_LVL_ERROR)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)
LOG_FN(log_trace, LOG_LVL_TRACE)

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	char	 es[256];

	snprintf(es, sizeof(es), "%s", strerror(errno));
	va_start(ap, fmt);
	log_vwrite(LOG_LVL_WARN, es, fmt, ap);
	va_end(ap);
}

/*
 * Format into the static buffer and exit.  Only the first fatal error uses
 * the sink; a second one (the sink failed into fatal, or two threads) is
 * written to fd 2 as it stands.
 */
static void
log_fatal(const char *suffix, const char *fmt, va_list ap)
{
	static const char	again[] = "popsyncd: fatal error while "
				    "reporting a fatal error\n";
	size_t			n;
	ssize_t			w;

	if (atomic_flag_test_and_set(&log_fatal_once)) {
		w = write(STDERR_FILENO, again, sizeof(again) - 1);
		(void)w;
		_exit(1);
	}
	vsnprintf(log_fatal_buf, sizeof(log_fatal_buf), fmt, ap);
	n = strlen(log_fatal_buf);
	if (suffix != NULL)
		snprintf(log_fatal_buf + n, sizeof(log_fatal_buf) - n, ": %s",
		    suffix);
	if (!log_enabled(LOG_LVL_ERROR))
		exit(1);
	if (log_journal && log_fp == NULL && log_sink != NULL &&
	    log_sink(log_prio[LOG_LVL_ERROR], log_ctx_account, log_ctx_uidl,
	    log_fatal_buf) == 0)
		exit(1);
	if (log_journal && log_fp == NULL)
		fprintf(stderr, "<%d>%s\n", log_prio[LOG_LVL_ERROR],
		    log_fatal_buf);
	else
		fprintf(log_fp != NULL ? log_fp : stderr, "popsyncd: error: "
		    "%s\n", log_fatal_buf);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_fatal(strerror(saved), fmt, ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_fatal(NULL, fmt, ap);
}
