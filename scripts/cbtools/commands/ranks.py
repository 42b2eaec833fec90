"""scripts/study/plot_ranks.py: summary and plot of a rank-scaling study made by
scripts/study/bench_ranks.sh.

    scripts/study/plot_ranks.py STUDY         # manifest.tsv + run JSONs -> summary.csv, plots
    scripts/study/plot_ranks.py STUDY --plot  # only the plot, from a committed summary.csv
"""

import sys
from pathlib import Path

from .. import ranks
from ..files import InputError


def main(argv=None):
    argv = sys.argv if argv is None else argv
    if len(argv) < 2 or argv[1] in ("-h", "--help") or len(argv) > 3:
        print(__doc__ + "\n" + ranks.__doc__.split("\n\n", 1)[1],
              file=sys.stderr if len(argv) < 2 else sys.stdout)
        return 0 if len(argv) >= 2 else 2
    study = Path(argv[1])
    only_plot = argv[2:] == ["--plot"]
    if argv[2:] and not only_plot:
        print(f"plot_ranks.py: unknown option {argv[2]}", file=sys.stderr)
        return 2
    try:
        rows = ranks.read_summary(study) if only_plot else ranks.write_summary(study)
    except InputError as e:
        print(f"plot_ranks.py: {e}", file=sys.stderr)
        return 2
    from ..plots import ranks as plots  # matplotlib, only when drawing

    print(plots.plot(study, rows))
    return 0
