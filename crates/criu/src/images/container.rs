//! The only way this crate reads image files.
//!
//! Images travel between hosts, so a directory of them is untrusted: one
//! planted symbolic link would have the reader show or parse any file of
//! the reading host, a FIFO would block it, a device would feed it
//! without end. So every image file is opened relative to its directory's
//! descriptor (`openat`), with `O_NOFOLLOW` (a link is refused, not
//! followed) and `O_NONBLOCK` (a FIFO cannot block the open), then checked
//! with `fstat` to be a regular file, and read to at most [`MAX_IMAGE`]
//! bytes. The directory, or the directory of a file, named by the caller
//! is opened as named: the caller chose it.
//!
//! What the bytes hold is the codec's business ([`super::codec`]); this
//! module only hands them over.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rustix::fs::{openat, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

/// The largest image file read (criu's own images stay far below it; raw
/// page data, which can be larger, is no entry image).
pub const MAX_IMAGE: u64 = 256 << 20;

/// Why an image file could not be read.
#[derive(Debug)]
pub struct ReadError {
    /// The file (or directory) at fault, as the caller named it.
    pub path: PathBuf,
    /// What went wrong.
    pub reason: Reason,
}

/// What went wrong reading an image file.
#[derive(Debug)]
pub enum Reason {
    /// The open failed (no such file, no permission...).
    Open(io::Error),
    /// The name is a symbolic link, which is not followed.
    SymbolicLink,
    /// The name is not a regular file: a FIFO, a device, a directory or a
    /// socket (the kind).
    NotRegular(&'static str),
    /// The name is not one file name inside the directory.
    BadName,
    /// The file holds more than the limit (its size).
    TooLarge(u64, u64),
    /// Reading failed.
    Read(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.reason {
            // The path and the system's word for it, as crit shows a file it cannot open.
            Reason::Open(e) => write!(f, "{path}: {e}"),
            Reason::SymbolicLink => write!(f, "{path}: a symbolic link, not followed"),
            Reason::NotRegular(kind) => write!(f, "{path}: not a regular file but a {kind}"),
            Reason::BadName => write!(f, "{path}: not a file name inside the images directory"),
            Reason::TooLarge(size, limit) => write!(f, "{path}: {size} bytes or more, more than the {limit} accepted"),
            Reason::Read(e) => write!(f, "{path}: read error: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<ReadError> for crate::Error {
    fn from(e: ReadError) -> Self {
        crate::Error::InvalidArgument(format!("image {e}"))
    }
}

impl From<ReadError> for super::codec::ImageError {
    fn from(e: ReadError) -> Self {
        super::codec::ImageError::Invalid(e.to_string())
    }
}

type R<T> = std::result::Result<T, ReadError>;

fn fail(path: &Path, reason: Reason) -> ReadError {
    ReadError { path: path.to_path_buf(), reason }
}

/// What opening a missing `path` gives, for callers to whom missing is an error.
fn not_found(path: &Path) -> ReadError {
    fail(path, Reason::Open(io::Error::from_raw_os_error(libc::ENOENT)))
}

/// An images directory, opened once; its files are opened relative to it.
#[derive(Debug)]
pub struct ImagesDir {
    dir: File,
    path: PathBuf,
}

impl ImagesDir {
    /// Opens the directory `path`; `None` when there is none.
    pub fn open(path: &Path) -> R<Option<ImagesDir>> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        match openat(CWD, path, flags, Mode::empty()) {
            Ok(fd) => Ok(Some(ImagesDir { dir: File::from(fd), path: path.to_path_buf() })),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(fail(path, Reason::Open(e.into()))),
        }
    }

    /// [`ImagesDir::open`], a missing directory being an error.
    pub fn open_existing(path: &Path) -> R<ImagesDir> {
        ImagesDir::open(path)?.ok_or_else(|| not_found(path))
    }

    /// The directory as the caller named it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The image `name` (one file name, no `/`), or `None` when the
    /// directory has no such file (criu treats a missing image as empty).
    pub fn open_image(&self, name: &str) -> R<Option<ImageFile>> {
        let path = self.path.join(name);
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return Err(fail(&path, Reason::BadName));
        }
        ImageFile::open_at(self.dir.as_fd(), name, path)
    }

    /// The bytes of the image `name`, at most [`MAX_IMAGE`]; `None` when
    /// there is no such file.
    pub fn read(&self, name: &str) -> R<Option<Vec<u8>>> {
        self.open_image(name)?.map(|f| f.read_to_end(MAX_IMAGE)).transpose()
    }

    /// [`ImagesDir::read`], a missing image being an error.
    pub fn read_existing(&self, name: &str) -> R<Vec<u8>> {
        self.read(name)?.ok_or_else(|| not_found(&self.path.join(name)))
    }
}

impl AsFd for ImagesDir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }
}

/// One image file, open and known to be a regular file.
#[derive(Debug)]
pub struct ImageFile {
    file: File,
    path: PathBuf,
}

impl ImageFile {
    /// Opens the file the caller names by `path` (crit's `-i IN`): its
    /// directory as named, the file itself with the rules above.
    pub fn open(path: &Path) -> R<ImageFile> {
        let Some(name) = path.file_name() else {
            return Err(fail(path, Reason::BadName));
        };
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = openat(CWD, parent, flags, Mode::empty()).map_err(|e| fail(path, Reason::Open(e.into())))?;
        ImageFile::open_at(dir.as_fd(), name, path.to_path_buf())?.ok_or_else(|| not_found(path))
    }

    fn open_at(dir: BorrowedFd<'_>, name: impl rustix::path::Arg, path: PathBuf) -> R<Option<ImageFile>> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let fd = match openat(dir, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP) => return Err(fail(&path, Reason::SymbolicLink)),
            Err(e) => return Err(fail(&path, Reason::Open(e.into()))),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| fail(&path, Reason::Open(e.into())))?;
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => None,
            FileType::Fifo => Some("FIFO"),
            FileType::CharacterDevice => Some("character device"),
            FileType::BlockDevice => Some("block device"),
            FileType::Directory => Some("directory"),
            FileType::Socket => Some("socket"),
            // O_NOFOLLOW on a link without O_PATH fails with ELOOP above.
            FileType::Symlink => Some("symbolic link"),
            FileType::Unknown => Some("file of unknown type"),
        };
        if let Some(kind) = kind {
            return Err(fail(&path, Reason::NotRegular(kind)));
        }
        Ok(Some(ImageFile { file: File::from(fd), path }))
    }

    /// The file as the caller named it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its first `n` bytes (fewer when it is shorter): enough to tell its
    /// kind without reading it whole.
    pub fn head(&self, n: usize) -> R<Vec<u8>> {
        let mut buf = vec![0; n];
        let mut got = 0;
        while got < n {
            match self.file.read_at(&mut buf[got..], got as u64) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(fail(&self.path, Reason::Read(e))),
            }
        }
        buf.truncate(got);
        Ok(buf)
    }

    /// All its bytes, refused when there are more than `limit`: by its size
    /// before reading, and by what is read should it grow meanwhile.
    pub fn read_to_end(self, limit: u64) -> R<Vec<u8>> {
        let size = self.file.metadata().map_err(|e| fail(&self.path, Reason::Read(e)))?.len();
        if size > limit {
            return Err(fail(&self.path, Reason::TooLarge(size, limit)));
        }
        let mut data = Vec::with_capacity(size as usize);
        (&self.file).take(limit + 1).read_to_end(&mut data).map_err(|e| fail(&self.path, Reason::Read(e)))?;
        if data.len() as u64 > limit {
            return Err(fail(&self.path, Reason::TooLarge(data.len() as u64, limit)));
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temporary directory, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(what: &str) -> Scratch {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("libcriu-rs-container-{what}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn refusal(result: R<Option<Vec<u8>>>) -> ReadError {
        match result {
            Err(e) => e,
            Ok(found) => panic!("read, not refused: {found:?}"),
        }
    }

    #[test]
    fn reads_a_regular_file_and_reports_a_missing_one() {
        let tmp = Scratch::new("regular");
        std::fs::write(tmp.0.join("core-1.img"), b"image bytes").unwrap();
        let dir = ImagesDir::open(&tmp.0).unwrap().unwrap();
        assert_eq!(dir.read("core-1.img").unwrap().as_deref(), Some(&b"image bytes"[..]));
        assert!(dir.read("core-2.img").unwrap().is_none());
        assert!(ImagesDir::open(&tmp.0.join("none")).unwrap().is_none());
        let msg = dir.read_existing("core-2.img").unwrap_err().to_string();
        assert!(msg.ends_with("core-2.img: No such file or directory (os error 2)"), "{msg}");
        let file = ImageFile::open(&tmp.0.join("core-1.img")).unwrap();
        assert_eq!(file.head(5).unwrap(), b"image");
        assert_eq!(file.head(100).unwrap(), b"image bytes");
        let msg = ImageFile::open(&tmp.0.join("core-2.img")).unwrap_err().to_string();
        assert!(msg.ends_with("core-2.img: No such file or directory (os error 2)"), "{msg}");
    }

    #[test]
    fn refuses_a_symbolic_link() {
        let tmp = Scratch::new("symlink");
        std::fs::write(tmp.0.join("target"), b"not to be read").unwrap();
        std::os::unix::fs::symlink(tmp.0.join("target"), tmp.0.join("pstree.img")).unwrap();
        let dir = ImagesDir::open(&tmp.0).unwrap().unwrap();
        let e = refusal(dir.read("pstree.img"));
        assert!(matches!(e.reason, Reason::SymbolicLink), "{e}");
        assert!(e.to_string().ends_with("pstree.img: a symbolic link, not followed"), "{e}");
        let e = ImageFile::open(&tmp.0.join("pstree.img")).unwrap_err();
        assert!(matches!(e.reason, Reason::SymbolicLink), "{e}");
        // A name that would leave the directory is refused before any open.
        assert!(matches!(refusal(dir.read("../target")).reason, Reason::BadName));
    }

    #[test]
    fn refuses_a_fifo_and_a_device_without_blocking() {
        let tmp = Scratch::new("special");
        let fifo = tmp.0.join("pipes-data.img");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR).unwrap();
        let dir = ImagesDir::open(&tmp.0).unwrap().unwrap();
        let e = refusal(dir.read("pipes-data.img"));
        assert!(e.to_string().ends_with("pipes-data.img: not a regular file but a FIFO"), "{e}");
        // /dev/null is a character device on every Linux system.
        let e = ImageFile::open(Path::new("/dev/null")).unwrap_err();
        assert_eq!(e.to_string(), "/dev/null: not a regular file but a character device");
        std::fs::create_dir(tmp.0.join("sub")).unwrap();
        assert!(matches!(refusal(dir.read("sub")).reason, Reason::NotRegular("directory")));
    }

    #[test]
    fn refuses_an_oversized_file_before_reading_it() {
        let tmp = Scratch::new("oversized");
        // Sparse: no disk space taken.
        File::create(tmp.0.join("pages-1.img")).unwrap().set_len(MAX_IMAGE + 1).unwrap();
        let dir = ImagesDir::open(&tmp.0).unwrap().unwrap();
        let e = refusal(dir.read("pages-1.img"));
        assert!(matches!(e.reason, Reason::TooLarge(size, MAX_IMAGE) if size == MAX_IMAGE + 1), "{e}");
        assert!(e.to_string().contains("268435457 bytes or more, more than the 268435456 accepted"), "{e}");
        // Its head can still be looked at, and a smaller limit applies.
        let file = dir.open_image("pages-1.img").unwrap().unwrap();
        assert_eq!(file.head(8).unwrap(), [0; 8]);
        std::fs::write(tmp.0.join("small.img"), [1u8; 10]).unwrap();
        let e = dir.open_image("small.img").unwrap().unwrap().read_to_end(9).unwrap_err();
        assert!(matches!(e.reason, Reason::TooLarge(10, 9)), "{e}");
    }
}
