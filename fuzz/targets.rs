//! The bodies of the fuzz targets, shared by cargo-fuzz (fuzz_targets/*.rs,
//! nightly features) and the corpus replay that runs on stable
//! (tests/fuzz_replay.rs): both include this file with `#[path]`.
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

/// Every target, by the name of its corpus directory (fuzz/corpus/<name>).
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("response", response),
    ("exchange", exchange),
    ("ids", ids),
    ("images", images),
    ("tmpfile", tmpfile),
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
        unsafe {
            libc::send(peer.as_raw_fd(), packet.as_ptr().cast(), packet.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
        };
    }
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
        3 => ops::feature_check(&mut opts, ops::Features { mem_track: true, lazy_pages: true, pidfd_store: true }).map(drop),
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

/// The tmp-file archive reader (criu::tmpfile::list: structure only, no
/// checksums, nothing written) on a fuzzed archive.
pub fn tmpfile(data: &[u8]) {
    let dir = Scratch::new("tmpfile");
    std::fs::write(dir.path.join(criu::tmpfile::ARCHIVE_NAME), data).expect("write the archive");
    let fd = std::fs::File::open(&dir.path).expect("open the scratch directory");
    let _ = criu::tmpfile::list(fd.as_fd());
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
    let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, sv.as_mut_ptr()) };
    assert_eq!(rc, 0, "socketpair");
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
