//! rust-criu 0.6.1's API over the libcriu-rs core.
//!
//! A program written for rust-criu builds against this crate unchanged and
//! reaches criu through the core, which reaps every criu it starts, keeps
//! its descriptors close-on-exec, bounds criu's answers and names the cause
//! of a failure. The README lists every difference and how to switch.
//!
//! ```no_run
//! use std::os::fd::AsRawFd;
//! let images = std::fs::File::open("/tmp/images").unwrap();
//! let mut criu = rust_criu::Criu::new().unwrap();
//! criu.set_pid(1234);
//! criu.set_images_dir_fd(images.as_raw_fd());
//! criu.set_log_file("dump.log".to_string());
//! if let Err(e) = criu.dump() {
//!     eprintln!("{e}"); // criu failed: type "DUMP" errno 0: ... (criu log: ...)
//! }
//! ```
//!
//! For what rust-criu lacks (pre-dump, check, page server, lazy pages,
//! tmp files, images), the core is re-exported as [`criu`].

mod cgroups;
mod client;
mod error;
mod namespaces;
pub mod rust_criu_protobuf;
mod setters;

pub use cgroups::CgMode;
pub use client::{Criu, NotifyCallback};
pub use error::CriuError;
pub use namespaces::criu_ns_to_key;

/// The libcriu-rs core this crate is built on.
pub use criu;
