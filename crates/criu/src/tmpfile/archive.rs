//! The archive format (described in the module docs): encoding headers, and
//! reading an archive that may be damaged or hostile into checked entries.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use memmap2::{Mmap, MmapOptions};
use rustix::fs::{openat, FileType, Mode, OFlags};
use rustix::io::Errno;
use xxhash_rust::xxh3::xxh3_128;

use super::{invalid, os_error, EntryInfo, EntryKind, ARCHIVE_NAME, MAX_ENTRIES, MAX_PATH};
use crate::error::Result;

const MAGIC: &[u8; 8] = b"LCRIUTMP";
pub(super) const VERSION: u32 = 2;
pub(super) const ARCHIVE_HEADER: usize = 32;
pub(super) const ENTRY_HEADER: usize = 48;
pub(super) const CHECKSUM: usize = 16;
const FLAG_ROOT: u8 = 1;
const FLAG_SPARSE: u8 = 2;
const NAME_MAX: usize = 255;
/// An extended attribute's record: name length (u8) and value length (u32).
pub(super) const XATTR_HEADER: usize = 5;
/// The largest value the kernel stores for one attribute (XATTR_SIZE_MAX).
pub(super) const XATTR_VALUE_MAX: usize = 64 << 10;
/// An extent of a sparse file's map: offset and length, two u64.
pub(super) const EXTENT: usize = 16;

/// The attribute namespaces saved and put back: what `cp -a` keeps when run
/// as root (user attributes, file capabilities and the other security
/// labels, trusted attributes), and the POSIX ACLs.
pub(super) fn xattr_kept(name: &[u8]) -> bool {
    name.starts_with(b"user.")
        || name.starts_with(b"security.")
        || name.starts_with(b"trusted.")
        || name == b"system.posix_acl_access"
        || name == b"system.posix_acl_default"
}

/// Everything an entry records besides its path and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Meta {
    pub kind: EntryKind,
    pub root: bool,
    /// For a regular file: its data is stored as an extent map (holes kept).
    pub sparse: bool,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime_sec: i64,
    pub mtime_nsec: u32,
}

impl EntryKind {
    fn code(self) -> u8 {
        match self {
            EntryKind::File => 1,
            EntryKind::Dir => 2,
            EntryKind::Symlink => 3,
            EntryKind::HardLink => 4,
        }
    }

    fn from_code(code: u8) -> Option<EntryKind> {
        Some(match code {
            1 => EntryKind::File,
            2 => EntryKind::Dir,
            3 => EntryKind::Symlink,
            4 => EntryKind::HardLink,
            _ => return None,
        })
    }
}

/// The archive header for `count` entries and `len` bytes in all.
pub(super) fn archive_header(count: u64, len: u64) -> [u8; ARCHIVE_HEADER] {
    let mut h = [0u8; ARCHIVE_HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&count.to_le_bytes());
    h[24..32].copy_from_slice(&len.to_le_bytes());
    h
}

/// The lengths an entry's header records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Lengths {
    pub path: usize,
    /// The extended-attribute records.
    pub xattrs: usize,
    /// Bytes stored: file contents (with the extent map of a sparse file),
    /// a symlink's target, a hard link's first path.
    pub data: u64,
    /// A regular file's apparent size; 0 for the other kinds.
    pub size: u64,
}

/// An entry's header; the caller keeps the lengths within the format's
/// bounds.
pub(super) fn entry_header(meta: &Meta, len: &Lengths) -> [u8; ENTRY_HEADER] {
    let mut h = [0u8; ENTRY_HEADER];
    h[0] = meta.kind.code();
    h[1] = if meta.root { FLAG_ROOT } else { 0 } | if meta.sparse { FLAG_SPARSE } else { 0 };
    h[2..4].copy_from_slice(&(len.path as u16).to_le_bytes());
    h[4..8].copy_from_slice(&meta.mode.to_le_bytes());
    h[8..12].copy_from_slice(&meta.uid.to_le_bytes());
    h[12..16].copy_from_slice(&meta.gid.to_le_bytes());
    h[16..24].copy_from_slice(&meta.mtime_sec.to_le_bytes());
    h[24..28].copy_from_slice(&meta.mtime_nsec.to_le_bytes());
    h[28..32].copy_from_slice(&(len.xattrs as u32).to_le_bytes());
    h[32..40].copy_from_slice(&len.data.to_le_bytes());
    h[40..48].copy_from_slice(&len.size.to_le_bytes());
    h
}

/// The bytes an entry with these lengths takes in the archive.
pub(super) fn entry_len(len: &Lengths) -> u64 {
    ((ENTRY_HEADER + len.path + CHECKSUM + len.xattrs) as u64).saturating_add(len.data)
}

/// Append one extended attribute's record to `out`.
pub(super) fn push_xattr(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(name.len() as u8);
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(value);
}

/// Where a piece of a regular file's stored data goes in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Segment {
    /// Offset of the piece in the entry's data.
    pub stored_at: usize,
    /// Offset in the file.
    pub file_at: u64,
    pub len: usize,
}

/// One entry of a parsed archive, borrowing from the mapped file.
#[derive(Debug)]
pub(super) struct Entry<'a> {
    pub meta: Meta,
    pub path: &'a [u8],
    /// Extended attributes, names unique.
    pub xattrs: Xattrs<'a>,
    /// The stored data: file contents (a sparse file's begin with the
    /// extent map), symlink target, or a hard link's first path.
    pub data: &'a [u8],
    /// A regular file's apparent size.
    pub size: u64,
    /// A regular file's pieces of data and where each goes; one for a file
    /// stored whole, one per extent for a sparse one.
    pub segments: Vec<Segment>,
    /// For a hard link: the index of the file entry it links to.
    pub link_to: Option<usize>,
    /// The checksummed bytes: header, path and data.
    pub covered: &'a [u8],
    stored: u128,
    /// Index of the directory entry this one lies in; `None` for a root.
    pub parent: Option<usize>,
}

impl Entry<'_> {
    /// The last component of the path, the name to create in the parent.
    pub fn name(&self) -> &[u8] {
        let slash = self.path.iter().rposition(|&b| b == b'/').unwrap_or(0);
        &self.path[slash + 1..]
    }

    /// The checksum of the entry's bytes as they are now.
    pub fn checksum(&self) -> u128 {
        xxh3_128(self.covered)
    }

    pub fn info(&self) -> EntryInfo {
        let m = &self.meta;
        let os = |b: &[u8]| PathBuf::from(OsStr::from_bytes(b));
        EntryInfo {
            path: os(self.path),
            kind: m.kind,
            mode: m.mode,
            uid: m.uid,
            gid: m.gid,
            mtime_sec: m.mtime_sec,
            mtime_nsec: m.mtime_nsec,
            size: if m.kind == EntryKind::File { self.size } else { self.data.len() as u64 },
            stored: self.data.len() as u64,
            sparse: m.sparse,
            link_target: matches!(m.kind, EntryKind::Symlink | EntryKind::HardLink).then(|| os(self.data)),
            xattrs: self.xattrs.iter().map(|(name, _)| String::from_utf8_lossy(name).into_owned()).collect(),
            checksum: self.stored,
            root: m.root,
        }
    }
}

/// What [`Entry::info`] says of the entries `keep` picks, a hard link
/// showing the size of the file it names.
pub(super) fn infos(entries: &[Entry<'_>], keep: impl Fn(usize) -> bool) -> Vec<EntryInfo> {
    let mut out = Vec::new();
    for (_, e) in entries.iter().enumerate().filter(|&(i, _)| keep(i)) {
        let mut info = e.info();
        if let Some(first) = e.link_to {
            info.size = entries[first].size;
        }
        out.push(info);
    }
    out
}

/// An archive opened for reading: the file mapped whole, and a name for
/// messages. The file must not be truncated while mapped (it lives in the
/// images directory, which the restore owns for its duration).
pub(super) struct Archive {
    map: Mmap,
    name: String,
}

impl Archive {
    /// Open and map the images directory's archive; `None` when there is
    /// none. Refuses one larger than `limit` before reading any of it.
    /// `whole` maps every page at once, for a caller that reads all of it.
    pub fn open(images_dir: BorrowedFd<'_>, limit: u64, whole: bool) -> Result<Option<Archive>> {
        let name = archive_path(images_dir);
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let fd = match openat(images_dir, ARCHIVE_NAME, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(os_error(format_args!("tmp-file archive {name}"), e)),
        };
        let file = File::from(fd);
        let st = rustix::fs::fstat(&file).map_err(|e| os_error(format_args!("tmp-file archive {name}"), e))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(invalid(format!("tmp-file archive {name} is not a regular file")));
        }
        let len = st.st_size as u64;
        if len > limit {
            return Err(invalid(format!("tmp-file archive {name} is {len} bytes, above the limit of {limit} bytes")));
        }
        if len < ARCHIVE_HEADER as u64 {
            return Err(invalid(format!("tmp-file archive {name} is truncated: {len} bytes")));
        }
        let mut options = MmapOptions::new();
        if whole {
            options.populate();
        }
        // SAFETY: the mapping is read-only and private to this value; the
        // file is not changed by this process while mapped.
        let map = unsafe { options.len(len as usize).map(&file) }
            .map_err(|e| invalid(format!("tmp-file archive {name}: cannot map it: {e}")))?;
        Ok(Some(Archive { map, name }))
    }

    /// Parse every entry and check the structure: header, bounds, path
    /// syntax, tree order, no duplicate. Checksums are left to [`verify`].
    ///
    /// [`verify`]: Archive::verify
    pub fn entries(&self) -> Result<Vec<Entry<'_>>> {
        let b: &[u8] = &self.map;
        let fail = |what: String| invalid(format!("tmp-file archive {}: {what}", self.name));
        if &b[..8] != MAGIC {
            return Err(fail("not a tmp-file archive (bad magic)".into()));
        }
        let version = u32_at(b, 8);
        if version != VERSION || u32_at(b, 12) != 0 {
            let why = if version < VERSION {
                "written by an older libcriu-rs; restore it with that version"
            } else {
                "written by a newer libcriu-rs; restore it with that version or a later one"
            };
            return Err(fail(format!(
                "format version {version} is not supported (this library reads version {VERSION} only): {why}"
            )));
        }
        let count = u64_at(b, 16);
        let recorded_len = u64_at(b, 24);
        if count > MAX_ENTRIES {
            return Err(fail(format!("{count} entries, more than the {MAX_ENTRIES} allowed")));
        }
        if recorded_len != b.len() as u64 {
            return Err(fail(format!(
                "records a length of {recorded_len} bytes but has {} (truncated or extended)",
                b.len()
            )));
        }
        let min_entry = entry_len(&Lengths { path: 2, ..Default::default() }) as usize;
        let mut entries: Vec<Entry> = Vec::with_capacity((count as usize).min(b.len() / min_entry));
        let mut tree = Tree::default();
        let mut pos = ARCHIVE_HEADER;
        for i in 0..count as usize {
            let entry =
                parse_entry(b, &mut pos).and_then(|e| tree.place(e, &entries, i)).map_err(
                    |(path, why)| match path {
                        Some(p) => fail(format!("entry {i} ({:?}): {why}", String::from_utf8_lossy(p))),
                        None => fail(format!("entry {i}: {why}")),
                    },
                )?;
            entries.push(entry);
        }
        if pos != b.len() {
            return Err(fail(format!("{} bytes follow the last entry", b.len() - pos)));
        }
        Ok(entries)
    }

    /// Compare every entry's checksum with its bytes, skipping those
    /// `done` marks as already checked.
    pub fn verify(&self, entries: &[Entry<'_>], done: &[bool]) -> Result<()> {
        for (i, e) in entries.iter().enumerate() {
            if !done.get(i).copied().unwrap_or(false) {
                self.verify_entry(i, e, e.checksum())?;
            }
        }
        Ok(())
    }

    /// Compare entry `i`'s stored checksum with `computed`, the one of
    /// [`Entry::checksum`].
    pub fn verify_entry(&self, i: usize, e: &Entry<'_>, computed: u128) -> Result<()> {
        if computed == e.stored {
            return Ok(());
        }
        Err(invalid(format!(
            "tmp-file archive {}: entry {i} ({:?}): checksum mismatch (stored {:032x}, computed {computed:032x}): the archive is damaged",
            self.name,
            String::from_utf8_lossy(e.path),
            e.stored
        )))
    }
}

/// The archive's path for messages, from the descriptor's /proc link.
fn archive_path(images_dir: BorrowedFd<'_>) -> String {
    use std::os::fd::AsRawFd;
    match std::fs::read_link(format!("/proc/self/fd/{}", images_dir.as_raw_fd())) {
        Ok(dir) => dir.join(ARCHIVE_NAME).display().to_string(),
        Err(_) => format!("{ARCHIVE_NAME} (in the images directory)"),
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// A parse failure: the entry's path when it was read, and why.
type EntryError<'a> = (Option<&'a [u8]>, String);

/// Read the entry at `*pos`, checking its fields and bounds, and advance.
fn parse_entry<'a>(b: &'a [u8], pos: &mut usize) -> std::result::Result<Entry<'a>, EntryError<'a>> {
    let start = *pos;
    let rest = b.len() - start;
    let h = b.get(start..start + ENTRY_HEADER).ok_or((None, format!("truncated header ({rest} bytes left)")))?;
    let path_len = u16::from_le_bytes([h[2], h[3]]) as usize;
    let xattrs_len = u32_at(h, 28) as usize;
    let data_len = u64_at(h, 32);
    let size = u64_at(h, 40);
    let path_start = start + ENTRY_HEADER;
    let path = b
        .get(path_start..path_start + path_len)
        .ok_or((None, format!("path of {path_len} bytes runs past the end")))?;
    let err = |why: String| (Some(path), why);
    let xattrs_start = path_start + path_len;
    let data_start = xattrs_start
        .checked_add(xattrs_len)
        .filter(|&end| end <= b.len())
        .ok_or_else(|| err(format!("extended attributes of {xattrs_len} bytes run past the end")))?;
    let data_end = usize::try_from(data_len)
        .ok()
        .and_then(|n| data_start.checked_add(n))
        .filter(|&end| end.checked_add(CHECKSUM).is_some_and(|e| e <= b.len()))
        .ok_or_else(|| err(format!("data of {data_len} bytes runs past the end")))?;
    *pos = data_end + CHECKSUM;

    check_path_syntax(path).map_err(|why| err(why.into()))?;
    let kind = EntryKind::from_code(h[0]).ok_or_else(|| err(format!("unknown type {}", h[0])))?;
    if h[1] & !(FLAG_ROOT | FLAG_SPARSE) != 0 {
        return Err(err("reserved bits are set".into()));
    }
    let meta = Meta {
        kind,
        root: h[1] & FLAG_ROOT != 0,
        sparse: h[1] & FLAG_SPARSE != 0,
        mode: u32_at(h, 4),
        uid: u32_at(h, 8),
        gid: u32_at(h, 12),
        mtime_sec: u64_at(h, 16) as i64,
        mtime_nsec: u32_at(h, 24),
    };
    if meta.mode > 0o7777 {
        return Err(err(format!("mode {:o} has bits beyond the permissions", meta.mode)));
    }
    if meta.uid == u32::MAX || meta.gid == u32::MAX {
        return Err(err("owner -1 is not a valid id".into()));
    }
    if meta.mtime_nsec >= 1_000_000_000 {
        return Err(err(format!("mtime nanoseconds {} out of range", meta.mtime_nsec)));
    }
    if meta.sparse && kind != EntryKind::File {
        return Err(err("only a regular file can be sparse".into()));
    }
    if kind != EntryKind::File && size != 0 {
        return Err(err(format!("a {kind} with a file size")));
    }
    let xattrs = parse_xattrs(&b[xattrs_start..data_start]).map_err(err)?;
    if kind == EntryKind::HardLink && !xattrs.is_empty() {
        return Err(err("a hard link with its own extended attributes".into()));
    }
    let data = &b[data_start..data_end];
    let mut segments = Vec::new();
    match kind {
        EntryKind::Dir if !data.is_empty() => return Err(err("a directory with data".into())),
        EntryKind::Symlink if data.is_empty() || data.len() > MAX_PATH || data.contains(&0) => {
            return Err(err("symlink target is empty, too long or has a NUL byte".into()));
        }
        EntryKind::HardLink => {
            check_path_syntax(data).map_err(|why| err(format!("hard link target: {why}")))?;
        }
        EntryKind::File if meta.sparse => segments = parse_extents(data, size).map_err(err)?,
        EntryKind::File if size != data.len() as u64 => {
            return Err(err(format!("file of {size} bytes stores {} bytes without being sparse", data.len())));
        }
        EntryKind::File if !data.is_empty() => segments.push(Segment { stored_at: 0, file_at: 0, len: data.len() }),
        _ => {}
    }
    let stored = u128::from_le_bytes(b[data_end..data_end + CHECKSUM].try_into().unwrap());
    Ok(Entry {
        meta,
        path,
        xattrs,
        data,
        size,
        segments,
        link_to: None,
        covered: &b[start..data_end],
        stored,
        parent: None,
    })
}

/// Extended attributes as (name, value).
pub(super) type Xattrs<'a> = Vec<(&'a [u8], &'a [u8])>;

/// The extended-attribute records of an entry: each name kept by
/// [`xattr_kept`], once, with a value the kernel could hold.
fn parse_xattrs(mut b: &[u8]) -> std::result::Result<Xattrs<'_>, String> {
    let mut out: Xattrs = Vec::new();
    while !b.is_empty() {
        let (name_len, value_len) = match b.get(..XATTR_HEADER) {
            Some(h) => (h[0] as usize, u32_at(h, 1) as usize),
            None => return Err("truncated extended attribute".into()),
        };
        let end = (XATTR_HEADER + name_len).saturating_add(value_len);
        if end > b.len() {
            return Err("extended attribute runs past its block".into());
        }
        let name = &b[XATTR_HEADER..XATTR_HEADER + name_len];
        let value = &b[XATTR_HEADER + name_len..end];
        let shown = String::from_utf8_lossy(name);
        if name.contains(&0) || !xattr_kept(name) {
            return Err(format!("extended attribute {shown:?} is not one that is saved"));
        }
        if value_len > XATTR_VALUE_MAX {
            return Err(format!("extended attribute {shown} has a value of {value_len} bytes"));
        }
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!("extended attribute {shown} appears twice"));
        }
        out.push((name, value));
        b = &b[end..];
    }
    Ok(out)
}

/// The segments of a sparse file's data: an extent count (u64), that many
/// (offset, length) pairs, then the extents' bytes in order. Extents are
/// non-empty, in order, apart, and end within the file's `size`.
fn parse_extents(data: &[u8], size: u64) -> std::result::Result<Vec<Segment>, String> {
    let count = data.get(..8).map(|c| u64_at(c, 0)).ok_or("sparse file without its extent map")?;
    let map_len = usize::try_from(count)
        .ok()
        .and_then(|n| n.checked_mul(EXTENT))
        .and_then(|n| n.checked_add(8))
        .filter(|&n| n <= data.len())
        .ok_or_else(|| format!("extent map of {count} extents runs past the data"))?;
    let mut segments = Vec::with_capacity(count as usize);
    let (mut stored_at, mut end) = (map_len, 0u64);
    for i in 0..count as usize {
        let (offset, len) = (u64_at(data, 8 + i * EXTENT), u64_at(data, 16 + i * EXTENT));
        let extent_end = offset.checked_add(len).filter(|&e| e <= size);
        if len == 0 || extent_end.is_none() || (i > 0 && offset <= end) {
            return Err(format!("extent {i} ({offset}+{len}) is empty, out of order or past the size {size}"));
        }
        let len = usize::try_from(len).map_err(|_| "extent too long")?;
        if stored_at.checked_add(len).map_or(true, |e| e > data.len()) {
            return Err(format!("extent {i} runs past the stored data"));
        }
        segments.push(Segment { stored_at, file_at: offset, len });
        stored_at += len;
        end = extent_end.unwrap();
    }
    if stored_at != data.len() {
        return Err(format!("{} bytes of data follow the last extent", data.len() - stored_at));
    }
    Ok(segments)
}

/// Why `path` is not an absolute, normalized path, if it is not.
pub(super) fn check_path_syntax(path: &[u8]) -> std::result::Result<(), &'static str> {
    if path.len() > MAX_PATH {
        return Err("path too long");
    }
    if path.first() != Some(&b'/') {
        return Err("path is not absolute");
    }
    if path.contains(&0) {
        return Err("path has a NUL byte");
    }
    for component in path[1..].split(|&b| b == b'/') {
        match component {
            b"" => return Err("path has an empty component or is /"),
            b"." | b".." => return Err("path has a . or .. component"),
            c if c.len() > NAME_MAX => return Err("path has a component longer than 255 bytes"),
            _ => {}
        }
    }
    Ok(())
}

/// Tracks the directories open in the depth-first order, to give each entry
/// its parent and refuse one that lies outside every saved directory.
#[derive(Default)]
struct Tree<'a> {
    open_dirs: Vec<usize>,
    /// Every path so far, with its entry's index.
    seen: HashMap<&'a [u8], usize>,
}

impl<'a> Tree<'a> {
    fn place(
        &mut self,
        mut e: Entry<'a>,
        entries: &[Entry<'a>],
        index: usize,
    ) -> std::result::Result<Entry<'a>, EntryError<'a>> {
        // A hard link's file is looked up before the entry's own path is
        // recorded: a link naming itself must find nothing, not its own
        // index, which `entries` does not hold yet.
        if e.meta.kind == EntryKind::HardLink {
            if e.data == e.path {
                return Err((Some(e.path), "is a hard link to itself".into()));
            }
            match self.seen.get(e.data).and_then(|&first| Some((first, entries.get(first)?))) {
                Some((first, file)) if file.meta.kind == EntryKind::File => e.link_to = Some(first),
                _ => return Err((Some(e.path), "is a hard link to no regular file saved before it".into())),
            }
        }
        if self.seen.insert(e.path, index).is_some() {
            return Err((Some(e.path), "appears twice".into()));
        }
        if e.meta.root {
            self.open_dirs.clear();
        } else {
            let parent = &e.path[..e.path.len() - e.name().len() - 1];
            while self.open_dirs.last().is_some_and(|&d| entries[d].path != parent) {
                self.open_dirs.pop();
            }
            let Some(&dir) = self.open_dirs.last() else {
                return Err((Some(e.path), "is not inside a directory saved before it".into()));
            };
            e.parent = Some(dir);
        }
        if e.meta.kind == EntryKind::Dir {
            self.open_dirs.push(index);
        }
        Ok(e)
    }
}
