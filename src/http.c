/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* HTTPS POST requests through libcurl, for the OAuth2 endpoints. */

#include "autoconf.h"

#include <pthread.h>
#include <stdbool.h>
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

static void	 http_global_init(void);
static char	*http_form(CURL *, const char *const *);
static size_t	 http_write(char *, size_t, size_t, void *);
static int	 http_progress(void *, curl_off_t, curl_off_t, curl_off_t,
		    curl_off_t);
static int	 http_code(CURLcode);

static pthread_once_t	http_once = PTHREAD_ONCE_INIT;
static CURLcode		http_init_rc;

/* curl_global_init is not safe to race: the daemon's workers share it. */
static void
http_global_init(void)
{
	http_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* "a=1&b=2" with each name and value escaped; freed with freezero. */
static char *
http_form(CURL *c, const char *const *fields)
{
	char	*out = xstrdup(""), *n, *v, *tmp;

	for (; fields[0] != NULL; fields += 2) {
		n = curl_easy_escape(c, fields[0], 0);
		v = curl_easy_escape(c, fields[1] != NULL ? fields[1] : "", 0);
		if (n == NULL || v == NULL)
			fatalx("%s: curl_easy_escape failed", __func__);
		tmp = xasprintf("%s%s%s=%s", out, *out != '\0' ? "&" : "", n,
		    v);
		freezero(out, 0);
		curl_free(n);
		explicit_bzero(v, strlen(v));
		curl_free(v);
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
	if (http_init_rc != CURLE_OK)
		return err_set(e, E_IO, "%s: libcurl: %s", url,
		    curl_easy_strerror(http_init_rc));
	if ((c = curl_easy_init()) == NULL)
		fatalx("%s: curl_easy_init failed", __func__);
	form = http_form(c, fields);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (hdrs == NULL)
		fatalx("%s: curl_slist_append failed", __func__);

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (hp->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, hp->ca_file);
	/* Threads: no SIGALRM for name lookups. */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)hp->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)hp->timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "popsyncd/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, http_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, hp);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);

	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		if (b.too_big)
			rc = err_set(e, E_PROTO, "%s: reply longer than %d "
			    "bytes", url, HTTP_BODY_MAX);
		else
			rc = err_set(e, http_code(cc), "%s: %s", url,
			    ebuf[0] != '\0' ? ebuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	*body = b.data != NULL ? b.data : xstrdup("");
	b.data = NULL;
out:
	if (b.data != NULL)
		freezero(b.data, b.len + 1);
	freezero(form, 0);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return rc;
}
