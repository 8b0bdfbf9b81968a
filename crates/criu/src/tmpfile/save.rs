//! The dump side: resolving the caller's paths, walking them without ever
//! following a symlink, and writing the archive.

use std::collections::HashMap;
use std::ffi::CStr;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use rustix::fs::{fstat, openat, readlinkat, seek, statat, AtFlags, Dir, FileType, Mode, OFlags, SeekFrom, Stat, CWD};
use rustix::io::Errno;
use xxhash_rust::xxh3::Xxh3;

use super::archive::{archive_header, entry_header, entry_len, Lengths, Meta, ARCHIVE_HEADER};
use super::xattr::{self, Node};
use super::{invalid, os_error, EntryKind, SaveSummary, ARCHIVE_NAME, MAX_ENTRIES, MAX_PATH};
use crate::error::{Error, Result};

/// The archive's name while it is being written.
const PART_NAME: &str = "libcriu-tmpfiles.img.part";
/// The archive is written in batches of this size: many small entries per
/// write, and a size that stays in the CPU's cache between the read of a
/// file's bytes, their hash and their write.
const BATCH: usize = 256 << 10;

pub(super) fn check_path(path: &Path) -> Result<PathBuf> {
    let resolved = resolve(path)?;
    match statat(CWD, &resolved, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => kind_of(FileType::from_raw_mode(st.st_mode), resolved.as_os_str().as_bytes())?,
        Err(e) => return Err(missing_or(&resolved, e)),
    };
    Ok(resolved)
}

pub(super) fn check(paths: &[PathBuf], limit: u64) -> Result<SaveSummary> {
    let mut budget = Budget::new(limit);
    walk(paths, None, &mut budget)?;
    Ok(budget.summary)
}

pub(super) fn save(paths: &[PathBuf], images_dir: BorrowedFd<'_>, limit: u64) -> Result<SaveSummary> {
    if paths.is_empty() {
        discard(images_dir)?;
        return Ok(SaveSummary::default());
    }
    let flags = OFlags::CREATE | OFlags::TRUNC | OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = openat(images_dir, PART_NAME, flags, Mode::from_raw_mode(0o600))
        .map_err(|e| os_error(format_args!("tmp files: cannot create {PART_NAME} in the images directory"), e))?;
    let images = fstat(images_dir).map_err(|e| os_error("tmp files: the images directory", e))?;
    let mut writer = Writer::new(File::from(fd), limit);
    let saved = walk(paths, Some((images.st_dev, images.st_ino)), &mut writer).and_then(|()| writer.finish()).and_then(
        |summary| {
            rustix::fs::renameat(images_dir, PART_NAME, images_dir, ARCHIVE_NAME)
                .map_err(|e| os_error(format_args!("tmp files: cannot rename {PART_NAME} to {ARCHIVE_NAME}"), e))?;
            Ok(summary)
        },
    );
    if saved.is_err() {
        let _ = rustix::fs::unlinkat(images_dir, PART_NAME, AtFlags::empty());
    }
    saved
}

pub(super) fn discard(images_dir: BorrowedFd<'_>) -> Result<()> {
    for name in [PART_NAME, ARCHIVE_NAME] {
        match rustix::fs::unlinkat(images_dir, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(os_error(format_args!("tmp files: cannot remove {name}"), e)),
        }
    }
    Ok(())
}

/// Make `path` absolute and resolve its parent directories (not the last
/// component, which is saved as what it is, a symlink included).
fn resolve(path: &Path) -> Result<PathBuf> {
    let shown = path.display();
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        let cwd = std::env::current_dir().map_err(|e| invalid(format!("tmp file {shown}: cannot resolve it: {e}")))?;
        cwd.join(path)
    };
    let canonical = |p: &Path| {
        std::fs::canonicalize(p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => invalid(format!("tmp file {shown} does not exist")),
            _ => invalid(format!("tmp file {shown}: cannot resolve {}: {e}", p.display())),
        })
    };
    let resolved = match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => canonical(parent)?.join(name),
        _ => canonical(&absolute)?, // "/" itself, or a path ending in ".."
    };
    if resolved.parent().is_none() {
        return Err(invalid(format!("tmp file {shown}: the root directory cannot be saved")));
    }
    if resolved.as_os_str().len() > MAX_PATH {
        return Err(invalid(format!("tmp file {shown}: path longer than {MAX_PATH} bytes")));
    }
    Ok(resolved)
}

/// The entry kind for a file type, or the refusal of the others.
fn kind_of(t: FileType, path: &[u8]) -> Result<EntryKind> {
    let what = match t {
        FileType::RegularFile => return Ok(EntryKind::File),
        FileType::Directory => return Ok(EntryKind::Dir),
        FileType::Symlink => return Ok(EntryKind::Symlink),
        FileType::Fifo => "a fifo",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "of an unknown type",
    };
    Err(invalid(format!(
        "tmp file {} is {what}: only regular files, directories and symlinks can be saved",
        String::from_utf8_lossy(path)
    )))
}

fn missing_or(path: &Path, e: Errno) -> Error {
    match e {
        Errno::NOENT => invalid(format!("tmp file {} does not exist", path.display())),
        e => os_error(format_args!("tmp file {}", path.display()), e),
    }
}

fn meta(st: &Stat, kind: EntryKind, root: bool) -> Meta {
    Meta {
        kind,
        root,
        sparse: false,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        mtime_sec: st.st_mtime,
        mtime_nsec: st.st_mtime_nsec as u32,
    }
}

/// Where the walk hands each entry: a writer, or only a budget for
/// [`check`].
trait Sink {
    /// Add an entry: its metadata, path, extended-attribute records and
    /// data.
    fn add(&mut self, meta: &Meta, path: &[u8], xattrs: &[u8], data: Data<'_>) -> Result<()>;
}

/// An entry's contents as the walk found them.
enum Data<'a> {
    None,
    Bytes(&'a [u8]),
    /// An open regular file, the size to save and, for a file with holes,
    /// its extents of data (offset, length); `None` saves it whole.
    File(&'a File, u64, Option<Vec<(u64, u64)>>),
}

impl Data<'_> {
    /// The bytes the data takes in the archive.
    fn len(&self) -> u64 {
        match self {
            Data::None => 0,
            Data::Bytes(b) => b.len() as u64,
            Data::File(_, n, None) => *n,
            Data::File(_, _, Some(extents)) => {
                8 + (extents.len() * super::archive::EXTENT) as u64 + extents.iter().map(|e| e.1).sum::<u64>()
            }
        }
    }

    /// The file size the header records.
    fn size(&self) -> u64 {
        match self {
            Data::File(_, n, _) => *n,
            _ => 0,
        }
    }
}

/// The extents of data of a file with holes, found with SEEK_DATA and
/// SEEK_HOLE; `None` for a file without holes (its allocated blocks cover
/// its size, the common case, checked without a seek) or on a file system
/// that cannot tell. Files whose only hole is a preallocated tail are
/// saved whole.
fn extents(file: &File, st: &Stat) -> Option<Vec<(u64, u64)>> {
    let size = st.st_size as u64;
    if (st.st_blocks as u64).saturating_mul(512) >= size {
        return None;
    }
    let mut found = Vec::new();
    let mut at = 0;
    while at < size {
        let data = match seek(file, SeekFrom::Data(at)) {
            Ok(data) => data,
            Err(Errno::NXIO) => break, // only a hole is left
            Err(_) => return None,
        };
        let hole = seek(file, SeekFrom::Hole(data)).ok()?.min(size);
        if hole <= data {
            return None; // the file changed under us: save it whole
        }
        found.push((data, hole - data));
        at = hole;
    }
    if found == [(0, size)] {
        return None;
    }
    Some(found)
}

/// Save (or check) each of `paths`, skipping any that another one contains
/// and the directory `skip` (the images directory: saving the archive into
/// itself would never end).
fn walk(paths: &[PathBuf], skip: Option<(u64, u64)>, sink: &mut dyn Sink) -> Result<()> {
    let mut roots = paths.iter().map(|p| resolve(p)).collect::<Result<Vec<_>>>()?;
    roots.sort();
    roots.dedup_by(|later, earlier| later.starts_with(earlier));
    let mut walker = Walker { sink, skip, links: HashMap::new() };
    for root in &roots {
        let parent = root.parent().expect("resolve() refuses /");
        let name = std::ffi::CString::new(root.file_name().expect("resolve() names a file").as_bytes()).unwrap();
        let dir = openat(CWD, parent, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| missing_or(root, e))?;
        let mut path = root.as_os_str().as_bytes().to_vec();
        walker.visit(dir.as_fd(), &name, &mut path, FileType::Unknown, true)?;
    }
    Ok(())
}

struct Walker<'s> {
    sink: &'s mut dyn Sink,
    skip: Option<(u64, u64)>,
    /// Regular files with more than one name, by (device, inode): the path
    /// they were saved under first, which later names link to.
    links: HashMap<(u64, u64), Vec<u8>>,
}

/// A failure inside the walk: a system error still to be worded (a file
/// that vanished meanwhile is skipped), or a finished error.
enum Fail {
    Os(Errno),
    Done(Error),
}

impl From<Errno> for Fail {
    fn from(e: Errno) -> Fail {
        Fail::Os(e)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Done(e)
    }
}

impl Walker<'_> {
    /// Save `name` in `dir`, whose full path is `path`; `hint` is the type
    /// the directory listing gave, if any.
    fn visit(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        path: &mut Vec<u8>,
        hint: FileType,
        root: bool,
    ) -> Result<()> {
        match self.visit_inner(dir, name, path, hint, root) {
            Ok(()) => Ok(()),
            Err(Fail::Os(Errno::NOENT)) if !root => Ok(()), // deleted while we walked
            Err(Fail::Os(Errno::NOENT)) => {
                Err(invalid(format!("tmp file {} does not exist", String::from_utf8_lossy(path))))
            }
            Err(Fail::Os(e)) => Err(os_error(format_args!("tmp file {}", String::from_utf8_lossy(path)), e)),
            Err(Fail::Done(e)) => Err(e),
        }
    }

    fn visit_inner(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        path: &mut Vec<u8>,
        hint: FileType,
        root: bool,
    ) -> std::result::Result<(), Fail> {
        let mut st = None;
        let kind = match hint {
            FileType::Unknown => {
                let s = statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
                let t = FileType::from_raw_mode(s.st_mode);
                st = Some(s);
                t
            }
            t => t,
        };
        match kind_of(kind, path)? {
            EntryKind::File => {
                // NONBLOCK: should a fifo replace the file meanwhile, the
                // open must not hang; fstat then refuses it.
                let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
                let file = File::from(openat(dir, name, flags, Mode::empty())?);
                let st = fstat(&file)?;
                kind_of(FileType::from_raw_mode(st.st_mode), path)?;
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&(st.st_dev, st.st_ino)) {
                        let link = meta(&st, EntryKind::HardLink, root);
                        self.sink.add(&link, path, &[], Data::Bytes(first))?;
                        return Ok(());
                    }
                    self.links.insert((st.st_dev, st.st_ino), path.clone());
                }
                let xattrs = xattr::read(Node::Fd(file.as_fd()))?;
                let extents = extents(&file, &st);
                let meta = Meta { sparse: extents.is_some(), ..meta(&st, EntryKind::File, root) };
                self.sink.add(&meta, path, &xattrs, Data::File(&file, st.st_size as u64, extents))?;
            }
            EntryKind::Symlink => {
                let st = match st {
                    Some(st) => st,
                    None => statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?,
                };
                let target = readlinkat(dir, name, Vec::new())?;
                let xattrs = xattr::read(Node::Link(dir, name))?;
                self.sink.add(&meta(&st, EntryKind::Symlink, root), path, &xattrs, Data::Bytes(target.as_bytes()))?;
            }
            EntryKind::HardLink => unreachable!("kind_of() never gives a hard link"),
            EntryKind::Dir => {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let fd = openat(dir, name, flags, Mode::empty())?;
                let st = fstat(&fd)?;
                if self.skip == Some((st.st_dev, st.st_ino)) {
                    return Ok(());
                }
                let xattrs = xattr::read(Node::Fd(fd.as_fd()))?;
                self.sink.add(&meta(&st, EntryKind::Dir, root), path, &xattrs, Data::None)?;
                let mut children = Vec::new();
                for child in Dir::read_from(&fd)? {
                    let child = child?;
                    if !matches!(child.file_name().to_bytes(), b"." | b"..") {
                        children.push((child.file_name().to_owned(), child.file_type()));
                    }
                }
                children.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                for (child, hint) in children {
                    let len = path.len();
                    path.push(b'/');
                    path.extend_from_slice(child.to_bytes());
                    let done = self.visit(fd.as_fd(), &child, path, hint, false);
                    path.truncate(len);
                    done?;
                }
            }
        }
        Ok(())
    }
}

/// The running size of the archive, refused past the limit.
struct Budget {
    limit: u64,
    summary: SaveSummary,
}

impl Budget {
    fn new(limit: u64) -> Budget {
        Budget { limit, summary: SaveSummary { archive_bytes: ARCHIVE_HEADER as u64, ..Default::default() } }
    }

    fn take(&mut self, path: &[u8], len: &Lengths) -> Result<()> {
        let shown = String::from_utf8_lossy(path);
        if path.len() > MAX_PATH {
            return Err(invalid(format!("tmp file {shown}: path longer than {MAX_PATH} bytes")));
        }
        if self.summary.entries >= MAX_ENTRIES {
            return Err(invalid(format!("tmp files: more than {MAX_ENTRIES} entries (at {shown})")));
        }
        let total = self.summary.archive_bytes.saturating_add(entry_len(len));
        if total > self.limit {
            return Err(invalid(format!(
                "tmp files exceed the limit of {} bytes at {shown} ({} bytes to store): raise the limit or save fewer files",
                self.limit, len.data
            )));
        }
        self.summary.entries += 1;
        self.summary.data_bytes += len.data;
        self.summary.archive_bytes = total;
        Ok(())
    }
}

/// The lengths the header of an entry with these parts records.
fn lengths(path: &[u8], xattrs: &[u8], data: &Data<'_>) -> Lengths {
    Lengths { path: path.len(), xattrs: xattrs.len(), data: data.len(), size: data.size() }
}

impl Sink for Budget {
    fn add(&mut self, _: &Meta, path: &[u8], xattrs: &[u8], data: Data<'_>) -> Result<()> {
        self.take(path, &lengths(path, xattrs, &data))
    }
}

/// Writes the archive through one buffer: entries are gathered into it and
/// written a batch at a time, and a small file's bytes are read straight
/// into it and hashed there while they are in the CPU's cache. A large file
/// goes through [`copy_hashed`] instead, which splits the work over two
/// threads.
struct Writer {
    file: File,
    /// Bytes already in the file; the buffer's `used` bytes go after them.
    written: u64,
    buf: Box<[u8]>,
    used: usize,
    budget: Budget,
}

impl Writer {
    fn new(file: File, limit: u64) -> Writer {
        // The buffer starts with room for the archive header, filled in by
        // finish().
        Writer {
            file,
            written: 0,
            buf: vec![0; BATCH].into_boxed_slice(),
            used: ARCHIVE_HEADER,
            budget: Budget::new(limit),
        }
    }

    fn flush(&mut self) -> Result<()> {
        self.file.write_all_at(&self.buf[..self.used], self.written).map_err(|e| write_error(&e))?;
        self.written += self.used as u64;
        self.used = 0;
        Ok(())
    }

    fn append(&mut self, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            if self.used == BATCH {
                self.flush()?;
            }
            let n = bytes.len().min(BATCH - self.used);
            self.buf[self.used..self.used + n].copy_from_slice(&bytes[..n]);
            self.used += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Append `len` bytes of `file` from offset `from`, adding them to
    /// `hasher`.
    fn append_file(&mut self, file: &File, from: u64, len: u64, hasher: &mut Xxh3, path: &[u8]) -> Result<()> {
        if len >= PIPELINE_MIN {
            self.flush()?;
            copy_hashed(file, from, len, &self.file, self.written, hasher).map_err(|e| e.worded(path))?;
            self.written += len;
            return Ok(());
        }
        let mut done = 0;
        while done < len {
            if self.used == BATCH {
                self.flush()?;
            }
            let n = (BATCH - self.used).min((len - done) as usize);
            let piece = &mut self.buf[self.used..self.used + n];
            file.read_exact_at(piece, from + done).map_err(|e| CopyError::Read(e).worded(path))?;
            hasher.update(piece);
            self.used += n;
            done += n as u64;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<SaveSummary> {
        self.flush()?;
        let summary = self.budget.summary;
        debug_assert_eq!(summary.archive_bytes, self.written);
        let header = archive_header(summary.entries, self.written);
        self.file.write_all_at(&header, 0).map_err(|e| write_error(&e))?;
        Ok(summary)
    }
}

impl Sink for Writer {
    fn add(&mut self, meta: &Meta, path: &[u8], xattrs: &[u8], data: Data<'_>) -> Result<()> {
        let len = lengths(path, xattrs, &data);
        self.budget.take(path, &len)?;
        let mut hasher = Xxh3::new();
        let header = entry_header(meta, &len);
        for bytes in [&header[..], path, xattrs] {
            hasher.update(bytes);
            self.append(bytes)?;
        }
        match data {
            Data::None => {}
            Data::Bytes(bytes) => {
                hasher.update(bytes);
                self.append(bytes)?;
            }
            Data::File(file, len, None) => self.append_file(file, 0, len, &mut hasher, path)?,
            Data::File(file, _, Some(extents)) => {
                let mut map = Vec::with_capacity(8 + extents.len() * super::archive::EXTENT);
                map.extend_from_slice(&(extents.len() as u64).to_le_bytes());
                for (offset, len) in &extents {
                    map.extend_from_slice(&offset.to_le_bytes());
                    map.extend_from_slice(&len.to_le_bytes());
                }
                hasher.update(&map);
                self.append(&map)?;
                for (offset, len) in extents {
                    self.append_file(file, offset, len, &mut hasher, path)?;
                }
            }
        }
        self.append(&hasher.digest128().to_le_bytes())
    }
}

/// Files from this size on are copied by [`copy_hashed`].
const PIPELINE_MIN: u64 = 1 << 20;
/// The pieces [`copy_hashed`] hands from one thread to the other.
const PIECE: usize = 1 << 20;
/// How many pieces are in flight at once.
const PIECES: usize = 4;

/// A failure of [`copy_hashed`], worded once the path is known.
enum CopyError {
    Read(std::io::Error),
    Write(std::io::Error),
}

impl CopyError {
    fn worded(self, path: &[u8]) -> Error {
        let shown = String::from_utf8_lossy(path);
        match self {
            CopyError::Read(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                invalid(format!("tmp file {shown} shrank while it was saved"))
            }
            CopyError::Read(e) => invalid(format!("tmp file {shown}: cannot read it: {e}")),
            CopyError::Write(e) => write_error(&e),
        }
    }
}

/// Copy the first `len` bytes of `src` to `dst` at `at`, adding them to
/// `hasher`. This thread reads each piece and hashes it while it is in the
/// CPU's cache; a second thread writes the pieces behind it. Each byte is
/// thus copied into this process once and out of it once, the two copies
/// run on two cores, and the hash describes exactly the bytes written.
/// (Measured on the project's 2-core machine for a 1 GiB file on tmpfs:
/// 0.39 s, against 0.61 s for the same steps on one thread and 0.49 s for
/// `cp -a`, whose kernel copy does no hashing.) No mapping of `src` is
/// used: another process truncating it would kill ours with SIGBUS.
fn copy_hashed(
    src: &File,
    from: u64,
    len: u64,
    dst: &File,
    at: u64,
    hasher: &mut Xxh3,
) -> std::result::Result<(), CopyError> {
    let pieces = len.div_ceil(PIECE as u64) as usize;
    let ring = Ring::default();
    let piece_len = |i: usize| (len - (i * PIECE) as u64).min(PIECE as u64) as usize;
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            for i in 0..pieces {
                if !ring.wait(|s| s.filled > i || s.stopped) {
                    return Ok(()); // the reader failed: it reports why
                }
                let piece = ring.pieces[i % PIECES].lock().unwrap_or_else(|p| p.into_inner());
                let written = dst.write_all_at(&piece[..piece_len(i)], at + (i * PIECE) as u64);
                drop(piece);
                ring.update(|s| match written {
                    Ok(()) => s.written = i + 1,
                    Err(_) => s.stopped = true,
                });
                written.map_err(CopyError::Write)?;
            }
            Ok(())
        });
        let read = (|| {
            for i in 0..pieces {
                if !ring.wait(|s| s.written + PIECES > i || s.stopped) {
                    return Ok(()); // the writer failed: it reports why
                }
                let mut piece = ring.pieces[i % PIECES].lock().unwrap_or_else(|p| p.into_inner());
                piece.resize(PIECE, 0);
                let bytes = &mut piece[..piece_len(i)];
                src.read_exact_at(bytes, from + (i * PIECE) as u64).map_err(CopyError::Read)?;
                hasher.update(bytes);
                drop(piece);
                ring.update(|s| s.filled = i + 1);
            }
            Ok(())
        })();
        if read.is_err() {
            ring.update(|s| s.stopped = true);
        }
        let written = writer.join().expect("the writer does not panic");
        read.and(written)
    })
}

/// The pieces [`copy_hashed`] passes from its reader to its writer, and how
/// far each has got. Piece `i` lives in `pieces[i % PIECES]`.
#[derive(Default)]
struct Ring {
    pieces: [Mutex<Vec<u8>>; PIECES],
    progress: Mutex<Progress>,
    changed: Condvar,
}

#[derive(Default)]
struct Progress {
    /// Pieces read and hashed.
    filled: usize,
    /// Pieces written.
    written: usize,
    /// One side failed: the other stops.
    stopped: bool,
}

impl Ring {
    /// Wait until `ready`; false if the other side stopped instead.
    fn wait(&self, ready: impl Fn(&Progress) -> bool) -> bool {
        let progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        let progress = self.changed.wait_while(progress, |p| !ready(p)).unwrap_or_else(|p| p.into_inner());
        !progress.stopped
    }

    fn update(&self, change: impl FnOnce(&mut Progress)) {
        change(&mut self.progress.lock().unwrap_or_else(|p| p.into_inner()));
        self.changed.notify_all();
    }
}

fn write_error(e: &std::io::Error) -> Error {
    invalid(format!("tmp files: cannot write {PART_NAME} in the images directory: {e}"))
}
