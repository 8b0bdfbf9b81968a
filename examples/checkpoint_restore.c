/*
 * checkpoint_restore: checkpoint a running process with libcriu, then bring
 * it back and watch it carry on.
 *
 *   checkpoint_restore WORK_DIR [CRIU_BINARY]
 *
 * A child counts upwards and keeps the current value in WORK_DIR/counter.
 * We dump it into WORK_DIR/images (criu kills it once dumped), restore it as
 * our child again and check that it counts on from where it was stopped.
 * Needs root (or CAP_CHECKPOINT_RESTORE and friends), like criu itself.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
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

#define TICK_MS 50

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * The process we checkpoint. It has to be self-contained for criu: its own
 * session (criu dumps whole sessions) and no fds leading to our terminal or
 * pipes, which criu could not recreate on restore.
 */
static void counter_loop(const char *path)
{
	unsigned long n = 0;
	char line[32];
	int fd, null;

	if (setsid() < 0)
		_exit(1);
	null = open("/dev/null", O_RDWR);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (null < 0 || fd < 0)
		_exit(1);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	close(null);

	for (;;) {
		int len = snprintf(line, sizeof(line), "%20lu\n", ++n);

		/* One fixed-size write at offset 0: readers never see half a number. */
		if (pwrite(fd, line, len, 0) != len)
			_exit(1);
		sleep_ms(TICK_MS);
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

/* libcriu returns -errno-like codes and sets errno to criu's reason. */
static int fail(const char *what, int ret)
{
	fprintf(stderr, "%s failed: %d (%s), errno %d (%s)\n", what, ret, strerror(-ret), errno,
		strerror(errno));
	return 1;
}

int main(int argc, char *argv[])
{
	const char *criu = argc > 2 ? argv[2] : "criu";
	char counter[4096], images[4096];
	criu_opts *opts = NULL;
	long at_dump, later;
	int ret, status, dir_fd, version, continued;
	pid_t pid, restored;
	Dl_info lib;

	if (argc < 2) {
		fprintf(stderr, "usage: %s WORK_DIR [CRIU_BINARY]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(counter, sizeof(counter), "%s/counter", argv[1]);
	snprintf(images, sizeof(images), "%s/images", argv[1]);
	if (mkdir(argv[1], 0755) < 0 && errno != EEXIST)
		return perror(argv[1]), 1;
	if (mkdir(images, 0755) < 0 && errno != EEXIST)
		return perror(images), 1;
	dir_fd = open(images, O_DIRECTORY);
	if (dir_fd < 0)
		return perror(images), 1;

	if (dladdr((void *)criu_local_dump, &lib) && lib.dli_fname)
		printf("libcriu: %s\n", lib.dli_fname);

	ret = criu_local_init_opts(&opts);
	if (ret < 0)
		return fail("criu_local_init_opts", ret);
	ret = criu_local_set_service_binary(opts, criu);
	if (ret < 0)
		return fail("criu_local_set_service_binary", ret);
	version = criu_local_get_version(opts);
	if (version < 0)
		return fail("criu_local_get_version", version);
	printf("criu: %s, version %d.%d.%d\n", criu, version / 10000, version / 100 % 100,
	       version % 100);

	pid = fork();
	if (pid < 0)
		return perror("fork"), 1;
	if (pid == 0)
		counter_loop(counter);

	while ((at_dump = read_counter(counter)) < 20)
		sleep_ms(TICK_MS);
	printf("started pid %d, counting into %s (now at %ld)\n", pid, counter, at_dump);

	/* Dump. Without leave_running, criu kills the process when done. */
	criu_local_set_pid(opts, pid);
	criu_local_set_images_dir_fd(opts, dir_fd);
	criu_local_set_log_level(opts, CRIU_LOG_DEBUG);
	ret = criu_local_set_log_file(opts, "dump.log");
	if (ret < 0)
		return fail("criu_local_set_log_file", ret);
	ret = criu_local_dump(opts);
	if (ret < 0) {
		kill(pid, SIGKILL);
		return fail("criu_local_dump", ret);
	}

	/* Reap it: the pid must be free again before criu can reuse it. */
	if (waitpid(pid, &status, 0) != pid)
		return perror("waitpid"), 1;
	at_dump = read_counter(counter);
	printf("checkpointed pid %d into %s at count %ld; it is gone (%s)\n", pid, images, at_dump,
	       WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited");

	sleep_ms(10 * TICK_MS);
	later = read_counter(counter);
	printf("count after %d ms with nothing running: %ld\n", 10 * TICK_MS, later);
	if (later != at_dump) {
		fprintf(stderr, "the counter moved while the process was gone\n");
		return 1;
	}

	/* Restore as our child, so we can wait for it like any other. */
	ret = criu_local_set_log_file(opts, "restore.log");
	if (ret < 0)
		return fail("criu_local_set_log_file", ret);
	restored = criu_local_restore_child(opts);
	if (restored < 0)
		return fail("criu_local_restore_child", restored);
	printf("restored pid %d%s\n", restored, restored == pid ? " (the same pid)" : "");

	sleep_ms(10 * TICK_MS);
	later = read_counter(counter);
	continued = later > at_dump;
	printf("count %d ms after restore: %ld, %s\n", 10 * TICK_MS, later,
	       continued ? "it continued counting" : "it did NOT continue");

	kill(restored, SIGKILL);
	if (waitpid(restored, &status, 0) != restored)
		return perror("waitpid"), 1;
	printf("killed pid %d, done\n", restored);

	criu_local_free_opts(opts);
	close(dir_fd);
	return continued ? 0 : 1;
}
