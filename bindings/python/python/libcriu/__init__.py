"""CRIU's client library for Python: checkpoint and restore process trees.

Build an :class:`Options` object and run an operation on it::

    import libcriu

    opts = libcriu.Options(pid=1234, images_dir="/tmp/images", log_file="dump.log")
    opts.dump()                     # raises a CriuError subclass on failure
    pid = libcriu.Options(images_dir="/tmp/images").restore()

Every operation is also a module function taking the options
(``libcriu.dump(opts)``). Called without options, the module functions work
on module-level options, like libcriu's global C API: ``libcriu.init_opts()``,
then ``libcriu.set_pid(1234)``, ``libcriu.set_images_dir(...)``,
``libcriu.dump()``. A lock serializes their use across threads.
"""

from __future__ import annotations

import enum
import inspect
import os
import threading
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Union

from . import _libcriu
from ._libcriu import Options, get_external_id, get_inherit_key

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
    "NotifyCallback",
    "DumpItersCallback",
]

#: A notify callback: (action, pid or None) -> None or 0 to let criu go on,
#: a nonzero int to veto.
NotifyCallback = Callable[[str, Optional[int]], Optional[int]]
#: dump_iters' callback, given the options: > 0 for another pre-dump,
#: None or 0 for the final dump, < 0 to stop.
DumpItersCallback = Callable[[Options], Optional[int]]


# --- Errors. The native module raises these (by name) for every failure
# of the core, so they are defined here once.


class CriuError(Exception):
    """Base class of every libcriu failure.

    Attributes:
        message: what went wrong, in words.
        errno: the error number a C caller of libcriu would find in errno:
            criu's own for RPC failures, the system's for failures to reach
            or talk to criu, 0 where none applies.
        cr_errno: criu's own error number for the failure, or None.
    """

    def __init__(self, message: str, *, errno: int = 0, cr_errno: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.errno = errno
        self.cr_errno = cr_errno

    def __str__(self) -> str:
        # OSError-based subclasses would otherwise format their own way.
        return self.message


class CriuRpcError(CriuError):
    """criu ran the request and reported failure.

    Besides ``errno`` / ``cr_errno``: ``cr_errmsg`` is criu's first error
    message and ``log_errors`` the last error lines of its log (when a log
    file was set), which usually name the cause; the message holds the
    latter when there are any.
    """

    def __init__(
        self,
        message: str,
        *,
        cr_errmsg: Optional[str] = None,
        log_errors: Optional[str] = None,
        **numbers: Any,
    ) -> None:
        super().__init__(message, **numbers)
        self.cr_errmsg = cr_errmsg
        self.log_errors = log_errors


class CriuConnectionError(CriuError, ConnectionError):
    """criu could not be reached: the binary did not start, or the service
    socket refused; ``errno`` is the system error."""


class CriuCommunicationError(CriuError, ConnectionError):
    """A message could not be sent to or received from criu (it died, or
    answered garbage); ``errno`` is the system error."""


class CriuUnsupportedError(CriuError):
    """criu does not know this request: it is probably too old."""


class CriuProtocolError(CriuError):
    """criu answered with a response of another type than the request's;
    ``resp_type`` is the type it answered with (a criu_req_type number)."""

    def __init__(self, message: str, *, resp_type: int = 0, **numbers: Any) -> None:
        super().__init__(message, **numbers)
        self.resp_type = resp_type


class CriuInvalidArgumentError(CriuError, ValueError):
    """An argument was rejected before anything was sent to criu."""


class CriuCallbackError(CriuError):
    """A callback (notify, or dump_iters' ``more``) returned ``value``, a
    nonzero int, and the operation stopped."""

    def __init__(self, message: str, *, value: int = 0, **numbers: Any) -> None:
        super().__init__(message, **numbers)
        self.value = value


# --- The enums of criu.h, for the setters that take them.


class CgMode(enum.IntEnum):
    """Cgroup handling modes, for ``set_manage_cgroups_mode()``."""

    IGNORE = 0
    NONE = 1
    PROPS = 2
    SOFT = 3
    FULL = 4
    STRICT = 5
    DEFAULT = 6


class NetworkLock(enum.IntEnum):
    """Network locking methods, for ``set_network_lock()``."""

    IPTABLES = 1
    NFTABLES = 2
    SKIP = 3


class PreDumpMode(enum.IntEnum):
    """How pre-dump reads memory, for ``set_pre_dump_mode()``."""

    SPLICE = 1
    READ = 2


class LogLevel(enum.IntEnum):
    """criu's log levels, for ``set_log_level()``."""

    MSG = 0
    ERROR = 1
    WARN = 2
    INFO = 3
    DEBUG = 4


# --- The global API: module-level options behind a lock. The lock is
# reentrant so that a callback running inside a global operation can call
# the global setters, as C callbacks may.

_lock = threading.RLock()
_global_opts: Optional[Options] = None


def _current() -> Options:
    if _global_opts is None:
        raise RuntimeError("no module-level options: call libcriu.init_opts() first")
    return _global_opts


def init_opts() -> None:
    """Create fresh module-level options (dropping earlier ones), for the
    module functions called without options."""
    global _global_opts
    with _lock:
        _global_opts = Options()


def free_opts() -> None:
    """Drop the module-level options."""
    global _global_opts
    with _lock:
        _global_opts = None


def _run(opts: Optional[Options], name: str, *args: Any, **kwargs: Any) -> Any:
    if opts is not None:
        return getattr(opts, name)(*args, **kwargs)
    with _lock:
        return getattr(_current(), name)(*args, **kwargs)


def check(opts: Optional[Options] = None) -> None:
    """Options.check() on ``opts``, or on the module-level options."""
    return _run(opts, "check")


def dump(opts: Optional[Options] = None) -> bool:
    """Options.dump() on ``opts``, or on the module-level options."""
    return _run(opts, "dump")


def pre_dump(opts: Optional[Options] = None) -> None:
    """Options.pre_dump() on ``opts``, or on the module-level options."""
    return _run(opts, "pre_dump")


def dump_iters(more: DumpItersCallback, opts: Optional[Options] = None) -> None:
    """Options.dump_iters(more) on ``opts``, or on the module-level options."""
    return _run(opts, "dump_iters", more)


def restore(opts: Optional[Options] = None) -> int:
    """Options.restore() on ``opts``, or on the module-level options."""
    return _run(opts, "restore")


def restore_child(opts: Optional[Options] = None) -> int:
    """Options.restore_child() on ``opts``, or on the module-level options."""
    return _run(opts, "restore_child")


def get_version(opts: Optional[Options] = None) -> int:
    """Options.get_version() on ``opts``, or on the module-level options."""
    return _run(opts, "get_version")


def check_version(minimum: int, opts: Optional[Options] = None) -> bool:
    """Options.check_version(minimum) on ``opts``, or on the module-level options."""
    return _run(opts, "check_version", minimum)


def feature_check(
    opts: Optional[Options] = None,
    *,
    mem_track: bool = False,
    lazy_pages: bool = False,
    pidfd_store: bool = False,
) -> Dict[str, bool]:
    """Options.feature_check(...) on ``opts``, or on the module-level options."""
    return _run(opts, "feature_check", mem_track=mem_track, lazy_pages=lazy_pages, pidfd_store=pidfd_store)


class ExternalResource(NamedTuple):
    """A descriptor of a dumped tree that refers to something outside it,
    which a restore should be handed with ``add_inherit_fd(fd, key)``."""

    kind: str
    """"file", "pipe", "unix-socket" or "tty"."""
    key: str
    """The key to pass to add_inherit_fd(), e.g. "pipe:[4711]"."""
    pid: int
    """The task holding it, as numbered in the images."""
    fd: int
    """Its descriptor number in that task."""
    description: str
    """Why it is external, in words."""


def list_externals(images_dir: Union[str, "os.PathLike[str]", int]) -> List[ExternalResource]:
    """What a restore from the images in ``images_dir`` (a path or a
    descriptor) must be handed through add_inherit_fd(): files dumped as
    external, and pipes, unix sockets and terminals whose other end was
    outside the dumped tree. Malformed images raise CriuInvalidArgumentError."""
    return [ExternalResource(*found) for found in _libcriu.list_externals(images_dir)]


class TmpFile(NamedTuple):
    """One tmp file saved into the images, which a restore puts back."""

    path: str
    kind: str
    """"file", "dir", "symlink" or "hardlink"."""
    mode: int
    uid: int
    gid: int
    size: int
    """A file's size (holes included), or a link's target length."""
    stored: int
    """Bytes its data takes in the images (less than size when sparse)."""
    sparse: bool
    link_target: Optional[str]
    """A symlink's target, or the file a hard link is another name of."""
    xattrs: List[str]
    """Names of the extended attributes (ACLs included) kept."""


def list_tmp_files(images_dir: Union[str, "os.PathLike[str]", int]) -> List[TmpFile]:
    """The tmp files saved into the images in ``images_dir`` (a path or a
    descriptor), in the order a restore puts them back. A damaged archive
    raises CriuInvalidArgumentError."""
    return [
        TmpFile(os.fsdecode(p), k, m, u, g, sz, st, sp, None if t is None else os.fsdecode(t), x)
        for p, k, m, u, g, sz, st, sp, t, x in _libcriu.list_tmp_files(images_dir)
    ]


def _global_setter(name: str) -> Callable[..., Any]:
    method = getattr(Options, name)

    def setter(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return getattr(_current(), name)(*args, **kwargs)

    setter.__name__ = setter.__qualname__ = name
    setter.__doc__ = f"{method.__doc__}\n\nOn the module-level options (see init_opts())."
    try:
        # The method's signature less `self`, so help() shows the arguments.
        signature = inspect.signature(method)
        setter.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        pass
    return setter


# One module function per setter of Options: set_*, add_*, join_ns_add,
# free_service, get_orphan_pts_master_fd.
for _name in sorted(vars(Options)):
    if _name.startswith(("set_", "add_")) or _name in ("join_ns_add", "free_service", "get_orphan_pts_master_fd"):
        globals()[_name] = _global_setter(_name)
        __all__.append(_name)
del _name
