//! The bodies of the fuzz targets, shared by cargo-fuzz (fuzz_targets/*.rs,
//! nightly features) and the corpus replay that runs on stable
//! (crates/criu/tests/fuzz_replay.rs): both include this file with `#[path]`.
//!
//! Each target feeds untrusted bytes to one reader of the library and
//! panics when a property fails; the library itself must never panic,
//! hang or leak a descriptor, whatever the bytes.
#![allow(dead_code)] // each fuzz target uses one function of this module

use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use criu::ids::{ExternalId, InheritKey};
use criu::rpc::CriuResp;
use criu::{ops, Options};
use prost::Message;

/// A target's body: one input, a panic when a property fails.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus directory (fuzz/corpus/<name>).
pub const TARGETS: &[(&str, Target)] = &[
    ("response", response),
    ("exchange", exchange),
    ("ids", ids),
    ("images", images),
    ("codec", codec),
    ("tmpfile", tmpfile),
    ("putback", putback),
];

/// Decoding criu's answers: whatever decodes re-encodes to the same message.
pub fn response(data: &[u8]) {
    if let Ok(resp) = CriuResp::decode(data) {
        let again = CriuResp::decode(resp.encode_to_vec().as_slice()).expect("a re-encoded response decodes");
        assert_eq!(resp, again, "decode(encode(x)) != x");
    }
}

/// Where one packet of `exchange` input ends and the next begins.
pub const PACKET_SEPARATOR: &[u8] = b"#!#";

/// A whole exchange with a lying criu: the library sends a request over a
/// socket whose other end already holds the fuzzed answers (packets split
/// at PACKET_SEPARATOR: notifications, then the answer, or anything). The
/// first input byte picks the operation (low 3 bits; the rest counts
/// pre-dump rounds), the second what the notify callback answers. The operation must return (the other end is shut for
/// writing, so running out of packets is end-of-file), and the library
/// must close the socket it was given and nothing else.
pub fn exchange(data: &[u8]) {
    let [op, verdict, packets @ ..] = data else { return };
    let (op, verdict) = (*op, *verdict);
    let (ours, peer) = seqpacket_pair();
    for packet in split(packets, PACKET_SEPARATOR) {
        // A full socket buffer only drops the rest: still an answer.
        // SAFETY: send reads `packet.len()` bytes from the live slice.
        unsafe {
            libc::send(peer.as_raw_fd(), packet.as_ptr().cast(), packet.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
        };
    }
    // SAFETY: shutdown on the socket `peer` owns touches no memory.
    unsafe { libc::shutdown(peer.as_raw_fd(), libc::SHUT_WR) };

    let before = fd_count();
    let mut opts = Options::new();
    opts.set_service_fd(ours.into_raw_fd()).set_reply_timeout(Some(Duration::from_secs(5)));
    if verdict & 1 != 0 {
        // Nonzero answers stop the operation, which must return that value.
        let answer = if verdict & 2 != 0 { -1 - i32::from(verdict >> 2) } else { 0 };
        opts.set_notify(Box::new(move |note, _| {
            drop(note.take_fd());
            answer
        }));
    }
    let result = match op & 7 {
        0 => ops::version(&mut opts).map(drop),
        1 => ops::check(&mut opts),
        2 => ops::restore(&mut opts).map(drop),
        3 => ops::feature_check(&mut opts, ops::Features { mem_track: true, lazy_pages: true, pidfd_store: true })
            .map(drop),
        4 => ops::dump(&mut opts).map(drop),
        5 => ops::pre_dump(&mut opts),
        _ => {
            opts.set_pid(1);
            let mut rounds = op >> 3;
            ops::dump_iters(&mut opts, move |_| {
                rounds = rounds.saturating_sub(1);
                i32::from(rounds > 0)
            })
        }
    };
    if let Err(criu::Error::Callback(v)) = result {
        assert!(verdict & 3 == 3 && v == -1 - i32::from(verdict >> 2), "callback value {v} from nowhere");
    }
    drop(opts);
    assert_eq!(fd_count(), before - 1, "the library must close the service fd, and only that");
    drop(peer);
}

/// The id parsers: whatever parses prints back to something that parses to
/// the same id.
pub fn ids(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(id) = ExternalId::parse(text) {
        let shown = id.to_string();
        assert_eq!(ExternalId::parse(&shown).ok(), Some(id), "external id {text:?} prints as {shown:?}");
    }
    if let Ok(key) = InheritKey::parse(text) {
        let shown = key.to_string();
        assert_eq!(InheritKey::parse(&shown).ok(), Some(key), "inherit key {text:?} prints as {shown:?}");
    }
}

/// Where one file of `images` input begins: the separator, the file's name,
/// a newline, then its bytes.
pub const FILE_SEPARATOR: &[u8] = b"@@FILE ";

/// The image reader (criu::images::external_resources) on a directory of
/// fuzzed image files. It must return, Ok or Err, without panicking.
pub fn images(data: &[u8]) {
    let dir = Scratch::new("images");
    for part in split(data, FILE_SEPARATOR).skip(1) {
        let (name, content) = match part.iter().position(|b| *b == b'\n') {
            Some(n) => (&part[..n], &part[n + 1..]),
            None => (part, &[][..]),
        };
        let plain = |b: &u8| b.is_ascii_alphanumeric() || b"._-".contains(b);
        if name.is_empty() || name.len() > 64 || !name.iter().all(plain) || name.iter().all(|b| *b == b'.') {
            continue;
        }
        let _ = std::fs::write(dir.path.join(std::str::from_utf8(name).unwrap()), content);
    }
    let _ = criu::images::external_resources(&dir.path);
}

/// Any image file through the table-driven codec (every schema, every
/// payload kind): the typed framing reads without panicking, in both
/// modes, and what it reads it writes back to bytes that read the same;
/// decoding to a dict never panics, in every mode; what decodes encodes,
/// and decodes again to the same dict; the pretty dict encodes to the same
/// bytes as the plain one whenever both encode.
pub fn codec(data: &[u8]) {
    use criu::images::codec::{Image, Payloads};
    use criu::images::{decode, encode, info};
    let _ = Image::read(data, Payloads::Skip);
    if let Ok(image) = Image::read(data, Payloads::Read) {
        let bytes = image.write().expect("a read image writes");
        let again = Image::read(&bytes, Payloads::Read).expect("a written image reads");
        assert_eq!(image, again, "read(write(read(x))) != read(x)");
    }
    let _ = info(data);
    let _ = decode(data, true, true);
    let _ = decode(data, false, true);
    let Ok(plain) = decode(data, false, false) else { return };
    let bytes = encode(&plain).expect("a decoded image encodes");
    let again = decode(&bytes, false, false).expect("an encoded image decodes");
    assert_eq!(plain, again, "decode(encode(decode(x))) != decode(x)");
    let text = criu::images::pyjson::to_string(&plain, Some(4));
    let parsed: serde_json::Value = serde_json::from_str(&text).expect("our JSON parses");
    assert_eq!(encode(&parsed).as_deref(), Ok(bytes.as_slice()), "the JSON text encodes to the same bytes");
    if let Ok(pretty) = decode(data, true, false) {
        if let Ok(from_pretty) = encode(&pretty) {
            assert_eq!(from_pretty, bytes, "pretty and plain dicts encode differently");
        }
    }
}

/// The tmp-file archive reader (criu::tmpfile::list: structure only, no
/// checksums, nothing written) on a fuzzed archive.
pub fn tmpfile(data: &[u8]) {
    let dir = Scratch::new("tmpfile");
    std::fs::write(dir.path.join(criu::tmpfile::ARCHIVE_NAME), data).expect("write the archive");
    let fd = std::fs::File::open(&dir.path).expect("open the scratch directory");
    let _ = criu::tmpfile::list(fd.as_fd());
}

/// Where the `putback` target lets an archive write: archives name paths
/// below it (absolute paths, so the same for every process; a lock file
/// beside it serializes processes that fuzz or replay at once).
pub const PUTBACK_BASE: &str = "/tmp/libcriu-fuzz-putback";

/// Putting an untrusted archive back (criu::tmpfile::restore), past the
/// checksums: the target first re-seals every entry it can frame with the
/// checksum of its bytes, so mutations reach the structure checks and the
/// writing, not only checksum failures. Like the library's restore, it puts
/// back only archives whose every entry lies below PUTBACK_BASE/root.
/// Properties: restore returns; no descriptor leaks; nothing appears in
/// PUTBACK_BASE/outside (seeds plant symlinks to it); on success each entry
/// reported is on disk with its type, and regular files with their size.
pub fn putback(data: &[u8]) {
    use std::os::unix::fs::MetadataExt;
    let base = Path::new(PUTBACK_BASE);
    let (root, outside) = (base.join("root"), base.join("outside"));
    std::fs::create_dir_all(base).expect("create the put-back base");
    let lock = std::fs::File::create(base.with_extension("lock")).expect("create the lock file");
    // libFuzzer's -timeout alarm interrupts a wait for another process's
    // lock every second.
    // SAFETY: flock on the file `lock` owns touches no memory.
    while unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        let err = std::io::Error::last_os_error();
        assert_eq!(err.kind(), std::io::ErrorKind::Interrupted, "lock {PUTBACK_BASE}: {err}");
    }
    for dir in [&root, &outside] {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).expect("create the put-back directories");
    }
    let images = Scratch::new("putback");
    let mut archive = data.to_vec();
    reseal(&mut archive);
    std::fs::write(images.path.join(criu::tmpfile::ARCHIVE_NAME), &archive).expect("write the archive");
    let images_fd = std::fs::File::open(&images.path).expect("open the scratch directory");

    let before = fd_count();
    let confined =
        criu::tmpfile::list(images_fd.as_fd()).is_ok_and(|entries| entries.iter().all(|e| e.path.starts_with(&root)));
    if confined {
        if let Ok(put_back) = criu::tmpfile::restore(images_fd.as_fd(), 1 << 20) {
            for e in put_back {
                let meta = std::fs::symlink_metadata(&e.path).unwrap_or_else(|err| panic!("{e}: {err}"));
                let kind = meta.file_type();
                match e.kind {
                    criu::tmpfile::EntryKind::File => {
                        assert!(kind.is_file(), "{e}: not a regular file");
                        assert_eq!(meta.size(), e.size, "{e}: size");
                    }
                    criu::tmpfile::EntryKind::Dir => assert!(kind.is_dir(), "{e}: not a directory"),
                    criu::tmpfile::EntryKind::Symlink => assert!(kind.is_symlink(), "{e}: not a symlink"),
                    criu::tmpfile::EntryKind::HardLink => assert!(kind.is_file(), "{e}: not a regular file"),
                }
            }
        }
    }
    assert_eq!(fd_count(), before, "restore leaked a descriptor");
    let escaped: Vec<_> = std::fs::read_dir(&outside).expect("read the outside directory").collect();
    assert!(escaped.is_empty(), "an archive wrote outside its root: {escaped:?}");
    for dir in [&root, &outside] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Give every entry of a tmp-file archive that can be framed (header, path,
/// attributes, data, 16-byte checksum; format 2 in crates/criu/src/tmpfile/mod.rs) the
/// XXH3-128 checksum of its header, path, attributes and data, and the
/// header the archive's length.
fn reseal(archive: &mut [u8]) {
    const HEADER: usize = 32;
    const ENTRY_HEADER: usize = 48;
    if archive.len() < HEADER {
        return;
    }
    let len = archive.len() as u64;
    archive[24..32].copy_from_slice(&len.to_le_bytes());
    let mut at = HEADER;
    while at + ENTRY_HEADER <= archive.len() {
        let path_len = u16::from_le_bytes([archive[at + 2], archive[at + 3]]) as usize;
        let xattrs_len = u32::from_le_bytes(archive[at + 28..at + 32].try_into().unwrap()) as usize;
        let data_len = u64::from_le_bytes(archive[at + 32..at + 40].try_into().unwrap());
        let framed = (at + ENTRY_HEADER + path_len).checked_add(xattrs_len);
        let Some(end) = usize::try_from(data_len).ok().and_then(|d| framed?.checked_add(d)) else {
            return;
        };
        if end.checked_add(16).map_or(true, |e| e > archive.len()) {
            return;
        }
        let sum = xxhash_rust::xxh3::xxh3_128(&archive[at..end]);
        archive[end..end + 16].copy_from_slice(&sum.to_le_bytes());
        at = end + 16;
    }
}

fn split<'a>(data: &'a [u8], separator: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(separator.len()).position(|w| w == separator) {
            Some(i) => {
                rest = Some(&r[i + separator.len()..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

fn seqpacket_pair() -> (OwnedFd, OwnedFd) {
    let mut sv = [0; 2];
    // SAFETY: socketpair writes two ints into `sv`, an array of two.
    let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, sv.as_mut_ptr()) };
    assert_eq!(rc, 0, "socketpair");
    // SAFETY: both descriptors are new from socketpair and held nowhere
    // else, so each OwnedFd is the one owner.
    unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) }
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// A directory of this process under the temporary directory, emptied for
/// each input and removed on drop.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new(what: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("libcriu-fuzz-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the scratch directory");
        Scratch { path }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(Path::new(&self.path));
    }
}
