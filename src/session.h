/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_SESSION_H
#define POPSYNC_SESSION_H

#include <signal.h>
#include <stdatomic.h>

#include <stdbool.h>

#include "account.h"
#include "err.h"
#include "pop3.h"
#include "pop3_parse.h"

/*
 * Everything between an account and a logged-in POP3 client, in two steps so
 * that --probe can report what it sees before it logs in.
 *
 * Every error message starts with the account name, then names the command
 * and carries the server's reply ("work: PASS: -ERR [AUTH] Authentication
 * failed").
 */

/*
 * What the caller of a session may hook into its connection (h may be
 * NULL): idle runs between the one-second slices of every wait (and
 * password_command's), so a daemon can tell a slow server from a hung
 * thread; once *abort_flag is set, every wait ends with E_ABORT within a
 * second; once *stop_flag is set, too, except that a message being
 * received is finished first (conn_hold).
 */
struct session_hooks {
	void			(*idle)(void *arg);
	void			 *idle_arg;
	const atomic_int *abort_flag;
	const atomic_int *stop_flag;
};

/*
 * session_connect: connect, implicit TLS or STLS, greeting, CAPA (asked
 * again after STLS).  With tls = "starttls" a server that does not offer
 * STLS, or refuses it, ends the session before any credential is sent.
 * On success *out is a client in the AUTH phase; the caller frees it.
 * Errors: E_IO, E_TIMEOUT, E_TLS, E_PROTO, E_SERVER, E_INSECURE (no STLS).
 */
int	 session_connect(const struct account *a,
	    const struct session_hooks *h, struct pop3 **out, struct err *e);

/*
 * session_login: choose the login method (session_choose_auth), send UTF8
 * whenever the server offers it (a refusal only matters for a user name
 * that is not ASCII), fetch the secret (account_secret), log in, and ask
 * CAPA again when the server answered it before (RFC 2449: capabilities
 * may change after login); *method (if not NULL) gets the method's name.
 * p ends in TRANSACTION.
 * Errors: E_AUTH, E_INSECURE, E_CONFIG (secret source failed), those of
 * oauth2_token() for an OAuth login with an oauth2 group, and those of
 * the POP3 commands.
 */
int	 session_login(const struct account *a, struct pop3 *p,
	    const char **method, struct err *e);

/* session_open: session_connect then session_login; *out freed on error. */
int	 session_open(const struct account *a, const struct session_hooks *h,
	    struct pop3 **out, const char **method, struct err *e);

/*
 * session_choose_auth: the login method to use, from the account's auth
 * setting and what the server offers (caps; has_apop: the greeting carried
 * an APOP timestamp; encrypted: the link is TLS).  Returns "USER", "APOP",
 * "PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2" or "OAUTHBEARER", or NULL with
 * the reason in e.
 *
 * auto picks, among what the server offers: on an encrypted link PLAIN,
 * LOGIN, USER, then CRAM-MD5, APOP (the password reaches only the verified
 * server, and the challenge-response methods need the server to keep a
 * plaintext-equivalent secret); on a cleartext link CRAM-MD5, then APOP,
 * then the plaintext ones only with allow_plaintext_auth.  An explicit
 * method that would send the secret in clear over a cleartext link is
 * refused unless allow_plaintext_auth is set.  A server that answered no
 * CAPA is assumed to know USER and APOP (if it sent a timestamp) only.
 *
 * An account with an oauth2 group: auto tries OAUTHBEARER, then XOAUTH2
 * (encrypted links only, unless allow_plaintext_auth), then the password
 * methods if the account also has a password.  session_login gets their
 * token from oauth2_token() and, when the server refuses a stored token,
 * refreshes it and tries once more.
 *
 * Errors: E_INSECURE (only plaintext methods on a cleartext link), E_AUTH
 * (the server offers nothing that fits).
 */
const char *session_choose_auth(const struct account *a,
	    const struct pop3_capa *caps, bool has_apop, bool encrypted,
	    struct err *e);

#endif
