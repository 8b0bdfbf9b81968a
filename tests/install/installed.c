/*
 * Built against an installed tree with `pkg-config --cflags --libs criu`,
 * the way a program written for upstream libcriu builds: it includes what
 * upstream installs in include/criu/ (criu.h, version.h, rpc.pb-c.h) and uses
 * a little of each.
 *
 *   installed CRIU_BINARY CONFIG_FILE
 */
#include <stdio.h>
#include <string.h>

#include <criu.h>
#include <version.h>
#include <rpc.pb-c.h>

/* Exported by upstream's library and ours, declared by neither header. */
extern const char *criu_lib_version;

int main(int argc, char **argv)
{
	CriuOpts rpc_opts;
	criu_opts *opts = NULL;
	int version;

	if (argc != 3) {
		fprintf(stderr, "usage: %s CRIU_BINARY CONFIG_FILE\n", argv[0]);
		return 2;
	}
	/* rpc.pb-c.h's message functions are exported by the library. */
	criu_opts__init(&rpc_opts);
	printf("criu_opts__init: images_dir_fd %d\n", rpc_opts.images_dir_fd);
	printf("CRIU_VERSION %s = %d.%d.%d, criu_lib_version %s\n", CRIU_VERSION, CRIU_VERSION_MAJOR,
	       CRIU_VERSION_MINOR, CRIU_VERSION_SUBLEVEL, criu_lib_version);

	if (criu_local_init_opts(&opts) || criu_local_set_service_binary(opts, argv[1]) ||
	    criu_local_set_config_file(opts, argv[2])) {
		fprintf(stderr, "setting the options failed\n");
		return 1;
	}
	version = criu_local_get_version(opts);
	criu_local_free_opts(opts);
	printf("criu_local_get_version: %d\n", version);
	return version > 0 ? 0 : 1;
}
