//! libcriu-rs: a client library for CRIU (Checkpoint/Restore In Userspace).
//!
//! The Rust core builds criu's RPC requests from [`Options`], reaches a criu
//! process ([`options::Service`]) and runs the operations in [`ops`]. The
//! [`ffi`] module puts upstream libcriu's C API (`libcriu.so.2`, `criu.h`)
//! over that core.
//!
//! ```no_run
//! use criu::{ops, Options};
//! let dir = std::fs::File::open("/tmp/images").unwrap();
//! let mut opts = Options::new();
//! opts.set_images_dir_fd(std::os::fd::AsRawFd::as_raw_fd(&dir)).set_pid(1234);
//! ops::dump(&mut opts).unwrap();
//! ```

pub mod criu_log;
pub mod error;
pub mod ffi;
pub mod ids;
pub mod images;
pub mod migrate;
pub mod notify;
pub mod ops;
pub mod options;
pub mod rpc;
mod service;
pub mod tmpfile;

pub use error::{Error, Result};
pub use notify::{Notification, NotifyCallback};
pub use ops::{DumpOutcome, Features, Version};
pub use options::Options;
