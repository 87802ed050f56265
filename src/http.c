/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* HTTPS POST requests through libcurl, for the OAuth2 endpoints. */

#include "autoconf.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "err.h"
#include "http.h"
#include "log.h"
#include "xmalloc.h"

/* The reply body as it arrives. */
struct http_body {
	char	*data;
	size_t	 len;
	bool	 too_big;
};

/*
 * libcurl is loaded with dlopen on the first request, not linked: it
 * pulls in about 28 more libraries (GnuTLS, Kerberos, LDAP, libssh2),
 * which cost every run 4.5 MiB of RSS and the start-up time of their
 * relocations (issue 9), while only oauth2 accounts and --authorize use
 * it.  The header still gives the types and constants.
 */
#define HTTP_CURL_SONAME	"libcurl.so.4"

static struct {
	CURLcode	 (*global_init)(long);
	const char	*(*easy_strerror)(CURLcode);
	CURL		*(*easy_init)(void);
	char		*(*easy_escape)(CURL *, const char *, int);
	void		 (*free)(void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		 (*slist_free_all)(struct curl_slist *);
	CURLcode	 (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	 (*easy_perform)(CURL *);
	CURLcode	 (*easy_getinfo)(CURL *, CURLINFO, ...);
	void		 (*easy_cleanup)(CURL *);
} curl;

static void	 http_global_init(void);
static bool	 http_load(void);
static char	*http_form(CURL *, const char *const *);
static size_t	 http_write(char *, size_t, size_t, void *);
static int	 http_progress(void *, curl_off_t, curl_off_t, curl_off_t,
		    curl_off_t);
static int	 http_code(CURLcode);

static pthread_once_t	http_once = PTHREAD_ONCE_INIT;
static CURLcode		http_init_rc;
static char		http_load_error[256];

/* Resolve every function we call, or say why not; never unloaded. */
static bool
http_load(void)
{
	void		*h;
	const char	*what;

	if ((h = dlopen(HTTP_CURL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(http_load_error, sizeof(http_load_error), "%s",
		    dlerror());
		return false;
	}
#define HTTP_SYM(field, name) do {					\
	what = name;							\
	if ((*(void **)&curl.field = dlsym(h, name)) == NULL)		\
		goto missing;						\
} while (0)
	HTTP_SYM(global_init, "curl_global_init");
	HTTP_SYM(easy_strerror, "curl_easy_strerror");
	HTTP_SYM(easy_init, "curl_easy_init");
	HTTP_SYM(easy_escape, "curl_easy_escape");
	HTTP_SYM(free, "curl_free");
	HTTP_SYM(slist_append, "curl_slist_append");
	HTTP_SYM(slist_free_all, "curl_slist_free_all");
	HTTP_SYM(easy_setopt, "curl_easy_setopt");
	HTTP_SYM(easy_perform, "curl_easy_perform");
	HTTP_SYM(easy_getinfo, "curl_easy_getinfo");
	HTTP_SYM(easy_cleanup, "curl_easy_cleanup");
#undef HTTP_SYM
	return true;
missing:
	snprintf(http_load_error, sizeof(http_load_error), "%s: no %s",
	    HTTP_CURL_SONAME, what);
	return false;
}

/* Loading and curl_global_init are not safe to race: the daemon's workers
 * share them. */
static void
http_global_init(void)
{
	if (http_load())
		http_init_rc = curl.global_init(CURL_GLOBAL_DEFAULT);
}

/* "a=1&b=2" with each name and value escaped; freed with freezero. */
static char *
http_form(CURL *c, const char *const *fields)
{
	char	*out = xstrdup(""), *n, *v, *tmp;

	for (; fields[0] != NULL; fields += 2) {
		n = curl.easy_escape(c, fields[0], 0);
		v = curl.easy_escape(c, fields[1] != NULL ? fields[1] : "", 0);
		if (n == NULL || v == NULL)
			fatalx("%s: curl_easy_escape failed", __func__);
		tmp = xasprintf("%s%s%s=%s", out, *out != '\0' ? "&" : "", n,
		    v);
		freezero(out, 0);
		curl.free(n);
		explicit_bzero(v, strlen(v));
		curl.free(v);
		out = tmp;
	}
	return out;
}

/* Keep the body up to HTTP_BODY_MAX; past it, stop the transfer. */
static size_t
http_write(char *ptr, size_t size, size_t n, void *arg)
{
	struct http_body	*b = arg;
	size_t			 len = size * n;
	char			*grown;

	if (len > HTTP_BODY_MAX - b->len) {
		b->too_big = true;
		return 0;
	}
	/* Grown by hand so no copy of a token is left behind in freed
	 * memory. */
	grown = xmalloc(b->len + len + 1);
	if (b->data != NULL) {
		memcpy(grown, b->data, b->len);
		freezero(b->data, b->len + 1);
	}
	memcpy(grown + b->len, ptr, len);
	b->len += len;
	grown[b->len] = '\0';
	b->data = grown;
	return len;
}

/* Called about once a second by curl: feed the watchdog, see a stop. */
static int
http_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	const struct http_params	*hp = arg;

	if (hp->idle != NULL)
		hp->idle(hp->idle_arg);
	if (hp->abort_flag != NULL && *hp->abort_flag)
		return 1;
	return 0;
}

/* Our error class of a curl failure. */
static int
http_code(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return E_TIMEOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		return E_ABORT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return E_TLS;
	default:
		return E_IO;
	}
}

int
http_post_form(const char *url, const char *const *fields,
    const struct http_params *hp, long *status, char **body, struct err *e)
{
	struct http_body	 b = { NULL, 0, false };
	struct curl_slist	*hdrs = NULL;
	char			 ebuf[CURL_ERROR_SIZE] = "", *form = NULL;
	CURL			*c = NULL;
	CURLcode		 cc;
	int			 rc = 0;

	*status = 0;
	*body = NULL;
	pthread_once(&http_once, http_global_init);
	if (http_load_error[0] != '\0')
		return err_set(e, E_IO, "%s: cannot load libcurl (install "
		    "libcurl4): %s", url, http_load_error);
	if (http_init_rc != CURLE_OK)
		return err_set(e, E_IO, "%s: libcurl: %s", url,
		    curl.easy_strerror(http_init_rc));
	if ((c = curl.easy_init()) == NULL)
		fatalx("%s: curl_easy_init failed", __func__);
	form = http_form(c, fields);
	hdrs = curl.slist_append(hdrs, "Accept: application/json");
	if (hdrs == NULL)
		fatalx("%s: curl_slist_append failed", __func__);

	curl.easy_setopt(c, CURLOPT_URL, url);
	curl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl.easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (hp->ca_file != NULL)
		curl.easy_setopt(c, CURLOPT_CAINFO, hp->ca_file);
	/* Threads: no SIGALRM for name lookups. */
	curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl.easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)hp->timeout_ms);
	curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)hp->timeout_ms);
	curl.easy_setopt(c, CURLOPT_USERAGENT, "popsyncd/" PACKAGE_VERSION);
	curl.easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl.easy_setopt(c, CURLOPT_POSTFIELDS, form);
	curl.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
	curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write);
	curl.easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, http_progress);
	curl.easy_setopt(c, CURLOPT_XFERINFODATA, hp);
	curl.easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);

	if ((cc = curl.easy_perform(c)) != CURLE_OK) {
		if (b.too_big)
			rc = err_set(e, E_PROTO, "%s: reply longer than %d "
			    "bytes", url, HTTP_BODY_MAX);
		else
			rc = err_set(e, http_code(cc), "%s: %s", url,
			    ebuf[0] != '\0' ? ebuf : curl.easy_strerror(cc));
		goto out;
	}
	curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	*body = b.data != NULL ? b.data : xstrdup("");
	b.data = NULL;
out:
	if (b.data != NULL)
		freezero(b.data, b.len + 1);
	freezero(form, 0);
	curl.slist_free_all(hdrs);
	curl.easy_cleanup(c);
	return rc;
}
