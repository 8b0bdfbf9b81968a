//! Reading one image file: its magic numbers, then entries of a 32-bit
//! length (host byte order, as criu writes it) followed by that many bytes
//! of protobuf. Every read is bounded; garbage gives an error naming the
//! file and the offset, never a panic.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use prost::Message;

use super::codec::framed_entries;
use crate::error::{Error, Result};

/// Head of every image but inventory.img in the v1.1 layout.
#[allow(dead_code)] // the tests' (the reader uses codec's framing)
pub const IMG_COMMON_MAGIC: u32 = 0x5456_4319;
/// inventory.img (no common magic before it).
pub const INVENTORY_MAGIC: u32 = 0x5831_3116;
/// pstree.img
pub const PSTREE_MAGIC: u32 = 0x5027_3030;
/// ids-<pid>.img
pub const IDS_MAGIC: u32 = 0x5443_2030;
/// fdinfo-<files_id>.img
pub const FDINFO_MAGIC: u32 = 0x5621_3732;
/// files.img
pub const FILES_MAGIC: u32 = 0x5630_3138;
/// tty-info.img
pub const TTY_INFO_MAGIC: u32 = 0x5945_3036;
/// reg-files.img (images of criu before files.img)
pub const REG_FILES_MAGIC: u32 = 0x5036_3636;
/// pipes.img (old images)
pub const PIPES_MAGIC: u32 = 0x5651_3555;
/// unixsk.img (old images)
pub const UNIXSK_MAGIC: u32 = 0x5437_3943;
/// tty.img (old images)
pub const TTY_FILES_MAGIC: u32 = 0x5943_3025;

/// The largest entry accepted.
pub const MAX_ENTRY: u32 = 16 << 20;
/// The largest image file read.
pub const MAX_IMAGE: u64 = 256 << 20;

/// How the images of a directory begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Image version 1: the type magic alone.
    V1,
    /// Image version 1.1: IMG_COMMON_MAGIC, then the type magic.
    V1_1,
}

/// Reads every entry of the image `name` in `dir`, or `None` when there is
/// no such file (criu treats a missing image as an empty one).
pub fn read_entries<M: Message + Default>(
    dir: &Path,
    name: &str,
    layout: Layout,
    magic: u32,
) -> Result<Option<Vec<M>>> {
    let path = dir.join(name);
    match read_bounded(&path)? {
        Some(data) => decode(data.as_slice(), &path, layout, magic).map(Some),
        None => Ok(None),
    }
}

/// The bytes of the image file `path` (bounded, regular files only), or
/// `None` when there is no such file.
pub fn read_bounded(path: &Path) -> Result<Option<Vec<u8>>> {
    let Some(file) = open_regular(path)? else { return Ok(None) };
    let mut data = Vec::new();
    file.take(MAX_IMAGE + 1).read_to_end(&mut data).map_err(|e| invalid(path, None, &format!("read error: {e}")))?;
    if data.len() as u64 > MAX_IMAGE {
        return Err(invalid(path, None, &format!("image grows past the {MAX_IMAGE} bytes accepted")));
    }
    Ok(Some(data))
}

/// Decodes a whole image from `input` (framed by [`super::codec`], as every
/// image is); `path` only names it in errors.
pub fn decode<M: Message + Default>(mut input: impl Read, path: &Path, layout: Layout, magic: u32) -> Result<Vec<M>> {
    let mut data = Vec::new();
    input
        .by_ref()
        .take(MAX_IMAGE + 1)
        .read_to_end(&mut data)
        .map_err(|e| invalid(path, None, &format!("read error: {e}")))?;
    if data.len() as u64 > MAX_IMAGE {
        return Err(invalid(path, None, &format!("image grows past the {MAX_IMAGE} bytes accepted")));
    }
    let entries = framed_entries(&data, layout == Layout::V1_1, magic, MAX_ENTRY)
        .map_err(|e| Error::InvalidArgument(format!("image {}: {e}", path.display())))?;
    entries
        .into_iter()
        .map(|(at, body)| M::decode(body).map_err(|e| invalid(path, Some(at), &format!("undecodable entry: {e}"))))
        .collect()
}

/// Opens `path` for reading if it is a regular file: never follows a
/// symbolic link and never blocks on a FIFO planted in the directory.
fn open_regular(path: &Path) -> Result<Option<File>> {
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(invalid(path, None, &format!("cannot open: {e}"))),
    };
    let meta = file.metadata().map_err(|e| invalid(path, None, &format!("cannot stat: {e}")))?;
    if !meta.is_file() {
        return Err(invalid(path, None, "not a regular file"));
    }
    if meta.len() > MAX_IMAGE {
        return Err(invalid(path, None, &format!("{} bytes, more than the {MAX_IMAGE} accepted", meta.len())));
    }
    Ok(Some(file))
}

/// An [`Error::InvalidArgument`] naming the image and, when known, the offset.
pub fn invalid(path: &Path, offset: Option<u64>, what: &str) -> Error {
    match offset {
        Some(at) => Error::InvalidArgument(format!("image {}: offset {at}: {what}", path.display())),
        None => Error::InvalidArgument(format!("image {}: {what}", path.display())),
    }
}
