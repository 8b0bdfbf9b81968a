//! `criu-image`: CRIU's `crit` (CRiu Image Tool), same commands, arguments
//! and output; the command line is [`criu::images::cli`], shared with
//! Python's `libcriu.crit`.

use std::process::ExitCode;

use criu::images::cli::{run, Streams};

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let streams = Streams {
        stdin: &mut std::io::stdin().lock(),
        stdout: &mut std::io::stdout().lock(),
        stderr: &mut std::io::stderr().lock(),
    };
    ExitCode::from(run(&args, streams))
}
