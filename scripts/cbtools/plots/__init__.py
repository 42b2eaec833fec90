"""The drawings (matplotlib, Agg): runs (a runs.csv), study (a study's summary files), net (a net
result's heatmaps), ranks (a rank study). Importing any of them imports matplotlib."""
