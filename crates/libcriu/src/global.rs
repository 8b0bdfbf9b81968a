//! `criu_*`: the C API on one process-wide options object.
//!
//! Each function is its `criu_local_*` twin applied to the options created
//! by `criu_init_opts()`; the twins are generated (generated/twins.rs), and
//! this file holds the global options, their lock and their life cycle. A lock serializes the calls of all threads; calls
//! made from inside a callback of a running operation (same thread) go
//! through without waiting. Before `criu_init_opts()` (or after
//! `criu_free_opts()`) setters do nothing and the others return their error
//! value: upstream crashed.

use std::cell::Cell;
use std::ffi::c_int;
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
    // SAFETY: `slot` is the global slot, valid and exclusively ours under the lock.
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
        // SAFETY: the slot holds NULL or an object from criu_init_opts(); free
        // checks it against the registry.
        unsafe { local::criu_local_free_opts(*slot) };
        *slot = std::ptr::null_mut();
    })
}
