//! Compiles the C programs of `tests/c/` against `libaigw` with `-Wall -Wextra -Werror
//! -pedantic` and runs each against an in-process mock gateway. Every program takes
//! `PORT VECTORS_DIR ITERATIONS` and exits 0 only when all its checks passed.
//! (`scripts/test-c.sh` runs the same programs under valgrind and AddressSanitizer.)

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aigw_mock::{MockConfig, MockGateway};

/// Must match `TEST_API_KEY` in `tests/c/support.h`.
const TEST_API_KEY: &str = "test-key";
/// A generous bound: a program that takes longer is hung, not slow.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The directory holding the `libaigw.so` this test binary was built with (`target/<profile>/deps`).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let dir = exe
        .parent()
        .expect("the test binary sits in a directory")
        .to_path_buf();
    assert!(
        dir.join("libaigw.so").exists(),
        "libaigw.so is missing from {}",
        dir.display()
    );
    dir
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-programs");
    std::fs::create_dir_all(&dir).expect("the C programs' output directory can be created");
    dir
}

fn run_to_completion(mut command: Command, what: &str, log_stem: &Path) -> (bool, String) {
    let stdout_path = PathBuf::from(format!("{}.stdout", log_stem.display()));
    let stderr_path = PathBuf::from(format!("{}.stderr", log_stem.display()));
    let stdout = File::create(&stdout_path).expect("log file");
    let stderr = File::create(&stderr_path).expect("log file");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a child") {
            break Some(status);
        }
        if started.elapsed() > PROGRAM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = format!(
        "{}{}",
        std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    match status {
        Some(status) => (
            status.success(),
            format!("{what} exited with {status}:\n{output}"),
        ),
        None => (
            false,
            format!("{what} was killed after {PROGRAM_TIMEOUT:?}:\n{output}"),
        ),
    }
}

/// Compiles `tests/c/<name>.c` (with `support.c`) as C11, or `tests/c/<name>.cpp` as C++17,
/// and links it against libaigw.
fn compile(name: &str) -> PathBuf {
    let root = repo_root();
    let lib_dir = lib_dir();
    let exe = out_dir().join(name);
    let cpp = root.join(format!("tests/c/{name}.cpp"));
    let (compiler, standard, sources) = if cpp.exists() {
        let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_string());
        (cxx, "-std=c++17", vec![cpp])
    } else {
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
        let sources = vec![
            root.join("tests/c/support.c"),
            root.join(format!("tests/c/{name}.c")),
        ];
        (cc, "-std=c11", sources)
    };
    let mut command = Command::new(&compiler);
    command
        .args([standard, "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
        .arg("-I")
        .arg(root.join("include"))
        .args(&sources)
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib_dir)
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .args(["-laigw", "-lpthread"]);
    let what = format!("{compiler} {standard} {name}");
    let (ok, output) =
        run_to_completion(command, &what, &out_dir().join(format!("{name}.compile")));
    assert!(ok, "{output}");
    exe
}

/// Runs a compiled program against a fresh mock; returns its output.
fn run(exe: &Path, iterations: u32) -> String {
    let mock = MockGateway::start(MockConfig {
        api_keys: vec![TEST_API_KEY.to_string()],
        lifetime: Duration::from_secs(600),
        ..Default::default()
    })
    .expect("the mock gateway starts on 127.0.0.1");
    let mut command = Command::new(exe);
    command
        // cargo's LD_LIBRARY_PATH also lists target/<profile>, where an older uplifted
        // libaigw.so may sit; it would win over the RUNPATH to the one this test was built with.
        .env("LD_LIBRARY_PATH", lib_dir())
        .arg(mock.port().to_string())
        .arg(repo_root().join("tests/vectors"))
        .arg(iterations.to_string())
        // Credentials come only from what each program sets up.
        .env_remove("CLOUDFLARE_API_KEY")
        .env_remove("CLOUDFLARE_AI_GATEWAY_API_KEY")
        .env_remove("AIGW_LOG");
    let name = exe
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("program");
    let (ok, output) = run_to_completion(command, name, &out_dir().join(format!("{name}.run")));
    assert!(ok, "{output}");
    output
}

fn compile_and_run(name: &str, iterations: u32) {
    let exe = compile(name);
    let output = run(&exe, iterations);
    assert!(
        output.contains(&format!("{name}: ")) && output.contains(" passed, 0 failed"),
        "{name} printed no summary:\n{output}"
    );
    println!("{output}");
}

#[test]
fn c_api() {
    compile_and_run("test_api", 1);
}

#[test]
fn c_streaming() {
    compile_and_run("test_stream", 1);
}

#[test]
fn c_every_error_status() {
    compile_and_run("test_errors", 1);
}

#[test]
fn c_null_and_invalid_utf8_arguments() {
    compile_and_run("test_null", 1);
}

#[test]
fn c_cancel_tokens_end_calls_before_and_during_io() {
    compile_and_run("test_cancel", 1);
}

#[test]
fn c_one_client_shared_by_8_threads_x_200_requests() {
    compile_and_run("test_threads", 200);
}

#[test]
fn c_replays_the_shared_vectors() {
    compile_and_run("test_vectors", 1);
}

#[test]
fn cpp17_program_uses_the_header() {
    compile_and_run("header_cpp", 1);
}

/// `examples/c/chat.c` builds without a warning and shows the route and the streamed answer.
#[test]
fn c_example_streams_and_shows_the_route() {
    let root = repo_root();
    let lib_dir = lib_dir();
    let exe = out_dir().join("example_chat");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let mut command = Command::new(&cc);
    command
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-O2",
        ])
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("examples/c/chat.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib_dir)
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-laigw");
    let (ok, output) = run_to_completion(command, "cc chat.c", &out_dir().join("example.compile"));
    assert!(ok, "{output}");

    let mock = MockGateway::start(MockConfig {
        api_keys: vec![TEST_API_KEY.to_string()],
        ..Default::default()
    })
    .expect("the mock gateway starts on 127.0.0.1");
    let config = out_dir().join("example.toml");
    let base_url = mock.base_url("0123456789abcdef0123456789abcdef", "example-gw");
    std::fs::write(
        &config,
        format!(
            "active_provider = \"demo\"\n\n[providers.demo]\nkind = \"cloudflare_ai_gateway\"\n\
             base_url = \"{base_url}\"\nmodel = \"openai/gpt-4o-mini\"\n"
        ),
    )
    .expect("the example config can be written");
    let mut command = Command::new(&exe);
    command
        .env("LD_LIBRARY_PATH", &lib_dir)
        .arg(&config)
        .arg("Hello \"C\" example")
        .env("CLOUDFLARE_API_KEY", TEST_API_KEY)
        .env_remove("CLOUDFLARE_AI_GATEWAY_API_KEY");
    let (ok, output) = run_to_completion(command, "example chat", &out_dir().join("example.run"));
    assert!(ok, "{output}");
    for expected in [
        format!("request endpoint  {base_url}/chat/completions"),
        "gateway path      /v1/0123456789abcdef0123456789abcdef/example-gw/openai/compat".into(),
        "account id        0123456789abcdef0123456789abcdef".into(),
        "gateway name      example-gw".into(),
        "credentials       env:CLOUDFLARE_API_KEY".into(),
        "echo: Hello \"C\" example\n".into(),
    ] {
        assert!(output.contains(&expected), "no `{expected}` in:\n{output}");
    }
    assert!(!output.contains(TEST_API_KEY), "the key leaked:\n{output}");
    assert_eq!(mock.count_path_suffix("/chat/completions"), 1);
}
