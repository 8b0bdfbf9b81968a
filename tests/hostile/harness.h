/*
 * harness.h: what the hostile, fault, hygiene and thread tests share.
 *
 * isolate() runs one case in a forked child under an alarm, so that a case
 * that crashes or hangs is reported as such instead of taking the test
 * program down; the child sends back what it saw through a pipe.
 * fd_list() and children() look at /proc, the way a daemon's operator would
 * notice a leak: descriptors left open, criu processes left behind.
 *
 * Header-only (static inline functions), included by each test program.
 */
#ifndef HARNESS_H
#define HARNESS_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What a case saw, sent from the child to the parent as raw bytes. */
struct outcome {
	int ret;        /* the library's return value */
	int err;        /* errno right after the call */
	long ms;        /* how long the call took */
	char msg[200];  /* criu_get_last_error() (truncated) */
	char note[400]; /* anything else the case found wrong; empty if none */
};

static inline long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void note(struct outcome *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void note(struct outcome *o, const char *fmt, ...)
{
	size_t used = strlen(o->note);
	va_list ap;

	if (used && used < sizeof(o->note) - 2) {
		strcat(o->note, "; ");
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(o->note + used, sizeof(o->note) - used, fmt, ap);
	va_end(ap);
}

/*
 * Run body(arg, &outcome) in a child with an alarm of `seconds`. Returns
 * NULL when the child ended normally (outcome filled in), else what went
 * wrong: "crash SIGSEGV", "hang" (the alarm fired), "exit 1" (valgrind's
 * error exit code, say), "no result".
 */
static inline const char *isolate(void (*body)(void *, struct outcome *), void *arg, unsigned seconds,
			   struct outcome *out)
{
	static char why[64];
	int p[2], status;
	ssize_t n;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe2(p, O_CLOEXEC) < 0)
		return "pipe failed";
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return "fork failed";
	if (pid == 0) {
		struct outcome o;

		close(p[0]);
		/* A group of its own, so that whatever it leaves running (a
		 * criu that never exits, after a hang) can be killed with it. */
		setpgid(0, 0);
		memset(&o, 0, sizeof(o));
		alarm(seconds);
		body(arg, &o);
		alarm(0);
		if (write(p[1], &o, sizeof(o)) != sizeof(o))
			_exit(3);
		/* exit(), not _exit(): valgrind's leak check runs at exit. */
		exit(0);
	}
	close(p[1]);
	do
		n = read(p[0], out, sizeof(*out));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	kill(-pid, SIGKILL);
	if (WIFSIGNALED(status)) {
		if (WTERMSIG(status) == SIGALRM)
			return "hang";
		snprintf(why, sizeof(why), "crash SIG%s", sigabbrev_np(WTERMSIG(status)) ? : "?");
		return why;
	}
	if (WEXITSTATUS(status) != 0) {
		snprintf(why, sizeof(why), "exit %d", WEXITSTATUS(status));
		return why;
	}
	if (n != sizeof(*out))
		return "no result";
	return NULL;
}

/* "fd->target" for every open descriptor, space separated. */
static inline void fd_list(char *buf, size_t size)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t used = 0;

	buf[0] = 0;
	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[300], target[256];
		ssize_t n;

		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = 0;
		used += snprintf(buf + used, used < size ? size - used : 0, "%s->%s ", e->d_name, target);
	}
	closedir(d);
}

/* Note the entries of fd_list() `after` that `before` lacks, and the reverse. */
static inline void fd_changes(const char *before, const char *after, struct outcome *o)
{
	const char *lists[2] = { after, before }, *what[2] = { "left open", "closed" };
	int k;

	for (k = 0; k < 2; k++) {
		char copy[8192], found[400] = "", *save, *entry;
		size_t used = 0;

		snprintf(copy, sizeof(copy), "%s", lists[k]);
		for (entry = strtok_r(copy, " ", &save); entry; entry = strtok_r(NULL, " ", &save)) {
			char padded[300];

			snprintf(padded, sizeof(padded), "%s ", entry);
			if (!strstr(lists[1 - k], padded) && used < sizeof(found))
				used += snprintf(found + used, sizeof(found) - used, " %s", entry);
		}
		if (found[0])
			note(o, "descriptors %s:%s", what[k], found);
	}
}

static inline int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the directory's own descriptor */
}

/*
 * The children of this process as "pid(state)" (state Z: a zombie nobody
 * reaped), space separated; empty when there are none.
 */
static inline void children(char *buf, size_t size)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t used = 0;

	buf[0] = 0;
	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[300], stat[512], *close_paren, state;
		int ppid, fd;
		ssize_t n;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, stat, sizeof(stat) - 1);
		close(fd);
		stat[n < 0 ? 0 : n] = 0;
		/* "pid (comm) state ppid ...": comm may hold anything, even ')'. */
		close_paren = strrchr(stat, ')');
		if (!close_paren || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2 || ppid != getpid())
			continue;
		used += snprintf(buf + used, used < size ? size - used : 0, "%s(%c) ", e->d_name, state);
	}
	closedir(d);
}

/* Wait up to `ms` for this process to have no children left. */
static inline void await_no_children(long ms, char *buf, size_t size)
{
	long end = now_ms() + ms;

	for (;;) {
		children(buf, size);
		if (!buf[0] || now_ms() >= end)
			return;
		usleep(10 * 1000);
	}
}

/* Print one result line and count it. */
static int passed __attribute__((unused)), failed __attribute__((unused));

static inline void verdict(const char *name, const char *problem, const char *detail)
{
	if (problem && problem[0]) {
		printf("FAIL %s: %s%s%s\n", name, problem, detail && detail[0] ? " | " : "", detail ? detail : "");
		failed++;
	} else {
		printf("ok %s%s%s\n", name, detail && detail[0] ? ": " : "", detail ? detail : "");
		passed++;
	}
	fflush(stdout);
}

static inline int summary(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#endif
