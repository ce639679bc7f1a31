//! Release builds lay the binary's code out in the order start-up and a shopper's requests
//! first run it (`link/order.txt`, made by `link/order.sh`): the kernel maps code 64 KiB at a
//! time around each page touched, so code that runs together stays together and an idle
//! instance keeps fewer of the binary's pages resident. Only with LLD (Rust's default linker
//! on x86_64 Linux since 1.90); symbols the file names that no longer exist are skipped.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=link/order.txt");
    println!("cargo:rerun-if-changed=build.rs");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let target = std::env::var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu");
    if !(release && target && lld_by_default()) {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    println!("cargo:rustc-link-arg-bin=perkgate=-Wl,--symbol-ordering-file={dir}/link/order.txt");
    println!("cargo:rustc-link-arg-bin=perkgate=-Wl,--no-warn-symbol-ordering");
}

/// rustc 1.90 and later link x86_64 Linux binaries with its own LLD.
fn lld_by_default() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let Ok(out) = Command::new(rustc).arg("--version").output() else {
        return false;
    };
    let version = String::from_utf8_lossy(&out.stdout);
    let minor = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 90)
}
