"""The exceptions: the hierarchy the README describes, and the class each
kind of core failure is raised as.

The failures criu itself would have to misbehave for (an unknown request, an
answer of the wrong type, a notification vetoed) are provoked by a stand-in
for criu on the other end of a socket pair given with ``service_fd``, which
answers with hand-encoded ``criu_resp`` messages (rpc.proto's field numbers).
"""

import errno
import socket
import threading
from pathlib import Path
from typing import Any, Callable, List, Tuple, Type

import pytest

import libcriu
from helpers import CRIU_BIN, missing_pid, options

# criu_req_type numbers, from criu's rpc.proto.
EMPTY, DUMP, CHECK, NOTIFY = 0, 1, 3, 6


def varint_field(number: int, value: int) -> bytes:
    """A small non-negative varint field (one byte of value)."""
    assert 0 <= value < 128
    return bytes([number << 3, value])


def bytes_field(number: int, value: bytes) -> bytes:
    assert len(value) < 128
    return bytes([number << 3 | 2, len(value)]) + value


def criu_resp(typ: int, success: bool, *extra: bytes) -> bytes:
    return varint_field(1, typ) + varint_field(2, int(success)) + b"".join(extra)


def fake_criu(answers: List[bytes]) -> Tuple[int, Callable[[], List[bytes]]]:
    """A socket for ``service_fd`` whose peer answers each message the
    library sends with the next of ``answers`` (none left: it hangs up),
    and a function that waits for the peer and returns the messages."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    received: List[bytes] = []

    def serve() -> None:
        with theirs:
            pending = list(answers)
            while True:
                message = theirs.recv(1 << 16)
                if not message:
                    return  # the library closed its end
                received.append(message)
                if not pending:
                    return  # hang up
                theirs.send(pending.pop(0))

    peer = threading.Thread(target=serve)
    peer.start()

    def finish() -> List[bytes]:
        peer.join()
        return received

    return ours.detach(), finish


def provoke_with_fake(answers: List[bytes], **opts: Any) -> Tuple[libcriu.CriuError, List[bytes]]:
    fd, finish = fake_criu(answers)
    with pytest.raises(libcriu.CriuError) as failed:
        libcriu.Options(service_fd=fd, **opts).check()
    return failed.value, finish()


# Every class libcriu raises, its bases besides CriuError, as the README says.
HIERARCHY = {
    "CriuRpcError": (),
    "CriuConnectionError": (ConnectionError,),
    "CriuCommunicationError": (ConnectionError,),
    "CriuUnsupportedError": (),
    "CriuProtocolError": (),
    "CriuInvalidArgumentError": (ValueError,),
    "CriuCallbackError": (),
}


def test_the_hierarchy_is_the_documented_one() -> None:
    assert issubclass(libcriu.CriuError, Exception)
    exported = {name for name in libcriu.__all__ if name.startswith("Criu") and name.endswith("Error")}
    assert exported == set(HIERARCHY) | {"CriuError"}
    for name, extra_bases in HIERARCHY.items():
        cls = getattr(libcriu, name)
        assert issubclass(cls, libcriu.CriuError), name
        for base in extra_bases:
            assert issubclass(cls, base), (name, base)
        assert cls.__module__.startswith("libcriu"), cls.__module__
    # Only the documented ones are ConnectionErrors or ValueErrors, so that
    # `except ValueError` does not catch a failed dump.
    assert not issubclass(libcriu.CriuRpcError, (ConnectionError, ValueError))
    assert not issubclass(libcriu.CriuCallbackError, (ConnectionError, ValueError))


def test_an_rpc_failure_is_a_rpc_error() -> None:
    failure, _ = provoke_with_fake([criu_resp(CHECK, False, varint_field(7, errno.ESRCH), bytes_field(9, b"gone"))])
    assert type(failure) is libcriu.CriuRpcError
    assert (failure.errno, failure.cr_errno, failure.cr_errmsg) == (errno.ESRCH, errno.ESRCH, "gone")
    assert "gone" in str(failure)


def test_an_unknown_request_is_an_unsupported_error() -> None:
    failure, received = provoke_with_fake([criu_resp(EMPTY, False)])
    assert type(failure) is libcriu.CriuUnsupportedError
    assert received[0].startswith(varint_field(1, CHECK)), "the library sent a CHECK request"


def test_an_answer_of_another_type_is_a_protocol_error() -> None:
    failure, _ = provoke_with_fake([criu_resp(DUMP, True)])
    assert type(failure) is libcriu.CriuProtocolError
    assert failure.resp_type == DUMP


def test_a_hang_up_is_a_communication_error() -> None:
    failure, received = provoke_with_fake([])
    assert type(failure) is libcriu.CriuCommunicationError
    assert failure.errno == errno.ECONNRESET and len(received) == 1


def test_a_vetoed_notification_is_a_callback_error() -> None:
    note = criu_resp(NOTIFY, True, bytes_field(5, bytes_field(1, b"pre-dump")))
    failure, received = provoke_with_fake([note], notify_cb=lambda action, pid: 7 if action == "pre-dump" else None)
    assert type(failure) is libcriu.CriuCallbackError
    assert (failure.value, failure.errno, failure.cr_errno) == (7, 0, None)
    # The library answered the notification with notify_success = false.
    assert received[1] == varint_field(1, NOTIFY) + varint_field(3, 0)


def test_an_exception_in_a_callback_fails_the_operation_cleanly() -> None:
    class Refused(Exception):
        pass

    def refuse(action: str, pid: object) -> None:
        raise Refused(action)

    note = criu_resp(NOTIFY, True, bytes_field(5, bytes_field(1, b"pre-dump")))
    fd, finish = fake_criu([note])
    opts = libcriu.Options(service_fd=fd, notify_cb=refuse)
    with pytest.raises(Refused, match="pre-dump"):
        opts.check()
    # criu was told the notification failed, and the options are usable.
    assert finish()[1] == varint_field(1, NOTIFY) + varint_field(3, 0)
    opts.set_pid(1)


def test_failures_before_criu_runs(tmp_path: Path) -> None:
    with pytest.raises(libcriu.CriuConnectionError) as unreachable:
        libcriu.Options(service_binary=tmp_path / "no-criu").check()
    assert type(unreachable.value) is libcriu.CriuConnectionError
    assert unreachable.value.errno == errno.ENOENT
    with pytest.raises(libcriu.CriuInvalidArgumentError) as invalid:
        libcriu.Options().add_external("no such kind")
    assert type(invalid.value) is libcriu.CriuInvalidArgumentError


def test_the_real_criu_reports_a_missing_pid_as_a_rpc_error(tmp_path: Path) -> None:
    assert CRIU_BIN
    with pytest.raises(libcriu.CriuRpcError) as failed:
        options(pid=missing_pid(), images_dir=tmp_path).dump()
    assert failed.value.cr_errno == errno.ESRCH


@pytest.mark.parametrize("cls", [libcriu.CriuError] + [getattr(libcriu, name) for name in HIERARCHY])
def test_the_classes_can_be_raised_by_callers_too(cls: Type[libcriu.CriuError]) -> None:
    # Keyword attributes as the module sets them, for code that raises or
    # fakes these errors itself.
    error = cls("words", errno=errno.EIO)
    assert (error.message, str(error), error.errno, error.cr_errno) == ("words", "words", errno.EIO, None)
