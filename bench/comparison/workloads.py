"""What is measured: the built-in workloads, the plug-ins in
bench/<name>/workloads.json, and the driver flags of one workload on one
system (quick mode, per-system overrides, --set)."""

import json
import os

from .common import HERE, ROOT

# Appender counts of the durable-append workloads (the plot's x axis).
CURVE_THREADS = [1, 2, 4, 8, 16, 32]

# A workload is a dict:
#   name       unique name, e.g. "durable-append-8"
#   measure    driver flags of one measurement (without --system/--dir)
#   prepare    driver flags run ONCE per system before the rounds, into a store
#              that every round then reads (read workloads); None = every
#              round starts from an empty store
#   quick      dict of overrides for "measure"/"prepare" under --quick
#   systems    systems that implement it (default: all)
#   binary     driver executable for the C++ systems, looked up in the build
#              dir (default annals_bench_driver); the postgres system always
#              runs bench/peers/emmett_driver.mjs
#   node_script  Node.js driver for the postgres system, in bench/peers/
#              (default emmett_driver.mjs)
#   rounds_factor  full runs do --rounds x this many rounds (default 1)
#   timeout    {system: seconds} per-measurement limit (default --timeout)
#   curve      x value for the durable-appenders plot, or absent
#   <system>   {"prepare": {...}, "measure": {...}} overrides for one system
#              in full (non-quick) runs


def builtin_workloads():
    w = []
    for t in CURVE_THREADS:
        w.append({
            "name": f"durable-append-{t}",
            # fsync latency on shared disks drifts by 10x within seconds: many
            # short alternating slices give a steadier median than few long ones.
            "measure": {"op": "append", "threads": t, "batch": 1, "durable": 1, "seconds": 2},
            "rounds_factor": 3,
            "quick": {"measure": {"seconds": 0.3}},
            "curve": t,
        })
    w.append({
        "name": "buffered-append-100",
        "measure": {"op": "append", "threads": 1, "batch": 100, "durable": 0,
                    "events": 500_000, "stream-events": 1000},
        "quick": {"measure": {"events": 10_000}},
    })
    w.append({
        "name": "read-stream",
        # 10 streams of 10,000 events, interleaved in batches of 100: the read
        # stream is spread over the whole log, as an aggregate's would be.
        "prepare": {"op": "append", "threads": 1, "batch": 100, "durable": 0,
                    "events": 100_000, "interleave": 10, "stream-events": 10_000},
        "measure": {"op": "read-stream", "stream": "t0-s0", "repeat": 20},
        "quick": {"prepare": {"events": 10_000, "stream-events": 1000},
                  "measure": {"repeat": 2}},
    })
    w.append({
        "name": "scan-all",
        "prepare": {"op": "append", "threads": 1, "batch": 100, "durable": 0,
                    "events": 1_000_000, "stream-events": 1000},
        "measure": {"op": "scan-all", "repeat": 1},
        "quick": {"prepare": {"events": 20_000}},
        # Emmett's readMessagesBatch sorts the table for every batch (a seq
        # scan + top-N sort per 1,000 events): ~0.5 s per batch at 1M events,
        # ~10 minutes per scan. Its scan stops after 60 s and reports the rate
        # so far (the per-batch cost does not fall along the scan).
        "postgres": {"measure": {"max-seconds": 60}},
    })
    w.append({
        "name": "growth",
        "measure": {"op": "append", "threads": 1, "batch": 100, "durable": 0,
                    "events": 10_000_000, "stream-events": 1000, "segment": 1_000_000},
        "quick": {"measure": {"events": 40_000, "segment": 10_000}},
        # The peers grow less to keep a full run under half an hour: Emmett
        # appended 30-40k events/s and SQLite (B-trees of random event ids)
        # 40-50k in the 2026-11-23 run, so 10M events each would add about
        # 20 minutes over three rounds. Postgres grows to 1M (segments of
        # 100k), SQLite to 2M, unless --full-peer-growth.
        "postgres": {"measure": {"events": 1_000_000, "segment": 100_000}},
        "sqlite": {"measure": {"events": 2_000_000, "segment": 200_000}},
    })
    return w


def load_plugin_workloads():
    """Workloads from bench/<name>/workloads.json: a JSON list of workload
    dicts (format above). Later files cannot replace built-in names."""
    found = []
    for entry in sorted(os.listdir(HERE)):
        path = os.path.join(HERE, entry, "workloads.json")
        if os.path.isfile(path):
            with open(path) as f:
                items = json.load(f)
            for item in items:
                item.setdefault("source", os.path.relpath(path, ROOT))
                found.append(item)
    return found


def all_workloads():
    """Built-in workloads, then plug-ins whose names are new."""
    builtin = builtin_workloads()
    names = {b["name"] for b in builtin}
    return builtin + [w for w in load_plugin_workloads() if w["name"] not in names]


def select_workloads(spec):
    """The workloads `spec` names: "all", or comma-separated names or
    prefixes (durable-append selects every durable-append-N)."""
    known = all_workloads()
    if spec == "all":
        return known
    wanted = [x.strip() for x in spec.split(",") if x.strip()]
    chosen = [w for w in known if any(w["name"] == x or w["name"].startswith(x + "-")
                                      for x in wanted)]
    if not chosen:
        raise SystemExit(f"no workload matches {spec}; known: "
                         + ", ".join(w["name"] for w in known))
    return chosen


def parse_set(item):
    """One --set W.SECTION.FLAG=VALUE as (workload, section, flag, value)."""
    try:
        key, value = item.split("=", 1)
        name, section, flag = key.rsplit(".", 2)
        assert section in ("measure", "prepare")
    except (ValueError, AssertionError):
        raise SystemExit(f"--set {item}: expected <workload>.<measure|prepare>.<flag>=<value>")
    return name, section, flag, value


def resolved(workload, quick, system, full_peer_growth, overrides=()):
    """Returns (prepare, measure) flag dicts for one system; `overrides` are
    parse_set() tuples, applied last."""
    prepare, measure = _resolved(workload, quick, system, full_peer_growth)
    for name, section, flag, value in overrides:
        if name == workload["name"]:
            target = measure if section == "measure" else prepare
            if target is not None:
                target[flag] = value
    return prepare, measure


def _resolved(workload, quick, system, full_peer_growth):
    prepare = dict(workload.get("prepare") or {}) or None
    measure = dict(workload["measure"])
    if quick:
        q = workload.get("quick", {})
        if prepare is not None:
            prepare.update(q.get("prepare", {}))
        measure.update(q.get("measure", {}))
    elif system in workload and not (workload["name"] == "growth" and full_peer_growth):
        o = workload[system]
        if prepare is not None:
            prepare.update(o.get("prepare", {}))
        measure.update(o.get("measure", {}))
    return prepare, measure
