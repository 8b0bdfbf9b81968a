/*
 * criu_local_set_leave_stopped() and its global twin against the real criu:
 * a dump leaves the dumped task stopped (not killed), and a restore leaves
 * the restored task stopped (not running). The setters come from one line
 * of the core's options table.
 *
 *   leave_stopped CRIU_BINARY WORK_DIR
 *
 * Prints "ok NAME" or "FAIL NAME: why" per case and a final count line.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

/* The state letter of /proc/PID/stat ('T' when stopped), or 0 when gone. */
static char state_of(pid_t pid)
{
	char file[64], line[512];
	snprintf(file, sizeof(file), "/proc/%d/stat", pid);
	FILE *f = fopen(file, "r");
	if (!f)
		return 0;
	char *got = fgets(line, sizeof(line), f);
	fclose(f);
	char *end = got ? strrchr(line, ')') : NULL;
	return end && end[1] == ' ' ? end[2] : 0;
}

static void pauser(void)
{
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	char images[4096];

	if (argc != 3)
		return 2;
	criu_bin = argv[1];
	work = argv[2];
	snprintf(images, sizeof(images), "%s/images", work);
	mkdir(images, 0755);

	pid_t pid = start_child(pauser);
	sleep_ms(200);
	criu_opts *o = new_opts(images, "dump.log");
	if (!o)
		return 1;
	criu_local_set_pid(o, pid);
	criu_local_set_leave_stopped(o, true);
	int ret = criu_local_dump(o);
	check(ret == 0, "dump with leave_stopped", "criu_local_dump failed");
	check(state_of(pid) == 'T', "the dumped task is left stopped", "not stopped (criu killed or resumed it)");
	stop(pid);
	wait_gone(pid);
	criu_local_free_opts(o);

	/* The global twin, on a restore of the same images. */
	int dir = open(images, O_DIRECTORY);
	check(criu_init_opts() == 0 && dir >= 0, "global options", "criu_init_opts failed");
	criu_set_service_binary(criu_bin);
	criu_set_images_dir_fd(dir);
	criu_set_log_level(CRIU_LOG_DEBUG);
	criu_set_log_file("restore.log");
	criu_set_leave_stopped(true);
	pid_t restored = criu_restore_child();
	check(restored > 0, "restore with leave_stopped", "criu_restore_child failed");
	if (restored > 0) {
		check(state_of(restored) == 'T', "the restored task is left stopped", "it runs");
		stop(restored);
	}
	criu_free_opts();
	close(dir);

	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
