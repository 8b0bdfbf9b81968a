/*
 * hygiene: what a long-lived daemon needs from the library besides right
 * answers. After many operations it has the same descriptors and no extra
 * children; the library reaps only the criu it started, so the caller's own
 * children still report their exit status to the caller; signals the caller
 * handles (SIGCHLD, a busy timer) do not make operations fail or hang.
 *
 *   usage: hygiene <modes-dir> [<criu-binary>]
 *
 * <modes-dir> holds one fake-criu symlink per mode (see fake-criu.c); with
 * <criu-binary>, a real criu also answers a thousand version requests.
 * HYGIENE_OPS (default 1000) sets the number of operations per loop.
 */
#include "harness.h"

#include <sys/socket.h>
#include <sys/time.h>

#include "criu.h"

#define FAKE_VERSION 31907

static char modes[PATH_MAX];
static const char *real_criu;
static int ops = 1000; /* operations in the running case */
static int valgrind;

static criu_opts *opts_for(const char *mode)
{
	char path[PATH_MAX + 64];
	criu_opts *o = NULL;

	criu_local_init_opts(&o);
	snprintf(path, sizeof(path), "%s/%s", modes, mode);
	criu_local_set_service_binary(o, mode[0] == '/' ? mode : path);
	return o;
}

/* One operation against `mode`, checked against the value it must give. */
struct step {
	const char *mode;
	int (*op)(criu_opts *);
	int expect;
	unsigned timeout_ms;
};

static int feature_check(criu_opts *o)
{
	struct criu_feature_check f = { true, false, true };

	return criu_local_feature_check(o, &f, sizeof(f));
}

static const struct step good[] = {
	{ "ok", criu_local_get_version, FAKE_VERSION },
	{ "ok", criu_local_check, 0 },
	{ "ok", feature_check, 0 },
	{ "ok", criu_local_restore, 4242 },
	{ "fds", criu_local_get_version, FAKE_VERSION },
	{ NULL },
};

static const struct step bad[] = {
	{ "fail", criu_local_get_version, -EBADE },
	{ "garbage", criu_local_get_version, -ECOMM },
	{ "wrong-type", criu_local_check, -EBADMSG },
	{ "die", criu_local_get_version, -ECOMM },
	{ "exit-early", criu_local_get_version, -ECOMM },
	{ "empty-packet", criu_local_get_version, -ECOMM },
	{ "oversized", criu_local_get_version, -ECOMM },
	{ "many-fds", criu_local_get_version, -ECOMM },
	{ "silent", criu_local_get_version, -ECOMM, 20 },
	{ "/nonexistent/criu", criu_local_get_version, -ECONNREFUSED },
	{ NULL },
};

/* Run `ops` operations cycling through `steps`; note any wrong value. */
static void run_steps(const struct step *steps, struct outcome *out)
{
	int i, n = 0, wrong = 0;

	while (steps[n].mode)
		n++;
	for (i = 0; i < ops; i++) {
		const struct step *s = &steps[i % n];
		criu_opts *o = opts_for(s->mode);
		int ret;

		if (s->timeout_ms)
			criu_local_set_reply_timeout(o, s->timeout_ms);
		ret = s->op(o);
		criu_local_free_opts(o);
		/* Under valgrind a failed exec looks like criu hanging up (see
		 * SPAWN in hostile.c). */
		if (valgrind && s->expect == -ECONNREFUSED && ret == -ECOMM)
			ret = s->expect;
		if (ret != s->expect && !wrong++)
			note(out, "operation %d (%s) returned %d, expected %d", i, s->mode, ret, s->expect);
	}
	if (wrong > 1)
		note(out, "%d operations gave a wrong value", wrong);
}

/* Descriptors and children before and after `body`. */
static void unchanged(void (*body)(struct outcome *), struct outcome *out)
{
	static char before[8192], after[8192], kids[512];
	int n = fd_count();

	fd_list(before, sizeof(before));
	body(out);
	fd_list(after, sizeof(after));
	if (fd_count() != n)
		note(out, "%d descriptors more than before", fd_count() - n);
	fd_changes(before, after, out);
	children(kids, sizeof(kids));
	if (kids[0])
		note(out, "children left: %s", kids);
}

static void good_steps(struct outcome *out) { run_steps(good, out); }
static void bad_steps(struct outcome *out) { run_steps(bad, out); }

static void real_versions(struct outcome *out)
{
	int i, first = 0;

	for (i = 0; i < ops; i++) {
		criu_opts *o = opts_for(real_criu);
		int v = criu_local_get_version(o);

		criu_local_free_opts(o);
		if (i == 0)
			first = v;
		if (v <= 0 || v != first) {
			note(out, "call %d returned %d (first: %d)", i, v, first);
			return;
		}
	}
}

static void case_good(void *arg, struct outcome *out) { (void)arg; unchanged(good_steps, out); }
static void case_bad(void *arg, struct outcome *out) { (void)arg; unchanged(bad_steps, out); }
static void case_real(void *arg, struct outcome *out) { (void)arg; unchanged(real_versions, out); }

/* ---- the caller's own children ---- */

static volatile sig_atomic_t sigchld_seen;

static void count_sigchld(int sig)
{
	(void)sig;
	sigchld_seen++;
}

/* Operations in a loop, each checked; for the signal cases. */
static void busy(int count, struct outcome *out)
{
	int i;

	for (i = 0; i < count; i++) {
		criu_opts *o = opts_for("ok");
		int v = criu_local_get_version(o);

		criu_local_free_opts(o);
		if (v != FAKE_VERSION) {
			note(out, "operation %d returned %d (errno %d: %s)", i, v, errno, criu_get_last_error());
			return;
		}
	}
}

/*
 * The caller has a SIGCHLD handler (without SA_RESTART, so the library sees
 * EINTR) and children of its own that exit while operations run, one before
 * they start (a zombie waiting for its parent). Each child's status must
 * reach the caller's waitpid().
 */
static void case_own_children(void *arg, struct outcome *out)
{
	struct sigaction sa = { .sa_handler = count_sigchld };
	pid_t kids[5];
	int i;

	(void)arg;
	sigaction(SIGCHLD, &sa, NULL);
	for (i = 0; i < 5; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			usleep(i * 20 * 1000);
			_exit(10 + i);
		}
	}
	usleep(5 * 1000);
	busy(ops, out);
	for (i = 0; i < 5; i++) {
		int status;
		pid_t got;

		while ((got = waitpid(kids[i], &status, 0)) < 0 && errno == EINTR)
			;
		if (got != kids[i])
			note(out, "waitpid(own child %d): %s (the library reaped it?)", i, strerror(errno));
		else if (!WIFEXITED(status) || WEXITSTATUS(status) != 10 + i)
			note(out, "own child %d: status %#x, expected exit %d", i, status, 10 + i);
	}
	if (!sigchld_seen)
		note(out, "the caller's SIGCHLD handler never ran");
}

/* A caller that ignores SIGCHLD: the kernel reaps every child at once. */
static void case_sigchld_ignored(void *arg, struct outcome *out)
{
	(void)arg;
	signal(SIGCHLD, SIG_IGN);
	busy(ops, out);
}

/* A caller whose handler reaps every child, the library's criu included. */
static void reap_all(int sig)
{
	int saved = errno;

	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

static void case_greedy_reaper(void *arg, struct outcome *out)
{
	struct sigaction sa = { .sa_handler = reap_all };

	(void)arg;
	sigaction(SIGCHLD, &sa, NULL);
	busy(ops, out);
}

/* A timer firing every millisecond, without SA_RESTART: EINTR everywhere. */
static void tick(int sig)
{
	(void)sig;
}

static void case_signal_storm(void *arg, struct outcome *out)
{
	struct sigaction sa = { .sa_handler = tick };
	struct itimerval every_ms = { { 0, 1000 }, { 0, 1000 } };

	(void)arg;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &every_ms, NULL);
	busy(ops, out);
	setitimer(ITIMER_REAL, &(struct itimerval){ 0 }, NULL);
}

struct hcase {
	const char *name;
	void (*body)(void *, struct outcome *);
	int share; /* runs HYGIENE_OPS / share operations */
};

int main(int argc, char **argv)
{
	static const struct hcase cases[] = {
		{ "operations against a well-behaved criu: same descriptors, no children", case_good, 1 },
		{ "operations against failing and misbehaving criu: same descriptors, no children", case_bad, 1 },
		{ "version requests to the real criu: same descriptors, no children", case_real, 1 },
		{ "the caller's own children keep their exit status (SIGCHLD handler, EINTR)", case_own_children, 10 },
		{ "caller ignores SIGCHLD: operations still succeed", case_sigchld_ignored, 10 },
		{ "caller's SIGCHLD handler reaps every child: operations still succeed", case_greedy_reaper, 10 },
		{ "a timer signal every millisecond: operations still succeed", case_signal_storm, 5 },
	};
	unsigned alarm_s = getenv("HYGIENE_ALARM") ? atoi(getenv("HYGIENE_ALARM")) : 100;
	int total = 1000;
	size_t i;

	if (argc < 2 || !realpath(argv[1], modes)) {
		fprintf(stderr, "usage: %s <modes-dir> [<criu-binary>]\n", argv[0]);
		return 2;
	}
	real_criu = argc > 2 ? argv[2] : NULL;
	valgrind = getenv("LIBCRIU_TEST_VALGRIND") != NULL;
	if (getenv("HYGIENE_OPS"))
		total = atoi(getenv("HYGIENE_OPS"));

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[200], detail[64];
		struct outcome o;
		const char *abnormal;
		long t0 = now_ms();

		ops = total / cases[i].share;
		snprintf(name, sizeof(name), "%s [%d operations]", cases[i].name, ops);
		if (cases[i].body == case_real && !real_criu) {
			verdict(name, "no criu binary given", NULL);
			continue;
		}
		abnormal = isolate(cases[i].body, NULL, alarm_s, &o);
		snprintf(detail, sizeof(detail), "%ld ms", now_ms() - t0);
		verdict(name, abnormal ? abnormal : o.note, abnormal ? NULL : detail);
	}
	return summary();
}
