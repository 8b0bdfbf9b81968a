/*
 * criu_get_image_stats() on the images of a real dump and restore: the
 * figures criu wrote are read back through the C API and checked against
 * what the dumped process had (pages written cover its touched memory).
 *
 *   stats CRIU_BINARY WORK_DIR
 *
 * Prints "ok NAME" or "FAIL NAME: why" per case and a final count line.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common.h"

#define TOUCHED_PAGES 300

/* The dumped process: TOUCHED_PAGES pages written, then waiting. */
static void toucher(void)
{
	char *mem = mmap(NULL, TOUCHED_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (int i = 0; i < TOUCHED_PAGES; i++)
		mem[i * 4096] = 1 + i % 200;
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	struct criu_image_stats st;
	char images[4096];
	if (argc != 3)
		return 2;
	criu_bin = argv[1];
	work = argv[2];
	snprintf(images, sizeof(images), "%s/images", work);
	mkdir(images, 0755);

	memset(&st, 0xa5, sizeof(st));
	check(criu_get_image_stats(images, &st) == -ENOENT, "no stats before a dump", "expected -ENOENT");

	pid_t pid = start_child(toucher);
	sleep_ms(200);

	criu_opts *o = new_opts(images, "dump.log");
	if (!o)
		return 1;
	criu_local_set_pid(o, pid);
	int ret = criu_local_dump(o);
	check(ret == 0, "dump", "criu_local_dump failed");
	waitpid(pid, NULL, 0);
	wait_gone(pid);

	memset(&st, 0xa5, sizeof(st));
	ret = criu_get_image_stats(images, &st);
	check(ret == 0 && st.has_dump == 1 && st.has_restore == 0, "stats after dump", "no dump statistics");
	check(st.dump_pages_written >= TOUCHED_PAGES && st.dump_pages_scanned >= st.dump_pages_written,
	      "pages written cover the touched memory", "too few pages");
	check(st.dump_frozen_time > 0 && st.dump_freezing_time > 0 && st.dump_frozen_time >= st.dump_memdump_time,
	      "freezing and frozen times", "implausible times");
	printf("# dump: frozen %u us, %llu pages scanned, %llu written\n", st.dump_frozen_time,
	       (unsigned long long)st.dump_pages_scanned, (unsigned long long)st.dump_pages_written);

	criu_local_set_log_file(o, "restore.log");
	pid_t restored = criu_local_restore_child(o);
	check(restored > 0, "restore", "criu_local_restore_child failed");
	if (restored > 0) {
		kill(restored, SIGKILL);
		waitpid(restored, NULL, 0);
	}
	memset(&st, 0, sizeof(st));
	ret = criu_get_image_stats(images, &st);
	check(ret == 0 && st.has_dump == 1 && st.has_restore == 1, "stats after restore", "no restore statistics");
	check(st.restore_restore_time > 0 && st.restore_forking_time > 0 &&
	      st.restore_restore_time >= st.restore_forking_time, "restore times", "implausible times");
	check(st.restore_pages_restored >= TOUCHED_PAGES, "pages restored", "too few pages");

	check(criu_get_image_stats(NULL, &st) == -EINVAL, "NULL directory", "expected -EINVAL");
	criu_local_free_opts(o);
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
