"""Drive every public call of one pycriu against the recording fake criu.

  python drive.py upstream|ours <fake-criu> <out-file>

``upstream`` imports CRIU's own pycriu (PYCRIU_UPSTREAM names the directory
holding its package), ``ours`` libcriu.pycriu from the installed wheel. The
case table is the same for both, so the two runs can be compared case by
case: per case the fake files the requests it receives under
$FAKE_CRIU_RECORD_DIR/<case>/, and this script writes what each call
returned or raised to <out-file> (one JSON object per case).

Each case is one way of reaching criu (use_binary, use_sk, use_fd), one
sequence of calls, one group of options set beforehand, and one way the
fake answers (well, failing, or malformed: see fake-criu).
"""

import gc
import json
import os
import signal
import socket
import subprocess
import sys

side, FAKE, OUT = sys.argv[1:4]
if side == "upstream":
    sys.path.insert(0, os.environ["PYCRIU_UPSTREAM"])
    import pycriu
else:
    from libcriu import pycriu
from google.protobuf import text_format

rpc = pycriu.rpc

# Descriptors that stay open through the run, for options that name one
# (inherit_fd must name an open descriptor for criu to pass it on), at the
# same numbers on both sides: a directory and a file.
DIR_FD, SPARE_FD = 60, 61
os.dup2(os.open(".", os.O_DIRECTORY), DIR_FD)
os.dup2(os.open("/dev/null", os.O_RDONLY), SPARE_FD)
# A configuration file that exists, by a name the same on both sides
# (relative to the run's directory).
CONFIG = "criu.conf"
open(CONFIG, "w").close()


# Option groups: every field of criu_opts is set by exactly one group (the
# runner checks this, so a field added to rpc.proto cannot go untested).
def group_dirs(o):
    o.images_dir_fd = DIR_FD
    o.images_dir = "/images"
    o.work_dir_fd = DIR_FD
    o.parent_img = "../parent"
    o.root = "/root-dir"


def group_images_dir_path(o):
    # A path without a descriptor: images_dir_fd stays -1.
    o.images_dir = "/images"


def group_log(o):
    o.log_level = 4
    o.log_file = "criu.log"
    o.log_to_stderr = True
    o.display_stats = True


def group_tree(o):
    o.pid = 4321
    o.leave_running = True
    o.leave_stopped = True
    o.shell_job = True
    o.rst_sibling = True
    o.empty_ns = 0x40000000
    o.unprivileged = True
    o.pidfd_store_sk = SPARE_FD


def group_files(o):
    o.ext_unix_sk = True
    o.evasive_devices = True
    o.file_locks = True
    o.link_remap = True
    o.force_irmap = True
    o.irmap_scan_paths.extend(["/a", "/b"])
    o.ghost_limit = 3000000000
    o.orphan_pts_master = True
    o.skip_file_rwx_check = True
    o.unix_sk_ino.add(inode=77)
    o.inherit_fd.add(key="pipe:[123]", fd=SPARE_FD)
    o.external.extend(["file[1a:2b]", "mnt[/m]:m"])


def group_net(o):
    o.tcp_established = True
    o.tcp_skip_in_flight = True
    o.tcp_close = True
    o.weak_sysctls = True
    o.network_lock = rpc.NFTABLES
    o.veths.add(if_in="veth0", if_out="br0")
    o.join_ns.add(ns="net", ns_file="/proc/1/ns/net", extra_opt="x")


def group_mounts(o):
    o.ext_mnt.add(key="/k", val="v")
    o.auto_ext_mnt = True
    o.ext_sharing = True
    o.ext_masters = True
    o.skip_mnt.extend(["/proc", "/sys"])
    o.enable_fs.extend(["tmpfs"])
    o.mntns_compat_mode = True
    o.lsm_profile = "apparmor:x"
    o.lsm_mount_context = "ctx"


def group_cgroups(o):
    o.manage_cgroups = True
    o.manage_cgroups_mode = rpc.SOFT
    o.cg_root.add(ctrl="cpu", path="/cg")
    o.cg_root.add(path="/other")
    o.cgroup_props = "props"
    o.cgroup_props_file = "/props.file"
    o.cgroup_dump_controller.extend(["cpu", "memory"])
    o.freeze_cgroup = "/freezer"
    o.cgroup_yard = "/yard"


def group_memory(o):
    o.track_mem = True
    o.auto_dedup = True
    o.pre_dump_mode = rpc.VM_READ
    o.cpu_cap = 5


def group_migration(o):
    o.ps.address = "127.0.0.1"
    o.ps.port = 2345
    o.ps.fd = SPARE_FD
    o.lazy_pages = True
    o.status_fd = SPARE_FD
    o.tls = True
    o.tls_no_cn_verify = True
    o.tls_cacert = "/ca"
    o.tls_cacrl = "/crl"
    o.tls_cert = "/cert"
    o.tls_key = "/key"


def group_misc(o):
    o.exec_cmd.extend(["/bin/true", "arg"])
    o.timeout = 17
    o.config_file = CONFIG


def group_missing_config(o):
    # criu skips a configuration file it cannot open.
    o.config_file = "/nonexistent/criu.conf"


def group_notify(o):
    o.notify_scripts = True


def group_defaults(o):
    # Fields set to their declared defaults: still sent, since set.
    o.log_level = 2
    o.cpu_cap = 0xFFFFFFFF
    o.ghost_limit = 0x100000
    o.pre_dump_mode = rpc.SPLICE
    o.network_lock = rpc.IPTABLES
    o.pid = 0


GROUPS = {name[len("group_"):].replace("_", "-"): f for name, f in globals().items() if name.startswith("group_")}
OPTION_GROUPS = [g for g in GROUPS if g not in ("images-dir-path", "missing-config", "notify", "defaults")]


# What each call does; "psc+wait" is page_server_chld() then wait_pid() of
# the page server's pid, as a migration script calls them.
def call_sequence(name, c):
    if name == "psc+wait":
        return [("page_server_chld", lambda: c.page_server_chld()), ("wait_pid", lambda: c.wait_pid(4343))]
    if name == "psc+dump":
        return [("page_server_chld", lambda: c.page_server_chld()), ("dump", lambda: c.dump())]
    if name == "wait_pid":
        return [("wait_pid", lambda: c.wait_pid(4343))]
    if name == "twice":
        return [("dump", lambda: c.dump()), ("restore", lambda: c.restore())]
    return [(name, getattr(c, name))]


CALLS = ["check", "dump", "pre_dump", "restore", "page_server_chld", "wait_pid", "psc+wait"]
# feature_check and get_version exist only where the class has them.
CALLS += [n for n in ("feature_check", "get_version") if hasattr(pycriu.criu, n)]
WAYS = ["bin", "sk", "fd"]
ANSWERS = ["fail", "fail-bare", "empty", "wrong-type", "wrong-type-fail", "no-body", "no-success",
           "truncated", "garbage", "zero", "huge", "close"]


def cases():
    """(way, calls, option group, answer mode) per case. Options and
    malformed answers go through use_binary; the other ways get every call
    with no options, with the options whose handling depends on the way,
    and with the answers that end a connection."""
    for way in WAYS:
        for call in CALLS + ["psc+dump", "twice"]:
            yield way, call, "none", ""
            groups = OPTION_GROUPS + ["images-dir-path", "defaults"] if way == "bin" else ["dirs", "misc"]
            for group in groups:
                yield way, call, group, ""
            for answer in ANSWERS if way == "bin" else ["fail", "close", "garbage"]:
                yield way, call, "none", answer
        for call in ("dump", "restore", "check"):
            yield way, call, "notify", ""
        yield way, "dump", "notify", "fail"
        yield way, "check", "missing-config", ""
        yield way, "dump", "missing-config", ""


def api():
    """The public names of the module and of the criu class."""
    names = ["module " + n for n in dir(pycriu) if not n.startswith("_")]
    names += ["criu." + n for n in dir(pycriu.criu) if not n.startswith("_")]
    return sorted(names)


def describe(value):
    if isinstance(value, int):
        return "returned int %d" % value
    if hasattr(value, "DESCRIPTOR"):
        # As text: a message missing required fields does not serialize.
        return "returned %s {%s}" % (value.DESCRIPTOR.name, text_format.MessageToString(value, as_one_line=True))
    return "returned %r" % (value,)


def outcome(name, call):
    lines = ["call " + name]
    try:
        lines.append(describe(call()))
    except BaseException as e:
        lines.append("raised " + type(e).__name__)
        for attr in ("typ", "resp_typ", "errno"):
            if hasattr(e, attr):
                lines.append("%s %r" % (attr, getattr(e, attr)))
        lines.append("message %s" % str(e)[:300])
    return lines


class Stuck(Exception):
    """A call did not come back (a safety net: a hang must not stop the run)."""


def on_alarm(signum, frame):
    raise Stuck("no answer after 30 s")


def run_case(way, call, group, answer):
    name = "-".join(filter(None, (way, call, group, answer or "ok")))
    env = dict(os.environ, FAKE_CRIU_CASE=name, FAKE_CRIU_ANSWER=answer)
    os.environ.update(FAKE_CRIU_CASE=name, FAKE_CRIU_ANSWER=answer)
    c = pycriu.criu()
    GROUPS[group](c.opts) if group != "none" else None
    helpers, ends = [], []
    if way == "bin":
        c.use_binary(FAKE)
    elif way == "sk":
        # The default address, ./criu_service.socket, in this directory.
        if os.path.exists("criu_service.socket"):
            os.unlink("criu_service.socket")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listener.bind("criu_service.socket")
        listener.listen(8)
        helpers.append(subprocess.Popen([FAKE, "service", str(listener.fileno())], pass_fds=[listener.fileno()], env=env))
        listener.close()
        c.use_sk()
    else:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        helpers.append(subprocess.Popen([FAKE, "swrk", str(theirs.fileno())], pass_fds=[theirs.fileno()], env=env))
        theirs.close()
        ends.append(ours)
        c.use_fd(ours.fileno())
    # A descriptor given with use_fd serves one request: before the second
    # call of "twice", its criu is gone, so both sides meet the same closed
    # socket (not, by chance, one still closing).
    between = (lambda: [h.wait() for h in helpers]) if way == "fd" and call == "twice" else (lambda: None)
    lines = run_calls(c, call, between)
    # The object goes, and with it any connection it kept (page_server_chld
    # keeps one for wait_pid): the fake then sees the end of it and exits.
    del c
    gc.collect()
    for end in ends:
        end.close()
    for helper in helpers:
        if way == "sk":
            helper.kill()
        try:
            helper.wait(timeout=30)
        except subprocess.TimeoutExpired:
            lines.append("fake criu still connected after the object was collected")
            helper.kill()
            helper.wait()
    return name, lines


def run_calls(c, call, between):
    """The outcome lines of the case's calls on ``c``; ``between`` runs
    between two calls."""
    lines = []
    signal.alarm(30)
    try:
        for i, (step, fn) in enumerate(call_sequence(call, c)):
            if i:
                between()
            lines += outcome(step, fn)
    except Stuck as e:
        lines.append("stuck " + str(e))
    finally:
        signal.alarm(0)
    return lines


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    covered = set()
    for f in GROUPS.values():
        o = rpc.criu_opts(images_dir_fd=-1)
        f(o)
        covered |= {d.name for d, _ in o.ListFields()}
    with open(OUT, "w") as out:
        out.write(json.dumps({"case": "(fields)", "lines": sorted(covered)}) + "\n")
        out.write(json.dumps({"case": "(api)", "lines": api()}) + "\n")
        for case in cases():
            name, lines = run_case(*case)
            out.write(json.dumps({"case": name, "lines": lines}) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
