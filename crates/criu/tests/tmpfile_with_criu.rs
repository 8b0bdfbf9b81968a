//! Tmp files end to end with the real criu: files the tree needs, deleted
//! between dump and restore, come back from the images.

mod common;

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::*;
use criu::{ops, Error, Options};

/// A process that holds `file` open and logs its contents every 50 ms: criu
/// reopens the file by path at restore, so the restore needs it there.
fn start_reader(file: &Path, log: &Path) -> u32 {
    let script = "open(F, '<', $ARGV[0]) or die; while (1) { seek(F, 0, 0); my $b = join('', <F>); chomp $b; \
                  open(L, '>>', $ARGV[1]); print L \"$b\\n\"; close L; select(undef, undef, undef, 0.05) }";
    start_perl(script, &[&file.display().to_string(), &log.display().to_string()])
}

struct Dumped {
    images: File,
    pid: u32,
}

/// Dump a reader of `file` (in `dir`), adding `tmp` as tmp files.
fn dump_reader(dir: &Path, file: &Path, tmp: &[&Path]) -> Dumped {
    let log = dir.join("reads.log");
    let pid = start_reader(file, &log);
    wait_until("the first read", || lines(&log) >= 1);
    dump_pid(dir, pid, tmp)
}

/// Dump the tree of `pid` into `dir`/images, adding `tmp` as tmp files.
fn dump_pid(dir: &Path, pid: u32, tmp: &[&Path]) -> Dumped {
    let images_path = dir.join("images");
    std::fs::create_dir_all(&images_path).unwrap();
    let images = File::open(&images_path).unwrap();
    let mut o = options();
    o.set_images_dir_fd(images.as_raw_fd()).set_pid(pid as i32).set_log_file("dump.log");
    for path in tmp {
        o.add_tmp_file(path).unwrap();
    }
    ops::dump(&mut o).expect("dump succeeds");
    reap(pid);
    Dumped { images, pid }
}

/// A reader of `needed.txt` in a new scratch directory `name`, dumped with
/// that file as a tmp file; then the file is deleted. Returns the
/// directory, the file's path and the dump.
fn dump_then_delete(name: &str) -> (PathBuf, PathBuf, Dumped) {
    become_subreaper();
    let dir = scratch(name);
    let data = dir.join("needed.txt");
    std::fs::write(&data, "needed contents").unwrap();
    let dumped = dump_reader(&dir, &data, &[&data]);
    std::fs::remove_file(&data).unwrap();
    (dir, data, dumped)
}

/// Restore with `o` must fail before criu runs, with a message containing
/// `why`, and without writing `data`.
fn assert_refused(o: &mut Options, why: &str, data: &Path) {
    let err = ops::restore(o).expect_err(why);
    assert!(matches!(err, Error::InvalidArgument(_)), "refused before criu runs: {err:?}");
    assert!(err.to_string().contains(why), "the message says why ({why}): {err}");
    assert!(!data.exists(), "nothing was written");
}

fn restore_options(images: &File, tmp: &[&Path]) -> Options {
    let mut o = options();
    o.set_images_dir_fd(images.as_raw_fd()).set_log_file("restore.log");
    for path in tmp {
        o.add_tmp_file(path).unwrap();
    }
    o
}

#[test]
fn a_deleted_file_comes_back_and_the_process_goes_on() {
    become_subreaper();
    let dir = scratch("tmpfile-back");
    let data = dir.join("needed.txt");
    std::fs::write(&data, "needed contents").unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o640)).unwrap();
    let dumped = dump_reader(&dir, &data, &[&data]);
    std::fs::remove_file(&data).unwrap();

    let mut o = restore_options(&dumped.images, &[&data]);
    let restored = ops::restore(&mut o).expect("restore succeeds with the file put back");
    assert_eq!(restored, dumped.pid as i32);
    let log = dir.join("reads.log");
    let before = lines(&log);
    wait_until("reads after restore", || lines(&log) >= before + 2);
    finish(restored);
    assert_eq!(std::fs::read_to_string(&data).unwrap(), "needed contents");
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o7777, 0o640);
    assert_eq!(read_lines(&log).last().unwrap(), "needed contents");
}

#[test]
fn without_the_tmp_file_the_same_restore_fails() {
    become_subreaper();
    let dir = scratch("tmpfile-missing");
    let data = dir.join("needed.txt");
    std::fs::write(&data, "needed contents").unwrap();
    let dumped = dump_reader(&dir, &data, &[]);
    std::fs::remove_file(&data).unwrap();
    let mut o = restore_options(&dumped.images, &[]);
    let err = ops::restore(&mut o).expect_err("criu cannot reopen the deleted file");
    assert!(matches!(err, Error::Rpc { .. }), "{err:?}");
    assert!(err.to_string().contains("needed.txt"), "the message names the missing file: {err}");
}

#[test]
fn a_directory_tree_comes_back() {
    become_subreaper();
    let dir = scratch("tmpfile-tree");
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("a/b")).unwrap();
    std::fs::write(tree.join("a/b/deep.txt"), "deep").unwrap();
    std::fs::write(tree.join("top.txt"), "top").unwrap();
    std::os::unix::fs::symlink("a/b/deep.txt", tree.join("link")).unwrap();
    std::fs::set_permissions(tree.join("a"), std::fs::Permissions::from_mode(0o750)).unwrap();
    let dumped = dump_reader(&dir, &tree.join("a/b/deep.txt"), &[&tree]);
    std::fs::remove_dir_all(&tree).unwrap();

    let mut o = restore_options(&dumped.images, &[&tree]);
    let restored = ops::restore(&mut o).expect("restore succeeds with the tree put back");
    finish(restored);
    assert_eq!(std::fs::read_to_string(tree.join("a/b/deep.txt")).unwrap(), "deep");
    assert_eq!(std::fs::read_to_string(tree.join("top.txt")).unwrap(), "top");
    assert_eq!(std::fs::read_link(tree.join("link")).unwrap(), Path::new("a/b/deep.txt"));
    assert_eq!(std::fs::metadata(tree.join("a")).unwrap().permissions().mode() & 0o7777, 0o750);
}

#[test]
fn a_tampered_archive_is_refused_and_nothing_is_written() {
    let (dir, data, dumped) = dump_then_delete("tmpfile-tamper");
    let archive = dir.join("images").join(criu::tmpfile::ARCHIVE_NAME);
    let mut bytes = std::fs::read(&archive).unwrap();
    let at = bytes.windows(8).position(|w| w == b"contents").expect("the data is in the archive");
    bytes[at] ^= 0x20;
    std::fs::write(&archive, bytes).unwrap();

    assert_refused(&mut restore_options(&dumped.images, &[&data]), "checksum", &data);
}

#[test]
fn a_restore_with_fresh_options_puts_back_what_the_dump_saved() {
    // The restore's caller knows nothing of the tmp files: another host, a
    // container manager that never saw the list.
    let (dir, data, dumped) = dump_then_delete("tmpfile-fresh");
    let restored = ops::restore(&mut restore_options(&dumped.images, &[])).expect("restore puts the file back");
    let log = dir.join("reads.log");
    let before = lines(&log);
    wait_until("reads after restore", || lines(&log) >= before + 2);
    finish(restored);
    assert_eq!(std::fs::read_to_string(&data).unwrap(), "needed contents");
}

#[test]
fn the_put_back_can_be_turned_off_for_one_restore() {
    let (_dir, data, dumped) = dump_then_delete("tmpfile-off");
    let mut o = restore_options(&dumped.images, &[]);
    o.set_tmp_file_put_back(false);
    let err = ops::restore(&mut o).expect_err("criu cannot reopen the file left in the images");
    assert!(matches!(err, Error::Rpc { .. }), "criu's failure, not ours: {err:?}");
    assert!(!data.exists(), "nothing was put back");
    reap(dumped.pid); // the task criu started and killed is ours to reap (subreaper)
}

#[test]
fn paths_named_at_restore_narrow_the_put_back() {
    become_subreaper();
    let dir = scratch("tmpfile-narrow");
    let data = dir.join("needed.txt");
    let other = dir.join("other.txt");
    std::fs::write(&data, "needed contents").unwrap();
    std::fs::write(&other, "other").unwrap();
    let dumped = dump_reader(&dir, &data, &[&data, &other]);
    std::fs::remove_file(&data).unwrap();
    std::fs::remove_file(&other).unwrap();
    // The archive also holds a path this restore did not name: left there,
    // not an error.
    let restored = ops::restore(&mut restore_options(&dumped.images, &[&data])).expect("restore succeeds");
    finish(restored);
    assert_eq!(std::fs::read_to_string(&data).unwrap(), "needed contents");
    assert!(!other.exists(), "a path the restore did not name is not put back");
    let listed = criu::tmpfile::list(dumped.images.as_fd()).unwrap();
    assert!(listed.iter().any(|e| e.path == other), "and stays in the images: {listed:?}");
}

#[test]
fn the_size_limit_stops_the_dump_before_criu_runs() {
    let dir = scratch("tmpfile-limit");
    let data = dir.join("big.bin");
    std::fs::write(&data, vec![7u8; 64 * 1024]).unwrap();
    let images = File::open(&dir).unwrap();
    let mut o = options();
    // A pid criu would fail on: the limit must stop the dump first.
    o.set_images_dir_fd(images.as_raw_fd()).set_pid(i32::MAX).set_tmp_file_limit(4096);
    o.add_tmp_file(&data).unwrap();
    let err = ops::dump(&mut o).expect_err("64 KiB exceed a 4 KiB limit");
    assert!(matches!(err, Error::InvalidArgument(_)), "not criu's failure: {err:?}");
    assert!(err.to_string().contains("limit"), "{err}");
    assert!(!dir.join(criu::tmpfile::ARCHIVE_NAME).exists());
}

#[test]
fn the_size_limit_also_bounds_what_a_restore_reads() {
    let (_dir, data, dumped) = dump_then_delete("tmpfile-restore-limit");
    // An images directory from elsewhere may hold an archive of any size: a
    // restore reads no more than its own limit allows.
    let mut o = restore_options(&dumped.images, &[&data]);
    o.set_tmp_file_limit(16);
    assert_refused(&mut o, "limit", &data);
}

#[test]
fn a_symlink_planted_after_the_dump_does_not_redirect_the_put_back() {
    become_subreaper();
    let dir = scratch("tmpfile-planted");
    let (sub, elsewhere) = (dir.join("sub"), dir.join("elsewhere"));
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let data = sub.join("needed.txt");
    std::fs::write(&data, "needed contents").unwrap();
    let dumped = dump_reader(&dir, &data, &[&data]);
    let mut o = restore_options(&dumped.images, &[&data]);
    // After the restore's caller added the path, someone replaces the file's
    // directory with a link to another one.
    std::fs::remove_dir_all(&sub).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &sub).unwrap();

    assert_refused(&mut o, "refusing to follow", &data);
    let written: Vec<_> = std::fs::read_dir(&elsewhere).unwrap().collect();
    assert!(written.is_empty(), "a file landed behind the link: {written:?}");
}

#[test]
fn a_failed_dump_leaves_no_archive() {
    let dir = scratch("tmpfile-failed-dump");
    let data = dir.join("needed.txt");
    std::fs::write(&data, "x").unwrap();
    let images = File::open(&dir).unwrap();
    let mut o = options();
    let pid_max: i32 = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
    o.set_images_dir_fd(images.as_raw_fd()).set_pid(pid_max).add_tmp_file(&data).unwrap();
    assert!(ops::dump(&mut o).is_err());
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!names.iter().any(|n| n.to_string_lossy().contains("tmpfiles")), "{names:?}");
}

#[test]
fn only_files_directories_and_symlinks_can_be_added() {
    let dir = scratch("tmpfile-kinds");
    let mut o = Options::new();
    assert!(o.add_tmp_file("/dev/null").is_err());
    let fifo = dir.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    assert!(o.add_tmp_file(&fifo).is_err());
    assert!(o.tmp_files().is_empty());
}

#[test]
fn a_missing_tmp_file_is_refused_before_criu_runs() {
    let dir = scratch("tmpfile-missing-path");
    let images = File::open(&dir).unwrap();
    let mut o = options();
    // A restore declares paths that are missing by design: accepted here.
    o.add_tmp_file(dir.join("missing")).unwrap();
    // A silent service would hang the test if the dump reached "criu".
    o.set_service_binary("/nonexistent/criu").set_images_dir_fd(images.as_raw_fd()).set_pid(1);
    let err = ops::dump(&mut o).expect_err("a dump cannot save a missing file");
    assert!(matches!(err, Error::InvalidArgument(_)), "refused before criu runs: {err:?}");
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn the_listing_tool_shows_what_will_be_put_back() {
    become_subreaper();
    let dir = scratch("tmpfile-listing");
    let data = dir.join("needed.txt");
    std::fs::write(&data, "needed contents").unwrap();
    let _dumped = dump_reader(&dir, &data, &[&data]);
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_criu-externals")).arg(dir.join("images")).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let line = format!("tmp-file\t{}\t-\t-\tfile of 15 bytes", data.display());
    assert!(text.lines().any(|l| l.starts_with(&line)), "{text}");
}

/// All extended attributes of `path` (not following a symlink), sorted:
/// `name=value` with the value in hex.
fn xattrs_of(path: &Path) -> Vec<String> {
    let mut names = vec![0u8; 4096];
    let n = rustix::fs::llistxattr(path, &mut names[..]).unwrap();
    let mut out: Vec<String> = names[..n]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|name| {
            let name = std::str::from_utf8(name).unwrap();
            let mut value = vec![0u8; 65536];
            let len = rustix::fs::lgetxattr(path, name, &mut value[..]).unwrap();
            let hex: String = value[..len].iter().map(|b| format!("{b:02x}")).collect();
            format!("{name}={hex}")
        })
        .collect();
    out.sort();
    out
}

/// What `cp -a` keeps of each entry below `root`: type, mode, owner, size,
/// mtime, attributes, and for a file with several names, the first name
/// of its inode.
fn fidelity_snapshot(root: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut paths = vec![root.to_path_buf()];
    let mut i = 0;
    while i < paths.len() {
        if std::fs::symlink_metadata(&paths[i]).unwrap().is_dir() {
            let mut children: Vec<_> = std::fs::read_dir(&paths[i]).unwrap().map(|e| e.unwrap().path()).collect();
            children.sort();
            paths.extend(children);
        }
        i += 1;
    }
    let mut inodes: Vec<(u64, PathBuf)> = Vec::new();
    paths
        .iter()
        .map(|p| {
            let m = std::fs::symlink_metadata(p).unwrap();
            let first = match inodes.iter().find(|(ino, _)| *ino == m.ino()) {
                Some((_, first)) => first.strip_prefix(root).unwrap().display().to_string(),
                None => {
                    inodes.push((m.ino(), p.clone()));
                    String::new()
                }
            };
            let size = if m.is_dir() { 0 } else { m.size() };
            format!(
                "{} {:o} {}:{} size {size} mtime {}.{} same-as [{first}] {:?}",
                p.strip_prefix(root).unwrap().display(),
                m.mode(),
                m.uid(),
                m.gid(),
                m.mtime(),
                m.mtime_nsec(),
                xattrs_of(p)
            )
        })
        .collect()
}

/// A POSIX ACL as the kernel stores it in system.posix_acl_*: version 2,
/// then (tag, permissions, id) entries in tag order.
fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut out = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    out
}

#[test]
fn sparse_files_hard_links_attributes_and_acls_come_back_as_saved() {
    use std::os::unix::fs::{FileExt, MetadataExt};
    become_subreaper();
    let dir = scratch("tmpfile-fidelity");
    let app = dir.join("app");
    std::fs::create_dir_all(app.join("shared")).unwrap();
    // 1 GiB with 2 MiB of data: the default 64 MiB limit counts the 2 MiB.
    let sparse = app.join("sparse.img");
    let f = File::create(&sparse).unwrap();
    f.set_len(1 << 30).unwrap();
    let (head, middle) = (vec![0xa5u8; 1 << 20], vec![0x5au8; 1 << 20]);
    f.write_all_at(&head, 0).unwrap();
    f.write_all_at(&middle, 512 << 20).unwrap();
    drop(f);
    std::fs::hard_link(&sparse, app.join("shared/second-name.img")).unwrap();
    let note = app.join("note.txt");
    std::fs::write(&note, "noted").unwrap();
    let none = u32::MAX;
    let set = |path: &Path, name: &str, value: &[u8]| {
        rustix::fs::setxattr(path, name, value, rustix::fs::XattrFlags::empty())
            .unwrap_or_else(|e| panic!("set {name} on {}: {e}", path.display()))
    };
    set(&note, "user.origin", b"tmpfile test");
    // A file capability (VFS_CAP_REVISION_2, effective, CAP_NET_BIND_SERVICE).
    let mut cap = (0x0200_0001u32).to_le_bytes().to_vec();
    for word in [1u32 << 10, 0, 0, 0] {
        cap.extend_from_slice(&word.to_le_bytes());
    }
    set(&note, "security.capability", &cap);
    let shared = app.join("shared");
    let access = acl(&[(0x01, 7, none), (0x02, 4, 1000), (0x04, 5, none), (0x10, 5, none), (0x20, 0, none)]);
    set(&shared, "system.posix_acl_access", &access);
    set(&shared, "system.posix_acl_default", &access);
    set(&shared, "user.dir", b"1");
    let before = fidelity_snapshot(&app);

    let log = dir.join("reads.log");
    let script = "open(S, '<', $ARGV[0]) or die; open(N, '<', $ARGV[1]) or die; while (1) { seek(S, 0, 0); \
                  read(S, my $h, 2); seek(N, 0, 0); my $n = <N>; open(L, '>>', $ARGV[2]); \
                  print L unpack('H4', $h), \" $n\\n\"; close L; select(undef, undef, undef, 0.05) }";
    let pid =
        start_perl(script, &[&sparse.display().to_string(), &note.display().to_string(), &log.display().to_string()]);
    wait_until("the first read", || lines(&log) >= 1);
    // Within the default limit.
    let Dumped { images, .. } = dump_pid(&dir, pid, &[&app]);
    let stored = std::fs::metadata(dir.join("images").join(criu::tmpfile::ARCHIVE_NAME)).unwrap().len();
    assert!(stored < 3 << 20, "the holes are not stored: archive of {stored} bytes");
    std::fs::remove_dir_all(&app).unwrap();

    let restored = ops::restore(&mut restore_options(&images, &[])).expect("restore puts the tree back");
    let before_reads = lines(&log);
    wait_until("reads after restore", || lines(&log) >= before_reads + 2);
    finish(restored);
    assert_eq!(read_lines(&log).last().unwrap(), "a5a5 noted", "the restored process reads the put-back files");
    assert_eq!(fidelity_snapshot(&app), before, "what cp -a keeps came back");
    let m = std::fs::metadata(&sparse).unwrap();
    assert!(m.blocks() * 512 < 3 << 20, "the holes stay holes: {} bytes allocated", m.blocks() * 512);
    let f = File::open(&sparse).unwrap();
    let mut back = vec![0u8; 1 << 20];
    f.read_exact_at(&mut back, 512 << 20).unwrap();
    assert!(back == middle, "the data between the holes");
    f.read_exact_at(&mut back, 256 << 20).unwrap();
    assert!(back.iter().all(|&b| b == 0), "a hole reads as zeros");
}

#[test]
fn a_later_dump_without_tmp_files_leaves_no_stale_archive_to_put_back() {
    let dir = scratch("tmpfile-stale");
    let data = dir.join("needed.txt");
    std::fs::write(&data, "needed contents").unwrap();
    let log = dir.join("reads.log");
    let pid = start_reader(&data, &log);
    wait_until("the first read", || lines(&log) >= 1);
    std::fs::create_dir_all(dir.join("images")).unwrap();
    let images = File::open(dir.join("images")).unwrap();
    let archive = dir.join("images").join(criu::tmpfile::ARCHIVE_NAME);
    for tmp in [&[&data][..], &[]] {
        let mut o = options();
        o.set_images_dir_fd(images.as_raw_fd()).set_pid(pid as i32).set_leave_running(true).set_log_file("dump.log");
        for path in tmp {
            o.add_tmp_file(path).unwrap();
        }
        ops::dump(&mut o).expect("dump succeeds");
        assert_eq!(archive.exists(), !tmp.is_empty(), "the archive is this dump's, or none");
    }
    kill(pid as i32);
    reap(pid);
}
