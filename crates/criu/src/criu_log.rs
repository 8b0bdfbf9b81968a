//! Why criu failed, in words, from its log file.
//!
//! criu's `cr_errmsg` carries the *first* error it logged, which is often
//! not the cause: where criu may not raise RLIMIT_NOFILE (as in many
//! containers) every run starts with that complaint, and the real failure
//! (say, a deleted file over the ghost limit) comes later. When the caller
//! named a log file, the library reads the error lines from its end instead.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use crate::rpc::CriuOpts;

/// How much of the log's end is read: error lines sit near the end, and
/// the bound keeps a huge debug log from costing time or memory.
const TAIL_BYTES: u64 = 256 * 1024;

/// How many error lines the summary keeps: the first one (usually the
/// cause) and the last ones (what criu made of it).
const MAX_LINES: usize = 3;

/// Error lines that are never the cause: complaints criu recovers from, and
/// the parent's note that a restored child exited (which, logged in
/// whatever order the processes ran, would push the cause out).
const NOISE: &[&str] = &["Can't setup RLIMIT_NOFILE", " exited, status=", " killed by signal "];

/// Causes criu logs as information, not as errors (so only at log level 3
/// and up), that the summary takes as error lines: a dump to a page server
/// that does not answer fails with no error line naming it.
const INFO_CAUSES: &[&str] = &["Can't connect to server "];

/// Where criu wrote its log for a request with these options: the log file
/// name inside the work directory (the images directory unless one is set),
/// reached through the caller's descriptors. `None` when no log file was
/// named or the directory is unknown.
pub fn log_path(opts: &CriuOpts) -> Option<PathBuf> {
    let name = opts.log_file.as_deref()?;
    if name.contains('/') {
        return None;
    }
    let dir = match (opts.work_dir_fd, opts.images_dir_fd, opts.images_dir.as_deref()) {
        (Some(fd), _, _) if fd >= 0 => PathBuf::from(format!("/proc/self/fd/{fd}")),
        (_, fd, _) if fd >= 0 => PathBuf::from(format!("/proc/self/fd/{fd}")),
        (_, _, Some(dir)) => PathBuf::from(dir),
        _ => return None,
    };
    Some(dir.join(name))
}

/// The last error lines of the log at `path`, joined with "; ", without
/// criu's timestamps and source locations; `None` if there are none.
pub fn error_summary(path: &std::path::Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES))).ok()?;
    let mut tail = Vec::new();
    file.take(TAIL_BYTES).read_to_end(&mut tail).ok()?;
    summarize(&String::from_utf8_lossy(&tail))
}

/// The error summary of log text (see [`error_summary`]).
pub fn summarize(log: &str) -> Option<String> {
    let errors: Vec<&str> = log
        .lines()
        .filter_map(|line| {
            line.split_once("Error (")
                .map(|(_, rest)| rest)
                .or_else(|| INFO_CAUSES.iter().find_map(|c| line.find(c).map(|at| &line[at..])))
        })
        .map(|rest| rest.split_once("): ").map_or(rest, |(_, message)| message).trim())
        .filter(|message| !message.is_empty() && !NOISE.iter().any(|n| message.contains(n)))
        .collect();
    let (first, rest) = errors.split_first()?;
    let last = &rest[rest.len().saturating_sub(MAX_LINES - 1)..];
    Some(std::iter::once(first).chain(last).copied().collect::<Vec<_>>().join("; "))
}

/// Report something the library did on its own (like putting tmp files
/// back) on stderr, where upstream libcriu prints its messages too, when the
/// caller's log level is informative (3) or more.
pub fn library_note(opts: &CriuOpts, message: &str) {
    if opts.log_level.unwrap_or(2) >= 3 {
        eprintln!("libcriu: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_cause_and_drops_noise() {
        let log = "(00.03) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted\n\
                   (00.03) Dumping ghost file for fd 18 id 0x15\n\
                   (00.04) Error (criu/files-reg.c:1031): Can't dump ghost file /tmp/x of 2097152 size, increase limit\n\
                   (00.04) Error (criu/cr-dump.c:1681): Dump files (pid: 1) failed with -1\n\
                   (00.05) Error (criu/cr-dump.c:2111): Dumping FAILED.\n";
        let summary = summarize(log).unwrap();
        assert!(summary.starts_with("Can't dump ghost file /tmp/x of 2097152 size, increase limit"), "{summary}");
        assert!(summary.ends_with("Dumping FAILED."), "{summary}");
        assert!(!summary.contains("RLIMIT"), "{summary}");
    }

    #[test]
    fn the_first_error_survives_a_child_exit_logged_late() {
        let log =
            "(00.03) 9246: Error (criu/files-reg.c:2353): Can't open file tmp/needed.txt on restore: No such file\n\
                   (00.03) 9246: Error (criu/files-reg.c:2267): Can't open file tmp/needed.txt: No such file\n\
                   (00.03) 9246: Error (criu/files.c:1221): Unable to open fd=3 id=0x16\n\
                   (00.03) Error (criu/cr-restore.c:1480): 9246 exited, status=1\n\
                   (00.03) Error (criu/cr-restore.c:2320): Restoring FAILED.\n";
        assert_eq!(
            summarize(log).unwrap(),
            "Can't open file tmp/needed.txt on restore: No such file; Unable to open fd=3 id=0x16; Restoring FAILED."
        );
    }

    #[test]
    fn an_unreachable_page_server_is_the_cause() {
        let log = "(00.03) Connecting to server 127.0.0.1:36471\n\
                   (00.03) Can't connect to server 127.0.0.1:36471\n\
                   (00.03) Error (compel/src/lib/infect.c:417): Unable to detach from 22317: No such process\n\
                   (00.03) Error (criu/cr-dump.c:1975): Dumping FAILED.\n";
        assert!(summarize(log).unwrap().starts_with("Can't connect to server 127.0.0.1:36471;"));
    }

    #[test]
    fn nothing_without_errors() {
        assert_eq!(summarize("(00.01) Warn: something\n"), None);
        let only_noise = "Error (criu/util.c:1): rlimit: Can't setup RLIMIT_NOFILE for self: x\n";
        assert_eq!(summarize(only_noise), None);
    }

    #[test]
    fn path_follows_work_dir_then_images_dir() {
        let mut o = CriuOpts { log_file: Some("d.log".into()), ..Default::default() };
        assert_eq!(log_path(&o), None, "no directory known");
        o.images_dir_fd = 5;
        assert_eq!(log_path(&o), Some(PathBuf::from("/proc/self/fd/5/d.log")));
        o.work_dir_fd = Some(7);
        assert_eq!(log_path(&o), Some(PathBuf::from("/proc/self/fd/7/d.log")));
        o.log_file = None;
        assert_eq!(log_path(&o), None, "no log file named");
    }
}
