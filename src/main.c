/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The popsyncd authors */
/* The popsyncd command: options, start-up order and exit codes. */

#include "autoconf.h"

#include <sys/prctl.h>

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "check.h"
#include "config.h"
#include "dryrun.h"
#include "err.h"
#include "import.h"
#include "log.h"
#include "oauth2.h"
#include "once.h"
#include "probe.h"
#include "sched.h"
#include "sdnotify.h"
#include "status.h"
#include "store.h"
#include "xmalloc.h"

enum main_mode {
	MAIN_DAEMON,
	MAIN_CHECK_CONFIG,
	MAIN_PROBE,
	MAIN_ONCE,
	MAIN_STATUS,
	MAIN_IMPORT,
	MAIN_MARK_SEEN,
	MAIN_AUTHORIZE
};

/* Set by SIGINT and SIGTERM: the syncs stop after the current message;
 * by a second one: at once. */
static atomic_int main_stop;
static atomic_int main_hard_stop;
static bool main_tty;		/* stderr is a terminal: say what ^C does */

static void	main_usage(FILE *);
static int	main_check_config(const struct config *);
static int	main_root_check(const struct config *);
static int	main_import(const struct config *, const char *, char **);
static int	main_mark_seen(const struct config *, const char *);
static void	main_on_signal(int);

static const struct option main_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "check-config", no_argument, NULL, 'n' },
	{ "probe", required_argument, NULL, 'p' },
	{ "once", no_argument, NULL, 'o' },
	{ "authorize", required_argument, NULL, 'a' },
	{ "status", no_argument, NULL, 's' },
	{ "json", no_argument, NULL, 'j' },
	{ "import", required_argument, NULL, 'I' },
	{ "mark-seen", required_argument, NULL, 'M' },
	{ "dry-run", no_argument, NULL, 'D' },
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
	    "       popsyncd [-c FILE] [-v[v]] --once --dry-run [--json] "
	    "[NAME...]\n"
	    "       popsyncd [-c FILE] --status [--json]\n"
	    "       popsyncd [-c FILE] [-v[v]] --check-config\n"
	    "       popsyncd [-c FILE] [-v[v]] --probe NAME\n"
	    "       popsyncd [-c FILE] --import FORMAT PATH NAME\n"
	    "       popsyncd [-c FILE] [-v[v]] --mark-seen NAME\n"
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
	    "      --dry-run       with --once: log in, list and print what a "
	    "sync\n"
	    "                      would fetch, skip and delete, and why; "
	    "change nothing\n"
	    "      --status        what the state database says of each "
	    "account\n"
	    "      --json          with --status or --dry-run: as JSON\n"
	    "  -n, --check-config  validate the config and exit (0 ok, 2 "
	    "errors)\n"
	    "      --probe NAME    connect to account NAME, show the server, "
	    "TLS\n"
	    "                      and capabilities, log in, STAT and QUIT\n"
	    "      --import FORMAT PATH NAME\n"
	    "                      take the UIDLs another fetcher (fetchmail, "
	    "mpop,\n"
	    "                      getmail, fdm) saw in NAME's mailbox from its "
	    "state\n"
	    "                      file PATH: the next sync skips those "
	    "messages\n"
	    "      --mark-seen NAME record every message now on NAME's server "
	    "as\n"
	    "                      fetched, without fetching or deleting any\n"
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
	/* The fix is nearly always to run it as the mail's owner: say so
	 * before the way around the check. */
	fprintf(stderr, "popsyncd: refusing to run as root: mail belongs to "
	    "a user, and so should the files popsyncd writes.\n"
	    "popsyncd: run it as that user (systemctl --user enable --now "
	    "popsyncd), or from root as the system service popsyncd@USER "
	    "(systemctl enable --now popsyncd@alice); only if it must run as "
	    "root, set allow_root = true in %s\n", cfg->path);
	return 2;
}

/*
 * --import FORMAT PATH NAME: the peer's file is read and checked before
 * the database is opened, so a refused import changes nothing.
 */
static int
main_import(const struct config *cfg, const char *format, char **args)
{
	const struct account	*a;
	struct import_set	 set;
	enum import_format	 f;
	struct store		*s = NULL;
	struct err		 e;
	char			*host = NULL;
	size_t			 added = 0;
	int			 rc;

	memset(&set, 0, sizeof(set));
	if (import_format_parse(format, &f) < 0) {
		fprintf(stderr, "popsyncd: --import: unknown format %s (one of "
		    "fetchmail, mpop, getmail, fdm)\n", format);
		return 2;
	}
	if ((a = config_find(cfg, args[1])) == NULL) {
		fprintf(stderr, "popsyncd: %s: no account named %s\n",
		    cfg->path, args[1]);
		return 2;
	}
	if ((rc = import_read(f, args[0], a, &set, &e)) < 0 ||
	    (rc = store_open(cfg->state_db, &s, &e)) < 0)
		goto out;
	host = import_host(a->host);
	if ((rc = store_import_add(s, host, a->user, format,
	    (const char *const *)set.uidls, set.n, &added, &e)) < 0)
		goto out;
	printf("%s: took %zu %s entr%s for %s@%s from %s (%zu new), left %zu "
	    "of other mailboxes\n", a->name, set.n, format,
	    set.n == 1 ? "y" : "ies", a->user, a->host, args[0], added,
	    set.others);
out:
	if (rc < 0)
		fprintf(stderr, "popsyncd: %s\n", e.msg);
	store_close(s);
	import_set_free(&set);
	free(host);
	return err_exitcode(rc);
}

/* --mark-seen NAME: what is on the server now counts as fetched. */
static int
main_mark_seen(const struct config *cfg, const char *name)
{
	const struct account	*a;
	struct store		*s = NULL;
	struct err		 e;
	char			*identity = NULL;
	size_t			 listed, added;
	int			 rc, changed;

	if ((a = config_find(cfg, name)) == NULL) {
		fprintf(stderr, "popsyncd: %s: no account named %s\n",
		    cfg->path, name);
		return 2;
	}
	identity = xasprintf("%s@%s:%d", a->user, a->host, a->port);
	if ((rc = store_open(cfg->state_db, &s, &e)) < 0 ||
	    (rc = store_account_bind(s, a->name, a->host, a->user, identity,
	    &changed, &e)) < 0 ||
	    (rc = import_mark_seen(s, a, &listed, &added, &e)) < 0)
		goto out;
	printf("%s: %zu message%s on the server, %zu newly marked as fetched, "
	    "%zu already known; nothing fetched or deleted\n", a->name,
	    listed, listed == 1 ? "" : "s", added, listed - added);
out:
	if (rc < 0)
		fprintf(stderr, "popsyncd: %s\n", e.msg);
	store_close(s);
	free(identity);
	return err_exitcode(rc);
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

/* --check-config: the config loaded; check what can be checked offline,
 * then say what it holds. */
static int
main_check_config(const struct config *cfg)
{
	int	errors;

	if ((errors = check_config(cfg, stderr)) > 0) {
		fprintf(stderr, "popsyncd: error: %s: %d error%s\n", cfg->path,
		    errors, errors == 1 ? "" : "s");
		return 2;
	}
	check_summary(cfg, stdout);
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
	const char	*name_arg = NULL, *import_format = NULL;
	struct sigaction sa;
	bool		 json = false, quiet = false, dry_run = false;
	int		 ch, verbose = 0, rc;

	/* A server that hangs up must not kill us while we write to it. */
	signal(SIGPIPE, SIG_IGN);
	log_init(LOG_LVL_INFO);
#ifdef M_MMAP_THRESHOLD
	/*
	 * glibc raises its mmap threshold to the largest block freed so far,
	 * up to 32 MiB: after the first big listing of a sync, every later
	 * one came from the heap, where calloc clears (touches) all of it and
	 * a free does not give it back.  A fixed threshold keeps the arrays
	 * of a long listing in their own mappings: zero pages until used, and
	 * returned whole (issue 9: RSS the same for 10 messages as for
	 * 100,000).
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
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
		case 'I':
			mode = MAIN_IMPORT;
			import_format = optarg;
			break;
		case 'M':
			mode = MAIN_MARK_SEEN;
			name_arg = optarg;
			break;
		case 'D':
			dry_run = true;
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
	if (dry_run && mode != MAIN_ONCE) {
		fprintf(stderr, "popsyncd: --dry-run goes with --once\n");
		rc = 2;
		goto out;
	}
	if (json && mode != MAIN_STATUS && !dry_run) {
		fprintf(stderr, "popsyncd: --json goes with --status or "
		    "--once --dry-run\n");
		rc = 2;
		goto out;
	}
	/* --once takes the accounts to sync, --import PATH and NAME. */
	if (mode == MAIN_IMPORT && argc - optind != 2) {
		fprintf(stderr, "popsyncd: --import FORMAT takes PATH and "
		    "NAME\n");
		main_usage(stderr);
		rc = 2;
		goto out;
	}
	if (optind != argc && mode != MAIN_ONCE && mode != MAIN_IMPORT) {
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

	if ((mode == MAIN_DAEMON || mode == MAIN_ONCE || mode == MAIN_IMPORT ||
	    mode == MAIN_MARK_SEEN || mode == MAIN_AUTHORIZE) &&
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
		if (dry_run) {
			rc = dryrun_run(cfg, argv + optind,
			    (size_t)(argc - optind), stdout, json, &e);
			/* An account's failure was printed with it. */
			if (rc < 0 && e.msg[0] != '\0')
				fprintf(stderr, "popsyncd: %s\n", e.msg);
			rc = err_exitcode(rc);
			break;
		}
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
	case MAIN_IMPORT:
		rc = main_import(cfg, import_format, argv + optind);
		break;
	case MAIN_MARK_SEEN:
		rc = main_mark_seen(cfg, name_arg);
		break;
	default:
		fatalx("%s: bad mode %d", __func__, (int)mode);
	}

out:
	config_free(cfg);
	free(path);
	return rc;
}
