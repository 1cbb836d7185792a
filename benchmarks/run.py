#!/usr/bin/env python3
"""Load benchmark of a SCIM 2.0 server (Roster or any other): see benchmarks/README.md.

    python benchmarks/run.py --base-url http://127.0.0.1:8001/scim/v2 --token-file var/benchmark/token \\
        [--users 100000] [--duration 10] [--concurrency 4] [--rounds 3] [--scenarios lookup get ...]

Standard library only: runs with any Python 3.11+.
"""

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make ``benchmarks`` importable as a package.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import main

if __name__ == "__main__":
    sys.exit(main())
