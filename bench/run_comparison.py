#!/usr/bin/env python3
"""annals' comparison runner (issue 3; documented in docs/benchmarks.md).

Runs every workload on every system ALTERNATELY in the same run (round 1:
A B C D, round 2: A B C D, ...), each measurement in its own process, and
prints one JSON line per measurement:

  {"workload":"durable-append-8","system":"annals","round":1,"events":N,
   "seconds":S,"events_per_s":R,"peak_rss_mb":M}

then a table of medians and each system's ratio to annals. Writes into
--out: results.jsonl, results.md (tables, targets, machine), curve.dat,
durable_appenders.gp and durable_appenders.png (gnuplot). With --doc FILE it
replaces the text between "<!-- results:begin -->" and
"<!-- results:end -->" in FILE with results.md and copies the PNG next to it.

Systems: annals, rocksdb, sqlite (build-bench/bench/annals_bench_driver) and
postgres (Emmett on a throwaway PostgreSQL 15 cluster, bench/peers/).

Adding a workload: put a bench/<name>/workloads.json next to your
CMakeLists.txt (see load_plugin_workloads() and docs/benchmarks.md).

Standard library only, so that CI needs nothing but python3.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(HERE, "peers")
SYSTEMS = ["annals", "rocksdb", "sqlite", "postgres"]
CURVE_THREADS = [1, 2, 4, 8, 16, 32]
# Per-segment lists of the growth workload (driver output), with the digits kept:
# resident MiB, appender and whole-process CPU µs per event, bytes written per event.
SEGMENT_FIELDS = [("segments_rss_mb", 1), ("segments_cpu_us", 2),
                  ("segments_process_cpu_us", 2), ("segments_write_bytes", 0)]
COUNT_SYNCS = False  # Set by main() when `perf stat` can count syscalls here.
REQUIRED_KEYS = {"workload": str, "system": str, "round": int, "events": int,
                 "seconds": (int, float), "events_per_s": (int, float),
                 "peak_rss_mb": (int, float)}


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def log(msg):
    print(f"[run_comparison] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Workloads.
#
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
# --------------------------------------------------------------------------

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


SETS = []  # --set overrides: (workload, section, flag, value).


def resolved(workload, quick, system, full_peer_growth):
    """Returns (prepare, measure) flag dicts for one system."""
    prepare, measure = _resolved(workload, quick, system, full_peer_growth)
    for name, section, flag, value in SETS:
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


# --------------------------------------------------------------------------
# Systems.
# --------------------------------------------------------------------------

def find_binary(build_dir, name):
    for dirpath, _, files in os.walk(os.path.join(build_dir, "bench")):
        if name in files:
            p = os.path.join(dirpath, name)
            if os.access(p, os.X_OK):
                return p
    return None


def run_measured(cmd, timeout, env=None):
    """Runs cmd; returns (json dict from its last stdout line, child's peak
    RSS in MiB from wait4). Raises RuntimeError with stderr on failure."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    out_chunks, err_chunks = [], []
    import threading

    def pump(stream, sink):
        for chunk in iter(lambda: stream.read(65536), b""):
            sink.append(chunk)

    threads = [threading.Thread(target=pump, args=(proc.stdout, out_chunks)),
               threading.Thread(target=pump, args=(proc.stderr, err_chunks))]
    for t in threads:
        t.start()
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid != 0:
            break
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, rusage = os.wait4(proc.pid, 0)
            for t in threads:
                t.join()
            raise RuntimeError(f"timed out after {timeout}s: {' '.join(cmd)}")
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in threads:
        t.join()
    out = b"".join(out_chunks).decode(errors="replace")
    err = b"".join(err_chunks).decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd)}\n{err.strip()[-2000:]}")
    lines = [l for l in out.splitlines() if l.strip().startswith("{")]
    if not lines:
        raise RuntimeError(f"no JSON line from: {' '.join(cmd)}\n{err.strip()[-2000:]}")
    return json.loads(lines[-1]), rusage.ru_maxrss / 1024.0


def flags_to_args(flags):
    args = []
    for k, v in flags.items():
        args += [f"--{k}", str(v)]
    return args


class CppSystem:
    """annals, rocksdb, sqlite: one process of the C++ driver per measurement,
    each store in a fresh directory under the scratch dir."""

    def __init__(self, name, build_dir, scratch):
        self.name = name
        self.build_dir = build_dir
        self.scratch = scratch
        self.counter = 0

    def available(self):
        if find_binary(self.build_dir, "annals_bench_driver") is None:
            return f"annals_bench_driver not found under {self.build_dir}/bench; build it first"
        return None

    def new_store(self, label):
        self.counter += 1
        d = os.path.join(self.scratch, f"{self.name}-{label}-{self.counter}")
        os.makedirs(d)
        return d

    def drop_store(self, d):
        shutil.rmtree(d, ignore_errors=True)

    def run(self, workload, store, flags, timeout):
        binary = find_binary(self.build_dir, workload.get("binary", "annals_bench_driver"))
        if binary is None:
            raise RuntimeError(f"{workload.get('binary')} not built under {self.build_dir}")
        cmd = [binary, "--system", self.name, "--dir", store] + flags_to_args(flags)
        if not (COUNT_SYNCS and str(flags.get("durable", "0")) == "1"):
            return run_measured(cmd, timeout)
        # Count the process's fsync/fdatasync calls: events per sync shows how
        # well a group commit batches, independently of the disk's latency.
        stat = os.path.join(self.scratch, "perf-stat.txt")
        result, rss = run_measured(["perf", "stat", "-x,", "-o", stat, "-e",
                                    "syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync",
                                    "--"] + cmd, timeout)
        syncs = 0
        with open(stat) as f:
            for line in f:
                parts = line.split(",")
                if len(parts) > 2 and parts[2].startswith("syscalls:") and parts[0].isdigit():
                    syncs += int(parts[0])
        result["syncs"] = syncs
        return result, rss

    def stop(self):
        pass


class PostgresSystem:
    """Emmett on a throwaway PostgreSQL 15 cluster: initdb in a temp dir,
    started on 127.0.0.1 at a free port, one database per store, stopped and
    deleted at the end. PostgreSQL refuses to run as root, so as root the
    server runs as the `postgres` user (runuser)."""

    name = "postgres"

    def __init__(self, scratch, install):
        self.scratch = scratch
        self.install = install
        self.pg_bin = None
        self.dir = None
        self.port = None
        self.as_user = []
        self.counter = 0
        self.started = False

    def _find_pg_bin(self):
        for d in ["/usr/lib/postgresql/15/bin"]:
            if os.path.exists(os.path.join(d, "initdb")):
                return d
        pg_config = shutil.which("pg_config")
        if pg_config:
            d = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
            if os.path.exists(os.path.join(d, "initdb")):
                return d
        return None

    def available(self):
        if self.install:
            if self._find_pg_bin() is None or not shutil.which("node") or not shutil.which("npm"):
                log("postgres: installing Debian packages (scripts/install-deps.sh, "
                    "ANNALS_BENCH_PEERS=1)")
                r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "install-deps.sh")],
                                   env=dict(os.environ, ANNALS_BENCH_PEERS="1"))
                if r.returncode != 0:
                    return "scripts/install-deps.sh failed (need root/sudo and apt access)"
        self.pg_bin = self._find_pg_bin()
        if self.pg_bin is None:
            return "PostgreSQL 15 binaries (initdb) not found; run ANNALS_BENCH_PEERS=1 scripts/install-deps.sh"
        if not shutil.which("node"):
            return "node not found; run ANNALS_BENCH_PEERS=1 scripts/install-deps.sh"
        if not os.path.isdir(os.path.join(PEERS, "node_modules", "@event-driven-io",
                                          "emmett-postgresql")):
            if not self.install:
                return "bench/peers/node_modules missing (run: cd bench/peers && npm ci)"
            log("postgres: installing Emmett into bench/peers/node_modules (npm ci)")
            r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEERS)
            if r.returncode != 0:
                return "npm ci in bench/peers failed (is the npm registry reachable?)"
        if os.geteuid() == 0:
            try:
                import pwd
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no `postgres` user to run the server as"
            self.as_user = ["runuser", "-u", "postgres", "--"]
        try:
            self._start()
        except Exception as e:  # noqa: BLE001 - reported as a skip reason
            return f"could not start PostgreSQL: {e}"
        return None

    def _pg(self, tool, *args, check=True):
        cmd = self.as_user + [os.path.join(self.pg_bin, tool)] + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"{tool} failed: {r.stderr.strip()[-1500:]}")
        return r

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="annals-pg-")
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        data = os.path.join(self.dir, "data")
        self._pg("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--no-instructions")
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
                "-c synchronous_commit=on -c fsync=on -c max_connections=100")
        self._pg("pg_ctl", "-D", data, "-l", os.path.join(self.dir, "server.log"), "-w",
                 "-o", opts, "start")
        self.started = True
        log(f"postgres: PostgreSQL 15 started on 127.0.0.1:{self.port} (data in {data}, "
            f"synchronous_commit=on)")

    def stop(self):
        if self.started:
            self._pg("pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "fast", "-w", "stop",
                     check=False)
            self.started = False
            log("postgres: stopped")
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def new_store(self, label):
        self.counter += 1
        db = f"bench_{label.replace('-', '_')}_{self.counter}"
        self._pg("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", db)
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def drop_store(self, url):
        db = url.rsplit("/", 1)[1]
        self._pg("dropdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", db,
                 check=False)

    def run(self, workload, store, flags, timeout):
        script = os.path.join(PEERS, workload.get("node_script", "emmett_driver.mjs"))
        cmd = ["node", script, "--dir", store] + \
            flags_to_args(flags)
        return run_measured(cmd, timeout)


# --------------------------------------------------------------------------
# Reporting.
# --------------------------------------------------------------------------

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


def render_markdown(rows, workloads, systems, runs, skipped):
    med = medians(rows)
    out = []
    for run in runs:
        out.append(f"- Run {run['started']} to {run['finished']} UTC on {run['machine']}, "
                   f"annals {run['source']}: `{run['command']}`"
                   f"{' — QUICK MODE, figures not meaningful' if run.get('quick') else ''}")
    out.append("")
    out.append("Systems alternate within each round; every figure is the median over the "
               "rounds.")
    if skipped:
        out.append("")
        for s, why in skipped.items():
            out.append(f"- `{s}` skipped: {why}")
    out.append("")
    head = "| workload | rounds | " + " | ".join(f"{s} events/s" for s in systems) + " | " + \
        " | ".join(f"{s}/annals" for s in systems if s != "annals") + " |"
    out.append(head)
    out.append("|" + "---|" * (2 + len(systems) + len([s for s in systems if s != "annals"])))
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
        for s in systems:
            if s == "annals":
                continue
            m = med.get((w["name"], s))
            ratios.append(f"{m['events_per_s'] / base:.2f}" if m and base else "—")
        n = max((m["rounds"] for (wn, _), m in med.items() if wn == w["name"]), default=0)
        out.append(f"| {w['name']} | {n} | " + " | ".join(cells) + " | " + " | ".join(ratios)
                   + " |")
    if any(r.get("partial") for r in rows):
        out.append("")
        out.append("¹ stopped at its time limit before reading everything; the rate is over "
                   "the events it read (see `events` in results.jsonl).")
    out.append("")
    out.append("Peak RSS of the measuring process (median, MiB; for postgres the Node.js client "
               "only, not the server):")
    out.append("")
    out.append("| workload | " + " | ".join(systems) + " |")
    out.append("|" + "---|" * (1 + len(systems)))
    for w in workloads:
        cells = []
        for s in systems:
            m = med.get((w["name"], s))
            cells.append(f"{m['peak_rss_mb']:.0f}" if m else "—")
        out.append(f"| {w['name']} | " + " | ".join(cells) + " |")
    sync_systems = [s for s in systems
                    if any("events_per_sync" in m for (w, s2), m in med.items() if s2 == s)]
    if sync_systems:
        out.append("")
        out.append("Events per fsync/fdatasync of the measuring process (median; counted with "
                   "`perf stat`; shows how well each group commit batches, whatever the disk's "
                   "latency; postgres syncs in the server, not counted):")
        out.append("")
        out.append("| workload | " + " | ".join(sync_systems) + " |")
        out.append("|" + "---|" * (1 + len(sync_systems)))
        for w in workloads:
            cells = []
            for s in sync_systems:
                m = med.get((w["name"], s))
                cells.append(f"{m['events_per_sync']:.2f}" if m and "events_per_sync" in m
                             else "—")
            if any(c != "—" for c in cells):
                out.append(f"| {w['name']} | " + " | ".join(cells) + " |")
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
            for k, t in REQUIRED_KEYS.items():
                if not isinstance(r.get(k), t) or isinstance(r.get(k), bool):
                    problems.append(f"results.jsonl:{n}: '{k}' missing or not {t}")
            if problems:
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
    md = open(os.path.join(out_dir, "results.md")).read()
    if "| workload |" not in md or "Targets" not in md:
        problems.append("results.md lacks the tables")
    png = os.path.join(out_dir, "durable_appenders.png")
    curve = any(w.startswith("durable-append-") for w, _ in seen)
    if curve and shutil.which("gnuplot") and not (os.path.exists(png) and
                                                   os.path.getsize(png) > 1000):
        problems.append("durable_appenders.png missing or empty")
    return problems


def perf_can_count_syncs():
    if not shutil.which("perf"):
        return False
    r = subprocess.run(["perf", "stat", "-x,", "-e", "syscalls:sys_enter_fdatasync", "--",
                        "true"], capture_output=True, text=True)
    return r.returncode == 0 and "not supported" not in r.stderr and "<not" not in r.stderr


def source_version():
    """The annals commit measured (git, or a COMMIT file in an exported tree)."""
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                       text=True)
    if r.returncode == 0:
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return f"commit {r.stdout.strip()}{' + uncommitted changes' if dirty else ''}"
    path = os.path.join(ROOT, "COMMIT")
    if os.path.exists(path):
        return f"commit {open(path).read().strip()} (exported tree)"
    return "unknown version"


def render_only(args):
    """--from-jsonl: tables and plot from the results of earlier runs (e.g. a
    long workload run separately), each with its run.json beside it."""
    rows, runs, skipped = [], [], {}
    for path in args.from_jsonl.split(","):
        with open(path) as f:
            rows += [json.loads(l) for l in f if l.strip()]
        info = os.path.join(os.path.dirname(path), "run.json")
        if os.path.exists(info):
            run = json.load(open(info))
            runs.append(run)
            skipped.update(run.get("skipped", {}))
    known = {w["name"]: w for w in builtin_workloads() + load_plugin_workloads()}
    names = []
    for r in rows:
        if r["workload"] not in names:
            names.append(r["workload"])
    order = list(known)
    names.sort(key=lambda n: order.index(n) if n in order else len(order))
    workloads = [known.get(n, {"name": n}) for n in names]
    systems = [s for s in SYSTEMS if any(r["system"] == s for r in rows)]
    out_dir = args.out or os.path.dirname(args.from_jsonl.split(",")[0])
    os.makedirs(out_dir, exist_ok=True)
    md = render_markdown(rows, workloads, systems, runs, skipped)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(md)
    png = write_plot(out_dir, rows, systems)
    print(md)
    if args.doc:
        update_doc(args.doc, md, png)
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


# --------------------------------------------------------------------------

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny workloads: checks the runner works")
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--workloads", default="all",
                   help="comma-separated names or prefixes (e.g. durable-append); default all")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
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
    args = p.parse_args()
    for item in args.set:
        try:
            key, value = item.split("=", 1)
            name, section, flag = key.rsplit(".", 2)
            assert section in ("measure", "prepare")
        except (ValueError, AssertionError):
            raise SystemExit(f"--set {item}: expected <workload>.<measure|prepare>.<flag>=<value>")
        SETS.append((name, section, flag, value))
    args.command_line = "bench/run_comparison.sh " + " ".join(sys.argv[1:])
    if args.rounds < 1:
        raise SystemExit("--rounds must be >= 1")

    all_workloads = builtin_workloads() + [w for w in load_plugin_workloads()
                                           if w["name"] not in {b["name"] for b in builtin_workloads()}]
    if args.workloads == "all":
        workloads = all_workloads
    else:
        wanted = [x.strip() for x in args.workloads.split(",") if x.strip()]
        workloads = [w for w in all_workloads if any(w["name"] == x or w["name"].startswith(x + "-")
                                                     for x in wanted)]
        if not workloads:
            raise SystemExit(f"no workload matches {args.workloads}; known: "
                             + ", ".join(w["name"] for w in all_workloads))
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in systems:
        if s not in SYSTEMS:
            raise SystemExit(f"unknown system {s}; known: {', '.join(SYSTEMS)}")
    if "annals" not in systems:
        systems.insert(0, "annals")  # Ratios are to annals.

    if args.from_jsonl:
        return render_only(args)

    started = utcnow()
    # The tree as the drivers were built (by run_comparison.sh, just before),
    # not as it is after an hour of runs during which the docs may be edited.
    source = source_version()
    out_dir = args.out or os.path.join(args.build_dir, "bench-results",
                                       datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out_dir, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="annals-bench-", dir=args.scratch)
    install = not args.no_install

    impls = {}
    skipped = {}
    for s in systems:
        impl = PostgresSystem(scratch, install) if s == "postgres" else \
            CppSystem(s, args.build_dir, scratch)
        why = impl.available()
        if why:
            log(f"SKIPPING {s}: {why}")
            skipped[s] = why
            impl.stop()
        else:
            impls[s] = impl
    active = [s for s in systems if s in impls]
    if "annals" not in impls:
        raise SystemExit("annals is not available; build build-bench first "
                         "(cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release "
                         "&& cmake --build build-bench)")

    global COUNT_SYNCS
    COUNT_SYNCS = perf_can_count_syncs()
    if not COUNT_SYNCS:
        log("perf cannot count fsync calls here (not installed or perf_event_paranoid): "
            "no events-per-sync figures")

    rows = []
    expected = {}
    jsonl = open(os.path.join(out_dir, "results.jsonl"), "w")
    try:
        for w in workloads:
            ws = [s for s in active if s in w.get("systems", SYSTEMS)]
            prepared = {}
            for s in ws:
                prepare, _ = resolved(w, args.quick, s, args.full_peer_growth)
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
                    _, measure = resolved(w, args.quick, s, args.full_peer_growth)
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
                    row = {"utc": utcnow(), "workload": w["name"], "system": s, "round": rnd,
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
                    line = json.dumps(row)
                    print(line, flush=True)
                    jsonl.write(line + "\n")
                    jsonl.flush()
                    rows.append(row)
                    expected[(w["name"], s)] = expected.get((w["name"], s), 0) + 1
            for s, store in list(prepared.items()) + to_drop:
                impls[s].drop_store(store)
    finally:
        jsonl.close()
        for impl in impls.values():
            impl.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    run = {"started": started, "finished": utcnow(), "machine": machine_info(),
           "source": source, "command": args.command_line, "quick": args.quick,
           "skipped": skipped}
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


if __name__ == "__main__":
    sys.exit(main())
