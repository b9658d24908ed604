"""The command line of the comparison runner (bench/run_comparison.py,
bench/run_comparison.sh): options, then either a run or --from-jsonl."""

import argparse
import datetime
import json
import os
import re
import shutil
import sys
import tempfile

from . import __doc__ as PACKAGE_DOC
from .common import ROOT, SYSTEMS, log, utcnow
from .report import (build_source, check_output, machine_info, render_markdown, render_only,
                     source_version, update_doc, write_plot)
from .runner import open_systems, run_rounds
from .workloads import parse_set, select_workloads


def parse_args(argv):
    p = argparse.ArgumentParser(description=PACKAGE_DOC.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny workloads: checks the runner works")
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--workloads", default="all",
                   help="comma-separated names or prefixes (e.g. durable-append); default all")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    p.add_argument("--baseline-build-dir", default=None,
                   help="also measure the annals driver built in DIR (e.g. an older commit's "
                        "build-bench) as system annals@LABEL, alternating with annals; the "
                        "report adds per-workload ratios annals / annals@LABEL")
    p.add_argument("--baseline-label", default=None,
                   help="LABEL of the baseline (default: the short commit of its source tree)")
    p.add_argument("--out", default=None, help="output dir (default <build-dir>/bench-results/<timestamp>)")
    p.add_argument("--scratch", default=None, help="where stores are created (default $TMPDIR)")
    p.add_argument("--no-install", action="store_true",
                   help="do not install peers (apt, npm); skip what is missing")
    p.add_argument("--check", action="store_true", help="fail unless the output is well-formed")
    p.add_argument("--doc", default=None, help="also write results.md into this markdown file")
    p.add_argument("--full-peer-growth", action="store_true",
                   help="grow sqlite and postgres to 10M events too (hours)")
    p.add_argument("--timeout", type=int, default=3600, help="per measurement, seconds")
    p.add_argument("--from-jsonl", default=None,
                   help="run nothing: render tables/plot from these results.jsonl files "
                        "(comma-separated; their run.json is read too)")
    p.add_argument("--set", action="append", default=[], metavar="W.SECTION.FLAG=VALUE",
                   help="override a driver flag for every system, e.g. "
                        "growth.measure.events=2000000 (repeatable)")
    return p.parse_args(argv)


def chosen_systems(args):
    """The systems to measure, in order: --systems, annals first if it was
    left out (ratios are to annals), then the baseline annals@LABEL right
    after annals when --baseline-build-dir is given."""
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in systems:
        if s not in SYSTEMS:
            raise SystemExit(f"unknown system {s}; known: {', '.join(SYSTEMS)}")
    if "annals" not in systems:
        systems.insert(0, "annals")
    if args.baseline_build_dir is None:
        if args.baseline_label is not None:
            raise SystemExit("--baseline-label needs --baseline-build-dir")
        return systems
    if not os.path.isdir(args.baseline_build_dir):
        raise SystemExit(f"--baseline-build-dir {args.baseline_build_dir}: no such directory")
    label = args.baseline_label or build_source(args.baseline_build_dir)[0] or "baseline"
    # The label names store directories and table columns.
    if not re.fullmatch(r"[A-Za-z0-9._-]+", label):
        raise SystemExit(f"--baseline-label {label}: use letters, digits, '.', '_' or '-'")
    systems.insert(systems.index("annals") + 1, f"annals@{label}")
    return systems


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    overrides = [parse_set(item) for item in args.set]
    args.command_line = "bench/run_comparison.sh " + " ".join(argv)
    if args.rounds < 1:
        raise SystemExit("--rounds must be >= 1")

    workloads = select_workloads(args.workloads)
    systems = chosen_systems(args)

    if args.from_jsonl:
        return render_only(args.from_jsonl, args.out, args.doc)

    started = utcnow()
    # The tree as the drivers were built (by run_comparison.sh, just before),
    # not as it is after an hour of runs during which the docs may be edited.
    source = source_version()
    baseline_source = build_source(args.baseline_build_dir)[1] if args.baseline_build_dir else None
    out_dir = args.out or os.path.join(args.build_dir, "bench-results",
                                       datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out_dir, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="annals-bench-", dir=args.scratch)

    impls, skipped = open_systems(systems, args.build_dir, scratch, not args.no_install,
                                  args.baseline_build_dir)
    active = [s for s in systems if s in impls]
    jsonl = open(os.path.join(out_dir, "results.jsonl"), "w")
    try:
        rows, expected = run_rounds(workloads, active, impls, args, overrides, jsonl, skipped)
    finally:
        jsonl.close()
        for impl in impls.values():
            impl.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    run = {"started": started, "finished": utcnow(), "machine": machine_info(),
           "source": source, "command": args.command_line, "quick": args.quick,
           "skipped": skipped}
    if args.baseline_build_dir:
        run["baseline"] = f"{baseline_source} built in {args.baseline_build_dir}"
    with open(os.path.join(out_dir, "run.json"), "w") as f:
        json.dump(run, f, indent=1)
    md = render_markdown(rows, workloads, active, [run], skipped)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(md)
    png = write_plot(out_dir, rows, active)
    print()
    print(md)
    log(f"results in {out_dir}")
    if args.doc:
        update_doc(args.doc, md, png)
    if args.check:
        problems = check_output(out_dir, expected)
        if problems:
            for pr in problems:
                log(f"CHECK FAILED: {pr}")
            return 1
        log("check: output well-formed")
    return 0
