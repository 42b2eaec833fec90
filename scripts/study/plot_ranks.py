#!/usr/bin/env python3
"""Summary and plot of a rank study: scripts/study/plot_ranks.py --help (cbtools/commands/ranks.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cbtools.commands import ranks  # noqa: E402

if __name__ == "__main__":
    sys.exit(ranks.main())
