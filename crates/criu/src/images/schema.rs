//! CRIU's image schemas at run time: the descriptor set prost-build wrote
//! for proto/images (every message, with each field's `(criu)` options,
//! which the generated Rust types leave out), and the table of image
//! kinds: magic number, name, message type and what follows each entry.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use once_cell::sync::Lazy;

use super::wire;
use prost_reflect::{DescriptorPool, FieldDescriptor, MessageDescriptor, Value};

/// The package every schema of proto/images is in.
const PACKAGE: &str = "criu_images";

const SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/criu_images.fds"));

/// One schema file of the descriptor set, still encoded.
struct SchemaFile {
    name: String,
    imports: Vec<String>,
    messages: Vec<String>,
    bytes: &'static [u8],
}

/// Every image schema, as prost-build wrote them for this crate.
static FILES: Lazy<Vec<SchemaFile>> = Lazy::new(|| {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let files = wire::fields(SET).expect("the descriptor set written by build.rs is well formed");
    files
        .into_iter()
        .map(|file| {
            let mut f = SchemaFile { name: String::new(), imports: Vec::new(), messages: Vec::new(), bytes: file.body };
            for part in wire::fields(file.body).expect("a file descriptor is well formed") {
                match part.number {
                    1 => f.name = text(part.body),
                    3 => f.imports.push(text(part.body)),
                    4 => {
                        let names = wire::fields(part.body).expect("a message descriptor is well formed");
                        f.messages.extend(names.iter().filter(|n| n.number == 1).map(|n| text(n.body)));
                    }
                    _ => {}
                }
            }
            f
        })
        .collect()
});

/// Message descriptors handed out so far, by message name.
static MESSAGES: Lazy<Mutex<HashMap<String, MessageDescriptor>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// The descriptor of the image message `name` (as spelled in the schema,
/// e.g. `pagemap_entry`). Each comes from a pool of only its schema file
/// and what that imports: building one pool of all ~80 files costs more
/// than decoding a typical image, and `crit show` is run per file.
pub fn message(name: &str) -> MessageDescriptor {
    let mut known = MESSAGES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = known.get(name) {
        return found.clone();
    }
    let file = FILES
        .iter()
        .position(|f| f.messages.iter().any(|m| m == name))
        .unwrap_or_else(|| panic!("{name} is in proto/images"));
    let mut order = Vec::new();
    add_with_imports(file, &mut order);
    let mut pool = DescriptorPool::new();
    for i in order {
        pool.decode_file_descriptor_proto(FILES[i].bytes).expect("the image schemas are consistent");
    }
    let found =
        pool.get_message_by_name(&format!("{PACKAGE}.{name}")).unwrap_or_else(|| panic!("{name} is in proto/images"));
    known.insert(name.to_string(), found.clone());
    found
}

/// File `i` after everything it imports, each once.
fn add_with_imports(i: usize, order: &mut Vec<usize>) {
    if order.contains(&i) {
        return;
    }
    for dep in &FILES[i].imports {
        if let Some(d) = FILES.iter().position(|f| &f.name == dep) {
            add_with_imports(d, order);
        }
    }
    order.push(i);
}

/// A field's `(criu)` options: how pycriu shows it in a "pretty" dict.
#[derive(Clone, Debug, Default)]
pub struct FieldOpts {
    /// `0x...` text.
    pub hex: bool,
    /// A repeated u32 holding an IPv4 or IPv6 address in network order.
    pub ipadd: bool,
    /// Bit names from the named table (`mmap.prot`, `rfile.flags`, ...).
    pub flags: Option<String>,
    /// A device number, `major:minor`.
    pub dev: bool,
    /// ... in the old (glibc `makedev`) encoding rather than the kernel's.
    pub odev: bool,
    /// Value names from the named table (`gen`, `sk`).
    pub dict: Option<String>,
    /// A named conversion of a bytes field (`unix_name`).
    pub conv: Option<String>,
}

static NO_OPTS: FieldOpts =
    FieldOpts { hex: false, ipadd: false, flags: None, dev: false, odev: false, dict: None, conv: None };

/// Options of the fields met so far, by full name: worked out on first use,
/// since decoding every field's options up front would cost more than
/// decoding a typical image.
static OPTS: Lazy<Mutex<HashMap<String, &'static FieldOpts>>> = Lazy::new(|| Mutex::new(HashMap::new()));

fn read_opts(field: &FieldDescriptor) -> Option<FieldOpts> {
    let ext = field.parent_pool().get_extension_by_name(&format!("{PACKAGE}.criu"))?;
    let options = field.options();
    if !options.has_extension(&ext) {
        return None;
    }
    let Value::Message(criu) = options.get_extension(&ext).into_owned() else {
        return None;
    };
    let flag = |name: &str| matches!(criu.get_field_by_name(name).as_deref(), Some(Value::Bool(true)));
    let text = |name: &str| match criu.get_field_by_name(name).as_deref() {
        Some(Value::String(s)) if criu.has_field_by_name(name) => Some(s.clone()),
        _ => None,
    };
    Some(FieldOpts {
        hex: flag("hex"),
        ipadd: flag("ipadd"),
        flags: text("flags"),
        dev: flag("dev"),
        odev: flag("odev"),
        dict: text("dict"),
        conv: text("conv"),
    })
}

/// The `(criu)` options of `field` (all off when it has none).
pub fn opts(field: &FieldDescriptor) -> &'static FieldOpts {
    let mut known = OPTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = known.get(field.full_name()) {
        return found;
    }
    // Leaked once per schema field at most: a bounded, fixed set.
    let found: &'static FieldOpts = match read_opts(field) {
        Some(o) => Box::leak(Box::new(o)),
        None => &NO_OPTS,
    };
    known.insert(field.full_name().to_string(), found);
    found
}

/// What follows an entry of an image, besides the next entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extra {
    /// Nothing.
    None,
    /// Pipe or FIFO contents: `bytes` bytes.
    PipeData,
    /// A queued socket packet: `length` bytes.
    SkQueue,
    /// A TCP connection's queues: `inq_len` then `outq_len` bytes.
    TcpStream,
    /// A BPF map's keys and values: `keys_bytes + values_bytes` bytes.
    BpfMap,
    /// A SysV shared memory segment: `size` bytes, padded to 4.
    IpcShm,
    /// A SysV semaphore set: `nsems` u16 values, padded to 8.
    IpcSem,
    /// A SysV message queue: `qnum` times an ipc_msg entry and its text, padded to 8.
    IpcMsg,
}

/// How the entries of an image are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Entries of one message type, each followed by its extra payload.
    Entries(&'static str, Extra),
    /// pagemap: a pagemap_head, then pagemap_entry entries.
    Pagemap,
    /// ghost-file: a ghost_file_entry, then either the file's bytes or,
    /// when it says `chunks`, ghost_chunk_entry entries each followed by
    /// its `len` bytes.
    GhostFile,
    /// A magic number criu has that names no entry image.
    Unhandled,
}

use Extra as X;
use Layout::{Entries as E, GhostFile, Pagemap, Unhandled};

/// Every magic number of CRIU 4.2.1's criu/include/magic.h, in pycriu's
/// order (lib/pycriu/images/magic.py), with its layout. Where two names
/// share a value, the later one names it, as in pycriu.
pub const KINDS: &[(&str, u32, Layout)] = &[
    ("CRTOOLS_IMAGES_V1_1", 0x00000002, Unhandled),
    ("IMG_COMMON", 0x54564319, Unhandled),
    ("IMG_SERVICE", 0x55105940, Unhandled),
    ("INVENTORY", 0x58313116, E("inventory_entry", X::None)),
    ("PSTREE", 0x50273030, E("pstree_entry", X::None)),
    ("FDINFO", 0x56213732, E("fdinfo_entry", X::None)),
    ("PAGEMAP", 0x56084025, Pagemap),
    ("CORE", 0x55053847, E("core_entry", X::None)),
    ("IDS", 0x54432030, E("task_kobj_ids_entry", X::None)),
    ("VMAS", 0x54123737, E("vma_entry", X::None)),
    ("PIPES", 0x56513555, E("pipe_entry", X::None)),
    ("PIPES_DATA", 0x56453709, E("pipe_data_entry", X::PipeData)),
    ("FIFO", 0x58364939, E("fifo_entry", X::None)),
    ("FIFO_DATA", 0x59333054, E("pipe_data_entry", X::PipeData)),
    ("SIGACT", 0x55344201, E("sa_entry", X::None)),
    ("UNIXSK", 0x54373943, E("unix_sk_entry", X::None)),
    ("INETSK", 0x56443851, E("inet_sk_entry", X::None)),
    ("PACKETSK", 0x60454618, E("packet_sock_entry", X::None)),
    ("ITIMERS", 0x57464056, E("itimer_entry", X::None)),
    ("POSIX_TIMERS", 0x52603957, E("posix_timer_entry", X::None)),
    ("SK_QUEUES", 0x56264026, E("sk_packet_entry", X::SkQueue)),
    ("UTSNS", 0x54473203, E("utsns_entry", X::None)),
    ("CREDS", 0x54023547, E("creds_entry", X::None)),
    ("IPC_VAR", 0x53115007, E("ipc_var_entry", X::None)),
    ("IPCNS_SHM", 0x46283044, E("ipc_shm_entry", X::IpcShm)),
    ("IPCNS_MSG", 0x55453737, E("ipc_msg_entry", X::IpcMsg)),
    ("IPCNS_SEM", 0x59573019, E("ipc_sem_entry", X::IpcSem)),
    ("REG_FILES", 0x50363636, E("reg_file_entry", X::None)),
    ("EXT_FILES", 0x59255641, E("ext_file_entry", X::None)),
    ("FS", 0x51403912, E("fs_entry", X::None)),
    ("MM", 0x57492820, E("mm_entry", X::None)),
    ("REMAP_FPATH", 0x59133954, E("remap_file_path_entry", X::None)),
    ("GHOST_FILE", 0x52583605, GhostFile),
    ("TCP_STREAM", 0x51465506, E("tcp_stream_entry", X::TcpStream)),
    ("EVENTFD_FILE", 0x44523722, E("eventfd_file_entry", X::None)),
    ("EVENTPOLL_FILE", 0x45023858, E("eventpoll_file_entry", X::None)),
    ("EVENTPOLL_TFD", 0x44433746, E("eventpoll_tfd_entry", X::None)),
    ("SIGNALFD", 0x57323820, E("signalfd_entry", X::None)),
    ("INOTIFY_FILE", 0x48424431, E("inotify_file_entry", X::None)),
    ("INOTIFY_WD", 0x54562009, E("inotify_wd_entry", X::None)),
    ("MNTS", 0x55563928, E("mnt_entry", X::None)),
    ("NETDEV", 0x57373951, E("net_device_entry", X::None)),
    ("NETNS", 0x55933752, E("netns_entry", X::None)),
    ("TTY_FILES", 0x59433025, E("tty_file_entry", X::None)),
    ("TTY_INFO", 0x59453036, E("tty_info_entry", X::None)),
    ("TTY_DATA", 0x59413026, E("tty_data_entry", X::None)),
    ("FILE_LOCKS", 0x54323616, E("file_lock_entry", X::None)),
    ("RLIMIT", 0x57113925, E("rlimit_entry", X::None)),
    ("FANOTIFY_FILE", 0x55096122, E("fanotify_file_entry", X::None)),
    ("FANOTIFY_MARK", 0x56506035, E("fanotify_mark_entry", X::None)),
    // Not handled by pycriu 4.2.1 (crit refuses them); ours reads them.
    ("SIGNAL", 0x59255647, E("siginfo_entry", X::None)),
    ("NETLINK_SK", 0x58005614, E("netlink_sk_entry", X::None)),
    ("NS_FILES", 0x61394011, E("ns_file_entry", X::None)),
    ("TUNFILE", 0x57143751, E("tunfile_entry", X::None)),
    ("CGROUP", 0x59383330, E("cgroup_entry", X::None)),
    ("TIMERFD", 0x50493712, E("timerfd_entry", X::None)),
    ("CPUINFO", 0x61404013, E("cpuinfo_entry", X::None)),
    ("USERNS", 0x55474906, E("userns_entry", X::None)),
    ("SECCOMP", 0x64413049, E("seccomp_entry", X::None)),
    // Not handled by pycriu 4.2.1; ours reads it.
    ("BINFMT_MISC", 0x67343323, E("binfmt_misc_entry", X::None)),
    ("AUTOFS", 0x49353943, E("autofs_entry", X::None)),
    ("FILES", 0x56303138, E("file_entry", X::None)),
    ("MEMFD_INODE", 0x48453499, E("memfd_inode_entry", X::None)),
    ("TIMENS", 0x43114433, E("timens_entry", X::None)),
    ("PIDNS", 0x61157326, E("pidns_entry", X::None)),
    ("BPFMAP_FILE", 0x57506142, E("bpfmap_file_entry", X::None)),
    ("BPFMAP_DATA", 0x64324033, E("bpfmap_data_entry", X::BpfMap)),
    ("APPARMOR", 0x59423047, E("apparmor_entry", X::None)),
    // Not handled by pycriu 4.2.1; ours reads it.
    ("PIDFD", 0x54435556, E("pidfd_entry", X::None)),
    ("STATS", 0x57093306, E("stats_entry", X::None)),
    ("IRMAP_CACHE", 0x57004059, E("irmap_cache_entry", X::None)),
    ("KDAT", 0x57023458, Unhandled),
];

/// The magic that starts images other than inventory.img.
pub(crate) const IMG_COMMON: u32 = magic("IMG_COMMON");
/// The magic that starts the service images (stats, irmap-cache).
pub(crate) const IMG_SERVICE: u32 = magic("IMG_SERVICE");

/// The magic named `name` in [`KINDS`], at compile time (a name not in
/// the table fails the build): the constants other modules need are read
/// from the one table, never written twice.
pub const fn magic(name: &str) -> u32 {
    let mut i = 0;
    while i < KINDS.len() {
        if same(KINDS[i].0, name) {
            return KINDS[i].1;
        }
        i += 1;
    }
    panic!("no such image kind in KINDS")
}

/// `a == b`, usable in a const fn.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The name and layout of the image kind with magic `value`.
pub fn by_value(value: u32) -> Option<(&'static str, Layout)> {
    KINDS.iter().rev().find(|k| k.1 == value).map(|k| (k.0, k.2))
}

/// The magic and layout of the image kind named `name`.
pub fn by_name(name: &str) -> Option<(u32, Layout)> {
    KINDS.iter().find(|k| k.0 == name).map(|k| (k.1, k.2))
}
