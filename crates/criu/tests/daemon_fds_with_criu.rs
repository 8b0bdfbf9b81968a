//! The daemons the library starts (a page server through criu, the criu
//! an options object keeps connected and its page server, `criu
//! lazy-pages`) hold none of the caller's descriptors, even those the
//! caller left inheritable: once the caller closes the write end of its
//! pipe, its reader sees end-of-file while the daemons still run.
//!
//! One test function on purpose: the caller's descriptors here are
//! inheritable, so any process another test thread started meanwhile
//! would hold them too.

mod common;

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use common::*;
use criu::{migrate, ops, Options};

/// Descriptors a careless caller left open without close-on-exec: a pipe,
/// and a memfd whose name marks it in /proc/PID/fd.
struct CallerFds {
    read: OwnedFd,
    write: Option<OwnedFd>,
    marker: OwnedFd,
}

const MARKER: &str = "libcriu-rs-caller-marker";

impl CallerFds {
    fn new() -> CallerFds {
        let (read, write) = nix::unistd::pipe().unwrap();
        let name = std::ffi::CString::new(MARKER).unwrap();
        let marker = nix::sys::memfd::memfd_create(&name, nix::sys::memfd::MemFdCreateFlag::empty()).unwrap();
        for fd in [&read, &write, &marker] {
            // SAFETY: F_GETFD on a descriptor we own touches no memory.
            let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
            assert_eq!(flags & libc::FD_CLOEXEC, 0, "the caller's descriptors are inheritable");
        }
        CallerFds { read, write: Some(write), marker }
    }

    /// What /proc/PID/fd shows for each of them.
    fn targets(&self) -> Vec<String> {
        let write = self.write.as_ref().expect("the write end is open");
        [&self.read, write, &self.marker]
            .iter()
            .map(|fd| std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap().display().to_string())
            .collect()
    }

    /// Close the write end and read the pipe without blocking: true when
    /// the reader sees end-of-file, false when some process still holds
    /// the write end (the read would block).
    fn reader_sees_eof(&mut self) -> bool {
        self.write.take();
        // SAFETY: F_GETFL on the read end we own touches no memory.
        let flags = unsafe { libc::fcntl(self.read.as_raw_fd(), libc::F_GETFL) };
        // SAFETY: F_SETFL on the same owned descriptor takes an int only.
        unsafe { libc::fcntl(self.read.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) };
        let mut byte = [0u8; 1];
        match nix::unistd::read(self.read.as_raw_fd(), &mut byte) {
            Ok(0) => true,
            Err(nix::errno::Errno::EAGAIN) => false,
            other => panic!("unexpected read of the caller's pipe: {other:?}"),
        }
    }
}

/// The targets of the descriptors process `pid` holds.
fn fd_targets(pid: i32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|t| t.display().to_string())
        .collect()
}

/// Assert that `pid` (a `what`) holds a descriptor or more, but none of the
/// caller's.
fn holds_none_of(pid: i32, what: &str, caller: &CallerFds) {
    let held = fd_targets(pid);
    assert!(!held.is_empty(), "{what} {pid} holds descriptors of its own");
    for target in caller.targets() {
        assert!(!held.contains(&target), "{what} {pid} holds the caller's {target}: {held:?}");
    }
}

fn gone_or_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
}

fn options_for(images: &File, log: &str) -> Options {
    let mut o = options();
    o.set_images_dir_fd(images.as_raw_fd()).set_log_file(log);
    o
}

#[test]
fn daemons_hold_none_of_the_callers_descriptors() {
    become_subreaper();
    let dir = scratch("daemon-fds");

    // A daemon page server (criu forks it while answering PAGE_SERVER).
    let ps_dir = dir.join("ps");
    std::fs::create_dir_all(&ps_dir).unwrap();
    let images = File::open(&ps_dir).unwrap();
    let mut caller = CallerFds::new();
    let mut o = options_for(&images, "ps.log");
    o.set_page_server_address_port("127.0.0.1", 0);
    let server = migrate::start_page_server(&mut o).expect("PAGE_SERVER");
    assert!(server.pid > 0, "{server:?}");
    register(server.pid as u32);
    holds_none_of(server.pid, "the page server", &caller);
    assert!(caller.reader_sees_eof(), "the page server holds the caller's pipe: the reader sees no end-of-file");
    // A connection without pages ends it.
    drop(std::net::TcpStream::connect(("127.0.0.1", server.port as u16)).expect("the page server listens"));
    wait_until("the page server to exit", || gone_or_zombie(server.pid));

    // A connection the options keep: its criu stays, and so does the page
    // server it started.
    let chld_dir = dir.join("chld");
    std::fs::create_dir_all(&chld_dir).unwrap();
    let images = File::open(&chld_dir).unwrap();
    let mut caller = CallerFds::new();
    let mut o = options_for(&images, "chld.log");
    o.set_page_server_address_port("127.0.0.1", 0);
    let server = o.start_page_server_chld().expect("PAGE_SERVER_CHLD");
    holds_none_of(server.pid, "the kept criu's page server", &caller);
    let kept_criu = std::fs::read_to_string(format!("/proc/{}/stat", server.pid)).unwrap();
    let ppid: i32 = kept_criu.rsplit(") ").next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    holds_none_of(ppid, "the kept criu", &caller);
    assert!(caller.reader_sees_eof(), "the kept criu or its page server holds the caller's pipe");
    drop(o);
    wait_until("the kept criu's page server to be gone", || gone_or_zombie(server.pid));

    // criu lazy-pages, started by the library itself, serving a dump.
    let lazy = ops::feature_check(&mut options(), ops::Features { lazy_pages: true, ..Default::default() }).unwrap();
    if !lazy.lazy_pages {
        eprintln!("lazy-pages part skipped: criu reports no lazy pages here (criu check --feature uffd-noncoop fails)");
        return;
    }
    let lazy_dir = dir.join("lazy");
    std::fs::create_dir_all(&lazy_dir).unwrap();
    let images = File::open(&lazy_dir).unwrap();
    let log = dir.join("counter.log");
    let pid = start_counter(&log);
    wait_until("the counter to start", || lines(&log) >= 2);
    let mut o = options_for(&images, "dump.log");
    o.set_pid(pid as i32);
    ops::dump(&mut o).expect("dump");
    reap(pid);
    let mut caller = CallerFds::new();
    let mut lazy_opts = options_for(&images, "lazy-pages.log");
    let daemon = lazy_opts.start_lazy_pages().expect("lazy-pages daemon ready");
    let held = fd_targets(daemon);
    assert!(
        held.iter().any(|t| Path::new(t) == lazy_dir),
        "the lazy-pages daemon holds the images directory its request names: {held:?}"
    );
    holds_none_of(daemon, "the lazy-pages daemon", &caller);
    assert!(caller.reader_sees_eof(), "the lazy-pages daemon holds the caller's pipe");
    drop(lazy_opts);
}
