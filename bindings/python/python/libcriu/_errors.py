"""The exceptions of libcriu: one small hierarchy under :class:`CriuError`.

Every failure of the Rust core is raised as one of these, chosen by one
function of the native module (``bindings/python/src/errors.rs``), which
declares each class with pyo3's ``import_exception!`` and checks, when
``libcriu`` is imported, that every one it raises is here and derives from
:class:`CriuError`. Import them from ``libcriu``.
"""

from typing import Any, Optional


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


# They are libcriu's classes: tracebacks, reprs and pickles name them so.
for _cls in list(globals().values()):
    if isinstance(_cls, type) and issubclass(_cls, CriuError):
        _cls.__module__ = "libcriu"
del _cls
