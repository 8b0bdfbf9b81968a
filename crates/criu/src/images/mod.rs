//! CRIU's image files: reading, writing and exploring them.

pub mod cli;
pub mod codec;
pub mod container;
pub mod dict;
pub mod explore;
mod externals;
pub mod flags;
mod pb;
pub mod pyjson;
pub mod schema;
pub mod stats;
pub mod text;
#[allow(dead_code)] // build.rs uses the rest
mod wire;

pub use codec::{decode, encode, info, ImageError};
pub use externals::{external_resources, ExternalKind, ExternalResource};
pub use stats::{image_stats, DumpStats, ImageStats, RestoreStats};
