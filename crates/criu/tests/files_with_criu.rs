//! Ghost files, external files and inherited fds, end to end with the real
//! criu: each test dumps a live process and restores it.

mod common;

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

use common::*;
use criu::{ops, Error};

/// The fd number under which process `pid` has `path` open.
fn fd_of(pid: u32, path: &Path) -> RawFd {
    let wanted = path.display().to_string();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let entry = entry.unwrap();
        let target = std::fs::read_link(entry.path()).unwrap_or_default().display().to_string();
        if target == wanted || target == format!("{wanted} (deleted)") {
            return entry.file_name().to_str().unwrap().parse().unwrap();
        }
    }
    panic!("process {pid} does not have {wanted} open");
}

/// The inode number in a /proc fd link such as `pipe:[1234]`.
fn link_inode(pid: u32, fd: RawFd) -> u64 {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap().display().to_string();
    let digits = link.trim_end_matches(']').rsplit('[').next().unwrap().to_owned();
    digits.parse().unwrap_or_else(|_| panic!("no inode in {link}"))
}

/// The open flags of `pid`'s `fd`, from fdinfo (octal).
fn fd_flags(pid: i32, fd: RawFd) -> i32 {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap();
    let line = info.lines().find(|l| l.starts_with("flags:")).unwrap();
    i32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap()
}

#[test]
fn a_deleted_open_file_travels_within_the_ghost_limit() {
    become_subreaper();
    let dir = scratch("ghost");
    // After restore the victim must still read exactly the same bytes.
    let (pid, log, original) = start_ghost_reader(&dir, 2 << 20);
    assert!(original.starts_with("2097152 "), "{original}");

    let images = File::open(&dir).unwrap();
    let mut small = options();
    small.set_images_dir_fd(images.as_raw_fd()).set_pid(pid as i32).set_leave_running(true);
    small.set_ghost_limit(1 << 20).set_log_file("dump-small.log");
    let err = ops::dump(&mut small).expect_err("a 2 MiB ghost file exceeds a 1 MiB limit");
    assert!(matches!(err, Error::Rpc { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("ghost file") && message.contains("increase limit"),
        "the message names the cause: {message}"
    );

    let mut large = options();
    large.set_images_dir_fd(images.as_raw_fd()).set_pid(pid as i32).set_ghost_limit(8 << 20);
    large.set_log_file("dump.log");
    ops::dump(&mut large).expect("an 8 MiB limit lets the ghost file travel");
    reap(pid);

    let mut restore = options();
    restore.set_images_dir_fd(images.as_raw_fd()).set_log_file("restore.log");
    let restored = ops::restore(&mut restore).expect("restore succeeds");
    let before = lines(&log);
    wait_until("reads after restore", || lines(&log) >= before + 3);
    finish(restored);
    let after: Vec<String> = read_lines(&log).split_off(before);
    assert!(after.iter().all(|l| *l == original), "restored reads differ: {after:?} vs {original}");
}

#[test]
fn an_external_file_is_replaced_by_the_callers_fd() {
    become_subreaper();
    let dir = scratch("external-file");
    let old_log = dir.join("old.log");
    let new_log = dir.join("new.log");
    // The victim keeps one descriptor open for append and writes through it.
    let script = "open(F, '>>', $ARGV[0]) or die; select(F); $| = 1; \
                  while (1) { print F 'line ', ++$i, \"\\n\"; select(undef, undef, undef, 0.05) }";
    let pid = start_perl(script, &[&old_log.display().to_string()]);
    wait_until("the first line", || lines(&old_log) >= 1);
    let fd = fd_of(pid, &old_log);
    let key = criu::ids::external_id(pid as i32, fd).expect("the fd has an external id");
    // criu's form: mount id (from fdinfo) and inode, both in hex.
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap();
    let mnt_id: u64 = info.lines().find_map(|l| l.strip_prefix("mnt_id:")).unwrap().trim().parse().unwrap();
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&old_log).unwrap());
    assert_eq!(key, format!("file[{mnt_id:x}:{ino:x}]"));

    let images = File::open(&dir).unwrap();
    let mut dump = options();
    dump.set_images_dir_fd(images.as_raw_fd()).set_pid(pid as i32).set_log_file("dump.log");
    for typo in ["file[zz:1]", "file[2a:1f3c", "fil[2a:1f3c]", "file[2a:1f3c]x"] {
        let err = dump.add_external(typo).expect_err("a malformed external id is refused at the call");
        assert!(matches!(err, Error::InvalidArgument(_)) && err.to_string().contains(typo), "{typo}: {err}");
    }
    dump.add_external(&key).expect("a valid external id");
    ops::dump(&mut dump).expect("dump with the file external succeeds");
    reap(pid);
    let old_count = lines(&old_log);

    // Rust opens files close-on-exec: the library must pass it on anyway.
    let replacement = OpenOptions::new().create(true).append(true).open(&new_log).unwrap();
    let mut restore = options();
    restore.set_images_dir_fd(images.as_raw_fd()).set_log_file("restore.log");
    // criu matches pipes as pipe:[INODE]: the form in its help text would
    // match nothing and the restore would go on without the fd.
    let err = restore.add_inherit_fd(replacement.as_raw_fd(), "pipe[12]").expect_err("a key criu never matches");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    restore.add_inherit_fd(replacement.as_raw_fd(), &key).expect("a valid inherit key");
    let restored = ops::restore(&mut restore).expect("restore with the inherited fd succeeds");
    wait_until("writes into the caller's file", || lines(&new_log) >= 3);
    let flags = fd_flags(restored, fd);
    finish(restored);
    assert_eq!(lines(&old_log), old_count, "nothing more reaches the old file");
    assert!(read_lines(&new_log)[0].starts_with("line "), "{:?}", read_lines(&new_log));
    assert_ne!(flags & libc::O_APPEND, 0, "the restored fd keeps O_APPEND");
    assert_eq!(flags & libc::O_ACCMODE, libc::O_WRONLY);
}

#[test]
fn a_pipe_to_the_caller_is_replaced_by_an_inherited_pipe() {
    become_subreaper();
    let dir = scratch("external-pipe");
    let (old_read, old_write) = cloexec_pipe();
    // The victim writes its counter into fd 3, the write end of our pipe.
    let script = "open(P, '>&=', 3) or die; select(P); $| = 1; \
                  while (1) { print P 'tick ', ++$i, \"\\n\"; select(undef, undef, undef, 0.05) }";
    let pid = spawn_with_fd(script, old_write.as_raw_fd(), 3);
    drop(old_write);
    let mut first = [0u8; 5];
    File::from(old_read.try_clone().unwrap()).read_exact(&mut first).unwrap();
    assert_eq!(&first, b"tick ");
    let key = format!("pipe:[{}]", link_inode(pid, 3));

    let images = File::open(&dir).unwrap();
    let mut dump = options();
    dump.set_images_dir_fd(images.as_raw_fd()).set_pid(pid as i32).set_log_file("dump.log");
    ops::dump(&mut dump).expect("dump of a process writing into our pipe succeeds");
    reap(pid);
    drop(old_read);

    let (new_read, new_write) = cloexec_pipe();
    let mut restore = options();
    restore.set_images_dir_fd(images.as_raw_fd()).set_log_file("restore.log");
    restore.add_inherit_fd(new_write.as_raw_fd(), &key).unwrap();
    let restored = ops::restore(&mut restore).expect("restore with the inherited pipe succeeds");
    drop(new_write);
    let mut got = [0u8; 5];
    File::from(new_read).read_exact(&mut got).expect("the restored process writes into the new pipe");
    finish(restored);
    assert_eq!(&got, b"tick ");
}

#[test]
fn a_unix_socket_to_the_caller_is_replaced_by_an_inherited_socket() {
    become_subreaper();
    let dir = scratch("external-socket");
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    // The victim answers each line it reads on fd 3 with "echo: <line>".
    let script = "open(S, '+<&=', 3) or die; select(S); $| = 1; while (my $l = <S>) { print S \"echo: $l\" }";
    let pid = spawn_with_fd(script, theirs.as_raw_fd(), 3);
    drop(theirs);
    assert_eq!(ask(&ours, "one"), "echo: one");
    let inode = link_inode(pid, 3);
    let key = format!("socket:[{inode}]");

    let images = File::open(&dir).unwrap();
    let mut dump = options();
    dump.set_images_dir_fd(images.as_raw_fd()).set_pid(pid as i32).set_log_file("dump.log");
    // A stream socket whose peer is outside is dumped only when declared
    // (criu's unix[inode] exception).
    dump.add_unix_sk(inode as u32).unwrap();
    ops::dump(&mut dump).expect("dump of a process talking over our socket succeeds");
    reap(pid);
    drop(ours);

    let (caller, replacement) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut restore = options();
    restore.set_images_dir_fd(images.as_raw_fd()).set_log_file("restore.log");
    restore.add_inherit_fd(replacement.as_raw_fd(), &key).unwrap();
    let restored = ops::restore(&mut restore).expect("restore with the inherited socket succeeds");
    drop(replacement);
    let answer = ask(&caller, "two");
    finish(restored);
    assert_eq!(answer, "echo: two");
}

/// Send a line and read one line back.
fn ask(stream: &std::os::unix::net::UnixStream, line: &str) -> String {
    let mut s = stream.try_clone().unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    writeln!(s, "{line}").unwrap();
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while s.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        reply.push(byte[0]);
    }
    String::from_utf8(reply).unwrap()
}

/// Start a perl victim that has `fd` of ours as its descriptor `target`.
fn spawn_with_fd(script: &str, fd: RawFd, target: RawFd) -> u32 {
    use std::os::unix::process::CommandExt;
    // SAFETY: the pre_exec closure runs in the forked child and calls only
    // async-signal-safe functions (setsid, dup2), allocating nothing.
    let child = unsafe {
        std::process::Command::new("perl")
            .args(["-e", script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .pre_exec(move || {
                libc::setsid();
                if libc::dup2(fd, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
            .spawn()
            .expect("perl starts")
    };
    register(child.id());
    child.id()
}

/// A pty pair in raw mode (no echo, no line editing), as (master, slave).
fn raw_pty() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    let (master, slave) = open_pty();
    let mut mode = nix::sys::termios::tcgetattr(&slave).unwrap();
    nix::sys::termios::cfmakeraw(&mut mode);
    nix::sys::termios::tcsetattr(&slave, nix::sys::termios::SetArg::TCSANOW, &mode).unwrap();
    (master.into(), slave.into())
}

/// Write a line to a pty master and read the victim's one-line answer.
fn ask_pty(master: &std::os::fd::OwnedFd, line: &str) -> String {
    let mut m = File::from(master.try_clone().unwrap());
    writeln!(m, "{line}").unwrap();
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    let mut poll = [nix::poll::PollFd::new(std::os::fd::AsFd::as_fd(master), nix::poll::PollFlags::POLLIN)];
    loop {
        assert!(nix::poll::poll(&mut poll, 20_000u16).unwrap() > 0, "no answer on the terminal");
        m.read_exact(&mut byte).unwrap();
        if byte[0] == b'\n' {
            return String::from_utf8(reply).unwrap();
        }
        reply.push(byte[0]);
    }
}

#[test]
fn a_terminal_of_the_caller_is_replaced_by_an_inherited_terminal() {
    become_subreaper();
    let dir = scratch("external-tty");
    let (old_master, old_slave) = raw_pty();
    // The victim answers each line it reads on fd 3 (a pty slave) with "echo: <line>".
    let script = "open(T, '+<&=', 3) or die; select(T); $| = 1; while (my $l = <T>) { print T \"echo: $l\" }";
    let pid = spawn_with_fd(script, old_slave.as_raw_fd(), 3);
    drop(old_slave);
    assert_eq!(ask_pty(&old_master, "one"), "echo: one");
    let key = criu::ids::external_id(pid as i32, 3).expect("a terminal has an external id");
    assert!(key.starts_with("tty["), "{key}");

    let images = File::open(&dir).unwrap();
    let mut dump = options();
    dump.set_images_dir_fd(images.as_raw_fd()).set_pid(pid as i32).set_log_file("dump.log");
    dump.add_external(&key).unwrap();
    ops::dump(&mut dump).expect("dump of a process on our terminal succeeds");
    reap(pid);
    drop(old_master);

    let (new_master, new_slave) = raw_pty();
    let mut restore = options();
    restore.set_images_dir_fd(images.as_raw_fd()).set_log_file("restore.log");
    restore.add_inherit_fd(new_slave.as_raw_fd(), &key).unwrap();
    let restored = ops::restore(&mut restore).expect("restore with the inherited terminal succeeds");
    drop(new_slave);
    let answer = ask_pty(&new_master, "two");
    finish(restored);
    assert_eq!(answer, "echo: two");
}
