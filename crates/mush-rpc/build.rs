//! Compiles proto/mush.proto with protox (a protobuf compiler in Rust), so a fresh machine
//! needs no `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/mush.proto");
    let descriptors = protox::compile(["mush.proto"], ["proto"])?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
