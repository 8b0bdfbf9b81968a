//! `criu_*`: the C API on one process-wide options object.
//!
//! Each function is its `criu_local_*` twin applied to the options created
//! by `criu_init_opts()`. A lock serializes the calls of all threads; calls
//! made from inside a callback of a running operation (same thread) go
//! through without waiting. Before `criu_init_opts()` (or after
//! `criu_free_opts()`) setters do nothing and the others return their error
//! value: upstream crashed.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_uint};
use std::sync::Mutex;

use super::*;

/// The process-wide options; NULL until `criu_init_opts()`.
struct GlobalOpts(*mut criu_opts);
// SAFETY: the pointer is only used under the lock (or by the thread that
// holds it, from inside a callback).
unsafe impl Send for GlobalOpts {}

static GLOBAL: Mutex<GlobalOpts> = Mutex::new(GlobalOpts(std::ptr::null_mut()));

thread_local! {
    /// Set while this thread holds the lock, so nested calls from callbacks
    /// reuse it instead of deadlocking.
    static HELD: Cell<*mut GlobalOpts> = const { Cell::new(std::ptr::null_mut()) };
}

/// Run `body` on the slot of the global options, under the lock.
fn with_slot<R>(body: impl FnOnce(&mut *mut criu_opts) -> R) -> R {
    let held = HELD.with(|h| h.get());
    if !held.is_null() {
        // SAFETY: this thread holds the lock further up its stack, and that
        // frame does not touch the slot while the nested call runs.
        return body(unsafe { &mut (*held).0 });
    }
    let mut guard = GLOBAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let slot: *mut GlobalOpts = &mut *guard;
    HELD.with(|h| h.set(slot));
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            HELD.with(|h| h.set(std::ptr::null_mut()));
        }
    }
    let _release = Release;
    // SAFETY: `slot` points into the guard, alive until the end of this scope.
    body(unsafe { &mut (*slot).0 })
}

/// Run `body` with the global options pointer (NULL when not initialized;
/// the `criu_local_*` function then reports it).
pub(super) fn with_global<R>(body: impl FnOnce(*mut criu_opts) -> R) -> R {
    with_slot(|slot| {
        let opts = *slot;
        body(opts)
    })
}

/// Set the process-wide options to defaults (freeing earlier ones). Must be
/// called before the other `criu_*` functions. Returns 0, or -1 on failure.
#[no_mangle]
pub extern "C" fn criu_init_opts() -> c_int {
    with_slot(|slot| unsafe { local::criu_local_init_opts(slot) })
}

/// Free the process-wide options.
#[no_mangle]
pub extern "C" fn criu_free_opts() {
    with_slot(|slot| {
        if guard::is_lent(*slot) {
            guard::set_last_error("cannot free the options from inside one of their callbacks");
            return;
        }
        unsafe { local::criu_local_free_opts(*slot) };
        *slot = std::ptr::null_mut();
    })
}

/// Reach criu through the `criu service` socket at `path` (NULL: upstream's
/// default, `./criu_service.socket`). Returns 0, or -EINVAL for bad options.
#[no_mangle]
pub unsafe extern "C" fn criu_set_service_address(path: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_set_service_address(opts, path) })
}

/// Reach criu through `fd`, a socket already connected to it. The library
/// closes `fd` after the next request (as upstream does).
#[no_mangle]
pub unsafe extern "C" fn criu_set_service_fd(fd: c_int) {
    with_global(|opts| unsafe { local::criu_local_set_service_fd(opts, fd) })
}

/// Start `path` (NULL: `criu`; looked up in PATH when it has no slash) as
/// `<path> swrk <fd>` for each request. Returns 0, or -EINVAL for bad options.
#[no_mangle]
pub unsafe extern "C" fn criu_set_service_binary(path: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_set_service_binary(opts, path) })
}

/// The pid of the tree to dump; without it, a dump dumps the caller itself.
#[no_mangle]
pub unsafe extern "C" fn criu_set_pid(pid: c_int) {
    with_global(|opts| unsafe { local::criu_local_set_pid(opts, pid) })
}

/// The images directory, as a descriptor of the caller (required for dump
/// and restore).
#[no_mangle]
pub unsafe extern "C" fn criu_set_images_dir_fd(fd: c_int) {
    with_global(|opts| unsafe { local::criu_local_set_images_dir_fd(opts, fd) })
}

/// The parent images (of a previous pre-dump), relative to the images
/// directory. Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_set_parent_images(path: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_set_parent_images(opts, path) })
}

/// The work directory (log and other files), as a descriptor of the caller.
#[no_mangle]
pub unsafe extern "C" fn criu_set_work_dir_fd(fd: c_int) {
    with_global(|opts| unsafe { local::criu_local_set_work_dir_fd(opts, fd) })
}

/// Keep the tree running after a dump.
#[no_mangle]
pub unsafe extern "C" fn criu_set_leave_running(leave_running: bool) {
    with_global(|opts| unsafe { local::criu_local_set_leave_running(opts, leave_running) })
}

/// Allow external unix sockets.
#[no_mangle]
pub unsafe extern "C" fn criu_set_ext_unix_sk(ext_unix_sk: bool) {
    with_global(|opts| unsafe { local::criu_local_set_ext_unix_sk(opts, ext_unix_sk) })
}

/// Declare an external unix socket by inode (turning external unix sockets
/// on if they were never set). Returns 0; -1 when external unix sockets were
/// turned off (every inode added so far is then dropped); -EINVAL for bad
/// options.
#[no_mangle]
pub unsafe extern "C" fn criu_add_unix_sk(inode: c_uint) -> c_int {
    with_global(|opts| unsafe { local::criu_local_add_unix_sk(opts, inode) })
}

/// Checkpoint established TCP connections.
#[no_mangle]
pub unsafe extern "C" fn criu_set_tcp_established(tcp_established: bool) {
    with_global(|opts| unsafe { local::criu_local_set_tcp_established(opts, tcp_established) })
}

/// Skip TCP connections that are still being set up.
#[no_mangle]
pub unsafe extern "C" fn criu_set_tcp_skip_in_flight(tcp_skip_in_flight: bool) {
    with_global(|opts| unsafe { local::criu_local_set_tcp_skip_in_flight(opts, tcp_skip_in_flight) })
}

/// Close established TCP connections on restore.
#[no_mangle]
pub unsafe extern "C" fn criu_set_tcp_close(tcp_close: bool) {
    with_global(|opts| unsafe { local::criu_local_set_tcp_close(opts, tcp_close) })
}

/// Tolerate sysctls that are missing on restore.
#[no_mangle]
pub unsafe extern "C" fn criu_set_weak_sysctls(val: bool) {
    with_global(|opts| unsafe { local::criu_local_set_weak_sysctls(opts, val) })
}

/// Dump device files criu cannot find by path.
#[no_mangle]
pub unsafe extern "C" fn criu_set_evasive_devices(evasive_devices: bool) {
    with_global(|opts| unsafe { local::criu_local_set_evasive_devices(opts, evasive_devices) })
}

/// The tree is a shell job: its session and terminal come from outside.
#[no_mangle]
pub unsafe extern "C" fn criu_set_shell_job(shell_job: bool) {
    with_global(|opts| unsafe { local::criu_local_set_shell_job(opts, shell_job) })
}

/// Do not check the rwx permissions of files on restore.
#[no_mangle]
pub unsafe extern "C" fn criu_set_skip_file_rwx_check(skip_file_rwx_check: bool) {
    with_global(|opts| unsafe { local::criu_local_set_skip_file_rwx_check(opts, skip_file_rwx_check) })
}

/// Run criu without root (with CAP_CHECKPOINT_RESTORE). Upstream exports this
/// function but its header does not declare it.
#[no_mangle]
pub unsafe extern "C" fn criu_set_unprivileged(unprivileged: bool) {
    with_global(|opts| unsafe { local::criu_local_set_unprivileged(opts, unprivileged) })
}

/// Pass the master side of orphan ptys to the notify callback
/// (see `criu_get_orphan_pts_master_fd()`).
#[no_mangle]
pub unsafe extern "C" fn criu_set_orphan_pts_master(orphan_pts_master: bool) {
    with_global(|opts| unsafe { local::criu_local_set_orphan_pts_master(opts, orphan_pts_master) })
}

/// Dump and restore file locks.
#[no_mangle]
pub unsafe extern "C" fn criu_set_file_locks(file_locks: bool) {
    with_global(|opts| unsafe { local::criu_local_set_file_locks(opts, file_locks) })
}

/// Track memory changes for incremental dumps (needs soft-dirty support).
#[no_mangle]
pub unsafe extern "C" fn criu_set_track_mem(track_mem: bool) {
    with_global(|opts| unsafe { local::criu_local_set_track_mem(opts, track_mem) })
}

/// Deduplicate pages against the parent images.
#[no_mangle]
pub unsafe extern "C" fn criu_set_auto_dedup(auto_dedup: bool) {
    with_global(|opts| unsafe { local::criu_local_set_auto_dedup(opts, auto_dedup) })
}

/// Force resolving the paths of inotify/fanotify watches.
#[no_mangle]
pub unsafe extern "C" fn criu_set_force_irmap(force_irmap: bool) {
    with_global(|opts| unsafe { local::criu_local_set_force_irmap(opts, force_irmap) })
}

/// Allow criu to link deleted-but-open files back for the dump.
#[no_mangle]
pub unsafe extern "C" fn criu_set_link_remap(link_remap: bool) {
    with_global(|opts| unsafe { local::criu_local_set_link_remap(opts, link_remap) })
}

/// criu's log level, `CRIU_LOG_MSG` to `CRIU_LOG_DEBUG`.
#[no_mangle]
pub unsafe extern "C" fn criu_set_log_level(log_level: c_int) {
    with_global(|opts| unsafe { local::criu_local_set_log_level(opts, log_level) })
}

/// criu's log file name, inside the work directory (no slashes). Returns 0
/// or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_set_log_file(log_file: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_set_log_file(opts, log_file) })
}

/// The CPU capabilities to check on restore (a bit mask).
#[no_mangle]
pub unsafe extern "C" fn criu_set_cpu_cap(cap: c_uint) {
    with_global(|opts| unsafe { local::criu_local_set_cpu_cap(opts, cap) })
}

/// The root directory to restore into. Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_set_root(root: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_set_root(opts, root) })
}

/// Dump and restore cgroups (the legacy switch).
#[no_mangle]
pub unsafe extern "C" fn criu_set_manage_cgroups(manage: bool) {
    with_global(|opts| unsafe { local::criu_local_set_manage_cgroups(opts, manage) })
}

/// How criu handles cgroups. A value outside `enum criu_cg_mode` is ignored
/// (with a message for `criu_get_last_error()`).
#[no_mangle]
pub unsafe extern "C" fn criu_set_manage_cgroups_mode(mode: criu_cg_mode_arg) {
    with_global(|opts| unsafe { local::criu_local_set_manage_cgroups_mode(opts, mode) })
}

/// The freezer cgroup criu uses to freeze the tree. Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_set_freeze_cgroup(name: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_set_freeze_cgroup(opts, name) })
}

/// The LSM profile restored tasks get. Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_set_lsm_profile(name: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_set_lsm_profile(opts, name) })
}

/// The LSM mount context of restored mounts. Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_set_lsm_mount_context(name: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_set_lsm_mount_context(opts, name) })
}

/// How many seconds criu may take to freeze the tree (sent to criu, unlike
/// upstream, whose value never reached it).
#[no_mangle]
pub unsafe extern "C" fn criu_set_timeout(timeout: c_uint) {
    with_global(|opts| unsafe { local::criu_local_set_timeout(opts, timeout) })
}

/// Detect external mounts automatically.
#[no_mangle]
pub unsafe extern "C" fn criu_set_auto_ext_mnt(val: bool) {
    with_global(|opts| unsafe { local::criu_local_set_auto_ext_mnt(opts, val) })
}

/// Allow external mounts with shared propagation.
#[no_mangle]
pub unsafe extern "C" fn criu_set_ext_sharing(val: bool) {
    with_global(|opts| unsafe { local::criu_local_set_ext_sharing(opts, val) })
}

/// Allow external mounts with master (slave) propagation.
#[no_mangle]
pub unsafe extern "C" fn criu_set_ext_masters(val: bool) {
    with_global(|opts| unsafe { local::criu_local_set_ext_masters(opts, val) })
}

/// The command criu runs after restore instead of resuming the tree
/// (replaces an earlier one). `argv` holds `argc` strings. Returns 0 or
/// -EINVAL (negative `argc`, NULL `argv` or element, non-UTF-8 text).
#[no_mangle]
pub unsafe extern "C" fn criu_set_exec_cmd(argc: c_int, argv: *mut *mut c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_set_exec_cmd(opts, argc, argv) })
}

/// Map an external mount (legacy form; prefer `criu_add_external("mnt[key]:val")`).
/// Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_add_ext_mount(key: *const c_char, val: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_add_ext_mount(opts, key, val) })
}

/// Map a veth pair (legacy form; prefer `criu_add_external("veth[in]:out")`).
/// Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_add_veth_pair(in_: *const c_char, out: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_add_veth_pair(opts, in_, out) })
}

/// Restore the cgroups of controller `ctrl` (NULL: all) under `path`.
/// Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_add_cg_root(ctrl: *const c_char, path: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_add_cg_root(opts, ctrl, path) })
}

/// Allow mounting filesystem type `fs` on restore. Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_add_enable_fs(fs: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_add_enable_fs(opts, fs) })
}

/// Do not dump the mount at `mnt`. Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_add_skip_mnt(mnt: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_add_skip_mnt(opts, mnt) })
}

/// The largest deleted-but-open file criu copies into the images, in bytes
/// (criu's default: 1 MiB).
#[no_mangle]
pub unsafe extern "C" fn criu_set_ghost_limit(limit: c_uint) {
    with_global(|opts| unsafe { local::criu_local_set_ghost_limit(opts, limit) })
}

/// A path to scan when resolving inotify/fanotify watches. Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_add_irmap_path(path: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_add_irmap_path(opts, path) })
}

/// Cgroup properties as a YAML stream (replaces an earlier one). Returns 0
/// or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_add_cg_props(stream: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_add_cg_props(opts, stream) })
}

/// A file of cgroup properties (replaces an earlier one). Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_add_cg_props_file(path: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_add_cg_props_file(opts, path) })
}

/// Dump cgroup controller `name`. Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_add_cg_dump_controller(name: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_add_cg_dump_controller(opts, name) })
}

/// Where criu mounts its cgroup yard (replaces an earlier one). Returns 0 or
/// -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_add_cg_yard(path: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_add_cg_yard(opts, path) })
}

/// At restore, give the restored tree the caller's descriptor `fd` in place
/// of the resource `key` (e.g. `file[mnt_id:inode]`, `pipe:[inode]`,
/// `socket:[inode]`, `tty[rdev:dev]`). Only with criu started by the library
/// (the default service binary mode): returns -1 otherwise. Returns 0, or
/// -EINVAL for bad options or key.
#[no_mangle]
pub unsafe extern "C" fn criu_add_inherit_fd(fd: c_int, key: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_add_inherit_fd(opts, fd, key) })
}

/// Declare a resource external to the tree (e.g. `file[mnt_id:inode]` at
/// dump, `mnt[key]:val`, `veth[in]:out`, `dev[major/minor]:key`). Returns 0 or
/// -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_add_external(key: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_add_external(opts, key) })
}

/// Save the caller's own file, directory (recursively) or symlink at `path`
/// into the dump and put it back before a restore, so that deleting it in
/// between does not break the restore (an addition: criu has no such
/// option). The files are copied into the images directory while the tree
/// is frozen (holes, hard links, extended attributes and ACLs kept); a
/// restore puts back everything the images hold without being told, and
/// paths added to its options narrow that (see criu_local_add_tmp_file()
/// for the checks and the trust model). Returns 0,
/// or -EINVAL for a missing path or one that is not a regular file,
/// directory or symlink (the reason in `criu_get_last_error()`).
#[no_mangle]
pub unsafe extern "C" fn criu_add_tmp_file(path: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_add_tmp_file(opts, path) })
}

/// The most bytes the tmp files may take in the images (default 64 MiB),
/// counting the bytes stored: a dump whose tmp files exceed it fails with
/// -EINVAL before criu runs, and so does a restore of a larger archive.
#[no_mangle]
pub unsafe extern "C" fn criu_set_tmp_file_limit(limit: u64) {
    with_global(|opts| unsafe { local::criu_local_set_tmp_file_limit(opts, limit) })
}

/// Whether a restore puts back the tmp files its images hold (default
/// true); see criu_local_set_tmp_file_put_back().
#[no_mangle]
pub unsafe extern "C" fn criu_set_tmp_file_put_back(put_back: bool) {
    with_global(|opts| unsafe { local::criu_local_set_tmp_file_put_back(opts, put_back) })
}

/// Send memory pages to the page server at `address:port`. Returns 0 (upstream
/// returned -ENOMEM even on success) or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_set_page_server_address_port(address: *const c_char, port: c_int) -> c_int {
    with_global(|opts| unsafe { local::criu_local_set_page_server_address_port(opts, address, port) })
}

/// How pre-dump reads memory. Returns 0, or -1 for a value outside
/// `enum criu_pre_dump_mode` (as upstream), -EINVAL for bad options.
#[no_mangle]
pub unsafe extern "C" fn criu_set_pre_dump_mode(mode: criu_pre_dump_mode_arg) -> c_int {
    with_global(|opts| unsafe { local::criu_local_set_pre_dump_mode(opts, mode) })
}

/// A unix socket of the caller that keeps pidfds between pre-dumps.
#[no_mangle]
pub unsafe extern "C" fn criu_set_pidfd_store_sk(sk: c_int) {
    with_global(|opts| unsafe { local::criu_local_set_pidfd_store_sk(opts, sk) })
}

/// How the network is locked during dump. Returns 0, or -1 for a value
/// outside `enum criu_network_lock_method` (as upstream), -EINVAL for bad
/// options.
#[no_mangle]
pub unsafe extern "C" fn criu_set_network_lock(method: criu_network_lock_method_arg) -> c_int {
    with_global(|opts| unsafe { local::criu_local_set_network_lock(opts, method) })
}

/// Restore into the existing namespace `ns` (e.g. "net", "uts", "ipc")
/// found at `ns_file`, with an optional namespace-specific `extra_opt`.
/// Returns 0, or -1 when `ns` or `ns_file` is NULL or not UTF-8 (as upstream).
#[no_mangle]
pub unsafe extern "C" fn criu_join_ns_add(
    ns: *const c_char,
    ns_file: *const c_char,
    extra_opt: *const c_char,
) -> c_int {
    with_global(|opts| unsafe { local::criu_local_join_ns_add(opts, ns, ns_file, extra_opt) })
}

/// Use criu's compatibility engine for mount namespaces.
#[no_mangle]
pub unsafe extern "C" fn criu_set_mntns_compat_mode(val: bool) {
    with_global(|opts| unsafe { local::criu_local_set_mntns_compat_mode(opts, val) })
}

/// Restore these namespaces (CLONE_NEW* flags) empty.
#[no_mangle]
pub unsafe extern "C" fn criu_set_empty_ns(namespaces: c_int) {
    with_global(|opts| unsafe { local::criu_local_set_empty_ns(opts, namespaces) })
}

/// A criu configuration file for the requests of the global options (see
/// `criu_local_set_config_file()`). Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_set_config_file(path: *const c_char) -> c_int {
    with_global(|opts| unsafe { local::criu_local_set_config_file(opts, path) })
}

/// Bound how long the library waits for each answer of criu, in
/// milliseconds; 0 (the default) waits as long as criu takes, as upstream
/// does. When the bound passes, the operation returns -ECOMM with errno
/// ETIMEDOUT, and a criu the library started is killed and reaped. (Not
/// criu's freeze timeout: see `criu_set_timeout()`.) An addition to
/// upstream's API.
#[no_mangle]
pub unsafe extern "C" fn criu_set_reply_timeout(milliseconds: c_uint) {
    with_global(|opts| unsafe { local::criu_local_set_reply_timeout(opts, milliseconds) })
}

/// Call `cb` at each notification point criu reaches and ask criu for
/// notifications. The callback may call library functions on the same
/// options. NULL removes the callback (notifications stay requested and are
/// acknowledged as successful, as upstream does).
#[no_mangle]
pub unsafe extern "C" fn criu_set_notify_cb(cb: criu_notify_cb) {
    with_global(|opts| unsafe { local::criu_local_set_notify_cb(opts, cb) })
}

/// Ask criu whether checkpoint/restore works on this system. Returns 0 or a
/// negative error value (see the table above `criu_check()`).
#[no_mangle]
pub unsafe extern "C" fn criu_check() -> c_int {
    with_global(|opts| unsafe { local::criu_local_check(opts) })
}

/// Dump the tree. Returns 0, 1 when returning in a restored self-dumped
/// process, or a negative error value.
#[no_mangle]
pub unsafe extern "C" fn criu_dump() -> c_int {
    with_global(|opts| unsafe { local::criu_local_dump(opts) })
}

/// Pre-dump the tree's memory once (it keeps running). Returns 0 or a
/// negative error value.
#[no_mangle]
pub unsafe extern "C" fn criu_pre_dump() -> c_int {
    with_global(|opts| unsafe { local::criu_local_pre_dump(opts) })
}

/// Restore the tree; returns the pid of its root or a negative error value.
#[no_mangle]
pub unsafe extern "C" fn criu_restore() -> c_int {
    with_global(|opts| unsafe { local::criu_local_restore(opts) })
}

/// Restore the tree as a child of the caller; returns the pid of its root
/// or a negative error value. Always starts a criu binary (the configured
/// one, or `criu` when a socket or fd service was set).
#[no_mangle]
pub unsafe extern "C" fn criu_restore_child() -> c_int {
    with_global(|opts| unsafe { local::criu_local_restore_child(opts) })
}

/// Pre-dump repeatedly, then dump, calling `more` after each pre-dump (see
/// `criu_predump_cb`). `more` may change the options (e.g. the images
/// directory) for the next iteration. Needs a pid set. Returns 0, the
/// negative value `more` returned, or a negative error value; -EINVAL at once
/// when `more` is NULL (upstream waited forever).
#[no_mangle]
pub unsafe extern "C" fn criu_dump_iters(more: criu_predump_cb) -> c_int {
    with_global(|opts| unsafe { local::criu_local_dump_iters(opts, more) })
}

/// The version of the criu binary, as `major * 10000 + minor * 100 +
/// sublevel` (a git build counts as the next minor), or a negative error value.
#[no_mangle]
pub unsafe extern "C" fn criu_get_version() -> c_int {
    with_global(|opts| unsafe { local::criu_local_get_version(opts) })
}

/// 1 if criu is at least `minimum` (in `criu_get_version()` form), 0 if
/// older, or a negative error value.
#[no_mangle]
pub unsafe extern "C" fn criu_check_version(minimum: c_int) -> c_int {
    with_global(|opts| unsafe { local::criu_local_check_version(opts, minimum) })
}

/// Ask criu which of the features set to true in `features` are available;
/// `size` is the size of the caller's structure (at most
/// `sizeof(struct criu_feature_check)`). Returns 0 with `features` filled in,
/// -1 for a NULL `features` or too large `size` (as upstream), or a negative
/// error value.
#[no_mangle]
pub unsafe extern "C" fn criu_feature_check(features: *mut criu_feature_check, size: usize) -> c_int {
    with_global(|opts| unsafe { local::criu_local_feature_check(opts, features, size) })
}
