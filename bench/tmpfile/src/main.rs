//! Saves paths into an images directory, or puts an images directory's
//! tmp files back, through the library, and prints how long the call took.
//!
//!     tmpfile-bench save <images-dir> <path>...
//!     tmpfile-bench restore <images-dir>

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::exit;
use std::time::Instant;

use criu::tmpfile;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || !matches!(args[0].as_str(), "save" | "restore") {
        eprintln!("usage: tmpfile-bench save <images-dir> <path>... | restore <images-dir>");
        exit(2);
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

fn fail(msg: &str) -> ! {
    eprintln!("tmpfile-bench: {msg}");
    exit(1);
}
