/*
 * Migration calls through the C API, with the real criu: a page server as
 * criu's child receiving a dump and criu_local_wait_pid() reporting how it
 * ended, a daemon page server, the CPU record and check, a page server that
 * does not answer, and a lazy-pages daemon that cannot start.
 *
 *   migrate CRIU_BINARY WORK_DIR
 *
 * Prints "ok NAME" or "FAIL NAME: why" per case and a final count line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criu.h>

#include "common.h"

#define CHECK(name, cond, ...)                          \
	do {                                            \
		if (!(cond)) {                          \
			printf("FAIL %s: ", name);      \
			printf(__VA_ARGS__);            \
			printf(" (%s)\n", criu_get_last_error()); \
			failed++;                       \
			return;                         \
		}                                       \
	} while (0)

static char *dir(const char *name)
{
	static char buf[8][4096];
	static int next;
	char *p = buf[next++ % 8];
	snprintf(p, sizeof(buf[0]), "%s/%s", work, name);
	mkdir(p, 0755);
	return p;
}

/* Whether `path` holds a file whose name starts with `prefix`. */
static int has_file(const char *path, const char *prefix)
{
	struct dirent *e;
	int found = 0;
	DIR *d = opendir(path);
	while (d && (e = readdir(d)))
		found |= strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	if (d)
		closedir(d);
	return found;
}

/* A child that counts in shared memory. */
static volatile unsigned long *counter;

static void count(void)
{
	for (;;) {
		(*counter)++;
		sleep_ms(10);
	}
}

static pid_t start_counter(void)
{
	pid_t pid;
	if (!counter)
		counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	*counter = 0;
	pid = start_child(count);
	while (*counter < 2)
		sleep_ms(10);
	return pid;
}

static void page_server_child_and_wait_pid(void)
{
	const char *name = "page server child receives a dump; wait_pid gives its status";
	char *src = dir("chld-src"), *dst = dir("chld-dst");
	criu_opts *server = new_opts(dst, "page-server.log"), *dump = new_opts(src, "dump.log");
	int port = -1, ps, ret, status;
	pid_t pid;

	CHECK(name, server && dump, "options");
	criu_local_set_page_server_address_port(server, "127.0.0.1", 0);
	ps = criu_local_start_page_server_chld(server, &port);
	CHECK(name, ps > 0 && port > 0, "start_page_server_chld returned %d, port %d", ps, port);

	pid = start_counter();
	criu_local_set_pid(dump, pid);
	criu_local_set_page_server_address_port(dump, "127.0.0.1", port);
	ret = criu_local_dump(dump);
	waitpid(pid, NULL, 0);
	CHECK(name, ret == 0, "dump to the page server returned %d", ret);
	status = criu_local_wait_pid(server, ps);
	CHECK(name, status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "wait_pid returned %#x", status);
	CHECK(name, has_file(dst, "pages-") && !has_file(src, "pages-"), "pages are not (only) on the page server's side");
	/* criu ended the connection after WAIT_PID: nothing left to wait for. */
	ret = criu_local_wait_pid(server, ps);
	CHECK(name, ret == -EINVAL, "a second wait_pid returned %d", ret);
	criu_local_free_opts(server);
	criu_local_free_opts(dump);
	ok(name);
}

static void daemon_page_server(void)
{
	const char *name = "a daemon page server reports its pid and the port the kernel chose";
	criu_opts *o = new_opts(dir("daemon"), "page-server.log");
	struct sockaddr_in addr = { .sin_family = AF_INET };
	char exe[64], cmd[256] = "";
	int port = -1, ps, sk, fd;

	CHECK(name, o, "options");
	criu_local_set_page_server_address_port(o, "127.0.0.1", 0);
	ps = criu_local_start_page_server(o, &port);
	CHECK(name, ps > 0 && port > 0, "start_page_server returned %d, port %d", ps, port);
	snprintf(exe, sizeof(exe), "/proc/%d/cmdline", ps);
	fd = open(exe, O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
		cmd[n > 0 ? n : 0] = 0;
		for (ssize_t i = 0; i < n; i++)
			if (!cmd[i])
				cmd[i] = ' ';
		close(fd);
	}
	CHECK(name, strstr(cmd, "page-server"), "pid %d is not the page server: '%s'", ps, cmd);
	/* It listens; with a connection that sends nothing it exits. */
	sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	addr.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	CHECK(name, connect(sk, (struct sockaddr *)&addr, sizeof(addr)) == 0, "connect: %s", strerror(errno));
	close(sk);
	criu_local_free_opts(o);
	ok(name);
}

static void cpuinfo_globals(void)
{
	const char *name = "criu_cpuinfo_dump and criu_cpuinfo_check on the same CPU";
	char *images = dir("cpuinfo");
	int fd = open(images, O_DIRECTORY), ret;

	criu_init_opts();
	criu_set_service_binary(criu_bin);
	criu_set_images_dir_fd(fd);
	criu_set_log_file("cpuinfo.log");
	ret = criu_cpuinfo_dump();
	CHECK(name, ret == 0, "cpuinfo_dump returned %d", ret);
	CHECK(name, has_file(images, "cpuinfo.img"), "no cpuinfo.img");
	ret = criu_cpuinfo_check();
	CHECK(name, ret == 0, "cpuinfo_check returned %d", ret);
	criu_free_opts();
	close(fd);
	ok(name);
}

static void wrong_port(void)
{
	const char *name = "a page server that does not answer fails the dump; the process runs on";
	criu_opts *o = new_opts(dir("wrong-port"), "dump.log");
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	unsigned long before;
	int sk, port, ret;
	pid_t pid;

	CHECK(name, o, "options");
	/* A port nobody listens on: bound, then closed. */
	sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	bind(sk, (struct sockaddr *)&addr, sizeof(addr));
	getsockname(sk, (struct sockaddr *)&addr, &len);
	port = ntohs(addr.sin_port);
	close(sk);

	pid = start_counter();
	criu_local_set_pid(o, pid);
	criu_local_set_page_server_address_port(o, "127.0.0.1", port);
	ret = criu_local_dump(o);
	before = *counter;
	sleep_ms(200);
	if (ret != -EBADE || !strstr(criu_get_last_error(), "connect") || *counter <= before) {
		printf("FAIL %s: dump returned %d, message '%s', counter %lu -> %lu\n", name, ret,
		       criu_get_last_error(), before, *counter);
		failed++;
	} else {
		ok(name);
	}
	stop(pid);
	criu_local_free_opts(o);
}

static void lazy_pages_without_a_dump(void)
{
	const char *name = "a lazy-pages daemon with no dump to serve fails with a reason";
	criu_opts *o = new_opts(dir("lazy-empty"), "lazy-pages.log");
	int ret;

	CHECK(name, o, "options");
	criu_local_set_lazy_pages(o, true);
	ret = criu_local_start_lazy_pages(o);
	CHECK(name, ret == -EBADE && strstr(criu_get_last_error(), "lazy-pages"), "start_lazy_pages returned %d", ret);
	criu_local_free_opts(o);
	ok(name);
}

/* Counts into a file: what a restored process does is seen there (shared
 * memory is the restored copy's own). */
static char count_file[4096];

static void count_to_file(void)
{
	char line[32];
	unsigned long n = 0;
	int fd = open(count_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	for (;;) {
		int len = snprintf(line, sizeof(line), "%20lu\n", ++n);
		if (pwrite(fd, line, len, 0) != len)
			_exit(1);
		sleep_ms(10);
	}
}

static unsigned long file_count(void)
{
	char line[32] = "";
	int fd = open(count_file, O_RDONLY);
	if (fd >= 0) {
		if (read(fd, line, sizeof(line) - 1) < 0)
			line[0] = 0;
		close(fd);
	}
	return strtoul(line, NULL, 10);
}

/* A lazy restore from local images: the daemon serves the pages, the
 * restored process counts on, and criu_local_wait_pid() reaps the daemon. */
static void lazy_restore_from_images(void)
{
	const char *name = "a lazy restore through criu_local_start_lazy_pages; wait_pid reaps the daemon";
	char *images = dir("lazy-local");
	criu_opts *dump = new_opts(images, "dump.log"), *daemon_opts = new_opts(images, "lazy-pages.log"),
		  *restore = new_opts(images, "restore.log");
	struct criu_feature_check lazy = { .lazy_pages = true };
	unsigned long at_dump;
	int ret, daemon, restored, status;
	pid_t pid;

	CHECK(name, dump && daemon_opts && restore, "options");
	if (criu_local_feature_check(dump, &lazy, sizeof(lazy)) < 0 || !lazy.lazy_pages) {
		printf("ok %s # skipped: criu reports no lazy pages here\n", name);
		passed++;
		return;
	}
	snprintf(count_file, sizeof(count_file), "%s/lazy-counter", work);
	pid = start_child(count_to_file);
	while (file_count() < 3)
		sleep_ms(10);
	criu_local_set_pid(dump, pid);
	ret = criu_local_dump(dump);
	waitpid(pid, NULL, 0);
	CHECK(name, ret == 0, "dump returned %d", ret);
	at_dump = file_count();

	daemon = criu_local_start_lazy_pages(daemon_opts);
	CHECK(name, daemon > 0, "start_lazy_pages returned %d", daemon);
	criu_local_set_lazy_pages(restore, true);
	restored = criu_local_restore(restore);
	CHECK(name, restored == pid, "lazy restore returned %d", restored);
	for (int i = 0; i < 400 && file_count() <= at_dump + 2; i++)
		sleep_ms(10);
	ret = file_count() > at_dump + 2;
	kill(restored, SIGKILL);
	CHECK(name, ret, "the restored process does not count on");
	status = criu_local_wait_pid(daemon_opts, daemon);
	CHECK(name, status == 0, "the lazy-pages daemon ended with %d", status);
	criu_local_free_opts(dump);
	criu_local_free_opts(daemon_opts);
	criu_local_free_opts(restore);
	ok(name);
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static void nothing_left_behind(void)
{
	const char *name = "page servers waited for and failed lazy-pages daemons leave no fd or child";
	char *images = dir("hygiene");
	int dir_fd = open(images, O_DIRECTORY), before, after, i;
	struct sockaddr_in addr = { .sin_family = AF_INET };

	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	before = open_fds();
	for (i = 0; i < 5; i++) {
		criu_opts *o = NULL;
		int port = 0, ps, sk, status;

		criu_local_init_opts(&o);
		criu_local_set_service_binary(o, criu_bin);
		criu_local_set_images_dir_fd(o, dir_fd);
		criu_local_set_page_server_address_port(o, "127.0.0.1", 0);
		ps = criu_local_start_page_server_chld(o, &port);
		CHECK(name, ps > 0, "start_page_server_chld returned %d", ps);
		/* A client that sends nothing: the page server exits cleanly. */
		sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		addr.sin_port = htons(port);
		CHECK(name, connect(sk, (struct sockaddr *)&addr, sizeof(addr)) == 0, "connect: %s", strerror(errno));
		close(sk);
		status = criu_local_wait_pid(o, ps);
		CHECK(name, status >= 0, "wait_pid returned %d", status);
		CHECK(name, criu_local_start_lazy_pages(o) == -EBADE, "start_lazy_pages with no dump succeeded");
		criu_local_free_opts(o);
	}
	after = open_fds();
	CHECK(name, before == after, "%d descriptors before, %d after", before, after);
	CHECK(name, waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "a child is left");
	close(dir_fd);
	ok(name);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s CRIU_BINARY WORK_DIR\n", argv[0]);
		return 2;
	}
	criu_bin = argv[1];
	work = argv[2];
	page_server_child_and_wait_pid();
	daemon_page_server();
	cpuinfo_globals();
	wrong_port();
	lazy_pages_without_a_dump();
	lazy_restore_from_images();
	nothing_left_behind();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
