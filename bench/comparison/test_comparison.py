"""Tests of the comparison runner that need no driver: the stored runs in
bench/results/ render to exactly the results.md they were published with,
workload selection, flag resolution, measurement rows and --check behave
as docs/benchmarks.md says, and a baseline build (--baseline-build-dir) runs
alternately with annals and gets its ratio table. (bench_runner_quick runs
the drivers.)

Run: cd bench && python3 -B -m unittest comparison.test_comparison
"""

import contextlib
import io
import json
import os
import tempfile
import types
import unittest

from .common import HERE
from .main import chosen_systems, parse_args
from .report import baseline_table, build_source, check_output, render_markdown, render_only, \
    workload_table
from .runner import make_row, run_rounds
from .workloads import all_workloads, builtin_workloads, parse_set, resolved, select_workloads

RESULTS = os.path.join(HERE, "results")


def stored_runs():
    """bench/results/<run>/ folders that hold results.jsonl and results.md."""
    for name in sorted(os.listdir(RESULTS)):
        d = os.path.join(RESULTS, name)
        if all(os.path.exists(os.path.join(d, f)) for f in ("results.jsonl", "results.md")):
            yield name, d


class RenderTest(unittest.TestCase):
    def test_stored_runs_render_to_their_published_tables(self):
        runs = list(stored_runs())
        self.assertTrue(runs, "no stored run in bench/results/")
        for name, d in runs:
            with self.subTest(run=name), tempfile.TemporaryDirectory() as out:
                with contextlib.redirect_stdout(io.StringIO()), \
                        contextlib.redirect_stderr(io.StringIO()):
                    self.assertEqual(
                        render_only(os.path.join(d, "results.jsonl"), out, None), 0)
                with open(os.path.join(out, "results.md")) as got, \
                        open(os.path.join(d, "results.md")) as want:
                    self.assertEqual(got.read(), want.read())

    def test_workload_table_marks_missing_figures_and_can_drop_empty_rows(self):
        med = {("a", "annals"): {"x": 1.5}, ("b", "rocksdb"): {"y": 2}}
        workloads = [{"name": "a"}, {"name": "b"}]
        self.assertEqual(workload_table(workloads, ["annals", "rocksdb"], med, "x", ".1f"),
                         ["| workload | annals | rocksdb |", "|---|---|---|",
                          "| a | 1.5 | — |", "| b | — | — |"])
        self.assertEqual(
            workload_table(workloads, ["annals"], med, "x", ".2f", skip_empty=True)[2:],
            ["| a | 1.50 |"])


class WorkloadTest(unittest.TestCase):
    def test_selection_by_name_or_prefix(self):
        names = [w["name"] for w in select_workloads("durable-append,scan-all")]
        self.assertEqual(names, [f"durable-append-{t}" for t in (1, 2, 4, 8, 16, 32)]
                         + ["scan-all"])
        # "all": the built-in workloads first, then the plug-ins
        # (bench/<name>/workloads.json, e.g. bench/crypto's).
        chosen = [w["name"] for w in select_workloads("all")]
        self.assertEqual(chosen, [w["name"] for w in all_workloads()])
        self.assertEqual(chosen[:len(builtin_workloads())],
                         [w["name"] for w in builtin_workloads()])
        self.assertIn("crypto-append-encrypted", chosen)
        with self.assertRaises(SystemExit) as e:
            select_workloads("durable-app")  # A prefix is whole words, up to a dash.
        self.assertIn("no workload matches durable-app; known: durable-append-1",
                      str(e.exception))

    def test_set_syntax(self):
        self.assertEqual(parse_set("growth.measure.events=2000000"),
                         ("growth", "measure", "events", "2000000"))
        self.assertEqual(parse_set("durable-append-8.measure.label=a=b"),
                         ("durable-append-8", "measure", "label", "a=b"))
        for bad in ["growth.events=1", "growth.run.events=1", "growth.measure.events"]:
            with self.assertRaises(SystemExit):
                parse_set(bad)

    def test_flags_quick_per_system_and_set(self):
        w = {"name": "growth", "measure": {"events": 10, "segment": 5},
             "quick": {"measure": {"events": 2}},
             "sqlite": {"measure": {"events": 4}}}
        self.assertEqual(resolved(w, False, "annals", False), (None, {"events": 10, "segment": 5}))
        self.assertEqual(resolved(w, False, "sqlite", False), (None, {"events": 4, "segment": 5}))
        # --full-peer-growth: the peers grow as far as annals.
        self.assertEqual(resolved(w, False, "sqlite", True), (None, {"events": 10, "segment": 5}))
        # Quick mode ignores per-system overrides.
        self.assertEqual(resolved(w, True, "sqlite", False), (None, {"events": 2, "segment": 5}))
        # --set comes last, for every system; a prepare flag without a prepare step is dropped.
        sets = [("growth", "measure", "events", "7"), ("growth", "prepare", "x", "1"),
                ("other", "measure", "events", "9")]
        self.assertEqual(resolved(w, False, "sqlite", False, sets),
                         (None, {"events": "7", "segment": 5}))
        r = {"name": "read", "prepare": {"events": 100}, "measure": {"repeat": 3},
             "quick": {"prepare": {"events": 10}}}
        self.assertEqual(resolved(r, True, "annals", False, [("read", "prepare", "events", "5")]),
                         ({"events": "5"}, {"repeat": 3}))
        self.assertEqual(r["prepare"], {"events": 100}, "the workload itself is not modified")


class RowTest(unittest.TestCase):
    def test_row_of_one_measurement(self):
        result = {"events": 100, "seconds": 2, "events_per_s": 50, "syncs": 40,
                  "segments": [10.04, 9.96], "segments_rss_mb": [12.34, 15.67]}
        row = make_row("growth", "annals", 2, result, 33.33, {"segment": "50"})
        self.assertEqual({k: v for k, v in row.items() if k != "utc"},
                         {"workload": "growth", "system": "annals", "round": 2, "events": 100,
                          "seconds": 2.0, "events_per_s": 50.0, "peak_rss_mb": 33.3,
                          "syncs": 40, "events_per_sync": 2.5, "segments": [10.0, 10.0],
                          "segment": 50, "segments_rss_mb": [12.3, 15.7]})
        # The driver's own peak RSS wins over wait4's.
        self.assertEqual(make_row("w", "s", 1, dict(result, peak_rss_mb=5), 33.3, {})
                         ["peak_rss_mb"], 5.0)


class BaselineTest(unittest.TestCase):
    def systems(self, *argv):
        return chosen_systems(parse_args(list(argv)))

    def test_baseline_is_measured_right_after_annals_under_its_label(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(self.systems("--systems", "rocksdb", "--baseline-build-dir", d,
                                          "--baseline-label", "066f8cd"),
                             ["annals", "annals@066f8cd", "rocksdb"])
            self.assertEqual(self.systems("--systems", "rocksdb,annals"), ["rocksdb", "annals"])
            # No label: the commit the build dir was configured from, else "baseline".
            self.assertEqual(self.systems("--systems", "annals", "--baseline-build-dir", d),
                             ["annals", "annals@baseline"])
            src = os.path.join(d, "src")
            os.mkdir(src)
            with open(os.path.join(src, "COMMIT"), "w") as f:
                f.write("abc1234\n")
            with open(os.path.join(d, "CMakeCache.txt"), "w") as f:
                f.write(f"FOO:BOOL=ON\nCMAKE_HOME_DIRECTORY:INTERNAL={src}\n")
            self.assertEqual(build_source(d), ("abc1234", "commit abc1234 (exported tree)"))
            self.assertEqual(self.systems("--systems", "annals", "--baseline-build-dir", d),
                             ["annals", "annals@abc1234"])
            for argv, why in [(["--baseline-label", "x"], "needs --baseline-build-dir"),
                              (["--baseline-build-dir", os.path.join(d, "nope")],
                               "no such directory"),
                              (["--baseline-build-dir", d, "--baseline-label", "a/b"],
                               "use letters"),
                              (["--systems", "annals@x"], "unknown system annals@x")]:
                with self.subTest(argv=argv), self.assertRaises(SystemExit) as e:
                    self.systems(*argv)
                self.assertIn(why, str(e.exception))

    def test_baseline_runs_annals_flags_in_every_round_alternately(self):
        calls = []

        class Fake:
            def __init__(self, name):
                self.name = name

            def new_store(self, label):
                return f"{self.name}-{label}"

            def drop_store(self, store):
                pass

            def run(self, workload, store, flags, timeout):
                calls.append((self.name, dict(flags)))
                return {"events": 10, "seconds": 1, "events_per_s": 10}, 5.0

        w = {"name": "w", "systems": ["annals"], "measure": {"op": "append", "threads": 1},
             "annals": {"measure": {"threads": 4}}}
        active = ["annals", "annals@b"]
        args = types.SimpleNamespace(quick=False, full_peer_growth=False, rounds=2, timeout=9)
        with contextlib.redirect_stdout(io.StringIO()):
            rows, expected = run_rounds([w], active, {s: Fake(s) for s in active}, args, [],
                                        io.StringIO(), {})
        flags = {"op": "append", "threads": 4}
        self.assertEqual(calls, [("annals", flags), ("annals@b", flags),
                                 ("annals@b", flags), ("annals", flags)])
        self.assertEqual(expected, {("w", "annals"): 2, ("w", "annals@b"): 2})

    def rows(self, workload, system, rates):
        return [{"workload": workload, "system": system, "round": n, "events": 1,
                 "seconds": 1.0, "events_per_s": r, "peak_rss_mb": 1.0}
                for n, r in enumerate(rates, 1) if r is not None]

    def test_ratio_table_pairs_rounds_and_shows_the_spread(self):
        rows = (self.rows("a", "annals", [100, 120, 90, 50]) +
                self.rows("a", "annals@b", [100, 100, 100, None]) +  # Its round 4 failed.
                self.rows("c", "annals", [5]))  # No baseline figure: no line.
        self.assertEqual(baseline_table(rows, [{"name": "a"}, {"name": "c"}], "annals",
                                        "annals@b")[2:],
                         ["| a | 3 | 95 | 100 | 0.95 | 1.00 [0.90..1.20] | 1/3 | "
                          "1.00 [0.83..1.11] | 74% / 0% |"])

    def test_report_gives_peers_a_ratio_column_and_the_baseline_its_table(self):
        rows = (self.rows("a", "annals", [100, 120]) + self.rows("a", "annals@b", [50, 60]) +
                self.rows("a", "rocksdb", [200, 240]))
        run = {"started": "s", "finished": "f", "machine": "m", "source": "commit 1",
               "baseline": "commit 0 built in /b", "command": "c"}
        md = render_markdown(rows, [{"name": "a"}], ["annals", "annals@b", "rocksdb"], [run], {})
        self.assertIn("annals commit 1, baseline commit 0 built in /b: `c`", md)
        self.assertIn("| workload | rounds | annals events/s | annals@b events/s | "
                      "rocksdb events/s | rocksdb/annals |\n", md)
        self.assertIn("| a | 2 | 110 | 55 | 2.00 | 2.00 [2.00..2.00] | 2/2 | "
                      "0.50 [0.50..0.50] | 18% / 18% |\n", md)


class CheckTest(unittest.TestCase):
    def write(self, d, rows, md="| workload |\nTargets\n"):
        with open(os.path.join(d, "results.jsonl"), "w") as f:
            for r in rows:
                f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
        with open(os.path.join(d, "results.md"), "w") as f:
            f.write(md)

    def test_well_formed_output_passes_and_each_fault_is_named(self):
        good = {"workload": "scan-all", "system": "annals", "round": 1, "events": 10,
                "seconds": 2.0, "events_per_s": 5.0, "peak_rss_mb": 3.0}
        with tempfile.TemporaryDirectory() as d:
            self.write(d, [good])
            self.assertEqual(check_output(d, {("scan-all", "annals"): 1}), [])
            self.assertEqual(check_output(d, {("scan-all", "annals"): 2}),
                             ["('scan-all', 'annals'): 1 measurements, expected 2"])
            self.write(d, ["not json", dict(good, events_per_s=9.0), dict(good, round=True),
                           dict(good, workload="growth")], md="nothing")
            problems = check_output(d, {})
            self.assertTrue(problems[0].startswith("results.jsonl:1: not JSON"))
            self.assertIn("results.jsonl:2: events_per_s != events/seconds", problems)
            self.assertIn("results.jsonl:3: 'round' missing or not <class 'int'>", problems)
            self.assertIn("results.md lacks the tables", problems)


if __name__ == "__main__":
    unittest.main()
