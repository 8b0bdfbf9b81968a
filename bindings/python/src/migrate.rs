//! Migration in Python: page servers, WAIT_PID, the CPU record and check,
//! lazy pages and criu's lazy-pages daemon, over `criu::migrate`.

use std::sync::{Mutex, PoisonError};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::to_py_err;
use crate::operations::run;
use crate::options::Options;
use crate::records::PageServer;
use criu::migrate;

// set_lazy_pages() and set_status_fd() come with every other option from
// the core's table (see options.rs).

#[pymethods]
impl Options {
    /// Start a page server as a daemon, listening on the address and port of
    /// set_page_server_address_port() (port 0: one the kernel chooses) and
    /// writing what it receives into the images directory; it serves one
    /// dump and exits. Returns a PageServer (``pid, port = ...`` unpacks it).
    fn start_page_server(slf: &Bound<'_, Self>) -> PyResult<PageServer> {
        run(slf, |o, _| migrate::start_page_server(o).map(PageServer::from))
    }

    /// Record this CPU's features into the images directory (cpuinfo.img).
    fn cpuinfo_dump(slf: &Bound<'_, Self>) -> PyResult<()> {
        run(slf, |o, _| migrate::cpuinfo_dump(o))
    }

    /// Raise CriuRpcError unless the images' tree can run on this CPU (its
    /// cpuinfo.img comes from cpuinfo_dump()). When the CPUs differ, criu
    /// 4.2.1 on x86 sends no cr_errno (criu's log names the difference);
    /// cr_errno ENOTSUP comes only where criu has no CPU check (arm, aarch64).
    fn cpuinfo_check(slf: &Bound<'_, Self>) -> PyResult<()> {
        run(slf, |o, _| migrate::cpuinfo_check(o))
    }

    /// Start criu's lazy-pages daemon for a lazy restore from these images
    /// (taking the pages from the page server address and port, when set:
    /// the source's lazy dump) and return it, a LazyPages, once it is ready.
    fn start_lazy_pages(slf: &Bound<'_, Self>) -> PyResult<LazyPages> {
        run(slf, |o, _| migrate::start_lazy_pages(o)).map(|d| LazyPages { daemon: Mutex::new(d) })
    }
}

/// A connection to criu kept open between requests, for what only the same
/// criu can do: wait_pid() waits for a page server page_server_chld()
/// started. criu answers WAIT_PID and then closes the connection. Page
/// servers never waited for are killed when the session is closed or
/// collected.
#[pyclass(module = "libcriu")]
pub struct Session {
    inner: Mutex<migrate::Session>,
}

#[pymethods]
impl Session {
    #[new]
    fn new() -> Session {
        Session { inner: Mutex::new(migrate::Session::new()) }
    }

    /// Start a page server as a child of this session's criu (see
    /// Options.start_page_server() for what it does); returns a PageServer.
    fn page_server_chld(&self, opts: &Bound<'_, Options>) -> PyResult<PageServer> {
        let inner = &self.inner;
        run(opts, |o, _| {
            let mut session = inner.lock().unwrap_or_else(PoisonError::into_inner);
            session.page_server_chld(o).map(PageServer::from)
        })
    }

    /// Send ``request``, a serialized ``criu_req``, as it is on this
    /// session's connection (opened as ``opts`` say when none is open) and
    /// return criu's answer as the bytes it sent, whatever its type or
    /// success. The connection stays open after a request with
    /// ``keep_open``. For the pycriu-compatible module, which builds the
    /// requests and judges the answers as pycriu does.
    fn request<'py>(&self, opts: &Bound<'py, Options>, request: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let req = <criu::rpc::CriuReq as prost::Message>::decode(request)
            .map_err(|e| PyValueError::new_err(format!("not a criu_req message: {e}")))?;
        let inner = &self.inner;
        let answer = run(opts, |o, _| inner.lock().unwrap_or_else(PoisonError::into_inner).request_bytes(o, &req))?;
        Ok(PyBytes::new(opts.py(), &answer))
    }

    /// Whether a connection to criu is open (kept after a ``keep_open``
    /// request).
    fn is_open(&self) -> bool {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).is_open()
    }

    /// Wait until ``pid`` (a page server of page_server_chld()) exits; its
    /// wait status, for os.WIFEXITED() and os.WEXITSTATUS(). Ends the session.
    fn wait_pid(&self, py: Python<'_>, pid: i32) -> PyResult<i32> {
        let inner = &self.inner;
        py.detach(|| inner.lock().unwrap_or_else(PoisonError::into_inner).wait_pid(pid)).map_err(|e| to_py_err(py, e))
    }

    /// End the session now: kill its page servers never waited for.
    fn close(&self) {
        *self.inner.lock().unwrap_or_else(PoisonError::into_inner) = migrate::Session::new();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        _kind: Option<&Bound<'_, PyAny>>,
        _value: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) {
        self.close();
    }
}

/// criu's lazy-pages daemon, the caller's child, from
/// Options.start_lazy_pages(). Collecting it kills it if it still runs.
#[pyclass(module = "libcriu")]
pub struct LazyPages {
    daemon: Mutex<migrate::LazyPages>,
}

#[pymethods]
impl LazyPages {
    /// The daemon's pid.
    #[getter]
    fn pid(&self) -> i32 {
        self.daemon.lock().unwrap_or_else(PoisonError::into_inner).pid()
    }

    /// Wait until the daemon exits; raises (with criu's reason, when a log
    /// file was set) unless it served every page and exited cleanly.
    fn wait(&self, py: Python<'_>) -> PyResult<()> {
        let daemon = &self.daemon;
        py.detach(|| daemon.lock().unwrap_or_else(PoisonError::into_inner).wait()).map_err(|e| to_py_err(py, e))
    }

    /// None while the daemon runs; True once it exited cleanly; raises as
    /// wait() does when it failed.
    fn poll(&self, py: Python<'_>) -> PyResult<Option<bool>> {
        match self.daemon.lock().unwrap_or_else(PoisonError::into_inner).try_wait() {
            None => Ok(None),
            Some(Ok(())) => Ok(Some(true)),
            Some(Err(e)) => Err(to_py_err(py, e)),
        }
    }
}
