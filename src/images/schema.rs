//! CRIU's image schemas at run time: the descriptor set prost-build wrote
//! for proto/images (every message, with each field's `(criu)` options,
//! which the generated Rust types leave out), and the table of image
//! kinds: magic number, name, message type and what follows each entry.

use std::collections::HashMap;

use once_cell::sync::Lazy;
use prost_reflect::{DescriptorPool, FieldDescriptor, MessageDescriptor, Value};

/// The package every schema of proto/images is in.
const PACKAGE: &str = "criu_images";

static POOL: Lazy<DescriptorPool> = Lazy::new(|| {
    DescriptorPool::decode(include_bytes!(concat!(env!("OUT_DIR"), "/criu_images.fds")).as_ref())
        .expect("the descriptor set written by build.rs decodes")
});

/// The descriptor of the image message `name` (as spelled in the schema,
/// e.g. `pagemap_entry`).
pub fn message(name: &str) -> MessageDescriptor {
    POOL.get_message_by_name(&format!("{PACKAGE}.{name}"))
        .unwrap_or_else(|| panic!("{name} is in proto/images"))
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

/// Options of every field that has any, by the field's full name.
static OPTS: Lazy<HashMap<String, FieldOpts>> = Lazy::new(|| {
    let mut all = HashMap::new();
    let Some(ext) = POOL.get_extension_by_name(&format!("{PACKAGE}.criu")) else {
        return all;
    };
    for msg in POOL.all_messages() {
        for field in msg.fields() {
            let options = field.options();
            if !options.has_extension(&ext) {
                continue;
            }
            let Value::Message(criu) = options.get_extension(&ext).into_owned() else {
                continue;
            };
            let flag = |name: &str| matches!(criu.get_field_by_name(name).as_deref(), Some(Value::Bool(true)));
            let text = |name: &str| {
                if !criu.has_field_by_name(name) {
                    return None;
                }
                match criu.get_field_by_name(name).as_deref() {
                    Some(Value::String(s)) => Some(s.clone()),
                    _ => None,
                }
            };
            let opts = FieldOpts {
                hex: flag("hex"),
                ipadd: flag("ipadd"),
                flags: text("flags"),
                dev: flag("dev"),
                odev: flag("odev"),
                dict: text("dict"),
                conv: text("conv"),
            };
            all.insert(field.full_name().to_string(), opts);
        }
    }
    all
});

/// The `(criu)` options of `field` (all off when it has none).
pub fn opts(field: &FieldDescriptor) -> &'static FieldOpts {
    OPTS.get(field.full_name()).unwrap_or(&NO_OPTS)
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
pub const IMG_COMMON: u32 = 0x54564319;
/// The magic that starts the service images (stats, irmap-cache).
pub const IMG_SERVICE: u32 = 0x55105940;

/// The name and layout of the image kind with magic `value`.
pub fn by_value(value: u32) -> Option<(&'static str, Layout)> {
    KINDS.iter().rev().find(|k| k.1 == value).map(|k| (k.0, k.2))
}

/// The magic and layout of the image kind named `name`.
pub fn by_name(name: &str) -> Option<(u32, Layout)> {
    KINDS.iter().find(|k| k.0 == name).map(|k| (k.1, k.2))
}
