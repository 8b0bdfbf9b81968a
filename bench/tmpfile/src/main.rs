//! Saves paths into an images directory, or puts an images directory's
//! tmp files back, through the library, and prints how long the call took;
//! or dumps a running process with tmp files through criu, to measure how
//! long the tree stays frozen.
//!
//!     tmpfile-bench save <images-dir> <path>...
//!     tmpfile-bench restore <images-dir>
//!     tmpfile-bench dump <criu> <images-dir> <pid> [<path>...]
//!
//! `dump` leaves the process running (criu's --leave-running), so it can be
//! dumped again; it prints the time of the whole dump and, from criu's
//! notifications, the time from `pre-dump` (before criu freezes the tree)
//! to the caller's `post-dump` callback, which runs after the library has
//! saved the tmp files and before criu thaws the tree.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::process::exit;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use criu::{ops, tmpfile, Options};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: tmpfile-bench save <images-dir> <path>... | restore <images-dir> | dump <criu> <images-dir> <pid> [<path>...]";
    if args.len() < 2 || !matches!(args[0].as_str(), "save" | "restore" | "dump") {
        eprintln!("{usage}");
        exit(2);
    }
    if args[0] == "dump" {
        if args.len() < 4 {
            eprintln!("{usage}");
            exit(2);
        }
        return dump(&args[1], &args[2], &args[3], &args[4..]);
    }
    let images = File::open(&args[1]).unwrap_or_else(|e| fail(&format!("{}: {e}", args[1])));
    let started = Instant::now();
    let entries = if args[0] == "save" {
        let paths: Vec<PathBuf> = args[2..].iter().map(PathBuf::from).collect();
        match tmpfile::save(&paths, images.as_fd(), u64::MAX) {
            Ok(summary) => summary.entries as usize,
            Err(e) => fail(&e.to_string()),
        }
    } else {
        match tmpfile::restore(images.as_fd(), u64::MAX) {
            Ok(restored) => restored.len(),
            Err(e) => fail(&e.to_string()),
        }
    };
    println!("{{\"entries\": {entries}, \"seconds\": {:.6}}}", started.elapsed().as_secs_f64());
}

fn dump(criu_bin: &str, images_dir: &str, pid: &str, paths: &[String]) {
    let images = File::open(images_dir).unwrap_or_else(|e| fail(&format!("{images_dir}: {e}")));
    let pid: i32 = pid.parse().unwrap_or_else(|_| fail("the pid is a number"));
    let mut o = Options::new();
    o.set_service_binary(criu_bin)
        .set_images_dir_fd(images.as_raw_fd())
        .set_pid(pid)
        .set_leave_running(true)
        .set_log_file("dump.log")
        .set_tmp_file_limit(u64::MAX);
    for path in paths {
        o.add_tmp_file(path).unwrap_or_else(|e| fail(&e.to_string()));
    }
    let started = Instant::now();
    let marks: Arc<Mutex<[Option<Instant>; 2]>> = Arc::default();
    let seen = Arc::clone(&marks);
    o.set_notify(Box::new(move |note, _| {
        let mut seen = seen.lock().unwrap();
        match note.action() {
            "pre-dump" => seen[0] = Some(Instant::now()),
            "post-dump" => seen[1] = Some(Instant::now()),
            _ => {}
        }
        0
    }));
    if let Err(e) = ops::dump(&mut o) {
        fail(&e.to_string());
    }
    let total = started.elapsed().as_secs_f64();
    let [Some(pre), Some(post)] = *marks.lock().unwrap() else { fail("criu sent no pre-dump or post-dump") };
    println!("{{\"seconds\": {total:.6}, \"pre_to_post_dump\": {:.6}}}", (post - pre).as_secs_f64());
}

fn fail(msg: &str) -> ! {
    eprintln!("tmpfile-bench: {msg}");
    exit(1);
}
