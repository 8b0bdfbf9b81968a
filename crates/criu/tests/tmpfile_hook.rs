//! Tmp files for every user of criu: the plain `criu` command line, with a
//! configuration file naming criu-tmpfiles-hook as its action script, saves
//! the listed files at dump and puts them back at restore.

mod common;

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const HOOK: &str = env!("CARGO_BIN_EXE_criu-tmpfiles-hook");

/// A dump set up as a container manager would: a criu configuration file
/// with `action-script`, and the hook's list of paths in its own file.
struct Setup {
    dir: PathBuf,
    config: PathBuf,
    list: PathBuf,
    images: PathBuf,
}

impl Setup {
    fn new(name: &str, listed: &[&Path]) -> Setup {
        let dir = scratch(name);
        let (config, list, images) = (dir.join("criu.conf"), dir.join("tmp-files.conf"), dir.join("images"));
        std::fs::create_dir_all(&images).unwrap();
        std::fs::write(&config, format!("action-script {HOOK}\nlog-file criu.log\nverbosity 4\n")).unwrap();
        let mut text = String::from("# paths the tree needs\n");
        for path in listed {
            text += &format!("{}\n", path.display());
        }
        std::fs::write(&list, text).unwrap();
        Setup { dir, config, list, images }
    }

    /// Run `criu <args> -D images --config criu.conf` with the hook's list.
    fn criu(&self, args: &[&str]) -> Output {
        Command::new(criu_bin())
            .args(args)
            .arg("-D")
            .arg(&self.images)
            .arg("--config")
            .arg(&self.config)
            .env("LIBCRIU_TMP_FILES_CONF", &self.list)
            .output()
            .expect("criu runs")
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.images.join(name)).unwrap_or_default()
    }
}

/// A process reading `file` every 50 ms into `log`.
fn start_reader(file: &Path, log: &Path) -> u32 {
    let script = "open(F, '<', $ARGV[0]) or die; while (1) { seek(F, 0, 0); my $b = join('', <F>); chomp $b; \
                  open(L, '>>', $ARGV[1]); print L \"$b\\n\"; close L; select(undef, undef, undef, 0.05) }";
    let pid = start_perl(script, &[&file.display().to_string(), &log.display().to_string()]);
    wait_until("the first read", || lines(log) >= 1);
    pid
}

/// Dump the reader of `dir`/run/app.sock.d/state with criu's command line;
/// returns its pid, the file and the read log.
fn dump_reader(s: &Setup) -> (u32, PathBuf, PathBuf) {
    let state = s.dir.join("run/app.d/state");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::write(&state, "state 1").unwrap();
    let log = s.dir.join("reads.log");
    let pid = start_reader(&state, &log);
    let out = s.criu(&["dump", "-t", &pid.to_string()]);
    assert!(out.status.success(), "criu dump: {}\n{}", String::from_utf8_lossy(&out.stderr), s.log("criu.log"));
    reap(pid);
    (pid, state, log)
}

#[test]
fn the_criu_command_line_with_the_hook_puts_deleted_files_back() {
    become_subreaper();
    let s = Setup::new("hook-cli", &[]);
    std::fs::write(&s.list, format!("# what the tree needs\nlimit 1048576\n{}\n", s.dir.join("run/app.d").display()))
        .unwrap();
    let (pid, state, log) = dump_reader(&s);
    assert!(s.images.join(criu::tmpfile::ARCHIVE_NAME).exists(), "the hook saved the archive at post-dump");
    std::fs::remove_dir_all(s.dir.join("run")).unwrap();

    let out = s.criu(&["restore", "-d"]);
    assert!(out.status.success(), "criu restore: {}\n{}", String::from_utf8_lossy(&out.stderr), s.log("criu.log"));
    let before = lines(&log);
    wait_until("reads after restore", || lines(&log) >= before + 2);
    finish(pid as i32);
    assert_eq!(std::fs::read_to_string(&state).unwrap(), "state 1");
    assert_eq!(read_lines(&log).last().unwrap(), "state 1", "the restored process reads the put-back file");
}

#[test]
fn a_damaged_archive_stops_criu_restore_before_anything_is_written() {
    become_subreaper();
    let s = Setup::new("hook-cli-damaged", &[]);
    std::fs::write(&s.list, format!("{}\n", s.dir.join("run/app.d").display())).unwrap();
    let (_pid, state, _log) = dump_reader(&s);
    std::fs::remove_dir_all(s.dir.join("run")).unwrap();
    let archive = s.images.join(criu::tmpfile::ARCHIVE_NAME);
    let mut bytes = std::fs::read(&archive).unwrap();
    let at = bytes.windows(7).position(|w| w == b"state 1").expect("the data is in the archive");
    bytes[at] ^= 0x20;
    std::fs::write(&archive, bytes).unwrap();

    let out = s.criu(&["restore", "-d"]);
    assert!(!out.status.success(), "criu restore must fail");
    // criu gives the hook its log as standard error.
    let said = s.log("criu.log");
    assert!(said.contains("criu-tmpfiles-hook: ") && said.contains("checksum mismatch"), "the hook says why: {said}");
    assert!(said.contains("pre-restore script"), "criu aborted at pre-restore");
    assert!(!state.exists() && !s.dir.join("run").exists(), "nothing was written");
}

#[test]
fn a_path_over_the_limit_fails_the_dump_and_the_tree_runs_on() {
    let s = Setup::new("hook-cli-limit", &[]);
    let state = s.dir.join("big");
    std::fs::write(&state, vec![1u8; 8192]).unwrap();
    std::fs::write(&s.list, format!("limit 4096\n{}\n", state.display())).unwrap();
    let log = s.dir.join("reads.log");
    let pid = start_reader(&state, &log);
    let out = s.criu(&["dump", "-t", &pid.to_string()]);
    assert!(!out.status.success(), "criu dump must fail");
    let said = s.log("criu.log");
    assert!(said.contains("criu-tmpfiles-hook: ") && said.contains("exceed the limit of 4096 bytes"), "{said}");
    let before = lines(&log);
    wait_until("reads after the failed dump", || lines(&log) >= before + 2);
    finish(pid as i32);
    assert!(!s.images.join(criu::tmpfile::ARCHIVE_NAME).exists());
}

#[test]
fn a_later_dump_without_paths_removes_the_archive_an_earlier_one_left() {
    let s = Setup::new("hook-cli-stale", &[]);
    let state = s.dir.join("state");
    std::fs::write(&state, "state").unwrap();
    let log = s.dir.join("reads.log");
    let pid = start_reader(&state, &log);
    let archive = s.images.join(criu::tmpfile::ARCHIVE_NAME);
    for listed in [format!("{}\n", state.display()), String::new()] {
        std::fs::write(&s.list, &listed).unwrap();
        let out = s.criu(&["dump", "-t", &pid.to_string(), "--leave-running"]);
        assert!(out.status.success(), "criu dump: {}", s.log("criu.log"));
        assert_eq!(archive.exists(), !listed.is_empty(), "the archive is this dump's, or none");
    }
    finish(pid as i32);
}

#[test]
fn outside_criu_the_hook_refuses_to_run_and_ignores_other_actions() {
    let out = Command::new(HOOK).env_remove("CRTOOLS_SCRIPT_ACTION").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("action script"));
    let out = Command::new(HOOK).env("CRTOOLS_SCRIPT_ACTION", "network-lock").output().unwrap();
    assert!(out.status.success(), "other actions are not its business");
    // A list file with a relative path is refused, naming the line.
    let dir = scratch("hook-bad-list");
    std::fs::write(dir.join("list"), "# ok\nrelative/path\n").unwrap();
    let out = hook("post-dump", &dir, &[("LIBCRIU_TMP_FILES_CONF", dir.join("list").as_os_str())]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("list:2") && said.contains("not an absolute path"), "{said}");
}

/// Run the hook as criu would at `action` on `images`, with `env`.
fn hook(action: &str, images: &Path, env: &[(&str, &std::ffi::OsStr)]) -> Output {
    let mut cmd = Command::new(HOOK);
    cmd.env("CRTOOLS_SCRIPT_ACTION", action).env("CRTOOLS_IMAGE_DIR", images);
    for var in ["LIBCRIU_TMP_FILES", "LIBCRIU_TMP_FILES_CONF", "LIBCRIU_TMP_FILE_LIMIT"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn the_list_comes_from_the_environment_or_the_file_which_can_turn_the_put_back_off() {
    let dir = scratch("hook-env");
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let (a, b) = (dir.join("a"), dir.join("b"));
    std::fs::write(&a, "a").unwrap();
    std::fs::write(&b, "b").unwrap();
    let list = std::ffi::OsString::from(format!("{}:{}", a.display(), b.display()));
    let out = hook("post-dump", &images, &[("LIBCRIU_TMP_FILES", &list)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(criu::tmpfile::list(File::open(&images).unwrap().as_fd()).unwrap().len(), 2);
    std::fs::remove_file(&a).unwrap();
    std::fs::remove_file(&b).unwrap();

    // "put-back off" in the list file: a restore leaves the files in the images.
    let conf = dir.join("tmp-files.conf");
    std::fs::write(&conf, format!("put-back off\n{}\n", a.display())).unwrap();
    let out = hook("pre-restore", &images, &[("LIBCRIU_TMP_FILES_CONF", conf.as_os_str())]);
    assert!(out.status.success() && !a.exists() && !b.exists(), "{}", String::from_utf8_lossy(&out.stderr));
    // The variable names only a: the put-back narrows to it.
    let out = hook("pre-restore", &images, &[("LIBCRIU_TMP_FILES", a.as_os_str())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(a.exists() && !b.exists(), "only the listed path comes back");
    // A limit below the archive's size refuses it, naming the limit.
    let out = hook("pre-restore", &images, &[("LIBCRIU_TMP_FILE_LIMIT", "16".as_ref())]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("above the limit of 16 bytes"));
    assert!(!b.exists());
}
