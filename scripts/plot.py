#!/usr/bin/env python3
"""Plots of cluster-bench results: scripts/plot.py --help (cbtools/commands/plot.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cbtools.commands import plot  # noqa: E402

if __name__ == "__main__":
    sys.exit(plot.main())
