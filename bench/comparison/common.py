"""Paths, the systems the runner knows, and logging, shared by every module."""

import datetime
import os
import sys

# bench/, where bench/<name>/workloads.json plug-ins live.
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(HERE, "peers")
SYSTEMS = ["annals", "rocksdb", "sqlite", "postgres"]


def kind(system):
    """The system a name stands for: "annals@066f8cd" (a baseline build of
    annals, --baseline-build-dir) runs and is configured as "annals"."""
    return system.split("@", 1)[0]


def is_baseline(system):
    return "@" in system


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def log(msg):
    print(f"[run_comparison] {msg}", file=sys.stderr, flush=True)
