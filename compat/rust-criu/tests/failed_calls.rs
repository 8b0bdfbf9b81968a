//! What a failed call leaves behind, against the real criu (CRIU_BIN, by
//! default `criu` from PATH; needs root): an error text naming criu's cause
//! where rust-criu 0.6.1 says only "criu failed: type DUMP errno 3", no
//! zombie, no descriptor, and every option still set for a retry.
//!
//! One test: it counts the process's children and descriptors, which
//! tests running beside it in other threads would change.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use rust_criu::{Criu, CriuError};

fn criu_path() -> String {
    std::env::var("CRIU_BIN").unwrap_or_else(|_| "criu".into())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rust-criu-compat-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn open_fds() -> Vec<String> {
    let mut fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let target = std::fs::read_link(e.path()).map(|t| t.display().to_string()).unwrap_or_default();
            format!("{} -> {target}", e.file_name().to_string_lossy())
        })
        .collect();
    fds.sort();
    fds
}

/// Fails unless this process has no child at all, running or zombie.
fn assert_no_children(after: &str) {
    let mut status = 0;
    // SAFETY: waitpid writes one int into `status`, a live local.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    assert!(pid == -1 && errno == Some(libc::ECHILD), "after {after}: a child is left (waitpid gave {pid}, {errno:?})");
}

/// The first error criu logged that names a cause (not the RLIMIT
/// complaint every run in a container starts with).
fn first_logged_error(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    text.lines()
        .filter_map(|l| l.split_once("Error (").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once("): ").map(|(_, msg)| msg.trim().to_owned()))
        .find(|msg| !msg.contains("RLIMIT_NOFILE"))
        .unwrap_or_else(|| panic!("no error line in {}:\n{text}", log.display()))
}

/// A process to dump, killed and reaped when dropped (also when the test
/// fails half-way).
struct Tree(Child);

impl Tree {
    /// `sleep` as the leader of a session of its own, with only /dev/null
    /// as its stdio: criu refuses a tree whose session leader it cannot see,
    /// and the test's own session may have none in this pid namespace (CI
    /// starts it in session 0); the test's stdio may be anything.
    fn start() -> Tree {
        let mut sleep = Command::new("sleep");
        sleep.arg("1000").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        // SAFETY: setsid and close_range are async-signal-safe system calls
        // that touch no memory of the parent; they run in the child between
        // fork and exec.
        unsafe {
            sleep.pre_exec(|| {
                // Whatever the test inherited from its runner stays out of the
                // tree criu dumps (where the kernel has close_range, 5.9 on).
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Tree(sleep.spawn().expect("sleep starts"))
    }

    /// A client set to dump this tree into `images`.
    fn client(&self, images: &File) -> Criu {
        let mut criu = Criu::new_with_criu_path(criu_path()).unwrap();
        criu.set_pid(self.0.id() as i32);
        criu.set_images_dir_fd(images.as_raw_fd());
        criu
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn refuse_pre_dump(_script: &str, notify: &rust_criu::rust_criu_protobuf::rpc::Criu_notify, _fd: Option<i32>) -> i32 {
    if notify.script() == "pre-dump" {
        -7
    } else {
        0
    }
}

#[test]
fn failed_calls_name_the_cause_and_leave_nothing_behind() {
    // SAFETY: geteuid takes nothing and cannot fail.
    assert_eq!(unsafe { libc::geteuid() }, 0, "criu dumps need root");
    let fds_before = open_fds();
    assert_no_children("start");

    // A dump of a pid nobody has: criu fails, and the text says why.
    let dir = scratch("missing");
    let images = File::open(&dir).unwrap();
    let pid_max: i32 = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
    let mut criu = Criu::new_with_criu_path(criu_path()).unwrap();
    criu.set_pid(pid_max);
    criu.set_images_dir_fd(images.as_raw_fd());
    criu.set_log_file("dump.log".into());
    criu.set_log_level(4);
    let err = criu.dump().unwrap_err();
    let text = err.to_string();
    println!("a failed dump says: {text}");
    assert!(
        matches!(err, CriuError::RpcFailed { ref resp_type, cr_errno: libc::ESRCH, .. } if resp_type == "DUMP"),
        "{err:?}"
    );
    let cause = first_logged_error(&dir.join("dump.log"));
    assert!(text.contains(&cause), "the error text {text:?} does not name criu's cause {cause:?}");
    assert_no_children("a failed dump");
    drop(images);
    assert_eq!(open_fds(), fds_before, "descriptors left after a failed dump");

    // The same failure keeps every option: a retry sends the same request.
    let images = File::open(&dir).unwrap();
    let netns = File::open("/proc/self/ns/net").unwrap();
    let mut criu = Criu::new_with_criu_path(criu_path()).unwrap();
    criu.set_pid(pid_max);
    criu.set_images_dir_fd(images.as_raw_fd());
    criu.add_external(format!("net[1]:{}", rust_criu::criu_ns_to_key("net")));
    criu.add_inherit_fd(netns.as_raw_fd(), rust_criu::criu_ns_to_key("net")).unwrap();
    criu.set_external_mount("/a".into(), "/a".into());
    let sent = criu.options_mut().request_options().clone();
    assert!(criu.dump().is_err());
    assert_eq!(criu.options_mut().request_options(), &sent, "a failed dump consumed options");
    assert!(criu.restore().is_err());
    assert_eq!(criu.options_mut().request_options(), &sent, "a failed restore consumed options");
    assert_no_children("failed calls with externals");
    drop((images, netns));
    assert_eq!(open_fds(), fds_before, "descriptors left after failed calls with externals");

    // A notify callback that says no: criu is told to stop, and reaped.
    let images = File::open(scratch("refused")).unwrap();
    let tree = Tree::start();
    let mut criu = tree.client(&images);
    criu.set_notify_scripts(true);
    criu.set_notify_cb(refuse_pre_dump);
    let err = criu.dump().unwrap_err();
    assert!(matches!(err, CriuError::NotifyFailed(-7)), "{err:?}");
    drop(tree);
    assert_no_children("a refused notification");
    drop(images);
    assert_eq!(open_fds(), fds_before, "descriptors left after a refused notification");

    // A binary that is not there.
    let mut criu = Criu::new_with_criu_path("/nonexistent/criu".into()).unwrap();
    criu.set_pid(1);
    let err = criu.dump().unwrap_err();
    assert!(
        matches!(err, CriuError::Spawn { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
    assert_no_children("a missing binary");
    assert_eq!(open_fds(), fds_before, "descriptors left after a missing binary");

    // And a success still works after all that, and clears the options.
    let images = File::open(scratch("ok")).unwrap();
    let tree = Tree::start();
    let mut criu = tree.client(&images);
    criu.set_leave_running(true);
    criu.set_log_file("dump.log".into());
    criu.dump().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(criu.options_mut().request_options().pid, None, "a successful dump clears the options");
    drop(tree);
    assert_no_children("a dump");
    drop(images);
    assert_eq!(open_fds(), fds_before);
    for name in ["missing", "refused", "ok"] {
        let _ = std::fs::remove_dir_all(scratch(name));
    }
}
