/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* A command-line POP3 client over the real modules, for the tests. */

/*
 * pop3cmd -c CONF -a ACCOUNT [-n] [-v|-vv] [--rusage] CMD...
 *
 * Loads CONF, then either opens a logged-in session for ACCOUNT
 * (session_open) or, with -n, only connects (and for tls = "implicit"
 * runs the handshake) and reads the greeting.  Then it runs each CMD in
 * order and prints one greppable result line per command (or per item of
 * a listing) on stdout:
 *
 *	GREETING <text>			after connecting
 *	LOGIN <method>			after session_open
 *	TLS <version> <cipher> | TLS none	after connecting and after stls
 *	stat			STAT <count> <octets>
 *	list [N]		LIST <n> <size>
 *	uidl [N]		UIDL <n> <uid>
 *	capa			CAPA <line> for each line, then OK capa
 *	retr N FILE		RETR <n> <bytes>  (decoded message in FILE)
 *	top N L FILE		TOP <n> <bytes>
 *	dele N, rset, noop, quit, utf8, stls,
 *	user U, pass P, apop U S, auth MECH U S		OK <cmd>
 *
 * The first failing command prints "ERR <cmd>: <message>" and
 * "ERRCODE <E_NAME> temporary|permanent" on stderr and exits with
 * err_exitcode().  --rusage prints "MAXRSS <kB>" last, also on failure.
 */

#include "autoconf.h"

#include <sys/resource.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "config.h"
#include "conn.h"
#include "err.h"
#include "log.h"
#include "pop3.h"
#include "sasl.h"
#include "session.h"
#include "tls.h"
#include "util.h"

struct file_sink {
	const char		*path;
	FILE			*fp;
	unsigned long long	 bytes;
};

struct cmd {
	const char	*name;
	int		 nargs;		/* -1: an optional message number */
	int		(*run)(struct pop3 *p, const struct account *a,
			    const char *name, char **args, struct err *e);
};

static void	 usage(void) __attribute__((noreturn));
static int	 parse_num(const char *s, unsigned long *num, struct err *e);
static void	 account_tls_params(const struct account *a,
		    struct tls_params *tp);
static void	 print_tls(struct pop3 *p);
static void	 print_rusage(void);
static int	 sink_begin(void *arg, unsigned long num, struct err *e);
static int	 sink_write(void *arg, const char *data, size_t len,
		    struct err *e);
static int	 sink_end(void *arg, struct err *e);
static int	 connect_only(const struct account *a, struct pop3 **out,
		    struct err *e);
static int	 cmd_stat(struct pop3 *, const struct account *,
		    const char *, char **, struct err *);
static int	 cmd_list(struct pop3 *, const struct account *,
		    const char *, char **, struct err *);
static int	 cmd_uidl(struct pop3 *, const struct account *,
		    const char *, char **, struct err *);
static int	 cmd_capa(struct pop3 *, const struct account *,
		    const char *, char **, struct err *);
static int	 cmd_retr(struct pop3 *, const struct account *,
		    const char *, char **, struct err *);
static int	 cmd_top(struct pop3 *, const struct account *,
		    const char *, char **, struct err *);
static int	 cmd_simple(struct pop3 *, const struct account *,
		    const char *, char **, struct err *);

static const struct pop3_sink file_sink_ops = {
	sink_begin, sink_write, sink_end, NULL
};

/* Names that cmd_simple dispatches on must match this table. */
static const struct cmd cmds[] = {
	{ "stat", 0, cmd_stat },
	{ "list", -1, cmd_list },
	{ "uidl", -1, cmd_uidl },
	{ "capa", 0, cmd_capa },
	{ "retr", 2, cmd_retr },
	{ "top", 3, cmd_top },
	{ "dele", 1, cmd_simple },
	{ "rset", 0, cmd_simple },
	{ "noop", 0, cmd_simple },
	{ "quit", 0, cmd_simple },
	{ "utf8", 0, cmd_simple },
	{ "stls", 0, cmd_simple },
	{ "user", 1, cmd_simple },
	{ "pass", 1, cmd_simple },
	{ "apop", 2, cmd_simple },
	{ "auth", 3, cmd_simple },
};

static bool	 want_rusage;

/* usage: the synopsis on stderr, exit 2. */
static void
usage(void)
{
	fprintf(stderr, "usage: pop3cmd -c conf -a account [-n] [-v] "
	    "[--rusage] command ...\n");
	exit(2);
}

/* parse_num: a message number or line count. */
static int
parse_num(const char *s, unsigned long *num, struct err *e)
{
	long long	v;

	*num = 0;
	if (util_strtonum(s, 0, POP3_MAX_MESSAGES, &v) == -1)
		return err_set(e, E_USAGE, "bad number \"%s\"", s);
	*num = (unsigned long)v;
	return 0;
}

/* account_tls_params: the TLS settings of an account. */
static void
account_tls_params(const struct account *a, struct tls_params *tp)
{
	memset(tp, 0, sizeof(*tp));
	tp->host = a->host;
	tp->ca_file = a->ca_file;
	tp->verify = a->tls_verify;
	tp->fingerprint = a->tls_fingerprint;
	tp->min_version = a->tls_min_version;
}

/* print_tls: the link's TLS state, so tests can see STLS took effect. */
static void
print_tls(struct pop3 *p)
{
	struct tls_info	info;

	if (conn_tls_info(pop3_conn(p), &info))
		printf("TLS %s %s\n", info.version, info.cipher);
	else
		printf("TLS none\n");
}

/* print_rusage: peak resident set size, for the bounded-memory checks. */
static void
print_rusage(void)
{
	struct rusage	ru;

	if (want_rusage && getrusage(RUSAGE_SELF, &ru) == 0)
		printf("MAXRSS %ld\n", ru.ru_maxrss);
}

/* sink_begin: (re)create the output file. */
static int
sink_begin(void *arg, unsigned long num, struct err *e)
{
	struct file_sink	*s = arg;

	if (s->fp != NULL)
		fclose(s->fp);
	s->bytes = 0;
	if ((s->fp = fopen(s->path, "w")) == NULL)
		return err_set(e, E_DELIVERY, "%s: cannot create", s->path);
	return 0;
}

/* sink_write: append decoded message data. */
static int
sink_write(void *arg, const char *data, size_t len, struct err *e)
{
	struct file_sink	*s = arg;

	if (fwrite(data, 1, len, s->fp) != len)
		return err_set(e, E_DELIVERY, "%s: write failed", s->path);
	s->bytes += len;
	return 0;
}

/* sink_end: flush, so the file is complete when the command returns. */
static int
sink_end(void *arg, struct err *e)
{
	struct file_sink	*s = arg;

	if (fflush(s->fp) != 0)
		return err_set(e, E_DELIVERY, "%s: write failed", s->path);
	return 0;
}

/* connect_only: TCP, implicit TLS if configured, greeting; no login. */
static int
connect_only(const struct account *a, struct pop3 **out, struct err *e)
{
	struct conn_params	 cp;
	struct pop3_params	 pp;
	struct tls_params	 tp;
	struct conn		*c = NULL;
	struct pop3		*p = NULL;
	int			 rc;

	memset(&cp, 0, sizeof(cp));
	cp.timeout_ms = a->timeout * 1000;
	if ((rc = conn_connect(a->host, a->port, &cp, &c, e)) != 0)
		goto out;
	if (a->tls == ACCOUNT_TLS_IMPLICIT) {
		account_tls_params(a, &tp);
		if ((rc = conn_starttls(c, &tp, e)) != 0)
			goto out;
	}
	pp.name = a->name;
	p = pop3_new(c, &pp);
	c = NULL;
	if ((rc = pop3_greeting(p, e)) != 0)
		goto out;
	*out = p;
	p = NULL;
out:
	conn_free(c);
	pop3_free(p);
	return rc;
}

/* cmd_stat: STAT. */
static int
cmd_stat(struct pop3 *p, const struct account *a, const char *name,
    char **args, struct err *e)
{
	unsigned long		count;
	unsigned long long	octets;
	int			rc;

	if ((rc = pop3_stat(p, &count, &octets, e)) != 0)
		return rc;
	printf("STAT %lu %llu\n", count, octets);
	return 0;
}

/* cmd_list: LIST, or LIST n when args[0] is a number. */
static int
cmd_list(struct pop3 *p, const struct account *a, const char *name,
    char **args, struct err *e)
{
	struct pop3_listing	 l;
	unsigned long long	 size;
	unsigned long		 num;
	size_t			 i;
	int			 rc;

	if (args[0] != NULL) {
		if ((rc = parse_num(args[0], &num, e)) != 0 ||
		    (rc = pop3_list_one(p, num, &size, e)) != 0)
			return rc;
		printf("LIST %lu %llu\n", num, size);
		return 0;
	}
	memset(&l, 0, sizeof(l));
	if ((rc = pop3_list(p, &l, e)) == 0)
		for (i = 0; i < l.count; i++)
			printf("LIST %lu %llu\n", l.msgs[i].num,
			    l.msgs[i].size);
	pop3_listing_free(&l);
	return rc;
}

/* cmd_uidl: UIDL, or UIDL n when args[0] is a number. */
static int
cmd_uidl(struct pop3 *p, const struct account *a, const char *name,
    char **args, struct err *e)
{
	struct pop3_listing	 l;
	char			 uid[POP3_UIDL_MAX + 1];
	unsigned long		 num;
	size_t			 i;
	int			 rc;

	if (args[0] != NULL) {
		if ((rc = parse_num(args[0], &num, e)) != 0 ||
		    (rc = pop3_uidl_one(p, num, uid, e)) != 0)
			return rc;
		printf("UIDL %lu %s\n", num, uid);
		return 0;
	}
	memset(&l, 0, sizeof(l));
	if ((rc = pop3_uidl(p, &l, e)) == 0)
		for (i = 0; i < l.count; i++)
			printf("UIDL %lu %s\n", l.msgs[i].num,
			    pop3_msg_uidl(&l, &l.msgs[i]) != NULL ?
			    pop3_msg_uidl(&l, &l.msgs[i]) : "(unusable)");
	pop3_listing_free(&l);
	return rc;
}

/* cmd_capa: CAPA and its raw lines. */
static int
cmd_capa(struct pop3 *p, const struct account *a, const char *name,
    char **args, struct err *e)
{
	const struct pop3_capa	*c;
	size_t			 i;
	int			 rc;

	if ((rc = pop3_capa(p, e)) != 0)
		return rc;
	c = pop3_caps(p);
	for (i = 0; i < c->nlines; i++)
		printf("CAPA %s\n", c->lines[i]);
	printf("OK capa\n");
	return 0;
}

/* cmd_retr: RETR n into a file. */
static int
cmd_retr(struct pop3 *p, const struct account *a, const char *name,
    char **args, struct err *e)
{
	struct file_sink	s = { args[1], NULL, 0 };
	unsigned long		num;
	int			rc;

	if ((rc = parse_num(args[0], &num, e)) != 0)
		return rc;
	rc = pop3_retr(p, num, &file_sink_ops, &s, e);
	if (s.fp != NULL)
		fclose(s.fp);
	if (rc == 0)
		printf("RETR %lu %llu\n", num, s.bytes);
	return rc;
}

/* cmd_top: TOP n lines into a file. */
static int
cmd_top(struct pop3 *p, const struct account *a, const char *name,
    char **args, struct err *e)
{
	struct file_sink	s = { args[2], NULL, 0 };
	unsigned long		num, lines;
	int			rc;

	if ((rc = parse_num(args[0], &num, e)) != 0 ||
	    (rc = parse_num(args[1], &lines, e)) != 0)
		return rc;
	rc = pop3_top(p, num, lines, &file_sink_ops, &s, e);
	if (s.fp != NULL)
		fclose(s.fp);
	if (rc == 0)
		printf("TOP %lu %llu\n", num, s.bytes);
	return rc;
}

/* cmd_simple: the commands whose only result is success. */
static int
cmd_simple(struct pop3 *p, const struct account *a, const char *name,
    char **args, struct err *e)
{
	struct tls_params	 tp;
	unsigned long		 num;
	int			 rc;

	if (strcmp(name, "dele") == 0) {
		if ((rc = parse_num(args[0], &num, e)) != 0)
			return rc;
		rc = pop3_dele(p, num, e);
	} else if (strcmp(name, "rset") == 0)
		rc = pop3_rset(p, e);
	else if (strcmp(name, "noop") == 0)
		rc = pop3_noop(p, e);
	else if (strcmp(name, "quit") == 0)
		rc = pop3_quit(p, e);
	else if (strcmp(name, "utf8") == 0)
		rc = pop3_utf8(p, e);
	else if (strcmp(name, "stls") == 0) {
		account_tls_params(a, &tp);
		if ((rc = pop3_stls(p, &tp, e)) == 0)
			print_tls(p);
	} else if (strcmp(name, "user") == 0)
		rc = pop3_user(p, args[0], e);
	else if (strcmp(name, "pass") == 0)
		rc = pop3_pass(p, args[0], e);
	else if (strcmp(name, "apop") == 0)
		rc = pop3_apop(p, args[0], args[1], e);
	else if (strcmp(name, "auth") == 0)
		rc = sasl_auth(p, args[0], args[1], args[2], e);
	else
		fatalx("%s: no handler for %s", __func__, name);
	if (rc == 0)
		printf("OK %s\n", name);
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "rusage", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 }
	};
	struct err		 e;
	struct config		*cfg = NULL;
	const struct account	*a;
	const struct cmd	*cmd;
	struct pop3		*p = NULL;
	const char		*conf = NULL, *name = NULL, *method = NULL;
	const char		*what = "config";
	char			*none[] = { NULL };
	char			**args;
	int			 ch, verbose = 0, nologin = 0, rc, i, n;
	size_t			 k;

	while ((ch = getopt_long(argc, argv, "a:c:nv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			name = optarg;
			break;
		case 'c':
			conf = optarg;
			break;
		case 'n':
			nologin = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'R':
			want_rusage = true;
			break;
		default:
			usage();
		}
	}
	if (conf == NULL || name == NULL)
		usage();
	/* A server that hangs up must not kill us while we write to it. */
	signal(SIGPIPE, SIG_IGN);
	log_init(verbose == 0 ? LOG_LVL_WARN :
	    verbose == 1 ? LOG_LVL_DEBUG : LOG_LVL_TRACE);
	/* Results and log lines interleave correctly in test output. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	err_clear(&e);

	if ((rc = config_load(conf, &cfg, &e)) != 0)
		goto out;
	what = "account";
	if ((a = config_find(cfg, name)) == NULL) {
		rc = err_set(&e, E_USAGE, "no account \"%s\" in %s", name,
		    conf);
		goto out;
	}
	what = "connect";
	if (nologin)
		rc = connect_only(a, &p, &e);
	else
		rc = session_open(a, NULL, &p, &method, &e);
	if (rc != 0)
		goto out;
	printf("GREETING %s\n", pop3_welcome(p));
	print_tls(p);
	if (method != NULL)
		printf("LOGIN %s\n", method);

	for (i = optind; i < argc; i += 1 + n) {
		what = argv[i];
		cmd = NULL;
		for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
			if (strcmp(cmds[k].name, argv[i]) == 0)
				cmd = &cmds[k];
		if (cmd == NULL) {
			rc = err_set(&e, E_USAGE, "unknown command");
			goto out;
		}
		n = cmd->nargs;
		if (n == -1) {
			/* "list 3" but "list retr ...": only a number. */
			n = i + 1 < argc &&
			    strspn(argv[i + 1], "0123456789") ==
			    strlen(argv[i + 1]) ? 1 : 0;
			args = n ? &argv[i + 1] : none;
		} else {
			if (i + n >= argc) {
				rc = err_set(&e, E_USAGE, "needs %d "
				    "argument(s)", n);
				goto out;
			}
			args = &argv[i + 1];
		}
		if ((rc = cmd->run(p, a, cmd->name, args, &e)) != 0)
			goto out;
	}
out:
	if (rc != 0) {
		fprintf(stderr, "ERR %s: %s\n", what, e.msg);
		fprintf(stderr, "ERRCODE %s %s\n", err_name(rc),
		    err_is_temporary(&e) ? "temporary" : "permanent");
	}
	pop3_free(p);
	config_free(cfg);
	print_rusage();
	return err_exitcode(rc);
}
