"""Upstream pycriu's API over libcriu: scripts written for CRIU's
``lib/pycriu`` run on it unchanged.

::

    from libcriu import pycriu

    c = pycriu.criu()
    c.use_binary("/usr/sbin/criu")
    c.opts.images_dir_fd = os.open("/tmp/images", os.O_DIRECTORY)
    c.opts.pid = 1234
    c.opts.external.append("file[2a:1f3c]")
    c.dump()
    pid = c.restore().pid

A script that says ``import pycriu`` (or ``import pycriu.rpc_pb2``) gets
this package through a shim package named ``pycriu`` whose ``__init__.py``
registers it and its submodules under that name::

    import sys, libcriu.pycriu as m
    sys.modules.update({__name__ + k[len(m.__name__):]: v for k, v in list(sys.modules.items()) if k == m.__name__ or k.startswith(m.__name__ + ".")})

(bindings/python/shim/ in libcriu-rs). Needs the ``protobuf`` package:
``pip install libcriu[pycriu]``.

Where this module does not do what upstream pycriu (CRIU 4.2) does
------------------------------------------------------------------

* criu is started with posix_spawn, not by forking the Python interpreter:
  a large or multi-threaded caller pays nothing for it and is safe.
* ``check()`` sends the options and an images directory, as criu 4.x needs;
  upstream's request makes criu fail (criu issue #2758).
* Notifications: with ``opts.notify_scripts`` set, criu's notifications are
  acknowledged and the operation goes on; upstream takes the first
  notification for the answer and fails.
* ``use_fd()``: each request uses a duplicate of the descriptor, which stays
  open and the caller's, as upstream; the socket is not kept between calls.
* ``CRIUExceptionExternal`` also carries ``cr_errmsg`` and ``log_errors``
  (criu's error message and the error lines of its log) when known.
* ``CRIUExceptionInternal`` messages name the cause in libcriu's words (the
  "... failed with internal error: " prefix is the same).
* ``pre_dump()`` asks for a single pre-dump (criu's SINGLE_PRE_DUMP) rather
  than opening an iterative one that the closed connection then ends.
* ``images``: ``libcriu.images`` when that module is installed; otherwise
  ``load``/``loads`` for the ``inventory`` and ``stats-dump`` images only.
* ``wait_pid()`` without an earlier ``page_server_chld()`` raises
  ``CRIUExceptionInternal`` without starting a criu (only the criu that
  started a process can wait for it); upstream starts one, which drops the
  connection (the same exception class).
* ``page_server_chld()`` keeps its criu for ``wait_pid()`` only; other
  requests of the object start a criu of their own (upstream sends them on
  the kept connection too).
"""

# The submodules upstream has, loaded here (the shim aliases them).
from . import rpc_pb2, rpc_pb2 as rpc
from .criu import (
    CR_DEFAULT_SERVICE_ADDRESS,
    CRIUException,
    CRIUExceptionExternal,
    CRIUExceptionInternal,
    criu,
)
from .version import __version__


def __getattr__(name: str):
    # ``images`` is loaded on first use: most scripts never touch it.
    if name == "images":
        import importlib

        return importlib.import_module(".images", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = (
    "rpc",
    "images",
    "criu",
    "CRIUExceptionExternal",
    "CRIUException",
    "CR_DEFAULT_SERVICE_ADDRESS",
    "__version__",
)
