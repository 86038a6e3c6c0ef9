//! Replays the seed corpus (`fuzz/corpus/<target>/`) and every kept finding
//! (`fuzz/regressions/<target>/`) through the same property checks the fuzzer runs. Kept
//! findings so far: an unclosed `[` in a URL host panicked in route resolution, and the SSE
//! decoder's size limit depended on how the bytes were split into reads; both fixed in core.

use std::fs;
use std::path::{Path, PathBuf};

use aigw_fuzz::{run_one, Target};

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
