#!/usr/bin/env python3
"""Measure libcriu's tmp-file archive against `cp -a` and tar.

    bench/tmpfile/run.py [--quick | --brief] [--json PATH] [--criu PATH]

Three data sets: one 1 GiB file, 10,000 files of 4 KiB in one directory,
both of random bytes, and a sparse file of 1 GiB holding 16 MiB of data.
For each, every round saves the data with each tool (our library's save()
into an images directory, `cp -a` to another directory, tar), then deletes
it and puts it back with each tool (restore(), `cp -a` back, tar's
extraction). tar runs with gzip on the first two sets and with `--sparse`
(no gzip) on the sparse one, beside `cp -a --sparse=always`; the sparse set
also reports the bytes each stores. Each tool runs as one process timed
from outside, so all three pay the same start-up. Every timed run also
records its CPU time (user + system) and what the rest of the machine used
meanwhile (/proc/stat), which is what explains the spread of the ratios
(see bench/README.md).

With criu (--criu, or CRIU_BIN in the environment), it also measures the
freeze time a dump spends saving tmp files: a process dumped with
--leave-running and tmp files of 0, 64 MiB and 1 GiB, timed from criu's
pre-dump notification (before the freeze) to its post-dump one (after the
save, before the thaw).

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
import resource
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TARGET = os.path.join(ROOT, "build", "bench-tmpfile")
DRIVER = os.path.join(TARGET, "release", "tmpfile-bench")
RESULTS = os.path.join(ROOT, "bench", "results")
SCRATCH_PARENT = "/dev/shm"

ARGS = sys.argv[1:]
CRIU = ARGS[ARGS.index("--criu") + 1] if "--criu" in ARGS else os.environ.get("CRIU_BIN")
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
    # Apparent size; 16 MiB of data in 16 extents spread over it.
    ("sparse", "a 1 GiB sparse file with 16 MiB of data", 1, 1 << 30, ROUNDS, ROUNDS),
]
SPARSE_DATA = 16 << 20
# Tmp files whose save a dump's freeze time is measured with.
FREEZE_SIZES = [0, 64 << 20, (256 if QUICK else 1024) << 20]
FREEZE_ROUNDS = 1 if QUICK else 3 if BRIEF else 5
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


def cpu_ticks():
    """The machine's (busy, steal) CPU time so far, in seconds (/proc/stat:
    user, nice, system, irq, softirq; steal is time the host ran something
    else on our virtual CPUs)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
    return busy / hz, fields[7] / hz


def timed(argv):
    """The command's wall seconds, its CPU seconds, the CPU seconds the rest
    of the machine used meanwhile (others, steal), and what it printed."""
    warm()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, steal0 = cpu_ticks()
    start = time.perf_counter()
    done = subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    busy1, steal1 = cpu_ticks()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    run = {"seconds": seconds, "cpu": cpu, "others": max(0.0, busy1 - busy0 - cpu), "steal": steal1 - steal0}
    return run, done.stdout


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def make_data(path, files, size, sparse=False):
    """Random bytes: neither tool gains from compressible data. A sparse
    file holds SPARSE_DATA of them in 16 extents spread over its size."""
    if sparse:
        with open(path, "wb") as f:
            f.truncate(size)
            for i in range(16):
                f.seek(i * (size // 16))
                f.write(os.urandom(SPARSE_DATA // 16))
        return
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
    sparse = cid == "sparse"
    make_data(os.path.join(pristine, name), files, size, sparse)
    subprocess.run(["cp", "-a", "--sparse=always", os.path.join(pristine, name), src], check=True)
    data = os.path.join(src, name)
    # tar keeps holes with --sparse; gzip would only blur the comparison.
    archive = os.path.join(tar_dir, "data.tar" if sparse else "data.tar.gz")
    tar_mode = ["--sparse"] if sparse else ["--gzip"]
    cp_mode = ["--sparse=always"] if sparse else []
    save = {
        "ours": lambda: [DRIVER, "save", images, data],
        "cp": lambda: ["cp", "-a", *cp_mode, data, cp_dir],
        "tar": lambda: ["tar", "--create", *tar_mode, "-f", archive, "-C", src, name],
    }
    put_back = {
        "ours": lambda: [DRIVER, "restore", images],
        "cp": lambda: ["cp", "-a", *cp_mode, os.path.join(cp_dir, name), src],
        "tar": lambda: ["tar", "--extract", *tar_mode, "-f", archive, "-C", src],
    }
    # Bytes each tool's saved copy takes: the archive, or the copy's blocks.
    stored = {
        "ours": lambda: os.stat(os.path.join(images, "libcriu-tmpfiles.img")).st_size,
        "cp": lambda: os.stat(os.path.join(cp_dir, name)).st_blocks * 512 if files == 1 else None,
        "tar": lambda: os.stat(archive).st_size,
    }
    before_save = {
        "ours": lambda: [remove(os.path.join(images, n)) for n in os.listdir(images)],
        "cp": lambda: remove(os.path.join(cp_dir, name)),
        "tar": lambda: remove(archive),
    }
    times = {op: {t: [] for t in TOOLS} for op in ("save", "restore")}
    # CPU seconds of each run, and those the rest of the machine used meanwhile.
    cpu = {op: {t: [] for t in TOOLS} for op in ("save", "restore")}
    others = {op: {t: [] for t in TOOLS} for op in ("save", "restore")}
    # Our driver's own timing of the library call, without process start.
    in_call = {"save": [], "restore": []}
    bytes_stored = {}
    allocated_after_put_back = {}

    def measure(op, tool, argv):
        run, out = timed(argv)
        times[op][tool].append(run["seconds"])
        cpu[op][tool].append(run["cpu"])
        others[op][tool].append(run["others"] + run["steal"])
        if tool == "ours":
            in_call[op].append(json.loads(out)["seconds"])

    for r in range(rounds):
        tools = [t for t in TOOLS if t != "tar" or r < tar_rounds]
        order = tools[r % len(tools):] + tools[:r % len(tools)]
        for tool in order:
            before_save[tool]()
            measure("save", tool, save[tool]())
            bytes_stored.setdefault(tool, stored[tool]())
        for tool in order:
            remove(data)
            measure("restore", tool, put_back[tool]())
            if files == 1:
                allocated_after_put_back.setdefault(tool, os.stat(data).st_blocks * 512)
            if r == 0 and not same(os.path.join(pristine, name), data):
                raise SystemExit(f"{title}: {tool} did not put the data back as it was")
        log(f"{title}: round {r + 1}/{rounds}: " + ", ".join(
            f"{op} {t} {times[op][t][-1]:.3f}s" for op in times for t in order) +
            f" (ours in the call: save {in_call['save'][-1]:.3f}s, restore {in_call['restore'][-1]:.3f}s)")
    shutil.rmtree(d)
    data_bytes = SPARSE_DATA if sparse else files * size
    return {"title": title, "files": files, "bytes": data_bytes, "apparent_bytes": files * size, "times": times,
            "cpu": cpu, "others": others, "ours_in_call": in_call, "bytes_stored": bytes_stored,
            "allocated_after_put_back": allocated_after_put_back}


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
        # CPU seconds, ours ÷ cp -a: above 1, ours needs the second core to
        # keep up; and the CPU the rest of the machine took during ours.
        c = case["cpu"][op]
        row["cpu_ours_over_cp"] = statistics.median(o / t for o, t in zip(c["ours"], c["cp"]) if t > 0) \
            if any(t > 0 for t in c["cp"]) else None
        row["cpu_seconds"] = {t: statistics.median(v) for t, v in c.items() if v}
        row["others_during_ours"] = {"median": statistics.median(case["others"][op]["ours"]),
                                     "max": max(case["others"][op]["ours"])}
        row["bytes_stored"] = case.get("bytes_stored")
        row["allocated_after_put_back"] = case.get("allocated_after_put_back")
        rows.append(row)
    return rows


def freeze_times(base):
    """How long a dump holds the tree frozen with tmp files of each of
    FREEZE_SIZES: a `sleep` dumped with --leave-running, interleaved sizes,
    the time from criu's pre-dump notification to the post-dump one."""
    if not CRIU:
        return {"skipped": "no criu given (--criu or CRIU_BIN)"}
    d = os.path.join(base, "freeze")
    os.makedirs(d)
    files = {}
    for size in FREEZE_SIZES:
        if size:
            files[size] = os.path.join(d, f"tmp-{size >> 20}MiB")
            make_data(files[size], 1, size)
    victim = subprocess.Popen(["sleep", "100000"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    runs = {size: {"dump": [], "frozen": []} for size in FREEZE_SIZES}
    try:
        for r in range(FREEZE_ROUNDS):
            k = r % len(FREEZE_SIZES)
            for size in FREEZE_SIZES[k:] + FREEZE_SIZES[:k]:
                images = os.path.join(d, f"images-{r}-{size}")
                os.makedirs(images)
                run, out = timed([DRIVER, "dump", CRIU, images, str(victim.pid)] + ([files[size]] if size else []))
                got = json.loads(out)
                runs[size]["dump"].append(got["seconds"])
                runs[size]["frozen"].append(got["pre_to_post_dump"])
                shutil.rmtree(images)
            log(f"freeze: round {r + 1}/{FREEZE_ROUNDS}: " + ", ".join(
                f"{size >> 20} MiB {runs[size]['frozen'][-1]:.3f}s" for size in FREEZE_SIZES))
    finally:
        victim.kill()
        victim.wait()
        shutil.rmtree(d, ignore_errors=True)
    base_frozen = statistics.median(runs[0]["frozen"])
    return {"rounds": FREEZE_ROUNDS, "sizes": [
        {"bytes": size, "dump_median": statistics.median(runs[size]["dump"]),
         "frozen_median": statistics.median(runs[size]["frozen"]),
         "frozen_min": min(runs[size]["frozen"]), "frozen_max": max(runs[size]["frozen"]),
         "added_by_tmp_files": statistics.median(runs[size]["frozen"]) - base_frozen} for size in FREEZE_SIZES]}


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
        "tar runs with gzip, except on the sparse file (`tar --sparse`, and `cp -a --sparse=always`). "
        "CPU: user + system seconds of the tool, ours ÷ cp -a; others: CPU seconds the rest of the machine "
        "(other processes, the host's steal) took during our runs, median [max].",
        "",
        "| data | step | ours MB/s | cp -a MB/s | tar MB/s | ours ÷ cp -a | ours ÷ tar | CPU ours ÷ cp -a | others during ours | goal vs cp -a |",
        "|---|---|---:|---:|---:|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        mb = row["mb_per_s"]
        ratio = lambda k: "{median:.2f} [{min:.2f}–{max:.2f}] ({rounds} rounds)".format(**row[k])
        goal = GOALS.get(row["case"])
        met = "—" if goal is None else f"≥ {goal} ({'met' if row['ours_over_cp']['median'] >= goal else 'missed'})"
        cpu = "—" if row.get("cpu_ours_over_cp") is None else f"{row['cpu_ours_over_cp']:.2f}"
        oth = row["others_during_ours"]
        out.append(f"| {row['data']} | {row['step']} | {mb['ours']:.0f} | {mb['cp']:.0f} | {mb['tar']:.0f} | "
                   f"{ratio('ours_over_cp')} | {ratio('ours_over_tar')} | {cpu} | "
                   f"{oth['median']:.2f} s [{oth['max']:.2f}] | {met} |")
    sparse = result["cases"].get("sparse")
    if sparse:
        mib = lambda b: "—" if b is None else f"{b / 2**20:.1f} MiB"
        out += ["", f"Sparse file ({sparse['title']}): bytes each tool stores, and allocated after its put-back.", "",
                "| tool | stored | allocated after put-back |", "|---|---:|---:|"]
        for tool, label in (("ours", "ours"), ("cp", "cp -a --sparse=always"), ("tar", "tar --sparse")):
            out.append(f"| {label} | {mib(sparse['bytes_stored'].get(tool))} | "
                       f"{mib(sparse['allocated_after_put_back'].get(tool))} |")
    freeze = result.get("freeze", {})
    if "sizes" in freeze:
        out += ["", f"Freeze time of a dump (criu pre-dump to post-dump notification, {freeze['rounds']} rounds, "
                "median [min–max]):", "", "| tmp files | frozen | added by the tmp files | whole dump |",
                "|---|---|---|---|"]
        for z in freeze["sizes"]:
            out.append(f"| {z['bytes'] >> 20} MiB | {z['frozen_median'] * 1e3:.0f} ms [{z['frozen_min'] * 1e3:.0f}–"
                       f"{z['frozen_max'] * 1e3:.0f}] | {z['added_by_tmp_files'] * 1e3:.0f} ms | "
                       f"{z['dump_median'] * 1e3:.0f} ms |")
    elif freeze:
        out += ["", f"Freeze time: skipped ({freeze['skipped']})."]
    return "\n".join(out) + "\n"


def main():
    started = time.monotonic()
    build()
    base = os.path.join(SCRATCH_PARENT, f"libcriu-tmpfile-bench-{os.getpid()}")
    os.makedirs(base)
    try:
        cases = {c[0]: run_case(base, c) for c in CASES}
        freeze = freeze_times(base)
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
        "freeze": freeze,
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
