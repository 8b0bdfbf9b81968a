//! Notifications criu sends while it works (`pre-dump`, `post-dump`,
//! `pre-restore`, `post-restore`, `orphan-pts-master`, ...), when the request
//! asked for them: what the caller's callback (`options::NotifyCallback`) sees.

use std::cell::Cell;
use std::os::fd::OwnedFd;

/// One notification from criu.
pub struct Notification {
    action: String,
    pid: Option<i32>,
    fd: Cell<Option<OwnedFd>>,
}

impl Notification {
    pub(crate) fn new(action: String, pid: Option<i32>, fd: Option<OwnedFd>) -> Notification {
        Notification { action, pid, fd: Cell::new(fd) }
    }

    /// The notification point, e.g. `post-dump`.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The pid of the tree's root task, when criu sent one.
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    /// Take the descriptor criu passed with this notification (the master
    /// side of an orphan pty, for `orphan-pts-master`). Whoever takes it owns
    /// it; one left untaken is closed after the callback returns.
    pub fn take_fd(&self) -> Option<OwnedFd> {
        self.fd.take()
    }
}
