//! A criu killed while the caller waits for its answer never hangs the
//! caller, leaves nothing behind, and never takes a restored tree with it.
//!
//! * Under load: several threads check, dump, restore (and check the
//!   restored memory) and start page servers, while another thread SIGKILLs
//!   the library's `criu swrk` children at random moments. Every call
//!   returns (a watchdog fails the test when one has not after minutes:
//!   a hang, not a slow machine), every failure says why, every success is
//!   intact, and no descriptor or live process is left afterwards.
//! * A criu killed once the tree it restored runs (at `post-resume`, before
//!   it answers): the call fails naming the signal, the tree runs on with
//!   its memory intact, a shell job's tree included (it shares the caller's
//!   process group, not criu's).
//!
//! The tests of this file run one at a time: the load test's killer must
//! not hit the other test's criu.

mod common;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use criu::{ops, Error, Options};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A test of this file running: alone, as the subreaper (criu's orphans,
/// and restored trees once criu exits, come to it), with the descriptors
/// it must leave as it found them.
struct Running {
    _alone: std::sync::MutexGuard<'static, ()>,
    fds_before: Vec<String>,
}

impl Running {
    fn start() -> Running {
        let alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        become_subreaper();
        Running { _alone: alone, fds_before: open_fds() }
    }

    /// No live child and no descriptor left (zombies the subreaper
    /// inherited are reaped: the library killed them, they are its to reap).
    /// Victims' restored copies under `victims` are the caller's, not the
    /// library's: a tree whose criu was killed late in a restore may finish
    /// restoring itself after the call failed. They are killed here, and
    /// their number returned.
    fn nothing_left(&self, victims: &Path) -> usize {
        let start = Instant::now();
        let mut restored = 0;
        while !live_children().is_empty() && start.elapsed() < Duration::from_secs(20) {
            for (pid, _) in live_children() {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&victims.display().to_string()) {
                    kill(pid);
                    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                    restored += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let left: Vec<String> = live_children()
            .into_iter()
            .map(|(pid, comm)| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                format!(
                    "{pid} {comm} {:?} {:?}",
                    stat_fields(pid),
                    String::from_utf8_lossy(&cmdline).replace('\0', " ")
                )
            })
            .collect();
        assert!(left.is_empty(), "processes left running: {left:?}");
        reap_orphans();
        assert_eq!(open_fds(), self.fds_before, "descriptors left open");
        restored
    }
}

/// A call that has not returned after this long hangs.
const HANG: Duration = Duration::from_secs(180);
const THREADS: usize = 4;
const ROUNDS: usize = 3;

/// A process holding 2 MiB in which every 4 KiB page differs; it logs the
/// checksum of all of it ("sum N") at start and on SIGUSR1.
const PATTERNED: &str = r#"
    $| = 1;
    my $log = $ARGV[0];
    my $m = join('', map { pack('N', $_) x 1024 } 0 .. 511);
    my $check = 1;
    $SIG{USR1} = sub { $check = 1 };
    while (1) {
        if ($check) { open(my $f, '>>', $log) or die; print $f 'sum ', unpack('%32N*', $m), "\n"; close $f; $check = 0 }
        select(undef, undef, undef, 0.05);
    }"#;

fn sums(log: &Path) -> Vec<String> {
    read_lines(log).into_iter().filter(|l| l.starts_with("sum ")).collect()
}

/// Start the patterned process (a session leader); its pid and first sum.
fn start_victim(log: &Path) -> (u32, String) {
    let pid = start_perl(PATTERNED, &[&log.display().to_string()]);
    wait_until("the victim's first sum", || !sums(log).is_empty());
    (pid, sums(log)[0].clone())
}

/// Whether the process `pid`, restored from a victim logging to `log`,
/// still holds the memory whose sum was `first`.
fn memory_intact(pid: i32, log: &Path, first: &str) -> bool {
    let before = sums(log).len();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGUSR1).unwrap();
    wait_until("the restored process to log its sum", || sums(log).len() > before);
    sums(log).last().map(String::as_str) == Some(first)
}

/// A process's name, state, parent, process group and session.
fn stat_fields(pid: i32) -> Option<(String, char, i32, i32, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, tail) = stat.rsplit_once(") ")?;
    let comm = head.split_once(" (")?.1.to_owned();
    let mut f = tail.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgid = f.next()?.parse().ok()?;
    let sid = f.next()?.parse().ok()?;
    Some((comm, state, ppid, pgid, sid))
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc").unwrap().flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect()
}

/// The `criu swrk` processes the library started for this process: they
/// lead a process group of their own in the caller's session (but for a
/// shell job's restore, whose criu stays in the caller's group: with
/// `any_group`). criu's helpers lead no group, a page server daemon leads a
/// session of its own, and criu retitles itself per request, so its
/// command line cannot tell.
fn our_criu_swrk(any_group: bool) -> Vec<i32> {
    let me = std::process::id() as i32;
    all_pids()
        .into_iter()
        .filter(|pid| {
            stat_fields(*pid).is_some_and(|(comm, state, ppid, pgid, sid)| {
                comm == "criu" && state != 'Z' && ppid == me && (any_group || pgid == *pid) && sid != *pid
            })
        })
        .collect()
}

/// This process's children that are not zombies.
fn live_children() -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    all_pids()
        .into_iter()
        .filter_map(|pid| {
            stat_fields(pid).filter(|(_, state, ppid, ..)| *ppid == me && *state != 'Z').map(|(comm, ..)| (pid, comm))
        })
        .collect()
}

/// What /proc/self/fd holds, sorted.
fn open_fds() -> Vec<String> {
    let mut fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            Some(format!("{} -> {}", e.file_name().to_str()?, std::fs::read_link(e.path()).ok()?.display()))
        })
        .collect();
    fds.sort();
    fds
}

/// Reap the zombies this process (a subreaper) inherited: what the library
/// killed of a dead criu's leftovers, once reparented here.
fn reap_orphans() {
    while nix::sys::wait::waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG)).is_ok_and(|s| s.pid().is_some()) {}
}

/// Detach what criu left mounted under `dir` (a criu killed during a
/// restore leaves its cgroup yard mounted in the work directory); how many.
fn unmount_leftovers(dir: &Path) -> usize {
    let prefix = format!("{}/", dir.display());
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut points: Vec<&str> =
        mountinfo.lines().filter_map(|l| l.split(' ').nth(4)).filter(|m| m.starts_with(&prefix)).collect();
    // Deepest first.
    points.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for point in &points {
        let point = std::ffi::CString::new(*point).unwrap();
        // SAFETY: `point` is a live NUL-terminated path.
        unsafe { libc::umount2(point.as_ptr(), libc::MNT_DETACH) };
    }
    points.len()
}

/// Kill and reap `pid` if it still exists (a half-restored tree, a victim
/// criu left frozen), then wait until its pid is free.
fn clean_up(pid: i32) {
    if Path::new(&format!("/proc/{pid}")).exists() {
        kill(pid);
    }
    reap(pid as u32);
}

/// Each thread's call in flight, for the watchdog.
type InFlight = Arc<Mutex<Vec<Option<(String, Instant)>>>>;

/// Run `call` as `what` on worker `slot`, visible to the watchdog.
fn watched<T>(flight: &InFlight, slot: usize, what: &str, call: impl FnOnce() -> T) -> T {
    flight.lock().unwrap()[slot] = Some((what.to_owned(), Instant::now()));
    let result = call();
    flight.lock().unwrap()[slot] = None;
    result
}

/// What the threads saw.
#[derive(Default)]
struct Tally {
    calls: usize,
    failures: Vec<String>,
    restores_checked: usize,
}

impl Tally {
    fn failed(&mut self, what: &str, e: &Error) {
        let text = e.to_string();
        assert!(text.contains("criu") && text.len() > 20, "{what} failed without a message that says why: {e:?}");
        self.failures.push(format!("{what}: {text}"));
    }
}

fn dir_options(images: &File, log: &str) -> Options {
    let mut o = options();
    o.set_images_dir_fd(images.as_raw_fd()).set_log_file(log);
    o
}

/// One round of worker `slot`: check, dump and restore a victim, start a
/// page server.
fn round(flight: &InFlight, slot: usize, dir: &Path, tally: &Mutex<Tally>) {
    let note = |what: &str, result: Result<(), Error>| {
        let mut t = tally.lock().unwrap();
        t.calls += 1;
        if let Err(e) = result {
            t.failed(what, &e);
        }
    };
    note("check", watched(flight, slot, "check", || ops::check(&mut options())));

    std::fs::create_dir_all(dir).unwrap();
    let images = File::open(dir).unwrap();
    let log = dir.join("victim.log");
    let (pid, first) = start_victim(&log);
    let mut o = dir_options(&images, "dump.log");
    o.set_pid(pid as i32);
    let dumped = watched(flight, slot, "dump", || ops::dump(&mut o));
    let dump_ok = dumped.is_ok();
    note("dump", dumped.map(drop));
    // A dumped victim is gone; one whose criu was killed may be left
    // frozen, or damaged by the parasite criu left in it.
    clean_up(pid as i32);
    if dump_ok {
        let restored = watched(flight, slot, "restore", || ops::restore(&mut dir_options(&images, "restore.log")));
        match restored {
            Ok(restored) => {
                assert_eq!(restored, pid as i32, "the restored tree keeps its pid");
                assert!(
                    memory_intact(restored, &log, &first),
                    "restored process {restored}: memory changed ({:?})",
                    sums(&log)
                );
                tally.lock().unwrap().restores_checked += 1;
                finish(restored);
            }
            Err(e) => {
                note("restore", Err(e));
                // A tree criu restored, or began to, before it was killed:
                // its tasks may finish restoring themselves. The pid was
                // free, so another thread's victim may hold it now: only
                // this victim's copy (its log in the command line) or a
                // task still being restored (criu's title) goes.
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline);
                if cmdline.contains(&log.display().to_string()) || cmdline.starts_with("criu: restore") {
                    kill(pid as i32);
                    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
                }
            }
        }
    }

    let mut p = dir_options(&images, "ps.log");
    p.set_page_server_address_port("127.0.0.1", 0);
    let server = watched(flight, slot, "page server", || criu::migrate::start_page_server(&mut p));
    if let Ok(server) = &server {
        if server.pid > 0 {
            clean_up(server.pid);
        }
    }
    note("page server", server.map(drop));
}

#[test]
fn calls_return_when_criu_is_killed_at_random_moments() {
    let running = Running::start();
    let top = scratch("killed");
    let flight: InFlight = Arc::new(Mutex::new(vec![None; THREADS]));
    let done = Arc::new(AtomicBool::new(false));

    let watchdog = {
        let (flight, done) = (flight.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                for (slot, call) in flight.lock().unwrap().iter().enumerate() {
                    if let Some((what, since)) = call {
                        if since.elapsed() > HANG {
                            eprintln!(
                                "HANG: worker {slot}'s {what} has not returned after {} s",
                                since.elapsed().as_secs()
                            );
                            std::process::exit(3);
                        }
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };

    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (done, kills) = (done.clone(), kills.clone());
        std::thread::spawn(move || {
            let mut x = std::process::id() as u64 | 1;
            let mut random = move |n: u64| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % n
            };
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20 + random(300)));
                let swrk = our_criu_swrk(false);
                if !swrk.is_empty() {
                    kill(swrk[random(swrk.len() as u64) as usize]);
                    kills.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    let tally = Arc::new(Mutex::new(Tally::default()));
    let workers: Vec<_> = (0..THREADS)
        .map(|slot| {
            let (flight, tally, top) = (flight.clone(), tally.clone(), top.clone());
            std::thread::spawn(move || {
                for r in 0..ROUNDS {
                    round(&flight, slot, &top.join(format!("{slot}-{r}")), &tally);
                }
            })
        })
        .collect();
    let panicked = workers.into_iter().map(|w| w.join()).filter(Result::is_err).count();
    done.store(true, Ordering::Relaxed);
    killer.join().unwrap();
    watchdog.join().unwrap();
    assert_eq!(panicked, 0, "a worker failed (see above)");

    let tally = tally.lock().unwrap();
    eprintln!(
        "{} calls, {} criu killed, {} failed, {} restores checked intact",
        tally.calls,
        kills.load(Ordering::Relaxed),
        tally.failures.len(),
        tally.restores_checked
    );
    for failure in &tally.failures {
        eprintln!("  {failure}");
    }
    assert!(
        tally.failures.iter().any(|f| f.contains("criu was killed by signal 9 (SIGKILL) before answering")),
        "no call saw its criu killed: the test did not test anything"
    );
    let restored_left = running.nothing_left(&top);
    eprintln!("{restored_left} trees finished restoring after their criu was killed (the caller's, left alone)");
    eprintln!("{} mounts left by criu under the images directories", unmount_leftovers(&top));
    let _ = std::fs::remove_dir_all(&top);
}

/// Dump the victim `pid` (logging to `log`) into `images`, then restore it
/// with `shell_job` and SIGKILL criu at `post-resume`: the tree runs then,
/// but criu has not answered. The call must fail naming the signal; the
/// restored tree must run on, its memory intact.
fn restored_tree_outlives_its_killed_criu(dir: &Path, pid: u32, log: &Path, first: &str, shell_job: bool) {
    let images = File::open(dir).unwrap();
    let mut o = dir_options(&images, "dump.log");
    o.set_pid(pid as i32).set_shell_job(shell_job);
    ops::dump(&mut o).expect("dump");
    reap(pid);
    let mut r = dir_options(&images, "restore.log");
    r.set_shell_job(shell_job);
    r.set_notify(Box::new(|note, _| {
        if note.action() == "post-resume" {
            our_criu_swrk(true).into_iter().for_each(kill);
        }
        0
    }));
    let err = ops::restore(&mut r).expect_err("criu was killed before answering");
    assert!(err.to_string().contains("criu was killed by signal 9 (SIGKILL) before answering"), "{err}");
    let me = std::process::id() as i32;
    let (_, state, ppid, pgid, _) = stat_fields(pid as i32).expect("the restored tree outlives criu");
    assert_ne!(state, 'Z', "the restored process was killed");
    assert_eq!(ppid, me, "the restored process came to the subreaper");
    let my_pgid = nix::unistd::getpgrp().as_raw();
    if shell_job {
        assert_eq!(pgid, my_pgid, "a shell job's tree is in the caller's process group");
    }
    assert!(memory_intact(pid as i32, log, first), "memory changed: {:?}", sums(log));
    finish(pid as i32);
}

#[test]
fn a_restored_tree_outlives_a_criu_killed_before_answering() {
    let running = Running::start();

    // A session leader: criu gives it back its own process group.
    let dir = scratch("killed-post-resume");
    let log = dir.join("victim.log");
    let (pid, first) = start_victim(&log);
    restored_tree_outlives_its_killed_criu(&dir, pid, &log, &first, false);
    let first_dir = dir;

    // A shell job: a process in a session (and process group) led by its
    // parent, outside the dumped tree; restored, it joins criu's group.
    let dir = scratch("killed-post-resume-shell-job");
    let log = dir.join("victim.log");
    let script = format!("perl -e '{}' {} & wait", PATTERNED.replace('\'', "'\\''"), log.display());
    let shell = start_command("sh", &["-c", &script]);
    let pid = first_child(shell, "the shell's child");
    register(pid);
    wait_until("the victim's first sum", || !sums(&log).is_empty());
    let first = sums(&log)[0].clone();
    // The dump ends the victim; its shell then exits.
    let reap_shell = std::thread::spawn(move || reap(shell));
    restored_tree_outlives_its_killed_criu(&dir, pid, &log, &first, true);
    reap_shell.join().unwrap();
    assert_eq!(running.nothing_left(&dir), 0, "no restored tree is left here");
    for dir in [&dir, &first_dir] {
        eprintln!("{} mounts left by criu under {}", unmount_leftovers(dir), dir.display());
        let _ = std::fs::remove_dir_all(dir);
    }
}
