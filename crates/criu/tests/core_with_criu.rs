//! The Rust core against the real criu: `make test-rust` sets CRIU_BIN to
//! the criu under test (default: `criu` from PATH).

mod common;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};

use common::*;
use criu::{ops, Error, Options};

#[test]
fn version_comes_from_the_binary() {
    let v = ops::version(&mut options()).expect("criu answers VERSION");
    assert!(v.major >= 4, "criu {v:?} is older than 4.0");
    assert!(ops::check_version(&mut options(), 30000).unwrap());
    assert!(!ops::check_version(&mut options(), 990000).unwrap());
}

#[test]
fn check_succeeds_where_upstream_crashed_criu() {
    ops::check(&mut options()).expect("criu check through RPC succeeds");
}

#[test]
fn missing_binary_is_a_connect_error() {
    let mut o = Options::new();
    o.set_service_binary("/nonexistent/criu");
    let err = ops::version(&mut o).unwrap_err();
    assert!(matches!(err, Error::Connect { errno: libc::ENOENT, .. }), "{err:?}");
    assert_eq!(err.return_value(), -libc::ECONNREFUSED);
}

#[test]
fn dumping_a_missing_process_reports_criu_errno() {
    let dir = scratch("missing");
    let images = File::open(&dir).unwrap();
    let mut o = options();
    // pid_max is never a live pid when the pid allocator has not wrapped.
    let pid_max: i32 = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
    o.set_images_dir_fd(images.as_raw_fd()).set_pid(pid_max);
    let err = ops::dump(&mut o).unwrap_err();
    match &err {
        Error::Rpc { cr_errno, .. } => assert_eq!(*cr_errno, Some(libc::ESRCH), "{err}"),
        other => panic!("expected an RPC failure, got {other:?}"),
    }
    assert_eq!((err.return_value(), err.errno()), (-libc::EBADE, libc::ESRCH));
}

#[test]
fn dump_and_restore_a_running_process() {
    become_subreaper();
    let dir = scratch("dump-restore");
    let log = dir.join("counter.log");
    let images_path = dir.join("images");
    std::fs::create_dir(&images_path).unwrap();
    let pid = start_counter(&log);
    wait_until("the counter to start", || lines(&log) >= 3);

    let images = File::open(&images_path).unwrap();
    let notes = Arc::new(Mutex::new(Vec::new()));
    let seen = notes.clone();
    let mut o = options();
    o.set_images_dir_fd(images.as_raw_fd()).set_pid(pid as i32).set_log_file("dump.log");
    o.set_notify(Box::new(move |n, _| {
        seen.lock().unwrap().push((n.action().to_owned(), n.pid()));
        0
    }));
    let outcome = ops::dump(&mut o).expect("dump succeeds");
    assert!(!outcome.restored);
    reap(pid);
    let dumped = notes.lock().unwrap().clone();
    assert!(dumped.iter().any(|(a, _)| a == "post-dump"), "{dumped:?}");
    let before = lines(&log);

    let mut r = options();
    r.set_images_dir_fd(images.as_raw_fd()).set_log_file("restore.log");
    let seen = notes.clone();
    r.set_notify(Box::new(move |n, _| {
        seen.lock().unwrap().push((n.action().to_owned(), n.pid()));
        0
    }));
    let restored = ops::restore(&mut r).expect("restore succeeds");
    assert_eq!(restored, pid as i32, "criu restores the same pid");
    let all = notes.lock().unwrap().clone();
    // criu names the restored root's pid in its post-restore notification.
    assert!(all.iter().any(|(a, p)| a == "post-restore" && *p == Some(restored)), "{all:?}");
    wait_until("the restored counter to go on", || lines(&log) >= before + 3);
    finish(restored);
}

#[test]
fn a_notify_callback_can_veto_a_dump() {
    let dir = scratch("veto");
    let log = dir.join("counter.log");
    let pid = start_counter(&log);
    wait_until("the counter to start", || lines(&log) >= 1);
    let images = File::open(&dir).unwrap();
    let mut o = options();
    o.set_images_dir_fd(images.as_raw_fd()).set_pid(pid as i32).set_leave_running(true);
    o.set_notify(Box::new(|n, _| if n.action() == "pre-dump" { -42 } else { 0 }));
    let err = ops::dump(&mut o).unwrap_err();
    assert_eq!(err, Error::Callback(-42));
    // The vetoed dump left the process running.
    let before = lines(&log);
    wait_until("the counter to go on", || lines(&log) > before);
    finish(pid as i32);
}

#[test]
fn a_silent_service_is_bounded_by_the_reply_timeout() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("silent");
    let silent = dir.join("silent-criu");
    // Accepts the request and never answers; records its pid for the check.
    std::fs::write(&silent, format!("#!/bin/sh\necho $$ > {}/pid\nexec sleep 600\n", dir.display())).unwrap();
    std::fs::set_permissions(&silent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut o = Options::new();
    o.set_service_binary(&silent).set_reply_timeout(Some(std::time::Duration::from_millis(300)));
    let started = std::time::Instant::now();
    // Another test thread's child may still hold the fresh script open for a
    // moment (ETXTBSY): that transient error is retried.
    let mut err = ops::version(&mut o).unwrap_err();
    for _ in 0..100 {
        if !matches!(err, Error::Connect { errno: libc::ETXTBSY, .. }) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        err = ops::version(&mut o).unwrap_err();
    }
    assert!(matches!(err, Error::Comm { errno: libc::ETIMEDOUT, .. }), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "the call returned long after its bound");
    let pid = std::fs::read_to_string(dir.join("pid")).unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(), "the silent criu was killed and reaped");
}
