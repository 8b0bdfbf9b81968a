//! What an options object started and must end: the connection to the criu
//! whose children its page servers are, those page servers until they are
//! waited for, and its lazy-pages daemons (the caller's own children).
//!
//! The options hold one [`Started`] (so there is no table on the side, and
//! nothing outlives its options); `crate::migrate` fills it and waits for
//! what it holds. Dropping it ends whatever still runs. This module sits
//! below the options and knows nothing of them, so the options can own it.

use std::fmt;
use std::path::PathBuf;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::rpc::{CriuReq, CriuReqType};
use crate::service::{Child, Connection};

/// The processes one options object started and has not waited for.
#[derive(Default)]
pub(crate) struct Started {
    /// The connection a PAGE_SERVER_CHLD request left open (`keep_open`):
    /// criu can wait only for its own children, so WAIT_PID must go here.
    pub(crate) criu: Option<Connection>,
    /// Page servers started as children of `criu`, not waited for yet.
    pub(crate) page_servers: Vec<i32>,
    /// criu's lazy-pages daemons, not waited for yet.
    pub(crate) lazy_pages: Vec<LazyPagesDaemon>,
}

/// A `criu lazy-pages` the library started as the caller's child.
pub(crate) struct LazyPagesDaemon {
    pub(crate) child: Child,
    /// criu's log, to say why the daemon failed.
    pub(crate) log: Option<PathBuf>,
}

impl fmt::Debug for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Started")
            .field("criu_connected", &self.criu.is_some())
            .field("page_servers", &self.page_servers)
            .field("lazy_pages", &self.lazy_pages.iter().map(|d| d.child.pid()).collect::<Vec<_>>())
            .finish()
    }
}

/// criu's WAIT_PID request for `pid`. It carries no options: criu answers
/// it and exits, and refuses `keep_open` on it.
pub(crate) fn wait_pid_request(pid: u32) -> CriuReq {
    CriuReq { r#type: CriuReqType::WaitPid as i32, pid: Some(pid), ..Default::default() }
}

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(mut criu) = self.criu.take() {
            // The page servers are criu's children, so their pids cannot have
            // been reused while criu runs: killing them is safe. Without the
            // connection criu may be gone, and the pids someone else's.
            for pid in &self.page_servers {
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
            }
            // criu reaps one of them for us (it answers one WAIT_PID, then
            // exits); the others go to the init process.
            if let Some(pid) = self.page_servers.first().and_then(|p| u32::try_from(*p).ok()) {
                if criu.send(&wait_pid_request(pid)).is_ok() {
                    let _ = criu.recv();
                }
            }
        }
        // The lazy-pages daemons go with `lazy_pages`: a Child dropped while
        // it runs is killed and reaped.
    }
}
