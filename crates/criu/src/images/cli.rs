//! `criu-image`, CRIU's `crit` (CRiu Image Tool): the command line, once.
//! The `criu-image` binary and Python's `libcriu.crit` both call [`run`],
//! so their arguments, output, error texts and exit codes cannot drift
//! apart; they are crit 4.2.1's where a test compares them.
//!
//! ```text
//! criu-image decode [--pretty] [-i IN] [-o OUT]   image -> JSON
//! criu-image encode [-i IN] [-o OUT]              JSON -> image
//! criu-image show IN [--nopl]                     decode --pretty, payloads optional
//! criu-image info IN                              magic and number of entries
//! criu-image x DIR ps|fds|mems|rss                explore a dump
//! ```
//!
//! Image files named on the command line are read through
//! [`super::container`]: a symbolic link, a FIFO or a device is refused.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::Path;

use super::codec::{magic_name, ImageError};
use super::container::{ImageFile, MAX_IMAGE};
use super::explore::{explore, Explore};
use super::image_dict::{decode, encode, info};
use super::pyjson;

/// The largest JSON text `encode` reads: an image's JSON is its base64
/// payloads and its fields' names, larger than the image.
const MAX_JSON: u64 = 4 * MAX_IMAGE;

/// The streams a run reads and writes: the process's own for the binary,
/// Python's `sys.stdin`/`sys.stdout`/`sys.stderr` for `libcriu.crit`.
pub struct Streams<'a> {
    /// Where `decode` and `encode` read when given no `-i`.
    pub stdin: &'a mut dyn Read,
    /// Where results go when given no `-o`, and `--help`.
    pub stdout: &'a mut dyn Write,
    /// Where errors go.
    pub stderr: &'a mut dyn Write,
}

/// Runs `criu-image` with `args` (the arguments after the program name)
/// and returns its exit code: 0, 1 for a failure, 2 for a usage error.
pub fn run(args: &[OsString], io: Streams<'_>) -> u8 {
    let Streams { stdin, stdout, stderr } = io;
    let result = args
        .iter()
        .map(|a| a.to_str().map(str::to_owned))
        .collect::<Option<Vec<String>>>()
        .ok_or_else(|| Failure::Usage("an argument is not valid UTF-8".into()))
        .and_then(|args| command(&args, stdin, stdout));
    let (text, code) = match result {
        Ok(()) => return 0,
        Err(Failure::Help) => {
            return match stdout.write_all(format!("{USAGE}{COMMANDS}").as_bytes()).and_then(|()| stdout.flush()) {
                Ok(()) => 0,
                Err(_) => 1,
            }
        }
        Err(Failure::Usage(msg)) => (format!("{USAGE}criu-image: error: {msg}\n"), 2),
        Err(Failure::Image(ImageError::UnknownMagic(m))) => {
            // crit reads the magic as a signed int and prints it with %#x.
            let m = m as i32;
            let shown = if m < 0 { format!("-{:#x}", m.unsigned_abs()) } else { format!("{m:#x}") };
            (format!("Unknown magic {shown}.\nMaybe you are feeding me an image with raw data(i.e. pages.img)?\n"), 1)
        }
        Err(Failure::Image(e)) => (format!("criu-image: {e}\n"), 1),
        Err(Failure::Io(e)) => (format!("criu-image: {e}\n"), 1),
    };
    // Nothing better is left to do when the error stream fails too.
    let _ = stderr.write_all(text.as_bytes()).and_then(|()| stderr.flush());
    code
}

const USAGE: &str = "usage: criu-image [-h] [--version] {decode,encode,info,x,show} ...\n";
const COMMANDS: &str = "
  decode [--pretty] [-i IN] [-o OUT]  convert criu image from binary type to json
  encode [-i IN] [-o OUT]             convert criu image from json type to binary
  info IN                             show info about image
  x DIR {ps,fds,mems,rss}             explore image dir
  show IN [--nopl]                    convert criu image from binary to human-readable json
";

/// How a run ends, when not with success.
enum Failure {
    /// `-h`: the command's usage on stdout, success.
    Help,
    /// A command line crit's argparse would refuse (exit 2).
    Usage(String),
    /// The image could not be decoded or encoded.
    Image(ImageError),
    /// A file or stream could not be read or written.
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

/// All of `input`, at most `limit` bytes.
fn read_stream(input: &mut dyn Read, limit: u64) -> Result<Vec<u8>, Failure> {
    let mut data = Vec::new();
    input.take(limit + 1).read_to_end(&mut data).map_err(|e| Failure::Io(format!("stdin: {e}")))?;
    if data.len() as u64 > limit {
        return Err(Failure::Io(format!("stdin: more than the {limit} bytes accepted")));
    }
    Ok(data)
}

/// The JSON text `encode` reads: the file `path`, or stdin.
fn read_json(path: Option<&str>, stdin: &mut dyn Read) -> Result<Vec<u8>, Failure> {
    match path {
        Some(p) => {
            ImageFile::open(Path::new(p)).and_then(|f| f.read_to_end(MAX_JSON)).map_err(|e| Failure::Io(e.to_string()))
        }
        None => read_stream(stdin, MAX_JSON),
    }
}

/// An image to decode, from the file `path` or stdin. A file is refused
/// from its first words when they are no image magic (as crit does, so a
/// raw pages file is not read whole).
fn read_image(path: Option<&str>, stdin: &mut dyn Read) -> Result<Vec<u8>, Failure> {
    let Some(p) = path else { return read_stream(stdin, MAX_IMAGE) };
    let file = ImageFile::open(Path::new(p)).map_err(|e| Failure::Io(e.to_string()))?;
    let head = file.head(8).map_err(|e| Failure::Io(e.to_string()))?;
    if let Err(e @ (ImageError::UnknownMagic(_) | ImageError::NoHandler(_))) = magic_name(&head) {
        return Err(e.into());
    }
    file.read_to_end(MAX_IMAGE).map_err(|e| Failure::Io(e.to_string()))
}

fn write_output(path: Option<&str>, data: &[u8], stdout: &mut dyn Write) -> Result<(), Failure> {
    match path {
        Some(p) => std::fs::write(p, data).map_err(|e| Failure::Io(format!("{p}: {e}"))),
        None => stdout.write_all(data).and_then(|()| stdout.flush()).map_err(|e| Failure::Io(format!("stdout: {e}"))),
    }
}

/// One command line, its output written to `stdout` or its `-o` file.
fn command(args: &[String], stdin: &mut dyn Read, stdout: &mut dyn Write) -> Result<(), Failure> {
    let Some((cmd, rest)) = args.split_first() else {
        return Err(Failure::Usage("too few arguments".into()));
    };
    let io = [("-i", "--in"), ("-o", "--out")];
    match cmd.as_str() {
        "-h" | "--help" => Err(Failure::Help),
        "--version" => {
            let text = format!("criu-image (libcriu-rs {}; CRIU 4.2.1 images)\n", env!("CARGO_PKG_VERSION"));
            write_output(None, text.as_bytes(), stdout)
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
            let image = decode(&read_image(input.as_deref(), stdin)?, pretty, a.nopl)?;
            let mut text = pyjson::to_string(&image, pretty.then_some(4));
            if output.is_none() {
                text.push('\n');
            }
            write_output(output.as_deref(), text.as_bytes(), stdout)
        }
        "encode" => {
            let a = parse(rest, &io, &[])?;
            let data = read_json(a.input.as_deref(), stdin)?;
            let json: serde_json::Value = serde_json::from_slice(&data)
                .map_err(|e| Failure::Io(format!("Cannot read JSON ({e}). Encode expects JSON input.")))?;
            write_output(a.output.as_deref(), &encode(&json)?, stdout)
        }
        "info" => {
            let a = parse(rest, &[], &[])?;
            let [path] = a.positional.as_slice() else {
                return Err(Failure::Usage("info takes one image".into()));
            };
            let text = pyjson::to_string(&info(&read_image(Some(path), stdin)?)?, Some(4));
            write_output(None, format!("{text}\n").as_bytes(), stdout)
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
            write_output(None, explore(Path::new(dir), what)?.as_bytes(), stdout)
        }
        other => Err(Failure::Usage(format!("argument command: invalid choice: '{other}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `criu-image ARGS` with `stdin`: (exit code, stdout, stderr).
    fn crit(args: &[&str], stdin: &[u8]) -> (u8, Vec<u8>, String) {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(&args, Streams { stdin: &mut &stdin[..], stdout: &mut out, stderr: &mut err });
        (code, out, String::from_utf8(err).unwrap())
    }

    fn scratch(what: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("libcriu-rs-cli-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A pstree image of one task, as criu writes it.
    fn pstree() -> Vec<u8> {
        let json = serde_json::json!({"magic": "PSTREE", "entries": [{"pid": 7, "ppid": 0, "pgid": 7, "sid": 7}]});
        encode(&json).unwrap()
    }

    #[test]
    fn usage_errors_and_help_as_crit_gives_them() {
        assert_eq!(crit(&[], b""), (2, Vec::new(), format!("{USAGE}criu-image: error: too few arguments\n")));
        let (code, _, err) = crit(&["bogus"], b"");
        assert_eq!(
            (code, err.lines().last()),
            (2, Some("criu-image: error: argument command: invalid choice: 'bogus'"))
        );
        let (code, out, err) = crit(&["show", "-h"], b"");
        assert_eq!((code, err.as_str()), (0, ""));
        assert!(String::from_utf8(out).unwrap().starts_with(USAGE));
    }

    #[test]
    fn decodes_stdin_and_encodes_back() {
        let (code, json, err) = crit(&["decode"], &pstree());
        assert_eq!((code, err.as_str()), (0, ""));
        assert_eq!(
            String::from_utf8(json.clone()).unwrap(),
            "{\"magic\": \"PSTREE\", \"entries\": [{\"pid\": 7, \"ppid\": 0, \"pgid\": 7, \"sid\": 7}]}\n"
        );
        assert_eq!(crit(&["encode"], &json), (0, pstree(), String::new()));
        let (code, _, err) = crit(&["decode"], b"\x01\x00\x00\x00raw page data");
        assert_eq!(code, 1);
        assert_eq!(err, "Unknown magic 0x1.\nMaybe you are feeding me an image with raw data(i.e. pages.img)?\n");
    }

    #[test]
    fn image_files_go_through_the_container_reader() {
        let dir = scratch("files");
        let image = dir.join("pstree.img");
        std::fs::write(&image, pstree()).unwrap();
        let (code, out, _) = crit(&["info", image.to_str().unwrap()], b"");
        assert_eq!(
            (code, String::from_utf8(out).unwrap().as_str()),
            (0, "{\n    \"magic\": \"PSTREE\",\n    \"count\": 1\n}\n")
        );
        let link = dir.join("link.img");
        std::os::unix::fs::symlink(&image, &link).unwrap();
        for args in [vec!["show", link.to_str().unwrap()], vec!["decode", "-i", link.to_str().unwrap()]] {
            let (code, out, err) = crit(&args, b"");
            assert_eq!((code, out.len()), (1, 0));
            assert_eq!(err, format!("criu-image: {}: a symbolic link, not followed\n", link.display()));
        }
        // x reads the directory through the same reader.
        std::fs::rename(&image, dir.join("real.img")).unwrap();
        std::os::unix::fs::symlink(dir.join("real.img"), &image).unwrap();
        let (code, _, err) = crit(&["x", dir.to_str().unwrap(), "ps"], b"");
        assert_eq!(code, 1);
        assert_eq!(err, format!("criu-image: {}: a symbolic link, not followed\n", dir.join("pstree.img").display()));
        let (code, _, err) = crit(&["info", "/dev/null"], b"");
        assert_eq!((code, err.as_str()), (1, "criu-image: /dev/null: not a regular file but a character device\n"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
