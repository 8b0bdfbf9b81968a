/*
 * One migration through libcriu, for bench/migrate/run.py: a page server as
 * criu's child on 127.0.0.1 writing into DST_DIR, a dump of PID into SRC_DIR
 * with its memory sent there, and the wait for the page server's end.
 *
 *   driver CRIU_BINARY PID SRC_DIR DST_DIR
 *
 * Exits 0 when all three succeeded; the caller times the whole process, as
 * it times `criu page-server` + `criu dump` for the CLI side.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <criu.h>

static criu_opts *opts_for(const char *criu, const char *dir, const char *log)
{
	criu_opts *o = NULL;
	if (criu_local_init_opts(&o) < 0)
		return NULL;
	criu_local_set_service_binary(o, criu);
	criu_local_set_images_dir_fd(o, open(dir, O_DIRECTORY));
	criu_local_set_log_file(o, log);
	return o;
}

int main(int argc, char **argv)
{
	criu_opts *server, *dump;
	int port = 0, ps, ret, status;

	if (argc != 5) {
		fprintf(stderr, "usage: %s CRIU_BINARY PID SRC_DIR DST_DIR\n", argv[0]);
		return 2;
	}
	server = opts_for(argv[1], argv[4], "page-server.log");
	dump = opts_for(argv[1], argv[3], "dump.log");
	if (!server || !dump)
		return 1;
	criu_local_set_page_server_address_port(server, "127.0.0.1", 0);
	ps = criu_local_start_page_server_chld(server, &port);
	if (ps < 0) {
		fprintf(stderr, "page server: %d: %s\n", ps, criu_get_last_error());
		return 1;
	}
	criu_local_set_pid(dump, atoi(argv[2]));
	criu_local_set_page_server_address_port(dump, "127.0.0.1", port);
	ret = criu_local_dump(dump);
	if (ret < 0) {
		fprintf(stderr, "dump: %d: %s\n", ret, criu_get_last_error());
		return 1;
	}
	status = criu_local_wait_pid(server, ps);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "page server ended with %d: %s\n", status, criu_get_last_error());
		return 1;
	}
	return 0;
}
