"""The implementation of ``libcriu.pycriu``: upstream pycriu's ``criu`` class
and exceptions, over libcriu's native options and operations.

It lives outside the ``pycriu`` package so that the package's modules can
be imported under a second name (``pycriu.criu`` through a shim) and still
hand out the very same classes.
"""

import errno
import os
from typing import Any, Tuple

from . import CriuError, _libcriu, _rpc as rpc

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
    sent, received or parsed."""

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


class criu:
    """Call criu through RPC, as pycriu's class of the same name.

    ``opts`` is a ``rpc.criu_opts`` message: set its fields, append to its
    repeated ones, then call an operation. Each operation sends a request
    built as pycriu builds it (its type and a copy of ``opts`` as they are
    at the call) and judges criu's answer as pycriu does; libcriu carries
    the request and the answer (starting criu, answering notifications).
    """

    opts = None

    def __init__(self) -> None:
        self.use_binary("criu")
        # images_dir_fd is a required field, -1 meaning "not given".
        self.opts = rpc.criu_opts(images_dir_fd=-1)
        self.sk = None
        # The native options holding the connection a keep_open request
        # (page_server_chld) left open: later requests of this object go to
        # the same criu, as with pycriu.
        self._connected = None

    def use_sk(self, sk_name: str = CR_DEFAULT_SERVICE_ADDRESS) -> None:
        """Reach criu through the socket of a ``criu service`` daemon."""
        self._service: Tuple[str, Any] = ("sk", sk_name)

    def use_fd(self, fd: int) -> None:
        """Reach criu through this connected socket. As with upstream, the
        descriptor stays the caller's: requests use a duplicate."""
        self._service = ("fd", fd)

    def use_binary(self, bin_name: str) -> None:
        """Reach criu by starting this binary (``criu swrk``) per request."""
        self._service = ("bin", bin_name)

    def _native(self) -> "_libcriu.Options":
        """How to reach criu, as native options: those keeping an open
        connection, or fresh ones."""
        if self._connected is not None:
            return self._connected
        options = _libcriu.Options()
        kind, where = self._service
        if kind == "bin":
            options.set_service_binary(where)
        elif kind == "sk":
            options.set_service_address(where)
        else:
            # libcriu closes a socket it is given after its request.
            options.set_service_fd(os.dup(where))
        return options

    def _request(self, typ: int, with_opts: bool = True, **fields: Any) -> Any:
        """Send a request of type ``typ`` (with ``opts`` and ``fields``) and
        return criu's answer; raise CRIUExceptionInternal when there is none
        (it could not be built, sent, received or parsed) and
        CRIUExceptionExternal when criu reports failure."""
        req = rpc.criu_req(type=typ, **fields)
        if with_opts:
            req.opts.MergeFrom(self.opts)
        native = self._native()
        try:
            data = native.request(req.SerializeToString())
            resp = rpc.criu_resp()
            resp.ParseFromString(data)
        except CriuError as e:
            # A system error reads as Python's OSError would put it.
            reason = "[Errno %d] %s" % (e.errno, os.strerror(e.errno)) if e.errno else str(e)
            raise CRIUExceptionInternal(typ, reason) from e
        except Exception as e:
            raise CRIUExceptionInternal(typ, str(e)) from e
        finally:
            # A connection kept open stays with the object, even when its
            # answer could not be parsed (pycriu keeps its socket then too).
            self._connected = native if native.is_connected() else None
        if not resp.success:
            exc = CRIUExceptionExternal(typ, resp.type, resp.cr_errno)
            exc.cr_errmsg = resp.cr_errmsg if resp.HasField("cr_errmsg") else None
            if with_opts:
                exc.log_errors = _libcriu.log_errors(req.opts.SerializeToString())
            raise exc
        return resp

    def check(self) -> None:
        """Raise unless criu can checkpoint and restore on this system."""
        self._request(rpc.CHECK)

    def dump(self) -> Any:
        """Checkpoint the tree of ``opts.pid`` (this process when unset);
        returns criu's ``criu_dump_resp``, whose ``restored`` is True in the
        restored copy of a self-dumped process."""
        return self._request(rpc.DUMP).dump

    def pre_dump(self) -> Any:
        """Pre-dump the tree's memory (criu's PRE_DUMP, whose iteration ends
        with the connection); the tree keeps running. Returns criu's
        ``criu_dump_resp`` (empty: criu sends none for a pre-dump)."""
        return self._request(rpc.PRE_DUMP).dump

    def restore(self) -> Any:
        """Restore the tree from the images; returns criu's
        ``criu_restore_resp``, whose ``pid`` is the pid of its root."""
        return self._request(rpc.RESTORE).restore

    def page_server_chld(self) -> Any:
        """Start a page server as a child of a criu kept running for this
        object (``opts.ps`` gives its address and port, ``opts`` its images
        directory); returns criu's ``criu_page_server_info`` with its
        ``pid`` and ``port``. Later requests of this object, wait_pid()
        among them, go to that same criu."""
        return self._request(rpc.PAGE_SERVER_CHLD, keep_open=True).ps

    def wait_pid(self, pid: int) -> int:
        """Wait until ``pid``, a child of the criu kept by page_server_chld(),
        exits; returns its wait status. criu exits after answering."""
        return self._request(rpc.WAIT_PID, with_opts=False, pid=pid).status
