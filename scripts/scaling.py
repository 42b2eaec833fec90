#!/usr/bin/env python3
"""Analysis of a scaling study: scripts/scaling.py --help (cbtools/commands/scaling.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cbtools.commands import scaling  # noqa: E402

if __name__ == "__main__":
    sys.exit(scaling.main())
