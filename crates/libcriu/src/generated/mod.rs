//! What is generated from the core's tables (crates/criu/src/options.rs) by
//! tests/generated.rs, which fails when a file here is stale (`make
//! generated` rewrites them).

pub mod enums;
pub mod setters;
pub mod twins;
