//! The strings that name resources to criu: `external` ids and the keys of
//! `inherit_fd` entries.
//!
//! criu compares these strings with the ones it builds itself, byte for byte,
//! and says nothing when nothing matches: a pipe key spelt `pipe[12]` instead
//! of `pipe:[12]` makes a restore "succeed" with a fresh pipe nobody reads.
//! So this module checks keys against the exact grammar criu 4.1.1 produces
//! and can also work the right key out from a live descriptor.
//!
//! Where each form comes from in criu's source (`criu/`):
//!
//! | form | where criu builds or reads it |
//! |------|-------------------------------|
//! | `file[MNT_ID:INODE]` (hex) | `dump_one_reg_file` (files-reg.c): whole-string lookup at dump; the same string names the file at restore (`open_path`) |
//! | `tty[RDEV:DEV]` (hex) | `get_tty_driver` (tty.c) at dump and restore, `tty_d_name` for inherited fds |
//! | `unix[INODE]` (decimal) | `unix_sk_exception_lookup_id` (sk-unix.c): the dumped task's own socket, whose peer is outside |
//! | `dev[MAJOR/MINOR]:NAME`, `dev[NAME]:DEVPATH` | `try_resolve_ext_mount` (dump, decimal numbers), `resolve_source` (restore) in mount.c |
//! | `mnt[KEY]:VALUE` | `ext_mount_lookup` (mount.c): mountpoint→cookie at dump, cookie→root at restore |
//! | `mnt[]`, `mnt[]:m`, `mnt[]:s` | `add_external` → `ext_mount_parse_auto` (external.c, mount.c) |
//! | `veth[IFNAME]:OUTSIDE[@BRIDGE]` | `veth_peer_info`, `move_to_bridge` (net.c) |
//! | `macvlan[IFNAME]:OUTSIDE` | `macvlan_ext_add`, `restore_one_macvlan` (net.c) |
//! | `netdev[IFNAME]:OUTSIDE` | `__restore_link` (net.c): move a pre-made veth end in |
//! | `net[INODE]:LABEL` (decimal) | `collect_net_ns` (net.c); LABEL is the inherit key at restore (`net_set_ext`) |
//! | `pid[INODE]:LABEL` (decimal) | `collect_pid_ns`, `dump_namespaces` (namespaces.c); LABEL is the inherit key at restore (`fork_with_pid`, cr-restore.c) |
//!
//! Inherit keys, all matched whole by `inherit_fd_lookup_id` (files.c),
//! mostly through the `name` hook of a file type (`inherited_fd`):
//!
//! | key | criu function naming the file |
//! |-----|-------------------------------|
//! | `pipe:[INODE]` (decimal) | `pipe_d_name` (pipes.c) |
//! | `socket:[INODE]` (decimal, unix sockets only) | `socket_d_name` (sk-unix.c) |
//! | `tty[RDEV:DEV]` (hex) | `tty_d_name`, `get_tty_driver` (tty.c) |
//! | `file[MNT_ID:INODE]` (hex) | `open_path` (files-reg.c), for files dumped as external |
//! | `/memfd:NAME` | `memfd_d_name` (memfd.c) |
//! | `path/to/file` (no leading `/`; `.` for `/`) | `reg_file_path` via `collect_one_regfile` (files-reg.c); also named FIFOs (fifo.c) and the char devices criu dumps as files (`/dev/null` and the rest of major 1) |
//! | a namespace LABEL | `net_set_ext` (net.c), `fork_with_pid` (cr-restore.c) |

use std::fmt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use crate::error::{Error, Result};

// ---------------------------------------------------------------------------
// external ids

/// A resource named in an `external` entry: at dump it is left out of the
/// images (or mapped to a name), at restore it tells criu what to put back
/// in its place. Which kinds apply at which stage is noted on each variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalId {
    /// `file[MNT_ID:INODE]` (dump): an open file criu should not dump; hand
    /// it back at restore with this same string as the inherit key.
    File { mnt_id: u32, ino: u64 },
    /// `tty[RDEV:DEV]` (dump): a terminal outside the dumped tree, or any
    /// character device criu should treat as one. Hand it back at restore
    /// with the same string as the inherit key.
    Tty { rdev: u64, dev: u64 },
    /// `unix[INODE]` (dump): a unix socket of the dumped task whose peer is
    /// outside the tree.
    Unix { ino: u32 },
    /// `dev[KEY]:VALUE`. At dump KEY is `MAJOR/MINOR` (decimal) of a mount's
    /// device and VALUE the name to record; at restore KEY is that name and
    /// VALUE the device path to mount.
    Dev { key: String, value: String },
    /// `mnt[KEY]:VALUE`. At dump KEY is a mountpoint and VALUE a cookie; at
    /// restore KEY is the cookie and VALUE the directory to bind-mount.
    Mnt { key: String, value: String },
    /// `mnt[]` with an optional `:m` or `:s`: detect external bind mounts
    /// automatically, optionally also master or shared ones.
    MntAuto(Option<MntAutoFlag>),
    /// `veth[IFNAME]:OUTSIDE[@BRIDGE]` (restore): create the veth pair with
    /// this outside end, optionally plugged into a bridge.
    Veth { name: String, outside: String, bridge: Option<String> },
    /// `macvlan[IFNAME]:OUTSIDE` (restore): the parent device of a macvlan.
    /// criu resolves OUTSIDE as soon as it reads the option.
    Macvlan { name: String, outside: String },
    /// `netdev[IFNAME]:OUTSIDE` (restore): move an existing device in
    /// instead of creating the veth.
    Netdev { name: String, outside: String },
    /// `net[INODE]:LABEL` (dump): leave this network namespace out; at
    /// restore LABEL is the inherit key of a namespace fd.
    NetNs { ino: u32, label: String },
    /// `pid[INODE]:LABEL` (dump): same for a pid namespace.
    PidNs { ino: u32, label: String },
}

/// What `mnt[]:FLAG` adds to mount auto-detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MntAutoFlag {
    /// `m`: external master mounts are allowed too.
    Masters,
    /// `s`: external shared mounts are allowed too.
    Sharing,
}

const EXTERNAL_KINDS: &str = "file, tty, unix, dev, mnt, veth, macvlan, netdev, net, pid";

impl ExternalId {
    /// Reads an external id, accepting exactly the spellings criu can match.
    /// Numbers criu prints itself must be spelt as criu prints them (no
    /// leading zeros, lowercase hex, no `0x`), since criu compares strings.
    pub fn parse(key: &str) -> Result<Self> {
        Self::parse_inner(key).map_err(|why| Error::InvalidArgument(format!("external {key:?}: {why}")))
    }

    fn parse_inner(key: &str) -> std::result::Result<Self, String> {
        common_checks(key)?;
        let Some(open) = key.find('[') else {
            return Err(match EXTERNAL_KINDS.split(", ").any(|k| k == key) {
                true => "missing '[' after the kind".into(),
                false => format!("unknown kind (criu knows {EXTERNAL_KINDS}, each followed by '[')"),
            });
        };
        let (kind, body) = (&key[..open], &key[open + 1..]);
        Ok(match kind {
            "file" => {
                let (m, i) = pair(closed(body)?, "MNT_ID:INODE")?;
                ExternalId::File { mnt_id: hex(m, u32::MAX.into())? as u32, ino: hex(i, u64::MAX)? }
            }
            "tty" => {
                let (r, d) = pair(closed(body)?, "RDEV:DEV")?;
                ExternalId::Tty { rdev: hex(r, u64::MAX)?, dev: hex(d, u64::MAX)? }
            }
            "unix" => ExternalId::Unix { ino: dec_u32(closed(body)?)? },
            "mnt" if body.starts_with(']') => ExternalId::MntAuto(match &body[1..] {
                "" | ":" => None,
                ":m" => Some(MntAutoFlag::Masters),
                ":s" => Some(MntAutoFlag::Sharing),
                rest => return Err(format!("after 'mnt[]' only ':m' or ':s' may follow, not {rest:?}")),
            }),
            "dev" => {
                let (key, value) = keyed(body)?;
                ExternalId::Dev { key: key.into(), value: value.into() }
            }
            "mnt" => {
                let (key, value) = keyed(body)?;
                ExternalId::Mnt { key: key.into(), value: value.into() }
            }
            "veth" => {
                let (name, value) = keyed(body)?;
                let (outside, bridge) = match value.split_once('@') {
                    Some((o, b)) => (o, Some(ifname(b, "bridge")?)),
                    None => (value, None),
                };
                ExternalId::Veth {
                    name: ifname(name, "interface")?,
                    outside: ifname(outside, "outside interface")?,
                    bridge,
                }
            }
            "macvlan" | "netdev" => {
                let (name, value) = keyed(body)?;
                let (name, outside) = (ifname(name, "interface")?, ifname(value, "outside interface")?);
                match kind {
                    "macvlan" => ExternalId::Macvlan { name, outside },
                    _ => ExternalId::Netdev { name, outside },
                }
            }
            "net" | "pid" => {
                let (ino, label) = keyed(body)?;
                let ino = dec_u32(ino)?;
                // criu hands the label back at restore as an inherit-fd key.
                InheritKey::parse_inner(label)
                    .map_err(|why| format!("the label is an inherit key at restore, and {why}"))?;
                let label = label.to_owned();
                match kind {
                    "net" => ExternalId::NetNs { ino, label },
                    _ => ExternalId::PidNs { ino, label },
                }
            }
            "" => return Err("missing kind before '['".into()),
            other => return Err(format!("unknown kind {other:?} (criu knows {EXTERNAL_KINDS})")),
        })
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternalId::File { mnt_id, ino } => write!(f, "file[{mnt_id:x}:{ino:x}]"),
            ExternalId::Tty { rdev, dev } => write!(f, "tty[{rdev:x}:{dev:x}]"),
            ExternalId::Unix { ino } => write!(f, "unix[{ino}]"),
            ExternalId::Dev { key, value } => write!(f, "dev[{key}]:{value}"),
            ExternalId::Mnt { key, value } => write!(f, "mnt[{key}]:{value}"),
            ExternalId::MntAuto(None) => f.write_str("mnt[]"),
            ExternalId::MntAuto(Some(MntAutoFlag::Masters)) => f.write_str("mnt[]:m"),
            ExternalId::MntAuto(Some(MntAutoFlag::Sharing)) => f.write_str("mnt[]:s"),
            ExternalId::Veth { name, outside, bridge: None } => write!(f, "veth[{name}]:{outside}"),
            ExternalId::Veth { name, outside, bridge: Some(b) } => write!(f, "veth[{name}]:{outside}@{b}"),
            ExternalId::Macvlan { name, outside } => write!(f, "macvlan[{name}]:{outside}"),
            ExternalId::Netdev { name, outside } => write!(f, "netdev[{name}]:{outside}"),
            ExternalId::NetNs { ino, label } => write!(f, "net[{ino}]:{label}"),
            ExternalId::PidNs { ino, label } => write!(f, "pid[{ino}]:{label}"),
        }
    }
}

/// Checks an `external` entry before it is sent, so a misspelt id fails
/// here with a reason instead of being silently ignored by criu.
pub fn validate_external(key: &str) -> Result<()> {
    ExternalId::parse(key).map(drop)
}

// ---------------------------------------------------------------------------
// inherit-fd keys

/// The name under which criu, at restore, takes a descriptor the caller
/// hands over (`inherit_fd`) instead of recreating the file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InheritKey {
    /// `pipe:[INODE]`: an unnamed pipe of the dumped tree, by the inode
    /// /proc showed for it at dump.
    Pipe(u32),
    /// `socket:[INODE]`: a unix socket of the dumped tree (criu cannot take
    /// over other sockets).
    Socket(u32),
    /// `tty[RDEV:DEV]`: a terminal, by the device numbers of the dumped one;
    /// criu's image keeps them as 32-bit values.
    Tty { rdev: u32, dev: u32 },
    /// `file[MNT_ID:INODE]`: a file that was declared external at dump with
    /// this same string.
    File { mnt_id: u32, ino: u64 },
    /// `/memfd:NAME`: a memfd, by the name it was created with.
    Memfd(String),
    /// A file criu dumped normally (also a named FIFO or `/dev/null`), by
    /// its path without the leading `/` (`.` for `/` itself). A namespace
    /// label chosen with `net[..]:LABEL` or `pid[..]:LABEL` at dump is also
    /// held here, so labels follow the same rules.
    Path(String),
}

impl InheritKey {
    /// Reads an inherit-fd key, accepting the forms criu can match and
    /// rejecting look-alikes that would be silently ignored: the
    /// `pipe[INODE]` of criu's own help text, absolute paths, numbers not
    /// spelt the way criu prints them, a whole `fd[N]:KEY` argument.
    pub fn parse(key: &str) -> Result<Self> {
        Self::parse_inner(key).map_err(|why| Error::InvalidArgument(format!("inherit-fd key {key:?}: {why}")))
    }

    fn parse_inner(key: &str) -> std::result::Result<Self, String> {
        common_checks(key)?;
        for kind in ["pipe", "socket"] {
            let Some(rest) = key.strip_prefix(kind) else { continue };
            if let Some(body) = rest.strip_prefix(":[") {
                let ino = dec_u32(closed(body)?)?;
                return Ok(if kind == "pipe" { InheritKey::Pipe(ino) } else { InheritKey::Socket(ino) });
            }
            if rest.starts_with('[') {
                return Err(format!(
                    "criu names these '{kind}:[INODE]', as /proc/PID/fd shows them; \
                     the '{kind}[INODE]' of criu's help text matches nothing"
                ));
            }
            if rest.starts_with(':') {
                return Err(format!("expected '{kind}:[INODE]'"));
            }
        }
        if let Some(body) = key.strip_prefix("tty[") {
            let (r, d) = pair(closed(body)?, "RDEV:DEV")?;
            let max = u32::MAX.into();
            return Ok(InheritKey::Tty { rdev: hex(r, max)? as u32, dev: hex(d, max)? as u32 });
        }
        if let Some(body) = key.strip_prefix("file[") {
            let (m, i) = pair(closed(body)?, "MNT_ID:INODE")?;
            return Ok(InheritKey::File { mnt_id: hex(m, u32::MAX.into())? as u32, ino: hex(i, u64::MAX)? });
        }
        if let Some(name) = key.strip_prefix("/memfd:") {
            return Ok(InheritKey::Memfd(name.to_owned()));
        }
        if key.starts_with("fd[") || key.starts_with("debug[") {
            return Err(
                "this is a whole --inherit-fd argument 'fd[N]:KEY'; give only KEY, the fd goes separately".into()
            );
        }
        if let Some(relative) = key.strip_prefix('/') {
            let relative = if relative.is_empty() { "." } else { relative };
            return Err(format!("criu looks files up by their path without the leading '/' ({relative:?})"));
        }
        if key != "." {
            for part in key.split('/') {
                if part.is_empty() {
                    return Err("empty path component ('//' or a trailing '/'); criu's paths have none".into());
                }
                if part == "." || part == ".." {
                    return Err(format!("{part:?} component; criu's paths have none"));
                }
            }
        }
        Ok(InheritKey::Path(key.to_owned()))
    }
}

impl fmt::Display for InheritKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InheritKey::Pipe(ino) => write!(f, "pipe:[{ino}]"),
            InheritKey::Socket(ino) => write!(f, "socket:[{ino}]"),
            InheritKey::Tty { rdev, dev } => write!(f, "tty[{rdev:x}:{dev:x}]"),
            InheritKey::File { mnt_id, ino } => write!(f, "file[{mnt_id:x}:{ino:x}]"),
            InheritKey::Memfd(name) => write!(f, "/memfd:{name}"),
            InheritKey::Path(path) => f.write_str(path),
        }
    }
}

/// Checks the key of an `inherit_fd` entry before it is sent: criu accepts
/// any string there and silently recreates the file when nothing matches.
pub fn validate_inherit_key(key: &str) -> Result<()> {
    InheritKey::parse(key).map(drop)
}

/// Checks that an fd to be inherited is open here: criu gets it from the
/// library's process, and a bad one only fails deep inside the restore.
pub fn validate_inherit_fd(fd: i32) -> Result<()> {
    if fd < 0 {
        return Err(Error::InvalidArgument(format!("inherit fd {fd} is negative")));
    }
    // SAFETY: F_GETFD only reads the descriptor flags.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        let err = std::io::Error::last_os_error();
        return Err(Error::InvalidArgument(format!("inherit fd {fd} is not open: {err}")));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// finding the ids of a live descriptor

/// What criu will make of an open descriptor, as far as naming it goes:
/// the same classification criu's `dump_one_file` and `dump_chrdev`
/// (files.c) apply, reduced to the kinds that can be named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdKind {
    /// An unnamed pipe.
    Pipe { ino: u32 },
    /// A unix socket (the only sockets criu can take over at restore).
    UnixSocket { ino: u32 },
    /// A character device criu dumps as a terminal: the tty majors
    /// `get_tty_driver` knows (4, 5, 128-136, 188, 204), and any other char
    /// device besides memory devices, autofs and tun, which criu then only
    /// accepts when it is declared external with its `tty[..]` id.
    Tty { rdev: u64, dev: u64 },
    /// A memfd, by the name it was created with.
    Memfd { name: String },
    /// Anything criu dumps with its regular-file code: files, directories,
    /// named FIFOs and the memory devices of major 1 (`/dev/null`,
    /// `/dev/zero`, `/dev/urandom`, ...). `path` is absolute, as the
    /// process sees it, and without the ` (deleted)` the kernel appends
    /// to unlinked files (criu drops it too).
    File { path: String, mnt_id: u32, ino: u64 },
}

impl FdKind {
    /// The key a restore needs to take this descriptor from the caller,
    /// for a file dumped normally. A file declared external at dump is
    /// named by its external id instead (see [`FdKind::external_id`]).
    pub fn inherit_key(&self) -> InheritKey {
        match self {
            FdKind::Pipe { ino } => InheritKey::Pipe(*ino),
            FdKind::UnixSocket { ino } => InheritKey::Socket(*ino),
            // The image keeps 32 bits of each, and criu names the tty by them.
            FdKind::Tty { rdev, dev } => InheritKey::Tty { rdev: *rdev as u32, dev: *dev as u32 },
            FdKind::Memfd { name } => InheritKey::Memfd(name.clone()),
            // The path is documented absolute, but the fields are public:
            // an empty or non-ASCII-led one must not be sliced mid-char.
            FdKind::File { path, .. } => InheritKey::Path(match path.strip_prefix('/').unwrap_or(path) {
                "" => ".".into(),
                relative => relative.into(),
            }),
        }
    }

    /// The id that declares this descriptor external at dump, when criu
    /// has one for its kind; the same string is then its inherit key at
    /// restore (for a unix socket it only says the peer is outside).
    pub fn external_id(&self) -> Option<ExternalId> {
        match self {
            FdKind::File { mnt_id, ino, .. } => Some(ExternalId::File { mnt_id: *mnt_id, ino: *ino }),
            FdKind::Tty { rdev, dev } => Some(ExternalId::Tty { rdev: *rdev, dev: *dev }),
            FdKind::UnixSocket { ino } => Some(ExternalId::Unix { ino: *ino }),
            FdKind::Pipe { .. } | FdKind::Memfd { .. } => None,
        }
    }
}

/// Classifies descriptor `fd` of process `pid` through /proc (its fd link,
/// a stat through it, its fdinfo), so the ids can be worked out before a
/// dump, while the process still runs. Fails for kinds criu cannot name:
/// non-unix sockets, anonymous inodes (eventfd, epoll, ...), namespace
/// files, tun, block devices.
pub fn describe_fd(pid: i32, fd: i32) -> Result<FdKind> {
    let fail = |why: String| Error::InvalidArgument(format!("fd {fd} of process {pid}: {why}"));
    if pid <= 0 || fd < 0 {
        return Err(fail("no such descriptor (pid and fd must not be negative)".into()));
    }
    let proc_fd = format!("/proc/{pid}/fd/{fd}");
    let link = std::fs::read_link(&proc_fd).map_err(|e| fail(format!("cannot read {proc_fd}: {e}")))?;
    let link = link.into_os_string().into_string().map_err(|l| fail(format!("its path {l:?} is not UTF-8")))?;
    let st = std::fs::metadata(&proc_fd).map_err(|e| fail(format!("cannot stat {proc_fd}: {e}")))?;
    let ft = st.file_type();
    let ino = st.ino();

    if ft.is_fifo() && link.starts_with("pipe:[") {
        // criu's pipe id is the pipefs inode, an unsigned int.
        return Ok(FdKind::Pipe { ino: ino as u32 });
    }
    if ft.is_socket() && link.starts_with("socket:[") {
        let table = std::fs::read_to_string(format!("/proc/{pid}/net/unix"))
            .map_err(|e| fail(format!("cannot read its unix socket table: {e}")))?;
        let ino_text = ino.to_string();
        // Columns: Num RefCount Protocol Flags Type St Inode Path.
        if table.lines().skip(1).any(|l| l.split_whitespace().nth(6) == Some(ino_text.as_str())) {
            return Ok(FdKind::UnixSocket { ino: ino as u32 });
        }
        return Err(fail(format!("{link} is not a unix socket, and criu can only take over unix sockets")));
    }
    if !link.starts_with('/') {
        return Err(fail(format!("criu cannot name {link} for inheriting or as external")));
    }
    let file = |path: String| -> Result<FdKind> {
        Ok(FdKind::File { mnt_id: fdinfo_mnt_id(pid, fd).map_err(fail)?, ino, path })
    };
    if ft.is_char_device() {
        let (rdev, dev) = (st.rdev(), st.dev());
        return match (dev_major(rdev), dev_minor(rdev)) {
            // Memory devices and autofs go through the regular-file code.
            (1, _) | (10, 235) => file(link),
            (10, 200) => Err(fail("tun devices cannot be inherited or external".into())),
            _ => Ok(FdKind::Tty { rdev, dev }),
        };
    }
    if !(ft.is_file() || ft.is_dir() || ft.is_fifo() || ft.is_symlink()) {
        return Err(fail(format!("criu does not dump this kind of file ({link})")));
    }
    if let Some(name) = link.strip_prefix("/memfd:").and_then(|n| n.strip_suffix(" (deleted)")) {
        if ft.is_file() && st.nlink() == 0 {
            return Ok(FdKind::Memfd { name: name.to_owned() });
        }
    }
    // Only an unlinked file gets " (deleted)" appended; a file really named
    // so still exists under its full name.
    let path = match link.strip_suffix(" (deleted)") {
        Some(p) if std::fs::symlink_metadata(format!("/proc/{pid}/root{link}")).is_err() => p.to_owned(),
        _ => link,
    };
    file(path)
}

/// Works out the id that declares descriptor `fd` of process `pid` external
/// at dump: `file[MNT_ID:INODE]` for a file, `tty[RDEV:DEV]` for a terminal,
/// `unix[INODE]` for a unix socket whose peer stays outside. Pipes and
/// memfds have no external form (they are dumped and can be replaced at
/// restore by their inherit key).
pub fn external_id(pid: i32, fd: i32) -> Result<String> {
    let kind = describe_fd(pid, fd)?;
    match kind.external_id() {
        Some(id) => Ok(id.to_string()),
        None => Err(Error::InvalidArgument(format!(
            "fd {fd} of process {pid}: criu has no external form for it; \
             replace it at restore with inherit key {}",
            kind.inherit_key()
        ))),
    }
}

/// Works out the key under which a restore takes descriptor `fd` of
/// process `pid` (as it is now, before the dump) from the caller:
/// `pipe:[INODE]`, `socket:[INODE]`, `tty[RDEV:DEV]`, `/memfd:NAME`, or the
/// path without its leading `/`. A file declared external at dump is
/// instead named by the id [`external_id`] gives.
pub fn inherit_key(pid: i32, fd: i32) -> Result<String> {
    Ok(describe_fd(pid, fd)?.inherit_key().to_string())
}

// ---------------------------------------------------------------------------
// helpers

fn fdinfo_mnt_id(pid: i32, fd: i32) -> std::result::Result<u32, String> {
    let path = format!("/proc/{pid}/fdinfo/{fd}");
    let info = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let value = info.lines().find_map(|l| l.strip_prefix("mnt_id:")).ok_or(format!("{path} has no mnt_id"))?;
    // criu keeps it in an int and prints it with %x.
    value.trim().parse::<i32>().map(|m| m as u32).map_err(|e| format!("bad mnt_id in {path}: {e}"))
}

/// Major and minor of a dev_t in glibc's encoding.
fn dev_major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)
}

fn dev_minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0xff)
}

fn common_checks(key: &str) -> std::result::Result<(), String> {
    match () {
        _ if key.is_empty() => Err("empty".into()),
        _ if key.contains('\0') => Err("contains a NUL byte".into()),
        _ => Ok(()),
    }
}

/// The inside of `[..]` for the kinds criu compares whole, where nothing
/// may follow the bracket.
fn closed(body: &str) -> std::result::Result<&str, String> {
    let end = body.find(']').ok_or("missing ']'")?;
    match &body[end + 1..] {
        "" => Ok(&body[..end]),
        rest if rest.starts_with(':') => {
            Err(format!("this kind takes no ':VALUE', yet {rest:?} follows ']' (criu compares the whole string)"))
        }
        rest => Err(format!("trailing {rest:?} after ']'")),
    }
}

/// KEY and VALUE of `kind[KEY]:VALUE`, split at the first `]:`: criu finds
/// these by their `kind[KEY]` prefix, so KEY and VALUE are free-form.
fn keyed(body: &str) -> std::result::Result<(&str, &str), String> {
    let Some(end) = body.find("]:") else {
        return Err(match body.contains(']') {
            true => "expected ':VALUE' right after ']' (criu ignores this kind without a value)".into(),
            false => "missing ']'".into(),
        });
    };
    match (&body[..end], &body[end + 2..]) {
        ("", _) => Err("empty key inside '[]'".into()),
        (_, "") => Err("empty value after ':'".into()),
        (key, value) => Ok((key, value)),
    }
}

fn pair<'a>(inner: &'a str, shape: &str) -> std::result::Result<(&'a str, &'a str), String> {
    inner.split_once(':').ok_or_else(|| format!("expected {shape} inside '[]', got {inner:?}"))
}

/// A number as criu prints it: no sign, no leading zeros, hex in lowercase
/// without `0x`. Any other spelling can never equal criu's string.
fn number(text: &str, radix: u32, max: u64) -> std::result::Result<u64, String> {
    let what = if radix == 16 { "hex" } else { "decimal" };
    if text.is_empty() {
        return Err(format!("missing {what} number"));
    }
    if radix == 16 && (text.starts_with("0x") || text.starts_with("0X")) {
        return Err(format!("{text:?}: criu writes hex numbers without '0x'"));
    }
    if !text.chars().all(|c| c.is_digit(radix)) {
        return Err(format!("{text:?} is not a {what} number"));
    }
    if text.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("{text:?}: criu writes hex digits in lowercase"));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(format!("{text:?}: criu writes numbers without leading zeros"));
    }
    match u64::from_str_radix(text, radix) {
        Ok(n) if n <= max => Ok(n),
        _ => Err(format!("{text:?} does not fit in the {} bits criu keeps", if max == u64::MAX { 64 } else { 32 })),
    }
}

fn hex(text: &str, max: u64) -> std::result::Result<u64, String> {
    number(text, 16, max)
}

fn dec_u32(text: &str) -> std::result::Result<u32, String> {
    number(text, 10, u32::MAX.into()).map(|n| n as u32)
}

/// A network interface name as the kernel allows it (`dev_valid_name`):
/// criu passes these on to netlink or if_nametoindex.
fn ifname(name: &str, what: &str) -> std::result::Result<String, String> {
    if name.is_empty() {
        return Err(format!("empty {what} name"));
    }
    if name.len() > 15 {
        return Err(format!("{what} name {name:?} is longer than 15 bytes"));
    }
    if name == "." || name == ".." || name.contains(['/', ':']) || name.contains(char::is_whitespace) {
        return Err(format!("{what} name {name:?} is not a valid interface name"));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    fn reason(result: Result<impl fmt::Debug>) -> String {
        match result {
            Err(Error::InvalidArgument(msg)) => msg,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn accepted_externals_print_back_as_given() {
        let cases = [
            "file[1a:2b3c]",
            "file[0:ffffffffffffffff]",
            "tty[8801:18]",
            "unix[12345]",
            "dev[8/1]:disk",
            "dev[disk]:/dev/sdb1",
            "mnt[/var/lib/data]:cookie",
            "mnt[cookie]:/srv/data",
            "mnt[/odd]:name]:with:colons",
            "mnt[]",
            "mnt[]:m",
            "mnt[]:s",
            "veth[eth0]:veth-out",
            "veth[eth0]:veth-out@br0",
            "macvlan[mv0]:eth1",
            "netdev[eth0]:veth7",
            "net[4026531992]:my_net",
            "pid[4026531836]:exti",
        ];
        for key in cases {
            let id = ExternalId::parse(key).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(id.to_string(), key);
            validate_external(key).unwrap();
        }
        assert_eq!(ExternalId::parse("mnt[]:").unwrap(), ExternalId::MntAuto(None));
        assert_eq!(
            ExternalId::parse("veth[a]:b@c").unwrap(),
            ExternalId::Veth { name: "a".into(), outside: "b".into(), bridge: Some("c".into()) }
        );
        assert_eq!(ExternalId::parse("file[1a:2b]").unwrap(), ExternalId::File { mnt_id: 0x1a, ino: 0x2b });
    }

    #[test]
    fn rejected_externals_say_why() {
        let cases = [
            ("", "empty"),
            ("foo[1]", "unknown kind \"foo\""),
            ("file", "missing '['"),
            ("something", "unknown kind"),
            ("[1:2]", "missing kind"),
            ("file[1:2", "missing ']'"),
            ("file[1:2]x", "trailing \"x\""),
            ("file[1:2]:x", "takes no ':VALUE'"),
            ("file[12]", "expected MNT_ID:INODE"),
            ("file[0x1:2]", "without '0x'"),
            ("file[1A:2]", "lowercase"),
            ("file[01:2]", "leading zeros"),
            ("file[1:zz]", "not a hex number"),
            ("file[:2]", "missing hex number"),
            ("file[100000000:2]", "32 bits"),
            ("tty[88:]", "missing hex number"),
            ("unix[-1]", "not a decimal number"),
            ("unix[ab]", "not a decimal number"),
            ("unix[4294967296]", "32 bits"),
            ("dev[8/1]", "expected ':VALUE'"),
            ("dev[8/1]:", "empty value"),
            ("mnt[]:x", "only ':m' or ':s'"),
            ("mnt[]:mx", "only ':m' or ':s'"),
            ("mnt[/a", "missing ']'"),
            ("mnt[/a]x:b", "expected ':VALUE'"),
            ("veth[eth0]", "expected ':VALUE'"),
            ("veth[eth0]:out@", "empty bridge"),
            ("veth[a/b]:out", "not a valid interface name"),
            ("veth[eth0]:averyveryverylongname", "longer than 15"),
            ("macvlan[]:eth0", "empty key"),
            ("net[x]:label", "not a decimal number"),
            ("net[1]:/abs", "inherit key at restore"),
            ("pid[1]", "expected ':VALUE'"),
            ("file[1:2]\0", "NUL"),
        ];
        for (key, why) in cases {
            let msg = reason(ExternalId::parse(key));
            assert!(msg.contains(why), "{key:?}: {msg:?} should say {why:?}");
            assert!(validate_external(key).is_err());
        }
    }

    #[test]
    fn accepted_inherit_keys_print_back_as_given() {
        let cases = [
            ("pipe:[123456]", InheritKey::Pipe(123456)),
            ("socket:[98765]", InheritKey::Socket(98765)),
            ("tty[8801:18]", InheritKey::Tty { rdev: 0x8801, dev: 0x18 }),
            ("file[1a:2b3c]", InheritKey::File { mnt_id: 0x1a, ino: 0x2b3c }),
            ("/memfd:shm", InheritKey::Memfd("shm".into())),
            ("/memfd:", InheritKey::Memfd("".into())),
            ("tmp/oldlog", InheritKey::Path("tmp/oldlog".into())),
            ("dev/null", InheritKey::Path("dev/null".into())),
            (".", InheritKey::Path(".".into())),
            ("exti", InheritKey::Path("exti".into())),
        ];
        for (key, want) in cases {
            let got = InheritKey::parse(key).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(got, want);
            assert_eq!(got.to_string(), key);
            validate_inherit_key(key).unwrap();
        }
    }

    #[test]
    fn rejected_inherit_keys_say_why() {
        let cases = [
            ("", "empty"),
            ("pipe[123]", "'pipe:[INODE]'"),
            ("socket[123]", "'socket:[INODE]'"),
            ("pipe:123", "expected 'pipe:[INODE]'"),
            ("pipe:[123", "missing ']'"),
            ("pipe:[123]x", "trailing"),
            ("pipe:[0123]", "leading zeros"),
            ("socket:[abc]", "not a decimal number"),
            ("tty[8801]", "expected RDEV:DEV"),
            ("tty[8801:18:1]", "not a hex number"),
            ("tty[1ffffffff:1]", "32 bits"),
            ("file[1:2", "missing ']'"),
            ("file[1:0X2]", "without '0x'"),
            ("/tmp/oldlog", "without the leading '/' (\"tmp/oldlog\")"),
            ("/", "(\".\")"),
            ("fd[3]:pipe:[1]", "whole --inherit-fd argument"),
            ("tmp//x", "empty path component"),
            ("tmp/", "empty path component"),
            ("./tmp", "\".\" component"),
            ("tmp/../x", "\"..\" component"),
            ("a\0b", "NUL"),
        ];
        for (key, why) in cases {
            let msg = reason(InheritKey::parse(key));
            assert!(msg.contains(why), "{key:?}: {msg:?} should say {why:?}");
            assert!(validate_inherit_key(key).is_err());
        }
    }

    #[test]
    fn inherit_fds_must_be_open() {
        assert!(reason(validate_inherit_fd(-1)).contains("negative"));
        assert!(reason(validate_inherit_fd(i32::MAX)).contains("not open"));
        validate_inherit_fd(std::io::stderr().as_raw_fd()).unwrap();
    }

    // The /proc tests below look at this test process's own descriptors and
    // compare with what the kernel says about them directly.

    fn me() -> i32 {
        std::process::id() as i32
    }

    fn link_of(fd: i32) -> String {
        std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap().into_os_string().into_string().unwrap()
    }

    fn fstat(fd: i32) -> libc::stat {
        // SAFETY: libc::stat is plain data, valid all-zero.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat writes one stat into `st`, a live local of that type.
        assert_eq!(unsafe { libc::fstat(fd, &mut st) }, 0);
        st
    }

    fn own(fd: i32) -> OwnedFd {
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        // SAFETY: callers pass a descriptor their syscall just created and
        // nothing else holds, so OwnedFd is its one owner.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("libcriu-ids-{}-{name}", std::process::id()))
    }

    #[test]
    fn pipe_ends_are_named_as_proc_shows_them() {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two ints into `fds`, an array of two.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let (r, w) = (own(fds[0]), own(fds[1]));
        for fd in [r.as_raw_fd(), w.as_raw_fd()] {
            let key = inherit_key(me(), fd).unwrap();
            assert_eq!(key, link_of(fd));
            assert_eq!(key, format!("pipe:[{}]", fstat(fd).st_ino));
            validate_inherit_key(&key).unwrap();
            assert!(reason(external_id(me(), fd)).contains("no external form"));
        }
    }

    #[test]
    fn unix_sockets_are_named_as_proc_shows_them() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let ino = fstat(fd).st_ino;
        assert_eq!(describe_fd(me(), fd).unwrap(), FdKind::UnixSocket { ino: ino as u32 });
        assert_eq!(inherit_key(me(), fd).unwrap(), link_of(fd));
        assert_eq!(external_id(me(), fd).unwrap(), format!("unix[{ino}]"));
    }

    #[test]
    fn other_sockets_are_refused() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(reason(inherit_key(me(), udp.as_raw_fd())).contains("only take over unix sockets"));
    }

    #[test]
    fn regular_files_are_named_by_path_or_file_id() {
        let path = temp_path("regular");
        let file = std::fs::File::create(&path).unwrap();
        let fd = file.as_raw_fd();
        let key = inherit_key(me(), fd).unwrap();
        assert_eq!(format!("/{key}"), link_of(fd));
        validate_inherit_key(&key).unwrap();

        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
        let mnt_id: u32 = info.lines().find_map(|l| l.strip_prefix("mnt_id:")).unwrap().trim().parse().unwrap();
        let id = external_id(me(), fd).unwrap();
        assert_eq!(id, format!("file[{mnt_id:x}:{:x}]", fstat(fd).st_ino));
        validate_external(&id).unwrap();
        validate_inherit_key(&id).unwrap();

        // Unlinked: the kernel appends " (deleted)", criu's key does not.
        std::fs::remove_file(&path).unwrap();
        assert!(link_of(fd).ends_with(" (deleted)"));
        assert_eq!(format!("/{}", inherit_key(me(), fd).unwrap()), path.to_str().unwrap());
    }

    #[test]
    fn root_directory_is_dot() {
        let root = std::fs::File::open("/").unwrap();
        assert_eq!(inherit_key(me(), root.as_raw_fd()).unwrap(), ".");
    }

    #[test]
    fn dev_null_is_a_plain_file_to_criu() {
        // A char device, but of major 1, which criu dumps as a regular file.
        let null = std::fs::File::open("/dev/null").unwrap();
        let fd = null.as_raw_fd();
        assert_eq!(fstat(fd).st_mode & libc::S_IFMT, libc::S_IFCHR);
        assert_eq!(inherit_key(me(), fd).unwrap(), "dev/null");
        assert!(external_id(me(), fd).unwrap().starts_with("file["));
    }

    #[test]
    fn memfds_are_named_by_their_name() {
        // SAFETY: memfd_create reads only the NUL-terminated name.
        let fd = own(unsafe { libc::memfd_create(c"ids-test".as_ptr(), 0) });
        assert_eq!(inherit_key(me(), fd.as_raw_fd()).unwrap(), "/memfd:ids-test");
        assert!(reason(external_id(me(), fd.as_raw_fd())).contains("/memfd:ids-test"));
    }

    #[test]
    fn terminals_are_named_by_rdev_and_dev() {
        // SAFETY: posix_openpt takes flags only and touches no memory of ours.
        let fd = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY) };
        if fd < 0 {
            eprintln!("skipped: no pty here ({})", std::io::Error::last_os_error());
            return;
        }
        let fd = own(fd);
        let st = fstat(fd.as_raw_fd());
        let want = format!("tty[{:x}:{:x}]", st.st_rdev, st.st_dev);
        assert_eq!(inherit_key(me(), fd.as_raw_fd()).unwrap(), want);
        assert_eq!(external_id(me(), fd.as_raw_fd()).unwrap(), want);
        validate_inherit_key(&want).unwrap();
    }

    #[test]
    fn a_file_kind_built_by_hand_names_its_path_without_panicking() {
        let file = |path: &str| FdKind::File { path: path.into(), mnt_id: 1, ino: 2 }.inherit_key().to_string();
        assert_eq!(file("/etc/hosts"), "etc/hosts");
        assert_eq!(file("/"), ".");
        assert_eq!(file(""), ".");
        assert_eq!(file("é/x"), "é/x");
    }

    #[test]
    fn unnameable_descriptors_are_refused() {
        // SAFETY: eventfd takes integers only and touches no memory of ours.
        let efd = own(unsafe { libc::eventfd(0, 0) });
        assert!(reason(inherit_key(me(), efd.as_raw_fd())).contains("anon_inode:[eventfd]"));
        assert!(reason(describe_fd(me(), -1)).contains("must not be negative"));
        assert!(reason(describe_fd(me(), i32::MAX)).contains("cannot read"));
    }
}
