//! `criu-externals <images-dir>`: lists what a restore of the dump in
//! `images-dir` must be handed with inherit-fd, one tab-separated line per
//! descriptor: kind, inherit-fd key, pid, fd, description. Exits 1 with the
//! error on stderr when the directory cannot be read.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let [dir] = args.as_slice() else {
        eprintln!("usage: criu-externals <images-dir>");
        return ExitCode::FAILURE;
    };
    match criu::images::external_resources(Path::new(dir)) {
        Ok(found) => {
            for r in found {
                println!("{}\t{}\t{}\t{}\t{}", r.kind, r.key, r.pid, r.fd, r.description);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("criu-externals: {e}");
            ExitCode::FAILURE
        }
    }
}
