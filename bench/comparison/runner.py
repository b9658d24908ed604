"""The rounds: every workload on every available system, the systems
alternating in a rotating order, one process per measurement; each
measurement is one JSON line on stdout and in results.jsonl."""

import json
import os
import time

from .common import SYSTEMS, is_baseline, kind, log, utcnow
from .report import SEGMENT_FIELDS
from .systems import make_system, perf_can_count_syncs
from .workloads import resolved


def open_systems(systems, build_dir, scratch, install, baseline_build_dir=None):
    """Starts every system that is available; returns ({name: system},
    {name: why it was skipped}). Exits when annals itself or a baseline
    asked for is not available: every ratio is to annals."""
    impls = {}
    skipped = {}
    count_syncs = perf_can_count_syncs()
    for s in systems:
        impl = make_system(s, build_dir, scratch, install, count_syncs, baseline_build_dir)
        why = impl.available()
        if why:
            log(f"SKIPPING {s}: {why}")
            skipped[s] = why
            impl.stop()
        else:
            impls[s] = impl
    if "annals" not in impls:
        raise SystemExit("annals is not available; build build-bench first "
                         "(cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release "
                         "&& cmake --build build-bench)")
    for s in systems:
        if is_baseline(s) and s not in impls:
            raise SystemExit(f"{s}: {skipped[s]}")
    if not count_syncs:
        log("perf cannot count fsync calls here (not installed or perf_event_paranoid): "
            "no events-per-sync figures")
    return impls, skipped


def make_row(workload, system, rnd, result, rss, measure):
    """The results.jsonl line of one measurement: the driver's JSON `result`,
    `rss` (MiB, from wait4) and the growth workload's segments."""
    row = {"utc": utcnow(), "workload": workload, "system": system, "round": rnd,
           "events": int(result["events"]), "seconds": float(result["seconds"]),
           "events_per_s": float(result["events_per_s"]),
           # The driver's own ru_maxrss; wait4's when it gives none.
           "peak_rss_mb": round(float(result.get("peak_rss_mb") or rss), 1)}
    if result.get("partial"):
        row["partial"] = True  # Stopped early: rate of the part read.
    if result.get("syncs"):
        row["syncs"] = result["syncs"]
        row["events_per_sync"] = round(row["events"] / result["syncs"], 2)
    if result.get("segments"):
        row["segments"] = [round(x, 1) for x in result["segments"]]
        row["segment"] = int(measure.get("segment", 0))
    for field, digits in SEGMENT_FIELDS:
        if result.get(field):
            row[field] = [round(x, digits) for x in result[field]]
    return row


def run_rounds(workloads, active, impls, args, overrides, jsonl, skipped):
    """Runs `workloads` on the `active` systems (names, in order) with the
    options of the command line `args`; writes each measurement to stdout
    and `jsonl` and adds failures to `skipped`. Returns (rows, expected
    measurements per (workload, system))."""
    rows = []
    expected = {}
    for w in workloads:
        # A baseline runs what annals runs, with annals' flags.
        ws = [s for s in active if kind(s) in w.get("systems", SYSTEMS)]
        prepared = {}
        for s in ws:
            prepare, _ = resolved(w, args.quick, kind(s), args.full_peer_growth, overrides)
            if prepare is not None:
                store = impls[s].new_store(w["name"])
                t0 = time.monotonic()
                try:
                    impls[s].run(w, store, prepare, args.timeout)
                except RuntimeError as e:
                    log(f"FAILED preparing {w['name']}/{s}: {e}")
                    skipped[f"{s} in {w['name']}"] = str(e).splitlines()[0]
                    impls[s].drop_store(store)
                    continue
                log(f"{w['name']}/{s}: prepared in {time.monotonic() - t0:.1f}s")
                prepared[s] = store
        rounds = args.rounds * (1 if args.quick else int(w.get("rounds_factor", 1)))
        to_drop = []
        for rnd in range(1, rounds + 1):
            # Rotate the order every round: a system must not always run
            # right after the same one (e.g. after PostgreSQL's DROP
            # DATABASE checkpoint, or another system's flushes).
            order = ws[(rnd - 1) % len(ws):] + ws[:(rnd - 1) % len(ws)] if ws else ws
            for s in order:
                if w.get("prepare") and s not in prepared:
                    continue  # Its preparation failed (reported above).
                # Start every measurement with no dirty pages left by the
                # previous one.
                os.sync()
                _, measure = resolved(w, args.quick, kind(s), args.full_peer_growth, overrides)
                store = prepared.get(s) or impls[s].new_store(w["name"])
                timeout = min(args.timeout, w.get("timeout", {}).get(s, args.timeout))
                try:
                    result, rss = impls[s].run(w, store, measure, timeout)
                except RuntimeError as e:
                    # One system failing (e.g. timing out) must not cost the
                    # other systems' results: report it and go on.
                    log(f"FAILED {w['name']}/{s} round {rnd}: {e}")
                    skipped[f"{s} in {w['name']} round {rnd}"] = str(e).splitlines()[0]
                    continue
                finally:
                    if s not in prepared:
                        to_drop.append((s, store))  # Dropped after the rounds.
                row = make_row(w["name"], s, rnd, result, rss, measure)
                line = json.dumps(row)
                print(line, flush=True)
                jsonl.write(line + "\n")
                jsonl.flush()
                rows.append(row)
                expected[(w["name"], s)] = expected.get((w["name"], s), 0) + 1
        for s, store in list(prepared.items()) + to_drop:
            impls[s].drop_store(store)
    return rows, expected
