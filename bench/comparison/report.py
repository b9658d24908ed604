"""Reporting: medians over the rounds, results.md (tables and targets), the
durable-appenders plot, the --check of the output's form, and --doc."""

import json
import os
import platform
import re
import shutil
import statistics
import subprocess

from .common import ROOT, SYSTEMS, is_baseline, log
from .workloads import CURVE_THREADS, all_workloads

# Per-segment lists of the growth workload (driver output), with the digits kept:
# resident MiB, appender and whole-process CPU µs per event, bytes written per event.
SEGMENT_FIELDS = [("segments_rss_mb", 1), ("segments_cpu_us", 2),
                  ("segments_process_cpu_us", 2), ("segments_write_bytes", 0)]
# The keys and types every results.jsonl line has (--check).
REQUIRED_KEYS = {"workload": str, "system": str, "round": int, "events": int,
                 "seconds": (int, float), "events_per_s": (int, float),
                 "peak_rss_mb": (int, float)}


def fmt_rate(r):
    return f"{r:,.0f}"


def medians(rows):
    by = {}
    for r in rows:
        by.setdefault((r["workload"], r["system"]), []).append(r)
    med = {}
    for k, rs in by.items():
        med[k] = {
            "events_per_s": statistics.median(r["events_per_s"] for r in rs),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in rs),
            "events": statistics.median(r["events"] for r in rs),
            "rounds": len(rs),
        }
        eps = [r["events_per_sync"] for r in rs if r.get("events_per_sync")]
        if eps:
            med[k]["events_per_sync"] = statistics.median(eps)
        segs = [r["segments"] for r in rs if r.get("segments")]
        if segs:
            med[k]["first_segment"] = statistics.median(s[0] for s in segs)
            med[k]["last_segment"] = statistics.median(s[-1] for s in segs)
            med[k]["last_over_first"] = statistics.median(s[-1] / s[0] for s in segs)
        for field, _ in SEGMENT_FIELDS:
            lists = [r[field] for r in rs if r.get(field)]
            if lists:
                name = field[len("segments_"):]
                med[k][f"first_segment_{name}"] = statistics.median(x[0] for x in lists)
                med[k][f"last_segment_{name}"] = statistics.median(x[-1] for x in lists)
    return med


def machine_info():
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {mem}, Linux {platform.release()}"


def workload_table(workloads, systems, med, field, fmt, skip_empty=False):
    """Markdown lines of a table: one row per workload, one column per
    system, the median `field` formatted with `fmt` ("—" where there is none);
    with skip_empty, rows without any figure are left out."""
    lines = ["| workload | " + " | ".join(systems) + " |",
             "|" + "---|" * (1 + len(systems))]
    for w in workloads:
        cells = []
        for s in systems:
            m = med.get((w["name"], s))
            cells.append(format(m[field], fmt) if m and field in m else "—")
        if not skip_empty or any(c != "—" for c in cells):
            lines.append(f"| {w['name']} | " + " | ".join(cells) + " |")
    return lines


def spread(values):
    """(max - min) / median of one system's rounds, in percent."""
    return 100.0 * (max(values) - min(values)) / statistics.median(values)


def baseline_table(rows, workloads, current, baseline):
    """Markdown lines comparing `current` ("annals") with `baseline`
    ("annals@<label>") per workload: the ratio of the medians of events/s,
    the ratios of the rounds (each round ran both, back to back) as median
    [min..max], in how many rounds current was faster, the same for the mean
    latency of an operation, and each system's own round-to-round spread.
    The drivers time whole measurements, not single operations, so the mean
    latency is the closed loop's (appenders x time / operations): its ratio
    is the inverse of the throughput ratio, round by round."""
    lines = [f"| workload | rounds | {current} events/s | {baseline} events/s | "
             "throughput ratio | per round: median [min..max] | rounds faster | "
             "mean latency ratio, per round: median [min..max] | "
             f"spread {current} / {baseline} |",
             "|---|---|---|---|---|---|---|---|---|"]
    for w in workloads:
        rates = {}
        for r in rows:
            if r["workload"] == w["name"] and r["system"] in (current, baseline):
                rates.setdefault(r["system"], {})[r["round"]] = r["events_per_s"]
        cur, base = rates.get(current), rates.get(baseline)
        pairs = sorted(cur[n] / base[n] for n in cur if n in base) if cur and base else []
        if not pairs:
            continue
        mc, mb = statistics.median(cur.values()), statistics.median(base.values())
        lat = sorted(1 / p for p in pairs)
        lines.append(
            f"| {w['name']} | {len(pairs)} | {fmt_rate(mc)} | {fmt_rate(mb)} | {mc / mb:.2f} | "
            f"{statistics.median(pairs):.2f} [{pairs[0]:.2f}..{pairs[-1]:.2f}] | "
            f"{sum(p > 1 for p in pairs)}/{len(pairs)} | "
            f"{statistics.median(lat):.2f} [{lat[0]:.2f}..{lat[-1]:.2f}] | "
            f"{spread(list(cur.values())):.0f}% / {spread(list(base.values())):.0f}% |")
    return lines


def render_markdown(rows, workloads, systems, runs, skipped):
    med = medians(rows)
    out = []
    for run in runs:
        baseline = f", baseline {run['baseline']}" if run.get("baseline") else ""
        out.append(f"- Run {run['started']} to {run['finished']} UTC on {run['machine']}, "
                   f"annals {run['source']}{baseline}: `{run['command']}`"
                   f"{' — QUICK MODE, figures not meaningful' if run.get('quick') else ''}")
    out.append("")
    out.append("Systems alternate within each round; every figure is the median over the "
               "rounds.")
    if skipped:
        out.append("")
        for s, why in skipped.items():
            out.append(f"- `{s}` skipped: {why}")
    out.append("")
    # Peers get a ratio to annals here; a baseline gets its own table below.
    peers = [s for s in systems if s != "annals" and not is_baseline(s)]
    head = ["workload", "rounds"] + [f"{s} events/s" for s in systems] + \
        [f"{s}/annals" for s in peers]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * (2 + len(systems) + len(peers)))
    for w in workloads:
        cells = []
        base = med.get((w["name"], "annals"), {}).get("events_per_s")
        for s in systems:
            m = med.get((w["name"], s))
            partial = any(r.get("partial") for r in rows
                          if r["workload"] == w["name"] and r["system"] == s)
            cells.append((fmt_rate(m["events_per_s"]) + (" (partial¹)" if partial else ""))
                         if m else "—")
        ratios = []
        for s in peers:
            m = med.get((w["name"], s))
            ratios.append(f"{m['events_per_s'] / base:.2f}" if m and base else "—")
        n = max((m["rounds"] for (wn, _), m in med.items() if wn == w["name"]), default=0)
        out.append("| " + " | ".join([w["name"], str(n)] + cells + ratios) + " |")
    if any(r.get("partial") for r in rows):
        out.append("")
        out.append("¹ stopped at its time limit before reading everything; the rate is over "
                   "the events it read (see `events` in results.jsonl).")
    for b in [s for s in systems if is_baseline(s)]:
        out.append("")
        out.append(f"annals against the baseline {b}: same workloads and flags, the two "
                   "alternating in every round. Ratios are annals / baseline (throughput > 1 "
                   "and latency < 1: annals is faster); per round: the ratios of the rounds, "
                   "each of which ran both back to back; rounds faster: those in which annals "
                   "was; latency: the mean per operation of the closed loop (appenders × time / "
                   "operations; the drivers do not time single operations), so its ratio is "
                   "the inverse of the throughput's; spread: (max − min) / median of each "
                   "system's rounds.")
        out.append("")
        out += baseline_table(rows, workloads, "annals", b)
    out.append("")
    out.append("Peak RSS of the measuring process (median, MiB; for postgres the Node.js client "
               "only, not the server):")
    out.append("")
    out += workload_table(workloads, systems, med, "peak_rss_mb", ".0f")
    sync_systems = [s for s in systems
                    if any("events_per_sync" in m for (w, s2), m in med.items() if s2 == s)]
    if sync_systems:
        out.append("")
        out.append("Events per fsync/fdatasync of the measuring process (median; counted with "
                   "`perf stat`; shows how well each group commit batches, whatever the disk's "
                   "latency; postgres syncs in the server, not counted):")
        out.append("")
        out += workload_table(workloads, sync_systems, med, "events_per_sync", ".2f",
                              skip_empty=True)
    growth = [(s, med.get(("growth", s))) for s in systems if med.get(("growth", s))]
    if growth:
        out.append("")
        out.append("Growth (buffered batches of 100 from an empty store; rate of the first and "
                   "the last segment, median over rounds):")
        out.append("")
        out.append("| system | events | segment | first segment events/s | "
                   "last segment events/s | last/first | RSS after first / last segment (MiB) | "
                   "appender CPU per event, first / last segment (µs) | "
                   "process CPU per event, first / last segment (µs) | "
                   "bytes written per event, first / last segment |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for s, m in growth:
            seg = next((r.get("segment") for r in rows
                        if r["workload"] == "growth" and r["system"] == s), "")

            def first_last(name, digits):
                if f"first_segment_{name}" not in m:
                    return "—"
                return (f"{m[f'first_segment_{name}']:.{digits}f} / "
                        f"{m[f'last_segment_{name}']:.{digits}f}")

            out.append(f"| {s} | {m['events']:,.0f} | {seg:,} | {fmt_rate(m['first_segment'])} | "
                       f"{fmt_rate(m['last_segment'])} | {m['last_over_first']:.2f} | "
                       f"{first_last('rss_mb', 0)} | {first_last('cpu_us', 1)} | "
                       f"{first_last('process_cpu_us', 1)} | {first_last('write_bytes', 0)} |")
    out.append("")
    out.append("Targets (issue 3):")
    out.append("")
    out.append("| target | measured | met |")
    out.append("|---|---|---|")

    def rate(w, s):
        m = med.get((w, s))
        return m["events_per_s"] if m else None

    def target(label, value, ok):
        out.append(f"| {label} | {value} | {'yes' if ok else 'NO'} |")

    for w, floor in [("durable-append-8", 0.8), ("buffered-append-100", 0.5), ("scan-all", 0.5)]:
        a, r = rate(w, "annals"), rate(w, "rocksdb")
        if a and r:
            target(f"{w} ≥ {floor}× rocksdb", f"{a / r:.2f}×", a / r >= floor)
    m = med.get(("growth", "annals"))
    if m:
        target("growth: last million ≥ 0.8× first", f"{m['last_over_first']:.2f}×",
               m["last_over_first"] >= 0.8)
    for w in workloads:
        if not (w["name"].startswith("durable-append") or w["name"].startswith("buffered") or
                w["name"] == "growth"):
            continue
        a = rate(w["name"], "annals")
        for s in ["sqlite", "postgres"]:
            o = rate(w["name"], s)
            if a and o:
                target(f"{w['name']}: annals ahead of {s}", f"{a / o:.1f}×", a > o)
    return "\n".join(out) + "\n"


def write_plot(out_dir, rows, systems):
    med = medians(rows)
    have = [t for t in CURVE_THREADS if any((f"durable-append-{t}", s) in med for s in systems)]
    if not have:
        return None
    dat = os.path.join(out_dir, "curve.dat")
    with open(dat, "w") as f:
        f.write("# appenders " + " ".join(systems) + "\n")
        for t in have:
            vals = []
            for s in systems:
                m = med.get((f"durable-append-{t}", s))
                vals.append(f"{m['events_per_s']:.1f}" if m else "NaN")
            f.write(f"{t} " + " ".join(vals) + "\n")
    png = os.path.join(out_dir, "durable_appenders.png")
    gp = os.path.join(out_dir, "durable_appenders.gp")
    plots = ", ".join(f"'{dat}' using 1:{i + 2} with linespoints lw 2 pt 7 title '{s}'"
                      for i, s in enumerate(systems))
    with open(gp, "w") as f:
        f.write(f"""set terminal pngcairo size 900,560 noenhanced
set output '{png}'
set title 'Durable appends (1 event each, fsync before ack) vs concurrent appenders'
set xlabel 'concurrent durable appenders'
set ylabel 'events/s (median)'
set logscale xy 2
set xtics (1,2,4,8,16,32)
set format y '%.0f'
set grid
set key outside right top
plot {plots}
""")
    if not shutil.which("gnuplot"):
        log("gnuplot not found: wrote curve.dat and durable_appenders.gp, no PNG "
            "(ANNALS_BENCH_PEERS=1 scripts/install-deps.sh installs gnuplot-nox)")
        return None
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0:
        log(f"gnuplot failed: {r.stderr.strip()}")
        return None
    return png


def check_output(out_dir, expected):
    """--check: the output is well-formed (not the figures)."""
    problems = []
    path = os.path.join(out_dir, "results.jsonl")
    seen = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(f"results.jsonl:{n}: not JSON ({e})")
                continue
            bad_keys = [f"results.jsonl:{n}: '{k}' missing or not {t}"
                        for k, t in REQUIRED_KEYS.items()
                        if not isinstance(r.get(k), t) or isinstance(r.get(k), bool)]
            if bad_keys:
                # This line's values cannot be checked; the other lines' still are.
                problems += bad_keys
                continue
            if r["events"] <= 0 or r["seconds"] <= 0 or r["peak_rss_mb"] <= 0:
                problems.append(f"results.jsonl:{n}: events, seconds and peak_rss_mb must be > 0")
            elif abs(r["events_per_s"] - r["events"] / r["seconds"]) > 0.01 * r["events_per_s"]:
                problems.append(f"results.jsonl:{n}: events_per_s != events/seconds")
            if r["workload"] == "growth" and not r.get("segments"):
                problems.append(f"results.jsonl:{n}: growth without segments")
            seen[(r["workload"], r["system"])] = seen.get((r["workload"], r["system"]), 0) + 1
    for key, rounds in expected.items():
        if seen.get(key, 0) != rounds:
            problems.append(f"{key}: {seen.get(key, 0)} measurements, expected {rounds}")
    with open(os.path.join(out_dir, "results.md")) as f:
        md = f.read()
    if "| workload |" not in md or "Targets" not in md:
        problems.append("results.md lacks the tables")
    png = os.path.join(out_dir, "durable_appenders.png")
    curve = any(w.startswith("durable-append-") for w, _ in seen)
    if curve and shutil.which("gnuplot") and not (os.path.exists(png) and
                                                   os.path.getsize(png) > 1000):
        problems.append("durable_appenders.png missing or empty")
    return problems


def source_version(root=ROOT):
    """The annals commit measured (git, or a COMMIT file in an exported tree)."""
    r = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                       text=True)
    if r.returncode == 0:
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return f"commit {r.stdout.strip()}{' + uncommitted changes' if dirty else ''}"
    path = os.path.join(root, "COMMIT")
    if os.path.exists(path):
        with open(path) as f:
            return f"commit {f.read().strip()} (exported tree)"
    return "unknown version"


def build_source(build_dir):
    """(short commit or None, source_version()) of the tree a CMake build
    directory was configured from (CMAKE_HOME_DIRECTORY in its cache)."""
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
            home = next(l.split("=", 1)[1].strip() for l in f
                        if l.startswith("CMAKE_HOME_DIRECTORY:"))
    except (OSError, StopIteration):
        return None, "unknown version"
    version = source_version(home)
    m = re.match(r"commit ([0-9a-f]+)", version)
    return (m.group(1) if m else None), version


def render_only(from_jsonl, out, doc):
    """--from-jsonl: tables and plot from the results of earlier runs (e.g. a
    long workload run separately), each with its run.json beside it."""
    rows, runs, skipped = [], [], {}
    for path in from_jsonl.split(","):
        with open(path) as f:
            rows += [json.loads(l) for l in f if l.strip()]
        info = os.path.join(os.path.dirname(path), "run.json")
        if os.path.exists(info):
            run = json.load(open(info))
            runs.append(run)
            skipped.update(run.get("skipped", {}))
    known = {w["name"]: w for w in all_workloads()}
    names = []
    for r in rows:
        if r["workload"] not in names:
            names.append(r["workload"])
    order = list(known)
    names.sort(key=lambda n: order.index(n) if n in order else len(order))
    workloads = [known.get(n, {"name": n}) for n in names]
    seen = []
    for r in rows:
        if r["system"] not in seen:
            seen.append(r["system"])
    # Each baseline right after annals, as in a run.
    systems = [x for s in SYSTEMS if s in seen
               for x in [s] + ([b for b in seen if is_baseline(b)] if s == "annals" else [])]
    out_dir = out or os.path.dirname(from_jsonl.split(",")[0])
    os.makedirs(out_dir, exist_ok=True)
    md = render_markdown(rows, workloads, systems, runs, skipped)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(md)
    png = write_plot(out_dir, rows, systems)
    print(md)
    if doc:
        update_doc(doc, md, png)
    return 0


def update_doc(doc, md, png):
    text = open(doc).read()
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{doc} lacks the markers {begin} / {end}")
    a = text.index(begin) + len(begin)
    b = text.index(end)
    text = text[:a] + "\n" + md + text[b:]
    with open(doc, "w") as f:
        f.write(text)
    if png:
        shutil.copy(png, os.path.join(os.path.dirname(doc), "benchmarks-durable-appenders.png"))
    log(f"updated {doc}")
