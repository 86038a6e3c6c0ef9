//! `aigw-mock-gateway`: runs the mock Cloudflare AI Gateway for the Python, Node and C test
//! suites. Prints the chosen port as one line on stdout (and optionally into a file, atomically),
//! serves on 127.0.0.1 until `--lifetime-secs` pass, then exits 0.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aigw_mock::{MockConfig, MockGateway, USAGE};

struct Options {
    config: MockConfig,
    port_file: Option<PathBuf>,
}

/// `--port-file PATH` for this binary; every other flag is [`MockConfig::from_args`]'s.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut rest = Vec::new();
    let mut port_file = None;
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--port-file" {
            let path = args.next().ok_or("--port-file needs a value")?;
            port_file = Some(PathBuf::from(path));
        } else {
            rest.push(flag);
        }
    }
    let config =
        MockConfig::from_args(rest).map_err(|e| format!("{e}\n{USAGE} [--port-file PATH]"))?;
    Ok(Options { config, port_file })
}

/// Write then rename, so a test polling the file never reads a half-written port.
fn write_port_file(path: &Path, port: u16) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, format!("{port}\n"))?;
    std::fs::rename(&tmp, path)
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("aigw-mock-gateway: {message}");
            return ExitCode::from(2);
        }
    };
    let lifetime = options.config.lifetime;
    let gateway = match MockGateway::start(options.config) {
        Ok(gateway) => gateway,
        Err(e) => {
            eprintln!("aigw-mock-gateway: cannot listen on 127.0.0.1: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &options.port_file {
        if let Err(e) = write_port_file(path, gateway.port()) {
            eprintln!(
                "aigw-mock-gateway: cannot write port file {}: {e}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let mut stdout = std::io::stdout().lock();
    // A parent that stopped reading stdout must not keep the mock from serving.
    let _ = writeln!(stdout, "{}", gateway.port()).and_then(|()| stdout.flush());
    drop(stdout);

    std::thread::sleep(lifetime);
    drop(gateway);
    ExitCode::SUCCESS
}
