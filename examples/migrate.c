/*
 * migrate: move a running process to another host with libcriu's page
 * server calls. Its memory goes over TCP straight into the destination's
 * images; only the small remaining images are copied over.
 *
 * On two hosts (run as root on both):
 *
 *   dst$ migrate receive /srv/images 0.0.0.0      # prints "listening on port P"
 *   src$ migrate send PID /tmp/images DST_ADDRESS P
 *   src$ scp /tmp/images/\*.img dst:/srv/images/    # all that is left: no pages
 *   dst$ migrate restore /srv/images
 *
 * `receive` starts the page server as a child of a criu it keeps talking to,
 * and returns when the page server has received the dump and exited (its
 * exit status comes from criu_local_wait_pid()). `send` records the CPU and
 * dumps the process to the page server. `restore` checks the CPU first.
 *
 *   migrate demo WORK_DIR [CRIU_BINARY]
 *
 * runs the same steps on one machine over 127.0.0.1, with a child that
 * counts into WORK_DIR/counter, and checks that it counts on after the move.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criu.h>

static const char *criu_binary = "criu";

static int fail(const char *what, int ret)
{
	fprintf(stderr, "%s failed: %d (%s): %s\n", what, ret, strerror(-ret), criu_get_last_error());
	return 1;
}

/* Options for a step: the criu to run, the images directory, a log file there. */
static criu_opts *step_opts(const char *images, const char *log)
{
	criu_opts *opts = NULL;
	int dir = open(images, O_DIRECTORY);

	if (dir < 0) {
		perror(images);
		return NULL;
	}
	if (criu_local_init_opts(&opts) < 0)
		return NULL;
	criu_local_set_service_binary(opts, criu_binary);
	criu_local_set_images_dir_fd(opts, dir); /* open until the program ends */
	criu_local_set_log_level(opts, CRIU_LOG_INFO);
	criu_local_set_log_file(opts, log);
	return opts;
}

/* Destination, part 1: a page server; returns its pid, with the port. */
static int start_receiving(criu_opts *opts, const char *address, int *port)
{
	criu_local_set_page_server_address_port(opts, address, 0); /* 0: any free port */
	return criu_local_start_page_server_chld(opts, port);
}

/* Destination, part 2: wait until the page server got the dump. */
static int finish_receiving(criu_opts *opts, int server)
{
	int status = criu_local_wait_pid(opts, server);

	if (status < 0)
		return fail("criu_local_wait_pid", status);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "the page server failed (status %#x); see page-server.log\n", status);
		return 1;
	}
	printf("the page server received the memory and exited\n");
	return 0;
}

/* Source: record the CPU, then dump `pid`, its memory to the page server. */
static int send_process(int pid, const char *images, const char *address, int port)
{
	criu_opts *opts = step_opts(images, "dump.log");
	int ret;

	if (!opts)
		return 1;
	ret = criu_local_cpuinfo_dump(opts);
	if (ret < 0)
		return fail("criu_local_cpuinfo_dump", ret);
	criu_local_set_pid(opts, pid);
	ret = criu_local_set_page_server_address_port(opts, address, port);
	if (ret < 0)
		return fail("criu_local_set_page_server_address_port", ret);
	ret = criu_local_dump(opts); /* criu kills the process once dumped */
	if (ret < 0)
		return fail("criu_local_dump", ret);
	printf("dumped pid %d to %s:%d; copy %s/*.img to the destination\n", pid, address, port, images);
	criu_local_free_opts(opts);
	return 0;
}

/* Destination, part 3: check the CPU, restore. Returns the pid or < 0. */
static int restore_process(const char *images)
{
	criu_opts *opts = step_opts(images, "restore.log");
	int ret;

	if (!opts)
		return -1;
	criu_local_set_log_file(opts, "cpuinfo-check.log");
	ret = criu_local_cpuinfo_check(opts);
	if (ret < 0)
		return fail("criu_local_cpuinfo_check (the CPUs differ?)", ret), -1;
	criu_local_set_log_file(opts, "restore.log");
	ret = criu_local_restore(opts);
	if (ret < 0)
		return fail("criu_local_restore", ret), -1;
	printf("restored as pid %d\n", ret);
	criu_local_free_opts(opts);
	return ret;
}

/* ---- the demo on one machine ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void counter_loop(const char *path)
{
	unsigned long n = 0;
	char line[32];
	int fd, null;

	setsid();
	/* Nothing of ours (the images directories) goes with it. */
	close_range(3, ~0U, 0);
	null = open("/dev/null", O_RDWR);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (null < 0 || fd < 0)
		_exit(1);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	for (;;) {
		int len = snprintf(line, sizeof(line), "%20lu\n", ++n);

		if (pwrite(fd, line, len, 0) != len)
			_exit(1);
		sleep_ms(50);
	}
}

static long read_counter(const char *path)
{
	char line[32] = "";
	long n = -1;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	if (read(fd, line, sizeof(line) - 1) > 0)
		n = strtol(line, NULL, 10);
	close(fd);
	return n;
}

/* What `scp src:/tmp/images/\*.img dst:/srv/images/` does between hosts. */
static int copy_images(const char *from, const char *to)
{
	char buf[65536];
	struct dirent *e;
	DIR *d = opendir(from);
	int to_fd = open(to, O_DIRECTORY);
	ssize_t n;

	if (!d || to_fd < 0)
		return perror(!d ? from : to), 1;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		int in, out;

		if (len < 4 || strcmp(e->d_name + len - 4, ".img"))
			continue;
		in = openat(dirfd(d), e->d_name, O_RDONLY);
		out = openat(to_fd, e->d_name, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (in < 0 || out < 0) {
			fprintf(stderr, "copy %s: %s\n", e->d_name, strerror(errno));
			return 1;
		}
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, n) != n)
				return perror(e->d_name), 1;
		close(in);
		close(out);
	}
	closedir(d);
	close(to_fd);
	return 0;
}

static int demo(const char *work)
{
	char counter[4096], source[4096], destination[4096];
	criu_opts *receiver;
	long at_dump, later;
	int server, port = 0, restored, status;
	pid_t pid;

	snprintf(counter, sizeof(counter), "%s/counter", work);
	snprintf(source, sizeof(source), "%s/source-images", work);
	snprintf(destination, sizeof(destination), "%s/destination-images", work);
	mkdir(work, 0755);
	if ((mkdir(source, 0755) < 0 && errno != EEXIST) || (mkdir(destination, 0755) < 0 && errno != EEXIST))
		return perror("mkdir"), 1;

	pid = fork();
	if (pid == 0)
		counter_loop(counter);
	while (read_counter(counter) < 10)
		sleep_ms(50);
	printf("pid %d counts into %s\n", pid, counter);

	receiver = step_opts(destination, "page-server.log");
	if (!receiver)
		return 1;
	server = start_receiving(receiver, "127.0.0.1", &port);
	if (server < 0)
		return kill(pid, SIGKILL), fail("criu_local_start_page_server_chld", server);
	printf("destination: page server pid %d listening on port %d\n", server, port);

	if (send_process(pid, source, "127.0.0.1", port)) {
		kill(pid, SIGKILL);
		return 1;
	}
	waitpid(pid, &status, 0); /* the pid must be free for the restore */
	if (finish_receiving(receiver, server))
		return 1;
	criu_local_free_opts(receiver);
	at_dump = read_counter(counter);

	if (copy_images(source, destination))
		return 1;
	restored = restore_process(destination);
	if (restored < 0)
		return 1;
	sleep_ms(500);
	later = read_counter(counter);
	printf("count at dump %ld, 500 ms after restore %ld: %s\n", at_dump, later,
	       later > at_dump ? "it continued counting" : "it did NOT continue");
	kill(restored, SIGKILL);
	return later > at_dump ? 0 : 1;
}

int main(int argc, char *argv[])
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "demo")) {
		if (argc > 3)
			criu_binary = argv[3];
		return demo(argv[2]);
	}
	if (argc >= 3 && !strcmp(argv[1], "receive")) {
		criu_opts *opts = step_opts(argv[2], "page-server.log");
		int port = 0, server;

		if (!opts)
			return 1;
		server = start_receiving(opts, argc > 3 ? argv[3] : "0.0.0.0", &port);
		if (server < 0)
			return fail("criu_local_start_page_server_chld", server);
		printf("listening on port %d (page server pid %d)\n", port, server);
		return finish_receiving(opts, server);
	}
	if (argc == 6 && !strcmp(argv[1], "send"))
		return send_process(atoi(argv[2]), argv[3], argv[4], atoi(argv[5]));
	if (argc == 3 && !strcmp(argv[1], "restore"))
		return restore_process(argv[2]) < 0;
	fprintf(stderr,
		"usage: %s receive IMAGES_DIR [ADDRESS]\n"
		"       %s send PID IMAGES_DIR ADDRESS PORT\n"
		"       %s restore IMAGES_DIR\n"
		"       %s demo WORK_DIR [CRIU_BINARY]\n",
		argv[0], argv[0], argv[0], argv[0]);
	return 2;
}
