"""Type stubs of libcriu (the native Options class and the Python parts)."""

import enum
import os
from typing import Any, Callable, ClassVar, Iterable, Iterator, Sequence, Union, final

_StrPath = Union[str, os.PathLike[str]]

# (action, pid or None) -> None/0 to go on, nonzero to veto.
NotifyCallback = Callable[[str, Union[int, None]], Union[int, None]]
# > 0: another pre-dump; None/0: the final dump; < 0: stop.
DumpItersCallback = Callable[["Options"], Union[int, None]]

__all__ = [
    "Options",
    "CriuError",
    "CriuRpcError",
    "CriuConnectionError",
    "CriuCommunicationError",
    "CriuUnsupportedError",
    "CriuProtocolError",
    "CriuInvalidArgumentError",
    "CriuCallbackError",
    "CgMode",
    "NetworkLock",
    "PreDumpMode",
    "LogLevel",
    "init_opts",
    "free_opts",
    "check",
    "dump",
    "pre_dump",
    "dump_iters",
    "restore",
    "restore_child",
    "get_version",
    "check_version",
    "feature_check",
    "get_external_id",
    "get_inherit_key",
    "list_externals",
    "list_tmp_files",
    "TmpFile",
    "ExternalResource",
    "PageServer",
    "add_cg_props",
    "add_cg_props_file",
    "add_cg_root",
    "add_cg_yard",
    "add_ext_mount",
    "add_external",
    "add_tmp_file",
    "add_inherit_fd",
    "add_unix_sk",
    "add_veth_pair",
    "free_service",
    "get_orphan_pts_master_fd",
    "join_ns_add",
    "set_exec_cmd",
    "set_tmp_file_limit",
    "set_tmp_file_put_back",
    "set_images_dir",
    "set_images_dir_fd",
    "set_manage_cgroups_mode",
    "set_network_lock",
    "set_notify_cb",
    "set_page_server_address_port",
    "set_pre_dump_mode",
    "set_reply_timeout",
    "set_service_address",
    "set_service_binary",
    "set_service_fd",
    "set_work_dir",
    "set_work_dir_fd",
    "set_request_options",
    # BEGIN GENERATED option-names (crates/libcriu/tests/generated.rs, from crates/criu/src/options.rs; make generated)
    "set_pid",
    "set_leave_running",
    "set_notify_scripts",
    "set_ext_unix_sk",
    "set_tcp_established",
    "set_tcp_skip_in_flight",
    "set_tcp_close",
    "set_weak_sysctls",
    "set_evasive_devices",
    "set_shell_job",
    "set_skip_file_rwx_check",
    "set_unprivileged",
    "set_orphan_pts_master",
    "set_file_locks",
    "set_track_mem",
    "set_auto_dedup",
    "set_force_irmap",
    "set_link_remap",
    "set_manage_cgroups",
    "set_auto_ext_mnt",
    "set_ext_sharing",
    "set_ext_masters",
    "set_mntns_compat_mode",
    "set_lazy_pages",
    "set_leave_stopped",
    "set_display_stats",
    "set_log_to_stderr",
    "set_tls",
    "set_tls_no_cn_verify",
    "set_log_level",
    "set_cpu_cap",
    "set_timeout",
    "set_ghost_limit",
    "set_pidfd_store_sk",
    "set_status_fd",
    "set_empty_ns",
    "set_parent_images",
    "set_log_file",
    "set_root",
    "set_freeze_cgroup",
    "set_lsm_profile",
    "set_lsm_mount_context",
    "set_cgroup_props",
    "set_cgroup_props_file",
    "set_cgroup_yard",
    "set_config_file",
    "set_tls_cacert",
    "set_tls_cacrl",
    "set_tls_cert",
    "set_tls_key",
    "add_enable_fs",
    "add_skip_mnt",
    "add_irmap_path",
    "add_cg_dump_controller",
    # END GENERATED option-names
    "NotifyCallback",
    "DumpItersCallback",
]

@final
class Options:
    """Options for one criu client: what to ask criu and how to reach it.

    Keywords of the constructor call the setters: ``NAME=value`` calls
    ``set_NAME(value)``; for options that accumulate, ``NAME=items`` calls
    ``add_NAME`` (or ``join_ns_add``) for each item, spreading tuples.
    """

    def __new__(
        cls,
        *,
        images_dir: _StrPath | int = ...,
        images_dir_fd: int = ...,
        work_dir: _StrPath | int = ...,
        work_dir_fd: int = ...,
        service_binary: _StrPath | None = ...,
        service_address: _StrPath | None = ...,
        service_fd: int = ...,
        reply_timeout: int = ...,
        manage_cgroups_mode: int = ...,
        network_lock: int = ...,
        pre_dump_mode: int = ...,
        exec_cmd: Sequence[str] = ...,
        page_server_address_port: tuple[str, int] = ...,
        notify_cb: NotifyCallback | None = ...,
        external: str | Iterable[str] = ...,
        cg_props: str = ...,
        cg_props_file: _StrPath = ...,
        cg_yard: _StrPath = ...,
        unix_sk: Iterable[int] = ...,
        inherit_fd: Iterable[tuple[int, str]] = ...,
        ext_mount: Iterable[tuple[str, str]] = ...,
        veth_pair: Iterable[tuple[str, str]] = ...,
        cg_root: Iterable[tuple[str | None, _StrPath]] = ...,
        join_ns: Iterable[tuple[str, _StrPath] | tuple[str, _StrPath, str | None]] = ...,
        request_options: bytes = ...,
        # BEGIN GENERATED option-keywords (crates/libcriu/tests/generated.rs, from crates/criu/src/options.rs; make generated)
        pid: int = ...,
        leave_running: bool = ...,
        notify_scripts: bool = ...,
        ext_unix_sk: bool = ...,
        tcp_established: bool = ...,
        tcp_skip_in_flight: bool = ...,
        tcp_close: bool = ...,
        weak_sysctls: bool = ...,
        evasive_devices: bool = ...,
        shell_job: bool = ...,
        skip_file_rwx_check: bool = ...,
        unprivileged: bool = ...,
        orphan_pts_master: bool = ...,
        file_locks: bool = ...,
        track_mem: bool = ...,
        auto_dedup: bool = ...,
        force_irmap: bool = ...,
        link_remap: bool = ...,
        manage_cgroups: bool = ...,
        auto_ext_mnt: bool = ...,
        ext_sharing: bool = ...,
        ext_masters: bool = ...,
        mntns_compat_mode: bool = ...,
        lazy_pages: bool = ...,
        leave_stopped: bool = ...,
        display_stats: bool = ...,
        log_to_stderr: bool = ...,
        tls: bool = ...,
        tls_no_cn_verify: bool = ...,
        log_level: int = ...,
        cpu_cap: int = ...,
        timeout: int = ...,
        ghost_limit: int = ...,
        pidfd_store_sk: int = ...,
        status_fd: int = ...,
        empty_ns: int = ...,
        parent_images: _StrPath = ...,
        log_file: _StrPath = ...,
        root: _StrPath = ...,
        freeze_cgroup: _StrPath = ...,
        lsm_profile: _StrPath = ...,
        lsm_mount_context: _StrPath = ...,
        cgroup_props: _StrPath = ...,
        cgroup_props_file: _StrPath = ...,
        cgroup_yard: _StrPath = ...,
        config_file: _StrPath = ...,
        tls_cacert: _StrPath = ...,
        tls_cacrl: _StrPath = ...,
        tls_cert: _StrPath = ...,
        tls_key: _StrPath = ...,
        enable_fs: _StrPath | Iterable[_StrPath] = ...,
        skip_mnt: _StrPath | Iterable[_StrPath] = ...,
        irmap_path: _StrPath | Iterable[_StrPath] = ...,
        cg_dump_controller: _StrPath | Iterable[_StrPath] = ...,
        # END GENERATED option-keywords
    ) -> Options: ...

    # How criu is reached.
    def set_service_binary(self, path: _StrPath | None = None) -> None: ...
    def set_service_address(self, path: _StrPath | None = None) -> None: ...
    def set_service_fd(self, fd: int) -> None: ...
    def free_service(self) -> None: ...
    def set_reply_timeout(self, milliseconds: int) -> None: ...

    # Directories.
    def set_images_dir(self, dir: _StrPath | int) -> None: ...
    def set_images_dir_fd(self, fd: int) -> None: ...
    def set_work_dir(self, dir: _StrPath | int) -> None: ...
    def set_work_dir_fd(self, fd: int) -> None: ...

    # Plain values.
    def set_manage_cgroups_mode(self, mode: int) -> None: ...
    def set_network_lock(self, method: int) -> None: ...
    def set_pre_dump_mode(self, mode: int) -> None: ...
    def set_exec_cmd(self, argv: Sequence[str]) -> None: ...
    def set_page_server_address_port(self, address: str, port: int) -> None: ...

    # The options of the core's tables, one method each.
    # BEGIN GENERATED option-methods (crates/libcriu/tests/generated.rs, from crates/criu/src/options.rs; make generated)
    def set_pid(self, value: int) -> None:
        """The pid of the tree to dump; without it, a dump dumps the caller itself."""
    def set_leave_running(self, value: bool) -> None:
        """Keep the tree running after a dump."""
    def set_notify_scripts(self, value: bool) -> None:
        """Ask criu for notifications (set by ``set_notify``)."""
    def set_ext_unix_sk(self, value: bool) -> None:
        """Allow external unix sockets."""
    def set_tcp_established(self, value: bool) -> None:
        """Checkpoint established TCP connections."""
    def set_tcp_skip_in_flight(self, value: bool) -> None:
        """Skip TCP connections that are still being set up."""
    def set_tcp_close(self, value: bool) -> None:
        """Close established TCP connections on restore."""
    def set_weak_sysctls(self, value: bool) -> None:
        """Tolerate sysctls that are missing on restore."""
    def set_evasive_devices(self, value: bool) -> None:
        """Dump device files criu cannot find by path."""
    def set_shell_job(self, value: bool) -> None:
        """The tree is a shell job: its session and terminal come from outside."""
    def set_skip_file_rwx_check(self, value: bool) -> None:
        """Do not check the rwx permissions of files on restore."""
    def set_unprivileged(self, value: bool) -> None:
        """Run criu without root (with CAP_CHECKPOINT_RESTORE). Upstream libcriu
        exports this C setter but its header does not declare it.
        """
    def set_orphan_pts_master(self, value: bool) -> None:
        """Pass the master side of orphan ptys to the notify callback
        (see ``criu_get_orphan_pts_master_fd()``).
        """
    def set_file_locks(self, value: bool) -> None:
        """Dump and restore file locks."""
    def set_track_mem(self, value: bool) -> None:
        """Track memory changes for incremental dumps (needs soft-dirty support)."""
    def set_auto_dedup(self, value: bool) -> None:
        """Deduplicate pages against the parent images."""
    def set_force_irmap(self, value: bool) -> None:
        """Force resolving the paths of inotify/fanotify watches."""
    def set_link_remap(self, value: bool) -> None:
        """Allow criu to link deleted-but-open files back for the dump."""
    def set_manage_cgroups(self, value: bool) -> None:
        """Dump and restore cgroups (the legacy switch; see the cgroup mode)."""
    def set_auto_ext_mnt(self, value: bool) -> None:
        """Detect external mounts automatically."""
    def set_ext_sharing(self, value: bool) -> None:
        """Allow external mounts with shared propagation."""
    def set_ext_masters(self, value: bool) -> None:
        """Allow external mounts with master (slave) propagation."""
    def set_mntns_compat_mode(self, value: bool) -> None:
        """Use criu's compatibility engine for mount namespaces."""
    def set_lazy_pages(self, value: bool) -> None:
        """Lazy pages: a dump serves the memory over the page server port
        instead of writing it; a restore brings pages in on demand.
        """
    def set_leave_stopped(self, value: bool) -> None:
        """Leave restored tasks stopped."""
    def set_display_stats(self, value: bool) -> None:
        """Have criu print statistics."""
    def set_log_to_stderr(self, value: bool) -> None:
        """Have criu log to its stderr."""
    def set_tls(self, value: bool) -> None:
        """Use TLS for page server connections."""
    def set_tls_no_cn_verify(self, value: bool) -> None:
        """Do not verify the peer's common name with TLS."""
    def set_log_level(self, value: int) -> None:
        """criu's log level, 0 (``CRIU_LOG_MSG``: messages only) to 4
        (``CRIU_LOG_DEBUG``); criu's default is 2.
        """
    def set_cpu_cap(self, value: int) -> None:
        """The CPU capabilities to check on restore (a bit mask)."""
    def set_timeout(self, value: int) -> None:
        """How many seconds criu may take to freeze the tree (sent to criu,
        unlike upstream libcriu, whose value never reached it).
        """
    def set_ghost_limit(self, value: int) -> None:
        """The largest deleted-but-open file criu copies into the images, in
        bytes (criu's default: 1 MiB).
        """
    def set_pidfd_store_sk(self, value: int) -> None:
        """A unix socket of the caller that keeps pidfds between pre-dumps."""
    def set_status_fd(self, value: int) -> None:
        """A descriptor criu writes one byte to once the restored tree runs."""
    def set_empty_ns(self, value: int) -> None:
        """Restore these namespaces (CLONE_NEW* flags) empty."""
    def set_parent_images(self, value: _StrPath) -> None:
        """The parent images (of a previous pre-dump), relative to the images
        directory.
        """
    def set_log_file(self, value: _StrPath) -> None:
        """criu's log file name, inside the work directory (no slashes)."""
    def set_root(self, value: _StrPath) -> None:
        """The root directory to restore into."""
    def set_freeze_cgroup(self, value: _StrPath) -> None:
        """The freezer cgroup criu uses to freeze the tree."""
    def set_lsm_profile(self, value: _StrPath) -> None:
        """The LSM profile restored tasks get."""
    def set_lsm_mount_context(self, value: _StrPath) -> None:
        """The LSM mount context of restored mounts."""
    def set_cgroup_props(self, value: _StrPath) -> None:
        """Cgroup properties as a YAML stream (replaces an earlier one)."""
    def set_cgroup_props_file(self, value: _StrPath) -> None:
        """A file of cgroup properties (replaces an earlier one)."""
    def set_cgroup_yard(self, value: _StrPath) -> None:
        """Where criu mounts its cgroup yard (replaces an earlier one)."""
    def set_config_file(self, value: _StrPath) -> None:
        """A criu configuration file for the requests of these options (libcriu
        4.2): criu reads it after the options set here, so its settings win,
        and a missing or unreadable file makes the request fail (criu's log
        names the file). criu 4.0 and 4.1 read it the same way. The path is
        as criu sees it (relative paths are relative to criu's working
        directory).
        """
    def set_tls_cacert(self, value: _StrPath) -> None:
        """TLS CA certificate file."""
    def set_tls_cacrl(self, value: _StrPath) -> None:
        """TLS CA revocation list file."""
    def set_tls_cert(self, value: _StrPath) -> None:
        """TLS certificate file."""
    def set_tls_key(self, value: _StrPath) -> None:
        """TLS private key file."""
    def add_enable_fs(self, value: _StrPath) -> None:
        """Allow mounting filesystems of this type on restore."""
    def add_skip_mnt(self, value: _StrPath) -> None:
        """Do not dump the mount at this path."""
    def add_irmap_path(self, value: _StrPath) -> None:
        """A path to scan when resolving inotify/fanotify watches."""
    def add_cg_dump_controller(self, value: _StrPath) -> None:
        """Dump this cgroup controller."""
    # END GENERATED option-methods

    # The whole criu_opts message at once (serialized; see libcriu.pycriu).
    def set_request_options(self, message: bytes) -> None: ...
    def get_request_options(self) -> bytes: ...
    def add_cg_props(self, stream: str) -> None: ...
    def add_cg_props_file(self, path: _StrPath) -> None: ...
    def add_cg_yard(self, path: _StrPath) -> None: ...

    # Lists.
    def add_external(self, key: str) -> None: ...
    def add_tmp_file(self, path: _StrPath) -> None: ...
    def set_tmp_file_limit(self, limit: int) -> None: ...
    def set_tmp_file_put_back(self, enabled: bool) -> None: ...
    def add_inherit_fd(self, fd: int, key: str) -> None: ...
    def add_unix_sk(self, inode: int) -> None: ...
    def add_ext_mount(self, key: str, val: str) -> None: ...
    def add_veth_pair(self, if_in: str, if_out: str) -> None: ...
    def add_cg_root(self, ctrl: str | None, path: _StrPath) -> None: ...
    def join_ns_add(self, ns: str, ns_file: _StrPath, extra_opt: str | None = None) -> None: ...

    # Notifications.
    def set_notify_cb(self, callback: NotifyCallback | None) -> None: ...
    def get_orphan_pts_master_fd(self) -> int | None: ...

    # Operations.
    def check(self) -> None: ...
    def dump(self) -> bool: ...
    def pre_dump(self) -> None: ...
    def dump_iters(self, more: DumpItersCallback) -> None: ...
    def restore(self) -> int: ...
    def restore_child(self) -> int: ...
    def get_version(self) -> int: ...
    def check_version(self, minimum: int) -> bool: ...
    def feature_check(self, *, mem_track: bool = False, lazy_pages: bool = False, pidfd_store: bool = False) -> dict[str, bool]: ...
    # Migration (beyond upstream libcriu). What the options start is theirs:
    # wait_pid() reaps it; collecting the options ends what still runs.
    def start_page_server(self) -> PageServer: ...
    def start_page_server_chld(self) -> PageServer: ...
    def cpuinfo_dump(self) -> None: ...
    def cpuinfo_check(self) -> None: ...
    def start_lazy_pages(self) -> int: ...
    def wait_pid(self, pid: int) -> int: ...
    def request(self, request: bytes) -> bytes: ...
    def is_connected(self) -> bool: ...

@final
class PageServer:
    """A started page server (from Options.start_page_server(), Options.start_page_server_chld())."""
    _fields: ClassVar[tuple[str, ...]]
    def __new__(cls, pid: int, port: int) -> PageServer: ...
    @property
    def pid(self) -> int: ...
    @property
    def port(self) -> int: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __getitem__(self, index: int | slice) -> Any: ...
    def _asdict(self) -> dict[str, Any]: ...

class CriuError(Exception):
    message: str
    errno: int
    cr_errno: int | None
    def __init__(self, message: str, *, errno: int = 0, cr_errno: int | None = None) -> None: ...

class CriuRpcError(CriuError):
    cr_errmsg: str | None
    log_errors: str | None
    def __init__(
        self,
        message: str,
        *,
        cr_errmsg: str | None = None,
        log_errors: str | None = None,
        errno: int = 0,
        cr_errno: int | None = None,
    ) -> None: ...

class CriuConnectionError(CriuError, ConnectionError):
    errno: int  # type: ignore[assignment]

class CriuCommunicationError(CriuError, ConnectionError):
    errno: int  # type: ignore[assignment]

class CriuUnsupportedError(CriuError): ...
class CriuProtocolError(CriuError):
    resp_type: int
    def __init__(self, message: str, *, resp_type: int = 0, errno: int = 0, cr_errno: int | None = None) -> None: ...

class CriuInvalidArgumentError(CriuError, ValueError): ...

class CriuCallbackError(CriuError):
    value: int
    def __init__(self, message: str, *, value: int = 0, errno: int = 0, cr_errno: int | None = None) -> None: ...

# BEGIN GENERATED enums (crates/libcriu/tests/generated.rs, from crates/criu/src/options.rs; make generated)
class CgMode(enum.IntEnum):
    """Cgroup handling modes (``enum criu_cg_mode``), for the
    ``set_manage_cgroups_mode`` setters.
    """
    IGNORE = 0
    NONE = 1
    PROPS = 2
    SOFT = 3
    FULL = 4
    STRICT = 5
    DEFAULT = 6

class NetworkLock(enum.IntEnum):
    """Network locking methods during dump (``enum criu_network_lock_method``),
    for the ``set_network_lock`` setters.
    """
    IPTABLES = 1
    NFTABLES = 2
    SKIP = 3

class PreDumpMode(enum.IntEnum):
    """How pre-dump reads memory (``enum criu_pre_dump_mode``), for the
    ``set_pre_dump_mode`` setters.
    """
    SPLICE = 1
    READ = 2

class LogLevel(enum.IntEnum):
    """criu's log levels (C: the ``CRIU_LOG_*`` constants), for the
    ``set_log_level`` setters.
    """
    MSG = 0
    ERROR = 1
    WARN = 2
    INFO = 3
    DEBUG = 4
# END GENERATED enums

@final
class ExternalResource:
    """A descriptor of a dumped tree that refers to something outside it (from list_externals())."""
    _fields: ClassVar[tuple[str, ...]]
    def __new__(cls, kind: str, key: str, pid: int, fd: int, description: str) -> ExternalResource: ...
    @property
    def kind(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def pid(self) -> int: ...
    @property
    def fd(self) -> int: ...
    @property
    def description(self) -> str: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __getitem__(self, index: int | slice) -> Any: ...
    def _asdict(self) -> dict[str, Any]: ...

def get_external_id(pid: int, fd: int) -> str: ...
def get_inherit_key(pid: int, fd: int) -> str: ...
def list_externals(images_dir: _StrPath | int) -> list[ExternalResource]: ...

@final
class TmpFile:
    """One tmp file saved into the images, which a restore puts back (from list_tmp_files())."""
    _fields: ClassVar[tuple[str, ...]]
    def __new__(
        cls,
        path: str,
        kind: str,
        mode: int,
        uid: int,
        gid: int,
        size: int,
        stored: int,
        sparse: bool,
        link_target: str | None,
        xattrs: list[str],
    ) -> TmpFile: ...
    @property
    def path(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def mode(self) -> int: ...
    @property
    def uid(self) -> int: ...
    @property
    def gid(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def stored(self) -> int: ...
    @property
    def sparse(self) -> bool: ...
    @property
    def link_target(self) -> str | None: ...
    @property
    def xattrs(self) -> list[str]: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __getitem__(self, index: int | slice) -> Any: ...
    def _asdict(self) -> dict[str, Any]: ...

def list_tmp_files(images_dir: _StrPath | int) -> list[TmpFile]: ...

# Operations on the given options, or on the module-level ones.
def check(opts: Options | None = None) -> None: ...
def dump(opts: Options | None = None) -> bool: ...
def pre_dump(opts: Options | None = None) -> None: ...
def dump_iters(more: DumpItersCallback, opts: Options | None = None) -> None: ...
def restore(opts: Options | None = None) -> int: ...
def restore_child(opts: Options | None = None) -> int: ...
def get_version(opts: Options | None = None) -> int: ...
def check_version(minimum: int, opts: Options | None = None) -> bool: ...
def feature_check(
    opts: Options | None = None, *, mem_track: bool = False, lazy_pages: bool = False, pidfd_store: bool = False
) -> dict[str, bool]: ...

# The global API: module-level options, like libcriu's criu_* functions.
def init_opts() -> None: ...
def free_opts() -> None: ...
def set_service_binary(path: _StrPath | None = None) -> None: ...
def set_service_address(path: _StrPath | None = None) -> None: ...
def set_service_fd(fd: int) -> None: ...
def free_service() -> None: ...
def set_reply_timeout(milliseconds: int) -> None: ...
def set_images_dir(dir: _StrPath | int) -> None: ...
def set_images_dir_fd(fd: int) -> None: ...
def set_work_dir(dir: _StrPath | int) -> None: ...
def set_work_dir_fd(fd: int) -> None: ...
def set_manage_cgroups_mode(mode: int) -> None: ...
def set_network_lock(method: int) -> None: ...
def set_pre_dump_mode(mode: int) -> None: ...
def set_exec_cmd(argv: Sequence[str]) -> None: ...
def set_page_server_address_port(address: str, port: int) -> None: ...
def add_cg_props(stream: str) -> None: ...
def add_cg_props_file(path: _StrPath) -> None: ...
def add_cg_yard(path: _StrPath) -> None: ...
def add_external(key: str) -> None: ...
def add_tmp_file(path: _StrPath) -> None: ...
def set_tmp_file_limit(limit: int) -> None: ...
def set_tmp_file_put_back(enabled: bool) -> None: ...
def add_inherit_fd(fd: int, key: str) -> None: ...
def add_unix_sk(inode: int) -> None: ...
def set_request_options(message: bytes) -> None: ...
def add_ext_mount(key: str, val: str) -> None: ...
def add_veth_pair(if_in: str, if_out: str) -> None: ...
def add_cg_root(ctrl: str | None, path: _StrPath) -> None: ...
def join_ns_add(ns: str, ns_file: _StrPath, extra_opt: str | None = None) -> None: ...
def set_notify_cb(callback: NotifyCallback | None) -> None: ...
def get_orphan_pts_master_fd() -> int | None: ...
# BEGIN GENERATED option-functions (crates/libcriu/tests/generated.rs, from crates/criu/src/options.rs; make generated)
def set_pid(value: int) -> None:
    """The pid of the tree to dump; without it, a dump dumps the caller itself.

    On the module-level options (see init_opts()).
    """
def set_leave_running(value: bool) -> None:
    """Keep the tree running after a dump.

    On the module-level options (see init_opts()).
    """
def set_notify_scripts(value: bool) -> None:
    """Ask criu for notifications (set by ``set_notify``).

    On the module-level options (see init_opts()).
    """
def set_ext_unix_sk(value: bool) -> None:
    """Allow external unix sockets.

    On the module-level options (see init_opts()).
    """
def set_tcp_established(value: bool) -> None:
    """Checkpoint established TCP connections.

    On the module-level options (see init_opts()).
    """
def set_tcp_skip_in_flight(value: bool) -> None:
    """Skip TCP connections that are still being set up.

    On the module-level options (see init_opts()).
    """
def set_tcp_close(value: bool) -> None:
    """Close established TCP connections on restore.

    On the module-level options (see init_opts()).
    """
def set_weak_sysctls(value: bool) -> None:
    """Tolerate sysctls that are missing on restore.

    On the module-level options (see init_opts()).
    """
def set_evasive_devices(value: bool) -> None:
    """Dump device files criu cannot find by path.

    On the module-level options (see init_opts()).
    """
def set_shell_job(value: bool) -> None:
    """The tree is a shell job: its session and terminal come from outside.

    On the module-level options (see init_opts()).
    """
def set_skip_file_rwx_check(value: bool) -> None:
    """Do not check the rwx permissions of files on restore.

    On the module-level options (see init_opts()).
    """
def set_unprivileged(value: bool) -> None:
    """Run criu without root (with CAP_CHECKPOINT_RESTORE). Upstream libcriu
    exports this C setter but its header does not declare it.

    On the module-level options (see init_opts()).
    """
def set_orphan_pts_master(value: bool) -> None:
    """Pass the master side of orphan ptys to the notify callback
    (see ``criu_get_orphan_pts_master_fd()``).

    On the module-level options (see init_opts()).
    """
def set_file_locks(value: bool) -> None:
    """Dump and restore file locks.

    On the module-level options (see init_opts()).
    """
def set_track_mem(value: bool) -> None:
    """Track memory changes for incremental dumps (needs soft-dirty support).

    On the module-level options (see init_opts()).
    """
def set_auto_dedup(value: bool) -> None:
    """Deduplicate pages against the parent images.

    On the module-level options (see init_opts()).
    """
def set_force_irmap(value: bool) -> None:
    """Force resolving the paths of inotify/fanotify watches.

    On the module-level options (see init_opts()).
    """
def set_link_remap(value: bool) -> None:
    """Allow criu to link deleted-but-open files back for the dump.

    On the module-level options (see init_opts()).
    """
def set_manage_cgroups(value: bool) -> None:
    """Dump and restore cgroups (the legacy switch; see the cgroup mode).

    On the module-level options (see init_opts()).
    """
def set_auto_ext_mnt(value: bool) -> None:
    """Detect external mounts automatically.

    On the module-level options (see init_opts()).
    """
def set_ext_sharing(value: bool) -> None:
    """Allow external mounts with shared propagation.

    On the module-level options (see init_opts()).
    """
def set_ext_masters(value: bool) -> None:
    """Allow external mounts with master (slave) propagation.

    On the module-level options (see init_opts()).
    """
def set_mntns_compat_mode(value: bool) -> None:
    """Use criu's compatibility engine for mount namespaces.

    On the module-level options (see init_opts()).
    """
def set_lazy_pages(value: bool) -> None:
    """Lazy pages: a dump serves the memory over the page server port
    instead of writing it; a restore brings pages in on demand.

    On the module-level options (see init_opts()).
    """
def set_leave_stopped(value: bool) -> None:
    """Leave restored tasks stopped.

    On the module-level options (see init_opts()).
    """
def set_display_stats(value: bool) -> None:
    """Have criu print statistics.

    On the module-level options (see init_opts()).
    """
def set_log_to_stderr(value: bool) -> None:
    """Have criu log to its stderr.

    On the module-level options (see init_opts()).
    """
def set_tls(value: bool) -> None:
    """Use TLS for page server connections.

    On the module-level options (see init_opts()).
    """
def set_tls_no_cn_verify(value: bool) -> None:
    """Do not verify the peer's common name with TLS.

    On the module-level options (see init_opts()).
    """
def set_log_level(value: int) -> None:
    """criu's log level, 0 (``CRIU_LOG_MSG``: messages only) to 4
    (``CRIU_LOG_DEBUG``); criu's default is 2.

    On the module-level options (see init_opts()).
    """
def set_cpu_cap(value: int) -> None:
    """The CPU capabilities to check on restore (a bit mask).

    On the module-level options (see init_opts()).
    """
def set_timeout(value: int) -> None:
    """How many seconds criu may take to freeze the tree (sent to criu,
    unlike upstream libcriu, whose value never reached it).

    On the module-level options (see init_opts()).
    """
def set_ghost_limit(value: int) -> None:
    """The largest deleted-but-open file criu copies into the images, in
    bytes (criu's default: 1 MiB).

    On the module-level options (see init_opts()).
    """
def set_pidfd_store_sk(value: int) -> None:
    """A unix socket of the caller that keeps pidfds between pre-dumps.

    On the module-level options (see init_opts()).
    """
def set_status_fd(value: int) -> None:
    """A descriptor criu writes one byte to once the restored tree runs.

    On the module-level options (see init_opts()).
    """
def set_empty_ns(value: int) -> None:
    """Restore these namespaces (CLONE_NEW* flags) empty.

    On the module-level options (see init_opts()).
    """
def set_parent_images(value: _StrPath) -> None:
    """The parent images (of a previous pre-dump), relative to the images
    directory.

    On the module-level options (see init_opts()).
    """
def set_log_file(value: _StrPath) -> None:
    """criu's log file name, inside the work directory (no slashes).

    On the module-level options (see init_opts()).
    """
def set_root(value: _StrPath) -> None:
    """The root directory to restore into.

    On the module-level options (see init_opts()).
    """
def set_freeze_cgroup(value: _StrPath) -> None:
    """The freezer cgroup criu uses to freeze the tree.

    On the module-level options (see init_opts()).
    """
def set_lsm_profile(value: _StrPath) -> None:
    """The LSM profile restored tasks get.

    On the module-level options (see init_opts()).
    """
def set_lsm_mount_context(value: _StrPath) -> None:
    """The LSM mount context of restored mounts.

    On the module-level options (see init_opts()).
    """
def set_cgroup_props(value: _StrPath) -> None:
    """Cgroup properties as a YAML stream (replaces an earlier one).

    On the module-level options (see init_opts()).
    """
def set_cgroup_props_file(value: _StrPath) -> None:
    """A file of cgroup properties (replaces an earlier one).

    On the module-level options (see init_opts()).
    """
def set_cgroup_yard(value: _StrPath) -> None:
    """Where criu mounts its cgroup yard (replaces an earlier one).

    On the module-level options (see init_opts()).
    """
def set_config_file(value: _StrPath) -> None:
    """A criu configuration file for the requests of these options (libcriu
    4.2): criu reads it after the options set here, so its settings win,
    and a missing or unreadable file makes the request fail (criu's log
    names the file). criu 4.0 and 4.1 read it the same way. The path is
    as criu sees it (relative paths are relative to criu's working
    directory).

    On the module-level options (see init_opts()).
    """
def set_tls_cacert(value: _StrPath) -> None:
    """TLS CA certificate file.

    On the module-level options (see init_opts()).
    """
def set_tls_cacrl(value: _StrPath) -> None:
    """TLS CA revocation list file.

    On the module-level options (see init_opts()).
    """
def set_tls_cert(value: _StrPath) -> None:
    """TLS certificate file.

    On the module-level options (see init_opts()).
    """
def set_tls_key(value: _StrPath) -> None:
    """TLS private key file.

    On the module-level options (see init_opts()).
    """
def add_enable_fs(value: _StrPath) -> None:
    """Allow mounting filesystems of this type on restore.

    On the module-level options (see init_opts()).
    """
def add_skip_mnt(value: _StrPath) -> None:
    """Do not dump the mount at this path.

    On the module-level options (see init_opts()).
    """
def add_irmap_path(value: _StrPath) -> None:
    """A path to scan when resolving inotify/fanotify watches.

    On the module-level options (see init_opts()).
    """
def add_cg_dump_controller(value: _StrPath) -> None:
    """Dump this cgroup controller.

    On the module-level options (see init_opts()).
    """
# END GENERATED option-functions
