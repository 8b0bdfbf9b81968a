//! criu: a client library for CRIU (Checkpoint/Restore In Userspace), in Rust.
//!
//! Fill an [`Options`] (what to dump or restore, where the images go, how to
//! reach criu: [`options::Service`], by default a `criu swrk` child), then
//! run an operation of [`ops`]. Checkpoint a process tree and restore it:
//!
//! ```no_run
//! use std::os::fd::AsRawFd;
//! use criu::{ops, Options};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let images = std::fs::File::open("/tmp/images")?;
//!
//! // Checkpoint: process 1234 and its children are written to /tmp/images
//! // (and, without set_leave_running(true), stop running).
//! let mut dump = Options::new();
//! dump.set_images_dir_fd(images.as_raw_fd()).set_pid(1234).set_shell_job(true);
//! ops::dump(&mut dump)?;
//!
//! // Restore: the tree runs again; its root's pid comes back.
//! let mut restore = Options::new();
//! restore.set_images_dir_fd(images.as_raw_fd()).set_shell_job(true);
//! let pid = ops::restore(&mut restore)?;
//! println!("restored as {pid}");
//! # Ok(())
//! # }
//! ```
//!
//! Beyond the operations: [`migrate`] (page server, lazy pages), [`tmpfile`]
//! (deleted or unlinked files carried with the dump), [`images`] (every CRIU
//! image read and written, as crit does) and [`ids`] (external resource ids).
//! Errors are one [`Error`] with criu's errno. The C API (`libcriu.so.2`) and
//! the Python module are thin faces over this crate, in the same workspace.

pub mod criu_log;
pub mod error;
mod exchange;
pub mod ids;
pub mod images;
pub mod migrate;
pub mod notify;
pub mod ops;
pub mod options;
pub mod rpc;
mod service;
mod started;
pub mod tmpfile;

pub use error::{Error, Result};
pub use notify::Notification;
pub use ops::{DumpOutcome, Features, Version};
pub use options::{NotifyCallback, Options};
