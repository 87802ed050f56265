/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for session.c: the choice of login method. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "err.h"
#include "pop3_parse.h"
#include "session.h"

/* One row: the account's auth and allow_plaintext_auth, what the server
 * offers (CAPA lines separated by '|', "" for a server without CAPA),
 * whether it sent an APOP timestamp, whether the link is TLS; then the
 * method expected, or NULL and the error code. */
struct choose_case {
	enum account_auth	 auth;
	bool			 allow_plain;
	const char		*capa;
	bool			 has_apop;
	bool			 tls;
	const char		*want;
	int			 want_code;
};

#define DOVECOT	"CAPA|TOP|UIDL|RESP-CODES|PIPELINING|USER|SASL PLAIN LOGIN CRAM-MD5"

static const struct choose_case choose_cases[] = {
	/* auto over TLS: plaintext methods first, the password only goes
	 * to a verified server. */
	{ ACCOUNT_AUTH_AUTO, false, DOVECOT, true, true, "PLAIN", 0 },
	{ ACCOUNT_AUTH_AUTO, false, "USER|SASL LOGIN CRAM-MD5", true, true,
	    "LOGIN", 0 },
	{ ACCOUNT_AUTH_AUTO, false, "USER|SASL CRAM-MD5", true, true,
	    "USER", 0 },
	{ ACCOUNT_AUTH_AUTO, false, "SASL CRAM-MD5", true, true,
	    "CRAM-MD5", 0 },
	{ ACCOUNT_AUTH_AUTO, false, "TOP", true, true, "APOP", 0 },
	{ ACCOUNT_AUTH_AUTO, false, "TOP", false, true, NULL, E_AUTH },
	/* auto over a cleartext link: challenge-response first. */
	{ ACCOUNT_AUTH_AUTO, false, DOVECOT, true, false, "CRAM-MD5", 0 },
	{ ACCOUNT_AUTH_AUTO, false, "USER|SASL PLAIN", true, false,
	    "APOP", 0 },
	{ ACCOUNT_AUTH_AUTO, false, "USER|SASL PLAIN", false, false,
	    NULL, E_INSECURE },
	{ ACCOUNT_AUTH_AUTO, true, "USER|SASL PLAIN", false, false,
	    "PLAIN", 0 },
	{ ACCOUNT_AUTH_AUTO, true, "USER", false, false, "USER", 0 },
	/* A server without CAPA: USER is assumed, SASL is not. */
	{ ACCOUNT_AUTH_AUTO, false, "", false, true, "USER", 0 },
	{ ACCOUNT_AUTH_AUTO, false, "", true, false, "APOP", 0 },
	{ ACCOUNT_AUTH_AUTO, false, "", false, false, NULL, E_INSECURE },
	/* XOAUTH2 and OAUTHBEARER only when asked for. */
	{ ACCOUNT_AUTH_AUTO, false, "SASL XOAUTH2 OAUTHBEARER", false, true,
	    NULL, E_AUTH },
	{ ACCOUNT_AUTH_XOAUTH2, false, "SASL XOAUTH2 OAUTHBEARER", false,
	    true, "XOAUTH2", 0 },
	{ ACCOUNT_AUTH_OAUTHBEARER, false, "SASL XOAUTH2 OAUTHBEARER", false,
	    true, "OAUTHBEARER", 0 },
	{ ACCOUNT_AUTH_XOAUTH2, false, "SASL XOAUTH2", false, false,
	    NULL, E_INSECURE },
	/* Explicit methods. */
	{ ACCOUNT_AUTH_USER, false, DOVECOT, false, true, "USER", 0 },
	{ ACCOUNT_AUTH_USER, false, DOVECOT, false, false, NULL, E_INSECURE },
	{ ACCOUNT_AUTH_USER, true, DOVECOT, false, false, "USER", 0 },
	{ ACCOUNT_AUTH_PLAIN, false, DOVECOT, false, false, NULL, E_INSECURE },
	{ ACCOUNT_AUTH_LOGIN, false, DOVECOT, false, true, "LOGIN", 0 },
	{ ACCOUNT_AUTH_CRAM_MD5, false, DOVECOT, false, false, "CRAM-MD5", 0 },
	{ ACCOUNT_AUTH_CRAM_MD5, false, "USER|SASL PLAIN", false, true,
	    NULL, E_AUTH },
	{ ACCOUNT_AUTH_APOP, false, DOVECOT, true, false, "APOP", 0 },
	{ ACCOUNT_AUTH_APOP, false, DOVECOT, false, true, NULL, E_AUTH },
	{ ACCOUNT_AUTH_APOP, false, "", false, true, NULL, E_AUTH },
	/* No CAPA: an explicit SASL method is tried; the server decides. */
	{ ACCOUNT_AUTH_PLAIN, false, "", false, true, "PLAIN", 0 },
};

/* With an oauth2 group: the rows as above, plus whether the account also
 * has a password. */
struct oauth2_case {
	enum account_auth	 auth;
	bool			 password;
	const char		*capa;
	bool			 tls;
	const char		*want;
	int			 want_code;
};

#define OAUTH_BOTH	"USER|SASL PLAIN XOAUTH2 OAUTHBEARER"

static const struct oauth2_case oauth2_cases[] = {
	/* auto: OAUTHBEARER, then XOAUTH2, before any password method. */
	{ ACCOUNT_AUTH_AUTO, false, OAUTH_BOTH, true, "OAUTHBEARER", 0 },
	{ ACCOUNT_AUTH_AUTO, true, OAUTH_BOTH, true, "OAUTHBEARER", 0 },
	{ ACCOUNT_AUTH_AUTO, false, "USER|SASL PLAIN XOAUTH2", true,
	    "XOAUTH2", 0 },
	/* Neither offered: only a password can stand in. */
	{ ACCOUNT_AUTH_AUTO, false, "USER|SASL PLAIN", true, NULL, E_AUTH },
	{ ACCOUNT_AUTH_AUTO, true, "USER|SASL PLAIN", true, "PLAIN", 0 },
	/* A token is a password to the link: never in clear. */
	{ ACCOUNT_AUTH_AUTO, false, OAUTH_BOTH, false, NULL, E_INSECURE },
	{ ACCOUNT_AUTH_OAUTHBEARER, false, OAUTH_BOTH, false, NULL,
	    E_INSECURE },
	{ ACCOUNT_AUTH_XOAUTH2, false, OAUTH_BOTH, true, "XOAUTH2", 0 },
	{ ACCOUNT_AUTH_XOAUTH2, false, "USER|SASL PLAIN", true, NULL,
	    E_AUTH },
};

/* Fill caps from '|'-separated CAPA lines. */
static void
caps_from(struct pop3_capa *caps, const char *spec)
{
	char	buf[256], *line, *save = NULL;

	pop3_capa_init(caps);
	snprintf(buf, sizeof(buf), "%s", spec);
	for (line = strtok_r(buf, "|", &save); line != NULL;
	    line = strtok_r(NULL, "|", &save))
		assert_int_equal(pop3_capa_add(caps, line), 0);
}

/* Row i chose got (or failed with e): the method wanted, or the error
 * code wanted with a message. */
static void
check_choice(size_t i, const char *got, const struct err *e,
    const char *want, int want_code)
{
	if (want != NULL) {
		if (got == NULL)
			fail_msg("row %zu: want %s, got error %s: %s", i, want,
			    err_name(e->code), e->msg);
		assert_string_equal(got, want);
	} else {
		if (got != NULL)
			fail_msg("row %zu: want %s, got %s", i,
			    err_name(want_code), got);
		assert_int_equal(e->code, want_code);
		assert_true(e->msg[0] != '\0');
	}
}

static void
test_choose_auth(void **state)
{
	const struct choose_case	*c;
	struct account			*a;
	struct pop3_capa		 caps;
	struct err			 e;
	const char			*got;
	size_t				 i;

	(void)state;
	for (i = 0; i < sizeof(choose_cases) / sizeof(choose_cases[0]); i++) {
		c = &choose_cases[i];
		a = account_new();
		a->auth = c->auth;
		a->allow_plaintext_auth = c->allow_plain;
		caps_from(&caps, c->capa);
		err_clear(&e);
		got = session_choose_auth(a, &caps, c->has_apop, c->tls, &e);
		check_choice(i, got, &e, c->want, c->want_code);
		account_free(a);
	}
}

/* session_choose_auth for accounts with an oauth2 group. */
static void
test_choose_auth_oauth2(void **state)
{
	const struct oauth2_case	*c;
	struct account			*a;
	struct pop3_capa		 caps;
	struct err			 e;
	const char			*got;
	size_t				 i;

	(void)state;
	for (i = 0; i < sizeof(oauth2_cases) / sizeof(oauth2_cases[0]); i++) {
		c = &oauth2_cases[i];
		a = account_new();
		a->auth = c->auth;
		a->oauth2 = calloc(1, sizeof(*a->oauth2));
		assert_non_null(a->oauth2);
		if (c->password)
			a->password = strdup("pw");
		caps_from(&caps, c->capa);
		err_clear(&e);
		got = session_choose_auth(a, &caps, false, c->tls, &e);
		check_choice(i, got, &e, c->want, c->want_code);
		account_free(a);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose_auth),
		cmocka_unit_test(test_choose_auth_oauth2),
	};

	return cmocka_run_group_tests_name("session_choose_auth", tests,
	    NULL, NULL);
}
