//! `criu-image`: CRIU's `crit` (CRiu Image Tool), same commands, arguments
//! and output, over `criu::images`.
//!
//! ```text
//! criu-image decode [--pretty] [-i IN] [-o OUT]   image -> JSON
//! criu-image encode [-i IN] [-o OUT]              JSON -> image
//! criu-image show IN [--nopl]                     decode --pretty, payloads optional
//! criu-image info IN                              magic and number of entries
//! criu-image x DIR ps|fds|mems|rss                explore a dump
//! ```

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use criu::images::codec::magic_name;
use criu::images::explore::{explore, Explore};
use criu::images::{decode, encode, info, pyjson, ImageError};

const USAGE: &str = "usage: criu-image [-h] [--version] {decode,encode,info,x,show} ...\n";
const COMMANDS: &str = "
  decode [--pretty] [-i IN] [-o OUT]  convert criu image from binary type to json
  encode [-i IN] [-o OUT]             convert criu image from json type to binary
  info IN                             show info about image
  x DIR {ps,fds,mems,rss}             explore image dir
  show IN [--nopl]                    convert criu image from binary to human-readable json
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) | Err(Failure::Help) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprint!("{USAGE}");
            eprintln!("criu-image: error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Image(ImageError::UnknownMagic(m))) => {
            // crit reads the magic as a signed int and prints it with %#x.
            let m = m as i32;
            let shown = if m < 0 { format!("-{:#x}", m.unsigned_abs()) } else { format!("{m:#x}") };
            eprintln!("Unknown magic {shown}.\nMaybe you are feeding me an image with raw data(i.e. pages.img)?");
            ExitCode::from(1)
        }
        Err(Failure::Image(e)) => {
            eprintln!("criu-image: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Io(e)) => {
            eprintln!("criu-image: {e}");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    /// `-h`: the command's usage on stdout, success.
    Help,
    Usage(String),
    Image(ImageError),
    Io(String),
}

impl From<ImageError> for Failure {
    fn from(e: ImageError) -> Self {
        Failure::Image(e)
    }
}

/// The parsed command line of one subcommand.
#[derive(Default)]
struct Args {
    input: Option<String>,
    output: Option<String>,
    pretty: bool,
    nopl: bool,
    positional: Vec<String>,
}

fn parse(args: &[String], with_value: &[(&str, &str)], flags: &[&str]) -> Result<Args, Failure> {
    let mut out = Args::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "-h" || arg == "--help" {
            print!("{USAGE}{COMMANDS}");
            return Err(Failure::Help);
        }
        if flags.contains(&arg.as_str()) {
            match arg.as_str() {
                "--pretty" => out.pretty = true,
                _ => out.nopl = true,
            }
            continue;
        }
        let mut matched = false;
        for &(short, long) in with_value {
            let value = if arg == short || arg == long {
                let v = args
                    .get(i)
                    .cloned()
                    .ok_or_else(|| Failure::Usage(format!("argument {short}/{long}: expected one argument")))?;
                i += 1;
                Some(v)
            } else if let Some(v) = arg.strip_prefix(&format!("{long}=")) {
                Some(v.to_string())
            } else if arg.len() > 2 && arg.starts_with(short) {
                Some(arg[2..].to_string())
            } else {
                None
            };
            if let Some(v) = value {
                if long == "--in" {
                    out.input = Some(v);
                } else {
                    out.output = Some(v);
                }
                matched = true;
                break;
            }
        }
        if !matched {
            if arg.starts_with('-') && arg != "-" {
                return Err(Failure::Usage(format!("unrecognized arguments: {arg}")));
            }
            out.positional.push(arg.clone());
        }
    }
    Ok(out)
}

fn read_input(path: Option<&str>) -> Result<Vec<u8>, Failure> {
    let mut data = Vec::new();
    match path {
        Some(p) => {
            std::fs::File::open(p)
                .and_then(|mut f| f.read_to_end(&mut data))
                .map_err(|e| Failure::Io(format!("{p}: {e}")))?;
        }
        None => {
            std::io::stdin().read_to_end(&mut data).map_err(|e| Failure::Io(format!("stdin: {e}")))?;
        }
    }
    Ok(data)
}

/// An image to decode: refused from its first words when they are no
/// image magic (as crit does, so a raw pages file is not read whole).
fn read_image(path: Option<&str>) -> Result<Vec<u8>, Failure> {
    if let Some(p) = path {
        let mut head = Vec::with_capacity(8);
        std::fs::File::open(p)
            .and_then(|f| f.take(8).read_to_end(&mut head))
            .map_err(|e| Failure::Io(format!("{p}: {e}")))?;
        if let Err(e @ (ImageError::UnknownMagic(_) | ImageError::NoHandler(_))) = magic_name(&head) {
            return Err(e.into());
        }
    }
    read_input(path)
}

fn write_output(path: Option<&str>, data: &[u8]) -> Result<(), Failure> {
    match path {
        Some(p) => std::fs::write(p, data).map_err(|e| Failure::Io(format!("{p}: {e}"))),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(data).and_then(|_| stdout.flush()).map_err(|e| Failure::Io(format!("stdout: {e}")))
        }
    }
}

fn run(args: &[String]) -> Result<(), Failure> {
    let Some((cmd, rest)) = args.split_first() else {
        return Err(Failure::Usage("too few arguments".into()));
    };
    let io = [("-i", "--in"), ("-o", "--out")];
    match cmd.as_str() {
        "-h" | "--help" => {
            print!("{USAGE}{COMMANDS}");
            Ok(())
        }
        "--version" => {
            println!("criu-image (libcriu-rs {}; CRIU 4.2.1 images)", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "decode" | "show" => {
            let a = if cmd == "decode" { parse(rest, &io, &["--pretty"])? } else { parse(rest, &[], &["--nopl"])? };
            let (input, output, pretty) = if cmd == "decode" {
                if !a.positional.is_empty() {
                    return Err(Failure::Usage(format!("unrecognized arguments: {}", a.positional.join(" "))));
                }
                (a.input, a.output, a.pretty)
            } else {
                match a.positional.as_slice() {
                    [one] => (Some(one.clone()), None, true),
                    _ => return Err(Failure::Usage("show takes one image".into())),
                }
            };
            let image = decode(&read_image(input.as_deref())?, pretty, a.nopl)?;
            let mut text = pyjson::to_string(&image, pretty.then_some(4));
            if output.is_none() {
                text.push('\n');
            }
            write_output(output.as_deref(), text.as_bytes())
        }
        "encode" => {
            let a = parse(rest, &io, &[])?;
            let data = read_input(a.input.as_deref())?;
            let json: serde_json::Value = serde_json::from_slice(&data)
                .map_err(|e| Failure::Io(format!("Cannot read JSON ({e}). Encode expects JSON input.")))?;
            write_output(a.output.as_deref(), &encode(&json)?)
        }
        "info" => {
            let a = parse(rest, &[], &[])?;
            let [path] = a.positional.as_slice() else {
                return Err(Failure::Usage("info takes one image".into()));
            };
            let text = pyjson::to_string(&info(&read_image(Some(path))?)?, Some(4));
            write_output(None, format!("{text}\n").as_bytes())
        }
        "x" => {
            let a = parse(rest, &[], &[])?;
            let [dir, what] = a.positional.as_slice() else {
                return Err(Failure::Usage("x takes a directory and one of ps, fds, mems, rss".into()));
            };
            let what = Explore::from_name(what).ok_or_else(|| {
                Failure::Usage(format!(
                    "argument what: invalid choice: '{what}' (choose from 'ps', 'fds', 'mems', 'rss')"
                ))
            })?;
            write_output(None, explore(Path::new(dir), what)?.as_bytes())
        }
        other => Err(Failure::Usage(format!("argument command: invalid choice: '{other}'"))),
    }
}
