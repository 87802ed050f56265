/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for check.c: --check-config's findings and summary. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "check.h"
#include "config.h"
#include "err.h"
#include "tls.h"
#include "util.h"
#include "xmalloc.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* A config built by hand in a temp dir, and what the checks printed. */
struct fx {
	char		 dir[64];
	struct config	*cfg;
	char		*errs;
	size_t		 errslen;
	int		 errors;
};

static int	setup(void **);
static int	teardown(void **);
static struct account *add(struct fx *, const char *, const char *);
static void	run_checks(struct fx *);
static char	*path_in(struct fx *, const char *);

static int
setup(void **state)
{
	struct fx	*fx = xcalloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_check.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		fail_msg("mkdtemp");
	fx->cfg = xcalloc(1, sizeof(*fx->cfg));
	TAILQ_INIT(&fx->cfg->accounts);
	fx->cfg->path = xasprintf("%s/config", fx->dir);
	fx->cfg->state_db = xasprintf("%s/state.db", fx->dir);
	fx->cfg->interval = 300;
	unsetenv("INVOCATION_ID");
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;
	char		*cmd;

	config_free(fx->cfg);
	free(fx->errs);
	cmd = xasprintf("rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
	free(cmd);
	free(fx);
	return 0;
}

/* An account NAME for USER, defined at line 10 * its number, with the
 * Maildir DIR/NAME. */
static struct account *
add(struct fx *fx, const char *name, const char *user)
{
	struct account	*a = account_new();
	struct account	*b;
	int		 n = 1;

	TAILQ_FOREACH(b, &fx->cfg->accounts, entry)
		n++;
	a->name = xstrdup(name);
	a->host = xstrdup("pop.example.com");
	a->user = xstrdup(user);
	a->password = xstrdup("secret");
	a->maildir = xasprintf("%s/%s", fx->dir, name);
	a->file = xstrdup(fx->cfg->path);
	a->line = 10 * n;
	TAILQ_INSERT_TAIL(&fx->cfg->accounts, a, entry);
	return a;
}

/* DIR/leaf; caller frees. */
static char *
path_in(struct fx *fx, const char *leaf)
{
	return xasprintf("%s/%s", fx->dir, leaf);
}

/* check_config into fx->errs (emptied first). */
static void
run_checks(struct fx *fx)
{
	FILE	*fp;

	free(fx->errs);
	fx->errs = NULL;
	if ((fp = open_memstream(&fx->errs, &fx->errslen)) == NULL)
		fail_msg("open_memstream");
	fx->errors = check_config(fx->cfg, fp);
	fclose(fp);
}

/* check_config */

static void
test_no_accounts(void **state)
{
	struct fx	*fx = *state;
	char		*want;

	run_checks(fx);
	assert_int_equal(fx->errors, 1);
	want = xasprintf("popsyncd: error: %s: no accounts: nothing to "
	    "fetch; add one to \"accounts = ( ... );\"\n", fx->cfg->path);
	assert_string_equal(fx->errs, want);
	free(want);
}

static void
test_good(void **state)
{
	struct fx	*fx = *state;

	add(fx, "a", "alice");
	add(fx, "b", "bob")->keep = false;
	run_checks(fx);
	assert_int_equal(fx->errors, 0);
	assert_string_equal(fx->errs, "");
}

static void
test_ca_file(void **state)
{
	struct fx	*fx = *state;
	struct account	*a = add(fx, "a", "alice");
	char		*want;
	FILE		*fp;

	a->ca_file = path_in(fx, "ca.pem");
	run_checks(fx);
	assert_int_equal(fx->errors, 1);
	want = xasprintf("popsyncd: error: %s:10: ca_file: %s: No such file "
	    "or directory\n", fx->cfg->path, a->ca_file);
	assert_string_equal(fx->errs, want);
	free(want);

	if ((fp = fopen(a->ca_file, "w")) == NULL)
		fail_msg("fopen");
	fputs("-----BEGIN CERTIFICATE-----\nnot base64!\n"
	    "-----END CERTIFICATE-----\n", fp);
	fclose(fp);
	run_checks(fx);
	assert_int_equal(fx->errors, 1);
	want = xasprintf("popsyncd: error: %s:10: ca_file: %s: cannot load "
	    "it: ", fx->cfg->path, a->ca_file);
	assert_true(strncmp(fx->errs, want, strlen(want)) == 0);
	free(want);

	/* Not used without verification or without TLS: not checked. */
	a->tls_verify = false;
	run_checks(fx);
	assert_int_equal(fx->errors, 0);
	a->tls_verify = true;
	a->tls = ACCOUNT_TLS_NONE;
	run_checks(fx);
	assert_int_equal(fx->errors, 0);

	a->tls = ACCOUNT_TLS_STARTTLS;
	free(a->ca_file);
	a->ca_file = xstrdup(fx->dir);
	run_checks(fx);
	assert_int_equal(fx->errors, 1);
	assert_non_null(strstr(fx->errs, " is not a regular file\n"));
}

/* Under systemd, a file missing in /tmp may be PrivateTmp's doing. */
static void
test_private_tmp(void **state)
{
	struct fx	*fx = *state;
	struct account	*a = add(fx, "a", "alice");

	free(a->ca_file);
	a->ca_file = path_in(fx, "gone.pem");
	setenv("INVOCATION_ID", "0123456789abcdef", 1);
	run_checks(fx);
	unsetenv("INVOCATION_ID");
	assert_int_equal(fx->errors, 1);
	assert_non_null(strstr(fx->errs, "gone.pem: No such file or directory "
	    "(popsyncd runs under systemd here, and a unit with "
	    "PrivateTmp=yes, as popsyncd@.service, has a /tmp of its own: "
	    "move it out of /tmp)\n"));
	assert_string_equal(util_private_tmp_hint("/tmp/x"), "");
	setenv("INVOCATION_ID", "0123456789abcdef", 1);
	assert_string_equal(util_private_tmp_hint("/home/x"), "");
	assert_string_equal(util_private_tmp_hint("/tmpfoo/x"), "");
	assert_true(util_private_tmp_hint("/var/tmp/x")[0] == ' ');
	unsetenv("INVOCATION_ID");
}

/* One Maildir, however spelt, with two keep settings. */
static void
test_shared_maildir(void **state)
{
	struct fx	*fx = *state;
	struct account	*a = add(fx, "a", "alice");
	struct account	*b = add(fx, "b", "bob");
	struct account	*c = add(fx, "c", "carol");
	char		*want;

	free(b->maildir);
	b->maildir = xasprintf("%s//a/", fx->dir);
	free(c->maildir);
	c->maildir = xstrdup(a->maildir);
	run_checks(fx);
	assert_int_equal(fx->errors, 0);

	b->keep = false;
	c->delete_after_days = 7;
	run_checks(fx);
	assert_int_equal(fx->errors, 3);
	want = xasprintf("popsyncd: error: %s:20: maildir: %s is also the "
	    "Maildir of account a (%s:10) with keep, but this one has delete: "
	    "give both the same keep and delete_after_days, or each its own "
	    "Maildir\n",
	    fx->cfg->path, b->maildir, fx->cfg->path);
	assert_non_null(strstr(fx->errs, want));
	free(want);
	assert_non_null(strstr(fx->errs, "Maildir of account b (" ));
	assert_non_null(strstr(fx->errs, "with delete, but this one has "
	    "keep, delete after 7 days: "));
}

static void
test_relative(void **state)
{
	struct fx	*fx = *state;
	struct account	*a = add(fx, "a", "alice");
	char		*want;

	free(a->maildir);
	a->maildir = xstrdup("Mail/a");
	free(fx->cfg->state_db);
	fx->cfg->state_db = xstrdup("state.db");
	run_checks(fx);
	assert_int_equal(fx->errors, 0);
	want = xasprintf("popsyncd: warning: %s: state_db: state.db is "
	    "relative: it depends on the directory popsyncd starts in (under "
	    "systemd: /); give an absolute path or start it with ~/\n"
	    "popsyncd: warning: %s:10: maildir: Mail/a is relative: it "
	    "depends on the directory popsyncd starts in (under systemd: /); "
	    "give an absolute path or start it with ~/\n", fx->cfg->path,
	    fx->cfg->path);
	assert_string_equal(fx->errs, want);
	free(want);
}

/* check_summary */

static void
test_summary(void **state)
{
	struct fx	*fx = *state;
	struct account	*b;
	char		*got = NULL, *want;
	size_t		 len;
	FILE		*fp;

	add(fx, "a", "alice");
	b = add(fx, "b", "bob");
	b->tls = ACCOUNT_TLS_STARTTLS;
	b->port = 110;
	b->auth = ACCOUNT_AUTH_CRAM_MD5;
	b->delete_after_days = 30;
	b->interval = 60;
	if ((fp = open_memstream(&got, &len)) == NULL)
		fail_msg("open_memstream");
	check_summary(fx->cfg, fp);
	fclose(fp);
	want = xasprintf("%s: ok, 2 accounts\n"
	    "  a: alice@pop.example.com:995, tls implicit, auth auto, "
	    "maildir %s/a, keep, every 300 s, state %s\n"
	    "  b: bob@pop.example.com:110, tls starttls, auth cram-md5, "
	    "maildir %s/b, keep, delete after 30 days, every 60 s, state %s\n",
	    fx->cfg->path, fx->dir, fx->cfg->state_db, fx->dir,
	    fx->cfg->state_db);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

/* tls_failure_kind: the messages tls_start writes, with prefixes. */

static const struct {
	int			 code;
	const char		*msg;
	enum tls_failure	 want;
} kind_cases[] = {
	{ E_TLS, "work: certificate verify failed: unable to get local "
	    "issuer certificate", TLS_FAIL_CHAIN },
	{ E_TLS, "certificate verify failed: certificate has expired",
	    TLS_FAIL_CHAIN },
	{ E_TLS, "work: hostname mismatch: certificate is not valid for "
	    "127.0.0.2", TLS_FAIL_HOST },
	{ E_TLS, "certificate fingerprint mismatch for h: expected a, got b",
	    TLS_FAIL_PIN },
	{ E_TLS, "TLS handshake with h failed: the server does not speak TLS "
	    "on this port (OpenSSL: wrong version number)", TLS_FAIL_NOT_TLS },
	{ E_TLS, "TLS handshake with h failed: sslv3 alert handshake failure",
	    TLS_FAIL_OTHER },
	/* The same words from another module are not a TLS failure. */
	{ E_IO, "certificate verify failed: x", TLS_FAIL_OTHER },
};

static void
test_failure_kind(void **state)
{
	struct err	e;
	size_t		i;

	for (i = 0; i < NELEM(kind_cases); i++) {
		err_set(&e, kind_cases[i].code, "%s", kind_cases[i].msg);
		if (tls_failure_kind(&e) != kind_cases[i].want)
			fail_msg("case %zu: %s: got %d, want %d", i,
			    kind_cases[i].msg, (int)tls_failure_kind(&e),
			    (int)kind_cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_accounts, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ca_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_tmp, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_shared_maildir, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_relative, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
		cmocka_unit_test(test_failure_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
