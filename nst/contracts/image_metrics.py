"""The image-space metrics an evaluator may compute (nst/run/score.py computes them): the output
against the content or the style image, with no network. Read by the evaluators
(nst/contracts/evaluators.py) and by the selection rule's vocabulary (nst/contracts/selection.py:
the score_* metrics): a concept of its own, named apart from both."""
from __future__ import annotations

IMAGE_METRICS = {
    "ssim_content": "SSIM to the content image (11 px window; 1 = identical)",
    "color_distance_style": "per-channel Wasserstein-1 distance of the colour distributions to the "
                            "style image (0 = same palette)",
    "texture_distance_style": "multi-scale texture distance to the style image: uniform local binary "
                              "pattern histograms (scikit-image, P=8, R=1) of the grey image on 4 "
                              "Gaussian-pyramid levels, total variation distance per level, averaged "
                              "(0 = same texture statistics, 1 = disjoint)",
}
# the Python module a metric needs beyond the project's own requirements
METRICS_NEEDING = {"texture_distance_style": "skimage"}
