//! Reaching criu and exchanging messages with it, and the processes the
//! library starts.
//!
//! One [`Connection`] carries one request (or one pre-dump iteration series,
//! or a kept-open session): criu started as `criu swrk <fd>` on a
//! SOCK_SEQPACKET socket pair, a connection to a `criu service` socket, or a
//! socket the caller handed in. Each message is one packet holding one
//! protobuf message.
//!
//! Every process the library starts as its own child (`criu swrk`, the
//! `criu lazy-pages` daemon) is a [`Child`], started by [`Child::spawn`] and
//! reaped by it: nothing the library starts is left behind as a zombie.
//!
//! Two promises rest on how a child is started:
//!
//! * A daemon, or a criu whose daemons outlive the call (page servers,
//!   sessions), gets only stdio and the descriptors its request names
//!   ([`ChildFds::Only`]): a caller's pipe left inheritable must not stay
//!   open in a process that runs on after the call, or the caller's reader
//!   never sees end-of-file. A criu for one request inherits as upstream's
//!   does ([`ChildFds::Inherited`]), since the caller's inherited files must
//!   reach it.
//! * A criu that dies without answering fails the call at once: the library
//!   waits for its exit (a pidfd) together with its socket, because the
//!   socket alone may never reach end-of-file (a helper criu forked holds
//!   it). criu starts in a process group of its own, so what it left behind
//!   is ended with it; the restored tree never is (see [`Launch`]).

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use prost::Message;

use crate::error::{Error, Result};
use crate::rpc::{CriuReq, CriuResp};

/// How the library reaches criu (the options hold one; `Options::service`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    /// Start `<binary> swrk <fd>` for each request (the default), with the
    /// binary looked up in PATH when it has no slash.
    Binary(PathBuf),
    /// Connect to a `criu service` listening on this unix socket path.
    Socket(PathBuf),
    /// Use this already connected socket; it is closed after one request,
    /// as upstream libcriu does.
    Fd(RawFd),
}

/// The largest response accepted from criu. Real ones are a few hundred
/// bytes; the bound keeps a broken or hostile peer from making us allocate
/// without limit.
pub(crate) const MAX_RESPONSE_SIZE: usize = 1 << 20;

/// How a criu the library starts for a connection is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Launch {
    /// For one request: it inherits what the caller left inheritable (and
    /// the request's inherit-fd entries), in a process group of its own.
    ///
    /// A restored tree never stays in that group: criu moves every restored
    /// task into the process group its images name, except for a shell job,
    /// whose tree joins criu's own group (see [`Launch::ShellJobRestore`]).
    Request,
    /// A shell job's restore: as [`Launch::Request`], but in the caller's
    /// process group, which criu hands on to the restored tree (as upstream
    /// does, so the tree is a job of the caller's terminal). What criu
    /// leaves behind when it dies is then not ended.
    ShellJobRestore,
    /// Outside the caller's process tree, which a dump of the caller itself
    /// needs (criu must not be part of the tree it dumps).
    Detached,
    /// For requests whose criu, or what it starts, outlives the call (page
    /// servers, a connection kept open): it gets only stdio and its socket.
    Daemon,
}

impl Launch {
    /// The launch of a restore with these options.
    pub fn restore(rpc: &crate::rpc::CriuOpts) -> Launch {
        if rpc.shell_job == Some(true) {
            Launch::ShellJobRestore
        } else {
            Launch::Request
        }
    }
}

/// An open channel to criu for one operation.
pub(crate) struct Connection {
    socket: Option<OwnedFd>,
    /// The criu process we started and must reap; `None` for service sockets,
    /// caller-given fds and detached (self-dump) criu processes.
    child: Option<Child>,
    /// How long one response may take (`None`: as long as criu needs).
    timeout: Option<Duration>,
    /// Set when criu missed the timeout: our child is killed, not awaited.
    abandoned: bool,
    /// The inode of criu's end of the socket, when we made it: whatever
    /// still holds it once criu died unanswered is what criu left behind.
    criu_end: Option<u64>,
}

/// What reaching criu gave: our socket, the criu we started, the inode of
/// its end of the socket.
type Reached = (OwnedFd, Option<Child>, Option<u64>);

/// A response and the descriptor criu attached to it, if any.
pub(crate) struct Received {
    pub response: CriuResp,
    pub fd: Option<OwnedFd>,
}

impl Connection {
    /// Connect as `service` says; a criu we start is placed as `launch`
    /// says. Unless it is a [`Launch::Daemon`], it inherits `keep_fds`
    /// (close-on-exec or not) besides its socket.
    pub fn open(
        service: &Service,
        launch: Launch,
        keep_fds: &[RawFd],
        timeout: Option<Duration>,
    ) -> Result<Connection> {
        let (socket, child, criu_end) = Self::connect(service, launch, keep_fds)?;
        Ok(Connection { socket: Some(socket), child, timeout, abandoned: false, criu_end })
    }

    fn connect(service: &Service, launch: Launch, keep_fds: &[RawFd]) -> Result<Reached> {
        match service {
            Service::Fd(fd) => {
                if *fd < 0 {
                    return Err(Error::connect("service fd", Errno::EBADF));
                }
                // Upstream closes the given socket once the request is done;
                // callers written for it rely on that, so we own it from here.
                // SAFETY: the caller handed this descriptor to the library
                // (set_service_fd) and uses it no further; the options forget
                // it once it is taken (`Service::Fd(-1)`), so it has one owner.
                let socket = unsafe { OwnedFd::from_raw_fd(*fd) };
                Ok((socket, None, None))
            }
            Service::Socket(path) => {
                let socket = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None)
                    .map_err(|e| Error::connect("socket", e))?;
                let addr = UnixAddr::new(path.as_path())
                    .map_err(|e| Error::connect(&format!("service address {}", path.display()), e))?;
                socket::connect(socket.as_raw_fd(), &addr)
                    .map_err(|e| Error::connect(&format!("connect to {}", path.display()), e))?;
                Ok((socket, None, None))
            }
            Service::Binary(binary) => spawn_swrk(binary, launch, keep_fds),
        }
    }

    fn fd(&self) -> RawFd {
        self.socket.as_ref().map_or(-1, |s| s.as_raw_fd())
    }

    /// Send one request.
    pub fn send(&mut self, request: &CriuReq) -> Result<()> {
        let bytes = request.encode_to_vec();
        // MSG_NOSIGNAL: a criu that died must give us an error, not SIGPIPE.
        let sent = match socket::send(self.fd(), &bytes, MsgFlags::MSG_NOSIGNAL) {
            Ok(sent) => sent,
            // The criu we started is gone: end what it left and say how it
            // ended, under the send's own errno (a socket write to a dead
            // peer reads EPIPE to pycriu's callers, not ECONNRESET).
            Err(e @ (Errno::EPIPE | Errno::ECONNRESET)) if self.child.is_some() => {
                return Err(with_errno(self.unanswered(), e));
            }
            Err(e) => return Err(Error::comm("send request", e)),
        };
        if sent != bytes.len() {
            return Err(Error::Comm { errno: libc::EMSGSIZE, what: "request sent in part".into() });
        }
        Ok(())
    }

    /// Wait until a response is ready (or the socket closed), at most the
    /// timeout. A criu we started that exits first fails the wait at once:
    /// helpers it forked may hold its end of the socket, which then never
    /// reaches end-of-file.
    fn wait_readable(&mut self) -> Result<()> {
        let deadline = self.timeout.map(|t| Instant::now() + t);
        // Without a pidfd the child is looked at every tick instead.
        let exit_fd = self.child.as_ref().map(|c| c.exit_fd());
        let tick = matches!(exit_fd, Some(None)).then_some(EXIT_POLL_TICK);
        loop {
            // poll skips a negative descriptor.
            let mut pfds = [wants_input(self.fd()), wants_input(exit_fd.flatten().unwrap_or(-1))];
            let polled = poll_by(&mut pfds, deadline, tick).map_err(|e| Error::comm("wait for response", e))?;
            // A response (or end-of-file) already queued wins over the exit:
            // criu sends its answer before it exits.
            if pfds[0].revents != 0 {
                return Ok(());
            }
            let exited = pfds[1].revents != 0 || (tick.is_some() && self.child.as_ref().is_some_and(Child::has_exited));
            if exited {
                // Without a pidfd, criu may have answered and exited since
                // the poll: what it sent before exiting is queued by now.
                if events_now(self.fd(), libc::POLLIN) != 0 {
                    return Ok(());
                }
                return Err(self.unanswered());
            }
            if polled == Polled::TimedOut {
                self.abandoned = true;
                return Err(Error::Comm {
                    errno: libc::ETIMEDOUT,
                    what: format!("criu did not answer within {} ms", self.timeout.unwrap_or_default().as_millis()),
                });
            }
        }
    }

    /// The error for a request criu will never answer: the socket closed,
    /// or the criu we started exited. That criu is reaped; what it left
    /// behind is ended first: its process group, while the group cannot
    /// have been reused, and whatever still holds criu's end of the socket
    /// (a helper, or a daemon criu forked before it could tell us).
    fn unanswered(&mut self) -> Error {
        let Some(child) = self.child.as_mut() else { return closed_unanswered() };
        // criu closes its socket as it exits: give it a moment to be gone.
        if !child.exits_by(EXIT_GRACE) {
            return closed_unanswered();
        }
        child.kill_group();
        if let Some(inode) = self.criu_end {
            kill_holders(inode);
        }
        match child.wait() {
            Ok(status) => {
                Error::Comm { errno: libc::ECONNRESET, what: format!("criu {} before answering", how_it_ended(status)) }
            }
            Err(_) => closed_unanswered(),
        }
    }

    /// Receive one response, with the descriptor criu may pass along.
    pub fn recv(&mut self) -> Result<Received> {
        match self.recv_packet()? {
            Packet::Answer(bytes, fd) => {
                let response = CriuResp::decode(&bytes[..])
                    .map_err(|e| Error::Comm { errno: libc::EBADMSG, what: format!("undecodable response: {e}") })?;
                Ok(Received { response, fd })
            }
            Packet::Empty => Err(closed_unanswered()),
            // criu is gone: say how it ended.
            Packet::Gone => Err(self.unanswered()),
        }
    }

    /// Receive one datagram as criu sent it, decoded or not, with the
    /// descriptor criu may pass along. A datagram of no bytes and the end of
    /// the connection (criu gone without answering) both read as no bytes;
    /// a criu we started that is gone is still reaped, and what it left
    /// behind ended, as [`Connection::recv`] does.
    pub fn recv_bytes(&mut self) -> Result<(Vec<u8>, Option<OwnedFd>)> {
        match self.recv_packet()? {
            Packet::Answer(bytes, fd) => Ok((bytes, fd)),
            Packet::Empty => Ok((Vec::new(), None)),
            Packet::Gone => {
                if self.child.is_some() {
                    // Only its clean-up is wanted: the caller judges the silence.
                    let _ = self.unanswered();
                }
                Ok((Vec::new(), None))
            }
        }
    }

    /// Wait for and read one datagram.
    fn recv_packet(&mut self) -> Result<Packet> {
        self.wait_readable()?;
        let fd = self.fd();
        // Learn the packet's size first, so the buffer fits it exactly.
        let size = match retry_eintr(|| socket::recv(fd, &mut [], MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC)) {
            Ok(size) => size,
            Err(Errno::ECONNRESET) if self.child.is_some() => return Ok(Packet::Gone),
            Err(e) => return Err(Error::comm("receive response", e)),
        };
        if size == 0 {
            // End-of-file (criu is gone), or an empty packet from a criu
            // still running.
            let hung_up = events_now(fd, libc::POLLRDHUP) & (libc::POLLHUP | libc::POLLRDHUP) != 0;
            // Consume the empty packet so nothing lingers.
            let _ = socket::recv(fd, &mut [0u8; 1], MsgFlags::MSG_DONTWAIT);
            return Ok(if hung_up { Packet::Gone } else { Packet::Empty });
        }
        if size > MAX_RESPONSE_SIZE {
            let _ = socket::recv(fd, &mut [0u8; 1], MsgFlags::MSG_TRUNC);
            return Err(Error::Comm {
                errno: libc::EMSGSIZE,
                what: format!("response of {size} bytes exceeds the {MAX_RESPONSE_SIZE}-byte limit"),
            });
        }
        let mut buf = vec![0u8; size];
        let (len, truncated, fds) = recv_with_fds(fd, &mut buf)?;
        if truncated || fds.len() > 1 {
            // criu passes at most one descriptor; more is a broken peer (and
            // upstream's ENFILE). Every one that arrived is closed with `fds`.
            return Err(Error::Comm {
                errno: libc::ENFILE,
                what: format!("criu passed {} descriptors, expected at most one", fds.len()),
            });
        }
        buf.truncate(len);
        Ok(Packet::Answer(buf, fds.into_iter().next()))
    }
}

/// One read from criu's socket.
enum Packet {
    /// A datagram with bytes, and the descriptor criu may have passed.
    Answer(Vec<u8>, Option<OwnedFd>),
    /// A datagram of no bytes from a criu still there.
    Empty,
    /// The end of the connection: criu is gone without answering.
    Gone,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Closing first lets a criu still waiting for more requests exit.
        self.socket.take();
        if let Some(mut child) = self.child.take() {
            if !self.abandoned {
                if let Some(timeout) = self.timeout {
                    // With a bound set, a criu that answered but does not exit
                    // gets that long to do so, too.
                    self.abandoned = !child.exits_within(timeout);
                }
            }
            if self.abandoned {
                // A criu that missed the deadline may never exit by itself;
                // what it started in its group goes with it.
                child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// `error` (a communication error) under `errno` instead of its own.
fn with_errno(error: Error, errno: Errno) -> Error {
    match error {
        Error::Comm { what, .. } => Error::Comm { errno: errno as i32, what },
        other => other,
    }
}

fn closed_unanswered() -> Error {
    Error::Comm { errno: libc::ECONNRESET, what: "criu closed the connection without answering".into() }
}

/// How often a child without a pidfd (kernels before 5.3) is looked at
/// while its answer is awaited.
const EXIT_POLL_TICK: Duration = Duration::from_millis(50);

/// How long a criu that closed its socket without answering gets to exit
/// before the call gives up on learning how it ended.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// The caller's descriptors a child is given.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChildFds<'a> {
    /// Whatever the caller left inheritable, and these (close-on-exec or
    /// not) under their own numbers.
    Inherited(&'a [RawFd]),
    /// stdio and these, numbered from [`FIRST_PASSED_FD`] in the order
    /// given (see [`PassedFds`]), and nothing else.
    Only(&'a [RawFd]),
}

/// The number the first descriptor of [`ChildFds::Only`] gets in the child.
pub(crate) const FIRST_PASSED_FD: RawFd = 3;

/// The descriptors for [`ChildFds::Only`], collected with the numbers they
/// will have in the child (for its command line).
#[derive(Debug, Default)]
pub(crate) struct PassedFds(Vec<RawFd>);

impl PassedFds {
    /// Pass `fd` (once, however often it is named): its number in the child.
    pub fn pass(&mut self, fd: RawFd) -> RawFd {
        let index = self.0.iter().position(|f| *f == fd).unwrap_or_else(|| {
            self.0.push(fd);
            self.0.len() - 1
        });
        FIRST_PASSED_FD + index as RawFd
    }

    pub fn fds(&self) -> &[RawFd] {
        &self.0
    }
}

/// A process the library started as its child. It is reaped exactly once:
/// by [`Child::wait`], or, when dropped still running, killed and reaped.
#[derive(Debug)]
pub(crate) struct Child {
    pid: Pid,
    /// The exit status once reaped (raw, as `waitpid` gives it).
    status: Option<i32>,
    /// Readable once the process exited (`None` where the kernel has no
    /// pidfd_open).
    pidfd: Option<OwnedFd>,
    /// Whether it leads a process group of its own (its pid is the group's).
    own_group: bool,
}

impl Child {
    /// Start `program` (looked up in PATH without a slash) with `args` and
    /// the descriptors `fds` says, in a process group of its own when
    /// `own_group` is set.
    pub fn spawn(program: &Path, args: &[&str], fds: ChildFds, own_group: bool) -> Result<Child> {
        let program = cstring(program.as_os_str().as_bytes(), "program")?;
        let args = args.iter().map(|a| cstring(a.as_bytes(), "argument")).collect::<Result<Vec<_>>>()?;
        let mut argv: Vec<*const libc::c_char> =
            std::iter::once(program.as_ptr()).chain(args.iter().map(|a| a.as_ptr())).collect();
        argv.push(std::ptr::null());
        let pid = posix_spawn(&program, &argv, fds, own_group)?;
        // The child is ours and not reaped yet, so its pid cannot have been
        // reused: the pidfd names it.
        // SAFETY: pidfd_open takes plain integers and touches no memory of
        // ours.
        let pidfd = match unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) } {
            // SAFETY: a descriptor pidfd_open returns is new, so OwnedFd is
            // its one owner.
            fd if fd >= 0 => Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
            _ => None,
        };
        Ok(Child { pid, status: None, pidfd, own_group })
    }

    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// A descriptor that polls readable once the process exited, if the
    /// kernel gives one.
    fn exit_fd(&self) -> Option<RawFd> {
        self.pidfd.as_ref().map(|fd| fd.as_raw_fd())
    }

    /// Whether the process exited (or was reaped), without reaping it.
    fn has_exited(&self) -> bool {
        if self.status.is_some() {
            return true;
        }
        // SAFETY: siginfo_t is plain data, valid all-zero.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        // SAFETY: waitid writes only into `info`, which lives across the call.
        match unsafe { libc::waitid(libc::P_PID, self.pid.as_raw() as libc::id_t, &mut info, flags) } {
            // SAFETY: si_pid reads the field waitid filled (zero when nothing
            // exited).
            0 => (unsafe { info.si_pid() }) != 0,
            // Not ours to wait for any more: it is gone as far as we can tell.
            _ => Errno::last() != Errno::EINTR,
        }
    }

    /// Whether the process exits within `timeout`, without reaping it.
    fn exits_by(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.has_exited() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            // Without a pidfd the process is looked at every few ms (poll
            // skips the negative descriptor and only waits).
            let exit_fd = self.exit_fd();
            let mut fds = [wants_input(exit_fd.unwrap_or(-1))];
            let _ = poll_by(&mut fds, Some(deadline), exit_fd.is_none().then_some(Duration::from_millis(5)));
        }
    }

    /// Wait until the process exits; its raw wait status.
    pub fn wait(&mut self) -> Result<i32> {
        loop {
            if let Some(status) = self.reap(0)? {
                return Ok(status);
            }
        }
    }

    /// The raw wait status if the process has exited (reaping it), else `None`.
    pub fn try_wait(&mut self) -> Result<Option<i32>> {
        self.reap(libc::WNOHANG)
    }

    /// One `waitpid` with `flags`: the status once reaped (kept for later
    /// calls), `None` while it runs or when a signal interrupted the wait.
    fn reap(&mut self, flags: libc::c_int) -> Result<Option<i32>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let mut status = 0;
        // SAFETY: waitpid only writes the status into `status`, a live local.
        match unsafe { libc::waitpid(self.pid.as_raw(), &mut status, flags) } {
            0 => Ok(None),
            n if n > 0 => {
                self.status = Some(status);
                Ok(Some(status))
            }
            _ => match Errno::last() {
                Errno::EINTR => Ok(None),
                e => {
                    // Not ours any more (someone else reaped it): nothing
                    // left to wait for.
                    self.status = Some(-1);
                    Err(Error::comm(&format!("wait for process {}", self.pid), e))
                }
            },
        }
    }

    /// Whether the process exits (and is reaped) within `timeout`.
    pub fn exits_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if !matches!(self.try_wait(), Ok(None)) {
                // Reaped, or not ours to wait for any more.
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGKILL the process, and with it its process group when it leads
    /// one, unless it has been reaped already (its pid may then belong to
    /// someone else).
    pub fn kill(&self) {
        if self.status.is_none() {
            self.kill_group();
            let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
        }
    }

    /// SIGKILL what is left in the process group the process leads (the
    /// helpers a criu that died forked), unless it was reaped: while it is
    /// not, the group cannot have been reused.
    fn kill_group(&self) {
        if self.own_group && self.status.is_none() {
            let _ = nix::sys::signal::killpg(self.pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// The processes (other than the caller) holding the socket with this
/// inode, as /proc shows it.
pub(crate) fn socket_holders(inode: u64) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(procs) = std::fs::read_dir("/proc") else { return Vec::new() };
    procs
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me && holds_socket(*pid, inode))
        .collect()
}

fn holds_socket(pid: i32, inode: u64) -> bool {
    let target = std::ffi::OsString::from(format!("socket:[{inode}]"));
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target))
}

/// SIGKILL every process holding criu's end of a socket whose criu died
/// without answering: what it forked, or a page server it started before
/// it could say so; nobody else knows them. A restored tree holds none of
/// criu's descriptors, so it is never among them. Each is pinned by a
/// pidfd and looked at again before the signal, so a pid reused meanwhile
/// is left alone.
fn kill_holders(inode: u64) {
    for pid in socket_holders(inode) {
        // SAFETY: pidfd_open takes plain integers and touches no memory of ours.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if pidfd < 0 {
            // No pidfd (before Linux 5.3): the pid was just seen holding it.
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            continue;
        }
        // SAFETY: the descriptor pidfd_open just returned is new and ours alone.
        let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
        if holds_socket(pid, inode) {
            // SAFETY: pidfd_send_signal with a pidfd we own and no siginfo
            // (a null pointer), touching no memory of ours.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    pidfd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
        }
    }
}

/// How a process with the raw wait status `status` ended, for messages:
/// "exited with status 1", "was killed by signal 9 (SIGKILL)".
pub(crate) fn how_it_ended(status: i32) -> String {
    if status == -1 {
        "ended (reaped elsewhere)".to_owned()
    } else if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        match nix::sys::signal::Signal::try_from(signal) {
            Ok(name) => format!("was killed by signal {signal} ({name})"),
            Err(_) => format!("was killed by signal {signal}"),
        }
    } else {
        format!("exited with status {}", libc::WEXITSTATUS(status))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() {
            self.kill();
            let _ = self.wait();
        }
    }
}

/// How a [`poll_by`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Polled {
    /// Some descriptor has events; their `revents` say which.
    Ready,
    /// The tick passed with nothing ready, the deadline not yet.
    Tick,
    /// The deadline passed with nothing ready.
    TimedOut,
}

/// A poll entry asking whether `fd` can be read (data, or its end).
pub(crate) fn wants_input(fd: RawFd) -> libc::pollfd {
    libc::pollfd { fd, events: libc::POLLIN, revents: 0 }
}

/// The events of `events` that `fd` has now, without waiting (0 if none,
/// or if poll fails).
fn events_now(fd: RawFd, events: libc::c_short) -> libc::c_short {
    let mut fds = [libc::pollfd { fd, events, revents: 0 }];
    match poll_by(&mut fds, Some(Instant::now()), None) {
        Ok(Polled::Ready) => fds[0].revents,
        _ => 0,
    }
}

/// Poll `fds` until one has events, `deadline` passes or `tick` has
/// elapsed, whichever comes first (`None`: no such bound); a signal's
/// interruption restarts the poll for the time left. Every wait of the
/// library for a peer with a time bound (criu's answer, a daemon's status
/// byte) is this one; the tick lets a caller look at what no descriptor
/// reports (a child without a pidfd) between polls.
pub(crate) fn poll_by(
    fds: &mut [libc::pollfd],
    deadline: Option<Instant>,
    tick: Option<Duration>,
) -> nix::Result<Polled> {
    let tick_end = tick.map(|t| Instant::now() + t);
    loop {
        let now = Instant::now();
        let wait = match (deadline, tick_end) {
            (Some(d), Some(t)) => Some(d.min(t)),
            (d, t) => d.or(t),
        }
        .map(|end| end.saturating_duration_since(now));
        let ms = wait.map_or(-1, |w| w.as_millis().min(i32::MAX as u128) as i32);
        // SAFETY: `fds` is a live slice of pollfds, its length the count.
        match unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) } {
            n if n > 0 => return Ok(Polled::Ready),
            0 => {}
            _ => match Errno::last() {
                Errno::EINTR => continue,
                e => return Err(e),
            },
        }
        // Milliseconds round down: a poll may end just before its bound.
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Ok(Polled::TimedOut);
        }
        if tick_end.is_some_and(|t| now >= t) {
            return Ok(Polled::Tick);
        }
    }
}

/// Room for this many descriptors in one response; criu sends at most one.
const MAX_FDS: usize = 8;

/// recvmsg one packet into `buf`, taking ownership of every descriptor that
/// came with it: the length, whether the control data was cut off, the fds.
fn recv_with_fds(fd: RawFd, buf: &mut [u8]) -> Result<(usize, bool, Vec<OwnedFd>)> {
    // SAFETY: CMSG_SPACE is arithmetic on its argument, touching no memory.
    let space = unsafe { libc::CMSG_SPACE((MAX_FDS * std::mem::size_of::<RawFd>()) as u32) } as usize;
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: msghdr is plain data, for which all-zero bytes are valid (null
    // pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space;
    let len = loop {
        // SAFETY: `msg` points at `iov` (over `buf`) and `control`, both alive
        // and as large as the lengths it gives; the kernel writes only there.
        let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n as usize;
        }
        match Errno::last() {
            Errno::EINTR => continue,
            e => return Err(Error::comm("receive response", e)),
        }
    };
    let mut fds = Vec::new();
    // SAFETY: the CMSG_* walk stays within msg_controllen as the kernel set
    // it; each SCM_RIGHTS descriptor is new in this process (the kernel
    // installed it for this message), so OwnedFd becomes its one owner.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg) as *const RawFd;
                let count = ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((len, msg.msg_flags & libc::MSG_CTRUNC != 0, fds))
}

fn retry_eintr<T>(mut f: impl FnMut() -> nix::Result<T>) -> nix::Result<T> {
    loop {
        match f() {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

fn cstring(bytes: &[u8], what: &str) -> Result<CString> {
    CString::new(bytes).map_err(|_| Error::InvalidArgument(format!("{what} contains a NUL byte")))
}

/// Start `<binary> swrk <fd>`, placed as `launch` says.
fn spawn_swrk(binary: &Path, launch: Launch, keep_fds: &[RawFd]) -> Result<Reached> {
    let (ours, theirs) = socket::socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|e| Error::connect("socketpair", e))?;
    let mut keep: Vec<RawFd> = keep_fds.iter().copied().filter(|fd| *fd >= 0).collect();
    keep.push(theirs.as_raw_fd());
    let child = match launch {
        Launch::Detached => {
            let program = cstring(binary.as_os_str().as_bytes(), "service binary")?;
            let fd_arg = cstring(theirs.as_raw_fd().to_string().as_bytes(), "fd")?;
            let argv = [program.as_ptr(), c"swrk".as_ptr(), fd_arg.as_ptr(), std::ptr::null()];
            spawn_detached(&program, &argv, &keep)?;
            None
        }
        Launch::Daemon => {
            let mut passed = PassedFds::default();
            let fd_arg = passed.pass(theirs.as_raw_fd()).to_string();
            Some(Child::spawn(binary, &["swrk", &fd_arg], ChildFds::Only(passed.fds()), true)?)
        }
        Launch::Request | Launch::ShellJobRestore => {
            let fd_arg = theirs.as_raw_fd().to_string();
            let own_group = launch == Launch::Request;
            Some(Child::spawn(binary, &["swrk", &fd_arg], ChildFds::Inherited(&keep), own_group)?)
        }
    };
    let criu_end = nix::sys::stat::fstat(theirs.as_raw_fd()).ok().map(|st| st.st_ino);
    drop(theirs);
    Ok((ours, child, criu_end))
}

/// posix_spawn does not copy the caller's address space (glibc uses
/// CLONE_VM|CLONE_VFORK), so starting criu costs the same from a 4 GiB caller
/// as from a small one.
fn posix_spawn(program: &CString, argv: &[*const libc::c_char], fds: ChildFds, own_group: bool) -> Result<Pid> {
    // ChildFds::Only: copies of the passed descriptors, above every number
    // they go to, so no dup2 in the child overwrites one not yet moved.
    let copies = match fds {
        ChildFds::Only(passed) => passed
            .iter()
            .map(|fd| {
                let lowest = FIRST_PASSED_FD + passed.len() as RawFd;
                // SAFETY: F_DUPFD_CLOEXEC touches no memory of ours.
                match unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, lowest) } {
                    // SAFETY: the copy F_DUPFD_CLOEXEC returned is new, so
                    // OwnedFd is its one owner.
                    n if n >= 0 => Ok(unsafe { OwnedFd::from_raw_fd(n) }),
                    _ => Err(Error::connect(&format!("pass descriptor {fd}"), Errno::last())),
                }
            })
            .collect::<Result<Vec<_>>>()?,
        ChildFds::Inherited(_) => Vec::new(),
    };
    // SAFETY: the file actions and attributes are initialized before use and
    // destroyed once on every path; `program` and `argv` are NUL-terminated
    // (argv ends with a null pointer) and outlive the call, which copies them.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        check_spawn(libc::posix_spawn_file_actions_init(&mut actions), "spawn file actions")?;
        if let Err(e) = check_spawn(libc::posix_spawnattr_init(&mut attr), "spawn attributes") {
            libc::posix_spawn_file_actions_destroy(&mut actions);
            return Err(e);
        }
        let result = (|| {
            match fds {
                // dup2 onto itself clears FD_CLOEXEC in the child only, so these
                // reach criu without ever being inheritable here.
                ChildFds::Inherited(keep) => {
                    for fd in keep {
                        check_spawn(libc::posix_spawn_file_actions_adddup2(&mut actions, *fd, *fd), "dup2")?;
                    }
                }
                ChildFds::Only(_) => {
                    for (number, copy) in (FIRST_PASSED_FD..).zip(&copies) {
                        check_spawn(
                            libc::posix_spawn_file_actions_adddup2(&mut actions, copy.as_raw_fd(), number),
                            "dup2",
                        )?;
                    }
                    close_from(&mut actions, FIRST_PASSED_FD + copies.len() as RawFd)?;
                }
            }
            // criu needs SIGCHLD delivered and handled by default, whatever
            // the caller blocked or ignored.
            let mut mask: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut mask);
            libc::sigdelset(&mut mask, libc::SIGCHLD);
            check_spawn(libc::posix_spawnattr_setsigmask(&mut attr, &mask), "sigmask")?;
            let mut default: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut default);
            libc::sigaddset(&mut default, libc::SIGCHLD);
            check_spawn(libc::posix_spawnattr_setsigdefault(&mut attr, &default), "sigdefault")?;
            let mut flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
            if own_group {
                // Group 0: the child's own pid.
                check_spawn(libc::posix_spawnattr_setpgroup(&mut attr, 0), "process group")?;
                flags |= libc::POSIX_SPAWN_SETPGROUP;
            }
            let flags = flags as libc::c_short;
            check_spawn(libc::posix_spawnattr_setflags(&mut attr, flags), "spawn flags")?;
            let mut pid: libc::pid_t = 0;
            let rc = libc::posix_spawnp(
                &mut pid,
                program.as_ptr(),
                &actions,
                &attr,
                argv.as_ptr() as *const *mut libc::c_char,
                environ(),
            );
            if rc != 0 {
                let name = OsStr::from_bytes(program.as_bytes()).to_string_lossy();
                return Err(Error::connect(&format!("start {name}"), Errno::from_raw(rc)));
            }
            Ok(Pid::from_raw(pid))
        })();
        libc::posix_spawnattr_destroy(&mut attr);
        libc::posix_spawn_file_actions_destroy(&mut actions);
        result
    }
}

/// Have the child close every descriptor from `lowest` on before exec.
///
/// glibc 2.34 and later do it in one step (close_range in the child). The
/// function is looked up when first needed, so the library still loads on
/// an older glibc (the Python wheel targets glibc 2.17); there, each
/// descriptor open now is closed one by one, which misses one another
/// thread opens without close-on-exec between this listing and the spawn.
///
/// # Safety
/// `actions` must have been initialized with posix_spawn_file_actions_init.
unsafe fn close_from(actions: &mut libc::posix_spawn_file_actions_t, lowest: RawFd) -> Result<()> {
    type AddCloseFrom = unsafe extern "C" fn(*mut libc::posix_spawn_file_actions_t, libc::c_int) -> libc::c_int;
    static ADD_CLOSE_FROM: once_cell::sync::OnceCell<Option<AddCloseFrom>> = once_cell::sync::OnceCell::new();
    let add_close_from = ADD_CLOSE_FROM.get_or_init(|| {
        // SAFETY: dlsym with a NUL-terminated name reads only that name.
        let symbol = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"posix_spawn_file_actions_addclosefrom_np".as_ptr()) };
        // SAFETY: a non-null result is glibc's function of exactly this
        // signature.
        (!symbol.is_null()).then(|| unsafe { std::mem::transmute::<*mut libc::c_void, AddCloseFrom>(symbol) })
    });
    if let Some(add_close_from) = add_close_from {
        // SAFETY: `actions` is initialized (the caller's contract).
        return check_spawn(unsafe { add_close_from(actions, lowest) }, "close descriptors");
    }
    let open = std::fs::read_dir("/proc/self/fd").map_err(|e| Error::Connect {
        errno: e.raw_os_error().unwrap_or(libc::EIO),
        what: format!("list open descriptors: {e}"),
    })?;
    for fd in open.flatten().filter_map(|entry| entry.file_name().to_str()?.parse::<RawFd>().ok()) {
        if fd >= lowest {
            // SAFETY: `actions` is initialized (the caller's contract).
            check_spawn(unsafe { libc::posix_spawn_file_actions_addclose(actions, fd) }, "close descriptors")?;
        }
    }
    Ok(())
}

fn check_spawn(rc: libc::c_int, what: &str) -> Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::connect(what, Errno::from_raw(rc)))
    }
}

fn environ() -> *const *mut libc::c_char {
    extern "C" {
        static environ: *const *mut libc::c_char;
    }
    // SAFETY: reading the pointer libc keeps for the process environment;
    // posix_spawnp only reads the array behind it.
    unsafe { environ }
}

/// Start criu as a grandchild in a session of its own, so that it is not
/// part of the caller's process tree (needed when the caller dumps itself).
/// Only the short-lived middle process is our child, and it is reaped here.
fn spawn_detached(program: &CString, argv: &[*const libc::c_char; 4], keep_fds: &[RawFd]) -> Result<()> {
    // Everything the children need is prepared before fork: after fork only
    // async-signal-safe calls are made.
    let root = c"/";
    // SAFETY: the child runs only async-signal-safe calls on data prepared
    // before the fork, then execs or _exits, so the parent's locks and
    // allocator state (possibly mid-use in other threads) are never touched.
    let middle = unsafe { libc::fork() };
    if middle < 0 {
        return Err(Error::connect("fork", Errno::last()));
    }
    if middle == 0 {
        // SAFETY: as for the fork above: async-signal-safe calls only, ending
        // in execvp or _exit.
        unsafe {
            let mut mask: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut mask);
            libc::sigaddset(&mut mask, libc::SIGCHLD);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &mask, std::ptr::null_mut());
            libc::signal(libc::SIGCHLD, libc::SIG_DFL);
            libc::setsid();
            match libc::fork() {
                0 => {
                    libc::chdir(root.as_ptr());
                    for fd in keep_fds {
                        let flags = libc::fcntl(*fd, libc::F_GETFD);
                        libc::fcntl(*fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
                    }
                    libc::execvp(program.as_ptr(), argv.as_ptr());
                    libc::_exit(127);
                }
                -1 => libc::_exit(1),
                _ => libc::_exit(0),
            }
        }
    }
    let status = retry_eintr(|| waitpid(Pid::from_raw(middle), None))
        .map_err(|e| Error::connect("wait for the detaching process", e))?;
    match status {
        nix::sys::wait::WaitStatus::Exited(_, 0) => Ok(()),
        _ => Err(Error::connect("detach criu", Errno::EAGAIN)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_by_says_which_bound_ended_the_wait() {
        let (read, write) = nix::unistd::pipe().unwrap();
        let soon = Some(Instant::now() + Duration::from_millis(1));
        let mut fds = [wants_input(read.as_raw_fd())];
        assert_eq!(poll_by(&mut fds, soon, None).unwrap(), Polled::TimedOut);
        assert_eq!(poll_by(&mut fds, None, Some(Duration::from_millis(1))).unwrap(), Polled::Tick);
        nix::unistd::write(&write, b"x").unwrap();
        // A negative descriptor is skipped: only the pipe is reported.
        let mut fds = [wants_input(-1), wants_input(read.as_raw_fd())];
        assert_eq!(poll_by(&mut fds, None, None).unwrap(), Polled::Ready);
        assert_eq!((fds[0].revents, fds[1].revents & libc::POLLIN), (0, libc::POLLIN));
    }
}
