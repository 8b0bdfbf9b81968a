#!/usr/bin/env python3
"""Benchmark our libcriu against upstream libcriu (built from the CRIU tree
of the criu-env file: 4.2.1), side by side.

    bench/run.py <criu-env-file> [--quick]

Builds both libraries, builds bench/driver.c against each (and once without
libcriu, for the floor and footprint probes), runs every measurement in
rounds that alternate ours and upstream (A B, B A, ...), and writes
bench/results/latest.json, latest.md and ratios.svg.

Standard library only. Paths are derived from the repository and the
criu-env file; none of them is written into the results.
"""
import datetime
import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
BUILD = os.path.join(BENCH, "build")
RESULTS = os.path.join(BENCH, "results")
TMPFS = os.path.join(BUILD, "tmpfs")
SIDES = ("ours", "upstream")

# Goals from the issue.
GOAL_RATIO = 1.02        # ours/upstream, per call and dump/restore
GOAL_BIG_CALLER = 1.10   # ours from a 4 GiB caller / ours from a small caller
GOAL_STRIPPED = 1 << 20  # bytes

# (id, title, driver args, floor args or None, warmup, iterations per run,
#  rounds, budget s). A round runs ours once and upstream once (and the
#  floor, if any); the ratio is taken per round. A measurement stops early
#  (after at least MIN_ROUNDS) once over its time budget, so a loaded machine
#  still finishes `make bench` in under 10 minutes; the budgets add up to
#  under 7, and the tmp-file throughput (tmpfile_throughput) takes about 2.5.
PER_CALL = [
    ("version", "criu_get_version, small caller", ["version"], ["bare-version"], 3, 30, 12, 20),
    ("check", "criu_check, small caller", ["check"], ["bare-check", "{checkdir}"], 1, 8, 6, 25),
    ("version-1g", "criu_get_version, 1 GiB caller", ["version", "1024"], None, 3, 16, 6, 25),
    ("version-4g", "criu_get_version, 4 GiB caller", ["version", "4096"], None, 3, 16, 6, 60),
]
# (size MiB, rounds, budget s per storage): one dump + one restore per side
# per round.
DUMP_SIZES = [(16, 31, 40), (256, 13, 100)]
MIN_ROUNDS = 3
STORAGES = ("disk", "tmpfs")
FOOTPRINT_ROUNDS = 5


T0 = time.monotonic()


def log(msg):
    print(f"bench [{time.monotonic() - T0:4.0f} s]: {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k:
                env[k] = v.strip("'\"")
    for k in ("CRIU_BIN", "CRIU_SRC"):
        if not env.get(k):
            sys.exit(f"{k} not set by {path}")
    return env


def sha12(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


# ---------------------------------------------------------------- building

def build(env):
    """Build both libraries and snapshot each into bench/build/<side>/lib,
    so a library rebuilt under us mid-run cannot mix into the figures."""
    src = env["CRIU_SRC"]
    log("building our library (make lib)")
    sh(["make", "-s", "-C", ROOT, "lib"], stdout=subprocess.DEVNULL)
    log("building upstream libcriu from the CRIU tree (make lib)")
    # Quietly: CRIU's Makefile complains that its tree is not a git checkout.
    res = subprocess.run(["make", "-s", "-C", src, "lib"], capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"building upstream libcriu failed:\n{res.stdout}{res.stderr}")
    libs = {"ours": os.path.join(ROOT, "build/lib/libcriu.so.2"),
            "upstream": os.path.join(src, "lib/c/libcriu.so")}
    cflags = {"ours": ["-I", os.path.join(ROOT, "include")],
              "upstream": ["-I", f"{src}/lib/c", "-I", f"{src}/images",
                           "-iquote", f"{src}/criu/include"]}
    os.makedirs(BUILD, exist_ok=True)
    driver_c = os.path.join(BENCH, "driver.c")
    cc = ["gcc", "-O2", "-Wall", "-Wextra", "-Werror"]
    out = {"libs": {}, "drivers": {}}
    for side in SIDES:
        libdir = os.path.join(BUILD, side, "lib")
        os.makedirs(libdir, exist_ok=True)
        lib = os.path.join(libdir, "libcriu.so.2")
        shutil.copy2(libs[side], lib)
        drv = os.path.join(BUILD, f"driver-{side}")
        # DT_RPATH (not RUNPATH): it wins over any LD_LIBRARY_PATH, so the
        # driver can only load this copy, never Debian's libcriu.so.2.
        sh(cc + cflags[side] + [driver_c, "-o", drv, lib,
                                f"-Wl,-rpath,{libdir}", "-Wl,--disable-new-dtags"])
        got = ldd_path(drv, "libcriu.so.2")
        if got != os.path.realpath(lib):
            sys.exit(f"{drv} resolves libcriu.so.2 to {got}, not {lib}")
        out["libs"][side] = lib
        out["drivers"][side] = drv
    bare = os.path.join(BUILD, "driver-bare")
    sh(cc + ["-DBARE", driver_c, "-o", bare, "-ldl"])
    out["drivers"]["bare"] = bare
    return out


def ldd_path(binary, soname):
    res = sh(["ldd", binary], capture_output=True, env=clean_env())
    for line in res.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == soname and len(parts) >= 3:
            return os.path.realpath(parts[2])
    return None


def needed(lib):
    """Shared libraries LIB loads, without the loader and the vDSO."""
    res = sh(["ldd", lib], capture_output=True, env=clean_env())
    names = [line.split()[0] for line in res.stdout.splitlines() if "=>" in line]
    return [n for n in names if not n.startswith(("linux-vdso", "ld-linux"))]


def clean_env():
    e = dict(os.environ)
    e.pop("LD_LIBRARY_PATH", None)
    e.pop("LD_PRELOAD", None)
    return e


# ---------------------------------------------------------------- running

class DriverFailed(Exception):
    pass


def run_driver(drv, args, expect_lib=None):
    """Run one driver process; return its JSON records."""
    # Other work shares these 2 CPUs: a higher priority (the same for both
    # sides, inherited by criu) keeps background builds out of the figures.
    res = subprocess.run([drv] + args, capture_output=True, text=True,
                         env=clean_env(), timeout=300, cwd=BUILD,
                         preexec_fn=lambda: os.nice(-10))
    recs = [json.loads(l) for l in res.stdout.splitlines() if l.startswith("{")]
    if res.returncode != 0:
        raise DriverFailed(f"exit {res.returncode}: {res.stderr.strip()[-500:]}")
    for r in recs:
        if r["phase"] == "lib" and expect_lib and \
                os.path.realpath(r["lib"]) != os.path.realpath(expect_lib):
            raise DriverFailed(f"loaded {r['lib']}, not {expect_lib}")
    return recs


def summary(samples):
    """median/min/max in ms of a list of ns."""
    ms = [s / 1e6 for s in samples]
    return {"median": statistics.median(ms), "min": min(ms), "max": max(ms), "n": len(ms)}


def ratio_summary(pairs):
    out = {"median": statistics.median(pairs), "min": min(pairs), "max": max(pairs),
           "pairs": len(pairs)}
    ci = median_ci(pairs)
    if ci:
        out["ci95"] = ci
    return out


def median_ci(xs, conf=0.95):
    """Distribution-free confidence interval of the median (order statistics,
    binomial): tells whether a ratio is off its goal or just noisy."""
    xs, n = sorted(xs), len(xs)
    k, tail = 0, 0.0
    while True:  # largest k with P(Binomial(n, 1/2) < k) <= (1 - conf) / 2
        nxt = tail + math.comb(n, k) / 2 ** n
        if nxt > (1 - conf) / 2:
            break
        tail, k = nxt, k + 1
    return [xs[k - 1], xs[n - k]] if k >= 1 else None


def interleave(b, runs, rounds, budget):
    """runs: {name: (driver, args)} in the order to run them within a round.
    Returns {name: {phase: [[ns of round 0], [ns of round 1], ...]}} and
    {name: {phase: set of return values}}, or raises DriverFailed naming
    the side that failed."""
    times = {name: {} for name in runs}
    rets = {name: {} for name in runs}
    start = time.monotonic()
    for done in range(rounds):
        if done >= MIN_ROUNDS and time.monotonic() - start > budget:
            log(f"  over its {budget} s budget: stopping after {done} rounds")
            break
        # Odd rounds run the sides in reverse (A B, B A, A B, ...), so whatever
        # the first run of a round pays or saves (caches, the balloon just
        # freed) falls on each side equally often.
        order = list(runs.items())
        if done % 2:
            order.reverse()
        for name, (drv, args) in order:
            try:
                recs = run_driver(drv, args, b["libs"].get(name))
            except DriverFailed as e:
                raise DriverFailed(f"{name}: {e}") from None
            per_phase = {}
            for r in recs:
                if "ns" in r:
                    per_phase.setdefault(r["phase"], []).append(r["ns"])
                    rets[name].setdefault(r["phase"], set()).add(r["ret"])
            for phase, ns in per_phase.items():
                times[name].setdefault(phase, []).append(ns)
    return times, rets


def row_from(rid, title, group, times, rets, phase, floor=None):
    """One result row: each side's figures and the per-round ratio."""
    row = {"id": rid, "title": title, "group": group, "unit": "ms"}
    for side in SIDES:
        rounds = times[side].get(phase, [])
        row[side] = summary([ns for r in rounds for ns in r])
        row[side]["rounds_ms"] = [[round(ns / 1e6, 3) for ns in r] for r in rounds]
        row[side]["returns"] = sorted(rets[side].get(phase, []))
    if floor:
        fphase, ftimes = floor
        row["floor"] = summary([ns for r in ftimes["floor"][fphase] for ns in r])
        row["floor"]["what"] = "criu " + ("check" if fphase == "bare-check" else "--version")
        # What ours costs over the bare binary: the one reference left when
        # upstream's call is broken.
        row["ours_over_floor"] = ratio_summary(
            [statistics.median(a) / statistics.median(f)
             for a, f in zip(times["ours"][phase], ftimes["floor"][fphase])])
    bad = {s: [v for v in row[s]["returns"] if v < 0] for s in SIDES}
    if bad["ours"]:
        row["status"] = f"ours failed (returned {bad['ours']})"
    elif bad["upstream"]:
        # A failing call is fast; a ratio against it would be a fake speed-up.
        row["status"] = (f"upstream broken (returned {bad['upstream']} in "
                         f"{row['upstream']['median']:.1f} ms)")
    else:
        ours, up = times["ours"][phase], times["upstream"][phase]
        pairs = [statistics.median(a) / statistics.median(b) for a, b in zip(ours, up)]
        row["ratio"] = ratio_summary(pairs)
        row["status"] = "ok"
    return row


def per_call(b, env, quick):
    rows = []
    checkdir = os.path.join(BUILD, "check")
    os.makedirs(checkdir, exist_ok=True)
    for rid, title, args, floor, warm, n, rounds, budget in PER_CALL:
        if quick:
            n, rounds = max(2, n // 4), 2
        log(f"{title}: {rounds} rounds of {n}")
        common = [env["CRIU_BIN"], str(warm), str(n)]
        runs = {s: (b["drivers"][s], [args[0]] + common + args[1:]) for s in SIDES}
        if floor:
            fargs = [a.format(checkdir=checkdir) for a in floor[1:]]
            runs["floor"] = (b["drivers"]["bare"], [floor[0]] + common + fargs)
        try:
            times, rets = interleave(b, runs, rounds, budget)
        except DriverFailed as e:
            rows.append({"id": rid, "title": title, "group": "per-call",
                         "status": f"failed: {e}"})
            continue
        rows.append(row_from(rid, title, "per-call", times, rets, args[0],
                             (floor[0], times) if floor else None))
        if "version-small" in times["ours"]:
            rows.append(growth_row(rid, title, times))
    return rows


def growth_row(rid, title, times):
    """How much slower the same process calls once it is big: per round,
    median after touching / median before, for each side."""
    row = {"id": f"{rid}-growth", "title": f"criu_get_version: {title.split(',')[1].strip()} ÷ same process small",
           "group": "growth", "unit": "x", "status": "ok"}
    for side in SIDES:
        t = times[side]
        row[side] = ratio_summary([statistics.median(big) / statistics.median(small)
                                   for big, small in zip(t["version"], t["version-small"])])
        # Noise only ever adds time: the fastest calls show the floor of each.
        row[side]["fastest_ratio"] = (min(min(r) for r in t["version"]) /
                                      min(min(r) for r in t["version-small"]))
    return row


def dump_restore(b, env, quick):
    rows = []
    for storage in STORAGES:
        base = TMPFS if storage == "tmpfs" else os.path.join(BUILD, "images")
        for mib, rounds, budget in DUMP_SIZES:
            if quick:
                rounds = 2
            log(f"dump/restore {mib} MiB, images on {storage}: {rounds} rounds")
            runs = {}
            for s in SIDES:
                # One images dir per side and size, reused every round: criu
                # overwrites by name, so nothing is deleted and re-created.
                d = os.path.join(base, f"{s}-{mib}")
                os.makedirs(d, exist_ok=True)
                runs[s] = (b["drivers"][s],
                           ["dump-restore", env["CRIU_BIN"], "0", "1", str(mib), d])
            try:
                times, rets = interleave(b, runs, rounds, budget)
            except DriverFailed as e:
                kill_leftover_victims(b)
                rows.append({"id": f"dump-restore-{mib}-{storage}",
                             "title": f"dump+restore {mib} MiB, {storage}",
                             "group": "dump/restore", "status": f"failed: {e}"})
                continue
            for phase in ("dump", "restore"):
                rows.append(row_from(f"{phase}-{mib}-{storage}",
                                     f"{phase} {mib} MiB, images on {storage}",
                                     "dump/restore", times, rets, phase))
    return rows


def footprint(b, env, quick):
    """Stripped size of each library, and the caller's RSS growth from
    dlopen + one criu_get_version call (median of fresh processes)."""
    rows = []
    size, rss = {}, {}
    for side in SIDES:
        stripped = os.path.join(BUILD, side, "libcriu.stripped")
        sh(["strip", "-o", stripped, b["libs"][side]])
        size[side] = os.path.getsize(stripped)
    rows.append({"id": "stripped-size", "title": "stripped library size", "group": "footprint",
                 "unit": "KiB", "ours": {"median": size["ours"] / 1024},
                 "upstream": {"median": size["upstream"] / 1024},
                 # What else each one drags in at load time.
                 "needs": {s: needed(b["libs"][s]) for s in SIDES},
                 "ratio": {"median": size["ours"] / size["upstream"]}, "status": "ok"})
    rounds = 2 if quick else FOOTPRINT_ROUNDS
    log(f"footprint: {rounds} rounds")
    try:
        for _ in range(rounds):
            for side in SIDES:
                lib = b["libs"][side]
                r = run_driver(b["drivers"]["bare"],
                               ["footprint", env["CRIU_BIN"], "0", "1", lib])[-1]
                if os.path.realpath(r["lib"]) != os.path.realpath(lib):
                    raise DriverFailed(f"{side}: the probe loaded {r['lib']}, not {lib}")
                rss.setdefault(side, []).append((r["rss_called_kib"] - r["rss_before_kib"],
                                                 r["rss_loaded_kib"] - r["rss_before_kib"]))
    except DriverFailed as e:
        rows.append({"id": "rss-delta", "title": "caller RSS growth: dlopen + one get_version",
                     "group": "footprint", "status": f"failed: {e}"})
        return rows
    row = {"id": "rss-delta", "title": "caller RSS growth: dlopen + one get_version",
           "group": "footprint", "unit": "KiB", "status": "ok"}
    for side in SIDES:
        called = [c for c, _ in rss[side]]
        row[side] = {"median": statistics.median(called), "min": min(called), "max": max(called),
                     "after_dlopen_median": statistics.median(l for _, l in rss[side])}
    pairs = [o[0] / u[0] for o, u in zip(rss["ours"], rss["upstream"]) if u[0] > 0]
    if pairs:
        row["ratio"] = ratio_summary(pairs)
    rows.append(row)
    return rows


TMPFILE_GOALS = {"big": 0.9, "small": 0.8}  # ours ÷ cp -a throughput, from the tmp-file issue


def tmpfile_throughput(quick, criu):
    """The tmp-file archive's save and put-back throughput beside `cp -a` and
    tar with gzip (no upstream counterpart: CRIU has no tmp-file option).
    bench/tmpfile/run.py measures it, with its own handling of the traps;
    here it runs with fewer rounds and its rows join the table."""
    failed = {"id": "tmpfile-throughput", "title": "tmp-file save/put-back throughput", "group": "tmp-file"}
    result = sub_bench("tmpfile", ["tmpfile/run.py", "--criu", criu], quick, failed)
    if result is None:
        return [failed]
    rows = []
    for t in result["rows"]:
        step = t["step"].replace(" ", "-")
        vs = lambda k: "{median:.2f} ({min:.2f}–{max:.2f}; {rounds} rounds)".format(**t[k])
        sparse = t["case"] == "sparse"
        cp, tar = ("cp -a --sparse=always", "tar --sparse") if sparse else ("cp -a", "tar+gzip")
        notes = (f"throughput ours ÷ {cp} {vs('ours_over_cp')} ({cp} {t['mb_per_s']['cp']:.0f} MB/s); "
                 f"ours ÷ {tar} {vs('ours_over_tar')} ({t['mb_per_s']['tar']:.0f} MB/s)")
        if t.get("cpu_ours_over_cp") is not None:
            notes += (f"; CPU time ours ÷ {cp} {t['cpu_ours_over_cp']:.2f}, others' CPU during ours "
                      f"{t['others_during_ours']['median']:.2f} s")
        if sparse and t["step"] == "save":
            stored = t["bytes_stored"]
            notes += "; stored: " + ", ".join(f"{name} {stored[k] / 2**20:.1f} MiB" for k, name in
                                              (("ours", "ours"), ("cp", cp), ("tar", tar)) if stored.get(k))
        rows.append({
            "id": f"tmpfile-{t['case']}-{step}", "title": f"tmp-file {t['step']}, {t['data']}",
            "group": "tmp-file", "status": "ok", "case": t["case"],
            "ours_mb_per_s": t["mb_per_s"]["ours"], "cp_mb_per_s": t["mb_per_s"]["cp"],
            "tar_mb_per_s": t["mb_per_s"]["tar"],
            "ours_over_cp": t["ours_over_cp"], "ours_over_tar": t["ours_over_tar"],
            "notes": notes,
        })
    for z in result.get("freeze", {}).get("sizes", []):
        rows.append({
            "id": f"tmpfile-freeze-{z['bytes'] >> 20}", "group": "tmp-file", "status": "ok", "case": "freeze",
            "title": f"dump freeze time, tmp files of {z['bytes'] >> 20} MiB",
            "ours_text": f"{z['frozen_median'] * 1e3:.0f} ms",
            "notes": (f"criu pre-dump to post-dump, {z['frozen_min'] * 1e3:.0f}–{z['frozen_max'] * 1e3:.0f} ms "
                      f"over {result['freeze']['rounds']} rounds; {z['added_by_tmp_files'] * 1e3:.0f} ms "
                      f"more than without tmp files; whole dump {z['dump_median'] * 1e3:.0f} ms"),
        })
    return rows


GOAL_IMAGES = 1 / 20  # ours ÷ crit decode time, from the images issue


def images_decode(env_file, quick):
    """`crit show` of every file of a 1 GiB dump (64 MiB with --quick),
    ours (criu-image) against upstream crit, interleaved: bench/images/run.py
    measures it; here its rounds become a row."""
    out = os.path.join(BUILD, "images.json")
    if os.path.exists(out):
        os.unlink(out)
    mib, rounds = (64, 3) if quick else (1024, 10)
    cmd = ["nice", "-n", "-10", sys.executable, os.path.join(BENCH, "images", "run.py"), env_file,
           "--mib", str(mib), "--rounds", str(rounds), "--json", out]
    log("image decode: bench/images/run.py " + " ".join(cmd[5:]))
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rid, title = f"images-show-{mib}m", f"crit show of every image file, {mib} MiB dump"
    if done.returncode != 0 or not os.path.exists(out):
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [{"id": rid, "title": title, "group": "images", "status": f"failed: {why}"}]
    with open(out) as f:
        result = json.load(f)
    times = {side: {"show": result[side]} for side in SIDES}
    rets = {side: {"show": {0}} for side in SIDES}
    row = row_from(rid, f"{title} ({result['files']} files, {result['bytes'] >> 20} MiB)", "images",
                   times, rets, "show")
    return [row]


def sub_bench(name, script_args, quick, failed_row):
    """Run bench/<script_args[0]> (a benchmark with its own handling of the
    traps) in --brief (or --quick) mode, writing JSON to build/<name>.json;
    its result, or None after adding `failed_row` with the reason to it."""
    out = os.path.join(BUILD, f"{name}.json")
    if os.path.exists(out):
        os.unlink(out)
    args = [os.path.join(BENCH, script_args[0]), *script_args[1:], "--quick" if quick else "--brief", "--json", out]
    log(f"{name}: bench/{script_args[0]} " + " ".join(args[1:]))
    done = subprocess.run(["nice", "-n", "-10", sys.executable, *args],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0 or not os.path.exists(out):
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        failed_row["status"] = f"failed: {why}"
        return None
    with open(out) as f:
        return json.load(f)


def pycriu_calls(env_file, quick):
    """libcriu.pycriu beside upstream pycriu from a small and a 1 GiB Python
    caller (bench/pycriu/run.py, which needs the venv tests/zdtm/run makes);
    its rows join the table."""
    failed = {"id": "pycriu-dump", "title": "pycriu dump() calls", "group": "pycriu"}
    result = sub_bench("pycriu", ["pycriu/run.py", env_file], quick, failed)
    return [failed] if result is None else result["rows"]


def migration(env_file, quick):
    """A process of 64 and 256 MiB dumped to a page server, through ours and
    through the criu CLI (no upstream counterpart: upstream libcriu cannot
    start a page server). bench/migrate/run.py measures it; its rows join
    the table with total and frozen time as ratios ours/cli."""
    failed = {"id": "migrate", "title": "migration to a page server", "group": "migrate"}
    result = sub_bench("migrate", ["migrate/run.py", env_file], quick, failed)
    if result is None:
        return [failed]
    rows = []
    for t in result["rows"]:
        vs = lambda s: "{median:.3f} ({min:.3f}–{max:.3f})".format(**s)
        ms = lambda s: "{median:.0f} ms ({min:.0f}–{max:.0f})".format(**s)
        rows.append({
            "id": f"migrate-{t['mib']}mib", "title": f"migration of {t['mib']} MiB to a page server",
            "group": "migrate", "status": "ok", "total_ms": t["total_ms"], "frozen_ms": t["frozen_ms"],
            "ours_over_cli": {"total": t["ratio_total"], "frozen": t["ratio_frozen"]},
            "notes": (f"ours/criu CLI, {t['rounds']} rounds: total {vs(t['ratio_total'])} "
                      f"(CLI {ms(t['total_ms']['cli'])}), frozen {vs(t['ratio_frozen'])} "
                      f"(CLI {ms(t['frozen_ms']['cli'])})"),
        })
    return rows


# ---------------------------------------------------------------- machine traps

def kill_leftover_victims(b):
    """A driver that failed midway may leave its victim (or the restored
    copy) behind; both run our driver-bare, so they are easy to tell."""
    bare = os.path.realpath(b["drivers"]["bare"])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/exe") == bare:
                os.kill(int(pid), 9)
        except OSError:
            pass


def prepare_storage():
    """Fresh image dirs on disk and on a private tmpfs."""
    unmount_tmpfs()
    images = os.path.join(BUILD, "images")
    if os.path.exists(images):
        shutil.rmtree(images)
        # Re-creating files soon after deleting them is slow on this ext4;
        # dropping caches after the delete avoids that for the run.
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    os.makedirs(images)
    os.makedirs(TMPFS, exist_ok=True)
    sh(["mount", "-t", "tmpfs", "-o", "size=2g,mode=0755", "bench-tmpfs", TMPFS])


def unmount_tmpfs():
    with open("/proc/self/mounts") as f:
        if any(line.split()[1] == TMPFS for line in f):
            sh(["umount", TMPFS])


# ---------------------------------------------------------------- reporting

def fmt(x, unit="ms"):
    if x is None:
        return "-"
    if unit == "KiB":
        return f"{x:.0f} KiB"
    if unit == "x":
        return f"{x:.2f}x"
    return f"{x:.2f} ms" if x < 10 else f"{x:.1f} ms"


def fig(d, unit):
    if not d:
        return "-"
    s = fmt(d["median"], unit)
    if "min" in d and d.get("n", d.get("pairs", 2)) > 1:
        s += f" ({fmt(d['min'], unit).split()[0]}–{fmt(d['max'], unit).split()[0]})"
    return s


def ratio_text(r):
    if "min" in r:
        ci = f"; CI {r['ci95'][0]:.3f}–{r['ci95'][1]:.3f}" if "ci95" in r else ""
        return f"**{r['median']:.3f}** ({r['min']:.3f}–{r['max']:.3f}{ci})"
    return f"**{r['median']:.3f}**"


def goals(rows):
    by = {r["id"]: r for r in rows}
    out = []

    def ratio_goal(name, ids):
        worst, missing, over = None, [], []
        for i in ids:
            r = by.get(i, {})
            if "ratio" in r:
                med = r["ratio"]["median"]
                if worst is None or med > worst[1]:
                    worst = (i, med)
                if med > GOAL_RATIO:
                    ci = r["ratio"].get("ci95")
                    noise = (" (within noise: 95% CI of the median "
                             f"{ci[0]:.3f}–{ci[1]:.3f})" if ci and ci[0] <= GOAL_RATIO
                             else " (beyond noise)" if ci else "")
                    over.append(f"{i} {med:.3f}{noise}")
            else:
                missing.append(f"{i}: {r.get('status', 'not run')}")
        met = worst is not None and not over
        text = (f"worst median ratio {worst[1]:.3f} ({worst[0]})" if worst else "nothing measured")
        if over:
            text += "; over the goal: " + ", ".join(over)
        if missing:
            text += "; not evaluable: " + "; ".join(missing)
        out.append({"goal": name, "met": met, "detail": text})

    ratio_goal(f"per-call ratio ours/upstream <= {GOAL_RATIO}",
               [r["id"] for r in rows if r.get("group") == "per-call"])
    ratio_goal(f"dump/restore ratio ours/upstream <= {GOAL_RATIO}",
               [r["id"] for r in rows if r.get("group") == "dump/restore"])
    growth = by.get("version-4g-growth")
    if growth:
        g = {s: growth[s]["median"] for s in SIDES}
        o = growth["ours"]
        ci = f", 95% CI {o['ci95'][0]:.2f}–{o['ci95'][1]:.2f}" if "ci95" in o else ""
        out.append({"goal": f"ours from a 4 GiB caller <= {GOAL_BIG_CALLER}x small caller",
                    "met": g["ours"] <= GOAL_BIG_CALLER,
                    "detail": f"ours {g['ours']:.2f}x (median of per-round ratios{ci}; "
                              f"fastest call big/small {o['fastest_ratio']:.2f}x), "
                              f"upstream {g['upstream']:.1f}x"})
    else:
        out.append({"goal": f"ours from a 4 GiB caller <= {GOAL_BIG_CALLER}x small caller",
                    "met": False, "detail": "not measured"})
    for case, goal in TMPFILE_GOALS.items():
        steps = [r for r in rows if r.get("case") == case]
        data = steps[0]["title"].split(", ", 1)[1] if steps else case
        name = f"tmp-file, {data}: throughput >= {goal}x cp -a"
        if not steps:
            out.append({"goal": name, "met": False, "detail": "not measured"})
            continue
        worst = min(steps, key=lambda r: r["ours_over_cp"]["median"])
        out.append({"goal": name, "met": worst["ours_over_cp"]["median"] >= goal,
                    "detail": f"worst median {worst['ours_over_cp']['median']:.2f} ({worst['title']})"})
    shows = [r for r in rows if r.get("group") == "images"]
    name = f"crit show of a dump's images: ours/upstream <= {GOAL_IMAGES:.2f} (20x faster)"
    if shows and "ratio" in shows[0]:
        med = shows[0]["ratio"]["median"]
        out.append({"goal": name, "met": med <= GOAL_IMAGES,
                    "detail": f"median ratio {med:.3f} ({1 / med:.0f}x faster; {shows[0]['id']})"})
    else:
        out.append({"goal": name, "met": False,
                    "detail": shows[0]["status"] if shows else "not measured"})
    st = by.get("stripped-size")
    if st:
        out.append({"goal": "stripped library <= 1 MiB",
                    "met": st["ours"]["median"] * 1024 <= GOAL_STRIPPED,
                    "detail": f"ours {st['ours']['median']:.0f} KiB"})
    return out


def markdown(res):
    m = res["meta"]
    lines = [
        f"# libcriu benchmarks: ours vs upstream libcriu {m['criu']}",
        "",
        f"{m['date']}, commit {m['commit']}, {m['machine']}, criu {m['criu']}. "
        f"Our library sha256 {m['sha256']['ours']}, upstream {m['sha256']['upstream']}. "
        f"Run took {m['seconds']:.0f} s{' (--quick)' if m['quick'] else ''}, "
        f"load average at the end {' '.join(m['loadavg_at_end'])}.",
        "",
        "Medians with (min–max) over all timed iterations; the ratio is ours/upstream "
        "taken per interleaved round, median (min–max; CI = 95% confidence interval of "
        "the median) over the rounds. "
        "Below 1 means ours is faster or smaller.",
        "",
        "| measurement | ours | upstream | ours/upstream | floor (bare criu) or notes |",
        "|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        unit = r.get("unit", "ms")
        if r.get("group") == "tmp-file" and r["status"] == "ok":
            ours = r.get("ours_text") or f"{r['ours_mb_per_s']:.0f} MB/s"
            lines.append(f"| {r['title']} | {ours} | no tmp-file option | "
                         f"(no upstream counterpart) | {r['notes']} |")
            continue
        if r.get("group") == "migrate" and r["status"] == "ok":
            lines.append(f"| {r['title']} | {fig(r['total_ms']['ours'], 'ms')} | no page server call | "
                         f"(no upstream counterpart) | {r['notes']} |")
            continue
        if r["status"] != "ok" and "ours" not in r:
            lines.append(f"| {r['title']} | — | — | {r['status']} | |")
            continue
        ratio = ratio_text(r["ratio"]) if "ratio" in r else r["status"]
        if r.get("group") == "growth":
            ratio = "(not a ratio between the libraries)"
        floor = ""
        if "floor" in r:
            floor = (f"{r['floor']['what']}: {fig(r['floor'], unit)}; "
                     f"ours/floor {r['ours_over_floor']['median']:.3f}")
        up = fig(r["upstream"], unit)
        if "needs" in r:
            floor = "; ".join(f"{s} needs {', '.join(r['needs'][s])}" for s in SIDES)
        if r["id"] == "rss-delta":
            floor = ("after dlopen alone: ours "
                     f"{r['ours']['after_dlopen_median']:.0f} KiB, upstream "
                     f"{r['upstream']['after_dlopen_median']:.0f} KiB")
        lines.append(f"| {r['title']} | {fig(r['ours'], unit)} | {up} | {ratio} | {floor} |")
    lines += ["", "## Goals", "", "| goal | met | detail |", "|---|---|---|"]
    for g in res["goals"]:
        lines.append(f"| {g['goal']} | {'met' if g['met'] else '**not met**'} | {g['detail']} |")
    lines += ["", "## How the machine's traps are handled", ""]
    lines += [f"- {t}" for t in res["meta"]["traps"]]
    return "\n".join(lines) + "\n"


def svg_chart(rows, upstream):
    """Horizontal bars of the median ratio ours/upstream with min–max whiskers
    and the 95% CI of the median; rows without a ratio say why instead.
    Panel 1 shows every row on a log scale; panel 2 zooms linearly into the
    time ratios near 1, where the 1.02 goal lives."""
    items = [r for r in rows if "ratio" in r or r["status"] != "ok"]
    near = [r for r in items if "ratio" in r and r["group"] != "footprint"
            and 0.5 <= r["ratio"]["median"] <= 2]
    vals = [v for r in items if "ratio" in r
            for v in (r["ratio"]["median"], r["ratio"].get("min", 1), r["ratio"].get("max", 1))]
    o = ['<rect width="100%" height="100%" fill="white"/>',
         '<text x="10" y="22" font-size="15" font-weight="bold">libcriu: ours / upstream '
         f'{upstream} (left of 1 = ours faster or smaller)</text>']
    y = svg_panel(o, items, 72, min(vals + [0.8]) / 1.25, max(vals + [1.25]) * 1.25, True,
                  "all ratios, log scale")
    if near:
        zlo = min(0.8, min(r["ratio"].get("min", 1) for r in near) - 0.05)
        zhi = max(1.2, max(r["ratio"].get("max", 1) for r in near) + 0.05)
        y = svg_panel(o, near, y + 50, zlo, zhi, False, "zoom on the time ratios, linear scale")
    o.append(f'<text x="10" y="{y + 40}" fill="#444">Bar: median of the per-round '
             'ratios. Thin whisker: min–max. Thick: 95% confidence interval of the median. '
             'Green/red: within/over the 1.02 goal; grey: footprint (its goal is 1 MiB '
             'stripped).</text>')
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="1190" height="{y + 60}" '
            'font-family="sans-serif" font-size="12">')
    return "\n".join([head] + o + ["</svg>"]) + "\n"


def svg_panel(o, items, top, lo, hi, log_scale, caption):
    """Draw one panel of bars into o; returns the y where it ends."""
    left, width, rowh = 330, 560, 26
    bottom = top + rowh * len(items)
    f = math.log if log_scale else (lambda v: v)

    def x(v):
        v = min(max(v, lo), hi)
        return left + width * (f(v) - f(lo)) / (f(hi) - f(lo))

    def esc(s):
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    o.append(f'<text x="{left}" y="{top - 24}" font-style="italic">{caption}</text>')
    if log_scale:  # powers of 2, or of 4 when the range is wide (labels must fit)
        step = 2 if hi / lo <= 64 else 4
        ticks, v = [], step ** math.floor(math.log(lo, step))
        while v <= hi:
            ticks.append(v)
            v *= step
    else:
        ticks = [t / 10 for t in range(math.ceil(lo * 10), math.floor(hi * 10) + 1)]
    for v in ticks:
        if v < lo:
            continue
        label = f"{v:g}" if v >= 1 or not log_scale else f"1/{1 / v:g}"
        o.append(f'<line x1="{x(v):.1f}" y1="{top - 6}" x2="{x(v):.1f}" y2="{bottom}" '
                 'stroke="#ddd"/>')
        o.append(f'<text x="{x(v):.1f}" y="{bottom + 16}" text-anchor="middle">{label}</text>')
    o.append(f'<line x1="{x(1):.1f}" y1="{top - 6}" x2="{x(1):.1f}" y2="{bottom}" '
             'stroke="black"/>')
    o.append(f'<line x1="{x(GOAL_RATIO):.1f}" y1="{top - 6}" x2="{x(GOAL_RATIO):.1f}" '
             f'y2="{bottom}" stroke="#c00" stroke-dasharray="4,3"/>')
    o.append(f'<text x="{x(GOAL_RATIO) + 4:.1f}" y="{top - 8}" fill="#c00">'
             f'goal {GOAL_RATIO}</text>')
    for i, r in enumerate(items):
        y = top + i * rowh
        o.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{esc(r["title"])}</text>')
        if "ratio" not in r:
            o.append(f'<text x="{x(1) + 6:.1f}" y="{y + 16}" fill="#a60">'
                     f'{esc(r["status"])}</text>')
            continue
        rt, med = r["ratio"], r["ratio"]["median"]
        # The 1.02 goal is about time; footprint has its own (absolute) goal.
        colour = "#999" if r["group"] == "footprint" else "#4a8" if med <= GOAL_RATIO else "#d55"
        x0, x1 = sorted((x(1), x(med)))
        o.append(f'<rect x="{x0:.1f}" y="{y + 5}" width="{max(x1 - x0, 1.5):.1f}" height="14" '
                 f'fill="{colour}"/>')
        if "min" in rt:
            a, b = x(rt["min"]), x(rt["max"])
            o.append(f'<line x1="{a:.1f}" y1="{y + 12}" x2="{b:.1f}" y2="{y + 12}" '
                     'stroke="#222"/>')
            for e in (a, b):
                o.append(f'<line x1="{e:.1f}" y1="{y + 7}" x2="{e:.1f}" y2="{y + 17}" '
                         'stroke="#222"/>')
        if "ci95" in rt:
            o.append(f'<line x1="{x(rt["ci95"][0]):.1f}" y1="{y + 12}" '
                     f'x2="{x(rt["ci95"][1]):.1f}" y2="{y + 12}" stroke="#222" '
                     'stroke-width="4"/>')
        tx = max(x(med), x(1), x(rt.get("max", med))) + 6
        o.append(f'<text x="{tx:.1f}" y="{y + 16}">{med:.3f}</text>')
    return bottom + 16


def meta(env, b, quick, seconds):
    def out(cmd, cwd=ROOT):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd).stdout.strip()
        except OSError:
            return "?"
    commit = out(["git", "rev-parse", "--short", "HEAD"])
    if out(["git", "status", "--porcelain", "--", "crates", "Cargo.toml", "Cargo.lock"]):
        commit += " (with uncommitted changes to the library)"
    ver = out([env["CRIU_BIN"], "--version"]).splitlines()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "machine": f"{os.cpu_count()} CPUs, Linux {platform.release()}",
        "criu": ver[0].split()[-1] if ver else "?",
        "sha256": {s: sha12(b["libs"][s]) for s in SIDES},
        "quick": quick,
        "loadavg_at_end": open("/proc/loadavg").read().split()[:3],
        "seconds": seconds,
        "traps": [
            "Memory handed back to the host after ~2 s idle: before every timed dump and "
            "restore the driver touches and frees a balloon of 4x the process size + 256 MiB, "
            "so criu gets warm pages; per-call loops run warm-up calls first and keep memory "
            "busy back to back.",
            "Slow re-creation of deleted files on ext4: image dirs are never deleted during "
            "the run (criu overwrites images by name, one dir per side and size); the previous "
            "run's images are deleted at the start, followed by sync and drop_caches. Dirty "
            "pages are synced (untimed) before each dump and restore. Images are measured "
            "both on disk and on a private tmpfs.",
            "Other load on the 2 CPUs: drivers (and the criu they start) run at nice -10; "
        "the load average at the end of the run is recorded.",
        "Drift and order: every measurement runs in rounds of ours and upstream, the order "
            "reversed every other round (A B, B A, ...), with "
            "identical set-up; ratios are taken per round and reported as median (min–max).",
            "Two libcriu on the machine: both libraries are copied into bench/build/<side>/lib "
            "and each driver is linked with a DT_RPATH to its copy (which beats "
            "LD_LIBRARY_PATH, also removed from the environment); ldd is checked at build "
            "time and every driver run reports, via dladdr, the file its libcriu came from.",
            "Should upstream criu_check() fail (it returned -52 at once against criu 4.1.x), "
            "the row is marked 'upstream broken' and no ratio is computed; the "
            "bare `criu check` floor is the reference for ours instead.",
            "Restored processes: the driver is a child subreaper, reaps the dumped pid and "
            "waits for /proc/<pid> to vanish before restoring; victims are a separate "
            "program (same for both sides) in their own session with stdio on /dev/null.",
        ],
    }


def scrub(text, env):
    """Failure messages may quote paths: keep this machine's out of results."""
    for name in ("CRIU_BIN", "CRIU_SRC"):
        text = text.replace(env[name], "$" + name)
    return text.replace(ROOT, "<repo>")


def main():
    args = [a for a in sys.argv[1:] if a != "--quick"]
    quick = "--quick" in sys.argv[1:]
    if len(args) != 1:
        sys.exit("usage: run.py <criu-env-file> [--quick]")
    if os.geteuid() != 0:
        sys.exit("bench: needs root (criu dump/restore, tmpfs mount)")
    env = read_env(args[0])
    start = time.monotonic()
    b = build(env)
    prepare_storage()
    try:
        rows = per_call(b, env, quick)
        rows += dump_restore(b, env, quick)
        rows += tmpfile_throughput(quick, env["CRIU_BIN"])
        rows += images_decode(os.path.abspath(args[0]), quick)
        rows += pycriu_calls(args[0], quick)
        rows += migration(args[0], quick)
        rows += footprint(b, env, quick)
    finally:
        unmount_tmpfs()
    res = {"rows": rows}
    res["goals"] = goals(rows)
    res["meta"] = meta(env, b, quick, time.monotonic() - start)
    os.makedirs(RESULTS, exist_ok=True)
    md = markdown(res)
    for name, text in (("latest.json", json.dumps(res, indent=1) + "\n"),
                       ("latest.md", md), ("ratios.svg", svg_chart(rows, res["meta"]["criu"]))):
        with open(os.path.join(RESULTS, name), "w") as f:
            f.write(scrub(text, env))
    print(scrub(md, env))
    update_readme(scrub(md, env))
    failed = [r["id"] for r in rows if r["status"].startswith(("failed", "ours failed"))]
    if failed:
        log(f"some measurements failed: {', '.join(failed)}")
        sys.exit(1)


README_BEGIN = "<!-- bench:begin (written by make bench) -->"
README_END = "<!-- bench:end -->"


def update_readme(md):
    """Put the latest table and goals into README.md between its markers,
    so the front page always shows the last run (the trap notes stay in
    bench/results/latest.md)."""
    path = os.path.join(os.path.dirname(RESULTS), "..", "README.md")
    with open(path) as f:
        text = f.read()
    if README_BEGIN not in text or README_END not in text:
        return
    body = md.split("\n## How the machine's traps are handled")[0].split("\n", 1)[1].strip()
    body = body.replace("\n## Goals", "\n#### Goals")
    head, rest = text.split(README_BEGIN, 1)
    tail = rest.split(README_END, 1)[1]
    with open(path, "w") as f:
        f.write(f"{head}{README_BEGIN}\n{body}\n{README_END}{tail}")


if __name__ == "__main__":
    main()
