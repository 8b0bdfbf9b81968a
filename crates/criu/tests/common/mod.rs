//! Helpers shared by the tests that drive the real criu: `make test-rust`
//! sets CRIU_BIN to the criu under test (default: `criu` from PATH).
#![allow(dead_code)]

use std::cell::RefCell;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criu::Options;

pub fn criu_bin() -> PathBuf {
    std::env::var_os("CRIU_BIN").map(PathBuf::from).unwrap_or_else(|| "criu".into())
}

/// Reports the calling test as skipped, with the reason, where `make test`
/// shows it: straight to stderr, past the test harness's output capture
/// (which swallows an `eprintln!` of a test that passes), so tests/rust/run
/// can list every skip with its reason. The test then returns.
pub fn skip(reason: std::fmt::Arguments) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {reason}");
}

/// Options reaching the criu under test, logging at debug level.
pub fn options() -> Options {
    let mut o = Options::new();
    o.set_service_binary(criu_bin()).set_log_level(4);
    o
}

/// A fresh directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("libcriu-rs-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

thread_local! {
    /// The victims this test thread started and has not finished.
    static VICTIMS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// Remember a victim, so that a failing (panicking) test kills it instead of
/// leaving it running. Restored processes keep their pid, so one entry
/// covers the original and its restored copy.
pub fn register(pid: u32) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            VICTIMS.with(|v| v.borrow_mut().drain(..).for_each(|pid| kill(pid as i32)));
            previous(info)
        }));
    });
    VICTIMS.with(|v| v.borrow_mut().push(pid));
}

/// Start `perl -e script args...` as a single process (no children to leave
/// zombies behind) in a session of its own, stdio on /dev/null: a tree
/// criu can dump and restore without outside help.
pub fn start_perl(script: &str, args: &[&str]) -> u32 {
    let mut all = vec!["-e", script];
    all.extend_from_slice(args);
    start_command("perl", &all)
}

/// Start `program args...` as [`start_perl`] does.
pub fn start_command(program: &str, args: &[&str]) -> u32 {
    // SAFETY: the pre_exec closure runs in the forked child and calls only
    // setsid, which is async-signal-safe.
    let child = unsafe {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .pre_exec(|| {
                libc::setsid();
                Ok(())
            })
            .spawn()
            .expect("the victim starts")
    };
    register(child.id());
    child.id()
}

/// A process that appends a counter line to `log` every 50 ms.
pub fn start_counter(log: &Path) -> u32 {
    let script = "$| = 1; while (1) { open(my $f, '>>', $ARGV[0]) or die; print $f ++$i, \"\\n\"; close $f; select(undef, undef, undef, 0.05) }";
    start_perl(script, &[&log.display().to_string()])
}

pub fn read_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log).map(|s| s.lines().map(str::to_owned).collect()).unwrap_or_default()
}

pub fn lines(log: &Path) -> usize {
    read_lines(log).len()
}

pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first child of process `parent`, once it has one (`what` names it
/// for the wait's message).
pub fn first_child(parent: u32, what: &str) -> u32 {
    let mut child = 0;
    wait_until(what, || {
        child = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
            .ok()
            .and_then(|c| c.split_whitespace().next().and_then(|p| p.parse().ok()))
            .unwrap_or(0);
        child != 0
    });
    child
}

/// Reap a dumped child and wait until its pid is free for the restore.
pub fn reap(pid: u32) {
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
    wait_until("the pid to be free", || !Path::new(&format!("/proc/{pid}")).exists());
}

pub fn kill(pid: i32) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
}

/// Restored trees are reparented to their nearest subreaper when criu
/// exits: become it, so tests can reap what they restored.
pub fn become_subreaper() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes integers only.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// Kill and reap a restored process.
pub fn finish(pid: i32) {
    VICTIMS.with(|v| v.borrow_mut().retain(|p| *p != pid as u32));
    kill(pid);
    reap(pid as u32);
}

/// A pty pair: (master, slave), the slave opened without becoming a
/// controlling terminal. Both are close-on-exec: tests run in parallel
/// threads, and a pty leaked into another test's victim would be dumped
/// with it (and break that restore).
pub fn open_pty() -> (File, File) {
    // SAFETY: posix_openpt takes flags only and touches no memory of ours.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    assert!(master >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
    // SAFETY: the descriptor posix_openpt just returned is ours alone, so
    // the File is its one owner.
    let master = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(master) };
    // SAFETY: unlockpt on the open master touches no memory of ours.
    assert_eq!(unsafe { libc::unlockpt(master.as_raw_fd()) }, 0);
    let mut name = [0 as libc::c_char; 64];
    // SAFETY: ptsname_r writes at most `name.len()` bytes into `name`.
    assert_eq!(unsafe { libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) }, 0);
    // SAFETY: ptsname_r succeeded, so `name` holds a NUL-terminated path.
    let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }.to_str().unwrap().to_owned();
    let slave = File::options().read(true).write(true).custom_flags(libc::O_NOCTTY).open(path).unwrap();
    (master, slave)
}

/// A pipe as (read, write), close-on-exec for the same reason.
pub fn cloexec_pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap()
}

/// Deterministic bytes that do not compress away.
pub fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The criu binaries to run a test with: CRIU_BIN, then CRIU_OLD_BIN (an
/// older criu, 4.1.1 in `make test`) when it is set.
pub fn criu_bins() -> Vec<PathBuf> {
    let mut bins = vec![criu_bin()];
    bins.extend(std::env::var_os("CRIU_OLD_BIN").map(PathBuf::from));
    bins
}

/// A process holding a deleted file of `len` pseudo-random bytes (written
/// as `dir/data`): it re-reads the file every 50 ms and appends its length
/// and a checksum to the returned log, so a restored copy must log the same
/// line as the returned first one. The file travels as a ghost file.
pub fn start_ghost_reader(dir: &Path, len: usize) -> (u32, PathBuf, String) {
    let data = dir.join("data");
    let log = dir.join("reads.log");
    std::fs::write(&data, pseudo_random(len)).unwrap();
    let script = "open(F, '<', $ARGV[0]) or die; while (1) { seek(F, 0, 0); read(F, $b, 4 << 20); \
                  open(L, '>>', $ARGV[1]); print L length($b), ' ', unpack('%32C*', $b), \"\\n\"; close L; \
                  select(undef, undef, undef, 0.05) }";
    let pid = start_perl(script, &[&data.display().to_string(), &log.display().to_string()]);
    wait_until("the first read", || lines(&log) >= 1);
    let first = read_lines(&log)[0].clone();
    std::fs::remove_file(&data).unwrap();
    (pid, log, first)
}
