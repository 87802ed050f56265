/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Fuzz the config loader through a private temporary file. */

#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "config.h"
#include "err.h"
#include "fuzz.h"
#include "xmalloc.h"

/*
 * Input: a config file.  It is written to a mode 0600 file made once per
 * process (config_load reads a path, and refuses a password in a file
 * others can read).  Inputs with "@include" are skipped: it would make the
 * fuzzer read any file on the machine (/dev/zero, /dev/stdin); the unit
 * tests' include fixtures cover it.
 *
 * Invariants: either the load succeeds and every value is within the
 * bounds config.c documents (port, interval, timeout, max_parallel,
 * TLS version, names unique), or it fails with E_CONFIG and a message
 * that starts with "FILE:LINE: ", the line counted from 1.  Leaks are
 * found by ASan's leak check after each input.
 */

static char	*cfg_path;

static void	remove_file(void);
static void	write_input(const uint8_t *, size_t);
static void	check_config(const struct config *);

/* Remove the temporary file at exit. */
static void
remove_file(void)
{
	if (cfg_path != NULL)
		unlink(cfg_path);
	free(cfg_path);
	cfg_path = NULL;
}

/* Replace the temporary file's contents with the input. */
static void
write_input(const uint8_t *data, size_t size)
{
	const char	*tmp;
	FILE		*fp;
	int		 fd;

	if (cfg_path == NULL) {
		tmp = getenv("TMPDIR");
		cfg_path = xasprintf("%s/popsyncd-fuzz-config.XXXXXX",
		    tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
		if ((fd = mkstemp(cfg_path)) == -1)
			fuzz_fail(__FILE__, __LINE__, "mkstemp: %s",
			    strerror(errno));
		close(fd);
		atexit(remove_file);
	}
	if ((fp = fopen(cfg_path, "w")) == NULL ||
	    fwrite(data, 1, size, fp) != size || fclose(fp) != 0)
		fuzz_fail(__FILE__, __LINE__, "%s: %s", cfg_path,
		    strerror(errno));
}

/* A loaded config obeys the bounds of config.c's key tables. */
static void
check_config(const struct config *c)
{
	const struct account	*a, *b;

	FUZZ_CHECK(c->state_db != NULL && c->state_db[0] != '\0',
	    "no state_db");
	FUZZ_CHECK(c->interval >= 1 && c->interval <= ACCOUNT_INTERVAL_MAX,
	    "interval %d", c->interval);
	FUZZ_CHECK(c->max_parallel >= 1 && c->max_parallel <= 64,
	    "max_parallel %d", c->max_parallel);
	TAILQ_FOREACH(a, &c->accounts, entry) {
		FUZZ_CHECK(a->name != NULL && a->name[0] != '\0', "no name");
		FUZZ_CHECK(a->host != NULL && a->host[0] != '\0',
		    "%s: no host", a->name);
		FUZZ_CHECK(a->port >= 1 && a->port <= 65535, "%s: port %d",
		    a->name, a->port);
		/* The bounds that keep later arithmetic (timeout * 1000,
		 * days * 86400) from overflowing. */
		FUZZ_CHECK(a->interval >= 1 &&
		    a->interval <= ACCOUNT_INTERVAL_MAX, "%s: interval %d",
		    a->name, a->interval);
		FUZZ_CHECK(a->timeout >= 1 && a->timeout <= ACCOUNT_TIMEOUT_MAX,
		    "%s: timeout %d", a->name, a->timeout);
		FUZZ_CHECK(a->delete_after_days >= 0 &&
		    a->delete_after_days <= ACCOUNT_DELETE_DAYS_MAX,
		    "%s: days %d", a->name, a->delete_after_days);
		FUZZ_CHECK(a->tls_min_version == 0 ||
		    a->tls_min_version == 12 || a->tls_min_version == 13,
		    "%s: TLS version %d", a->name, a->tls_min_version);
		/* "~" and "~/..." are expanded; "~x" is a name like any. */
		FUZZ_CHECK(a->maildir != NULL && strcmp(a->maildir, "~") != 0 &&
		    strncmp(a->maildir, "~/", 2) != 0,
		    "%s: maildir not expanded", a->name);
		FUZZ_CHECK(config_find(c, a->name) == a, "%s: not found",
		    a->name);
		for (b = TAILQ_NEXT(a, entry); b != NULL;
		    b = TAILQ_NEXT(b, entry))
			FUZZ_CHECK(strcmp(a->name, b->name) != 0,
			    "%s: defined twice", a->name);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*c = NULL;
	struct err	 e;
	char		*end;
	size_t		 n;
	long		 line;
	int		 rc;

	if (memmem(data, size, "@include", 8) != NULL)
		return 0;
	write_input(data, size);
	err_clear(&e);
	rc = config_load(cfg_path, &c, &e);
	if (rc == 0) {
		FUZZ_CHECK(c != NULL, "success without a config");
		check_config(c);
	} else {
		FUZZ_CHECK(rc == E_CONFIG && e.code == E_CONFIG && c == NULL,
		    "error %d (%s)", rc, e.msg);
		/* "FILE:LINE: ", LINE counted from 1. */
		n = strlen(cfg_path);
		FUZZ_CHECK(strncmp(e.msg, cfg_path, n) == 0 && e.msg[n] == ':',
		    "message without the file: %s", e.msg);
		line = strtol(e.msg + n + 1, &end, 10);
		FUZZ_CHECK(end > e.msg + n + 1 && *end == ':' && line >= 1,
		    "message without the line: %s", e.msg);
	}
	config_free(c);
	return 0;
}
