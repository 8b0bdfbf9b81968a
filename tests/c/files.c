/*
 * Ghost files, external files, inherited fds and tmp files through the C
 * API, end to end with the real criu.
 *
 *   files CRIU_BINARY WORK_DIR
 *
 * Prints "ok NAME" or "FAIL NAME: why" per case and a final count line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criu.h>

#include "common.h"

static int fail(const char *name, const char *fmt, ...)
{
	va_list ap;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failed++;
	return -1;
}

static char *path(const char *name)
{
	static char buf[4][4096];
	static int next;
	char *p = buf[next++ % 4];
	snprintf(p, sizeof(buf[0]), "%s/%s", work, name);
	return p;
}

static int count_lines(const char *file, char *last, size_t last_size)
{
	char line[256];
	int n = 0;
	FILE *f = fopen(file, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (last)
			snprintf(last, last_size, "%s", line);
	}
	fclose(f);
	return n;
}

static int wait_lines(const char *file, int n)
{
	for (int i = 0; i < 400; i++) {
		if (count_lines(file, NULL, 0) >= n)
			return 0;
		sleep_ms(50);
	}
	return -1;
}


/* A reader's step: append `line` to the log file `name`, then pause. */
static void log_and_pause(const char *name, const char *line)
{
	int log = open(path(name), O_WRONLY | O_APPEND | O_CREAT, 0644);
	ssize_t n = strlen(line);
	if (write(log, line, n) != n)
		_exit(1);
	close(log);
	sleep_ms(50);
}

/* Re-reads the (soon deleted) data file and logs its length and sum. */
static void ghost_reader(void)
{
	static unsigned char buf[4 << 20];
	char line[64];
	int fd = open(path("data"), O_RDONLY);
	for (;;) {
		ssize_t len = pread(fd, buf, sizeof(buf), 0);
		unsigned long sum = 0;
		for (ssize_t i = 0; i < len; i++)
			sum = sum * 31 + buf[i];
		snprintf(line, sizeof(line), "%zd %lu\n", len, sum);
		log_and_pause("reads.log", line);
	}
}

static int test_ghost_limit(void)
{
	const char *name = "ghost file within the limit";
	char first[64], last[64];
	int fd, ret, before;
	pid_t pid, restored;
	criu_opts *o;

	mkdir(path("ghost-images"), 0755);
	fd = open(path("data"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	srand(42);
	for (int i = 0; i < (2 << 20) / 4; i++) {
		int r = rand();
		if (write(fd, &r, sizeof(r)) != sizeof(r))
			return fail(name, "cannot write data");
	}
	close(fd);
	pid = start_child(ghost_reader);
	if (wait_lines(path("reads.log"), 1))
		return fail(name, "reader did not start");
	count_lines(path("reads.log"), first, sizeof(first));
	unlink(path("data"));

	o = new_opts(path("ghost-images"), "dump-small.log");
	criu_local_set_pid(o, pid);
	criu_local_set_leave_running(o, true);
	criu_local_set_ghost_limit(o, 1 << 20);
	ret = criu_local_dump(o);
	if (ret != -EBADE)
		return stop(pid), fail(name, "dump over the limit returned %d, not -EBADE", ret);
	if (!strstr(criu_get_last_error(), "ghost file") || !strstr(criu_get_last_error(), "increase limit"))
		return stop(pid), fail(name, "message does not name the cause: %s", criu_get_last_error());

	criu_local_set_leave_running(o, false);
	criu_local_set_ghost_limit(o, 8 << 20);
	criu_local_set_log_file(o, "dump.log");
	ret = criu_local_dump(o);
	if (ret != 0)
		return stop(pid), fail(name, "dump with 8 MiB limit: %d (%s)", ret, criu_get_last_error());
	waitpid(pid, NULL, 0);

	criu_local_set_log_file(o, "restore.log");
	before = count_lines(path("reads.log"), NULL, 0);
	restored = criu_local_restore_child(o);
	if (restored < 0)
		return fail(name, "restore: %d (%s)", restored, criu_get_last_error());
	if (wait_lines(path("reads.log"), before + 3))
		return stop(restored), fail(name, "no reads after restore");
	stop(restored);
	count_lines(path("reads.log"), last, sizeof(last));
	criu_local_free_opts(o);
	if (strcmp(first, last))
		return fail(name, "bytes differ after restore: %s vs %s", first, last);
	ok(name);
	return 0;
}

/* Writes numbered lines through one descriptor opened for append (fd 3). */
static void appender(void)
{
	char line[64];
	int fd = open(path("old.log"), O_WRONLY | O_APPEND | O_CREAT, 0644); /* fd 3 */
	for (int i = 1;; i++) {
		int n = snprintf(line, sizeof(line), "line %d\n", i);
		if (fd != 3 || write(fd, line, n) != n)
			_exit(1);
		sleep_ms(50);
	}
}

struct expected {
	const char *key;
	int fd, matches;
};

static int match_external(const struct criu_external *ext, void *arg)
{
	struct expected *want = arg;
	if (!strcmp(ext->kind, "file") && !strcmp(ext->key, want->key) && ext->fd == want->fd)
		want->matches++;
	return 0;
}

static int test_external_file(void)
{
	const char *name = "external file replaced by an inherited fd";
	char key[128], fdinfo[64], info[512];
	int ret, old_count, replacement, flags = 0;
	pid_t pid, restored;
	criu_opts *o;
	FILE *f;

	mkdir(path("ext-images"), 0755);
	pid = start_child(appender);
	if (wait_lines(path("old.log"), 1))
		return stop(pid), fail(name, "writer did not start");
	ret = criu_get_external_id(pid, 3, key, sizeof(key));
	if (ret <= 0 || strncmp(key, "file[", 5))
		return stop(pid), fail(name, "criu_get_external_id: %d (%s)", ret, criu_get_last_error());

	o = new_opts(path("ext-images"), "dump.log");
	criu_local_set_pid(o, pid);
	if (criu_local_add_external(o, key))
		return stop(pid), fail(name, "add_external(%s): %s", key, criu_get_last_error());
	ret = criu_local_dump(o);
	if (ret)
		return stop(pid), fail(name, "dump: %d (%s)", ret, criu_get_last_error());
	waitpid(pid, NULL, 0);
	old_count = count_lines(path("old.log"), NULL, 0);

	/* The images say what the restore must be handed: this file, on fd 3. */
	struct expected want = { key, 3, 0 };
	ret = criu_list_externals(path("ext-images"), match_external, &want);
	if (ret < 1 || want.matches != 1)
		return fail(name, "criu_list_externals: %d, %d matches (%s)", ret, want.matches, criu_get_last_error());

	replacement = open(path("new.log"), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	criu_local_set_log_file(o, "restore.log");
	if (criu_local_add_inherit_fd(o, replacement, key))
		return fail(name, "add_inherit_fd: %s", criu_get_last_error());
	restored = criu_local_restore_child(o);
	if (restored < 0)
		return fail(name, "restore: %d (%s)", restored, criu_get_last_error());
	if (wait_lines(path("new.log"), 3))
		return stop(restored), fail(name, "no writes reach the caller's file");
	snprintf(fdinfo, sizeof(fdinfo), "/proc/%d/fdinfo/3", restored);
	f = fopen(fdinfo, "r");
	while (f && fgets(info, sizeof(info), f))
		if (sscanf(info, "flags: %o", &flags) == 1)
			break;
	if (f)
		fclose(f);
	stop(restored);
	close(replacement);
	criu_local_free_opts(o);
	if (count_lines(path("old.log"), NULL, 0) != old_count)
		return fail(name, "the old file still grows");
	if (!(flags & O_APPEND) || (flags & O_ACCMODE) != O_WRONLY)
		return fail(name, "restored fd flags %o lost O_WRONLY|O_APPEND", flags);
	ok(name);
	return 0;
}

static int test_validation(void)
{
	const char *name = "malformed ids are rejected at the call";
	criu_opts *o = NULL;
	int ret;

	criu_local_init_opts(&o);
	ret = criu_local_add_external(o, "file[zz:1]");
	if (ret != -EINVAL)
		return fail(name, "file[zz:1] gave %d", ret);
	ret = criu_local_add_external(o, "file[1:2");
	if (ret != -EINVAL)
		return fail(name, "missing bracket gave %d", ret);
	ret = criu_local_add_inherit_fd(o, -1, "file[1:2]");
	if (ret != -EINVAL)
		return fail(name, "fd -1 gave %d", ret);
	ret = criu_local_add_inherit_fd(o, 0, "pipe[123]");
	if (ret != -EINVAL || !strstr(criu_get_last_error(), "pipe"))
		return fail(name, "pipe[123] gave %d (%s)", ret, criu_get_last_error());
	if (criu_local_add_external(o, "file[1f:2a]") || criu_local_add_inherit_fd(o, 0, "pipe:[123]"))
		return fail(name, "valid ids refused: %s", criu_get_last_error());
	criu_local_free_opts(o);
	ok(name);
	return 0;
}

/* Re-reads the tmp file (a criu restore reopens it by path) and logs it. */
static void tmp_reader(void)
{
	char buf[64], line[96];
	int fd = open(path("tmp-dir/state"), O_RDONLY);
	for (;;) {
		ssize_t len = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[len > 0 ? len : 0] = 0;
		snprintf(line, sizeof(line), "%s\n", buf);
		log_and_pause("tmp-reads.log", line);
	}
}

static int test_tmp_files(void)
{
	const char *name = "tmp files come back without the restore naming them";
	char last[96];
	int fd, ret, before;
	pid_t pid, restored;
	criu_opts *o;

	mkdir(path("tmp-images"), 0755);
	mkdir(path("tmp-dir"), 0755);
	fd = open(path("tmp-dir/state"), O_WRONLY | O_CREAT | O_TRUNC, 0640);
	if (fd < 0 || write(fd, "state 1", 7) != 7)
		return fail(name, "cannot write the tmp file");
	close(fd);
	pid = start_child(tmp_reader);
	if (wait_lines(path("tmp-reads.log"), 1))
		return stop(pid), fail(name, "reader did not start");
	o = new_opts(path("tmp-images"), "tmp-dump.log");
	criu_local_set_pid(o, pid);
	if ((ret = criu_local_add_tmp_file(o, path("tmp-dir"))) != 0)
		return stop(pid), fail(name, "add_tmp_file: %d (%s)", ret, criu_get_last_error());
	if ((ret = criu_local_dump(o)) != 0)
		return stop(pid), fail(name, "dump: %d (%s)", ret, criu_get_last_error());
	waitpid(pid, NULL, 0);
	criu_local_free_opts(o);
	unlink(path("tmp-dir/state"));
	rmdir(path("tmp-dir"));

	/* Put-back turned off: criu cannot reopen the file, nothing is written. */
	o = new_opts(path("tmp-images"), "tmp-restore-off.log");
	criu_local_set_tmp_file_put_back(o, false);
	restored = criu_local_restore_child(o);
	criu_local_free_opts(o);
	if (restored >= 0)
		return stop(restored), fail(name, "restore without the put-back succeeded");
	if (access(path("tmp-dir"), F_OK) == 0)
		return fail(name, "the put-back was off, yet tmp-dir is back");
	/* The failed restore's task was forked as our child (restore_child):
	 * reap it, so its pid is free again. */
	for (int i = 0; i < 200 && kill(pid, 0) == 0; i++) {
		waitpid(pid, NULL, WNOHANG);
		sleep_ms(50);
	}

	/* Fresh options, as another caller would have: everything comes back. */
	o = new_opts(path("tmp-images"), "tmp-restore.log");
	before = count_lines(path("tmp-reads.log"), NULL, 0);
	restored = criu_local_restore_child(o);
	criu_local_free_opts(o);
	if (restored < 0)
		return fail(name, "restore: %d (%s)", restored, criu_get_last_error());
	if (wait_lines(path("tmp-reads.log"), before + 3))
		return stop(restored), fail(name, "no reads after restore");
	stop(restored);
	count_lines(path("tmp-reads.log"), last, sizeof(last));
	if (strcmp(last, "state 1\n"))
		return fail(name, "the restored process read %s", last);
	ok(name);
	return 0;
}

int main(int argc, char *argv[])
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s CRIU_BINARY WORK_DIR\n", argv[0]);
		return 2;
	}
	criu_bin = argv[1];
	work = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_validation();
	test_ghost_limit();
	test_external_file();
	test_tmp_files();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
