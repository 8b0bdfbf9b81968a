/*
 * driver: run one named libcriu measurement a number of times and print one
 * JSON line per timed iteration on stdout.
 *
 * Built three times from this file by bench/run.py:
 *   driver-ours, driver-upstream   linked against one libcriu each; they run
 *                                  the library measurements
 *   driver-bare (-DBARE)           no libcriu linked; it runs the floor (the
 *                                  criu binary alone), the footprint probe
 *                                  (which dlopens the library itself) and the
 *                                  victim process that dump/restore uses
 *
 *   driver MEASUREMENT CRIU_BIN WARMUP ITERATIONS [ARGS]
 *     version [TOUCH_MIB]      criu_get_version(), optionally from a caller
 *                              with TOUCH_MIB of touched memory
 *     check                    criu_check()
 *     dump-restore MIB DIR     dump a fresh MIB-sized victim into DIR, then
 *                              restore it; both calls are timed
 *   driver-bare MEASUREMENT CRIU_BIN WARMUP ITERATIONS [ARGS]
 *     bare-version             criu --version
 *     bare-check DIR           criu check (in DIR, which it wants for logs)
 *     footprint LIB            RSS before/after dlopen(LIB) + one version call
 *   driver-bare victim MIB     (internal) the process dump-restore checkpoints
 *
 * Every line carries "ret": the library's return value, so the orchestrator
 * can tell a fast failure from a fast success.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BARE
#include <criu.h>
#endif

#define MIB (1024UL * 1024UL)

extern char **environ;

/* Our JSON lines; fd 1 itself goes to /dev/null (criu check prints there). */
static FILE *out;

static void die(const char *what)
{
	fprintf(stderr, "driver: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void emit(const char *phase, int i, long long ns, long ret)
{
	fprintf(out, "{\"phase\":\"%s\",\"i\":%d,\"ns\":%lld,\"ret\":%ld}\n", phase, i, ns, ret);
}

/* Touch every page of a fresh anonymous mapping, so it is really resident. */
static char *touch(size_t bytes)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t off;

	if (p == MAP_FAILED)
		die("mmap");
	/* Non-zero and different per page: no zero-page or merging shortcuts. */
	for (off = 0; off < bytes; off += 4096)
		*(size_t *)(p + off) = off | 1;
	return p;
}

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		die("/proc/self/status");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

#ifdef BARE

/* Start a program with stdio on /dev/null and wait for it; returns its status. */
static int run_quiet(char *const argv[], const char *dir)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, old = -1;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (dir) {
		old = open(".", O_DIRECTORY | O_CLOEXEC);
		if (chdir(dir) < 0)
			die(dir);
	}
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		die("posix_spawn");
	if (old >= 0 && (fchdir(old) < 0 || close(old) < 0))
		die("fchdir");
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	return status;
}

/*
 * The process dump-restore checkpoints: its own session, stdio on /dev/null
 * (set up by the spawner), MIB of touched memory. It closes fd 3 when ready,
 * so the spawner sees EOF and no pipe is left for criu to trip over.
 */
static int victim(size_t mib)
{
	touch(mib * MIB);
	close(3);
	for (;;)
		pause();
	return 0;
}

/*
 * Footprint: what loading the library and making one call costs a caller in
 * resident memory. Prints the RSS before, after dlopen and after the call,
 * and where the call's symbol came from (to prove which library it was).
 */
static int footprint(const char *lib, const char *criu)
{
	long before, loaded, called;
	int (*init_opts)(void);
	int (*set_bin)(const char *);
	int (*get_version)(void);
	void *h;
	Dl_info info;
	int ret;

	before = rss_kib();
	h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "driver: dlopen %s: %s\n", lib, dlerror());
		return 1;
	}
	loaded = rss_kib();
	init_opts = (int (*)(void))dlsym(h, "criu_init_opts");
	set_bin = (int (*)(const char *))dlsym(h, "criu_set_service_binary");
	get_version = (int (*)(void))dlsym(h, "criu_get_version");
	if (!init_opts || !set_bin || !get_version) {
		fprintf(stderr, "driver: %s lacks the libcriu API\n", lib);
		return 1;
	}
	if (init_opts() < 0 || set_bin(criu) < 0)
		return 1;
	ret = get_version();
	called = rss_kib();
	dladdr((void *)get_version, &info);
	fprintf(out, "{\"phase\":\"footprint\",\"lib\":\"%s\",\"rss_before_kib\":%ld,"
	       "\"rss_loaded_kib\":%ld,\"rss_called_kib\":%ld,\"ret\":%d}\n",
	       info.dli_fname ? info.dli_fname : "?", before, loaded, called, ret);
	return 0;
}

#else /* !BARE */

/*
 * The host takes back guest memory that stays free for ~2 s; first touching
 * it again then faults to the host and is several times slower. Touching and
 * freeing a balloon right before a timed step gives that step warm pages,
 * the same on both sides.
 */
static void warm_free_memory(size_t mib)
{
	if (mib)
		munmap(touch(mib * MIB), mib * MIB);
}

/* Reap everything that has exited (we are a subreaper: orphans land here). */
static void reap_all(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* A restore reuses the dumped pid, which must be fully gone by then. */
static void wait_pid_gone(pid_t pid)
{
	char path[64];
	int tries;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	for (tries = 0; tries < 5000 && access(path, F_OK) == 0; tries++) {
		reap_all();
		usleep(200);
	}
}

static void set_up_opts(const char *criu)
{
	if (criu_init_opts() < 0 || criu_set_service_binary(criu) < 0) {
		fprintf(stderr, "driver: criu_init_opts/criu_set_service_binary failed\n");
		exit(1);
	}
}

/* WARMUP untimed, then N timed round trips, each starting `criu swrk`. */
static void calls(int check, const char *phase, int warmup, int n)
{
	int i;

	for (i = -warmup; i < n; i++) {
		long long t0 = now_ns();
		int ret = check ? criu_check() : criu_get_version();
		long long t1 = now_ns();

		if (i >= 0)
			emit(phase, i, t1 - t0, ret);
		reap_all();
	}
}

/* Spawn the victim (driver-bare, which sits next to us) and wait till it is ready. */
static pid_t spawn_victim(const char *self_dir, size_t mib)
{
	char bin[4096], arg[32];
	char *argv[] = { bin, "victim", arg, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int p[2];
	pid_t pid;
	char c;

	snprintf(bin, sizeof(bin), "%s/driver-bare", self_dir);
	snprintf(arg, sizeof(arg), "%zu", mib);
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe2");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 3);
	/* Nothing else of ours (e.g. the images dir fd) goes into the dump. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	if (posix_spawn(&pid, bin, &fa, &attr, argv, environ) != 0)
		die("spawn victim");
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(p[1]);
	if (read(p[0], &c, 1) != 0)
		die("victim did not start");
	close(p[0]);
	return pid;
}

/*
 * One dump and one restore, each timed on its own. The images directory is
 * reused across iterations on purpose: criu overwrites the files by name, and
 * deleting them would hit this ext4's slow re-creation of deleted inodes.
 */
static int dump_restore(const char *criu, const char *self_dir, size_t mib, const char *dir,
			int timed, int i)
{
	size_t balloon = 4 * mib + 256;
	long long t0, t1;
	pid_t pid, restored;
	int dir_fd, ret, status;

	dir_fd = open(dir, O_DIRECTORY);
	if (dir_fd < 0)
		die(dir);
	pid = spawn_victim(self_dir, mib);

	set_up_opts(criu);
	criu_set_pid(pid);
	criu_set_images_dir_fd(dir_fd);
	criu_set_log_file("dump.log");

	/* Earlier dirty pages are written out now, not during the timed call. */
	sync();
	warm_free_memory(balloon);
	t0 = now_ns();
	ret = criu_dump();
	t1 = now_ns();
	if (timed)
		emit("dump", i, t1 - t0, ret);
	if (ret < 0) {
		fprintf(stderr, "driver: criu_dump: %d (errno %d)\n", ret, errno);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return 1;
	}
	/* criu killed it; reap it so the pid is free for the restore. */
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid victim");
	wait_pid_gone(pid);

	criu_set_log_file("restore.log");
	sync();
	warm_free_memory(balloon);
	t0 = now_ns();
	restored = criu_restore_child();
	t1 = now_ns();
	if (timed)
		emit("restore", i, t1 - t0, restored);
	if (restored < 0) {
		fprintf(stderr, "driver: criu_restore_child: %d (errno %d)\n", restored, errno);
		return 1;
	}
	kill(restored, SIGKILL);
	waitpid(restored, NULL, 0);
	wait_pid_gone(restored);
	reap_all();
	close(dir_fd);
	return 0;
}

#endif /* BARE */

int main(int argc, char *argv[])
{
	const char *m, *criu;
	int warmup, n, i;

#ifdef BARE
	if (argc == 3 && strcmp(argv[1], "victim") == 0)
		return victim(strtoul(argv[2], NULL, 10));
#endif
	if (argc < 5) {
		fprintf(stderr, "usage: %s MEASUREMENT CRIU_BIN WARMUP ITERATIONS [ARGS]\n", argv[0]);
		return 2;
	}
	/* Line-buffered, so a crash loses no finished iteration. */
	out = fdopen(fcntl(1, F_DUPFD_CLOEXEC, 3), "w");
	if (!out || dup2(open("/dev/null", O_WRONLY | O_CLOEXEC), 1) < 0)
		die("stdout");
	setvbuf(out, NULL, _IOLBF, 0);
	m = argv[1];
	criu = argv[2];
	warmup = atoi(argv[3]);
	n = atoi(argv[4]);

	/* Orphans (restored processes, criu helpers) reparent to us to be reaped. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		die("PR_SET_CHILD_SUBREAPER");

#ifdef BARE
	if (strcmp(m, "footprint") == 0 && argc == 6)
		return footprint(argv[5], criu);
	if ((strcmp(m, "bare-version") == 0 && argc == 5) ||
	    (strcmp(m, "bare-check") == 0 && argc == 6)) {
		int check = m[5] == 'c';
		char *args[] = { (char *)criu, check ? "check" : "--version", NULL };

		for (i = -warmup; i < n; i++) {
			long long t0 = now_ns();
			int status = run_quiet(args, check ? argv[5] : NULL);
			long long t1 = now_ns();

			if (i >= 0)
				emit(m, i, t1 - t0, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		}
		return 0;
	}
#else
	{
		Dl_info info;

		/* Prove which libcriu this process really runs. */
		if (dladdr((void *)criu_get_version, &info) && info.dli_fname)
			fprintf(out, "{\"phase\":\"lib\",\"lib\":\"%s\"}\n", info.dli_fname);
	}
	if ((strcmp(m, "version") == 0 && argc <= 6) || (strcmp(m, "check") == 0 && argc == 5)) {
		int check = m[0] == 'c';
		size_t mib = argc == 6 ? strtoul(argv[5], NULL, 10) : 0;

		set_up_opts(criu);
		/*
		 * With TOUCH_MIB, the same process first measures itself small,
		 * then grows: the big/small ratio is paired within one process.
		 */
		if (mib) {
			calls(check, "version-small", warmup, n);
			touch(mib * MIB);
			/* The kernel keeps busy with fresh gigabytes for a moment. */
			usleep(500000);
		}
		fprintf(out, "{\"phase\":\"caller\",\"rss_kib\":%ld}\n", rss_kib());
		calls(check, m, warmup, n);
		return 0;
	}
	if (strcmp(m, "dump-restore") == 0 && argc == 7) {
		char self[3072];
		ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (len < 0)
			die("/proc/self/exe");
		self[len] = '\0';
		*strrchr(self, '/') = '\0';
		for (i = -warmup; i < n; i++)
			if (dump_restore(criu, self, strtoul(argv[5], NULL, 10), argv[6], i >= 0, i))
				return 1;
		return 0;
	}
#endif
	fprintf(stderr, "driver: unknown measurement or wrong arguments: %s\n", m);
	return 2;
}
