//! criu configuration files named in the options (libcriu 4.2's
//! `criu_set_config_file()`), with the real criu: CRIU_BIN (4.2.1 in
//! `make test`) and CRIU_OLD_BIN (4.1.1), which read them the same way.

mod common;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use common::*;
use criu::{ops, Error};

#[test]
fn settings_only_in_the_config_file_take_effect() {
    become_subreaper();
    for (n, bin) in criu_bins().iter().enumerate() {
        ghost_limit_and_log_file_from_the_config_file(bin, &scratch(&format!("config-{n}")));
    }
}

/// A process holding a deleted 2 MiB file cannot be dumped within criu's
/// default ghost limit (1 MiB); a config file that raises the limit makes
/// the same dump succeed, and its log file wins over the options' one.
fn ghost_limit_and_log_file_from_the_config_file(bin: &Path, dir: &Path) {
    let (pid, log, original) = start_ghost_reader(dir, 2 << 20);

    let images = File::open(dir).unwrap();
    let with = |config: Option<&Path>, log_file: &str| {
        let mut o = options();
        o.set_service_binary(bin).set_images_dir_fd(images.as_raw_fd()).set_pid(pid as i32);
        o.set_log_file(log_file);
        if let Some(config) = config {
            o.set_config_file(config.to_str().unwrap());
        }
        o
    };

    let mut plain = with(None, "plain.log");
    plain.set_leave_running(true);
    let err = ops::dump(&mut plain).expect_err("criu's default ghost limit is 1 MiB");
    assert!(err.to_string().contains("ghost file"), "{bin:?}: {err}");

    let config = dir.join("criu.conf");
    std::fs::write(&config, "ghost-limit=8M\nlog-file=from-config.log\n").unwrap();
    ops::dump(&mut with(Some(&config), "dump.log"))
        .unwrap_or_else(|e| panic!("{bin:?}: the config file's ghost limit lets the file travel: {e}"));
    reap(pid);
    assert!(dir.join("from-config.log").exists(), "{bin:?}: criu logs where the config file says");
    assert!(!dir.join("dump.log").exists(), "{bin:?}: the config file wins over the options");

    let mut restore = options();
    restore.set_service_binary(bin).set_images_dir_fd(images.as_raw_fd()).set_log_file("restore.log");
    let restored = ops::restore(&mut restore).unwrap_or_else(|e| panic!("{bin:?}: restore: {e}"));
    let before = lines(&log);
    wait_until("reads after restore", || lines(&log) >= before + 3);
    finish(restored);
    assert!(read_lines(&log)[before..].iter().all(|l| *l == original), "{bin:?}: restored reads differ");
}

/// criu would skip a config file it cannot open and run on the options
/// alone; the library refuses it before starting criu, naming it.
#[test]
fn a_missing_config_file_is_refused_and_named() {
    let dir = scratch("config-missing");
    let images = File::open(&dir).unwrap();
    let missing = dir.join("no-such.conf");
    let mut o = options();
    o.set_images_dir_fd(images.as_raw_fd()).set_log_file("restore.log");
    o.set_config_file(missing.to_str().unwrap());
    let err = ops::restore(&mut o).expect_err("a missing config file fails the request");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert_eq!(err.return_value(), -libc::EINVAL);
    let message = err.to_string();
    assert!(message.contains(missing.to_str().unwrap()) && message.contains("No such file"), "{message}");
    assert!(!dir.join("restore.log").exists(), "criu was not started");

    // The same file, once written, is read: criu answers as usual.
    std::fs::write(&missing, "").unwrap();
    ops::version(&mut o).expect("an existing (empty) config file is fine");
}
