/*
 * threads: the library from several threads at once.
 *
 *   - the local API: 8 threads, each with its own options, each making 20
 *     real calls (check and get_version, alternately) to criu: all succeed;
 *   - the global API, which serializes its callers: 4 threads setting
 *     options and calling criu through it: all succeed;
 *   - the global API while another thread keeps creating and freeing the
 *     global options: every call either works or says the options are
 *     missing, none crashes;
 *   - criu_get_last_error() belongs to the calling thread: threads failing
 *     differently at the same moment each read their own message.
 *
 *   usage: threads <criu-binary>
 *
 * The churn case starts `criu` from PATH: the runner puts a fake first.
 * THREADS_CALLS (default 20) sets the calls per thread of the first case.
 */
#include "harness.h"

#include <pthread.h>

#include "criu.h"

#define FAKE_VERSION 31907 /* what the fake criu in PATH answers */

static const char *criu_bin;
static int calls = 20;
static int real_version; /* what criu_bin answers, asked once up front */

/* ---- the local API: one options object per thread ---- */

struct worker {
	pthread_t thread;
	int id;
	char problem[200];
};

static void *local_worker(void *arg)
{
	struct worker *w = arg;
	criu_opts *o = NULL;
	int i;

	if (criu_local_init_opts(&o) || criu_local_set_service_binary(o, criu_bin)) {
		snprintf(w->problem, sizeof(w->problem), "thread %d: cannot set up options", w->id);
		return NULL;
	}
	for (i = 0; i < calls && !w->problem[0]; i++) {
		int ret = i % 2 ? criu_local_check(o) : criu_local_get_version(o);
		int want = i % 2 ? 0 : real_version;

		if (ret != want)
			snprintf(w->problem, sizeof(w->problem), "thread %d call %d (%s): %d, expected %d: %s", w->id,
				 i, i % 2 ? "check" : "get_version", ret, want, criu_get_last_error());
	}
	criu_local_free_opts(o);
	return NULL;
}

static void run_workers(int n, void *(*fn)(void *), struct outcome *out)
{
	struct worker w[8];
	int i;

	memset(w, 0, sizeof(w));
	for (i = 0; i < n; i++) {
		w[i].id = i;
		pthread_create(&w[i].thread, NULL, fn, &w[i]);
	}
	for (i = 0; i < n; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].problem[0])
			note(out, "%s", w[i].problem);
	}
}

/* Whatever the threads did, nothing may be left behind. */
static void nothing_left(int fds_before, struct outcome *out)
{
	char kids[256];

	if (fd_count() != fds_before)
		note(out, "%d descriptors before, %d after", fds_before, fd_count());
	children(kids, sizeof(kids));
	if (kids[0])
		note(out, "children left: %s", kids);
}

static void case_local(void *arg, struct outcome *out)
{
	int fds = fd_count();

	(void)arg;
	run_workers(8, local_worker, out);
	nothing_left(fds, out);
}

/* ---- the global API ---- */

static void *global_worker(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < 10 && !w->problem[0]; i++) {
		int v, c;

		/* Every thread sets the same values, so each call's result is
		 * known whatever the interleaving. */
		criu_set_service_binary(criu_bin);
		criu_set_log_level(CRIU_LOG_WARN);
		criu_set_leave_running(true);
		v = criu_get_version();
		c = criu_check();
		if (v != real_version || c != 0)
			snprintf(w->problem, sizeof(w->problem), "thread %d round %d: version %d, check %d: %s",
				 w->id, i, v, c, criu_get_last_error());
	}
	return NULL;
}

static void case_global(void *arg, struct outcome *out)
{
	int fds = fd_count();

	(void)arg;
	criu_init_opts();
	run_workers(4, global_worker, out);
	criu_free_opts();
	nothing_left(fds, out);
}

static volatile int users_running;
static int cycles, answered, refused;

static void *churner(void *arg)
{
	(void)arg;
	/* Pauses on both sides, so the users meet the options both there and
	 * gone (the lock would otherwise let this loop win nearly every time). */
	while (users_running) {
		criu_init_opts();
		criu_set_log_level(CRIU_LOG_ERROR);
		usleep(3000);
		criu_free_opts();
		usleep(1000);
		cycles++;
	}
	return NULL;
}

static void *churn_user(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < 50 && !w->problem[0]; i++) {
		int r = criu_set_root("/");
		int v = criu_get_version();

		criu_set_pid(1);
		__atomic_add_fetch(v == FAKE_VERSION ? &answered : &refused, 1, __ATOMIC_RELAXED);
		if ((r != 0 && r != -EINVAL) || (v != FAKE_VERSION && v != -EINVAL))
			snprintf(w->problem, sizeof(w->problem),
				 "thread %d: set_root %d, get_version %d (expected 0 or -EINVAL, %d or -EINVAL): %s",
				 w->id, r, v, FAKE_VERSION, criu_get_last_error());
	}
	return NULL;
}

static void case_churn(void *arg, struct outcome *out)
{
	pthread_t t;
	int fds = fd_count();

	(void)arg;
	users_running = 1;
	pthread_create(&t, NULL, churner, NULL);
	run_workers(3, churn_user, out);
	users_running = 0;
	pthread_join(t, NULL);
	criu_free_opts();
	nothing_left(fds, out);
	/*
	 * Not a failure (scheduling decides, and valgrind serializes threads),
	 * but the case proves little if one side never ran: say so on stderr.
	 */
	if (!cycles || !answered || !refused)
		fprintf(stderr, "threads: little interleaving: %d init/free cycles, %d answers, %d refusals\n", cycles,
			answered, refused);
}

/* ---- last error per thread ---- */

static pthread_barrier_t barrier;

/* Thread 0 fails one way, thread 1 another (swapping each round), thread 2
 * not at all; all read their message at the same moment. */
static void *error_worker(void *arg)
{
	struct worker *w = arg;
	criu_opts *o = NULL;
	int round;

	criu_local_init_opts(&o);
	for (round = 0; round < 200; round++) {
		int kind = w->id == 2 ? 2 : (w->id + round) % 2;
		const char *want = kind == 0 ? "root is NULL" : kind == 1 ? "options pointer is NULL" : "";
		const char *got;

		if (kind == 0)
			criu_local_set_root(o, NULL);
		else if (kind == 1)
			criu_local_check(NULL);
		else
			criu_local_set_pid(o, 1);
		pthread_barrier_wait(&barrier);
		got = criu_get_last_error();
		if (!got || (want[0] ? !strstr(got, want) : got[0] != 0)) {
			snprintf(w->problem, sizeof(w->problem), "thread %d round %d read '%s', expected '%s'", w->id,
				 round, got ? got : "(null)", want);
			/* Keep going through the barriers, or the others wait forever. */
		}
		pthread_barrier_wait(&barrier);
	}
	criu_local_free_opts(o);
	return NULL;
}

static void case_last_error(void *arg, struct outcome *out)
{
	(void)arg;
	pthread_barrier_init(&barrier, NULL, 3);
	run_workers(3, error_worker, out);
	if (criu_get_last_error()[0])
		note(out, "the main thread, which made no call, reads '%s'", criu_get_last_error());
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*body)(void *, struct outcome *);
	} cases[] = {
		{ "local API: 8 threads, own options, real check/get_version calls", case_local },
		{ "global API: 4 threads setting options and calling criu", case_global },
		{ "global API (3 threads x 50 calls) while another thread creates and frees the options", case_churn },
		{ "criu_get_last_error() is per thread (3 threads, 200 rounds)", case_last_error },
	};
	unsigned alarm_s = getenv("THREADS_ALARM") ? atoi(getenv("THREADS_ALARM")) : 100;
	criu_opts *o = NULL;
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s <criu-binary>\n", argv[0]);
		return 2;
	}
	criu_bin = argv[1];
	if (getenv("THREADS_CALLS"))
		calls = atoi(getenv("THREADS_CALLS"));
	criu_local_init_opts(&o);
	criu_local_set_service_binary(o, criu_bin);
	real_version = criu_local_get_version(o);
	criu_local_free_opts(o);
	if (real_version <= 0) {
		printf("FAIL setup: %s answers get_version with %d\n", criu_bin, real_version);
		return 1;
	}

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outcome out;
		long t0 = now_ms();
		const char *abnormal = isolate(cases[i].body, NULL, alarm_s, &out);
		char detail[64];

		snprintf(detail, sizeof(detail), "%ld ms", now_ms() - t0);
		verdict(cases[i].name, abnormal ? abnormal : out.note, abnormal ? NULL : detail);
	}
	return summary();
}
