"""The engine's reference evaluation: run.json's `evaluation` of every run (torch).

The definition (the paper's baseline losses, PAPER) lives with the other evaluators in
nst/contracts/evaluators.py, which is torch-free; computing it needs the scoring functions of
nst/run/score.py, so it lives here, beside neither, and the definitions import nothing of score.py.
"""
from __future__ import annotations

from ..contracts.evaluators import PAPER
from .score import color_distance, network_scores, ssim_content


def reference_losses(extractor, output, content, style, tile: int = 0) -> dict[str, float]:
    """Baseline-definition content/style/total loss of `output` (weighted as in Table 1),
    with `extractor`'s network (the run's own, in the engine); `tile` > 0: tile by tile."""
    scores = network_scores(PAPER.settings, extractor, output, content, style, tile)
    return {"eval_content": scores["content"], "eval_style": scores["style"], "eval_total": scores["total"]}


def evaluate(extractor, output, content, style, tile: int = 0) -> dict[str, float]:
    """run.json's `evaluation`: reference_losses + SSIM to the content + colour distance;
    `tile` > 0: the network's part tile by tile, SSIM in bands (the same numbers)."""
    scores = reference_losses(extractor, output, content, style, tile)
    scores["ssim_content"] = ssim_content(output, content, tile)
    scores["color_distance_style"] = color_distance(output, style)
    return scores
