/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* --check-config's offline checks of a loaded config, and its summary. */

#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "check.h"
#include "config.h"
#include "err.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"

/* What one run of the checks prints to and counts. */
struct check {
	const struct config	*cfg;
	FILE			*errs;
	int			 errors;
};

static void	 check_say(struct check *, bool, const struct account *,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
static void	 check_path(struct check *, const struct account *,
		    const char *, const char *);
static void	 check_ca_file(struct check *, const struct account *);
static char	*check_canon(const char *);
static void	 check_shared_maildirs(struct check *);
static void	 check_keep(const struct account *, char *, size_t);

/* One finding: "popsyncd: error: FILE[:LINE]: text" (or "warning: "). */
static void
check_say(struct check *c, bool error, const struct account *a,
    const char *fmt, ...)
{
	va_list	ap;

	fprintf(c->errs, "popsyncd: %s", error ? "error: " : "warning: ");
	if (a != NULL)
		fprintf(c->errs, "%s:%d: ", a->file, a->line);
	else
		fprintf(c->errs, "%s: ", c->cfg->path);
	va_start(ap, fmt);
	vfprintf(c->errs, fmt, ap);
	va_end(ap);
	fputc('\n', c->errs);
	if (error)
		c->errors++;
}

/* A relative path is a warning: it works from the right directory. */
static void
check_path(struct check *c, const struct account *a, const char *key,
    const char *path)
{
	if (path == NULL)
		return;
	if (path[0] != '/')
		check_say(c, false, a, "%s: %s is relative: it depends on the "
		    "directory popsyncd starts in (under systemd: /); give "
		    "an absolute path or start it with ~/", key, path);
}

/* The CA file must exist and hold a certificate (when it is used). */
static void
check_ca_file(struct check *c, const struct account *a)
{
	struct stat	sb;
	struct err	e;

	if (a->ca_file == NULL || a->tls == ACCOUNT_TLS_NONE || !a->tls_verify)
		return;
	if (stat(a->ca_file, &sb) == -1)
		check_say(c, true, a, "ca_file: %s: %s%s", a->ca_file,
		    strerror(errno), util_private_tmp_hint(a->ca_file));
	else if (!S_ISREG(sb.st_mode))
		check_say(c, true, a, "ca_file: %s is not a regular file",
		    a->ca_file);
	else if (tls_check_ca_file(a->ca_file, &e) < 0)
		check_say(c, true, a, "ca_file: %s: %s", a->ca_file, e.msg);
}

/* A Maildir path in one spelling: resolved if it exists, else without
 * trailing or doubled slashes.  Caller frees. */
static char *
check_canon(const char *path)
{
	char	buf[PATH_MAX], *s, *d;

	if (realpath(path, buf) != NULL)
		return xstrdup(buf);
	s = xstrdup(path);
	for (d = s; *path != '\0'; path++)
		if (*path != '/' || d == s || d[-1] != '/')
			*d++ = *path;
	while (d > s + 1 && d[-1] == '/')
		d--;
	*d = '\0';
	return s;
}

/*
 * Two accounts may share a Maildir (two servers, one inbox), but not with
 * different keep settings: nothing then breaks, but the user believes one
 * mailbox keeps mail on its server while its twin deletes.  Report each
 * pair once, at the later account.
 */
static void
check_shared_maildirs(struct check *c)
{
	const struct account	*a, *b;
	char			*pa, *pb, ka[48], kb[48];

	TAILQ_FOREACH(a, &c->cfg->accounts, entry) {
		pa = check_canon(a->maildir);
		for (b = TAILQ_NEXT(a, entry); b != NULL;
		    b = TAILQ_NEXT(b, entry)) {
			pb = check_canon(b->maildir);
			if (strcmp(pa, pb) == 0 && (a->keep != b->keep ||
			    a->delete_after_days != b->delete_after_days)) {
				check_keep(a, ka, sizeof(ka));
				check_keep(b, kb, sizeof(kb));
				check_say(c, true, b, "maildir: %s is also the "
				    "Maildir of account %s (%s:%d) with %s, "
				    "but this one has %s: give both the same "
				    "keep and delete_after_days, or each its "
				    "own Maildir", b->maildir, a->name,
				    a->file, a->line, ka, kb);
			}
			free(pb);
		}
		free(pa);
	}
}

/* "keep", "delete" or "keep, delete after N days". */
static void
check_keep(const struct account *a, char *buf, size_t len)
{
	if (!a->keep)
		snprintf(buf, len, "delete");
	else if (a->delete_after_days > 0)
		snprintf(buf, len, "keep, delete after %d days",
		    a->delete_after_days);
	else
		snprintf(buf, len, "keep");
}

int
check_config(const struct config *cfg, FILE *errs)
{
	struct check		 c = { cfg, errs, 0 };
	const struct account	*a;

	if (TAILQ_EMPTY(&cfg->accounts))
		check_say(&c, true, NULL, "no accounts: nothing to fetch; add "
		    "one to \"accounts = ( ... );\"");
	check_path(&c, NULL, "state_db", cfg->state_db);
	TAILQ_FOREACH(a, &cfg->accounts, entry) {
		check_path(&c, a, "maildir", a->maildir);
		check_path(&c, a, "ca_file", a->ca_file);
		check_path(&c, a, "password_file", a->password_file);
		check_ca_file(&c, a);
	}
	check_shared_maildirs(&c);
	return c.errors;
}

void
check_summary(const struct config *cfg, FILE *out)
{
	const struct account	*a;
	char			 keep[48];
	int			 n = 0;

	TAILQ_FOREACH(a, &cfg->accounts, entry)
		n++;
	fprintf(out, "%s: ok, %d account%s\n", cfg->path, n, n == 1 ? "" : "s");
	TAILQ_FOREACH(a, &cfg->accounts, entry) {
		check_keep(a, keep, sizeof(keep));
		fprintf(out, "  %s: %s@%s:%d, tls %s, auth %s, maildir %s, "
		    "%s, every %d s, state %s\n", a->name, a->user, a->host,
		    a->port, account_tls_name(a->tls),
		    account_auth_name(a->auth), a->maildir, keep, a->interval,
		    cfg->state_db);
	}
}
