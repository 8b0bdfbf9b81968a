//! The schema of the few image messages `libcriu.pycriu.images` reads
//! (proto/pycriu_images.proto), as a serialized FileDescriptorSet the
//! Python side builds its message classes from; the vendored protoc
//! compiles it, so no system protoc is needed.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=proto/pycriu_images.proto");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc is available");
    let status = Command::new(protoc)
        .arg("--proto_path=proto")
        .arg(format!("--descriptor_set_out={}", out.join("pycriu_images.fds").display()))
        .arg("proto/pycriu_images.proto")
        .status()
        .expect("the vendored protoc runs");
    assert!(status.success(), "protoc failed on proto/pycriu_images.proto");
}
