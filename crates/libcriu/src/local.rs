//! `criu_local_*`: the C API on an options object the caller owns: the
//! functions that do not fit the options tables' pattern of one value or one
//! string (the plain setters are generated from those tables into
//! generated/setters.rs). Each function here gets its global `criu_*` twin
//! generated into generated/twins.rs, with the same doc comment.
//!
//! Every function checks its options pointer (NULL, never allocated or
//! already freed all give the error value, never a crash) and its string
//! arguments (NULL or non-UTF-8 give -EINVAL: criu's RPC carries strings as
//! protobuf strings, which must be UTF-8). Paths of the service binary and
//! socket are not sent to criu and may be any bytes.

use std::ffi::{c_char, c_int, c_uint, CStr, CString, OsStr};
use std::os::fd::IntoRawFd;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::Ordering;

use super::guard::{self, lend, op_result, set_text, setter_result, text, with_opts};
use super::*;
use criu::error::Error;
use criu::ops::{self, Features};
use criu::options::{CgMode, NetworkLock, Options, PreDumpMode, DEFAULT_SERVICE_ADDRESS, DEFAULT_SERVICE_BINARY};

const EINVAL: c_int = -libc::EINVAL;

/// Run an operation: invalid options give -EINVAL with errno EINVAL.
pub(super) fn run(opts: *mut criu_opts, body: impl FnOnce(&mut Options) -> c_int) -> c_int {
    let result = with_opts(opts, None, |o| Some(body(o)));
    result.unwrap_or_else(|| {
        guard::set_errno(libc::EINVAL);
        EINVAL
    })
}

/// A path as bytes; NULL means `default`.
fn path_or(ptr: *const c_char, default: &str) -> std::path::PathBuf {
    if ptr.is_null() {
        return default.into();
    }
    // SAFETY: a NUL-terminated string, per the C API.
    OsStr::from_bytes(unsafe { CStr::from_ptr(ptr) }.to_bytes()).into()
}

/// Create an options object with criu's defaults, reaching criu by starting
/// `criu` (from PATH) as `criu swrk`. If `*opts` is not NULL it must be an
/// object from an earlier call, and is freed first (as upstream does).
/// Returns 0, or -1 when `opts` is NULL. Free the object with
/// `criu_local_free_opts()`.
#[no_mangle]
pub unsafe extern "C" fn criu_local_init_opts(opts: *mut *mut criu_opts) -> c_int {
    guard::boundary(-1, || {
        if opts.is_null() {
            guard::set_last_error("criu_local_init_opts: the pointer to fill in is NULL");
            return -1;
        }
        // SAFETY: checked non-NULL; points to the caller's pointer variable.
        let slot = unsafe { &mut *opts };
        if !slot.is_null() && guard::is_lent(*slot) {
            guard::set_last_error("cannot re-initialize options from inside one of their callbacks");
            return -1;
        }
        // SAFETY: `*slot` is NULL or an earlier object, which free checks
        // against the registry before touching it.
        unsafe { criu_local_free_opts(*slot) };
        let fresh = Box::into_raw(Box::new(criu_opts { options: Options::new() }));
        guard::register(fresh);
        *slot = fresh;
        0
    })
}

/// Free an options object. NULL, unknown and already freed pointers are ignored.
#[no_mangle]
pub unsafe extern "C" fn criu_local_free_opts(opts: *mut criu_opts) {
    guard::boundary((), || {
        if opts.is_null() || guard::is_lent(opts) || !guard::unregister(opts) {
            return;
        }
        // SAFETY: it was registered, so it came from Box::into_raw in init.
        drop(unsafe { Box::from_raw(opts) });
    })
}

/// Reach criu through the `criu service` socket at `path` (NULL: upstream's
/// default, `./criu_service.socket`). Returns 0, or -EINVAL for bad options.
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_service_address(opts: *mut criu_opts, path: *const c_char) -> c_int {
    with_opts(opts, EINVAL, |o| {
        o.set_service_address(path_or(path, DEFAULT_SERVICE_ADDRESS));
        0
    })
}

/// Reach criu through `fd`, a socket already connected to it. The library
/// closes `fd` after the next request (as upstream does).
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_service_fd(opts: *mut criu_opts, fd: c_int) {
    with_opts(opts, (), |o| {
        o.set_service_fd(fd);
    })
}

/// Start `path` (NULL: `criu`; looked up in PATH when it has no slash) as
/// `<path> swrk <fd>` for each request. Returns 0, or -EINVAL for bad options.
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_service_binary(opts: *mut criu_opts, path: *const c_char) -> c_int {
    with_opts(opts, EINVAL, |o| {
        o.set_service_binary(path_or(path, DEFAULT_SERVICE_BINARY));
        0
    })
}

/// Forget the service setting, going back to starting `criu` from PATH.
/// Exported by upstream (without a declaration in its header).
#[no_mangle]
pub unsafe extern "C" fn criu_free_service(opts: *mut criu_opts) {
    with_opts(opts, (), |o| {
        o.set_service_binary(DEFAULT_SERVICE_BINARY);
    })
}

/// The images directory, as a descriptor of the caller (required for dump
/// and restore).
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_images_dir_fd(opts: *mut criu_opts, fd: c_int) {
    with_opts(opts, (), |o| {
        o.set_images_dir_fd(fd);
    })
}

/// Declare an external unix socket by inode (turning external unix sockets
/// on if they were never set). Returns 0; -1 when external unix sockets were
/// turned off (every inode added so far is then dropped); -EINVAL for bad
/// options.
#[no_mangle]
pub unsafe extern "C" fn criu_local_add_unix_sk(opts: *mut criu_opts, inode: c_uint) -> c_int {
    with_opts(opts, EINVAL, |o| setter_result(o.add_unix_sk(inode).map(|_| ()), -1))
}

/// How criu handles cgroups. A value outside `enum criu_cg_mode` is ignored
/// (with a message for `criu_get_last_error()`).
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_manage_cgroups_mode(opts: *mut criu_opts, mode: criu_cg_mode_arg) {
    with_opts(opts, (), |o| match CgMode::from_raw(mode as i32) {
        Some(m) => {
            o.set_manage_cgroups_mode(m);
        }
        None => guard::set_last_error(format!("{mode} is not a criu_cg_mode")),
    })
}

/// The command criu runs after restore instead of resuming the tree
/// (replaces an earlier one). `argv` holds `argc` strings. Returns 0 or
/// -EINVAL (negative `argc`, NULL `argv` or element, non-UTF-8 text).
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_exec_cmd(opts: *mut criu_opts, argc: c_int, argv: *mut *mut c_char) -> c_int {
    with_opts(opts, EINVAL, |o| {
        let Ok(count) = usize::try_from(argc) else {
            guard::set_last_error("exec_cmd: argc is negative");
            return EINVAL;
        };
        if count > 0 && argv.is_null() {
            guard::set_last_error("exec_cmd: argv is NULL");
            return EINVAL;
        }
        let mut args = Vec::with_capacity(count);
        for i in 0..count {
            // SAFETY: argv holds argc pointers, per the C API.
            match text(unsafe { *argv.add(i) }, "exec_cmd argument") {
                Some(a) => args.push(a),
                None => return EINVAL,
            }
        }
        o.set_exec_cmd(&args);
        0
    })
}

/// Map an external mount (legacy form; prefer `criu_add_external("mnt[key]:val")`).
/// Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_local_add_ext_mount(
    opts: *mut criu_opts,
    key: *const c_char,
    val: *const c_char,
) -> c_int {
    with_opts(opts, EINVAL, |o| match (text(key, "mount key"), text(val, "mount value")) {
        (Some(k), Some(v)) => {
            o.add_ext_mount(k, v);
            0
        }
        _ => EINVAL,
    })
}

/// Map a veth pair (legacy form; prefer `criu_add_external("veth[in]:out")`).
/// Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_local_add_veth_pair(
    opts: *mut criu_opts,
    in_: *const c_char,
    out: *const c_char,
) -> c_int {
    with_opts(opts, EINVAL, |o| match (text(in_, "veth inside name"), text(out, "veth outside name")) {
        (Some(i), Some(x)) => {
            o.add_veth_pair(i, x);
            0
        }
        _ => EINVAL,
    })
}

/// Restore the cgroups of controller `ctrl` (NULL: all) under `path`.
/// Returns 0 or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_local_add_cg_root(
    opts: *mut criu_opts,
    ctrl: *const c_char,
    path: *const c_char,
) -> c_int {
    with_opts(opts, EINVAL, |o| {
        let ctrl = if ctrl.is_null() {
            None
        } else {
            match text(ctrl, "cgroup controller") {
                Some(c) => Some(c),
                None => return EINVAL,
            }
        };
        match text(path, "cgroup root path") {
            Some(p) => {
                o.add_cg_root(ctrl, p);
                0
            }
            None => EINVAL,
        }
    })
}

/// At restore, give the restored tree the caller's descriptor `fd` in place
/// of the resource `key`: `file[mnt_id:inode]` (hex, for files declared
/// external at dump), `pipe:[inode]`, `socket:[inode]` (decimal, as
/// /proc/PID/fd shows them), `tty[rdev:dev]` (hex), or a file's path without
/// its leading slash; `criu_get_inherit_key()` gives the key of an open
/// descriptor. `fd` may be close-on-exec. Only with criu started by the
/// library (the default service binary mode): returns -1 otherwise, as
/// upstream. Returns 0, or -EINVAL for a negative or closed `fd` or a
/// malformed key (upstream accepted both and the restore then ignored them),
/// with the reason in `criu_get_last_error()`.
#[no_mangle]
pub unsafe extern "C" fn criu_local_add_inherit_fd(opts: *mut criu_opts, fd: c_int, key: *const c_char) -> c_int {
    with_opts(opts, EINVAL, |o| match text(key, "inherit fd key") {
        Some(k) => {
            let swrk = matches!(o.service(), criu::options::Service::Binary(_));
            setter_result(o.add_inherit_fd(fd, k).map(|_| ()), if swrk { EINVAL } else { -1 })
        }
        None => EINVAL,
    })
}

/// Declare a resource external to the tree (e.g. `file[mnt_id:inode]` at
/// dump, `tty[rdev:dev]`, `unix[inode]`, `mnt[key]:val`, `veth[in]:out`,
/// `dev[major/minor]:key`); `criu_get_external_id()` gives the id of an
/// open file. Returns 0, or -EINVAL for a malformed id (which criu would
/// silently match to nothing; upstream accepted it) with the reason in
/// `criu_get_last_error()`.
#[no_mangle]
pub unsafe extern "C" fn criu_local_add_external(opts: *mut criu_opts, key: *const c_char) -> c_int {
    with_opts(opts, EINVAL, |o| match text(key, "external key") {
        Some(k) => setter_result(o.add_external(k).map(|_| ()), EINVAL),
        None => EINVAL,
    })
}

/// Save the caller's own file, directory (recursively) or symlink at `path`
/// into the dump and put it back before a restore, so that deleting it in
/// between does not break the restore (an addition: criu has no such
/// option). The files are copied into the images directory while the tree
/// is frozen, holes, hard links, extended attributes and ACLs included. A
/// restore puts back everything the images hold without being told
/// (checksums verified first, each file renamed into place, mode, owner
/// and mtime kept); paths added to a restore's options narrow the put-back
/// to the entries at or below them, and
/// criu_local_set_tmp_file_put_back(opts, false) turns it off. The images
/// directory is trusted as criu trusts it (its restore runs the images'
/// code with their credentials); the put-back still refuses a damaged
/// archive, one above the limit, paths outside the saved directories and
/// symlinks on the way (docs/tmp-files.md). Returns 0,
/// or -EINVAL for a missing path or one that is not a regular file,
/// directory or symlink (the reason in `criu_get_last_error()`).
#[no_mangle]
pub unsafe extern "C" fn criu_local_add_tmp_file(opts: *mut criu_opts, path: *const c_char) -> c_int {
    with_opts(opts, EINVAL, |o| {
        if path.is_null() {
            guard::set_last_error("tmp file path is NULL");
            return EINVAL;
        }
        setter_result(o.add_tmp_file(path_or(path, "")).map(|_| ()), EINVAL)
    })
}

/// The most bytes the tmp files may take in the images (default 64 MiB),
/// counting the bytes stored (a sparse file's data, not its holes): a dump
/// whose tmp files exceed it fails with -EINVAL before criu runs, and a
/// restore refuses a larger archive with -EINVAL before reading it.
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_tmp_file_limit(opts: *mut criu_opts, limit: u64) {
    with_opts(opts, (), |o| {
        o.set_tmp_file_limit(limit);
    })
}

/// Whether a restore puts back the tmp files its images hold (default
/// true); false leaves them in the images, for this restore only when set
/// on its options. An addition (criu has no tmp files).
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_tmp_file_put_back(opts: *mut criu_opts, put_back: bool) {
    with_opts(opts, (), |o| {
        o.set_tmp_file_put_back(put_back);
    })
}

/// Send memory pages to the page server at `address:port`. Returns 0 (upstream
/// returned -ENOMEM even on success) or -EINVAL.
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_page_server_address_port(
    opts: *mut criu_opts,
    address: *const c_char,
    port: c_int,
) -> c_int {
    set_text(opts, address, "page server address", |o, v| {
        o.set_page_server_address_port(v, port);
    })
}

/// How pre-dump reads memory. Returns 0, or -1 for a value outside
/// `enum criu_pre_dump_mode` (as upstream), -EINVAL for bad options.
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_pre_dump_mode(opts: *mut criu_opts, mode: criu_pre_dump_mode_arg) -> c_int {
    with_opts(opts, EINVAL, |o| match PreDumpMode::from_raw(mode as i32) {
        Some(m) => {
            o.set_pre_dump_mode(m);
            0
        }
        None => setter_result(Err(Error::InvalidArgument(format!("{mode} is not a criu_pre_dump_mode"))), -1),
    })
}

/// How the network is locked during dump. Returns 0, or -1 for a value
/// outside `enum criu_network_lock_method` (as upstream), -EINVAL for bad
/// options.
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_network_lock(
    opts: *mut criu_opts,
    method: criu_network_lock_method_arg,
) -> c_int {
    with_opts(opts, EINVAL, |o| match NetworkLock::from_raw(method as i32) {
        Some(m) => {
            o.set_network_lock(m);
            0
        }
        None => setter_result(Err(Error::InvalidArgument(format!("{method} is not a criu_network_lock_method"))), -1),
    })
}

/// Restore into the existing namespace `ns` (e.g. "net", "uts", "ipc")
/// found at `ns_file`, with an optional namespace-specific `extra_opt`.
/// Returns 0, or -1 when `ns` or `ns_file` is NULL or not UTF-8 (as upstream).
#[no_mangle]
pub unsafe extern "C" fn criu_local_join_ns_add(
    opts: *mut criu_opts,
    ns: *const c_char,
    ns_file: *const c_char,
    extra_opt: *const c_char,
) -> c_int {
    with_opts(opts, -1, |o| {
        let extra = if extra_opt.is_null() {
            None
        } else {
            match text(extra_opt, "join_ns extra option") {
                Some(e) => Some(e),
                None => return -1,
            }
        };
        match (text(ns, "join_ns namespace"), text(ns_file, "join_ns namespace file")) {
            (Some(n), Some(f)) => {
                o.join_ns_add(n, f, extra);
                0
            }
            _ => -1,
        }
    })
}

/// Bound how long the library waits for each answer of criu, in
/// milliseconds; 0 (the default) waits as long as criu takes, as upstream
/// does. When the bound passes, the operation returns -ECOMM with errno
/// ETIMEDOUT, and a criu the library started is killed and reaped. (Not
/// criu's freeze timeout: see `criu_set_timeout()`.) An addition to
/// upstream's API.
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_reply_timeout(opts: *mut criu_opts, milliseconds: c_uint) {
    with_opts(opts, (), |o| {
        let bound = (milliseconds > 0).then(|| std::time::Duration::from_millis(milliseconds.into()));
        o.set_reply_timeout(bound);
    })
}

/// Call `cb` at each notification point criu reaches and ask criu for
/// notifications. The callback may call library functions on the same
/// options. NULL removes the callback (notifications stay requested and are
/// acknowledged as successful, as upstream does).
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_notify_cb(opts: *mut criu_opts, cb: criu_notify_cb) {
    let address = opts as usize;
    with_opts(opts, (), |o| match cb {
        Some(cb) => {
            o.set_notify(Box::new(move |note, options| {
                // Only this notification hands a descriptor to the caller;
                // one arriving with any other is closed by the core.
                if note.action() == "orphan-pts-master" {
                    if let Some(fd) = note.take_fd() {
                        ORPHAN_PTS_MASTER_FD.store(fd.into_raw_fd(), Ordering::SeqCst);
                    }
                }
                let action = CString::new(note.action()).unwrap_or_default();
                let mut arg = CriuNotify::new(action.as_ptr() as *mut c_char, note.pid());
                // SAFETY: a C function pointer given by the caller for this purpose.
                lend(address, options, || unsafe { cb(action.as_ptr() as *mut c_char, &mut arg) })
            }));
        }
        None => {
            o.remove_notify().set_notify_scripts(true);
        }
    })
}

/// Ask criu whether checkpoint/restore works on this system. Returns 0 or a
/// negative error value (see the table above `criu_check()`).
#[no_mangle]
pub unsafe extern "C" fn criu_local_check(opts: *mut criu_opts) -> c_int {
    run(opts, |o| op_result(ops::check(o), |_| 0))
}

/// Dump the tree. Returns 0, 1 when returning in a restored self-dumped
/// process, or a negative error value.
#[no_mangle]
pub unsafe extern "C" fn criu_local_dump(opts: *mut criu_opts) -> c_int {
    run(opts, |o| op_result(ops::dump(o), |d| d.restored as c_int))
}

/// Pre-dump the tree's memory once (it keeps running). Returns 0 or a
/// negative error value.
#[no_mangle]
pub unsafe extern "C" fn criu_local_pre_dump(opts: *mut criu_opts) -> c_int {
    run(opts, |o| op_result(ops::pre_dump(o), |_| 0))
}

/// Restore the tree; returns the pid of its root or a negative error value.
#[no_mangle]
pub unsafe extern "C" fn criu_local_restore(opts: *mut criu_opts) -> c_int {
    run(opts, |o| op_result(ops::restore(o), |pid| pid))
}

/// Restore the tree as a child of the caller; returns the pid of its root
/// or a negative error value. Always starts a criu binary (the configured
/// one, or `criu` when a socket or fd service was set).
#[no_mangle]
pub unsafe extern "C" fn criu_local_restore_child(opts: *mut criu_opts) -> c_int {
    run(opts, |o| op_result(ops::restore_child(o), |pid| pid))
}

/// Pre-dump repeatedly, then dump, calling `more` after each pre-dump (see
/// `criu_predump_cb`). `more` may change the options (e.g. the images
/// directory) for the next iteration. Needs a pid set. Returns 0, the
/// negative value `more` returned, or a negative error value; -EINVAL at once
/// when `more` is NULL (upstream waited forever).
#[no_mangle]
pub unsafe extern "C" fn criu_local_dump_iters(opts: *mut criu_opts, more: criu_predump_cb) -> c_int {
    let address = opts as usize;
    run(opts, |o| {
        let Some(more) = more else {
            return op_result::<()>(Err(Error::InvalidArgument("dump_iters: the callback is NULL".into())), |_| 0);
        };
        // SAFETY: a C function pointer given by the caller for this purpose.
        let result = ops::dump_iters(o, |options| lend(address, options, || unsafe { more(std::ptr::null_mut()) }));
        op_result(result, |_| 0)
    })
}

/// The version of the criu binary, as `major * 10000 + minor * 100 +
/// sublevel` (a git build counts as the next minor), or a negative error value.
#[no_mangle]
pub unsafe extern "C" fn criu_local_get_version(opts: *mut criu_opts) -> c_int {
    run(opts, |o| op_result(ops::version(o), |v| v.as_number()))
}

/// 1 if criu is at least `minimum` (in `criu_get_version()` form), 0 if
/// older, or a negative error value.
#[no_mangle]
pub unsafe extern "C" fn criu_local_check_version(opts: *mut criu_opts, minimum: c_int) -> c_int {
    run(opts, |o| op_result(ops::check_version(o, minimum), |ok| ok as c_int))
}

/// Ask criu which of the features set to true in `features` are available;
/// `size` is the size of the caller's structure (at most
/// `sizeof(struct criu_feature_check)`). Returns 0 with `features` filled in,
/// -1 for a NULL `features` or too large `size` (as upstream), or a negative
/// error value.
#[no_mangle]
pub unsafe extern "C" fn criu_local_feature_check(
    opts: *mut criu_opts,
    features: *mut criu_feature_check,
    size: usize,
) -> c_int {
    run(opts, |o| {
        const FULL: usize = std::mem::size_of::<criu_feature_check>();
        if features.is_null() || size > FULL {
            guard::set_last_error("feature_check: features is NULL or size is too large");
            guard::set_errno(0);
            return -1;
        }
        // Read bytes, not bools: the caller's memory may hold any byte value.
        let mut raw = [0u8; FULL];
        // SAFETY: the caller's structure has at least `size` bytes.
        unsafe { std::ptr::copy_nonoverlapping(features as *const u8, raw.as_mut_ptr(), size) };
        let wanted = Features { mem_track: raw[0] != 0, lazy_pages: raw[1] != 0, pidfd_store: raw[2] != 0 };
        op_result(ops::feature_check(o, wanted), |got| {
            let answer = [got.mem_track as u8, got.lazy_pages as u8, got.pidfd_store as u8];
            // SAFETY: as above.
            unsafe { std::ptr::copy_nonoverlapping(answer.as_ptr(), features as *mut u8, size) };
            0
        })
    })
}
