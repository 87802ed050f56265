/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* From an account to a logged-in POP3 client: connect, TLS, login. */

#include "autoconf.h"

#include <stdbool.h>
#include <string.h>

#include "account.h"
#include "conn.h"
#include "err.h"
#include "log.h"
#include "pop3.h"
#include "sasl.h"
#include "pop3_parse.h"
#include "session.h"
#include "xmalloc.h"

/* How each login method is spelled, whether the server must list it among
 * its SASL mechanisms, and whether it shows the secret to the link. */
struct session_method {
	enum account_auth	 auth;
	const char		*name;
	bool			 sasl;
	bool			 plaintext;
};

static const struct session_method *session_method(enum account_auth);
static bool	session_offers(const struct pop3_capa *, bool,
		    const struct session_method *);
static bool	session_is_ascii(const char *);
static void	session_tls_params(const struct account *,
		    struct tls_params *);

static const struct session_method session_methods[] = {
	{ ACCOUNT_AUTH_USER, "USER", false, true },
	{ ACCOUNT_AUTH_APOP, "APOP", false, false },
	{ ACCOUNT_AUTH_PLAIN, "PLAIN", true, true },
	{ ACCOUNT_AUTH_LOGIN, "LOGIN", true, true },
	{ ACCOUNT_AUTH_CRAM_MD5, "CRAM-MD5", true, false },
	{ ACCOUNT_AUTH_XOAUTH2, "XOAUTH2", true, true },
	{ ACCOUNT_AUTH_OAUTHBEARER, "OAUTHBEARER", true, true },
};

/* The orders auto tries, see session_choose_auth() in session.h. */
static const enum account_auth session_auto_tls[] = {
	ACCOUNT_AUTH_PLAIN, ACCOUNT_AUTH_LOGIN, ACCOUNT_AUTH_USER,
	ACCOUNT_AUTH_CRAM_MD5, ACCOUNT_AUTH_APOP
};
static const enum account_auth session_auto_clear[] = {
	ACCOUNT_AUTH_CRAM_MD5, ACCOUNT_AUTH_APOP,
	ACCOUNT_AUTH_PLAIN, ACCOUNT_AUTH_LOGIN, ACCOUNT_AUTH_USER
};

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* The table row of a login method. */
static const struct session_method *
session_method(enum account_auth auth)
{
	size_t	i;

	for (i = 0; i < nitems(session_methods); i++)
		if (session_methods[i].auth == auth)
			return &session_methods[i];
	fatalx("%s: bad auth %d", __func__, (int)auth);
}

/*
 * Whether the server offers a method.  A server that answered no CAPA lists
 * nothing, so USER is assumed and SASL is not.
 */
static bool
session_offers(const struct pop3_capa *caps, bool has_apop,
    const struct session_method *m)
{
	bool	no_capa = caps->nlines == 0;

	if (m->auth == ACCOUNT_AUTH_APOP)
		return has_apop;
	if (m->auth == ACCOUNT_AUTH_USER)
		return no_capa || (caps->flags & POP3_CAPA_USER) != 0;
	return pop3_capa_has_sasl(caps, m->name);
}

const char *
session_choose_auth(const struct account *a, const struct pop3_capa *caps,
    bool has_apop, bool encrypted, struct err *e)
{
	const struct session_method	*m;
	const enum account_auth		*order;
	size_t				 i, n;
	bool				 refused_plain = false;

	if (a->auth != ACCOUNT_AUTH_AUTO) {
		m = session_method(a->auth);
		if (m->plaintext && !encrypted && !a->allow_plaintext_auth) {
			err_set(e, E_INSECURE, "auth %s would send the "
			    "password in clear over an unencrypted link; use "
			    "tls = \"implicit\" or \"starttls\", or set "
			    "allow_plaintext_auth = true", m->name);
			return NULL;
		}
		/* Without a CAPA answer we cannot know: let the server say. */
		if (caps->nlines > 0 && !session_offers(caps, has_apop, m)) {
			err_set(e, E_AUTH, "the server does not offer %s%s",
			    m->sasl ? "AUTH " : "", m->name);
			return NULL;
		}
		if (m->auth == ACCOUNT_AUTH_APOP && !has_apop) {
			err_set(e, E_AUTH, "the server does not offer APOP "
			    "(no timestamp in its greeting)");
			return NULL;
		}
		return m->name;
	}

	order = encrypted ? session_auto_tls : session_auto_clear;
	n = encrypted ? nitems(session_auto_tls) : nitems(session_auto_clear);
	for (i = 0; i < n; i++) {
		m = session_method(order[i]);
		if (!session_offers(caps, has_apop, m))
			continue;
		if (m->plaintext && !encrypted && !a->allow_plaintext_auth) {
			refused_plain = true;
			continue;
		}
		return m->name;
	}
	if (refused_plain)
		err_set(e, E_INSECURE, "the server offers only login methods "
		    "that send the password in clear, and the link is not "
		    "encrypted; use tls = \"implicit\" or \"starttls\", or set "
		    "allow_plaintext_auth = true");
	else
		err_set(e, E_AUTH, "the server offers no login method "
		    "popsyncd supports");
	return NULL;
}

/* Whether s is plain 7-bit ASCII. */
static bool
session_is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* The TLS settings of an account. */
static void
session_tls_params(const struct account *a, struct tls_params *tp)
{
	memset(tp, 0, sizeof(*tp));
	tp->host = a->host;
	tp->ca_file = a->ca_file;
	tp->verify = a->tls_verify;
	tp->fingerprint = a->tls_fingerprint;
	tp->min_version = a->tls_min_version;
	tp->cache = a->tls_cache;
}

int
session_connect(const struct account *a, const struct session_hooks *h,
    struct pop3 **out, struct err *e)
{
	struct conn_params	 cp;
	struct pop3_params	 pp;
	struct tls_params	 tp;
	struct tls_info		 ti;
	struct conn		*c = NULL;
	struct pop3		*p = NULL;
	int			 rc;

	*out = NULL;
	memset(&cp, 0, sizeof(cp));
	cp.timeout_ms = a->timeout * 1000;
	if (h != NULL) {
		cp.idle = h->idle;
		cp.idle_arg = h->idle_arg;
		cp.abort_flag = h->abort_flag;
		cp.stop_flag = h->stop_flag;
	}
	memset(&pp, 0, sizeof(pp));
	pp.name = a->name;
	session_tls_params(a, &tp);

	if ((rc = conn_connect(a->host, a->port, &cp, &c, e)) < 0)
		goto fail;
	if (a->tls == ACCOUNT_TLS_IMPLICIT &&
	    (rc = conn_starttls(c, &tp, e)) < 0)
		goto fail;
	p = pop3_new(c, &pp);
	c = NULL;
	if ((rc = pop3_greeting(p, e)) < 0 || (rc = pop3_capa(p, e)) < 0)
		goto fail;
	if (a->tls == ACCOUNT_TLS_STARTTLS) {
		/* Fail closed: no credential may cross a link that stayed
		 * in clear because STLS was missing or refused. */
		if ((pop3_caps(p)->flags & POP3_CAPA_STLS) == 0) {
			rc = err_set(e, E_INSECURE, "tls = \"starttls\" but "
			    "the server does not offer STLS; refusing to go "
			    "on without TLS");
			goto fail;
		}
		if ((rc = pop3_stls(p, &tp, e)) < 0) {
			if (rc == E_SERVER)
				rc = e->code = E_INSECURE;
			goto fail;
		}
		if ((rc = pop3_capa(p, e)) < 0)
			goto fail;
	}
	if (log_enabled(LOG_LVL_DEBUG) && conn_tls_info(pop3_conn(p), &ti))
		log_debug("%s: %s, %s, %s", a->name, ti.version, ti.cipher,
		    ti.resumed ? "session resumed" : "full handshake");
	*out = p;
	return 0;

fail:
	conn_free(c);
	pop3_free(p);
	err_prefix(e, "%s", a->name);
	return rc;
}

int
session_login(const struct account *a, struct pop3 *p, const char **method,
    struct err *e)
{
	const char	*m;
	char		*secret = NULL;
	bool		 knew_capa;
	int		 rc;

	m = session_choose_auth(a, pop3_caps(p), pop3_apop_timestamp(p) != NULL,
	    conn_is_tls(pop3_conn(p)), e);
	if (m == NULL) {
		rc = e->code;
		goto out;
	}
	if (method != NULL)
		*method = m;
	log_debug("%s: logging in with %s", a->name, m);

	/*
	 * RFC 6856: UTF8 whenever the server offers it (in AUTHORIZATION),
	 * not only for a UTF-8 user name: Courier replaces a message whose
	 * headers hold raw UTF-8 with a notice when the client did not.
	 */
	if ((pop3_caps(p)->flags & POP3_CAPA_UTF8) != 0) {
		if ((rc = pop3_utf8(p, e)) < 0 &&
		    (rc != E_SERVER || !session_is_ascii(a->user)))
			goto out;
		if (rc < 0)
			log_info("%s: the server offers UTF8 but refused it: "
			    "%s", a->name, e->msg);
	} else if (!session_is_ascii(a->user)) {
		rc = err_set(e, E_AUTH, "the user name is not ASCII and the "
		    "server does not offer UTF8 (RFC 6856)");
		goto out;
	}
	knew_capa = pop3_caps(p)->nlines > 0;

	/* Its message names the account already. */
	if ((rc = account_secret(a, conn_waiter(pop3_conn(p)), &secret,
	    e)) < 0)
		return rc;
	if (strcmp(m, "USER") == 0) {
		if ((rc = pop3_user(p, a->user, e)) == 0)
			rc = pop3_pass(p, secret, e);
	} else if (strcmp(m, "APOP") == 0)
		rc = pop3_apop(p, a->user, secret, e);
	else
		rc = sasl_auth(p, m, a->user, secret, e);
	/* RFC 2449: what a server offers may change after login (behind a
	 * proxy the first list is the proxy's own), so ask again. */
	if (rc == 0 && knew_capa)
		rc = pop3_capa(p, e);

out:
	freezero(secret, 0);
	if (rc < 0)
		err_prefix(e, "%s", a->name);
	return rc;
}

int
session_open(const struct account *a, const struct session_hooks *h,
    struct pop3 **out, const char **method, struct err *e)
{
	int	rc;

	if ((rc = session_connect(a, h, out, e)) < 0)
		return rc;
	if ((rc = session_login(a, *out, method, e)) < 0) {
		pop3_free(*out);
		*out = NULL;
	}
	return rc;
}
