//! The operations: each builds one request from the options, runs it
//! through the crate's one exchange with criu (which answers notifications
//! on the way) and turns the answer into a result. Migration's requests are
//! in [`crate::migrate`], a sibling over the same exchange.

use std::path::PathBuf;

use crate::criu_log;
use crate::error::{Error, Result};
use crate::exchange::{call, call_with, connect, exchange, missing, no_hook, request};
use crate::notify::Notification;
use crate::options::{Options, Service, DEFAULT_SERVICE_BINARY};
use crate::rpc::{CriuFeatures, CriuOpts, CriuReqType};
use crate::service::Launch;
use crate::tmpfile;

/// What a successful dump reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpOutcome {
    /// True when this call returns in the restored copy of a self-dumped
    /// process rather than in the original.
    pub restored: bool,
}

/// The version of the criu binary that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: i32,
    pub minor: i32,
    pub sublevel: Option<i32>,
    pub extra: Option<i32>,
    pub gitid: Option<String>,
    pub name: Option<String>,
}

impl Version {
    /// The single number libcriu reports: `major * 10000 + minor * 100 +
    /// sublevel`; a build from a git checkout counts as the next minor.
    pub fn as_number(&self) -> i32 {
        let mut n = self.major * 10000 + self.minor * 100 + self.sublevel.unwrap_or(0);
        if self.gitid.is_some() {
            n = n - n % 100 + 100;
        }
        n
    }
}

/// Features a caller can ask criu about; in answers, true means available.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    pub mem_track: bool,
    pub lazy_pages: bool,
    pub pidfd_store: bool,
}

/// Ask criu whether it can checkpoint and restore on this system.
///
/// Unlike upstream libcriu, the request carries the options, which criu
/// 4.x needs (it crashes without them); when no images directory is set, a
/// temporary one is used and removed afterwards. It is passed as a
/// descriptor: criu 4.1 fails on an `images_dir` path that is not a symlink.
pub fn check(opts: &mut Options) -> Result<()> {
    let mut rpc = opts.rpc.clone();
    let scratch = if rpc.images_dir_fd < 0 && rpc.images_dir.is_none() {
        let dir = ScratchDir::new()?;
        rpc.images_dir_fd = dir.fd();
        Some(dir)
    } else {
        None
    };
    let result = call(opts, request(CriuReqType::Check, Some(rpc)), Launch::Request).map(|_| ());
    drop(scratch);
    result
}

/// Checkpoint the tree rooted at the configured pid (the caller itself when
/// none is set) into the images directory. With tmp files added, they are
/// checked before criu runs and saved while the tree is frozen; when the
/// dump fails, their archive is removed again.
pub fn dump(opts: &mut Options) -> Result<DumpOutcome> {
    let launch = if opts.rpc.pid.is_none() { Launch::Detached } else { Launch::Request };
    let mut rpc = opts.rpc.clone();
    let resp = if opts.tmp_files.is_empty() {
        // A restore puts back whatever archive its images hold: one left by
        // an earlier dump into this directory must not come back with this
        // one. (An action-script hook saving at post-dump runs after this.)
        if let Ok(images) = ImagesDir::of(&rpc) {
            tmpfile::discard(images.fd())?;
        }
        call(opts, request(CriuReqType::Dump, Some(rpc)), launch)?
    } else {
        let images = ImagesDir::of(&rpc)?;
        tmpfile::check(&opts.tmp_files, opts.tmp_file_limit)?;
        // Notifications are asked for only here, so every other request
        // stays as upstream sends it.
        rpc.notify_scripts = Some(true);
        let (paths, limit) = (opts.tmp_files.clone(), opts.tmp_file_limit);
        let mut saved = false;
        let mut save_at_post_dump = |note: &Notification| {
            if note.action() == "post-dump" {
                tmpfile::save(&paths, images.fd(), limit)?;
                saved = true;
            }
            Ok(())
        };
        let result = call_with(opts, request(CriuReqType::Dump, Some(rpc)), launch, &mut save_at_post_dump);
        if result.is_err() && saved {
            let _ = tmpfile::discard(images.fd());
        }
        result?
    };
    Ok(DumpOutcome { restored: resp.dump.and_then(|d| d.restored).unwrap_or(false) })
}

/// Put the tmp files of the images back before a restore: every entry of
/// the archive, or, when the restore's options name tmp files, those at or
/// below them; nothing when the options turn the put-back off.
fn put_back_tmp_files(opts: &Options, rpc: &CriuOpts) -> Result<()> {
    if !opts.tmp_file_put_back {
        return Ok(());
    }
    let images = match ImagesDir::of(rpc) {
        Ok(images) => images,
        // No images directory: criu itself will say so.
        Err(_) if opts.tmp_files.is_empty() => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in tmpfile::put_back(images.fd(), opts.tmp_file_limit, &opts.tmp_files)? {
        criu_log::library_note(rpc, &format!("put back {} ({} bytes)", entry.path.display(), entry.size));
    }
    Ok(())
}

/// One pre-dump: memory only, the tree keeps running.
pub fn pre_dump(opts: &mut Options) -> Result<()> {
    call(opts, request(CriuReqType::SinglePreDump, Some(opts.rpc.clone())), Launch::Request).map(|_| ())
}

/// Pre-dump repeatedly on one connection, then dump. After each pre-dump
/// `more` is asked: positive for another iteration, 0 for the final dump,
/// negative to stop (the value becomes [`Error::Callback`]). `more` may change
/// the options (typically the images and parent directories): each request is
/// built from the options as they are when it is sent.
pub fn dump_iters(opts: &mut Options, mut more: impl FnMut(&mut Options) -> i32) -> Result<()> {
    if opts.rpc.pid.is_none() {
        return Err(Error::InvalidArgument(
            "iterative dump needs the pid of the tree (it cannot dump the caller)".into(),
        ));
    }
    let (service, rpc) = (opts.service.clone(), opts.rpc.clone());
    let mut conn = connect(opts, &service, &rpc, Launch::Request)?;
    loop {
        exchange(&mut conn, opts, &request(CriuReqType::PreDump, Some(opts.rpc.clone())), &mut no_hook)?;
        match more(opts) {
            n if n < 0 => return Err(Error::Callback(n)),
            0 => break,
            _ => {}
        }
    }
    exchange(&mut conn, opts, &request(CriuReqType::Dump, Some(opts.rpc.clone())), &mut no_hook).map(|_| ())
}

/// Restore the tree from the images directory; returns the pid of its root.
/// The restored tree is criu's child and is reparented when criu exits.
pub fn restore(opts: &mut Options) -> Result<i32> {
    put_back_tmp_files(opts, &opts.rpc)?;
    let launch = Launch::restore(&opts.rpc);
    let resp = call(opts, request(CriuReqType::Restore, Some(opts.rpc.clone())), launch)?;
    resp.restore.map(|r| r.pid).ok_or_else(|| missing("restored pid"))
}

/// Restore the tree as a child of the caller; returns the pid of its root.
///
/// This needs criu started by the library, so a service socket or fd
/// setting is overridden with the default `criu` binary for this call, as
/// upstream does. Unlike upstream, the `rst_sibling` flag goes into this
/// request only and does not stick to the options.
pub fn restore_child(opts: &mut Options) -> Result<i32> {
    let service = match &opts.service {
        Service::Binary(_) => opts.service.clone(),
        _ => Service::Binary(PathBuf::from(DEFAULT_SERVICE_BINARY)),
    };
    let mut rpc = opts.rpc.clone();
    rpc.rst_sibling = Some(true);
    put_back_tmp_files(opts, &rpc)?;
    let mut conn = connect(opts, &service, &rpc, Launch::restore(&rpc))?;
    let resp = exchange(&mut conn, opts, &request(CriuReqType::Restore, Some(rpc)), &mut no_hook)?;
    resp.restore.map(|r| r.pid).ok_or_else(|| missing("restored pid"))
}

/// The version of the criu binary the options reach.
pub fn version(opts: &mut Options) -> Result<Version> {
    let resp = call(opts, request(CriuReqType::Version, Some(opts.rpc.clone())), Launch::Request)?;
    let v = resp.version.ok_or_else(|| missing("version"))?;
    Ok(Version {
        major: v.major_number,
        minor: v.minor_number,
        sublevel: v.sublevel,
        extra: v.extra,
        gitid: v.gitid,
        name: v.name,
    })
}

/// Whether criu is at least `minimum` (in [`Version::as_number`] form).
pub fn check_version(opts: &mut Options, minimum: i32) -> Result<bool> {
    Ok(version(opts)?.as_number() >= minimum)
}

/// Ask criu which of the `wanted` features this system supports. Features
/// not asked about come back false.
pub fn feature_check(opts: &mut Options, wanted: Features) -> Result<Features> {
    let mut req = request(CriuReqType::FeatureCheck, Some(opts.rpc.clone()));
    let ask = |on: bool| on.then_some(true);
    req.features = Some(CriuFeatures {
        mem_track: ask(wanted.mem_track),
        lazy_pages: ask(wanted.lazy_pages),
        pidfd_store: ask(wanted.pidfd_store),
    });
    let resp = call(opts, req, Launch::Request)?;
    let got = resp.features.ok_or_else(|| missing("features"))?;
    Ok(Features {
        mem_track: got.mem_track.unwrap_or(false),
        lazy_pages: got.lazy_pages.unwrap_or(false),
        pidfd_store: got.pidfd_store.unwrap_or(false),
    })
}

/// The images directory of a request, as a descriptor: the caller's
/// `images_dir_fd`, or the `images_dir` path opened for the call.
enum ImagesDir {
    Caller(i32),
    Opened(std::fs::File),
}

impl ImagesDir {
    fn of(rpc: &CriuOpts) -> Result<ImagesDir> {
        if rpc.images_dir_fd >= 0 {
            return Ok(ImagesDir::Caller(rpc.images_dir_fd));
        }
        let Some(path) = rpc.images_dir.as_deref() else {
            return Err(Error::InvalidArgument("tmp files need an images directory (set images_dir_fd)".into()));
        };
        std::fs::File::open(path)
            .map(ImagesDir::Opened)
            .map_err(|e| Error::InvalidArgument(format!("images directory {path}: {e}")))
    }

    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::{AsFd, BorrowedFd};
        match self {
            // SAFETY: the caller keeps its images_dir_fd open for the call.
            ImagesDir::Caller(fd) => unsafe { BorrowedFd::borrow_raw(*fd) },
            ImagesDir::Opened(file) => file.as_fd(),
        }
    }
}

/// A private temporary directory, open, and removed with everything in it
/// on drop.
struct ScratchDir {
    path: PathBuf,
    dir: std::fs::File,
}

impl ScratchDir {
    fn new() -> Result<ScratchDir> {
        use std::os::unix::ffi::OsStringExt;
        let template = std::env::temp_dir().join("libcriu-check-XXXXXX");
        let mut bytes = template.into_os_string().into_vec();
        bytes.push(0);
        // SAFETY: `bytes` is a NUL-terminated template that mkdtemp rewrites
        // in place, without changing its length.
        if unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) }.is_null() {
            let e = nix::errno::Errno::last();
            return Err(Error::Connect { errno: e as i32, what: format!("temporary images directory: {}", e.desc()) });
        }
        bytes.pop();
        let path = PathBuf::from(std::ffi::OsString::from_vec(bytes));
        match std::fs::File::open(&path) {
            Ok(dir) => Ok(ScratchDir { path, dir }),
            Err(e) => {
                let _ = std::fs::remove_dir(&path);
                let errno = e.raw_os_error().unwrap_or(libc::EIO);
                Err(Error::Connect { errno, what: format!("temporary images directory: {e}") })
            }
        }
    }

    fn fd(&self) -> i32 {
        std::os::fd::AsRawFd::as_raw_fd(&self.dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_number_follows_libcriu() {
        let mut v = Version { major: 4, minor: 1, sublevel: Some(1), extra: None, gitid: None, name: None };
        assert_eq!(v.as_number(), 40101);
        v.gitid = Some("abc".into());
        assert_eq!(v.as_number(), 40200);
        v.sublevel = None;
        v.gitid = None;
        assert_eq!(v.as_number(), 40100);
    }
}
