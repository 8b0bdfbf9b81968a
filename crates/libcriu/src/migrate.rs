//! Migration calls beyond upstream libcriu's API: start a page server (as a
//! daemon or as criu's child), wait for what criu started, record and check
//! the CPU, lazy pages (`criu_set_lazy_pages()` as proposed in criu PR
//! #3146) and criu's lazy-pages daemon, and the status fd.
//!
//! What these calls start belongs to the options object they are given
//! (the core's `Options` owns it): `criu_local_wait_pid()` reaps it, and
//! `criu_local_free_opts()` ends whatever still runs.

use std::ffi::c_int;

use super::global::with_global;
use super::guard::{self, op_result, with_opts};
use super::local::run;
use super::*;
use criu::migrate::{self, PageServer};

/// Store the port of `server` in `*port` (when not NULL); its pid.
fn report(server: PageServer, port: *mut c_int) -> c_int {
    if !port.is_null() {
        // SAFETY: a non-NULL `port` points to the caller's int, per the C API.
        unsafe { *port = server.port };
    }
    server.pid
}

/// Restore (or dump) with lazy pages: at dump, the memory is not written but
/// served by the dump itself, over the page server port, until the
/// destination has it all; at restore, pages are brought in on demand
/// (from criu's lazy-pages daemon, see `criu_local_start_lazy_pages()`).
/// Named and typed as in criu's proposal (PR #3146); not in upstream
/// libcriu 4.2.1.
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_lazy_pages(opts: *mut criu_opts, lazy_pages: bool) {
    with_opts(opts, (), |o| {
        o.set_lazy_pages(lazy_pages);
    })
}

/// A descriptor of the caller (a pipe's write end) to which criu writes one
/// byte and which it closes once it is ready: a page server or a lazy dump
/// listens, a restore has the tree running. criu logs that the status fd is
/// obsolete and the `status-ready` notification is preferred; both work.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub unsafe extern "C" fn criu_local_set_status_fd(opts: *mut criu_opts, fd: c_int) {
    with_opts(opts, (), |o| {
        o.set_status_fd(fd);
    })
}

/// Start a page server as a daemon (criu's PAGE_SERVER request), listening
/// on the address and port of `criu_local_set_page_server_address_port()`
/// (port 0: one the kernel chooses) and writing what it receives into the
/// images directory; it serves one dump, then exits. Returns its pid (0 if
/// it could not be found: criu does not report it) with the port in `*port`
/// (if `port` is not NULL), or a negative error value.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub unsafe extern "C" fn criu_local_start_page_server(opts: *mut criu_opts, port: *mut c_int) -> c_int {
    run(opts, |o| op_result(migrate::start_page_server(o), |server| report(server, port)))
}

/// Start a page server as a child of a criu that stays connected to this
/// options object (criu's PAGE_SERVER_CHLD request, with `keep_open`), so
/// that `criu_local_wait_pid()` can give its exit status. Returns its pid,
/// with the port in `*port` (if not NULL), or a negative error value.
/// `criu_local_free_opts()` kills it if it was never waited for.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub unsafe extern "C" fn criu_local_start_page_server_chld(opts: *mut criu_opts, port: *mut c_int) -> c_int {
    run(opts, |o| op_result(o.start_page_server_chld(), |server| report(server, port)))
}

/// Wait until `pid` exits: a page server of
/// `criu_local_start_page_server_chld()` on these options (criu's WAIT_PID
/// request; criu then closes the connection) or a lazy-pages daemon of
/// `criu_local_start_lazy_pages()`. Returns its wait status (>= 0: use
/// WIFEXITED() and WEXITSTATUS(); for a process that failed,
/// criu_get_last_error() says how, and for a lazy-pages daemon why, from
/// criu's log), or a negative error value (-EINVAL when these options
/// started no such process).
/// An addition beyond upstream libcriu.
#[no_mangle]
pub unsafe extern "C" fn criu_local_wait_pid(opts: *mut criu_opts, pid: c_int) -> c_int {
    run(opts, |o| {
        op_result(o.wait_pid(pid), |exited| {
            if let Some(failure) = exited.failure {
                guard::set_last_error(failure.to_string());
            }
            exited.status
        })
    })
}

/// Record this CPU's features into the images directory (`cpuinfo.img`;
/// criu's CPUINFO_DUMP request). Returns 0 or a negative error value.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub unsafe extern "C" fn criu_local_cpuinfo_dump(opts: *mut criu_opts) -> c_int {
    run(opts, |o| op_result(migrate::cpuinfo_dump(o), |_| 0))
}

/// Whether the images' tree can run on this CPU (criu's CPUINFO_CHECK
/// request, against the `cpuinfo.img` of `criu_local_cpuinfo_dump()`).
/// Returns 0 when it can; -EBADE (-52) with errno 0 when the CPUs differ,
/// as criu 4.2.1 answers on x86 (criu's log names the difference);
/// -EBADE with errno ENOTSUP where criu has no CPU check for the
/// architecture (arm, aarch64); or another negative error value.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub unsafe extern "C" fn criu_local_cpuinfo_check(opts: *mut criu_opts) -> c_int {
    run(opts, |o| op_result(migrate::cpuinfo_check(o), |_| 0))
}

/// Start criu's lazy-pages daemon (`criu lazy-pages`) for a lazy restore
/// from these options' images directory, as the caller's child, and return
/// once it is ready: its pid, or a negative error value (-EBADE with the
/// reason in criu_get_last_error() when it exited instead). With a page
/// server address and port set, it takes the pages from there (the source's
/// lazy dump). Then restore with `criu_local_set_lazy_pages(opts, true)`;
/// `criu_local_wait_pid()` reaps the daemon once it has served every page,
/// and `criu_local_free_opts()` kills one still running.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub unsafe extern "C" fn criu_local_start_lazy_pages(opts: *mut criu_opts) -> c_int {
    run(opts, |o| op_result(o.start_lazy_pages(), |pid| pid))
}

/// `criu_local_set_lazy_pages()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub extern "C" fn criu_set_lazy_pages(lazy_pages: bool) {
    // SAFETY: the global options pointer (NULL before criu_init_opts()) is
    // checked by the local twin.
    with_global(|opts| unsafe { criu_local_set_lazy_pages(opts, lazy_pages) })
}

/// `criu_local_set_status_fd()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub extern "C" fn criu_set_status_fd(fd: c_int) {
    // SAFETY: the global options pointer (NULL before criu_init_opts()) is
    // checked by the local twin.
    with_global(|opts| unsafe { criu_local_set_status_fd(opts, fd) })
}

/// `criu_local_start_page_server()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub unsafe extern "C" fn criu_start_page_server(port: *mut c_int) -> c_int {
    // SAFETY: the global options pointer (NULL before criu_init_opts()) is
    // checked by the local twin; `port` is passed on under the caller's contract.
    with_global(|opts| unsafe { criu_local_start_page_server(opts, port) })
}

/// `criu_local_start_page_server_chld()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub unsafe extern "C" fn criu_start_page_server_chld(port: *mut c_int) -> c_int {
    // SAFETY: the global options pointer (NULL before criu_init_opts()) is
    // checked by the local twin; `port` is passed on under the caller's contract.
    with_global(|opts| unsafe { criu_local_start_page_server_chld(opts, port) })
}

/// `criu_local_wait_pid()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub extern "C" fn criu_wait_pid(pid: c_int) -> c_int {
    // SAFETY: the global options pointer (NULL before criu_init_opts()) is
    // checked by the local twin.
    with_global(|opts| unsafe { criu_local_wait_pid(opts, pid) })
}

/// `criu_local_cpuinfo_dump()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub extern "C" fn criu_cpuinfo_dump() -> c_int {
    // SAFETY: the global options pointer (NULL before criu_init_opts()) is
    // checked by the local twin.
    with_global(|opts| unsafe { criu_local_cpuinfo_dump(opts) })
}

/// `criu_local_cpuinfo_check()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub extern "C" fn criu_cpuinfo_check() -> c_int {
    // SAFETY: the global options pointer (NULL before criu_init_opts()) is
    // checked by the local twin.
    with_global(|opts| unsafe { criu_local_cpuinfo_check(opts) })
}

/// `criu_local_start_lazy_pages()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub extern "C" fn criu_start_lazy_pages() -> c_int {
    // SAFETY: the global options pointer (NULL before criu_init_opts()) is
    // checked by the local twin.
    with_global(|opts| unsafe { criu_local_start_lazy_pages(opts) })
}
