//! `Criu`: rust-criu's client object, each call translated into the core's
//! [`criu::Options`] and [`criu::ops`].
//!
//! The options live in the core from the first setter on; this file adds
//! only what rust-criu's shape needs on top: options cleared after a
//! successful call, a notify callback that is a plain `fn` receiving
//! rust-protobuf's `Criu_notify`, and the orphan-pty master kept for
//! [`Criu::take_orphan_pts_master_fd`].

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use criu::notify::Notification;
use criu::{ops, Options};

use crate::cgroups::CgMode;
use crate::error::CriuError;
use crate::rust_criu_protobuf::rpc::{Criu_notify, Criu_req_type};

/// A notify callback, called for each notification criu sends (when
/// notifications were asked for with [`Criu::set_notify_scripts`]): the
/// notification's name (`post-dump`, ...), the message, and the descriptor
/// criu passed with it, if any (only `orphan-pts-master` passes one; it is
/// kept for [`Criu::take_orphan_pts_master_fd`], others are closed after the
/// callback returns). Returning nonzero makes criu stop and the call fail
/// with [`CriuError::NotifyFailed`].
pub type NotifyCallback = fn(script: &str, notify: &Criu_notify, fd: Option<RawFd>) -> i32;

/// The notification with which criu hands over the master of a restored
/// tree's orphan pty.
const ORPHAN_PTS_MASTER: &str = "orphan-pts-master";

/// A pty master criu handed over, shared with the notify handler that
/// receives it.
type OrphanMaster = Arc<Mutex<Option<OwnedFd>>>;

/// A CRIU client: set options, then [`Criu::dump`] or [`Criu::restore`].
/// Each call starts `criu swrk`, runs one request and reaps criu. After a
/// successful dump or restore the options are cleared; after a failed one
/// they are all kept, so the call can be retried.
pub struct Criu {
    criu_path: String,
    /// The core's options. Behind a mutex only so that `Criu` stays `Sync`
    /// as rust-criu's is (the core keeps its callback as a `FnMut`, which is
    /// not); every use goes through `&mut self` and never locks.
    options: Mutex<Options>,
    notify_cb: Option<NotifyCallback>,
    orphan_pts_master_fd: OrphanMaster,
    reply_timeout: Option<Duration>,
    /// The first argument the core refused where rust-criu's signature has
    /// no way to say so (`add_external`): every dump or restore fails with it
    /// until the options are cleared, rather than run without it.
    refused: Option<String>,
}

impl Criu {
    /// A client that starts `criu` from PATH.
    pub fn new() -> Result<Self, CriuError> {
        Criu::new_with_criu_path(String::from("criu"))
    }

    /// A client that starts the criu binary at `path_to_criu` (looked up in
    /// PATH when it has no slash).
    pub fn new_with_criu_path(path_to_criu: String) -> Result<Self, CriuError> {
        let options = Mutex::new(fresh_options(&path_to_criu, None));
        Ok(Criu {
            criu_path: path_to_criu,
            options,
            notify_cb: None,
            orphan_pts_master_fd: Arc::new(Mutex::new(None)),
            reply_timeout: None,
            refused: None,
        })
    }

    /// The core options this client sends, for what rust-criu has no setter
    /// for (tmp files, ghost limit, network lock, ...). What is set here is
    /// cleared with the rest after a successful dump or restore.
    pub fn options_mut(&mut self) -> &mut Options {
        self.options.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// criu's version as `major * 10000 + minor * 100 + sublevel`, a build
    /// from git counting as the next minor release. Keeps the options.
    pub fn get_criu_version(&mut self) -> Result<u32, CriuError> {
        let version = self.run(Criu_req_type::VERSION, ops::version)?;
        version.as_number().try_into().map_err(|_| CriuError::VersionParse)
    }

    /// Checkpoint the tree of [`Criu::set_pid`] into the images directory.
    pub fn dump(&mut self) -> Result<(), CriuError> {
        self.run(Criu_req_type::DUMP, ops::dump)?;
        self.clear();
        Ok(())
    }

    /// Restore the tree from the images directory.
    pub fn restore(&mut self) -> Result<(), CriuError> {
        self.restore_with_pid().map(drop)
    }

    /// [`Criu::restore`], returning the pid of the restored tree's root
    /// (rust-criu's `restore` drops it).
    pub fn restore_with_pid(&mut self) -> Result<i32, CriuError> {
        let pid = self.run(Criu_req_type::RESTORE, ops::restore)?;
        self.clear();
        Ok(pid)
    }

    /// Bound how long each answer of criu may take (`None`, the default:
    /// as long as criu needs). When it passes, the call fails with an `Io`
    /// error of kind `TimedOut` and criu is killed and reaped. Unlike the
    /// criu options, this setting stays after a successful call.
    pub fn set_reply_timeout(&mut self, timeout: Option<Duration>) {
        self.reply_timeout = timeout;
        self.options_mut().set_reply_timeout(timeout);
    }

    /// Map an external mount: at dump the mountpoint `key` to the name
    /// `value`, at restore the name `key` to the directory `value`.
    pub fn set_external_mount(&mut self, key: String, value: String) {
        self.options_mut().add_ext_mount(&key, &value);
    }

    /// Declare an external resource (`net[INODE]:LABEL`, `tty[RDEV:DEV]`,
    /// `file[MNT_ID:INODE]`, `mnt[KEY]:VALUE`, ...). A malformed id, which
    /// criu would silently match to nothing, makes the next dump or restore
    /// fail with [`CriuError::InvalidArgument`] instead.
    pub fn add_external(&mut self, external: String) {
        if let Err(e) = self.options_mut().add_external(&external) {
            self.refused.get_or_insert_with(|| e.to_string());
        }
    }

    /// At restore, hand the tree the descriptor `fd` in place of the
    /// resource named `key`. The descriptor may be close-on-exec: criu is
    /// given it explicitly. A closed descriptor or a key criu could never
    /// match is refused here.
    pub fn add_inherit_fd(&mut self, fd: RawFd, key: String) -> Result<(), CriuError> {
        self.options_mut().add_inherit_fd(fd, &key).map(drop).map_err(|e| match e {
            criu::Error::InvalidArgument(why) => CriuError::InvalidArgument(why),
            other => CriuError::InvalidArgument(other.to_string()),
        })
    }

    /// The pty master criu handed over during the last restore, taken out
    /// of the client (closed when the `OwnedFd` is dropped).
    pub fn take_orphan_pts_master_fd(&mut self) -> Option<OwnedFd> {
        self.orphan_pts_master_fd.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// How criu handles cgroups.
    pub fn cgroups_mode(&mut self, mode: CgMode) {
        self.options_mut().set_manage_cgroups_mode(mode.to_core());
    }

    /// The callback for criu's notifications (see [`NotifyCallback`]).
    pub fn set_notify_cb(&mut self, cb: NotifyCallback) {
        self.notify_cb = Some(cb);
    }

    /// Send the pages to (or, with lazy pages, serve them at) this address
    /// and port.
    pub fn set_page_server(&mut self, address: String, port: i32) {
        self.options_mut().set_page_server_address_port(&address, port);
    }

    /// Restore the network namespace empty (criu's `--empty-ns net`).
    pub fn set_empty_net_ns(&mut self, empty_net_ns: bool) {
        let options = self.options_mut();
        if empty_net_ns {
            options.set_empty_ns(libc::CLONE_NEWNET as u32);
        } else if options.request_options().empty_ns.is_some() {
            // Turning it off again; criu reads 0 as no namespace.
            options.set_empty_ns(0);
        }
    }

    /// One request through the core: the callback installed for it and
    /// removed after, the core's error turned into rust-criu's.
    fn run<T>(
        &mut self,
        request: Criu_req_type,
        op: impl FnOnce(&mut Options) -> criu::Result<T>,
    ) -> Result<T, CriuError> {
        if request != Criu_req_type::VERSION {
            if let Some(why) = &self.refused {
                return Err(CriuError::InvalidArgument(why.clone()));
            }
        }
        let handler = notify_handler(self.notify_cb, Arc::clone(&self.orphan_pts_master_fd));
        let options = self.options_mut();
        options.set_notify_handler(handler);
        let result = op(options);
        options.remove_notify();
        result.map_err(|e| CriuError::from_core(e, request, &self.criu_path))
    }

    /// After a successful dump or restore: every criu option and the
    /// callback are dropped, as rust-criu does; the binary, the reply
    /// timeout and a received pty master stay.
    fn clear(&mut self) {
        *self.options_mut() = fresh_options(&self.criu_path, self.reply_timeout);
        self.notify_cb = None;
        self.refused = None;
    }
}

fn fresh_options(criu_path: &str, reply_timeout: Option<Duration>) -> Options {
    let mut options = Options::new();
    options.set_service_binary(criu_path).set_reply_timeout(reply_timeout);
    options
}

/// The core's callback for one call: keeps an orphan pty master, then
/// hands the notification to the caller's `fn` in rust-criu's form.
fn notify_handler(callback: Option<NotifyCallback>, orphan_master: OrphanMaster) -> criu::NotifyCallback {
    Box::new(move |note: &Notification, _: &mut Options| {
        let fd = note.take_fd();
        let raw_fd = fd.as_ref().map(AsRawFd::as_raw_fd);
        if note.action() == ORPHAN_PTS_MASTER {
            *orphan_master.lock().unwrap_or_else(PoisonError::into_inner) = fd;
        }
        let Some(callback) = callback else { return 0 };
        let mut message = Criu_notify::new();
        message.set_script(note.action().to_owned());
        if let Some(pid) = note.pid() {
            message.set_pid(pid);
        }
        callback(note.action(), &message, raw_fd)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_external_fails_the_dump_without_starting_criu() {
        let mut criu = Criu::new_with_criu_path("/nonexistent/criu".into()).unwrap();
        criu.add_external("net[12]:extRootNetNS".into());
        criu.add_external("pipe[12]".into());
        let e = criu.dump().unwrap_err();
        assert!(matches!(e, CriuError::InvalidArgument(ref why) if why.contains("pipe[12]")), "{e:?}");
        assert_eq!(criu.options_mut().request_options().external, ["net[12]:extRootNetNS"]);
        // The version request does not carry the options: it only fails
        // because the binary is missing.
        assert!(matches!(criu.get_criu_version(), Err(CriuError::Spawn { .. })));
    }

    #[test]
    fn empty_net_ns_off_again_clears_the_namespace() {
        let mut criu = Criu::new().unwrap();
        criu.set_empty_net_ns(false);
        assert_eq!(criu.options_mut().request_options().empty_ns, None);
        criu.set_empty_net_ns(true);
        assert_eq!(criu.options_mut().request_options().empty_ns, Some(libc::CLONE_NEWNET as u32));
        criu.set_empty_net_ns(false);
        assert_eq!(criu.options_mut().request_options().empty_ns, Some(0));
    }

    #[test]
    fn setters_reach_the_request() {
        let mut criu = Criu::new().unwrap();
        criu.set_pid(7);
        criu.cgroups_mode(CgMode::SOFT);
        criu.set_page_server("127.0.0.1".into(), 1234);
        criu.set_parent_img("../parent".into());
        criu.set_external_mount("/a".into(), "/a".into());
        let sent = criu.options_mut().request_options();
        assert_eq!(sent.pid, Some(7));
        assert_eq!(sent.manage_cgroups_mode, Some(CgMode::SOFT as i32));
        assert_eq!(sent.ps.as_ref().and_then(|p| p.port), Some(1234));
        assert_eq!(sent.parent_img.as_deref(), Some("../parent"));
        assert_eq!(sent.ext_mnt.len(), 1);
        assert_eq!(sent.notify_scripts, None, "a callback alone does not ask for notifications");
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn criu_is_send_and_sync_like_rust_criu() {
        assert_send_sync::<Criu>();
    }
}
