"""Tests of the comparison runner that need no driver: the stored runs in
bench/results/ render to exactly the results.md they were published with,
and workload selection, flag resolution, measurement rows and --check behave
as docs/benchmarks.md says. (bench_runner_quick runs the drivers.)

Run: cd bench && python3 -B -m unittest comparison.test_comparison
"""

import contextlib
import io
import json
import os
import tempfile
import unittest

from .common import HERE
from .report import check_output, render_only, workload_table
from .runner import make_row
from .workloads import builtin_workloads, parse_set, resolved, select_workloads

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
        self.assertEqual(len(select_workloads("all")), len(builtin_workloads()))
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
