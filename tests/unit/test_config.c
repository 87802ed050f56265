/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* Unit tests for config.c and account.c: loading, checks and secrets. */

#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "config.h"
#include "err.h"
#include "util.h"
#include "xmalloc.h"

#ifndef FIXTURES
#error FIXTURES must name tests/unit/fixtures
#endif

/* The scratch directory every test writes into; made per test. */
static char	tmpdir[PATH_MAX];

static int	tmp_setup(void **);
static int	tmp_teardown(void **);
static int	rm_entry(const char *, const struct stat *, int, struct FTW *);
static char	*tmp_path(const char *);
static char	*write_file(const char *, const char *, mode_t);
static char	*copy_fixture(const char *, mode_t);
static void	strip_tmpdir(const char *, char *, size_t);
static int	load(const char *, mode_t, struct config **, char *, size_t);
static struct account *good_account(void);
static void	set_field(struct account *, const char *, const char *);

/* Make a fresh scratch directory; HOME points into it for "~". */
static int
tmp_setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	setenv("HOME", "/home/test", 1);
	return 0;
}

/* nftw callback: remove one entry, children before their directory. */
static int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

/* Remove the scratch directory and everything in it. */
static int
tmp_teardown(void **state)
{
	return nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* tmpdir/name; caller frees. */
static char *
tmp_path(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

/* Write text to tmpdir/name with the given mode; returns the path. */
static char *
write_file(const char *name, const char *text, mode_t mode)
{
	char	*path;
	FILE	*fp;

	path = tmp_path(name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	/* Explicitly, as the umask may have masked bits off. */
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

/* Copy a fixture into tmpdir with a mode git cannot be trusted to keep. */
static char *
copy_fixture(const char *name, mode_t mode)
{
	char	 src[PATH_MAX], text[16384];
	FILE	*fp;
	size_t	 n;

	snprintf(src, sizeof(src), "%s/%s", FIXTURES, name);
	fp = fopen(src, "r");
	assert_non_null(fp);
	n = fread(text, 1, sizeof(text) - 1, fp);
	assert_int_equal(ferror(fp), 0);
	assert_true(n < sizeof(text) - 1);
	fclose(fp);
	text[n] = '\0';
	return write_file(name, text, mode);
}

/* Copy msg to out with every "tmpdir/" removed, so rows name bare files. */
static void
strip_tmpdir(const char *msg, char *out, size_t len)
{
	char		 prefix[PATH_MAX + 1];
	const char	*p;
	size_t		 plen, o = 0;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s/", tmpdir);
	for (p = msg; *p != '\0' && o + 1 < len;) {
		if (strncmp(p, prefix, plen) == 0) {
			p += plen;
			continue;
		}
		out[o++] = *p++;
	}
	out[o] = '\0';
}

/* Copy the fixture with mode and load it; msg gets the stripped error. */
static int
load(const char *fixture, mode_t mode, struct config **cfg, char *msg,
    size_t len)
{
	struct err	 e;
	char		*path;
	int		 rc;

	err_clear(&e);
	path = copy_fixture(fixture, mode);
	rc = config_load(path, cfg, &e);
	strip_tmpdir(e.msg, msg, len);
	if (rc == 0) {
		assert_non_null(*cfg);
		assert_string_equal((*cfg)->path, path);
	} else {
		assert_int_equal(rc, E_CONFIG);
		assert_int_equal(e.code, E_CONFIG);
		assert_null(*cfg);
	}
	free(path);
	return rc;
}

/* config_load on good.conf: every key as written, every default applied. */
static void
test_load_good(void **state)
{
	struct config	*c = NULL;
	struct account	*a;
	char		 msg[ERR_MSGLEN];

	assert_int_equal(load("good.conf", 0600, &c, msg, sizeof(msg)), 0);
	assert_string_equal(c->state_db, "/home/test/state.db");
	assert_int_equal(c->interval, 120);
	assert_int_equal(c->max_parallel, 8);
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	assert_true(c->log_level_set);

	a = TAILQ_FIRST(&c->accounts);
	assert_non_null(a);
	assert_string_equal(a->name, "full");
	assert_string_equal(a->host, "pop.example.com");
	assert_int_equal(a->port, 1995);
	assert_int_equal(a->tls, ACCOUNT_TLS_STARTTLS);
	assert_string_equal(a->ca_file, "/home/test/ca.pem");
	assert_false(a->tls_verify);
	assert_string_equal(a->tls_fingerprint, "sha256:0B:30:55:7A:9F:C4:E9:"
	    "0E:33:58:7D:A2:C7:EC:11:36:5B:80:A5:CA:EF:14:39:5E:83:A8:CD:F2:"
	    "17:3C:61:86");
	assert_int_equal(a->tls_min_version, 13);
	assert_string_equal(a->user, "alice@example.com");
	assert_string_equal(a->password, "hunter2");
	assert_null(a->password_command);
	assert_null(a->password_file);
	assert_int_equal(a->auth, ACCOUNT_AUTH_CRAM_MD5);
	assert_true(a->allow_plaintext_auth);
	assert_string_equal(a->maildir, "/home/test/Mail/full");
	assert_false(a->keep);
	assert_int_equal(a->delete_after_days, 30);
	assert_int_equal(a->max_message_size, 10000000000ULL);
	assert_int_equal(a->interval, 60);
	assert_int_equal(a->timeout, 30);
	assert_int_equal(a->set, ACCOUNT_SET_PORT | ACCOUNT_SET_INTERVAL |
	    ACCOUNT_SET_TIMEOUT);
	assert_int_equal(a->line, 8);

	/* Nothing optional set: implicit TLS on 995 and the global interval. */
	a = TAILQ_NEXT(a, entry);
	assert_non_null(a);
	assert_string_equal(a->name, "implicit");
	assert_int_equal(a->port, 995);
	assert_int_equal(a->tls, ACCOUNT_TLS_IMPLICIT);
	assert_null(a->ca_file);
	assert_true(a->tls_verify);
	assert_null(a->tls_fingerprint);
	assert_int_equal(a->tls_min_version, 12);
	assert_null(a->password);
	assert_string_equal(a->password_command, "echo secret");
	assert_int_equal(a->auth, ACCOUNT_AUTH_AUTO);
	assert_false(a->allow_plaintext_auth);
	assert_string_equal(a->maildir, "/var/mail/bob");
	assert_true(a->keep);
	assert_int_equal(a->delete_after_days, 0);
	assert_int_equal(a->max_message_size, 0);
	assert_int_equal(a->interval, 120);
	assert_int_equal(a->timeout, 60);
	assert_int_equal(a->set, 0);
	assert_int_equal(a->line, 28);

	/* STARTTLS without a port: 110. */
	a = TAILQ_NEXT(a, entry);
	assert_non_null(a);
	assert_string_equal(a->name, "Start_TLS.2");
	assert_int_equal(a->port, 110);
	assert_null(TAILQ_NEXT(a, entry));

	assert_ptr_equal(config_find(c, "implicit"),
	    TAILQ_NEXT(TAILQ_FIRST(&c->accounts), entry));
	assert_null(config_find(c, "Implicit"));
	assert_null(config_find(c, "nope"));
	config_free(c);
}

/* config_load with no global settings: the built-in defaults. */
static void
test_load_minimal(void **state)
{
	struct config	*c = NULL;
	struct account	*a;
	char		 msg[ERR_MSGLEN], *def;

	assert_int_equal(load("minimal.conf", 0644, &c, msg, sizeof(msg)), 0);
	def = config_default_state_db();
	assert_string_equal(c->state_db, def);
	free(def);
	assert_int_equal(c->interval, 300);
	assert_int_equal(c->max_parallel, 4);
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_false(c->log_level_set);
	a = TAILQ_FIRST(&c->accounts);
	assert_non_null(a);
	assert_int_equal(a->tls, ACCOUNT_TLS_NONE);
	assert_int_equal(a->port, 110);
	assert_int_equal(a->interval, 300);
	config_free(c);
	config_free(NULL);
}

#define X13	"xxxxxxxxxxxxx"
#define X65	X13 X13 X13 X13 X13

/* One malformed config and the exact first error it must produce. */
struct bad_case {
	const char	*file;
	const char	*msg;
};

static const struct bad_case bad_cases[] = {
	{ "syntax.conf", "syntax.conf:2: syntax error" },
	{ "unknown_global.conf",
	    "unknown_global.conf:2: intreval: unknown global key" },
	{ "unknown_key.conf",
	    "unknown_key.conf:5: hots: unknown key in an account" },
	{ "missing_name.conf",
	    "missing_name.conf:2: name: missing; every account needs one" },
	{ "missing_host.conf",
	    "missing_host.conf:2: host: missing; every account needs one" },
	{ "missing_user.conf",
	    "missing_user.conf:2: user: missing; every account needs one" },
	{ "missing_maildir.conf",
	    "missing_maildir.conf:2: maildir: missing; every account needs "
	    "one" },
	{ "bad_name.conf", "bad_name.conf:3: name: expected 1 to 64 letters, "
	    "digits, '.', '_' or '-', got \"my account\"" },
	{ "long_name.conf", "long_name.conf:3: name: expected 1 to 64 letters, "
	    "digits, '.', '_' or '-', got \"" X65 "\"" },
	{ "dup_name.conf", "dup_name.conf:10: name: account \"a\" is already "
	    "defined at dup_name.conf:2" },
	{ "bad_port_type.conf",
	    "bad_port_type.conf:5: port: expected an integer" },
	{ "bad_port_range.conf", "bad_port_range.conf:5: port: expected an "
	    "integer from 1 to 65535, got 70000" },
	{ "bad_tls.conf", "bad_tls.conf:5: tls: expected \"implicit\", "
	    "\"starttls\" or \"none\", got \"ssl\"" },
	{ "bad_auth.conf", "bad_auth.conf:5: auth: expected \"auto\", "
	    "\"user\", \"apop\", \"plain\", \"login\", \"cram-md5\", "
	    "\"xoauth2\" or \"oauthbearer\", got \"digest-md5\"" },
	{ "bad_tls_min_version.conf", "bad_tls_min_version.conf:5: "
	    "tls_min_version: expected \"1.2\" or \"1.3\", got \"1.1\"" },
	{ "float_tls_min_version.conf", "float_tls_min_version.conf:5: "
	    "tls_min_version: expected \"1.2\" or \"1.3\" (a string)" },
	{ "bad_fingerprint.conf", "bad_fingerprint.conf:5: tls_fingerprint: "
	    "expected \"sha256:\" and 64 hex digits, colons allowed between "
	    "pairs, got \"sha256:0123abcd\"" },
	{ "verify_off_unpinned.conf", "verify_off_unpinned.conf:2: "
	    "tls_verify: false needs a tls_fingerprint to pin the server" },
	{ "bad_bool.conf", "bad_bool.conf:5: keep: expected true or false" },
	{ "empty_host.conf", "empty_host.conf:4: host: expected a non-empty "
	    "string, got \"\"" },
	{ "two_sources.conf", "two_sources.conf:8: password_file: only one "
	    "of password, password_command and password_file may be set" },
	{ "no_source.conf", "no_source.conf:2: account a: expected one of "
	    "password, password_command or password_file (auth \"auto\" needs "
	    "a secret)" },
	{ "negative_delete.conf", "negative_delete.conf:5: delete_after_days: "
	    "expected an integer from 0 to 36500, got -1" },
	/* Bounds, so that no later arithmetic can overflow (issue 8). */
	{ "big_delete.conf", "big_delete.conf:5: delete_after_days: "
	    "expected an integer from 0 to 36500, got 36501" },
	{ "big_timeout.conf", "big_timeout.conf:5: timeout: expected an "
	    "integer from 1 to 3600, got 3000000" },
	{ "big_interval.conf", "big_interval.conf:1: interval: expected an "
	    "integer from 1 to 2592000, got 2592001" },
	/* libconfig 1.5 reads these as 1 and -1 + 2^32 - 2^32: the file's
	 * number is what counts. */
	{ "wrapped_timeout.conf", "wrapped_timeout.conf:5: timeout: expected "
	    "an integer from 1 to 3600, got 4294967297" },
	{ "wrapped_negative_timeout.conf", "wrapped_negative_timeout.conf:5: "
	    "timeout: expected an integer from 1 to 3600, got -4294967295" },
	{ "huge_size.conf", "huge_size.conf:5: max_message_size: expected an "
	    "integer >= 0, got 99999999999999999999" },
	{ "negative_size.conf", "negative_size.conf:5: max_message_size: "
	    "expected an integer >= 0, got -1" },
	{ "zero_timeout.conf", "zero_timeout.conf:5: timeout: expected an "
	    "integer from 1 to 3600, got 0" },
	{ "bad_log_level.conf", "bad_log_level.conf:1: log_level: expected "
	    "\"error\", \"warning\", \"info\", \"debug\" or \"trace\", got "
	    "\"verbose\"" },
	{ "max_parallel_0.conf", "max_parallel_0.conf:1: max_parallel: "
	    "expected an integer from 1 to 64, got 0" },
	{ "max_parallel_65.conf", "max_parallel_65.conf:1: max_parallel: "
	    "expected an integer from 1 to 64, got 65" },
	{ "zero_interval.conf", "zero_interval.conf:1: interval: expected an "
	    "integer from 1 to 2592000, got 0" },
	{ "accounts_group.conf", "accounts_group.conf:1: accounts: expected a "
	    "list of groups, accounts = ( { ... }, { ... } );" },
	{ "account_not_group.conf", "account_not_group.conf:1: accounts: "
	    "expected a group { ... } for each account" },
	{ "oauth2_unknown_key.conf", "oauth2_unknown_key.conf:10: "
	    "clinet_secret: unknown key in an oauth2 group" },
	{ "oauth2_bad_provider.conf", "oauth2_bad_provider.conf:8: provider: "
	    "expected \"google\", \"microsoft\" or \"custom\", got "
	    "\"yahoo\"" },
	{ "oauth2_no_client_id.conf", "oauth2_no_client_id.conf:7: oauth2: "
	    "client_id: missing; provider \"google\" needs one" },
	{ "oauth2_custom_missing.conf", "oauth2_custom_missing.conf:7: oauth2: "
	    "device_authorization_endpoint: missing; provider \"custom\" "
	    "needs one" },
	{ "oauth2_http.conf", "oauth2_http.conf:7: oauth2: token_endpoint: "
	    "expected an https:// URL" },
	{ "oauth2_two_secrets.conf", "oauth2_two_secrets.conf:7: oauth2: only "
	    "one of client_secret, client_secret_file and "
	    "client_secret_command may be set" },
	{ "oauth2_tenant_google.conf", "oauth2_tenant_google.conf:7: oauth2: "
	    "tenant: only for provider \"microsoft\"" },
	{ "oauth2_not_group.conf", "oauth2_not_group.conf:7: oauth2: expected "
	    "a group oauth2 = { provider = \"...\"; client_id = \"...\"; }" },
};

/* config_load on each malformed fixture: E_CONFIG and the exact message. */
static void
test_load_bad(void **state)
{
	struct config	*c;
	char		 msg[ERR_MSGLEN];
	size_t		 i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		c = NULL;
		if (load(bad_cases[i].file, 0600, &c, msg, sizeof(msg)) == 0)
			fail_msg("%s: loaded", bad_cases[i].file);
		if (strcmp(msg, bad_cases[i].msg) != 0)
			fail_msg("%s:\n  got  %s\n  want %s", bad_cases[i].file,
			    msg, bad_cases[i].msg);
	}
}

/*
 * An account whose only secret is its oauth2 group: the microsoft preset
 * under the tenant, the token file beside the state database.
 */
static void
test_load_oauth2(void **state)
{
	struct config		*c = NULL;
	struct account		*a;
	struct account_oauth2	*o;
	char			 msg[ERR_MSGLEN];

	assert_int_equal(load("oauth2_microsoft.conf", 0600, &c, msg,
	    sizeof(msg)), 0);
	a = TAILQ_FIRST(&c->accounts);
	assert_int_equal(a->auth, ACCOUNT_AUTH_XOAUTH2);
	assert_null(a->password);
	o = a->oauth2;
	assert_non_null(o);
	assert_int_equal(o->provider, ACCOUNT_PROVIDER_MICROSOFT);
	assert_string_equal(o->client_id, "id");
	assert_null(o->client_secret);
	assert_string_equal(o->token_endpoint, "https://login.microsoftonline"
	    ".com/contoso.example/oauth2/v2.0/token");
	assert_string_equal(o->device_authorization_endpoint,
	    "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/"
	    "devicecode");
	assert_string_equal(o->scope, "https://outlook.office.com/"
	    "POP.AccessAsUser.All offline_access");
	assert_string_equal(o->token_file, "/var/lib/popsyncd/a.oauth2");
	assert_int_equal(o->line, 9);
	config_free(c);
}

/* config_load on a file that is not there names the file and errno. */
static void
test_load_missing_file(void **state)
{
	struct config	*c = NULL;
	struct err	 e;
	char		*path, msg[ERR_MSGLEN];

	path = tmp_path("absent.conf");
	assert_int_equal(config_load(path, &c, &e), E_CONFIG);
	assert_null(c);
	strip_tmpdir(e.msg, msg, sizeof(msg));
	assert_string_equal(msg, "absent.conf: No such file or directory");
	free(path);
}

/* One mode for good.conf (it holds a password) and what must happen. */
struct mode_case {
	mode_t		 mode;
	const char	*msg;	/* NULL: loads */
};

static const struct mode_case mode_cases[] = {
	{ 0600, NULL },
	{ 0400, NULL },
	{ 0644, "good.conf: holds a password but is readable by group or "
	    "others (mode 0644); chmod 600 good.conf" },
	{ 0640, "good.conf: holds a password but is readable by group or "
	    "others (mode 0640); chmod 600 good.conf" },
	{ 0604, "good.conf: holds a password but is readable by group or "
	    "others (mode 0604); chmod 600 good.conf" },
};

/* config_load refuses a password that others can read. */
static void
test_load_password_mode(void **state)
{
	struct config	*c;
	char		 msg[ERR_MSGLEN];
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(mode_cases) / sizeof(mode_cases[0]); i++) {
		c = NULL;
		rc = load("good.conf", mode_cases[i].mode, &c, msg,
		    sizeof(msg));
		if (mode_cases[i].msg == NULL) {
			assert_int_equal(rc, 0);
			config_free(c);
		} else {
			assert_int_equal(rc, E_CONFIG);
			assert_string_equal(msg, mode_cases[i].msg);
		}
	}
}

/* A password_file must be private too, and must exist. */
static void
test_load_password_file_mode(void **state)
{
	struct config	*c = NULL;
	struct err	 e;
	char		*pw, *conf, *text, msg[ERR_MSGLEN];

	pw = write_file("pw", "filesecret\n", 0644);
	text = xasprintf("accounts = (\n\t{\n\t\tname = \"a\";\n"
	    "\t\thost = \"h\";\n\t\tuser = \"u\";\n\t\tmaildir = \"/m\";\n"
	    "\t\tpassword_file = \"%s\";\n\t}\n);\n", pw);
	/* No password in the config itself, so 0644 is fine for it. */
	conf = write_file("pwfile.conf", text, 0644);

	assert_int_equal(config_load(conf, &c, &e), E_CONFIG);
	strip_tmpdir(e.msg, msg, sizeof(msg));
	assert_string_equal(msg, "pwfile.conf:2: password_file: pw: holds a "
	    "password but is readable by group or others (mode 0644); "
	    "chmod 600 pw");

	assert_int_equal(chmod(pw, 0600), 0);
	assert_int_equal(config_load(conf, &c, &e), 0);
	assert_string_equal(TAILQ_FIRST(&c->accounts)->password_file, pw);
	config_free(c);

	assert_int_equal(unlink(pw), 0);
	c = NULL;
	assert_int_equal(config_load(conf, &c, &e), E_CONFIG);
	assert_null(c);
	strip_tmpdir(e.msg, msg, sizeof(msg));
	assert_string_equal(msg, "pwfile.conf:2: password_file: pw: No such "
	    "file or directory");
	free(text);
	free(conf);
	free(pw);
}

/* @include: a file next to the config, named as itself in messages. */
static void
test_load_include(void **state)
{
	struct config	*c = NULL;
	struct account	*a;
	char		*inc, msg[ERR_MSGLEN];

	inc = copy_fixture("include_accounts.conf", 0644);
	/* The password sits in the included file, so its mode counts. */
	assert_int_equal(load("include.conf", 0644, &c, msg, sizeof(msg)),
	    E_CONFIG);
	assert_string_equal(msg, "include_accounts.conf: holds a password but "
	    "is readable by group or others (mode 0644); chmod 600 "
	    "include_accounts.conf");

	assert_int_equal(chmod(inc, 0600), 0);
	assert_int_equal(load("include.conf", 0644, &c, msg, sizeof(msg)), 0);
	a = TAILQ_FIRST(&c->accounts);
	assert_non_null(a);
	assert_string_equal(a->name, "inc");
	assert_string_equal(a->file, inc);
	assert_int_equal(a->line, 2);
	assert_int_equal(a->interval, 60);
	config_free(c);
	free(inc);

	free(copy_fixture("syntax.conf", 0600));
	c = NULL;
	assert_int_equal(load("include_syntax.conf", 0600, &c, msg,
	    sizeof(msg)), E_CONFIG);
	assert_string_equal(msg, "syntax.conf:2: syntax error");
	assert_int_equal(load("include_missing.conf", 0600, &c, msg,
	    sizeof(msg)), E_CONFIG);
	/* libconfig names neither the file nor why; we do. */
	assert_string_equal(msg, "include_missing.conf:2: cannot open include "
	    "file absent.conf: No such file or directory");
}

/*
 * config_default_path and config_default_state_db: the XDG variable when
 * absolute, else the fallback under $HOME.
 */
static void
test_default_path(void **state)
{
	static const struct {
		const char	*var;
		char		*(*fn)(void);
		const char	*xdg;	/* NULL: unset */
		const char	*home;
		const char	*want;
	} rows[] = {
		{ "XDG_CONFIG_HOME", config_default_path, "/xdg", "/home/u",
		    "/xdg/popsyncd/config" },
		{ "XDG_CONFIG_HOME", config_default_path, NULL, "/home/u",
		    "/home/u/.config/popsyncd/config" },
		{ "XDG_CONFIG_HOME", config_default_path, "", "/home/u",
		    "/home/u/.config/popsyncd/config" },
		{ "XDG_CONFIG_HOME", config_default_path, "relative", "/home/u",
		    "/home/u/.config/popsyncd/config" },
		{ "XDG_STATE_HOME", config_default_state_db, "/st", "/home/u",
		    "/st/popsyncd/state.db" },
		{ "XDG_STATE_HOME", config_default_state_db, NULL, "/home/u",
		    "/home/u/.local/state/popsyncd/state.db" },
		{ "XDG_STATE_HOME", config_default_state_db, "rel", "/home/u",
		    "/home/u/.local/state/popsyncd/state.db" },
	};
	char	*p;
	size_t	 i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (rows[i].xdg == NULL)
			unsetenv(rows[i].var);
		else
			setenv(rows[i].var, rows[i].xdg, 1);
		setenv("HOME", rows[i].home, 1);
		p = rows[i].fn();
		assert_string_equal(p, rows[i].want);
		free(p);
		unsetenv(rows[i].var);
	}
}

/* A valid account built by hand, as config.c would leave it. */
static struct account *
good_account(void)
{
	struct account	*a;

	a = account_new();
	a->name = xstrdup("acct");
	a->host = xstrdup("h");
	a->user = xstrdup("u");
	a->maildir = xstrdup("/m");
	a->password = xstrdup("p");
	a->file = xstrdup("f.conf");
	a->line = 7;
	return a;
}

/* account_new: the documented defaults. */
static void
test_account_new(void **state)
{
	struct account	*a;

	a = account_new();
	assert_int_equal(a->port, 995);
	assert_int_equal(a->tls, ACCOUNT_TLS_IMPLICIT);
	assert_true(a->tls_verify);
	assert_int_equal(a->tls_min_version, 12);
	assert_int_equal(a->auth, ACCOUNT_AUTH_AUTO);
	assert_true(a->keep);
	assert_int_equal(a->interval, 300);
	assert_int_equal(a->timeout, 60);
	assert_int_equal(a->set, 0);
	assert_null(a->name);
	account_free(a);
	account_free(NULL);
}

/* A valid tls_fingerprint, and pieces of one for the rows below. */
#define HEX60	"0123456789abcdef0123456789ABCDEF" \
		"0123456789abcdef0123456789AB"
#define HEX64	HEX60 "CDEF"
#define COLONS	"01:23:45:67:89:ab:cd:ef:01:23:45:67:89:AB:CD:EF:" \
		"01:23:45:67:89:ab:cd:ef:01:23:45:67:89:AB:CD:EF"

/* The fields the account_check rows change, and how to write them. */
static const struct {
	const char	*key;
	size_t		 off;
	char		 type;	/* 's' string, 'i' int or enum, 'b' bool */
} check_fields[] = {
	{ "name", offsetof(struct account, name), 's' },
	{ "host", offsetof(struct account, host), 's' },
	{ "user", offsetof(struct account, user), 's' },
	{ "maildir", offsetof(struct account, maildir), 's' },
	{ "password", offsetof(struct account, password), 's' },
	{ "password_command", offsetof(struct account, password_command),
	    's' },
	{ "tls_fingerprint", offsetof(struct account, tls_fingerprint), 's' },
	{ "port", offsetof(struct account, port), 'i' },
	{ "tls", offsetof(struct account, tls), 'i' },
	{ "auth", offsetof(struct account, auth), 'i' },
	{ "tls_min_version", offsetof(struct account, tls_min_version), 'i' },
	{ "delete_after_days", offsetof(struct account, delete_after_days),
	    'i' },
	{ "interval", offsetof(struct account, interval), 'i' },
	{ "timeout", offsetof(struct account, timeout), 'i' },
	{ "tls_verify", offsetof(struct account, tls_verify), 'b' },
};

/* Set one field of a by name; a NULL value removes a string. */
static void
set_field(struct account *a, const char *key, const char *value)
{
	char	*p;
	size_t	 i;

	for (i = 0; i < sizeof(check_fields) / sizeof(check_fields[0]); i++) {
		if (strcmp(check_fields[i].key, key) != 0)
			continue;
		p = (char *)a + check_fields[i].off;
		switch (check_fields[i].type) {
		case 's':
			freezero(*(char **)p, 0);
			*(char **)p = value != NULL ? xstrdup(value) : NULL;
			break;
		case 'i':
			*(int *)p = atoi(value);
			break;
		default:
			*(bool *)p = strcmp(value, "true") == 0;
			break;
		}
		return;
	}
	fail_msg("no field %s", key);
}

/* Up to two changes to a good account and account_check's verdict. */
struct check_case {
	const char	*key1, *value1;
	const char	*key2, *value2;
	const char	*msg;	/* NULL: passes */
};

static const struct check_case check_cases[] = {
	{ NULL, NULL, NULL, NULL, NULL },
	{ "tls_verify", "false", "tls", "2", NULL },
	{ "tls_verify", "false", "tls_fingerprint", "sha256:" COLONS, NULL },
	{ "name", X13 X13 X13 X13 "xxxxxxxxxxxx", NULL, NULL, NULL },
	{ "name", NULL, NULL, NULL,
	    "f.conf:7: name: missing; every account needs one" },
	{ "host", "", NULL, NULL,
	    "f.conf:7: host: missing; every account needs one" },
	{ "user", NULL, NULL, NULL,
	    "f.conf:7: user: missing; every account needs one" },
	{ "maildir", NULL, NULL, NULL,
	    "f.conf:7: maildir: missing; every account needs one" },
	{ "name", "a/b", NULL, NULL, "f.conf:7: name: expected 1 to 64 "
	    "letters, digits, '.', '_' or '-'" },
	{ "name", X65, NULL, NULL, "f.conf:7: name: expected 1 to 64 "
	    "letters, digits, '.', '_' or '-'" },
	{ "port", "0", NULL, NULL,
	    "f.conf:7: port: expected an integer from 1 to 65535, got 0" },
	{ "port", "65536", NULL, NULL,
	    "f.conf:7: port: expected an integer from 1 to 65535, got 65536" },
	{ "tls", "9", NULL, NULL, "f.conf:7: tls: bad value 9" },
	{ "auth", "9", NULL, NULL, "f.conf:7: auth: bad value 9" },
	{ "tls_min_version", "11", NULL, NULL,
	    "f.conf:7: tls_min_version: expected \"1.2\" or \"1.3\"" },
	{ "tls_fingerprint", "sha1:00", NULL, NULL, "f.conf:7: "
	    "tls_fingerprint: expected \"sha256:\" and 64 hex digits, colons "
	    "allowed between pairs" },
	{ "tls_verify", "false", NULL, NULL, "f.conf:7: tls_verify: false "
	    "needs a tls_fingerprint to pin the server" },
	{ "delete_after_days", "-1", NULL, NULL, "f.conf:7: "
	    "delete_after_days: expected an integer from 0 to 36500, got -1" },
	{ "delete_after_days", "36500", NULL, NULL, NULL },
	{ "delete_after_days", "36501", NULL, NULL, "f.conf:7: "
	    "delete_after_days: expected an integer from 0 to 36500, got "
	    "36501" },
	{ "interval", "0", NULL, NULL, "f.conf:7: interval: expected an "
	    "integer from 1 to 2592000, got 0" },
	{ "interval", "2592000", NULL, NULL, NULL },
	{ "interval", "2592001", NULL, NULL, "f.conf:7: interval: expected an "
	    "integer from 1 to 2592000, got 2592001" },
	{ "timeout", "-5", NULL, NULL, "f.conf:7: timeout: expected an "
	    "integer from 1 to 3600, got -5" },
	{ "timeout", "3600", NULL, NULL, NULL },
	{ "timeout", "3000000", NULL, NULL, "f.conf:7: timeout: expected an "
	    "integer from 1 to 3600, got 3000000" },
	/* OAuth needs a secret too: the token. */
	{ "password", NULL, "auth", "6", "f.conf:7: account acct: expected one "
	    "of password, password_command or password_file (auth "
	    "\"xoauth2\" needs a secret)" },
	{ "password_command", "echo p", NULL, NULL, "f.conf:7: account acct: "
	    "only one of password, password_command and password_file may be "
	    "set" },
};

/* account_check on hand-built accounts, apart from any parsing. */
static void
test_account_check(void **state)
{
	struct account	*a;
	struct err	 e;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		a = good_account();
		if (check_cases[i].key1 != NULL)
			set_field(a, check_cases[i].key1, check_cases[i].value1);
		if (check_cases[i].key2 != NULL)
			set_field(a, check_cases[i].key2, check_cases[i].value2);
		err_clear(&e);
		rc = account_check(a, &e);
		if (check_cases[i].msg == NULL) {
			if (rc != 0)
				fail_msg("row %zu: %s", i, e.msg);
		} else {
			assert_int_equal(rc, E_CONFIG);
			if (strcmp(e.msg, check_cases[i].msg) != 0)
				fail_msg("row %zu:\n  got  %s\n  want %s", i,
				    e.msg, check_cases[i].msg);
		}
		account_free(a);
	}
}

/* account_name_ok and account_fingerprint_ok, one row per input. */
static void
test_account_syntax(void **state)
{
	static const struct {
		bool		 fingerprint;
		const char	*s;
		bool		 ok;
	} rows[] = {
		{ false, "a", true },
		{ false, "Work.main_2-x", true },
		{ false, X13 X13 X13 X13 "xxxxxxxxxxxx", true },
		{ false, X65, false },
		{ false, "", false },
		{ false, "a b", false },
		{ false, "a/b", false },
		{ false, "caf\xc3\xa9", false },
		{ false, "a:b", false },
		{ true, "sha256:" HEX64, true },
		{ true, "sha256:" COLONS, true },
		{ true, "sha256:" COLONS ":", false },
		{ true, "sha256::" COLONS, false },
		{ true, "sha256:01::23" HEX60, false },
		{ true, "sha256:0:123" HEX60, false },
		{ true, "sha256:" HEX64 "00", false },
		{ true, "sha256:" HEX60 "CD", false },
		{ true, "sha256:" HEX64 "g", false },
		{ true, "sha256:" HEX60 "CDE ", false },
		{ true, "SHA256:" HEX64, false },
		{ true, "sha1:" HEX64, false },
		{ true, HEX64, false },
		{ true, "sha256:", false },
	};
	size_t	i;
	bool	got;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		got = rows[i].fingerprint ? account_fingerprint_ok(rows[i].s) :
		    account_name_ok(rows[i].s);
		if (got != rows[i].ok)
			fail_msg("row %zu (%s): got %d", i, rows[i].s, got);
	}
}

/* The keyword tables: every enum value round-trips, strangers fail. */
static void
test_account_names(void **state)
{
	enum account_tls	t;
	enum account_auth	au;
	int			i;

	for (i = ACCOUNT_TLS_IMPLICIT; i <= ACCOUNT_TLS_NONE; i++) {
		assert_non_null(account_tls_name(i));
		assert_int_equal(account_parse_tls(account_tls_name(i), &t), 0);
		assert_int_equal(t, i);
	}
	for (i = ACCOUNT_AUTH_AUTO; i <= ACCOUNT_AUTH_OAUTHBEARER; i++) {
		assert_non_null(account_auth_name(i));
		assert_int_equal(account_parse_auth(account_auth_name(i), &au),
		    0);
		assert_int_equal(au, i);
	}
	assert_string_equal(account_tls_name(ACCOUNT_TLS_STARTTLS),
	    "starttls");
	assert_string_equal(account_auth_name(ACCOUNT_AUTH_CRAM_MD5),
	    "cram-md5");
	assert_null(account_tls_name(ACCOUNT_TLS_NONE + 1));
	assert_null(account_auth_name(ACCOUNT_AUTH_OAUTHBEARER + 1));
	assert_int_equal(account_parse_tls("ssl", &t), -1);
	assert_int_equal(account_parse_tls("IMPLICIT", &t), -1);
	assert_int_equal(account_parse_auth("digest-md5", &au), -1);
	assert_int_equal(account_parse_auth("", &au), -1);
}

/* One password source, its timeout, and the secret or error it gives. */
struct secret_case {
	const char	*password;
	const char	*command;
	const char	*file_text;	/* written to tmpdir/pw at 0600 */
	int		 timeout;
	const char	*want;		/* the secret, or NULL */
	const char	*msg;		/* the error, or NULL */
};

static const struct secret_case secret_cases[] = {
	{ "literal pw", NULL, NULL, 5, "literal pw", NULL },
	{ NULL, "printf 'sekrit\\nsecond\\n'", NULL, 5, "sekrit", NULL },
	{ NULL, "printf 'crlf\\r\\n'", NULL, 5, "crlf", NULL },
	{ NULL, "printf noeol", NULL, 5, "noeol", NULL },
	/* stdin is /dev/null: read gets EOF at once instead of waiting. */
	{ NULL, "read x; echo \"got$x\"", NULL, 5, "got", NULL },
	{ NULL, "echo out; echo stderr-is-not-the-secret >&2", NULL, 5, "out", NULL },
	{ NULL, "exit 3", NULL, 5, NULL,
	    "t: password_command failed: exited with status 3" },
	{ NULL, "echo sekrit; exit 1", NULL, 5, NULL,
	    "t: password_command failed: exited with status 1" },
	{ NULL, "kill -9 $$", NULL, 5, NULL,
	    "t: password_command failed: killed by signal 9" },
	{ NULL, "true", NULL, 5, NULL,
	    "t: password_command failed: the first line is empty" },
	{ NULL, "printf '\\nsecond\\n'", NULL, 5, NULL,
	    "t: password_command failed: the first line is empty" },
	{ NULL, "head -c 20000 /dev/zero | tr '\\0' a", NULL, 5, NULL,
	    "t: password_command failed: first line longer than 16384 bytes" },
	/* Much output after the first line is drained, not a deadlock. */
	{ NULL, "echo first; head -c 300000 /dev/zero", NULL, 5, "first",
	    NULL },
	{ NULL, "sleep 5", NULL, 1, NULL,
	    "t: password_command failed: timed out after 1 s" },
	/* Closing stdout early does not end the wait for the exit. */
	{ NULL, "echo x; exec >&-; sleep 5", NULL, 1, NULL,
	    "t: password_command failed: timed out after 1 s" },
	{ NULL, NULL, "filesecret\nignored\n", 5, "filesecret", NULL },
	{ NULL, NULL, "winfile\r\n", 5, "winfile", NULL },
	{ NULL, NULL, "nonewline", 5, "nonewline", NULL },
	{ NULL, NULL, "", 5, NULL,
	    "t: password_file failed: the first line is empty" },
	{ NULL, NULL, "\nsecond\n", 5, NULL,
	    "t: password_file failed: the first line is empty" },
};

/* account_secret from each source, each failure named, no secret shown. */
static void
test_account_secret(void **state)
{
	const struct secret_case *c;
	struct account	*a;
	struct err	 e;
	char		*out;
	int64_t		 t0, ms;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(secret_cases) / sizeof(secret_cases[0]); i++) {
		c = &secret_cases[i];
		a = account_new();
		a->name = xstrdup("t");
		a->timeout = c->timeout;
		if (c->password != NULL)
			a->password = xstrdup(c->password);
		if (c->command != NULL)
			a->password_command = xstrdup(c->command);
		if (c->file_text != NULL)
			a->password_file = write_file("pw", c->file_text,
			    0600);
		err_clear(&e);
		out = NULL;
		t0 = util_now_ms();
		rc = account_secret(a, NULL, &out, &e);
		ms = util_now_ms() - t0;
		if (c->want != NULL) {
			if (rc != 0)
				fail_msg("row %zu: %s", i, e.msg);
			assert_string_equal(out, c->want);
		} else {
			assert_int_equal(rc, E_CONFIG);
			assert_null(out);
			if (strcmp(e.msg, c->msg) != 0)
				fail_msg("row %zu:\n  got  %s\n  want %s", i,
				    e.msg, c->msg);
			assert_null(strstr(e.msg, "sekrit"));
		}
		/* The timeout bounds every row, with a little slack. */
		assert_true(ms < (int64_t)c->timeout * 1000 + 1000);
		freezero(out, 0);
		account_free(a);
	}
}

/* A command that leaves a daemon holding stdout still returns at exit. */
static void
test_account_secret_background(void **state)
{
	struct account	*a;
	struct err	 e;
	char		*out = NULL;
	int64_t		 t0;

	a = account_new();
	a->name = xstrdup("t");
	a->timeout = 10;
	a->password_command = xstrdup("echo early; sleep 3 &");
	t0 = util_now_ms();
	assert_int_equal(account_secret(a, NULL, &out, &e), 0);
	assert_true(util_now_ms() - t0 < 2000);
	assert_string_equal(out, "early");
	freezero(out, 0);
	account_free(a);
}

/* password_file errors: missing, and readable by others at read time. */
static void
test_account_secret_file_errors(void **state)
{
	struct account	*a;
	struct err	 e;
	char		*out = NULL, msg[ERR_MSGLEN];

	a = account_new();
	a->name = xstrdup("t");
	a->password_file = tmp_path("nofile");
	assert_int_equal(account_secret(a, NULL, &out, &e), E_CONFIG);
	strip_tmpdir(e.msg, msg, sizeof(msg));
	assert_string_equal(msg, "t: password_file nofile: No such file or "
	    "directory");
	free(a->password_file);

	a->password_file = write_file("open", "sekrit\n", 0640);
	assert_int_equal(account_secret(a, NULL, &out, &e), E_CONFIG);
	assert_null(out);
	strip_tmpdir(e.msg, msg, sizeof(msg));
	assert_string_equal(msg, "t: open: holds a password but is readable "
	    "by group or others (mode 0640); chmod 600 open");
	free(a->password_file);

	/* A FIFO nobody writes to: refused at once, not read for ever.  A
	 * hang here would show as the test runner's timeout. */
	a->password_file = tmp_path("fifo");
	assert_int_equal(mkfifo(a->password_file, 0600), 0);
	assert_int_equal(account_secret(a, NULL, &out, &e), E_CONFIG);
	assert_null(out);
	strip_tmpdir(e.msg, msg, sizeof(msg));
	assert_string_equal(msg, "t: fifo: not a regular file (a FIFO or "
	    "device would block or change under us); refusing to read it");
	/* And so is a directory, already at account_check. */
	free(a->password_file);
	a->password_file = xstrdup(tmpdir);
	a->host = xstrdup("h");
	a->user = xstrdup("u");
	a->maildir = xstrdup("/m");
	a->file = xstrdup("f.conf");
	a->line = 3;
	assert_int_equal(account_check(a, &e), E_CONFIG);
	assert_non_null(strstr(e.msg, "f.conf:3: password_file: "));
	assert_non_null(strstr(e.msg, "not a regular file"));
	account_free(a);
}

/* "~" without HOME is the password database's home, never "./~". */
static void
test_load_home_unset(void **state)
{
	struct config	*c = NULL;
	struct passwd	*pw;
	char		 msg[ERR_MSGLEN], *want;

	assert_non_null(pw = getpwuid(getuid()));
	want = xasprintf("%s/Mail/full", pw->pw_dir);
	unsetenv("HOME");
	assert_int_equal(load("good.conf", 0600, &c, msg, sizeof(msg)), 0);
	assert_string_equal(TAILQ_FIRST(&c->accounts)->maildir, want);
	config_free(c);
	c = NULL;
	setenv("HOME", "", 1);
	assert_int_equal(load("good.conf", 0600, &c, msg, sizeof(msg)), 0);
	assert_string_equal(TAILQ_FIRST(&c->accounts)->maildir, want);
	config_free(c);
	setenv("HOME", "/home/test", 1);
	free(want);
}

/* An integer past 32 bits without an L: the file's number, not libconfig's
 * wrapped one. */
static void
test_load_unsuffixed_int64(void **state)
{
	struct config	*c = NULL;
	char		 msg[ERR_MSGLEN];

	assert_int_equal(load("unsuffixed_size.conf", 0600, &c, msg,
	    sizeof(msg)), 0);
	assert_int_equal(TAILQ_FIRST(&c->accounts)->max_message_size,
	    10000000000ULL);
	config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_good, tmp_setup,
		    tmp_teardown),
		cmocka_unit_test_setup_teardown(test_load_minimal, tmp_setup,
		    tmp_teardown),
		cmocka_unit_test_setup_teardown(test_load_bad, tmp_setup,
		    tmp_teardown),
		cmocka_unit_test_setup_teardown(test_load_oauth2, tmp_setup,
		    tmp_teardown),
		cmocka_unit_test_setup_teardown(test_load_missing_file,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_load_password_mode,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_load_password_file_mode,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_load_include, tmp_setup,
		    tmp_teardown),
		cmocka_unit_test_setup_teardown(test_load_home_unset,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_load_unsuffixed_int64,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test(test_default_path),
		cmocka_unit_test(test_account_new),
		cmocka_unit_test(test_account_check),
		cmocka_unit_test(test_account_syntax),
		cmocka_unit_test(test_account_names),
		cmocka_unit_test_setup_teardown(test_account_secret, tmp_setup,
		    tmp_teardown),
		cmocka_unit_test_setup_teardown(test_account_secret_background,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(
		    test_account_secret_file_errors, tmp_setup, tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
