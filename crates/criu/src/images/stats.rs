//! The statistics criu leaves in an images directory: `stats-dump` (how
//! long the tree was frozen, how many pages were scanned and written) and
//! `stats-restore` (how long forking and restoring took, pages restored),
//! what container engines show after a checkpoint. Read through
//! [`super::container`], like every image.

use std::path::Path;

use prost::Message;

use super::codec::{self, ImageError};
use super::container::ImagesDir;
pub use super::pb::{DumpStatsEntry as DumpStats, RestoreStatsEntry as RestoreStats};
use crate::error::{Error, Result};

/// Both statistics of one images directory; each is `None` when criu did
/// not write it (no dump, or no restore, from this directory yet).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageStats {
    /// From `stats-dump`: times in microseconds, counts in pages.
    pub dump: Option<DumpStats>,
    /// From `stats-restore`: times in microseconds, counts in pages.
    pub restore: Option<RestoreStats>,
}

/// Reads `stats-dump` and `stats-restore` of `images_dir`; a file that is
/// not there leaves its half `None`, a damaged one is
/// `Error::InvalidArgument`.
pub fn image_stats(images_dir: &Path) -> Result<ImageStats> {
    let Some(dir) = ImagesDir::open(images_dir)? else {
        return Ok(ImageStats::default());
    };
    let dump = read_one(&dir, "stats-dump")?.and_then(|s| s.dump);
    let restore = read_one(&dir, "stats-restore")?.and_then(|s| s.restore);
    Ok(ImageStats { dump, restore })
}

/// Decodes one stats file's bytes (its single stats_entry).
pub fn decode_stats(data: &[u8]) -> std::result::Result<super::pb::StatsEntry, ImageError> {
    let body = codec::single_entry(data, "STATS")?;
    super::pb::StatsEntry::decode(body).map_err(|e| ImageError::Invalid(format!("undecodable stats_entry: {e}")))
}

fn read_one(dir: &ImagesDir, name: &str) -> Result<Option<super::pb::StatsEntry>> {
    let Some(data) = dir.read(name)? else {
        return Ok(None);
    };
    decode_stats(&data)
        .map(Some)
        .map_err(|e| Error::InvalidArgument(format!("{}: {e}", dir.path().join(name).display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_read_through_the_container_reader() {
        let dir = std::env::temp_dir().join(format!("libcriu-rs-stats-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(image_stats(&dir).unwrap(), ImageStats::default());
        assert_eq!(image_stats(&dir.join("none")).unwrap(), ImageStats::default());
        std::os::unix::fs::symlink("/etc/passwd", dir.join("stats-dump")).unwrap();
        let msg = image_stats(&dir).unwrap_err().to_string();
        assert!(msg.contains("stats-dump: a symbolic link, not followed"), "{msg}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
