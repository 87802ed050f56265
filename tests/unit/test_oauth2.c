/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for oauth2.c: presets and the token file, without a network. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "err.h"
#include "oauth2.h"
#include "xmalloc.h"

static char	tmpdir[PATH_MAX];

static int	setup(void **);
static int	teardown(void **);
static struct account *oauth_account(void);
static void	write_tokens(const struct account *, const char *, mode_t);

/* A scratch directory for the token file. */
static int
setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_oauth2.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

/* Remove the token file and the directory. */
static int
teardown(void **state)
{
	char	path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/a.oauth2", tmpdir);
	unlink(path);
	return rmdir(tmpdir);
}

/* Account "a" with a custom oauth2 group whose endpoint nobody serves:
 * any request would fail, so a success proves none was made. */
static struct account *
oauth_account(void)
{
	struct account	*a;

	a = account_new();
	a->name = xstrdup("a");
	a->timeout = 1;
	a->oauth2 = xcalloc(1, sizeof(*a->oauth2));
	a->oauth2->provider = ACCOUNT_PROVIDER_CUSTOM;
	a->oauth2->client_id = xstrdup("id");
	a->oauth2->token_endpoint = xstrdup("https://127.0.0.1:1/token");
	a->oauth2->token_file = xasprintf("%s/a.oauth2", tmpdir);
	return a;
}

/* Write the token file with the given JSON text and mode. */
static void
write_tokens(const struct account *a, const char *json, mode_t mode)
{
	FILE	*fp;

	fp = fopen(a->oauth2->token_file, "w");
	assert_non_null(fp);
	fputs(json, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(a->oauth2->token_file, mode), 0);
}

/* The presets fill what the group left out, and only that. */
static void
test_preset(void **state)
{
	struct account_oauth2	o;

	memset(&o, 0, sizeof(o));
	o.provider = ACCOUNT_PROVIDER_GOOGLE;
	oauth2_preset(&o);
	assert_string_equal(o.token_endpoint,
	    "https://oauth2.googleapis.com/token");
	assert_string_equal(o.device_authorization_endpoint,
	    "https://oauth2.googleapis.com/device/code");
	assert_string_equal(o.scope, "https://mail.google.com/");
	free(o.token_endpoint);
	free(o.device_authorization_endpoint);
	free(o.scope);

	memset(&o, 0, sizeof(o));
	o.provider = ACCOUNT_PROVIDER_MICROSOFT;
	o.scope = xstrdup("mine");
	oauth2_preset(&o);
	assert_string_equal(o.token_endpoint, "https://login.microsoftonline."
	    "com/common/oauth2/v2.0/token");
	assert_string_equal(o.scope, "mine");
	free(o.token_endpoint);
	free(o.device_authorization_endpoint);
	free(o.scope);

	memset(&o, 0, sizeof(o));
	o.provider = ACCOUNT_PROVIDER_CUSTOM;
	oauth2_preset(&o);
	assert_null(o.token_endpoint);
	assert_null(o.scope);
}

/* A stored access token far from expiry is used as it is. */
static void
test_cached(void **state)
{
	struct account	*a = oauth_account();
	struct err	 e;
	char		*tok = NULL, json[256];
	bool		 fresh = true;

	snprintf(json, sizeof(json), "{\"access_token\": \"at-1\", "
	    "\"refresh_token\": \"rt-1\", \"expires_at\": %lld}",
	    (long long)time(NULL) + 3600);
	write_tokens(a, json, 0600);
	assert_int_equal(oauth2_token(a, NULL, false, &tok, &fresh, &e), 0);
	assert_string_equal(tok, "at-1");
	assert_false(fresh);
	freezero(tok, 0);
	/* expires_at 0: the lifetime is unknown; the server decides. */
	write_tokens(a, "{\"access_token\": \"at-2\", \"expires_at\": 0}",
	    0600);
	assert_int_equal(oauth2_token(a, NULL, false, &tok, NULL, &e), 0);
	assert_string_equal(tok, "at-2");
	freezero(tok, 0);
	account_free(a);
}

/* The token file's errors: each says what to do, none shows a token. */
static void
test_errors(void **state)
{
	struct account	*a = oauth_account();
	struct err	 e;
	char		*tok = NULL, json[256];

	err_clear(&e);
	assert_int_equal(oauth2_token(a, NULL, false, &tok, NULL, &e), E_AUTH);
	assert_null(tok);
	assert_non_null(strstr(e.msg, "run `popsyncd --authorize a`"));

	write_tokens(a, "{\"access_token\": \"at-secret\"}", 0644);
	assert_int_equal(oauth2_token(a, NULL, false, &tok, NULL, &e), E_STORE);
	assert_non_null(strstr(e.msg, "readable by group or others"));
	assert_null(strstr(e.msg, "at-secret"));

	write_tokens(a, "{\"access_token\": \"at-secret\",", 0600);
	assert_int_equal(oauth2_token(a, NULL, false, &tok, NULL, &e), E_STORE);
	assert_non_null(strstr(e.msg, "not a token file"));
	assert_null(strstr(e.msg, "at-secret"));

	/* Expired with nothing to refresh it with. */
	snprintf(json, sizeof(json), "{\"access_token\": \"at-secret\", "
	    "\"expires_at\": %lld}", (long long)time(NULL) + 30);
	write_tokens(a, json, 0600);
	assert_int_equal(oauth2_token(a, NULL, false, &tok, NULL, &e), E_AUTH);
	assert_non_null(strstr(e.msg, "no refresh token"));
	assert_false(err_is_temporary(&e));

	/* Refreshing against an endpoint that is not there: temporary. */
	snprintf(json, sizeof(json), "{\"access_token\": \"at-secret\", "
	    "\"refresh_token\": \"rt-secret\", \"expires_at\": 1}");
	write_tokens(a, json, 0600);
	assert_int_equal(oauth2_token(a, NULL, false, &tok, NULL, &e), E_IO);
	assert_true(err_is_temporary(&e));
	assert_non_null(strstr(e.msg, "oauth2: https://127.0.0.1:1/token: "));
	assert_null(strstr(e.msg, "rt-secret"));
	account_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preset),
		cmocka_unit_test_setup_teardown(test_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	};

	return cmocka_run_group_tests_name("oauth2", tests, NULL, NULL);
}
