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

Requests go out as upstream pycriu builds them, and answers are judged as
it judges them; ``tests/pycriu-differential`` in libcriu-rs checks this
call by call against upstream pycriu. The few differences (criu started
without forking the interpreter, notifications acknowledged, ...) are
listed, each with its reason, in one place: ``docs/pycriu-differences.md``
in libcriu-rs.
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
