//! `criu-externals <images-dir>`: lists what a restore of the dump in
//! `images-dir` needs from outside, one tab-separated line each:
//! - every descriptor the restore must be handed with inherit-fd: kind,
//!   inherit-fd key, pid, fd, description;
//! - every tmp file the library saved into the images and puts back before
//!   the restore: `tmp-file`, path, `-`, `-`, then type, size and mode,
//!   and where they apply: the bytes stored of a sparse file, a symlink's
//!   target, the file a hard link names, the extended attributes kept.
//!
//! Exits 1 with the error on stderr when the directory cannot be read.

use std::os::fd::AsFd;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let [dir] = args.as_slice() else {
        eprintln!("usage: criu-externals <images-dir>");
        return ExitCode::FAILURE;
    };
    let listed = criu::images::external_resources(Path::new(dir)).and_then(|found| {
        for r in found {
            println!("{}\t{}\t{}\t{}\t{}", r.kind, r.key, r.pid, r.fd, r.description);
        }
        let images = std::fs::File::open(dir)
            .map_err(|e| criu::Error::InvalidArgument(format!("{}: {e}", Path::new(dir).display())))?;
        for e in criu::tmpfile::list(images.as_fd())? {
            println!("tmp-file\t{}\t-\t-\t{}", e.path.display(), tmp_file_description(&e));
        }
        Ok(())
    });
    match listed {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("criu-externals: {e}");
            ExitCode::FAILURE
        }
    }
}

/// "file of N bytes, mode M" and what else the entry keeps.
fn tmp_file_description(e: &criu::tmpfile::EntryInfo) -> String {
    use criu::tmpfile::EntryKind;
    let mut out = format!("{} of {} bytes, mode {:o}", e.kind, e.size, e.mode);
    if e.sparse {
        out += &format!(", sparse: {} bytes stored", e.stored);
    }
    match (&e.link_target, e.kind) {
        (Some(target), EntryKind::HardLink) => out += &format!(", hard link to {}", target.display()),
        (Some(target), _) => out += &format!(", to {}", target.display()),
        _ => {}
    }
    if !e.xattrs.is_empty() {
        out += &format!(", attributes {}", e.xattrs.join(" "));
    }
    out
}
