//! criu::images against dumps made by the real criu: a victim holding
//! resources the test keeps the other end of is dumped, and the images must
//! list each of them with the key a restore would need. CRIU_BIN names the
//! criu under test (default: `criu` from PATH).

mod common;

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{cloexec_pipe, open_pty};
use criu::images::{external_resources, ExternalKind, ExternalResource};
use criu::{ops, Options};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::stat::fstat;

fn criu_bin() -> PathBuf {
    std::env::var_os("CRIU_BIN").map(PathBuf::from).unwrap_or_else(|| "criu".into())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("libcriu-rs-externals-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("images")).unwrap();
    dir
}

/// Starts `sleep` in a session of its own, holding `fds[i]` as fd 3 + i
/// and no other descriptor above 2.
fn start_victim(fds: &[&dyn AsFd]) -> u32 {
    // Copies above the target numbers, so dup2() never meets itself.
    let high: Vec<OwnedFd> = fds.iter().map(|fd| fd.as_fd().try_clone_to_owned().unwrap()).collect();
    let high: Vec<RawFd> = high.into_iter().map(|fd| move_above(fd, 100)).collect();
    // SAFETY: the pre_exec closure runs in the forked child and calls only
    // async-signal-safe functions (setsid, dup2, close_range), allocating
    // nothing: `high` was built before the fork.
    let child = unsafe {
        Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .pre_exec(move || {
                libc::setsid();
                for (i, &fd) in high.iter().enumerate() {
                    if libc::dup2(fd, 3 + i as RawFd) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                // Nothing else: whatever the test runner leaves open (a
                // jobserver pipe, say) would be listed too.
                libc::syscall(libc::SYS_close_range, 3 + high.len() as libc::c_uint, libc::c_uint::MAX, 0);
                Ok(())
            })
            .spawn()
            .expect("sleep starts")
    };
    child.id()
}

/// A close-on-exec duplicate of `fd` numbered `min` or above (leaked: the
/// test process ends soon).
fn move_above(fd: OwnedFd, min: RawFd) -> RawFd {
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor `fd` owns touches no memory
    // of ours.
    let high = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    assert!(high >= min);
    high
}

fn finish(pid: u32) {
    let pid = nix::unistd::Pid::from_raw(pid as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(pid, None);
}

/// The mount id of `pid`'s descriptor `fd`, from /proc.
fn mnt_id(pid: u32, fd: RawFd) -> u64 {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap();
    let line = info.lines().find_map(|l| l.strip_prefix("mnt_id:")).expect("fdinfo has mnt_id");
    line.trim().parse().unwrap()
}

/// Dumps `pid` into `dir`/images with `setup` applied, leaving it running.
fn dump(dir: &Path, pid: u32, setup: impl FnOnce(&mut Options)) {
    let images = File::open(dir.join("images")).unwrap();
    let mut o = Options::new();
    o.set_service_binary(criu_bin()).set_log_level(4).set_log_file("dump.log");
    o.set_images_dir_fd(images.as_raw_fd()).set_pid(pid as i32).set_leave_running(true);
    setup(&mut o);
    if let Err(e) = ops::dump(&mut o) {
        finish(pid);
        let log = std::fs::read_to_string(dir.join("images/dump.log")).unwrap_or_default();
        let tail: Vec<_> = log.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        panic!("dump failed: {e}\n{}", tail.join("\n"));
    }
}

fn find(found: &[ExternalResource], fd: u32) -> &ExternalResource {
    found.iter().find(|r| r.fd == fd).unwrap_or_else(|| panic!("no external resource at fd {fd}: {found:#?}"))
}

#[test]
fn file_pipe_and_unix_socket_with_outside_ends() {
    let dir = scratch("fps");
    let file = File::options().create(true).truncate(true).read(true).write(true).open(dir.join("data")).unwrap();
    let (pipe_read, _pipe_write) = cloexec_pipe();
    let (sock_victim, _sock_ours) =
        socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC).unwrap();
    let pid = start_victim(&[&file, &pipe_read, &sock_victim]);

    let file_key = format!("file[{:x}:{:x}]", mnt_id(pid, 3), fstat(file.as_raw_fd()).unwrap().st_ino);
    let pipe_ino = fstat(pipe_read.as_raw_fd()).unwrap().st_ino;
    let sock_ino = fstat(sock_victim.as_raw_fd()).unwrap().st_ino;
    dump(&dir, pid, |o| {
        // The pipe needs nothing: criu dumps a pipe end whatever holds the
        // other. The socket's other end must be allowed by inode.
        o.add_external(&file_key).unwrap();
        o.add_unix_sk(sock_ino as u32).unwrap();
    });
    finish(pid);

    let found = external_resources(&dir.join("images")).expect("the images read");
    assert_eq!(found.len(), 3, "{found:#?}");
    let file = find(&found, 3);
    assert_eq!((file.kind, file.key.as_str(), file.pid), (ExternalKind::File, file_key.as_str(), pid));
    let pipe = find(&found, 4);
    assert_eq!((pipe.kind, pipe.key.clone(), pipe.pid), (ExternalKind::Pipe, format!("pipe:[{pipe_ino}]"), pid));
    assert!(pipe.description.starts_with("read end"), "{}", pipe.description);
    let sock = find(&found, 5);
    assert_eq!(
        (sock.kind, sock.key.clone(), sock.pid),
        (ExternalKind::UnixSocket, format!("socket:[{sock_ino}]"), pid)
    );

    // The command-line tool prints the same, one line each.
    let out = Command::new(env!("CARGO_BIN_EXE_criu-externals")).arg(dir.join("images")).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains(&format!("pipe\tpipe:[{pipe_ino}]\t{pid}\t4\t")), "{text}");

    // The keys are the ones criu looks up: a restore handed fresh
    // resources under them puts each at its place.
    let file = File::open(dir.join("data")).unwrap();
    let (new_read, _new_write) = cloexec_pipe();
    let (new_sock, _new_peer) =
        socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC).unwrap();
    let given: [(&dyn AsRawFd, &str); 3] =
        [(&file, &found[0].key), (&new_read, &found[1].key), (&new_sock, &found[2].key)];
    let restored = restore(&dir, &given);
    for (fd, (given, _)) in (3..).zip(given) {
        let ino = fstat(given.as_raw_fd()).unwrap().st_ino;
        let at = std::fs::metadata(format!("/proc/{restored}/fd/{fd}")).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::ino(&at), ino, "fd {fd} of the restored task");
    }
    finish(restored as u32);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Restores the dump in `dir`/images handing criu `given` (descriptor, key)
/// pairs; returns the restored pid.
fn restore(dir: &Path, given: &[(&dyn AsRawFd, &str)]) -> i32 {
    // The restored task is reparented to us when criu exits: be its
    // subreaper, so finish() can reap it.
    // SAFETY: PR_SET_CHILD_SUBREAPER takes integers only.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let images = File::open(dir.join("images")).unwrap();
    let mut o = Options::new();
    o.set_service_binary(criu_bin()).set_log_level(4).set_log_file("restore.log");
    o.set_images_dir_fd(images.as_raw_fd());
    for (fd, key) in given {
        o.add_inherit_fd(fd.as_raw_fd(), key).unwrap();
    }
    ops::restore(&mut o).unwrap_or_else(|e| {
        let log = std::fs::read_to_string(dir.join("images/restore.log")).unwrap_or_default();
        let tail: Vec<_> = log.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        panic!("restore failed: {e}\n{}", tail.join("\n"));
    })
}

#[test]
fn terminals_with_outside_masters() {
    let dir = scratch("tty");
    // One slave declared external, one left as an orphan (shell job).
    let (_master_a, slave_a) = open_pty();
    let (_master_b, slave_b) = open_pty();
    let pid = start_victim(&[&slave_a, &slave_b]);
    let key = |f: &File| {
        let st = fstat(f.as_raw_fd()).unwrap();
        format!("tty[{:x}:{:x}]", st.st_rdev, st.st_dev)
    };
    let (key_a, key_b) = (key(&slave_a), key(&slave_b));
    dump(&dir, pid, |o| {
        o.add_external(&key_a).unwrap();
        o.set_shell_job(true);
    });
    finish(pid);

    let found = external_resources(&dir.join("images")).expect("the images read");
    assert_eq!(found.len(), 2, "{found:#?}");
    let a = find(&found, 3);
    assert_eq!((a.kind, a.key.as_str(), a.pid), (ExternalKind::Tty, key_a.as_str(), pid));
    assert!(a.description.contains("declared external"), "{}", a.description);
    let b = find(&found, 4);
    assert_eq!((b.kind, b.key.as_str(), b.pid), (ExternalKind::Tty, key_b.as_str(), pid));
    assert!(b.description.contains("master is outside"), "{}", b.description);

    // Both keys are looked up at restore: fresh slaves take their places.
    let (_new_master_a, new_a) = open_pty();
    let (_new_master_b, new_b) = open_pty();
    let restored = restore(&dir, &[(&new_a, &key_a), (&new_b, &key_b)]);
    for (fd, given) in [(3, &new_a), (4, &new_b)] {
        let want = fstat(given.as_raw_fd()).unwrap().st_rdev;
        let at = std::fs::metadata(format!("/proc/{restored}/fd/{fd}")).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::rdev(&at), want, "fd {fd} of the restored task");
    }
    finish(restored as u32);
    std::fs::remove_dir_all(dir).unwrap();
}
