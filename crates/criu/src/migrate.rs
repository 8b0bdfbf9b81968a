//! Moving a process tree to another host: the page server, lazy pages, the
//! CPU check, and waiting for what criu started on the caller's behalf.
//!
//! A migration through the library, as criu does it:
//!
//! * destination: [`start_page_server`] (criu forks a page server daemon and
//!   answers with its pid and port; port 0 lets the kernel choose), or
//!   [`Session::page_server_chld`] for a page server that stays criu's child
//!   so that [`Session::wait_pid`] can report how it ended;
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
//! lazy-pages daemon with [`start_lazy_pages`] (criu has no request for it,
//! so the library starts `criu lazy-pages` itself, and returns once it is
//! ready) and restores with lazy pages on: the tree runs at once, and pages
//! arrive as it touches them.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::criu_log;
use crate::error::{Error, Result};
use crate::ops::{call, connect, exchange, exchange_bytes, missing, no_hook, request};
use crate::options::{Options, Service, DEFAULT_SERVICE_BINARY};
use crate::rpc::{CriuReq, CriuReqType, CriuResp};
use crate::service::{how_it_ended, socket_holders, Child, ChildFds, Connection, Launch, PassedFds};

/// A page server criu started: its pid and the TCP port it listens on (the
/// one the kernel chose when port 0 was asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageServer {
    pub pid: i32,
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
/// returns, serves one dump and exits. It is not the caller's child: criu
/// detaches it (to wait for it, use [`Session::page_server_chld`]). criu
/// does not report the daemon's pid; the library finds it by the port it
/// listens on (pid 0 if that fails, e.g. criu listens in another network
/// namespace than the calling thread's).
pub fn start_page_server(opts: &mut Options) -> Result<PageServer> {
    // criu forks the daemon: it gets only what this criu has.
    daemon_page_server(call(opts, request(CriuReqType::PageServer, Some(opts.rpc.clone())), Launch::Daemon)?)
}

fn daemon_page_server(resp: CriuResp) -> Result<PageServer> {
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

/// A connection to criu kept open between requests (the request's
/// `keep_open`), for what only the same criu can do: criu can wait only for
/// its own children, so [`Session::wait_pid`] must reach the criu that
/// started the page server of [`Session::page_server_chld`].
///
/// criu keeps a connection open only after PAGE_SERVER(_CHLD), CPUINFO_*,
/// FEATURE_CHECK and VERSION requests; it answers WAIT_PID and then exits,
/// so [`Session::wait_pid`] ends the session (a later request opens a new
/// one). Dropping the session kills the page servers it started and never
/// waited for, and reaps the criu it started.
#[derive(Default)]
pub struct Session {
    conn: Option<Connection>,
    /// Page servers started here and not waited for yet.
    unwaited: Vec<i32>,
}

impl Session {
    /// A session; it reaches criu, as the options of its first request say,
    /// when that request is made.
    pub fn new() -> Session {
        Session::default()
    }

    /// Whether a connection to criu is open.
    pub fn is_open(&self) -> bool {
        self.conn.is_some()
    }

    /// One request on the session's connection, opening it if needed.
    fn kept_open(&mut self, opts: &mut Options, kind: CriuReqType) -> Result<CriuResp> {
        let req = CriuReq { keep_open: Some(true), ..request(kind, Some(opts.rpc.clone())) };
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let (service, rpc) = (opts.service.clone(), opts.rpc.clone());
                // The session's criu, and the page servers it starts,
                // outlive the call.
                self.conn.insert(connect(opts, &service, &rpc, Launch::Daemon)?)
            }
        };
        let result = exchange(conn, opts, &req, &mut no_hook);
        if result.is_err() {
            // criu ends the connection after a failed request.
            self.conn = None;
        }
        result
    }

    /// Send `req` as it is on the session's connection and return criu's
    /// answer as it came, whatever its type or success, even undecodable;
    /// notifications on the way go to the options' callback. For clients
    /// that build their requests and judge the answers themselves, as the
    /// pycriu-compatible Python module does: nothing is checked or added on
    /// the way. When no connection is open, one is opened as the options
    /// say (a criu started for a DUMP without a pid is detached, as a dump
    /// of the caller needs; one kept open gets only its socket, as a
    /// daemon; any other gets the descriptors of `inherit_fd`). It
    /// stays open after a request with `keep_open` (criu then waits for
    /// more), and is closed after any other or after a failure.
    pub fn request_bytes(&mut self, opts: &mut Options, req: &CriuReq) -> Result<Vec<u8>> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let rpc = req.opts.clone().unwrap_or_default();
                let launch = if req.r#type == CriuReqType::Dump as i32 && rpc.pid.is_none() {
                    Launch::Detached
                } else if req.keep_open == Some(true) {
                    // A criu kept open, and the page servers it starts,
                    // outlive the call.
                    Launch::Daemon
                } else if req.r#type == CriuReqType::Restore as i32 {
                    Launch::restore(&rpc)
                } else {
                    Launch::Request
                };
                let inherited: Vec<i32> = rpc.inherit_fd.iter().map(|i| i.fd).collect();
                let conn = Connection::open(&opts.service, launch, &inherited, opts.reply_timeout)?;
                if matches!(opts.service, Service::Fd(_)) {
                    // The connection owns the caller's socket now.
                    opts.service = Service::Fd(-1);
                }
                self.conn.insert(conn)
            }
        };
        let result = exchange_bytes(conn, opts, req);
        if result.is_err() || req.keep_open != Some(true) {
            self.conn = None;
        }
        result
    }

    /// Start a page server as a child of the session's criu (criu's
    /// PAGE_SERVER_CHLD request); see [`start_page_server`] for the options.
    /// [`Session::wait_pid`] gives its exit status once it has served its dump.
    pub fn page_server_chld(&mut self, opts: &mut Options) -> Result<PageServer> {
        let server = page_server_of(self.kept_open(opts, CriuReqType::PageServerChld)?)?;
        if server.pid <= 0 {
            return Err(missing("page server pid"));
        }
        self.unwaited.push(server.pid);
        Ok(server)
    }

    /// Start a daemon page server on the session's connection (as
    /// [`start_page_server`] does on a connection of its own).
    pub fn start_page_server(&mut self, opts: &mut Options) -> Result<PageServer> {
        daemon_page_server(self.kept_open(opts, CriuReqType::PageServer)?)
    }

    /// [`cpuinfo_dump`] on the session's connection.
    pub fn cpuinfo_dump(&mut self, opts: &mut Options) -> Result<()> {
        self.kept_open(opts, CriuReqType::CpuinfoDump).map(|_| ())
    }

    /// [`cpuinfo_check`] on the session's connection.
    pub fn cpuinfo_check(&mut self, opts: &mut Options) -> Result<()> {
        self.kept_open(opts, CriuReqType::CpuinfoCheck).map(|_| ())
    }

    /// Wait until process `pid`, which the session's criu started (a page
    /// server of [`Session::page_server_chld`]), exits; its raw wait status
    /// (as `waitpid` gives it: use `WIFEXITED`/`WEXITSTATUS`). criu answers
    /// and exits, so this ends the session.
    pub fn wait_pid(&mut self, pid: i32) -> Result<i32> {
        let Some(mut conn) = self.conn.take() else {
            return Err(Error::InvalidArgument(format!(
                "no session open: criu can wait only for a process (here {pid}) it started in this session"
            )));
        };
        let Ok(wanted) = u32::try_from(pid) else {
            return Err(Error::InvalidArgument(format!("pid {pid} is negative")));
        };
        self.unwaited.retain(|p| *p != pid);
        let req = CriuReq { pid: Some(wanted), ..request(CriuReqType::WaitPid, None) };
        let resp = exchange(&mut conn, &mut Options::new(), &req, &mut no_hook)?;
        resp.status.ok_or_else(|| missing("wait status"))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        // The page servers are criu's children, so their pids cannot have
        // been reused while criu runs: killing them is safe.
        for pid in &self.unwaited {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::Signal::SIGKILL);
        }
        // criu reaps one of them for us; the others go to the init process.
        if let Some(pid) = self.unwaited.first() {
            let req = CriuReq { pid: Some(*pid as u32), ..request(CriuReqType::WaitPid, None) };
            let _ = exchange(&mut conn, &mut Options::new(), &req, &mut no_hook);
        }
    }
}

/// criu's lazy-pages daemon, started by [`start_lazy_pages`] as the
/// caller's child. Dropping it kills it if it still runs, and reaps it.
pub struct LazyPages {
    child: Child,
    /// criu's log, to say why the daemon failed.
    log: Option<PathBuf>,
}

impl std::fmt::Debug for LazyPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyPages").field("pid", &self.child.pid()).field("log", &self.log).finish()
    }
}

/// Start `criu lazy-pages` for a lazy restore from the images directory of
/// `opts`, and return once it is ready to serve (it wrote to its status fd):
/// a restore with [`Options::set_lazy_pages`] and the same images (or work)
/// directory may start at once. With [`Options::set_page_server_address_port`]
/// set, it takes the pages from the page server there (the source's lazy
/// dump); otherwise from the images. The options used: the criu binary,
/// images and work directories, log file and level, page server address and
/// port, TLS settings and config file. Fails, with criu's log's reason when
/// a log file is set, when the daemon exits before it is ready; with the
/// reply timeout set, also when it is not ready in time.
pub fn start_lazy_pages(opts: &Options) -> Result<LazyPages> {
    let binary = match &opts.service {
        Service::Binary(path) => path.clone(),
        _ => PathBuf::from(DEFAULT_SERVICE_BINARY),
    };
    let (ready_r, ready_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::connect("status pipe", e))?;
    let mut passed = PassedFds::default();
    let args = lazy_pages_args(opts, &ready_w, &mut passed)?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // The daemon outlives the call: it gets only what its command line names.
    let child = Child::spawn(&binary, &args, ChildFds::Only(passed.fds()), true)?;
    drop(ready_w);
    let mut daemon = LazyPages { child, log: criu_log::log_path(&opts.rpc) };
    match wait_ready(ready_r, opts.reply_timeout) {
        Ok(true) => Ok(daemon),
        Ok(false) => Err(daemon.failure("exited before it was ready")),
        Err(e) => Err(e),
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
    loop {
        let ms = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).as_millis().min(i32::MAX as u128) as i32,
            None => -1,
        };
        let mut pfd = libc::pollfd { fd: ready.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        match unsafe { libc::poll(&mut pfd, 1, ms) } {
            0 => {
                return Err(Error::Comm {
                    errno: libc::ETIMEDOUT,
                    what: format!("criu lazy-pages not ready within {} ms", timeout.unwrap_or_default().as_millis()),
                })
            }
            n if n > 0 => break,
            _ if nix::errno::Errno::last() == nix::errno::Errno::EINTR => continue,
            _ => return Err(Error::comm("wait for criu lazy-pages", nix::errno::Errno::last())),
        }
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

impl LazyPages {
    /// The daemon's pid (the caller's child; the library reaps it).
    pub fn pid(&self) -> i32 {
        self.child.pid()
    }

    /// Wait until the daemon exits: `Ok` when it served every page and
    /// exited cleanly, else why not.
    pub fn wait(&mut self) -> Result<()> {
        let status = self.child.wait()?;
        self.verdict(status)
    }

    /// The daemon's raw wait status once it was reaped.
    pub fn exit_status(&self) -> Option<i32> {
        self.child.status().filter(|s| *s >= 0)
    }

    /// `None` while the daemon runs; else what [`LazyPages::wait`] returns.
    pub fn try_wait(&mut self) -> Option<Result<()>> {
        match self.child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(self.verdict(status)),
            Err(e) => Some(Err(e)),
        }
    }

    fn verdict(&mut self, status: i32) -> Result<()> {
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            return Ok(());
        }
        Err(self.failure(&how_it_ended(status)))
    }

    /// The error for a daemon that `how` (reaping it first if it exited).
    fn failure(&mut self, how: &str) -> Error {
        let _ = self.child.exits_within(Duration::from_secs(5));
        // The daemon's name stays in the message, with the log's reason.
        let reason = self.log.as_deref().and_then(criu_log::error_summary);
        Error::Rpc {
            cr_errno: None,
            cr_errmsg: Some(match reason {
                Some(reason) => format!("criu lazy-pages {how}: {reason}"),
                None => format!("criu lazy-pages {how}"),
            }),
            log_errors: None,
        }
    }
}
