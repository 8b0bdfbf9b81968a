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

use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
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
}

/// A response and the descriptor criu attached to it, if any.
pub(crate) struct Received {
    pub response: CriuResp,
    pub fd: Option<OwnedFd>,
}

impl Connection {
    /// Connect as `service` says. `detach` asks for a criu that is not our
    /// child, which a dump of the caller's own tree needs (criu must not be
    /// part of the tree it dumps). A criu we start inherits `keep_fds`
    /// (close-on-exec or not) besides its socket.
    pub fn open(service: &Service, detach: bool, keep_fds: &[RawFd], timeout: Option<Duration>) -> Result<Connection> {
        let (socket, child) = Self::connect(service, detach, keep_fds)?;
        Ok(Connection { socket: Some(socket), child, timeout, abandoned: false })
    }

    fn connect(service: &Service, detach: bool, keep_fds: &[RawFd]) -> Result<(OwnedFd, Option<Child>)> {
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
                Ok((socket, None))
            }
            Service::Socket(path) => {
                let socket = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None)
                    .map_err(|e| Error::connect("socket", e))?;
                let addr = UnixAddr::new(path.as_path())
                    .map_err(|e| Error::connect(&format!("service address {}", path.display()), e))?;
                socket::connect(socket.as_raw_fd(), &addr)
                    .map_err(|e| Error::connect(&format!("connect to {}", path.display()), e))?;
                Ok((socket, None))
            }
            Service::Binary(binary) => spawn_swrk(binary, detach, keep_fds),
        }
    }

    fn fd(&self) -> RawFd {
        self.socket.as_ref().map_or(-1, |s| s.as_raw_fd())
    }

    /// Send one request.
    pub fn send(&self, request: &CriuReq) -> Result<()> {
        let bytes = request.encode_to_vec();
        // MSG_NOSIGNAL: a criu that died must give us an error, not SIGPIPE.
        let sent =
            socket::send(self.fd(), &bytes, MsgFlags::MSG_NOSIGNAL).map_err(|e| Error::comm("send request", e))?;
        if sent != bytes.len() {
            return Err(Error::Comm { errno: libc::EMSGSIZE, what: "request sent in part".into() });
        }
        Ok(())
    }

    /// Wait until a response is ready, at most the timeout.
    fn wait_readable(&mut self) -> Result<()> {
        let Some(timeout) = self.timeout else { return Ok(()) };
        let Some(socket) = &self.socket else { return Err(Error::comm("wait for response", Errno::EBADF)) };
        if readable_by(socket.as_fd(), Some(Instant::now() + timeout))
            .map_err(|e| Error::comm("wait for response", e))?
        {
            return Ok(());
        }
        self.abandoned = true;
        Err(Error::Comm {
            errno: libc::ETIMEDOUT,
            what: format!("criu did not answer within {} ms", timeout.as_millis()),
        })
    }

    /// Receive one response, with the descriptor criu may pass along.
    pub fn recv(&mut self) -> Result<Received> {
        let (bytes, fd) = self.recv_bytes()?;
        if bytes.is_empty() {
            return Err(Error::Comm {
                errno: libc::ECONNRESET,
                what: "criu closed the connection without answering".into(),
            });
        }
        let response = CriuResp::decode(&bytes[..])
            .map_err(|e| Error::Comm { errno: libc::EBADMSG, what: format!("undecodable response: {e}") })?;
        Ok(Received { response, fd })
    }

    /// Receive one datagram as criu sent it, decoded or not, with the
    /// descriptor criu may pass along. A datagram of no bytes and the end of
    /// the connection (criu gone without answering) both read as no bytes.
    pub fn recv_bytes(&mut self) -> Result<(Vec<u8>, Option<OwnedFd>)> {
        self.wait_readable()?;
        let fd = self.fd();
        // Learn the packet's size first, so the buffer fits it exactly.
        let size = retry_eintr(|| socket::recv(fd, &mut [], MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC))
            .map_err(|e| Error::comm("receive response", e))?;
        if size == 0 {
            // Consume the empty packet (or see EOF) so nothing lingers.
            let _ = socket::recv(fd, &mut [0u8; 1], MsgFlags::MSG_DONTWAIT);
            return Ok((Vec::new(), None));
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
        Ok((buf, fds.into_iter().next()))
    }
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
                // A criu that missed the deadline may never exit by itself.
                child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// A process the library started as its child. It is reaped exactly once:
/// by [`Child::wait`], or, when dropped still running, killed and reaped.
#[derive(Debug)]
pub(crate) struct Child {
    pid: Pid,
    /// The exit status once reaped (raw, as `waitpid` gives it).
    status: Option<i32>,
}

impl Child {
    /// Start `program` (looked up in PATH without a slash) with `args`,
    /// handing it `keep_fds` (close-on-exec or not) under the same numbers.
    pub fn spawn(program: &Path, args: &[&str], keep_fds: &[RawFd]) -> Result<Child> {
        let program = cstring(program.as_os_str().as_bytes(), "program")?;
        let args = args.iter().map(|a| cstring(a.as_bytes(), "argument")).collect::<Result<Vec<_>>>()?;
        let mut argv: Vec<*const libc::c_char> =
            std::iter::once(program.as_ptr()).chain(args.iter().map(|a| a.as_ptr())).collect();
        argv.push(std::ptr::null());
        let pid = posix_spawn(&program, &argv, keep_fds)?;
        Ok(Child { pid, status: None })
    }

    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
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

    /// SIGKILL the process unless it has been reaped already (its pid may
    /// then belong to someone else).
    pub fn kill(&self) {
        if self.status.is_none() {
            let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
        }
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

/// Wait until `fd` can be read (data, or its end), until `deadline` at the
/// latest (`None`: as long as it takes); false when the deadline came
/// first. Every wait of the library for a peer with a time bound (criu's
/// answer, a daemon's status byte) is this one.
pub(crate) fn readable_by(fd: BorrowedFd<'_>, deadline: Option<Instant>) -> nix::Result<bool> {
    loop {
        let timeout = match deadline {
            Some(at) => PollTimeout::try_from(at.saturating_duration_since(Instant::now())).unwrap_or(PollTimeout::MAX),
            None => PollTimeout::NONE,
        };
        match poll(&mut [PollFd::new(fd, PollFlags::POLLIN)], timeout) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
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

/// Start `<binary> swrk <fd>` and return our end of its socket.
fn spawn_swrk(binary: &Path, detach: bool, keep_fds: &[RawFd]) -> Result<(OwnedFd, Option<Child>)> {
    let (ours, theirs) = socket::socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|e| Error::connect("socketpair", e))?;
    let fd_arg = theirs.as_raw_fd().to_string();
    let mut keep: Vec<RawFd> = keep_fds.iter().copied().filter(|fd| *fd >= 0).collect();
    keep.push(theirs.as_raw_fd());
    let child = if detach {
        let program = cstring(binary.as_os_str().as_bytes(), "service binary")?;
        let fd_arg = cstring(fd_arg.as_bytes(), "fd")?;
        let argv = [program.as_ptr(), c"swrk".as_ptr(), fd_arg.as_ptr(), std::ptr::null()];
        spawn_detached(&program, &argv, &keep)?;
        None
    } else {
        Some(Child::spawn(binary, &["swrk", &fd_arg], &keep)?)
    };
    drop(theirs);
    Ok((ours, child))
}

/// posix_spawn does not copy the caller's address space (glibc uses
/// CLONE_VM|CLONE_VFORK), so starting criu costs the same from a 4 GiB caller
/// as from a small one.
fn posix_spawn(program: &CString, argv: &[*const libc::c_char], keep_fds: &[RawFd]) -> Result<Pid> {
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
            // dup2 onto itself clears FD_CLOEXEC in the child only, so these
            // reach criu without ever being inheritable here.
            for fd in keep_fds {
                check_spawn(libc::posix_spawn_file_actions_adddup2(&mut actions, *fd, *fd), "dup2")?;
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
            let flags = (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short;
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
