//! Moving a process tree to another host: the page server, lazy pages, the
//! CPU check, and waiting for what criu or the library started on the
//! caller's behalf.
//!
//! A migration through the library, as criu does it:
//!
//! * destination: [`start_page_server`] (criu forks a page server daemon and
//!   answers with its pid and port; port 0 lets the kernel choose), or
//!   [`Options::start_page_server_chld`] for a page server that stays criu's
//!   child so that [`Options::wait_pid`] can report how it ended;
//! * source: [`cpuinfo_dump`], then a dump with
//!   [`Options::set_page_server_address_port`] set: the memory pages go over
//!   TCP to the page server, the other images stay in the images directory
//!   and are copied over by the caller;
//! * destination: [`cpuinfo_check`] before restoring.
//!
//! Lazily: the source dumps with [`Options::set_lazy_pages`] and a port; its
//! dump call then serves the pages itself until the destination has them
//! all (it tells it is listening through a `status-ready` notification, or
//! a byte on [`Options::set_status_fd`]). The destination runs criu's
//! lazy-pages daemon with [`Options::start_lazy_pages`] (criu has no request
//! for it, so the library starts `criu lazy-pages` itself, and returns once
//! it is ready) and restores with lazy pages on: the tree runs at once, and
//! pages arrive as it touches them.
//!
//! What the options start is theirs: the page servers of
//! [`Options::start_page_server_chld`] (with the connection to the criu
//! whose children they are) and the lazy-pages daemons stay with the
//! options until [`Options::wait_pid`] reaps them; dropping the options
//! kills whatever still runs. The C API (`criu_local_wait_pid`) and the
//! Python module's `Options.wait_pid` are this one method.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::criu_log;
use crate::error::{Error, Result};
use crate::exchange::{call, connect, exchange, exchange_bytes, missing, no_hook, open, request};
use crate::options::{Options, Service, DEFAULT_SERVICE_BINARY};
use crate::rpc::{CriuReq, CriuReqType, CriuResp};
use crate::service::{
    how_it_ended, poll_by, socket_holders, wants_input, Child, ChildFds, Connection, Launch, PassedFds, Polled,
};
use crate::started::{wait_pid_request, LazyPagesDaemon};

/// A page server criu started: its pid and the TCP port it listens on (the
/// one the kernel chose when port 0 was asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageServer {
    /// The page server's pid (0 when a daemon's could not be found).
    pub pid: i32,
    /// The TCP port it listens on.
    pub port: i32,
}

fn page_server_of(resp: CriuResp) -> Result<PageServer> {
    let ps = resp.ps.ok_or_else(|| missing("page server"))?;
    match (ps.pid, ps.port) {
        (Some(pid), Some(port)) if port > 0 => Ok(PageServer { pid, port }),
        _ => Err(missing("page server port")),
    }
}

/// The pid of the process listening on TCP `port` in the caller's network
/// namespace, if one can be found.
///
/// criu answers a PAGE_SERVER request with pid 0: the process that daemonizes
/// the page server returns 0 instead of the daemon's pid. The daemon is
/// found instead by the listening socket it holds (its inode, in
/// /proc/net/tcp{,6}, among the descriptors in /proc/*/fd).
fn listener_pid(port: i32) -> Option<i32> {
    const LISTEN: &str = "0A";
    let wanted = format!("{port:04X}");
    let inode = ["tcp", "tcp6"].iter().find_map(|table| {
        let text = std::fs::read_to_string(format!("/proc/thread-self/net/{table}")).ok()?;
        text.lines().skip(1).find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit(':').next()?;
            (local_port == wanted && fields.get(3) == Some(&LISTEN)).then(|| fields.get(9).map(|i| i.to_string()))?
        })
    })?;
    socket_holders(inode.parse().ok()?).into_iter().next()
}

/// Start a page server as a daemon (criu's PAGE_SERVER request), listening
/// on the address and port of [`Options::set_page_server_address_port`]
/// (all addresses and a port the kernel chooses when unset), writing the
/// pages it receives into the images directory. It is listening when this
/// returns, serves one dump and exits. It is not the caller's child, nor
/// the options': criu detaches it (to wait for it, use
/// [`Options::start_page_server_chld`]). criu does not report the daemon's
/// pid; the library finds it by the port it listens on (pid 0 if that
/// fails, e.g. criu listens in another network namespace than the calling
/// thread's).
pub fn start_page_server(opts: &mut Options) -> Result<PageServer> {
    // criu forks the daemon: it gets only what this criu has.
    let resp = call(opts, request(CriuReqType::PageServer, Some(opts.rpc.clone())), Launch::Daemon)?;
    let mut server = page_server_of(resp)?;
    if server.pid <= 0 {
        server.pid = listener_pid(server.port).unwrap_or(0);
    }
    Ok(server)
}

/// Record this CPU's features into the images directory (`cpuinfo.img`),
/// for [`cpuinfo_check`] on the destination.
pub fn cpuinfo_dump(opts: &mut Options) -> Result<()> {
    call(opts, request(CriuReqType::CpuinfoDump, Some(opts.rpc.clone())), Launch::Request).map(|_| ())
}

/// Whether the tree whose `cpuinfo.img` is in the images directory can run
/// on this CPU: `Ok` when it can; an [`Error::Rpc`] without `cr_errno` when
/// the CPUs differ in what matters (see [`Options::set_cpu_cap`]; criu's
/// log names the difference), as criu 4.2.1 answers on x86. `cr_errno`
/// ENOTSUP comes only where criu has no CPU check for the architecture
/// (arm, aarch64).
pub fn cpuinfo_check(opts: &mut Options) -> Result<()> {
    call(opts, request(CriuReqType::CpuinfoCheck, Some(opts.rpc.clone())), Launch::Request).map(|_| ())
}

/// How a process the options started ended ([`Options::wait_pid`]).
#[derive(Debug)]
pub struct Exited {
    /// Its raw wait status, as `waitpid` gives it (`WIFEXITED`,
    /// `WEXITSTATUS`, `WIFSIGNALED`, ...).
    pub status: i32,
    /// `None` when it exited with status 0; else what went wrong, with the
    /// reason from criu's log for a lazy-pages daemon whose options set a
    /// log file.
    pub failure: Option<Error>,
}

/// What a wait status says went wrong; `None` for a clean exit.
fn how_it_failed(status: i32) -> Option<String> {
    let clean = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (!clean).then(|| how_it_ended(status))
}

/// The failure of criu's `process` (its name, for the message) that `how`
/// (ended, or could not start), with the reason from its `log` when it has one.
fn daemon_failure(process: &str, how: &str, log: Option<&std::path::Path>) -> Error {
    let reason = log.and_then(criu_log::error_summary);
    Error::Rpc {
        cr_errno: None,
        cr_errmsg: Some(match reason {
            Some(reason) => format!("criu {process} {how}: {reason}"),
            None => format!("criu {process} {how}"),
        }),
        log_errors: None,
    }
}

/// Page servers as criu's children, lazy-pages daemons, and waiting for
/// them: what the options start stays theirs until waited for.
impl Options {
    /// Start a page server as a child of a criu these options keep
    /// connected (criu's PAGE_SERVER_CHLD request, with `keep_open`; see
    /// [`start_page_server`] for what the page server does), so that
    /// [`Options::wait_pid`] can give its exit status. Dropping the options
    /// kills it if it was never waited for.
    pub fn start_page_server_chld(&mut self) -> Result<PageServer> {
        let req = CriuReq { keep_open: Some(true), ..request(CriuReqType::PageServerChld, Some(self.rpc.clone())) };
        let (service, rpc) = (self.service.clone(), self.rpc.clone());
        // The kept criu, and the page servers it starts, outlive the call.
        let resp = self.on_kept_connection(
            |o| connect(o, &service, &rpc, Launch::Daemon),
            |conn, o| exchange(conn, o, &req, &mut no_hook),
        )?;
        let server = page_server_of(resp)?;
        if server.pid <= 0 {
            return Err(missing("page server pid"));
        }
        self.started.page_servers.push(server.pid);
        Ok(server)
    }

    /// Start criu's lazy-pages daemon (`criu lazy-pages`) for a lazy restore
    /// from these options' images directory, as the caller's child, and
    /// return its pid once it is ready to serve (it wrote to its status fd):
    /// a restore with [`Options::set_lazy_pages`] and the same images (or
    /// work) directory may start at once. With
    /// [`Options::set_page_server_address_port`] set, it takes the pages
    /// from the page server there (the source's lazy dump); otherwise from
    /// the images. The options used: the criu binary, images and work
    /// directories, log file and level, page server address and port, TLS
    /// settings and config file. Fails, with criu's log's reason when a log
    /// file is set, when the daemon exits before it is ready; with the reply
    /// timeout set, also when it is not ready in time.
    ///
    /// The daemon is the options': [`Options::wait_pid`] reaps it once it
    /// has served every page; dropping the options kills one still running.
    pub fn start_lazy_pages(&mut self) -> Result<i32> {
        let binary = match &self.service {
            Service::Binary(path) => path.clone(),
            _ => PathBuf::from(DEFAULT_SERVICE_BINARY),
        };
        let (ready_r, ready_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::connect("status pipe", e))?;
        let mut passed = PassedFds::default();
        let args = lazy_pages_args(self, &ready_w, &mut passed)?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // The daemon outlives the call: it gets only what its command line names.
        let mut child = Child::spawn(&binary, &args, ChildFds::Only(passed.fds()), true)?;
        drop(ready_w);
        let log = criu_log::log_path(&self.rpc);
        match wait_ready(ready_r, self.reply_timeout) {
            Ok(true) => {
                let pid = child.pid();
                self.started.lazy_pages.push(LazyPagesDaemon { child, log });
                Ok(pid)
            }
            Ok(false) => {
                // Reap it first, so that its log is complete.
                let _ = child.exits_within(Duration::from_secs(5));
                Err(daemon_failure("lazy-pages", "exited before it was ready", log.as_deref()))
            }
            Err(e) => Err(e),
        }
    }

    /// Wait until `pid` exits and reap it: a page server of
    /// [`Options::start_page_server_chld`] on these options (criu's WAIT_PID
    /// request, on the connection kept for it; criu answers and exits, so
    /// the connection ends here) or a lazy-pages daemon of
    /// [`Options::start_lazy_pages`]. An [`Error::InvalidArgument`] when
    /// these options started no such process, or it was waited for already.
    pub fn wait_pid(&mut self, pid: i32) -> Result<Exited> {
        if let Some(at) = self.started.lazy_pages.iter().position(|d| d.child.pid() == pid) {
            let LazyPagesDaemon { mut child, log } = self.started.lazy_pages.remove(at);
            let status = child.wait()?;
            let failure = how_it_failed(status).map(|how| daemon_failure("lazy-pages", &how, log.as_deref()));
            return Ok(Exited { status, failure });
        }
        let Some(mut criu) = self.started.criu.take() else {
            return Err(Error::InvalidArgument(format!(
                "no connection to criu kept: criu can wait only for a process (here {pid}) it started for these options"
            )));
        };
        let Ok(wanted) = u32::try_from(pid) else {
            return Err(Error::InvalidArgument(format!("pid {pid} is negative")));
        };
        self.started.page_servers.retain(|p| *p != pid);
        let resp = exchange(&mut criu, self, &wait_pid_request(wanted), &mut no_hook)?;
        let status = resp.status.ok_or_else(|| missing("wait status"))?;
        let failure = how_it_failed(status).map(|how| daemon_failure("page-server", &how, None));
        Ok(Exited { status, failure })
    }

    /// Whether these options keep a connection to criu open: after
    /// [`Options::start_page_server_chld`], or a `keep_open` request of
    /// [`Options::request_bytes`], until [`Options::wait_pid`] or a failed
    /// request ends it.
    pub fn is_connected(&self) -> bool {
        self.started.criu.is_some()
    }

    /// Send `req` as it is on the connection these options keep (opening one
    /// as they say when none is open) and return criu's answer as it came,
    /// whatever its type or success, even undecodable; notifications on the
    /// way go to the options' callback. For clients that build their
    /// requests and judge the answers themselves, as the pycriu-compatible
    /// Python module does: nothing is checked or added on the way (a criu
    /// started for a DUMP without a pid is detached, as a dump of the caller
    /// needs; one kept open gets only its socket, as a daemon; a restore is
    /// placed as its `shell_job` asks; any other gets the descriptors of
    /// `inherit_fd`). The connection stays open after a request with
    /// `keep_open` (criu then waits for more), and is closed after any other
    /// or after a failure.
    pub fn request_bytes(&mut self, req: &CriuReq) -> Result<Vec<u8>> {
        let rpc = req.opts.clone().unwrap_or_default();
        let keep = req.keep_open == Some(true);
        let launch = if req.r#type == CriuReqType::Dump as i32 && rpc.pid.is_none() {
            Launch::Detached
        } else if keep {
            // A criu kept open, and the page servers it starts, outlive the call.
            Launch::Daemon
        } else if req.r#type == CriuReqType::Restore as i32 {
            Launch::restore(&rpc)
        } else {
            Launch::Request
        };
        let service = self.service.clone();
        let answer =
            self.on_kept_connection(|o| open(o, &service, &rpc, launch), |conn, o| exchange_bytes(conn, o, req));
        if !keep {
            self.started.criu = None;
        }
        answer
    }

    /// Run `body` on the connection these options keep, opening one with
    /// `connect` when none is open. The connection is out of the options for
    /// the call (the body gets both), and stays with them unless the call
    /// failed (criu ends the connection after a failed request).
    fn on_kept_connection<T>(
        &mut self,
        connect: impl FnOnce(&mut Options) -> Result<Connection>,
        body: impl FnOnce(&mut Connection, &mut Options) -> Result<T>,
    ) -> Result<T> {
        let mut conn = match self.started.criu.take() {
            Some(conn) => conn,
            None => connect(self)?,
        };
        let result = body(&mut conn, self);
        if result.is_ok() {
            self.started.criu = Some(conn);
        }
        result
    }
}

/// The command line of `criu lazy-pages` for `opts`; the descriptors it
/// names are added to `passed`, under the numbers they will have in it.
fn lazy_pages_args(opts: &Options, status: &OwnedFd, passed: &mut PassedFds) -> Result<Vec<String>> {
    let rpc = &opts.rpc;
    let mut args = vec!["lazy-pages".to_owned()];
    let mut dir = |flag: &str, fd: Option<i32>, path: Option<&str>, args: &mut Vec<String>| match (
        fd.filter(|fd| *fd >= 0),
        path,
    ) {
        (Some(fd), _) => {
            let number = passed.pass(fd);
            args.extend([flag.to_owned(), format!("/proc/self/fd/{number}")]);
        }
        (None, Some(path)) => args.extend([flag.to_owned(), path.to_owned()]),
        (None, None) => {}
    };
    dir("--images-dir", Some(rpc.images_dir_fd), rpc.images_dir.as_deref(), &mut args);
    if args.len() == 1 {
        return Err(Error::InvalidArgument("the lazy-pages daemon needs an images directory".into()));
    }
    dir("--work-dir", rpc.work_dir_fd, None, &mut args);
    if let Some(config) = &rpc.config_file {
        args.extend(["--config".to_owned(), config.clone()]);
    }
    if let Some(log) = &rpc.log_file {
        args.extend(["--log-file".to_owned(), log.clone()]);
    }
    if let Some(level) = rpc.log_level {
        args.push(format!("-v{}", level.clamp(0, 4)));
    }
    if let Some(ps) = &rpc.ps {
        args.push("--page-server".to_owned());
        if let Some(address) = &ps.address {
            args.extend(["--address".to_owned(), address.clone()]);
        }
        if let Some(port) = ps.port {
            args.extend(["--port".to_owned(), port.to_string()]);
        }
    }
    if rpc.tls == Some(true) {
        args.push("--tls".to_owned());
    }
    if rpc.tls_no_cn_verify == Some(true) {
        args.push("--tls-no-cn-verify".to_owned());
    }
    for (flag, value) in [
        ("--tls-cacert", &rpc.tls_cacert),
        ("--tls-cacrl", &rpc.tls_cacrl),
        ("--tls-cert", &rpc.tls_cert),
        ("--tls-key", &rpc.tls_key),
    ] {
        if let Some(value) = value {
            args.extend([flag.to_owned(), value.clone()]);
        }
    }
    args.extend(["--status-fd".to_owned(), passed.pass(status.as_raw_fd()).to_string()]);
    Ok(args)
}

/// Wait for the daemon's status byte: true when it came, false when the
/// pipe closed without it (the daemon exited).
fn wait_ready(ready: OwnedFd, timeout: Option<Duration>) -> Result<bool> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let polled = poll_by(&mut [wants_input(ready.as_raw_fd())], deadline, None)
        .map_err(|e| Error::comm("wait for criu lazy-pages", e))?;
    if polled == Polled::TimedOut {
        return Err(Error::Comm {
            errno: libc::ETIMEDOUT,
            what: format!("criu lazy-pages not ready within {} ms", timeout.unwrap_or_default().as_millis()),
        });
    }
    let mut byte = [0u8; 1];
    let mut file = std::fs::File::from(ready);
    loop {
        match file.read(&mut byte) {
            Ok(n) => return Ok(n == 1),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::Comm {
                    errno: e.raw_os_error().unwrap_or(libc::EIO),
                    what: format!("read the status of criu lazy-pages: {e}"),
                })
            }
        }
    }
}
