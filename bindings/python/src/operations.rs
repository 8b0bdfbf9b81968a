//! The operations on `Options` (check, dump, restore, ...), and `run`,
//! which gives each one the core options with the GIL released.
//!
//! Migration's operations (page server, lazy pages) are in `migrate.rs`
//! and go through `run` too.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use criu::{ops, Features};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::callbacks::{verdict, Bridge};
use crate::errors::{busy, to_py_err};
use crate::options::Options;

#[pymethods]
impl Options {
    /// Ask criu whether checkpoint/restore works on this system; raises if not.
    fn check(slf: &Bound<'_, Self>) -> PyResult<()> {
        run(slf, |o, _| ops::check(o))
    }

    /// Checkpoint the tree rooted at the set pid (the caller itself when none
    /// is set). Returns True when this call returns in the restored copy of a
    /// self-dumped process, False otherwise.
    fn dump(slf: &Bound<'_, Self>) -> PyResult<bool> {
        run(slf, |o, _| ops::dump(o).map(|d| d.restored))
    }

    /// Pre-dump the tree's memory once; the tree keeps running.
    fn pre_dump(slf: &Bound<'_, Self>) -> PyResult<()> {
        run(slf, |o, _| ops::pre_dump(o))
    }

    /// Pre-dump repeatedly, then dump, on one criu. After each pre-dump
    /// ``more(options)`` is called: a positive int asks for another
    /// pre-dump, None or 0 for the final dump, a negative int stops with
    /// CriuCallbackError (an exception stops too and is re-raised). ``more``
    /// may change the options (images and parent directories) for the next
    /// request. Needs a pid.
    fn dump_iters(slf: &Bound<'_, Self>, more: Py<PyAny>) -> PyResult<()> {
        run(slf, move |o, bridge| {
            ops::dump_iters(o, |lent| bridge.call_back(lent, |py, obj| verdict(more.call1(py, (obj,))?.bind(py))))
        })
    }

    /// Restore the tree from the images; returns the pid of its root. The
    /// tree is criu's child and is reparented when criu exits.
    fn restore(slf: &Bound<'_, Self>) -> PyResult<i32> {
        run(slf, |o, _| ops::restore(o))
    }

    /// Restore the tree as a child of the caller; returns the pid of its root.
    fn restore_child(slf: &Bound<'_, Self>) -> PyResult<i32> {
        run(slf, |o, _| ops::restore_child(o))
    }

    /// The version of criu as major * 10000 + minor * 100 + sublevel (a
    /// build from git counts as the next minor), e.g. 40101 for 4.1.1.
    fn get_version(slf: &Bound<'_, Self>) -> PyResult<i32> {
        run(slf, |o, _| ops::version(o).map(|v| v.as_number()))
    }

    /// Whether criu is at least ``minimum`` (in get_version() form).
    fn check_version(slf: &Bound<'_, Self>, minimum: i32) -> PyResult<bool> {
        run(slf, move |o, _| ops::check_version(o, minimum))
    }

    /// Ask criu which of the features passed as True it supports; returns
    /// {"mem_track": bool, "lazy_pages": bool, "pidfd_store": bool}, with
    /// False for features not asked about.
    #[pyo3(signature = (*, mem_track=false, lazy_pages=false, pidfd_store=false))]
    fn feature_check<'py>(
        slf: &Bound<'py, Self>,
        mem_track: bool,
        lazy_pages: bool,
        pidfd_store: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let wanted = Features { mem_track, lazy_pages, pidfd_store };
        let got = run(slf, move |o, _| ops::feature_check(o, wanted))?;
        let answer = PyDict::new(slf.py());
        answer.set_item("mem_track", got.mem_track)?;
        answer.set_item("lazy_pages", got.lazy_pages)?;
        answer.set_item("pidfd_store", got.pidfd_store)?;
        Ok(answer)
    }
}

/// Run an operation on the object's options with the GIL released. The
/// options leave the object for the duration (so other threads cannot change
/// them underfoot) and come back afterwards, whatever the outcome.
pub(crate) fn run<T: Send>(
    slf: &Bound<'_, Options>,
    op: impl FnOnce(&mut criu::Options, &Bridge) -> criu::Result<T> + Send,
) -> PyResult<T> {
    let py = slf.py();
    let (mut core, has_notify) = {
        let mut me = slf.try_borrow_mut()?;
        if me.running {
            return Err(busy());
        }
        let core = me.slot().take().ok_or_else(busy)?;
        me.running = true;
        (core, me.notify.is_some())
    };
    let bridge = Arc::new(Bridge::new(slf.clone().unbind()));
    if has_notify {
        let bridge = bridge.clone();
        core.set_notify(Box::new(move |note, lent| bridge.notify(note, lent)));
    }
    // A panic in the core still gives the options back before it reaches
    // Python (as a PanicException), so the object is not left busy.
    let result = py.detach(|| panic::catch_unwind(AssertUnwindSafe(|| op(&mut core, &bridge))));
    // Drop the notify bridge, and with it the reference back to this object.
    core.remove_notify();
    {
        let mut me = slf.borrow_mut();
        *me.slot() = Some(core);
        me.running = false;
    }
    let result = result.unwrap_or_else(|payload| panic::resume_unwind(payload));
    if let Some(err) = bridge.take_raised() {
        return Err(err);
    }
    result.map_err(|e| to_py_err(py, e))
}
