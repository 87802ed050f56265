/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* OAuth2 tokens: device authorization, refresh, and the token file. */

#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "account.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "oauth2.h"
#include "xmalloc.h"

/* What the token file holds. */
struct oauth2_tokens {
	char		*access;
	char		*refresh;
	long long	 expires_at;	/* seconds since the epoch; 0: unknown */
};

/* An RFC 6749 section 5.2 error reply, sanitized for messages. */
struct oauth2_fail {
	char	error[64];
	char	desc[256];
};

/* oauth2_post's answer when the endpoint replied with an OAuth error. */
#define OAUTH2_REFUSED	1

static void	 oauth2_tokens_free(struct oauth2_tokens *);
static int	 oauth2_load(const struct account *, struct oauth2_tokens *,
		    struct err *);
static int	 oauth2_save(const struct account *,
		    const struct oauth2_tokens *, struct err *);
static int	 oauth2_post(const struct account *, struct waiter *,
		    const char *, const char *const *, json_t **,
		    struct oauth2_fail *, struct err *);
static const char *oauth2_str(const json_t *, const char *);
static long long oauth2_int(const json_t *, const char *, long long);
static int	 oauth2_take(const struct account *, const char *,
		    json_t *, struct oauth2_tokens *, struct err *);
static int	 oauth2_refused(const struct account *, const char *,
		    const struct oauth2_fail *, struct err *);
static void	 oauth2_sleep(long long);
static void	 oauth2_client(const char **, size_t,
		    const struct account_oauth2 *, const char *);

/* The endpoints of the presets; %s is microsoft's tenant. */
#define OAUTH2_GOOGLE_TOKEN	"https://oauth2.googleapis.com/token"
#define OAUTH2_GOOGLE_DEVICE	"https://oauth2.googleapis.com/device/code"
#define OAUTH2_GOOGLE_SCOPE	"https://mail.google.com/"
#define OAUTH2_MS_TOKEN	\
	"https://login.microsoftonline.com/%s/oauth2/v2.0/token"
#define OAUTH2_MS_DEVICE \
	"https://login.microsoftonline.com/%s/oauth2/v2.0/devicecode"
#define OAUTH2_MS_SCOPE \
	"https://outlook.office.com/POP.AccessAsUser.All offline_access"
#define OAUTH2_MS_TENANT	"common"

/* The RFC 8628 grant type and its default polling interval. */
#define OAUTH2_DEVICE_GRANT	"urn:ietf:params:oauth:grant-type:device_code"
#define OAUTH2_DEVICE_INTERVAL	5
#define OAUTH2_SLOW_DOWN	5

void
oauth2_preset(struct account_oauth2 *o)
{
	const char	*tenant;

	switch (o->provider) {
	case ACCOUNT_PROVIDER_GOOGLE:
		if (o->token_endpoint == NULL)
			o->token_endpoint = xstrdup(OAUTH2_GOOGLE_TOKEN);
		if (o->device_authorization_endpoint == NULL)
			o->device_authorization_endpoint =
			    xstrdup(OAUTH2_GOOGLE_DEVICE);
		if (o->scope == NULL)
			o->scope = xstrdup(OAUTH2_GOOGLE_SCOPE);
		break;
	case ACCOUNT_PROVIDER_MICROSOFT:
		tenant = o->tenant != NULL ? o->tenant : OAUTH2_MS_TENANT;
		if (o->token_endpoint == NULL)
			o->token_endpoint = xasprintf(OAUTH2_MS_TOKEN, tenant);
		if (o->device_authorization_endpoint == NULL)
			o->device_authorization_endpoint =
			    xasprintf(OAUTH2_MS_DEVICE, tenant);
		if (o->scope == NULL)
			o->scope = xstrdup(OAUTH2_MS_SCOPE);
		break;
	case ACCOUNT_PROVIDER_CUSTOM:
		break;
	}
}

/* Wipe and free the tokens. */
static void
oauth2_tokens_free(struct oauth2_tokens *t)
{
	freezero(t->access, 0);
	freezero(t->refresh, 0);
	memset(t, 0, sizeof(*t));
}

/* A string member of a JSON object, or NULL. */
static const char *
oauth2_str(const json_t *obj, const char *key)
{
	const char	*s = json_string_value(json_object_get(obj, key));

	return s != NULL && *s != '\0' ? s : NULL;
}

/* An integer member (some servers send a string), or dflt. */
static long long
oauth2_int(const json_t *obj, const char *key, long long dflt)
{
	const json_t	*v = json_object_get(obj, key);
	long long	 n;
	char		*end;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v)) {
		errno = 0;
		n = strtoll(json_string_value(v), &end, 10);
		if (errno == 0 && *end == '\0' && end != json_string_value(v))
			return n;
	}
	return dflt;
}

/* Read the token file; ENOENT is "not authorized yet". */
static int
oauth2_load(const struct account *a, struct oauth2_tokens *t,
    struct err *e)
{
	const char	*path = a->oauth2->token_file;
	json_error_t	 jerr;
	json_t		*obj = NULL;
	const char	*s;
	int		 fd, rc = 0;

	memset(t, 0, sizeof(*t));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return err_set(e, E_AUTH, "oauth2: no token yet; run "
			    "`popsyncd --authorize %s` once", a->name);
		return err_set(e, E_STORE, "oauth2: %s: %s", path,
		    strerror(errno));
	}
	if ((rc = account_secure_file(path, fd, e)) < 0) {
		e->code = rc = E_STORE;
		goto out;
	}
	if ((obj = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_object(obj)) {
		rc = err_set(e, E_STORE, "oauth2: %s: not a token file "
		    "(line %d); run `popsyncd --authorize %s` again", path,
		    jerr.line, a->name);
		goto out;
	}
	if ((s = oauth2_str(obj, "access_token")) != NULL)
		t->access = xstrdup(s);
	if ((s = oauth2_str(obj, "refresh_token")) != NULL)
		t->refresh = xstrdup(s);
	t->expires_at = oauth2_int(obj, "expires_at", 0);
out:
	json_decref(obj);
	close(fd);
	return rc;
}

/* Replace the token file atomically: temp file, fsync, rename, fsync. */
static int
oauth2_save(const struct account *a, const struct oauth2_tokens *t,
    struct err *e)
{
	const char	*path = a->oauth2->token_file;
	json_t		*obj;
	char		*tmp = NULL, *dir = NULL, *text = NULL;
	size_t		 len, off = 0;
	ssize_t		 n;
	int		 fd = -1, dfd = -1, rc = 0;

	obj = json_object();
	if (t->access != NULL)
		json_object_set_new(obj, "access_token",
		    json_string(t->access));
	if (t->refresh != NULL)
		json_object_set_new(obj, "refresh_token",
		    json_string(t->refresh));
	json_object_set_new(obj, "expires_at", json_integer(t->expires_at));
	if ((text = json_dumps(obj, JSON_INDENT(1))) == NULL)
		fatalx("%s: json_dumps failed", __func__);
	len = strlen(text);

	dir = xstrdup(path);
	/* The state directory may not exist before the first sync. */
	if (mkdir(dirname(dir), 0700) == -1 && errno != EEXIST) {
		rc = err_set(e, E_STORE, "oauth2: %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	tmp = xasprintf("%s.XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		rc = err_set(e, E_STORE, "oauth2: %s: %s", tmp,
		    strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	while (off < len) {
		if ((n = write(fd, text + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)n;
	}
	if (off < len || fchmod(fd, 0600) == -1 || fsync(fd) == -1 ||
	    close(fd) == -1) {
		fd = -1;
		rc = err_set(e, E_STORE, "oauth2: %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		rc = err_set(e, E_STORE, "oauth2: %s: %s", path,
		    strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	/* The rename itself must survive a crash. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1)
		rc = err_set(e, E_STORE, "oauth2: %s: %s", dir,
		    strerror(errno));
out:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	free(dir);
	freezero(text, len);
	json_decref(obj);
	return rc;
}

/*
 * POST to an endpoint and read its JSON reply: 0 with the object in *obj
 * on a 2xx, OAUTH2_REFUSED with fail filled for an RFC 6749 5.2 error
 * reply, or a negative code: a 5xx and other statuses are temporary.
 */
static int
oauth2_post(const struct account *a, struct waiter *w, const char *url,
    const char *const *fields, json_t **obj, struct oauth2_fail *fail,
    struct err *e)
{
	struct http_params	 hp;
	json_t			*o = NULL;
	const char		*s;
	char			*body = NULL;
	long			 status;
	int			 rc;

	*obj = NULL;
	memset(fail, 0, sizeof(*fail));
	memset(&hp, 0, sizeof(hp));
	hp.ca_file = a->ca_file;
	hp.timeout_ms = a->timeout * 1000;
	if (w != NULL) {
		hp.idle = w->idle;
		hp.idle_arg = w->idle_arg;
		hp.abort_flag = w->abort;
	}
	if ((rc = http_post_form(url, fields, &hp, &status, &body, e)) < 0) {
		err_prefix(e, "oauth2");
		return rc;
	}
	o = json_loads(body, 0, NULL);
	freezero(body, 0);
	if (status >= 200 && status < 300 && json_is_object(o)) {
		*obj = o;
		return 0;
	}
	if (status >= 400 && status < 500 && json_is_object(o) &&
	    (s = oauth2_str(o, "error")) != NULL) {
		err_sanitize(fail->error, sizeof(fail->error), s);
		if ((s = oauth2_str(o, "error_description")) != NULL)
			err_sanitize(fail->desc, sizeof(fail->desc), s);
		json_decref(o);
		return OAUTH2_REFUSED;
	}
	json_decref(o);
	if (status >= 200 && status < 300)
		return err_set(e, E_PROTO, "oauth2: %s: HTTP %ld but the reply "
		    "is not a JSON object", url, status);
	return err_set(e, status >= 400 && status < 500 ? E_PROTO : E_IO,
	    "oauth2: %s: HTTP %ld", url, status);
}

/*
 * The message for an endpoint's refusal.  invalid_grant means the refresh
 * token (or device code) is dead: only a new authorization helps.
 */
static int
oauth2_refused(const struct account *a, const char *what,
    const struct oauth2_fail *fail, struct err *e)
{
	int	code = E_AUTH;

	/* RFC 6749 5.2 has no temporary error; these two are extensions
	 * some servers send while they are overloaded. */
	if (strcmp(fail->error, "temporarily_unavailable") == 0 ||
	    strcmp(fail->error, "server_error") == 0)
		code = E_IO;
	if (code == E_IO)
		return err_set(e, code, "oauth2: %s: %s%s%s%s", what,
		    fail->error, fail->desc[0] != '\0' ? " (" : "", fail->desc,
		    fail->desc[0] != '\0' ? ")" : "");
	/* What to do comes first: the systemd status line keeps only the
	 * first 60 characters. */
	return err_set(e, code, "run `popsyncd --authorize %s`: the OAuth2 %s "
	    "was refused (%s%s%s)", a->name, what, fail->error,
	    fail->desc[0] != '\0' ? ": " : "", fail->desc);
}

/*
 * Take a token reply into t: the access token, its expiry, and a refresh
 * token when the server sent one (a rotated one replaces the old).
 */
static int
oauth2_take(const struct account *a, const char *url, json_t *obj,
    struct oauth2_tokens *t, struct err *e)
{
	const char	*access, *refresh, *type;
	long long	 expires_in;

	if ((access = oauth2_str(obj, "access_token")) == NULL)
		return err_set(e, E_PROTO, "oauth2: %s: the reply has no "
		    "access_token", url);
	type = oauth2_str(obj, "token_type");
	if (type != NULL && strcasecmp(type, "bearer") != 0)
		return err_set(e, E_PROTO, "oauth2: %s: token_type is not "
		    "Bearer", url);
	expires_in = oauth2_int(obj, "expires_in", 0);
	freezero(t->access, 0);
	t->access = xstrdup(access);
	t->expires_at = expires_in > 0 ? (long long)time(NULL) + expires_in :
	    0;
	if ((refresh = oauth2_str(obj, "refresh_token")) != NULL) {
		freezero(t->refresh, 0);
		t->refresh = xstrdup(refresh);
	}
	return 0;
}

int
oauth2_token(const struct account *a, struct waiter *w, bool refresh,
    char **out, bool *fresh, struct err *e)
{
	const struct account_oauth2	*o = a->oauth2;
	struct oauth2_tokens		 t;
	struct oauth2_fail		 fail;
	json_t				*obj = NULL;
	char				*secret = NULL;
	const char			*fields[11];
	size_t				 n = 0;
	int				 rc;

	*out = NULL;
	if (fresh != NULL)
		*fresh = false;
	if ((rc = oauth2_load(a, &t, e)) < 0)
		return rc;
	if (!refresh && t.access != NULL && (t.expires_at == 0 ||
	    (long long)time(NULL) < t.expires_at - OAUTH2_EXPIRY_MARGIN)) {
		*out = t.access;
		t.access = NULL;
		goto out;
	}
	if (t.refresh == NULL) {
		rc = err_set(e, E_AUTH, "oauth2: the access token expired and "
		    "there is no refresh token; run `popsyncd --authorize %s`",
		    a->name);
		goto out;
	}
	if ((rc = account_client_secret(a, w, &secret, e)) < 0)
		goto out;
	fields[n++] = "grant_type";
	fields[n++] = "refresh_token";
	fields[n++] = "refresh_token";
	fields[n++] = t.refresh;
	oauth2_client(fields, n, o, secret);
	rc = oauth2_post(a, w, o->token_endpoint, fields, &obj, &fail, e);
	if (rc == OAUTH2_REFUSED) {
		rc = oauth2_refused(a, "refresh token", &fail, e);
		goto out;
	}
	if (rc < 0 ||
	    (rc = oauth2_take(a, o->token_endpoint, obj, &t, e)) < 0 ||
	    (rc = oauth2_save(a, &t, e)) < 0)
		goto out;
	*out = t.access;
	t.access = NULL;
	if (fresh != NULL)
		*fresh = true;
out:
	json_decref(obj);
	freezero(secret, 0);
	oauth2_tokens_free(&t);
	return rc;
}

/*
 * End a request's fields at fields[n] with the client's: client_id and,
 * for a confidential client, client_secret (RFC 6749 2.3.1).  fields has
 * room for n + 5 entries.
 */
static void
oauth2_client(const char **fields, size_t n, const struct account_oauth2 *o,
    const char *secret)
{
	fields[n++] = "client_id";
	fields[n++] = o->client_id;
	if (secret != NULL) {
		fields[n++] = "client_secret";
		fields[n++] = secret;
	}
	fields[n] = NULL;
}

/* Sleep whole seconds; a signal ends the process or the sleep early. */
static void
oauth2_sleep(long long s)
{
	struct timespec	ts = { (time_t)s, 0 };

	nanosleep(&ts, NULL);
}

int
oauth2_authorize(const struct account *a, FILE *out, struct err *e)
{
	const struct account_oauth2	*o = a->oauth2;
	struct oauth2_tokens		 t;
	struct oauth2_fail		 fail;
	json_t				*dev = NULL, *tok = NULL;
	char				*secret = NULL, *device_code = NULL;
	const char			*fields[11], *uri, *code, *complete;
	long long			 interval, expires_in, deadline;
	size_t				 n = 0;
	int				 rc;

	memset(&t, 0, sizeof(t));
	if (o == NULL)
		return err_set(e, E_CONFIG, "%s:%d: account %s has no oauth2 "
		    "group to authorize", a->file, a->line, a->name);
	if ((rc = account_client_secret(a, NULL, &secret, e)) < 0)
		goto out;
	fields[n++] = "scope";
	fields[n++] = o->scope;
	oauth2_client(fields, n, o, secret);
	rc = oauth2_post(a, NULL, o->device_authorization_endpoint, fields,
	    &dev, &fail, e);
	if (rc == OAUTH2_REFUSED) {
		rc = oauth2_refused(a, "device authorization request",
		    &fail, e);
		goto out;
	}
	if (rc < 0)
		goto out;
	/* Google spells it verification_url. */
	if ((uri = oauth2_str(dev, "verification_uri")) == NULL)
		uri = oauth2_str(dev, "verification_url");
	code = oauth2_str(dev, "user_code");
	complete = oauth2_str(dev, "verification_uri_complete");
	if (oauth2_str(dev, "device_code") == NULL || uri == NULL ||
	    code == NULL) {
		rc = err_set(e, E_PROTO, "oauth2: %s: the reply lacks "
		    "device_code, user_code or verification_uri",
		    o->device_authorization_endpoint);
		goto out;
	}
	device_code = xstrdup(oauth2_str(dev, "device_code"));
	interval = oauth2_int(dev, "interval", OAUTH2_DEVICE_INTERVAL);
	if (interval < 1)
		interval = OAUTH2_DEVICE_INTERVAL;
	expires_in = oauth2_int(dev, "expires_in", 1800);
	deadline = (long long)time(NULL) + expires_in;

	fprintf(out, "To authorize popsyncd for account %s, open\n  %s\n"
	    "in a browser and enter the code\n  %s\n", a->name, uri, code);
	if (complete != NULL)
		fprintf(out, "or open this address, which carries the code:\n"
		    "  %s\n", complete);
	fprintf(out, "Waiting for the approval (the code expires in %lld "
	    "s)...\n", expires_in);
	fflush(out);

	n = 0;
	fields[n++] = "grant_type";
	fields[n++] = OAUTH2_DEVICE_GRANT;
	fields[n++] = "device_code";
	fields[n++] = device_code;
	oauth2_client(fields, n, o, secret);
	for (;;) {
		if ((long long)time(NULL) + interval > deadline) {
			rc = err_set(e, E_AUTH, "oauth2: the code expired before "
			    "it was approved; run `popsyncd --authorize %s` "
			    "again", a->name);
			goto out;
		}
		oauth2_sleep(interval);
		rc = oauth2_post(a, NULL, o->token_endpoint, fields, &tok, &fail,
		    e);
		if (rc < 0)
			goto out;
		if (rc == 0)
			break;
		if (strcmp(fail.error, "authorization_pending") == 0)
			continue;
		if (strcmp(fail.error, "slow_down") == 0) {
			interval += OAUTH2_SLOW_DOWN;
			continue;
		}
		if (strcmp(fail.error, "access_denied") == 0)
			rc = err_set(e, E_AUTH, "oauth2: the authorization was "
			    "denied (access_denied)");
		else if (strcmp(fail.error, "expired_token") == 0)
			rc = err_set(e, E_AUTH, "oauth2: the code expired "
			    "before it was approved (expired_token); run "
			    "`popsyncd --authorize %s` again", a->name);
		else
			rc = oauth2_refused(a, "device code", &fail, e);
		goto out;
	}
	if ((rc = oauth2_take(a, o->token_endpoint, tok, &t, e)) < 0)
		goto out;
	if (t.refresh == NULL)
		fprintf(out, "Warning: the server sent no refresh token; "
		    "authorize again when the access token expires.\n");
	if ((rc = oauth2_save(a, &t, e)) < 0)
		goto out;
	fprintf(out, "Authorized: the tokens for account %s are in %s\n",
	    a->name, o->token_file);
	fflush(out);
out:
	json_decref(dev);
	json_decref(tok);
	freezero(device_code, 0);
	freezero(secret, 0);
	oauth2_tokens_free(&t);
	return rc;
}
