#!/usr/bin/python3
"""Compare two runs of every_call: upstream libcriu's and ours.

  compare.py UPSTREAM_RUN OURS_RUN [--fixes FILE --upstream-header H --ours-header H]

A run directory holds `stdout` (of every_call) and `rec/<case>/c<N>/m<M>.txt`
(each recorded request, decoded by protoc to text format). Per case, both
become one list of lines: stdout lines as "out: ...", request fields flattened
to "c<N>m<M> path.to.field: value". The two lists are diffed; every differing
line must be explained by a fix from FILE (docs/upstream-fixes.md), and every
fix must explain something in each case it names, so the list stays true.
Without --fixes, any difference fails (self-check: upstream on both sides).

Prints "ok <check>" or "FAIL <check>: ..." (details indented below) per case
and per fix.
"""

import argparse
import difflib
import fnmatch
import os
import re
import sys
from collections import Counter


def read_fixes(path, fence="fix"):
    """Fixes are the fenced blocks of the Markdown file whose info string is
    `fence`, made of "key: value" lines."""
    fixes, block = [], None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if block is None:
            if line.strip() == "```" + fence:
                block = {"upstream-only": [], "ours-only": [], "ours-header-declares": []}
        elif line.strip() == "```":
            if not block.get("id"):
                sys.exit("%s: a fix block has no id" % path)
            fixes.append(block)
            block = None
        elif line.strip():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key in ("upstream-only", "ours-only", "ours-header-declares"):
                block[key].append(re.compile(value))
            elif key in ("id", "cases"):
                block[key] = value
            else:
                sys.exit("%s: unknown key %r in fix %s" % (path, key, block.get("id")))
    return fixes


def flatten(text):
    """protoc text format -> one "path: value" line per field. Nested messages
    become dotted paths; a message that repeats within its parent gets [i]."""
    root, stack = [], []
    stack.append(root)
    for line in text.splitlines():
        s = line.strip()
        m = re.fullmatch(r"(\w+) \{", s)
        if m:
            node = (m.group(1), [])
            stack[-1].append(node)
            stack.append(node[1])
        elif s == "}":
            stack.pop()
        elif s:
            stack[-1].append((None, s))  # "name: value", or a protoc complaint

    def emit(nodes, prefix):
        repeats = Counter(name for name, _ in nodes if name)
        seen = Counter()
        for name, value in nodes:
            if name is None:
                yield prefix + value
                continue
            seen[name] += 1
            path = prefix + name + ("[%d]" % seen[name] if repeats[name] > 1 else "")
            yield path + " {"
            yield from emit(value, path + ".")

    return list(emit(root, ""))


def load_run(run):
    """-> {case: [lines]} and the order cases appeared in."""
    cases, order, current = {}, [], None
    with open(os.path.join(run, "stdout"), encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("== "):
                current = line[3:]
            key = current if current is not None else "(before any case)"
            if key not in cases:
                order.append(key)
            cases.setdefault(key, []).append("out: " + line)
    rec = os.path.join(run, "rec")
    number = lambda name: int(name[1:].split(".")[0])
    for case in sorted(os.listdir(rec)) if os.path.isdir(rec) else []:
        if case.startswith("."):
            continue
        if case not in cases:
            order.append(case)
        for conn in sorted(os.listdir(os.path.join(rec, case)), key=number):
            # A connection that carried nothing still started a service process.
            cases.setdefault(case, []).append("%s connection" % conn)
            msgs = [m for m in os.listdir(os.path.join(rec, case, conn)) if m.endswith(".txt")]
            for msg in sorted(msgs, key=number):
                tag = "%s%s " % (conn, msg.split(".")[0])
                with open(os.path.join(rec, case, conn, msg), encoding="utf-8") as f:
                    cases.setdefault(case, []).extend(tag + l for l in flatten(f.read()))
    return cases, order


def explain(up, ours, order, fixes, quiet_ok=False):
    """Diff each case's lines; every differing line must match a pattern of
    a fix that names the case. Prints "ok <case>" or "FAIL <case>: ..." (the
    ok lines not when quiet_ok). Returns the number of failed cases, the set
    of (fix id, case, side, pattern) that explained something, and per case
    "identical", "listed" or "failed"."""
    shown, verdicts = set(), {}
    failed = 0
    for case in order:
        a, b = up.get(case, []), ours.get(case, [])
        applicable = [f for f in fixes
                      if any(fnmatch.fnmatchcase(case, g) for g in f.get("cases", "").split())]
        unexplained, differs = [], False
        ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
        for tag, i1, i2, j1, j2 in ops:
            if tag == "equal":
                continue
            differs = True
            for side, sign, lines in (("upstream-only", "-", a[i1:i2]), ("ours-only", "+", b[j1:j2])):
                for line in lines:
                    hits = [(f["id"], p.pattern) for f in applicable for p in f[side] if p.search(line)]
                    for fix_id, pattern in hits:
                        shown.add((fix_id, case, side, pattern))
                    if not hits:
                        unexplained.append("%s %s" % (sign, line))
        if unexplained:
            failed += 1
            verdicts[case] = "failed"
            print("FAIL %s: %d line(s) differ (- upstream, + ours):" % (case, len(unexplained)))
            for line in unexplained:
                print("    " + line)
        else:
            verdicts[case] = "listed" if differs else "identical"
            if not quiet_ok:
                print("ok %s" % case)
    return failed, shown, verdicts


def unshown(fix, order, shown):
    """What a fix claims and no case showed: one line per claim."""
    missing = []
    for glob in fix.get("cases", "").split():
        matched = [c for c in order if fnmatch.fnmatchcase(c, glob)]
        if not matched:
            missing.append("no case %s ran" % glob)
        for case in matched:
            for side in ("upstream-only", "ours-only"):
                for p in fix[side]:
                    if (fix["id"], case, side, p.pattern) not in shown:
                        missing.append("%s: no %s line matches %s" % (case, side, p.pattern))
    return missing


def report_listed(kind, fix_id, missing):
    """Print whether a listed difference showed up; 1 if it did not."""
    if not missing:
        print("ok %s %s" % (kind, fix_id))
        return 0
    print("FAIL %s %s: listed difference absent:" % (kind, fix_id))
    for line in missing:
        print("    " + line)
    return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("upstream")
    ap.add_argument("ours")
    ap.add_argument("--fixes")
    ap.add_argument("--upstream-header")
    ap.add_argument("--ours-header")
    args = ap.parse_args()

    fixes = read_fixes(args.fixes) if args.fixes else []
    up, up_order = load_run(args.upstream)
    ours, ours_order = load_run(args.ours)
    order = ours_order + [c for c in up_order if c not in ours_order]
    failed, shown, _ = explain(up, ours, order, fixes)
    for side, cases in (("upstream", up_order), ("ours", ours_order)):
        if not cases:
            failed += 1
            print("FAIL %s: no case was recorded: every_call.c reached no criu" % side)
    for fix in fixes:
        missing = unshown(fix, order, shown)
        for p in fix["ours-header-declares"]:
            if not (args.ours_header and args.upstream_header):
                missing.append("headers not given")
                continue
            in_ours = p.search(open(args.ours_header, encoding="utf-8").read())
            in_upstream = p.search(open(args.upstream_header, encoding="utf-8").read())
            if not in_ours or in_upstream:
                missing.append("header: %s should match ours only (ours: %s, upstream: %s)"
                               % (p.pattern, bool(in_ours), bool(in_upstream)))
        failed += report_listed("fix", fix["id"], missing)

    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
