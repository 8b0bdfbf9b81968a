//! The tmp-file archive without criu: save, put back, and refuse what must
//! be refused (types, limits, damaged and hostile archives).

mod common;

use std::fs::{self, File};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use criu::tmpfile::{self, EntryKind, ARCHIVE_NAME, DEFAULT_LIMIT};
use criu::Error;

/// A directory for one test, with an images directory inside; removed at
/// the end.
struct Scratch {
    root: PathBuf,
    images: File,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let root = std::env::temp_dir().join(format!("libcriu-tmpfile-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("images")).unwrap();
        let images = File::open(root.join("images")).unwrap();
        Scratch { root, images }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn images(&self) -> BorrowedFd<'_> {
        self.images.as_fd()
    }

    fn archive(&self) -> PathBuf {
        self.path("images").join(ARCHIVE_NAME)
    }

    /// The names in the images directory.
    fn image_files(&self) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(self.path("images")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn am_root() -> bool {
    // SAFETY: geteuid takes nothing and cannot fail.
    (unsafe { libc::geteuid() }) == 0
}

/// Give `path` a distinctive mtime (with nanoseconds) and, as root, owner.
fn stamp(path: &Path, secs: u64, owner: (u32, u32)) {
    let mtime = SystemTime::UNIX_EPOCH + Duration::new(secs, 123_456_789);
    let times = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec { tv_sec: secs as i64, tv_nsec: 0 },
        last_modification: rustix::fs::Timespec { tv_sec: secs as i64, tv_nsec: 123_456_789 },
    };
    if am_root() {
        std::os::unix::fs::lchown(path, Some(owner.0), Some(owner.1)).unwrap();
    }
    rustix::fs::utimensat(rustix::fs::CWD, path, &times, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).unwrap();
    assert_eq!(fs::symlink_metadata(path).unwrap().modified().unwrap(), mtime);
}

/// Everything the archive promises to keep about the tree at `root`, with
/// paths relative to it, in a stable order.
fn snapshot(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let m = fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root.parent().unwrap()).unwrap().display().to_string();
        let content = if m.file_type().is_symlink() {
            format!("-> {}", fs::read_link(&p).unwrap().display())
        } else if m.is_dir() {
            let mut children: Vec<PathBuf> = fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()).collect();
            children.sort();
            todo.extend(children);
            String::from("dir")
        } else {
            format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&fs::read(&p).unwrap()))
        };
        let mode = if m.file_type().is_symlink() { 0 } else { m.mode() & 0o7777 };
        out.push(format!("{rel} {content} {mode:o} {}:{} {}.{}", m.uid(), m.gid(), m.mtime(), m.mtime_nsec()));
    }
    out.sort();
    out
}

fn invalid_message(e: Error) -> String {
    match e {
        Error::InvalidArgument(msg) => msg,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn a_file_comes_back_identical_after_its_directory_is_deleted() {
    let s = Scratch::new("file");
    let file = s.path("gone/deeper/state.bin");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(&file, &bytes).unwrap();
    stamp(&file, 1_600_000_000, (1234, 5678));
    // After the chown in stamp(), which clears set-id bits.
    fs::set_permissions(&file, fs::Permissions::from_mode(0o4751)).unwrap();
    let before = snapshot(&file);

    let summary = tmpfile::save(std::slice::from_ref(&file), s.images(), DEFAULT_LIMIT).unwrap();
    assert_eq!((summary.entries, summary.data_bytes), (1, bytes.len() as u64));
    assert_eq!(summary.archive_bytes, fs::metadata(s.archive()).unwrap().len());
    assert_eq!(s.image_files(), [ARCHIVE_NAME]);
    fs::remove_dir_all(s.path("gone")).unwrap();

    let restored = tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap();
    assert_eq!(restored.len(), 1);
    assert_eq!(
        (restored[0].path.as_path(), restored[0].kind, restored[0].mode),
        (file.as_path(), EntryKind::File, 0o4751)
    );
    assert_eq!(fs::read(&file).unwrap(), bytes);
    assert_eq!(snapshot(&file), before, "bytes, mode (set-id bits too), owner and mtime");
    assert_eq!(fs::read_dir(file.parent().unwrap()).unwrap().count(), 1, "no temporary file left beside it");
}

#[test]
fn a_directory_tree_round_trips_with_its_symlinks_and_modes() {
    let s = Scratch::new("tree");
    let top = s.path("app");
    fs::create_dir_all(top.join("a/b/c")).unwrap();
    fs::create_dir_all(top.join("empty")).unwrap();
    fs::create_dir_all(top.join("locked")).unwrap();
    for (i, rel) in ["one", "a/two", "a/b/three", "a/b/c/four", "locked/inside"].iter().enumerate() {
        fs::write(top.join(rel), rel.repeat(i * 1000 + 1)).unwrap();
        stamp(&top.join(rel), 1_500_000_000 + i as u64, (1000 + i as u32, 2000));
    }
    fs::write(top.join("a/empty-file"), b"").unwrap();
    symlink("b/three", top.join("a/rel-link")).unwrap();
    symlink("/nonexistent/target", top.join("dangling")).unwrap();
    stamp(&top.join("dangling"), 1_400_000_000, (7, 8));
    fs::set_permissions(top.join("a/b"), fs::Permissions::from_mode(0o2750)).unwrap();
    // A directory nobody may write to: its contents must still come back.
    fs::set_permissions(top.join("locked"), fs::Permissions::from_mode(0o500)).unwrap();
    for dir in ["a/b/c", "a/b", "a", "empty", "locked", ""] {
        stamp(&top.join(dir), 1_300_000_000, (3, 4));
    }
    let before = snapshot(&top);

    let summary = tmpfile::save(std::slice::from_ref(&top), s.images(), DEFAULT_LIMIT).unwrap();
    assert_eq!(summary.entries, before.len() as u64);
    let listed = tmpfile::list(s.images()).unwrap();
    assert_eq!(listed.len(), before.len());
    assert!(listed[0].root && listed[0].path == top && listed[1..].iter().all(|e| !e.root));
    let link = listed.iter().find(|e| e.path.ends_with("a/rel-link")).unwrap();
    assert_eq!((link.kind, link.link_target.as_deref()), (EntryKind::Symlink, Some(Path::new("b/three"))));
    assert!(link.to_string().contains("-> b/three"), "{link}");

    fs::set_permissions(top.join("locked"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::remove_dir_all(&top).unwrap();
    let restored = tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap();
    assert_eq!(restored, listed, "restore reports what list shows");
    assert_eq!(snapshot(&top), before);
    fs::set_permissions(top.join("locked"), fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_symlink_is_saved_as_a_link_and_its_target_is_not_followed() {
    let s = Scratch::new("symlink");
    fs::write(s.path("target"), b"not saved").unwrap();
    let link = s.path("link");
    symlink(s.path("target"), &link).unwrap();
    stamp(&link, 1_234_567_890, (11, 12));
    let before = snapshot(&link);
    tmpfile::save(std::slice::from_ref(&link), s.images(), DEFAULT_LIMIT).unwrap();
    assert_eq!(tmpfile::list(s.images()).unwrap()[0].size, s.path("target").as_os_str().len() as u64);
    fs::remove_file(&link).unwrap();
    fs::remove_file(s.path("target")).unwrap();

    tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap();
    assert_eq!(snapshot(&link), before);
    assert!(!s.path("target").exists(), "the target was not saved, so not restored");
}

#[test]
fn a_symlinked_parent_in_the_recorded_path_is_resolved_at_add_time() {
    let s = Scratch::new("resolve");
    fs::create_dir(s.path("real")).unwrap();
    symlink(s.path("real"), s.path("alias")).unwrap();
    fs::write(s.path("real/f"), b"x").unwrap();
    assert_eq!(tmpfile::check_path(&s.path("alias/f")).unwrap(), s.path("real/f"));
    assert_eq!(tmpfile::check_path(&s.path("alias/./f")).unwrap(), s.path("real/f"));
    // The last component stays what it is: a symlink is kept as one.
    assert_eq!(tmpfile::check_path(&s.path("alias")).unwrap(), s.path("alias"));
}

#[test]
fn an_existing_file_is_replaced_whole_and_nested_roots_are_saved_once() {
    let s = Scratch::new("replace");
    fs::create_dir(s.path("d")).unwrap();
    fs::write(s.path("d/f"), b"saved").unwrap();
    let summary = tmpfile::save(&[s.path("d/f"), s.path("d"), s.path("d")], s.images(), DEFAULT_LIMIT).unwrap();
    assert_eq!(summary.entries, 2, "d and d/f, once each");
    fs::write(s.path("d/f"), b"changed since, and longer").unwrap();
    tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap();
    assert_eq!(fs::read(s.path("d/f")).unwrap(), b"saved");
    assert_eq!(fs::read_dir(s.path("d")).unwrap().count(), 1, "no temporary file left");
}

/// Bytes of a large file, none of whose 4 KiB blocks repeats.
fn large_bytes(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i + seed).wrapping_mul(2654435761) >> 13) as u8).collect()
}

#[test]
fn large_files_round_trip_with_their_metadata() {
    // Large files are copied by two threads at save and staged as unnamed
    // files at restore: into a directory that still exists (staged) and
    // into one that must be created first (written after the checks).
    let s = Scratch::new("large");
    let bytes = large_bytes((3usize << 20) + 12345, 0);
    fs::create_dir(s.path("gone")).unwrap();
    for name in ["big", "gone/big"] {
        fs::write(s.path(name), &bytes).unwrap();
        fs::set_permissions(s.path(name), fs::Permissions::from_mode(0o2640)).unwrap();
        stamp(&s.path(name), 1_300_000_000, (7, 8));
    }
    fs::write(s.path("small"), b"before and after the big one").unwrap();
    let before = (snapshot(&s.path("big")), snapshot(&s.path("gone")));
    let roots = [s.path("big"), s.path("gone"), s.path("small")];
    let summary = tmpfile::save(&roots, s.images(), DEFAULT_LIMIT).unwrap();
    assert_eq!(summary.data_bytes, 2 * bytes.len() as u64 + 28);
    fs::remove_file(s.path("big")).unwrap();
    fs::remove_dir_all(s.path("gone")).unwrap();
    fs::remove_file(s.path("small")).unwrap();

    tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap();
    assert!(fs::read(s.path("big")).unwrap() == bytes);
    assert_eq!((snapshot(&s.path("big")), snapshot(&s.path("gone"))), before, "bytes, mode, owner, mtime");
    assert_eq!(fs::read(s.path("small")).unwrap(), b"before and after the big one");
    let mut names: Vec<_> = fs::read_dir(&s.root).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["big", "gone", "images", "small"], "no temporary name left behind");
}

#[test]
fn a_damaged_large_file_is_refused_and_nothing_staged_appears() {
    let s = Scratch::new("damaged-large");
    fs::create_dir(s.path("d")).unwrap();
    let (first, second) = (large_bytes(2 << 20, 1), large_bytes(2 << 20, 2));
    fs::write(s.path("d/a-first"), &first).unwrap();
    fs::write(s.path("d/b-second"), &second).unwrap();
    tmpfile::save(&[s.path("d/a-first"), s.path("d/b-second")], s.images(), DEFAULT_LIMIT).unwrap();
    fs::remove_file(s.path("d/a-first")).unwrap();
    fs::remove_file(s.path("d/b-second")).unwrap();

    // A flipped bit in the middle of the second file: the first one was
    // staged (its checksum matched) before the damage is found.
    let mut bad = fs::read(s.archive()).unwrap();
    let at = bad.len() - 16 - (1 << 20);
    bad[at] ^= 0x10;
    fs::write(s.archive(), &bad).unwrap();
    let msg = invalid_message(tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap_err());
    assert!(msg.contains("checksum mismatch") && msg.contains("d/b-second"), "{msg}");
    assert_eq!(fs::read_dir(s.path("d")).unwrap().count(), 0, "nothing written, not even the first file");
}

#[test]
fn the_images_directory_is_not_saved_into_itself() {
    let s = Scratch::new("self");
    fs::write(s.path("images/pages-1.img"), b"criu's").unwrap();
    fs::write(s.path("mine"), b"mine").unwrap();
    tmpfile::save(std::slice::from_ref(&s.root), s.images(), DEFAULT_LIMIT).unwrap();
    let paths: Vec<PathBuf> = tmpfile::list(s.images()).unwrap().into_iter().map(|e| e.path).collect();
    assert_eq!(paths, [s.root.clone(), s.path("mine")]);
}

#[test]
fn no_archive_means_nothing_to_restore_or_list() {
    let s = Scratch::new("none");
    assert_eq!(tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap(), []);
    assert_eq!(tmpfile::list(s.images()).unwrap(), []);
}

#[test]
fn types_that_cannot_be_saved_are_refused_by_name() {
    let s = Scratch::new("types");
    let fifo = s.path("fifo");
    rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, rustix::fs::Mode::from_raw_mode(0o600), 0)
        .unwrap();
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    let _socket = std::os::unix::net::UnixListener::bind(s.path("sock")).unwrap();
    for (path, word) in [
        (fifo.clone(), "is a fifo"),
        (s.path("sock"), "is a socket"),
        (PathBuf::from("/dev/null"), "is a character device"),
        (s.path("missing"), "does not exist"),
        (s.path("missing-dir/file"), "does not exist"),
        (PathBuf::from("/"), "root directory"),
    ] {
        let msg = invalid_message(tmpfile::check_path(&path).unwrap_err());
        assert!(msg.contains(word), "{path:?}: {msg}");
        let msg = invalid_message(tmpfile::save(std::slice::from_ref(&path), s.images(), DEFAULT_LIMIT).unwrap_err());
        assert!(msg.contains(word), "{path:?}: {msg}");
        assert!(s.image_files().is_empty(), "a failed save leaves nothing: {:?}", s.image_files());
    }

    // Inside a saved directory too, named with its path, before any copy.
    fs::create_dir(s.path("dir")).unwrap();
    fs::write(s.path("dir/a"), b"a").unwrap();
    fs::rename(&fifo, s.path("dir/b-fifo")).unwrap();
    let msg = invalid_message(tmpfile::check(&[s.path("dir")], DEFAULT_LIMIT).unwrap_err());
    assert!(msg.contains("dir/b-fifo is a fifo"), "{msg}");
    let msg = invalid_message(tmpfile::save(&[s.path("dir")], s.images(), DEFAULT_LIMIT).unwrap_err());
    assert!(msg.contains("dir/b-fifo is a fifo"), "{msg}");
    assert!(s.image_files().is_empty());
}

#[test]
fn a_full_disk_fails_the_save_of_a_large_file_cleanly() {
    // The images directory on a 2 MiB tmpfs: the writer thread of the
    // large-file copy fails midway, and the save must report it (not hang,
    // not leave a partial archive).
    let s = Scratch::new("full");
    let small = s.path("images");
    let size = c"size=2m";
    let target = std::ffi::CString::new(small.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: every pointer is a live NUL-terminated string; the data
    // argument is the tmpfs option string the kernel reads.
    let mounted =
        unsafe { libc::mount(c"tmpfs".as_ptr(), target.as_ptr(), c"tmpfs".as_ptr(), 0, size.as_ptr().cast()) };
    if mounted != 0 {
        common::skip(format_args!("cannot mount a small tmpfs: {}", std::io::Error::last_os_error()));
        return;
    }
    let images = File::open(&small).unwrap();
    fs::write(s.path("big"), large_bytes(8 << 20, 3)).unwrap();
    let saved = tmpfile::save(&[s.path("big")], images.as_fd(), DEFAULT_LIMIT);
    let left: Vec<_> = fs::read_dir(&small).unwrap().map(|e| e.unwrap().file_name()).collect();
    drop(images);
    // SAFETY: `target` is a live NUL-terminated path.
    unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    let msg = invalid_message(saved.unwrap_err());
    assert!(msg.contains("cannot write") && msg.contains("No space left"), "{msg}");
    assert!(left.is_empty(), "nothing left in the images directory: {left:?}");
}

#[test]
fn the_size_limit_is_enforced_when_saving_and_restoring() {
    let s = Scratch::new("limit");
    fs::create_dir(s.path("d")).unwrap();
    for i in 0..10 {
        fs::write(s.path(&format!("d/{i}")), vec![b'x'; 10_000]).unwrap();
    }
    let needed = tmpfile::check(&[s.path("d")], DEFAULT_LIMIT).unwrap().archive_bytes;
    assert!(needed > 100_000);

    let msg = invalid_message(tmpfile::check(&[s.path("d")], needed - 1).unwrap_err());
    assert!(msg.contains(&format!("limit of {} bytes", needed - 1)), "{msg}");
    let msg = invalid_message(tmpfile::save(&[s.path("d")], s.images(), needed - 1).unwrap_err());
    assert!(msg.contains("limit") && msg.contains("d/9"), "{msg}");
    assert!(s.image_files().is_empty());

    assert_eq!(tmpfile::save(&[s.path("d")], s.images(), needed).unwrap().archive_bytes, needed);
    let msg = invalid_message(tmpfile::restore(s.images(), needed - 1).unwrap_err());
    assert!(msg.contains(ARCHIVE_NAME) && msg.contains("above the limit"), "{msg}");
}

#[test]
fn discard_removes_the_archive_and_an_empty_save_removes_a_stale_one() {
    let s = Scratch::new("discard");
    fs::write(s.path("f"), b"f").unwrap();
    tmpfile::save(&[s.path("f")], s.images(), DEFAULT_LIMIT).unwrap();
    tmpfile::discard(s.images()).unwrap();
    assert!(s.image_files().is_empty());
    tmpfile::discard(s.images()).unwrap();

    tmpfile::save(&[s.path("f")], s.images(), DEFAULT_LIMIT).unwrap();
    tmpfile::save(&[], s.images(), DEFAULT_LIMIT).unwrap();
    assert!(s.image_files().is_empty(), "a later dump without tmp files must not restore these");
}

#[test]
fn a_damaged_archive_is_refused_before_anything_is_written() {
    let s = Scratch::new("damaged");
    fs::create_dir(s.path("d")).unwrap();
    fs::write(s.path("d/first"), b"first").unwrap();
    fs::write(s.path("d/second"), b"second").unwrap();
    tmpfile::save(&[s.path("d")], s.images(), DEFAULT_LIMIT).unwrap();
    fs::remove_dir_all(s.path("d")).unwrap();
    let good = fs::read(s.archive()).unwrap();

    // One flipped bit in the last byte of data: the last entry's checksum.
    let mut bad = good.clone();
    let at = bad.len() - 17;
    bad[at] ^= 1;
    fs::write(s.archive(), &bad).unwrap();
    let msg = invalid_message(tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap_err());
    assert!(msg.contains("checksum mismatch") && msg.contains("d/second") && msg.contains(ARCHIVE_NAME), "{msg}");
    assert!(!s.path("d").exists(), "nothing written, not even the entries before the damage");

    // Cut short, extended, emptied, or garbage: refused, never a panic.
    let mut cases: Vec<Vec<u8>> =
        vec![good[..good.len() - 1].to_vec(), [&good[..], b"x"].concat(), Vec::new(), good[..31].to_vec()];
    let mut noise = 0x9e3779b97f4a7c15u64;
    for _ in 0..200 {
        let mut g = good.clone();
        for _ in 0..4 {
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            let i = (noise % g.len() as u64) as usize;
            g[i] = (noise >> 32) as u8;
        }
        cases.push(g);
    }
    for case in cases {
        fs::write(s.archive(), &case).unwrap();
        if case != good {
            assert!(tmpfile::restore(s.images(), DEFAULT_LIMIT).is_err());
            let _ = tmpfile::list(s.images());
        }
        assert!(!s.path("d").exists());
    }
}

/// An entry for [`encode`]: written as the format documentation says, so
/// these tests also check the documentation.
struct Raw {
    kind: u8,
    root: bool,
    path: String,
    data: &'static [u8],
    /// Flag bits besides the root's.
    flags: u8,
    /// The file size field; the data's length when `None` for a file.
    size: Option<u64>,
    xattrs: Vec<u8>,
}

fn raw(kind: u8, root: bool, path: impl Into<String>) -> Raw {
    Raw { kind, root, path: path.into(), data: b"", flags: 0, size: None, xattrs: Vec::new() }
}

/// One extended-attribute record.
fn xattr_record(name: &str, value: &[u8]) -> Vec<u8> {
    let mut r = vec![name.len() as u8];
    r.extend_from_slice(&(value.len() as u32).to_le_bytes());
    r.extend_from_slice(name.as_bytes());
    r.extend_from_slice(value);
    r
}

fn encode(entries: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"LCRIUTMP");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // length, set below
    for e in entries {
        let start = out.len();
        out.push(e.kind);
        out.push(e.root as u8 | e.flags);
        out.extend_from_slice(&(e.path.len() as u16).to_le_bytes());
        out.extend_from_slice(&0o644u32.to_le_bytes());
        // SAFETY: geteuid and getegid take nothing and cannot fail.
        let me = unsafe { (libc::geteuid(), libc::getegid()) };
        out.extend_from_slice(&me.0.to_le_bytes());
        out.extend_from_slice(&me.1.to_le_bytes());
        out.extend_from_slice(&1_700_000_000i64.to_le_bytes());
        out.extend_from_slice(&5u32.to_le_bytes());
        out.extend_from_slice(&(e.xattrs.len() as u32).to_le_bytes());
        out.extend_from_slice(&(e.data.len() as u64).to_le_bytes());
        let size = e.size.unwrap_or(if e.kind == 1 { e.data.len() as u64 } else { 0 });
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(e.path.as_bytes());
        out.extend_from_slice(&e.xattrs);
        out.extend_from_slice(e.data);
        let sum = xxhash_rust::xxh3::xxh3_128(&out[start..]);
        out.extend_from_slice(&sum.to_le_bytes());
    }
    let len = out.len() as u64;
    out[24..32].copy_from_slice(&len.to_le_bytes());
    out
}

#[test]
fn an_archive_written_from_the_format_documentation_is_restored() {
    let s = Scratch::new("doc");
    let dir = s.path("made").display().to_string();
    let file = format!("{dir}/hello");
    fs::write(
        s.archive(),
        encode(&[Raw { data: b"", ..raw(2, true, &dir) }, Raw { data: b"hi\n", ..raw(1, false, &file) }]),
    )
    .unwrap();
    let restored = tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap();
    assert_eq!(restored.len(), 2);
    assert_eq!(fs::read(&file).unwrap(), b"hi\n");
    let m = fs::metadata(&file).unwrap();
    assert_eq!((m.mode() & 0o7777, m.mtime(), m.mtime_nsec()), (0o644, 1_700_000_000, 5));
    fs::remove_dir_all(&dir).unwrap();

    // A sparse file (two extents: 2 bytes at 4096, 3 at 1 MiB, size 2 MiB),
    // a hard link to it and a user attribute, as documented.
    let sparse = format!("{dir}/sparse");
    let mut map = Vec::new();
    for v in [2u64, 4096, 2, 1 << 20, 3] {
        map.extend_from_slice(&v.to_le_bytes());
    }
    map.extend_from_slice(b"ab" as &[u8]);
    map.extend_from_slice(b"cde" as &[u8]);
    let map: &'static [u8] = Box::leak(map.into_boxed_slice());
    fs::write(
        s.archive(),
        encode(&[
            raw(2, true, &dir),
            Raw {
                data: map,
                flags: 2,
                size: Some(2 << 20),
                xattrs: xattr_record("user.doc", b"yes"),
                ..raw(1, false, &sparse)
            },
            Raw { data: Box::leak(sparse.clone().into_bytes().into_boxed_slice()), ..raw(4, false, &file) },
        ]),
    )
    .unwrap();
    tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap();
    let bytes = fs::read(&sparse).unwrap();
    assert_eq!(bytes.len(), 2 << 20);
    assert_eq!((&bytes[4096..4098], &bytes[1 << 20..(1 << 20) + 3]), (&b"ab"[..], &b"cde"[..]));
    assert_eq!(bytes.iter().filter(|&&b| b != 0).count(), 5);
    let (a, b) = (fs::metadata(&sparse).unwrap(), fs::metadata(&file).unwrap());
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 2), "the hard link names the same file");
    assert!(a.blocks() * 512 < 64 << 10, "holes are not allocated: {} blocks", a.blocks());
    assert_eq!(xattr_get(&file, "user.doc").as_deref(), Some(&b"yes"[..]));
}

/// An extended attribute's value, `None` when it has none.
fn xattr_get(path: &str, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 65536];
    rustix::fs::lgetxattr(path, name, &mut buf[..]).ok().map(|n| buf[..n].to_vec())
}

/// A sparse file's data whose one extent (8 bytes at 8) ends past a size
/// of 10.
const EXTENT_PAST_SIZE: [u8; 32] = extent_map([1, 8, 8, 0]);
/// Two extents where the second starts inside the first (and their 8 bytes).
const EXTENTS_OVERLAP: [u8; 48] = extent_map([2, 0, 4, 2, 4, 0]);

/// Little-endian u64 words as bytes.
const fn extent_map<const W: usize, const B: usize>(words: [u64; W]) -> [u8; B] {
    let mut out = [0u8; B];
    let mut i = 0;
    while i < B {
        out[i] = (words[i / 8] >> (8 * (i % 8))) as u8;
        i += 1;
    }
    out
}

#[test]
fn hostile_paths_are_refused_and_nothing_is_written() {
    let s = Scratch::new("hostile");
    let base = s.root.display().to_string();
    let d = format!("{base}/d");
    let ok_file = format!("{base}/written-if-buggy");
    let cases: Vec<(Vec<Raw>, &str)> = vec![
        (vec![raw(1, true, "relative/path")], "not absolute"),
        (vec![raw(1, true, format!("{base}/../escape"))], ". or .. component"),
        (vec![raw(1, true, format!("{base}/./x"))], ". or .. component"),
        (vec![raw(1, true, format!("{base}//x"))], "empty component"),
        (vec![raw(1, true, format!("{base}/x/"))], "empty component"),
        (vec![raw(2, true, "/")], "empty component or is /"),
        // Not a root, and no directory before it holds it.
        (vec![raw(1, false, "/etc/evil")], "not inside a directory saved before it"),
        (vec![raw(2, true, &d), raw(1, false, "/etc/evil")], "not inside a directory"),
        (vec![raw(2, true, &d), raw(1, false, format!("{d}/a/b"))], "not inside a directory"),
        (vec![raw(1, true, &ok_file), raw(1, true, &ok_file)], "appears twice"),
        (vec![raw(1, true, &ok_file), raw(9, true, format!("{base}/t"))], "unknown type"),
        (vec![raw(1, true, &ok_file), Raw { data: b"x", ..raw(2, true, &d) }], "directory with data"),
        (vec![raw(1, true, &ok_file), Raw { data: b"a\0b", ..raw(3, true, format!("{base}/l")) }], "NUL"),
        (vec![raw(1, true, &ok_file), raw(1, true, format!("{base}/{}", "n".repeat(256)))], "longer than 255"),
        // Hard links only to a regular file saved before them.
        (vec![raw(1, true, &ok_file), Raw { data: b"/etc/passwd", ..raw(4, true, format!("{base}/h")) }], "hard link"),
        (vec![Raw { data: b"/x", ..raw(4, true, format!("{base}/h")) }, raw(1, true, "/x")], "hard link"),
        (vec![raw(1, true, &ok_file), Raw { data: b"rel", ..raw(4, true, format!("{base}/h")) }], "not absolute"),
        // A hard link naming its own path (once a panic: the reader looked
        // the link's file up at the link's own index, not stored yet).
        (
            vec![Raw {
                data: Box::leak(format!("{base}/h").into_bytes().into_boxed_slice()),
                ..raw(4, true, format!("{base}/h"))
            }],
            "hard link to itself",
        ),
        (
            vec![
                raw(2, true, &d),
                raw(1, false, format!("{d}/f")),
                Raw {
                    data: Box::leak(format!("{d}/h").into_bytes().into_boxed_slice()),
                    ..raw(4, false, format!("{d}/h"))
                },
            ],
            "hard link to itself",
        ),
        // Attributes: known namespaces, once, within the kernel's bounds.
        (
            vec![raw(1, true, &ok_file), Raw { xattrs: xattr_record("os2.x", b"1"), ..raw(1, true, &d) }],
            "not one that is saved",
        ),
        (
            vec![
                raw(1, true, &ok_file),
                Raw {
                    xattrs: [xattr_record("user.a", b"1"), xattr_record("user.a", b"2")].concat(),
                    ..raw(1, true, &d)
                },
            ],
            "appears twice",
        ),
        (
            vec![
                raw(1, true, &ok_file),
                Raw { xattrs: xattr_record("user.a", b"1")[..7].to_vec(), ..raw(1, true, &d) },
            ],
            "past its block",
        ),
        // Sparse files: a map that holds together, only for a file.
        (vec![raw(1, true, &ok_file), Raw { flags: 2, ..raw(2, true, &d) }], "only a regular file"),
        (vec![raw(1, true, &ok_file), Raw { flags: 2, size: Some(10), ..raw(1, true, &d) }], "without its extent map"),
        (
            vec![raw(1, true, &ok_file), Raw { flags: 2, size: Some(10), data: &EXTENT_PAST_SIZE, ..raw(1, true, &d) }],
            "past the size",
        ),
        (
            vec![raw(1, true, &ok_file), Raw { flags: 2, size: Some(100), data: &EXTENTS_OVERLAP, ..raw(1, true, &d) }],
            "out of order",
        ),
        (
            vec![raw(1, true, &ok_file), Raw { size: Some(1 << 40), data: b"x", ..raw(1, true, &d) }],
            "without being sparse",
        ),
    ];
    for (entries, why) in cases {
        fs::write(s.archive(), encode(&entries)).unwrap();
        let msg = invalid_message(tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap_err());
        assert!(msg.contains(why) && msg.contains("entry"), "wanted {why:?}: {msg}");
        let listed = invalid_message(tmpfile::list(s.images()).unwrap_err());
        assert!(listed.contains(why), "list: wanted {why:?}: {listed}");
        assert!(!Path::new(&ok_file).exists() && !Path::new(&d).exists(), "{why}: something was written");
    }

    // An archive of the first format is refused with what to do about it.
    let mut old = encode(&[raw(1, true, &ok_file)]);
    old[8] = 1;
    fs::write(s.archive(), old).unwrap();
    let msg = invalid_message(tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap_err());
    assert!(msg.contains("version 1 is not supported") && msg.contains("older"), "{msg}");

    // Bounds in the header are checked before anything is allocated.
    let mut huge = encode(&[]);
    huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    fs::write(s.archive(), huge).unwrap();
    let msg = invalid_message(tmpfile::list(s.images()).unwrap_err());
    assert!(msg.contains("entries, more than"), "{msg}");
}

#[test]
fn a_symlink_planted_on_the_way_after_the_dump_is_not_followed() {
    let s = Scratch::new("planted");
    fs::create_dir_all(s.path("victim")).unwrap();
    fs::create_dir_all(s.path("app/dir")).unwrap();
    fs::write(s.path("app/dir/f"), b"f").unwrap();
    fs::create_dir_all(s.path("deep/parent")).unwrap();
    fs::write(s.path("deep/parent/g"), b"g").unwrap();
    tmpfile::save(&[s.path("app/dir"), s.path("deep/parent/g")], s.images(), DEFAULT_LIMIT).unwrap();

    // A saved directory replaced by a link elsewhere.
    fs::remove_dir_all(s.path("app/dir")).unwrap();
    symlink(s.path("victim"), s.path("app/dir")).unwrap();
    let msg = invalid_message(tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap_err());
    assert!(msg.contains("app/dir") && msg.contains("refusing"), "{msg}");
    assert_eq!(fs::read_dir(s.path("victim")).unwrap().count(), 0);

    // A parent directory of a saved path replaced by a link elsewhere.
    fs::remove_file(s.path("app/dir")).unwrap();
    fs::remove_dir_all(s.path("deep")).unwrap();
    symlink(s.path("victim"), s.path("deep")).unwrap();
    let msg = invalid_message(tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap_err());
    assert!(msg.contains("deep is a symlink") && msg.contains("refusing to follow"), "{msg}");
    assert_eq!(fs::read_dir(s.path("victim")).unwrap().count(), 0);
    assert!(!s.path("app/dir").exists(), "refused before anything was written, the entries before it included");

    // A file where a directory was saved is not replaced either.
    fs::remove_file(s.path("deep")).unwrap();
    fs::write(s.path("app/dir"), b"someone else's").unwrap();
    let msg = invalid_message(tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap_err());
    assert!(msg.contains("app/dir") && msg.contains("refusing to replace"), "{msg}");
    assert!(!s.path("deep").exists());

    fs::remove_file(s.path("app/dir")).unwrap();
    assert_eq!(tmpfile::restore(s.images(), DEFAULT_LIMIT).unwrap().len(), 3);
    assert_eq!(fs::read(s.path("deep/parent/g")).unwrap(), b"g");
}

#[test]
fn a_narrowed_put_back_writes_only_the_named_paths_and_copies_a_link_whose_file_is_left_out() {
    let s = Scratch::new("narrowed");
    fs::create_dir_all(s.path("app/keep")).unwrap();
    fs::create_dir_all(s.path("app/a-skip")).unwrap();
    fs::write(s.path("app/a-skip/first"), b"shared bytes").unwrap();
    fs::hard_link(s.path("app/a-skip/first"), s.path("app/keep/second")).unwrap();
    fs::write(s.path("app/keep/own"), b"own").unwrap();
    fs::write(s.path("other"), b"other").unwrap();
    tmpfile::save(&[s.path("app"), s.path("other")], s.images(), DEFAULT_LIMIT).unwrap();
    fs::remove_dir_all(s.path("app")).unwrap();
    fs::remove_file(s.path("other")).unwrap();
    let listed = tmpfile::list(s.images()).unwrap();
    let link = listed.iter().find(|e| e.kind == EntryKind::HardLink).expect("the second name is a hard link");
    assert_eq!(
        (link.path.clone(), link.link_target.clone(), link.size),
        (s.path("app/keep/second"), Some(s.path("app/a-skip/first")), 12)
    );

    let put = tmpfile::restore_only(s.images(), DEFAULT_LIMIT, &[s.path("app/keep")]).unwrap();
    let names: Vec<_> = put.iter().map(|e| e.path.strip_prefix(&s.root).unwrap().display().to_string()).collect();
    assert_eq!(
        names,
        ["app", "app/keep", "app/keep/own", "app/keep/second"],
        "the directories on the way, then the named tree"
    );
    assert!(!s.path("app/a-skip").exists() && !s.path("other").exists(), "what was not named stays in the archive");
    assert_eq!(fs::read(s.path("app/keep/second")).unwrap(), b"shared bytes", "its file left out, the link is a copy");
    assert_eq!(fs::metadata(s.path("app/keep/second")).unwrap().nlink(), 1);

    // put_back() with nothing named puts back everything, links as links.
    fs::remove_dir_all(s.path("app")).unwrap();
    assert_eq!(tmpfile::put_back(s.images(), DEFAULT_LIMIT, &[]).unwrap().len(), 7);
    let (a, b) = (fs::metadata(s.path("app/a-skip/first")).unwrap(), fs::metadata(s.path("app/keep/second")).unwrap());
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
    assert_eq!(fs::read(s.path("other")).unwrap(), b"other");
}

#[test]
fn the_limit_counts_the_bytes_a_sparse_file_stores() {
    use std::os::unix::fs::FileExt;
    let s = Scratch::new("sparse-limit");
    let f = File::create(s.path("sparse")).unwrap();
    f.set_len(256 << 20).unwrap();
    f.write_all_at(b"end", (256 << 20) - 3).unwrap();
    drop(f);
    let summary = tmpfile::save(&[s.path("sparse")], s.images(), 1 << 20).expect("256 MiB of holes fit in 1 MiB");
    assert!(summary.archive_bytes < 64 << 10, "{summary:?}");
    let listed = tmpfile::list(s.images()).unwrap();
    assert!(listed[0].sparse && listed[0].size == 256 << 20 && listed[0].stored < 64 << 10, "{listed:?}");
    fs::remove_file(s.path("sparse")).unwrap();
    tmpfile::restore(s.images(), 1 << 20).unwrap();
    let m = fs::metadata(s.path("sparse")).unwrap();
    assert_eq!(m.len(), 256 << 20);
    assert!(m.blocks() * 512 <= 64 << 10, "{} bytes allocated", m.blocks() * 512);
    let mut end = [0u8; 3];
    File::open(s.path("sparse")).unwrap().read_exact_at(&mut end, (256 << 20) - 3).unwrap();
    assert_eq!(&end, b"end");
}
