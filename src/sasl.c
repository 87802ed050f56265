/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/*
 * SASL client mechanisms (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER) and
 * the exchange that runs them over POP3 AUTH.
 */

#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "err.h"
#include "pop3.h"
#include "sasl.h"
#include "xmalloc.h"

/* How much of an OAuth error challenge goes into the error message. */
#define SASL_DETAILS_MAX	256

static int	 sasl_check_creds(const struct sasl_ctx *, const char *,
		    bool, struct err *);
static void	 sasl_take(char *, unsigned char **, size_t *);
static char	*sasl_oauth_escape(const char *);
static int	 sasl_plain_step(struct sasl_ctx *, const unsigned char *,
		    size_t, unsigned char **, size_t *, struct err *);
static int	 sasl_login_step(struct sasl_ctx *, const unsigned char *,
		    size_t, unsigned char **, size_t *, struct err *);
static int	 sasl_cram_md5_step(struct sasl_ctx *, const unsigned char *,
		    size_t, unsigned char **, size_t *, struct err *);
static int	 sasl_xoauth2_step(struct sasl_ctx *, const unsigned char *,
		    size_t, unsigned char **, size_t *, struct err *);
static int	 sasl_oauthbearer_step(struct sasl_ctx *,
		    const unsigned char *, size_t, unsigned char **, size_t *,
		    struct err *);

static const struct sasl_mech sasl_mechs[] = {
	{ "PLAIN", true, true, sasl_plain_step },
	{ "LOGIN", false, true, sasl_login_step },
	{ "CRAM-MD5", false, false, sasl_cram_md5_step },
	{ "XOAUTH2", true, true, sasl_xoauth2_step },
	{ "OAUTHBEARER", true, true, sasl_oauthbearer_step },
};

/* The mechanism called name, ignoring case. */
const struct sasl_mech *
sasl_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(sasl_mechs) / sizeof(sasl_mechs[0]); i++)
		if (strcasecmp(sasl_mechs[i].name, name) == 0)
			return &sasl_mechs[i];
	return NULL;
}

/*
 * The exchange: the initial response (on the AUTH line when it fits, else
 * after the server's "+ "), then one response per challenge until +OK or
 * -ERR.  After a client-first mechanism's response a challenge is the
 * server's error report (RFC 7628 3.2.2, XOAUTH2): it is kept for the
 * error message.
 */
int
sasl_auth(struct pop3 *p, const char *mechname, const char *user,
    const char *secret, struct err *e)
{
	const struct sasl_mech	*mech;
	struct sasl_ctx		 ctx;
	unsigned char		*resp = NULL, *chal = NULL;
	size_t			 resplen = 0, challen = 0, n;
	char			 details[SASL_DETAILS_MAX] = "";
	bool			 pending, initial_sent;
	int			 rc;

	if ((mech = sasl_find(mechname)) == NULL)
		return err_set(e, E_AUTH, "AUTH %s: unknown SASL mechanism",
		    mechname);
	memset(&ctx, 0, sizeof(ctx));
	ctx.user = user;
	ctx.secret = secret;
	pop3_secret_hide(p, secret);
	if (mech->client_first &&
	    (rc = mech->step(&ctx, NULL, 0, &resp, &resplen, e)) < 0)
		goto out;
	if ((rc = pop3_auth_begin(p, mech->name, mech->client_first ? resp :
	    NULL, resplen, e)) < 0)
		goto out;
	initial_sent = rc == 1;
	pending = mech->client_first && !initial_sent;

	for (;;) {
		freezero(chal, challen + 1);
		if ((rc = pop3_auth_next(p, mech->name, &chal, &challen,
		    e)) <= 0) {
			/* An OAuth error challenge says why; keep it. */
			if ((rc == E_AUTH || rc == E_SERVER) &&
			    details[0] != '\0' && e != NULL)
				snprintf(e->msg + strlen(e->msg),
				    sizeof(e->msg) - strlen(e->msg), " (%s)",
				    details);
			goto out;
		}
		if (pending) {
			/* The server asked for the initial response; "=" is
			 * only for the AUTH line, here empty is empty. */
			pending = false;
			initial_sent = true;
			if ((rc = pop3_auth_send(p, mech->name, resp, resplen,
			    e)) < 0)
				goto out;
			continue;
		}
		if (initial_sent && mech->client_first) {
			n = challen < sizeof(details) ? challen :
			    sizeof(details) - 1;
			memcpy(details, chal, n);
			details[n] = '\0';
			pop3_secret_redact(p, details);
			err_sanitize(details, sizeof(details), details);
		}
		freezero(resp, resplen + 1);
		resp = NULL;
		if ((rc = mech->step(&ctx, chal, challen, &resp, &resplen,
		    e)) < 0) {
			err_prefix(e, "AUTH %s", mech->name);
			rc = pop3_auth_cancel(p, mech->name, rc, e);
			goto out;
		}
		if ((rc = pop3_auth_send(p, mech->name, resp, resplen, e)) < 0)
			goto out;
	}

out:
	pop3_secret_unhide(p);
	freezero(resp, resplen + 1);
	freezero(chal, challen + 1);
	return rc;
}

/* The RFC 1939 APOP digest: MD5 of the timestamp followed by the secret. */
void
sasl_apop_digest(const char *timestamp, const char *secret, char out[33])
{
	char	*s;

	s = xasprintf("%s%s", timestamp, secret);
	crypto_md5_hex(s, strlen(s), out);
	freezero(s, 0);
}

/*
 * Refuse a missing user or secret and, for the OAuth mechanisms (ctrl_a),
 * a ^A in any field: it ends the field early and lets the rest pose as
 * another key-value pair.
 */
static int
sasl_check_creds(const struct sasl_ctx *ctx, const char *mech, bool ctrl_a,
    struct err *e)
{
	if (ctx->user == NULL || ctx->secret == NULL)
		return err_set(e, E_AUTH, "%s: no user or secret", mech);
	if (ctrl_a && (strchr(ctx->user, '\x01') != NULL ||
	    strchr(ctx->secret, '\x01') != NULL ||
	    (ctx->host != NULL && strchr(ctx->host, '\x01') != NULL)))
		return err_set(e, E_AUTH, "%s: credentials contain ^A", mech);
	return 0;
}

/* Hand a NUL-terminated response over to the caller as *out, *outlen. */
static void
sasl_take(char *s, unsigned char **out, size_t *outlen)
{
	*out = (unsigned char *)s;
	*outlen = strlen(s);
}

/* PLAIN (RFC 4616): "\0user\0pass", no authzid, sent first. */
static int
sasl_plain_step(struct sasl_ctx *ctx, const unsigned char *chal,
    size_t chlen, unsigned char **out, size_t *outlen, struct err *e)
{
	size_t		 ulen, plen;
	unsigned char	*p;
	int		 rc;

	/* The server may ask for the response with an empty "+ ". */
	if (ctx->step != 0 || chlen != 0)
		return err_set(e, E_AUTH, "PLAIN: unexpected challenge");
	if ((rc = sasl_check_creds(ctx, "PLAIN", false, e)) != 0)
		return rc;
	ulen = strlen(ctx->user);
	plen = strlen(ctx->secret);
	/* One more than needed keeps the buffer NUL-terminated. */
	p = xmalloc(ulen + plen + 3);
	p[0] = '\0';
	memcpy(p + 1, ctx->user, ulen);
	p[1 + ulen] = '\0';
	memcpy(p + 2 + ulen, ctx->secret, plen + 1);
	*out = p;
	*outlen = ulen + plen + 2;
	ctx->step++;
	return 0;
}

/*
 * LOGIN: the user, then the password.  Servers word the two prompts in many
 * ways ("Username:", "User Name"), so the step count decides, not the text.
 */
static int
sasl_login_step(struct sasl_ctx *ctx, const unsigned char *chal,
    size_t chlen, unsigned char **out, size_t *outlen, struct err *e)
{
	int	rc;

	if (chal == NULL)
		return err_set(e, E_AUTH, "LOGIN: has no initial response");
	if ((rc = sasl_check_creds(ctx, "LOGIN", false, e)) != 0)
		return rc;
	switch (ctx->step) {
	case 0:
		sasl_take(xstrdup(ctx->user), out, outlen);
		break;
	case 1:
		sasl_take(xstrdup(ctx->secret), out, outlen);
		break;
	default:
		return err_set(e, E_AUTH, "LOGIN: unexpected third challenge");
	}
	ctx->step++;
	return 0;
}

/* CRAM-MD5 (RFC 2195): "user " and HMAC-MD5(secret, challenge) in hex. */
static int
sasl_cram_md5_step(struct sasl_ctx *ctx, const unsigned char *chal,
    size_t chlen, unsigned char **out, size_t *outlen, struct err *e)
{
	char	 hex[33];
	int	 rc;

	if (ctx->step != 0)
		return err_set(e, E_AUTH,
		    "CRAM-MD5: unexpected second challenge");
	/* Without the server's nonce the digest would be replayable. */
	if (chal == NULL || chlen == 0)
		return err_set(e, E_AUTH, "CRAM-MD5: empty challenge");
	if ((rc = sasl_check_creds(ctx, "CRAM-MD5", false, e)) != 0)
		return rc;
	crypto_hmac_md5_hex(ctx->secret, strlen(ctx->secret), chal, chlen,
	    hex);
	sasl_take(xasprintf("%s %s", ctx->user, hex), out, outlen);
	ctx->step++;
	return 0;
}

/*
 * XOAUTH2 (Google, Microsoft): the user and bearer token, sent first.  A
 * failure comes back as a challenge holding JSON error details, which the
 * client must answer with an empty response to get the final -ERR.
 */
static int
sasl_xoauth2_step(struct sasl_ctx *ctx, const unsigned char *chal,
    size_t chlen, unsigned char **out, size_t *outlen, struct err *e)
{
	int	rc;

	switch (ctx->step) {
	case 0:
		if (chlen != 0)
			return err_set(e, E_AUTH,
			    "XOAUTH2: unexpected challenge");
		if ((rc = sasl_check_creds(ctx, "XOAUTH2", true, e)) != 0)
			return rc;
		sasl_take(xasprintf("user=%s\001auth=Bearer %s\001\001",
		    ctx->user, ctx->secret), out, outlen);
		break;
	case 1:
		sasl_take(xstrdup(""), out, outlen);
		break;
	default:
		return err_set(e, E_AUTH, "XOAUTH2: unexpected challenge");
	}
	ctx->step++;
	return 0;
}

/* The RFC 5801 saslname form of s: ',' as "=2C", '=' as "=3D". */
static char *
sasl_oauth_escape(const char *s)
{
	char	*out, *o;

	/* Each byte grows to at most three. */
	out = o = xreallocarray(NULL, strlen(s) + 1, 3);
	for (; *s != '\0'; s++) {
		if (*s == ',') {
			memcpy(o, "=2C", 3);
			o += 3;
		} else if (*s == '=') {
			memcpy(o, "=3D", 3);
			o += 3;
		} else
			*o++ = *s;
	}
	*o = '\0';
	return out;
}

/*
 * OAUTHBEARER (RFC 7628): a GS2 header naming the user, then host, port and
 * bearer token, sent first.  The authzid, host and port are optional in the
 * RFC and are left out when empty.  A failure comes back as a JSON
 * challenge, answered with a lone ^A (RFC 7628 3.2.3) to get the final -ERR.
 */
static int
sasl_oauthbearer_step(struct sasl_ctx *ctx, const unsigned char *chal,
    size_t chlen, unsigned char **out, size_t *outlen, struct err *e)
{
	char	*user = NULL, *authz = NULL, *host = NULL, *port = NULL;
	int	 rc;

	switch (ctx->step) {
	case 0:
		if (chlen != 0)
			return err_set(e, E_AUTH,
			    "OAUTHBEARER: unexpected challenge");
		if ((rc = sasl_check_creds(ctx, "OAUTHBEARER", true, e)) != 0)
			return rc;
		user = sasl_oauth_escape(ctx->user);
		/* RFC 5801 has no empty saslname: omit "a=" instead. */
		authz = user[0] != '\0' ? xasprintf("a=%s", user) : xstrdup("");
		host = ctx->host != NULL && ctx->host[0] != '\0' ?
		    xasprintf("host=%s\001", ctx->host) : xstrdup("");
		port = ctx->port > 0 ?
		    xasprintf("port=%d\001", ctx->port) : xstrdup("");
		sasl_take(xasprintf("n,%s,\001%s%sauth=Bearer %s\001\001",
		    authz, host, port, ctx->secret), out, outlen);
		break;
	case 1:
		sasl_take(xstrdup("\001"), out, outlen);
		break;
	default:
		return err_set(e, E_AUTH, "OAUTHBEARER: unexpected challenge");
	}
	ctx->step++;
	free(user);
	free(authz);
	free(host);
	free(port);
	return 0;
}
