/*
 * hostile: every exported libcriu function, called the way a buggy caller
 * would call it: NULL, freed or never-allocated options, NULL, empty, 1 MiB
 * and non-UTF-8 strings, negative and closed descriptors, enum values out
 * of range, calls in the wrong order.
 *
 * Each case runs in a forked child under an alarm (harness.h), so a crash
 * or a hang is one failed case, not the end of the run. A case passes when
 * the call returns the value include/criu.h documents, with errno where the
 * contract includes it, and a criu_get_last_error() message whenever it
 * fails (or, for functions returning nothing, whenever the options were
 * unusable).
 *
 *   usage: hostile [--report <file>]
 *
 * Run it in a scratch directory with a fake criu first in PATH: the few
 * cases that get as far as starting criu must not reach a real one.
 * --report writes "<case>\t<outcome>" lines for the upstream comparison.
 * Built with -DUPSTREAM, against upstream libcriu, functions upstream lacks
 * make their case "n/a", and the program reports without judging.
 */
#include "harness.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include "criu.h"

/* Exported by upstream but missing from its header; repeating ours' is harmless. */
void criu_set_unprivileged(bool unprivileged);
void criu_local_set_unprivileged(criu_opts *opts, bool unprivileged);
void criu_free_service(criu_opts *opts);

#define NOT_IN_UPSTREAM 42 /* exit status of a case calling a function upstream lacks */

#ifdef UPSTREAM
/* Takes the call's arguments only so that what a case prepared for it
 * counts as used; the case ends here. */
static int not_in_upstream(int none, ...)
{
	(void)none;
	_exit(NOT_IN_UPSTREAM);
}
#define criu_get_last_error() ""
#define criu_get_external_id(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_get_inherit_key(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_list_externals(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_get_image_stats(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_local_set_reply_timeout(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_set_reply_timeout(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_local_add_tmp_file(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_add_tmp_file(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_local_set_tmp_file_limit(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_set_tmp_file_limit(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_local_set_tmp_file_put_back(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_set_tmp_file_put_back(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_local_set_lazy_pages(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_set_lazy_pages(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_local_set_leave_stopped(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_set_leave_stopped(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_local_set_status_fd(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_set_status_fd(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_local_start_page_server(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_start_page_server(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_local_start_page_server_chld(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_start_page_server_chld(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_local_wait_pid(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_wait_pid(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_local_cpuinfo_dump(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_cpuinfo_dump(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_local_cpuinfo_check(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_cpuinfo_check(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_local_start_lazy_pages(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_start_lazy_pages(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_add_cg_props(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_add_cg_props_file(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_add_cg_dump_controller(...) not_in_upstream(0, ##__VA_ARGS__)
#define criu_add_cg_yard(...) not_in_upstream(0, ##__VA_ARGS__)
#define last_error_is_empty() not_in_upstream(0)
#define list_cb NULL /* upstream has no struct criu_external to take */
#else
static int list_cb(const struct criu_external *e, void *arg)
{
	(void)e;
	(void)arg;
	return 0;
}
static int last_error_is_empty(void)
{
	const char *m = criu_get_last_error();
	return m && !m[0] ? 0 : -1;
}
#endif

/* ---- hostile arguments ---- */

#define NOT_UTF8 "\xff\xfe-not-utf8"

static criu_opts *fresh(void)
{
	criu_opts *o = NULL;

	criu_local_init_opts(&o);
	return o;
}

/* A pointer the library handed out and took back. */
static criu_opts *freed(void)
{
	criu_opts *o = fresh();

	criu_local_free_opts(o);
	return o;
}

/* A pointer to memory the library never allocated. */
static criu_opts *bogus(void)
{
	static long junk[64];

	memset(junk, 0x5a, sizeof(junk));
	return (criu_opts *)junk;
}

static char *big(void)
{
	static char *s;

	if (!s) {
		s = malloc((1 << 20) + 1);
		memset(s, 'a', 1 << 20);
		s[1 << 20] = 0;
	}
	return s;
}

/* A descriptor number that is certainly not open. */
static int closed_fd(void)
{
	close(1000);
	return 1000;
}

static int regular_fd(void)
{
	return open("/proc/self/exe", O_RDONLY);
}

static int more(criu_predump_info info)
{
	(void)info;
	return 0;
}

static int notify(char *action, criu_notify_arg_t na)
{
	(void)action;
	(void)na;
	return 0;
}

static struct criu_feature_check feat = { true, true, true };
static int port;
static char buf[4096] __attribute__((unused));
static char *argv_null[] = { "a", NULL, NULL };
static char *argv_bad[] = { NOT_UTF8, NULL };
static char *argv_ok[] = { "true", NULL };

/* ---- the cases ----
 *
 * C(name, expected value, expected errno or ANY, flags, body...): a
 *   message is required for negative values (unless NOMSG) and for void
 *   calls marked MSG. The body returns the value under test (0 for
 *   functions returning nothing) and makes no library call after it, so
 *   that errno and the message are the call's own.
 */
#define ANY -1
#define MSG 1   /* a message even though the function returns nothing */
#define NOMSG 2 /* no message expected: the negative value is not a failure */
/*
 * Under valgrind, posix_spawn cannot report that the exec failed (valgrind
 * runs its vfork-style child as a plain fork), so a service binary that
 * cannot run shows up as criu hanging up: -ECOMM instead of -ECONNREFUSED.
 * The runner sets LIBCRIU_TEST_VALGRIND=1 there.
 */
#define SPAWN 4

/* void criu_local_set_X(opts, bool) and void criu_set_X(bool) */
#define BOOL_SETTERS(F, C)                                                                              \
	F(C, leave_running) F(C, ext_unix_sk) F(C, tcp_established) F(C, tcp_skip_in_flight) F(C, tcp_close) \
	F(C, weak_sysctls) F(C, evasive_devices) F(C, shell_job) F(C, skip_file_rwx_check)                  \
	F(C, unprivileged) F(C, orphan_pts_master) F(C, file_locks) F(C, track_mem) F(C, auto_dedup)        \
	F(C, force_irmap) F(C, link_remap) F(C, manage_cgroups) F(C, auto_ext_mnt) F(C, ext_sharing)        \
	F(C, ext_masters) F(C, mntns_compat_mode) F(C, lazy_pages) F(C, tmp_file_put_back) F(C, leave_stopped)

#define BOOL_CASES(C, x)                                                                                  \
	C("criu_local_set_" #x "(NULL, true)", 0, ANY, MSG, criu_local_set_##x(NULL, true); return 0;)   \
	C("criu_local_set_" #x "(freed, true)", 0, ANY, MSG, criu_local_set_##x(freed(), true); return 0;) \
	C("criu_set_" #x "(true) before criu_init_opts", 0, ANY, MSG, criu_set_##x(true); return 0;)

/* void criu_local_set_X(opts, number), with an extreme number */
#define NUMBER_SETTERS(F, C)                                                                            \
	F(C, pid, -1) F(C, images_dir_fd, -1) F(C, work_dir_fd, INT_MIN) F(C, log_level, INT_MAX)          \
	F(C, cpu_cap, UINT_MAX) F(C, timeout, UINT_MAX) F(C, ghost_limit, UINT_MAX)                        \
	F(C, pidfd_store_sk, -1) F(C, empty_ns, -1) F(C, service_fd, -1) F(C, reply_timeout, UINT_MAX)   \
	F(C, tmp_file_limit, UINT64_MAX) F(C, status_fd, -1)

#define NUMBER_CASES(C, x, v)                                                                           \
	C("criu_local_set_" #x "(NULL, 1)", 0, ANY, MSG, criu_local_set_##x(NULL, 1); return 0;)       \
	C("criu_local_set_" #x "(freed, 1)", 0, ANY, MSG, criu_local_set_##x(freed(), 1); return 0;)   \
	C("criu_local_set_" #x "(opts, " #v ")", 0, ANY, 0, criu_local_set_##x(fresh(), v); return 0;) \
	C("criu_set_" #x "(1) before criu_init_opts", 0, ANY, MSG, criu_set_##x(1); return 0;)

/* int criu_local_X(opts, const char *): 0 or -EINVAL */
#define STRING_SETTERS(F, C)                                                                             \
	F(C, set_parent_images) F(C, set_log_file) F(C, set_root) F(C, set_freeze_cgroup)                   \
	F(C, set_lsm_profile) F(C, set_lsm_mount_context) F(C, add_enable_fs) F(C, add_skip_mnt)            \
	F(C, add_irmap_path) F(C, add_cg_props) F(C, add_cg_props_file) F(C, add_cg_dump_controller)        \
	F(C, add_cg_yard) F(C, set_config_file)

#define STRING_CASES(C, x)                                                                                  \
	C("criu_local_" #x "(NULL, \"x\")", -EINVAL, ANY, 0, return criu_local_##x(NULL, "x");)             \
	C("criu_local_" #x "(freed, \"x\")", -EINVAL, ANY, 0, return criu_local_##x(freed(), "x");)         \
	C("criu_local_" #x "(opts, NULL)", -EINVAL, ANY, 0, return criu_local_##x(fresh(), NULL);)          \
	C("criu_local_" #x "(opts, \"\")", 0, ANY, 0, return criu_local_##x(fresh(), "");)                  \
	C("criu_local_" #x "(opts, 1 MiB)", 0, ANY, 0, return criu_local_##x(fresh(), big());)              \
	C("criu_local_" #x "(opts, not UTF-8)", -EINVAL, ANY, 0, return criu_local_##x(fresh(), NOT_UTF8);) \
	C("criu_" #x "(\"x\") before criu_init_opts", -EINVAL, ANY, 0, return criu_##x("x");)               \
	C("criu_" #x "(NULL)", -EINVAL, ANY, 0, criu_init_opts(); return criu_##x(NULL);)

/* operations: -EINVAL and errno EINVAL whenever the options are unusable */
#define OPERATIONS(F, C)                                                                  \
	F(C, check, (o), ()) F(C, dump, (o), ()) F(C, pre_dump, (o), ()) F(C, restore, (o), ()) \
	F(C, restore_child, (o), ()) F(C, get_version, (o), ())                                \
	F(C, check_version, (o, 40000), (40000))                                                \
	F(C, feature_check, (o, &feat, sizeof(feat)), (&feat, sizeof(feat)))                    \
	F(C, dump_iters, (o, more), (more))                                                     \
	F(C, start_page_server, (o, &port), (&port))                                            \
	F(C, start_page_server_chld, (o, &port), (&port)) F(C, wait_pid, (o, 1), (1))           \
	F(C, cpuinfo_dump, (o), ()) F(C, cpuinfo_check, (o), ()) F(C, start_lazy_pages, (o), ())

#define OPERATION_CASES(C, x, largs, gargs)                                                                   \
	C("criu_local_" #x #largs ", o NULL", -EINVAL, EINVAL, 0, criu_opts *o = NULL; return criu_local_##x largs;) \
	C("criu_local_" #x #largs ", o freed", -EINVAL, EINVAL, 0, criu_opts *o = freed(); return criu_local_##x largs;) \
	C("criu_local_" #x #largs ", o never allocated", -EINVAL, EINVAL, 0,                                  \
	  criu_opts *o = bogus(); return criu_local_##x largs;)                                                 \
	C("criu_" #x #gargs " before criu_init_opts", -EINVAL, EINVAL, 0, return criu_##x gargs;)             \
	C("criu_" #x #gargs " after criu_free_opts", -EINVAL, EINVAL, 0,                                      \
	  criu_init_opts(); criu_free_opts(); return criu_##x gargs;)

#define CASES(C)                                                                                          \
	/* options objects: creation, freeing, order */                                                     \
	C("criu_local_init_opts(NULL)", -1, ANY, 0, return criu_local_init_opts(NULL);)                    \
	C("criu_local_init_opts(&p), p never allocated", 0, ANY, 0, criu_opts *p = bogus();                \
	  return criu_local_init_opts(&p);)                                                                 \
	C("criu_local_init_opts(&p), p already freed", 0, ANY, 0, criu_opts *p = freed();                  \
	  return criu_local_init_opts(&p);)                                                                 \
	C("criu_local_free_opts(NULL)", 0, ANY, 0, criu_local_free_opts(NULL); return 0;)                  \
	C("criu_local_free_opts twice (double free)", 0, ANY, 0, criu_local_free_opts(freed()); return 0;) \
	C("criu_local_free_opts(never allocated)", 0, ANY, 0, criu_local_free_opts(bogus()); return 0;)    \
	C("criu_free_opts() before criu_init_opts", 0, ANY, 0, criu_free_opts(); return 0;)                \
	C("criu_free_opts() twice", 0, ANY, 0, criu_init_opts(); criu_free_opts(); criu_free_opts(); return 0;) \
	C("criu_init_opts() twice", 0, ANY, 0, criu_init_opts(); return criu_init_opts();)                 \
	BOOL_SETTERS(BOOL_CASES, C)                                                                         \
	NUMBER_SETTERS(NUMBER_CASES, C)                                                                     \
	STRING_SETTERS(STRING_CASES, C)                                                                     \
	OPERATIONS(OPERATION_CASES, C)                                                                      \
	/* enums out of range */                                                                            \
	C("criu_local_set_manage_cgroups_mode(NULL, SOFT)", 0, ANY, MSG,                                    \
	  criu_local_set_manage_cgroups_mode(NULL, CRIU_CG_MODE_SOFT); return 0;)                           \
	C("criu_local_set_manage_cgroups_mode(freed, SOFT)", 0, ANY, MSG,                                   \
	  criu_local_set_manage_cgroups_mode(freed(), CRIU_CG_MODE_SOFT); return 0;)                        \
	C("criu_local_set_manage_cgroups_mode(opts, 99)", 0, ANY, MSG,                                      \
	  criu_local_set_manage_cgroups_mode(fresh(), (enum criu_cg_mode)99); return 0;)                    \
	C("criu_local_set_manage_cgroups_mode(opts, -1)", 0, ANY, MSG,                                      \
	  criu_local_set_manage_cgroups_mode(fresh(), (enum criu_cg_mode)-1); return 0;)                    \
	C("criu_set_manage_cgroups_mode(SOFT) before criu_init_opts", 0, ANY, MSG,                          \
	  criu_set_manage_cgroups_mode(CRIU_CG_MODE_SOFT); return 0;)                                       \
	C("criu_set_manage_cgroups_mode(99)", 0, ANY, MSG, criu_init_opts();                                \
	  criu_set_manage_cgroups_mode((enum criu_cg_mode)99); return 0;)                                   \
	C("criu_local_set_pre_dump_mode(NULL, READ)", -EINVAL, ANY, 0,                                      \
	  return criu_local_set_pre_dump_mode(NULL, CRIU_PRE_DUMP_READ);)                                   \
	C("criu_local_set_pre_dump_mode(opts, 0)", -1, ANY, 0,                                              \
	  return criu_local_set_pre_dump_mode(fresh(), (enum criu_pre_dump_mode)0);)                        \
	C("criu_local_set_pre_dump_mode(opts, 99)", -1, ANY, 0,                                             \
	  return criu_local_set_pre_dump_mode(fresh(), (enum criu_pre_dump_mode)99);)                       \
	C("criu_set_pre_dump_mode(READ) before criu_init_opts", -EINVAL, ANY, 0,                            \
	  return criu_set_pre_dump_mode(CRIU_PRE_DUMP_READ);)                                               \
	C("criu_set_pre_dump_mode(-1)", -1, ANY, 0, criu_init_opts();                                       \
	  return criu_set_pre_dump_mode((enum criu_pre_dump_mode)-1);)                                      \
	C("criu_local_set_network_lock(NULL, SKIP)", -EINVAL, ANY, 0,                                       \
	  return criu_local_set_network_lock(NULL, CRIU_NETWORK_LOCK_SKIP);)                                \
	C("criu_local_set_network_lock(opts, 0)", -1, ANY, 0,                                               \
	  return criu_local_set_network_lock(fresh(), (enum criu_network_lock_method)0);)                   \
	C("criu_local_set_network_lock(opts, 99)", -1, ANY, 0,                                              \
	  return criu_local_set_network_lock(fresh(), (enum criu_network_lock_method)99);)                  \
	C("criu_set_network_lock(SKIP) before criu_init_opts", -EINVAL, ANY, 0,                             \
	  return criu_set_network_lock(CRIU_NETWORK_LOCK_SKIP);)                                            \
	C("criu_set_network_lock(-1)", -1, ANY, 0, criu_init_opts();                                        \
	  return criu_set_network_lock((enum criu_network_lock_method)-1);)                                 \
	/* how criu is reached (paths may be any bytes; only the operation fails) */                        \
	C("criu_local_set_service_address(NULL, \"x\")", -EINVAL, ANY, 0,                                   \
	  return criu_local_set_service_address(NULL, "x");)                                                \
	C("criu_local_set_service_address(opts, NULL)", 0, ANY, 0,                                          \
	  return criu_local_set_service_address(fresh(), NULL);)                                            \
	C("criu_local_set_service_address(opts, not UTF-8)", 0, ANY, 0,                                     \
	  return criu_local_set_service_address(fresh(), NOT_UTF8);)                                        \
	C("criu_local_set_service_address(opts, \"\"), then check", -ECONNREFUSED, ANY, 0,                  \
	  criu_opts *o = fresh(); criu_local_set_service_address(o, ""); return criu_local_check(o);)       \
	C("criu_local_set_service_address(opts, 1 MiB), then check", -ECONNREFUSED, ENAMETOOLONG, 0,        \
	  criu_opts *o = fresh(); criu_local_set_service_address(o, big()); return criu_local_check(o);)    \
	C("criu_set_service_address(\"x\") before criu_init_opts", -EINVAL, ANY, 0,                         \
	  return criu_set_service_address("x");)                                                            \
	C("criu_local_set_service_binary(NULL, \"x\")", -EINVAL, ANY, 0,                                    \
	  return criu_local_set_service_binary(NULL, "x");)                                                 \
	C("criu_local_set_service_binary(opts, NULL)", 0, ANY, 0,                                           \
	  return criu_local_set_service_binary(fresh(), NULL);)                                             \
	C("criu_local_set_service_binary(opts, not UTF-8)", 0, ANY, 0,                                      \
	  return criu_local_set_service_binary(fresh(), NOT_UTF8);)                                         \
	C("criu_local_set_service_binary(opts, not UTF-8), then get_version", -ECONNREFUSED, ENOENT, SPAWN,     \
	  criu_opts *o = fresh(); criu_local_set_service_binary(o, "/nonexistent/" NOT_UTF8);              \
	  return criu_local_get_version(o);)                                                                \
	C("criu_local_set_service_binary(opts, \"\"), then get_version", -ECONNREFUSED, ENOENT, SPAWN,          \
	  criu_opts *o = fresh(); criu_local_set_service_binary(o, ""); return criu_local_get_version(o);)  \
	C("criu_local_set_service_binary(opts, 1 MiB), then get_version", -ECONNREFUSED, ENAMETOOLONG, SPAWN,   \
	  criu_opts *o = fresh(); criu_local_set_service_binary(o, big()); return criu_local_get_version(o);) \
	C("criu_set_service_binary(\"x\") before criu_init_opts", -EINVAL, ANY, 0,                          \
	  return criu_set_service_binary("x");)                                                             \
	C("criu_local_set_service_fd(opts, -1), then check", -ECONNREFUSED, EBADF, 0,                       \
	  criu_opts *o = fresh(); criu_local_set_service_fd(o, -1); return criu_local_check(o);)            \
	C("criu_local_set_service_fd(opts, closed fd), then check", -ECOMM, EBADF, 0,                       \
	  criu_opts *o = fresh(); criu_local_set_service_fd(o, closed_fd()); return criu_local_check(o);)   \
	C("criu_local_set_service_fd(opts, regular file), then check", -ECOMM, ENOTSOCK, 0,                 \
	  criu_opts *o = fresh(); criu_local_set_service_fd(o, regular_fd()); return criu_local_check(o);)  \
	C("criu_free_service(NULL)", 0, ANY, MSG, criu_free_service(NULL); return 0;)                       \
	C("criu_free_service(freed)", 0, ANY, MSG, criu_free_service(freed()); return 0;)                   \
	/* a string too long to send */                                                                     \
	C("criu_local_set_root(opts, 1 MiB), then check", -ECOMM, EMSGSIZE, 0,                              \
	  criu_opts *o = fresh(); criu_local_set_root(o, big()); return criu_local_check(o);)               \
	/* the exec command */                                                                              \
	C("criu_local_set_exec_cmd(NULL, 1, argv)", -EINVAL, ANY, 0,                                        \
	  return criu_local_set_exec_cmd(NULL, 1, argv_ok);)                                                \
	C("criu_local_set_exec_cmd(freed, 1, argv)", -EINVAL, ANY, 0,                                       \
	  return criu_local_set_exec_cmd(freed(), 1, argv_ok);)                                             \
	C("criu_local_set_exec_cmd(opts, -1, argv)", -EINVAL, ANY, 0,                                       \
	  return criu_local_set_exec_cmd(fresh(), -1, argv_ok);)                                            \
	C("criu_local_set_exec_cmd(opts, 2, NULL)", -EINVAL, ANY, 0,                                        \
	  return criu_local_set_exec_cmd(fresh(), 2, NULL);)                                                \
	C("criu_local_set_exec_cmd(opts, 2, {\"a\", NULL})", -EINVAL, ANY, 0,                               \
	  return criu_local_set_exec_cmd(fresh(), 2, argv_null);)                                           \
	C("criu_local_set_exec_cmd(opts, 1, {not UTF-8})", -EINVAL, ANY, 0,                                 \
	  return criu_local_set_exec_cmd(fresh(), 1, argv_bad);)                                            \
	C("criu_local_set_exec_cmd(opts, 0, NULL)", 0, ANY, 0, return criu_local_set_exec_cmd(fresh(), 0, NULL);) \
	C("criu_set_exec_cmd(1, argv) before criu_init_opts", -EINVAL, ANY, 0,                              \
	  return criu_set_exec_cmd(1, argv_ok);)                                                            \
	C("criu_set_exec_cmd(-1, argv)", -EINVAL, ANY, 0, criu_init_opts(); return criu_set_exec_cmd(-1, argv_ok);) \
	/* setters of two strings */                                                                        \
	C("criu_local_add_ext_mount(NULL, \"k\", \"v\")", -EINVAL, ANY, 0,                                  \
	  return criu_local_add_ext_mount(NULL, "k", "v");)                                                 \
	C("criu_local_add_ext_mount(opts, NULL, \"v\")", -EINVAL, ANY, 0,                                   \
	  return criu_local_add_ext_mount(fresh(), NULL, "v");)                                             \
	C("criu_local_add_ext_mount(opts, \"k\", NULL)", -EINVAL, ANY, 0,                                   \
	  return criu_local_add_ext_mount(fresh(), "k", NULL);)                                             \
	C("criu_local_add_ext_mount(opts, not UTF-8, \"v\")", -EINVAL, ANY, 0,                              \
	  return criu_local_add_ext_mount(fresh(), NOT_UTF8, "v");)                                         \
	C("criu_add_ext_mount(\"k\", \"v\") before criu_init_opts", -EINVAL, ANY, 0,                        \
	  return criu_add_ext_mount("k", "v");)                                                             \
	C("criu_local_add_veth_pair(NULL, \"a\", \"b\")", -EINVAL, ANY, 0,                                  \
	  return criu_local_add_veth_pair(NULL, "a", "b");)                                                 \
	C("criu_local_add_veth_pair(opts, NULL, \"b\")", -EINVAL, ANY, 0,                                   \
	  return criu_local_add_veth_pair(fresh(), NULL, "b");)                                             \
	C("criu_local_add_veth_pair(opts, \"a\", NULL)", -EINVAL, ANY, 0,                                   \
	  return criu_local_add_veth_pair(fresh(), "a", NULL);)                                             \
	C("criu_local_add_veth_pair(opts, \"a\", not UTF-8)", -EINVAL, ANY, 0,                              \
	  return criu_local_add_veth_pair(fresh(), "a", NOT_UTF8);)                                         \
	C("criu_add_veth_pair(\"a\", \"b\") before criu_init_opts", -EINVAL, ANY, 0,                        \
	  return criu_add_veth_pair("a", "b");)                                                             \
	C("criu_local_add_cg_root(NULL, \"cpu\", \"/p\")", -EINVAL, ANY, 0,                                 \
	  return criu_local_add_cg_root(NULL, "cpu", "/p");)                                                \
	C("criu_local_add_cg_root(opts, NULL, \"/p\")", 0, ANY, 0, return criu_local_add_cg_root(fresh(), NULL, "/p");) \
	C("criu_local_add_cg_root(opts, \"cpu\", NULL)", -EINVAL, ANY, 0,                                   \
	  return criu_local_add_cg_root(fresh(), "cpu", NULL);)                                             \
	C("criu_local_add_cg_root(opts, not UTF-8, \"/p\")", -EINVAL, ANY, 0,                               \
	  return criu_local_add_cg_root(fresh(), NOT_UTF8, "/p");)                                          \
	C("criu_add_cg_root(\"cpu\", \"/p\") before criu_init_opts", -EINVAL, ANY, 0,                       \
	  return criu_add_cg_root("cpu", "/p");)                                                            \
	C("criu_local_join_ns_add(NULL, \"net\", \"/f\", NULL)", -1, ANY, 0,                                \
	  return criu_local_join_ns_add(NULL, "net", "/f", NULL);)                                          \
	C("criu_local_join_ns_add(opts, NULL, \"/f\", NULL)", -1, ANY, 0,                                   \
	  return criu_local_join_ns_add(fresh(), NULL, "/f", NULL);)                                        \
	C("criu_local_join_ns_add(opts, \"net\", NULL, NULL)", -1, ANY, 0,                                  \
	  return criu_local_join_ns_add(fresh(), "net", NULL, NULL);)                                       \
	C("criu_local_join_ns_add(opts, \"net\", \"/f\", not UTF-8)", -1, ANY, 0,                           \
	  return criu_local_join_ns_add(fresh(), "net", "/f", NOT_UTF8);)                                   \
	C("criu_join_ns_add(\"net\", \"/f\", NULL) before criu_init_opts", -1, ANY, 0,                      \
	  return criu_join_ns_add("net", "/f", NULL);)                                                      \
	C("criu_local_set_page_server_address_port(NULL, \"a\", 1)", -EINVAL, ANY, 0,                       \
	  return criu_local_set_page_server_address_port(NULL, "a", 1);)                                    \
	C("criu_local_set_page_server_address_port(opts, NULL, 1)", -EINVAL, ANY, 0,                        \
	  return criu_local_set_page_server_address_port(fresh(), NULL, 1);)                                \
	C("criu_local_set_page_server_address_port(opts, \"\", -1)", 0, ANY, 0,                             \
	  return criu_local_set_page_server_address_port(fresh(), "", -1);)                                 \
	C("criu_local_set_page_server_address_port(opts, not UTF-8, 1)", -EINVAL, ANY, 0,                   \
	  return criu_local_set_page_server_address_port(fresh(), NOT_UTF8, 1);)                            \
	C("criu_set_page_server_address_port(\"a\", 1) before criu_init_opts", -EINVAL, ANY, 0,             \
	  return criu_set_page_server_address_port("a", 1);)                                                \
	/* external unix sockets, inherited fds, external resources */                                      \
	C("criu_local_add_unix_sk(NULL, 5)", -EINVAL, ANY, 0, return criu_local_add_unix_sk(NULL, 5);)      \
	C("criu_local_add_unix_sk(freed, 5)", -EINVAL, ANY, 0, return criu_local_add_unix_sk(freed(), 5);)  \
	C("criu_local_add_unix_sk(opts, 5) after ext_unix_sk(false)", -1, ANY, 0, criu_opts *o = fresh();   \
	  criu_local_set_ext_unix_sk(o, false); return criu_local_add_unix_sk(o, 5);)                       \
	C("criu_add_unix_sk(5) before criu_init_opts", -EINVAL, ANY, 0, return criu_add_unix_sk(5);)        \
	C("criu_local_add_inherit_fd(NULL, 0, \"pipe:[1]\")", -EINVAL, ANY, 0,                              \
	  return criu_local_add_inherit_fd(NULL, 0, "pipe:[1]");)                                           \
	C("criu_local_add_inherit_fd(opts, -1, \"pipe:[1]\")", -EINVAL, ANY, 0,                             \
	  return criu_local_add_inherit_fd(fresh(), -1, "pipe:[1]");)                                       \
	C("criu_local_add_inherit_fd(opts, closed fd, \"pipe:[1]\")", -EINVAL, ANY, 0,                      \
	  return criu_local_add_inherit_fd(fresh(), closed_fd(), "pipe:[1]");)                              \
	C("criu_local_add_inherit_fd(opts, 0, NULL)", -EINVAL, ANY, 0,                                      \
	  return criu_local_add_inherit_fd(fresh(), 0, NULL);)                                              \
	C("criu_local_add_inherit_fd(opts, 0, \"\")", -EINVAL, ANY, 0,                                      \
	  return criu_local_add_inherit_fd(fresh(), 0, "");)                                                \
	C("criu_local_add_inherit_fd(opts, 0, not UTF-8)", -EINVAL, ANY, 0,                                 \
	  return criu_local_add_inherit_fd(fresh(), 0, NOT_UTF8);)                                          \
	C("criu_local_add_inherit_fd(opts, 0, 1 MiB)", 0, ANY, 0,                                     \
	  return criu_local_add_inherit_fd(fresh(), 0, big());)                                             \
	C("criu_local_add_inherit_fd(opts on a service socket, 0, \"pipe:[1]\")", -1, ANY, 0,               \
	  criu_opts *o = fresh(); criu_local_set_service_address(o, "/x");                                  \
	  return criu_local_add_inherit_fd(o, 0, "pipe:[1]");)                                              \
	C("criu_add_inherit_fd(0, \"pipe:[1]\") before criu_init_opts", -EINVAL, ANY, 0,                    \
	  return criu_add_inherit_fd(0, "pipe:[1]");)                                                       \
	C("criu_local_add_external(NULL, \"unix[1]\")", -EINVAL, ANY, 0,                                    \
	  return criu_local_add_external(NULL, "unix[1]");)                                                 \
	C("criu_local_add_external(freed, \"unix[1]\")", -EINVAL, ANY, 0,                                   \
	  return criu_local_add_external(freed(), "unix[1]");)                                              \
	C("criu_local_add_external(opts, NULL)", -EINVAL, ANY, 0, return criu_local_add_external(fresh(), NULL);) \
	C("criu_local_add_external(opts, \"\")", -EINVAL, ANY, 0, return criu_local_add_external(fresh(), "");) \
	C("criu_local_add_external(opts, \"garbage\")", -EINVAL, ANY, 0,                                    \
	  return criu_local_add_external(fresh(), "garbage");)                                              \
	C("criu_local_add_external(opts, 1 MiB)", -EINVAL, ANY, 0, return criu_local_add_external(fresh(), big());) \
	C("criu_local_add_external(opts, not UTF-8)", -EINVAL, ANY, 0,                                      \
	  return criu_local_add_external(fresh(), NOT_UTF8);)                                               \
	C("criu_add_external(\"unix[1]\") before criu_init_opts", -EINVAL, ANY, 0,                          \
	  return criu_add_external("unix[1]");)                                                             \
	C("criu_add_external(NULL)", -EINVAL, ANY, 0, criu_init_opts(); return criu_add_external(NULL);)    \
	/* tmp files: refused types and broken arguments; missing paths are declarations */                \
	C("criu_local_add_tmp_file(NULL, \"/tmp\")", -EINVAL, ANY, 0, return criu_local_add_tmp_file(NULL, "/tmp");) \
	C("criu_local_add_tmp_file(freed, \"/tmp\")", -EINVAL, ANY, 0,                                      \
	  return criu_local_add_tmp_file(freed(), "/tmp");)                                                 \
	C("criu_local_add_tmp_file(opts, NULL)", -EINVAL, ANY, 0, return criu_local_add_tmp_file(fresh(), NULL);) \
	C("criu_local_add_tmp_file(opts, \"\")", -EINVAL, ANY, 0, return criu_local_add_tmp_file(fresh(), "");) \
	C("criu_local_add_tmp_file(opts, \"/dev/null\")", -EINVAL, ANY, 0,                                  \
	  return criu_local_add_tmp_file(fresh(), "/dev/null");)                                            \
	C("criu_local_add_tmp_file(opts, 1 MiB)", -EINVAL, ANY, 0, return criu_local_add_tmp_file(fresh(), big());) \
	C("criu_local_add_tmp_file(opts, not UTF-8)", 0, ANY, 0,                                            \
	  return criu_local_add_tmp_file(fresh(), NOT_UTF8);)                                               \
	C("criu_add_tmp_file(\"/tmp\") before criu_init_opts", -EINVAL, ANY, 0,                             \
	  return criu_add_tmp_file("/tmp");)                                                                \
	C("criu_add_tmp_file(NULL)", -EINVAL, ANY, 0, criu_init_opts(); return criu_add_tmp_file(NULL);)    \
	/* callbacks */                                                                                     \
	C("criu_local_set_notify_cb(NULL, cb)", 0, ANY, MSG, criu_local_set_notify_cb(NULL, notify); return 0;) \
	C("criu_local_set_notify_cb(freed, cb)", 0, ANY, MSG, criu_local_set_notify_cb(freed(), notify); return 0;) \
	C("criu_local_set_notify_cb(opts, NULL)", 0, ANY, 0, criu_local_set_notify_cb(fresh(), NULL); return 0;) \
	C("criu_set_notify_cb(cb) before criu_init_opts", 0, ANY, MSG, criu_set_notify_cb(notify); return 0;) \
	C("criu_notify_pid(NULL)", 0, ANY, 0, return criu_notify_pid(NULL);)                                \
	C("criu_get_orphan_pts_master_fd() with no notification", -1, ANY, NOMSG,                              \
	  return criu_get_orphan_pts_master_fd();)                                                          \
	C("criu_local_dump_iters(opts, NULL)", -EINVAL, ANY, 0, criu_opts *o = fresh();                  \
	  criu_local_set_pid(o, 1); return criu_local_dump_iters(o, NULL);)                                 \
	C("criu_local_dump_iters(opts without pid, cb)", -EINVAL, ANY, 0,                                \
	  return criu_local_dump_iters(fresh(), more);)                                                     \
	C("criu_dump_iters(NULL)", -EINVAL, ANY, 0, criu_init_opts(); criu_set_pid(1);                   \
	  return criu_dump_iters(NULL);)                                                                    \
	C("criu_local_feature_check(opts, NULL, 3)", -1, ANY, 0,                                            \
	  return criu_local_feature_check(fresh(), NULL, 3);)                                               \
	C("criu_local_feature_check(opts, &f, 4096)", -1, ANY, 0,                                           \
	  return criu_local_feature_check(fresh(), &feat, 4096);)                                           \
	C("criu_feature_check(NULL, 3)", -1, ANY, 0, criu_init_opts(); return criu_feature_check(NULL, 3);) \
	/* functions beyond upstream's API */                                                               \
	C("criu_get_last_error() before any failure", 0, ANY, 0, return last_error_is_empty();)             \
	C("criu_get_external_id(self, fd, NULL, 64)", -EINVAL, ANY, 0,                                      \
	  return criu_get_external_id(getpid(), regular_fd(), NULL, 64);)                                   \
	C("criu_get_external_id(self, fd, buf, 0)", -ERANGE, ANY, 0,                                        \
	  return criu_get_external_id(getpid(), regular_fd(), buf, 0);)                                     \
	C("criu_get_external_id(self, fd, buf, 1)", -ERANGE, ANY, 0,                                        \
	  return criu_get_external_id(getpid(), regular_fd(), buf, 1);)                                     \
	C("criu_get_external_id(-1, 0, buf, 64)", -EINVAL, ANY, 0, return criu_get_external_id(-1, 0, buf, 64);) \
	C("criu_get_external_id(INT_MAX, 0, buf, 64)", -EINVAL, ANY, 0,                                     \
	  return criu_get_external_id(INT_MAX, 0, buf, 64);)                                                \
	C("criu_get_external_id(self, -1, buf, 64)", -EINVAL, ANY, 0,                                       \
	  return criu_get_external_id(getpid(), -1, buf, 64);)                                              \
	C("criu_get_external_id(self, closed fd, buf, 64)", -EINVAL, ANY, 0,                                \
	  return criu_get_external_id(getpid(), closed_fd(), buf, 64);)                                     \
	C("criu_get_inherit_key(self, fd, NULL, 64)", -EINVAL, ANY, 0,                                      \
	  return criu_get_inherit_key(getpid(), regular_fd(), NULL, 64);)                                   \
	C("criu_get_inherit_key(self, fd, buf, 0)", -ERANGE, ANY, 0,                                        \
	  return criu_get_inherit_key(getpid(), regular_fd(), buf, 0);)                                     \
	C("criu_get_inherit_key(self, fd, buf, 1)", -ERANGE, ANY, 0,                                        \
	  return criu_get_inherit_key(getpid(), regular_fd(), buf, 1);)                                     \
	C("criu_get_inherit_key(-1, 0, buf, 64)", -EINVAL, ANY, 0, return criu_get_inherit_key(-1, 0, buf, 64);) \
	C("criu_get_inherit_key(self, closed fd, buf, 64)", -EINVAL, ANY, 0,                                \
	  return criu_get_inherit_key(getpid(), closed_fd(), buf, 64);)                                     \
	C("criu_list_externals(NULL, cb, NULL)", -EINVAL, ANY, 0, return criu_list_externals(NULL, list_cb, NULL);) \
	C("criu_list_externals(dir, NULL, NULL)", -EINVAL, ANY, 0, return criu_list_externals(".", NULL, NULL);) \
	C("criu_list_externals(\"\", cb, NULL)", -EINVAL, ANY, 0, return criu_list_externals("", list_cb, NULL);) \
	C("criu_list_externals(missing dir, cb, NULL)", -EINVAL, ANY, 0,                                    \
	  return criu_list_externals("/nonexistent", list_cb, NULL);)                                       \
	C("criu_list_externals(not UTF-8, cb, NULL)", -EINVAL, ANY, 0,                                      \
	  return criu_list_externals(NOT_UTF8, list_cb, NULL);)                                             \
	C("criu_list_externals(1 MiB, cb, NULL)", -EINVAL, ANY, 0, return criu_list_externals(big(), list_cb, NULL);) \
	C("criu_list_externals(garbage inventory.img)", -EINVAL, ANY, 0,                                    \
	  return criu_list_externals("garbage-images", list_cb, NULL);)                                     \
	C("criu_list_externals(inventory.img is a FIFO)", -EINVAL, ANY, 0,                                  \
	  return criu_list_externals("fifo-images", list_cb, NULL);)                                        \
	C("criu_get_image_stats(NULL, st)", -EINVAL, ANY, 0, return criu_get_image_stats(NULL, (void *)buf);) \
	C("criu_get_image_stats(dir, NULL)", -EINVAL, ANY, 0, return criu_get_image_stats(".", NULL);)    \
	C("criu_get_image_stats(missing dir, st)", -ENOENT, ANY, 0,                                         \
	  return criu_get_image_stats("/nonexistent", (void *)buf);)                                         \
	C("criu_get_image_stats(1 MiB, st)", -EINVAL, ANY, 0, return criu_get_image_stats(big(), (void *)buf);) \
	C("criu_get_image_stats(garbage stats-dump)", -EINVAL, ANY, 0,                                      \
	  return criu_get_image_stats("garbage-images", (void *)buf);)                                       \
	C("criu_get_image_stats(stats-dump is a FIFO)", -EINVAL, ANY, 0,                                    \
	  return criu_get_image_stats("fifo-images", (void *)buf);)                                        \
	/* migration: waiting for what these options never started, lazy pages without images */         \
	C("criu_local_wait_pid(opts, pid it never started)", -EINVAL, ANY, 0,                               \
	  return criu_local_wait_pid(fresh(), getpid());)                                                   \
	C("criu_local_wait_pid(opts, -1)", -EINVAL, ANY, 0, return criu_local_wait_pid(fresh(), -1);)       \
	C("criu_local_start_lazy_pages(opts) without images dir", -EINVAL, ANY, 0,                          \
	  return criu_local_start_lazy_pages(fresh());)

/* ---- running them ---- */

static int run_body(int wanted)
{
	int i = 0;

#define AS_BODY(name, expect, eno, flags, ...) \
	if (wanted == i++) {                   \
		__VA_ARGS__                    \
	}
	CASES(AS_BODY)
#undef AS_BODY
	return 0;
}

static const struct hcase {
	const char *name;
	int expect, eno, flags;
} cases[] = {
#define AS_ENTRY(name, expect, eno, flags, ...) { name, expect, eno, flags },
	CASES(AS_ENTRY)
#undef AS_ENTRY
};

static void run_case(void *arg, struct outcome *out)
{
	int i = (int)(long)arg;

	errno = 0;
	out->ret = run_body(i);
	out->err = errno;
	snprintf(out->msg, sizeof(out->msg), "%s", criu_get_last_error());
	/* Messages may quote the hostile bytes: keep the report plain text. */
	for (char *p = out->msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f || *p == '|')
			*p = '?';
}

/* Scratch images directories for criu_list_externals(). */
static void make_fixtures(void)
{
	int fd;

	mkdir("garbage-images", 0755);
	fd = open("garbage-images/inventory.img", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0 && write(fd, "\x16\x31\x31\x58\xff\xff\xff\x7fjunk", 12) != 12)
		perror("write");
	close(fd);
	mkdir("fifo-images", 0755);
	mkfifo("fifo-images/inventory.img", 0644);
	fd = open("garbage-images/stats-dump", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0 && write(fd, "\x40\x59\x10\x55\x06\x33\x09\x57\x05\x00\x00\x00\x0a\xff", 14) != 14)
		perror("write");
	close(fd);
	mkfifo("fifo-images/stats-dump", 0644);
}

int main(int argc, char **argv)
{
	FILE *report = NULL;
	unsigned alarm_s = getenv("HOSTILE_ALARM") ? atoi(getenv("HOSTILE_ALARM")) : 3;
	size_t i, j, n = sizeof(cases) / sizeof(cases[0]);
	int valgrind = getenv("LIBCRIU_TEST_VALGRIND") != NULL;

	if (argc == 3 && !strcmp(argv[1], "--report"))
		report = fopen(argv[2], "w");
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(cases[i].name, cases[j].name)) {
				fprintf(stderr, "two cases named %s\n", cases[i].name);
				return 2;
			}
	make_fixtures();

	for (i = 0; i < n; i++) {
		const struct hcase *c = &cases[i];
		char problem[512] = "", detail[400];
		struct outcome o;
		const char *abnormal = isolate(run_case, (void *)(long)i, alarm_s, &o);

		if (abnormal && !strcmp(abnormal, "exit 42"))
			abnormal = "n/a (not in upstream)";
		if (abnormal)
			snprintf(detail, sizeof(detail), "%s", abnormal);
		else
			snprintf(detail, sizeof(detail), "%d, errno %s, '%.150s'", o.ret,
				 o.err ? strerrorname_np(o.err) ? : "?" : "0", o.msg);
		if (report)
			fprintf(report, "%s\t%s\n", c->name, detail);
#ifdef UPSTREAM
		printf("%s: %s\n", c->name, detail);
		continue;
#endif
		if (!abnormal && valgrind && (c->flags & SPAWN) && o.ret == -ECOMM)
			o.ret = c->expect, o.err = c->eno; /* see SPAWN */
		if (abnormal)
			snprintf(problem, sizeof(problem), "%s", abnormal);
		else if (o.ret != c->expect)
			snprintf(problem, sizeof(problem), "returned %d, expected %d", o.ret, c->expect);
		else if (c->eno != ANY && o.err != c->eno)
			snprintf(problem, sizeof(problem), "errno %s, expected %s", strerrorname_np(o.err) ? : "?",
				 strerrorname_np(c->eno));
		else if (((c->expect < 0 && !(c->flags & NOMSG)) || (c->flags & MSG)) && !o.msg[0])
			snprintf(problem, sizeof(problem), "no criu_get_last_error() message");
		verdict(c->name, problem, detail);
	}
	if (report)
		fclose(report);
#ifdef UPSTREAM
	return 0;
#endif
	return summary();
}
