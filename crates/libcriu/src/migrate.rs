//! Migration calls beyond upstream libcriu's API: start a page server (as a
//! daemon or as criu's child), wait for what criu started, record and check
//! the CPU, lazy pages (`criu_set_lazy_pages()` as proposed in criu PR
//! #3146) and criu's lazy-pages daemon, and the status fd.
//!
//! An options object keeps, besides its options, the connection its
//! `criu_local_start_page_server_chld()` left open (so that
//! `criu_local_wait_pid()` reaches the criu whose child the page server is)
//! and the lazy-pages daemons it started; `criu_local_free_opts()` ends them.

use std::collections::HashMap;
use std::ffi::c_int;
use std::sync::{Mutex, MutexGuard};

use super::global::with_global;
use super::guard::{self, op_result, with_opts};
use super::local::run;
use super::*;
use criu::migrate::{self, LazyPages, PageServer, Session};

/// What an options object started and still owns, by its address.
#[derive(Default)]
struct Started {
    session: Session,
    lazy_pages: Vec<LazyPages>,
}

static STARTED: Mutex<Option<HashMap<usize, Started>>> = Mutex::new(None);

fn started() -> MutexGuard<'static, Option<HashMap<usize, Started>>> {
    STARTED.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Run `body` on what `opts` started. The entry is taken out of the table
/// for the call, so a long wait holds no lock.
fn with_started<R>(opts: *mut criu_opts, body: impl FnOnce(&mut Started) -> R) -> R {
    let key = opts as usize;
    let mut entry = started().get_or_insert_with(HashMap::new).remove(&key).unwrap_or_default();
    let result = body(&mut entry);
    let mut table = started();
    let table = table.get_or_insert_with(HashMap::new);
    // The options may have been freed meanwhile (by another thread): then
    // what they started ends here.
    if guard::is_registered(opts) {
        table.insert(key, entry);
    }
    result
}

/// End what the options object `opts` started (it is being freed): page
/// servers never waited for are killed, lazy-pages daemons killed and reaped.
pub(crate) fn forget(opts: *mut criu_opts) {
    let entry = started().as_mut().and_then(|t| t.remove(&(opts as usize)));
    drop(entry);
}

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
    run(opts, |o| with_started(opts, |s| op_result(s.session.page_server_chld(o), |server| report(server, port))))
}

/// Wait until `pid` exits: a page server of
/// `criu_local_start_page_server_chld()` on these options (criu's WAIT_PID
/// request; criu then closes the connection) or a lazy-pages daemon of
/// `criu_local_start_lazy_pages()`. Returns its wait status (>= 0: use
/// WIFEXITED() and WEXITSTATUS(); for a lazy-pages daemon that failed,
/// criu_get_last_error() says why), or a negative error value (-EINVAL when
/// these options started no such process).
/// An addition beyond upstream libcriu.
#[no_mangle]
pub unsafe extern "C" fn criu_local_wait_pid(opts: *mut criu_opts, pid: c_int) -> c_int {
    run(opts, |_| {
        with_started(opts, |s| {
            if let Some(at) = s.lazy_pages.iter().position(|d| d.pid() == pid) {
                let mut daemon = s.lazy_pages.remove(at);
                let verdict = daemon.wait();
                return match (daemon.exit_status(), verdict) {
                    (Some(status), Ok(())) => op_result(Ok(status), |s| s),
                    (Some(status), Err(e)) => {
                        guard::set_last_error(e.to_string());
                        status
                    }
                    (None, result) => op_result(result, |_| 0),
                };
            }
            op_result(s.session.wait_pid(pid), |status| status)
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
    run(opts, |o| {
        let result = migrate::start_lazy_pages(o);
        with_started(opts, |s| {
            op_result(result, |daemon| {
                let pid = daemon.pid();
                s.lazy_pages.push(daemon);
                pid
            })
        })
    })
}

/// `criu_local_set_lazy_pages()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub extern "C" fn criu_set_lazy_pages(lazy_pages: bool) {
    with_global(|opts| unsafe { criu_local_set_lazy_pages(opts, lazy_pages) })
}

/// `criu_local_set_status_fd()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub extern "C" fn criu_set_status_fd(fd: c_int) {
    with_global(|opts| unsafe { criu_local_set_status_fd(opts, fd) })
}

/// `criu_local_start_page_server()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub unsafe extern "C" fn criu_start_page_server(port: *mut c_int) -> c_int {
    with_global(|opts| unsafe { criu_local_start_page_server(opts, port) })
}

/// `criu_local_start_page_server_chld()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub unsafe extern "C" fn criu_start_page_server_chld(port: *mut c_int) -> c_int {
    with_global(|opts| unsafe { criu_local_start_page_server_chld(opts, port) })
}

/// `criu_local_wait_pid()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub extern "C" fn criu_wait_pid(pid: c_int) -> c_int {
    with_global(|opts| unsafe { criu_local_wait_pid(opts, pid) })
}

/// `criu_local_cpuinfo_dump()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub extern "C" fn criu_cpuinfo_dump() -> c_int {
    with_global(|opts| unsafe { criu_local_cpuinfo_dump(opts) })
}

/// `criu_local_cpuinfo_check()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub extern "C" fn criu_cpuinfo_check() -> c_int {
    with_global(|opts| unsafe { criu_local_cpuinfo_check(opts) })
}

/// `criu_local_start_lazy_pages()` on the process-wide options.
/// An addition beyond upstream libcriu.
#[no_mangle]
pub extern "C" fn criu_start_lazy_pages() -> c_int {
    with_global(|opts| unsafe { criu_local_start_lazy_pages(opts) })
}
