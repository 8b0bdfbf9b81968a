"""The shape of the module: options, errors, the global API, typing."""

import ast
import errno
import threading
import time
from pathlib import Path

import pytest

import libcriu
from helpers import CRIU_BIN, missing_pid, options


def test_version_check_and_features() -> None:
    opts = options()
    version = opts.get_version()
    assert version >= 40000, version
    assert opts.check_version(30000)
    assert not opts.check_version(990000)
    assert libcriu.get_version(opts) == version
    opts.check()
    features = opts.feature_check(pidfd_store=True)
    assert set(features) == {"mem_track", "lazy_pages", "pidfd_store"}
    assert features["lazy_pages"] is False, "a feature not asked about comes back False"


def test_rpc_error_carries_criu_errno(tmp_path: Path) -> None:
    opts = options(pid=missing_pid(), images_dir=tmp_path)
    with pytest.raises(libcriu.CriuRpcError) as failed:
        opts.dump()
    e = failed.value
    assert isinstance(e, libcriu.CriuError)
    assert (e.errno, e.cr_errno) == (errno.ESRCH, errno.ESRCH)
    assert e.message and str(e) == e.message
    assert e.cr_errmsg is None or isinstance(e.cr_errmsg, str)


def test_unreachable_criu_is_a_connection_error() -> None:
    with pytest.raises(libcriu.CriuConnectionError) as failed:
        libcriu.Options(service_binary="/nonexistent/criu").get_version()
    e = failed.value
    assert isinstance(e, ConnectionError) and isinstance(e, libcriu.CriuError)
    assert (e.errno, e.cr_errno) == (errno.ENOENT, None)
    assert "/nonexistent/criu" in str(e)


def test_invalid_arguments_are_value_errors(tmp_path: Path) -> None:
    opts = libcriu.Options(service_address=tmp_path / "criu.sock")
    with pytest.raises(libcriu.CriuInvalidArgumentError) as failed:
        opts.add_inherit_fd(0, "file[1:2]")
    assert isinstance(failed.value, ValueError)
    with pytest.raises(ValueError, match="NetworkLock"):
        opts.set_network_lock(99)
    opts.set_network_lock(libcriu.NetworkLock.SKIP)
    with pytest.raises(libcriu.CriuInvalidArgumentError):
        libcriu.Options().dump_iters(lambda o: 0)  # no pid
    with pytest.raises(FileNotFoundError) as missing:
        opts.set_images_dir(tmp_path / "nowhere")
    assert Path(missing.value.filename) == tmp_path / "nowhere"


def test_constructor_keywords_call_the_setters(tmp_path: Path) -> None:
    libcriu.Options(
        pid=1,
        images_dir=tmp_path,
        work_dir=str(tmp_path),
        leave_running=True,
        ghost_limit=1 << 20,
        external=["file[1:2]", "dev[3/4]:x"],
        skip_mnt="/mnt",
        inherit_fd=[(0, "file[1:2]")],
        ext_mount=[("key", "val")],
        join_ns=[("net", "/proc/1/ns/net"), ("uts", "/proc/1/ns/uts", None)],
        page_server_address_port=("127.0.0.1", 1234),
        manage_cgroups_mode=libcriu.CgMode.SOFT,
        exec_cmd=["true"],
        cg_props="x: y",
        notify_cb=None,
    )
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        libcriu.Options(bogus=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        libcriu.Options(pid="one")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        libcriu.Options().set_notify_cb(42)  # type: ignore[arg-type]


def test_global_api_mirrors_the_c_one(tmp_path: Path) -> None:
    libcriu.free_opts()
    with pytest.raises(RuntimeError, match="init_opts"):
        libcriu.set_pid(1)
    libcriu.init_opts()
    try:
        libcriu.set_service_binary(CRIU_BIN)
        assert libcriu.check_version(30000)
        libcriu.set_pid(missing_pid())
        libcriu.set_images_dir(tmp_path)
        with pytest.raises(libcriu.CriuRpcError):
            libcriu.dump()
    finally:
        libcriu.free_opts()


@pytest.fixture
def slow_criu(tmp_path: Path) -> str:
    """A stand-in for criu that takes half a second, then hangs up."""
    fake = tmp_path / "slow-criu"
    fake.write_text("#!/bin/sh\nexec sleep 0.5\n")
    fake.chmod(0o755)
    return str(fake)


def test_criu_hanging_up_is_a_communication_error(slow_criu: str) -> None:
    with pytest.raises(libcriu.CriuCommunicationError) as failed:
        libcriu.Options(service_binary=slow_criu).get_version()
    assert failed.value.errno == errno.ECONNRESET
    assert isinstance(failed.value, ConnectionError)


def test_the_gil_is_released_while_waiting_for_criu(slow_criu: str) -> None:
    opts = libcriu.Options(service_binary=slow_criu)
    outcome = []

    def call_criu() -> None:
        try:
            opts.get_version()
        except libcriu.CriuError as e:
            outcome.append(e)

    worker = threading.Thread(target=call_criu)
    worker.start()
    started = last = time.monotonic()
    longest_gap = 0.0
    refused = None
    while worker.is_alive():
        now = time.monotonic()
        longest_gap = max(longest_gap, now - last)
        last = now
        if refused is None and now - started > 0.2:
            # The operation holds the options: other threads may not change them.
            with pytest.raises(RuntimeError, match="in use") as refused:
                opts.set_pid(1)
    took = time.monotonic() - started
    # Had the worker kept the GIL while waiting, this loop would have
    # stalled for about as long as the whole call.
    assert took >= 0.4 and longest_gap < 0.1, (longest_gap, took)
    assert refused is not None
    assert isinstance(outcome[0], libcriu.CriuCommunicationError)
    opts.set_pid(1)  # usable again once the operation is over


def test_stubs_and_docs_cover_the_module() -> None:
    package = Path(libcriu.__file__).parent
    assert (package / "py.typed").exists()
    stub = ast.parse((package / "__init__.pyi").read_text())
    stub_names = {node.name for node in stub.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    stub_names |= {t.id for node in stub.body if isinstance(node, ast.Assign) for t in node.targets}  # type: ignore[attr-defined]
    assert set(libcriu.__all__) <= stub_names, set(libcriu.__all__) - stub_names
    stub_options = next(n for n in stub.body if isinstance(n, ast.ClassDef) and n.name == "Options")
    stub_methods = {n.name for n in stub_options.body if isinstance(n, ast.FunctionDef)}
    methods = {name for name in vars(libcriu.Options) if not name.startswith("_")}
    assert methods == stub_methods - {"__new__"}, methods ^ (stub_methods - {"__new__"})
    for name in methods:
        assert getattr(libcriu.Options, name).__doc__, f"Options.{name} has no docstring"
    for name in set(libcriu.__all__) - {"NotifyCallback", "DumpItersCallback"}:
        assert getattr(libcriu, name).__doc__, f"libcriu.{name} has no docstring"
