/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Accounts: defaults, the semantic check and fetching the secret. */

#include "autoconf.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "account.h"
#include "crypto.h"
#include "pwcmd.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"

/*
 * The longest secret we accept: OAuth access tokens run to a few KiB, so
 * this leaves room while bounding what a runaway command can make us hold.
 */
#define ACCOUNT_SECRET_MAX	16384

static int	account_file_check(const char *, int, bool, struct err *);
static int	account_first_line(const struct account *, const char *,
		    char *, size_t, char **, struct err *);
static int	account_secret_file(const struct account *, char **,
		    struct err *);
static int	account_secret_command(const struct account *,
		    struct waiter *, char **, struct err *);
static int	account_keyword(const char *const *, size_t, const char *);

static const char *const account_tls_names[] = {
	[ACCOUNT_TLS_IMPLICIT] = "implicit",
	[ACCOUNT_TLS_STARTTLS] = "starttls",
	[ACCOUNT_TLS_NONE] = "none"
};

static const char *const account_auth_names[] = {
	[ACCOUNT_AUTH_AUTO] = "auto",
	[ACCOUNT_AUTH_USER] = "user",
	[ACCOUNT_AUTH_APOP] = "apop",
	[ACCOUNT_AUTH_PLAIN] = "plain",
	[ACCOUNT_AUTH_LOGIN] = "login",
	[ACCOUNT_AUTH_CRAM_MD5] = "cram-md5",
	[ACCOUNT_AUTH_XOAUTH2] = "xoauth2",
	[ACCOUNT_AUTH_OAUTHBEARER] = "oauthbearer"
};

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* A new account holding every default the config may leave out. */
struct account *
account_new(void)
{
	struct account	*a;

	a = xcalloc(1, sizeof(*a));
	a->port = 995;
	a->tls = ACCOUNT_TLS_IMPLICIT;
	a->tls_verify = true;
	a->tls_min_version = 12;
	a->auth = ACCOUNT_AUTH_AUTO;
	a->keep = true;
	a->interval = 300;
	a->timeout = 60;
	a->tls_cache = tls_cache_new();
	return a;
}

/* Free an account; the inline password is wiped first. */
void
account_free(struct account *a)
{
	if (a == NULL)
		return;
	free(a->name);
	free(a->host);
	free(a->ca_file);
	free(a->tls_fingerprint);
	free(a->user);
	freezero(a->password, 0);
	free(a->password_command);
	free(a->password_file);
	free(a->maildir);
	free(a->file);
	tls_cache_free(a->tls_cache);
	free(a);
}

/* Letters, digits, '.', '_' and '-': safe in file names and log lines. */
bool
account_name_ok(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-')
			return false;
	}
	return i > 0 && i <= ACCOUNT_NAME_MAX;
}

/* A pin crypto_pin_parse takes (so the handshake will take it too). */
bool
account_fingerprint_ok(const char *s)
{
	unsigned char	md[CRYPTO_SHA256_LEN];

	return crypto_pin_parse(s, md) == 0;
}

/* Refuse a secret-bearing file that group or others can read. */
int
account_secure_file(const char *path, int fd, struct err *e)
{
	return account_file_check(path, fd, false, e);
}

/*
 * account_secure_file, and with regular also refuse anything but a
 * regular file: a password_file that is a FIFO would block the read for
 * ever, a device could be anything.  fd is the open file, or -1 to stat
 * path (which never blocks).
 */
static int
account_file_check(const char *path, int fd, bool regular, struct err *e)
{
	struct stat	st;
	int		rc;

	rc = fd == -1 ? stat(path, &st) : fstat(fd, &st);
	if (rc == -1)
		return err_set(e, E_CONFIG, "%s: %s", path, strerror(errno));
	if (regular && !S_ISREG(st.st_mode))
		return err_set(e, E_CONFIG, "%s: not a regular file (a FIFO or "
		    "device would block or change under us); refusing to read "
		    "it", path);
	if ((st.st_mode & 077) != 0)
		return err_set(e, E_CONFIG, "%s: holds a password but is "
		    "readable by group or others (mode %04o); chmod 600 %s",
		    path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

/* Validate what parsing cannot: required keys, one secret, value ranges. */
int
account_check(const struct account *a, struct err *e)
{
	const char	*file = a->file != NULL ? a->file : "(no file)";
	const char	*missing = NULL;
	int		 sources, rc;

	if (a->name == NULL || *a->name == '\0')
		missing = "name";
	else if (a->host == NULL || *a->host == '\0')
		missing = "host";
	else if (a->user == NULL || *a->user == '\0')
		missing = "user";
	else if (a->maildir == NULL || *a->maildir == '\0')
		missing = "maildir";
	if (missing != NULL)
		return err_set(e, E_CONFIG, "%s:%d: %s: missing; every account "
		    "needs one", file, a->line, missing);

	if (!account_name_ok(a->name))
		return err_set(e, E_CONFIG, "%s:%d: name: expected "
		    ACCOUNT_NAME_RULE, file, a->line);
	if (a->port < 1 || a->port > 65535)
		return err_set(e, E_CONFIG, "%s:%d: port: expected an integer "
		    "from 1 to 65535, got %d", file, a->line, a->port);
	if (account_tls_name(a->tls) == NULL)
		return err_set(e, E_CONFIG, "%s:%d: tls: bad value %d", file,
		    a->line, (int)a->tls);
	if (account_auth_name(a->auth) == NULL)
		return err_set(e, E_CONFIG, "%s:%d: auth: bad value %d", file,
		    a->line, (int)a->auth);
	if (a->tls_min_version != 12 && a->tls_min_version != 13)
		return err_set(e, E_CONFIG, "%s:%d: tls_min_version: expected "
		    "\"1.2\" or \"1.3\"", file, a->line);
	if (a->tls_fingerprint != NULL &&
	    !account_fingerprint_ok(a->tls_fingerprint))
		return err_set(e, E_CONFIG, "%s:%d: tls_fingerprint: expected "
		    ACCOUNT_FINGERPRINT_RULE, file, a->line);
	/* Without a pin, turning verification off trusts any server. */
	if (a->tls != ACCOUNT_TLS_NONE && !a->tls_verify &&
	    a->tls_fingerprint == NULL)
		return err_set(e, E_CONFIG, "%s:%d: tls_verify: false needs a "
		    "tls_fingerprint to pin the server", file, a->line);
	if (a->delete_after_days < 0 ||
	    a->delete_after_days > ACCOUNT_DELETE_DAYS_MAX)
		return err_set(e, E_CONFIG, "%s:%d: delete_after_days: "
		    "expected an integer from 0 to %d, got %d", file, a->line,
		    ACCOUNT_DELETE_DAYS_MAX, a->delete_after_days);
	if (a->interval < 1 || a->interval > ACCOUNT_INTERVAL_MAX)
		return err_set(e, E_CONFIG, "%s:%d: interval: expected an "
		    "integer from 1 to %d, got %d", file, a->line,
		    ACCOUNT_INTERVAL_MAX, a->interval);
	if (a->timeout < 1 || a->timeout > ACCOUNT_TIMEOUT_MAX)
		return err_set(e, E_CONFIG, "%s:%d: timeout: expected an "
		    "integer from 1 to %d, got %d", file, a->line,
		    ACCOUNT_TIMEOUT_MAX, a->timeout);

	/* Every login method, OAuth included, needs a secret. */
	sources = (a->password != NULL) + (a->password_command != NULL) +
	    (a->password_file != NULL);
	if (sources == 0)
		return err_set(e, E_CONFIG, "%s:%d: account %s: expected one "
		    "of password, password_command or password_file (auth "
		    "\"%s\" needs a secret)", file, a->line, a->name,
		    account_auth_name(a->auth));
	if (sources > 1)
		return err_set(e, E_CONFIG, "%s:%d: account %s: only one of "
		    "password, password_command and password_file may be set",
		    file, a->line, a->name);
	if (a->password_file != NULL &&
	    (rc = account_file_check(a->password_file, -1, true, e)) < 0) {
		err_prefix(e, "%s:%d: password_file", file, a->line);
		return rc;
	}
	return 0;
}

/* The secret from whichever source the account names. */
int
account_secret(const struct account *a, struct waiter *w, char **out,
    struct err *e)
{
	*out = NULL;
	if (a->password != NULL) {
		*out = xstrdup(a->password);
		return 0;
	}
	if (a->password_file != NULL)
		return account_secret_file(a, out, e);
	if (a->password_command != NULL)
		return account_secret_command(a, w, out, e);
	return err_set(e, E_CONFIG, "%s: no password, password_command or "
	    "password_file", a->name);
}

/* Copy the first line of buf[0..len) to *out; an empty one is an error. */
static int
account_first_line(const struct account *a, const char *source, char *buf,
    size_t len, char **out, struct err *e)
{
	char	*nl;

	if ((nl = memchr(buf, '\n', len)) != NULL)
		len = (size_t)(nl - buf);
	else if (len == ACCOUNT_SECRET_MAX)
		return err_set(e, E_CONFIG, "%s: %s failed: first line longer "
		    "than %d bytes", a->name, source, ACCOUNT_SECRET_MAX);
	/* Files edited on Windows end lines in CRLF. */
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0)
		return err_set(e, E_CONFIG, "%s: %s failed: the first line is "
		    "empty", a->name, source);
	*out = xstrndup(buf, len);
	return 0;
}

/* The first line of password_file, re-checking its mode on the open file. */
static int
account_secret_file(const struct account *a, char **out, struct err *e)
{
	char	*buf;
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd, rc;

	buf = xmalloc(ACCOUNT_SECRET_MAX);
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	if ((fd = open(a->password_file, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1) {
		rc = err_set(e, E_CONFIG, "%s: password_file %s: %s", a->name,
		    a->password_file, strerror(errno));
		goto out;
	}
	if ((rc = account_file_check(a->password_file, fd, true, e)) < 0) {
		err_prefix(e, "%s", a->name);
		goto out;
	}
	while (len < ACCOUNT_SECRET_MAX && memchr(buf, '\n', len) == NULL) {
		n = read(fd, buf + len, ACCOUNT_SECRET_MAX - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = err_set(e, E_CONFIG, "%s: password_file %s: %s",
			    a->name, a->password_file, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	rc = account_first_line(a, "password_file", buf, len, out, e);
out:
	if (fd != -1)
		close(fd);
	freezero(buf, ACCOUNT_SECRET_MAX);
	return rc;
}

/*
 * The first line password_command prints, if it exits 0 in time.  Its
 * first line on stderr (say, gpg's reason) joins any error message.
 */
static int
account_secret_command(const struct account *a, struct waiter *w,
    char **out, struct err *e)
{
	struct pwcmd_result	 r;
	struct waiter		 own;
	struct err		 pe;
	char			*buf;
	const char		*sep;
	size_t			 len = 0;
	int			 rc;

	if (w == NULL) {
		memset(&own, 0, sizeof(own));
		own.timeout_ms = a->timeout * 1000;
		w = &own;
	}
	buf = xmalloc(ACCOUNT_SECRET_MAX);
	rc = pwcmd_run(a->password_command, w, buf, ACCOUNT_SECRET_MAX, &len,
	    &r, &pe);
	sep = r.errline[0] != '\0' ? ": " : "";
	if (rc == E_ABORT)
		rc = err_set(e, E_ABORT, "%s: password_command stopped: %s",
		    a->name, pe.msg);
	else if (rc < 0)
		rc = err_set(e, E_CONFIG, "%s: password_command failed: %s%s%s",
		    a->name, pe.msg, sep, r.errline);
	else if (WIFSIGNALED(r.status))
		rc = err_set(e, E_CONFIG, "%s: password_command failed: killed "
		    "by signal %d%s%s", a->name, WTERMSIG(r.status), sep,
		    r.errline);
	else if (WEXITSTATUS(r.status) != 0)
		rc = err_set(e, E_CONFIG, "%s: password_command failed: exited "
		    "with status %d%s%s", a->name, WEXITSTATUS(r.status), sep,
		    r.errline);
	else
		rc = account_first_line(a, "password_command", buf, len, out,
		    e);
	freezero(buf, ACCOUNT_SECRET_MAX);
	return rc;
}

/* "implicit", "starttls" or "none"; NULL for a value outside the enum. */
const char *
account_tls_name(enum account_tls t)
{
	if ((unsigned)t >= NITEMS(account_tls_names))
		return NULL;
	return account_tls_names[t];
}

/* The auth keyword as written in the config; NULL outside the enum. */
const char *
account_auth_name(enum account_auth a)
{
	if ((unsigned)a >= NITEMS(account_auth_names))
		return NULL;
	return account_auth_names[a];
}

/* The tls keyword to its enum; -1 if unknown. */
int
account_parse_tls(const char *s, enum account_tls *t)
{
	int	i;

	if ((i = account_keyword(account_tls_names,
	    NITEMS(account_tls_names), s)) == -1)
		return -1;
	*t = (enum account_tls)i;
	return 0;
}

/* The auth keyword to its enum; -1 if unknown. */
int
account_parse_auth(const char *s, enum account_auth *a)
{
	int	i;

	if ((i = account_keyword(account_auth_names,
	    NITEMS(account_auth_names), s)) == -1)
		return -1;
	*a = (enum account_auth)i;
	return 0;
}

/* The index of s among n keywords, or -1. */
static int
account_keyword(const char *const *names, size_t n, const char *s)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	}
	return -1;
}

bool
account_same_mailbox(const struct account *a, const struct account *b)
{
	return a->host != NULL && b->host != NULL && a->user != NULL &&
	    b->user != NULL && strcmp(a->user, b->user) == 0 &&
	    strcasecmp(a->host, b->host) == 0;
}
