//! The skeleton every exported function shares: no panic crosses into C, no
//! NULL or unknown pointer is dereferenced, C strings become Rust strings or
//! an early error return, and errors leave their message for the calling
//! thread.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use once_cell::sync::Lazy;

use super::criu_opts;
use criu::error::Error;
use criu::options::Options;

/// Every `criu_opts` the library handed out and has not freed. Checking
/// pointers against it turns a stale or foreign pointer into an error
/// instead of a crash.
static LIVE_OPTS: Lazy<Mutex<HashSet<usize>>> = Lazy::new(|| Mutex::new(HashSet::new()));

thread_local! {
    /// The options an operation on this thread has lent to a running
    /// callback: calls made from inside the callback on the same options
    /// reach them through this loan instead of a second `&mut`.
    static LENT: Cell<Option<(usize, *mut Options)>> = const { Cell::new(None) };
    /// The message of the last failure on this thread, NUL-terminated for C.
    static LAST_ERROR: RefCell<std::ffi::CString> = RefCell::new(std::ffi::CString::default());
}

fn registry() -> std::sync::MutexGuard<'static, HashSet<usize>> {
    LIVE_OPTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn register(opts: *mut criu_opts) {
    registry().insert(opts as usize);
}

/// Forget `opts`; false when it was not a live options object.
pub(crate) fn unregister(opts: *mut criu_opts) -> bool {
    registry().remove(&(opts as usize))
}

pub(crate) fn is_lent(opts: *mut criu_opts) -> bool {
    LENT.with(|l| l.get().is_some_and(|(addr, _)| addr == opts as usize))
}

/// Remember `message` as this thread's last error.
pub(crate) fn set_last_error(message: impl Into<String>) {
    let mut bytes = message.into().into_bytes();
    bytes.retain(|b| *b != 0);
    let message = std::ffi::CString::new(bytes).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

/// This thread's last error message, as a pointer valid until the thread
/// records another one.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

pub(crate) fn set_errno(value: i32) {
    // SAFETY: __errno_location() returns this thread's errno, always valid.
    unsafe { *libc::__errno_location() = value };
}

/// Run `body`, turning a panic into `on_panic` (and a message).
pub(crate) fn boundary<R>(on_panic: R, body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(_) => {
            set_last_error("internal error in libcriu (a bug): the call was abandoned");
            on_panic
        }
    }
}

/// Run `body` on the options behind `opts`, or return `on_error` when the
/// pointer is NULL or not a live options object.
pub(crate) fn with_opts<R: Copy>(opts: *mut criu_opts, on_error: R, body: impl FnOnce(&mut Options) -> R) -> R {
    boundary(on_error, || {
        if opts.is_null() {
            set_last_error("options pointer is NULL (call criu_local_init_opts first)");
            return on_error;
        }
        if let Some((_, lent)) = LENT.with(|l| l.get()).filter(|(addr, _)| *addr == opts as usize) {
            // SAFETY: the pointer was made from the `&mut Options` the running
            // operation handed to the callback we are called from, and that
            // loan lasts until the callback returns.
            return body(unsafe { &mut *lent });
        }
        if !registry().contains(&(opts as usize)) {
            set_last_error("options pointer does not come from criu_local_init_opts or was freed");
            return on_error;
        }
        // SAFETY: registered pointers come from Box::into_raw and stay valid
        // until criu_local_free_opts unregisters them.
        body(unsafe { &mut (*opts).options })
    })
}

/// Lend `options` (the options behind `opts`) to a callback for the duration
/// of `call`, so that library calls made by the callback on the same options
/// are served from the loan.
pub(crate) fn lend<R>(opts: usize, options: &mut Options, call: impl FnOnce() -> R) -> R {
    let previous = LENT.with(|l| l.replace(Some((opts, options as *mut Options))));
    struct Restore(Option<(usize, *mut Options)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            LENT.with(|l| l.set(self.0));
        }
    }
    let _restore = Restore(previous);
    call()
}

/// A C string argument as UTF-8, or `None` (with a message) when it is NULL
/// or not valid UTF-8: criu's RPC carries strings as protobuf `string`s.
pub(crate) fn text<'a>(ptr: *const c_char, what: &str) -> Option<&'a str> {
    if ptr.is_null() {
        set_last_error(format!("{what} is NULL"));
        return None;
    }
    // SAFETY: the caller passes a NUL-terminated string, per the C API.
    match unsafe { CStr::from_ptr(ptr) }.to_str() {
        Ok(s) => Some(s),
        Err(_) => {
            set_last_error(format!("{what} is not valid UTF-8"));
            None
        }
    }
}

/// Set a string option: 0, or -EINVAL (with a message naming `what`) for
/// invalid options or NULL/non-UTF-8 text.
pub(crate) fn set_text(
    opts: *mut criu_opts,
    value: *const c_char,
    what: &str,
    set: impl FnOnce(&mut Options, &str),
) -> i32 {
    with_opts(opts, -libc::EINVAL, |o| match text(value, what) {
        Some(v) => {
            set(o, v);
            0
        }
        None => -libc::EINVAL,
    })
}

/// The C value for an operation's result: record the message and errno as
/// upstream does (errno 0 on success).
pub(crate) fn op_result<T>(result: Result<T, Error>, ok: impl FnOnce(T) -> i32) -> i32 {
    match result {
        Ok(value) => {
            set_errno(0);
            ok(value)
        }
        Err(error) => {
            set_last_error(error.to_string());
            let value = error.return_value();
            set_errno(error.errno());
            value
        }
    }
}

/// The value for a setter's result: 0, or `failure` with the message kept.
pub(crate) fn setter_result(result: Result<(), Error>, failure: i32) -> i32 {
    match result {
        Ok(()) => 0,
        Err(error) => {
            set_last_error(error.to_string());
            failure
        }
    }
}
