/*
 * faults: criu failing or misbehaving, as the caller sees it.
 *
 * Each case points an options object at a fake criu (fake-criu.c, one mode
 * per case) or at a broken service, runs one operation in a forked child
 * under an alarm, and checks that the operation
 *   - returns the documented error value and errno, with a message,
 *   - returns in time (a reply timeout bounds a silent criu),
 *   - leaves no child behind (a zombie is a criu nobody reaped),
 *   - leaves the caller's descriptors exactly as they were.
 *
 *   usage: faults <modes-dir> [--report <file>]
 *
 * <modes-dir> holds one symlink to fake-criu per mode. --report writes one
 * line per case, "<case>\t<outcome>", for the upstream comparison; built
 * with -DUPSTREAM (against upstream libcriu, which has no reply timeout and
 * no criu_get_last_error) the program only reports and never fails.
 */
#include "harness.h"

#include <pthread.h>
#include <sys/socket.h>

#include "criu.h"

#ifdef UPSTREAM
#define criu_local_set_reply_timeout(opts, ms) ((void)0)
#define criu_get_last_error() ""
#endif

static char modes[PATH_MAX];
static int valgrind;

enum op { GET_VERSION, RESTORE, FEATURE_CHECK };

struct fcase {
	const char *name;
	const char *mode;        /* fake-criu mode, or a path starting with '/' */
	enum op op;
	unsigned timeout_ms;     /* reply timeout; 0: wait as long as criu takes */
	int expect;              /* return value */
	int expect_errno;        /* errno after the call; -1: not checked */
	long max_ms;             /* the call must return within this; 0: any */
	void (*setup)(criu_opts *);
	void (*cleanup)(struct outcome *);
};

/* ---- cases that need more than a fake binary ---- */

static int peer = -1; /* our end of a socket handed to the library */

/* A service fd whose other end never answers. */
static void silent_service_fd(criu_opts *o)
{
	int sv[2];

	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	peer = sv[0];
	criu_local_set_service_fd(o, sv[1]);
}

/* The library closes the service fd after the request: so must we, ours. */
static void close_peer(struct outcome *out)
{
	(void)out;
	close(peer);
}

/*
 * A service fd is good for one request (the library closes it, as upstream
 * does). Its number is then free, and the caller's next open() may get it:
 * a second request on the same options must not close that new file.
 */
static int reused = -1;

static void service_fd_used_once(criu_opts *o)
{
	int sv[2], fd;

	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	close(sv[0]);
	criu_local_set_service_fd(o, sv[1]);
	criu_local_get_version(o); /* fails (no peer), and closes sv[1] */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	dup2(fd, sv[1]); /* the caller's new file, at the old number */
	close(fd);
	reused = sv[1];
}

static void caller_file_still_open(struct outcome *out)
{
	if (fcntl(reused, F_GETFD) < 0)
		note(out, "the library closed fd %d, a file the caller opened after the service fd was used", reused);
	else
		close(reused);
}

static void closed_service_fd(criu_opts *o)
{
	criu_local_set_service_fd(o, 999);
}

static void missing_socket(criu_opts *o)
{
	criu_local_set_service_address(o, "/nonexistent/criu_service.socket");
}

static void long_socket_path(criu_opts *o)
{
	char path[300];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = 0;
	criu_local_set_service_address(o, path);
}

/* Someone else (the OOM killer, an operator) kills criu mid-request. */
static pthread_t killer;

static void *kill_children(void *arg)
{
	char list[256], *p;

	(void)arg;
	usleep(300 * 1000);
	children(list, sizeof(list));
	for (p = list; *p; p = strchr(p, ' ') + 1)
		kill(atoi(p), SIGKILL);
	return NULL;
}

static void kill_criu_later(criu_opts *o)
{
	(void)o;
	pthread_create(&killer, NULL, kill_children, NULL);
}

static void join_killer(struct outcome *out)
{
	(void)out;
	pthread_join(killer, NULL);
}

/* A notify callback that, like most, has no use for orphan pty masters. */
static int ignore_notification(char *action, criu_notify_arg_t na)
{
	(void)action;
	(void)na;
	return 0;
}

static void with_notify_cb(criu_opts *o)
{
	criu_local_set_notify_cb(o, ignore_notification);
}

/* ---- the cases ---- */

#define ANY -1

static const struct fcase cases[] = {
	{ "baseline: a well-behaved fake", "ok", GET_VERSION, 0, 31907, 0 },
	{ "service binary missing", "/nonexistent/criu", GET_VERSION, 0, -ECONNREFUSED, ENOENT },
	{ "service binary not executable", "noexec", GET_VERSION, 0, -ECONNREFUSED, EACCES },
	{ "service binary is a directory", "directory", GET_VERSION, 0, -ECONNREFUSED, EACCES },
	{ "service binary's interpreter missing", "bad-interpreter", GET_VERSION, 0, -ECONNREFUSED, ENOENT },
	{ "criu exits before reading", "exit-early", GET_VERSION, 0, -ECOMM, ANY },
	{ "criu killed after reading the request", "die", GET_VERSION, 0, -ECOMM, ECONNRESET },
	{ "criu killed after a notification", "notify-die", GET_VERSION, 0, -ECOMM, ECONNRESET },
	{ "criu killed from outside mid-request", "silent", GET_VERSION, 0, -ECOMM, ECONNRESET, 0,
	  kill_criu_later, join_killer },
	{ "garbage answer", "garbage", GET_VERSION, 0, -ECOMM, EBADMSG },
	{ "truncated answer", "truncated", GET_VERSION, 0, -ECOMM, EBADMSG },
	{ "oversized answer (1 MiB + 1)", "oversized", GET_VERSION, 0, -ECOMM, EMSGSIZE },
	{ "answer of exactly 1 MiB", "at-limit", GET_VERSION, 0, -EBADE, 95 },
	{ "answer of the wrong type", "wrong-type", GET_VERSION, 0, -EBADMSG, 0 },
	{ "request type unknown to criu", "unsupported", GET_VERSION, 0, -EINVAL, 0 },
	{ "version answer without the version", "bare", GET_VERSION, 0, -ECOMM, EBADMSG },
	{ "restore answer without the pid", "bare", RESTORE, 0, -ECOMM, EBADMSG },
	{ "feature answer without the features", "bare", FEATURE_CHECK, 0, -ECOMM, EBADMSG },
	{ "empty packet", "empty-packet", GET_VERSION, 0, -ECOMM, ECONNRESET },
	{ "criu reports failure", "fail", GET_VERSION, 0, -EBADE, 95 },
	{ "silent criu, reply timeout 300 ms", "silent", GET_VERSION, 300, -ECOMM, ETIMEDOUT, 2000 },
	{ "slow criu (300 ms) within a 3 s reply timeout", "slow", GET_VERSION, 3000, 31907, 0 },
	{ "answer carrying a descriptor", "fds", GET_VERSION, 0, 31907, 0 },
	{ "answer carrying 3 descriptors", "many-fds", GET_VERSION, 0, -ECOMM, ENFILE },
	{ "descriptor on a pre-dump notification", "stray-fd", GET_VERSION, 0, 31907, 0, 0, with_notify_cb },
	{ "criu answers but never exits, reply timeout 300 ms", "linger", GET_VERSION, 300, 31907, 0, 2000 },
	{ "service socket missing", "", GET_VERSION, 0, -ECONNREFUSED, ENOENT, 0, missing_socket },
	{ "service socket path too long", "", GET_VERSION, 0, -ECONNREFUSED, ENAMETOOLONG, 0, long_socket_path },
	{ "service fd never answers, reply timeout 300 ms", "", GET_VERSION, 300, -ECOMM, ETIMEDOUT, 2000,
	  silent_service_fd, close_peer },
	{ "service fd not open", "", GET_VERSION, 0, -ECOMM, EBADF, 0, closed_service_fd },
	{ "second request on a service fd already used", "", GET_VERSION, 0, -ECONNREFUSED, EBADF, 0,
	  service_fd_used_once, caller_file_still_open },
};

static int run_op(criu_opts *o, enum op op)
{
	struct criu_feature_check f = { true, true, true };

	switch (op) {
	case RESTORE:
		return criu_local_restore(o);
	case FEATURE_CHECK:
		return criu_local_feature_check(o, &f, sizeof(f));
	default:
		return criu_local_get_version(o);
	}
}

static void run_case(void *arg, struct outcome *out)
{
	const struct fcase *c = arg;
	static char before[4096], after[4096], kids[256];
	char service[PATH_MAX + 64];
	criu_opts *o = NULL;
	long t0;

	fd_list(before, sizeof(before));
	if (criu_local_init_opts(&o)) {
		note(out, "criu_local_init_opts failed");
		return;
	}
	if (c->mode[0]) {
		snprintf(service, sizeof(service), "%s%s%s", c->mode[0] == '/' ? "" : modes,
			 c->mode[0] == '/' ? "" : "/", c->mode);
		criu_local_set_service_binary(o, service);
	}
	if (c->timeout_ms)
		criu_local_set_reply_timeout(o, c->timeout_ms);
	if (c->setup)
		c->setup(o);

	t0 = now_ms();
	out->ret = run_op(o, c->op);
	out->err = errno;
	out->ms = now_ms() - t0;
	snprintf(out->msg, sizeof(out->msg), "%s", criu_get_last_error());

	criu_local_free_opts(o);
	if (c->cleanup)
		c->cleanup(out);
	/* Whatever the library started must be gone, reaped, by now. */
	children(kids, sizeof(kids));
	if (kids[0])
		note(out, "children left: %s", kids);
	fd_list(after, sizeof(after));
	fd_changes(before, after, out);
}

static void check(const struct fcase *c, const struct outcome *o, char *problem, size_t size)
{
	size_t n = 0;

	/* Under valgrind a binary that cannot run looks like criu hanging up. */
	int exec_failure_hidden = valgrind && c->mode[0] && c->expect == -ECONNREFUSED && o->ret == -ECOMM;

	problem[0] = 0;
	if (o->ret != c->expect && !exec_failure_hidden)
		n += snprintf(problem + n, size - n, "returned %d, expected %d; ", o->ret, c->expect);
	if (c->expect_errno != ANY && o->err != c->expect_errno && !exec_failure_hidden)
		n += snprintf(problem + n, size - n, "errno %d (%s), expected %d; ", o->err, strerrorname_np(o->err),
			      c->expect_errno);
	if (c->max_ms && o->ms > c->max_ms)
		n += snprintf(problem + n, size - n, "took %ld ms, bound %ld; ", o->ms, c->max_ms);
	if (c->expect < 0 && !o->msg[0])
		n += snprintf(problem + n, size - n, "no criu_get_last_error() message; ");
	if (o->note[0])
		snprintf(problem + n, size - n, "%s", o->note);
}

int main(int argc, char **argv)
{
	FILE *report = NULL;
	unsigned alarm_s = getenv("FAULTS_ALARM") ? atoi(getenv("FAULTS_ALARM")) : 10;
	size_t i;

	/* Kept as given (relative, from the runner), so that messages and the
	 * report name no path of this machine. */
	if (argc < 2 || strlen(argv[1]) >= sizeof(modes)) {
		fprintf(stderr, "usage: %s <modes-dir> [--report <file>]\n", argv[0]);
		return 2;
	}
	strcpy(modes, argv[1]);
	valgrind = getenv("LIBCRIU_TEST_VALGRIND") != NULL;
	if (argc == 4 && !strcmp(argv[2], "--report"))
		report = fopen(argv[3], "w");

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct fcase *c = &cases[i];
		char problem[1024], detail[600];
		struct outcome o;
		const char *abnormal = isolate(run_case, (void *)c, alarm_s, &o);

		if (abnormal)
			snprintf(detail, sizeof(detail), "%s", abnormal);
		else
			snprintf(detail, sizeof(detail), "%d, errno %s, %ld ms, '%.120s'", o.ret,
				 o.err ? strerrorname_np(o.err) : "0", o.ms, o.msg);
		if (report)
			fprintf(report, "%s\t%s%s%s\n", c->name, detail, !abnormal && o.note[0] ? "; " : "",
				!abnormal ? o.note : "");
#ifdef UPSTREAM
		printf("%s: %s\n", c->name, detail);
		continue;
#endif
		if (abnormal)
			snprintf(problem, sizeof(problem), "%s", abnormal);
		else
			check(c, &o, problem, sizeof(problem));
		verdict(c->name, problem, detail);
	}
	if (report)
		fclose(report);
#ifdef UPSTREAM
	return 0;
#endif
	return summary();
}
