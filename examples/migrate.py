#!/usr/bin/env python3
"""Move a running process to another host with libcriu's page server.

On two hosts (as root on both):

    dst$ python3 migrate.py receive /srv/images 0.0.0.0   # prints "listening on port P"
    src$ python3 migrate.py send PID /tmp/images DST_ADDRESS P
    src$ scp /tmp/images/*.img dst:/srv/images/           # all that is left: no pages
    dst$ python3 migrate.py restore /srv/images

`receive` starts the page server as the child of a criu its options keep
talking to (Options.start_page_server_chld) and returns once the page server
got the dump and exited (Options.wait_pid). `send` records the CPU and dumps the process, its memory straight to
the page server. `restore` checks the CPU, then restores.

    python3 migrate.py demo WORK_DIR [CRIU_BINARY]

runs the same steps on one machine over 127.0.0.1 with a process that counts
into WORK_DIR/counter, and checks that it counts on after the move.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import libcriu

CRIU = "criu"


def options(images: Path, log: str, **more) -> libcriu.Options:
    return libcriu.Options(service_binary=CRIU, images_dir=images, log_file=log, log_level=libcriu.LogLevel.INFO, **more)


def start_receiving(images: Path, address: str) -> tuple:
    """Destination: a page server on a free port; (its options, pid, port).
    The page server is the options': keep them until it is waited for."""
    receiver = options(images, "page-server.log", page_server_address_port=(address, 0))
    return (receiver, *receiver.start_page_server_chld())


def finish_receiving(receiver: libcriu.Options, server: int) -> None:
    """Destination: wait until the page server got the dump and exited."""
    status = receiver.wait_pid(server)
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        sys.exit(f"the page server failed (status {status:#x}); see page-server.log")
    print("the page server received the memory and exited")


def send(pid: int, images: Path, address: str, port: int) -> None:
    """Source: record the CPU, then dump the process to the page server."""
    options(images, "cpuinfo.log").cpuinfo_dump()
    options(images, "dump.log", pid=pid, page_server_address_port=(address, port)).dump()
    print(f"dumped pid {pid} to {address}:{port}; copy {images}/*.img to the destination")


def restore(images: Path) -> int:
    """Destination: check the CPU, then restore; the restored pid."""
    options(images, "cpuinfo-check.log").cpuinfo_check()
    pid = options(images, "restore.log").restore()
    print(f"restored as pid {pid}")
    return pid


COUNTER = """
import os, sys, time
n = 0
while True:
    n += 1
    with open(sys.argv[1], "w") as f:
        f.write(f"{n}\\n")
    time.sleep(0.05)
"""


def count(path: Path) -> int:
    try:
        return int(path.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def demo(work: Path) -> int:
    source, destination, counter = work / "source-images", work / "destination-images", work / "counter"
    source.mkdir(parents=True, exist_ok=True)
    destination.mkdir(exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", COUNTER, str(counter)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while count(counter) < 10:
        time.sleep(0.05)
    receiver, server, port = start_receiving(destination, "127.0.0.1")
    print(f"destination: page server pid {server} listening on port {port}")
    send(proc.pid, source, "127.0.0.1", port)
    proc.wait()  # the pid must be free for the restore
    finish_receiving(receiver, server)
    at_dump = count(counter)
    for image in source.glob("*.img"):  # what scp does between hosts
        shutil.copy(image, destination / image.name)
    pid = restore(destination)
    time.sleep(0.5)
    later = count(counter)
    print(f"count at dump {at_dump}, 500 ms after restore {later}:",
          "it continued counting" if later > at_dump else "it did NOT continue")
    os.kill(pid, 9)
    return 0 if later > at_dump else 1


def main(argv: list) -> int:
    global CRIU
    if len(argv) >= 3 and argv[1] == "demo":
        CRIU = argv[3] if len(argv) > 3 else CRIU
        return demo(Path(argv[2]))
    if len(argv) >= 3 and argv[1] == "receive":
        receiver, server, port = start_receiving(Path(argv[2]), argv[3] if len(argv) > 3 else "0.0.0.0")
        print(f"listening on port {port} (page server pid {server})", flush=True)
        finish_receiving(receiver, server)
        return 0
    if len(argv) == 6 and argv[1] == "send":
        send(int(argv[2]), Path(argv[3]), argv[4], int(argv[5]))
        return 0
    if len(argv) == 3 and argv[1] == "restore":
        restore(Path(argv[2]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
