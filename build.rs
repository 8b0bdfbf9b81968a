//! Generates the RPC message types from proto/rpc.proto and gives the shared
//! library upstream's SONAME, so programs linked against either load either.

fn main() {
    println!("cargo:rerun-if-changed=proto/rpc.proto");
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc is available");
    std::env::set_var("PROTOC", protoc);
    prost_build::Config::new()
        .compile_protos(&["proto/rpc.proto"], &["proto"])
        .expect("proto/rpc.proto compiles");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcriu.so.2");
}
