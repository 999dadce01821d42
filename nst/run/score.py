"""Scoring a finished run with an evaluator (nst/contracts/evaluators.py): one job, one run, one network.

`score_run` reads the run's saved image.png, its content and style images (sized as the run
sized them, or at the evaluator's `size`) and computes, on the evaluator's network whatever the
run was optimised with: each content and style layer's term, the content / style / total
scores, and the image-space metrics. `nst score` writes the result to
<run>/scores/<evaluator hash>.json.

The same functions compute the engine's run.json `evaluation` (nst.run.reference.evaluate), so the
`paper` evaluator on a run's own weights gives run.json's numbers from the same image.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from kornia.metrics import ssim

from ..errors import ImageError, NSTError
from ..contracts.evaluators import Evaluator
from .images import load_image, open_rgb, pil_to_tensor
from ..contracts.run_folder import IMAGE, RECORD, image_named, probe_record
from ..contracts.run_record import RunRecord
from ..contracts.layers import LAYER_INDEX, min_side
from .losses import at_least_fp32, distance, gram
from .memory import budget_bytes, scoring_tile
from .vgg import make_extractor
from .weights import load_weights

FORMAT = 1
QUANTILES = 256
TEXTURE_LEVELS = 4          # Gaussian-pyramid levels of the texture metric: 1, 1/2, 1/4, 1/8
TEXTURE_MIN_SIDE = 8        # a level smaller than this has too few pixels for a histogram
LBP_POINTS, LBP_RADIUS = 8, 1


# --- the network's part -------------------------------------------------------------------
def _relative(kind: str, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||x - target|| / ||target|| (squared Frobenius for l2, sum of absolute values for l1):
    scale-free, 0 when equal. A target with zero norm gives inf (or 0 if x equals it)."""
    x, target = at_least_fp32(x), at_least_fp32(target)
    diff, ref = (x - target).abs(), target.abs()
    if kind == "l2":
        diff, ref = diff.square(), ref.square()
    num, den = diff.sum(), ref.sum()
    if float(den) == 0.0:
        return torch.tensor(0.0 if float(num) == 0.0 else float("inf"))
    return num / den


def layer_terms(settings: dict, out_feats: dict, content_feats: dict, style_grams: dict):
    """({content layer: term}, {style layer: term}) as 0-dim tensors, unweighted."""
    kind = settings["loss"]
    if settings["normalise"] == "none":
        content = {n: distance(kind, out_feats[n], content_feats[n]) for n in settings["content_layers"]}
        style = {n: distance(kind, gram(out_feats[n]), style_grams[n]) for n in settings["style_layers"]}
    else:
        content = {n: _relative(kind, out_feats[n], content_feats[n]) for n in settings["content_layers"]}
        style = {n: _relative(kind, gram(out_feats[n]), style_grams[n]) for n in settings["style_layers"]}
    return content, style


def network_scores(settings: dict, extractor, output, content, style, tile: int = 0) -> dict:
    """{content, style, total, content_layers: {...}, style_layers: {...}} of `output`.
    normalise none: weight x sum of the layers' terms (the engine's reference evaluation,
    operation for operation); relative: weight x mean of the layers' terms. `tile` > 0: the
    terms computed tile by tile (nst/run/tiled_scores.py), for images too large for one pass."""
    c_layers, s_layers = list(settings["content_layers"]), list(settings["style_layers"])
    if tile > 0:
        from .tiled_scores import layer_terms as tiled_terms

        content_t, style_t = tiled_terms(settings, extractor, output, content, style, tile)
    else:
        content_t, style_t = _layer_terms_untiled(settings, extractor, output, content, style)
    return _weighted(settings, content_t, style_t)


def _layer_terms_untiled(settings: dict, extractor, output, content, style):
    c_layers, s_layers = list(settings["content_layers"]), list(settings["style_layers"])
    with torch.no_grad():
        c_feats = extractor(content, set(c_layers))
        s_feats = extractor(style, set(s_layers))
        o_feats = extractor(output, set(c_layers) | set(s_layers))
        return layer_terms(settings, o_feats, c_feats, {n: gram(s_feats[n]) for n in s_layers})


def _weighted(settings: dict, content_t: dict, style_t: dict) -> dict:
    if settings["normalise"] == "none":
        c = settings["content_weight"] * float(sum(content_t.values()))
        s = settings["style_weight"] * float(sum(style_t.values()))
    else:
        c = settings["content_weight"] * float(np.mean([float(v) for v in content_t.values()]))
        s = settings["style_weight"] * float(np.mean([float(v) for v in style_t.values()]))
    return {"content": c, "style": s, "total": c + s,
            "content_layers": {n: float(v) for n, v in content_t.items()},
            "style_layers": {n: float(v) for n, v in style_t.items()}}


# --- image-space metrics ------------------------------------------------------------------
def ssim_content(output: torch.Tensor, content: torch.Tensor, rows: int = 0) -> float:
    """Mean SSIM (11 px window); `rows` > 0: in bands of that many rows (the same number, in
    a fraction of the memory: tiled_scores.ssim_map_sum)."""
    with torch.no_grad():
        if rows > 0 and rows < output.shape[-2]:
            from .tiled_scores import ssim_map_sum

            return ssim_map_sum(ssim, output, content, rows) / (output.shape[-3] * output.shape[-2] * output.shape[-1])
        return float(ssim(output.float(), content.float(), window_size=11).mean())


def color_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over RGB of the 1-D Wasserstein-1 distance between the two images' channel value
    distributions (compared at 256 quantiles, so image sizes may differ); 0 = same palette."""
    q = torch.linspace(0, 1, QUANTILES, dtype=torch.float32)
    qa = torch.quantile(a.detach().float().cpu().flatten(2).squeeze(0), q, dim=1)
    qb = torch.quantile(b.detach().float().cpu().flatten(2).squeeze(0), q, dim=1)
    return float((qa - qb).abs().mean())


def _grey_pyramid(image: torch.Tensor) -> list[np.ndarray]:
    from skimage.transform import pyramid_gaussian

    rgb = image.detach().float().cpu().squeeze(0).clamp(0, 1).numpy()
    grey = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]  # ITU-R BT.601 luma
    levels = []
    for level in pyramid_gaussian(grey, max_layer=TEXTURE_LEVELS - 1, downscale=2):
        if min(level.shape) < TEXTURE_MIN_SIDE:
            break
        levels.append(level)
    return levels


def _lbp_histogram(level: np.ndarray) -> np.ndarray:
    from skimage.feature import local_binary_pattern

    codes = local_binary_pattern(np.round(level * 255).astype(np.uint8), LBP_POINTS, LBP_RADIUS,
                                 method="uniform")  # rotation-invariant uniform codes 0..P+1
    hist = np.bincount(codes.astype(np.int64).ravel(), minlength=LBP_POINTS + 2).astype(np.float64)
    return hist / hist.sum()


def texture_distances(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    """Per pyramid level (finest first, while both images are at least TEXTURE_MIN_SIDE px):
    total variation distance between the two images' uniform-LBP histograms, in [0, 1]."""
    pa, pb = _grey_pyramid(a), _grey_pyramid(b)
    return [float(0.5 * np.abs(_lbp_histogram(x) - _lbp_histogram(y)).sum()) for x, y in zip(pa, pb)]


def texture_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over scales of texture_distances: local texture statistics of `a` against `b`,
    needing no network and no alignment (the style image is not the output's shape)."""
    levels = texture_distances(a, b)
    if not levels:
        raise ImageError(f"images of {tuple(a.shape[-2:])} and {tuple(b.shape[-2:])} px are too small "
                         f"for the texture metric (at least {TEXTURE_MIN_SIDE} px a side)")
    return float(np.mean(levels))


METRICS = {
    "ssim_content": lambda out, content, style: ssim_content(out, content),
    "color_distance_style": lambda out, content, style: color_distance(out, style),
    "texture_distance_style": lambda out, content, style: texture_distance(out, style),
}


# --- one run ------------------------------------------------------------------------------
class Network:
    """The evaluator's extractor, built once per process; `record` says which weights.
    `weights_file`: the file of the family to load (default: the family's own; for imagenet the
    file a weights record verified)."""

    def __init__(self, settings: dict, weights_file: str | None = None):
        weights, self.record = load_weights(settings["weights"], weights_file)
        layers = list(settings["content_layers"]) + list(settings["style_layers"])
        self.extractor = make_extractor(layers, settings["pooling"], weights)


def score_images(evaluator: Evaluator, extractor, output, content, style, tile: int = 0) -> dict:
    """Every score of `evaluator` for one output image (1x3xHxW tensors in [0, 1]); `tile`:
    network_scores's."""
    scores = network_scores(evaluator.settings, extractor, output, content, style, tile)
    for metric in evaluator.settings["metrics"]:
        scores[metric] = ssim_content(output, content, tile) if metric == "ssim_content" else \
            METRICS[metric](output, content, style)
    return scores


def style_paths_of(record: RunRecord, style_path=None) -> list[str]:
    """The style image(s) to score against: `style_path` (one or a list), else every image of
    the run's blend, else its one style image."""
    if style_path:
        return [str(p) for p in style_path] if isinstance(style_path, (list, tuple)) else [str(style_path)]
    blended = [entry.get("path") for entry in record.data.get("styles") or [] if isinstance(entry, dict)]
    return blended or [path for path in [image_named(record.data, "style")] if path]


def load_scored_images(run_dir: Path, record: RunRecord, size: int | None,
                       content_path=None, style_path=None):
    """(output, content, [style, ...]) tensors as the run saw them: the content and style
    images at the run's size and resize mode (or `size`), the saved image.png at the content's
    size; several styles for a blend."""
    params = record.params
    content_path = content_path or image_named(record.data, "content")
    style_paths = style_paths_of(record, style_path)
    if not content_path or not style_paths:
        raise NSTError(f"{run_dir / RECORD} names no content or style image; pass --content and --style")
    side, resize = size or params.get("size"), params.get("resize", "square")
    content, info = load_image(content_path, side, resize)
    styles = [load_image(path, side, resize)[0] for path in style_paths]
    image, _, _ = open_rgb(run_dir / IMAGE)
    if image.size != info.size:  # at the evaluator's size, or a run saved at another size
        from PIL import Image

        image = image.resize(info.size, Image.Resampling.LANCZOS)
    return pil_to_tensor(image), content, styles


def blended(scores: list, weights: list[float]):
    """The weighted mean of equally shaped score dicts (a blend's scores against each style)."""
    first = scores[0]
    if isinstance(first, dict):
        return {k: blended([s[k] for s in scores], weights) for k in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return sum(w * s for w, s in zip(weights, scores))
    return first


def check_size(evaluator: Evaluator, *images: torch.Tensor, where: str = "") -> None:
    layers = list(evaluator.settings["content_layers"]) + list(evaluator.settings["style_layers"])
    need = min_side(layers)
    for image in images:
        if min(image.shape[-2:]) < need:
            deepest = max(layers, key=LAYER_INDEX.__getitem__)
            raise ImageError(f"{where}an image of {image.shape[-1]}x{image.shape[-2]} px is too small for "
                             f"evaluator {evaluator.name}'s layer {deepest}, which needs {need} px a side")


def score_run(run_dir, evaluator: Evaluator, network: Network | None = None,
              content_path=None, style_path=None, weights_file: str | None = None) -> dict:
    """The score file of one finished run (what `nst score` writes). `network`: one built
    earlier for the same settings (else built here, from `weights_file` if given);
    `content_path`, `style_path`: instead of the images run.json names. Raises NSTError if
    `run_dir` holds no finished run, InputError for an unreadable run.json, ImageError for an
    image that cannot be used, WeightsError for the network's weights."""
    started = time.perf_counter()
    run_dir = Path(run_dir)
    record = probe_record(run_dir)
    if record is None:
        raise NSTError(f"{run_dir} holds no finished run (no {RECORD})")
    output, content, styles = load_scored_images(run_dir, record, evaluator.settings["size"],
                                                 content_path, style_path)
    check_size(evaluator, output, content, *styles, where=f"{run_dir}: ")
    loading = time.perf_counter()
    network = network or Network(evaluator.settings, weights_file)
    network_seconds = time.perf_counter() - loading
    weights = record.params.get("style_blend_weights") or [1.0]
    if len(weights) != len(styles):  # styles given on the command line: equal weights
        weights = [1.0 / len(styles)] * len(styles)
    layers = list(evaluator.settings["content_layers"]) + list(evaluator.settings["style_layers"])
    tile = scoring_tile(layers, *output.shape[-2:], budget_bytes(0))  # 0: one pass fits
    scores = blended([score_images(evaluator, network.extractor, output, content, s, tile) for s in styles], weights)
    return {
        "format": FORMAT,
        "run_id": record.run_id,
        "status": record.status,
        "evaluator": {"hash": evaluator.hash, "settings": evaluator.to_dict()["settings"]},
        "weights": network.record,
        "size": list(output.shape[-2:][::-1]),
        "scores": scores,
        "seconds": time.perf_counter() - started,  # reading images + network_seconds + scoring
        "network_seconds": network_seconds,
    }


def prescore(run_dir, requests: list[dict], content_path, style_paths) -> list[str]:
    """Score a run just written by this process with each requested evaluator and leave the
    score files for the score jobs (nst/run/prescore.py); returns the hashes done. A request
    that cannot be met (another nst's hash, an imagenet network, an error) is skipped with a
    note: its score job then scores as before, and the finished run is never put at risk."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the score job scores (--threads 1): the same sums, the same bits
    try:
        return [h for h in (_prescore_one(run_dir, r, content_path, style_paths) for r in requests) if h]
    finally:
        torch.set_num_threads(threads)


def _prescore_one(run_dir, request: dict, content_path, style_paths) -> str | None:
    import sys

    from ..files import finite_or_null
    from ..contracts.evaluators import make_evaluator
    from .prescore import scored_identity, write_prescored

    try:
        evaluator = make_evaluator(request["settings"], "prescore request")
        if evaluator.hash != request["hash"] or evaluator.settings["weights"] == "imagenet":
            return None
        score_file = score_run(run_dir, evaluator, content_path=content_path, style_path=style_paths)
        write_prescored(run_dir, evaluator.hash, scored_identity(run_dir, content_path, style_paths),
                        finite_or_null(score_file))
        return evaluator.hash
    except (NSTError, OSError, RuntimeError, ValueError) as exc:
        print(f"nst: note: not scored here with evaluator {request.get('hash')} ({exc}); "
              "its score job scores it", file=sys.stderr)
        return None
