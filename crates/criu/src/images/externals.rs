//! Reading a dump's images directory to learn what a restore must be given.
//!
//! Some descriptors of a dumped tree refer to things outside it: a file the
//! dump was told is external, a pipe or unix socket whose other end belonged
//! to a process that was not dumped, a terminal whose master stayed behind.
//! criu restores such a descriptor from a descriptor the caller hands in
//! with inherit-fd ([`crate::Options::add_inherit_fd`]), looked up by a key
//! criu derives from the images. [`external_resources`] lists them, with
//! that key and the task and descriptor number each one goes to.
//!
//! The directory is treated as untrusted input (images travel between
//! hosts): it is read through [`super::container`] (sizes bounded, symbolic
//! links and special files refused), entries are framed strictly
//! ([`super::codec::typed_entries`]), and damage is reported as
//! [`crate::Error::InvalidArgument`] naming the image and the offset.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use prost::Message;

use super::codec::typed_entries;
use super::container::ImagesDir;
use super::pb::{
    self, FdTypes, FdinfoEntry, FileEntry, PipeEntry, RegFileEntry, TtyFileEntry, TtyInfoEntry, TtyType, UnixSkEntry,
};
use super::schema::magic;
use crate::error::{Error, Result};

/// The kind of an external resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExternalKind {
    /// A file the dump was told is external (`file[mnt_id:inode]`).
    File,
    /// A pipe with only one end in the tree (`pipe:[inode]`).
    Pipe,
    /// A unix socket whose peer is not in the tree (`socket:[inode]`).
    UnixSocket,
    /// A terminal declared external, or a pty slave whose master is not in
    /// the tree (`tty[rdev:dev]`).
    Tty,
}

impl ExternalKind {
    /// A short lower-case name: `file`, `pipe`, `unix-socket` or `tty`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExternalKind::File => "file",
            ExternalKind::Pipe => "pipe",
            ExternalKind::UnixSocket => "unix-socket",
            ExternalKind::Tty => "tty",
        }
    }
}

impl fmt::Display for ExternalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One descriptor of the dumped tree that a restore should be handed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalResource {
    /// What it is.
    pub kind: ExternalKind,
    /// The inherit-fd key criu looks up for it at restore, e.g.
    /// `pipe:[4711]`; pass it with a descriptor to
    /// [`crate::Options::add_inherit_fd`].
    pub key: String,
    /// The task holding it, as numbered in the images (the pid it is
    /// restored with).
    pub pid: u32,
    /// Its descriptor number in that task.
    pub fd: u32,
    /// A human-readable account of why it is external.
    pub description: String,
}

/// Lists the descriptors of the dump in `images_dir` that refer to
/// resources outside the dumped tree, ordered by pid and descriptor.
///
/// A resource held by several descriptors is listed once per descriptor,
/// all with the same key. Tasks sharing one descriptor table are listed
/// under the first of them in pstree.img. Failure is
/// [`crate::Error::InvalidArgument`], naming the image and offset at fault.
pub fn external_resources(images_dir: &Path) -> Result<Vec<ExternalResource>> {
    let dump = Dump::open(images_dir)?;
    let files = Files::read(&dump)?;
    let mut found = Vec::new();
    for (pid, fd) in read_descriptors(&dump)? {
        if let Some((kind, key, description)) = files.external(&fd) {
            found.push(ExternalResource { kind, key, pid, fd: fd.fd, description });
        }
    }
    found.sort_by_key(|r| (r.pid, r.fd));
    Ok(found)
}

/// More tasks than any pid namespace can hold.
const MAX_TASKS: usize = 1 << 22;

/// Flags criu sets in `unix_sk_entry.uflags` (criu/sk-unix.c).
const USK_EXTERN: u32 = 1 << 0;
const USK_CALLBACK: u32 = 1 << 2;

/// A dump's images directory, with what its inventory says of the other images.
struct Dump {
    dir: ImagesDir,
    /// Whether images other than inventory.img start with IMG_COMMON
    /// (image version 2, "1.1"; version 1 has the kind's magic alone).
    common: bool,
}

impl Dump {
    /// Opens the directory and reads inventory.img.
    fn open(images_dir: &Path) -> Result<Dump> {
        let path = images_dir.join("inventory.img");
        let missing = || invalid(&path, "missing (not a criu images directory?)");
        let dir = ImagesDir::open(images_dir)?.ok_or_else(missing)?;
        let entries: Vec<pb::InventoryEntry> =
            read(&dir, "inventory.img", false, magic("INVENTORY"))?.ok_or_else(missing)?;
        let head = entries.first().ok_or_else(|| invalid(&path, "no entry"))?;
        let common = match head.img_version {
            1 => false,
            2 => true,
            v => return Err(invalid(&path, &format!("unsupported image version {v}"))),
        };
        if head.fdinfo_per_id != Some(true) {
            return Err(invalid(&path, "images too old (no per-table fdinfo), criu no longer restores them"));
        }
        Ok(Dump { dir, common })
    }

    /// The entries of the image `name` of kind `magic`, or `None` when there
    /// is no such file (criu treats a missing image as an empty one).
    fn entries<M: Message + Default>(&self, name: &str, magic: u32) -> Result<Option<Vec<M>>> {
        read(&self.dir, name, self.common, magic)
    }

    /// [`Dump::entries`], a missing image read as empty.
    fn all<M: Message + Default>(&self, name: &str, magic: u32) -> Result<Vec<M>> {
        Ok(self.entries(name, magic)?.unwrap_or_default())
    }
}

fn read<M: Message + Default>(dir: &ImagesDir, name: &str, common: bool, magic: u32) -> Result<Option<Vec<M>>> {
    let Some(data) = dir.read(name)? else { return Ok(None) };
    typed_entries(&data, common, magic).map(Some).map_err(|e| invalid(&dir.path().join(name), &e.to_string()))
}

/// An [`Error::InvalidArgument`] naming the image.
fn invalid(path: &Path, what: &str) -> Error {
    Error::InvalidArgument(format!("image {}: {what}", path.display()))
}

/// Every descriptor of the tree, with the pid of the task holding it.
fn read_descriptors(dump: &Dump) -> Result<Vec<(u32, FdinfoEntry)>> {
    let name = "pstree.img";
    let tree: Vec<pb::PstreeEntry> =
        dump.entries(name, magic("PSTREE"))?.ok_or_else(|| invalid(&dump.dir.path().join(name), "missing"))?;
    if tree.len() > MAX_TASKS {
        return Err(invalid(
            &dump.dir.path().join(name),
            &format!("{} tasks, more than the {MAX_TASKS} accepted", tree.len()),
        ));
    }
    let mut tables = HashSet::new();
    let mut all = Vec::new();
    for task in tree {
        // Zombies have no ids image, and no descriptors.
        let ids: Option<Vec<pb::TaskKobjIdsEntry>> = dump.entries(&format!("ids-{}.img", task.pid), magic("IDS"))?;
        let Some(ids) = ids.and_then(|ids| ids.into_iter().next()) else { continue };
        if !tables.insert(ids.files_id) {
            continue;
        }
        let fds: Vec<FdinfoEntry> = dump.all(&format!("fdinfo-{}.img", ids.files_id), magic("FDINFO"))?;
        all.extend(fds.into_iter().map(|fd| (task.pid, fd)));
    }
    Ok(all)
}

/// The open files of the dump, by file id, and what is known of their peers.
#[derive(Default)]
struct Files {
    regular: HashMap<u32, RegFileEntry>,
    pipes: HashMap<u32, PipeEntry>,
    unix: HashMap<u32, UnixSkEntry>,
    ttys: HashMap<u32, TtyFileEntry>,
    tty_info: HashMap<u32, TtyInfoEntry>,
    /// pipe_id -> (some read end is in the dump, some write end is).
    pipe_ends: HashMap<u32, (bool, bool)>,
    /// inode -> file id of every unix socket in the dump.
    unix_inodes: HashMap<u32, u32>,
    /// Indices of the pty masters in the dump.
    pty_masters: HashSet<u32>,
}

impl Files {
    /// Reads files.img, the per-kind images older criu wrote instead, and
    /// tty-info.img.
    fn read(dump: &Dump) -> Result<Files> {
        let mut files = Files::default();
        for entry in dump.all::<FileEntry>("files.img", magic("FILES"))? {
            files.add_file(entry);
        }
        for reg in dump.all::<RegFileEntry>("reg-files.img", magic("REG_FILES"))? {
            files.add_file(FileEntry { reg: Some(reg), ..Default::default() });
        }
        for pipe in dump.all::<PipeEntry>("pipes.img", magic("PIPES"))? {
            files.add_file(FileEntry { pipe: Some(pipe), ..Default::default() });
        }
        for usk in dump.all::<UnixSkEntry>("unixsk.img", magic("UNIXSK"))? {
            files.add_file(FileEntry { usk: Some(usk), ..Default::default() });
        }
        for tty in dump.all::<TtyFileEntry>("tty.img", magic("TTY_FILES"))? {
            files.add_file(FileEntry { tty: Some(tty), ..Default::default() });
        }
        for info in dump.all::<TtyInfoEntry>("tty-info.img", magic("TTY_INFO"))? {
            if info.r#type() == TtyType::Pty && pty_is_master(info.rdev) {
                files.pty_masters.insert(info.pty.as_ref().map_or(0, |p| p.index));
            }
            files.tty_info.insert(info.id, info);
        }
        Ok(files)
    }

    fn add_file(&mut self, entry: FileEntry) {
        if let Some(reg) = entry.reg {
            self.regular.insert(reg.id, reg);
        }
        if let Some(pipe) = entry.pipe {
            let ends = self.pipe_ends.entry(pipe.pipe_id).or_default();
            match pipe.flags & libc::O_ACCMODE as u32 {
                m if m == libc::O_RDONLY as u32 => ends.0 = true,
                m if m == libc::O_WRONLY as u32 => ends.1 = true,
                _ => *ends = (true, true),
            }
            self.pipes.insert(pipe.id, pipe);
        }
        if let Some(usk) = entry.usk {
            self.unix_inodes.insert(usk.ino, usk.id);
            self.unix.insert(usk.id, usk);
        }
        if let Some(tty) = entry.tty {
            self.ttys.insert(tty.id, tty);
        }
    }

    /// Kind, key and description of the resource behind `fd`, when external.
    fn external(&self, fd: &FdinfoEntry) -> Option<(ExternalKind, String, String)> {
        match fd.r#type() {
            FdTypes::Reg => {
                let reg = self.regular.get(&fd.id).filter(|r| r.ext == Some(true))?;
                // criu stores the external id itself as the name.
                Some((
                    ExternalKind::File,
                    reg.name.clone(),
                    format!("regular file declared external at dump, open flags {:#o}", reg.flags),
                ))
            }
            FdTypes::Pipe => {
                let pipe = self.pipes.get(&fd.id)?;
                let description = match self.pipe_ends.get(&pipe.pipe_id).copied().unwrap_or_default() {
                    (true, false) => "read end of a pipe whose write end is outside the dump",
                    (false, true) => "write end of a pipe whose read end is outside the dump",
                    _ => return None,
                };
                Some((ExternalKind::Pipe, format!("pipe:[{}]", pipe.pipe_id), description.to_owned()))
            }
            FdTypes::Unixsk => {
                let sk = self.unix.get(&fd.id)?;
                if sk.uflags & (USK_EXTERN | USK_CALLBACK) != 0 || sk.peer == 0 {
                    return None;
                }
                // criu writes an external peer as an entry of its own,
                // marked USK_EXTERN; a peer missing altogether is outside too.
                let peer = self.unix_inodes.get(&sk.peer).and_then(|id| self.unix.get(id));
                if peer.is_some_and(|p| p.uflags & USK_EXTERN == 0) {
                    return None;
                }
                let mut description = format!(
                    "{} unix socket whose peer socket:[{}] is outside the dump",
                    socket_type(sk.r#type),
                    sk.peer
                );
                if let Some(peer) = peer.filter(|p| !p.name.is_empty()) {
                    description.push_str(&format!(" (peer bound to \"{}\")", peer.name.escape_ascii()));
                }
                Some((ExternalKind::UnixSocket, format!("socket:[{}]", sk.ino), description))
            }
            FdTypes::Tty => {
                let tty = self.ttys.get(&fd.id)?;
                let info = self.tty_info.get(&tty.tty_info_id)?;
                let (major, minor) = (libc::major(info.rdev.into()), libc::minor(info.rdev.into()));
                let description = match info.r#type() {
                    TtyType::ExtTty => format!("terminal {major}:{minor} declared external at dump"),
                    TtyType::Pty if !pty_is_master(info.rdev) => {
                        let index = info.pty.as_ref().map_or(0, |p| p.index);
                        if self.pty_masters.contains(&index) {
                            return None;
                        }
                        format!("pty slave /dev/pts/{index} whose master is outside the dump")
                    }
                    _ => return None,
                };
                Some((ExternalKind::Tty, format!("tty[{:x}:{:x}]", info.rdev, info.dev.unwrap_or(0)), description))
            }
            _ => None,
        }
    }
}

/// Whether a pty's device number is a master's: /dev/ptmx (5:2) or the
/// Unix98 master majors 128-135, as criu's get_tty_driver() decides.
fn pty_is_master(rdev: u32) -> bool {
    let (major, minor) = (libc::major(rdev.into()), libc::minor(rdev.into()));
    (major == 5 && minor == 2) || (128..=135).contains(&major)
}

fn socket_type(t: u32) -> &'static str {
    match t as i32 {
        libc::SOCK_STREAM => "stream",
        libc::SOCK_DGRAM => "datagram",
        libc::SOCK_SEQPACKET => "seqpacket",
        _ => "unknown-type",
    }
}

#[cfg(test)]
mod tests;
