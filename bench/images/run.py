"""Decode time of a dump's images: `crit show FILE` for every file of the
dump (raw pages files fail at their first word, as with crit), ours
(criu-image) against upstream crit (the CRIU tree's, Debian's python3 and
protobuf), interleaved per round (A B, B A, ...), as the per-round ratio.

    bench/images/run.py CRIU_ENV [--mib N] [--rounds N] [--json OUT]

The dump is of a process that wrote N MiB (default 1024) of memory. Both
sides get the same files in the same order; each file is one process, as
a user runs crit. Writes {"ours": [[ns per round]], "upstream": [...],
"files": N, "mib": N} to OUT (or prints it)."""
import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read_env(path):
    """The criu-env file, read as bench/run.py reads it."""
    spec = importlib.util.spec_from_file_location("bench_run", os.path.join(ROOT, "bench", "run.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.read_env(path)


def dump(criu, work, mib):
    images = os.path.join(work, "images")
    os.makedirs(images)
    # The victim writes every page of MIB MiB, so criu writes them all.
    victim = subprocess.Popen(
        ["/usr/bin/python3", "-c",
         "import sys,time\nb = bytearray(b'x') * (%d << 20)\nprint('ready', flush=True)\n"
         "while True: time.sleep(1)" % mib],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    if victim.stdout.readline().strip() != b"ready":
        victim.kill()
        sys.exit("victim did not start")
    r = subprocess.run([criu, "dump", "-t", str(victim.pid), "-D", images, "-o", "dump.log"],
                       capture_output=True)
    victim.wait()
    if r.returncode:
        sys.exit("criu dump failed, see %s/dump.log" % images)
    return images


def one_round(cmd, files, env):
    start = time.perf_counter_ns()
    for f in files:
        subprocess.run(cmd + [f], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter_ns() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("env")
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--json")
    opts = ap.parse_args()
    env = read_env(opts.env)
    work = tempfile.mkdtemp(prefix="bench-images-")
    try:
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "criu-image"], cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([os.path.join(ROOT, "tests", "images", "build-pycriu"), env["CRIU_SRC"],
                        os.path.join(work, "py")], check=True)
        images = dump(env["CRIU_BIN"], work, opts.mib)
        files = sorted(os.path.join(images, n) for n in os.listdir(images)
                       if n.endswith(".img") or n.startswith("stats-"))
        size = sum(os.path.getsize(f) for f in files)
        crit_env = dict(os.environ, PYTHONPATH=os.path.join(work, "py"))
        sides = {
            "ours": ([os.path.join(ROOT, "target", "release", "criu-image"), "show"], None),
            "upstream": (["/usr/bin/python3", "-m", "crit", "show"], crit_env),
        }
        # Warm-up: the page cache holds the files and both programs.
        for cmd, e in sides.values():
            one_round(cmd, files, e)
        times = {s: [] for s in sides}
        for r in range(opts.rounds):
            order = list(sides.items())
            if r % 2:
                order.reverse()
            for name, (cmd, e) in order:
                times[name].append([one_round(cmd, files, e)])
        out = {"ours": times["ours"], "upstream": times["upstream"], "files": len(files),
               "bytes": size, "mib": opts.mib}
        text = json.dumps(out)
        if opts.json:
            with open(opts.json, "w") as f:
                f.write(text)
        else:
            print(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
