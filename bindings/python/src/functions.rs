//! The module's functions: descriptor ids and keys for externals and
//! inherited descriptors, what images hold (externals, tmp files), and the
//! helpers `libcriu.pycriu` builds on (criu's RPC schema, its log's errors).
//! The ones that read images or files release the GIL while they do.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{invalid, to_py_err};
use crate::options::DirArg;
use crate::records::{ExternalResource, TmpFile};

/// The id that add_external() needs to leave descriptor ``fd`` of process
/// ``pid`` out of a dump, e.g. "file[2a:1f3c]" for a regular file.
#[pyfunction]
pub fn get_external_id(py: Python<'_>, pid: i32, fd: i32) -> PyResult<String> {
    criu::ids::external_id(pid, fd).map_err(|e| to_py_err(py, e))
}

/// The key under which a restore takes, via add_inherit_fd(), a replacement
/// for descriptor ``fd`` of process ``pid`` as it is now: "pipe:[inode]",
/// "socket:[inode]", "tty[rdev:dev]", or a path without its leading slash.
#[pyfunction]
pub fn get_inherit_key(py: Python<'_>, pid: i32, fd: i32) -> PyResult<String> {
    criu::ids::inherit_key(pid, fd).map_err(|e| to_py_err(py, e))
}

/// What a restore from the images in ``images_dir`` (a path or a
/// descriptor) must be handed through add_inherit_fd(), as
/// ExternalResource records: files dumped as external, and pipes, unix
/// sockets and terminals whose other end was outside the dumped tree.
/// Malformed images raise CriuInvalidArgumentError.
#[pyfunction]
pub fn list_externals(py: Python<'_>, images_dir: DirArg) -> PyResult<Vec<ExternalResource>> {
    let path = images_dir.path();
    let found = py.detach(|| criu::images::external_resources(&path)).map_err(|e| to_py_err(py, e))?;
    Ok(found.into_iter().map(ExternalResource::from).collect())
}

/// criu's rpc.proto as a serialized FileDescriptorSet, from which
/// ``libcriu.pycriu`` builds its ``rpc`` message classes.
#[pyfunction]
pub fn rpc_descriptor_set(py: Python<'_>) -> Bound<'_, PyBytes> {
    PyBytes::new(py, criu::rpc::FILE_DESCRIPTOR_SET)
}

/// The last error lines of the log criu wrote for a request with these
/// options (a serialized ``criu_opts``), or None when no log file is named,
/// it cannot be found, or holds no error.
#[pyfunction]
pub fn log_errors(py: Python<'_>, options: &[u8]) -> PyResult<Option<String>> {
    let opts = <criu::rpc::CriuOpts as prost::Message>::decode(options)
        .map_err(|e| invalid(py, format!("not a criu_opts message: {e}")))?;
    Ok(criu::criu_log::log_path(&opts).and_then(|path| criu::criu_log::error_summary(&path)))
}

/// The tmp files saved into the images in ``images_dir`` (a path or a
/// descriptor), as TmpFile records, in the order a restore puts them back.
/// A damaged archive raises CriuInvalidArgumentError.
#[pyfunction]
pub fn list_tmp_files(py: Python<'_>, images_dir: DirArg) -> PyResult<Vec<TmpFile>> {
    let (fd, _opened) = images_dir.open()?;
    // SAFETY: `fd` is open for the whole borrow: it is either the caller's
    // descriptor, which the caller keeps open during the call, or the one
    // of `_opened`, which lives until this function returns.
    let dir = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let found = py.detach(|| criu::tmpfile::list(dir)).map_err(|e| to_py_err(py, e))?;
    Ok(found.into_iter().map(TmpFile::from).collect())
}
