/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_OAUTH2_H
#define POPSYNC_OAUTH2_H

#include <stdbool.h>
#include <stdio.h>

#include "account.h"
#include "err.h"
#include "waiter.h"

/*
 * OAuth2 tokens for XOAUTH2 and OAUTHBEARER logins (issue 12): the device
 * authorization grant (RFC 8628) for the first token, the refresh grant
 * (RFC 6749 section 6) after it.  This is the only module that includes
 * <jansson.h>; HTTPS goes through http.c with the account's ca_file.
 *
 * Tokens live in the account's token_file: JSON, mode 0600, replaced
 * atomically (temp file, fsync, rename, fsync of the directory), refused
 * when group or others may read it.  No token ever reaches a log, a
 * message, a command line or a child's environment.
 */

/* An access token is refreshed this many seconds before it expires. */
#define OAUTH2_EXPIRY_MARGIN	60

/*
 * oauth2_preset: fill what the group left out from its provider: for
 * google and microsoft the endpoints and the scope POP needs (microsoft's
 * under tenant, "common" by default); nothing for custom.
 */
void	 oauth2_preset(struct account_oauth2 *o);

/*
 * oauth2_token: an access token for account a (which has an oauth2 group)
 * in *out, freed by the caller with freezero().  The stored one is reused
 * until OAUTH2_EXPIRY_MARGIN seconds before it expires, unless refresh is
 * set; otherwise the refresh token buys a new one, and a rotated refresh
 * token replaces the stored one.  *fresh (may be NULL) tells whether the
 * token was just issued, so a caller retries a rejected login only with a
 * cached one.  The requests and a client_secret_command wait through w
 * (its idle hook and abort flag; NULL: the account timeout alone).
 * Messages do not name the account.
 * Errors: E_AUTH (no token stored yet, or the endpoint refused the refresh
 * token or the client: permanent, and the message says to run
 * popsyncd --authorize NAME), E_IO, E_TIMEOUT, E_TLS (the endpoint could
 * not be reached, or answered 5xx), E_PROTO (a reply that is not the JSON
 * it should be), E_STORE (the token file could not be read or written),
 * E_CONFIG (the client secret's source failed), E_ABORT (a flag of w).
 */
int	 oauth2_token(const struct account *a, struct waiter *w, bool refresh,
	    char **out, bool *fresh, struct err *e);

/*
 * oauth2_authorize: the device authorization grant for account a.  Prints
 * the verification URI, the user code and, when the server gives one, the
 * complete URI to out and flushes it before polling the token endpoint
 * every interval seconds (five more after each slow_down, waiting on
 * authorization_pending) until the user approves, denies (access_denied)
 * or the code expires (expired_token, or its expires_in passed).  Then
 * stores the tokens and says where.
 * Errors: E_AUTH (denied, expired, refused), E_IO, E_TIMEOUT, E_TLS,
 * E_PROTO, E_STORE, E_CONFIG, as for oauth2_token.
 */
int	 oauth2_authorize(const struct account *a, FILE *out, struct err *e);

#endif
