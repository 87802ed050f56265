/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Maildir delivery: tmp/, syncfs per batch, rename into new/, fsync new/. */

#include "autoconf.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "maildir.h"
#include "xmalloc.h"

/* Large enough that a message costs few write(2) calls, small enough to
 * hold one per message in flight without thought. */
#define MAILDIR_BUFSIZE		(64 * 1024)

#define MAILDIR_DIRFLAGS	(O_RDONLY | O_DIRECTORY | O_CLOEXEC)
/* tmp/, new/ and cur/ are never reached through a symbolic link. */
#define MAILDIR_SUBFLAGS	(MAILDIR_DIRFLAGS | O_NOFOLLOW)
#define MAILDIR_TMPFLAGS	(O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC)

/* Random words for names, drawn 32 at a time: a getrandom(2) per name
 * was one system call in five of a sync (issue 9). */
#define MAILDIR_RND_WORDS	32

struct maildir {
	char		*path;
	int		 tmpfd;
	int		 newfd;
	int		 curfd;
	char		 host[MAILDIR_HOST_MAX + 1];
	uint64_t	 rnd[MAILDIR_RND_WORDS];
	size_t		 nrnd;		/* words of rnd not used yet */
};

struct maildir_msg {
	struct maildir	*m;
	char		 name[MAILDIR_NAME_MAX];
	char		 final[MAILDIR_NAME_MAX + 32]; /* name,S=<size> */
	unsigned long long size;	/* bytes written so far */
	int		 fd;
	bool		 intmp;		/* tmp/<name> exists and is ours */
	bool		 failed;	/* a write failed; the file is gone */
	char		*buf;
	size_t		 len;
};

static int	 maildir_subdir(const char *path, int dirfd, const char *name,
		    const char *shown, int flags, int *fdp, struct err *e);
static int	 maildir_mkpath(const char *path, int *fdp, struct err *e);
static bool	 maildir_name_ok(const char *name);
static int	 maildir_bad_name(struct maildir *m, const char *op,
		    const char *name, struct err *e);
static int	 maildir_scan(struct maildir *m, int dirfd, const char *dir,
		    const char *name, struct err *e);
static void	 maildir_discard(struct maildir_msg *msg);
static int	 maildir_fail(struct maildir_msg *msg, const char *op,
		    const char *dir, int errnum, struct err *e);
static int	 maildir_write_all(struct maildir_msg *msg, const char *data,
		    size_t len, struct err *e);
static int	 maildir_flush(struct maildir_msg *msg, struct err *e);
static int	 maildir_rename_noreplace(struct maildir *m, const char *from,
		    const char *to);

/*
 * Create name under dirfd when missing (0700) and open it as a directory
 * with flags.  With O_NOFOLLOW a symbolic link in its place is refused:
 * whoever swapped it in between runs would receive the mail.
 */
static int
maildir_subdir(const char *path, int dirfd, const char *name,
    const char *shown, int flags, int *fdp, struct err *e)
{
	struct stat	st;
	int	fd;

	if (mkdirat(dirfd, name, 0700) == 0) {
		/* Make the new entry itself durable, or a crash could lose
		 * the directory together with what is later delivered to it. */
		if (fsync(dirfd) == -1)
			return err_set(e, E_DELIVERY, "maildir %s: fsync %s: %s",
			    path, shown, strerror(errno));
	} else if (errno != EEXIST)
		return err_set(e, E_DELIVERY, "maildir %s: mkdir %s: %s",
		    path, shown, strerror(errno));
	if ((fd = openat(dirfd, name, flags)) == -1) {
		if ((errno == ELOOP || errno == ENOTDIR) &&
		    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			return err_set(e, E_DELIVERY, "maildir %s: %s is a "
			    "symbolic link, not a directory; refusing to "
			    "follow it (replace it with a directory)", path,
			    shown);
		return err_set(e, E_DELIVERY, "maildir %s: open %s: %s",
		    path, shown, strerror(errno));
	}
	*fdp = fd;
	return 0;
}

/* mkdir -p path, one component at a time; *fdp gets path's directory. */
static int
maildir_mkpath(const char *path, int *fdp, struct err *e)
{
	char	*copy, *rest, *comp, *shown = NULL;
	int	 fd, nfd, rc;

	if ((fd = open(path[0] == '/' ? "/" : ".", MAILDIR_DIRFLAGS)) == -1)
		return err_set(e, E_DELIVERY, "maildir %s: open: %s", path,
		    strerror(errno));
	copy = rest = xstrdup(path);
	while ((comp = strsep(&rest, "/")) != NULL) {
		if (*comp == '\0')
			continue;
		free(shown);
		shown = xstrndup(path, (size_t)(comp - copy) + strlen(comp));
		/* The configured path is the user's: its links are followed. */
		if ((rc = maildir_subdir(path, fd, comp, shown,
		    MAILDIR_DIRFLAGS, &nfd, e)) != 0)
			goto out;
		close(fd);
		fd = nfd;
	}
	*fdp = fd;
	fd = -1;
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(shown);
	free(copy);
	return rc;
}

/* Create what is missing of path/{tmp,new,cur} and open the three. */
int
maildir_open(const char *path, struct maildir **out, struct err *e)
{
	struct maildir	*m;
	char		 host[256];
	int		 rootfd = -1, rc;

	m = xcalloc(1, sizeof(*m));
	m->path = xstrdup(path);
	m->tmpfd = m->newfd = m->curfd = -1;
	if (*path == '\0') {
		rc = err_set(e, E_DELIVERY, "maildir: empty path");
		goto out;
	}
	if ((rc = maildir_mkpath(path, &rootfd, e)) != 0 ||
	    (rc = maildir_subdir(path, rootfd, "tmp", "tmp",
	    MAILDIR_SUBFLAGS, &m->tmpfd, e)) != 0 ||
	    (rc = maildir_subdir(path, rootfd, "new", "new",
	    MAILDIR_SUBFLAGS, &m->newfd, e)) != 0 ||
	    (rc = maildir_subdir(path, rootfd, "cur", "cur",
	    MAILDIR_SUBFLAGS, &m->curfd, e)) != 0)
		goto out;

	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	maildir_escape_host(m->host, sizeof(m->host), host);
	*out = m;
	m = NULL;
	rc = 0;
out:
	if (rootfd != -1)
		close(rootfd);
	maildir_free(m);
	return rc;
}

/* Close the directory descriptors and free m. */
void
maildir_free(struct maildir *m)
{
	if (m == NULL)
		return;
	if (m->tmpfd != -1)
		close(m->tmpfd);
	if (m->newfd != -1)
		close(m->newfd);
	if (m->curfd != -1)
		close(m->curfd);
	free(m->path);
	free(m);
}

/* Copy host with maildir(5)'s escapes for '/' and ':'. */
size_t
maildir_escape_host(char *out, size_t outlen, const char *host)
{
	const char	*rep;
	char		 one[2];
	size_t		 need = 0, used = 0, n;
	bool		 full = outlen == 0;

	for (; *host != '\0'; host++) {
		if (*host == '/')
			rep = "\\057";
		else if (*host == ':')
			rep = "\\072";
		else {
			one[0] = *host;
			one[1] = '\0';
			rep = one;
		}
		n = strlen(rep);
		/* Never split an escape: a cut "\05" would read as garbage. */
		if (!full && used + n < outlen) {
			memcpy(out + used, rep, n);
			used += n;
		} else
			full = true;
		need += n;
	}
	if (outlen > 0)
		out[used] = '\0';
	return need;
}

/*
 * A name no other delivery, here or on another host, will use: the time
 * and 64 random bits (OpenSMTPD's time.random.host), so no counter, lock
 * or pid is shared between threads or processes to keep names apart.
 */
void
maildir_plan_name(struct maildir *m, char *out, size_t outlen)
{
	struct timespec	ts;
	uint64_t	rnd;
	int		n;

	/* At most 256 bytes from the urandom pool: never short, only
	 * interrupted before the pool is initialised at boot. */
	if (m->nrnd == 0) {
		while (getrandom(m->rnd, sizeof(m->rnd), 0) !=
		    (ssize_t)sizeof(m->rnd)) {
			if (errno != EINTR)
				fatal("getrandom");
		}
		m->nrnd = MAILDIR_RND_WORDS;
	}
	rnd = m->rnd[--m->nrnd];
	m->rnd[m->nrnd] = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(out, outlen, "%lld.M%06ldR%016llx.%s",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, (unsigned long long)rnd,
	    m->host);
	if (n < 0 || (size_t)n >= outlen)
		fatalx("%s: buffer of %zu bytes too small", __func__, outlen);
}

/* Whether name can be a base name we planned: one safe path component. */
static bool
maildir_name_ok(const char *name)
{
	size_t	len;

	len = strnlen(name, MAILDIR_NAME_MAX);
	return len > 0 && len < MAILDIR_NAME_MAX && name[0] != '.' &&
	    strpbrk(name, "/:") == NULL;
}

/* Report a name that is not a valid base name, sanitized and cut short:
 * it comes from the ledger, which a bug or a disk error may have mangled. */
static int
maildir_bad_name(struct maildir *m, const char *op, const char *name,
    struct err *e)
{
	char	shown[64];

	err_sanitize(shown, sizeof(shown), name);
	return err_set(e, E_DELIVERY, "maildir %s: %s: bad message name \"%s\"",
	    m->path, op, shown);
}

/* Whether dir holds name or name:<info>; 1, 0 or E_DELIVERY. */
static int
maildir_scan(struct maildir *m, int dirfd, const char *dir, const char *name,
    struct err *e)
{
	struct dirent	*de;
	DIR		*d;
	size_t		 len = strlen(name);
	int		 fd, rc = 0;

	/* A fresh descriptor: closedir() closes it and the offset is new. */
	if ((fd = openat(dirfd, ".", MAILDIR_DIRFLAGS)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		rc = err_set(e, E_DELIVERY, "maildir %s: open %s: %s", m->path,
		    dir, strerror(errno));
		if (fd != -1)
			close(fd);
		return rc;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				rc = err_set(e, E_DELIVERY,
				    "maildir %s: read %s: %s", m->path, dir,
				    strerror(errno));
			break;
		}
		if (strncmp(de->d_name, name, len) == 0 &&
		    (de->d_name[len] == '\0' || de->d_name[len] == ':' ||
		    de->d_name[len] == ',')) {
			rc = 1;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* Whether name reached new/ or cur/. */
int
maildir_find(struct maildir *m, const char *name, struct err *e)
{
	int	rc;

	if (!maildir_name_ok(name))
		return maildir_bad_name(m, "find", name, e);
	/* The name has grown ",S=<size>", and in cur/ maybe ":2,<flags>". */
	if ((rc = maildir_scan(m, m->newfd, "new", name, e)) != 0)
		return rc;
	return maildir_scan(m, m->curfd, "cur", name, e);
}

/* Create tmp/<name> for a new message. */
int
maildir_begin(struct maildir *m, const char *name, struct maildir_msg **out,
    struct err *e)
{
	struct maildir_msg	*msg;
	int			 fd;

	if (!maildir_name_ok(name))
		return maildir_bad_name(m, "begin", name, e);
	/* O_EXCL: a file of that name is someone else's delivery (or a
	 * link planted there), never ours to remove or write through. */
	if ((fd = openat(m->tmpfd, name, MAILDIR_TMPFLAGS, 0600)) == -1) {
		if (errno == EEXIST)
			return err_set(e, E_DELIVERY, "maildir %s: create "
			    "tmp/%s: the name is taken; left alone", m->path,
			    name);
		return err_set(e, E_DELIVERY, "maildir %s: open tmp/%s: %s",
		    m->path, name, strerror(errno));
	}

	msg = xcalloc(1, sizeof(*msg));
	msg->m = m;
	strcpy(msg->name, name);	/* fits: maildir_name_ok */
	msg->fd = fd;
	msg->intmp = true;
	msg->buf = xmalloc(MAILDIR_BUFSIZE);
	*out = msg;
	return 0;
}

/* Close the file and remove tmp/<name>, whatever state msg is in. */
static void
maildir_discard(struct maildir_msg *msg)
{
	if (msg->fd != -1) {
		close(msg->fd);
		msg->fd = -1;
	}
	if (msg->intmp) {
		if (unlinkat(msg->m->tmpfd, msg->name, 0) == -1 &&
		    errno != ENOENT)
			log_warn("maildir %s: unlink tmp/%s", msg->m->path,
			    msg->name);
		msg->intmp = false;
	}
}

/* Give up on msg after op on dir/<name> failed with errnum. */
static int
maildir_fail(struct maildir_msg *msg, const char *op, const char *dir,
    int errnum, struct err *e)
{
	maildir_discard(msg);
	msg->failed = true;
	return err_set(e, E_DELIVERY, "maildir %s: %s %s/%s: %s", msg->m->path,
	    op, dir, msg->name, strerror(errnum));
}

/* write(2) all of data, going on after short writes and EINTR. */
static int
maildir_write_all(struct maildir_msg *msg, const char *data, size_t len,
    struct err *e)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(msg->fd, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			return maildir_fail(msg, "write", "tmp", errno, e);
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write out what the buffer holds. */
static int
maildir_flush(struct maildir_msg *msg, struct err *e)
{
	int	rc;

	rc = maildir_write_all(msg, msg->buf, msg->len, e);
	msg->len = 0;
	return rc;
}

/* Buffer data, writing out whenever 64 KiB are full. */
int
maildir_write(struct maildir_msg *msg, const void *data, size_t len,
    struct err *e)
{
	int	rc;

	if (msg->failed)
		return err_set(e, E_DELIVERY,
		    "maildir %s: write tmp/%s: an earlier write failed",
		    msg->m->path, msg->name);
	if (msg->buf == NULL)
		fatalx("%s: tmp/%s written after maildir_close", __func__,
		    msg->name);
	msg->size += len;	/* for ",S=": a failed write ends the message */
	if (len > MAILDIR_BUFSIZE - msg->len) {
		if ((rc = maildir_flush(msg, e)) != 0)
			return rc;
		/* Big chunks skip the copy. */
		if (len >= MAILDIR_BUFSIZE)
			return maildir_write_all(msg, data, len, e);
	}
	memcpy(msg->buf + msg->len, data, len);
	msg->len += len;
	return 0;
}

/*
 * rename tmp/<from> to new/<to> without replacing an existing file:
 * rename(2) alone would silently overwrite a delivered message.  File
 * systems without RENAME_NOREPLACE get a
 * check before a plain rename; that leaves a race, but only against a
 * second writer of a name this process planned.  Returns 0 or -1 (errno).
 */
static int
maildir_rename_noreplace(struct maildir *m, const char *from, const char *to)
{
	struct stat	st;

	if (renameat2(m->tmpfd, from, m->newfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (fstatat(m->newfd, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	if (errno != ENOENT)
		return -1;
	return renameat(m->tmpfd, from, m->newfd, to);
}

int
maildir_close(struct maildir_msg *msg, struct err *e)
{
	int	fd, rc;

	if (msg->failed)
		return err_set(e, E_DELIVERY, "maildir %s: close tmp/%s: an "
		    "earlier write failed", msg->m->path, msg->name);
	if ((rc = maildir_flush(msg, e)) != 0)
		return rc;
	/* A batch waits closed for its syncfs: 32 buffers of 64 KiB held
	 * until then were 2 MiB per running sync (issue 9). */
	free(msg->buf);
	msg->buf = NULL;
	fd = msg->fd;
	msg->fd = -1;
	if (close(fd) == -1 && errno != EINTR)
		return maildir_fail(msg, "close", "tmp", errno, e);
	snprintf(msg->final, sizeof(msg->final), "%s,S=%llu", msg->name,
	    msg->size);
	return 0;
}

/*
 * Durability per batch, not per message.  Measured on this project's CI
 * disk (ext4, 2000 x 4 KiB): an fsync per file took 1.8 s; a syncfs(2) per
 * batch of 32 took 0.36-0.42 s, as did 32 fsyncs issued concurrently,
 * which the journal commits together.  syncfs gets that with one call and
 * no thread pool.  Its cost: it also writes back whatever else is dirty
 * on the same file system, and it reports write-back errors only since
 * Linux 5.8; a failed one counts as a failure of the whole batch.
 */
int
maildir_publish_batch(struct maildir *m, struct maildir_msg **msgs,
    size_t n, size_t *done, struct err *e)
{
	size_t	i, k;
	int	errnum;

	*done = 0;
	if (syncfs(m->tmpfd) == -1)
		return err_set(e, E_DELIVERY, "maildir %s: syncfs: %s",
		    m->path, strerror(errno));
	/* rename, not link and unlink: the data is durable already, and a
	 * second name would cost an inode that a full file system (tmpfs
	 * counts links) may not have. */
	for (i = 0; i < n; i++) {
		if (msgs[i] == NULL)
			continue;
		if (maildir_rename_noreplace(m, msgs[i]->name,
		    msgs[i]->final) == -1) {
			(void)maildir_fail(msgs[i], "rename", "new", errno, e);
			break;
		}
		msgs[i]->intmp = false;
	}
	if (fsync(m->newfd) == -1) {
		/* Not durable means not delivered: take them back, so a
		 * retry cannot produce second copies. */
		errnum = errno;
		for (k = 0; k < i; k++)
			if (msgs[k] != NULL &&
			    unlinkat(m->newfd, msgs[k]->final, 0) == -1)
				log_warn("maildir %s: unlink new/%s", m->path,
				    msgs[k]->final);
		return err_set(e, E_DELIVERY, "maildir %s: fsync new/: %s",
		    m->path, strerror(errnum));
	}
	*done = i;
	return i < n ? E_DELIVERY : 0;
}

/* Remove what a killed run left in tmp/ under a name it planned. */
void
maildir_clean_tmp(struct maildir *m, const char *name)
{
	if (!maildir_name_ok(name))
		return;
	if (unlinkat(m->tmpfd, name, 0) == 0)
		log_info("maildir %s: removed tmp/%s left by an earlier run",
		    m->path, name);
	else if (errno != ENOENT)
		log_warn("maildir %s: unlink tmp/%s", m->path, name);
}

/* Drop the message: remove tmp/<name> and free. */
void
maildir_abort(struct maildir_msg *msg)
{
	if (msg == NULL)
		return;
	maildir_discard(msg);
	free(msg->buf);
	free(msg);
}
