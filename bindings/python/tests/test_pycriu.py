"""libcriu.pycriu: upstream pycriu's API over libcriu, against the real criu.

Scripts run as subprocesses saying ``import pycriu``, found through the
shim (bindings/python/shim); when PYCRIU_UPSTREAM names the directory that
holds CRIU's own pycriu package, the same scripts run on it too and must
give the same answers.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

import libcriu
from helpers import COUNTER, CRIU_BIN, lines, missing_pid, reap_dumped, start, stop, wait_until

pycriu = pytest.importorskip("libcriu.pycriu", reason="needs the protobuf package (libcriu[pycriu])")
rpc = pycriu.rpc

SHIM = Path(__file__).resolve().parents[1] / "shim"
UPSTREAM = os.environ.get("PYCRIU_UPSTREAM")


def run_script(script: str, search_path: Path, **args: Any) -> Dict[str, Any]:
    """Run ``script`` in a fresh interpreter whose ``import pycriu`` finds
    the package in ``search_path``; it gets ``args`` as the dict ARGS and
    reports by printing one JSON object on its last line."""
    prelude = f"import sys, json\nsys.path.insert(0, {str(search_path)!r})\nARGS = json.loads({json.dumps(args)!r})\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert done.returncode == 0, f"script failed:\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def both(script: str, **args: Any) -> Dict[str, Any]:
    """Run the script on ours and, when available, on upstream pycriu;
    return ours after checking that upstream answered the same."""
    ours = run_script(script, SHIM, **args)
    assert ours["module"].startswith(str(Path(libcriu.__file__).parent)), ours
    if UPSTREAM:
        theirs = run_script(script, Path(UPSTREAM), **args)
        assert not theirs["module"].startswith(str(Path(libcriu.__file__).parent))
        ours_cmp = {k: v for k, v in ours.items() if k != "module"}
        theirs_cmp = {k: v for k, v in theirs.items() if k != "module"}
        assert ours_cmp == theirs_cmp, f"upstream pycriu answers {theirs_cmp}"
    return ours


def test_rpc_messages_behave_as_generated_ones() -> None:
    opts = pycriu.criu().opts
    assert opts.images_dir_fd == -1 and opts.HasField("images_dir_fd")
    opts.pid = 42
    opts.external.append("file[1:2]")
    opts.ps.port = 1234
    opts.ps.address = "127.0.0.1"
    opts.inherit_fd.add(fd=3, key="pipe:[7]")
    opts.pre_dump_mode = rpc.VM_READ
    again = rpc.criu_opts.FromString(opts.SerializeToString())
    assert again == opts and again.ps.port == 1234 and again.inherit_fd[0].key == "pipe:[7]"
    assert (rpc.SPLICE, rpc.VM_READ, rpc.DUMP, rpc.RESTORE, rpc.EMPTY) == (1, 2, 1, 2, 0)
    assert rpc.criu_req_type.Name(rpc.PAGE_SERVER_CHLD) == "PAGE_SERVER_CHLD"
    assert rpc.criu_cg_mode.Value("SOFT") == 3
    with pytest.raises(TypeError):
        opts.pid = "not a pid"


def test_the_shim_makes_import_pycriu_ours() -> None:
    script = """
import pycriu, pycriu.rpc_pb2, pycriu.criu
from pycriu import rpc, criu, CRIUExceptionExternal, CR_DEFAULT_SERVICE_ADDRESS
criu_mod = sys.modules["pycriu.criu"]
same = (pycriu.rpc_pb2.criu_opts is rpc.criu_opts and criu_mod.criu is criu
        and criu_mod.CRIUExceptionExternal is CRIUExceptionExternal)
print(json.dumps({"module": pycriu.__file__, "same": same, "addr": CR_DEFAULT_SERVICE_ADDRESS}))
"""
    answer = both(script)
    assert answer["same"] and answer["addr"] == "./criu_service.socket"
    assert answer["module"].startswith(str(Path(libcriu.__file__).parent))


ERRORS = """
import os, pycriu
c = pycriu.criu()
c.use_binary(ARGS["criu"])
c.opts.images_dir_fd = os.open(ARGS["images"], os.O_DIRECTORY)
c.opts.pid = ARGS["pid"]
out = {"module": pycriu.__file__}
try:
    c.dump()
except pycriu.CRIUExceptionExternal as e:
    out["dump"] = [type(e).__name__, e.typ, e.resp_typ, e.errno, str(e)]
c.use_binary("/nonexistent/criu")
try:
    c.dump()
except pycriu.CRIUException as e:
    out["no criu"] = [type(e).__name__, e.typ, str(e).split(":")[0]]
print(json.dumps(out))
"""


def test_errors_are_pycriu_s(tmp_path: Path) -> None:
    answer = both(ERRORS, criu=CRIU_BIN, images=str(tmp_path), pid=missing_pid())
    assert answer["dump"] == [
        "CRIUExceptionExternal", rpc.DUMP, rpc.DUMP, 3, "DUMP failed: Error(3): No process with such pid"
    ]
    assert answer["no criu"] == ["CRIUExceptionInternal", rpc.DUMP, "DUMP failed with internal error"]


DUMP_RESTORE = """
import os, pycriu
c = pycriu.criu()
c.use_binary(ARGS["criu"])
c.opts.images_dir_fd = os.open(ARGS["images"], os.O_DIRECTORY)
c.opts.pid = ARGS["pid"]
c.opts.log_file = "dump.log"
c.opts.log_level = 4
dumped = c.dump()
out = {"module": pycriu.__file__, "restored": dumped.restored}
# Wait for the dumped process to be gone (its parent reaps it).
import time
while os.path.exists("/proc/%d" % ARGS["pid"]):
    time.sleep(0.02)
c = pycriu.criu()
c.use_binary(ARGS["criu"])
c.opts.images_dir_fd = os.open(ARGS["images"], os.O_DIRECTORY)
c.opts.log_file = "restore.log"
out["pid"] = c.restore().pid
print(json.dumps(out))
"""


def test_dump_and_restore_through_an_unchanged_script(tmp_path: Path, victims: list) -> None:
    log = tmp_path / "counter.log"
    images = tmp_path / "images"
    images.mkdir()
    proc = start(victims, COUNTER, str(log))
    wait_until("the counter to start", lambda: len(lines(log)) >= 3)

    # The script waits for the pid to vanish; we reap it meanwhile.
    script = subprocess.Popen(
        [sys.executable, "-c", f"import sys, json\nsys.path.insert(0, {str(SHIM)!r})\n"
         f"ARGS = json.loads({json.dumps(json.dumps(dict(criu=CRIU_BIN, images=str(images), pid=proc.pid)))})\n"
         + DUMP_RESTORE],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/",
    )
    reap_dumped(proc)
    out, err = script.communicate(timeout=60)
    assert script.returncode == 0, err
    answer = json.loads(out.strip().splitlines()[-1])
    victims.append(answer["pid"])
    assert answer["restored"] is False
    assert answer["pid"] == proc.pid, "restore() returns criu's response, whose pid is the tree's root"
    dumped = len(lines(log))
    wait_until("the restored counter to go on", lambda: len(lines(log)) >= dumped + 3)

    # The images this dump wrote read as upstream pycriu reads them.
    read = both(IMAGES, images=str(images))
    assert read["stats-dump"]["magic"] == "STATS" and read["stats-dump"]["entries"][0]["dump"]["pages_written"] > 0
    assert read["inventory.img"]["magic"] == "INVENTORY"
    assert read["stats-restore"]["entries"][0]["restore"]["forking_time"] >= 0
    assert read["pretty"] == read["inventory.img"]


IMAGES = """
import os, pycriu
out = {"module": pycriu.__file__}
for name in ("stats-dump", "stats-restore", "inventory.img"):
    with open(os.path.join(ARGS["images"], name), "rb") as f:
        out[name] = pycriu.images.load(f)
with open(os.path.join(ARGS["images"], "inventory.img"), "rb") as f:
    out["pretty"] = pycriu.images.loads(f.read(), pretty=True)
try:
    pycriu.images.loads(b"\\x01\\x02\\x03\\x04")
except pycriu.images.MagicException as e:
    out["bad magic"] = e.magic
print(json.dumps(out))
"""


CHECK = """
import pycriu
out = {"module": pycriu.__file__}
c = pycriu.criu()
c.use_binary(ARGS["criu"])
c.check()
out["plain"] = "ok"
# Without an images or work directory criu has nowhere to write the log:
# the check fails, with upstream as with ours.
c.opts.log_file = "check.log"
try:
    c.check()
except pycriu.CRIUExceptionExternal as e:
    out["with log"] = [e.typ, e.resp_typ, str(e)]
print(json.dumps(out))
"""


def test_check_as_upstream() -> None:
    answer = both(CHECK, criu=CRIU_BIN)
    assert answer["plain"] == "ok"
    assert answer["with log"] == [rpc.CHECK, rpc.CHECK, "CHECK failed: Error(0): Unknown"]


def test_use_fd_leaves_the_descriptor_to_the_caller() -> None:
    ours, criu_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    criu = subprocess.Popen([CRIU_BIN, "swrk", str(criu_end.fileno())], pass_fds=[criu_end.fileno()])
    criu_end.close()
    try:
        c = pycriu.criu()
        c.use_fd(ours.fileno())
        c.opts.pid = missing_pid()
        c.opts.images_dir_fd = os.open("/", os.O_DIRECTORY)
        with pytest.raises(pycriu.CRIUExceptionExternal) as failed:
            c.dump()
        os.close(c.opts.images_dir_fd)
        assert failed.value.errno == 3
        os.fstat(ours.fileno())  # still open: only a duplicate was handed over
    finally:
        ours.close()
        criu.wait(timeout=20)


def test_every_criu_opts_field_has_a_native_setter() -> None:
    """Every option the core's tables hold is a method of libcriu.Options
    that sets its field of the request; together with the hand-written
    setters they cover every field of criu_opts."""
    from libcriu import _libcriu

    samples = {bool: True, int: 7, str: "x"}
    covered = set()
    for method, field in _libcriu.OPTION_FIELDS:
        descriptor = rpc.criu_opts.DESCRIPTOR.fields_by_name[field]
        kind = {descriptor.TYPE_BOOL: bool, descriptor.TYPE_STRING: str}.get(descriptor.type, int)
        opts = libcriu.Options()
        if method == "set_work_dir_fd":
            value: Any = 0
        elif method == "set_images_dir":
            opts.set_request_options(rpc.criu_opts(images_dir_fd=-1, images_dir="x").SerializeToString())
            covered.add(field)
            continue
        else:
            value = samples[kind]
        getattr(opts, method)(value)
        sent = rpc.criu_opts.FromString(opts.get_request_options())
        if not isinstance(getattr(sent, field), (bool, int, str)):  # a repeated field
            assert list(getattr(sent, field)) == [value], method
        else:
            assert sent.HasField(field) and getattr(sent, field) == value, method
        covered.add(field)
    # Fields set by hand-written methods (structured values, enums,
    # descriptors opened from paths) or by the operations themselves.
    by_hand = {
        "images_dir_fd", "ps", "veths", "exec_cmd", "ext_mnt", "cg_root", "rst_sibling",
        "inherit_fd", "unix_sk_ino", "manage_cgroups_mode", "external", "join_ns",
        "pre_dump_mode", "network_lock",
    }
    missing = set(rpc.criu_opts.DESCRIPTOR.fields_by_name) - covered - by_hand
    assert not missing, f"criu_opts fields no libcriu.Options method sets: {sorted(missing)}"


PAGE_SERVER = """
import os, pycriu
server = pycriu.criu()
server.use_binary(ARGS["criu"])
server.opts.images_dir_fd = os.open(ARGS["images"], os.O_DIRECTORY)
server.opts.log_file = "page-server.log"
server.opts.ps.address = "127.0.0.1"
server.opts.ps.port = 0
ps = server.page_server_chld()
dumper = pycriu.criu()
dumper.use_binary(ARGS["criu"])
dumper.opts.images_dir_fd = os.open(ARGS["images"], os.O_DIRECTORY)
dumper.opts.log_file = "dump.log"
dumper.opts.pid = ARGS["pid"]
dumper.opts.ps.address = "127.0.0.1"
dumper.opts.ps.port = ps.port
dumper.dump()
status = server.wait_pid(ps.pid)
try:
    pycriu.criu().wait_pid(ps.pid)
    again = "no error"
except pycriu.CRIUException as e:
    again = type(e).__name__
print(json.dumps({"module": pycriu.__file__, "pid": ps.pid > 0, "port": ps.port > 0,
                  "exited": os.WIFEXITED(status) and os.WEXITSTATUS(status), "again": again}))
"""


@pytest.mark.parametrize("side", ["ours", "upstream"])
def test_page_server_chld_then_wait_pid(side: str, tmp_path: Path, victims: list) -> None:
    """zdtm's --page-server flow: a page server started by page_server_chld()
    receives a dump's pages, and wait_pid() on the same object gives its
    exit status."""
    if side == "upstream" and not UPSTREAM:
        pytest.skip("PYCRIU_UPSTREAM names no upstream pycriu")
    log = tmp_path / "counter.log"
    images = tmp_path / "images"
    images.mkdir()
    proc = start(victims, COUNTER, str(log))
    wait_until("the counter to start", lambda: len(lines(log)) >= 3)
    search = SHIM if side == "ours" else Path(UPSTREAM)
    answer = run_script(PAGE_SERVER, search, criu=CRIU_BIN, images=str(images), pid=proc.pid)
    assert answer["module"].startswith(str(Path(libcriu.__file__).parent)) == (side == "ours")
    assert (answer["pid"], answer["port"], answer["exited"]) == (True, True, 0), answer
    # Only the criu that started the page server can wait for it: waiting
    # through another object fails on both sides.
    assert answer["again"] == "CRIUExceptionInternal"
    proc.wait(timeout=20)
    assert any(p.name.startswith("pages-") for p in images.iterdir()), "the page server wrote the pages"
