"""The command scripts/scaling.py: analysis of a scaling study (cbtools.analysis), as made by
scripts/sweep.sh."""

import argparse
import sys
from pathlib import Path

from .. import analysis
from ..files import InputError


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="scripts/scaling.py",
        description="Analysis of a scaling study made by scripts/sweep.sh.",
        epilog=analysis.__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path, help="study folder made by scripts/sweep.sh")
    ap.add_argument("--quiet", action="store_true", help="no summary on stderr")
    args = ap.parse_args(argv)
    if not args.study.is_dir():
        ap.error(f"not a folder: {args.study}")
    try:
        points, _ = analysis.analyse(args.study)
    except InputError as e:
        sys.exit(f"scaling.py: {e}")
    if not args.quiet:
        print(analysis.summary(points), file=sys.stderr)
    return 0
