/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Known-answer tests for sasl.c: the mechanism table, each step, APOP. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "err.h"
#include "sasl.h"
#include "xmalloc.h"

/* A byte string with its length, so responses may hold NULs. */
#define BYTES(s)	(s), sizeof(s) - 1
/* A step answered with these bytes. */
#define REPLY(s)	BYTES(s), E_OK
/* A step refused with this error. */
#define REFUSE(code)	NULL, 0, (code)
/* No challenge: ask for the initial response. */
#define INITIAL		NULL, 0

#define MAXSTEPS	4

static void	 test_sasl_find(void **);
static void	 test_sasl_find_unknown(void **);
static void	 test_sasl_flags(void **);
static void	 test_sasl_apop_digest(void **);
static void	 test_sasl_step(void **);
static void	 test_sasl_wire(void **);

/* sasl_find: any spelling of a known name finds the canonical entry. */
static const struct {
	const char	*query;
	const char	*name;
} find_cases[] = {
	{ "PLAIN", "PLAIN" },
	{ "plain", "PLAIN" },
	{ "Login", "LOGIN" },
	{ "cram-md5", "CRAM-MD5" },
	{ "Cram-Md5", "CRAM-MD5" },
	{ "xoauth2", "XOAUTH2" },
	{ "OAuthBearer", "OAUTHBEARER" },
};

/* Each spelling finds the entry with the canonical name. */
static void
test_sasl_find(void **state)
{
	const struct sasl_mech	*m;
	size_t			 i;

	for (i = 0; i < sizeof(find_cases) / sizeof(find_cases[0]); i++) {
		m = sasl_find(find_cases[i].query);
		assert_non_null(m);
		assert_string_equal(m->name, find_cases[i].name);
		assert_non_null(m->step);
	}
}

/* Names that must not match: unsupported, truncated, padded, misspelt. */
static const char *const find_unknown[] = {
	"",
	"PLAI",
	"PLAINX",
	" PLAIN",
	"PLAIN ",
	"CRAM_MD5",
	"CRAM-MD",
	"SCRAM-SHA-1",
	"GSSAPI",
	"XOAUTH",
	"OAUTHBEARER2",
	"APOP",
};

/* Unknown names give NULL. */
static void
test_sasl_find_unknown(void **state)
{
	size_t	i;

	for (i = 0; i < sizeof(find_unknown) / sizeof(find_unknown[0]); i++)
		if (sasl_find(find_unknown[i]) != NULL)
			fail_msg("\"%s\" found", find_unknown[i]);
}

/*
 * Flags decide whether pop3 sends an initial response and whether the
 * mechanism may run without TLS, so each is pinned down here.
 */
static const struct {
	const char	*name;
	bool		 client_first;
	bool		 plaintext;
} flag_cases[] = {
	{ "PLAIN", true, true },
	{ "LOGIN", false, true },
	{ "CRAM-MD5", false, false },
	{ "XOAUTH2", true, true },
	{ "OAUTHBEARER", true, true },
};

/* Each mechanism carries its client_first and plaintext flags. */
static void
test_sasl_flags(void **state)
{
	const struct sasl_mech	*m;
	size_t			 i;

	for (i = 0; i < sizeof(flag_cases) / sizeof(flag_cases[0]); i++) {
		m = sasl_find(flag_cases[i].name);
		assert_non_null(m);
		assert_int_equal(m->client_first, flag_cases[i].client_first);
		assert_int_equal(m->plaintext, flag_cases[i].plaintext);
	}
}

/* RFC 1939 section 7 example, and the edges of the concatenation. */
static const struct {
	const char	*timestamp;
	const char	*secret;
	const char	*digest;
} apop_cases[] = {
	{ "<1896.697170952@dbc.mtview.ca.us>", "tanstaaf",
	    "c4c9334bac560ecc979e58001b3e22fb" },
	/* No separator: the same bytes split elsewhere give the same MD5. */
	{ "<1896.697170952@dbc.mtview.ca.us>tan", "staaf",
	    "c4c9334bac560ecc979e58001b3e22fb" },
	/* An empty secret is MD5 of the timestamp alone. */
	{ "<1.2@x>", "", "bb4bc525255bbbd2e17e73544bba3150" },
};

/* sasl_apop_digest gives MD5(timestamp secret) in hex. */
static void
test_sasl_apop_digest(void **state)
{
	char	out[33];
	size_t	i;

	for (i = 0; i < sizeof(apop_cases) / sizeof(apop_cases[0]); i++) {
		memset(out, 'X', sizeof(out));
		sasl_apop_digest(apop_cases[i].timestamp, apop_cases[i].secret,
		    out);
		assert_string_equal(out, apop_cases[i].digest);
	}
}

/*
 * An exchange: a mechanism, its credentials, and the steps in order, each
 * a challenge (NULL for the initial response) with the response or error
 * expected.  The exchange stops at the first error.
 */
struct step_case {
	const char	*chal;
	size_t		 chlen;
	const char	*resp;
	size_t		 resplen;
	int		 rc;
};

static const struct {
	const char		*desc;
	const char		*mech;
	const char		*user;
	const char		*secret;
	const char		*host;
	int			 port;
	size_t			 nsteps;
	struct step_case	 steps[MAXSTEPS];
} step_cases[] = {
	/* PLAIN (RFC 4616 section 4 example, without authzid). */
	{ "PLAIN initial response", "PLAIN", "tim", "tanstaaftanstaaf",
	    NULL, 0, 1, {
		{ INITIAL, REPLY("\0tim\0tanstaaftanstaaf") },
	} },
	{ "PLAIN after an empty challenge", "PLAIN", "tim", "tanstaaftanstaaf",
	    NULL, 0, 1, {
		{ BYTES(""), REPLY("\0tim\0tanstaaftanstaaf") },
	} },
	{ "PLAIN empty password", "PLAIN", "tim", "", NULL, 0, 1, {
		{ INITIAL, REPLY("\0tim\0") },
	} },
	{ "PLAIN non-empty first challenge", "PLAIN", "tim", "pw", NULL, 0, 1, {
		{ BYTES("hello"), REFUSE(E_AUTH) },
	} },
	{ "PLAIN second challenge", "PLAIN", "tim", "pw", NULL, 0, 2, {
		{ INITIAL, REPLY("\0tim\0pw") },
		{ BYTES(""), REFUSE(E_AUTH) },
	} },
	{ "PLAIN without secret", "PLAIN", "tim", NULL, NULL, 0, 1, {
		{ INITIAL, REFUSE(E_AUTH) },
	} },
	{ "PLAIN without user", "PLAIN", NULL, "pw", NULL, 0, 1, {
		{ INITIAL, REFUSE(E_AUTH) },
	} },

	/* LOGIN: by step count, whatever the prompts say. */
	{ "LOGIN usual prompts", "LOGIN", "tim", "tanstaaftanstaaf",
	    NULL, 0, 3, {
		{ BYTES("Username:"), REPLY("tim") },
		{ BYTES("Password:"), REPLY("tanstaaftanstaaf") },
		{ BYTES("Password:"), REFUSE(E_AUTH) },
	} },
	{ "LOGIN prompts ignored", "LOGIN", "tim", "tanstaaftanstaaf",
	    NULL, 0, 2, {
		{ BYTES("Password:"), REPLY("tim") },
		{ BYTES(""), REPLY("tanstaaftanstaaf") },
	} },
	{ "LOGIN has no initial response", "LOGIN", "tim", "pw", NULL, 0, 1, {
		{ INITIAL, REFUSE(E_AUTH) },
	} },
	{ "LOGIN without secret", "LOGIN", "tim", NULL, NULL, 0, 1, {
		{ BYTES("Username:"), REFUSE(E_AUTH) },
	} },

	/* CRAM-MD5 (RFC 2195 section 2 example). */
	{ "CRAM-MD5 RFC 2195", "CRAM-MD5", "tim", "tanstaaftanstaaf",
	    NULL, 0, 2, {
		{ BYTES("<1896.697170952@postoffice.reston.mci.net>"),
		    REPLY("tim b913a602c7eda7a495b4e6e7334d3890") },
		{ BYTES(""), REFUSE(E_AUTH) },
	} },
	{ "CRAM-MD5 empty challenge", "CRAM-MD5", "tim", "pw", NULL, 0, 1, {
		{ BYTES(""), REFUSE(E_AUTH) },
	} },
	{ "CRAM-MD5 no challenge", "CRAM-MD5", "tim", "pw", NULL, 0, 1, {
		{ INITIAL, REFUSE(E_AUTH) },
	} },
	{ "CRAM-MD5 without secret", "CRAM-MD5", "tim", NULL, NULL, 0, 1, {
		{ BYTES("<1.2@x>"), REFUSE(E_AUTH) },
	} },

	/* XOAUTH2 (Google's documented format). */
	{ "XOAUTH2 then error challenge", "XOAUTH2", "someuser@example.com",
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", NULL, 0, 3, {
		{ INITIAL, REPLY("user=someuser@example.com\001"
		    "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
		    "\001\001") },
		{ BYTES("{\"status\":\"400\",\"schemes\":\"Bearer\","
		    "\"scope\":\"https://mail.google.com/\"}"), REPLY("") },
		{ BYTES(""), REFUSE(E_AUTH) },
	} },
	{ "XOAUTH2 after an empty challenge", "XOAUTH2", "u", "t", NULL, 0, 1, {
		{ BYTES(""), REPLY("user=u\001auth=Bearer t\001\001") },
	} },
	{ "XOAUTH2 ^A in token", "XOAUTH2", "u", "t\001auth=x", NULL, 0, 1, {
		{ INITIAL, REFUSE(E_AUTH) },
	} },
	{ "XOAUTH2 ^A in user", "XOAUTH2", "u\001", "t", NULL, 0, 1, {
		{ INITIAL, REFUSE(E_AUTH) },
	} },
	{ "XOAUTH2 non-empty first challenge", "XOAUTH2", "u", "t",
	    NULL, 0, 1, {
		{ BYTES("{}"), REFUSE(E_AUTH) },
	} },

	/* OAUTHBEARER (RFC 7628 section 4.1 shape). */
	{ "OAUTHBEARER RFC 7628", "OAUTHBEARER", "user@example.com",
	    "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
	    "server.example.com", 143, 3, {
		{ INITIAL, REPLY("n,a=user@example.com,\001"
		    "host=server.example.com\001port=143\001"
		    "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
		    "\001\001") },
		{ BYTES("{\"status\":\"invalid_token\"}"), REPLY("\001") },
		{ BYTES(""), REFUSE(E_AUTH) },
	} },
	{ "OAUTHBEARER escaped user", "OAUTHBEARER", "a,b=c,=", "t",
	    "h", 995, 1, {
		{ INITIAL, REPLY("n,a=a=2Cb=3Dc=2C=3D,\001host=h\001port=995"
		    "\001auth=Bearer t\001\001") },
	} },
	{ "OAUTHBEARER without host and port", "OAUTHBEARER", "u", "t",
	    NULL, 0, 1, {
		{ INITIAL, REPLY("n,a=u,\001auth=Bearer t\001\001") },
	} },
	{ "OAUTHBEARER empty host", "OAUTHBEARER", "u", "t", "", 110, 1, {
		{ INITIAL,
		    REPLY("n,a=u,\001port=110\001auth=Bearer t\001\001") },
	} },
	{ "OAUTHBEARER empty user", "OAUTHBEARER", "", "t", "h", 110, 1, {
		{ INITIAL, REPLY("n,,\001host=h\001port=110\001"
		    "auth=Bearer t\001\001") },
	} },
	{ "OAUTHBEARER ^A in host", "OAUTHBEARER", "u", "t", "h\001port=1",
	    110, 1, {
		{ INITIAL, REFUSE(E_AUTH) },
	} },
	{ "OAUTHBEARER ^A in token", "OAUTHBEARER", "u", "t\001", "h",
	    110, 1, {
		{ INITIAL, REFUSE(E_AUTH) },
	} },
	{ "OAUTHBEARER non-empty first challenge", "OAUTHBEARER", "u", "t",
	    "h", 110, 1, {
		{ BYTES("x"), REFUSE(E_AUTH) },
	} },
};

/* Run each exchange and compare every response byte for byte. */
static void
test_sasl_step(void **state)
{
	const struct sasl_mech	*m;
	const struct step_case	*sc;
	struct sasl_ctx		 ctx;
	struct err		 e;
	unsigned char		*out;
	size_t			 i, j, outlen;
	int			 rc;

	for (i = 0; i < sizeof(step_cases) / sizeof(step_cases[0]); i++) {
		m = sasl_find(step_cases[i].mech);
		assert_non_null(m);
		memset(&ctx, 0, sizeof(ctx));
		ctx.user = step_cases[i].user;
		ctx.secret = step_cases[i].secret;
		ctx.host = step_cases[i].host;
		ctx.port = step_cases[i].port;
		for (j = 0; j < step_cases[i].nsteps; j++) {
			sc = &step_cases[i].steps[j];
			err_clear(&e);
			out = NULL;
			outlen = (size_t)-1;
			rc = m->step(&ctx, (const unsigned char *)sc->chal,
			    sc->chlen, &out, &outlen, &e);
			if (rc != sc->rc)
				fail_msg("%s, step %zu: rc %s, want %s (%s)",
				    step_cases[i].desc, j, err_name(rc),
				    err_name(sc->rc), e.msg);
			if (rc != E_OK) {
				assert_int_equal(e.code, rc);
				assert_true(e.msg[0] != '\0');
				break;
			}
			assert_non_null(out);
			if (outlen != sc->resplen ||
			    memcmp(out, sc->resp, outlen) != 0)
				fail_msg("%s, step %zu: wrong response",
				    step_cases[i].desc, j);
			/* NUL-terminated, so freezero(out, 0) is safe. */
			assert_int_equal(out[outlen], '\0');
			freezero(out, outlen);
		}
	}
}

/*
 * The exchange as it travels: base64 challenges in, base64 responses out,
 * the RFC 2195 and RFC 4616 examples end to end.
 */
static const struct {
	const char	*mech;
	const char	*user;
	const char	*secret;
	const char	*chal64;	/* NULL: initial response */
	const char	*resp64;
} wire_cases[] = {
	{ "CRAM-MD5", "tim", "tanstaaftanstaaf",
	    "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
	    "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw" },
	{ "PLAIN", "tim", "tanstaaftanstaaf", NULL,
	    "AHRpbQB0YW5zdGFhZnRhbnN0YWFm" },
};

/* Decode the challenge, step, encode the response. */
static void
test_sasl_wire(void **state)
{
	const struct sasl_mech	*m;
	struct sasl_ctx		 ctx;
	struct err		 e;
	unsigned char		*chal = NULL, *out;
	char			*resp64;
	size_t			 i, chlen = 0, outlen;

	for (i = 0; i < sizeof(wire_cases) / sizeof(wire_cases[0]); i++) {
		m = sasl_find(wire_cases[i].mech);
		assert_non_null(m);
		memset(&ctx, 0, sizeof(ctx));
		ctx.user = wire_cases[i].user;
		ctx.secret = wire_cases[i].secret;
		chal = NULL;
		chlen = 0;
		if (wire_cases[i].chal64 != NULL) {
			chal = crypto_base64_decode(wire_cases[i].chal64,
			    &chlen);
			assert_non_null(chal);
		}
		assert_int_equal(m->step(&ctx, chal, chlen, &out, &outlen, &e),
		    E_OK);
		resp64 = crypto_base64_encode(out, outlen);
		assert_string_equal(resp64, wire_cases[i].resp64);
		free(resp64);
		freezero(out, outlen);
		free(chal);
	}
}

int
main(void)
{
	const struct CMUnitTest find_tests[] = {
		cmocka_unit_test(test_sasl_find),
		cmocka_unit_test(test_sasl_find_unknown),
		cmocka_unit_test(test_sasl_flags),
	};
	const struct CMUnitTest apop_tests[] = {
		cmocka_unit_test(test_sasl_apop_digest),
	};
	const struct CMUnitTest step_tests[] = {
		cmocka_unit_test(test_sasl_step),
		cmocka_unit_test(test_sasl_wire),
	};
	int	 rc = 0;

	rc |= cmocka_run_group_tests_name("sasl_find", find_tests, NULL, NULL);
	rc |= cmocka_run_group_tests_name("sasl_apop_digest", apop_tests,
	    NULL, NULL);
	rc |= cmocka_run_group_tests_name("sasl_mech.step", step_tests,
	    NULL, NULL);
	return rc == 0 ? 0 : 1;
}
