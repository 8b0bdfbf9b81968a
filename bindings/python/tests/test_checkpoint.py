"""Checkpoint and restore real processes through libcriu."""

import hashlib
import os
import shutil
from pathlib import Path

import pytest

import libcriu
from helpers import COUNTER, lines, options, reap_dumped, start, wait_pid_free, wait_until


def test_dump_and_restore_a_running_process(tmp_path: Path, victims: list) -> None:
    log = tmp_path / "counter.log"
    images = tmp_path / "images"
    images.mkdir()
    proc = start(victims, COUNTER, str(log))
    wait_until("the counter to start", lambda: len(lines(log)) >= 3)

    seen = []
    note = lambda action, pid: seen.append((action, pid))  # noqa: E731
    restored = options(pid=proc.pid, images_dir=images, log_file="dump.log", notify_cb=note).dump()
    assert restored is False, "only a self-dump returns in a restored copy"
    reap_dumped(proc)
    assert "post-dump" in [action for action, _ in seen], seen
    dumped = len(lines(log))

    pid = options(images_dir=str(images), log_file="restore.log", notify_cb=note).restore()
    victims.append(pid)
    assert pid == proc.pid, "criu restores the same pid"
    # criu names the restored root in its post-restore notification.
    assert ("post-restore", pid) in seen, seen
    wait_until("the restored counter to go on", lambda: len(lines(log)) >= dumped + 3)
    counted = [int(n) for n in lines(log)]
    assert counted == list(range(1, len(counted) + 1)), "the count goes on where it was dumped"


# Opens the file argv[1], deletes it, then appends the sha256 of what the
# descriptor reads to argv[2] every 20 ms.
GHOST_READER = """
import hashlib, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
os.unlink(sys.argv[1])
while True:
    digest = hashlib.sha256(os.pread(fd, 1 << 20, 0)).hexdigest()
    with open(sys.argv[2], "a") as f:
        f.write(digest + "\\n")
    time.sleep(0.02)
"""


def test_ghost_file_follows_the_ghost_limit(tmp_path: Path, victims: list) -> None:
    content = os.urandom(64 * 1024)
    expected = hashlib.sha256(content).hexdigest()
    ghost = tmp_path / "ghost.bin"
    ghost.write_bytes(content)
    report = tmp_path / "report.log"
    proc = start(victims, GHOST_READER, str(ghost), str(report))
    wait_until("the reader to delete its file", lambda: lines(report))
    assert not ghost.exists()

    # A limit below the file's size fails the dump, saying why.
    small = tmp_path / "small"
    small.mkdir()
    with pytest.raises(libcriu.CriuRpcError) as failed:
        options(pid=proc.pid, images_dir=small, log_file="dump.log", ghost_limit=4096).dump()
    log_text = (small / "dump.log").read_text()
    assert "ghost" in failed.value.message.lower() or "ghost" in log_text.lower(), failed.value.message
    assert "increase limit" in log_text, "criu's log names the ghost limit"
    assert proc.poll() is None, "a failed dump leaves the process running"

    images = tmp_path / "images"
    images.mkdir()
    options(pid=proc.pid, images_dir=images, log_file="dump.log", ghost_limit=1 << 20).dump()
    reap_dumped(proc)
    before = len(lines(report))

    pid = options(images_dir=images, log_file="restore.log").restore()
    victims.append(pid)
    wait_until("the restored reader to report", lambda: len(lines(report)) >= before + 3)
    assert set(lines(report)[before:]) == {expected}, "the restored process reads the original bytes"
    assert not ghost.exists(), "the ghost file stays deleted"


def test_config_file_settings_take_effect(tmp_path: Path, victims: list) -> None:
    content = os.urandom(2 << 20)
    ghost = tmp_path / "ghost.bin"
    ghost.write_bytes(content)
    report = tmp_path / "report.log"
    proc = start(victims, GHOST_READER, str(ghost), str(report))
    wait_until("the reader to delete its file", lambda: lines(report))

    # criu's default ghost limit (1 MiB) is too small; the config file raises
    # it and renames the log, and wins over the log file set in the options.
    config = tmp_path / "criu.conf"
    config.write_text("ghost-limit=8M\nlog-file=from-config.log\n")
    images = tmp_path / "images"
    images.mkdir()
    with pytest.raises(libcriu.CriuRpcError):
        options(pid=proc.pid, images_dir=images, log_file="plain.log", leave_running=True).dump()
    options(pid=proc.pid, images_dir=images, log_file="dump.log", config_file=config).dump()
    reap_dumped(proc)
    assert (images / "from-config.log").exists(), "criu logs where the config file says"
    assert not (images / "dump.log").exists(), "the config file wins over the options"

    # A config file that cannot be opened is refused, naming it.
    with pytest.raises(libcriu.CriuInvalidArgumentError) as refused:
        options(images_dir=images, config_file=tmp_path / "missing.conf").restore()
    assert "missing.conf" in str(refused.value), str(refused.value)


# Prints a counter to its stdout every 20 ms.
PRINTER = """
import sys, time
i = 0
while True:
    i += 1
    print(i, flush=True)
    time.sleep(0.02)
"""


def test_inherited_fd_replaces_an_external_file(tmp_path: Path, victims: list) -> None:
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    with open(first, "ab") as out:
        proc = start(victims, PRINTER, stdout=out)
        inode = os.fstat(out.fileno()).st_ino
    wait_until("the printer to start", lambda: lines(first))
    fdinfo = Path(f"/proc/{proc.pid}/fdinfo/1").read_text()
    mnt_id = int(next(line.split()[1] for line in fdinfo.splitlines() if line.startswith("mnt_id:")))
    key = "file[%x:%x]" % (mnt_id, inode)
    assert libcriu.get_external_id(proc.pid, 1) == key

    images = tmp_path / "images"
    images.mkdir()
    options(pid=proc.pid, images_dir=images, log_file="dump.log", external=key).dump()
    reap_dumped(proc)
    dumped = lines(first)
    # The images tell what the restore must be handed.
    listed = libcriu.list_externals(images)
    assert [(r.kind, r.key, r.pid, r.fd) for r in listed] == [("file", key, proc.pid, 1)], listed

    fd = os.open(second, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        opts = options(images_dir=images, log_file="restore.log")
        opts.add_inherit_fd(fd, key)
        pid = opts.restore_child()
        victims.append(pid)
    finally:
        os.close(fd)
    wait_until("the restored printer to write to the new file", lambda: len(lines(second)) >= 3)
    assert lines(first) == dumped, "nothing more lands in the old file"
    assert int(lines(second)[0]) == int(dumped[-1]) + 1, "the count goes on in the new file"


def test_notify_callback_can_veto_a_dump(tmp_path: Path, victims: list) -> None:
    log = tmp_path / "counter.log"
    proc = start(victims, COUNTER, str(log))
    wait_until("the counter to start", lambda: lines(log))
    opts = options(pid=proc.pid, images_dir=tmp_path, log_file="dump.log", leave_running=True)

    opts.set_notify_cb(lambda action, pid: 7 if action == "pre-dump" else None)
    with pytest.raises(libcriu.CriuCallbackError) as vetoed:
        opts.dump()
    assert vetoed.value.value == 7
    assert (vetoed.value.errno, vetoed.value.cr_errno) == (0, None)

    # An exception in the callback fails the dump too, and reaches the caller.
    class Refused(Exception):
        pass

    def refuse(action: str, pid: object) -> None:
        raise Refused(action)

    opts.set_notify_cb(refuse)
    with pytest.raises(Refused, match="pre-dump"):
        opts.dump()
    for wrong in ("yes", True):
        opts.set_notify_cb(lambda action, pid: wrong)  # type: ignore[arg-type,return-value]
        with pytest.raises(TypeError, match="None or an int"):
            opts.dump()

    before = len(lines(log))
    wait_until("the counter to go on after the vetoed dumps", lambda: len(lines(log)) > before)

    # The callback may use the options it runs under; the dump then succeeds.
    actions = []

    def allow(action: str, pid: object) -> int:
        opts.set_log_level(libcriu.LogLevel.DEBUG)
        actions.append(action)
        return 0

    opts.set_notify_cb(allow)
    assert opts.dump() is False
    assert "post-dump" in actions
    assert proc.poll() is None, "leave_running kept the process"


def test_dump_iters_pre_dumps_then_dumps(tmp_path: Path, victims: list) -> None:
    if not options().feature_check(mem_track=True)["mem_track"]:
        pytest.skip("pre-dumps need memory tracking (soft-dirty), which this kernel lacks")
    log = tmp_path / "counter.log"
    proc = start(victims, COUNTER, str(log))
    wait_until("the counter to start", lambda: lines(log))
    for name in ("1", "2", "final"):
        (tmp_path / name).mkdir()
    opts = options(pid=proc.pid, images_dir=tmp_path / "1", log_file="dump.log")
    calls = []

    def more(lent: libcriu.Options) -> int:
        # Each request goes to a new directory on top of the previous one.
        calls.append(lent)
        parent, images = ("1", "2") if len(calls) == 1 else ("2", "final")
        lent.set_images_dir(tmp_path / images)
        lent.set_parent_images("../" + parent)
        return 1 if len(calls) == 1 else 0

    opts.dump_iters(more)
    reap_dumped(proc)
    assert len(calls) == 2 and calls[0] is opts
    assert (tmp_path / "final" / "inventory.img").exists(), "the final dump went where more() said"


def test_dump_iters_stops_when_pre_dump_fails(tmp_path: Path, victims: list) -> None:
    if options().feature_check(mem_track=True)["mem_track"]:
        pytest.skip("pre-dumps work here")
    proc = start(victims, COUNTER, str(tmp_path / "counter.log"))
    opts = options(pid=proc.pid, images_dir=tmp_path, log_file="dump.log")
    calls = []
    with pytest.raises(libcriu.CriuRpcError):
        opts.dump_iters(lambda lent: calls.append(lent))
    assert calls == [], "more() is asked only after a pre-dump succeeded"
    assert proc.poll() is None



# Holds argv[1] open and appends its contents to argv[2] every 20 ms: criu
# reopens the file by path at restore, so the restore needs it there.
READER = """
import sys, time
f = open(sys.argv[1])
while True:
    f.seek(0)
    with open(sys.argv[2], "a") as out:
        out.write(f.read().replace(" ", "_") + "\\n")
    time.sleep(0.02)
"""


def test_tmp_file_comes_back_after_deletion(tmp_path: Path, victims: list) -> None:
    data = tmp_path / "needed.txt"
    data.write_text("needed contents")
    data.chmod(0o640)
    report = tmp_path / "report.log"
    proc = start(victims, READER, str(data), str(report))
    wait_until("the first read", lambda: lines(report))
    images = tmp_path / "images"
    images.mkdir()
    options(pid=proc.pid, images_dir=images, log_file="dump.log", tmp_file=[data]).dump()
    reap_dumped(proc)
    data.unlink()

    before = len(lines(report))
    pid = options(images_dir=images, log_file="restore.log", tmp_file=[data]).restore()
    victims.append(pid)
    wait_until("the restored reader to go on", lambda: len(lines(report)) >= before + 3)
    assert data.read_text() == "needed contents"
    assert data.stat().st_mode & 0o7777 == 0o640
    assert set(lines(report)[before:]) == {"needed_contents"}


# Reads the file argv[1] (kept open) every 20 ms and appends what it holds
# to argv[2]: criu reopens the file by path at restore.
TMP_READER = """
import sys, time
f = open(sys.argv[1])
while True:
    f.seek(0)
    with open(sys.argv[2], "a") as log:
        log.write(f.read().strip() + "\\n")
    time.sleep(0.02)
"""


def test_tmp_files_come_back_without_the_restore_naming_them(tmp_path: Path, victims: list) -> None:
    app = tmp_path / "app"
    app.mkdir()
    state = app / "state"
    state.write_text("state-1")
    os.link(state, app / "z-second-name")
    sparse = app / "sparse"
    with open(sparse, "wb") as f:
        f.truncate(256 << 20)
        f.write(b"head")
    os.setxattr(state, "user.kept", b"yes")
    report = tmp_path / "report.log"
    proc = start(victims, TMP_READER, str(state), str(report))
    wait_until("the reader to report", lambda: lines(report))
    images = tmp_path / "images"
    images.mkdir()
    opts = options(pid=proc.pid, images_dir=images, log_file="dump.log")
    opts.add_tmp_file(app)
    opts.dump()
    reap_dumped(proc)

    # What a restore will put back, as the listing shows it.
    listed = {Path(t.path).name: t for t in libcriu.list_tmp_files(images)}
    assert listed["z-second-name"].kind == "hardlink" and listed["z-second-name"].link_target == str(state)
    assert listed["sparse"].sparse and listed["sparse"].size == 256 << 20 and listed["sparse"].stored < 1 << 20
    assert listed["state"].xattrs == ["user.kept"]
    shutil.rmtree(app)

    # Turned off, nothing comes back and criu cannot reopen the file.
    off = options(images_dir=images, log_file="restore.log")
    off.set_tmp_file_put_back(False)
    with pytest.raises(libcriu.CriuRpcError):
        off.restore()
    assert not app.exists()
    # The failed restore's task lingers until it is reaped.
    wait_pid_free(proc.pid)

    before = len(lines(report))
    pid = options(images_dir=images, log_file="restore.log").restore()
    victims.append(pid)
    wait_until("the restored reader to go on", lambda: len(lines(report)) >= before + 3)
    assert lines(report)[-1] == "state-1"
    assert os.stat(state).st_ino == os.stat(app / "z-second-name").st_ino
    assert os.getxattr(state, "user.kept") == b"yes"
    assert os.stat(sparse).st_blocks * 512 < 1 << 20
