"""`python3 -m comparison` (from bench/): the same as bench/run_comparison.py."""

import sys

from .main import main

sys.exit(main())
