//! `include/aigw.h` is cbindgen output, checked in. This test regenerates it from `ffi/src` and
//! fails with a diff when the checked-in copy is stale (`AIGW_UPDATE_HEADER=1` rewrites it
//! instead), then compiles it alone as C11 and C++17 with `-Wall -Wextra -Werror -pedantic`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn header_path() -> PathBuf {
    crate_dir().join("../include/aigw.h")
}

/// The version macros come from Cargo, so a version bump makes the header stale.
fn version_macros() -> String {
    format!(
        "\n/** The version of the API this header declares (compare with aigw_version()). */\n\
         #define AIGW_VERSION_MAJOR {}\n#define AIGW_VERSION_MINOR {}\n#define AIGW_VERSION_PATCH {}\n\
         /** The version as a string literal, \"MAJOR.MINOR.PATCH\". */\n#define AIGW_VERSION \"{}\"\n",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    )
}

fn generate() -> String {
    let mut config = cbindgen::Config::from_file(crate_dir().join("cbindgen.toml"))
        .expect("ffi/cbindgen.toml is a valid cbindgen config");
    config.after_includes = Some(version_macros());
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir())
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header from ffi/src");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}

/// `diff -u` output when the tool is there, else the first differing line.
fn describe_difference(checked_in: &str, fresh: &str) -> String {
    let dir = std::env::temp_dir().join(format!("aigw-header-{}", std::process::id()));
    let diff = std::fs::create_dir_all(&dir).ok().and_then(|()| {
        let fresh_path = dir.join("aigw.h.fresh");
        std::fs::write(&fresh_path, fresh).ok()?;
        let output = Command::new("diff")
            .arg("-u")
            .arg(header_path())
            .arg(&fresh_path)
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&output.stdout).into_owned())
    });
    let _ = std::fs::remove_dir_all(&dir);
    diff.filter(|d| !d.is_empty()).unwrap_or_else(|| {
        let line = checked_in
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| checked_in.lines().count().min(fresh.lines().count()));
        format!("first difference at line {}", line + 1)
    })
}

#[test]
fn checked_in_header_is_fresh() {
    let fresh = generate();
    if std::env::var_os("AIGW_UPDATE_HEADER").is_some() {
        std::fs::write(header_path(), &fresh).expect("include/aigw.h is writable");
        return;
    }
    let checked_in = std::fs::read_to_string(header_path()).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "include/aigw.h is stale; regenerate it with \
         `AIGW_UPDATE_HEADER=1 cargo test -p aigw-ffi --test header`:\n{}",
        describe_difference(&checked_in, &fresh)
    );
}

#[test]
fn header_declares_the_cargo_version() {
    let header = std::fs::read_to_string(header_path()).expect("include/aigw.h exists");
    for (name, value) in [
        ("AIGW_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("AIGW_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("AIGW_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        assert!(
            header.contains(&format!("#define {name} {value}\n")),
            "{name} is not {value}"
        );
    }
    assert_eq!(env!("CARGO_PKG_VERSION"), aigw_core::VERSION);
}

fn compile_header(compiler: &str, language: &str, standard: &str) {
    let output = Command::new(compiler)
        .args(["-x", language, standard])
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"])
        .arg(header_path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(
        output.status.success(),
        "{compiler} {standard} rejects include/aigw.h:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn header_compiles_as_c11() {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    compile_header(&cc, "c", "-std=c11");
}

#[test]
fn header_compiles_as_cpp17() {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_string());
    compile_header(&cxx, "c++", "-std=c++17");
}
