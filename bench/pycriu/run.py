#!/usr/bin/env python3
"""libcriu.pycriu against upstream pycriu: the cost of a dump()-class call
from a small Python process and from one holding 1 GiB.

    bench/pycriu/run.py <criu-env-file> [--quick | --brief] [--json PATH]

The call is ``criu().dump()`` of a pid that does not exist: criu is started
(``criu swrk``), gets the request and answers ESRCH at once, so the time is
what the library spends reaching criu, the part that differs (upstream
pycriu forks the whole interpreter for it; libcriu spawns criu without
copying the caller). Both sides must raise the same CRIUExceptionExternal.

Each round starts one worker process per side and caller size (small, then
1 GiB written page by page before timing), which makes ``CALLS`` timed
calls after a warm-up call; the sides alternate their order from round to
round (A B, B A), and the ratio ours/upstream is taken per round from the
medians of that round. Trap of this machine (shared/docs/BENCHMARKING.md):
memory idle for ~2 s goes back to the host, so the big worker re-touches its
1 GiB right before each timed call (outside the timing).

Needs the libcriu wheel with protobuf in the venv PYTHON names (bench/run
makes build/bench-venv and sets it), and the CRIU tree of the env file (its
lib/pycriu is upstream's). Writes the rows to --json PATH (bench/run merges
them into its table) and prints them.
"""
import importlib.util
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHIM = os.path.join(ROOT, "bindings", "python", "shim")
VENV_PYTHON = os.environ.get("PYTHON", os.path.join(ROOT, "build", "bench-venv", "bin", "python3"))

ARGS = sys.argv[1:]
QUICK = "--quick" in ARGS
BRIEF = "--brief" in ARGS
JSON_OUT = ARGS[ARGS.index("--json") + 1] if "--json" in ARGS else None
ROUNDS, CALLS = (2, 5) if QUICK else (6, 10) if BRIEF else (12, 20)
SIZES = (("small", 0), ("1g", 1024))

# The statistics of bench/run.py, so that these rows read like its own.
_spec = importlib.util.spec_from_file_location("bench_run", os.path.join(ROOT, "bench", "run.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

WORKER = r"""
import json, os, sys, time
search, criu_bin, mib, calls = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, search)
import pycriu
held = bytearray(mib << 20)
page = os.sysconf("SC_PAGE_SIZE")
def touch():
    if held:
        held[::page] = b"\1" * (len(held) // page)
missing = int(open("/proc/sys/kernel/pid_max").read())
images = os.open("/", os.O_DIRECTORY)
times, errors = [], set()
for i in range(calls + 1):
    c = pycriu.criu()
    c.use_binary(criu_bin)
    c.opts.images_dir_fd = images
    c.opts.pid = missing
    touch()
    start = time.perf_counter_ns()
    try:
        c.dump()
        errors.add("no error")
    except pycriu.CRIUExceptionExternal as e:
        errors.add(str(e))
    took = time.perf_counter_ns() - start
    if i:
        times.append(took)
print(json.dumps({"module": pycriu.__file__, "ns": times, "errors": sorted(errors)}))
"""


def worker(search, criu_bin, mib):
    done = subprocess.run([VENV_PYTHON, "-c", WORKER, search, criu_bin, str(mib), str(CALLS)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"pycriu bench worker ({search}) failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    files = [a for a in ARGS if not a.startswith("--") and a != JSON_OUT]
    if len(files) != 1:
        sys.exit("usage: run.py <criu-env-file> [--quick | --brief] [--json PATH]")
    env = bench.read_env(files[0])
    sides = {"ours": SHIM, "upstream": os.path.join(env["CRIU_SRC"], "lib")}
    times = {(side, size): [] for side in sides for size, _ in SIZES}
    answers = set()
    for r in range(ROUNDS):
        for size, mib in SIZES:
            order = list(sides.items())
            if r % 2:
                order.reverse()
            for side, search in order:
                got = worker(search, env["CRIU_BIN"], mib)
                expect = "libcriu" if side == "ours" else env["CRIU_SRC"]
                if expect not in got["module"]:
                    sys.exit(f"{side} worker imported pycriu from {got['module']}")
                answers.update(got["errors"])
                times[(side, size)].append(got["ns"])
        print(f"pycriu bench: round {r + 1}/{ROUNDS} done", file=sys.stderr, flush=True)
    rows = []
    for size, mib in SIZES:
        title = "pycriu dump() call, " + ("small caller" if mib == 0 else "1 GiB caller")
        row = {"id": f"pycriu-dump-{size}", "title": title, "group": "pycriu", "unit": "ms"}
        for side in sides:
            row[side] = bench.summary([ns for rnd in times[(side, size)] for ns in rnd])
        pairs = [bench.statistics.median(a) / bench.statistics.median(b)
                 for a, b in zip(times[("ours", size)], times[("upstream", size)])]
        row["ratio"] = bench.ratio_summary(pairs)
        row["status"] = "ok" if len(answers) == 1 else f"sides answered differently: {sorted(answers)}"
        rows.append(row)
    growth = {"id": "pycriu-dump-growth", "title": "pycriu dump(): 1 GiB caller ÷ same side small",
              "group": "growth", "unit": "x", "status": "ok"}
    for side in sides:
        growth[side] = bench.ratio_summary(
            [bench.statistics.median(b) / bench.statistics.median(s)
             for s, b in zip(times[(side, "small")], times[(side, "1g")])])
    rows.append(growth)
    result = {"rounds": ROUNDS, "calls": CALLS, "answer": sorted(answers), "rows": rows}
    if JSON_OUT:
        with open(JSON_OUT, "w") as f:
            json.dump(result, f, indent=1)
    for row in rows:
        if row["group"] == "growth":
            print(f"{row['title']}: ours {row['ours']['median']:.2f}x, upstream {row['upstream']['median']:.2f}x")
        else:
            print(f"{row['title']}: ours {row['ours']['median']:.2f} ms, upstream "
                  f"{row['upstream']['median']:.2f} ms, ours/upstream {row['ratio']['median']:.3f} "
                  f"({row['ratio']['min']:.3f}–{row['ratio']['max']:.3f})")

if __name__ == "__main__":
    main()
