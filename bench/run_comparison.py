#!/usr/bin/env python3
"""annals' comparison runner: the entry point of bench/comparison/ (the
package's docstring and docs/benchmarks.md say what it does); called by
bench/run_comparison.sh and by the bench_runner_quick test."""

import os
import sys

# Keep the source tree free of __pycache__ (the runner runs from it in CI).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from comparison.main import main  # noqa: E402 - after the path is set

if __name__ == "__main__":
    sys.exit(main())
