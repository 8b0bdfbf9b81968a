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
import threading
from typing import Any, Callable, Dict, Optional

# The exception classes are defined in _errors.py, the native module raises
# them (errors.rs).
from ._errors import (
    CriuCallbackError,
    CriuCommunicationError,
    CriuConnectionError,
    CriuError,
    CriuInvalidArgumentError,
    CriuProtocolError,
    CriuRpcError,
    CriuUnsupportedError,
)
from ._libcriu import ExternalResource, Options, PageServer, TmpFile
from ._libcriu import get_external_id, get_inherit_key, list_externals, list_tmp_files

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
    "NotifyCallback",
    "DumpItersCallback",
]

#: A notify callback: (action, pid or None) -> None or 0 to let criu go on,
#: a nonzero int to veto.
NotifyCallback = Callable[[str, Optional[int]], Optional[int]]
#: dump_iters' callback, given the options: > 0 for another pre-dump,
#: None or 0 for the final dump, < 0 to stop.
DumpItersCallback = Callable[[Options], Optional[int]]


# --- The enums of criu.h, for the setters that take them.


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

    #: Log level: messages printed whatever the level.
    MSG = 0
    #: Log level: errors only.
    ERROR = 1
    #: Log level: errors and warnings (criu's default).
    WARN = 2
    #: Log level: informative messages too.
    INFO = 3
    #: Log level: everything, for debugging.
    DEBUG = 4
# END GENERATED enums


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
