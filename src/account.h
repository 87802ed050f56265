/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_ACCOUNT_H
#define POPSYNC_ACCOUNT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "waiter.h"

struct tls_cache;

/*
 * One mail account as the config describes it: a transparent plain-data
 * struct (STYLE 2).  config.c fills it; account_check() validates it apart
 * from parsing; account_secret() produces the password when it is needed.
 */

enum account_tls {
	ACCOUNT_TLS_IMPLICIT,	/* TLS from the first byte (port 995) */
	ACCOUNT_TLS_STARTTLS,	/* STLS on a plain connection (port 110) */
	ACCOUNT_TLS_NONE	/* cleartext */
};

enum account_auth {
	ACCOUNT_AUTH_AUTO,
	ACCOUNT_AUTH_USER,
	ACCOUNT_AUTH_APOP,
	ACCOUNT_AUTH_PLAIN,
	ACCOUNT_AUTH_LOGIN,
	ACCOUNT_AUTH_CRAM_MD5,
	ACCOUNT_AUTH_XOAUTH2,
	ACCOUNT_AUTH_OAUTHBEARER
};

/* Which optional keys the config set, to merge global defaults. */
enum account_set {
	ACCOUNT_SET_PORT = 1 << 0,
	ACCOUNT_SET_INTERVAL = 1 << 1,
	ACCOUNT_SET_TIMEOUT = 1 << 2
};

struct account {
	TAILQ_ENTRY(account) entry;
	char		*name;
	char		*host;
	int		 port;
	enum account_tls tls;
	char		*ca_file;
	bool		 tls_verify;
	char		*tls_fingerprint;	/* "sha256:HEX" */
	int		 tls_min_version;	/* 12 or 13 */
	char		*user;
	char		*password;
	char		*password_command;
	char		*password_file;
	enum account_auth auth;
	bool		 allow_plaintext_auth;
	char		*maildir;		/* "~" already expanded */
	bool		 keep;
	int		 delete_after_days;
	uint64_t	 max_message_size;	/* 0: no limit */
	int		 interval;		/* seconds */
	int		 timeout;		/* seconds */
	unsigned	 set;			/* enum account_set bits */
	/* Where the account was defined, for messages. */
	char		*file;
	int		 line;
	/* Kept from one connection to the next: the TLS context with its CA
	 * store, and the session to resume (tls_cache_new in tls.h).  Made
	 * by account_new, freed by account_free; a reload makes new ones. */
	struct tls_cache *tls_cache;
};

TAILQ_HEAD(account_list, account);

/*
 * The bounds of the numeric settings, checked where the config is read
 * and again by account_check, so that no later arithmetic (timeout * 1000
 * in milliseconds, days * 86400) can overflow: 30 days between polls, an
 * hour of silence per step, a century of keeping mail.
 */
#define ACCOUNT_INTERVAL_MAX	(30 * 24 * 3600)
#define ACCOUNT_TIMEOUT_MAX	3600
#define ACCOUNT_DELETE_DAYS_MAX	36500

/* account_new: an account with every default set (tls implicit, port 995,
 * verify on, TLS 1.2, auth auto, keep, interval 300, timeout 60) and an
 * empty TLS cache. */
struct account *account_new(void);

/* account_free: free an account and its strings; accepts NULL. */
void	 account_free(struct account *a);

/*
 * account_check: semantic validation after parsing: required keys, exactly
 * one password source, name syntax, value ranges, fingerprint syntax,
 * tls_verify = false without a tls_fingerprint (unless tls is "none"), a
 * password_file that is missing, not a regular file (a FIFO would hang
 * the read), or readable by group or others.  The
 * message starts with "FILE:LINE: " of the account.  Errors: E_CONFIG.
 */
int	 account_check(const struct account *a, struct err *e);

/*
 * account_secret: the password (or OAuth token): the configured string,
 * the first line of password_file, or the first line printed by
 * password_command (run by pwcmd_run, waiting through w, or with the
 * account timeout alone when w is NULL; a non-zero exit, a signal, a
 * timeout or an empty first line is an error, and the message carries the
 * first line the command wrote to stderr).  A password_file's type and
 * mode are checked again on the open file, which is opened without
 * blocking, so a FIFO or device in its place is an error at once, never a
 * hang.  The caller frees *out with freezero().
 * Errors: E_CONFIG (the source failed; the message names it but never
 * the secret), E_ABORT (a flag of w stopped password_command).
 */
int	 account_secret(const struct account *a, struct waiter *w, char **out,
	    struct err *e);

/* The rules account_name_ok and account_fingerprint_ok apply, worded for
 * error messages ("name: expected ..."). */
#define ACCOUNT_NAME_MAX	64
#define ACCOUNT_NAME_RULE \
	"1 to 64 letters, digits, '.', '_' or '-'"
#define ACCOUNT_FINGERPRINT_RULE \
	"\"sha256:\" and 64 hex digits, colons allowed between pairs"

/* account_name_ok: whether s is a valid account name (ACCOUNT_NAME_RULE). */
bool	 account_name_ok(const char *s);

/* account_fingerprint_ok: whether s is a valid tls_fingerprint. */
bool	 account_fingerprint_ok(const char *s);

/*
 * account_secure_file: refuse a file holding a secret that group or others
 * may read (mode & 077).  fd is the open file, or -1 to stat path.  The
 * message is "PATH: holds a password but is readable by group or others
 * (mode 0644); chmod 600 PATH".  config.c uses it for the config file.
 * Errors: E_CONFIG (also when the file cannot be examined).
 */
int	 account_secure_file(const char *path, int fd, struct err *e);

/* account_tls_name / account_auth_name: config spellings of the enums. */
const char *account_tls_name(enum account_tls t);
const char *account_auth_name(enum account_auth a);

/* account_parse_tls / account_parse_auth: the reverse; -1 if unknown. */
int	 account_parse_tls(const char *s, enum account_tls *t);
int	 account_parse_auth(const char *s, enum account_auth *a);

/*
 * account_same_mailbox: whether a and b name the same mailbox: the same
 * user, and hosts equal but for case (the identity of the state ledger,
 * store.h; port, TLS mode and login method are not part of it).
 */
bool	 account_same_mailbox(const struct account *a,
	    const struct account *b);

#endif
