/*
 * What the C tests share: the criu under test and the work directory (from
 * argv), the pass and fail counts with their "ok NAME" / "FAIL NAME: why"
 * lines, short sleeps, options objects reaching that criu, starting,
 * stopping and waiting out a child.
 */
#ifndef LIBCRIU_TESTS_C_COMMON_H
#define LIBCRIU_TESTS_C_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criu.h>

static const char *criu_bin, *work;
static int passed, failed;

static inline void ok(const char *name)
{
	printf("ok %s\n", name);
	passed++;
}

/* One case: "ok NAME" when `cond` holds, else why, with libcriu's last error. */
static inline void check(int cond, const char *name, const char *why)
{
	if (cond) {
		ok(name);
	} else {
		printf("FAIL %s: %s (%s)\n", name, why, criu_get_last_error());
		failed++;
	}
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Options reaching the criu under test, logging at debug level to `log`
 * in the images directory `images`. */
static inline criu_opts *new_opts(const char *images, const char *log)
{
	criu_opts *o = NULL;
	int dir = open(images, O_DIRECTORY);
	if (dir < 0 || criu_local_init_opts(&o) < 0)
		return NULL;
	criu_local_set_service_binary(o, criu_bin);
	criu_local_set_images_dir_fd(o, dir); /* stays open for the test's life */
	criu_local_set_log_level(o, CRIU_LOG_DEBUG);
	criu_local_set_log_file(o, log);
	return o;
}

static inline void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Until PID is gone from /proc (reaped by whoever reaps it), at most 10 s:
 * criu cannot restore a pid that is still taken. */
static inline void wait_gone(pid_t pid)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/%d", pid);
	for (int i = 0; i < 500 && access(proc, F_OK) == 0; i++)
		sleep_ms(20);
}

/* A child in a session of its own with stdio on /dev/null, as criu likes it. */
static inline pid_t start_child(void (*body)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		setsid();
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		/* Nothing of ours (images dirs, other tests' fds) leaks into the tree. */
		close_range(3, ~0U, 0);
		body();
		_exit(0);
	}
	return pid;
}

#endif
