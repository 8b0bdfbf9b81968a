//! Functions beyond upstream libcriu's API: why the last call failed, and
//! the ids criu needs for external files and inherited descriptors.

use std::ffi::{c_char, c_int};
use std::os::unix::ffi::OsStrExt;

use super::guard;
use criu::ids;

/// The message of the last error of the calling thread: why the last failed
/// `criu_*` call on this thread failed, in words (the cause from criu's log
/// when a log file was set, else criu's own message, else the library's).
/// The string is owned by the library and valid until the thread's next call
/// into the library; never NULL (empty when no call failed yet).
#[no_mangle]
pub extern "C" fn criu_get_last_error() -> *const c_char {
    guard::boundary(c"".as_ptr(), guard::last_error_ptr)
}

/// Copy `text` and a NUL into `buf` of `size` bytes: its length, or -ERANGE
/// when it does not fit (or -EINVAL for a NULL `buf`).
fn copy_out(text: &str, buf: *mut c_char, size: usize) -> c_int {
    if buf.is_null() {
        guard::set_last_error("the output buffer is NULL");
        return -libc::EINVAL;
    }
    if text.len() >= size {
        guard::set_last_error(format!("{text:?} needs a buffer of {} bytes", text.len() + 1));
        return -libc::ERANGE;
    }
    // SAFETY: the caller's buffer holds `size` bytes, and text + NUL fits.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf as *mut u8, text.len());
        *buf.add(text.len()) = 0;
    }
    text.len() as c_int
}

fn id_into(found: criu::Result<String>, buf: *mut c_char, size: usize) -> c_int {
    match found {
        Ok(id) => copy_out(&id, buf, size),
        Err(e) => {
            guard::set_last_error(e.to_string());
            e.return_value()
        }
    }
}

/// Write into `buf` (`size` bytes) the id that `criu_add_external()` needs
/// to leave descriptor `fd` of process `pid` out of a dump, e.g.
/// `file[2a:1f3c]` for a regular file (mount id and inode, hex) or
/// `tty[...]` for a terminal. Returns the id's length, -EINVAL when the
/// descriptor cannot be found or has no external id, -ERANGE when `buf` is
/// too small (64 bytes always suffice).
#[no_mangle]
pub unsafe extern "C" fn criu_get_external_id(pid: libc::pid_t, fd: c_int, buf: *mut c_char, size: usize) -> c_int {
    guard::boundary(-libc::EINVAL, || id_into(ids::external_id(pid, fd), buf, size))
}

/// Write into `buf` (`size` bytes) the key under which a restore takes, via
/// `criu_add_inherit_fd()`, a replacement for descriptor `fd` of process
/// `pid` as it is now: `pipe:[inode]`, `socket:[inode]`, `tty[rdev:dev]`,
/// `file[mnt_id:inode]` (for a file that will be declared external) or a
/// path. Returns the key's length, -EINVAL when the descriptor cannot be
/// found, -ERANGE when `buf` is too small (the size needed is in
/// `criu_get_last_error()`; PATH_MAX + 16 always suffices).
#[no_mangle]
pub unsafe extern "C" fn criu_get_inherit_key(pid: libc::pid_t, fd: c_int, buf: *mut c_char, size: usize) -> c_int {
    guard::boundary(-libc::EINVAL, || id_into(ids::inherit_key(pid, fd), buf, size))
}

/// One resource a restore must be handed (see `criu_list_externals()`).
/// The strings are valid only during the callback.
#[repr(C)]
pub struct criu_external {
    /// "file", "pipe", "unix-socket" or "tty".
    pub kind: *const c_char,
    /// The key to pass to `criu_add_inherit_fd()` at restore.
    pub key: *const c_char,
    /// The dumped task that held it, and its descriptor number there.
    pub pid: c_int,
    pub fd: c_int,
    /// What it was, in words (a path, the peer, ...).
    pub description: *const c_char,
}

/// Called once per resource by `criu_list_externals()`; a nonzero return
/// stops the listing, which then returns that value.
pub type criu_external_cb =
    Option<unsafe extern "C" fn(ext: *const criu_external, arg: *mut std::ffi::c_void) -> c_int>;

/// List what a restore from the images in `images_dir` must be handed
/// through `criu_add_inherit_fd()`: files dumped as external, and pipes,
/// unix sockets and terminals whose other end was outside the dumped tree.
/// Calls `cb` once per resource with `arg`. The images are treated as
/// untrusted (sizes are bounded, malformed files are errors). Returns the
/// number of resources, the nonzero value `cb` returned, or -EINVAL (NULL
/// argument, unreadable or malformed images; reason in
/// `criu_get_last_error()`).
#[no_mangle]
pub unsafe extern "C" fn criu_list_externals(
    images_dir: *const c_char,
    cb: criu_external_cb,
    arg: *mut std::ffi::c_void,
) -> c_int {
    guard::boundary(-libc::EINVAL, || {
        let (Some(cb), false) = (cb, images_dir.is_null()) else {
            guard::set_last_error("criu_list_externals: images_dir or cb is NULL");
            return -libc::EINVAL;
        };
        // SAFETY: a NUL-terminated path, per the C API.
        let dir = std::ffi::OsStr::from_bytes(unsafe { std::ffi::CStr::from_ptr(images_dir) }.to_bytes());
        let found = match criu::images::external_resources(std::path::Path::new(dir)) {
            Ok(found) => found,
            Err(e) => {
                guard::set_last_error(e.to_string());
                return e.return_value();
            }
        };
        for resource in &found {
            let text = |s: &str| std::ffi::CString::new(s.replace('\0', "")).unwrap_or_default();
            let (kind, key, description) =
                (text(resource.kind.as_str()), text(&resource.key), text(&resource.description));
            let entry = criu_external {
                kind: kind.as_ptr(),
                key: key.as_ptr(),
                pid: resource.pid as c_int,
                fd: resource.fd as c_int,
                description: description.as_ptr(),
            };
            // SAFETY: a C function pointer given by the caller for this purpose.
            let verdict = unsafe { cb(&entry, arg) };
            if verdict != 0 {
                return verdict;
            }
        }
        found.len().min(c_int::MAX as usize) as c_int
    })
}
