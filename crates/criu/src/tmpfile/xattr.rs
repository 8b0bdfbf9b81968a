//! Extended attributes (ACLs included) of an entry: read at save into the
//! archive's records, written back at put-back.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd};

use rustix::fs::{fgetxattr, flistxattr, fsetxattr, lgetxattr, llistxattr, lsetxattr, XattrFlags};
use rustix::io::{Errno, Result};

use super::archive::{push_xattr, xattr_kept, XATTR_VALUE_MAX};

/// What carries the attributes: an open file or directory, or a symlink
/// named in an open directory (a symlink cannot be opened; its attributes
/// are reached through the directory's /proc link, without following it).
#[derive(Clone, Copy)]
pub(super) enum Node<'a> {
    Fd(BorrowedFd<'a>),
    Link(BorrowedFd<'a>, &'a CStr),
}

impl Node<'_> {
    fn link_path(dir: BorrowedFd<'_>, name: &CStr) -> String {
        format!("/proc/self/fd/{}/{}", dir.as_raw_fd(), name.to_string_lossy())
    }

    fn list(self, buf: &mut [u8]) -> Result<usize> {
        match self {
            Node::Fd(fd) => flistxattr(fd, buf),
            Node::Link(dir, name) => llistxattr(Self::link_path(dir, name), buf),
        }
    }

    fn get(self, name: &CStr, buf: &mut [u8]) -> Result<usize> {
        match self {
            Node::Fd(fd) => fgetxattr(fd, name, buf),
            Node::Link(dir, link) => lgetxattr(Self::link_path(dir, link), name, buf),
        }
    }

    fn set(self, name: &[u8], value: &[u8]) -> Result<()> {
        let name = std::ffi::CString::new(name).map_err(|_| Errno::INVAL)?;
        match self {
            Node::Fd(fd) => fsetxattr(fd, &name, value, XattrFlags::empty()),
            Node::Link(dir, link) => lsetxattr(Self::link_path(dir, link), &name, value, XattrFlags::empty()),
        }
    }
}

/// The records of the attributes of `node` that are kept, sorted by name;
/// empty where the file system has none.
pub(super) fn read(node: Node<'_>) -> Result<Vec<u8>> {
    let mut names = vec![0u8; 1024];
    let len = loop {
        match node.list(&mut names) {
            Ok(n) => break n,
            Err(Errno::RANGE) => names.resize(names.len() * 4, 0),
            Err(Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
    };
    let mut kept: Vec<&[u8]> = names[..len].split(|&b| b == 0).filter(|n| !n.is_empty() && xattr_kept(n)).collect();
    kept.sort_unstable();
    let mut records = Vec::new();
    let mut value = vec![0u8; XATTR_VALUE_MAX];
    for name in kept {
        let cname =
            CStr::from_bytes_with_nul(&[name, b"\0"].concat()).map(|c| c.to_owned()).map_err(|_| Errno::INVAL)?;
        match node.get(&cname, &mut value) {
            Ok(n) => push_xattr(&mut records, name, &value[..n]),
            Err(Errno::NODATA) => {} // removed since the listing
            Err(e) => return Err(e),
        }
    }
    Ok(records)
}

/// Set each of `xattrs` on `node`; on failure, the attribute's name with
/// the error.
pub(super) fn write(node: Node<'_>, xattrs: &[(&[u8], &[u8])]) -> std::result::Result<(), (String, Errno)> {
    for (name, value) in xattrs {
        node.set(name, value).map_err(|e| (String::from_utf8_lossy(name).into_owned(), e))?;
    }
    Ok(())
}
