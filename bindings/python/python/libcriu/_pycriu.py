"""The implementation of ``libcriu.pycriu``: upstream pycriu's ``criu`` class
and exceptions, over libcriu's native options and operations.

It lives outside the ``pycriu`` package so that the package's modules can
be imported under a second name (``pycriu.criu`` through a shim) and still
hand out the very same classes.
"""

import errno
import os
from typing import Any, Callable, Tuple

from . import _libcriu, _rpc as rpc
from . import (
    CriuError,
    CriuProtocolError,
    CriuRpcError,
    CriuUnsupportedError,
)

CR_DEFAULT_SERVICE_ADDRESS = "./criu_service.socket"


class CRIUException(Exception):
    """Base class of pycriu's errors; ``typ`` is the request type (a
    ``rpc.criu_req_type`` number)."""

    typ = None
    _str = None

    def __str__(self) -> str:
        return self._str


class CRIUExceptionInternal(CRIUException):
    """The request did not get an answer from criu: it could not be built,
    sent or received."""

    def __init__(self, typ: int, s: str) -> None:
        self.typ = typ
        self._str = "%s failed with internal error: %s" % (rpc.criu_req_type.Name(self.typ), s)


class CRIUExceptionExternal(CRIUException):
    """criu answered and reported failure. ``resp_typ`` is the type of its
    answer (differs from ``typ`` when criu did not know the request) and
    ``errno`` criu's error number (0 when it sent none). Beyond upstream,
    ``cr_errmsg`` and ``log_errors`` carry criu's first error message and the
    error lines of its log when known (else None)."""

    def __init__(self, req_typ: int, resp_typ: int, errno: int) -> None:
        self.typ = req_typ
        self.resp_typ = resp_typ
        self.errno = errno
        self.cr_errmsg = None
        self.log_errors = None
        self._str = self._gen_error_str()

    def _gen_error_str(self) -> str:
        s = "%s failed: " % (rpc.criu_req_type.Name(self.typ),)
        if self.typ != self.resp_typ:
            s += "Unexpected response type %d: " % (self.resp_typ,)
        s += "Error(%d): " % (self.errno,)
        if self.errno == errno.EBADRQC:
            s += "Bad options"
        elif self.typ == rpc.DUMP and self.errno == errno.ESRCH:
            s += "No process with such pid"
        elif self.typ == rpc.RESTORE and self.errno == errno.EEXIST:
            s += "Process with requested pid already exists"
        else:
            s += "Unknown"
        return s


def _external(typ: int, error: CriuError) -> CRIUException:
    """The pycriu exception for one of libcriu's."""
    if isinstance(error, CriuRpcError):
        exc = CRIUExceptionExternal(typ, typ, error.cr_errno or 0)
        exc.cr_errmsg = error.cr_errmsg
        exc.log_errors = error.log_errors
        return exc
    if isinstance(error, CriuUnsupportedError):
        # criu answers a request it does not know with an empty response.
        return CRIUExceptionExternal(typ, rpc.EMPTY, 0)
    if isinstance(error, CriuProtocolError):
        return CRIUExceptionExternal(typ, error.resp_type, 0)
    return CRIUExceptionInternal(typ, str(error))


class criu:
    """Call criu through RPC, as pycriu's class of the same name.

    ``opts`` is a ``rpc.criu_opts`` message: set its fields, append to its
    repeated ones, then call an operation. Each operation sends a copy of
    ``opts`` as it is at the call.
    """

    opts = None

    def __init__(self) -> None:
        self.use_binary("criu")
        # images_dir_fd is a required field, -1 meaning "not given".
        self.opts = rpc.criu_opts(images_dir_fd=-1)
        self.sk = None
        # The criu kept open by page_server_chld() for wait_pid().
        self._session = None

    def use_sk(self, sk_name: str = CR_DEFAULT_SERVICE_ADDRESS) -> None:
        """Reach criu through the socket of a ``criu service`` daemon."""
        self._service: Tuple[str, Any] = ("sk", sk_name)

    def use_fd(self, fd: int) -> None:
        """Reach criu through this connected socket. As with upstream, the
        descriptor stays the caller's: each request uses a duplicate."""
        self._service = ("fd", fd)

    def use_binary(self, bin_name: str) -> None:
        """Reach criu by starting this binary (``criu swrk``) per request."""
        self._service = ("bin", bin_name)

    def _native(self) -> "_libcriu.Options":
        options = _libcriu.Options()
        options.set_request_options(self.opts.SerializeToString())
        kind, where = self._service
        if kind == "bin":
            options.set_service_binary(where)
        elif kind == "sk":
            options.set_service_address(where)
        else:
            # libcriu closes a given socket after its request.
            options.set_service_fd(os.dup(where))
        return options

    def _run(self, typ: int, operation: Callable[["_libcriu.Options"], Any]) -> Any:
        return self._translated(typ, lambda: operation(self._native()))

    def _translated(self, typ: int, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except CriuError as e:
            raise _external(typ, e) from e
        except Exception as e:
            # Upstream reports anything that goes wrong around the exchange
            # (a message missing required fields, a socket error) this way.
            raise CRIUExceptionInternal(typ, str(e)) from e

    def check(self) -> None:
        """Raise unless criu can checkpoint and restore on this system."""
        self._run(rpc.CHECK, lambda o: o.check())

    def dump(self) -> Any:
        """Checkpoint the tree of ``opts.pid`` (this process when unset);
        returns a ``criu_dump_resp`` whose ``restored`` is True in the
        restored copy of a self-dumped process."""
        restored = self._run(rpc.DUMP, lambda o: o.dump())
        return rpc.criu_dump_resp(restored=restored)

    def pre_dump(self) -> Any:
        """Pre-dump the tree's memory once; the tree keeps running. Returns
        an empty ``criu_dump_resp`` (criu sends none for a pre-dump)."""
        self._run(rpc.PRE_DUMP, lambda o: o.pre_dump())
        return rpc.criu_dump_resp()

    def restore(self) -> Any:
        """Restore the tree from the images; returns a ``criu_restore_resp``
        whose ``pid`` is the pid of its root."""
        pid = self._run(rpc.RESTORE, lambda o: o.restore())
        return rpc.criu_restore_resp(pid=pid)

    def page_server_chld(self) -> Any:
        """Start a page server as a child of a criu kept running for this
        object (``opts.ps`` gives its address and port, ``opts`` its images
        directory); returns a ``criu_page_server_info`` with its ``pid`` and
        ``port``. wait_pid() waits for it on that same criu."""
        session = _libcriu.Session()
        pid, port = self._run(rpc.PAGE_SERVER_CHLD, lambda o: session.page_server_chld(o))
        self._session = session
        return rpc.criu_page_server_info(pid=pid, port=port)

    def wait_pid(self, pid: int) -> int:
        """Wait until ``pid``, a page server of page_server_chld(), exits;
        returns its wait status. criu exits after answering."""
        session, self._session = self._session, None
        if session is None:
            # Only the criu that started a process can wait for it.
            session = _libcriu.Session()
        return self._translated(rpc.WAIT_PID, lambda: session.wait_pid(pid))
