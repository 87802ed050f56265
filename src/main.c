/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* The popsyncd command: options, start-up order and exit codes. */

#include "autoconf.h"

#include <sys/prctl.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "oauth2.h"
#include "once.h"
#include "probe.h"
#include "sched.h"
#include "sdnotify.h"
#include "status.h"
#include "xmalloc.h"

enum main_mode {
	MAIN_DAEMON,
	MAIN_CHECK_CONFIG,
	MAIN_PROBE,
	MAIN_ONCE,
	MAIN_STATUS,
	MAIN_AUTHORIZE
};

/* Set by SIGINT and SIGTERM: the syncs stop after the current message;
 * by a second one: at once. */
static volatile sig_atomic_t main_stop;
static volatile sig_atomic_t main_hard_stop;
static bool main_tty;		/* stderr is a terminal: say what ^C does */

static void	main_usage(FILE *);
static int	main_check_config(const struct config *);
static int	main_root_check(const struct config *);
static void	main_on_signal(int);

static const struct option main_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "check-config", no_argument, NULL, 'n' },
	{ "probe", required_argument, NULL, 'p' },
	{ "once", no_argument, NULL, 'o' },
	{ "authorize", required_argument, NULL, 'a' },
	{ "status", no_argument, NULL, 's' },
	{ "json", no_argument, NULL, 'j' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/* The synopsis, for --help and usage errors. */
static void
main_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: popsyncd [-c FILE] [-q | -v[v]]\n"
	    "       popsyncd [-c FILE] [-q | -v[v]] --once [NAME...]\n"
	    "       popsyncd [-c FILE] --status [--json]\n"
	    "       popsyncd [-c FILE] [-v[v]] --check-config\n"
	    "       popsyncd [-c FILE] [-v[v]] --probe NAME\n"
	    "       popsyncd [-c FILE] --authorize NAME\n"
	    "\n"
	    "  (no mode)           run as a daemon in the foreground: poll "
	    "every account\n"
	    "                      on its interval; SIGHUP reloads, SIGUSR1 "
	    "polls now\n"
	    "  -c, --config FILE   config file (default "
	    "$XDG_CONFIG_HOME/popsyncd/config)\n"
	    "      --once [NAME...] sync the named accounts (default: all) "
	    "once\n"
	    "      --status        what the state database says of each "
	    "account\n"
	    "      --json          with --status: as JSON\n"
	    "  -n, --check-config  validate the config and exit (0 ok, 2 "
	    "errors)\n"
	    "      --probe NAME    connect to account NAME, show the server, "
	    "TLS\n"
	    "                      and capabilities, log in, STAT and QUIT\n"
	    "  -q, --quiet         errors only: no summary with --once, no "
	    "info lines\n"
	    "      --authorize NAME  get OAuth2 tokens for account NAME "
	    "(device flow:\n"
	    "                      open the printed address, enter the "
	    "code)\n"
	    "  -v, --verbose       one line per POP3 command and reply; "
	    "-vv: every line\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       the version\n");
}

/* Mail belongs to a user: running as root takes allow_root = true. */
static int
main_root_check(const struct config *cfg)
{
	if (geteuid() != 0 || cfg->allow_root)
		return 0;
	fprintf(stderr, "popsyncd: refusing to run as root; set allow_root = "
	    "true in %s to allow it\n", cfg->path);
	return 2;
}

/*
 * SIGINT, SIGTERM: finish the message being written, then stop; a second
 * one gives up at once (the message being written is fetched next time).
 */
static void
main_on_signal(int sig)
{
	static const char	msg[] = "popsyncd: stopping after the current "
	    "message; interrupt again to stop at once\n";
	ssize_t			n;
	int			saved = errno;

	(void)sig;
	if (main_stop) {
		main_hard_stop = 1;
	} else {
		main_stop = 1;
		if (main_tty) {
			n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
			(void)n;
		}
	}
	errno = saved;
}

/* --check-config: the config loaded, so say what it holds. */
static int
main_check_config(const struct config *cfg)
{
	const struct account	*a;
	int			 n = 0;

	TAILQ_FOREACH(a, &cfg->accounts, entry)
		n++;
	printf("%s: ok, %d account%s\n", cfg->path, n, n == 1 ? "" : "s");
	TAILQ_FOREACH(a, &cfg->accounts, entry)
		printf("  %s: %s@%s:%d, tls %s, auth %s, maildir %s\n",
		    a->name, a->user, a->host, a->port,
		    account_tls_name(a->tls), account_auth_name(a->auth),
		    a->maildir);
	status_mailbox_changes(cfg, stderr);
	return 0;
}

int
main(int argc, char **argv)
{
	enum main_mode	 mode = MAIN_DAEMON;
	struct config	*cfg = NULL;
	struct account	*a;
	struct err	 e;
	char		*path = NULL;
	const char	*name_arg = NULL;
	struct sigaction sa;
	bool		 json = false, quiet = false;
	int		 ch, verbose = 0, rc;

	/* A server that hangs up must not kill us while we write to it. */
	signal(SIGPIPE, SIG_IGN);
	log_init(LOG_LVL_INFO);
	/*
	 * Before any secret is read: no core dump holding a password or
	 * token, and no ptrace or /proc/PID/mem for other processes of the
	 * same user (the kernel treats a non-dumpable process as root's).
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl PR_SET_DUMPABLE");
	/* Under journald, lines become structured entries (log.h). */
	log_set_sink(sdnotify_journal);
	err_clear(&e);

	while ((ch = getopt_long(argc, argv, "c:nqvhV", main_options,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			free(path);
			path = xstrdup(optarg);
			break;
		case 'n':
			mode = MAIN_CHECK_CONFIG;
			break;
		case 'p':
			mode = MAIN_PROBE;
			name_arg = optarg;
			break;
		case 'a':
			mode = MAIN_AUTHORIZE;
			name_arg = optarg;
			break;
		case 'o':
			mode = MAIN_ONCE;
			break;
		case 's':
			mode = MAIN_STATUS;
			break;
		case 'j':
			json = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			main_usage(stdout);
			rc = 0;
			goto out;
		case 'V':
			printf("popsyncd %s\n", PACKAGE_VERSION);
			rc = 0;
			goto out;
		default:
			main_usage(stderr);
			rc = 2;
			goto out;
		}
	}
	if (quiet && verbose > 0) {
		fprintf(stderr, "popsyncd: -q and -v exclude each other\n");
		rc = 2;
		goto out;
	}
	if (json && mode != MAIN_STATUS) {
		fprintf(stderr, "popsyncd: --json goes with --status\n");
		rc = 2;
		goto out;
	}
	/* Only --once takes operands: the accounts to sync. */
	if (optind != argc && mode != MAIN_ONCE) {
		fprintf(stderr, "popsyncd: unexpected argument: %s\n",
		    argv[optind]);
		main_usage(stderr);
		rc = 2;
		goto out;
	}
	if (path == NULL)
		path = config_default_path();
	if ((rc = config_load(path, &cfg, &e)) < 0) {
		/* An error, also in the journal (PRIORITY=3). */
		log_error("%s", e.msg);
		rc = err_exitcode(rc);
		goto out;
	}
	/* -q and -v beat the config's log_level. */
	if (quiet)
		log_set_level(LOG_LVL_ERROR);
	else if (verbose > 0)
		log_set_level(verbose > 1 ? LOG_LVL_TRACE : LOG_LVL_DEBUG);
	else if (cfg->log_level_set)
		log_set_level(cfg->log_level);

	if ((mode == MAIN_DAEMON || mode == MAIN_ONCE ||
	    mode == MAIN_AUTHORIZE) &&
	    (rc = main_root_check(cfg)) != 0)
		goto out;

	switch (mode) {
	case MAIN_DAEMON:
		rc = sched_daemon(cfg->path, cfg, quiet || verbose > 0, NULL,
		    &e);
		cfg = NULL;	/* the daemon freed it */
		if (rc < 0)
			log_error("%s", e.msg);
		rc = err_exitcode(rc);
		break;
	case MAIN_CHECK_CONFIG:
		rc = main_check_config(cfg);
		break;
	case MAIN_AUTHORIZE:
		if ((a = config_find(cfg, name_arg)) == NULL) {
			fprintf(stderr, "popsyncd: %s: no account named %s\n",
			    cfg->path, name_arg);
			rc = 2;
			break;
		}
		if ((rc = oauth2_authorize(a, stdout, &e)) < 0) {
			fflush(stdout);
			fprintf(stderr, "popsyncd: %s: %s\n", a->name, e.msg);
		}
		rc = err_exitcode(rc);
		break;
	case MAIN_PROBE:
		if ((a = config_find(cfg, name_arg)) == NULL) {
			fprintf(stderr, "popsyncd: %s: no account named %s\n",
			    cfg->path, name_arg);
			rc = 2;
			break;
		}
		if ((rc = probe_run(a, stdout, &e)) < 0) {
			fflush(stdout);
			fprintf(stderr, "popsyncd: %s\n", e.msg);
		}
		rc = err_exitcode(rc);
		break;
	case MAIN_ONCE:
		main_tty = isatty(STDERR_FILENO);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = main_on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		/* On a terminal the progress is drawn above the summaries;
		 * elsewhere (cron, a pipe) only the summaries are printed. */
		rc = once_run(cfg, argv + optind, (size_t)(argc - optind),
		    quiet ? NULL : stdout,
		    !quiet && isatty(STDOUT_FILENO) ? stdout : NULL,
		    &main_stop, &main_hard_stop, &e);
		/* Every other failure was logged where it happened. */
		if (rc == E_USAGE)
			fprintf(stderr, "popsyncd: %s\n", e.msg);
		rc = err_exitcode(rc);
		break;
	case MAIN_STATUS:
		if ((rc = status_print(cfg, stdout, json, &e)) < 0)
			fprintf(stderr, "popsyncd: %s\n", e.msg);
		rc = err_exitcode(rc);
		break;
	default:
		fatalx("%s: bad mode %d", __func__, (int)mode);
	}

out:
	config_free(cfg);
	free(path);
	return rc;
}
