//! CRIU's image files: every kind CRIU 4.2.1 writes, read and written with
//! the output of CRIU's own `crit` and pycriu.
//!
//! # Module map
//!
//! From the disk up, each layer using only those above it:
//!
//! | module | its one job |
//! |---|---|
//! | [`container`] | the only reader of image files: `openat` under the directory, no symbolic link followed, regular files only, bounded size |
//! | [`schema`] | `KINDS`, the one table of magic numbers (name, message type, payload after each entry), and the compiled schemas with their `(criu)` field options |
//! | [`codec`] | the framing: magics, entry lengths, payloads; image bytes to and from `{"magic", "entries"}` ([`decode`], [`encode`], [`info`]), and the strict typed reader ([`codec::typed_entries`]) |
//! | [`dict`] | one message to and from pycriu's dict (`pb2dict`/`dict2pb`) |
//! | [`flags`] | the names pycriu gives flag bits and values in "pretty" dicts |
//! | [`text`] | Python's text forms: base64 lines, quoted-printable, hex, `int()`, addresses, devices |
//! | [`pyjson`] | JSON text as Python's `json.dumps` writes it |
//! | [`explore`] | `crit x DIR ps\|fds\|mems\|rss` |
//! | [`stats`] | `stats-dump` / `stats-restore` ([`image_stats`]) |
//! | `externals` | what a restore must be handed with inherit-fd ([`external_resources`]) |
//! | [`cli`] | the `criu-image` command line, shared by the binary and Python's `libcriu.crit` |
//! | `pb`, `wire` | prost's generated types of the messages read natively; the protobuf wire walk build.rs shares |
//!
//! Explore, stats and externals take a directory; [`cli`] takes paths and
//! streams; all of them read files through [`container`] only. The codec,
//! dict, flags, text and pyjson are pure functions of bytes and values (no
//! files), which fuzzing and the Python module reuse unchanged.

pub mod cli;
pub mod codec;
pub mod container;
pub mod dict;
pub mod explore;
mod externals;
pub mod flags;
mod pb;
pub mod pyjson;
pub mod schema;
pub mod stats;
pub mod text;
#[allow(dead_code)] // build.rs uses the rest
mod wire;

pub use codec::{decode, encode, info, ImageError};
pub use externals::{external_resources, ExternalKind, ExternalResource};
pub use stats::{image_stats, DumpStats, ImageStats, RestoreStats};
