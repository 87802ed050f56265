/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_MAILDIR_H
#define POPSYNC_MAILDIR_H

#include <stddef.h>

#include "err.h"

/*
 * The one Maildir writer (maildir(5)).  Messages are written to tmp/; a
 * batch of them is made durable with one syncfs(2), renamed into new/
 * (never over an existing file), and then new/ itself is fsync'ed so the
 * new directory entries survive a crash.  A message is either wholly in
 * new/ or not there at all.
 *
 * Finding a message again after a crash.  The sync plans a file name with
 * maildir_plan_name() and records it in its ledger *before* writing.  After
 * a crash it asks maildir_find() whether that name reached new/ or cur/: if
 * so the message was delivered and must not be fetched again; if not, it is
 * fetched again, under the same name or a new one.
 *
 * Name format: "<secs>.M<usecs>R<random>.<host>", <usecs> six digits,
 * <random> 16 hex digits of getrandom(2), with '/' in the host name
 * written as "\057" and ':' as "\072" (OpenSMTPD's time.random.host: no
 * counter or pid, so no lock is needed to keep names apart).  A name that
 * is taken anyway is an error, never a reason to remove the other file.
 * That base name is fixed
 * (and recorded) before the message is fetched; the name in new/ is the
 * base name plus ",S=<size>", the exact size on disk, which is known only
 * once the message is written (Dovecot trusts S= for quota without a
 * stat; the POP3 LIST size counts CRLFs and would be wrong).  So a
 * delivered message is found by its base name followed by ',' or ':'.
 *
 * Errors: every failure is E_DELIVERY (temporary), with a message of the
 * form "maildir <path>: <op> <file>: <strerror>".
 */

struct maildir;
struct maildir_msg;

/*
 * Size of a buffer that holds any planned name, NUL included.  The host
 * part is cut to MAILDIR_HOST_MAX bytes (at an escape boundary) so that a
 * reader's ":2,<flags>" still fits in NAME_MAX.
 */
#define MAILDIR_HOST_MAX	100
#define MAILDIR_NAME_MAX	200

/*
 * maildir_open: open the Maildir at path (already ~-expanded), creating
 * path and its tmp/, new/ and cur/ with mode 0700 where they are missing
 * (like mkdir -p).  An existing Maildir is used as it is.  Symbolic links
 * in path itself are followed (the user chose it), but tmp/, new/ and cur/
 * must be directories: a symbolic link in their place is refused, not
 * followed.  Everything after this works on the three directories opened
 * here (openat, renameat, fsync), never on path names, so a
 * directory swapped later is not written through either.  *out is set on
 * success only; free it with maildir_free().
 * Errors: E_DELIVERY (mkdir or open failed, path is not a directory, tmp/,
 * new/ or cur/ is a symbolic link).
 */
int	 maildir_open(const char *path, struct maildir **out, struct err *e);

/* maildir_free: close the directories and free; accepts NULL.  Every
 * message begun on m must be aborted first. */
void	 maildir_free(struct maildir *m);


/*
 * maildir_plan_name: write a fresh unique base name (format above) into
 * out, which must hold MAILDIR_NAME_MAX bytes (a smaller buffer is a
 * caller bug and fatal).  No file is created.  The name has no '/' or ':',
 * so a reader's ":2,<flags>" suffix is unambiguous.
 */
void	 maildir_plan_name(struct maildir *m, char *out, size_t outlen);

/*
 * maildir_find: whether a message with base name name was delivered:
 * returns 1 if new/ or cur/ holds <name>, <name>,S=<size> or either with
 * ":<info>" (a reader moved it and added flags, as ":2,S"), 0 if none
 * does.  tmp/ is not
 * looked at: a file there was never delivered.
 * Errors: E_DELIVERY (name is not a valid base name, a directory cannot be
 * read).
 */
int	 maildir_find(struct maildir *m, const char *name, struct err *e);

/*
 * maildir_begin: start writing a message that will be published as
 * new/<name>, by creating tmp/<name> (mode 0600, O_EXCL).  An existing
 * tmp/<name> is an error and is left alone: it may be another delivery's
 * file or a planted link (a leftover of a killed run of ours is removed
 * earlier, by maildir_clean_tmp).  The caller should have checked with
 * maildir_find() that the name is not already delivered.
 * *out is set on success only; it ends in maildir_close(), then
 * maildir_publish_batch(), and always maildir_abort().
 * Errors: E_DELIVERY (name is empty, starts with '.', contains '/' or ':',
 * or is MAILDIR_NAME_MAX bytes or longer; tmp/<name> exists or cannot be
 * created).
 */
int	 maildir_begin(struct maildir *m, const char *name,
	    struct maildir_msg **out, struct err *e);

/*
 * maildir_write: append len bytes, as they are (the POP3 layer has already
 * turned CRLF into LF).  Writes are buffered (64 KiB).  On failure the tmp
 * file is removed at once and every later write or close of msg fails;
 * the caller still ends msg with maildir_abort().
 * Errors: E_DELIVERY (write failed: ENOSPC, EDQUOT, EIO, ...).
 */
int	 maildir_write(struct maildir_msg *msg, const void *data, size_t len,
	    struct err *e);

/*
 * maildir_close: flush and close the file, still in tmp/ and not yet
 * durable: it waits for maildir_publish_batch (or maildir_abort).  Its
 * write buffer is freed here; msg takes no more writes.
 * Errors: E_DELIVERY (the last buffered write or the close failed, or an
 * earlier maildir_write() failed).
 */
int	 maildir_close(struct maildir_msg *msg, struct err *e);

/*
 * maildir_publish_batch: deliver the messages closed by maildir_close in
 * msgs[0..n) (NULL entries are skipped): one syncfs(2) makes all their data
 * durable, then each is renamed into new/ as <name>,S=<size>, in order
 * and never over an existing file, then new/ is fsynced once.  *done is
 * the count of entries, from the front, that are settled: each non-NULL
 * one among them is delivered and durable.  The others are still in tmp/.
 * Every msgs[i] still ends in maildir_abort, which frees it (and removes a
 * tmp/ file left).
 * Errors: E_DELIVERY (syncfs, rename, fsync of new/; when the fsync of
 * new/ fails, the messages moved are taken back and *done is 0).
 */
int	 maildir_publish_batch(struct maildir *m, struct maildir_msg **msgs,
	    size_t n, size_t *done, struct err *e);

/* maildir_abort: remove the tmp file and free msg; accepts NULL. */
void	 maildir_abort(struct maildir_msg *msg);

/*
 * maildir_clean_tmp: remove tmp/<name> if it exists.  A run killed while
 * writing a message leaves it there, partial, or whole but not yet moved
 * into new/; the retry plans a new name, so without this nothing would
 * ever remove it.
 * Call it only for a name this program planned and no message in
 * progress uses.  A failure is only logged: the file is clutter, not mail.
 */
void	 maildir_clean_tmp(struct maildir *m, const char *name);

/*
 * maildir_escape_host: write host into out (outlen bytes, NUL-terminated)
 * with '/' as "\057" and ':' as "\072", as maildir(5) asks.  If out is too
 * small the copy stops before the first character (or whole escape) that
 * does not fit.  Returns the length of the complete escaped string, so a
 * result >= outlen means it was cut, as with strlcpy.
 */
size_t	 maildir_escape_host(char *out, size_t outlen, const char *host);

#endif
