"""Helpers for the tests against the real criu: CRIU_BIN names it (default:
`criu` from PATH)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, List, Union

import pytest

import libcriu

CRIU_BIN = os.environ.get("CRIU_BIN", "criu")

# Appends a counter to the file named by argv[1] every 20 ms, reopening it
# each time so that the victim holds no descriptor of it between writes.
COUNTER = """
import sys, time
i = 0
while True:
    i += 1
    with open(sys.argv[1], "a") as f:
        f.write(f"{i}\\n")
    time.sleep(0.02)
"""


def options(**kwargs: Any) -> libcriu.Options:
    """Options reaching the criu under test, logging at debug level."""
    return libcriu.Options(service_binary=CRIU_BIN, log_level=libcriu.LogLevel.DEBUG, **kwargs)


def start(victims: list, script: str, *args: str, stdout: Any = subprocess.DEVNULL) -> subprocess.Popen:
    """Start a victim: a single Python process (no children to leave
    zombies behind) in a session of its own, without a terminal."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    victims.append(proc)
    return proc


def lines(path: Path) -> List[str]:
    try:
        return path.read_text().split()
    except FileNotFoundError:
        return []


def wait_until(what: str, condition: Callable[[], Any], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def reap_dumped(proc: subprocess.Popen) -> None:
    """Reap a victim criu killed after dumping it, and wait until its pid is
    free for the restore (a zombie keeps it: "Can't fork for PID: File exists")."""
    proc.wait(timeout=20)
    wait_pid_free(proc.pid)


def wait_pid_free(pid: int) -> None:
    """Wait until `pid` is free again, reaping it if it ends up our zombie
    (as the task of a failed restore does: criu kills it, and as the
    subreaper we inherit it)."""

    def free() -> bool:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return not os.path.exists(f"/proc/{pid}")

    wait_until(f"pid {pid} to be free", free)


def stop(victim: Union[subprocess.Popen, int]) -> None:
    """Kill and reap a victim: a Popen, or the pid of a restored process
    (our child, directly or through the subreaper)."""
    if isinstance(victim, subprocess.Popen):
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        return
    try:
        os.kill(victim, signal.SIGKILL)
        os.waitpid(victim, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def missing_pid() -> int:
    # pid_max itself is never a live pid while the allocator has not wrapped.
    return int(Path("/proc/sys/kernel/pid_max").read_text())
