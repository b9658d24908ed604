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
With --baseline-build-dir DIR [--baseline-label L] it also measures annals
as built in DIR (another commit's build-bench) as system annals@L, in every
round beside annals, and adds a table of ratios annals / annals@L.

Adding a workload: put a bench/<name>/workloads.json next to your
CMakeLists.txt (see workloads.load_plugin_workloads() and docs/benchmarks.md).

The package, one concern per module:
  common.py     paths, the list of systems, logging
  workloads.py  what is measured: built-in and plug-in workloads, their flags
  systems.py    who is measured: the C++ drivers and Emmett on PostgreSQL
  runner.py     the rounds: every workload on every system, alternately
  report.py     medians, results.md, the plot, --check, --doc
  main.py       the command line (bench/run_comparison.py and
                `python3 -m comparison` from bench/ call it)

Standard library only, so that CI needs nothing but python3.
"""
