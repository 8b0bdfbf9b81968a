//! Replays every file of fuzz/corpus/<target>/ through the target's body
//! (fuzz/targets.rs, the same code cargo-fuzz runs), on stable Rust and
//! without libFuzzer: the corpora become regression tests of `cargo test`.
//! A crash found by `fuzz/run` belongs in the corpus once fixed.

#[path = "../../../fuzz/targets.rs"]
mod targets;

use std::path::Path;

/// Held by each test of this file: the exchange target counts the
/// process's descriptors, which tests running in parallel threads would
/// disturb.
static DESCRIPTORS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One test for all targets (see [`DESCRIPTORS`]).
#[test]
fn every_corpus_file_replays() {
    let _alone = DESCRIPTORS.lock().unwrap_or_else(|p| p.into_inner());
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

/// Crashes fuzzing found, kept in the corpora: each is replayed above
/// (no panic), and here the reader is shown to refuse it with a message
/// that says why: (target, corpus file, what the message must say).
const FOUND: &[(&str, &str, &str)] = &[
    // A hard link naming its own path: the reader looked its file up at
    // the link's own index, before that entry was stored (index out of
    // bounds).
    ("tmpfile", "hard-link-to-itself", "(\"/tmp/d/h\"): is a hard link to itself"),
    // An inet socket whose source address has 7 words: the pretty dict
    // showed an IPv6 address of the first four (as crit does), so it
    // encoded to other bytes than the plain one (a property of the codec
    // target, not a panic). Pretty decoding now refuses it.
    ("codec", "ipadd-seven-words", "an address field holds 7 words (1 for IPv4, 4 for IPv6)"),
];

#[test]
fn inputs_that_crashed_are_refused_with_a_message() {
    let _alone = DESCRIPTORS.lock().unwrap_or_else(|p| p.into_inner());
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for (target, name, why) in FOUND {
        let data = std::fs::read(corpus.join(target).join(name)).unwrap_or_else(|e| panic!("{target}/{name}: {e}"));
        let message = match *target {
            "tmpfile" => {
                let dir = std::env::temp_dir().join(format!("libcriu-fuzz-found-{}", std::process::id()));
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join(criu::tmpfile::ARCHIVE_NAME), &data).unwrap();
                let images = std::fs::File::open(&dir).unwrap();
                let listed = criu::tmpfile::list(std::os::fd::AsFd::as_fd(&images));
                std::fs::remove_dir_all(&dir).unwrap();
                match listed {
                    Err(criu::Error::InvalidArgument(m)) => m,
                    other => panic!("{target}/{name}: not refused: {other:?}"),
                }
            }
            "codec" => {
                assert!(criu::images::decode(&data, false, false).is_ok(), "{target}/{name}: the plain dict decodes");
                match criu::images::decode(&data, true, false) {
                    Err(e) => e.to_string(),
                    Ok(_) => panic!("{target}/{name}: not refused in pretty mode"),
                }
            }
            other => panic!("no reader for target {other}"),
        };
        assert!(message.contains(why), "{target}/{name}: the message does not say {why:?}: {message}");
    }
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
