//! Python callables answering criu's callbacks: the notify callback of
//! `Options` and the bridge every callback of a running operation goes
//! through.
//!
//! An operation runs with the GIL released (see `operations.rs`); a
//! callback takes the GIL back for the call only. A Python exception in the
//! callable never unwinds into the core: the bridge keeps it, answers criu
//! with a failure (-1) so that the operation stops cleanly, and the
//! operation re-raises the kept exception once the core has returned.

use std::os::fd::{IntoRawFd, RawFd};
use std::sync::{Mutex, PoisonError};

use criu::Notification;
use pyo3::exceptions::PyTypeError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt};
use pyo3::PyTraverseError;

use crate::options::Options;

#[pymethods]
impl Options {
    /// Call ``callback(action, pid)`` at each notification criu sends
    /// ("pre-dump", "post-dump", "pre-restore", "post-restore", ...; pid is
    /// the tree's root or None). Returning None or 0 lets criu go on; any
    /// other int makes the operation fail with CriuCallbackError; an
    /// exception fails it too and is re-raised by the operation. The
    /// callback may use these options. None removes the callback
    /// (notifications stay requested and are acknowledged, as upstream).
    fn set_notify_cb(&mut self, py: Python<'_>, callback: Option<Py<PyAny>>) -> PyResult<()> {
        if let Some(cb) = &callback {
            if !cb.bind(py).is_callable() {
                return Err(PyTypeError::new_err("the notify callback must be callable or None"));
            }
        }
        self.core()?.set_notify_scripts(true);
        self.notify = callback;
        Ok(())
    }

    /// The master side of an orphan pty that criu passed with its last
    /// notification (see set_orphan_pts_master()), or None. The caller
    /// owns the returned descriptor and must close it.
    fn get_orphan_pts_master_fd(&mut self) -> Option<RawFd> {
        self.orphan_pts_master.take().map(IntoRawFd::into_raw_fd)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.notify)
    }

    fn __clear__(&mut self) {
        self.notify = None;
    }
}

/// What the callbacks of one running operation share: the Python object
/// whose options the operation holds, and the first exception a callback
/// raised (re-raised when the operation returns).
pub(crate) struct Bridge {
    this: Py<Options>,
    raised: Mutex<Option<PyErr>>,
}

impl Bridge {
    /// The bridge for an operation on the options of `this`.
    pub(crate) fn new(this: Py<Options>) -> Bridge {
        Bridge { this, raised: Mutex::new(None) }
    }

    /// The first exception a callback raised, to re-raise in its place.
    pub(crate) fn take_raised(&self) -> Option<PyErr> {
        self.raised.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Call Python (with the GIL) from inside an operation. The options the
    /// core lends the callback are put back into the Python object for the
    /// call, so the callable can read and change them with the usual
    /// methods; changes reach the operation's later requests.
    pub(crate) fn call_back(
        &self,
        lent: &mut criu::Options,
        call: impl FnOnce(Python<'_>, &Bound<'_, Options>) -> PyResult<i32>,
    ) -> i32 {
        Python::attach(|py| {
            let obj = self.this.bind(py);
            *obj.borrow_mut().slot() = Some(std::mem::take(lent));
            let verdict = call(py, obj).unwrap_or_else(|err| {
                self.raised.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(err);
                -1
            });
            // Only operations take the options, and they refuse to start
            // while this one runs, so they are still there.
            *lent = obj.borrow_mut().slot().take().expect("options lent to a callback were kept");
            verdict
        })
    }

    /// Answer one notification with the Python notify callback.
    pub(crate) fn notify(&self, note: &Notification, lent: &mut criu::Options) -> i32 {
        self.call_back(lent, |py, obj| {
            if let Some(fd) = note.take_fd() {
                obj.borrow_mut().orphan_pts_master = Some(fd);
            }
            let callback = obj.borrow().notify.as_ref().map(|cb| cb.clone_ref(py));
            match callback {
                Some(cb) => verdict(cb.call1(py, (note.action(), note.pid()))?.bind(py)),
                None => Ok(0),
            }
        })
    }
}

/// A callback's answer: None means 0, an int is passed on as it is. A bool
/// is refused: `return True` would read as "ok" but is a nonzero veto.
pub(crate) fn verdict(answer: &Bound<'_, PyAny>) -> PyResult<i32> {
    if answer.is_none() {
        return Ok(0);
    }
    if answer.is_instance_of::<PyInt>() && !answer.is_instance_of::<PyBool>() {
        return answer.extract::<i32>();
    }
    let kind = answer.get_type().name().map(|n| n.to_string()).unwrap_or_default();
    Err(PyTypeError::new_err(format!("a libcriu callback must return None or an int, not {kind}")))
}
