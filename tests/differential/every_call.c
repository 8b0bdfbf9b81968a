/*
 * every_call: calls every public libcriu function against the recording fake
 * service (fake-criu next to this file) and prints what each call returns.
 *
 * tests/differential/run builds it twice, against upstream libcriu and against
 * ours. The requests the fake records and this program's stdout must then be
 * the same, except for the upstream bugs listed in docs/upstream-fixes.md.
 *
 *   usage: every_call <fake-criu> [--fixed-cases]
 *
 * --fixed-cases adds calls that hang upstream; only our library runs them.
 *
 * Each call belongs to a case: "== <case>" starts it on stdout, and the same
 * name in FAKE_CRIU_CASE tells the fake where to file the requests the call
 * makes. Only the public API (criu.h) is used.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu.h"

/*
 * Exported by upstream libcriu but missing from its criu.h (fix
 * "header-unprivileged"). Repeating a declaration the header already has is
 * harmless, so no #ifdef is needed for ours.
 */
void criu_local_set_unprivileged(criu_opts *opts, bool unprivileged);

/* Values a -D flag can change in one build, to check that the harness notices. */
#ifndef GHOST_LIMIT
#define GHOST_LIMIT 3000000000u /* above INT_MAX: must travel as unsigned */
#endif
#ifndef LOCAL_ROOT
#define LOCAL_ROOT "/l-root"
#endif

static int notify_ret; /* what the notify callback answers */
static int more_calls; /* how often the dump_iters callback ran */

static void begin(const char *name)
{
	printf("== %s\n", name);
	setenv("FAKE_CRIU_CASE", name, 1);
	unsetenv("FAKE_CRIU_ANSWER");
	notify_ret = 0;
	more_calls = 0;
}

/*
 * The orphan pts master fd is compared by what it refers to: its number
 * depends on what else the library happens to have open.
 */
static void show_orphan_fd(void)
{
	int fd = criu_get_orphan_pts_master_fd();
	struct stat st, null;

	if (fd < 0) {
		printf("orphan_pts_master_fd = %d\n", fd);
		return;
	}
	stat("/dev/null", &null);
	printf("orphan_pts_master_fd -> %s\n",
	       fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == null.st_rdev ? "/dev/null" : "something else");
}

/* Setters: only the return value says anything. */
#define SET(call) printf("%s = %d\n", #call, (call))

/* Operations: errno is part of the contract too. */
#define OP(call)                                                      \
	do {                                                          \
		errno = 0;                                            \
		int ret_ = (call);                                    \
		int errno_ = errno;                                   \
		printf("%s = %d errno=%d\n", #call, ret_, errno_); \
		show_orphan_fd();                                     \
	} while (0)

static int notify(char *action, criu_notify_arg_t na)
{
	printf("notify(%s) pid=%d -> %d\n", action, criu_notify_pid(na), notify_ret);
	return notify_ret;
}

/* Asks for a second pre-dump after the first, then for the final dump. */
static int two_iterations(criu_predump_info pi)
{
	int more = ++more_calls < 2;

	printf("more(%s) call %d -> %d\n", pi ? "info" : "NULL", more_calls, more);
	return more;
}

static void show_features(const struct criu_feature_check *f)
{
	printf("features: mem_track=%d lazy_pages=%d pidfd_store=%d\n", f->mem_track, f->lazy_pages,
	       f->pidfd_store);
}

/*
 * Descriptors named in the options point at something real, in case a library
 * checks them; fixed numbers keep the requests of both runs comparable.
 */
static int fd_at(int want, const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0 || (fd != want && dup2(fd, want) != want)) {
		perror(path);
		exit(2);
	}
	if (fd != want)
		close(fd);
	return want;
}

/* For criu_*_set_service_fd: the caller starts criu itself and hands over its socket. */
static pid_t start_fake(const char *fake, int *sk)
{
	int sks[2];
	char fd[16];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sks)) {
		perror("socketpair");
		exit(2);
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(sks[0]);
		snprintf(fd, sizeof(fd), "%d", sks[1]);
		execl(fake, fake, "swrk", fd, (char *)NULL);
		_exit(127);
	}
	close(sks[1]);
	*sk = sks[0];
	return pid;
}

static void global_api(const char *fake, bool fixed_cases)
{
	char *exec_first[] = { "first-cmd" };
	char *exec_cmd[] = { "g-cmd", "-x", "two words" };
	struct criu_feature_check features = { .mem_track = true, .lazy_pages = false, .pidfd_store = true };

	begin("g-setters");
	SET(criu_init_opts());
	/* The service is chosen three times: the last choice must win. */
	SET(criu_set_service_address("/run/g-nonexistent.sock"));
	criu_set_service_fd(7);
	SET(criu_set_service_binary(fake));
	criu_set_pid(4100);
	criu_set_images_dir_fd(fd_at(100, "."));
	SET(criu_set_parent_images("../g-parent"));
	criu_set_work_dir_fd(fd_at(101, "."));
	criu_set_leave_running(true);
	/* Adding a unix socket switches ext_unix_sk on by itself. */
	SET(criu_add_unix_sk(1111));
	SET(criu_add_unix_sk(2222));
	criu_set_ext_unix_sk(true);
	criu_set_tcp_established(true);
	criu_set_tcp_skip_in_flight(true);
	criu_set_tcp_close(true);
	criu_set_weak_sysctls(true);
	criu_set_evasive_devices(true);
	criu_set_shell_job(true);
	criu_set_skip_file_rwx_check(true);
	criu_set_unprivileged(true);
	criu_set_orphan_pts_master(true);
	criu_set_file_locks(true);
	criu_set_track_mem(true);
	criu_set_auto_dedup(true);
	criu_set_force_irmap(true);
	criu_set_link_remap(true);
	criu_set_log_level(CRIU_LOG_DEBUG);
	SET(criu_set_log_file("first.log")); /* replaced below */
	SET(criu_set_log_file("g.log"));
	criu_set_cpu_cap(0xfffffff0u);
	SET(criu_set_root("/g-root"));
	criu_set_manage_cgroups(true);
	criu_set_manage_cgroups_mode(CRIU_CG_MODE_STRICT);
	SET(criu_set_freeze_cgroup("/sys/fs/cgroup/g-freezer"));
	SET(criu_set_lsm_profile("apparmor:g-profile"));
	SET(criu_set_lsm_mount_context("system_u:object_r:g_t:s0"));
	SET(criu_set_config_file("first.conf")); /* replaced below */
	SET(criu_set_config_file("g.conf"));
	criu_set_timeout(11);
	criu_set_auto_ext_mnt(true);
	criu_set_ext_sharing(true);
	criu_set_ext_masters(true);
	SET(criu_set_exec_cmd(1, exec_first)); /* replaced below */
	SET(criu_set_exec_cmd(3, exec_cmd));
	SET(criu_add_ext_mount("g-mnt1", "/g/val1"));
	SET(criu_add_ext_mount("g-mnt2", "/g/val2"));
	SET(criu_add_veth_pair("g-in1", "g-out1"));
	SET(criu_add_veth_pair("g-in2", "g-out2"));
	SET(criu_add_cg_root("cpu", "/g-cpu"));
	SET(criu_add_cg_root(NULL, "/g-all")); /* ctrl is optional */
	SET(criu_add_enable_fs("g-fs1"));
	SET(criu_add_enable_fs("g-fs2"));
	SET(criu_add_skip_mnt("/g-skip1"));
	SET(criu_add_skip_mnt("/g-skip2"));
	criu_set_ghost_limit(GHOST_LIMIT);
	SET(criu_add_irmap_path("/g-irmap1"));
	SET(criu_add_irmap_path("/g-irmap2"));
	SET(criu_add_inherit_fd(fd_at(102, "/dev/null"), "g-key1"));
	SET(criu_add_inherit_fd(fd_at(103, "/dev/null"), "g-key2"));
	SET(criu_add_external("mnt[g1]:\"quoted\""));
	SET(criu_add_external("dev[g2]:caf\xc3\xa9"));
	SET(criu_set_page_server_address_port("192.0.2.1", 9876)); /* fix ps-port-ret */
	SET(criu_set_pre_dump_mode(7)); /* invalid: refused, keeps nothing */
	SET(criu_set_pre_dump_mode(CRIU_PRE_DUMP_READ));
	criu_set_pidfd_store_sk(fd_at(104, "/dev/null"));
	SET(criu_set_network_lock(0)); /* invalid */
	SET(criu_set_network_lock(CRIU_NETWORK_LOCK_NFTABLES));
	SET(criu_join_ns_add("net", "/proc/1/ns/net", NULL));
	SET(criu_join_ns_add("mnt", "/g/mnt-ns", "g-extra"));
	SET(criu_join_ns_add(NULL, "/g/no-ns", NULL)); /* invalid */
	SET(criu_join_ns_add("uts", NULL, NULL));      /* invalid */
	criu_set_mntns_compat_mode(true);
	criu_set_notify_cb(notify);
	criu_set_empty_ns(0x40000000); /* CLONE_NEWNET */

	begin("g-check");
	OP(criu_check()); /* fix check-sends-opts */
	begin("g-dump");
	OP(criu_dump());
	begin("g-pre-dump");
	OP(criu_pre_dump());
	begin("g-dump-iters");
	OP(criu_dump_iters(two_iterations));
	if (fixed_cases) {
		begin("g-dump-iters-null");
		OP(criu_dump_iters(NULL)); /* fix dump-iters-null */
	}
	begin("g-restore");
	OP(criu_restore());
	begin("g-restore-child");
	OP(criu_restore_child()); /* later requests: fix rst-sibling-sticks */
	begin("g-version");
	OP(criu_get_version());
	begin("g-check-version");
	OP(criu_check_version(40101));
	OP(criu_check_version(40102));
	begin("g-feature-check");
	OP(criu_feature_check(&features, sizeof(features)));
	show_features(&features);
	begin("g-dump-fail");
	setenv("FAKE_CRIU_ANSWER", "fail", 1);
	OP(criu_dump());

	begin("g-free");
	criu_free_opts();
}

static void local_api(const char *fake, bool fixed_cases)
{
	criu_opts *o = NULL;
	char *exec_cmd[] = { "l-cmd" };
	struct criu_feature_check features = { .mem_track = true, .lazy_pages = true, .pidfd_store = false };
	int sk;
	pid_t pid;

	/* The complement of the global values: false, zero, other strings. */
	begin("l-setters");
	SET(criu_local_init_opts(&o));
	SET(criu_local_set_service_address(o, NULL));
	criu_local_set_service_fd(o, 7);
	/* Not a swrk service (yet): refused. */
	SET(criu_local_add_inherit_fd(o, fd_at(102, "/dev/null"), "l-refused"));
	SET(criu_local_set_service_binary(o, fake));
	criu_local_set_pid(o, 4200);
	criu_local_set_images_dir_fd(o, fd_at(105, "."));
	SET(criu_local_set_parent_images(o, "../l-parent"));
	criu_local_set_work_dir_fd(o, fd_at(106, "."));
	criu_local_set_leave_running(o, false);
	/* ext_unix_sk switched off first: adding a socket is refused. */
	criu_local_set_ext_unix_sk(o, false);
	SET(criu_local_add_unix_sk(o, 3333));
	criu_local_set_tcp_established(o, false);
	criu_local_set_tcp_skip_in_flight(o, false);
	criu_local_set_tcp_close(o, false);
	criu_local_set_weak_sysctls(o, false);
	criu_local_set_evasive_devices(o, false);
	criu_local_set_shell_job(o, false);
	criu_local_set_skip_file_rwx_check(o, false);
	criu_local_set_unprivileged(o, false);
	criu_local_set_orphan_pts_master(o, false);
	criu_local_set_file_locks(o, false);
	criu_local_set_track_mem(o, false);
	criu_local_set_auto_dedup(o, false);
	criu_local_set_force_irmap(o, false);
	criu_local_set_link_remap(o, false);
	criu_local_set_log_level(o, CRIU_LOG_MSG); /* 0, still sent */
	SET(criu_local_set_log_file(o, "l.log"));
	criu_local_set_cpu_cap(o, 0);
	SET(criu_local_set_root(o, LOCAL_ROOT));
	criu_local_set_manage_cgroups(o, false);
	criu_local_set_manage_cgroups_mode(o, CRIU_CG_MODE_IGNORE);
	SET(criu_local_set_freeze_cgroup(o, "/sys/fs/cgroup/l-freezer"));
	SET(criu_local_set_lsm_profile(o, "selinux:l-profile"));
	SET(criu_local_set_lsm_mount_context(o, "system_u:object_r:l_t:s0"));
	SET(criu_local_set_config_file(o, "l.conf"));
	criu_local_set_timeout(o, 22);
	criu_local_set_auto_ext_mnt(o, false);
	criu_local_set_ext_sharing(o, false);
	criu_local_set_ext_masters(o, false);
	SET(criu_local_set_exec_cmd(o, 1, exec_cmd));
	SET(criu_local_add_ext_mount(o, "l-mnt1", "/l/val1"));
	SET(criu_local_add_ext_mount(o, "l-mnt2", "/l/val2"));
	SET(criu_local_add_veth_pair(o, "l-in1", "l-out1"));
	SET(criu_local_add_veth_pair(o, "l-in2", "l-out2"));
	SET(criu_local_add_cg_root(o, "memory", "/l-mem"));
	SET(criu_local_add_cg_root(o, "pids", "/l-pids"));
	SET(criu_local_add_enable_fs(o, "l-fs1"));
	SET(criu_local_add_enable_fs(o, "l-fs2"));
	SET(criu_local_add_skip_mnt(o, "/l-skip1"));
	SET(criu_local_add_skip_mnt(o, "/l-skip2"));
	criu_local_set_ghost_limit(o, 0);
	SET(criu_local_add_irmap_path(o, "/l-irmap1"));
	SET(criu_local_add_irmap_path(o, "/l-irmap2"));
	/* The cg_props, cg_props_file and cg_yard "adds" replace; the controller adds. */
	SET(criu_local_add_cg_props(o, "l-props-replaced"));
	SET(criu_local_add_cg_props(o, "\"cpu\": {}"));
	SET(criu_local_add_cg_props_file(o, "/l-props-replaced.yaml"));
	SET(criu_local_add_cg_props_file(o, "/l-props.yaml"));
	SET(criu_local_add_cg_dump_controller(o, "l-ctl1"));
	SET(criu_local_add_cg_dump_controller(o, "l-ctl2"));
	SET(criu_local_add_cg_yard(o, "/l-yard-replaced"));
	SET(criu_local_add_cg_yard(o, "/l-yard"));
	SET(criu_local_add_inherit_fd(o, fd_at(102, "/dev/null"), "l-key1"));
	SET(criu_local_add_inherit_fd(o, fd_at(103, "/dev/null"), "l-key2"));
	SET(criu_local_add_external(o, "mnt[l1]:/l1"));
	SET(criu_local_add_external(o, "net[4026531992]:l2"));
	SET(criu_local_set_page_server_address_port(o, "::1", 0)); /* fix ps-port-ret */
	SET(criu_local_set_pre_dump_mode(o, CRIU_PRE_DUMP_SPLICE));
	criu_local_set_pidfd_store_sk(o, fd_at(107, "/dev/null"));
	SET(criu_local_set_network_lock(o, CRIU_NETWORK_LOCK_SKIP));
	SET(criu_local_join_ns_add(o, "ipc", "/l/ipc-ns", "l-extra"));
	SET(criu_local_join_ns_add(o, "uts", "/l/uts-ns", NULL));
	criu_local_set_mntns_compat_mode(o, false);
	criu_local_set_notify_cb(o, notify);
	criu_local_set_empty_ns(o, 0);

	begin("l-check");
	OP(criu_local_check(o)); /* fix check-sends-opts */
	begin("l-dump");
	OP(criu_local_dump(o));
	begin("l-pre-dump");
	OP(criu_local_pre_dump(o));
	begin("l-dump-iters");
	OP(criu_local_dump_iters(o, two_iterations));
	if (fixed_cases) {
		begin("l-dump-iters-null");
		OP(criu_local_dump_iters(o, NULL)); /* fix dump-iters-null */
	}
	begin("l-restore");
	OP(criu_local_restore(o));
	begin("l-restore-child");
	OP(criu_local_restore_child(o)); /* later requests: fix rst-sibling-sticks */
	begin("l-version");
	OP(criu_local_get_version(o));
	begin("l-check-version");
	OP(criu_local_check_version(o, 30000));
	begin("l-feature-check");
	OP(criu_local_feature_check(o, &features, sizeof(features)));
	show_features(&features);

	/* A shorter struct (an older caller) is read and written only up to size. */
	begin("l-feature-check-short");
	features = (struct criu_feature_check){ .mem_track = true, .lazy_pages = true, .pidfd_store = true };
	OP(criu_local_feature_check(o, &features, sizeof(bool)));
	show_features(&features);
	OP(criu_local_feature_check(o, NULL, sizeof(features)));
	OP(criu_local_feature_check(o, &features, sizeof(features) + 1));

	begin("l-notify-fail");
	notify_ret = -7; /* comes back from the call; criu is told notify_success=false */
	OP(criu_local_dump(o));

	begin("l-unsupported");
	setenv("FAKE_CRIU_ANSWER", "empty", 1);
	OP(criu_local_restore(o));

	/* The library writes one request to the given socket and closes it. */
	begin("l-fd-mode-version");
	pid = start_fake(fake, &sk);
	criu_local_set_service_fd(o, sk);
	OP(criu_local_get_version(o));
	printf("service fd closed by the library: %s\n", fcntl(sk, F_GETFD) < 0 ? "yes" : "no");
	waitpid(pid, NULL, 0);

	/* restore_child needs swrk: it runs "criu" from PATH (the fake, in the harness). */
	begin("l-fd-mode-restore-child");
	OP(criu_local_restore_child(o));

	begin("l-free");
	criu_local_free_opts(o);
}

/* Options nobody set: what the library sends by default. */
static void defaults(void)
{
	criu_opts *o = NULL;

	begin("d-setters");
	SET(criu_local_init_opts(&o));
	SET(criu_local_set_service_binary(o, NULL)); /* "criu", from PATH */

	begin("d-check");
	OP(criu_local_check(o)); /* fix check-sends-opts */
	begin("d-version");
	OP(criu_local_get_version(o));
	begin("d-restore");
	OP(criu_local_restore(o));
	/* No pid: a self-dump, for which criu runs detached (daemon). */
	begin("d-self-dump");
	OP(criu_local_dump(o));

	begin("d-free");
	criu_local_free_opts(o);
}

/*
 * Ids criu would silently match to nothing: upstream accepts them, ours
 * refuses them at the call (fix malformed-ids-refused). A separate options
 * object keeps the other cases' requests identical.
 */
static void malformed_ids(void)
{
	criu_opts *o = NULL;

	begin("m-malformed-ids");
	SET(criu_local_init_opts(&o));
	SET(criu_local_add_external(o, "file[zz:1]"));
	SET(criu_local_add_external(o, "file[1a:2b"));
	SET(criu_local_add_external(o, "net[l2]:/l2"));
	SET(criu_local_add_inherit_fd(o, fd_at(102, "/dev/null"), "pipe[123]"));
	SET(criu_local_add_inherit_fd(o, fd_at(102, "/dev/null"), "/l-absolute"));
	SET(criu_local_add_inherit_fd(o, -1, "pipe:[123]"));
	criu_local_free_opts(o);
}

/*
 * A config file that does not exist: criu skips it without a word, so
 * upstream's request runs on the options alone; ours refuses it before
 * anything is sent (fix missing-config-file-refused).
 */
static void missing_config_file(void)
{
	criu_opts *o = NULL;

	begin("c-missing-config");
	SET(criu_local_init_opts(&o));
	SET(criu_local_set_config_file(o, "missing.conf"));
	OP(criu_local_get_version(o));
	criu_local_free_opts(o);
}

int main(int argc, char **argv)
{
	bool fixed_cases = argc > 2 && !strcmp(argv[2], "--fixed-cases");

	if (argc < 2) {
		fprintf(stderr, "usage: %s <fake-criu> [--fixed-cases]\n", argv[0]);
		return 2;
	}
	/* Unbuffered: the library forks, and a child must not inherit pending output. */
	setvbuf(stdout, NULL, _IONBF, 0);

	global_api(argv[1], fixed_cases);
	local_api(argv[1], fixed_cases);
	defaults();
	malformed_ids();
	missing_config_file();
	printf("== end\n");
	return 0;
}
