"""Ours (criu-image) against upstream crit on every image of real dumps.

Run by tests/images/run with Debian's python3 and PYTHONPATH-free imports
of the scratch pycriu/crit built by tests/images/build-pycriu.
"""
import argparse
import contextlib
import io
import os
import signal
import subprocess
import sys
import time
import types

# Kinds pycriu 4.2.1 has no handler for, which ours reads.
OURS_ONLY = {"SIGNAL", "PIDFD", "BINFMT_MISC"}
# Kinds with payloads after entries: crit's info counts them wrong
# (it does not skip the payloads), ours counts entries.
INFO_DIFFERS = {"PIPES_DATA", "FIFO_DATA", "SK_QUEUES", "IPCNS_SHM", "IPCNS_SEM", "IPCNS_MSG",
                "TCP_STREAM", "BPFMAP_DATA", "GHOST_FILE"}

# Two places where crit 4.2.1's explorers crash on a well-formed dump, and
# the answer once fixed; ours is compared with crit patched so (in memory;
# each pattern must match as often as given, or the test stops):
# - `x rss` on a dump of criu <= 4.1, whose pagemap entries carry only
#   compat_nr_pages: a run's length is read as criu reads it
#   (init_compat_pagemap_entry: nr_pages when present, else compat_nr_pages);
# - `x fds|mems|rss` on a tree holding a zombie, for which criu writes only
#   the core image: a zombie has no descriptors, cwd, root or memory left,
#   so its pid stands alone, as crit shows a task with none of them.
CRIT_FIXES = [
    ("pm['nr_pages']", "_run_pages(pm)", 2),
    ("        pid = get_task_id(p, 'pid')\n",
     "        pid = get_task_id(p, 'pid')\n"
     "        if _zombie(opts, pid):\n"
     "            print('%d' % pid)\n"
     "            continue\n", 3),
]
CRIT_FIX_HELPERS = """
def _run_pages(pm):
    return pm['nr_pages'] if 'nr_pages' in pm else pm['compat_nr_pages']


def _zombie(opts, pid):
    core = pycriu.images.load(dinf(opts, 'core-%d.img' % pid))['entries'][0]
    return core['tc']['task_state'] == 2  # TASK_DEAD
"""

failures = []
passes = [0]


def fail(what):
    failures.append(what)
    print("FAIL " + what)


def upstream(critmain, args):
    """crit ARGS in this process: (exit code, stdout text)."""
    out = io.StringIO()
    err = io.StringIO()
    code = 0
    sys.argv = ["crit"] + args
    # crit caches files.img and names in module globals: one dump's
    # cache must not answer for the next.
    critmain.files_img = None
    critmain.files_cache = {}
    for ft in critmain.file_types.values():
        ft["img"] = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            critmain.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except Exception as e:  # crit has no handler, bad payload...: a traceback
        code = 1
        err.write("%s: %s" % (type(e).__name__, e))
    return code, out.getvalue(), err.getvalue()


def fixed_crit(critmain):
    """crit's module again, with CRIT_FIXES applied."""
    with open(critmain.__file__) as f:
        src = f.read()
    for old, new, count in CRIT_FIXES:
        if src.count(old) != count:
            raise SystemExit("crit's source holds %r %d times, not %d: CRIT_FIXES needs a look"
                             % (old, src.count(old), count))
        src = src.replace(old, new)
    fixed = types.ModuleType("crit.fixed")
    fixed.__package__ = "crit"
    exec(compile(src + CRIT_FIX_HELPERS, critmain.__file__ + " (fixed)", "exec"), fixed.__dict__)
    return fixed


def ours(binary, args):
    p = subprocess.run([binary] + args, capture_output=True)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def wait_gone(pid, timeout=30):
    end = time.time() + timeout
    while os.path.exists("/proc/%d" % pid) and time.time() < end:
        time.sleep(0.05)


def make_dump(opts, name, cmd, extra_args, criu=None):
    """Starts CMD (which prints "ready PID"), dumps PID with CRIU (default:
    --criu), waits until every dumped task is gone."""
    scratch = os.path.join(opts.work, name + ".scratch")
    images = os.path.join(opts.work, name)
    os.makedirs(scratch)
    os.makedirs(images)
    proc = subprocess.Popen(cmd + [scratch], stdout=subprocess.PIPE, start_new_session=True, cwd=scratch)
    line = proc.stdout.readline().decode()
    if not line.startswith("ready "):
        proc.kill()
        raise SystemExit("workload %s did not start: %r" % (name, line))
    pid = int(line.split()[1])
    criu = criu or opts.criu
    args = [criu, "dump", "-t", str(pid), "-D", images, "-o", "dump.log", "-v4"] + extra_args
    r = subprocess.run(args, capture_output=True)
    if r.returncode != 0:
        # The workload leads a group of its own (under tini, not tini's).
        for group in {proc.pid, pid}:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        proc.wait()
        try:
            with open(os.path.join(images, "dump.log"), errors="replace") as f:
                why = "\n".join(l for l in f.read().splitlines() if "Error" in l)
        except FileNotFoundError:  # criu refused before logging
            why = r.stderr.decode(errors="replace")
        raise SystemExit("criu dump of %s failed:\n%s" % (name, why[-3000:]))
    proc.wait()
    for task in tasks(images):
        wait_gone(task["pid"])
    # The CPU description criu compares at restore with --cpu-cap.
    subprocess.run([criu, "cpuinfo", "dump", "-D", images], capture_output=True, check=True)
    return images


def load(d, name):
    import pycriu
    with open(os.path.join(d, name), "rb") as f:
        return pycriu.images.load(f)["entries"]


def tasks(d):
    return load(d, "pstree.img")


def is_zombie(d, pid):
    return load(d, "core-%d.img" % pid)[0]["tc"]["task_state"] == 2


def check_old_pagemaps(d):
    """The case under test holds: criu <= 4.1 wrote no nr_pages."""
    runs = [pm for t in tasks(d) for pm in load(d, "pagemap-%d.img" % t["pid"])[1:]]
    if not runs or any("nr_pages" in pm or "compat_nr_pages" not in pm for pm in runs):
        fail("%s: expected pagemap entries with compat_nr_pages only" % d)


def check_zombie_tree(d):
    """The case under test holds: a zombie, and a live task after it."""
    states = [is_zombie(d, t["pid"]) for t in tasks(d)]
    if True not in states or False not in states[states.index(True):]:
        fail("%s: expected a zombie followed by a live task in pstree.img, got %r" % (d, states))


def explore(crits, opts, d, label, what):
    """`x D WHAT`: ours against crit with CRIT_FIXES; where crit as it is
    answers, the fixes change nothing; where it crashes, what it printed
    before is where ours starts too."""
    critmain, fixed = crits
    same = compare(fixed, opts, label, ["x", d, what], ["x", d, what]) == "same"
    plain = upstream(critmain, ["x", d, what])
    patched = upstream(fixed, ["x", d, what])
    if plain[0] == 0 and plain[1] != patched[1]:
        fail("%s: CRIT_FIXES change crit's answer where it has one" % label)
    elif plain[0] != 0:
        o = ours(opts.ours, ["x", d, what])
        if not o[1].startswith(plain[1]):
            fail("%s: ours does not start with what crit printed before crashing" % label)
        elif same:
            print("note: %s: crit 4.2.1 crashes (%s) after %d lines; ours gives all %d, as crit "
                  "does with CRIT_FIXES" % (label, plain[2].strip().splitlines()[-1],
                                            plain[1].count("\n"), o[1].count("\n")))


def compare(critmain, opts, label, args_up, args_ours, allow_fail=False):
    u = upstream(critmain, args_up)
    o = ours(opts.ours, args_ours)
    if u[0] != 0 and allow_fail:
        return "upstream-refuses"
    if (u[0] == 0) != (o[0] == 0):
        fail("%s: upstream exit %d, ours %d\n  upstream: %s\n  ours: %s" % (label, u[0], o[0], u[2][-300:], o[2][-300:]))
        return "mismatch"
    if u[0] != 0:
        # Both refuse; the unknown-magic message is crit's exact text.
        if "Unknown magic" in u[2] and u[2] != o[2]:
            fail("%s: stderr differs: %r vs %r" % (label, u[2], o[2]))
            return "mismatch"
        return "both-refuse"
    if u[1] != o[1]:
        ul, ol = u[1].splitlines(), o[1].splitlines()
        for i, (a, b) in enumerate(zip(ul, ol)):
            if a != b:
                fail("%s: line %d differs\n  upstream: %s\n  ours:     %s" % (label, i + 1, a[:300], b[:300]))
                break
        else:
            fail("%s: output lengths differ (%d vs %d lines)" % (label, len(ul), len(ol)))
        return "mismatch"
    passes[0] += 1
    return "same"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--criu", required=True)
    ap.add_argument("--old-criu", help="an older criu (4.1.1): its dump is compared too")
    ap.add_argument("--ours", required=True)
    ap.add_argument("--pycriu", required=True)
    ap.add_argument("--workload", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--keep", help="copy the dumps here (a corpus for fuzzing/benchmarks)")
    ap.add_argument("--dirs", nargs="*", help="compare the images in these directories (e.g. zdtm's "
                    "--keep-img dumps) instead of making dumps")
    opts = ap.parse_args()
    sys.path.insert(0, opts.pycriu)
    import crit.__main__ as critmain  # noqa: E402
    crits = (critmain, fixed_crit(critmain))

    dumps = opts.dirs or [
        make_dump(opts, "dump-main", ["unshare", "--ipc", "--uts", "--fork", "--", opts.workload],
                  ["--file-locks"]),
        make_dump(opts, "dump-tcp", ["unshare", "--net", "--fork", "--", opts.workload, "--tcp"],
                  ["--tcp-established", "--file-locks"]),
        # tini -s reaps the zombie and its sibling once criu kills the tree;
        # tini makes its child a group leader, so setsid -w forks to lead a
        # session (criu dumps a session leader without --shell-job).
        make_dump(opts, "dump-zombie", ["tini", "-s", "--", "setsid", "-w", opts.workload, "--zombie"], []),
    ]
    if not opts.dirs:
        check_zombie_tree(dumps[-1])
        if opts.old_criu:
            dumps.append(make_dump(opts, "dump-old", ["unshare", "--ipc", "--uts", "--fork", "--",
                                                      opts.workload], ["--file-locks"], opts.old_criu))
            check_old_pagemaps(dumps[-1])

    kinds = {}
    files = 0
    for d in dumps:
        for name in sorted(os.listdir(d)):
            if not (name.endswith(".img") or name.startswith("stats-")):
                continue
            files += 1
            path = os.path.join(d, name)
            label = d + "/" + name if opts.dirs else os.path.basename(d) + "/" + name
            with open(path, "rb") as f:
                head = f.read(8)
            r = upstream(critmain, ["info", path])
            magic = r[1].split('"magic": "')[1].split('"')[0] if r[0] == 0 else None
            ours_info = ours(opts.ours, ["info", path])
            if magic is None and ours_info[0] == 0:
                magic = ours_info[1].split('"magic": "')[1].split('"')[0]
            kinds.setdefault(magic or "(no magic: %s)" % name.split("-")[0], []).append(name)
            only = magic in OURS_ONLY
            compare(critmain, opts, label + " decode", ["decode", "-i", path], ["decode", "-i", path], only)
            compare(critmain, opts, label + " decode --pretty", ["decode", "--pretty", "-i", path],
                    ["decode", "--pretty", "-i", path], only)
            compare(critmain, opts, label + " show --nopl", ["show", path, "--nopl"], ["show", path, "--nopl"],
                    only or magic == "BPFMAP_DATA")
            if magic not in INFO_DIFFERS:
                compare(critmain, opts, label + " info", ["info", path], ["info", path], only)
            if magic is None:
                continue
            # Round trips through ours, from plain and from pretty JSON.
            for pretty in ([], ["--pretty"]):
                j = os.path.join(opts.work, "rt.json")
                b = os.path.join(opts.work, "rt.img")
                r1 = ours(opts.ours, ["decode"] + pretty + ["-i", path, "-o", j])
                r2 = ours(opts.ours, ["encode", "-i", j, "-o", b])
                if r1[0] or r2[0]:
                    fail("%s round trip%s: %s%s" % (label, " (pretty)" if pretty else "", r1[2], r2[2]))
                elif open(b, "rb").read() != open(path, "rb").read():
                    fail("%s round trip%s: bytes differ" % (label, " (pretty)" if pretty else ""))
            # Upstream's encoder takes our JSON and gives the same bytes.
            if not only:
                j = os.path.join(opts.work, "ours.json")
                b = os.path.join(opts.work, "up.img")
                ours(opts.ours, ["decode", "-i", path, "-o", j])
                r = upstream(critmain, ["encode", "-i", j, "-o", b])
                if r[0] == 0 and open(b, "rb").read() != open(path, "rb").read():
                    fail("%s: upstream encode of our JSON differs" % label)
        for what in ("ps", "fds", "mems", "rss"):
            explore(crits, opts, d, os.path.basename(d) + " x " + what, what)

    if files == 0:
        fail("no image file to compare in " + " ".join(dumps))
    print("%d image files of %d kinds compared:" % (files, len(kinds)))
    for k in sorted(kinds):
        note = " (ours only: crit has no handler)" if k in OURS_ONLY else ""
        print("  %-16s %3d%s" % (k, len(kinds[k]), note))
    if opts.keep:
        subprocess.run(["cp", "-a"] + dumps + [opts.keep], check=True)
    if failures:
        print("%d passed, %d failed" % (passes[0], len(failures)))
        sys.exit(1)
    print("ok: %d comparisons with crit; every image decodes as crit decodes it and round-trips "
          "byte for byte" % passes[0])


if __name__ == "__main__":
    main()
