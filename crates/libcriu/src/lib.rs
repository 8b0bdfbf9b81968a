//! The C API of `libcriu.so.2`: upstream libcriu 4.2.1's functions, types and
//! constants, each a thin translation onto the Rust core.
//!
//! * [`local`]: the `criu_local_*` functions, on an options object the caller owns;
//! * [`global`]: the `criu_*` functions, on one process-wide options object
//!   behind a lock;
//! * [`extras`]: functions beyond upstream's API;
//! * [`migrate`]: page server, lazy pages, WAIT_PID and CPU checks, beyond upstream's API;
//! * [`guard`]: the checks every function starts with;
//! * [`generated`]: what is generated from the core's tables (the plain
//!   setters, every global twin, the enums), kept fresh by tests/generated.rs.
//!
//! include/criu.h is generated from this crate by cbindgen (cbindgen.toml).
#![allow(non_camel_case_types, non_upper_case_globals, clippy::missing_safety_doc)]

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::sync::atomic::{AtomicI32, Ordering};

use criu::options::Options;
pub use generated::enums::*;

pub mod extras;
pub mod generated;
pub mod global;
pub(crate) mod guard;
pub mod images;
pub mod local;
pub mod migrate;

// The levels themselves come from the core's `LogLevel` table (generated/enums.rs).
/// Log levels for `criu_set_log_level()`: nothing set (criu's default).
pub const CRIU_LOG_UNSET: c_int = -1;

/// Major number of the CRIU release whose libcriu API this library provides
/// (`CRIU_VERSION`, defined with the includes above): every function and
/// symbol of that release's libcriu is here, with its behaviour. The library
/// works with any criu binary from 4.0 on (see `criu_get_version()`).
/// `criu.pc` and `criu_lib_version` give the same version; tests/header.rs
/// checks that they all agree.
pub const CRIU_VERSION_MAJOR: c_int = 4;
/// Minor number of `CRIU_VERSION`.
pub const CRIU_VERSION_MINOR: c_int = 2;
/// Sublevel of `CRIU_VERSION`.
pub const CRIU_VERSION_SUBLEVEL: c_int = 1;

// Enum arguments arrive from C as plain integers that may hold any value; Rust
// enums must never hold an invalid one, so functions take these aliases,
// which the header shows under the enum's name.
/// `enum criu_cg_mode` as received from C.
pub type criu_cg_mode_arg = c_uint;
/// `enum criu_network_lock_method` as received from C.
pub type criu_network_lock_method_arg = c_uint;
/// `enum criu_pre_dump_mode` as received from C.
pub type criu_pre_dump_mode_arg = c_uint;

/// An options object of the `criu_local_*` API. Create it with
/// `criu_local_init_opts()`, free it with `criu_local_free_opts()`. One object
/// must not be used from two threads at once; distinct objects may.
pub struct criu_opts {
    pub(crate) options: Options,
}

/// What a notify callback receives about a notification; pass it to
/// `criu_notify_pid()`. It is laid out like protobuf-c's `CriuNotify` (which
/// upstream's header exposes), so callbacks compiled against upstream that
/// read its fields keep working. Valid only during the callback.
#[repr(C)]
pub struct CriuNotify {
    base_descriptor: *const c_void,
    base_n_unknown_fields: c_uint,
    base_unknown_fields: *mut c_void,
    script: *mut c_char,
    has_pid: c_int,
    pid: i32,
}

/// The argument of notify callbacks.
pub type criu_notify_arg_t = *mut CriuNotify;

/// A notify callback: `action` names the point criu reached (`pre-dump`,
/// `post-dump`, `pre-restore`, `post-restore`, `network-lock`,
/// `network-unlock`, `setup-namespaces`, `post-setup-namespaces`,
/// `post-resume`, `orphan-pts-master`, ...). Return 0 to let criu go on;
/// anything else fails the operation, which then returns that value.
pub type criu_notify_cb = Option<unsafe extern "C" fn(action: *mut c_char, na: criu_notify_arg_t) -> c_int>;

/// Opaque argument of `criu_dump_iters()` callbacks (always NULL for now).
pub type criu_predump_info = *mut c_void;

/// A `criu_dump_iters()` callback: positive for one more pre-dump, 0 for the
/// final dump, negative to stop (that value is returned).
pub type criu_predump_cb = Option<unsafe extern "C" fn(pi: criu_predump_info) -> c_int>;

/// Features for `criu_feature_check()`: set the ones to ask about to true;
/// on success each is true when available.
#[repr(C)]
pub struct criu_feature_check {
    pub mem_track: bool,
    pub lazy_pages: bool,
    pub pidfd_store: bool,
}

/// The version of this library, as a string (upstream exports it too).
#[no_mangle]
pub static criu_lib_version: LibVersion = LibVersion(c"4.2.1".as_ptr());

/// A C string pointer that can live in a `static`.
#[repr(transparent)]
pub struct LibVersion(*const c_char);
// SAFETY: it points to an immutable string literal.
unsafe impl Sync for LibVersion {}

/// The master side of an orphan pty, received with the last
/// `orphan-pts-master` notification; owned by the caller once fetched.
pub(crate) static ORPHAN_PTS_MASTER_FD: AtomicI32 = AtomicI32::new(-1);

/// The descriptor criu passed with the last `orphan-pts-master`
/// notification, or -1 if none came. Call it from (or after) the notify
/// callback with that action; the caller owns (and closes) the descriptor.
#[no_mangle]
pub extern "C" fn criu_get_orphan_pts_master_fd() -> c_int {
    ORPHAN_PTS_MASTER_FD.load(Ordering::SeqCst)
}

/// The pid of the tree's root task in a notification, or 0 if criu sent none.
#[no_mangle]
pub unsafe extern "C" fn criu_notify_pid(na: criu_notify_arg_t) -> c_int {
    guard::boundary(0, || {
        // SAFETY: a non-NULL `na` is the argument of a running callback.
        match unsafe { na.as_ref() } {
            Some(n) if n.has_pid != 0 => n.pid,
            _ => 0,
        }
    })
}

impl CriuNotify {
    pub(crate) fn new(script: *mut c_char, pid: Option<i32>) -> CriuNotify {
        CriuNotify {
            base_descriptor: std::ptr::null(),
            base_n_unknown_fields: 0,
            base_unknown_fields: std::ptr::null_mut(),
            script,
            has_pid: pid.is_some() as c_int,
            pid: pid.unwrap_or(0),
        }
    }
}
