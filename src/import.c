/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Another fetcher's state: parse it, keep it, match it against a listing. */

#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "err.h"
#include "import.h"
#include "log.h"
#include "pop3.h"
#include "session.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* getmail writes each run of these in its file names as one '-'. */
#define IMPORT_GETMAIL_STRIP	"/\\:;<>|"

/* A state file larger than this is not one. */
#define IMPORT_FILE_MAX		(64 * 1024 * 1024)

/* A server UIDL in its peer form, with its place in the listing. */
struct import_form {
	const char	*form;
	size_t		 idx;
};

/* The parser of one format: one line (len octets, no newline) at a time. */
struct import_parser {
	const char		*path;
	const struct import_mailbox *mb;
	struct import_set	*out;
	size_t			 cap;
	size_t			 line;
	/* mpop: UIDs still expected for the current list, and whether it
	 * is the mailbox's; comments are allowed before the first list. */
	long			 left;
	bool			 mine;
	bool			 started;
};

static const char *const import_format_names[] = {
	[IMPORT_FETCHMAIL] = "fetchmail",
	[IMPORT_MPOP] = "mpop",
	[IMPORT_GETMAIL] = "getmail",
	[IMPORT_FDM] = "fdm"
};

static void	import_take(struct import_parser *, const char *, size_t);
static int	import_bad(struct import_parser *, struct err *, const char *);
static int	import_line_fetchmail(struct import_parser *, const char *,
		    size_t, struct err *);
static int	import_line_mpop(struct import_parser *, const char *, size_t,
		    struct err *);
static int	import_mpop_list(struct import_parser *, const char *,
		    size_t, struct err *);
static int	import_line_getmail(struct import_parser *, const char *,
		    size_t, struct err *);
static int	import_line_fdm(struct import_parser *, const char *, size_t,
		    struct err *);
static int	import_getmail_name(const char *, const struct import_mailbox *,
		    struct err *);
static int	import_form_cmp(const void *, const void *);
static int	import_entry_cmp(const void *, const void *);

int
import_format_parse(const char *name, enum import_format *f)
{
	size_t	i;

	for (i = 0; i < NITEMS(import_format_names); i++)
		if (strcmp(name, import_format_names[i]) == 0) {
			*f = (enum import_format)i;
			return 0;
		}
	return -1;
}

const char *
import_format_name(enum import_format f)
{
	if ((size_t)f >= NITEMS(import_format_names))
		fatalx("%s: bad format %d", __func__, (int)f);
	return import_format_names[f];
}

/* Keep one entry of the mailbox. */
static void
import_take(struct import_parser *ip, const char *uid, size_t len)
{
	struct import_set	*out = ip->out;

	if (out->n == ip->cap) {
		ip->cap = ip->cap == 0 ? 64 : ip->cap * 2;
		out->uidls = xreallocarray(out->uidls, ip->cap,
		    sizeof(*out->uidls));
	}
	out->uidls[out->n] = xmalloc(len + 1);
	memcpy(out->uidls[out->n], uid, len);
	out->uidls[out->n][len] = '\0';
	out->n++;
}

/* A line that format does not allow: the file is something else. */
static int
import_bad(struct import_parser *ip, struct err *e, const char *expected)
{
	return err_set(e, E_USAGE, "%s:%zu: not a line of this format "
	    "(expected %s)", ip->path, ip->line, expected);
}

/* fetchmail: "user@host UID", user and host case-insensitive. */
static int
import_line_fetchmail(struct import_parser *ip, const char *s, size_t len,
    struct err *e)
{
	const char	*end = s + len, *at, *blank, *host, *uid, *p;
	size_t		 ulen;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s == end)
		return 0;
	if ((at = memchr(s, '@', (size_t)(end - s))) == NULL ||
	    (blank = memchr(at, ' ', (size_t)(end - at))) == NULL)
		return import_bad(ip, e, "\"user@host UID\"");
	for (host = blank; host > s && host[-1] != '@'; host--)
		;
	for (uid = blank; uid < end && *uid == ' '; uid++)
		;
	for (p = uid; p < end && *p != ' ' && *p != '\t'; p++)
		;
	ulen = (size_t)(p - uid);
	if (ulen == 0 || host == s + 1 || host == blank)
		return import_bad(ip, e, "\"user@host UID\"");
	if ((size_t)(blank - host) == strlen(ip->mb->host) &&
	    strncasecmp(host, ip->mb->host, (size_t)(blank - host)) == 0 &&
	    (size_t)(host - 1 - s) == strlen(ip->mb->user) &&
	    strncasecmp(s, ip->mb->user, (size_t)(host - 1 - s)) == 0)
		import_take(ip, uid, ulen);
	else
		ip->out->others++;
	return 0;
}

/* mpop: comments, then " N host user" and N UIDs, for each mailbox. */
static int
import_line_mpop(struct import_parser *ip, const char *s, size_t len,
    struct err *e)
{
	const char	*end = s + len, *p;

	if (!ip->started && len > 0 && s[0] == '#')
		return 0;
	ip->started = true;
	if (ip->left == 0)
		return import_mpop_list(ip, s, len, e);
	/* A UID, perhaps followed by the time mpop first saw it. */
	if ((p = memchr(s, ' ', len)) != NULL) {
		end = p;
		for (p++; p < s + len && isdigit((unsigned char)*p); p++)
			;
		if (p != s + len || p == end + 1)
			return import_bad(ip, e, "a UID");
	}
	if (end == s)
		return import_bad(ip, e, "a UID");
	if (ip->mine)
		import_take(ip, s, (size_t)(end - s));
	else
		ip->out->others++;
	ip->left--;
	return 0;
}

/* mpop: " N host user" opens the list of N UIDs of one mailbox. */
static int
import_mpop_list(struct import_parser *ip, const char *s, size_t len,
    struct err *e)
{
	char		*line, *host, *user;
	long long	 n;
	int		 rc = 0;

	/* A copy to split in place (the line holds no NUL: checked). */
	line = xmalloc(len + 1);
	memcpy(line, s, len);
	line[len] = '\0';
	if (line[0] != ' ' || (host = strchr(line + 1, ' ')) == NULL) {
		rc = import_bad(ip, e, "\" N host user\"");
		goto out;
	}
	*host++ = '\0';
	if ((user = strchr(host, ' ')) == NULL || user == host ||
	    user[1] == '\0' || strchr(user + 1, ' ') != NULL ||
	    util_strtonum(line + 1, 1, 100000000, &n) < 0) {
		rc = import_bad(ip, e, "\" N host user\"");
		goto out;
	}
	*user++ = '\0';
	ip->left = (long)n;
	ip->mine = strcasecmp(host, ip->mb->host) == 0 &&
	    strcmp(user, ip->mb->user) == 0;
out:
	free(line);
	return rc;
}

/* getmail: "UID NUL unixtime". */
static int
import_line_getmail(struct import_parser *ip, const char *s, size_t len,
    struct err *e)
{
	const char	*nul, *p;

	if ((nul = memchr(s, '\0', len)) == NULL || nul == s ||
	    nul + 1 == s + len)
		return import_bad(ip, e, "\"UID NUL time\"");
	for (p = nul + 1; p < s + len; p++)
		if (!isdigit((unsigned char)*p))
			return import_bad(ip, e, "\"UID NUL time\"");
	import_take(ip, s, (size_t)(nul - s));
	return 0;
}

/* fdm: "LENGTH UID", LENGTH the octets of UID. */
static int
import_line_fdm(struct import_parser *ip, const char *s, size_t len,
    struct err *e)
{
	const char	*p;
	size_t		 n = 0;

	for (p = s; p < s + len && isdigit((unsigned char)*p) && n < len; p++)
		n = n * 10 + (size_t)(*p - '0');
	if (p == s || p == s + len || *p != ' ' || n == 0 ||
	    n != len - (size_t)(p + 1 - s) || memchr(p + 1, ' ', n) != NULL)
		return import_bad(ip, e, "\"LENGTH UID\"");
	import_take(ip, p + 1, n);
	return 0;
}

/*
 * getmail names the file after its mailbox: oldmail-SERVER-PORT-USER, each
 * run of the octets / \ : ; < > | in it written as one '-' (getmail6's
 * STRIP_CHAR_RE).  The server is compared case-insensitively.
 */
static int
import_getmail_name(const char *path, const struct import_mailbox *mb,
    struct err *e)
{
	const char	*base, *c;
	char		*raw, *want, *w;
	size_t		 hl;
	int		 rc = 0;

	base = (base = strrchr(path, '/')) != NULL ? base + 1 : path;
	if (strncmp(base, "oldmail-", 8) != 0)
		return err_set(e, E_USAGE, "%s: not a getmail state file (its "
		    "name does not start with \"oldmail-\")", path);
	raw = xasprintf("oldmail-%s-%d-%s", mb->host, mb->port, mb->user);
	want = w = xmalloc(strlen(raw) + 1);
	for (c = raw; *c != '\0'; c++) {
		if (strchr(IMPORT_GETMAIL_STRIP, *c) == NULL)
			*w++ = *c;
		else if (w == want || w[-1] != '-' ||
		    strchr(IMPORT_GETMAIL_STRIP, c[-1]) == NULL)
			*w++ = '-';
	}
	*w = '\0';
	/* The host part as written: its length does not change. */
	hl = 8 + strlen(mb->host);
	if (strlen(base) != strlen(want) || strncasecmp(base, want, hl) != 0 ||
	    strcmp(base + hl, want + hl) != 0)
		rc = err_set(e, E_USAGE, "%s: this getmail state is of another "
		    "mailbox (the account's would be named %s)", path, want);
	free(raw);
	free(want);
	return rc;
}

int
import_parse(enum import_format f, const char *path, const char *text,
    size_t len, const struct import_mailbox *mb, struct import_set *out,
    struct err *e)
{
	struct import_parser	 ip;
	const char		*p = text, *nl, *end = text + len;
	size_t			 n;
	int			 rc = 0;

	memset(out, 0, sizeof(*out));
	memset(&ip, 0, sizeof(ip));
	ip.path = path;
	ip.mb = mb;
	ip.out = out;
	if (f == IMPORT_GETMAIL && (rc = import_getmail_name(path, mb, e)) < 0)
		return rc;
	while (rc == 0 && p < end) {
		ip.line++;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > IMPORT_LINE_MAX)
			rc = err_set(e, E_USAGE, "%s:%zu: line longer than %d "
			    "octets: not a %s state file", path, ip.line,
			    IMPORT_LINE_MAX, import_format_name(f));
		else if (f != IMPORT_GETMAIL && memchr(p, '\0', n) != NULL)
			rc = err_set(e, E_USAGE, "%s:%zu: a NUL octet: not a "
			    "%s state file", path, ip.line,
			    import_format_name(f));
		else if (f == IMPORT_FETCHMAIL)
			rc = import_line_fetchmail(&ip, p, n, e);
		else if (f == IMPORT_MPOP)
			rc = import_line_mpop(&ip, p, n, e);
		else if (f == IMPORT_GETMAIL)
			rc = import_line_getmail(&ip, p, n, e);
		else
			rc = import_line_fdm(&ip, p, n, e);
		p += n + (nl != NULL);
	}
	if (rc == 0 && ip.left > 0)
		rc = err_set(e, E_USAGE, "%s:%zu: %ld UID(s) missing at the "
		    "end of a list", path, ip.line, ip.left);
	if (rc == 0 && out->n == 0)
		rc = err_set(e, E_USAGE, "%s: no %s entry for %s@%s (%zu for "
		    "other mailboxes)", path, import_format_name(f), mb->user,
		    mb->host, out->others);
	if (rc < 0)
		import_set_free(out);
	return rc;
}

void
import_set_free(struct import_set *set)
{
	size_t	i;

	for (i = 0; i < set->n; i++)
		free(set->uidls[i]);
	free(set->uidls);
	memset(set, 0, sizeof(*set));
}

int
import_read(enum import_format f, const char *path, const struct account *a,
    struct import_set *out, struct err *e)
{
	struct import_mailbox	 mb;
	struct stat		 sb;
	char			*buf = NULL;
	size_t			 len = 0;
	ssize_t			 r;
	int			 fd, rc;

	memset(out, 0, sizeof(*out));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return err_set(e, E_USAGE, "%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > IMPORT_FILE_MAX) {
		rc = err_set(e, E_USAGE, "%s: not a regular file of at most "
		    "%d octets", path, IMPORT_FILE_MAX);
		goto out;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	while (len < (size_t)sb.st_size) {
		if ((r = read(fd, buf + len, (size_t)sb.st_size - len)) == -1 &&
		    errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	if (len != (size_t)sb.st_size) {
		rc = err_set(e, E_USAGE, "%s: read: %s", path,
		    len < (size_t)sb.st_size ? "file changed while read" :
		    strerror(errno));
		goto out;
	}
	mb.host = a->host;
	mb.port = a->port;
	mb.user = a->user;
	rc = import_parse(f, path, buf, len, &mb, out, e);
out:
	free(buf);
	close(fd);
	return rc;
}

char *
import_peer_form(enum import_format f, const char *uidl)
{
	char	*s, *c;
	size_t	 n;

	switch (f) {
	case IMPORT_FETCHMAIL:
		n = strcspn(uidl, " \t");
		if (n > IMPORT_FETCHMAIL_IDLEN)
			n = IMPORT_FETCHMAIL_IDLEN;
		s = xmalloc(n + 1);
		memcpy(s, uidl, n);
		s[n] = '\0';
		return s;
	case IMPORT_GETMAIL:
		s = xstrdup(uidl);
		for (c = s; *c != '\0'; c++)
			if (*c == '/')
				*c = '-';
		return s;
	case IMPORT_MPOP:
	case IMPORT_FDM:
		return xstrdup(uidl);
	}
	fatalx("%s: bad format %d", __func__, (int)f);
}

/* Order peer forms by their text. */
static int
import_form_cmp(const void *x, const void *y)
{
	const struct import_form	*a = x, *b = y;

	return strcmp(a->form, b->form);
}

/* bsearch: a peer form against an imported entry. */
static int
import_entry_cmp(const void *key, const void *elem)
{
	const struct store_import	*en = elem;

	return strcmp(key, en->uidl);
}

void
import_match(const struct store_import *imp, size_t nimp,
    const char *const *uidls, size_t n, bool *matched)
{
	struct import_form	*fv;
	enum import_format	 f;
	char			**forms;
	size_t			 i, j, k, g;

	memset(matched, 0, n * sizeof(*matched));
	if (n == 0)
		return;
	fv = xcalloc(n, sizeof(*fv));
	forms = xcalloc(n, sizeof(*forms));
	for (i = 0; i < nimp; i = j) {
		for (j = i + 1; j < nimp &&
		    strcmp(imp[j].format, imp[i].format) == 0; j++)
			;
		/* A format this build does not know matches nothing. */
		if (import_format_parse(imp[i].format, &f) < 0)
			continue;
		for (k = 0; k < n; k++) {
			fv[k].form = forms[k] = import_peer_form(f, uidls[k]);
			fv[k].idx = k;
		}
		qsort(fv, n, sizeof(*fv), import_form_cmp);
		for (k = 0; k < n; k = g) {
			for (g = k + 1; g < n &&
			    strcmp(fv[g].form, fv[k].form) == 0; g++)
				;
			if (g - k == 1 && bsearch(fv[k].form, imp + i, j - i,
			    sizeof(*imp), import_entry_cmp) != NULL)
				matched[fv[k].idx] = true;
		}
		for (k = 0; k < n; k++)
			free(forms[k]);
	}
	free(forms);
	free(fv);
}

const char **
import_uidls(const struct pop3_listing *l)
{
	const char	**v, *u;
	size_t		  i;

	v = xcalloc(l->count + 1, sizeof(*v));
	for (i = 0; i < l->count; i++)
		v[i] = (u = pop3_msg_uidl(l, &l->msgs[i])) != NULL ? u : "";
	return v;
}

char *
import_host(const char *host)
{
	char	*s, *c;

	s = xstrdup(host);
	for (c = s; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	return s;
}

int
import_apply(struct store *s, const struct account *a,
    const struct pop3_listing *l, struct store_entry **ents, size_t *nents,
    size_t *taken, struct err *e)
{
	struct store_import	*imp = NULL;
	const char		**uidls = NULL;
	bool			*matched = NULL;
	char			*host;
	int64_t			 now = (int64_t)time(NULL);
	size_t			 nimp = 0, i;
	size_t			 took = 0;
	int			 rc, added;

	host = import_host(a->host);
	if ((rc = store_import_load(s, host, a->user, &imp, &nimp, e)) < 0 ||
	    nimp == 0)
		goto out;
	uidls = import_uidls(l);
	matched = xcalloc(l->count + 1, sizeof(*matched));
	import_match(imp, nimp, uidls, l->count, matched);

	if ((rc = store_begin(s, e)) < 0)
		goto out;
	for (i = 0; rc == 0 && i < l->count; i++) {
		if (!matched[i] || uidls[i][0] == '\0' ||
		    store_entry_find(*ents, *nents, uidls[i]) != NULL)
			continue;
		rc = store_mark_seen(s, a->name, uidls[i],
		    (int64_t)l->msgs[i].size, now, &added, e);
		took += (size_t)added;
	}
	if (rc == 0)
		rc = store_import_drop(s, host, a->user, e);
	if (rc == 0)
		rc = store_commit(s, e);
	else
		store_rollback(s, NULL);
	if (rc < 0)
		goto out;
	log_info("%s: %zu message(s) on the server were fetched before "
	    "another fetcher's imported state said so; %zu imported UIDL(s) "
	    "matched no new message and were dropped", a->name, took,
	    nimp - took);
	store_entries_free(*ents, *nents);
	*ents = NULL;
	*nents = 0;
	rc = store_load(s, a->name, ents, nents, e);
out:
	if (taken != NULL)
		*taken = rc < 0 ? 0 : took;
	store_import_free(imp, nimp);
	free(uidls);
	free(matched);
	free(host);
	return rc;
}

int
import_mark_seen(struct store *s, const struct account *a, size_t *listed,
    size_t *added, struct err *e)
{
	struct pop3		*p = NULL;
	struct pop3_listing	 l;
	struct err		 qe;
	struct import_form	*fv;
	const char		**uidls = NULL;
	bool			*dup = NULL;
	int64_t			 now = (int64_t)time(NULL);
	size_t			 i;
	int			 rc, one;

	*listed = *added = 0;
	memset(&l, 0, sizeof(l));
	if ((rc = session_open(a, NULL, &p, NULL, e)) < 0)
		goto out;
	if ((rc = pop3_list(p, &l, e)) < 0 ||
	    (rc = pop3_uidl(p, &l, e)) < 0) {
		if (rc == E_SERVER)
			err_prefix(e, "the server has no UIDL, so nothing can "
			    "be marked");
		pop3_quit(p, &qe);
		goto out;
	}
	*listed = l.count;
	/* The same UIDL twice: those messages are fetched, never marked. */
	uidls = import_uidls(&l);
	dup = xcalloc(l.count + 1, sizeof(*dup));
	fv = xcalloc(l.count + 1, sizeof(*fv));
	for (i = 0; i < l.count; i++) {
		fv[i].form = uidls[i];
		fv[i].idx = i;
	}
	qsort(fv, l.count, sizeof(*fv), import_form_cmp);
	for (i = 0; i + 1 < l.count; i++)
		if (strcmp(fv[i].form, fv[i + 1].form) == 0)
			dup[fv[i].idx] = dup[fv[i + 1].idx] = true;
	free(fv);
	if ((rc = store_begin(s, e)) < 0) {
		pop3_quit(p, &qe);
		goto out;
	}
	for (i = 0; rc == 0 && i < l.count; i++) {
		if (dup[i] || uidls[i][0] == '\0')
			continue;
		rc = store_mark_seen(s, a->name, uidls[i],
		    (int64_t)l.msgs[i].size, now, &one, e);
		*added += (size_t)one;
	}
	if (rc == 0)
		rc = store_commit(s, e);
	else
		store_rollback(s, NULL);
	if (rc < 0)
		*added = 0;
	if (rc < 0)
		pop3_quit(p, &qe);
	else
		rc = pop3_quit(p, e);
out:
	if (rc < 0 && err_after_prefix(e, a->name) == NULL)
		err_prefix(e, "%s", a->name);
	free(uidls);
	free(dup);
	pop3_listing_free(&l);
	pop3_free(p);
	return rc;
}
