//! The records the module returns: immutable (`frozen`) classes with one
//! read-only attribute per field, in place of tuples read by position.
//!
//! Each was a `typing.NamedTuple` or a plain tuple before, so each still
//! behaves as that tuple where code may rely on it: it unpacks
//! (`pid, port = opts.start_page_server()`), indexes, has a length, equals
//! the tuple of its fields, hashes like it, and has NamedTuple's `_fields`,
//! `_asdict()` and pickling.

use std::ffi::OsString;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::IntoPyObjectExt;

/// Declares one record class: its doc, its fields with their docs, and the
/// tuple-like behaviour described in the module doc.
macro_rules! record {
    (
        $(#[$doc:meta])*
        $name:ident { $( $(#[$field_doc:meta])* $field:ident : $ty:ty ),* $(,)? }
    ) => {
        $(#[$doc])*
        #[pyclass(frozen, get_all, module = "libcriu")]
        #[derive(Debug)]
        pub struct $name {
            $( $(#[$field_doc])* pub $field: $ty, )*
        }

        impl $name {
            /// The fields as a tuple, in declaration order.
            fn as_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
                PyTuple::new(py, [$( (&self.$field).into_bound_py_any(py)? ),*])
            }
        }

        #[pymethods]
        impl $name {
            #[new]
            #[allow(clippy::too_many_arguments, reason = "one argument per field, as a NamedTuple's constructor")]
            fn new($( $field: $ty ),*) -> Self {
                $name { $( $field ),* }
            }

            /// The field names, in order (as a NamedTuple has them).
            #[classattr]
            fn _fields() -> ($( record!(@str $field), )*) {
                ($( stringify!($field), )*)
            }

            #[classattr]
            fn __match_args__() -> ($( record!(@str $field), )*) {
                ($( stringify!($field), )*)
            }

            /// The fields as a dict, name to value.
            fn _asdict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                let dict = PyDict::new(py);
                $( dict.set_item(stringify!($field), &self.$field)?; )*
                Ok(dict)
            }

            fn __getnewargs__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
                self.as_tuple(py)
            }

            fn __len__(&self) -> usize {
                [$( stringify!($field) ),*].len()
            }

            fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                Ok(self.as_tuple(py)?.try_iter()?.into_any())
            }

            fn __getitem__<'py>(&self, py: Python<'py>, index: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
                self.as_tuple(py)?.as_any().get_item(index)
            }

            /// Equal to a record of the same class or to a tuple with the
            /// same fields.
            fn __eq__<'py>(&self, py: Python<'py>, other: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
                let other = match other.cast::<$name>() {
                    Ok(record) => record.get().as_tuple(py)?.into_any(),
                    Err(_) if other.is_instance_of::<PyTuple>() => other.clone(),
                    Err(_) => return Ok(py.NotImplemented()),
                };
                self.as_tuple(py)?.eq(other)?.into_py_any(py)
            }

            fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
                self.as_tuple(py)?.hash()
            }

            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                let fields: Vec<String> = vec![$(
                    format!("{}={}", stringify!($field), (&self.$field).into_bound_py_any(py)?.repr()?),
                )*];
                Ok(format!("{}({})", stringify!($name), fields.join(", ")))
            }
        }
    };
    (@str $field:ident) => { &'static str };
}

record! {
    /// A descriptor of a dumped tree that refers to something outside it,
    /// which a restore must be handed with ``add_inherit_fd(fd, key)``
    /// (from list_externals()).
    ExternalResource {
        /// "file", "pipe", "unix-socket" or "tty".
        kind: String,
        /// The key to pass to add_inherit_fd(), e.g. "pipe:[4711]".
        key: String,
        /// The task holding it, as numbered in the images.
        pid: u32,
        /// Its descriptor number in that task.
        fd: u32,
        /// Why it is external, in words.
        description: String,
    }
}

impl From<criu::images::ExternalResource> for ExternalResource {
    fn from(r: criu::images::ExternalResource) -> Self {
        ExternalResource {
            kind: r.kind.as_str().to_owned(),
            key: r.key,
            pid: r.pid,
            fd: r.fd,
            description: r.description,
        }
    }
}

record! {
    /// One tmp file saved into the images, which a restore puts back
    /// (from list_tmp_files()).
    TmpFile {
        /// Where it is put back.
        path: OsString,
        /// "file", "dir", "symlink" or "hardlink".
        kind: String,
        /// Its mode bits (permissions and type).
        mode: u32,
        /// Its owner.
        uid: u32,
        /// Its group.
        gid: u32,
        /// A file's size (holes included), or a link's target length.
        size: u64,
        /// Bytes its data takes in the images (less than size when sparse).
        stored: u64,
        /// Whether it was saved without its holes.
        sparse: bool,
        /// A symlink's target, or the file a hard link is another name of.
        link_target: Option<OsString>,
        /// Names of the extended attributes (ACLs included) kept.
        xattrs: Vec<String>,
    }
}

impl From<criu::tmpfile::EntryInfo> for TmpFile {
    fn from(e: criu::tmpfile::EntryInfo) -> Self {
        TmpFile {
            path: e.path.into_os_string(),
            kind: e.kind.to_string(),
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            size: e.size,
            stored: e.stored,
            sparse: e.sparse,
            link_target: e.link_target.map(Into::into),
            xattrs: e.xattrs,
        }
    }
}

record! {
    /// A page server that was started: its pid and the port it listens on
    /// (from Options.start_page_server() and Options.start_page_server_chld()).
    PageServer {
        /// The page server's pid.
        pid: i32,
        /// The TCP port it listens on.
        port: i32,
    }
}

impl From<criu::migrate::PageServer> for PageServer {
    fn from(s: criu::migrate::PageServer) -> Self {
        PageServer { pid: s.pid, port: s.port }
    }
}
