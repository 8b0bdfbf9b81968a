"""Migration through libcriu against the real criu: a page server as criu's
child receiving a dump (the options' wait_pid reports its end), then a
restore from the page server's images; options that end the page server
they started; the CPU record and check; a lazy-pages daemon that cannot
start, and one that serves a lazy restore."""

import os
import shutil
from pathlib import Path

import pytest

import libcriu
from helpers import COUNTER, lines, options, reap_dumped, start, wait_until


def test_a_process_moves_through_a_page_server(tmp_path: Path, victims: list) -> None:
    log = tmp_path / "counter.log"
    source, destination = tmp_path / "source", tmp_path / "destination"
    source.mkdir()
    destination.mkdir()
    proc = start(victims, COUNTER, str(log))
    wait_until("the counter to start", lambda: len(lines(log)) >= 3)

    server = options(images_dir=destination, log_file="page-server.log", page_server_address_port=("127.0.0.1", 0))
    started = server.start_page_server_chld()
    assert isinstance(started, libcriu.PageServer), "the record, as start_page_server() returns"
    pid, port = started
    assert (started.pid, started.port) == (pid, port)
    assert pid > 0 and port > 0 and server.is_connected()
    options(images_dir=source, log_file="cpuinfo.log").cpuinfo_dump()
    dump = options(pid=proc.pid, images_dir=source, log_file="dump.log", page_server_address_port=("127.0.0.1", port))
    dump.dump()
    reap_dumped(proc)
    status = server.wait_pid(pid)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, hex(status)
    assert not server.is_connected(), "criu ends the connection after WAIT_PID"
    with pytest.raises(libcriu.CriuInvalidArgumentError):
        server.wait_pid(pid)
    assert not list(source.glob("pages-*.img")), "the pages went to the page server"
    assert list(destination.glob("pages-*.img"))

    for image in source.glob("*.img"):
        if not (destination / image.name).exists():
            shutil.copy(image, destination / image.name)
    options(images_dir=destination, log_file="cpuinfo-check.log").cpuinfo_check()
    dumped = len(lines(log))
    restored = options(images_dir=destination, log_file="restore.log").restore()
    victims.append(restored)
    wait_until("the counter to carry on", lambda: len(lines(log)) >= dumped + 3)


def test_wait_pid_without_a_page_server_is_refused() -> None:
    with pytest.raises(libcriu.CriuInvalidArgumentError):
        libcriu.Options().wait_pid(os.getpid())


def test_collected_options_kill_their_unwaited_page_server(tmp_path: Path) -> None:
    server = options(images_dir=tmp_path, log_file="ps.log", page_server_address_port=("127.0.0.1", 0))
    pid, _ = server.start_page_server_chld()
    assert Path(f"/proc/{pid}").exists()
    del server  # the last reference: the options end what they started
    wait_until("the page server to be gone", lambda: not Path(f"/proc/{pid}").exists()
               or ") Z " in Path(f"/proc/{pid}/stat").read_text())


def test_a_daemon_page_server_reports_its_pid_and_port(tmp_path: Path) -> None:
    started = options(images_dir=tmp_path, log_file="ps.log", page_server_address_port=("127.0.0.1", 0)).start_page_server()
    assert isinstance(started, libcriu.PageServer)
    pid, port = started
    assert port > 0 and pid > 0
    assert b"page-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    os.kill(pid, 9)


def test_a_lazy_pages_daemon_without_a_dump_fails_with_a_reason(tmp_path: Path) -> None:
    opts = options(images_dir=tmp_path, log_file="lazy-pages.log", lazy_pages=True)
    with pytest.raises(libcriu.CriuRpcError) as failure:
        opts.start_lazy_pages()
    assert "lazy-pages" in str(failure.value) or failure.value.log_errors


def test_the_python_example_moves_a_process(tmp_path: Path) -> None:
    import re
    import subprocess
    import sys

    from helpers import CRIU_BIN, stop

    example = Path(__file__).resolve().parents[3] / "examples" / "migrate.py"
    run = subprocess.run([sys.executable, str(example), "demo", str(tmp_path), CRIU_BIN],
                         capture_output=True, text=True, timeout=120)
    restored = re.search(r"restored as pid (\d+)", run.stdout)
    if restored:
        stop(int(restored.group(1)))  # reparented to us, the subreaper
    assert run.returncode == 0 and "it continued counting" in run.stdout, run.stdout + run.stderr


def test_a_lazy_restore_with_the_lazy_pages_daemon(tmp_path: Path, victims: list) -> None:
    if not options().feature_check(lazy_pages=True)["lazy_pages"]:
        pytest.skip("criu reports no lazy pages here (criu check --feature uffd-noncoop fails)")
    log = tmp_path / "counter.log"
    proc = start(victims, COUNTER, str(log))
    wait_until("the counter to start", lambda: len(lines(log)) >= 3)
    options(pid=proc.pid, images_dir=tmp_path, log_file="dump.log").dump()
    reap_dumped(proc)
    dumped = len(lines(log))

    daemon_opts = options(images_dir=tmp_path, log_file="lazy-pages.log")
    daemon = daemon_opts.start_lazy_pages()
    assert daemon > 0 and ") Z " not in Path(f"/proc/{daemon}/stat").read_text(), "ready, and still serving"
    restored = options(images_dir=tmp_path, log_file="restore.log", lazy_pages=True).restore()
    victims.append(restored)
    wait_until("the counter to carry on", lambda: len(lines(log)) >= dumped + 3)
    status = daemon_opts.wait_pid(daemon)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "every page served, clean exit: %#x" % status
    with pytest.raises(libcriu.CriuInvalidArgumentError):
        daemon_opts.wait_pid(daemon)  # reaped already
