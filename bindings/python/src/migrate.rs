//! Migration in Python: page servers, WAIT_PID, the CPU record and check,
//! criu's lazy-pages daemon, and requests on a kept connection, over
//! `criu::migrate`. What an Options object starts is its own, as in the
//! core: wait_pid() reaps it, and collecting the object ends what still runs.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

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

    /// Start a page server (see start_page_server()) as a child of a criu
    /// these options keep connected, so that wait_pid() can give its exit
    /// status; returns a PageServer. Collecting the options kills it if it
    /// was never waited for.
    fn start_page_server_chld(slf: &Bound<'_, Self>) -> PyResult<PageServer> {
        run(slf, |o, _| o.start_page_server_chld().map(PageServer::from))
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
    /// the source's lazy dump) and return its pid once it is ready. It is
    /// these options' child: wait_pid() reaps it once it has served every
    /// page, and collecting the options kills it if it still runs.
    fn start_lazy_pages(slf: &Bound<'_, Self>) -> PyResult<i32> {
        run(slf, |o, _| o.start_lazy_pages())
    }

    /// Wait until ``pid`` exits: a page server of start_page_server_chld()
    /// (criu then ends the connection these options kept) or a lazy-pages
    /// daemon of start_lazy_pages(). Returns its wait status, for
    /// os.WIFEXITED() and os.WEXITSTATUS(); raises CriuInvalidArgumentError
    /// when these options started no such process.
    fn wait_pid(slf: &Bound<'_, Self>, pid: i32) -> PyResult<i32> {
        run(slf, |o, _| o.wait_pid(pid).map(|exited| exited.status))
    }

    /// Send ``request``, a serialized ``criu_req``, as it is on the
    /// connection these options keep (opened as they say when none is open)
    /// and return criu's answer as the bytes it sent, whatever its type or
    /// success. The connection stays open after a request with
    /// ``keep_open``. For the pycriu-compatible module, which builds the
    /// requests and judges the answers as pycriu does.
    fn request<'py>(slf: &Bound<'py, Self>, request: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let req = <criu::rpc::CriuReq as prost::Message>::decode(request)
            .map_err(|e| PyValueError::new_err(format!("not a criu_req message: {e}")))?;
        let answer = run(slf, |o, _| o.request_bytes(&req))?;
        Ok(PyBytes::new(slf.py(), &answer))
    }

    /// Whether these options keep a connection to criu open (after
    /// start_page_server_chld() or a ``keep_open`` request, until
    /// wait_pid() or a failed request ends it).
    fn is_connected(&mut self) -> PyResult<bool> {
        Ok(self.core()?.is_connected())
    }
}
