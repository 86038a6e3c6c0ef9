//! `aigw-fuzz`: a mutational fuzzer for aigw-core that runs on stable Rust.
//!
//! Each target runs in a worker process (this binary with `--worker`) so that a crash that
//! cannot be caught (stack overflow, abort) or a hang still leaves its input behind: the worker
//! writes every input to `crashes/<target>/.current` before running it, and the supervisor
//! keeps that file when the worker dies or overruns.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aigw_fuzz::mutate::{mutate, DEFAULT_MAX_LEN};
use aigw_fuzz::rng::{fnv1a, Rng};
use aigw_fuzz::{
    escape, ignore_properties, install_panic_hook, run_one, Finding, Target, Violation,
};
use serde_json::{json, Value};

const USAGE: &str = "\
aigw-fuzz - mutational fuzzer for aigw-core (stable Rust, no libFuzzer)

usage: aigw-fuzz --target NAME|all --seconds N [options]
       aigw-fuzz --target NAME --replay FILE...

targets: sse, config, secret_ref, envelope

options:
  --seed S          PRNG seed (default: from the clock; printed so a run can be repeated)
  --max-len N       largest input in bytes (default 4096)
  --timeout-ms N    an input slower than this is a finding (default 1000)
  --dir PATH        the fuzz directory holding corpus/, regressions/, crashes/
                    (default: this crate's directory)
  --stop-on-first   stop a target at its first finding (default: keep going, one input per
                    distinct finding)
  --ignore-property NAME
                    let checks pass over a known open finding (repeatable)

Findings are saved to <dir>/crashes/<target>/<hash>; the exit status is 1 when there are any.";

/// Inputs that gave a new outcome join the in-memory corpus, up to this many.
const MAX_CORPUS: usize = 8192;
/// How long the minimizer may spend on one finding.
const MINIMIZE_BUDGET: Duration = Duration::from_secs(3);
/// Extra time the supervisor grants a worker beyond its budget (minimizing, reporting).
const WORKER_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
struct Options {
    targets: Vec<Target>,
    seconds: f64,
    seed: u64,
    max_len: usize,
    timeout: Duration,
    dir: PathBuf,
    stop_on_first: bool,
    worker: bool,
    replay: Vec<PathBuf>,
    ignored: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        targets: Vec::new(),
        seconds: 0.0,
        seed: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        max_len: DEFAULT_MAX_LEN,
        timeout: Duration::from_millis(1000),
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        stop_on_first: false,
        worker: false,
        replay: Vec::new(),
        ignored: Vec::new(),
    };
    let mut seconds_given = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--target" => {
                let name = value("--target")?;
                options.targets = if name == "all" {
                    Target::ALL.to_vec()
                } else {
                    vec![Target::from_name(&name).ok_or(format!("unknown target `{name}`"))?]
                };
            }
            "--seconds" => {
                options.seconds = value("--seconds")?
                    .parse()
                    .map_err(|_| "--seconds takes a number".to_string())?;
                seconds_given = true;
            }
            "--seed" => {
                options.seed = value("--seed")?
                    .parse()
                    .map_err(|_| "--seed takes an unsigned integer".to_string())?;
            }
            "--max-len" => {
                options.max_len = value("--max-len")?
                    .parse()
                    .map_err(|_| "--max-len takes an unsigned integer".to_string())?;
            }
            "--timeout-ms" => {
                let ms = value("--timeout-ms")?
                    .parse()
                    .map_err(|_| "--timeout-ms takes an unsigned integer".to_string())?;
                options.timeout = Duration::from_millis(ms);
            }
            "--dir" => options.dir = PathBuf::from(value("--dir")?),
            "--stop-on-first" => options.stop_on_first = true,
            "--ignore-property" => options.ignored.push(value("--ignore-property")?),
            "--worker" => options.worker = true,
            "--replay" => {
                options.replay.push(PathBuf::from(value("--replay")?));
                options.replay.extend(it.by_ref().map(PathBuf::from));
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if options.targets.is_empty() {
        return Err("--target is required".to_string());
    }
    if options.replay.is_empty() && (!seconds_given || options.seconds <= 0.0) {
        return Err("--seconds N (N > 0) is required".to_string());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(o) => o,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("aigw-fuzz: {message}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if !options.replay.is_empty() {
        return replay(&options);
    }
    if options.worker {
        return worker(&options);
    }
    supervise(&options)
}

fn replay(options: &Options) -> ExitCode {
    install_panic_hook();
    ignore_properties(&options.ignored);
    let target = options.targets[0];
    let mut failed = false;
    for path in &options.replay {
        let input = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("{}: cannot read: {e}", path.display());
                failed = true;
                continue;
            }
        };
        match run_one(target, &input) {
            Ok(outcome) => println!(
                "{}: ok ({} outcome features)",
                path.display(),
                outcome.len()
            ),
            Err(finding) => {
                println!("{}: {finding}", path.display());
                failed = true;
            }
        }
    }
    ExitCode::from(u8::from(failed))
}

fn target_seed(seed: u64, target: Target) -> u64 {
    seed ^ fnv1a(target.name().as_bytes())
}

fn crash_dir(dir: &Path, target: Target) -> PathBuf {
    dir.join("crashes").join(target.name())
}

fn current_input_path(dir: &Path, target: Target) -> PathBuf {
    crash_dir(dir, target).join(".current")
}

/// Saves `input` as a finding and returns its path.
fn save_finding(dir: &Path, target: Target, input: &[u8]) -> PathBuf {
    let dir = crash_dir(dir, target);
    let _ = fs::create_dir_all(&dir);
    let path = dir.join(format!("{:016x}", fnv1a(input)));
    if let Err(e) = fs::write(&path, input) {
        eprintln!("aigw-fuzz: cannot save {}: {e}", path.display());
    }
    path
}

/// Runs each target in a worker process, keeps what a dying worker left behind, and prints the
/// per-target summary.
fn supervise(options: &Options) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("aigw-fuzz: cannot find my own executable: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "aigw-fuzz: seed {} ({} s per target, inputs up to {} bytes{})",
        options.seed,
        options.seconds,
        options.max_len,
        if options.ignored.is_empty() {
            String::new()
        } else {
            format!(", ignoring {}", options.ignored.join(", "))
        }
    );
    let mut summaries = Vec::new();
    let mut any_finding = false;
    for &target in &options.targets {
        let mut command = Command::new(&exe);
        command
            .args(["--worker", "--target", target.name()])
            .args(["--seconds", &options.seconds.to_string()])
            .args(["--seed", &target_seed(options.seed, target).to_string()])
            .args(["--max-len", &options.max_len.to_string()])
            .args(["--timeout-ms", &options.timeout.as_millis().to_string()])
            .arg("--dir")
            .arg(&options.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if options.stop_on_first {
            command.arg("--stop-on-first");
        }
        for property in &options.ignored {
            command.args(["--ignore-property", property]);
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                eprintln!("aigw-fuzz: cannot start the {} worker: {e}", target.name());
                return ExitCode::from(2);
            }
        };
        let limit = Duration::from_secs_f64(options.seconds) + WORKER_GRACE;
        let started = Instant::now();
        let mut hung = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if started.elapsed() > limit => {
                    hung = true;
                    let _ = child.kill();
                    break child.wait().ok();
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(_) => break None,
            }
        };
        let mut stdout = String::new();
        if let Some(mut out) = child.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        let stats: Option<Value> = stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok());
        let current = current_input_path(&options.dir, target);
        let clean_exit =
            !hung && status.is_some_and(|s| s.code() == Some(0) || s.code() == Some(1));
        if clean_exit {
            any_finding |= status.is_some_and(|s| s.code() == Some(1));
        } else {
            any_finding = true;
            let what = if hung {
                format!(
                    "overran its {} s budget by {} s and was killed",
                    options.seconds,
                    WORKER_GRACE.as_secs()
                )
            } else {
                format!(
                    "died ({})",
                    status.map_or("unknown status".to_string(), |s| s.to_string())
                )
            };
            match read_current(&current) {
                Some(input) => {
                    let path = save_finding(&options.dir, target, &input);
                    eprintln!(
                        "FINDING target={} input={} : the worker {what} while running this input ({})",
                        target.name(),
                        path.display(),
                        escape(&input, 200)
                    );
                }
                None => eprintln!(
                    "FINDING target={}: the worker {what}; no input was recorded",
                    target.name()
                ),
            }
        }
        let _ = fs::remove_file(&current);
        summaries.push((target, stats, clean_exit));
    }
    println!(
        "\n{:<11} {:>10} {:>10} {:>9} {:>7} {:>9}",
        "target", "execs", "execs/s", "outcomes", "corpus", "findings"
    );
    for (target, stats, clean) in &summaries {
        let Some(stats) = stats else {
            println!(
                "{:<11} {:>10} {:>10} {:>9} {:>7} {:>9}",
                target.name(),
                "-",
                "-",
                "-",
                "-",
                "crash"
            );
            continue;
        };
        let field = |name: &str| stats.get(name).and_then(Value::as_f64).unwrap_or(0.0);
        let execs = field("execs");
        let seconds = field("seconds").max(1e-9);
        let findings = match (clean, field("distinct_findings")) {
            (false, n) => format!("{}+crash", n as u64),
            (true, n) => (n as u64).to_string(),
        };
        println!(
            "{:<11} {:>10} {:>10.0} {:>9} {:>7} {:>9}",
            target.name(),
            execs as u64,
            execs / seconds,
            field("outcomes") as u64,
            field("corpus") as u64,
            findings
        );
    }
    if any_finding {
        println!(
            "\naigw-fuzz: findings saved under {}",
            options.dir.join("crashes").display()
        );
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The input a worker recorded before running it: an 8-byte length, then the bytes.
fn read_current(path: &Path) -> Option<Vec<u8>> {
    let bytes = fs::read(path).ok()?;
    let len = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
    bytes.get(8..8 + len).map(<[u8]>::to_vec)
}

/// Records the input about to run, with one positioned write (no fsync: the page cache
/// outlives a crashed process).
struct CurrentInput {
    file: File,
    buf: Vec<u8>,
}

impl CurrentInput {
    fn create(path: &Path) -> std::io::Result<CurrentInput> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let file = File::options()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)?;
        Ok(CurrentInput {
            file,
            buf: Vec::new(),
        })
    }

    fn record(&mut self, input: &[u8]) {
        self.buf.clear();
        self.buf
            .extend_from_slice(&(input.len() as u64).to_le_bytes());
        self.buf.extend_from_slice(input);
        let _ = self.file.write_all_at(&self.buf, 0);
    }
}

fn load_corpus(dir: &Path, target: Target) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = ["corpus", "regressions"]
        .iter()
        .filter_map(|sub| fs::read_dir(dir.join(sub).join(target.name())).ok())
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    let mut corpus: Vec<Vec<u8>> = paths.iter().filter_map(|p| fs::read(p).ok()).collect();
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    corpus
}

/// Deletes chunks of `input` (halving their size) while the same finding reproduces.
fn minimize(target: Target, input: &[u8], signature: &str, current: &mut CurrentInput) -> Vec<u8> {
    let deadline = Instant::now() + MINIMIZE_BUDGET;
    let mut best = input.to_vec();
    let mut chunk = best.len().div_ceil(2);
    while chunk >= 1 && Instant::now() < deadline {
        let mut at = 0;
        while at < best.len() && Instant::now() < deadline {
            let mut candidate = best[..at].to_vec();
            candidate.extend_from_slice(&best[(at + chunk).min(best.len())..]);
            current.record(&candidate);
            match run_one(target, &candidate) {
                Err(f) if f.signature() == signature => best = candidate,
                _ => at += chunk,
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    best
}

/// The fuzzing loop of one target; prints a JSON stats line on stdout at the end.
fn worker(options: &Options) -> ExitCode {
    install_panic_hook();
    ignore_properties(&options.ignored);
    let target = options.targets[0];
    let dir = &options.dir;
    let mut current = match CurrentInput::create(&current_input_path(dir, target)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "aigw-fuzz: cannot create {}: {e}",
                current_input_path(dir, target).display()
            );
            return ExitCode::from(2);
        }
    };
    let mut rng = Rng::new(options.seed);
    let dict = target.dictionary();
    let mut corpus = load_corpus(dir, target);
    let mut outcomes: HashSet<u64> = HashSet::new();
    let mut signatures: HashSet<String> = HashSet::new();
    let mut findings = 0u64;
    let mut execs = 0u64;

    // The seeds first: a broken seed is a finding like any other.
    let mut queue: Vec<Vec<u8>> = corpus.clone();
    let started = Instant::now();
    let budget = Duration::from_secs_f64(options.seconds);
    let mut next_report = Duration::from_secs(10);
    let max_len = options.max_len;
    loop {
        let elapsed = started.elapsed();
        if elapsed >= budget || (options.stop_on_first && findings > 0) {
            break;
        }
        if elapsed >= next_report {
            eprintln!(
                "[{}] {:>4.0} s: {execs} execs ({:.0}/s), {} outcomes, corpus {}",
                target.name(),
                elapsed.as_secs_f64(),
                execs as f64 / elapsed.as_secs_f64(),
                outcomes.len(),
                corpus.len()
            );
            next_report += Duration::from_secs(10);
        }
        let input = match queue.pop() {
            Some(seed) => seed,
            None => {
                let mut mutate_fragment =
                    |rng: &mut Rng, data: &mut Vec<u8>| mutate(rng, data, &corpus, &dict, max_len);
                let generated = if rng.one_in(4) {
                    target.generate(&mut rng, &mut mutate_fragment)
                } else {
                    None
                };
                match generated {
                    Some(input) => input,
                    None => {
                        let mut input = rng.pick(&corpus).clone();
                        mutate(&mut rng, &mut input, &corpus, &dict, max_len);
                        input
                    }
                }
            }
        };
        current.record(&input);
        let run_started = Instant::now();
        let mut result = run_one(target, &input);
        let took = run_started.elapsed();
        execs += 1;
        if result.is_ok() && took > options.timeout {
            result = Err(Finding::Property(Violation::new(
                "slow_input",
                format!(
                    "one execution took {} ms (limit {} ms)",
                    took.as_millis(),
                    options.timeout.as_millis()
                ),
            )));
        }
        match result {
            Ok(outcome) => {
                let mut new = false;
                for feature in outcome {
                    new |= outcomes.insert(feature);
                }
                if new && corpus.len() < MAX_CORPUS {
                    corpus.push(input);
                }
            }
            Err(finding) => {
                findings += 1;
                let signature = finding.signature();
                if signatures.insert(signature.clone()) {
                    let small = if signature == "property slow_input" {
                        input.clone()
                    } else {
                        minimize(target, &input, &signature, &mut current)
                    };
                    let shown = match run_one(target, &small) {
                        Err(f) if f.signature() == signature => f,
                        _ => finding,
                    };
                    let path = save_finding(dir, target, &small);
                    eprintln!(
                        "FINDING target={} input={} : {shown}\n        input ({} bytes, minimized from {}): {}",
                        target.name(),
                        path.display(),
                        small.len(),
                        input.len(),
                        escape(&small, 300)
                    );
                }
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "target": target.name(),
            "execs": execs,
            "seconds": seconds,
            "outcomes": outcomes.len(),
            "corpus": corpus.len(),
            "findings": findings,
            "distinct_findings": signatures.len(),
        })
    );
    let _ = fs::remove_file(current_input_path(dir, target));
    ExitCode::from(u8::from(findings > 0))
}
