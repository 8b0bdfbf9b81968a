//! CRIU's image files: every kind CRIU 4.2.1 writes, read and written with
//! the output of CRIU's own `crit` and pycriu.
//!
//! # Module map
//!
//! From the disk up, each module building on those above it (`pb` and
//! `wire`, last, serve them all):
//!
//! | module | its one job |
//! |---|---|
//! | [`container`] | the only reader of image files: `openat` under the directory, no symbolic link followed, regular files only, bounded size |
//! | [`schema`] | `KINDS`, the one table of magic numbers (name, message type, payload after each entry), and the compiled schemas with their `(criu)` field options |
//! | [`codec`] | the framing only: magics, entry lengths, protobuf messages and the payloads after them; bytes to and from a typed [`codec::Image`] (entry by entry: [`codec::Reader`], [`codec::Writer`]), and the strict typed reader ([`codec::typed_entries`]) |
//! | [`text`] | Python's text forms: base64 lines, quoted-printable, hex, `int()`, addresses, devices, `--nopl` sizes |
//! | [`flags`] | the names pycriu gives flag bits and values in "pretty" dicts |
//! | [`dict`] | one message to and from pycriu's dict (`pb2dict`/`dict2pb`) |
//! | [`image_dict`] | a whole image to and from pycriu's `{"magic", "entries"}` dict, payloads under `"extra"` ([`decode`], [`encode`], [`info`]) |
//! | [`pyjson`] | JSON text as Python's `json.dumps` writes it |
//! | [`explore`] | `crit x DIR ps\|fds\|mems\|rss` |
//! | [`stats`] | `stats-dump` / `stats-restore` ([`image_stats`]) |
//! | `externals` | what a restore must be handed with inherit-fd ([`external_resources`]) |
//! | [`cli`] | the `criu-image` command line, shared by the binary and Python's `libcriu.crit` |
//! | `pb`, `wire` | prost's generated types of the messages read natively; the protobuf wire walk build.rs shares |
//!
//! Explore, stats and externals take a directory; [`cli`] takes paths and
//! streams; all of them read files through [`container`] only. The codec,
//! image_dict, dict, flags, text and pyjson are pure functions of bytes and
//! values (no files), which fuzzing and the Python module reuse unchanged.

pub mod cli;
pub mod codec;
pub mod container;
pub mod dict;
pub mod explore;
mod externals;
pub mod flags;
pub mod image_dict;
mod pb;
pub mod pyjson;
pub mod schema;
pub mod stats;
pub mod text;
#[allow(dead_code)] // build.rs uses the rest
mod wire;

pub use codec::ImageError;
pub use externals::{external_resources, ExternalKind, ExternalResource};
pub use image_dict::{decode, encode, info};
pub use stats::{image_stats, DumpStats, ImageStats, RestoreStats};
