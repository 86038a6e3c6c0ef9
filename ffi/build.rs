//! Gives the shared library its SONAME on ELF targets: `libaigw.so.<major>` (`libaigw.so.0` while
//! the version is 0.x), so a program linked with `-laigw` records `libaigw.so.<major>` as NEEDED and
//! keeps working across compatible upgrades. `make dist` / `make install` ship the library under that
//! name with a `libaigw.so` symlink for the linker.
//!
//! Programs linked against the build tree (`target/<profile>/`, or `target/<profile>/deps/` for
//! `cargo test`) need that name at run time too, so the same `libaigw.so.<major> -> libaigw.so`
//! symlink is made next to the library in both folders.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let elf = !matches!(
        os.as_str(),
        "macos" | "ios" | "windows" | "tvos" | "watchos" | "visionos"
    );
    if !elf {
        return;
    }
    let soname = format!("libaigw.so.{}", env!("CARGO_PKG_VERSION_MAJOR"));
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");

    // OUT_DIR is target/[<triple>/]<profile>/build/aigw-ffi-<hash>/out.
    let Some(profile_dir) = std::env::var_os("OUT_DIR")
        .map(PathBuf::from)
        .and_then(|out| out.ancestors().nth(3).map(Path::to_path_buf))
    else {
        return;
    };
    for dir in [profile_dir.join("deps"), profile_dir] {
        let link = dir.join(&soname);
        if std::fs::symlink_metadata(&link).is_ok() {
            continue;
        }
        #[cfg(unix)]
        if let Err(e) = std::os::unix::fs::symlink("libaigw.so", &link) {
            println!("cargo:warning=cannot make {}: {e}", link.display());
        }
    }
}
