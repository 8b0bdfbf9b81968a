//! `criu-tmpfiles-hook`: tmp files for every user of criu, as an action
//! script. criu runs it at each step of a dump or restore named in
//! `CRTOOLS_SCRIPT_ACTION`, with the images directory in
//! `CRTOOLS_IMAGE_DIR`; it acts at two of them and ignores the others:
//!
//! - `pre-dump` (before criu freezes the tree): removes an archive left in
//!   the images directory by an earlier dump, so that a restore does not
//!   bring back stale files.
//! - `post-dump` (the tree is dumped and still frozen): saves the listed
//!   paths into the images directory, with the archive, checks and limit of
//!   the library's `criu_add_tmp_file()`. A failure fails the dump, and the
//!   tree goes on running.
//! - `pre-restore` (before criu creates the tree): puts back what the images
//!   hold, every entry, or with paths listed, those at or below them. A
//!   failure fails the restore before anything is written.
//!
//! Set it in a criu configuration file (`action-script /usr/libexec/criu-tmpfiles-hook`),
//! which runc, podman, crun and LXC users can set, or with
//! `criu --action-script`; criu runs it without arguments.
//!
//! # The list of paths
//! - `LIBCRIU_TMP_FILES`, if set: absolute paths separated by `:`;
//! - otherwise the file named by `LIBCRIU_TMP_FILES_CONF`, by default
//!   `/etc/criu/tmp-files.conf` (a missing default file lists nothing):
//!   one absolute path per line; empty lines and lines starting with `#`
//!   are skipped; `limit BYTES` sets the limit (default 64 MiB, the bytes
//!   stored, as the library counts them); `put-back off` makes a restore
//!   leave the files in the images.
//! - `LIBCRIU_TMP_FILE_LIMIT`, if set, overrides the limit.
//!
//! With no path listed, `post-dump` leaves the images directory alone (a
//! program using the library may have saved its own tmp files there).
//! Errors go to standard error, which criu points at its log file, and
//! the hook exits with status 1.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use criu::{tmpfile, Error, Options};

const DEFAULT_CONF: &str = "/etc/criu/tmp-files.conf";

/// What the environment and the list file say.
struct Config {
    paths: Vec<PathBuf>,
    limit: u64,
    put_back: bool,
}

fn main() -> ExitCode {
    let Some(action) = std::env::var_os("CRTOOLS_SCRIPT_ACTION") else {
        eprintln!("criu-tmpfiles-hook: CRTOOLS_SCRIPT_ACTION is not set: run it as a criu action script");
        return ExitCode::FAILURE;
    };
    let done = match action.to_str() {
        Some("pre-dump") => images_dir().and_then(|images| tmpfile::discard(images.as_fd())),
        Some("post-dump") => config().and_then(|c| save(&c)),
        Some("pre-restore") => config().and_then(|c| put_back(&c)),
        _ => Ok(()),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("criu-tmpfiles-hook: {e}");
            ExitCode::FAILURE
        }
    }
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

fn images_dir() -> criu::Result<std::fs::File> {
    let dir = std::env::var_os("CRTOOLS_IMAGE_DIR")
        .ok_or_else(|| invalid("CRTOOLS_IMAGE_DIR is not set: run it as a criu action script".into()))?;
    std::fs::File::open(&dir).map_err(|e| invalid(format!("images directory {}: {e}", Path::new(&dir).display())))
}

fn save(c: &Config) -> criu::Result<()> {
    if c.paths.is_empty() {
        return Ok(());
    }
    let images = images_dir()?;
    tmpfile::save(&c.paths, images.as_fd(), c.limit).map(drop)
}

fn put_back(c: &Config) -> criu::Result<()> {
    if !c.put_back {
        return Ok(());
    }
    let images = images_dir()?;
    tmpfile::put_back(images.as_fd(), c.limit, &c.paths).map(drop)
}

fn config() -> criu::Result<Config> {
    let mut c = Config { paths: Vec::new(), limit: tmpfile::DEFAULT_LIMIT, put_back: true };
    let mut listed: Vec<(PathBuf, String)> = Vec::new();
    if let Some(list) = std::env::var_os("LIBCRIU_TMP_FILES") {
        let list = list.into_string().map_err(|_| invalid("LIBCRIU_TMP_FILES is not UTF-8".into()))?;
        listed.extend(list.split(':').filter(|p| !p.is_empty()).map(|p| (p.into(), "LIBCRIU_TMP_FILES".into())));
    } else {
        let named = std::env::var_os("LIBCRIU_TMP_FILES_CONF");
        let file = named.clone().map(PathBuf::from).unwrap_or_else(|| DEFAULT_CONF.into());
        match std::fs::read_to_string(&file) {
            Ok(text) => read_conf(&text, &file, &mut c, &mut listed)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && named.is_none() => {}
            Err(e) => return Err(invalid(format!("{}: {e}", file.display()))),
        }
    }
    if let Some(limit) = std::env::var_os("LIBCRIU_TMP_FILE_LIMIT") {
        c.limit = parse_limit(&limit.to_string_lossy(), "LIBCRIU_TMP_FILE_LIMIT")?;
    }
    // The paths are resolved as the library resolves those added to it, so
    // that the hook records and narrows by the same paths.
    let mut opts = Options::new();
    for (path, origin) in &listed {
        if !path.is_absolute() {
            return Err(invalid(format!("{origin}: {} is not an absolute path", path.display())));
        }
        opts.add_tmp_file(path).map_err(|e| invalid(format!("{origin}: {e}")))?;
    }
    c.paths = opts.tmp_files().to_vec();
    Ok(c)
}

fn read_conf(text: &str, file: &Path, c: &mut Config, listed: &mut Vec<(PathBuf, String)>) -> criu::Result<()> {
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        let origin = format!("{}:{}", file.display(), n + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(bytes) = line.strip_prefix("limit ") {
            c.limit = parse_limit(bytes.trim(), &origin)?;
        } else if let Some(value) = line.strip_prefix("put-back ") {
            c.put_back = match value.trim() {
                "on" => true,
                "off" => false,
                other => return Err(invalid(format!("{origin}: put-back is on or off, not {other:?}"))),
            };
        } else {
            listed.push((line.into(), origin));
        }
    }
    Ok(())
}

fn parse_limit(text: &str, origin: &str) -> criu::Result<u64> {
    text.parse().map_err(|_| invalid(format!("{origin}: the limit is a number of bytes, not {text:?}")))
}
