//! Images directory readers for C callers: the dump and restore
//! statistics criu leaves there.

use std::ffi::{c_char, c_int, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::guard;
use criu::images::{image_stats, ImageStats};

/// The statistics of an images directory (`criu_get_image_stats()`): what
/// criu wrote to `stats-dump` and `stats-restore`. Times are in
/// microseconds, counts in pages (of the system page size).
#[repr(C)]
#[derive(Default)]
pub struct criu_image_stats {
    /// 1 when `stats-dump` was read (the `dump_*` fields are set), else 0.
    pub has_dump: c_int,
    /// How long freezing the tree took.
    pub dump_freezing_time: u32,
    /// How long the tree stayed frozen.
    pub dump_frozen_time: u32,
    /// Time spent collecting memory, and writing it.
    pub dump_memdump_time: u32,
    pub dump_memwrite_time: u32,
    /// Pages looked at, left to a parent (incremental) dump, written.
    pub dump_pages_scanned: u64,
    pub dump_pages_skipped_parent: u64,
    pub dump_pages_written: u64,
    /// Pages left for lazy restore.
    pub dump_pages_lazy: u64,
    /// Time resolving inotify watch paths (0 when not recorded).
    pub dump_irmap_resolve: u32,
    /// Page pipes and their buffers used (0 when not recorded).
    pub dump_page_pipes: u64,
    pub dump_page_pipe_bufs: u64,
    /// Shared memory pages scanned, left to a parent, written (0 when not recorded).
    pub dump_shpages_scanned: u64,
    pub dump_shpages_skipped_parent: u64,
    pub dump_shpages_written: u64,
    /// 1 when `stats-restore` was read (the `restore_*` fields are set), else 0.
    pub has_restore: c_int,
    /// Pages compared, and left shared copy-on-write.
    pub restore_pages_compared: u64,
    pub restore_pages_skipped_cow: u64,
    /// How long forking the tree took, and the whole restore.
    pub restore_forking_time: u32,
    pub restore_restore_time: u32,
    /// Pages restored (0 when not recorded).
    pub restore_pages_restored: u64,
}

impl From<&ImageStats> for criu_image_stats {
    fn from(s: &ImageStats) -> Self {
        let mut out = criu_image_stats::default();
        if let Some(d) = &s.dump {
            out.has_dump = 1;
            out.dump_freezing_time = d.freezing_time;
            out.dump_frozen_time = d.frozen_time;
            out.dump_memdump_time = d.memdump_time;
            out.dump_memwrite_time = d.memwrite_time;
            out.dump_pages_scanned = d.pages_scanned;
            out.dump_pages_skipped_parent = d.pages_skipped_parent;
            out.dump_pages_written = d.pages_written;
            out.dump_pages_lazy = d.pages_lazy;
            out.dump_irmap_resolve = d.irmap_resolve.unwrap_or(0);
            out.dump_page_pipes = d.page_pipes.unwrap_or(0);
            out.dump_page_pipe_bufs = d.page_pipe_bufs.unwrap_or(0);
            out.dump_shpages_scanned = d.shpages_scanned.unwrap_or(0);
            out.dump_shpages_skipped_parent = d.shpages_skipped_parent.unwrap_or(0);
            out.dump_shpages_written = d.shpages_written.unwrap_or(0);
        }
        if let Some(r) = &s.restore {
            out.has_restore = 1;
            out.restore_pages_compared = r.pages_compared;
            out.restore_pages_skipped_cow = r.pages_skipped_cow;
            out.restore_forking_time = r.forking_time;
            out.restore_restore_time = r.restore_time;
            out.restore_pages_restored = r.pages_restored.unwrap_or(0);
        }
        out
    }
}

/// Fill `stats` with the statistics criu left in `images_dir` after a dump
/// (`stats-dump`) and a restore (`stats-restore`); `has_dump` and
/// `has_restore` say which were there. Returns 0, -ENOENT when there are
/// neither, -EINVAL for a NULL argument or a damaged file (reason in
/// `criu_get_last_error()`). The files are treated as untrusted input.
#[no_mangle]
pub unsafe extern "C" fn criu_get_image_stats(images_dir: *const c_char, stats: *mut criu_image_stats) -> c_int {
    guard::boundary(-libc::EINVAL, || {
        if images_dir.is_null() || stats.is_null() {
            guard::set_last_error("criu_get_image_stats: images_dir or stats is NULL");
            return -libc::EINVAL;
        }
        // SAFETY: a NUL-terminated path, per the C API.
        let dir = OsStr::from_bytes(unsafe { CStr::from_ptr(images_dir) }.to_bytes());
        match image_stats(Path::new(dir)) {
            Ok(found) if found.dump.is_none() && found.restore.is_none() => {
                guard::set_last_error(format!("{}: no stats-dump or stats-restore", dir.to_string_lossy()));
                -libc::ENOENT
            }
            Ok(found) => {
                // SAFETY: the caller's struct, checked non-NULL above.
                unsafe { stats.write_unaligned(criu_image_stats::from(&found)) };
                0
            }
            Err(e) => {
                guard::set_last_error(e.to_string());
                e.return_value()
            }
        }
    })
}
