//! The `Options` class: one criu client's options over the core's
//! `criu::Options`, with one setter method per option of the core's tables
//! (generated from them) and the hand-written ones that take a
//! Python-specific form (directories as a path or a descriptor, the enums,
//! the options of several arguments), and the constructor's keywords.
//!
//! The operations on these options are in `operations.rs`, the notify
//! callback in `callbacks.rs`.

use std::fs::File;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use criu::options::{CgMode, NetworkLock, PreDumpMode, DEFAULT_SERVICE_ADDRESS, DEFAULT_SERVICE_BINARY};
use criu::Error;
use pyo3::exceptions::{PyOSError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use crate::errors::{busy, invalid, to_py_err};

/// Options for one criu client: what to ask criu and how to reach it.
///
/// Every setter of libcriu's C API (``criu_set_pid()``, ``criu_local_add_external()``,
/// ...) is a method here without its ``criu_`` / ``criu_local_`` prefix:
/// ``opts.set_pid(1234)``, ``opts.add_external("file[...]")``. The constructor
/// takes the same options as keywords: ``NAME=value`` calls ``set_NAME(value)``;
/// for options that accumulate (``add_NAME``, ``join_ns_add``), ``NAME=items``
/// adds each item of an iterable (a single string counts as one item) and a
/// tuple item is spread into the arguments, e.g.
/// ``inherit_fd=[(fd, "file[2b:1f4]")]``;
/// ``page_server_address_port=(address, port)`` is spread likewise.
///
/// Directories (``images_dir``, ``work_dir``) are given as a path, which is
/// opened and kept open by the object, or as a descriptor (an int) the caller
/// keeps open. criu is reached by starting ``criu swrk`` (``criu`` from PATH
/// unless ``set_service_binary()`` says otherwise).
///
/// The operations (``dump()``, ``restore()``, ...) raise a ``CriuError``
/// subclass on failure and release the GIL while criu works. While one runs,
/// only its own callbacks may use the object; other threads get RuntimeError.
#[pyclass(module = "libcriu")]
pub struct Options {
    /// The core options; `None` while an operation holds them (they are
    /// lent back during its callbacks). The Mutex only makes the class Sync,
    /// as pyo3 requires: every access goes through `get_mut` under the
    /// object's own borrow.
    core: Mutex<Option<criu::Options>>,
    /// True while an operation runs, callbacks included.
    pub(crate) running: bool,
    /// Directories opened from paths, open as long as the options use them.
    images_dir: Option<File>,
    work_dir: Option<File>,
    /// The notify callable (installed into the core for each operation, so
    /// the core never holds a reference back to this object between them).
    pub(crate) notify: Option<Py<PyAny>>,
    /// The orphan pty master criu passed with its last notification.
    pub(crate) orphan_pts_master: Option<OwnedFd>,
}

/// A string argument that may also be given as a path (`os.PathLike`).
pub(crate) struct PathText(pub(crate) String);

impl<'a, 'py> FromPyObject<'a, 'py> for PathText {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let path: PathBuf = obj.extract()?;
        match path.into_os_string().into_string() {
            Ok(text) => Ok(PathText(text)),
            Err(_) => Err(to_py_err(obj.py(), Error::InvalidArgument("criu takes UTF-8 paths only".into()))),
        }
    }
}

impl AsRef<str> for PathText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A directory given as a path (opened by us) or as the caller's descriptor.
#[derive(FromPyObject)]
pub(crate) enum DirArg {
    Fd(RawFd),
    Path(PathBuf),
}

impl DirArg {
    /// The directory as a path: a descriptor through its /proc link.
    pub(crate) fn path(self) -> PathBuf {
        match self {
            DirArg::Fd(fd) => PathBuf::from(format!("/proc/self/fd/{fd}")),
            DirArg::Path(path) => path,
        }
    }

    /// The descriptor to send, and the file to keep open when we opened one.
    pub(crate) fn open(self) -> PyResult<(RawFd, Option<File>)> {
        match self {
            DirArg::Fd(fd) => Ok((fd, None)),
            DirArg::Path(path) => {
                let dir =
                    std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_DIRECTORY).open(&path).map_err(
                        |e| {
                            let code = e.raw_os_error().unwrap_or(nix::libc::EIO);
                            // OSError(errno, text, path) picks the subclass
                            // (FileNotFoundError, ...) and names the path.
                            let text = nix::errno::Errno::from_raw(code).desc();
                            PyOSError::new_err((code, text, path))
                        },
                    )?;
                Ok((std::os::fd::AsRawFd::as_raw_fd(&dir), Some(dir)))
            }
        }
    }
}

impl Options {
    fn fresh() -> Options {
        Options {
            core: Mutex::new(Some(criu::Options::new())),
            running: false,
            images_dir: None,
            work_dir: None,
            notify: None,
            orphan_pts_master: None,
        }
    }

    pub(crate) fn slot(&mut self) -> &mut Option<criu::Options> {
        self.core.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// The core options, unless an operation holds them.
    pub(crate) fn core(&mut self) -> PyResult<&mut criu::Options> {
        self.slot().as_mut().ok_or_else(busy)
    }

    /// Turn a setter's core error into the Python exception.
    fn checked(py: Python<'_>, result: criu::Result<&mut criu::Options>) -> PyResult<()> {
        result.map(|_| ()).map_err(|e| to_py_err(py, e))
    }
}

// One method per option of the core's tables (src/options.rs), generated
// from those tables: an option added there appears here, with its doc
// comment, without a line of this file changing. Each macro walks its table
// one line at a time, so that the few options this class takes in a
// Python-specific form (directories as a path or a descriptor) can be left
// to their hand-written methods below.

/// One method per plain-value option (bool, int).
macro_rules! value_setters {
    () => {};
    ($(#[$doc:meta])* set_work_dir_fd => $field:ident : $ty:ty; $($rest:tt)*) => {
        value_setters! { $($rest)* }
    };
    ($(#[$doc:meta])* $setter:ident => $field:ident : $ty:ty; $($rest:tt)*) => {
        #[pymethods]
        impl Options {
            $(#[$doc])* fn $setter(&mut self, value: $ty) -> PyResult<()> {
                self.core()?.$setter(value);
                Ok(())
            }
        }
        value_setters! { $($rest)* }
    };
}

/// One method per string option and per repeated-string option; strings
/// may be given as paths (os.PathLike) too.
macro_rules! text_setters {
    () => {};
    ($(#[$doc:meta])* set_images_dir => $field:ident; $($rest:tt)*) => {
        text_setters! { $($rest)* }
    };
    ($(#[$doc:meta])* $setter:ident => $field:ident; $($rest:tt)*) => {
        #[pymethods]
        impl Options {
            $(#[$doc])* fn $setter(&mut self, value: PathText) -> PyResult<()> {
                self.core()?.$setter(value.as_ref());
                Ok(())
            }
        }
        text_setters! { $($rest)* }
    };
}

criu::for_each_value_option!(value_setters);
criu::for_each_text_option!(text_setters);
criu::for_each_list_option!(text_setters);

/// `(method, criu_opts field)` for each line of a table.
macro_rules! option_fields {
    ($( $(#[$doc:meta])* $setter:ident => $field:ident $(: $ty:ty)?; )*) => {
        &[$( (stringify!($setter), stringify!($field)) ),*]
    };
}

/// Every option of the core's tables and the request field it sets
/// (`libcriu._libcriu.OPTION_FIELDS`, which the tests check against the
/// schema).
pub const OPTION_FIELDS: [&[(&str, &str)]; 3] = [
    criu::for_each_value_option!(option_fields),
    criu::for_each_text_option!(option_fields),
    criu::for_each_list_option!(option_fields),
];

#[pymethods]
impl Options {
    /// Options with criu's defaults; keywords call the setters (see the class help).
    #[new]
    #[pyo3(signature = (**options))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Py<Self>> {
        let this = Bound::new(py, Options::fresh())?;
        for (key, value) in options.into_iter().flat_map(|o| o.iter()) {
            apply_keyword(&this, &key.extract::<String>()?, &value)?;
        }
        Ok(this.unbind())
    }

    /// Replace every criu option at once with a serialized ``criu_opts``
    /// message (``opts.SerializeToString()`` of a protobuf message built from
    /// criu's rpc.proto, as pycriu scripts fill in). The service, notify
    /// callback, tmp files and directories opened by these options stay.
    /// Bytes that are no ``criu_opts`` raise CriuInvalidArgumentError.
    fn set_request_options(&mut self, py: Python<'_>, message: &[u8]) -> PyResult<()> {
        Self::checked(py, self.core()?.set_request_options_bytes(message))
    }

    /// The ``criu_opts`` message these options send, serialized (parse it
    /// with ``libcriu.pycriu.rpc.criu_opts.FromString``).
    fn get_request_options<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let message = prost::Message::encode_to_vec(self.core()?.request_options());
        Ok(PyBytes::new(py, &message))
    }

    /// Reach criu by starting this binary as ``<binary> swrk <fd>`` for each
    /// request (None: ``criu`` from PATH, the default).
    #[pyo3(signature = (path=None))]
    fn set_service_binary(&mut self, path: Option<PathBuf>) -> PyResult<()> {
        self.core()?.set_service_binary(path.unwrap_or_else(|| DEFAULT_SERVICE_BINARY.into()));
        Ok(())
    }

    /// Reach criu through a ``criu service`` socket at this path
    /// (None: ./criu_service.socket, as upstream).
    #[pyo3(signature = (path=None))]
    fn set_service_address(&mut self, path: Option<PathBuf>) -> PyResult<()> {
        self.core()?.set_service_address(path.unwrap_or_else(|| DEFAULT_SERVICE_ADDRESS.into()));
        Ok(())
    }

    /// Reach criu through this socket, already connected to it. It is
    /// closed after the next request, as upstream libcriu does.
    fn set_service_fd(&mut self, fd: RawFd) -> PyResult<()> {
        self.core()?.set_service_fd(fd);
        Ok(())
    }

    /// Forget the service setting: start ``criu`` from PATH again.
    fn free_service(&mut self) -> PyResult<()> {
        self.core()?.set_service_binary(DEFAULT_SERVICE_BINARY);
        Ok(())
    }

    /// The images directory: a path (opened now and kept open by these
    /// options) or a descriptor the caller keeps open. Required for dump and restore.
    fn set_images_dir(&mut self, dir: DirArg) -> PyResult<()> {
        self.core()?;
        let (fd, file) = dir.open()?;
        self.core()?.set_images_dir_fd(fd);
        self.images_dir = file;
        Ok(())
    }

    /// The images directory as a descriptor the caller keeps open.
    fn set_images_dir_fd(&mut self, fd: RawFd) -> PyResult<()> {
        self.set_images_dir(DirArg::Fd(fd))
    }

    /// The directory for criu's log and other work files (default: the
    /// images directory): a path (opened and kept open) or a descriptor.
    fn set_work_dir(&mut self, dir: DirArg) -> PyResult<()> {
        self.core()?;
        let (fd, file) = dir.open()?;
        self.core()?.set_work_dir_fd(fd);
        self.work_dir = file;
        Ok(())
    }

    /// The work directory as a descriptor the caller keeps open.
    fn set_work_dir_fd(&mut self, fd: RawFd) -> PyResult<()> {
        self.set_work_dir(DirArg::Fd(fd))
    }

    /// Declare an external unix socket by inode (turns external unix sockets
    /// on unless they were turned off, which raises CriuInvalidArgumentError).
    fn add_unix_sk(&mut self, py: Python<'_>, inode: u32) -> PyResult<()> {
        Self::checked(py, self.core()?.add_unix_sk(inode))
    }

    /// Declare a resource that is not the tree's own, which criu leaves out
    /// of the dump: "file[mnt_id:inode]" (hex), "tty[rdev:dev]",
    /// "unix[inode]", "mnt[key]:val", "veth[in]:out", "dev[major/minor]:key".
    /// get_external_id() gives the id of an open descriptor. Malformed ids
    /// raise CriuInvalidArgumentError.
    fn add_external(&mut self, py: Python<'_>, key: String) -> PyResult<()> {
        Self::checked(py, self.core()?.add_external(&key))
    }

    /// At restore, give the restored tree the caller's descriptor ``fd``
    /// (kept open by the caller until then) in place of the resource ``key``,
    /// e.g. the "file[mnt_id:inode]" declared external at dump, "pipe:[inode]",
    /// "socket:[inode]" (see get_inherit_key() and list_externals()). Needs
    /// criu started by the library (the default service binary mode).
    fn add_inherit_fd(&mut self, py: Python<'_>, fd: RawFd, key: String) -> PyResult<()> {
        Self::checked(py, self.core()?.add_inherit_fd(fd, &key))
    }

    /// Save the caller's own file, directory (recursively) or symlink at
    /// ``path`` into the dump and put it back before a restore, so that its
    /// deletion in between does not break the restore. Holes, hard links,
    /// extended attributes and ACLs are kept. A restore puts back every
    /// saved entry without being told; paths added to a restore's options
    /// narrow it to the entries at or below them. Devices, fifos and sockets raise CriuInvalidArgumentError; a
    /// missing path is accepted (a restore names missing files) and makes a
    /// dump fail before criu runs.
    fn add_tmp_file(&mut self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        Self::checked(py, self.core()?.add_tmp_file(&path))
    }

    /// The most bytes the tmp files may take in the images (default 64 MiB);
    /// a dump over it fails with CriuInvalidArgumentError before criu runs.
    fn set_tmp_file_limit(&mut self, limit: u64) -> PyResult<()> {
        self.core()?.set_tmp_file_limit(limit);
        Ok(())
    }

    /// Whether a restore puts back the tmp files its images hold (default
    /// True); False leaves them in the images.
    fn set_tmp_file_put_back(&mut self, enabled: bool) -> PyResult<()> {
        self.core()?.set_tmp_file_put_back(enabled);
        Ok(())
    }

    /// Bound how long the library waits for each answer of criu, in
    /// milliseconds; 0 (the default) waits as long as criu takes. Past the
    /// bound the operation fails with CriuCommunicationError (errno
    /// ETIMEDOUT). Not criu's freeze timeout (set_timeout()).
    fn set_reply_timeout(&mut self, milliseconds: u32) -> PyResult<()> {
        let bound = (milliseconds > 0).then(|| Duration::from_millis(milliseconds.into()));
        self.core()?.set_reply_timeout(bound);
        Ok(())
    }

    /// The command criu runs after restore instead of resuming the tree
    /// (replaces an earlier one).
    fn set_exec_cmd(&mut self, argv: Vec<String>) -> PyResult<()> {
        self.core()?.set_exec_cmd(&argv);
        Ok(())
    }

    /// Map an external mount (legacy form of add_external("mnt[key]:val")).
    fn add_ext_mount(&mut self, key: String, val: String) -> PyResult<()> {
        self.core()?.add_ext_mount(&key, &val);
        Ok(())
    }

    /// Map a veth pair (legacy form of add_external("veth[in]:out")).
    fn add_veth_pair(&mut self, if_in: String, if_out: String) -> PyResult<()> {
        self.core()?.add_veth_pair(&if_in, &if_out);
        Ok(())
    }

    /// Restore the cgroups of controller ``ctrl`` (None: all) under ``path``.
    fn add_cg_root(&mut self, ctrl: Option<String>, path: PathText) -> PyResult<()> {
        self.core()?.add_cg_root(ctrl.as_deref(), &path.0);
        Ok(())
    }

    /// Cgroup properties as a YAML stream (replaces an earlier one).
    fn add_cg_props(&mut self, stream: String) -> PyResult<()> {
        self.core()?.set_cgroup_props(&stream);
        Ok(())
    }

    /// A file of cgroup properties (replaces an earlier one).
    fn add_cg_props_file(&mut self, path: PathText) -> PyResult<()> {
        self.core()?.set_cgroup_props_file(&path.0);
        Ok(())
    }

    /// Where criu mounts its cgroup yard (replaces an earlier one).
    fn add_cg_yard(&mut self, path: PathText) -> PyResult<()> {
        self.core()?.set_cgroup_yard(&path.0);
        Ok(())
    }

    /// How criu handles cgroups: a CgMode.
    fn set_manage_cgroups_mode(&mut self, py: Python<'_>, mode: i32) -> PyResult<()> {
        let mode = CgMode::from_raw(mode).ok_or_else(|| invalid(py, format!("{mode} is not a CgMode")))?;
        self.core()?.set_manage_cgroups_mode(mode);
        Ok(())
    }

    /// How the network is locked during dump: a NetworkLock.
    fn set_network_lock(&mut self, py: Python<'_>, method: i32) -> PyResult<()> {
        let method =
            NetworkLock::from_raw(method).ok_or_else(|| invalid(py, format!("{method} is not a NetworkLock")))?;
        self.core()?.set_network_lock(method);
        Ok(())
    }

    /// How pre-dump reads memory: a PreDumpMode.
    fn set_pre_dump_mode(&mut self, py: Python<'_>, mode: i32) -> PyResult<()> {
        let mode = PreDumpMode::from_raw(mode).ok_or_else(|| invalid(py, format!("{mode} is not a PreDumpMode")))?;
        self.core()?.set_pre_dump_mode(mode);
        Ok(())
    }

    /// Send memory pages to the page server at address:port instead of the images.
    fn set_page_server_address_port(&mut self, address: String, port: i32) -> PyResult<()> {
        self.core()?.set_page_server_address_port(&address, port);
        Ok(())
    }

    /// Restore into the existing namespace ``ns`` ("net", "uts", "ipc", ...)
    /// found at ``ns_file``, with an optional namespace-specific extra option.
    #[pyo3(signature = (ns, ns_file, extra_opt=None))]
    fn join_ns_add(&mut self, ns: String, ns_file: PathText, extra_opt: Option<String>) -> PyResult<()> {
        self.core()?.join_ns_add(&ns, &ns_file.0, extra_opt.as_deref());
        Ok(())
    }
}

/// Apply one constructor keyword (the rules are in the class docstring).
fn apply_keyword(this: &Bound<'_, Options>, key: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
    let method = |name: String| this.getattr(name.as_str()).ok();
    if let Some(setter) = method(format!("set_{key}")) {
        // The one setter of several arguments takes them as a tuple.
        if key == "page_server_address_port" {
            setter.call1(value.cast::<PyTuple>()?)?;
        } else {
            setter.call1((value,))?;
        }
        return Ok(());
    }
    let Some(adder) = method(format!("add_{key}")).or_else(|| method(format!("{key}_add"))) else {
        return Err(PyTypeError::new_err(format!("Options() got an unexpected keyword argument '{key}'")));
    };
    let add = |item: &Bound<'_, PyAny>| match item.cast::<PyTuple>() {
        Ok(args) => adder.call1(args).map(drop),
        Err(_) => adder.call1((item,)).map(drop),
    };
    if value.is_instance_of::<PyString>() {
        return add(value);
    }
    for item in value.try_iter()? {
        add(&item?)?;
    }
    Ok(())
}
