/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* The config file: libconfig settings to struct config and accounts. */

#include "autoconf.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "oauth2.h"
#include "util.h"
#include "xmalloc.h"

/* How a key's value is checked and stored. */
enum config_kind {
	CONFIG_STRING,		/* non-empty string */
	CONFIG_PATH,		/* non-empty string, "~" expanded */
	CONFIG_PASSWORD,	/* the secret itself: the file must be private */
	CONFIG_NAME,		/* account name, unique */
	CONFIG_FINGERPRINT,
	CONFIG_BOOL,
	CONFIG_INT,		/* int in [min, max] */
	CONFIG_SIZE,		/* uint64_t in [min, max] */
	CONFIG_TLS,
	CONFIG_AUTH,
	CONFIG_TLS_VERSION,
	CONFIG_LOG_LEVEL,
	CONFIG_PROVIDER
};

/* A key password, password_command or password_file: one per account. */
#define CONFIG_SOURCE	0x01

struct config_key {
	const char	*name;
	enum config_kind kind;
	size_t		 off;		/* into the struct being filled */
	long long	 min;
	long long	 max;
	unsigned	 set;		/* enum account_set bit to record */
	unsigned	 flags;
};

/* What one config_load needs while it walks the settings. */
struct config_ctx {
	const char	*path;
	const char	*dir;		/* where @include looks */
	int		 fd;		/* the main file, for its mode */
	struct config	*c;
};

static const struct config_key *config_key_find(const struct config_key *,
		    const char *);
static const char *config_file(const struct config_ctx *, const char *,
		    char *, size_t);
static int	config_where(const struct config_ctx *,
		    const config_setting_t *, char *, size_t);
static int	config_apply(const struct config_ctx *,
		    const struct config_key *, const config_setting_t *,
		    void *, struct err *);
static int	config_apply_string(const struct config_ctx *,
		    const struct config_key *, const config_setting_t *,
		    void *, const char *, struct err *);
static int	config_apply_int(const struct config_ctx *,
		    const struct config_key *, const config_setting_t *,
		    void *, const char *, struct err *);
static int	config_int_literal(const struct config_ctx *,
		    const struct config_key *, const config_setting_t *,
		    long long *, char *, size_t);
static int	config_read_error(const struct config_ctx *, config_t *,
		    struct err *);
static int	config_accounts(struct config_ctx *, const config_setting_t *,
		    struct err *);
static int	config_account(struct config_ctx *, const config_setting_t *,
		    struct err *);
static int	config_oauth2(struct config_ctx *, const config_setting_t *,
		    struct account *, struct err *);
static void	config_oauth2_token_file(const struct config *,
		    struct account *);
static char	*config_xdg_path(const char *, const char *, const char *);

#define GLOBAL(n, k, f, lo, hi) \
	{ n, k, offsetof(struct config, f), lo, hi, 0, 0 }
#define ACCOUNT(n, k, f, lo, hi, s, fl) \
	{ n, k, offsetof(struct account, f), lo, hi, s, fl }
#define OAUTH2(n, k, f) \
	{ n, k, offsetof(struct account_oauth2, f), 0, 0, 0, 0 }

static const struct config_key config_global_keys[] = {
	GLOBAL("state_db", CONFIG_PATH, state_db, 0, 0),
	GLOBAL("interval", CONFIG_INT, interval, 1, ACCOUNT_INTERVAL_MAX),
	GLOBAL("max_parallel", CONFIG_INT, max_parallel, 1, 64),
	GLOBAL("log_level", CONFIG_LOG_LEVEL, log_level, 0, 0),
	GLOBAL("allow_root", CONFIG_BOOL, allow_root, 0, 0),
	{ NULL, 0, 0, 0, 0, 0, 0 }
};

static const struct config_key config_account_keys[] = {
	ACCOUNT("name", CONFIG_NAME, name, 0, 0, 0, 0),
	ACCOUNT("host", CONFIG_STRING, host, 0, 0, 0, 0),
	ACCOUNT("port", CONFIG_INT, port, 1, 65535, ACCOUNT_SET_PORT, 0),
	ACCOUNT("tls", CONFIG_TLS, tls, 0, 0, 0, 0),
	ACCOUNT("ca_file", CONFIG_PATH, ca_file, 0, 0, 0, 0),
	ACCOUNT("tls_verify", CONFIG_BOOL, tls_verify, 0, 0, 0, 0),
	ACCOUNT("tls_fingerprint", CONFIG_FINGERPRINT, tls_fingerprint, 0, 0,
	    0, 0),
	ACCOUNT("tls_min_version", CONFIG_TLS_VERSION, tls_min_version, 0, 0,
	    0, 0),
	ACCOUNT("user", CONFIG_STRING, user, 0, 0, 0, 0),
	ACCOUNT("password", CONFIG_PASSWORD, password, 0, 0, 0,
	    CONFIG_SOURCE),
	ACCOUNT("password_command", CONFIG_STRING, password_command, 0, 0, 0,
	    CONFIG_SOURCE),
	ACCOUNT("password_file", CONFIG_PATH, password_file, 0, 0, 0,
	    CONFIG_SOURCE),
	ACCOUNT("auth", CONFIG_AUTH, auth, 0, 0, 0, 0),
	ACCOUNT("allow_plaintext_auth", CONFIG_BOOL, allow_plaintext_auth, 0,
	    0, 0, 0),
	ACCOUNT("maildir", CONFIG_PATH, maildir, 0, 0, 0, 0),
	ACCOUNT("keep", CONFIG_BOOL, keep, 0, 0, 0, 0),
	ACCOUNT("delete_after_days", CONFIG_INT, delete_after_days, 0,
	    ACCOUNT_DELETE_DAYS_MAX, 0, 0),
	/* libconfig 1.5 wraps integers past 2^31 without an L suffix. */
	ACCOUNT("max_message_size", CONFIG_SIZE, max_message_size, 0,
	    INT64_MAX, 0, 0),
	ACCOUNT("interval", CONFIG_INT, interval, 1, ACCOUNT_INTERVAL_MAX,
	    ACCOUNT_SET_INTERVAL, 0),
	ACCOUNT("timeout", CONFIG_INT, timeout, 1, ACCOUNT_TIMEOUT_MAX,
	    ACCOUNT_SET_TIMEOUT, 0),
	{ NULL, 0, 0, 0, 0, 0, 0 }
};

/* The keys of an account's oauth2 = { ... } group. */
static const struct config_key config_oauth2_keys[] = {
	OAUTH2("provider", CONFIG_PROVIDER, provider),
	OAUTH2("client_id", CONFIG_STRING, client_id),
	OAUTH2("client_secret", CONFIG_PASSWORD, client_secret),
	OAUTH2("client_secret_file", CONFIG_PATH, client_secret_file),
	OAUTH2("client_secret_command", CONFIG_STRING, client_secret_command),
	OAUTH2("token_endpoint", CONFIG_STRING, token_endpoint),
	OAUTH2("device_authorization_endpoint", CONFIG_STRING,
	    device_authorization_endpoint),
	OAUTH2("scope", CONFIG_STRING, scope),
	OAUTH2("tenant", CONFIG_STRING, tenant),
	{ NULL, 0, 0, 0, 0, 0, 0 }
};

/* Load path into a new struct config, stopping at the first error. */
int
config_load(const char *path, struct config **out, struct err *e)
{
	struct config_ctx	 ctx;
	config_t		 cfg;
	config_setting_t	*root, *s;
	const struct config_key	*k;
	struct account		*a;
	FILE			*fp = NULL;
	char			*dir = NULL, where[PATH_MAX + 32];
	const char		*name;
	int			 i, rc = 0;

	*out = NULL;
	config_init(&cfg);
	memset(&ctx, 0, sizeof(ctx));
	ctx.path = path;
	ctx.fd = -1;
	ctx.c = xcalloc(1, sizeof(*ctx.c));
	ctx.c->path = xstrdup(path);
	ctx.c->interval = 300;
	ctx.c->max_parallel = 4;
	ctx.c->log_level = LOG_LVL_INFO;
	TAILQ_INIT(&ctx.c->accounts);

	/* "e": a password_command must not inherit the config file. */
	if ((fp = fopen(path, "re")) == NULL) {
		rc = err_set(e, E_CONFIG, "%s: %s", path, strerror(errno));
		goto out;
	}
	ctx.fd = fileno(fp);
	/* @include "x" names a file next to this one, not in our cwd. */
	dir = xstrdup(path);
	ctx.dir = dirname(dir);
	config_set_include_dir(&cfg, ctx.dir);
	if (config_read(&cfg, fp) != CONFIG_TRUE) {
		rc = config_read_error(&ctx, &cfg, e);
		goto out;
	}

	root = config_root_setting(&cfg);
	for (i = 0; (s = config_setting_get_elem(root, i)) != NULL; i++) {
		name = config_setting_name(s);
		config_where(&ctx, s, where, sizeof(where));
		if (strcmp(name, "accounts") == 0)
			rc = config_accounts(&ctx, s, e);
		else if ((k = config_key_find(config_global_keys, name)) !=
		    NULL)
			rc = config_apply(&ctx, k, s, ctx.c, e);
		else
			rc = err_set(e, E_CONFIG, "%s: %s: unknown global key",
			    where, name);
		if (rc < 0)
			goto out;
		if (strcmp(name, "log_level") == 0)
			ctx.c->log_level_set = true;
	}

	if (ctx.c->state_db == NULL)
		ctx.c->state_db = config_default_state_db();
	/* The global interval may come after the accounts in the file. */
	TAILQ_FOREACH(a, &ctx.c->accounts, entry) {
		if ((a->set & ACCOUNT_SET_INTERVAL) == 0)
			a->interval = ctx.c->interval;
		config_oauth2_token_file(ctx.c, a);
	}
	*out = ctx.c;
	ctx.c = NULL;
out:
	config_destroy(&cfg);
	if (fp != NULL)
		fclose(fp);
	free(dir);
	config_free(ctx.c);
	return rc;
}

/* Free the config and every account in it. */
void
config_free(struct config *c)
{
	struct account	*a;

	if (c == NULL)
		return;
	while ((a = TAILQ_FIRST(&c->accounts)) != NULL) {
		TAILQ_REMOVE(&c->accounts, a, entry);
		account_free(a);
	}
	free(c->path);
	free(c->state_db);
	free(c);
}

/*
 * $env/popsyncd/leaf when $env is an absolute path (the XDG spec says to
 * ignore a relative one), else $HOME/fallback/popsyncd/leaf.
 */
static char *
config_xdg_path(const char *env, const char *fallback, const char *leaf)
{
	const char	*xdg, *home;
	struct passwd	*pw;

	xdg = getenv(env);
	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/popsyncd/%s", xdg, leaf);
	home = getenv("HOME");
	if ((home == NULL || *home == '\0') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (home == NULL)
		home = "";
	return xasprintf("%s/%s/popsyncd/%s", home, fallback, leaf);
}

/* The XDG location of the config file. */
char *
config_default_path(void)
{
	return config_xdg_path("XDG_CONFIG_HOME", ".config", "config");
}

/* The XDG location of the state database. */
char *
config_default_state_db(void)
{
	return config_xdg_path("XDG_STATE_HOME", ".local/state", "state.db");
}

/* The account called name, or NULL. */
struct account *
config_find(const struct config *c, const char *name)
{
	struct account	*a;

	TAILQ_FOREACH(a, &c->accounts, entry) {
		if (strcmp(a->name, name) == 0)
			return a;
	}
	return NULL;
}

/* The table entry for name, or NULL for an unknown key. */
static const struct config_key *
config_key_find(const struct config_key *keys, const char *name)
{
	for (; keys->name != NULL; keys++) {
		if (strcmp(keys->name, name) == 0)
			return keys;
	}
	return NULL;
}

/*
 * The path of the file a setting or an error came from.  Settings read
 * from our stream carry no file name; included ones carry the name as the
 * @include wrote it, relative to the include directory.
 */
static const char *
config_file(const struct config_ctx *ctx, const char *raw, char *buf,
    size_t len)
{
	if (raw == NULL || strcmp(raw, ctx->path) == 0)
		return ctx->path;
	if (raw[0] == '/' || strcmp(ctx->dir, ".") == 0)
		return raw;
	snprintf(buf, len, "%s/%s", ctx->dir, raw);
	return buf;
}

/* "FILE:LINE" of a setting, for the front of a message. */
static int
config_where(const struct config_ctx *ctx, const config_setting_t *s,
    char *buf, size_t len)
{
	char	path[PATH_MAX];

	return snprintf(buf, len, "%s:%u", config_file(ctx,
	    config_setting_source_file(s), path, sizeof(path)),
	    (unsigned)config_setting_source_line(s));
}

/*
 * libconfig's parse error as FILE:LINE: TEXT.  For an @include it cannot
 * open, libconfig names neither the file nor why, so both are added: the
 * name is read back from the @include line, and the open is tried again.
 */
static int
config_read_error(const struct config_ctx *ctx, config_t *cfg, struct err *e)
{
	const char	*file, *text = config_error_text(cfg);
	char		 buf[PATH_MAX], *line = NULL, *p, *q, *inc = NULL;
	size_t		 cap = 0;
	FILE		*fp;
	int		 lineno = config_error_line(cfg), n = 0, rc, fd;

	file = config_file(ctx, config_error_file(cfg), buf, sizeof(buf));
	if (text == NULL || strcmp(text, "cannot open include file") != 0 ||
	    (fp = fopen(file, "re")) == NULL)
		return err_set(e, E_CONFIG, "%s:%d: %s", file, lineno,
		    text != NULL ? text : "error");
	while (getline(&line, &cap, fp) != -1 && ++n < lineno)
		;
	fclose(fp);
	if (n == lineno && (p = strstr(line, "@include")) != NULL &&
	    (p = strchr(p, '"')) != NULL && (q = strchr(p + 1, '"')) != NULL) {
		*q = '\0';
		inc = p[1] == '/' ? xstrdup(p + 1) :
		    xasprintf("%s/%s", ctx->dir, p + 1);
	}
	free(line);
	if (inc == NULL)
		return err_set(e, E_CONFIG, "%s:%d: %s", file, lineno, text);
	if ((fd = open(inc, O_RDONLY | O_CLOEXEC)) != -1) {
		close(fd);
		errno = EACCES;
	}
	rc = err_set(e, E_CONFIG, "%s:%d: cannot open include file %s: %s",
	    file, lineno, inc, strerror(errno));
	free(inc);
	return rc;
}

/* Check one setting against its key and store it at obj + k->off. */
static int
config_apply(const struct config_ctx *ctx, const struct config_key *k,
    const config_setting_t *s, void *obj, struct err *e)
{
	char	 where[PATH_MAX + 32];
	void	*p = (char *)obj + k->off;

	config_where(ctx, s, where, sizeof(where));
	switch (k->kind) {
	case CONFIG_BOOL:
		/* libconfig would take 1 for true; a typo should not. */
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return err_set(e, E_CONFIG, "%s: %s: expected true or "
			    "false", where, k->name);
		*(bool *)p = config_setting_get_bool(s) != 0;
		return 0;
	case CONFIG_INT:
	case CONFIG_SIZE:
		return config_apply_int(ctx, k, s, p, where, e);
	default:
		return config_apply_string(ctx, k, s, p, where, e);
	}
}

/*
 * The number as the file writes it, when libconfig may have changed it:
 * libconfig 1.5 silently wraps an integer past 32 bits that lacks an L
 * suffix (4294967297 reads as 1), which would slip past any bound.  So the
 * literal after "key =" on the setting's line is parsed again.  Returns 1
 * and *v when found, with the literal in shown; -1 when it is found but
 * does not fit 64 bits either; 0 when the line does not hold it in that
 * form (a value on the next line): then libconfig's own value stands.
 */
static int
config_int_literal(const struct config_ctx *ctx, const struct config_key *k,
    const config_setting_t *s, long long *v, char *shown, size_t shownlen)
{
	char		 path[PATH_MAX], *line = NULL, *p, *end;
	size_t		 cap = 0, klen = strlen(k->name);
	unsigned	 want = config_setting_source_line(s), n = 0;
	FILE		*fp;
	int		 found = 0;

	if ((fp = fopen(config_file(ctx, config_setting_source_file(s), path,
	    sizeof(path)), "re")) == NULL)
		return 0;
	while (getline(&line, &cap, fp) != -1 && ++n < want)
		;
	fclose(fp);
	for (p = n == want ? line : NULL; p != NULL &&
	    (p = strstr(p, k->name)) != NULL; p += klen) {
		if (p > line && (isalnum((unsigned char)p[-1]) ||
		    p[-1] == '_'))
			continue;
		end = p + klen + strspn(p + klen, " \t");
		if (*end != '=' && *end != ':')
			continue;
		p = end + 1 + strspn(end + 1, " \t");
		errno = 0;
		*v = strtoll(p, &end, 0);
		if (end == p)
			break;
		snprintf(shown, shownlen, "%.*s", (int)(end - p), p);
		found = errno == ERANGE ? -1 : 1;
		break;
	}
	free(line);
	return found;
}

/* An integer setting, range-checked into an int or a uint64_t. */
static int
config_apply_int(const struct config_ctx *ctx, const struct config_key *k,
    const config_setting_t *s, void *p, const char *where, struct err *e)
{
	long long	v, lit;
	char		shown[32];
	int		found;

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return err_set(e, E_CONFIG, "%s: %s: expected an integer",
		    where, k->name);
	v = config_setting_get_int64(s);
	snprintf(shown, sizeof(shown), "%lld", v);
	/* The number the file says, not what libconfig wrapped it to. */
	if ((found = config_int_literal(ctx, k, s, &lit, shown,
	    sizeof(shown))) == 1)
		v = lit;
	if (found == -1 || v < k->min || v > k->max) {
		if (k->max == INT64_MAX)
			return err_set(e, E_CONFIG, "%s: %s: expected an "
			    "integer >= %lld, got %s", where, k->name, k->min,
			    shown);
		return err_set(e, E_CONFIG, "%s: %s: expected an integer from "
		    "%lld to %lld, got %s", where, k->name, k->min, k->max,
		    shown);
	}
	if (k->kind == CONFIG_SIZE)
		*(uint64_t *)p = (uint64_t)v;
	else
		*(int *)p = (int)v;
	return 0;
}

/* A string setting: plain, a path, a keyword or a checked format. */
static int
config_apply_string(const struct config_ctx *ctx, const struct config_key *k,
    const config_setting_t *s, void *p, const char *where, struct err *e)
{
	const char	*v, *expect = "a non-empty string", *file;
	char		 shown[80], path[PATH_MAX];
	int		 rc, bad = 0;

	switch (k->kind) {
	case CONFIG_NAME:
		expect = ACCOUNT_NAME_RULE;
		break;
	case CONFIG_FINGERPRINT:
		expect = ACCOUNT_FINGERPRINT_RULE;
		break;
	case CONFIG_TLS:
		expect = "\"implicit\", \"starttls\" or \"none\"";
		break;
	case CONFIG_AUTH:
		expect = "\"auto\", \"user\", \"apop\", \"plain\", \"login\", "
		    "\"cram-md5\", \"xoauth2\" or \"oauthbearer\"";
		break;
	case CONFIG_TLS_VERSION:
		expect = "\"1.2\" or \"1.3\"";
		break;
	case CONFIG_LOG_LEVEL:
		expect = "\"error\", \"warning\", \"info\", \"debug\" or "
		    "\"trace\"";
		break;
	case CONFIG_PROVIDER:
		expect = "\"google\", \"microsoft\" or \"custom\"";
		break;
	default:
		break;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return err_set(e, E_CONFIG, "%s: %s: expected %s%s", where,
		    k->name, expect, *expect == '"' ? " (a string)" : "");
	v = config_setting_get_string(s);

	switch (k->kind) {
	case CONFIG_NAME:
		bad = !account_name_ok(v);
		break;
	case CONFIG_FINGERPRINT:
		bad = !account_fingerprint_ok(v);
		break;
	case CONFIG_TLS:
		bad = account_parse_tls(v, p) == -1;
		break;
	case CONFIG_AUTH:
		bad = account_parse_auth(v, p) == -1;
		break;
	case CONFIG_TLS_VERSION:
		if (strcmp(v, "1.2") == 0)
			*(int *)p = 12;
		else if (strcmp(v, "1.3") == 0)
			*(int *)p = 13;
		else
			bad = 1;
		break;
	case CONFIG_LOG_LEVEL:
		bad = log_level_parse(v, p) == -1;
		break;
	case CONFIG_PROVIDER:
		bad = account_parse_provider(v, p) == -1;
		break;
	default:
		bad = *v == '\0';
		break;
	}
	if (bad) {
		/* Never echo a password, however malformed. */
		if (k->kind == CONFIG_PASSWORD)
			return err_set(e, E_CONFIG, "%s: %s: expected %s",
			    where, k->name, expect);
		err_sanitize(shown, sizeof(shown), v);
		return err_set(e, E_CONFIG, "%s: %s: expected %s, got \"%s\"",
		    where, k->name, expect, shown);
	}

	if (k->kind == CONFIG_PASSWORD) {
		file = config_file(ctx, config_setting_source_file(s), path,
		    sizeof(path));
		/* An included file holds passwords just as well. */
		rc = account_secure_file(file, file == ctx->path ? ctx->fd : -1,
		    e);
		if (rc < 0)
			return rc;
	}
	switch (k->kind) {
	case CONFIG_STRING:
	case CONFIG_NAME:
	case CONFIG_FINGERPRINT:
		*(char **)p = xstrdup(v);
		break;
	case CONFIG_PASSWORD:
		freezero(*(char **)p, 0);
		*(char **)p = xstrdup(v);
		break;
	case CONFIG_PATH:
		if ((*(char **)p = util_expand_home(v)) == NULL)
			return err_set(e, E_CONFIG, "%s: %s: cannot expand \"~\": "
			    "HOME is not set and the user has no home "
			    "directory", where, k->name);
		break;
	default:
		break;
	}
	return 0;
}

/* accounts = ( { ... }, ... ): each group becomes one checked account. */
static int
config_accounts(struct config_ctx *ctx, const config_setting_t *list,
    struct err *e)
{
	const config_setting_t	*g;
	char			 where[PATH_MAX + 32];
	int			 i, rc;

	config_where(ctx, list, where, sizeof(where));
	if (config_setting_type(list) != CONFIG_TYPE_LIST)
		return err_set(e, E_CONFIG, "%s: accounts: expected a list of "
		    "groups, accounts = ( { ... }, { ... } );", where);
	for (i = 0; (g = config_setting_get_elem(list, i)) != NULL; i++) {
		if ((rc = config_account(ctx, g, e)) < 0)
			return rc;
	}
	return 0;
}

/* One account group: keys, uniqueness, defaults, then account_check. */
static int
config_account(struct config_ctx *ctx, const config_setting_t *g,
    struct err *e)
{
	const config_setting_t	*s;
	const struct config_key	*k;
	struct account		*a, *other;
	const char		*name;
	char			 where[PATH_MAX + 32], path[PATH_MAX];
	int			 i, rc;

	config_where(ctx, g, where, sizeof(where));
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return err_set(e, E_CONFIG, "%s: accounts: expected a group "
		    "{ ... } for each account", where);

	a = account_new();
	a->file = xstrdup(config_file(ctx, config_setting_source_file(g),
	    path, sizeof(path)));
	a->line = (int)config_setting_source_line(g);
	/* Linked at once, so config_free frees it on any error below. */
	TAILQ_INSERT_TAIL(&ctx->c->accounts, a, entry);

	for (i = 0; (s = config_setting_get_elem(g, i)) != NULL; i++) {
		name = config_setting_name(s);
		config_where(ctx, s, where, sizeof(where));
		if (strcmp(name, "oauth2") == 0) {
			if ((rc = config_oauth2(ctx, s, a, e)) < 0)
				return rc;
			continue;
		}
		if ((k = config_key_find(config_account_keys, name)) == NULL)
			return err_set(e, E_CONFIG, "%s: %s: unknown key in "
			    "an account", where, name);
		if ((k->flags & CONFIG_SOURCE) != 0 && (a->password != NULL ||
		    a->password_command != NULL || a->password_file != NULL))
			return err_set(e, E_CONFIG, "%s: %s: only one of "
			    "password, password_command and password_file may "
			    "be set", where, name);
		if ((rc = config_apply(ctx, k, s, a, e)) < 0)
			return rc;
		a->set |= k->set;
		if (k->kind != CONFIG_NAME)
			continue;
		TAILQ_FOREACH(other, &ctx->c->accounts, entry) {
			if (other != a && other->name != NULL &&
			    strcmp(other->name, a->name) == 0)
				return err_set(e, E_CONFIG, "%s: name: account "
				    "\"%s\" is already defined at %s:%d", where,
				    a->name, other->file, other->line);
		}
	}
	if ((a->set & ACCOUNT_SET_PORT) == 0)
		a->port = a->tls == ACCOUNT_TLS_IMPLICIT ? 995 : 110;
	if ((rc = account_check(a, e)) < 0)
		return rc;
	/* One ledger per mailbox (store.h): two accounts on one would
	 * share it, and two syncs of one mailbox at once could each fetch
	 * a message the other is fetching. */
	TAILQ_FOREACH(other, &ctx->c->accounts, entry) {
		if (other != a && account_same_mailbox(a, other))
			return err_set(e, E_CONFIG, "%s:%d: account \"%s\" "
			    "names the mailbox %s@%s, as account \"%s\" at "
			    "%s:%d does; one account per mailbox", a->file,
			    a->line, a->name, a->user, a->host, other->name,
			    other->file, other->line);
	}
	return 0;
}

/*
 * oauth2 = { provider = "..."; client_id = "..."; ... }: the keys, then the
 * provider's preset endpoints and scope where the group gave none.
 */
static int
config_oauth2(struct config_ctx *ctx, const config_setting_t *g,
    struct account *a, struct err *e)
{
	const config_setting_t	*s;
	const struct config_key	*k;
	struct account_oauth2	*o;
	char			 where[PATH_MAX + 32];
	int			 i, rc;

	config_where(ctx, g, where, sizeof(where));
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return err_set(e, E_CONFIG, "%s: oauth2: expected a group "
		    "oauth2 = { provider = \"...\"; client_id = \"...\"; }",
		    where);
	if (a->oauth2 != NULL)
		return err_set(e, E_CONFIG, "%s: oauth2: set twice", where);
	o = a->oauth2 = xcalloc(1, sizeof(*o));
	o->provider = ACCOUNT_PROVIDER_CUSTOM;
	o->line = (int)config_setting_source_line(g);
	for (i = 0; (s = config_setting_get_elem(g, i)) != NULL; i++) {
		config_where(ctx, s, where, sizeof(where));
		if ((k = config_key_find(config_oauth2_keys,
		    config_setting_name(s))) == NULL)
			return err_set(e, E_CONFIG, "%s: %s: unknown key in "
			    "an oauth2 group", where, config_setting_name(s));
		if ((rc = config_apply(ctx, k, s, o, e)) < 0)
			return rc;
	}
	oauth2_preset(o);
	return 0;
}

/* Tokens live in a file of their own beside the state database. */
static void
config_oauth2_token_file(const struct config *c, struct account *a)
{
	char	*dir;

	if (a->oauth2 == NULL)
		return;
	dir = xstrdup(c->state_db);
	a->oauth2->token_file = xasprintf("%s/%s.oauth2", dirname(dir),
	    a->name);
	free(dir);
}
