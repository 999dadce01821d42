"""The gallery: every run of a study in one static page (results/gallery/index.html) that opens
from disk with no server and no internet, and inside the Snakemake report's zip.

- `cards`: one run's card, made once per run by its own job (results/cards/<c>/<s>/<id>/):
  the thumbnail (thumb.webp, Pillow) and its loss curve (curve.js, from history.csv).
- `data`: the page's data (data.js) from runs.csv, the experiment tables and the manifest:
  every run's settings, status, losses and scores, the experiments and trials it is part of.
- `build`: the page's folder: the assets (assets/: HTML, CSS, plain JavaScript written here),
  data.js, each run's thumbnail, curve and image linked in, the content and style images.

Torch-free (Pillow, pandas); the page itself is DESIGN.md's "Gallery" contract.
"""
