//! The images reader on crafted directories and damaged bytes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use prost::Message;

use super::super::codec::{typed_entries, MAX_ENTRY};
use super::super::pb::*;
use super::super::schema::magic;
use super::*;
use crate::error::Error;

fn scratch() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("libcriu-rs-images-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn image_bytes<M: Message>(common: bool, kind: u32, entries: &[M]) -> Vec<u8> {
    let mut out = Vec::new();
    if common && kind != magic("INVENTORY") {
        out.extend(magic("IMG_COMMON").to_ne_bytes());
    }
    out.extend(kind.to_ne_bytes());
    for entry in entries {
        out.extend((entry.encoded_len() as u32).to_ne_bytes());
        out.extend(entry.encode_to_vec());
    }
    out
}

fn write<M: Message>(dir: &Path, name: &str, common: bool, kind: u32, entries: &[M]) {
    std::fs::write(dir.join(name), image_bytes(common, kind, entries)).unwrap();
}

fn inventory(dir: &Path, common: bool) {
    let version = if common { 2 } else { 1 };
    let head = InventoryEntry { img_version: version, fdinfo_per_id: Some(true), ..Default::default() };
    write(dir, "inventory.img", common, magic("INVENTORY"), &[head]);
}

fn task(dir: &Path, common: bool, pid: u32, files_id: u32, fds: &[(u32, u32, FdTypes)]) {
    let ids = TaskKobjIdsEntry { files_id, ..Default::default() };
    write(dir, &format!("ids-{pid}.img"), common, magic("IDS"), &[ids]);
    let fds: Vec<FdinfoEntry> =
        fds.iter().map(|&(fd, id, kind)| FdinfoEntry { id, fd, r#type: kind as i32, ..Default::default() }).collect();
    write(dir, &format!("fdinfo-{files_id}.img"), common, magic("FDINFO"), &fds);
}

fn pstree(dir: &Path, common: bool, pids: &[u32]) {
    let tree: Vec<PstreeEntry> = pids.iter().map(|&pid| PstreeEntry { pid, ..Default::default() }).collect();
    write(dir, "pstree.img", common, magic("PSTREE"), &tree);
}

fn reg(id: u32, name: &str, ext: bool) -> FileEntry {
    let reg = RegFileEntry { id, name: name.into(), ext: ext.then_some(true), flags: 2, ..Default::default() };
    FileEntry { r#type: FdTypes::Reg as i32, id, reg: Some(reg), ..Default::default() }
}

fn pipe(id: u32, pipe_id: u32, flags: i32) -> FileEntry {
    let pipe = PipeEntry { id, pipe_id, flags: flags as u32, ..Default::default() };
    FileEntry { r#type: FdTypes::Pipe as i32, id, pipe: Some(pipe), ..Default::default() }
}

fn unix(id: u32, ino: u32, peer: u32, uflags: u32, name: &[u8]) -> FileEntry {
    let usk = UnixSkEntry {
        id,
        ino,
        peer,
        uflags,
        r#type: libc::SOCK_STREAM as u32,
        name: name.to_vec(),
        ..Default::default()
    };
    FileEntry { r#type: FdTypes::Unixsk as i32, id, usk: Some(usk), ..Default::default() }
}

fn tty(id: u32, info: u32) -> FileEntry {
    let tty = TtyFileEntry { id, tty_info_id: info, flags: 2, ..Default::default() };
    FileEntry { r#type: FdTypes::Tty as i32, id, tty: Some(tty), ..Default::default() }
}

fn tty_info(id: u32, kind: TtyType, major: u32, minor: u32, index: Option<u32>) -> TtyInfoEntry {
    TtyInfoEntry {
        id,
        r#type: kind as i32,
        rdev: libc::makedev(major, minor) as u32,
        pty: index.map(|index| TtyPtyEntry { index }),
        dev: Some(0x16),
        ..Default::default()
    }
}

/// A two-task dump (plus a zombie) holding one external resource of every
/// kind next to resources that are not external.
fn crafted_dump() -> PathBuf {
    let dir = scratch();
    let v = true;
    inventory(&dir, v);
    pstree(&dir, v, &[10, 11, 12]);
    use FdTypes::*;
    task(&dir, v, 10, 1, &[(3, 1, Reg), (4, 2, Reg), (5, 3, Pipe), (6, 4, Pipe), (9, 10, Tty), (10, 12, Tty)]);
    task(&dir, v, 11, 2, &[(0, 5, Pipe), (7, 6, Unixsk), (8, 8, Unixsk), (9, 11, Tty), (12, 13, Tty)]);
    let files = [
        reg(1, "file[2a:1f]", true),
        reg(2, "/etc/hostname", false),
        pipe(3, 100, libc::O_RDONLY),
        pipe(4, 200, libc::O_RDONLY),
        pipe(5, 200, libc::O_WRONLY),
        unix(6, 50, 51, 0, b""),
        unix(7, 51, 0, USK_EXTERN, b"\0abstract"),
        unix(8, 60, 61, 0, b""),
        unix(9, 61, 60, 0, b""),
        tty(10, 1),
        tty(11, 2),
        tty(12, 3),
        tty(13, 4),
    ];
    write(&dir, "files.img", v, magic("FILES"), &files);
    let infos = [
        tty_info(1, TtyType::Pty, 136, 3, Some(3)),
        tty_info(2, TtyType::ExtTty, 4, 1, None),
        tty_info(3, TtyType::Pty, 136, 4, Some(4)),
        tty_info(4, TtyType::Pty, 5, 2, Some(4)),
    ];
    write(&dir, "tty-info.img", v, magic("TTY_INFO"), &infos);
    dir
}

#[test]
fn lists_each_kind_of_external_resource() {
    let dir = crafted_dump();
    let found = external_resources(&dir).unwrap();
    let short: Vec<_> = found.iter().map(|r| (r.kind, r.key.as_str(), r.pid, r.fd)).collect();
    assert_eq!(
        short,
        vec![
            (ExternalKind::File, "file[2a:1f]", 10, 3),
            (ExternalKind::Pipe, "pipe:[100]", 10, 5),
            (ExternalKind::Tty, "tty[8803:16]", 10, 9),
            (ExternalKind::UnixSocket, "socket:[50]", 11, 7),
            (ExternalKind::Tty, "tty[401:16]", 11, 9),
        ]
    );
    assert!(found[1].description.starts_with("read end"), "{}", found[1].description);
    assert!(found[2].description.contains("/dev/pts/3"), "{}", found[2].description);
    assert!(found[3].description.contains("\\x00abstract"), "{}", found[3].description);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn shared_tables_and_zombies_are_handled() {
    let dir = scratch();
    let v = true;
    inventory(&dir, v);
    // 21 shares 20's table; 22 is a zombie (no ids image).
    pstree(&dir, v, &[20, 21, 22]);
    task(&dir, v, 20, 7, &[(1, 1, FdTypes::Pipe)]);
    write(&dir, "ids-21.img", v, magic("IDS"), &[TaskKobjIdsEntry { files_id: 7, ..Default::default() }]);
    write(&dir, "files.img", v, magic("FILES"), &[pipe(1, 5, libc::O_WRONLY)]);
    let found = external_resources(&dir).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].pid, found[0].fd, found[0].key.as_str()), (20, 1, "pipe:[5]"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn old_layout_and_per_kind_images() {
    let dir = scratch();
    let v = false;
    inventory(&dir, v);
    pstree(&dir, v, &[5]);
    task(&dir, v, 5, 1, &[(4, 9, FdTypes::Pipe), (6, 3, FdTypes::Reg)]);
    write(&dir, "pipes.img", v, magic("PIPES"), &[PipeEntry { id: 9, pipe_id: 77, flags: 1, ..Default::default() }]);
    let reg = RegFileEntry { id: 3, name: "file[1:2]".into(), ext: Some(true), ..Default::default() };
    write(&dir, "reg-files.img", v, magic("REG_FILES"), &[reg]);
    let keys: Vec<_> = external_resources(&dir).unwrap().into_iter().map(|r| r.key).collect();
    assert_eq!(keys, ["pipe:[77]", "file[1:2]"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn decode_reports_file_and_offset() {
    let good = image_bytes(true, magic("PSTREE"), &[PstreeEntry { pid: 1, ..Default::default() }]);
    let ok: Vec<PstreeEntry> = typed_entries(&good, true, magic("PSTREE")).unwrap();
    assert_eq!(ok[0].pid, 1);

    let err = |bytes: &[u8]| match typed_entries::<PstreeEntry>(bytes, true, magic("PSTREE")) {
        Err(e) => e.to_string(),
        Ok(found) => panic!("expected an error, got {found:?}"),
    };
    assert!(err(&good[..3]).contains("offset 0: the image ends inside the magic"));
    assert!(err(&good[4..]).contains("offset 0: magic"));
    assert!(err(&good[..10]).contains("offset 8: the image ends inside an entry's length"));
    assert!(err(&good[..good.len() - 1]).contains("offset 8: the image ends inside an entry of"));
    let mut huge = good[..8].to_vec();
    huge.extend((MAX_ENTRY + 1).to_ne_bytes());
    assert!(err(&huge).contains("offset 8: entry of 16777217 bytes"));
    let mut junk = good[..8].to_vec();
    junk.extend([3, 0, 0, 0, 0xff, 0xff, 0xff]);
    assert!(err(&junk).starts_with("offset 8: undecodable entry"));

    // Read from a dump, the error names the image.
    let dir = crafted_dump();
    std::fs::write(dir.join("pstree.img"), &junk).unwrap();
    let msg = match external_resources(&dir) {
        Err(Error::InvalidArgument(msg)) => msg,
        other => panic!("expected InvalidArgument, got {other:?}"),
    };
    let expected = format!("image {}: offset 8: undecodable entry", dir.join("pstree.img").display());
    assert!(msg.starts_with(&expected), "{msg}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn damaged_images_give_errors_not_panics() {
    let dir = crafted_dump();
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    let mut seed = 0x2545_f491_u32;
    for name in names {
        let path = dir.join(&name);
        let good = std::fs::read(&path).unwrap();
        // Every truncation, and the file with bytes overwritten at random.
        for len in 0..good.len() {
            std::fs::write(&path, &good[..len]).unwrap();
            let result = external_resources(&dir);
            // Cutting a file anywhere but between entries is an error.
            if len < 8 || !entry_boundaries(&good).contains(&len) {
                assert!(result.is_err(), "{name:?} cut at {len} was accepted");
            }
        }
        for _ in 0..200 {
            let mut bad = good.clone();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let at = seed as usize % bad.len();
                bad[at] = (seed >> 24) as u8;
            }
            std::fs::write(&path, &bad).unwrap();
            let _ = external_resources(&dir);
        }
        std::fs::write(&path, &good).unwrap();
    }
    assert_eq!(external_resources(&dir).unwrap().len(), 5);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Offsets at which a well-formed image may end.
fn entry_boundaries(image: &[u8]) -> Vec<usize> {
    let start = if image[..4] == magic("INVENTORY").to_ne_bytes() { 4 } else { 8 };
    let mut at = start;
    let mut ends = vec![at];
    while at + 4 <= image.len() {
        at += 4 + u32::from_ne_bytes(image[at..at + 4].try_into().unwrap()) as usize;
        ends.push(at);
    }
    ends
}

#[test]
fn refuses_what_is_not_an_images_directory() {
    let dir = scratch();
    let msg = external_resources(&dir).unwrap_err().to_string();
    assert!(msg.contains("inventory.img: missing"), "{msg}");

    // A FIFO must not block the reader, and links are not followed.
    nix::unistd::mkfifo(&dir.join("inventory.img"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let msg = external_resources(&dir).unwrap_err().to_string();
    assert!(msg.contains("not a regular file"), "{msg}");
    std::fs::remove_file(dir.join("inventory.img")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("inventory.img")).unwrap();
    let msg = external_resources(&dir).unwrap_err().to_string();
    assert!(msg.contains("inventory.img: a symbolic link, not followed"), "{msg}");

    std::fs::remove_file(dir.join("inventory.img")).unwrap();
    let old = InventoryEntry { img_version: 2, fdinfo_per_id: None, ..Default::default() };
    write(&dir, "inventory.img", true, magic("INVENTORY"), &[old]);
    let msg = external_resources(&dir).unwrap_err().to_string();
    assert!(msg.contains("too old"), "{msg}");
    std::fs::remove_dir_all(dir).unwrap();
}
