#!/usr/bin/env python3
"""Measure libcriu's tmp-file archive against `cp -a` and tar with gzip.

    bench/tmpfile/run.py [--quick | --brief] [--json PATH]

Two data sets: one 1 GiB file, and 10,000 files of 4 KiB in one directory,
both of random bytes. For each, every round saves the data with each tool
(our library's save() into an images directory, `cp -a` to another
directory, `tar --create --gzip`), then deletes it and puts it back with
each tool (restore(), `cp -a` back, `tar --extract --gzip`). Each tool runs
as one process timed from outside, so all three pay the same start-up.

Measuring traps of this machine (shared/docs/BENCHMARKING.md) handled here:
- memory idle for ~2 s goes back to the host, and the next first touch
  faults to it: 3 GiB is touched and freed right before every timed run
  (with the 1.5 GiB that BENCHMARKING.md suggests, a 1 GiB copy still hit
  the slow case in about one run of three);
- ext4 is slow to re-create files soon after deleting them: everything runs
  on tmpfs (/dev/shm), where deleting and re-creating cost the same for all;
- absolute times drift: the tools run interleaved in every round, in an
  order rotated from round to round, and the results are medians with the
  per-round ratio's median, min and max.

Standard library only.
"""
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TARGET = os.path.join(ROOT, "build", "bench-tmpfile")
DRIVER = os.path.join(TARGET, "release", "tmpfile-bench")
RESULTS = os.path.join(ROOT, "bench", "results")
SCRATCH_PARENT = "/dev/shm"

ARGS = sys.argv[1:]
QUICK = "--quick" in ARGS
# --brief: fewer rounds, as part of `make bench` (which has 10 minutes).
BRIEF = "--brief" in ARGS
# --json PATH: also write the result there (whatever the mode).
JSON_OUT = ARGS[ARGS.index("--json") + 1] if "--json" in ARGS else None
ROUNDS, TAR_BIG, TAR_SMALL = (1, 1, 1) if QUICK else (5, 1, 2) if BRIEF else (7, 3, 5)
# (id, title, files, bytes per file, rounds, rounds with tar). tar with gzip
# takes ~25 s per GiB, so it runs in fewer rounds than the other two.
CASES = [
    ("big", "one 256 MiB file" if QUICK else "one 1 GiB file", 1, (256 if QUICK else 1024) << 20, ROUNDS, TAR_BIG),
    ("small", "2,000 files of 4 KiB" if QUICK else "10,000 files of 4 KiB", 2000 if QUICK else 10000, 4096,
     ROUNDS, TAR_SMALL),
]
TOOLS = ("ours", "cp", "tar")
WARM_MIB = int(os.environ.get("WARM_MIB", "3072"))
GOALS = {"big": 0.9, "small": 0.8}  # ours / cp -a, throughput, from the issue


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build():
    env = dict(os.environ, CARGO_TARGET_DIR=TARGET)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", os.path.join(HERE, "Cargo.toml")],
                   env=env, check=True)


def warm():
    """Touch and free WARM_MIB, so the timed run does not fault to the host."""
    size = WARM_MIB << 20
    block = bytearray(size)
    block[::4096] = b"\1" * (size // 4096)
    del block


def timed(argv):
    """Seconds the command took, and what it printed."""
    warm()
    start = time.perf_counter()
    done = subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True)
    return time.perf_counter() - start, done.stdout


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def make_data(path, files, size):
    """Random bytes: neither tool gains from compressible or sparse data."""
    if files == 1:
        with open(path, "wb") as f:
            for _ in range(0, size, 64 << 20):
                f.write(os.urandom(min(64 << 20, size)))
        return
    os.mkdir(path)
    for i in range(files):
        with open(os.path.join(path, "f%05d" % i), "wb") as f:
            f.write(os.urandom(size))


def same(a, b):
    return subprocess.run(["diff", "-r", "-q", a, b], stdout=subprocess.DEVNULL).returncode == 0


def run_case(base, case):
    cid, title, files, size, rounds, tar_rounds = case
    d = os.path.join(base, cid)
    name = "data"
    src, pristine = os.path.join(d, "src"), os.path.join(d, "pristine")
    images, cp_dir, tar_dir = (os.path.join(d, x) for x in ("images", "cp", "tar"))
    for p in (src, pristine, images, cp_dir, tar_dir):
        os.makedirs(p)
    log(f"{title}: making the data")
    make_data(os.path.join(pristine, name), files, size)
    subprocess.run(["cp", "-a", os.path.join(pristine, name), src], check=True)
    data = os.path.join(src, name)
    archive = os.path.join(tar_dir, "data.tar.gz")
    save = {
        "ours": lambda: [DRIVER, "save", images, data],
        "cp": lambda: ["cp", "-a", data, cp_dir],
        "tar": lambda: ["tar", "--create", "--gzip", "-f", archive, "-C", src, name],
    }
    put_back = {
        "ours": lambda: [DRIVER, "restore", images],
        "cp": lambda: ["cp", "-a", os.path.join(cp_dir, name), src],
        "tar": lambda: ["tar", "--extract", "--gzip", "-f", archive, "-C", src],
    }
    before_save = {
        "ours": lambda: [remove(os.path.join(images, n)) for n in os.listdir(images)],
        "cp": lambda: remove(os.path.join(cp_dir, name)),
        "tar": lambda: remove(archive),
    }
    times = {op: {t: [] for t in TOOLS} for op in ("save", "restore")}
    # Our driver's own timing of the library call, without process start.
    in_call = {"save": [], "restore": []}

    def measure(op, tool, argv):
        seconds, out = timed(argv)
        times[op][tool].append(seconds)
        if tool == "ours":
            in_call[op].append(json.loads(out)["seconds"])

    for r in range(rounds):
        tools = [t for t in TOOLS if t != "tar" or r < tar_rounds]
        order = tools[r % len(tools):] + tools[:r % len(tools)]
        for tool in order:
            before_save[tool]()
            measure("save", tool, save[tool]())
        for tool in order:
            remove(data)
            measure("restore", tool, put_back[tool]())
            if r == 0 and not same(os.path.join(pristine, name), data):
                raise SystemExit(f"{title}: {tool} did not put the data back as it was")
        log(f"{title}: round {r + 1}/{rounds}: " + ", ".join(
            f"{op} {t} {times[op][t][-1]:.3f}s" for op in times for t in order) +
            f" (ours in the call: save {in_call['save'][-1]:.3f}s, restore {in_call['restore'][-1]:.3f}s)")
    shutil.rmtree(d)
    return {"title": title, "files": files, "bytes": files * size, "times": times, "ours_in_call": in_call}


def summarize(cid, case):
    rows = []
    for op, by_tool in case["times"].items():
        mbps = {t: case["bytes"] / statistics.median(v) / 1e6 for t, v in by_tool.items() if v}
        row = {"case": cid, "data": case["title"], "step": "save" if op == "save" else "put back", "mb_per_s": mbps}
        for other in ("cp", "tar"):
            pairs = list(zip(by_tool["ours"], by_tool[other]))  # rounds where both ran
            ratios = [o / ours for ours, o in pairs]  # throughput of ours / theirs
            row[f"ours_over_{other}"] = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
                                         "rounds": len(ratios)}
        rows.append(row)
    return rows


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)}


def markdown(result):
    m = result["machine"]
    out = [
        "# Tmp-file archive throughput",
        "",
        f"{result['date']}, {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}. "
        f"Storage: tmpfs (/dev/shm) for source, archive and copies; {WARM_MIB} MiB touched and freed before every timed run; "
        "each tool timed as one process. MB/s of file data, median over the rounds; ratios are ours ÷ theirs in "
        "throughput (above 1: ours is faster), median [min–max] of the per-round ratios.",
        "",
        "| data | step | ours MB/s | cp -a MB/s | tar+gzip MB/s | ours ÷ cp -a | ours ÷ tar+gzip | goal vs cp -a |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for row in result["rows"]:
        mb = row["mb_per_s"]
        ratio = lambda k: "{median:.2f} [{min:.2f}–{max:.2f}] ({rounds} rounds)".format(**row[k])
        goal = GOALS[row["case"]]
        met = "met" if row["ours_over_cp"]["median"] >= goal else "missed"
        out.append(f"| {row['data']} | {row['step']} | {mb['ours']:.0f} | {mb['cp']:.0f} | {mb['tar']:.0f} | "
                   f"{ratio('ours_over_cp')} | {ratio('ours_over_tar')} | ≥ {goal} ({met}) |")
    return "\n".join(out) + "\n"


def main():
    started = time.monotonic()
    build()
    base = os.path.join(SCRATCH_PARENT, f"libcriu-tmpfile-bench-{os.getpid()}")
    os.makedirs(base)
    try:
        cases = {c[0]: run_case(base, c) for c in CASES}
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rows = [row for cid, case in cases.items() for row in summarize(cid, case)]
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "storage": "tmpfs",
        "quick": QUICK,
        "cases": cases,
        "rows": rows,
        "seconds": round(time.monotonic() - started),
    }
    md = markdown(result)
    if JSON_OUT:
        with open(JSON_OUT, "w") as f:
            json.dump(result, f, indent=1)
    if not QUICK:
        os.makedirs(RESULTS, exist_ok=True)
        with open(os.path.join(RESULTS, "tmpfile.json"), "w") as f:
            json.dump(result, f, indent=1)
        with open(os.path.join(RESULTS, "tmpfile.md"), "w") as f:
            f.write(md)
    print(md)
    log(f"done in {result['seconds']} s")


if __name__ == "__main__":
    main()
