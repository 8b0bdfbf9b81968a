#!/usr/bin/python3
"""Write the seed corpora of the fuzz targets (fuzz/corpus/<target>/).

usage: fuzz/seeds.py <criu-binary> [target ...]

Run as root from anywhere; needs protoc and Python's protobuf module
(Debian: python3-protobuf). The images seeds come from real dumps: criu
dumps `sleep` processes holding a pipe, a unix socket, a file and a terminal
whose other ends stay outside the dump; only the images the reader looks at
are kept. The other seeds are built here: real answers criu gives (and a few
that criu never gives), id strings, tmp-file archives.

The input formats are those of fuzz/targets.rs.
"""
import os
import pty
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def rpc_module(tmp):
    subprocess.check_call(["protoc", "--python_out=" + tmp, "--proto_path=" + os.path.join(REPO, "proto"),
                           os.path.join(REPO, "proto", "rpc.proto")])
    sys.path.insert(0, tmp)
    import rpc_pb2
    return rpc_pb2


def answers(rpc):
    """(name, serialized criu_resp) for what criu sends, and some it never does."""
    R = rpc.criu_resp
    t = rpc.criu_req_type
    out = {
        "version": R(type=t.Value("VERSION"), success=True,
                     version=rpc.criu_version(major_number=4, minor_number=1, sublevel=1)),
        "version-git": R(type=t.Value("VERSION"), success=True,
                         version=rpc.criu_version(major_number=4, minor_number=1, gitid="v4.1-12-gabc", name="x")),
        "check": R(type=t.Value("CHECK"), success=True),
        "check-failed": R(type=t.Value("CHECK"), success=False, cr_errno=1, cr_errmsg="check failed"),
        "dump": R(type=t.Value("DUMP"), success=True, dump=rpc.criu_dump_resp(restored=False)),
        "dump-restored": R(type=t.Value("DUMP"), success=True, dump=rpc.criu_dump_resp(restored=True)),
        "pre-dump": R(type=t.Value("PRE_DUMP"), success=True),
        "single-pre-dump": R(type=t.Value("SINGLE_PRE_DUMP"), success=True),
        "restore": R(type=t.Value("RESTORE"), success=True, restore=rpc.criu_restore_resp(pid=4242)),
        "features": R(type=t.Value("FEATURE_CHECK"), success=True,
                      features=rpc.criu_features(mem_track=True, lazy_pages=False, pidfd_store=True)),
        "unsupported": R(type=t.Value("EMPTY"), success=False),
        "failure": R(type=t.Value("DUMP"), success=False, cr_errno=3, cr_errmsg="No such process"),
        "page-server": R(type=t.Value("PAGE_SERVER"), success=True,
                         ps=rpc.criu_page_server_info(address="127.0.0.1", port=1234, pid=77, fd=3)),
        "status": R(type=t.Value("WAIT_PID"), success=True, status=9),
    }
    for script in ("pre-dump", "post-dump", "network-lock", "post-restore", "orphan-pts-master"):
        out["notify-" + script] = R(type=t.Value("NOTIFY"), success=True, notify=rpc.criu_notify(script=script, pid=4242))
    return {name: msg.SerializeToString() for name, msg in out.items()}


# Operation numbers of targets::exchange (low 3 bits of the first input
# byte; 6 and 7 iterate, the higher bits counting pre-dump rounds), and the
# answer each waits for.
OPS = {0: "version", 1: "check", 2: "restore", 3: "features", 4: "dump", 5: "single-pre-dump", 6: "pre-dump"}
SEP = b"#!#"


def exchange_seeds(a):
    for op, answer in OPS.items():
        final = [a[answer]] if op != 6 else [a["pre-dump"], a["pre-dump"], a["dump"]]
        code = op | (2 << 3)
        write("exchange", f"op{op}-plain", bytes([code, 0]) + SEP.join(final))
        notes = [a["notify-pre-dump"], a["notify-post-dump"]]
        write("exchange", f"op{op}-notify-ok", bytes([code, 1]) + SEP.join(notes + final))
        write("exchange", f"op{op}-notify-refused", bytes([code, 1 | 2 | (5 << 2)]) + SEP.join(notes + final))
    write("exchange", "failure", bytes([1, 0]) + a["check-failed"])
    write("exchange", "unsupported", bytes([1, 0]) + a["unsupported"])
    write("exchange", "wrong-type", bytes([0, 0]) + a["dump"])
    write("exchange", "empty-packet", bytes([0, 0]) + SEP)
    write("exchange", "nothing", bytes([2, 1]))
    write("exchange", "garbage", bytes([3, 0]) + b"\xff" * 16)


IDS = [
    "file[2a:1f3c]", "file[0:0]", "file[ffffffff:ffffffffffffffff]", "file[02a:1]", "file[2A:1]", "file[2a]",
    "tty[8800:15]", "tty[0:0]", "tty[8800]", "unix[12345]", "unix[0]", "unix[012]", "unix[4294967296]",
    "dev[8/1]:disk", "dev[sda]:/dev/sda", "mnt[/mnt/x]:cookie", "mnt[]", "mnt[]:", "mnt[]:m", "mnt[]:s", "mnt[]:x",
    "veth[eth0]:veth123", "veth[eth0]:veth123@br0", "veth[a]:", "macvlan[mv0]:eth1", "netdev[n0]:veth9",
    "net[4026531840]:mynet", "pid[4026531836]:mypid", "net[1]:/abs", "pipe:[123]", "pipe[123]", "pipe:[0123]",
    "socket:[99]", "socket[99]", "/memfd:name", "/memfd:", "tmp/file", "tmp//file", "tmp/./file", "tmp/../file",
    "/tmp/file", ".", "", "fd[3]:pipe:[1]", "debug[1]:x", "[", "]:", "unknown[1]",
]


def ids_seeds():
    for i, text in enumerate(IDS):
        write("ids", f"{i:02d}", text)


# The images criu::images reads; the rest of a dump (memory, ...) is left out.
def wanted(name):
    return name in ("inventory.img", "pstree.img", "files.img", "reg-files.img", "pipes.img", "unixsk.img",
                    "tty.img", "tty-info.img") or name.startswith(("ids-", "fdinfo-"))


def pack(files):
    return b"".join(b"@@FILE " + name.encode() + b"\n" + data for name, data in files)


def dump(criu, workdir, variant):
    """Dump a `sleep` holding resources whose other ends stay here."""
    r, w = os.pipe()
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    f = open(os.path.join(workdir, "afile"), "w")
    master, slave = pty.openpty()
    fds = {"pipe": [r], "unix": [b.fileno()], "file": [f.fileno()], "tty": [slave],
           "all": [r, b.fileno(), f.fileno(), slave]}[variant]
    victim = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True, pass_fds=fds,
                              cwd="/")  # no path of this machine in the seeds
    images = os.path.join(workdir, variant)
    os.makedirs(images)
    args = [criu, "dump", "-t", str(victim.pid), "-D", images, "--leave-running", "--ext-unix-sk", "-o", "dump.log"]
    if f.fileno() in fds:
        with open(f"/proc/{victim.pid}/fdinfo/{f.fileno()}") as info:
            mnt_id = int(info.read().split("mnt_id:")[1].split()[0])
        args += ["--external", "file[%x:%x]" % (mnt_id, os.fstat(f.fileno()).st_ino)]
    if slave in fds:
        st = os.fstat(slave)
        args += ["--external", "tty[%x:%x]" % (st.st_rdev, st.st_dev)]
    if b.fileno() in fds:
        args += ["--external", "unix[%d]" % os.fstat(b.fileno()).st_ino]
    try:
        subprocess.check_call(args)
    finally:
        victim.kill()
        victim.wait()
        for fd in (r, w, master, slave):
            os.close(fd)
    files = []
    for name in sorted(os.listdir(images)):
        if wanted(name):
            with open(os.path.join(images, name), "rb") as img:
                files.append((name, img.read()))
    return files


def images_seeds(criu):
    work = tempfile.mkdtemp(prefix="libcriu-seeds-")
    try:
        for variant in ("pipe", "unix", "file", "tty", "all"):
            files = dump(criu, work, variant)
            write("images", f"dump-{variant}", pack(files))
            if variant == "all":
                # The inventory and the process tree with each other image alone.
                base = [f for f in files if f[0] in ("inventory.img", "pstree.img")]
                write("images", "tree-only", pack(base))
                for name, data in files:
                    if (name, data) not in base:
                        write("images", f"with-{name.split('-')[0].split('.')[0]}", pack(base + [(name, data)]))
    finally:
        shutil.rmtree(work)
    write("images", "empty", b"")
    write("images", "bad-magic", pack([("inventory.img", b"\0" * 16)]))


VERSION = 2
ENTRY = "<BBHIIIqIIQQ"  # the entry header of format 2, 48 bytes


def archive(entries):
    """A tmp-file archive (format in crates/criu/src/tmpfile/mod.rs); checksums left 0:
    the tmpfile target reads the structure only, the putback target seals
    each entry itself. An entry is (kind, flags, path, data) or that plus
    (mode, uid), or plus (mode, uid, size, xattr records). Flags: 1 root,
    2 sparse."""
    body = b""
    for kind, flags, path, data, *extra in entries:
        mode, uid, size, xattrs = (list(extra) + [None, None])[:4] if extra else (None, 0, None, None)
        mode = mode if mode is not None else (0o644 if kind != 2 else 0o755)
        size = size if size is not None else (len(data) if kind == 1 else 0)
        xattrs = xattrs or b""
        header = struct.pack(ENTRY, kind, flags, len(path), mode, uid, 0,
                             1700000000, 0, len(xattrs), len(data), size)
        body += header + path + xattrs + data + b"\0" * 16
    return struct.pack("<8sIIQQ", b"LCRIUTMP", VERSION, 0, len(entries), 32 + len(body)) + body


def xattr(name, value):
    """One extended-attribute record."""
    return struct.pack("<BI", len(name), len(value)) + name + value


def extents(size_and_extents):
    """A sparse file's data: the extent map, then each extent's bytes (the
    byte 'd' repeated)."""
    out = struct.pack("<Q", len(size_and_extents))
    for offset, length in size_and_extents:
        out += struct.pack("<QQ", offset, length)
    return out + b"".join(b"d" * length for _, length in size_and_extents)


def upgrade(data):
    """A format-1 archive (fuzz inputs kept from before format 2) reframed
    as format 2: each entry header that can be framed gets the file size
    field (the data length for a file), and the reserved word becomes the
    attributes' length (0 in a well-formed one); what cannot be framed is
    kept as it is. Other inputs are returned unchanged."""
    if len(data) < 32 or data[:8] != b"LCRIUTMP" or struct.unpack_from("<I", data, 8)[0] != 1:
        return data
    out = bytearray(data[:32])
    struct.pack_into("<I", out, 8, VERSION)
    at = 32
    while at + 40 <= len(data):
        path_len = struct.unpack_from("<H", data, at + 2)[0]
        data_len = struct.unpack_from("<Q", data, at + 32)[0]
        end = at + 40 + path_len + data_len + 16
        if end > len(data):
            break
        size = data_len if data[at] == 1 else 0
        out += data[at:at + 40] + struct.pack("<Q", size) + data[at + 40:end]
        at = end
    out += data[at:]
    if len(out) >= 32 and struct.unpack_from("<Q", out, 24)[0] == len(data):
        struct.pack_into("<Q", out, 24, len(out))
    return bytes(out)


def upgrade_corpus(target):
    """Reframe the format-1 inputs of a corpus in place."""
    folder = os.path.join(CORPUS, target)
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            data = f.read()
        new = upgrade(data)
        if new != data:
            with open(path, "wb") as f:
                f.write(new)


def tmpfile_seeds():
    upgrade_corpus("tmpfile")
    write("tmpfile", "empty-archive", archive([]))
    write("tmpfile", "one-file", archive([(1, 1, b"/tmp/a", b"hello")]))
    write("tmpfile", "tree", archive([(2, 1, b"/tmp/d", b""), (1, 0, b"/tmp/d/f", b"x" * 40),
                                      (3, 0, b"/tmp/d/link", b"f"), (2, 0, b"/tmp/d/sub", b""),
                                      (1, 0, b"/tmp/d/sub/g", b"")]))
    write("tmpfile", "two-roots", archive([(1, 1, b"/run/lock", b"1"), (3, 1, b"/run/l", b"/etc/hostname")]))
    write("tmpfile", "bad-parent", archive([(1, 0, b"/tmp/x/y", b"")]))
    write("tmpfile", "relative-path", archive([(1, 1, b"tmp/a", b"")]))
    write("tmpfile", "dotdot", archive([(2, 1, b"/tmp/d", b""), (1, 0, b"/tmp/d/../e", b"")]))
    write("tmpfile", "truncated", archive([(1, 1, b"/tmp/a", b"hello")])[:50])
    write("tmpfile", "header-only", archive([])[:32])
    write("tmpfile", "not-an-archive", b"GARBAGE!" + b"\0" * 40)
    write("tmpfile", "sparse", archive([(1, 3, b"/tmp/s", extents([(4096, 3), (1 << 20, 5)]), 0o644, 0, 2 << 20)]))
    write("tmpfile", "sparse-all-hole", archive([(1, 3, b"/tmp/s", extents([]), 0o644, 0, 1 << 30)]))
    write("tmpfile", "hard-link", archive([(2, 1, b"/tmp/d", b""), (1, 0, b"/tmp/d/f", b"x"),
                                           (4, 0, b"/tmp/d/g", b"/tmp/d/f"), (4, 1, b"/tmp/h", b"/tmp/d/f")]))
    write("tmpfile", "hard-link-forward", archive([(4, 1, b"/tmp/h", b"/tmp/f"), (1, 1, b"/tmp/f", b"x")]))
    # Found by fuzzing: a hard link naming its own path once reached the
    # reader's table of entries at its own, not yet stored, index.
    write("tmpfile", "hard-link-to-itself", archive([(2, 1, b"/tmp/d", b""), (1, 0, b"/tmp/d/f", b"x"),
                                                     (4, 0, b"/tmp/d/h", b"/tmp/d/h")]))
    write("tmpfile", "xattrs", archive([(1, 1, b"/tmp/a", b"x", 0o644, 0, None,
                                         xattr(b"security.capability", b"\1\0\0\2" + b"\0" * 16)
                                         + xattr(b"user.a", b"1"))]))
    write("tmpfile", "version-1", struct.pack("<8sIIQQ", b"LCRIUTMP", 1, 0, 0, 32))


def putback_seeds():
    """Archives below the putback target's root (PUTBACK_BASE in
    fuzz/targets.rs), some trying to write outside it through symlinks."""
    upgrade_corpus("putback")
    r = b"/tmp/libcriu-fuzz-putback/root"
    out = b"/tmp/libcriu-fuzz-putback/outside"
    write("putback", "one-file", archive([(1, 1, r + b"/a", b"hello")]))
    write("putback", "tree", archive([(2, 1, r + b"/d", b""), (1, 0, r + b"/d/f", b"x" * 40),
                                      (3, 0, r + b"/d/link", b"f"), (2, 0, r + b"/d/sub", b""),
                                      (1, 0, r + b"/d/sub/g", b"")]))
    write("putback", "modes", archive([(1, 1, r + b"/setuid", b"#!/bin/sh\n", 0o4755, 1000),
                                       (2, 1, r + b"/private", b"", 0o700, 65534),
                                       (1, 1, r + b"/empty", b"", 0, 0)]))
    write("putback", "deep-root", archive([(1, 1, r + b"/x/y/z/file", b"parents are created")]))
    write("putback", "through-symlink", archive([(3, 1, r + b"/out", out), (1, 1, r + b"/out/x", b"escape")]))
    write("putback", "symlink-then-dir", archive([(3, 1, r + b"/p", out), (2, 1, r + b"/p", b""),
                                                  (1, 0, r + b"/p/f", b"escape")]))
    write("putback", "child-of-symlink", archive([(2, 1, r + b"/d", b""), (3, 0, r + b"/d/s", out),
                                                  (1, 0, r + b"/d/s/x", b"escape")]))
    write("putback", "replace-dir-by-file", archive([(2, 1, r + b"/d", b""), (1, 0, r + b"/d/f", b"1"),
                                                     (1, 1, r + b"/d", b"file now")]))
    write("putback", "sparse", archive([(1, 3, r + b"/s", extents([(0, 2), (70000, 4)]), 0o600, 0, 1 << 20)]))
    write("putback", "hard-links", archive([(2, 1, r + b"/d", b""), (1, 0, r + b"/d/f", b"linked"),
                                            (4, 0, r + b"/d/g", r + b"/d/f"), (4, 1, r + b"/h", r + b"/d/f")]))
    write("putback", "hard-link-via-symlink", archive([(3, 1, r + b"/out", out), (1, 1, r + b"/f", b"x"),
                                                       (4, 1, r + b"/out/h", r + b"/f")]))
    write("putback", "xattrs", archive([(2, 1, r + b"/d", b"", 0o755, 0, None, xattr(b"user.d", b"1")),
                                        (1, 0, r + b"/d/f", b"x", 0o644, 0, None, xattr(b"user.f", b"2")),
                                        (3, 0, r + b"/d/l", b"f")]))


def main():
    # Optional target names after the criu binary: write only those corpora.
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    only = set(sys.argv[2:])
    wanted = lambda target: not only or target in only
    if wanted("response") or wanted("exchange"):
        with tempfile.TemporaryDirectory() as tmp:
            a = answers(rpc_module(tmp))
    if wanted("response"):
        for name, data in a.items():
            write("response", name, data)
        write("response", "truncated", a["version"][:-2])
    if wanted("exchange"):
        exchange_seeds(a)
    if wanted("ids"):
        ids_seeds()
    if wanted("images"):
        images_seeds(sys.argv[1])
    if wanted("tmpfile"):
        tmpfile_seeds()
    if wanted("putback"):
        putback_seeds()


main()
