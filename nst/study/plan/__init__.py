"""Planning: a workflow config (and the image folders) into the runs and experiments of a study.

Pure Python (no torch, no pandas): it runs inside Snakemake's parse step. `build` makes the Plan
(nst/contracts/manifest.py, layout.py name what it writes); `rungs` and `reconstruct` are the
halving and reconstruction designs; `catalog`, `blends` and `names` the images and the names that
become path parts; `trajectory` and `stale_runs` are the steps that read finished runs.
"""
