/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_POP3_H
#define POPSYNC_POP3_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "err.h"
#include "pop3_parse.h"

/*
 * A synchronous POP3 client: one function per command over a struct conn.
 * Each command checks that it is legal in the current session phase and
 * returns 0 or a negative code with a message naming the command and the
 * server's (sanitized) reply.
 *
 * Tracing: at log level debug each command and its status line are logged
 * ("name: > RETR 1", "name: < +OK 1234 octets"); at trace every line of
 * multi-line replies too.  PASS, APOP digests and AUTH payloads are always
 * written as "****".
 *
 * Errors common to every command: E_IO, E_TIMEOUT, E_TLS, E_ABORT (the
 * connection failed; the session is unusable), E_PROTO (the reply made no
 * sense; unusable), E_SERVER (-ERR; the session goes on; err.temporary
 * follows the response code), and E_PROTO "not allowed in state X" before
 * anything is sent when the phase is wrong.
 */

enum pop3_state {
	POP3_ST_GREETING,
	POP3_ST_AUTH,
	POP3_ST_TRANSACTION,
	POP3_ST_UPDATE,
	POP3_ST_CLOSED
};

struct pop3_params {
	const char	*name;		/* log prefix, normally the account */
};

/* One message in a LIST/UIDL listing. */
struct pop3_msg {
	unsigned long		 num;
	unsigned long long	 size;		/* from LIST; 0 if unknown */
	size_t			 uidl;		/* 1 + offset of its UIDL in
						 * the listing's pool; 0: none */
	unsigned int		 flags;		/* POP3_MSG_* */
};

#define POP3_MSG_LISTED		0x1	/* LIST showed it */
#define POP3_MSG_UIDL		0x2	/* UIDL gave it a usable unique-id */
#define POP3_MSG_BADUIDL	0x4	/* UIDL gave it an unusable one (see
					 * pop3_parse_uidl), or two */

/*
 * A listing.  The unique-ids live in one pool, so a listing of n messages
 * costs one array of n entries plus the ids' octets; read them with
 * pop3_msg_uidl.  uidl_only counts UIDL lines whose number LIST did not
 * show (pop3_uidl after pop3_list): those messages are left out.
 */
struct pop3_listing {
	struct pop3_msg	*msgs;		/* ordered as the server sent them */
	size_t		 count;
	char		*pool;
	size_t		 poollen;
	size_t		 poolcap;
	size_t		 uidl_only;
};

/* pop3_msg_uidl: m's unique-id (NUL-terminated), or NULL when it has no
 * usable one.  Valid until l changes or is freed. */
const char *pop3_msg_uidl(const struct pop3_listing *l,
	    const struct pop3_msg *m);

/*
 * Where RETR and TOP bodies go: begin before the first byte, write with
 * decoded data (dot-unstuffed, LF line endings) in chunks of any size, end
 * after the terminator.  A callback that fails stops the delivery of that
 * message: the rest of its reply is read and discarded so the session stays
 * usable, and the callback's error is returned.  A callback that fails with
 * E_ABORT ends the session at once instead (the connection is closed, no
 * QUIT): that is how a stop request, or a message that must be cut off
 * because it never ends, avoids reading on.
 * refused, when not NULL, is told of a -ERR reply to the command (reply
 * holds the error): returning 0 makes pop3_retr_many go on with the next
 * message, since the session is still in step; an error stops it.
 */
struct pop3_sink {
	int	(*begin)(void *arg, unsigned long num, struct err *e);
	int	(*write)(void *arg, const char *data, size_t len,
		    struct err *e);
	int	(*end)(void *arg, struct err *e);
	int	(*refused)(void *arg, unsigned long num,
		    const struct err *reply, struct err *e);
};

struct pop3;

/* pop3_new: a client over conn, which it then owns.  Starts in GREETING. */
struct pop3 *pop3_new(struct conn *conn, const struct pop3_params *params);

/* pop3_free: close the connection (no QUIT) and free; accepts NULL. */
void	 pop3_free(struct pop3 *p);

enum pop3_state pop3_state(const struct pop3 *p);
const char *pop3_state_name(enum pop3_state st);
struct conn *pop3_conn(struct pop3 *p);

/* pop3_greeting: read the greeting; GREETING -> AUTH.  A -ERR greeting is
 * E_SERVER.  Saves the APOP timestamp if there is one. */
int	 pop3_greeting(struct pop3 *p, struct err *e);
const char *pop3_welcome(const struct pop3 *p);	/* sanitized */
const char *pop3_apop_timestamp(const struct pop3 *p); /* NULL if none */

/* pop3_capa: CAPA (legal in AUTH and TRANSACTION).  A -ERR is not an
 * error: it leaves an empty set and returns 0 (old servers). */
int	 pop3_capa(struct pop3 *p, struct err *e);
const struct pop3_capa *pop3_caps(const struct pop3 *p);

/* pop3_stls: STLS then the TLS handshake (AUTH only).  The capabilities
 * are cleared: RFC 2595 says ask CAPA again.  Errors: as above plus E_TLS;
 * -ERR is E_SERVER. */
int	 pop3_stls(struct pop3 *p, const struct tls_params *tp, struct err *e);

/* pop3_utf8: UTF8 (RFC 6856), only sent when CAPA advertised it; else
 * E_PROTO "server does not support UTF8". */
int	 pop3_utf8(struct pop3 *p, struct err *e);
bool	 pop3_is_utf8(const struct pop3 *p);

/* Login commands; each moves AUTH -> TRANSACTION on success.  A refusal
 * is E_AUTH unless the response code says IN-USE, LOGIN-DELAY or SYS/TEMP
 * (then E_SERVER, temporary).  pop3_user alone stays in AUTH. */
int	 pop3_user(struct pop3 *p, const char *user, struct err *e);
int	 pop3_pass(struct pop3 *p, const char *pass, struct err *e);
int	 pop3_apop(struct pop3 *p, const char *user, const char *secret,
	    struct err *e);
int	 pop3_rpop(struct pop3 *p, const char *user, struct err *e);

/*
 * AUTH (RFC 5034), one step per function; sasl_auth (sasl.h) runs the
 * exchange.  mech is the mechanism's name as sent.  Every response may
 * carry the secret, so each is traced as "****".
 *
 * pop3_auth_begin: send "AUTH mech", with initial (len bytes; NULL: the
 * mechanism has none) base64-encoded on the same line if the line stays
 * within 255 octets ("=" when it is empty).  Returns 1 when the initial
 * response was sent, 0 when it was not (the caller sends it with
 * pop3_auth_send after the server's "+ ").
 * Errors: E_PROTO (not in the AUTHORIZATION state), E_IO, E_TIMEOUT.
 */
int	 pop3_auth_begin(struct pop3 *p, const char *mech,
	    const unsigned char *initial, size_t len, struct err *e);

/*
 * pop3_auth_next: read the server's next reply.  Returns 0 after +OK (the
 * session is in the TRANSACTION state), or 1 with its challenge decoded
 * from base64 in *chal (*challen bytes, NUL-terminated; free it with
 * freezero(*chal, *challen + 1)).  A challenge that is not base64 is
 * cancelled with "*".
 * Errors: E_AUTH (-ERR, or a malformed challenge), E_SERVER (-ERR with a
 * temporary response code: IN-USE, LOGIN-DELAY, SYS/TEMP), E_PROTO, E_IO,
 * E_TIMEOUT.
 */
int	 pop3_auth_next(struct pop3 *p, const char *mech, unsigned char **chal,
	    size_t *challen, struct err *e);

/*
 * pop3_auth_send: send one response, base64-encoded (an empty one as an
 * empty line).
 * Errors: E_IO, E_TIMEOUT.
 */
int	 pop3_auth_send(struct pop3 *p, const char *mech,
	    const unsigned char *resp, size_t len, struct err *e);

/*
 * pop3_auth_cancel: cancel the exchange with "*" and read the -ERR that
 * follows.  Returns rc (why the caller cancels; its message already in e)
 * when that went well.
 * Errors: rc, or E_IO, E_TIMEOUT, E_PROTO from the cancel itself.
 */
int	 pop3_auth_cancel(struct pop3 *p, const char *mech, int rc,
	    struct err *e);

/*
 * pop3_secret_hide: from now until pop3_secret_unhide (or pop3_free), cut
 * secret and its base64 form out of every server reply before it is
 * traced or put into an error: a server may quote what the client sent
 * (an XOAUTH2 token in its -ERR), and from there it would reach the log,
 * the journal, the state database and --status.  The responses
 * pop3_auth_begin and pop3_auth_send put on the wire are hidden the same
 * way.  pop3_secret_redact applies the same cut to text the caller holds
 * (a decoded challenge).
 */
void	 pop3_secret_hide(struct pop3 *p, const char *secret);
void	 pop3_secret_unhide(struct pop3 *p);
void	 pop3_secret_redact(const struct pop3 *p, char *text);

/* Transaction commands. */
int	 pop3_stat(struct pop3 *p, unsigned long *count,
	    unsigned long long *octets, struct err *e);
/*
 * pop3_list / pop3_uidl: fill a listing.  pop3_uidl after pop3_list merges
 * into LIST's entries by number (UIDL lines for other numbers only count
 * in uidl_only); on an empty listing it makes one entry per line.  Work is
 * linear in the listing's length (n log n when a server lists out of
 * order).  A malformed line, a number LIST shows twice or more than
 * POP3_MAX_MESSAGES lines is E_PROTO after the whole reply was read; a
 * unique-id that is unusable or given twice only marks its message
 * POP3_MSG_BADUIDL.
 */
int	 pop3_list(struct pop3 *p, struct pop3_listing *l, struct err *e);
int	 pop3_list_one(struct pop3 *p, unsigned long num,
	    unsigned long long *size, struct err *e);
int	 pop3_uidl(struct pop3 *p, struct pop3_listing *l, struct err *e);
int	 pop3_uidl_one(struct pop3 *p, unsigned long num,
	    char uid[POP3_UIDL_MAX + 1], struct err *e);
void	 pop3_listing_free(struct pop3_listing *l);

int	 pop3_retr(struct pop3 *p, unsigned long num,
	    const struct pop3_sink *sink, void *arg, struct err *e);
int	 pop3_top(struct pop3 *p, unsigned long num, unsigned long lines,
	    const struct pop3_sink *sink, void *arg, struct err *e);

/*
 * pop3_retr_many: RETR each of nums[0..n) in order, into sink.  With
 * PIPELINING advertised the commands go out several in one write (one TLS
 * record), as long as the replies in flight stay within POP3_PIPE_BYTES
 * (sizes[i], the LIST size of nums[i], estimates each; sizes may be NULL)
 * and the command lines in flight within POP3_PIPE_CMD_BYTES; without
 * PIPELINING, one at a time.
 *
 * nums[n..n+ahead) (with their sizes) are what the caller fetches next:
 * their RETRs may go out now, so the link never idles between two calls
 * while the caller makes a batch durable.  The next pop3_retr_many must
 * start with them; any other command first reads and discards their
 * replies.
 *
 * Stops at the first failure: replies still in flight are read and
 * discarded, and *done says how many messages were fully delivered
 * through sink.  A stop request (the connection's stop or abort flag) is
 * heard between messages: the message being written is finished, no
 * further RETR is sent, and if replies are still in flight (sent ahead
 * too) the link is closed (CLOSED: no QUIT, so no deletion) rather than
 * read; E_ABORT.
 */
#define POP3_PIPE_BYTES		(256 * 1024)
#define POP3_PIPE_CMD_BYTES	512
int	 pop3_retr_many(struct pop3 *p, const unsigned long *nums,
	    const unsigned long long *sizes, size_t n, size_t ahead,
	    const struct pop3_sink *sink, void *arg, size_t *done,
	    struct err *e);

int	 pop3_dele(struct pop3 *p, unsigned long num, struct err *e);
/* pop3_dele_many: as pop3_retr_many for DELE; *done counts +OK replies. */
int	 pop3_dele_many(struct pop3 *p, const unsigned long *nums, size_t n,
	    size_t *done, struct err *e);
int	 pop3_rset(struct pop3 *p, struct err *e);
int	 pop3_noop(struct pop3 *p, struct err *e);

/* pop3_quit: QUIT; in TRANSACTION this enters UPDATE and the server
 * commits deletions, so only +OK means they happened.  Ends CLOSED. */
int	 pop3_quit(struct pop3 *p, struct err *e);

#endif
