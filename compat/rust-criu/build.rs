//! Generates `rust_criu_protobuf::rpc`, the rust-protobuf message types of
//! the repository's proto/rpc.proto, the schema the core speaks. rust-criu's
//! API names these types (the notify callback receives `rpc::Criu_notify`).
//! The pure-Rust parser is used, so no protoc is needed.

fn main() {
    let proto_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../crates/criu/proto");
    let proto = format!("{proto_dir}/rpc.proto");
    println!("cargo:rerun-if-changed={proto}");
    protobuf_codegen::Codegen::new()
        .pure()
        .include(proto_dir)
        .input(&proto)
        .cargo_out_dir("rust_criu_protobuf")
        .run_from_script();
}
