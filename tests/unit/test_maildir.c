/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for maildir.c in real temporary directories. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "maildir.h"

/*
 * Fault injection.  The test binary is linked with
 * -Wl,--wrap=write,--wrap=fsync,--wrap=syncfs (tests/Makefile.am), so
 * maildir.c's calls land here.  These are the syscalls no unprivileged
 * test can make fail for real: a full disk, an I/O error.  A struct of function pointers in maildir.c
 * would be a third plug-in table, which STYLE 14 rules out for a seam only
 * tests use.  Everything else (directories, open, rename, unlink) runs
 * for real.
 */
ssize_t	 __real_write(int, const void *, size_t);
ssize_t	 __wrap_write(int, const void *, size_t);
int	 __real_fsync(int);
int	 __wrap_fsync(int);
int	 __real_syncfs(int);
int	 __wrap_syncfs(int);

static struct {
	int	write_ok;	/* writes that succeed before failures */
	int	write_nfail;	/* then this many fail (-1: all) */
	int	write_errno;
	size_t	write_max;	/* cap on one write's length (0: none) */
	int	fsync_ok;	/* fsyncs that succeed before one fails */
	int	fsync_errno;	/* 0: fsync never fails */
	int	syncfs_errno;	/* 0: syncfs is real */
	int	writes;
	int	fsyncs;
	int	syncfss;
} fault;

ssize_t
__wrap_write(int fd, const void *buf, size_t n)
{
	fault.writes++;
	if (fault.write_errno != 0 && fault.write_nfail != 0) {
		if (fault.write_ok > 0)
			fault.write_ok--;
		else {
			if (fault.write_nfail > 0)
				fault.write_nfail--;
			errno = fault.write_errno;
			return -1;
		}
	}
	if (fault.write_max > 0 && n > fault.write_max)
		n = fault.write_max;
	return __real_write(fd, buf, n);
}

int
__wrap_fsync(int fd)
{
	fault.fsyncs++;
	if (fault.fsync_errno != 0) {
		if (fault.fsync_ok > 0)
			fault.fsync_ok--;
		else {
			errno = fault.fsync_errno;
			return -1;
		}
	}
	return __real_fsync(fd);
}

int
__wrap_syncfs(int fd)
{
	fault.syncfss++;
	if (fault.syncfs_errno != 0) {
		errno = fault.syncfs_errno;
		return -1;
	}
	return __real_syncfs(fd);
}

/* A fresh temporary tree per test, and the Maildir "md" inside it. */
struct fixture {
	char		 root[64];
	char		 md[128];
	struct maildir	*m;
};

static int	 setup(void **);
static int	 setup_open(void **);
static int	 teardown(void **);
static int	 rm_one(const char *, const struct stat *, int, struct FTW *);
static int	 count(const char *, const char *);
static char	*slurp(const char *, const char *, const char *, size_t *);
static void	 put(const char *, const char *, const char *, const char *);
static int	 deliver(struct maildir *, const char *, const char *, size_t,
		    size_t, struct err *);
static void	 assert_empty(const struct fixture *);
static void	 assert_delivered(const struct fixture *, const char *,
		    const char *, size_t);
static void	 assert_error(const struct err *, int, const char *,
		    const char *);
static char	*pattern(size_t);
static int	 cmp_str(const void *, const void *);
static void	 test_open_creates(void **);
static void	 test_open_existing(void **);
static void	 test_open_relative(void **);
static void	 test_open_bad(void **);
static void	 test_open_symlinked_sub(void **);
static void	 test_free_null(void **);
static void	 test_plan_name_unique(void **);
static void	 test_plan_name_format(void **);
static void	 test_escape_host(void **);
static void	 test_begin_bad_name(void **);
static void	 test_begin_creates_tmp(void **);
static void	 test_begin_stale_tmp(void **);
static void	 test_commit_bodies(void **);
static void	 test_commit_large(void **);
static void	 test_commit_short_writes(void **);
static void	 test_write_fails(void **);
static void	 test_commit_flush_fails(void **);
static void	 test_publish_syncfs_fails(void **);
static void	 test_publish_batch(void **);
static void	 test_commit_no_replace(void **);
static void	 test_abort(void **);
static void	 test_find(void **);
static void	 test_find_after_commit(void **);

/* Remove one entry of the tree, for nftw(). */
static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture	*f;
	const char	*tmp;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	if ((tmp = getenv("TMPDIR")) == NULL || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(f->root, sizeof(f->root), "%s/tmd.XXXXXX", tmp);
	assert_non_null(mkdtemp(f->root));
	snprintf(f->md, sizeof(f->md), "%s/md", f->root);
	memset(&fault, 0, sizeof(fault));
	umask(022);
	*state = f;
	return 0;
}

/* setup, then an opened Maildir in f->md. */
static int
setup_open(void **state)
{
	struct fixture	*f;
	struct err	 e;

	setup(state);
	f = *state;
	assert_int_equal(maildir_open(f->md, &f->m, &e), 0);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	maildir_free(f->m);
	chmod(f->root, 0700);
	nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Entries in md/sub, without "." and "..". */
static int
count(const char *md, const char *sub)
{
	char		 path[256];
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	snprintf(path, sizeof(path), "%s/%s", md, sub);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* The contents of md/sub/name (NULL if missing); *len gets the size. */
static char *
slurp(const char *md, const char *sub, const char *name, size_t *len)
{
	char	 path[512], *data;
	FILE	*fp;
	long	 size;

	snprintf(path, sizeof(path), "%s/%s/%s", md, sub, name);
	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp);
	rewind(fp);
	data = malloc((size_t)size + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	*len = (size_t)size;
	return data;
}

/* Create md/sub/name holding text. */
static void
put(const char *md, const char *sub, const char *name, const char *text)
{
	char	 path[512];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s/%s", md, sub, name);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/* begin, write data in chunks of chunk bytes, close, publish as a batch
 * of one, as sync.c does. */
static int
deliver(struct maildir *m, const char *name, const char *data, size_t len,
    size_t chunk, struct err *e)
{
	struct maildir_msg	*msg = NULL;
	size_t			 off, n, done;
	int			 rc;

	if ((rc = maildir_begin(m, name, &msg, e)) != 0)
		return rc;
	for (off = 0; rc == 0 && off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		rc = maildir_write(msg, data + off, n, e);
	}
	if (rc == 0)
		rc = maildir_close(msg, e);
	if (rc == 0)
		rc = maildir_publish_batch(m, &msg, 1, &done, e);
	maildir_abort(msg);
	return rc;
}

/* Nothing in tmp/ or new/. */
static void
assert_empty(const struct fixture *f)
{
	assert_int_equal(count(f->md, "tmp"), 0);
	assert_int_equal(count(f->md, "new"), 0);
}

/* new/<name> holds exactly data, and it is the only file anywhere. */
static void
assert_delivered(const struct fixture *f, const char *name, const char *data,
    size_t len)
{
	char	path[512], final[256], *got;
	size_t	glen;
	struct stat st;

	assert_int_equal(count(f->md, "tmp"), 0);
	assert_int_equal(count(f->md, "new"), 1);
	/* Published as <name>,S=<size on disk>. */
	snprintf(final, sizeof(final), "%s,S=%zu", name, len);
	got = slurp(f->md, "new", final, &glen);
	assert_non_null(got);
	assert_int_equal(glen, len);
	if (len > 0)
		assert_memory_equal(got, data, len);
	free(got);
	snprintf(path, sizeof(path), "%s/new/%s", f->md, final);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_nlink, 1);
}

/* e holds code and a message containing both strings (b may be NULL). */
static void
assert_error(const struct err *e, int code, const char *a, const char *b)
{
	assert_int_equal(e->code, code);
	if (strstr(e->msg, a) == NULL || (b != NULL &&
	    strstr(e->msg, b) == NULL))
		fail_msg("\"%s\" lacks \"%s\" or \"%s\"", e->msg, a,
		    b != NULL ? b : "");
}

/* ---- maildir_open ---- */

/* A missing nested path gets every level, and tmp/new/cur, as 0700. */
static void
test_open_creates(void **state)
{
	static const char *const subs[] = { "a", "a/b", "a/b/Mail",
	    "a/b/Mail/tmp", "a/b/Mail/new", "a/b/Mail/cur" };
	struct fixture	*f = *state;
	struct err	 e;
	struct stat	 st;
	char		 path[256];
	size_t		 i;

	snprintf(path, sizeof(path), "%s//a/b/Mail/", f->root);
	assert_int_equal(maildir_open(path, &f->m, &e), 0);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->root, subs[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 0777, 0700);
	}
}

/* An existing Maildir is used as it is: modes and messages untouched. */
static void
test_open_existing(void **state)
{
	struct fixture	*f = *state;
	struct maildir	*m2 = NULL;
	struct err	 e;
	struct stat	 st;
	char		 path[256], *got;
	size_t		 len;

	assert_int_equal(maildir_open(f->md, &f->m, &e), 0);
	put(f->md, "cur", "old:2,S", "kept\n");
	snprintf(path, sizeof(path), "%s/new", f->md);
	assert_int_equal(chmod(path, 0750), 0);
	assert_int_equal(maildir_open(f->md, &m2, &e), 0);
	maildir_free(m2);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0750);
	got = slurp(f->md, "cur", "old:2,S", &len);
	assert_non_null(got);
	assert_int_equal(len, 5);
	free(got);
}

/* A relative path is taken from the working directory. */
static void
test_open_relative(void **state)
{
	struct fixture	*f = *state;
	struct err	 e;
	struct stat	 st;
	char		 path[256];
	int		 cwd;

	assert_true((cwd = open(".", O_RDONLY | O_DIRECTORY)) != -1);
	assert_int_equal(chdir(f->root), 0);
	assert_int_equal(maildir_open("rel/Mail", &f->m, &e), 0);
	assert_int_equal(fchdir(cwd), 0);
	close(cwd);
	snprintf(path, sizeof(path), "%s/rel/Mail/cur", f->root);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

/* Each row: a directory and then a file to create under root first (or
 * NULL), the path to open under root (NULL: the empty path), and what the
 * error names. */
static const struct {
	const char	*dir;
	const char	*file;
	const char	*path;
	const char	*want1;
	const char	*want2;
} open_bad[] = {
	{ NULL, NULL, NULL, "empty path", NULL },
	{ NULL, "plain", "plain", "/plain: open", "Not a directory" },
	{ NULL, "plain", "plain/Mail", "open ", "/plain: Not a directory" },
	{ "m1", "m1/cur", "m1", "/m1: open cur: ", "Not a directory" },
	{ "m2", "m2/new", "m2", "/m2: open new: ", "Not a directory" },
	{ "m3", "m3/tmp", "m3", "/m3: open tmp: ", "Not a directory" },
};

/* A path that cannot be a Maildir: E_DELIVERY naming the culprit. */
static void
test_open_bad(void **state)
{
	struct fixture	*f = *state;
	struct maildir	*m;
	struct err	 e;
	char		 path[256];
	size_t		 i;

	for (i = 0; i < sizeof(open_bad) / sizeof(open_bad[0]); i++) {
		if (open_bad[i].dir != NULL) {
			snprintf(path, sizeof(path), "%s/%s", f->root,
			    open_bad[i].dir);
			assert_int_equal(mkdir(path, 0700), 0);
		}
		if (open_bad[i].file != NULL)
			put(f->root, ".", open_bad[i].file, "x");
		if (open_bad[i].path != NULL)
			snprintf(path, sizeof(path), "%s/%s", f->root,
			    open_bad[i].path);
		else
			path[0] = '\0';
		m = (struct maildir *)&e;	/* must stay untouched */
		assert_int_equal(maildir_open(path, &m, &e), E_DELIVERY);
		assert_ptr_equal(m, (struct maildir *)&e);
		assert_error(&e, E_DELIVERY, open_bad[i].want1,
		    open_bad[i].want2);
		snprintf(path, sizeof(path), "%s/%s", f->root,
		    open_bad[i].file != NULL ? open_bad[i].file : "x");
		unlink(path);
	}
}

/*
 * tmp/, new/ or cur/ replaced by a symbolic link (to a directory someone
 * else can read) is refused and nothing lands behind the link; a link as
 * the Maildir path itself is the user's choice and is followed.
 */
static void
test_open_symlinked_sub(void **state)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	struct fixture	*f = *state;
	struct maildir	*m;
	struct err	 e;
	char		 path[256], elsewhere[256], alias[256], want[64];
	size_t		 i;

	snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", f->root);
	assert_int_equal(mkdir(elsewhere, 0777), 0);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		assert_int_equal(maildir_open(f->md, &m, &e), 0);
		maildir_free(m);
		snprintf(path, sizeof(path), "%s/%s", f->md, subs[i]);
		assert_int_equal(rmdir(path), 0);
		assert_int_equal(symlink(elsewhere, path), 0);
		m = NULL;
		assert_int_equal(maildir_open(f->md, &m, &e), E_DELIVERY);
		assert_null(m);
		snprintf(want, sizeof(want), "%s is a symbolic link", subs[i]);
		assert_error(&e, E_DELIVERY, want, "refusing to follow");
		/* Nothing was created behind the link. */
		assert_int_equal(count(f->root, "elsewhere"), 0);
		assert_int_equal(unlink(path), 0);
		assert_int_equal(mkdir(path, 0700), 0);
	}

	snprintf(alias, sizeof(alias), "%s/alias", f->root);
	assert_int_equal(symlink(f->md, alias), 0);
	assert_int_equal(maildir_open(alias, &m, &e), 0);
	assert_int_equal(deliver(m, "via-alias", "x\n", 2, 2, &e), 0);
	maildir_free(m);
	assert_int_equal(count(f->md, "new"), 1);
}

static void
test_free_null(void **state)
{
	maildir_free(NULL);
	maildir_abort(NULL);
}

/* ---- maildir_plan_name ---- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* 1000 names from two handles on one directory: all distinct, none with
 * '/' or ':', each accepted by maildir_begin. */
static void
test_plan_name_unique(void **state)
{
	struct fixture	*f = *state;
	struct maildir	*m2;
	struct maildir_msg *msg;
	struct err	 e;
	char		(*names)[MAILDIR_NAME_MAX];
	size_t		 i;

	assert_int_equal(maildir_open(f->md, &m2, &e), 0);
	names = calloc(1000, sizeof(*names));
	assert_non_null(names);
	for (i = 0; i < 1000; i++) {
		maildir_plan_name(i % 2 ? m2 : f->m, names[i],
		    sizeof(names[i]));
		assert_null(strpbrk(names[i], "/:"));
	}
	qsort(names, 1000, sizeof(*names), cmp_str);
	for (i = 1; i < 1000; i++)
		assert_string_not_equal(names[i - 1], names[i]);
	assert_int_equal(maildir_begin(f->m, names[0], &msg, &e), 0);
	maildir_abort(msg);
	free(names);
	maildir_free(m2);
}

/* "<secs>.M<usecs>R<random>.<host>", host escaped; no pid, no counter. */
static void
test_plan_name_format(void **state)
{
	struct fixture	*f = *state;
	char		 name[MAILDIR_NAME_MAX], name2[MAILDIR_NAME_MAX];
	char		 host[256], esc[256], *end;
	long		 v;
	size_t		 i;

	assert_int_equal(gethostname(host, sizeof(host)), 0);
	maildir_escape_host(esc, sizeof(esc), host);
	maildir_plan_name(f->m, name, sizeof(name));

	v = strtol(name, &end, 10);
	assert_true(end > name && v > 1600000000);
	assert_true(strncmp(end, ".M", 2) == 0);
	for (i = 2; i < 8; i++)
		assert_true(end[i] >= '0' && end[i] <= '9');
	end += 8;
	assert_int_equal(*end, 'R');
	for (i = 1; i <= 16; i++)
		assert_non_null(strchr("0123456789abcdef", end[i]));
	assert_int_equal(end[17], '.');
	assert_string_equal(end + 18, esc);

	/* Two names planned at once differ in their random part. */
	maildir_plan_name(f->m, name2, sizeof(name2));
	assert_string_not_equal(strchr(name, 'R'), strchr(name2, 'R'));
}

/* ---- maildir_escape_host ---- */

static const struct {
	const char	*host;
	size_t		 outlen;
	const char	*want;
	size_t		 ret;
} escape_cases[] = {
	{ "", 64, "", 0 },
	{ "mx1.example.org", 64, "mx1.example.org", 15 },
	{ "a/b", 64, "a\\057b", 6 },
	{ "a:b", 64, "a\\072b", 6 },
	{ "/:", 64, "\\057\\072", 8 },
	{ "h:1/2:3", 64, "h\\0721\\0572\\0723", 16 },
	{ "back\\slash", 64, "back\\slash", 10 },
	/* Cut short: never half an escape, always NUL-terminated. */
	{ "a/b", 1, "", 6 },
	{ "a/b", 2, "a", 6 },
	{ "a/b", 5, "a", 6 },
	{ "a/b", 6, "a\\057", 6 },
	{ "a/b", 7, "a\\057b", 6 },
	{ "abc", 3, "ab", 3 },
};

static void
test_escape_host(void **state)
{
	char	out[64];
	size_t	i;

	for (i = 0; i < sizeof(escape_cases) / sizeof(escape_cases[0]); i++) {
		memset(out, 'X', sizeof(out));
		assert_int_equal(maildir_escape_host(out,
		    escape_cases[i].outlen, escape_cases[i].host),
		    escape_cases[i].ret);
		assert_string_equal(out, escape_cases[i].want);
	}
	/* outlen 0 writes nothing at all. */
	memset(out, 'X', sizeof(out));
	assert_int_equal(maildir_escape_host(out, 0, "a/b"), 6);
	assert_int_equal(out[0], 'X');
}

/* ---- maildir_begin ---- */

/* Names that could escape tmp/, hide the file or clash with ":2,". */
static void
test_begin_bad_name(void **state)
{
	static const char *const bad[] = { "", ".", "..", ".hidden",
	    "a/b", "../new/x", "x:2,S", "/abs" };
	struct fixture		*f = *state;
	struct maildir_msg	*msg;
	struct err		 e;
	char			 longname[MAILDIR_NAME_MAX + 1];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg = NULL;
		assert_int_equal(maildir_begin(f->m, bad[i], &msg, &e),
		    E_DELIVERY);
		assert_null(msg);
		assert_error(&e, E_DELIVERY, "begin: bad message name", NULL);
	}
	memset(longname, 'a', sizeof(longname));
	longname[MAILDIR_NAME_MAX - 1] = '\0';
	assert_int_equal(maildir_begin(f->m, longname, &msg, &e), 0);
	maildir_abort(msg);
	longname[MAILDIR_NAME_MAX - 1] = 'a';
	longname[MAILDIR_NAME_MAX] = '\0';
	assert_int_equal(maildir_begin(f->m, longname, &msg, &e), E_DELIVERY);
	assert_empty(f);
}

/* begin makes tmp/<name>, 0600, and nothing in new/ yet. */
static void
test_begin_creates_tmp(void **state)
{
	struct fixture		*f = *state;
	struct maildir_msg	*msg;
	struct err		 e;
	struct stat		 st;
	char			 path[256];

	assert_int_equal(maildir_begin(f->m, "1.M2P3Q4.h", &msg, &e), 0);
	snprintf(path, sizeof(path), "%s/tmp/1.M2P3Q4.h", f->md);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count(f->md, "new"), 0);
	maildir_abort(msg);
}

/* A taken tmp/<name> is an error: the file, or the file a planted link
 * points to, is left as it was. */
static void
test_begin_stale_tmp(void **state)
{
	struct fixture		*f = *state;
	struct maildir_msg	*msg = NULL;
	struct err		 e;
	char			 path[256], target[256], *got;
	size_t			 len;

	put(f->md, "tmp", "X", "another delivery\n");
	assert_int_equal(maildir_begin(f->m, "X", &msg, &e), E_DELIVERY);
	assert_null(msg);
	assert_error(&e, E_DELIVERY, "create tmp/X: the name is taken",
	    "left alone");
	assert_non_null(got = slurp(f->md, "tmp", "X", &len));
	assert_int_equal(len, 17);
	free(got);
	assert_int_equal(count(f->md, "new"), 0);

	/* A dangling link is not created through either. */
	snprintf(target, sizeof(target), "%s/victim", f->root);
	snprintf(path, sizeof(path), "%s/tmp/L", f->md);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(maildir_begin(f->m, "L", &msg, &e), E_DELIVERY);
	assert_null(msg);
	assert_int_equal(access(target, F_OK), -1);
}

/* ---- maildir_write, maildir_close and maildir_publish_batch ---- */

#define BUFSZ	(64 * 1024)

/* Sizes around the 64 KiB buffer, written in chunks of several sizes. */
static const struct {
	size_t	len;
	size_t	chunk;
} body_cases[] = {
	{ 0, 1 },
	{ 1, 1 },
	{ 100, 7 },
	{ BUFSZ - 1, 4096 },
	{ BUFSZ, 4096 },
	{ BUFSZ, BUFSZ },
	{ BUFSZ + 1, 4096 },
	{ BUFSZ + 1, BUFSZ + 1 },
	{ 3 * BUFSZ + 17, BUFSZ - 1 },
	{ 3 * BUFSZ + 17, 1000 },
	{ 300000, 300000 },
};

/* Bytes that differ at every offset, so a lost or repeated chunk shows. */
static char *
pattern(size_t len)
{
	char	*p;
	size_t	 i;

	p = malloc(len + 1);
	assert_non_null(p);
	for (i = 0; i < len; i++)
		p[i] = (char)((i * 2654435761u) >> 13);
	return p;
}

static void
test_commit_bodies(void **state)
{
	struct fixture	*f = *state;
	struct err	 e;
	char		*data, name[32], path[256];
	size_t		 i;

	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		data = pattern(body_cases[i].len);
		snprintf(name, sizeof(name), "body%zu", i);
		fault.syncfss = fault.fsyncs = 0;
		assert_int_equal(deliver(f->m, name, data, body_cases[i].len,
		    body_cases[i].chunk, &e), 0);
		assert_delivered(f, name, data, body_cases[i].len);
		/* One syncfs for the data, one fsync of new/. */
		assert_int_equal(fault.syncfss, 1);
		assert_int_equal(fault.fsyncs, 1);
		snprintf(path, sizeof(path), "%s/new/%s,S=%zu", f->md, name,
		    body_cases[i].len);
		assert_int_equal(unlink(path), 0);
		free(data);
	}
}

/* Several MB in small, uneven chunks arrive byte for byte. */
static void
test_commit_large(void **state)
{
	struct fixture		*f = *state;
	struct maildir_msg	*msg;
	struct err		 e;
	size_t			 len = 5 * 1024 * 1024 + 3, off, n, done;
	char			*data;

	data = pattern(len);
	assert_int_equal(maildir_begin(f->m, "big", &msg, &e), 0);
	for (off = 0, n = 1; off < len; off += n, n = n * 7 % 4099 + 1) {
		if (n > len - off)
			n = len - off;
		assert_int_equal(maildir_write(msg, data + off, n, &e), 0);
	}
	assert_int_equal(maildir_close(msg, &e), 0);
	assert_int_equal(maildir_publish_batch(f->m, &msg, 1, &done, &e), 0);
	maildir_abort(msg);
	assert_delivered(f, "big", data, len);
	/* Buffered: far fewer write(2) calls than maildir_write calls. */
	assert_in_range(fault.writes, len / BUFSZ, len / BUFSZ * 11 / 10);
	free(data);
}

/* A file system that takes a few bytes at a time, or is interrupted,
 * still gets every byte once. */
static void
test_commit_short_writes(void **state)
{
	struct fixture	*f = *state;
	struct err	 e;
	char		*data;
	size_t		 len = BUFSZ * 2 + 5;

	data = pattern(len);
	fault.write_max = 4093;
	fault.write_errno = EINTR;
	fault.write_ok = 3;
	fault.write_nfail = 2;
	assert_int_equal(deliver(f->m, "short", data, len, 1500, &e), 0);
	assert_delivered(f, "short", data, len);
	assert_int_equal(fault.write_nfail, 0);
	free(data);
}

/* A write error mid-message: the row's errno, after some good writes. */
static const struct {
	int		 errnum;
	int		 ok;
	const char	*text;
} write_fail_cases[] = {
	{ ENOSPC, 1, "No space left on device" },
	{ ENOSPC, 0, "No space left on device" },
	{ EDQUOT, 2, "Disk quota exceeded" },
	{ EIO, 1, "Input/output error" },
	{ EFBIG, 1, "File too large" },
};

/* The tmp file goes at once, later writes and the commit fail, and
 * nothing reaches new/. */
static void
test_write_fails(void **state)
{
	struct fixture		*f = *state;
	struct maildir_msg	*msg;
	struct err		 e;
	char			*data, want[256];
	size_t			 i, off;
	int			 rc;

	data = pattern(BUFSZ * 4);
	for (i = 0; i < sizeof(write_fail_cases) /
	    sizeof(write_fail_cases[0]); i++) {
		memset(&fault, 0, sizeof(fault));
		fault.write_errno = write_fail_cases[i].errnum;
		fault.write_ok = write_fail_cases[i].ok;
		fault.write_nfail = -1;
		assert_int_equal(maildir_begin(f->m, "Y", &msg, &e), 0);
		for (rc = 0, off = 0; rc == 0 && off < BUFSZ * 4; off += 1024)
			rc = maildir_write(msg, data + off, 1024, &e);
		assert_int_equal(rc, E_DELIVERY);
		snprintf(want, sizeof(want), "%s: write tmp/Y: ", f->md);
		assert_error(&e, E_DELIVERY, want, write_fail_cases[i].text);
		assert_empty(f);
		/* Once failed, always failed, even if the disk recovers. */
		fault.write_errno = 0;
		assert_int_equal(maildir_write(msg, "x", 1, &e), E_DELIVERY);
		assert_int_equal(maildir_close(msg, &e), E_DELIVERY);
		assert_error(&e, E_DELIVERY, "earlier write failed", NULL);
		maildir_abort(msg);
		assert_empty(f);
		assert_int_equal(fault.syncfss, 0);
	}
	free(data);
}

/* The last buffered bytes fail to go out at commit. */
static void
test_commit_flush_fails(void **state)
{
	struct fixture	*f = *state;
	struct err	 e;

	fault.write_errno = ENOSPC;
	fault.write_nfail = -1;
	assert_int_equal(deliver(f->m, "Z", "short\n", 6, 6, &e), E_DELIVERY);
	assert_error(&e, E_DELIVERY, "write tmp/Z", "No space left on device");
	assert_empty(f);
	assert_int_equal(fault.syncfss, 0);
}

/* The batch's syncfs fails (new/'s fsync: test_publish_batch): nothing
 * is moved into new/, and the file goes with maildir_abort. */
static const struct {
	int		 errnum;
	const char	*text;
} syncfs_cases[] = {
	{ EIO, "Input/output error" },
	{ ENOSPC, "No space left on device" },
	{ EDQUOT, "Disk quota exceeded" },
};

static void
test_publish_syncfs_fails(void **state)
{
	struct fixture	*f = *state;
	struct err	 e;
	size_t		 i;

	for (i = 0; i < sizeof(syncfs_cases) / sizeof(syncfs_cases[0]); i++) {
		memset(&fault, 0, sizeof(fault));
		fault.syncfs_errno = syncfs_cases[i].errnum;
		assert_int_equal(deliver(f->m, "F", "body\n", 5, 5, &e),
		    E_DELIVERY);
		assert_error(&e, E_DELIVERY, "syncfs", syncfs_cases[i].text);
		assert_empty(f);
		assert_int_equal(fault.syncfss, 1);
		assert_int_equal(fault.fsyncs, 0);
	}
}

/*
 * maildir_close leaves each message in tmp/ without an fsync; one
 * maildir_publish_batch moves the batch into new/ (NULL entries skipped)
 * with one fsync, of new/.  A message that cannot be moved stops the
 * batch: those before it are delivered, those after it stay in tmp/ for
 * maildir_abort; a failed fsync of new/ takes back what was moved.
 */
static void
test_publish_batch(void **state)
{
	struct fixture		*f = *state;
	struct maildir_msg	*msgs[4] = { NULL, NULL, NULL, NULL };
	struct err		 e;
	const char		*names[] = { "P1", NULL, "P3", "P4" };
	char			*got, final[32], path[256];
	size_t			 i, glen, done;

	memset(&fault, 0, sizeof(fault));
	for (i = 0; i < 4; i++) {
		if (names[i] == NULL)
			continue;
		assert_int_equal(maildir_begin(f->m, names[i], &msgs[i], &e),
		    0);
		assert_int_equal(maildir_write(msgs[i], "batched\n", 8, &e), 0);
		assert_int_equal(maildir_close(msgs[i], &e), 0);
	}
	assert_int_equal(fault.fsyncs, 0);
	assert_int_equal(count(f->md, "tmp"), 3);
	assert_int_equal(count(f->md, "new"), 0);
	assert_int_equal(maildir_publish_batch(f->m, msgs, 4, &done, &e), 0);
	assert_int_equal(done, 4);
	assert_int_equal(fault.fsyncs, 1);
	assert_int_equal(fault.syncfss, 1);
	for (i = 0; i < 4; i++) {
		maildir_abort(msgs[i]);
		msgs[i] = NULL;
		if (names[i] == NULL)
			continue;
		snprintf(final, sizeof(final), "%s,S=8", names[i]);
		got = slurp(f->md, "new", final, &glen);
		assert_non_null(got);
		assert_memory_equal(got, "batched\n", 8);
		free(got);
	}
	assert_int_equal(count(f->md, "tmp"), 0);

	/* Q2's file is gone: Q1 is delivered, Q3 stays in tmp/. */
	for (i = 0; i < 3; i++) {
		assert_int_equal(maildir_begin(f->m, i == 0 ? "Q1" : i == 1 ?
		    "Q2" : "Q3", &msgs[i], &e), 0);
		assert_int_equal(maildir_close(msgs[i], &e), 0);
	}
	snprintf(path, sizeof(path), "%s/tmp/Q2", f->md);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(maildir_publish_batch(f->m, msgs, 3, &done, &e),
	    E_DELIVERY);
	assert_error(&e, E_DELIVERY, "rename new/Q2", "No such file");
	assert_int_equal(done, 1);
	assert_int_equal(count(f->md, "new"), 4);
	assert_int_equal(count(f->md, "tmp"), 1);
	for (i = 0; i < 3; i++)
		maildir_abort(msgs[i]);
	assert_int_equal(count(f->md, "tmp"), 0);

	/* The fsync of new/ fails: nothing of the batch stays in new/. */
	assert_int_equal(maildir_begin(f->m, "R1", &msgs[0], &e), 0);
	assert_int_equal(maildir_close(msgs[0], &e), 0);
	fault.fsync_errno = EIO;
	assert_int_equal(maildir_publish_batch(f->m, msgs, 1, &done, &e),
	    E_DELIVERY);
	assert_error(&e, E_DELIVERY, "fsync new/", "Input/output error");
	assert_int_equal(done, 0);
	assert_int_equal(count(f->md, "new"), 4);
	maildir_abort(msgs[0]);
	assert_int_equal(count(f->md, "tmp"), 0);
}

/* A message already in new/ under the name is never replaced: the
 * rename is RENAME_NOREPLACE. */
static void
test_commit_no_replace(void **state)
{
	struct fixture	*f = *state;
	struct err	 e;
	char		*got;
	size_t		 len;

	put(f->md, "new", "D,S=7", "first\n");
	assert_int_equal(deliver(f->m, "D", "second\n", 7, 7, &e), E_DELIVERY);
	assert_error(&e, E_DELIVERY, "rename new/D", "File exists");
	assert_int_equal(count(f->md, "tmp"), 0);
	assert_int_equal(count(f->md, "new"), 1);
	got = slurp(f->md, "new", "D,S=7", &len);
	assert_non_null(got);
	assert_int_equal(len, 6);
	assert_memory_equal(got, "first\n", 6);
	free(got);
}

/* ---- maildir_abort ---- */

static void
test_abort(void **state)
{
	struct fixture		*f = *state;
	struct maildir_msg	*msg;
	struct err		 e;
	char			*data;

	/* With data flushed to the file and more still buffered. */
	data = pattern(BUFSZ + 10);
	assert_int_equal(maildir_begin(f->m, "A", &msg, &e), 0);
	assert_int_equal(maildir_write(msg, data, BUFSZ + 10, &e), 0);
	assert_int_equal(maildir_write(msg, data, 10, &e), 0);
	assert_int_equal(count(f->md, "tmp"), 1);
	maildir_abort(msg);
	assert_empty(f);

	/* After a failed write, which already removed the file. */
	fault.write_errno = EIO;
	fault.write_nfail = -1;
	assert_int_equal(maildir_begin(f->m, "A", &msg, &e), 0);
	assert_int_equal(maildir_write(msg, data, BUFSZ + 10, &e), E_DELIVERY);
	maildir_abort(msg);
	assert_empty(f);
	free(data);
}

/* ---- maildir_find ---- */

/* Files in each directory, then a lookup and its answer per row. */
static const struct {
	const char	*name;
	int		 want;
	const char	*text;
} find_cases[] = {
	{ "N1", 1, NULL },		/* new/N1 */
	{ "C1", 1, NULL },		/* cur/C1 */
	{ "C2", 1, NULL },		/* cur/C2:2,S */
	{ "C3", 1, NULL },		/* cur/C3:2, */
	{ "C4", 1, NULL },		/* cur/C4:2,FRS */
	{ "T1", 0, NULL },		/* only in tmp/: never delivered */
	{ "N", 0, NULL },		/* new/N1 is another message */
	{ "C", 0, NULL },		/* nor is cur/C2:2,S */
	{ "N2", 1, NULL },		/* new/N2:2,S: flags, still ours */
	{ "N5", 1, NULL },		/* new/N5,S=12 */
	{ "C6", 1, NULL },		/* cur/C6,S=9:2,S */
	{ "N5,S", 0, NULL },		/* no such base name */
	{ "Z9", 0, NULL },
	{ "C2:2,S", E_DELIVERY, "find: bad message name" },
	{ "", E_DELIVERY, "find: bad message name" },
	{ "../cur/C1", E_DELIVERY, "find: bad message name" },
	{ ".", E_DELIVERY, "find: bad message name" },
};

static void
test_find(void **state)
{
	struct fixture	*f = *state;
	struct err	 e;
	size_t		 i;

	put(f->md, "new", "N1", "");
	put(f->md, "new", "N2:2,S", "");
	put(f->md, "new", "N5,S=12", "");
	put(f->md, "cur", "C6,S=9:2,S", "");
	put(f->md, "cur", "C1", "");
	put(f->md, "cur", "C2:2,S", "");
	put(f->md, "cur", "C3:2,", "");
	put(f->md, "cur", "C4:2,FRS", "");
	put(f->md, "tmp", "T1", "");
	for (i = 0; i < sizeof(find_cases) / sizeof(find_cases[0]); i++) {
		err_clear(&e);
		if (maildir_find(f->m, find_cases[i].name, &e) !=
		    find_cases[i].want)
			fail_msg("find \"%s\": want %d (%s)",
			    find_cases[i].name, find_cases[i].want, e.msg);
		if (find_cases[i].text != NULL)
			assert_error(&e, E_DELIVERY, find_cases[i].text, NULL);
	}
}

/* The crash-recovery path: plan, deliver, and find it again, also after a
 * reader moved it to cur/ and flagged it. */
static void
test_find_after_commit(void **state)
{
	struct fixture	*f = *state;
	struct err	 e;
	char		 name[MAILDIR_NAME_MAX], from[512], to[512];

	maildir_plan_name(f->m, name, sizeof(name));
	assert_int_equal(maildir_find(f->m, name, &e), 0);
	assert_int_equal(deliver(f->m, name, "m\n", 2, 2, &e), 0);
	assert_int_equal(maildir_find(f->m, name, &e), 1);
	snprintf(from, sizeof(from), "%s/new/%s,S=2", f->md, name);
	snprintf(to, sizeof(to), "%s/cur/%s,S=2:2,S", f->md, name);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(maildir_find(f->m, name, &e), 1);
	assert_int_equal(unlink(to), 0);
	assert_int_equal(maildir_find(f->m, name, &e), 0);
}

int
main(void)
{
	const struct CMUnitTest open_tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_existing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_relative, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_bad, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_symlinked_sub,
		    setup, teardown),
		cmocka_unit_test(test_free_null),
	};
	const struct CMUnitTest name_tests[] = {
		cmocka_unit_test_setup_teardown(test_plan_name_unique,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_plan_name_format,
		    setup_open, teardown),
		cmocka_unit_test(test_escape_host),
	};
	const struct CMUnitTest begin_tests[] = {
		cmocka_unit_test_setup_teardown(test_begin_bad_name,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_begin_creates_tmp,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_begin_stale_tmp,
		    setup_open, teardown),
	};
	const struct CMUnitTest commit_tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_bodies,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_commit_large,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_commit_short_writes,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_write_fails,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_commit_flush_fails,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_publish_syncfs_fails,
		    setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_publish_batch, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_commit_no_replace,
		    setup_open, teardown),
	};
	const struct CMUnitTest abort_tests[] = {
		cmocka_unit_test_setup_teardown(test_abort, setup_open,
		    teardown),
	};
	const struct CMUnitTest find_tests[] = {
		cmocka_unit_test_setup_teardown(test_find, setup_open,
		    teardown),
		cmocka_unit_test_setup_teardown(test_find_after_commit,
		    setup_open, teardown),
	};
	int	fails = 0;

	fails += cmocka_run_group_tests_name("maildir_open", open_tests,
	    NULL, NULL);
	fails += cmocka_run_group_tests_name("maildir_plan_name", name_tests,
	    NULL, NULL);
	fails += cmocka_run_group_tests_name("maildir_begin", begin_tests,
	    NULL, NULL);
	fails += cmocka_run_group_tests_name("maildir_write/commit",
	    commit_tests, NULL, NULL);
	fails += cmocka_run_group_tests_name("maildir_abort", abort_tests,
	    NULL, NULL);
	fails += cmocka_run_group_tests_name("maildir_find", find_tests,
	    NULL, NULL);
	return fails != 0;
}
