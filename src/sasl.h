/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
#ifndef POPSYNC_SASL_H
#define POPSYNC_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/*
 * SASL client mechanisms as a table (STYLE 14): PLAIN (RFC 4616), LOGIN,
 * CRAM-MD5 (RFC 2195), XOAUTH2 (Google/Microsoft) and OAUTHBEARER
 * (RFC 7628).  Mechanisms work on raw bytes; base64 is pop3.c's job
 * (pop3_auth_*), so the known-answer tests read plainly.  sasl_auth runs
 * a mechanism over a POP3 session.
 */

struct pop3;

struct sasl_ctx {
	const char	*user;
	const char	*secret;	/* password or OAuth token */
	const char	*host;		/* OAUTHBEARER's host= */
	int		 port;		/* OAUTHBEARER's port= */
	int		 step;		/* private: steps taken so far */
};

struct sasl_mech {
	const char	*name;
	bool		 client_first;	/* has an initial response */
	bool		 plaintext;	/* reveals the secret to the link */
	/*
	 * step: given the server's decoded challenge (NULL for the initial
	 * response), produce the next response in a new buffer (*out, *outlen;
	 * the caller frees it with freezero(*out, *outlen): PLAIN's response
	 * holds NULs, so a length of 0 would wipe too little).  *out is also
	 * NUL-terminated.  ctx->step must start at 0.  A client-first
	 * mechanism also accepts an empty first challenge (the server's "+ "
	 * when no initial response was sent).  XOAUTH2 and OAUTHBEARER answer
	 * the server's JSON error challenge with the response their specs
	 * require, so the server can send its final -ERR.  Errors: E_AUTH for
	 * a challenge the mechanism cannot answer, a missing user or secret,
	 * or an OAuth field holding ^A.
	 */
	int		(*step)(struct sasl_ctx *ctx, const unsigned char *chal,
			    size_t chlen, unsigned char **out, size_t *outlen,
			    struct err *e);
};

/* sasl_find: the mechanism named name (any case), or NULL. */
const struct sasl_mech *sasl_find(const char *name);

/*
 * sasl_auth: log in to p, in the AUTHORIZATION state, with the SASL
 * mechanism named mech (any case; RFC 5034 AUTH).  The initial response
 * rides on the AUTH line when the mechanism is client-first and the line
 * stays within 255 octets; otherwise AUTH waits for "+ " first.  A
 * challenge the mechanism cannot answer, or one that is not base64, is
 * cancelled with "*".  An OAuth error challenge is added to the -ERR's
 * message in parentheses.
 * Errors: E_AUTH (an unknown mechanism, before anything is sent; a refused
 * login; a challenge that cannot be answered), E_SERVER (a refusal with a
 * temporary response code), E_PROTO, E_IO, E_TIMEOUT.
 */
int	 sasl_auth(struct pop3 *p, const char *mech, const char *user,
	    const char *secret, struct err *e);

/*
 * sasl_apop_digest: the RFC 1939 APOP digest, MD5(timestamp secret) in 32
 * lower-case hex digits.
 */
void	 sasl_apop_digest(const char *timestamp, const char *secret,
	    char out[33]);

#endif
