//! The exceptions the module raises, and the one conversion of the core's
//! errors into them.
//!
//! The classes are defined once, in Python (`python/libcriu/_errors.py`),
//! because three of them also derive from a built-in class
//! (`ConnectionError`, `ValueError`) and all take keyword arguments, which
//! an exception type made by `create_exception!` cannot do. Here they are
//! declared with `import_exception!`, as cryptography declares its own, so
//! the Rust side names them as types, and [`check_classes`] resolves every
//! one when the module is imported: a class renamed on one side only makes
//! `import libcriu` fail instead of turning a later `CriuError` into an
//! `AttributeError`.

use criu::Error;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};
use pyo3::PyTypeInfo;

/// Declares each exception class of `libcriu._errors`, and the list
/// [`check_classes`] walks.
macro_rules! criu_exceptions {
    ($($name:ident),* $(,)?) => {
        $( pyo3::import_exception!(libcriu._errors, $name); )*

        /// Every class [`to_py_err`] raises, the base first: its name and
        /// its type object.
        fn classes(py: Python<'_>) -> Vec<(&'static str, PyResult<Bound<'_, PyType>>)> {
            vec![$( (stringify!($name), import_class(py, stringify!($name))) ),*]
        }
    };
}

criu_exceptions!(
    CriuError,
    CriuRpcError,
    CriuConnectionError,
    CriuCommunicationError,
    CriuUnsupportedError,
    CriuProtocolError,
    CriuInvalidArgumentError,
    CriuCallbackError,
);

/// One class of `libcriu._errors`, looked up without the panic that an
/// `import_exception!` type's first use would raise when it is missing.
fn import_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    Ok(py.import("libcriu._errors")?.getattr(name)?.cast_into::<PyType>()?)
}

/// Fail the import of the module unless every exception class it raises
/// exists and derives from `CriuError`, so that a renamed or moved class
/// is found at once rather than at the first failure.
pub fn check_classes(py: Python<'_>) -> PyResult<()> {
    let mut base = None;
    for (name, class) in classes(py) {
        let class =
            class.map_err(|e| PyTypeError::new_err(format!("libcriu._errors.{name} is missing or no class: {e}")))?;
        let base = base.get_or_insert_with(|| class.clone());
        if !class.is_subclass(base)? {
            return Err(PyTypeError::new_err(format!("libcriu._errors.{name} does not derive from CriuError")));
        }
    }
    Ok(())
}

/// The one conversion of a core error into its exception: the class for
/// its kind, its message, and its numbers as keyword attributes (`errno`
/// always; `cr_errno`, `cr_errmsg` and `log_errors` for an RPC failure;
/// `resp_type` for an unexpected answer; `value` for a callback's veto).
/// A kind without its own class (out of memory) is a plain `CriuError`.
pub fn to_py_err(py: Python<'_>, err: Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let kwargs = PyDict::new(py);
        kwargs.set_item("errno", err.errno())?;
        let class = match &err {
            Error::Rpc { cr_errno, cr_errmsg, log_errors } => {
                kwargs.set_item("cr_errno", cr_errno)?;
                kwargs.set_item("cr_errmsg", cr_errmsg)?;
                kwargs.set_item("log_errors", log_errors)?;
                CriuRpcError::type_object(py)
            }
            Error::Connect { .. } => CriuConnectionError::type_object(py),
            Error::Comm { .. } => CriuCommunicationError::type_object(py),
            Error::Unsupported => CriuUnsupportedError::type_object(py),
            Error::UnexpectedResponse { got, .. } => {
                kwargs.set_item("resp_type", got)?;
                CriuProtocolError::type_object(py)
            }
            Error::InvalidArgument(_) => CriuInvalidArgumentError::type_object(py),
            Error::Callback(value) => {
                kwargs.set_item("value", value)?;
                CriuCallbackError::type_object(py)
            }
            Error::NoMemory => CriuError::type_object(py),
        };
        Ok(PyErr::from_value(class.call((err.to_string(),), Some(&kwargs))?))
    };
    // Building the exception can itself fail (out of memory): raise that.
    build().unwrap_or_else(|failure| failure)
}

/// `CriuInvalidArgumentError` with this explanation.
pub fn invalid(py: Python<'_>, what: String) -> PyErr {
    to_py_err(py, Error::InvalidArgument(what))
}

/// Raised when an operation is running on the options another call wants.
pub fn busy() -> PyErr {
    PyRuntimeError::new_err("these options are in use by a running operation")
}
