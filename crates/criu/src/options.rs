//! Everything a request to criu can carry, in one place.
//!
//! [`Options`] wraps the `criu_opts` message that goes into every request,
//! plus what only the library needs: how to reach criu and who to tell about
//! notifications. Each plain option is one line of the tables below; the C
//! setters (global and `criu_local_*`) and the Python keywords map onto the
//! methods those lines generate.

use std::fmt;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ids;
use crate::notify::Notification;
use crate::rpc;
pub use crate::service::Service;
use crate::started::Started;
use crate::tmpfile;

/// The criu binary started when nothing else is configured (looked up in PATH).
pub const DEFAULT_SERVICE_BINARY: &str = "criu";
/// The service socket used when an address is asked for without a path,
/// relative to the caller's working directory as in upstream libcriu.
pub const DEFAULT_SERVICE_ADDRESS: &str = "./criu_service.socket";

/// Enums with fixed numbers: the Rust enum, its number conversions, and an
/// exported `for_each_numbered_enum!` that hands the table to a macro of the
/// caller's (the C and Python faces are rendered from it).
macro_rules! numbered_enums {
    ($( $(#[doc = $doc:literal])* $name:ident => C $ckind:ident $($cname:ident)? ($prefix:ident) $(, $python:ident)? {
        $( $(#[doc = $vdoc:literal])* $variant:ident = $value:literal, )*
    } )*) => {
        $(
            $(#[doc = $doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            #[repr(i32)]
            pub enum $name {
                $( $(#[doc = $vdoc])* $variant = $value, )*
            }

            impl $name {
                /// Every value, in the order of the table.
                pub const ALL: &'static [$name] = &[$($name::$variant),*];

                /// The value with this number, if there is one.
                pub fn from_raw(value: i32) -> Option<$name> {
                    Self::ALL.iter().copied().find(|v| v.raw() == value)
                }

                /// This value's number, as C and Python pass it.
                pub fn raw(self) -> i32 {
                    self as i32
                }
            }

            impl TryFrom<i32> for $name {
                type Error = Error;

                fn try_from(value: i32) -> Result<$name> {
                    $name::from_raw(value).ok_or_else(|| {
                        Error::InvalidArgument(format!("{value} is not a {}", stringify!($name)))
                    })
                }
            }

            impl From<$name> for i32 {
                fn from(value: $name) -> i32 {
                    value.raw()
                }
            }
        )*

        /// Calls `$callback!` with the table of numbered enums as written.
        #[macro_export]
        macro_rules! for_each_numbered_enum {
            ($callback:ident) => { $callback! { $( $(#[doc = $doc])* $name => C $ckind $($cname)? ($prefix) $(, $python)? {
                $( $(#[doc = $vdoc])* $variant = $value, )*
            } )* } };
        }
    };
}

// The enums whose numbers cross into C and Python: one table, from which
// the Rust enums below come, and from which crates/libcriu/tests/generated.rs
// renders the C enums (or constants) and the Python IntEnum classes. Each
// entry names its C form (`enum <name>(<PREFIX>)` or `consts(<PREFIX>)`: a
// value's C name is the prefix and the variant in capitals) and says
// `Python` when the Python module has it.
numbered_enums! {
    /// How the library reaches criu (`enum criu_service_comm`; the core's
    /// options hold it as a [`Service`]).
    ServiceComm => C enum criu_service_comm(CRIU_COMM_) {
        /// A `criu service` socket (`criu_set_service_address()`).
        Sk = 0,
        /// A connected socket given by the caller (`criu_set_service_fd()`).
        Fd = 1,
        /// A criu binary started as `criu swrk` (the default; `criu_set_service_binary()`).
        Bin = 2,
    }
    /// Cgroup handling modes (`enum criu_cg_mode`), for the
    /// `set_manage_cgroups_mode` setters.
    CgMode => C enum criu_cg_mode(CRIU_CG_MODE_), Python {
        Ignore = 0,
        None = 1,
        Props = 2,
        Soft = 3,
        Full = 4,
        Strict = 5,
        Default = 6,
    }
    /// Network locking methods during dump (`enum criu_network_lock_method`),
    /// for the `set_network_lock` setters.
    NetworkLock => C enum criu_network_lock_method(CRIU_NETWORK_LOCK_), Python {
        Iptables = 1,
        Nftables = 2,
        Skip = 3,
    }
    /// How pre-dump reads memory (`enum criu_pre_dump_mode`), for the
    /// `set_pre_dump_mode` setters.
    PreDumpMode => C enum criu_pre_dump_mode(CRIU_PRE_DUMP_), Python {
        Splice = 1,
        Read = 2,
    }
    /// criu's log levels (C: the `CRIU_LOG_*` constants), for the
    /// `set_log_level` setters.
    LogLevel => C consts(CRIU_LOG_), Python {
        /// Log level: messages printed whatever the level.
        Msg = 0,
        /// Log level: errors only.
        Error = 1,
        /// Log level: errors and warnings (criu's default).
        Warn = 2,
        /// Log level: informative messages too.
        Info = 3,
        /// Log level: everything, for debugging.
        Debug = 4,
    }
}

impl Service {
    /// Which kind of service this is, as C's `enum criu_service_comm` numbers it.
    pub fn comm(&self) -> ServiceComm {
        match self {
            Service::Socket(_) => ServiceComm::Sk,
            Service::Fd(_) => ServiceComm::Fd,
            Service::Binary(_) => ServiceComm::Bin,
        }
    }
}

/// The options of one client: what to send to criu and how to reach it.
pub struct Options {
    pub(crate) rpc: rpc::CriuOpts,
    pub(crate) service: Service,
    pub(crate) notify: Option<NotifyCallback>,
    pub(crate) reply_timeout: Option<Duration>,
    pub(crate) tmp_files: Vec<PathBuf>,
    pub(crate) tmp_file_limit: u64,
    pub(crate) tmp_file_put_back: bool,
    /// The page servers and lazy-pages daemons these options started and
    /// have not waited for (see `crate::migrate`): ended when the options are.
    pub(crate) started: Started,
}

/// Called for each notification, with the options of the running operation
/// (a callback may adjust them for later requests). Returning 0 lets criu go
/// on; any other value makes criu fail the operation, which then returns that
/// value.
pub type NotifyCallback = Box<dyn FnMut(&Notification, &mut Options) -> i32 + Send>;

impl Default for Options {
    fn default() -> Self {
        Options {
            rpc: rpc::CriuOpts::default(),
            service: Service::Binary(PathBuf::from(DEFAULT_SERVICE_BINARY)),
            notify: None,
            reply_timeout: None,
            tmp_files: Vec::new(),
            tmp_file_limit: tmpfile::DEFAULT_LIMIT,
            tmp_file_put_back: true,
            started: Started::default(),
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("rpc", &self.rpc)
            .field("service", &self.service)
            .field("notify", &self.notify.as_ref().map(|_| "callback"))
            .field("reply_timeout", &self.reply_timeout)
            .field("tmp_files", &self.tmp_files)
            .field("tmp_file_limit", &self.tmp_file_limit)
            .field("tmp_file_put_back", &self.tmp_file_put_back)
            .field("started", &self.started)
            .finish()
    }
}

// Each table below generates the core's methods and also exported macros
// that hand the same lines to a macro of the caller's: that is how the Python
// module gets one method per option without a list of its own, and how
// crates/libcriu/tests/generated.rs renders the C setters and the Python
// stubs. Adding an option is adding its line (and a test).
//
// A line is `doc comment  setter => field: type` (for strings and lists
// without the type), optionally followed by the option's C face:
// `, C name(arg)` for a value, `C name(arg: c_type)` when the C argument has
// another type than the core's, and `, C name(arg, "what")` for a string,
// where "what" names the string in the error message. A line with a C face
// becomes `criu_local_<name>` and its global twin `criu_<name>`, with the
// line's doc comment; lines without one have no C setter (yet).

/// Setters that store one value in an optional field of `criu_opts`.
macro_rules! value_options {
    ($( $(#[doc = $doc:literal])* $setter:ident => $field:ident : $ty:ty
        $(, C $cname:ident ( $carg:ident $(: $cty:ty)? ))?; )*) => {
        impl Options {
            $( $(#[doc = $doc])* pub fn $setter(&mut self, value: $ty) -> &mut Self {
                self.rpc.$field = Some(value.into());
                self
            } )*
        }

        /// Calls `$callback!` with the table of plain-value options
        /// (`doc comments  setter => field : type;` per option).
        #[macro_export]
        macro_rules! for_each_value_option {
            ($callback:ident) => { $callback! { $( $(#[doc = $doc])* $setter => $field : $ty; )* } };
        }

        /// Calls `$callback!` with the table of plain-value options as
        /// written, C faces included.
        #[macro_export]
        macro_rules! for_each_value_option_with_c {
            ($callback:ident) => { $callback! { $( $(#[doc = $doc])* $setter => $field : $ty
                $(, C $cname ( $carg $(: $cty)? ))?; )* } };
        }
    };
}

/// Setters that store one string in an optional field of `criu_opts`.
macro_rules! text_options {
    ($( $(#[doc = $doc:literal])* $setter:ident => $field:ident
        $(, C $cname:ident ( $carg:ident, $what:literal ))?; )*) => {
        impl Options {
            $( $(#[doc = $doc])* pub fn $setter(&mut self, value: &str) -> &mut Self {
                self.rpc.$field = Some(value.to_owned());
                self
            } )*
        }

        /// Calls `$callback!` with the table of string options
        /// (`doc comments  setter => field;` per option).
        #[macro_export]
        macro_rules! for_each_text_option {
            ($callback:ident) => { $callback! { $( $(#[doc = $doc])* $setter => $field; )* } };
        }

        /// Calls `$callback!` with the table of string options as written,
        /// C faces included.
        #[macro_export]
        macro_rules! for_each_text_option_with_c {
            ($callback:ident) => { $callback! { $( $(#[doc = $doc])* $setter => $field
                $(, C $cname ( $carg, $what ))?; )* } };
        }
    };
}

/// Adders that append one string to a repeated field of `criu_opts`.
macro_rules! list_options {
    ($( $(#[doc = $doc:literal])* $adder:ident => $field:ident
        $(, C $cname:ident ( $carg:ident, $what:literal ))?; )*) => {
        impl Options {
            $( $(#[doc = $doc])* pub fn $adder(&mut self, value: &str) -> &mut Self {
                self.rpc.$field.push(value.to_owned());
                self
            } )*
        }

        /// Calls `$callback!` with the table of repeated-string options
        /// (`doc comments  adder => field;` per option).
        #[macro_export]
        macro_rules! for_each_list_option {
            ($callback:ident) => { $callback! { $( $(#[doc = $doc])* $adder => $field; )* } };
        }

        /// Calls `$callback!` with the table of repeated-string options as
        /// written, C faces included.
        #[macro_export]
        macro_rules! for_each_list_option_with_c {
            ($callback:ident) => { $callback! { $( $(#[doc = $doc])* $adder => $field
                $(, C $cname ( $carg, $what ))?; )* } };
        }
    };
}

value_options! {
    /// The pid of the tree to dump; without it, a dump dumps the caller itself.
    set_pid => pid: i32, C set_pid(pid);
    /// Keep the tree running after a dump.
    set_leave_running => leave_running: bool, C set_leave_running(leave_running);
    /// Ask criu for notifications (set by [`Options::set_notify`]).
    set_notify_scripts => notify_scripts: bool;
    /// Allow external unix sockets.
    set_ext_unix_sk => ext_unix_sk: bool, C set_ext_unix_sk(ext_unix_sk);
    /// Checkpoint established TCP connections.
    set_tcp_established => tcp_established: bool, C set_tcp_established(tcp_established);
    /// Skip TCP connections that are still being set up.
    set_tcp_skip_in_flight => tcp_skip_in_flight: bool, C set_tcp_skip_in_flight(tcp_skip_in_flight);
    /// Close established TCP connections on restore.
    set_tcp_close => tcp_close: bool, C set_tcp_close(tcp_close);
    /// Tolerate sysctls that are missing on restore.
    set_weak_sysctls => weak_sysctls: bool, C set_weak_sysctls(val);
    /// Dump device files criu cannot find by path.
    set_evasive_devices => evasive_devices: bool, C set_evasive_devices(evasive_devices);
    /// The tree is a shell job: its session and terminal come from outside.
    set_shell_job => shell_job: bool, C set_shell_job(shell_job);
    /// Do not check the rwx permissions of files on restore.
    set_skip_file_rwx_check => skip_file_rwx_check: bool, C set_skip_file_rwx_check(skip_file_rwx_check);
    /// Run criu without root (with CAP_CHECKPOINT_RESTORE). Upstream libcriu
    /// exports this C setter but its header does not declare it.
    set_unprivileged => unprivileged: bool, C set_unprivileged(unprivileged);
    /// Pass the master side of orphan ptys to the notify callback
    /// (see `criu_get_orphan_pts_master_fd()`).
    set_orphan_pts_master => orphan_pts_master: bool, C set_orphan_pts_master(orphan_pts_master);
    /// Dump and restore file locks.
    set_file_locks => file_locks: bool, C set_file_locks(file_locks);
    /// Track memory changes for incremental dumps (needs soft-dirty support).
    set_track_mem => track_mem: bool, C set_track_mem(track_mem);
    /// Deduplicate pages against the parent images.
    set_auto_dedup => auto_dedup: bool, C set_auto_dedup(auto_dedup);
    /// Force resolving the paths of inotify/fanotify watches.
    set_force_irmap => force_irmap: bool, C set_force_irmap(force_irmap);
    /// Allow criu to link deleted-but-open files back for the dump.
    set_link_remap => link_remap: bool, C set_link_remap(link_remap);
    /// Dump and restore cgroups (the legacy switch; see the cgroup mode).
    set_manage_cgroups => manage_cgroups: bool, C set_manage_cgroups(manage);
    /// Detect external mounts automatically.
    set_auto_ext_mnt => auto_ext_mnt: bool, C set_auto_ext_mnt(val);
    /// Allow external mounts with shared propagation.
    set_ext_sharing => ext_sharing: bool, C set_ext_sharing(val);
    /// Allow external mounts with master (slave) propagation.
    set_ext_masters => ext_masters: bool, C set_ext_masters(val);
    /// Use criu's compatibility engine for mount namespaces.
    set_mntns_compat_mode => mntns_compat_mode: bool, C set_mntns_compat_mode(val);
    /// Lazy pages: a dump serves the memory over the page server port
    /// instead of writing it; a restore brings pages in on demand.
    set_lazy_pages => lazy_pages: bool;
    /// Leave restored tasks stopped.
    set_leave_stopped => leave_stopped: bool, C set_leave_stopped(leave_stopped);
    /// Have criu print statistics.
    set_display_stats => display_stats: bool;
    /// Have criu log to its stderr.
    set_log_to_stderr => log_to_stderr: bool;
    /// Use TLS for page server connections.
    set_tls => tls: bool;
    /// Do not verify the peer's common name with TLS.
    set_tls_no_cn_verify => tls_no_cn_verify: bool;
    /// The work directory (criu's log and other files), as a descriptor of
    /// the caller (default: the images directory).
    set_work_dir_fd => work_dir_fd: i32, C set_work_dir_fd(fd);
    /// criu's log level, 0 (`CRIU_LOG_MSG`: messages only) to 4
    /// (`CRIU_LOG_DEBUG`); criu's default is 2.
    set_log_level => log_level: i32, C set_log_level(log_level);
    /// The CPU capabilities to check on restore (a bit mask).
    set_cpu_cap => cpu_cap: u32, C set_cpu_cap(cap);
    /// How many seconds criu may take to freeze the tree (sent to criu,
    /// unlike upstream libcriu, whose value never reached it).
    set_timeout => timeout: u32, C set_timeout(timeout);
    /// The largest deleted-but-open file criu copies into the images, in
    /// bytes (criu's default: 1 MiB).
    set_ghost_limit => ghost_limit: u32, C set_ghost_limit(limit);
    /// A unix socket of the caller that keeps pidfds between pre-dumps.
    set_pidfd_store_sk => pidfd_store_sk: i32, C set_pidfd_store_sk(sk);
    /// A descriptor criu writes one byte to once the restored tree runs.
    set_status_fd => status_fd: i32;
    /// Restore these namespaces (CLONE_NEW* flags) empty.
    set_empty_ns => empty_ns: u32, C set_empty_ns(namespaces: c_int);
}

text_options! {
    /// The parent images (of a previous pre-dump), relative to the images
    /// directory.
    set_parent_images => parent_img, C set_parent_images(path, "parent images path");
    /// criu's log file name, inside the work directory (no slashes).
    set_log_file => log_file, C set_log_file(log_file, "log file");
    /// The root directory to restore into.
    set_root => root, C set_root(root, "root");
    /// The freezer cgroup criu uses to freeze the tree.
    set_freeze_cgroup => freeze_cgroup, C set_freeze_cgroup(name, "freeze cgroup");
    /// The LSM profile restored tasks get.
    set_lsm_profile => lsm_profile, C set_lsm_profile(name, "LSM profile");
    /// The LSM mount context of restored mounts.
    set_lsm_mount_context => lsm_mount_context, C set_lsm_mount_context(name, "LSM mount context");
    /// Cgroup properties as a YAML stream (replaces an earlier one).
    set_cgroup_props => cgroup_props, C add_cg_props(stream, "cgroup properties");
    /// A file of cgroup properties (replaces an earlier one).
    set_cgroup_props_file => cgroup_props_file, C add_cg_props_file(path, "cgroup properties file");
    /// Where criu mounts its cgroup yard (replaces an earlier one).
    set_cgroup_yard => cgroup_yard, C add_cg_yard(path, "cgroup yard");
    /// The images directory as a path (used when no descriptor is set).
    set_images_dir => images_dir;
    /// A criu configuration file for the requests of these options (libcriu
    /// 4.2): criu reads it after the options set here, so its settings win,
    /// and a missing or unreadable file makes the request fail (criu's log
    /// names the file). criu 4.0 and 4.1 read it the same way. The path is
    /// as criu sees it (relative paths are relative to criu's working
    /// directory).
    set_config_file => config_file, C set_config_file(path, "config file");
    /// TLS CA certificate file.
    set_tls_cacert => tls_cacert;
    /// TLS CA revocation list file.
    set_tls_cacrl => tls_cacrl;
    /// TLS certificate file.
    set_tls_cert => tls_cert;
    /// TLS private key file.
    set_tls_key => tls_key;
}

list_options! {
    /// Allow mounting filesystems of this type on restore.
    add_enable_fs => enable_fs, C add_enable_fs(fs, "filesystem");
    /// Do not dump the mount at this path.
    add_skip_mnt => skip_mnt, C add_skip_mnt(mnt, "mount point");
    /// A path to scan when resolving inotify/fanotify watches.
    add_irmap_path => irmap_scan_paths, C add_irmap_path(path, "irmap path");
    /// Dump this cgroup controller.
    add_cg_dump_controller => cgroup_dump_controller, C add_cg_dump_controller(name, "cgroup controller");
}

impl Options {
    /// Fresh options with criu's defaults, reaching criu by starting `criu swrk`.
    pub fn new() -> Options {
        Options::default()
    }

    /// The `criu_opts` message these options send.
    pub fn request_options(&self) -> &rpc::CriuOpts {
        &self.rpc
    }

    /// How these options reach criu.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Reach criu by starting this binary as `<binary> swrk <fd>`.
    pub fn set_service_binary(&mut self, binary: impl Into<PathBuf>) -> &mut Self {
        self.service = Service::Binary(binary.into());
        self
    }

    /// Reach criu through a service socket at this path.
    pub fn set_service_address(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.service = Service::Socket(path.into());
        self
    }

    /// Reach criu through an already connected socket (used for one request).
    pub fn set_service_fd(&mut self, fd: RawFd) -> &mut Self {
        self.service = Service::Fd(fd);
        self
    }

    /// The images directory, as a descriptor of the caller (criu opens it
    /// through /proc). Required for dump and restore unless a path is set.
    pub fn set_images_dir_fd(&mut self, fd: RawFd) -> &mut Self {
        self.rpc.images_dir_fd = fd;
        self
    }

    /// Restore the tree as a sibling of criu instead of as its child, so
    /// it outlives a criu started for one request. Not in the tables above:
    /// upstream libcriu has no setter for it (only `criu_restore_child`,
    /// [`crate::ops::restore_child`], sets it, per call); rust-criu has one.
    pub fn set_rst_sibling(&mut self, value: bool) -> &mut Self {
        self.rpc.rst_sibling = Some(value);
        self
    }

    /// How criu handles cgroups.
    pub fn set_manage_cgroups_mode(&mut self, mode: CgMode) -> &mut Self {
        self.rpc.manage_cgroups_mode = Some(mode as i32);
        self
    }

    /// How pre-dump reads memory.
    pub fn set_pre_dump_mode(&mut self, mode: PreDumpMode) -> &mut Self {
        self.rpc.pre_dump_mode = Some(mode as i32);
        self
    }

    /// How the network is locked during dump.
    pub fn set_network_lock(&mut self, method: NetworkLock) -> &mut Self {
        self.rpc.network_lock = Some(method as i32);
        self
    }

    /// The command criu runs after restore instead of resuming the tree's
    /// root (replaces any earlier one).
    pub fn set_exec_cmd<S: AsRef<str>>(&mut self, argv: &[S]) -> &mut Self {
        self.rpc.exec_cmd = argv.iter().map(|a| a.as_ref().to_owned()).collect();
        self
    }

    /// Map an external mount (legacy form of `mnt[key]:val` externals).
    pub fn add_ext_mount(&mut self, key: &str, val: &str) -> &mut Self {
        self.rpc.ext_mnt.push(rpc::ExtMountMap { key: key.to_owned(), val: val.to_owned() });
        self
    }

    /// Map a veth pair (legacy form of `veth[in]:out` externals).
    pub fn add_veth_pair(&mut self, if_in: &str, if_out: &str) -> &mut Self {
        self.rpc.veths.push(rpc::CriuVethPair { if_in: if_in.to_owned(), if_out: if_out.to_owned() });
        self
    }

    /// Restore cgroups of controller `ctrl` (all when `None`) under `path`.
    pub fn add_cg_root(&mut self, ctrl: Option<&str>, path: &str) -> &mut Self {
        self.rpc.cg_root.push(rpc::CgroupRoot { ctrl: ctrl.map(str::to_owned), path: path.to_owned() });
        self
    }

    /// Declare an external unix socket by inode. Turns on external unix
    /// sockets when they were never set; fails, dropping every inode added so
    /// far, when they were explicitly turned off (as upstream does).
    pub fn add_unix_sk(&mut self, inode: u32) -> Result<&mut Self> {
        match self.rpc.ext_unix_sk {
            None => self.rpc.ext_unix_sk = Some(true),
            Some(false) => {
                self.rpc.unix_sk_ino.clear();
                return Err(Error::InvalidArgument(
                    "external unix sockets were turned off; cannot add an inode".into(),
                ));
            }
            Some(true) => {}
        }
        self.rpc.unix_sk_ino.push(rpc::UnixSk { inode });
        Ok(self)
    }

    /// Declare a resource that is not the tree's own (`file[mnt_id:inode]`,
    /// `tty[rdev:dev]`, `unix[inode]`, `dev[...]`, `mnt[...]`, `veth[...]`,
    /// ...): criu leaves it out at dump and expects it to be handed in at
    /// restore. Malformed ids, which criu would silently match to nothing,
    /// are refused (see [`crate::ids`]); [`crate::ids::external_id`] finds
    /// the id of an open file.
    pub fn add_external(&mut self, key: &str) -> Result<&mut Self> {
        ids::validate_external(key)?;
        self.rpc.external.push(key.to_owned());
        Ok(self)
    }

    /// At restore, hand the restored tree the caller's descriptor `fd` in
    /// place of the resource named `key` (`file[mnt_id:inode]`,
    /// `pipe:[inode]`, `socket:[inode]`, `tty[rdev:dev]`, or the path of a
    /// file without its leading slash). Only possible when criu is started
    /// by the library (swrk), since criu must inherit the descriptor; the
    /// descriptor may be close-on-exec. [`crate::ids::inherit_key`] finds the
    /// key of an open descriptor.
    pub fn add_inherit_fd(&mut self, fd: RawFd, key: &str) -> Result<&mut Self> {
        if !matches!(self.service, Service::Binary(_)) {
            return Err(Error::InvalidArgument(
                "inherited fds need criu started by the library (service binary mode)".into(),
            ));
        }
        ids::validate_inherit_fd(fd)?;
        ids::validate_inherit_key(key)?;
        self.rpc.inherit_fd.push(rpc::InheritFd { key: key.to_owned(), fd });
        Ok(self)
    }

    /// Send pages to a page server at `address:port` instead of the images.
    pub fn set_page_server_address_port(&mut self, address: &str, port: i32) -> &mut Self {
        self.rpc.ps =
            Some(rpc::CriuPageServerInfo { address: Some(address.to_owned()), port: Some(port), ..Default::default() });
        self
    }

    /// Restore into the namespace `ns` found at `ns_file`, with an optional
    /// namespace-specific extra option.
    pub fn join_ns_add(&mut self, ns: &str, ns_file: &str, extra_opt: Option<&str>) -> &mut Self {
        self.rpc.join_ns.push(rpc::JoinNamespace {
            ns: ns.to_owned(),
            ns_file: ns_file.to_owned(),
            extra_opt: extra_opt.map(str::to_owned),
        });
        self
    }

    /// Call `callback` at each notification point criu reaches
    /// (`pre-dump`, `post-dump`, `post-restore`, ...). A nonzero return value
    /// makes criu fail the operation, and the operation returns that value.
    pub fn set_notify(&mut self, callback: NotifyCallback) -> &mut Self {
        self.set_notify_handler(callback).set_notify_scripts(true)
    }

    /// Like [`Options::set_notify`], but leaves the request as it is: criu
    /// sends notifications only when they are asked for on their own
    /// ([`Options::set_notify_scripts`]). For APIs where the callback and
    /// that switch are separate settings, as in rust-criu's.
    pub fn set_notify_handler(&mut self, callback: NotifyCallback) -> &mut Self {
        self.notify = Some(callback);
        self
    }

    /// Bound how long the library waits for each answer of criu (`None`,
    /// the default, waits as long as criu takes, as upstream does). When the
    /// bound passes, the operation fails with errno ETIMEDOUT and a criu the
    /// library started is killed. This is not criu's own freeze timeout
    /// ([`Options::set_timeout`]).
    pub fn set_reply_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.reply_timeout = timeout;
        self
    }

    /// Save the caller's own file, directory (with everything below it) or
    /// symlink at `path` into the dump, and put it back before a restore, so
    /// that its deletion in between does not break the restore. criu has no
    /// such option: the library copies the files into the images directory
    /// while the tree is frozen (at criu's `post-dump` point) and writes them
    /// back before asking criu to restore. A restore puts back everything
    /// the dump saved without being told anything; paths added to a
    /// restore's options narrow the put-back to the entries at or below them
    /// (the others stay in the images), and
    /// [`Options::set_tmp_file_put_back`] turns it off.
    /// Refuses at once anything but a file, directory or symlink; a missing
    /// path is accepted here (at restore the files are missing by design)
    /// and refused by a dump before criu runs.
    pub fn add_tmp_file(&mut self, path: impl AsRef<Path>) -> Result<&mut Self> {
        let path = path.as_ref();
        let recorded = match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => resolve_missing(path)?,
            _ => tmpfile::check_path(path)?,
        };
        self.tmp_files.push(recorded);
        Ok(self)
    }

    /// The most bytes the tmp files may take in the images (default
    /// [`tmpfile::DEFAULT_LIMIT`]), counting the bytes stored (a sparse
    /// file's data, not its holes); a dump over it fails before criu runs,
    /// and a restore refuses a larger archive before reading it.
    pub fn set_tmp_file_limit(&mut self, bytes: u64) -> &mut Self {
        self.tmp_file_limit = bytes;
        self
    }

    /// Whether a restore puts back the tmp files its images hold (default
    /// true). Off, the restore writes none of them.
    pub fn set_tmp_file_put_back(&mut self, enabled: bool) -> &mut Self {
        self.tmp_file_put_back = enabled;
        self
    }

    /// The tmp files added so far, as they will be recorded.
    pub fn tmp_files(&self) -> &[PathBuf] {
        &self.tmp_files
    }

    /// Drop the notify callback (notifications stay requested if they were;
    /// they are then acknowledged as successful).
    pub fn remove_notify(&mut self) -> &mut Self {
        self.notify = None;
        self
    }
}

/// Whole `criu_opts` messages, for callers that build the request options
/// themselves (the pycriu-compatible Python module hands over the message
/// its scripts filled in).
impl Options {
    /// Replace every criu option at once with `rpc`. What only the library
    /// knows (how to reach criu, the notify callback, tmp files, the reply
    /// timeout) stays. Nothing is checked: criu judges the message, as it
    /// does a message from any other RPC client.
    pub fn set_request_options(&mut self, rpc: rpc::CriuOpts) -> &mut Self {
        self.rpc = rpc;
        self
    }

    /// [`Options::set_request_options`] from the message's wire form. Bytes
    /// that do not decode as a `criu_opts` message are an invalid argument.
    pub fn set_request_options_bytes(&mut self, bytes: &[u8]) -> Result<&mut Self> {
        let rpc = <rpc::CriuOpts as prost::Message>::decode(bytes)
            .map_err(|e| Error::InvalidArgument(format!("not a criu_opts message: {e}")))?;
        Ok(self.set_request_options(rpc))
    }
}

/// A missing path as the dump would have recorded it: absolute, with its
/// deepest existing ancestor's symlinks resolved.
fn resolve_missing(path: &Path) -> Result<PathBuf> {
    let absolute =
        std::path::absolute(path).map_err(|e| Error::InvalidArgument(format!("tmp file {}: {e}", path.display())))?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while std::fs::symlink_metadata(existing).is_err() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut resolved = std::fs::canonicalize(existing).unwrap_or_else(|_| existing.to_path_buf());
    resolved.extend(rest.iter().rev());
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_criu() {
        let o = Options::new();
        assert_eq!(o.rpc.images_dir_fd, -1);
        assert_eq!(o.rpc.log_level, None);
        assert_eq!(o.service, Service::Binary(PathBuf::from("criu")));
    }

    #[test]
    fn setters_fill_request_fields() {
        let mut o = Options::new();
        o.set_pid(42).set_leave_running(true).set_ghost_limit(7).set_log_file("x.log");
        o.set_timeout(9).add_external("file[1:2]").unwrap().add_external("dev[3/4]:x").unwrap();
        o.set_manage_cgroups_mode(CgMode::Soft).set_network_lock(NetworkLock::Skip);
        o.set_exec_cmd(&["a", "b"]).join_ns_add("net", "/proc/1/ns/net", None);
        let r = o.request_options();
        assert_eq!(r.pid, Some(42));
        assert_eq!(r.leave_running, Some(true));
        assert_eq!(r.ghost_limit, Some(7));
        assert_eq!(r.log_file.as_deref(), Some("x.log"));
        assert_eq!(r.timeout, Some(9), "the timeout must reach criu (upstream never sends it)");
        assert_eq!(r.external, vec!["file[1:2]".to_string(), "dev[3/4]:x".to_string()]);
        assert_eq!(r.manage_cgroups_mode, Some(3));
        assert_eq!(r.network_lock, Some(3));
        assert_eq!(r.exec_cmd, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(r.join_ns[0].extra_opt, None);
        assert_eq!(r.rst_sibling, None);
        o.set_rst_sibling(true);
        assert_eq!(o.request_options().rst_sibling, Some(true));
    }

    #[test]
    fn unix_sk_follows_the_ext_unix_sk_switch() {
        let mut o = Options::new();
        o.add_unix_sk(5).unwrap();
        assert_eq!(o.rpc.ext_unix_sk, Some(true));
        o.set_ext_unix_sk(false);
        assert!(o.add_unix_sk(6).is_err());
        assert!(o.rpc.unix_sk_ino.is_empty());
    }

    #[test]
    fn inherit_fd_needs_swrk_an_open_fd_and_a_real_key() {
        let mut o = Options::new();
        assert!(o.add_inherit_fd(0, "file[1:2]").is_ok());
        assert!(o.add_inherit_fd(0, "pipe[12]").is_err(), "criu's help-text form matches nothing");
        assert!(o.add_inherit_fd(-1, "pipe:[12]").is_err());
        assert_eq!(o.rpc.inherit_fd.len(), 1);
        o.set_service_address("/tmp/sock");
        assert!(o.add_inherit_fd(0, "file[1:2]").is_err());
    }

    #[test]
    fn malformed_externals_are_refused() {
        let mut o = Options::new();
        assert!(o.add_external("file[zz:1]").is_err());
        assert!(o.add_external("file[1:2").is_err());
        assert!(o.add_external("file[1:2]x").is_err());
        assert!(o.rpc.external.is_empty());
    }

    #[test]
    fn whole_request_options_replace_the_message_only() {
        let mut sent = rpc::CriuOpts { pid: Some(7), images_dir_fd: 3, ..Default::default() };
        sent.external.push("file[1:2]".into());
        let bytes = prost::Message::encode_to_vec(&sent);
        let mut o = Options::new();
        o.set_service_address("/tmp/sock").set_log_file("old.log");
        o.set_request_options_bytes(&bytes).unwrap();
        assert_eq!(o.request_options(), &sent);
        assert_eq!(o.service(), &Service::Socket(PathBuf::from("/tmp/sock")));
        assert!(o.set_request_options_bytes(b"\x08").is_err(), "a truncated message is refused");
        assert_eq!(o.request_options(), &sent, "a refused message changes nothing");
    }

    #[test]
    fn numbered_enums_convert_both_ways() {
        for mode in CgMode::ALL {
            assert_eq!(CgMode::try_from(mode.raw()).unwrap(), *mode);
        }
        assert_eq!(NetworkLock::from_raw(3), Some(NetworkLock::Skip));
        assert_eq!(i32::from(PreDumpMode::Read), 2);
        assert!(PreDumpMode::try_from(0).is_err(), "0 is no pre-dump mode");
        assert_eq!(LogLevel::from_raw(4), Some(LogLevel::Debug));
        assert_eq!(Service::Fd(3).comm().raw(), 1);
    }

    #[test]
    fn notify_turns_on_notify_scripts() {
        let mut o = Options::new();
        o.set_notify(Box::new(|_, _| 0));
        assert_eq!(o.rpc.notify_scripts, Some(true));
    }

    #[test]
    fn notify_handler_leaves_the_request_alone() {
        let mut o = Options::new();
        o.set_notify_handler(Box::new(|_, _| 0));
        assert!(o.notify.is_some());
        assert_eq!(o.rpc.notify_scripts, None);
    }
}
