"""cluster-bench's Python side: one reader per file format, the scaling metrics, the plots.

Readers (each checks its format's version or header and names the file, and line, when it is
wrong; they raise files.InputError):
  run_json   a run's JSON document
  journal    a run's per-task journal STEM.tasks.csv.gz
  runs_csv   runs.csv, one row per run
  net        a `cluster-bench net` result, FILE.net.json or FILE.net.csv
  study      a study folder of scripts/sweep.sh: manifest.tsv, study.conf and the summary CSVs
  ranks      a rank study of scripts/study/bench_ranks.sh: its manifest and summary.csv
Maths: metrics. Writers: files (atomic writes, CSV text, gzip), analysis and setup_md (a study's
summary files). plots/: the matplotlib drawings, imported only when something is drawn.
commands/: the command lines of scripts/plot.py, scripts/scaling.py and
scripts/study/plot_ranks.py, which only put this package on sys.path and call them.
timing: what the kernel timing studies of scripts/study/ share (kernel_loop, A B B A pairs).
"""
