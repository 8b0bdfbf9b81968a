//! The RPC messages of proto/rpc.proto as rust-protobuf types, under the
//! names rust-criu gives them (`rpc::Criu_notify`, `rpc::Criu_req_type`,
//! ...). Generated at build time by build.rs; the adapter itself talks to
//! criu through the core, so these exist for the callers' signatures.

include!(concat!(env!("OUT_DIR"), "/rust_criu_protobuf/mod.rs"));
