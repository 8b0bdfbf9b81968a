#!/usr/bin/env python3
"""Migration through our library beside the criu CLI: a process of 64 and
256 MiB dumped to a page server on 127.0.0.1.

    bench/migrate/run.py <criu-env-file> [--quick | --brief] [--json PATH]

ours: bench/migrate/driver.c against build/lib/libcriu.so.2 in one process
(criu_local_start_page_server_chld, criu_local_dump to it,
criu_local_wait_pid). cli: `criu page-server --status-fd` (waited for until
ready), `criu dump --page-server`, then the page server's exit. Both are
timed from outside, from the first start to the page server's exit (total),
and criu's stats-dump image of each dump gives how long the process was
frozen. Ratios are ours ÷ cli per round; ~1.0 is expected (the library waits
while criu works), anything above is our overhead.

Measuring traps (shared/docs/BENCHMARKING.md): the two sides run
interleaved, in reverse order every other round; each gets a fresh victim
whose memory is touched the same way just before; images go to tmpfs
(/dev/shm) so the disk does not set the pace.

Standard library only.
"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, "build", "bench-migrate")
RESULTS = os.path.join(ROOT, "bench", "results")
SIZES_MIB = (64, 256)

# A process holding N MiB with every page written (so every page is dumped);
# it prints "ready" once done.
VICTIM = r"""
import os, sys, time
held = bytearray(int(sys.argv[1]) << 20)
held[::4096] = b"\x01" * (len(held) // 4096)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                key, value = line.strip().split("=", 1)
                env[key] = value
    return env


def build():
    os.makedirs(BUILD, exist_ok=True)
    driver = os.path.join(BUILD, "driver")
    lib = os.path.join(ROOT, "build", "lib")
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-I", os.path.join(ROOT, "include"),
                    os.path.join(HERE, "driver.c"), "-L", lib, f"-Wl,-rpath,{lib}", "-lcriu", "-o", driver],
                   check=True)
    return driver


def start_victim(mib):
    proc = subprocess.Popen([sys.executable, "-c", VICTIM, str(mib)], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    if proc.stdout.readline().strip() != b"ready":
        raise RuntimeError("victim did not start")
    proc.stdout.close()
    return proc


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def frozen_us(images):
    """frozen_time of criu's dump statistics (`stats-dump`, without .img):
    stats_entry.dump (field 1), dump_stats_entry.frozen_time (field 2), in
    microseconds, after the two magic numbers and the entry's size."""
    with open(os.path.join(images, "stats-dump"), "rb") as f:
        data = f.read()
    size = int.from_bytes(data[8:12], "little")
    return field(field(data[12:12 + size], 1), 2)


def field(message, number):
    """The value of field `number` in a protobuf message (varint or bytes)."""
    pos = 0

    def varint():
        nonlocal pos
        value = shift = 0
        while True:
            byte = message[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while pos < len(message):
        key = varint()
        kind, found = key & 7, key >> 3
        if kind == 0:
            value = varint()
        elif kind == 2:
            length = varint()
            value, pos = message[pos:pos + length], pos + length
        elif kind in (1, 5):
            width = 8 if kind == 1 else 4
            value, pos = message[pos:pos + width], pos + width
        else:
            raise ValueError(f"wire type {kind}")
        if found == number:
            return value
    raise KeyError(number)


def run_ours(driver, criu, pid, src, dst):
    start = time.perf_counter_ns()
    subprocess.run([driver, criu, str(pid), src, dst], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter_ns() - start


def run_cli(criu, pid, src, dst):
    port = free_port()
    ready_r, ready_w = os.pipe()
    start = time.perf_counter_ns()
    server = subprocess.Popen([criu, "page-server", "-D", dst, "--address", "127.0.0.1", "--port", str(port),
                               "-o", "page-server.log", "--status-fd", str(ready_w)], pass_fds=(ready_w,))
    os.close(ready_w)
    ready = os.read(ready_r, 1)
    os.close(ready_r)
    if not ready:
        server.wait()
        raise RuntimeError("criu page-server did not start")
    subprocess.run([criu, "dump", "-t", str(pid), "-D", src, "-o", "dump.log", "--page-server",
                    "--address", "127.0.0.1", "--port", str(port)], check=True)
    if server.wait() != 0:
        raise RuntimeError("criu page-server failed")
    return time.perf_counter_ns() - start


def one(side, driver, criu, mib, scratch):
    src, dst = tempfile.mkdtemp(dir=scratch), tempfile.mkdtemp(dir=scratch)
    victim = start_victim(mib)
    try:
        if side == "ours":
            took = run_ours(driver, criu, victim.pid, src, dst)
        else:
            took = run_cli(criu, victim.pid, src, dst)
        frozen = frozen_us(src)
    finally:
        if victim.poll() is None:
            victim.kill()
        victim.wait()
        shutil.rmtree(src)
        shutil.rmtree(dst)
    return took, frozen


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main():
    args = sys.argv[1:]
    quick, brief = "--quick" in args, "--brief" in args
    json_out = args[args.index("--json") + 1] if "--json" in args else None
    positional = [a for i, a in enumerate(args) if not a.startswith("--") and (i == 0 or args[i - 1] != "--json")]
    if len(positional) != 1:
        sys.exit(__doc__)
    env = read_env(positional[0])
    criu = env["CRIU_BIN"]
    rounds = 1 if quick else 4 if brief else 8
    driver = build()
    scratch = tempfile.mkdtemp(prefix="libcriu-bench-migrate-", dir="/dev/shm")
    rows = []
    try:
        for mib in SIZES_MIB:
            got = {"ours": [], "cli": []}
            for r in range(rounds + 1):  # round 0 warms both up and is dropped
                order = ("ours", "cli") if r % 2 == 0 else ("cli", "ours")
                this = {side: one(side, driver, criu, mib, scratch) for side in order}
                if r:
                    for side in order:
                        got[side].append(this[side])
            total = {s: [t for t, _ in got[s]] for s in got}
            frozen = {s: [f for _, f in got[s]] for s in got}
            rows.append({
                "mib": mib,
                "rounds": rounds,
                "total_ms": {s: summary([t / 1e6 for t in total[s]]) for s in got},
                "frozen_ms": {s: summary([f / 1e3 for f in frozen[s]]) for s in got},
                "ratio_total": summary([o / c for o, c in zip(total["ours"], total["cli"])]),
                "ratio_frozen": summary([o / c for o, c in zip(frozen["ours"], frozen["cli"])]),
            })
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    meta = (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}, {os.cpu_count()} CPUs, "
            f"{'--quick' if quick else '--brief' if brief else 'full'} run, load average at the end "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}. Medians (min–max); ratios ours/CLI per round.")
    result = {"rows": rows, "quick": quick, "brief": brief, "meta": meta}
    fmt = lambda s, unit="": f"{s['median']:.1f}{unit} ({s['min']:.1f}–{s['max']:.1f})"
    ratio = lambda s: f"**{s['median']:.3f}** ({s['min']:.3f}–{s['max']:.3f})"
    lines = ["| migration to a page server | ours total | cli total | ours/cli total | ours frozen | cli frozen | ours/cli frozen |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['mib']} MiB, {row['rounds']} rounds | {fmt(row['total_ms']['ours'], ' ms')} | "
                     f"{fmt(row['total_ms']['cli'], ' ms')} | {ratio(row['ratio_total'])} | "
                     f"{fmt(row['frozen_ms']['ours'], ' ms')} | {fmt(row['frozen_ms']['cli'], ' ms')} | "
                     f"{ratio(row['ratio_frozen'])} |")
    md = meta + "\n\n" + "\n".join(lines) + "\n"
    print(md)
    if json_out:
        with open(json_out, "w") as f:
            json.dump(result, f, indent=1)
    if not quick:
        os.makedirs(RESULTS, exist_ok=True)
        with open(os.path.join(RESULTS, "migrate.json"), "w") as f:
            json.dump(result, f, indent=1)
        with open(os.path.join(RESULTS, "migrate.md"), "w") as f:
            f.write(md)


if __name__ == "__main__":
    main()
