//! Tmp files: the caller's own files, saved into the dump and put back before
//! the restore (`criu_add_tmp_file`).
//!
//! A process tree often needs files that nobody keeps: a socket directory
//! under /tmp, a lock file, a scratch file. When one is deleted between
//! checkpoint and restore, the restore fails. The caller names such paths;
//! [`save`] copies them into the images directory while the tree is frozen,
//! and [`restore`] writes them back before criu restores the tree. Everything
//! happens inside the library: no tar process, no path to the images
//! directory (only its descriptor).
//!
//! # What can be saved
//! A path naming a regular file, a directory (saved with everything below it)
//! or a symlink (saved as the link itself, never followed). Devices, fifos
//! and sockets are refused, also inside a saved directory, and so is a
//! missing path. Parent directories of a named path are resolved once, when
//! it is added ([`check_path`]); the path recorded is that resolved one, so
//! the put-back never needs to follow a symlink.
//!
//! What `cp -a` and `tar --sparse --xattrs --acls` keep is kept: owner,
//! permission bits and mtime; the holes of a sparse file (found with
//! SEEK_DATA/SEEK_HOLE, only the data between them is stored, and the
//! put-back leaves the holes unallocated); hard links between saved files
//! (a further name of a file saved earlier is stored as a link to it and
//! put back as one); and the extended attributes in the `user.`,
//! `security.` (file capabilities among them) and `trusted.` namespaces
//! and the POSIX ACLs (`system.posix_acl_access`, `system.posix_acl_default`).
//!
//! The whole archive may not exceed a limit (by default [`DEFAULT_LIMIT`]):
//! the copy runs while the tree is frozen, so the limit bounds both the
//! freeze time and the disk space a careless path (say, a home directory)
//! would take. It counts the bytes stored, so a sparse file counts for its
//! data, not its apparent size.
//!
//! # The archive format
//! One file, [`ARCHIVE_NAME`], in the images directory. All integers are
//! little-endian; there is no padding or alignment.
//!
//! ```text
//! archive header, 32 bytes
//!    0  [u8; 8]  magic "LCRIUTMP"
//!    8  u32      format version, 2 (version 1, without holes, hard links
//!                and attributes, is refused with a message saying so)
//!   12  u32      reserved, 0
//!   16  u64      number of entries
//!   24  u64      length of the whole archive in bytes
//! then each entry:
//!   entry header, 48 bytes
//!    0  u8       type: 1 regular file, 2 directory, 3 symlink, 4 hard link
//!    1  u8       flags: bit 0 set for a path the caller named (a "root");
//!                bit 1 set for a sparse regular file; other bits 0
//!    2  u16      path length (at most 4095)
//!    4  u32      mode: permission bits of st_mode (at most 0o7777)
//!    8  u32      owner uid
//!   12  u32      owner gid
//!   16  i64      mtime, seconds since the epoch
//!   24  u32      mtime, nanoseconds
//!   28  u32      length of the extended-attribute records
//!   32  u64      data length: bytes stored (see data)
//!   40  u64      a regular file's size; 0 for the other types
//!   path         the absolute path, without terminating NUL
//!   attributes   records, names in ascending order, each:
//!                  u8 name length, u32 value length (at most 65536),
//!                  name (no NUL), value
//!   data         a regular file: its bytes (data length = size), or when
//!                  sparse: u64 extent count n, n times (u64 offset,
//!                  u64 length), then each extent's bytes; extents are
//!                  non-empty, ascending, apart, within the size, and
//!                  what lies between them is a hole;
//!                a symlink: its target; a hard link: the path of the
//!                  regular-file entry before it that it is another name
//!                  of (a hard link has no attributes of its own: they
//!                  are its file's); a directory: nothing
//!   checksum     16 bytes: XXH3-128 (seed 0) of the entry's header, path,
//!                attributes and data, as a little-endian u128
//! ```
//!
//! Entries come in depth-first pre-order: a root, then (for a directory) the
//! entries below it, each directory before its contents. A non-root entry's
//! parent is the nearest directory entry before it whose path is its path
//! minus the last component. Paths are absolute and normalized (no empty,
//! `.` or `..` component, no trailing `/`), each component at most 255 bytes.
//!
//! The checksum detects corruption (an images directory copied between hosts
//! and damaged on the way); it is not a signature. XXH3 hashes at about
//! 17 GB/s on the project's machine, ten times SHA-256's 1.8 GB/s, so the
//! cost of checking is that of reading the data once more, not of the hash.
//!
//! # Untrusted archives
//! At restore the archive comes from wherever the images directory came
//! from. Before anything is written, the whole archive is parsed and checked:
//! its size against the limit, the entry count, each path's syntax and its
//! place in the tree (no entry outside a root recorded in the archive, no
//! duplicates), and every checksum. Writing then walks each root's parents
//! from `/` one component at a time with `O_NOFOLLOW`, and refuses a symlink
//! or a non-directory on the way, so a link planted after the dump cannot
//! redirect a write. A large file whose directory exists is copied during
//! the checks into an unnamed file (`O_TMPFILE`) in that directory, on the
//! second core while its checksum is computed; unnamed, it is invisible and
//! vanishes should a check fail. Each file and symlink is created (or, when
//! staged, linked) under a temporary name beside its target and renamed
//! into place: a crash leaves the old file or
//! the new one, never a half-written one (data is not fsync'ed, as criu
//! does not sync its images either).
//!
//! Errors are [`Error::InvalidArgument`] with a message that names the path,
//! or the archive and the entry.
//!
//! # Trust
//! The images directory is as trusted as criu itself treats it: a restore
//! runs the code and takes the credentials its images hold, so whoever can
//! write the images can already run anything as the restored tree. The
//! put-back therefore writes what the archive says, owners, set-id bits,
//! file capabilities and ACLs included, wherever it says. What it refuses
//! anyway, because no dump writes it: a damaged archive (checksums), one
//! larger than the restore's limit, relative or unnormalized paths, entries
//! outside the directories saved before them, duplicates, a symlink or
//! non-directory on the way to an entry or in the place of a saved
//! directory (never followed, never replaced), attribute names outside the
//! namespaces above, devices, fifos and sockets.
//!
//! # Use
//! ```no_run
//! use std::os::fd::AsFd;
//! use criu::tmpfile;
//! # fn main() -> criu::Result<()> {
//! let images = std::fs::File::open("/tmp/images").unwrap();
//! // When the caller adds a path: refuse mistakes early, keep the resolved path.
//! let path = tmpfile::check_path("/tmp/app.d".as_ref())?;
//! // Before the dump starts: the whole walk and the limit, copying nothing.
//! tmpfile::check(&[path.clone()], tmpfile::DEFAULT_LIMIT)?;
//! // While criu holds the tree frozen; discard() if criu fails afterwards.
//! tmpfile::save(&[path], images.as_fd(), tmpfile::DEFAULT_LIMIT)?;
//! // Before criu restores the tree.
//! // (restore_only() narrows the put-back to some of the saved paths.)
//! for entry in tmpfile::restore(images.as_fd(), tmpfile::DEFAULT_LIMIT)? {
//!     println!("put back: {entry}");
//! }
//! # Ok(())
//! # }
//! ```

mod archive;
mod restore;
mod save;
mod xattr;

use std::fmt;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The archive's file name inside the images directory. criu's own images
/// are `<name>-<id>.img` or `<name>.img` with criu's names; the `libcriu-`
/// prefix keeps ours out of their way.
pub const ARCHIVE_NAME: &str = "libcriu-tmpfiles.img";

/// The default upper bound, in bytes, of the whole archive (headers, paths
/// and data). Tmp files are meant for small state (sockets' directories,
/// lock and config files), and the copy holds the tree frozen: 64 MiB adds
/// a few tens of milliseconds to the freeze at this machine's copy speed,
/// while a mistaken path such as a home directory fails fast with a clear
/// error instead of freezing the tree for minutes. A caller with bigger
/// files raises it.
pub const DEFAULT_LIMIT: u64 = 64 << 20;

/// The most entries an archive may hold; bounds what a hostile archive can
/// make the restore allocate.
pub const MAX_ENTRIES: u64 = 1 << 20;

/// The longest path an entry may have, in bytes (PATH_MAX less its NUL).
pub const MAX_PATH: usize = 4095;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    /// A further name of a regular file saved earlier in the archive.
    HardLink,
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
            EntryKind::HardLink => "hardlink",
        })
    }
}

/// One entry of an archive, as [`list`] shows it and [`restore`] reports
/// what it put back. Its `Display` is one line for a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    pub path: PathBuf,
    pub kind: EntryKind,
    /// Permission bits (at most 0o7777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime_sec: i64,
    pub mtime_nsec: u32,
    /// A regular file's size (holes included), a hard link's file's size,
    /// or the length of a symlink's target.
    pub size: u64,
    /// Bytes the entry's data takes in the archive: less than `size` for a
    /// sparse file (its holes are not stored).
    pub stored: u64,
    /// True for a regular file stored with its holes.
    pub sparse: bool,
    /// The symlink's target, or for a hard link the path of the file it is
    /// another name of.
    pub link_target: Option<PathBuf>,
    /// Names of the extended attributes kept (ACLs included).
    pub xattrs: Vec<String>,
    /// The entry's XXH3-128 checksum as stored.
    pub checksum: u128,
    /// True for a path the caller named (rather than one found below it).
    pub root: bool,
}

impl fmt::Display for EntryInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<7} {:04o} {}:{} {:>10} {}",
            self.kind,
            self.mode,
            self.uid,
            self.gid,
            self.size,
            self.path.display()
        )?;
        match (&self.link_target, self.kind) {
            (Some(target), EntryKind::HardLink) => write!(f, " = {}", target.display())?,
            (Some(target), _) => write!(f, " -> {}", target.display())?,
            (None, _) => {}
        }
        if self.sparse {
            write!(f, " (sparse, {} bytes stored)", self.stored)?;
        }
        if !self.xattrs.is_empty() {
            write!(f, " [{}]", self.xattrs.join(","))?;
        }
        Ok(())
    }
}

/// What [`save`] (or [`check`]) found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaveSummary {
    /// Files, directories and symlinks saved.
    pub entries: u64,
    /// Bytes of file contents and symlink targets.
    pub data_bytes: u64,
    /// Size of the whole archive, the figure compared with the limit.
    pub archive_bytes: u64,
}

/// Check a path the caller wants saved and return the path that will be
/// recorded: made absolute and with its parent directories resolved, so
/// that the put-back never has to follow a symlink on the way. Refuses a
/// missing path and anything but a regular file, a directory or a symlink.
/// Meant for add time, so that a mistake is reported before criu runs.
pub fn check_path(path: &Path) -> Result<PathBuf> {
    save::check_path(path)
}

/// Walk everything `paths` would save, without copying: refuses a path or
/// anything below it that cannot be saved, and an archive that would exceed
/// `limit` bytes. Lets a caller report those before criu freezes the tree.
pub fn check(paths: &[PathBuf], limit: u64) -> Result<SaveSummary> {
    save::check(paths, limit)
}

/// Save `paths` (each as [`check_path`] accepts it) into [`ARCHIVE_NAME`] in
/// the images directory. Meant to run while the tree is frozen. The archive
/// is written under a temporary name and renamed into place only when
/// complete, so a failure leaves nothing behind; if criu fails after this,
/// [`discard`] removes the archive. With no paths, an archive left by an
/// earlier dump into the same directory is removed, so that a restore does
/// not bring back stale files.
pub fn save(paths: &[PathBuf], images_dir: BorrowedFd<'_>, limit: u64) -> Result<SaveSummary> {
    save::save(paths, images_dir, limit)
}

/// Remove the archive (and any partial one) from the images directory, for
/// a dump that failed after [`save`]. Succeeds when there is none.
pub fn discard(images_dir: BorrowedFd<'_>) -> Result<()> {
    save::discard(images_dir)
}

/// Put back every entry of the images directory's archive, before criu
/// restores the tree. Returns what was written, in archive order, and an
/// empty list when there is no archive. The archive is checked whole first
/// (size against `limit`, structure, every checksum), and so are the
/// directories on the way (no symlink, no non-directory where a directory
/// belongs); when a check fails, nothing is written. A failure while
/// writing (a full disk, say) stops there and leaves the entries before it
/// in place.
pub fn restore(images_dir: BorrowedFd<'_>, limit: u64) -> Result<Vec<EntryInfo>> {
    restore::restore(images_dir, limit, None)
}

/// [`restore`] narrowed to `paths`: only the entries at or below one of
/// them are written (with the saved directories on the way to them); the
/// others stay in the archive, unchecked but for its structure. A hard link
/// whose other name is left out is written as a copy of that file. `paths`
/// are compared as recorded, absolute and resolved (see [`check_path`]).
pub fn restore_only(images_dir: BorrowedFd<'_>, limit: u64, paths: &[PathBuf]) -> Result<Vec<EntryInfo>> {
    restore::restore(images_dir, limit, Some(paths))
}

/// What a restore does with the tmp files: put back every entry of the
/// archive when `named` is empty, else those at or below the paths in it
/// ([`restore_only`]). Shared by the library's restore and the action-script
/// hook, so both put back the same things.
pub fn put_back(images_dir: BorrowedFd<'_>, limit: u64, named: &[PathBuf]) -> Result<Vec<EntryInfo>> {
    restore::restore(images_dir, limit, (!named.is_empty()).then_some(named))
}

/// The entries of the images directory's archive, without checking their
/// checksums or writing anything; empty when there is no archive.
pub fn list(images_dir: BorrowedFd<'_>) -> Result<Vec<EntryInfo>> {
    let Some(archive) = archive::Archive::open(images_dir, u64::MAX, false)? else {
        return Ok(Vec::new());
    };
    Ok(archive::infos(&archive.entries()?, |_| true))
}

/// The one error of this module: tell the caller which path and why.
fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

/// An operating-system failure on `what`.
fn os_error(what: impl fmt::Display, err: rustix::io::Errno) -> Error {
    invalid(format!("{what}: {}", std::io::Error::from(err)))
}
