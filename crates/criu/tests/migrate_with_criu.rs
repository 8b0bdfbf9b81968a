//! Migration through the library against the real criu: a page server and
//! WAIT_PID, the CPU check, and a process moved between two "hosts" (network
//! namespaces joined by a veth pair, made here), eagerly and lazily.

mod common;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;

use common::*;
use criu::{migrate, ops, Error, Options};

/// Two network namespaces joined by a veth pair, removed on drop (also when
/// a test fails). Each test thread enters one with [`Hosts::enter`]; criu
/// and everything the library starts then runs in it.
struct Hosts {
    names: [String; 2],
}

const SOURCE_ADDR: &str = "10.231.0.1";
const DEST_ADDR: &str = "10.231.0.2";

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("ip runs");
    assert!(status.success(), "ip {args:?} failed");
}

impl Hosts {
    /// The two hosts, or `None` (the test then reports itself skipped) where
    /// network namespaces cannot be made.
    fn new(tag: &str) -> Option<Hosts> {
        let id = std::process::id();
        let hosts = Hosts { names: [format!("lcrs-{tag}-src-{id}"), format!("lcrs-{tag}-dst-{id}")] };
        let (a, b) = (format!("ls{id}{}", &tag[..1]), format!("ld{id}{}", &tag[..1]));
        for ns in &hosts.names {
            let made = Command::new("ip").args(["netns", "add", ns]).status().is_ok_and(|s| s.success());
            if !made {
                common::skip(format_args!("`ip netns add` fails here, so there are no two hosts to migrate between"));
                return None;
            }
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        ip(&[
            "link",
            "add",
            &a,
            "netns",
            &hosts.names[0],
            "type",
            "veth",
            "peer",
            "name",
            &b,
            "netns",
            &hosts.names[1],
        ]);
        for (ns, link, addr) in [(&hosts.names[0], &a, SOURCE_ADDR), (&hosts.names[1], &b, DEST_ADDR)] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", link]);
            ip(&["-n", ns, "link", "set", link, "up"]);
        }
        Some(hosts)
    }

    /// The network namespace of host `which` (0: source, 1: destination).
    fn ns(&self, which: usize) -> File {
        File::open(format!("/run/netns/{}", self.names[which])).unwrap()
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in &self.names {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A process holding `mib` MiB of memory in which every 4 KiB page differs,
/// appending its counter to `log` every 50 ms; on SIGUSR1 it adds the
/// checksum of all of it ("sum N"), which it also logs once at start.
fn start_patterned(log: &Path, mib: u32) -> u32 {
    start_perl(PATTERNED, &[&log.display().to_string(), &mib.to_string()])
}

/// [`start_patterned`] as the first process of a new pid namespace, so its
/// restored copy can live beside the original, which a lazy migration keeps
/// (frozen) until every page went over: (the `unshare` parent, the process).
fn start_patterned_in_pidns(log: &Path, mib: u32) -> (u32, u32) {
    let outer = start_command(
        "unshare",
        &["--pid", "--fork", "setsid", "perl", "-e", PATTERNED, &log.display().to_string(), &mib.to_string()],
    );
    let inner = first_child(outer, "the process in its pid namespace");
    register(inner);
    (outer, inner)
}

const PATTERNED: &str = r#"
        $| = 1;
        my ($log, $mib) = @ARGV;
        my $m = join('', map { pack('N', $_) x 1024 } 0 .. $mib * 256 - 1);
        my $check = 1;
        $SIG{USR1} = sub { $check = 1 };
        while (1) {
            open(my $f, '>>', $log) or die;
            if ($check) { print $f 'sum ', unpack('%32N*', $m), "\n"; $check = 0 }
            print $f ++$i, "\n";
            close $f;
            select(undef, undef, undef, 0.05);
        }"#;

fn sums(log: &Path) -> Vec<String> {
    read_lines(log).into_iter().filter(|l| l.starts_with("sum ")).collect()
}

fn counters(log: &Path) -> usize {
    read_lines(log).iter().filter(|l| !l.starts_with("sum ")).count()
}

fn images_of(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

/// Copy the images the destination lacks (what did not go through the page
/// server), as a user would with scp.
fn copy_images(from: &Path, to: &Path) {
    for name in images_of(from) {
        if name.ends_with(".img") && !to.join(&name).exists() {
            std::fs::copy(from.join(&name), to.join(&name)).unwrap();
        }
    }
}

fn dir_options(dir: &File, log: &str) -> Options {
    let mut o = options();
    o.set_images_dir_fd(dir.as_raw_fd()).set_log_file(log);
    o
}

/// A free TCP port in the current network namespace.
fn free_port() -> i32 {
    std::net::TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port() as i32
}

#[test]
fn a_page_server_child_receives_a_dump_and_wait_pid_reports_its_exit() {
    let dir = scratch("ps-chld");
    let (src_dir, dst_dir) = (dir.join("src"), dir.join("dst"));
    std::fs::create_dir_all(&src_dir).unwrap();
    std::fs::create_dir_all(&dst_dir).unwrap();
    let (src, dst) = (File::open(&src_dir).unwrap(), File::open(&dst_dir).unwrap());
    let log = dir.join("counter.log");
    let pid = start_counter(&log);
    wait_until("the counter to start", || lines(&log) >= 2);

    let mut server_opts = dir_options(&dst, "ps.log");
    server_opts.set_page_server_address_port("127.0.0.1", 0);
    let server = server_opts.start_page_server_chld().expect("PAGE_SERVER_CHLD");
    assert!(server.port > 0 && server.pid > 0, "{server:?}");
    assert!(Path::new(&format!("/proc/{}", server.pid)).exists());

    let mut o = dir_options(&src, "dump.log");
    o.set_pid(pid as i32).set_leave_running(true).set_page_server_address_port("127.0.0.1", server.port);
    ops::dump(&mut o).expect("dump to the page server");
    let exited = server_opts.wait_pid(server.pid).expect("WAIT_PID");
    let status = exited.status;
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "page server status {status:#x}");
    assert!(exited.failure.is_none(), "{exited:?}");
    assert!(!server_opts.is_connected(), "criu ends the connection after WAIT_PID");
    let again = server_opts.wait_pid(server.pid).unwrap_err();
    assert!(matches!(again, Error::InvalidArgument(_)), "a second wait: {again:?}");
    assert!(images_of(&dst_dir).iter().any(|n| n.starts_with("pages-")), "{:?}", images_of(&dst_dir));
    assert!(!images_of(&src_dir).iter().any(|n| n.starts_with("pages-")), "{:?}", images_of(&src_dir));
    let before = lines(&log);
    wait_until("the source to keep running", || lines(&log) > before);
    kill(pid as i32);
    reap(pid);
}

#[test]
fn wait_pid_needs_the_options_that_started_the_process() {
    let err = Options::new().wait_pid(1).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
}

#[test]
fn dropped_options_kill_their_unwaited_page_server() {
    let dir = scratch("ps-drop");
    let images = File::open(&dir).unwrap();
    let mut o = dir_options(&images, "ps.log");
    o.set_page_server_address_port("127.0.0.1", 0);
    let server = o.start_page_server_chld().unwrap();
    drop(o);
    wait_until("the page server to be gone", || {
        std::fs::read_to_string(format!("/proc/{}/stat", server.pid)).map_or(true, |s| s.contains(") Z "))
    });
}

#[test]
fn a_daemon_page_server_answers_with_the_port_the_kernel_chose() {
    let dir = scratch("ps-daemon");
    let images = File::open(&dir).unwrap();
    let mut o = dir_options(&images, "ps.log");
    o.set_page_server_address_port("127.0.0.1", 0);
    let server = migrate::start_page_server(&mut o).expect("PAGE_SERVER");
    assert!(server.port > 0 && server.pid > 0, "{server:?}");
    register(server.pid as u32);
    let cmdline = std::fs::read_to_string(format!("/proc/{}/cmdline", server.pid)).unwrap();
    assert!(cmdline.contains("page-server"), "pid {} is the page server: {cmdline:?}", server.pid);
    // It listens: a connection is accepted (and, with no pages, it exits).
    let conn = std::net::TcpStream::connect(("127.0.0.1", server.port as u16)).expect("the page server listens");
    drop(conn);
    wait_until("the page server to exit", || {
        !Path::new(&format!("/proc/{}", server.pid)).exists()
            || std::fs::read_to_string(format!("/proc/{}/stat", server.pid)).map_or(true, |s| s.contains(") Z "))
    });
}

#[test]
fn cpuinfo_is_recorded_and_matches_the_same_cpu() {
    let dir = scratch("cpuinfo");
    let images = File::open(&dir).unwrap();
    migrate::cpuinfo_dump(&mut dir_options(&images, "cpuinfo-dump.log")).expect("CPUINFO_DUMP");
    assert!(dir.join("cpuinfo.img").exists(), "{:?}", images_of(&dir));
    migrate::cpuinfo_check(&mut dir_options(&images, "cpuinfo-check.log")).expect("CPUINFO_CHECK on the same CPU");
    // A check without the image fails cleanly.
    let empty_dir = scratch("cpuinfo-empty");
    let empty = File::open(&empty_dir).unwrap();
    assert!(matches!(migrate::cpuinfo_check(&mut dir_options(&empty, "check.log")), Err(Error::Rpc { .. })));
}

#[test]
fn a_wrong_page_server_port_fails_the_dump_cleanly_and_the_process_runs_on() {
    let dir = scratch("ps-wrong-port");
    let images = File::open(&dir).unwrap();
    let log = dir.join("counter.log");
    let pid = start_counter(&log);
    wait_until("the counter to start", || lines(&log) >= 2);
    let mut o = dir_options(&images, "dump.log");
    o.set_pid(pid as i32).set_page_server_address_port("127.0.0.1", free_port());
    let err = ops::dump(&mut o).unwrap_err();
    assert!(matches!(err, Error::Rpc { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.to_lowercase().contains("connect"), "the message names the failed connection: {text}");
    let before = lines(&log);
    wait_until("the source process to keep running", || lines(&log) > before + 2);
    kill(pid as i32);
    reap(pid);
}

/// Run `body` on a thread inside host `which`. The thread holds the
/// namespace open, not the hosts: a failing test still removes them.
fn on_host<T: Send + 'static>(
    hosts: &Hosts,
    which: usize,
    body: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let ns = hosts.ns(which);
    std::thread::spawn(move || {
        // SAFETY: setns takes a descriptor of a namespace file, kept open by
        // `ns`, and moves only this new thread into it.
        let joined = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(joined, 0, "setns: {}", std::io::Error::last_os_error());
        body()
    })
}

struct Dirs {
    src: PathBuf,
    dst: PathBuf,
}

fn dirs(name: &str) -> Dirs {
    let dir = scratch(name);
    let d = Dirs { src: dir.join("source-images"), dst: dir.join("destination-images") };
    std::fs::create_dir_all(&d.src).unwrap();
    std::fs::create_dir_all(&d.dst).unwrap();
    d
}

#[test]
fn a_process_moves_to_another_host_through_the_page_server() {
    become_subreaper();
    let Some(hosts) = Hosts::new("eager") else { return };
    let d = dirs("two-hosts");
    let log = d.src.parent().unwrap().join("counter.log");

    // Destination: a page server, on a port the kernel chooses.
    let dst = d.dst.clone();
    let server = on_host(&hosts, 1, move || {
        let images = File::open(&dst).unwrap();
        let mut o = dir_options(&images, "page-server.log");
        o.set_page_server_address_port(DEST_ADDR, 0);
        let server = o.start_page_server_chld().expect("page server on the destination");
        (o, server)
    })
    .join()
    .unwrap();
    let (mut server_opts, server) = server;

    // Source: a running process with 32 MiB of patterned memory, dumped to it.
    let (src, log2) = (d.src.clone(), log.clone());
    let pid = on_host(&hosts, 0, move || {
        let pid = start_patterned(&log2, 32);
        wait_until("the victim to start", || counters(&log2) >= 2);
        let images = File::open(&src).unwrap();
        // First a port nobody listens on there: a clean failure, and the
        // process runs on.
        let mut wrong = dir_options(&images, "wrong-port.log");
        let unused = if server.port < 65535 { server.port + 1 } else { 1024 };
        wrong.set_pid(pid as i32).set_page_server_address_port(DEST_ADDR, unused);
        let err = ops::dump(&mut wrong).expect_err("a dump to a port nobody listens on");
        assert!(err.to_string().contains("Can't connect to server"), "{err}");
        let before = counters(&log2);
        wait_until("the process to run on", || counters(&log2) > before + 2);
        let mut o = dir_options(&images, "dump.log");
        o.set_pid(pid as i32).set_page_server_address_port(DEST_ADDR, server.port);
        migrate::cpuinfo_dump(&mut dir_options(&images, "cpuinfo.log")).expect("cpuinfo dump");
        ops::dump(&mut o).expect("dump to the destination's page server");
        pid
    })
    .join()
    .unwrap();
    reap(pid);
    let status = server_opts.wait_pid(server.pid).expect("wait for the page server").status;
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "page server status {status:#x}");
    let original_sum = sums(&log);
    assert_eq!(original_sum.len(), 1, "{original_sum:?}");
    assert!(
        !images_of(&d.src).iter().any(|n| n.starts_with("pages-")),
        "no pages on the source: {:?}",
        images_of(&d.src)
    );
    let pages: u64 = images_of(&d.dst)
        .iter()
        .filter(|n| n.starts_with("pages-"))
        .map(|n| std::fs::metadata(d.dst.join(n)).unwrap().len())
        .sum();
    assert!(pages >= 32 << 20, "the destination holds the pages ({pages} bytes)");

    copy_images(&d.src, &d.dst);
    let dst = d.dst.clone();
    let restored = on_host(&hosts, 1, move || {
        let images = File::open(&dst).unwrap();
        migrate::cpuinfo_check(&mut dir_options(&images, "cpuinfo-check.log")).expect("same CPU");
        ops::restore(&mut dir_options(&images, "restore.log")).expect("restore on the destination")
    })
    .join()
    .unwrap();
    assert_eq!(restored, pid as i32);
    let net = std::fs::read_link(format!("/proc/{restored}/ns/net")).unwrap();
    let dest_net = on_host(&hosts, 1, || std::fs::read_link("/proc/thread-self/ns/net").unwrap()).join().unwrap();
    assert_eq!(net, dest_net, "the process runs on the destination host");
    let before = counters(&log);
    wait_until("the counter to carry on", || counters(&log) >= before + 3);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(restored), nix::sys::signal::Signal::SIGUSR1).unwrap();
    wait_until("the checksum after the move", || sums(&log).len() == 2);
    assert_eq!(sums(&log)[1], original_sum[0], "memory intact after the move");
    finish(restored);
}

/// Raises `fs.pipe-max-size` while alive: criu's lazy page server asks for
/// a ~3.2 MiB pipe and, without CAP_SYS_RESOURCE, gets no more than this.
struct PipeMaxSize(Option<String>);

const PIPE_MAX_SIZE: &str = "/proc/sys/fs/pipe-max-size";

impl PipeMaxSize {
    fn at_least(bytes: u64) -> PipeMaxSize {
        let old = std::fs::read_to_string(PIPE_MAX_SIZE).unwrap();
        if old.trim().parse::<u64>().unwrap() >= bytes {
            return PipeMaxSize(None);
        }
        std::fs::write(PIPE_MAX_SIZE, bytes.to_string()).expect("raise fs.pipe-max-size");
        PipeMaxSize(Some(old))
    }
}

impl Drop for PipeMaxSize {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            let _ = std::fs::write(PIPE_MAX_SIZE, old.trim());
        }
    }
}

/// The criu this process started for a dump (it calls itself `criu: dump`).
fn dump_criu() -> u32 {
    let children = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| c.split_whitespace().filter_map(|p| p.parse::<u32>().ok()).collect::<Vec<_>>());
    let mut found = children
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"criu: dump")));
    found.next().expect("the dump's criu is our child")
}

#[test]
fn a_process_moves_lazily_and_runs_before_its_pages_arrive() {
    let lazy = ops::feature_check(&mut options(), ops::Features { lazy_pages: true, ..Default::default() }).unwrap();
    if !lazy.lazy_pages {
        common::skip(format_args!("criu reports no lazy pages here (criu check --feature uffd-noncoop fails)"));
        return;
    }
    become_subreaper();
    let _pipes = PipeMaxSize::at_least(4 << 20);
    let Some(hosts) = Hosts::new("lazy") else { return };
    let d = dirs("two-hosts-lazy");
    let log = d.src.parent().unwrap().join("counter.log");
    let port = on_host(&hosts, 0, free_port).join().unwrap();

    // Source: a lazy dump; its call serves the pages until the destination
    // has them all, and says when it listens with `status-ready`.
    let (ready_tx, ready_rx) = mpsc::channel();
    let (src, log2) = (d.src.clone(), log.clone());
    // The status fd says the same as the notification, with a byte.
    let (status_r, status_w) = cloexec_pipe();
    let status_fd = status_w.as_raw_fd();
    let source = on_host(&hosts, 0, move || {
        let (outer, pid) = start_patterned_in_pidns(&log2, 32);
        wait_until("the victim to start", || counters(&log2) >= 2);
        let images = File::open(&src).unwrap();
        let mut o = dir_options(&images, "dump.log");
        o.set_pid(pid as i32).set_lazy_pages(true).set_page_server_address_port(SOURCE_ADDR, port);
        o.set_status_fd(status_fd);
        // Should the destination fail, the dump would serve pages forever:
        // the library kills its criu after this long.
        o.set_reply_timeout(Some(std::time::Duration::from_secs(120)));
        let tx = ready_tx.clone();
        o.set_notify(Box::new(move |n, _| {
            if n.action() == "status-ready" {
                let _ = tx.send((outer, pid));
            }
            0
        }));
        (outer, ops::dump(&mut o))
    });
    let (outer, pid) = ready_rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the lazy dump becomes ready");
    // Should the test fail, the victims die with it, and so does the dump's
    // criu, which would otherwise hold the frozen tree while it waits.
    register(outer);
    register(pid);
    register(dump_criu());
    drop(status_w);
    let mut pfd = libc::pollfd { fd: status_r.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: `pfd` is one live pollfd, as the count says.
    assert_eq!(unsafe { libc::poll(&mut pfd, 1, 30_000) }, 1, "no status byte");
    let mut byte = [1u8];
    assert_eq!(nix::unistd::read(status_r.as_raw_fd(), &mut byte), Ok(1), "the status fd got its byte");
    let local: u64 = images_of(&d.src)
        .iter()
        .filter(|n| n.starts_with("pages-"))
        .map(|n| std::fs::metadata(d.src.join(n)).unwrap().len())
        .sum();
    assert!(local < 4 << 20, "the 32 MiB stay in the process, not the images ({local} bytes)");
    copy_images(&d.src, &d.dst);

    // Destination: the lazy-pages daemon, pulling from the source, and a
    // lazy restore.
    let dst = d.dst.clone();
    let (restored, daemon) = on_host(&hosts, 1, move || {
        let images = File::open(&dst).unwrap();
        let mut o = dir_options(&images, "lazy-pages.log");
        o.set_page_server_address_port(SOURCE_ADDR, port);
        let daemon = o.start_lazy_pages().expect("lazy-pages daemon ready");
        let mut r = dir_options(&images, "restore.log");
        r.set_lazy_pages(true);
        (ops::restore(&mut r).expect("lazy restore"), (o, daemon))
    })
    .join()
    .unwrap();
    let (mut daemon_opts, daemon) = daemon;
    register(restored as u32);
    let before = counters(&log);
    wait_until("the counter to carry on", || counters(&log) >= before + 3);
    let exited = daemon_opts.wait_pid(daemon).expect("the lazy-pages daemon is reaped");
    assert!(exited.failure.is_none(), "the lazy-pages daemon got every page and exited cleanly: {exited:?}");
    let (outer, dumped) = source.join().unwrap();
    dumped.expect("the source's lazy dump completes once every page went over");
    reap(outer);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(restored), nix::sys::signal::Signal::SIGUSR1).unwrap();
    wait_until("the checksum after the move", || sums(&log).len() == 2);
    let s = sums(&log);
    assert_eq!(s[1], s[0], "memory intact after the lazy move");
    // The process faulted on pages that were not there yet: it ran before
    // they arrived.
    let daemon_log = std::fs::read_to_string(d.dst.join("lazy-pages.log")).unwrap();
    assert!(daemon_log.contains("#PF at"), "no page fault served lazily");
    finish(restored);
}

#[test]
fn a_lazy_pages_daemon_that_cannot_start_reports_why() {
    let dir = scratch("lazy-fail");
    let images = File::open(&dir).unwrap();
    let mut o = dir_options(&images, "lazy-pages.log");
    o.set_page_server_address_port("127.0.0.1", free_port());
    // No images of a dump here: the daemon cannot know what to serve.
    let err = o.start_lazy_pages().unwrap_err();
    assert!(matches!(err, Error::Rpc { .. }), "{err:?}");
    assert!(err.to_string().contains("criu"), "{err}");
}
