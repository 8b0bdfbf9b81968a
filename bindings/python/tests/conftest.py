"""Fixtures for the tests against the real criu (they need root, as criu does)."""

import ctypes
import os

import pytest

from helpers import stop

PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture(scope="session", autouse=True)
def subreaper() -> None:
    # A restored tree is criu's child and is reparented when criu exits:
    # to us, as a subreaper, so the tests can reap what they restore.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.fail(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")


@pytest.fixture
def victims():
    """A list for the processes a test starts; they are killed at its end."""
    started: list = []
    yield started
    for proc in started:
        stop(proc)


def pytest_report_header() -> str:
    # Show which libcriu is under test (the installed one, not the source).
    import libcriu

    return f"libcriu: {libcriu.__file__}\ncriu: {os.environ.get('CRIU_BIN', 'criu from PATH')}"
