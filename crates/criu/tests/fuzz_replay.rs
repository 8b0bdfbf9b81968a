//! Replays every file of fuzz/corpus/<target>/ through the target's body
//! (fuzz/targets.rs, the same code cargo-fuzz runs), on stable Rust and
//! without libFuzzer: the corpora become regression tests of `cargo test`.
//! A crash found by `fuzz/run` belongs in the corpus once fixed.

#[path = "../../../fuzz/targets.rs"]
mod targets;

use std::path::Path;

/// One test for all targets: the exchange target counts the process's
/// descriptors, which tests running in parallel threads would disturb.
#[test]
fn every_corpus_file_replays() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    every_fuzz_target_is_replayed(&fuzz);
    let corpus = fuzz.join("corpus");
    let mut failures = Vec::new();
    for (name, target) in targets::TARGETS {
        let dir = corpus.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} is empty", dir.display());
        for file in files {
            let data = std::fs::read(&file).unwrap();
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                failures.push(format!("{name}/{}", file.file_name().unwrap().to_string_lossy()));
            }
        }
    }
    assert!(failures.is_empty(), "inputs that fail: {failures:?}");
}

/// The replay covers what `make fuzz` fuzzes: every cargo-fuzz target
/// (fuzz/fuzz_targets/<name>.rs) is in TARGETS, and every corpus directory
/// belongs to one, so no target's corpus goes unreplayed unnoticed. (Called
/// by the one test, not a test of its own: its open directories would
/// disturb the exchange target's descriptor count.)
fn every_fuzz_target_is_replayed(fuzz: &Path) {
    let names = |dir: &str, strip: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(fuzz.join(dir))
            .unwrap_or_else(|e| panic!("fuzz/{dir}: {e}"))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().trim_end_matches(strip).to_owned())
            .collect();
        names.sort();
        names
    };
    let mut replayed: Vec<String> = targets::TARGETS.iter().map(|(name, _)| name.to_string()).collect();
    replayed.sort();
    assert_eq!(names("fuzz_targets", ".rs"), replayed, "cargo-fuzz targets and the replayed TARGETS differ");
    assert_eq!(names("corpus", ""), replayed, "corpus directories and the replayed TARGETS differ");
}
