//! Replays the seed corpus (`fuzz/corpus/<target>/`) and every kept finding
//! (`fuzz/regressions/<target>/`) through the same property checks the cargo-fuzz targets run,
//! on stable Rust. Kept findings so far: an unclosed `[` in a URL host panicked in route
//! resolution, and the SSE decoder's size limit depended on how the bytes were split into
//! reads; both fixed in core.

use std::fs;
use std::path::{Path, PathBuf};

use aigw_fuzz::targets::config::marker_only_in_secret_values;
use aigw_fuzz::{render_dictionary, run_one, Target};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Replays every file of `sub/<target>/`; returns the number of files replayed.
fn replay_dir(sub: &str) -> usize {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for target in Target::ALL {
        for path in files(&fuzz_dir().join(sub).join(target.name())) {
            let input = fs::read(&path).expect("read input");
            replayed += 1;
            if let Err(finding) = run_one(target, &input) {
                failures.push(format!("{} ({}): {finding}", path.display(), target.name()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    replayed
}

#[test]
fn seed_corpus_passes_every_property() {
    let replayed = replay_dir("corpus");
    assert!(replayed >= 4 * 5, "only {replayed} seed inputs found");
}

#[test]
fn kept_findings_pass_every_property() {
    let replayed = replay_dir("regressions");
    assert!(replayed >= 3, "only {replayed} kept findings found");
}

#[test]
fn every_target_has_seeds() {
    for target in Target::ALL {
        let seeds = files(&fuzz_dir().join("corpus").join(target.name()));
        assert!(
            seeds.len() >= 5,
            "{} has {} seeds",
            target.name(),
            seeds.len()
        );
    }
}

/// The `planted_*` config seeds hold the marker only as the value of a secret key and parse,
/// so that the fuzzer starts from configs on which the "never repeat the key" properties bite.
#[test]
fn planted_config_seeds_hold_the_marker_as_a_secret_value() {
    let planted: Vec<PathBuf> = files(&fuzz_dir().join("corpus/config"))
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("planted_"))
        })
        .collect();
    assert!(planted.len() >= 8, "only {} planted seeds", planted.len());
    for path in planted {
        let text = fs::read_to_string(&path).expect("read seed");
        assert!(marker_only_in_secret_values(&text), "{}", path.display());
        let parsed = aigw_core::ConfigFile::from_toml_str(&text)
            .or_else(|_| aigw_core::ConfigFile::from_json_str(&text));
        assert!(parsed.is_ok(), "{}: {parsed:?}", path.display());
    }
}

/// `fuzz/dict/<target>.dict` (libFuzzer's `-dict=`) is the target's `dictionary()`, so that
/// field names added to core reach the fuzzer. `AIGW_FUZZ_WRITE_DICTS=1 cargo test -p
/// aigw-fuzz` rewrites them.
#[test]
fn dictionaries_are_current() {
    let write = std::env::var_os("AIGW_FUZZ_WRITE_DICTS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for target in Target::ALL {
        let path = fuzz_dir()
            .join("dict")
            .join(format!("{}.dict", target.name()));
        let expected = render_dictionary(&target.dictionary());
        if write {
            fs::create_dir_all(path.parent().expect("dict dir")).expect("create dict dir");
            fs::write(&path, &expected).expect("write dictionary");
        } else if fs::read_to_string(&path).ok().as_deref() != Some(expected.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale fuzz dictionaries (rewrite with AIGW_FUZZ_WRITE_DICTS=1 cargo test -p aigw-fuzz): {}",
        stale.join(", ")
    );
}
